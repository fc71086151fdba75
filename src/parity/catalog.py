"""Reads the TOML hardware catalog (one file per chip and per system) into frozen values.

Each number in a file is a table `{ value = "989 TFLOP/s", source = "id", note = "..." }` whose
source is declared in the file's [sources] or in data/sources.toml. `sparse = true` halves a
figure quoted with 2:4 sparsity (`sparsity = 4` divides by four); link figures say their
`direction`, and bidirectional (or unstated) figures are halved to the per-direction rate.
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import json
import os
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from parity import hf, units
from parity.dtypes import MATH_RATES
from parity.errors import CatalogError, ModelConfigError
from parity.engine import EngineProfile, TrainingProfile
from parity.hardware import Calibration, Chip, Provenance, Source, System
from parity.model import Model

__all__ = ["data_dir", "chips", "systems", "chip", "system", "system_for", "sources", "close_matches",
           "resolve", "Entry", "models", "model", "ModelEntry", "calibrations", "calibration",
           "engines", "engine", "measurements", "microbenchmarks", "user_dir",
           "uncertainty_table", "fitted_chips", "validated_features", "training_profile"]

_DIRECTIONS = {"bidirectional": 0.5, "unidirectional": 1.0, "unstated": 0.5}


def data_dir() -> Path:
    """The folder holding the catalog (inside the installed package)."""
    return Path(str(resources.files("parity") / "data"))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as err:
        raise CatalogError(f"{path.name}: malformed TOML: {err}") from err


def _sources(table: dict[str, Any], where: str) -> dict[str, Source]:
    out = {}
    for source_id, spec in table.items():
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
    return _sources(_read_toml(path), path.name) if path.exists() else {}


@dataclass(slots=True)
class _Reader:
    """Turns one file's quantity tables into SI floats while recording their provenance."""

    where: str
    known_sources: dict[str, Source]
    records: list[Provenance]

    def _source(self, spec: dict[str, Any], field: str) -> Source:
        source_id = spec.get("source")
        if not source_id:
            raise CatalogError(f"{self.where}: {field} has no source")
        if source_id not in self.known_sources:
            raise CatalogError(f"{self.where}: {field} names unknown source {source_id!r}")
        return self.known_sources[source_id]

    def quantity(self, spec: Any, field: str, dimension: str) -> float:
        if not isinstance(spec, dict) or "value" not in spec:
            raise CatalogError(f"{self.where}: {field} must be a table with value and source, got {spec!r}")
        source = self._source(spec, field)
        try:
            value = units.parse(spec["value"], dimension)
        except units.UnitError as err:
            raise CatalogError(f"{self.where}: {field}: {err}") from err
        notes = [spec.get("note", "")]
        divisor = float(spec.get("sparsity", 2 if spec.get("sparse") else 1))
        if divisor != 1:
            value /= divisor
            notes.append(f"quoted with {divisor:g}x structured sparsity; stored dense (/{divisor:g})")
        direction = spec.get("direction")
        if direction is not None:
            if direction not in _DIRECTIONS:
                raise CatalogError(f"{self.where}: {field}.direction must be one of {sorted(_DIRECTIONS)}, "
                                   f"got {direction!r}")
            value *= _DIRECTIONS[direction]
            if direction != "unidirectional":
                notes.append(f"quoted {direction}; stored per direction (/2)")
        self.records.append(Provenance(field=field, quoted=str(spec["value"]), value=value, source=source,
                                       note="; ".join(n for n in notes if n)))
        return value

    def optional(self, table: dict[str, Any], key: str, field: str, dimension: str) -> float | None:
        return self.quantity(table[key], field, dimension) if key in table else None

    def listing(self, spec: Any, field: str) -> tuple[str, ...]:
        if not isinstance(spec, dict) or not isinstance(spec.get("value"), list):
            raise CatalogError(f"{self.where}: {field} must be a table with a value list and a source")
        source = self._source(spec, field)
        value = tuple(str(v) for v in spec["value"])
        self.records.append(Provenance(field=field, quoted=", ".join(value), value=value, source=source,
                                       note=spec.get("note", "")))
        return value


def _require(data: dict[str, Any], key: str, where: str) -> Any:
    if key not in data:
        raise CatalogError(f"{where}: missing key {key!r}")
    return data[key]


def _chip_from(data: dict[str, Any], where: str) -> Chip:
    reader = _Reader(where, {**sources(), **_sources(data.get("sources", {}), where)}, [])
    peak_table = _require(data, "peak", where)
    peaks = {}
    for key, spec in peak_table.items():
        if key not in MATH_RATES:
            raise CatalogError(f"{where}: unknown peak key {key!r}; known: {', '.join(MATH_RATES)}")
        peaks[key] = reader.quantity(spec, f"peak_flop_per_s.{key}", "flop_per_s")
    memory = _require(data, "memory", where)
    link = data.get("interconnect", {})
    power = _require(data, "power", where)
    die = data.get("die", {})
    price = data.get("price", {})
    try:
        return Chip(
            id=_require(data, "id", where), name=_require(data, "name", where), vendor=_require(data, "vendor", where),
            status=data.get("status", "shipping"), year=data.get("year"), datacenter=bool(data.get("datacenter", True)),
            peak_flop_per_s=peaks,
            native=frozenset(reader.listing(_require(data, "native", where), "native")),
            memory_bytes=reader.quantity(_require(memory, "capacity", where), "memory_bytes", "bytes"),
            memory_bytes_per_s=reader.quantity(_require(memory, "bandwidth", where), "memory_bytes_per_s",
                                               "bytes_per_s"),
            scale_up_bytes_per_s=reader.optional(link, "scale_up", "scale_up_bytes_per_s", "bytes_per_s") or 0.0,
            scale_out_bytes_per_s=reader.optional(link, "scale_out", "scale_out_bytes_per_s", "bytes_per_s") or 0.0,
            tdp_w=reader.quantity(_require(power, "tdp", where), "tdp_w", "w"),
            die_area_m2=reader.optional(die, "area", "die_area_m2", "m2"),
            unit_price_usd=reader.optional(price, "unit", "unit_price_usd", "usd"),
            aliases=tuple(data.get("aliases", ())), notes=data.get("notes", ""), provenance=tuple(reader.records),
        )
    except ValueError as err:
        raise CatalogError(f"{where}: {err}") from err


def _system_from(data: dict[str, Any], where: str, chip_index: dict[str, Chip]) -> System:
    reader = _Reader(where, {**sources(), **_sources(data.get("sources", {}), where)}, [])
    chip_name = _require(data, "chip", where)
    if chip_name not in chip_index:
        raise CatalogError(f"{where}: unknown chip {chip_name!r}")
    the_chip = chip_index[chip_name]
    link = data.get("interconnect", {})
    power = _require(data, "power", where)
    price = data.get("price", {})
    scale_up = reader.optional(link, "scale_up", "scale_up_bytes_per_s", "bytes_per_s")
    scale_out = reader.optional(link, "scale_out", "scale_out_bytes_per_s", "bytes_per_s")
    try:
        return System(
            id=_require(data, "id", where), name=_require(data, "name", where), status=data.get("status", "shipping"),
            chip=the_chip, chips=int(_require(data, "chips", where)),
            scale_up_domain_chips=int(_require(data, "scale_up_domain_chips", where)),
            scale_up_topology=_require(data, "scale_up_topology", where),
            scale_up_bytes_per_s=the_chip.scale_up_bytes_per_s if scale_up is None else scale_up,
            scale_up_latency_s=reader.quantity(_require(link, "scale_up_latency", where), "scale_up_latency_s", "s"),
            scale_out_bytes_per_s=the_chip.scale_out_bytes_per_s if scale_out is None else scale_out,
            scale_out_latency_s=reader.quantity(_require(link, "scale_out_latency", where), "scale_out_latency_s",
                                                "s"),
            power_w=reader.quantity(_require(power, "system", where), "power_w", "w"),
            unit_price_usd=reader.optional(price, "system", "unit_price_usd", "usd"),
            aliases=tuple(data.get("aliases", ())), notes=data.get("notes", ""), provenance=tuple(reader.records),
        )
    except ValueError as err:
        raise CatalogError(f"{where}: {err}") from err


def user_dir() -> Path:
    """Where the user's own files live (calibrations written by `parity calibrate`): $PARITY_HOME,
    else ~/.parity."""
    return Path(os.environ.get("PARITY_HOME", Path.home() / ".parity")).expanduser()


def _load_all(kind: str, user: bool = False) -> list[tuple[dict[str, Any], str]]:
    folders = [data_dir() / kind] + ([user_dir() / kind] if user else [])
    return [(_read_toml(path), f"{kind}/{path.name}") for folder in folders for path in sorted(folder.glob("*.toml"))]


@cache
def chips() -> tuple[Chip, ...]:
    """Every chip in the catalog, sorted by id."""
    loaded = [_chip_from(data, where) for data, where in _load_all("chips")]
    _check_names(loaded, "chip")
    return tuple(sorted(loaded, key=lambda c: c.id))


@cache
def systems() -> tuple[System, ...]:
    """Every system in the catalog, sorted by id."""
    index = {c.id: c for c in chips()}
    loaded = [_system_from(data, where, index) for data, where in _load_all("systems")]
    _check_names(loaded, "system")
    return tuple(sorted(loaded, key=lambda s: s.id))


def _check_names(items: Iterable[Chip | System], kind: str) -> None:
    seen: dict[str, str] = {}
    for item in items:
        for name in (item.id, *item.aliases):
            key = name.lower()
            if key in seen and seen[key] != item.id:
                raise CatalogError(f"{kind} name {name!r} is used by both {seen[key]} and {item.id}")
            seen[key] = item.id


def close_matches(name: str, candidates: Iterable[str], n: int = 4) -> list[str]:
    """Names that look like `name`, best first (for 'did you mean' messages)."""
    pool = list(dict.fromkeys(candidates))
    lowered = {c.lower(): c for c in pool}
    found = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.5)
    contains = [c for c in pool if name.lower() in c.lower() and c.lower() not in found]
    return [lowered[f] for f in found] + contains[: max(0, n - len(found))]


Entry = Chip | System


def resolve(name: str, items: Iterable[Entry], kind: str) -> Entry:
    """The item whose id or alias is `name` (case-insensitive, '_' and '-' alike)."""
    pool = list(items)

    def norm(text: str) -> str:
        return text.strip().lower().replace("_", "-")

    wanted = norm(name)
    for item in pool:
        if wanted in {norm(n) for n in (item.id, *item.aliases)}:
            return item
    names = [n for item in pool for n in (item.id, *item.aliases)]
    hints = close_matches(name, names)
    hint = f"; did you mean {', '.join(hints)}?" if hints else f"; see 'parity {kind}s'"
    raise CatalogError(f"unknown {kind} {name!r}{hint}")


def chip(name: str) -> Chip:
    """The chip called `name` (id or alias); a system's name gives its chip (`gb200` -> nvidia-gb200)."""
    try:
        found = resolve(name, chips(), "chip")
    except CatalogError as chip_error:
        try:
            return resolve(name, systems(), "system").chip  # type: ignore[union-attr]
        except CatalogError:
            raise chip_error from None
    assert isinstance(found, Chip)
    return found


def system_for(the_chip: Chip) -> System:
    """The default system of a chip: the smallest catalog system built from it."""
    candidates = [s for s in systems() if s.chip.id == the_chip.id]
    if not candidates:
        raise CatalogError(f"no system in the catalog uses chip {the_chip.id!r}")
    return min(candidates, key=lambda s: (s.chips, s.id))


def system(name: str) -> System:
    """The system called `name`; a chip name gives that chip's default system (e.g. its 8-GPU node)."""
    try:
        found = resolve(name, systems(), "system")
    except CatalogError as system_error:
        try:
            return system_for(chip(name))
        except CatalogError:
            names = [n for item in (*systems(), *chips()) for n in (item.id, *item.aliases)]
            hints = close_matches(name, names)
            if hints:
                raise CatalogError(f"unknown system or chip {name!r}; did you mean {', '.join(hints)}?") \
                    from system_error
            raise CatalogError(f"unknown system or chip {name!r}; see 'parity systems'") from system_error
    assert isinstance(found, System)
    return found


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelEntry:
    """One row of the model catalog (data/models/index.toml)."""

    id: str
    file: str
    hf: str
    aliases: tuple[str, ...] = ()
    quant: str = ""
    weight_format: str = ""
    expert_weight_format: str = ""
    notes: str = ""


@cache
def models() -> tuple[ModelEntry, ...]:
    """The catalog's models, in index order."""
    index = _read_toml(data_dir() / "models" / "index.toml")
    entries = []
    for row in index.get("model", []):
        try:
            entries.append(ModelEntry(**{**row, "aliases": tuple(row.get("aliases", ()))}))
        except TypeError as err:
            raise CatalogError(f"models/index.toml: bad entry {row.get('id', '?')!r}: {err}") from err
    return tuple(entries)


@cache
def _catalog_model(entry_id: str) -> Model:
    entry = next(e for e in models() if e.id == entry_id)
    folder = data_dir() / "models"
    quant = hf.read_config(folder / entry.quant) if entry.quant else None
    found = hf.model_from_config(hf.read_config(folder / entry.file), entry.id, quant, source=entry.hf)
    changes = {k: v for k, v in (("weight_format", entry.weight_format),
                                 ("expert_weight_format", entry.expert_weight_format)) if v}
    return dataclasses.replace(found, **changes) if changes else found


def model(name: str) -> Model:
    """A model by catalog name or Hugging Face repository name, or from a path to a config.json."""
    path = Path(name).expanduser()
    if name.endswith(".json") or path.is_dir() or path.exists():
        if path.is_dir():
            path = path / "config.json"
        if not path.exists():
            raise ModelConfigError(f"no such config file: {path}")
        return hf.read_model(path)

    def norm(text: str) -> str:
        return text.strip().lower().replace("_", "-")

    wanted = norm(name)
    for entry in models():
        if wanted in {norm(n) for n in (entry.id, entry.hf, *entry.aliases)}:
            return _catalog_model(entry.id)
    names = [n for e in models() for n in (e.id, e.hf)]
    hints = close_matches(name, names)
    hint = f"; did you mean {', '.join(hints)}?" if hints else "; see 'parity models'"
    raise CatalogError(f"unknown model {name!r}{hint}")


def _calibration_from(data: dict[str, Any], where: str) -> Calibration:
    scalars = ("memory_efficiency", "grouped_gemm_memory_efficiency", "attention_prefill_efficiency",
               "attention_decode_efficiency", "stream_efficiency", "emulation_efficiency", "collective_efficiency")
    try:
        return Calibration(
            id=_require(data, "id", where), chip=_require(data, "chip", where), date=str(_require(data, "date", where)),
            method=_require(data, "method", where), measured=bool(_require(data, "measured", where)),
            gemm_efficiency=dict(_require(data, "gemm_efficiency", where)),
            kernel_overhead_s=units.parse(_require(data, "kernel_overhead", where), "s"),
            source=data.get("source", ""), points=tuple(data.get("points", ())),
            **{name: float(_require(data, name, where)) for name in scalars})
    except (ValueError, units.UnitError) as err:
        raise CatalogError(f"{where}: {err}") from err


@cache
def calibrations() -> tuple[Calibration, ...]:
    """Every calibration file: parity's own (data/calibration/*.toml, the generic prior included) and the
    user's (user_dir()/calibration/*.toml)."""
    return tuple(_calibration_from(data, where) for data, where in _load_all("calibration", user=True))


def calibration(the_chip: Chip) -> Calibration:
    """The newest calibration measured on this chip, else the generic prior."""
    own = [c for c in calibrations() if c.chip == the_chip.id]
    if own:
        return max(own, key=lambda c: c.date)
    return next(c for c in calibrations() if c.chip == "*")


@cache
def engines() -> tuple[EngineProfile, ...]:
    """Serving-engine profiles (data/engines/*.toml)."""
    out = []
    for data, where in _load_all("engines"):
        try:
            times = ("kernel_overhead", "step_overhead", "ttft_overhead")
            optional = ("collective_latency", "disagg_ttft_overhead")
            fields = {k: v for k, v in data.items() if k not in times + optional}
            fields |= {f"{k}_s": units.parse(_require(data, k, where), "s") for k in times}
            fields |= {f"{k}_s": units.parse(data[k], "s") for k in optional if k in data}
            out.append(EngineProfile(**fields))
        except (TypeError, ValueError, units.UnitError) as err:
            raise CatalogError(f"{where}: {err}") from err
    return tuple(out)


ENGINE_ALIASES = {"tensorrt-llm": "trtllm", "trt-llm": "trtllm", "trt": "trtllm", "": "generic", "none": "generic"}


def engine(name: str | None) -> EngineProfile:
    """An engine profile by id (trtllm, vllm, sglang, generic); empty or None gives generic."""
    key = ENGINE_ALIASES.get((name or "").strip().lower(), (name or "").strip().lower())
    for profile in engines():
        if profile.id == key:
            return profile
    hints = close_matches(key, [p.id for p in engines()])
    raise CatalogError(f"unknown engine {name!r}; known: {', '.join(p.id for p in engines())}"
                       + (f"; did you mean {hints[0]}?" if hints else ""))


@cache
def _measurement_rows(name: str) -> tuple[dict[str, str], ...]:
    path = data_dir() / "measurements" / f"{name}.csv"
    if not path.exists():
        known = sorted(p.stem for p in path.parent.glob("*.csv"))
        raise CatalogError(f"unknown measurement set {name!r}; known: {', '.join(known)}")
    with path.open(newline="", encoding="utf-8") as handle:
        return tuple(csv.DictReader(handle))


def measurements(name: str = "serving_aiconfigurator") -> list[dict[str, str]]:
    """Rows of one measurement set (data/measurements/NAME.csv), as text cells."""
    return [dict(row) for row in _measurement_rows(name)]


def microbenchmarks(name: str) -> dict[str, Any]:
    """A microbenchmark file as measured (data/measurements/NAME.json), for `parity calibrate --import`'s reader."""
    path = data_dir() / "measurements" / f"{name}.json"
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as err:
        raise CatalogError(f"{path}: {err}") from err


@cache
def uncertainty_table() -> dict[str, Any]:
    """The prediction-interval bands (data/uncertainty.toml, written by `parity validate --fit`), or {}."""
    path = data_dir() / "uncertainty.toml"
    return _read_toml(path) if path.exists() else {}


@cache
def fitted_chips() -> frozenset[str]:
    """Chips whose serving behaviour was fitted: those of the calibration rows of the measurements."""
    rows = measurements()
    return frozenset(system(r["system"]).chip.id for r in rows if r.get("split") == "calibration")


@cache
def validated_features() -> frozenset[str]:
    """Architecture features of the models the fit has seen (calibration rows)."""
    rows = measurements()
    features: set[str] = set()
    for name in {r["model"] for r in rows if r.get("split") == "calibration"}:
        features |= model(name).features
    return frozenset(features - {"mtp"})  # MTP layers exist in DeepSeek checkpoints but no run decoded with them


@cache
def training_profile() -> TrainingProfile:
    """The training-framework profile (data/training.toml): overlap, optimizer and memory assumptions."""
    where = "training.toml"
    data = _read_toml(data_dir() / where)
    times = {"memory_reserve": ("memory_reserve_bytes", "bytes"), "step_overhead": ("step_overhead_s", "s"),
             "moe_layer_overhead": ("moe_layer_overhead_s", "s")}
    try:
        fields = {k: v for k, v in data.items() if k not in times and k != "sources"}
        fields |= {name: units.parse(data[key], dimension) for key, (name, dimension) in times.items() if key in data}
        return TrainingProfile(**fields)
    except (TypeError, ValueError, units.UnitError) as err:
        raise CatalogError(f"{where}: {err}") from err
