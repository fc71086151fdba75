"""`parity report`: the HTML report with plots, tables and every source used."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import click

from parity.cli import cli, progress_bar
from parity.errors import ParityError


def _check_target(out: Path) -> None:
    """Refuse, before any work, a folder the report could not be written into."""
    if out.exists() and not out.is_dir():
        raise ParityError(f"--out {out}: exists and is not a folder")
    page = out / "index.html"
    if page.is_dir():
        raise ParityError(f"--out {out}: {page} is a folder, so the report page cannot be written there")
    parent = out.parent if not out.exists() else out
    if not parent.is_dir():
        raise ParityError(f"--out {out}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ParityError(f"--out {out}: {parent} is not writable")


def _move_into(built: Path, out: Path) -> None:
    """Put the built files in place: the whole folder renamed when `out` is new, else file by file (each
    an atomic rename), the page last so a reader never sees a page without its plots."""
    if not out.exists():
        os.rename(built, out)
        return
    names = sorted((p.name for p in built.iterdir()), key=lambda name: name == "index.html")
    for name in names:
        os.replace(built / name, out / name)
    built.rmdir()


@cli.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("parity-report"),
              show_default=True, help="folder for index.html and the PNG plots (written whole or not at all)")
@click.option("--model", default="deepseek-r1", show_default=True,
              help="the mixture-of-experts model of the comparisons (a dense one is refused: the report sets "
                   "Llama-3.1-70B beside it)")
@click.option("--engine", default="generic", show_default=True, help="serving-engine profile (parity engines)")
def report(out: Path, model: str, engine: str) -> None:
    """Write a self-contained HTML report: CloudMatrix 384 vs GB200 NVL72, Atlas 950 vs Vera Rubin NVL144,
    the China-market nodes, number formats, Pareto frontiers, rooflines, a simulated run's queues and KV use over time, export controls, a fleet plan, and every source."""
    from parity.report.html import ReportSpec, build_report, check_spec  # noqa: PLC0415

    _check_target(out)
    spec = ReportSpec(model=model, engine=engine)
    check_spec(spec)  # before any work or folder
    out_parent = out.parent if not out.exists() else out
    built = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out_parent))
    try:
        with progress_bar() as progress:
            task = progress.add_task("report", total=10)
            build_report(built, spec, lambda label: progress.update(task, advance=1, description=label))
        plots = sorted(p.name for p in built.glob("*.png"))
        _move_into(built, out)
    finally:
        if built.exists():
            shutil.rmtree(built, ignore_errors=True)
    click.echo(f"wrote {out / 'index.html'} (plots: {', '.join(plots)})", err=True)
