"""The one TOML writer: fitted engine profiles, intervals, training profiles and calibrations are written as
plain tables (scalars, sub-tables, arrays of tables) through here, so every file parity writes reads back
with tomllib to the values it was given."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["value", "document", "replace_values", "significant"]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def significant(number: float, digits: int = 6) -> float:
    """`number` rounded to `digits` significant digits, for files a person reads (0.123456789 -> 0.123457)."""
    return float(f"{number:.{digits}g}")


def key(name: str) -> str:
    """A key as TOML writes it: bare when it can be, quoted otherwise."""
    return name if _BARE_KEY.fullmatch(name) else value(name)


def value(item: Any) -> str:
    """One TOML value: a boolean, integer, float (repr, so it reads back exactly; inf and nan as TOML
    spells them), string (escaped, on one line) or a list of those."""
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, int):
        return str(item)
    if isinstance(item, float):
        if math.isnan(item):
            return "nan"
        if math.isinf(item):
            return "inf" if item > 0 else "-inf"
        return repr(item)
    if isinstance(item, str):
        return '"' + "".join(_ESCAPES.get(c) or (f"\\u{ord(c):04x}" if ord(c) < 0x20 or ord(c) == 0x7F else c)
                             for c in item) + '"'
    if isinstance(item, Sequence):
        return "[" + ", ".join(value(v) for v in item) + "]"
    raise TypeError(f"cannot write a {type(item).__name__} as a TOML value: {item!r}")


def _is_table_array(item: Any) -> bool:
    return isinstance(item, Sequence) and not isinstance(item, str) and bool(item) and all(
        isinstance(v, Mapping) for v in item)


def _table(table: Mapping[str, Any], path: tuple[str, ...], lines: list[str]) -> None:
    scalars = [(k, v) for k, v in table.items() if not isinstance(v, Mapping) and not _is_table_array(v)]
    lines += [f"{key(k)} = {value(v)}" for k, v in scalars]
    for k, v in table.items():
        if isinstance(v, Mapping):
            here = (*path, key(k))
            lines += ["", f"[{'.'.join(here)}]"]
            _table(v, here, lines)
        elif _is_table_array(v):
            here = (*path, key(k))
            for row in v:
                lines += ["", f"[[{'.'.join(here)}]]"]
                _table(row, here, lines)


def document(table: Mapping[str, Any], comment: str = "") -> str:
    """A whole TOML file: `comment` as leading # lines, the table's scalars, then its sub-tables and
    arrays of tables, in the order given."""
    lines = [f"# {line}" if line else "#" for line in comment.splitlines()]
    _table(table, (), lines)
    return "\n".join(lines) + "\n"


def replace_values(text: str, values: Mapping[str, Any], add: bool = False) -> str:
    """`text` (a TOML file) with the top-level keys in `values` given new values in place; comments and
    every other line are kept. A key the text lacks is an error, so nothing is silently dropped, unless `add`:
    then it is appended (to a file of top-level keys only)."""
    lines, seen, top = [], set(), True
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("["):
            top = False
        name = stripped.split("=")[0].strip() if "=" in stripped and not stripped.startswith("#") else ""
        if top and name in values:
            lines.append(f"{name} = {value(values[name])}")
            seen.add(name)
        else:
            lines.append(line)
    missing = [k for k in values if k not in seen]
    if missing and add and top:
        lines += [f"{name} = {value(values[name])}" for name in missing]
    elif missing:
        raise KeyError(f"keys not found at the top of the file: {', '.join(sorted(missing))}")
    return "\n".join(lines) + "\n"
