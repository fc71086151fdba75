"""Short names for people: a chip as its maker calls it ('Ascend 910C'), a system with its chips, a model's flags and
the flags every row of a table shares."""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence

from parity.fleet import price_basis
from parity.flags import Flag
from parity.hardware import Chip, System
from parity.model import Model
from parity.report.tables import money, reached

__all__ = ["COST_BASES", "SPECS_ASSUMED_WORDS", "chip_label", "cost_cells", "flags_caption", "model_flags_text",
           "system_label"]

COST_BASES = ("Under a cost, 'systems': the catalog prices the whole system (its CPUs, network and racks); "
              "'chips only': it prices the chip alone (no server, network or rack), so the two do not compare. ")
# what a note's 'specs assumed: X' (uncertainty.specs_flag) means, for a caption
SPECS_ASSUMED_WORDS = ("'specs assumed: X': no source publishes the chip's X (a peak rate by format, its memory "
                       "bandwidth or capacity), so its spec ratios and predictions rest on parity's assumption "
                       "('parity show CHIP')")


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


def model_flags_text(model: Model, name: str) -> str:
    """A model's own flags (its config's unmodelled keys, an unknown architecture) in one sentence for the caption of
    a table whose rows leave them out (`compare`, `fleet`: a row's note gives only a few words): 'Model flags:
    unmodelled: gating, mlp_layer_types; unknown architecture (`parity model PATH` says each whole). '; '' where the
    model has none. `name`: the model as the command line gave it."""
    unread = [f.text.removeprefix("unmodelled: ") for f in model.flags if f.kind == "unmodelled"]
    said = [f"unmodelled: {', '.join(unread)}"] * bool(unread) + [f.brief or f.text for f in model.flags
                                                                 if f.kind != "unmodelled"]
    return f"Model flags: {'; '.join(said)} (`parity model {shlex.quote(name)}` says each whole). " if said else ""


def flags_caption(model: Model, name: str, rows: Sequence[tuple[str, bool, Sequence[Flag]]]) -> str:
    """The flags a table's caption gives (`compare`, `fleet`, `formats`, `policy --at-threshold`): the model's own
    (model_flags_text), then those its rows' notes leave to --format json, i.e. with no brief (uncertainty.flag_note
    gives the briefed ones) among the rows with a prediction (`rows`: each row's label, whether it has one, and its
    flags): those every such row carries once, 'Every row: features never validated: dsa. ' ('Every row with a
    result: ' where some row has no prediction, one that fits the memory but meets no target too), then each the
    others carry with the rows it holds for, 'Only hgx-b200: layout far from measured ones (...). ' (a far layout on
    one system of a compare was in its JSON alone); '' where there is none."""
    own = {f.text for f in model.flags}
    unbriefed = [(label, list(dict.fromkeys(f.text for f in flags if not f.brief and f.text not in own)))
                 for label, fits, flags in rows if fits]
    shared = [t for t in unbriefed[0][1] if all(t in said for _, said in unbriefed[1:])] if unbriefed else []
    some: dict[str, list[str]] = {}
    for label, said in unbriefed:
        for text in said:
            if text not in shared:
                some.setdefault(text, []).append(label)
    every = "Every row" if len(unbriefed) == len(rows) else "Every row with a result"
    return (model_flags_text(model, name) + (f"{every}: {'; '.join(shared)}. " if shared else "")
            + "".join(f"Only {', '.join(dict.fromkeys(labels))}: {text}. " for text, labels in some.items()))


def cost_cells(costs: Sequence[float | None], systems: Sequence[System]) -> list[str] | None:
    """A fleet's cost cells where its rows' prices count different things (fleet.price_basis): each over its basis,
    '$213.2 M' over 'systems' beside '$280.0 M' over 'chips only' (COST_BASES says what each counts), '-' where a row
    has no cost; None where every priced row counts the same, whose cells need no word."""
    shown = [reached(money)(cost) for cost in costs]
    bases = {price_basis(system) for cell, system in zip(shown, systems, strict=True) if cell != "-"}
    if len(bases) < 2:
        return None
    return [cell if cell == "-" else f"{cell}\n{price_basis(system)}" for cell, system in zip(shown, systems)]
