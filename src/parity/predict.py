"""Serving scenarios from table rows: `parity predict CASES.csv` and `parity serve` share this.

A row names a model, a system, an engine, formats, a workload and layouts (empty cells mean
"default"); `predict_rows` prices them all, grouping rows that share a deployment so that their
workloads are solved as arrays. A bad row ends as feasible=false with the reason; it never stops
the others.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from parity import catalog
from parity.cost import math_unit
from parity.dtypes import format_named
from parity.engine import EngineProfile
from parity.errors import InfeasiblePlan, ParityError
from parity.hardware import Calibration, System
from parity.model import Model
from parity.plan import Layout, Precision
from parity.serving import ServingResult, Workload, engine_deployment, serve_aggregated, serve_disaggregated
from parity.simulate import LATENCY_KEYS, Benchmark, SimResult, client_profile, simulate_aggregated, simulate_disaggregated
from parity.step import Deployment
from parity.uncertainty import WIDEN_FLAGGED, Intervals

__all__ = ["CASE_COLUMNS", "OPTIONAL_COLUMNS", "OUTPUT_COLUMNS", "SIM_COLUMNS", "MODEL_KINDS", "Scenario", "Prediction",
           "scenario_from_row", "predict_rows", "predict_scenarios", "deployment", "simulate_scenario", "benchmark_of"]

CASE_COLUMNS = ("case_id", "model", "system", "engine", "weights", "moe_weights", "kv", "mode", "isl", "osl",
                "concurrency", "tp", "pp", "attn_dp", "moe_tp", "moe_ep", "prefill_workers", "prefill_batch",
                "prefill_tp", "prefill_pp", "prefill_attn_dp", "prefill_moe_tp", "prefill_moe_ep", "decode_workers",
                "decode_batch", "decode_tp", "decode_pp", "decode_attn_dp", "decode_moe_tp", "decode_moe_ep")
# inputs a row may add; scenario_from_row reads each of them
OPTIONAL_COLUMNS = ("mtp_tokens", "mtp_acceptance", "moe_overlap", "attention_dp_hold_steps", "max_num_tokens",
                    "random_range_ratio", "batch_wait_timeout_iters", "batch_wait_max_tokens_ratio",
                    "scheduler_recv_interval")
OUTPUT_COLUMNS = ("case_id", "ttft_s", "tpot_s", "output_tokens_per_s_per_chip", "output_tokens_per_s_per_user",
                  "chips", "memory_bytes_per_chip", "feasible", "note", "ttft_s_low", "ttft_s_high", "tpot_s_low",
                  "tpot_s_high", "output_tokens_per_s_per_chip_low", "output_tokens_per_s_per_chip_high", "flags")

# what the simulator adds (percentiles, ITL, E2E, preemptions); NaN under the steady-state model
SIM_COLUMNS = tuple(k for k in LATENCY_KEYS if k not in ("ttft_s", "tpot_s")) + ("preemptions",)
MODEL_KINDS = ("steady", "sim")


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """One serving case, resolved: the deployment(s) and the workload."""

    case_id: str
    model: Model
    system: System
    engine: EngineProfile
    precision: Precision
    mode: str
    isl: int
    osl: int
    concurrency: int
    layout: Layout
    decode_layout: Layout | None = None
    prefill_workers: float | None = None
    decode_workers: float | None = None
    prefill_batch: float | None = None
    decode_batch: float | None = None  # most sequences a decode rank runs (the engine's max_batch_size there)
    moe_overlap: float | None = None
    mtp_tokens: int = 0
    mtp_acceptance: float = 0.0
    random_range_ratio: float = 1.0  # request lengths uniform in [ratio x isl, isl] (and osl); 1: fixed
    engine_settings: tuple[tuple[str, float], ...] = ()  # the row's own engine settings, already in `engine`
    notes: tuple[str, ...] = ()
    calibration: Calibration | None = None  # None: the catalog's calibration of the chip

    def with_engine(self, profile: EngineProfile) -> Scenario:
        """This scenario under another profile of its engine, keeping the row's own engine settings."""
        return dataclasses.replace(self, engine=dataclasses.replace(profile, **dict(self.engine_settings)))

    @property
    def group(self) -> tuple[object, ...]:
        """Everything but the workload: rows with one group share their deployments."""
        return (self.model.name, self.model.source, self.system.id, self.engine, self.precision, self.mode,
                self.layout, self.decode_layout, self.prefill_workers, self.decode_workers, self.prefill_batch,
                self.decode_batch, self.moe_overlap, self.mtp_tokens, self.mtp_acceptance, self.notes,
                self.calibration and self.calibration.id)


@dataclass(frozen=True, slots=True, kw_only=True)
class Prediction:
    """Predicted means of one case (NaN where infeasible) and what was assumed."""

    case_id: str
    ttft_s: float
    tpot_s: float
    output_tokens_per_s_per_chip: float
    output_tokens_per_s_per_user: float
    chips: float
    memory_bytes_per_chip: float
    feasible: bool
    note: str
    flags: str = ""
    extra: dict[str, float] = field(default_factory=dict)

    def row(self) -> dict[str, object]:
        """Every output column (interval bounds NaN where unknown) plus the extra figures."""
        out = asdict(self)
        out.update(out.pop("extra"))
        for column in OUTPUT_COLUMNS:
            out.setdefault(column, float("nan"))
        return out

    def interval(self, metric: str) -> tuple[float, float]:
        """(low, high) of the 80% interval of a metric (NaN when unknown)."""
        nan = float("nan")
        return self.extra.get(f"{metric}_low", nan), self.extra.get(f"{metric}_high", nan)


def _cell(row: Mapping[str, object], key: str) -> str:
    value = row.get(key)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def _int(row: Mapping[str, object], key: str, default: int | None = None, minimum: int = 1) -> int:
    text = _cell(row, key)
    if not text:
        if default is None:
            raise InfeasiblePlan(f"{key} is required")
        return default
    try:
        value = float(text)
    except ValueError as err:
        raise InfeasiblePlan(f"{key} must be a whole number, got {text!r}") from err
    if not value.is_integer() or value < minimum:
        raise InfeasiblePlan(f"{key} must be a whole number >= {minimum}, got {text!r}")
    return int(value)


def _layout(row: Mapping[str, object], prefix: str) -> Layout:
    return Layout(tp=_int(row, prefix + "tp", 1), pp=_int(row, prefix + "pp", 1),
                  attn_dp=_int(row, prefix + "attn_dp", 1), moe_tp=_int(row, prefix + "moe_tp", 0, 0),
                  moe_ep=_int(row, prefix + "moe_ep", 0, 0))


def _precision(row: Mapping[str, object], model: Model, system: System, engine: EngineProfile) -> tuple[Precision, str]:
    weights = _cell(row, "weights") or model.weight_format
    experts = _cell(row, "moe_weights") or (_cell(row, "weights") or model.expert_weight_format)
    for name in (weights, experts):
        math_unit(format_named(name), system.chip)  # raises if the chip cannot run it at all
    kv = _cell(row, "kv")
    note = ""
    if not kv:
        narrow = format_named(weights).bits <= 8 or format_named(experts).bits <= 8
        fp8_native = not math_unit(format_named("fp8"), system.chip)[1] if "fp8" in system.chip.native else False
        kv = "fp8" if engine.fp8_kv_cache and narrow and fp8_native else "bf16"
        note = f"KV cache {kv} (engine default)"
    return Precision(weights=format_named(weights).name, expert_weights=format_named(experts).name,
                     kv_cache=format_named(kv).name), note


def scenario_from_row(row: Mapping[str, object], systems: Mapping[str, System] | None = None) -> Scenario:
    """A Scenario from one table row; raises ParityError naming the bad field. `systems` adds systems
    (e.g. what-if variants) by name to the catalog's."""
    model = catalog.model(_cell(row, "model") or _missing("model"))
    name = _cell(row, "system") or _missing("system")
    system = (systems or {}).get(name) or catalog.system(name)
    engine = catalog.engine(_cell(row, "engine"))
    settings: dict[str, float] = {}
    for column, field_name, rule in (("attention_dp_hold_steps", "attention_dp_hold_steps", ">= 0"),
                                     ("batch_wait_timeout_iters", "batch_wait_steps", ">= 0"),
                                     ("batch_wait_max_tokens_ratio", "batch_wait_tokens_ratio", "in [0, 1]"),
                                     ("scheduler_recv_interval", "recv_interval_steps", ">= 0")):
        text = _cell(row, column)
        if text:
            try:
                engine = dataclasses.replace(engine, **{field_name: float(text)})
            except ValueError as err:
                raise InfeasiblePlan(f"{column} must be a number {rule}, got {text!r}") from err
            settings[field_name] = float(text)
    if _cell(row, "max_num_tokens"):
        budget = _int(row, "max_num_tokens")
        engine = dataclasses.replace(engine, max_num_tokens=budget)
        settings["max_num_tokens"] = budget
    precision, note = _precision(row, model, system, engine)
    mode = (_cell(row, "mode") or "agg").lower()
    overlap = _cell(row, "moe_overlap")
    try:
        moe_overlap = float(overlap) if overlap else None
    except ValueError as err:
        raise InfeasiblePlan(f"moe_overlap must be a number in [0, 1], got {overlap!r}") from err
    if moe_overlap is not None and not 0.0 <= moe_overlap <= 1.0:
        raise InfeasiblePlan(f"moe_overlap must be in [0, 1], got {overlap!r}")
    mtp = _int(row, "mtp_tokens", 0, 0)
    acceptance = _cell(row, "mtp_acceptance")
    try:
        mtp_acceptance = float(acceptance) if acceptance else 0.0
    except ValueError as err:
        raise InfeasiblePlan(f"mtp_acceptance must be a number, got {acceptance!r}") from err
    if mtp and not model.mtp_layers:
        raise InfeasiblePlan(f"{model.name} has no multi-token-prediction layers (mtp_tokens={mtp})")
    if not 0.0 <= mtp_acceptance <= mtp:
        raise InfeasiblePlan(f"mtp_acceptance must be in [0, mtp_tokens={mtp}], got {acceptance!r}")
    spread = _cell(row, "random_range_ratio")
    try:
        range_ratio = float(spread) if spread else 1.0
    except ValueError as err:
        raise InfeasiblePlan(f"random_range_ratio must be a number in [0, 1], got {spread!r}") from err
    if not 0.0 <= range_ratio <= 1.0:
        raise InfeasiblePlan(f"random_range_ratio must be in [0, 1], got {spread!r}")
    common = dict(case_id=_cell(row, "case_id"), model=model, system=system, engine=engine, precision=precision,
                  isl=_int(row, "isl"), osl=_int(row, "osl"), concurrency=_int(row, "concurrency"),
                  moe_overlap=moe_overlap, mtp_tokens=mtp, mtp_acceptance=mtp_acceptance,
                  random_range_ratio=range_ratio, engine_settings=tuple(settings.items()))
    notes = (note,) if note else ()
    if mode == "agg":
        layout = _layout(row, "").check(model)
        return Scenario(**common, mode="agg", layout=layout, notes=notes)  # type: ignore[arg-type]
    if mode != "disagg":
        raise InfeasiblePlan(f"mode must be agg or disagg, got {mode!r}")
    prefill = _layout(row, "prefill_").check(model)
    decode = _layout(row, "decode_").check(model)
    batch = _cell(row, "decode_batch")
    decode_batch = None
    if _cell(row, "decode_workers"):
        decode_workers = float(_int(row, "decode_workers"))
        decode_batch = float(_int(row, "decode_batch")) if batch else None  # with workers given: a per-rank cap
    elif batch:
        decode_workers = float(max(1, round(common["concurrency"] / (_int(row, "decode_batch") * decode.attn_dp))))
        notes += (f"{decode_workers:g} decode worker(s) inferred from the decode batch",)
    else:
        decode_workers = None
    prefill_workers = float(_int(row, "prefill_workers")) if _cell(row, "prefill_workers") else None
    prefill_batch = float(_int(row, "prefill_batch")) if _cell(row, "prefill_batch") else None
    return Scenario(**common, mode="disagg", layout=prefill, decode_layout=decode,  # type: ignore[arg-type]
                    prefill_workers=prefill_workers, decode_workers=decode_workers, prefill_batch=prefill_batch,
                    decode_batch=decode_batch,
                    notes=notes)


def _missing(key: str) -> str:
    raise InfeasiblePlan(f"{key} is required")


def deployment(scenario: Scenario, layout: Layout) -> Deployment:
    """The deployment of one worker of a scenario, with its engine's overheads and efficiencies."""
    return engine_deployment(scenario.model, scenario.system, layout, scenario.precision,
                             scenario.calibration or catalog.calibration(scenario.system.chip), scenario.engine,
                             scenario.moe_overlap,
                             scenario.mtp_tokens, scenario.mtp_acceptance)


def _solve(group: Sequence[Scenario]) -> ServingResult:
    first = group[0]
    workload = Workload(isl=np.array([s.isl for s in group], float), osl=np.array([s.osl for s in group], float),
                        concurrency=np.array([s.concurrency for s in group], float),
                        range_ratio=np.array([s.random_range_ratio for s in group], float))
    if first.mode == "agg":
        return serve_aggregated(deployment(first, first.layout), first.engine, workload)
    assert first.decode_layout is not None
    return serve_disaggregated(deployment(first, first.layout), deployment(first, first.decode_layout), first.engine,
                               workload, first.prefill_workers, first.decode_workers, first.prefill_batch,
                               first.decode_batch)


def flags(scenario: Scenario) -> tuple[str, ...]:
    """Ways a case lies outside what the model was fitted and checked on."""
    out = []
    chip = scenario.system.chip
    if not catalog.calibration(chip).measured and chip.id not in catalog.fitted_chips():
        out.append(f"uncalibrated chip {chip.id}")
    used = scenario.model.features - (set() if scenario.mtp_tokens else {"mtp"})  # MTP layers unused: no flag
    unseen = sorted(used - catalog.validated_features())
    if unseen:
        out.append(f"features never validated: {', '.join(unseen)}")
    layouts = [scenario.layout] + ([scenario.decode_layout] if scenario.decode_layout else [])
    if any(l.pp > 1 for l in layouts) or any(l.chips > 64 for l in layouts):
        out.append("layout far from measured ones (pipeline parallel or over 64 chips per worker)")
    if scenario.engine.id == "generic" or not scenario.engine.measured:
        out.append(f"engine profile {scenario.engine.id} not fitted to measurements")
    return tuple(out)


def _intervals() -> Intervals | None:
    table = catalog.uncertainty_table()
    return Intervals.from_table(table) if table else None


def _with_intervals(p: Prediction, scenario: Scenario) -> Prediction:
    kind = "agg" if scenario.mode == "agg" else (
        "disagg" if scenario.decode_workers is not None else "disagg (workers inferred)")
    raised = flags(scenario)
    intervals = _intervals()
    extra = dict(p.extra)
    if intervals is not None:
        widen = WIDEN_FLAGGED if raised else 1.0
        for metric in ("ttft_s", "tpot_s"):
            band = intervals.band(metric, kind)
            if band is not None:
                extra[f"{metric}_low"], extra[f"{metric}_high"] = band.around(getattr(p, metric), widen)
        if "tpot_s_low" in extra:  # throughput moves inversely with the per-token time
            rate = p.output_tokens_per_s_per_chip
            extra["output_tokens_per_s_per_chip_low"] = rate * p.tpot_s / extra["tpot_s_high"]
            extra["output_tokens_per_s_per_chip_high"] = rate * p.tpot_s / extra["tpot_s_low"]
    return dataclasses.replace(p, extra=extra, flags="; ".join(raised))


def _failed(case_id: str, reason: str) -> Prediction:
    nan = float("nan")
    return Prediction(case_id=case_id, ttft_s=nan, tpot_s=nan, output_tokens_per_s_per_chip=nan,
                      output_tokens_per_s_per_user=nan, chips=nan, memory_bytes_per_chip=nan, feasible=False,
                      note=reason)


def _predictions(group: Sequence[Scenario], result: ServingResult) -> list[Prediction]:
    out = []
    mem = result.memory
    for i, s in enumerate(group):
        def at(value: object) -> float:
            return float(np.broadcast_to(np.asarray(value, dtype=float), (len(group),))[i])
        notes = list(s.notes) + list(result.assumptions)
        feasible = bool(at(result.feasible))
        if not feasible:
            short = -at(mem.free_bytes) if at(mem.free_bytes) < 0 else 0.0
            largest = mem.largest_term()
            reason = (f"does not fit: needs {short / 1e9:.1f} GB more per chip ({largest} is the largest term)"
                      if short else "does not fit: not even one sequence's KV cache fits beside the weights")
            out.append(_failed(s.case_id, reason))
            continue
        used = at(mem.weight_bytes) + at(mem.reserve_bytes) + at(mem.activation_bytes) + at(mem.kv_bytes)
        out.append(Prediction(
            case_id=s.case_id, ttft_s=at(result.ttft_s), tpot_s=at(result.tpot_s),
            output_tokens_per_s_per_chip=at(result.output_tokens_per_s) / at(result.chips),
            output_tokens_per_s_per_user=1.0 / at(result.tpot_s), chips=at(result.chips),
            memory_bytes_per_chip=min(used, at(mem.capacity_bytes)), feasible=True, note="; ".join(notes),
            extra={"decode_batch": at(result.decode_batch), "prefill_utilization": at(result.prefill_utilization),
                   "prefill_workers": at(result.prefill_workers), "decode_workers": at(result.decode_workers)}))
    return out


def benchmark_of(scenario: Scenario, client: str | None = None, **options: object) -> Benchmark:
    """The benchmark a row describes: its lengths and clients, from the named client profile (default:
    InferenceX's where the row draws lengths at random, aiconfigurator's otherwise); a row's
    random_range_ratio below 1 replaces the profile's."""
    name = client or ("inferencex" if scenario.random_range_ratio < 1.0 else "aiconfigurator")
    profile = client_profile(name)
    if scenario.random_range_ratio < 1.0:
        profile = dataclasses.replace(profile, range_ratio=scenario.random_range_ratio)
    return Benchmark(isl=scenario.isl, osl=scenario.osl, concurrency=scenario.concurrency, client=profile,
                     **options)  # type: ignore[arg-type]


def simulate_scenario(scenario: Scenario, bench: Benchmark | None = None, workers: tuple[float, float] | None = None,
                      timeline: bool = False) -> SimResult:
    """Simulate one scenario's benchmark step by step. Disaggregated worker counts the row does not give
    are the steady-state model's sizing (`workers`: its (prefill, decode) counts, solved here when not
    given)."""
    bench = bench or benchmark_of(scenario)
    if scenario.mode == "agg":
        return simulate_aggregated(deployment(scenario, scenario.layout), scenario.engine, bench, timeline=timeline)
    assert scenario.decode_layout is not None
    pw, dw = scenario.prefill_workers, scenario.decode_workers
    if pw is None or dw is None:
        if workers is None:
            steady = _solve([scenario])
            workers = (float(np.ravel(steady.prefill_workers)[0]), float(np.ravel(steady.decode_workers)[0]))
        pw, dw = pw or workers[0], dw or workers[1]
    return simulate_disaggregated(deployment(scenario, scenario.layout), deployment(scenario, scenario.decode_layout),
                                  scenario.engine, bench, int(pw), int(dw), scenario.prefill_batch,
                                  scenario.decode_batch, timeline=timeline)


def _with_simulation(p: Prediction, scenario: Scenario) -> Prediction:
    """A steady-state prediction's TTFT, TPOT and throughput replaced by the simulator's, with its
    percentiles added (memory and flags stay the steady model's; no 80% interval)."""
    if not p.feasible:
        return p
    try:
        sim = simulate_scenario(scenario, workers=(p.extra.get("prefill_workers", 0.0),
                                                   p.extra.get("decode_workers", 0.0)))
    except (ParityError, ValueError, ArithmeticError) as err:
        return _failed(scenario.case_id, f"simulation: {err}")
    # the 80% bands were built from the steady-state model's errors: they do not describe the simulator's
    extra = {k: v for k, v in p.extra.items() if not k.endswith(("_low", "_high"))}
    extra |= {**{k: sim.latency[k] for k in LATENCY_KEYS}, "preemptions": float(sim.preemptions),
              "decode_batch": sim.decode_batch}
    return dataclasses.replace(p, ttft_s=sim.ttft_s, tpot_s=sim.tpot_s,
                               output_tokens_per_s_per_chip=sim.output_tokens_per_s_per_chip,
                               output_tokens_per_s_per_user=sim.output_tokens_per_s_per_user, chips=sim.chips,
                               note="; ".join((p.note, *sim.assumptions)), extra=extra)


def _simulate_all(pairs: list[tuple[Prediction, Scenario]]) -> list[Prediction]:
    return [_with_simulation(p, s) for p, s in pairs]


def _simulated(predictions: list[Prediction], scenarios: Sequence[Scenario], processes: int) -> list[Prediction]:
    """Every feasible prediction re-run by the simulator, over `processes` worker processes."""
    pairs = list(zip(predictions, scenarios))
    if processes <= 1 or len(pairs) < 8:
        return _simulate_all(pairs)
    from concurrent.futures import ProcessPoolExecutor
    size = max(1, len(pairs) // (processes * 8))
    chunks = [pairs[i:i + size] for i in range(0, len(pairs), size)]
    with ProcessPoolExecutor(processes) as pool:
        return [p for part in pool.map(_simulate_all, chunks) for p in part]


def predict_scenarios(scenarios: Sequence[Scenario], model_kind: str = "steady", processes: int = 1) -> list[Prediction]:
    """Price scenarios; those sharing a deployment are solved together as arrays. model_kind 'sim'
    replaces TTFT, TPOT and throughput by the step-level simulator's (parity.simulate) and adds its
    percentiles, over `processes` processes."""
    if model_kind not in MODEL_KINDS:
        raise ParityError(f"model kind must be one of {', '.join(MODEL_KINDS)}, got {model_kind!r}")
    steady = _predict_steady(scenarios)
    return steady if model_kind == "steady" else _simulated(steady, scenarios, processes)


def _predict_steady(scenarios: Sequence[Scenario]) -> list[Prediction]:
    groups: dict[tuple[object, ...], list[int]] = defaultdict(list)
    for i, s in enumerate(scenarios):
        groups[s.group].append(i)
    out: list[Prediction | None] = [None] * len(scenarios)
    for indices in groups.values():
        members = [scenarios[i] for i in indices]
        try:
            results = [_with_intervals(p, s) if p.feasible else p
                       for p, s in zip(_predictions(members, _solve(members)), members)]
        except (ParityError, ValueError, ArithmeticError) as err:
            results = [_failed(s.case_id, str(err)) for s in members]
        for i, prediction in zip(indices, results):
            out[i] = prediction
    return [p for p in out if p is not None]


def predict_rows(rows: Iterable[Mapping[str, object]], progress: Callable[[int], None] | None = None,
                 systems: Mapping[str, System] | None = None, model_kind: str = "steady",
                 processes: int = 1) -> list[Prediction]:
    """Predict every row; a row that cannot be read becomes feasible=false with the reason."""
    rows = list(rows)
    scenarios: list[Scenario | None] = []
    failures: dict[int, Prediction] = {}
    for i, row in enumerate(rows):
        try:
            scenarios.append(scenario_from_row(row, systems))
        except (ParityError, ValueError, TypeError, ArithmeticError) as err:
            scenarios.append(None)
            failures[i] = _failed(_cell(row, "case_id"), str(err))
        if progress:
            progress(1)
    good = [s for s in scenarios if s is not None]
    priced = iter(predict_scenarios(good, model_kind, processes))
    return [failures[i] if s is None else next(priced) for i, s in enumerate(scenarios)]
