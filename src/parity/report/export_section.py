"""The report's export-control section: each chip's TPP, performance density, ECCN 3A090, the April 2025 letter's
verdict and the January 2026 zone, as `parity policy` gives them, and what a buyer in China gets."""

from __future__ import annotations

from collections.abc import Sequence

from parity.export import decisions, eccn_shown, kept_by_text, near_footnote
from parity.hardware import Chip
from parity.policy import LETTER_CAPTION, LETTER_RULE, RULES, ZONE_NA, assess
from parity.report.markup import catalog_id, esc, num, table

__all__ = ["export_controls"]


def export_controls(chips: Sequence[Chip]) -> str:
    """The export-control section's text and table: each chip's TPP, PD, ECCN 3A090, the April 2025 letter's verdict
    and the January 2026 zone, as `parity policy` gives them (Assessment.letter_shown, zone_shown), and what a buyer in
    China gets (export.kept_by_text)."""
    rows, found = [], [assess(chip) for chip in chips]
    for chip, a in zip(chips, found):
        rows.append([catalog_id(chip.id), f"<span class='key'>{num(a.tpp)}</span>", esc(a.set_by),
                     num(a.performance_density, 2) if a.performance_density else "-", esc(eccn_shown(a)),
                     esc(a.letter_shown), esc(a.zone_shown), esc(kept_by_text(chip, decisions(chip))),
                     esc("; ".join(a.notes))])
    letter = next(r for r in RULES if r.id == LETTER_RULE)
    return ("<p>TPP = 2 x MacTOPS x bit length, the maximum over formats, dense (88 FR 73458); performance density = "
            "TPP / applicable die area (mm<sup>2</sup>; -: die area unknown); ECCN 3A090 as of October 2023. "
            "H20 letter: "
            f"{esc(letter.citation)}, dated {letter.date}. {esc(LETTER_CAPTION)} The January 2026 case-by-case zone "
            f"is TPP &lt; 21,000 and DRAM bandwidth &lt; 6,500 GB/s (91 FR 1684), {esc(ZONE_NA)}.</p>"
            + table(["chip", "TPP", "set by", "PD", "ECCN 3A090", "H20 letter", "Jan-2026 zone", "China: kept by",
                     "notes"], rows, "numbers",
                    "US export-control metrics of each chip, and what a buyer in China gets", "stack-mid", notes=8)
            + "<p class='legend'><small>China: kept by: the export rules (<code>--rule</code>) under which a buyer in "
              "China gets the chip, as <code>parity policy</code> and <code>fleet --rule</code> decide it; "
              "'domestic': a PRC vendor's chip, which needs no US export licence there."
            + esc(near_footnote(found, "notes")) + "</small></p>")
