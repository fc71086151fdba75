"""What makes the simulator faster must not change what it simulates: the driver asks only the engines
that changed, and rows that differ only in their case id are simulated once."""

from __future__ import annotations

import dataclasses

from parity import catalog
from parity.predict import predict_rows
from parity.predict import simulated as simulated_module
from parity.simulate import Benchmark, StepTable, client_profile, run_aggregated, run_disaggregated, scheduler_of
from parity.simulate import run as run_module

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
