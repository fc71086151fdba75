"""`parity validate`: predictions against every measurement parity holds, with the fits behind them."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from parity import catalog
from parity.cli import cli, deliver, emit, out_option, output_format, progress_bar, render_output, typed_options, \
    wide_option
from parity.cli.crossvendor_cmd import crossvendor_report
from parity.cli.crossvendor_cmd import fit_stacks as fit_stacks_
from parity.cli.mlperf_report import mlperf_report
from parity.cli.percentiles_report import percentiles_report
from parity.cli.refits import one_set, write_better
from parity.cli.validate_payload import (_never_fitted_errors, _published_kind, page_payload, section_payload,
                                        validation_payload)
from parity.cli.validate_tables import calibration_tables, serving_caption, serving_title
from parity.cli.values import Count, listed, ray_option
from parity.errors import ParityError
from parity.predict import MODEL_KINDS, predict_rows
from parity.report.accuracy_page import accuracy_markdown
from parity.report.tables import FORMATS, Column, percent, signed_percent, plain, ratio, scaled
from parity.fit import WRITE_TO, Refit, destination, refit_engines, refit_intervals
from parity.validate import case_errors, scores

SECTIONS = ("serving", "published", "training", "calibration", "percentiles", "mlperf", "all")


@cli.command()
@click.option("--by", default="system,engine", show_default=True,
              help="group scores by these fields (system, engine, engine_version, model, mode, split); 'flag' alone: "
                   "by the kind of flag the predictions carry; 'source' or 'vendor' alone: published figures scored "
                   "leaving each source or vendor (the chip's maker, whoever published the figure) out of every fit")
@click.option("--fit-stacks", is_flag=True,
              help="refit the engine profiles of non-CUDA stacks on their calibration rows, and the ratio bands "
                   "(serving and training), and write them (see --write-to)")
@click.option("--fit", is_flag=True, help="refit the engine profiles and the intervals on the calibration rows "
                                          "and write them (see --write-to)")
@click.option("--write-to", "write_to", type=click.Choice(WRITE_TO), default="user", show_default=True,
              help="with --fit or --fit-stacks: 'user' writes to ~/.parity (or $PARITY_HOME), which predictions "
                   "read before parity's own data; 'repo' writes into the checkout's src/parity/data")
@click.option("--iterations", type=Count(most=100_000, what="any fit's iterations"), default=150, show_default=True,
              help="Nelder-Mead iterations per engine (--fit with --model-kind steady, --fit-stacks, --by "
                   "source|vendor, and the accuracy page's fits: --format md); the stack fits (all but --fit) take at "
                   "most 60")
@click.option("--section", type=click.Choice(SECTIONS), default="all", show_default=True,
              help="serving points (aiconfigurator), published throughputs, training runs, what the H200 "
                   "calibration changes, published latency percentiles against the simulator, MLPerf Inference "
                   "runs over the input lengths they allow (these two only on their own), or all")
@click.option("--model-kind", type=click.Choice(MODEL_KINDS + ("both",)), default="sim", show_default=True,
              help="serving model scored: the step-level simulator (what serve and predict run), the closed-form "
                   "steady-state model (what search, compare and fleet run; --fit refits the engine profiles "
                   "only with it), or both side by side per engine and mode (never-fitted rows)")
@click.option("--processes", type=click.IntRange(min=1), default=2, show_default=True,
              help="worker processes for the simulator")
@ray_option("the simulator's runs (--model-kind sim or both)")
@click.option("--format", "fmt", type=click.Choice((*FORMATS, "md")), default="table", show_default=True,
              help="table for people; json or csv (SI units) for machines, csv for the serving, published, "
                   "percentiles and mlperf sections (one row per measured value) or with --by; md: the accuracy page "
                   "(docs/accuracy.md)")
@click.option("--with-user-files", is_flag=True,
              help="with --format md: write the page although the user's own files (PARITY_HOME) are in effect, "
                   "marked as including them (refused without it: the page is parity's accuracy)")
@wide_option
@out_option
def validate(by: str, fit_stacks: bool, fit: bool, write_to: str, iterations: int, section: str, model_kind: str,
             processes: int, ray: str | None, fmt: str, with_user_files: bool,
             out: Path | None) -> None:
    """Predicted against measured on parity's validation data, scored on the rows no fit used: aiconfigurator's
    serving points (TTFT, TPOT; 1,848 measured, of which the calibration rows fit the engine profiles and the
    others are scored), published serving throughputs, published training runs, and what the measured H200
    calibration changes against the datasheet roofline and the generic prior."""
    if ray is not None and model_kind == "steady":
        raise ParityError("--ray runs the simulator's runs: it needs --model-kind sim")
    if not (fit or fit_stacks) and (given := typed_options({"--write-to": "write_to"})):
        raise ParityError(f"{given[0]} says where --fit or --fit-stacks write their refits: add one of them")
    if fit_stacks and by not in ("source", "vendor") and (
            given := typed_options({"--section": "section", "--format": "fmt", "--out": "out"})):
        raise ParityError(f"{', '.join(given)} with --fit-stacks: it writes refits and prints no scores (add --by "
                          "source or --by vendor to score with them)")
    resolved = fmt = output_format(fmt, out)  # --format, or the suffix of --out
    if not listed(by, "--by"):
        raise ParityError("--by '' names no field: give the fields to group by (system, engine, engine_version, model, "
                          "mode, split), or 'flag', 'source' or 'vendor' alone")
    fields = list(listed(by, "--by"))  # a field that is none, before whether the section reads --by (fuzzDD 14)
    unknown = set(fields) - {"system", "engine", "engine_version", "model", "mode", "split"}
    if unknown and fields not in (["flag"], ["source"], ["vendor"]):
        why = "; ".join(f"{f}: {'only alone' if f in ('flag', 'source', 'vendor') else 'no such field'}"
                        for f in sorted(unknown))
        raise ParityError(f"--by accepts system, engine, engine_version, model, mode, split (or 'flag', 'source' or "
                          f"'vendor' alone); got {by!r} ({why})")
    if fit and (section in ("percentiles", "mlperf") or by in ("source", "vendor")):
        raise ParityError(f"--fit refits on the serving points, which --section {section} does not score: drop one "
                          "of them" if section in ("percentiles", "mlperf") else
                          f"--fit with --by {by}: leaving each {by} out refits its own fits and writes none: drop one "
                          "of them")
    fits = section not in ("percentiles", "mlperf") and (  # the runs that read --iterations, as below
        fit_stacks or by in ("source", "vendor") or (fit and model_kind == "steady")
        or (fmt == "md" and section == "all" and model_kind != "both"))
    if not fits and typed_options({"--iterations": "iterations"}):
        raise ParityError("--iterations sets the Nelder-Mead steps of a fit: it is read by --fit with --model-kind "
                          "steady, --fit-stacks, --by source|vendor and the accuracy page (--format md); add one of "
                          "them, or leave it out")
    if resolved == "md" and section not in ("all", "percentiles", "mlperf") and by not in ("source", "vendor"):
        raise ParityError(f"--format md writes the whole accuracy page (docs/accuracy.md): leave out --section "
                          f"{section}, or give --format table or json")
    if resolved == "csv" and section not in ("all", "serving", "published", "percentiles", "mlperf") and by not in (
            "source", "vendor"):
        said = "--format csv" if typed_options({"--format": "fmt"}) or out is None else f"--out {out.name}"
        raise ParityError(f"{said} writes one row per measured value, of the serving, published, percentiles and "
                          f"mlperf sections (or with --by): --section {section} is shown as a table or in --format "
                          "json")
    _refuse_unread(section, by, model_kind, fit, resolved)
    mine = _user_files_said(resolved, with_user_files)
    if section == "percentiles":
        percentiles_report(fmt, out)
        return
    if section == "mlperf":
        mlperf_report(fmt, out)
        return
    if fit_stacks:
        fit_stacks_(min(iterations, 60), write_to)
        if by not in ("source", "vendor"):
            return
    if by in ("source", "vendor"):
        crossvendor_report(by, fmt, out, min(iterations, 60), _published_kind(model_kind), processes, section)
        return
    rows = catalog.measurements()
    folder = destination(write_to, Path.cwd()) if fit else None
    with one_set() as write:  # the engine profiles and the intervals priced with them stand or fall together
        if folder is not None and model_kind == "steady":  # engine profiles are fitted for the steady model
            date = datetime.date.today().isoformat()
            write_better(_refit_engines(rows, iterations, date), folder, write)
        if model_kind == "both":
            _models_side_by_side(rows, processes, fmt, out, ray)
            return
        # the serving points are priced where they are shown or refitted, not for another section alone (minutes)
        rows = rows if section in ("serving", "all") or folder is not None else []
        with progress_bar(stages=folder is not None) as progress:
            task = progress.add_task(f"predicting {len(rows):,} measured cases", total=len(rows))
            predictions = predict_rows(rows, progress=lambda n: progress.advance(task, n), model_kind=model_kind,
                                       processes=processes, ray=ray) if rows else []
        errors = case_errors(rows, predictions)
        if folder is not None:
            write_better([refit_intervals(errors, datetime.date.today().isoformat(), model_kind)], folder, write)
    table, payload, training = validation_payload(rows, predictions, fields, section, model_kind, processes)
    if fmt == "md":
        if section == "all":
            payload = page_payload(rows, errors, payload, model_kind, processes, iterations, ray)
        deliver(mine + accuracy_markdown(errors, training, payload), out)
        return
    agree = payload["deployments"]
    transfer, repeats, side_by_side = payload["transfer"], payload["repeat_spread"], payload["system_ratios"]
    columns = [Column("metric", "metric", plain, "left")] + [Column(f, f, plain, "left") for f in fields] + [
        Column("count", "rows", plain), Column("infeasible", "infeasible", plain, wide=1),
        Column("median_abs_error", "median |err|", percent), Column("p90_abs_error", "p90 |err|", percent),
        Column("bias", "bias", signed_percent)]
    if fmt != "table":  # json: the section's part of the payload; csv: one row per measured value (the published
        # section's: its published figures, without the deployments' fit checks, which --format json carries)
        emit(payload["published" if section == "published" else "cases"], [], fmt,
             payload=section_payload(payload, section), out=out)
        return
    shown: list[str] = []  # every table of the section, printed or written whole to --out at the end

    def show(rows: list[Any], columns: list[Column], fmt: str, *, title: str = "", caption: str = "") -> None:
        shown.append(render_output(rows, columns, fmt, title=title, caption=caption, to_file=out is not None))

    if section in ("serving", "all"):
        show(table, columns, "table", title=serving_title(payload), caption=serving_caption(payload, fields))
        show(transfer, [Column("metric", "metric", plain, "left"), Column("system", "system", plain, "left"),
                        Column("model", "model", plain, "left"), Column("count", "rows", plain),
                        Column("median_abs_error", "median |err|", percent), Column("bias", "bias", signed_percent)],
             "table",
             title="Carry-over: the system and the model whose serving rows no fit has seen (B300, gpt-oss-120b)")
        show(repeats, [Column("metric", "metric", plain, "left"), Column("mode", "mode", plain, "left"),
                       Column("count", "run pairs", plain), Column("median_abs_error", "median |a/b - 1|", percent),
                       Column("p90_abs_error", "p90", percent)],
             "table", title="Repeat runs: one run of a configuration against another run of the very same inputs",
             caption="The floor under any model's error on these rows: the source lists some configurations more "
                     "than once, with different measurements (mostly disaggregated runs whose worker counts it "
                     "omits, so the runs may differ in what is not recorded).")
        show(side_by_side, [Column("systems", "systems", plain, "left", wrap=True),
                            Column("engine", "engine", plain, "left"),
                            Column("metric", "metric", plain, "left"), Column("count", "configs", plain, wide=1),
                            Column("measured_ratio", "measured", ratio),
                            Column("predicted_ratio", "predicted", ratio),
                            Column("median_abs_error", "median |err|", percent)],
             "table", title="Side by side: the same work (model, engine, formats, layout, workload) on two systems",
             caption="The ratios, measured and predicted, are medians over the configurations both systems ran; "
                     "median |err| is the median of |predicted ratio / measured ratio - 1| over them; both rows of a "
                     "pair are never-fitted rows. Predicted with the steady model, whatever --model-kind says, as "
                     "'parity compare' predicts the ratio it reports.")
    cases = [Column("case_id", "case", plain, "left", wrap=True), Column("system", "system", plain, "left"),
             Column("model", "model", plain, "left", wide=2), Column("metric", "metric", plain, "left", wide=1),
             Column("measured", "measured", scaled(1)), Column("predicted", "predicted", scaled(1)),
             Column("error", "error", signed_percent), Column("split", "split", plain, "left", wide=3)]
    if section in ("published", "all"):
        show(payload["published"], cases, "table",
             title="Published serving throughputs (split 'calibration': fitted the ROCm and CANN stack profiles; "
                   "scores by source and vendor: --by source, --by vendor)")
        yes_no = lambda v: "fits" if v else "no"  # noqa: E731
        show(payload["deployments"],
             [Column("case_id", "case", plain, "left", wrap=True), Column("system", "system", plain, "left"),
              Column("chips", "chips", plain), Column("weights", "weights", plain, "left", wide=1),
              Column("expected_fits", "published", yes_no, "left"), Column("predicted_fits", "parity", yes_no, "left"),
              Column("margin_bytes_per_chip", "GB/chip", scaled(1e9, 1)),
              Column("agrees", "agrees", plain, "left", wide=2)],
             "table", title="Published deployments: does the model fit where its engine's docs say it runs?",
             caption=f"{sum(d['agrees'] for d in agree)} of {len(agree)} agree. Smallest-footprint layout of that "
                     "many chips (pipeline stages across nodes), one 2,048-token sequence, the engine's memory "
                     "reserve; GB/chip: the margin, memory left per chip (margin_bytes_per_chip in --format json), "
                     "< 0: short by that much.")
    if section in ("training", "all"):
        show(payload["training"], cases, "table", title="Published training runs: tokens/s per chip",
             caption="; ".join(f"{s['split']}: median |err| {s['median_abs_error']:.1%} over {s['count']} rows"
                               for s in payload["training_scores"]))
    if section in ("calibration", "all"):
        for rows, columns, title, caption in calibration_tables(payload):
            show(rows, columns, "table", title=title, caption=caption)
    deliver("\n".join(shown), out)


def _refuse_unread(section: str, by: str, model_kind: str, fit: bool, fmt: str = "table") -> None:
    """Refuse, before any work, a typed --model-kind or --by the run would not read: --model-kind both under --section
    training ran the serving side by side for a minute instead, and --by left --section mlperf, percentiles and
    training unchanged. --model-kind prices the serving points (and the published throughputs, and the refits);
    --by groups the serving points' scores, or with source or vendor scores the published figures and training
    runs with each left out of every fit; it groups the table's and JSON's scores, not the CSV's rows (one a
    measured value) nor the accuracy page (`fmt`: the format written)."""
    typed = typed_options({"--model-kind": "model_kind", "--by": "by"})
    left_out = by in ("source", "vendor")
    if "--model-kind" in typed and model_kind == "both":
        why = ("--fit refits one model; name it (sim or steady)" if fit else
               f"--by {by} scores with one model; name it (sim or steady)" if left_out else
               "" if section in ("serving", "all") else f"--section {section} does not show them; leave it out")
        if why:
            raise ParityError(f"--model-kind both scores the serving points with each model side by side: {why}")
    elif "--model-kind" in typed and section not in ("serving", "published", "all") and not (fit or left_out):
        raise ParityError(f"--model-kind picks the model that prices the serving points and published throughputs: "
                          f"--section {section} does not read it; leave it out")
    if "--by" in typed:
        grouped = ("serving", "published", "training", "all") if left_out else ("serving", "all")
        if section not in grouped:
            what = (f"scores the published figures and training runs with each {by} left out of every fit"
                    if left_out else "groups the serving points' scores")
            raise ParityError(f"--by {by} {what}: --section {section} does not read it; leave it out")
        if model_kind == "both" and not left_out:
            raise ParityError(f"--by {by} with --model-kind both: the two models are scored side by side by engine "
                              f"and mode; leave out --by")
        if fmt in ("csv", "md") and not left_out:
            written = ("one row per measured value, each with its fields" if fmt == "csv" else
                       "the whole accuracy page (docs/accuracy.md), grouped as it is")
            raise ParityError(f"--by {by} groups the scores of the table and of --format json; --format {fmt} writes "
                              f"{written}: leave out --by, or give --format table or json")
def _refit_engines(rows: list[dict[str, str]], iterations: int, date: str) -> list[Refit]:
    with progress_bar(stages=True) as bar:
        def progress(label: str, total: int) -> Callable[[float], None]:
            task = bar.add_task(label, total=total)
            return lambda _: bar.advance(task)
        return refit_engines(rows, iterations, date, progress=progress)


def _user_files_said(fmt: str, with_user_files: bool) -> str:
    """The user's files in effect (PARITY_HOME: calibrations, engine profiles, bands), which every score below
    includes: said in one line on stderr, and as a note atop an accuracy page (--format md), which is refused
    without --with-user-files, so that a user's file never silently becomes parity's accuracy page; '' where none
    are in effect."""
    if with_user_files and fmt != "md":
        raise ParityError("--with-user-files marks the accuracy page: it needs --format md")
    mine = catalog.user_files()
    if not mine:
        return ""
    named = ", ".join(map(str, mine))
    if fmt == "md" and not with_user_files:
        raise ParityError(f"--format md writes parity's accuracy page, but the user's files in "
                          f"{catalog.user_dir()} would be scored with it ({named}): set PARITY_HOME to an empty "
                          "folder, or add --with-user-files to write a page marked as including them")
    click.echo(f"parity: these scores include the user's files, not parity's data alone: {named}", err=True)
    return f"> These scores include the user's own files, not parity's data alone: {named}\n\n"
def _models_side_by_side(rows: list[dict[str, str]], processes: int, fmt: str, out: Path | None,
                         ray: str | None = None) -> None:
    """The steady-state model and the simulator scored on the same never-fitted rows, per engine and mode."""
    scored = [r for r in rows if r.get("split") in ("holdout", "unseen")]
    found = {}
    for kind in MODEL_KINDS:
        errors = _never_fitted_errors(rows, kind, processes, ray)
        found[kind] = {(s.metric, dict(s.group).get("engine", "all"), dict(s.group).get("mode", "all")): s
                       for s in scores(errors, ["engine", "mode"]) + scores(errors)}
    table = []
    for key in sorted(found["steady"], key=lambda k: (k[0], k[1] == "all", k)):
        steady, sim = found["steady"][key], found["sim"].get(key)
        table.append({"metric": key[0], "engine": key[1], "mode": key[2], "count": steady.count,
                      "steady_median": steady.median_abs_error, "steady_p90": steady.p90_abs_error,
                      "sim_count": sim.count if sim else 0,
                      "sim_median": sim.median_abs_error if sim else float("nan"),
                      "sim_p90": sim.p90_abs_error if sim else float("nan"), "sim_bias": sim.bias if sim else float("nan")})
    columns = [Column("metric", "metric", plain, "left"), Column("engine", "engine", plain, "left"),
               Column("mode", "mode", plain, "left"), Column("count", "rows", plain),
               Column("steady_median", "steady median", percent), Column("steady_p90", "steady p90", percent),
               Column("sim_median", "sim median", percent), Column("sim_p90", "sim p90", percent),
               Column("sim_bias", "sim bias", percent)]
    emit(table, columns, fmt, title=f"Serving models side by side on {len(scored)} never-fitted rows",
         caption="Error = (predicted - measured) / measured; 'sim' is the step-level simulator (parity.simulate) "
                 "with the same engine profiles, 'steady' the closed-form model they were fitted for.",
         payload={"models": table}, out=out)
