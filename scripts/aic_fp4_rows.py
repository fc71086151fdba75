"""Print the kernels_published.csv rows of NVFP4 GEMMs beside FP8 GEMMs from aiconfigurator's per-op GEMM database.

Usage: python scripts/aic_fp4_rows.py MIRROR  (MIRROR: a checkout of ai-dynamo/aiconfigurator; needs pyarrow, which
parity does not depend on: run it by hand when the database moves, then paste its rows into the CSV).

Each row is one shape (M = 8,192 tokens, N and K of 8,192 and 16,384) of one engine's linear layer on one Blackwell
chip: the NVFP4 layer's rate beside the same table's per-tensor FP8 layer at the same shape (kind gemm_fp4_of_fp8,
parity.calibrate.family). The collectors time each engine's own Linear forward on BF16 input, so both figures include
the activation's quantisation, as serving runs them. A table stored twice under two chip names (the same blob) is read
once, under the chip its `device` column names.
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys

import pyarrow.parquet as pq

TABLES = {"trtllm": "1.3.0rc20", "vllm": "0.24.0", "sglang": "0.5.14"}
SYSTEMS = ("b200_sxm", "b300_sxm", "gb200", "gb300")
DEVICES = {"NVIDIA B200": "nvidia-b200-sxm", "NVIDIA B300 SXM6 AC": "nvidia-b300-sxm", "NVIDIA GB200": "nvidia-gb200",
           "NVIDIA GB300": "nvidia-gb300"}
SHORT = {"nvidia-b200-sxm": "b200", "nvidia-b300-sxm": "b300", "nvidia-gb200": "gb200", "nvidia-gb300": "gb300"}
SHAPES = [(8192, n, k) for n in (8192, 16384) for k in (8192, 16384)]
KERNELS = {"trtllm": "TensorRT-LLM", "vllm": "vLLM", "sglang": "SGLang"}


def _git(mirror: str, *args: str) -> bytes:
    return subprocess.run(["git", "-C", mirror, *args], check=True, capture_output=True).stdout


def main(mirror: str) -> None:
    head = _git(mirror, "rev-parse", "HEAD").decode().strip()
    out = csv.writer(sys.stdout, lineterminator="\n")
    seen: set[str] = set()
    for engine, version in TABLES.items():
        for system in SYSTEMS:
            path = f"aic-core/src/aiconfigurator_core/systems/data/{system}/gemm/{engine}/{version}/gemm_perf.parquet"
            blob = _git(mirror, "rev-parse", f"HEAD:{path}").decode().strip()
            if blob in seen:
                continue
            seen.add(blob)
            rows = pq.read_table(io.BytesIO(_git(mirror, "show", f"HEAD:{path}"))).to_pylist()
            chip = DEVICES[rows[0]["device"]]
            sources = {r["gemm_dtype"]: r["kernel_source"] for r in rows}
            ms = {(r["gemm_dtype"], r["m"], r["n"], r["k"]): r["latency"] * 1e-3 for r in rows}
            for m, n, k in SHAPES:
                fp4, fp8 = ms[("nvfp4", m, n, k)], ms[("fp8", m, n, k)]
                flop = 2.0 * m * n * k
                fp4_tf, fp8_tf = flop / fp4 / 1e12, flop / fp8 / 1e12
                label = (f"NVFP4 GEMM M={m:,} N={n:,} K={k:,} ({KERNELS[engine]} {version}: {sources['nvfp4']}, "
                         f"BF16 input quantised in the op) on an {rows[0]['device']}: {fp4_tf:,.1f} TFLOP/s "
                         f"({fp4 * 1e6:,.1f} us), beside the same table's per-tensor FP8 GEMM ({sources['fp8']}): "
                         f"{fp8_tf:,.1f} TFLOP/s ({fp8 * 1e6:,.1f} us)")
                source = ("NVIDIA aiconfigurator's per-op GEMM database (Apache-2.0; ai-dynamo/aiconfigurator @ "
                          f"{head[:9]}, {path}: the collector's timing of the engine's Linear forward per (dtype, m, n, "
                          "k), latency in ms)")
                row = [f"AIC-{engine}-{SHORT[chip]}-fp4x8-{n}x{k}", chip, "gemm_fp4_of_fp8", label, f"{flop / fp4:.5e}",
                       chip, f"{flop / fp8:.5e}", "flop_per_s", "", "aiconfigurator-gemm-db", source, "", ""]
                out.writerow(row)


if __name__ == "__main__":
    main(sys.argv[1])
