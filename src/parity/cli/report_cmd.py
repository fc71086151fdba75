"""`parity report`: the HTML report with plots, tables and every source used."""

from __future__ import annotations

from pathlib import Path

import click
from rich.progress import Progress

from parity.cli import cli
from parity.report.html import ReportSpec, build_report


@cli.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("parity-report"),
              show_default=True, help="folder for index.html and the PNG plots")
@click.option("--model", default=ReportSpec().model, show_default=True, help="the MoE model of the comparisons")
@click.option("--engine", default=ReportSpec().engine, show_default=True)
def report(out: Path, model: str, engine: str) -> None:
    """Write a self-contained HTML report: CloudMatrix 384 vs GB200 NVL72, Atlas 950 vs Vera Rubin NVL144,
    the China-market nodes, number formats, Pareto frontiers, rooflines, export controls, a fleet plan, and every source."""
    spec = ReportSpec(model=model, engine=engine)
    with Progress(transient=True) as progress:
        task = progress.add_task("report", total=7)
        page = build_report(out, spec, lambda label: progress.update(task, advance=1, description=label))
    click.echo(f"wrote {page} (plots: {', '.join(sorted(p.name for p in out.glob('*.png')))})")
