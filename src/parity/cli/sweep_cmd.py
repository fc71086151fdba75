"""`parity sweep SPEC.toml`: a grid or random sample of what-if scenarios, to CSV or Parquet."""

from __future__ import annotations

import io
import os
import tomllib
from pathlib import Path

import click

from parity.cli import cli, progress_bar
from parity.cli.files import read_text, refuse_overwrite
from parity.cli.values import Count, ray_option
from parity.errors import ParityError
from parity.parallel import RAY_LOCAL
from parity.report.tables import to_builtin, to_csv, write_atomic
from parity.sweep import run_sweep, spec_from_toml, sweep_rows


def _writable(out: Path) -> None:
    """Refuse, before any scenario runs, an --out the sweep cannot write: a suffix other than .csv or
    .parquet, or .parquet without pyarrow."""
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise ParityError(f"--out {out.name}: a sweep writes .csv or .parquet, got {suffix or 'no suffix'}")
    if suffix == ".parquet":
        try:
            import pyarrow  # noqa: F401, PLC0415 - optional extra
        except ImportError as err:
            raise ParityError("Parquet output needs pyarrow: pip install 'parity[parquet]' (or write .csv)") from err


def _write(rows: list[dict], out: Path) -> None:
    if out.suffix.lower() == ".parquet":
        import pyarrow as pa  # noqa: PLC0415 - optional extra, checked by _writable
        import pyarrow.parquet as pq  # noqa: PLC0415

        buffer = io.BytesIO()
        columns = list(dict.fromkeys(k for r in rows for k in r))
        table = pa.table({k: [None if (v := to_builtin(r.get(k))) == "" else v for r in rows] for k in columns})
        pq.write_table(table, buffer)
        write_atomic(out, buffer.getvalue())
    else:
        write_atomic(out, to_csv(rows))


@cli.command()
@click.argument("spec_path", metavar="SPEC.toml", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("sweep.csv"),
              show_default=True, help="results table: .csv, or .parquet (needs pyarrow)")
@click.option("--workers", type=Count(most=4096, what="local processes"), default=os.cpu_count() or 1, show_default=True,
              help="local processes")
@ray_option("the chunks")
@click.option("--chunk", type=Count(most=10**6), default=64, show_default=True, help="cases per task")
def sweep(spec_path: Path, out: Path, workers: int, ray: str | None, chunk: int) -> None:
    """Sweep scenarios over systems, what-if chips, models, workloads and layouts (grid or random)."""
    refuse_overwrite([("SPEC.toml", spec_path)], [("--out", out)])
    try:
        data = tomllib.loads(read_text(spec_path, "TOML"))
    except tomllib.TOMLDecodeError as err:
        raise ParityError(f"{spec_path.name}: malformed TOML: {err}") from err
    spec = spec_from_toml(data)
    _writable(out)
    total = len(sweep_rows(spec))
    with progress_bar() as progress:
        task = progress.add_task(f"{total:,} scenarios", total=total)
        rows = run_sweep(spec, workers=workers, use_ray=ray is not None,
                         ray_address=None if ray in (None, RAY_LOCAL) else ray, chunk=chunk,
                         progress=lambda n: progress.advance(task, n))
    _write(rows, out)
    feasible = sum(bool(r.get("feasible")) for r in rows)
    click.echo(f"wrote {out}: {len(rows):,} scenarios, {feasible:,} feasible")
