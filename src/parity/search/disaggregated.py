"""Disaggregated candidates: decode layouts x batches, each paired with a few prefill layouts (_prefill_options),
screened in numpy (_screened), and priced as their serve lines where they can reach what the search keeps."""

from __future__ import annotations

import numpy as np

from parity.engine import EngineProfile
from parity.hardware import Calibration, System
from parity.model import Model
from parity.plan import LayoutGrid, Precision
from parity.search.pairs import _Pairs
from parity.search.rates import decode_rates, prefill_rates
from parity.search.refine import _lowered, _refined
from parity.serving.prefill import _queue_wait, prompt_group_size
from parity.step import Deployment, kv_transfer_s

# beside each worker size's cheapest prefill layout per prompt/s, the one with the quickest full step among those
# within this factor of its cost (search._prefill_options): a near tie on cost broken toward speed
_PREFILL_COST_TIE = 1.05


def _prefill_options(model: Model, system: System, grid: LayoutGrid, precision: Precision, cal: Calibration,
                     profile: EngineProfile, isl: int, p: dict[str, np.ndarray] | None = None
                     ) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """The prefill layouts a decode candidate is priced with (indices into `grid`): for each worker size, the one
    with the fewest chips per prompt/s in full steps (rate matching's pick) and the one with the quickest full step
    among those within _PREFILL_COST_TIE of that cost (a slow step's group prefill can miss a TTFT target: on an
    H20 with 4x the scale-out, tp1-dp16-ep16 came 0.7% cheaper than tp1-pp4-dp4-ep4 at 4x its step and took over,
    its best 3% below the H20's), and the one whose lone prompt is
    prefilled and moved soonest (the first layout where none fits, which then prices nothing that fits); with every
    layout's full-step rates (`p` where given) and its lone prompt's TTFT [s]."""
    p = p or prefill_rates(model, system, grid, precision, cal, profile, isl)
    lone = p["lone_step"] if "lone_step" in p else prefill_rates(model, system, grid, precision, cal, profile, isl,
                                                                 float(isl))["step"]
    # its KV moved as to a decode rank of its own layout (the decode worker is not chosen yet)
    workers = Deployment(model=model, system=system, layout=grid, precision=precision, calibration=cal)
    lone_ttft = profile.ttft_overhead_s + lone + kv_transfer_s(workers, workers, isl)
    picked = []
    for size in np.unique(grid.chips):
        at = np.flatnonzero((grid.chips == size) & p["fits"])
        if at.size:
            near = at[p["prompt_rate"][at] * _PREFILL_COST_TIE >= p["prompt_rate"][at].max()]
            picked += [int(at[np.argmax(p["prompt_rate"][at])]), int(near[np.argmin(p["step"][near])])]
    picked.append(int(np.argmin(np.where(p["fits"], lone_ttft, np.inf))))
    options = np.asarray(sorted({i for i in picked if p["fits"][i]}) or [0], dtype=int)  # [0]: none fits, priced so
    return options, p, lone_ttft


def _disaggregated(model: Model, system: System, grid: LayoutGrid, precision: Precision, cal: Calibration,
                   profile: EngineProfile, isl: int, osl: int, concurrency: np.ndarray,
                   ttft_s: float | None = None, mtp: tuple[int, float] = (0, 0.0),
                   tpot_s: float | None = None, prefill: dict[str, np.ndarray] | None = None) -> dict[str, object]:
    """Decode layouts x batches (decode_rates, with each layout's largest batch meeting the TPOT target), each on
    whole workers with the prefill layout (of _prefill_options) that delivers the most tokens/s per chip meeting the
    targets (else the most): prefill workers per decode worker rate-matched at the engine's
    disagg_prefill_utilization and rounded up to whole workers (whole_workers), then priced as
    `parity serve --model-kind steady` prices that deployment (serving.serve_disaggregated: its clients in a closed
    loop, so a row's TTFT is its own load's).

    Every (decode candidate, prefill layout) pair is first screened (_screened: serve's closed loop with the decode
    batch held at the candidate's, in numpy); "price" (rows) prices the given decode candidates' pairs exactly by
    serve_disaggregated and picks their prefill layouts anew, "exact" saying which rows are; search_serving prices
    every row it keeps ("quickest": the rows of the pairs screened quickest to a first token); "refine" (rows) gives
    the rows of those rows' decode layouts at their largest batches meeting the targets as serve prices them
    (_refined); "lower" (the best tokens/s per chip meeting the targets so far) gives the rows of the best pairs whose
    best load misses the TTFT target alone, at their most clients meeting it on the same workers (_lowered).
    fastest_ttft: the lowest TTFT [s] of any exactly priced pair that fits."""
    d = decode_rates(model, system, grid, precision, cal, profile, isl, osl, concurrency, mtp, tpot_s)
    options, p, lone_ttft = _prefill_options(model, system, grid, precision, cal, profile, isl, prefill)
    pairs = _Pairs(model=model, system=system, grid=grid, precision=precision, cal=cal, profile=profile, isl=isl,
                   osl=osl, mtp=mtp, options=options, p=p, lone_ttft=lone_ttft, ttft_s=ttft_s, tpot_s=tpot_s)
    n, m = len(d["index"]), len(options)
    sized = pairs.sized(d)
    pair = {"ttft": np.empty(n * m), "tpot": np.empty(n * m), "per_chip": np.empty(n * m),
            "fits": np.zeros(n * m, dtype=bool)}
    i, j = sized["i"], sized["j"]
    pair.update(_screened(model, system, grid, precision, cal, profile, isl, osl, d, p["step"], i, j,
                          sized["clients"] * sized["workers_d"], sized["workers_p"], sized["workers_d"],
                          sized["chips"]))
    pair["fits"] &= p["fits"][j]
    run: dict[str, object] = {"index": d["index"], "exact": np.zeros(n, dtype=bool), "fastest_ttft": np.full(n, np.inf)}

    def price(rows: np.ndarray) -> None:
        """Price the decode candidates `rows` (all their prefill layouts) as their serve lines, and pick anew."""
        rows = np.unique(np.asarray(rows, dtype=int))
        at = (rows[:, None] * m + np.arange(m)).ravel()
        ttft, tpot, per_chip, fits = pairs.served(d, sized, at)
        pair["ttft"][at], pair["tpot"][at], pair["per_chip"][at], pair["fits"][at] = ttft, tpot, per_chip, fits
        run["exact"][rows] = True
        pairs.pick(sized, pair, rows, run)
        if fits.any():
            run["fastest_ttft"][:] = min(float(run["fastest_ttft"][0]), float(ttft[fits].min()))

    pairs.pick(sized, pair, np.arange(n), run)
    run["price"] = price
    run["refine"] = lambda rows: _refined(pairs, d, run, rows)
    run["lower"] = lambda top: _lowered(pairs, d, sized, pair, top, float(run["fastest_ttft"][0]))
    # the pairs quickest to a first token, so that fastest_ttft is an exactly priced pair's
    quickest = np.flatnonzero(pair["fits"])
    run["quickest"] = np.unique(i[quickest[np.argsort(pair["ttft"][quickest])[:4]]])
    return run


def _screened(model: Model, system: System, grid: LayoutGrid, precision: Precision, cal: Calibration,
              profile: EngineProfile, isl: int, osl: int, d: dict[str, np.ndarray], step: np.ndarray, i: np.ndarray,
              j: np.ndarray, conc: np.ndarray, workers_p: np.ndarray, workers_d: np.ndarray, chips: np.ndarray
              ) -> dict[str, np.ndarray]:
    """A cheap estimate of serve_disaggregated's figures for each (decode candidate i, prefill layout j) pair on
    whole workers (`conc` clients in all): its closed loop and prompt queue as serve prices them (the same prompt
    groups, the same KV transfer, Kingman's wait and first wave), with a group's prefill scaled from the layout's
    full step (`step`, prefill_rates'), the decode batch and TPOT held at the decode candidate's (decode_rates) where
    serve iterates them, and no clients queued for a KV slot. Used only to choose which pairs to price exactly."""
    dp = grid.attn_dp[j].astype(float)
    per_worker = conc / workers_p
    busy_ranks = np.clip(per_worker, 1.0, dp)
    group = prompt_group_size(profile, float(isl), per_worker / dp) * busy_ranks
    # a group's prefill (engine and wall time, as _group_prefill prices it): its tokens a busy rank at the layout's
    # full-step time per token (prefill_rates), the same where each rank takes a full step's worth (most pairs)
    added = wall = step[j] * (group * isl / busy_ranks) / max(profile.max_num_tokens, isl)
    prefill, decode = (Deployment(model=model, system=system, layout=grid.take(k), precision=precision,
                                  calibration=cal) for k in (j, d["index"][i]))
    fixed = profile.ttft_overhead_s + profile.disagg_ttft_overhead_s + wall + kv_transfer_s(prefill, decode, isl)
    streaming = (osl - 1.0) * d["tpot"][i]
    per_prompt = added / group
    lo, hi = np.zeros_like(conc), workers_p * group / np.maximum(added, 1e-12)
    for _ in range(24):  # serve's bisection on the arrival rate, as _bisect
        lam = 0.5 * (lo + hi)
        u = np.minimum(lam / workers_p * per_prompt, 0.999999)
        ttft = fixed + _queue_wait(profile, u, added, conc / workers_p, per_prompt)
        above = lam * (ttft + streaming) - conc > 0
        hi, lo = np.where(above, lam, hi), np.where(above, lo, lam)
    lam = 0.5 * (lo + hi)
    u = np.minimum(lam / workers_p * per_prompt, 0.999999)
    ttft = fixed + _queue_wait(profile, u, added, conc / workers_p, per_prompt)
    per_chip = lam * osl / chips
    fits = d["fits"][i] & (per_chip > 0)
    return {"ttft": ttft, "tpot": d["tpot"][i].copy(), "per_chip": per_chip, "fits": fits}
