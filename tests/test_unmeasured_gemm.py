"""A fitted calibration measures some GEMM formats and moves the others with them: a case whose weights run an
unmeasured one says so (uncertainty.unmeasured_gemm), in its flags and in compare's note."""

from __future__ import annotations

from parity import catalog
from parity.compare import compare
from parity.uncertainty import unmeasured_gemm


def _flag(chip: str, weights: str) -> str:
    the_chip = catalog.chip(chip)
    return unmeasured_gemm(catalog.calibration(the_chip), the_chip, weights)


def test_the_formats_a_calibration_measured_are_its_kernel_rows_gemm_kinds() -> None:
    """family-cdna4: HipKittens' BF16 and FP8 GEMMs on an MI355X (rows HK-mi355x-*); family-cdna3: FP8 GEMMs alone
    (Azure's and AMD's hipBLASLt figures); the Da Vinci family: the 910C's INT8 and the 910B's BF16; the H200's own
    calibration (parity calibrate's microbenchmarks, not kernels_published.csv rows) names none."""
    def formats(chip: str) -> list[str]:
        return sorted(catalog.measured_gemm_formats(catalog.calibration(catalog.chip(chip)).rows))
    assert formats("amd-mi355x") == ["bf16", "fp8"]
    assert formats("amd-mi300x") == ["fp8"]
    assert formats("huawei-ascend-910c") == ["bf16", "int8"]
    assert formats("nvidia-h200-sxm") == []


def test_an_unmeasured_format_is_flagged_and_a_measured_one_is_not() -> None:
    """MXFP4 on the MI355X runs the FP4 unit, whose rate family-cdna4 moved with its measured BF16 and FP8 (x1.42):
    flagged. FP8 there, FP8 on the MI300X and anything on the H200 (no format named): not. BF16 on the MI300X, whose
    family measured FP8 alone: flagged."""
    assert _flag("amd-mi355x", "mxfp4") == ("fp4 GEMM rate not measured on amd-mi355x (family-cdna4 measures bf16, "
                                            "fp8; fp4 moved with them)")
    assert _flag("amd-mi355x", "fp8") == ""
    assert _flag("amd-mi300x", "fp8") == ""
    assert _flag("nvidia-h200-sxm", "fp8") == ""
    assert _flag("amd-mi300x", "bf16").startswith("bf16 GEMM rate not measured on amd-mi300x")


def test_compare_notes_an_unmeasured_format() -> None:
    """compare runs Llama-3.1-70B on the MI355X in MXFP4 (its narrowest native format): the row says the FP4 rate is
    not measured and carries the flag; the B200 (the H200's calibration, which names no format) does not."""
    mi355x, b200 = compare([catalog.system("mi355x-platform"), catalog.system("hgx-b200")],
                           catalog.model("llama-3.1-70b"), catalog.engine("generic"), ttft_s=5.0)
    assert mi355x.weights == "mxfp4" and "fp4 GEMM rate not measured" in mi355x.note
    assert any(f.startswith("fp4 GEMM rate not measured on amd-mi355x") for f in mi355x.flags)
    assert "GEMM rate not measured" not in b200.note
