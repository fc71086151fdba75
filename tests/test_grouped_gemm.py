"""Routed-expert (grouped) GEMM rates: the roofline fit of TRT-LLM's NVFP4 MoE op on a B300 (flashinfer#5301) and
how a calibration that states one prices grouped GEMMs. The fit is not applied to Blackwell (rows FI* are checks:
measurements/README.md says why); a calibration file with [grouped_gemm_efficiency] applies it."""

from __future__ import annotations

import dataclasses

import pytest

from parity import catalog
from parity.calibrate.family import family_calibration, figures_from_rows, grouped_gemm_fit
from parity.cost import price_kernel
from parity.errors import ParityError
from parity.ops import Kernel

FITTED = ("FI5301-nvfp4-1", "FI5301-nvfp4-8192", "FI5301-nvfp4-16384")


def _figures() -> dict:
    return {f.case_id: f for f in figures_from_rows(catalog.measurements("kernels_published"))}


def test_fit_reproduces_the_hand_derived_rate_and_half() -> None:
    """t1 = 0.025697 ms; 16,384 tokens (512 a local expert): 16,384 x 6 x 7,168 x 2,048 = 1.44311e12 FLOP in
    0.622597 - 0.025697 = 0.596900 ms, 2.41768 PFLOP/s = 0.179087 of the B300's 13.5 PFLOP/s; 8,192 tokens (256):
    0.721555e12 FLOP in 0.359843 ms = 2.00520 PFLOP/s = 0.148533. 0.179087 / 0.148533 = 1.20571 = 2 (256 + h) /
    (512 + h): h = 105.32 / 0.79429 = 132.6 (the 0.25-token grid: 132.5); rate 0.148533 x (256 + 132.5) / 256 =
    0.22545 (0.179087 x 644.5 / 512 = 0.22543)."""
    figures = _figures()
    rates, half = grouped_gemm_fit([figures[i] for i in FITTED], catalog.chip("b300"))
    assert half == 132.5
    assert rates == {"fp4": pytest.approx(0.2254, abs=1e-4)}


def _fitted():
    """Blackwell's calibration as scripts/fit_families.py would write it from the three rows."""
    base = catalog.calibration(catalog.chip("h200"))
    figures = _figures()
    return family_calibration("blackwell", base, [figures[i] for i in FITTED], {c.id: c for c in catalog.chips()},
                              "2026-12-03")


def test_the_fit_moves_only_the_grouped_rate_and_is_not_applied() -> None:
    """A family fitted on the three rows is the H200's calibration with the grouped fp4 rate 0.2254 and half 132.5;
    the stored family-blackwell is fitted on other rows (the rows are checks), so the B200 and B300 state no grouped
    rate and price grouped fp4 GEMMs at their dense fp4 rate: the family's 0.4658 on the B200, the B300's own file's
    0.3982 (its FP4 layers beside its FP8 ones, scripts/fit_families.py ULTRA)."""
    fitted = _fitted()
    base = catalog.calibration(catalog.chip("h200"))
    assert dict(fitted.grouped_gemm_efficiency) == {"fp4": 0.2254} and fitted.grouped_gemm_half_tokens == 132.5
    assert dict(fitted.gemm_efficiency) == dict(base.gemm_efficiency)
    assert fitted.grouped_gemm_memory_efficiency == base.grouped_gemm_memory_efficiency
    assert fitted.rows == FITTED and "grouped_gemm_fit on FI5301-nvfp4-1" in fitted.method
    for chip, stored, fp4 in (("b200", "family-blackwell", 0.4658), ("b300", "nvidia-b300-sxm-published", 0.3982)):
        cal = catalog.calibration(catalog.chip(chip))
        assert cal.id == stored and not cal.grouped_gemm_efficiency
        assert cal.grouped_gemm("fp4", 512) == cal.gemm("fp4") == fp4
    assert not any(r.startswith("FI") for c in catalog.calibrations() for r in c.rows)


def test_grouped_rate_depends_on_tokens_per_expert_and_falls_back_to_the_gemm() -> None:
    """B300 fp4 at 512 tokens a local expert: 0.2254 x 512 / 644.5 = 0.179062; 13.5e15 x 0.179062 = 2.41734 PFLOP/s,
    so 1.44311e12 FLOP take 0.596981 ms (math-bound: 32 experts x 3 x 7,168 x 2,048 x 0.5625 B = 0.792723 GB over
    8 TB/s x 0.8946 = 0.110766 ms). fp8 has no grouped figure: the GEMM's 0.6765. The H200 has none at all."""
    cal = _fitted()
    assert cal.grouped_gemm("fp4", 512) == pytest.approx(0.2254 * 512 / 644.5)
    assert cal.grouped_gemm("fp8", 512) == 0.6765
    h200 = catalog.calibration(catalog.chip("h200"))
    assert h200.grouped_gemm("fp8", 4) == h200.gemm("fp8")
    flops = 16384 * 6 * 7168 * 2048
    kernel = Kernel(name="experts", kind="grouped_gemm", flops=flops, weight_bytes=32 * 3 * 7168 * 2048 * 0.5625,
                    other_bytes=0.0, fmt="nvfp4", tokens=512.0, launches=0.0)
    cost = price_kernel(kernel, catalog.chip("b300"), cal)
    assert cost.compute_s == pytest.approx(0.596981e-3, rel=1e-5) and cost.memory_s == 0.0


def test_bad_grouped_rows_and_values_are_refused() -> None:
    row = {"case_id": "x", "chip": "nvidia-b200-sxm", "kind": "grouped_gemm_fp4", "achieved": "1e-4", "unit": "s"}
    with pytest.raises(ParityError, match="tokens_per_expert and flop"):
        figures_from_rows([row])
    figures = _figures()
    with pytest.raises(ParityError, match="fixed-cost"):
        grouped_gemm_fit([figures["FI5301-nvfp4-1"]], catalog.chip("b300"))
    with pytest.raises(ValueError, match="grouped_gemm_efficiency"):
        dataclasses.replace(_fitted(), grouped_gemm_efficiency={"fp4": 1.5})


def test_the_roofline_holds_on_the_rows_it_did_not_fit() -> None:
    """The checks: t1 + max(flop / (peak x rate(m)), weights / (8 TB/s x 0.8946)) against every other TRT-LLM NVFP4,
    MXFP8 and BF16 latency of the same op, weights of the experts a count reaches (32 x (1 - (255/256)^(8n)), at
    least one) at 0.5625 / 1.03125 / 2 B a weight. 16-512 tokens: within 5% (NVFP4), MXFP8 64-512 and BF16 256-2,048
    within 8%; TRT-LLM's NVFP4 tactic at 1,024-2,048 tokens runs 32-39% slower than the roofline (CuteDSL's W4A4
    kernel does not: 0.206 ms at 1,024)."""
    cal = _fitted()
    chip = catalog.chip("b300")
    figures = _figures()
    width = {"fp4": 0.5625, "fp8": 1 + 1 / 32, "bf16": 2.0}
    off = {}
    for f in figures.values():
        if not f.kind.startswith("grouped_gemm_") or f.tokens_per_expert < 0.5 or f.case_id in FITTED:
            continue
        math_key = f.kind.removeprefix("grouped_gemm_")
        n = f.tokens_per_expert * 32
        active = min(max(32 * (1 - (255 / 256) ** (8 * n)), 1.0), 32.0)
        t1 = figures[f"FI5301-{f.kind.removeprefix('grouped_gemm_').replace('fp4', 'nvfp4').replace('fp8', 'mxfp8')}-1"]
        t = t1.achieved + max(f.flop / (chip.peak(math_key) * cal.grouped_gemm(math_key, n / active)),
                              active * 3 * 7168 * 2048 * width[math_key] / (chip.memory_bytes_per_s * 0.8946))
        off[f.case_id] = t / f.achieved - 1
    assert all(abs(off[f"FI5301-nvfp4-{n}"]) < 0.05 for n in (16, 32, 64, 128, 256, 512))
    assert all(abs(off[i]) < 0.08 for i in off if "mxfp8" in i or ("bf16" in i and "4096" not in i))
    assert -0.40 < off["FI5301-nvfp4-1024"] < -0.30 and -0.40 < off["FI5301-nvfp4-2048"] < -0.30


def test_a_calibration_file_states_grouped_rates_and_engines_keep_them() -> None:
    """A calibration TOML's [grouped_gemm_efficiency] and grouped_gemm_half_tokens load as stated; an engine's
    kernel-quality multipliers leave a measured grouped rate as it is (TRT-LLM: gemm_scale 1.17113, so fp8 0.6765 ->
    0.79227) and an older version's grouped_gemm time ratio divides it (2: 0.2254 -> 0.1127)."""
    import tomllib

    from parity.calibrate.family import family_toml
    from parity.catalog.profiles.calibration_files import _calibration_from
    from parity.engine import EngineKernel
    from parity.serving.deployment import engine_calibration, with_kernels
    fitted = _fitted()
    loaded = _calibration_from(tomllib.loads(family_toml(fitted)), catalog.data_dir() / "calibration" / "test.toml")
    assert dict(loaded.grouped_gemm_efficiency) == {"fp4": 0.2254} and loaded.grouped_gemm_half_tokens == 132.5
    trtllm = catalog.engine("trtllm")
    run = engine_calibration(loaded, trtllm)
    assert dict(run.grouped_gemm_efficiency) == {"fp4": 0.2254}
    assert run.gemm("fp8") == pytest.approx(min(0.6765 * trtllm.gemm_scale, 1.0))
    older = EngineKernel(engine="trtllm", since=(0,), until=(1,), op="grouped_gemm", time_ratio=2.0)
    slowed, _ = with_kernels(run, trtllm, [older])
    assert slowed.grouped_gemm_efficiency["fp4"] == pytest.approx(0.1127)
