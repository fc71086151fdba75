"""What-ifs: a chip or system with fields changed, the change checked and recorded as provenance."""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Mapping
from typing import Any

from parity.errors import InputError, is_real, is_whole
from parity.hardware.chips import Chip, System
from parity.hardware.sources import Provenance, Source
from parity.units import format_si


def what_if(item: Chip | System, note: str, **changes: object) -> Chip | System:
    """A variant of a chip or system with some fields changed, the change recorded as provenance.

    Example: what_if(chip, "2x bandwidth", memory_bytes_per_s=2 * chip.memory_bytes_per_s). Fields are the
    record's own, in SI units (memory_bytes, not GB); a field it lacks, a value of another type, a number that is
    not finite and one that breaks an invariant of the record are refused (InputError, one line).
    """
    owner = f"{'chip' if isinstance(item, Chip) else 'system'} {item.id}"
    for name, value in changes.items():
        _check_change(item, owner, name, value)
    source = Source(id="what-if", kind="assumption", title=f"what-if: {note}")
    records = [r for r in item.provenance if r.field.split(".")[0] not in changes]
    for name, value in changes.items():
        if isinstance(value, Mapping):
            records += _what_if_entries(item, name, value, source, note)
            continue
        shown = value if isinstance(value, (int, float, str)) else str(value)
        records.append(Provenance(field=name, quoted=_what_if_quoted(name, shown), value=shown, source=source,
                                  note=note))
    try:
        return dataclasses.replace(item, provenance=tuple(records), **changes)
    except (TypeError, ValueError) as err:  # an invariant of the record (InputError), or a comparison of odd types
        raise InputError(f"what_if {owner}: {err}" if not str(err).startswith(owner) else str(err)) from err


def _what_if_entries(item: Chip | System, name: str, value: Mapping[str, Any], source: Source,
                     note: str) -> list[Provenance]:
    """The records of a what-if's rate table, one per key as the catalog's ('peak_flop_per_s.bf16'), so that
    source_of finds each figure the what-if set (a record of the whole table under 'peak_flop_per_s' left the
    rates unsourced, and captions read the what-if's rates as the catalog's: report-only tester fuzzED 1): a rate
    it changes or adds is its assumption, one it keeps keeps its source; a table that changes nothing sets every
    rate, as a field set to its own value does."""
    old = getattr(item, name)
    changed = {key for key, rate in value.items() if old.get(key) != rate} or set(value)
    kept = [r for r in item.provenance if r.field.startswith(f"{name}.")
            and r.field.partition(".")[2] in set(value) - changed]
    return kept + [Provenance(field=f"{name}.{key}", quoted=_what_if_quoted(name, value[key]), value=value[key],
                              source=source, note=note) for key in value if key in changed]


# a field's unit from its name's ending, longest first (memory_bytes_per_s is a rate, not bytes)
_UNIT_ENDINGS = (("_flop_per_s", "flop_per_s"), ("_bytes_per_s", "bytes_per_s"), ("_bytes", "bytes"), ("_m2", "m2"),
                 ("_w", "w"), ("_s", "s"))


def field_dimension(name: str) -> str | None:
    """The unit (units.parse's dimension) a Chip or System field holds, read from its name's ending, as STYLE's 'the
    unit in every name' makes it: 'memory_bytes_per_s' -> 'bytes_per_s', 'peak_flop_per_s.bf16' (one rate of the
    table) -> 'flop_per_s', 'tdp_w' -> 'w'; None for a count or a price ('chips', 'unit_price_usd')."""
    base = name.partition(".")[0]
    return next((unit for ending, unit in _UNIT_ENDINGS if base.endswith(ending)), None)


def _what_if_quoted(name: str, value: object) -> str:
    """A what-if's value as `parity show` quotes a catalog figure, with its unit: memory_bytes 1.41e11 -> '141 GB',
    memory_bytes_per_s 5.76e12 -> '5.76 TB/s' (six significant figures, so the figure set is the figure shown); a
    count, price or anything else as written ('132', '41250')."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    unit = field_dimension(name)
    return format_si(float(value), unit, digits=6) if unit else f"{value:g}"


def is_what_if(item: Chip | System) -> bool:
    """Whether what_if changed a field of `item` (a `[[variant]]`'s or the Python API's): nothing measured it, and it
    keeps the catalog id, and so the calibration, of the item it varies."""
    return any(r.source.id == "what-if" for r in item.provenance)


def _check_change(item: Chip | System, owner: str, name: str, value: object) -> None:
    """Refuse a what_if change no record can hold: a field `item` lacks (with the nearest name, or every field), a
    value not of the field's kind (a whole number for a count, a number for a rate), a number that is not finite."""
    kinds = {f.name: str(f.type) for f in dataclasses.fields(item) if f.name not in ("provenance", "user_file")}
    if name not in kinds:
        near = difflib.get_close_matches(name, kinds, n=1)
        raise InputError(f"what_if {owner}: no field {name!r}" + (f" (did you mean {near[0]}?" if near else " (")
                         + f"{' ' if near else ''}fields: {', '.join(kinds)}; SI units)")
    kind = kinds[name]
    if value is None and "None" in kind:
        return
    if kind.startswith("Mapping") and not isinstance(value, Mapping):
        raise InputError(f"what_if {owner}: {name} must be a mapping of math key -> rate [FLOP/s], got {value!r}")
    numbers_in = list(value.values()) if isinstance(value, Mapping) else [value]
    if kind.startswith(("int", "float", "Mapping")):
        whole = kind.startswith("int")
        for number in numbers_in:
            if not (is_whole(number) if whole else is_real(number)):
                raise InputError(f"what_if {owner}: {name} must be {'a whole number' if whole else 'a number'}"
                                 f"{' (SI units)' if not whole else ''}, got {value!r}")
            if not math.isfinite(number):
                raise InputError(f"what_if {owner}: {name} must be a finite number, got {value!r}")
    elif kind == "str" and not isinstance(value, str):
        raise InputError(f"what_if {owner}: {name} must be a string, got {value!r}")
    elif kind == "Chip" and not isinstance(value, Chip):
        raise InputError(f"what_if {owner}: chip must be a Chip (parity.catalog.chip(NAME)), got {value!r}")
