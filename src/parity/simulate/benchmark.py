"""What a benchmark sends (Benchmark: lengths, clients, arrivals) and the client that sends it to the
simulated engines, in a closed loop or at given times."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from parity.errors import ParityError
from parity.simulate.clients import Arrivals, ClientProfile, draw_lengths, length_range, mean_length
from parity.simulate.ranks import Request

__all__ = ["Benchmark", "MAX_SIMULATED_REQUESTS", "trace_too_long"]


# the most requests one simulation replays: about 25 s and a few GB at 1,000,000 (100,000 closed-loop clients of
# 10 prompts); more ran out of memory (24 GB at 100,000,000 clients)
MAX_SIMULATED_REQUESTS = 1_000_000


def trace_too_long() -> str:
    """The refusal of a trace of more requests than the simulator runs (MAX_SIMULATED_REQUESTS)."""
    return (f"the trace has more than {MAX_SIMULATED_REQUESTS:,} requests; the simulator runs at most "
            f"{MAX_SIMULATED_REQUESTS:,}: cut the trace")


@dataclass(frozen=True, slots=True, kw_only=True)
class Benchmark:
    """What the client sends: nominal prompt and output lengths [tokens], clients, and how requests
    arrive (Arrivals; default: the client profile's closed loop). seed: of the length and MTP draws.
    max_concurrency: an open loop's cap on requests in flight (Arrivals.max_concurrency). from_row: a cases table
    row's open loop, whose notes name the row's columns (concurrency, max_concurrency), not serve's options."""

    isl: int
    osl: int
    concurrency: int
    client: ClientProfile
    num_prompts: int | None = None
    request_rate: float | None = None
    poisson: bool = True
    trace: tuple = ()
    seed: int = 0
    max_concurrency: int | None = None
    from_row: bool = False

    def __post_init__(self) -> None:
        if self.isl < 1 or self.osl < 1 or self.concurrency < 1:
            raise ParityError(f"isl, osl and concurrency must be >= 1, got {self.isl}, {self.osl}, {self.concurrency}")
        requests = self.arrivals().num_prompts
        if requests > MAX_SIMULATED_REQUESTS:
            if self.trace:
                raise ParityError(trace_too_long())
            closed = self.request_rate is None
            raise ParityError(f"the simulator replays every request, and {requests:,}"
                              + (f" ({self.concurrency:,} clients)" if closed else "")
                              + f" are more than it runs ({MAX_SIMULATED_REQUESTS:,}): give fewer (--num-prompts)"
                              + (" or use the steady-state model (--model-kind steady)" if closed else ""))

    def offered_output_tokens_per_s(self) -> float | None:
        """Output tokens a second an open loop's arrivals ask for: its request rate times the mean output length it
        draws (a trace's requests over their span); None for a closed loop or requests all at once. Under a cap on
        requests in flight (max_concurrency) it is what arrives, not what is sent: the rest waits at the client."""
        if self.trace:
            span = self.trace[-1].arrival_s - self.trace[0].arrival_s
            if len(self.trace) < 2 or not span > 0:
                return None
            return (len(self.trace) - 1) / span * sum(r.osl for r in self.trace) / len(self.trace)
        if self.request_rate is None or not math.isfinite(self.request_rate):
            return None
        return self.request_rate * mean_length(self.osl, self.client.range_ratio)

    def most_in_flight(self) -> int:
        """Requests that can be in flight at once: a closed loop's clients; an open loop's or a trace's cap on them
        (max_concurrency), or without one every request it sends (concurrency then only sets how many)."""
        if self.request_rate is None and not self.trace:
            return self.concurrency
        arrivals = self.arrivals()
        return min(arrivals.num_prompts, self.max_concurrency or arrivals.num_prompts)

    def counts_clients(self) -> bool:
        """Whether `concurrency` shapes the run: a closed loop's clients, or an open loop's count of requests (the
        client profile's prompts_per_client x concurrency) where neither num_prompts nor the profile's own count sets
        it; a trace's requests are its own."""
        if self.trace:
            return False
        return self.request_rate is None or not (self.num_prompts or self.client.num_prompts)

    def draws(self) -> bool:
        """Whether the client draws anything from `seed`: lengths from a range (a trace gives its own), or Poisson
        gaps between arrivals at a finite request rate. (The engine may draw too: MTP acceptance, a disaggregated
        worker's attention-DP rank.)"""
        if self.trace:
            return False
        return not self.fixed_lengths() or (self.poisson and self.request_rate is not None
                                            and math.isfinite(self.request_rate))

    def fixed_lengths(self) -> bool:
        """Whether the client sends every prompt and output at its nominal length (no range to draw from; a trace's
        lengths are its own, and not asked here)."""
        return all(low == high for low, high in (length_range(n, self.client.range_ratio)
                                                 for n in (self.isl, self.osl)))

    def arrivals(self) -> Arrivals:
        n = self.num_prompts or (len(self.trace) if self.trace else self.client.prompts(self.concurrency))
        return Arrivals(concurrency=self.concurrency, num_prompts=n, request_rate=self.request_rate,
                        poisson=self.poisson, trace=self.trace, max_concurrency=self.max_concurrency)


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
        self.cap = arrivals.max_concurrency  # an open loop's requests in flight at most (None: no cap)
        self.in_flight = 0

    def start(self) -> None:
        if self.times is None:
            for _ in range(min(self.limit, len(self.requests))):
                self._send(0.0)
        else:  # open loop: every request at its time, the first `cap` of them where requests in flight are capped
            for t in self.times if self.cap is None else self.times[:self.cap]:
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
        elif self.cap is not None and self.next < len(self.requests):  # the next in arrival order takes the slot
            due = self.times[self.next]
            self._send(due if due > req.done_s else req.done_s)
