"""The math unit a number format runs on on a chip, and what its emulation on a wider unit is called."""

from __future__ import annotations

from parity.dtypes import FORMATS, Format, format_named
from parity.errors import InfeasiblePlan
from parity.hardware import Chip, chip_text

def math_unit(fmt: Format, chip: Chip) -> tuple[str, bool]:
    """(math key, emulated?) that runs a format on a chip: its own unit if native, else the first
    fallback the chip has (e.g. fp8 weights on an Ascend 910C run as bf16 after dequantising; a format the chip
    lists with no published rate, Chip.native_rate_unpublished, runs on its fallback too)."""
    if chip.runs_natively(fmt.feature, fmt.math):
        return fmt.math, False
    for fallback in fmt.fallbacks:
        if chip.runs_natively(fallback, fallback):
            return fallback, True
    # a format the chip lists with no published rate reads as native in its list: say which rate is missing
    why = (f"it lists {fmt.feature} but no source gives its {fmt.math.upper()} rate" if fmt.feature in chip.native
           else f"it has {_lacks(fmt, chip)}")
    onto = (f"no published {' or '.join(f.upper() for f in fmt.fallbacks)} rate to emulate it on" if fmt.fallbacks
            else "no format to emulate it on")
    runs = [f for f in sorted(chip.native) if f in FORMATS and chip.runs_natively(f, FORMATS[f].math)]
    raise InfeasiblePlan(f"chip {chip_text(chip)} cannot run format {fmt.name}: {why}, and {onto}; use a format it "
                         f"runs ({', '.join(runs) or 'none'})")


def _lacks(fmt: Format, chip: Chip) -> str:
    """What the chip lacks to run `fmt` on a unit of its own: the rate of a unit it lists with none published, the
    math itself ('no FP8 math'), or the format's own unit where that is apart from its math ('no MXFP8 unit')."""
    return (f"no published {fmt.math.upper()} rate" if fmt.feature in chip.native
            else f"no {fmt.math.upper()} math" if fmt.feature == fmt.math else f"no {fmt.feature.upper()} unit")


def emulation_note(fmt: Format, chip: Chip) -> str:
    """What a format runs on where the chip has no math unit of its own for it, naming what it lacks: the math
    itself ('fp8 emulated on bf16 (nvidia-a100-sxm has no FP8 math)'), the format's own unit where that is apart from
    its math ('mxfp8 emulated on fp8 (nvidia-h20 has no MXFP8 unit)': block-scaled FP8 on FP8 math), or the rate
    of a unit it lists with none published; '' where it has one (training and serving rows say it the same way)."""
    unit, emulated = math_unit(fmt, chip)
    if not emulated:
        return ""
    return f"{fmt.name} emulated on {unit} ({chip_text(chip)} has {_lacks(fmt, chip)})"


def same_rate_note(fmt: Format, chip: Chip) -> str:
    """Where a chip runs a narrower format on its own unit at no more than its BF16 rate (Google's TPU7x table gives
    TPU v5p and v6e FP8 at their BF16 peaks), what that buys: no faster math, only narrower operands, while the
    format's casts and scales still cost; '' where the format is BF16, emulated, or faster than BF16."""
    unit, emulated = math_unit(fmt, chip)
    if emulated or unit == "bf16" or chip.peak(unit) > chip.peak("bf16"):
        return ""
    return (f"{fmt.name} runs at the BF16 rate on {chip_text(chip)} ({chip.peak(unit) / 1e12:,.0f} TFLOP/s each): "
            f"no faster math than bf16, while its casts and scales still cost")


def emulation(name: str, chip: Chip) -> tuple[str, str]:
    """The math unit the format `name` is emulated on and its note (emulation_note): '' and '' where the chip runs
    it on its own math unit, 'bf16' and 'fp8 emulated on bf16 (... has no FP8 math)' where it dequantises onto
    another. compare's rows, serve, predict and sweep say it so (their `emulated_on`; people read the row's format
    as 'fp8 on bf16')."""
    fmt = format_named(name)
    note = emulation_note(fmt, chip)
    return (math_unit(fmt, chip)[0] if note else ""), note


def native_format(name: str, chip: Chip) -> tuple[str, str]:
    """The format a side-by-side runs `name` in on `chip` (compare's and fleet's training rows): itself where the chip
    has a unit of its own for it, else the first of its fallbacks it has (fp8 -> bf16 on a chip without FP8 math:
    dequantising FP8 onto BF16 units trains slower than BF16 itself, so no one trains so), with a note saying so
    ('bf16: huawei-ascend-910c has no FP8 math (fp8 asked)'); '' where it runs as asked. A format the chip has no
    fallback for runs emulated, as asked."""
    fmt = format_named(name)
    if not emulation_note(fmt, chip):
        return fmt.name, ""
    kept = next((f for f in fmt.fallbacks if not emulation_note(format_named(f), chip)), None)
    if kept is None:
        return fmt.name, ""
    return kept, f"{kept}: {chip_text(chip)} has {_lacks(fmt, chip)} ({fmt.name} asked)"
