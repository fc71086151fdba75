"""Disaggregated serving over two kinds of system under a chip budget of each: prefill workers on one
kind, decode workers on the other. Every decode layout and batch is paired with every prefill layout,
with as many workers of each as the budgets hold, sized by rate matching (the lesser of what the decode
workers emit and what the prefill workers feed them at the engine's disaggregated prefill utilisation),
then priced as `parity serve` prices that deployment (serving.serve_disaggregated), so that a fleet's
TTFT, TPOT and throughput are one closed loop's. The best split is the most output tokens/s of the fleet
among those meeting the targets.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from parity.engine import EngineProfile
from parity.errors import InfeasiblePlan
from parity.hardware import Calibration, System
from parity.model import Model
from parity.plan import Layout, LayoutGrid, Precision
from parity.search import (DEFAULT_CONCURRENCY, MAX_WORKER_CHIPS, decode_rates, grid_of_sizes, mtp_assumption,
                           prefill_rates, worker_sizes)
from parity.serving import Workload, engine_deployment, serve_disaggregated

__all__ = ["Split", "SplitSearch", "search_split", "fleet_output_rate"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Split:
    """One fleet: its workers of each kind, the chips they take of each budget, and what it delivers as `parity
    serve` prices it (its clients_per_decode_worker x decode_workers clients in a closed loop)."""

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
    prefill_utilization: float  # share of the prefill workers' time spent on prompts, as serve prices it
    limited_by: str  # "prefill" or "decode": the side whose capacity sized the other's workers (rate matching)
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


_PRICED_AT_ONCE = 8192  # fleets priced in one call of serve_disaggregated (arrays of that length)
_BOUND_SLACK = 0.01  # the decode-side bound's margin over what serve's fixed-point iterations may overshoot it by


def _priced(model: Model, prefill_system: System, decode_system: System, pgrid: LayoutGrid, dgrid: LayoutGrid,
            d: dict[str, np.ndarray], profile: EngineProfile, prefill_precision: Precision,
            decode_precision: Precision, prefill_calibration: Calibration, decode_calibration: Calibration,
            isl: int, osl: int, mtp: tuple[int, float], i: np.ndarray, j: np.ndarray, workers_p: np.ndarray,
            workers_d: np.ndarray, busy: float, tpot_s: float | None,
            ttft_s: float | None) -> tuple[np.ndarray, ...]:
    """Fleets (decode candidate i, prefill layout j, their workers) as `parity serve` prices them: (output tokens/s,
    chips, TTFT, TPOT, whether they meet the targets, prefill utilisation). A fleet whose clients keep its prefill
    workers busier than the engine's disaggregated utilisation `busy` only queues prompts (TTFT grows with every
    client, throughput barely): it meets nothing, as rate matching leaves it out."""
    clients = d["batch"][i] * dgrid.attn_dp[d["index"][i]] * workers_d
    served = serve_disaggregated(
        engine_deployment(model, prefill_system, pgrid.take(j), prefill_precision, prefill_calibration, profile,
                          mtp_tokens=mtp[0], mtp_acceptance=mtp[1]),
        engine_deployment(model, decode_system, dgrid.take(d["index"][i]), decode_precision, decode_calibration,
                          profile, mtp_tokens=mtp[0], mtp_acceptance=mtp[1]),
        profile, Workload(isl=np.full(len(i), float(isl)), osl=np.full(len(i), float(osl)), concurrency=clients),
        workers_p, workers_d)
    ttft, tpot = np.asarray(served.ttft_s), np.asarray(served.tpot_s)
    out, chips = np.asarray(served.output_tokens_per_s), np.asarray(served.chips)
    u = np.asarray(served.prefill_utilization)
    ok = (np.asarray(served.feasible) & (out > 0) & (u <= busy + 1e-9) & (tpot <= (tpot_s or np.inf))
          & (ttft <= (ttft_s or np.inf)))
    return out, chips, ttft, tpot, ok, u


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
    TPOT and TTFT targets, priced as serve prices them, their prefill workers at most as busy as the engine's
    disagg_prefill_utilization. KV moves over the slower of the two systems' scale-out links. `mtp`: the decode
    workers' multi-token prediction (draft tokens a step, accepted on average), (0, 0) off."""
    if prefill_budget < 1 or decode_budget < 1:
        raise InfeasiblePlan(f"the chip budgets must be >= 1, got prefill {prefill_budget}, decode {decode_budget}")
    dgrid = _grid(model, decode_system, decode_budget, pipeline)
    pgrid = _grid(model, prefill_system, prefill_budget, pipeline)
    d = decode_rates(model, decode_system, dgrid, decode_precision, decode_calibration, profile, isl, osl,
                     np.asarray(concurrency, dtype=float), mtp)
    p = prefill_rates(model, prefill_system, pgrid, prefill_precision, prefill_calibration, profile, isl)
    # sizing: as many workers of each kind as the budgets hold, rate-matched (prefill at the engine's
    # disagg_prefill_utilization with full-budget steps); the side with room to spare uses only the workers the
    # other side keeps busy
    n_d = np.floor(decode_budget / d["chips"])[:, None]
    n_p = np.floor(prefill_budget / pgrid.chips)[None, :]
    busy = profile.disagg_prefill_utilization
    rate, prefill_bound = fleet_output_rate(n_d, d["out_rate"][:, None], n_p, p["prompt_rate"][None, :], osl, busy)
    used_d = np.minimum(n_d, np.ceil(rate / d["out_rate"][:, None] - 1e-9))
    used_p = np.minimum(n_p, np.ceil(rate / (p["prompt_rate"][None, :] * busy * osl) - 1e-9))
    sized = (d["fits"][:, None] & p["fits"][None, :] & (n_d >= 1) & (n_p >= 1) & np.isfinite(rate) & (rate > 0))
    i, j = np.nonzero(sized)
    # pricing: each sized fleet as `parity serve` prices it (serve_disaggregated: its clients in a closed loop), so
    # that its TTFT, TPOT and throughput hold together (Little's law) and its serve line gives the same figures
    link = min(prefill_system.scale_out_bytes_per_s, decode_system.scale_out_bytes_per_s)
    notes = (f"engine profile {profile.id}; prefill on {prefill_system.id} ({prefill_precision.weights}), decode on "
             f"{decode_system.id} ({decode_precision.weights})", *filter(None, [mtp_assumption(mtp)]),
             f"workers sized by rate matching (prefill workers at {busy:.0%} utilisation, the engine's "
             "disagg_prefill_utilization, in steps of its full token budget), each fleet then priced as `parity "
             "serve` prices it (its clients in a closed loop, prompts in groups, Kingman's queue and the first "
             f"wave at the prefill workers), those whose prefill workers it finds busier than {busy:.0%} left out; KV "
             f"over the slower scale-out link ({link / 1e9:g} GB/s per chip)")
    if not len(i):
        return SplitSearch(evaluated=int(sized.size), best=(), assumptions=notes)
    # the decode side at its full batch bounds what serve finds a fleet delivers (a decode rank emits at most its
    # clients' tokens a step, and fewer decoding makes no faster fleet): fleets are priced in order of that bound,
    # and those whose bound is below the top-th best priced so far are never priced
    ceiling = used_d[i, j] * d["out_rate"][i] * osl / max(osl - 1.0, 1.0) * (1.0 + _BOUND_SLACK)
    order = np.argsort(-ceiling, kind="stable")
    parts: list[tuple[np.ndarray, ...]] = []
    kth = -np.inf
    for start in range(0, len(order), _PRICED_AT_ONCE):
        chunk = order[start:start + _PRICED_AT_ONCE]
        if ceiling[chunk[0]] < kth:
            break
        parts.append((chunk, *_priced(model, prefill_system, decode_system, pgrid, dgrid, d, profile,
                                      prefill_precision, decode_precision, prefill_calibration, decode_calibration,
                                      isl, osl, mtp, i[chunk], j[chunk], used_p[i[chunk], j[chunk]],
                                      used_d[i[chunk], j[chunk]], busy, tpot_s, ttft_s)))
        meeting = np.unique(np.concatenate([part[1][part[5]] for part in parts]))
        kth = meeting[-top] if len(meeting) >= top else -np.inf
    keep, out, chips, ttft, tpot, ok, u = (np.concatenate(column) for column in zip(*parts))
    i, j = i[keep], j[keep]
    workers_d, workers_p = used_d[i, j], used_p[i, j]
    flat = np.flatnonzero(ok)
    # the most tokens/s; then the fewest chips; then the lowest TPOT, then TTFT
    best: list[Split] = []
    for k in flat[np.lexsort((ttft[flat], tpot[flat], chips[flat], -out[flat]))]:
        if len(best) == top:
            break
        dl, pl = dgrid.at(int(d["index"][i[k]])), pgrid.at(int(j[k]))
        split = Split(prefill_layout=pl, decode_layout=dl, prefill_workers=int(workers_p[k]),
                      decode_workers=int(workers_d[k]), prefill_chips=int(workers_p[k] * pgrid.chips[j[k]]),
                      decode_chips=int(workers_d[k] * d["chips"][i[k]]),
                      clients_per_decode_worker=float(d["batch"][i[k]] * dl.attn_dp),
                      output_tokens_per_s=float(out[k]), ttft_s=float(ttft[k]), tpot_s=float(tpot[k]),
                      prefill_utilization=float(u[k]),
                      limited_by="prefill" if prefill_bound[i[k], j[k]] else "decode", meets_targets=True)
        if split not in best:  # loads past a layout's KV capacity run at that capacity: the same fleet again
            best.append(split)
    return SplitSearch(evaluated=int(sized.size), best=tuple(best), assumptions=notes)
