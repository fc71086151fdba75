"""How a value reads in a table cell for people: the Column record (key, header, formatter) and the formatters
(scaled figures, counts, money, ratios, percents, intervals)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Column", "reached", "plain", "scaled", "count", "money", "with_interval", "ratio_number", "over_interval",
           "ratio", "percent", "words", "signed_percent", "DIGITS_SHOWN_WHOLE"]

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
