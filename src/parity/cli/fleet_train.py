"""`parity fleet --workload train`: chips, systems, days, megawatts and dollars to train a model on a number of
tokens, per chip kind."""

from __future__ import annotations

from pathlib import Path

from parity import catalog
from parity.cli import emit, systems_named, typed_options
from parity.cli.labels import COST_BASES, cost_cells, flags_caption, mfu_caption
from parity.cli.values import listed
from parity.cli.variants import variant_systems, what_ifs_text
from parity.errors import ParityError
from parity.export import (Screened, class_fields, eccn_shown, near_footnote, rule_fields, rule_title,
                           screen)
from parity.hardware import System
from parity.fleet import SECONDS_PER_DAY
from parity.fleet_training import plan_training_fleet
from parity.policy import assess
from parity.report.tables import Column, count, money, percent, plain, reached, scaled
from parity.training import default_global_batch
from parity.uncertainty import TRAINING_INTERVAL_BASIS

__all__ = ["fleet_kinds", "train_fleet"]

def fleet_kinds(chip_names: str, variants_path: Path | None, rule: str | None
                ) -> tuple[list[System], list[System], Screened | None]:
    """The systems a fleet sizes (serving or training), the what-ifs among them, and the export screening (None
    without --rule): each of --chips in its default system (a chip) or itself (a system), then --variants' what-ifs
    (their chips named where --chips is not given), those a buyer in China gets under --rule kept; one line where
    none is named or every one is dropped, before any search."""
    what_ifs = variant_systems(variants_path, "parity fleet", reads=("unit_price_usd",))
    if what_ifs and not typed_options({"--chips": "chip_names"}):
        chip_names = ",".join(dict.fromkeys(s.chip.id for s in what_ifs))
    kinds = systems_named(listed(chip_names, "--chips"), "each system is sized once") + what_ifs
    if not kinds:
        raise ParityError(f"--chips {chip_names!r}: name at least one chip kind or system (parity chips, parity "
                          "systems list them)")
    exporting = screen(kinds, rule) if rule else None
    return (list(exporting.kept) if exporting else kinds), what_ifs, exporting


def train_fleet(model: str, tokens: float | None, days: float | None, units: int | None, power_mw: float | None,
                chip_names: str, variants_path: Path | None, rule: str | None, seq_len: int,
                global_batch: int | None, precision: str, processes: int, fmt: str, out: Path | None) -> None:
    """The training fleet of each chip kind, as a table (or JSON, CSV, Markdown)."""
    if tokens is None:
        raise ParityError("--workload train needs --tokens, the tokens to train on (e.g. 15e12)")
    if days is None and units is None and power_mw is None:
        raise ParityError("--workload train needs --days (a deadline), --units (chips available) or --power-mw "
                          "(a power budget)")
    found = catalog.model(model)
    kinds, what_ifs, exporting = fleet_kinds(chip_names, variants_path, rule)
    batch = global_batch or default_global_batch(seq_len)
    plans = plan_training_fleet(found, kinds, tokens, None if days is None else days * SECONDS_PER_DAY, units,
                                None if power_mw is None else power_mw * 1e6, seq_len, batch, precision, processes)
    export = exporting.text if exporting else ""
    classes = [assess(system.chip) for system in kinds]  # each chip's export class, as the serving fleet's rows
    rows = [p.to_dict() | class_fields(a) | {"assumptions": [*p.assumptions, *filter(None, [export])]}
            | rule_fields(exporting, system) for p, system, a in zip(plans, kinds, classes)]
    costs = cost_cells([p.cost_usd for p in plans], kinds)  # each over what it counts, where the rows' differ
    shown = rows if fmt not in ("table", "md") else [  # days and the cost as people read them; SI in JSON and CSV
        r | {"days": p.train_time_s / SECONDS_PER_DAY, "cost_cell": costs[i] if costs else "",
             "eccn_3a090": eccn_shown(a)}
        for i, (r, p, a) in enumerate(zip(rows, plans, classes))]
    defaults = all(s.id == catalog.system_for(s.chip).id for s in kinds)
    columns = [Column("chip", "chip", plain, "left", wide=not defaults),
               Column("system", "in system", plain, "left", wide=defaults),
               Column("layout", "layout", plain, "left", wide=2),
               # the export class, as the serving fleet's table shows it, first to give way without --rule
               Column("eccn_3a090", "ECCN 3A090", plain, "left", wide=1 if exporting else 3),
               Column("tokens_per_s_per_chip", "tok/s/chip", reached(scaled(1))),
               Column("mfu", "MFU", lambda v: "-" if v is None else percent(v), wide=1),
               Column("chips", "chips", reached(count)), Column("systems", "systems", reached(count), wide=1),
               Column("days", "days", reached(scaled(1))),
               Column("power_w", "MW", reached(scaled(1e6, zeros=True))),
               Column("energy_j", "GWh", reached(scaled(3.6e12, zeros=True)), wide=1),
               Column("cost_cell", "cost", plain) if costs and fmt in ("table", "md")
               else Column("cost_usd", "cost", reached(money)), Column("note", "note", plain, "left")]
    what = ", ".join(filter(None, [f"{tokens:.3g} tokens", "" if days is None else f"within {days:g} days",
                                   "" if units is None else f"on at most {units:,} chip{'s' if units != 1 else ''}",
                                   "" if power_mw is None else f"within {power_mw:g} MW"]))
    sized = ("the fewest whole systems (doubled, bisected, then the counts below of 1, 3 ... 15, or of the batch's "
             "odd divisors above 15, times a power of two checked) whose fastest layout trains within the deadline; "
             "a count on which no layout divides all its chips trains on the most of them one does, above one system "
             "fewer, else counts as missing it"
             if days is not None
             else "the whole systems the limits give, in their fastest layout, or fewer where those train faster (the "
             "note says so)")
    # each row as its first shown column names it: the chip where every system is its chip's default, else the system
    flagged = flags_caption(found, model, [(p.chip if defaults else p.system, p.tokens_per_s_per_chip is not None,
                                            p.flags) for p in plans], workload="train")
    near = near_footnote(classes, "near_lines in --format json or csv")  # what the ECCN column's marks say
    emit(shown, columns, fmt, payload=rows, out=out,
         title=f"Training fleet for {found.name}: {what}" + (f", {rule_title(exporting.rule)}"
                                                       if exporting else ""),
         caption=(f"{flagged}{seq_len}-token sequences, {batch:,} per step, {precision}"
                  + (" (priced as fp8: its 128x128 block scales' cost is not modelled)"
                     if any(p.precision == "fp8_block" for p in plans) else "") + ". "
                  f"Chips: {sized}; each count in the fastest layout that fits, as `parity train --chips N` picks "
                  "it. days: tokens / (tok/s/chip x the chips that train: all of them, but where no layout divides "
                  "the whole systems' chips, as the note says; training_chips in --format json or csv). "
                  + (f"The days' 80% interval (train_time_s_low, _high and tokens_per_s_per_chip_low, _high in "
                     f"--format json; the note gives it where the deadline lies inside it): {TRAINING_INTERVAL_BASIS}. "
                     if any(p.train_time_s_low is not None for p in plans) else "")
                  + mfu_caption([(p.chip if defaults else p.system, p.mfu_peak) for p in plans
                                 if p.tokens_per_s_per_chip is not None])
                  + "MW: the chips' "
                  "share of their systems' power as the catalog states it (as the serving fleet counts it; no facility "
                  "overhead); GWh: MW x the time. "
                  "Cost: chips x their share of the price, a system's where the catalog prices the system, else a "
                  "chip's. " + (COST_BASES if costs else "")
                  + "Note: the limit that binds and the days then, where the batch caps the useful chips, and what "
                  "the layout lies outside of, as `compare --workload train` names it; every flag, binding, "
                  "most_useful_chips, power_source and price_source in --format json. "
                  + "; ".join(dict.fromkeys(p.power_source for p in plans))
                  + (". What-ifs (--variants; note 'what-if'): " + what_ifs_text(what_ifs)
                     + ", each at its catalog chip's calibration, and its price where the variant sets no "
                     "unit_price_usd (note 'catalog price')" if what_ifs else "")
                  + (f". {export} (per record: rule, rule_why, rule_dropped in --format json or csv)"
                     if export else "") + ("." + near if near else "")))
