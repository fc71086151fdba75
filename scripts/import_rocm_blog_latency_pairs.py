"""Type the batch-latency table of AMD's 'Best practices for competitive inference optimization on AMD Instinct
MI300X GPUs' (ROCm blogs, 29 Jan 2025, endnote MI300-074) into pairs of rows: the same Llama 3.1 batch on 8 x MI300X
(vLLM) and 8 x H100 SXM (TensorRT-LLM).

Usage: python scripts/import_rocm_blog_latency_pairs.py

Source: https://rocm.blogs.amd.com/artificial-intelligence/LLM_Inference/README.html, section 'vLLM Latency
Benchmark Results' (github.com/ROCm/rocm-blogs blogs/artificial-intelligence/LLM_Inference/README.md at commit
11235ac299a174b730d359a6b3d9eab85a520f59). Two tables, Llama 3.1 70B and 405B, FP8, TP 8, batch 1-128, input 128
or 2,048, output 2,048: end-to-end latency (TTLT, ms) of the whole batch on each vendor. MI300X: the pre-built
rocm/vllm-dev:20250112 image, vLLM's benchmark_latency (ROCm/MAD standalone benchmarking; the image is vLLM 0.6.6 on
ROCm 6.3.1 by ROCm/vllm's dev-docker README of that month, whose latency table prints the same 19,088.6 ms for 70B
at batch 1 and 128/2,048, parity's AMD-011). H100: TensorRT-LLM 0.16.0 with emulated static batching
(benchmarks/cpp: `--static_emulated_batch_size`). Both runs start the whole batch together with equal lengths.
The engines differ (each vendor's own stack): the pair scores the ratio of the two published setups.

How a figure is read (decided before any prediction was looked at): the batch's output tokens/s,
batch x 2,048 / latency, as `output_tokens_per_s_per_worker` of an offline closed loop of `batch` clients.

Which rows: batches 1, 16 and 128 (the table's ends and middle; all 32 pairs would outweigh every other
source), both input lengths, both models: 12 pairs less the one whose MI300X figure parity already holds as a
calibration row (70B, batch 1, 128/2,048 = AMD-011, which fits the vllm-rocm stack profile): 11 pairs, `holdout`.
The blog's throughput table is left out: the H100 runs' request counts are not stated ('the same method as
TRT-LLM published throughput data'), and its MI300X column is ROCm/vllm's January table (AMD-009, AMD-010).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "src" / "parity" / "data" / "measurements"
URL = ("https://rocm.blogs.amd.com/artificial-intelligence/LLM_Inference/README.html (ROCm/rocm-blogs "
       "blogs/artificial-intelligence/LLM_Inference/README.md @ 11235ac)")
OSL = 2048
# (model, batch, isl) -> (MI300X latency ms, H100 latency ms), as the blog's tables print them
TABLE = {
    ("llama-3.1-70b", 16, 128): (23538, 23961),
    ("llama-3.1-70b", 128, 128): (45216, 42398),
    ("llama-3.1-70b", 1, 2048): (19154, 21105),
    ("llama-3.1-70b", 16, 2048): (25246, 26056),
    ("llama-3.1-70b", 128, 2048): (59514, 54202),
    ("llama-3.1-405b", 1, 128): (51740, 58916),
    ("llama-3.1-405b", 16, 128): (60432, 66537),
    ("llama-3.1-405b", 128, 128): (116139, 99911),
    ("llama-3.1-405b", 1, 2048): (52218, 59511),
    ("llama-3.1-405b", 16, 2048): (66890, 72055),
    ("llama-3.1-405b", 128, 2048): (168846, 195622),
}
SIDES = (  # system, vendor, engine, engine version, what the source leaves unstated
    ("mi300x-platform", "AMD", "vllm", "vLLM 0.6.6 (ROCm 6.3.1; rocm/vllm-dev:20250112) benchmark_latency.py",
     "engine flags of the latency run (ROCm/MAD's standalone defaults assumed); checkpoint (amd/Llama-3.1-*-"
     "Instruct-FP8-KV: FP8 weights and KV)"),
    ("hgx-h100", "NVIDIA", "trtllm", "TensorRT-LLM 0.16.0 (benchmarks/cpp, emulated static batching)",
     "KV-cache format (FP8 assumed: NVIDIA's FP8 Llama 3.1 checkpoints of that time quantise the KV cache); "
     "build settings (max batch, max tokens); H100 SXM read from the blog's spec table"),
)


def rows() -> list[dict[str, str]]:
    out = []
    for (model, batch, isl), latencies_ms in TABLE.items():
        short = {"llama-3.1-70b": "70b", "llama-3.1-405b": "405b"}[model]
        case = f"RBP-{short}-i{isl}-b{batch}"
        for (system, vendor, engine, version, unstated), latency_ms in zip(SIDES, latencies_ms):
            output = batch * OSL / (latency_ms / 1000.0)
            name = "MI300X" if vendor == "AMD" else "H100"
            out.append({
                "case_id": case + ("-nv" if vendor == "NVIDIA" else ""), "model": model, "system": system,
                "engine": engine, "weights": "fp8", "moe_weights": "fp8", "kv": "fp8", "mode": "agg",
                "isl": str(isl), "osl": str(OSL), "concurrency": str(batch), "tp": "8", "pp": "1", "attn_dp": "1",
                "metric": "output_tokens_per_s_per_worker", "measured": f"{output:.6g}", "split": "holdout",
                "source": (f"AMD ROCm blogs, 'Best practices for competitive inference optimization on AMD Instinct "
                           f"MI300X GPUs' (29 Jan 2025, endnote MI300-074), 'vLLM Latency Benchmark Results'; {URL}; "
                           f"{model} FP8 TP8 batch {batch}, input {isl}, output {OSL}: latency {latency_ms} ms on "
                           f"8x {name}, read as {batch} x {OSL} / {latency_ms / 1000:.3f} s = {output:.2f} output "
                           f"tokens/s; the engines differ (MI300X vLLM, H100 TensorRT-LLM)"
                           + (f"; NVIDIA twin of {case}" if vendor == "NVIDIA" else "")),
                "source_id": "rocm-blog-mi300x-best-practices", "vendor": vendor, "date": "2025-01-29",
                "engine_version": version, "unstated": unstated, "offline": "true",
            })
    return out


def main() -> None:
    target = DATA / "serving_published.csv"
    with open(target, newline="") as f:
        text = f.read()  # kept byte for byte: some rows end in CRLF
    fields = next(csv.reader([text.splitlines()[0]]))
    kept = "".join(line for line in text.splitlines(keepends=True) if not line.startswith("RBP-"))
    new = io.StringIO()
    csv.DictWriter(new, fieldnames=fields, lineterminator="\n").writerows({k: r.get(k, "") for k in fields}
                                                                          for r in rows())
    with open(target, "w", newline="") as f:
        f.write(kept + new.getvalue())
    print(f"{len(TABLE) * 2} rows ({len(TABLE)} pairs) written to {target}")


if __name__ == "__main__":
    main()
