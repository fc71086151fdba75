"""`search --kv` sets the KV-cache format the search prices, as serve's --kv does; without it the search prices the
best the chip offers (FP8 where it has it, as compare and fleet run it) and says so where serve's default, the
engine's, differs. serve's refusal hint suggests a search with the user's --kv, lengths and MTP drafts (it dropped
--kv: report-only tester, fixSR 2)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from parity.cli import cli

CASE = ["search", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--weights", "bf16", "--isl", "65536", "--mode",
        "agg", "--refine", "0", "--chips", "1", "--tpot", "none"]


def _search(*more: str) -> dict:
    result = CliRunner().invoke(cli, [*CASE, *more, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_bf16_kv_cache_holds_fewer_clients_than_fp8() -> None:
    """Llama-3.1-8B in bf16 on one H100 at 65,536 + 1,024 tokens: its KV cache holds 5 clients in bf16, 11 in fp8
    (the default, which serve does not store unless told: its engine default is bf16 for bf16 weights)."""
    bf16, fp8 = _search("--kv", "bf16"), _search("--kv", "fp8")
    assert [(d["kv_cache"], max(r["concurrency"] for r in d["frontier"])) for d in (bf16, fp8)] == [
        ("bf16", 5), ("fp8", 11)]
    assert "--kv bf16 --isl 65536" in bf16["best_serve_command"]
    note = ("KV cache fp8, the best the chip offers, as compare and fleet run it, where serve stores the engine's "
            "default, bf16 here (the serve line says --kv fp8; --kv sets the search's)")
    assert not any(a.startswith("KV cache") for a in fp8["assumptions"])  # told: nothing to say
    table = " ".join(CliRunner().invoke(cli, CASE, env={"COLUMNS": "200"}).output.split())
    assert "llama-3.1-8b on hgx-h100 (bf16 weights, fp8 KV)" in table and note in table
    assert " 11 1 " in table and " 12 1 " not in table  # the default's largest load: fp8's 11 clients


def test_serves_refusal_suggests_a_search_with_its_kv_lengths_and_drafts() -> None:
    """The hint dropped --kv bf16, so its search priced fp8 and listed layouts that serve's bf16 cache does not fit;
    it also searched DeepSeek-R1 with one MTP draft (search's default) where serve ran none."""
    out = CliRunner().invoke(cli, ["serve", "--model", "llama-3.1-70b", "--system", "hgx-h100", "--weights", "bf16",
                                   "--isl", "32768", "--osl", "2048", "--kv", "bf16"])
    assert out.exit_code == 2 and out.output.endswith(
        "`parity search --model llama-3.1-70b --system hgx-h100 --weights bf16 --kv bf16 --isl 32768 --osl 2048` lists "
        "the layouts that fit\n")
    out = CliRunner().invoke(cli, ["serve", "--model", "deepseek-r1", "--system", "hgx-h100"])
    assert out.output.endswith("`parity search --model deepseek-r1 --system hgx-h100 --weights fp8_block --kv bf16 "
                               "--mtp 0 --chips 16` lists the layouts that fit\n")


def test_serves_refusal_suggests_the_kv_format_serve_ran_by_default() -> None:
    """serve without --kv stores the engine's default (bf16 on the generic engine), where the hinted search priced
    fp8, whose layouts hold twice the sequences (report-only tester fuzzAH 3): the hint carries --kv bf16, and with
    --kv fp8 given, that; 2.5 and 2.4 GB short for one request."""
    hints = [CliRunner().invoke(cli, ["serve", "--model", "deepseek-r1", "--system", "hgx-h20", "--tp", "8",
                                      "--concurrency", "4", "--mtp", "0", *kv]).stderr for kv in ([], ["--kv", "fp8"])]
    assert hints == [f"parity: error: does not fit: one request alone needs {short} GB more per chip (weights is the "
                     "largest term), at the longest requests (1,024 prompt + 1,024 output tokens); "
                     f"`parity search --model deepseek-r1 --system hgx-h20 --weights fp8_block --kv {kv} --mtp 0 "
                     "--chips 16` lists the layouts that fit\n" for short, kv in (("2.5", "bf16"), ("2.4", "fp8"))]


@pytest.mark.e2e  # a search (1 s)
def test_a_searched_kv_format_without_a_unit_is_flagged() -> None:
    """search --kv nvfp4 on an H100 gave its best no flag where serve of its serve line flags the KV cache (its
    configuration flags were raised without the KV format: report-only tester fuzzAH 1)."""
    result = CliRunner().invoke(cli, ["search", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--kv", "nvfp4",
                                      "--refine", "0", "--chips", "1", "--format", "json"])
    assert json.loads(result.stdout)["best"]["flags"][0].startswith(
        "KV cache nvfp4 without a unit: nvidia-h100-sxm has no NVFP4 unit")
