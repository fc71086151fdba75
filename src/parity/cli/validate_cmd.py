"""`parity validate`: predictions against every measurement parity holds, with the fits behind them."""

from __future__ import annotations

import dataclasses
import datetime
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from parity import catalog
from parity.calibration_check import (H100_SWEEP, LAUNCH_BOUND_S, KernelCheck, ServingCheck, campaign_check,
                                      kernel_check, reference_points, serving_check, sweep_points)
from parity.cli import cli, deliver, emit, out_option, output_format, progress_bar, render_output, typed_options, \
    wide_option
from parity.cli.crossvendor_cmd import crossvendor_report
from parity.cli.crossvendor_cmd import fit_stacks as fit_stacks_
from parity.cli.mlperf_report import mlperf_report
from parity.cli.percentiles_report import percentiles_report
from parity.cli.refits import one_set, write_better
from parity.cli.values import Count, listed, ray_option
from parity.crosscheck import compare_ratios, repeat_spread
from parity.crossvendor import crossvendor_scores, leave_one_out
from parity.crossvendor_training import training_scores
from parity.errors import ParityError
from parity.predict import MODEL_KINDS, Prediction, predict_rows
from parity.report.accuracy_page import accuracy_markdown
from parity.report.tables import FORMATS, Column, percent, signed_percent, plain, ratio, scaled
from parity.uncertainty import Intervals, widening_words
from parity.fit import WRITE_TO, Refit, destination, refit_engines, refit_intervals
from parity.validate import (SCORED_SPLITS, CaseError, case_errors, deployment_checks, flag_scores, infeasible_cases,
                             infeasible_words, interval_coverage, published_errors, scores)
from parity.validate_training import training_case_errors

SPLITS_SHOWN = ("calibration", "holdout", "unseen")  # the splits of the by-split scores (reference rows: none)
SECTIONS = ("serving", "published", "training", "calibration", "percentiles", "mlperf", "all")
# the keys of validation_payload's payload each section shows; every other key is the serving section's
_SECTION_KEYS = {"published": ("published", "deployments"), "training": ("training", "training_scores"),
                 "calibration": ("calibration_kernels", "calibration_campaigns", "calibration_serving")}


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


def calibration_tables(payload: dict[str, Any]) -> list[tuple[list[Any], list[Column], str, str]]:
    """The H200 calibration checks for people, (rows, columns, title, caption) a table: kernel times on held-out
    points, across measurement campaigns, and on serving rows. Each fits 80 columns: the point counts give way
    first, and a campaign's name wraps at its space ("sweep (graphs)")."""
    three = [Column("roofline_error", "roofline", percent), Column("prior_error", "prior", percent),
             Column("measured_error", "measured", percent)]
    kernel_columns = [Column("kind", "kernel kind", plain, "left"),
                      Column("fitted_points", "fitted", plain, wide=1), Column("scored_points", "scored", plain,
                                                                               wide=1), *three]
    errors = ("roofline: every datasheet peak reached, no per-kernel cost; prior: parity's generic efficiencies for "
              "chips without measurements, themselves shaped by these H200 measurements; measured: ")
    return [
        (payload["calibration_kernels"], kernel_columns,
         "H200 calibration: median |err| of kernel times on held-out microbenchmark points",
         "fitted, scored: microbenchmark points; the calibration is fitted on one half of them (split by a hash of "
         "each label) and every calibration scored on the other. " + errors + "the calibration fitted from the "
         "roofline on the fitted half."),
        (payload["calibration_campaigns"],
         [Column("fitted_on", "fitted on", plain, "left", wrap=True),
          Column("scored_on", "scored on", plain, "left", wrap=True),
          Column("kernels", "kernels", plain, "left", wrap=True), *kernel_columns],
         "H200 calibration across measurement campaigns: median |err| of kernel times",
         "sweep: `parity calibrate` on a real H200 SXM, 282 points timed as CUDA-graph replays (its default) and "
         "again as eager launches (--eager), data/measurements/h200_parity_sweep*.json; reference: parity's H200 "
         "reference microbenchmarks, eager launches on another H200 SXM (503 points). Fitted from the roofline on "
         "all of one, scored on the other. Eager against eager, and replays against replays: all kernels; eager "
         f"against replays only kernels of {LAUNCH_BOUND_S * 1e6:.0f} us or more, since shorter ones time the launch "
         "(24-38 us eager, about 8 us replayed) as much as the chip. H100 sweep: the same sweep on an H100 SXM "
         "(h100_parity_sweep*.json), priced at the H100's peaks with the H200's efficiencies, as the Hopper family "
         "gives them to it. " + errors + "fitted on the H200 campaign named."),
        (payload["calibration_serving"], [Column("group", "system", plain, "left"),
                                          Column("metric", "metric", plain, "left"), Column("rows", "rows", plain),
                                          *three],
         "H200 calibration: median |err| on serving rows with each calibration in place",
         "hgx-h200: published throughputs (none fitted). hgx-h100: never-fitted serving points on the same Hopper "
         "die (H100 = H200 compute with less memory); the engine profiles were fitted on top of the generic prior, "
         "so there the calibration changes little. " + errors + "the H200's measured calibration."),
    ]


def serving_title(payload: dict[str, Any]) -> str:
    """The serving table's title: the never-fitted rows, how many of them are scored and how many are not (predicted
    infeasible), and the rows left out: 'Serving: 1,417 never-fitted rows (1,110 holdout, 307 unseen), 1,407 scored,
    10 predicted infeasible; 416 calibration rows excluded, 15 reference rows too'."""
    counted, infeasible = Counter(payload["rows"]), Counter(payload["infeasible_by_split"])
    never = sum(counted[split] for split in SCORED_SPLITS)
    unscored = sum(infeasible[split] for split in SCORED_SPLITS)
    return (f"Serving: {never:,} never-fitted rows ({', '.join(f'{counted[s]:,} {s}' for s in SCORED_SPLITS)}), "
            f"{payload['scored']:,} scored" + (f", {unscored:,} predicted infeasible" if unscored else "")
            + f"; {counted['calibration']:,} calibration rows excluded"
            + (f", {counted['reference']:,} reference rows too" if counted["reference"] else ""))


def serving_caption(payload: dict[str, Any], fields: list[str]) -> str:
    """The serving table's caption: what an error is, the rows not scored (predicted infeasible, by split; the
    infeasible column's counts, which a flag cannot know), why TTFT counts fewer rows, and the intervals' coverage."""
    covered, by_split = payload["interval_coverage"], payload["interval_coverage_by_split"]
    flagged = ("; the infeasible column counts each group's, but a flag's: an infeasible prediction names no flags"
               if fields == ["flag"] else "")

    def parts(metric: str) -> str:  # a part without rows of the metric (rows of no unseen system) has no coverage
        return ", ".join(f"{name} {by_split[part][metric]:.0%}" for part, name in (("check", "holdout half"),
                                                                                    ("unseen", "unseen"))
                         if metric in by_split.get(part, {}))
    coverage = ("; ".join(f"{m} {v:.0%} ({parts(m)})" for m, v in covered.items())
                or "no intervals yet (parity validate --fit)")
    return ("Error = (predicted - measured) / measured. 'unseen' rows (B300, gpt-oss-120b) were excluded from every "
            f"fit. {infeasible_words(payload['infeasible_by_split'])}{flagged}; a row measured on a cold server keeps "
            "no TTFT, so TTFT counts fewer rows than TPOT. 80% intervals, as predictions print them "
            f"({widening_words()}), contain the measured value on rows not used to build them: {coverage}")


def section_payload(payload: dict[str, Any], section: str) -> dict[str, Any]:
    """The part of validation_payload's `payload` that `section` shows ('all': the whole payload): the published,
    training or calibration keys of _SECTION_KEYS, or for serving every key no other section names."""
    if section == "all":
        return payload
    others = {key for keys in _SECTION_KEYS.values() for key in keys}
    keys = _SECTION_KEYS.get(section) or tuple(key for key in payload if key not in others)
    return {key: payload[key] for key in keys}


def _published_kind(model_kind: str) -> str:
    """The model that scores the published rows under `model_kind`: 'both' scores them with the simulator."""
    return "steady" if model_kind == "steady" else "sim"


def score_table(errors: list[CaseError], fields: list[str],
                infeasible: list[CaseError] | None = None) -> list[dict[str, object]]:
    """The score rows of `validate --by FIELDS` (never-fitted rows; ['flag']: by the kind of flag the predictions
    carry, validate.flag_scores), then every scored row together ("all scored" in each field). Each row counts the
    `infeasible` cases (validate.infeasible_cases) of its group, but a flag's: an infeasible prediction names none."""
    grouped = flag_scores(errors) if fields == ["flag"] else scores(errors, fields, infeasible=infeasible)
    return [s.row() for s in grouped] + [{**s.row(), **{f: "all scored" for f in fields}}
                                         for s in scores(errors, infeasible=infeasible)]


def validation_payload(rows: list[dict[str, str]], predictions: list[Prediction], fields: list[str], section: str,
                       model_kind: str, processes: int
                       ) -> tuple[list[dict[str, object]], dict[str, Any], list[CaseError]]:
    """What `parity validate` reports of `predictions` of `rows` (catalog.measurements(), priced by `model_kind`):
    (the score table by `fields`, the whole payload, the training errors). The published rows, deployments,
    training runs and H200 calibration checks of `section` are priced here."""
    errors = case_errors(rows, predictions)
    table_ = catalog.uncertainty_table(model_kind)
    stored = Intervals.from_table(table_) if table_ else None
    covered = interval_coverage(errors, stored) if stored else {}
    covered_by_split = ({part: interval_coverage(errors, stored, (part,)) for part in ("check", "unseen")}
                        if stored else {})
    counted = Counter(r["split"] for r in rows)
    unscored = infeasible_cases(rows, predictions)  # counted per score group; flag groups cannot know theirs
    infeasible = Counter(r["split"] for r, p in zip(rows, predictions) if not p.feasible)
    table = score_table(errors, fields, unscored)
    payload: dict[str, Any] = {
        "scores": table, "by_split": [s.row() for s in scores(errors, ["split"], SPLITS_SHOWN, unscored)],
        "by_flag": [s.row() for s in flag_scores(errors)],
        "rows": dict(counted), "infeasible": infeasible.total(), "infeasible_by_split": dict(infeasible),
        "scored": len({e.case_id for e in errors if e.split in SCORED_SPLITS}),
        "interval_coverage": covered, "interval_coverage_by_split": covered_by_split,
        "cases": [{"case_id": e.case_id, "split": e.split, "metric": e.metric, "measured": e.measured,
                   "predicted": e.predicted, "error": e.error} for e in errors]}
    payload["transfer"] = [s.row() for s in scores(errors, ["system", "model"], ("unseen",), unscored)]
    payload["repeat_spread"] = [s.row() for s in repeat_spread(rows)]
    payload["system_ratios"] = [r.row() for r in compare_ratios(rows)]  # priced as compare prices them: steady
    shown = section in ("published", "all")  # the published rows are simulated: priced only where shown
    published = published_errors(catalog.measurements("serving_published"), model_kind=_published_kind(model_kind),
                                 processes=processes) if shown else []
    payload["published"] = [_case(e) for e in published]
    checks = deployment_checks(catalog.measurements("deployments_published")) if shown else []
    payload["deployments"] = [{**dataclasses.asdict(c), "agrees": c.agrees} for c in checks]
    training = training_case_errors() if section in ("training", "all") else []
    payload["training"] = [_case(e) for e in training]
    payload["training_scores"] = [s.row() for s in scores(training, ["split"], splits=("calibration", "holdout"))]
    kernels, campaigns, serving = _calibration_checks() if section in ("calibration", "all") else ([], [], [])
    payload["calibration_kernels"] = [dataclasses.asdict(k) for k in kernels]
    payload["calibration_campaigns"] = campaigns
    payload["calibration_serving"] = [dataclasses.asdict(s) for s in serving]
    return table, payload, training


def page_payload(rows: list[dict[str, str]], errors: list[CaseError], payload: dict[str, Any], model_kind: str,
                 processes: int, iterations: int, ray: str | None = None) -> dict[str, Any]:
    """`validation_payload`'s payload with what the accuracy page adds: scores with each vendor and each source
    left out of every fit, and the other serving model's errors on the never-fitted rows."""
    published_kind = _published_kind(model_kind)
    never_fitted = [e for e in errors if e.split in ("holdout", "unseen")]  # already priced
    by_vendor = crossvendor_scores("vendor", min(iterations, 60), served_errors=never_fitted,
                                   model_kind=published_kind, processes=processes)
    by_vendor["training"] = training_scores("vendor")
    # the page lists each source left out, nothing else of crossvendor_scores' (before, after, pairs)
    left_out = leave_one_out(catalog.measurements("serving_published"), catalog.measurements("kernels_published"),
                             "source", min(iterations, 60), model_kind=published_kind, processes=processes)
    return {**payload, "by_vendor": by_vendor,
            "by_source": {"scores": sorted((s.row() for s in left_out),
                                           key=lambda r: (r["group"], r["kind"], r["setting"]))},
            "model_kind": model_kind,
            "other_errors": _never_fitted_errors(rows, "steady" if model_kind == "sim" else "sim", processes, ray)}


def _calibration_checks() -> tuple[list[KernelCheck], list[dict[str, object]], list[ServingCheck]]:
    chip, h100 = catalog.chip("nvidia-h200-sxm"), catalog.chip("nvidia-h100-sxm")
    graphs, eager, reference = sweep_points(), sweep_points(eager=True), reference_points()
    h100_graphs, h100_eager = sweep_points(name=H100_SWEEP), sweep_points(eager=True, name=H100_SWEEP)
    # eager against eager on every kernel; graph replays only on kernels too long to time the launch (against
    # replays too, every kernel); per kind of kernel when the GPU run is fitted, the total when the reference is;
    # the H100 rows check the Hopper family's inheritance (the H100 runs on the H200's calibration)
    campaigns = []
    for fitted_on, scored_on, fit, held, least, per_kind, scored in (
            ("sweep (graphs)", "reference", graphs, reference, LAUNCH_BOUND_S, True, chip),
            ("sweep (eager)", "reference", eager, reference, 0.0, True, chip),
            ("reference", "sweep (graphs)", reference, graphs, LAUNCH_BOUND_S, False, chip),
            ("reference", "sweep (eager)", reference, eager, 0.0, False, chip),
            ("sweep (eager)", "H100 sweep (eager)", eager, h100_eager, 0.0, True, h100),
            ("sweep (graphs)", "H100 sweep (graphs)", graphs, h100_graphs, 0.0, False, h100),
            ("reference", "H100 sweep (eager)", reference, h100_eager, 0.0, False, h100)):
        checks = campaign_check(chip, fit, held, min_seconds=least, scored_chip=scored)
        kernels = f">= {least * 1e6:.0f} us" if least else "all"
        campaigns += [{"fitted_on": fitted_on, "scored_on": scored_on, "kernels": kernels, **dataclasses.asdict(k)}
                      for k in (checks if per_kind else checks[-1:])]
    return (kernel_check(chip, reference),
            campaigns,
            serving_check(chip, catalog.calibration(chip), catalog.measurements("serving_published"),
                          catalog.measurements(), ["hgx-h100"]))


def _case(e) -> dict[str, object]:
    return {"case_id": e.case_id, "system": e.system, "model": e.model, "metric": e.metric, "measured": e.measured,
            "predicted": e.predicted, "error": e.error, "split": e.split}


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


def _never_fitted_errors(rows: list[dict[str, str]], kind: str, processes: int, ray: str | None) -> list[CaseError]:
    """One model's errors on the never-fitted (holdout and unseen) rows, with a progress bar."""
    scored = [r for r in rows if r.get("split") in ("holdout", "unseen")]
    with progress_bar() as progress:
        task = progress.add_task(f"predicting never-fitted cases ({kind})", total=len(scored))
        predictions = predict_rows(scored, progress=lambda n: progress.advance(task, n), model_kind=kind,
                                   processes=processes, ray=ray if kind == "sim" else None)
    return case_errors(scored, predictions)


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
