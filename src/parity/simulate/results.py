"""What the benchmark of a simulated run reports (SimResult): latency means and percentiles, throughput,
mean decode batch, preemptions and a timeline, summarised from the requests and the engines' steps."""

from __future__ import annotations

import math
from itertools import chain
from operator import attrgetter, itemgetter
from dataclasses import dataclass, field

import numpy as np

from parity.errors import InfeasiblePlan
from parity.flags import Flag
from parity.simulate.benchmark import _Client
from parity.simulate.loop import Engine

__all__ = ["SimResult", "LATENCY_KEYS", "KV_BOUND_SHARE", "CLIENT_KEYS"]

LATENCY_KEYS = tuple(f"{m}_{s}s" for m in ("ttft", "tpot", "itl", "e2e") for s in ("", "p50_", "p90_", "p99_"))
# what a run says of its client's wait (SimResult.client_row): the wait and TTFT counted from arrival, mean and
# percentiles, and the requests that waited, keyed as serve's and predict's rows carry them
CLIENT_KEYS = (tuple(f"{m}_{s}s" for m in ("client_wait", "ttft_from_arrival") for s in ("", "p50_", "p90_", "p99_"))
               + ("client_waited",))

# a run is KV-bound (SimResult.kv_flag) when it preempts, or when at least this share of its requests waited for KV
# room: on such measured runs the simulated TTFT misses far more than on the others (docs/accuracy.md, "By flag"),
# since who waits, and how long, turns on a KV capacity parity estimates from memory arithmetic
KV_BOUND_SHARE = 0.01


@dataclass(frozen=True, slots=True, kw_only=True)
class SimResult:
    """What a benchmark of the simulated run reports. latency: LATENCY_KEYS -> seconds (means and
    percentiles over counted requests; itl over every gap between a request's output chunks, a stall out of the batch
    one long gap, as a benchmark client measures it). output_tokens_per_s:
    counted output tokens over the run's duration (first send to last token); chips: all chips;
    decode_batch: mean sequences per decode step and rank; preemptions: requests evicted for KV;
    ttft_growth: how fast TTFT grew with the time a request was sent [s of TTFT per s], the least-squares slope over
    the counted requests (NaN where they were all sent at once): about 0 for a run that keeps up, and the arrival rate
    over the rate it is served at, less 1, for one whose queue grows; arrival_span_s: first to last send [s].
    client_wait_s, client_wait_p50_s, client_wait_p90_s, client_wait_p99_s: mean and percentiles of how long counted
    requests waited at the client between their arrival (their time in the open loop's stream or trace) and their
    send [s]: 0 but where a cap on requests in flight holds them back (a closed loop sends each as its client's last
    one ends, and counts none: so do a cap's requests all due at once, at --request-rate inf or at one time in a
    trace, which are that closed loop); client_waited: counted requests that waited at all;
    ttft_from_arrival: TTFT counted from arrival (the wait at the client, then TTFT from the send) keyed as latency's
    TTFT keys [s] (ttft_s, ttft_p50_s, ...; where none waited, latency's own figures);
    due_span_s: first to last arrival of the counted requests [s] (arrival_span_s where none waits).
    kv_waited: counted requests that waited for KV room at least once (refused admission for it, or preempted);
    timeline: records (time_s, worker, role, queued, prefilling, partly_prefilled, running, kv_used_fraction) in time
    order: a worker's record at the end of each prompt step and of each stretch of plain decode steps (a stretch runs
    to the next event: a request's last token, an arrival, a full KV cache, a policy's hold; its steps are alike, so
    one record stands for them), and, where the last token reaches the client after the last step, one more at the
    run's end (its state unchanged, prefilling 0). worker: the worker's index among those of its role (agg, prefill
    or decode); queued: requests that reached the worker and wait for a rank to take them (not those yet to be
    sent); prefilling: prompts that took a chunk in the step (those it finished and those with chunks to go; 0 after
    decode steps); partly_prefilled: prompts with chunks to go after it (holding KV); running: sequences decoding;
    kv_used_fraction: the KV cache in use over what the worker's ranks hold.
    kv_peak_tokens: role (agg, prefill, decode) -> the most KV cache one attention-DP rank of that role held at once
    [tokens], and peak_memory_bytes: role -> the device memory that rank held then [B] (the weights, activations and
    reserve its KV capacity is counted beside, and that KV; simulate_aggregated and simulate_disaggregated fill it):
    both kept only with a timeline, else empty."""

    latency: dict[str, float]
    output_tokens_per_s: float
    chips: float
    duration_s: float
    requests: int
    decode_batch: float
    preemptions: int
    kv_capacity_tokens: float
    kv_waited: int = 0
    ttft_growth: float = math.nan
    arrival_span_s: float = 0.0
    client_wait_s: float = 0.0
    client_wait_p50_s: float = 0.0
    client_wait_p90_s: float = 0.0
    client_wait_p99_s: float = 0.0
    client_waited: int = 0
    ttft_from_arrival: dict[str, float] = field(default_factory=dict)
    due_span_s: float = 0.0
    assumptions: tuple[str, ...] = ()
    timeline: tuple[dict[str, object], ...] = field(default=())
    kv_peak_tokens: dict[str, float] = field(default_factory=dict)
    peak_memory_bytes: dict[str, float] = field(default_factory=dict)

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

    def from_arrival(self, key: str) -> float:
        """A TTFT statistic counted from arrival (`key` as latency's: ttft_s, ttft_p99_s) [s]: what a TTFT target
        met from the send reads once the wait at the client is counted; latency's own where none was recorded."""
        return self.ttft_from_arrival.get(key, self.latency[key])

    def client_row(self) -> dict[str, float]:
        """The client's wait and TTFT from arrival keyed as CLIENT_KEYS, as serve's and predict's rows carry them."""
        waits = (self.client_wait_s, self.client_wait_p50_s, self.client_wait_p90_s, self.client_wait_p99_s)
        ttft = tuple(self.from_arrival(k) for k in ("ttft_s", "ttft_p50_s", "ttft_p90_s", "ttft_p99_s"))
        return dict(zip(CLIENT_KEYS, (*waits, *ttft, self.client_waited)))

    def peak_in_flight(self) -> float:
        """Most requests partly prefilled or running at once over every worker, read from the timeline (NaN without
        one); a request moving its KV between workers counts on neither."""
        if not self.timeline:
            return math.nan
        now: dict[object, float] = {}
        peak = 0.0
        for record in sorted(self.timeline, key=lambda r: float(r["time_s"])):  # type: ignore[arg-type]
            in_flight = float(record["partly_prefilled"]) + float(record["running"])  # type: ignore[arg-type]
            now[record["role"], record["worker"]] = in_flight
            peak = max(peak, sum(now.values()))
        return peak

    def kv_flag(self) -> Flag | None:
        """A flag when the run is KV-bound (it preempted, or KV_BOUND_SHARE of its requests waited for KV room),
        else None."""
        if not self.preemptions and self.kv_waited < KV_BOUND_SHARE * self.requests:
            return None
        return Flag("KV-bound run", f"KV-bound run ({self.kv_waited:,} of {self.requests:,} requests waited for KV "
                                    f"room, {self.preemptions:,} preempted): its TTFT turns on the KV capacity")


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
    arrival = np.fromiter(map(attrgetter("arrival_s"), done), float, count)
    first = np.fromiter(map(attrgetter("first_s"), done), float, count)
    finish = np.fromiter(map(attrgetter("done_s"), done), float, count)
    osl = np.fromiter(map(attrgetter("osl"), done), np.int64, count)
    ttft = first - arrival
    e2e = finish - arrival
    many = osl > 1
    tpot = (finish[many] - first[many]) / (osl[many] - 1)
    # gap [s], chunks: every engine's (gap, chunks) pairs flattened, in order
    gaps = np.fromiter(chain.from_iterable(chain.from_iterable(e.itl for e in engines)), float).reshape(-1, 2)
    itl_v = gaps[:, 0]
    itl_w = gaps[:, 1]
    latency: dict[str, float] = {}
    for name, values, weights in (("ttft", ttft, None), ("tpot", tpot, None), ("itl", itl_v, itl_w), ("e2e", e2e, None)):
        mean, p50, p90, p99 = _percentiles(values, weights)
        latency |= {f"{name}_s": mean, f"{name}_p50_s": p50, f"{name}_p90_s": p90, f"{name}_p99_s": p99}
    span = float(arrival.max() - arrival.min())
    # an open loop's arrivals (request i is due at times[i]); a capped client sends a request once one in flight ends.
    # Requests all due at once (--request-rate inf, a trace at one time) under a cap are a closed loop of the cap's
    # clients, which waits for nothing: its clients send each request as their last one ends
    times = client.times
    spread = times is not None and min(times) < max(times)
    due = np.fromiter((times[r.id] for r in done), float, count) if spread else arrival  # type: ignore[index]
    wait = arrival - due
    wait_mean, wait_p50, wait_p90, wait_p99 = _percentiles(wait)
    from_arrival = dict(zip(("ttft_s", "ttft_p50_s", "ttft_p90_s", "ttft_p99_s"), _percentiles(ttft + wait)))
    growth = float(np.polyfit(arrival, ttft, 1)[0]) if span > 0 else math.nan
    start = float(arrival.min())
    end = float(finish.max())
    duration = max(end - start, 1e-12)
    steps = sum(e.steps for e in engines)
    batch = sum(e.sequence_steps for e in engines) / steps / max(engines[-1].d, 1) if steps else 0.0  # whole counts
    # in time order over every worker (each worker's records are, but workers advance in turn); a stable sort
    ordered = sorted(timeline or (), key=itemgetter(0))
    if ordered and ordered[-1][0] < end:  # the last token reaches the client after the last step (the output path's
        # lag, an overlap scheduler's step): each worker's last state holds to the run's end, where its rows end
        last = {(w, role): (q, partly, n, u) for _, w, role, q, _, partly, n, u in ordered}
        ordered += [(end, w, role, q, 0, partly, n, u) for (w, role), (q, partly, n, u) in last.items()]
    peaks: dict[str, float] = {}
    if timeline is not None:
        for e in engines:
            peaks[e.role] = max(peaks.get(e.role, 0.0), e.kv_peak_tokens)
    records = tuple({"time_s": t, "worker": w, "role": role, "queued": q, "prefilling": p, "partly_prefilled": partly,
                     "running": n, "kv_used_fraction": u} for t, w, role, q, p, partly, n, u in ordered)
    return SimResult(latency=latency, output_tokens_per_s=int(osl.sum()) / duration, chips=chips,
                     duration_s=duration, requests=len(done), decode_batch=batch,
                     preemptions=sum(e.preemptions for e in engines), kv_capacity_tokens=capacity,
                     kv_waited=sum(r.kv_waited for r in done), ttft_growth=growth, arrival_span_s=span,
                     client_wait_s=wait_mean, client_wait_p50_s=wait_p50, client_wait_p90_s=wait_p90,
                     client_wait_p99_s=wait_p99, client_waited=int(np.count_nonzero(wait > 0)),
                     ttft_from_arrival=from_arrival,
                     due_span_s=float(due.max() - due.min()), assumptions=notes, timeline=records,
                     kv_peak_tokens=peaks)
