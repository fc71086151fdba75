"""Decode and prefill workers of every layout priced as arrays: decode_rates (layout x batch per rank) and
prefill_rates (full steps, and with _prefill_both a lone prompt's step)."""

from __future__ import annotations

import numpy as np

from parity.engine import EngineProfile
from parity.hardware import Calibration, System
from parity.model import Model
from parity.ops import Batch
from parity.plan import LayoutGrid, Precision
from parity.search.loads import _largest_meeting
from parity.serving import engine_deployment
from parity.step import decode_host_floor, decode_step, deployment_memory, step_cost


def decode_rates(model: Model, system: System, grid: LayoutGrid, precision: Precision, cal: Calibration,
                 profile: EngineProfile, isl: int, osl: int, concurrency: np.ndarray,
                 mtp: tuple[int, float] = (0, 0.0), tpot_s: float | None = None) -> dict[str, np.ndarray]:
    """Decode workers of every layout x batch per rank: index (the layout), batch per rank, TPOT [s] (at least the
    engine's host floor under attention DP, step.decode_host_floor),
    output tokens/s per worker, chips, and whether it fits (KV of isl + osl tokens a sequence); under a TPOT target
    `tpot_s` [s], each layout's largest batch between the grid's whose TPOT meets it too (_largest_meeting).
    mtp: (draft tokens a step, of which accepted on average); a step then keeps 1 + accepted tokens."""
    k, m = len(grid), len(concurrency)

    def price(index: np.ndarray, batch: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
        rows = _decoding(model, system, grid, precision, cal, profile, isl, osl, index, batch, mtp)
        ok = rows["fits"] & np.isfinite(rows["tpot"])
        over = np.where(ok, rows["tpot"] / (tpot_s or np.inf) - 1.0, np.inf)  # as _slack, on the TPOT alone
        return rows, ok & (rows["tpot"] <= (tpot_s or np.inf)), over

    rows, meets, slack = price(np.repeat(np.arange(k), m), np.tile(concurrency, k).astype(float))
    if tpot_s:
        more = _largest_meeting(k, rows, rows["batch"], meets, slack, price)
        rows = {key: np.concatenate([rows[key], more[key]]) for key in rows}
    return rows


def _decoding(model: Model, system: System, grid: LayoutGrid, precision: Precision, cal: Calibration,
              profile: EngineProfile, isl: int, osl: int, index: np.ndarray, batch: np.ndarray,
              mtp: tuple[int, float]) -> dict[str, np.ndarray]:
    """Decode workers of the layouts `index` (into `grid`) at `batch` sequences per rank, as decode_rates gives
    them."""
    n = len(index)
    decode_grid = grid.take(index)
    dep = engine_deployment(model, system, decode_grid, precision, cal, profile, mtp_tokens=mtp[0],
                            mtp_acceptance=mtp[1])
    # a rank decodes at most the sequences its KV cache holds (as the aggregated search runs its clients)
    room = deployment_memory(dep, batch, np.full(n, float(isl + osl)), profile.max_num_tokens,
                             reserve_fraction=1.0 - profile.kv_memory_fraction).kv_token_capacity
    batch = np.minimum(batch, np.maximum(np.floor(room / (isl + osl)), 1.0))
    step_s, kept = decode_step(dep, batch, np.full(n, isl + osl / 2.0), context_spread=osl / 2.0)
    tpot = np.asarray(decode_host_floor(dep, step_s, batch, profile.decode_host_token_s)) / kept
    mem = deployment_memory(dep, batch, np.full(n, float(isl + osl)), profile.max_num_tokens,
                            reserve_fraction=1.0 - profile.kv_memory_fraction)
    fits = np.asarray(mem.fits) & (batch <= profile.max_batch_size)
    out_rate = batch * decode_grid.attn_dp / tpot  # output tokens/s per decode worker
    return {"index": index, "batch": batch, "tpot": tpot, "out_rate": out_rate, "chips": decode_grid.chips,
            "fits": fits}


def prefill_rates(model: Model, system: System, grid: LayoutGrid, precision: Precision, cal: Calibration,
                  profile: EngineProfile, isl: int, tokens: float | np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Prefill workers of every layout, steps of `tokens` prompt tokens per rank (default: the engine's full
    token budget; one figure, or one a layout): step [s], prompts/s per worker, and whether the weights and one
    prompt fit."""
    k = len(grid)
    prefill_dep = engine_deployment(model, system, grid, precision, cal, profile)
    per_rank = np.broadcast_to(np.asarray(float(max(profile.max_num_tokens, isl)) if tokens is None else tokens,
                                          dtype=float), (k,)).copy()
    step = np.asarray(step_cost(prefill_dep, Batch(prefill_tokens=per_rank, prefill_sequences=per_rank / isl)).time_s)
    step = step * profile.prefill_scale
    prompt_rate = per_rank / isl * grid.attn_dp / step  # prompts/s per prefill worker
    prefill_mem = deployment_memory(prefill_dep, np.ones(k), np.full(k, float(isl)), profile.max_num_tokens,
                                    reserve_fraction=1.0 - profile.kv_memory_fraction)
    return {"step": step, "prompt_rate": prompt_rate, "fits": np.asarray(prefill_mem.fits)}


def _prefill_both(model: Model, system: System, grid: LayoutGrid, precision: Precision, cal: Calibration,
                  profile: EngineProfile, isl: int) -> dict[str, np.ndarray]:
    """prefill_rates of every layout in full steps, with "lone_step": its step of one prompt, priced in the same
    call (one step_cost for both: a call costs a millisecond however few its rows)."""
    k = len(grid)
    both = prefill_rates(model, system, grid.take(np.tile(np.arange(k), 2)), precision, cal, profile, isl,
                         np.repeat([float(max(profile.max_num_tokens, isl)), float(isl)], k))
    return {**{key: value[:k] for key, value in both.items()}, "lone_step": both["step"][k:]}
