"""How many systems a serving worker spans over scale-out: the memory a layout lacks on one scale-up domain, and the
search that takes wider workers where they deliver enough more per chip."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from parity import catalog
from parity.engine import EngineProfile
from parity.errors import InfeasiblePlan
from parity.hardware import System
from parity.model import Model
from parity.plan import Precision
from parity.search import MAX_WORKER_CHIPS, Candidate, SearchResult, layout_grid
from parity.serving import engine_deployment
from parity.step import deployment_memory


WIDER_GAIN = 1.25  # workers over more systems are taken when they deliver this much more per chip
NAMED_GAIN = 1.05  # and named (passed_text) where they deliver this much more, not taken


def serving_search(search: Callable[..., tuple[SearchResult | None, int]], ranks: System, shortfall_bytes: float
                   ) -> tuple[SearchResult | None, int, tuple[float, int] | None, tuple[float, int] | None]:
    """`search` (search_spanning with all but its spans) over serving_spans(shortfall_bytes), then with workers over
    widest_span(ranks) systems where those deliver WIDER_GAIN x more per chip than the narrower best (or where the
    narrower has none): (result, systems its workers span, (tokens/s per rank, systems) of the narrower best it
    replaced, or None; the same of a wider best it did not take, faster per chip by less than WIDER_GAIN, or None;
    the systems are those the chosen worker spans). A looser target can so price a chip below a tighter one (the
    narrower best gains more from it than the wider): passed_text says so. A model that fits one system is not kept on
    one: a MoE model's experts spread over more ranks, each reading fewer weights a step, so DeepSeek-R1 on the 910C
    delivers 1,617 tok/s/chip over four Atlas 800 A3 against 510 on one (SGLang's own A3 recipe decodes over two),
    and keeping it there priced a chip that holds the model alone below one that does not (the H20, which spans
    two). compare and fleet both choose so."""
    found, spans = search(spans=serving_spans(shortfall_bytes))
    if spans >= widest_span(ranks):
        return found, spans, None, None
    narrow = found.best.tokens_per_s_per_chip if found is not None and found.best is not None else 0.0
    wider = _wider_search(search, ranks)
    if _gains(wider, narrow):
        assert wider is not None and wider.best is not None
        if found is not None and found.meeting:
            # the narrower workers stay in a percentile target's choice as their own search priced them (the wider
            # search pairs a narrow decode worker with a wider prefill worker where that delivers more): it takes a
            # wider one only where it gains WIDER_GAIN over them (percentile_choice)
            wider = replace(wider, meeting=found.meeting + tuple(
                c for c in wider.meeting if systems_spanned(c, ranks) > spans))
        return wider, systems_spanned(wider.best, ranks), (narrow, spans) if narrow else None, None
    passed = (None if wider is None or wider.best is None or wider.best.tokens_per_s_per_chip < NAMED_GAIN * narrow
              else (wider.best.tokens_per_s_per_chip, systems_spanned(wider.best, ranks)))
    if found is not None and wider is not None:
        # the fastest TPOT and TTFT of every worker searched, so that "the fastest configuration that fits reaches"
        # (SearchResult.binding, percentile_choice) holds over both spans: it named one system's 12.4 s TTFT where
        # workers over four reach 3.4 s
        found = replace(found, fastest_tpot_s=min(found.fastest_tpot_s, wider.fastest_tpot_s),
                        fastest_ttft_s=min(found.fastest_ttft_s, wider.fastest_ttft_s))
    return found, spans, None, passed


def systems_spanned(candidate: Candidate, system: System) -> int:
    """The systems a configuration's widest worker spans, decode or prefill, its chips counted as `system`'s are
    (dies for a per-die system, packages after SearchResult.per_package): a search over 4 systems may choose a worker
    of 2. A disaggregated one's prefill worker counts too: Llama-3.1-8B in bf16 on HGX H100s at TPOT 2.6 ms, TTFT
    25 ms takes a tp8 decode worker beside a tp8-pp4 prefill worker over 4 systems, which read as 1 system, wider
    than search's own best (report-only tester fixec 1)."""
    return max(1, math.ceil(max(candidate.worker_chips()) / system.chips - 1e-9))


def wider_workers(search: Callable[..., tuple[SearchResult | None, int]], ranks: System,
                  per_rank: float) -> SearchResult | None:
    """`search` (search_spanning with all but its spans) with workers over widest_span(ranks) systems, where its best
    delivers WIDER_GAIN x `per_rank` [tokens/s per rank] or more (0: any best); None where no wider span exists or
    it gains less."""
    found = _wider_search(search, ranks)
    return found if _gains(found, per_rank) else None


def _wider_search(search: Callable[..., tuple[SearchResult | None, int]], ranks: System) -> SearchResult | None:
    """`search` with workers over widest_span(ranks) systems; None where no wider span exists."""
    widest = widest_span(ranks)
    return search(spans=(widest,))[0] if widest >= 2 else None


def _gains(found: SearchResult | None, per_rank: float) -> bool:
    """Whether the wider search's best delivers WIDER_GAIN x `per_rank` [tokens/s per rank] or more."""
    return found is not None and found.best is not None and found.best.tokens_per_s_per_chip >= WIDER_GAIN * per_rank


def passed_text(passed: tuple[float, int] | None, dies: int) -> str:
    """'workers over up to 2 systems reach 3,358/chip, under the 1.25x gain that spanning more systems needs': a wider
    best serving_search did not take (its per-chip rate per package of `dies`); '' where none is faster."""
    if passed is None:
        return ""
    return (f"workers over up to {passed[1]} systems reach {passed[0] * dies:,.0f}/chip, under the {WIDER_GAIN:g}x "
            "gain that spanning more systems needs")


def narrower_text(narrow: tuple[float, int] | None, dies: int, screened: bool = False) -> str:
    """' (510/chip on one)': the per-chip rate [tokens/s per rank] of the narrower best serving_search replaced, per
    package of `dies`; '' where it replaced none. `screened`: the row was then chosen under a percentile target, so
    the narrower figure, the steady search's at the mean targets that chose the span, says so."""
    if narrow is None:
        return ""
    return (f" ({narrow[0] * dies:,.0f}/chip on {'one' if narrow[1] == 1 else narrow[1]}"
            + (" at the mean targets" if screened else "") + ")")


def widest_span(ranks: System) -> int:
    """The most systems a serving worker spans over scale-out: as many as a model too big for one may span
    (serving_spans), within MAX_WORKER_CHIPS (1 for a scale-up domain of 128 chips or more)."""
    domain = min(ranks.scale_up_domain_chips, MAX_WORKER_CHIPS)
    return min(max(serving_spans(math.inf)), MAX_WORKER_CHIPS // domain)


def serving_spans(shortfall_bytes: float) -> tuple[int, ...]:
    """The systems a serving worker may span (search_spanning's spans), from domain_shortfall: a model too big for one
    scale-up domain spans 2 or 4 systems over scale-out; one that fits searches one system first (serving_search
    then tries the widest span)."""
    return (1,) if shortfall_bytes <= 0 else (1, 2, 4)


def systems_to_hold(model: Model, ranks: System, profile: EngineProfile, precision: Precision,
                    tokens: int) -> int | None:
    """The fewest systems (of serving_spans) one worker spans over scale-out, each system's scale-up domain a
    power-of-two share of it, to hold `model` serving one sequence of `tokens` tokens: 1 where one domain holds it
    (domain_shortfall), None where no span does. `ranks`: the system as its ranks count (hardware.per_die)."""
    if domain_shortfall(model, ranks, profile, precision, tokens) <= 0:
        return 1
    return next((n for n in serving_spans(math.inf)[1:]
                 if memory_shortfall(model, ranks, profile, precision, n * _domain_chips(ranks), tokens) <= 0), None)


def _domain_chips(system: System) -> int:
    """The chips of one worker in a scale-up domain: its size, at most MAX_WORKER_CHIPS, down to a power of two."""
    return 1 << (min(system.scale_up_domain_chips, MAX_WORKER_CHIPS).bit_length() - 1)


def domain_shortfall(model: Model, system: System, profile: EngineProfile, precision: Precision, tokens: int) -> float:
    """Bytes per chip the smallest-footprint layout of one scale-up domain lacks for one sequence."""
    return memory_shortfall(model, system, profile, precision, _domain_chips(system), tokens)


def memory_shortfall(model: Model, system: System, profile: EngineProfile, precision: Precision, chips: int,
                     tokens: int, reserve: tuple[float, float] | None = None) -> float:
    """Bytes per chip that the smallest-footprint layout of `chips` chips (tensor, expert and pipeline
    parallel, across systems when `chips` exceeds one) lacks to serve one sequence of `tokens`
    tokens; negative: the margin left. Infinite when no layout of that many chips divides the model.
    reserve: (fraction of memory, bytes) the runtime keeps back; default: the engine's KV share and 3 GB."""
    pipeline = tuple(p for p in (1, 2, 4, 8) if chips % p == 0)
    try:
        grid = layout_grid(model, chips, pipeline)
    except InfeasiblePlan:
        return float("inf")
    dep = engine_deployment(model, system, grid, precision, catalog.calibration(system.chip), profile)
    fraction, fixed = reserve or (1.0 - profile.kv_memory_fraction, 3e9)
    mem = deployment_memory(dep, np.ones(len(grid)), np.full(len(grid), float(tokens)), profile.max_num_tokens,
                            fraction, fixed)
    return float(np.min(-np.asarray(mem.free_bytes)))
