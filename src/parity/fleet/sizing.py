"""Sizing a fleet per chip kind: each system's best serving configuration searched as compare takes it, the
fewest chips that cover a demand, and `plan_fleet`."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence

from parity import catalog
from parity.compare import (Choose, configuration_flags, domain_shortfall, intervals, narrower_text, passed_text,
                            serving_ceiling, serving_search, systems_spanned, widest_span)
from parity.engine import EngineProfile
from parity.errors import InfeasiblePlan, InputError, is_real, is_whole
from parity.fleet.limits import (_chips_within, _idle_note, _layout_text, _powered_chips, _refuse_beyond_any_fleet,
                                  _units_needed, _whole_systems)
from parity.fleet.prices import catalog_price_flag, power_text, price_per_chip, spare_text
from parity.fleet.record import SECONDS_PER_DAY, FleetPlan
from parity.hardware import MOST_FLEET_CHIPS, System, per_die
from parity.model import Model
from parity.parallel import map_chunks
from parity.predict.refine import case_of_candidate, sweep_note
from parity.search import Candidate, SearchResult, best_precision, check_records, search_spanning
from parity.serving.workload import DEFAULT_TTFT_S, check_serving_inputs
from parity.uncertainty import flag_note, power_figure, what_if_flag
from parity.units import share_text


def _searched(system: System, model: Model, profile: EngineProfile, isl: int, osl: int, tpot_s: float | None,
              ttft_s: float | None, mtp: tuple[int, float], choose: Choose | None,
              demand: tuple[float, float, int | None, float | None] | None = None
              ) -> tuple[SearchResult | None, int, str, Candidate | None, str]:
    """One kind's search, as compare's: (what it found, per package; the systems its workers span; the narrower
    figure they replace; the configuration the fleet is sized on, `choose`'s where given, else the one of the fewest
    chips for `demand` (_fewest); why none was chosen, or why that one). demand: (daily-mean tokens/s, the share of
    a chip's output tokens/s that covers it, units, power budget [W]), as plan_fleet sizes."""
    chip = system.chip
    precision = best_precision(model, chip)
    # a multi-die package (the 910C) runs one rank per die, as compare runs it; rates come back per package
    engine, ranks = catalog.engine_on(profile, chip.software_stack), per_die(system)
    found, spans, narrow, passed = serving_search(functools.partial(
        search_spanning, model, ranks, engine, catalog.calibration(chip), precision, isl, osl, tpot_s, ttft_s,
        mtp=mtp, meeting=choose is not None or demand is not None), ranks,
        domain_shortfall(model, ranks, engine, precision, isl + osl))
    found = found.per_package(chip.dies) if found is not None else None
    best, why = (found.best if found is not None else None), ""
    if best is not None and choose is not None:
        best, why = choose(system, found, narrow[1] if narrow else widest_span(ranks))  # type: ignore[arg-type]
        if best is not None:  # the notes on spans are the chosen worker's (its chips per package, as found's)
            spans = systems_spanned(best, system)
            narrow = narrow if narrow is not None and spans > narrow[1] else None
    elif best is not None and demand is not None:
        taken = best
        best, why = _fewest(found, system, *demand)  # type: ignore[arg-type]
        if best is not taken:  # the notes on spans are the search's best's: say the picked worker's own
            spans, narrow, passed = systems_spanned(best, system), None, None
    if best is not None:  # a faster wider best it did not take: why a looser target can price a chip lower
        why = "; ".join(filter(None, [passed_text(passed, chip.dies), why]))
    return found, spans, narrow, best, why


FEWER = 0.05  # a configuration of fewer chips replaces the search's best where it saves this share of them


def _fewest(found: SearchResult, system: System, demand_tokens_per_s: float, covers: float, units: int | None = None,
            power_budget_w: float | None = None) -> tuple[Candidate, str]:
    """The configuration meeting the targets whose whole deployment units, in whole systems, serve the demand on the
    fewest chips (the most tokens/s a chip among equals), where it saves FEWER of the chips the search's best needs,
    and why; else the best, the row `compare` prints (a large fleet's rounding to whole units saves little): a small
    demand is served by one small worker, not by whole units of the fastest-per-chip one (Llama-3.1-70B at 1,000 output
    tokens/s on H100s: 40 chips of disaggregated workers at 564 tok/s/chip, where one 8-GPU node at 537 serves it).
    `covers`: the share of a chip's output tokens/s that covers the daily-mean demand (the count, peak and spare);
    `units` and `power_budget_w` [W]: the chips the limits allow (a budget's whole systems): where the best needs
    more, a limit binds and the most tokens/s a chip serves the most of the demand within it, so the best stays."""
    best = found.best
    assert best is not None

    def chips(c: Candidate) -> int:
        return _whole_systems(_units_needed(c, demand_tokens_per_s, c.tokens_per_s_per_chip * covers), system.chips)

    cap = min(units or math.inf, math.inf if power_budget_w is None else _powered_chips(system, power_budget_w))
    pick = min((best, *found.meeting), key=lambda c: (chips(c), -c.tokens_per_s_per_chip))
    needed = chips(best)
    # a large fleet keeps compare's best (rounding saves little there), as does one a limit caps
    if chips(pick) > (1.0 - FEWER) * needed or needed > cap:
        return best, ""
    return pick, (f"the fewest chips for this demand ({chips(pick):,}), where the most tokens/s a chip "
                  f"({best.tokens_per_s_per_chip:,.0f}, {_layout_text(best)}) needs {needed:,}")


def plan_fleet(model: Model, systems: Sequence[System], profile: EngineProfile, demand_tokens_per_s: float | None,
               tpot_s: float | None, isl: int, osl: int, peak_factor: float = 2.0, spare: float = 0.1,
               count: str = "total", units: int | None = None, power_budget_w: float | None = None,
               ttft_s: float | None = DEFAULT_TTFT_S, mtp_tokens: int | None = None, choose: Choose | None = None,
               processes: int = 1, progress: Callable[[int], None] | None = None) -> list[FleetPlan]:
    """Size a fleet of each of `systems` (a chip kind in a system: its chips, power per chip and scale-up domain)
    for a demand [tokens/s, daily mean], or report what `units` chips (or a power budget) can serve. Each chip runs
    `profile` at its stack's software maturity (catalog.engine_on), with `mtp_tokens` MTP drafts a decode step at
    the model's published acceptance, as `compare` runs them; `choose` picks each chip's configuration among those
    meeting the targets' means, as `compare --refine` does under percentile targets (compare.Choose; None: the steady
    search's best). The kinds are searched on `processes` processes (the same numbers as one after another);
    progress(1) as each kind's search (and `choose`) is done.
    ttft_s and mtp_tokens (None: the model's default, catalog.mtp_drafts) default as `parity fleet`'s. A demand, a
    power budget, units, a peak factor or spare that no fleet means (not finite, not positive, units not a whole
    number in [1, MOST_FLEET_CHIPS]) is refused in one line (InputError), as are the serving arguments compare
    refuses, and a model, systems or profile given as anything but their records (an empty list of systems too)."""
    check_records(model, systems, profile)
    if count not in ("total", "output"):
        raise InfeasiblePlan(f"count must be total or output, got {count!r}")
    check_serving_inputs(isl, osl, tpot_s, ttft_s, processes)
    for name, value, least in (("peak_factor", peak_factor, 1.0), ("spare", spare, 0.0)):
        if not is_real(value) or not least <= value < math.inf:
            raise InputError(f"{name} must be a finite number >= {least:g}, got {value!r}")
    for name, value in (("demand_tokens_per_s", demand_tokens_per_s), ("power_budget_w", power_budget_w)):
        if value is not None and (not is_real(value) or not 0 < value < math.inf):
            raise InputError(f"{name} must be a finite number > 0, or None, got {value!r}")
    if units is not None and (not is_whole(units) or not 1 <= units <= MOST_FLEET_CHIPS):
        raise InputError(f"units must be a whole number of chips in [1, {MOST_FLEET_CHIPS:,}], or None, got {units!r}")
    if demand_tokens_per_s is None and units is None and power_budget_w is None:
        raise InfeasiblePlan("give a demand, a number of chips (units) or a power budget")
    mtp_tokens = catalog.mtp_drafts(model, mtp_tokens)
    _refuse_beyond_any_fleet(model, systems, demand_tokens_per_s, units, power_budget_w, peak_factor * (1 + spare))
    per_output = (isl + osl) / osl if count == "total" else 1.0
    mtp, mtp_note = catalog.mtp_setting(model, mtp_tokens)
    notes = (f"demand counts {'prompt + output' if count == 'total' else 'output'} tokens; peak = {peak_factor:g} x the "
             f"daily mean; {spare_text(spare)}", f"workload {isl} in / {osl} out; {profile.label}",
             "power: the system's power as the catalog states it (a server's maximum, a rack's all-in figure; no "
             "facility overhead), its share per chip", mtp_note)
    out: list[FleetPlan] = []
    beyond: list[str] = []
    covers = per_output / (peak_factor * (1.0 + spare))  # a chip's output tokens/s -> the daily mean it covers
    searched = map_chunks(functools.partial(
        _searched, model=model, profile=profile, isl=isl, osl=osl, tpot_s=tpot_s, ttft_s=ttft_s, mtp=mtp,
        choose=choose, demand=None if demand_tokens_per_s is None else (demand_tokens_per_s, covers, units,
                                                                         power_budget_w)),
        list(systems), processes, progress=(lambda _kind: progress(1)) if progress else None)
    for system, (found, spans, narrow, best, why) in zip(systems, searched, strict=True):
        chip = system.chip
        precision = best_precision(model, chip)
        engine = catalog.engine_on(profile, chip.software_stack)
        # the kind's assumptions: the fleet's, the software maturity its chips' stack is priced at after the engine
        said = notes[:2] + tuple(filter(None, (catalog.maturity_note(engine, chip.software_stack),))) + notes[2:]
        price, price_source = price_per_chip(system)
        what_if = tuple(filter(None, [what_if_flag(system)]))  # on every row of a variant, one that serves nothing too
        # a kind that serves nothing: no layout meets the targets, or the chips it needs are beyond any fleet's
        unserved = functools.partial(
            FleetPlan, chip=chip.id, system=system.id, model=model.name, weights=precision.weights,
            kv_cache=precision.kv_cache, configuration="-", tokens_per_s_per_chip=None,
            served_tokens_per_s_per_chip=None, count=count, demand_tokens_per_s=demand_tokens_per_s, chips=math.inf,
            units_given=units, systems=math.inf, power_w=math.inf, cost_usd=None, price_source=price_source,
            power_source=power_text(system), flags=what_if, assumptions=said)
        if best is None:
            out.append(unserved(note="; ".join([*flag_note(what_if), why or (
                found.binding() if found is not None else "no layout divides the model")])))
            continue
        served = best.tokens_per_s_per_chip * per_output
        capacity = served / (peak_factor * (1.0 + spare))  # daily-mean tokens/s one chip covers
        watts = system.power_w_per_chip
        # a fleet serves in whole deployment units: aggregated workers, or decode workers with whole prefill
        # workers at the sized ratio; chips beyond the units they hold serve nothing
        needed = None if demand_tokens_per_s is None else _units_needed(best, demand_tokens_per_s, capacity)
        raised = configuration_flags(best, system, model, engine, mtp[0], isl + osl, precision, osl > 1)
        band = intervals(best, model, raised, serving_ceiling(model, system, precision, isl, osl))
        raised += tuple(filter(None, [catalog_price_flag(system)]))  # after the bands: the price is not the rate's
        low, high = ((None, None) if needed is None or "tokens_per_s_per_chip_low" not in band else
                     (_whole_systems(_units_needed(best, demand_tokens_per_s,
                                                   capacity * band[f"tokens_per_s_per_chip_{end}"]
                                                   / best.tokens_per_s_per_chip), system.chips)
                      for end in ("high", "low")))
        n, limits = _chips_within(needed, system, units, power_budget_w)
        if n > MOST_FLEET_CHIPS:  # this kind's row says so; the command is refused where every kind's is beyond
            beyond.append(f"{'the demand needs' if needed is not None else 'the power budget runs'} {n:,} {chip.id} "
                          f"chips in {system.id}, beyond any fleet's chips (at most {MOST_FLEET_CHIPS:,})")
            out.append(unserved(note="; ".join([*flag_note(what_if), beyond[-1]])))
            continue
        whole = n // system.chips  # only whole systems serve: a part of one runs no worker of its scale-up domain
        held = best.units_within(whole * system.chips)
        idle = (f"the power budget runs no whole {system.id} ({power_figure(system)})" if n == 0 else
                _idle_note(best, n, system, held))
        served_day = held * best.chips * capacity * SECONDS_PER_DAY
        served_low, served_high = ((None, None) if "tokens_per_s_per_chip_low" not in band else
                                   (served_day * band[f"tokens_per_s_per_chip_{end}"] / best.tokens_per_s_per_chip
                                    for end in ("low", "high")))
        share = served_day / (demand_tokens_per_s * SECONDS_PER_DAY) if demand_tokens_per_s else None
        layout = _layout_text(best)
        if what_if:  # its configuration as the sweep that prices it (serve runs catalog systems), as compare's note
            case = case_of_candidate(best, model.name, system.id, profile.id, precision, isl, osl, mtp[0],
                                     rank_per_die=chip.dies > 1)
            said += (f"configuration: {sweep_note(case, moe='moe' in model.features)}",)
        spanning = (f"workers span up to {spans} systems over scale-out"
                    f"{narrower_text(narrow, chip.dies, choose is not None)}" if spans > 1 else "")
        out.append(FleetPlan(
            chip=chip.id, system=system.id, model=model.name, weights=precision.weights,
            kv_cache=precision.kv_cache, configuration=layout, clients_per_worker=round(best.concurrency),
            tokens_per_s_per_chip=best.tokens_per_s_per_chip, served_tokens_per_s_per_chip=served, count=count,
            demand_tokens_per_s=demand_tokens_per_s, chips=whole * system.chips, units_given=units, chips_low=low,
            chips_high=high, systems=whole,
            # whole systems: bought, powered; none (as no chips at all): NaN and None, as the table's '-'
            power_w=whole * system.chips * watts if whole else math.nan,
            cost_usd=None if price is None or not whole else whole * system.chips * price,
            price_source=price_source,
            power_source=power_text(system),
            served_tokens_per_day=served_day, served_tokens_per_day_low=served_low,
            served_tokens_per_day_high=served_high, served_share=share, ttft_s=best.ttft_s, tpot_s=best.tpot_s,
            candidate=best, note="; ".join(filter(None, [*flag_note(raised), spanning, why, idle, *limits,
                                         "" if share is None or share >= 1
                                         else f"serves {share_text(share)} of the demand within the limits"])),
            flags=raised, assumptions=said))
    if beyond and len(beyond) == len(out):
        raise InfeasiblePlan(beyond[0])
    return out
