"""Disaggregated serving over two kinds of system under a chip budget of each (`parity search
--prefill-system`): workers sized by the lesser side's rate, fit the budgets, more budget never hurts, and each
fleet's figures are serve's for the same deployment (one closed loop: Little's law holds)."""

import json
import shlex

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


@pytest.mark.e2e  # split searches at three budgets (1.7 s): the end-to-end tier keeps the default run under a minute
def test_h20_prefill_h200_decode_split_stays_in_budget_and_grows_with_it() -> None:
    """DeepSeek-R1 FP8, 2,000 in / 1,000 out, TPOT 50 ms: every fleet keeps to its budgets and meets the TPOT.
    Doubling the prefill budget of a prefill-limited fleet raises the best rate (27,143 -> 52,082 tok/s, where the 16
    decode chips now limit it; 26,899 -> 54,174 before EP x ETP decode layouts gathered over their slices); it never
    lowers it."""
    small, large = _split(32, 16), _split(64, 16)
    for split in (*small.best, *large.best):
        assert split.prefill_chips <= (64 if split in large.best else 32) and split.decode_chips <= 16
        assert split.tpot_s <= 0.05 and split.prefill_workers >= 1 and split.decode_workers >= 1
    best = small.best[0]
    assert best.limited_by == "prefill"
    assert [round(s.best[0].output_tokens_per_s) for s in (small, large)] == [27_143, 52_082]


def test_the_best_splits_are_distinct_fleets() -> None:
    """Llama-3.1-70B prefilled on 16 H20s, decoded on 8 H100s: loads past a decode layout's KV capacity run at
    that capacity, so the grid's larger loads gave the same fleet again (ten identical rows); each fleet is listed
    once, the best first (16 x tp1 prefill, 2 x tp1-pp4 decode at 384 clients each: 18,064 tok/s, sized by its 16
    prefill workers at the generic engine's 70% utilisation)."""
    model, prefill, decode = catalog.model("llama-3.1-70b"), catalog.system("hgx-h20"), catalog.system("hgx-h100")
    found = search_split(model, prefill, decode, catalog.engine("generic"), catalog.calibration(prefill.chip),
                         catalog.calibration(decode.chip), best_precision(model, prefill.chip),
                         best_precision(model, decode.chip), 1024, 1024, 16, 8, 0.05)
    assert len(found.best) == len(set(found.best)) == 10
    first = found.best[0]
    assert (str(first.prefill_layout), first.prefill_workers) == ("tp1", 16)
    assert (str(first.decode_layout), first.decode_workers, first.clients_per_decode_worker) == ("tp1-pp4", 2, 384.0)
    assert round(first.output_tokens_per_s) == 18_064 and first.limited_by == "prefill"


@pytest.mark.e2e  # three CLI searches (2.5 s): the end-to-end tier keeps the default run under a minute
def test_cli_split_needs_both_budgets() -> None:
    result = CliRunner().invoke(cli, ["search", "--model", "deepseek-r1", "--system", "hgx-h200", "--prefill-system",
                                      "hgx-h20", "--prefill-chips", "32"])
    assert result.exit_code == 2 and "go together" in result.output
    result = CliRunner().invoke(cli, ["search", "--model", "deepseek-r1", "--system", "hgx-h200", "--prefill-system",
                                      "hgx-h20", "--prefill-chips", "32", "--decode-chips", "16", "--isl", "2000",
                                      "--osl", "1000", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["prefill_system"] == "hgx-h20" and data["best"][0]["prefill_chips"] <= 32
    assert "chips_text" not in data["best"][0]  # the table's shared cell is not a field
    # the decode workers draft one MTP token, as compare runs DeepSeek-R1: the prefill-bound fleet delivers about the
    # same either way (prefill workers at the engine's 70%: 27,152 and 27,143 tok/s on the layouts each picks), its
    # decode workers at 22.5 ms TPOT with the draft (2 x tp8-ep2-etp4) and 34.7 ms without (2 x tp4-dp2-ep4-etp2;
    # 26,899 and 24.1 ms on 1 x tp1-dp16-ep2-etp8 before EP x ETP layouts gathered over their slices and crossed
    # scale-out as their ranks do); 27,133 and 25.6 ms with the draft before serving memory counted the MTP module
    assert data["mtp_tokens"] == 1 and "MTP 1 draft tokens, 0.92 accepted a step" in data["assumptions"]
    off = CliRunner().invoke(cli, ["search", "--model", "deepseek-r1", "--system", "hgx-h200", "--prefill-system",
                                   "hgx-h20", "--prefill-chips", "32", "--decode-chips", "16", "--isl", "2000",
                                   "--osl", "1000", "--mtp", "0", "--format", "json"])
    assert off.exit_code == 0, off.output
    without = json.loads(off.output)
    assert without["mtp_tokens"] == 0
    assert [round(d["best"][0]["output_tokens_per_s"]) for d in (data, without)] == [27_152, 27_143]
    assert [round(d["best"][0]["tpot_s"] * 1e3, 1) for d in (data, without)] == [22.5, 34.7]


def _served(line: str) -> dict[str, object]:
    """What `parity serve` prints (JSON) for a search's serve line."""
    result = CliRunner().invoke(cli, [*shlex.split(line)[1:], "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.mark.e2e  # split searches (1.6 s): the end-to-end tier keeps the default run under a minute
@pytest.mark.parametrize(("args", "expected"), [
    # Llama-3.1-70B prefilled on 16 H20s, decoded on 16 H200s: the search printed 18,485 tok/s at TTFT 16.56 s and
    # TPOT 20.3 ms from 384 clients, which a closed loop cannot run (Little's law: 10,533 tok/s), its throughput from
    # full decode batches and its TTFT from a full-budget step at 70% utilisation; serve priced its fleet (16 x tp1,
    # 2 x tp2) at 15,618 tok/s and TTFT 7.60 s. Now each fleet is serve's: 4 x tp1-pp4 prefill, 1 x tp16 decode,
    # 384 clients at 18,386 tok/s, TTFT 3.09 s, TPOT 17.9 ms (18,387 before the KV transfer counted the receivers);
    # 256 clients at 18,360 tok/s, TTFT 5.12 s, TPOT 9.0 ms since a tp16 decode worker's qkv holds whole KV heads
    (("--model", "llama-3.1-70b", "--prefill-chips", "16", "--decode-chips", "16"), (18_360, 5.12, 9.0, 256)),
    # DeepSeek-R1 with one MTP draft: 680 clients at 27,152 tok/s, TTFT 2.59 s, TPOT 22.5 ms (768 at 27,133, 2.69 s
    # and 25.6 ms before serving memory counted the MTP module)
    (("--model", "deepseek-r1", "--prefill-chips", "32", "--decode-chips", "16", "--isl", "2000", "--osl", "1000"),
     (27_152, 2.59, 22.5, 680)),
])
def test_split_figures_hold_together_and_are_serves(args, expected) -> None:
    """Every listed fleet's clients x osl / (TTFT + (osl - 1) x TPOT) is its throughput within 0.1% (serve's closed
    loop: a client's first token counts in TTFT), and the best's printed `parity serve` line (with --prefill-system)
    gives its TTFT, TPOT and tok/s/chip to 1e-9."""
    result = CliRunner().invoke(cli, ["search", "--system", "hgx-h200", "--prefill-system", "hgx-h20", *args,
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    osl = 1000 if "--osl" in args else 1024
    for split in data["best"]:
        clients = split["clients_per_decode_worker"] * split["decode_workers"]
        little = clients * osl / (split["ttft_s"] + (osl - 1) * split["tpot_s"])
        assert little == pytest.approx(split["output_tokens_per_s"], rel=1e-3)
        assert split["prefill_utilization"] <= 0.7 + 1e-9  # the generic engine's disagg_prefill_utilization
    best = data["best"][0]
    assert (round(best["output_tokens_per_s"]), round(best["ttft_s"], 2), round(best["tpot_s"] * 1e3, 1),
            round(best["clients_per_decode_worker"] * best["decode_workers"])) == expected
    line = data["best_serve_command"]
    assert "--prefill-system hgx-h20" in line and f"--concurrency {expected[3]}" in line
    served = _served(line)
    assert served["ttft_s"] == pytest.approx(best["ttft_s"], rel=1e-9)
    assert served["tpot_s"] == pytest.approx(best["tpot_s"], rel=1e-9)
    assert served["output_tokens_per_s_per_chip"] == pytest.approx(best["output_tokens_per_s_per_chip"], rel=1e-9)


def test_split_with_two_sets_of_formats_names_no_serve_line() -> None:
    """A100 prefill (int8 weights, bf16 KV: no FP8) beside H200 decode (fp8): serve runs one set of formats on both
    kinds of worker, so no serve line reruns the split; the caption says why and the JSON's line is empty."""
    args = ["search", "--model", "llama-3.1-70b", "--system", "hgx-h200", "--prefill-system", "hgx-a100",
            "--prefill-chips", "16", "--decode-chips", "8"]
    table = CliRunner().invoke(cli, args, env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    assert ("no `parity serve` line runs it: serve runs one set of formats on both kinds of worker, and these prefill "
            "workers run int8 weights, bf16 KV, the decode workers fp8 weights, fp8 KV") in " ".join(table.output.split())
    assert json.loads(CliRunner().invoke(cli, [*args, "--format", "json"]).output)["best_serve_command"] == ""


def test_fleets_bounded_below_the_best_are_not_priced_and_the_best_stays(monkeypatch) -> None:
    """The split prices its fleets in order of the decode side's capacity (no fleet delivers more than its decode
    ranks emit at full batch) and stops where that bound falls below the top-th best: Llama-3.1-70B over 16 H20 and
    16 H200 gives the same ten fleets as pricing all 2,880, from six chunks of 256 (DeepSeek-R1 over 32 H20 and 16
    H200: 3.0 -> 0.55 s)."""
    import parity.search_split as split
    from parity.search import best_precision
    model, prefill, decode = catalog.model("llama-3.1-70b"), catalog.system("hgx-h20"), catalog.system("hgx-h200")
    args = (model, prefill, decode, catalog.engine("generic"), catalog.calibration(prefill.chip),
            catalog.calibration(decode.chip), best_precision(model, prefill.chip), best_precision(model, decode.chip),
            1024, 1024, 16, 16, 0.05)
    priced: list[int] = []
    every = split._priced

    def counted(*a, **k):
        priced.append(len(a[14]))
        return every(*a, **k)
    monkeypatch.setattr(split, "_priced", counted)
    monkeypatch.setattr(split, "_PRICED_AT_ONCE", 256)  # its 2,880 fleets in chunks, as a large split's 366,000
    pruned = split.search_split(*args)
    some = sum(priced)
    monkeypatch.setattr(split, "_PRICED_AT_ONCE", 10**9)
    priced.clear()
    full = split.search_split(*args)
    assert pruned.best == full.best and len(full.best) == 10
    # 18,360 (18,386 before a tp16 worker's qkv held whole KV heads; 18,387 before the KV transfer was priced at the
    # slower of the senders' and receivers' links)
    assert round(full.best[0].output_tokens_per_s) == 18_360 and (some, sum(priced)) == (1_536, 2_880)
