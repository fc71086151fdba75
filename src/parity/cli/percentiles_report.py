"""`parity validate --section percentiles`: published latency percentiles against the simulator and the
steady-state model (measurements/serving_percentiles.csv)."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

from parity import catalog
from parity.cli import emit
from parity.errors import ParityError
from parity.report.tables import Column, percent, signed_percent, plain, scaled
from parity.validate_percentiles import percentile_errors, percentile_scores


def percentiles_report(fmt: str, out: Path | None) -> None:
    """Scores per model, metric and statistic, then every published figure against its prediction."""
    if fmt == "md":
        raise ParityError("--format md writes the whole accuracy page; use --section all, or table/json/csv here")
    rows = catalog.measurements("serving_percentiles")
    errors, infeasible = percentile_errors(rows)
    table = [s.row() for s in percentile_scores(errors)]
    by_vendor = [s.row() for s in percentile_scores(errors, "vendor")
                 if s.statistic == "mean" and s.metric in ("ttft", "tpot")]
    cases = [{**dataclasses.asdict(e), "error": e.error} for e in errors]
    payload = {"scores": table, "by_vendor": by_vendor, "cases": cases, "rows": len(rows),
               "sources": sorted({r.get("source_id", "") for r in rows}),
               "infeasible": [dataclasses.asdict(i) for i in infeasible]}
    if fmt != "table":  # json: the whole payload; csv: one row per published figure
        emit(cases, [], fmt, payload=payload, out=out)
        return
    counted = Counter(r.get("vendor", "") for r in rows)
    vendors = ", ".join(f"{v} {n}" for v, n in sorted(counted.items()))
    emit(table, [Column("model_kind", "model", plain, "left"), Column("metric", "metric", plain, "left"),
                 Column("statistic", "statistic", plain, "left"), Column("count", "rows", plain),
                 Column("median_abs_error", "median |err|", percent), Column("p90_abs_error", "p90 |err|", percent),
                 Column("bias", "bias", signed_percent)], "table",
         title=f"Published latency percentiles: {len(rows)} runs from {len(payload['sources'])} sources ({vendors}), "
               f"none fitted", out=out,
         caption="Error = (predicted - measured) / measured over the runs that publish the statistic. sim: the "
                 "step-level simulator re-running each benchmark with its client (prompts, concurrency or request "
                 "rate); steady: the closed-form model (means only). Not priced: "
                 + ("; ".join(f"{i.case_id} ({i.model_kind}: {i.reason})" for i in infeasible) or "none"))
    if out is None:
        emit(by_vendor, [Column("group", "vendor", plain, "left"), Column("model_kind", "model", plain, "left"),
                         Column("metric", "metric", plain, "left"), Column("count", "rows", plain),
                         Column("median_abs_error", "median |err|", percent), Column("bias", "bias", signed_percent)], "table",
             title="Mean TTFT and TPOT by vendor: the simulator and the steady-state model on the same runs")
        emit(cases, [Column("case_id", "case", plain, "left", wrap=True), Column("model_kind", "model", plain, "left"),
                     Column("metric", "metric", plain, "left"), Column("statistic", "stat", plain, "left"),
                     Column("measured_s", "meas. ms", scaled(1e-3, 4)),
                     Column("predicted_s", "pred. ms", scaled(1e-3, 4)), Column("error", "error", signed_percent)],
             "table", title="Every published figure: measured and predicted")
