"""The layout search: search_serving prices every layout, load and mode and keeps the Pareto frontier and the best
under the targets; search_spanning widens workers over scale-out until one meets them."""

# How the candidates are priced:
# Aggregated candidates run the full closed-loop serving model (`serving.serve_aggregated`) on arrays
# of (layout, concurrency), and under targets at each layout's largest load that meets them (_largest_meeting).
# Disaggregated candidates pair a decode layout and batch with a few prefill layouts (each worker size's cheapest per
# prompt/s and its quickest step at nearly that cost, and the quickest for a lone prompt), each with prefill workers
# rate-matched to the engine's `disagg_prefill_utilization` (as `parity serve` sizes them) and rounded up to
# whole workers, priced by the same closed-loop model (`serving.serve_disaggregated`) as their serve line: every pair
# is screened in numpy first (serve's closed loop with the decode batch held), and only the rows that can reach the
# frontier or the best are priced by serve's model, which is too slow for every pair (an 8,192-chip pod: 10.6 s).
# Under targets, the near-best pairs also run at their largest decode batch meeting them, and the best pairs whose load
# misses only the TTFT target at fewer clients on the same workers.

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from parity.catalog.speculation import MOST_MTP_DRAFTS
from parity.engine import EngineProfile
from parity.errors import InfeasiblePlan, InputError, expect, is_whole
from parity.hardware import Calibration, System, one_rank_per_die
from parity.model import Model
from parity.plan import Precision
from parity.search.aggregated import _aggregated
from parity.search.disaggregated import _PREFILL_COST_TIE, _disaggregated
from parity.search.pairs import _SCREEN_SLACK, MAX_DECODE_WORKERS
from parity.search.rates import _prefill_both
from parity.search.records import Candidate, SearchResult
from parity.search.space import DEFAULT_CONCURRENCY, MAX_WORKER_CHIPS, grid_of_sizes, worker_sizes
from parity.serving.workload import check_serving_inputs
from parity.step import decode_host_floor_note

# under targets, the decode layouts of the disaggregated rows meeting them within this share of the best (at most
# _REFINED_LAYOUTS of them, best first) run at their largest batch meeting them as serve prices them (_refined)
_REFINE_SLACK = 0.05
_REFINED_LAYOUTS = 4


def _near_frontier(per_user: np.ndarray, per_chip: np.ndarray, slack: float) -> np.ndarray:
    """Indices of the points that no other beats by more than `slack` (a share) on both axes; the Pareto frontier
    and more where slack > 0 (0: _frontier_mask's points)."""
    if not slack:
        return _frontier_mask(per_user, per_chip)
    order = np.argsort(-per_user, kind="stable")
    user, chip = per_user[order], per_chip[order]
    most = np.maximum.accumulate(chip)
    faster = np.searchsorted(-user, -user * (1.0 + slack), side="right")  # points at least 1 + slack as fast
    beaten = np.where(faster > 0, most[np.maximum(faster - 1, 0)], -np.inf)
    return order[chip * (1.0 + slack) > beaten]


def _frontier_mask(per_user: np.ndarray, per_chip: np.ndarray) -> np.ndarray:
    """Indices of the Pareto frontier (no point beats another on both axes), fastest user first."""
    order = np.lexsort((-per_chip, -per_user))
    best_so_far = np.maximum.accumulate(np.concatenate([[-np.inf], per_chip[order]]))[:-1]
    return order[per_chip[order] > best_so_far]


def check_records(model: Model, systems: Sequence[System], profile: EngineProfile) -> None:
    """Refuse in one line (InputError) a model, systems or an engine profile given as anything but their records
    (a name where catalog.model(name) goes, one System where a list of them does); an empty list included."""
    expect("model", model, Model, "catalog.model(name)")
    expect("profile", profile, EngineProfile, "catalog.engine(name)")
    if isinstance(systems, (str, System)) or not isinstance(systems, Sequence) or not systems:
        given = f"one System, {systems.id!r}" if isinstance(systems, System) else f"{systems!r:.40}"
        raise InputError(f"systems must be a non-empty list of System records (catalog.system(name) each), "
                         f"got {given}")
    for system in systems:
        expect("each of systems", system, System, "catalog.system(name)")


def mtp_assumption(mtp: tuple[int, float]) -> str:
    """A search's assumption on (draft tokens, accepted a step): 'MTP 1 draft tokens, 0.92 accepted a step'; '' for
    none. Its own line of SearchResult.assumptions, which a caption saying as much leaves out."""
    return f"MTP {mtp[0]} draft tokens, {mtp[1]:.3g} accepted a step" if mtp[0] else ""


def search_serving(model: Model, system: System, profile: EngineProfile, calibration: Calibration,
                   precision: Precision, isl: int, osl: int, tpot_s: float | None = None, ttft_s: float | None = None,
                   chips: int | None = None, modes: tuple[str, ...] = ("agg", "disagg"),
                   concurrency: tuple[int, ...] = DEFAULT_CONCURRENCY, max_chips: int | None = None,
                   pipeline: tuple[int, ...] = (1, 2, 4), mtp: tuple[int, float] = (0, 0.0),
                   meeting: bool = False) -> SearchResult:
    """Search layouts, loads and modes; the best configuration is the most tokens/s per chip among
    those meeting the TPOT and TTFT targets. `chips`: chips per worker (default: every power of two
    up to one scale-up domain, or up to `max_chips`); `pipeline`: pipeline-parallel degrees to try;
    `mtp`: multi-token prediction (draft tokens a decode step, accepted on average), (0, 0) off; `meeting`:
    keep every configuration that meets the targets (SearchResult.meeting). Lengths, targets and `mtp` that no
    question means are refused (check_serving_inputs; InputError), as are a model, system, profile, calibration or
    precision given as anything but their records."""
    check_records(model, [system], profile)
    expect("calibration", calibration, Calibration, "catalog.calibration(chip)")
    expect("precision", precision, Precision, "parity.Precision(...)")
    check_serving_inputs(isl, osl, tpot_s, ttft_s)
    if not modes or not set(modes) <= {"agg", "disagg"}:
        raise InputError(f"modes must name agg, disagg or both, got {modes!r}")
    for name, value in (("chips", chips), ("max_chips", max_chips)):
        if value is not None and (not is_whole(value) or value < 1):
            raise InputError(f"{name} must be a whole number >= 1, or None, got {value!r}")
    if not pipeline or any(not is_whole(p) or p < 1 for p in pipeline):
        raise InputError(f"pipeline must be whole degrees >= 1, got {pipeline!r}")
    if not concurrency or not all(math.isfinite(c) and c >= 1 for c in concurrency):
        raise InputError(f"concurrency must be finite loads >= 1, got {concurrency!r}")
    if not isinstance(mtp, tuple) or len(mtp) != 2:
        raise InputError(f"mtp must be (draft tokens, accepted a step), got {mtp!r}")
    drafts, accepted = mtp
    if not is_whole(drafts) or not 0 <= drafts <= MOST_MTP_DRAFTS or not 0 <= accepted <= drafts:
        raise InputError(f"mtp must be (draft tokens in [0, {MOST_MTP_DRAFTS}], accepted a step in [0, drafts]), "
                         f"got {mtp!r}")
    conc = np.asarray(concurrency, dtype=float)
    sizes = worker_sizes(system, chips, max_chips)
    grid = grid_of_sizes(model, sizes, pipeline)
    if grid is None:
        sizes_text = str(chips) if chips else f"up to {system.scale_up_domain_chips}"
        raise InfeasiblePlan(f"no layout of {sizes_text} chips divides {model.name}")
    prefill = _prefill_both(model, system, grid, precision, calibration, profile, isl)
    runs = {mode: (_aggregated(model, system, grid, precision, calibration, profile, isl, osl, conc, mtp, prefill,
                               tpot_s, ttft_s)
                   if mode == "agg" else
                   _disaggregated(model, system, grid, precision, calibration, profile, isl, osl, conc, ttft_s, mtp,
                                  tpot_s, prefill))
            for mode in modes}
    mode_of = np.concatenate([np.full(len(r["index"]), mode) for mode, r in runs.items()])
    row_of = np.concatenate([np.arange(len(r["index"])) for r in runs.values()])

    def column(key: str) -> np.ndarray:
        return np.concatenate([np.asarray(r.get(key, np.zeros(len(r["index"]))), dtype=float) for r in runs.values()])

    def figures() -> tuple[np.ndarray, ...]:
        ttft, tpot, per_chip = column("ttft"), column("tpot"), column("per_chip")
        ok = column("fits").astype(bool) & np.isfinite(tpot) & np.isfinite(ttft) & (per_chip > 0)
        return ttft, tpot, per_chip, ok, ok & (tpot <= (tpot_s or np.inf)) & (ttft <= (ttft_s or np.inf))

    def kept(ok: np.ndarray, meets: np.ndarray, per_user: np.ndarray, per_chip: np.ndarray,
             slack: float = 0.0) -> np.ndarray:
        """The configurations a result keeps: both frontiers (within `slack`), the best, and every one meeting the
        targets where `meeting` asks for them."""
        index = [i[_near_frontier(per_user[i], per_chip[i], slack)]
                 for i in (np.flatnonzero(ok), np.flatnonzero(meets))]
        if meets.any():
            index.append(np.flatnonzero(meets)[np.argsort(-per_chip[meets])[:4 if slack else 1]])
        if meeting:
            index.append(np.flatnonzero(meets))
        return np.unique(np.concatenate(index))

    # disaggregated rows come screened (_disaggregated): price exactly those within _SCREEN_SLACK of the frontiers, the
    # best few and the quickest, then any other the result keeps, until every row it keeps is its serve line's
    def append(more: dict[str, np.ndarray]) -> None:
        """Add rows (`more`, as the disaggregated run's) to that run."""
        nonlocal mode_of, row_of
        if not more:
            return
        for key, values in more.items():
            disagg[key] = np.concatenate([disagg[key], values])
        mode_of = np.concatenate([np.full(len(r["index"]), mode) for mode, r in runs.items()])
        row_of = np.concatenate([np.arange(len(r["index"])) for r in runs.values()])

    if "disagg" in runs:
        disagg, first = runs["disagg"], True
        while True:
            ttft, tpot, per_chip, ok, meets = figures()
            wanted = kept(ok, meets, 1.0 / tpot, per_chip, _SCREEN_SLACK if first else 0.0)
            rows = row_of[wanted[mode_of[wanted] == "disagg"]]
            rows = np.union1d(rows[~disagg["exact"][rows]], disagg["quickest"] if first else [])
            if not rows.size:
                break
            disagg["price"](rows.astype(int))
            first = False
        if tpot_s or ttft_s:
            ttft, tpot, per_chip, ok, meets = figures()
            top = per_chip[meets].max() if meets.any() else np.inf
            near = np.flatnonzero(meets & (mode_of == "disagg") & (per_chip * (1.0 + _REFINE_SLACK) >= top))
            near = near[np.argsort(-per_chip[near], kind="stable")]
            layouts, first_of = np.unique(disagg["index"][row_of[near]], return_index=True)
            if layouts.size:
                append(disagg["refine"](row_of[near[np.sort(first_of)][:_REFINED_LAYOUTS]]))
            if ttft_s:  # then the pairs whose best load misses the TTFT target alone, at fewer clients (_lowered)
                ttft, tpot, per_chip, ok, meets = figures()
                append(disagg["lower"](per_chip[meets].max() if meets.any() else 0.0))
    evaluated = sum(len(r["index"]) for r in runs.values())
    ttft, tpot, per_chip, ok, meets = figures()
    # the lowest TTFT each configuration can reach: a disaggregated one's with its prefill sized for speed, not
    # for the target (which keeps the cheapest prefill when none meets it)
    quickest = np.concatenate([np.asarray(r.get("fastest_ttft", r["ttft"]), dtype=float) for r in runs.values()])

    def candidate(i: int) -> Candidate:
        r, j = runs[str(mode_of[i])], int(row_of[i])
        layout = grid.at(int(r["index"][j]))
        prefill = grid.at(int(r["prefill_index"][j])) if "prefill_index" in r else None
        return Candidate(mode=str(mode_of[i]), layout=prefill or layout, decode_layout=layout if prefill else None,
                         concurrency=float(r["concurrency"][j]), chips=float(r["chips"][j]),
                         prefill_workers_per_decode_worker=float(r["ratio"][j]) if prefill else 0.0,
                         decode_workers=int(r["decode_workers"][j]) if prefill else 1,
                         prefill_prompts_per_s=float(r["prompt_rate"][j]),
                         ttft_s=float(ttft[i]), tpot_s=float(tpot[i]), tokens_per_s_per_chip=float(per_chip[i]),
                         tokens_per_s_per_user=1.0 / float(tpot[i]), meets_targets=bool(meets[i]))

    # the frontier of every configuration that fits, and of those meeting the targets (their best among them,
    # which the first may miss when a TTFT target rules out its points): what --refine and a percentile target rank
    on_frontier = [index[_frontier_mask(1.0 / tpot[index], per_chip[index])]
                   for index in (np.flatnonzero(ok), np.flatnonzero(meets))]
    union = np.unique(np.concatenate(on_frontier))
    frontier = tuple(candidate(int(i)) for i in union[np.lexsort((-per_chip[union], tpot[union]))])
    best = candidate(int(np.flatnonzero(meets)[np.argmax(per_chip[meets])])) if meets.any() else None
    unit = "dies (one rank each)" if one_rank_per_die(system) else "chips"  # per_die: a die is the chip searched
    notes = (f"{profile.label}; layouts of {min(sizes)} to {max(sizes)} {unit} per worker",
             *filter(None, [mtp_assumption(mtp)]),
             f"disaggregated prefill workers sized for {profile.disagg_prefill_utilization:.0%} utilisation "
             f"(the engine's disagg_prefill_utilization, rate matching) and rounded up to whole workers (at most "
             f"{MAX_DECODE_WORKERS} decode workers), each row priced as `parity serve --model-kind steady` prices its "
             "serve line (its clients in a closed loop, so a row's TTFT is its own load's), on the prefill layout "
             "giving the most tok/s/chip meeting the targets of each worker size's cheapest per prompt/s, its "
             f"quickest full step within {_PREFILL_COST_TIE - 1.0:.0%} of that cost and the quickest for a lone "
             "prompt",
             "a load is at most what a rank's KV cache holds (more clients would only queue for a slot), so a "
             "layout's largest load is its KV capacity where that lies within the concurrency grid; under targets, "
             "each layout also runs at its largest whole load between the grid's that meets them (the decode batch "
             "against the TPOT target where disaggregated, and for the pairs within "
             f"{_REFINE_SLACK:.0%} of the best, against the targets as their serve lines price them; a pair whose best "
             "load misses the TTFT target alone, at its most clients meeting it on the same workers)",
             *decode_host_floor_note(profile.decode_host_token_s, grid.attn_dp, mtp[0]))
    return SearchResult(evaluated=evaluated, feasible=int(ok.sum()), frontier=frontier, best=best,
                        meeting=tuple(candidate(int(i)) for i in np.flatnonzero(meets)) if meeting else (),
                        targets={"tpot_s": tpot_s or float("inf"), "ttft_s": ttft_s or float("inf")},
                        assumptions=notes, fastest_tpot_s=float(tpot[ok].min()) if ok.any() else float("inf"),
                        fastest_ttft_s=float(quickest[ok].min()) if ok.any() else float("inf"))


def search_spanning(model: Model, system: System, profile: EngineProfile, calibration: Calibration,
                    precision: Precision, isl: int, osl: int, tpot_s: float | None = None,
                    ttft_s: float | None = None, spans: tuple[int, ...] = (1, 2, 4),
                    mtp: tuple[int, float] = (0, 0.0), meeting: bool = False) -> tuple[SearchResult | None, int]:
    """`search_serving` with workers of up to one scale-up domain, else of up to 2, 4 ... domains
    (`spans`) over scale-out: (the first result with a best configuration, the systems it spans); where no span
    gives one, the widest searched result in which a configuration fits (else the first searched), with no best:
    its binding() says which target or memory stops it; (None, 1) when no layout of any span divides the model.
    `meeting`: as search_serving's."""
    domain = min(system.scale_up_domain_chips, MAX_WORKER_CHIPS)
    closest: tuple[SearchResult | None, int] = (None, 1)
    for span in spans:
        try:
            found = search_serving(model, system, profile, calibration, precision, isl, osl, tpot_s, ttft_s,
                                   max_chips=domain * span, mtp=mtp, meeting=meeting)
        except InfeasiblePlan:
            continue
        if found.best is not None:
            return found, span
        if closest[0] is None or found.feasible:
            closest = (found, span)
    return closest
