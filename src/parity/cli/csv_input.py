"""CSV tables a command reads (a cases table, a trace, a lengths table): UTF-8 text read a line at a time, so that a
bad row or one past a limit is refused as the reader reaches it, each refusal one line naming the file's line."""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from parity.errors import ParityError
from parity.predict.columns import close_column, refuse_repeated_column
from parity.predict.measured import seconds_column

__all__ = ["read_table", "column_rows"]

# the longest header line a CSV table may have [bytes]: read before the rest, so that a file of one huge line is
# refused before it is read whole
HEADER_BYTES = 1 << 20
_BOM = b"\xef\xbb\xbf"


def _lines(path: Path, binary: BinaryIO) -> Iterator[str]:
    """The file's lines as read_text takes its text (UTF-8, no NUL), decoded as they are read: ParityError at the
    first byte that is not UTF-8 (named by its place in the file) or the first NUL. The text wrapper is closed as
    the lines end (closing `binary`): one left to the garbage collector with `binary` open warns 'unclosed file'."""
    with io.TextIOWrapper(binary, encoding="utf-8", newline="") as text:
        try:
            for line in text:
                if "\0" in line:
                    raise ParityError(f"{path.name}: holds NUL bytes, so it is not a CSV table")
                yield line
        except UnicodeDecodeError as err:  # err.object: the bytes the decoder held and the chunk it was given
            at = binary.tell() - len(err.object) + err.start
            raise ParityError(f"{path.name}: not UTF-8 text (byte {at:,} is 0x{err.object[err.start]:02x}); save it "
                              "as a CSV table in UTF-8") from err


def _lines_beyond(path: Path, most: int) -> bool:
    """Whether the file has more than `most` line breaks (counted in bytes, stopping there): one with no more holds
    no more than `most` rows below its header."""
    count = 0
    with path.open("rb") as binary:
        while chunk := binary.read(1 << 20):
            count += chunk.count(b"\n") + chunk.count(b"\r") - chunk.count(b"\r\n")
            if count > most:
                return True
    return False


# what a spreadsheet may separate columns with in place of a comma (a semicolon where the comma is the decimal mark)
OTHER_DELIMITERS = {";": "semicolons", "\t": "tabs", "|": "bars"}


def _refuse_other_delimiter(path: Path, header: list[str]) -> None:
    """Refuse a header read as one column that another delimiter splits ('model;system;isl'), saying what was read:
    the columns of a table parity reads are separated by commas."""
    if len(header) != 1:
        return
    for delimiter, name in OTHER_DELIMITERS.items():
        if delimiter in header[0]:
            shown = header[0] if len(header[0]) <= 60 else header[0][:57] + "..."
            raise ParityError(f"{path.name}: the header {shown!r} reads as one column: columns are separated by "
                              f"commas, not {name}")


# what trace files elsewhere call the columns a trace or lengths table takes (Mooncake's timestamp, input_length and
# output_length; the Azure LLM inference traces' ContextTokens and GeneratedTokens; OpenAI usage's prompt_tokens)
FOREIGN_COLUMNS = {"timestamp": "arrival_s", "arrival_time": "arrival_s", "arrival": "arrival_s",
                   "input_tokens": "isl", "input_length": "isl", "input_len": "isl", "prompt_tokens": "isl",
                   "contexttokens": "isl", "output_tokens": "osl", "output_length": "osl", "output_len": "osl",
                   "completion_tokens": "osl", "generatedtokens": "osl"}


def _near_misses(header: list[str], missing: list[str]) -> str:
    """'; found arrival_ms: name it arrival_s, in seconds (it holds milliseconds; divide its cells by 1,000)', or
    one rename per missing column a header name is close to ('' where none is)."""
    said = []
    for column in header:
        if (si := seconds_column(column)) and si[0] in missing:
            said.append(f"{column!r} is {si[0]!r} in {si[1]}: rename it and {si[2]} (times are read in seconds)")
            missing = [c for c in missing if c != si[0]]
        elif column not in missing and (close := close_column(column, missing, FOREIGN_COLUMNS)):
            unit = " (in seconds)" if close.endswith("_s") else ""
            said.append(f"{column!r} is probably {close!r}{unit}: rename it")
            missing = [c for c in missing if c != close]
    return ("; " + "; ".join(said)) if said else ""


@contextlib.contextmanager
def _open(path: Path, needed: tuple[str, ...], refusal: str) -> Iterator[tuple[list[str], Iterator[tuple[int,
                                                                                                         list[str]]]]]:
    """The header (each name stripped of surrounding spaces: 'arrival_s, isl' names isl) and an iterator of (line
    number, cells) over the rest, read as it is taken (a blank line is no row), the file closed as the block ends
    however it ends (the rows read or not); ParityError with `refusal` (by default naming the columns) where the
    header lacks a column of `needed`."""
    try:
        binary = path.open("rb")
    except OSError as err:
        raise ParityError(f"cannot read {path}: {err.strerror or err}") from err
    reader = csv.reader(_lines(path, binary), strict=True)  # a quote left open is an error, not rows swallowed
    try:
        head = binary.readline(HEADER_BYTES + 1)
        if len(head) > HEADER_BYTES:
            raise ParityError(f"{path.name}: the header line is longer than {HEADER_BYTES:,} bytes, so it is not a "
                              "CSV table's header" + (f" ({', '.join(needed)})" if needed else ""))
        if head in (b"", _BOM):
            raise ParityError(f"{path.name} is empty")
        binary.seek(len(_BOM) if head.startswith(_BOM) else 0)
        header = [name.strip() for name in next(reader, [])]
        _refuse_other_delimiter(path, header)
        if not header or not set(needed) <= set(header):
            raise ParityError(refusal or f"{path.name}: needs a header with {', '.join(needed)}"
                              + _near_misses(header, [c for c in needed if c not in header]))
    except (OSError, csv.Error, ParityError) as err:
        binary.close()
        if isinstance(err, OSError):
            raise ParityError(f"cannot read {path}: {err.strerror or err}") from err
        if isinstance(err, csv.Error):
            raise ParityError(f"{path.name}: malformed CSV at line {max(reader.line_num, 1):,}: {err}") from err
        raise

    def rows() -> Iterator[tuple[int, list[str]]]:
        try:
            for cells in reader:
                if cells:
                    yield reader.line_num, cells
        except csv.Error as err:
            raise ParityError(f"{path.name}: malformed CSV at line {max(reader.line_num, 1):,}: {err}") from err
    try:  # not `with binary`: a header that read the whole file (one unclosed quote) closed it already (fuzz: '"')
        yield header, rows()
    finally:
        binary.close()


def read_table(path: Path, needed: tuple[str, ...], refusal: str = "") -> tuple[list[str], list[dict[str, str]]]:
    """The header and the rows of a UTF-8 CSV file whose header names every column in `needed` (else ParityError
    with `refusal`, by default naming the columns), each row as csv.DictReader gives it (a missing cell None, cells
    beyond the header's in a list under None)."""
    with _open(path, needed, refusal) as (header, rows):
        n = len(header)
        return header, [dict(zip(header, cells + [None] * (n - len(cells))))
                        | ({None: cells[n:]} if len(cells) > n else {}) for _, cells in rows]


def column_rows(path: Path, columns: tuple[str, ...], max_rows: int | None = None,
                too_many: str = "") -> Iterator[tuple[int, list[str | None]]]:
    """(line number, the cells of `columns` in that order, None where the row stops short) of a CSV table of exactly
    `columns` (a trace, a lengths table), read as they are taken: a column beyond them is refused, as predict refuses
    one it does not read, since each of its cells would be dropped without a word, and so is one named twice
    (refuse_repeated_column) and a row with a value beyond the header's (an empty one, a trailing comma, is none);
    more than `max_rows` rows are refused with `too_many` as the reader reaches the next one, before reading on."""
    with _open(path, columns, "") as (header, rows):
        refuse_repeated_column(path.name, header)
        for column in header:
            if column not in columns and column:
                close = close_column(column, columns)
                hint = f" (did you mean {close!r}?)" if close else ""
                raise ParityError(f"{path.name}: unknown column {column!r}{hint}"
                                  f"; it takes {', '.join(columns)} only (a column beyond them would be dropped "
                                  "without a word)")
        if max_rows is not None and _lines_beyond(path, max_rows):  # then its rows are counted before any is taken
            with _open(path, columns, "") as (_, counted):
                over = sum(1 for _ in itertools.islice(counted, max_rows + 1)) > max_rows
            if over:
                raise ParityError(too_many)
        at = [header.index(c) for c in columns]
        unnamed = [i for i, name in enumerate(header) if not name]  # a trailing comma in the header: empty cells only
        in_order, width = at == list(range(len(header))), len(header)  # then a full row's cells are the columns'
        for count, (line, cells) in enumerate(rows, start=1):
            if max_rows is not None and count > max_rows:
                raise ParityError(too_many)
            if in_order and len(cells) == width:
                yield line, cells
                continue
            if len(cells) > width or unnamed:
                beyond = [cells[i] for i in unnamed if i < len(cells)] + cells[len(header):]
                if any(cell.strip() for cell in beyond):
                    values = len(header) - len(unnamed) + len(beyond)
                    raise ParityError(f"{path.name} line {line:,}: {values} values where the header names "
                                      f"{len(columns)} ({', '.join(columns)}); a value beyond them would be dropped "
                                      "without a word")
            yield line, [cells[i] if i < len(cells) else None for i in at]
