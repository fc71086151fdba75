"""Export-control metrics against the hand-checked vectors of hardware_notes.md C.4, and the 3A090
decision procedure (88 FR 73458) branch by branch."""

import csv
import dataclasses
import io
import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parity import catalog, policy
from parity.compare import compare
from parity.errors import PolicyError
from parity.hardware import what_if
from parity.policy import RULES, VERDICTS, Verdict, assess, at_threshold, eccn_3a090, performance_density, tpp

from conftest import round_chip


@pytest.mark.parametrize(("name", "expected"), [
    ("nvidia-a100-sxm", 4_992),       # 312 BF16 x 16 = 624 INT8 x 8 = 1,248 INT4 x 4
    ("nvidia-h100-sxm", 15_832),      # 1,979 FP8 x 8 = 989.5 BF16 x 16 (published)
    ("nvidia-h20", 2_368),            # 296 FP8 x 8
    ("nvidia-l20", 1_912),            # 239 FP8 x 8
    ("amd-mi300x", 20_919),           # 2,614.9 FP8 x 8 = 20,919.2 (published 20,919)
    ("nvidia-b200-sxm", 36_000),      # 4,500 FP8 x 8 = 9,000 FP4 x 4
    ("nvidia-b300-sxm", 54_000),      # 13,500 FP4 x 4 (INT8 cut to 150)
    ("nvidia-rtx-pro-6000d", 2_324),  # 581 FP4 x 4
    ("amd-mi355x", 60_396),           # 10,066 FP6 x 6 (FP6 at the FP4 rate), not 40,264 from FP8
])
def test_golden_tpp(name: str, expected: int) -> None:
    assert round(tpp(catalog.chip(name)).tpp) == expected


def test_the_format_that_sets_tpp_and_its_ties() -> None:
    assert tpp(catalog.chip("h100")).tied == ("bf16", "fp8", "int8")
    assert tpp(catalog.chip("b300")).format == "fp4"
    assert tpp(catalog.chip("mi355x")).format == "fp6"
    assert tpp(catalog.chip("a100")).tied == ("bf16", "int8", "int4")


def test_tf32_is_a_named_option_with_a_note_where_it_matters() -> None:
    """Trainium2 runs TF32 at the BF16 rate: 667 x 32 = 21,344 against 667 x 16 = 10,672 (C.6 item 1)."""
    trn2 = catalog.chip("trainium2")
    default = tpp(trn2)
    assert default.tpp == pytest.approx(10_672) and default.format == "bf16" and "21,344" in default.note
    counted = tpp(trn2, tf32_bits=32)
    assert counted.tpp == pytest.approx(21_344) and counted.format == "tf32" and "10,672" in counted.note
    # H100: TF32 at half the BF16 rate, 494.5 x 32 = 15,824 < 15,832, so the choice changes nothing
    assert tpp(catalog.chip("h100"), tf32_bits=32).tpp == pytest.approx(15_832)
    assert tpp(catalog.chip("h100")).note == ""
    with pytest.raises(PolicyError, match="tf32_bits must be one of .* got 16"):
        tpp(trn2, tf32_bits=16)


@pytest.mark.parametrize(("name", "expected"), [
    ("nvidia-h100-sxm", 19.45),     # 15,832 / 814
    ("nvidia-h20", 2.91),           # 2,368 / 814
    ("nvidia-l20", 3.14),           # 1,912 / 608.5
    ("nvidia-a100-sxm", 6.04),      # 4,992 / 826
    ("huawei-ascend-910b", 9.04),   # 376 x 16 = 6,016 / 665.6
])
def test_performance_density(name: str, expected: float) -> None:
    assert performance_density(catalog.chip(name)) == pytest.approx(expected, abs=0.005)


def test_performance_density_is_none_without_a_die_area() -> None:
    assert performance_density(catalog.chip("mi355x")) is None


@pytest.mark.parametrize(("name", "expected"), [
    ("nvidia-h100-sxm", "3A090.a.1"), ("nvidia-a100-sxm", "3A090.a.1"), ("nvidia-h20", None),
    ("nvidia-l20", None), ("nvidia-rtx-pro-6000d", None), ("amd-mi300x", "3A090.a.1"),
])
def test_classification_of_catalog_chips(name: str, expected: str | None) -> None:
    assert assess(catalog.chip(name)).eccn_3a090 == expected


def test_ascend_910b_is_a1_by_the_procedure_and_meets_a2_at_every_sku() -> None:
    """B2 SKU: TPP 6,016 >= 4800 comes first (a.1), and PD 9.04 >= 5.92 also meets a.2. The 280 TF B4 SKU,
    TPP 280 x 16 = 4,480 and PD 4,480 / 665.6 = 6.73, is a.2 alone (C.4)."""
    chip = catalog.chip("910b")
    a = assess(chip)
    assert a.eccn_3a090 == "3A090.a.1" and a.paragraphs_met == ("3A090.a.1", "3A090.a.2")
    assert 8.5 <= a.performance_density <= 9.6
    b4 = what_if(chip, "B4 SKU", peak_flop_per_s={"bf16": 280e12, "int8": 560e12})
    assert tpp(b4).tpp == pytest.approx(4_480)
    assert performance_density(b4) == pytest.approx(6.73, abs=0.005)
    assert assess(b4).eccn_3a090 == "3A090.a.2"


@pytest.mark.parametrize(("tpp_value", "pd", "datacenter", "expected"), [
    (4_800, 0.1, True, "3A090.a.1"),        # a.1 whatever the density
    (6_704, 8.9, False, "3A090.a.1"),       # RTX 5090: not data-centre but >= 4800, Note 2 does not apply
    (4_750, 6.3, False, None),              # RTX 5090D V2: Note 2 carve-out
    (1_600, 5.92, True, "3A090.a.2"),       # a.2 at both lower edges
    (4_799, 5.92, True, "3A090.a.2"),
    (2_400, 1.6, True, "3A090.b.1"),        # b.1 at both lower edges
    (4_799, 5.91, True, "3A090.b.1"),
    (1_600, 3.2, True, "3A090.b.2"),        # b.2: MTT S4000 at TPP 1,600 if PD >= 3.2
    (2_399, 5.91, True, "3A090.b.2"),
    (1_599, 100.0, True, None),             # TPP < 1600
    (2_399, 3.19, True, None),              # TPP < 2400 and PD < 3.2 (H20, L20, 6000D)
    (4_799, 1.59, True, None),              # TPP < 4800 and PD < 1.6
    (1_544, 5.24, True, None),              # L2
])
def test_decision_procedure_every_branch(tpp_value: float, pd: float, datacenter: bool, expected: str | None) -> None:
    assert eccn_3a090(tpp_value, pd, datacenter) == expected


def test_license_exception_nac() -> None:
    assert policy.license_exception_nac("3A090.b.1", 3_000, datacenter=True)
    assert policy.license_exception_nac("3A090.a.1", 6_704, datacenter=False)
    assert not policy.license_exception_nac("3A090.a.1", 15_832, datacenter=True)
    assert not policy.license_exception_nac(None, 2_368, datacenter=True)


def test_unknown_die_area_gives_the_possible_classes() -> None:
    """T-Head PPU: 118.7 x 16 = 1,899 with no die area: a.2, b.2 or outside depending on PD."""
    a = assess(catalog.chip("alibaba-t-head-ppu"))
    assert a.eccn_3a090 == "unknown" and a.eccn_3a090_possible == ("3A090.a.2", "3A090.b.2", None)
    verdict = next(v for v in a.verdicts if v.rule == "3a090")
    assert verdict.status == "unknown"
    # with no area, TPP >= 4800 still decides: MI355X is a.1
    assert assess(catalog.chip("mi355x")).eccn_3a090 == "3A090.a.1"


@settings(max_examples=40, deadline=None)
@given(st.floats(0, 10_000), st.floats(0, 20), st.booleans(), st.floats(0, 1), st.floats(0, 1))
def test_outside_is_closed_under_less_performance(value: float, pd: float, datacenter: bool, a: float,
                                                  b: float) -> None:
    """A chip outside 3A090 stays outside with lower TPP or lower PD."""
    if eccn_3a090(value, pd, datacenter) is None:
        assert eccn_3a090(value * a, pd * b, datacenter) is None


@pytest.mark.parametrize(("name", "expected"), [
    ("nvidia-h200-sxm", True),   # 15,832 < 21,000 and 4,800 < 6,500 GB/s (named in 91 FR 1684)
    ("amd-mi325x", True),        # 20,919 and 6,000 GB/s (named)
    ("nvidia-b200-sxm", False),  # 36,000 and 8,000 GB/s: fails both limbs
])
def test_jan2026_case_by_case_zone(name: str, expected: bool) -> None:
    a = assess(catalog.chip(name))
    assert a.jan2026_zone is expected
    assert next(v for v in a.verdicts if v.rule == "jan2026").status == ("applies" if expected else "outside")


@pytest.mark.parametrize("name", ["nvidia-h20", "nvidia-l20", "nvidia-rtx-pro-6000d"])
def test_jan2026_zone_is_none_outside_3a090(name: str) -> None:
    """H20, L20 and RTX Pro 6000D are outside 3A090, so the jan2026 rule is 'not applicable' (the H20's 'unknown': its
    licence comes from a letter): their zone read True ('2026 zone yes') beside that verdict; it is None (JSON null),
    and the table says what the verdict does: 'n/a', the H20's 'unknown' (it said 'n/a' beside the JSON's 'unknown':
    report-only tester fuzzEP 3)."""
    a = assess(catalog.chip(name))
    assert a.eccn_3a090 is None and a.jan2026_zone is None and a.to_dict()["jan2026_zone"] is None
    status = next(v for v in a.verdicts if v.rule == "jan2026").status
    assert status == ("unknown" if name == "nvidia-h20" else "not applicable")
    assert a.zone_shown == ("unknown" if name == "nvidia-h20" else "n/a")
    code, out, _ = _run(name)
    row = next(line for line in out.splitlines() if line.startswith(name))
    assert code == 0 and f" {a.zone_shown} " in row and " yes" not in row, row
    assert "2026 zone: TPP < 21,000 and DRAM < 6,500 GB/s" in " ".join(out.split())


def test_jan2026_does_not_say_no_licence_for_a_chip_a_letter_names() -> None:
    """The H20 is outside 3A090, but the April 2025 letter requires a licence for it: the jan2026 verdict read 'not
    applicable, ... so no licence to review' beside the letter's 'applies'. The rule's text revises the review of 3A090
    licences and says nothing of a letter's, so the verdict is 'unknown' and says so; the caption's unknown says it too.
    A what-if variant of the H20 is checked, not named, and below both its bandwidths keeps 'not applicable'."""
    h20 = catalog.chip("h20")
    assert policy.licence_letter(h20) == Verdict(rule="apr2025-h20", status="applies",
                                                 reason="named in NVIDIA's 8-K of 2025-04-15")
    verdict = next(v for v in assess(h20).verdicts if v.rule == "jan2026")
    assert (verdict.status, verdict.reason) == (
        "unknown", "not a 3A090 item, but apr2025-h20 requires a licence (named in NVIDIA's 8-K of 2025-04-15); "
        "whether the Jan-2026 review covers it is not modelled (TPP 2,368 < 21,000; DRAM 4,000 GB/s < 6,500 GB/s)")
    variant = what_if(h20, "half the bandwidths", memory_bytes_per_s=2e12, scale_up_bytes_per_s=225e9)
    assert policy.licence_letter(variant) is None and policy.licence_letter(catalog.chip("l20")) is None
    assert next(v for v in assess(variant).verdicts if v.rule == "jan2026").status == "not applicable"
    code, out, _ = _run("h20")
    assert code == 0 and "no licence" not in out
    assert ("n/a outside 3A090 (no 3A090 licence to review); unknown outside 3A090 where a letter requires a licence, "
            "as the H20's (whether the 2026 review covers it is not modelled)") in " ".join(out.split())


def test_a_chip_of_unknown_class_gets_no_definite_nac_or_2026_zone() -> None:
    """MetaX C500: TPP 3,840 with no die area, so 3A090.a.2 (PD >= 5.92), b.1 (1.6 <= PD < 5.92) or outside (PD < 1.6).
    A data-centre chip: NAC is yes for b.1 only; the 2026 zone (3,840 < 21,000, 1,800 < 6,500 GB/s) is yes inside 3A090
    and n/a outside. NAC read 'no' and the zone 'yes' (jan2026 'applies'); each now says it depends on the class, in
    the table, CSV and JSON. The H100 (3A090.a.1, known) keeps its answers."""
    a = assess(catalog.chip("metax-c500"))
    assert (a.license_exception_nac, a.jan2026_zone) == (None, None)
    assert (a.nac_shown, a.zone_shown) == ("unknown", "unknown")
    assert a.license_exception_nac_by_class == "no if 3A090.a.2 or outside; yes if 3A090.b.1"
    assert a.jan2026_zone_by_class == "yes if 3A090.a.2 or 3A090.b.1; n/a if outside"
    jan = next(v for v in a.verdicts if v.rule == "jan2026")
    assert (jan.status, jan.reason) == (
        "unknown", "depends on the 3A090 class (die area not known): applies if 3A090.a.2 or 3A090.b.1; not applicable "
        "if outside (TPP 3,840 < 21,000; DRAM 1,800 GB/s < 6,500 GB/s)")
    data = json.loads(_run("metax-c500", "--format", "json")[1])[0]
    assert (data["license_exception_nac"], data["jan2026_zone"]) == (None, None)
    assert data["license_exception_nac_by_class"] == "no if 3A090.a.2 or outside; yes if 3A090.b.1"
    code, out, _ = _run("metax-c500", "h100", "--format", "csv")
    c500, h100_row = csv.DictReader(io.StringIO(out))
    assert code == 0 and (c500["eccn_3a090"], c500["eccn_3a090_possible"], c500["license_exception_nac"],
                          c500["jan2026_zone"], c500["license_exception_nac_by_class"]) == (
        "unknown", '["3A090.a.2", "3A090.b.1", "outside"]', "", "", "no if 3A090.a.2 or outside; yes if 3A090.b.1"), out
    assert [v["status"] for v in json.loads(c500["verdicts"])] == [
        "outside", "unknown", "not applicable", "not applicable", "unknown"]
    assert (h100_row["tpp"], h100_row["tpp_format"], h100_row["tpp_tied"], h100_row["license_exception_nac"],
            h100_row["jan2026_zone"]) == ("15832.0", "bf16", '["bf16", "fp8", "int8"]', "False", "True"), out
    code, out, _ = _run("metax-c500", "h100", "--format", "md")
    rows = [[c.strip() for c in line.split("|")[1:-1]] for line in out.splitlines()
            if line.startswith(("| metax", "| nvidia"))]
    cells = {row[0]: (row[5], row[8]) for row in rows}  # NAC, 2026 zone
    assert cells == {"metax-c500": ("unknown", "unknown"), "nvidia-h100-sxm": ("no", "yes")}, out
    # PD with no die area: '-', as the report's table writes it (it was 'n/p' here), and the caption says so
    assert [row[3] for row in rows] == ["-", "19.45"] and "PD = TPP / logic die area (mm2; -: die area unknown)" in out
    h100 = assess(catalog.chip("h100"))
    assert (h100.license_exception_nac, h100.jan2026_zone, h100.license_exception_nac_by_class) == (False, True, "")


def test_jan2026_zone_depends_on_the_tf32_choice_for_trainium3() -> None:
    """Trainium3: 2,517 x 8 = 20,136 < 21,000, but 671 TF32 x 32 = 21,472."""
    chip = catalog.chip("trainium3")
    assert assess(chip).jan2026_zone and not assess(chip, tf32_bits=32).jan2026_zone


def test_a_verdict_another_tpp_reading_reverses_says_so() -> None:
    """Trainium2: 667 x 16 = 10,672 < 21,000 (zone: yes), but TF32 at the BF16 rate counted at 32 bits gives
    667 x 32 = 21,344 >= 21,000 (outside); the verdict, the table's '2026 zone' and the JSON say so. The other
    verdicts hold (a.1 and the Oct-2022 limbs either way), and so does every verdict of the H100 (TF32 at half rate)."""
    a = assess(catalog.chip("trainium2"))
    jan = next(v for v in a.verdicts if v.rule == "jan2026")
    assert (jan.status, jan.reversed_by) == ("applies", "outside with TF32 counted at 32 bits (TPP 21,344)")
    assert jan.shown == "applies*" and a.zone_shown == "yes*"
    assert [v.rule for v in a.verdicts if v.reversed_by] == ["jan2026"]
    assert a.notes[0] == ("TF32 not counted (no BIS ruling); with TF32 counted at 32 bits, TPP is 21,344, set by "
                          "tf32: jan2026 applies -> outside")
    assert a.to_dict()["verdicts"][-1]["reversed_by"] == "outside with TF32 counted at 32 bits (TPP 21,344)"
    counted = next(v for v in assess(catalog.chip("trainium2"), tf32_bits=32).verdicts if v.rule == "jan2026")
    assert (counted.status, counted.reversed_by) == ("outside", "applies with TF32 not counted (TPP 10,672)")
    h100 = assess(catalog.chip("h100"))
    assert h100.zone_shown == "yes" and not any(v.reversed_by for v in h100.verdicts)
    code, out, _ = _run("trainium2", "trainium3", "h100", "--format", "md")  # every column, whatever the terminal
    cells = [[c.strip() for c in line.split("|")[1:-1]] for line in out.splitlines() if "3A090.a" in line]
    rows = {row[0]: row[8] for row in cells}  # after Oct-2022 and the H20 letter
    assert code == 0 and rows == {"aws-trainium2": "yes*", "aws-trainium3": "yes*", "nvidia-h100-sxm": "yes"}, out
    assert ("* another reading of TPP reverses it: aws-trainium2 jan2026: outside with TF32 counted at 32 bits "
            "(TPP 21,344); aws-trainium3 jan2026: outside with TF32 counted at 32 bits (TPP 21,472).") in " ".join(out.split())
    code, out, _ = _run("trainium3", "--format", "csv")
    (row,) = csv.DictReader(io.StringIO(out))
    assert code == 0 and json.loads(row["verdicts"])[-1] == {
        "rule": "jan2026", "status": "applies", "reason": json.loads(row["verdicts"])[-1]["reason"],
        "reversed_by": "outside with TF32 counted at 32 bits (TPP 21,472)"}
    assert (row["status"], row["china_kept_by"]) == ("announced", '["jan2026"]')


def test_fp6_counted_at_6_bits_notes_the_reading_without_it() -> None:
    """MI355X: MXFP6 at the MXFP4 rate, 10,066 x 6 = 60,396; without FP6 the TPP is FP8 5,033 x 8 = MXFP4 10,066 x 4
    = 40,264 (as chips.csv counts it). Both are a.1 and above 21,000, so no verdict changes, and the note says so."""
    a = assess(catalog.chip("mi355x"))
    assert a.tpp == pytest.approx(60_396) and a.set_by == "fp6"
    assert a.notes[0] == ("FP6 counted at 6 bits (some TPP tables count only FP8 and FP4); with FP6 left out, TPP is "
                          "40,264, set by fp8/int8/fp4: no verdict changes")
    assert a.zone_shown == "no" and not any(v.reversed_by for v in a.verdicts)


def test_rules_carry_dates_and_citations() -> None:
    assert [r.id for r in RULES] == ["oct2022", "3a090", "dec2024-hbm", "apr2025-h20", "jan2026"]
    cited = {r.id: r.citation for r in RULES}
    assert cited["3a090"] == "88 FR 73458 (FR Doc 2023-23055)"
    assert cited["jan2026"] == "91 FR 1684 (FR Doc 2026-00789)"
    assert all(len(r.date) == 10 and r.date[4] == "-" for r in RULES)
    for chip in catalog.chips():
        assert {v.status for v in assess(chip).verdicts} <= set(VERDICTS)


@pytest.mark.parametrize(("name", "expected"), [
    ("nvidia-a100-sxm", "applies"),   # 4,992 >= 4800 and 2 x 300 = 600 GB/s >= 600
    ("nvidia-a800-sxm", "outside"),   # NVLink cut to 400 GB/s
    ("nvidia-h800-sxm", "outside"),
    ("nvidia-h100-sxm", "applies"),
])
def test_october_2022_needed_both_limbs(name: str, expected: str) -> None:
    verdict = RULES[0].verdict(catalog.chip(name))
    assert verdict.status == expected and "scale-up bandwidth x 2" in verdict.reason


def test_hbm_rule_is_a_note_and_the_h20_letter_applies_to_the_chip_it_names() -> None:
    """NVIDIA's 8-K names the H20: 'applies' to it (it read 'unknown')."""
    verdicts = {v.rule: v for v in assess(catalog.chip("h20")).verdicts}
    assert verdicts["dec2024-hbm"].status == "not applicable" and "HBM stacks" in verdicts["dec2024-hbm"].reason
    assert (verdicts["apr2025-h20"].status, verdicts["apr2025-h20"].reason) == (
        "applies", "named in NVIDIA's 8-K of 2025-04-15")
    letter = next(r for r in RULES if r.id == "apr2025-h20")
    assert letter.named == ("nvidia-h20",)
    assert {r.id for r in RULES if r.named} == {"apr2025-h20"}


@pytest.mark.parametrize("name, status, reason", [
    ("amd-mi300x", "not applicable", "a letter to NVIDIA on its chips; AMD's 8-K of 2025-04-16 discloses a licence "
     "requirement for its MI308 (not in the catalog, no thresholds published); no other maker's letter is modelled"),
    ("h200", "not applicable", "ECCN 3A090.a.1: a 3A090 item needs a licence already, under the Federal Register "
     "rules; the letter adds one for chips outside 3A090"),
    ("l20", "unknown", "outside 3A090 and below the H20's memory (4.00 TB/s) and interconnect (900 GB/s both ways) "
     "bandwidth: this chip has 0.86 TB/s and 64 GB/s; the letter's 'combination thereof' is unpublished"),
])
def test_the_h20_letter_is_read_at_its_text(name: str, status: str, reason: str) -> None:
    """The letter covers 'the H20 ... and any other circuits achieving the H20's memory bandwidth, interconnect
    bandwidth, or combination thereof' (NVIDIA's 8-K of 2025-04-15). policy said 'unknown thresholds ... (not
    published)' for every other chip, while `--rule` applied that text (two readings of one rule): now both read it
    one way. A letter to NVIDIA does not reach another maker's chip; a 3A090 item is licensed already."""
    verdict = next(v for v in assess(catalog.chip(name)).verdicts if v.rule == "apr2025-h20")
    assert (verdict.status, verdict.reason) == (status, reason)


def test_a_what_if_h20_the_letter_covers_is_licensed_by_it_in_every_reading() -> None:
    """A what-if H20 keeping its memory bandwidth is covered by the letter's text: apr2025 'applies' (it read 'unknown
    thresholds'), jan2026 'unknown' as for the H20 (it read 'not a 3A090 item, so no licence to review'), and the
    export filter's refusal reads the same verdict. Below both bandwidths the letter is unknown and jan2026 'not
    applicable', as before."""
    h20 = catalog.chip("h20")
    faster = what_if(h20, "2x links", scale_up_bytes_per_s=2 * h20.scale_up_bytes_per_s)
    reason = "an NVIDIA chip achieving the H20's memory bandwidth (4.00 TB/s) and interconnect bandwidth (900 GB/s " \
             "both ways), which the letter's text covers"
    verdicts = {v.rule: v for v in assess(faster).verdicts}
    assert (verdicts["apr2025-h20"].status, verdicts["apr2025-h20"].reason) == ("applies", reason)
    assert policy.licence_letter(faster) == verdicts["apr2025-h20"]
    assert (verdicts["jan2026"].status, verdicts["jan2026"].reason) == (
        "unknown", f"not a 3A090 item, but apr2025-h20 requires a licence ({reason}); whether the Jan-2026 review "
        "covers it is not modelled (TPP 2,368 < 21,000; DRAM 4,000 GB/s < 6,500 GB/s)")
    slower = what_if(h20, "half the bandwidths", memory_bytes_per_s=2e12, scale_up_bytes_per_s=225e9)
    verdicts = {v.rule: v for v in assess(slower).verdicts}
    assert (verdicts["apr2025-h20"].status, verdicts["jan2026"].status) == ("unknown", "not applicable")
    assert policy.licence_letter(slower) is None


def test_assessment_to_dict() -> None:
    d = assess(catalog.chip("h20")).to_dict()
    assert d["tpp"] == pytest.approx(2_368) and d["eccn_3a090"] == "outside" and d["eccn_3a090_possible"] == ["outside"]
    assert d["verdicts"][1] == {"rule": "3a090", "status": "outside", "reason": "outside 3A090", "reversed_by": ""}


def test_h100_at_the_3a090_line_is_an_h20() -> None:
    """Outside 3A090 on an 814 mm2 die: TPP < 2400 binds (PD 2,399 / 814 = 2.95 < 3.2), factor 2,399 / 15,832."""
    h100 = catalog.chip("h100")
    found = at_threshold(h100)
    assert found.tpp == pytest.approx(2_399) and found.tpp < 4_800 and found.eccn_3a090 is None
    assert found.rate_factor == pytest.approx(2_399 / 15_832)
    assert found.chip.peak("bf16") == pytest.approx(989.5e12 * 2_399 / 15_832)
    assert found.chip.peak("bf16") < h100.peak("bf16")
    assert found.chip.memory_bytes_per_s == h100.memory_bytes_per_s
    assert {found.chip.source_of(f"peak_flop_per_s.{k}").source.kind for k in h100.peak_flop_per_s} == {"assumption"}
    assert found.binding.startswith("TPP < 2400")
    assert tpp(h100).tpp == pytest.approx(15_832)  # the original is untouched


@pytest.mark.parametrize(("name", "rule", "expected_tpp", "binding"), [
    ("h100", "3a090.a", 4_799, "TPP < 4800"),            # 4,799 / 814 = 5.90 < 5.92: 3A090.b.1
    ("910b", "3a090.a", 5.91 * 665.6, "PD < 5.92"),      # 3,933.7
    ("910b", "3a090", 3.19 * 665.6, "PD < 3.2"),         # 2,123.3
    ("b200", "3a090", 1.59 * 1_600, "PD < 1.6"),         # 2,544: a big die escapes by low density
    ("mi355x", "3a090", 1_599, "TPP < 1600"),            # die area unknown: only TPP < 1600 is certain
    ("h200", "jan2026", 20_999, "TPP < 21,000"),         # scaled up x1.33; 4.8 TB/s kept
])
def test_at_threshold_binding_constraints(name: str, rule: str, expected_tpp: float, binding: str) -> None:
    found = at_threshold(catalog.chip(name), rule)
    assert found.tpp == pytest.approx(expected_tpp) and found.binding.startswith(binding)


def test_at_threshold_jan2026_also_cuts_memory_bandwidth() -> None:
    """B200: 36,000 -> 20,999 (x0.583) and 8,000 -> 6,499 GB/s."""
    found = at_threshold(catalog.chip("b200"), "jan2026")
    assert found.rate_factor == pytest.approx(20_999 / 36_000)
    assert found.chip.memory_bytes_per_s == pytest.approx(6_499e9)
    assert found.eccn_3a090 == "3A090.a.1" and assess(found.chip).jan2026_zone


def test_at_threshold_says_the_h20_letter_still_binds_an_nvidia_chip_keeping_its_bandwidths() -> None:
    """The H200 scaled x0.1515 to sit under 3a090 keeps 4.8 TB/s and 450 GB/s a direction, the H20's bandwidths or
    more, so the April 2025 letter still requires a licence for it, as fleet and compare --rule 3a090 read it (they
    dropped it); policy --at-threshold called it outside 3A090 and said nothing of the letter (fuzz round DI 1). An
    AMD chip is not the letter's, and a chip the line leaves in 3A090 needs its licence from the rule."""
    h200 = policy.at_threshold(catalog.chip("nvidia-h200-sxm"), "3a090")
    assert h200.eccn_3a090 is None and h200.letter.startswith("still needs a US licence under apr2025-h20: an NVIDIA")
    assert "memory bandwidth (4.00 TB/s) and interconnect bandwidth (900 GB/s both ways)" in h200.description
    assert policy.at_threshold(catalog.chip("amd-mi300x"), "3a090").letter == ""
    # below both of the H20's bandwidths the letter's verdict is unknown, and said so (fuzz round DR 5)
    assert policy.at_threshold(catalog.chip("nvidia-rtx-pro-6000d"), "3a090").letter.startswith(
        "apr2025-h20 may still require a licence (its verdict is unknown): outside 3A090 and below the H20's")
    assert policy.at_threshold(catalog.chip("nvidia-h100-sxm"), "3a090.a").letter == ""


def test_at_threshold_outside_data_centres_uses_note_2() -> None:
    workstation = dataclasses.replace(catalog.chip("h100"), datacenter=False)
    found = at_threshold(workstation)
    assert found.tpp == pytest.approx(4_799) and found.eccn_3a090 is None


def test_at_threshold_rejects_an_unknown_rule() -> None:
    with pytest.raises(PolicyError, match="rule must be one of .* got 'oct2022'"):
        at_threshold(catalog.chip("h100"), "oct2022")


@settings(max_examples=40, deadline=None)
@given(st.floats(100, 5_000), st.floats(0.1, 5.0), st.sampled_from(["3a090", "3a090.a"]))
def test_at_threshold_is_the_fastest_under_the_line(area_mm2: float, pflop_per_s: float, rule: str) -> None:
    """The variant is under the line, and 1% more on every rate puts it over."""
    chip = round_chip(die_area_m2=area_mm2 * 1e-6, peak_flop_per_s={"bf16": pflop_per_s * 1e15})
    found = at_threshold(chip, rule)
    faster = what_if(found.chip, "1% faster", peak_flop_per_s={"bf16": 1.01 * found.chip.peak("bf16")})
    eccn = assess(faster).eccn_3a090
    assert eccn is not None and (rule == "3a090" or eccn.startswith("3A090.a"))


def _run(*args: str) -> tuple[int, str, str]:
    from click.testing import CliRunner

    from parity.cli import cli

    result = CliRunner().invoke(cli, ["policy", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_cli_policy_json_rows() -> None:
    code, out, _ = _run("h100", "h20", "--format", "json")
    rows = json.loads(out)
    assert code == 0 and [r["chip"] for r in rows] == ["nvidia-h100-sxm", "nvidia-h20"]
    assert {"tpp", "performance_density_tpp_per_mm2", "eccn_3a090"} <= set(rows[0])
    assert rows[0]["tpp"] == pytest.approx(15_832) and rows[1]["eccn_3a090"] == "outside"  # as the table says it


def test_cli_policy_defaults_to_every_chip_and_takes_tf32_bits() -> None:
    code, out, _ = _run("--format", "csv", "--tf32-bits", "32")
    lines = out.splitlines()
    assert code == 0 and len(lines) == len(catalog.chips()) + 1
    trn2 = next(row for row in csv.DictReader(io.StringIO(out)) if row["chip"] == "aws-trainium2")
    assert (trn2["tpp"], trn2["tpp_format"], trn2["tf32_bits"]) == ("21344.0", "tf32", "32")


@pytest.mark.parametrize("args", [("no-such-chip",), ("--at-threshold", "h10"), ("h100", "--tf32-bits", "16"),
                                  ("h100", "--rule", "jan2026"), ("h100", "--at-threshold", "h20"),
                                  ("--at-threshold", "h20", "--engine", "nosuch")])
def test_cli_policy_mistakes_give_one_line_and_exit_2(args: tuple[str, ...]) -> None:
    code, out, err = _run(*args)
    assert code == 2 and err.startswith("parity: error: ") and err.count("\n") == 1, err


def test_cli_at_threshold_compares_the_variant_with_the_original() -> None:
    code, out, _ = _run("--at-threshold", "h100", "--model", "llama-3.1-8b", "--format", "json")
    payload = json.loads(out)
    original, variant = payload["rows"]
    assert code == 0 and payload["threshold"]["tpp"] == pytest.approx(2_399)
    assert variant["system"] == "hgx-h100@3a090" and variant["tpp"] < 4_800 and variant["eccn_3a090"] == "outside"
    assert payload["threshold"]["eccn_3a090"] == "outside" and original["eccn_3a090"] == "3A090.a.1"
    # the class in policy's record fields, as every record holds it (fuzzED 5)
    assert (original["eccn_3a090_possible"], variant["eccn_3a090_possible"]) == (["3A090.a.1"], ["outside"])
    assert variant["bf16_flop_per_s"] < original["bf16_flop_per_s"]
    assert 0 < variant["prefill_tokens_per_s_per_chip"] < original["prefill_tokens_per_s_per_chip"]
    assert 0 < variant["decode_tokens_per_s_per_chip"] <= original["decode_tokens_per_s_per_chip"]


def test_at_threshold_gives_the_prefill_ratio_and_no_zero_rates() -> None:
    """An H100 derated to sit just under 3A090 (rates x0.15): Llama-3.1-70B prefill 1,393 against 7,795 tok/s/chip
    (0.18x; the column was always '-'); at a TPOT no configuration meets, the rates are '-', not 0."""
    import json
    import re

    from click.testing import CliRunner

    from parity.cli import cli
    found = json.loads(CliRunner().invoke(cli, ["policy", "--at-threshold", "nvidia-h100-sxm", "--format",
                                                "json"]).stdout)
    original, derated = found["rows"]
    assert original["prefill_ratio"] == 1.0 and round(derated["prefill_ratio"], 2) == 0.18
    table = CliRunner().invoke(cli, ["policy", "--at-threshold", "nvidia-h100-sxm", "--tpot", "1ms"],
                               env={"COLUMNS": "120"}).stdout
    assert "the TPOT target 1 ms binds" in " ".join(table.split())
    rows = [line for line in table.splitlines() if line.startswith("hgx-h100")]
    # mem TB/s, rate, x; the derated row says it is a what-if, whether a configuration meets the target or not
    assert len(rows) == 2 and [bool(re.search(r"3\.35\s+-\s+-\s+" + note, line))
                               for note, line in zip(("the TPOT", r"what-if: peak rates"), rows)] == [True, True]


def test_a_chip_at_the_line_names_the_measured_chips_under_it_on_every_serving_figure() -> None:
    """The H200 cut to TPP 2,399 (rates x0.1515: bf16 150, fp8 300 TFLOP/s; 141 GB, 4.8 TB/s, 450/50 GB/s links) ran
    DeepSeek-R1 at 646 tok/s/chip on the H200's calibration, where the H20 (bf16 148, fp8 296; 96 GB, 4.0 TB/s, the
    same links), under it on each, gets 720 on its own (report-only tester fuzzEP 6). Such a chip is named; the B200
    cut to the line has the H20 under it too; the H100 cut to it has none (its 3.35 TB/s is under the H20's 4.0), nor
    the 910C (3.2 TB/s; the 910B's bf16 376 TFLOP/s is over its 150)."""
    under = {name: [c.id for c in policy.measured_within(at_threshold(catalog.chip(name)).chip, ("fp8", "bf16"))]
             for name in ("h200", "b200", "h100", "910c")}
    assert under == {"h200": ["nvidia-h20"], "b200": ["nvidia-h20"], "h100": [], "910c": []}
    code, out, _ = _run("--at-threshold", "h200", "--model", "llama-3.1-8b", "--format", "md")
    assert code == 0 and ("nvidia-h20: shipping, calibrated on its own measurements, with no fp8/bf16 rate, memory, "
                          "memory bandwidth or link above the what-if's, which runs nvidia-h200-sxm's calibration on "
                          "scaled rates: `parity compare hgx-h20 --model llama-3.1-8b` prices it on its own.") \
        in " ".join(out.split())


def test_a_figure_just_under_a_line_reads_under_it() -> None:
    """The B200 scaled under jan2026 has 6,499 GB/s: 'mem TB/s 6.5' read as on the < 6,500 line (report-only tester
    fuzzED 3). Digits are added only where a figure under a line would round onto it; TPP and PD alike."""
    from parity.cli.policy_cmd import _BANDWIDTH, _PD, _TPP

    assert [_BANDWIDTH(x) for x in (6_499e9, 6_499.99e9, 8e12, 3.35e12, 6_500e9, None)] == [
        "6.499", "6.49999", "8", "3.35", "6.5", "-"]
    assert [_TPP(x) for x in (20_999.6, 4_799.96, 2_399.0, 4_800.0)] == ["20,999.6", "4,799.96", "2,399", "4,800"]
    assert [_PD(x) for x in (3.199, 5.9199, 13.12)] == ["3.199", "5.9199", "13.12"]
    code, out, _ = _run("--at-threshold", "b200", "--rule", "jan2026", "--wide")
    (row,) = [line for line in out.splitlines() if line.startswith("hgx-b200") and "what-if" in line]
    assert code == 0 and " 1,312     6.499 " in row


def test_a_chip_scaled_to_the_line_keeps_its_calibration() -> None:
    """The H20 scaled to just under 3A090 (rates x2,399 / 2,368 = x1.0131) lost its own calibration (measured GEMM
    and attention rates) for the Hopper family's and fell from 720 to 656 output tok/s/chip on Llama-3.1-70B (then);
    keeping it, it delivers 747.5 to the H20's 738.4 (prefill 1,647 -> 1,668). Margins that put the line at x1.0
    reproduce the H20 exactly, and output never falls as the factor grows (x0.887: 658.9, x0.971: 718.3)."""
    h20, model, engine = catalog.chip("h20"), catalog.model("llama-3.1-70b"), catalog.engine("generic")
    node = catalog.system_for(h20)
    rates = []
    for margin in (2_400 - 2_368, 300, 100, 1):
        found = at_threshold(h20, tpp_margin=margin)
        assert catalog.calibration(found.chip) == catalog.calibration(h20)
        variant = dataclasses.replace(node, id="variant", chip=found.chip)
        original, scaled = compare([node, variant], model, engine, 0.05, 1024, 1024)
        rates.append((found.rate_factor, scaled.tokens_per_s_per_chip))
        if margin == 2_400 - 2_368:
            assert found.rate_factor == 1.0 and scaled.tokens_per_s_per_chip == original.tokens_per_s_per_chip
            assert scaled.prefill_tokens_per_s_per_chip == original.prefill_tokens_per_s_per_chip
    assert original.tokens_per_s_per_chip == pytest.approx(738.4, abs=0.1)
    assert [round(rate, 1) for _, rate in rates] == [738.4, 658.9, 718.3, 747.5]
    by_factor = [rate for _, rate in sorted(rates)]
    assert by_factor == sorted(by_factor)


def test_cli_at_threshold_h20_gains_what_its_rates_gain() -> None:
    """`policy --at-threshold nvidia-h20`: x1.0131 on every rate, 738 -> 748 tok/s/chip (was 643, 0.90x), and the
    variant is not flagged uncalibrated."""
    code, out, _ = _run("--at-threshold", "nvidia-h20", "--format", "json")
    original, variant = json.loads(out)["rows"]
    assert code == 0 and variant["rate_factor"] == pytest.approx(2_399 / 2_368)
    assert (round(original["tokens_per_s_per_chip"]), round(variant["tokens_per_s_per_chip"])) == (738, 748)
    assert not any("uncalibrated" in flag for flag in variant["flags"])


@pytest.mark.e2e  # over 1.5 s: the end-to-end tier keeps the default run under a minute
def test_cli_at_threshold_prints_the_decode_ratios_interval_its_note_refers_to() -> None:
    """An H20 scaled to just under 3A090 on DeepSeek-R1: 1.0126x the H20's decode rate. The chip at the line is the
    H20 itself with its peak rates x1.0131, priced with its calibration, stack and engine: the errors the two
    predictions share cancel, and the interval is parity's response to the scaling alone, 1.0126 e^(-/+ 0.5 ln
    1.0126) = 1.0063-1.0190 (uncertainty.response_interval); both vendor bands, the what-if's 2.136 times as wide in
    log, gave 0.69-1.49 and 'no clear winner' for a chip that differs from the H20 in its clock alone (report-only
    tester fixwhatif; 0.82-1.25 before a what-if's band widened: fuzzCD 1). The JSON carries it (ratio_interval) and
    the table prints it under the ratio, as compare does; the baseline row has none."""
    import re

    from click.testing import CliRunner

    from parity.cli import cli
    from parity.uncertainty import response_interval
    args = ["policy", "--at-threshold", "h20", "--rule", "3a090", "--model", "deepseek-r1"]
    payload = json.loads(CliRunner().invoke(cli, [*args, "--format", "json"]).stdout)
    row = payload["rows"][1]
    assert row["ratio_basis"] == "response" and round(row["decode_ratio"], 4) == 1.0126
    assert row["ratio_interval"] == pytest.approx(response_interval(row["decode_ratio"]), rel=1e-9)
    assert [round(x, 4) for x in row["ratio_interval"]] == [1.0063, 1.019]
    table = CliRunner().invoke(cli, args, env={"COLUMNS": "80"}).stdout
    lines = table.splitlines()
    variant = next(i for i, line in enumerate(lines) if line.startswith("hgx-h20 ") and "1.01x" in line)
    assert re.match(r"@3a090\s+1\.01-1\.02\s", lines[variant + 1]), lines[variant + 1]  # under the ratio
    said = " ".join(table.split())
    assert "out x" in table and "80% int." in table and "no clear winner" not in said
    assert ("80% int.: the 80% interval of the output ratio (under it; ratio_interval in --format json), parity's "
            "response to the scaling alone: the chip at the line is the chip itself") in said


def test_cli_at_threshold_refuses_a_system_of_another_chip() -> None:
    """H100s in a GB200 NVL72 ran on the rack's links and power under the row name gb200-nvl72; a system of the
    chip being scaled is taken, any other refused."""
    code, _, err = _run("--at-threshold", "nvidia-h100-sxm", "--system", "gb200-nvl72")
    assert code == 2 and err == ("parity: error: --system gb200-nvl72 holds nvidia-gb200, not nvidia-h100-sxm: give a "
                                 "system of nvidia-h100-sxm (hgx-h100)\n")
    code, out, _ = _run("--at-threshold", "h100", "--system", "hgx-h100", "--model", "llama-3.1-8b", "--format", "json")
    assert code == 0 and [r["system"] for r in json.loads(out)["rows"]] == ["hgx-h100", "hgx-h100@3a090"]


@pytest.mark.parametrize(("args", "message"), [
    (("--isl", "5"), "--isl only applies with --at-threshold CHIP"),
    (("--osl", "7"), "--osl only applies with --at-threshold CHIP"),
    (("--engine", "nosuch"), "--engine only applies with --at-threshold CHIP"),
    (("h100", "--rule", "3a090", "--tpot", "40ms"), "--rule, --tpot only apply with --at-threshold CHIP"),
    (("nvidia-h100-sxm", "h100", "h20"), "nvidia-h100-sxm named twice: each chip is assessed once"),
    # a system is assessed as its chip: it was 'huawei-ascend-910c named twice', a chip named once
    (("h20", "h100", "910c", "cloudmatrix-384"), "cloudmatrix-384 is assessed as its chip, huawei-ascend-910c, already "
                                                 "named: each chip is assessed once"),
    (("cloudmatrix-384", "atlas-800-a3"), "cloudmatrix-384 and atlas-800-a3 are assessed as their chip, "
                                          "huawei-ascend-910c: each chip is assessed once"),
    (("cloudmatrix-384", "cloudmatrix-384"), "cloudmatrix-384 named twice: each chip is assessed once"),
])
def test_cli_policy_refuses_what_it_would_not_read(args: tuple[str, ...], message: str) -> None:
    """The workload options are read only with --at-threshold (--isl, --osl and --engine were accepted and ignored
    without it while --model and --tpot were refused), and a chip is assessed once as compare compares a system
    once."""
    code, out, err = _run(*args)
    assert code == 2 and out == "" and err == f"parity: error: {message}\n"


@pytest.mark.parametrize(("args", "message"), [
    (("--at-threshold", "h100", "--system", ""), "no system or chip name given: name one ('parity systems' and "
     "'parity chips' list them)"),
    (("--at-threshold", "h100", "--model", ""), "no model name given: name one ('parity models' lists them), or a "
     "config.json"),
])
def test_cli_at_threshold_refuses_an_empty_name(args: tuple[str, ...], message: str) -> None:
    """An empty --system (or --model) ran on the default system (model), rc 0; it is refused as compare refuses it."""
    code, out, err = _run(*args)
    assert code == 2 and out == "" and err == f"parity: error: {message}\n"


@pytest.mark.parametrize(("args", "says"), [
    # the library's name: 'tf32_bits must be one of (0, 19, 32)'
    (("h100", "--tf32-bits", "16"), "Invalid value for '--tf32-bits': '16' is not one of '0', '19', '32'."),
    # 'cannot read 'p99:50ms'': the steady model's means only, as formats says it
    (("--at-threshold", "h100", "--tpot", "p99:50ms"), "'p99:50ms': this command's steady-state model gives means "
     "only; a percentile target is checked by the simulator"),
])
def test_cli_policy_mistakes_name_the_option(args: tuple[str, ...], says: str) -> None:
    code, _, err = _run(*args)
    assert code == 2 and says in err and err.count("\n") == 1, err


def test_cli_policy_names_the_performance_densitys_unit() -> None:
    """The key read 'performance_density', without its unit (TPP per mm^2 of logic die)."""
    code, out, _ = _run("h100", "--format", "json")
    (row,) = json.loads(out)
    assert code == 0 and row["performance_density_tpp_per_mm2"] == pytest.approx(19.45, abs=0.005)
    assert "performance_density" not in row


def test_the_report_and_the_policy_table_name_every_format_that_sets_the_tpp() -> None:
    """The H100's TPP of 15,832 is set by BF16, FP8 and INT8 alike (989.5 x 16 = 1,979 x 8): `policy` said
    'bf16/fp8/int8' and the report's export-control table 'bf16' (its first format); both now read Assessment.set_by
    (the report's page is checked end to end in test_report)."""
    h100 = assess(catalog.chip("nvidia-h100-sxm"))
    assert (h100.tpp_format, h100.set_by) == ("bf16", "bf16/fp8/int8")
    assert assess(catalog.chip("huawei-ascend-910b")).set_by == "bf16/int8"
    code, out, _ = _run("nvidia-h100-sxm", "--format", "md")  # the table's words; JSON and CSV: the list tpp_tied
    assert code == 0 and " | bf16/fp8/int8 | " in out


@pytest.mark.e2e  # two DeepSeek-R1 searches (2 s): the end-to-end tier keeps the default run under a minute
def test_cli_at_threshold_serves_as_compare_does() -> None:
    """`policy --at-threshold h100 --model deepseek-r1` ran MTP off and without a TTFT target (2,356 tok/s/chip)
    where compare runs the model's MTP default (1 draft) at TTFT 5 s (2,850; 3,101 before disaggregated rows were
    priced on whole workers); both now run compare's workload, the title and caption say so. --mtp 0 --ttft none
    gave the former figure, and now compare's 1,985 (3,038 over four before: on whole workers, four reach 2,620,
    under the 1.25x gain that spanning more needs; 2,222 over two systems before an EP x ETP all-to-all crossed
    scale-out as its ranks do)."""
    from click.testing import CliRunner

    from parity.cli import cli
    compared = json.loads(CliRunner().invoke(cli, ["compare", "hgx-h100", "--model", "deepseek-r1", "--format",
                                                   "json"]).stdout)
    code, out, _ = _run("--at-threshold", "h100", "--model", "deepseek-r1", "--format", "json")
    original, _ = json.loads(out)["rows"]
    assert code == 0 and original["tokens_per_s_per_chip"] == compared[0]["tokens_per_s_per_chip"]
    assert round(original["tokens_per_s_per_chip"]) == 2_850
    code, out, _ = _run("--at-threshold", "h100", "--model", "deepseek-r1", "--mtp", "0", "--ttft", "none",
                        "--format", "json")
    assert code == 0 and round(json.loads(out)["rows"][0]["tokens_per_s_per_chip"]) == 1_985
    code, table, _ = _run("--at-threshold", "h100", "--model", "deepseek-r1")
    words = " ".join(table.split())
    assert "at TPOT 50 ms, TTFT 5 s" in words and "MTP 1 draft token a decode step" in words
    assert "(the default for deepseek-r1, which ships MTP modules; --mtp 0: off)" in words


@pytest.mark.parametrize(("args", "message"), [
    (("h100", "--mtp", "1"), "--mtp only applies with --at-threshold CHIP"),
    (("h100", "--ttft", "2s"), "--ttft only applies with --at-threshold CHIP"),
    (("--at-threshold", "h100", "--model", "llama-3.1-8b", "--mtp", "1"),
     "--mtp 1 does nothing here: llama-3.1-8b has no MTP layers (drop --mtp)"),
])
def test_cli_policy_reads_mtp_and_ttft_only_at_threshold(args: tuple[str, ...], message: str) -> None:
    code, out, err = _run(*args)
    assert code == 2 and out == "" and err == f"parity: error: {message}\n"


def test_at_19_bit_tf32_both_other_readings_are_tried() -> None:
    """`--tf32-bits 19` tried only 'not counted' as the other reading, so the 32-bit reading that takes Trainium2 and 3
    past the Jan-2026 line lost its mark (fuzz 16 1.5): at 19 bits Trainium2 is 12,673 and 'yes*'."""
    trn2 = assess(catalog.chip("aws-trainium2"), tf32_bits=19)
    assert round(trn2.tpp) == 12_673 and trn2.zone_shown == "yes*"
    assert "outside with TF32 counted at 32 bits (TPP 21,344)" in "; ".join(trn2.reversals)


def test_the_policy_table_shows_the_h20_letter_before_the_superseded_oct2022_limbs() -> None:
    """The April 2025 letter's verdict was in JSON only: the H20's and the L20's rows read alike ('outside', 'n/a')
    though the letter applies to one (fuzz 21 4.2). It is a column, given room before Oct-2022's (superseded)."""
    code, out, _ = _run("h20", "l20", "h200", "--format", "md")
    cells = {row[0]: row[7] for row in ([c.strip() for c in line.split("|")[1:-1]] for line in out.splitlines())
             if row and row[0].startswith("nvidia-")}
    assert code == 0 and cells == {"nvidia-h20": "applies", "nvidia-l20": "unknown", "nvidia-h200-sxm": "n/a"}
    from click.testing import CliRunner

    from parity.cli import cli
    result = CliRunner(env={"COLUMNS": "100"}).invoke(cli, ["policy", "h20", "l20"])
    header = next(line for line in result.output.splitlines() if line.startswith("chip"))
    assert "H20 letter" in header and "Oct-2022" not in header


def test_the_report_shows_the_h20_letter_as_the_policy_table_does() -> None:
    """The report's export-control table showed the H20 'outside / n/a' with empty notes and never named the April
    2025 letter, while `parity policy` has an 'H20 letter' column (fuzz22b 5.1). Both now read
    Assessment.letter_shown: applies on the H20, unknown on the L20, n/a on a 3A090 item (H200) and on another
    maker's chip (MI300X)."""
    from parity.report.export_section import export_controls

    # the cells as they read (a stacked table's cells carry their column's name and role: markup.table)
    section = re.sub(r"<(td|th)\b[^>]*>", r"<\1>", export_controls([catalog.chip(c) for c in ("h20", "l20", "h200",
                                                                                               "mi300x")]))
    assert "<th>ECCN 3A090</th><th>H20 letter</th><th>Jan-2026 zone</th>" in section
    letter = dict(re.findall(r"<span class='id'>([\w-]+)</span>.*?<td>(?:3A090\.a\.1|outside)~?</td><td>([\w/]+)</td>",
                             section))
    assert letter == {"nvidia-h20": "applies", "nvidia-l20": "unknown", "nvidia-h200-sxm": "n/a", "amd-mi300x": "n/a"}
    # a class near a line from figures no datasheet states is marked as `parity policy` marks it, and said under it
    assert "<td>outside~</td>" in section and "<td>3A090.a.1</td>" in section
    assert ("~ a metric within 10% of a line, from figures no datasheet states, so the class may differ (which "
            "figures: notes): nvidia-h20 TPP 2,368 is 1.3% under the 2,400 line;") in section
    assert ("H20 letter: NVIDIA Form 8-K filed 2025-04-15 (not a Federal Register rule), dated 2025-04-09. The H20 "
            "letter (to NVIDIA) names the H20 and covers circuits achieving its memory or interconnect "
            "bandwidth") in section


def test_a_metric_near_a_line_from_figures_no_datasheet_states_is_said() -> None:
    """RTX Pro 6000D: TPP 2,324 (from The Register's ~581 TFLOP/s FP4, press, and its derived quarters and halves) is
    (2,400 - 2,324) / 2,400 = 3.2% under the 2,400 line, and PD 2,324 / 750 = 3.10 (a derived whole-GB202 die) 3.2%
    under 3.2: its class 'outside' was given with no warning. The MLU590's assumed rates give TPP 4,992, 4.0% over
    4,800. The H100 (datasheet peaks, TPP 15,832 far from 21,000) and a what-if (the question asked) get none."""
    a = assess(catalog.chip("rtx-pro-6000d"))
    assert a.near_lines == (
        "TPP 2,324 is 3.2% under the 2,400 line, from figures no datasheet states (derived: bf16/fp8/int8; press: "
        "fp4): the chip's true figures may cross it",
        "PD 3.10 is 3.2% under the 3.20 line, from figures no datasheet states (derived: bf16/fp8/int8/die area; "
        "press: fp4): the chip's true figures may cross it")
    assert set(a.near_lines) <= set(a.notes)
    assert assess(catalog.chip("mlu590")).near_lines == (
        "TPP 4,992 is 4.0% at or over the 4,800 line, from figures no datasheet states (assumption: bf16/int8): the "
        "chip's true figures may cross it",)
    assert assess(catalog.chip("h100")).near_lines == ()
    assert assess(at_threshold(catalog.chip("h100"), "3a090.a").chip).near_lines == ()
    data = json.loads(_run("rtx-pro-6000d", "--format", "json")[1])[0]
    assert data["near_lines"] == list(a.near_lines) and data["eccn_3a090_possible"] == ["outside"]
    code, out, _ = _run("rtx-pro-6000d", "--format", "md")
    assert code == 0 and "| outside~ |" in out
    assert ("~ a metric within 10% of a line, from figures no datasheet states, so the class may differ (which "
            "figures: notes, near_lines in --format json): nvidia-rtx-pro-6000d TPP 2,324 is 3.2% under the 2,400 "
            "line; nvidia-rtx-pro-6000d PD 3.10 is 3.2% under the 3.20 line.") in " ".join(out.split())


def test_a_chip_not_shipping_says_so_and_what_its_tpp_rests_on() -> None:
    """`policy rubin b30a 960 970 trainium3` never said a chip was announced, reported or roadmap, nor that its TPP
    rests on peaks no datasheet states (said only within 10% of a line). Rubin's TPP 140,000 is NVFP4 35 PF x 4 from
    a press copy of NVIDIA's keynote; the 960's 16,000 ties BF16 (derived, FP8 / 2) with FP8 and FP4 (Huawei Connect
    2025 keynote, press); Trainium3's 20,136 is MXFP8 2,517 x 8 from AWS Neuron documentation (a datasheet), so only
    its status is noted; the H100 ships and has neither note."""
    notes = {c: assess(catalog.chip(c)).notes[-2:] for c in ("rubin", "960", "b30a")}
    assert notes["rubin"] == ("announced chip, not shipping: press/derived/assumption figures (parity show "
                              "nvidia-rubin)", "TPP rests on peaks no datasheet states (press: fp4)")
    assert notes["960"] == ("roadmap chip, not shipping: press/derived/assumption figures (parity show "
                            "huawei-ascend-960)",
                            "TPP rests on peaks no datasheet states (derived: bf16; press: fp8/fp4)")
    assert notes["b30a"][1] == "TPP rests on peaks no datasheet states (derived: fp4)"
    trn3, h100 = assess(catalog.chip("trainium3")), assess(catalog.chip("h100"))
    assert trn3.notes[-1] == "announced chip, not shipping: datasheet/assumption figures (parity show aws-trainium3)"
    assert (trn3.status, h100.status, h100.notes) == ("announced", "shipping", ("also meets 3A090.a.2",))
    code, out, _ = _run("rubin", "970", "h100", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and [(r["chip"], r["status"]) for r in rows] == [
        ("nvidia-rubin", "announced"), ("huawei-ascend-970", "roadmap"), ("nvidia-h100-sxm", "shipping")]
    assert json.loads(rows[1]["notes"])[-1] == "TPP rests on peaks no datasheet states (derived: bf16; press: fp8/fp4)"
    data = json.loads(_run("b30a", "--format", "json")[1])[0]
    assert data["status"] == "reported" and "reported chip, not shipping: derived figures (parity show nvidia-b30a)" \
        in data["notes"]
    code, out, _ = _run("rubin", "--format", "md")
    assert code == 0 and "announced chip, not shipping: press/derived/assumption figures" in out
    from parity.report.export_section import export_controls

    assert "reported chip, not shipping: derived figures (parity show nvidia-b30a); TPP rests on peaks no datasheet " \
        "states (derived: fp4)" in export_controls([catalog.chip("b30a")])


def test_a_shipping_chip_says_what_its_tpp_rests_on_as_its_die_area() -> None:
    """The 910C's TPP 12,800 is 800 TFLOP/s x 16, Huawei's 307.2 PFLOPS FP16 for 384 NPUs divided out (derived; the
    CloudMatrix384 paper's 752 gives 12,032), but its notes flagged only the die area as derived (report-only tester
    fuzzEP 5): what a TPP rests on is said from its peaks' source kinds whether the chip ships or not. The 910B's
    BF16 is an analyst's estimate and its INT8 derived; the H100's are a datasheet's, and the H20's press figures are
    said in its near-line notes already."""
    notes = {c: assess(catalog.chip(c)).notes for c in ("910c", "910b", "h100", "h20")}
    assert notes["910c"] == ("also meets 3A090.a.2", "die area is derived, so PD is approximate",
                             "TPP rests on peaks no datasheet states (derived: bf16/int8)")
    assert notes["910b"][-1] == "TPP rests on peaks no datasheet states (analyst-estimate: bf16; derived: int8)"
    assert notes["h100"] == ("also meets 3A090.a.2",)
    assert not any(n.startswith("TPP rests") for n in notes["h20"]) and notes["h20"][0].startswith("TPP 2,368 is")


def test_policy_csv_is_the_json_record_flattened() -> None:
    """`policy --format csv` used the JSON's key names for other values (tpp_format 'bf16/fp8/int8' against 'bf16',
    eccn_3a090 'unknown: a.2/b.2/outside' against 'unknown', license_exception_nac 'unknown' against null, notes
    joined by '; ', china_kept_by 'domestic' against china.kept_by a list), lacked name, datacenter, die_area_mm2,
    tpp_tied and near_lines, and had a column rule_dec2024-hbm. Now each CSV row is its JSON record: the 'china'
    mapping spread over china_* columns, every list one cell of JSON text, null an empty cell; the words stay in the
    table."""
    chips = ("alibaba-t-head-ppu", "nvidia-h20", "huawei-ascend-910b")
    records = json.loads(_run(*chips, "--format", "json")[1])
    code, out, _ = _run(*chips, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))

    def cell(value: object) -> str:
        return json.dumps(value) if isinstance(value, list) else "" if value is None else str(value)

    flat = [{**{k: cell(v) for k, v in r.items() if k != "china"},
             **{f"china_{k}": cell(v) for k, v in r["china"].items()}} for r in records]
    assert code == 0 and rows == flat
    assert not [key for key in rows[0] if not re.fullmatch(r"[a-z0-9_]+", key)]
    assert {"name", "datacenter", "die_area_mm2", "tpp_tied", "near_lines"} <= set(rows[0])
    ppu, h20, _ = rows
    assert (h20["tpp_format"], h20["tpp_tied"]) == ("bf16", '["bf16", "fp8", "int8"]')
    assert (ppu["eccn_3a090"], ppu["license_exception_nac"], ppu["china_kept_by"], ppu["die_area_mm2"]) == (
        "unknown", "", '["3a090", "3a090.a", "jan2026"]', "")
    assert json.loads(ppu["notes"])[0] == "die area unknown: PD not computed"
    table = _run(*chips, "--format", "md")[1]  # for people, the words
    assert "| unknown: a.2/b.2/outside |" in table and "| domestic |" in table and "| bf16/fp8/int8 |" in table
