"""`parity search --refine K`: the steady-state search's best candidates re-run by the step-level
simulator, each as the `parity serve --sim` case of its layout (same catalog lookups, same client)."""

from __future__ import annotations

import math
import functools
from collections.abc import Callable, Mapping, Sequence

from parity.errors import ParityError
from parity.flags import joined
from parity.parallel import map_chunks
from parity.plan import Precision
from parity.predict.case import Case
from parity.predict.scenario import scenario_of
from parity.predict.simulated import simulate_scenario
from parity.search import Candidate
from parity.simulate.targets import LatencyTarget

__all__ = ["REFINE_KEYS", "MAX_DECODE_WORKERS", "refine_order", "case_of_candidate", "refine_candidate",
           "refine_candidates", "sim_meets", "bisect_percentiles"]

# the simulator's figures a refined row carries, next to the steady-state ttft_s and tpot_s
REFINE_KEYS = ("sim_ttft_s", "sim_ttft_p50_s", "sim_ttft_p90_s", "sim_ttft_p99_s", "sim_tpot_s", "sim_tpot_p50_s",
               "sim_tpot_p90_s", "sim_tpot_p99_s", "sim_tokens_per_s_per_chip", "sim_tokens_per_s_per_user",
               "sim_chips", "sim_case", "sim_flags")
MAX_DECODE_WORKERS = 8  # a disaggregated candidate is simulated on at most this many decode workers
# and with at most this many times the prefill workers per decode worker the search sized (at 80% utilisation: at
# least 53% busy), so that a small ratio does not need many decode workers to be met in whole workers
OVER_PROVISION = 1.5


def refine_order(frontier: Sequence[Candidate]) -> list[int]:
    """Frontier indices, best first: those meeting the targets by tokens/s per chip (the search's own
    ranking of its best), then the rest by tokens/s per chip."""
    return sorted(range(len(frontier)), key=lambda i: (not frontier[i].meets_targets,
                                                       -frontier[i].tokens_per_s_per_chip))


def _workers(candidate: Candidate) -> tuple[int, int]:
    """(prefill, decode) whole workers for the candidate's prefill-per-decode ratio, never fewer prefill workers
    than it asks: fewer would take prompts faster than they can prefill them, a queue that grows as long as the
    run. The fewest workers (at most MAX_DECODE_WORKERS decode) whose ratio is at least the candidate's and at most
    OVER_PROVISION times it; where none is, the ratio nearest above it."""
    ratio = candidate.prefill_workers_per_decode_worker
    if ratio <= 0:
        return 1, 1
    pairs = [(max(1, math.ceil(ratio * d - 1e-9)), d) for d in range(1, MAX_DECODE_WORKERS + 1)]
    close = [pair for pair in pairs if pair[0] / pair[1] <= OVER_PROVISION * ratio]
    return min(close, key=sum) if close else min(pairs, key=lambda pair: (pair[0] / pair[1], sum(pair)))


def case_of_candidate(candidate: Candidate, model: str, system: str, engine: str, precision: Precision, isl: int,
                      osl: int, mtp_tokens: int = 0, rank_per_die: bool = False) -> Case:
    """The `parity serve` case of a search candidate: its layouts, formats and clients (all the decode
    workers' clients when disaggregated, on whole workers: _workers); `mtp_tokens` drafts a decode step at the
    model's published acceptance, and one rank per die of a multi-die package (`rank_per_die`), as the search ran."""
    formats = dict(weights=precision.weights, moe_weights=precision.expert_weights, kv=precision.kv_cache,
                   mtp_tokens=mtp_tokens, rank_per_die=rank_per_die)
    if candidate.mode == "agg":
        return Case(case_id="refine", model=model, system=system, engine=engine, isl=isl, osl=osl,
                    concurrency=max(1, round(candidate.concurrency)), layout=candidate.layout, **formats)
    prefill, decode = _workers(candidate)
    return Case(case_id="refine", model=model, system=system, engine=engine, isl=isl, osl=osl, mode="disagg",
                concurrency=max(1, round(candidate.concurrency)) * decode, layout=candidate.layout,
                decode_layout=candidate.decode_layout, prefill_workers=prefill, decode_workers=decode, **formats)


def _described(case: Case) -> str:
    """What was simulated, e.g. 'disagg: 2 x tp1 prefill, 1 x tp1-pp2 decode, 384 clients, fp8 weights, fp8 KV'."""
    if case.mode == "agg":
        workers = f"agg: 1 x {case.layout}"
    else:
        workers = (f"disagg: {case.prefill_workers} x {case.layout} prefill, {case.decode_workers} x "
                   f"{case.decode_layout} decode")
    return f"{workers}, {case.concurrency} clients, {case.weights} weights, {case.kv} KV"


def refine_candidate(candidate: Candidate, model: str, system: str, engine: str, precision: Precision, isl: int,
                     osl: int, mtp_tokens: int = 0, rank_per_die: bool = False) -> dict[str, object]:
    """The candidate's row with the simulator's TTFT and TPOT (mean, p50, p90, p99), throughput and chips
    (REFINE_KEYS); sim_case says what was simulated, or why the simulation failed (figures NaN); sim_flags the
    run's own flag (SimResult.kv_flag: KV-bound), '' where none."""
    row = candidate.to_dict()
    case = case_of_candidate(candidate, model, system, engine, precision, isl, osl, mtp_tokens, rank_per_die)
    nan = math.nan
    try:
        sim = simulate_scenario(scenario_of(case))
    except (ParityError, ValueError, ArithmeticError) as err:
        return {**row, **{k: nan for k in REFINE_KEYS}, "sim_case": f"simulation failed: {err}", "sim_flags": ""}
    latency = sim.latency
    return {**row, **{f"sim_{k}": latency[k] for k in ("ttft_s", "ttft_p50_s", "ttft_p90_s", "ttft_p99_s", "tpot_s",
                                                       "tpot_p50_s", "tpot_p90_s", "tpot_p99_s")},
            "sim_tokens_per_s_per_chip": sim.output_tokens_per_s_per_chip,
            "sim_tokens_per_s_per_user": sim.output_tokens_per_s_per_user, "sim_chips": sim.chips,
            "sim_case": _described(case), "sim_flags": joined(filter(None, (sim.kv_flag(),)))}


def _refine_chunk(chunk: list[Candidate], model: str, system: str, engine: str, precision: Precision, isl: int,
                  osl: int) -> list[dict[str, object]]:
    return [refine_candidate(c, model, system, engine, precision, isl, osl) for c in chunk]


def refine_candidates(candidates: Sequence[Candidate], model: str, system: str, engine: str, precision: Precision,
                      isl: int, osl: int, processes: int = 1) -> list[dict[str, object]]:
    """refine_candidate of each candidate, in order, one simulation per task over `processes` processes."""
    run = functools.partial(_refine_chunk, model=model, system=system, engine=engine, precision=precision, isl=isl,
                            osl=osl)
    return [row for part in map_chunks(run, [[c] for c in candidates], processes) for row in part]


def sim_meets(row: Mapping[str, object], percentiles: Sequence[LatencyTarget]) -> bool:
    """A refined row meets percentile targets when the steady-state screen passed (its means within the same
    bounds) and each simulated percentile (row['sim_ttft_p99_s'], ...) is within its bound; a failed
    simulation (NaN) meets nothing."""
    values = [float(row[f"sim_{t.key}"]) for t in percentiles]  # type: ignore[arg-type]
    return bool(row["meets_targets"]) and all(math.isfinite(v) and v <= t.seconds for v, t in zip(values, percentiles))


def bisect_percentiles(ranked: Sequence[int], simulate: Callable[[int], dict[str, object]],
                       percentiles: Sequence[LatencyTarget], budget: int) -> dict[int, dict[str, object]]:
    """Simulated rows of the candidates a bisection probes, by index, each with `sim_meets_targets` (sim_meets):
    `ranked` holds the candidates the steady-state screen passed, best tok/s/chip first; a percentile grows with
    the load, so the first of them to meet the targets is sought by halving (at most `budget` simulations, about
    log2 of their number). Every row returned is a simulation; if the ranking is not monotone in the percentile
    the bisection may settle on a slower candidate than the best, never on one that misses."""
    probed: dict[int, dict[str, object]] = {}
    low, high = 0, len(ranked)  # every candidate before `low` misses; `high`: the first known to meet (or end)
    while low < high and len(probed) < budget:
        middle = (low + high) // 2
        row = simulate(ranked[middle])
        row = probed[ranked[middle]] = {**row, "sim_meets_targets": sim_meets(row, percentiles)}
        if row["sim_meets_targets"]:
            high = middle
        else:
            low = middle + 1
    return probed
