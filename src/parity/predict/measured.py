"""A cases table's own measurements (measured_ttft_s, measured_tpot_s, ...): read, checked, and set against the
predictions, so that `parity predict` scores parity on the user's runs as `parity validate` does on its own."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

import numpy as np

from parity.errors import ParityError
from parity.units import counted

__all__ = ["SCORED", "measured_values", "refuse_other_time_units", "seconds_column", "scored", "score_line"]

# the predictions a measured_<name> column is set against, with what its cells hold (SI units): the means and, from
# the simulator (--model-kind sim), each latency's p50, p90 and p99 (simulate.LATENCY_KEYS: ttft_p99_s, itl_s, ...)
SCORED = {"ttft_s": "a time in seconds", "tpot_s": "a time in seconds",
          "output_tokens_per_s_per_chip": "tokens/s", "output_tokens_per_s_per_user": "tokens/s"} | {
    f"{metric}_{stat}s": "a time in seconds" for metric in ("ttft", "tpot", "itl", "e2e")
    for stat in ("", "p50_", "p90_", "p99_") if f"{metric}_{stat}s" not in ("ttft_s", "tpot_s")}

# a time in another unit than the second: a measured_ttft_ms column would be kept unread, scoring nothing
_NOT_SECONDS = {"ms": ("milliseconds", "divide its cells by 1,000"),
                "us": ("microseconds", "divide its cells by 1,000,000"),
                "ns": ("nanoseconds", "divide its cells by 1,000,000,000"),
                "min": ("minutes", "multiply its cells by 60")}
# (a rate, measured_tokens_per_ms, is not a time)
_TIME_IN_OTHER_UNIT = re.compile(r"(\w+?)(?<!_per)_(ms|us|ns|min)")
# a latency at a percentile the simulator does not report (simulate.LATENCY_KEYS: p50, p90, p99), e.g. p95
_OTHER_PERCENTILE = re.compile(r"(ttft|tpot|itl|e2e)_p(\d+(?:\.\d+)?)_s")


def seconds_column(column: str) -> tuple[str, str, str] | None:
    """A column of times in another unit than seconds ('arrival_ms'): its name in seconds ('arrival_s'), the unit
    it holds ('milliseconds') and how to convert its cells ('divide its cells by 1,000'); None for any other."""
    if not (found := _TIME_IN_OTHER_UNIT.fullmatch(column.strip())):
        return None
    return (f"{found[1]}_s", *_NOT_SECONDS[found[2]])


def refuse_other_time_units(table: str, header: Sequence[str]) -> None:
    """Refuse a measured time column in a unit other than seconds (measured_ttft_ms), naming the SI column predict
    reads: any other measured_* column is kept unread, so this one would score nothing without a word; so would
    a scored column in capitals (measured_TTFT_s) and a latency at a percentile the simulator does not report
    (measured_tpot_p95_s), refused alike."""
    for column in header:  # (a DictReader's row names cells beyond the header None)
        if not isinstance(column, str) or not column.lower().startswith("measured_"):
            continue
        if column.startswith("measured_") and (si := seconds_column(column)):
            name, unit, fix = si
            read = "which predict scores against its prediction" if name.removeprefix("measured_") in SCORED \
                else "in seconds"
            raise ParityError(f"{table}: column {column!r} holds {unit}; measurements are read in SI units: name it "
                              f"{name!r} ({read}) and {fix}")
        name = column.strip()[len("measured_"):]
        if name not in SCORED and name.lower() in SCORED:  # measured_TTFT_s: kept unread, it scored nothing
            raise ParityError(f"{table}: column {column!r}: name it 'measured_{name.lower()}' (column names are "
                              "lowercase), which predict scores against its prediction")
        if name not in SCORED and (other := _OTHER_PERCENTILE.fullmatch(name.lower())):
            raise ParityError(f"{table}: column {column!r}: the simulator reports p50, p90 and p99, not "
                              f"p{other[2]}, so it cannot be scored; name a measured percentile among those "
                              f"(measured_{other[1]}_p90_s, measured_{other[1]}_p99_s) or drop the column")


def measured_values(table: str, header: Sequence[str], rows: Sequence[Mapping[str, str]]
                    ) -> list[dict[str, float]]:
    """Each row's measured_<name> cells of SCORED (an empty cell: not measured); a cell that is not a number > 0 is
    refused, naming the table, the row and the column: a measurement is scored against, so nonsense is not kept; as
    is a measured time in another unit than seconds (refuse_other_time_units)."""
    refuse_other_time_units(table, header)
    columns = [name for name in SCORED if f"measured_{name}" in header]
    found = []
    for number, row in enumerate(rows, start=1):
        values = {}
        for name in columns:
            text = (row.get(f"measured_{name}") or "").strip()
            if not text:
                continue
            try:
                value = float(text)
            except ValueError:
                value = math.nan
            if not (math.isfinite(value) and value > 0):
                raise ParityError(f"{table}: row {number}: measured_{name} must be {SCORED[name]} above 0 (SI units), "
                                  f"got {text!r}; leave the cell empty where nothing was measured")
            values[name] = value
        found.append(values)
    return found


def scored(predicted: Mapping[str, object], measured: Mapping[str, float]) -> dict[str, float]:
    """measured_<name> and <name>_error (predicted / measured - 1, NaN where either is missing) of each name of
    SCORED the row measures."""
    out = {}
    for name, value in measured.items():
        guess = float(predicted.get(name, math.nan)) if predicted.get("feasible") else math.nan
        out[f"measured_{name}"] = value
        out[f"{name}_error"] = guess / value - 1.0
    return out


def score_line(rows: Sequence[Mapping[str, object]]) -> str:
    """One line of the median and p90 |error| per measured quantity over the rows scored ('' where none is)."""
    parts = []
    for name in SCORED:
        errors = np.abs([float(r[f"{name}_error"]) for r in rows if f"{name}_error" in r])
        errors = errors[np.isfinite(errors)]
        if errors.size:
            parts.append(f"{name} median |err| {np.median(errors):.1%}, p90 {np.percentile(errors, 90):.1%} "
                         f"({counted(errors.size, 'case')})")
    return ("Against the measured columns (predicted / measured - 1): " + "; ".join(parts) + ".") if parts else ""
