"""Options `serve` took and echoed where the run does not read them: --concurrency beside --request-rate, --seed where
nothing is drawn."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from parity.cli import cli
from parity.simulate import Benchmark, TraceRequest, client_profile

SERVE = ["serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--isl", "64", "--osl", "8"]


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env={"COLUMNS": "120"})
    return result.exit_code, result.output


@pytest.mark.parametrize(("options", "says"), [
    (("--request-rate", "20", "--concurrency", "32"),
     "--concurrency with --request-rate 20: the run sends client profile vllm's 1,000 requests (--num-prompts sets "
     "another count) at 20/s, not from clients; vLLM's cap on requests in flight is --max-concurrency: give that, or "
     "leave --concurrency out"),
    (("--request-rate", "inf", "--concurrency", "4"),
     "--concurrency with --request-rate inf: the run sends client profile vllm's 1,000 requests (--num-prompts sets "
     "another count) all at once, not from clients; vLLM's cap on requests in flight"),
    (("--request-rate", "5", "--num-prompts", "50", "--concurrency", "4", "--client", "inferencex"),
     "--concurrency with --request-rate 5: the run sends the 50 requests of --num-prompts at 5/s, not from clients"),
])
def test_concurrency_beside_a_request_rate_is_refused_where_it_sets_nothing(options: tuple[str, ...],
                                                                           says: str) -> None:
    """`serve --request-rate 20 --concurrency 4` and `--concurrency 32` gave the same figures: the vllm client sends
    its 1,000 requests at the rate, whatever the clients (as --num-prompts fixes the count for any profile)."""
    code, output = _invoke(*SERVE, *options)
    assert code == 2 and output.startswith(f"parity: error: {says}") and len(output.splitlines()) == 1


def test_an_open_loops_serve_line_says_concurrency_only_where_it_counts_the_requests() -> None:
    """The record of `--request-rate 20` echoed `--concurrency 32 --request-rate 20.0`, which serve now refuses; a
    profile counting prompts a client (aiconfigurator's 10) still reads --concurrency: 4 clients send 40 requests, and
    search's Poisson lines (tests/test_compare_percentiles.py) keep it."""
    code, output = _invoke(*SERVE, "--request-rate", "20", "--num-prompts", "10", "--format", "json")
    record = json.loads(output)
    assert code == 0 and record["serve_command"] == (
        "parity serve --model llama-3.1-8b --system hgx-h100 --isl 64 --osl 8 --tp 1 --request-rate 20.0 --client vllm "
        "--model-kind sim --num-prompts 10")
    code, again = _invoke(*shlex.split(record["serve_command"])[1:], "--format", "json")
    assert code == 0 and json.loads(again) == record
    code, output = _invoke(*SERVE, "--request-rate", "20", "--concurrency", "4", "--client", "aiconfigurator",
                           "--format", "json")
    record = json.loads(output)
    assert code == 0 and record["requests"] == 40
    assert "--tp 1 --concurrency 4 --request-rate 20.0 --client aiconfigurator" in record["serve_command"]


def test_what_shapes_a_run_and_what_it_draws() -> None:
    """Benchmark.counts_clients: a closed loop's clients, an open loop's count of requests only for a profile
    counting prompts a client; Benchmark.draws: lengths from a range or Poisson gaps, never a trace's."""
    def bench(client: str, **options: object) -> Benchmark:
        return Benchmark(isl=64, osl=8, concurrency=4, client=client_profile(client),
                         **options)  # type: ignore[arg-type]
    trace = (TraceRequest(arrival_s=0.0, isl=64, osl=8),)
    assert [bench("vllm").counts_clients(), bench("vllm", request_rate=2.0).counts_clients(),
            bench("inferencex", request_rate=2.0).counts_clients(),
            bench("inferencex", request_rate=2.0, num_prompts=9).counts_clients(),
            bench("vllm", trace=trace).counts_clients()] == [True, False, True, False, False]
    assert [bench("vllm").draws(), bench("vllm", request_rate=2.0).draws(),
            bench("vllm", request_rate=2.0, poisson=False).draws(), bench("vllm", request_rate=float("inf")).draws(),
            bench("inferencex").draws(), bench("inferencex", trace=trace).draws()] == [
        False, True, False, False, True, False]


@pytest.mark.parametrize(("options", "run"), [
    (("--trace", "t.csv"), "the trace's own arrivals and lengths, no --mtp"),
    (("--random-range-ratio", "1"), "fixed lengths, a closed loop, no --mtp"),
    (("--request-rate", "20", "--fixed-rate"), "fixed lengths, evenly spaced arrivals (--fixed-rate), no --mtp"),
    (("--request-rate", "inf"), "fixed lengths, every request at once, no --mtp"),
])
def test_a_seed_is_refused_where_the_run_draws_nothing(options: tuple[str, ...], run: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """`serve --trace t.csv --seed 7` gave seed 0's figures and echoed --seed 7: a trace gives every arrival and
    length, and without MTP nothing else is drawn (as `--model-kind steady --seed 3` is refused)."""
    monkeypatch.chdir(tmp_path)
    Path("t.csv").write_text("arrival_s,isl,osl\n0,300,20\n0.01,200,10\n")
    code, output = _invoke(*SERVE[:5], *options, "--seed", "7")
    assert (code, output) == (2, "parity: error: --seed seeds the simulator's draws of lengths, arrivals and MTP "
                                 f"acceptance; this run draws none ({run}): leave it out\n")
    code, output = _invoke(*SERVE[:5], "--request-rate", "20", "--num-prompts", "5", "--seed", "7")  # Poisson gaps
    assert code == 0, output


def test_seed_is_refused_where_mtp_accepts_every_draft() -> None:
    """MTP 2 at an acceptance of 2 keeps both drafts every step: nothing is drawn, yet --seed was accepted (seeds 3
    and 4 gave identical records); at 1.5 it draws each step's drafts and --seed stays."""
    args = ["serve", "--model", "deepseek-r1", "--system", "hgx-h200", "--engine", "sglang", "--tp", "8", "--moe-ep",
            "8", "--mtp", "2", "--random-range-ratio", "1", "--concurrency", "4", "--num-prompts", "8", "--seed", "3"]
    every = CliRunner().invoke(cli, [*args, "--mtp-acceptance", "2"])
    assert every.exit_code == 2 and every.output.endswith(
        "this run draws none (fixed lengths, a closed loop, MTP accepting every draft): leave it out\n")
    assert CliRunner().invoke(cli, [*args, "--mtp-acceptance", "1.5", "--format", "json"]).exit_code == 0
