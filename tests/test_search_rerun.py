"""`search` states the formats it priced and the `parity serve` line that runs its best again (it used an FP8 KV
cache where the chip has FP8 while serve defaults to the engine's bf16: Llama-3.1-70B on an HGX H100, agg tp2-pp2
at 512 clients, was 2,798 tok/s/chip in search and 2,167 in serve without --kv fp8). Disaggregated bests need
serve's --decode-pp (and --decode-moe-ep): the search pairs a tp1-pp2 prefill worker with a tp2-pp4 decode one."""

from __future__ import annotations

import json
import shlex

import pytest
from click.testing import CliRunner

from parity.cli import cli


def _json(*args: str) -> dict:
    result = CliRunner().invoke(cli, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _search(model: str, mode: str, *more: str) -> dict:
    return _json("search", "--model", model, "--system", "hgx-h100", "--mode", mode, "--refine", "0", *more)


def _rerun(found: dict) -> dict:
    words = shlex.split(found["best_serve_command"])
    assert words[:2] == ["parity", "serve"]
    return _json(*words[1:])


def test_search_states_its_formats_and_serve_reproduces_its_best_exactly() -> None:
    found = _search("llama-3.1-70b", "agg")
    assert (found["weights"], found["kv_cache"]) == ("fp8", "fp8")
    assert "--weights fp8 --kv fp8" in found["best_serve_command"]
    best, served = found["best"], _rerun(found)
    assert (best["layout"], best["concurrency"]) == ("tp2-pp2", 512)
    assert best["tokens_per_s_per_chip"] == pytest.approx(2800.20, abs=0.01)
    for search_key, serve_key in (("ttft_s", "ttft_s"), ("tpot_s", "tpot_s"),
                                  ("tokens_per_s_per_chip", "output_tokens_per_s_per_chip"), ("chips", "chips")):
        assert served[serve_key] == pytest.approx(best[search_key], rel=1e-9)
    table = CliRunner().invoke(cli, ["search", "--model", "llama-3.1-70b", "--system", "hgx-h100", "--mode", "agg",
                                     "--refine", "0"], env={"COLUMNS": "200"}).output
    assert "llama-3.1-70b on hgx-h100 (fp8 weights, fp8 KV)" in table
    assert "to run it: parity serve --model llama-3.1-70b" in " ".join(table.split())


@pytest.mark.parametrize(("model", "layouts", "decode_options"), [
    ("llama-3.1-70b", ("tp1-pp2", "tp2-pp4"), "--decode-tp 2 --decode-pp 4"),
    ("qwen3-30b-a3b", ("tp1", "tp1-pp2-dp4-ep4"), "--decode-pp 2 --decode-attn-dp 4 --decode-moe-ep 4"),
])
def test_serve_reproduces_a_disaggregated_best_on_whole_workers(model: str, layouts: tuple[str, str],
                                                                decode_options: str) -> None:
    """The search prices a share of a prefill worker per decode worker (2.81 for Llama-3.1-70B, 2.42 for
    Qwen3-30B-A3B); serve runs whole ones (3 per decode worker), so it counts more chips (14 for 13.6, 11 for 10.4)
    and fewer tok/s/chip. The decode worker's TPOT and the tokens/s of a worker pair agree within 5% (measured
    3.3% and 1.6% for Llama, 2.1% and 1.4% for Qwen: serve's decode batch settles a little under the clients)."""
    found = _search(model, "disagg")
    best, served = found["best"], _rerun(found)
    assert (best["layout"], best["decode_layout"]) == layouts and decode_options in found["best_serve_command"]
    assert "--prefill-workers 3 --decode-workers 1" in found["best_serve_command"]
    assert best["prefill_workers_per_decode_worker"] < 3 <= best["prefill_workers_per_decode_worker"] + 1
    assert served["chips"] > best["chips"]
    assert served["tpot_s"] == pytest.approx(best["tpot_s"], rel=0.05)
    assert served["output_tokens_per_s_per_chip"] * served["chips"] == pytest.approx(
        best["tokens_per_s_per_chip"] * best["chips"], rel=0.05)
    # what serve says of the line is stated beside it (its TTFT need not meet the search's: serve queues prompts at
    # the prefill workers of the whole deployment, the search at a rate-matched share)
    prices = found["best_serve_prices"]
    assert (prices["ttft_s"], prices["tokens_per_s_per_chip"]) == (served["ttft_s"],
                                                                   served["output_tokens_per_s_per_chip"])


def test_fleet_and_compare_state_the_kv_format_they_priced() -> None:
    """fleet's JSON carried the weights' format only; both captions said 'the narrowest each chip runs natively'
    without naming the FP8 KV cache that serve does not default to, and then only '--kv fp8', where serve's steady
    model also needs --random-range-ratio 1 (Llama-8B on an H200 at 1,024 clients: 22,260 tok/s/chip without it,
    compare's 21,220 with it) and the weights shown."""
    (plan,) = _json("fleet", "--model", "llama-3.1-8b", "--demand", "1e9tokens/day", "--chips", "nvidia-h100-sxm")
    assert (plan["weights"], plan["kv_cache"]) == ("fp8", "fp8")
    for command in (["fleet", "--model", "llama-3.1-8b", "--demand", "1e9tokens/day", "--chips", "nvidia-h100-sxm"],
                    ["compare", "hgx-h100", "--model", "llama-3.1-8b"]):
        text = " ".join(CliRunner().invoke(cli, command, env={"COLUMNS": "200"}).output.split())
        assert ("an FP8 KV cache where the chip has FP8 (bf16 otherwise); the steady-state figures are at fixed prompt "
                "and output lengths: `parity serve --model-kind steady` runs the same configuration with --weights "
                "(the format shown), --kv fp8 "
                "(bf16 on a chip without FP8) and --random-range-ratio 1") in text
        # an aggregated configuration's figures (the two here), which a disaggregated one's serve line does not give
        assert "and --random-range-ratio 1, and gives the same figures" in text


def test_machine_outputs_mark_the_best_and_its_load() -> None:
    """search's CSV had no marker for the best row (only the JSON's `best` said which), and fleet's JSON no load
    for its configuration; both now carry them."""
    import csv
    import io

    text = CliRunner().invoke(cli, ["search", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--chips", "1",
                                    "--refine", "0", "--format", "csv"]).stdout
    marked = [r for r in csv.DictReader(io.StringIO(text)) if r["is_best"] == "True"]
    found = _json("search", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--chips", "1", "--refine", "0")
    assert len(marked) == 1 and float(marked[0]["concurrency"]) == found["best"]["concurrency"]
    (plan,) = _json("fleet", "--model", "llama-3.1-70b", "--demand", "1M tokens/s", "--chips", "nvidia-h200-sxm")
    assert (plan["configuration"], plan["clients_per_worker"]) == ("agg tp1-pp4", 512.0)


def test_a_disaggregated_best_says_why_serve_prices_its_line_otherwise() -> None:
    """DeepSeek-R1 on an HGX H200: the search's best (0.822 prefill workers per decode worker at 70% utilisation,
    TTFT 575 ms) runs on 1 + 1 whole workers, which serve prices at TTFT 1.71 s. The caption blamed the rounding to
    whole workers, which leaves serve more prefill capacity (59% busy), not less: it now names what each steady
    model puts in the prompts' queue, and the TPOT serve gives (40.1 ms for 40.5 ms) with its reason."""
    found = _json("search", "--model", "deepseek-r1", "--system", "hgx-h200", "--refine", "0")
    assert found["best_serve_note"] == (
        "on whole workers: 1 prefill per 1 decode for the search's 0.822 per decode worker; serve's steady model "
        "prices it at TTFT 1.71 s, 3,257 tok/s/chip, where the search gives 575 ms, 3,627: the two steady models "
        "price the prompts' queue differently, the search a step of 8,192 prompt tokens a rank and Kingman's wait at "
        "the rate-matched 70% utilisation, serve the prompt groups its clients send, Kingman's wait at its own "
        "utilisation (57%), the closed loop's first wave (every client's prompt sent at once) and any clients queued "
        "for a decode slot; TPOT 40.1 ms for the search's 40.5 ms: of 272 clients a rank, 262.3 decode in serve and "
        "268.0 in the search, the rest waiting for their first token")
    assert round(found["best_serve_prices"]["ttft_s"], 2) == 1.71
    table = " ".join(CliRunner().invoke(cli, ["search", "--model", "deepseek-r1", "--system", "hgx-h200", "--refine",
                                              "0"], env={"COLUMNS": "200"}).output.split())
    assert f"({found['best_serve_note']})" in table


def test_the_serve_note_names_a_tpot_gap_and_its_cause() -> None:
    """Llama-3.1-70B on an HGX H100 under vLLM, 8,192 in / 256 out: the search's decode worker runs 340.7 sequences
    (TPOT 36.5 ms), which 367 clients keep decoding through its 718 ms TTFT (its serve line gave 341 clients, as if
    none were ever in its prompt); serve's longer TTFT (1.16 s) holds more of them there, so its decode batch is 311.5
    and its TPOT 34.8 ms. The note said nothing of it."""
    note = _json("search", "--model", "llama-3.1-70b", "--system", "hgx-h100", "--engine", "vllm", "--isl", "8192",
                 "--osl", "256", "--refine", "0")["best_serve_note"]
    assert note.endswith("; TPOT 34.8 ms for the search's 36.5 ms: of 367 clients a rank, 311.5 decode in serve and "
                         "340.7 in the search, the rest waiting for their first token")


def test_a_refined_search_prints_the_line_its_sim_columns_reproduce() -> None:
    """search --refine's sim columns draw the client profile's lengths, while its serve line prices the steady
    columns' fixed ones (--random-range-ratio 1): the note said the sim columns ran 'as parity serve --sim', and the
    line with --sim for --model-kind steady kept the fixed lengths. The best's own sim line is printed beside it, and
    reproduces its sim figures exactly (Llama-8B on one H100: 591.8 ms TTFT, 17,631 tok/s/chip; a KV-bound run, 593.9 ms
    and 17,527 when a decode step could overcommit the KV cache by a token a sequence)."""
    args = ("search", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--chips", "1", "--refine", "1")
    found = _json(*args)
    line, best = found["best_sim_serve_command"], found["best"]
    assert "--random-range-ratio" not in line and line.endswith("--concurrency 582 --model-kind sim")
    assert "--random-range-ratio 1 --model-kind steady" in found["best_serve_command"]
    served = _json(*shlex.split(line)[1:])
    assert (served["ttft_s"], served["tpot_s"], served["output_tokens_per_s_per_chip"]) == (
        best["sim_ttft_s"], best["sim_tpot_s"], best["sim_tokens_per_s_per_chip"])
    assert best["sim_ttft_s"] == pytest.approx(0.591826, rel=1e-5)
    text = " ".join(CliRunner().invoke(cli, list(args), env={"COLUMNS": "200"}).output.split())
    assert ("the engine's profile for the chip's software stack and the client profile's lengths, where the "
            f"steady-state columns' are fixed; the best's sim figures: {line}; '-': not refined") in text
