"""An open loop capped in flight (--max-concurrency) holds its arrivals back at the client, where TTFT counted from the
send (vLLM's convention) does not see them: the run says so (report-only tester: 20 requests/s of 1,024 + 256 tokens
capped at 4 in flight delivered 567 of the 5,120 output tokens/s asked, 1,000 requests due over 50 s took 451 s, and
the TTFT target read 'met (80.2 ms)' with no flag)."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
from click.testing import CliRunner

from parity.cli import cli
from parity.cli.serve_record import _target_text
from parity.predict import CLIENT_HELD_FLAG, overload_flag
from parity.predict.simulated import client_wait_flag
from parity.simulate import CLIENT_KEYS, Benchmark, SimResult, client_profile
from parity.simulate.targets import LatencyTarget

LATENCY = {"ttft_s": 0.050, "ttft_p99_s": 0.080}
# 1,000 requests due over 49.95 s (20 a second) and sent over 449.55 s (999 / 449.55 = 2.22 a second)
RUN = dict(latency=LATENCY, output_tokens_per_s=567.0, chips=1.0, duration_s=451.5, requests=1000, decode_batch=4.0,
           preemptions=0, kv_capacity_tokens=1e6, arrival_span_s=449.55, due_span_s=49.95)
CAPPED = Benchmark(isl=1024, osl=256, concurrency=4, client=client_profile("vllm"), request_rate=20.0,
                   max_concurrency=4)


def waited(count: int, mean_s: float, p99_s: float) -> SimResult:
    """RUN with `count` of its requests waiting at the client, mean_s on average and p99_s at the 99th percentile,
    and the TTFT counted from arrival that adds: the mean wait to the mean, the p99 wait to the p99 (the longest
    waits are those of the slowest sends here)."""
    return SimResult(**RUN, client_wait_s=mean_s, client_wait_p99_s=p99_s, client_waited=count,
                     ttft_from_arrival={"ttft_s": 0.050 + mean_s, "ttft_p99_s": 0.080 + p99_s})


def test_a_capped_client_that_holds_arrivals_back_is_flagged_with_its_wait_and_rates() -> None:
    """990 of 1,000 requests waiting 200 s on average (p99 396 s) against a TTFT of 50 ms: flagged, with the count,
    the rate asked (20 a second x 256 = 5,120 output tokens/s), the rate sent (2.22 a second) and TTFT from arrival.
    A wait that adds a tenth of TTFT or less, mean against mean and p99 against p99 (5 and 8 ms), is not flagged;
    9 ms at p99 is. Uncapped, the overload flag judges the run instead; at an unbounded rate the cap is a closed loop
    of its clients by design, and nothing is flagged."""
    sim = waited(990, 200.0, 396.0)
    flag = overload_flag(CAPPED, sim)
    assert flag is not None and flag.kind == CLIENT_HELD_FLAG
    assert flag.text == (
        "held at the client: at most 4 requests in flight (--max-concurrency), so 990 of 1,000 requests waited at the "
        "client before their send, 200 s on average (p99 396 s); they arrived at 20 requests/s, asking for 5,120 "
        "output tokens/s, and were sent at 2.22/s (567 output tokens/s completed): TTFT and E2E count from the send, "
        "as vLLM's benchmark counts them; from arrival TTFT reads 200 s on average (p99 396 s)")
    assert client_wait_flag(CAPPED, waited(990, 0.005, 0.008)) is None
    assert client_wait_flag(CAPPED, waited(990, 0.005, 0.009)) is not None
    uncapped = Benchmark(isl=1024, osl=256, concurrency=4, client=client_profile("vllm"), request_rate=20.0)
    assert client_wait_flag(uncapped, sim) is None
    burst = Benchmark(isl=1024, osl=256, concurrency=4, client=client_profile("vllm"), request_rate=math.inf,
                      max_concurrency=4)
    assert overload_flag(burst, sim) is None


def test_a_few_requests_held_by_a_poisson_burst_are_not_a_client_holding_the_stream_back() -> None:
    """The cap binds the stream where a tenth of its requests wait (CLIENT_HELD_SHARE): 99 of 1,000 waiting 1 s
    on average is a burst the client absorbed, however long each waited, and is not flagged; 100 is. (Report-only
    tester fixec2 1: 2 of 200 requests at 3/s under a cap of 32 waited 0.25 and 0.69 s, a mean of 4.66 ms, more than a
    tenth of the 40.7 ms TTFT, and the run was flagged though its sends kept the pace of its arrivals.)"""
    assert client_wait_flag(CAPPED, waited(99, 1.0, 2.0)) is None
    assert client_wait_flag(CAPPED, waited(100, 1.0, 2.0)) is not None


def test_the_flag_names_the_rate_drawn_beside_the_nominal_one() -> None:
    """Poisson arrivals at 20/s drawn at 17.5/s (999 requests over 57.09 s) say both: the rate they arrived at and
    the one they were drawn at, which is what the arrivals ask for (20 x 256 = 5,120 output tokens/s)."""
    sim = dataclasses.replace(waited(990, 200.0, 396.0), due_span_s=57.09)
    flag = client_wait_flag(CAPPED, sim)
    assert flag is not None and ("they arrived at 17.5 requests/s (drawn at random at 20/s, asking for 5,120 output "
                                 "tokens/s) and were sent at 2.22/s") in flag.text


def test_serve_says_its_capped_client_held_requests_back() -> None:
    """The tester's run at 40 requests: the flag, the JSON's client wait, the note's sentence on what the arrivals ask
    for (it was dropped under a cap), and a TTFT target met from the send only, which TTFT from arrival misses, with
    the wait in its statistic: p99 (14.1 s) for a p99 target, the mean (6.97 s) for a mean one (report-only tester
    fixec2 3: a mean target quoted the p99 wait)."""
    base = ["serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--isl", "1024", "--osl", "256",
            "--request-rate", "20", "--max-concurrency", "4", "--num-prompts", "40", "--ttft", "p99:200ms"]
    done = CliRunner().invoke(cli, base + ["--format", "json"])
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert data["held_at_client"] and data["meets_ttft_p99_s"] and data["client_waited"] == 36
    assert (data["client_wait_s"], data["client_wait_p99_s"]) == pytest.approx((6.973, 14.136), abs=1e-3)
    assert (data["ttft_from_arrival_s"], data["ttft_from_arrival_p99_s"]) == pytest.approx((7.043, 14.207), abs=1e-3)
    assert any(f.startswith("held at the client: at most 4 requests in flight (--max-concurrency), so 36 of 40 "
                            "requests waited at the client before their send, 6.97 s on average (p99 14.1 s); they "
                            "arrived at 17.1 requests/s (drawn at random at 20/s, asking for 5,120 output tokens/s) "
                            "and were sent at 2.39/s")
               for f in data["flags"])
    assert "in a steady state its arrivals ask for 5,120 output tokens/s in all" in data["note"]
    table = CliRunner().invoke(cli, base, env={"COLUMNS": "240"})
    assert ("target TTFT p99 <= 200 ms met from the send only (82.1 ms), not from arrival (14,206.7 ms): requests "
            "waited 14.1 s at the client (p99)") in " ".join(table.output.split())
    assert _target_text(LatencyTarget(metric="ttft", statistic="mean", seconds=0.2), data) == (
        "met from the send only (69.5 ms), not from arrival (7,042.9 ms): requests waited 6.97 s at the client on "
        "average")
    # TTFT p50 from arrival 6.94 s meets 7 s; TPOT holds no wait
    assert _target_text(LatencyTarget(metric="ttft", statistic="p50", seconds=7.0), data) == "met (80.2 ms)"
    assert _target_text(LatencyTarget(metric="tpot", statistic="p99", seconds=0.05), data) == "met (6.9 ms)"


def test_a_run_whose_sends_keep_pace_with_its_arrivals_is_not_held() -> None:
    """The tester's run (report-only tester fixec2 1): 200 requests drawn at 3/s (2.86/s as drawn) under a cap of 32,
    2 of which waited (0.25 and 0.69 s): no flag, and its p99 TTFT target met from arrival too (67.0 ms), so it reads
    'met', where it read 'met from the send only (62.0 ms), not from arrival'."""
    done = CliRunner().invoke(cli, ["serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--request-rate", "3",
                                    "--max-concurrency", "32", "--num-prompts", "200", "--seed", "1", "--ttft",
                                    "p99:100ms", "--format", "json"])
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert data["client_waited"] == 2 and not data["held_at_client"]
    assert not any(f.startswith("held at the client") for f in data["flags"])
    assert (data["ttft_p99_s"], data["ttft_from_arrival_p99_s"]) == pytest.approx((0.0620, 0.0670), abs=1e-4)
    table = CliRunner().invoke(cli, ["serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--request-rate", "3",
                                     "--max-concurrency", "32", "--num-prompts", "200", "--seed", "1", "--ttft",
                                     "p99:100ms"], env={"COLUMNS": "240"})
    assert "target TTFT p99 <= 100 ms met (62.0 ms)" in " ".join(table.output.split())


def test_a_closed_loop_of_the_cap_counts_no_wait_at_the_client() -> None:
    """--request-rate inf under a cap is a closed loop of the cap's clients (SimResult: it counts no wait), though
    every request is due at 0 (it read a mean wait of 42.4 s beside held_at_client false: report-only tester
    fixec2 2); TTFT from arrival is TTFT."""
    done = CliRunner().invoke(cli, ["serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--request-rate", "inf",
                                    "--max-concurrency", "8", "--num-prompts", "24", "--format", "json"])
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert (data["client_wait_s"], data["client_wait_p99_s"], data["client_waited"]) == (0.0, 0.0, 0)
    assert data["ttft_from_arrival_p99_s"] == data["ttft_p99_s"] and not data["held_at_client"]


def test_predict_rows_carry_serves_client_keys(tmp_path) -> None:
    """predict's rows carry the keys serve's do (report-only tester fixec2 4): the wait at the client, TTFT from
    arrival, and held_at_client: the tester's 40-request run as a row says what serve says of it."""
    cases = tmp_path / "cases.csv"
    cases.write_text("case_id,model,system,isl,osl,concurrency,request_rate,max_concurrency,num_prompts\n"
                     "held,llama-3.1-8b,hgx-h100,1024,256,4,20,4,40\n")
    done = CliRunner().invoke(cli, ["predict", str(cases), "--processes", "1", "--format", "json"])
    assert done.exit_code == 0, done.output
    (row,) = json.loads(done.stdout)
    assert set(CLIENT_KEYS) | {"held_at_client"} <= set(row)
    assert row["held_at_client"] is True and row["client_waited"] == 36
    assert (row["client_wait_s"], row["ttft_from_arrival_p99_s"]) == pytest.approx((6.973, 14.207), abs=1e-3)


def test_a_target_on_a_statistic_no_request_has_is_not_judged(tmp_path) -> None:
    """A TPOT target where every request outputs one token (SRE tester FH 1): the table read 'met (nan ms)' while
    the JSON read meets_tpot_p90_s false; both now say it judges nothing (None in JSON), and the TTFT target
    beside it is judged as before."""
    trace = tmp_path / "one-token.csv"
    trace.write_text("arrival_s,isl,osl\n0,1024,1\n0.5,1024,1\n1.0,1024,1\n")
    base = ["serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--trace", str(trace), "--tpot", "p90:50ms",
            "--ttft", "2s"]
    done = CliRunner().invoke(cli, [*base, "--format", "json"])
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert data["tpot_p90_s"] is None and data["meets_tpot_p90_s"] is None and data["meets_ttft_s"] is True
    table = " ".join(CliRunner().invoke(cli, base, env={"COLUMNS": "240"}).output.split())
    assert "target TPOT p90 <= 50 ms not judged: no request has a TPOT (none outputs a second token)" in table
    assert "nan" not in table
