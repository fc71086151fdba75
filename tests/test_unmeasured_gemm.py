"""A fitted calibration measures some GEMM formats and moves the others with them: a case whose weights run an
unmeasured one says so (uncertainty.unmeasured_gemm), in its flags and in compare's note."""

from __future__ import annotations

from parity import catalog
from parity.cli.fleet_cmd import _legend
from parity.compare import compare
from parity.cost import math_unit
from parity.dtypes import format_named
from parity.uncertainty import UNMEASURED_GEMM_WORDS, unmeasured_gemm


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
    """compare runs Llama-3.1-70B in each chip's narrowest native format: on the H20 FP8, whose rate is the H200's moved
    by the H20's measured BF16 ratio, so the row says so and carries the flag; on the MI355X MXFP4, measured (AITER's
    tuned FP4 GEMMs), so it does not."""
    h20, mi355x = compare([catalog.system("hgx-h20"), catalog.system("mi355x-platform")],
                          catalog.model("llama-3.1-70b"), catalog.engine("generic"), ttft_s=5.0)
    assert h20.weights == "fp8" and "fp8 GEMM rate not measured" in h20.note
    assert any(f.text.startswith("fp8 GEMM rate not measured on nvidia-h20") for f in h20.flags)
    assert mi355x.weights == "mxfp4" and "GEMM rate not measured" not in mi355x.note


def test_the_h20_fp8_flag_names_the_h200_that_measured_it_as_show_does() -> None:
    """`show nvidia-h20` says its FP8 GEMM is inherited from the H200 (the H200's 503 microbenchmark points, moved by
    the fits' ratios: nvidia-h20-published moves formats without a figure of their own by its BF16 ratio, 1.1619),
    and compare's flag said 'fp8 moved with them', its caption 'no chip ... measured format X's GEMM rate'
    (report-only tester fixev2 1): the flag now names the H200, from the same trace."""
    source = catalog.calibration_statement(catalog.chip("nvidia-h20"),
                                           catalog.calibration(catalog.chip("nvidia-h20"))).figure("GEMM fp8")
    assert (source.how, source.chips, source.calibration, source.moved) == (
        "inherited", ("nvidia-h200-sxm",), "nvidia-h200-sxm-measured", True)
    assert _flag("nvidia-h20", "fp8") == ("fp8 GEMM rate not measured on nvidia-h20 (nvidia-h20-published measures "
                                          "bf16; fp8 is the rate nvidia-h200-sxm measured, moved by the fits' ratios)")
    assert _flag("nvidia-h20", "int8") == ("int8 GEMM rate not measured on nvidia-h20 (nvidia-h20-published measures "
                                           "bf16; no chip its calibration draws on measured int8: it moved with the "
                                           "formats measured)")


def test_every_chip_s_flag_agrees_with_the_source_show_traces() -> None:
    """One rule for the flag and `show`'s 'calibrated' line (catalog.figure_source): a chip is flagged for a format
    exactly where its GEMM rate was measured on no chip, or on another chip and moved by a fit's ratios; the flag
    names the chips `show` names for it, and says 'no chip' only where `show` says 'measured on no chip'."""
    flagged = 0
    for chip in catalog.chips():
        cal = catalog.calibration(chip)
        for weights in ("bf16", "fp8", "int8", "mxfp4", "w4a6_mxfp4"):
            math = math_unit(format_named(weights), chip)[0]
            source = catalog.figure_source(chip, cal, f"GEMM {math}")
            flag = unmeasured_gemm(cal, chip, weights)
            assert (flag is not None) == (source.how == "unmeasured" or (source.how == "inherited" and source.moved))
            if flag is None:
                continue
            flagged += 1
            said = flag.text.split(" (", 1)[1]
            if source.how == "inherited":
                assert f"{math} is the rate {', '.join(source.chips)} measured, moved by the fits' ratios" in said
            else:
                assert f"no chip its calibration draws on measured {math}" in said, (chip.id, said)
    assert flagged > 20


def test_the_captions_that_explain_the_flag_say_the_one_rule() -> None:
    """compare's caption, fleet's legend and the HTML report's notes explain 'X GEMM rate not measured' in one text,
    which names both ways a rate goes unmeasured on a chip (fleet's said 'no chip its calibration draws on measured
    format X's GEMM rate', false of the H20's FP8, the H200's)."""
    assert UNMEASURED_GEMM_WORDS.startswith("'X GEMM rate not measured': no kernel figure of the chip itself measured "
                                            "format X's GEMM rate: it is another chip's measured rate moved by the "
                                            "fits' ratios, or no chip its calibration draws on measured X")
    assert UNMEASURED_GEMM_WORDS in _legend(["fp8 GEMM rate not measured; power assumed"], False)
    assert _legend(["power assumed"], False).count("GEMM") == 0
