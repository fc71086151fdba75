"""Rows as a plain-text table at the terminal's width (render_text): which columns show, their widths, free text
wrapped or folded between words and a name's parts, never a name or number cut; captions and titles filled."""

from __future__ import annotations

import io
import re
import shutil
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from parity.report.cells import Column

__all__ = ["render_text", "terminal_width", "fields_text", "fill_text", "FREE_TEXT", "FIELD_HYPHEN"]

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
