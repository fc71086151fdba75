"""Aggregated candidates: every layout x load by serve's closed loop (serving.serve_aggregated), and under targets
each layout's largest load meeting them."""

from __future__ import annotations

import numpy as np

from parity.engine import EngineProfile
from parity.hardware import Calibration, System
from parity.model import Model
from parity.plan import LayoutGrid, Precision
from parity.search.loads import _largest_meeting, _meets, _slack
from parity.search.rates import prefill_rates
from parity.serving import Workload, engine_deployment, kv_capacity, serve_aggregated


def _aggregated(model: Model, system: System, grid: LayoutGrid, precision: Precision, cal: Calibration,
                profile: EngineProfile, isl: int, osl: int, concurrency: np.ndarray,
                mtp: tuple[int, float] = (0, 0.0), prefill: dict[str, np.ndarray] | None = None,
                tpot_s: float | None = None, ttft_s: float | None = None) -> dict[str, np.ndarray]:
    """Every layout x load aggregated, by serve's closed loop, and under the TPOT and TTFT targets [s] each layout's
    largest load between the grid's that meets them (_largest_meeting); `prefill`: the grid's prefill_rates where
    the caller has them (search_serving, priced once for both modes)."""
    k, m = len(grid), len(concurrency)

    def price(index: np.ndarray, per_rank: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
        run = _served(model, system, grid, precision, cal, profile, isl, osl, index, per_rank, mtp)
        return run, _meets(run, tpot_s, ttft_s), _slack(run, tpot_s, ttft_s)

    run, meets, slack = price(np.repeat(np.arange(k), m), np.tile(concurrency, k))
    if tpot_s or ttft_s:
        more = _largest_meeting(k, run, run["concurrency"] / grid.attn_dp[run["index"]], meets, slack, price)
        run = {key: np.concatenate([run[key], more[key]]) for key in run}
    prompt_rate = (prefill or prefill_rates(model, system, grid, precision, cal, profile, isl))["prompt_rate"]
    return {**run, "prompt_rate": prompt_rate[run["index"]]}


def _served(model: Model, system: System, grid: LayoutGrid, precision: Precision, cal: Calibration,
            profile: EngineProfile, isl: int, osl: int, index: np.ndarray, per_rank: np.ndarray,
            mtp: tuple[int, float]) -> dict[str, np.ndarray]:
    """Aggregated workers of the layouts `index` (into `grid`) at `per_rank` clients per attention rank, by serve's
    closed loop: concurrency (clients per worker), TTFT and TPOT [s], tokens/s per chip, chips, and whether it fits."""
    at = grid.take(index)
    dep = engine_deployment(model, system, at, precision, cal, profile, mtp_tokens=mtp[0], mtp_acceptance=mtp[1])
    # clients beyond what a rank's KV cache holds only queue for a slot (the same TPOT and throughput, a TTFT longer
    # by the queue): each layout runs at most at its KV capacity, the load a loose TPOT target's best lands on
    _, slots = kv_capacity(dep, profile, per_rank, float(isl), float(osl))
    conc = np.minimum(per_rank, np.maximum(slots, 1.0)) * at.attn_dp
    n = len(index)
    result = serve_aggregated(dep, profile, Workload(isl=np.full(n, float(isl)), osl=np.full(n, float(osl)),
                                                     concurrency=conc))
    return {"index": index, "concurrency": conc, "ttft": np.asarray(result.ttft_s), "tpot": np.asarray(result.tpot_s),
            "per_chip": np.asarray(result.output_tokens_per_s) / at.chips, "chips": at.chips,
            "fits": np.asarray(result.feasible) & (np.asarray(result.decode_batch) >= 1)}
