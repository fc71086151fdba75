"""The fit of a chip's calibration to measured kernel times: the fields it moves and their bounds, the points priced
as the engine prices them, Nelder-Mead with restarts, and the TOML a measured calibration is written as."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from parity import tomlwrite
from parity.calibrate.points import Point
from parity.cost import price_kernel
from parity.hardware import KERNEL_OVERHEAD_MAX_S, Calibration, Chip
from parity.ops import Kernel
from parity.optimize import nelder_mead

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
