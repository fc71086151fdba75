"""A system's fused MoE dispatch/combine latencies fitted on published op-level times.

A fused dispatch or combine inside a scale-up domain costs its hop and its bytes over the links
(`cost.collective_s` with the fused latencies at zero) plus a per-call latency L and a per-peer-die
latency p: t = base + L + p (ranks - 1), one rank per die. Given measured times of such calls on one
system, L and p are the least-squares line through the residuals (measured - base) against the peer
count, with p >= 0: where the line falls with more peers (or all rows share one group size), p is 0
and L the mean residual (the constrained least-squares optimum).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np

from parity.cost import collective_s
from parity.errors import ParityError
from parity.hardware import System, per_die

__all__ = ["FusedFit", "fused_base_s", "fit_fused_latency"]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FusedFit:
    """latency_s [s] per call and peer_latency_s [s] per other die of the group; the rows that fitted them."""

    latency_s: float
    peer_latency_s: float
    rows: tuple[str, ...]


def fused_base_s(row: Mapping[str, str], system: System, efficiency: float) -> float:
    """[s] what `row`'s call costs on `system` (one rank per die) without its fused latencies: hop and bytes."""
    bare = per_die(dataclasses.replace(system, fused_all_to_all_latency_s=0.0, fused_all_to_all_peer_latency_s=0.0))
    per_rank = float(row["tokens"]) * float(row["hidden"]) * float(row["dispatch_bytes_per_element"])
    return float(collective_s("all_to_all", per_rank, float(row["group"]), bare, efficiency, float(row["fanout"]),
                              low_latency=True))


def fit_fused_latency(rows: Sequence[Mapping[str, str]], system: System, efficiency: float) -> FusedFit:
    """L and p of `system` from measured fused dispatch/combine times (collectives_published.csv rows whose
    groups fit inside its scale-up domain, counted in dies), at the chip's collective efficiency."""
    if not rows:
        raise ParityError(f"{system.id}: no fused dispatch/combine rows to fit its latencies")
    domain = system.scale_up_domain_chips * system.chip.dies
    if any(float(r["group"]) > domain for r in rows):
        raise ParityError(f"{system.id}: a fused row's group exceeds its scale-up domain of {domain} dies")
    peers = np.array([float(r["group"]) - 1.0 for r in rows])
    residual = np.array([float(r["measured_s"]) - fused_base_s(r, system, efficiency) for r in rows])
    p, latency = np.polyfit(peers, residual, 1) if np.ptp(peers) > 0 else (0.0, 0.0)
    if p <= 0:
        p, latency = 0.0, float(residual.mean())
    if latency < 0:
        raise ParityError(f"{system.id}: fused latencies must be >= 0, the rows give L = {latency * 1e6:.1f} us, "
                          f"p = {p * 1e6:.3f} us")
    return FusedFit(latency_s=float(latency), peer_latency_s=float(p), rows=tuple(r["case_id"] for r in rows))
