"""A chip's calibration between its family's nearest chips: each sibling's calibration weighed by how near its chip is
in figures (hardware.figure_distance), blended field by field, so that a chip's predictions move continuously with its
figures instead of jumping where the nearest sibling changes."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from parity.hardware import Calibration

__all__ = ["NEAR_RATIO", "nearness_weights", "blend"]

# a sibling weighs in while it is under NEAR_RATIO times as far (in log figures) as the nearest: its weight falls
# linearly from that of the nearest (as near) to nothing (NEAR_RATIO times as far), so that the weights, and the blend,
# move continuously as a chip's figures do (an assumption of parity's: no chip between two measured ones measured how
# their efficiencies mix; 2 keeps a chip plainly nearer one sibling, an H20 with HBM3e at 0.18 against the H200's
# 1.90, on that sibling's alone)
NEAR_RATIO = 2.0

# the fractions and times that blend as weighted means (the GEMM tables and decode attention's math rate are blended
# as the rates they price: blend())
_MEANS = ("memory_efficiency", "grouped_gemm_memory_efficiency", "attention_prefill_efficiency",
          "attention_decode_efficiency", "stream_efficiency", "emulation_efficiency", "collective_efficiency",
          "kernel_overhead_s", "collective_latency_factor")


def nearness_weights(distances: Mapping[str, float], ratio: float = NEAR_RATIO) -> dict[str, float]:
    """Weights summing to 1 by distance [log of figures]: max(0, (ratio - d / d_min) / (ratio - 1)) normalised, so that
    the nearest weighs 1 before normalising and one `ratio` times as far or farther nothing; where the nearest is at
    distance 0 it alone weighs (the limit). Infinite distances weigh nothing; {} where every one is. Example: 0.957 and
    0.960 weigh 1 and 2 - 0.960 / 0.957 = 0.99687 (0.50078 and 0.49922); 0.18 and 1.90 weigh 1 and 0."""
    if not ratio > 1:
        raise ValueError(f"nearness_weights: ratio must be > 1, got {ratio}")
    finite = {key: d for key, d in distances.items() if math.isfinite(d)}
    if not finite:
        return {}
    nearest = min(finite.values())
    if nearest <= 0:
        raw = {key: 1.0 for key, d in finite.items() if d <= 0}
    else:
        raw = {key: w for key, d in finite.items() if (w := (ratio - d / nearest) / (ratio - 1)) > 0}
    total = sum(raw.values())
    return {key: w / total for key, w in sorted(raw.items(), key=lambda kv: -kv[1])}


def _grouped(cal: Calibration, math_key: str) -> float:
    """The grouped-GEMM rate `cal` prices `math_key` at, many tokens per expert (its dense GEMM's where it states
    none)."""
    return float(cal.grouped_gemm_efficiency.get(math_key, cal.gemm(math_key)))


def blend(parts: Sequence[tuple[Calibration, float]], *, id: str, basis: str) -> Calibration:
    """The weighted mean of calibrations, field by field, as one that no chip measured (measured false): each fraction
    and time; each GEMM rate a part states (a part that states none of a math key prices it at its default); each
    grouped-GEMM rate a part states (a part that states none, at its dense GEMM's, with no tokens-per-expert fall:
    half_tokens 0); decode attention's math rate as each part prices it (Calibration.attention_decode_math). Weights
    must be positive and sum to 1. It keeps its parts and their weights in `blend` (heaviest first) and moved from the
    heaviest (relative_to: catalog.lineage traces its figures through that one's)."""
    if not parts or any(not w > 0 for _, w in parts) or abs(sum(w for _, w in parts) - 1) > 1e-9:
        raise ValueError(f"blend {id}: weights must be positive and sum to 1, got {[w for _, w in parts]}")
    parts = sorted(parts, key=lambda p: -p[1])
    heaviest = parts[0][0]

    def mean(value) -> float:  # noqa: ANN001 - a function of one calibration
        return sum(w * value(cal) for cal, w in parts)

    gemm_keys = dict.fromkeys(key for cal, _ in parts for key in cal.gemm_efficiency)
    grouped_keys = dict.fromkeys(key for cal, _ in parts for key in cal.grouped_gemm_efficiency)
    return Calibration(
        id=id, chip=heaviest.chip, date=max(cal.date for cal, _ in parts), measured=False, basis=basis,
        method="blend of " + ", ".join(f"{cal.id} ({w:.2f})" for cal, w in parts),
        gemm_efficiency={key: mean(lambda c, k=key: c.gemm(k)) for key in gemm_keys},
        grouped_gemm_efficiency={key: mean(lambda c, k=key: _grouped(c, k)) for key in grouped_keys},
        grouped_gemm_half_tokens=mean(lambda c: c.grouped_gemm_half_tokens if c.grouped_gemm_efficiency else 0.0),
        attention_decode_math_efficiency=mean(lambda c: c.attention_decode_math),
        **{name: mean(lambda c, n=name: getattr(c, n)) for name in _MEANS},
        user_file=next((cal.user_file for cal, _ in parts if cal.user_file), ""),
        relative_to=heaviest.id, blend=tuple(parts))
