"""US export-control metrics of a chip (TPP, performance density, ECCN 3A090), the rules since
October 2022 as data, and the fastest variant of a chip that stays just under a rule's line.

Definitions and thresholds: 88 FR 73458 (FR Doc 2023-23055) unless a rule below cites another.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace

from parity import catalog
from parity.dtypes import MATH_RATES
from parity.errors import PolicyError
from parity.hardware import Chip, is_what_if, what_if
from parity.uncertainty import chip_calibrated

__all__ = ["TppResult", "Reading", "Verdict", "Rule", "Assessment", "Threshold", "RULES", "VERDICTS", "THRESHOLD_RULES",
           "TF32_BITS", "REVERSED_MARK", "REVERSED_FOOTNOTE", "tpp", "performance_density", "PD_KEY", "eccn_3a090",
           "paragraphs_3a090", "possible_3a090", "license_exception_nac", "jan2026_zone", "ZONE_SHOWN", "ZONE_NA",
           "licence_letter", "LETTER_RULE", "LETTER_CAPTION", "NEAR_LINE", "near_lines", "unshipped_notes",
           "unstated_peaks_notes", "assess", "at_threshold", "measured_within", "TPP_LINES", "PD_LINES",
           "JAN2026_DRAM_BYTES_PER_S"]

TERA = 1e12         # TOPS and 'MacTOPS' count tera (10^12) operations per second (88 FR 73458, 3A090 Tech. Note 2)
MM2_PER_M2 = 1e6    # 'applicable die area' is measured in mm^2 (88 FR 73458)
TF32_BITS = (0, 19, 32)   # 0: TF32 not counted (default); 19 significant bits; 32-bit storage word (C.6 item 1)

# 3A090 (88 FR 73458): TPP is a plain number (TOPS x bits); PD is TPP per mm^2 of applicable die area.
TPP_A1, TPP_B1, TPP_FLOOR = 4800.0, 2400.0, 1600.0
PD_A2, PD_B2, PD_B1 = 5.92, 3.2, 1.6
OCT2022_IO_BYTES_PER_S = 600e9       # 87 FR 62186: aggregate bidirectional I/O >= 600 Gbyte/s
JAN2026_TPP = 21_000.0               # 91 FR 1684: TPP < 21,000 ...
JAN2026_DRAM_BYTES_PER_S = 6_500e9   # ... and 'total DRAM bandwidth' < 6,500 GB/s
H20 = "nvidia-h20"                   # the chip the April 2025 letter names (NVIDIA's 8-K of 2025-04-15)
LETTER_RULE = "apr2025-h20"          # the id in RULES of that letter

VERDICTS = ("applies", "outside", "not applicable", "unknown")
# an assessment's jan2026_zone for people: None where the chip is outside 3A090 (no 3A090 licence, so no review)
ZONE_SHOWN = {True: "yes", False: "no", None: "n/a"}
# what 'n/a' and a letter's 'unknown' mean, for captions: a licence a letter requires (the H20's) is no 3A090 licence,
# and the sources do not say whether the January 2026 review covers it (the jan2026 verdict: unknown)
ZONE_NA = ("n/a outside 3A090 (no 3A090 licence to review); unknown outside 3A090 where a letter requires a licence, as "
           "the H20's (whether the 2026 review covers it is not modelled)")
# a verdict that another reading of TPP (TF32 counted, FP6 left out) reverses, with the footnote tables carry for it
REVERSED_MARK = "*"
REVERSED_FOOTNOTE = "* another reading of TPP reverses it"
# what a table's 'H20 letter' column (Assessment.letter_shown) reads, for its caption
LETTER_CAPTION = ("The H20 letter (to NVIDIA) names the H20 and covers circuits achieving its memory or interconnect "
                  "bandwidth, read as outside 3A090 (a 3A090 item needs a licence already); its 'combination "
                  "thereof' is unpublished.")


@dataclass(frozen=True, slots=True, kw_only=True)
class Reading:
    """Another reading of one of TPP's unsettled points that gives a chip another TPP.

    point: how the TPP it differs from reads it, and why in doubt ('TF32 not counted (no BIS ruling)'); other: this
    reading ('TF32 counted at 32 bits'); tpp, tied: what this reading gives; chip, tf32_bits: the chip and TF32 bit length as this
    reading counts them, so every rule can be checked under it.
    """

    point: str
    other: str
    tpp: float
    tied: tuple[str, ...]
    chip: Chip
    tf32_bits: int

    @property
    def note(self) -> str:
        return f"{self.point}; with {self.other}, TPP is {self.tpp:,.0f}, set by {'/'.join(self.tied)}"


@dataclass(frozen=True, slots=True, kw_only=True)
class TppResult:
    """'Total processing performance' of a chip: max over its dense peaks of TOPS x bit length.

    tpp: the plain number the rule defines (88 FR 73458: 2 x MacTOPS x bit length; 2 x MacTOPS is the
    datasheet TOPS). format: the math key that sets it (the widest when several tie); tied: every key
    that reaches it. readings: the other readings of TPP's unsettled points (TF32, FP6) that change the result;
    note: what they give.
    """

    tpp: float
    format: str
    tied: tuple[str, ...]
    tf32_bits: int
    readings: tuple[Reading, ...] = ()

    @property
    def note(self) -> str:
        return "; ".join(r.note for r in self.readings)


def _bits(key: str, tf32_bits: int) -> int:
    return tf32_bits if key == "tf32" else MATH_RATES[key]


def _max_tpp(chip: Chip, tf32_bits: int) -> tuple[float, tuple[str, ...]]:
    scores = {key: chip.peak(key) / TERA * _bits(key, tf32_bits) for key in MATH_RATES}
    best = max(scores.values())
    return best, tuple(k for k, v in scores.items() if v > 0 and math.isclose(v, best, rel_tol=1e-9))


def _readings(chip: Chip, tf32_bits: int, value: float) -> tuple[Reading, ...]:
    """The other readings of TPP's two unsettled points that move this chip's TPP off `value`: TF32's bit length
    (C.6 item 1; no BIS ruling), and FP6, counted at its 6 bits as the rule's 'bit length' reads, though some
    published TPP tables count only FP8 and FP4 (MI355X: 60,396 with FP6, 40,264 without)."""
    point = ("TF32 not counted" if tf32_bits == 0 else f"TF32 counted at {tf32_bits} bits") + " (no BIS ruling)"
    found = [(point, "TF32 counted at 32 bits" if bits else "TF32 not counted", chip, bits)
             for bits in (32, 0) if bits != tf32_bits]  # each other TF32 reading (at 19 bits: 32 and not counted)
    if chip.peak("fp6") > 0:
        without = replace(chip, peak_flop_per_s={k: v for k, v in chip.peak_flop_per_s.items() if k != "fp6"})
        found.append(("FP6 counted at 6 bits (some TPP tables count only FP8 and FP4)", "FP6 left out", without,
                      tf32_bits))
    readings = []
    for point, other, read, bits in found:
        other_tpp, tied = _max_tpp(read, bits)
        if not math.isclose(other_tpp, value, rel_tol=1e-9):
            readings.append(Reading(point=point, other=other, tpp=other_tpp, tied=tied, chip=read, tf32_bits=bits))
    return tuple(readings)


def tpp(chip: Chip, tf32_bits: int = 0) -> TppResult:
    """TPP = max_p (dense peak_p [TOP/s] x bits_p), 88 FR 73458 3A090 Technical Note 2; dense rates only
    (Technical Note 3). Bits: fp64 64, fp32 32, bf16/fp16 16, fp8/int8 8, fp6 6, fp4/int4 4; TF32 is
    counted at `tf32_bits` (0 = not counted, the default; no BIS ruling exists)."""
    if tf32_bits not in TF32_BITS:
        raise PolicyError(f"tf32_bits must be one of {TF32_BITS}, got {tf32_bits!r}")
    value, tied = _max_tpp(chip, tf32_bits)
    return TppResult(tpp=value, format=tied[0], tied=tied, tf32_bits=tf32_bits,
                     readings=_readings(chip, tf32_bits, value))


# the performance density's key in output records, with its unit: TPP per mm^2 of logic die
PD_KEY = "performance_density_tpp_per_mm2"


def performance_density(chip: Chip, tf32_bits: int = 0) -> float | None:
    """PD [TPP per mm^2] = TPP / 'applicable die area' (88 FR 73458): all FinFET/GAA logic dies of the
    package, HBM excluded. None when the chip's die area is unknown."""
    if chip.die_area_m2 is None:
        return None
    return tpp(chip, tf32_bits).tpp / (chip.die_area_m2 * MM2_PER_M2)


def eccn_3a090(tpp: float, pd: float, datacenter: bool) -> str | None:
    """The 3A090 paragraph an IC falls under, or None (88 FR 73458; hardware_notes C.2, in this order):
    Note 2 (not data-centre and TPP < 4800: outside); a.1 TPP >= 4800; a.2 TPP >= 1600 and PD >= 5.92;
    b.1 2400 <= TPP < 4800 and 1.6 <= PD < 5.92; b.2 TPP >= 1600 and 3.2 <= PD < 5.92."""
    if not datacenter and tpp < TPP_A1:
        return None
    if tpp >= TPP_A1:
        return "3A090.a.1"
    if tpp >= TPP_FLOOR and pd >= PD_A2:
        return "3A090.a.2"
    if TPP_B1 <= tpp < TPP_A1 and PD_B1 <= pd < PD_A2:
        return "3A090.b.1"
    if tpp >= TPP_FLOOR and PD_B2 <= pd < PD_A2:
        return "3A090.b.2"
    return None


def paragraphs_3a090(tpp: float, pd: float | None) -> tuple[str, ...]:
    """Every 3A090 paragraph whose parameters are met (Note 2 aside); the class is the first of them.
    With PD unknown only a.1 can be tested."""
    tests = {"3A090.a.1": tpp >= TPP_A1}
    if pd is not None:
        tests |= {"3A090.a.2": tpp >= TPP_FLOOR and pd >= PD_A2,
                  "3A090.b.1": TPP_B1 <= tpp < TPP_A1 and PD_B1 <= pd < PD_A2,
                  "3A090.b.2": tpp >= TPP_FLOOR and PD_B2 <= pd < PD_A2}
    return tuple(name for name, met in tests.items() if met)


def possible_3a090(tpp: float, datacenter: bool) -> tuple[str | None, ...]:
    """The classes an IC could have when its die area (so PD) is unknown: one PD from each band."""
    found = [eccn_3a090(tpp, pd, datacenter) for pd in (PD_A2, PD_B2, PD_B1, 0.0)]
    return tuple(dict.fromkeys(found))


def license_exception_nac(eccn: str | None, tpp: float, datacenter: bool) -> bool:
    """License Exception NAC (88 FR 73458): yes for 3A090.a if not designed or marketed for data centres
    and TPP >= 4800; yes for 3A090.b if designed or marketed for data centres."""
    if eccn is None:
        return False
    if eccn.startswith("3A090.a"):
        return not datacenter and tpp >= TPP_A1
    return datacenter


def jan2026_zone(tpp: float, dram_bytes_per_s: float) -> bool:
    """Inside the case-by-case review line of 91 FR 1684: TPP < 21,000 and total DRAM bandwidth
    [B/s] < 6,500 GB/s (e.g. H200, MI325X)."""
    return tpp < JAN2026_TPP and dram_bytes_per_s < JAN2026_DRAM_BYTES_PER_S


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


NEAR_LINE = 0.10  # a metric this close to a line (a fraction of it), from figures no datasheet states, may cross it
STATED = ("datasheet", "paper")  # source kinds that state a figure; others estimate, derive or assume it
# the lines a metric is read against: TPP and PD by 3A090 (88 FR 73458), TPP and DRAM bandwidth by 91 FR 1684
TPP_LINES, PD_LINES = (TPP_FLOOR, TPP_B1, TPP_A1, JAN2026_TPP), (PD_B1, PD_B2, PD_A2)


_FIELD_WORDS = {"die_area_m2": "die area", "memory_bytes_per_s": "memory bandwidth"}


def _unstated(chip: Chip, fields: tuple[str, ...]) -> dict[str, list[str]]:
    """The source kind of each of `fields` that no source states (its kind not in STATED) and the fields of each:
    {'derived': ['bf16', 'fp8']}; empty where any of them is stated (a stated one sets the metric, as a tied peak
    sets TPP, whatever the others are), and where a what-if set any of them."""
    found = {f: chip.source_of(f) for f in fields}
    kinds = {f: (r.source.kind if r else "unsourced") for f, r in found.items()}
    # a what-if's figure is the question asked, not a figure in doubt
    if any(r and r.source.id == "what-if" for r in found.values()) or any(k in STATED for k in kinds.values()):
        return {}
    grouped: dict[str, list[str]] = {}
    for f, kind in kinds.items():
        grouped.setdefault(kind, []).append(_FIELD_WORDS.get(f, f.removeprefix("peak_flop_per_s.")))
    return grouped


def near_lines(chip: Chip, result: TppResult, pd: float | None) -> tuple[str, ...]:
    """Each metric within NEAR_LINE of a line, set by figures that no datasheet or paper states (derived, assumed,
    estimated or a press report's), so that the chip's true figures may put it on the line's other side: 'TPP 2,324 is
    3.2% under the 2,400 line, from figures no datasheet states (derived: bf16/fp8/int8; press: fp4)'. TPP rests on the
    peaks that set it (all of them tied), PD on those and the die area, DRAM bandwidth (the 91 FR 1684 line) on its
    own figure."""
    peaks = _unstated(chip, tuple(f"peak_flop_per_s.{k}" for k in result.tied))
    area = _unstated(chip, ("die_area_m2",))
    said = []
    for name, value, lines, inputs, shown in (
            ("TPP", result.tpp, TPP_LINES, peaks, ",.0f"),
            ("PD", pd, PD_LINES, {k: peaks.get(k, []) + area.get(k, []) for k in peaks | area}, ".2f"),
            ("DRAM bandwidth [GB/s]", chip.memory_bytes_per_s / 1e9, (JAN2026_DRAM_BYTES_PER_S / 1e9,),
             _unstated(chip, ("memory_bytes_per_s",)), ",.0f")):
        for line in lines:
            if value is not None and inputs and abs(value - line) <= NEAR_LINE * line:
                kinds = "; ".join(f"{kind}: {'/'.join(fields)}" for kind, fields in inputs.items())
                said.append(f"{name} {value:{shown}} is {abs(value - line) / line:.1%} "
                            f"{'under' if value < line else 'at or over'} the {line:{shown}} line, from figures no "
                            f"datasheet states ({kinds}): the chip's true figures may cross it")
    return tuple(said)


def unshipped_notes(chip: Chip) -> tuple[str, ...]:
    """For a chip that is not shipping (status reported, announced or roadmap), its status and the source kinds of its
    figures ('roadmap chip, not shipping: press/derived/assumption figures (parity show huawei-ascend-960)'); () for a
    shipping chip."""
    if chip.status == "shipping":
        return ()
    return (f"{chip.status} chip, not shipping: {'/'.join(chip.source_kinds())} figures (parity show {chip.id})",)


def unstated_peaks_notes(chip: Chip, result: TppResult, near: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Where no datasheet or paper states the peaks that set the chip's TPP (every one tied), which kinds they are,
    shipping or not, as the die area's kind is said for PD: 'TPP rests on peaks no datasheet states (derived:
    bf16/int8)' (the 910C's 800 TFLOP/s is Huawei's 307.2 PFLOPS for 384 NPUs divided out); () where one is stated,
    or where a near-line note (`near`) says so already."""
    peaks = _unstated(chip, tuple(f"peak_flop_per_s.{k}" for k in result.tied))
    if not peaks or any(n.startswith("TPP ") for n in near):
        return ()
    kinds = "; ".join(f"{kind}: {'/'.join(fields)}" for kind, fields in peaks.items())
    return (f"TPP rests on peaks no datasheet states ({kinds})",)


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


def _classify(chip: Chip, tf32_bits: int) -> tuple[str | None, tuple[str | None, ...], float | None]:
    """(class or 'unknown', possible classes, PD) for a chip; 'unknown' when PD is needed but missing."""
    value = tpp(chip, tf32_bits).tpp
    pd = performance_density(chip, tf32_bits)
    if pd is not None:
        return eccn_3a090(value, pd, chip.datacenter), (eccn_3a090(value, pd, chip.datacenter),), pd
    possible = possible_3a090(value, chip.datacenter)
    return (possible[0] if len(possible) == 1 else "unknown"), possible, None


@dataclass(frozen=True, slots=True, kw_only=True)
class Assessment:
    """A chip under every rule of RULES.

    tpp: TOPS x bits; performance_density [TPP/mm^2] or None; eccn_3a090: '3A090.a.1' ... or None
    (outside), or 'unknown' when the answer needs a die area the catalog lacks (see eccn_3a090_possible).
    paragraphs_met: every 3A090 paragraph whose parameters are met (910B: a.1 and a.2).
    jan2026_zone: TPP < 21,000 and DRAM < 6,500 GB/s (91 FR 1684); None outside 3A090, where there is no 3A090 licence
    to review (the jan2026 verdict: not applicable, or unknown for a chip a letter requires a licence for: ZONE_NA;
    zone_shown says 'n/a' or 'unknown' as the verdict does).
    license_exception_nac, jan2026_zone: also None where the class is unknown and its possible classes answer
    differently; then license_exception_nac_by_class, jan2026_zone_by_class say what each class gives ('yes if
    3A090.b.1; no if 3A090.a.2 or outside'), and are empty where the answer is known. near_lines: each metric within
    NEAR_LINE of a line from figures no datasheet states (near_lines), also among the notes. status: the chip's
    catalog status (hardware.STATUSES); for one not shipping the notes say so (unshipped_notes), and for any chip
    what its TPP rests on where no datasheet or paper states the peaks that set it (unstated_peaks_notes).
    """

    chip: str
    name: str
    status: str
    datacenter: bool
    tf32_bits: int
    tpp: float
    tpp_format: str
    tpp_tied: tuple[str, ...]
    performance_density: float | None
    die_area_mm2: float | None
    eccn_3a090: str | None
    eccn_3a090_possible: tuple[str | None, ...]
    paragraphs_met: tuple[str, ...]
    license_exception_nac: bool | None
    jan2026_zone: bool | None
    verdicts: tuple[Verdict, ...]
    notes: tuple[str, ...]
    license_exception_nac_by_class: str = ""
    jan2026_zone_by_class: str = ""
    near_lines: tuple[str, ...] = ()

    @property
    def reversals(self) -> tuple[str, ...]:
        """Each verdict another reading of TPP reverses, for a footnote ('jan2026: outside with TF32 counted at 32 bits
        (TPP 21,472)')."""
        return tuple(f"{v.rule}: {v.reversed_by}" for v in self.verdicts if v.reversed_by)

    @property
    def zone_shown(self) -> str:
        """The 2026 zone for tables ('yes', 'no', 'n/a', 'unknown' where the class it depends on is unknown, or where
        the jan2026 verdict is: a chip outside 3A090 that a letter requires a licence for, as the H20, whose table read
        'n/a' beside the JSON's 'unknown'), marked REVERSED_MARK where the jan2026 verdict is reversed."""
        verdict = next(v for v in self.verdicts if v.rule == "jan2026")
        unknown = self.jan2026_zone_by_class or (self.jan2026_zone is None and verdict.status == "unknown")
        return ("unknown" if unknown else ZONE_SHOWN[self.jan2026_zone]) + (REVERSED_MARK if verdict.reversed_by else "")

    @property
    def nac_shown(self) -> str:
        """License Exception NAC for tables: 'yes', 'no', or 'unknown' where the class it depends on is unknown."""
        return "unknown" if self.license_exception_nac_by_class else ZONE_SHOWN[self.license_exception_nac]

    @property
    def letter_shown(self) -> str:
        """The April 2025 letter's verdict for tables ('applies', 'unknown', 'n/a' where not applicable: another
        maker's chip, or a 3A090 item), marked REVERSED_MARK where another reading of TPP reverses it; as the policy
        table and the report both say it."""
        return next(v.shown for v in self.verdicts if v.rule == LETTER_RULE).replace("not applicable", "n/a")

    @property
    def set_by(self) -> str:
        """The formats that set the TPP, every one tied at the maximum ('bf16/fp8/int8' on the H100), as the
        policy table and the report both say it."""
        return "/".join(self.tpp_tied)

    def to_dict(self) -> dict[str, object]:
        """The record for JSON, 'outside' where a class is None (outside 3A090), as the tables say it; the
        performance density named with its unit (PD_KEY)."""
        return {PD_KEY if k == "performance_density" else k: v for k, v in asdict(self).items()} | {
            "eccn_3a090": self.eccn_3a090 or "outside",
            "eccn_3a090_possible": [p or "outside" for p in self.eccn_3a090_possible]}


def assess(chip: Chip, tf32_bits: int = 0) -> Assessment:
    """TPP, PD, ECCN 3A090 and a verdict under each rule of RULES, with notes on what is uncertain."""
    result = tpp(chip, tf32_bits)
    eccn, possible, pd = _classify(chip, tf32_bits)
    met = paragraphs_3a090(result.tpp, pd)
    classes = possible if eccn == "unknown" else (eccn,)
    nac_of = {p: license_exception_nac(p, result.tpp, chip.datacenter) for p in classes}
    zone_of = {p: None if p is None else jan2026_zone(result.tpp, chip.memory_bytes_per_s) for p in classes}
    nac_by_class = _by_class({p: ZONE_SHOWN[v] for p, v in nac_of.items()}) if len(set(nac_of.values())) > 1 else ""
    zone_by_class = _by_class({p: ZONE_SHOWN[v] for p, v in zone_of.items()}) if len(set(zone_of.values())) > 1 else ""
    nac = None if nac_by_class else next(iter(nac_of.values()))
    zone = None if zone_by_class else next(iter(zone_of.values()))
    verdicts = [rule.verdict(chip, tf32_bits) for rule in RULES]
    notes = []
    for reading in result.readings:
        other = [rule.verdict(reading.chip, reading.tf32_bits).status for rule in RULES]
        changed = [(i, status) for i, status in enumerate(other) if status != verdicts[i].status]
        for i, status in changed:
            verdicts[i] = replace(verdicts[i], reversed_by="; ".join(filter(None, [
                verdicts[i].reversed_by, f"{status} with {reading.other} (TPP {reading.tpp:,.0f})"])))
        notes.append(reading.note + (": " + ", ".join(f"{verdicts[i].rule} {verdicts[i].status} -> {status}"
                                                     for i, status in changed) if changed else ": no verdict changes"))
    if len(met) > 1:
        notes.append(f"also meets {', '.join(met[1:])}")
    if nac:
        notes.append("License Exception NAC available (notification)")
    if not chip.datacenter and result.tpp < TPP_A1:
        notes.append("Note 2: not designed or marketed for data centres and TPP < 4800")
    area_source = chip.source_of("die_area_m2")
    if pd is None:
        notes.append("die area unknown: PD not computed")
    elif area_source is not None and area_source.source.kind not in ("datasheet", "paper"):
        notes.append(f"die area is {area_source.source.kind}, so PD is approximate")
    near = near_lines(chip, result, pd)
    notes += near
    notes += unshipped_notes(chip) + unstated_peaks_notes(chip, result, near)
    if nac_by_class:
        notes.append(f"NAC depends on the class: {nac_by_class}")
    if zone_by_class:
        notes.append(f"2026 zone depends on the class: {zone_by_class}")
    return Assessment(
        chip=chip.id, name=chip.name, status=chip.status, datacenter=chip.datacenter, tf32_bits=tf32_bits,
        tpp=result.tpp, tpp_format=result.format, tpp_tied=result.tied, performance_density=pd,
        die_area_mm2=None if chip.die_area_m2 is None else chip.die_area_m2 * MM2_PER_M2,
        eccn_3a090=eccn, eccn_3a090_possible=possible, paragraphs_met=met, license_exception_nac=nac,
        jan2026_zone=zone, verdicts=tuple(verdicts), notes=tuple(notes), license_exception_nac_by_class=nac_by_class,
        jan2026_zone_by_class=zone_by_class, near_lines=near)


THRESHOLD_RULES = ("3a090", "3a090.a", "jan2026")


@dataclass(frozen=True, slots=True, kw_only=True)
class Threshold:
    """The fastest variant of a chip, all its peak rates scaled by one factor, just under a rule's line; the
    variant keeps the original's id (so its calibration) and is told apart by its name and provenance.

    rate_factor: variant peak / original peak (> 1 when the original had headroom);
    memory_factor: variant / original memory bandwidth (< 1 only for the jan2026 DRAM limb);
    binding: the constraint that sets the factor;
    letter: why a licence letter still requires a licence for the variant (an NVIDIA chip outside 3A090 that keeps
    the H20's memory or interconnect bandwidth: the line of the rule does not lift the letter), or may (its verdict
    unknown below both bandwidths), '' where none does.
    """

    rule: str
    original: Chip
    chip: Chip
    rate_factor: float
    memory_factor: float
    tpp: float
    performance_density: float | None
    eccn_3a090: str | None
    binding: str
    description: str
    letter: str = ""


def _ceiling(lines: list[tuple[float, str]]) -> tuple[float, str]:
    """The lowest of several TPP ceilings and the constraint that sets it."""
    return min(lines, key=lambda line: line[0])


def _tpp_ceiling(chip: Chip, rule: str, tpp_margin: float, pd_margin: float) -> tuple[float, str]:
    """Highest TPP that stays under `rule` with the chip's die area fixed (PD = TPP / area), and why.

    3a090 (88 FR 73458, a data-centre part is outside only by one of): TPP < 1600; TPP < 2400 and
    PD < 3.2; TPP < 4800 and PD < 1.6. Not data-centre: TPP < 4800 (Note 2). 3a090.a: below 3A090.a,
    so at most 3A090.b (NAC for data-centre parts): TPP < 1600, or TPP < 4800 and PD < 5.92.
    jan2026 (91 FR 1684): TPP < 21,000.
    """
    area_mm2 = None if chip.die_area_m2 is None else chip.die_area_m2 * MM2_PER_M2
    if rule == "jan2026":
        return JAN2026_TPP - tpp_margin, "TPP < 21,000 (91 FR 1684)"
    if not chip.datacenter:
        return TPP_A1 - tpp_margin, "TPP < 4800 (Note 2: not designed or marketed for data centres)"
    floor = (TPP_FLOOR - tpp_margin, "TPP < 1600" + ("" if area_mm2 else " (die area unknown, so PD cannot help)"))
    if area_mm2 is None:
        return floor
    if rule == "3a090.a":
        routes = [[floor], [(TPP_A1 - tpp_margin, "TPP < 4800"), ((PD_A2 - pd_margin) * area_mm2, "PD < 5.92")]]
    else:
        routes = [[floor],
                  [(TPP_B1 - tpp_margin, "TPP < 2400"), ((PD_B2 - pd_margin) * area_mm2, "PD < 3.2")],
                  [(TPP_A1 - tpp_margin, "TPP < 4800"), ((PD_B1 - pd_margin) * area_mm2, "PD < 1.6")]]
    best = max((_ceiling(route), route) for route in routes)
    (value, binding), route = best
    others = [name for _, name in route if name != binding]
    return value, binding + (f" (with {', '.join(others)})" if others else "")


def at_threshold(chip: Chip, rule: str = "3a090", *, tf32_bits: int = 0, tpp_margin: float = 1.0,
                 pd_margin: float = 0.01, bandwidth_margin_bytes_per_s: float = 1e9) -> Threshold:
    """The chip with every dense peak scaled by one factor so TPP sits just under `rule`'s line.

    rule: '3a090' (outside 3A090 altogether, the H20 route), '3a090.a' (below 3A090.a: 3A090.b at most)
    or 'jan2026' (inside the 91 FR 1684 case-by-case line; memory bandwidth is also cut to just under
    6,500 GB/s [B/s] if needed). TPP and PD scale linearly with the factor; die area stays fixed.
    tpp_margin [TPP] and pd_margin [TPP/mm^2] set how far under each line the variant sits.
    """
    key = rule.strip().lower()
    if key not in THRESHOLD_RULES:
        raise PolicyError(f"rule must be one of {THRESHOLD_RULES}, got {rule!r}")
    for name, margin in (("tpp_margin", tpp_margin), ("pd_margin", pd_margin),
                         ("bandwidth_margin_bytes_per_s", bandwidth_margin_bytes_per_s)):
        if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not 0 <= margin < math.inf:
            raise PolicyError(f"{name} must be a finite number >= 0, got {margin!r}")
    original = tpp(chip, tf32_bits).tpp
    ceiling, binding = _tpp_ceiling(chip, key, tpp_margin, pd_margin)
    if not ceiling > 0:
        raise PolicyError(f"at_threshold({chip.id!r}, {key!r}): the margins put the line at TPP {ceiling:,.1f}, "
                          "below any chip (tpp_margin, pd_margin too large)")
    factor = ceiling / original
    changes: dict[str, object] = {"peak_flop_per_s": {k: v * factor for k, v in chip.peak_flop_per_s.items()}}
    memory_factor = 1.0
    if key == "jan2026" and chip.memory_bytes_per_s >= JAN2026_DRAM_BYTES_PER_S:
        bandwidth = JAN2026_DRAM_BYTES_PER_S - bandwidth_margin_bytes_per_s
        memory_factor = bandwidth / chip.memory_bytes_per_s
        changes["memory_bytes_per_s"] = bandwidth
        binding += "; DRAM bandwidth < 6,500 GB/s"
    note = f"all peak rates x{factor:.4f} to sit just under {key} ({binding})"
    if memory_factor != 1.0:
        note += f"; memory bandwidth x{memory_factor:.4f}"
    variant = what_if(chip, note, **changes)
    assert isinstance(variant, Chip)
    # the variant keeps the chip's id, as sweep's variants do, so it keeps the chip's calibration: its measured
    # efficiencies are fractions of peak and apply to the scaled peaks (a new id would fall back to the family's
    # calibration, and a chip scaled x1.01 would lose 10% of its throughput to another chip's fractions)
    variant = replace(variant, name=f"{chip.name} at the {key} line")
    value = tpp(variant, tf32_bits).tpp
    pd = performance_density(variant, tf32_bits)
    eccn, _, _ = _classify(variant, tf32_bits)
    under = {"3a090": eccn is None, "3a090.a": eccn is None or not eccn.startswith("3A090.a"),
             "jan2026": jan2026_zone(value, variant.memory_bytes_per_s)}[key]
    if not under:
        raise PolicyError(f"at_threshold({chip.id!r}, {key!r}): variant with TPP {value:,.1f} is not under the line")
    # outside 3A090 a letter may still bind (the H20's: an NVIDIA chip keeping the H20's bandwidths), as fleet and
    # compare --rule read it, so the variant under the line is said to need a licence where it does
    letter = licence_letter(variant, tf32_bits)
    said = f"still needs a US licence under {letter.rule}: {letter.reason}" if letter else ""
    unknown = [v for v in (r.verdict(variant, tf32_bits) for r in RULES if r.named) if v.status == "unknown"]
    said = said or (f"{unknown[0].rule} may still require a licence (its verdict is unknown): {unknown[0].reason}"
                    if unknown else "")
    description = (f"{chip.name}: {note}; TPP {original:,.0f} -> {value:,.0f}, PD {_fmt_pd(pd)}, "
                   f"ECCN {eccn or 'outside 3A090'}" + (f"; {said}" if said else ""))
    return Threshold(rule=key, original=chip, chip=variant, rate_factor=factor, memory_factor=memory_factor,
                     tpp=value, performance_density=pd, eccn_3a090=eccn, binding=binding, description=description,
                     letter=said)


# a chip's figures besides its peak rates that serving reads, which measured_within compares
_SERVING_FIELDS = ("memory_bytes", "memory_bytes_per_s", "scale_up_bytes_per_s", "scale_out_bytes_per_s")


def measured_within(variant: Chip, math_keys: Sequence[str]) -> tuple[Chip, ...]:
    """The shipping catalog chips, other than the one `variant` scales (its id), calibrated on measurements of their
    own (uncertainty.chip_calibrated) and with no figure above the variant's among the peak rates of `math_keys` (those
    its serving runs on), memory capacity and bandwidth, and links. Each is priced on its own measurements where the
    variant runs the original's calibration on scaled rates: the H200 at the 3a090 line (646 tok/s/chip on
    DeepSeek-R1) beside the H20 (720), under it on each of these."""
    return tuple(c for c in catalog.chips() if c.status == "shipping" and c.id != variant.id
                 and all(c.peak(k) <= variant.peak(k) for k in math_keys)
                 and all(getattr(c, f) <= getattr(variant, f) for f in _SERVING_FIELDS)
                 and chip_calibrated(c, catalog.calibration(c)))
