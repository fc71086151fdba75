"""Engine profiles per software stack, fitted on that stack's calibration rows of serving_published.csv (relative to
the NVIDIA twin where the source ran the same work on both), and their TOML."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from parity import catalog
from parity.crossvendor.setting import Setting
from parity.engine import EngineProfile, stack_prior
from parity.optimize import nelder_mead
from parity.validate import published_errors, unfitted

__all__ = ["STACK_PARAMETERS", "STACK_PRIOR_WEIGHT", "stack_rows", "twin_offsets", "fit_stack", "stack_loss",
           "stack_toml"]

# what a stack profile moves (kernel quality, tensor-parallel all-reduce and per-step cost of the engine on that
# stack), with bounds. collective_scale: under CUDA's vLLM profile, the step time AMD's TP8 offline tables take beyond
# the prediction is 107 us a sequence for Llama-3.1-405B (AMD-003) and 34 us for 70B (AMD-001): 3.1x, as the
# all-reduce bytes a token (126 x 2 x 16,384 x 2 B over 80 x 2 x 8,192 x 2 B: 3.15x), not the FLOPs (5.8x); and
# MLPerf's MI300X engines, TP1 (no all-reduce), are predicted within 27% by CUDA's GEMM scale, 43% under by 0.5
STACK_PARAMETERS: dict[str, tuple[float, float]] = {
    "gemm_scale": (0.1, 1.2), "memory_scale": (0.2, 1.05), "step_overhead_s": (0.05e-3, 30e-3),
    "collective_scale": (0.1, 1.0)}
# the stack's prior is its base engine's profile as engine.stack_prior carries it to the stack (CUDA's host side, the
# vendor libraries' kernel rates), until the stack's rows say otherwise: with the
# rows' summed |log error| as the fit's likelihood term, each parameter costs this much per unit of
# |ln(value / base value)| (a Laplace prior, so its pull on the mean loss is STACK_PRIOR_WEIGHT / rows): three rows
# cannot swing a parameter 5x to gain a few hundredths of their mean |log error| (sglang-rocm's gemm_scale went
# 1.13 -> 0.21 on its 3 rows without it), while 22 rows move it nearly freely
STACK_PRIOR_WEIGHT = 0.15


def stack_rows(rows: Iterable[Mapping[str, str]], engine: str, stack: str) -> list[Mapping[str, str]]:
    """The calibration rows of one engine on one software stack."""
    return [r for r in rows if r.get("split") == "calibration" and (r.get("engine") or "generic") == engine
            and catalog.system(r["system"]).chip.software_stack == stack]


def twin_offsets(rows: Sequence[Mapping[str, str]], setting: Setting) -> dict[str, float]:
    """ln(predicted/measured) of each row's NVIDIA twin (case_id + '-nv') under a setting, by the row's id."""
    twins = [r for r in rows if r["case_id"].endswith("-nv")]
    return {e.case_id.removesuffix("-nv"): math.log(e.predicted / e.measured)
            for e in published_errors(twins, hook=setting.apply)}


def _loss(rows: Sequence[Mapping[str, str]], setting: Setting, offsets: Mapping[str, float]) -> float:
    """Mean |ln(predicted/measured)|, less the twin's where the source ran the same work on NVIDIA: such a
    row fits the ratio between the vendors, so what one source's setup costs both cancels."""
    errors = published_errors(rows, hook=setting.apply)
    logs = [abs(math.log(e.predicted / e.measured) - offsets.get(e.case_id, 0.0)) for e in errors]
    return float(np.mean(logs)) + 3.0 * (len(rows) - len(errors)) / max(len(rows), 1) if logs else 3.0


def fit_stack(base: EngineProfile, stack: str, rows: Sequence[Mapping[str, str]], setting: Setting,
              iterations: int = 60, twins: Sequence[Mapping[str, str]] = ()) -> tuple[EngineProfile, float, float]:
    """The profile of `base`'s engine on `stack` that best fits `rows` (mean absolute log error of the
    published figures, relative to the NVIDIA twin among `twins` where one exists), moving
    STACK_PARAMETERS from base's values at STACK_PRIOR_WEIGHT / len(rows) per unit of log distance from them:
    (profile, loss before, loss after), the losses without the prior's term. The prior is base's profile as
    engine.stack_prior carries it to `stack` (its kernel-quality multipliers at the vendor libraries' 1). With fewer
    rows than STACK_PARAMETERS (validate.unfitted) the prior itself: which of the four a short stack should move is
    nothing its rows can say, and the prior's pull already holds them there (sglang-rocm's 3 rows: 0.234 -> 0.234)."""
    base = stack_prior(base, stack)
    names = list(STACK_PARAMETERS)
    lows = np.log([STACK_PARAMETERS[n][0] for n in names])
    highs = np.log([STACK_PARAMETERS[n][1] for n in names])
    offsets = twin_offsets(twins, setting)

    def profile_at(x: np.ndarray) -> EngineProfile:
        values = np.exp(np.clip(x, lows, highs))
        return dataclasses.replace(base, id=f"{base.id}-{stack}", name=f"{base.name} on {stack}", stack=stack,
                                   base=base.id, rows=tuple(r["case_id"] for r in rows),
                                   **{n: float(v) for n, v in zip(names, values)})

    def with_profile(profile: EngineProfile) -> Setting:
        return dataclasses.replace(setting, engines={**setting.engines, (base.id, stack): profile})

    start = np.log([min(max(getattr(base, n), STACK_PARAMETERS[n][0] * 1.01), STACK_PARAMETERS[n][1]) for n in names])
    prior = STACK_PRIOR_WEIGHT / max(len(rows), 1)

    def objective(x: np.ndarray) -> float:
        return (_loss(rows, with_profile(profile_at(x)), offsets) + prior * float(np.sum(np.abs(x - start)))
                + float(np.sum(np.maximum(x - highs, 0) + np.maximum(lows - x, 0))))

    if unfitted(len(rows), len(names)):
        kept = dataclasses.replace(profile_at(start), **{n: getattr(base, n) for n in names})
        before = _loss(rows, with_profile(kept), offsets)
        return kept, before, before
    before = _loss(rows, with_profile(profile_at(start)), offsets)
    best, _ = nelder_mead(objective, start, iterations=iterations)
    fitted = profile_at(best)
    return fitted, before, _loss(rows, with_profile(fitted), offsets)


def stack_loss(profile: EngineProfile, rows: Sequence[Mapping[str, str]], setting: Setting,
               twins: Sequence[Mapping[str, str]] = ()) -> float:
    """fit_stack's loss (without the prior's term) of a stack profile as it is, on `rows`: what a refit on the same
    rows must beat to replace it."""
    engines = {**setting.engines, (profile.base, profile.stack): profile}
    return _loss(rows, dataclasses.replace(setting, engines=engines), twin_offsets(twins, setting))


def stack_toml(profile: EngineProfile, before: float, after: float, date: str) -> str:
    """A stack profile as TOML: the base profile's sections with the fitted values, and the stack, base and rows."""
    from parity.validate import engine_toml  # the same writer as the CUDA profiles
    short = unfitted(len(profile.rows), len(STACK_PARAMETERS))
    method = (f"refit of {profile.base}'s {', '.join(STACK_PARAMETERS)} on {len(profile.rows)} calibration rows of "
              f"serving_published.csv run on {profile.stack} (mean absolute log error of the published figures: "
              f"{before:.3f} before, {after:.3f} after); every other value is {profile.base}'s")
    if short:
        method = (f"{', '.join(STACK_PARAMETERS)} not refitted: {short} (calibration rows of serving_published.csv "
                  f"run on {profile.stack}; mean absolute log error of the published figures {before:.3f}), so every "
                  f"value is {profile.base}'s as engine.stack_prior carries it to {profile.stack}")
    return engine_toml(profile, len(profile.rows), before, after, date, method=method,
                       source="parity validate --fit-stacks (measurements/serving_published.csv)")
