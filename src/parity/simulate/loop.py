"""The event loop's engine: a worker of attention-DP ranks in lockstep that runs step by step (what it lets
in, its idle iterations and its per-rank bookkeeping are in admission.py, idle.py and ranks.py).

A step's time is one table lookup. Between events (an arrival becoming visible, a request finishing,
a prompt let in by a policy, the KV cache running out) every step is a plain decode step of the same
sequences, so the loop takes those steps as one stretch of k steps at the context of their middle."""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Callable

import numpy as np

from parity.simulate.admission import Admission
from parity.simulate.idle import Idling
from parity.simulate.policies import Scheduler
from parity.simulate.ranks import Ranks, Request
from parity.simulate.tables import StepTable

__all__ = ["Request", "Engine"]

_INF = math.inf


class Engine(Admission, Idling, Ranks):
    """One worker: `ranks` attention-DP ranks stepping together. role 'agg' prefills and decodes,
    'prefill' hands requests on after their prompt (on_prefilled), 'decode' takes prefilled requests.
    Calls on_done(request) when a request's last token is out."""

    def __init__(self, table: StepTable, scheduler: Scheduler, ranks: int, role: str,
                 on_done: Callable[[Request], None], on_prefilled: Callable[[Request], None] | None = None,
                 rng: np.random.Generator | None = None, max_batch: float | None = None,
                 max_prefill: float | None = None, timeline: list | None = None, index: int = 0) -> None:
        self.table, self.s, self.d, self.role = table, scheduler, ranks, role
        # the scheduler's figures that every step reads, as plain attributes (a policy object is frozen)
        self.capacity, self.on_demand = scheduler.kv.capacity_tokens, scheduler.kv.on_demand
        self.block_tokens = scheduler.kv.block_tokens
        self.overlap, self.recv_steps = scheduler.overlap.on, scheduler.recv.steps
        self.hold_steps, self.batch_wait_on = scheduler.balance.hold_steps, scheduler.batch_wait.on
        self.on_done, self.on_prefilled = on_done, on_prefilled
        self.rng = rng or np.random.default_rng(0)
        budget = scheduler.budget
        self.mixed, self.chunked, self.max_num_tokens = budget.mixed, budget.chunked, budget.max_num_tokens
        self.max_batch = min(budget.max_batch_size, max_batch or _INF)
        self.max_prefill = max_prefill or _INF  # prompts a rank starts per step at most (disaggregated prefill)
        # DpRouting: a disaggregated worker's requests land on a rank drawn at random, else on the least loaded
        self.random_rank = scheduler.dp_routing.by_bootstrap_room and role != "agg" and ranks > 1
        self.timeline, self.index = timeline, index  # index: the worker's place among its role's (timeline rows)
        self.kv_peak_tokens = 0.0  # most KV any rank held at once, kept where a timeline is (_note_kv_peak)
        self.now = 0.0
        self.steps = 0  # decode steps run so far
        self.inbound: list[tuple[float, int, Request]] = []  # (time visible to the scheduler, id, request)
        self.waiting = [deque() for _ in range(ranks)]
        self.prefilling: list[list[Request]] = [[] for _ in range(ranks)]
        self.n = [0] * ranks  # decoding sequences per rank
        self.decoding = 0  # decoding sequences of all ranks: sum(n), kept as n changes (Ranks._start_decode, _release)
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
        # the token gaps every client sees, as a benchmark client measures them from chunk to chunk: (gap [s], chunks
        # that came that long after the one before); _token_gaps
        self.itl: list[tuple[float, float]] = []
        self.sequence_steps = 0.0  # decoding sequences summed over the decode steps (the mean decode batch's)
        self.decoded_s = 0.0  # when the last decode step ended (every sequence in it had a chunk out then)
        self.joined: list[float] = []  # the last chunk's time of each request that started decoding since then
        self.idle_clock: list[float] = []  # clock values of the last idle run past other engines' turns (_idle)
        self.first_lags_s: list[float] = []  # the output path's lag of each counted request's first token [s]
        m, v = scheduler.mtp.moments() if scheduler.mtp.tokens else (1.0, 0.0)
        self.m, self.v = m, v
        self.mtp_tokens = scheduler.mtp.tokens
        self.width = 1 + scheduler.mtp.tokens
        self._memo = (math.nan, math.nan, math.nan, 0.0)  # the last decode step: (batch, context, decoding, time [s])
        # PlanBuilds: the token counts each rank's own-token GEMMs have met, and the group's gathered sums
        self.builds = scheduler.plan_builds
        self.counts_met: list[set[int]] = [set() for _ in range(ranks)]
        self.sums_met: set[int] = set()

    # ---- arrivals ---------------------------------------------------------------------------------
    def push(self, time_s: float, req: Request) -> None:
        heapq.heappush(self.inbound, (time_s, req.id, req))
        self.pending += 1

    def outstanding(self) -> int:
        """Requests sent here and not yet handed on or ended."""
        return self.pending

    def has_work(self) -> bool:
        return self.decoding > 0 or any(self.prefilling) or any(self.waiting)

    def ready_s(self) -> float:
        """When this engine next has something to do."""
        if self.decoding or any(self.prefilling) or any(self.waiting):  # has_work(), asked after every step
            return self.now
        return max(self.now, self.inbound[0][0]) if self.inbound else _INF  # an idle clock never runs back

    # ---- one iteration ---------------------------------------------------------------------------
    def advance(self, horizon: float = _INF, due_s: Callable[[], float] | None = None) -> None:
        """Run one step, or one stretch of decode steps up to the next event (and at most to `horizon`), or
        idle scheduler iterations while a policy holds the waiting prompts (_idle; due_s: when another
        engine is due, asked only then; None: no other engine)."""
        if self.idle_clock:
            self.idle_clock = []
        busy = self.decoding > 0 or any(self.prefilling) or any(self.waiting)  # has_work()
        if not busy and self.inbound:
            self.now = max(self.now, self.inbound[0][0])
        self._deliver(busy)
        admit = self._gate()
        if self.role == "decode":  # requests arrive prefilled
            if admit:
                self.held_steps = 0
                self._start_prefilled()
        elif admit or any(self.prefilling):
            chunks, per_rank = self._plan(admit)
            prompt_tokens = max(per_rank)
            if prompt_tokens > 0:
                self._prompt_step(chunks, per_rank, prompt_tokens)
                return
        self.last_had_prompts = False
        if self.decoding:
            self._decode_stretch(horizon)
            return
        # nothing runs: prompts held by a policy, or waiting for admission they cannot get
        nxt = self.inbound[0][0] if self.inbound else _INF
        if any(self.waiting) and not admit:
            self._idle(due_s() if due_s is not None else _INF)
        else:
            self.held_steps += 1
            self.now = max(self.now, nxt if nxt < _INF else self.now)

    def _prompt_step(self, chunks: list[tuple[Request, float]], per_rank: list[float], prompt_tokens: float) -> None:
        """One step with prompt chunks (_plan's): with mixed batching the decodes run in it too (room made for them
        first, Ranks._make_room)."""
        if mixed := self.mixed:
            self._make_room()
        decoding = self.decoding
        decodes = max(self.n) if mixed else 0
        ctx = self._mean_context() if decodes else 1.0
        tokens = cached = 0.0  # the chunks' tokens, and their cached context weighted by their tokens
        for req, c in chunks:
            tokens += c
            cached += req.cached * c
        cached /= max(tokens, 1.0)
        ranks = len(per_rank) - per_rank.count(0.0)  # ranks with prompt tokens (none has fewer than 0)
        t = self.table.time_s(decodes, ctx, prompt_tokens, cached, ranks, decoding if decodes else None)
        if self.builds is not None:
            t += self._plan_build_s(per_rank)
        self.prev_start = self.now
        self.now += t
        self.held_steps = 0
        self.last_had_prompts = True
        if decodes:
            self._token_gaps(self.prev_start, t, decoding, 1)
            self.steps += 1
            self.since_recv += 1
        if self.timeline is not None:  # the KV of every prompt in the step, before any is handed on or ends
            self._note_kv_peak()
        prefilled = []
        for req, c in chunks:
            req.prompt_left -= c
            req.cached += c
            if req.prompt_left <= 0:
                prefilled.append(req)
        if prefilled:
            delay, lag = self._output_delays(self._next_step(prefilled))
            for req in prefilled:
                self._prefilled(req, delay, lag)
        if self.finish_steps and self.finish_steps[0] <= self.steps:  # a last token out (_finish, without a call)
            self._finish()
        if self.timeline is not None:
            self._record(sum(1 for _, c in chunks if c > 0))

    def _plan_build_s(self, per_rank: list[float]) -> float:
        """Host time this prompt step spends building GEMM plans (PlanBuilds) [s]: a rank with tokens meets its count
        for the first time, or the group its sum; both are kept as met."""
        new_own = False
        for met, tokens in zip(self.counts_met, per_rank):
            if tokens > 0 and (count := round(tokens)) not in met:
                met.add(count)
                new_own = True
        total = round(sum(per_rank))
        new_sum = total not in self.sums_met
        self.sums_met.add(total)
        return self.builds.step_s(new_own, new_sum)

    def _decode_stretch(self, horizon: float) -> None:
        """k plain decode steps up to the next event: a request's last token, an arrival becoming visible, the
        end of a policy's hold, a receive attempt, the KV cache running out (room for the first step is made before
        it, Ranks._make_room), or `horizon`."""
        if self.on_demand:  # only a cache that grows on demand preempts
            self._make_room()
        n, m, steps, now, inbound = self.n, self.m, self.steps, self.now, self.inbound
        decoding, busiest = self.decoding, max(n)
        k = self.finish_steps[0] - steps if self.finish_steps else 1
        ctx_sum = sum(self.ctx)  # _mean_context's sums, taken once (nothing below changes them)
        t1: float | None = None
        if inbound or horizon < _INF:  # how many steps of the first one's length fit before them
            t1 = self._decode_s(busiest, (ctx_sum + m * decoding * (steps + 0.0)) / decoding, decoding)
            if inbound and (fit := int((inbound[0][0] - now) / t1) + 1) < k:
                k = fit
            if horizon < _INF and (fit := int((horizon - now) / t1) + 1) < k:
                k = fit
        queued = any(self.waiting)
        if queued:
            if self.hold_steps > 0:
                k = min(k, int(self.hold_steps - self.held_steps) + 1)
            if self.batch_wait_on:
                k = min(k, int(self.s.batch_wait.timeout_steps - self.held_steps) + 1)
        cadence = False  # RecvInterval: does this stretch pass receive attempts that find nothing?
        if s_recv := self.recv_steps:
            if s_recv > 1 and inbound:  # up to the next attempt: `steps` decode steps after the last
                k = min(k, max(math.ceil(s_recv - self.since_recv), 1))
            cadence = s_recv > 1 and not inbound
        if self.on_demand:  # steps until a rank's KV cache is full (kv_used(r), written out: every rank, every step)
            held, ctx, capacity = self.held_prompts, self.ctx, self.capacity
            for r, n_r in enumerate(n):
                if n_r:
                    room = (capacity - (held[r] + ctx[r] + m * n_r * steps)) / (m * n_r)
                    if (fit := int(room)) < k:  # k = min(k, max(int(room), 1)), without the calls
                        k = fit if fit > 1 else 1
        if k < 1:
            k = 1
        if k == 1 and t1 is not None:  # a stretch of one step: the first step's time, looked up already
            t = t1
        else:
            t = self._decode_s(busiest, (ctx_sum + m * decoding * (steps + 0.5 * (k - 1))) / decoding, decoding)
        self.prev_start = now + (k - 1) * t
        self.now = now + k * t
        self.steps = steps + k
        self.since_recv += k
        if cadence and self.since_recv > s_recv:  # attempts every `steps` steps found nothing
            self.since_recv = (self.since_recv - 1) % s_recv + 1
        if queued:
            self.held_steps += k
        self._token_gaps(now, t, decoding, k)
        if self.timeline is not None:  # the stretch's last step, its ending sequences at their full length
            self._note_kv_peak()
        if self.finish_steps and self.finish_steps[0] <= self.steps:  # a last token out (_finish, without a call)
            self._finish()
        if self.timeline is not None:
            self._record(0)

    def _token_gaps(self, start_s: float, step_s: float, decoding: int, k: int) -> None:
        """The chunk gaps of k decode steps of step_s each from start_s, run by `decoding` sequences (in itl): a
        step's chunk comes one step after the one before, but a sequence's first chunk here comes after its last
        one, whenever that was. Sequences that decoded in the last decode step waited out any steps between (a
        prompt step that pauses decodes); a request that started decoding since (joined) waited from its first
        token, or from its last chunk before a preemption (its recompute in between), or on a decode worker from
        the first token it brings along (the KV transfer). So one request's gaps add up to its E2E less its TTFT,
        as a benchmark client's do."""
        itl, joined = self.itl, self.joined
        if joined or start_s != self.decoded_s:
            carried = decoding - len(joined)
            if carried:
                itl.append((step_s + (start_s - self.decoded_s), float(carried)))
            end = start_s + step_s
            itl.extend([(end - last_s, 1.0) for last_s in joined])
            joined.clear()
            if k > 1:
                itl.append((step_s, float(decoding * (k - 1))))
        else:
            itl.append((step_s, float(decoding * k)))
        self.decoded_s = self.now
        self.sequence_steps += decoding * k

    def _decode_s(self, batch: float, context: float, decoding: float) -> float:
        """One decode-only step [s] of `batch` sequences on the busiest rank, `decoding` on all ranks (the table's; a
        step asks for the same one several times)."""
        b, c, n, t = self._memo
        if batch == b and context == c and decoding == n:
            return t
        t = self.table.decode_time_s(batch, context, decoding)
        self._memo = (batch, context, decoding, t)
        return t

    def _mean_context(self, ahead: float = 0.0) -> float:
        n = self.decoding
        return (sum(self.ctx) + self.m * n * (self.steps + ahead)) / n if n else 1.0

    def _prefilled(self, req: Request, delay: float, lag: float) -> None:
        """A request whose prompt this step ended: handed on, or decoding from the next step; (delay, lag): this step's
        _output_delays."""
        r = req.rank
        self.prefilling[r].remove(req)
        self.held_prompts[r] -= req.isl + (req.osl - 1 - req.decode_left) if req.first_s < _INF else req.isl
        req.prompt_left = 0.0
        req.prefilled_s = self.now + delay
        if self.role == "prefill":
            self._release(r, req, decoding=False)
            assert self.on_prefilled is not None
            self.pending -= 1
            self.on_prefilled(req)
            return
        if req.first_s == _INF:
            req.first_s = self.now + delay + lag
            if lag and req.counted:
                self.first_lags_s.append(lag)
            req.last_s = self.now  # the first token's step, in the clock the later chunks' steps end by
        self._start_decode(r, req)

    def _next_step(self, prefilled: list[Request]) -> tuple[int, float, int]:
        """(sequences of the busiest rank, their mean context [tokens], sequences of all ranks) in the step after this
        one, where the requests whose prompts this step ended (`prefilled`) decode beside those decoding now (none on
        a prefill worker, which hands them on)."""
        if self.role == "prefill":
            return max(self.n), self._mean_context(), self.decoding
        joining = [0] * self.d
        context = sum(self.ctx) + self.m * self.decoding * self.steps
        for req in prefilled:
            if req.decode_left > 0:
                joining[req.rank] += 1
                context += req.isl + req.osl - req.decode_left  # its prompt and the tokens out so far
        sequences = self.decoding + sum(joining)
        return (max(n + j for n, j in zip(self.n, joining)), context / sequences if sequences else 1.0,
                sequences)

    def _output_delays(self, step: tuple[int, float, int] | None = None) -> tuple[float, float]:
        """(what overlap scheduling adds to a token, the output path's lag) [s], once per step (step: _delays_now's,
        taken by the step's first call)."""
        if self._delays_at != self.now:
            self._delays = self._delays_now(step)
            self._delays_at = self.now
        return self._delays

    def _delays_now(self, step: tuple[int, float, int] | None = None) -> tuple[float, float]:
        """_output_delays' figures, looked up afresh. An overlap scheduler hands a step's tokens out once it has
        launched the next step, so every token, the first as the last, reaches the client one step late: a decode
        step of the next step's busiest rank and mean context (step; None: of the sequences decoding now, which a
        request's last token leaves in that step, since the overlap scheduler planned it before the token was
        seen). The output path's lag is in decode steps of the same context, of at least one sequence on the busiest
        rank and on all ranks."""
        batch, context, decoding = (max(self.n), self._mean_context(), self.decoding) if step is None else step
        delay = self._decode_s(batch, context, decoding) if self.overlap else 0.0
        if self.role == "prefill" or not (lag := self.s.first_token_lag_steps):  # a prefill worker hands on; no lag
            return delay, 0.0
        return delay, lag * self._decode_s(batch if batch > 1 else 1, context, decoding if decoding > 1 else 1)

    def _note_kv_peak(self) -> None:
        """kv_peak_tokens raised to the KV the busiest rank holds now [tokens]: asked after a step's work, before
        its requests end or are handed on, so the peak counts them (a timeline's rows come after)."""
        held = max(self.kv_used(r) for r in range(self.d))
        if held > self.kv_peak_tokens:
            self.kv_peak_tokens = held

    def _record(self, prefilled: int) -> None:
        """A timeline row after a prompt step (`prefilled`: the prompts that took a chunk in it) or a stretch of plain
        decode steps (0): SimResult.timeline's fields, as a tuple."""
        assert self.timeline is not None
        used = sum(self.kv_used(r) for r in range(self.d)) / (self.capacity * self.d)
        self.timeline.append((self.now, self.index, self.role, sum(map(len, self.waiting)) + self._arrived(),
                              prefilled, sum(map(len, self.prefilling)), self.decoding, used))

    def _arrived(self) -> int:
        """Inbound requests whose time has come (visible by now) but that no rank's queue holds yet; later arrivals,
        a trace's or an open loop's future sends, are not queued. A walk down the heap from its root: a child is never
        earlier than its parent, so it visits only those entries and their children."""
        heap, now = self.inbound, self.now
        count, stack = 0, [0] if heap else []
        while stack:
            i = stack.pop()
            if heap[i][0] <= now:
                count += 1
                stack.extend(c for c in (2 * i + 1, 2 * i + 2) if c < len(heap))
        return count
