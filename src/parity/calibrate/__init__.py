"""Chip calibration from microbenchmarks: measured points in, a dated Calibration out.

Points (GEMMs over LLM shapes and token counts, grouped expert GEMMs, flash-attention prefill and
decode, memory copies) come from `parity calibrate` on the user's GPU (see `sweep`) or from a file
in the format of parity's H200 reference microbenchmarks. The fit prices every point with the
same roofline the engine uses (`cost.price_kernel`) and moves the calibration's efficiencies to
minimise the mean absolute log error of the predicted kernel times.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from parity import tomlwrite
from parity.cost import price_kernel
from parity.errors import ParityError
from parity.hardware import Calibration, Chip
from parity.ops import Kernel
from parity.optimize import nelder_mead

__all__ = ["Point", "points_from_benchmark", "stack_points", "point_times", "fit_calibration", "calibration_toml",
           "FITTED"]

# Calibration fields the fit moves, with bounds; gemm_efficiency entries are per math key.
RESTARTS = 8  # fresh simplices from the best point, at most (see fit_calibration)

FITTED: dict[str, tuple[float, float]] = {
    "gemm_efficiency.bf16": (0.2, 1.0),
    "gemm_efficiency.fp8": (0.2, 1.0),
    "memory_efficiency": (0.2, 1.0),
    "grouped_gemm_memory_efficiency": (0.1, 1.0),
    "attention_prefill_efficiency": (0.1, 1.0),
    "attention_decode_efficiency": (0.1, 1.0),
    "stream_efficiency": (0.2, 1.0),
    "kernel_overhead_s": (0.5e-6, 60e-6),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Point:
    """One measured kernel: its work (as the engine counts it) and its measured time [s]."""

    kind: str
    label: str
    kernel: Kernel
    seconds: float


def _gemm(kind: str, label: str, m: float, n: float, k: float, fmt: str, seconds: float,
          experts: float = 1.0) -> Point:
    weight = {"bf16": 2.0, "fp8": 1.0}[fmt]
    kernel = Kernel(name=label, kind=kind, flops=2.0 * experts * m * n * k, weight_bytes=experts * n * k * weight,
                    other_bytes=experts * m * (n + k) * 2.0, fmt=fmt, tokens=m)
    return Point(kind=kind, label=label, kernel=kernel, seconds=seconds)


def _need(row: Mapping[str, Any], keys: Iterable[str], where: str) -> None:
    missing = [k for k in keys if k not in row]
    if missing:
        raise ParityError(f"{where}: a point lacks {', '.join(missing)}: {dict(row)}")


def points_from_benchmark(data: Mapping[str, Any]) -> list[Point]:
    """Points from a microbenchmark document (the format of parity's H200 reference files: sections
    copy, gemm, fp8_gemm, attn_prefill, attn_decode, and gemm_bf16, gemm_fp8, grouped)."""
    if not isinstance(data, Mapping):
        raise ParityError("a microbenchmark file must hold a JSON object")
    points: list[Point] = []
    for row in data.get("gemm", []) + data.get("gemm_bf16", []):
        _need(row, ("m", "n", "k", "s"), "gemm")
        points.append(_gemm("gemm", f"bf16 {row['m']}x{row['n']}x{row['k']}", row["m"], row["n"], row["k"], "bf16",
                            row["s"]))
    for row in data.get("fp8_gemm", []) + data.get("gemm_fp8", []):
        seconds = row.get("s", row.get("s_tensor"))
        _need(row, ("m", "n", "k"), "fp8 gemm")
        if seconds:
            points.append(_gemm("gemm", f"fp8 {row['m']}x{row['n']}x{row['k']}", row["m"], row["n"], row["k"], "fp8",
                                seconds))
    for row in data.get("grouped", []):
        _need(row, ("experts", "tokens_per_expert", "n", "k"), "grouped")
        seconds = min(v for v in (row.get("s_grouped"), row.get("s_bmm")) if v)
        points.append(_gemm("grouped_gemm", f"grouped {row['experts']}x{row['tokens_per_expert']}",
                            row["tokens_per_expert"], row["n"], row["k"], "bf16", seconds, row["experts"]))
    for row in data.get("attn_prefill", []):
        _need(row, ("batch", "heads", "head_dim", "seq", "s"), "attn_prefill")
        b, h, d, s = row["batch"], row["heads"], row["head_dim"], row["seq"]
        kernel = Kernel(name="attn_prefill", kind="attention_prefill", flops=4.0 * b * h * d * s * s / 2.0,
                        weight_bytes=0.0, other_bytes=4.0 * b * s * h * d * 2.0, fmt="bf16", tokens=b * s,
                        head_dim=d)
        points.append(Point(kind="attention_prefill", label=f"prefill b{b} s{s}", kernel=kernel, seconds=row["s"]))
    for row in data.get("attn_decode", []):
        _need(row, ("batch", "heads", "kv_heads", "head_dim", "ctx", "s"), "attn_decode")
        b, h, kv, d, c = row["batch"], row["heads"], row["kv_heads"], row["head_dim"], row["ctx"]
        kernel = Kernel(name="attn_decode", kind="attention_decode", flops=4.0 * b * h * d * c, weight_bytes=0.0,
                        other_bytes=2.0 * b * c * kv * d * 2.0, fmt="bf16", tokens=b)
        points.append(Point(kind="attention_decode", label=f"decode b{b} ctx{c}", kernel=kernel, seconds=row["s"]))
    for row in data.get("copy", []):
        moved = 2.0 * row["bytes_each_way"] if "bytes_each_way" in row else row.get("read_bytes")
        if moved and row.get("s"):
            kernel = Kernel(name="copy", kind="stream", flops=0.0, weight_bytes=0.0, other_bytes=float(moved),
                            fmt="bf16")
            points.append(Point(kind="stream", label=f"copy {moved / 1e9:.1f} GB", kernel=kernel, seconds=row["s"]))
    if not points:
        raise ParityError("no microbenchmark points found (expected sections gemm, fp8_gemm, attn_prefill, ...)")
    return points


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


def fit_calibration(chip: Chip, points: Sequence[Point], prior: Calibration, date: str, method: str,
                    source: str, iterations: int = 300) -> tuple[Calibration, float, float]:
    """The calibration of `chip` that best prices the points: (fitted, error before, error after), the
    errors being mean absolute log errors of the kernel times. Fields without points keep the prior."""
    kinds = {p.kind for p in points}
    maths = {p.kernel.fmt for p in points if p.kind == "gemm"}
    relevant = [name for name in FITTED if (
        (name == "gemm_efficiency.bf16" and "bf16" in maths) or (name == "gemm_efficiency.fp8" and "fp8" in maths)
        or (name == "memory_efficiency" and "gemm" in kinds) or (name.startswith("grouped") and "grouped_gemm" in kinds)
        or (name.startswith("attention_prefill") and "attention_prefill" in kinds)
        or (name.startswith("attention_decode") and "attention_decode" in kinds)
        or (name == "stream_efficiency" and "stream" in kinds) or name == "kernel_overhead_s")]
    base = dataclasses.replace(prior, id=f"{chip.id}-measured", chip=chip.id, date=date, method=method,
                               measured=True, source=source)

    def current(name: str, cal: Calibration) -> float:
        if name.startswith("gemm_efficiency."):
            return cal.gemm(name.split(".", 1)[1])
        return float(getattr(cal, name))

    lows = np.log([FITTED[n][0] for n in relevant])
    highs = np.log([FITTED[n][1] for n in relevant])

    def build(x: np.ndarray) -> Calibration:
        cal = base
        for name, value in zip(relevant, np.exp(np.clip(x, lows, highs))):
            cal = _with(cal, name, float(value))
        return cal

    kind_of = np.array([p.kind for p in points])
    masks = [kind_of == k for k in kinds]
    stacks = stack_points(points)

    def loss(x: np.ndarray) -> float:
        # every kind of kernel weighs the same, however many points it has
        errors = np.abs(_errors(points, chip, build(x), stacks))
        per_kind = [float(np.mean(errors[mask])) for mask in masks]
        return float(np.mean(per_kind)) + float(np.sum(np.maximum(x - highs, 0) + np.maximum(lows - x, 0)))

    start = np.log([min(max(current(n, base), FITTED[n][0]), FITTED[n][1]) for n in relevant])
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


def calibration_toml(cal: Calibration, before: float, after: float, software: Mapping[str, str]) -> str:
    """The TOML text of a measured calibration, raw points included, for data/calibration/."""
    table: dict[str, Any] = {"id": cal.id, "chip": cal.chip, "date": cal.date, "measured": True, "method": cal.method,
                             "source": cal.source, "kernel_overhead": f"{cal.kernel_overhead_s * 1e6:.3f} us"}
    for name in ("memory_efficiency", "grouped_gemm_memory_efficiency", "attention_prefill_efficiency",
                 "attention_decode_efficiency", "stream_efficiency", "emulation_efficiency", "collective_efficiency"):
        table[name] = round(getattr(cal, name), 4)
    table["software"] = dict(software)
    table["gemm_efficiency"] = {k: round(v, 4) for k, v in cal.gemm_efficiency.items()}
    table["points"] = [{k: tomlwrite.significant(v) if isinstance(v, float) else v for k, v in point.items()}
                       for point in cal.points]
    return tomlwrite.document(table, f"Measured calibration of {cal.chip}; kernel-time error {before:.1%} before "
                                     f"the fit, {after:.1%} after.")
