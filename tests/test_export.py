"""`fleet --rule` and `compare --rule`: only the chips a buyer in China gets under a US export-control rule, read
from parity.policy's verdicts, every chip dropped named with why; and fleet's eccn_3a090 key."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner

from parity import catalog
from parity.cli import cli
from parity.errors import PolicyError
from parity.export import Decision, decide, refusal, screen
from parity.hardware import what_if
from parity.policy import assess, at_threshold
from parity.sweep import Variant

LETTER = "licence required by apr2025-h20 (named in NVIDIA's 8-K of 2025-04-15)"
JAN_UNKNOWN = (", and jan2026 is unknown (whether its review covers a letter's licence is not modelled): not taken as "
               "granted")
UNSURE = ", and apr2025-h20 unknown (its 'combination thereof' is unpublished: the lines decide)"
NEAR_L20 = ", near a line from figures no datasheet states (PD 3.14 is 1.8% under the 3.20 line)"
L20_JAN = ("outside, not a 3A090 item, so no licence to review (TPP 1,912 < 21,000; DRAM 864 GB/s < 6,500 GB/s)"
           + UNSURE + NEAR_L20)


@pytest.mark.parametrize(("name", "rule", "says"), [
    ("h100", "3a090", "3A090.a.1 (TPP 15,832)"),                     # 1,979 FP8 x 8
    ("910b", "3a090", ""),                                           # TPP 6,016 (3A090.a.1), but domestic
    ("910c", "3a090.a", ""),                                         # TPP 12,800, domestic (Huawei)
    ("mlu590", "3a090", ""),                                         # domestic (Cambricon)
    ("mi300x", "3a090", "3A090.a.1 (TPP 20,919)"),
    ("l20", "3a090", ""),                                            # TPP 1,912 < 2400 and PD 3.14 < 3.2
    ("rtx-pro-6000d", "3a090", ""),                                  # TPP 2,324 < 2400 and PD 3.10 < 3.2
    ("h20", "3a090", LETTER),                                        # outside 3A090, but the letter names it
    ("h20", "3a090.a", LETTER),
    ("h20", "jan2026", LETTER + JAN_UNKNOWN),
    ("tpu-v4", "3a090", "ECCN 3A090 unknown: a.2/b.1/outside, by a die area the catalog lacks (TPP 4,400)"),
    ("tpu-v4", "3a090.a", "ECCN 3A090 unknown: a.2/b.1/outside, by a die area the catalog lacks (TPP 4,400)"),
    ("tpu-v4", "jan2026", ""),                                       # 3A090 or not, inside the case-by-case line
    ("ppu", "3a090", ""),                                            # unknown class, but domestic (Alibaba T-Head)
    ("h200", "jan2026", ""),                                         # 15,832 < 21,000 and 4,800 < 6,500 GB/s
    ("910c", "jan2026", ""),                                         # 12,800 and 3,200 GB/s
    ("b200", "jan2026", "3A090.a.1, above the case-by-case line: presumption of denial (TPP 36,000 >= 21,000; "
                        "DRAM 8,000 GB/s >= 6,500 GB/s)"),
])
def test_what_each_rule_refuses_and_why(name: str, rule: str, says: str) -> None:
    assert refusal(catalog.chip(name), rule) == says


def test_jan2026_refuses_a_chip_of_unknown_class_only_where_a_3a090_class_is_above_the_line() -> None:
    """TPU v4 (TPP 4,400, no die area: a.2, b.1 or outside): its jan2026 verdict is 'unknown' (applies in 3A090, not
    applicable outside), and both keep it; with 7 TB/s of DRAM (>= 6,500 GB/s) a 3A090 class is above the line."""
    faster = what_if(catalog.chip("tpu-v4"), "7 TB/s", memory_bytes_per_s=7e12)
    assert refusal(faster, "jan2026") == (
        "unknown: a.2/b.1/outside, depends on the 3A090 class (die area not known): outside if 3A090.a.2 or "
        "3A090.b.1; not applicable if outside (TPP 4,400 < 21,000; DRAM 7,000 GB/s >= 6,500 GB/s)")


def test_3a090_b_passes_3a090_a_under_nac_but_not_3a090() -> None:
    """An H100 scaled to just under 3A090.a is 3A090.b.1 (TPP 4,799, PD 5.90 on 814 mm^2): kept by 3a090.a (License
    Exception NAC), refused by 3a090. A what-if H20 is refused where it achieves the H20's memory or interconnect
    bandwidth, which the letter's text covers ('and any other circuits achieving the H20's memory bandwidth,
    interconnect bandwidth, or combination thereof'; a variant with the same bandwidths passed for exportable, fuzz
    16 1.1), and judged by the thresholds where it achieves neither."""
    variant = at_threshold(catalog.chip("h100"), "3a090.a").chip
    assert refusal(variant, "3a090.a") == "" and refusal(variant, "jan2026") == ""
    assert refusal(variant, "3a090") == "3A090.b.1 (TPP 4,799, PD 5.90)"
    halved = at_threshold(catalog.chip("h20"), "3a090").chip  # its peak rates scaled, its bandwidths the H20's
    assert refusal(halved, "3a090") == (
        "licence required by apr2025-h20 (an NVIDIA chip achieving the H20's memory bandwidth (4.00 TB/s) and "
        "interconnect bandwidth (900 GB/s both ways), which the letter's text covers)")
    slower = what_if(catalog.chip("h20"), "half the bandwidths", memory_bytes_per_s=2e12, scale_up_bytes_per_s=225e9)
    assert refusal(slower, "3a090") == ""  # neither bandwidth: judged by the thresholds (outside 3A090)
    with pytest.raises(PolicyError, match=r"rule must be one of \('3a090', '3a090.a', 'jan2026'\), got 'oct2022'"):
        refusal(variant, "oct2022")


def test_screen_keeps_the_order_and_names_a_system_beside_its_chip() -> None:
    systems = [catalog.system(n) for n in ("h20", "cloudmatrix-384", "rtx-pro-6000d", "b200")]
    found = screen(systems, "JAN2026")
    assert [s.id for s in found.kept] == ["cloudmatrix-384", catalog.system("rtx-pro-6000d").id]
    assert found.dropped == (
        f"nvidia-h20: {LETTER}{JAN_UNKNOWN}",
        "nvidia-b200-sxm: 3A090.a.1, above the case-by-case line: presumption of denial (TPP 36,000 >= 21,000; DRAM "
        "8,000 GB/s >= 6,500 GB/s)")
    under_3a090 = screen(systems, "3a090")
    assert [s.id for s in under_3a090.kept] == ["cloudmatrix-384", catalog.system("rtx-pro-6000d").id]
    assert under_3a090.domestic == ("cloudmatrix-384 (huawei-ascend-910c): domestic (Huawei), no US export licence",)


def _invoke(*args: str):
    return CliRunner().invoke(cli, list(args), env={"COLUMNS": "80"})


def test_fleet_with_every_chip_dropped_says_why_on_one_line() -> None:
    """H20, H100 and H200 under 3a090: none left, one line naming each, exit 2."""
    result = _invoke("fleet", "--model", "deepseek-r1", "--demand", "2e12 tokens/day", "--rule", "3a090",
                     "--chips", "h20,h100,h200")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == (f"parity: error: --rule 3a090 drops every chip named: nvidia-h20: {LETTER}; "
                             "nvidia-h100-sxm: 3A090.a.1 (TPP 15,832); nvidia-h200-sxm: 3A090.a.1 (TPP 15,832)\n")


@pytest.mark.e2e  # a sweep or fleet run (over 1 s)
def test_fleet_keeps_a_domestic_chip_under_every_rule() -> None:
    """The default chips (H20, Ascend 910C, H200) under 3a090 and 3a090.a: the 910C (3A090.a.1 by TPP 12,800) is
    Huawei's own, so a buyer in China needs no US export licence for it; it is sized alone and named as kept (fuzz 16
    4.1: it was dropped and the default fleet could not run)."""
    for rule in ("3a090", "3a090.a"):
        (row,) = json.loads(_invoke("fleet", "--model", "deepseek-r1", "--units", "384", "--rule", rule,
                                    "--format", "json").stdout)
        assert (row["chip"], row["eccn_3a090"]) == ("huawei-ascend-910c", "3A090.a.1")
        assert ("and domestic chips; kept: huawei-ascend-910c: domestic (Huawei), no US export licence; dropped: "
                f"nvidia-h20: {LETTER}; nvidia-h200-sxm: 3A090.a.1 (TPP 15,832). Not modelled: the foreign direct "
                "product rule and the end-user rules (Entity List)") in row["assumptions"][-1]


def test_fleet_keeps_what_the_rule_allows_and_names_the_rest() -> None:
    """jan2026 on H20, L20 and B200: the L20 (outside 3A090) is sized; the H20 (letter) and B200 (above the line) are
    named in the caption and in each record's assumptions, with what is not modelled; every row carries its class."""
    args = ["fleet", "--model", "llama-3.1-8b", "--units", "16", "--chips", "h20,l20,b200", "--rule", "jan2026"]
    (row,) = json.loads(_invoke(*args, "--format", "json").stdout)
    assert (row["chip"], row["eccn_3a090"]) == ("nvidia-l20", "outside")
    said = row["assumptions"][-1]
    assert said.startswith(
        "Export rule jan2026 (US controls on chips for China) keeps chips outside 3A090, and 3A090 chips inside the 91 "
        "FR 1684 line (TPP < 21,000 and DRAM < 6,500 GB/s), whose licence BIS reviews case by case instead of "
        "presuming denial, unless a licence letter names the chip or, outside 3A090, it achieves the named chip's "
        "memory or interconnect bandwidth (below both, the letter's unpublished 'combination thereof' is not "
        f"modelled: the lines decide), and domestic chips; kept: nvidia-l20: {L20_JAN}; dropped: nvidia-h20: "
        f"{LETTER}{JAN_UNKNOWN}; nvidia-b200-sxm: 3A090.a.1, above the case-by-case line")
    assert said.endswith("Not modelled: the foreign direct product rule and the end-user rules (Entity List), which "
                         "reach a domestic chip made with US technology, and whether a licence is granted (reviewed "
                         "case by case)")
    table = _invoke(*args).stdout
    words = " ".join(table.split())
    # the title was 'exportable to China', over domestic chips too (report-only tester fuzzEP 4)
    assert ("16 chips (total tokens) at TPOT 50 ms, TTFT 5 s, chips allowed in China under jan2026 (US exports and "
            "domestic)") in words
    assert said in words
    rows = words.split("tokens/day served in trillions")[0]  # the table above its caption (wrapped anywhere)
    assert "nvidia-l20 " in rows and "nvidia-h20" not in rows and "b200" not in rows


def test_fleet_records_the_3a090_class_without_a_rule() -> None:
    """In policy's record fields, one key one meaning: eccn_3a090 'unknown' and the classes it may be in
    eccn_3a090_possible, where fleet wrote the table's words 'unknown: a.2/b.2/outside' (report-only tester fuzzED 5);
    the table keeps the words."""
    args = ["fleet", "--model", "llama-3.1-8b", "--units", "8", "--chips", "h20,h100,ppu"]
    rows = json.loads(_invoke(*args, "--format", "json").stdout)
    policy_rows = json.loads(_invoke("policy", "h20", "h100", "ppu", "--format", "json").stdout)
    assert [(r["eccn_3a090"], r["eccn_3a090_possible"]) for r in rows] == [
        ("outside", ["outside"]), ("3A090.a.1", ["3A090.a.1"]), ("unknown", ["3A090.a.2", "3A090.b.2", "outside"])]
    assert [(r["eccn_3a090"], r["eccn_3a090_possible"]) for r in rows] == [
        (p["eccn_3a090"], p["eccn_3a090_possible"]) for p in policy_rows]
    assert all(not r["assumptions"][-1].startswith("Export rule") for r in rows)


@pytest.mark.e2e  # three fleets (about 2 s)
def test_a_fleets_csv_and_training_record_the_class_as_policy_and_its_table_in_words() -> None:
    """The CSV and the training fleet's record hold policy's fields too (fuzzED 5); the serving table keeps the
    words."""
    args = ["fleet", "--model", "llama-3.1-8b", "--units", "8", "--chips", "h20,h100,ppu"]
    read = list(csv.DictReader(io.StringIO(_invoke(*args, "--format", "csv").stdout)))
    assert [(r["eccn_3a090"], r["eccn_3a090_possible"]) for r in read][2] == (
        "unknown", '["3A090.a.2", "3A090.b.2", "outside"]')
    trained = json.loads(_invoke(*args, "--workload", "train", "--tokens", "1e11", "--format", "json").stdout)
    assert (trained[2]["eccn_3a090"], trained[2]["eccn_3a090_possible"]) == (
        "unknown", ["3A090.a.2", "3A090.b.2", "outside"])
    assert "| unknown: a.2/b.2/outside |" in _invoke(*args, "--format", "md").stdout


NEAR_H20 = ("~ a metric within 10% of a line, from figures no datasheet states, so the class may differ (which "
            "figures: near_lines in --format json or csv): nvidia-h20 TPP 2,368 is 1.3% under the 2,400 line; "
            "nvidia-h20 PD 2.91 is 9.1% under the 3.20 line.")


@pytest.mark.e2e  # three fleets (about 3 s)
def test_fleet_marks_a_class_near_a_line_as_policy_does() -> None:
    """`parity policy h20` prints 'outside~' (TPP 2,368 from press figures, 1.3% under the 2,400 line) and near_lines
    in its JSON; `parity fleet` printed plain 'outside' in its table and JSON, no mark and no near_lines (report-only
    tester, fixea 1). Both fleets now carry policy's near_lines and mark the class for people, from the same
    functions; the H100 (datasheet peaks, far from a line) gets neither."""
    policy_rows = json.loads(_invoke("policy", "h20", "h100", "--format", "json").stdout)
    args = ["fleet", "--model", "llama-3.1-8b", "--units", "8", "--chips", "h20,h100"]
    rows = json.loads(_invoke(*args, "--format", "json").stdout)
    assert [(r["eccn_3a090"], r["near_lines"]) for r in rows] == [(p["eccn_3a090"], p["near_lines"])
                                                                   for p in policy_rows]
    assert rows[0]["near_lines"][0].startswith("TPP 2,368 is 1.3% under the 2,400 line, from figures no datasheet "
                                               "states (press: bf16/fp8/int8)") and rows[1]["near_lines"] == []
    for fleet in (args, [*args, "--workload", "train", "--tokens", "1e11"]):
        out = _invoke(*fleet, "--format", "md").stdout
        assert "| outside~ |" in out and "| 3A090.a.1 |" in out and NEAR_H20 in " ".join(out.split())


def test_compare_takes_the_rule_and_refuses_a_baseline_it_drops() -> None:
    result = _invoke("compare", "--rule", "3a090", "--baseline", "h100", "--model", "llama-3.1-8b")
    assert result.exit_code == 2 and result.stderr == (
        "parity: error: --baseline hgx-h100: --rule 3a090 drops it (3A090.a.1 (TPP 15,832)); name a baseline the "
        "rule keeps\n")
    rows = json.loads(_invoke("compare", "h20", "l20", "h100", "--rule", "3a090", "--model", "llama-3.1-8b",
                              "--format", "json").stdout)
    assert [r["system"] for r in rows] == [catalog.system("l20").id]
    assert f"dropped: nvidia-h20: {LETTER}; nvidia-h100-sxm: 3A090.a.1 (TPP 15,832)." in rows[0]["assumptions"][-1]


def test_a_what_if_h20_with_its_bandwidths_is_not_exportable(tmp_path) -> None:
    """An H20 variant that changed nothing in effect (scale 1.0) was kept under every rule and sized as 'exportable
    to China' beside the dropped H20 itself (fuzz 16 1.1); such a variant is now refused as changing nothing, and one
    1% faster is dropped as the H20 is."""
    spec = tmp_path / "v.toml"
    spec.write_text('[[variant]]\nname = "h20-same"\nchip = "nvidia-h20"\nscale = { memory_bytes_per_s = 1.01 }\n')
    result = CliRunner().invoke(cli, ["fleet", "--model", "llama-3.1-70b", "--demand", "1e12 tokens/day", "--chips",
                                      "nvidia-l20,nvidia-h20", "--variants", str(spec), "--rule", "3a090",
                                      "--format", "json"])
    rows = json.loads(result.stdout)
    assert [r["system"] for r in rows] == ["l20-server"]
    assert ("h20-same (nvidia-h20): licence required by apr2025-h20 (an NVIDIA chip achieving the H20's memory "
            "bandwidth") in rows[0]["assumptions"][-1]


H200_AS_H20 = {"peak_flop_per_s": {"bf16": 148e12, "fp8": 296e12, "int8": 296e12}, "memory_bytes": 96e9,
               "memory_bytes_per_s": 4e12, "tdp_w": 400}


def test_a_what_if_sets_the_fp64_and_tf32_rates_that_its_export_class_reads() -> None:
    """An H200 cut to an H20's bf16 148 and fp8/int8 296 TFLOP/s kept its 67 TFLOP/s of FP64, which no variant could
    set ('would change nothing': report-only tester fuzzEP 1), and was dropped as 3A090.b.1 by it: TPP 67 x 64 = 4,288,
    PD 4,288 / 814 mm^2 = 5.27; the refusal now names the rate. With fp64 = 1 TFLOP/s (64) TPP is the bf16's 148 x 16
    = 2,368, tied with fp8/int8's 296 x 8 (fp32's 67 x 32 = 2,144 under it), PD 2,368 / 814 = 2.91: outside 3A090,
    dropped by the H20 letter alone (4.0 TB/s). TF32 counted at 32 bits read the H200's 494.5 x 32 = 15,824 until
    tf32 is set too (50 x 32 = 1,600)."""
    kept_fp64 = Variant(name="h200-as-h20", chip="nvidia-h200-sxm", values=H200_AS_H20).system().chip
    assert refusal(kept_fp64, "3a090") == "3A090.b.1 (TPP 4,288 set by fp64, PD 5.27)"
    rates = {"peak_flop_per_s": {**H200_AS_H20["peak_flop_per_s"], "fp64": 1e12}}
    chip = Variant(name="h200-as-h20", chip="nvidia-h200-sxm", values=H200_AS_H20 | rates).system().chip
    a = assess(chip)
    assert (a.tpp, a.tpp_tied, round(a.performance_density, 2), a.eccn_3a090) == (2368.0, ("bf16", "fp8", "int8"),
                                                                                   2.91, None)
    assert assess(chip, tf32_bits=32).tpp == pytest.approx(15_824)
    assert refusal(chip, "3a090").startswith("licence required by apr2025-h20 (an NVIDIA chip achieving the H20's "
                                             "memory bandwidth (4.00 TB/s)")
    rates["peak_flop_per_s"]["tf32"] = 50e12
    chip = Variant(name="h200-as-h20", chip="nvidia-h200-sxm", values=H200_AS_H20 | rates).system().chip
    assert assess(chip, tf32_bits=32).tpp == pytest.approx(2368)


def test_the_letter_reaches_its_maker_s_chips_outside_3a090_that_achieve_the_h20_s_bandwidth() -> None:
    """The 8-K covers 'the H20 and any other circuits achieving the H20's memory bandwidth, interconnect bandwidth, or
    combination thereof': an RTX Pro 6000D what-if at 4.0 TB/s was kept as outside 3A090 (fuzz 18 1.1). A 3A090 chip
    (H200) is decided by the rules' lines, as the Jan-2026 review line keeps it; below both bandwidths the lines
    decide too (the letter's 'combination' is unpublished)."""
    fast = what_if(catalog.chip("rtx-pro-6000d"), "H20 bandwidth", memory_bytes_per_s=4.0e12)
    assert refusal(fast, "3a090") == ("licence required by apr2025-h20 (an NVIDIA chip achieving the H20's memory "
                                      "bandwidth (4.00 TB/s), which the letter's text covers)")
    assert refusal(catalog.chip("rtx-pro-6000d"), "3a090") == refusal(catalog.chip("l20"), "jan2026") == ""
    assert refusal(catalog.chip("h200"), "jan2026") == ""


def test_each_chip_kept_is_named_with_why_as_each_dropped_is() -> None:
    """Under 3a090 the L20 and RTX Pro 6000D were kept with no word while `policy` says their H20-letter verdict is
    unknown, and 'kept:' named only domestic chips: now every chip kept says why (decide), the letter's unknown
    included; a 3A090.b chip kept by 3a090.a says NAC."""
    systems = [catalog.system(n) for n in ("h20", "l20", "rtx-pro-6000d", "910c")]
    found = screen(systems, "3a090")
    assert found.kept_why == (f"nvidia-l20: outside 3A090 (TPP 1,912, PD 3.14){UNSURE}{NEAR_L20}",
                              f"nvidia-rtx-pro-6000d: outside 3A090 (TPP 2,324, PD 3.10){UNSURE}, near a line from "
                              "figures no datasheet states (TPP 2,324 is 3.2% under the 2,400 line, PD 3.10 is 3.2% "
                              "under the 3.20 line)",
                              "huawei-ascend-910c: domestic (Huawei), no US export licence")
    assert f"kept: {'; '.join(found.kept_why)}; dropped: nvidia-h20: {LETTER}." in found.text
    assert found.dropped_records() == [{"system": "hgx-h20", "chip": "nvidia-h20", "why": LETTER}]
    variant = at_threshold(catalog.chip("h100"), "3a090.a").chip
    assert decide(variant, "3a090.a") == Decision(
        rule="3a090.a", kept=True, why="3A090.b.1 under License Exception NAC (TPP 4,799, PD 5.90)")
    assert decide(catalog.chip("h100"), "jan2026").why == (
        "3A090.a.1, case-by-case review instead of presumption of denial, if its four conditions hold (TPP 15,832 < "
        "21,000; DRAM 3,350 GB/s < 6,500 GB/s)")


def test_policy_says_what_each_rule_keeps_for_china_from_the_same_decision() -> None:
    """policy's 'China: kept by' column and its JSON 'china' read export.decide, as fleet --rule does: the H20 (ECCN
    outside, jan2026 unknown) is kept by none, the L20 by all (its letter verdict unknown), the H100 by jan2026, the
    910B is domestic (with a note for people; its US class stays 3A090.a.1)."""
    result = CliRunner().invoke(cli, ["policy", "h20", "l20", "h100", "910b", "--format", "md"])
    rows = {r[0]: r for r in ([c.strip() for c in line.split("|")[1:-1]] for line in result.stdout.splitlines())
            if r and r[0][:1] in "nh"}
    assert {chip: row[-2] for chip, row in rows.items()} == {
        "nvidia-h20": "none", "nvidia-l20": "all", "nvidia-h100-sxm": "jan2026", "huawei-ascend-910b": "domestic"}
    assert rows["huawei-ascend-910b"][-1].startswith("domestic in China (Huawei): a buyer there needs no US export "
                                                     "licence; the US class holds for exports elsewhere; also meets")
    assert rows["huawei-ascend-910b"][4] == "3A090.a.1"
    data = {d["chip"]: d["china"] for d in json.loads(
        CliRunner().invoke(cli, ["policy", "h20", "910b", "--format", "json"]).stdout)}
    assert data["nvidia-h20"]["kept_by"] == [] and data["nvidia-h20"]["domestic"] == ""
    assert data["nvidia-h20"]["rules"][-1] == {"rule": "jan2026", "kept": False, "why": LETTER + JAN_UNKNOWN}
    assert data["huawei-ascend-910b"] == {"domestic": "Huawei", "kept_by": ["3a090", "3a090.a", "jan2026"], "rules": [
        {"rule": r, "kept": True, "why": "domestic (Huawei), no US export licence"}
        for r in ("3a090", "3a090.a", "jan2026")]}


def test_fleet_and_compare_records_carry_the_rule_and_each_chip_dropped() -> None:
    """fleet --rule jan2026 --format csv: a dropped chip has no row, and the rule with its reasons lived only in the
    assumptions' text; rule, rule_why and rule_dropped are appended after the columns there were (the class last),
    in JSON and CSV alike (a list of system, chip and why), and compare's records carry them too."""
    args = ["fleet", "--model", "llama-3.1-8b", "--units", "16", "--chips", "h20,l20,b200", "--rule", "jan2026"]
    read = list(csv.DictReader(io.StringIO(_invoke(*args, "--format", "csv").stdout)))
    assert list(read[0])[-8:] == ["flags", "assumptions", "eccn_3a090", "eccn_3a090_possible", "near_lines", "rule",
                                  "rule_why", "rule_dropped"]
    assert (read[0]["chip"], read[0]["rule"], read[0]["rule_why"]) == ("nvidia-l20", "jan2026", L20_JAN)
    dropped = [{"system": "hgx-h20", "chip": "nvidia-h20", "why": LETTER + JAN_UNKNOWN},
               {"system": "hgx-b200", "chip": "nvidia-b200-sxm", "why": "3A090.a.1, above the case-by-case line: "
                "presumption of denial (TPP 36,000 >= 21,000; DRAM 8,000 GB/s >= 6,500 GB/s)"}]
    assert json.loads(read[0]["rule_dropped"]) == dropped
    (row,) = json.loads(_invoke(*args, "--format", "json").stdout)
    assert (row["rule"], row["rule_dropped"]) == ("jan2026", dropped)
    plain = json.loads(_invoke("fleet", "--model", "llama-3.1-8b", "--units", "8", "--chips", "l20",
                               "--format", "json").stdout)[0]
    assert (plain["rule"], plain["rule_why"], plain["rule_dropped"]) == (None, "", [])
    rows = json.loads(_invoke("compare", "h20", "l20", "--rule", "3a090", "--model", "llama-3.1-8b",
                              "--format", "json").stdout)
    assert [(r["system"], r["rule"], r["rule_dropped"]) for r in rows] == [
        ("l20-server", "3a090", [{"system": "hgx-h20", "chip": "nvidia-h20", "why": LETTER}])]


def test_a_verdict_another_tf32_reading_reverses_says_so_where_the_rule_keeps_the_chip() -> None:
    """policy showed Trainium2's jan2026 'yes*' (TF32 counted at 32 bits takes its TPP to 21,344, over the line),
    but fleet --rule jan2026 and policy's china record kept it with no word of the reversal (fuzz, 2026-12-06)."""
    found = decide(catalog.chip("aws-trainium2"), "jan2026")
    assert found.kept and found.why.endswith(
        "(TPP 10,672 < 21,000; DRAM 2,900 GB/s < 6,500 GB/s); the verdict would be outside with TF32 counted at 32 "
        "bits (TPP 21,344), a reading no BIS ruling settles")
    assert "TF32" not in decide(catalog.chip("nvidia-h200-sxm"), "jan2026").why


def test_a_domestic_chip_at_a_line_says_the_line_does_not_bind_a_buyer_in_china() -> None:
    """`policy --at-threshold huawei-ascend-910c --rule jan2026` scaled the 910C 1.64x to sit 'just under jan2026'
    without a word that policy keeps a domestic chip under every rule (fuzz, 2026-12-06)."""
    out = CliRunner().invoke(cli, ["policy", "--at-threshold", "huawei-ascend-910c", "--rule", "jan2026", "--model",
                                   "llama-3.1-8b", "--format", "json"]).stdout
    assert json.loads(out)["threshold"]["description"].endswith(
        "ECCN 3A090.a.1; huawei-ascend-910c: domestic (Huawei), no US export licence for a buyer in China, whom the "
        "line does not bind; this is the chip as if jan2026 applied to it (its exports elsewhere)")
