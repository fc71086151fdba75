"""The US export-control rules since October 2022 as data (RULES), each with its check of one chip, and the
licence letter (the April 2025 H20 letter) read from them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from parity import catalog
from parity.errors import PolicyError
from parity.hardware import Chip, is_what_if
from parity.policy.metrics import (JAN2026_DRAM_BYTES_PER_S, JAN2026_TPP, OCT2022_IO_BYTES_PER_S, TPP_A1, _classify,
                                   jan2026_zone, tpp)

H20 = "nvidia-h20"                   # the chip the April 2025 letter names (NVIDIA's 8-K of 2025-04-15)
LETTER_RULE = "apr2025-h20"          # the id in RULES of that letter

VERDICTS = ("applies", "outside", "not applicable", "unknown")
# a verdict that another reading of TPP (TF32 counted, FP6 left out) reverses, with the footnote tables carry for it
REVERSED_MARK = "*"
REVERSED_FOOTNOTE = "* another reading of TPP reverses it"


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """One rule on one chip: applies / outside / not applicable / unknown, and why. reversed_by: the other reading
    of TPP that gives another status, and that status ('outside with TF32 counted at 32 bits (TPP 21,472)'); empty
    where every reading agrees."""

    rule: str
    status: str
    reason: str
    reversed_by: str = ""

    def __post_init__(self) -> None:
        if self.status not in VERDICTS:
            raise PolicyError(f"verdict status must be one of {VERDICTS}, got {self.status!r}")

    @property
    def shown(self) -> str:
        """The status for tables, marked REVERSED_MARK where another reading of TPP reverses it."""
        return self.status + (REVERSED_MARK if self.reversed_by else "")


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """A US export-control rule: its date, Federal Register citation and a check of one chip.

    check(chip, tf32_bits) returns (status, reason). named: the catalog chips the rule's source names, to which it
    applies whatever its thresholds (`named_in` says where); a what-if variant of one is checked, not named.
    """

    id: str
    title: str
    date: str
    citation: str
    check: Callable[[Chip, int], tuple[str, str]]
    superseded: str = ""
    named: tuple[str, ...] = ()
    named_in: str = ""

    def names(self, chip: Chip) -> bool:
        """Whether the rule's source names `chip` (a what-if variant of a named chip is checked, not named)."""
        return chip.id in self.named and not is_what_if(chip)

    def verdict(self, chip: Chip, tf32_bits: int = 0) -> Verdict:
        if self.names(chip):
            return Verdict(rule=self.id, status="applies", reason=f"named in {self.named_in}")
        status, reason = self.check(chip, tf32_bits)
        return Verdict(rule=self.id, status=status, reason=reason)


def _fmt_pd(pd: float | None) -> str:
    return "unknown (no die area)" if pd is None else f"{pd:.2f}"


def _check_oct2022(chip: Chip, tf32_bits: int) -> tuple[str, str]:
    """87 FR 62186: TPP >= 4800 AND aggregate bidirectional I/O >= 600 GB/s (both limbs)."""
    value = tpp(chip, tf32_bits).tpp
    io_bytes_per_s = 2.0 * chip.scale_up_bytes_per_s
    limbs = (f"TPP {value:,.0f} {'>=' if value >= TPP_A1 else '<'} 4800; "
             f"I/O {io_bytes_per_s / 1e9:,.0f} GB/s {'>=' if io_bytes_per_s >= OCT2022_IO_BYTES_PER_S else '<'} "
             "600 GB/s (assumed: scale-up bandwidth x 2, both directions)")
    met = value >= TPP_A1 and io_bytes_per_s >= OCT2022_IO_BYTES_PER_S
    return ("applies" if met else "outside"), limbs


def _check_3a090(chip: Chip, tf32_bits: int) -> tuple[str, str]:
    eccn, possible, _ = _classify(chip, tf32_bits)
    if eccn == "unknown":
        return "unknown", "depends on die area (not known): " + ", ".join(p or "outside" for p in possible)
    if eccn is None:
        return "outside", "outside 3A090" + (" (Note 2)" if not chip.datacenter else "")
    return "applies", eccn


def _check_hbm(chip: Chip, tf32_bits: int) -> tuple[str, str]:
    return ("not applicable", "3A090.c (memory bandwidth density > 2 GB/s/mm2) applies to HBM stacks, not to "
            "an IC package whose co-packaged memory serves its logic; note: the HBM stacks themselves, bought "
            "separately, are 3A090.c (BIS: all HBM in production exceeds the line)")


LETTER_TEXT = ("the H20 integrated circuits and any other circuits achieving the H20's memory bandwidth, interconnect "
               "bandwidth, or combination thereof")  # NVIDIA's 8-K of 2025-04-15, quoting the government's letter


def _letter_reached(chip: Chip, named: Chip) -> str:
    """What of the named chip's the letter's text names that `chip` achieves: 'memory bandwidth (4.00 TB/s)', both
    joined by 'and', or '' where it achieves neither."""
    return " and ".join(f"{what} ({text})" for what, mine, theirs, text in (
        ("memory bandwidth", chip.memory_bytes_per_s, named.memory_bytes_per_s,
         f"{named.memory_bytes_per_s / 1e12:.2f} TB/s"),
        ("interconnect bandwidth", chip.scale_up_bytes_per_s, named.scale_up_bytes_per_s,
         f"{2 * named.scale_up_bytes_per_s / 1e9:,.0f} GB/s both ways")) if mine >= theirs * (1 - 1e-9))


def _check_h20_letter(chip: Chip, tf32_bits: int) -> tuple[str, str]:
    """The April 2025 letter (NVIDIA's 8-K of 2025-04-15) requires a licence for LETTER_TEXT. It is a letter to NVIDIA:
    another maker's chip is not addressed (AMD's 8-K of 2025-04-16 discloses a licence requirement for its MI308, a
    chip the catalog lacks, with no thresholds). A 3A090 item needs a licence already, which the Federal Register rules
    govern, so the letter is read as adding one outside 3A090: there it applies to an NVIDIA chip achieving the H20's
    memory or interconnect bandwidth, and is unknown below both (the 'combination thereof' is unpublished). The H20
    itself is named (Rule.verdict); a what-if of it is checked here."""
    named = catalog.chip(H20)
    if chip.vendor != named.vendor:
        return "not applicable", (f"a letter to {named.vendor} on its chips; AMD's 8-K of 2025-04-16 discloses a "
                                  "licence requirement for its MI308 (not in the catalog, no thresholds published); "
                                  "no other maker's letter is modelled")
    eccn = _classify(chip, tf32_bits)[0]
    if eccn is not None:
        return "not applicable", (f"ECCN {eccn}: a 3A090 item needs a licence already, under the Federal Register "
                                  "rules; the letter adds one for chips outside 3A090")
    reached = _letter_reached(chip, named)
    if reached:
        return "applies", f"an {chip.vendor} chip achieving the H20's {reached}, which the letter's text covers"
    return "unknown", (f"outside 3A090 and below the H20's memory ({named.memory_bytes_per_s / 1e12:.2f} TB/s) and "
                       f"interconnect ({2 * named.scale_up_bytes_per_s / 1e9:,.0f} GB/s both ways) bandwidth: this chip "
                       f"has {chip.memory_bytes_per_s / 1e12:.2f} TB/s and {2 * chip.scale_up_bytes_per_s / 1e9:,.0f} "
                       "GB/s; the letter's 'combination thereof' is unpublished")


def _by_class(answers: dict[str | None, str]) -> str:
    """Each answer and the classes that give it, for a chip whose class is unknown: 'yes if 3A090.b.1; no if
    3A090.a.2 or outside'."""
    grouped: dict[str, list[str]] = {}
    for eccn, answer in answers.items():
        grouped.setdefault(answer, []).append(eccn or "outside")
    return "; ".join(f"{answer} if {' or '.join(classes)}" for answer, classes in grouped.items())


def _jan2026_in_class(chip: Chip, tf32_bits: int, eccn: str | None, limbs: str) -> tuple[str, str]:
    """The jan2026 verdict and why, for `chip` in class `eccn` (None: outside 3A090)."""
    if eccn is None:
        letter = licence_letter(chip, tf32_bits)
        if letter is not None:  # 91 FR 1684 revises the review of 3A090 licences; a letter's is not shown covered
            return "unknown", (f"not a 3A090 item, but {letter.rule} requires a licence ({letter.reason}); "
                               f"whether the Jan-2026 review covers it is not modelled ({limbs})")
        return "not applicable", f"not a 3A090 item, so no licence to review ({limbs})"
    if jan2026_zone(tpp(chip, tf32_bits).tpp, chip.memory_bytes_per_s):
        return "applies", f"case-by-case review instead of presumption of denial, if its four conditions hold ({limbs})"
    return "outside", f"above the case-by-case line: presumption of denial ({limbs})"


def _check_jan2026(chip: Chip, tf32_bits: int) -> tuple[str, str]:
    """91 FR 1684 revises the review of 3A090 licences: a verdict for a 3A090 item only. Where the class is unknown
    (no die area) and its possible classes give different verdicts, the verdict is unknown and names each."""
    value = tpp(chip, tf32_bits).tpp
    bandwidth = chip.memory_bytes_per_s
    limbs = (f"TPP {value:,.0f} {'<' if value < JAN2026_TPP else '>='} 21,000; DRAM {bandwidth / 1e9:,.0f} GB/s "
             f"{'<' if bandwidth < JAN2026_DRAM_BYTES_PER_S else '>='} 6,500 GB/s")
    eccn, possible, _ = _classify(chip, tf32_bits)
    if eccn != "unknown":
        return _jan2026_in_class(chip, tf32_bits, eccn, limbs)
    found = {p: _jan2026_in_class(chip, tf32_bits, p, limbs) for p in possible}
    if len({status for status, _ in found.values()}) == 1:
        return next(iter(found.values()))
    return "unknown", (f"depends on the 3A090 class (die area not known): "
                       f"{_by_class({p: status for p, (status, _) in found.items()})} ({limbs})")


RULES: tuple[Rule, ...] = (
    Rule(id="oct2022", title="Advanced computing ICs, original 3A090 (I/O and TPP limbs)", date="2022-10-07",
         citation="87 FR 62186 (FR Doc 2022-21658)", check=_check_oct2022,
         superseded="2023-11-17, by 88 FR 73458 (interconnect limb dropped)"),
    Rule(id="3a090", title="3A090.a/.b by TPP and performance density (with Note 2 and NAC)", date="2023-10-25",
         citation="88 FR 73458 (FR Doc 2023-23055)", check=_check_3a090),
    Rule(id="dec2024-hbm", title="3A090.c high-bandwidth memory (> 2 GB/s/mm2)", date="2024-12-02",
         citation="89 FR 96790 (FR Doc 2024-28270)", check=_check_hbm),
    Rule(id=LETTER_RULE, title="'Is-informed' letter to NVIDIA on H20-class bandwidth", date="2025-04-09",
         citation="NVIDIA Form 8-K filed 2025-04-15 (not a Federal Register rule)", check=_check_h20_letter,
         named=(H20,), named_in="NVIDIA's 8-K of 2025-04-15"),
    Rule(id="jan2026", title="Case-by-case review for TPP < 21,000 and DRAM < 6,500 GB/s", date="2026-01-15",
         citation="91 FR 1684 (FR Doc 2026-00789)", check=_check_jan2026),
)


def licence_letter(chip: Chip, tf32_bits: int = 0) -> Verdict | None:
    """The verdict of the licence letter of RULES (a rule that names a chip: the April 2025 letter, naming the H20)
    that requires a licence for `chip`: the chip it names, or an NVIDIA chip outside 3A090 that its text covers
    (_check_h20_letter); None where no letter does."""
    return next((v for v in (rule.verdict(chip, tf32_bits) for rule in RULES if rule.named) if v.status == "applies"),
                None)
