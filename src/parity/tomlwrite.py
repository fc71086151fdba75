"""The one TOML writer: fitted engine profiles, intervals, training profiles and calibrations are written as
plain tables (scalars, sub-tables, arrays of tables) through here, so every file parity writes reads back
with tomllib to the values it was given."""

from __future__ import annotations

import math
import re
import textwrap
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


def _comment(text: str) -> list[str]:
    """`text` as # lines of at most 120 characters (its own line breaks kept)."""
    return [f"# {line}" if line else "#" for part in text.splitlines()
            for line in (textwrap.wrap(part, 118, break_long_words=False) or [""])]


def _table(table: Mapping[str, Any], path: tuple[str, ...], lines: list[str],
           comments: Mapping[str, str]) -> None:
    scalars = [(k, v) for k, v in table.items() if not isinstance(v, Mapping) and not _is_table_array(v)]
    lines += [f"{key(k)} = {value(v)}" for k, v in scalars]
    for k, v in table.items():
        if isinstance(v, Mapping):
            here = (*path, key(k))
            holds_tables_only = bool(v) and all(isinstance(inner, Mapping) for inner in v.values())
            if not holds_tables_only:  # [a.b] declares [a]: a table of tables alone needs no header of its own
                name = ".".join(here)
                lines += ["", *(_comment(comments[name]) if name in comments else ()), f"[{name}]"]
            _table(v, here, lines, comments)
        elif _is_table_array(v):
            here = (*path, key(k))
            for row in v:
                lines += ["", f"[[{'.'.join(here)}]]"]
                _table(row, here, lines, comments)


def document(table: Mapping[str, Any], comment: str = "", comments: Mapping[str, str] | None = None) -> str:
    """A whole TOML file: `comment` as leading # lines, the table's scalars, then its sub-tables and
    arrays of tables, in the order given; `comments` maps a sub-table's dotted name to # lines before its header."""
    lines = [f"# {line}" if line else "#" for line in comment.splitlines()]
    _table(table, (), lines, comments or {})
    return "\n".join(lines) + "\n"


def _header(stripped: str) -> str:
    """The dotted name of a table header line ([a.b] or [[a.b]], spaces about the dots dropped)."""
    inner = stripped.split("#")[0].strip().strip("[]")
    return ".".join(part.strip() for part in inner.split("."))


def replace_values(text: str, values: Mapping[str, Any], add: bool = False) -> str:
    """`text` (a TOML file) with the keys in `values` given new values in place; comments and every other line
    are kept. A key is a dotted path from the top: `gemm_scale` a top-level key, `kernels.gemm_scale` the key
    under [kernels]. A key the text lacks is an error, so nothing is silently dropped, unless `add`: then it is
    put after the last key of its table (the top level: before the first table), or in a new table at the end."""
    lines: list[str] = []
    seen: set[str] = set()
    ends: dict[str, int] = {"": 0}  # each table's index in `lines` after its last key line (or its header)
    table = ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("["):
            table = _header(stripped)
            lines.append(line)
            ends[table] = len(lines)
            continue
        name = stripped.split("=")[0].strip() if "=" in stripped and not stripped.startswith("#") else ""
        path = f"{table}.{name}" if table and name else name
        if name and path in values:
            lines.append(f"{name} = {value(values[path])}")
            seen.add(path)
        else:
            lines.append(line)
        if name:
            ends[table] = len(lines)
    missing = [k for k in values if k not in seen]
    if missing and not add:
        raise KeyError(f"keys not found in the file: {', '.join(sorted(missing))}")
    for path in missing:  # in the order given
        table, _, name = path.rpartition(".")
        if table not in ends:
            lines += ["", f"[{table}]"]
            ends[table] = len(lines)
        at = ends[table]
        lines.insert(at, f"{name} = {value(values[path])}")
        ends = {t: e + 1 if e > at else e for t, e in ends.items()}
        ends[table] = at + 1
    return "\n".join(lines) + "\n"
