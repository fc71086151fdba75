"""The one place that reads and writes quantities with units ("4.8 TB/s" <-> 4.8e12 B/s).

Inside parity every quantity is a float in SI base units (s, B, B/s, FLOP, FLOP/s, W, m^2).
Prefixes are decimal; binary prefixes are accepted only when spelled out (GiB). Spellings that
could be read two ways (TFLOPS: a count or a rate? GBps? gb?) are rejected with the fix named.
"""

from __future__ import annotations

import math
import re

from parity.errors import UnitError

__all__ = ["counted", "figure_text", "places_text", "parse", "read_number", "duration_s", "duration_text",
           "share_text", "format_si", "whole", "unit_slip", "reprefixed", "DIMENSIONS"]

_DECIMAL = {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}
_BINARY = {"Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40}

# unit symbol (after the prefix) -> (dimension, factor to SI)
_SYMBOLS: dict[str, tuple[str, float]] = {
    "FLOP/s": ("flop_per_s", 1.0),
    "OP/s": ("flop_per_s", 1.0),  # integer operations per second share the dimension
    "FLOP": ("flops", 1.0),
    "B": ("bytes", 1.0),
    "B/s": ("bytes_per_s", 1.0),
    "b/s": ("bytes_per_s", 1.0 / 8.0),  # bits per second
    "W": ("w", 1.0),
    "s": ("s", 1.0),
    "tokens/s": ("tokens_per_s", 1.0),
    "tokens/day": ("tokens_per_s", 1.0 / 86_400.0),
    "tokens/h": ("tokens_per_s", 1.0 / 3_600.0),
    "USD": ("usd", 1.0),
}
_DURATIONS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0,
              "day": 86_400.0, "days": 86_400.0}
_AREAS = {"mm2": 1e-6, "mm^2": 1e-6, "m2": 1.0, "m^2": 1.0}
_AMBIGUOUS = {
    "FLOPS": "write 'FLOP/s' for a rate or 'FLOP' for a count",
    "OPS": "write 'OP/s' for a rate",
    "Bps": "write 'B/s' (bytes) or 'b/s' (bits)",
    "bps": "write 'b/s' for bits per second",
    "Gbps": "write 'Gb/s' for bits per second",
    "GBps": "write 'GB/s' for bytes per second",
    "TBps": "write 'TB/s' for bytes per second",
}
DIMENSIONS = frozenset({d for d, _ in _SYMBOLS.values()} | {"m2", "count"})
# each dimension as a message names it ('unknown unit ... for a duration')
_NAMES = {"flop_per_s": "compute rate", "flops": "FLOP count", "bytes": "size", "bytes_per_s": "bandwidth",
          "w": "power", "s": "duration", "tokens_per_s": "token rate", "usd": "price", "m2": "area", "count": "count"}

_NUMBER = r"[-+]?(?:\d[\d,_]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_PATTERN = re.compile(rf"^\s*(?P<number>{_NUMBER})\s*(?P<unit>.*?)\s*$")


# a number's whole part, bare or grouped in threes by commas or by underscores (1,024 or 1_000_000)
_WHOLE_PART = re.compile(r"[0-9]+|[1-9][0-9]{0,2}(?:,[0-9]{3})+|[1-9][0-9]{0,2}(?:_[0-9]{3})+")


def _number(text: str, raw: str) -> float:
    """The number `text` (of `raw`, as typed), its whole part bare or grouped in threes; a separator elsewhere is
    refused: '6,4' or '1,2' is more likely a list or a slip than 64 or 12."""
    if not text.isascii():  # float() reads full-width and other scripts' digits; parity's numbers are ASCII
        raise UnitError(f"cannot read a number in {raw!r}: write its digits 0-9")
    unsigned = text.strip().removeprefix("-").removeprefix("+")
    whole_part = re.match(r"[0-9,_]*", unsigned)[0]  # type: ignore[index]
    if whole_part and not _WHOLE_PART.fullmatch(whole_part) or re.search(r"[,_]", unsigned[len(whole_part):]):
        raise UnitError(f"cannot read a number in {raw!r}: group its digits in threes (1,024) or not at all")
    try:
        return float(text.replace(",", "").replace("_", ""))
    except ValueError as err:
        raise UnitError(f"cannot read a number in {raw!r}") from err


def read_number(text: str) -> float:
    """A bare number as a person types it ('1,024', '2.5e3'), its whole part bare or grouped in threes; UnitError
    otherwise."""
    return _number(text, text)


def parse(text: str | float | int, dimension: str) -> float:
    """Read a quantity such as '989.4 TFLOP/s' or '400 Gb/s' into SI base units.

    dimension: one of DIMENSIONS; the unit must belong to it. A bare number is accepted only for
    'count'. Returns the value in base units [FLOP/s, B, B/s, W, s, m^2, ...].
    """
    if dimension not in DIMENSIONS:
        raise UnitError(f"unknown dimension {dimension!r}; expected one of {sorted(DIMENSIONS)}")
    if isinstance(text, bool):
        raise UnitError(f"expected a {_NAMES[dimension]}, got {text!r}")
    if isinstance(text, (int, float)):
        if dimension == "count":
            return float(text)
        raise UnitError(f"a {_NAMES[dimension]} needs a unit, got the bare number {text!r}")
    match = _PATTERN.match(text)
    if not match:
        raise UnitError(f"cannot read {text!r} as '<number> <unit>'")
    value = _number(match["number"], text)
    unit = re.sub(r"\s+", "", match["unit"])
    if dimension == "count":
        scale = {"": 1.0, "k": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}.get(unit)
        if scale is None:
            raise UnitError(f"cannot read {text!r} as a count (suffix k, M, B or T)")
        return value * scale
    if dimension == "s" and unit in _DURATIONS:
        return value * _DURATIONS[unit]
    if dimension == "m2":
        if unit in _AREAS:
            return value * _AREAS[unit]
        raise UnitError(f"cannot read {text!r} as an area (mm2 or m2)")
    for bad, fix in sorted(_AMBIGUOUS.items(), key=lambda item: -len(item[0])):
        if unit.endswith(bad):
            raise UnitError(f"ambiguous unit in {text!r}: {fix}")
    for symbol, (dim, factor) in _SYMBOLS.items():
        if not unit.endswith(symbol):
            continue
        prefix = unit[: -len(symbol)]
        if prefix in _DECIMAL:
            scale = _DECIMAL[prefix]
        elif prefix in _BINARY and dim == "bytes":
            scale = _BINARY[prefix]
        else:
            continue
        if dim != dimension:
            raise UnitError(f"{text!r} is a {_NAMES[dim]}, expected a {_NAMES[dimension]}")
        if symbol == "USD" and prefix:
            raise UnitError(f"write money as a plain number of USD, got {text!r}")
        return value * scale * factor
    if dimension == "usd" and text.strip().startswith("$"):
        return _number(text.strip()[1:], text)
    known = [symbol for symbol, (dim, _) in _SYMBOLS.items() if dim == dimension]
    units = (f"; write {', '.join(known[:-1])} or {known[-1]}, after a prefix such as k or M" if len(known) > 1 and
             dimension != "s" else "")
    raise UnitError(f"unknown unit {match['unit']!r} in {text!r} for a {_NAMES[dimension]}{units}")


def unit_slip(value: float, low: float, high: float) -> float:
    """The power of 1,000 a figure outside [low, high] is most likely off by, a unit prefix typed wrong (4 written
    for 4 TB/s in B/s: 1e12; '3.7 PB/s' for 3.7 TB/s: 1e-3): the one that brings it nearest the range's middle (the
    geometric mean of its ends); 1 for a figure within the range and for one of no size (0 or below), which no
    prefix mends. A refusal multiplies the figure by it for its hint."""
    if low <= value <= high or not value > 0:
        return 1.0
    return 1000.0 ** round(math.log(math.sqrt(low * high) / value, 1000))


def reprefixed(text: str, factor: float) -> str:
    """`text`, a figure as a file writes it ('1835 PFLOP/s', '3.7 B/s', '144 TiB'), with its prefix moved by
    `factor`, a power of 1,000 (1e-3: '1835 TFLOP/s'; 1e12: '3.7 TB/s'; 1e-3: '144 GiB'): a unit slip's hint in the
    figure's own digits; '' where no prefix gives it (a factor beyond E, not a figure with a unit)."""
    match = _PATTERN.match(text)
    unit = re.sub(r"\s+", "", match["unit"]) if match else ""
    steps = round(math.log(factor, 1000))
    for symbol, (dimension, _) in _SYMBOLS.items():
        prefix = unit.removesuffix(symbol)
        if not unit.endswith(symbol) or symbol == "USD":
            continue
        for ladder in (list(_DECIMAL), ["", *_BINARY] if dimension == "bytes" else []):
            if prefix in ladder and 0 <= ladder.index(prefix) + steps < len(ladder):
                return f"{match['number']} {ladder[ladder.index(prefix) + steps]}{symbol}"  # type: ignore[index]
    return ""


_BARE_NUMBER = re.compile(r"^\s*[-+]?(\d[\d_,]*\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")
_NOT_FINITE = re.compile(r"nan|inf", re.IGNORECASE)


def whole(count: float) -> int | float:
    """A count as an integer where it is whole (chips 4, not 4.0, in JSON, CSV and Parquet), else as it is (a
    disaggregated search's rate-matched chips, 13.5; NaN where a case does not fit)."""
    return int(count) if float(count).is_integer() else count


def duration_s(text: str) -> float:
    """Read a duration typed by a person ('50ms', '2 s', '1.5min') [s]. A bare number is refused, since
    '50' could be 50 s or 50 ms, and so are NaN and infinities, typed or a number too large to hold (1e400s); each
    refusal names the fix."""
    if _BARE_NUMBER.match(text):
        raise UnitError(f"durations need a unit: write {text.strip()}ms or {text.strip()}s, got {text!r}")
    if _NOT_FINITE.search(text):
        raise UnitError(f"a duration must be a finite number with a unit (e.g. 50ms), got {text!r}")
    try:
        seconds = parse(text, "s")
    except UnitError as err:
        raise UnitError(f"{err} (write e.g. 50ms, 2s or 1.5min)") from err
    if not math.isfinite(seconds):
        raise UnitError(f"{text.strip()!r} is not a finite duration: its number overflows to infinity")
    return seconds


def duration_text(seconds: float) -> str:
    """A latency as people read it: '0.001 ms', '45.2 ms', '5 s', '22.1 s', '16.7 min', '23 h' (three significant
    digits; minutes and hours from 1,000 s, where seconds would read '8.28e+04 s')."""
    if seconds < 1:
        return f"{seconds * 1e3:,.3g} ms"
    if seconds < 1e3:
        return f"{seconds:,.3g} s"
    return f"{seconds / 60:,.3g} min" if seconds < 6e3 else f"{seconds / 3600:,.3g} h"


def share_text(fraction: float) -> str:
    """A share of a whole as people read it, the same in a table cell and in a sentence: '0%', '<0.1%', '37.5%',
    '>99.9%' (short of all, though it rounds to 100), '250.0%'; from ten times the whole on a multiplier in three
    figures or whole: '23.1x', '23,103x', '1.33e+07x'."""
    if fraction == 0:
        return "0%"
    if fraction < 0.001:
        return "<0.1%"
    if fraction < 1 and f"{100.0 * fraction:.1f}" == "100.0":
        return ">99.9%"
    if fraction < 10:
        return f"{100.0 * fraction:.1f}%"
    return f"{fraction:,.0f}x" if 1e3 <= fraction < 1e6 else f"{fraction:.3g}x"


_REPORT_UNITS = {"flop_per_s": "FLOP/s", "bytes": "B", "bytes_per_s": "B/s", "w": "W", "flops": "FLOP",
                 "tokens_per_s": "tok/s"}


def format_si(value: float, dimension: str, digits: int = 3) -> str:
    """Write a base-unit value with a decimal prefix for people: 9.894e14 -> '989 TFLOP/s'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/p"
    if dimension == "s":
        for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
            if abs(value) >= scale or unit == "ns":
                return f"{value / scale:.{digits}g} {unit}"
    if dimension == "m2":
        return f"{value / 1e-6:.{digits}g} mm2"
    symbol = _REPORT_UNITS.get(dimension, "")
    for prefix in ("E", "P", "T", "G", "M", "k", ""):
        scale = _DECIMAL[prefix]
        if abs(value) >= scale or prefix == "":
            return f"{value / scale:.{digits}g} {prefix}{symbol}".rstrip()
    raise AssertionError("unreachable")


def figure_text(value: float) -> str:
    """A fitted figure in a note, to three significant figures and whole from 100 up: '0.575', '2.94', '776',
    '1,024' (a fit's six digits, 0.574727 or 775.831, claim a precision it does not have)."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def places_text(value: float, decimals: int) -> str:
    """`value` to `decimals` places ('28.4', '1,392.7'), or, where they leave fewer than two significant figures, to
    three ('0.0167', '0.0820', as a table's scaled column shows them), so that a small figure or an interval never
    reads as zero or as one number: 1e9 tokens on 8 H100s read '0.0 days' and a step of 0.082-0.144 s '(0.1-0.1)'
    (report-only tester, training-infrastructure lead 5)."""
    text = f"{value:,.{decimals}f}"
    if len(text.replace(",", "").replace(".", "").lstrip("-0")) >= 2:
        return text
    return f"{value:#.3g}".removesuffix(".")


def counted(number: float, noun: str) -> str:
    """A count with its noun, singular for one: '1 chip', '64 chips', '2.5 chips', '30.3 sequences' (a fraction
    to three significant figures, whole above 100)."""
    shown = f"{number:g}" if float(number).is_integer() else figure_text(number)
    return f"{shown} {noun}" + ("" if number == 1 else "s")

