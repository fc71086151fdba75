"""Latency targets that may name a statistic: '2s' (the mean), 'p99:2s', 'p50:800ms'. Parsed here
only, so every command reads them alike."""

from __future__ import annotations

import math
import re

from collections.abc import Mapping
from dataclasses import dataclass

from parity import units
from parity.errors import ParityError

__all__ = ["LatencyTarget", "latency_target", "STATISTICS"]

STATISTICS = ("mean", "p50", "p90", "p99")
METRICS = ("ttft", "tpot", "itl", "e2e")


@dataclass(frozen=True, slots=True, kw_only=True)
class LatencyTarget:
    """A bound on one latency statistic: metric (ttft, tpot, itl, e2e), statistic (mean, p50, p90,
    p99) and the bound [s]."""

    metric: str
    statistic: str
    seconds: float

    @property
    def key(self) -> str:
        """The result key it bounds, e.g. ttft_p99_s (ttft_s for the mean)."""
        return f"{self.metric}_s" if self.statistic == "mean" else f"{self.metric}_{self.statistic}_s"

    def met_by(self, latency: Mapping[str, float]) -> bool:
        return latency[self.key] <= self.seconds

    def __str__(self) -> str:
        """'TTFT p99 <= 800 ms'; from 1,000 s in minutes or hours as typed ('2h': 'TTFT p99 <= 2 h', not 7.2e+06 ms)."""
        bound = f"{self.seconds * 1e3:g} ms" if self.seconds < 1e3 else units.duration_text(self.seconds)
        return f"{self.metric.upper()} {self.statistic} <= {bound}"


def latency_target(text: str | None, metric: str) -> LatencyTarget | None:
    """'2s' -> mean <= 2 s; 'p99:2s' -> 99th percentile <= 2 s; empty or 'none' -> None."""
    if not text or text.strip().lower() == "none":
        return None
    if metric not in METRICS:
        raise ParityError(f"latency targets bound one of {', '.join(METRICS)}, got {metric!r}")
    statistic, colon, bound = text.strip().rpartition(":")
    statistic = statistic.strip().lower() or ("" if colon else "mean")
    if statistic not in STATISTICS:
        # a simulated run is summed up in these four (SimResult.latency), so another percentile has no figure to check
        other = (f"; {statistic} is not among the statistics the simulator reports: bound p90 or p99 instead"
                 if re.fullmatch(r"p\d+(\.\d+)?", statistic) else "")
        raise ParityError(f"--{metric} {text!r}: the statistic must be one of {', '.join(STATISTICS)} "
                          f"(e.g. p99:2s){other}")
    try:
        seconds = units.duration_s(bound.strip())
    except units.UnitError as err:
        raise ParityError(f"--{metric} {text!r}: {err}") from err
    if not math.isfinite(seconds) or not seconds > 0:
        raise ParityError(f"--{metric} {text!r}: must be a positive duration, got {bound.strip()!r}")
    return LatencyTarget(metric=metric, statistic=statistic, seconds=seconds)
