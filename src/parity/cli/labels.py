"""Short names for people: a chip as its maker calls it ('Ascend 910C'), a system with its chips; and, from
report.notes (whose tables the HTML report shares with these commands), a model's flags and the flags every row of a
table shares."""

from __future__ import annotations

import re
from collections.abc import Sequence

from parity.fleet import price_basis
from parity.hardware import Chip, System
from parity.report.notes import flags_caption, model_flags_text
from parity.report.tables import money, reached

__all__ = ["COST_BASES", "SPECS_ASSUMED_WORDS", "chip_label", "cost_cells", "flags_caption", "mfu_caption",
           "model_flags_text", "system_label"]

COST_BASES = ("Under a cost, 'systems': the catalog prices the whole system (its CPUs, network and racks); "
              "'chips only': it prices the chip alone (no server, network or rack), so the two do not compare. ")
# what a note's 'specs assumed: X' (uncertainty.specs_flag) means, for a caption
SPECS_ASSUMED_WORDS = ("'specs assumed: X': no source publishes the chip's X (its formats, which choose the weights "
                       "it is served in, a peak rate by format, its memory bandwidth or capacity), so its spec "
                       "ratios and predictions rest on parity's assumption ('parity show CHIP')")


def chip_label(chip: Chip) -> str:
    """'Huawei Ascend 910C (Atlas A3 NPU)' -> 'Ascend 910C': the name without the maker or the note, in at
    most three words. A what-if's ('nova-x1 (what-if of H200 SXM)', sweep.Variant) is its name whole."""
    if what_if := re.match(r".*\(what-if of [^)]*\)", chip.name):
        return what_if[0]
    name = re.sub(r"\s*\(.*\)\s*$", "", chip.name).strip()
    short = name.removeprefix(chip.vendor).strip() if name.startswith(chip.vendor + " ") else name
    return " ".join((short or name).split()[:3])  # 'RTX PRO 6000 Blackwell Server Edition' -> 'RTX PRO 6000


def system_label(system: System) -> str:
    """'8x Ascend 910C': how many of which chip a system holds."""
    return f"{system.chips:,}x {chip_label(system.chip)}"


def cost_cells(costs: Sequence[float | None], systems: Sequence[System]) -> list[str] | None:
    """A fleet's cost cells where its rows' prices count different things (fleet.price_basis): each over its basis,
    '$213.2 M' over 'systems' beside '$280.0 M' over 'chips only' (COST_BASES says what each counts), '-' where a row
    has no cost; None where every priced row counts the same, whose cells need no word."""
    shown = [reached(money)(cost) for cost in costs]
    bases = {price_basis(system) for cell, system in zip(shown, systems, strict=True) if cell != "-"}
    if len(bases) < 2:
        return None
    return [cell if cell == "-" else f"{cell}\n{price_basis(system)}" for cell, system in zip(shown, systems)]


def mfu_caption(peaks: Sequence[tuple[str, str]]) -> str:
    """What a training table's MFU divides by, for its caption, from (row name, peak) of each row that trains: each
    chip's dense peak of the math its format runs on, FP8 where the chip has it and BF16 where it emulates FP8 (the
    910C), so where rows differ the caption names each peak's rows: one row's 16% of an FP8 peak beside another's 26%
    of a BF16 one does not say which chip is busier (compare --workload train and fleet --workload train)."""
    by_peak: dict[str, list[str]] = {}
    for name, peak in peaks:
        by_peak.setdefault(peak, []).append(name)
    formula = "MFU: model FLOP/s (6N + 12LHQT) per chip over the chip's dense"
    if len(by_peak) < 2:
        return f"{formula} {next(iter(by_peak), 'bf16').upper()} peak. "
    return (f"{formula} peak in the math its format runs on, which differs by row: "
            + "; ".join(f"{peak.upper()} for {', '.join(names)}" for peak, names in by_peak.items())
            + " (mfu_bf16 in --format json divides every row by the BF16 peak). ")
