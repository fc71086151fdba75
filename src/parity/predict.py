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
from parity.graph import MLA_DECODE
from parity.errors import InfeasiblePlan, ParityError
from parity.hardware import Calibration, System, per_die
from parity.model import Model
from parity.plan import Layout, Precision
from parity.phase import PHASES, PhaseResult, decode_benchmark, prefill_benchmark
from parity.serving import ServingResult, Workload, engine_deployment, serve_aggregated, serve_disaggregated
from parity.simulate import LATENCY_KEYS, Benchmark, SimResult, client_profile, simulate_aggregated, simulate_disaggregated
from parity.step import Deployment
from parity.uncertainty import WIDEN_FLAGGED, Intervals, case_flags

__all__ = ["layout_from_row", "CASE_COLUMNS", "OPTIONAL_COLUMNS", "OUTPUT_COLUMNS", "SIM_COLUMNS", "MODEL_KINDS", "Case",
           "Scenario", "Prediction", "case_from_row", "scenario_from_row", "scenario_of", "predict_rows",
           "predict_cases", "predict_scenarios", "deployment", "simulate_scenario", "benchmark_of"]

CASE_COLUMNS = ("case_id", "model", "system", "engine", "weights", "moe_weights", "kv", "mode", "isl", "osl",
                "concurrency", "tp", "pp", "attn_dp", "moe_tp", "moe_ep", "prefill_workers", "prefill_batch",
                "prefill_tp", "prefill_pp", "prefill_attn_dp", "prefill_moe_tp", "prefill_moe_ep", "decode_workers",
                "decode_batch", "decode_tp", "decode_pp", "decode_attn_dp", "decode_moe_tp", "decode_moe_ep")
# inputs a row may add; scenario_from_row reads each of them
OPTIONAL_COLUMNS = ("mtp_tokens", "mtp_acceptance", "moe_overlap", "attention_dp_hold_steps", "max_num_tokens",
                    "random_range_ratio", "batch_wait_timeout_iters", "batch_wait_max_tokens_ratio",
                    "scheduler_recv_interval", "redundant_experts", "shared_expert_replicas", "prefill_redundant_experts",
                    "prefill_shared_expert_replicas", "decode_redundant_experts", "decode_shared_expert_replicas",
                    "rank_per_die", "phase", "batch", "context", "attention_format", "prefill_system",
                    "offload_kv", "offload_weights", "mla_decode")
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
    phase: str = "both"  # "decode" or "prefill": a fixed-batch step (phase.py) instead of the closed loop
    batch: int = 0  # the phase benchmark's sequences (decode) or prompts (prefill) over the deployment
    context: int = 0  # the decode benchmark's KV tokens per sequence
    prefill_system: System | None = None  # disaggregated: prefill workers on another system (None: `system`)
    offload_kv: float = 0.0  # share of each device's KV cache kept in host memory (Deployment.offload_kv)
    offload_weights: float = 0.0  # share of each device's weights kept in host memory

    def with_engine(self, profile: EngineProfile) -> Scenario:
        """This scenario under another profile of its engine, keeping the row's own engine settings."""
        return dataclasses.replace(self, engine=dataclasses.replace(profile, **dict(self.engine_settings)))

    @property
    def group(self) -> tuple[object, ...]:
        """Everything but the workload: rows with one group share their deployments."""
        return (self.model.name, self.model.source, self.system.id, self.engine, self.precision, self.mode,
                self.layout, self.decode_layout, self.prefill_workers, self.decode_workers, self.prefill_batch,
                self.decode_batch, self.moe_overlap, self.mtp_tokens, self.mtp_acceptance, self.notes,
                self.calibration and self.calibration.id, self.phase, self.batch, self.context,
                self.prefill_system and self.prefill_system.id, self.offload_kv, self.offload_weights)


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


def layout_from_row(row: Mapping[str, object], prefix: str) -> Layout:
    """A layout from the row's columns with this prefix; placement columns fall back to the unprefixed ones."""
    def placed(name: str) -> int:
        return _int(row, prefix + name, _int(row, name, 0, 0), 0)
    return Layout(tp=_int(row, prefix + "tp", 1), pp=_int(row, prefix + "pp", 1),
                  attn_dp=_int(row, prefix + "attn_dp", 1), moe_tp=_int(row, prefix + "moe_tp", 0, 0),
                  moe_ep=_int(row, prefix + "moe_ep", 0, 0), redundant_experts=placed("redundant_experts"),
                  shared_expert_replicas=placed("shared_expert_replicas"))


def _flag(row: Mapping[str, object], key: str) -> bool:
    text = _cell(row, key).lower()
    if text in ("", "0", "false", "no"):
        return False
    if text in ("1", "true", "yes"):
        return True
    raise InfeasiblePlan(f"{key} must be true or false, got {text!r}")


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
    try:
        attention = format_named(_cell(row, "attention_format") or engine.attention_format)
    except ParityError as err:
        raise InfeasiblePlan(f"attention_format: {err}") from err
    if math_unit(attention, system.chip)[1]:
        raise InfeasiblePlan(f"attention_format {attention.name}: {system.chip.id} has no {attention.name} math "
                             f"(native: {', '.join(sorted(system.chip.native))})")
    if attention.name != "bf16":
        note = "; ".join(n for n in (note, f"attention math in {attention.name}") if n)
    mla_decode = (_cell(row, "mla_decode") or engine.mla_decode).lower()
    if mla_decode not in MLA_DECODE:
        raise InfeasiblePlan(f"mla_decode must be one of {', '.join(MLA_DECODE)}, got {mla_decode!r}")
    if mla_decode != "absorbed" and any(layer.attention is not None and getattr(layer.attention, "mla", False)
                                        for layer in model.layers):
        note = "; ".join(n for n in (note, f"MLA decode {mla_decode} (K/V expanded per head each step)") if n)
    return Precision(weights=format_named(weights).name, expert_weights=format_named(experts).name,
                     kv_cache=format_named(kv).name, attention=attention.name, mla_decode=mla_decode), note


@dataclass(frozen=True, slots=True, kw_only=True)
class Case:
    """One serving case as the user states it, typed but not yet resolved against the catalog: names
    of the model, system and engine, the workload, the layouts and the engine settings it overrides.
    A table row becomes one with `case_from_row`; the command line builds one directly."""

    model: str
    system: str
    isl: int
    osl: int
    concurrency: int
    case_id: str = ""
    engine: str = ""  # empty: the generic profile
    weights: str = ""  # empty: the checkpoint's format
    moe_weights: str = ""  # empty: as weights
    kv: str = ""  # empty: the engine's default
    mode: str = "agg"
    layout: Layout = Layout()  # the worker's (the prefill worker's when disaggregated)
    decode_layout: Layout | None = None  # disaggregated: the decode worker's
    prefill_workers: int | None = None
    decode_workers: int | None = None
    prefill_batch: int | None = None
    decode_batch: int | None = None
    moe_overlap: float | None = None
    mtp_tokens: int = 0
    mtp_acceptance: float = 0.0
    random_range_ratio: float = 1.0
    engine_settings: tuple[tuple[str, float], ...] = ()  # EngineProfile field -> value the case sets
    attention_format: str = ""  # empty: the engine's default
    rank_per_die: bool = False  # each die of a multi-die package one rank
    phase: str = "both"  # both: the closed loop; decode / prefill: one fixed-batch step (phase benchmark)
    batch: int = 0  # phase benchmarks: sequences decoded or prompts prefilled together by the deployment
    context: int = 0  # decode phase: tokens of KV each sequence holds
    prefill_system: str = ""  # disaggregated: prefill workers on another system (empty: the same)
    offload_kv: float = 0.0  # share of the KV cache kept in host memory (systems with a host link)
    offload_weights: float = 0.0  # share of the weights kept in host memory
    mla_decode: str = ""  # absorbed or unabsorbed MLA decode (empty: the engine's default)


# optional columns that set an engine's habit: column, EngineProfile field, the rule its value obeys
_ENGINE_COLUMNS = (("attention_dp_hold_steps", "attention_dp_hold_steps", ">= 0"),
                   ("batch_wait_timeout_iters", "batch_wait_steps", ">= 0"),
                   ("batch_wait_max_tokens_ratio", "batch_wait_tokens_ratio", "in [0, 1]"),
                   ("scheduler_recv_interval", "recv_interval_steps", ">= 0"))

_SETTING_COLUMNS = {field_name: (column, rule) for column, field_name, rule in _ENGINE_COLUMNS}


def _number(row: Mapping[str, object], key: str, rule: str) -> float | None:
    text = _cell(row, key)
    if not text:
        return None
    try:
        value = float(text)
    except ValueError as err:
        raise InfeasiblePlan(f"{key} must be a number {rule}, got {text!r}") from err
    if not math.isfinite(value):
        raise InfeasiblePlan(f"{key} must be a finite number {rule}, got {text!r}")
    return value


def case_from_row(row: Mapping[str, object]) -> Case:
    """A Case from one table row (every cell text or a number); raises ParityError naming the bad field."""
    settings: dict[str, float] = {}
    for column, field_name, rule in _ENGINE_COLUMNS:
        value = _number(row, column, rule)
        if value is not None:
            settings[field_name] = value
    if _cell(row, "max_num_tokens"):
        settings["max_num_tokens"] = _int(row, "max_num_tokens")
    mode = (_cell(row, "mode") or "agg").lower()
    disagg = mode == "disagg"
    phase = (_cell(row, "phase") or "both").lower()
    if phase not in PHASES:
        raise InfeasiblePlan(f"phase must be one of {', '.join(PHASES)}, got {phase!r}")
    fixed = phase != "both"
    batch = _int(row, "batch", None if fixed else 0)  # read (and refused when bad) in every phase
    context = _int(row, "context", None if phase == "decode" else 0)
    if not disagg:
        for column in ("prefill_redundant_experts", "prefill_shared_expert_replicas", "decode_redundant_experts",
                       "decode_shared_expert_replicas"):
            _int(row, column, 0, 0)  # read (and refused when bad) in either mode

    def optional(key: str) -> int | None:
        return _int(row, key) if _cell(row, key) else None

    return Case(case_id=_cell(row, "case_id"), model=_cell(row, "model") or _missing("model"),
                system=_cell(row, "system") or _missing("system"), engine=_cell(row, "engine"),
                weights=_cell(row, "weights"), moe_weights=_cell(row, "moe_weights"), kv=_cell(row, "kv"), mode=mode,
                isl=_int(row, "isl", (context or None) if fixed else None),
                osl=_int(row, "osl", 1 if fixed else None), concurrency=_int(row, "concurrency", batch or None),
                layout=layout_from_row(row, "prefill_" if disagg else ""),
                decode_layout=layout_from_row(row, "decode_") if disagg else None,
                prefill_workers=optional("prefill_workers") if disagg else None,
                decode_workers=optional("decode_workers") if disagg else None,
                prefill_batch=optional("prefill_batch") if disagg else None,
                decode_batch=optional("decode_batch") if disagg else None,
                moe_overlap=_number(row, "moe_overlap", "in [0, 1]"), mtp_tokens=_int(row, "mtp_tokens", 0, 0),
                mtp_acceptance=_number(row, "mtp_acceptance", "in [0, mtp_tokens]") or 0.0,
                random_range_ratio=(r if (r := _number(row, "random_range_ratio", "in [0, 1]")) is not None else 1.0),
                engine_settings=tuple(settings.items()), attention_format=_cell(row, "attention_format"),
                rank_per_die=_flag(row, "rank_per_die"), phase=phase, batch=batch, context=context,
                prefill_system=_cell(row, "prefill_system"),
                offload_kv=_number(row, "offload_kv", "in [0, 1]") or 0.0,
                offload_weights=_number(row, "offload_weights", "in [0, 1]") or 0.0,
                mla_decode=_cell(row, "mla_decode"))


def scenario_from_row(row: Mapping[str, object], systems: Mapping[str, System] | None = None) -> Scenario:
    """A Scenario from one table row; raises ParityError naming the bad field. `systems` adds systems
    (e.g. what-if variants) by name to the catalog's."""
    return scenario_of(case_from_row(row), systems)


def scenario_of(case: Case, systems: Mapping[str, System] | None = None) -> Scenario:
    """A Case resolved against the catalog (and `systems`, e.g. what-if variants, by name) into a
    Scenario; raises ParityError naming the field that makes no sense."""
    model = catalog.model(case.model)
    system = (systems or {}).get(case.system) or catalog.system(case.system)
    calibration = None
    if case.rank_per_die:
        if system.chip.dies == 1:
            raise InfeasiblePlan(f"rank_per_die: {system.chip.id} has one die per package")
        calibration = catalog.calibration(system.chip)  # the package's efficiencies hold per die
        system = per_die(system)
    engine = catalog.engine_for(case.engine, system.chip.software_stack)
    for field_name, value in case.engine_settings:
        try:
            engine = dataclasses.replace(engine, **{field_name: value})
        except ValueError as err:
            column, rule = _SETTING_COLUMNS.get(field_name, (field_name, "as the engine allows"))
            raise InfeasiblePlan(f"{column} must be a number {rule}, got {value:g}") from err
    row = {"weights": case.weights, "moe_weights": case.moe_weights, "kv": case.kv,
           "attention_format": case.attention_format, "mla_decode": case.mla_decode}
    precision, note = _precision(row, model, system, engine)
    if case.moe_overlap is not None and not 0.0 <= case.moe_overlap <= 1.0:
        raise InfeasiblePlan(f"moe_overlap must be in [0, 1], got {case.moe_overlap:g}")
    mtp = case.mtp_tokens
    if mtp and not model.mtp_layers:
        raise InfeasiblePlan(f"{model.name} has no multi-token-prediction layers (mtp_tokens={mtp})")
    mtp_acceptance, mtp_note = case.mtp_acceptance, ""
    if mtp and not mtp_acceptance:
        published = catalog.mtp_acceptance(model.name)
        if published is None:
            raise InfeasiblePlan(f"mtp_acceptance is required for {model.name} (no published acceptance recorded)")
        mtp_acceptance = published.accepted_tokens(mtp)
        mtp_note = (f"MTP acceptance {published.acceptance:.0%} a draft token, {mtp_acceptance:.3g} of {mtp} kept a "
                    f"step (default: {published.source}; {published.note})")
    if not 0.0 <= mtp_acceptance <= mtp:
        raise InfeasiblePlan(f"mtp_acceptance must be in [0, mtp_tokens={mtp}], got {case.mtp_acceptance:g}")
    if not 0.0 <= case.random_range_ratio <= 1.0:
        raise InfeasiblePlan(f"random_range_ratio must be in [0, 1], got {case.random_range_ratio:g}")
    if case.phase not in PHASES:
        raise InfeasiblePlan(f"phase must be one of {', '.join(PHASES)}, got {case.phase!r}")
    for name, share in (("offload_kv", case.offload_kv), ("offload_weights", case.offload_weights)):
        if not 0.0 <= share <= 1.0:
            raise InfeasiblePlan(f"{name} must be in [0, 1], got {share:g}")
        if share and not system.host_link_bytes_per_s:
            raise InfeasiblePlan(f"{name}: {system.id} has no host memory on a chip-to-CPU link to offload to")
    if case.offload_kv or case.offload_weights:
        note = "; ".join(n for n in (note, f"offloaded to host memory: KV {case.offload_kv:.0%}, weights "
                                           f"{case.offload_weights:.0%}, read each step over "
                                           f"{system.host_link_bytes_per_s / 1e9:,.0f} GB/s per chip, not "
                                           f"overlapped") if n)
    common = dict(case_id=case.case_id, model=model, system=system, engine=engine, precision=precision,
                  isl=case.isl, osl=case.osl, concurrency=case.concurrency, phase=case.phase, batch=case.batch,
                  context=case.context, moe_overlap=case.moe_overlap, mtp_tokens=mtp, mtp_acceptance=mtp_acceptance,
                  random_range_ratio=case.random_range_ratio, engine_settings=case.engine_settings,
                  calibration=calibration, offload_kv=case.offload_kv, offload_weights=case.offload_weights)
    notes = tuple(n for n in (note, mtp_note) if n)
    if case.mode == "agg":
        if case.prefill_system:
            raise InfeasiblePlan("prefill_system needs mode disagg (prefill and decode workers apart)")
        return Scenario(**common, mode="agg", layout=case.layout.check(model), notes=notes)  # type: ignore[arg-type]
    if case.mode != "disagg":
        raise InfeasiblePlan(f"mode must be agg or disagg, got {case.mode!r}")
    prefill_system = None
    if case.prefill_system:
        prefill_system = (systems or {}).get(case.prefill_system) or catalog.system(case.prefill_system)
        for fmt in (precision.weights, precision.expert_weights):
            math_unit(format_named(fmt), prefill_system.chip)  # raises if the prefill chip cannot run it at all
    prefill = case.layout.check(model)
    decode = (case.decode_layout or case.layout).check(model)
    decode_batch = None
    if case.decode_workers is not None:
        decode_workers = float(case.decode_workers)
        decode_batch = None if case.decode_batch is None else float(case.decode_batch)  # a per-rank cap
    elif case.decode_batch is not None:
        decode_workers = float(max(1, round(case.concurrency / (case.decode_batch * decode.attn_dp))))
        notes += (f"{decode_workers:g} decode worker(s) inferred from the decode batch",)
    else:
        decode_workers = None
    return Scenario(**common, mode="disagg", layout=prefill, decode_layout=decode,  # type: ignore[arg-type]
                    prefill_workers=None if case.prefill_workers is None else float(case.prefill_workers),
                    decode_workers=decode_workers,
                    prefill_batch=None if case.prefill_batch is None else float(case.prefill_batch),
                    decode_batch=decode_batch, prefill_system=prefill_system, notes=notes)


def _missing(key: str) -> str:
    raise InfeasiblePlan(f"{key} is required")


def deployment(scenario: Scenario, layout: Layout, system: System | None = None) -> Deployment:
    """The deployment of one worker of a scenario (on `system`, default the scenario's), with its engine's
    overheads and efficiencies."""
    if system is None or system.id == scenario.system.id:
        system, calibration = scenario.system, scenario.calibration or catalog.calibration(scenario.system.chip)
    else:
        calibration = catalog.calibration(system.chip)
    dep = engine_deployment(scenario.model, system, layout, scenario.precision, calibration, scenario.engine,
                            scenario.moe_overlap, scenario.mtp_tokens, scenario.mtp_acceptance)
    if scenario.offload_kv or scenario.offload_weights:
        dep = dataclasses.replace(dep, offload_kv=scenario.offload_kv, offload_weights=scenario.offload_weights)
    return dep


def _solve(group: Sequence[Scenario]) -> ServingResult:
    first = group[0]
    workload = Workload(isl=np.array([s.isl for s in group], float), osl=np.array([s.osl for s in group], float),
                        concurrency=np.array([s.concurrency for s in group], float),
                        range_ratio=np.array([s.random_range_ratio for s in group], float))
    if first.mode == "agg":
        return serve_aggregated(deployment(first, first.layout), first.engine, workload)
    assert first.decode_layout is not None
    return serve_disaggregated(deployment(first, first.layout, first.prefill_system),
                               deployment(first, first.decode_layout), first.engine,
                               workload, first.prefill_workers, first.decode_workers, first.prefill_batch,
                               first.decode_batch)


def flags(scenario: Scenario) -> tuple[str, ...]:
    """Ways a case lies outside what the model was fitted and checked on."""
    layouts = [scenario.layout] + ([scenario.decode_layout] if scenario.decode_layout else [])
    systems = [(scenario.system, scenario.calibration)] + ([(scenario.prefill_system, None)]
                                                           if scenario.prefill_system else [])
    return case_flags(systems, scenario.model, scenario.engine, layouts, scenario.mtp_tokens)


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
        cal = s.calibration or catalog.calibration(s.system.chip)
        stack = s.system.chip.software_stack
        notes = list(s.notes) + list(result.assumptions) + [f"calibration: {cal.basis or cal.id}"] + (
            [f"engine profile {s.engine.id} was fitted on {s.engine.stack}, not on this chip's {stack}"]
            if stack and s.engine.stack != stack and s.engine.measured else [])
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


def _phase_prediction(s: Scenario) -> Prediction:
    """A fixed-batch decode or prefill step (phase.py) as a prediction; step_s and the input rate in extra."""
    reserve = 1.0 - s.engine.kv_memory_fraction
    if s.phase == "decode":
        r: PhaseResult = decode_benchmark(deployment(s, s.decode_layout or s.layout), s.batch, s.context, reserve)
    else:
        r = prefill_benchmark(deployment(s, s.layout, s.prefill_system), s.batch, s.isl, reserve,
                              s.engine.prefill_scale)
    mem = r.memory
    if not bool(r.feasible):
        return _failed(s.case_id, f"does not fit: needs {-float(mem.free_bytes) / 1e9:.1f} GB more per chip "
                                  f"({mem.largest_term()} is the largest term)")
    step, nan = float(r.step_s), float("nan")
    return Prediction(case_id=s.case_id, ttft_s=step if s.phase == "prefill" else nan, tpot_s=float(r.tpot_s),
                      output_tokens_per_s_per_chip=float(r.output_tokens_per_s_per_chip),
                      output_tokens_per_s_per_user=1.0 / float(r.tpot_s), chips=float(r.chips),
                      memory_bytes_per_chip=float(mem.used_bytes), feasible=True,
                      note="; ".join(s.notes + r.assumptions), flags="; ".join(flags(s)),
                      extra={"step_s": step, "input_tokens_per_s_per_chip": float(r.input_tokens_per_s_per_chip),
                             "batch_per_rank": float(r.batch_per_rank)})


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
    percentiles added (memory and flags stay the steady model's; no 80% interval). Phase benchmarks (one
    fixed-batch step) have no client to simulate and stay as they are."""
    if not p.feasible or scenario.phase != "both":
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
    # the costliest runs first, in small chunks, so no process is left with a tail of big ones: a run's
    # cost grows with the requests it simulates (clients x prompts each), about concurrency
    order = sorted(range(len(pairs)), key=lambda i: -pairs[i][1].concurrency)
    size = max(1, min(len(pairs) // (processes * 8), 8))
    chunks = [[pairs[i] for i in order[j:j + size]] for j in range(0, len(order), size)]
    out: list[Prediction | None] = [None] * len(pairs)
    with ProcessPoolExecutor(processes) as pool:
        done = (p for part in pool.map(_simulate_all, chunks) for p in part)
        for i, p in zip(order, done):
            out[i] = p
    return [p for p in out if p is not None]


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
            results = ([_phase_prediction(s) for s in members] if members[0].phase != "both" else
                       [_with_intervals(p, s) if p.feasible else p
                        for p, s in zip(_predictions(members, _solve(members)), members)])
        except (ParityError, ValueError, ArithmeticError) as err:
            results = [_failed(s.case_id, str(err)) for s in members]
        for i, prediction in zip(indices, results):
            out[i] = prediction
    return [p for p in out if p is not None]


def predict_cases(cases: Sequence[Case], systems: Mapping[str, System] | None = None) -> list[Prediction]:
    """Predict typed cases; a case that makes no sense becomes feasible=false with the reason."""
    scenarios: list[Scenario | Prediction] = []
    for case in cases:
        try:
            scenarios.append(scenario_of(case, systems))
        except (ParityError, ValueError, TypeError, ArithmeticError) as err:
            scenarios.append(_failed(case.case_id, str(err)))
    priced = iter(predict_scenarios([s for s in scenarios if isinstance(s, Scenario)]))
    return [s if isinstance(s, Prediction) else next(priced) for s in scenarios]


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
