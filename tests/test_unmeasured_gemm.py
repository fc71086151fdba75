"""A fitted calibration measures some GEMM formats and moves the others with them: a case whose weights run an
unmeasured one says so (uncertainty.unmeasured_gemm), in its flags and in compare's note."""

from __future__ import annotations

from parity import catalog
from parity.compare import compare
from parity.uncertainty import unmeasured_gemm


def _flag(chip: str, weights: str) -> str:
    """The flag's whole text, '' where there is none."""
    the_chip = catalog.chip(chip)
    flag = unmeasured_gemm(catalog.calibration(the_chip), the_chip, weights)
    return flag.text if flag else ""


def test_the_formats_a_calibration_measured_are_its_kernel_rows_gemm_kinds() -> None:
    """family-cdna4: HipKittens' BF16 and FP8 GEMMs on an MI355X (rows HK-mi355x-*) and AITER's tuned MXFP4 GEMMs
    (AITER-mi355x-fp4-*); family-cdna3: FP8 GEMMs alone
    (Azure's and AMD's hipBLASLt figures); the Da Vinci family: the 910C's INT8 and the 910B's BF16; the H200's own
    calibration (parity calibrate's microbenchmarks, not kernels_published.csv rows) names none."""
    def formats(chip: str) -> list[str]:
        return sorted(catalog.measured_gemm_formats(catalog.calibration(catalog.chip(chip)).rows))
    assert formats("amd-mi355x") == ["bf16", "fp4", "fp8"]
    assert formats("amd-mi300x") == ["fp8"]
    assert formats("huawei-ascend-910c") == ["bf16", "int8"]
    assert formats("nvidia-h200-sxm") == []


def test_an_unmeasured_format_is_flagged_and_a_measured_one_is_not() -> None:
    """MXFP4 and FP8 on the MI355X (family-cdna4 measures both), FP8 on the MI300X and anything on the H200 (no format
    named): not flagged. BF16 on the MI300X, whose family measured FP8 alone: flagged; so is FP8 on the H20, whose own
    calibration measured BF16."""
    assert _flag("amd-mi355x", "mxfp4") == ""
    assert _flag("amd-mi355x", "fp8") == ""
    assert _flag("amd-mi300x", "fp8") == ""
    assert _flag("nvidia-h200-sxm", "fp8") == ""
    assert _flag("amd-mi300x", "bf16").startswith("bf16 GEMM rate not measured on amd-mi300x")
    assert _flag("nvidia-h20", "fp8").startswith("fp8 GEMM rate not measured on nvidia-h20")


def test_compare_notes_an_unmeasured_format() -> None:
    """compare runs Llama-3.1-70B in each chip's narrowest native format: on the H20 FP8, whose rate its calibration
    moved with the measured BF16, so the row says so and carries the flag; on the MI355X MXFP4, measured (AITER's
    tuned FP4 GEMMs), so it does not."""
    h20, mi355x = compare([catalog.system("hgx-h20"), catalog.system("mi355x-platform")],
                          catalog.model("llama-3.1-70b"), catalog.engine("generic"), ttft_s=5.0)
    assert h20.weights == "fp8" and "fp8 GEMM rate not measured" in h20.note
    assert any(f.text.startswith("fp8 GEMM rate not measured on nvidia-h20") for f in h20.flags)
    assert mi355x.weights == "mxfp4" and "GEMM rate not measured" not in mi355x.note
