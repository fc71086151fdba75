"""`parity validate --by source|vendor`: scores with fits that never saw the scored group, before and after
families and stack profiles, and ratios where two vendors ran the same work; `--fit-stacks` refits the
stack profiles."""

from __future__ import annotations

import datetime
from pathlib import Path

import click

from parity import catalog
from parity.cli import deliver, output_format, render_output
from parity.cli.refits import one_set, write_better
from parity.crossvendor import (bands_toml, crossvendor_scores, fit_stack, coverage_words, leave_one_out_errors,
                                ratio_error_median, stack_loss, stack_rows, stack_toml, stored_setting, vendor_bands)
from parity.crossvendor_training import TRAINING_BANDS, training_scores, training_vendor_bands
from parity.fit import Refit, destination
from parity.report.tables import Column, percent, signed_percent, plain, ratio, scaled
from parity.uncertainty import widening_words

__all__ = ["crossvendor_report", "fit_stacks"]

WORST_ROWS = 15  # rows of the text view's last table (all of them in CSV and JSON)


def _per_what(metric: str) -> str:
    """A published metric in a few words: 'per worker', 'per user', 'prefill per chip'."""
    return metric.replace("output_tokens_per_s_", "").replace("_tokens_per_s_", " ").replace("_", " ")


def _inside(value: object) -> str:
    """Whether a pair's published ratio lies inside its interval: 'yes', 'no', '-' (no interval: a prefill pair)."""
    return "-" if value is None else ("yes" if value else "no")


def _fits(setting: str) -> str:
    """A score row's fits for people: 'after' for 'after (scored half)' (each caption says which rows 'after'
    scores), so that a narrow terminal wraps no more than 'never fitted'."""
    return setting.removesuffix(" (scored half)")


def fit_stacks(iterations: int, write_to: str) -> None:
    """Refit every stack profile (data/engines/*-STACK.toml) on its stack's calibration rows and the ratio
    bands; written where `write_to` says (the user's folder by default, never the installed package), as one set
    (refits.one_set), and a profile only where it fits its rows better than the one in use (refits.write_better)."""
    folder = destination(write_to, Path.cwd())
    rows = catalog.measurements("serving_published")
    date = datetime.date.today().isoformat()
    with one_set() as write:
        for stored in [p for p in catalog.engines() if p.base]:
            mine = stack_rows(rows, stored.base, stored.stack)
            click.echo(f"fitting {stored.id} on {len(mine)} rows", err=True)
            profile, before, after = fit_stack(catalog.engine(stored.base), stored.stack, mine, stored_setting(),
                                               iterations, twins=rows)
            now = stack_loss(stored, mine, stored_setting(), twins=rows)
            write_better([Refit(name=f"engines/{profile.id}.toml", text=stack_toml(profile, before, after, date),
                                rows=len(mine), loss_before=before, loss_after=after, loss_replaced=now,
                                summary=f"{profile.id}: loss {before:.3f} -> {after:.3f} on {len(mine)} rows")],
                         folder, write)
        click.echo("fitting the ratio bands with each source left out", err=True)
        left_out = leave_one_out_errors(rows, catalog.measurements("kernels_published"), "source", iterations)
        bands = vendor_bands(e for _, _, errors, _ in left_out for e in errors)
        path = folder / "ratio_uncertainty.toml"
        write(path, bands_toml(bands, date))
        click.echo("fitting the training ratio bands with each source left out", err=True)
        trained = training_vendor_bands()
        write(folder / "training_ratio_uncertainty.toml", bands_toml(trained, date, TRAINING_BANDS))
    catalog.ratio_uncertainty_table.cache_clear()
    catalog.training_ratio_uncertainty_table.cache_clear()
    click.echo(f"ratio bands for {len(bands)} vendors, serving and training; wrote {path} and "
               f"{folder / 'training_ratio_uncertainty.toml'}", err=True)


def crossvendor_report(by: str, fmt: str, out: Path | None, iterations: int, model_kind: str = "sim",
                       processes: int = 1, section: str = "all") -> None:
    """The tables (serving scores, training runs, cross-vendor pairs, the rows furthest off) as text or Markdown; all
    of it as JSON; or one CSV of every row, its `table` column naming which. With --out, written once and whole.
    `model_kind` prices the published rows (crossvendor_scores); the fits run the steady-state model. `section`:
    training runs alone ('training'), the serving figures alone ('published' or 'serving'), or both ('all')."""
    fmt = output_format(fmt, out)
    served, trained = section != "training", section in ("training", "all")
    payload: dict[str, list[dict[str, object]]] = (
        crossvendor_scores(by, iterations, progress=lambda g: click.echo(f"left out {g}", err=True),
                           model_kind=model_kind, processes=processes) if served else
        {"scores": [], "ratios": [], "rows": []})
    payload["training"] = training_scores(
        by, progress=lambda g: click.echo(f"left out {g} (training)", err=True)) if trained else []
    table, pairs, training, per_row = payload["scores"], payload["ratios"], payload["training"], payload["rows"]
    if fmt in ("json", "csv"):
        rows = [{"table": name, **row} for name, part in (("scores", table), ("training", training), ("pairs", pairs),
                                                           ("rows", per_row)) for row in part]
        deliver(render_output(rows, [], fmt, payload=payload), out)
        return
    # what 'left out' means for each group is listed under its table (_left_out_items), not repeated in a column
    scored = [Column("setting", "fits", _fits, "left", wrap=True), Column("count", "rows", plain),
              Column("median_abs_error", "median\n|err|", percent), Column("p90_abs_error", "p90\n|err|", percent),
              Column("bias", "bias", signed_percent)]
    serving_caption = (
        "decode: output tokens/s per worker or per user (1/TPOT) and TPOT; prefill: prefill tokens/s and TTFT. "
        "before: the generic prior on every chip but the H200 and CUDA-fitted engine profiles on every stack. "
        "left out: every row of the group, scored with fits that never saw it"
        + ("; kernels too: and the family calibrations of its chips' kernel figures dropped (a vendor parity has no "
           "measurement of; not one with a chip measured on its own)" if by == "vendor" else "")
        + ". after: the stored fits on the rows no fit used. never fitted: aiconfigurator's rows of no fit (holdout "
        "and unseen), TTFT/TPOT. 80% int. holds: rows inside the 80% interval their prediction printed, of those with "
        f"one (decode; an interval {widening_words()}). "
        + ("Closed-loop figures (per user, per worker at a concurrency) priced by the step-level simulator; offline "
           "and unbounded-rate throughputs and prefill steps by the steady-state model, which every fit runs."
           if model_kind == "sim" else "Every figure priced by the steady-state model."))
    training_caption = (
        "before: the generic prior on every chip but the H200, the stored training profile (fitted on the "
        "calibration rows, which it scores in-sample), every scored row. "
        "left out: the training profile refitted from its documented prior without the group's calibration rows "
        "(the prior itself where none remain)"
        + (" and the family calibrations fitted on the group's kernel figures dropped" if by == "source" else
           "; the family calibrations of the vendor's kernel figures kept (microbenchmarks are what a family is "
           "calibrated from, and none is scored)")
        + ". after: the stored fits on the holdout rows. 'reference' rows (layout or convention not "
        "published) are never scored.")
    pairs_caption = (
        "ratio error = predicted / published - 1; 'calibration' pairs fitted the ROCm profiles (now); "
        f"'{by} left out': with fits that never saw the pair's {by}. Median |ratio error|: "
        + ", ".join(f"{name} {ratio_error_median(pairs, key):.0%}"
                    for name, key in (("before", "before"), (f"{by} left out", "left_out"), ("now", "predicted")))
        + "; now, scored pairs only: "
        + f"{ratio_error_median([p for p in pairs if p['split'] != 'calibration'], 'predicted'):.0%}. "
        + f"80% int.: the interval parity compare builds, around the {by}-left-out ratio, from the left-out residuals "
        f"of every source but the pair's own; the published ratio lies inside it for {coverage_words(pairs)} "
        "decode pairs (prefill pairs have none)."
        + (" kernels too: the ratio with the vendor's kernel figures left out too, inside the interval compare gives a "
           "vendor never measured (the widest band of the others, widened as on a chip on a prior) for "
           f"{coverage_words(pairs, 'kernels_too_inside')}." if by == "vendor" else "")) if served else ""
    held = [r | {"holds": f"{r['inside']}/{r['judged']}" if r.get("judged") else "-"} for r in table]
    parts = [
        (held, [Column("group", by, plain, "left"), Column("kind", "metric", plain, "left"), *scored,
                Column("holds", "80% int.\nholds", plain, wide=1)],
         f"Published serving figures by {by}: before, left out, after", serving_caption, _left_out_items(table)),
        (training, [Column("group", by, plain, "left"), *scored],
         f"Published training runs by {by} (tokens/s per chip): before, left out, after", training_caption,
         _left_out_items(training)),
        (pairs, [Column("case_id", "case", plain, "left"), Column("a", "system", plain, "left"),
                 Column("b", "against", plain, "left"), Column("metric", "tokens/s", _per_what, "left", wide=2),
                 Column("published", "published\nratio", ratio), Column("before", "predicted\nbefore", ratio, wide=2),
                 Column("left_out", f"{by}\nleft out", ratio), Column("left_out_error", "its\nerror", signed_percent),
                 Column("interval_low", "80% int.\nfrom", ratio, wide=1), Column("interval_high", "\nto", ratio, wide=1),
                 Column("inside", "pub.\ninside", _inside, wide=1),
                 *([Column("kernels_too", "kernels\ntoo", ratio, wide=2),
                    Column("kernels_too_inside", "pub.\ninside", _inside, wide=2)] if by == "vendor" else []),
                 Column("predicted", "predicted\nnow", ratio, wide=1),
                 Column("error", "ratio\nerror", signed_percent, wide=1), Column("split", "split", plain, "left", wide=3)],
         "The same work on two vendors' chips (same source, model, lengths, concurrency)", pairs_caption, []),
        (per_row[:WORST_ROWS], [Column("case_id", "case", plain, "left"),
                               Column("group", by, plain, "left", wrap=True),
                               Column("system", "system", plain, "left", wide=1),
                               Column("metric", "tokens/s", _per_what, "left", wide=1),
                               Column("measured", "published", scaled(1.0, 4)),
                               Column("left_out", f"{by}\nleft out", scaled(1.0, 4)),
                               Column("left_out_error", "its\nerror", signed_percent),
                               Column("now", "now", scaled(1.0, 4), wide=2),
                               Column("split", "split", plain, "left", wide=3)],
         f"The {min(WORST_ROWS, len(per_row))} published rows furthest off with their {by} left out",
         f"Of {len(per_row)} rows scored; every one, with its prediction before and now, in --format csv or json "
         "(table 'rows'). now: the stored fits ('-' where the row fitted something).", [])]
    parts = [part for part in parts if (trained if part[0] is training else served)]  # `held` is the serving table
    texts = [render_output(rows, columns, fmt, title=title, caption=caption, to_file=out is not None, listed=items)
             for rows, columns, title, caption, items in parts]
    deliver("\n".join(text.rstrip("\n") + "\n" for text in texts), out)


def _left_out_items(rows: list[dict[str, object]]) -> list[str]:
    """What each group's fits left out, once per explanation, for the list under a score table: 'AMD left out:
    refitted vllm-rocm without its rows', 'Baidu, NVIDIA left out: its rows fitted nothing' (the groups that share
    it together), in the order the rows first give them."""
    groups: dict[tuple[str, str], list[str]] = {}
    for row in rows:
        if row.get("left_out_what"):
            named = groups.setdefault((str(row["setting"]), str(row["left_out_what"])), [])
            named += [str(row["group"])] if str(row["group"]) not in named else []
    return [f"{', '.join(named)} {setting}: {text}" for (setting, text), named in groups.items()]
