"""Measurement sets (data/measurements), the interval table, and what the fits have seen."""

from __future__ import annotations

import csv
import json
from functools import cache
from pathlib import Path
from typing import Any

from parity.catalog.files import data_dir, in_effect, number, read_toml, refuse_unknown, require, shown, text
from parity.catalog.hardware import system
from parity.catalog.models import model
from parity.errors import CatalogError
from parity.hardware import per_die

__all__ = ["measurements", "microbenchmarks", "bands_path", "uncertainty_table", "ratio_uncertainty_table",
           "training_ratio_uncertainty_table", "fitted_chips", "validated_features", "validation_targets", "scale_out_tp_families"]


@cache
def _measurement_rows(name: str) -> tuple[dict[str, str], ...]:
    path = data_dir() / "measurements" / f"{name}.csv"
    if not path.exists():
        known = sorted(p.stem for p in path.parent.glob("*.csv"))
        raise CatalogError(f"unknown measurement set {name!r}; known: {', '.join(known)}")
    with path.open(newline="", encoding="utf-8") as handle:
        return tuple(csv.DictReader(handle))


def measurements(name: str = "serving_aiconfigurator") -> list[dict[str, str]]:
    """Rows of one measurement set (data/measurements/NAME.csv), as text cells."""
    return [dict(row) for row in _measurement_rows(name)]


def microbenchmarks(name: str) -> dict[str, Any]:
    """A microbenchmark file as measured (data/measurements/NAME.json), for `parity calibrate --import`'s reader."""
    path = data_dir() / "measurements" / f"{name}.json"
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as err:
        raise CatalogError(f"{path}: {err}") from err


# the widest quantile of ln(predicted/measured) a bands file may state: parity's widest is 0.91 (MLA TTFT); a band
# past e^1.5 = 4.5x of the prediction is a broken file, not an 80% interval
BAND_LIMIT = 1.5


def _bands(path: Path, labels: tuple[str, ...]) -> dict[str, Any]:
    """A bands file's tables (date, method, [coverage], [[band]] with its `labels`, q_low, q_high, count), every
    key checked: a key the reader does not know, text where a number belongs, a band out of order or past
    BAND_LIMIT is refused naming the file and key; {} where there is no file."""
    if not path.is_file():
        return {}
    data, where = read_toml(path), shown(path)
    refuse_unknown(data, ("date", "method", "coverage", "band"), where, "the top level", "bands-file")
    for key in ("date", "method"):
        text(data.get(key, ""), where, key)
    coverage, bands = data.get("coverage", {}), data.get("band", [])
    if not isinstance(coverage, dict) or not isinstance(bands, list) or not all(isinstance(b, dict) for b in bands):
        raise CatalogError(f"{where}: [coverage] must be a table of numbers and band a list of [[band]] tables")
    for metric, value in coverage.items():
        if not 0 <= number(value, where, f"coverage.{metric}") <= 1:
            raise CatalogError(f"{where}: key coverage.{metric} must be a share in [0, 1], got {value!r}")
    for i, band in enumerate(bands, 1):
        at = f"band[{i}]"
        refuse_unknown(band, (*labels, "q_low", "q_high", "count"), where, f"[[band]] {i}", "band")
        for key in labels:
            text(require(band, key, f"{where} {at}"), where, f"{at}.{key}")
        low, high = (number(require(band, key, f"{where} {at}"), where, f"{at}.{key}") for key in ("q_low", "q_high"))
        if not -BAND_LIMIT <= low <= high <= BAND_LIMIT:
            raise CatalogError(f"{where}: {at} must hold -{BAND_LIMIT} <= q_low <= q_high <= {BAND_LIMIT} (quantiles "
                               f"of ln(predicted/measured)), got q_low {low}, q_high {high}")
        count = require(band, "count", f"{where} {at}")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise CatalogError(f"{where}: key {at}.count must be a whole number >= 0, got {count!r}")
    return data


def bands_path(model_kind: str = "steady") -> Path:
    """The bands file in effect for a model (`steady` or `sim`): the user's refit in user_dir(), else parity's."""
    return in_effect("uncertainty_sim.toml" if model_kind == "sim" else "uncertainty.toml")


@cache
def uncertainty_table(model_kind: str = "steady") -> dict[str, Any]:
    """The prediction-interval bands of the steady-state model (data/uncertainty.toml) or of the simulator
    (model_kind 'sim': data/uncertainty_sim.toml), or the user's refit in user_dir(), written by
    `parity validate --fit` (the simulator's; with --model-kind steady the steady model's), or {}; checked (_bands)."""
    return _bands(bands_path(model_kind), ("metric", "kind"))


@cache
def validation_targets() -> dict[str, Any]:
    """The tolerances parity's predictions are held to on each measurement set
    (data/measurements/targets.toml), by section."""
    return read_toml(data_dir() / "measurements" / "targets.toml")


@cache
def ratio_uncertainty_table() -> dict[str, Any]:
    """Bands per chip vendor for ratios between chips (data/ratio_uncertainty.toml, written by
    `parity validate --fit-stacks`, or the user's refit of it in user_dir()), or {}."""
    return _bands(in_effect("ratio_uncertainty.toml"), ("vendor",))


@cache
def training_ratio_uncertainty_table() -> dict[str, Any]:
    """Bands per chip vendor for training ratios between chips (data/training_ratio_uncertainty.toml, written by
    `parity validate --fit-stacks`, or the user's refit of it in user_dir()), or {}."""
    return _bands(in_effect("training_ratio_uncertainty.toml"), ("vendor",))


@cache
def fitted_chips() -> frozenset[str]:
    """Chips whose serving behaviour was fitted: those of the calibration rows of the measurements."""
    rows = measurements()
    return frozenset(system(r["system"]).chip.id for r in rows if r.get("split") == "calibration")


@cache
def training_families() -> frozenset[str]:
    """Chip families the published training runs were measured on (training_published.csv, every split): where
    parity's training predictions have been checked."""
    return frozenset(system(r["system"]).chip.family for r in measurements("training_published"))


@cache
def training_features() -> frozenset[str]:
    """Architecture features (Model.features) of the models the scored published training runs trained
    (training_published.csv, its reference row aside): the make-up parity's training predictions have been checked
    on. The shipped rows' GPT, Llama, Qwen3 and DeepSeek-V3 stacks carry mla, moe, mtp and qk_norm."""
    rows = [r for r in measurements("training_published") if r.get("split") != "reference"]
    return frozenset().union(*(model(name).features for name in {r["model"] for r in rows}))


@cache
def scale_out_tp_families() -> frozenset[str]:
    """Chip families a scored serving row (serving_published.csv, serving_aiconfigurator.csv, every split) ran a
    tensor-parallel group wider than its system's scale-up domain on (DeepSeek-R1's TP 16 workers over two 8-GPU
    H100 nodes): where an all-reduce run hierarchically over scale-out has been checked. The domain is counted in
    ranks of a die (hardware.per_die), as a multi-die package is served."""
    widest: dict[str, int] = {}  # system -> the widest TP group a row ran on it
    for row in measurements("serving_published") + measurements("serving_aiconfigurator"):
        sizes = [int(size) for size in (row.get(k) or "" for k in ("tp", "prefill_tp", "decode_tp")) if size.isdigit()]
        widest[row["system"]] = max([widest.get(row["system"], 1), *sizes])
    return frozenset(system(name).chip.family for name, tp in widest.items()
                     if tp > per_die(system(name)).scale_up_domain_chips)


def measured_gemm_formats(rows: tuple[str, ...]) -> frozenset[str]:
    """The GEMM math keys (bf16, fp8, int8...) that published kernel figures among `rows` (a calibration's fitting
    rows) measure: a fitted calibration's other GEMM keys were moved with these, not measured. Empty where no row
    is a kernels_published.csv GEMM figure (a calibration measured another way, or a prior)."""
    return _gemm_formats_of(frozenset(rows))


@cache
def _gemm_formats_of(rows: frozenset[str]) -> frozenset[str]:
    kinds = {r["case_id"]: r["kind"] for r in measurements("kernels_published")}
    # an FP4 layer timed beside FP8 at the same shape (gemm_fp4_of_fp8) measures the FP4 rate
    return frozenset(kinds[r].removeprefix("gemm_").removesuffix("_fraction").removesuffix("_of_fp8") for r in rows
                     if kinds.get(r, "").startswith("gemm_") and kinds[r] != "gemm_memory")


@cache
@cache  # of the stored rows and catalog models, asked once per prediction's flags
def validated_features(fitted: bool = True) -> frozenset[str]:
    """Architecture features of the models the fit has seen (calibration rows; `fitted` False: of every scored row,
    the never-fitted ones included), MTP decoding included when such a row decoded with it."""
    rows = [r for r in measurements() if not fitted or r.get("split") == "calibration"]
    features: set[str] = set()
    for name in {r["model"] for r in rows}:
        features |= model(name).features
    # a checkpoint's MTP layers count only if such a run decoded with them
    decoded = any(int(r.get("mtp_tokens") or 0) > 0 for r in rows)
    return frozenset(features if decoded else features - {"mtp"})
