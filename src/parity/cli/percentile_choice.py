"""A system's configuration under percentile targets (compare.Choose), as `compare --refine` and `fleet` choose it:
each layout's loads bisected with the simulator (refine.percentile_probes), as `parity search` does."""

from __future__ import annotations

import math
from collections.abc import Sequence

from parity import catalog
from parity.cli.values import Targets
from parity.compare import NAMED_GAIN, WIDER_GAIN, mtp_setting, passed_text, systems_spanned
from parity.hardware import System
from parity.predict.refine import DEFAULT_REFINE_MAX_CLIENTS, PERCENTILE_RUNS, case_of_candidate, percentile_probes, \
    refine_candidate
from parity.search import Candidate, SearchResult, best_precision
from parity.simulate.targets import LatencyTarget
from parity.units import duration_text

__all__ = ["percentile_choice", "bound_text", "screened", "unreachable_ttft"]


def percentile_choice(system: System, result: SearchResult, narrow_systems: int, model_name: str, engine: str,
                      isl: int, osl: int, mtp_tokens: int, weights: str | None, percentiles: Sequence[LatencyTarget],
                      arrivals: str = "closed", rate: str = "sim_tokens_per_s_per_chip"
                      ) -> tuple[Candidate | None, str]:
    """compare's second judge for percentile targets (compare.Choose): of the configurations whose means meet the
    targets' bounds, the fastest by `rate` whose simulated percentiles meet them too (the simulated tok/s/chip, as
    search picks; fleet, which sizes on the steady rate, ranks by it: 'tokens_per_s_per_chip'), each layout's
    loads bisected as `parity search` does (percentile_probes: at most PERCENTILE_RUNS simulations, each as
    `parity serve --sim` runs the configuration), with a note where the runs ran out before every layout was
    tried; or None and why none does (before any simulation where a TTFT percentile's bound is below the fastest
    TTFT any configuration reaches for a lone request, result.fastest_ttft_s).

    `narrow_systems`: the systems a worker may span as compare takes it without more (compare.serving_search's
    narrower span, where it took wider workers at the means): a worker over more is taken only where it delivers
    WIDER_GAIN x the fastest narrower one that passes (_gained), the rule serving_search keeps at the means; the
    narrower ones are simulated first. compare took a 2-system tp8-pp2 worker of Llama-3.1-8B at 95.7 simulated
    tok/s/chip over one node's 94.9, against its caption's rule (report-only tester fuzzED 2)."""
    if why := unreachable_ttft(result, percentiles):
        return None, why
    chip, model = system.chip, catalog.model(model_name)
    precision, drafts = best_precision(model, chip, weights), mtp_setting(model, mtp_tokens)[0][0]

    def simulate(candidate: Candidate) -> dict[str, object]:
        return refine_candidate(candidate, model_name, system.id, engine, precision, isl, osl, drafts,
                                rank_per_die=chip.dies > 1, arrivals=arrivals, systems={system.id: system})

    simulable = [c for c in result.meeting  # as search screens them without an explicit --refine K
                 if case_of_candidate(c, model_name, system.id, engine, precision, isl, osl, drafts,
                                      rank_per_die=chip.dies > 1).concurrency <= DEFAULT_REFINE_MAX_CLIENTS]
    wide = [c for c in simulable if systems_spanned(c, system) > narrow_systems]
    probes = percentile_probes([c for c in simulable if systems_spanned(c, system) <= narrow_systems], simulate,
                               percentiles, PERCENTILE_RUNS, closed_loop=arrivals == "closed")
    if wide and len(probes) < PERCENTILE_RUNS:  # wider workers count where they could gain WIDER_GAIN over those
        floor = max((float(row["sim_tokens_per_s_per_chip"]) for _, row in probes  # type: ignore[arg-type]
                     if row["sim_meets_targets"]), default=0.0)
        probes += percentile_probes(wide, simulate, percentiles, PERCENTILE_RUNS - len(probes),
                                    closed_loop=arrivals == "closed", beat=WIDER_GAIN * floor)
    layouts = {(c.mode, c.layout, c.decode_layout) for c in result.meeting}
    tried = {(c.mode, c.layout, c.decode_layout) for c, _ in probes}
    spent = (f"the simulator's {PERCENTILE_RUNS} runs tried {len(tried)} of {len(layouts)} layouts"
             if len(probes) >= PERCENTILE_RUNS and len(tried) < len(layouts) else "")
    passed = [(c, row) for c, row in probes if row["sim_meets_targets"]]
    if passed:
        chosen, named = _gained(passed, system, narrow_systems, rate)
        return chosen, "; ".join(filter(None, [named, spent]))
    if not probes:
        return None, "no configuration to simulate"
    candidate, row = min(probes, key=lambda p: p[0].tokens_per_s_per_chip)  # the lightest load simulated
    if str(row["sim_case"]).startswith("simulation failed"):
        return None, str(row["sim_case"])
    reached = ", ".join(f"{t.metric.upper()} {t.statistic} {duration_text(float(row[f'sim_{t.key}']))}"  # type: ignore[arg-type]
                        for t in percentiles)
    screen = ("whose means do" if arrivals == "closed" or all(t.metric != "ttft" for t in percentiles) else
              "whose mean TPOT meets its bound" if result.targets.get("tpot_s", math.inf) < math.inf else "that fit")
    return None, (f"no configuration meets {' and '.join(bound_text(t) for t in percentiles)}: of the "
                  f"{len(result.meeting)} {screen}, the lightest-loaded of the {len(probes)} simulated reaches "
                  f"{reached}" + (f" ({spent})" if spent else ""))


def _gained(passed: Sequence[tuple[Candidate, dict[str, object]]], system: System, narrow_systems: int,
            rate: str) -> tuple[Candidate, str]:
    """The fastest of the configurations that passed by `rate`, a worker over more than `narrow_systems` systems only
    where it delivers WIDER_GAIN x the fastest narrower one (serving_search's rule), and the wider one not taken,
    named (compare.passed_text) where it delivers NAMED_GAIN x or more; '' where none is."""
    def fastest(wide: bool) -> tuple[Candidate, float] | None:
        found = [(c, float(row[rate])) for c, row in passed  # type: ignore[arg-type]
                 if (systems_spanned(c, system) > narrow_systems) == wide]
        return max(found, key=lambda p: p[1], default=None)

    narrow, wide = fastest(False), fastest(True)
    if narrow is None or wide is not None and wide[1] >= WIDER_GAIN * narrow[1]:
        return (wide or narrow)[0], ""  # type: ignore[index]
    if wide is None or wide[1] < NAMED_GAIN * narrow[1]:
        return narrow[0], ""
    return narrow[0], passed_text((wide[1], systems_spanned(wide[0], system)), 1)


def unreachable_ttft(result: SearchResult, percentiles: Sequence[LatencyTarget]) -> str:
    """Why no configuration of `result` can meet a TTFT percentile, before any simulation: its bound is below the
    fastest TTFT any configuration reaches for a lone request (result.fastest_ttft_s), which no request's TTFT, and
    so no percentile of them, is below; '' where every bound is above it. The closed loop's mean screen says as
    much; Poisson arrivals drop that screen (Targets.screen_ttft_s)."""
    slower = [t for t in percentiles if t.metric == "ttft" and t.seconds < result.fastest_ttft_s]
    return (f"the TTFT {slower[0].statistic} target {duration_text(slower[0].seconds)} binds: the fastest "
            f"configuration that fits reaches {duration_text(result.fastest_ttft_s)} for a lone request"
            if slower else "")


def bound_text(target: LatencyTarget) -> str:
    """'TTFT p99 2 s'."""
    return f"{target.metric.upper()} {target.statistic} {duration_text(target.seconds)}"


def screened(targets: Targets, arrivals: str) -> str:
    """What the steady-state search screened the simulated configurations by: 'means meet the same bounds', or
    under Poisson arrivals with a TTFT percentile (Targets.screen_ttft_s) 'mean TPOT meets its bound'."""
    if targets.screen_ttft_s(arrivals) == targets.ttft_s:
        return "means meet the same bounds"
    return "mean TPOT meets its bound" if targets.tpot_s else "configurations fit"
