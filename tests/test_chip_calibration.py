"""A chip's own calibration from published attention figures (the H20's FlashMLA rate), inheriting the rest
from its measured sibling, and not passed on to other siblings."""

from __future__ import annotations

import pytest

from parity import catalog
from parity.calibrate.family import chip_calibration, figures_from_rows
from parity.errors import ParityError


def _h20_figures() -> list:
    rows = [r for r in catalog.measurements("kernels_published") if r["case_id"] == "FlashMLA-h20-compute"]
    return figures_from_rows(rows)


def test_the_h20_gets_its_own_flashmla_rate_and_the_h200_s_everything_else() -> None:
    """FlashMLA on an H20: 127 of 148 TFLOP/s = 0.8581 against 0.667 on the H800 (r = 1.2865): MLA-decode math
    0.667 x r = 0.8581, prefill attention 0.4996 x r = 0.6427; GEMM fp8 0.6765 and memory 0.9221 stay the
    H200's."""
    base = catalog.calibration(catalog.chip("nvidia-h200-sxm"))
    chips = {c.id: c for c in catalog.chips()}
    cal = chip_calibration("nvidia-h20", base, _h20_figures(), chips, "2026-12-03")
    assert cal.attention_decode_math_efficiency == pytest.approx(0.8581, abs=1e-4)
    assert cal.attention_prefill_efficiency == pytest.approx(0.4996 * 0.8581 / 0.667, abs=1e-4)
    assert cal.gemm("fp8") == base.gemm("fp8") == 0.6765 and cal.memory_efficiency == base.memory_efficiency
    assert cal.rows == ("FlashMLA-h20-compute",) and cal.chip == "nvidia-h20" and cal.measured
    stored = catalog.calibration(catalog.chip("nvidia-h20"))
    assert stored.id == "nvidia-h20-published"
    assert stored.attention_decode_math_efficiency == pytest.approx(cal.attention_decode_math_efficiency)


def test_a_chip_calibration_built_from_figures_is_not_inherited_by_siblings() -> None:
    """H100, H800 and the Blackwell chips keep inheriting the H200's microbenchmark calibration, not the
    H20's newer published-figure file."""
    for chip in ("nvidia-h100-sxm", "nvidia-h800-sxm", "nvidia-b200-sxm", "nvidia-gb200"):
        assert catalog.calibration(catalog.chip(chip)).id == "nvidia-h200-sxm-measured", chip


def test_a_chip_calibration_takes_only_attention_figures_of_that_chip() -> None:
    base = catalog.calibration(catalog.chip("nvidia-h200-sxm"))
    chips = {c.id: c for c in catalog.chips()}
    gemm = figures_from_rows([r for r in catalog.measurements("kernels_published") if r["case_id"] == "AMD-063"])
    with pytest.raises(ParityError, match="attention figures"):
        chip_calibration("amd-mi300x", base, gemm, chips, "2026-12-03")
    with pytest.raises(ParityError, match="attention figures"):
        chip_calibration("nvidia-h100-sxm", base, _h20_figures(), chips, "2026-12-03")
