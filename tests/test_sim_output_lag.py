"""The simulator's output-path lag (sim_first_token_steps): named in the simulator's own note with what it came to,
and a timeline that runs to the run's end, where the last token reaches the client."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from parity import catalog
from parity.cli import cli
from parity.simulate import Benchmark, ClientProfile, StepTable, run_aggregated, run_disaggregated, scheduler_of

GRID = dict(batches=(0.0, 1.0, 2.0, 4.0, 8.0, 64.0), contexts=(1.0, 1000.0, 10000.0),
            prefills=(0.0, 1000.0, 2000.0, 8192.0))  # test_simulate's


def linear(b: float, c: float, p: float) -> float:
    """10 ms per step, 1 ms per decoding sequence, 0.01 ms per prompt token (test_simulate's)."""
    return 0.010 + 0.001 * b + 0.00001 * p


def bench(isl: int, osl: int, clients: int, prompts: int) -> Benchmark:
    return Benchmark(isl=isl, osl=osl, concurrency=clients, num_prompts=prompts,
                     client=ClientProfile(id="test", num_prompts=1, range_ratio=1.0, source="test"))


def _lagging(steps: float):
    """vLLM's scheduler with no front end, KV in blocks of a token, and an output lag of `steps` decode steps."""
    engine = dataclasses.replace(catalog.engine("vllm"), ttft_overhead_s=0.0, disagg_ttft_overhead_s=0.0,
                                 sim_first_token_steps=steps)
    sched = scheduler_of(engine, 1e6)
    return dataclasses.replace(sched, kv=dataclasses.replace(sched.kv, block_tokens=1))


def test_the_lag_is_named_with_its_time_and_the_timeline_reaches_the_runs_end() -> None:
    """One client, isl 1000, osl 101, steps of 10 ms + 1 ms a sequence + 0.01 ms a prompt token, a lag of 2 decode
    steps of 1 sequence (2 x 11 = 22 ms) on the first and the last token: TTFT 20 + 22 = 42 ms, E2E 1,120 + 22 =
    1,142 ms. The engine's last step ends at 1.120 s; the timeline holds its state to 1.142 s, the run's end."""
    r = run_aggregated(StepTable.of(linear, **GRID), _lagging(2.0), bench(1000, 101, 1, 1), timeline=True)
    assert r.latency["ttft_s"] == pytest.approx(0.042)
    assert r.latency["e2e_s"] == pytest.approx(1.142)
    assert "the output path delays a request's first and last tokens by 2 decode steps (the engine profile's " \
           "sim_first_token_steps): 22 ms a first token here, in TTFT and E2E" in r.assumptions
    assert [rec["time_s"] for rec in r.timeline[-2:]] == pytest.approx([1.120, 1.142])
    assert r.timeline[-1]["time_s"] == pytest.approx(r.duration_s)
    assert (r.timeline[-1]["running"], r.timeline[-2]["running"]) == (0, 0)


def test_a_disaggregated_run_names_the_lag_of_its_last_tokens() -> None:
    """A disaggregated request brings its first token with its KV: the decode worker's output path lags its last
    token alone, and the note says so (no first-token figure)."""
    table = StepTable.of(linear, **GRID)
    r = run_disaggregated(table, _lagging(0.0), table, _lagging(1.5), bench(1000, 30, 2, 4), transfer_s=0.05)
    assert "the output path delays a request's last token by 1.5 decode steps (the engine profile's " \
           "sim_first_token_steps)" in r.assumptions


def test_serve_names_the_simulators_first_token_lag(tmp_path: Path) -> None:
    """Llama-3.1-8B on one H100 under vLLM, a trace of one 1,024 / 128 request: TTFT 71.5 ms, 30 ms of front end and
    24.2 ms of prefill, and 17.3 ms the note named only in the closed-form model's words. The simulator's part names
    it: 3 decode steps, 17.3 ms; the timeline ended 17.3 ms before duration_s and now ends at it."""
    trace, timeline = tmp_path / "t1.csv", tmp_path / "tl1.csv"
    trace.write_text("arrival_s,isl,osl\n0,1024,128\n")
    result = CliRunner().invoke(cli, ["serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--engine", "vllm",
                                      "--tp", "1", "--trace", str(trace), "--timeline", str(timeline), "--format",
                                      "json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["ttft_s"] == pytest.approx(0.0715, abs=1e-4)
    simulator = data["note"].split("simulator: ")[1]
    assert "; the output path delays a request's first and last tokens by 3 decode steps (the engine profile's " \
           "sim_first_token_steps): 17.3 ms a first token here, in TTFT and E2E;" in simulator
    last = timeline.read_text().splitlines()[-1].split(",")
    assert float(last[0]) == pytest.approx(data["duration_s"]) == pytest.approx(0.8045, abs=1e-4)
