"""Chip calibration from microbenchmarks: measured points in, a dated Calibration out.

Points (GEMMs over LLM shapes and token counts, grouped expert GEMMs, flash-attention prefill and
decode, memory copies) come from `parity calibrate` on the user's GPU (see `sweep`) or from a file
in the format of parity's H200 reference microbenchmarks. The fit prices every point with the
same roofline the engine uses (`cost.price_kernel`) and moves the calibration's efficiencies to
minimise the mean absolute log error of the predicted kernel times.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from parity import tomlwrite
from parity.cost import price_kernel
from parity.errors import ParityError
from parity.hardware import KERNEL_OVERHEAD_MAX_S, Calibration, Chip
from parity.ops import Kernel
from parity.optimize import nelder_mead

__all__ = ["Point", "Seen", "points_from_benchmark", "stack_points", "point_times", "fit_calibration", "fitted_fields",
           "fit_start", "calibration_toml", "field_value", "at_bounds", "replayed", "held_at", "BOUND_SLACK",
           "check_plausible", "check_fit", "kind_error", "FITTED", "BOUND_LOSS_SLACK",
           "field_counts", "SHORTEST_KERNEL_S", "PEAK_TOLERANCE",
           "SLOW_TOLERANCE", "MAX_FIT_ERROR", "MIN_POINTS_PER_KIND", "SECTIONS"]

SHORTEST_KERNEL_S = 1e-9  # one clock cycle of a 1 GHz chip: no kernel finishes sooner, so a shorter time is a slip

# What imported measurements must satisfy before a calibration is written from them (`calibrate --import`):
# a kernel may beat the datasheet peaks (FLOP/s of its format; memory bandwidth for the bytes it moves) by this share
# at most: boost clocks over the rated one and timer jitter on short kernels, no more; faster is another chip or a
# unit slip
PEAK_TOLERANCE = 0.10
# and may be slower than its roofline time plus the longest launch the fit allows (FITTED's kernel_overhead_s bound)
# by this factor at most: the fit's lowest efficiencies (0.05 of peak) price a kernel at 20x that time at most, and
# parity's H200 reference sweeps reach 1.74x; a point 100x over is 10x beyond anything a calibration can price and
# only drags every efficiency to its bound (times in ms read as s, a stalled run)
SLOW_TOLERANCE = 100.0
# the mean |log error| of the fitted kernel times at most: parity's H200 reference sweep fits to 0.093; beyond 0.5
# (times off by 1.65x on average) the efficiencies sit at their bounds and describe no chip (1000x slow GEMMs: 4.5)
MAX_FIT_ERROR = 0.5
# points a kind of kernel (a GEMM format, attention prefill or decode, grouped GEMMs, copies) needs at least: one
# point fits its efficiency exactly, so a 0% error says nothing about the chip
MIN_POINTS_PER_KIND = 2

# Calibration fields the fit moves, with bounds; gemm_efficiency entries are per math key.
RESTARTS = 8  # fresh simplices from the best point, at most (see fit_calibration)
# a fitted value within this share of one of its FITTED bounds sits at it; such a field is fitted again held at the
# chip's value before (fit.refit_calibration), and held there where the points price as well with it (an H100's
# replayed sweep, 2026-12-06, put memory streaming at 0.9994 of peak, a longer fixed cost a kernel trading for it,
# where its own copies reach 0.90: the loss moved 0.08 point between 0.92 and 1.0), but kept at the bound where they
# price worse held (GEMMs measured at 0.99 of peak, or below the lowest bound)
BOUND_SLACK = 0.01
# how much more the loss (kind_error) may be held at the value before than at the bound for the points to price "as
# well" there: 0.5 point, six times the H100 replays' 0.08, and a twentieth of the 10% the shipped H200 sweep fits to
BOUND_LOSS_SLACK = 0.005

# The lowest bound of an efficiency, 0.05 of peak, leaves room below the 0.15-0.2 of peak GEMMs reach on immature
# software stacks (a fit bounded at 0.2 held such a chip at its prior's 0.56, 2.8x fast); slower than that is a unit
# slip check_plausible's SLOW_TOLERANCE refuses. The highest is the peak itself (Calibration allows no more).
_LOWEST = 0.05
FITTED: dict[str, tuple[float, float]] = {
    "gemm_efficiency.bf16": (_LOWEST, 1.0),
    "gemm_efficiency.fp8": (_LOWEST, 1.0),
    "memory_efficiency": (_LOWEST, 1.0),
    "grouped_gemm_memory_efficiency": (_LOWEST, 1.0),
    "attention_prefill_efficiency": (_LOWEST, 1.0),
    "attention_decode_efficiency": (_LOWEST, 1.0),
    "stream_efficiency": (_LOWEST, 1.0),
    "kernel_overhead_s": (0.5e-6, KERNEL_OVERHEAD_MAX_S),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Point:
    """One measured kernel: its work (as the engine counts it) and its measured time [s]; `where`: the file and row
    it was read from ('sweep.json: gemm row 3'), which a refusal of it names."""

    kind: str
    label: str
    kernel: Kernel
    seconds: float
    where: str = ""


def _dims(*sizes: float) -> str:
    """Sizes as a label joins them ('8192x4096'): whole numbers, or 3 significant digits past ten million (an absurd
    size stays a short label: 1e+200x4096)."""
    return "x".join(f"{s:.0f}" if s < 1e7 else f"{s:.3g}" for s in sizes)


def _gemm(kind: str, label: str, m: float, n: float, k: float, fmt: str, seconds: float, where: str,
          experts: float = 1.0) -> Point:
    weight = {"bf16": 2.0, "fp8": 1.0}[fmt]
    kernel = Kernel(name=label, kind=kind, flops=2.0 * experts * m * n * k, weight_bytes=experts * n * k * weight,
                    other_bytes=experts * m * (n + k) * 2.0, fmt=fmt, tokens=m)
    return Point(kind=kind, label=label, kernel=kernel, seconds=seconds, where=where)


def _shown(value: Any) -> str:
    """A value as the file spells it (JSON), cut short for a one-line message."""
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else f"{text[:57]}..."


# the top-level keys of a microbenchmark document: its measured sections, and meta (where and how it was measured)
SECTIONS = ("gemm", "gemm_bf16", "fp8_gemm", "gemm_fp8", "grouped", "attn_prefill", "attn_decode", "copy")


# the keys each section's rows are read by (sizes, then times: s and s_*)
_READ = {"gemm": ("m", "n", "k", "s"), "fp8_gemm": ("m", "n", "k", "s", "s_tensor"),
         "grouped": ("experts", "tokens_per_expert", "n", "k", "s_grouped", "s_bmm"),
         "attn_prefill": ("batch", "heads", "kv_heads", "head_dim", "seq", "s"),
         "attn_decode": ("batch", "heads", "kv_heads", "head_dim", "ctx", "s"),
         "copy": ("bytes_each_way", "read_bytes", "s")}
_READ |= {"gemm_bf16": _READ["gemm"], "gemm_fp8": _READ["fp8_gemm"]}
# what a row may carry beside them, unread: rates derived from its time, its shape as text, other timings; and those
# keys as a refusal names them
_ANNOTATION = re.compile(r"(kv_)?(TFLOPs|TBps)\w*|shape|op|s_\w+")
_ANNOTATION_TEXT = "TFLOPs*, TBps*, kv_TFLOPs*, kv_TBps* (rates from its time), shape, op, s_* (other timings)"


# sizes already read: (the first section of a group, its sizes) -> (the file, the row) where they were
Seen = dict[tuple[str, tuple[Any, ...]], tuple[str, str]]


def _rows(data: Mapping[str, Any], *sections: str, seen: Seen | None = None,
          source: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The rows of the named sections (absent ones hold none), each with where it is: 'gemm row 3'. A key the
    section does not read (a 'dtype' a bf16 row would be fitted as bf16 in spite of) and a second row of the same
    sizes (fitted as though independent, or a contradictory time averaged in) are refused, in this document or, in
    `seen` (the sizes of the files read before it; `source`: this one's name), in another."""
    seen = {} if seen is None else seen
    for section in sections:
        rows = data.get(section, [])
        if not isinstance(rows, list):
            raise ParityError(f"{section} must be a list of measured points, got {_shown(rows)}")
        for i, row in enumerate(rows, 1):
            where = f"{section} row {i}"
            if not isinstance(row, Mapping):
                raise ParityError(f"{where}: a point must be an object of named numbers, got {_shown(row)}")
            if unread := [str(k) for k in row if k not in _READ[section] and not _ANNOTATION.fullmatch(str(k))]:
                raise ParityError(f"{where}: {section} does not read {', '.join(map(repr, unread))} (its keys: "
                                  f"{', '.join(_READ[section])}; taken and ignored: {_ANNOTATION_TEXT})")
            if section == "copy" and row.get("bytes_each_way") is None and row.get("read_bytes") is None:
                continue  # no bytes: nothing to fit (skipped, as documented), and no sizes to be a repeat of
            keys = [k for k in _READ[section] if k != "s" and not k.startswith("s_") and k in row]
            sizes = (sections[0], tuple((k, _same_size(row[k])) for k in keys))
            if (first := seen.setdefault(sizes, (source, where))) != (source, where):
                said = ", ".join(f"{k}={_shown(row[k])}" for k in keys)
                there = first[1] if first[0] == source else f"{first[0]}: {first[1]}"
                raise ParityError(f"{where}: the same sizes as {there} ({said}): measure each once, or average the "
                                  "repeats before importing")
            yield where, row


def _same_size(value: Any) -> Any:
    """A size as the duplicate check compares it: a number by its value (16 and 16.0 are one size), anything else
    (refused later, naming its key) by its JSON text."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:  # an int past a float's range: compared as itself
            return value
    return _shown(value)


def _need(row: Mapping[str, Any], keys: Iterable[str], where: str) -> None:
    missing = [k for k in keys if k not in row]
    if missing:
        raise ParityError(f"{where}: a point lacks {', '.join(missing)}: {_shown(row)}")


def _size(row: Mapping[str, Any], key: str, where: str) -> float:
    """row[key] as a size (a dimension, a count, bytes): a whole number > 0 (4096.0 is one, 1.5 is not), ints kept
    for the labels."""
    value = row[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 \
            or (isinstance(value, float) and not value.is_integer()):
        raise ParityError(f"{where}: {key} must be a whole number > 0, got {_shown(value)}")
    return value


def _check_kv_heads(row: Mapping[str, Any], heads: float, where: str) -> None:
    """Refuse KV heads that do not divide the query heads (each KV head serves a whole group of them); a prefill row
    may leave kv_heads out."""
    if row.get("kv_heads") is not None and heads % (kv_heads := _size(row, "kv_heads", where)):
        raise ParityError(f"{where}: kv_heads must divide heads ({heads:g}), got {kv_heads:g}")


def _seconds(row: Mapping[str, Any], key: str, where: str) -> float:
    """row[key] as a measured kernel time [s]: finite and at least SHORTEST_KERNEL_S."""
    value = row[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= SHORTEST_KERNEL_S \
            or not math.isfinite(value):
        raise ParityError(f"{where}: {key} must be a kernel time in seconds, finite and at least "
                          f"{SHORTEST_KERNEL_S:g} (one clock cycle at 1 GHz), got {_shown(value)}")
    return float(value)


def _sizes(row: Mapping[str, Any], keys: Sequence[str], where: str) -> list[float]:
    return [_size(row, k, where) for k in keys]


def _times(row: Mapping[str, Any], keys: Sequence[str], where: str) -> list[float]:
    """The times among `keys` the row gives (absent or null: not measured), each checked."""
    return [_seconds(row, k, where) for k in keys if row.get(k) is not None]


def _checked(point: Point, where: str) -> Point:
    work = (point.kernel.flops, point.kernel.weight_bytes, point.kernel.other_bytes)
    if not all(math.isfinite(w) for w in work):
        raise ParityError(f"{where}: its sizes overflow the work a float can count: {point.label}")
    return point


def points_from_benchmark(data: Mapping[str, Any], seen: Seen | None = None, source: str = "") -> list[Point]:
    """Points from a microbenchmark document (the format of parity's H200 reference files: sections
    copy, gemm, fp8_gemm, attn_prefill, attn_decode, and gemm_bf16, gemm_fp8, grouped). Sizes must be
    finite numbers > 0 and times [s] finite and at least SHORTEST_KERNEL_S; fp8 rows without a time (s or
    s_tensor) and copy rows without s or bytes are skipped; any other row that lacks a key, or a value
    that is not such a number, is refused naming its section, row and key. A row of the sizes of another is refused
    too, here or in a file read before (`seen`, which this one's sizes join, as `source`)."""
    seen = {} if seen is None else seen
    if not isinstance(data, Mapping):
        raise ParityError("a microbenchmark file must hold a JSON object")
    if unknown := sorted(str(key) for key in data if key not in (*SECTIONS, "meta")):
        raise ParityError(f"unknown section{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}: a "
                          f"microbenchmark file holds meta and {', '.join(SECTIONS)}")
    points: list[Point] = []
    for where, row in _rows(data, "gemm", "gemm_bf16", seen=seen, source=source):
        _need(row, ("m", "n", "k", "s"), where)
        m, n, k = _sizes(row, ("m", "n", "k"), where)
        points.append(_checked(_gemm("gemm", f"bf16 {_dims(m, n, k)}", m, n, k, "bf16", _seconds(row, "s", where),
                                               where), where))
    for where, row in _rows(data, "fp8_gemm", "gemm_fp8", seen=seen, source=source):
        _need(row, ("m", "n", "k"), where)
        m, n, k = _sizes(row, ("m", "n", "k"), where)
        seconds = _times(row, ("s", "s_tensor"), where)
        if seconds:
            points.append(_checked(_gemm("gemm", f"fp8 {_dims(m, n, k)}", m, n, k, "fp8", seconds[0], where), where))
    for where, row in _rows(data, "grouped", seen=seen, source=source):
        _need(row, ("experts", "tokens_per_expert", "n", "k"), where)
        experts, tokens, n, k = _sizes(row, ("experts", "tokens_per_expert", "n", "k"), where)
        seconds = _times(row, ("s_grouped", "s_bmm"), where)
        if not seconds:
            raise ParityError(f"{where}: a point lacks a time, s_grouped or s_bmm: {_shown(row)}")
        points.append(_checked(_gemm("grouped_gemm", f"grouped {_dims(experts, tokens)}", tokens, n, k, "bf16",
                                     min(seconds), where, experts), where))
    for where, row in _rows(data, "attn_prefill", seen=seen, source=source):
        _need(row, ("batch", "heads", "head_dim", "seq", "s"), where)
        b, h, d, s = _sizes(row, ("batch", "heads", "head_dim", "seq"), where)
        _check_kv_heads(row, h, where)
        kernel = Kernel(name="attn_prefill", kind="attention_prefill", flops=4.0 * b * h * d * s * s / 2.0,
                        weight_bytes=0.0, other_bytes=4.0 * b * s * h * d * 2.0, fmt="bf16", tokens=b * s,
                        head_dim=d)
        points.append(_checked(Point(kind="attention_prefill", label=f"prefill b{_dims(b)} s{_dims(s)}", kernel=kernel,
                                     seconds=_seconds(row, "s", where), where=where), where))
    for where, row in _rows(data, "attn_decode", seen=seen, source=source):
        _need(row, ("batch", "heads", "kv_heads", "head_dim", "ctx", "s"), where)
        b, h, kv, d, c = _sizes(row, ("batch", "heads", "kv_heads", "head_dim", "ctx"), where)
        _check_kv_heads(row, h, where)
        kernel = Kernel(name="attn_decode", kind="attention_decode", flops=4.0 * b * h * d * c, weight_bytes=0.0,
                        other_bytes=2.0 * b * c * kv * d * 2.0, fmt="bf16", tokens=b)
        points.append(_checked(Point(kind="attention_decode", label=f"decode b{_dims(b)} ctx{_dims(c)}", kernel=kernel,
                                     seconds=_seconds(row, "s", where), where=where), where))
    for where, row in _rows(data, "copy", seen=seen, source=source):
        if row.get("bytes_each_way") is not None:
            moved = 2.0 * _size(row, "bytes_each_way", where)
        elif row.get("read_bytes") is not None:
            moved = float(_size(row, "read_bytes", where))
        else:
            continue
        seconds = _times(row, ("s",), where)
        if seconds:
            kernel = Kernel(name="copy", kind="stream", flops=0.0, weight_bytes=0.0, other_bytes=moved, fmt="bf16")
            label = f"copy {moved / 1e9:.3g} GB" if moved >= 1e16 else f"copy {moved / 1e9:.1f} GB"
            points.append(_checked(Point(kind="stream", label=label, kernel=kernel, seconds=seconds[0], where=where),
                                   where))
    if not points:
        raise ParityError("no microbenchmark points found (expected sections gemm, fp8_gemm, attn_prefill, ...)")
    return points


def _kind_name(point: Point) -> str:
    """'bf16 GEMM', 'attention_prefill': a kind of kernel as check_plausible counts and names it."""
    return f"{point.kernel.fmt} GEMM" if point.kind == "gemm" else point.kind


def _named(point: Point) -> str:
    """A point as a refusal names it: its file and row, and its kernel ('s.json: gemm row 2 (bf16 1x8192x8192)')."""
    return f"{point.where} ({point.label})" if point.where else point.label


def check_plausible(points: Sequence[Point], chip: Chip) -> None:
    """Refuse (ParityError, one line) measurements no `chip` can have taken: a kernel faster than the datasheet
    peak of its format, or moving its bytes (weights and activations or KV cache, as the roofline counts them)
    faster than the chip's memory bandwidth, by more than PEAK_TOLERANCE; a kernel slower than SLOW_TOLERANCE
    times its roofline time (BF16's peak for a format the chip has no unit for) plus the longest launch the fit
    allows; or a kind of kernel resting on fewer than MIN_POINTS_PER_KIND points. Parity models no on-chip cache (the roofline reads every byte from device
    memory), so no kernel is let past the bandwidth for being small: the shipped H200 sweeps reach 0.97x at most."""
    for p in points:
        peak = chip.peak(p.kernel.fmt) if p.kernel.flops > 0 else 0.0
        for rate, limit, unit, what in ((p.kernel.flops / p.seconds, peak, "FLOP/s", f"{p.kernel.fmt} peak"),
                                        (p.kernel.bytes / p.seconds, chip.memory_bytes_per_s, "B/s",
                                         "memory bandwidth")):
            if limit and rate > limit * (1.0 + PEAK_TOLERANCE):
                raise ParityError(f"{_named(p)}: {p.seconds:.3g} s is {rate:.3g} {unit}, {rate / limit:,.3g}x "
                                  f"{chip.id}'s datasheet {what} of {limit:.3g} {unit} (at most "
                                  f"{1 + PEAK_TOLERANCE:.2f}x is plausible): measurements of another chip, or times "
                                  "in another unit?")
        slowest = SLOW_TOLERANCE * (_roofline_s(p.kernel, chip) + FITTED["kernel_overhead_s"][1])
        if p.seconds > slowest:
            raise ParityError(f"{_named(p)}: {p.seconds:.3g} s is {p.seconds / slowest * SLOW_TOLERANCE:,.3g}x its "
                              f"roofline time on {chip.id} plus the longest launch a calibration allows (at most "
                              f"{SLOW_TOLERANCE:g}x, {slowest:.3g} s, is plausible): times in another unit, or a "
                              "stalled run?")
    counts = Counter(_kind_name(p) for p in points)
    if few := sorted(f"{kind} ({n})" for kind, n in counts.items() if n < MIN_POINTS_PER_KIND):
        raise ParityError(f"too few points to fit {', '.join(few)}: each kind of kernel needs at least "
                          f"{MIN_POINTS_PER_KIND} (one point fits its efficiency exactly, whatever it holds)")


def _roofline_s(kernel: Kernel, chip: Chip) -> float:
    """The least time [s] `chip`'s datasheet allows `kernel`: its FLOPs at the peak of its format (BF16's where the
    chip has no unit for it, as emulation runs), or its bytes at the memory bandwidth, whichever is longer."""
    peak = chip.peak(kernel.fmt) or chip.peak("bf16")
    return max(kernel.flops / peak if peak else 0.0, kernel.bytes / chip.memory_bytes_per_s)


def check_fit(error_after: float, chip: Chip) -> None:
    """Refuse a fit whose kernel times miss the measurements by more than MAX_FIT_ERROR (mean |log error|)."""
    if not error_after <= MAX_FIT_ERROR:
        raise ParityError(f"the fitted calibration misses the measured kernel times by {error_after:.0%} (mean |log "
                          f"error|; at most {MAX_FIT_ERROR:.0%} is accepted): the times do not look like "
                          f"{chip.id}'s, so no calibration was written")


def field_value(cal: Calibration, name: str) -> float:
    """A FITTED field's value in `cal` ('gemm_efficiency.fp8': the fp8 GEMMs' efficiency)."""
    if name.startswith("gemm_efficiency."):
        return cal.gemm(name.split(".", 1)[1])
    return float(getattr(cal, name))


def _with(cal: Calibration, name: str, value: float) -> Calibration:
    if name.startswith("gemm_efficiency."):
        key = name.split(".", 1)[1]
        return dataclasses.replace(cal, gemm_efficiency={**cal.gemm_efficiency, key: value})
    return dataclasses.replace(cal, **{name: value})


def stack_points(points: Sequence[Point]) -> tuple[tuple[np.ndarray, Kernel], ...]:
    """The points as (their indices, one kernel with array-valued work) per kind, format, head width, count and
    launches: what `point_times` prices, built once where a fit prices the same points hundreds of times."""
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, p in enumerate(points):
        k = p.kernel
        groups.setdefault((k.kind, k.fmt, k.head_dim, k.count, k.launches), []).append(i)
    return tuple((np.array(index), Kernel(name=kind, kind=kind, fmt=fmt, head_dim=head_dim, count=count,
                                          launches=launches,
                                          **{f: np.array([getattr(points[i].kernel, f) for i in index], dtype=float)
                                             for f in ("flops", "weight_bytes", "other_bytes", "tokens")}))
                 for (kind, fmt, head_dim, count, launches), index in groups.items())


def point_times(points: Sequence[Point], chip: Chip, cal: Calibration,
                stacks: tuple[tuple[np.ndarray, Kernel], ...] | None = None) -> np.ndarray:
    """The kernel time `price_kernel` gives each point [s], priced a group at a time (`stack_points`; pass
    `stacks` to reuse them): the same numbers as pricing each point's kernel alone."""
    times = np.empty(len(points))
    for index, kernel in stacks or stack_points(points):
        times[index] = price_kernel(kernel, chip, cal).time_s
    return times


def _errors(points: Sequence[Point], chip: Chip, cal: Calibration,
            stacks: tuple[tuple[np.ndarray, Kernel], ...] | None = None) -> np.ndarray:
    return np.log(point_times(points, chip, cal, stacks) / np.array([p.seconds for p in points]))


def kind_error(points: Sequence[Point], chip: Chip, cal: Calibration,
               stacks: tuple[tuple[np.ndarray, Kernel], ...] | None = None) -> float:
    """The loss fit_calibration minimises: the mean over kinds of kernel (GEMMs, grouped GEMMs, attention prefill and
    decode, copies) of each kind's mean |log error|, every kind weighing the same however many points it has. It
    differs from the mean over points: on the shipped H200 sweep 255 of the 282 points are GEMMs, and the fit
    trades a little of their error (9.4% -> 11.7%) for the other kinds' (attention decode 13% -> 0.9%)."""
    errors = np.abs(_errors(points, chip, cal, stacks))
    kinds = np.array([p.kind for p in points])
    return float(np.mean([np.mean(errors[kinds == k]) for k in dict.fromkeys(kinds.tolist())]))


def _measures(name: str, kind: str, fmt: str) -> bool:
    """Whether a point of `kind` in format `fmt` measures the FITTED field `name`: a GEMM its format's efficiency and
    memory streaming (its weight reads), each other kind its own, and every kernel the launch cost."""
    if name.startswith("gemm_efficiency."):
        return kind == "gemm" and fmt == name.split(".", 1)[1]
    if name in ("memory_efficiency", "kernel_overhead_s"):
        return name == "kernel_overhead_s" or kind == "gemm"
    return name == _OWN_FIELD.get(kind)


# the field each kind of kernel but a GEMM measures alone
_OWN_FIELD = {"grouped_gemm": "grouped_gemm_memory_efficiency", "attention_prefill": "attention_prefill_efficiency",
              "attention_decode": "attention_decode_efficiency", "stream": "stream_efficiency"}


def field_counts(kinds: Iterable[tuple[str, str]]) -> dict[str, int]:
    """How many of the points, given as (kind, format), measure each field of FITTED (those none measures left
    out), in FITTED's order: 21 bf16 and 21 fp8 GEMMs measure each format's efficiency with 21 and memory streaming
    with 42."""
    kinds = list(kinds)
    counts = {name: sum(_measures(name, kind, fmt) for kind, fmt in kinds) for name in FITTED}
    return {name: n for name, n in counts.items() if n}


def fitted_fields(points: Sequence[Point]) -> list[str]:
    """The fields of FITTED that the points measure (bf16 GEMMs the bf16 GEMM efficiency, and so on); the launch
    cost is in every kernel. A fit keeps the prior's value of the others."""
    return list(field_counts((p.kind, p.kernel.fmt) for p in points))


def held_at(cal: Calibration, current: Calibration, names: Iterable[str]) -> Calibration:
    """`cal` with `current`'s value of each named FITTED field."""
    for name in names:
        cal = _with(cal, name, field_value(current, name))
    return cal


def fit_start(prior: Calibration, current: Calibration, points: Sequence[Point]) -> Calibration:
    """Where a chip's fit starts: its `current` calibration (what its predictions use until now), with `prior`'s
    value of every field the points measure. The measured fields start where every fit starts, and whatever no
    point measures keeps the chip's own value rather than the prior's (an H100 measured on GEMMs alone keeps the fp8
    GEMMs' 0.6765 it inherits from the H200, not the prior's 0.67; an H200 keeps its FlashMLA decode math, 0.667,
    which no import measures)."""
    start = dataclasses.replace(current, family="", rows=(), measured_chips=(), basis="", points=())
    for name in fitted_fields(points):
        start = _with(start, name, field_value(prior, name))
    return start


def at_bounds(cal: Calibration, names: Iterable[str]) -> list[str]:
    """The fields among `names` whose value in `cal` lies within BOUND_SLACK of a FITTED bound (not measured)."""
    return [n for n in names if min(abs(math.log(field_value(cal, n) / bound)) for bound in FITTED[n]) < BOUND_SLACK]


def replayed(documents: Iterable[Mapping[str, Any]]) -> bool:
    """Whether microbenchmark documents were timed as CUDA-graph replays (the sweep's default; its meta.timing begins
    so), which leave out the eager launch that a calibration's kernel_overhead_s is."""
    return any(str(d.get("meta", {}).get("timing", "")).startswith("CUDA graph") for d in documents)


def fit_calibration(chip: Chip, points: Sequence[Point], prior: Calibration, date: str, method: str,
                    source: str, iterations: int = 300, held: Sequence[str] = ()) -> tuple[Calibration, float, float]:
    """The calibration of `chip` that best prices the points (least kind_error): (fitted, error before, error
    after), the errors being mean absolute log errors of the kernel times over the points (not the loss minimised:
    it weighs each kind of kernel alike, so the mean over points may rise). Fields without points, and the `held`
    ones, keep `prior`'s values (fit_start: the chip's own)."""
    relevant = [n for n in fitted_fields(points) if n not in held]
    base = dataclasses.replace(prior, id=f"{chip.id}-measured", chip=chip.id, date=date, method=method,
                               measured=True, source=source)

    lows = np.log([FITTED[n][0] for n in relevant])
    highs = np.log([FITTED[n][1] for n in relevant])

    def build(x: np.ndarray) -> Calibration:
        cal = base
        for name, value in zip(relevant, np.exp(np.clip(x, lows, highs))):
            cal = _with(cal, name, float(value))
        return cal

    stacks = stack_points(points)

    def loss(x: np.ndarray) -> float:
        return kind_error(points, chip, build(x), stacks) + float(np.sum(np.maximum(x - highs, 0)
                                                                          + np.maximum(lows - x, 0)))

    start = np.log([min(max(field_value(base, n), FITTED[n][0]), FITTED[n][1]) for n in relevant])
    before = float(np.mean(np.abs(_errors(points, chip, base))))
    # A simplex in eight or nine dimensions stalls short of the optimum (the first real H200 sweep left
    # fp8 GEMMs at 0.29 of peak where its own points say 0.67): restart from the best point with a
    # fresh simplex until a restart gains nothing.
    best, value = nelder_mead(loss, start, step=0.2, iterations=iterations, tolerance=1e-6)
    for _ in range(RESTARTS):
        again, again_value = nelder_mead(loss, best, step=0.2, iterations=iterations, tolerance=1e-6)
        if again_value > value - 1e-5:
            break
        best, value = again, again_value
    fitted = build(best)
    after = float(np.mean(np.abs(_errors(points, chip, fitted))))
    raw = tuple({"kind": p.kind, "label": p.label, "seconds": p.seconds, "predicted_seconds": float(t)}
                for p, t in zip(points, point_times(points, chip, fitted)))
    return dataclasses.replace(fitted, points=raw), before, after


def calibration_toml(cal: Calibration, before: float, after: float, software: Mapping[str, str],
                     by_kind: tuple[float, float] | None = None) -> str:
    """The TOML text of a measured calibration, raw points included, for data/calibration/; `by_kind`: the fit's
    loss (kind_error) before and after, said beside the mean over points."""
    table: dict[str, Any] = {"id": cal.id, "chip": cal.chip, "date": cal.date, "measured": True, "method": cal.method,
                             "source": cal.source, "kernel_overhead": f"{cal.kernel_overhead_s * 1e6:.3f} us"}
    for name in ("memory_efficiency", "grouped_gemm_memory_efficiency", "attention_prefill_efficiency",
                 "attention_decode_efficiency", "stream_efficiency", "emulation_efficiency", "collective_efficiency"):
        table[name] = round(getattr(cal, name), 4)
    for name, unset in (("attention_decode_math_efficiency", 0.0), ("collective_latency_factor", 1.0),
                        ("grouped_gemm_half_tokens", 0.0)):  # written where the calibration sets them
        if getattr(cal, name) != unset:
            table[name] = round(getattr(cal, name), 4)
    table["software"] = dict(software)
    table["gemm_efficiency"] = {k: round(v, 4) for k, v in cal.gemm_efficiency.items()}
    if cal.grouped_gemm_efficiency:
        table["grouped_gemm_efficiency"] = {k: round(v, 4) for k, v in cal.grouped_gemm_efficiency.items()}
    if cal.measured_fields:  # which fields the points fitted, with how many; the rest keep unmeasured_from's
        table["measured_fields"] = dict(cal.measured_fields)
        if cal.unmeasured_from:
            table["unmeasured_from"] = cal.unmeasured_from
    table["points"] = [{k: tomlwrite.significant(v) if isinstance(v, float) else v for k, v in point.items()}
                       for point in cal.points]
    loss = "" if by_kind is None else (f" The fit weighs each kind of kernel alike: {by_kind[0]:.1%} before, "
                                       f"{by_kind[1]:.1%} after.")
    return tomlwrite.document(table, f"Measured calibration of {cal.chip}; kernel-time error {before:.1%} before "
                                     f"the fit, {after:.1%} after (mean |log error| over the points).{loss}")
