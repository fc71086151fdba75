"""Disaggregated pairs run off the load grid, priced as their serve lines: at their largest decode batch meeting the
targets (_refined), and at fewer clients where their best load misses the TTFT target alone (_lowered)."""

from __future__ import annotations

import numpy as np

from parity.search.loads import _meets
from parity.search.pairs import _SCREEN_SLACK, _Pairs
from parity.search.rates import _decoding


_REFINE_TRIES = 128  # whole batches a refined pair tries in one call of serve's model (a call costs ~15 ms however few)


def _bracket_tries(units: np.ndarray, low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The whole values each bracket (low, high] tries in one call, at most _REFINE_TRIES of them evenly spread to
    `high`, and the unit each try is of (_refined's batches, _lowered's clients): (units repeated, values)."""
    tries = [np.unique(np.round(np.linspace(a + 1.0, b, int(min(b - a, _REFINE_TRIES))))) for a, b in zip(low, high)]
    return np.repeat(units, [len(t) for t in tries]), np.concatenate(tries)


def _refined(pairs: _Pairs, d: dict[str, np.ndarray], run: dict[str, object], rows: np.ndarray
             ) -> dict[str, np.ndarray]:
    """Rows (as `run`'s, exactly priced) of each pair of decode and prefill layouts of `rows` (run's rows meeting
    the targets) at its largest whole batch per rank meeting them as its serve line prices it: the whole batches
    between the row's and the next of decode_rates' batches of its decode layout (the next after that where that one
    meets them too), at most _REFINE_TRIES of them at a time in one call, the first call closing most brackets.
    Meeting the targets is taken to be monotone in the batch, as in _largest_meeting.

    decode_rates bisects a layout's batch on the TPOT of a batch held full, while serve's closed loop keeps some of
    those clients waiting for a first token, so its TPOT is lower: an H200 with 1.08x the memory (tp1-dp8-ep8 holding
    406 sequences a rank) stopped at the 345 whose held TPOT meets 50 ms, 2,764 clients, while 1.05x the memory
    (354 a rank, held TPOT 51 ms) met it at 2,836 clients, 0.13% more per chip from less memory. A pair is searched on
    its own prefill layout: over all of them, the largest batch meeting the targets may take a costlier one."""
    units, first = np.unique(np.stack([d["index"][rows], np.asarray(run["prefill_index"])[rows]], axis=1), axis=0,
                             return_index=True)
    decode, prefill = units[:, 0], units[:, 1]
    lo = d["batch"][rows[first]].astype(float)  # the largest batch known to meet the targets
    grid_batches = [np.unique(d["batch"][d["index"] == k]) for k in decode]

    def next_above(u: int, batch: float) -> float:
        above = grid_batches[u][grid_batches[u] > batch]
        return float(above[0]) if above.size else np.inf

    # the batch the tries reach: two of the layout's batches up (the first may meet the targets as served, as
    # 354 did above), so that one call mostly closes the bracket
    hi = np.array([min(next_above(u, next_above(u, b)), next_above(u, b) * 2.0) if np.isfinite(next_above(u, b))
                   else np.inf for u, b in enumerate(lo)])
    missed = np.zeros(len(units))  # 1 where hi is known to miss them (the tries stop below it), else 0
    fastest = float(run["fastest_ttft"][0])
    found: list[dict[str, np.ndarray]] = []
    while (open_ := np.flatnonzero(np.isfinite(hi) & (hi - missed > lo + 0.5))).size:
        index, tried = _bracket_tries(open_, lo[open_], hi[open_] - missed[open_])
        at = _decoding(pairs.model, pairs.system, pairs.grid, pairs.precision, pairs.cal, pairs.profile, pairs.isl,
                       pairs.osl, decode[index], tried, pairs.mtp)
        sized = pairs.sized(at, prefill[index])
        ttft, tpot, per_chip, fits = pairs.served(at, sized, np.arange(len(index)))
        out = {"index": decode[index], **pairs.columns(sized, {"ttft": ttft, "tpot": tpot, "per_chip": per_chip,
                                                                "fits": fits}, np.arange(len(index))),
               "exact": np.ones(len(index), dtype=bool), "fastest_ttft": np.full(len(index), fastest)}
        meets, capped = _meets(out, pairs.tpot_s, pairs.ttft_s), at["batch"] < tried
        for u in open_:
            mine = np.flatnonzero(index == u)
            ok = mine[meets[mine]]
            if ok.size:
                top = ok[np.argmax(at["batch"][ok])]
                found.append({key: values[[top]] for key, values in out.items()})
                lo[u] = at["batch"][top]
            over = mine[~meets[mine] & (at["batch"][mine] > lo[u])]
            hi[u] = (at["batch"][over].min() if over.size else
                     np.inf if capped[mine].any() else next_above(u, lo[u]))
            missed[u] = 1.0 if over.size else 0.0
    return {key: np.concatenate([f[key] for f in found]) for key in found[0]} if found else {}


_LOWERED_PAIRS = 4  # pairs whose best operating point misses only the TTFT target that _lowered runs at fewer clients


def _lowered(pairs: _Pairs, d: dict[str, np.ndarray], sized: dict[str, np.ndarray], pair: dict[str, np.ndarray],
             top: float, fastest: float) -> dict[str, np.ndarray]:
    """Rows (as a disaggregated run's, exactly priced) of the pairs of decode and prefill layouts whose most tokens/s
    per chip among the pairs priced (`pair`, of `sized`; screened or exact) fits and meets the TPOT target but misses
    the TTFT target, and beats `top` (the best meeting the targets so far; within _SCREEN_SLACK, a screened figure's
    margin): that point's whole workers held, at its most whole clients per decode worker meeting the targets as its
    serve line prices them (fewer clients queue fewer prompts). At most _LOWERED_PAIRS pairs, most tokens/s first,
    each trying up to _REFINE_TRIES client counts in one call, the first closing most brackets; meeting the targets is
    taken to be monotone in the clients. `fastest`: the run's fastest_ttft, carried into the rows with any lower TTFT
    a try reached (each pair's first call tries one client per decode worker): the quickest try comes back too where
    no pair meets the targets, so that a refusal names it.

    Rate matching sizes a pair's prefill workers for the engine's disagg_prefill_utilization at the decode batch its
    TPOT target allows, and that load can queue prompts past a TTFT target that fewer clients meet: decode tp4-pp2 with
    two tp1-pp4 prefill workers (Llama-3.1-405B on an MI325X, TPOT 50 ms, TTFT 5 s) gave 261.9 tok/s/chip at 193
    clients, TTFT 5.77 s, and the pair was left out; at 164 clients it meets 5 s (4.97 s) at 240.6."""
    if not pairs.ttft_s:
        return {}
    decode, prefill = d["index"][sized["i"]], sized["j"]
    missing = np.flatnonzero(pair["fits"] & (pair["tpot"] <= (pairs.tpot_s or np.inf)) & (pair["ttft"] > pairs.ttft_s)
                             & (pair["per_chip"] * (1.0 + _SCREEN_SLACK) > top))
    missing = missing[np.argsort(-pair["per_chip"][missing], kind="stable")]
    _, first = np.unique(np.stack([decode[missing], prefill[missing]], axis=1), axis=0, return_index=True)
    chosen = missing[np.sort(first)][:_LOWERED_PAIRS]  # each pair's best point, the best pairs first
    if not chosen.size:
        return {}
    lo, hi = np.zeros(chosen.size), sized["clients"][chosen].copy()  # clients known to meet (0: none), to try up to
    missed = np.zeros(chosen.size)  # 1 where hi is known to miss them (the tries stop below it), else 0
    found: dict[int, dict[str, np.ndarray]] = {}  # each pair's most clients meeting the targets so far
    quickest: dict[str, np.ndarray] = {}  # the fitting try with the lowest TTFT
    while (open_ := np.flatnonzero(hi - missed > lo + 0.5)).size:
        index, tried = _bracket_tries(open_, lo[open_], hi[open_] - missed[open_])
        at = {key: values[chosen[index]] for key, values in sized.items()}
        at["clients"] = tried
        ttft, tpot, per_chip, fits = pairs.served(d, at, np.arange(index.size))
        out = {"index": decode[chosen[index]], **pairs.columns(at, {"ttft": ttft, "tpot": tpot, "per_chip": per_chip,
                                                                   "fits": fits}, np.arange(index.size)),
               "exact": np.ones(index.size, dtype=bool), "fastest_ttft": np.full(index.size, fastest)}
        meets, fitting = _meets(out, pairs.tpot_s, pairs.ttft_s), np.flatnonzero(_meets(out, None, None))
        if fitting.size and (not quickest or ttft[fitting].min() < quickest["ttft"][0]):
            quickest = {key: values[[fitting[np.argmin(ttft[fitting])]]] for key, values in out.items()}
        for u in open_:
            mine = np.flatnonzero(index == u)
            ok = mine[meets[mine]]
            if ok.size:
                best = ok[np.argmax(at["clients"][ok])]
                found[int(u)] = {key: values[[best]] for key, values in out.items()}
                lo[u] = at["clients"][best]
            over = mine[~meets[mine] & (at["clients"][mine] > lo[u])]
            hi[u], missed[u] = (at["clients"][over].min(), 1.0) if over.size else (lo[u], 0.0)
    rows = list(found.values()) or ([quickest] if quickest else [])
    if not rows:
        return {}
    more = {key: np.concatenate([row[key] for row in rows]) for key in rows[0]}
    more["fastest_ttft"][:] = min(fastest, float(quickest["ttft"][0]))
    return more
