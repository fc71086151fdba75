"""What `parity validate` reports, as a payload: the scores of the serving points, the published rows, deployments,
training runs and H200 calibration checks a section shows, and what the accuracy page adds."""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

from parity import catalog
from parity.calibration_check import (H100_SWEEP, LAUNCH_BOUND_S, KernelCheck, ServingCheck, campaign_check,
                                      kernel_check, reference_points, serving_check, sweep_points)
from parity.cli import progress_bar
from parity.crosscheck import compare_ratios, repeat_spread
from parity.crossvendor import crossvendor_scores, leave_one_out
from parity.crossvendor_training import training_scores
from parity.predict import Prediction, predict_rows
from parity.uncertainty import Intervals
from parity.validate import (SCORED_SPLITS, CaseError, case_errors, deployment_checks, flag_scores, infeasible_cases,
                             interval_coverage, published_errors, scores)
from parity.validate_training import training_case_errors

SPLITS_SHOWN = ("calibration", "holdout", "unseen")  # the splits of the by-split scores (reference rows: none)
# the keys of validation_payload's payload each section shows; every other key is the serving section's
_SECTION_KEYS = {"published": ("published", "deployments"), "training": ("training", "training_scores"),
                 "calibration": ("calibration_kernels", "calibration_campaigns", "calibration_serving")}

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

def _never_fitted_errors(rows: list[dict[str, str]], kind: str, processes: int, ray: str | None) -> list[CaseError]:
    """One model's errors on the never-fitted (holdout and unseen) rows, with a progress bar."""
    scored = [r for r in rows if r.get("split") in ("holdout", "unseen")]
    with progress_bar() as progress:
        task = progress.add_task(f"predicting never-fitted cases ({kind})", total=len(scored))
        predictions = predict_rows(scored, progress=lambda n: progress.advance(task, n), model_kind=kind,
                                   processes=processes, ray=ray if kind == "sim" else None)
    return case_errors(scored, predictions)
