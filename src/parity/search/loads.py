"""Each layout's largest load meeting the TPOT and TTFT targets between the concurrency grid's (_largest_meeting),
and the per-row tests it bisects on (_meets, _slack)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def _meets(run: dict[str, np.ndarray], tpot_s: float | None, ttft_s: float | None) -> np.ndarray:
    """Which rows fit, deliver tokens and meet the TPOT and TTFT targets [s] (None: no target), as search_serving
    counts them."""
    ttft, tpot = run["ttft"], run["tpot"]
    return (run["fits"].astype(bool) & np.isfinite(tpot) & np.isfinite(ttft) & (run["per_chip"] > 0)
            & (tpot <= (tpot_s or np.inf)) & (ttft <= (ttft_s or np.inf)))


def _slack(run: dict[str, np.ndarray], tpot_s: float | None, ttft_s: float | None) -> np.ndarray:
    """How far each row is past its targets: the larger of TPOT / target and TTFT / target, less 1 (0 on the
    binding target; inf where it does not fit or delivers nothing). What _largest_meeting interpolates."""
    ttft, tpot = run["ttft"], run["tpot"]
    over = np.maximum(tpot / (tpot_s or np.inf), ttft / (ttft_s or np.inf)) - 1.0
    ok = run["fits"].astype(bool) & np.isfinite(tpot) & np.isfinite(ttft) & (run["per_chip"] > 0)
    return np.where(ok, over, np.inf)


_Pricing = Callable[[np.ndarray, np.ndarray], tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]]


def _largest_meeting(layouts: int, run: dict[str, np.ndarray], loads: np.ndarray, meets: np.ndarray,
                     slack: np.ndarray, price: _Pricing) -> dict[str, np.ndarray]:
    """Rows (as `run`'s) of each of `layouts` layouts at its largest whole load that meets the targets, searched
    between its largest grid load that meets them and the next that misses, where a whole load lies between.
    `run`: the grid's rows, `loads` their loads per attention rank, `meets` and `slack` (_slack: <= 0 meets) theirs;
    price(index, loads): (rows, meets, slack) of layouts `index` at those loads.

    A layout delivers the most at the most clients its targets allow, and the grid alone misses that where they bind
    between two loads: an H200 given twice the memory holds 524 clients a rank on tp1 where it held 146, so its KV
    capacity no longer lands just under TPOT 50 ms, and its best fell 3% below the H200's. Meeting the targets is
    taken to be monotone in the load (TPOT and TTFT grow with it). A round prices every open layout at three loads in
    one call (a call costs milliseconds however few its rows): the two whole loads about where the slack,
    interpolated linearly across the bracket, crosses 0, and the bracket's midpoint, so that it at least halves;
    most layouts close in the first round."""
    index = run["index"]
    lo, hi = np.zeros(layouts), np.full(layouts, np.inf)  # a load known to meet the targets (0: none), one to miss
    np.maximum.at(lo, index[meets], loads[meets])
    missing = ~meets & (loads > lo[index])
    np.minimum.at(hi, index[missing], loads[missing])
    slack_lo, slack_hi = np.full(layouts, np.nan), np.full(layouts, np.nan)
    for bound, slacks, rows in ((lo, slack_lo, meets), (hi, slack_hi, missing)):
        at = rows & (loads == bound[index])
        slacks[index[at]] = slack[at]
    found = {key: np.zeros(layouts, dtype=value.dtype) for key, value in run.items()}
    moved = np.zeros(layouts, dtype=bool)
    while (open_ := np.flatnonzero(np.isfinite(hi) & (np.floor(lo) + 1.0 < hi))).size:
        low, high = lo[open_], hi[open_]
        with np.errstate(divide="ignore", invalid="ignore"):  # no slack known below (nan), none finite above (inf)
            crossing = low + (high - low) * slack_lo[open_] / (slack_lo[open_] - slack_hi[open_])
        guess = np.floor(np.where(np.isfinite(crossing), crossing, (low + high) / 2.0))
        tries = np.clip(np.stack([guess, guess + 1.0, np.floor((low + high) / 2.0)], axis=1),
                        (np.floor(low) + 1.0)[:, None], (np.ceil(high) - 1.0)[:, None])
        tried, ok, over = price(np.repeat(open_, tries.shape[1]), tries.ravel())
        ok, over = ok.reshape(tries.shape), over.reshape(tries.shape)
        up = np.flatnonzero(ok.any(axis=1))
        best = np.argmax(np.where(ok, tries, -np.inf), axis=1)[up]
        lo[open_[up]], slack_lo[open_[up]] = tries[up, best], over[up, best]
        for key, values in tried.items():
            found[key][open_[up]] = values[up * tries.shape[1] + best]
        moved[open_[up]] = True
        above = np.where(~ok & (tries > lo[open_][:, None]), tries, np.inf)
        down = np.flatnonzero(np.isfinite(above.min(axis=1)))
        first = np.argmin(above, axis=1)[down]
        hi[open_[down]], slack_hi[open_[down]] = tries[down, first], over[down, first]
    return {key: values[moved] for key, values in found.items()}
