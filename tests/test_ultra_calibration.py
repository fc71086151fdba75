"""Blackwell Ultra's own calibration (B300, GB300): prompt attention and GEMMs from TensorRT-LLM 1.3.0rc20's kernels
beside the Blackwell sibling's in aiconfigurator's collector, FP4 from its own FP4-beside-FP8 layers, the rest the
Blackwell family's (scripts/aic_ultra_rows.py, scripts/fit_families.py ULTRA)."""

from __future__ import annotations

import math

import pytest

from parity import catalog
from parity.calibrate.family import chip_calibration, figures_from_rows


def _gmean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def test_the_b300_s_rates_are_the_family_s_times_its_kernels_over_the_b200_s() -> None:
    """Same-shape latencies, B200 over B300 (equal BF16/FP8 peaks, so the speed-up is the efficiency ratio):
    attention GQA 32/8 and 64/8 heads at 8k and 16k tokens 1.1546, 1.1876, 1.1511, 1.1109, MLA 128 and 16 heads
    1.2373, 1.0574, 1.0762, 1.1444 (geometric mean 1.1386): prompt attention 0.4970 x 1.1386 = 0.5659. GEMMs at
    M 8,192: BF16 1.0716, 1.1059, 1.0280, 0.8718 (1.0152): 0.7046 x 1.0152 = 0.7153; FP8 1.1668, 1.0910, 0.9565,
    1.0183 (1.0552): 0.6365 x 1.0552 = 0.6717; formats without a figure by 1.0350: 0.6664 -> 0.6897. FP4: its
    eight FP4 layers at 0.5928 of their FP8 twins' fraction of peak: 0.6717 x 0.5928 = 0.3982 (the family's
    0.4658 averages all four chips). Memory, decode attention and collectives stay the family's."""
    family = catalog.calibration(catalog.chip("b200"))
    assert family.id == "family-blackwell"
    stored = catalog.calibration(catalog.chip("b300"))
    figures = figures_from_rows([r for r in catalog.measurements("kernels_published") if r["case_id"] in stored.rows])
    cal = chip_calibration("nvidia-b300-sxm", family, figures, {c.id: c for c in catalog.chips()}, stored.date)
    attention = [f.achieved / f.twin_achieved for f in figures if f.kind == "attention_prefill"]
    assert len(attention) == 8 and _gmean(attention) == pytest.approx(1.1386, abs=1e-4)
    assert cal.attention_prefill_efficiency == pytest.approx(0.4970 * 1.1386, abs=1e-4) == stored.attention_prefill_efficiency
    assert cal.gemm("bf16") == pytest.approx(0.7153, abs=1e-4) and cal.gemm("fp8") == pytest.approx(0.6717, abs=1e-4)
    assert cal.gemm("int8") == pytest.approx(0.6664 * 1.0350, abs=1e-4)
    assert cal.gemm("fp4") == pytest.approx(0.6717 * 0.5928, abs=2e-4) == stored.gemm("fp4")
    for name in ("memory_efficiency", "attention_decode_efficiency", "collective_efficiency", "stream_efficiency"):
        assert getattr(stored, name) == getattr(family, name), name
    assert stored.id == "nvidia-b300-sxm-published" and "family-blackwell" in stored.basis


def test_the_ultra_chips_run_their_own_files_and_the_blackwell_ones_the_family_s() -> None:
    """B300 and GB300 have files of their own; B200 and GB200 keep the family's. The B300's FP4 GEMM prices at
    0.3982 x 13.5 = 5.38 PFLOP/s against the B200's 0.4658 x 9 = 4.19 (1.28x, where the collector's NVFP4 layers
    run 1.2x: the family's FP4 rate would have made it 1.5x, the ratio of peaks)."""
    ids = {chip: catalog.calibration(catalog.chip(chip)).id for chip in ("b200", "b300", "gb200", "gb300")}
    assert ids == {"b200": "family-blackwell", "b300": "nvidia-b300-sxm-published", "gb200": "family-blackwell",
                   "gb300": "nvidia-gb300-published"}
    b200, b300 = (catalog.chip(c) for c in ("b200", "b300"))
    fp4 = {c.id: catalog.calibration(c).gemm("fp4") * c.peak("fp4") for c in (b200, b300)}
    assert fp4[b300.id] / fp4[b200.id] == pytest.approx(0.3982 * 13.5 / (0.4658 * 9), abs=1e-3)


def test_leaving_out_the_collector_s_attention_figures_gives_the_b300_the_family_s() -> None:
    from parity.crossvendor import stored_setting, without_kernel_fits

    setting = without_kernel_fits(stored_setting(), {"AIC-trtllm-b300-attn-mla128-8192"})
    assert setting.calibrations["nvidia-b300-sxm"].id == "family-blackwell"
    assert "nvidia-gb300" not in setting.calibrations
