"""Which kernel figures of a chip its calibration fitted on the chip and which it inherits, from which chip
(catalog.calibration_statement). `show` said "calibrated: yes: its calibration was measured on it" for the MI355X,
whose family-cdna4 fit measured its GEMMs alone and carried CDNA3's (the MI300X's) bandwidth and collectives and the
H200's attention and launch cost."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import tomllib

import pytest
from click.testing import CliRunner

from parity import catalog
from parity.calibrate.family import family_calibration, family_toml, figures_from_rows
from parity.catalog.lineage import HOWS, rows_text
from parity.cli import cli
from parity.uncertainty import chip_calibrated, unmeasured_gemm

H200 = "nvidia-h200-sxm-measured, 503 microbenchmark points"


def _statement(chip: str) -> catalog.CalibrationStatement:
    the_chip = catalog.chip(chip)
    return catalog.calibration_statement(the_chip, catalog.calibration(the_chip))


def _sources(chip: str) -> dict[str, tuple[str, tuple[str, ...], bool]]:
    """figure -> (how, chips that measured it, moved)."""
    return {f.figure: (f.how, f.chips, f.moved) for f in _statement(chip).figures}


def test_the_mi355x_fits_its_gemms_and_inherits_bandwidth_and_collectives_from_the_mi300x() -> None:
    """family-cdna4's 9 rows are HipKittens' BF16 and FP8 GEMMs and AITER's MXFP4 GEMMs on an MI355X: GEMM bf16,
    fp8 and fp4 are its own. Its memory (0.7528) and collective figures (0.7072, latency x1.6480) are family-cdna3's as
    they stand, fitted on the MI300X's rows (AMD-065 STREAM, HBL12329-* M = 1 GEMMs; RCCL AZ-rccl-*). Attention and
    the launch cost are the H200's microbenchmarks': attention moved (prefill 0.4996 -> 0.3047 -> 0.4342 by the two
    fits' compute ratios) and without the H200's MLA-decode kernel rate (0.667: the fits carry none, so the prefill
    rate prices MLA decode), the launch cost kept (25.701 us). No chip measured FP6 or INT8 GEMMs, which it runs."""
    sources = _sources("amd-mi355x")
    mi300x, h200 = ("amd-mi300x",), ("nvidia-h200-sxm",)
    assert sources == {"GEMM bf16": ("fitted", ("amd-mi355x",), False), "GEMM fp8": ("fitted", ("amd-mi355x",), False),
                       "GEMM fp6": ("unmeasured", (), False), "GEMM fp4": ("fitted", ("amd-mi355x",), False),
                       "GEMM int8": ("unmeasured", (), False), "attention": ("inherited", h200, True),
                       "HBM bandwidth": ("inherited", mi300x, False), "collectives": ("inherited", mi300x, False),
                       "launch cost": ("inherited", h200, False)}
    statement = _statement("amd-mi355x")
    assert statement.lineage == ("family-cdna4", "family-cdna3", "nvidia-h200-sxm-measured")
    assert statement.figure("HBM bandwidth").rows == ("AMD-065", "HBL12329-m1-76032x13312", "HBL12329-m1-38016x13312",
                                                      "HBL12329-m1-13312x17792", "HBL12329-m1-76032x8192")
    assert statement.verdict == "partly"
    assert statement.text == (
        "partly: fitted on it (family-cdna4 rows HK-* (6), AITER-* (3)): GEMM bf16/fp8/fp4; inherited from amd-mi300x "
        "(family-cdna3 rows AMD-065, HBL12329-* (4), AZ-* (3)): HBM bandwidth, collectives; from nvidia-h200-sxm "
        f"({H200}): attention (moved by the fits' ratios, not its MLA-decode kernel rate), launch cost; measured on no "
        "chip: GEMM fp6/int8")
    assert statement.figure("attention").dropped == ("MLA-decode kernel rate",)
    cdna4, cdna3 = catalog.calibration(catalog.chip("amd-mi355x")), catalog.calibration(catalog.chip("amd-mi300x"))
    assert (cdna4.attention_decode_math_efficiency, cdna4.attention_decode_math) == (0.0, 0.4342)
    assert cdna4.memory_efficiency == cdna3.memory_efficiency == 0.7528
    assert (cdna4.attention_prefill_efficiency, cdna3.attention_prefill_efficiency) == (0.4342, 0.3047)


def test_show_says_partly_for_the_mi355x_and_yes_only_where_every_measured_figure_is_the_chip_s() -> None:
    """`show` said 'yes: its calibration was measured on it' for the MI355X; now 'partly' and which figures, its
    --format json each figure's source. The H200 (parity's own microbenchmarks) says yes, naming what no chip
    measured."""
    def shown(chip: str) -> dict[str, object]:
        result = CliRunner().invoke(cli, ["show", chip, "--format", "json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.output)
    mi355x = shown("amd-mi355x")
    assert _rows("amd-mi355x")["calibrated"] == _statement("amd-mi355x").text
    assert mi355x["calibrated"] is True and mi355x["kernel_figures"]["verdict"] == "partly"
    assert {f["figure"]: f["chips"] for f in mi355x["kernel_figures"]["figures"]}["collectives"] == ["amd-mi300x"]
    assert _rows("nvidia-h200-sxm")["calibrated"] == (
        f"yes: fitted on it ({H200}): GEMM bf16/fp8, attention, HBM bandwidth, launch cost; measured on no chip: GEMM "
        "int8, collectives")


def _rows(chip: str) -> dict[str, str]:
    """`show CHIP --format csv`'s stated lines: field -> value."""
    out = CliRunner().invoke(cli, ["show", chip, "--format", "csv"]).output
    return {row["field"]: row["value"] for row in csv.DictReader(io.StringIO(out))}


def test_a_fully_fitted_chip_a_fully_inherited_one_and_one_on_a_prior() -> None:
    """The H200: every figure a chip measured is its own (GEMM bf16/fp8, attention, HBM, launch cost: 503 points of
    parity's microbenchmarks); INT8 GEMMs (the generic prior's 0.67) and collectives (0.80) no chip measured. The H100
    and H800 inherit those figures whole and unmoved; the A100, a generation back, inherits the H200's attention as
    measured (prefill 0.4996, decode KV-read 0.9766) but not its MLA-decode kernel rate (0.667, FlashMLA's:
    catalog.profiles._own_generation), which its prefill rate stands in for. The MI325X inherits family-cdna3 whole. A
    TPU runs on the derived NPU prior."""
    h200 = _sources("nvidia-h200-sxm")
    assert {k for k, v in h200.items() if v[0] == "fitted"} == {"GEMM bf16", "GEMM fp8", "attention", "HBM bandwidth",
                                                                "launch cost"}
    assert {k for k, v in h200.items() if v[0] == "unmeasured"} == {"GEMM int8", "collectives"}
    assert _statement("nvidia-h200-sxm").verdict == "fitted"
    for chip in ("nvidia-h100-sxm", "nvidia-h800-sxm"):
        assert _statement(chip).verdict == "inherited"
        assert {k: v for k, v in _sources(chip).items() if v[0] != "unmeasured"} == {
            k: ("inherited", ("nvidia-h200-sxm",), False) for k, v in h200.items() if v[0] == "fitted"}
    assert _sources("nvidia-a100-sxm")["attention"] == ("inherited", ("nvidia-h200-sxm",), False)
    assert _statement("nvidia-a100-sxm").figure("attention").dropped == ("MLA-decode kernel rate",)
    a100 = catalog.calibration(catalog.chip("nvidia-a100-sxm"))
    assert (a100.attention_prefill_efficiency, a100.attention_decode_efficiency, a100.attention_decode_math) == (
        0.4996, 0.9766, 0.4996)
    assert _statement("nvidia-a100-sxm").text == (
        f"inherited: from nvidia-h200-sxm ({H200}): GEMM bf16, attention (not its MLA-decode kernel rate), HBM "
        "bandwidth, launch cost; measured on no chip: GEMM int8, collectives")
    assert _statement("amd-mi325x").text.startswith(
        "inherited: from amd-mi300x (family-cdna3 rows AMD-* (3), AZ-* (6), HBL12329-* (4)): GEMM fp8, HBM bandwidth, "
        f"collectives; from nvidia-h200-sxm ({H200}): GEMM bf16 (moved by the fits' ratios), attention (moved by")
    tpu = _statement("google-tpu-v5p")
    assert tpu.verdict == "prior" and {f.how for f in tpu.figures} == {"prior"}
    assert tpu.text == ("prior: no kernel figure was measured on it or on a chip it inherits from (derived-prior-npu: "
                        "what measured npu chips achieve)")


def test_every_catalog_chip_states_its_figures_and_chips_and_show_agree() -> None:
    """Every chip of `parity chips` has a statement; a figure fitted on it names it among the chips measured, an
    inherited one names others; the chips table's kernel_figures is the statement's verdict; a chip whose
    calibration was measured on it says 'yes' in show only where no figure is inherited."""
    result = CliRunner().invoke(cli, ["chips", "--format", "json"])
    rows = json.loads(result.output)
    listed = {r["id"]: r["kernel_figures"] for r in (rows if isinstance(rows, list) else rows["rows"])}
    assert set(listed) == {c.id for c in catalog.chips()}
    for chip in catalog.chips():
        statement = _statement(chip.id)
        assert listed[chip.id] == statement.verdict, chip.id
        for f in statement.figures:
            assert f.how in HOWS and (chip.id in f.chips) == (f.how == "fitted"), (chip.id, f)
        cal = catalog.calibration(chip)
        if cal.measured and chip_calibrated(chip, cal):
            assert statement.verdict in ("fitted", "partly"), chip.id
    counts = {verdict: sum(v == verdict for v in listed.values()) for verdict in ("fitted", "partly", "inherited",
                                                                                  "prior")}
    assert counts == {"fitted": 1, "partly": 9, "inherited": 14, "prior": 14}


def test_relative_to_is_what_a_fit_moved_from_and_round_trips() -> None:
    """family_calibration and chip_calibration record their base's id (relative_to), family_toml writes it and the
    catalog reads it back; parity's files say what scripts/fit_families.py fitted them against."""
    said = {c.id: c.relative_to for c in catalog.calibrations() if c.relative_to}
    assert said == {"family-blackwell": "nvidia-h200-sxm-measured", "family-cdna3": "nvidia-h200-sxm-measured",
                    "family-cdna4": "family-cdna3", "family-davinci-910": "nvidia-h200-sxm-measured",
                    "nvidia-b300-sxm-published": "family-blackwell", "nvidia-gb300-published": "family-blackwell",
                    "nvidia-h20-published": "nvidia-h200-sxm-measured"}
    cdna3 = catalog.calibration(catalog.chip("amd-mi300x"))
    ids = ("HK-mi355x-bf16-8192", "HK-mi355x-fp8-8192")
    figures = figures_from_rows([r for r in catalog.measurements("kernels_published") if r["case_id"] in ids])
    fitted = family_calibration("cdna4", cdna3, figures, {c.id: c for c in catalog.chips()}, "2026-12-10")
    assert fitted.relative_to == "family-cdna3"
    assert tomllib.loads(family_toml(fitted))["relative_to"] == "family-cdna3"


def test_a_user_fit_of_part_traces_the_rest_to_the_calibration_it_keeps() -> None:
    """A `parity calibrate` fit of copies alone on an H100 (memory streaming and stream efficiency, 12 points)
    keeps the rest from the H200's file (unmeasured_from): HBM bandwidth is its own, the GEMMs the H200's."""
    h200 = catalog.calibration(catalog.chip("nvidia-h200-sxm"))
    mine = dataclasses.replace(h200, id="nvidia-h100-sxm-measured", chip="nvidia-h100-sxm", measured=True,
                               measured_fields={"memory_efficiency": 12, "stream_efficiency": 12},
                               unmeasured_from=h200.id, points=(), basis="")
    statement = catalog.calibration_statement(catalog.chip("nvidia-h100-sxm"), mine)
    assert statement.figure("HBM bandwidth").how == "fitted" and statement.figure("HBM bandwidth").points == 12
    assert statement.figure("GEMM fp8").chips == ("nvidia-h200-sxm",) and statement.verdict == "partly"
    assert statement.text.startswith("partly: fitted on it (nvidia-h100-sxm-measured, 12 microbenchmark points): HBM "
                                     f"bandwidth; inherited from nvidia-h200-sxm ({H200}): GEMM bf16/fp8")


def test_a_format_whose_rate_no_chip_with_it_measured_is_flagged_an_inherited_measured_one_is_not() -> None:
    """MXFP4 on an Ascend 950PR runs family-davinci-910's FP4 rate, which neither the 910B and 910C (no FP4 unit)
    nor the H200 behind them measured: flagged, beside its 'uncalibrated chip' flag. BF16 on the MI325X is the H200's
    rate moved by CDNA3's FP8 ratio: flagged, naming the H200. FP8 on the MI325X (the MI300X's, as measured) and NVFP4
    on a B30A (the Blackwell chips' FP4 layers) are not. INT8 on the H200: no chip measured it."""
    def flag(chip: str, weights: str) -> str:
        the_chip = catalog.chip(chip)
        found = unmeasured_gemm(catalog.calibration(the_chip), the_chip, weights)
        return found.text if found else ""
    assert flag("huawei-ascend-950pr", "mxfp4") == (
        "fp4 GEMM rate not measured on huawei-ascend-950pr (family-davinci-910, which it inherits, measures bf16, int8 "
        "on huawei-ascend-910b, huawei-ascend-910c; no chip its calibration draws on measured fp4)")
    assert flag("amd-mi325x", "bf16") == (
        "bf16 GEMM rate not measured on amd-mi325x (family-cdna3, which it inherits, measures fp8 on amd-mi300x; bf16 "
        "is the rate nvidia-h200-sxm measured, moved by the fits' ratios)")
    assert flag("nvidia-h200-sxm", "int8") == (
        "int8 GEMM rate not measured on nvidia-h200-sxm (nvidia-h200-sxm-measured measures bf16, fp8; no chip its "
        "calibration draws on measured int8)")
    assert flag("amd-mi325x", "fp8") == flag("nvidia-b30a", "nvfp4") == flag("amd-mi355x", "mxfp4") == ""
    assert flag("amd-mi355x", "w4a6_mxfp4") == ("fp6 GEMM rate not measured on amd-mi355x (family-cdna4 measures "
                                                "bf16, fp4, fp8; no chip its calibration draws on measured fp6: it "
                                                "moved with the formats measured)")


def test_rows_are_named_each_up_to_two_else_by_source_tag() -> None:
    assert rows_text(("AMD-065", "AZ-rccl-allreduce-8g")) == "AMD-065, AZ-rccl-allreduce-8g"
    assert rows_text(("AMD-065", "HBL12329-a", "HBL12329-b")) == "AMD-065, HBL12329-* (2)"


@pytest.mark.e2e
def test_serve_and_compare_say_the_kernel_figures_beside_the_calibration() -> None:
    """serve's note and compare's assumptions carry 'kernel figures: partly: ...' after 'calibration: ...', and
    compare's JSON the verdict beside 'calibrated'."""
    result = CliRunner().invoke(cli, ["serve", "--model", "llama-3.1-8b", "--system", "mi355x-platform",
                                      "--model-kind", "steady", "--format", "json"])
    assert result.exit_code == 0, result.output
    note = json.loads(result.output)["note"]
    assert "; kernel figures: " + _statement("amd-mi355x").text in note
    result = CliRunner().invoke(cli, ["compare", "mi355x-platform", "hgx-h200", "--model", "llama-3.1-8b",
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = {r["system"]: r for r in json.loads(result.output)}
    assert (rows["mi355x-platform"]["calibrated"], rows["mi355x-platform"]["kernel_figures"]) == (True, "partly")
    assert (rows["hgx-h200"]["calibrated"], rows["hgx-h200"]["kernel_figures"]) == (True, "fitted")
    assert "kernel figures: " + _statement("amd-mi355x").text in rows["mi355x-platform"]["assumptions"]


def test_a_child_family_s_attention_is_inherited_without_the_mla_decode_kernel_rate_as_its_basis_says() -> None:
    """`show huawei-ascend-950pr`: its 'calibration' line inherits davinci-910 '(not its davinci-910 MLA-decode kernel
    rate)' while its 'calibrated' line said the 910C's attention was 'moved by the fits' ratios' (report-only tester
    fixev2 2). Nothing moved it: the prefill rate (0.4605) and the decode KV-read fraction (0.9167) are the 910C's rows
    as fitted; the MLA-decode kernel rate (0.6148) is dropped (catalog.profiles._own_generation), its prefill rate
    standing in; both lines now say so."""
    chip = catalog.chip("huawei-ascend-950pr")
    cal, family = catalog.calibration(chip), catalog.calibration(catalog.chip("huawei-ascend-910c"))
    assert (cal.attention_prefill_efficiency, cal.attention_decode_efficiency, cal.attention_decode_math) == (
        family.attention_prefill_efficiency, family.attention_decode_efficiency, 0.4605) == (0.4605, 0.9167, 0.4605)
    assert family.attention_decode_math == 0.6148
    assert cal.basis.endswith("(not its davinci-910 MLA-decode kernel rate)")
    attention = _statement(chip.id).figure("attention")
    assert (attention.how, attention.chips, attention.moved, attention.dropped) == (
        "inherited", ("huawei-ascend-910c",), False, ("MLA-decode kernel rate",))
    assert ("; from huawei-ascend-910c (family-davinci-910 rows B06-* (3)): GEMM int8, attention (not its MLA-decode "
            "kernel rate); ") in _statement(chip.id).text
    assert _rows(chip.id)["calibrated"].endswith(_statement(chip.id).text.removeprefix("inherited: "))
    shown = json.loads(CliRunner().invoke(cli, ["show", chip.id, "--format", "json"]).output)
    figures = {f["figure"]: f for f in shown["kernel_figures"]["figures"]}
    assert (figures["attention"]["moved"], figures["attention"]["dropped"]) == (False, ["MLA-decode kernel rate"])
