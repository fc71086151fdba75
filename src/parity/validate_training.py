"""Published training throughput against predicted: the rows of measurements/training_published.csv.

Every row keeps the figure as its source states it (model TFLOP/s per GPU by Megatron's formula,
MFU, an iteration time, GPU-hours per token, tokens/s per GPU); `measured_tokens_per_s_per_chip`
converts it to tokens/s per chip with the source's own FLOP convention, so that one metric,
"tokens_per_s_per_chip", is scored. Rows marked calibration fit the training profile; `reference`
rows are listed but never scored (their layout or convention is not published).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from parity import catalog, tomlwrite
from parity.engine import TrainingProfile
from parity.errors import InfeasiblePlan, ParityError
from parity.hardware import Calibration
from parity.model import Model
from parity.training import TrainingLayout, TrainingResult, model_flops_per_token, train_step
from parity.validate import CaseError, nelder_mead

__all__ = ["MEASUREMENTS", "METRIC", "TRAINING_FIT_PARAMETERS", "TrainingCase", "training_cases", "megatron_eq3_flops_per_token",
           "measured_tokens_per_s_per_chip", "predict_case", "training_case_errors", "fit_training_profile",
           "training_profile_toml", "training_source_id"]

MEASUREMENTS = "training_published"
METRIC = "tokens_per_s_per_chip"
# profile factors the fit may move, with their bounds
TRAINING_FIT_PARAMETERS: dict[str, tuple[float, float]] = {"gemm_scale": (0.5, 1.3),
                                                             "moe_permute_scale": (0.5, 50.0)}


def megatron_eq3_flops_per_token(model: Model, seq_len: float) -> float:
    """[FLOP] per token by Narayanan et al. 2021 Eq. 3, F = 96 B s l h^2 (1 + s/(6h) + V/(16 l h)) per
    iteration of B sequences: 4 passes (forward, backward, recomputed forward) over GPT layers and the
    logit layer, divided by the B s tokens."""
    h, layers, vocab = float(model.hidden_size), float(model.num_layers), float(model.vocab_size)
    return 96.0 * layers * h * h * (1.0 + seq_len / (6.0 * h) + vocab / (16.0 * layers * h))


def measured_tokens_per_s_per_chip(row: Mapping[str, str], model: Model, peak_bf16_flop_per_s: float) -> float:
    """The row's published figure as tokens/s per chip, by the source's own convention."""
    value, unit = float(row["measured_value"]), row["measured_unit"]
    chips, seq = float(row["chips"]), float(row["seq_len"])
    if unit == "tokens_per_s_per_chip":
        return value
    if unit == "megatron_eq3_flop_per_s_per_chip":
        return value / megatron_eq3_flops_per_token(model, seq)
    if unit == "palm_flop_per_s_per_chip":
        return value / float(model_flops_per_token(model, seq))
    if unit == "mfu_palm":
        return value * peak_bf16_flop_per_s / float(model_flops_per_token(model, seq))
    if unit == "iteration_s":
        return float(row["global_batch"]) * seq / (value * chips)
    if unit == "chip_hours_per_token":
        return 1.0 / (value * 3600.0)
    raise ParityError(f"{row['case_id']}: unknown measured_unit {unit!r}")


def training_source_id(row: Mapping[str, str]) -> str:
    """The row's source: its `source_id` column where the file has one, else the first word of its case id
    (training_published.csv names every case after its source: megatron2021-..., bridge2509-..., palm-...)."""
    return (row.get("source_id") or "").strip() or row["case_id"].split("-")[0]


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainingCase:
    """One published training measurement, resolved against the catalog."""

    row: Mapping[str, str]
    model: Model
    layout: TrainingLayout
    measured: float

    @property
    def case_id(self) -> str:
        return self.row["case_id"]

    @property
    def split(self) -> str:
        return self.row["split"]


def _int(row: Mapping[str, str], key: str, default: int) -> int:
    text = (row.get(key) or "").strip()
    return int(float(text)) if text else default


def training_cases(rows: Sequence[Mapping[str, str]] | None = None) -> list[TrainingCase]:
    """Every row that resolves (model, system and layout); a row that does not raises ParityError."""
    out = []
    for row in rows if rows is not None else catalog.measurements(MEASUREMENTS):
        model = catalog.model(row["model"])
        system = catalog.system(row["system"])
        layout = TrainingLayout(tp=_int(row, "tp", 1), pp=_int(row, "pp", 1), cp=_int(row, "cp", 1), dp=_int(row, "dp", 1),
                                ep=_int(row, "ep", 1), etp=_int(row, "etp", 0), virtual_stages=_int(row, "vp", 1),
                                zero=_int(row, "zero", 1), recompute=row.get("recompute") or "none",
                                micro_batch=_int(row, "micro_batch", 1), global_batch=_int(row, "global_batch", 1),
                                seq_len=_int(row, "seq_len", 2048), precision=row.get("precision") or "bf16",
                                flash_attention=(row.get("attention") or "flash") == "flash",
                                dropout=(row.get("dropout") or "false").lower() == "true",
                                grad_overlap=row.get("grad_overlap") or "overlap",
                                pp_layout=(row.get("pp_layout") or "").strip(),
                                moe_dispatcher=(row.get("moe_dispatcher") or "").strip() or "alltoall")
        layout.check(model, _int(row, "chips", 1), system.chip.dies)  # chips count packages, a rank a die
        out.append(TrainingCase(row=row, model=model, layout=layout,
                                measured=measured_tokens_per_s_per_chip(row, model, system.chip.peak("bf16"))))
    return out


def predict_case(case: TrainingCase, profile: TrainingProfile,
                 calibrations: Mapping[str, Calibration] | None = None) -> TrainingResult:
    """The training step of a case on its system, with the given profile and its chip's calibration
    (`calibrations` by chip id where given, else the catalog's)."""
    system = catalog.system(case.row["system"])
    calibration = (calibrations or {}).get(system.chip.id) or catalog.calibration(system.chip)
    return train_step(case.model, system, case.layout.chips // system.chip.dies, case.layout, calibration, profile)


def training_case_errors(profile: TrainingProfile | None = None, cases: Sequence[TrainingCase] | None = None,
                         calibrations: Mapping[str, Calibration] | None = None) -> list[CaseError]:
    """Measured against predicted tokens/s per chip for every training row (all splits; score the holdout);
    `calibrations`: chip calibrations by chip id in place of the catalog's."""
    prof = profile or catalog.training_profile()
    out = []
    for case in cases if cases is not None else training_cases():
        predicted = float(predict_case(case, prof, calibrations).tokens_per_s_per_chip)
        out.append(CaseError(case_id=case.case_id, split=case.split, system=case.row["system"], engine=prof.id,
                             model=case.row["model"], mode=case.layout.precision, metric=METRIC,
                             measured=case.measured, predicted=predicted))
    return out


def fit_training_profile(profile: TrainingProfile, cases: Sequence[TrainingCase],
                         parameters: Sequence[str] = tuple(TRAINING_FIT_PARAMETERS),
                         progress: Callable[[float], None] | None = None,
                         calibrations: Mapping[str, Calibration] | None = None) -> tuple[TrainingProfile, float, float]:
    """The profile minimising the mean absolute log error on `cases` (calibration rows): (fitted, before, after)."""
    chosen = [c for c in cases if c.split == "calibration"]
    if not chosen:
        raise InfeasiblePlan("no calibration rows to fit the training profile on")
    lows = np.log([TRAINING_FIT_PARAMETERS[p][0] for p in parameters])
    highs = np.log([TRAINING_FIT_PARAMETERS[p][1] for p in parameters])

    def at(x: np.ndarray) -> TrainingProfile:
        values = np.exp(np.clip(x, lows, highs))
        return dataclasses.replace(profile, **{p: float(v) for p, v in zip(parameters, values)})

    def loss(prof: TrainingProfile) -> float:
        errors = training_case_errors(prof, chosen, calibrations)
        return float(np.mean([abs(math.log(e.predicted / e.measured)) for e in errors]))

    def objective(x: np.ndarray) -> float:
        value = loss(at(x))
        if progress:
            progress(value)
        return value + float(np.sum(np.maximum(x - highs, 0) + np.maximum(lows - x, 0)))

    start = np.clip(np.log([max(getattr(profile, p), 1e-30) for p in parameters]), lows, highs)
    before = loss(profile)
    best, after = nelder_mead(objective, start, step=0.3, iterations=80)
    return at(best), before, after


def training_profile_toml(text: str, profile: TrainingProfile, rows: int, before: float, after: float, date: str,
                          parameters: Sequence[str] = tuple(TRAINING_FIT_PARAMETERS),
                          row_ids: Sequence[str] = ()) -> str:
    """`text` (the current training.toml) with the fitted factors, date and method rewritten in place; the
    method names the calibration rows (`row_ids`) where given."""
    named = f" ({', '.join(row_ids)})" if row_ids else ""
    method = (f"Nelder-Mead fit of {', '.join(parameters)} on the {rows} calibration rows of "
              f"measurements/{MEASUREMENTS}.csv{named}, minimising the mean absolute log error of tokens/s per chip: "
              f"{before:.3f} before, {after:.3f} after; every other factor is the documented prior")
    values: dict[str, object] = {"date": date, "measured": True, "method": method}
    for name in parameters:  # durations are stored with their unit, as catalog reads them
        value = getattr(profile, name)
        if name.endswith("_s"):
            values[name.removesuffix("_s")] = f"{value * 1e3:.4f} ms"
        else:
            values[name] = round(value, 4)
    return tomlwrite.replace_values(text, values)
