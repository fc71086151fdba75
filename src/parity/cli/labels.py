"""Short names for people: a chip as its maker calls it ('Ascend 910C'), a system with its chips."""

from __future__ import annotations

import re

from parity.hardware import Chip, System

__all__ = ["chip_label", "system_label"]


def chip_label(chip: Chip) -> str:
    """'Huawei Ascend 910C (Atlas A3 NPU)' -> 'Ascend 910C': the name without the maker or the note, in at
    most three words."""
    name = re.sub(r"\s*\(.*\)\s*$", "", chip.name).strip()
    short = name.removeprefix(chip.vendor).strip() if name.startswith(chip.vendor + " ") else name
    return " ".join((short or name).split()[:3])  # 'RTX PRO 6000 Blackwell Server Edition' -> 'RTX PRO 6000


def system_label(system: System) -> str:
    """'8x Ascend 910C': how many of which chip a system holds."""
    return f"{system.chips:,}x {chip_label(system.chip)}"
