"""A chip of the user's between its family's measured chips blends their calibrations by nearness (catalog.blend): two
Hopper chips of 380 and 390 TFLOP/s took the H20's and the H200's calibrations, and the faster ran 0.89x the slower on
Llama-3.1-70B (report-only tester fuzzES 1)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from parity import catalog
from parity.catalog.blend import blend, nearness_weights
from parity.cli import cli
from parity.uncertainty import training_flags, unmeasured_gemm

from conftest import clear_catalog_caches, perfect_calibration, write_hopper_chip


def _hopper(home: Path, bf16_tflops: float) -> None:
    """The testers' Hopper chip of yours, 'mine', with `bf16_tflops` of bf16, and its node 'mine-node'."""
    write_hopper_chip(home, "mine", bf16_tflops, "Mine")
    clear_catalog_caches()


def test_nearness_weights_fall_linearly_to_nothing_at_twice_the_nearest() -> None:
    """0.957 and 0.960: 1 and 2 - 0.960 / 0.957 = 0.996865, normalised 0.500785 and 0.499215; 0.18 and 1.90 (an H20
    with HBM3e): the H20 alone; at distance 0 that chip alone; infinite distances weigh nothing."""
    weights = nearness_weights({"a": 0.960, "b": 0.957})
    assert list(weights) == ["b", "a"]  # heaviest first
    assert weights["b"] == pytest.approx(0.500785, abs=1e-6) and weights["a"] == pytest.approx(0.499215, abs=1e-6)
    assert nearness_weights({"h20": 0.18, "h200": 1.90}) == {"h20": 1.0}
    assert nearness_weights({"a": 0.0, "b": 0.01}) == {"a": 1.0}
    assert nearness_weights({"a": 1.0, "b": 1.5, "c": math.inf}) == pytest.approx({"a": 2 / 3, "b": 1 / 3})
    assert nearness_weights({"a": math.inf}) == {}
    with pytest.raises(ValueError, match="ratio must be > 1"):
        nearness_weights({"a": 1.0}, ratio=1.0)


def test_a_blend_is_each_fields_weighted_mean() -> None:
    """0.75 of A (bf16 0.8, default 0.6, decode math unstated: its prefill's 0.5, grouped fp8 0.4 halved at 16 tokens)
    and 0.25 of B (default 0.8, decode math 0.9, no grouped rate): bf16 0.75 x 0.8 + 0.25 x 0.8 = 0.8 (B's default),
    default 0.65, decode math 0.75 x 0.5 + 0.25 x 0.9 = 0.6, grouped fp8 0.75 x 0.4 + 0.25 x 0.8 = 0.5 at half 12
    tokens, kernel overhead 0.75 x 4 + 0.25 x 8 = 5 us."""
    a = perfect_calibration(id="a", gemm_efficiency={"default": 0.6, "bf16": 0.8}, attention_prefill_efficiency=0.5,
                            grouped_gemm_efficiency={"fp8": 0.4}, grouped_gemm_half_tokens=16.0,
                            kernel_overhead_s=4e-6)
    b = perfect_calibration(id="b", chip="other", gemm_efficiency={"default": 0.8},
                            attention_decode_math_efficiency=0.9, kernel_overhead_s=8e-6)
    mixed = blend([(b, 0.25), (a, 0.75)], id="a+b", basis="test")
    assert dict(mixed.gemm_efficiency) == pytest.approx({"default": 0.65, "bf16": 0.8})
    assert mixed.attention_decode_math_efficiency == pytest.approx(0.6)
    assert dict(mixed.grouped_gemm_efficiency) == pytest.approx({"fp8": 0.5})
    assert mixed.grouped_gemm_half_tokens == pytest.approx(12.0)
    assert mixed.kernel_overhead_s == pytest.approx(5e-6)
    assert (mixed.measured, mixed.chip, mixed.relative_to, [(c.id, w) for c, w in mixed.blend]) == (
        False, "round", "a", [("a", 0.75), ("b", 0.25)])
    with pytest.raises(ValueError, match="weights must be positive and sum to 1"):
        blend([(a, 0.5), (b, 0.4)], id="x", basis="")


def test_a_chip_between_the_h20_and_the_h200_blends_their_calibrations(home: Path) -> None:
    """At 380 TFLOP/s of bf16, 760 of fp8 and int8 (4.8 TB/s): the rates 2.568x the H20's, ln 0.942990 each, and its
    bandwidth 1.2x, so sqrt(0.942990^2 + 0.182322^2) = 0.960423 from the H20, and ln(989.5 / 380) = 0.957029 from the
    H200; weights 2 - 0.960423 / 0.957029 = 0.996453 and 1, normalised 0.499112 and 0.500888. Its fp32 peak (44 TFLOP/s
    against the H20's 44 and the H200's 67), like fp64's, counts for nothing: no model runs in it (a 100 TFLOP/s fp64
    and fp32 moved the blend to the H200 alone: regression tester fuzzEW 3). Its flag, `show` and the fp8 GEMM flag
    say so."""
    _hopper(home, 380)
    chip = catalog.chip("mine")
    cal = catalog.calibration(chip)
    assert cal.id == "nvidia-h200-sxm-measured+nvidia-h20-published" and not cal.measured
    weights = {part.id: w for part, w in cal.blend}
    assert weights == pytest.approx({"nvidia-h20-published": 0.499112, "nvidia-h200-sxm-measured": 0.500888}, abs=1e-6)
    assert cal.gemm("bf16") == pytest.approx(0.499112 * 0.8252 + 0.500888 * 0.7102, abs=1e-6)
    assert cal.basis.startswith(
        "inherited from nvidia-h200-sxm 0.50 + nvidia-h20 0.50, blended (the hopper family's chips nearest it in peak "
        "rates and memory bandwidth, log distances 0.957 and 0.960; each weighs by how near it is, a chip 2x as far as "
        "the nearest nothing;")
    flag = next(f for f in training_flags(catalog.system("mine-node"), catalog.model("llama-3.1-70b"), 4096)
                if f.kind == "uncalibrated chip")
    assert flag.brief == "uncalibrated (inherits h200-sxm/h20 blend)"
    statement = catalog.calibration_statement(chip, cal)
    assert statement.text.startswith("inherited, blended: 0.50 of nvidia-h200-sxm-measured: from nvidia-h200-sxm "
                                     "(nvidia-h200-sxm-measured, 503 microbenchmark points): GEMM bf16/fp8, attention, "
                                     "HBM bandwidth, launch cost;")
    assert "; 0.50 of nvidia-h20-published: from nvidia-h20 (nvidia-h20-published rows torch-h20-bf16-gemm, " \
           "FlashMLA-h20-compute): GEMM bf16, attention;" in statement.text
    # bf16 blends two measurements (no flag); fp8 blends the H200's with the H20's moved by its fit's ratios
    assert unmeasured_gemm(cal, chip, "bf16") is None
    fp8 = unmeasured_gemm(cal, chip, "fp8")
    assert fp8 is not None and fp8.text == (
        "fp8 GEMM rate not measured on mine (a blend of calibrations: 0.50 of nvidia-h200-sxm-measured, measured on "
        "nvidia-h200-sxm; 0.50 of nvidia-h20-published, moved from nvidia-h200-sxm's by the fits' ratios)")
    shown = json.loads(CliRunner().invoke(cli, ["show", "mine", "--format", "json"]).stdout)
    assert shown["calibration"]["id"] == cal.id and shown["kernel_figures"]["text"] == statement.text
    path = home / "chips" / "mine.toml"
    path.write_text(path.read_text().replace('fp32 = { value = "44 TFLOP/s", source = "s" }',
                                             'fp32 = { value = "100 TFLOP/s", source = "s" }\n'
                                             'fp64 = { value = "100 TFLOP/s", source = "s" }'))
    clear_catalog_caches()
    assert catalog.chip("mine").peak("fp64") == 100e12
    assert {p.id: w for p, w in catalog.calibration(catalog.chip("mine")).blend} == pytest.approx(weights)


def test_the_achieved_gemm_rate_rises_with_the_peak_across_the_family(home: Path) -> None:
    """bf16 peak x the blended bf16 GEMM efficiency rises with the peak from the H20's 148 TFLOP/s to the H200's
    989.5: the H20's alone at 250 (0.8252), a blend between, the H200's alone at 600 (0.7102). It fell from
    380 x 0.8252 = 313.6 to 390 x 0.7102 = 277.0 TFLOP/s where the nearest chip changed."""
    achieved = []
    for rate in (148, 300, 360, 380, 390, 400, 500, 989.5):
        _hopper(home, rate)
        achieved.append(rate * catalog.calibration(catalog.chip("mine")).gemm("bf16"))
    assert all(b > a for a, b in zip(achieved, achieved[1:])), achieved
    assert achieved[0] == pytest.approx(148 * 0.8252) and achieved[-1] == pytest.approx(989.5 * 0.7102)


@pytest.mark.e2e  # over 1.5 s: four serving predictions
def test_serving_rises_with_the_peak_between_the_h20_and_the_h200(home: Path) -> None:
    """Llama-3.1-70B at TP 8, 4,096 in / 256 out, 64 concurrent, steady: 90.2, 93.7 (the H20's calibration), 85.6,
    87.1 (the H200's) tok/s per chip at 360, 380, 390 and 400 TFLOP/s; blended, 85.9, 88.9, 90.5, 91.9 (89.0 and 92.0
    while the distances counted fp32's rate)."""
    rates = []
    for rate in (360, 380, 390, 400):
        _hopper(home, rate)
        result = CliRunner().invoke(cli, ["serve", "--model", "llama-3.1-70b", "--system", "mine-node", "--tp", "8",
                                          "--isl", "4096", "--osl", "256", "--concurrency", "64", "--model-kind",
                                          "steady", "--format", "json"])
        assert result.exit_code == 0, result.stderr
        found = json.loads(result.stdout)
        rates.append((found[0] if isinstance(found, list) else found)["output_tokens_per_s_per_chip"])
    assert [round(r, 1) for r in rates] == [85.9, 88.9, 90.5, 91.9]
