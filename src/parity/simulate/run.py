"""Simulated benchmark runs: an aggregated or disaggregated deployment driven by a client (benchmark.py),
its workers (workers.py, loop.py) advanced by the driver (drive.py), and what the benchmark would report
(results.py)."""

from __future__ import annotations

import dataclasses
import functools
import gc
import math

import numpy as np

from parity.engine import EngineProfile, HostOps
from parity.simulate.benchmark import Benchmark, _Client
from parity.simulate.drive import _drive, _push_to_least_outstanding
from parity.simulate.loop import Engine, Request
from parity.simulate.policies import PlanBuilds, Scheduler, decode_worker_scheduler, prefill_worker_scheduler
from parity.simulate.results import SimResult, _result
from parity.simulate.tables import StepTable
from parity.simulate.workers import _scheduler, _table, memory_with_kv
from parity.step import Deployment, kv_transfer_s
from parity.units import counted

__all__ = ["simulate_aggregated", "simulate_disaggregated", "run_aggregated", "run_disaggregated"]


def simulate_aggregated(dep: Deployment, profile: EngineProfile, bench: Benchmark, workers: int = 1,
                        timeline: bool = False, host_ops: HostOps | None = None) -> SimResult:
    """A benchmark run on `workers` aggregated workers of a deployment (prefill and decode in the same
    steps), the engine's habits read from its profile; host_ops: the ops its model code issues per part of a
    layer, for the host's floor on eager prompt steps (None: the kernels the step model prices)."""
    sched, capacity = _scheduler(dep, profile, bench)
    table = _table(dep, profile, bench, capacity, float(profile.max_batch_size), host_ops=host_ops)
    result = run_aggregated(table, sched, bench, int(dep.layout.attn_dp), workers, float(dep.chips), timeline)
    return _with_peak_memory(result, {"agg": dep}, profile, bench)


def _with_peak_memory(result: SimResult, deployments: dict[str, Deployment], profile: EngineProfile,
                      bench: Benchmark) -> SimResult:
    """`result` with the device memory each role's busiest rank held at its peak of KV (SimResult.peak_memory_bytes,
    from its kv_peak_tokens; `deployments`: role -> its deployment), where the run kept one."""
    peak = {role: memory_with_kv(deployments[role], profile, float(bench.isl + bench.osl), tokens)
            for role, tokens in result.kv_peak_tokens.items()}
    return dataclasses.replace(result, peak_memory_bytes=peak) if peak else result


def _without_gc(run):
    """A run allocates a few objects per request and step (requests, queue entries, step records) that live
    until it ends and hold no reference cycles worth collecting midway: the cyclic collector's passes over
    them are pure cost (a tenth to a fifth of the run), so it is paused for the run (and the run empties the
    lists its callbacks hold, so that reference counting frees its objects as it returns)."""
    @functools.wraps(run)
    def paused(*args, **kwargs):
        if not gc.isenabled():
            return run(*args, **kwargs)
        gc.disable()
        try:
            return run(*args, **kwargs)
        finally:
            gc.enable()
    return paused


def _requests(n: int) -> str:
    """'1 request', '1,000 requests'."""
    return f"{n:,} request{'' if n == 1 else 's'}"


def _arriving(bench: Benchmark) -> str:
    """How an open-loop run's requests arrive (' arriving at random at 12.1 requests/s'); '' for a closed loop."""
    if not bench.request_rate:
        return ""
    how = "all at once" if math.isinf(bench.request_rate) else (
        f"{'at random' if bench.poisson else 'evenly'} at {bench.request_rate:,.3g} requests/s")
    return f" arriving {how}{_capped(bench)}"


def _counted(bench: Benchmark) -> str:
    """Where an open loop's request count comes from when its client profile counts prompts per client (InferenceX
    sends 10 x its --max-concurrency, aiconfigurator 10 x its clients): the cap on requests in flight, else the
    closed loop's --concurrency (a row's concurrency), which an uncapped open loop has no other use for; '' where a
    count is given."""
    if not bench.request_rate or bench.num_prompts or bench.trace or bench.client.num_prompts:
        return ""
    clients, cap = (("the row's concurrency", "max_concurrency") if bench.from_row else
                    ("--concurrency", "--max-concurrency"))
    clients = (f"the {bench.concurrency:,} in flight" if bench.max_concurrency is not None else
               f"{clients} {bench.concurrency:,}: a count of requests, not a cap on those in flight, which {cap} "
               "would set")
    return f" ({bench.client.prompts_per_client:g} a client x {clients})"


def _throughput_note(bench: Benchmark) -> tuple[str, ...]:
    """How an open loop's throughput reads, for its notes (none for closed loops or requests all at once): a capped
    one's arrivals still ask for what they ask for, however few of them its client lets into flight."""
    offered = bench.offered_output_tokens_per_s()
    if offered is None:
        return ()
    return (f"output tokens/s: the run's over its duration (first send to last token), as vLLM's benchmark reports "
            f"it, ramp and drain included; in a steady state its arrivals ask for {offered:,.0f} output tokens/s in all",)


def _capped(bench: Benchmark) -> str:
    """An open loop's cap on requests in flight, for a note (', at most 64 in flight ...'); '' where none."""
    if bench.max_concurrency is None:
        return ""
    cap = "the row's max_concurrency" if bench.from_row else "the client's --max-concurrency"
    return (f", at most {bench.max_concurrency:,} in flight ({cap}: later ones wait, and their TTFT counts from when "
            "they are sent)")


def _lag_note(sched: Scheduler, engines: list[Engine]) -> tuple[str, ...]:
    """The output path's lag in words (none without one): the decode steps that every request's first and last
    tokens reach the client after the steps that made them (Scheduler.first_token_lag_steps), and what the first
    tokens' lag came to [ms], one figure where they all agree to three figures (a disaggregated decode worker's
    requests bring their first token along: their last token alone lags)."""
    steps = sched.first_token_lag_steps
    if not steps:
        return ()
    lags = [lag for engine in engines for lag in engine.first_lags_s]
    said = f"the output path delays a request's {'first and last tokens' if lags else 'last token'} by " \
           f"{counted(steps, 'decode step')} (the engine profile's sim_first_token_steps)"
    if not lags:
        return (said,)
    low, high = f"{min(lags) * 1e3:.3g}", f"{max(lags) * 1e3:.3g}"
    spent = (f"{low} ms a first token here" if low == high else
             f"{low}-{high} ms a first token here ({sum(lags) / len(lags) * 1e3:.3g} ms on average)")
    return (f"{said}: {spent}, in TTFT and E2E",)


@_without_gc
def run_aggregated(table: StepTable, sched: Scheduler, bench: Benchmark, ranks: int = 1, workers: int = 1,
                   chips_per_worker: float = 1.0, timeline: bool = False) -> SimResult:
    """A benchmark run on `workers` aggregated workers with a given step table and scheduler; requests
    go to the worker with the fewest outstanding."""
    rng = np.random.default_rng(bench.seed + 1)
    records: list | None = [] if timeline else None
    engines: list[Engine] = []

    touched: list[Engine] = []

    def send(req: Request, t: float) -> None:
        _push_to_least_outstanding(engines, t + sched.ttft_overhead_s, req, touched)

    client = _Client(bench, send)
    engines.extend(Engine(table, sched, ranks, "agg", client.done, rng=rng, timeline=records, index=i)
                   for i in range(workers))
    client.start()
    everyone = tuple(range(workers))  # a request ending anywhere sends the next one to any worker
    _drive(engines, [sched.ttft_overhead_s] * workers, [everyone] * workers, touched)
    notes = sched.describe() + table.notes + (f"each request reaches the engine {sched.ttft_overhead_s * 1e3:.0f} ms after it is sent"
                                + (f" (front end: {bench.client.front_end.id})" if bench.client.front_end else
                                   " (the engine profile's ttft_overhead_s)"), *_lag_note(sched, engines),
                                f"simulated {_requests(len(client.requests))} of a trace{_capped(bench)} (client profile "
                                f"{bench.client.id}: its front end only)" if bench.trace else
                                f"simulated {_requests(len(client.requests))}{_counted(bench)}{_arriving(bench)} from "
                                f"client profile {bench.client.id} "
                                f"({bench.client.describe(bool(bench.request_rate), bench.num_prompts)}; "
                                "sources: parity engines --clients)") + _throughput_note(bench)
    result = _result(client, engines, chips_per_worker * workers, sched.kv.capacity_tokens, notes, records)
    engines.clear()  # the send callback holds the list: emptied, the run's objects are freed as it returns
    return result


def simulate_disaggregated(prefill: Deployment, decode: Deployment, profile: EngineProfile, bench: Benchmark,
                           prefill_workers: int, decode_workers: int, prefill_batch: float | None = None,
                           decode_batch: float | None = None, timeline: bool = False,
                           prefill_plan_builds: PlanBuilds | None = None) -> SimResult:
    """A benchmark run on separate prefill and decode workers of two deployments (run_disaggregated),
    the KV cache moved over the links (kv_transfer_s); prefill_plan_builds: the prefill workers' GEMM plan builds
    (PlanBuilds, None: none)."""
    p_sched, p_cap = _scheduler(prefill, profile, bench)
    d_sched, d_cap = _scheduler(decode, profile, bench, prompts=False)
    p_sched, d_sched = prefill_worker_scheduler(p_sched, profile), decode_worker_scheduler(d_sched)
    p_sched = dataclasses.replace(p_sched, plan_builds=prefill_plan_builds)
    prompts_only = dataclasses.replace(profile, sim_prefill_scale=profile.sim_prefill_scale * profile.sim_disagg_prefill_scale)
    # the host's floor on eager prompt steps (sim_prefill_host_launch_s) is fitted on aggregated rows; the prefill
    # workers' prompt time is fitted as a whole (sim_disagg_prefill_scale) on disaggregated rows without it
    p_table = _table(prefill, prompts_only, bench, p_cap, float(prefill_batch or profile.max_batch_size), False)
    d_table = _table(decode, profile, bench, d_cap, float(decode_batch or profile.max_batch_size), False)
    transfer_s = float(kv_transfer_s(prefill, decode, float(bench.isl)))
    result = run_disaggregated(p_table, p_sched, d_table, d_sched, bench, transfer_s, prefill_workers, decode_workers,
                               int(prefill.layout.attn_dp), int(decode.layout.attn_dp), float(prefill.chips),
                               float(decode.chips), prefill_batch, decode_batch, timeline)
    return _with_peak_memory(result, {"prefill": prefill, "decode": decode}, profile, bench)


@_without_gc
def run_disaggregated(p_table: StepTable, p_sched: Scheduler, d_table: StepTable, d_sched: Scheduler,
                      bench: Benchmark, transfer_s: float, prefill_workers: int = 1, decode_workers: int = 1,
                      prefill_ranks: int = 1, decode_ranks: int = 1, prefill_chips: float = 1.0,
                      decode_chips: float = 1.0, prefill_batch: float | None = None, decode_batch: float | None = None,
                      timeline: bool = False) -> SimResult:
    """Separate prefill and decode workers: a request is prefilled on the prefill worker with the fewest
    outstanding (at most `prefill_batch` new prompts per rank and step), its KV cache moves to the
    decode worker with the fewest (transfer_s, plus the engine's disaggregated hand-off overhead), and
    it decodes there when a slot is free (at most `decode_batch` sequences per rank and what its KV cache
    holds). Its first token reaches the client when its decode starts."""
    rng = np.random.default_rng(bench.seed + 1)
    records: list | None = [] if timeline else None
    pre: list[Engine] = []
    dec: list[Engine] = []

    touched: list[Engine] = []

    def send(req: Request, t: float) -> None:
        _push_to_least_outstanding(pre, t + p_sched.ttft_overhead_s, req, touched)

    def handed(req: Request) -> None:
        arrive = req.prefilled_s + transfer_s + d_sched.disagg_ttft_overhead_s
        req.first_s = arrive
        _push_to_least_outstanding(dec, arrive, req, touched)

    client = _Client(bench, send)
    pre.extend(Engine(p_table, p_sched, prefill_ranks, "prefill", client.done, on_prefilled=handed, rng=rng,
                      max_prefill=prefill_batch, timeline=records, index=i) for i in range(prefill_workers))
    dec.extend(Engine(d_table, d_sched, decode_ranks, "decode", client.done, rng=rng, max_batch=decode_batch,
                      timeline=records, index=i) for i in range(decode_workers))
    client.start()
    # a prompt reaches a prefill worker ttft_overhead after a request ends; a decode worker, the transfer and
    # hand-off after a prefill ends. A decode worker is also reached, through the client and an idle prefill
    # worker (whose clock bounds nothing), from any decode worker whose request ends: its senders are every
    # worker, and the transfer and hand-off the least delay along any of those paths
    everyone = tuple(range(prefill_workers + decode_workers))
    decodes = everyone[prefill_workers:]
    _drive(pre + dec, [p_sched.ttft_overhead_s] * prefill_workers
           + [transfer_s + d_sched.disagg_ttft_overhead_s] * decode_workers,
           [decodes] * prefill_workers + [everyone] * decode_workers, touched)
    notes = d_sched.describe() + d_table.notes + _lag_note(d_sched, dec) + (
        f"disaggregated: {counted(prefill_workers, 'prefill worker')} of {counted(prefill_chips, 'chip')}, "
        f"{counted(decode_workers, 'decode worker')} of {counted(decode_chips, 'chip')}; KV moved in "
        f"{transfer_s * 1e3:.2f} ms plus a hand-off of "
        f"{d_sched.disagg_ttft_overhead_s * 1e3:.0f} ms",
        f"simulated {_requests(len(client.requests))}"
        + (f" of a trace{_capped(bench)}" if bench.trace else
           f"{_counted(bench)}{_arriving(bench)} from client profile {bench.client.id}")) + _throughput_note(bench)
    if (builds := p_sched.plan_builds) is not None:
        notes += (f"prefill workers build GEMM plans for each new token count: {builds.own_shapes} shapes on a rank's "
                  f"own tokens, {builds.gathered_shapes} on the group's, {builds.build_s * 1e3:.0f} ms each "
                  f"({builds.source})",)
    chips = prefill_chips * prefill_workers + decode_chips * decode_workers
    result = _result(client, pre + dec, chips, d_sched.kv.capacity_tokens, notes, records)
    pre.clear()  # the send callbacks hold the lists: emptied, the run's objects are freed as it returns
    dec.clear()
    return result
