"""The Da Vinci (Ascend 910B / 910C) family calibration from op-level figures, each number from its rows."""

from __future__ import annotations

import pytest

from parity import catalog
from parity.calibrate.family import family_calibration, figures_from_rows


def _fit(*ids: str):
    figures = {f.case_id: f for f in figures_from_rows(catalog.measurements("kernels_published"))}
    chips = {c.id: c for c in catalog.chips()}
    base = catalog.calibration(catalog.chip("h200"))
    return family_calibration("davinci-910", base, [figures[i] for i in ids], chips, "d")


def test_910b_figures_move_bf16_gemm_memory_collectives_and_launch() -> None:
    """limulidae, the same scripts on a 910B and an A800: BF16 GEMM 328 of 376 TFLOP/s = 0.87234 against 286 of
    312 = 0.91667, ratio 0.95164, so bf16 0.7102 x 0.95164 = 0.67587; torch.exp 2 x 642 = 1,284 of 1,600 GB/s =
    0.80250 against 2 x 884 = 1,768 of 2,039 = 0.86709, ratio 0.92551, so memory 0.9221 x 0.92551 = 0.85341;
    HCCL all-reduce 72 GB/s x 2 x 7/8 = 126 GB/s bus bandwidth over 392/2 = 196 GB/s a direction = 0.64286, the
    collective efficiency itself; ascend-rs: a small kernel's launch and sync 28 us, the eager per-kernel cost."""
    cal = _fit("LIM-910b-bf16-gemm", "LIM-910b-exp-membw", "LIM-910b-allreduce-8", "ARS-910b3-launch")
    assert cal.gemm("bf16") == pytest.approx(0.67587, abs=1e-4)
    assert cal.memory_efficiency == pytest.approx(0.85341, abs=1e-4)
    assert cal.collective_efficiency == pytest.approx(0.64286, abs=1e-4)
    assert cal.kernel_overhead_s == pytest.approx(28e-6)
    assert "ARS-910b3-launch launch_overhead 28.0 us" in cal.method


def test_a_measured_utilization_and_a_twinned_format_each_keep_their_own_value() -> None:
    """B06 (INT8 80.05% of the paper's 1,504 TOP/s = 0.75247 of the catalog's 1,600: 1.12309 x the H200's 0.67)
    and LIM BF16 (ratio 0.95164 to the A800): int8 stays 0.7525 and bf16 0.6759; formats with no figure move by
    the geometric mean of the two ratios, (1.12309 x 0.95164)^0.5 = 1.03383: fp8 0.6765 x 1.03383 = 0.69939.
    The stored file is what the fit writes, naming all its rows."""
    cal = _fit("B06-int8-gemm", "LIM-910b-bf16-gemm")
    assert cal.gemm("int8") == pytest.approx(0.7525, abs=1e-4)
    assert cal.gemm("bf16") == pytest.approx(0.6759, abs=1e-4)
    assert cal.gemm("fp8") == pytest.approx(0.69939, abs=1e-4)
    stored = catalog.calibration(catalog.chip("huawei-ascend-910c"))
    assert stored.gemm("int8") == cal.gemm("int8") and stored.gemm("bf16") == cal.gemm("bf16")
    assert stored.gemm("fp8") == cal.gemm("fp8")
    assert set(stored.rows) == {"B06-int8-gemm", "B06-mla-compute", "B06-mla-memory", "LIM-910b-bf16-gemm",
                                "LIM-910b-exp-membw", "LIM-910b-allreduce-8", "ARS-910b3-launch"}
    assert stored.kernel_overhead_s == pytest.approx(28e-6) and stored.collective_efficiency == pytest.approx(0.6429)


def test_910b_910c_and_950_share_the_family_calibration() -> None:
    """The 910B's figures reach the 910C (two 910B-class dies) through the family; the 950 inherits it as its
    parent family's (data/families.toml states both)."""
    ids = {catalog.calibration(catalog.chip(c)).id for c in ("huawei-ascend-910b", "huawei-ascend-910c",
                                                               "huawei-ascend-950dt")}
    assert ids == {"family-davinci-910"}
    families = catalog.families()
    assert all(r in families["davinci-910"].note for r in ("B06", "LIM-910b-bf16-gemm", "ARS-910b3-launch"))
    assert families["davinci-950"].parent == "davinci-910" and "inherit" in families["davinci-950"].note


def test_leaving_out_the_cloudmatrix_paper_refits_da_vinci_on_the_910b_figures() -> None:
    """Without B06 (the CloudMatrix384 paper's, dropped when that source is left out) Da Vinci is refitted on
    LIM and ARS alone: every GEMM format moves by the BF16 ratio, INT8 0.67 x 0.95164 = 0.63760; memory and
    decode attention by the torch.exp ratio, 0.9221 x 0.92551 = 0.85341 and 0.9766 x 0.92551 = 0.90385;
    collective efficiency 0.64286 and kernel overhead 28 us stay. Leaving out every row drops the family:
    the 910C falls to the derived prior."""
    from parity.crossvendor import stored_setting, without_kernel_fits

    b06 = {"B06-int8-gemm", "B06-mla-compute", "B06-mla-memory"}
    cal = without_kernel_fits(stored_setting(), b06).calibrations["huawei-ascend-910c"]
    assert cal.rows == ("LIM-910b-bf16-gemm", "LIM-910b-exp-membw", "LIM-910b-allreduce-8", "ARS-910b3-launch")
    assert cal.gemm("int8") == pytest.approx(0.63760, abs=1e-4)
    assert cal.memory_efficiency == pytest.approx(0.85341, abs=1e-4)
    assert cal.attention_decode_efficiency == pytest.approx(0.90385, abs=1e-4)
    assert cal.collective_efficiency == pytest.approx(0.64286, abs=1e-4) and cal.kernel_overhead_s == 28e-6
    everything = b06 | set(cal.rows)
    assert without_kernel_fits(stored_setting(), everything).calibrations["huawei-ascend-910c"].id.startswith(
        "derived-prior-without-davinci-910")
