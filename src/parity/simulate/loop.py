"""The event loop: engines (workers of attention-DP ranks in lockstep) that run step by step, and a
driver that feeds them requests from the client and moves prompts from prefill to decode workers.

A step's time is one table lookup. Between events (an arrival becoming visible, a request finishing,
a prompt let in by a policy, the KV cache running out) every step is a plain decode step of the same
sequences, so the loop takes those steps as one stretch of k steps at the context of their middle."""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right
import math
import operator
from collections import deque
from collections.abc import Callable

import numpy as np

from parity.errors import InfeasiblePlan
from parity.simulate.policies import Scheduler
from parity.simulate.tables import StepTable

__all__ = ["Request", "Engine"]

_INF = math.inf
_by_id = operator.attrgetter("id")
_IDLE_ITERATION_S = 1e-3  # assumption: an engine loop with nothing to run polls about once a millisecond


class Request:
    """One request's life (mutable simulation state, not a domain value)."""

    __slots__ = ("id", "arrival_s", "isl", "osl", "rank", "prompt_left", "cached", "first_s", "done_s", "finish_step",
                 "start_step", "contrib", "order", "decode_left", "counted", "reserved", "prefilled_s")

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


class Engine:
    """One worker: `ranks` attention-DP ranks stepping together. role 'agg' prefills and decodes,
    'prefill' hands requests on after their prompt (on_prefilled), 'decode' takes prefilled requests.
    Calls on_done(request) when a request's last token is out."""

    def __init__(self, table: StepTable, scheduler: Scheduler, ranks: int, role: str,
                 on_done: Callable[[Request], None], on_prefilled: Callable[[Request], None] | None = None,
                 rng: np.random.Generator | None = None, max_batch: float | None = None,
                 max_prefill: float | None = None, timeline: list | None = None, name: str = "worker") -> None:
        self.table, self.s, self.d, self.role = table, scheduler, ranks, role
        self.on_done, self.on_prefilled = on_done, on_prefilled
        self.rng = rng or np.random.default_rng(0)
        self.max_batch = min(scheduler.budget.max_batch_size, max_batch or _INF)
        self.max_prefill = max_prefill or _INF  # prompts a rank starts per step at most (disaggregated prefill)
        # DpRouting: a disaggregated worker's requests land on a rank drawn at random, else on the least loaded
        self.random_rank = scheduler.dp_routing.by_bootstrap_room and role != "agg" and ranks > 1
        self.timeline, self.name = timeline, name
        self.now = 0.0
        self.steps = 0  # decode steps run so far
        self.inbound: list[tuple[float, int, Request]] = []  # (time visible to the scheduler, id, request)
        self.waiting = [deque() for _ in range(ranks)]
        self.prefilling: list[list[Request]] = [[] for _ in range(ranks)]
        self.n = [0] * ranks  # decoding sequences per rank
        self.ctx = [0.0] * ranks  # sum of (context at step 0 of the counter) of decoding sequences
        self.held_prompts = [0.0] * ranks  # prompt tokens of prefilling requests (KV they hold)
        self.reserved = [0.0] * ranks  # KV reserved at admission (no on-demand growth)
        # decoding requests by the decode step of their last token (a calendar: the steps in a heap, each step's
        # requests in a list; a preempted request stays in its old step's list and is skipped there)
        self.finishing: dict[int, list[Request]] = {}
        self.finish_steps: list[int] = []
        self.started: list[list[Request]] = [[] for _ in range(ranks)]  # decoding requests by start, latest last
        self.admitted = 0
        self.pending = 0
        self._delays_at = -1.0
        self._delays = (0.0, 0.0)
        self.preemptions = 0
        self.held_steps = 0  # steps new prompts have been held by a policy
        self.since_recv = 0
        self.last_had_prompts = False
        self.prev_start = 0.0
        self.itl: list[tuple[float, float, int]] = []
        self.idle_clock: list[float] = []  # clock values of the last idle run past other engines' turns (_idle)  # (gap [s], sequences that saw it, steps)
        m, v = scheduler.mtp.moments() if scheduler.mtp.tokens else (1.0, 0.0)
        self.m, self.v = m, v
        self.width = 1 + scheduler.mtp.tokens
        self._memo = (math.nan, math.nan, 0.0)  # the last decode step looked up: (batch, context, time [s])

    # ---- arrivals ---------------------------------------------------------------------------------
    def push(self, time_s: float, req: Request) -> None:
        heapq.heappush(self.inbound, (time_s, req.id, req))
        self.pending += 1

    def outstanding(self) -> int:
        """Requests sent here and not yet handed on or ended."""
        return self.pending

    def has_work(self) -> bool:
        return any(self.n) or any(self.prefilling) or any(self.waiting)

    def ready_s(self) -> float:
        """When this engine next has something to do."""
        if self.has_work():
            return self.now
        return max(self.now, self.inbound[0][0]) if self.inbound else _INF  # an idle clock never runs back

    def _deliver(self, busy: bool) -> None:
        """Requests whose arrival the scheduler sees now join the least-loaded rank's queue (busy: has_work())."""
        seen = self._seen_s(busy)
        if self.s.recv.steps > 1 and any(self.n) and not self.last_had_prompts and self.since_recv < self.s.recv.steps:
            return
        took = False
        loads: list[int] | None = None
        inbound, waiting, one = self.inbound, self.waiting, self.d == 1
        while inbound and inbound[0][0] <= seen:
            _, _, req = heapq.heappop(inbound)
            if one:
                req.rank = 0
            elif self.random_rank:
                req.rank = int(self.rng.integers(self.d))
            else:
                if loads is None:
                    loads = [self.n[r] + len(self.prefilling[r]) + len(waiting[r]) for r in range(self.d)]
                req.rank = loads.index(min(loads))
                loads[req.rank] += 1
            waiting[req.rank].append(req)
            took = True
        if took or not inbound or self.s.recv.steps > 1:
            self.since_recv = 0  # RecvInterval: SGLang's counter restarts at every attempt, whatever it found

    def _seen_s(self, busy: bool) -> float:
        """Arrivals up to this time are visible to the scheduler now: with overlap scheduling, those before
        the running step began."""
        return self.prev_start if busy and self.s.overlap.on else self.now

    # ---- KV --------------------------------------------------------------------------------------
    def kv_used(self, r: int) -> float:
        if not self.s.kv.on_demand:
            return self.reserved[r]
        return self.held_prompts[r] + self.ctx[r] + self.m * self.n[r] * self.steps

    def _admissible(self, r: int, req: Request) -> bool:
        if self.n[r] + len(self.prefilling[r]) >= self.max_batch:
            return False
        kv = self.s.kv
        # on demand: the prompt (and, after a preemption, the output so far) and one token; else the whole length
        need = kv.blocks(max(req.prompt_left, req.isl) + 1) if kv.on_demand else kv.blocks(req.isl + req.osl)
        return self.kv_used(r) + need <= kv.capacity_tokens or (self.n[r] + len(self.prefilling[r]) == 0)

    def _reserve(self, r: int, req: Request) -> None:
        kv = self.s.kv
        req.reserved = kv.blocks(req.isl + req.osl)
        self.reserved[r] += req.reserved

    def _start_decode(self, r: int, req: Request) -> None:
        """The request decodes from the next decode step on until its last token."""
        left = req.decode_left
        if left <= 0:
            req.done_s = req.first_s
            self.pending -= 1
            self.on_done(req)
            self._release(r, req, decoding=False)
            return
        if self.s.mtp.tokens:
            mean = left / self.m
            sd = math.sqrt(left * self.v / self.m ** 3)
            steps = max(int(round(self.rng.normal(mean, sd))), int(math.ceil(left / self.width)), 1)
        else:
            steps = int(math.ceil(left))
        req.start_step = self.steps
        req.finish_step = self.steps + steps
        req.contrib = req.isl + (req.osl - left) - self.m * self.steps
        self.n[r] += 1
        self.ctx[r] += req.contrib
        if (due := self.finishing.get(req.finish_step)) is None:
            self.finishing[req.finish_step] = [req]
            heapq.heappush(self.finish_steps, req.finish_step)
        else:
            due.append(req)
        self.started[r].append(req)

    def _release(self, r: int, req: Request, decoding: bool = True) -> None:
        if decoding:
            self.n[r] -= 1
            self.ctx[r] -= req.contrib
        self.reserved[r] -= req.reserved
        req.reserved = 0.0

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
        req.decode_left = max(req.decode_left - done, 0.0)
        req.prompt_left = req.isl + (req.osl - 1 - req.decode_left)  # prompt and output so far, prefilled again
        req.cached = 0.0
        self.waiting[r].appendleft(req)
        self.preemptions += 1

    # ---- one iteration ---------------------------------------------------------------------------
    def _gate(self) -> bool:
        """May new prompts be admitted in this step (the policies that hold them)?"""
        s = self.s
        if not any(self.waiting):
            self.held_steps = 0
            return False
        running = sum(self.n)
        if s.balance.hold_steps > 0 and self.d > 1:
            if not all(self.waiting) and self.held_steps < s.balance.hold_steps:
                return False
        if s.batch_wait.on and running > 0:
            tokens = sum(q.prompt_left for w in self.waiting for q in w) + running * self.width
            if tokens < s.batch_wait.tokens_ratio * s.budget.max_num_tokens and self.held_steps < s.batch_wait.timeout_steps:
                return False
        return True

    def _plan(self, admit: bool) -> tuple[list[tuple[Request, float]], list[float]]:
        """Prompt chunks of this step: (request, tokens) and prompt tokens per rank."""
        chunks: list[tuple[Request, float]] = []
        per_rank = [0.0] * self.d
        b = self.s.budget
        lag = -1.0  # the output path's lag, looked up at the first admission (nothing before it changes it)
        n, prefilling, waiting = self.n, self.prefilling, self.waiting
        budget, width, mixed, chunked = b.max_num_tokens, self.width, b.mixed, b.chunked
        max_batch, max_prefill, decode, reserve = self.max_batch, self.max_prefill, self.role == "decode", \
            not self.s.kv.on_demand
        inputs = b.prompt_admission.max_prefill_tokens if b.prompt_admission is not None and not decode else None
        input_left = 0.0
        for r in range(self.d):
            if not prefilling[r] and not (admit and waiting[r]):
                continue  # nothing to prefill or admit: no prompt tokens on this rank
            room = budget - (n[r] * width if mixed else 0)
            left = room
            started = 0
            pre_r, wait_r = prefilling[r], waiting[r]
            for req in pre_r:
                if left <= 0:
                    break
                c = min(req.prompt_left, left)
                chunks.append((req, c))
                left -= c
            if inputs is not None:  # PromptAdmission's input budget: the step's prompt tokens so far come off it too
                input_left = inputs - (n[r] * width if mixed else 0) - (room - left)
            while admit and left > 0 and wait_r and started < max_prefill:
                if n[r] + len(pre_r) >= max_batch:
                    break  # the rank is full (_admissible's first test, without the call)
                req = wait_r[0]
                if inputs is not None and left < room and req.prompt_left >= input_left:
                    break  # PromptAdmission: a prompt not smaller than the input budget left waits, unless it is first
                if not chunked and req.prompt_left > left and left < budget:
                    break  # a whole prompt per step (no chunking) and it does not fit beside this step's others
                if not self._admissible(r, req):
                    break
                wait_r.popleft()
                self.admitted += 1
                req.order = self.admitted
                if reserve:
                    self._reserve(r, req)
                if decode:
                    if not self.s.handoff.first_token_at_prefill:  # else the token is out already (handed on)
                        if lag < 0.0:
                            lag = self._lag()
                        req.first_s = max(req.first_s if req.first_s < _INF else 0.0, self.now) + lag
                    self._start_decode(r, req)
                    continue
                pre_r.append(req)
                self.held_prompts[r] += req.prompt_left
                c = min(req.prompt_left, left)
                chunks.append((req, c))
                left -= c
                started += 1
                if inputs is not None:
                    input_left -= c
            per_rank[r] = room - left
        return chunks, per_rank

    def advance(self, horizon: float = _INF, due_s: Callable[[], float] | None = None) -> None:
        """Run one step, or one stretch of decode steps up to the next event (and at most to `horizon`), or
        idle scheduler iterations while a policy holds the waiting prompts (_idle; due_s: when another
        engine is due, asked only then; None: no other engine)."""
        if self.idle_clock:
            self.idle_clock = []
        busy = self.has_work()
        if not busy and self.inbound:
            self.now = max(self.now, self.inbound[0][0])
        self._deliver(busy)
        admit = self._gate()
        chunks, per_rank = self._plan(admit) if (admit or any(self.prefilling)) else ([], [0.0] * self.d)
        if self.role == "decode" and admit:
            self.held_steps = 0
        decoding = sum(self.n)
        busiest = max(self.n)
        prompt_tokens = max(per_rank)
        if prompt_tokens > 0:
            mixed = self.s.budget.mixed
            decodes = busiest if mixed else 0
            ctx = self._mean_context() if decodes else 1.0
            cached = sum(req.cached * c for req, c in chunks) / max(sum(c for _, c in chunks), 1.0)
            ranks = sum(1 for p in per_rank if p > 0)
            t = self.table.time_s(decodes, ctx, prompt_tokens, cached, ranks)
            self.prev_start = self.now
            self.now += t
            self.held_steps = 0
            self.last_had_prompts = True
            if decodes:
                self.itl.append((t, float(decoding), 1))
                self.steps += 1
                self.since_recv += 1
            for req, c in chunks:
                req.prompt_left -= c
                req.cached += c
                if req.prompt_left <= 0:
                    self._prefilled(req)
            self._finish()
            self._record()
            return
        self.last_had_prompts = False
        if decoding == 0:  # nothing runs: prompts held by a policy, or waiting for admission they cannot get
            nxt = self.inbound[0][0] if self.inbound else _INF
            if any(self.waiting) and not admit:
                self._idle(due_s() if due_s is not None else _INF)
            else:
                self.held_steps += 1
                self.now = max(self.now, nxt if nxt < _INF else self.now)
            return
        k = self.finish_steps[0] - self.steps if self.finish_steps else 1
        ctx_sum = sum(self.ctx)  # _mean_context's sums, taken once (nothing below changes them)
        t1 = self._decode_s(busiest, (ctx_sum + self.m * decoding * (self.steps + 0.0)) / decoding)
        if self.inbound:
            k = min(k, int((self.inbound[0][0] - self.now) / t1) + 1)
        if horizon < _INF:
            k = min(k, int((horizon - self.now) / t1) + 1)
        queued = any(self.waiting)
        if queued:
            s = self.s
            if s.balance.hold_steps > 0:
                k = min(k, int(s.balance.hold_steps - self.held_steps) + 1)
            if s.batch_wait.on:
                k = min(k, int(s.batch_wait.timeout_steps - self.held_steps) + 1)
        cadence = False  # RecvInterval: does this stretch pass receive attempts that find nothing?
        if s_recv := self.s.recv.steps:
            if s_recv > 1 and self.inbound:  # up to the next attempt: `steps` decode steps after the last
                k = min(k, max(math.ceil(s_recv - self.since_recv), 1))
            cadence = s_recv > 1 and not self.inbound
        if self.s.kv.on_demand:
            for r in range(self.d):
                if self.n[r]:
                    room = (self.s.kv.capacity_tokens - self.kv_used(r)) / (self.m * self.n[r])
                    k = min(k, max(int(room), 1))
        k = max(k, 1)
        t = self._decode_s(busiest, (ctx_sum + self.m * decoding * (self.steps + 0.5 * (k - 1))) / decoding)
        self.prev_start = self.now + (k - 1) * t
        self.now += k * t
        self.steps += k
        self.since_recv += k
        if cadence and self.since_recv > self.s.recv.steps:  # attempts every `steps` steps found nothing
            self.since_recv = (self.since_recv - 1) % self.s.recv.steps + 1
        self.held_steps += k if queued else 0
        self.itl.append((t, float(decoding), k))
        if self.s.kv.on_demand:
            for r in range(self.d):
                while self.n[r] > 1 and self.kv_used(r) > self.s.kv.capacity_tokens:
                    self._preempt(r)
        self._finish()
        self._record()

    def _idle(self, stop_s: float) -> None:
        """Scheduler iterations with nothing to run while a policy holds the waiting prompts: they come every
        _IDLE_ITERATION_S, and a run of them jumps to the next arrival or to the end of the hold. The runs
        repeat here as long as the next one would follow (no request seen, the policies still holding) and
        either the clock stays before `stop_s`, when another engine is due (the driver's order of engines),
        or nothing another engine does can change them: with overlap scheduling a request sent from now on
        is not seen before the next step, and one already due keeps each run to one iteration. The clock
        values passed on the way beyond `stop_s` are kept in idle_clock (clock_seen_s)."""
        overlap = self.s.overlap.on
        while True:
            nxt = self.inbound[0][0] if self.inbound else _INF
            left = max(self._hold_left(), 1.0)
            until = math.ceil((nxt - self.now) / _IDLE_ITERATION_S) if nxt < _INF else _INF
            ticks = max(1.0, min(left, until))
            if ticks == _INF:  # nothing will ever let these prompts in
                raise InfeasiblePlan("waiting prompts can never be admitted")
            self.held_steps += int(ticks)
            self.now += ticks * _IDLE_ITERATION_S
            # the next iteration: no other engine due first (or none that can change it), seeing no new request
            # (_deliver), still held (_gate)
            beyond = not self.now < stop_s
            if beyond and not (overlap and nxt <= self.now):
                return
            if nxt < _INF and nxt <= self._seen_s(True):
                return
            if nxt == _INF:
                self.since_recv = 0
            if self._gate():
                return
            if beyond:
                self.idle_clock.append(self.now)
            if overlap and nxt <= self.now:
                break
        # a request is due but not seen before the next step: one iteration at a time until the hold ends,
        # whatever other engines do meanwhile
        while True:
            self.held_steps += 1
            self.now += _IDLE_ITERATION_S
            if self._gate():
                return
            if not self.now < stop_s:
                self.idle_clock.append(self.now)

    def clock_seen_s(self, time_s: float, ahead: bool) -> float:
        """This engine's clock as the driver saw it when it advanced another engine that was ready at `time_s`:
        the engine's clock, or within an idle run that went on past other engines' turns (idle_clock), the
        first iteration's clock the driver would not have advanced before that engine (after `time_s`, or
        at it where this engine is behind the other in the driver's order: `ahead` False)."""
        clock = self.idle_clock
        if not clock:
            return self.ready_s()
        i = bisect_right(clock, time_s) if ahead else bisect_left(clock, time_s)
        return clock[i] if i < len(clock) else self.now

    def _lag(self) -> float:
        """What the engine's output path adds to a first token [s]: its lag in decode steps of now."""
        lag = self.s.first_token_lag_steps
        return lag * self._decode_s(max(max(self.n), 1), self._mean_context()) if lag else 0.0

    def _decode_s(self, batch: float, context: float) -> float:
        """One decode-only step [s] (the table's; a step asks for the same one several times)."""
        b, c, t = self._memo
        if batch == b and context == c:
            return t
        t = self.table.decode_time_s(batch, context)
        self._memo = (batch, context, t)
        return t

    def _hold_left(self) -> float:
        """Steps until a policy that holds waiting prompts lets them go (inf: none holds them)."""
        s = self.s
        left = _INF
        if s.balance.hold_steps > 0:
            left = min(left, s.balance.hold_steps - self.held_steps)
        if s.batch_wait.on:
            left = min(left, s.batch_wait.timeout_steps - self.held_steps)
        return left

    def _mean_context(self, ahead: float = 0.0) -> float:
        n = sum(self.n)
        return (sum(self.ctx) + self.m * n * (self.steps + ahead)) / n if n else 1.0

    def _prefilled(self, req: Request) -> None:
        r = req.rank
        self.prefilling[r].remove(req)
        self.held_prompts[r] -= req.isl + (req.osl - 1 - req.decode_left) if req.first_s < _INF else req.isl
        req.prompt_left = 0.0
        delay, lag = self._output_delays()
        req.prefilled_s = self.now + delay
        if self.role == "prefill":
            self._release(r, req, decoding=False)
            assert self.on_prefilled is not None
            self.pending -= 1
            self.on_prefilled(req)
            return
        if req.first_s == _INF:
            req.first_s = self.now + delay + lag
        self._start_decode(r, req)

    def _output_delays(self) -> tuple[float, float]:
        """(what overlap scheduling adds to a token, the output path's lag) [s], once per step."""
        if self._delays_at != self.now:
            delay = self._decode_s(max(self.n), self._mean_context()) if self.s.overlap.on else 0.0
            self._delays = (delay, self._lag() if self.role != "prefill" else 0.0)  # a prefill worker hands on
            self._delays_at = self.now
        return self._delays

    def _finish(self) -> None:
        delay = lag = 0.0
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
                    looked = True
                req.finish_step = -1
                self._release(req.rank, req)
                req.done_s = max(self.now + delay + lag, req.first_s)
                self.pending -= 1
                self.on_done(req)

    def _record(self) -> None:
        if self.timeline is None:
            return
        used = sum(self.kv_used(r) for r in range(self.d)) / (self.s.kv.capacity_tokens * self.d)
        self.timeline.append((self.now, self.name, sum(map(len, self.waiting)) + len(self.inbound),
                              sum(map(len, self.prefilling)), sum(self.n), used))
