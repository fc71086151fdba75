"""What a what-if chip or system changes, in a note's words and as its flags, and a system's power in words and the
flag of a power that is parity's assumption."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from parity import catalog
from parity.dtypes import FORMATS
from parity.flags import Flag
from parity.hardware import Chip, System, package_id, per_die
from parity.model import Model
from parity.units import format_si

def what_if_changes(system: System) -> str:
    """What hardware.what_if changed of a system or its chip (a `[[variant]]`'s, or the Python API's), as its notes
    say it: 'memory_bytes_per_s x2 of nvidia-h20'; the system's own change in brackets after the chip's ('tdp_w x0.5
    of huawei-ascend-910c (system power 8.45 kW)'; joined before ' of CHIP' it read 'less chip power of
    huawei-ascend-910c': report-only tester fuzzCC 5), its power named by its figure alone: the arithmetic that
    derived it is the power source's, which power_flags and fleet.power_text state (said here too, a row's flags
    said it twice: report-only tester fuzzCD 8); '' where neither is changed. Its clauses are not joined by '; ',
    which a CSV cell puts between a row's flags (report-only tester fuzzCE 1)."""
    chip = dict.fromkeys(r.note for r in system.chip.provenance if r.source.id == "what-if")
    own = ", ".join(dict.fromkeys(f"system power {power_figure(system)}" if r.field == "power_w" else
                                  f"system: {r.note}" for r in system.provenance if r.source.id == "what-if"))
    if not chip:
        return own
    return f"{', '.join(chip)} of {_package_id(system)}" + (f" ({own})" if own else "")


def power_figure(system: System) -> str:
    """[W] the system's power in words, to as many figures as the catalog stores it (3 at least, WHAT_IF_DIGITS at
    most: '559 kW', '11.65 kW', '5.824 kW'), so that a figure built on it adds up as printed: a fleet's MW (2,699
    atlas-800-a3 x 11.65 kW = 31.4 MW, where '11.7 kW' gave 31.6: report-only tester fixeg 5), a what-if's derived
    power ('8.45 kW' from '11.65 kW less 8 x 400 W': fuzzCC 4)."""
    value = system.power_w
    digits = next((d for d in range(3, WHAT_IF_DIGITS) if float(f"{value:.{d}g}") == value), WHAT_IF_DIGITS)
    return format_si(value, "w", digits=digits)


WHAT_IF_DIGITS = 6  # significant figures of a what-if's derived figures and the catalog figures they come from


# a what-if chip's changed fields in a table note's few words (what_if_brief): field -> its word
_WHAT_IF_WORDS = {"memory_bytes_per_s": "BW", "memory_bytes": "memory", "scale_up_bytes_per_s": "scale-up",
                  "scale_out_bytes_per_s": "scale-out", "tdp_w": "TDP", "die_area_m2": "die area",
                  "compute_units": "compute units", "unit_price_usd": "price"}


def what_if_brief(system: System) -> str:
    """What a what-if chip changes, in the few words of a table's note ('BW x2', 'scale-up x2', 'fp8 unit added',
    'TDP x0.5'): its factor on the catalog chip's figure, a format it gains a unit for, a rate it gains; the spec-ratio
    columns show none of a link, a unit or a rate beside a faster format's, and at 80 columns only BF16 x shows
    (report-only tester fuzzCC 6). A change of a field not named here is said in the what-if's own note; '' where the
    chip is not changed."""
    chip = system.chip
    # a rate's record ('peak_flop_per_s.fp8') said by its table, once
    records = {r.field.partition(".")[0]: r.note for r in chip.provenance if r.source.id == "what-if"}
    if not records:
        return ""
    try:
        base = catalog.chip(_package_id(system))
    except LookupError:  # a chip the catalog does not hold (built in Python): the what-if's own words
        return "; ".join(dict.fromkeys(records.values()))
    if chip.ranks_per_package > base.ranks_per_package:  # one rank per die: its figures against the catalog die's
        base = per_die(replace(system, chip=base)).chip
    said: list[str] = []
    added = sorted(chip.native - base.native)
    for name, note in records.items():
        if name in _WHAT_IF_WORDS:
            old, new = getattr(base, name), getattr(chip, name)
            said.append(f"{_WHAT_IF_WORDS[name]} x{new / old:.3g}" if old else
                        f"{_WHAT_IF_WORDS[name]} ${new:,.0f}" if name == "unit_price_usd" else
                        f"{_WHAT_IF_WORDS[name]} {new:.3g}")
        elif name == "native":
            said.append(f"{', '.join(added)} unit{'s' * (len(added) > 1)} added" if added else note)
        elif name == "peak_flop_per_s":
            said += _rates_brief(base, chip, added)
        else:
            said.append(note)
    return "; ".join(dict.fromkeys(filter(None, said)))


def _rates_brief(base: Chip, chip: Chip, added: Sequence[str]) -> list[str]:
    """The peak rates a what-if changes, in a note's words: 'peak rates x2' where every rate moved alike, else each
    rate that moved ('fp8 x1.5') and each rate of a unit the chip lacked ('fp4 2 PFLOP/s'), but for the unit of a
    format it gains (`added`: the note says 'fp8 unit added')."""
    old, new = base.peak_flop_per_s, chip.peak_flop_per_s
    moved = {key: new[key] / old[key] for key in new if old.get(key) and new[key] != old[key]}
    if set(moved) == set(old) == set(new) and len({round(f, 9) for f in moved.values()}) == 1:
        return [f"peak rates x{next(iter(moved.values())):.3g}"]
    units = {f.math for f in FORMATS.values() if f.feature in added}
    return ([f"{key} x{factor:.3g}" for key, factor in moved.items()]
            + [f"{key} {format_si(new[key], 'flop_per_s')}" for key in new if not old.get(key) and key not in units])


def _package_id(system: System) -> str:
    """The catalog chip's id, that of the package where a system runs one rank per die (hardware.per_die)."""
    return package_id(system.chip)


def what_if_flag(system: System) -> Flag | None:
    """The flag of a what-if system or chip (what_if_changes): nothing measured it, and it is priced with the
    calibration of the catalog chip whose id it keeps; None where neither is changed."""
    changes = what_if_changes(system)
    if not changes:
        return None
    chip = _package_id(system)
    return Flag("what-if chip", f"what-if: {changes}, priced with {chip}'s calibration (nothing measured the "
                "what-if)", ": ".join(filter(None, ["what-if", what_if_brief(system)])))


def idle_units_flag(system: System, model: Model) -> Flag | None:
    """The flag of a what-if that sets the chip's compute units on a model without experts: only an overlapped expert
    all-to-all holds compute units (cost.overlap_unit_share), so the change prices nothing there and its rows read
    1.00x as if it had been tried (report-only tester fuzzED 4); a stack that holds none refuses it outright
    (sweep.Variant.system). None where it may change something or is not set."""
    record = system.chip.source_of("compute_units")
    if record is None or record.source.id != "what-if" or "moe" in model.features:
        return None
    return Flag("what-if changes nothing", f"what-if compute_units changes nothing on {model.name}: only an "
                "overlapped expert all-to-all (an MoE model's) holds compute units", "compute units: no effect here")


def power_flags(system: System) -> tuple[Flag, ...]:
    """The flag of a system whose power is parity's assumption (its source's kind), which every per-kW and megawatt
    figure of it rests on: 'power assumed: 8.008 kW per hgx-b30a (8 x 550 W x 1.82)'; none where a source states it."""
    record = system.source_of("power_w")
    if record is None or record.source.kind != "assumption":
        return ()
    # widen 1: no rate or latency rests on the power, only the per-kW figures, which carry the flag
    return (Flag("power assumed", f"power assumed: {power_figure(system)} per {system.id}"
                 + (f" ({record.note})" if record.note else ""), "power assumed", widen=1.0),)
