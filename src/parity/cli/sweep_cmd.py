"""`parity sweep SPEC.toml`: a grid or random sample of what-if scenarios, to CSV or Parquet."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from parity import catalog
from parity.cli import cli, progress_bar
from parity.cli.files import read_toml, refuse_overwrite
from parity.cli.launch_options import LAUNCH_SIMULATOR_COLUMNS
from parity.cli.serve_line import SERVE_LINE_COLUMNS, serve_command
from parity.cli.values import Count, ray_option
from parity.dtypes import format_named
from parity.errors import ParityError
from parity.predict import case_from_row, open_loop, scenario_of
from parity.predict.columns import READ_COLUMNS, flag
from parity.parallel import RAY_LOCAL
from parity.report.tables import to_builtin, to_csv, write_atomic
from parity.sweep import CHIP_COLUMNS, SweepSpec, column_kind, run_sweep, spec_from_toml, sweep_rows
from parity.units import duration_text, whole


# a sweep this large says its size and a rough duration on stderr before it runs (a pipe or a log gets no bar): at
# ~500 cases/s on one process, 20,000 cases take about 40 s there
LARGE_SWEEP_CASES = 20_000
# [cases/s] one process prices under the steady model: benchmarks/bench_predict.py's 2,000 measured cases (DeepSeek-R1
# disaggregated among them) at 490-530/s on one core, a 4,320-case sweep of dense and MoE models at ~580/s; a rough
# figure for an estimate only (a spec of larger models or disaggregated layouts runs slower)
CASES_PER_S_PER_PROCESS = 500.0


PROCESSES = Count(most=4096, what="local processes")  # --processes and its former name --workers


def _heads_up(total: int, processes: int, on_ray: bool) -> str:
    """The line a large sweep (over LARGE_SWEEP_CASES) prints before it runs: its size and, on `processes` local
    processes (no more than its chunks), a rough duration ('' for a smaller one)."""
    if total <= LARGE_SWEEP_CASES:
        return ""
    if on_ray:
        return f"{total:,} scenarios on Ray"
    processes = max(1, processes)
    seconds = total / (CASES_PER_S_PER_PROCESS * processes)
    return (f"{total:,} scenarios: roughly {duration_text(seconds)} on {processes:,} process{'es' * (processes > 1)} "
            f"(~{CASES_PER_S_PER_PROCESS:,.0f} cases/s each; larger models and disaggregated layouts run slower)")


def _writable(out: Path) -> None:
    """Refuse, before any scenario runs, an --out the sweep cannot write: a suffix other than .csv or
    .parquet, or .parquet without pyarrow."""
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise ParityError(f"--out {out}: a sweep writes .csv or .parquet, got {suffix or 'no suffix'}")
    if suffix == ".parquet":
        try:
            import pyarrow  # noqa: F401, PLC0415 - optional extra
        except ImportError as err:
            raise ParityError("Parquet output needs pyarrow: pip install 'parity[parquet]' (or write .csv)") from err


SERVE_COLUMNS = ("serve_command", "serve_note")  # what _with_serve_command adds to each row
# the columns a sweep writes beside predict's own, which `parity predict` keeps unread in a sweep's table read back
SWEEP_COLUMNS = CHIP_COLUMNS + SERVE_COLUMNS


# the columns whose `parity serve` options (--num-prompts, --client, --request-rate, --max-concurrency, and launch
# settings such as --max-prefill-tokens) are the simulator's alone: the steady model a sweep runs prices a row as a
# line without them does, or refuses its open loop
SIMULATOR_COLUMNS = ("num_prompts", "client", "request_rate", "max_concurrency", *LAUNCH_SIMULATOR_COLUMNS)


def _with_serve_command(rows: list[dict[str, Any]], variants: set[str]) -> list[dict[str, Any]]:
    """Each row with the `parity serve` line that prices it as the sweep did (its layout, formats and fixed lengths:
    serve's own default draws the client's spread, 11% off in TTFT on an H20 at 8 clients); '' on a what-if
    system (serve runs catalog systems; a variant's row is priced here only), on a row setting a column serve has
    no option for (max_num_seqs = 8 put TTFT at 7.6 s where the line without it gives 0.37 s), on an open-loop row
    (request_rate: the steady model refuses it), each of which `serve_note` names, and on a row that cannot be read or
    whose case is invalid input (tp = 3 on a model of 64 heads: the line failed with the row's own note). A row that
    is valid but does not fit in memory keeps its line: serve prices that case and says by how much it misses, as the
    row's note does. A row setting a column of SIMULATOR_COLUMNS keeps its steady line, its note naming the options
    (a note said serve had no option for request_rate, which it has: fuzzEL 1)."""
    moe: dict[str, bool] = {}
    out = []
    for row in rows:
        given = sorted(k for k, v in row.items() if k in READ_COLUMNS and k not in SERVE_LINE_COLUMNS
                       and v not in (None, ""))
        unsaid = [k for k in given if k not in SIMULATOR_COLUMNS]
        simulated = [k for k in given if k in SIMULATOR_COLUMNS]
        arrivals = open_loop(row)
        command = ""
        if row.get("system") not in variants and not unsaid and not arrivals:
            try:
                case = case_from_row(row)
                if case.model not in moe:
                    moe[case.model] = "moe" in catalog.model(case.model).features
                if not row.get("feasible"):
                    scenario_of(case)  # raises where the case itself is invalid input, not merely too big
                command = serve_command(case, moe=moe[case.model])
            except ParityError:
                pass
        note = ("a what-if system: `parity serve` runs catalog systems" if row.get("system") in variants else
                f"`parity serve` has no option for {', '.join(unsaid)}" if unsaid else
                _simulator_note(simulated, command, arrivals) if simulated else "")
        out.append({**row, **dict(zip(SERVE_COLUMNS, (command, note)))})
    return out


def _simulator_note(columns: list[str], command: str, arrivals: bool) -> str:
    """The serve note of a row setting `columns` of SIMULATOR_COLUMNS: serve's options for them, which are the
    simulator's, and what the row's steady `command` is: one that prices the row as the sweep did, none for a
    request_rate the steady model refuses (`arrivals`: an open loop, or inf with no max_concurrency), or none for a row its note refuses."""
    options = ", ".join("--" + c.replace("_", "-") for c in columns)
    said = (f"{', '.join(columns)}: `parity serve` reads {'it' if len(columns) == 1 else 'them'} ({options}) with "
            "--model-kind sim only")
    return said + ("; the steady model refuses the row's request_rate (its note)" if arrivals else
                   "; this steady line prices the row as the sweep did" if command else "")


def _typed(value: Any, kind: str, column: str) -> Any:
    """A cell as a value of its column's kind (sweep.column_kind): a count as an integer where whole, a number as a
    float, a flag as a bool (an axis's 'true' read as predict reads it), text as a string, a list of texts; None where
    the cell is empty or NaN."""
    value = to_builtin(value)
    if value is None or value == "":
        return None
    try:
        if kind == "count":
            return whole(float(value))
        if kind == "number":
            return to_builtin(float(value))
        if kind == "flag":
            return value if isinstance(value, bool) else flag({column: value}, column)
    except (TypeError, ValueError, ParityError) as err:  # the axes are checked before the run: a defect if reached
        raise ParityError(f"sweep column {column}: {value!r} is not a {kind}") from err
    return [str(v) for v in value] if kind == "texts" else str(value)


def _parquet_table(rows: list[dict]) -> Any:
    """The rows as an Arrow table whose column types follow each column's kind, never the run's values (a column of
    empty cells was of type null and one of infeasible rows' NaN too, so two sweeps' files did not read as one
    dataset): int64 counts (float64 where a count is not whole: a rate-matched 13.5 chips), float64 numbers, bool
    flags, string text, list<string> lists."""
    import pyarrow as pa  # noqa: PLC0415 - optional extra, checked by _writable

    types = {"count": pa.int64(), "number": pa.float64(), "flag": pa.bool_(), "text": pa.string(),
             "texts": pa.list_(pa.string())}
    columns: dict[str, Any] = {}
    for column in dict.fromkeys(k for r in rows for k in r):
        kind = column_kind(column)
        cells = [_typed(r.get(column), kind, column) for r in rows]
        whole_counts = kind != "count" or all(c is None or isinstance(c, int) for c in cells)
        columns[column] = pa.array(cells, types[kind] if whole_counts else pa.float64())
    return pa.table(columns)


def _write(rows: list[dict], out: Path) -> None:
    if out.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq  # noqa: PLC0415 - optional extra, checked by _writable

        buffer = io.BytesIO()
        pq.write_table(_parquet_table(rows), buffer)
        write_atomic(out, buffer.getvalue())
    else:
        write_atomic(out, to_csv(rows))


# what a sweep axis takes where `parity serve` has an option of its name (or of its name less prefill_ / decode_):
# that option's click type, so an axis is bounded as the option is (--isl 128.7, --concurrency 0 are refused)
def _serve_types() -> dict[str, click.ParamType]:
    from parity.cli.serve_cmd import serve  # noqa: PLC0415 - the engine loads only when a sweep runs

    return {p.name: p.type for p in serve.params if isinstance(p, click.Option) and p.name}


def _axis_reader(axis: str, serve_types: dict[str, click.ParamType], variants: set[str]) -> Callable[[Any], object]:
    """How one value of `axis` is read: a catalog name (model, system, engine), a number format, the click type
    of serve's option of that name, or else predict's own reader of the column (case_from_row)."""
    if axis == "model":
        return lambda v: catalog.model(_text(v))
    if axis in ("system", "prefill_system"):
        return lambda v: _text(v) in variants or catalog.system(v)
    if axis == "engine":
        return lambda v: catalog.engine(_text(v))
    if axis in ("weights", "moe_weights", "kv", "attention_format", "attention_weights"):
        return lambda v: _text(v) == "" or format_named(_text(v))
    option = axis.removeprefix("prefill_").removeprefix("decode_")
    if (found := serve_types.get(axis) or serve_types.get(option)) is not None:
        return lambda v: found.convert(v, None, None)
    # the rest are engine settings and flags predict reads alone: read the value as a case of its own would be
    other = {"model": "m", "system": "s", "isl": "1", "osl": "1", "concurrency": "1"}
    return lambda v: case_from_row({**other, "mode": "disagg" if axis.startswith(("prefill_", "decode_")) else "",
                                    axis: "" if v is None else str(v).lower() if isinstance(v, bool) else v})


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ParityError(f"expected a name, got {value!r}")
    return value


def _check_axis_values(spec: SweepSpec) -> None:
    """Refuse, before any case runs, an axis value its option or column would refuse (an axis isl = ['abc'] ran
    every case as an infeasible row and exited 0), in one line naming the axis and the value."""
    serve_types, variants = _serve_types(), {v.name for v in spec.variants}
    for axis, values in spec.axes.items():
        if axis == "variant":  # spec_from_toml checked each against the [[variant]] tables
            continue
        read = _axis_reader(axis, serve_types, variants)
        for value in values:
            try:
                read(value)
            except click.ClickException as err:  # an option's words, less its hint about leaving the option out
                said = err.message.replace(" (leave the option out for the default)", "")
                raise ParityError(f"sweep axis {axis} = {value!r}: {said}") from err
            except ParityError as err:
                raise ParityError(f"sweep axis {axis} = {value!r}: {err}") from err


def read_spec(path: Path) -> SweepSpec:
    """The sweep spec in the file at `path`, its axis values checked; a refusal names the file ('spec.toml: variant
    v1: chip: unknown chip ...'), as a malformed TOML's does."""
    data = read_toml(path)
    try:
        spec = spec_from_toml(data)
        _check_axis_values(spec)
    except ParityError as err:
        raise ParityError(f"{path.name}: {err}") from err
    return spec


@cli.command()
@click.argument("spec_path", metavar="SPEC.toml", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("sweep.csv"),
              show_default=True, help="results table: .csv, or .parquet (needs pyarrow)")
@click.option("--processes", type=PROCESSES, default=os.cpu_count() or 1, show_default=True,
              help="local processes, as predict's and compare's --processes (--workers, its former name, is taken "
                   "too)")
@click.option("--workers", type=PROCESSES, default=None, hidden=True)  # --processes' former name, for old scripts
@ray_option("the chunks")
@click.option("--chunk", type=Count(most=10**6), default=64, show_default=True, help="cases per task")
@click.pass_context
def sweep(ctx: click.Context, spec_path: Path, out: Path, processes: int, workers: int | None, ray: str | None,
          chunk: int) -> None:
    """Sweep scenarios over systems, what-if chips, models, workloads and layouts (grid or random)."""
    if workers is not None:
        if ctx.get_parameter_source("processes") is not click.core.ParameterSource.DEFAULT:
            raise ParityError("--workers is --processes' former name: give --processes alone")
        processes = workers
    refuse_overwrite([("SPEC.toml", spec_path)], [("--out", out)])
    spec = read_spec(spec_path)
    _writable(out)
    total = len(sweep_rows(spec))
    if said := _heads_up(total, min(processes, -(-total // chunk)), ray is not None):
        click.echo(said, err=True)
    with progress_bar() as progress:
        task = progress.add_task(f"{total:,} scenarios", total=total)
        rows = run_sweep(spec, workers=processes, use_ray=ray is not None,
                         ray_address=None if ray in (None, RAY_LOCAL) else ray, chunk=chunk,
                         progress=lambda n: progress.advance(task, n))
    rows = _with_serve_command(rows, {v.name for v in spec.variants})
    _write(rows, out)
    feasible = sum(bool(r.get("feasible")) for r in rows)
    # units.counted writes a whole count without separators (1024 sequences); a sweep's count keeps them
    click.echo(f"wrote {out}: {len(rows):,} scenario{'s' * (len(rows) != 1)}, {feasible:,} feasible", err=True)
