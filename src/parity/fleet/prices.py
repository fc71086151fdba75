"""What a fleet's cost and power count, in words with their catalog sources: a chip's share of a price, the
systems' power, a what-if priced at its catalog price, the spare margin."""

from __future__ import annotations

from collections.abc import Sequence

from parity.fleet.record import FleetPlan
from parity.flags import Flag
from parity.hardware import Provenance, System
from parity.uncertainty import power_figure, what_if_changes


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
