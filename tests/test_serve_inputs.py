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
    ("0,100\n", "trace row 1: arrival_s, isl and osl must be numbers, got '0', '100', nothing"),
    ("nan,100,100\n", "trace row 1: arrival_s must be a finite number and isl, osl whole numbers, got nan, 100, 100"),
    ("1e300,100,100\n", "trace row 1: trace request needs 0 <= arrival_s <= 10,000,000"),
    ("0,100,100000000\n", "(the trace's longest prompt is 100 tokens, its longest output 100,000,000)"),
    ("", "needs a header with arrival_s, isl, osl"),
])
def test_a_bad_trace_is_refused_in_one_line_and_writes_no_timeline(rows: str, says: str, tmp_path: Path) -> None:
    """A short row crashed (TypeError), a NaN arrival ran for minutes, an arrival at 1e300 s divided by zero and
    left its timeline written, a 100M-token output simulated for minutes where --osl is refused at once."""
    trace, timeline = tmp_path / "t.csv", tmp_path / "tl.csv"
    trace.write_text("arrival_s,isl,osl\n" + rows if rows else "")
    code, output = _invoke(*SERVE, "--trace", str(trace), "--timeline", str(timeline))
    assert code == 2 and says in output and len(output.strip().splitlines()) == 1
    assert not timeline.exists()


def test_a_trace_is_checked_at_its_longest_request(tmp_path: Path) -> None:
    """A 200,000-token prompt among short ones runs past Llama-3.1-70B's 131,072-token window: flagged as --isl
    would be (the case took the default 1,024 + 1,024 tokens); --isl beside --trace is refused."""
    trace = tmp_path / "t.csv"
    trace.write_text("arrival_s,isl,osl\n0,200000,100\n1,100,100\n")
    code, output = _invoke(*SERVE, "--trace", str(trace), "--format", "json")
    assert code == 0, output
    assert "sequences of 200,100 tokens past llama-3.1-70b's context window" in json.loads(output)["flags"]
    code, output = _invoke(*SERVE, "--trace", str(trace), "--isl", "5")
    assert code == 2 and "--isl with --trace: the trace gives each request's arrival and lengths" in output


def test_one_token_outputs_print_no_nan() -> None:
    """With one output token there is no decode step: TPOT, ITL and tokens/s per user are '-', never 'nan'."""
    code, output = _invoke(*SERVE, "--isl", "1", "--osl", "1")
    assert code == 0 and "nan" not in output
    assert "TPOT mean / p50 / p90 / p99 [ms]" in output and "- / - / - / -" in output


def test_a_length_table_with_nan_or_a_short_row_is_refused(tmp_path: Path) -> None:
    lengths = tmp_path / "l.csv"
    for rows, says in (("nan,5\n", "l.csv row 1: isl and osl must be token counts of 1 to 100,000,000, got nan, 5"),
                       ("5\n", "l.csv row 1: isl and osl must be numbers, got '5', None")):
        lengths.write_text("isl,osl\n" + rows)
        code, output = _invoke("serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--scenario", "offline",
                               "--lengths", str(lengths))
        assert code == 2 and says in output


def test_a_fleet_smaller_than_one_worker_serves_nothing_and_says_so() -> None:
    """One H20 cannot hold DeepSeek-R1 (its worker takes 29.0 chips over two systems): it served 6.7e-5 T tokens a
    day, in proportion; now none, with the reason. A budget that powers no system says so too."""
    code, output = _invoke("fleet", "--model", "deepseek-r1", "--units", "1", "--chips", "nvidia-h20", "--format",
                           "json")
    (plan,) = json.loads(output)
    assert code == 0 and plan["served_tokens_per_day"] == 0 and "1 chip holds no worker of 29" in plan["note"]
    code, output = _invoke("fleet", "--model", "llama-3.1-8b", "--power-mw", "0.001", "--chips", "nvidia-h20",
                           "--format", "json")
    (plan,) = json.loads(output)
    assert plan["chips"] == 0 and "the power budget runs no whole hgx-h20 (4.64 kW)" in plan["note"]


def test_a_chip_that_cannot_serve_shows_dashes_not_inf() -> None:
    code, output = _invoke("fleet", "--model", "deepseek-r1", "--demand", "1e12tokens/day", "--tpot", "1ms",
                           "--chips", "nvidia-h20")
    assert code == 0 and "inf" not in output and "the TPOT target 1 ms binds" in " ".join(output.split())


def test_a_timeline_is_a_csv_file_of_its_own(tmp_path: Path) -> None:
    """--timeline t.json wrote CSV under a JSON name, and --timeline x.csv --out x.csv overwrote the timeline."""
    code, output = _invoke(*SERVE, "--timeline", str(tmp_path / "t.json"))
    assert code == 2 and "--timeline t.json: the timeline is a CSV table; name the file .csv" in output
    same = str(tmp_path / "x.csv")
    code, output = _invoke(*SERVE, "--timeline", same, "--out", same)
    assert code == 2 and "--timeline and --out both name x.csv" in output
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
    code, output = _invoke(*SERVE, "--ttft", "none", "--format", "json")
    assert code == 0, output


def test_mtp_on_a_model_without_mtp_layers_is_said_not_applied() -> None:
    code, output = _invoke("compare", "hgx-h100", "--model", "llama-3.1-8b", "--mtp", "1", "--processes", "1")
    assert code == 0 and "--mtp 1 does not apply: llama-3.1-8b has no MTP layers." in " ".join(output.split())
    code, output = _invoke("fleet", "--model", "llama-3.1-8b", "--mtp", "1", "--chips", "nvidia-h100-sxm",
                           "--demand", "1e12tokens/day")
    assert code == 0 and "--mtp 1 does not apply: llama-3.1-8b has no MTP layers." in " ".join(output.split())


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
    assert code == 2 and "is the cases table itself" in output


def test_a_power_budget_under_the_units_says_it_binds() -> None:
    """10,000 H100s and 5 MW: the budget powers 3,920 (whole nodes at 10.2 kW); the title said 10,000 chips and
    nothing said why 3,920 were used."""
    code, output = _invoke("fleet", "--model", "llama-3.1-8b", "--units", "10000", "--power-mw", "5", "--chips",
                           "nvidia-h100-sxm", "--format", "json")
    (plan,) = json.loads(output)
    assert code == 0 and plan["chips"] == 3920 and "the power budget runs 3,920 of the 10,000 chips" in plan["note"]
