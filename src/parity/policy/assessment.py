"""A chip under every rule (`assess`): its metrics, class, verdicts, and notes on what is uncertain (metrics near a
line from figures no datasheet states, chips not shipping)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from parity.hardware import Chip
from parity.policy.metrics import (JAN2026_DRAM_BYTES_PER_S, JAN2026_TPP, MM2_PER_M2, PD_A2, PD_B1, PD_B2, PD_KEY,
                                   TPP_A1, TPP_B1, TPP_FLOOR, TppResult, _classify, jan2026_zone,
                                   license_exception_nac, paragraphs_3a090, tpp)
from parity.policy.rules import LETTER_RULE, REVERSED_MARK, RULES, Verdict, _by_class

# an assessment's jan2026_zone for people: None where the chip is outside 3A090 (no 3A090 licence, so no review)
ZONE_SHOWN = {True: "yes", False: "no", None: "n/a"}
# what 'n/a' and a letter's 'unknown' mean, for captions: a licence a letter requires (the H20's) is no 3A090 licence,
# and the sources do not say whether the January 2026 review covers it (the jan2026 verdict: unknown)
ZONE_NA = ("n/a outside 3A090 (no 3A090 licence to review); unknown outside 3A090 where a letter requires a licence, as "
           "the H20's (whether the 2026 review covers it is not modelled)")
# what a table's 'H20 letter' column (Assessment.letter_shown) reads, for its caption
LETTER_CAPTION = ("The H20 letter (to NVIDIA) names the H20 and covers circuits achieving its memory or interconnect "
                  "bandwidth, read as outside 3A090 (a 3A090 item needs a licence already); its 'combination "
                  "thereof' is unpublished.")


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
