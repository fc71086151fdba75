"""Checks on the measured serving points that need no fit: how well the source's own repeat runs
agree (the floor under any model's error), and how well parity predicts one system against another
on identical work (what `parity compare` is for)."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from parity.dtypes import stored_format
from parity.predict import CASE_COLUMNS, OPTIONAL_COLUMNS, Prediction, predict_rows
from parity.validate import METRICS, SCORED_SPLITS, Score, mode_label

__all__ = ["repeat_spread", "SystemRatio", "system_ratios", "compare_ratios"]

# every input of a serving case but its id: rows equal on these ran the same work
_INPUTS = (*CASE_COLUMNS[1:], *OPTIONAL_COLUMNS)
_BUT_SYSTEM = tuple(c for c in _INPUTS if c != "system")
# a repeat run is the same work on the same engine build: two versions of an engine are two configurations
_REPEAT = (*_INPUTS, "engine_version")


def _key(row: Mapping[str, str], columns: Sequence[str]) -> tuple[str, ...]:
    return tuple(str(row.get(c) or "") for c in columns)


def _work(row: Mapping[str, str]) -> tuple[str, ...]:
    """The work a row ran, whatever the system: its inputs but the system, weights named by how they are
    stored (one checkpoint runs with each chip's kernels: gpt-oss's MXFP4 experts as W4A8 on Blackwell and
    W4A16 on Hopper)."""
    return tuple(stored_format(v) if c in ("weights", "moe_weights") and v else v
                 for c, v in zip(_BUT_SYSTEM, _key(row, _BUT_SYSTEM)))


def _measured(row: Mapping[str, str], metric: str) -> float:
    return float(row.get(f"measured_{metric}") or "nan")


def repeat_spread(rows: Sequence[Mapping[str, str]]) -> list[Score]:
    """How well one run of a configuration predicts another run of the very same configuration: over
    every ordered pair of rows whose inputs (all case columns, MTP included) and engine version are
    identical but which were measured separately, |a / b - 1| per metric and mode. The floor under any
    model's error."""
    runs: dict[tuple[str, ...], list[Mapping[str, str]]] = defaultdict(list)
    for row in rows:
        runs[_key(row, _REPEAT)].append(row)
    spread: dict[tuple[str, str], list[float]] = defaultdict(list)
    for same in runs.values():
        for metric in METRICS:
            values = [_measured(r, metric) for r in same]
            for a, b in itertools.permutations([v for v in values if v > 0], 2):
                spread[(metric, mode_label(same[0]))].append(abs(a / b - 1.0))
                spread[(metric, "all")].append(abs(a / b - 1.0))
    return [Score(metric=metric, group=(("mode", mode),), count=len(v),
                  median_abs_error=float(np.median(v)), p90_abs_error=float(np.percentile(v, 90)), bias=0.0)
            for (metric, mode), v in sorted(spread.items())]


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemRatio:
    """One system against another on identical work (same model, engine, stored formats, layout, workload):
    medians over the configurations both ran of the measured and the predicted ratio b / a of one metric,
    and of |predicted ratio / measured ratio - 1|."""

    system_a: str
    system_b: str
    engine: str
    metric: str
    count: int
    measured_ratio: float
    predicted_ratio: float
    median_abs_error: float

    def row(self) -> dict[str, object]:
        return {"systems": f"{self.system_b} / {self.system_a}", "engine": self.engine, "metric": self.metric,
                "count": self.count, "measured_ratio": self.measured_ratio, "predicted_ratio": self.predicted_ratio,
                "median_abs_error": self.median_abs_error}


def system_ratios(rows: Sequence[Mapping[str, str]], predictions: Sequence[Prediction],
                  splits: Sequence[str] = SCORED_SPLITS) -> list[SystemRatio]:
    """Every pair of systems that ran identical configurations, per engine and metric, over rows of
    `splits` (by default the never-fitted ones, so neither side of a ratio was fitted)."""
    work: dict[tuple[str, ...], dict[str, list[tuple[Mapping[str, str], Prediction]]]] = defaultdict(
        lambda: defaultdict(list))
    for row, p in zip(rows, predictions):
        if p.feasible and row.get("split", "holdout") in splits:
            work[_work(row)][row["system"]].append((row, p))
    found: dict[tuple[str, str, str, str], list[tuple[float, float]]] = defaultdict(list)
    for by_system in work.values():
        for a, b in itertools.combinations(sorted(by_system), 2):
            for (ra, pa), (rb, pb) in itertools.product(by_system[a], by_system[b]):
                for metric in METRICS:
                    ma, mb = _measured(ra, metric), _measured(rb, metric)
                    if ma > 0 and mb > 0:
                        found[(a, b, ra.get("engine") or "generic", metric)].append(
                            (mb / ma, float(getattr(pb, metric)) / float(getattr(pa, metric))))
    out = []
    for (a, b, engine, metric), pairs in sorted(found.items()):
        measured, predicted = np.array(pairs).T
        out.append(SystemRatio(system_a=a, system_b=b, engine=engine, metric=metric, count=len(pairs),
                               measured_ratio=float(np.median(measured)), predicted_ratio=float(np.median(predicted)),
                               median_abs_error=float(np.median(np.abs(predicted / measured - 1.0)))))
    return out


def compare_ratios(rows: Sequence[Mapping[str, str]], splits: Sequence[str] = SCORED_SPLITS) -> list[SystemRatio]:
    """`system_ratios` as `parity compare` prices them, with the steady model, whatever model scores the rows
    themselves; only the rows of `splits` whose work another system also ran are priced (a few dozen)."""
    systems: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for row in rows:
        if row.get("split", "holdout") in splits:
            systems[_work(row)].add(row["system"])
    paired = [row for row in rows if row.get("split", "holdout") in splits and len(systems[_work(row)]) > 1]
    return system_ratios(paired, predict_rows(paired, model_kind="steady"), splits)
