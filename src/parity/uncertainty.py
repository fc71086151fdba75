"""Prediction intervals and out-of-calibration flags.

An 80% interval comes from the spread of held-out validation residuals r = ln(predicted/measured):
with q10 and q90 their 10th and 90th percentiles for a metric and kind of case, a prediction p has
the interval [p e^-q90, p e^-q10]. Cases outside what the model was checked on (a chip with no
measurement behind it, an architecture feature never validated, a layout far from any measured
one) are flagged, and their interval is widened by a named factor.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from parity import catalog
from parity.engine import EngineProfile
from parity.hardware import System
from parity.model import Model
from parity.plan import Layout

__all__ = ["Band", "Intervals", "build_intervals", "coverage", "case_flags", "WIDEN_FLAGGED"]

LEVEL = 0.8
WIDEN_FLAGGED = 2.0  # flagged cases: the interval's log-width doubles (an assumption)


@dataclass(frozen=True, slots=True, kw_only=True)
class Band:
    """Quantiles of ln(predicted/measured) for one metric and kind of case."""

    q_low: float
    q_high: float
    count: int

    def around(self, value: float, widen: float = 1.0) -> tuple[float, float]:
        """(low, high) of the interval around a predicted value."""
        centre = 0.5 * (self.q_low + self.q_high)
        half = 0.5 * (self.q_high - self.q_low) * widen
        return value * math.exp(-(centre + half)), value * math.exp(-(centre - half))


@dataclass(frozen=True, slots=True, kw_only=True)
class Intervals:
    """Bands per (metric, kind) with the date and method that made them and their checked coverage."""

    bands: Mapping[tuple[str, str], Band]
    date: str = ""
    method: str = ""
    coverage: Mapping[str, float] = field(default_factory=dict)

    def band(self, metric: str, kind: str) -> Band | None:
        return self.bands.get((metric, kind)) or self.bands.get((metric, "all"))

    @classmethod
    def from_table(cls, table: Mapping[str, object]) -> Intervals:
        """From the TOML table of data/uncertainty.toml."""
        bands = {}
        for row in table.get("band", []):  # type: ignore[union-attr]
            bands[(str(row["metric"]), str(row["kind"]))] = Band(q_low=float(row["q_low"]),
                                                                 q_high=float(row["q_high"]), count=int(row["count"]))
        return cls(bands=bands, date=str(table.get("date", "")), method=str(table.get("method", "")),
                   coverage={str(k): float(v) for k, v in dict(table.get("coverage", {})).items()})  # type: ignore

    def to_toml(self) -> str:
        lines = [f'date = "{self.date}"', f'method = "{self.method}"', "", "[coverage]"]
        lines += [f'"{k}" = {v:.4f}' for k, v in self.coverage.items()]
        for (metric, kind), band in sorted(self.bands.items()):
            lines += ["", "[[band]]", f'metric = "{metric}"', f'kind = "{kind}"', f"q_low = {band.q_low:.6f}",
                      f"q_high = {band.q_high:.6f}", f"count = {band.count}"]
        return "\n".join(lines) + "\n"


def build_intervals(residuals: Iterable[tuple[str, str, float]], date: str, method: str,
                    minimum: int = 30) -> Intervals:
    """Bands from (metric, kind, ln(predicted/measured)) triples; kinds with fewer than `minimum`
    rows fall back to the metric's band over all kinds."""
    grouped: dict[tuple[str, str], list[float]] = {}
    for metric, kind, r in residuals:
        grouped.setdefault((metric, kind), []).append(r)
        grouped.setdefault((metric, "all"), []).append(r)
    lo, hi = 50 * (1 - LEVEL), 50 * (1 + LEVEL)
    bands = {key: Band(q_low=float(np.percentile(v, lo)), q_high=float(np.percentile(v, hi)), count=len(v))
             for key, v in grouped.items() if len(v) >= minimum or key[1] == "all"}
    return Intervals(bands=bands, date=date, method=method)


def coverage(intervals: Intervals, cases: Sequence[tuple[str, str, float, float] | tuple[str, str, float, float, float]]
             ) -> dict[str, float]:
    """Share of (metric, kind, predicted, measured[, widen]) cases whose measured value falls in the
    interval (its log-width times `widen`, 1 if not given), per metric."""
    hits: dict[str, list[bool]] = {}
    for metric, kind, predicted, measured, *widen in cases:
        band = intervals.band(metric, kind)
        if band is None:
            continue
        low, high = band.around(predicted, *widen)
        hits.setdefault(metric, []).append(low <= measured <= high)
    return {metric: float(np.mean(v)) for metric, v in hits.items()}


def case_flags(system: System, model: Model, engine: EngineProfile, layouts: Sequence[Layout],
               mtp_tokens: int = 0) -> tuple[str, ...]:
    """Ways a serving case (a model on a system's workers of these layouts) lies outside what the model
    was fitted and checked on."""
    out = []
    chip = system.chip
    if not catalog.calibration(chip).measured and chip.id not in catalog.fitted_chips():
        out.append(f"uncalibrated chip {chip.id}")
    used = model.features - (set() if mtp_tokens else {"mtp"})  # MTP layers unused: no flag
    unseen = sorted(used - catalog.validated_features())
    if unseen:
        out.append(f"features never validated: {', '.join(unseen)}")
    if any(l.pp > 1 for l in layouts) or any(l.chips > 64 for l in layouts):
        out.append("layout far from measured ones (pipeline parallel or over 64 chips per worker)")
    if engine.id == "generic" or not engine.measured:
        out.append(f"engine profile {engine.id} not fitted to measurements")
    return tuple(out)
