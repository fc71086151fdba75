"""Inputs `serve` and `fleet` took without a word, or crashed on (found by running random command lines): trace
rows, length tables, one-token outputs, fleets smaller than one worker and chips that cannot serve."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from parity.cli import cli

SERVE = ["serve", "--model", "llama-3.1-70b", "--system", "hgx-h100", "--tp", "8"]


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env={"COLUMNS": "120"})
    return result.exit_code, result.output


@pytest.mark.parametrize(("rows", "says"), [
    ("0,100\n", "t.csv line 2: arrival_s, isl and osl must be numbers, got '0', '100', nothing"),
    ("nan,100,100\n", "t.csv line 2: arrival_s must be a finite number and isl, osl whole numbers, got nan, 100, 100"),
    ("1e300,100,100\n", "t.csv line 2: trace request needs 0 <= arrival_s <= 10,000,000"),
    ("0,100,100000000\n", "one request alone needs 1997.4 GB more per chip (KV cache is the largest term), at the "
                          "longest requests (100 prompt + 100,000,000 output tokens) (the trace's longest prompt and "
                          "output)"),
    # a 1e23-token prompt printed 'needs 419430399999999934464.0 GB more per chip': past --isl's bound, refused
    ("0,1e23,50\n", "t.csv line 2: trace request needs 0 <= arrival_s <= 10,000,000 and 1 <= isl, osl <= 100,000,000 "
                    "(beyond any context length); got 0, 99,999,999,999,999,991,611,392, 50"),
    ("0,50,100000001\n", "1 <= isl, osl <= 100,000,000 (beyond any context length); got 0, 50, 100,000,001"),
    ("", "t.csv is empty"),
])
def test_a_bad_trace_is_refused_in_one_line_and_writes_no_timeline(rows: str, says: str, tmp_path: Path) -> None:
    """A short row crashed (TypeError), a NaN arrival ran for minutes, an arrival at 1e300 s divided by zero and
    left its timeline written, a 100M-token output simulated for minutes where --osl is refused at once."""
    trace, timeline = tmp_path / "t.csv", tmp_path / "tl.csv"
    trace.write_text("arrival_s,isl,osl\n" + rows if rows else "")
    code, output = _invoke(*SERVE, "--trace", str(trace), "--timeline", str(timeline))
    assert code == 2 and says in output and len(output.strip().splitlines()) == 1
    assert not timeline.exists()


@pytest.mark.parametrize(("header", "says"), [
    ("arrival_ms,isl,osl", "; 'arrival_ms' is 'arrival_s' in milliseconds: rename it and divide its cells by 1,000 "
                           "(times are read in seconds)"),
    ("timestamp,input_tokens,output_tokens", "; 'timestamp' is probably 'arrival_s' (in seconds): rename it; "
                                             "'input_tokens' is probably 'isl': rename it; 'output_tokens' is "
                                             "probably 'osl': rename it"),
    ("arival_s,isl,osl", "; 'arival_s' is probably 'arrival_s' (in seconds): rename it"),
    ("foo,bar,baz", ""),
])
def test_a_trace_header_missing_a_column_names_the_near_miss(header: str, says: str, tmp_path: Path) -> None:
    """'arrival_ms' and Mooncake-style 'timestamp,input_tokens,output_tokens' got only 'needs a header with
    arrival_s, isl, osl'; the column each header name probably is, and a time's unit, are said (nothing where no
    name is close)."""
    trace = tmp_path / "t.csv"
    trace.write_text(f"{header}\n0,100,100\n")
    code, output = _invoke(*SERVE, "--trace", str(trace))
    assert code == 2 and output == f"parity: error: t.csv: needs a header with arrival_s, isl, osl{says}\n"


def test_a_trace_is_checked_at_its_longest_request(tmp_path: Path) -> None:
    """A 200,000-token prompt among short ones runs past Llama-3.1-70B's 131,072-token window: flagged as --isl
    would be (the case took the default 1,024 + 1,024 tokens); --isl beside --trace is refused."""
    trace = tmp_path / "t.csv"
    trace.write_text("arrival_s,isl,osl\n0,200000,100\n1,100,100\n")
    code, output = _invoke(*SERVE, "--trace", str(trace), "--format", "json")
    assert code == 0, output
    assert ("sequences of 200,100 tokens, 69,028 past llama-3.1-70b's context window of 131,072 (config.json)"
            in json.loads(output)["flags"])
    code, output = _invoke(*SERVE, "--trace", str(trace), "--isl", "5")
    assert code == 2 and "--isl with --trace: the trace gives each request's arrival and lengths" in output


def test_a_trace_too_large_for_memory_is_checked_as_its_longest_request_alone(tmp_path: Path) -> None:
    """One 500,000-token prompt said 'needs 2045.6 GB more per chip': the fit was checked at the default 32 clients
    of it, where --isl 500000 --osl 50 --concurrency 1 says 13.9 GB. A trace has no clients; its longest request
    alone is what must fit (and says so), as it is of any case (MemoryPlan.one_sequence)."""
    trace = tmp_path / "t.csv"
    trace.write_text("arrival_s,isl,osl\n0,500000,50\n")
    small = ["serve", "--model", "llama-3.1-8b", "--system", "hgx-h100"]
    code, output = _invoke(*small, "--trace", str(trace))
    assert code == 2 and output.startswith(
        "parity: error: does not fit: one request alone needs 13.9 GB more per chip (KV cache is the largest term), at "
        "the longest requests (500,000 prompt + 50 output tokens) (the trace's longest prompt and output); ")
    code, output = _invoke(*small, "--isl", "500000", "--osl", "50", "--concurrency", "1")
    assert code == 2 and "needs 13.9 GB more per chip" in output


def test_a_shortfall_is_one_requests_as_fitting_is_decided() -> None:
    """Llama-3.1-8B on an H100 at 500,000 + 1,000 tokens said 'needs 13.9 / 79.5 / 473.1 GB more per chip' at 1 / 2 /
    8 clients (65.7 GB of KV each), summing every client's KV, where fitting is decided on one request (an engine
    queues the clients its KV cache has no room for: 8 clients of 380,000 tokens run, KV-bound). It is one request's
    shortfall at any count of clients (report-only tester fixec2 5), and of one client over 2 attention-DP ranks, half
    a client a rank (it read 'not even one sequence's KV cache fits', with no figure)."""
    from parity.predict import predict_rows

    row = {"model": "llama-3.1-8b", "system": "hgx-h100", "isl": 500000, "osl": 1000, "tp": 1}
    rows = [{**row, "concurrency": n} for n in (1, 2, 8)] + [{**row, "concurrency": 1, "attn_dp": 2}]
    notes = [p.note for p in predict_rows(rows, model_kind="steady")]
    assert notes == ["does not fit: one request alone needs 13.9 GB more per chip (KV cache is the largest term), at "
                     "the longest requests (500,000 prompt + 1,000 output tokens)"] * 4
    (fits,) = predict_rows([{**row, "isl": 380000, "concurrency": 8}], model_kind="steady")
    assert fits.feasible


def test_each_models_shortfall_says_the_lengths_it_is_sized_at() -> None:
    """Llama-3.1-8B on an HGX H100 at 500,000 in / 100 out, 4 clients: the simulator's refusal said 210.5 GB short and
    the steady model's 184.3 GB, without saying why (report-only tester fixec 2): the first sizes the KV cache at the
    longest requests its client sends, the second at the mean of the lengths it draws (80-100%: 450,000 + 90). Each
    is one request's shortfall, as fitting is decided (it summed the 4 clients' KV: report-only tester fixec2 5)."""
    case = ("serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--isl", "500000", "--osl", "100",
            "--concurrency", "4")
    sim, steady = (_invoke(*case, *kind)[1].split("; `parity search")[0] for kind in ((), ("--model-kind", "steady")))
    assert sim == ("parity: error: does not fit: one request alone needs 13.9 GB more per chip (KV cache is the largest "
                   "term), at the longest requests (500,000 prompt + 100 output tokens)")
    assert steady == ("parity: error: does not fit: one request alone needs 7.3 GB more per chip (KV cache is the "
                      "largest term), at the mean lengths drawn (450,000 prompt + 90 output tokens; the longest 500,000 "
                      "+ 100)")


def test_one_token_outputs_print_no_nan() -> None:
    """With one output token there is no decode step: TPOT, ITL and tokens/s per user are '-', never 'nan'."""
    code, output = _invoke(*SERVE, "--isl", "1", "--osl", "1")
    assert code == 0 and "nan" not in output
    assert "TPOT mean / p50 / p90 / p99 [ms]" in output and "- / - / - / -" in output


def test_a_length_table_with_nan_or_a_short_row_is_refused(tmp_path: Path) -> None:
    lengths = tmp_path / "l.csv"
    for rows, says in (("nan,5\n", "l.csv line 2: isl and osl must be token counts of 1 to 100,000,000, got nan, 5"),
                       ("5\n", "l.csv line 2: isl and osl must be numbers, got '5', None")):
        lengths.write_text("isl,osl\n" + rows)
        code, output = _invoke("serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--scenario", "offline",
                               "--lengths", str(lengths))
        assert code == 2 and says in output


@pytest.mark.e2e
def test_a_fleet_smaller_than_one_worker_serves_nothing_and_says_so() -> None:
    """One H20 cannot hold DeepSeek-R1 (a whole deployment is a 16-chip decode worker and a 16-chip prefill worker
    over four systems): it served 6.7e-5 T tokens a day, in proportion; now none, with the reason (one chip is no
    whole 8-chip node, and 8 chips hold no deployment). A budget that powers no system says so too."""
    code, output = _invoke("fleet", "--model", "deepseek-r1", "--units", "1", "--chips", "nvidia-h20", "--format",
                           "json")
    (plan,) = json.loads(output)
    assert code == 0 and plan["served_tokens_per_day"] == 0 and plan["note"].endswith(
        "1 chip given holds no whole hgx-h20 (8 chips): none deployed, no MW or cost, as a system is bought and powered "
        "whole") and (plan["chips"], plan["units_given"]) == (0, 1)
    code, output = _invoke("fleet", "--model", "deepseek-r1", "--units", "8", "--chips", "nvidia-h20", "--format",
                           "json")
    (plan,) = json.loads(output)
    assert code == 0 and plan["served_tokens_per_day"] == 0 and plan["note"].endswith(
        "8 chips hold no whole deployment (a decode worker of 16 chips and 1 prefill worker of 16)")
    code, output = _invoke("fleet", "--model", "llama-3.1-8b", "--power-mw", "0.001", "--chips", "nvidia-h20",
                           "--format", "json")
    (plan,) = json.loads(output)
    assert plan["chips"] == 0 and "the power budget runs no whole hgx-h20 (5.824 kW)" in plan["note"]


def test_a_chip_that_cannot_serve_shows_dashes_not_inf() -> None:
    code, output = _invoke("fleet", "--model", "deepseek-r1", "--demand", "1e12tokens/day", "--tpot", "1ms",
                           "--chips", "nvidia-h20")
    assert code == 0 and "inf" not in output and "the TPOT target 1 ms binds" in " ".join(output.split())


def test_a_timeline_is_a_csv_file_of_its_own(tmp_path: Path) -> None:
    """--timeline t.json wrote CSV under a JSON name, and --timeline x.csv --out x.csv overwrote the timeline. The
    message names the path as given (it named the file alone: '--timeline version' for /proc/version)."""
    code, output = _invoke(*SERVE, "--timeline", str(tmp_path / "t.json"))
    assert code == 2 and f"--timeline {tmp_path / 't.json'}: the timeline is a CSV table; name the file .csv" in output
    same = str(tmp_path / "x.csv")
    code, output = _invoke(*SERVE, "--timeline", same, "--out", same)
    assert code == 2 and f"--out {same} and --timeline {same} name the same file" in output
    assert not list(tmp_path.iterdir())


def test_a_prefill_worker_that_does_not_fit_is_named() -> None:
    """DeepSeek-R1 decoded on a GB200 NVL72 fits there; its prefill worker of eight H100s does not (671 GB of FP8
    weights): the refusal said 'not even one sequence's KV cache fits' without saying which worker."""
    code, output = _invoke("serve", "--model", "deepseek-r1", "--system", "gb200-nvl72", "--mode", "disagg", "--tp",
                           "8", "--prefill-system", "hgx-h100")
    assert code == 2 and ("does not fit: the prefill worker (tp8-ep8 on hgx-h100) needs 16.8 GB more per chip "
                          "(weights is the largest term)") in output


def test_targets_read_alike_in_every_command() -> None:
    """':2s' (an empty statistic) was read as the mean; serve refused 'none', which the others take."""
    for command in (SERVE, ["search", "--model", "llama-3.1-8b", "--system", "hgx-h100"]):
        code, output = _invoke(*command, "--ttft", ":2s")
        assert code == 2 and "the statistic must be one of mean, p50, p90, p99" in output
    code, output = _invoke(*SERVE, "--ttft", "p95:2s")  # vllm bench serve's --metric-percentiles often asks for 95
    assert code == 2 and output.startswith(
        "parity: error: Invalid value for '--ttft': the statistic must be one of mean, p50, p90, p99 (e.g. p99:2s); "
        "p95 is not among the statistics the simulator reports: bound p90 or p99 instead")
    code, output = _invoke(*SERVE, "--ttft", "none", "--format", "json")
    assert code == 0, output


def test_mtp_on_a_model_without_mtp_layers_is_refused_as_serve_refuses_it() -> None:
    """compare, fleet and formats said '--mtp 1 does not apply' and exited 0 where serve refused: an option that does
    nothing is refused where no model of the run has MTP layers; beside one that has, the caption says it."""
    for args in (["compare", "hgx-h100", "--model", "llama-3.1-8b"],
                 ["fleet", "--model", "llama-3.1-8b", "--chips", "nvidia-h100-sxm", "--demand", "1e12tokens/day"],
                 ["formats", "hgx-h100", "--model", "llama-3.1-8b"]):
        code, output = _invoke(*args, "--mtp", "1")
        assert code == 2 and output.strip() == ("parity: error: --mtp 1 does nothing here: llama-3.1-8b has no MTP "
                                                "layers (drop --mtp)"), output
    code, output = _invoke("compare", "hgx-h100", "--model", "llama-3.1-8b", "--model", "qwen3-32b", "--mtp", "2")
    assert code == 2 and "llama-3.1-8b, qwen3-32b have no MTP layers" in output
    code, output = _invoke("compare", "hgx-h200", "--model", "llama-3.1-8b", "--model", "deepseek-r1", "--mtp", "1",
                           "--processes", "1", "--format", "md")
    assert code == 0 and "--mtp 1 does not apply: llama-3.1-8b has no MTP layers." in " ".join(output.split())


def test_an_mtp_acceptance_beyond_the_drafts_names_the_options() -> None:
    """It read 'mtp_acceptance must be in [0, mtp_tokens=3]', the library's names."""
    code, output = _invoke("serve", "--model", "deepseek-r1", "--system", "hgx-h200", "--tp", "8", "--mtp", "3",
                           "--mtp-acceptance", "4")
    assert code == 2 and output == ("parity: error: --mtp-acceptance 4 must be in [0, 3]: a step accepts at most the "
                                    "--mtp 3 tokens it drafts (a cases table's mtp_acceptance and mtp_tokens)\n")


def test_the_simulator_prefills_on_the_prefill_system() -> None:
    """Llama-3.1-70B FP8 decoded on an H100 node, prefilled on a tp8 worker of H100s, H20s or L20s: the simulator
    ran every prefill on the H100s (identical figures) and moved the KV over NVLink between the two systems; now the
    mean TTFT follows the prefill chip (0.106, 0.338, 0.846 s) and the TPOT stays the H100's."""
    ttft, tpot = [], []
    for prefill in ("hgx-h100", "hgx-h20", "l20-server"):
        code, output = _invoke("serve", "--model", "llama-3.1-70b", "--system", "hgx-h100", "--mode", "disagg", "--tp",
                               "8", "--weights", "fp8", "--prefill-system", prefill, "--format", "json")
        assert code == 0, output
        data = json.loads(output)
        ttft.append(round(data["ttft_s"], 3))
        tpot.append(data["tpot_s"])
    assert ttft == [0.106, 0.338, 0.846]
    assert max(tpot) / min(tpot) < 1.02


def test_a_trace_run_refuses_what_the_trace_replaces(tmp_path: Path) -> None:
    trace = tmp_path / "t.csv"
    trace.write_text("arrival_s,isl,osl\n0,100,100\n1,100,100\n")
    code, output = _invoke(*SERVE, "--trace", str(trace), "--request-rate", "5")
    assert code == 2 and "--request-rate with --trace: the trace gives each request's arrival and lengths" in output
    code, output = _invoke(*SERVE, "--trace", str(trace), "--scenario", "offline")
    assert code == 2 and "--trace with --scenario offline" in output
    # the clients of a closed loop: the trace's requests arrive at its times (the simulator sent them all the same)
    code, output = _invoke(*SERVE, "--trace", str(trace), "--concurrency", "4")
    assert code == 2 and "--concurrency with --trace: the trace gives each request's arrival and lengths" in output
    # a client's front end is what a trace run keeps of it, and only an aggregated run has one
    code, output = _invoke(*SERVE, "--trace", str(trace), "--client", "vllm", "--mode", "disagg")
    assert code == 2 and "--client with --trace and --mode disagg" in output and len(output.splitlines()) == 1


def test_a_trace_run_is_titled_by_its_trace_and_keeps_a_clients_front_end(tmp_path: Path) -> None:
    """The title said '1024 in / 1024 out' (the --isl and --osl defaults) of a trace of 100- to 3,000-token
    prompts; and --client, which sets the front end requests pass through, was described by the prompts and lengths
    the trace replaced. Llama-3.1-8B on one H100 with TensorRT-LLM: behind aiconfigurator's Dynamo front end a
    request reaches the engine 60 ms after it is sent, behind InferenceX's engine server at once, 60 ms off the
    mean TTFT. --explain prices the trace's mean lengths (it priced the --isl default)."""
    trace = tmp_path / "t.csv"
    trace.write_text("arrival_s,isl,osl\n0,100,50\n0.5,3000,150\n2.5,200,100\n")
    args = ("serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--engine", "trtllm", "--trace", str(trace))
    code, output = _invoke(*args, "--explain")  # a typical request's steps: the trace's mean lengths, not 1,024
    assert code == 0, output
    assert "One prefill step of 1100 prompt tokens" in " ".join(output.split())
    title = " ".join(output.split("quantity")[0].split())
    assert title == ("llama-3.1-8b on hgx-h100 (agg, trace t.csv: 3 requests over 2.5 s, 1,100 in (at most 3,000) / "
                     "100 out (at most 150))")
    ttft = []
    for client in ("aiconfigurator", "inferencex"):
        code, output = _invoke(*args, "--client", client, "--format", "json")
        data = json.loads(output)
        assert f"simulated 3 requests of a trace (client profile {client}: its front end only)" in data["note"]
        ttft.append(data["ttft_s"])
    assert ttft[0] - ttft[1] == pytest.approx(0.060, abs=1e-9)


def test_too_many_clients_to_simulate_are_refused_at_once(tmp_path: Path) -> None:
    """Ten million clients (a hundred million requests) ran out of memory after minutes; a predict row of a
    hundred million was killed. Both now say what the simulator runs at most (a million requests)."""
    code, output = _invoke("serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--concurrency", "10000000")
    assert code == 2 and "are more than it runs (1,000,000)" in output
    cases = tmp_path / "c.csv"
    cases.write_text("case_id,model,system,isl,osl,concurrency,tp\nx,llama-3.1-8b,hgx-h100,1024,1024,100000000,1\n")
    code, output = _invoke("predict", str(cases), "--format", "json")
    (row,) = json.loads(output)
    assert code == 0 and not row["feasible"] and "are more than it runs (1,000,000)" in row["note"]
    code, output = _invoke("predict", str(cases), "--out", str(cases))
    assert code == 2 and f"--out {cases} is the same file as CASES {cases}" in output


def test_a_power_budget_under_the_units_says_it_binds() -> None:
    """10,000 H100s and 5 MW: the budget powers 3,920 (whole nodes at 10.2 kW); the title said 10,000 chips and
    nothing said why 3,920 were used."""
    code, output = _invoke("fleet", "--model", "llama-3.1-8b", "--units", "10000", "--power-mw", "5", "--chips",
                           "nvidia-h100-sxm", "--format", "json")
    (plan,) = json.loads(output)
    assert code == 0 and plan["chips"] == 3920 and "the power budget runs 3,920 of the 10,000 chips" in plan["note"]


def test_a_trace_runs_its_closed_form_rows_at_its_own_peak_load(tmp_path: Path) -> None:
    """Memory per chip, the prefill share and the disaggregated worker sizing came from the closed-form model at
    --concurrency's default 32 clients, which a trace replaces: 41.5 GB for three requests that never overlap on
    Llama-3.1-8B and one H100. The prefill share now comes from the trace's peak of requests in flight (here 1):
    the same 6% as `serve` at one client of its longest request (3,000 in, 150 out); memory per chip from the run's
    own peak of KV: that request's 3,150 tokens, which TensorRT-LLM reserves at admission in blocks of 32 (3,168), so
    18 tokens of 131,072 B (32 layers x 8 KV heads x 128 x 2 x 2 B) above the closed form's 3,150: 28.7 GB."""
    trace = tmp_path / "t.csv"
    trace.write_text("arrival_s,isl,osl\n0,100,50\n0.5,3000,150\n2.5,200,100\n")
    base = ("serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--engine", "trtllm", "--format", "json")
    code, output = _invoke(*base, "--trace", str(trace))
    assert code == 0, output
    replayed = json.loads(output)
    code, output = _invoke(*base, "--isl", "3000", "--osl", "150", "--concurrency", "1")
    one = json.loads(output)
    assert replayed["memory_bytes_per_chip"] - one["memory_bytes_per_chip"] == 18 * 131_072
    assert one["memory_bytes_per_chip"] == pytest.approx(28.74e9, rel=1e-3)
    assert replayed["prefill_utilization"] == one["prefill_utilization"] == pytest.approx(0.0586, abs=1e-3)
    assert replayed["note"].endswith("memory per chip at the simulated run's peak of KV in flight (the busiest rank's: "
                                     "3,168 tokens, 1% of its KV cache), beside the weights, activations and held-back "
                                     "memory the closed form counts; closed-form rows (prefill share) at the "
                                     "simulated run's peak of 1 request in flight (prefilling or decoding)")


def test_a_trace_prices_memory_at_the_kv_its_run_held_not_at_its_longest_request(tmp_path: Path) -> None:
    """A trace of one 120,000-token prompt and one of 1,024 (128 out each, 0.1 s apart) was priced as two of 120,000:
    59.8 GB per H100, the same as two120's. Its memory is now the run's own peak of KV: both requests at once, at
    their whole lengths, 120,128 + 1,152 = 121,280 tokens, where one client of 120,000 + 128 holds 120,064 in the
    closed form (its prompt and half its output): 1,216 tokens of 131,072 B (Llama-3.1-8B, bf16: 32 layers x 8 KV
    heads x 128 x 2 x 2 B) more, 44.2 GB, beside the same weights, activations and held-back memory. Two prompts of
    120,000 hold 240,241 tokens at most: the second's 15 chunks of 8,192 run in the first's decode steps, so it is 15
    tokens behind when the first ends. A 200,000-token prompt read the whole 80 GB, its run using half its KV cache."""
    runs = {}
    for name, second in (("mix", 1024), ("two", 120000)):
        trace = tmp_path / f"{name}.csv"
        trace.write_text(f"arrival_s,isl,osl\n0,120000,128\n0.1,{second},128\n")
        code, output = _invoke("serve", "--model", "llama-3.1-8b", "--system", "h100", "--trace", str(trace),
                               "--format", "json")
        assert code == 0, output
        runs[name] = json.loads(output)
    code, output = _invoke("serve", "--model", "llama-3.1-8b", "--system", "h100", "--isl", "120000", "--osl", "128",
                           "--concurrency", "1", "--format", "json")
    one = json.loads(output)["memory_bytes_per_chip"]
    assert runs["mix"]["memory_bytes_per_chip"] - one == 1_216 * 131_072
    assert runs["two"]["memory_bytes_per_chip"] - one == (240_241 - 120_064) * 131_072
    assert runs["mix"]["memory_bytes_per_chip"] == pytest.approx(44.22e9, rel=1e-3)
    assert "peak of KV in flight (the busiest rank's: 121,280 tokens, 31% of its KV cache)" in runs["mix"]["note"]
    assert "closed-form model (memory per chip but its KV cache, which is the simulated run's" in runs["mix"]["note"]
    trace = tmp_path / "huge.csv"
    trace.write_text("arrival_s,isl,osl\n0,200000,128\n1,1024,128\n")
    code, output = _invoke("serve", "--model", "llama-3.1-8b", "--system", "h100", "--trace", str(trace),
                           "--format", "json")
    assert code == 0 and json.loads(output)["memory_bytes_per_chip"] == pytest.approx(54.7e9, rel=1e-3)


def test_the_peak_in_flight_sums_the_workers_latest_records() -> None:
    """Requests partly prefilled or running at once over every worker, each worker (a role's index: prefill 0 and
    decode 0 are two) as of its latest record: 3 on the prefill worker and 2 decoding (5), then the prefill worker
    drains to 1 while decodes reach 3 (4); a step's prompts (prefilling) are counted once, as partly prefilled or
    running; NaN without a timeline."""
    from parity.simulate.results import SimResult

    def record(t: float, role: str, partly: int, running: int) -> dict:
        return {"time_s": t, "worker": 0, "role": role, "queued": 0, "prefilling": 9, "partly_prefilled": partly,
                "running": running, "kv_used_fraction": 0.0}

    timeline = (record(0.2, "decode", 0, 2), record(0.1, "prefill", 3, 0), record(0.3, "prefill", 1, 0),
                record(0.4, "decode", 0, 3))
    result = SimResult(latency={}, output_tokens_per_s=0.0, chips=1.0, duration_s=1.0, requests=4, decode_batch=1.0,
                       preemptions=0, kv_capacity_tokens=1.0, timeline=timeline)
    assert result.peak_in_flight() == 5.0
    assert SimResult(latency={}, output_tokens_per_s=0.0, chips=1.0, duration_s=1.0, requests=4, decode_batch=1.0,
                     preemptions=0, kv_capacity_tokens=1.0).peak_in_flight() != 0.0  # NaN


def test_train_validate_refuses_the_options_of_one_layout() -> None:
    """`train --validate` scores the published runs, each at its own model, system and layout: a --model or --tp
    beside it was ignored without a word."""
    code, output = _invoke("train", "--validate", "--model", "llama-3.1-70b", "--tp", "8")
    assert code == 2 and len(output.strip().splitlines()) == 1
    assert "--model, --tp with --validate: it scores the published training runs" in output


@pytest.mark.parametrize(("limits", "chips", "says"), [
    (("--demand", "1e12tokens/day", "--units", "10000"), 600, "the demand needs 600 of the 10,000 chips available"),
    # 96 deployed: the 4 past 12 whole nodes are not (fixea 3)
    (("--demand", "1e12tokens/day", "--units", "100"), 96, "the demand needs 600 chips, 100 are available"),
    (("--units", "1000", "--power-mw", "10"), 1000, "the fleet draws 1.27 of the 10 MW budget"),
    (("--demand", "1e12tokens/day", "--power-mw", "0.5"), 392, "the power budget runs 392 of the 600 chips"),
])
def test_every_limit_given_together_is_read_and_named(limits: tuple[str, ...], chips: int, says: str) -> None:
    """1e12 tokens/day of Llama-3.1-8B takes 600 H200s (75 nodes at 1.27 kW a chip); --units 10000 beside it, or
    --power-mw 10 beside --units 1000, gave the answer of the other option alone without a word. Each limit now
    caps the fleet and the note says whether it binds; the title names every limit."""
    code, output = _invoke("fleet", "--model", "llama-3.1-8b", "--chips", "nvidia-h200-sxm", *limits, "--format",
                           "json")
    (plan,) = json.loads(output)
    assert code == 0 and plan["chips"] == chips and says in plan["note"]
    assert plan["units_given"] == (int(limits[limits.index("--units") + 1]) if "--units" in limits else None)
    code, output = _invoke("fleet", "--model", "llama-3.1-8b", "--chips", "nvidia-h200-sxm", *limits)
    title = output.splitlines()[0]
    assert ("chips" in title) == ("--units" in limits) and ("MW" in title) == ("--power-mw" in limits)


def test_a_worker_of_packages_counted_a_rank_per_die_is_whole_chips_in_the_note() -> None:
    """With --rank-per-die the note said "prefill workers of 4.0 chips": 8 ranks of the Ascend 910C, two dies a
    package, are 4 packages."""
    code, output = _invoke("serve", "--model", "llama-3.1-70b", "--system", "atlas-800-a3", "--mode", "disagg",
                           "--rank-per-die", "--tp", "8", "--model-kind", "steady", "--format", "json")
    assert code == 0, output
    note = json.loads(output)["note"]
    assert "1 prefill worker of 4 chips + 1 decode worker of 4 chips (8 chips; " in note and "4.0 chips" not in note


def test_a_rank_per_die_runs_memory_is_named_per_die() -> None:
    """Under --rank-per-die serve's 'memory per chip' was a die's (46.5 GB of a 64 GB die; 89.4 GB without, of the
    128 GB package), as train says 'memory per die' (fuzz 21 1.1): the row now says whose memory it is."""
    args = ("serve", "--model", "llama-3.1-70b", "--system", "atlas-800-a3", "--concurrency", "8", "--model-kind",
            "steady")
    rows = {}
    for extra in (("--rank-per-die", "--tp", "4"), ("--no-rank-per-die", "--tp", "2")):
        code, output = _invoke(*args, *extra)
        assert code == 0, output
        rows |= dict(line.rsplit(None, 2)[0:1] + [" ".join(line.rsplit(None, 2)[1:])]
                     for line in output.split("Assumptions:")[0].splitlines() if line.startswith("memory per"))
    assert rows == {"memory per die": "46.5 GB", "memory per chip": "89.4 GB"}


# the lengths a shortfall is sized at (predict.steady._sized_at): serve's steady model draws the client profile's
# lengths (80-100% of 1,024: a mean of 922) where its client draws them, else each request's full lengths
_MEAN = "at the mean lengths drawn (922 prompt + 922 output tokens; the longest 1,024 + 1,024)"
_LONGEST = "at the longest requests (1,024 prompt + 1,024 output tokens)"


def test_serve_runs_a_multi_die_package_one_rank_per_die_by_default() -> None:
    """Plain serve ran the 910C package as one 128 GB device and called Qwen3-32B at tp1 feasible at 94.7 GB, while
    compare, search, fleet, formats and train run one rank per die, as CANN does (fuzz 23b 1.1). Now one rank per die
    is serve's default on a multi-die chip: tp1 needs 13.1 GB more than a 64 GB die holds (65.5 GB of BF16 weights);
    --no-rank-per-die keeps the package run as a flagged what-if, its rerun line says so; on a one-die chip the
    option changes nothing."""
    args = ("serve", "--model", "qwen3-32b", "--system", "atlas-800-a3", "--model-kind", "steady")
    code, output = _invoke(*args, "--tp", "1")
    assert (code, output) == (2, "parity: error: does not fit: one request alone needs 13.1 GB more per 64 GB die "
                                 f"(weights is the largest term), {_MEAN}; `parity search --model qwen3-32b --system atlas-800-a3 --weights "
                                 "bf16` lists the layouts that fit\n")
    code, output = _invoke(*args, "--tp", "1", "--no-rank-per-die", "--format", "json")
    package = json.loads(output)
    assert code == 0 and round(package["memory_bytes_per_chip"] / 1e9, 1) == 94.7 and package["rank_per_die"] is False
    assert round(package["output_tokens_per_s_per_chip"]) == 589
    assert package["flags"][-1] == ("package run as one device: huawei-ascend-910c's 2 dies as one 128 GB device; "
                                    "CANN runs one rank per die (64 GB)")
    assert "--tp 1 --concurrency 32 --no-rank-per-die" in package["serve_command"]
    (code, plain), (_, per_die) = (_invoke(*args, "--tp", "2", *extra, "--format", "json")
                                   for extra in ((), ("--rank-per-die",)))
    assert code == 0 and json.loads(plain) == json.loads(per_die)
    # the record says a die was the rank; memory_bytes_per_chip was then a die's under the package's key (fuzz 24 4.2,
    # fixS 4): it is the package's, its two dies' 2 x 49.03 GB, as chips and tokens/s per chip count packages, and
    # memory_bytes_per_die the die's
    record = json.loads(plain)
    assert (round(record["memory_bytes_per_chip"] / 1e9, 1), round(record["memory_bytes_per_die"] / 1e9, 1)) == (
        98.1, 49.0) and record["rank_per_die"] and "memory_bytes_per_die" not in package
    assert "--rank-per-die" in json.loads(plain)["serve_command"] and "package" not in "; ".join(json.loads(plain)["flags"])
    h100 = ("serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--model-kind", "steady", "--format", "json")
    assert json.loads(_invoke(*h100)[1]) == json.loads(_invoke(*h100, "--no-rank-per-die")[1])


def test_a_per_die_refusal_names_the_die_and_the_catalog_system() -> None:
    """A per-die shortfall said 'per chip' and named the internal system 'cloudmatrix-384-per-die', which `parity
    show` does not know (fuzz 23b 4.1): it says what a die holds and the catalog system, one rank per die."""
    code, output = _invoke("serve", "--model", "deepseek-r1", "--system", "cloudmatrix-384", "--engine", "sglang-cann",
                           "--weights", "int8", "--mode", "disagg", "--tp", "1", "--attn-dp", "16", "--moe-ep", "16",
                           "--decode-tp", "1", "--decode-attn-dp", "128", "--decode-moe-ep", "128", "--concurrency",
                           "4096", "--mtp", "1", "--model-kind", "steady")
    assert (code, output) == (2, "parity: error: does not fit: the prefill worker (tp1-dp16-ep16 on cloudmatrix-384, "
                                 "one rank per die) needs 9.2 GB more per 64 GB die (weights is the largest term), "
                                 f"{_LONGEST}; "
                                 "`parity search --model deepseek-r1 --system cloudmatrix-384 --engine sglang-cann "
                                 "--weights int8` lists the layouts that fit\n")


def test_a_die_run_as_a_rank_is_named_by_its_package() -> None:
    """An Atlas 800 A3 runs one rank per 910C die, and serve's note and refusals named the die by parity's internal
    id, 'huawei-ascend-910c-die', which no command takes: they name it one die of the catalog chip."""
    from parity import catalog
    from parity.cost import emulation_note
    from parity.dtypes import format_named
    from parity.hardware import chip_text, per_die

    die = per_die(catalog.system("atlas-800-a3")).chip
    assert (chip_text(die), chip_text(catalog.chip("910c"))) == ("one die of huawei-ascend-910c", "huawei-ascend-910c")
    assert emulation_note(format_named("fp8"), die) == ("fp8 emulated on bf16 (one die of huawei-ascend-910c has no FP8 "
                                                        "math)")
    code, output = _invoke("serve", "--model", "llama-3.1-70b", "--system", "atlas-800-a3", "--tp", "2",
                           "--attention-format", "fp8")
    assert (code, output) == (2, "parity: error: attention_format fp8: one die of huawei-ascend-910c has no fp8 math "
                                 "(native: bf16, fp16, fp32, int8)\n")


@pytest.mark.parametrize(("args", "says"), [
    (["formats", "hgx-h100", "hgx-h100"], "hgx-h100 named twice: each system is shown once"),
    (["formats", "hgx-h100", "--formats", "fp8,bf16,fp8"], "fp8 named twice: each format is shown once"),
    # an alias is its format: ue8m0 printed a second fp8_block row, e4m3 a second fp8 row
    (["formats", "hgx-h100", "--formats", "ue8m0,fp8_block"],
     "fp8_block named twice (ue8m0, fp8_block): each format is shown once"),
    (["formats", "hgx-h100", "--formats", "fp8,E4M3"], "fp8 named twice (fp8, E4M3): each format is shown once"),
    (["compare", "hgx-h100", "--model", "llama-3.1-8b", "--model", "llama-3.1-8b"],
     "llama-3.1-8b named twice: each model is compared once"),
    (["fleet", "--model", "llama-3.1-8b", "--demand", "1M tokens/s", "--chips", "h20,nvidia-h20"],
     "nvidia-h20 (in its default system hgx-h20) named twice: each system is sized once"),
    (["fleet", "--model", "llama-3.1-8b", "--demand", "1M tokens/s", "--chips", "910c,atlas-800-a3"],
     "huawei-ascend-910c (in its default system atlas-800-a3) and atlas-800-a3 name the same system: each system "
     "is sized once"),
    (["compare", "h100", "hgx-h100", "hgx-h20", "HGX-H20", "--model", "llama-3.1-8b"],
     "nvidia-h100-sxm (in its default system hgx-h100) and hgx-h100 name the same system; hgx-h20 named twice: "
     "each system is compared once"),
])
def test_an_entry_named_twice_is_refused_as_compare_refuses_it(args: list[str], says: str) -> None:
    """formats printed a system's rows twice and fleet sized a chip kind twice (two names of one chip). A chip
    beside its own default system said 'atlas-800-a3 named twice' where 910c was typed: the message says which
    system the chip stands for."""
    code, output = _invoke(*args)
    assert code == 2 and says in output and len(output.strip().splitlines()) == 1


@pytest.mark.parametrize(("args", "says"), [
    (("--mode", "disagg", "--decode-moe-tp", "3"), "--decode-moe-tp must divide --tp x --attn-dp (8 x 1 = 8), got 3: "
     "--decode-moe-ep, not given, is derived as 8 // 3 = 2, and 3 x 2 = 6"),
    (("--moe-ep", "5"), "--moe-ep must divide --tp x --attn-dp (8 x 1 = 8), got 5: --moe-tp, not given, is derived "
     "as 8 // 5 = 1, and 5 x 1 = 5"),
    # 8 // 16 is 0, clamped to 1: the message said '8 // 16 = 1' (report-only tester DC 6)
    (("--moe-ep", "16"), "--moe-ep must divide --tp x --attn-dp (8 x 1 = 8), got 16: --moe-tp, not given, is derived "
     "as max(1, 8 // 16) = 1, and 16 x 1 = 16"),
    (("--moe-tp", "2", "--moe-ep", "2"), "--moe-tp x --moe-ep must equal --tp x --attn-dp (8 x 1 = 8), got 2 x 2"),
    (("--mode", "disagg", "--moe-tp", "3", "--decode-tp", "4"), "--moe-tp must divide --tp x --attn-dp (8 x 1 = 8), "
     "got 3: --moe-ep, not given, is derived as 8 // 3 = 2, and 3 x 2 = 6"),
    (("--mode", "disagg", "--decode-tp", "4", "--decode-moe-tp", "2", "--decode-moe-ep", "8"),
     "--decode-moe-tp x --decode-moe-ep must equal --decode-tp x --attn-dp (4 x 1 = 4), got 2 x 8"),
])
def test_expert_degrees_that_miss_the_group_name_the_options_given(args: tuple[str, ...], says: str) -> None:
    """Qwen3-235B on 8 H100s: expert degrees that do not fill tp x attn_dp are refused naming the options typed and
    the degree derived from them (it said 'moe_tp x moe_ep must equal tp x attn_dp (8), got 3 x 2', which names no
    option and leaves the 2 unexplained)."""
    code, output = _invoke("serve", "--model", "qwen3-235b-a22b-fp8", "--system", "hgx-h100", "--tp", "8", *args)
    assert code == 2 and output == f"parity: error: {says}\n"


def test_decode_expert_degrees_on_a_dense_model_are_refused() -> None:
    """--decode-moe-tp on Llama-3.1-8B (no experts) was ignored; --moe-tp was refused."""
    code, output = _invoke("serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--mode", "disagg",
                           "--decode-moe-tp", "2")
    assert code == 2 and "--decode-moe-tp sets how experts are stored or placed; llama-3.1-8b is dense" in output


def test_a_trace_replays_with_vllms_client_aggregated_and_no_client_disaggregated(tmp_path: Path) -> None:
    """A trace is an open loop: aggregated, it takes vLLM's client (the engine's own server, no Dynamo front end) where
    none is named; disaggregated, no client profile applies and none is taken, so no --client is implied (that run
    was refused as if --client had been given)."""
    trace = tmp_path / "t.csv"
    trace.write_text("arrival_s,isl,osl\n0,100,50\n0.5,300,40\n")
    base = ("serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--trace", str(trace), "--format", "json")
    code, output = _invoke(*base)
    assert code == 0 and "(client profile vllm: its front end only)" in json.loads(output)["note"], output
    code, output = _invoke(*base, "--mode", "disagg")
    assert code == 0 and json.loads(output)["requests"] == 2, output


@pytest.mark.parametrize(("args", "says"), [
    # 1,000 decode workers for 32 clients simulated for 20 s (10,000: minutes), 968 of them never running
    (("--decode-workers", "1000"), "--decode-workers 1,000 with 32 clients: at most 32 decode workers can each hold a "
                                   "client; give fewer workers or more --concurrency"),
    (("--prefill-workers", "33", "--model-kind", "steady"),
     "--prefill-workers 33 with 32 clients: at most 32 prefill workers can each hold a prompt; give fewer workers or "
     "more --concurrency"),
    # an open loop's clients: its cap on requests in flight, else the requests it sends
    (("--decode-workers", "5", "--request-rate", "5", "--max-concurrency", "4"),
     "--decode-workers 5 with at most 4 requests in flight (--max-concurrency): at most 4 decode workers can each "
     "hold a client; give fewer workers or a higher --max-concurrency"),
    (("--decode-workers", "11", "--request-rate", "5", "--num-prompts", "10"),
     "--decode-workers 11 with the run's 10 requests (--num-prompts): at most 10 decode workers can each hold a "
     "client; give fewer workers or more --num-prompts"),
])
def test_disaggregated_workers_beyond_the_clients_are_refused(args: tuple[str, ...], says: str) -> None:
    code, output = _invoke(*SERVE, "--mode", "disagg", *args)
    assert code == 2 and output == f"parity: error: {says}\n"


def test_workers_as_many_as_the_clients_are_priced() -> None:
    code, output = _invoke(*SERVE, "--mode", "disagg", "--decode-workers", "32", "--prefill-workers", "32",
                           "--model-kind", "steady", "--format", "json")
    assert code == 0 and json.loads(output)["chips"] == 64 * 8


def test_a_cap_above_the_requests_sent_is_refused() -> None:
    """--max-concurrency 500 over 100 prompts capped nothing and was taken without a word."""
    code, output = _invoke(*SERVE, "--request-rate", "5", "--num-prompts", "100", "--max-concurrency", "500")
    assert code == 2 and output == ("parity: error: --max-concurrency 500 is above the 100 requests the run sends "
                                    "(--num-prompts), so it caps nothing: give at most 100, or leave it out\n")


def test_a_disaggregated_run_shows_each_workers_memory_per_chip() -> None:
    """It showed the decode worker's 23.4 GB per chip only, while the tp2 prefill worker holds 35.3 GB of FP8 weights
    per chip (70.6 B parameters over 2 chips) and 48.7 GB with its reserve, activations and one prompt's KV."""
    args = ("serve", "--model", "llama-3.1-70b", "--system", "hgx-h100", "--mode", "disagg", "--tp", "2",
            "--decode-tp", "2", "--decode-pp", "4", "--weights", "fp8", "--kv", "fp8", "--concurrency", "64",
            "--model-kind", "steady", "--random-range-ratio", "1")
    code, table = _invoke(*args)
    assert code == 0 and "memory per chip (prefill / decode)" in table and "48.7 / 23.4 GB" in table
    code, output = _invoke(*args, "--format", "json")
    data = json.loads(output)
    assert data["prefill_memory_bytes_per_chip"] == pytest.approx(48.68e9, rel=1e-3)
    assert data["decode_memory_bytes_per_chip"] == pytest.approx(23.36e9, rel=1e-3)
    assert data["memory_bytes_per_chip"] == data["prefill_memory_bytes_per_chip"]  # the most any chip holds


def test_the_length_range_is_the_clients_unless_given() -> None:
    """--random-range-ratio showed '[default: 1.0]' and '1: fixed lengths', yet the default aiconfigurator client drew
    lengths in [0.8, 1] x nominal, with the option left out and with 1 given alike. Left out, the client profile's
    range holds and the help says so; given, it replaces the profile's, 1 included."""
    common = ["serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--concurrency", "4", "--num-prompts", "40"]
    _, default = _invoke(*common)
    _, fixed = _invoke(*common, "--random-range-ratio", "1")
    _, wider = _invoke(*common, "--random-range-ratio", "0.5")
    default, fixed, wider = (" ".join(text.split()) for text in (default, fixed, wider))
    assert ("client profile aiconfigurator (40 prompts as asked, in place of its 10 prompts a client, lengths uniform "
            "in [0.8, 1] x nominal") in default
    assert ("client profile aiconfigurator (40 prompts as asked, in place of its 10 prompts a client, fixed "
            "lengths") in fixed
    assert ("client profile inferencex (40 prompts as asked, in place of its 10 prompts a client, lengths uniform in "
            "[0.5, 1] x nominal") in wider
    _, usage = _invoke("serve", "--help")
    assert ("1: fixed lengths; default: the client profile's range (aiconfigurator's 0.8, 1 on SGLang engines; "
            "inferencex's 0.8, vllm's 1, sglang's 0; parity engines --clients)") in " ".join(usage.split())


def test_the_steady_model_draws_the_clients_length_range_unless_given() -> None:
    """--model-kind steady with --random-range-ratio left out priced fixed lengths (TTFT 155.8 ms, the same as 1
    given), where the simulator and --help take the client profile's range: aiconfigurator's [0.8, 1] x nominal
    (141.4 ms, the same as 0.8 given); the note says which range it took."""
    common = ["serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--model-kind", "steady", "--format", "json"]
    default, fixed, spread = (json.loads(_invoke(*common, *ratio)[1]) for ratio in
                              ((), ("--random-range-ratio", "1"), ("--random-range-ratio", "0.8")))
    assert default["ttft_s"] == spread["ttft_s"] == pytest.approx(0.141447, rel=1e-5)
    assert fixed["ttft_s"] == pytest.approx(0.155789, rel=1e-5)
    assert default["note"].endswith("; lengths uniform in [0.8, 1] x nominal (the aiconfigurator client profile's, "
                                    "as --sim draws them)")
    assert "lengths" not in fixed["note"]


def test_a_format_alias_is_read_and_shown_as_its_format() -> None:
    """train --precision ue8m0 was refused (a list of choices without the alias), and compare --weights ue8m0 or E4M3
    labelled its rows with the typed spelling where formats shows fp8_block and fp8: both now read the alias as its
    format, the same numbers and the format's own name."""
    train = ["train", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--format", "json", "--precision"]
    alias, block = (json.loads(_invoke(*train, name)[1]) for name in ("UE8M0", "fp8_block"))
    assert alias == block and alias["layout"]["precision"] == "fp8_block"
    compare = ["compare", "hgx-h100", "--model", "llama-3.1-8b", "--format", "json", "--weights"]
    for typed, name in (("ue8m0", "fp8_block"), ("E4M3", "fp8")):
        (row,) = json.loads(_invoke(*compare, typed)[1])
        (same,) = json.loads(_invoke(*compare, name)[1])
        assert row["weights"] == name and row == same
    code, out = _invoke(*train, "fp4")  # an alias of a format train does not take: what was typed, and what it is
    assert code == 2 and ("Invalid value for '--precision': 'fp4' (nvfp4) is not one of 'bf16', 'fp8', 'fp8_block', "
                          "'mxfp8'") in out


def test_an_open_loop_says_where_a_per_client_count_of_prompts_comes_from() -> None:
    """InferenceX sends 10 prompts x its --max-concurrency; an open loop at --request-rate 5 without that cap sent
    320 requests, 10 x the closed loop's default of 32 clients, and said nothing of where 320 came from."""
    common = ["serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--request-rate", "5", "--client",
              "inferencex", "--format", "json"]
    uncapped, capped = (json.loads(_invoke(*common, *cap)[1]) for cap in ((), ("--max-concurrency", "8")))
    assert (uncapped["requests"], capped["requests"]) == (320, 80)
    assert ("simulated 320 requests (10 a client x --concurrency 32: a count of requests, not a cap on those in "
            "flight, which --max-concurrency would set) arriving at random at 5 requests/s from client profile "
            "inferencex") in uncapped["note"]
    assert "simulated 80 requests (10 a client x the 8 in flight) arriving at random" in capped["note"]


def test_concurrency_beside_a_request_rate_says_it_counts_prompts_not_requests_in_flight() -> None:
    """`--request-rate 100 --concurrency 4 --client aiconfigurator` (the form `search --arrivals poisson` emits, which
    reproduces its figures) sends 10 prompts a client, 40, with no cap in flight: the title said '40 requests at 100/s'
    and nothing of the 4 (report-only tester). It says the 4 sets their count, not a cap; a cap says its own."""
    common = ["serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--isl", "256", "--osl", "32",
              "--request-rate", "100", "--client", "aiconfigurator"]
    code, out = _invoke(*common, "--concurrency", "4")
    assert code == 0, out
    words = " ".join(out.split())
    assert "(agg, 256 in / 32 out, 40 requests at 100/s: 10 a client x --concurrency 4, no cap in flight)" in words
    code, out = _invoke(*common, "--max-concurrency", "4")
    assert code == 0 and "(agg, 256 in / 32 out, 40 requests at 100/s, at most 4 in flight)" in " ".join(out.split())


def test_a_trace_runs_record_names_the_trace_its_mean_and_longest_lengths_and_no_clients(tmp_path: Path) -> None:
    """A trace run's record carried concurrency 32 (the closed loop's unused default) and the trace's longest lengths
    as isl and osl (2,048 and 30), with nothing naming the trace: a dashboard filed it as a 2,048/30 benchmark of 32
    clients. Now isl and osl are the means ((2,048 + 512 + 1,024) / 3 = 1,194.67 and (30 + 10 + 20) / 3 = 20), beside
    isl_max, osl_max and the trace's path, and concurrency is null, as for an open loop (its cap where it has one);
    a closed loop keeps its clients and lengths, its longest the nominal ones."""
    trace = tmp_path / "t.csv"
    trace.write_text("arrival_s,isl,osl\n0,2048,30\n0.1,512,10\n0.5,1024,20\n")
    keys = ("concurrency", "isl", "osl", "isl_max", "osl_max", "trace")
    code, output = _invoke(*SERVE, "--trace", str(trace), "--format", "json")
    assert code == 0, output
    assert [json.loads(output)[k] for k in keys] == [None, pytest.approx(3584 / 3), 20, 2048, 30, str(trace)]
    code, output = _invoke(*SERVE, "--request-rate", "2", "--num-prompts", "4", "--max-concurrency", "2",
                           "--format", "json")
    assert [json.loads(output)[k] for k in keys] == [2, 1024, 1024, 1024, 1024, None]
    code, output = _invoke(*SERVE, "--request-rate", "2", "--num-prompts", "4", "--format", "json")
    assert json.loads(output)["concurrency"] is None
    code, output = _invoke(*SERVE, "--concurrency", "4", "--num-prompts", "4", "--format", "json")
    assert [json.loads(output)[k] for k in keys] == [4, 1024, 1024, 1024, 1024, None]


def test_a_trace_naming_a_column_twice_or_with_a_huge_header_line_is_refused(tmp_path: Path) -> None:
    """'arrival_s,isl,osl,isl' ran with the second isl (5) in place of the first (100), as predict refuses; a
    300 MB file of one line was read whole (1.8 GB) and refused 'at line 0': a header line over 1 MiB is refused
    before the file is read."""
    dup, huge = tmp_path / "dup.csv", tmp_path / "huge.csv"
    dup.write_text("arrival_s,isl,osl,isl\n0,100,10,5\n")
    code, output = _invoke(*SERVE, "--trace", str(dup))
    assert code == 2 and output.strip() == ("parity: error: dup.csv: column 'isl' is named twice (the second's cells "
                                            "would replace the first's)")
    huge.write_text("x" * (2**20 + 1))
    code, output = _invoke(*SERVE, "--trace", str(huge))
    assert code == 2 and output.strip() == ("parity: error: huge.csv: the header line is longer than 1,048,576 bytes, "
                                            "so it is not a CSV table's header (arrival_s, isl, osl)")


def test_a_trace_past_the_simulators_requests_is_refused_at_the_row_beyond(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A 1,200,000-row trace was parsed whole and refused with advice the trace path refuses (--num-prompts,
    --model-kind steady) and the closed loop's unused '(32 clients)'; reading stops at the row past the limit (here
    lowered to 2 rows, so a 3-row trace is refused). An open loop's refusal names no clients either."""
    import parity.cli.serve_cmd as serve_cmd
    trace = tmp_path / "t.csv"
    trace.write_text("arrival_s,isl,osl\n0,100,10\n1,100,10\n2,100,10\n")
    monkeypatch.setattr(serve_cmd, "MAX_SIMULATED_REQUESTS", 2)
    code, output = _invoke(*SERVE, "--trace", str(trace))
    assert code == 2 and output.strip() == ("parity: error: the trace has more than 1,000,000 requests; the simulator "
                                            "runs at most 1,000,000: cut the trace")
    code, output = _invoke(*SERVE, "--request-rate", "100", "--num-prompts", "10000000")
    assert code == 2 and output.strip() == ("parity: error: the simulator replays every request, and 10,000,000 are "
                                            "more than it runs (1,000,000): give fewer (--num-prompts)")


def test_one_worker_of_one_chip_is_said_in_the_singular() -> None:
    """'1 aggregated worker(s) of 1 chips' (fuzz 21 4.4)."""
    code, output = _invoke("serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--tp", "1", "--model-kind",
                           "steady", "--format", "json")
    assert code == 0 and "; 1 aggregated worker of 1 chip; the engine holds back" in json.loads(output)["note"]


def test_a_trace_is_read_a_row_at_a_time_and_refused_at_its_first_bad_line(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A 900,000-row trace whose first row was bad was read whole (2.6 s, 464 MB) and named 'trace row 1'; rows are
    now checked as they are read, each refusal naming the file's line (a blank line counts): the bytes past the bad
    row (here not UTF-8, 16 kB on) are never read. A trace past the simulator's requests (the limit lowered to 2)
    is refused at its rows' count, before one is converted or the bad bytes reached."""
    import parity.cli.serve_cmd as serve_cmd
    trace = tmp_path / "t.csv"
    trace.write_bytes(b"arrival_s,isl,osl\n0,100,10\n\n-1,100,10\n" + b"1,100,10\n" * 2000 + b"2,\xff,10\n")
    code, output = _invoke(*SERVE, "--trace", str(trace))
    assert code == 2 and output.strip() == ("parity: error: t.csv line 4: trace request needs 0 <= arrival_s <= "
                                            "10,000,000 and 1 <= isl, osl <= 100,000,000 (beyond any context length); "
                                            "got -1, 100, 10")
    monkeypatch.setattr(serve_cmd, "MAX_SIMULATED_REQUESTS", 2)
    code, output = _invoke(*SERVE, "--trace", str(trace))
    assert code == 2 and output.strip() == ("parity: error: the trace has more than 1,000,000 requests; the simulator "
                                            "runs at most 1,000,000: cut the trace")


def test_a_trace_row_with_a_value_past_its_header_is_refused_and_spaced_names_are_read(tmp_path: Path) -> None:
    """'0,100,100,5' under 'arrival_s,isl,osl' ran with the 5 dropped without a word: refused, as a column past the
    header is (a trailing comma, an empty value, is none); 'arrival_s, isl, osl' was refused as lacking those
    columns: names are read without their surrounding spaces, as numbers are."""
    from parity.cli.csv_input import column_rows
    from parity.simulate import TraceRequest, trace_of
    trace = tmp_path / "t.csv"
    trace.write_text("arrival_s,isl,osl\n0,100,100,\n1,100,100,5\n")
    code, output = _invoke(*SERVE, "--trace", str(trace))
    assert code == 2 and output.strip() == ("parity: error: t.csv line 3: 4 values where the header names 3 "
                                            "(arrival_s, isl, osl); a value beyond them would be dropped "
                                            "without a word")
    trace.write_text("arrival_s, isl , osl\n2, 100, 50\n1,200 ,20\n")
    rows = list(column_rows(trace, ("arrival_s", "isl", "osl")))
    assert rows == [(2, ["2", " 100", " 50"]), (3, ["1", "200 ", "20"])]
    assert trace_of(rows, "t.csv") == (TraceRequest(arrival_s=1.0, isl=200, osl=20),
                                       TraceRequest(arrival_s=2.0, isl=100, osl=50))


def test_a_capped_or_traced_serve_record_gives_the_command_that_runs_it_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """serve_command was '' whenever --max-concurrency or --trace was given, with no reason: it is the line with its
    cap in place of --concurrency (which serve refuses beside it) and the trace by the path it was given in place of
    the lengths, clients and rate the trace sets; each runs again to the same record."""
    monkeypatch.chdir(tmp_path)
    Path("t.csv").write_text("arrival_s,isl,osl\n0,300,20\n0.01,200,10\n0.02,100,30\n")
    for options, line in (
            (["--request-rate", "50", "--max-concurrency", "2", "--num-prompts", "6", "--isl", "200", "--osl", "8"],
             "--isl 200 --osl 8 --tp 1 --max-concurrency 2 --request-rate 50.0 --client vllm --model-kind sim "
             "--num-prompts 6"),
            (["--trace", "t.csv", "--max-concurrency", "2"],
             "--trace t.csv --tp 1 --max-concurrency 2 --client vllm --model-kind sim")):
        code, output = _invoke("serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", *options, "--format", "json")
        record = json.loads(output)
        assert code == 0 and record["serve_command"] == f"parity serve --model llama-3.1-8b --system hgx-h100 {line}"
        code, again = _invoke(*record["serve_command"].split()[1:], "--format", "json")
        assert code == 0 and json.loads(again) == record


def test_notes_and_titles_say_one_in_the_singular_and_fitted_figures_to_three_places() -> None:
    """'one prefill step of 1 prompts', 'one decode step of 1 sequences', '1 prompt(s)'; 'arrival burstiness 0.574727'
    and 'decode workers sized for 775.831 clients per rank' (trtllm's fits) are said to three significant figures, as
    other notes are; '--ttft p99:1e400s' overflows, and was refused as not positive."""
    from parity.units import figure_text
    assert [figure_text(v) for v in (0.0633617, 0.574727, 2.93562, 1.0, 775.831, 1024.0)] == [
        "0.0634", "0.575", "2.94", "1", "776", "1,024"]
    code, output = _invoke("serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--phase", "prefill",
                           "--batch", "1", "--isl", "1024")
    assert code == 0 and output.splitlines()[0].strip() == "llama-3.1-8b on hgx-h100: one prefill step of 1 prompt"
    assert "prefill benchmark: 1 prompt of 1024 tokens per attention-DP rank" in " ".join(output.split())
    code, output = _invoke("serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--phase", "decode",
                           "--batch", "1", "--context", "1024", "--format", "json")
    assert code == 0 and json.loads(output)["note"].startswith(
        "KV cache bf16 (engine default); decode benchmark: 1 sequence per attention-DP rank (1 rank), 1024 KV tokens")
    code, output = _invoke("serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--engine", "trtllm",
                           "--model-kind", "steady", "--format", "json")
    assert code == 0 and "; arrival burstiness 0.575 (Kingman); " in json.loads(output)["note"]
    code, output = _invoke(*SERVE, "--ttft", "p99:1e400s")
    assert code == 2 and " ".join(output.split()).startswith(
        "parity: error: Invalid value for '--ttft': '1e400s' is not a finite duration: its number overflows to "
        "infinity (see '")


def test_one_request_and_one_sequence_are_singular() -> None:
    """`serve --request-rate 1 --num-prompts 1` titled '1 requests at 1/s' and noted 'simulated 1 requests'; trtllm at
    one client 'at most 1 sequences per rank' (regression round 25, 3)."""
    from parity.cli.serve_record import _load
    from parity.simulate.run import _requests

    assert (_load(1, 1.0, 1), _load(8, 1.0, 1000)) == ("1 request at 1/s", "1,000 requests at 1/s")
    assert (_requests(1), _requests(1000)) == ("1 request", "1,000 requests")


# a model one system cannot hold: serve's "does not fit" named `parity search --model deepseek-r1 --system hgx-h20`,
# which refuses too ("fits no worker of one hgx-h20: --chips 16 searches workers over 2 systems"); the search is of
# the weights serve priced, the checkpoint's where none were given (search would pick the chip's narrowest format),
# the MTP drafts serve ran (none without --mtp, where search drafts one on DeepSeek-R1) and the KV format it stored
# where the search's differs (bf16, the generic engine's default, where the H20's search prices fp8)
_UNFIT = [(("--system", "atlas-800-a2", "--engine", "sglang", "--tp", "8", "--moe-ep", "8", "--weights", "int8"),
           f"one request alone needs 31.8 GB more per chip (weights is the largest term), {_LONGEST}; `parity "
           "search --model "
           "deepseek-r1 --system "
           "atlas-800-a2 --engine sglang --weights int8 --mtp 0 --chips 16` lists the layouts that fit"),
          (("--system", "hgx-h20", "--tp", "8"),
           f"one request alone needs 2.4 GB more per chip (weights is the largest term), {_MEAN}; `parity search "
           "--model deepseek-r1 "
           "--system "
           "hgx-h20 --weights fp8_block --kv bf16 --mtp 0 --chips 16` lists the layouts that fit")]


# the checkpoint's fp8_block, serve's default, is emulated on the 910C: the hint named a search of it (report-only
# tester fixC 6); it names the int8 compare and fleet run there, and how serve runs that (its search finds layouts:
# the end-to-end tier runs it, a second each)
_UNFIT_EMULATED = (("--system", "atlas-800-a3", "--tp", "8", "--moe-ep", "8"),
                   f"one request alone needs 31.2 GB more per 64 GB die (weights is the largest term), {_MEAN}; "
                   "`parity search --model "
                   "deepseek-r1 "
                   "--system atlas-800-a3 --mtp 0` lists the layouts that fit in int8, which the chip runs natively, as "
                   "compare and fleet price it (serve --weights int8 runs it; the checkpoint's fp8_block, serve's "
                   "default, is emulated on the chip)")


def test_a_case_in_an_emulated_checkpoint_format_names_the_search_of_the_native_one() -> None:
    options, says = _UNFIT_EMULATED
    assert _invoke("serve", "--model", "deepseek-r1", *options, "--model-kind", "steady") == (
        2, f"parity: error: does not fit: {says}\n")


@pytest.mark.parametrize(("options", "says"), [*_UNFIT, pytest.param(*_UNFIT_EMULATED, marks=pytest.mark.e2e)])
def test_a_case_that_does_not_fit_names_a_search_that_finds_layouts(options: tuple[str, ...], says: str) -> None:
    """The --chips is the one search's own refusal names (compare.systems_to_hold), and that search finds layouts."""
    code, output = _invoke("serve", "--model", "deepseek-r1", *options, "--model-kind", "steady")
    assert (code, output) == (2, f"parity: error: does not fit: {says}\n")
    code, output = _invoke(*says.split("`")[1].split()[1:], "--refine", "0", "--format", "json")
    assert code == 0 and json.loads(output)["best"]["layout"], output


def test_a_table_read_leaves_no_file_open(tmp_path: Path) -> None:
    """predict under PYTHONWARNINGS=default warned 'csv_input.py:124: ResourceWarning: unclosed file': the text
    wrapper over the file was dropped open as its lines ended. The file is now closed however the read ends: read
    whole, abandoned after a row, or refused before the rows."""
    import gc
    import warnings

    from parity.cli.csv_input import column_rows, read_table
    from parity.errors import ParityError

    table = tmp_path / "t.csv"
    table.write_text("isl,osl\n1,2\n3,4\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        assert read_table(table, ("isl",)) == (["isl", "osl"], [{"isl": "1", "osl": "2"}, {"isl": "3", "osl": "4"}])
        assert list(column_rows(table, ("isl", "osl"))) == [(2, ["1", "2"]), (3, ["3", "4"])]
        rows = column_rows(table, ("isl", "osl"))
        assert next(rows) == (2, ["1", "2"])
        del rows
        with pytest.raises(ParityError, match="unknown column 'osl'"):
            next(column_rows(table, ("isl",)))
        with pytest.raises(ParityError, match="too many"):
            list(column_rows(table, ("isl", "osl"), max_rows=1, too_many="too many"))
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_the_client_note_says_the_count_num_prompts_sent() -> None:
    """`--num-prompts 64` at 32 clients ran 64 requests, but the note said the client profile's count: 'simulated 64
    requests from client profile aiconfigurator (10 prompts a client, ...)', and with --client vllm '(1,000 prompts,
    ...)' (report-only tester fuzzCA 2). It says the count sent, and the profile's it replaces."""
    from parity.simulate.clients import client_profile

    assert client_profile("vllm").describe(num_prompts=64) == (
        "64 prompts as asked, in place of its 1,000 prompts, fixed lengths, first wave scored")
    assert client_profile("aiconfigurator").describe(num_prompts=64) == (
        "64 prompts as asked, in place of its 10 prompts a client, lengths uniform in [0.8, 1] x nominal, first wave "
        "scored, its generator's engine limits on trtllm, vllm, front end dynamo")
    assert client_profile("vllm").describe() == "1,000 prompts, fixed lengths, first wave scored"
    code, output = _invoke("serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--concurrency", "2",
                           "--num-prompts", "3", "--client", "vllm", "--isl", "64", "--osl", "8")
    assert code == 0, output
    assert ("simulated 3 requests from client profile vllm (3 prompts as asked, in place of its 1,000 prompts, fixed "
            "lengths, first wave scored; ") in " ".join(output.split())


def test_fewer_prompts_than_clients_in_a_closed_loop_is_refused() -> None:
    """`--num-prompts 8 --concurrency 32` ran 8 requests (decode batch 7.5) under a title and JSON of 32 clients,
    whose memory per chip counted 32 clients' KV: a closed loop of 8 requests has 8 in flight at most, so the
    other 24 clients never send (report-only tester fuzzCA 2). Refused, naming the run it is; an open loop's
    --num-prompts below --max-concurrency is refused as capping nothing already."""
    args = ["serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--isl", "64", "--osl", "8"]
    code, output = _invoke(*args, "--num-prompts", "8")
    assert (code, output.splitlines()[-1]) == (2, (
        "parity: error: --num-prompts 8 is fewer than the 32 clients (--concurrency 32, serve's default): a closed "
        "loop of 8 requests has at most 8 in flight and 24 clients never send; give --concurrency 8 for that run, or "
        "32 prompts or more"))
    code, output = _invoke(*args, "--num-prompts", "3", "--concurrency", "4")
    assert (code, output.splitlines()[-1]) == (2, (
        "parity: error: --num-prompts 3 is fewer than the 4 clients (--concurrency 4): a closed loop of 3 requests "
        "has at most 3 in flight and 1 client never sends; give --concurrency 3 for that run, or 4 prompts or more"))
