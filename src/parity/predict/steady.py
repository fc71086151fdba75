"""The steady-state pricing of scenarios: a group sharing a deployment solved as arrays, with 80%
intervals and flags, or one fixed-batch phase step."""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from collections.abc import Callable, Sequence

import numpy as np

from parity import catalog
from parity.engine import EngineProfile
from parity.errors import ParityError
from parity.flags import Flag
from parity.hardware import System, rank_memory_text, system_text
from parity.memory import MemoryPlan
from parity.plan import Layout
from parity.phase import PhaseResult, decode_benchmark, prefill_benchmark
from parity.predict.scenario import Prediction, Scenario, _failed, deployment
from parity.serving import ServingResult, Workload, serve_aggregated, serve_disaggregated
from parity.serving.regimes import large_ep_decode_flag
from parity.simulate import KV_BOUND_SHARE
from parity.uncertainty import CUDA_ONLY, Intervals, calibration_label, kernel_figures_note, widening, case_flags, \
    interval_kind, package_flag, capped_rate, compute_ceiling

KV_LOAD_FLAG = "KV-bound load"  # the steady model's flag for clients queued for a KV slot (kv_load_flag)


def _solve(group: Sequence[Scenario]) -> ServingResult:
    first = group[0]
    workload = Workload(isl=np.array([s.isl for s in group], float), osl=np.array([s.osl for s in group], float),
                        concurrency=np.array([s.concurrency for s in group], float),
                        range_ratio=np.array([1.0 if s.random_range_ratio is None else s.random_range_ratio
                                              for s in group], float))
    if first.mode == "agg":
        return serve_aggregated(deployment(first, first.layout), first.engine, workload)
    assert first.decode_layout is not None
    return serve_disaggregated(deployment(first, first.layout, first.prefill_system),
                               deployment(first, first.decode_layout, decode=True), first.engine,
                               workload, first.prefill_workers, first.decode_workers, first.prefill_batch,
                               first.decode_batch)


def flags(scenario: Scenario) -> tuple[Flag, ...]:
    """Ways a case lies outside what the model was fitted and checked on (case_flags, a multi-die package run as
    one device, a large-EP decode step: regimes.large_ep_decode_flag, and what resolving the case raised); its
    longest sequence is the prompt plus the output (a decode step's: its context; a prefill step's: its prompt)."""
    layouts = [scenario.layout] + ([scenario.decode_layout] if scenario.decode_layout else [])
    systems = [(scenario.system, scenario.calibration)] + ([(scenario.prefill_system, None)]
                                                           if scenario.prefill_system else [])
    tokens = {"decode": scenario.context, "prefill": scenario.isl}.get(scenario.phase, scenario.isl + scenario.osl)
    packaged = tuple(filter(None, (package_flag(s) for s, _ in systems)))  # a package run as one device
    # the decode steps run on the decode layout (the only one of an aggregated worker); a prefill step has none, nor
    # a closed loop of one output token, its prompt's (osl 1: LMSYS's C02 prefill runs)
    prompt_only = scenario.phase == "prefill" or (scenario.phase == "both" and scenario.osl <= 1)
    decoding = None if prompt_only else large_ep_decode_flag(
        scenario.system, scenario.decode_layout or scenario.layout, "moe" in scenario.model.features)
    return case_flags(systems, scenario.model, scenario.engine, layouts, scenario.mtp_tokens, tokens,
                      scenario.precision.weights, scenario.precision.expert_weights,
                      scenario.precision.kv_cache) + packaged + tuple(filter(None, (decoding,))) + scenario.flags


def kv_load_flag(waiting: float, clients: float, engine: EngineProfile | None = None) -> Flag | None:
    """The steady model's flag where more clients than the KV caches hold queue for a slot: at least KV_BOUND_SHARE
    of them (the simulator's threshold for its own `KV-bound run`) and one whole client, else ''. An engine whose KV
    grows on demand does not queue them: it admits past the slots and preempts and recomputes (vLLM), or reserves
    outputs by a ratio it learns from its retractions (SGLang), which the steady model prices as the queue."""
    if not waiting >= max(KV_BOUND_SHARE * clients, 1.0):
        return None
    text = (f"{KV_LOAD_FLAG} ({waiting:,.0f} of {clients:,.0f} clients wait for a KV-cache slot, "
            f"{clients - waiting:,.0f} hold one): its TTFT is mostly that queue")
    if engine is not None and engine.kv_on_demand:
        text += (f"; engine {engine.id} grows KV on demand and preempts instead of queueing, so its TPOT and "
                 f"throughput may differ from this queue's (the simulator, --model-kind sim, runs the preemptions)")
    return Flag(KV_LOAD_FLAG, text)


def _intervals(model_kind: str = "steady") -> Intervals | None:
    table = catalog.uncertainty_table(model_kind)
    return Intervals.from_table(table) if table else None


def scenario_kind(scenario: Scenario) -> str:
    """The kind of case whose band an interval takes: agg, disagg, or disagg with its workers inferred, and the
    model's class where its bands stand apart (uncertainty.interval_kind)."""
    mode = "agg" if scenario.mode == "agg" else (
        "disagg" if scenario.prefill_workers is not None and scenario.decode_workers is not None
        else "disagg (workers inferred)")
    return interval_kind(mode, scenario.model)


_MODE_WORDS = {"agg": "aggregated", "disagg": "disaggregated",
               "disagg (workers inferred)": "disaggregated (workers inferred)"}


def interval_note(scenario: Scenario, model_kind: str = "steady") -> str:
    """Which residuals an interval comes from, as the assumptions say it: "80% intervals from held-out residuals
    of aggregated MLA-model runs" (scenario_kind: the mode, and the model's class where its band stands apart), and
    the user's bands file by its path where one is in effect."""
    mode, _, apart = scenario_kind(scenario).partition(", ")
    path = catalog.bands_path(model_kind)
    own = f" (user file {path}, not parity's)" if catalog.is_user(path) else ""
    return (f"80% intervals from held-out residuals of {_MODE_WORDS[mode]} {f'{apart.upper()}-model ' if apart else ''}"
            f"runs{own}")


def interval_bounds(scenario: Scenario, ttft_s: float, tpot_s: float, rate: float, widen: float,
                    model_kind: str = "steady") -> dict[str, float]:
    """The 80% bounds (ttft_s_low, ..., output_tokens_per_s_per_chip_high) from the bands of the model that
    made the figures, their log-width times `widen` (uncertainty.widening of the case's flags), the throughput's fast
    end (and TPOT's low end with it) no faster than the chips' compute at peak (_ceiling); {} where no bands are
    stored for that model."""
    intervals = _intervals(model_kind)
    if intervals is None:
        return {}
    out: dict[str, float] = {}
    for metric, value in (("ttft_s", ttft_s), ("tpot_s", tpot_s)):
        band = intervals.band(metric, scenario_kind(scenario))
        if band is not None:
            out[f"{metric}_low"], out[f"{metric}_high"] = band.around(value, widen)
    if "tpot_s_low" in out:  # throughput moves inversely with the per-token time
        out["output_tokens_per_s_per_chip_low"] = rate * tpot_s / out["tpot_s_high"]
        out["output_tokens_per_s_per_chip_high"], out["tpot_s_low"] = capped_rate(rate, tpot_s, out["tpot_s_low"],
                                                                                   _ceiling(scenario))
    return out


def _ceiling(scenario: Scenario) -> float:
    """[output tokens/s per chip] what a closed-loop run's chips could serve at their compute peak
    (uncertainty.compute_ceiling; the faster of a disaggregated run's two systems); inf for a phase benchmark."""
    if scenario.phase != "both":
        return math.inf
    formats = (scenario.precision.weights, scenario.precision.expert_weights, scenario.precision.attention_weights)
    return max(compute_ceiling(scenario.model, system.chip, formats, scenario.isl, scenario.osl)
               for system in filter(None, (scenario.system, scenario.prefill_system)))


def with_intervals(p: Prediction, scenario: Scenario) -> Prediction:
    """The steady model's prediction with its 80% intervals (interval_bounds) and its flags: the case's (flags)
    and the solution's own (a KV-bound load)."""
    raised = flags(scenario) + p.flags
    extra = {k: v for k, v in p.extra.items() if not k.endswith(("_low", "_high"))}
    bounds = interval_bounds(scenario, p.ttft_s, p.tpot_s, p.output_tokens_per_s_per_chip, widening(raised))
    note = "; ".join(filter(None, (p.note, interval_note(scenario) if bounds else "")))
    return dataclasses.replace(p, extra=extra | bounds, flags=tuple(raised), note=note)


def _unfit(s: Scenario, result: ServingResult, at: Callable[[object], float]) -> str:
    """Why a case does not fit: the memory its decode (or only) worker lacks per chip for one request alone, as
    fitting is decided (MemoryPlan.one_sequence: more clients queue for KV room), or its prefill worker's (which
    holds one prompt), and the lengths it was sized at (_sized_at). Summed over the clients, Llama-3.1-8B at 500,000
    tokens on an H100 lacked 13.9 / 79.5 / 473.1 GB at 1 / 2 / 8 clients, where 8 clients of 380,000 run."""
    prefill = result.prefill_memory
    if prefill is not None and not bool(at(prefill.fits)):
        system = s.prefill_system or s.system
        return shortfall_text(prefill, system, at, f"the prefill worker ({s.layout} on {system_text(system)}) ") + \
            _sized_at(s)
    return shortfall_text(result.memory.one_sequence(), s.system, at, "one request alone ") + _sized_at(s)


def _sized_at(s: Scenario) -> str:
    """', at the mean lengths drawn (450,000 prompt + 90 output tokens; the longest 500,000 + 100)': the
    lengths a shortfall is priced at (Workload.lengths): the means where lengths are drawn from a range
    (random_range_ratio below 1, as serve's steady model draws the client profile's), else the full ones, the longest
    any request has (the simulator's client draws up to them). The two models' shortfalls of one case so read as
    consistent: Llama-3.1-8B on an HGX H100 at 500k in / 100 out lacks 210.5 GB a chip at the longest, 184.3 GB at
    the mean (report-only tester fixec 2)."""
    ratio = 1.0 if s.random_range_ratio is None else s.random_range_ratio
    if ratio >= 1.0:
        return f", at the longest requests ({s.isl:,} prompt + {s.osl:,} output tokens)"
    isl, osl = Workload(isl=s.isl, osl=s.osl, concurrency=1, range_ratio=ratio).lengths()
    return (f", at the mean lengths drawn ({float(isl):,.0f} prompt + {float(osl):,.0f} output tokens; the longest "
            f"{s.isl:,} + {s.osl:,})")


def shortfall_text(mem: MemoryPlan, system: System, at: Callable[[object], float] = float, where: str = "") -> str:
    """Why `mem` does not fit on a rank of `system`, in words: the memory its device lacks per chip (per die, with
    what a die holds, on a system of one rank per die) and its largest term, or, where the host memory its
    offloaded KV cache fills is the tighter bound (MemoryPlan.host_binds), what the host lacks."""
    short = max(-at(mem.free_bytes), 0.0)
    if at(mem.host_binds):
        limit = f"does not fit: host memory is the limit{' for ' + where.strip() if where else ''}"
        room = f"the {max(at(mem.host_room_bytes), 0.0) / 1e9:,.1f} GB of host memory per chip left for it"
        return (f"{limit}: the offloaded KV cache ({at(mem.host_kv_bytes) / 1e9:,.1f} GB per chip) needs "
                f"{short / 1e9:,.1f} GB more than {room}" if short else
                f"{limit}: not even one sequence's offloaded KV cache fits in {room}")
    return (f"does not fit: {where}needs {short / 1e9:.1f} GB more per {rank_memory_text(system)} "
            f"({mem.largest_term(at)} is the largest term)"
            if short else f"does not fit: {where}not even one sequence's KV cache fits beside the weights")


def _predictions(group: Sequence[Scenario], result: ServingResult) -> list[Prediction]:
    out = []
    mem = result.memory
    for i, s in enumerate(group):
        def at(value: object) -> float:
            return float(np.broadcast_to(np.asarray(value, dtype=float), (len(group),))[i])
        feasible = bool(at(result.feasible))
        if not feasible:
            out.append(_failed(s.case_id, _unfit(s, result, at)))
            continue
        # a disaggregated deployment's chips hold two workers' memory: memory_bytes_per_chip is the most any holds
        held = _held("decode_", min(at(mem.used_bytes), at(mem.capacity_bytes)), s.system)
        if (prefill := result.prefill_memory) is not None:
            held |= _held("prefill_", min(at(prefill.used_bytes), at(prefill.capacity_bytes)),
                          s.prefill_system or s.system)
        per_die = {k: v for k, v in held.items() if k.endswith("_per_die")}
        per_chip = {k: v for k, v in held.items() if k.endswith("_per_chip")}
        # one output token a request: no decode step runs, so no TPOT nor per-user rate (as the simulator's record)
        tpot_s = at(result.tpot_s) if s.osl > 1 else float("nan")
        out.append(Prediction(
            case_id=s.case_id, ttft_s=at(result.ttft_s), tpot_s=tpot_s,
            output_tokens_per_s_per_chip=at(result.output_tokens_per_s) / at(result.chips),
            output_tokens_per_s_per_user=1.0 / tpot_s, chips=at(result.chips),
            memory_bytes_per_chip=max(per_chip.values()), feasible=True, note=case_note(s, result.assumptions),
            flags=tuple(filter(None, (kv_load_flag(at(result.kv_waiting), s.concurrency, s.engine),))),
            extra={"decode_batch": at(result.decode_batch), "prefill_utilization": at(result.prefill_utilization),
                   "prefill_workers": at(result.prefill_workers), "decode_workers": at(result.decode_workers)}
            | ({"memory_bytes_per_die": max(per_die.values())} if per_die else {})
            | (held if prefill is not None else {})))
    return out


def _held(prefix: str, used_bytes: float, system: System) -> dict[str, float]:
    """The memory a worker's chips hold from what its busiest rank holds (`used_bytes`), keyed after `prefix`
    ('decode_', 'prefill_', ''): PREFIXmemory_bytes_per_chip, a package's, as chips and the per-chip rates count
    packages, and on a system of one rank per die (hardware.per_die) PREFIXmemory_bytes_per_die, the die's; a
    package holds its dies' ranks, priced as the busiest rank's times its dies."""
    dies = system.chip.ranks_per_package
    return {f"{prefix}memory_bytes_per_chip": used_bytes * dies} | (
        {f"{prefix}memory_bytes_per_die": used_bytes} if dies > 1 else {})


def case_note(s: Scenario, assumptions: Sequence[str]) -> str:
    """What a scenario's pricing assumed, in one text, as every way of pricing it says it (the closed loop, one
    --phase step, MLPerf's offline and server scenarios): what resolving the case said, the pricing's own
    `assumptions`, the calibration that priced the chip, and where the engine profile was fitted on another software
    stack than the chip's or the engine is immature there."""
    stack = s.system.chip.software_stack
    foreign = ([f"engine profile {s.engine.id} does not run on this chip's {stack} (NVIDIA's TensorRT-LLM builds on "
                "CUDA alone): priced as if it did" if (s.engine.base or s.engine.id) in CUDA_ONLY else
                f"engine profile {s.engine.id} was fitted on {s.engine.stack}, not on this chip's {stack}"]
               if stack and s.engine.stack != stack and s.engine.measured else [])
    return "; ".join((*s.notes, *assumptions, *experts_notes(s), _calibration_note(s), *foreign,
                      *filter(None, (catalog.maturity_note(s.engine, stack),))))


def experts_notes(s: Scenario) -> tuple[str, ...]:
    """What the pricing of a mixture-of-experts scenario assumed of its experts' exchange (plan.sharding): how the
    tokens of attention-DP prompt steps reach the experts, an all-to-all or, where the engine gathers them by
    all-reduce (EngineProfile.prompt_gather_all_reduce, SGLang without an expert all-to-all backend), no all-to-all;
    and, where an all-to-all dispatch and combine run (attention DP, experts spread, no gathering MoE backend),
    whether two-batch overlap hides them under computation (the scenario's moe_overlap, else the engine's): not the
    host's overlap scheduling. () for a dense model, or one whose steps run no expert exchange."""
    if "moe" not in s.model.features:
        return ()
    prompts = s.phase != "decode"  # one --phase decode step runs no prompt
    decodes = s.phase != "prefill"
    prompt_layout, decode_layout = s.layout, s.decode_layout or s.layout
    gathered = s.engine.prompt_gather_all_reduce

    def spread(layout: Layout, gathering: bool) -> bool:  # an all-to-all runs: attention DP, experts spread
        return layout.attn_dp > 1 and layout.resolved().moe_ep > 1 and not gathering

    notes = []
    if prompts and prompt_layout.attn_dp > 1 and not s.moe_gather:
        notes.append("attention-DP prompt steps gather the group's tokens for the experts by all-reduce, no "
                     "all-to-all (SGLang without an expert all-to-all backend, which serve --moe-all-to-all or a "
                     "table's moe_all_to_all sets)" if gathered else
                     "attention-DP prompt steps send tokens to the experts by all-to-all"
                     if spread(prompt_layout, False) else "")
    exchanged = ((prompts and not gathered and spread(prompt_layout, s.moe_gather))
                 or (decodes and spread(decode_layout, s.decode_moe_gather if s.mode == "disagg" else s.moe_gather)))
    if exchanged:
        overlap = s.engine.moe_overlap if s.moe_overlap is None else s.moe_overlap
        notes.append(f"expert dispatch/combine overlapped with computation (two-batch overlap, share {overlap:g})"
                     if overlap else "expert dispatch/combine not overlapped with computation (no two-batch overlap)")
    return tuple(n for n in notes if n)


def _calibration_note(s: Scenario) -> str:
    """'calibration: BASIS': which calibration priced the chip and how it reached it (the user's file by its path),
    which of the chip's kernel figures it fitted on the chip and which it inherits (kernel_figures_note), and the
    engine profile where the user's file takes the place of parity's (catalog.engine_user_note)."""
    cal = s.calibration or catalog.calibration(s.system.chip)
    return "; ".join(filter(None, (calibration_label(s.system, cal), kernel_figures_note(s.system, cal),
                                   catalog.engine_user_note(s.engine))))


def _phase_prediction(s: Scenario) -> Prediction:
    """A fixed-batch decode or prefill step (phase.py) as a prediction; step_s and the input rate in extra."""
    reserve = 1.0 - s.engine.kv_memory_fraction
    if s.phase == "decode":
        r: PhaseResult = decode_benchmark(deployment(s, s.decode_layout or s.layout, decode=s.mode == "disagg"),
                                          s.batch, s.context, reserve, s.engine.decode_host_token_s)
    else:
        r = prefill_benchmark(deployment(s, s.layout, s.prefill_system), s.batch, s.isl, reserve,
                              s.engine.prefill_scale)
    mem = r.memory
    if not bool(r.feasible):
        system = s.prefill_system or s.system if s.phase == "prefill" else s.system
        return _failed(s.case_id, shortfall_text(mem, system))
    step, nan = float(r.step_s), float("nan")
    held = _held("", float(mem.used_bytes), s.prefill_system or s.system if s.phase == "prefill" else s.system)
    raised = flags(s)
    bounds = phase_bounds(s, r, widening(raised))
    note = "; ".join(filter(None, (case_note(s, r.assumptions), phase_interval_note(s) if bounds else "")))
    return Prediction(case_id=s.case_id, ttft_s=step if s.phase == "prefill" else nan, tpot_s=float(r.tpot_s),
                      output_tokens_per_s_per_chip=float(r.output_tokens_per_s_per_chip),
                      output_tokens_per_s_per_user=1.0 / float(r.tpot_s), chips=float(r.chips),
                      memory_bytes_per_chip=held["memory_bytes_per_chip"], feasible=True,
                      note=note, flags=tuple(raised),
                      extra={"step_s": step, "input_tokens_per_s_per_chip": float(r.input_tokens_per_s_per_chip),
                             "batch_per_rank": float(r.batch_per_rank),
                             "busiest_rank_batch": float(r.busiest_batch_per_rank)}
                      | bounds | {k: v for k, v in held.items() if k == "memory_bytes_per_die"})


# the closed loop's band a phase step's interval takes: a decode step's is its TPOT, a prefill step's its TTFT (the
# prompt's prefill, less the queueing a closed loop adds); figures that move with the step (its time) or against it
# (its rates) take the band's ends in proportion
_PHASE_BAND = {"decode": ("tpot_s", ("step_s", "tpot_s"), ("output_tokens_per_s_per_chip",)),
               "prefill": ("ttft_s", ("step_s", "ttft_s"), ("input_tokens_per_s_per_chip",))}


def phase_bounds(s: Scenario, r: PhaseResult, widen: float) -> dict[str, float]:
    """The 80% bounds of a fixed-batch step (step_s_low, ..., tpot_s_high or ttft_s_high and the rate's): the steady
    model's band of the closed loop's TPOT (a decode step) or TTFT (a prefill step) for the case's kind
    (scenario_kind), its log-width times `widen` (uncertainty.widening of the case's flags) as the closed loop's;
    the step's time and its TPOT or TTFT take the band's ends, its rate their inverse. {} where no band is stored."""
    intervals = _intervals()
    metric, times, rates = _PHASE_BAND[s.phase]
    band = intervals.band(metric, scenario_kind(s)) if intervals is not None else None
    if band is None:
        return {}
    low, high = band.around(1.0, widen)  # the interval as ratios to the figure
    values = {"step_s": float(r.step_s), "tpot_s": float(r.tpot_s), "ttft_s": float(r.step_s),
              "output_tokens_per_s_per_chip": float(r.output_tokens_per_s_per_chip),
              "input_tokens_per_s_per_chip": float(r.input_tokens_per_s_per_chip)}
    return ({f"{k}_low": values[k] * low for k in times} | {f"{k}_high": values[k] * high for k in times}
            | {f"{k}_low": values[k] / high for k in rates} | {f"{k}_high": values[k] / low for k in rates})


def phase_interval_note(s: Scenario) -> str:
    """Where a phase step's interval comes from: '80% intervals from held-out residuals of aggregated MLA-model runs
    (the closed loop's TPOT band, about the decode step)' (interval_note, _PHASE_BAND)."""
    metric = _PHASE_BAND[s.phase][0].removesuffix("_s").upper()
    return f"{interval_note(s)} (the closed loop's {metric} band, about the {s.phase} step)"


def _predict_steady(scenarios: Sequence[Scenario],
                    progress: Callable[[int], None] | None = None) -> list[Prediction]:
    """Each scenario priced, those sharing a deployment solved together; progress(n) as each group's n are priced."""
    groups: dict[tuple[object, ...], list[int]] = defaultdict(list)
    for i, s in enumerate(scenarios):
        groups[s.group].append(i)
    out: list[Prediction | None] = [None] * len(scenarios)
    for indices in groups.values():
        members = [scenarios[i] for i in indices]
        try:
            results = ([_phase_prediction(s) for s in members] if members[0].phase != "both" else
                       [with_intervals(p, s) if p.feasible else p
                        for p, s in zip(_predictions(members, _solve(members)), members)])
        except (ParityError, ValueError, ArithmeticError) as err:
            results = [_failed(s.case_id, str(err)) for s in members]
        for i, prediction in zip(indices, results):
            out[i] = prediction
        if progress:
            progress(len(indices))
    return [p for p in out if p is not None]
