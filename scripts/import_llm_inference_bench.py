"""Convert LLM-Inference-Bench's vLLM runs that ran the same setup on one MI300X and on H100s into pairs of rows.

Usage: python scripts/import_llm_inference_bench.py ALL_RESULTS.csv

ALL_RESULTS.csv is `Plots/All_results.csv` of github.com/argonne-lcf/LLM-Inference-Bench (last changed at commit
ae7e7a41173badc99f7b59da1657a0172813e5e5, 2024-09-27; the data of Chitty-Venkata et al., 'LLM-Inference-Bench:
Inference Benchmarking of Large Language Models on AI Accelerators', PMBS'24, arXiv 2411.00136). This script runs
once, by hand; parity never reads the source at run time. It rewrites the `LIB-*` rows of serving_published.csv
and leaves the others alone.

What the source ran (vLLM/MI300X and vLLM/H100 in the same repository): each row is one call of the repository's
`benchmark_throughput.py` (vLLM's benchmark_latency.py with a CSV writer): `batch` random prompts of `len`
tokens submitted at once to vLLM's offline LLM class with ignore_eos and max_tokens = `len`, --dtype float16, the
engine's defaults otherwise; `Latency` = mean seconds of the whole batch over the measured iterations,
`Throughput` = batch x (input + output) / Latency. MI300X: vLLM v0.6.1 built from its Dockerfile.rocm, one GPU
(tensor parallel 1; the source's 'Num of Hardware'). H100: `pip install vllm` with CUDA 12.3 (version not stated;
its benchmark script imports vllm.inputs.PromptInputs, which 0.5.x-0.6.x have), the H100 variant not stated.

How a figure is read (decided before any prediction was looked at): output tokens/s of the batch,
batch x len / Latency (= Throughput x len / (2 len): Throughput counts prompt and output tokens), as
`output_tokens_per_s_per_worker` of an offline closed loop of `batch` clients (`offline`: every prompt starts
together, with equal lengths). Weights and KV cache fp16 (vLLM's 'auto' KV dtype is the model's).

Which runs: the models parity's catalog holds, at a tensor parallelism both vendors ran (Llama-3-8B on one GPU,
Llama-3-70B and Llama-2-70B on four), at one length, 1,024 in and 1,024 out (the middle of the source's 128-2,048
grid, chosen so that one source's sweep does not swamp the pairs), every batch both ran (1, 16, 32, 64): 12 pairs,
`holdout` (scored, never fitted). Meta-Llama-3-8B / -70B are priced as parity's Llama-3.1-8B / -70B: the same
layers, heads and vocabulary; only the RoPE scaling and context limit differ, which do not change a 2,048-token
run's work.
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "src" / "parity" / "data" / "measurements"
URL = "https://github.com/argonne-lcf/LLM-Inference-Bench (Plots/All_results.csv @ ae7e7a4)"
LENGTH = 1024
BATCHES = (1, 16, 32, 64)
MODELS = {  # source model -> (parity model, tensor parallelism both ran, short id)
    "meta-llama/Meta-Llama-3-8B": ("llama-3.1-8b", 1, "l3-8b"),
    "meta-llama/Meta-Llama-3-70B": ("llama-3.1-70b", 4, "l3-70b"),
    "meta-llama/Llama-2-70b-hf": ("llama-2-70b", 4, "l2-70b"),
}
HARDWARE = {  # source hardware -> (system, vendor, engine version, its own unstated)
    "AMD MI300X GPU": ("mi300x-platform", "AMD", "vLLM 0.6.1 (ROCm; built from Dockerfile.rocm at v0.6.1)", ""),
    "Nvidia H100 GPU": ("hgx-h100", "NVIDIA", "vLLM (pip, CUDA 12.3; version not stated)",
                        "engine version (0.5.x-0.6.x by its benchmark script's API); H100 variant (read as SXM); "),
}
UNSTATED = ("number of measured iterations (benchmark_latency's default 30 after 10 warm-up); whether the H100 run "
            "used the same benchmark script revision as the MI300X one")


def _rows(source: list[dict[str, str]]) -> list[dict[str, str]]:
    found = {(r["Hardware"], r["Model"], int(r["Num of Hardware"]), int(r["Batch Size"]),
              int(r["Input Output Length"])): r for r in source if r["Framework"] == "vLLM"}
    out = []
    for model, (parity_model, tp, short) in MODELS.items():
        for batch in BATCHES:
            pair = [found.get((hw, model, tp, batch, LENGTH)) for hw in HARDWARE]
            if None in pair:
                print(f"no pair: {model} tp {tp} batch {batch}", file=sys.stderr)
                continue
            for (hw, (system, vendor, version, unstated)), r in zip(HARDWARE.items(), pair):
                latency_s = float(r["Latency"])
                output = batch * LENGTH / latency_s
                case = f"LIB-{short}-tp{tp}-b{batch}" + ("-nv" if vendor == "NVIDIA" else "")
                out.append({
                    "case_id": case, "model": parity_model, "system": system, "engine": "vllm", "weights": "fp16",
                    "moe_weights": "fp16", "kv": "fp16", "mode": "agg", "isl": str(LENGTH), "osl": str(LENGTH),
                    "concurrency": str(batch), "tp": str(tp), "pp": "1", "attn_dp": "1",
                    "metric": "output_tokens_per_s_per_worker", "measured": f"{output:.6g}", "split": "holdout",
                    "source": (f"LLM-Inference-Bench (Chitty-Venkata et al., PMBS'24, arXiv 2411.00136); {URL}; "
                               f"row '{hw},{tp},vLLM,{model},{LENGTH},{batch}': Latency {latency_s:.4f} s, Throughput "
                               f"{float(r['Throughput']):.2f} tokens/s (= batch x (in + out) / Latency); read as "
                               f"{batch} x {LENGTH} / {latency_s:.4f} s = {output:.2f} output tokens/s"
                               + (f"; NVIDIA twin of {case.removesuffix('-nv')}" if vendor == "NVIDIA" else "")),
                    "source_id": "llm-inference-bench", "vendor": vendor, "date": "2024-09-27",
                    "engine_version": version, "unstated": unstated + UNSTATED, "offline": "true",
                })
    return out


def main(path: str) -> None:
    with open(path, newline="") as f:
        new = _rows(list(csv.DictReader(f)))
    target = DATA / "serving_published.csv"
    with open(target, newline="") as f:
        text = f.read()  # kept byte for byte: some rows end in CRLF
    fields = next(csv.reader([text.splitlines()[0]]))
    kept = "".join(line for line in text.splitlines(keepends=True) if not line.startswith("LIB-"))
    out = io.StringIO()
    csv.DictWriter(out, fieldnames=fields, lineterminator="\n").writerows({k: row.get(k, "") for k in fields}
                                                                          for row in new)
    with open(target, "w", newline="") as f:
        f.write(kept + out.getvalue())
    print(f"{len(new)} rows ({len(new) // 2} pairs) written to {target}")


if __name__ == "__main__":
    main(sys.argv[1])
