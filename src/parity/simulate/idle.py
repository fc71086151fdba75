"""Idle scheduler iterations: an engine with nothing to run while a policy holds its waiting prompts, and
the clock the driver sees of such a run at other engines' turns."""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right

from parity.errors import InfeasiblePlan

__all__ = ["Idling"]

_INF = math.inf
_IDLE_ITERATION_S = 1e-3  # assumption: an engine loop with nothing to run polls about once a millisecond


class Idling:
    """The part of Engine (mixed into it; Engine.__init__ sets the state used here) that idles under a
    policy's hold."""

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
