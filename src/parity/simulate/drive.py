"""The driver of a simulated run: it advances the earliest engine, bounded by when a request could reach
it, and sends each request to the worker with the fewest outstanding."""

from __future__ import annotations

import heapq
import math
import operator

from parity.simulate.loop import Engine, Request

_outstanding = operator.attrgetter("pending")  # Engine.outstanding() without the method call, for min(key=)


def _push_to_least_outstanding(engines: list[Engine], time_s: float, req: Request, touched: list[Engine]) -> None:
    """The request becomes visible at `time_s` to the worker with the fewest outstanding requests (the only
    one without a scan); the driver asks that worker its ready time again (`touched`)."""
    target = engines[0] if len(engines) == 1 else min(engines, key=_outstanding)
    heapq.heappush(target.inbound, (time_s, req.id, req))  # target.push(time_s, req), without the call
    target.pending += 1
    touched.append(target)


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
    first = 0

    def due_s() -> float:  # one closure for every turn: it reads `ready` and `first` as they are when it is asked
        return _due_s(ready, first)

    while True:
        soonest = min(ready)
        if soonest == math.inf:
            return
        first = ready.index(soonest)
        if ahead:  # where engines that idled on past others' turns stood at this one's (Engine.clock_seen_s)
            others = min((engines[i].clock_seen_s(soonest, i < first) if i in ahead else ready[i]
                          for i in others_of[first]), default=math.inf)
        else:
            others = math.inf
            for i in others_of[first]:
                if ready[i] < others:
                    others = ready[i]
        engine = engines[first]
        engine.advance(others + lead_s[first], due_s)
        ready[first] = engine.ready_s()
        if engine.idle_clock:
            ahead.add(first)
        elif ahead:
            ahead.discard(first)
        if pushed:
            for engine in (pushed if len(pushed) == 1 else dict.fromkeys(pushed)):  # once per engine
                ready[index[id(engine)]] = engine.ready_s()
            pushed.clear()
        elif touched is None:  # callers that do not say whom they pushed to: ask every engine
            ready = [e.ready_s() for e in engines]
