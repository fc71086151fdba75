"""A chip's own calibration from published GEMM and attention figures (the H20's torch GEMM and FlashMLA
rates), inheriting the rest from its measured sibling, and not passed on to other siblings."""

from __future__ import annotations

import pytest

from parity import catalog
from parity.calibrate.family import chip_calibration, figures_from_rows
from parity.errors import ParityError


def _h20_figures() -> list:
    ids = ("torch-h20-bf16-gemm", "FlashMLA-h20-compute")
    return figures_from_rows([r for r in catalog.measurements("kernels_published") if r["case_id"] in ids])


def test_the_h20_gets_its_own_gemm_and_flashmla_rates_and_the_h200_s_everything_else() -> None:
    """BF16 GEMM 8192^3 in torch: 138.60 of 148 TFLOP/s = 0.93649 on the H20 against 797.51 of 989.4 =
    0.80605 on an H100, r = 1.16183: bf16 0.7102 x r = 0.8251, fp8 0.6765 x r = 0.7860. FlashMLA: 127 of 148
    = 0.8581 against 0.667 on the H800 (r = 1.2865): MLA-decode math 0.8581, prefill attention 0.4996 x r =
    0.6427. Memory 0.9221 and decode-attention bandwidth 0.9766 stay the H200's."""
    base = catalog.calibration(catalog.chip("nvidia-h200-sxm"))
    chips = {c.id: c for c in catalog.chips()}
    cal = chip_calibration("nvidia-h20", base, _h20_figures(), chips, "2026-12-03")
    r = (138.60 / 148) / (797.51 / chips["nvidia-h100-sxm"].peak("bf16") * 1e12)
    assert r == pytest.approx(1.1618, abs=2e-4)
    assert cal.gemm("bf16") == pytest.approx(0.7102 * r, abs=1e-4)
    assert cal.gemm("fp8") == pytest.approx(0.6765 * r, abs=1e-4)
    assert cal.attention_decode_math_efficiency == pytest.approx(0.8581, abs=1e-4)
    assert cal.attention_prefill_efficiency == pytest.approx(0.4996 * 0.8581 / 0.667, abs=1e-4)
    assert cal.memory_efficiency == base.memory_efficiency and cal.attention_decode_efficiency == 0.9766
    assert set(cal.rows) == {"torch-h20-bf16-gemm", "FlashMLA-h20-compute"} and cal.chip == "nvidia-h20" and cal.measured
    stored = catalog.calibration(catalog.chip("nvidia-h20"))
    assert stored.id == "nvidia-h20-published" and stored.gemm("fp8") == pytest.approx(cal.gemm("fp8"), abs=1e-4)
    assert stored.attention_decode_math_efficiency == pytest.approx(cal.attention_decode_math_efficiency)


def test_a_chip_calibration_built_from_figures_is_not_inherited_by_siblings() -> None:
    """H100 and H800 keep inheriting the H200's microbenchmark calibration, not the H20's newer published-figure
    file; the Blackwell chips take their own family's (family-blackwell), not the H20's either."""
    for chip in ("nvidia-h100-sxm", "nvidia-h800-sxm"):
        assert catalog.calibration(catalog.chip(chip)).id == "nvidia-h200-sxm-measured", chip
    for chip in ("nvidia-b200-sxm", "nvidia-gb200"):
        assert catalog.calibration(catalog.chip(chip)).id == "family-blackwell", chip


def test_a_chip_calibration_takes_only_figures_measured_on_that_chip() -> None:
    base = catalog.calibration(catalog.chip("nvidia-h200-sxm"))
    chips = {c.id: c for c in catalog.chips()}
    memory = figures_from_rows([r for r in catalog.measurements("kernels_published") if r["case_id"] == "AMD-065"])
    with pytest.raises(ParityError, match="GEMM and attention figures"):
        chip_calibration("amd-mi300x", base, memory, chips, "2026-12-03")
    with pytest.raises(ParityError, match="GEMM and attention figures"):
        chip_calibration("nvidia-h100-sxm", base, _h20_figures(), chips, "2026-12-03")


def test_leaving_out_the_h20_s_figures_gives_it_what_its_siblings_get() -> None:
    """Leaving out the source of the H20's FlashMLA figure (or NVIDIA) drops the H20's own file: it takes what
    the H100 gets, the H200's microbenchmark calibration; other chips keep theirs."""
    from parity.crossvendor import stored_setting, without_kernel_fits

    setting = without_kernel_fits(stored_setting(), {"FlashMLA-h20-compute"})
    assert setting.calibrations["nvidia-h20"].id == "nvidia-h200-sxm-measured"
    assert "amd-mi300x" not in setting.calibrations
    assert without_kernel_fits(stored_setting(), {"AMD-063"}).calibrations.get("nvidia-h20") is None
