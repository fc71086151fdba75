"""Convert LLM-Inference-Bench's vLLM runs that ran the same setup on one MI300X and on H100s into pairs of rows.

Usage: python scripts/import_llm_inference_bench.py ALL_RESULTS.csv

ALL_RESULTS.csv is `Plots/All_results.csv` of github.com/argonne-lcf/LLM-Inference-Bench (last changed at commit
ae7e7a41173badc99f7b59da1657a0172813e5e5, 2024-09-27; the data of Chitty-Venkata et al., 'LLM-Inference-Bench:
Inference Benchmarking of Large Language Models on AI Accelerators', PMBS'24, arXiv 2411.00136). This script runs
once, by hand; parity never reads the source at run time. It rewrites the `LIB-*` rows of serving_published.csv
where they stand and leaves the others alone.

What the source ran (vLLM/MI300X and vLLM/H100 in the same repository; read from its scripts at ae7e7a4): each row is
one call of the repository's `benchmark_throughput.py`, vLLM's benchmark_latency.py with a CSV writer, the same
file in both folders but for the hardware label. It builds vLLM's offline LLM class with the script's defaults:
--dtype float16, enforce_eager False (CUDA / HIP graphs: the script passes False, not None), block size 16,
gpu_memory_utilization 0.9, max_model_len the model's (8,192 for Llama-3, 4,096 for Llama-2), no chunked prefill,
no prefix caching, the engine's max_num_seqs (256); then `batch` prompts of `len` random token ids (below 10,000)
with SamplingParams(temperature 1.0, top_p 1.0, ignore_eos, max_tokens = `len`) go to one llm.generate call, so
every prompt starts together and prefill is inside the timed call. 10 warm-up calls, then 30 timed ones:
`Latency` = their mean [s], `Throughput` = batch x (input + output) / Latency.
MI300X: vLLM v0.6.1 built from upstream's Dockerfile.rocm (vLLM/MI300X/README.md), not AMD's ROCm/vllm fork: decode
attention in the generic paged_attention_v1/v2 kernels (AMD's custom kernel came in v0.6.2, see
data/engine_kernels.toml) and no custom all-reduce (v0.6.1 vllm/config.py ParallelConfig: `if is_hip():
self.disable_custom_all_reduce = True`, so TP all-reduces go through RCCL). 'Num of Hardware' is the tensor
parallelism (the 70B latency falls from 54.7 to 22.7 ms a token from 1 to 8 GPUs); run-benchmark.sh as published
loops over tensor parallelism 1 only and its CSV label reads 'AMD MI300X', so the table was assembled from more
runs than that script shows. H100: `pip install vllm` under CUDA 12.3, the release not stated, but pinned by the
data's history: the same latencies are already in the first data of the paper's plotting site
(github.com/bharatkumarkale/InferenceGraphPlotter, commit 0205c49 of 2024-07-22 13:24 UTC, data/All_results_old.csv,
moved into this repository as InferenceGraphPlotter/ at afdf070), before vLLM 0.5.3 reached PyPI (2024-07-23 08:55
UTC; 0.5.2 on 2024-07-15, 0.5.1 on 2024-07-06), so the release is 0.5.2 at the latest; the published script needs
vllm.utils.FlexibleArgumentParser and --otlp-traces-endpoint, which 0.5.0 lacks, so 0.5.1 or 0.5.2 if the run used
it. (That first table gives the A100 the H100's vLLM figures too, replaced by A100 runs on 2024-07-30, 4a2488c; the
H100 rows never changed.) So V0 before 0.6.0's asynchronous output processing, and without the custom paged
attention question (CUDA decodes in FlashAttention). The H100 variant is not stated (read as SXM: one H100 PCIe
at 2.0 TB/s could not stream Llama-3-8B's 16 GB of fp16 weights in the 7.9 ms a token the batch-1 run takes).

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
    "Nvidia H100 GPU": ("hgx-h100", "NVIDIA",
                        "vLLM 0.5.x (pip, CUDA 12.3; 0.5.1 or 0.5.2: the figures predate 0.5.3, not stated)",
                        "engine version (a pip release, 0.5.2 at the latest: the figures are in the plotting site's "
                        "data of 2024-07-22, bharatkumarkale/InferenceGraphPlotter 0205c49, a day before vLLM 0.5.3; "
                        "the script needs FlexibleArgumentParser, which 0.5.0 lacks); H100 variant (read as SXM); "),
}
UNSTATED = ("number of measured iterations (the script's default 30 after 10 warm-up, read as run); whether the "
            "H100 run used the same benchmark script revision as the MI300X one")


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
    lines = text.splitlines(keepends=True)
    at = next((i for i, line in enumerate(lines) if line.startswith("LIB-")), len(lines))  # where they stood
    kept = [line for line in lines if not line.startswith("LIB-")]
    out = io.StringIO()
    csv.DictWriter(out, fieldnames=fields, lineterminator="\n").writerows({k: row.get(k, "") for k in fields}
                                                                          for row in new)
    with open(target, "w", newline="") as f:
        f.write("".join(kept[:at]) + out.getvalue() + "".join(kept[at:]))
    print(f"{len(new)} rows ({len(new) // 2} pairs) written to {target}")


if __name__ == "__main__":
    main(sys.argv[1])
