"""The same work on two vendors' chips: published against predicted ratios, and the per-vendor bands of
cross-source residuals that a predicted ratio's interval is built from."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from parity import catalog
from parity.crossvendor.setting import Setting, metric_kind, stored_setting
from parity.hardware import Chip
from parity.uncertainty import Band, bands_from
from parity.validate import CaseError, published_errors

__all__ = ["RatioCheck", "ratio_checks", "chip_of", "vendor_bands", "bands_toml", "ratio_error_median"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RatioCheck:
    """The same work on two vendors' chips: published and predicted ratio (a over b)."""

    case_id: str
    metric: str
    a: str
    b: str
    published: float
    predicted: float

    @property
    def error(self) -> float:
        return self.predicted / self.published - 1.0

    def row(self) -> dict[str, object]:
        return {**dataclasses.asdict(self), "error": self.error}


def ratio_checks(rows: Sequence[Mapping[str, str]], setting: Setting | None = None, model_kind: str = "steady",
                 processes: int = 1) -> list[RatioCheck]:
    """Rows with an NVIDIA twin (case_id + '-nv': same source, model, lengths and concurrency), priced by
    `model_kind` (published_errors: 'sim' simulates the closed-loop rows)."""
    by_id = {r["case_id"]: r for r in rows}
    pairs = [(by_id[i], by_id[f"{i}-nv"]) for i in by_id if f"{i}-nv" in by_id]
    flat = [r for pair in pairs for r in pair]
    errors = {e.case_id: e for e in published_errors(flat, hook=(setting or stored_setting()).apply,
                                                      model_kind=model_kind, processes=processes)}
    out = []
    for a, b in pairs:
        ea, eb = errors.get(a["case_id"]), errors.get(b["case_id"])
        if ea is None or eb is None:
            continue
        out.append(RatioCheck(case_id=a["case_id"], metric=a["metric"], a=a["system"], b=b["system"],
                              published=ea.measured / eb.measured, predicted=ea.predicted / eb.predicted))
    return out


def chip_of(system: str) -> Chip:
    return catalog.system(system).chip


def vendor_bands(errors: Iterable[CaseError], decode_only: bool = True) -> dict[str, Band]:
    """80% bands of ln(predicted/measured) per chip vendor from cross-source residuals (of decode figures, or of
    every error given where not `decode_only`: training runs); every catalog vendor gets one (the widest measured band
    where it has fewer than 5 rows)."""
    residuals: dict[str, list[float]] = {c.vendor: [] for c in catalog.chips() if not c.user_file}  # parity's alone
    for e in errors:
        if not decode_only or metric_kind(e.metric) == "decode":
            residuals[catalog.system(e.system).chip.vendor].append(math.log(e.predicted / e.measured))
    return bands_from(residuals)


DECODE_BANDS = ("10th-90th percentiles of ln(predicted/measured) of published decode figures, each scored leaving its "
                "source out of every fit (parity validate --by source), per chip vendor; vendors with fewer than 5 rows "
                "take the widest band")


def bands_toml(bands: Mapping[str, Band], date: str, method: str = DECODE_BANDS) -> str:
    """data/ratio_uncertainty.toml (or, with the training method, data/training_ratio_uncertainty.toml): a band per
    vendor (count 0: no rows of its own, the widest band)."""
    lines = [f'date = "{date}"', f'method = "{method}"']
    for vendor, band in sorted(bands.items()):
        lines += ["", "[[band]]", f'vendor = "{vendor}"', f"q_low = {band.q_low:.6f}", f"q_high = {band.q_high:.6f}",
                  f"count = {band.count}"]
    return "\n".join(lines) + "\n"


def ratio_error_median(pairs: Sequence[Mapping[str, object]], key: str) -> float:
    """Median |predicted / published - 1| of the pairs' ratios under one setting (`key`: its column)."""
    values = [abs(float(p[key]) / float(p["published"]) - 1.0) for p in pairs]  # type: ignore[arg-type]
    return float(np.median(values)) if values else float("nan")
