"""`parity search`: the best serving layouts of a model on a system, and their Pareto frontier."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path

import click

from parity import catalog
from parity.cli import cli, emit, format_option, out_option, output_format, progress_bar, typed_options
from parity.cli.files import model_file, refuse_overwrite
from parity.cli.mtp import mtp_caption, mtp_option, refuse_mtp_without_layers
from parity.cli.percentile_choice import screened, unreachable_ttft
from parity.cli.search_prefill_split import _split
from parity.cli.search_words import _compare_command, _formats, _interval_text, _kv_note, _mtp_words, _unmatched, \
    _unsaid, _wider, _wider_hint, _wider_text
from parity.cli.serve_line import disagg_rerun, serve_command
from parity.cli.values import (CHIPS, ENGINE, FORMAT_NAME, SIM_CLIENT, TOKENS, Count, Targets, arrivals_option,
                               arrivals_text, targets_options)
from parity.search import best_precision
from parity.errors import InfeasiblePlan, ParityError
from parity.flags import joined, texts
from parity.predict.refine import DEFAULT_REFINE_MAX_CLIENTS, PERCENTILE_RUNS, case_of_candidate, percentile_probes, \
    poisson_rate, refine_candidates, refine_order
from parity.report.tables import Column, plain, scaled
from parity.simulate.targets import LatencyTarget
from parity.compare import configuration_flags, intervals, serving_ceiling
from parity.engine import EngineProfile
from parity.hardware import System, per_die
from parity.model import Model
from parity.plan import Precision
from parity.search import Candidate, search_serving
from parity.predict import Case, benchmark_of, scenario_of
from parity.uncertainty import calibration_label, context_flags
from parity.units import counted

DEFAULT_REFINE = 3  # frontier candidates re-run by the simulator unless --refine says otherwise

# what must show at 80 columns: the layouts, TPOT, TTFT and tok/s/chip (and with a percentile target, whether the
# simulator says it is met); the rest gives way in its rank's order: meets, then chips (a disaggregated worker pair's
# share of prefill chips), then the mode (a blank decode cell says agg) and the load, tok/s/user (1 / TPOT) first
COLUMNS = [Column("mode", "mode", plain, "left", wide=3), Column("layout", "layout", plain, "left"),
           Column("decode_layout", "decode", plain, "left"),
           Column("concurrency", "clients/worker", scaled(1), wide=3),
           Column("chips", "chips", scaled(1), wide=2), Column("tpot_s", "TPOT ms", scaled(1e-3)),
           Column("ttft_s", "TTFT ms", scaled(1e-3)),
           Column("tokens_per_s_per_user", "tok/s/user", scaled(1), wide=4),
           Column("tokens_per_s_per_chip", "tok/s/chip", scaled(1)),
           Column("meets_targets", "meets", lambda v: "yes" if v else "no", wide=1)]
# with --refine: the simulator's figures beside the steady-state ones ('-' on rows not refined)
REFINE_COLUMNS = [Column("sim_ttft_s", "sim TTFT ms", scaled(1e-3), wide=1),
                  Column("sim_ttft_p99_s", "sim TTFT p99", scaled(1e-3), wide=3),
                  Column("sim_tpot_s", "sim TPOT ms", scaled(1e-3), wide=1),
                  Column("sim_tpot_p99_s", "sim TPOT p99", scaled(1e-3), wide=4),
                  Column("sim_tokens_per_s_per_chip", "sim tok/s/chip", scaled(1), wide=2)]


def _refine_columns(percentiles: Sequence[LatencyTarget]) -> list[Column]:
    """The simulator's columns: under a percentile target the percentile it bounds is the first to show where there
    is room and the unbounded figures give way before it (at 80 columns the bounded p99 and p90 were the ones left
    out, the mean kept: report-only tester fuzzDG 4), as compare shows them."""
    if not percentiles:
        return REFINE_COLUMNS
    bounded = [Column(f"sim_{t.key}", f"sim {t.metric.upper()}\n{t.statistic} ms", scaled(1e-3), wide=1)
               for t in sorted(percentiles, key=lambda t: t.metric != "ttft")]
    shown = {c.key for c in bounded}
    return bounded + [dataclasses.replace(c, wide=max(int(c.wide), 2)) for c in REFINE_COLUMNS if c.key not in shown]
# with a percentile target: whether the simulator's percentile meets it ('-' on rows not refined)
SIM_MEETS = Column("sim_meets_targets", "sim meets", lambda v: "-" if v is None else "yes" if v else "no")


@cli.command()
@click.option("--model", required=True, help="catalog model or config.json")
@click.option("--system", required=True, help="catalog system (or a chip: its default node)")
@click.option("--chips", type=CHIPS, default=None,
              help="chips per worker (default: every power of two up to the scale-up domain)")
@targets_options(statistics=True)
@click.option("--isl", type=TOKENS, default=1024, show_default=True, help="prompt tokens per request")
@click.option("--osl", type=TOKENS, default=1024, show_default=True, help="output tokens per request")
@click.option("--engine", type=ENGINE, default="generic", show_default=True, help="serving-engine profile (parity engines)")
@click.option("--weights", type=FORMAT_NAME, default=None, help="weight format (default: the narrowest native one)")
@click.option("--kv", type=FORMAT_NAME, default=None,
              help="KV-cache storage format (default: fp8 where the chip has FP8, else bf16, as compare and fleet run "
                   "it; serve's default is the engine's)")
@mtp_option()
@click.option("--mode", "modes", type=click.Choice(["agg", "disagg"]), multiple=True,
              help="serving modes to search (default both)")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write the Pareto frontier as a PNG")
@click.option("--show-infeasible", is_flag=True,
              help="when no configuration meets the targets, print the frontier (exit 0) instead of refusing")
@click.option("--prefill-system", default="",
              help="disaggregated over two kinds: prefill on this system, decode on --system, within the budgets "
                   "--prefill-chips and --decode-chips (both needed); prints the best splits")
@click.option("--prefill-chips", type=CHIPS, default=None, help="with --prefill-system: chips of it to use at most")
@click.option("--decode-chips", type=CHIPS, default=None, help="with --prefill-system: chips of --system at most")
@click.option("--refine", type=Count(most=100, least=0, what="candidates"), default=DEFAULT_REFINE, show_default=True,
              help="re-run the frontier's best K candidates (those meeting the targets first, by tok/s/chip) with "
                   "the step-level simulator, as `parity serve --sim` would, and show its TTFT and TPOT (mean, p50, "
                   "p90, p99) beside the steady-state figures; 0: off. With a percentile target: at most K "
                   f"simulations in search of the best (default {PERCENTILE_RUNS})")
@arrivals_option()
@click.option("--processes", type=click.IntRange(min=1), default=2, show_default=True,
              help="worker processes for the --refine simulations")
@format_option
@out_option
def search(model: str, system: str, chips: int | None, targets: Targets, isl: int, osl: int,
           engine: str, weights: str | None, kv: str | None, mtp_tokens: int | None, modes: tuple[str, ...], plot: Path | None,
           show_infeasible: bool,
           prefill_system: str, prefill_chips: int | None, decode_chips: int | None, refine: int,
           arrivals: str, processes: int, fmt: str, out: Path | None) -> None:
    """Search tensor, pipeline, attention-DP and expert layouts, concurrency, aggregated and
    disaggregated serving: prints the throughput/interactivity frontier and the best under the targets.
    A target naming a percentile (--ttft p99:2s) screens the steady-state search by the mean at the same
    bound, and is checked by the simulator, each layout's loads bisected: the best is the simulated one that meets
    it."""
    output_format(fmt, out)  # a bad --out is refused before --plot writes anything
    if plot is not None and plot.suffix.lower() != ".png":
        raise ParityError(f"--plot {plot.name}: the plot is a PNG; name the file .png")
    refuse_overwrite([("--model", model_file(model))], [("--out", out), ("--plot", plot)])
    percentiles = targets.percentiles()
    if percentiles and (refine == 0 or prefill_system or prefill_chips or decode_chips):
        raise ParityError(f"{' and '.join(str(t) for t in percentiles)}: a percentile target is checked by the "
                          "step-level simulator on the refined candidates, so it needs --refine 1 or more and no "
                          "--prefill-system split (or give the mean's bound, e.g. "
                          f"--{percentiles[0].metric} {percentiles[0].seconds:g}s)")
    if (refine == 0 or prefill_system) and typed_options({"--arrivals": "arrivals"}):
        raise ParityError("--arrivals says how the simulator's requests arrive: it needs --refine 1 or more and no "
                          "--prefill-system split")
    the_model, the_system = catalog.model(model), catalog.system(system)
    refuse_mtp_without_layers([the_model], mtp_tokens)
    # multi-token prediction as compare and fleet run it (one draft on DeepSeek-R1 unless told), in the steady-state
    # search and in the refined candidates' simulations alike
    drafts = catalog.mtp_drafts(the_model, mtp_tokens)
    mtp, mtp_text = catalog.mtp_setting(the_model, drafts)[0], mtp_caption(the_model, drafts, mtp_tokens is not None)
    # the engine as it runs on the chip's software stack (vllm on ROCm: vllm-rocm), as compare and fleet run it
    # and as the refined candidates' simulations do
    profile = catalog.engine_on(catalog.engine(engine), the_system.chip.software_stack)
    if prefill_system or prefill_chips or decode_chips:
        if not (prefill_system and prefill_chips and decode_chips):
            raise ParityError("--prefill-system, --prefill-chips and --decode-chips go together (a split of two kinds "
                              "of system under a budget of each)")
        if given := typed_options(_WHOLE_WORKER_ONLY) + (["--mode agg"] if "agg" in modes else []):
            one = len(given) == 1
            raise ParityError(f"{', '.join(given)} {'is' if one else 'are'} not read by a --prefill-system split "
                              "(disaggregated by nature: the best fleets of prefill and decode workers under the "
                              f"two budgets, in closed form): leave {'it' if one else 'them'} out")
        _split(the_model, catalog.system(prefill_system), the_system, profile, (weights, kv), targets, isl, osl,
               prefill_chips, decode_chips, mtp, mtp_text, fmt, out, Case(model=model, system=system, engine=engine,
                                                                         isl=isl, osl=osl, concurrency=1))
        return
    precision = best_precision(the_model, the_system.chip, weights, kv)
    # a multi-die package (the Ascend 910C) runs one rank per die, as compare runs it; rates come back per package
    dies = the_system.chip.dies
    result = search_serving(the_model, per_die(the_system), profile, catalog.calibration(the_system.chip), precision,
                            isl, osl, targets.tpot_s, targets.screen_ttft_s(arrivals), chips * dies if chips else None,
                            modes or ("agg", "disagg"), mtp=mtp, meeting=bool(percentiles)).per_package(dies)
    if result.best is None and not show_infeasible:
        raise InfeasiblePlan(f"no configuration of {the_model.name} on {the_system.id} meets the targets: "
                             f"{result.binding()}"
                             f"{_wider_hint(result, the_model, the_system, profile, precision, chips, isl + osl)} "
                             "(--show-infeasible prints the frontier anyway)")
    if percentiles and (why := unreachable_ttft(result, percentiles)) and not show_infeasible:
        raise InfeasiblePlan(f"no configuration of {the_model.name} on {the_system.id} meets the targets: {why} "
                             "(--show-infeasible prints the frontier anyway)")  # said before any simulation
    rows = [c.to_dict() for c in result.frontier]
    default_refine = click.get_current_context().get_parameter_source("refine") is click.core.ParameterSource.DEFAULT

    def simulable(candidates: Sequence[Candidate]) -> list[Candidate]:
        """Without an explicit --refine, candidates over DEFAULT_REFINE_MAX_CLIENTS clients are not simulated."""
        return list(candidates) if not default_refine else [
            c for c in candidates
            if case_of_candidate(c, model, system, engine, precision, isl, osl, mtp[0],
                                 rank_per_die=dies > 1).concurrency <= DEFAULT_REFINE_MAX_CLIENTS]

    if percentiles:  # each layout's loads bisected for the fastest the simulator says meets the percentiles
        ranked = simulable(result.meeting)
        skipped = len(result.meeting) - len(ranked)
        budget = PERCENTILE_RUNS if default_refine else refine
        with progress_bar() as bar:  # on a terminal only, on stderr: the runs, at most `budget`
            runs = bar.add_task(f"simulating (at most {budget:,} runs)", total=budget)
            probes = percentile_probes(ranked, lambda c: refine_candidates(
                [c], model, system, engine, precision, isl, osl, mtp_tokens=mtp[0], rank_per_die=dies > 1,
                arrivals=arrivals, progress=lambda n: bar.advance(runs, n))[0],
                percentiles, budget, closed_loop=arrivals == "closed")
        at = {c: i for i, c in enumerate(result.frontier)}
        for c, row in probes:  # a probe off the frontier gets a row after the frontier's
            if c not in at:
                at[c] = len(rows)
                rows.append(row)
            rows[at[c]] = row
        refined = sorted({at[c] for c, _ in probes})
        layouts = len({(c.mode, c.layout, c.decode_layout) for c in ranked})
    else:
        order = [result.frontier[i] for i in refine_order(result.frontier)[:refine]]
        kept = set(simulable(order))
        skipped = len(order) - len(kept)
        refined = sorted(i for i, c in enumerate(result.frontier) if c in kept)
        with progress_bar(shown=bool(refined)) as bar:  # on a terminal only, on stderr
            runs = bar.add_task(f"simulating {counted(len(refined), 'candidate')}", total=len(refined))
            simulated = refine_candidates([result.frontier[i] for i in refined], model, system, engine, precision,
                                          isl, osl, processes, mtp[0], rank_per_die=dies > 1, arrivals=arrivals,
                                          progress=lambda n: bar.advance(runs, n))
        for i, row in zip(refined, simulated):
            rows[i] = row
    # each row's 80% intervals and flags, as compare gives its best (so search's best reads as compare's row)
    for c, row in [*zip(result.frontier, rows), *(probes if percentiles else ())]:
        row.update(_checked(c, the_system, the_model, profile, mtp[0], (isl, osl), precision))
    if plot is not None:
        from parity.report.plots import frontier_png  # noqa: PLC0415 - matplotlib only when a plot is asked for

        points = [(c.tokens_per_s_per_user, c.tokens_per_s_per_chip) for c in result.frontier]
        frontier_png({f"{the_system.id} ({precision.weights})": points}, plot,
                     f"{the_model.name} on {the_system.id}: {isl} in / {osl} out", targets.tpot_s)
    # the best's row of the table (the frontier holds it), with the simulator's figures where it was refined
    best = rows[result.frontier.index(result.best)] if result.best in result.frontier else (
        result.best.to_dict() | _checked(result.best, the_system, the_model, profile, mtp[0], (isl, osl), precision)
        if result.best else None)
    raised = list(the_model.flags) + context_flags(the_model, isl + osl)
    # what the figures rest on beyond the search's own choices: the chip's calibration and its stack's maturity
    assumptions = [*result.assumptions, *filter(None, (_kv_note(precision, profile, the_system, kv),)),
                   calibration_label(the_system, catalog.calibration(the_system.chip)),
                   *filter(None, (catalog.maturity_note(profile, the_system.chip.software_stack),))]
    chosen = "tok/s/chip"
    best_candidate = result.best
    if percentiles:
        passing = [(c, row) for c, row in probes if row["sim_meets_targets"]]
        best_candidate, best = max(passing, key=lambda p: float(p[1]["sim_tokens_per_s_per_chip"])) if passing \
            else (None, None)
        chosen = "sim tok/s/chip"
        if best is None and not show_infeasible:
            raise InfeasiblePlan(f"none of the {counted(len(refined), 'refined candidate')} of {the_model.name} on "
                                 f"{the_system.id} meets {targets.text()} by the simulator (--refine K checks more; "
                                 "--show-infeasible prints the frontier anyway)")
    # the best as `parity serve` runs it: the steady-state model's figures, or the simulator's for a percentile
    case = case_of_candidate(best_candidate, model, system, engine, precision, isl, osl, mtp[0],
                             rank_per_die=dies > 1) if best_candidate else None

    def serve_line(model_kind: str) -> str:
        """The best's `parity serve` line for one model: the steady model's at the search's fixed lengths, or the
        simulator's with the client profile's (and its Poisson arrivals where the search's are)."""
        assert case is not None
        poisson = model_kind == "sim" and arrivals == "poisson"
        return serve_command(case, moe="moe" in the_model.features, model_kind=model_kind,
                             request_rate=poisson_rate(best_candidate, case) if poisson else None,
                             client=benchmark_of(scenario_of(case)).client.id if poisson else "")

    rerun = serve_line("sim" if percentiles else "steady") if case else ""
    # the steady line's --random-range-ratio 1 is not what the sim columns ran: the best's own sim line, where refined
    sim_rerun = (serve_line("sim") if case and not percentiles and result.best in result.frontier
                 and result.frontier.index(result.best) in refined else "")
    # the whole workers a disaggregated line runs, and serve's figures for it (the search's own, but where a percentile
    # target raised its prefill for a first wave)
    whole, rerun_prices = "", {}
    if case and case.mode == "disagg":
        said, rerun_prices = disagg_rerun(best_candidate, case, profile.disagg_prefill_utilization, priced=not percentiles)
        whole = f" ({said})"
    screen = (targets.tpot_s, targets.screen_ttft_s(arrivals))
    wider = None if chips or modes else _wider(  # as compare and fleet choose, at the (screening) mean targets
        result, the_model, the_system, profile, precision, (isl, osl), screen, mtp)
    # compare and fleet take no --kv: where the search's KV format is not theirs, no compare line gives its figure
    theirs = best_precision(the_model, the_system.chip, weights)
    compared = _compare_command(model, system, targets, arrivals, isl, osl, engine, weights, mtp_tokens) \
        if theirs == precision else None
    caption = ((f"{mtp_text} " if mtp_text else "")
               + "layout: the worker's (the prefill worker's when disaggregated); decode: the decode worker's. "
               + _chips_clause(rows)
               + f"{result.evaluated:,} configurations evaluated, {result.feasible:,} feasible. Best under "
               f"{targets.text()}: "
               + (f"{scaled(1)(float(best['sim_tokens_per_s_per_chip' if percentiles else 'tokens_per_s_per_chip']))} "
                  f"{chosen}{_interval_text(best, 'sim_' if percentiles else '')}, "
                  f"{' '.join(str(best[k]) for k in ('mode', 'layout', 'decode_layout') if best[k])}, "
                  f"{float(best['concurrency']):,.0f} client{'s' if float(best['concurrency']) != 1 else ''} "
                  f"per worker; to run it: {rerun}{whole}" if best else "none meets the targets")
               + (_wider_text(wider, compared, precision, theirs, bool(percentiles)) if wider else "")
               + (f" (the simulator's {', '.join(t.statistic for t in percentiles)}: the steady-state search, which "
                  f"has means only, screened those whose {screened(targets, arrivals)}; of the {len(ranked):,} "
                  f"configuration{'' if len(ranked) == 1 else 's'} that passed, on {counted(layouts, 'layout')}, the "
                  "simulator bisected each layout's loads, as a percentile grows with the load on one layout, in "
                  f"{counted(len(refined), 'run')}, skipping the loads and layouts that could not beat the best found"
                  + ("; a p99 TTFT bound took the layouts by their first wave (every client's prompt at the "
                     "prefill rate: the closed loop's p99), disaggregated ones also with prefill workers enough "
                     "for it" if arrivals == "closed" and any(t.metric == "ttft" and t.statistic == "p99"
                                                                for t in percentiles) else "")
                  + (f"; it stopped at its budget of {budget} runs (--refine K: at most K)" if len(refined) >= budget
                     else "") + ")" if percentiles else "")
               + ". " + "; ".join(_unsaid(assumptions, mtp, mtp_text)) + (f". Plot: {plot}" if plot else "")
               + (f". Flags of the best: {'; '.join(best['flags'])}" if best and best["flags"] else
                  f". Flags: {joined(raised)}" if raised and not best else "")
               + (f". sim: the step-level simulator on {counted(len(refined), 'candidate')} ("
                  + ("the bisection's probes; those off the frontier follow its rows" if percentiles
                     else "the best, meeting the targets first, by tok/s/chip")
                  + "), each as `parity serve --sim` with its layout (sim_case; disaggregated on whole workers), "
                  f"the engine's profile for the chip's software stack and {SIM_CLIENT}" + arrivals_text(arrivals)
                  + (f"; the best's sim figures: {sim_rerun}" if sim_rerun else "") + "; '-': not refined"
                  if refined else "")
               + "".join(f". Refined {rows[i]['mode']} {rows[i]['layout']}"
                         f"{' / ' + str(rows[i]['decode_layout']) if rows[i]['decode_layout'] else ''} at "
                         f"{float(rows[i]['concurrency']):,.0f} clients: {'; '.join(rows[i]['sim_flags'])}"
                         for i in refined if rows[i].get("sim_flags"))
               + (f". {skipped:,} of the {'screened' if percentiles else f'{DEFAULT_REFINE} best'} not simulated: over "
                  f"{DEFAULT_REFINE_MAX_CLIENTS:,} clients each (seconds of simulation; an explicit --refine K runs "
                  "them)" if skipped else ""))
    rows = [{**row, "is_best": row is best} for row in rows]  # which row is the best, in CSV as in JSON
    best = next((row for row in rows if row["is_best"]), None if best is None else {**best, "is_best": True})
    rows, best = _same_keys(rows, best)
    payload = {"model": the_model.name, "system": the_system.id, "weights": precision.weights,
               "expert_weights": precision.expert_weights, "kv_cache": precision.kv_cache, "mtp_tokens": mtp[0],
               "mtp_accepted_tokens": mtp[1],
               # the bounds asked (a percentile's under target_statistics); screened_targets: those the steady search
               # screened by, which under Poisson arrivals drop a percentile TTFT the simulator checks alone (the
               # asked p99 read null: report-only tester fuzzDG 2)
               "evaluated": result.evaluated, "feasible": result.feasible,
               "targets": {"tpot_s": targets.tpot_s, "ttft_s": targets.ttft_s}, "screened_targets": result.targets,
               "target_statistics": {"tpot": targets.tpot_statistic, "ttft": targets.ttft_statistic},
               "best": best, "best_serve_command": rerun, "best_sim_serve_command": sim_rerun,
               "best_serve_prices": rerun_prices,
               "best_serve_note": whole.strip()[1:-1], "frontier": rows,
               "wider_workers": {"systems": wider[0], "tokens_per_s_per_chip": wider[1], "kv_cache": precision.kv_cache,
                                 "compare_command": compared,
                                 "note": None if compared else _unmatched(theirs)} if wider else None,
               "assumptions": assumptions,
               "model_flags": texts(raised), "model_features": sorted(the_model.features)}
    # under a percentile target the simulator's verdict stands for the metric it bounds: that metric's steady-state
    # mean (only the screen) gives way first where 80 columns cannot hold long layouts beside it
    bounded = {f"{t.metric}_s" for t in percentiles} if refined else set()
    columns = [dataclasses.replace(c, wide=1) if c.key in bounded else c for c in COLUMNS]
    emit(rows, columns + (_refine_columns(percentiles) if refined else []) + ([SIM_MEETS] if percentiles and refined
                                                                                  else []), fmt,
         title=f"Pareto frontier: {the_model.name} on {the_system.id} ({_formats(precision)}{_mtp_words(mtp)})",
         caption=caption, payload=payload, out=out)


def _same_keys(rows: Sequence[Mapping[str, object]], best: Mapping[str, object] | None
               ) -> tuple[list[dict[str, object]], dict[str, object] | None]:
    """The rows and the best with every row's keys, in one order: where the simulator did not run a row, its sim_*
    figures are null ('-' in the table) and its sim_flags an empty list ('[]' in CSV), so JSON and CSV readers meet
    one schema (unrefined rows left the 19 sim_* keys out: report-only tester fixec 3)."""
    keys = list(dict.fromkeys(k for row in rows for k in row))
    unrun: dict[str, object] = {"sim_flags": []}
    padded = [{k: row[k] if k in row else unrun.get(k) for k in keys} for row in rows]
    chosen = next((row for row in padded if row["is_best"]), None)
    return padded, chosen if chosen is not None or best is None else {
        **best, **{k: unrun.get(k) for k in keys if k not in best}}


def _checked(candidate: Candidate, system: System, model: Model, profile: EngineProfile, mtp_tokens: int,
             lengths: tuple[int, int], precision: Precision) -> dict[str, object]:
    """A configuration's 80% intervals (TTFT, TPOT, tokens/s per chip) and flags at `lengths` (isl, osl), as compare
    computes its best's (compare.configuration_flags, compare.intervals; the intervals wider in log where it is
    flagged and by its chip's calibration, uncertainty.widening; the fast end within the chips' compute at peak)."""
    isl, osl = lengths
    raised = configuration_flags(candidate, system, model, profile, mtp_tokens, isl + osl, precision,
                                 osl > 1)
    return {**intervals(candidate, model, raised, serving_ceiling(model, system, precision, isl, osl)),
            "flags": texts(raised)}


def _chips_clause(rows: Sequence[Mapping[str, object]]) -> str:
    """Where a row's chips show a fraction: what one means (a disaggregated decode worker's chips plus its share
    of its whole prefill workers' chips, search._disaggregated); '' where every row's are whole."""
    shown = next(c for c in COLUMNS if c.key == "chips").show
    if not any("." in shown(row["chips"]) for row in rows):
        return ""
    return ("chips: a disaggregated row's decode worker plus its share of the whole prefill workers it runs with "
            "(1 prefill worker per 8 decode workers adds an eighth of one), hence fractions. ")


# options of the one-system search that a --prefill-system split leaves unread: option -> its parameter
_WHOLE_WORKER_ONLY = {"--chips": "chips", "--plot": "plot", "--show-infeasible": "show_infeasible",
                      "--refine": "refine", "--processes": "processes"}
