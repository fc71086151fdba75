"""Simulated benchmark runs: an aggregated or disaggregated deployment driven by a client, and what
the benchmark would report (latency means and percentiles, throughput, a timeline)."""

from __future__ import annotations

import dataclasses
import functools
import gc
import math
import operator
from dataclasses import dataclass, field

import numpy as np

from parity.engine import EngineProfile
from parity.errors import InfeasiblePlan, ParityError
from parity.memory import kv_bytes_per_token_per_device
from parity.plan import Shard
from parity.simulate.clients import Arrivals, ClientProfile, draw_lengths
from parity.simulate.loop import Engine, Request
from parity.simulate.policies import Scheduler, decode_worker_scheduler, prefill_worker_scheduler, scheduler_of
from parity.simulate.tables import StepTable, step_table
from parity.step import Deployment, deployment_memory

__all__ = ["Benchmark", "SimResult", "simulate_aggregated", "simulate_disaggregated", "run_aggregated",
           "run_disaggregated", "kv_transfer_s",
           "kv_capacity_tokens", "LATENCY_KEYS"]

_outstanding = operator.attrgetter("pending")  # Engine.outstanding() without the method call, for min(key=)


def _push_to_least_outstanding(engines: list[Engine], time_s: float, req: Request, touched: list[Engine]) -> None:
    """The request becomes visible at `time_s` to the worker with the fewest outstanding requests (the only
    one without a scan); the driver asks that worker its ready time again (`touched`)."""
    target = engines[0] if len(engines) == 1 else min(engines, key=_outstanding)
    target.push(time_s, req)
    touched.append(target)
LATENCY_KEYS = tuple(f"{m}_{s}s" for m in ("ttft", "tpot", "itl", "e2e") for s in ("", "p50_", "p90_", "p99_"))


@dataclass(frozen=True, slots=True, kw_only=True)
class Benchmark:
    """What the client sends: nominal prompt and output lengths [tokens], clients, and how requests
    arrive (Arrivals; default: the client profile's closed loop). seed: of the length and MTP draws."""

    isl: int
    osl: int
    concurrency: int
    client: ClientProfile
    num_prompts: int | None = None
    request_rate: float | None = None
    poisson: bool = True
    trace: tuple = ()
    seed: int = 0

    def __post_init__(self) -> None:
        if self.isl < 1 or self.osl < 1 or self.concurrency < 1:
            raise ParityError(f"isl, osl and concurrency must be >= 1, got {self.isl}, {self.osl}, {self.concurrency}")

    def arrivals(self) -> Arrivals:
        n = self.num_prompts or (len(self.trace) if self.trace else self.client.prompts(self.concurrency))
        return Arrivals(concurrency=self.concurrency, num_prompts=n, request_rate=self.request_rate,
                        poisson=self.poisson, trace=self.trace)


@dataclass(frozen=True, slots=True, kw_only=True)
class SimResult:
    """What a benchmark of the simulated run reports. latency: LATENCY_KEYS -> seconds (means and
    percentiles over counted requests; itl over every gap between output chunks). output_tokens_per_s:
    counted output tokens over the run's duration (first send to last token); chips: all chips;
    decode_batch: mean sequences per decode step and rank; preemptions: requests evicted for KV;
    timeline: records (time_s, worker, queued, prefilling, running, kv_used_fraction)."""

    latency: dict[str, float]
    output_tokens_per_s: float
    chips: float
    duration_s: float
    requests: int
    decode_batch: float
    preemptions: int
    kv_capacity_tokens: float
    assumptions: tuple[str, ...] = ()
    timeline: tuple[dict[str, object], ...] = field(default=())

    @property
    def ttft_s(self) -> float:
        return self.latency["ttft_s"]

    @property
    def tpot_s(self) -> float:
        return self.latency["tpot_s"]

    @property
    def output_tokens_per_s_per_chip(self) -> float:
        return self.output_tokens_per_s / self.chips

    @property
    def output_tokens_per_s_per_user(self) -> float:
        """Decode speed one user sees [tokens/s]: 1 / mean TPOT."""
        return 1.0 / self.tpot_s


def kv_capacity_tokens(dep: Deployment, profile: EngineProfile, held_tokens: float) -> float:
    """KV-cache tokens one attention-DP rank holds beside the weights, activations and reserve."""
    mem = deployment_memory(dep, 1, held_tokens, profile.max_num_tokens,
                            reserve_fraction=1.0 - profile.kv_memory_fraction)
    return float(np.asarray(mem.kv_token_capacity))


def kv_transfer_s(prefill: Deployment, decode: Deployment, isl: float) -> float:
    """Time to move one prompt's KV cache (all layers) from a prefill to a decode worker [s]: over the
    scale-up links when both workers fit in one scale-up domain, else over scale-out, plus one link latency.
    The prompt was prefilled on one attention-DP rank, whose chips (the prefill worker's over its attention DP)
    send at once; it goes to the chips of one decode rank (tp x pp), each receiving its own share: GQA heads
    split over tp (the prompt's KV once in all), MLA's latent whole on every tp rank (tp copies): TensorRT-LLM's
    MLACacheFormatter::format sends a context rank's latent blocks over its connection to each generation rank
    (needSendCache: every context rank sends while its TP is not larger than the generation's;
    NVIDIA/TensorRT-LLM cpp/tensorrt_llm/batch_manager/mlaCacheFormatter.cpp)."""
    r = decode.layout.resolved()
    per_device = float(kv_bytes_per_token_per_device(decode.model, Shard(r.tp, 1, 1, 1, r.pp), decode.precision))
    kv_total = isl * per_device * float(r.tp * r.pp)
    system = decode.system
    same = float(prefill.chips + decode.chips) <= system.scale_up_domain_chips
    senders = float(prefill.chips) / max(float(prefill.layout.resolved().attn_dp), 1.0)
    link = (system.scale_up_bytes_per_s if same else system.scale_out_bytes_per_s) * senders
    return kv_total / max(link, 1.0) + system.scale_out_latency_s


def _table(dep: Deployment, profile: EngineProfile, bench: Benchmark, capacity: float, batch_cap: float,
           host_bound: bool = True) -> StepTable:
    """The deployment's step table under the profile's prompt-step costs (host_bound False: without the
    host's floor on eager prompt steps, sim_prefill_host_launch_s; an engine that replays graphs for prompt
    steps, sim_eager_prefill False, has none either)."""
    most = min(float(bench.concurrency), float(profile.max_batch_size), batch_cap,
               max(capacity / max(bench.isl * 0.5, 1.0), 1.0) * 1.5) + 1.0
    return step_table(dep, most, float(bench.isl + bench.osl), float(profile.max_num_tokens),
                      profile.prefill_scale * profile.sim_prefill_scale, profile.sim_prefill_launch_s,
                      prompt_tokens=float(bench.isl),
                      host_launch_s=profile.sim_prefill_host_launch_s if host_bound and profile.sim_eager_prefill else 0.0)


def _scheduler(dep: Deployment, profile: EngineProfile, bench: Benchmark, prompts: bool = True
               ) -> tuple[Scheduler, float]:
    capacity = kv_capacity_tokens(dep, profile, bench.isl + bench.osl)
    if capacity < bench.isl + 1:
        raise InfeasiblePlan(f"one request's KV cache ({bench.isl + 1} tokens) does not fit: {capacity:,.0f} tokens "
                             f"free per rank")
    return scheduler_of(profile, capacity, int(dep.layout.attn_dp), dep.mtp_tokens, dep.mtp_acceptance,
                        dep.system.chip.memory_bytes, prompts=prompts), capacity


class _Client:
    """The benchmark client: requests with drawn lengths, sent in a closed loop or at given times."""

    def __init__(self, bench: Benchmark, send) -> None:
        self.bench, self.send = bench, send
        arrivals = bench.arrivals()
        rng = np.random.default_rng(bench.seed)
        n = arrivals.num_prompts
        if bench.trace:
            isl = [r.isl for r in bench.trace]
            osl = [r.osl for r in bench.trace]
        else:
            isl = draw_lengths(bench.isl, bench.client.range_ratio, n, rng)
            osl = draw_lengths(bench.osl, bench.client.range_ratio, n, rng)
        skip = 0 if bench.client.first_wave_counted or bench.request_rate or bench.trace else bench.concurrency
        self.requests = [Request(i, 0.0, isl[i], osl[i], counted=i >= skip) for i in range(n)]
        self.next = 0
        self.times = arrivals.open_times(rng)
        self.limit = bench.concurrency
        self.in_flight = 0

    def start(self) -> None:
        if self.times is None:
            for _ in range(min(self.limit, len(self.requests))):
                self._send(0.0)
        else:  # open loop: every request at its time (the --max-concurrency cap is not modelled)
            for t in self.times:
                self._send(t)

    def _send(self, t: float) -> None:
        if self.next >= len(self.requests):
            return
        req = self.requests[self.next]
        self.next += 1
        req.arrival_s = t
        self.in_flight += 1
        self.send(req, t)

    def done(self, req: Request) -> None:
        self.in_flight -= 1
        if self.times is None:
            self._send(req.done_s)


def _due_s(ready: list[float], first: int) -> float:
    """The engine `first` would be advanced again while its clock is before this time: before every engine
    ahead of it in the list and not after any behind it (the driver takes the first of equal times)."""
    return min(min(ready[:first], default=math.inf), math.nextafter(min(ready[first + 1:], default=math.inf), math.inf))


def _drive(engines: list[Engine], lead_s: list[float], senders: list[tuple[int, ...]],
           touched: list[Engine] | None = None) -> None:
    """Advance the engine that is earliest. An engine's decode stretch never runs past the earliest time
    a request could reach it: the earliest clock of the engines that can send to it (`senders`) plus its
    `lead_s` (the least delay between an event there and an arrival here). An engine that idles under a
    policy's hold iterates for as long as it would be advanced again, or on past other engines' turns where
    nothing they do can change its iterations; the clock it had at their turns is what they are given
    (Engine.clock_seen_s). An engine's ready time changes
    only when it advances or a request is pushed to it: the send callbacks list the engines they pushed to
    in `touched`, and only those and the advanced engine are asked again."""
    count = len(engines)
    if count == 1:  # one worker: nothing else can send to it at an unknown time
        only = engines[0]
        while only.ready_s() < math.inf:
            only.advance()
        return
    index = {id(e): i for i, e in enumerate(engines)}
    others_of = [tuple(i for i in senders[j] if i != j) for j in range(count)]
    ready = [e.ready_s() for e in engines]
    pushed = touched if touched is not None else []
    ahead: set[int] = set()
    while True:
        soonest = min(ready)
        if soonest == math.inf:
            return
        first = ready.index(soonest)
        if ahead:  # where engines that idled on past others' turns stood at this one's (Engine.clock_seen_s)
            others = min((engines[i].clock_seen_s(soonest, i < first) if i in ahead else ready[i]
                          for i in others_of[first]), default=math.inf)
        else:
            others = min(map(ready.__getitem__, others_of[first]), default=math.inf)
        engine = engines[first]
        engine.advance(others + lead_s[first], lambda: _due_s(ready, first))
        ready[first] = engine.ready_s()
        if engine.idle_clock:
            ahead.add(first)
        else:
            ahead.discard(first)
        if pushed:
            for engine in dict.fromkeys(pushed):  # once per engine, however many requests it got
                ready[index[id(engine)]] = engine.ready_s()
            pushed.clear()
        elif touched is None:  # callers that do not say whom they pushed to: ask every engine
            ready = [e.ready_s() for e in engines]


def _percentiles(values: np.ndarray, weights: np.ndarray | None = None) -> tuple[float, float, float, float]:
    """(mean, p50, p90, p99); weighted where weights are given (each value seen that many times)."""
    if values.size == 0:
        return (math.nan,) * 4
    if weights is None:
        return (float(values.mean()), *(float(v) for v in np.percentile(values, (50, 90, 99))))
    order = np.argsort(values)
    v, w = values[order], weights[order]
    cum = np.cumsum(w) / w.sum()
    pick = [float(v[min(np.searchsorted(cum, q / 100.0), v.size - 1)]) for q in (50, 90, 99)]
    return (float(np.sum(v * w) / w.sum()), *pick)


def _result(client: _Client, engines: list[Engine], chips: float, capacity: float, notes: tuple[str, ...],
            timeline: list | None) -> SimResult:
    done = [r for r in client.requests if r.counted and r.done_s < math.inf]
    if not done:
        raise InfeasiblePlan("no request finished in the simulation")
    count = len(done)  # the requests' times as arrays, one pass each (the same float arithmetic as per request)
    arrival = np.fromiter((r.arrival_s for r in done), float, count)
    first = np.fromiter((r.first_s for r in done), float, count)
    finish = np.fromiter((r.done_s for r in done), float, count)
    osl = np.fromiter((r.osl for r in done), np.int64, count)
    ttft = first - arrival
    e2e = finish - arrival
    many = osl > 1
    tpot = (finish[many] - first[many]) / (osl[many] - 1)
    gaps = np.array([g for e in engines for g in e.itl], float).reshape(-1, 3)  # (gap [s], sequences, steps)
    itl_v = gaps[:, 0]
    itl_w = gaps[:, 1] * gaps[:, 2]
    latency: dict[str, float] = {}
    for name, values, weights in (("ttft", ttft, None), ("tpot", tpot, None), ("itl", itl_v, itl_w), ("e2e", e2e, None)):
        mean, p50, p90, p99 = _percentiles(values, weights)
        latency |= {f"{name}_s": mean, f"{name}_p50_s": p50, f"{name}_p90_s": p90, f"{name}_p99_s": p99}
    start = float(arrival.min())
    end = float(finish.max())
    duration = max(end - start, 1e-12)
    steps = int(gaps[:, 2].sum())  # whole step counts: exact as floats
    batch = sum(itl_w.tolist()) / steps / max(engines[-1].d, 1) if steps else 0.0  # summed in step order
    records = tuple({"time_s": t, "worker": w, "queued": q, "prefilling": p, "running": n, "kv_used_fraction": u}
                    for t, w, q, p, n, u in (timeline or ()))
    return SimResult(latency=latency, output_tokens_per_s=int(osl.sum()) / duration, chips=chips,
                     duration_s=duration, requests=len(done), decode_batch=batch,
                     preemptions=sum(e.preemptions for e in engines), kv_capacity_tokens=capacity,
                     assumptions=notes, timeline=records)


def simulate_aggregated(dep: Deployment, profile: EngineProfile, bench: Benchmark, workers: int = 1,
                        timeline: bool = False) -> SimResult:
    """A benchmark run on `workers` aggregated workers of a deployment (prefill and decode in the same
    steps), the engine's habits read from its profile."""
    sched, capacity = _scheduler(dep, profile, bench)
    table = _table(dep, profile, bench, capacity, float(profile.max_batch_size))
    return run_aggregated(table, sched, bench, int(dep.layout.attn_dp), workers, float(dep.chips), timeline)


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
    engines.extend(Engine(table, sched, ranks, "agg", client.done, rng=rng, timeline=records, name=f"worker {i}")
                   for i in range(workers))
    client.start()
    everyone = tuple(range(workers))  # a request ending anywhere sends the next one to any worker
    _drive(engines, [sched.ttft_overhead_s] * workers, [everyone] * workers, touched)
    notes = sched.describe() + (f"simulated {len(client.requests)} requests from client profile {bench.client.id} "
                                f"({bench.client.source})",)
    result = _result(client, engines, chips_per_worker * workers, sched.kv.capacity_tokens, notes, records)
    engines.clear()  # the send callback holds the list: emptied, the run's objects are freed as it returns
    return result


def simulate_disaggregated(prefill: Deployment, decode: Deployment, profile: EngineProfile, bench: Benchmark,
                           prefill_workers: int, decode_workers: int, prefill_batch: float | None = None,
                           decode_batch: float | None = None, timeline: bool = False) -> SimResult:
    """A benchmark run on separate prefill and decode workers of two deployments (run_disaggregated),
    the KV cache moved over the links (kv_transfer_s)."""
    p_sched, p_cap = _scheduler(prefill, profile, bench)
    d_sched, d_cap = _scheduler(decode, profile, bench, prompts=False)
    p_sched, d_sched = prefill_worker_scheduler(p_sched, profile), decode_worker_scheduler(d_sched)
    prompts_only = dataclasses.replace(profile, sim_prefill_scale=profile.sim_prefill_scale * profile.sim_disagg_prefill_scale)
    # the host's floor on eager prompt steps (sim_prefill_host_launch_s) is fitted on aggregated rows; the prefill
    # workers' prompt time is fitted as a whole (sim_disagg_prefill_scale) on disaggregated rows without it
    p_table = _table(prefill, prompts_only, bench, p_cap, float(prefill_batch or profile.max_batch_size), False)
    d_table = _table(decode, profile, bench, d_cap, float(decode_batch or profile.max_batch_size), False)
    return run_disaggregated(p_table, p_sched, d_table, d_sched, bench, kv_transfer_s(prefill, decode, float(bench.isl)),
                             prefill_workers, decode_workers, int(prefill.layout.attn_dp), int(decode.layout.attn_dp),
                             float(prefill.chips), float(decode.chips), prefill_batch, decode_batch, timeline)


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
                      max_prefill=prefill_batch, timeline=records, name=f"prefill {i}") for i in range(prefill_workers))
    dec.extend(Engine(d_table, d_sched, decode_ranks, "decode", client.done, rng=rng, max_batch=decode_batch,
                      timeline=records, name=f"decode {i}") for i in range(decode_workers))
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
    notes = d_sched.describe() + (
        f"disaggregated: {prefill_workers} prefill worker(s) of {prefill_chips:g} chips, {decode_workers} decode "
        f"worker(s) of {decode_chips:g} chips; KV moved in {transfer_s * 1e3:.2f} ms plus a hand-off of "
        f"{d_sched.disagg_ttft_overhead_s * 1e3:.0f} ms",
        f"simulated {len(client.requests)} requests from client profile {bench.client.id}")
    chips = prefill_chips * prefill_workers + decode_chips * decode_workers
    result = _result(client, pre + dec, chips, d_sched.kv.capacity_tokens, notes, records)
    pre.clear()  # the send callbacks hold the lists: emptied, the run's objects are freed as it returns
    dec.clear()
    return result
