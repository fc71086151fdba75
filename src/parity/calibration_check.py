"""What a measured calibration buys, checked on data it was not fitted on.

Two checks for one chip, each against two baselines: the datasheet roofline (every peak reached, no
per-kernel cost: what a spec-sheet estimate assumes) and the generic prior (what parity uses for a chip
without measurements).

- Kernels: the microbenchmark points are split in two by a stable hash of their labels; a calibration
  is fitted on one half from the roofline and scored on the other half's kernel times.
- Serving: published throughputs on the chip's systems, and measured serving points (TTFT, TPOT) on
  chips of the same silicon, predicted with each calibration in place of the catalog's.

The generic prior was itself shaped by parity's H200 measurements (see data/calibration/generic.toml),
so for the H200 the honest "before" is the roofline; the prior column shows how much of the gain the
prior already carries to chips nobody has measured.
"""

from __future__ import annotations

import dataclasses
import hashlib
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from parity import catalog
from parity.calibrate import Point, fit_calibration, point_times, points_from_benchmark
from parity.hardware import Calibration, Chip
from parity.predict import predict_scenarios
from parity.validate import CaseError, case_errors, published_errors, scenarios_of

__all__ = ["KernelCheck", "ServingCheck", "REFERENCE_MICROBENCHMARKS", "reference_points", "roofline_calibration",
           "split_points", "kernel_check", "campaign_check", "sweep_points", "serving_check", "GPU_SWEEP",
           "GPU_SWEEP_EAGER", "H100_SWEEP", "LAUNCH_BOUND_S"]

REFERENCE_MICROBENCHMARKS = ("h200_microbench", "h200_moe_microbench")  # data/measurements, one H200 SXM
GPU_SWEEP = "h200_parity_sweep"  # data/measurements: `parity calibrate` run on another H200 SXM (CUDA graphs)
GPU_SWEEP_EAGER = "h200_parity_sweep_eager"  # the same machine and plan, `parity calibrate --eager`
H100_SWEEP = "h100_parity_sweep"  # the same plan on an H100 SXM (CUDA graphs; `--eager`: h100_parity_sweep_eager)

BASELINES = ("roofline", "prior", "measured")


@dataclass(frozen=True, slots=True)
class KernelCheck:
    """Median |predicted/measured - 1| of kernel times of one kind, on points the fit did not see."""

    kind: str
    fitted_points: int
    scored_points: int
    roofline_error: float
    prior_error: float
    measured_error: float


@dataclass(frozen=True, slots=True)
class ServingCheck:
    """Median |predicted/measured - 1| of one metric over a group of serving rows, per calibration."""

    group: str
    metric: str
    rows: int
    roofline_error: float
    prior_error: float
    measured_error: float


def roofline_calibration(chip: Chip) -> Calibration:
    """The datasheet roofline as a calibration: every efficiency 1, no per-kernel cost."""
    generic = catalog.prior_calibration()
    ones = {name: 1.0 for name in ("memory_efficiency", "grouped_gemm_memory_efficiency", "attention_prefill_efficiency",
                                   "attention_decode_efficiency", "stream_efficiency", "emulation_efficiency",
                                   "collective_efficiency")}
    return dataclasses.replace(generic, id=f"{chip.id}-roofline", chip=chip.id, measured=False, kernel_overhead_s=0.0,
                               gemm_efficiency={k: 1.0 for k in generic.gemm_efficiency}, points=(),
                               method="datasheet roofline: every peak reached, no per-kernel cost", **ones)


def sweep_points(eager: bool = False, name: str = GPU_SWEEP) -> list[Point]:
    """The 282 points of the `parity calibrate` sweep measured on a real H200 (`name`: another chip's run, such as
    H100_SWEEP), timed as CUDA-graph replays (the default) or as eager launches (`--eager`, the file NAME_eager)."""
    return points_from_benchmark(catalog.microbenchmarks(f"{name}_eager" if eager else name))


def reference_points() -> list[Point]:
    """The 503 points of parity's H200 reference microbenchmarks, as `parity calibrate --import` reads them."""
    return [p for name in REFERENCE_MICROBENCHMARKS for p in points_from_benchmark(catalog.microbenchmarks(name))]


def split_points(points: Sequence[Point]) -> tuple[list[Point], list[Point]]:
    """(fit, held out): a stable split by label, about half each."""
    fit, held = [], []
    for p in points:
        digest = hashlib.sha256(f"{p.kind}:{p.label}".encode()).digest()
        (fit if digest[0] % 2 == 0 else held).append(p)
    return fit, held


def _kernel_errors(points: Sequence[Point], chip: Chip, cal: Calibration) -> np.ndarray:
    return np.abs(point_times(points, chip, cal) / np.array([p.seconds for p in points]) - 1.0)


def kernel_check(chip: Chip, points: Sequence[Point], iterations: int = 300) -> list[KernelCheck]:
    """Fit on half the points from the roofline; score all three calibrations on the other half, per kind."""
    fit, held = split_points(points)
    return _score(chip, fit, held, _fit(chip, fit, iterations))


LAUNCH_BOUND_S = 100e-6  # kernels shorter than this measure the harness's launch cost as much as the chip


def campaign_check(chip: Chip, fit: Sequence[Point], held: Sequence[Point], iterations: int = 300,
                   min_seconds: float = 0.0, scored_chip: Chip | None = None) -> list[KernelCheck]:
    """Fit on every point of one measurement campaign from the roofline; score on another campaign made
    separately on the same chip (other runs, other shapes), or on `scored_chip` (a chip of the same family, which
    inherits `chip`'s efficiencies: the check of that inheritance), per kind of kernel the two share, on the
    kernels that took at least `min_seconds` there. Eager launches timed with CUDA events cost 24-38 us
    on the H200 machines parity measured, CUDA-graph replays about 8: the short kernels of two campaigns
    differ by the host and the timing, the long ones by the chip."""
    kinds = {p.kind for p in fit}
    return _score(scored_chip or chip, fit, [p for p in held if p.kind in kinds and p.seconds >= min_seconds],
                  _fit(chip, fit, iterations))


def _fit(chip: Chip, fit: Sequence[Point], iterations: int) -> Calibration:
    measured, _, _ = fit_calibration(chip, fit, roofline_calibration(chip), "check", "held-out check", "check",
                                     iterations=iterations)
    return measured


def _score(chip: Chip, fit: Sequence[Point], held: Sequence[Point], measured: Calibration) -> list[KernelCheck]:
    """Median errors per kind (and over all) of the roofline, the prior and `measured` on `held`."""
    roof, prior = roofline_calibration(chip), catalog.prior_calibration()
    out = []
    kinds = sorted({p.kind for p in held})
    for kind in [*kinds, "all"]:
        scored = [p for p in held if kind in (p.kind, "all")]
        errors = [float(np.median(_kernel_errors(scored, chip, cal))) for cal in (roof, prior, measured)]
        out.append(KernelCheck(kind, sum(1 for p in fit if kind in (p.kind, "all")), len(scored), *errors))
    return out


def _median_errors(errors: Sequence[CaseError]) -> dict[tuple[str, str], list[float]]:
    groups: dict[tuple[str, str], list[float]] = {}
    for e in errors:
        groups.setdefault((e.system, e.metric), []).append(abs(e.predicted / e.measured - 1.0))
    return groups


def serving_check(chip: Chip, measured: Calibration, published: Sequence[Mapping[str, str]],
                  points: Sequence[Mapping[str, str]], same_silicon: Sequence[str]) -> list[ServingCheck]:
    """Published rows on the chip's systems and never-fitted serving points on `same_silicon` systems,
    predicted with the roofline, the prior and the measured calibration (each applied to those chips).
    The NVIDIA twins of other vendors' rows (case ids ending in -nv) are left to `parity validate --by
    source`: they measure one source's setup on both vendors, not this chip's calibration."""
    roof = roofline_calibration(chip)
    prior = catalog.prior_calibration()
    own = [r for r in published
           if catalog.system(r["system"]).chip.id == chip.id and not r["case_id"].endswith("-nv")]
    pairs = [(r, s) for r, s in scenarios_of(points)
             if r["system"] in same_silicon and r.get("split") in ("holdout", "unseen")]
    per_cal = []
    for cal in (roof, prior, measured):
        errors = list(published_errors(own, dataclasses.replace(cal, chip=chip.id)))
        scenarios = [dataclasses.replace(s, calibration=dataclasses.replace(cal, chip=s.system.chip.id))
                     for _, s in pairs]
        errors += case_errors([r for r, _ in pairs], predict_scenarios(scenarios))
        per_cal.append(_median_errors(errors))
    out = []
    for key in sorted(per_cal[0]):
        values = [statistics.median(groups[key]) if groups.get(key) else float("nan") for groups in per_cal]
        out.append(ServingCheck(key[0], key[1], len(per_cal[0][key]), *values))
    return out
