"""Rates a prediction assumes rather than measures are flagged: a format run emulated on a wider unit (at the
calibration's emulation_efficiency, generic.toml's prior, which no calibration measures) and MTP drafts past the
deepest depth whose acceptance was measured (fuzz 23b 2.1, 5.1), in serve's, compare's, formats' and fleet's
flags and the brief in their notes."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from parity import catalog
from parity.cli import cli
from parity.compare import compare
from parity.uncertainty import assumed_emulation, case_flags

EMULATED = ("emulation rate assumed: hif8 on bf16 at 0.8 of the wider unit, no measurement (family-davinci-910 "
            "carries the prior)")
EXTRAPOLATED = "MTP acceptance extrapolated past 3 draft tokens: 1.91 of 4 kept a step (deepseek-r1's measured to 3)"


def _serve_flags(*extra: str) -> list[str]:
    result = CliRunner().invoke(cli, ["serve", "--model", "deepseek-r1", "--system", "cloudmatrix-384", "--tp", "16",
                                      "--model-kind", "steady", "--format", "json", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["flags"]


def _emulated(chip: str, *formats: str) -> str:
    the_chip = catalog.chip(chip)
    flag = assumed_emulation(catalog.calibration(the_chip), the_chip, formats)
    return flag.text if flag else ""


def test_a_format_run_emulated_says_its_rate_is_assumed() -> None:
    """The 910C has no FP8 or FP4 math: HiF8, NVFP4 and the experts' MXFP4 run on its BF16 unit at 0.8 of its rate,
    the prior of generic.toml, while its calibration line read 'measured on this chip'. NVFP4 on the H100 runs on its
    FP8 unit alike. Native INT8 and BF16 raise nothing."""
    assert _emulated("huawei-ascend-910c", "hif8", "hif8") == EMULATED
    assert _emulated("huawei-ascend-910c", "int8", "mxfp4") == (
        "emulation rate assumed: mxfp4 on bf16 at 0.8 of the wider unit, no measurement (family-davinci-910 carries "
        "the prior)")
    assert _emulated("nvidia-h100-sxm", "nvfp4", "") == (
        "emulation rate assumed: nvfp4 on fp8 at 0.8 of the wider unit, no measurement (nvidia-h200-sxm-measured "
        "carries the prior)")
    assert _emulated("huawei-ascend-910c", "int8", "bf16") == ""
    assert _serve_flags("--weights", "hif8")[0] == EMULATED  # serve's JSON lists its flags, as compare's does
    assert not any("emulation" in flag for flag in _serve_flags("--weights", "int8"))


def test_an_uncalibrated_chip_still_flags_its_emulated_rate() -> None:
    """The MI325X inherits the MI300X's cdna3 calibration and emulates MXFP4 on FP8 at the same assumed 0.8: its
    rows carried the uncalibrated flag alone, the MI300X's the emulation flag; both hold, so both are raised."""
    kinds = {s: [f.kind for f in case_flags([(catalog.system(s), None)], catalog.model("gpt-oss-120b"),
                                            catalog.engine("vllm-rocm"), (), weights="mxfp4", expert_weights="mxfp4")]
             for s in ("mi300x-platform", "mi325x-platform")}
    assert [k for k in kinds["mi300x-platform"] if k in ("uncalibrated chip", "emulation rate assumed")] == [
        "emulation rate assumed"]
    assert [k for k in kinds["mi325x-platform"] if k in ("uncalibrated chip", "emulation rate assumed")] == [
        "uncalibrated chip", "emulation rate assumed"]
    assert _emulated("amd-mi325x", "mxfp4", "") == (
        "emulation rate assumed: mxfp4 on fp8 at 0.8 of the wider unit, no measurement (family-cdna3 carries the "
        "prior)")


@pytest.mark.e2e  # over 1 s: the end-to-end tier keeps the default run under a minute
def test_compare_and_formats_flag_an_emulated_format_in_their_note() -> None:
    """compare's row and formats' note give the brief, their JSON the whole flag; INT8, native, has neither."""
    model, engine = catalog.model("deepseek-r1"), catalog.engine("generic")
    (fp8,) = compare([catalog.system("cloudmatrix-384")], model, engine, weights="fp8")
    assert EMULATED.replace("hif8", "fp8") in [f.text for f in fp8.flags]
    assert "emulation rate assumed (0.8)" in fp8.note
    result = CliRunner().invoke(cli, ["formats", "cloudmatrix-384", "--model", "deepseek-r1", "--formats", "fp8,int8",
                                      "--format", "json"])
    rows = {r["format"]: r for r in json.loads(result.output)}
    assert rows["fp8"]["note"].startswith("emulation rate assumed (0.8)")  # then the large-EP decode flag
    assert "emulation" not in rows["int8"]["note"]
    assert [f for f in rows["int8"]["flags"] if "emulation" in f] == []


@pytest.mark.e2e  # over 1 s: the end-to-end tier keeps the default run under a minute
def test_mtp_past_the_measured_depth_is_flagged() -> None:
    """DeepSeek-R1's acceptance is measured at 1 to 3 drafts (0.92, 1.58, 1.82 kept a step); at 4 parity
    extrapolates 1.91, which took TPOT from 47.8 to 27.4 ms with only the note saying so. DeepSeek-V3's report gives
    the first draft's rate alone, so 2 drafts are extrapolated. An acceptance the user gives is not parity's."""
    r1, v3 = catalog.mtp_acceptance("deepseek-r1"), catalog.mtp_acceptance("deepseek-v3")
    assert [r1.extrapolation_flag(n) for n in (1, 3)] == [None, None]
    assert str(r1.extrapolation_flag(4)) == EXTRAPOLATED
    assert v3.extrapolation_flag(1) is None
    assert str(v3.extrapolation_flag(2)) == ("MTP acceptance extrapolated past 1 draft token: 1.57 of 2 kept a step "
                                             "(deepseek-v3's measured to 1)")
    assert _serve_flags("--mtp", "4")[-1] == EXTRAPOLATED
    assert not any("extrapolated" in flag for flag in _serve_flags("--mtp", "3"))
    assert not any("extrapolated" in flag for flag in _serve_flags("--mtp", "4", "--mtp-acceptance", "2"))
    (row,) = compare([catalog.system("cloudmatrix-384")], catalog.model("deepseek-r1"), catalog.engine("generic"),
                     mtp_tokens=4)
    assert EXTRAPOLATED in [f.text for f in row.flags] and "MTP acceptance extrapolated past 3 draft tokens" in row.note
    result = CliRunner().invoke(cli, ["fleet", "--model", "deepseek-r1", "--demand", "1e11 tokens/day", "--chips",
                                      "910c", "--mtp", "4", "--format", "json"])
    (fleet,) = json.loads(result.output)
    assert EXTRAPOLATED in fleet["flags"]
    assert fleet["note"].startswith("MTP acceptance extrapolated past 3 draft tokens")
