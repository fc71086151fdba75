"""What-if chips of a sweep ([[variant]]): a catalog chip with fields scaled or set, checked and built into its
default system."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from parity import catalog
from parity.catalog import as_written
from parity.cost import OVERLAP_UNITS
from parity.dtypes import FORMATS, MATH_RATES, TPP_ONLY_RATES
from parity.errors import ParityError
from parity.hardware import Chip, System, what_if
from parity.uncertainty import WHAT_IF_DIGITS
from parity.units import format_si, unit_slip

# chip fields a variant may scale or set: field -> (the least value a chip takes, its unit). peak_flop_per_s is a
# table of math key (dtypes.MATH_RATES) -> FLOP/s: a scale multiplies every rate, values set the formats they name
VARIANT_FIELDS: dict[str, tuple[str, str]] = {
    "peak_flop_per_s": (">= 0", "FLOP/s"), "memory_bytes": ("> 0", "B"), "memory_bytes_per_s": ("> 0", "B/s"),
    "scale_up_bytes_per_s": ("> 0", "B/s"), "scale_out_bytes_per_s": ("> 0", "B/s"), "tdp_w": ("> 0", "W"),
    "die_area_m2": ("> 0", "m^2"), "compute_units": ("> 0", "units"), "unit_price_usd": ("> 0", "USD"),
}
# the unit of a field as a refusal that suspects a unit slip names it (SI units, not a prefixed one)
_UNIT_WORDS = {"FLOP/s": "FLOP/s", "B": "bytes", "B/s": "bytes/s", "W": "W", "m^2": "m^2", "units": "a count",
               "USD": "USD"}
# formats a variant may add to the chip's native list (values.native): each format's own unit (dtypes.FORMATS)
NATIVE_FEATURES = tuple(dict.fromkeys(f.feature for f in FORMATS.values()))
# chip fields that only some commands read: field -> what reads it. A command that does not refuses a variant that
# changes one (refuse_unread: its rows would not differ), naming what does
PRICED_BY = {"unit_price_usd": "parity fleet --variants reads it, in its cost_usd"}
_SI_DIMENSIONS = {"FLOP/s": "flop_per_s", "B": "bytes", "B/s": "bytes_per_s", "W": "w", "m^2": "m2"}  # format_si's
LINK_FIELDS = ("scale_up_bytes_per_s", "scale_out_bytes_per_s")  # per chip, stated by the system as well
MOST_FACTOR = 1e6  # a what-if stays within this factor of the catalog chip: beyond it no model holds
MOST_PRICE_USD = 1e9  # a what-if price of a chip the catalog does not price stays under this (a thousand times a rack)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_MEMORY_IN_NAME = re.compile(r"\s*\b\d+(?:\.\d+)? ?GB\b")  # a chip name's memory size: '96GB', '64 GB'


def _product(chip: Chip) -> str:
    """A catalog chip's product in a few words, for a what-if's name: without its maker, the note in brackets and its
    memory, which the what-if may change ('NVIDIA H200 SXM 141GB' -> 'H200 SXM', 'Huawei Ascend 910B (B2 SKU, 96 GB)'
    -> 'Ascend 910B')."""
    name = _MEMORY_IN_NAME.sub("", re.sub(r"\s*\(.*\)\s*$", "", chip.name)).strip()
    return " ".join(name.removeprefix(chip.vendor + " ").split()[:3]) or chip.id


MOST_NAME = 24  # a variant's name heads a table row: as long as the catalog's longest system ids
_VARIANT_NAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{MOST_NAME - 1}}}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Variant:
    """A what-if chip: `chip` with fields multiplied (`scale`) or replaced (`values`, SI units), each one of
    VARIANT_FIELDS, and formats added to its native list (values.native, each with a rate for its math unit): it is
    priced with the catalog chip's calibration, a GEMM format it never measured moved with those it did. Link
    bandwidths change the chip's system too (its links are the chip's)."""

    name: str
    chip: str
    scale: Mapping[str, float] = dataclasses.field(default_factory=dict)
    values: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _VARIANT_NAME.fullmatch(self.name):
            raise ParityError(f"variant name {self.name!r}: a [[variant]] is named by a string of letters, digits, "
                              f"'.', '_' and '-', at most {MOST_NAME} characters, as systems are (it heads a table row)")
        for kind, table in (("scale", self.scale), ("values", self.values)):
            if not isinstance(table, Mapping):
                raise ParityError(f"variant {self.name}: {kind} must be a table of field = number, got "
                                  f"{as_written(table)}")
            for key, number in table.items():
                self._check(kind, key, number)
        for key in sorted((set(self.scale) & set(self.values)) - {"peak_flop_per_s"}):  # a rate table may take both
            raise ParityError(f"variant {self.name}: {key} is both scaled and set (scale.{key} and values.{key}); "
                              "give one of them")

    def _check(self, kind: str, key: str, number: object) -> None:
        where = f"variant {self.name}: {kind}.{key}"
        if kind == "values" and key == "native":
            if not (isinstance(number, (list, tuple)) and number
                    and all(isinstance(f, str) and f in NATIVE_FEATURES for f in number)):
                raise ParityError(f"{where} must be a list of formats the chip gains a unit for, e.g. [\"fp8\"] "
                                  f"(formats: {', '.join(NATIVE_FEATURES)}), got {as_written(number)}")
            return
        if key not in VARIANT_FIELDS:
            raise ParityError(f"variant {self.name}: {kind} has no key {key!r}; a variant changes "
                              f"{', '.join(VARIANT_FIELDS)} (and values.native adds native formats)")
        if kind == "scale":
            if not (_is_number(number) and 1 / MOST_FACTOR <= number <= MOST_FACTOR):
                raise ParityError(f"{where} must be a number in [{1 / MOST_FACTOR:g}, {MOST_FACTOR:g}] (a factor on "
                                  f"the chip's value), got {as_written(number)}")
        elif key == "peak_flop_per_s":
            if not isinstance(number, Mapping):
                raise ParityError(f"{where} must be a table of format -> FLOP/s, e.g. {{ fp8 = 2e15 }} (formats "
                                  f"{', '.join(MATH_RATES)}), got {as_written(number)}")
            for math_key, rate in number.items():
                if math_key not in MATH_RATES:
                    raise ParityError(f"{where} has no format {math_key!r}; formats: {', '.join(MATH_RATES)}")
                if not (_is_number(rate) and math.isfinite(rate) and rate >= 0):
                    raise ParityError(f"{where}.{math_key} must be a finite number >= 0 [FLOP/s], got "
                                      f"{as_written(rate)}")
        else:
            least, unit = VARIANT_FIELDS[key]
            if not (_is_number(number) and math.isfinite(number) and number > 0):
                raise ParityError(f"{where} must be a finite number {least} [{unit}]"
                                  + (" per direction" if key in LINK_FIELDS else "") + f", got {as_written(number)}")

    def changes_text(self) -> str:
        """What the variant changes, as its chip's what-if note says it: 'memory_bytes_per_s x2,
        peak_flop_per_s.fp8 = 1.6 PFLOP/s'."""
        said = [f"{key} x{factor:g}" for key, factor in self.scale.items()]
        for key, value in self.values.items():
            if key == "peak_flop_per_s":
                said += [f"{key}.{math_key} = {format_si(rate, 'flop_per_s')}" for math_key, rate in value.items()]
            elif key == "native":
                said.append(f"native + {', '.join(value)}")
            elif key == "unit_price_usd":
                said.append(f"{key} = ${value:,.0f}")
            else:
                said.append(f"{key} = {format_si(value, _SI_DIMENSIONS.get(VARIANT_FIELDS[key][1], ''))}"
                            + (" per direction" if key in LINK_FIELDS else ""))
        return ", ".join(said) or "no change"

    def system(self) -> System:
        """The variant's chip in the catalog chip's default system. A set value beyond MOST_FACTOR times the
        catalog chip's is refused as a scale beyond it is (so every result is finite), a fractional count of compute
        units, and compute units on a stack whose kernels hold none (cost.OVERLAP_UNITS) as changing nothing (on a
        model without experts, the rows' flag says so: uncertainty.idle_units_flag)."""
        try:
            base = catalog.chip(self.chip)
        except ParityError as err:  # the key that names it, as a bad scale or value is named
            raise ParityError(f"variant {self.name}: chip: {err}") from err
        try:
            home = catalog.system_for(base)
        except ParityError as err:  # a roadmap chip in no catalog system
            raise ParityError(f"variant {self.name}: {err}") from err
        changes: dict[str, Any] = {}
        for key, factor in self.scale.items():
            if key == "peak_flop_per_s":
                changes[key] = {k: v * factor for k, v in base.peak_flop_per_s.items()}
            elif getattr(base, key) is None:
                raise ParityError(f"variant {self.name}: chip {base.id} states no {key} to scale; set it with "
                                  f"values = {{ {key} = ... }}")
            else:
                changes[key] = getattr(base, key) * factor
        added = tuple(dict.fromkeys(self.values.get("native", ())))
        native = base.native | set(added)
        for key, value in self.values.items():
            if key == "native":
                changes[key] = frozenset(native)
            elif key == "peak_flop_per_s":
                for math_key, rate in value.items():  # a unit the chip lacks: within the factor of its fastest
                    self._within(f"{key}.{math_key}", rate, base.peak(math_key) or max(base.peak_flop_per_s.values()),
                                 base.id)
                    self._check_rate(base, math_key, rate, native)
                changes[key] = {**changes.get(key, base.peak_flop_per_s), **value}
            else:
                self._within(key, value, getattr(base, key), base.id)
                changes[key] = float(value)  # as the catalog reads it (cost_usd 2.1e7, not 21120000)
        rates = changes.get("peak_flop_per_s", base.peak_flop_per_s)
        for feature in added:  # a unit the chip gains runs at a rate given for it (else it would run emulated)
            math_key = next(f.math for f in FORMATS.values() if f.feature == feature)
            if base.runs_natively(feature, math_key):
                raise ParityError(f"variant {self.name}: values.native adds {feature}, which chip {base.id} runs "
                                  "natively already")
            if not rates.get(math_key, 0) > 0:
                raise ParityError(f"variant {self.name}: values.native adds {feature}, but chip {base.id} has no "
                                  f"{math_key} rate: give values.peak_flop_per_s.{math_key} [FLOP/s]")
        if changes and all(value == getattr(base, key) for key, value in changes.items()):
            # its rows would be the chip's own under another name, labelled 'what-if: memory x1', as an empty
            # variant's would (_check_variants refuses that one)
            raise ParityError(f"variant {self.name}: changes nothing ({self.changes_text()} is chip {base.id}'s "
                              "own); give it a scale other than 1 or a value other than the chip's")
        if "compute_units" in changes and not float(changes["compute_units"]).is_integer():  # SMs come whole
            raise ParityError(f"variant {self.name}: compute_units must be a whole number of units (chip {base.id} "
                              f"has {base.compute_units:g}), got {changes['compute_units']:g}"
                              + (f" (scale.compute_units x{self.scale['compute_units']:g}); set it with values = "
                                 "{ compute_units = N }" if "compute_units" in self.scale else ""))
        if "compute_units" in changes and not OVERLAP_UNITS.get(base.software_stack):
            raise ParityError(f"variant {self.name}: compute_units would change nothing on chip {base.id} (stack "
                              f"{base.software_stack or 'unstated'}): only an overlapped all-to-all on "
                              f"{', '.join(OVERLAP_UNITS)} holds compute units")
        try:
            chip = what_if(base, self.changes_text(), **changes)
        except ValueError as err:  # an invariant of the chip, e.g. no positive peak rate left
            raise ParityError(f"variant {self.name}: {err}") from err
        # the system states each link per chip; it keeps its ratio to the chip's (1 throughout the catalog)
        links = {key: changes[key] * getattr(home, key) / getattr(base, key) if getattr(base, key) else changes[key]
                 for key in LINK_FIELDS if key in changes}
        # and its power changes by its chips' change of TDP, the rest of it (hosts, networking, fans) as it was: a
        # system stated as chips x TDP x 1.82 scaled whole would put half the TDP at 0.36 kW a chip where the chip's
        # share alone gives 0.53 (an H20 at half its TDP; a twelfth-round regression check); its source states that
        # arithmetic, not the base's, with the figures in full so that it adds up as printed (11.65 kW, not 11.7)
        added_w = chip.tdp_w - base.tdp_w
        if added_w:
            home = what_if(home, f"{format_si(home.power_w, 'w', WHAT_IF_DIGITS)} {'plus' if added_w > 0 else 'less'} "
                                 f"{home.chips} x {format_si(abs(added_w), 'w', WHAT_IF_DIGITS)} of chip power",
                           power_w=home.power_w + home.chips * added_w)
        if "unit_price_usd" in changes and home.unit_price_usd is not None:  # a fleet reads the system's price first
            home = dataclasses.replace(home, unit_price_usd=None,
                                       provenance=tuple(r for r in home.provenance if r.field != "unit_price_usd"))
        # named by the variant, not as a product ('8x H200 SXM 144GB' read as a real part: report-only tester fuzzDE 6)
        chip = dataclasses.replace(chip, name=f"{self.name} (what-if of {_product(base)})")
        return dataclasses.replace(home, chip=chip, id=self.name, name=f"{self.name} node", **links)

    def _check_rate(self, base: Chip, math_key: str, rate: float, native: frozenset[str]) -> None:
        """Refuse a rate a variant cannot mean: one for a math unit that serving reads (a format of dtypes.FORMATS
        runs on it) where no format of `native` (the chip's, with those values.native adds) runs, which serving would
        not read (fp4 on an H20 runs emulated on its fp8 or bf16 unit whatever fp4 rate is given) while TPP would
        count a unit the chip lacks, and a zero for a unit native formats run on, whose rows would price a unit the
        chip lists and has not (a note said 'nvidia-h20 has no bf16 math (native: bf16, ...)'). A rate of a unit
        only TPP reads (TPP_ONLY_RATES: fp64, tf32, int4) is taken: it sets the what-if's export class (an H200 cut
        to an H20's bf16 kept its 67 TFLOP/s of FP64, TPP 4,288 where the bf16's is 2,368), unless it is a zero
        that removes a unit the chip lists or has no rate for."""
        if math_key in TPP_ONLY_RATES:
            if rate == 0 and math_key in base.native:
                raise ParityError(f"variant {self.name}: values.peak_flop_per_s.{math_key} = 0, but chip {base.id} "
                                  f"lists {math_key} as native and a variant cannot remove a native unit; give a rate "
                                  f"> 0 (a slower unit) or leave {math_key} out")
            if rate == 0 and not base.peak(math_key):
                raise ParityError(f"variant {self.name}: values.peak_flop_per_s.{math_key} = 0 would change nothing: "
                                  f"chip {base.id} has no {math_key} rate")
            return
        runs = sorted(f for f in native if f in FORMATS and FORMATS[f].math == math_key
                      and (base.runs_natively(f, math_key) or f in self.values.get("native", ())))
        if not runs:
            on_unit = list(dict.fromkeys(f.feature for f in FORMATS.values() if f.math == math_key))
            raise ParityError(f"variant {self.name}: values.peak_flop_per_s.{math_key}: chip {base.id} runs no format "
                              f"natively on a {math_key} unit, so serving would not read the rate (its {math_key} "
                              f"formats run emulated) while TPP would count a unit the chip lacks"
                              + (f"; values.native adds one: {', '.join(on_unit)}" if on_unit else ""))
        if rate == 0:
            raise ParityError(f"variant {self.name}: values.peak_flop_per_s.{math_key} = 0, but chip {base.id} runs "
                              f"{' and '.join(runs)} natively on its {math_key} unit and a variant cannot remove a "
                              f"native format; give a rate > 0 (a slower unit) or leave {math_key} out")

    def _within(self, key: str, value: float, old: float | None, chip_id: str) -> None:
        """Refuse a set value beyond MOST_FACTOR times the catalog chip's, or under its 1/MOST_FACTOR (a unit slip:
        memory_bytes_per_s = 4 for 4 TB/s, memory_bytes = 144 for 144 GB), as a scale outside [1/MOST_FACTOR,
        MOST_FACTOR] is; the slip's value in SI units given where a power of 1,000 brings it near the chip's. A zero
        rate is _check_rate's to refuse."""
        if old and value > MOST_FACTOR * old:
            raise ParityError(f"variant {self.name}: values.{key} = {as_written(value)} is beyond {MOST_FACTOR:g} "
                              f"times chip {chip_id}'s {as_written(float(old))}")
        if old and value and value < old / MOST_FACTOR:
            unit = _UNIT_WORDS[VARIANT_FIELDS[key.split(".")[0]][1]]
            prefix = unit_slip(value, old / MOST_FACTOR, old * MOST_FACTOR)  # as a chip file's figure is read
            raise ParityError(f"variant {self.name}: values.{key} = {as_written(value)} is {value / old:.2g} x chip "
                              f"{chip_id}'s {as_written(float(old))}, under {1 / MOST_FACTOR:g} times it: SI units "
                              f"({unit}), e.g. {as_written(value * prefix)}")
        if key == "unit_price_usd" and not old and value > MOST_PRICE_USD:  # nothing in the catalog to scale from
            raise ParityError(f"variant {self.name}: values.unit_price_usd = {value:g} is beyond ${MOST_PRICE_USD:g} "
                              f"a chip (chip {chip_id} has no catalog price to compare it with)")


def _check_variants(variants: Sequence[Variant], named: Sequence[Any]) -> None:
    """Refuse, before any case runs, a variant named as a catalog system or chip is (its rows would carry that
    name with another chip's numbers), two variants of one name, a variant axis naming none, a variant that
    cannot be built, and one that changes nothing (its rows would be its chip's under another name, unflagged)."""
    taken = {catalog.name_key(n): (kind, item.id) for kind, items in (("chip", catalog.chips()),
                                                                       ("system", catalog.systems()))
             for item in items for n in (item.id, *item.aliases)}
    seen: set[str] = set()
    for variant in variants:
        key = catalog.name_key(variant.name)  # as the catalog matches names
        if key in taken:
            kind, found = taken[key]
            raise ParityError(f"variant {variant.name}: the name is the catalog {kind} {found}'s, so its rows would "
                              f"pass for the real one; give the variant a name of its own")
        if key in seen:
            raise ParityError(f"two [[variant]] tables are named {variant.name}; give each a name of its own")
        seen.add(key)
    defined = {v.name for v in variants}
    for name in named:
        if name not in defined:
            raise ParityError(f"sweep axis variant names {name!r}, which no [[variant]] defines"
                              + (f" (defined: {', '.join(sorted(defined))})" if defined else ""))
    for variant in variants:
        variant.system()
        if not variant.scale and not variant.values:  # its rows would pass for the chip itself, unflagged
            raise ParityError(f"variant {variant.name}: changes nothing (give it a scale or a values table; "
                              f"{variant.chip} itself runs under its catalog name)")


def refuse_unread(variants: Sequence[Variant], reader: str, reads: Sequence[str] = ()) -> None:
    """Refuse a variant that changes a field of PRICED_BY outside `reads`, the fields `reader` (a command: 'parity
    sweep') reads: its rows there would be the same whatever the value, the change unseen."""
    for variant in variants:
        for kind, table in (("scale", variant.scale), ("values", variant.values)):
            for key in sorted(set(table) & set(PRICED_BY) - set(reads)):
                raise ParityError(f"variant {variant.name}: {kind}.{key} would change nothing in {reader}: none of "
                                  f"its columns reads a chip's price ({PRICED_BY[key]})")
