"""The `parity` command line: one group, commands in small modules loaded when first used, user mistakes
as one line and exit 2.

Start-up stays fast because nothing heavy is imported here: a command's module (and with it the engine,
numpy, rich or matplotlib) is imported only when that command runs.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import io
import os
import signal
import sys
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from parity.cli.files import check_output_path
from parity.errors import CatalogError, ParityError

if TYPE_CHECKING:
    from parity.hardware import System

__all__ = ["main", "cli", "emit", "emit_record", "render_output", "deliver", "format_option", "wide_option",
           "out_option", "output_format", "progress_bar", "typed_options", "COMMANDS", "TABLE_FORMATS"]

# command -> (module that defines it, the one-line summary `parity --help` lists without importing it)
COMMANDS: dict[str, tuple[str, str]] = {
    "calibrate": ("calibrate_cmd", "Measure this GPU (or import measurements) into a chip calibration."),
    "chips": ("chips_cmd", "List the chips in the catalog."),
    "compare": ("compare_cmd", "Compare systems on a model, serving or training."),
    "engines": ("engines_cmd", "The serving-engine profiles and how each was obtained."),
    "fleet": ("fleet_cmd", "Size a fleet per chip kind for a demand, a chip count or power."),
    "formats": ("formats_cmd", "What each weight number format changes on each system."),
    "model": ("models_cmd", "Parameters, KV cache and FLOPs per token of one model."),
    "models": ("models_cmd", "List the models in the catalog."),
    "policy": ("policy_cmd", "US export-control metrics, and chips just under a rule."),
    "predict": ("predict_cmd", "Predict every serving case of a CSV table."),
    "report": ("report_cmd", "Write the self-contained HTML report."),
    "search": ("search_cmd", "Search serving layouts: the frontier and the best."),
    "serve": ("serve_cmd", "Predict one serving scenario in detail."),
    "show": ("show_cmd", "Every number of one chip or system with its source."),
    "sweep": ("sweep_cmd", "Sweep what-if scenarios to CSV or Parquet."),
    "systems": ("chips_cmd", "List the systems in the catalog."),
    "train": ("train_cmd", "Training: one layout's step time, MFU and memory, or --search."),
    "validate": ("validate_cmd", "Predicted against measured on parity's validation data."),
}

# table formats: a table for people (also .txt), Markdown, JSON and CSV (SI units) for machines
TABLE_FORMATS = ("table", "json", "csv", "md")
SUFFIXES = {".csv": "csv", ".json": "json", ".md": "md", ".txt": "table"}


class _Command(click.Command):
    """A command that refuses an option given twice (`--out a.json --out b.csv`): click keeps the last one silently,
    so the first file was never written and no one was told. An option that takes many (`--model`) may repeat."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        options = {name: p for p in self.get_params(ctx) if isinstance(p, click.Option) and not p.multiple
                   for name in (*p.opts, *p.secondary_opts)}
        given: dict[click.Option, list[str]] = {}  # each option's words as typed, with their values
        at = 0
        while at < len(args) and args[at] != "--":  # after '--' the rest are arguments
            word, at = args[at], at + 1
            if (option := options.get(word.partition("=")[0])) is None:
                continue
            # a value follows unless the option is a flag, the word holds it (--out=x) or, for an option whose
            # value may be left out (--ray [ADDRESS]), the next word is another option, as click's parser reads it
            takes = not option.is_flag and "=" not in word and at < len(args) and not (
                getattr(option, "_flag_needs_value", False) and args[at].startswith("-"))
            given.setdefault(option, []).append(word + (f" {args[at]}" if takes else ""))
            at += takes
        for option, said in given.items():
            if len(said) > 1:
                raise click.UsageError(f"{option.opts[0]} given {len(said)} times ({', '.join(said)}): give it once",
                                       ctx)
        return super().parse_args(ctx, args)


class _Group(click.Group):
    """A click group that loads each command's module on first use and turns ParityError, file-system
    errors and bad options or arguments into one line on stderr and exit code 2 (the line names the
    command's --help). Its commands refuse an option given twice (_Command)."""

    command_class = _Command

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            importlib.import_module(f"parity.cli.{COMMANDS[cmd_name][0]}")
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1] if name in COMMANDS else self.commands[name].get_short_help_str())
                for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        if not args:  # plain `parity`: the help, as --help prints it (not a usage error)
            context = click.Context(self, info_name=info_name, parent=parent, **self.context_settings)
            click.echo(self.get_help(context))
            raise click.exceptions.Exit(0)
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as err:
            _usage_line(err)
            raise click.exceptions.Exit(2) from err

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None,
                                                                             list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            close = difflib.get_close_matches(name, self.list_commands(ctx), n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(close)}?" if close else "."
            ctx.fail(f"No such command {name!r}{hint}")
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ParityError as err:
            click.echo(f"parity: error: {err}", err=True)
            ctx.exit(2)
        except click.UsageError as err:  # a subcommand's option the parser refused names no context: name it here
            _usage_line(err, f"parity {ctx.invoked_subcommand}" if ctx.invoked_subcommand else "parity")
            ctx.exit(2)
        except KeyboardInterrupt:  # Ctrl-C: one line, as SIGTERM's exit is one code (click printed 'Aborted!', exit 1)
            click.echo(("\n" if sys.stderr.isatty() else "") + "parity: interrupted", err=True)  # past the echoed ^C
            ctx.exit(130)  # 128 + SIGINT
        except BrokenPipeError:  # the reader left (`parity chips | head -3`): stop quietly, as `yes | head` does
            _stdout_to_devnull()
            ctx.exit(141)  # 128 + SIGPIPE, what a shell reports for a command a closed pipe stopped
        except OSError as err:  # a file that cannot be read or written: its name and the system's reason
            where = f"{err.filename}: " if err.filename else ""
            click.echo(f"parity: error: {where}{err.strerror or err}", err=True)
            ctx.exit(2)


def _stdout_to_devnull() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush at exit does not fail on the closed pipe
    again (the Python documentation's recipe for SIGPIPE)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):  # not a real file (a test's captured stream)
        pass


def _usage_line(err: click.UsageError, command: str = "parity") -> None:
    """A bad option or argument as one line on stderr, naming the --help of the command it was given to
    (`command` when the error names none)."""
    where = err.ctx.command_path if err.ctx is not None else command
    message = " ".join(err.format_message().split())
    click.echo(f"parity: error: {message} (see '{where} --help')", err=True)


def _version() -> str:
    import parity  # noqa: PLC0415 - parity's __init__ loads its API lazily, so this is cheap

    return parity.__version__


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(version=_version(), prog_name="parity")
def cli() -> None:
    """parity: what AI chips and systems deliver on LLM serving and training, side by side."""


def _remember_wide(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    ctx.meta["parity.wide"] = value
    return value


def wide_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """--wide: every column of the table, however wide the terminal (read by `render_output`; a table that
    leaves columns out says to use it)."""
    return click.option("--wide", is_flag=True, expose_value=False, callback=_remember_wide,
                        help="every column of the table, however wide the terminal")(func)


def format_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """--format, and --wide (every column of the table, however wide; read by `emit`)."""
    func = wide_option(func)
    return click.option("--format", "fmt", type=click.Choice(TABLE_FORMATS), default="table", show_default=True,
                        help="table for people, md for Markdown; json or csv (SI units) for machines "
                             "(default with --out: the file's suffix)")(func)


def out_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """--out FILE, refused as it is read (before any work) when its suffix names no format or it has no folder."""
    return click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, callback=_check_out,
                        help="write the output to this file, whole or not at all; the suffix picks the format "
                             "(.csv, .json, .md, .txt)")(func)


def _check_out(_ctx: click.Context, _param: click.Parameter, out: Path | None) -> Path | None:
    output_format(None, out)  # the suffix (a --format it contradicts is refused by output_format in the command)
    check_output_path("--out", out)
    return out


def output_format(fmt: str | None, out: Path | None, default: str = "table") -> str:
    """The format to write: --format, or with --out the file's suffix (.txt: the table); a suffix that
    names no format, or one that contradicts a --format typed on the command line (`--format table --out s.json`
    as much as `--format csv --out s.json`), is refused."""
    if out is None:
        return fmt or default
    suffix = out.suffix.lower()
    if suffix not in SUFFIXES:
        raise ParityError(f"--out {out.name}: unknown suffix {suffix or '(none)'}; use .csv, .json, .md or .txt")
    chosen = SUFFIXES[suffix]
    if _typed_format(fmt) and fmt != chosen:
        raise ParityError(f"--format {fmt} contradicts --out {out.name} (a {chosen} file); drop one of them")
    return chosen


def _typed_format(fmt: str | None) -> bool:
    """Whether `fmt` is the --format the user typed (not its default, nor a format the command chose). Outside a
    command (a library caller) any format other than the default table counts as given."""
    context = click.get_current_context(silent=True)
    if context is None or "fmt" not in context.params:
        return fmt not in (None, "table")
    return (context.get_parameter_source("fmt") is click.core.ParameterSource.COMMANDLINE
            and context.params["fmt"] == fmt)


def render_output(rows: Sequence[Mapping[str, Any]], columns: Sequence[Any], fmt: str, *, title: str = "",
                  caption: str = "", payload: Any = None, to_file: bool = False, wide: bool = False,
                  listed: Sequence[str] = ()) -> str:
    """The text of rows in a resolved format: a table for people (every column when `wide` or written to a
    file), Markdown, JSON (`payload` if given) or CSV; `listed`: items a table or Markdown lists under the rows."""
    from parity.report import tables  # noqa: PLC0415 - numpy and rich load only when a command prints

    context = click.get_current_context(silent=True)
    wide = wide or bool(context and context.meta.get("parity.wide"))
    if fmt == "table":
        return tables.render_text(rows, columns, title=title, caption=caption, wide=wide, to_file=to_file,
                                  listed=listed)
    if fmt == "md":
        return tables.to_markdown(rows, columns, title=title, caption=caption, listed=listed)
    if fmt == "json":
        return tables.to_json(payload if payload is not None else list(rows))
    return tables.to_csv(rows)


def deliver(text: str, out: Path | None) -> None:
    """Print the text, or write it whole to `out` (a temporary file beside it, renamed into place)."""
    if out is None:
        click.echo(text, nl=not text.endswith("\n"))
        return
    from parity.report.tables import write_atomic  # noqa: PLC0415

    write_atomic(out, text if text.endswith("\n") else text + "\n")
    click.echo(f"wrote {out}", err=True)


def emit(rows: Sequence[Mapping[str, Any]], columns: Sequence[Any], fmt: str, *, title: str = "",
         caption: str = "", payload: Any = None, out: Path | None = None, wide: bool = False,
         listed: Sequence[str] = ()) -> None:
    """Show rows as a table (or Markdown), or print/write them as JSON (`payload` if given) or CSV.
    With `out` the whole output goes to that file, in the format its suffix names."""
    fmt = output_format(fmt, out)
    deliver(render_output(rows, columns, fmt, title=title, caption=caption, payload=payload, to_file=out is not None,
                          wide=wide, listed=listed), out)


def typed_options(options: Mapping[str, str]) -> list[str]:
    """Of `options` (option -> its parameter's name), those the user typed on the command line, in that order:
    a default or an environment value does not count."""
    context = click.get_current_context()
    return [option for option, name in options.items()
            if context.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE]


def refuse_repeats(ids: Sequence[str], each: str) -> None:
    """Refuse a catalog entry named twice on one command line (two names of one chip count as one entry): `each`
    says what the command does once per entry ('each system is compared once')."""
    if twice := sorted(i for i, n in Counter(ids).items() if n > 1):
        raise ParityError(f"{', '.join(twice)} named twice: {each}")


def systems_named(names: Sequence[str], each: str) -> list[System]:
    """The catalog systems `names` name (a chip name its default system), one system named twice refused: `each`
    says what the command does once per system. Where a chip stands for a system also named, the message says
    so ('huawei-ascend-910c (in its default system atlas-800-a3) and atlas-800-a3 name the same system')."""
    from parity import catalog  # noqa: PLC0415 - the catalog loads only when a command runs

    def entry(name: str, system: System) -> str:
        try:
            catalog.resolve(name, catalog.systems(), "system")
        except CatalogError:
            return f"{system.chip.id} (in its default system {system.id})"
        return system.id

    found = [catalog.system(name) for name in names]
    typed: dict[str, list[str]] = {}
    for name, system in zip(names, found, strict=True):
        typed.setdefault(system.id, []).append(entry(name, system))
    if twice := [list(dict.fromkeys(t)) for t in typed.values() if len(t) > 1]:
        raise ParityError("; ".join(f"{' and '.join(t)} name the same system" if len(t) > 1 else f"{t[0]} named twice"
                                    for t in twice) + f": {each}")
    return found


def progress_bar(stages: bool = False, shown: bool = True) -> Any:
    """A transient rich progress bar on stderr, drawn only on a terminal: stdout carries only the output, and
    a pipe or a log gets nothing (not even the blank line a finished bar leaves). `stages`: a run of minutes (a
    refit) tells a pipe or a log each stage as it starts, one line a task ('fitting vllm on 260 rows'), rather
    than minutes of silence. `shown` False: nothing drawn anywhere (a run too short to need a bar)."""
    from rich.console import Console  # noqa: PLC0415 - rich loads only when a command runs
    from rich.progress import Progress  # noqa: PLC0415

    class _Staged(Progress):
        def add_task(self, description: str, *args: Any, **kwargs: Any) -> Any:
            click.echo(description, err=True)
            return super().add_task(description, *args, **kwargs)

    console = Console(stderr=True)
    if stages and not console.is_terminal:
        return _Staged(transient=True, console=console, disable=True)
    return Progress(transient=True, console=console, disable=not (shown and console.is_terminal))


def emit_record(rows: Sequence[Mapping[str, Any]], fmt: str, *, payload: Mapping[str, Any], title: str = "",
                caption: str = "", out: Path | None = None, wrap: bool = True, listed: Sequence[str] = (),
                tables: Sequence[tuple[Sequence[Mapping[str, Any]], Sequence[Any], str]] = ()) -> None:
    """One record (a serving scenario, a training layout, a model): for people a quantity/value table of
    `rows` (figures written for reading); JSON the payload; CSV the payload as one row in SI units (nested
    mappings spread over parent_child columns, lists as JSON cells), never the people's text such as '45.4 s'.
    `tables`: (rows, columns, title) of tables a table or Markdown shows under the record, in one text (printed or
    written to `out`); JSON and CSV carry them only as the payload holds them."""
    from parity.report.tables import Column, plain  # noqa: PLC0415

    # a quantity too long to leave the value's longest word (a training layout) a line folds before its parenthesis
    columns = [Column("quantity", "quantity", plain, "left", fold=" ("), Column("value", "value", plain, wrap=wrap)]
    fmt = output_format(fmt, out)
    if not tables or fmt in ("json", "csv"):
        emit([payload] if fmt == "csv" else rows, columns, fmt, title=title, caption=caption, payload=payload,
             out=out, listed=listed)
        return
    shown = [(rows, columns, title, caption, listed), *((r, c, t, "", ()) for r, c, t in tables)]
    texts = [render_output(r, c, fmt, title=t, caption=cap, to_file=out is not None, listed=each)
             for r, c, t, cap, each in shown]
    deliver("\n".join(text.rstrip("\n") + "\n" for text in texts), out)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script. SIGTERM (`timeout`, `kill`) stops a command as Ctrl-C does, through its
    cleanup: a report's staging folder or a half-written temporary file is removed, then exit 143 (128 + 15)."""
    previous = signal.signal(signal.SIGTERM, functools.partial(_terminate, os.getpid()))
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="parity", standalone_mode=True)
    except SystemExit as done:
        return int(done.code or 0)
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


def _terminate(pid: int, signum: int, _frame: Any) -> None:
    """SIGTERM in the command's process: leave through every `finally` (SystemExit). In a worker process forked from
    it (which inherits the handler): die of the signal at once, as a worker always has."""
    if os.getpid() != pid:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    sys.exit(main())
