"""What imported measurements and a fit of them must satisfy before a calibration is written: kernels no chip
could have timed, kinds of kernel with too few points, and a fit that misses its points, are refused."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from parity.calibrate.fitting import FITTED
from parity.calibrate.points import Point
from parity.errors import ParityError
from parity.hardware import Chip
from parity.ops import Kernel

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
