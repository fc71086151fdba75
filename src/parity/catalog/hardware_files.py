"""One chip's or one system's TOML file read into its record: every key checked, every quantity `{ value = "989
TFLOP/s", source = "id" }` turned into SI units with its provenance (bidirectional links halved), and the sources
shared by many files (data/sources.toml)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from parity import units
from parity.catalog.files import as_written, data_dir, read_toml, refuse_unknown, require, text
from parity.catalog.names import resolve
from parity.catalog.plausible import check_power
from parity.dtypes import MATH_RATES
from parity.errors import CatalogError
from parity.hardware import Chip, Provenance, Source, System

__all__ = ["sources"]


_DIRECTIONS = {"bidirectional": 0.5, "unidirectional": 1.0, "unstated": 0.5}
_ABSENT = "leave the key out where the part has none"  # an optional figure's: a link, a die count, a price
# the keys a chip's or a system's file may hold: table ('' the top level) -> its keys; a key outside them (a typo:
# `bandwdith`, `scale_upp`) is refused, not passed over as absent. A quantity's table holds _QUANTITY_KEYS
_CHIP_KEYS = {"": ("id", "name", "vendor", "family", "software_stack", "calibration", "aliases", "status", "year",
                   "datacenter", "notes", "sources", "peak", "native", "memory", "interconnect", "power", "die",
                   "price"),
              "peak": tuple(MATH_RATES), "native": ("value", "source", "note"), "memory": ("capacity", "bandwidth"),
              "interconnect": ("scale_up", "scale_out"), "power": ("tdp",),
              "die": ("area", "count", "compute_units"), "price": ("unit",)}
_SYSTEM_KEYS = {"": ("id", "name", "aliases", "status", "chip", "notes", "sources", "structure", "interconnect",
                     "power", "host", "price",
                     "chips", "scale_up_domain_chips", "scale_up_topology"),  # _structure says these go in [structure]
                "interconnect": ("scale_up", "scale_out", "scale_up_latency", "scale_out_latency",
                                 "fused_all_to_all_latency", "fused_all_to_all_peer_latency",
                                 "normal_all_to_all_notify"),
                "power": ("system",), "host": ("chips_per_host", "memory", "link"), "price": ("system",)}
_QUANTITY_KEYS = ("value", "source", "note", "sparse", "sparsity", "direction")


def _checked(data: dict[str, Any], keys: dict[str, tuple[str, ...]], where: str, what: str) -> None:
    """Refuse a key outside `keys` (a table of them per table), a table given as a value, and text given as
    another kind (id = 5), naming the file and the key."""
    for table, known in keys.items():
        part = data if not table else data.get(table, {})
        if not isinstance(part, dict):
            raise CatalogError(f"{where}: key {table} must be a table ([{table}]), got {as_written(part)}")
        refuse_unknown(part, known, where, f"[{table}]" if table else "the top level", what)
        for key, spec in part.items():
            if table and table != "native" and isinstance(spec, dict):
                refuse_unknown(spec, _QUANTITY_KEYS, where, f"{table}.{key}", "quantity")
    for key in ("id", "name", "vendor", "family", "software_stack", "calibration", "status", "notes", "chip"):
        if key in data:
            text(data[key], where, key)
    aliases = data.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise CatalogError(f"{where}: key aliases must be a list of names, got {as_written(aliases)}")
    if "year" in data and (isinstance(data["year"], bool) or not isinstance(data["year"], int)):
        raise CatalogError(f"{where}: key year must be a whole number, got {as_written(data['year'])}")
    if "datacenter" in data and not isinstance(data["datacenter"], bool):
        raise CatalogError(f"{where}: key datacenter must be true or false, got {as_written(data['datacenter'])}")
    if not isinstance(data.get("sources", {}), dict):
        raise CatalogError(f"{where}: key sources must be a table ([sources.ID]), got {as_written(data['sources'])}")


def _sources(table: dict[str, Any], where: str) -> dict[str, Source]:
    out = {}
    for source_id, spec in table.items():
        if not isinstance(spec, dict):
            raise CatalogError(f"{where}: sources.{source_id} must be a table with kind and title ([sources."
                               f"{source_id}]), got {as_written(spec)}")
        try:
            out[source_id] = Source(id=source_id, kind=spec.get("kind", ""), title=spec.get("title", ""),
                                    url=spec.get("url", ""), date=str(spec.get("date", "")))
        except ValueError as err:
            raise CatalogError(f"{where}: {err}") from err
    return out


@cache
def sources() -> dict[str, Source]:
    """Sources shared by many catalog files (data/sources.toml)."""
    path = data_dir() / "sources.toml"
    return _sources(read_toml(path), path.name) if path.exists() else {}


@dataclass(slots=True)
class _Reader:
    """Turns one file's quantity tables into SI floats while recording their provenance; a refusal names the file and
    the file's key (memory.bandwidth), not the field it fills (memory_bytes_per_s)."""

    where: str
    known_sources: dict[str, Source]
    records: list[Provenance]

    def _source(self, spec: dict[str, Any], key: str) -> Source:
        source_id = spec.get("source")
        if not source_id:
            raise CatalogError(f"{self.where}: {key} has no source")
        if source_id not in self.known_sources:
            raise CatalogError(f"{self.where}: {key} names unknown source {source_id!r}")
        return self.known_sources[source_id]

    def quantity(self, spec: Any, field: str, dimension: str, key: str, absent: str = "") -> float:
        """The figure of `spec` (the file's table at `key`) in SI units, stored per direction and dense. One below zero
        is refused, and one of zero but a latency's (a step a fabric skips takes 0 s): every other figure a file states
        (memory, bandwidth, power, price, a count) has a size; `absent` says what a file does where a part has none."""
        if not isinstance(spec, dict) or "value" not in spec:
            raise CatalogError(f"{self.where}: {key} must be a table with value and source, got "
                               f"{as_written(spec)}")
        source = self._source(spec, key)
        if dimension == "count" and not isinstance(spec["value"], int | float):  # "8" read as 8: a key of another type
            raise CatalogError(f"{self.where}: {key} must be a number, not text: value = {spec['value']}, got "
                               f"{as_written(spec['value'])}")
        try:
            value = units.parse(spec["value"], dimension)
        except units.UnitError as err:
            raise CatalogError(f"{self.where}: {key}: {err}") from err
        if value < 0 or (value == 0 and dimension != "s"):
            must = "0 or more" if dimension == "s" else "positive"
            raise CatalogError(f"{self.where}: {key} = {as_written(spec['value'])} must be {must}"
                               + (f" ({absent})" if absent else ""))
        notes = [spec.get("note", "")]
        divisor = float(spec.get("sparsity", 2 if spec.get("sparse") else 1))
        basis = "" if divisor == 1 else "sparse" if divisor == 2 else f"{divisor:g}x sparse"
        if divisor != 1:
            notes.append(f"quoted with {divisor:g}x structured sparsity; stored dense (/{divisor:g})")
        direction = spec.get("direction")
        if direction is not None:
            if direction not in _DIRECTIONS:
                raise CatalogError(f"{self.where}: {key}.direction = {as_written(direction)} must be one of "
                                   f"{', '.join(map(repr, _DIRECTIONS))}")
            if direction != "unidirectional":
                divisor /= _DIRECTIONS[direction]
                basis = "bidirectional" if direction == "bidirectional" else "direction unstated"
                notes.append(f"quoted {direction}; stored per direction (/2)")
        value /= divisor
        self.records.append(Provenance(field=field, quoted=str(spec["value"]), value=value, source=source,
                                       note="; ".join(n for n in notes if n), basis=basis, divisor=divisor))
        return value

    def count(self, spec: Any, field: str, key: str) -> int:
        """A whole count (chips, dies), refused where the source's figure is not whole."""
        value = self.quantity(spec, field, "count", key)
        if not value.is_integer():
            raise CatalogError(f"{self.where}: {key} must be a whole count, got {spec['value']!r}")
        self.records[-1] = dataclasses.replace(self.records[-1], value=int(value))
        return int(value)

    def optional(self, table: dict[str, Any], at: str, key: str, field: str, dimension: str) -> float | None:
        """The figure at `at`.`key` (`at` the table's name), or None where the table has no `key`."""
        return self.quantity(table[key], field, dimension, f"{at}.{key}", _ABSENT) if key in table else None

    def link(self, table: dict[str, Any], at: str, key: str, field: str) -> float | None:
        """A link's bandwidth [B/s] per direction, or None where `table` has none; its figure must say its direction
        (1,200 GB/s with none was stored as per direction, a bidirectional one's twice): `at` is its table."""
        if key in table and isinstance(table[key], dict) and "direction" not in table[key]:
            raise CatalogError(f"{self.where}: {at}.{key} says no direction: add direction = one of "
                               f"{', '.join(map(repr, _DIRECTIONS))} (bidirectional and unstated figures are halved "
                               "to the per-direction rate)")
        return self.optional(table, at, key, field, "bytes_per_s")

    def listing(self, spec: Any, field: str) -> tuple[str, ...]:
        if not isinstance(spec, dict) or not isinstance(spec.get("value"), list):
            raise CatalogError(f"{self.where}: {field} must be a table with a value list and a source")
        source = self._source(spec, field)
        value = tuple(str(v) for v in spec["value"])
        self.records.append(Provenance(field=field, quoted=", ".join(value), value=value, source=source,
                                       note=spec.get("note", "")))
        return value

    def word(self, spec: Any, field: str, key: str) -> str:
        """A named choice (a topology) with its source."""
        if not isinstance(spec, dict) or not isinstance(spec.get("value"), str):
            raise CatalogError(f"{self.where}: {key} must be a table with a value string and a source, got {spec!r}")
        source = self._source(spec, key)
        self.records.append(Provenance(field=field, quoted=spec["value"], value=spec["value"], source=source,
                                       note=spec.get("note", "")))
        return str(spec["value"])


def _stack(data: dict[str, Any], where: str) -> str:
    """A chip's software stack, which every chip states: engine profiles, maturity and notes are the stack's (a chip
    without one printed 'no  profile' and 'on ,' in its notes)."""
    stack = data.get("software_stack", "")
    stack = stack.strip() if isinstance(stack, str) else stack  # 'cuda ' is cuda; ' ' is none (fuzzDH 2)
    if not stack:
        raise CatalogError(f"{where}: key software_stack is missing: the chip's software (cuda, rocm, cann, xpu, ... "
                           f"or a name of its own, e.g. software_stack = \"nova-sdk\"), what serving engines run on")
    return str(stack)


def _named_as_file(data: dict[str, Any], where: str, kind: str) -> None:
    """Refuse a chip or system whose id is not its file's name (docs: chips/ID.toml, systems/ID.toml), as a
    calibration file's chip is."""
    item_id, name = data.get("id"), Path(where).name
    if isinstance(item_id, str) and Path(where).stem != item_id:
        raise CatalogError(f"{where}: the file holds {kind} {item_id!r} but is named {name}; name it {item_id}.toml "
                           f"(a {kind}'s file is {kind}s/ID.toml)")


def _chip_from(data: dict[str, Any], where: str, user_file: str = "") -> Chip:
    _checked(data, _CHIP_KEYS, where, "chip")
    _named_as_file(data, where, "chip")
    reader = _Reader(where, {**sources(), **_sources(data.get("sources", {}), where)}, [])
    peak_table = require(data, "peak", where)
    peaks = {}
    for key, spec in peak_table.items():
        if key not in MATH_RATES:
            raise CatalogError(f"{where}: unknown peak key {key!r}; known: {', '.join(MATH_RATES)}")
        # a format the chip has no unit for is left out, not given 0 (it was stored)
        peaks[key] = reader.quantity(spec, f"peak_flop_per_s.{key}", "flop_per_s", f"peak.{key}",
                                     "leave out a format the chip has no unit for")
    if "calibration" in data and not data["calibration"].strip():  # was read as no key at all
        raise CatalogError(f"{where}: key calibration is empty: name the chip whose calibration yours inherits (an id "
                           "or an alias, e.g. calibration = \"nvidia-h20\"), or leave the key out")
    memory = require(data, "memory", where)
    link = data.get("interconnect", {})
    power = require(data, "power", where)
    die = data.get("die", {})
    price = data.get("price", {})
    try:
        return Chip(
            id=require(data, "id", where), name=require(data, "name", where), vendor=require(data, "vendor", where),
            status=data.get("status", "shipping"), year=data.get("year"), datacenter=bool(data.get("datacenter", True)),
            peak_flop_per_s=peaks,
            native=frozenset(reader.listing(require(data, "native", where), "native")),
            memory_bytes=reader.quantity(require(memory, "capacity", where), "memory_bytes", "bytes",
                                         "memory.capacity"),
            memory_bytes_per_s=reader.quantity(require(memory, "bandwidth", where), "memory_bytes_per_s",
                                               "bytes_per_s", "memory.bandwidth"),
            scale_up_bytes_per_s=reader.link(link, "interconnect", "scale_up", "scale_up_bytes_per_s") or 0.0,
            scale_out_bytes_per_s=reader.link(link, "interconnect", "scale_out", "scale_out_bytes_per_s") or 0.0,
            tdp_w=reader.quantity(require(power, "tdp", where), "tdp_w", "w", "power.tdp"),
            die_area_m2=reader.optional(die, "die", "area", "die_area_m2", "m2"),
            unit_price_usd=reader.optional(price, "price", "unit", "unit_price_usd", "usd"),
            dies=reader.count(die["count"], "dies", "die.count") if "count" in die else 1,
            compute_units=reader.optional(die, "die", "compute_units", "compute_units", "count"),
            family=str(data.get("family", "")), software_stack=_stack(data, where),
            calibration_chip=str(data.get("calibration", "")).strip(),
            aliases=tuple(data.get("aliases", ())), notes=data.get("notes", ""), provenance=tuple(reader.records),
            user_file=user_file,
        )
    except ValueError as err:
        raise CatalogError(f"{where}: {err}") from err


_STRUCTURE = ("chips", "scale_up_domain_chips", "scale_up_topology")


def _structure(data: dict[str, Any], reader: _Reader) -> tuple[int, int, str]:
    """What a system is built of, each part with its source: its chips, how many of them share the scale-up fabric,
    and that fabric's topology (the [structure] table)."""
    table = data.get("structure")
    if not isinstance(table, dict) or any(key in data for key in _STRUCTURE):
        raise CatalogError(f"{reader.where}: needs a [structure] table with {', '.join(_STRUCTURE)}, each "
                           "{ value = ..., source = \"id\" } (not bare keys: the chip count, scale-up domain and "
                           "topology are sourced numbers too)")
    unknown = sorted(set(table) - set(_STRUCTURE))
    if unknown:
        raise CatalogError(f"{reader.where}: unknown [structure] keys {unknown}; known: {', '.join(_STRUCTURE)}")
    where = f"{reader.where} [structure]"
    chips = reader.count(require(table, "chips", where), "chips", "structure.chips")
    domain = reader.count(require(table, "scale_up_domain_chips", where), "scale_up_domain_chips",
                          "structure.scale_up_domain_chips")
    if domain > chips:  # a file's 64-chip domain in a 32-chip system priced workers it lacks (fuzzDF 6); a System
        # built in code may be a share of a larger domain (a fraction of a node), so the record allows it
        raise CatalogError(f"{where}: scale_up_domain_chips ({domain}) must be at most chips ({chips}): a system's "
                           "scale-up domain is within it")
    return chips, domain, reader.word(require(table, "scale_up_topology", where), "scale_up_topology",
                                               "structure.scale_up_topology")


def _system_from(data: dict[str, Any], where: str, chip_index: dict[str, Chip], user_file: str = "") -> System:
    _checked(data, _SYSTEM_KEYS, where, "system")
    _named_as_file(data, where, "system")
    chip_name = require(data, "chip", where)
    try:  # an id or an alias, as the command line takes it ('h20', or an alias a chip file of the user's declares)
        the_chip = chip_index[chip_name] if chip_name in chip_index else resolve(chip_name, chip_index.values(), "chip")
    except CatalogError as err:  # the closest chips by id or alias ('h2O': nvidia-h20, not h20e alone)
        raise CatalogError(f"{where}: {err}") from None
    assert isinstance(the_chip, Chip)
    # a system file may cite the sources its chip's numbers cite (the vendor page of a chip often describes its node)
    cited = {p.source.id: p.source for p in the_chip.provenance}
    reader = _Reader(where, {**sources(), **cited, **_sources(data.get("sources", {}), where)}, [])
    chips, domain_chips, topology = _structure(data, reader)
    link = data.get("interconnect", {})
    power = require(data, "power", where)
    price = data.get("price", {})
    scale_up = reader.link(link, "interconnect", "scale_up", "scale_up_bytes_per_s")
    scale_out = reader.link(link, "interconnect", "scale_out", "scale_out_bytes_per_s")
    host = data.get("host", {})
    chips_per_host = float(host.get("chips_per_host", 1))  # chips sharing one CPU's memory and link
    host_memory = reader.optional(host, "host", "memory", "host_memory_bytes", "bytes") or 0.0
    host_link = reader.link(host, "host", "link", "host_link_bytes_per_s") or 0.0
    try:
        made = System(
            # a system states its status, else it is its chip's (an announced chip's system read 'shipping': fuzzDF)
            id=require(data, "id", where), name=require(data, "name", where),
            status=data.get("status", the_chip.status),
            chip=the_chip, chips=chips, scale_up_domain_chips=domain_chips, scale_up_topology=topology,
            scale_up_bytes_per_s=the_chip.scale_up_bytes_per_s if scale_up is None else scale_up,
            scale_up_latency_s=reader.quantity(require(link, "scale_up_latency", where), "scale_up_latency_s", "s",
                                               "interconnect.scale_up_latency"),
            scale_out_bytes_per_s=the_chip.scale_out_bytes_per_s if scale_out is None else scale_out,
            scale_out_latency_s=reader.quantity(require(link, "scale_out_latency", where), "scale_out_latency_s",
                                                "s", "interconnect.scale_out_latency"),
            power_w=reader.quantity(require(power, "system", where), "power_w", "w", "power.system"),
            fused_all_to_all_latency_s=reader.optional(link, "interconnect", "fused_all_to_all_latency",
                                                       "fused_all_to_all_latency_s", "s") or 0.0,
            fused_all_to_all_peer_latency_s=reader.optional(link, "interconnect", "fused_all_to_all_peer_latency",
                                                            "fused_all_to_all_peer_latency_s", "s") or 0.0,
            normal_all_to_all_notify_s=reader.optional(link, "interconnect", "normal_all_to_all_notify",
                                                       "normal_all_to_all_notify_s", "s") or 0.0,
            host_memory_bytes=host_memory / chips_per_host, host_link_bytes_per_s=host_link / chips_per_host,
            unit_price_usd=reader.optional(price, "price", "system", "unit_price_usd", "usd"),
            aliases=tuple(data.get("aliases", ())), notes=data.get("notes", ""), provenance=tuple(reader.records),
            user_file=user_file,
        )
    except ValueError as err:
        raise CatalogError(f"{where}: {err}") from err
    check_power(made, where)
    _check_links(made, where)
    return made


def _check_links(system: System, where: str) -> None:
    """A system states its scale-up and scale-out bandwidths, in its own file or its chip's (every catalog system
    does): the search lays models over a domain's links and over several systems' network, and a link of 0 B/s broke
    `compare` with numpy's 'argmin of an empty sequence' (a chip file without [interconnect]: tester fuzzER)."""
    for field, key in (("scale_up_bytes_per_s", "scale_up"), ("scale_out_bytes_per_s", "scale_out")):
        if not getattr(system, field) > 0:
            raise CatalogError(f"{where}: interconnect.{key}: neither this file nor chip {system.chip.id}'s states a "
                               f"{key.replace('_', '-')} bandwidth (parity lays layouts over both links)")
