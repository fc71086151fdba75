"""Sweeps: a grid (or a random sample of it) over systems, what-if chip variants, models, workloads and
layouts, priced with `predict` in chunks on local processes or on a Ray cluster.

A spec is TOML:

    [sweep]
    mode = "grid"            # or "random", with `samples` and `seed`
    [[variant]]              # what-if chips: a catalog chip with fields (VARIANT_FIELDS) scaled or set
    name = "910c-2x-bw"      # a name of its own, not a catalog system's or chip's
    chip = "huawei-ascend-910c"
    scale = { memory_bytes_per_s = 2.0 }             # factors in [1e-6, 1e6]
    values = { peak_flop_per_s = { fp8 = 1.6e15 } }  # SI units; peak rates per format; unit_price_usd in USD;
    # scale_up_bytes_per_s and scale_out_bytes_per_s per direction (an "800 GB/s" quoted both ways is 400e9)
    # values = { native = ["fp8"], peak_flop_per_s = { fp8 = 1.6e15 } }: a format the chip gains a unit for
    [axes]                   # every key is a predict column (or `variant`); each a list of values
    system = ["atlas-800-a3", "hgx-h20"]
    variant = ["910c-2x-bw"]  # run in the chip's default system
    model = ["deepseek-r1"]
    isl = [1024, 8192]
    ...
Results are identical whichever executor runs them: each chunk is the same pure function of its rows.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import os
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from parity import catalog
from parity.catalog import as_written
from parity.compare import system_power_flags
from parity.cost import OVERLAP_UNITS
from parity.dtypes import CHIP_NATIVE, FORMATS, MATH_RATES, TPP_ONLY_RATES, format_named, refuse_repeated_formats
from parity.errors import ParityError
from parity.hardware import Chip, System, what_if
from parity.parallel import RAY_LOCAL, map_chunks
from parity.policy import PD_KEY, performance_density, tpp
from parity.predict import (CASE_COLUMNS, EXTRA_COLUMNS, INPUT_KINDS, MOST_MTP_TOKENS, OPTIONAL_COLUMNS,
                            OUTPUT_COLUMNS, OUTPUT_KINDS, closed_loop_only, predict_rows)
from parity.uncertainty import WHAT_IF_DIGITS, what_if_flag
from parity.units import format_si, unit_slip

__all__ = ["SweepSpec", "Variant", "spec_from_toml", "variants_from_toml", "refuse_unread", "sweep_rows", "run_sweep",
           "RESULT_COLUMNS", "PRICED_BY", "CHIP_COLUMNS", "column_kind"]

# a row's figures of its system's chip (CHIP_COLUMNS, after the prediction's): tokens per kW of the system's power
# (compare's figure: the system's power shared by its chips, so a variant's tdp_w shows), and the chip's TPP and
# performance density (policy: its peak rates and die area); NaN where unknown
CHIP_COLUMNS = ("output_tokens_per_s_per_kw", "tpp", PD_KEY)
# predict's figures, each of EXTRA_COLUMNS on every row (NaN where the row has none: a table's columns, and a Parquet
# file's schema, follow the spec's axes, never the run's values), then the chip's
RESULT_COLUMNS = OUTPUT_COLUMNS[1:] + EXTRA_COLUMNS + CHIP_COLUMNS
_RESULT_KINDS = {**OUTPUT_KINDS, **dict.fromkeys(CHIP_COLUMNS, "number")}


def column_kind(column: str) -> str:
    """The kind of value (predict.COLUMN_KINDS) a sweep's column holds whatever the run gives: an axis's as predict
    reads that column, a result's as predict or the chip's figures write it; 'text' for any other (serve_command)."""
    return INPUT_KINDS.get(column) or _RESULT_KINDS.get(column, "text")
REQUIRED_AXES = ("model", "isl", "osl", "concurrency")  # and a system or a variant
# an axis that stands for a required one, as predict reads a row without it: max_concurrency is the clients of an open
# loop's cap (predict.case_from_row: concurrency defaults to it), the closed loop the steady model prices at
# request_rate inf
STANDS_FOR = {"concurrency": "max_concurrency"}
MOST_CASES = 10_000_000  # about 6 hours on one process at ~500 cases/s (cli.sweep_cmd.CASES_PER_S_PER_PROCESS)


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


# the axes that name number formats (dtypes.format_named reads each, aliases included)
_FORMAT_AXES = {"weights", "moe_weights", "kv", "attention_format", "attention_weights"}


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepSpec:
    """Axes of a sweep, its variants, and grid or random sampling."""

    axes: Mapping[str, Sequence[Any]]
    variants: tuple[Variant, ...] = ()
    mode: str = "grid"
    samples: int = 100
    seed: int = 0

    def __post_init__(self) -> None:
        if self.mode not in ("grid", "random"):
            raise ParityError(f"sweep mode must be grid or random, got {self.mode!r}")
        known = [*CASE_COLUMNS, *OPTIONAL_COLUMNS, "variant"]
        if unknown := sorted(set(self.axes) - set(known)):
            said = [f"{name} (did you mean {', '.join(close)}?)" if (close := catalog.close_matches(name, known, 3))
                    else name for name in unknown]
            raise ParityError(f"unknown sweep {'axis' if len(unknown) == 1 else 'axes'} {', '.join(said)}; an axis is "
                              "a predict column or 'variant'")
        missing = [name + (f" or {STANDS_FOR[name]}" if name in STANDS_FOR else "") for name in REQUIRED_AXES
                   if not {name, STANDS_FOR.get(name)} & set(self.axes)] + (
            [] if {"system", "variant"} & set(self.axes) else ["system or variant"])
        if missing:
            raise ParityError(f"a sweep needs the axes {', '.join(missing)} (every case needs a value; give a "
                              "one-value list for a fixed one, e.g. isl = [1024])")
        if "case_id" in self.axes:  # sweep_rows names each case; an axis of ids ran one case once per id
            raise ParityError("case_id is not a sweep axis: a sweep names each case itself (sweep-0, sweep-1, ...), "
                              "and a case_id axis ran every case once per id, as identical rows")
        for name, values in self.axes.items():
            if not isinstance(values, (list, tuple)) or not values:
                raise ParityError(f"sweep axis {name!r} must be a non-empty list")
            _refuse_flags_as_numbers(name, values)
            _refuse_repeated_values(name, values)
        for name in _FORMAT_AXES & set(self.axes):  # one format under two names is one case run twice
            refuse_repeated_formats(self.axes[name], "each case runs once", f"sweep axis {name}: ")
        for drafts in self.axes.get("mtp_tokens", ()):  # bounded as `parity serve --mtp` is
            if isinstance(drafts, bool) or not isinstance(drafts, int) or drafts < 0:
                raise ParityError(f"sweep axis mtp_tokens: expected whole numbers >= 0, got {drafts!r}")
            if drafts > MOST_MTP_TOKENS:
                raise ParityError(f"sweep axis mtp_tokens: {drafts:,} is beyond any sensible value "
                                  f"(at most {MOST_MTP_TOKENS})")
        if self.mode == "random" and not 1 <= self.samples <= MOST_CASES:  # the key that sets the count, named
            raise ParityError(f"[sweep] samples must be 1 to {MOST_CASES:,}, got {self.samples:,}")
        grid = math.prod(len(v) for v in _grid_axes(self.axes).values())
        cases = self.samples if self.mode == "random" else grid
        if cases > MOST_CASES:  # a grid of every axis's values (at least one case: each axis has a value)
            raise ParityError(f"a sweep must have 1 to {MOST_CASES:,} cases, this one has {cases:,}")
        if cases > grid:  # a case predicts the same each time: a repeat is a duplicate row and no information
            raise ParityError(f"random mode draws {self.samples:,} distinct cases ([sweep] samples, default 100) "
                              f"and the grid holds {grid:,}: give samples <= {grid:,}, or mode = \"grid\" to run "
                              "every case")
        refuse_unread(self.variants, "parity sweep")
        _check_variants(self.variants, self.axes.get("variant", ()))


def _refuse_flags_as_numbers(axis: str, values: Sequence[Any]) -> None:
    """Refuse true or false on an axis of counts or numbers (predict.INPUT_KINDS): TOML's true is Python's 1, so
    concurrency = [1, true] was refused as '1 given twice' and random_range_ratio = [true] ran as an infeasible row."""
    kind = INPUT_KINDS.get(axis)
    for value in values:
        if kind in ("count", "number") and isinstance(value, bool):
            raise ParityError(f"sweep axis {axis}: expected {'a whole number' if kind == 'count' else 'a number'}, "
                              f"got {as_written(value)}")


def _refuse_repeated_values(axis: str, values: Sequence[Any]) -> None:
    """Refuse a number or flag given twice on one axis (isl = [1024, 1024] ran every case twice, as identical rows),
    as a name given twice is (_canonical_axes, which names its spellings)."""
    seen: dict[Any, int] = {}
    for value in values:
        if isinstance(value, (int, float, str)) and not (isinstance(value, float) and math.isnan(value)):
            seen[value] = seen.get(value, 0) + 1
    for value, count in seen.items():
        if count > 1:
            times = "twice" if count == 2 else f"{count} times"
            raise ParityError(f"sweep axis {axis}: {as_written(value)} given {times}: each case runs once")


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


# what a spec holds: its tables, the keys of [sweep], the keys of each [[variant]]
SPEC_TABLES = ("sweep", "variant", "axes")
SWEEP_KEYS = ("mode", "samples", "seed")
VARIANT_KEYS = ("name", "chip", "scale", "values")


def _refuse_unknown_keys(table: Mapping[str, Any], known: Sequence[str], where: str, holds: str) -> None:
    """Refuse a key of `table` outside `known` (a misspelt `mdoe` or `[[varaint]]` was read as absent, and its
    default ran), naming the closest known key and what the table holds."""
    for key in table:
        if key not in known:
            close = catalog.close_matches(key, known, n=1)
            raise ParityError(f"{where}unknown key {key!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
                              + f"; {holds}")


def _variants(data: Mapping[str, Any]) -> tuple[Variant, ...]:
    """The [[variant]] tables of a parsed spec as Variants (each checked alone; _check_variants checks them
    together), after refusing a top-level key outside SPEC_TABLES and a variant key outside VARIANT_KEYS."""
    _refuse_unknown_keys(data, SPEC_TABLES, "sweep spec: ", "a spec has the tables [sweep], [[variant]] and [axes]")
    tables = data.get("variant", [])
    if not isinstance(tables, list):
        raise ParityError(f"sweep spec: variant must be [[variant]] tables, got {tables!r}")
    variants = []
    for position, table in enumerate(tables, 1):  # a table without a (string) name is named by its position
        if not isinstance(table, Mapping):
            raise ParityError(f"sweep spec: variant {position} must be a [[variant]] table of name, chip, scale and "
                              f"values, got {table!r}")
        named = table.get("name")
        who = f"variant {named}" if isinstance(named, str) and named else f"variant {position}"
        _refuse_unknown_keys(table, VARIANT_KEYS, f"{who}: ", "a [[variant]] has name, chip, scale and values")
        missing = [key for key in ("name", "chip") if key not in table]
        if missing:
            raise ParityError(f"{who} has no {' and no '.join(missing)}: every [[variant]] needs a name and a chip "
                              "(and optional scale and values tables)")
        variants.append(Variant(name=table["name"], chip=str(table["chip"]), scale=table.get("scale", {}),
                                values=table.get("values", {})))
    return tuple(variants)


def refuse_unread(variants: Sequence[Variant], reader: str, reads: Sequence[str] = ()) -> None:
    """Refuse a variant that changes a field of PRICED_BY outside `reads`, the fields `reader` (a command: 'parity
    sweep') reads: its rows there would be the same whatever the value, the change unseen."""
    for variant in variants:
        for kind, table in (("scale", variant.scale), ("values", variant.values)):
            for key in sorted(set(table) & set(PRICED_BY) - set(reads)):
                raise ParityError(f"variant {variant.name}: {kind}.{key} would change nothing in {reader}: none of "
                                  f"its columns reads a chip's price ({PRICED_BY[key]})")


def variants_from_toml(data: Mapping[str, Any], reader: str, reads: Sequence[str] = ()) -> tuple[Variant, ...]:
    """The what-if chips of a parsed TOML document of [[variant]] tables, as a sweep spec writes them and checked as
    a sweep checks them (a whole sweep spec is taken too: its [sweep] and [axes] are not read); at least one. A
    change to a field of PRICED_BY outside `reads` is refused (refuse_unread), `reader` naming the command."""
    variants = _variants(data)
    if not variants:
        raise ParityError("no [[variant]] table: a variants file holds [[variant]] tables with name, chip and scale "
                          "or values, as a sweep spec writes them")
    refuse_unread(variants, reader, reads)
    _check_variants(variants, ())
    return variants


def spec_from_toml(data: Mapping[str, Any]) -> SweepSpec:
    """A SweepSpec from a parsed TOML document."""
    variants = _variants(data)
    head = data.get("sweep", {})
    if not isinstance(head, Mapping):
        raise ParityError(f"sweep spec: sweep must be a [sweep] table, got {head!r}")
    _refuse_unknown_keys(head, SWEEP_KEYS, "[sweep]: ", "[sweep] has mode, samples and seed")
    axes = _canonical_axes(dict(data.get("axes", {})))
    if not axes:
        raise ParityError("a sweep spec needs an [axes] table")
    samples, seed = head.get("samples", 100), head.get("seed", 0)
    random_only = [key for key in ("samples", "seed") if key in head]
    if head.get("mode", "grid") == "grid" and random_only:  # the grid runs every case: they would change nothing
        raise ParityError(f"[sweep] {' and '.join(random_only)} appl{'ies' if len(random_only) == 1 else 'y'} to "
                          "random mode only (mode = \"random\"); grid mode runs every case: leave "
                          f"{'it' if len(random_only) == 1 else 'them'} out, or give mode = \"random\"")
    for name, value in (("samples", samples), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParityError(f"[sweep] {name} must be a whole number, got {value!r}")
    return SweepSpec(axes=axes, variants=variants, mode=head.get("mode", "grid"), samples=samples, seed=seed)


def _canonical_axes(axes: dict[str, Any]) -> dict[str, Any]:
    """The axes with catalog names as the catalog spells them (a system by its id, a catalog model by its name, a
    format by its own name, request_rate inf as "inf" whether TOML's bare inf or text), so a case is written once in
    one spelling; a value named twice under two spellings is refused (it would run one case twice). A name the
    catalog does not know stays as given, for its rows to refuse."""
    def canonical(name: str, value: Any) -> Any:
        if name == "request_rate" and (value == math.inf or (  # TOML's bare inf and "inf": every request at once
                isinstance(value, str) and value.strip().lower() in ("inf", "infinity"))):
            return "inf"
        if not isinstance(value, str):
            return value
        try:
            if name == "system":
                return catalog.system(value).id
            if name == "model" and not value.endswith(".json") and not os.path.exists(value):  # not a config's path
                return catalog.model(value).name  # a catalog name or Hugging Face id (meta-llama/Llama-3.1-8B)
            if name in _FORMAT_AXES and value.strip().lower() in CHIP_NATIVE:  # fp4: read on each case's chip
                return value.strip().lower()
            return format_named(value).name if name in _FORMAT_AXES else value
        except ParityError:
            return value

    out = {}
    for name, values in axes.items():
        if not isinstance(values, list):
            out[name] = values
            continue
        if name in _FORMAT_AXES:
            refuse_repeated_formats(values, "each case runs once", f"sweep axis {name}: ")
        out[name] = [canonical(name, v) for v in values]
        for value in dict.fromkeys(v for v in out[name] if isinstance(v, str)):
            typed = [str(t) for t, v in zip(values, out[name]) if v == value]
            if len(typed) > 1:
                times = "twice" if len(typed) == 2 else f"{len(typed)} times"
                raise ParityError(f"sweep axis {name}: {value} named {times} ({', '.join(typed)}): each case runs once")
    return out


def _grid_axes(axes: Mapping[str, Sequence[Any]]) -> dict[str, list[Any]]:
    """The axes as the grid runs them: a 'variant' axis joins the systems (both fill the 'system' column)."""
    found = {k: list(v) for k, v in axes.items()}
    if "variant" in found:
        found["system"] = found.get("system", []) + found.pop("variant")
    return found


def sweep_rows(spec: SweepSpec) -> list[dict[str, Any]]:
    """The cases of a sweep as predict rows (a 'variant' axis becomes the row's system). Random mode draws
    `samples` distinct cases of the grid (without replacement), seeded."""
    axes = _grid_axes(spec.axes)
    names = list(axes)
    if spec.mode == "grid":
        combos = list(itertools.product(*(axes[n] for n in names)))
    else:
        sizes = [len(axes[n]) for n in names]
        picks = random.Random(spec.seed).sample(range(math.prod(sizes)), spec.samples)
        combos = [_combo(index, [axes[n] for n in names]) for index in picks]
    return [{"case_id": f"sweep-{i}", **dict(zip(names, combo))} for i, combo in enumerate(combos)]


def _combo(index: int, axes: Sequence[Sequence[Any]]) -> tuple[Any, ...]:
    """The grid's case number `index` (the order itertools.product gives: the last axis varies fastest)."""
    picked = []
    for values in reversed(axes):
        index, at = divmod(index, len(values))
        picked.append(values[at])
    return tuple(reversed(picked))


def _per_die(row: dict[str, Any], systems: Mapping[str, System]) -> dict[str, Any]:
    """The row as the sweep prices it: one rank per die on a multi-die package (the 910C), as serve, compare and CANN
    run it, where the row does not say (a `rank_per_die` axis does); its rank_per_die cell says which ran."""
    if row.get("rank_per_die") not in (None, ""):
        return row
    system = _system_named(row.get("system"), systems)
    return {**row, "rank_per_die": system is not None and system.chip.dies > 1}


# how a sweep's refusal of an open-loop row (predict.closed_loop_only) says to price it: with the simulator, which a
# sweep does not run
SWEEP_SIMULATOR = ("`parity predict` of the sweep's table runs it, --model-kind sim by default; a sweep runs the steady "
                   "model")


def _predict_chunk(rows: list[dict[str, Any]], variants: tuple[Variant, ...]) -> list[dict[str, Any]]:
    """The rows priced as `parity predict --model-kind steady` prices them (an open-loop row refused), each with
    RESULT_COLUMNS and its flags, a what-if's and a power assumption's among them."""
    systems = {v.name: v.system() for v in variants}
    rows = [_per_die(row, systems) for row in rows]
    out = []
    for row, prediction in zip(rows, predict_rows(rows, systems=systems)):
        predicted = closed_loop_only(row, prediction, SWEEP_SIMULATOR).row()
        system, prefill = _system_named(row.get("system"), systems), _system_named(row.get("prefill_system"), systems)
        chip = _chip_columns(system, prefill, predicted["output_tokens_per_s_per_chip"])
        flags = _with_what_if_flags(predicted["flags"], [s for s in (system, prefill) if s and s.id in systems])
        out.append({**row, **{k: predicted.get(k, math.nan) for k in OUTPUT_COLUMNS[1:] + EXTRA_COLUMNS}, **chip,
                    "flags": _with_power_flags(flags, chip, (system, prefill))})
    return out


def _with_what_if_flags(flags: list[str], what_ifs: Sequence[System]) -> list[str]:
    """A row's flags with the what-if flag of each variant system it runs on, first, where none of its flags says
    'what-if:' already: a priced row carries it among its case's flags, a refused one (too big, an open loop) had
    none, so a variant's infeasible rows read as the catalog's (docs/model.md: every row of a variant is flagged)."""
    if any(f.startswith("what-if:") for f in flags):
        return flags
    return [*(f.text for s in what_ifs if (f := what_if_flag(s)) is not None), *flags]


def _with_power_flags(flags: list[str], chip: Mapping[str, float], systems: Sequence[System | None]) -> list[str]:
    """A row's flags with each of its systems' power flags where the row states tokens per kW, which rests on
    the systems' power ('power assumed: 10.92 kW per mi300x-platform (8 x 750 W x 1.82)', 'power derived: ...', as
    compare flags it: compare.system_power_flags)."""
    if math.isnan(chip["output_tokens_per_s_per_kw"]):
        return flags
    raised = [f.text for system in systems if system is not None for f in system_power_flags(system)]
    return list(dict.fromkeys([*flags, *raised]))


def _system_named(name: object, variants: Mapping[str, System]) -> System | None:
    """The system a row's cell names (a variant's, or the catalog's); None where it names none."""
    if not isinstance(name, str) or not name:
        return None
    try:
        return variants[name] if name in variants else catalog.system(name)
    except ParityError:
        return None


def _chip_columns(system: System | None, prefill: System | None, per_chip: float) -> dict[str, float]:
    """CHIP_COLUMNS of a row on `system` (prefill workers on `prefill`, if another) at `per_chip` output
    tokens/s: tokens per kW only where every chip of the row draws the system's power per chip."""
    if system is None:
        return dict.fromkeys(CHIP_COLUMNS, math.nan)
    one_power = prefill is None or prefill.power_w_per_chip == system.power_w_per_chip
    density = performance_density(system.chip)
    return {"output_tokens_per_s_per_kw": system.per_kw(per_chip) if one_power else math.nan,
            "tpp": tpp(system.chip).tpp, PD_KEY: math.nan if density is None else density}


def _chunks(rows: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [rows[i:i + size] for i in range(0, len(rows), size)]


def run_sweep(spec: SweepSpec, workers: int = 1, ray_address: str | None = None, use_ray: bool = False,
              chunk: int = 64, progress: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
    """Every case of the sweep with its prediction, in order; on `workers` local processes, or as Ray
    tasks (a local Ray instance, or the cluster at `ray_address`)."""
    rows = sweep_rows(spec)
    ray = (ray_address or RAY_LOCAL) if use_ray else None
    done = map_chunks(functools.partial(_predict_chunk, variants=spec.variants), _chunks(rows, chunk), workers, ray,
                      (lambda part: progress(len(part))) if progress else None)
    return [row for part in done for row in part]
