"""A sweep's spec (`SweepSpec`): its axes, variants and sampling, read from TOML and checked before any case runs."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from parity import catalog
from parity.catalog import as_written
from parity.dtypes import CHIP_NATIVE, format_named, refuse_repeated_formats
from parity.errors import ParityError
from parity.predict import CASE_COLUMNS, INPUT_KINDS, MOST_MTP_TOKENS, OPTIONAL_COLUMNS
from parity.sweep.variant import Variant, _check_variants, refuse_unread

REQUIRED_AXES = ("model", "isl", "osl", "concurrency")  # and a system or a variant
# an axis that stands for a required one, as predict reads a row without it: max_concurrency is the clients of an open
# loop's cap (predict.case_from_row: concurrency defaults to it), the closed loop the steady model prices at
# request_rate inf
STANDS_FOR = {"concurrency": "max_concurrency"}
MOST_CASES = 10_000_000  # about 6 hours on one process at ~500 cases/s (cli.sweep_cmd.CASES_PER_S_PER_PROCESS)


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
