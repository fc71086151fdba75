"""Print the kernels_published.csv rows that give Blackwell Ultra (B300, GB300) its own GEMM and prompt-attention
rates: each Ultra chip's kernel beside its Blackwell sibling's (B200, GB200) at the same shape, in the same
aiconfigurator collector and engine version (TensorRT-LLM 1.3.0rc20).

Usage: python scripts/aic_ultra_rows.py MIRROR  (MIRROR: a checkout of ai-dynamo/aiconfigurator; needs pyarrow, which
parity does not depend on: run it by hand when the database moves, then paste its rows into the CSV).

Why: Blackwell Ultra doubles the special-function (exponent) throughput the softmax of attention runs on, with the
same tensor-core BF16/FP8 peaks as Blackwell (NVIDIA, 'Inside NVIDIA Blackwell Ultra', 2025-08-22). Parity's
Blackwell family calibration is one set of efficiencies for all four chips; these rows let scripts/fit_families.py
fit the Ultra chips' own (CHIP_FITTED): prompt attention (GQA at head dimension 128, and MLA's prompt attention,
whose larger head dimension spends fewer exponents per FLOP), and the BF16 and per-tensor FP8 GEMMs. Shapes:
GQA 32/8 and 64/8 query/KV heads and MLA 128 and 16 heads per rank (DeepSeek-V3 at TP 1 and 8), one sequence of
8,192 and 16,384 tokens (MLA's table starts at 6,144); GEMMs at M = 8,192, N and K of 8,192 and 16,384.
FLOPs: causal attention 2 b s^2 h d (GQA, d = 128), b s^2 h (192 + 128) (MLA); a GEMM 2 m n k.
"""

from __future__ import annotations

import csv
import io
import sys

import pyarrow.parquet as pq

from aic_fp4_rows import _git  # the same mirror read (scripts/ is on the path when a script runs)

VERSION = "1.3.0rc20"
PAIRS = (("b300_sxm", "b200_sxm"), ("gb300", "gb200"))  # (Ultra, its Blackwell sibling)
CHIPS = {"b300_sxm": "nvidia-b300-sxm", "b200_sxm": "nvidia-b200-sxm", "gb300": "nvidia-gb300",
         "gb200": "nvidia-gb200"}
SHORT = {"b300_sxm": "b300", "b200_sxm": "b200", "gb300": "gb300", "gb200": "gb200"}
GQA = [(h, kv, s) for h, kv in ((32, 8), (64, 8)) for s in (8192, 16384)]
MLA = [(h, s) for h in (128, 16) for s in (8192, 16384)]
GEMM = [(fmt, 8192, n, k) for fmt in ("bfloat16", "fp8") for n in (8192, 16384) for k in (8192, 16384)]
TABLES = {"attention": "attention/trtllm/{v}/context_attention_perf.parquet",
          "mla": "mla/trtllm/{v}/context_mla_perf.parquet", "gemm": "gemm/trtllm/{v}/gemm_perf.parquet"}
ROOT = "aic-core/src/aiconfigurator_core/systems/data"


def _table(mirror: str, system: str, kind: str) -> tuple[str, list[dict]]:
    path = f"{ROOT}/{system}/{TABLES[kind].format(v=VERSION)}"
    return path, pq.read_table(io.BytesIO(_git(mirror, "show", f"HEAD:{path}"))).to_pylist()


def _latency_s(rows: list[dict], **match: object) -> float:
    found = [r["latency"] for r in rows if all(r.get(k) == v for k, v in match.items())]
    if len(found) != 1:
        raise SystemExit(f"{len(found)} rows match {match}")
    return found[0] * 1e-3


def _row(case_id: str, chip: str, kind: str, label: str, flop: float, mine: float, twin: str, theirs: float,
         source_id: str, source: str) -> list[str]:
    return [case_id, chip, kind, label, f"{flop / mine:.5e}", twin, f"{flop / theirs:.5e}", "flop_per_s", "",
            source_id, source, "", ""]


def main(mirror: str) -> None:
    head = _git(mirror, "rev-parse", "HEAD").decode().strip()[:9]
    writer = csv.writer(sys.stdout, lineterminator="\n")
    for ultra, sibling in PAIRS:
        tables = {kind: {s: _table(mirror, s, kind) for s in (ultra, sibling)} for kind in TABLES}
        chip, twin = CHIPS[ultra], CHIPS[sibling]
        name = {s: tables["gemm"][s][1][0]["device"] for s in (ultra, sibling)}

        def source(kind: str) -> str:
            return (f"NVIDIA aiconfigurator's per-op {kind} database (Apache-2.0; ai-dynamo/aiconfigurator @ {head}, "
                    f"{tables[kind][ultra][0]} and {tables[kind][sibling][0]}: TensorRT-LLM {VERSION}'s op timed by the "
                    "aiconfigurator collector on each chip, latency in ms)")

        out = []
        for h, kv, s in GQA:
            match = dict(batch_size=1, isl=s, num_heads=h, num_key_value_heads=kv, head_dim=128, window_size=0,
                         attn_dtype="bfloat16", kv_cache_dtype="bfloat16")
            t = {x: _latency_s(tables["attention"][x][1], **match) for x in (ultra, sibling)}
            flop = 2.0 * s * s * h * 128
            label = (f"BF16 causal prompt attention, one sequence of {s:,} tokens, {h} query / {kv} KV heads of 128 "
                     f"(TensorRT-LLM {VERSION}) on an {name[ultra]}: {t[ultra] * 1e6:,.1f} us, against "
                     f"{t[sibling] * 1e6:,.1f} us on an {name[sibling]} in the same collector")
            out.append(_row(f"AIC-trtllm-{SHORT[ultra]}-attn-gqa{h}x{kv}-{s}", chip, "attention_prefill", label, flop,
                            t[ultra], twin, t[sibling], "aiconfigurator-attention-db", source("attention")))
        for h, s in MLA:
            match = dict(batch_size=1, isl=s, num_heads=h, mla_dtype="bfloat16", kv_cache_dtype="bfloat16")
            t = {x: _latency_s(tables["mla"][x][1], **match) for x in (ultra, sibling)}
            flop = 1.0 * s * s * h * (192 + 128)
            label = (f"BF16 MLA prompt attention (causal, head dims 192/128), one sequence of {s:,} tokens, {h} heads "
                     f"(TensorRT-LLM {VERSION}) on an {name[ultra]}: {t[ultra] * 1e6:,.1f} us, against "
                     f"{t[sibling] * 1e6:,.1f} us on an {name[sibling]} in the same collector")
            out.append(_row(f"AIC-trtllm-{SHORT[ultra]}-attn-mla{h}-{s}", chip, "attention_prefill", label, flop,
                            t[ultra], twin, t[sibling], "aiconfigurator-attention-db", source("mla")))
        for fmt, m, n, k in GEMM:
            t = {x: _latency_s(tables["gemm"][x][1], gemm_dtype=fmt, m=m, n=n, k=k) for x in (ultra, sibling)}
            short = "bf16" if fmt == "bfloat16" else "fp8"
            label = (f"{short.upper()} GEMM M={m:,} N={n:,} K={k:,} (TensorRT-LLM {VERSION} torch flow"
                     f"{', per-tensor scale' if short == 'fp8' else ''}) on an {name[ultra]}: {t[ultra] * 1e6:,.1f} us, "
                     f"against {t[sibling] * 1e6:,.1f} us on an {name[sibling]} in the same collector")
            out.append(_row(f"AIC-trtllm-{SHORT[ultra]}-{short}-{n}x{k}", chip, f"gemm_{short}", label, 2.0 * m * n * k,
                            t[ultra], twin, t[sibling], "aiconfigurator-gemm-db", source("gemm")))
        writer.writerows(out)


if __name__ == "__main__":
    main(sys.argv[1])
