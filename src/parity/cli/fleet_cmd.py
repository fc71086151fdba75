"""`parity fleet`: chips, systems, megawatts and dollars for a token demand, per chip kind."""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from pathlib import Path

import click

from parity import catalog
from parity.cli import cli, emit, format_option, out_option, output_format, progress_bar, typed_options
from parity.cli.files import model_file, refuse_overwrite
from parity.cli.labels import COST_BASES, SPECS_ASSUMED_WORDS, cost_cells, flags_caption
from parity.cli.variants import variants_option, what_ifs_text
from parity.cli.mtp import mtp_option, refuse_mtp_without_layers
from parity.cli.percentile_choice import bound_text, percentile_choice, screened
from parity.cli.fleet_train import fleet_kinds, train_fleet
from parity.cli.workloads import refuse_other_workloads_options, training_run_options
from parity.cli.values import DEFAULT_TTFT, ENGINE, SIM_CLIENT, TOKENS, UNITS, Quantity, Real, Targets, \
    arrivals_option, arrivals_text, formats_text, targets_options
from parity.errors import ParityError
from parity.export import EXPORT_RULES, class_fields, eccn_shown, near_footnote, rule_fields, rule_title
from parity.cli.serve_line import as_compared, in_catalog, serve_command, simulated_as_compared
from parity.fleet import FleetPlan, basis_text, plan_fleet, spare_text
from parity.hardware import System
from parity.parallel import map_chunks
from parity.predict.refine import SIM_SHORTFALL, case_of_candidate
from parity.policy import assess
from parity.uncertainty import UNMEASURED_GEMM_WORDS, specs_flag, widening_words
from parity.units import counted, share_text
from parity.report.tables import Column, money, over_interval, plain, reached, scaled
from parity.report.tables import count as count_cell  # --count names the demand's tokens here

# options only one workload reads (the other would ignore them): option -> its parameter
_SERVING_ONLY = {"--demand": "demand_tps", "--tpot": "tpot_s", "--ttft": "ttft_s", "--isl": "isl", "--osl": "osl",
                 "--engine": "engine", "--peak-factor": "peak_factor", "--spare": "spare", "--count": "count",
                 "--mtp": "mtp_tokens", "--arrivals": "arrivals"}
_TRAINING_ONLY = {"--tokens": "tokens", "--days": "days", "--seq-len": "seq_len", "--global-batch": "global_batch",
                  "--precision": "training_precision"}


@cli.command()
@click.option("--model", required=True, help="catalog model or config.json")
@click.option("--workload", type=click.Choice(["serve", "train"]), default="serve", show_default=True,
              help="serve: a fleet for a token demand at latency targets; train: a fleet that trains on --tokens "
                   "within --days, or the days --units or --power-mw take")
@click.option("--tokens", type=Real(1.0, 1e18), default=None,
              help="training: tokens to train on, e.g. 15e12 (required with --workload train)")
@click.option("--days", type=Real(0.0, 1e5, open_least=True), default=None,
              help="training: the deadline [days]: the fewest whole systems that train --tokens within it, capped "
                   "by --units and --power-mw")
@training_run_options
@click.option("--demand", "demand_tps", type=Quantity("tokens_per_s", "2e12 tokens/day", most=1e15), default=None,
              help='token demand, e.g. "2e12 tokens/day" or "5M tokens/s" (daily mean; at most 1e15 tokens/s)')
@click.option("--chips", "chip_names", default="nvidia-h20,huawei-ascend-910c,nvidia-h200-sxm", show_default=True,
              help="comma-separated chip kinds, each in its default system (its 8-chip node or rack), or systems "
                   "to size in (cloudmatrix-384: its chips, power per chip and scale-up domain)")
@targets_options(ttft_default=DEFAULT_TTFT, statistics=True)
@click.option("--isl", type=TOKENS, default=1024, show_default=True, help="prompt tokens per request")
@click.option("--osl", type=TOKENS, default=1024, show_default=True, help="output tokens per request")
@click.option("--engine", type=ENGINE, default="generic", show_default=True, help="serving-engine profile (parity engines)")
@click.option("--peak-factor", type=Real(1.0, 1e3), default=2.0, show_default=True, help="peak over daily-mean demand")
@click.option("--spare", type=Real(0.0, 10.0), default=0.1, show_default=True,
              help="spare capacity, a margin over the peak demand (0.1: capacity 1.1x the peak)")
@click.option("--count", type=click.Choice(["total", "output"]), default="total", show_default=True,
              help="what the demand counts: prompt + output tokens, or output tokens only")
@click.option("--units", type=UNITS, default=None,
              help="chips available (e.g. a year's production): alone, what they serve (training: the days they "
                   "take); with --demand or --days, the fleet it needs, at most these chips (the note says which "
                   "binds)")
@click.option("--power-mw", type=Real(0.0, 1e6, open_least=True), default=None,
              help="power budget [MW]: alone, what the whole systems it powers serve (training: the days they take); "
                   "with --demand, --days or --units, a cap on that fleet (the note says whether it binds)")
@variants_option("is sized after the --chips named (--chips not given: after its chip's default system)")
@click.option("--rule", default=None, type=click.Choice(EXPORT_RULES, case_sensitive=False),
              help="keep only the chips a buyer in China gets under this US export-control rule (parity policy): "
                   "3a090 (outside 3A090), 3a090.a (3A090.b at most, under NAC) or jan2026 (also 3A090 chips inside "
                   "its case-by-case line); a domestic chip (a PRC vendor's) is kept and a chip a licence letter "
                   "names (the H20) dropped under each, and the caption names every chip kept as domestic or dropped "
                   "and why")
@mtp_option()
@arrivals_option(default="poisson", when="with a percentile target (--ttft p99:2s), which the simulator checks")
@click.option("--processes", type=click.IntRange(min=1), default=2, show_default=True,
              help="worker processes the chip kinds are searched (and simulated) on, as compare's")
@format_option
@out_option
def fleet(model: str, workload: str, tokens: float | None, days: float | None, seq_len: int,
          global_batch: int | None, training_precision: str, demand_tps: float | None, chip_names: str,
          targets: Targets, isl: int, osl: int, engine: str, peak_factor: float, spare: float, count: str,
          units: float | None, power_mw: float | None,
          variants_path: Path | None, rule: str | None, mtp_tokens: int | None, arrivals: str, processes: int,
          fmt: str, out: Path | None) -> None:
    """Size a fleet per chip kind for a token demand at a latency target, or what a number of chips
    (a production volume) or a power budget serves; --workload train: the fleet that trains on --tokens within
    --days, or the days --units or --power-mw take. Given together, each is a limit on the others: the
    demand's fleet is capped by the chips available and the power budget, and every limit is named in the note."""
    refuse_overwrite([("--model", model_file(model)), ("--variants", variants_path)], [("--out", out)])
    fmt = output_format(fmt, out)  # a --format that contradicts the suffix of --out, refused before any work
    refuse_other_workloads_options(workload, _SERVING_ONLY, _TRAINING_ONLY)
    if workload == "train":
        train_fleet(model, tokens, days, units, power_mw, chip_names, variants_path, rule, seq_len, global_batch,
                    training_precision, processes, fmt, out)
        return
    percentiles = targets.percentiles()
    if not percentiles and typed_options({"--arrivals": "arrivals"}):
        raise ParityError("--arrivals says how the simulator's requests arrive: it needs a percentile target "
                          "(--ttft p99:2s)")
    found = catalog.model(model)
    model = model if model_file(model) else found.name  # the catalog's name in its serve lines, as compare's
    refuse_mtp_without_layers([found], mtp_tokens)
    drafts = catalog.mtp_drafts(found, mtp_tokens)
    mtp_words = f"{_sentence(catalog.mtp_setting(found, drafts)[1])}. " if found.mtp_layers else ""
    # a chip names its default system (catalog.system), a system itself
    kinds, what_ifs, exporting = fleet_kinds(chip_names, variants_path, rule)
    with progress_bar(shown=bool(percentiles)) as bar:  # the simulator's checks, on a terminal only, on stderr
        kinds_done = bar.add_task(f"searching and simulating {counted(len(kinds), 'chip kind')}", total=len(kinds))
        plans = plan_fleet(found, kinds,
                           catalog.engine(engine), demand_tps, targets.tpot_s, isl, osl, peak_factor, spare,
                           count, units, power_mw * 1e6 if power_mw else None, targets.screen_ttft_s(arrivals), drafts,
                           functools.partial(percentile_choice, model_name=model, engine=engine, isl=isl, osl=osl,
                                             mtp_tokens=drafts, weights=None, percentiles=percentiles,
                                             arrivals=arrivals, rate="tokens_per_s_per_chip")  # the rate sized on
                           if percentiles else None, processes, lambda n: bar.advance(kinds_done, n))
        # under percentile targets, the chosen configuration's simulated figures, as `compare --refine` shows them
        simulating = bar.add_task(f"simulating {counted(len(plans), 'configuration')}", total=len(plans))
        jobs = [(p.candidate, s, model, engine, isl, osl, drafts, None, arrivals) for p, s in zip(plans, kinds)]
        sims = (map_chunks(simulated_as_compared, jobs, processes, progress=lambda _: bar.advance(simulating))
                if percentiles else [{} for _ in plans])
    export = exporting.text if exporting else ""
    classes = [assess(system.chip) for system in kinds]  # each chip's export class, as `parity policy` gives it
    rows = [_before_note(p.to_dict() | {"note": "; ".join(filter(None, [p.note, _simulated_note(p, sim)]))},
                         _serve_line(p, system, model, engine, isl, osl, drafts) | sim)
            | class_fields(a) | {"assumptions": [*p.assumptions, *filter(None, [export])]}
            | rule_fields(exporting, system)
            for p, system, sim, a in zip(plans, kinds, sims, classes)]
    ranged = any(p.chips_low is not None for p in plans)
    trillions = scaled(1e12, zeros=True)
    costs = cost_cells([p.cost_usd for p in plans], kinds)  # each over what it counts, where the rows' differ
    shown = rows if fmt not in ("table", "md") else [  # the chips' 80% interval as people read it: '20,752-68,144'
        r | {"chips_80": "-" if p.chips_low is None else f"{p.chips_low:,}-{p.chips_high:,}",
             "eccn_3a090": eccn_shown(a),  # marked where a metric near a line may change it, as `parity policy` does
             "cost_cell": costs[i] if costs else "",
             # what they serve over its 80% interval: '82.5' over '38.5-127'; '-' where they serve nothing (as their
             # MW and cost), not '0.00' over '0.00-0.00'
             "served_80": over_interval(trillions(p.served_tokens_per_day), p.served_tokens_per_day_low,
                                        p.served_tokens_per_day_high, trillions)
             if p.served_tokens_per_day else "-"}
        for i, (r, p, a) in enumerate(zip(rows, plans, classes))]
    # where a system other than a chip's default is named, the system column shows, and the chip (which each
    # system names: parity show) gives way first at a narrow terminal
    defaults = all(s.id == catalog.system_for(s.chip).id for s in kinds)
    columns = [Column("chip", "chip", plain, "left", wide=not defaults),
               Column("system", "in system", plain, "left", wide=defaults),
               Column("weights", "format", plain, "left", wide=True),
               # the export class in every table (its JSON carried it alone), first to give way without --rule
               Column("eccn_3a090", "ECCN 3A090", plain, "left", wide=True if exporting else 2),
               Column("tokens_per_s_per_chip", "out tok/s/chip", reached(scaled(1)), wide=True),
               Column("ttft_s", "TTFT ms", reached(scaled(1e-3)), wide=2),
               Column("tpot_s", "TPOT ms", reached(scaled(1e-3)), wide=2),
               # what the rows meet by construction, so after the rate they are sized on
               *[Column(f"sim_{t.key}", f"sim {t.metric.upper()}\n{t.statistic} ms", reached(scaled(1e-3)), wide=True)
                 for t in sorted(percentiles, key=lambda t: t.metric != "ttft")],
               Column("chips", "chips", reached(count_cell)),
               *([Column("chips_80", "chips 80%", plain, wide=True)] if ranged and fmt in ("table", "md") else []),
               Column("systems", "systems", reached(count_cell), wide=True),
               Column("power_w", "MW", reached(scaled(1e6, zeros=True))),
               Column("cost_cell", "cost", plain) if costs and fmt in ("table", "md")
               else Column("cost_usd", "cost", reached(money)),
               # without a demand, what the chips or the power serve is the answer, and no share of a demand exists
               Column("served_80", "T tokens/day\nserved, 80%", plain, wide=demand_tps is not None),
               *([Column("served_share", "of demand", lambda v: "-" if v is None else share_text(v))]
                 if demand_tps is not None else []),
               Column("note", "note", plain, "left")]
    simulated = ", ".join(f"{t.metric.upper()} {t.statistic}" for t in percentiles)  # 'TTFT p99'
    what = ", ".join(filter(None, [f"{demand_tps * 86_400:.3g} tokens/day ({count} tokens)" if demand_tps else "",
                                   "" if units is None else
                                   f"{'at most ' if demand_tps else ''}{units:,} chip{'s' * (units != 1)}",
                                   "" if power_mw is None else
                                   f"{'within ' if demand_tps or units else ''}{power_mw:g} MW"]))
    # what the tokens served count, in the title in every mode (--units and --power-mw alone said it in JSON only:
    # 2.04 and 1.02 T tokens/day under one title, report-only tester fixfb 1)
    what += "" if demand_tps else f" ({count} tokens)"
    # each row as its first shown column names it: the chip where every system is its chip's default, else the system
    flagged = flags_caption(found, model, [(p.chip if defaults else p.system, p.tokens_per_s_per_chip is not None,
                                            p.flags) for p in plans])
    emit(shown, columns, fmt, payload=rows, out=out,
         title=f"Fleet for {found.name}: {what} at {targets.text()}" + (f", {rule_title(exporting.rule)}"
                                                                   if exporting else ""),
         caption=(f"{flagged}{_served_text(count, peak_factor, spare)} Workload {isl} in / {osl} out; TTFT and "
                  f"TPOT (--wide): the steady-state model's means for the benchmark's closed loop"
                  + ("" if exporting else "; ECCN 3A090 (--wide): the chip's US export class, which no letter or rule "
                     "for China decides alone (`parity policy`; --rule keeps the chips a buyer in China gets)") + "."
                  + near_footnote(classes, "near_lines in --format json or csv") + " Formats: "
                  f"{formats_text(None, any(p.configuration.startswith('disagg') for p in plans))} (each row's "
                  f"whole line: serve_command in --format json or csv"
                  + ("; a what-if's is empty: serve runs catalog systems" if what_ifs else "") + f"). {mtp_words}"
                  + (f"Configuration: the fastest by the steady-state rate the chips are sized on, of those whose "
                     f"simulated {' and '.join(bound_text(t) for t in percentiles)} hold, among those whose "
                     f"{screened(targets, arrivals)}, each layout's loads bisected as `parity search` does"
                     f"{arrivals_text(arrivals)}; sim {simulated}: that configuration's run in the simulator, "
                     + ("its requests so arriving" if arrivals == "poisson" else
                        "as `parity serve --sim` runs its serve line")
                     + f", at {SIM_CLIENT} (--wide; sim_* and sim_case in --format json or csv); sim_rate_share: the "
                     "share of the rate sized on that the simulated run sustains ("
                     + ("1 where its queue holds; its sim_tokens_per_s_per_chip, first send to last token, counts its "
                        "drain too" if arrivals == "poisson" else "its sim_tokens_per_s_per_chip over that rate")
                     + f"), the note saying what the fleet serves where it is under {1 - SIM_SHORTFALL:.0%}. "
                     if percentiles else "") + "Served: whole deployment units (aggregated workers, or decode "
                  "workers with whole prefill workers at the sized ratio) in whole systems (a part of one runs no "
                  "worker of its scale-up domain); chips, MW and cost count the chips deployed, those of whole "
                  "systems, idle ones included; chips given (--units) past them are not deployed, as a system is "
                  "bought and powered whole (the note says how many chips serve nothing, and where; the chips given: "
                  "units_given in --format json or csv). served, 80%: under what "
                  "they serve, what they serve at the ends of the 80% interval of the per-chip rate (compare's "
                  "tokens_per_s_per_chip_low/high; served_tokens_per_day_low/high in --format json or csv). "
                  + ("of demand: what they serve over the demand's tokens/day (over 100% by the whole units and "
                     "systems deployed, under it where --units or --power-mw hold too few chips; served_share in "
                     "--format json or csv). " if demand_tps is not None else "")
                  + "Note: "
                  "what the best configuration lies outside of, as `compare` names it"
                  + _legend([p.note for p in plans], any(specs_flag(s.chip) for s in kinds))
                  + "; every flag in --format json. " + (COST_BASES if costs else "") + basis_text(plans)
                  + (". What-ifs (--variants; note 'what-if'): "
                     + what_ifs_text(what_ifs)
                     + ", each at its catalog chip's calibration, and its price where the variant sets no "
                     "unit_price_usd (note 'catalog price'); the sweep axes that price each one's configuration: its "
                     "assumptions in --format json" if what_ifs else "")
                  + (". chips 80%: the chips the demand needs at the ends of the 80% interval of the per-chip rate "
                     "(compare's tokens_per_s_per_chip_low/high: the serving bands of the configuration's mode and "
                     f"model class, {widening_words()}), before any limit; chips_low and chips_high in --format "
                     "json or csv" if ranged else "")
                  + (f". {export} (per record: rule, rule_why, rule_dropped in --format json or csv)"
                     if export else "")))


def _served_text(count: str, peak_factor: float, spare: float) -> str:
    """What 'T tokens/day served' counts, in the caption's first sentence: the tokens (--count) and that it is the
    daily-mean demand the fleet carries, its capacity over the peak factor and the spare margin, not the tokens it
    can produce a day (20 MW of H200 read 4.00 T/day served where compare's per-kW rate x 20 MW x 86,400 s gives 8.79:
    report-only tester fixfb 2)."""
    headroom = peak_factor * (1 + spare)
    return (f"tokens/day served in trillions of {'prompt + output' if count == 'total' else 'output'} tokens "
            f"(--count {count}): the daily-mean demand the fleet carries at peak factor {peak_factor:g} with "
            f"{spare_text(spare)}, its full-load tokens a day over {headroom:.3g}.")


def _before_note(record: dict[str, object], added: dict[str, object]) -> dict[str, object]:
    """`record` with `added` before its note, flags and assumptions, which stay its last fields (a CSV's columns)."""
    head = [k for k in record if k not in ("note", "flags", "assumptions")]
    return {k: record[k] for k in head} | added | {k: record[k] for k in ("note", "flags", "assumptions")}


def _simulated_note(plan: FleetPlan, sim: Mapping[str, object]) -> str:
    """What the fleet serves where the simulated run of its configuration sustains under 1 - SIM_SHORTFALL of the
    steady rate the chips are sized on (sim_rate_share): 'the simulated run sustains 95.0% of the rate sized on, so
    the fleet serves 96.0% of the demand' (the steady 101% read alone: report-only tester, fixea 2); '' where it
    sustains more, or nothing was simulated (no percentile target: `sim` is empty; a failed run's share is NaN)."""
    share = float(sim.get("sim_rate_share", math.nan))  # type: ignore[arg-type]
    if not share < 1.0 - SIM_SHORTFALL:
        return ""
    served = (f", so the fleet serves {share_text(plan.served_share * share)} of the demand"
              if plan.served_share is not None else "")
    return f"the simulated run sustains {share_text(share)} of the rate sized on{served}"


def _serve_line(plan: FleetPlan, system: System, model_name: str, engine: str, isl: int, osl: int,
                drafts: int) -> dict[str, str]:
    """The `parity serve --model-kind steady` line of the configuration a row is sized on (serve_command: its
    layouts, formats, MTP, one rank per die, clients and fixed lengths, as compare's rows give it); '' where none
    serves or the system is a what-if (serve runs catalog systems)."""
    if plan.candidate is None or not in_catalog(system):
        return {"serve_command": ""}
    precision, mtp = as_compared(system, model_name, None, drafts)
    case = case_of_candidate(plan.candidate, model_name, system.id, engine, precision, isl, osl, mtp,
                             rank_per_die=system.chip.dies > 1)
    return {"serve_command": serve_command(case, moe="moe" in catalog.model(model_name).features)}


# what the words of a fleet row's note mean (a note's words, then what they say), for the caption to explain those its
# rows' notes use
_NOTE_WORDS = (
    (("uncalibrated",), "'uncalibrated': no measured calibration of the chip itself"),
    (("GEMM rate not measured",), UNMEASURED_GEMM_WORDS),
    (("reported chip", "announced chip", "roadmap chip"),
     "'reported chip', 'announced chip', 'roadmap chip': not shipping, the note names the source kinds of its figures"),
    (("power assumed",), "'power assumed': the system's power, which MW counts, is parity's assumption, given below"),
    (("power derived",), "'power derived': the system's power, which MW counts, is parity's arithmetic on another "
                         "system's published figure, not one published for it, given below"))


def _legend(notes: list[str], assumed: bool) -> str:
    """' (...)': what the words of the rows' notes mean, those some note uses (a legend of words no note used read as
    if some row carried them: report-only tester fuzzCB 5); '' where none does."""
    said = [text for words, text in _NOTE_WORDS if any(w in note for w in words for note in notes)]
    said += [SPECS_ASSUMED_WORDS] if assumed else []
    return f" ({'; '.join(said)})" if said else ""


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]
