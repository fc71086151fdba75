"""Compute-bound decode attention (absorbed MLA) runs at the measured MLA-decode kernel rate where one is
measured (FlashMLA on the Hopper die), not at the prefill flash-attention rate."""

from __future__ import annotations

import pytest

from parity import catalog
from parity.cost import price_kernel
from parity.ops import Kernel

TFLOP = 1e12


def _seconds(chip_id: str, kind: str) -> float:
    chip = catalog.chip(chip_id)
    kernel = Kernel(name="mla_decode", kind=kind, flops=TFLOP, weight_bytes=0.0, other_bytes=1e6, fmt="bf16")
    return float(price_kernel(kernel, chip, catalog.calibration(chip), overhead_s=0.0).time_s)


def test_h20_mla_decode_math_runs_at_flashmla_rate() -> None:
    """H20: FlashMLA measured on the H20 itself (127 of 148 TFLOP/s, 0.8581): 1 TFLOP of compute-bound decode
    attention takes 1 / 127.0 = 7.874 ms; prefill attention moves by the same ratio to FlashMLA on the H800
    (0.8581 / 0.667 = 1.2865): 0.4996 x 1.2865 = 0.6427, 1 TFLOP in 10.51 ms. (With the H200's rates, as
    before, 10.13 and 13.52 ms.)"""
    assert _seconds("nvidia-h20", "attention_decode") == pytest.approx(1.0 / (148 * 0.8581), rel=1e-6)
    assert _seconds("nvidia-h20", "attention_prefill") == pytest.approx(1.0 / (148 * 0.6427), rel=1e-6)
    assert _seconds("nvidia-h800-sxm", "attention_decode") == pytest.approx(1.0 / (989.4 * 0.667), rel=1e-3)


def test_ascend_910c_mla_decode_is_the_papers_die_utilization() -> None:
    """910C family: the CloudMatrix paper's MLA compute-bound utilization, 65.4% of its own 752 TFLOP/s
    per package (376 per die), is 0.654 x 752 / 800 = 0.61476 of the catalog's 800; against FlashMLA's 0.667,
    r = 0.92168, so 0.667 x r = 0.6148 (245.9 TFLOP/s per die either way): 1 TFLOP in 1 / (800 x 0.6148)
    = 2.033 ms."""
    cal = catalog.calibration(catalog.chip("huawei-ascend-910c"))
    assert cal.attention_decode_math == pytest.approx(0.6148, abs=5e-5)
    assert _seconds("huawei-ascend-910c", "attention_decode") == pytest.approx(1.0 / (800 * 0.6148), rel=1e-4)


def test_910c_utilizations_are_restated_against_the_catalogs_peak() -> None:
    """B06's INT8 GEMM utilization, 80.05% of the paper's 1,504 TOP/s (2 x 752), is 1,204 TOP/s = 0.7525 of
    the catalog's 1,600; its MLA memory-bound 84.1% is of 1,600 GB/s per die = the catalog's 3.2 TB/s per
    package, so it stays a ratio of 0.841 / 0.896 = 0.9386 to FlashMLA's."""
    cal = catalog.calibration(catalog.chip("huawei-ascend-910c"))
    assert cal.gemm("int8") == pytest.approx(0.8005 * 1504 / 1600, abs=5e-5)
    assert cal.attention_decode_efficiency == pytest.approx(0.9766 * 0.841 / 0.896, abs=5e-5)


def test_blackwell_does_not_inherit_hoppers_mla_kernel_rate() -> None:
    """family-blackwell measures no MLA-decode kernel rate (FlashMLA's B200 rows are checks), so the B200's decode
    attention math falls back to its prefill efficiency, 0.4996 x 0.9947 = 0.4970 (2,250 TFLOP/s: 1 TFLOP in
    0.894 ms). The A100 (Ampere, whose parent Hopper has no family file) inherits the H200's calibration but not
    FlashMLA's Hopper rate: 0.4996 (312 TFLOP/s: 1 TFLOP in 6.415 ms)."""
    cal = catalog.calibration(catalog.chip("nvidia-b200-sxm"))
    assert cal.id == "family-blackwell" and cal.attention_decode_math_efficiency == 0.0
    assert cal.attention_decode_math == pytest.approx(0.4970)
    assert not any(r.startswith("FlashMLA") for r in cal.rows)
    peak = catalog.chip("nvidia-b200-sxm").peak("bf16") / TFLOP
    assert _seconds("nvidia-b200-sxm", "attention_decode") == pytest.approx(1.0 / (peak * 0.4970), rel=1e-6)
    a100 = catalog.calibration(catalog.chip("nvidia-a100-sxm"))
    assert a100.attention_decode_math_efficiency == 0.0 and a100.attention_decode_math == pytest.approx(0.4996)
    assert "MLA-decode" in a100.basis
    assert _seconds("nvidia-a100-sxm", "attention_decode") == pytest.approx(1.0 / (312 * 0.4996), rel=1e-6)


def test_an_out_of_range_decode_math_efficiency_is_refused() -> None:
    import dataclasses

    cal = catalog.calibration(catalog.chip("nvidia-h20"))
    with pytest.raises(ValueError, match="attention_decode_math_efficiency"):
        dataclasses.replace(cal, attention_decode_math_efficiency=1.5)


def test_families_without_an_attention_figure_keep_the_prefill_rate() -> None:
    """CDNA3 has no MLA-decode or fitted attention figure: its decode attention math stays at its prefill attention
    rate, which moves with its GEMM ratio (0.4996 x 0.60985 = 0.3047); the derived prior likewise, unless every measured family has one: with
    Da Vinci alone (CDNA3 left out, or the npu class's prior, which a TPU runs on) it is 0.667 x 0.6148 / 0.667 =
    0.6148; the gpu class's (CDNA3 alone) has none."""
    from parity.calibrate.family import derived_prior

    mi300x = catalog.calibration(catalog.chip("amd-mi300x"))
    assert mi300x.attention_decode_math_efficiency == 0.0
    assert mi300x.attention_decode_math == mi300x.attention_prefill_efficiency == pytest.approx(0.3047, abs=1e-4)
    assert catalog.calibration(catalog.chip("tpu-v6e")).attention_decode_math_efficiency == pytest.approx(0.6148, abs=1e-4)
    assert catalog.calibration(catalog.chip("hygon-dcu-bw200")).attention_decode_math_efficiency == 0.0
    h200 = catalog.calibration(catalog.chip("nvidia-h200-sxm"))
    davinci = catalog.calibration(catalog.chip("huawei-ascend-910c"))
    alone = derived_prior(h200, [davinci], "d")
    assert alone.attention_decode_math_efficiency == pytest.approx(0.6148, abs=1e-4)
    assert derived_prior(h200, [davinci, mi300x], "d").attention_decode_math_efficiency == 0.0
