"""Measured against predicted, row by row: each row's relative error, the scores per group and split, and the 80%
intervals built from and checked on the held-out halves."""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from parity import catalog
from parity.errors import ParityError
from parity.flags import Flag
from parity.predict import Prediction, Scenario, scenario_from_row
from parity.uncertainty import Intervals, build_intervals, coverage, interval_kind, widening


METRICS = ("ttft_s", "tpot_s")
PUBLISHED_METRICS = ("output_tokens_per_s_per_worker", "output_tokens_per_s_per_user", "prefill_tokens_per_s_per_chip",
                     "decode_tokens_per_s_per_chip")
# published figures of one fixed-batch step, measured with no clients: never a closed loop's
STEP_METRICS = ("prefill_tokens_per_s_per_chip", "decode_tokens_per_s_per_chip")
SCORED_SPLITS = ("holdout", "unseen")
SPLIT_ORDER = ("calibration", "holdout", "unseen", "reference")  # as tables list the splits

# engine parameters the fit may move, with their bounds (the prior lies inside)
FIT_PARAMETERS: dict[str, tuple[float, float]] = {
    "kernel_overhead_s": (0.5e-6, 20e-6),
    "step_overhead_s": (0.05e-3, 8e-3),
    "ttft_overhead_s": (1e-3, 0.03),
    "burstiness": (0.05, 20.0),
    "gemm_scale": (0.3, 1.2),
    "memory_scale": (0.5, 1.05),
    "prefill_scale": (0.5, 4.0),
    "arrival_sync": (0.01, 1.0),
    "first_wave": (0.001, 0.5),
    "first_token_steps": (0.5, 3.0),
    "collective_latency_s": (1e-6, 40e-6),
}
# fitted apart, on disaggregated rows whose worker counts the data does not give
SIZING_PARAMETERS: dict[str, tuple[float, float]] = {
    "disagg_ttft_overhead_s": (1e-3, 5.0),
    "disagg_decode_batch": (2.0, 1024.0),
    "disagg_prefill_utilization": (0.2, 0.99),
}
BOUNDS = FIT_PARAMETERS | SIZING_PARAMETERS
# a fit moves parameters only on as many rows as it moves parameters, and never on fewer than MIN_FIT_ROWS: with fewer
# the loss is flat along some direction and Nelder-Mead wanders there (vLLM's hand-off and sizing, 3 parameters on
# 1 row, went 15 ms -> 20 ms -> 1.95 s in two refits); 3 because the loss is a mean absolute log error, so a
# one-parameter fit lands on the median of what its rows ask, which one outlying run sets alone with 2 rows, not with 3
MIN_FIT_ROWS = 3


def unfitted(rows: int, parameters: int) -> str:
    """'' when `rows` rows can fit `parameters` parameters (MIN_FIT_ROWS), else why not: '1 row for 3 parameters'."""
    if rows >= max(parameters, MIN_FIT_ROWS):
        return ""
    return f"{_rows(rows)} for {parameters} parameter{'' if parameters == 1 else 's'}"


def _rows(count: int) -> str:
    return f"{count} row{'' if count == 1 else 's'}"


def infeasible_words(by_split: Mapping[str, int]) -> str:
    """The serving rows predicted infeasible, in words, by split (SPLIT_ORDER):
    '14 rows predicted infeasible are not scored (4 calibration, 10 holdout)'."""
    total = sum(by_split.values())
    parts = ", ".join(f"{by_split[split]:,} {split}" for split in SPLIT_ORDER if by_split.get(split))
    said = "1 row predicted infeasible is" if total == 1 else f"{total:,} rows predicted infeasible are"
    return f"{said} not scored" + (f" ({parts})" if parts else "")


def sizing_rows(rows: Iterable[Mapping[str, str]]) -> dict[str, int]:
    """How many disaggregated rows bear on each of SIZING_PARAMETERS: the hand-off on every one, the decode batch on
    those without a decode worker count, the prefill utilisation on those without a prefill worker count (a row
    that gives a count is priced with it, whatever the sizing parameter)."""
    disagg = [r for r in rows if r.get("mode") == "disagg"]
    return {"disagg_ttft_overhead_s": len(disagg),
            "disagg_decode_batch": sum(not r.get("decode_workers") for r in disagg),
            "disagg_prefill_utilization": sum(not r.get("prefill_workers") for r in disagg)}


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseError:
    """One measured value against its prediction: error = (predicted - measured) / measured."""

    case_id: str
    split: str
    system: str
    engine: str
    model: str
    mode: str
    metric: str
    measured: float
    predicted: float
    engine_version: str = ""
    flags: tuple[Flag, ...] = ()  # the prediction's flags: where the case lies outside what was checked
    # the 80% interval the prediction printed for the metric (published rows; NaN where it has none: prefill steps)
    low: float = float("nan")
    high: float = float("nan")

    @property
    def error(self) -> float:
        return (self.predicted - self.measured) / self.measured

    @property
    def inside(self) -> bool | None:
        """Whether the measured value lies inside the printed interval; None where there is none."""
        return None if self.low != self.low or self.high != self.high else self.low <= self.measured <= self.high

    @property
    def flagged(self) -> bool:
        """Outside what the model was checked on: its interval is widened (uncertainty.widening)."""
        return bool(self.flags)


@dataclass(frozen=True, slots=True, kw_only=True)
class Score:
    """Error statistics of one metric over a group of scored rows (fractions, not percent)."""

    metric: str
    group: tuple[tuple[str, str], ...]
    count: int
    median_abs_error: float
    p90_abs_error: float
    bias: float
    # the group's rows with a measured value of the metric whose prediction is infeasible (not in `count`); None
    # where the score cannot know them (rows without a prediction, as repeat runs, or one that names no flags)
    infeasible: int | None = None

    def row(self) -> dict[str, object]:
        """The score as a JSON record: its group's fields by name; `infeasible` only where it is known."""
        known = {} if self.infeasible is None else {"infeasible": self.infeasible}
        return {"metric": self.metric, **dict(self.group), "count": self.count,
                "median_abs_error": self.median_abs_error, "p90_abs_error": self.p90_abs_error, "bias": self.bias,
                **known}


def mode_label(row: Mapping[str, str]) -> str:
    """agg, disagg, or disagg (workers inferred) when the row does not give both its worker counts."""
    if row.get("mode") != "disagg":
        return "agg"
    return "disagg" if row.get("prefill_workers") and row.get("decode_workers") else "disagg (workers inferred)"


def case_errors(rows: Sequence[Mapping[str, str]], predictions: Sequence[Prediction]) -> list[CaseError]:
    """Every (row, metric) pair with a measured value and a feasible prediction."""
    return _measured_cases(rows, predictions, feasible=True)


def infeasible_cases(rows: Sequence[Mapping[str, str]], predictions: Sequence[Prediction]) -> list[CaseError]:
    """Every (row, metric) pair with a measured value whose prediction is infeasible (predicted NaN): what
    case_errors leaves out, for `scores` to count per group, never to score."""
    return _measured_cases(rows, predictions, feasible=False)


def _measured_cases(rows: Sequence[Mapping[str, str]], predictions: Sequence[Prediction],
                    feasible: bool) -> list[CaseError]:
    """The (row, metric) pairs with a measured value whose prediction's feasibility is `feasible`."""
    out = []
    for row, p in zip(rows, predictions):
        if bool(p.feasible) != feasible:
            continue
        for metric in METRICS:
            measured = float(row.get(f"measured_{metric}") or "nan")
            if not measured > 0:
                continue
            out.append(CaseError(case_id=row["case_id"], split=row.get("split", "holdout"), system=row["system"],
                                 engine=row.get("engine") or "generic", model=row["model"], mode=mode_label(row),
                                 metric=metric, measured=measured, predicted=float(getattr(p, metric)),
                                 engine_version=row.get("engine_version") or "unknown", flags=p.flags))
    return out


def flag_kinds(flags: Sequence[Flag]) -> tuple[str, ...]:
    """The kinds of a prediction's flags, once each, e.g. "KV-bound run", "features never validated"."""
    return tuple(dict.fromkeys(f.kind for f in flags))


def flag_scores(errors: Iterable[CaseError], splits: Sequence[str] = SCORED_SPLITS) -> list[Score]:
    """Scores per metric and flag kind (flag_kinds; a row with several flags counts under each, "none" for the
    rows without one): what a printed flag means for the error to expect."""
    groups: dict[tuple[str, str], list[float]] = defaultdict(list)
    for e in errors:
        if e.split in splits:
            for kind in flag_kinds(e.flags) or ("none",):
                groups[(e.metric, kind)].append(e.error)
    return [Score(metric=metric, group=(("flag", kind),), count=len(values), **error_statistics(values))
            for (metric, kind), values in sorted(groups.items())]


def error_statistics(signed: Sequence[float]) -> dict[str, float]:
    """median_abs_error, p90_abs_error and bias (median signed error) of signed relative errors: the
    three figures every score in parity reports (NaN of no errors: a group whose every row was infeasible)."""
    v = np.asarray(signed, dtype=float)
    if not v.size:
        return {"median_abs_error": math.nan, "p90_abs_error": math.nan, "bias": math.nan}
    return {"median_abs_error": float(np.median(np.abs(v))), "p90_abs_error": float(np.percentile(np.abs(v), 90)),
            "bias": float(np.median(v))}


def scores(errors: Iterable[CaseError], by: Sequence[str] = (), splits: Sequence[str] = SCORED_SPLITS,
           infeasible: Iterable[CaseError] | None = None) -> list[Score]:
    """Median and p90 absolute relative error and median signed error (bias) per metric and group. `infeasible`
    (infeasible_cases): each group counts its own, a group of infeasible rows alone scoring none (count 0,
    NaN statistics); without it the scores do not know them (Score.infeasible None)."""
    def group(e: CaseError) -> tuple[str, tuple[tuple[str, str], ...]]:
        return e.metric, tuple((name, str(getattr(e, name))) for name in by)

    groups: dict[tuple[str, tuple[tuple[str, str], ...]], list[float]] = defaultdict(list)
    for e in errors:
        if e.split in splits:
            groups[group(e)].append(e.error)
    unscored = Counter(group(e) for e in infeasible or () if e.split in splits)
    return [Score(metric=metric, group=key, count=len(values), **error_statistics(values),
                  infeasible=None if infeasible is None else unscored[(metric, key)])
            for (metric, key), values in sorted({**{k: [] for k in unscored}, **groups}.items())]


def scenarios_of(rows: Sequence[Mapping[str, str]]) -> list[tuple[Mapping[str, str], Scenario]]:
    """(row, scenario) for every row that reads as a scenario."""
    out = []
    for row in rows:
        try:
            out.append((row, scenario_from_row(row)))
        except ParityError:
            continue
    return out


def interval_split(case_id: str) -> str:
    """Held-out rows are halved by a hash of their id: 'build' rows make the intervals, 'check' rows
    measure their coverage (the intervals never see them)."""
    return "build" if int(hashlib.sha256(case_id.encode()).hexdigest()[:8], 16) % 2 == 0 else "check"


def case_kind(e: CaseError) -> str:
    """The kind of case of a measured row's error, as its prediction's interval takes it (uncertainty.interval_kind)."""
    return interval_kind(e.mode, catalog.model(e.model))


def intervals_from(errors: Iterable[CaseError], date: str) -> Intervals:
    """80% bands from the 'build' half of the holdout rows; coverage measured on the 'check' half and
    on the unseen rows."""
    errors = list(errors)
    build = [(e.metric, case_kind(e), math.log(e.predicted / e.measured)) for e in errors
             if e.split == "holdout" and interval_split(e.case_id) == "build"]
    made = build_intervals(build, date, "10th-90th percentiles of ln(predicted/measured) over half of the holdout "
                                        "rows (hash of case id), per metric and mode, MLA models apart "
                                        "(uncertainty.BANDED_APART)")
    return dataclasses.replace(made, coverage=interval_coverage(errors, made))


def interval_coverage(errors: Iterable[CaseError], intervals: Intervals,
                      splits: Sequence[str] = ("check", "unseen")) -> dict[str, float]:
    """Coverage of the intervals, as predictions print them (widened where flagged), on rows that did
    not build them: the 'check' half of the holdout rows and the unseen rows, or those of `splits`."""
    def part(e: CaseError) -> str:
        return e.split if e.split != "holdout" else interval_split(e.case_id)
    checked = [(e.metric, case_kind(e), e.predicted, e.measured, widening(e.flags)) for e in errors
               if part(e) in splits]
    return coverage(intervals, checked)
