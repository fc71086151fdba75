"""`parity search --refine K`: the steady-state search's best candidates re-run by the step-level
simulator, each as the `parity serve --sim` case of its layout (same catalog lookups, same client)."""

from __future__ import annotations

import math
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import numpy as np

from parity import tomlwrite
from parity.errors import ParityError
from parity.flags import texts
from parity.hardware import System
from parity.parallel import map_chunks
from parity.plan import Precision
from parity.predict.case import Case
from parity.predict.scenario import scenario_of
from parity.predict.simulated import benchmark_of, simulate_scenario, simulated_flags
from parity.predict.steady import flags, interval_bounds
from parity.uncertainty import widening
from parity.search import MAX_DECODE_WORKERS, Candidate, whole_workers
from parity.simulate.benchmark import Benchmark
from parity.simulate.results import SimResult
from parity.simulate.clients import mean_length
from parity.simulate.targets import LatencyTarget
from parity.units import counted, whole

__all__ = ["REFINE_KEYS", "MAX_DECODE_WORKERS", "refine_order", "case_of_candidate", "sweep_axes", "sweep_note",
           "refine_candidate", "refine_candidates", "sim_meets", "first_wave_s", "prefill_for_first_wave",
           "percentile_probes", "SIM_RATE_MARGIN", "PERCENTILE_RUNS", "DEFAULT_REFINE_MAX_CLIENTS", "ARRIVALS",
           "poisson_rate", "SIM_SHORTFALL"]

# the simulator's figures a refined row carries, next to the steady-state ttft_s and tpot_s
REFINE_KEYS = ("sim_ttft_s", "sim_ttft_p50_s", "sim_ttft_p90_s", "sim_ttft_p99_s", "sim_tpot_s", "sim_tpot_p50_s",
               "sim_tpot_p90_s", "sim_tpot_p99_s", "sim_tokens_per_s_per_chip", "sim_tokens_per_s_per_user",
               "sim_chips", "sim_case", "sim_flags", "sim_ttft_s_low", "sim_ttft_s_high", "sim_tpot_s_low",
               "sim_tpot_s_high", "sim_tokens_per_s_per_chip_low", "sim_tokens_per_s_per_chip_high", "sim_rate_share")
# a refined row's 80% bounds: its key -> the prediction's (predict.steady.interval_bounds)
_BOUNDS = {f"sim_{k}": k for k in ("ttft_s_low", "ttft_s_high", "tpot_s_low", "tpot_s_high")} | {
    f"sim_tokens_per_s_per_chip_{end}": f"output_tokens_per_s_per_chip_{end}" for end in ("low", "high")}
# a configuration is worth simulating against percentile targets when its steady rate is at least this share of the
# best simulated rate found: the simulated rate of a configuration runs near its steady one, not always below it
SIM_RATE_MARGIN = 0.8
# a simulated run sustaining under 1 - this share of the steady rate a configuration is credited with is said to (a
# fleet's note): a shortfall past the ~1% by which a finite run's random draws move its rate (1 / sqrt(requests) at
# the ~8,000 requests of a 768-client run), and far inside the steady model's own 80% interval
SIM_SHORTFALL = 0.03
# simulations one system's configurations get under percentile targets unless told otherwise (seconds to a minute)
PERCENTILE_RUNS = 48
# unless told otherwise, candidates with more clients than this are not simulated: a closed loop of 10 requests per
# client at 16k clients takes seconds, and a plain search should stay well under one
DEFAULT_REFINE_MAX_CLIENTS = 2048
# how a refined candidate's requests arrive (refine_candidate): the benchmark's closed loop, or Poisson arrivals
ARRIVALS = ("closed", "poisson")


def refine_order(frontier: Sequence[Candidate]) -> list[int]:
    """Frontier indices, best first: those meeting the targets by tokens/s per chip (the search's own
    ranking of its best), then the rest by tokens/s per chip."""
    return sorted(range(len(frontier)), key=lambda i: (not frontier[i].meets_targets,
                                                       -frontier[i].tokens_per_s_per_chip))


def _workers(candidate: Candidate) -> tuple[int, int]:
    """(prefill, decode) whole workers of the candidate: those the search priced (its decode_workers, with its
    prefill-per-decode ratio times as many prefill workers); for a ratio no whole count of them gives (one raised
    for a first wave, prefill_for_first_wave), the whole workers nearest it (search.whole_workers)."""
    ratio = candidate.prefill_workers_per_decode_worker
    if ratio <= 0:
        return 1, 1
    prefill = ratio * candidate.decode_workers
    if abs(prefill - round(prefill)) < 1e-9 and round(prefill) >= 1:
        return round(prefill), candidate.decode_workers
    p, d = whole_workers(np.asarray([ratio]))
    return int(p[0]), int(d[0])


def case_of_candidate(candidate: Candidate, model: str, system: str, engine: str, precision: Precision, isl: int,
                      osl: int, mtp_tokens: int = 0, rank_per_die: bool = False) -> Case:
    """The `parity serve` case of a search candidate: its layouts, formats and clients (all the decode
    workers' clients when disaggregated, on whole workers: _workers); `mtp_tokens` drafts a decode step at the
    model's published acceptance, and one rank per die of a multi-die package (`rank_per_die`), as the search ran."""
    formats = dict(weights=precision.weights, moe_weights=precision.expert_weights, kv=precision.kv_cache,
                   mtp_tokens=mtp_tokens, rank_per_die=rank_per_die)
    if candidate.mode == "agg":
        return Case(case_id="refine", model=model, system=system, engine=engine, isl=isl, osl=osl,
                    concurrency=max(1, round(candidate.concurrency)), layout=candidate.layout, **formats)
    prefill, decode = _workers(candidate)
    return Case(case_id="refine", model=model, system=system, engine=engine, isl=isl, osl=osl, mode="disagg",
                concurrency=max(1, round(candidate.concurrency)) * decode, layout=candidate.layout,
                decode_layout=candidate.decode_layout, prefill_workers=prefill, decode_workers=decode, **formats)


def sweep_axes(case: Case, *, moe: bool) -> dict[str, list[object]]:
    """A candidate's case (case_of_candidate: layouts, whole workers, clients, formats, MTP drafts, one rank per die)
    as a `parity sweep` spec's [axes], one value each, its system the `variant` axis (a what-if system runs in a sweep,
    not in `parity serve`): the columns a sweep row needs to price the case as given. A field at the sweep's default is
    left out: the generic engine, moe_weights as weights, no MTP, attn_dp 1, no expert placement, and rank_per_die
    but where true (case_of_candidate sets it on a multi-die package only, where the sweep's default is true too).
    `moe`: the model has experts, whose split moe_ep states (moe_tp follows from it, as serve_command says it)."""
    disagg = case.mode == "disagg"
    axes: dict[str, object] = {"variant": case.system, "model": case.model}
    axes |= {"engine": case.engine} if case.engine not in ("", "generic") else {}
    axes |= {key: getattr(case, key) for key in ("weights", "kv") if getattr(case, key)}
    axes |= {"moe_weights": case.moe_weights} if case.moe_weights not in ("", case.weights) else {}
    axes |= {"isl": case.isl, "osl": case.osl} | ({"mode": "disagg"} if disagg else {})
    layouts = ((case.layout, "prefill_"), (case.decode_layout, "decode_")) if disagg else ((case.layout, ""),)
    least = {"tp": 0, "pp": 0, "attn_dp": 1, "moe_ep": 0 if moe else math.inf}  # stated above these; the rest above 0
    for layout, prefix in layouts:
        axes |= {f"{prefix}{key}": getattr(layout, key) for key in _LAYOUT_AXES
                 if getattr(layout, key) > least.get(key, 0)}
    axes |= {"prefill_workers": case.prefill_workers, "decode_workers": case.decode_workers} if disagg else {}
    axes |= {"concurrency": case.concurrency} | ({"mtp_tokens": case.mtp_tokens} if case.mtp_tokens else {})
    axes |= {"rank_per_die": True} if case.rank_per_die else {}
    return {key: [value] for key, value in axes.items()}


_LAYOUT_AXES = ("tp", "pp", "attn_dp", "moe_ep", "redundant_experts", "shared_expert_replicas")


def sweep_note(case: Case, *, moe: bool) -> str:
    """How a sweep prices a candidate's case (sweep_axes) of a what-if system, whose whole workers and clients no
    other column gives (a compare row's serve_note said only '`parity sweep` ... prices a configuration of it', and
    2 decode workers at the base row's 1,064 clients priced 1,646 tok/s/chip where the row's 1 prefill + 1 decode
    worker at 532 give its 1,790: report-only tester fuzzCC 1): '1 prefill + 1 decode worker at 532 clients:
    `parity sweep` with the same [[variant]] and these axes prices it: variant = ["910c-2x-bw"], ...'."""
    workers = (f"{case.prefill_workers} prefill + {counted(case.decode_workers or 1, 'decode worker')}"
               if case.mode == "disagg" else "1 worker")
    axes = ", ".join(f"{key} = {tomlwrite.value(values)}" for key, values in sweep_axes(case, moe=moe).items())
    return (f"{workers} at {case.concurrency:,} clients: `parity sweep` with the same [[variant]] and these axes "
            f"prices it: {axes}")


def _described(case: Case) -> str:
    """What was simulated, e.g. 'disagg: 2 x tp1 prefill, 1 x tp1-pp2 decode, 384 clients, fp8 weights, fp8 KV'."""
    if case.mode == "agg":
        workers = f"agg: 1 x {case.layout}"
    else:
        workers = (f"disagg: {case.prefill_workers} x {case.layout} prefill, {case.decode_workers} x "
                   f"{case.decode_layout} decode")
    return f"{workers}, {case.concurrency} clients, {case.weights} weights, {case.kv} KV"


def poisson_rate(candidate: Candidate, case: Case, closed: Benchmark | None = None) -> float:
    """[requests/s] at which the benchmark's requests carry the output tokens/s the candidate's deployment (the
    case's clients on its whole workers) sustains in the steady model, each client a request of osl tokens at a
    time: clients x osl / (TTFT + osl x TPOT), over the mean output length the client draws (0.9 x osl for lengths
    in [0.8, 1] x nominal), so the simulated load is the load the configuration is credited with. `closed`: the
    case's closed-loop benchmark, where the caller has it (else drawn up here)."""
    client = (closed or benchmark_of(scenario_of(case))).client
    drawn = mean_length(case.osl, client.range_ratio)
    return case.concurrency * case.osl / (candidate.ttft_s + case.osl * candidate.tpot_s) / drawn


def _sent(case: Case, bench: Benchmark, chips: float) -> str:
    """What the simulated client sent, for sim_case: its lengths, and under Poisson arrivals their rate and the tokens
    they carry at the client's mean drawn lengths (mean_length), per chip of the run, where the steady-state figures'
    lengths are fixed: ', lengths uniform in [0.8, 1] x nominal, Poisson arrivals at 13.7 requests/s carrying 1,579
    output tokens/s a chip (3,158 with their prompts)'."""
    said, offered = f", {bench.client.lengths}", bench.offered_output_tokens_per_s()
    if not bench.request_rate or offered is None:
        return said
    output = offered / chips
    total = output + bench.request_rate * mean_length(case.isl, bench.client.range_ratio) / chips
    return (f"{said}, Poisson arrivals at {bench.request_rate:,.3g} requests/s carrying {output:,.0f} output tokens/s "
            f"a chip ({total:,.0f} with their prompts)")


def _rate_share(candidate: Candidate, sim: SimResult, open_loop: bool) -> float:
    """The share of the candidate's steady-state output tokens/s per chip that its simulated run sustains. The
    closed loop's: the simulated rate over it. Poisson arrivals carry the steady rate (poisson_rate), so the share is
    the rate the run serves them at: 1 where its queue holds, 1 / (1 + its TTFT growth) where it grows (SimResult:
    the growth is the arrival rate over the served rate, less 1); the run's own rate, first send to last token,
    counts the drain after the last arrival and reads lower where the run keeps up (Qwen3-235B on 8 H20s at 13.7
    requests/s: 555.8 s of arrivals, 582.7 s in all, 1,518 tok/s/chip of the 1,579 carried)."""
    if not open_loop:
        return sim.output_tokens_per_s_per_chip / candidate.tokens_per_s_per_chip
    growth = sim.ttft_growth if math.isfinite(sim.ttft_growth) else 0.0
    return 1.0 / (1.0 + max(growth, 0.0))


def refine_candidate(candidate: Candidate, model: str, system: str, engine: str, precision: Precision, isl: int,
                     osl: int, mtp_tokens: int = 0, rank_per_die: bool = False,
                     arrivals: str = "closed", systems: Mapping[str, System] | None = None) -> dict[str, object]:
    """The candidate's row with the simulator's TTFT and TPOT (mean, p50, p90, p99), throughput and chips (REFINE_KEYS);
    sim_case says what was simulated (its workers, clients, formats, the client's lengths, and under Poisson arrivals
    their rate and the tokens they carry: _sent), or why the simulation failed (figures NaN); sim_rate_share the
    share of the candidate's steady rate the run sustains (_rate_share); sim_flags the run's own flag
    (SimResult.kv_flag: KV-bound) as a list, empty where none; sim_*_low and sim_*_high the 80% intervals of the
    simulator's TTFT, TPOT and throughput, from its own residual bands, widened where the run is flagged, as `parity
    serve --sim` gives them for the same case (predict.simulated: NaN for Poisson arrivals, which have no bands).
    `arrivals`: "closed", the benchmark's clients in a closed loop (its first wave, every client at once, counted);
    "poisson", the same number of requests arriving at random at the rate the configuration sustains (poisson_rate), as
    production traffic does. `systems`: systems by name beside the catalog's (what-if variants), as scenario_of takes
    them."""
    if arrivals not in ARRIVALS:
        raise ParityError(f"arrivals must be one of {', '.join(ARRIVALS)}, got {arrivals!r}")
    row = candidate.to_dict()
    case = case_of_candidate(candidate, model, system, engine, precision, isl, osl, mtp_tokens, rank_per_die)
    nan = math.nan
    try:
        scenario = scenario_of(case, systems)
        closed = benchmark_of(scenario)
        rate = poisson_rate(candidate, case, closed) if arrivals == "poisson" else None
        bench = benchmark_of(scenario, request_rate=rate, poisson=True,  # the closed loop's number of requests
                             num_prompts=closed.arrivals().num_prompts) if rate else closed
        sim = simulate_scenario(scenario, bench)
    except (ParityError, ValueError, ArithmeticError) as err:
        return {**row, **{k: nan for k in REFINE_KEYS}, "sim_case": f"simulation failed: {err}", "sim_flags": []}
    latency = sim.latency
    bounds = {} if rate else interval_bounds(
        scenario, sim.ttft_s, sim.tpot_s, sim.output_tokens_per_s_per_chip,
        widening(simulated_flags(flags(scenario), sim, bench, scenario.engine, scenario.mode)), "sim")
    return {**row, **{f"sim_{k}": latency[k] for k in ("ttft_s", "ttft_p50_s", "ttft_p90_s", "ttft_p99_s", "tpot_s",
                                                       "tpot_p50_s", "tpot_p90_s", "tpot_p99_s")},
            "sim_tokens_per_s_per_chip": sim.output_tokens_per_s_per_chip,
            "sim_tokens_per_s_per_user": sim.output_tokens_per_s_per_user, "sim_chips": whole(sim.chips),
            "sim_case": _described(case) + _sent(case, bench, sim.chips),
            "sim_flags": texts(filter(None, (sim.kv_flag(),))),
            "sim_rate_share": _rate_share(candidate, sim, rate is not None),
            **{key: bounds.get(bound, nan) for key, bound in _BOUNDS.items()}}


def _refine_chunk(chunk: list[Candidate], model: str, system: str, engine: str, precision: Precision, isl: int,
                  osl: int, mtp_tokens: int, rank_per_die: bool, arrivals: str) -> list[dict[str, object]]:
    return [refine_candidate(c, model, system, engine, precision, isl, osl, mtp_tokens, rank_per_die, arrivals)
            for c in chunk]


def refine_candidates(candidates: Sequence[Candidate], model: str, system: str, engine: str, precision: Precision,
                      isl: int, osl: int, processes: int = 1, mtp_tokens: int = 0,
                      rank_per_die: bool = False, arrivals: str = "closed",
                      progress: Callable[[int], None] | None = None) -> list[dict[str, object]]:
    """refine_candidate of each candidate, in order, one simulation per task over `processes` processes;
    `mtp_tokens` drafts a decode step, and one rank per die of a multi-die package with `rank_per_die`, as the
    search ran; `arrivals` as refine_candidate's. progress(1) as each simulation comes back."""
    run = functools.partial(_refine_chunk, model=model, system=system, engine=engine, precision=precision, isl=isl,
                            osl=osl, mtp_tokens=mtp_tokens, rank_per_die=rank_per_die, arrivals=arrivals)
    told = (lambda part: progress(len(part))) if progress else None
    return [row for part in map_chunks(run, [[c] for c in candidates], processes, progress=told) for row in part]


def sim_meets(row: Mapping[str, object], percentiles: Sequence[LatencyTarget]) -> bool:
    """A refined row meets percentile targets when the steady-state screen passed (its means within the same
    bounds) and each simulated percentile (row['sim_ttft_p99_s'], ...) is within its bound; a failed
    simulation (NaN) meets nothing."""
    values = [float(row[f"sim_{t.key}"]) for t in percentiles]  # type: ignore[arg-type]
    return bool(row["meets_targets"]) and all(math.isfinite(v) and v <= t.seconds for v, t in zip(values, percentiles))


def first_wave_s(candidate: Candidate) -> float:
    """[s] to prefill a closed loop's first wave, every client's prompt at once, at the full-step prompt rate of the
    workers that prefill (Candidate.prefill_prompts_per_s; the disaggregated ones in whole workers, _workers): about
    a benchmark run's p99 TTFT, whose first wave is a tenth of its requests (InferenceX's ten prompts a client at
    0.8-1 x the prompt length: 142 simulated runs of DeepSeek-R1 on H20 layouts measured 0.84-0.93 of it, median
    0.88, 2026-12-05). NaN where the candidate carries no prompt rate."""
    rate = candidate.prefill_prompts_per_s
    if not rate > 0:
        return math.nan
    if candidate.mode == "agg":
        return candidate.concurrency / rate
    prefill, decode = _workers(candidate)
    return candidate.concurrency * decode / (prefill * rate)


# a p99 TTFT below this share of the first wave's prefill (first_wave_s) is not expected: a load whose first wave
# takes longer than its bound over this share is not simulated (the simulator's runs measured 0.84 at least)
FIRST_WAVE_LEAST_SHARE = 0.75


def prefill_for_first_wave(candidate: Candidate, bound_s: float) -> Candidate | None:
    """A disaggregated candidate whose first wave (first_wave_s) exceeds `bound_s` [s], with prefill workers enough
    for it to fit: the prefill workers per decode worker raised to clients / (bound x prompt rate), their chips added
    (counted as the candidate counts them: packages where it was searched a rank per die) and its tok/s per chip
    lowered in proportion (more prefill only shortens the TTFT; the decode is the same). None where the candidate
    is aggregated, has no prompt rate, or its first wave already fits."""
    rate = candidate.prefill_prompts_per_s
    if candidate.mode != "disagg" or not rate > 0 or not first_wave_s(candidate) > bound_s:
        return None
    ratio, before = candidate.concurrency / (bound_s * rate), candidate.prefill_workers_per_decode_worker
    # chips in the candidate's own count (packages of a multi-die chip searched a rank per die: per_package)
    decode_chips = candidate.decode_layout.chips  # type: ignore[union-attr]
    unit = candidate.chips / (decode_chips + before * candidate.layout.chips)
    chips = candidate.chips + (ratio - before) * candidate.layout.chips * unit
    return replace(candidate, prefill_workers_per_decode_worker=ratio, chips=chips,
                   tokens_per_s_per_chip=candidate.tokens_per_s_per_chip * candidate.chips / chips)


def _first_wave_bound(percentiles: Sequence[LatencyTarget]) -> float:
    """The tightest p99 TTFT bound among the targets [s] (inf: none), the one first_wave_s estimates."""
    return min((t.seconds for t in percentiles if t.metric == "ttft" and t.statistic == "p99"), default=math.inf)


def percentile_probes(candidates: Sequence[Candidate], simulate: Callable[[Candidate], dict[str, object]],
                      percentiles: Sequence[LatencyTarget], budget: int, closed_loop: bool = True,
                      beat: float = 0.0) -> list[tuple[Candidate, dict[str, object]]]:
    """Each configuration probed in search of the fastest (by simulated tok/s/chip) that meets percentile targets,
    with its simulated row and `sim_meets_targets` (sim_meets), in the order run; `candidates`: those whose means
    meet the targets' bounds. A percentile grows with the load on one layout but not across layouts (a
    disaggregated pair with one prefill worker takes a closed loop's first wave of prompts far slower than an
    aggregated worker at a tenth of its rate), so each layout (mode and worker layouts) is searched apart. Under a
    p99 TTFT bound, the closed loop's first wave (first_wave_s) estimates each load's percentile: layouts go best
    estimated rate first (the most tok/s/chip of a load whose first wave fits the bound), each starting at that
    load, and loads whose first wave exceeds the bound by more than 1 / FIRST_WAVE_LEAST_SHARE are not run; without
    such a bound, best steady rate first, from the lightest load. A disaggregated layout is also searched with
    prefill workers enough for each load's first wave to fit the bound (prefill_for_first_wave), a layout of its
    own. Of a layout's loads, those that could beat the best simulated rate found so far (a steady rate of at least
    SIM_RATE_MARGIN of it) are searched for the heaviest that meets the targets. The next load probed is where the
    percentile, drawn as a line through the nearest loads that met and missed (through zero from a single one: a
    closed loop's first wave grows with its clients), reaches its bound, within the loads not yet decided (halving
    them where the line says nothing); a layout whose lighter load misses by as much as a heavier one is left.
    `closed_loop` False: the simulations' requests arrive at random, with no first wave to estimate. `beat`: the
    simulated tok/s/chip a configuration must beat to count, as if found already (percentile_choice: wider workers
    need WIDER_GAIN x the best of one system's). At most `budget` runs; a failed simulation meets nothing."""
    bound = _first_wave_bound(percentiles) if closed_loop else math.inf  # open-loop arrivals have no first wave
    wave = {id(c): first_wave_s(c) for c in candidates} if math.isfinite(bound) else {}

    def plausible(c: Candidate) -> bool:
        return not wave.get(id(c), 0.0) * FIRST_WAVE_LEAST_SHARE > bound  # NaN and no estimate: plausible

    def estimated(group: list[Candidate]) -> float:
        """The group's best steady rate at a load whose first wave fits the bound (its best rate, no bound)."""
        return max((c.tokens_per_s_per_chip for c in group if not wave or wave[id(c)] <= bound), default=0.0)

    layouts: dict[tuple[object, ...], list[Candidate]] = {}
    for c in candidates:
        if plausible(c):
            layouts.setdefault((c.mode, c.layout, c.decode_layout), []).append(c)
        if (more := prefill_for_first_wave(c, bound)) is not None:  # its loads apart: fewer tok/s/chip each
            wave[id(more)] = first_wave_s(more)
            layouts.setdefault((c.mode, c.layout, c.decode_layout, "first wave"), []).append(more)
    probes: list[tuple[Candidate, dict[str, object]]] = []
    best = beat

    def probe(c: Candidate) -> float:
        """The candidate's worst percentile over its bound (1: at the bound; NaN: the simulation failed)."""
        nonlocal best
        row = simulate(c)
        row = {**row, "sim_meets_targets": sim_meets(row, percentiles)}
        probes.append((c, row))
        if row["sim_meets_targets"]:
            best = max(best, float(row["sim_tokens_per_s_per_chip"]))  # type: ignore[arg-type]
        over = max(float(row[f"sim_{t.key}"]) / t.seconds for t in percentiles)  # type: ignore[arg-type]
        return over if row["sim_meets_targets"] or not over <= 1 else math.inf  # a failed screen misses

    for group in sorted(layouts.values(), key=lambda g: (-estimated(g), -max(c.tokens_per_s_per_chip for c in g))):
        hopeful = sorted((c for c in group if c.tokens_per_s_per_chip >= SIM_RATE_MARGIN * best),
                         key=lambda c: c.tokens_per_s_per_chip)
        if not hopeful or len(probes) >= budget:
            continue
        fits = [i for i, c in enumerate(hopeful) if wave and wave[id(c)] <= bound]
        first = fits[-1] if fits else 0  # the heaviest load whose first wave fits, else the lightest
        met: tuple[float, float] | None = None
        missed: tuple[float, float] | None = None
        low, high = 0, len(hopeful)  # hopeful[:low] meet; hopeful[high:] miss
        middle = first
        while True:
            over = probe(hopeful[middle])
            if over <= 1:
                low, met = middle + 1, (hopeful[middle].concurrency, over)
            elif missed and met is None and not over < missed[1]:
                break  # a lighter load missed by as much: the percentile does not fall with the load here
            else:
                high, missed = middle, (hopeful[middle].concurrency, over)
            if low >= high or len(probes) >= budget:
                break
            (l0, r0), (l1, r1) = (met if met and missed else (0.0, 0.0)), (missed or met)  # type: ignore[misc]
            reach = l0 + (1.0 - r0) * (l1 - l0) / (r1 - r0) if r1 > r0 and math.isfinite(r1) else math.nan
            under = [i for i in range(low, high) if hopeful[i].concurrency <= reach]
            middle = under[-1] if under else low if math.isfinite(reach) else (low + high) // 2
    return probes
