"""`parity report`: the HTML report with plots, tables and every source used."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import click

from parity.cli import SUFFIXES, cli, progress_bar, systems_named
from parity.cli.files import check_output_path
from parity.cli.values import ENGINE, Quantity, listed
from parity.export import EXPORT_RULES
from parity.errors import ParityError
from parity.report.page import written_by_parity

_HEAD_BYTES = 4096  # [bytes] read of an existing index.html: its <head>, where a report's mark is


def _folder(_ctx: click.Context, _param: click.Parameter, out: str) -> Path:
    """--out as a path; an empty one is refused (as a path it would be the current folder)."""
    if not out:
        raise ParityError("--out is empty: name the report's folder")
    if out != out.strip():  # 'x.md ' would make a folder named with its space
        raise ParityError(f"--out {out!r}: begins or ends with a space; name the folder without it")
    return Path(out)


# the suffixes that name a file: a web page, what --out writes elsewhere (SUFFIXES; sweep's .parquet and .pq,
# --plot's .png) and the usual data, document and archive files
_FILE_SUFFIXES = {".html", ".htm", ".parquet", ".pq", ".png", ".svg", ".pdf", ".jsonl", ".tsv", ".xlsx", ".markdown",
                  ".zip", ".tar", ".gz", *SUFFIXES}


def _check_target(out: Path) -> None:
    """Refuse, before any work, a folder the report could not be written into, or one that holds files of its own
    (the report would replace an index.html or PNGs parity did not write): an existing folder must be empty or hold
    a report parity wrote."""
    if out.exists() and not out.is_dir():
        raise ParityError(f"--out {out}: exists and is not a folder")
    suffix = out.suffix.lower()
    if not out.exists() and suffix in _FILE_SUFFIXES:  # a page's or a file's name: it would become a folder
        raise ParityError(f"--out {out}: the report is a folder (index.html and its PNG plots), not "
                          f"{'one page' if suffix in ('.html', '.htm') else f'a {suffix} file'}; "
                          f"name a folder, e.g. --out {out.with_suffix('')}")
    page = out / "index.html"
    if page.is_dir():
        raise ParityError(f"--out {out}: {page} is a folder, so the report page cannot be written there")
    if page.exists() and not _parity_page(page):
        raise ParityError(f"--out {out}: {page} is not a report parity wrote; name a new or empty folder")
    if out.is_dir() and not page.exists() and any(out.iterdir()):
        raise ParityError(f"--out {out}: the folder holds files and no report; name a new or empty folder")
    check_output_path("--out", out)  # a folder to go in, as every --out needs
    parent = out.parent if not out.exists() else out
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ParityError(f"--out {out}: {parent} is not writable")


def _parity_page(page: Path) -> bool:
    """Whether `page` is a report page parity wrote (its <head> says so)."""
    with open(page, "rb") as file:
        return written_by_parity(file.read(_HEAD_BYTES).decode("utf-8", errors="replace"))


def _move_into(built: Path, out: Path) -> None:
    """Put the built files in place: the whole folder renamed when `out` is new (with the mode a new folder gets,
    where the staging folder had 0700), else file by file (each an atomic rename), the page last so a reader never
    sees a page without its plots."""
    if not out.exists():
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(built, 0o777 & ~umask)
        os.rename(built, out)
        return
    names = sorted((p.name for p in built.iterdir()), key=lambda name: name == "index.html")
    for name in names:
        os.replace(built / name, out / name)
    built.rmdir()


@cli.command()
@click.option("--out", type=click.Path(file_okay=False), default="parity-report", callback=_folder,
              show_default=True, help="folder for index.html and the PNG plots (written whole or not at all)")
@click.option("--model", default="deepseek-r1", show_default=True,
              help="the mixture-of-experts model of the comparisons (a dense one is refused: the report sets "
                   "Llama-3.1-70B beside it)")
@click.option("--engine", type=ENGINE, default="generic", show_default=True, help="serving-engine profile (parity engines)")
@click.option("--nodes", default=None,
              help="comma-separated systems of the node tables, the first the baseline (default: compare's, the H20, "
                   "RTX Pro 6000D, H800, H100 ... and their rivals)")
@click.option("--fleet-chips", default=None,
              help="comma-separated chip kinds (each in its default system) or systems the fleet plan sizes "
                   "(default: nvidia-h20, huawei-ascend-910c, nvidia-h200-sxm, nvidia-b200-sxm)")
@click.option("--demand", "demand_tps", type=Quantity("tokens_per_s", "2e12 tokens/day", most=1e15), default=None,
              help='the fleet plan\'s token demand, e.g. "2e12 tokens/day" (daily mean; default 2e12 tokens/day)')
@click.option("--rule", default=None, type=click.Choice(EXPORT_RULES, case_sensitive=False),
              help="keep only the fleet's chips a buyer in China gets under this US export-control rule, as "
                   "`parity fleet --rule` does (the section names each chip kept or dropped, and why)")
def report(out: Path, model: str, engine: str, nodes: str | None, fleet_chips: str | None, demand_tps: float | None,
           rule: str | None) -> None:
    """Write a self-contained HTML report: CloudMatrix 384 vs GB200 NVL72, Atlas 950 vs Vera Rubin NVL144,
    the China-market nodes, number formats, Pareto frontiers, rooflines, a simulated run's queues and KV use over
    time, export controls, a fleet plan, and every source. --nodes, --fleet-chips, --demand and --rule set the node
    tables and the fleet plan to your own question."""
    from parity.report.html import STAGES, ReportSpec, build_report, check_spec  # noqa: PLC0415

    _check_target(out)
    chosen: dict[str, object] = {}
    for option, key, given, each in (("--nodes", "nodes", nodes, "each system is compared once"),
                                     ("--fleet-chips", "fleet_chips", fleet_chips, "each system is sized once")):
        if given is not None:
            named = systems_named(listed(given, option), each)
            if not named:
                raise ParityError(f"{option} {given!r}: name at least one chip kind or system (parity chips, parity "
                                  "systems list them)")
            chosen[key] = tuple(system.id for system in named)
            # the export-control table covers the chips of your question too, after the seed story's
            chosen["policy_chips"] = tuple(dict.fromkeys([*chosen.get("policy_chips", ReportSpec().policy_chips),
                                                          *(system.chip.id for system in named)]))
    if demand_tps is not None:
        chosen["fleet_demand_tokens_per_day"] = demand_tps * 86_400.0
    spec = ReportSpec(model=model, engine=engine, fleet_rule=rule, **chosen)  # type: ignore[arg-type]
    check_spec(spec)  # before any work or folder
    out_parent = out.parent if not out.exists() else out
    try:  # a folder the checks pass that takes no new entry (/proc): named as given, not by the staging folder
        built = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out_parent))
    except OSError as err:
        raise ParityError(f"--out {out}: cannot create the folder ({err.strerror})") from err
    try:
        with progress_bar() as progress:
            # the bar names the stage under way and counts those done (it moved on before each stage's work)
            task = progress.add_task("report", total=len(STAGES))
            build_report(built, spec, lambda label, done: progress.update(task, completed=done, description=label))
        plots = sorted(p.name for p in built.glob("*.png"))
        _move_into(built, out)
    finally:
        if built.exists():
            shutil.rmtree(built, ignore_errors=True)
    click.echo(f"wrote {out / 'index.html'} (plots: {', '.join(plots)})", err=True)
