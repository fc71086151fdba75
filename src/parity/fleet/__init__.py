"""Fleet planning: how many chips, systems, megawatts and dollars a token demand needs on each chip
kind at a latency target, or what a production volume of chips can serve.

Each chip kind runs in a system (its default, the 8-chip node or the rack, or one named) in the best serving
configuration `search.search_serving` finds, with workers over up to four systems where they deliver 1.25x or more
per chip, as compare takes them (compare.serving_search). Demand counts prompt and output
tokens by default (as provider statistics do: DeepSeek reported 608 B input and 168 B output tokens a day); a
diurnal peak factor and spare capacity (a margin over the peak demand) are named inputs. A fleet serves in whole
deployment units (aggregated workers, or decode workers with whole prefill workers at the sized ratio); chips past
them serve nothing.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields

from parity import catalog
from parity.compare import (Choose, configuration_flags, domain_shortfall, intervals, narrower_text, passed_text,
                            serving_ceiling, serving_search, systems_spanned, widest_span)
from parity.engine import EngineProfile
from parity.errors import InfeasiblePlan, InputError, is_real, is_whole
from parity.flags import Flag, texts
from parity.hardware import MOST_FLEET_CHIPS, Provenance, System, per_die
from parity.model import Model
from parity.parallel import map_chunks
from parity.predict.refine import case_of_candidate, sweep_note
from parity.search import Candidate, SearchResult, best_precision, check_records, search_spanning
from parity.serving.workload import DEFAULT_TTFT_S, check_serving_inputs
from parity.uncertainty import flag_note, power_figure, what_if_changes, what_if_flag
from parity.units import figure_text, share_text

__all__ = ["FleetPlan", "basis_text", "catalog_price_flag", "plan_fleet", "power_text", "price_basis", "price_per_chip",
           "spare_text", "SECONDS_PER_DAY"]

SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True, slots=True, kw_only=True)
class FleetPlan:
    """One chip kind serving a demand (or a production volume): sizes, power and cost.

    tokens_per_s_per_chip: output tokens/s per chip in the best configuration under the targets;
    served_tokens_per_s_per_chip: the same counted as the demand counts (`count`: 'total', prompt + output, or
    'output'); both None where no configuration serves, as is clients_per_worker.
    chips: the chips deployed, those of the whole systems: needed for the demand at its peak with spare capacity,
    in whole deployment units (aggregated workers, or decode workers with whole prefill workers) rounded up to
    whole systems, else the whole systems the chips given (units) fill or a power budget runs; units_given: the
    chips given (--units; None without), of which those past the whole systems are not deployed (a part of a
    system runs no worker of its scale-up domain, and is neither bought nor powered alone: the note says how many),
    so that no cost or power is read over chips that serve nothing; systems: the whole systems; power_w: the
    chips' share of their systems' power as the catalog states it (power_source), cost_usd: their share of the
    price (price_source): a system's where the catalog prices the system (CloudMatrix 384, CPUs and optics
    included), else a chip's (None without either); idle chips of whole systems are included in both (NaN power
    and None cost where no system is whole).
    served_tokens_per_day: what the whole deployment units in the whole systems serve (other chips serve nothing).
    demand_tokens_per_s: the demand sized for, None where none was given.
    flags: where the best configuration lies outside what parity was checked on (uncertainty.case_flags, as
    `compare` gives them); the note names the ones that matter most in a few words (uncertainty.flag_note).
    """

    chip: str
    system: str
    model: str
    weights: str
    kv_cache: str  # the KV cache's format (FP8 where the chip has FP8, as search and compare price it)
    configuration: str
    tokens_per_s_per_chip: float | None
    served_tokens_per_s_per_chip: float | None
    count: str  # what served_* and demand_* count: 'total' (prompt + output tokens) or 'output'
    demand_tokens_per_s: float | None  # None where no demand was given (--units or --power-mw alone)
    chips: int | float  # whole chips deployed; inf where no configuration serves (as systems)
    units_given: int | None = None  # the chips given (--units), those past the whole systems not deployed
    # the chips the demand needs at the low and high ends of the per-chip rate's 80% interval (compare's
    # tokens_per_s_per_chip_low/high), before any limit; None without a demand or stored intervals
    chips_low: int | None = None
    chips_high: int | None = None
    systems: int | float
    power_w: float
    cost_usd: float | None
    price_source: str
    power_source: str = ""
    clients_per_worker: int | None = None  # the best configuration's load (per decode worker when disaggregated)
    served_tokens_per_day: float | None = None
    # what the same units serve at the low and high ends of the per-chip rate's 80% interval; None without intervals
    served_tokens_per_day_low: float | None = None
    served_tokens_per_day_high: float | None = None
    served_share: float | None = None
    # the steady-state model's mean TTFT and TPOT [s] of the configuration sized on; None where none serves
    ttft_s: float | None = None
    tpot_s: float | None = None
    note: str = ""
    flags: tuple[Flag, ...] = ()
    assumptions: tuple[str, ...] = field(default=())
    # the configuration itself, for a serve line or a simulation of it (not a record's field: to_dict leaves it out)
    candidate: Candidate | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "candidate"} | {
            "flags": texts(self.flags)}


def price_per_chip(system: System) -> tuple[float | None, str]:
    """[USD] a chip's share of what a fleet pays, and the figure in words: the system's price over its chips where
    the catalog prices the whole system (an analyst's figure for CloudMatrix 384, its CPUs, optics and racks
    included, over a weak press price of its chip), else the chip's price."""
    chip, record = system.chip, system.source_of("unit_price_usd")
    if system.unit_price_usd is not None and record is not None:
        return system.unit_price_usd / system.chips, _sourced(
            f"${system.unit_price_usd:,.0f} per {system.id} ({system.chips:,} chips)", record)
    record = chip.source_of("unit_price_usd")
    if chip.unit_price_usd is not None and record is not None:
        if record.source.id == "what-if":  # a variant's own price (sweep.Variant), its changes the record's note
            return chip.unit_price_usd, f"${chip.unit_price_usd:,.0f} per chip, set by variant {system.id} (assumption)"
        return chip.unit_price_usd, _sourced(f"${chip.unit_price_usd:,.0f} per chip", record)
    return None, "no price in the catalog"


def price_basis(system: System) -> str:
    """What a fleet's cost on `system` counts, in words for a cost cell: 'systems' where the catalog prices the whole
    system (CloudMatrix 384: its CPUs, network and racks included), 'chips only' where it prices the chip alone (no
    server, network or rack), '' where it prices neither (price_per_chip's cases)."""
    if system.unit_price_usd is not None and system.source_of("unit_price_usd") is not None:
        return "systems"
    if system.chip.unit_price_usd is not None and system.chip.source_of("unit_price_usd") is not None:
        return "chips only"
    return ""


def catalog_price_flag(system: System) -> Flag | None:
    """The flag of a what-if system (a --variants chip) priced at its catalog chip's or system's price, which the
    variant did not change (it may set unit_price_usd): its cost is not the what-if's own; None otherwise."""
    if not what_if_changes(system):
        return None
    for item, owner in ((system, "its catalog system's price"), (system.chip, f"{system.chip.id}'s catalog price")):
        record = item.source_of("unit_price_usd")
        if item.unit_price_usd is not None and record is not None:
            if record.source.id == "what-if":
                return None
            return Flag("what-if at the catalog price", f"price: {owner}, not changed by the variant", "catalog price")
    return None


def power_text(system: System) -> str:
    """The system power a fleet draws, as the catalog states it (a server's maximum, a rack's or supernode's all-in
    figure; no facility overhead): '5.824 kW per hgx-h20 (assumption: 8 x 400 W x 1.82)'; a derived figure with no
    note of its own says its source's arithmetic, as compare's 'power derived' flag does ('11.65 kW per atlas-800-a3
    (derived: parity arithmetic: ... 559 kW / 384 NPUs x 8 ...)')."""
    figure, record = f"{power_figure(system)} per {system.id}", system.source_of("power_w")
    if record is None:
        return figure
    note = record.note or (record.source.title if record.source.kind == "derived" else "")
    return f"{figure} ({': '.join(filter(None, [record.source.kind, note]))})"


def basis_text(plans: Sequence[FleetPlan]) -> str:
    """What a fleet's MW and cost count, with each system's power and each chip's price as the catalog states them,
    for `parity fleet`'s caption and the report's fleet."""
    return ("MW: the systems' power as the catalog states it (a server's maximum, a rack's all-in figure; no facility "
            "overhead): " + "; ".join(dict.fromkeys(p.power_source for p in plans)) + ". Cost: chips x their share "
            "of the price, a system's where the catalog prices the system, else a chip's: "
            + "; ".join(sorted({f"{p.chip}: {p.price_source}" for p in plans})))


def _sourced(figure: str, record: Provenance) -> str:
    """A catalog figure in words with its note and source: '$13,500 per chip, midpoint of the reported USD
    12,000-15,000 (press: Press reports ...)'."""
    return f"{', '.join(filter(None, [figure, record.note]))} ({record.source.kind}: {record.source.title})"


def spare_text(spare: float) -> str:
    """The spare capacity in words: a margin over the peak demand, not a share of the fleet (0.1: capacity 1.1x the
    peak, so 9.1% of it idle at the peak; 1: twice the peak)."""
    return f"capacity {1 + spare:.3g}x the peak demand ({spare:.0%} spare margin)" if spare else "no spare margin"


def _units_needed(best: Candidate, demand_tokens_per_s: float, capacity: float) -> float:
    """The chips of the whole deployment units (aggregated workers, or decode workers with whole prefill workers at
    the sized ratio) a daily-mean demand [tokens/s] needs where one chip covers `capacity` of it."""
    return best.unit_chips(max(1, math.ceil(demand_tokens_per_s / (capacity * best.chips) - 1e-9)))


def _powered_chips(system: System, power_budget_w: float) -> int:
    """The chips of the whole systems a power budget [W] runs."""
    return math.floor(power_budget_w / system.power_w) * system.chips


def _whole_systems(chips: float, per_system: int) -> int:
    """`chips` rounded up to whole systems of `per_system` chips."""
    return math.ceil(chips / per_system - 1e-9) * per_system


def _chips_within(demand_chips: float | None, system: System, units: int | None,
                  power_budget_w: float | None) -> tuple[int, list[str]]:
    """The chips a fleet runs and a note on each limit given beside the question: the `demand_chips` a demand
    needs (whole deployment units) are sized in whole `system`s; with `units` the fleet is at most those chips, and
    with a power budget [W] at most the whole systems it powers (_powered_chips). Alone,
    units or a power budget is the fleet itself. Every limit that takes part is named, binding or not, so a
    limit the answer did not reach is seen to have been read."""
    demand = demand_chips is not None
    per_system, watts = system.chips, system.power_w_per_chip
    if demand_chips is not None:
        n = _whole_systems(demand_chips, per_system)
    else:
        n = units if units is not None else math.floor((power_budget_w or 0.0) / watts)
    limits: list[str] = []
    if units is not None and demand:
        limits.append(f"the demand needs {n:,.0f} chips, {units:,.0f} are available" if units < n else
                      f"the demand needs {n:,.0f} of the {units:,.0f} chips available")
        n = min(n, units)
    if power_budget_w is not None:
        powered = _powered_chips(system, power_budget_w)
        if powered < n:
            if (demand or units is not None) and powered:
                limits.append(f"the power budget runs {powered:,.0f} of the {n:,.0f} chips")
            elif demand or units is not None:  # the idle note names the budget; this names the other limit
                which = "available" if units is not None and not demand else "needed"
                limits.append(f"none of the {n:,.0f} chips {which} run")
            n = powered
        elif demand or units is not None:
            drawn = n // per_system * per_system * watts  # whole systems only: a part of one is not powered
            limits.append(f"the fleet draws {figure_text(drawn / 1e6)} of the {figure_text(power_budget_w / 1e6)} MW "
                          "budget")
    return n, limits


def _layout_text(c: Candidate) -> str:
    """'agg tp8', 'disagg tp1-pp2 / tp4-pp2' (prefill / decode)."""
    return f"{c.mode} {c.layout}" + (f" / {c.decode_layout}" if c.decode_layout else "")


def _unit_text(best: Candidate) -> str:
    """One whole deployment unit in words: 'a worker of 4 chips', or 'a decode worker of 16 chips and 1 prefill
    worker of 16'."""
    decode, prefill = best.worker_chips()
    if not prefill:
        return f"a worker of {decode:,.3g} chips"
    p = best.prefill_workers(1)
    return f"a decode worker of {decode:,.3g} chips and {p:,} prefill worker{'s' if p != 1 else ''} of {prefill:,.3g}"


def _idle_note(best: Candidate, chips: int, system: System, held: int) -> str:
    """What of a fleet of `chips` chips serves nothing ('' where every chip serves): the chips given past the whole
    systems they fill, not deployed (a part of a system runs none of the workers of its scale-up domain; only --units
    gives chips that fill no whole system), and those past the `held` whole deployment units the systems hold, idle
    inside them, whether a demand, units or a power budget set the systems (a demand for 100k tokens/s of DeepSeek-R1
    takes one cloudmatrix-384, whose 384 chips hold 3 units of 104: 72 idle)."""
    systems = chips // system.chips
    if not systems:
        return (f"{chips:,} chip{' given holds' if chips == 1 else 's given hold'} no whole {system.id} "
                f"({system.chips:,} chips): none deployed, no MW or cost, as a system is bought and powered whole")
    if not held:
        return f"{chips:,} chip{' holds' if chips == 1 else 's hold'} no whole deployment ({_unit_text(best)})"
    past = chips - systems * system.chips
    rest = round(chips - best.unit_chips(held))
    if not rest:
        return ""
    # chips inside whole systems are powered and priced, those past them neither (priced: where the catalog has one)
    kept, dropped = (("powered and priced", "neither powered nor priced") if price_per_chip(system)[0] is not None
                     else ("powered", "not powered"))
    if 0 < past < rest:  # some idle inside the whole systems, the others past them
        return (f"{rest:,} of the {chips:,} chips given serve nothing: {rest - past:,} idle in {systems:,} whole "
                f"{system.id} ({kept}) and {past:,} past them (not deployed, so {dropped})")
    if not past:  # all of them inside the whole systems
        return (f"{rest:,} chip{' serves' if rest == 1 else 's serve'} nothing: idle in {systems:,} whole {system.id} "
                f"({kept})")
    return (f"{rest:,} of the {chips:,} chips given {'is' if rest == 1 else 'are'} past {systems:,} whole "
            f"{system.id}: not deployed, so {dropped} (a system is bought whole)")


def _refuse_beyond_any_fleet(model: Model, systems: Sequence[System], demand_tokens_per_s: float | None,
                             units: int | None, power_budget_w: float | None, headroom: float) -> None:
    """Refuse before any search what no fleet of at most MOST_FLEET_CHIPS sizes, as the sizing would after it: a
    power budget alone that runs more chips of every system named, or a demand alone beyond every system's chips at a rate no
    chip can pass, its highest peak at 2 FLOPs per active parameter a token (prompt and output tokens alike; MTP
    drafts and attention only add work), with `headroom` (peak factor x (1 + spare)) over the daily mean."""
    if units is not None:
        return
    if demand_tokens_per_s is None and power_budget_w is not None and systems:
        runs = [(_powered_chips(system, power_budget_w), system) for system in systems]
        if all(n > MOST_FLEET_CHIPS for n, _ in runs):  # one kind beyond: its row says so after the search
            n, system = runs[0]
            raise InfeasiblePlan(f"the power budget runs {n:,} {system.chip.id} chips in {system.id}, beyond "
                                 f"any fleet's chips (at most {MOST_FLEET_CHIPS:,})")
    if demand_tokens_per_s is not None and power_budget_w is None and systems:
        flops_per_token = 2.0 * model.active_parameters
        system = max(systems, key=lambda s: max(s.chip.peak_flop_per_s.values()))
        least = demand_tokens_per_s * headroom * flops_per_token / max(system.chip.peak_flop_per_s.values())
        if least > MOST_FLEET_CHIPS:
            raise InfeasiblePlan(f"the demand needs more than {math.floor(least):,} {system.chip.id} chips, the "
                                 f"fewest of any chip named (each at its peak, 2 FLOPs per active parameter a token), "
                                 f"beyond any fleet's chips (at most {MOST_FLEET_CHIPS:,})")


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
        if best is None:
            out.append(FleetPlan(chip=chip.id, system=system.id, model=model.name, weights=precision.weights,
                                 kv_cache=precision.kv_cache, configuration="-", tokens_per_s_per_chip=None,
                                 served_tokens_per_s_per_chip=None, count=count,
                                 demand_tokens_per_s=demand_tokens_per_s, chips=math.inf, units_given=units,
                                 systems=math.inf,
                                 power_w=math.inf, cost_usd=None, price_source=price_source,
                                 power_source=power_text(system), flags=what_if,
                                 note="; ".join([*flag_note(what_if), why or (
                                     found.binding() if found is not None else "no layout divides the model")]),
                                 assumptions=said))
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
            out.append(FleetPlan(chip=chip.id, system=system.id, model=model.name, weights=precision.weights,
                                 kv_cache=precision.kv_cache, configuration="-", tokens_per_s_per_chip=None,
                                 served_tokens_per_s_per_chip=None, count=count,
                                 demand_tokens_per_s=demand_tokens_per_s, chips=math.inf, units_given=units,
                                 systems=math.inf,
                                 power_w=math.inf, cost_usd=None, price_source=price_source,
                                 power_source=power_text(system), flags=what_if,
                                 note="; ".join([*flag_note(what_if), beyond[-1]]), assumptions=said))
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
