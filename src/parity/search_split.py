"""Disaggregated serving over two kinds of system under a chip budget of each: prefill workers on one
kind, decode workers on the other. Every decode layout and batch is paired with every prefill layout;
as many workers of each as the budgets hold; the fleet delivers the lesser of what its decode workers
emit and what its prefill workers feed them (prompts at the rate-matching utilisation, `osl` tokens
each). The best split is the most output tokens/s of the fleet among those meeting the targets.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from parity.engine import EngineProfile
from parity.errors import InfeasiblePlan
from parity.hardware import Calibration, System
from parity.model import Model
from parity.plan import Layout, LayoutGrid, Precision
from parity.search import (DEFAULT_CONCURRENCY, MAX_WORKER_CHIPS, decode_rates, grid_of_sizes,
                           kv_transfer_s, prefill_rates, worker_sizes)

__all__ = ["Split", "SplitSearch", "search_split", "fleet_output_rate"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Split:
    """One fleet: its workers of each kind, the chips they take of each budget, and what it delivers."""

    prefill_layout: Layout
    decode_layout: Layout
    prefill_workers: int
    decode_workers: int
    prefill_chips: int
    decode_chips: int
    clients_per_decode_worker: float
    output_tokens_per_s: float  # the whole fleet
    ttft_s: float
    tpot_s: float
    limited_by: str  # "prefill" or "decode": the side whose capacity sets the fleet's rate
    meets_targets: bool

    @property
    def output_tokens_per_s_per_chip(self) -> float:
        return self.output_tokens_per_s / (self.prefill_chips + self.decode_chips)

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["prefill_layout"], out["decode_layout"] = str(self.prefill_layout), str(self.decode_layout)
        out["output_tokens_per_s_per_chip"] = self.output_tokens_per_s_per_chip
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class SplitSearch:
    evaluated: int
    best: tuple[Split, ...]  # the fastest fleets meeting the targets, fastest first
    assumptions: tuple[str, ...]


def fleet_output_rate(decode_workers: np.ndarray, out_rate: np.ndarray, prefill_workers: np.ndarray,
                      prompt_rate: np.ndarray, osl: float, utilization: float) -> tuple[np.ndarray, np.ndarray]:
    """(output tokens/s of the fleet, True where prefill limits it): min(decode workers x their output
    rate, prefill workers x their prompt rate x the rate-matching `utilization` (the engine's
    disagg_prefill_utilization) x osl tokens per prompt)."""
    decode = decode_workers * out_rate
    prefill = prefill_workers * prompt_rate * utilization * osl
    return np.minimum(decode, prefill), prefill < decode


def _grid(model: Model, system: System, budget: int, pipeline: tuple[int, ...]) -> LayoutGrid:
    """Workers of every power of two of chips up to the budget (beyond one scale-up domain over scale-out)."""
    sizes = worker_sizes(system, None, min(budget, MAX_WORKER_CHIPS))
    grid = grid_of_sizes(model, sizes, pipeline)
    if grid is None:
        raise InfeasiblePlan(f"no layout of up to {max(sizes)} chips of {system.id} divides {model.name}")
    return grid


def search_split(model: Model, prefill_system: System, decode_system: System, profile: EngineProfile,
                 prefill_calibration: Calibration, decode_calibration: Calibration, prefill_precision: Precision,
                 decode_precision: Precision, isl: int, osl: int, prefill_budget: int, decode_budget: int,
                 tpot_s: float | None = None, ttft_s: float | None = None,
                 concurrency: tuple[int, ...] = DEFAULT_CONCURRENCY, pipeline: tuple[int, ...] = (1, 2, 4),
                 top: int = 10, mtp: tuple[int, float] = (0, 0.0)) -> SplitSearch:
    """The `top` fleets of prefill workers on `prefill_system` (at most `prefill_budget` chips) and decode
    workers on `decode_system` (at most `decode_budget` chips) with the most output tokens/s meeting the
    TPOT and TTFT targets. KV moves over the slower of the two systems' scale-out links. `mtp`: the decode
    workers' multi-token prediction (draft tokens a step, accepted on average), (0, 0) off."""
    if prefill_budget < 1 or decode_budget < 1:
        raise InfeasiblePlan(f"the chip budgets must be >= 1, got prefill {prefill_budget}, decode {decode_budget}")
    dgrid = _grid(model, decode_system, decode_budget, pipeline)
    pgrid = _grid(model, prefill_system, prefill_budget, pipeline)
    d = decode_rates(model, decode_system, dgrid, decode_precision, decode_calibration, profile, isl, osl,
                     np.asarray(concurrency, dtype=float), mtp)
    p = prefill_rates(model, prefill_system, pgrid, prefill_precision, prefill_calibration, profile, isl)
    link = min(prefill_system.scale_out_bytes_per_s, decode_system.scale_out_bytes_per_s)
    latency = max(prefill_system.scale_out_latency_s, decode_system.scale_out_latency_s)
    ttft_p = (profile.ttft_overhead_s + p["step"] + p["wait"] + latency
              + kv_transfer_s(model, prefill_precision, isl, link, pgrid.chips))
    n_d = np.floor(decode_budget / d["chips"])[:, None]
    n_p = np.floor(prefill_budget / pgrid.chips)[None, :]
    busy = profile.disagg_prefill_utilization
    rate, prefill_bound = fleet_output_rate(n_d, d["out_rate"][:, None], n_p, p["prompt_rate"][None, :], osl, busy)
    # the side with room to spare uses only the workers the other side keeps busy
    used_d = np.minimum(n_d, np.ceil(rate / d["out_rate"][:, None] - 1e-9))
    used_p = np.minimum(n_p, np.ceil(rate / (p["prompt_rate"][None, :] * busy * osl) - 1e-9))
    chips = used_d * d["chips"][:, None] + used_p * pgrid.chips[None, :]
    ok = (d["fits"][:, None] & p["fits"][None, :] & (n_d >= 1) & (n_p >= 1) & np.isfinite(rate) & (rate > 0)
          & (d["tpot"][:, None] <= (tpot_s or np.inf)) & (ttft_p[None, :] <= (ttft_s or np.inf)))
    flat = np.flatnonzero(ok)
    tpot = np.broadcast_to(d["tpot"][:, None], ok.shape)
    ttft = np.broadcast_to(ttft_p[None, :], ok.shape)
    # the most tokens/s; then the fewest chips; then the lowest TPOT, then TTFT
    keys = (ttft.ravel()[flat], tpot.ravel()[flat], chips.ravel()[flat], -rate.ravel()[flat])
    best: list[Split] = []
    for k in flat[np.lexsort(keys)]:
        if len(best) == top:
            break
        i, j = (int(x) for x in np.unravel_index(int(k), ok.shape))
        dl, workers_d, workers_p = dgrid.at(int(d["index"][i])), int(used_d[i, j]), int(used_p[i, j])
        split = Split(prefill_layout=pgrid.at(j), decode_layout=dl, prefill_workers=workers_p,
                          decode_workers=workers_d, prefill_chips=workers_p * int(pgrid.chips[j]),
                          decode_chips=workers_d * int(d["chips"][i]),
                          clients_per_decode_worker=float(d["batch"][i] * dl.attn_dp),
                          output_tokens_per_s=float(rate[i, j]), ttft_s=float(ttft_p[j]), tpot_s=float(d["tpot"][i]),
                          limited_by="prefill" if prefill_bound[i, j] else "decode", meets_targets=True)
        if split not in best:  # loads past a layout's KV capacity run at that capacity: the same fleet again
            best.append(split)
    notes = (f"engine profile {profile.id}; prefill on {prefill_system.id} ({prefill_precision.weights}), decode on "
             f"{decode_system.id} ({decode_precision.weights})"
             + (f"; MTP {mtp[0]} draft tokens, {mtp[1]:.3g} accepted a step" if mtp[0] else ""),
             f"prefill workers run at {busy:.0%} utilisation (the engine's disagg_prefill_utilization); KV over the "
             f"slower scale-out link ({link / 1e9:g} GB/s per chip)")
    return SplitSearch(evaluated=int(ok.size), best=tuple(best), assumptions=notes)
