"""An engine's per-rank bookkeeping: a request's life (Request), the KV cache each rank holds or reserves,
its decoding sequences with the calendar of the steps their last tokens come out in, and preemption."""

from __future__ import annotations

import heapq
import math
import operator

__all__ = ["Request", "Ranks"]

_INF = math.inf
_by_id = operator.attrgetter("id")


class Request:
    """One request's life (mutable simulation state, not a domain value)."""

    __slots__ = ("id", "arrival_s", "isl", "osl", "rank", "prompt_left", "cached", "first_s", "done_s", "finish_step",
                 "start_step", "contrib", "order", "decode_left", "counted", "reserved", "prefilled_s", "kv_waited",
                 "last_s")

    def __init__(self, id: int, arrival_s: float, isl: int, osl: int, counted: bool = True) -> None:
        self.id, self.arrival_s, self.isl, self.osl, self.counted = id, arrival_s, isl, osl, counted
        self.rank = 0
        self.prompt_left = float(isl)  # prompt tokens still to prefill
        self.cached = 0.0  # prompt tokens already prefilled (context of the next chunk)
        self.first_s = _INF
        self.done_s = _INF
        self.prefilled_s = _INF
        self.finish_step = -1  # decode step at which the last token is out; -1: not decoding
        self.start_step = 0
        self.contrib = 0.0
        self.order = 0
        self.decode_left = float(osl - 1)  # output tokens still to decode after the first
        self.reserved = 0.0
        self.kv_waited = False  # waited for KV room at least once: refused admission (Admission._admit) or preempted
        # when its last chunk came out, in the clock of the engine decoding it (Engine._token_gaps; inf: none yet)
        self.last_s = _INF


class Ranks:
    """The part of Engine (mixed into it; Engine.__init__ sets the state used here) that keeps each rank's
    KV cache and decoding sequences: KV in use, decode start and end, preemption (admission, which reserves KV,
    is Admission._admit)."""

    def kv_used(self, r: int) -> float:
        if not self.on_demand:
            return self.reserved[r]
        return self.held_prompts[r] + self.ctx[r] + self.m * self.n[r] * self.steps

    def _start_decode(self, r: int, req: Request) -> None:
        """The request decodes from the next decode step on until its last token."""
        left = req.decode_left
        if left <= 0:
            req.done_s = req.first_s
            self.pending -= 1
            self.on_done(req)
            self._release(r, req, decoding=False)
            return
        if self.mtp_tokens:
            mean = left / self.m
            sd = math.sqrt(left * self.v / self.m ** 3)
            steps = max(int(round(self.rng.normal(mean, sd))), int(math.ceil(left / self.width)), 1)
        else:
            steps = math.ceil(left)
        step = self.steps
        finish = req.finish_step = step + steps
        req.start_step = step
        contrib = req.contrib = req.isl + (req.osl - left) - self.m * step
        self.n[r] += 1
        self.decoding += 1
        self.ctx[r] += contrib
        if (due := self.finishing.get(finish)) is None:
            self.finishing[finish] = [req]
            heapq.heappush(self.finish_steps, finish)
        else:
            due.append(req)
        if self.on_demand:  # only a KV cache that grows on demand preempts (_preempt)
            self.started[r].append(req)
        self.joined.append(req.last_s)

    def _release(self, r: int, req: Request, decoding: bool = True) -> None:
        if decoding:
            self.n[r] -= 1
            self.decoding -= 1
            self.ctx[r] -= req.contrib
        self.reserved[r] -= req.reserved
        req.reserved = 0.0

    def _make_room(self) -> None:
        """Before a step that decodes: a rank whose KV cache would outgrow it in that step (every decoding sequence one
        token longer, m with MTP) preempts its latest requests first, so the cache is never overcommitted (a rank
        keeps its last sequence whatever it holds). Only a cache that grows on demand preempts."""
        if not self.on_demand:
            return
        held, ctx, n, capacity, m, after = self.held_prompts, self.ctx, self.n, self.capacity, self.m, self.steps + 1
        for r in range(self.d):
            while n[r] > 1 and held[r] + ctx[r] + m * n[r] * after > capacity:
                self._preempt(r)

    def _preempt(self, r: int) -> None:
        """The latest-admitted decoding request of rank r gives its KV back and is recomputed later."""
        stack = self.started[r]
        while stack and stack[-1].finish_step < 0:  # ended or preempted already
            stack.pop()
        if self.n[r] <= 1 or not stack:
            return
        req = stack.pop()
        done = self.m * (self.steps - req.start_step)
        self._release(r, req)
        req.finish_step = -1
        req.last_s = self.now  # its last chunk came out of the step that just ended
        req.decode_left = max(req.decode_left - done, 0.0)
        req.prompt_left = req.isl + (req.osl - 1 - req.decode_left)  # prompt and output so far, prefilled again
        req.cached = 0.0
        req.kv_waited = True  # back in the queue until KV room comes back
        self.waiting[r].appendleft(req)
        self.preemptions += 1

    def _finish(self) -> None:
        out = 0.0  # when a last token reaches the client [s]
        looked = False
        finish_steps, steps = self.finish_steps, self.steps
        while finish_steps and finish_steps[0] <= steps:
            step = heapq.heappop(finish_steps)
            due = self.finishing.pop(step)
            if len(due) > 1:
                due.sort(key=_by_id)  # requests that end in the same step end in the order they were sent
            for req in due:
                if step != req.finish_step:  # a stale entry: preempted, or re-admitted with a new finish
                    continue
                if not looked:  # the output path delays the last token as it did the first (before any release)
                    delay, lag = self._output_delays()
                    out = self.now + delay + lag
                    looked = True
                req.finish_step = -1
                self._release(req.rank, req)
                req.done_s = req.first_s if req.first_s > out else out  # max(out, first_s)
                self.pending -= 1
                self.on_done(req)
