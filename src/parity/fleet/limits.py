"""What holds a fleet's chips: whole deployment units and whole systems, chips given (units) and a power budget,
what serves nothing, and what no fleet of at most MOST_FLEET_CHIPS could size."""

from __future__ import annotations

import math
from collections.abc import Sequence

from parity.errors import InfeasiblePlan
from parity.fleet.prices import price_per_chip
from parity.hardware import MOST_FLEET_CHIPS, System
from parity.model import Model
from parity.search import Candidate
from parity.units import figure_text


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
