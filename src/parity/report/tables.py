"""One way to show rows: a rich table for people, JSON or CSV (raw SI values) for machines.

A Column names a row key, a header with the report unit, and how to write the value for people (in `cells`); the
table for people is laid out in `text_table`. Files are written whole or not at all (a temporary file renamed
into place).
"""

from __future__ import annotations

import csv
import errno
import io
import json
import math
import os
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from parity.report.cells import (DIGITS_SHOWN_WHOLE, Column, count, money, over_interval, percent, plain, ratio,
                                 ratio_number, reached, scaled, signed_percent, with_interval, words)
from parity.report.text_table import FIELD_HYPHEN, fields_text, fill_text, render_text, terminal_width

__all__ = ["Column", "fields_text", "render_text", "to_markdown", "to_json", "to_csv", "write_atomic", "FORMATS",
           "plain", "scaled", "count", "money", "ratio", "ratio_number", "percent", "to_builtin", "with_interval",
           "over_interval", "terminal_width", "DIGITS_SHOWN_WHOLE", "reached", "signed_percent", "words", "fill_text"]

FORMATS = ("table", "json", "csv")


# significant digits of a float written for machines (JSON, CSV): a figure derived in binary floating point drops
# its last bits of noise (hgx-b30a's power 8007.999999999999 W reads 8008.0, a performance density
# 33.75000000000001 reads 33.75); no figure changes at this precision, far finer than any source's
MACHINE_DIGITS = 12


def to_builtin(value: Any) -> Any:
    """numpy scalars and arrays, tuples and dataclass-like values as JSON-friendly Python values; a float to
    MACHINE_DIGITS significant digits, None where it is NaN or infinite."""
    if isinstance(value, np.generic):
        return to_builtin(value.item())
    if isinstance(value, np.ndarray):
        return to_builtin(value.tolist())
    if isinstance(value, Mapping):
        return {str(k): to_builtin(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_builtin(v) for v in value]
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else float(f"{value:.{MACHINE_DIGITS}g}")
    return value




_INTERVAL_BELOW = re.compile(r"\n(-?[\d.,]+[a-z%]*-[\d.,]+[a-z%]*)$")  # over_interval's second line


def to_markdown(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column], title: str = "",
                caption: str = "", listed: Sequence[str] = ()) -> str:
    """Rows as a GitHub Markdown table (every column), the title in bold above, the `listed` items (a list) and the
    caption below."""
    def cell(text: str) -> str:
        # a figure over its interval (over_interval) reads '2.00 (0.933-3.07)' on one line, not '2.00 0.933-3.07'
        text = _INTERVAL_BELOW.sub(r" (\1)", text)
        return text.replace("|", "\\|").replace("\n", " ").replace(FIELD_HYPHEN, "-")

    lines = [f"**{cell(title)}**", ""] if title else []
    lines.append("| " + " | ".join(cell(c.header) for c in columns) + " |")
    lines.append("|" + "|".join(":---" if c.justify == "left" else "---:" for c in columns) + "|")
    lines += ["| " + " | ".join(cell(c.show(row.get(c.key))) for c in columns) + " |" for row in rows]
    lines += [""] * bool(listed) + [f"- {item}" for item in listed]
    if caption:
        lines += ["", caption]
    return "\n".join(lines) + "\n"


def to_json(payload: Any) -> str:
    return json.dumps(to_builtin(payload), indent=2)


def to_csv(rows: Iterable[Mapping[str, Any]], keys: Sequence[str] | None = None) -> str:
    """CSV of the rows, one column per key (`keys`, or every key of the rows in order). A nested mapping is spread
    over columns named parent_child (ratios.per_chip -> ratios_per_chip, breakdown.compute_s -> breakdown_compute_s),
    so a spreadsheet reads each number; a list (a row's flags among them) is one cell of JSON text, which splits
    back whole (a flag's sentence may hold '; ' itself)."""
    rows = [_flat(row) for row in rows]
    keys = list(keys or dict.fromkeys(k for row in rows for k in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=keys, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_cell(row.get(k)) for k in keys})
    return out.getvalue()


def _flat(row: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """The row with each non-empty nested mapping spread over keys `prefix`parent_child, at any depth."""
    flat: dict[str, Any] = {}
    for key, value in row.items():
        name, value = f"{prefix}{key}", to_builtin(value)
        if isinstance(value, dict):
            spread = _flat(value, f"{name}_") if value else {name: None}  # an empty one: an empty cell
        else:
            spread = {name: value}
        if twice := sorted(set(spread) & set(flat)):
            raise ValueError(f"CSV column {twice[0]} twice: a nested field's name is another field's")
        flat.update(spread)
    return flat


def _csv_cell(value: Any) -> Any:
    if isinstance(value, list):
        return json.dumps(value)
    return "" if value is None else value


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write a whole file or nothing: into a temporary file beside it, then rename."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as err:
        raise OSError(err.errno, "a file is in the way of the folder", str(err.filename or path.parent)) from err
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder, not a file", str(path))
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:  # name the file asked for, not the temporary one
        raise OSError(err.errno, err.strerror, str(path)) from err
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
