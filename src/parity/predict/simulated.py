"""Scenarios re-run by the step-level simulator (parity.simulate), over worker processes."""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from parity import catalog
from parity.engine import EngineProfile
from parity.errors import ParityError
from parity.flags import Flag
from parity.parallel import map_chunks
from parity.predict.scenario import Prediction, Scenario, _failed, deployment
from parity.uncertainty import widening
from parity.units import duration_text
from parity.predict.steady import KV_LOAD_FLAG, _held, _predict_steady, _solve, interval_bounds, interval_note
from parity.simulate import (LATENCY_KEYS, Benchmark, ClientProfile, SimResult, client_profile, cudnn_fp4_plan_builds,
                             mixes_prompts, simulate_aggregated, simulate_disaggregated)


def client_of(scenario: Scenario, client: str | None = None, open_loop: bool = False) -> ClientProfile:
    """The client profile that sends a row's requests: the named one (`client`, else the row's own, else
    InferenceX's where the row draws lengths at random, vLLM's for a row's open loop (`open_loop`: its request_rate
    sets the arrivals), aiconfigurator's otherwise); a row's random_range_ratio, where it gives one (1: fixed
    lengths), replaces the profile's, and otherwise an engine's sim_client_range_ratio replaces the aiconfigurator
    client's. The steady model draws lengths as it does, without a Benchmark (whose request limit is the
    simulator's)."""
    ratio = scenario.random_range_ratio
    name = client or scenario.client or ("inferencex" if ratio is not None and ratio < 1.0 else
                                         "vllm" if open_loop else "aiconfigurator")
    profile = client_profile(name)
    if ratio is not None:
        return dataclasses.replace(profile, range_ratio=ratio)
    if profile.id == "aiconfigurator" and scenario.engine.sim_client_range_ratio > 0:
        return dataclasses.replace(profile, range_ratio=scenario.engine.sim_client_range_ratio)
    return profile


def benchmark_of(scenario: Scenario, client: str | None = None, **options: object) -> Benchmark:
    """The benchmark a row describes: its lengths and clients, from its client profile (client_of); a row's
    num_prompts replaces the profile's prompt count, and its request_rate (and max_concurrency) make the run an open
    loop where `options` name no arrivals of their own."""
    row_open_loop = bool(scenario.request_rate and "request_rate" not in options)  # vLLM's benchmark: --request-rate
    profile = client_of(scenario, client, row_open_loop)
    if scenario.num_prompts and not options.get("num_prompts") and not options.get("trace"):
        options = {**options, "num_prompts": scenario.num_prompts}
    if scenario.request_rate and "request_rate" not in options and not options.get("trace"):  # the row's open loop
        options = {**options, "request_rate": scenario.request_rate,
                   "max_concurrency": scenario.max_concurrency or None, "from_row": True}
    return Benchmark(isl=scenario.isl, osl=scenario.osl, concurrency=scenario.concurrency, client=profile,
                     **options)  # type: ignore[arg-type]


def deployed_engine(scenario: Scenario, bench: Benchmark) -> EngineProfile:
    """The engine profile of an aggregated scenario as its benchmark ran it: behind the client's front end
    (ClientProfile.front_end: its TTFT overhead where it names the engine, plus what it names for the model's
    architecture features), and as the benchmark's own
    generator deployed it (ClientProfile.deploys: the generated step budget, sequence cap and chunking, where
    the row states none of its own; they replace the catalog's and the version's defaults)."""
    name = scenario.engine.base or scenario.engine.id
    if scenario.mode != "agg":
        return scenario.engine
    changes: dict[str, object] = {}
    front = bench.client.front_end
    if front is not None:
        overhead, extra = front.overhead_s(name), front.feature_extra_s(name, scenario.model.features)
        if overhead is not None or extra:
            changes["ttft_overhead_s"] = (scenario.engine.ttft_overhead_s if overhead is None else overhead) + extra
    limits = bench.client.deploys
    if limits is None or name not in limits.engines or bench.request_rate or bench.trace:
        return dataclasses.replace(scenario.engine, **changes) if changes else scenario.engine  # type: ignore[arg-type]
    own = set(scenario.row_settings)
    if "max_num_tokens" not in own:
        changes["max_num_tokens"] = limits.max_num_tokens(scenario.concurrency, scenario.isl)
    if "max_batch_size" not in own:
        changes["max_batch_size"] = scenario.concurrency
    if name in limits.unchunked:
        changes["sim_chunked_prefill"] = False
    return dataclasses.replace(scenario.engine, **changes)  # type: ignore[arg-type]


# InferenceX's disaggregated SGLang runs (Dynamo images) deploy their B200 prefill workers with max-running-requests
# 512-1,024 and max-prefill-tokens / chunked-prefill-size 32,768 (NVIDIA/srt-slurm 5063eb43 recipes/b200-fp8/1k1k/stp/
# max-tpt-dep8-1p5d.yaml and most others, measurements/inferencex_sglang_recipes.csv); the budget of a run whose row
# does not give its recipe's.
INFERENCEX_SGLANG_PREFILL_TOKENS = 32768


def disaggregated_deployment(scenario: Scenario, bench: Benchmark) -> tuple[EngineProfile, float | None]:
    """(engine profile, prefill prompts per rank and step) of a disaggregated scenario as its benchmark deployed
    it. An InferenceX SGLang run: its prefill step takes the prompt tokens its recipe's --max-prefill-tokens and
    --chunked-prefill-size allow where the row gives them (its max_prefill_tokens and chunked_prefill_size
    columns: 2,048 and 2,048 on H100), else INFERENCEX_SGLANG_PREFILL_TOKENS for both, and no prefill batch
    limit a row states applies: the limit of 1 its import infers (aiconfigurator's generator writes
    max_batch_size 1 for prefill workers, measurements/README.md) is that generator's, which did not configure these
    runs. Other runs: as the row states."""
    name = scenario.engine.base or scenario.engine.id
    if bench.client.id != "inferencex" or name != "sglang" or bench.request_rate or bench.trace:
        return scenario.engine, scenario.prefill_batch
    engine, stated = scenario.engine, set(scenario.row_settings)
    inputs = engine.sim_max_prefill_tokens if "sim_max_prefill_tokens" in stated else INFERENCEX_SGLANG_PREFILL_TOKENS
    chunk = (engine.sim_chunked_prefill_tokens if "sim_chunked_prefill_tokens" in stated
             else INFERENCEX_SGLANG_PREFILL_TOKENS)
    return dataclasses.replace(engine, max_num_tokens=chunk if chunk > 0 else inputs, sim_max_prefill_tokens=inputs,
                               sim_chunked_prefill_tokens=chunk), None


def simulate_scenario(scenario: Scenario, bench: Benchmark | None = None, workers: tuple[float, float] | None = None,
                      timeline: bool = False) -> SimResult:
    """Simulate one scenario's benchmark step by step. Disaggregated worker counts the row does not give
    are the steady-state model's sizing (`workers`: its (prefill, decode) counts, solved here when not
    given)."""
    bench = bench or benchmark_of(scenario)
    if scenario.mode == "agg":
        engine = deployed_engine(scenario, bench)
        return simulate_aggregated(deployment(dataclasses.replace(scenario, engine=engine), scenario.layout), engine,
                                   bench, timeline=timeline,
                                   host_ops=catalog.host_ops(engine.base or engine.id) if engine.sim_host_ops else None)
    assert scenario.decode_layout is not None
    pw, dw = scenario.prefill_workers, scenario.decode_workers
    if pw is None or dw is None:
        if workers is None:
            steady = _solve([scenario])
            workers = (float(np.ravel(steady.prefill_workers)[0]), float(np.ravel(steady.decode_workers)[0]))
        pw, dw = pw or workers[0], dw or workers[1]
    engine, prefill_batch = disaggregated_deployment(scenario, bench)
    builds = cudnn_fp4_plan_builds(scenario.model) if scenario.prefill_fp4_gemm == "cudnn" else None
    return simulate_disaggregated(deployment(scenario, scenario.layout, scenario.prefill_system),
                                  deployment(scenario, scenario.decode_layout, decode=True),
                                  engine, bench, int(pw), int(dw), prefill_batch, scenario.decode_batch,
                                  timeline=timeline, prefill_plan_builds=builds)


def simulated_note(steady_note: str, sim_assumptions: Sequence[str], scenario: Scenario, intervals: bool,
                   open_loop: bool = False) -> str:
    """A simulated row's assumptions: the closed-form model's (which still gives memory, at the scenario's lengths,
    nominal unless a random_range_ratio is given, not those the run draws, but for an open loop or trace
    (`open_loop`), whose KV cache is the run's own peak, run_memory; worker sizing and flags; its transient
    stand-ins, such as Kingman burstiness or prompt groups, do not shape the simulated figures) apart from the
    simulator's own, then, where the row prints the simulator's intervals, which residuals they come from
    (interval_note; the steady note's own phrase, at its end, names the steady bands)."""
    phrase = interval_note(scenario, "sim")
    steady = steady_note.removesuffix(interval_note(scenario)).removesuffix("; ")
    ratio = scenario.random_range_ratio
    lengths = "nominal" if ratio is None or ratio >= 1.0 else "mean"
    # the closed form's memory per chip: every request in flight holding its KV at those lengths, not what the
    # simulated run held (its drawn lengths, its own admissions); an open loop's is the run's (run_memory)
    memory = ("memory per chip but its KV cache, which is the simulated run's (below)" if open_loop else
              f"memory per chip at the {lengths} lengths, not the simulated run's")
    model = f"closed-form model ({memory}; worker sizing, flags)"
    return "; ".join(filter(None, (f"{model}: {steady}" if steady else "",
                                   "simulator: " + "; ".join(sim_assumptions), phrase if intervals else "")))


# an open loop is overloaded (overload_flag) when its TTFT grows by more than this share of the time its requests were
# sent over (arrival rate over service rate above 1.1), and over the run by more than its median TTFT (noise in a short
# run is not growth)
OVERLOAD_MARGIN = 0.1
# a short open-loop run (all its requests within one request's lifetime) is flagged where it completes less than
# this share below what it asks for (a short run that keeps up completes arrival span / duration of it)
SHORT_RUN_SHORTFALL = 0.5
# a capped open loop's client holds requests back (client_wait_flag) where at least CLIENT_HELD_SHARE of its requests
# waited at the client (the cap binds the stream, not a rare burst of Poisson arrivals: 2 of 200 requests at 3/s
# waited 0.25 and 0.69 s under a cap of 32, their sends keeping the pace of the arrivals drawn) and TTFT counted from
# arrival reads more than CLIENT_WAIT_SHARE above the TTFT counted from the send that the run reports (mean against
# mean, or p99 against p99): that wait then matters to what the run's TTFT says
CLIENT_HELD_SHARE = 0.1
CLIENT_WAIT_SHARE = 0.1
# the kind of client_wait_flag's flag
CLIENT_HELD_FLAG = "held at the client"


def client_wait_flag(bench: Benchmark, sim: SimResult) -> Flag | None:
    """A flag where an open loop's cap on requests in flight (Benchmark.max_concurrency) holds its arrivals back at the
    client: TTFT counts from the send, as vLLM's and SGLang's benchmark clients count it, so a backlog at the client
    shows in no latency (1,000 requests due over 50 s were sent over 450 s, TTFT 80 ms). Raised where
    CLIENT_HELD_SHARE of the requests waited (SimResult.client_waited) and TTFT from arrival
    (SimResult.ttft_from_arrival) exceeds the reported TTFT by more than CLIENT_WAIT_SHARE, mean or p99, with the
    wait, the rate the requests arrived at (the nominal rate beside it where Poisson draws gave another) and the rate
    they were sent at. None without a cap, for requests all due at once (a closed loop of max_concurrency clients, by
    design), or where few waited or their wait is small."""
    offered = bench.offered_output_tokens_per_s()
    if bench.max_concurrency is None or offered is None or sim.requests < 2 or not sim.due_span_s > 0:
        return None
    if sim.client_waited < CLIENT_HELD_SHARE * sim.requests:
        return None
    if not any(sim.from_arrival(k) > (1.0 + CLIENT_WAIT_SHARE) * sim.latency[k] for k in ("ttft_s", "ttft_p99_s")):
        return None
    cap = "the row's max_concurrency" if bench.from_row else "--max-concurrency"
    # the rate the requests arrived at (a trace's own, or a stream's drawn: 2.86/s of Poisson arrivals at 3/s), with the
    # nominal one beside it, and what the arrivals ask for (offered_output_tokens_per_s: at the nominal rate)
    arrive = (sim.requests - 1) / sim.due_span_s
    asks = f"asking for {offered:,.0f} output tokens/s"
    nominal = bench.request_rate
    drawn = (f" (drawn at random at {nominal:,.3g}/s, {asks})" if nominal and f"{nominal:,.3g}" != f"{arrive:,.3g}"
             else f", {asks},")
    sent = (sim.requests - 1) / sim.arrival_span_s
    return Flag(CLIENT_HELD_FLAG,
                f"held at the client: at most {bench.max_concurrency:,} requests in flight ({cap}), so "
                f"{sim.client_waited:,} of {sim.requests:,} requests waited at the client before their send, "
                f"{duration_text(sim.client_wait_s)} on average (p99 {duration_text(sim.client_wait_p99_s)}); they "
                f"arrived at {arrive:,.3g} requests/s{drawn} and were sent at {sent:,.3g}/s "
                f"({sim.output_tokens_per_s:,.0f} output tokens/s completed): TTFT and E2E count from the send, as "
                f"vLLM's benchmark counts them; from arrival TTFT reads {duration_text(sim.from_arrival('ttft_s'))} on "
                f"average (p99 {duration_text(sim.from_arrival('ttft_p99_s'))})")


def client_fields(sim: SimResult, flags: Sequence[Flag]) -> dict[str, float]:
    """What a simulated row (serve's, predict's) says of its client: the wait at the client and TTFT from arrival
    (SimResult.client_row), and held_at_client, whether `flags` (the row's) hold client_wait_flag's."""
    return sim.client_row() | {"held_at_client": any(f.kind == CLIENT_HELD_FLAG for f in flags)}


def overload_flag(bench: Benchmark, sim: SimResult) -> Flag | None:
    """A flag where an open loop falls behind: under a cap on requests in flight, at the client (client_wait_flag);
    else (Benchmark.offered_output_tokens_per_s) on the run's own
    evidence: its TTFT grows with the time its requests were sent (SimResult.ttft_growth), so its backlog grows as long
    as requests come, and its latencies with the run's length. None where it keeps up. The evidence, not a closed-form
    bound: a trace's lengths are a mix that no one length prices (at its longest request's, a run that kept up at
    20 requests/s was called overloaded). Without that evidence, a 'short run' flag where every request arrives within
    one request's mean end-to-end time and the run completes under half what it asks: it never settles (it may take
    every prompt in at once and decode them together, its TTFT no sign of the backlog), so its latencies describe a
    burst, not the sustained rate."""
    if bench.max_concurrency is not None:  # the engine never holds more than the cap: a backlog waits at the client
        return client_wait_flag(bench, sim)
    offered = bench.offered_output_tokens_per_s()
    growth = sim.ttft_growth
    length = ("the trace's length" if bench.trace else "the row's num_prompts" if bench.from_row else "--num-prompts")
    if offered is None:
        return None
    if not growth > OVERLOAD_MARGIN or not growth * sim.arrival_span_s > sim.latency["ttft_p50_s"]:
        # no backlog of prompts, but a run whose requests all arrive within one request's lifetime never settles:
        # asked 4.5x what it completed, it took every prompt in at once and decoded them together, its TTFT p99 75x
        # better than at half the rate (report-only tester fuzzDG 1)
        e2e = sim.latency["e2e_s"]
        if not (sim.arrival_span_s < e2e and sim.output_tokens_per_s < (1.0 - SHORT_RUN_SHORTFALL) * offered):
            return None
        return Flag("short run", f"short run: its requests arrive over {sim.arrival_span_s:,.1f} s, less than one "
                                 f"request's mean end-to-end time ({e2e:,.1f} s), and ask for {offered:,.0f} output "
                                 f"tokens/s where it completed {sim.output_tokens_per_s:,.0f} a second: the run never "
                                 "settles, so its latencies describe this burst, not a sustained load (more requests: "
                                 f"{length})")
    return Flag("overloaded run", f"overloaded run: its requests ask for {offered:,.0f} output tokens/s and it "
                                  f"completed {sim.output_tokens_per_s:,.0f} a second (their TTFT grew by "
                                  f"{growth:,.2f} s for every second of arrivals), so the backlog grows as long as they "
                                  f"come: its latencies grow with the run's length ({length}) and describe no steady "
                                  "state")


def lockstep_flag(bench: Benchmark, engine: EngineProfile, mode: str) -> Flag | None:
    """A flag where the simulator's clients go round in lockstep waves that measured runs of the engine break up:
    fixed lengths (no range to draw from, no trace), sent as a closed loop or all at once under a cap on requests in
    flight, more requests than are in flight (a second wave), on an engine whose simulated steps mix prompt chunks
    into decodes (simulate.mixes_prompts: TensorRT-LLM, vLLM, the generic profile) on workers that take prompts and
    decode alike (`mode` agg). None elsewhere: SGLang's steps keep prompts apart (sim_separate_prefill), and its
    measured rows stay in waves as the simulator runs them (docs/model.md); a disaggregated run's prefill workers
    decode nothing and its decode workers take no prompt, so no step mixes them (it was flagged: report-only tester
    fuzzES 3)."""
    if bench.trace or mode != "agg" or not mixes_prompts(engine):
        return None
    rate = bench.request_rate
    if rate is not None and (math.isfinite(rate) or bench.max_concurrency is None):
        return None
    if not bench.fixed_lengths() or bench.arrivals().num_prompts <= bench.most_in_flight():
        return None
    return Flag("lockstep waves", "lockstep waves: at fixed lengths every request in flight finishes with the others, "
                                  "so the simulated clients send their prompts in waves that prefill together; "
                                  f"measured runs of engines that mix prompt chunks into decode steps, as {engine.id} "
                                  "does, break the waves up at fixed lengths by what parity does not model (such "
                                  "calibration rows: 78% (TensorRT-LLM) and 150% (vLLM) median TTFT error), so TTFT "
                                  "and its percentiles are unreliable here, TPOT less so; lengths drawn from a range "
                                  "(--random-range-ratio below 1) avoid it",
                "lockstep waves")


def simulated_flags(steady_flags: Sequence[Flag], sim: SimResult, bench: Benchmark, engine: EngineProfile, mode: str,
                    overload: Flag | None = None) -> tuple[Flag, ...]:
    """A simulated row's flags: the closed-form model's (what the case lies outside of) but its KV-bound load,
    which the run's own (SimResult.kv_flag: KV-bound run) replaces, then its overload (overload_flag, given) and its
    lockstep waves (lockstep_flag, of `bench` on `engine` in `mode`, agg or disagg)."""
    return (tuple(f for f in steady_flags if f.kind != KV_LOAD_FLAG)
            + tuple(filter(None, (sim.kv_flag(), overload, lockstep_flag(bench, engine, mode)))))


def _with_simulation(p: Prediction, scenario: Scenario) -> Prediction:
    """A steady-state prediction's TTFT, TPOT and throughput replaced by the simulator's, with its
    percentiles added and its 80% intervals from the simulator's own residual bands (uncertainty_sim.toml;
    memory stays the steady model's, and its flags gain the run's own, simulated_flags). An open-loop row
    (request_rate) has no bands (they were built on closed loops), and its closed-form figures (memory, prefill
    share, worker sizing) are the steady model's at the run's peak of requests in flight, as `serve` prices them.
    Phase benchmarks (one fixed-batch step) have no client to simulate and stay as they are."""
    if not p.feasible or scenario.phase != "both":
        return p
    open_loop = bool(scenario.request_rate)
    overload = None
    try:
        bench = benchmark_of(scenario)
        sim = simulate_scenario(scenario, bench, workers=_workers(p), timeline=open_loop)
        if open_loop:
            p, sim, overload = open_loop_at_peak(p, scenario, sim, bench)
    except (ParityError, ValueError, ArithmeticError) as err:
        return _failed(scenario.case_id, f"simulation: {err}")
    extra = {k: v for k, v in p.extra.items() if not k.endswith(("_low", "_high"))}  # the steady model's bands
    flags = simulated_flags(p.flags, sim, bench, scenario.engine, scenario.mode, overload)
    extra |= {**{k: sim.latency[k] for k in LATENCY_KEYS}, "preemptions": float(sim.preemptions),
              "kv_waited": float(sim.kv_waited), **client_fields(sim, flags),
              "decode_batch": sim.decode_batch}
    bounds = {} if open_loop else interval_bounds(scenario, sim.ttft_s, sim.tpot_s, sim.output_tokens_per_s_per_chip,
                                                  widening(flags), "sim")
    return dataclasses.replace(p, ttft_s=sim.ttft_s, tpot_s=sim.tpot_s, flags=flags,
                               output_tokens_per_s_per_chip=sim.output_tokens_per_s_per_chip,
                               output_tokens_per_s_per_user=sim.output_tokens_per_s_per_user, chips=sim.chips,
                               note=simulated_note(p.note, sim.assumptions, scenario, bool(bounds), open_loop),
                               extra=extra | bounds)


def _workers(p: Prediction) -> tuple[float, float]:
    """(prefill, decode) workers the steady model sized for a prediction (0, 0 aggregated)."""
    return p.extra.get("prefill_workers", 0.0), p.extra.get("decode_workers", 0.0)


def open_loop_at_peak(p: Prediction, scenario: Scenario, sim: SimResult,
                      bench: Benchmark) -> tuple[Prediction, SimResult, Flag | None]:
    """An open-loop run `sim` (of `bench`, with a timeline) priced at its own load, as `serve` and `predict` price it:
    memory per chip at the run's own peak of KV (run_memory), the steady model's other closed-form figures (prefill
    share, worker sizing) at the run's peak of requests in flight, not at the scenario's concurrency (kept, and said,
    where that peak does not fit); the run re-simulated (with a timeline) where the peak sizes other disaggregated
    workers; notes saying which among its assumptions; and its overload flag (overload_flag), None where it keeps
    up."""
    peak = max(1, int(np.ceil(sim.peak_in_flight())))
    (again,) = _predict_steady([dataclasses.replace(scenario, concurrency=peak)])
    in_flight = f"{peak:,} request{'s' if peak != 1 else ''} in flight (prefilling or decoding)"
    rows = f"closed-form rows (prefill share{', worker sizing' if scenario.mode == 'disagg' else ''})"
    if again.feasible:
        if _workers(again) != _workers(p):
            sim = simulate_scenario(scenario, bench, workers=_workers(again), timeline=True)
        p, note = again, f"{rows} at the simulated run's peak of {in_flight}"
    else:
        checked = "one request alone" if bench.trace else f"{scenario.concurrency:,} clients"  # serve: a trace's fit
        note = f"{rows} at {checked}: at the simulated run's peak of {in_flight} they do not fit ({again.note})"
    p, memory = run_memory(p, scenario, sim)
    sim = dataclasses.replace(sim, assumptions=sim.assumptions + (memory, note))
    return p, sim, overload_flag(bench, sim)


def run_memory(p: Prediction, scenario: Scenario, sim: SimResult) -> tuple[Prediction, str]:
    """A prediction's memory per chip (and per die, and per kind of disaggregated worker) as the simulated run `sim`
    (kept with a timeline) held it at its peak of KV: the weights, activations and reserve of the closed form, with
    the KV cache the busiest rank held at once (SimResult.peak_memory_bytes), not every request in flight at the
    longest or nominal lengths (a trace of one 120,000-token prompt and one of 1,024 priced as two of 120,000); and
    a note saying so. `p` as it is, and no note, where the run kept no timeline."""
    if not sim.peak_memory_bytes:
        return p, ""
    held: dict[str, float] = {}
    for role, used_bytes in sim.peak_memory_bytes.items():
        system = (scenario.prefill_system or scenario.system) if role == "prefill" else scenario.system
        held |= _held("" if role == "agg" else f"{role}_", used_bytes, system)
    per_chip = max(v for k, v in held.items() if k.endswith("_per_chip"))
    per_die = [v for k, v in held.items() if k.endswith("_per_die")]
    extra = p.extra | {k: v for k, v in held.items() if k.startswith(("prefill_", "decode_"))}
    if per_die:
        extra["memory_bytes_per_die"] = max(per_die)
    # SimResult.kv_capacity_tokens is a decoding rank's (an aggregated or decode worker's)
    kv = ", ".join(f"{'' if role == 'agg' else role + ' workers '}{tokens:,.0f} tokens"
                   + ("" if role == "prefill" else f", {tokens / sim.kv_capacity_tokens:.0%} of its KV cache")
                   for role, tokens in sim.kv_peak_tokens.items())
    return (dataclasses.replace(p, memory_bytes_per_chip=per_chip, extra=extra),
            f"memory per chip at the simulated run's peak of KV in flight (the busiest rank's: {kv}), beside the "
            "weights, activations and held-back memory the closed form counts")


def _simulate_all(pairs: list[tuple[Prediction, Scenario]]) -> list[Prediction]:
    return [_with_simulation(p, s) for p, s in pairs]


def _workload_key(scenario: Scenario) -> tuple[object, ...]:
    """Everything a simulation reads from a scenario (all but its case id): equal keys, equal runs."""
    return (scenario.group, scenario.isl, scenario.osl, scenario.concurrency, scenario.random_range_ratio,
            scenario.num_prompts, scenario.client, scenario.request_rate, scenario.max_concurrency)


def _simulated(predictions: list[Prediction], scenarios: Sequence[Scenario], processes: int,
               ray: str | None = None, progress: Callable[[int], None] | None = None) -> list[Prediction]:
    """Every feasible prediction re-run by the simulator, over `processes` worker processes, or as Ray
    tasks when `ray` names where (parity.parallel.map_chunks). A run is seeded, so rows that differ only
    in their case id are simulated once. progress(n) as runs finish, n the scenarios they price (a run's
    copies with it): a run at a time here, a chunk at a time from processes."""
    first: dict[tuple[object, ...], int] = {}
    unique = [i for i, s in enumerate(scenarios) if first.setdefault(_workload_key(s), i) == i]
    pairs = [(predictions[i], scenarios[i]) for i in unique]
    copies = Counter(_workload_key(s) for s in scenarios)
    priced = [copies[_workload_key(s)] for _, s in pairs]  # the scenarios each run prices
    if ray is None and (processes <= 1 or len(pairs) < 8):
        simulated = []
        for pair, n in zip(pairs, priced):
            simulated.append(_with_simulation(*pair))
            if progress:
                progress(n)
    else:
        # rows of one deployment in the same chunk, so a process builds its step table once (simulate.tables
        # keeps them per process); the costliest chunks first, so no process is left with a tail of big ones:
        # a run's cost grows with the requests it simulates (clients x prompts each), about concurrency
        size = max(1, min(len(pairs) // (processes * 8), 8))
        seen: dict[tuple[object, ...], int] = {}  # Scenario.group (its deployments) -> order of first appearance
        first_seen = [seen.setdefault(scenario.group, len(seen)) for _, scenario in pairs]
        by_deployment = sorted(range(len(pairs)), key=lambda i: (first_seen[i], -pairs[i][1].concurrency))
        groups = [by_deployment[j:j + size] for j in range(0, len(by_deployment), size)]
        groups.sort(key=lambda g: -sum(pairs[i][1].concurrency for i in g))
        order = [i for g in groups for i in g]
        chunks = [[pairs[i] for i in g] for g in groups]
        found: list[Prediction | None] = [None] * len(pairs)
        sizes = iter([sum(priced[i] for i in g) for g in groups])  # map_chunks reports the chunks in order
        told = (lambda _part: progress(next(sizes))) if progress else None
        parts = map_chunks(_simulate_all, chunks, processes, ray, told)
        for i, p in zip(order, (p for part in parts for p in part)):
            found[i] = p
        simulated = [p for p in found if p is not None]
    by_key = {_workload_key(scenarios[i]): p for i, p in zip(unique, simulated)}
    out = []
    for p, s in zip(predictions, scenarios):
        run = by_key[_workload_key(s)]
        out.append(run if run.case_id == p.case_id else dataclasses.replace(run, case_id=p.case_id))
    return out
