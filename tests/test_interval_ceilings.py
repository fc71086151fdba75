"""An 80% interval's fast end goes no faster than the chip's compute at peak: a training run's MFU no higher than 1
(an H20 with HBM3e read MFU 0.688 with a high end of 1.168, and a step of 681 s whose compute alone takes 796 s at
peak: report-only tester fuzzES 2), and a serving run's throughput no higher than its weight matmuls at peak."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from parity import catalog
from parity.cli import cli
from parity.uncertainty import capped_rate, compute_ceiling, training_interval

from conftest import clear_catalog_caches, write_hopper_chip


def _run(*args: str) -> dict:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    return found[0] if isinstance(found, list) else found


def test_a_training_intervals_fast_end_stops_at_mfu_1() -> None:
    """An H100 (band [-0.246328, 0.319276]) at 1,000 tokens/s per chip: 726.67 to 1,279.32 (test_uncertainty); at MFU
    0.9 the fast end is 1,000 / 0.9 = 1,111.11, and a time's short end 1,000 x 0.9 = 900 (its long end 1,000
    e^0.319276 = 1,376.13); at MFU 0.5 (a fast end of
    2x) nothing changes."""
    h100 = catalog.chip("nvidia-h100-sxm")
    assert training_interval(h100, 1000.0, (), mfu=0.9) == pytest.approx((726.67, 1111.11), abs=0.005)
    assert training_interval(h100, 1000.0, (), inverse=True, mfu=0.9) == pytest.approx((900.0, 1376.13), abs=0.005)
    assert training_interval(h100, 1000.0, (), mfu=0.5) == training_interval(h100, 1000.0, ())


def test_train_on_an_h20_with_hbm3e_keeps_its_interval_under_the_peak(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The tester's H20 with 141 GB at 4.8 TB/s, 16 chips training Llama-3.1-70B: MFU 0.688, its high end 1.168 and
    the step's short end 681.4 s before; now 1 and 1,156.6 x 0.688 = 795.7 s (its compute alone at peak)."""
    for kind in ("chips", "systems"):
        (tmp_path / kind).mkdir()
    write_hopper_chip(tmp_path, "my-h20x", 148, "My H20 141GB")
    monkeypatch.setenv("PARITY_HOME", str(tmp_path))
    clear_catalog_caches()
    try:
        run = _run("train", "--model", "llama-3.1-70b", "--system", "my-h20x-node", "--format", "json")
    finally:
        clear_catalog_caches()
    assert (round(run["mfu"], 3), run["mfu_high"], round(run["step_s"], 1)) == (0.688, 1.0, 1156.6)
    assert run["step_s_low"] == pytest.approx(run["step_s"] * run["mfu"]) and round(run["step_s_low"], 1) == 795.7
    assert run["tokens_per_s_per_chip_high"] == pytest.approx(run["tokens_per_s_per_chip"] / run["mfu"])
    assert "the fast end no faster than the chip's peak of the math it runs (MFU 100%)" in run["interval_basis"]


def test_the_compute_ceiling_counts_the_weight_matmuls_of_each_output_token() -> None:
    """Llama-3.1-70B: 139.003428864 GFLOP of matmuls a token, 2.101346304 of them the LM head, which a prompt token
    skips: at 8,192 in / 64 out, (8,192 x 136.902082560 + 64 x 139.003428864) / 64 = 17,662.476 GFLOP per output
    token; 148 TFLOP/s of bf16 serve at most 8.379349 tokens/s, FP8's 296 twice that, and FP4 too (the H20 runs it on
    its FP8 unit); FP8 on an A100 runs on its BF16 unit; a run with no output is bounded by nothing."""
    model, h20 = catalog.model("llama-3.1-70b"), catalog.chip("h20")
    assert compute_ceiling(model, h20, ["bf16"], 8192, 64) == pytest.approx(8.379349, abs=1e-6)
    assert compute_ceiling(model, h20, ["bf16", "fp8"], 8192, 64) == pytest.approx(2 * 8.379349, abs=1e-6)
    assert compute_ceiling(model, h20, ["fp4"], 8192, 64) == pytest.approx(2 * 8.379349, abs=1e-6)  # on its FP8 unit
    assert compute_ceiling(model, catalog.chip("a100"), ["fp8"], 8192, 64) == pytest.approx(  # on BF16's 312
        312 / 148 * 8.379349, abs=1e-6)
    assert compute_ceiling(model, h20, ["bf16"], 8192, 0) == math.inf


def test_a_capped_rate_moves_tpot_with_it() -> None:
    """10 tokens/s at a TPOT of 1 s whose low end 0.5 s reads 20 tokens/s: under a ceiling of 15, 15 and 10 / 15 s;
    under 25 unchanged; a prediction past its ceiling keeps its own rate as the fast end."""
    assert capped_rate(10.0, 1.0, 0.5, 15.0) == pytest.approx((15.0, 2 / 3))
    assert capped_rate(10.0, 1.0, 0.5, 25.0) == (20.0, 0.5)
    assert capped_rate(10.0, 1.0, 0.5, 8.0) == (10.0, 1.0)


def test_a_prompt_only_run_has_no_fast_end_of_its_own_making() -> None:
    """A run of one output token (osl 1) has no TPOT and so no TPOT band: the fast end of its tokens/s is NaN, as its
    slow end is, not the compute ceiling alone (serve --model llama-3.1-8b --system hgx-h100 --isl 1024 --osl 1 read
    _low null, _high 69.2 in JSON: regression tester fixfc 3)."""
    high, low = capped_rate(32.45, math.nan, math.nan, 69.15)
    assert math.isnan(high) and math.isnan(low)


def test_a_serving_intervals_fast_end_stays_under_the_compute_ceiling() -> None:
    """Llama-3.1-8B on one H20 in bf16, 2,048 in / 4 out, 256 clients: the prefill is nearly all the work, at 0.74 of
    the peak; the interval's fast end read 20.73 tokens/s per chip, above the 20.665 its weight matmuls reach at 148
    TFLOP/s; it is now that, and TPOT's low end the same work's time."""
    args = ("--model", "llama-3.1-8b", "--system", "hgx-h20", "--tp", "1", "--isl", "2048", "--osl", "4",
            "--concurrency", "256", "--model-kind", "steady", "--weights", "bf16", "--format", "json")
    row = _run("serve", *args)
    ceiling = compute_ceiling(catalog.model("llama-3.1-8b"), catalog.chip("h20"), ["bf16"], 2048, 4)
    assert round(ceiling, 3) == 20.665 and row["output_tokens_per_s_per_chip_high"] == pytest.approx(ceiling)
    assert row["tpot_s_low"] == pytest.approx(row["tpot_s"] * row["output_tokens_per_s_per_chip"] / ceiling)
