"""Measured kernels read from a microbenchmark document (parity's H200 reference format, or `parity calibrate`'s
sweep): each row checked, its work counted as the engine counts it, and named by its file and row."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from parity.errors import ParityError
from parity.ops import Kernel

SHORTEST_KERNEL_S = 1e-9  # one clock cycle of a 1 GHz chip: no kernel finishes sooner, so a shorter time is a slip

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
