"""Calibration inherited through the chip family tree (data/families.toml), each inheritance stated."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math

import pytest

from click.testing import CliRunner

from parity import catalog
from parity.cli import cli
from parity.errors import ParityError
from parity.predict import flags, predict_scenarios, scenario_from_row


def test_every_chip_names_a_family_and_stack() -> None:
    for chip in catalog.chips():
        assert chip.family in catalog.families(), chip.id
        assert chip.software_stack == catalog.families()[chip.family].stack, chip.id


def test_hopper_siblings_inherit_the_measured_h200() -> None:
    """H100 and H800 have no microbenchmark; they take the H200's fitted efficiencies (fp8 GEMM 0.6765,
    decode attention 0.9766, kernel overhead 25.701 us), stay marked unmeasured, and say where from. The H20
    has published GEMM and attention figures of its own (calibration/nvidia-h20.toml) and the H200's everything
    else."""
    h200 = catalog.calibration(catalog.chip("h200"))
    assert h200.measured and h200.basis.startswith("measured on this chip")
    h20 = catalog.calibration(catalog.chip("h20"))
    assert h20.memory_efficiency == 0.9221 and h20.attention_decode_efficiency == 0.9766 and h20.rows
    for name in ("h100", "h800"):
        cal = catalog.calibration(catalog.chip(name))
        assert not cal.measured
        assert cal.gemm("fp8") == 0.6765 and cal.attention_decode_efficiency == 0.9766
        assert abs(cal.kernel_overhead_s - 25.701e-6) < 1e-12
        assert cal.basis == "inherited from nvidia-h200-sxm (hopper family)"


def test_a_family_without_measurements_inherits_its_parents() -> None:
    """Rubin holds no measurement; its parent Blackwell has a family file (family-blackwell), so Rubin takes that
    and says why. Ampere's parent Hopper has no family file but a measured chip, the H200, whose it takes."""
    cal = catalog.calibration(catalog.chip("nvidia-rubin"))
    assert cal.id == "family-blackwell" and not cal.measured and cal.gemm("bf16") == 0.7046
    assert "inherited from family-blackwell" in cal.basis
    assert "rubin has no measurement of its own, so it inherits from its parent blackwell" in cal.basis
    a100 = catalog.calibration(catalog.chip("nvidia-a100-sxm"))
    assert a100.gemm("bf16") == 0.7102
    assert "inherited from nvidia-h200-sxm (hopper family)" in a100.basis
    assert "ampere has no measurement of its own" in a100.basis
    assert catalog.family_chain("cdna4") == ("cdna4", "cdna3")
    assert catalog.family_chain("rubin") == ("rubin", "blackwell", "hopper")


def test_inheritance_is_stated_in_predictions_and_show() -> None:
    runner = CliRunner()
    shown = json.loads(runner.invoke(cli, ["show", "hgx-h800", "--format", "json"]).stdout)
    assert shown["family"] == "hopper" and shown["software_stack"] == "cuda"
    assert shown["calibration"]["basis"] == "inherited from nvidia-h200-sxm (hopper family)"
    h20 = json.loads(runner.invoke(cli, ["show", "hgx-h20", "--format", "json"]).stdout)
    assert h20["calibration"]["basis"] == ("GEMM and attention measured on this chip (torch-h20-bf16-gemm, "
                                           "FlashMLA-h20-compute); the rest inherited from nvidia-h200-sxm (hopper "
                                           "family)")
    table = runner.invoke(cli, ["show", "h800", "--format", "csv"]).stdout
    assert "inherited from nvidia-h200-sxm (hopper family)" in table
    scenario = scenario_from_row({"case_id": "x", "model": "llama-3.1-8b", "system": "hgx-h800", "engine": "vllm",
                                  "isl": "128", "osl": "128", "concurrency": "1", "tp": "1"})
    raised = flags(scenario)
    (predicted,) = predict_scenarios([scenario])
    assert "calibration: inherited from nvidia-h200-sxm (hopper family)" in predicted.note
    assert any(f.text.startswith("uncalibrated chip nvidia-h800-sxm (calibration: inherited from nvidia-h200-sxm")
               for f in raised)


def test_a_family_fit_on_this_chip_names_itself_once_and_what_it_inherits() -> None:
    """`parity show mi300x` printed 'family-cdna3: measured on this chip: family-cdna3 (cdna3 family; ...)'; the
    MI355X's line said 'measured on this chip' before saying its bandwidth, collectives and launch cost are cdna3's."""
    def line(chip: str) -> str:
        result = CliRunner().invoke(cli, ["show", chip, "--format", "csv"])
        rows = csv.DictReader(io.StringIO(result.stdout))
        return next(row["as_quoted"] for row in rows if row["field"] == "calibration")

    assert line("mi300x") == ("family-cdna3: the cdna3 family's fit on this chip (rows 13: AMD-* (3), AZ-* (6), "
                              "HBL12329-* (4))")
    assert line("mi355x") == ("family-cdna4: the cdna4 family's fit, partly on this chip (rows 9: HK-* (6), AITER-* "
                              "(3)); gemm_bf16, gemm_fp4, gemm_fp8 measured; other GEMM formats and compute-bound "
                              "kinds moved from family-cdna3's by the GEMM ratio; bandwidth, collectives and launch "
                              "cost inherited from it")


def test_cdna3_calibration_transfers_azure_figures_as_ratios_to_the_h200() -> None:
    """fp8 GEMM 8192^3: MI300X 1,159.23 of 2,614.9 TFLOP/s = 0.44332, H200 1,300.6 of 1,979 = 0.65720, ratio
    0.67454; fp8 0.6765 x 0.67454 = 0.45633. STREAM: 4.09 of 5.3 TB/s = 0.77170 against 4.15 of 4.8 = 0.86458,
    ratio 0.89256; memory 0.9221 x 0.89256 = 0.82303."""
    from parity.calibrate.family import family_calibration, figures_from_rows
    figures = {f.case_id: f for f in figures_from_rows(catalog.measurements("kernels_published"))}
    chips = {c.id: c for c in catalog.chips()}
    base = catalog.calibration(catalog.chip("h200"))
    cal = family_calibration("cdna3", base, [figures["AMD-063"], figures["AMD-065"]], chips, "d")
    assert abs(cal.gemm("fp8") - 0.4563) < 1e-4 and abs(cal.memory_efficiency - 0.8230) < 1e-4
    assert catalog.calibration(catalog.chip("mi355x")).id == "family-cdna4"


FITTED_CDNA3 = ("AMD-063", "AMD-064", "AZ-gemm-fp8-16384", "AZ-gemm-fp8-32768", "AZ-gemm-fp8-6144x12288x12288",
                "AMD-065", "AZ-rccl-allreduce-8g", "AZ-rccl-allreduce-8k", "AZ-rccl-allreduce-64k",
                "HBL12329-m1-76032x13312", "HBL12329-m1-38016x13312", "HBL12329-m1-13312x17792",
                "HBL12329-m1-76032x8192")


def test_cdna3_gemm_is_the_mean_ratio_over_every_large_shape_and_its_own_figures_set_the_rest() -> None:
    """The stored family-cdna3 is what its rows give (hand-derived):
    fp8 GEMM ratios to the H200 in Azure's tables (MI300X / 2,614.9 over H200 / 1,979): 8192^3 0.67455, 4096^3
    0.57873, 16384^3 0.56228, 32768^3 0.57715, 6144x12288x12288 0.66583; geometric mean 0.60985, so fp8
    0.6765 x 0.60985 = 0.4126 and bf16 0.7102 x 0.60985 = 0.4331.
    M=1 hipBLASLt GEMMs (bytes N x K x 2 over the time, of 5.3 TB/s): 76032x13312 in 497.12 us 0.76830,
    38016x13312 in 255.54 us 0.74732, 13312x17792 in 118.96 us 0.75131, 76032x8192 in 315.77 us 0.74434;
    geometric mean 0.75276 is the memory efficiency; grouped expert GEMMs 0.8946 x 0.75276 / 0.9221 = 0.7303.
    RCCL against NCCL at 8 and 64 KB (the same bytes, so the time ratio is the bus bandwidths' inverse): 0.47 /
    0.29 = 1.62069 and 3.72 / 2.22 = 1.67568; geometric mean 1.6480 is the collective latency factor.
    Decode attention and stream move by STREAM's 0.89256 as before (0.8717, 0.8093)."""
    from parity.calibrate.family import family_calibration, figures_from_rows
    figures = {f.case_id: f for f in figures_from_rows(catalog.measurements("kernels_published"))}
    chips = {c.id: c for c in catalog.chips()}
    base = catalog.calibration(catalog.chip("h200"))
    cal = family_calibration("cdna3", base, [figures[i] for i in FITTED_CDNA3], chips, "d")
    assert cal.gemm("fp8") == pytest.approx(0.4126, abs=1e-4) and cal.gemm("bf16") == pytest.approx(0.4331, abs=1e-4)
    assert cal.memory_efficiency == pytest.approx(0.7528, abs=1e-4)
    assert cal.grouped_gemm_memory_efficiency == pytest.approx(0.7303, abs=1e-4)
    assert cal.collective_latency_factor == pytest.approx(1.6480, abs=1e-4)
    assert cal.attention_decode_efficiency == pytest.approx(0.8717, abs=1e-4)
    assert cal.stream_efficiency == pytest.approx(0.8093, abs=1e-4)
    stored = catalog.calibration(catalog.chip("mi300x"))
    assert stored.rows == FITTED_CDNA3 and stored.measured
    assert dataclasses.replace(stored, date="d", basis="") == dataclasses.replace(cal, basis="")


FITTED_CDNA4 = ("HK-mi355x-bf16-4096", "HK-mi355x-bf16-8192", "HK-mi355x-bf16-16384", "HK-mi355x-fp8-4096",
                "HK-mi355x-fp8-8192", "HK-mi355x-fp8-16384", "AITER-mi355x-fp4-4096", "AITER-mi355x-fp4-8192",
                "AITER-mi355x-fp4-16384")


def test_cdna4_gemm_is_hipkittens_mi355x_utilizations_and_the_rest_is_cdna3s() -> None:
    """The stored family-cdna4 is what its rows give relative to family-cdna3 (hand-derived), HipKittens'
    MI355X GEMMs at M = N = K (no twin: utilizations of the datasheet's dense peaks, 2,516 BF16 and 5,033 FP8):
    BF16 (PyTorch matmul) 4096 1,138.53, 8192 1,521.25, 16384 1,559.81 TFLOP/s: 0.45251, 0.60463, 0.61996,
    geometric mean 0.55356; FP8 (hipBLASLt) 2,748.78, 3,233.19, 3,293.23: 0.54615, 0.64240, 0.65433, mean 0.61231.
    The formats' mean (0.55356 x 0.61231)^0.5 = 0.58219 over CDNA3's default 0.4086 = 1.42485 moves the formats
    and compute-bound kinds no MI355X figure measures: prefill attention 0.3047 x 1.42485 = 0.4342. FP4 is AITER's
    tuned gemm_a4w4 (asm f4gemm) at the same shapes, of the 10,066 TFLOP/s dense MXFP4 peak: 2 x 4096^3 in 37.9223 us
    = 3,624.23 TFLOP/s, 0.36005; 8192^3 in 216.0155 us = 5,089.97, 0.50566; 16384^3 in 1,563.1208 us = 5,627.26,
    0.55904; geometric mean 0.4669 (it was 0.3659 x 1.42485 = 0.5214, moved), and it moves nothing else (OWN_RATE).
    No bandwidth, collective or launch figure: those stay CDNA3's (inherited, stated)."""
    from parity.calibrate.family import family_calibration, figures_from_rows
    figures = {f.case_id: f for f in figures_from_rows(catalog.measurements("kernels_published"))}
    chips = {c.id: c for c in catalog.chips()}
    cdna3 = catalog.calibration(catalog.chip("mi300x"))
    cal = family_calibration("cdna4", cdna3, [figures[i] for i in FITTED_CDNA4], chips, "d")
    assert cal.gemm("bf16") == pytest.approx(0.5536, abs=1e-4) and cal.gemm("fp8") == pytest.approx(0.6123, abs=1e-4)
    assert cal.gemm("fp4") == pytest.approx(0.4669, abs=1e-4) and cal.gemm("default") == pytest.approx(0.5822, abs=1e-4)
    assert cal.attention_prefill_efficiency == pytest.approx(0.4342, abs=1e-4)
    for name in ("memory_efficiency", "grouped_gemm_memory_efficiency", "attention_decode_efficiency",
                 "stream_efficiency", "collective_efficiency", "collective_latency_factor", "kernel_overhead_s"):
        assert getattr(cal, name) == getattr(cdna3, name), name
    stored = catalog.calibration(catalog.chip("mi355x"))
    assert stored.rows == FITTED_CDNA4 and stored.measured and stored.measured_chips == ("amd-mi355x",)
    assert dataclasses.replace(stored, date="d", basis="") == dataclasses.replace(cal, basis="")
    # MI355X's smaller GEMMs are checks; a child family stays out of the derived priors (CDNA's stack counted once)
    rows = {r["case_id"] for r in catalog.measurements("kernels_published") if r["chip"] == "amd-mi355x"}
    assert rows - set(FITTED_CDNA4) == {"HK-mi355x-bf16-1024", "HK-mi355x-bf16-2048", "HK-mi355x-fp8-1024",
                                        "HK-mi355x-fp8-2048", "AITER-mi355x-fp4-l8b-qkv", "AITER-mi355x-fp4-l8b-o",
                                        "AITER-mi355x-fp4-l8b-gateup", "AITER-mi355x-fp4-l8b-down",
                                        "AITER-mi355x-fp4-l8b-down-m1", "AITER-mi355x-fp4-ck-16384"}
    assert not rows & set(catalog.derived_prior().rows) and not rows & set(catalog.derived_prior("gpu").rows)
    # the fit rows are kernel figures only: the MI355X serving rows it is scored on (RW46-*) fitted nothing
    from parity.crossvendor import fitted_row_ids, scored_rows
    published = catalog.measurements("serving_published")
    scored = {r["case_id"] for r in scored_rows(published) if r["system"] == "mi355x-platform"}
    assert set(FITTED_CDNA4) <= fitted_row_ids() and {r for r in scored if r.startswith("RW46-")}
    assert not scored & fitted_row_ids() and not set(FITTED_CDNA4) & {r["case_id"] for r in published}


def test_a_measured_fp4_rate_sets_fp4_alone() -> None:
    """OWN_RATE (hand-derived, on family-cdna3 as the base: default 0.4086, fp8 0.4126, fp4 0.3659, prefill attention
    0.3047): an MXFP4 GEMM at 5,033 of the MI355X's 10,066 TFLOP/s sets fp4 = 0.5 and moves nothing else; beside a BF16
    GEMM at 1,509.6 of 2,516 TFLOP/s (0.6) the level is BF16's alone: 0.6 / 0.4086 = 1.46843, so fp8 0.4126 x 1.46843
    = 0.6059 and prefill attention 0.3047 x 1.46843 = 0.4474, while fp4 stays 0.5 (with the old rule the level would
    have been (0.6 x 0.5)^0.5 = 0.5477 and fp8 0.5531)."""
    from parity.calibrate.family import KernelFigure, family_calibration
    chips = {c.id: c for c in catalog.chips()}
    cdna3 = catalog.calibration(catalog.chip("mi300x"))
    fp4 = KernelFigure(case_id="x-fp4", chip="amd-mi355x", kind="gemm_fp4", achieved=5.033e15)
    bf16 = KernelFigure(case_id="x-bf16", chip="amd-mi355x", kind="gemm_bf16", achieved=1.5096e15)
    alone = family_calibration("t", cdna3, [fp4], chips, "d")
    assert alone.gemm_efficiency == {**cdna3.gemm_efficiency, "fp4": 0.5}
    assert alone.attention_prefill_efficiency == cdna3.attention_prefill_efficiency
    both = family_calibration("t", cdna3, [bf16, fp4], chips, "d")
    assert both.gemm("fp4") == 0.5 and both.gemm("bf16") == pytest.approx(0.6, abs=1e-4)
    assert both.gemm("fp8") == pytest.approx(0.6059, abs=1e-4)
    assert both.attention_prefill_efficiency == pytest.approx(0.4474, abs=1e-4)
    without = family_calibration("t", cdna3, [bf16], chips, "d")
    assert {k: v for k, v in both.gemm_efficiency.items() if k != "fp4"} == {
        k: v for k, v in without.gemm_efficiency.items() if k != "fp4"}
    assert "fp4 measured on its own kernels (fp4 0.5000) sets that format only" in both.method


def test_the_checks_are_kept_out_of_the_fit() -> None:
    """Azure's smaller GEMMs (2048^3: 40.2 us on MI300X, 1024^3: 40.4 us, a per-call floor rather than a math
    rate), its n=192 GEMM, the 1 MB all-reduce, the 62 us M=1 GEMM and FlashAttention (head dim 64 on MI300X,
    128 on H200: not the same test) are checks, and checks only."""
    rows = {r["case_id"] for r in catalog.measurements("kernels_published") if r["chip"] == "amd-mi300x"}
    checks = rows - set(FITTED_CDNA3)
    assert checks == {"AZ-gemm-fp8-2048", "AZ-gemm-fp8-1024", "AZ-gemm-fp8-1024x2145x1024",
                      "AZ-gemm-fp8-802816x192x768", "AZ-rccl-allreduce-1m", "HBL12329-m1-8192x12288",
                      "AZ-fa2-prefill"}
    assert not checks & set(catalog.derived_prior().rows)


def test_figure_kinds_that_need_a_twin_or_none_say_so() -> None:
    from parity.calibrate.family import family_calibration, figures_from_rows
    from parity.errors import ParityError
    chips = {c.id: c for c in catalog.chips()}
    base = catalog.calibration(catalog.chip("h200"))
    lone = figures_from_rows([{"case_id": "x", "chip": "amd-mi300x", "kind": "allreduce_latency", "achieved": "5e-5"}])
    with pytest.raises(ParityError, match="x: an all-reduce time needs the twin's time"):
        family_calibration("cdna3", base, lone, chips, "d")
    twinned = figures_from_rows([{"case_id": "y", "chip": "amd-mi300x", "kind": "gemm_memory", "achieved": "4e12",
                                  "twin_chip": "nvidia-h200-sxm", "twin_achieved": "4e12"}])
    with pytest.raises(ParityError, match="y: a memory-bound GEMM figure is taken as a utilization"):
        family_calibration("cdna3", base, twinned, chips, "d")
    with pytest.raises(ParityError, match="kind must be one of"):
        figures_from_rows([{"case_id": "z", "chip": "amd-mi300x", "kind": "allreduce_time", "achieved": "1"}])


def test_cdna3_collective_efficiency_is_the_rccl_bus_bandwidth_over_the_links() -> None:
    """RCCL all-reduce of 8 GB on 8 MI300X (Azure): 316.82 GB/s bus bandwidth over 7 links x 64 GB/s = 448
    GB/s a direction: 0.70719, the collective efficiency itself (no H200 ratio: NCCL's NVLS all-reduce reaches
    479.98 GB/s over 450 GB/s links by reducing in the switch). Every other efficiency keeps its fit."""
    from parity.calibrate.family import family_calibration, figures_from_rows
    figures = {f.case_id: f for f in figures_from_rows(catalog.measurements("kernels_published"))}
    chips = {c.id: c for c in catalog.chips()}
    base = catalog.calibration(catalog.chip("h200"))
    two = family_calibration("cdna3", base, [figures["AMD-063"], figures["AMD-065"]], chips, "d")
    three = family_calibration("cdna3", base, [figures["AMD-063"], figures["AMD-065"],
                                               figures["AZ-rccl-allreduce-8g"]], chips, "d")
    assert two.collective_efficiency == base.collective_efficiency == 0.8
    assert three.collective_efficiency == pytest.approx(316.82 / 448, abs=1e-4)
    assert dataclasses.replace(three, collective_efficiency=0.8, method="", rows=()) == dataclasses.replace(
        two, method="", rows=())
    assert catalog.calibration(catalog.chip("mi300x")).collective_efficiency == pytest.approx(0.7072)


def test_derived_priors_are_what_measured_families_of_the_same_architecture_class_reach() -> None:
    """A chip with no family measurement runs on what the measured families of its architecture class reach
    relative to the H200 (families.toml states each family's class). Da Vinci's GEMM ratio is the geometric
    mean of its measured formats' ratios: INT8 0.8005 x 1,504 / 1,600 / 0.67 = 1.12309 (the paper's utilization
    restated against the catalog's 1,600 TOP/s) and BF16 (328 / 376) / (286 / 312) = 0.95164 against the A800 in
    the same test: (1.12309 x 0.95164)^0.5 = 1.03382. CDNA3's is 0.60985 (Azure's fp8 GEMMs). So:
    - TPU v6e (npu class: matrix engines behind a graph compiler, as Da Vinci) runs GEMMs at 0.67 x 1.03382 = 0.6927;
    - Hygon's DCU (gpu class, with CDNA3) at 0.67 x 0.60985 = 0.4086, below the generic prior;
    - the T-Head PPU (no class stated) on every measured family: 0.67 x (0.60985 x 1.03382)^0.5 = 0.5320.
    The collective latency factor stays 1 in each: CDNA3's RCCL says nothing of another vendor's library."""
    davinci = (0.8005 * 1504 / 1600 / 0.67 * (328 / 376) / (286 / 312)) ** 0.5
    tpu = catalog.calibration(catalog.chip("tpu-v6e"))
    dcu = catalog.calibration(catalog.chip("hygon-dcu-bw200"))
    ppu = catalog.calibration(catalog.chip("alibaba-t-head-ppu"))
    assert (tpu.id, dcu.id, ppu.id) == ("derived-prior-npu", "derived-prior-gpu", "derived-prior")
    assert not (tpu.measured or dcu.measured or ppu.measured)
    assert "its architecture class" in tpu.basis and "its architecture class" not in ppu.basis
    assert tpu.gemm("default") == pytest.approx(0.67 * davinci, abs=2e-4) == pytest.approx(0.6927, abs=1e-4)
    assert dcu.gemm("default") == pytest.approx(0.67 * 0.60985, abs=2e-4)
    assert dcu.gemm("bf16") < catalog.prior_calibration().gemm("bf16")
    assert ppu.gemm("default") == pytest.approx(0.67 * (0.60985 * davinci) ** 0.5, abs=2e-4)
    assert tpu.collective_latency_factor == dcu.collective_latency_factor == ppu.collective_latency_factor == 1.0
    assert set(tpu.rows) == set(catalog.calibration(catalog.chip("910c")).rows)


def test_a_family_with_an_unknown_architecture_class_is_refused(tmp_path, monkeypatch) -> None:
    """families.toml may state gpu or npu (or nothing); anything else is a catalog error naming the family."""
    from parity.catalog import hardware as catalog_hardware
    from parity.errors import CatalogError
    from parity.hardware import Family
    (tmp_path / "families.toml").write_text('[x]\nvendor = "V"\nstack = "s"\narchitecture = "fpga"\n')
    monkeypatch.setattr(catalog_hardware, "data_dir", lambda: tmp_path)
    catalog_hardware.families.cache_clear()
    try:
        with pytest.raises(CatalogError, match="family x: architecture must be one of gpu, npu, got 'fpga'"):
            catalog_hardware.families()
    finally:
        monkeypatch.undo()
        catalog_hardware.families.cache_clear()
    with pytest.raises(ValueError, match="architecture must be one of"):
        Family(id="x", vendor="V", stack="s", architecture="fpga")


FITTED_BLACKWELL = ("AZ-gb200-fp8-4096", "AZ-gb200-fp8-8192", "AZ-gb200-fp8-16384", "AZ-gb200-fp8-32768",
                    "AZ-gb300-fp8-4096", "AZ-gb300-fp8-8192", "AZ-gb300-fp8-16384", "AZ-gb300-fp8-32768",
                    "TLX740-gb300-bf16-k4096", "TLX740-gb300-bf16-k8192",
                    "TLX740-gb300-bf16-k16384", "CW43-gb200-allreduce-8g",
                    "AIC-b200-bf16-m1-65536x51200", "AIC-b200-bf16-m1-51200x65536", "AIC-b200-bf16-m1-51200x51200",
                    "AIC-b200-fp8-m1-65536x51200", "AIC-b200-fp8-m1-51200x65536", "AIC-b200-fp8-m1-51200x51200",
                    *(f"AIC-{engine}-{chip}-fp4x8-{n}x{k}" for engine, chips in (
                        ("trtllm", ("b200", "b300", "gb200", "gb300")), ("vllm", ("b200", "b300", "gb200", "gb300")),
                        ("sglang", ("b200", "gb200", "gb300"))) for chip in chips for n in (8192, 16384)
                      for k in (8192, 16384)))


def test_blackwell_gemm_rates_are_azures_gb200_and_gb300_figures_beside_the_h200() -> None:
    """The stored family-blackwell is what its rows give relative to the H200 (hand-derived):
    FP8 cuBLASLt in Azure's harness, over the dense 5,000 TFLOP/s, against the H200's over 1,979 (CUDA 12.8 both):
    GB200 4096^3 2,834.6 vs 1,249.2 -> 0.56692 / 0.63123 = 0.89812; 8192^3 2,876.6 vs 1,269.4 -> 0.89693; 16384^3
    2,906.9 vs 1,305.0 -> 0.88165; 32768^3 2,825.6 vs 1,333.2 -> 0.83886; GB300 3,257.0 / 3,286.3 / 3,308.5 /
    3,271.3 -> 1.03196, 1.02467, 1.00345, 0.97118; geometric mean 0.94084, so fp8 0.6765 x 0.94084 = 0.6365.
    FP4: the engines' NVFP4 layers beside their FP8 ones in aiconfigurator's tables (44 shapes, engines and chips;
    each (fp4 / fp4 peak) / (fp8 / fp8 peak), recomputed from the rows below) have a geometric mean of 0.7319, so
    fp4 0.6365 x 0.7319 = 0.4658, set alone (OWN_RATE). BF16 on a GB300 (of 2,500): 1,756.31 / 1,717.37 / 1,812.09 -> 0.70252, 0.68695, 0.72484; mean 0.70460,
    the absolute level, over the H200's default 0.67 is 1.05164; with fp8's 0.94084 the byte-wide formats' mean
    ratio is 0.99470: int8 and default 0.67 x 0.99470 = 0.6664, fp32 0.8 x 0.99470 = 0.7958, tf32 0.7 x 0.99470 =
    0.6963, prefill attention 0.4996 x 0.99470 = 0.4970. NCCL all-reduce of 8 GB over a GB200 NVL72 rack: 846.82
    GB/s over 900 = 0.9409, the collective efficiency. The HBM, from aiconfigurator's GEMM database (TensorRT-LLM
    1.2.0rc5) at M = 1, a B200 of 8 TB/s against an H100 of 3.35 in the same collector: BF16 65,536 x 51,200 0.7487 /
    0.8576 = 0.8730, 51,200 x 65,536 0.9035, 51,200^2 0.9023; FP8 0.9453, 0.8882, 0.8789; geometric mean 0.89823, so
    memory 0.9221 x 0.89823 = 0.8283 and the bandwidth-bound kinds with it (grouped-GEMM memory 0.8036, decode
    attention 0.8772, stream 0.8144). No launch or small-message figure: those stay the H200's."""
    from parity.calibrate.family import family_calibration, figures_from_rows
    figures = {f.case_id: f for f in figures_from_rows(catalog.measurements("kernels_published"))}
    chips = {c.id: c for c in catalog.chips()}
    base = catalog.calibration(catalog.chip("h200"))
    cal = family_calibration("blackwell", base, [figures[i] for i in FITTED_BLACKWELL], chips, "d")
    peak = {c.id: (c.peak("fp4"), c.peak("fp8")) for c in chips.values() if c.family == "blackwell"}
    of_fp8 = [(f.achieved / peak[f.chip][0]) / (f.twin_achieved / peak[f.chip][1])
              for f in (figures[i] for i in FITTED_BLACKWELL) if f.kind == "gemm_fp4_of_fp8"]
    assert len(of_fp8) == 44 and math.exp(sum(map(math.log, of_fp8)) / 44) == pytest.approx(0.7319, abs=1e-4)
    expected = {"fp8": 0.6365, "fp4": 0.4658, "bf16": 0.7046, "int8": 0.6664, "default": 0.6664, "fp32": 0.7958,
                "tf32": 0.6963}
    assert dict(cal.gemm_efficiency) == pytest.approx(expected, abs=1e-4)
    assert cal.attention_prefill_efficiency == pytest.approx(0.4970, abs=1e-4)
    assert cal.collective_efficiency == pytest.approx(846.82 / 900, abs=1e-4)
    moved = {"memory_efficiency": 0.8283, "grouped_gemm_memory_efficiency": 0.8036,
             "attention_decode_efficiency": 0.8772, "stream_efficiency": 0.8144}
    for name, value in moved.items():
        assert getattr(cal, name) == pytest.approx(value, abs=2e-4), name
    for name in ("collective_latency_factor", "kernel_overhead_s"):
        assert getattr(cal, name) == getattr(base, name), name
    assert cal.attention_decode_math_efficiency == 0.0
    stored = catalog.calibration(catalog.chip("gb200"))
    assert stored.rows == FITTED_BLACKWELL and stored.measured_chips == (
        "nvidia-b200-sxm", "nvidia-b300-sxm", "nvidia-gb200", "nvidia-gb300")
    assert dataclasses.replace(stored, date="d", basis="") == dataclasses.replace(cal, basis="")
    # the B200 (its HBM figures) and the B300 (its FP4 layers) are measured, the B30A inherits it, stated; a child of
    # the measured chip's own family stays out of the derived priors
    assert catalog.calibration(catalog.chip("b200")).measured and catalog.calibration(catalog.chip("b300")).measured
    inherited = catalog.calibration(catalog.chip("nvidia-b30a"))
    assert inherited.id == "family-blackwell" and not inherited.measured
    assert inherited.basis.startswith("inherited from family-blackwell (measured on nvidia-b200-sxm, nvidia-b300-sxm, "
                                      "nvidia-gb200, nvidia-gb300; rows 62: AZ-* (8), TLX740-* (3), "
                                      "CW43-gb200-allreduce-8g, AIC-* (50))")
    assert not set(FITTED_BLACKWELL) & set(catalog.derived_prior().rows)
    assert not set(FITTED_BLACKWELL) & set(catalog.derived_prior("gpu").rows)


def test_an_fp4_gemm_figure_is_a_utilization_of_the_fp4_peak() -> None:
    """gemm_fp4: GB200 FP4 16384^3, 7,627.6 TFLOP/s over the dense 10,000 = 0.76276, the fp4 efficiency itself
    (no twin: Hopper has no FP4 unit); a measured FP4 rate sets FP4 alone (OWN_RATE), so the H200's other formats
    stay (bf16 0.7102)."""
    from parity.calibrate.family import family_calibration, figures_from_rows
    figures = {f.case_id: f for f in figures_from_rows(catalog.measurements("kernels_published"))}
    chips = {c.id: c for c in catalog.chips()}
    base = catalog.calibration(catalog.chip("h200"))
    cal = family_calibration("blackwell", base, [figures["AZ-gb200-fp4-16384"]], chips, "d")
    assert cal.gemm("fp4") == pytest.approx(0.7628, abs=1e-4) and cal.gemm("bf16") == pytest.approx(0.7102, abs=1e-4)


def test_an_fp4_layer_beside_an_fp8_one_sets_fp4_from_the_fp8_rate() -> None:
    """gemm_fp4_of_fp8 (hand-derived): TensorRT-LLM 1.3.0rc20's NVFP4 layer at M = N = K = 8,192 on a B200, 3,864.0
    TFLOP/s of the dense 9,000 = 0.42933, beside its FP8 layer, 2,335.1 of 4,500 = 0.51891: 0.82738 of FP8's efficiency;
    on the H200 as the base (fp8 0.6765) fp4 = 0.6765 x 0.82738 = 0.5597, and nothing else moves. A figure whose FP8
    layer ran on another chip, or FP4 set twice (beside a gemm_fp4 utilization), is refused."""
    from parity.calibrate.family import KernelFigure, family_calibration
    chips = {c.id: c for c in catalog.chips()}
    base = catalog.calibration(catalog.chip("h200"))
    fig = KernelFigure(case_id="x", chip="nvidia-b200-sxm", kind="gemm_fp4_of_fp8", achieved=3.864e15,
                       twin="nvidia-b200-sxm", twin_achieved=2.3351e15)
    cal = family_calibration("t", base, [fig], chips, "d")
    assert cal.gemm("fp4") == pytest.approx(0.6765 * 0.82738, abs=1e-4)
    assert {k: v for k, v in cal.gemm_efficiency.items() if k != "fp4"} == {
        k: v for k, v in base.gemm_efficiency.items() if k != "fp4"}
    assert cal.attention_prefill_efficiency == base.attention_prefill_efficiency
    with pytest.raises(ParityError, match="same chip"):
        family_calibration("t", base, [dataclasses.replace(fig, twin="nvidia-h200-sxm")], chips, "d")
    utilization = KernelFigure(case_id="y", chip="nvidia-gb200", kind="gemm_fp4", achieved=7.5e15)
    with pytest.raises(ParityError, match="FP4 set twice"):
        family_calibration("t", base, [fig, utilization], chips, "d")


def test_blackwell_checks_are_kept_out_of_the_fit() -> None:
    """Azure's smaller and n=192 GEMMs, FP4 at 4096^3 (~25 us, a per-call floor), the 4-GPU forced-ring all-reduce
    and its small messages (not the H200's 8-GPU NVLS test), FlashMLA's B200 attention figures, memory-bound GEMMs
    under 100 us, NVFP4's M = 1 GEMMs (a format-specific rate parity does not model) and the routed-expert op rows are
    checks, and checks only."""
    blackwell = {c.id for c in catalog.chips() if c.family == "blackwell"}
    rows = {r["case_id"] for r in catalog.measurements("kernels_published") if r["chip"] in blackwell}
    checks = rows - set(FITTED_BLACKWELL)
    assert {"AZ-gb200-fp4-4096", "AZ-gb300-fp4-4096", "AZ-gb200-fp4-8192", "AZ-gb300-fp4-32768", "AZ-gb200-fp8-2048", "AZ-gb200-allreduce-8g",
            "AZ-gb200-allreduce-8k", "FlashMLA-b200-dsa-prefill", "FI1732-b200-nvfp4-m1-8192",
            "SGL32787-gb200-fp8-m1-tp8", "FI5301-nvfp4-16384", "AIC-b200-nvfp4-m1-65536x51200"} <= checks
    assert not checks & set(catalog.calibration(catalog.chip("gb200")).rows)


def test_a_child_of_the_measured_chips_family_stays_out_of_the_priors() -> None:
    """A family fitted relative to the H200 whose parent is the H200's own family (Blackwell of Hopper) would count
    the CUDA stack twice in the derived priors: architecture_priors leaves it out when told the measured chip's family,
    and keeps it otherwise."""
    from parity.calibrate.family import architecture_priors, family_calibration, figures_from_rows
    figures = {f.case_id: f for f in figures_from_rows(catalog.measurements("kernels_published"))}
    chips = {c.id: c for c in catalog.chips()}
    base = catalog.calibration(catalog.chip("h200"))
    blackwell = family_calibration("blackwell", base, [figures["AZ-gb200-fp4-16384"]], chips, "d")
    cdna3 = catalog.calibration(catalog.chip("mi300x"))
    tree = catalog.families()
    kept = architecture_priors(base, [cdna3, blackwell], tree, "d")
    left = architecture_priors(base, [cdna3, blackwell], tree, "d", catalog.chip("h200").family)
    assert "AZ-gb200-fp4-16384" in kept[""].rows and "AZ-gb200-fp4-16384" in kept["gpu"].rows
    assert left[""].rows == left["gpu"].rows == cdna3.rows
