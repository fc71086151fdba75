"""Published latency percentiles (measurements/serving_percentiles.csv) against the step-level simulator.

Each row is one published benchmark run with its deployment and its client (prompt count, concurrency or
request rate). The simulator re-runs that benchmark and reports the same statistics: mean, median (p50),
p90 and p99 of TTFT, TPOT and ITL, wherever the source publishes them. The steady-state model predicts
means only; its mean TTFT and TPOT are scored on the same rows. No row is fitted on (split `holdout`).
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from parity.errors import ParityError
from parity.predict import Scenario, predict_scenarios, scenario_from_row, simulate_scenario
from parity.simulate import Benchmark, client_profile
from parity.validate import error_statistics

__all__ = ["METRICS", "STATISTICS", "MODEL_KINDS", "GROUPS", "PercentileError", "PercentileScore", "Infeasible",
           "benchmark_of_row", "percentile_errors", "percentile_scores"]

METRICS = ("ttft", "tpot", "itl")
STATISTICS = ("mean", "p50", "p90", "p99")
MODEL_KINDS = ("sim", "steady")


@dataclass(frozen=True, slots=True, kw_only=True)
class PercentileError:
    """One published statistic against its prediction: error = (predicted - measured) / measured."""

    case_id: str
    source_id: str
    vendor: str
    system: str
    engine: str
    model: str
    model_kind: str  # sim: the step-level simulator; steady: the steady-state model (means only)
    metric: str  # ttft, tpot, itl
    statistic: str  # mean, p50, p90, p99
    measured_s: float
    predicted_s: float

    @property
    def error(self) -> float:
        return (self.predicted_s - self.measured_s) / self.measured_s


@dataclass(frozen=True, slots=True, kw_only=True)
class PercentileScore:
    """Error statistics of one model, metric and statistic over the rows that publish it (fractions)."""

    model_kind: str
    metric: str
    statistic: str
    count: int
    group: str = ""  # the value of the field scores are grouped by (vendor, source_id ...), or "" for all
    median_abs_error: float
    p90_abs_error: float
    bias: float

    def row(self) -> dict[str, object]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class Infeasible:
    """A row a model could not price, with the reason it gives."""

    case_id: str
    model_kind: str
    reason: str


def _number(row: Mapping[str, str], key: str) -> float | None:
    text = (row.get(key) or "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError as err:
        raise ParityError(f"serving_percentiles.csv {row.get('case_id')}: {key} must be a number, "
                          f"got {text!r}") from err
    if not (math.isfinite(value) and value > 0):
        raise ParityError(f"serving_percentiles.csv {row.get('case_id')}: {key} must be > 0, got {text!r}")
    return value


def benchmark_of_row(row: Mapping[str, str], scenario: Scenario) -> Benchmark:
    """The benchmark a row publishes: its client profile (`client`), prompt count (`num_prompts`; default the
    profile's) and, for open-loop runs, `request_rate` [requests/s] (Poisson arrivals, as vLLM's and SGLang's
    clients draw them at their default burstiness); `concurrency` caps an open loop's requests in flight
    (--max-concurrency, Arrivals.max_concurrency). A row's
    `random_range_ratio` replaces the profile's length range."""
    profile = client_profile(row.get("client") or "vllm")
    if row.get("random_range_ratio"):
        profile = dataclasses.replace(profile, range_ratio=scenario.random_range_ratio)
    prompts, rate = _number(row, "num_prompts"), _number(row, "request_rate")
    return Benchmark(isl=scenario.isl, osl=scenario.osl, concurrency=scenario.concurrency, client=profile,
                     num_prompts=int(prompts) if prompts else None, request_rate=rate,
                     max_concurrency=scenario.concurrency if rate else None)


def _published(row: Mapping[str, str]) -> dict[tuple[str, str], float]:
    """(metric, statistic) -> measured seconds, for every statistic the row publishes."""
    out = {}
    for metric in METRICS:
        for statistic in STATISTICS:
            value = _number(row, f"measured_{metric}_{statistic}_s")
            if value is not None:
                out[(metric, statistic)] = value
    return out


def _latency_key(metric: str, statistic: str) -> str:
    """The simulator's name of a statistic (parity.simulate.LATENCY_KEYS): ttft_s, ttft_p99_s, ..."""
    return f"{metric}_s" if statistic == "mean" else f"{metric}_{statistic}_s"


def percentile_errors(rows: Sequence[Mapping[str, str]], model_kinds: Sequence[str] = MODEL_KINDS
                      ) -> tuple[list[PercentileError], list[Infeasible]]:
    """Every published statistic of every row against the simulator (all statistics) and the steady-state
    model (mean TTFT and TPOT), and the rows each model could not price."""
    unknown = set(model_kinds) - set(MODEL_KINDS)
    if unknown:
        raise ParityError(f"model kinds are {', '.join(MODEL_KINDS)}; got {', '.join(sorted(unknown))}")
    errors: list[PercentileError] = []
    infeasible: list[Infeasible] = []
    for row in rows:
        published = _published(row)
        try:
            scenario = scenario_from_row(row)
        except ParityError as err:
            infeasible += [Infeasible(case_id=row["case_id"], model_kind=k, reason=str(err)) for k in model_kinds]
            continue

        def record(kind: str, predicted: Mapping[tuple[str, str], float]) -> None:
            for (metric, statistic), measured in published.items():
                if (metric, statistic) in predicted:
                    errors.append(PercentileError(
                        case_id=row["case_id"], source_id=row.get("source_id", ""), vendor=row.get("vendor", ""),
                        system=row["system"], engine=row.get("engine") or "generic", model=row["model"],
                        model_kind=kind, metric=metric, statistic=statistic, measured_s=measured,
                        predicted_s=float(predicted[(metric, statistic)])))

        if "sim" in model_kinds:
            try:
                sim = simulate_scenario(scenario, benchmark_of_row(row, scenario))
            except (ParityError, ValueError, ArithmeticError) as err:
                infeasible.append(Infeasible(case_id=row["case_id"], model_kind="sim", reason=str(err)))
            else:
                record("sim", {key: sim.latency[_latency_key(*key)] for key in published})
        if "steady" in model_kinds:
            p = predict_scenarios([scenario])[0]
            if p.feasible:
                record("steady", {("ttft", "mean"): p.ttft_s, ("tpot", "mean"): p.tpot_s})
            else:
                infeasible.append(Infeasible(case_id=row["case_id"], model_kind="steady", reason=p.note))
    return errors, infeasible


GROUPS = ("vendor", "source_id", "system", "engine", "model")


def percentile_scores(errors: Iterable[PercentileError], by: str = "") -> list[PercentileScore]:
    """Median and p90 absolute error and median signed error per model, metric and statistic, and per
    value of `by` (one of GROUPS) where given."""
    if by and by not in GROUPS:
        raise ParityError(f"percentile scores group by one of {', '.join(GROUPS)}; got {by!r}")
    groups: dict[tuple[str, str, str, str], list[float]] = defaultdict(list)
    for e in errors:
        groups[(getattr(e, by) if by else "", e.model_kind, e.metric, e.statistic)].append(e.error)
    order = {name: i for i, name in enumerate(MODEL_KINDS + METRICS + STATISTICS)}
    out = []
    for (group, kind, metric, statistic), values in sorted(
            groups.items(), key=lambda kv: (kv[0][0], *[order[k] for k in kv[0][1:]])):
        out.append(PercentileScore(model_kind=kind, metric=metric, statistic=statistic, count=len(values), group=group,
                                   **error_statistics(values)))
    return out
