"""`parity search`: the best serving layouts of a model on a system, and their Pareto frontier."""

from __future__ import annotations

from pathlib import Path

import click

from parity import catalog
from parity.cli import cli, emit, format_option, out_option
from parity.cli.values import CHIPS, TOKENS, Targets, targets_options
from parity.search import best_precision
from parity.errors import InfeasiblePlan
from parity.report.tables import Column, plain, scaled
from parity.search import search_serving

COLUMNS = [Column("mode", "mode", plain, "left", wide=True), Column("layout", "layout", plain, "left"),
           Column("decode_layout", "decode", plain, "left"),
           Column("concurrency", "clients/worker", scaled(1), wide=True),
           Column("chips", "chips", scaled(1)), Column("tpot_s", "TPOT ms", scaled(1e-3)),
           Column("ttft_s", "TTFT ms", scaled(1e-3)), Column("tokens_per_s_per_user", "tok/s/user", scaled(1)),
           Column("tokens_per_s_per_chip", "tok/s/chip", scaled(1)),
           Column("meets_targets", "meets", lambda v: "yes" if v else "no")]


@cli.command()
@click.option("--model", required=True, help="catalog model or config.json")
@click.option("--system", required=True, help="catalog system (or a chip: its default node)")
@click.option("--chips", type=CHIPS, default=None,
              help="chips per worker (default: every power of two up to the scale-up domain)")
@targets_options()
@click.option("--isl", type=TOKENS, default=1024, show_default=True)
@click.option("--osl", type=TOKENS, default=1024, show_default=True)
@click.option("--engine", default="generic", show_default=True)
@click.option("--weights", default=None, help="weight format (default: the narrowest native one)")
@click.option("--mode", "modes", type=click.Choice(["agg", "disagg"]), multiple=True,
              help="serving modes to search (default both)")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write the Pareto frontier as a PNG")
@click.option("--show-infeasible", is_flag=True,
              help="when no configuration meets the targets, print the frontier (exit 0) instead of refusing")
@format_option
@out_option
def search(model: str, system: str, chips: int | None, targets: Targets, isl: int, osl: int,
           engine: str, weights: str | None, modes: tuple[str, ...], plot: Path | None, show_infeasible: bool,
           fmt: str, out: Path | None) -> None:
    """Search tensor, pipeline, attention-DP and expert layouts, concurrency, aggregated and
    disaggregated serving: prints the throughput/interactivity frontier and the best under the targets."""
    the_model, the_system = catalog.model(model), catalog.system(system)
    profile = catalog.engine(engine)
    precision = best_precision(the_model, the_system.chip, weights)
    result = search_serving(the_model, the_system, profile, catalog.calibration(the_system.chip), precision, isl, osl,
                            targets.tpot_s, targets.ttft_s, chips, modes or ("agg", "disagg"))
    if result.best is None and not show_infeasible:
        raise InfeasiblePlan(f"no configuration of {the_model.name} on {the_system.id} meets the targets: "
                             f"{result.binding()} (--show-infeasible prints the frontier anyway)")
    rows = [c.to_dict() for c in result.frontier]
    if plot is not None:
        from parity.report.plots import frontier_png  # noqa: PLC0415 - matplotlib only when a plot is asked for

        points = [(c.tokens_per_s_per_user, c.tokens_per_s_per_chip) for c in result.frontier]
        frontier_png({f"{the_system.id} ({precision.weights})": points}, plot,
                     f"{the_model.name} on {the_system.id}: {isl} in / {osl} out", targets.tpot_s)
    best = result.best
    caption = ("layout: the worker's (the prefill worker's when disaggregated); decode: the decode worker's. "
               f"{result.evaluated:,} configurations evaluated, {result.feasible:,} feasible. Best under "
               f"{targets.text()}: "
               + (f"{best.tokens_per_s_per_chip:,.0f} tok/s/chip, {best.mode} {best.layout} {best.decode_layout or ''}, "
                  f"{best.concurrency:,.0f} clients per worker" if best else "none meets the targets")
               + ". " + " ".join(result.assumptions) + (f". Plot: {plot}" if plot else "")
               + (f". Model flags: {'; '.join(the_model.flags)}" if the_model.flags else ""))
    payload = {"model": the_model.name, "system": the_system.id, "weights": precision.weights,
               "evaluated": result.evaluated, "feasible": result.feasible, "targets": result.targets,
               "best": best.to_dict() if best else None, "frontier": rows, "assumptions": list(result.assumptions),
               "model_flags": list(the_model.flags), "model_features": sorted(the_model.features)}
    emit(rows, COLUMNS, fmt, title=f"Pareto frontier: {the_model.name} on {the_system.id} ({precision.weights})",
         caption=caption, payload=payload, out=out)
