"""One way to show rows: a rich table for people, JSON or CSV (raw SI values) for machines.

A Column names a row key, a header with the report unit, and how to write the value for people.
Files are written whole or not at all (a temporary file renamed into place).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table

__all__ = ["Column", "render", "to_json", "to_csv", "write_atomic", "FORMATS", "plain", "scaled", "ratio",
           "percent", "to_builtin", "with_interval"]

FORMATS = ("table", "json", "csv")


def to_builtin(value: Any) -> Any:
    """numpy scalars and arrays, tuples and dataclass-like values as JSON-friendly Python values."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Mapping):
        return {str(k): to_builtin(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_builtin(v) for v in value]
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    return value


@dataclass(frozen=True, slots=True)
class Column:
    """A table column: row key, header (with the report unit) and a formatter for people."""

    key: str
    header: str
    show: Callable[[Any], str] = str
    justify: str = "right"


def plain(value: Any) -> str:
    return "" if value is None else str(value)


def scaled(factor: float, digits: int = 3) -> Callable[[Any], str]:
    """Formatter that divides by `factor` (e.g. 1e12 for a TFLOP/s column) and keeps `digits` figures."""
    def show(value: Any) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "-"
        if isinstance(value, str):
            return value
        x = float(value) / factor
        return f"{x:,.0f}" if abs(x) >= 10 ** digits else f"{x:.{digits}g}"
    return show


def with_interval(value: float, low: float, high: float, factor: float = 1.0, digits: int = 3) -> str:
    """A value with its interval for people: '12.3 (10.9-14.1)' (after dividing by `factor`)."""
    show = scaled(factor, digits)
    if low is None or high is None or math.isnan(float(low)) or math.isnan(float(high)):
        return show(value)
    return f"{show(value)} ({show(low)}-{show(high)})"


def ratio(value: Any) -> str:
    if value is None or (isinstance(value, float) and (math.isnan(value) or math.isinf(value))):
        return "-"
    return f"{float(value):.2f}x"


def percent(value: Any) -> str:
    return "-" if value is None else f"{100.0 * float(value):.1f}%"


def render(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column], title: str = "",
           caption: str = "", console: Console | None = None) -> None:
    """Print rows as a rich table."""
    table = Table(title=escape(title) or None, caption=escape(caption) or None, caption_justify="left",
                  header_style="bold")
    for column in columns:
        table.add_column(escape(column.header), justify=column.justify)  # type: ignore[arg-type]
    for row in rows:
        table.add_row(*(escape(column.show(row.get(column.key))) for column in columns))
    (console or Console(width=shutil.get_terminal_size(fallback=(160, 40)).columns)).print(table)


def to_json(payload: Any) -> str:
    return json.dumps(to_builtin(payload), indent=2)


def to_csv(rows: Iterable[Mapping[str, Any]], keys: Sequence[str] | None = None) -> str:
    rows = list(rows)
    keys = list(keys or dict.fromkeys(k for row in rows for k in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=keys, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_cell(row.get(k)) for k in keys})
    return out.getvalue()


def _csv_cell(value: Any) -> Any:
    value = to_builtin(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return "" if value is None else value


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write a whole file or nothing: into a temporary file beside it, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode() if isinstance(data, str) else data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # as an ordinary new file would be
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
