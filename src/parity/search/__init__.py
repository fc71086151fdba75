"""Layout search for serving: every parallel layout, concurrency and serving mode of a model on a
system, priced as numpy arrays in one pass, with the throughput/interactivity Pareto frontier and
the best configuration under latency targets.

Aggregated candidates run the full closed-loop serving model (`serving.serve_aggregated`) on arrays
of (layout, concurrency), and under targets at each layout's largest load that meets them (_largest_meeting).
Disaggregated candidates pair a decode layout and batch with a few prefill layouts (each worker size's cheapest per
prompt/s and its quickest step at nearly that cost, and the quickest for a lone prompt), each with prefill workers
rate-matched to the engine's `disagg_prefill_utilization` (as `parity serve` sizes them) and rounded up to
whole workers, priced by the same closed-loop model (`serving.serve_disaggregated`) as their serve line: every pair
is screened in numpy first (serve's closed loop with the decode batch held), and only the rows that can reach the
frontier or the best are priced by serve's model, which is too slow for every pair (an 8,192-chip pod: 10.6 s).
Under targets, the near-best pairs also run at their largest decode batch meeting them, and the best pairs whose load
misses only the TTFT target at fewer clients on the same workers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from parity.catalog.speculation import MOST_MTP_DRAFTS
from parity.cost import math_unit
from parity.dtypes import format_named, format_on
from parity.engine import EngineProfile
from parity.errors import InfeasiblePlan, InputError, expect, is_whole
from parity.hardware import Calibration, Chip, System, one_rank_per_die
from parity.model import Model
from parity.ops import Batch
from parity.plan import Layout, LayoutGrid, Precision
from parity.serving import Workload, engine_deployment, kv_capacity, serve_aggregated, serve_disaggregated
from parity.serving.prefill import _queue_wait, prompt_group_size
from parity.serving.workload import check_serving_inputs
from parity.step import (Deployment, decode_host_floor, decode_host_floor_note, decode_step, deployment_memory,
                         kv_transfer_s, step_cost)
from parity.units import counted, duration_text, whole

__all__ = ["Candidate", "SearchResult", "layout_grid", "search_serving", "search_spanning", "best_precision",
           "decode_rates", "prefill_rates", "worker_sizes", "grid_of_sizes",
           "DEFAULT_CONCURRENCY", "check_records", "mtp_assumption", "whole_workers", "MAX_DECODE_WORKERS",
           "OVER_PROVISION", "MAX_WORKER_CHIPS"]

DEFAULT_CONCURRENCY = (1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072,
                       4096)
MAX_WORKER_CHIPS = 128  # serving workers searched up to this many chips (or the scale-up domain)
MAX_DECODE_WORKERS = 8  # a disaggregated candidate runs on at most this many decode workers (whole_workers)
# and with at most this many times the prefill workers per decode worker rate matching sizes (at the engine's
# disagg_prefill_utilization u: at least u / 1.5 busy, 47% for the generic engine's 70%), so that a small ratio does
# not need many decode workers to be met in whole workers
OVER_PROVISION = 1.5
# a disaggregated row is screened (search._screened) before it is priced as its serve line: rows within this share of
# the screened frontiers, and the best few, are priced first, then any other the result keeps (search_serving)
_SCREEN_SLACK = 0.03
# beside each worker size's cheapest prefill layout per prompt/s, the one with the quickest full step among those
# within this factor of its cost (search._prefill_options): a near tie on cost broken toward speed
_PREFILL_COST_TIE = 1.05
# under targets, the decode layouts of the disaggregated rows meeting them within this share of the best (at most
# _REFINED_LAYOUTS of them, best first) run at their largest batch meeting them as serve prices them (_refined)
_REFINE_SLACK = 0.05
_REFINED_LAYOUTS = 4

# narrowest first: the format a deployment uses if the chip runs it natively
_WEIGHT_PREFERENCE = ("nvfp4", "mxfp4", "fp8", "int8", "bf16", "fp16")


def best_precision(model: Model, chip: Chip, weights: str | None = None, kv: str | None = None) -> Precision:
    """The narrowest weight format the chip multiplies natively (or `weights` if given), with an FP8
    KV cache where the chip has FP8 and bf16 otherwise, the best the chip offers where serve stores the engine's
    default (or `kv` if given). Block-scaled FP8 checkpoints stay block-scaled."""
    def native(name: str) -> bool:
        try:
            return not math_unit(format_named(name), chip)[1]
        except InfeasiblePlan:
            return False

    if weights is not None:  # an alias reads as its format's own name (ue8m0: fp8_block; fp4: the chip's own, nvfp4
        weights = format_on(weights, chip.native).name  # or mxfp4), in every row it labels
    else:
        weights = next(name for name in _WEIGHT_PREFERENCE if native(name))
        if weights == "fp8" and "fp8_block" in (model.weight_format, model.expert_weight_format):
            weights = "fp8_block"
    kv = format_on(kv, chip.native).name if kv is not None else "fp8" if native("fp8") else "bf16"
    return Precision(weights=weights, expert_weights=weights, kv_cache=kv)


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    """One configuration: mode, layouts, load, and what it delivers (per chip and per user).

    layout: the aggregated worker's layout, or the prefill workers' when disaggregated (then
    decode_layout is the decode workers'); concurrency: clients per (decode) worker.
    """

    mode: str
    layout: Layout
    decode_layout: Layout | None
    concurrency: float
    chips: float
    prefill_workers_per_decode_worker: float
    ttft_s: float
    prefill_prompts_per_s: float = 0.0  # prompts/s one worker that prefills takes in full steps (aggregated or prefill)
    decode_workers: int = 1  # disaggregated: the decode workers priced, with ratio x as many (whole) prefill workers
    tpot_s: float
    tokens_per_s_per_chip: float
    tokens_per_s_per_user: float
    meets_targets: bool

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["layout"], out["decode_layout"] = str(self.layout), str(self.decode_layout or "")
        out["concurrency"], out["chips"] = whole(self.concurrency), whole(self.chips)  # counts where whole
        return out

    def worker_chips(self) -> tuple[float, float]:
        """Chips of one (decode) worker and of one prefill worker (0 aggregated), counted as `chips` counts them
        (packages where it was searched a rank per die)."""
        prefill = self.prefill_workers_per_decode_worker * self.layout.chips if self.decode_layout else 0.0
        unit = self.chips / ((self.decode_layout or self.layout).chips + prefill)
        return (self.decode_layout or self.layout).chips * unit, (self.layout.chips * unit if prefill else 0.0)

    def prefill_workers(self, units: int) -> int:
        """Whole prefill workers `units` decode workers need at the sized ratio, never fewer (fewer would take
        prompts faster than they prefill them); 0 aggregated."""
        return math.ceil(units * self.prefill_workers_per_decode_worker - 1e-9) if self.decode_layout else 0

    def unit_chips(self, units: int) -> float:
        """Chips of `units` whole deployment units: aggregated workers, or decode workers with their whole prefill
        workers (prefill_workers). `chips` is one unit's share, a decode worker with a fraction of a prefill one."""
        decode, prefill = self.worker_chips()
        return units * decode + self.prefill_workers(units) * prefill

    def units_within(self, chips: float) -> int:
        """The most whole deployment units (unit_chips) `chips` chips hold."""
        units = math.floor(chips / self.chips + 1e-9)  # each unit takes at least its share, `chips`
        while units > 0 and self.unit_chips(units) > chips + 1e-9:
            units -= 1
        return units

    def per_package(self, dies: int) -> Candidate:
        """This configuration, searched one rank per die (hardware.per_die), counted per package of `dies` dies:
        tokens/s per package and packages per worker (layouts still count dies)."""
        if dies == 1:
            return self
        return replace(self, tokens_per_s_per_chip=self.tokens_per_s_per_chip * dies,
                                   chips=self.chips / dies)


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchResult:
    """Every evaluated configuration's summary, the Pareto frontier (of every configuration that fits, joined by
    that of the ones meeting the targets, which holds the best) and the best under the targets; `meeting`: every
    configuration meeting the targets, where the search was asked for them (percentile targets rank them)."""

    evaluated: int
    feasible: int
    frontier: tuple[Candidate, ...]
    best: Candidate | None
    meeting: tuple[Candidate, ...] = ()
    targets: dict[str, float] = field(default_factory=dict)
    assumptions: tuple[str, ...] = ()
    fastest_tpot_s: float = float("inf")  # the lowest TPOT [s] of any configuration that fits
    fastest_ttft_s: float = float("inf")  # the lowest TTFT [s] any configuration that fits reaches

    def per_package(self, dies: int) -> SearchResult:
        """This search, run one rank per die (hardware.per_die), with every configuration counted per package of
        `dies` dies (Candidate.per_package)."""
        if dies == 1:
            return self
        return replace(self, frontier=tuple(c.per_package(dies) for c in self.frontier),
                       best=self.best.per_package(dies) if self.best else None,
                       meeting=tuple(c.per_package(dies) for c in self.meeting))

    def binding(self) -> str:
        """Why no configuration meets the targets: the constraint that binds, with the closest figure."""
        tpot_s, ttft_s = self.targets.get("tpot_s", float("inf")), self.targets.get("ttft_s", float("inf"))
        if not self.feasible:
            return f"none of {self.evaluated:,} configurations fits in memory"
        if self.fastest_tpot_s > tpot_s:
            return (f"the TPOT target {duration_text(tpot_s)} binds: the fastest configuration that fits reaches "
                    f"{duration_text(self.fastest_tpot_s)}")
        if self.fastest_ttft_s > ttft_s:
            return (f"the TTFT target {duration_text(ttft_s)} binds: the fastest configuration that fits reaches "
                    f"{duration_text(self.fastest_ttft_s)}")
        return (f"the TPOT ({duration_text(tpot_s)}) and TTFT ({duration_text(ttft_s)}) targets bind together: each alone "
                "is met, never both")


def _powers_of_two(limit: int) -> list[int]:
    return [1 << i for i in range(limit.bit_length()) if (1 << i) <= limit]


def layout_grid(model: Model, chips: int, pipeline: tuple[int, ...] = (1,)) -> LayoutGrid:
    """Every layout of one worker on exactly `chips` chips that divides the model: tensor parallel
    degrees, attention data parallelism, and for MoE models every split of the experts between
    expert parallelism and expert tensor parallelism."""
    found = []
    moe = "moe" in model.features
    for pp in pipeline:
        if chips % pp:
            continue
        for tp in _powers_of_two(chips // pp):
            if (chips // pp) % tp:
                continue  # every layout uses exactly `chips` chips
            dp = chips // (pp * tp)
            if dp > 1 and not moe:
                continue  # dense models scale out by more workers, not attention DP
            for ep in (_powers_of_two(tp * dp) if moe else [1]):
                layout = Layout(tp=tp, pp=pp, attn_dp=dp, moe_ep=ep, moe_tp=(tp * dp) // ep if moe else 0)
                try:
                    found.append(layout.check(model))
                except InfeasiblePlan:
                    continue
    if not found:
        raise InfeasiblePlan(f"no layout of {counted(chips, 'chip')} divides {model.name}")
    return LayoutGrid.of(found)


def grid_of_sizes(model: Model, sizes: list[int], pipeline: tuple[int, ...]) -> LayoutGrid | None:
    """Every layout of workers of each size in `sizes` (None when no size divides the model)."""
    grids = []
    for size in sizes:
        try:
            grids.append(layout_grid(model, size, pipeline))
        except InfeasiblePlan:
            continue
    if not grids:
        return None
    return LayoutGrid(**{name: np.concatenate([getattr(g, name) for g in grids])
                         for name in ("tp", "pp", "attn_dp", "moe_tp", "moe_ep")})


def worker_sizes(system: System, chips: int | None, max_chips: int | None) -> list[int]:
    """Chips per worker to try: `chips` if given, else powers of two up to the scale-up domain, or up
    to `max_chips` when that exceeds the domain (workers spanning systems over scale-out)."""
    if chips is not None:
        return [chips]
    domain = system.scale_up_domain_chips
    limit = max_chips if max_chips and max_chips > domain else min(domain, max_chips or domain)
    return _powers_of_two(limit)


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


def whole_workers(ratio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(prefill, decode) whole workers for each prefill-per-decode-worker `ratio`, never fewer prefill workers than
    it asks (fewer would take prompts faster than they prefill them, a queue that grows as long as the run): the
    fewest workers (at most MAX_DECODE_WORKERS decode) whose ratio is at least `ratio` and at most OVER_PROVISION
    times it; where none is, the ratio nearest above it (then the fewest workers)."""
    ratio = np.asarray(ratio, dtype=float)
    best_p, best_d = np.ones_like(ratio), np.ones_like(ratio)
    close_found = np.zeros(ratio.shape, dtype=bool)
    for d in range(1, MAX_DECODE_WORKERS + 1):
        p = np.maximum(1.0, np.ceil(ratio * d - 1e-9))
        close = p / d <= OVER_PROVISION * ratio
        fewer = (p + d) < (best_p + best_d)
        nearer = (p / d < best_p / best_d) | ((p / d == best_p / best_d) & fewer)
        take = np.where(close_found, close & fewer, close | nearer) if d > 1 else np.ones(ratio.shape, dtype=bool)
        best_p, best_d = np.where(take, p, best_p), np.where(take, float(d), best_d)
        close_found |= close
    return best_p, best_d


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


@dataclass(frozen=True, slots=True, kw_only=True)
class _Pairs:
    """What pairs decode candidates (decode_rates' rows) with the prefill layouts `options` (_prefill_options, `p`
    their full-step rates, `lone_ttft` their lone prompt's TTFT [s]): sized() puts each pair on whole workers,
    served() prices pairs as serve_disaggregated does, pick() keeps each candidate's best prefill layout."""

    model: Model
    system: System
    grid: LayoutGrid
    precision: Precision
    cal: Calibration
    profile: EngineProfile
    isl: int
    osl: int
    mtp: tuple[int, float]
    options: np.ndarray
    p: dict[str, np.ndarray]
    lone_ttft: np.ndarray
    ttft_s: float | None
    tpot_s: float | None

    def sized(self, d: dict[str, np.ndarray], prefill: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Every (decode candidate i, prefill layout j) pair, j each of `options` (or the one of `prefill` a
        candidate): prefill workers rate-matched at the engine's disagg_prefill_utilization and rounded up to whole
        ones (whole_workers), its clients per decode worker and chips per deployment unit."""
        m, n = len(self.options), len(d["index"])
        i, j = ((np.repeat(np.arange(n), m), np.tile(self.options, n)) if prefill is None else
                (np.arange(n), np.asarray(prefill, dtype=int)))
        ratio = (d["out_rate"][i] / self.osl) / (self.p["prompt_rate"][j] * self.profile.disagg_prefill_utilization)
        workers_p, workers_d = whole_workers(ratio)
        # the clients that keep a worker's batch decoding: each spends TTFT in its prompt for (osl - 1) TPOT decoding
        # (a worker of 8 decoding at TPOT 2.9 ms after a 3.2 s TTFT takes 17 clients), at the lone prompt's TTFT
        decoding = d["batch"][i] * self.grid.attn_dp[d["index"][i]]
        streaming = np.maximum(self.osl - 1.0, 1.0) * d["tpot"][i]
        clients = np.maximum(np.round(decoding * (self.lone_ttft[j] + streaming) / streaming), 1.0)
        chips = self.grid.chips[j] * workers_p + d["chips"][i] * workers_d  # ranks (dies where a die is one)
        return {"i": i, "j": j, "workers_p": workers_p, "workers_d": workers_d, "clients": clients, "chips": chips}

    def served(self, d: dict[str, np.ndarray], sized: dict[str, np.ndarray], at: np.ndarray
               ) -> tuple[np.ndarray, ...]:
        """The pairs `at` (into `sized`) as their serve lines price them: TTFT and TPOT [s], tokens/s per chip, and
        whether they fit and deliver."""
        i, j, workers_p, workers_d = (sized[key][at] for key in ("i", "j", "workers_p", "workers_d"))
        mtp_of = dict(mtp_tokens=self.mtp[0], mtp_acceptance=self.mtp[1])
        served = serve_disaggregated(
            engine_deployment(self.model, self.system, self.grid.take(j), self.precision, self.cal, self.profile,
                              **mtp_of),
            engine_deployment(self.model, self.system, self.grid.take(d["index"][i]), self.precision, self.cal,
                              self.profile, **mtp_of),
            self.profile, Workload(isl=np.full(at.size, float(self.isl)), osl=np.full(at.size, float(self.osl)),
                                   concurrency=sized["clients"][at] * workers_d), workers_p, workers_d)
        ttft, tpot = np.asarray(served.ttft_s), np.asarray(served.tpot_s)
        per_chip = np.asarray(served.output_tokens_per_s) / sized["chips"][at]
        fits = (np.broadcast_to(np.asarray(served.feasible), (at.size,)) & d["fits"][i] & np.isfinite(per_chip)
                & (per_chip > 0) & np.isfinite(ttft) & np.isfinite(tpot))
        return ttft, tpot, per_chip, fits

    def pick(self, sized: dict[str, np.ndarray], pair: dict[str, np.ndarray], rows: np.ndarray,
             run: dict[str, object]) -> None:
        """Per decode candidate in `rows`: the prefill layout with the most tokens/s per chip among those meeting
        the targets, else among those that fit, written into `run`'s columns."""
        m = len(self.options)
        at = (rows[:, None] * m + np.arange(m)).ravel()
        fits = pair["fits"][at]
        meets = fits & (pair["ttft"][at] <= (self.ttft_s or np.inf)) & (pair["tpot"][at] <= (self.tpot_s or np.inf))
        meeting, fitting = (np.where(ok, pair["per_chip"][at], -np.inf).reshape(-1, m) for ok in (meets, fits))
        column = np.where(meets.reshape(-1, m).any(axis=1), np.argmax(meeting, axis=1), np.argmax(fitting, axis=1))
        for key, values in self.columns(sized, pair, rows * m + column).items():
            if key not in run:
                run[key] = np.zeros(len(run["index"]), dtype=values.dtype)
            run[key][rows] = values

    def columns(self, sized: dict[str, np.ndarray], pair: dict[str, np.ndarray], chosen: np.ndarray
                ) -> dict[str, np.ndarray]:
        """The pairs `chosen` (into `sized`, priced in `pair`) as a disaggregated run's columns."""
        j, workers_d = sized["j"][chosen], sized["workers_d"][chosen]
        return {"prefill_index": j, "concurrency": sized["clients"][chosen], "ttft": pair["ttft"][chosen],
                "tpot": pair["tpot"][chosen], "per_chip": pair["per_chip"][chosen],
                "chips": sized["chips"][chosen] / workers_d, "ratio": sized["workers_p"][chosen] / workers_d,
                "decode_workers": workers_d, "prompt_rate": self.p["prompt_rate"][j], "fits": pair["fits"][chosen]}


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
             f"disaggregated prefill workers sized for {profile.disagg_prefill_utilization:.0%} utilisation (the engine's "
             f"disagg_prefill_utilization, rate matching) and rounded up to whole workers (at most "
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
