"""`parity validate --section mlperf`: MLPerf Inference submissions (measurements/mlperf_inference.csv) against
parity over the mean input lengths the benchmark allows, and the cross-vendor ratios of their offline throughputs."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

from parity import catalog
from parity.cli import emit
from parity.crossvendor import before_setting
from parity.errors import ParityError
from parity.report.tables import Column, percent, plain, ratio
from parity.validate_mlperf import ISL_GRID_TOKENS, bracket_checks, pair_ratios


def _figure(value: float, metric: str) -> str:
    """A latency [s] in ms (unstable where parity's queue never drains), a throughput as tokens/s."""
    if math.isinf(value):
        return "unstable"
    return f"{value:,.0f}" if metric == "output_tokens_per_s" else f"{value * 1e3:,.1f} ms"


def mlperf_report(fmt: str, out: Path | None) -> None:
    """Each published figure with parity's predictions at each mean input length, then the vendor pairs."""
    if fmt == "md":
        raise ParityError("--format md writes the whole accuracy page; use --section all, or table/json/csv here")
    rows = catalog.measurements("mlperf_inference")
    brackets, pairs = bracket_checks(rows), pair_ratios(rows)
    before = pair_ratios(rows, hook=before_setting().apply)  # the generic prior and CUDA profiles on every chip
    table: list[dict[str, Any]] = []
    for b in brackets:
        entry = {"case_id": b.case_id, "model_kind": b.model_kind, "metric": b.metric, "measured": _figure(b.measured, b.metric),
                 "inside": b.inside,
                 "miss": b.miss, "implied_isl_tokens": b.implied_isl_tokens}
        entry.update({f"isl_{isl}": _figure(p, b.metric) for isl, p in zip(b.isl_tokens, b.predicted)})
        table.append(entry)
    pair_rows = [{"pair": f"{p.a} / {p.b}", "setting": name, "published": p.published,
                  **{f"isl_{isl}": e for isl, e in zip(p.isl_tokens, p.errors)}}
                 for name, group in (("stored", pairs), ("before", before)) for p in group]
    if fmt == "csv":  # one row per figure, SI units (tokens/s, s; empty: unstable)
        flat = [{"case_id": b.case_id, "model_kind": b.model_kind, "metric": b.metric, "measured": b.measured,
                 **{f"isl_{isl}": p for isl, p in zip(b.isl_tokens, b.predicted)}, "miss": b.miss,
                 "implied_isl_tokens": b.implied_isl_tokens} for b in brackets]
        emit(flat, [Column(k, k, plain) for k in flat[0]], fmt, out=out)
        return
    if fmt != "table":
        payload = {"isl_grid_tokens": list(ISL_GRID_TOKENS), "rows": len(rows),
                   "brackets": [{**dataclasses.asdict(b), "inside": b.inside, "miss": b.miss,
                                 "implied_isl_tokens": b.implied_isl_tokens} for b in brackets],
                   "pairs": [{**dataclasses.asdict(p), "errors": list(p.errors)} for p in pairs],
                   "pairs_before": [{**dataclasses.asdict(p), "errors": list(p.errors)} for p in before]}
        emit([], [], fmt, payload=payload, out=out)
        return
    grid = [Column(f"isl_{isl}", f"isl {isl}", plain) for isl in ISL_GRID_TOKENS]
    emit(table, [Column("case_id", "run", plain, "left"), Column("model_kind", "model", plain, "left"),
                 Column("metric", "metric", plain, "left"),
                 Column("measured", "measured", plain), *grid, Column("miss", "miss", percent),
                 Column("implied_isl_tokens", "implied isl", lambda v: "-" if v is None else f"{v:,.0f}")], "table",
         title=f"MLPerf Inference Llama-2-70B: {len(rows)} published runs (v4.1, v5.0) against parity at each "
               "mean input length", out=out,
         caption="No source at hand publishes the mean prompt length of the 24,576 OpenOrca samples (they are "
                 "under 1,024 tokens); parity predicts at each length. miss: distance from the measured figure to "
                 "the range of predictions (0: inside). implied isl: where parity's prediction equals the "
                 "measurement. Offline: output tokens/s of the whole system; server: the submitted QPS spread evenly "
                 "over the workers as Poisson streams, mean TTFT and TPOT of the steady-state model (steady) and "
                 "every published statistic of the step-level simulator (sim: 2,000 requests a worker at the mean "
                 "lengths).")
    if out is None:
        emit(pair_rows, [Column("pair", "runs (a / b)", plain, "left"), Column("setting", "setting", plain, "left"),
                         Column("published", "published a/b", ratio),
                         *[Column(f"isl_{isl}", f"err at isl {isl}", percent) for isl in ISL_GRID_TOKENS]], "table",
             title="Cross-vendor pairs: offline throughput ratio, predicted against published",
             caption="stored: parity's families and stack profiles (vllm-rocm on AMD); before: the generic prior "
                     "and the CUDA-fitted profiles on every chip but the measured H200 (parity validate --by vendor's "
                     "'before').")
