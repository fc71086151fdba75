"""Measured against predicted, case by case: the relative error of each (row, metric), its scores per group and
flag kind, and the 80% intervals built from half the holdout rows and checked on the rest."""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from parity import catalog
from parity.flags import Flag
from parity.predict import Prediction
from parity.uncertainty import Intervals, build_intervals, coverage, interval_kind, widening

METRICS = ("ttft_s", "tpot_s")
SCORED_SPLITS = ("holdout", "unseen")
SPLIT_ORDER = ("calibration", "holdout", "unseen", "reference")  # as tables list the splits

def infeasible_words(by_split: Mapping[str, int]) -> str:
    """The serving rows predicted infeasible, in words, by split (SPLIT_ORDER):
    '14 rows predicted infeasible are not scored (4 calibration, 10 holdout)'."""
    total = sum(by_split.values())
    parts = ", ".join(f"{by_split[split]:,} {split}" for split in SPLIT_ORDER if by_split.get(split))
    said = "1 row predicted infeasible is" if total == 1 else f"{total:,} rows predicted infeasible are"
    return f"{said} not scored" + (f" ({parts})" if parts else "")

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
