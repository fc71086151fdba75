"""`parity validate --by source|vendor`: scores with fits that never saw the scored group, before and after
families and stack profiles, and ratios where two vendors ran the same work; `--fit-stacks` refits the
stack profiles."""

from __future__ import annotations

import datetime
from pathlib import Path

import click
import numpy as np

from parity import catalog
from parity.cli import emit
from parity.crossvendor import (bands_toml, before_setting, fit_stack, group_scores, leave_one_out_errors,
                                ratio_checks, scored_rows, stack_rows, stack_toml, stored_setting, vendor_bands)
from parity.fit import destination
from parity.predict import predict_rows
from parity.report.tables import Column, percent, plain, ratio, write_atomic
from parity.validate import case_errors, published_errors

__all__ = ["crossvendor_report", "fit_stacks"]


def fit_stacks(iterations: int, write_to: str) -> None:
    """Refit every stack profile (data/engines/*-STACK.toml) on its stack's calibration rows and the ratio
    bands; written where `write_to` says (the user's folder by default, never the installed package)."""
    folder = destination(write_to, Path.cwd())
    rows = catalog.measurements("serving_published")
    date = datetime.date.today().isoformat()
    for stored in [p for p in catalog.engines() if p.base]:
        mine = stack_rows(rows, stored.base, stored.stack)
        profile, before, after = fit_stack(catalog.engine(stored.base), stored.stack, mine, stored_setting(),
                                           iterations, twins=rows)
        path = folder / "engines" / f"{profile.id}.toml"
        write_atomic(path, stack_toml(profile, before, after, date))
        click.echo(f"{profile.id}: loss {before:.3f} -> {after:.3f} on {len(mine)} rows; wrote {path}", err=True)
    catalog.engines.cache_clear()
    left_out = leave_one_out_errors(rows, catalog.measurements("kernels_published"), "source", iterations)
    bands = vendor_bands(e for _, _, errors, _ in left_out for e in errors)
    path = folder / "ratio_uncertainty.toml"
    write_atomic(path, bands_toml(bands, date))
    catalog.ratio_uncertainty_table.cache_clear()
    click.echo(f"ratio bands for {len(bands)} vendors; wrote {path}", err=True)


def _vendor(system: str) -> str:
    return catalog.system(system).chip.vendor


def crossvendor_report(by: str, fmt: str, out: Path | None, iterations: int) -> None:
    rows = catalog.measurements("serving_published")
    field = {"source": "source_id", "vendor": "vendor"}[by]
    group_of = {r["case_id"]: r[field] for r in rows}
    before = published_errors(rows, hook=before_setting().apply)
    scored = scored_rows(rows)
    after = published_errors(scored, hook=stored_setting().apply)
    served = catalog.measurements()
    held = [r for r in served if r["split"] in ("holdout", "unseen")]
    # aiconfigurator's rows: scored on its never-fitted half (the CUDA profiles were fitted on the other)
    served_errors = case_errors(held, predict_rows(held))
    in_source = group_scores(served_errors, lambda e: "aiconfigurator" if by == "source" else _vendor(e.system),
                             "held-out half", by, "profiles fitted on its calibration half; NVIDIA only")
    left_out = leave_one_out_errors(rows, catalog.measurements("kernels_published"), by, iterations,
                                    progress=lambda g: click.echo(f"left out {g}", err=True))
    table = (group_scores(before, lambda e: group_of[e.case_id], "before", by)
             + [s for group, left, errors, _ in left_out
                for s in group_scores(errors, lambda e, g=group: g, "left out", by, left)]
             + group_scores(after, lambda e: group_of[e.case_id], "after (scored half)", by)
             + in_source)
    table = sorted((s.row() for s in table), key=lambda r: (r["group"], r["kind"], r["setting"]))
    pairs_before = {c.case_id: c for c in ratio_checks(rows, before_setting())}
    pairs_left = {}  # each pair under the setting that left its group (source or vendor) out
    for group, _, _, setting in left_out:
        mine = [r for r in rows if r[field] == group or (r["case_id"].endswith("-nv") and group_of.get(
            r["case_id"].removesuffix("-nv")) == group)]
        pairs_left |= {c.case_id: c for c in ratio_checks(mine, setting)}
    pairs = [{**c.row(), "before": pairs_before[c.case_id].predicted if c.case_id in pairs_before else float("nan"),
              "left_out": pairs_left[c.case_id].predicted if c.case_id in pairs_left else float("nan"),
              "left_out_error": (pairs_left[c.case_id].error if c.case_id in pairs_left else float("nan")),
              "split": next(r["split"] for r in rows if r["case_id"] == c.case_id)} for c in ratio_checks(rows)]
    payload = {"scores": table, "ratios": pairs}
    if fmt != "table":
        emit([], [], fmt, payload=payload, out=out)
        return
    emit(table, [Column("group", by, plain, "left"), Column("kind", "metric", plain, "left"),
                 Column("setting", "fits", plain, "left"), Column("count", "rows", plain),
                 Column("median_abs_error", "median |err|", percent), Column("p90_abs_error", "p90 |err|", percent),
                 Column("bias", "bias", percent), Column("left_out", "what 'left out' means", plain, "left")],
         "table", title=f"Published serving figures by {by}: before, left out, after",
         caption="decode: output tokens/s per worker or per user (1/TPOT) and TPOT; prefill: prefill tokens/s and "
                 "TTFT. before: the generic prior on every chip but the H200 and CUDA-fitted engine profiles on "
                 "every stack. left out: every row of the group, scored with fits that never saw it. after: the "
                 "stored fits on the rows no fit used. held-out half: aiconfigurator's never-fitted TTFT/TPOT rows.")
    emit(pairs, [Column("case_id", "case", plain, "left"), Column("a", "system", plain, "left"),
                 Column("b", "against", plain, "left"), Column("metric", "metric", plain, "left"),
                 Column("published", "published ratio", ratio), Column("before", "predicted before", ratio),
                 Column("left_out", f"{by} left out", ratio), Column("left_out_error", "its error", percent),
                 Column("predicted", "predicted now", ratio), Column("error", "ratio error", percent),
                 Column("split", "split", plain, "left")],
         "table", title="The same work on two vendors' chips (same source, model, lengths, concurrency)",
         caption="ratio error = predicted / published - 1; 'calibration' pairs fitted the ROCm profiles (now); "
                 f"'{by} left out': with fits that never saw the pair's {by}. Median |ratio error|: "
                 + ", ".join(f"{name} {_median(pairs, key):.0%}" for name, key in (
                     ("before", "before"), (f"{by} left out", "left_out"), ("now", "predicted")))
                 + "; now, scored pairs only: "
                 + f"{_median([p for p in pairs if p['split'] != 'calibration'], 'predicted'):.0%}")


def _median(pairs: list[dict[str, object]], key: str) -> float:
    """Median |predicted / published - 1| of the pairs' ratios under one setting."""
    values = [abs(float(p[key]) / float(p["published"]) - 1.0) for p in pairs]  # type: ignore[arg-type]
    return float(np.median(values)) if values else float("nan")
