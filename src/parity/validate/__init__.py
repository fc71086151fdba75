"""Measured against predicted: relative errors per metric and group, and the fit of engine profiles.

Scores count only rows never used to fit anything (`holdout` and `unseen`); `calibration` rows are
marked and left out of every score. Engine profiles are fitted on calibration rows alone by
minimising the mean absolute log error of TTFT and TPOT (Nelder-Mead in log space).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import tomllib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from parity import catalog, tomlwrite
from parity.catalog.engine_file import SECTION_COMMENTS, key_path, sectioned
from parity.deployments import DeploymentCheck, deployment_checks
from parity.engine import EngineProfile
from parity.errors import ParityError
from parity.flags import Flag
from parity.hardware import Calibration, package_id
from parity.ops import Batch
from parity.optimize import nelder_mead
from parity.predict import Prediction, Scenario, deployment, predict_scenarios, scenario_from_row
from parity.predict.columns import flag
from parity.step import step_cost
from parity.uncertainty import Intervals, build_intervals, coverage, interval_kind, widening

__all__ = ["METRICS", "CaseError", "Score", "case_errors", "infeasible_cases", "scores", "fit_engine", "FIT_PARAMETERS",
           "SIZING_PARAMETERS", "fit_loss", "MIN_FIT_ROWS", "unfitted", "sizing_rows", "scenarios_of", "intervals_from",
           "interval_coverage", "interval_split",
           "published_errors", "closed_loop", "DeploymentCheck", "deployment_checks", "mode_label",
           "error_statistics", "flag_kinds", "flag_scores", "infeasible_words", "SCORED_SPLITS"]

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


TRIM = 0.1  # share of the worst residuals a fit ignores (measurement outliers such as 7-second TTFT spikes)


def fit_loss(pairs: Sequence[tuple[Mapping[str, str], Scenario]], engine: EngineProfile) -> float:
    """Trimmed mean absolute log error of TTFT and TPOT under an engine profile (infeasible: 3); the
    worst TRIM of residuals per metric are left out so that outliers do not steer the fit. A row without a
    measured value of a metric counts for the other only."""
    scenarios = [s.with_engine(engine) for _, s in pairs]
    predictions = predict_scenarios(scenarios)
    losses: dict[str, list[float]] = {metric: [] for metric in METRICS}
    for (row, _), p in zip(pairs, predictions):
        for metric in METRICS:
            measured = float(row.get(f"measured_{metric}") or "nan")
            if not measured > 0:  # a metric the row does not keep (e.g. TTFT measured on a cold server)
                continue
            value = float(getattr(p, metric))
            losses[metric].append(abs(math.log(value / measured)) if p.feasible and value > 0 else 3.0)
    kept = [np.sort(v)[: max(1, int(round(len(v) * (1 - TRIM))))] for v in losses.values() if v]
    return float(np.mean([np.mean(k) for k in kept])) if kept else 0.0


def fit_engine(engine: EngineProfile, pairs: Sequence[tuple[Mapping[str, str], Scenario]],
               parameters: Sequence[str] = tuple(FIT_PARAMETERS), iterations: int = 150,
               progress: Callable[[float], None] | None = None) -> tuple[EngineProfile, float, float]:
    """The engine profile that best fits the calibration pairs: (fitted, loss before, loss after). With too few
    pairs for the parameters (`unfitted`), `engine` as it is, its loss before and after alike."""
    if not parameters or unfitted(len(pairs), len(parameters)):
        before = fit_loss(pairs, engine)
        return engine, before, before
    lows = np.log([BOUNDS[p][0] for p in parameters])
    highs = np.log([BOUNDS[p][1] for p in parameters])

    def profile_at(x: np.ndarray) -> EngineProfile:
        values = np.exp(np.clip(x, lows, highs))
        return dataclasses.replace(engine, **{p: float(v) for p, v in zip(parameters, values)})

    def objective(x: np.ndarray) -> float:
        loss = fit_loss(pairs, profile_at(x))
        if progress:
            progress(loss)
        return loss + float(np.sum(np.maximum(x - highs, 0) + np.maximum(lows - x, 0)))

    def initial(p: str) -> float:
        value = getattr(engine, p)
        return 5e-6 if value is None else min(max(value, BOUNDS[p][0] * 1.01), BOUNDS[p][1])

    start = np.log([initial(p) for p in parameters])
    before = fit_loss(pairs, engine)
    best, after = nelder_mead(objective, start, iterations=iterations)
    return profile_at(best), before, after


# the last words of the steady fit's method; a refit keeps what a file's method says after them (the simulator's fits)
_STEADY_METHOD_END = "the data does not give"


def engine_toml(engine: EngineProfile, rows: int, before: float, after: float, date: str, **identity: str) -> str:
    """The TOML text of a fitted engine profile in its sections (catalog.engine_file), with its method and the
    fit's figures; `identity` replaces top-level keys (a stack profile's method and source)."""
    return tomlwrite.document(sectioned(_engine_table(engine, rows, before, after, date) | identity),
                              comments=SECTION_COMMENTS)


def engine_refit_text(text: str, engine: EngineProfile, rows: int, before: float, after: float, date: str,
                      sizing: Mapping[str, int] | None = None) -> str:
    """`text` (the engine's current file) with the steady fit's parameters (FIT_PARAMETERS, SIZING_PARAMETERS),
    date and method rewritten in place, each in its section (one the file lacks added there): comments, the
    simulator's fields and their sources stay as they are. `sizing`: the rows that bore on each sizing parameter
    (sizing_rows). The method's account of the fits after the steady one (the simulator's) is kept behind the new
    figures."""
    table = _engine_table(engine, rows, before, after, date, sizing)
    names = [n.removesuffix("_s") for n in (*FIT_PARAMETERS, *SIZING_PARAMETERS)]
    values = {k: table[k] for k in ("date", "method", *names) if k in table}
    old = str(tomllib.loads(text).get("method", ""))
    tail = old.partition(_STEADY_METHOD_END)[2]
    values["method"] = f"{values['method']}{tail}"
    return tomlwrite.replace_values(text, {key_path(k): v for k, v in values.items()}, add=True)


def _steady_method(rows: int, before: float, after: float, sizing: Mapping[str, int]) -> str:
    """The steady fit's method: what was refitted on how many rows, and what was not (unfitted), ending with
    _STEADY_METHOD_END."""
    short = unfitted(rows, len(FIT_PARAMETERS))
    kept_main = f" (not refitted: {short}; the stored values kept)" if short else ""
    main = (f"Nelder-Mead fit of {', '.join(FIT_PARAMETERS)}{kept_main} "
            f"on {rows} calibration rows of serving_aiconfigurator.csv (aggregated and disaggregated with known "
            f"workers), minimising the mean absolute log error of TTFT and TPOT: {before:.3f} before, "
            f"{after:.3f} after")
    moved = [p for p in SIZING_PARAMETERS if not unfitted(sizing.get(p, 0), 1)]
    kept = [p for p in SIZING_PARAMETERS if p not in moved]
    fitted = f"{', '.join(moved)} refitted on them" if moved else "nothing refitted"
    left = (f"; {', '.join(f'{p} ({_rows(sizing.get(p, 0))})' for p in kept)} not refitted: fewer than "
            f"{MIN_FIT_ROWS} rows bear on a parameter, the stored values kept") if kept else ""
    counts = ", ".join(f"{sizing.get(p, 0)} for {p}" for p in SIZING_PARAMETERS)
    return (f"{main}; then on the calibration rows of disaggregated runs ({counts}: "
            f"the hand-off every one, the sizing those without the worker count): {fitted}{left}; the sizing prices "
            f"runs whose worker counts {_STEADY_METHOD_END}")


def _engine_table(engine: EngineProfile, rows: int, before: float, after: float, date: str,
                  sizing: Mapping[str, int] | None = None) -> dict[str, object]:
    method = _steady_method(rows, before, after, sizing or {})
    table: dict[str, object] = {
        "id": engine.id, "name": engine.name, "date": date, "measured": True, "method": method,
        "source": "parity validate --model-kind steady --fit (parity data: measurements/serving_aiconfigurator.csv)",
        **({"assumptions": engine.assumptions} if engine.assumptions else {}),
        **({"stack": engine.stack, "base": engine.base, "rows": list(engine.rows)} if engine.base else {}),
        "kernel_overhead": f"{engine.kernel_overhead_s * 1e6:.3f} us",
        "step_overhead": f"{engine.step_overhead_s * 1e3:.4f} ms",
        "ttft_overhead": f"{engine.ttft_overhead_s * 1e3:.3f} ms",
        **({"collective_latency": f"{engine.collective_latency_s * 1e6:.3f} us"}
           if engine.collective_latency_s is not None else {}),
        "disagg_ttft_overhead": f"{engine.disagg_ttft_overhead_s * 1e3:.3f} ms",
        "max_num_tokens": engine.max_num_tokens, "mixes_prefill": engine.mixes_prefill}
    for name in ("burstiness", "gemm_scale", "attention_scale", "memory_scale", "prefill_scale", "arrival_sync",
                 "first_wave", "first_token_steps", "attention_dp_hold_steps", "batch_wait_steps",
                 "batch_wait_tokens_ratio", "recv_interval_steps", "max_batch_size", "disagg_decode_batch",
                 "disagg_prefill_utilization", "moe_overlap", "expert_imbalance", "kv_memory_fraction",
                 "sim_prefill_scale", "sim_first_token_steps"):
        number = getattr(engine, name)
        table[name] = number if isinstance(number, int) else tomlwrite.significant(number)
    if engine.collective_scale != 1.0:
        table["collective_scale"] = tomlwrite.significant(engine.collective_scale)
    if engine.sim_prefill_launch_s:
        table["sim_prefill_launch"] = f"{engine.sim_prefill_launch_s * 1e6:.3f} us"
    if engine.sim_prefill_host_launch_s:
        table["sim_prefill_host_launch"] = f"{engine.sim_prefill_host_launch_s * 1e6:.3f} us"
    if engine.decode_host_token_s:
        table["decode_host_token"] = f"{engine.decode_host_token_s * 1e6:.3f} us"
    if not engine.sim_eager_prefill:
        table["sim_eager_prefill"] = False
    if engine.sim_host_ops:
        table["sim_host_ops"] = True
    if engine.sim_separate_prefill:
        table["sim_separate_prefill"] = True
    if engine.sim_client_range_ratio:
        table["sim_client_range_ratio"] = tomlwrite.significant(engine.sim_client_range_ratio)
    if engine.sim_max_prefill_tokens:
        table["sim_max_prefill_tokens"] = engine.sim_max_prefill_tokens
    if engine.sim_chunked_prefill_tokens:
        table["sim_chunked_prefill_tokens"] = engine.sim_chunked_prefill_tokens
    if not engine.sim_chunked_prefill:
        table["sim_chunked_prefill"] = False
    if engine.sim_disagg_ttft_overhead_s is not None:
        table["sim_disagg_ttft_overhead"] = f"{engine.sim_disagg_ttft_overhead_s * 1e3:.3f} ms"
    if engine.sim_disagg_first_token != "decode":
        table["sim_disagg_first_token"] = engine.sim_disagg_first_token
    if engine.sim_disagg_prefill_scale != 1.0:
        table["sim_disagg_prefill_scale"] = tomlwrite.significant(engine.sim_disagg_prefill_scale)
    if not engine.cuda_graphs:
        table["cuda_graphs"] = False
    if engine.prompt_gather_all_reduce:
        table["prompt_gather_all_reduce"] = True
    if engine.decode_padded_experts:
        table["decode_padded_experts"] = True
    table["fp8_kv_cache"] = engine.fp8_kv_cache
    table["kv_on_demand"] = engine.kv_on_demand
    table["attention_format"] = engine.attention_format
    table["mla_decode"] = engine.mla_decode
    return table


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


def closed_loop(row: Mapping[str, str]) -> bool:
    """A published serving figure measured by clients in a closed loop at the row's concurrency, what the
    step-level simulator runs: a served metric (per user or per worker), neither an offline batch (`offline`:
    every prompt submitted at once) nor a run at an unbounded request rate (`request_rate` inf: trtllm-bench's
    3,000 requests queued at once), nor one fixed-batch step (STEP_METRICS)."""
    return (row["metric"] not in STEP_METRICS
            and not flag(row, "offline")
            and (row.get("request_rate") or "").strip().lower() != "inf")


def published_errors(rows: Sequence[Mapping[str, str]], calibration: Calibration | None = None,
                     hook: Callable[[Scenario], Scenario] | None = None, model_kind: str = "steady",
                     processes: int = 1) -> list[CaseError]:
    """Published throughputs (measurements/serving_published.csv) against parity's predictions.

    output_tokens_per_s_per_worker: every request queued at once, the engine at its KV and batch
    limits; output_tokens_per_s_per_user: 1 / TPOT at the row's concurrency (speculative decoding
    with the row's MTP depth and acceptance); prefill_tokens_per_s_per_chip: steps of
    `batch_tokens` prompt tokens per attention rank, their time multiplied by the engine's prefill_scale as the
    steady-state model prices prompt work (what the step model's prefill misses, fitted on calibration rows), and
    the package's ranks counted where each die is one (rank_per_die); decode_tokens_per_s_per_chip: one decode step
    of the row's `batch` sequences over the deployment, `context` KV tokens each (its `phase` decode), priced as
    `parity serve --phase decode` prices it (phase.decode_benchmark), per chip package.
    `calibration` replaces the catalog's for its chip;
    `hook` rewrites each scenario (another calibration or engine profile) before it is priced. model_kind
    'sim' prices the closed-loop figures (`closed_loop`) by the step-level simulator over `processes`
    processes; offline and unbounded-rate throughputs stay with the steady-state model, whose operating point
    (the engine at its KV and batch limits) is their definition, and prefill steps with step_cost.
    """
    cases: list[tuple[Mapping[str, str], Scenario]] = []
    for row in rows:
        _check_phase(row)
        try:
            scenario = scenario_from_row(row)
        except ParityError:
            continue
        if calibration is not None and calibration.chip in (package_id(scenario.system.chip), "*"):  # a die: its package
            scenario = dataclasses.replace(scenario, calibration=calibration)
        if row["metric"] not in PUBLISHED_METRICS:
            raise ParityError(f"serving_published.csv: unknown metric {row['metric']!r}")
        cases.append((row, hook(scenario) if hook else scenario))
    served = [(row, s) for row, s in cases if row["metric"] != "prefill_tokens_per_s_per_chip"]
    simulate = [model_kind != "steady" and closed_loop(row) for row, _ in served]
    steady = iter(predict_scenarios([s for (_, s), sim in zip(served, simulate) if not sim]))
    simulated = iter(predict_scenarios([s for (_, s), sim in zip(served, simulate) if sim], model_kind, processes))
    predicted_served = iter([next(simulated) if sim else next(steady) for sim in simulate])
    out = []
    for row, scenario in cases:
        metric = row["metric"]
        if metric == "prefill_tokens_per_s_per_chip":
            dep = deployment(scenario, scenario.layout)
            tokens = float(row["batch_tokens"])
            isl = float(scenario.isl)
            step = step_cost(dep, Batch(prefill_tokens=tokens, prefill_sequences=tokens / isl,
                                        prefill_context=max(isl - tokens, 0.0) / 2.0))
            # per package: a rank per die (rank_per_die) prefills its tokens on one of the package's dies
            predicted = (tokens * scenario.system.chip.ranks_per_package
                         / (float(step.time_s) * scenario.engine.prefill_scale))
            low = high = math.nan
            raised: tuple[Flag, ...] = ()
        else:
            p = next(predicted_served)
            if not p.feasible:
                continue
            predicted = (p.output_tokens_per_s_per_chip * p.chips if metric.endswith("worker")
                         else p.output_tokens_per_s_per_chip if metric == "decode_tokens_per_s_per_chip"
                         else p.output_tokens_per_s_per_user)
            # the printed throughput interval, scaled to the metric (a per-user rate moves with the per-chip one)
            low, high = (predicted * x / p.output_tokens_per_s_per_chip
                         for x in p.interval("output_tokens_per_s_per_chip"))
            raised = p.flags
        out.append(CaseError(case_id=row["case_id"], split=row.get("split", "holdout"), system=row["system"],
                             engine=row.get("engine") or "generic", model=row["model"], mode="published", metric=metric,
                             measured=float(row["measured"]), predicted=float(predicted), flags=raised,
                             low=float(low), high=float(high)))
    return out


def _check_phase(row: Mapping[str, str]) -> None:
    """A decode_tokens_per_s_per_chip row is one decode step (`phase` decode, with `batch` and `context`), and only
    it: a decode figure read as a closed loop, or a closed-loop figure read as one step, would be scored against
    another quantity than the one measured."""
    metric, phase = row["metric"], (row.get("phase") or "both").strip().lower()
    if (metric == "decode_tokens_per_s_per_chip") != (phase == "decode"):
        raise ParityError(f"serving_published.csv {row['case_id']}: metric {metric} with phase {phase}: "
                          "decode_tokens_per_s_per_chip is one decode step of a fixed batch, and needs phase decode "
                          "(with batch and context), which no other metric takes")


