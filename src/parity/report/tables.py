"""One way to show rows: a rich table for people, JSON or CSV (raw SI values) for machines.

A Column names a row key, a header with the report unit, and how to write the value for people.
Files are written whole or not at all (a temporary file renamed into place).
"""

from __future__ import annotations

import csv
import errno
import io
import json
import math
import os
import re
import shutil
import tempfile
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

__all__ = ["Column", "fields_text", "render_text", "to_markdown", "to_json", "to_csv", "write_atomic", "FORMATS",
           "plain", "scaled", "count", "money", "ratio", "ratio_number", "percent", "to_builtin", "with_interval",
           "over_interval", "terminal_width", "DIGITS_SHOWN_WHOLE"]

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


@dataclass(frozen=True, slots=True)
class Column:
    """A table column: row key, header (with the report unit) and a formatter for people. `wide`: shown
    where the terminal has room for it, always with --wide; JSON and CSV always carry every field."""

    key: str
    header: str
    show: Callable[[Any], str] = str
    justify: str = "right"
    wide: bool | int = False  # or a rank: wide columns are added where they fit, lowest rank first
    wrap: bool = False  # free text that may wrap at spaces (so are the FREE_TEXT keys)
    fold: str = ""  # a name that may fold before this text where free text beside it needs the room (_folded)


def reached(show: Callable[[Any], str]) -> Callable[[Any], str]:
    """A throughput, latency or size cell of a configuration that may not exist: '-' where there is none (None, 0,
    NaN or infinite: its note says why), never a 0 or inf that reads as a figure."""
    def cell(value: Any) -> str:
        if value is None or (not isinstance(value, str) and (value == 0 or not math.isfinite(float(value)))):
            return "-"
        return show(value)
    return cell


def plain(value: Any) -> str:
    """A cell as text; a list (a row's flags) its items joined by '; '."""
    if isinstance(value, (list, tuple)):
        return "; ".join(str(v) for v in value)
    return "" if value is None else str(value)


# a figure is written whole (31,752) up to this many integer digits, and with its significant figures and an
# exponent beyond (1.53e+12): thirteen digits of a chip count or a price claim a precision no model has, and widen
# a table past any terminal
DIGITS_SHOWN_WHOLE = 9


def scaled(factor: float, digits: int = 3, zeros: bool = False) -> Callable[[Any], str]:
    """Formatter that divides by `factor` (e.g. 1e12 for a TFLOP/s column) and keeps `digits` figures (whole
    numbers up to DIGITS_SHOWN_WHOLE digits); `zeros`: trailing zeros kept above 1 too (2.00, not 2), for a column
    whose figures sit near a round number (the tokens a fleet serves against its demand)."""
    def show(value: Any) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "-"
        if isinstance(value, str):
            return value
        x = float(value) / factor
        x = float(f"{x:.{digits}g}") if abs(x) < 10 ** digits else x  # 999.7 rounds to 1,000: shown whole, not 1.00e+03
        if abs(x) >= 10 ** DIGITS_SHOWN_WHOLE:
            return f"{x:.{digits}g}"
        if abs(x) >= min(10 ** digits, 1000):  # whole, grouped in threes (1,313 beside 11,858: it printed 1313)
            return f"{x:,.{max(0, digits - len(str(int(abs(x)))))}f}"
        # below 1 the trailing zeros are kept, so a column reads 0.0654 beside 0.0100 (not 0.01): one rule, three
        # significant figures, for every fraction
        kept = f"{x:#.{digits}g}" if 0 < abs(x) < 1 or zeros else f"{x:.{digits}g}"
        return kept.removesuffix(".")  # '#' keeps the point of a whole figure ('330.'): it says nothing more
    return show


# the word-prefixes of large counts and sums, largest first (short scale: B is 1e9); past a thousand of the
# largest a figure takes an exponent
_LARGE = ((1e12, "T"), (1e9, "B"), (1e6, "M"))


def count(value: Any) -> str:
    """A large count for people in three figures: 31,752 whole below a million, then 1.72 M, 687 M, 1.53 B,
    4.2 T, and 1.5e+15 past a thousand trillion; '-' where there is none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    x = float(f"{float(value):.3g}")  # rounded first, so 999.6 M reads 1 B, not 1e+03 M
    if abs(x) < 1e6:
        return f"{float(value):,.0f}"
    if abs(x) >= 1e15:
        return f"{x:.3g}"
    unit, name = next((u, n) for u, n in _LARGE if abs(x) >= u)
    return f"{x / unit:.3g} {name}"


def money(value: Any) -> str:
    """US dollars for people [USD]: $12,000, $404.6 M, $1.38 B, $4.57 T, and $2.07e+16 past a thousand trillion;
    '-' where there is no price."""
    if value is None:
        return "-"
    usd = float(value)
    if abs(usd) >= 1e15:
        return f"${usd:.3g}"
    for (unit, name), decimals in zip(_LARGE, (2, 2, 1)):
        if abs(usd) >= unit:
            return f"${usd / unit:,.{decimals}f} {name}"
    return f"${usd:,.0f}"


def with_interval(value: float, low: float, high: float, factor: float = 1.0, digits: int = 3) -> str:
    """A value with its interval for people: '12.3 (10.9-14.1)' (after dividing by `factor`)."""
    show = scaled(factor, digits)
    if low is None or high is None or math.isnan(float(low)) or math.isnan(float(high)):
        return show(value)
    return f"{show(value)} ({show(low)}-{show(high)})"


def ratio_number(value: float) -> str:
    """A ratio's number for people: two decimals ('12.28'), and from 1,000 on whole with separators ('3,411': an
    8,192-chip pod's ratio per system to an 8-chip node, whose decimals say nothing and widen the column); below 0.01
    two significant digits ('0.00029', not '0.00': an 8-chip node per system to such a pod)."""
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.2g}" if 0 < abs(value) < 0.01 else f"{value:.2f}"


def over_interval(shown: str, low: Any, high: Any, show: Callable[[Any], str] = ratio_number) -> str:
    """A figure as people read it (`shown`) with its 80% interval on the line below ('0.64x' over '0.49-0.74', each
    end written by `show`), so the interval is read wherever the figure is, at any terminal width; the figure alone
    where it has none (None or NaN)."""
    if low is None or high is None or math.isnan(float(low)) or math.isnan(float(high)):
        return shown
    return f"{shown}\n{show(low)}-{show(high)}"


def ratio(value: Any) -> str:
    if value is None or (isinstance(value, float) and (math.isnan(value) or math.isinf(value))):
        return "-"
    return f"{ratio_number(float(value))}x"


def percent(value: Any) -> str:
    """A fraction as percent (12.3%); '-' where there is none (None, or NaN: a score of no rows)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{100.0 * float(value):.1f}%"


def words(value: Any) -> str:
    """A list of names as a table cell, space-separated (a model's features: 'moe sliding_window')."""
    return " ".join(str(v) for v in value) if isinstance(value, (list, tuple)) else plain(value)


def signed_percent(value: Any) -> str:
    """A signed error or bias (+1.7%, -4.2%), as docs/accuracy.md prints it; '-' where there is none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{100.0 * float(value):+.1f}%"


def terminal_width() -> int:
    """The width tables are laid out for: the terminal's (or $COLUMNS), 120 when output is piped."""
    return shutil.get_terminal_size(fallback=(120, 40)).columns


# free text: wraps at spaces (every other cell keeps its width, so no name or number is ever cut)
FREE_TEXT = frozenset({"note", "notes", "flags", "detail", "source", "as_quoted", "assumptions", "features"})


def _wraps(column: Column) -> bool:
    return column.wrap or column.key in FREE_TEXT


# free text is never narrower than its longest word up to this many characters; a longer word (a path, a URL)
# folds across lines rather than widen the table past the terminal
LONGEST_UNBROKEN_WORD = 24


def _min_width(column: Column, values: Sequence[str]) -> int:
    """The narrowest a column may be: its longest word up to LONGEST_UNBROKEN_WORD (free text) or its longest
    cell line and header."""
    if _wraps(column):
        return max([min(len(w), LONGEST_UNBROKEN_WORD) for v in [*values] for w in v.split()]
                   + [len(column.header)], default=1)
    return max(len(line) for v in [column.header, *values] for line in v.split("\n"))


# where a word too long for its column breaks (_filled): after a hyphen ('nvidia-' over 'a100-sxm') or a path's
# separator ('/home/me/.parity/chips/' over 'h20e.toml', which a cut at the width split as 'h20e.tom' over 'l': fuzzER
# 3); how narrow a column may fold counts hyphens alone (_folded_width), so 'tok/s/chip' never folds at its slashes
_BREAKS = r"(?<=[-/])(?=.)"


def _folded_width(column: Column, values: Sequence[str]) -> int:
    """The narrowest free text may fold to where the columns that must show are wider than the terminal: its longest
    part a line may not break inside (a word, or a hyphenated word's part after a hyphen: 'nvidia-' over 'a100-sxm'),
    up to LONGEST_UNBROKEN_WORD, and its header. Never inside a word: 'uncalibrat' over 'ed' read as two words."""
    return max([min(len(part), LONGEST_UNBROKEN_WORD) for v in values for w in v.split()
                for part in re.split(r"(?<=-)(?=.)", w)] + [len(column.header)], default=1)


# a hyphen inside a field of a name of '-'-joined fields ('os-bf16' in a training layout): a line never breaks at it,
# and it prints as '-'
FIELD_HYPHEN = "\u2011"


def fields_text(fields: Sequence[str]) -> str:
    """A name of '-'-joined fields (a training layout's) as a free-text cell: where it wraps, it breaks between two
    fields, never at a hyphen inside one ('act-fp8-os-' over 'bf16' split the field 'os-bf16')."""
    return "-".join(field.replace("-", FIELD_HYPHEN) for field in fields)


def _hyphenated(text: str, width: int) -> str:
    """A free-text cell as it is where its words fit `width`; else its lines wrapped at `width`, after a hyphen where
    a word has one (or after a path's separator), so a long name (a layout, a case id, a path) breaks between its
    parts, not inside one."""
    if all(len(word) <= width for word in text.split()):
        return text
    return "\n".join(_filled(line, width) for line in text.split("\n"))


def _filled(line: str, width: int) -> str:
    """One line of free text in lines of at most `width`, filled greedily: words apart at spaces, a word longer than
    the width after any of its hyphens ('tp1-pp16-dp128-' over 'zero1-dualpipe', which textwrap's rule, a hyphen after
    two letters, would cut inside 'zero1'), and only a part with no hyphen left that is still longer inside itself."""
    lines: list[str] = []
    current = ""
    for word in line.split():
        parts = re.split(_BREAKS, word) if len(word) > width else [word]
        for i, part in enumerate(parts):
            joined = current + part if i else f"{current} {part}" if current else part
            if len(joined) <= width:
                current = joined
                continue
            lines += [current] if current else []
            while len(part) > width:
                lines.append(part[:width])
                part = part[width:]
            current = part
    return "\n".join(lines + [current])


def _table(columns: Sequence[Column], cells: Sequence[Sequence[str]], title: str,
           widths: Sequence[int] | None = None) -> Table:
    """A rich table whose cells are never cut short: names and numbers keep their width, free text wraps
    at spaces; a cell folds onto a second line only if the terminal is narrower than the shown columns.
    `widths`: each column's width, laid out beforehand (_widths); else rich lays them out."""
    table = Table(title=escape(title) or None, header_style="bold", box=box.SIMPLE_HEAD, show_edge=False,
                  pad_edge=False, collapse_padding=True)
    for i, column in enumerate(columns):
        table.add_column(escape(column.header), justify=column.justify,  # type: ignore[arg-type]
                         overflow="fold", no_wrap=not _wraps(column),
                         min_width=widths[i] if widths else _min_width(column, [line[i] for line in cells]),
                         width=widths[i] if widths else None)
    for line in cells:
        table.add_row(*(escape(v) for v in line))
    return table


# what each column beyond the first adds to a table's minimum width: one space of padding on either side of the
# column break (_table: box.SIMPLE_HEAD with no edges, pad_edge=False, collapse_padding=True); a test holds
# `_minimum_width` to rich's own measurement of the whole table
COLUMN_GAP = 2


def _widths(columns: Sequence[Column], cells: Sequence[Sequence[str]], width: int) -> list[int]:
    """Each column's width in a table `width` wide (wider where its narrowest columns need more): a name or
    number column its longest line, a free-text column its longest word, and the room left shared among the
    free-text columns by how much longer their text runs, none past its longest line. Laid out here, not by
    rich, whose own layout of columns with minimum widths can exceed the console and crop cells."""
    longest = [max(len(line) for v in [c.header, *(row[i] for row in cells)] for line in v.split("\n"))
               for i, c in enumerate(columns)]
    least = [_min_width(c, [row[i] for row in cells]) for i, c in enumerate(columns)]
    out = list(least)
    room = width - _minimum_width(least)
    # the columns that must show are wider than the terminal: free text folds below its longest word (_hyphenated
    # breaks a word after a hyphen), widest first, down to its longest part with no hyphen (_folded_width)
    for i in sorted((i for i, c in enumerate(columns) if _wraps(c)), key=lambda i: -out[i]):
        if room >= 0:
            break
        give = min(-room, max(out[i] - _folded_width(columns[i], [row[i] for row in cells]), 0))
        out[i] -= give
        room += give
    while room > 0:
        grow = [i for i, c in enumerate(columns) if _wraps(c) and out[i] < longest[i]]
        if not grow:
            break
        need = sum(longest[i] - out[i] for i in grow)
        for i in grow:
            step = min(longest[i] - out[i], max(1, room * (longest[i] - out[i]) // need))
            out[i] += step
            room -= step
            if room <= 0:
                break
    return out


def _minimum_width(singles: Sequence[int]) -> int:
    """The narrowest table of columns whose one-column tables are `singles` wide at their narrowest."""
    return sum(singles) + COLUMN_GAP * max(len(singles) - 1, 0)


def _readable(column: Column, values: Sequence[str]) -> int:
    """The width a column needs to read well: its narrowest (_min_width), and free text room for a line of up to 24
    characters."""
    least = _min_width(column, values)
    return max(least, min(max((len(v) for v in values), default=0), 24)) if _wraps(column) else least


def _readable_width(columns: Sequence[Column], cells: Sequence[Sequence[str]]) -> int:
    """The width of a table whose columns each have their readable width (_readable)."""
    return _minimum_width([_readable(c, [row[i] for row in cells]) for i, c in enumerate(columns)])


def _fit(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column], width: int,
         wide: bool) -> tuple[list[Column], list[list[str]]]:
    """The columns shown at `width`: every column not marked wide, then each wide one, in order, that
    still fits at its readable width (all of them with `wide`); with their cells. Each column is measured once,
    alone."""
    cells = {id(c): [c.show(row.get(c.key)) for row in rows] for c in columns}
    # free text keeps room for a readable line (up to 24 characters) before a wide column is added
    single = {id(c): _readable(c, cells[id(c)]) for c in columns}
    shown = [c for c in columns if not c.wide]
    for c in sorted((c for c in columns if c.wide), key=lambda c: (int(c.wide), columns.index(c))):
        trial = sorted(shown + [c], key=columns.index)
        if wide or _minimum_width([single[id(t)] for t in trial]) <= width:
            shown = trial
    return shown, [[cells[id(c)][i] for c in shown] for i in range(len(rows))]


def _folded(columns: Sequence[Column], cells: list[list[str]], width: int) -> list[list[str]]:
    """The cells with each of a `fold` column's too long to leave the free text beside it its longest word at
    `width` folded before its first `fold` text, indented as the cell is ('MFU of the BF16 peak' over '(6N + 12LHQT:
    PaLM, Megatron)' beside a 28-character training layout at 80 columns); as they are where folding cannot make that
    room (the free text then breaks after a hyphen, _hyphenated)."""
    for i, column in enumerate(columns):
        if not column.fold:
            continue
        beside = [max(len(w) for v in [c.header, *(row[j] for row in cells)] for w in v.split()) if _wraps(c)
                  else _min_width(c, [row[j] for row in cells]) for j, c in enumerate(columns) if j != i]
        room = width - _minimum_width([*beside, 0])
        folded = [[_fold(v, column.fold, room) if j == i else v for j, v in enumerate(row)] for row in cells]
        if all(len(line) <= room for row in folded for line in row[i].split("\n")):
            cells = folded
    return cells


def _fold(text: str, before: str, width: int) -> str:
    """`text` as it is where it fits `width` or has no `before`; else on two lines, the second starting at its first
    `before` (stripped), indented as the text is."""
    if len(text) <= width or before not in text:
        return text
    return text.replace(before, "\n" + " " * (len(text) - len(text.lstrip())) + before.lstrip(), 1)


def _sentence_end(text: str) -> str:
    """The text ending as a sentence does (a full stop added unless it ends in . ! ? or a closing bracket's
    full stop), so a note appended to it starts a sentence of its own."""
    text = text.rstrip()
    return text if text.endswith((".", "!", "?", ".)")) else text + "."


class _PathBreaking(textwrap.TextWrapper):
    """textwrap's filling, with a word longer than a line (a source's path, a URL) broken after its '/', '_', '-',
    '.', '?', '&', '=' or '#' so that each line fits, and a part with none of them that is still longer cut at the
    width (textwrap's break_long_words); shorter words break only at spaces, as break_on_hyphens=False keeps them."""

    def _split(self, text: str) -> list[str]:
        room = self.width - max(len(self.initial_indent), len(self.subsequent_indent))
        # a chunk is a word or a run of spaces; a line is its chunks joined as they are, so a word's parts stay joined
        return [part for chunk in super()._split(text)
                for part in (re.split(r"(?<=[/_\-.?&=#])(?=.)", chunk) if len(chunk) > room else [chunk])]


def fill_text(text: str, width: int, initial_indent: str = "", subsequent_indent: str = "") -> str:
    """Free text (a caption, an item listed under a table) in lines of at most `width`: broken between words, and a
    word longer than a line between its parts (_PathBreaking), never left to run past the terminal."""
    return _PathBreaking(width, initial_indent=initial_indent, subsequent_indent=subsequent_indent,
                         break_long_words=True, break_on_hyphens=False).fill(text)


def _title_lines(title: str, width: int) -> str:
    """The title in lines of at most `width`, broken between words but never between a number and its unit
    ('TTFT p99 2 s', not 'TTFT p99 2' over 's'; a percentile's 'p99 2 s' kept whole), which rich's own wrapping of
    a title splits."""
    if len(title) <= width:
        return title
    kept = re.sub(r"(?<=\d) (?=\S)", "\u00a0", title)  # textwrap breaks at ASCII whitespace only
    return fill_text(kept, width).replace("\u00a0", " ")


def _listed_header(header: str) -> str:
    """A column's header as a list of headers names it: on one line, and quoted where it holds the list's ', '
    (fleet's 'T tokens/day served, 80%' read as two columns, 'T tokens/day served' and '80%')."""
    text = " ".join(header.split())
    return f"'{text}'" if ", " in text else text


def render_text(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column], title: str = "", caption: str = "",
                wide: bool = False, to_file: bool = False, listed: Sequence[str] = ()) -> str:
    """Rows as a plain-text table for people, at the terminal's width (a file: every column, at the
    table's own width), the caption wrapped below it. Columns marked wide show only where they fit, or
    with `wide`; the caption names those left out. `listed`: items printed under the table, before the caption,
    one '- ' line each, wrapped at the terminal's width (up to 100) whatever the table's, left-aligned: sentences a
    narrow table column would fold to a word a line (a model's flags). Where the names and numbers leave free text
    too little room for its words (_folded_width), it is listed so, one item a row, named by the row's first cell."""
    terminal = terminal_width()
    shown, cells = _fit(rows, columns, terminal, wide or to_file)
    cells = cells if to_file else _folded(shown, cells, terminal)
    left_out = [_listed_header(c.header) for c in columns if c not in shown]
    if left_out:
        caption = (_sentence_end(caption) + " " if caption else "") + (
            f"Not shown at {terminal} columns: {', '.join(left_out)} (--wide, or --format csv/json).")
    # a file gets the table at its full width; a terminal narrower than the columns that must show gets their free
    # text folded below its longest words, never inside one (_widths); past that the free text goes under the table,
    # that of most characters first, until the table fits; and past that lines as long as the names and numbers need
    # (wrapped by the terminal) rather than a cell cut off
    widths = _widths(shown, cells, 1_000_000 if to_file else terminal)
    if wide and _minimum_width(widths) > terminal:
        # --wide: every column in the table, which grows past the terminal rather than list its free text under it;
        # free text keeps a readable line (up to 24 characters, as _fit counts a wide column's room)
        widths = _widths(shown, cells, _readable_width(shown, cells))
    moved: list[Column] = []
    for column in sorted((c for c in shown[1:] if _wraps(c)),
                         key=lambda c: -max((len(row[shown.index(c)]) for row in cells), default=0)):
        # a table of names and one text (train's quantity and value) keeps it: moved, the table is its names alone
        if to_file or wide or _wraps(shown[0]) or _minimum_width(widths) <= terminal or len(shown) - len(moved) <= 2:
            break
        moved.append(column)
        widths = _widths([c for c in shown if c not in moved], [[v for c, v in zip(shown, row) if c not in moved]
                                                                 for row in cells], terminal)
    # a row is named by its first cell, with its second where first cells repeat (a chip and its what-if variants)
    names = [row[0].split("\n")[0] for row in cells]
    if len(set(names)) < len(names) and len(shown) > 1 and shown[1] not in moved:
        names = [f"{name} {row[1].split(chr(10))[0]}".rstrip() for name, row in zip(names, cells)]
    under = [f"{name}{f' ({c.header})' if len(moved) > 1 else ''}: "
             + " ".join(row[shown.index(c)].split()).replace(FIELD_HYPHEN, "-")
             for name, row in zip(names, cells) for c in sorted(moved, key=shown.index) if row[shown.index(c)].strip()]
    listed = [*under, *listed]
    cells = [[v for c, v in zip(shown, row) if c not in moved] for row in cells]
    shown = [c for c in shown if c not in moved]
    cells = [[(_hyphenated(v, widths[i]) if _wraps(c) else v).replace(FIELD_HYPHEN, "-")
              for i, (c, v) in enumerate(zip(shown, row))] for row in cells]
    width = _minimum_width(widths)
    # the caption: at the terminal's width (up to 100), as the items listed under the table, whatever the table's (a
    # narrow table, calibrate's three columns, folded its caption to a 47-column strip); a title wider than the table
    # goes above it on one line where the terminal has room, not broken inside the table mid-sentence
    text_width = max(min(terminal, 100), 20)
    above = title if min(width, terminal) < len(title) <= terminal else ""
    table = _table(shown, cells, "" if above else _title_lines(title, min(width, terminal)), widths)
    printed = io.StringIO()
    Console(file=printed, width=width, color_system=None, force_terminal=False, legacy_windows=False,
            soft_wrap=False).print(table)
    buffer = io.StringIO()  # each line without the spaces rich pads it to the table's width with (noise to diff, grep)
    if above:
        buffer.write(above + "\n")
    buffer.write("".join(line.rstrip() + "\n" for line in printed.getvalue().splitlines()))
    # items and caption break between words, and a word longer than a line (a path, a URL) between its parts
    buffer.write("".join(fill_text(item, text_width, initial_indent="- ", subsequent_indent="  ") + "\n"
                         for item in listed))
    if caption:
        buffer.write(fill_text(caption, text_width) + "\n")
    return buffer.getvalue()


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
