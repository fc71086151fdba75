"""Training runs a multi-die package as its frameworks do, one rank per die (CANN and MindSpeed see an Atlas 800 A3's
eight 910C packages as 16 NPUs of 64 GB), as serving does; chips stay counted per package."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from parity import catalog
from parity.cli import cli
from parity.compare import compare
from parity.hardware import per_die
from parity.training import TrainingLayout, evaluate_layouts, train_step


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


A3_SEARCH = ("train", "--model", "llama-3.1-70b", "--system", "atlas-800-a3", "--chips", "64", "--search", "--top", "1")


def test_the_910c_trains_one_rank_per_64_gb_die() -> None:
    """Llama-3.1-70B on 64 910C: the search priced 64 ranks of 128 GB and 800 TFLOP/s, and picked
    tp1-pp1-dp64-mb1-zero3 at 118.1 GB a rank, which no 64 GB die holds (1,036 tok/s/chip). It now prices 128 die
    ranks of 64 GB and 400 TFLOP/s, and its best, tp2-pp1-dp64-mb1-zero3 (with pipeline sends between nodes over
    scale-out and the norms split over tp under sequence parallelism), spreads over the 128 ranks and holds 60.1 GB a
    die, at 985 tokens/s per package (2 x a die's). With ZeRO-3's traffic no longer wholly hidden (20% of it exposed
    beside compute, gathered a layer at a time) the best is tp2-pp4-vp2-cp4-dp4-mb1-zero1, 63.8 GB a die, 910 tokens/s
    per package."""
    code, out, _ = run(*A3_SEARCH, "--format", "json")
    data = json.loads(out)
    (best,) = data["best"]
    layout = best["layout"]
    assert code == 0 and (data["chips"], data["ranks"]) == (64, 128)
    assert layout["name"] == "tp2-pp4-vp2-cp4-dp4-mb1-zero1"
    assert layout["tp"] * layout["pp"] * layout["cp"] * layout["dp"] == 128
    assert (best["chips"], best["ranks"], best["dies_per_chip"]) == (64, 128, 2)
    # a package's memory under the per-chip keys, as its tokens/s per chip (it read a die's 60.1 GB "per chip")
    assert (best["memory_capacity_bytes"], best["memory_capacity_bytes_per_die"]) == (128e9, 64e9)
    assert best["memory_bytes_per_die"] == pytest.approx(63.8e9, abs=0.05e9)
    assert best["memory_bytes_per_chip"] == 2 * best["memory_bytes_per_die"]
    assert best["tokens_per_s_per_chip"] == pytest.approx(910, abs=0.5)
    assert any(a.startswith("one rank per die (2 dies a chip") for a in best["assumptions"])


def test_the_search_table_names_the_ranks_and_memory_per_die() -> None:
    code, out, _ = run(*A3_SEARCH, "--wide")
    words = " ".join(out.split())
    assert code == 0 and "64 x huawei-ascend-910c (atlas-800-a3), 128 ranks (2 dies a chip)" in words
    assert "mem GB/die" in words and "mem GB/chip" not in words


def test_a_package_delivers_what_its_dies_deliver() -> None:
    """train_step on 4 packages is the same layout priced on per_die(system)'s 8 ranks, counted per package: tokens/s
    per chip twice a die's, the step, MFU and memory a die's, energy at the package's TDP (2 x the die's)."""
    system, model = catalog.system("atlas-800-a3"), catalog.model("llama-3.1-8b")
    layout = TrainingLayout(tp=2, dp=4, seq_len=4096, global_batch=32)
    cal, profile = catalog.calibration(system.chip), catalog.training_profile()
    package = train_step(model, system, 4, layout, cal, profile)
    die = evaluate_layouts(model, per_die(system), 8, [layout], cal, profile).at(0)
    assert (package.chips, package.ranks, die.chips) == (4, 8, 8)
    assert package.tokens_per_s_per_chip == pytest.approx(2 * die.tokens_per_s_per_chip, rel=1e-12)
    assert (package.step_s, package.mfu, package.memory.total_bytes) == (die.step_s, die.mfu, die.memory.total_bytes)
    assert package.memory.capacity_bytes == 64e9 and package.tdp_w == system.chip.tdp_w
    assert package.energy_j(1e9) == pytest.approx(die.energy_j(1e9), rel=1e-12)
    assert package.chip_hours(1e9) == pytest.approx(die.chip_hours(1e9) / 2, rel=1e-12)


def test_a_layout_given_counts_ranks() -> None:
    """--tp 8 --pp 4 on 64 910C leaves dp 4 (128 ranks); a product of the packages (64) is refused in one line."""
    args = ("train", "--model", "llama-3.1-70b", "--system", "atlas-800-a3", "--chips", "64", "--tp", "8", "--pp", "4")
    code, out, _ = run(*args, "--format", "json")
    assert code == 0 and json.loads(out)["layout"]["dp"] == 4
    code, _, err = run(*args, "--dp", "2")
    assert code == 2 and err == ("parity: error: tp x pp x cp x dp must equal the ranks (128: 64 chips of 2 dies, a "
                                 "rank a die), got 8 x 4 x 1 x 2 = 64\n")


def test_one_die_chips_are_unchanged() -> None:
    code, out, _ = run("train", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--format", "json")
    data = json.loads(out)
    assert code == 0 and (data["chips"], data["ranks"], data["dies_per_chip"]) == (8, 8, 1)
    assert not any("one rank per die" in a for a in data["assumptions"])


def test_compare_trains_as_train_does() -> None:
    """compare --workload train picks train's layout and rate on the 910C (the same search)."""
    system, model = catalog.system("atlas-800-a3"), catalog.model("llama-3.1-70b")
    (row,) = compare([system], model, catalog.engine("generic"), workload="train", chips=64)
    best = json.loads(run(*A3_SEARCH, "--format", "json")[1])["best"][0]
    assert row.layout == best["layout"]["name"] and row.chips == 64
    assert row.tokens_per_s_per_chip == pytest.approx(best["tokens_per_s_per_chip"], rel=1e-12)
