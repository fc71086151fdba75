"""The `parity` command line: one group, commands in small modules, user mistakes as one line and exit 2."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from parity.errors import ParityError
from parity.report.tables import FORMATS, Column, render, to_csv, to_json, write_atomic

__all__ = ["main", "cli", "emit", "format_option", "out_option"]


class _Group(click.Group):
    """A click group that turns ParityError and bad options or arguments into one line on stderr and exit
    code 2 (the line names the command's --help)."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as err:
            _usage_line(err)
            raise click.exceptions.Exit(2) from err

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ParityError as err:
            click.echo(f"parity: error: {err}", err=True)
            ctx.exit(2)
        except click.UsageError as err:
            _usage_line(err)
            ctx.exit(2)


def _usage_line(err: click.UsageError) -> None:
    """A bad option or argument as one line on stderr, naming the --help of the command it was given to."""
    where = err.ctx.command_path if err.ctx is not None else "parity"
    click.echo(f"parity: error: {err.format_message()} (see '{where} --help')", err=True)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="parity")
def cli() -> None:
    """parity: what AI chips and systems deliver on LLM serving and training, side by side."""


def format_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
                        help="table for people; json or csv (SI units) for machines")(func)


def out_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
                        help="write the json/csv output to this file (whole or not at all)")(func)


def emit(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column], fmt: str, *, title: str = "",
         caption: str = "", payload: Any = None, out: Path | None = None) -> None:
    """Show rows as a table, or print/write them as JSON (`payload` if given) or CSV."""
    if fmt == "table":
        render(rows, columns, title=title, caption=caption)
        return
    text = to_json(payload if payload is not None else list(rows)) if fmt == "json" else to_csv(rows)
    if out is not None:
        write_atomic(out, text)
        click.echo(f"wrote {out}", err=True)
    else:
        click.echo(text, nl=not text.endswith("\n"))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="parity", standalone_mode=True)
    except SystemExit as done:
        return int(done.code or 0)
    return 0


# command modules register themselves on `cli`
from parity.cli import (calibrate_cmd, catalog_cmds, compare_cmd, policy_cmd, search_cmd,  # noqa: E402,F401
                        fleet_cmd, formats_cmd, report_cmd, serving_cmds, sweep_cmd, training_cmds,
                        validate_cmd)

if __name__ == "__main__":
    sys.exit(main())
