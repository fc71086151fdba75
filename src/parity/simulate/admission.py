"""What an engine's scheduler lets in: the arrivals it sees, the policies that hold waiting prompts, and
each step's prompt chunks per rank."""

from __future__ import annotations

import heapq
import math

from parity.simulate.ranks import Request

__all__ = ["Admission"]

_INF = math.inf


class Admission:
    """The part of Engine (mixed into it; Engine.__init__ sets the state used here) that takes requests in:
    delivery to a rank's queue, the policies' gate and hold, taking a queue's head (its KV room and reservation),
    a decode worker's admission, and the prompt chunks of a step."""

    def _deliver(self, busy: bool) -> None:
        """Requests whose arrival the scheduler sees now join the least-loaded rank's queue (busy: has_work())."""
        recv = self.recv_steps
        if recv > 1 and self.decoding and not self.last_had_prompts and self.since_recv < recv:
            return
        inbound = self.inbound
        if not inbound:
            self.since_recv = 0  # RecvInterval: SGLang's counter restarts at every attempt, whatever it found
            return
        seen = self.prev_start if busy and self.overlap else self.now  # _seen_s(busy)
        took = False
        loads: list[int] | None = None
        waiting, one = self.waiting, self.d == 1
        while inbound and inbound[0][0] <= seen:
            _, _, req = heapq.heappop(inbound)
            if one:
                req.rank = 0
            elif self.random_rank:
                req.rank = int(self.rng.integers(self.d))
            else:
                if loads is None:
                    loads = [n + len(p) + len(w) for n, p, w in zip(self.n, self.prefilling, waiting)]
                req.rank = loads.index(min(loads))
                loads[req.rank] += 1
            waiting[req.rank].append(req)
            took = True
        if took or not inbound or recv > 1:
            self.since_recv = 0

    def _seen_s(self, busy: bool) -> float:
        """Arrivals up to this time are visible to the scheduler now: with overlap scheduling, those before
        the running step began."""
        return self.prev_start if busy and self.overlap else self.now

    def _gate(self) -> bool:
        """May new prompts be admitted in this step (the policies that hold them)?"""
        if not any(self.waiting):
            self.held_steps = 0
            return False
        if self.hold_steps > 0 and self.d > 1:
            if not all(self.waiting) and self.held_steps < self.hold_steps:
                return False
        if self.batch_wait_on and (running := self.decoding) > 0:
            s = self.s
            tokens = sum(q.prompt_left for w in self.waiting for q in w) + running * self.width
            if tokens < s.batch_wait.tokens_ratio * s.budget.max_num_tokens and self.held_steps < s.batch_wait.timeout_steps:
                return False
        return True

    def _hold_left(self) -> float:
        """Steps until a policy that holds waiting prompts lets them go (inf: none holds them)."""
        s = self.s
        left = _INF
        if s.balance.hold_steps > 0:
            left = min(left, s.balance.hold_steps - self.held_steps)
        if s.batch_wait.on:
            left = min(left, s.batch_wait.timeout_steps - self.held_steps)
        return left

    def _admit(self, r: int, req: Request, held: int, left: float) -> bool:
        """Take the request at the head of rank r's queue if the rank has room for it beside the `held` requests it
        runs, with `left` tokens of the step's budget left (the batch limit is the caller's test); KV is reserved
        here where it does not grow on demand."""
        if not self.chunked and req.prompt_left > left and left < self.max_num_tokens:
            return False  # a whole prompt per step (no chunking) and it does not fit beside this step's others
        # KV it needs: on demand, its prompt (and, after a preemption, the output so far) and one token; else the
        # whole length, which is reserved (KvAdmission.blocks and Ranks.kv_used, written out: a call per queue head
        # and step)
        block = self.block_tokens
        if on_demand := self.on_demand:
            prompt, n_r = req.prompt_left, self.n[r]
            need = math.ceil(((req.isl if req.isl > prompt else prompt) + 1) / block) * block
            # beside what the step's decodes grow by: every decoding sequence of a mixed step a token longer (m with
            # MTP), and on a decode worker this one too (room Ranks._make_room would otherwise preempt for)
            decode = self.role == "decode"
            grow = self.m * (n_r + decode) if decode or self.mixed else 0.0
            used = self.held_prompts[r] + self.ctx[r] + self.m * n_r * self.steps
        else:
            need = math.ceil((req.isl + req.osl) / block) * block
            grow = 0.0
            used = self.reserved[r]
        if not (used + need + grow <= self.capacity or held == 0):
            req.kv_waited = True
            return False  # no KV room (an empty rank takes the request whatever it needs)
        self.waiting[r].popleft()
        self.admitted += 1
        req.order = self.admitted
        if not on_demand:
            req.reserved = need
            self.reserved[r] += need
        return True

    def _start_prefilled(self) -> None:
        """A decode worker's admission: its waiting requests (prefilled by a prefill worker) start decoding on their
        rank, first come first served, while the rank has room (_plan's tests; they have no prompt to run here). A
        request's first token is priced by the output path of the step that decodes it with the others admitted
        now (_delays_now once they all count), unless it is also its last, out at once."""
        b = self.s.budget
        n, budget, width, mixed, max_batch = self.n, b.max_num_tokens, self.width, b.mixed, self.max_batch
        fresh: list[tuple[Request, int]] = []  # requests decoding here for the first time, and their place in joined
        for r, wait_r in enumerate(self.waiting):
            if not wait_r:
                continue
            room = budget - (n[r] * width if mixed else 0)
            while wait_r and room > 0 and n[r] < max_batch:
                req = wait_r[0]
                if not self._admit(r, req, n[r], room):
                    break
                if req.last_s < _INF:  # back after a preemption: its first token is out
                    self._start_decode(r, req)
                elif req.decode_left > 0:
                    self._start_decode(r, req)
                    fresh.append((req, len(self.joined) - 1))
                else:
                    self._first_token(req, *self._delays_now())
                    self._start_decode(r, req)
        if fresh:
            delay, lag = self._delays_now()
            joined = self.joined
            for req, i in fresh:
                self._first_token(req, delay, lag)
                joined[i] = req.last_s

    def _first_token(self, req: Request, delay: float, lag: float) -> None:
        """A decode worker's first token of a request: out when the worker admits it, after the output path's lag
        (or at its prefill worker already, first_token_at_prefill), and in this engine's clock (_token_gaps) one
        output delay and lag before that, as its last token's is after its step."""
        if not self.s.handoff.first_token_at_prefill:
            sent = req.first_s if req.first_s < _INF else 0.0
            req.first_s = (self.now if self.now > sent else sent) + lag  # max(sent, now) + lag
        req.last_s = req.first_s - delay - lag

    def _plan(self, admit: bool) -> tuple[list[tuple[Request, float]], list[float]]:
        """Prompt chunks of this step: (request, tokens) and prompt tokens per rank (a worker that runs prompts)."""
        chunks: list[tuple[Request, float]] = []
        per_rank = [0.0] * self.d
        b = self.s.budget
        n, prefilling, waiting = self.n, self.prefilling, self.waiting
        budget, width, mixed = b.max_num_tokens, self.width, b.mixed
        max_batch, max_prefill = self.max_batch, self.max_prefill
        inputs = b.prompt_admission.max_prefill_tokens if b.prompt_admission is not None else None
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
                c = left if left < (prompt := req.prompt_left) else prompt  # min(prompt_left, left), without the call
                chunks.append((req, c))
                left -= c
            if inputs is not None:  # PromptAdmission's input budget: the step's prompt tokens so far come off it too
                input_left = inputs - (n[r] * width if mixed else 0) - (room - left)
            while admit and left > 0 and wait_r and started < max_prefill:
                held = n[r] + len(pre_r)
                if held >= max_batch:
                    break  # the rank is full
                req = wait_r[0]
                if inputs is not None and left < room and req.prompt_left >= input_left:
                    break  # PromptAdmission: a prompt not smaller than the input budget left waits, unless it is first
                if not self._admit(r, req, held, left):
                    break
                pre_r.append(req)
                self.held_prompts[r] += (prompt := req.prompt_left)
                c = left if left < prompt else prompt  # min(prompt_left, left)
                chunks.append((req, c))
                left -= c
                started += 1
                if inputs is not None:
                    input_left -= c
            per_rank[r] = room - left
        return chunks, per_rank
