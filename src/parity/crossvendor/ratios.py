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
from parity.uncertainty import SMALL_SAMPLE_ROWS, Band, bands_from, ratio_band, ratio_interval
from parity.validate import CaseError, published_errors

__all__ = ["RatioCheck", "ratio_checks", "chip_of", "vendor_bands", "bands_toml", "ratio_error_median",
           "pair_intervals", "interval_coverage", "coverage_words"]


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


def vendor_bands(errors: Iterable[CaseError], decode_only: bool = True, minimum: int = 5) -> dict[str, Band]:
    """80% bands of ln(predicted/measured) per chip vendor from cross-source residuals (of decode figures, or of
    every error given where not `decode_only`: training runs); every catalog vendor gets one (bands_from: at least
    the pooled band's width where it has fewer than SMALL_SAMPLE_ROWS rows, the widest measured band where it has
    fewer than `minimum`)."""
    residuals: dict[str, list[float]] = {c.vendor: [] for c in catalog.chips() if not c.user_file}  # parity's alone
    for e in errors:
        if not decode_only or metric_kind(e.metric) == "decode":
            residuals[catalog.system(e.system).chip.vendor].append(math.log(e.predicted / e.measured))
    return bands_from(residuals, minimum)


DECODE_BANDS = ("10th-90th percentiles of ln(predicted/measured) of published decode figures, each scored by the "
                "steady-state model leaving its source out of every fit (parity validate --by source, whose own table "
                "prices closed-loop figures by the simulator), per chip vendor; vendors with fewer than "
                f"{SMALL_SAMPLE_ROWS} rows at least as wide as the pooled band of every vendor's rows, and those with "
                "fewer than 5 the widest band")


def bands_toml(bands: Mapping[str, Band], date: str, method: str = DECODE_BANDS) -> str:
    """data/ratio_uncertainty.toml (or, with the training method, data/training_ratio_uncertainty.toml): a band per
    vendor (count 0: no rows of its own, the widest band)."""
    lines = [f'date = "{date}"', f'method = "{method}"']
    for vendor, band in sorted(bands.items()):
        lines += ["", "[[band]]", f'vendor = "{vendor}"', f"q_low = {band.q_low:.6f}", f"q_high = {band.q_high:.6f}",
                  f"count = {band.count}"]
    return "\n".join(lines) + "\n"


def ratio_error_median(pairs: Sequence[Mapping[str, object]], key: str) -> float:
    """Median |predicted / published - 1| of the pairs' ratios under one setting (`key`: its column; pairs it gave no
    ratio, NaN or absent, left out)."""
    values = [abs(float(p.get(key, math.nan)) / float(p["published"]) - 1.0) for p in pairs]  # type: ignore[arg-type]
    values = [v for v in values if not math.isnan(v)]
    return float(np.median(values)) if values else float("nan")


def pair_intervals(pairs: Sequence[Mapping[str, object]], residuals: Iterable[tuple[str, CaseError]],
                   key: str = "left_out", never_measured: bool = False) -> list[dict[str, object]]:
    """Each decode pair with the 80% interval `parity compare` would print around its ratio `key` (the left-out
    prediction by default), built as compare builds it (ratio_interval over vendor_bands, widened by ratio_band) but
    from `residuals` ((source_id, error) of rows scored with their group left out) of every source but the pair's own:
    the interval never saw the pair. `never_measured`: the pair's first chip is priced as of a vendor parity never
    measured (`key` priced with its kernel figures left out too), so its vendor's residuals are left out as well (its
    band is the widest, as compare gives a vendor with none) and it widens as ratio_band widens a chip on a prior.
    Writes {key}_low, {key}_high and {key}_inside (interval_low, interval_high and inside for 'left_out'): whether
    the published ratio lies inside; prefill pairs (compare's intervals are of decode figures), and pairs without a
    prediction, get NaN and None."""
    residuals = list(residuals)
    names = ("interval_low", "interval_high", "inside") if key == "left_out" else (f"{key}_low", f"{key}_high",
                                                                                   f"{key}_inside")
    nan = float("nan")
    out = []
    for pair in pairs:
        ratio = float(pair[key])  # type: ignore[arg-type]
        interval, inside = (nan, nan), None
        if metric_kind(str(pair["metric"])) == "decode" and ratio == ratio:
            a, b = chip_of(str(pair["a"])), chip_of(str(pair["b"]))
            unseen = a.vendor if never_measured else ""
            bands = vendor_bands(e for source, e in residuals if source != pair["source_id"]
                                 and chip_of(e.system).vendor != unseen)
            band = ratio_band(bands[a.vendor], a, catalog.prior_calibration() if never_measured
                              else catalog.calibration(a))
            interval = ratio_interval(ratio, band, ratio_band(bands[b.vendor], b, catalog.calibration(b)))
            inside = interval[0] <= float(pair["published"]) <= interval[1]  # type: ignore[arg-type]
        out.append({**pair, names[0]: interval[0], names[1]: interval[1], names[2]: inside})
    return out


def interval_coverage(pairs: Sequence[Mapping[str, object]], inside: str = "inside") -> tuple[int, int]:
    """(pairs whose published ratio lies inside their interval, pairs with an interval) of pair_intervals' rows
    (`inside`: the column, e.g. 'kernels_too_inside')."""
    judged = [p[inside] for p in pairs if p.get(inside) is not None]
    return sum(bool(x) for x in judged), len(judged)


def coverage_words(pairs: Sequence[Mapping[str, object]], column: str = "inside") -> str:
    """'24 of 33 (73%)': pair_intervals' pairs whose published ratio lies inside their interval ('none' judged)."""
    inside, judged = interval_coverage(pairs, column)
    return f"{inside} of {judged} ({inside / judged:.0%})" if judged else "none"
