"""An engine profile's file: identity keys at the top, then one table per section of engine.PROFILE_SECTIONS
([kernels], [host], [scheduler.token_budget] ..., [steady], [simulator]), read into one EngineProfile and written
back from its keys. A time is a unit string under the field's name without `_s` (kernel_overhead = "8.766 us")."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from parity import units
from parity.engine import EngineProfile
from parity.engine.sections import IDENTITY, PROFILE_SECTIONS, ProfileSection
from parity.catalog.files import as_written, number
from parity.errors import CatalogError

__all__ = ["profile_from", "key_of", "field_of", "sectioned", "key_path", "flat_keys", "SECTION_COMMENTS"]

_SECTIONS = {s.name: s for s in PROFILE_SECTIONS}
# the fields a file must give (no default): the three overheads, the fitted scales, the identity
_REQUIRED = tuple(f.name for f in dataclasses.fields(EngineProfile)
                  if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
# the comment a written file puts before each section's header (tomlwrite.document's `comments`)
SECTION_COMMENTS = {s.name: s.comment for s in PROFILE_SECTIONS}


def key_of(field: str) -> str:
    """The file's key of an EngineProfile field: a time [s] without its `_s` (kernel_overhead_s: kernel_overhead)."""
    return field.removesuffix("_s")


# every file key's section and field (each field is in one section: tests/test_engine_sections.py)
_BY_KEY = {key_of(f): (s, f) for s in PROFILE_SECTIONS for f in s.fields}


def field_of(key: str, section: ProfileSection) -> str | None:
    """The EngineProfile field a key of `section` names; None where the section has no such key."""
    home, field = _BY_KEY.get(key, (None, None))
    return field if home is section else None


# keys renamed since a file may have been written: the old key, its new name (its section from _BY_KEY)
_RENAMED = {"sim_decode_host_token": "decode_host_token"}  # read by both models since 2026-12-04


def _home(key: str) -> str:
    """Where a key belongs, for messages: [section], the top level, or nowhere."""
    if key in _BY_KEY:
        return f"[{_BY_KEY[key][0].name}]"
    return "the top level" if key in IDENTITY else ""


def _misplaced(where: str, at: str, key: str) -> CatalogError:
    home = _home(key)
    said = f"belongs in {home}" if home else "is no engine-profile key"
    if key in _RENAMED:
        said = f"is now {_RENAMED[key]!r} in {_home(_RENAMED[key])}"
    return CatalogError(f"{where}: key {key!r} in {at} {said}")


_TYPES = {f.name: f.type for f in dataclasses.fields(EngineProfile)}
_KINDS = {"bool": (bool, "true or false"), "int": (int, "a whole number"), "str": (str, "text")}


def _value(where: str, key: str, field: str, value: Any) -> Any:
    """A key's value as its field holds it: a time parsed from its unit string, a number, a whole number, a
    boolean or text as the field's type says; a value of another type is refused naming the file and key."""
    if field.endswith("_s"):
        return units.parse(value, "s")
    if _TYPES[field] == "float":
        return number(value, where, key)
    kind, said = _KINDS[_TYPES[field]]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise CatalogError(f"{where}: key {key} must be {said}, got {as_written(value)}")
    return value


def _section_values(where: str, section: ProfileSection, table: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in table.items():
        field = field_of(key, section)
        if field is None:
            raise _misplaced(where, f"[{section.name}]", key)
        out[field] = _value(where, f"{section.name}.{key}", field, value)
    return out


def _tables(where: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """Every field's value from the sections of a file (times parsed), refusing a key out of place."""
    fields: dict[str, Any] = {}
    for key, value in data.items():
        if key in IDENTITY:
            continue
        children = [s for s in PROFILE_SECTIONS if s.name.startswith(f"{key}.")]
        if key in _SECTIONS and isinstance(value, Mapping):
            fields |= _section_values(where, _SECTIONS[key], value)
        elif children and isinstance(value, Mapping):
            for name, inner in value.items():
                section = _SECTIONS.get(f"{key}.{name}")
                if section is None or not isinstance(inner, Mapping):
                    raise CatalogError(f"{where}: [{key}] holds no {name!r}; its tables are "
                                       f"{', '.join(s.name.partition('.')[2] for s in children)}")
                fields |= _section_values(where, section, inner)
        else:
            raise _misplaced(where, "the top level", key)
    return fields


def profile_from(data: Mapping[str, Any], where: str) -> EngineProfile:
    """The EngineProfile of a file's TOML tables; a CatalogError naming the file, section and key for a key out of
    place (a fitted parameter at the top level, one in another section's table, an unknown one) or a bad value."""
    try:
        fields = _tables(where, data)
        identity = {k: data[k] for k in IDENTITY if k in data}
        for field in _REQUIRED:  # each named in words, not as a missing argument of EngineProfile
            if field not in fields and field not in identity:
                raise CatalogError(f"{where}: missing key {key_of(field)!r} in {_home(key_of(field))}")
        identity["rows"] = tuple(str(r) for r in data.get("rows", ()))
        return EngineProfile(**identity, **fields)
    except (TypeError, ValueError, units.UnitError) as err:
        raise CatalogError(f"{where}: {err}") from err


def key_path(key: str) -> str:
    """A file key as a dotted path from the top (gemm_scale: kernels.gemm_scale; id: id)."""
    if key in IDENTITY:
        return key
    if key in _BY_KEY:
        return f"{_BY_KEY[key][0].name}.{key}"
    raise KeyError(f"{key!r} is no engine-profile key")


def sectioned(flat: Mapping[str, Any]) -> dict[str, Any]:
    """File keys (kernel_overhead, gemm_scale, ...) as the file's tables: identity keys first in IDENTITY's order,
    then each section's keys in PROFILE_SECTIONS' order, nested by the section's dotted name."""
    unknown = [k for k in flat if k not in IDENTITY and k not in _BY_KEY]
    if unknown:
        raise KeyError(f"no engine-profile key: {', '.join(unknown)}")
    out: dict[str, Any] = {k: flat[k] for k in IDENTITY if k in flat}
    for section in PROFILE_SECTIONS:
        values = {key_of(f): flat[key_of(f)] for f in section.fields if key_of(f) in flat}
        if not values:
            continue
        table = out
        for part in section.name.split("."):
            table = table.setdefault(part, {})
        table.update(values)
    return out


def flat_keys(data: Mapping[str, Any]) -> dict[str, Any]:
    """A file's keys as written, out of their sections (the inverse of `sectioned`): {kernel_overhead: "8.766 us",
    gemm_scale: 1.17113, id: "trtllm", ...}."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping):
            out |= flat_keys(value)
        else:
            out[key] = value
    return out
