"""serve --mode disagg sets the decode worker's whole layout: --decode-tp, --decode-pp, --decode-attn-dp, --decode-moe-tp
and --decode-moe-ep, as a cases table's decode_* columns do (--pp applied to both workers, so a search's tp1-pp2
prefill with a tp2-pp4 decode worker could not be run)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from parity.cli import cli


def _json(*args: str) -> dict:
    result = CliRunner().invoke(cli, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_decode_pp_sets_the_decode_worker_alone() -> None:
    """--pp 2 --decode-tp 2 --decode-pp 4: prefill workers of 2 chips, decode workers of 8 (without --decode-pp
    the decode worker took --pp 2: 4 chips)."""
    base = ["serve", "--model", "llama-3.1-70b", "--system", "hgx-h100", "--mode", "disagg", "--tp", "1", "--pp", "2",
            "--decode-tp", "2", "--weights", "fp8", "--prefill-workers", "1", "--decode-workers", "1", "--model-kind", "steady"]
    assert _json(*base, "--decode-pp", "4")["chips"] == 2 + 8
    assert _json(*base)["chips"] == 2 + 4
    result = CliRunner().invoke(cli, ["serve", "--model", "llama-3.1-70b", "--system", "hgx-h100", "--decode-pp", "4"])
    assert result.exit_code == 2 and "--decode-pp sets the disaggregated workers: add --mode disagg" in result.output


def test_decode_moe_ep_splits_the_decode_workers_experts_alone() -> None:
    """Qwen3-30B-A3B, tp1 prefill (experts on one rank) and a tp1-dp4 decode worker: --decode-moe-ep 4 spreads the
    decode worker's experts over its 4 ranks, --decode-moe-tp 4 cuts each expert in 4 instead: the same 1 + 4 chips,
    priced differently (before, the decode worker took --moe-ep or --moe-tp of the prefill worker)."""
    base = ["serve", "--model", "qwen3-30b-a3b", "--system", "hgx-h100", "--weights", "fp8", "--mode", "disagg",
            "--tp", "1", "--decode-tp", "1", "--decode-attn-dp", "4", "--prefill-workers", "1", "--decode-workers",
            "1", "--concurrency", "256", "--model-kind", "steady"]
    by_ep, by_tp = _json(*base, "--decode-moe-ep", "4"), _json(*base, "--decode-moe-tp", "4")
    assert by_ep["chips"] == by_tp["chips"] == 1 + 4
    assert by_ep["tpot_s"] != by_tp["tpot_s"]
