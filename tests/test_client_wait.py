"""An open loop capped in flight (--max-concurrency) holds its arrivals back at the client, where TTFT counted from the
send (vLLM's convention) does not see them: the run says so (report-only tester: 20 requests/s of 1,024 + 256 tokens
capped at 4 in flight delivered 567 of the 5,120 output tokens/s asked, 1,000 requests due over 50 s took 451 s, and
the TTFT target read 'met (80.2 ms)' with no flag)."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

from parity.cli import cli
from parity.predict import CLIENT_HELD_FLAG, overload_flag
from parity.predict.simulated import client_wait_flag
from parity.simulate import Benchmark, SimResult, client_profile

LATENCY = {"ttft_s": 0.050, "ttft_p99_s": 0.080}
# 1,000 requests due over 49.95 s (20 a second) and sent over 449.55 s (999 / 449.55 = 2.22 a second)
RUN = dict(latency=LATENCY, output_tokens_per_s=567.0, chips=1.0, duration_s=451.5, requests=1000, decode_batch=4.0,
           preemptions=0, kv_capacity_tokens=1e6, arrival_span_s=449.55, due_span_s=49.95)
CAPPED = Benchmark(isl=1024, osl=256, concurrency=4, client=client_profile("vllm"), request_rate=20.0,
                   max_concurrency=4)


def test_a_capped_client_that_holds_arrivals_back_is_flagged_with_its_wait_and_rates() -> None:
    """Waits of 200 s on average (p99 396 s) against a TTFT of 50 ms: flagged, with the rate asked (20 a second x 256
    = 5,120 output tokens/s) and the rate sent (2.22 a second). A wait of a tenth of TTFT or less, mean against mean and
    p99 against p99 (5 and 8 ms), is not; 9 ms at p99 is. Uncapped, the overload flag judges the run instead; at an
    unbounded rate the cap is a closed loop of its clients by design, and nothing is flagged."""
    sim = SimResult(**RUN, client_wait_s=200.0, client_wait_p99_s=396.0)
    flag = overload_flag(CAPPED, sim)
    assert flag is not None and flag.kind == CLIENT_HELD_FLAG
    assert flag.text == (
        "held at the client: at most 4 requests in flight (--max-concurrency), so requests waited 200 s at the client "
        "on average (p99 396 s) before their send; they arrive at 20 requests/s, asking for 5,120 output tokens/s, and "
        "were sent at 2.22/s (567 output tokens/s completed): TTFT and E2E count from the send, as vLLM's benchmark "
        "counts them, so a TTFT target holds from the send only, not from arrival")
    assert client_wait_flag(CAPPED, SimResult(**RUN, client_wait_s=0.005, client_wait_p99_s=0.008)) is None
    assert client_wait_flag(CAPPED, SimResult(**RUN, client_wait_s=0.005, client_wait_p99_s=0.009)) is not None
    uncapped = Benchmark(isl=1024, osl=256, concurrency=4, client=client_profile("vllm"), request_rate=20.0)
    assert client_wait_flag(uncapped, sim) is None
    burst = Benchmark(isl=1024, osl=256, concurrency=4, client=client_profile("vllm"), request_rate=math.inf,
                      max_concurrency=4)
    assert overload_flag(burst, sim) is None


def test_serve_says_its_capped_client_held_requests_back() -> None:
    """The tester's run at 40 requests: the flag, the JSON's client wait, the note's sentence on what the arrivals ask
    for (it was dropped under a cap), and a TTFT target met from the send only."""
    base = ["serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--isl", "1024", "--osl", "256",
            "--request-rate", "20", "--max-concurrency", "4", "--num-prompts", "40", "--ttft", "p99:200ms"]
    done = CliRunner().invoke(cli, base + ["--format", "json"])
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert data["held_at_client"] and data["meets_ttft_p99_s"]
    assert (data["client_wait_s"], data["client_wait_p99_s"]) == pytest.approx((6.973, 14.136), abs=1e-3)
    assert any(f.startswith("held at the client: at most 4 requests in flight (--max-concurrency), so requests "
                            "waited 6.97 s at the client on average (p99 14.1 s) before their send; they arrive at "
                            "20 requests/s, asking for 5,120 output tokens/s, and were sent at 2.39/s")
               for f in data["flags"])
    assert "in a steady state its arrivals ask for 5,120 output tokens/s in all" in data["note"]
    table = CliRunner().invoke(cli, base, env={"COLUMNS": "240"})
    assert ("target TTFT p99 <= 200 ms met from the send only (82.1 ms), not from arrival: requests waited 14.1 s at "
            "the client (p99)") in " ".join(table.output.split())
