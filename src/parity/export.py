"""Which chips a buyer in China gets under a US export-control rule, read from parity.policy's verdicts, and why
each other chip is refused: the filter `fleet --rule` applies. A chip from a PRC vendor is domestic and kept under
every rule; the others are judged by the US rules on the chip alone; see NOT_MODELLED."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from parity import catalog
from parity.dtypes import TPP_ONLY_RATES
from parity.errors import PolicyError
from parity.hardware import Chip, System
from parity.policy import LETTER_RULE, NEAR_LINE, THRESHOLD_RULES, Assessment, assess, jan2026_zone, licence_letter

__all__ = ["DOMESTIC_VENDORS", "EXPORT_RULES", "KEPT", "NEAR_MARK", "NOT_MODELLED", "Decision", "Screened",
           "class_fields", "decide", "domestic", "decisions", "eccn_shown", "eccn_text", "kept_by_text",
           "near_footnote", "near_words", "refusal", "rule_fields", "rule_title", "screen"]

EXPORT_RULES = THRESHOLD_RULES  # the lines `policy --at-threshold --rule` scales a chip to, so one word means one line

# what each rule keeps, besides refusing under every rule a chip a licence letter names (the April 2025 letter: the H20)
KEPT = {
    "3a090": "chips outside ECCN 3A090 (88 FR 73458), which need no licence",
    "3a090.a": "chips outside 3A090.a (88 FR 73458): outside 3A090, or 3A090.b under License Exception NAC (a "
               "notification to BIS, no licence)",
    "jan2026": "chips outside 3A090, and 3A090 chips inside the 91 FR 1684 line (TPP < 21,000 and DRAM < 6,500 "
               "GB/s), whose licence BIS reviews case by case instead of presuming denial",
}

# the catalog's `vendor` of the chips designed in the PRC: sold in China without a US export, so every rule keeps them
DOMESTIC_VENDORS = frozenset({"Alibaba T-Head", "Baidu Kunlunxin", "Cambricon", "Huawei", "Hygon", "MetaX",
                              "Moore Threads"})

NOT_MODELLED = ("Not modelled: the foreign direct product rule and the end-user rules (Entity List), which reach a "
                "domestic chip made with US technology, and whether a licence is granted (reviewed case by case)")


def rule_title(rule: str) -> str:
    """What a table screened under `rule` holds, for its title: the chips a buyer in China gets, US exports the rule
    allows and domestic chips, which no US export rule reaches (the title said 'exportable to China' over Huawei
    rows)."""
    return f"chips allowed in China under {rule} (US exports and domestic)"


def domestic(chip: Chip) -> str:
    """'domestic (Huawei), no US export licence' where a PRC vendor makes `chip` (DOMESTIC_VENDORS), else ''."""
    return f"domestic ({chip.vendor}), no US export licence" if chip.vendor in DOMESTIC_VENDORS else ""


def eccn_text(a: Assessment) -> str:
    """The 3A090 class as `parity policy` shows it: '3A090.a.1', 'outside', or, where it turns on a die area the
    catalog lacks, 'unknown: a.2/b.2/outside'."""
    if a.eccn_3a090 == "unknown":
        return "unknown: " + "/".join((p or "outside").removeprefix("3A090.") for p in a.eccn_3a090_possible)
    return a.eccn_3a090 or "outside"


# marks, for people, a class that a metric near a line from figures no datasheet states may change (policy.near_lines)
NEAR_MARK = "~"


def eccn_shown(a: Assessment) -> str:
    """The 3A090 class as a table shows it to people: eccn_text, with NEAR_MARK where a metric lies within NEAR_LINE
    of a line from figures no datasheet states (policy.near_lines), so the chip's true figures may change the class:
    'outside~' (the H20, TPP 2,368 from press figures, 1.3% under 2,400). JSON and CSV keep policy's record fields
    (class_fields)."""
    return eccn_text(a) + NEAR_MARK * bool(a.near_lines)


def near_words(a: Assessment) -> list[str]:
    """Each of policy.near_lines without the sources it names: 'TPP 2,368 is 1.3% under the 2,400 line'."""
    return [n.split(", from")[0] for n in a.near_lines]


def near_footnote(assessments: Sequence[Assessment], where: str) -> str:
    """What NEAR_MARK means and the metrics that set it, for a caption under eccn_shown's column: ' ~ a metric within
    10% of a line, ... (which figures: `where`): nvidia-h20 TPP 2,368 is 1.3% under the 2,400 line.'; '' where no chip
    is near a line. `where`: the output's fields that give the figures and their sources."""
    rows = [f"{a.chip} {words}" for a in dict((a.chip, a) for a in assessments).values() for words in near_words(a)]
    return (f" {NEAR_MARK} a metric within {NEAR_LINE:.0%} of a line, from figures no datasheet states, so the class "
            f"may differ (which figures: {where}): {'; '.join(rows)}." if rows else "")


def class_fields(a: Assessment) -> dict[str, object]:
    """A fleet record's export class, in the fields `parity policy --format json` gives it (Assessment.to_dict), one
    key one meaning: eccn_3a090 ('unknown' where it turns on a die area the catalog lacks; the table's words 'unknown:
    a.2/b.2/outside' are for people only: report-only tester fuzzED 5), eccn_3a090_possible (the classes it may be)
    and near_lines (policy.near_lines: each metric near a line from figures no datasheet states, and those figures)."""
    record = a.to_dict()
    return {key: record[key] for key in ("eccn_3a090", "eccn_3a090_possible", "near_lines")}


def _tpp_text(a: Assessment) -> str:
    """'TPP 15,832', with the rates that set it where serving reads none of them (dtypes.TPP_ONLY_RATES): 'TPP 4,288
    set by fp64', an H200 what-if cut to an H20's bf16 and fp8 that kept its FP64, whose class no serving figure
    shows."""
    return f"TPP {a.tpp:,.0f}" + (f" set by {a.set_by}" if set(a.tpp_tied) <= set(TPP_ONLY_RATES) else "")


def _class_text(a: Assessment) -> str:
    """A refused class with the figures that set it: '3A090.a.1 (TPP 15,832)', '3A090.b.1 (TPP 2,400, PD 2.00)'."""
    if a.eccn_3a090 == "unknown":
        return f"ECCN 3A090 {eccn_text(a)}, by a die area the catalog lacks ({_tpp_text(a)})"
    density = "" if a.eccn_3a090 == "3A090.a.1" else f", PD {a.performance_density:.2f}"
    return f"{a.eccn_3a090} ({_tpp_text(a)}{density})"


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """Whether a buyer in China gets one chip under one rule (EXPORT_RULES), and why, in the words of parity.policy's
    verdicts: what `fleet --rule` and `compare --rule` keep or drop, and what `parity policy` says of each rule."""

    rule: str
    kept: bool
    why: str


def decide(chip: Chip, rule: str, tf32_bits: int = 0) -> Decision:
    """Whether a buyer in China gets `chip` under `rule` (one of EXPORT_RULES; KEPT says what each keeps), and why.
    A domestic chip (a PRC vendor's) is kept under every rule: a buyer in China needs no US export licence for it. A
    chip for which a licence letter requires a licence (policy.licence_letter: the chip it names, or an NVIDIA chip
    outside 3A090 achieving the H20's memory or interconnect bandwidth, which its text covers) is dropped under every
    rule: under jan2026 its verdict is unknown (whether the Jan-2026 review covers a letter's licence is not modelled),
    and an unknown licence is not taken as granted. A chip whose class turns on an unknown die area is dropped where
    one of its possible classes would be. Where the letter's verdict is unknown (outside 3A090, below both of the
    H20's bandwidths: its 'combination thereof' is unpublished) the lines decide, and `why` says so."""
    key = rule.strip().lower()
    if key not in EXPORT_RULES:
        raise PolicyError(f"rule must be one of {EXPORT_RULES}, got {rule!r}")
    if home := domestic(chip):
        return Decision(rule=key, kept=True, why=home)
    letter = licence_letter(chip, tf32_bits)
    if letter is not None:
        return Decision(rule=key, kept=False, why=f"licence required by {letter.rule} ({letter.reason})" + (
            ", and jan2026 is unknown (whether its review covers a letter's licence is not modelled): not taken as "
            "granted"
            if key == "jan2026" else ""))
    a = assess(chip, tf32_bits)
    if key == "jan2026":
        verdict = next(v for v in a.verdicts if v.rule == "jan2026")
        if verdict.status == "unknown" and a.eccn_3a090 == "unknown":  # by the class: each 3A090 class has one zone
            kept = jan2026_zone(a.tpp, chip.memory_bytes_per_s)  # inside the line as a 3A090 item, or none at all
        else:
            kept = verdict.status in ("applies", "not applicable")
        why = f"{eccn_text(a)}, {verdict.reason}" + (
            f"; the verdict would be {verdict.reversed_by}, a reading no BIS ruling settles" if verdict.reversed_by
            and kept
            else "")
    else:
        refused = [p for p in a.eccn_3a090_possible if p is not None and (key == "3a090" or p.startswith("3A090.a"))]
        kept = not refused
        why = _class_text(a) if refused else _kept_class_text(a)
    unsure = next((v for v in a.verdicts if v.rule == LETTER_RULE and v.status == "unknown"), None)
    if kept and unsure:
        why += f", and {LETTER_RULE} unknown (its 'combination thereof' is unpublished: the lines decide)"
    if a.near_lines:  # policy.near_lines: a stated figure may put the chip across a line
        why += f", near a line from figures no datasheet states ({', '.join(near_words(a))})"
    return Decision(rule=key, kept=kept, why=why)


def _kept_class_text(a: Assessment) -> str:
    """A class a rule keeps with the figures that set it: 'outside 3A090 (TPP 1,912, PD 3.14)', '3A090.b.1 under
    License Exception NAC (TPP 4,799, PD 5.90)'."""
    figures = _tpp_text(a) + ("" if a.performance_density is None else f", PD {a.performance_density:.2f}")
    if a.eccn_3a090 is None:
        return f"outside 3A090 ({figures})"
    if a.eccn_3a090 == "unknown":
        return f"ECCN 3A090 {eccn_text(a)}, none of them 3A090.a ({figures})"
    return f"{a.eccn_3a090} under License Exception NAC ({figures})"


def decisions(chip: Chip, tf32_bits: int = 0) -> dict[str, Decision]:
    """What a buyer in China gets of `chip` under each of EXPORT_RULES (decide), by rule."""
    return {rule: decide(chip, rule, tf32_bits) for rule in EXPORT_RULES}


def kept_by_text(chip: Chip, decided: Mapping[str, Decision]) -> str:
    """What a buyer in China gets, in a word for a table's cell, from the chip's `decided` (decisions): 'domestic' (a
    PRC vendor's chip), or the rules that keep it: 'all', 'jan2026', 'none'."""
    if domestic(chip):
        return "domestic"
    kept = [rule for rule, d in decided.items() if d.kept]
    return "all" if len(kept) == len(EXPORT_RULES) else ", ".join(kept) or "none"


def refusal(chip: Chip, rule: str, tf32_bits: int = 0) -> str:
    """Why a buyer in China does not get `chip` under `rule` (decide), or '' where it does."""
    found = decide(chip, rule, tf32_bits)
    return "" if found.kept else found.why


@dataclass(frozen=True, slots=True, kw_only=True)
class Screened:
    """Systems screened under an export rule, in the order given, each with the decision on its chip (decide)."""

    rule: str
    decided: tuple[tuple[System, Decision], ...]

    @property
    def kept(self) -> tuple[System, ...]:
        """The systems whose chip a buyer in China gets."""
        return tuple(s for s, d in self.decided if d.kept)

    def _said(self, which: Callable[[System, Decision], bool]) -> tuple[str, ...]:
        return tuple(f"{_name(s)}: {d.why}" for s, d in self.decided if which(s, d))

    @property
    def dropped(self) -> tuple[str, ...]:
        """Each system dropped with why: 'nvidia-h100-sxm: 3A090.a.1 (TPP 15,832)'; a system other than its chip's
        default is named with its chip ('cloudmatrix-384 (huawei-ascend-910c)')."""
        return self._said(lambda _, d: not d.kept)

    @property
    def kept_why(self) -> tuple[str, ...]:
        """Each system kept with why: 'nvidia-l20: outside 3A090 (TPP 1,912, PD 3.14); ...'."""
        return self._said(lambda _, d: d.kept)

    @property
    def domestic(self) -> tuple[str, ...]:
        """Each system kept as domestic: 'huawei-ascend-910c: domestic (Huawei), no US export licence'."""
        return self._said(lambda s, d: d.kept and bool(domestic(s.chip)))

    def why(self, system: System) -> str:
        """Why the rule keeps or drops `system` (decide), '' for a system it did not screen."""
        return next((d.why for s, d in self.decided if s.id == system.id), "")

    @property
    def text(self) -> str:
        """What the rule kept and dropped, and what it leaves out, for a caption and a record's assumptions."""
        return (f"Export rule {self.rule} (US controls on chips for China) keeps {KEPT[self.rule]}, unless a licence "
                "letter names the chip or, outside 3A090, it achieves the named chip's memory or interconnect "
                "bandwidth (below both, the letter's unpublished 'combination thereof' is not modelled: the lines "
                f"decide), and domestic chips; kept: {'; '.join(self.kept_why)}; dropped: "
                f"{'; '.join(self.dropped) or 'none'}. {NOT_MODELLED}")

    def dropped_records(self) -> list[dict[str, str]]:
        """The systems dropped, for JSON: {'system', 'chip', 'why'} each."""
        return [{"system": s.id, "chip": s.chip.id, "why": d.why} for s, d in self.decided if not d.kept]


def _name(system: System) -> str:
    """A system as a screen names it: its chip's id where it is the chip's default system, else 'system (chip)'."""
    return system.chip.id if system.id == catalog.system_for(system.chip).id else f"{system.id} ({system.chip.id})"


def screen(systems: Sequence[System], rule: str, tf32_bits: int = 0) -> Screened:
    """Keep the `systems` whose chip a buyer in China gets under `rule`; PolicyError naming every refusal where none
    is left (one line, as the CLI prints it)."""
    key = rule.strip().lower()
    found = Screened(rule=key, decided=tuple((s, decide(s.chip, key, tf32_bits)) for s in systems))
    if not found.kept:
        raise PolicyError(f"--rule {key} drops every chip named: {'; '.join(found.dropped)}")
    return found


def rule_fields(screened: Screened | None, system: System) -> dict[str, object]:
    """A record's export-rule fields, appended to fleet's and compare's rows: rule (None without --rule), rule_why (why
    the rule keeps the row's system, decide) and rule_dropped (each system it dropped: system, chip, why), so that a
    CSV or JSON reader need not parse the assumptions' text."""
    if screened is None:
        return {"rule": None, "rule_why": "", "rule_dropped": []}
    return {"rule": screened.rule, "rule_why": screened.why(system), "rule_dropped": screened.dropped_records()}
