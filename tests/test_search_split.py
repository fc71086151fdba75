"""Disaggregated serving over two kinds of system under a chip budget of each (`parity search
--prefill-system`): the fleet's rate is the lesser side's, workers fit the budgets, more budget never hurts."""

import numpy as np
import pytest
from click.testing import CliRunner

from parity import catalog
from parity.cli import cli
from parity.search import best_precision
from parity.search_split import fleet_output_rate, search_split


def test_fleet_rate_is_the_lesser_side() -> None:
    """2 decode workers of 1,000 tok/s offer 2,000 tok/s; 3 prefill workers of 0.5 prompts/s at 80% utilisation
    feed 3 x 0.5 x 0.8 = 1.2 prompts/s of 1,000 tokens = 1,200 tok/s: prefill limits the fleet to 1,200.
    With 6 prefill workers they feed 2,400 and decode limits it to 2,000."""
    rate, prefill_bound = fleet_output_rate(np.array(2.0), np.array(1000.0), np.array(3.0), np.array(0.5), 1000.0, 0.8)
    assert float(rate) == pytest.approx(1200.0) and bool(prefill_bound)
    rate, prefill_bound = fleet_output_rate(np.array(2.0), np.array(1000.0), np.array(6.0), np.array(0.5), 1000.0, 0.8)
    assert float(rate) == pytest.approx(2000.0) and not bool(prefill_bound)


def _split(prefill_budget: int, decode_budget: int):
    model, prefill, decode = catalog.model("deepseek-r1"), catalog.system("hgx-h20"), catalog.system("hgx-h200")
    return search_split(model, prefill, decode, catalog.engine("generic"), catalog.calibration(prefill.chip),
                        catalog.calibration(decode.chip), best_precision(model, prefill.chip, None),
                        best_precision(model, decode.chip, None), 2000, 1000, prefill_budget, decode_budget, 0.05,
                        None, top=3)


def test_h20_prefill_h200_decode_split_stays_in_budget_and_grows_with_it() -> None:
    """DeepSeek-R1 FP8, 2,000 in / 1,000 out, TPOT 50 ms: every fleet keeps to its budgets, meets the TPOT,
    and its rate is its decode workers' or its prefill workers' capacity. Doubling the prefill budget of a
    prefill-limited fleet raises the best rate; it never lowers it."""
    small, large = _split(32, 16), _split(64, 16)
    for split in (*small.best, *large.best):
        assert split.prefill_chips <= (64 if split in large.best else 32) and split.decode_chips <= 16
        assert split.tpot_s <= 0.05 and split.prefill_workers >= 1 and split.decode_workers >= 1
    best = small.best[0]
    assert best.limited_by == "prefill"
    assert large.best[0].output_tokens_per_s > best.output_tokens_per_s
    assert large.best[0].output_tokens_per_s <= 2 * best.output_tokens_per_s * (1 + 1e-9)


def test_the_best_splits_are_distinct_fleets() -> None:
    """Llama-3.1-70B prefilled on 16 H20s, decoded on 8 H100s: loads past a decode layout's KV capacity run at
    that capacity, so the grid's larger loads gave the same fleet again (ten identical rows); each fleet is listed
    once, the best first (tp1 prefill, 3 x tp2 decode at 187 clients: 18,485 tok/s, limited by its 16 prefill
    workers at the generic engine's 70% utilisation; 21,126 at the 80% the search once assumed, 0.7 / 0.8 of it)."""
    model, prefill, decode = catalog.model("llama-3.1-70b"), catalog.system("hgx-h20"), catalog.system("hgx-h100")
    found = search_split(model, prefill, decode, catalog.engine("generic"), catalog.calibration(prefill.chip),
                         catalog.calibration(decode.chip), best_precision(model, prefill.chip),
                         best_precision(model, decode.chip), 1024, 1024, 16, 8, 0.05)
    assert len(found.best) == len(set(found.best)) == 10
    first = found.best[0]
    assert (str(first.decode_layout), first.decode_workers, first.clients_per_decode_worker) == ("tp2", 3, 187.0)
    assert round(first.output_tokens_per_s) == 18_485 and first.limited_by == "prefill"


def test_cli_split_needs_both_budgets() -> None:
    result = CliRunner().invoke(cli, ["search", "--model", "deepseek-r1", "--system", "hgx-h200", "--prefill-system",
                                      "hgx-h20", "--prefill-chips", "32"])
    assert result.exit_code == 2 and "go together" in result.output
    result = CliRunner().invoke(cli, ["search", "--model", "deepseek-r1", "--system", "hgx-h200", "--prefill-system",
                                      "hgx-h20", "--prefill-chips", "32", "--decode-chips", "16", "--isl", "2000",
                                      "--osl", "1000", "--format", "json"])
    assert result.exit_code == 0, result.output
    import json
    data = json.loads(result.output)
    assert data["prefill_system"] == "hgx-h20" and data["best"][0]["prefill_chips"] <= 32
    # the decode workers draft one MTP token, as compare runs DeepSeek-R1: the prefill-bound fleet delivers the
    # same 27,402 tok/s either way (prefill workers at the engine's 70%), its decode workers at 25.2 ms TPOT with the
    # draft and 47.3 ms without
    assert data["mtp_tokens"] == 1 and "MTP 1 draft tokens, 0.92 accepted a step" in data["assumptions"][0]
    off = CliRunner().invoke(cli, ["search", "--model", "deepseek-r1", "--system", "hgx-h200", "--prefill-system",
                                   "hgx-h20", "--prefill-chips", "32", "--decode-chips", "16", "--isl", "2000",
                                   "--osl", "1000", "--mtp", "0", "--format", "json"])
    assert off.exit_code == 0, off.output
    without = json.loads(off.output)
    assert without["mtp_tokens"] == 0
    assert [round(d["best"][0]["output_tokens_per_s"]) for d in (data, without)] == [27_402, 27_402]
    assert [round(d["best"][0]["tpot_s"] * 1e3, 1) for d in (data, without)] == [25.2, 47.3]
