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


# a metric in a few words for the table (JSON and CSV keep the field's name)
_METRIC_WORDS = {"output_tokens_per_s": "tok/s", "ttft_s": "TTFT", "tpot_s": "TPOT"} | {
    f"{m}_{p}_s": f"{m.upper()} {p}" for m in ("ttft", "tpot") for p in ("p50", "p90", "p99")}
_ENDS = (ISL_GRID_TOKENS[0], ISL_GRID_TOKENS[-1])  # the shortest and longest mean input lengths predicted at


def mlperf_report(fmt: str, out: Path | None) -> None:
    """Each published figure with parity's predictions at each mean input length, then the vendor pairs."""
    if fmt == "md":
        raise ParityError("--format md writes the whole accuracy page; use --section all, or table/json/csv here")
    rows = catalog.measurements("mlperf_inference")
    brackets, pairs = bracket_checks(rows), pair_ratios(rows)
    before = pair_ratios(rows, hook=before_setting().apply)  # the generic prior and CUDA profiles on every chip
    table: list[dict[str, Any]] = []
    for b in brackets:
        entry = {"case_id": b.case_id, "model_kind": b.model_kind, "metric": b.metric,
                 "figure": f"{b.model_kind} {_METRIC_WORDS.get(b.metric, b.metric)}",
                 "measured": _figure(b.measured, b.metric), "inside": b.inside,
                 "miss": b.miss, "implied_isl_tokens": b.implied_isl_tokens}
        entry.update({f"isl_{isl}": _figure(p, b.metric) for isl, p in zip(b.isl_tokens, b.predicted)})
        table.append(entry)
    pair_rows = [{"pair": f"{p.a} / {p.b}", "setting": name, "published": p.published,
                  **{f"isl_{isl}": e for isl, e in zip(p.isl_tokens, p.errors)}}
                 for name, group in (("stored", pairs), ("before", before)) for p in group]
    if fmt == "csv":  # one row per figure, SI units (tokens/s, s; empty: unstable), then one per vendor pair
        flat = [{"table": "runs", "case_id": b.case_id, "model_kind": b.model_kind, "metric": b.metric,
                 "measured": b.measured, **{f"isl_{isl}": p for isl, p in zip(b.isl_tokens, b.predicted)},
                 "miss": b.miss, "implied_isl_tokens": b.implied_isl_tokens} for b in brackets]
        # the pairs' errors of the predicted ratio, at each length, in columns of their own (error_isl_N)
        flat += [{"table": f"pairs {r['setting']}", "case_id": r["pair"], "published_ratio": r["published"],
                  **{f"error_isl_{isl}": r[f"isl_{isl}"] for isl in ISL_GRID_TOKENS}} for r in pair_rows]
        emit(flat, [], fmt, out=out)
        return
    if fmt != "table":
        payload = {"isl_grid_tokens": list(ISL_GRID_TOKENS), "rows": len(rows),
                   "brackets": [{**dataclasses.asdict(b), "inside": b.inside, "miss": b.miss,
                                 "implied_isl_tokens": b.implied_isl_tokens} for b in brackets],
                   "pairs": [{**dataclasses.asdict(p), "errors": list(p.errors)} for p in pairs],
                   "pairs_before": [{**dataclasses.asdict(p), "errors": list(p.errors)} for p in before]}
        emit([], [], fmt, payload=payload, out=out)
        return
    # the run, its figure, the measurement and how far parity's range misses it fit 80 columns; the predictions
    # at each length give way, the middle ones first (the ends bound the range)
    grid = [Column(f"isl_{isl}", f"isl {isl}", plain, wide=1 if isl in _ENDS else 2) for isl in ISL_GRID_TOKENS]
    emit(table, [Column("case_id", "run", plain, "left"), Column("figure", "figure", plain, "left"),
                 Column("measured", "measured", plain), *grid, Column("miss", "miss", percent),
                 Column("implied_isl_tokens", "implied isl", lambda v: "-" if v is None else f"{v:,.0f}")], "table",
         title=f"MLPerf Inference Llama-2-70B: {len(rows)} published runs (v4.1, v5.0) against parity at each "
               "mean input length", out=out,
         caption="No source at hand publishes the mean prompt length of the 24,576 OpenOrca samples (they are "
                 "under 1,024 tokens); parity predicts at each length. miss: distance from the measured figure to "
                 "the range of predictions (0: inside). implied isl: where parity's prediction equals the "
                 "measurement. figure: steady (the steady-state model) or sim (the simulator) and the metric. Offline: output tokens/s of the whole system; server: the submitted QPS spread evenly "
                 "over the workers as Poisson streams, mean TTFT and TPOT of the steady-state model (steady) and "
                 "every published statistic of the step-level simulator (sim: 2,000 requests a worker at the mean "
                 "lengths).")
    if out is None:
        # each run of a pair on a line of its own: a run's name (26 characters) is never folded
        emit([{**r, "pair": r["pair"].replace(" / ", " /\n")} for r in pair_rows],
             [Column("pair", "runs (a / b)", plain, "left"),
                         Column("setting", "setting", plain, "left"), Column("published", "published", ratio),
                         *[Column(f"isl_{isl}", f"isl {isl}", percent, wide=0 if isl in _ENDS else 1)
                           for isl in ISL_GRID_TOKENS]], "table",
             title="Cross-vendor pairs: offline throughput ratio, predicted against published",
             caption="published: the measured ratio a/b; isl N: the error of parity's predicted ratio at that mean "
                     "input length. stored: parity's families and stack profiles (vllm-rocm on AMD); before: the generic prior "
                     "and the CUDA-fitted profiles on every chip but the measured H200 (parity validate --by vendor's "
                     "'before').")
