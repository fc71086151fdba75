"""What makes the simulator faster must not change what it simulates: the driver asks only the engines
that changed, an engine idling under a policy's hold runs its iterations on past other engines' turns, and
rows that differ only in their case id are simulated once."""

from __future__ import annotations

import dataclasses
import gc
import math

from parity import catalog
from parity.predict import predict_rows
from parity.predict import simulated as simulated_module
from parity.simulate import Benchmark, StepTable, client_profile, run_aggregated, run_disaggregated, scheduler_of
from parity.simulate import run as run_module
from parity.simulate.idle import _IDLE_ITERATION_S
from parity.simulate.loop import Engine
from parity.simulate.tables import _weighted_sum

GRID = dict(batches=(0.0, 1.0, 2.0, 4.0, 8.0, 64.0), contexts=(1.0, 1000.0, 10000.0),
            prefills=(0.0, 1000.0, 2000.0, 8192.0))


def linear(b: float, c: float, p: float) -> float:
    """10 ms per step, 1 ms per decoding sequence, 0.01 ms per prompt token."""
    return 0.010 + 0.001 * b + 0.00001 * p


def _runs(monkeypatch) -> tuple:
    table = StepTable.of(linear, **GRID)
    sched = scheduler_of(catalog.engine("trtllm"), 2e5, attn_dp=2)
    bench = Benchmark(isl=900, osl=120, concurrency=48, client=client_profile("inferencex"), seed=3)
    disagg = run_disaggregated(table, sched, table, sched, bench, transfer_s=0.004, prefill_workers=2,
                               decode_workers=3, prefill_ranks=2, decode_ranks=2, timeline=True)
    agg = run_aggregated(table, sched, bench, ranks=2, workers=3, timeline=True)
    return disagg, agg


def test_the_driver_asking_only_changed_engines_runs_what_asking_all_runs(monkeypatch) -> None:
    """2 prefill and 3 decode workers (and 3 aggregated workers) of 2 ranks, 48 clients, InferenceX lengths:
    the same latencies, preemptions and timeline, to the bit, as a driver that asks every engine each time."""
    fast = _runs(monkeypatch)
    drive = run_module._drive
    monkeypatch.setattr(run_module, "_drive", lambda engines, lead, senders, touched=None: drive(engines, lead, senders))
    slow = _runs(monkeypatch)
    for a, b in zip(fast, slow, strict=True):
        assert a.latency == b.latency and a.timeline == b.timeline and a.preemptions == b.preemptions
        assert a.requests == 480  # 48 clients x 10 prompts each


def _idle_once(self: Engine, stop_s: float) -> None:
    """One run of idle iterations per call, the driver's turn after it: the reference _idle."""
    nxt = self.inbound[0][0] if self.inbound else math.inf
    until = math.ceil((nxt - self.now) / _IDLE_ITERATION_S) if nxt < math.inf else math.inf
    ticks = max(1.0, min(max(self._hold_left(), 1.0), until))
    self.held_steps += int(ticks)
    self.now += ticks * _IDLE_ITERATION_S


def test_idle_runs_past_other_engines_turns_run_what_one_run_per_turn_runs(monkeypatch) -> None:
    """TensorRT-LLM's attention-DP balance holds prompts on 2-rank prefill workers for up to 60 idle 1 ms
    iterations, with overlap scheduling: the prefill workers idle on past the decode workers' steps (some
    iteration's clock is looked up for a decode stretch), and latencies, preemptions and timeline are those,
    to the bit, of workers that run one idle run per driver turn."""
    looked_up = []
    seen_s = Engine.clock_seen_s

    def counted(self: Engine, time_s: float, ahead: bool) -> float:
        looked_up.append(bool(self.idle_clock))
        return seen_s(self, time_s, ahead)

    monkeypatch.setattr(Engine, "clock_seen_s", counted)
    fast = _runs(monkeypatch)
    assert sum(looked_up) > 0
    monkeypatch.setattr(Engine, "_idle", _idle_once)
    slow = _runs(monkeypatch)
    for a, b in zip(fast, slow, strict=True):
        assert a.latency == b.latency and a.timeline == b.timeline and a.preemptions == b.preemptions


def test_an_idle_runs_clock_at_another_engines_turn_is_its_first_iteration_not_run_before_it() -> None:
    """Iterations at 1.000, 1.001, 1.002 s, now 1.003 s. Another engine ready at 1.001 s: the driver runs an
    engine ahead of it in its order first at equal times, so the other's turn comes at 1.002 s, and at
    1.001 s for an engine behind it; after the last iteration, the clock now; no idle run: its ready time."""
    table = StepTable.of(linear, **GRID)
    engine = Engine(table, scheduler_of(catalog.engine("trtllm"), 2e5, attn_dp=2), 2, "prefill", lambda r: None)
    engine.now, engine.idle_clock = 1.003, [1.000, 1.001, 1.002]
    assert engine.clock_seen_s(1.001, True) == 1.002
    assert engine.clock_seen_s(1.001, False) == 1.001
    assert engine.clock_seen_s(1.0025, True) == 1.003
    engine.idle_clock = []
    assert engine.clock_seen_s(1.001, True) == engine.ready_s() == math.inf  # nothing sent to it yet


def test_a_run_pauses_the_collector_and_leaves_it_as_it_was(monkeypatch) -> None:
    """The collector is off while a run steps (a run of 480 requests) and as it was after: on, or off."""
    states = []
    advance = Engine.advance
    monkeypatch.setattr(Engine, "advance", lambda self, *a: (states.append(gc.isenabled()), advance(self, *a))[1])
    table = StepTable.of(linear, **GRID)
    sched = scheduler_of(catalog.engine("vllm"), 2e5)
    bench = Benchmark(isl=900, osl=120, concurrency=48, client=client_profile("inferencex"), seed=3)
    assert gc.isenabled()
    assert run_aggregated(table, sched, bench).requests == 480
    assert gc.isenabled() and states and not any(states)
    gc.disable()
    try:
        run_aggregated(table, sched, bench)
        assert not gc.isenabled()
    finally:
        gc.enable()


CASE = dict(model="llama-3.1-8b", system="hgx-h100", engine="vllm", isl="512", osl="64", concurrency="8", tp="1")


def test_rows_that_differ_only_in_case_id_are_simulated_once(monkeypatch) -> None:
    """Three rows, two of them the same case under other ids: two simulations, and the repeated row's
    prediction is the first one's under its own id."""
    calls = []
    simulate = simulated_module.simulate_scenario

    def counted(scenario, *args, **kwargs):
        calls.append(scenario.case_id)
        return simulate(scenario, *args, **kwargs)

    monkeypatch.setattr(simulated_module, "simulate_scenario", counted)
    rows = [{**CASE, "case_id": "a"}, {**CASE, "case_id": "b", "concurrency": "16"}, {**CASE, "case_id": "c"}]
    a, b, c = predict_rows(rows, model_kind="sim")
    assert calls == ["a", "b"]
    assert c.case_id == "c" and dataclasses.replace(c, case_id="a") == a
    assert b.ttft_s != a.ttft_s


def test_a_decode_lookup_kept_per_batch_interpolates_as_the_table_does() -> None:
    """A decode step's lookup keeps each (batch, all ranks' sequences) pair's grid cell and decode-only times
    (StepTable.decode_rows; None: every rank carries the batch); asked
    again, between grid points or past the last point (the last cell extrapolates), it gives the linear table's
    10 ms + 1 ms per sequence (linear in batch, so interpolation is exact up to rounding), whatever the context."""
    table = StepTable.of(linear, **GRID)
    for batch in (0, 1, 3, 5.5, 64, 100):
        for context in (1.0, 2000.0, 2000.0):  # the third lookup is the second's, remembered
            assert math.isclose(table.decode_time_s(batch, context), 0.010 + 0.001 * batch, rel_tol=1e-12)
    assert sorted(table.decode_rows) == [(0, None), (1, None), (3, None), (5.5, None), (64, None), (100, None)]


def test_a_decode_rows_rank_cases_add_up_as_a_sum_over_them_does() -> None:
    """_weighted_sum adds the rank cases' weighted times in the order and from the int 0 that sum() over a
    generator did: equal to the bit for one case and for two (0.3 x 0.1 + 0.7 x 0.2 rounds as that sum does)."""
    t = ((((0.1,), (0.25,)),), (((0.2,), (1 / 3,)),))  # t[e][batch][context][prefill]
    for cases in (((1, 1.0),), ((0, 0.3), (1, 0.7))):
        want = tuple(sum(w * t[e][0][c][0] for e, w in cases) for c in range(2))
        assert _weighted_sum(t, cases, 0, 2) == want
    assert _weighted_sum(t, ((0, 0.3), (1, 0.7)), 0, 2) == (0.3 * 0.1 + 0.7 * 0.2, 0.3 * 0.25 + 0.7 / 3)


def test_an_engines_count_of_decoding_sequences_is_the_sum_over_its_ranks(monkeypatch) -> None:
    """Engine.decoding, kept as sequences start and end, is sum(n) after every step of a run that preempts (a KV
    cache of 5,000 tokens a rank, 2 ranks, 16 clients of 900/120): the run's preemptions are 24."""
    seen: list[tuple[int, int]] = []
    advance = Engine.advance

    def checked(self, *args, **kwargs):
        advance(self, *args, **kwargs)
        seen.append((self.decoding, sum(self.n)))

    monkeypatch.setattr(Engine, "advance", checked)
    table = StepTable.of(linear, **GRID)
    sched = scheduler_of(catalog.engine("vllm"), 5000.0, attn_dp=2)
    bench = Benchmark(isl=900, osl=120, concurrency=16, client=client_profile("inferencex"), seed=3)
    result = run_aggregated(table, sched, bench, ranks=2)
    assert result.preemptions == 24
    assert len(seen) > 100 and all(kept == summed for kept, summed in seen)
