"""`parity predict`: every serving case of a CSV table priced, rows with feasible=false where one is not."""

from __future__ import annotations

import math
from pathlib import Path

import click

from parity.cli import TABLE_FORMATS, cli, emit, out_option, output_format, progress_bar, wide_option
from parity.cli.csv_input import read_table
from parity.cli.files import refuse_overwrite
from parity.cli.serve_record import interval_texts
from parity.cli.variants import variant_systems, variants_option
from parity.cli.values import ray_option
from parity.errors import ParityError
from parity.predict import (EXTRA_COLUMNS, MODEL_KINDS, OUTPUT_COLUMNS, SIM_COLUMNS, check_case_columns, predict_rows,
                            closed_loop_only)
from parity.predict.columns import FOREIGN_COLUMNS, READ_COLUMNS, close_column
from parity.predict.measured import SCORED, measured_values, score_line, scored
from parity.report.markup import sentence
from parity.report.tables import Column, percent, plain, scaled


def _read_cases(path: Path) -> list[dict[str, str]]:
    """The rows of a cases table: UTF-8 CSV text with a header naming the columns every case needs (model, system,
    isl, osl, concurrency; a table with a phase column may give its rows' batch and context instead of the last
    three, and max_concurrency stands for concurrency) and no column predict does not know (check_case_columns),
    at least one case, and no case id twice (case ids name the output's rows). A row without a case_id gets
    'row-N', N its place among the rows from 1 (as a sweep's rows get 'sweep-N'), so that a refused row is found by
    its id, not by counting; a row naming another's 'row-N' is refused."""
    header, rows = read_table(path, (), refusal=f"{path.name}: not a cases table (its first line, the header, is "
                                                "blank; needs a header with at least model, system, isl, osl, "
                                                "concurrency)")
    needed = ["model", "system"] + ([] if "phase" in header else ["isl", "osl"] + (
        [] if "max_concurrency" in header else ["concurrency"]))
    if missing := [c for c in needed if c not in header]:
        # a misspelled needed column ('concurency') is named with the one it was probably meant as
        misspelled = [(c, close) for c in header if c not in READ_COLUMNS
                      and (close := close_column(c, READ_COLUMNS, FOREIGN_COLUMNS)) in missing]
        if misspelled:
            column, close = misspelled[0]
            raise ParityError(f"{path.name}: unknown column {column!r} (did you mean {close!r}?); a cases table needs "
                              f"a header with at least {', '.join(needed)}, and this one lacks {', '.join(missing)}")
        raise ParityError(f"{path.name}: not a cases table (needs a header with at least {', '.join(needed)}; it lacks "
                          f"{', '.join(missing)})")
    if not rows:
        raise ParityError(f"{path.name}: a header and no cases (one case a row below it)")
    from parity.cli.sweep_cmd import SWEEP_COLUMNS  # noqa: PLC0415 - a sweep's table is a cases table too

    check_case_columns(path.name, header, rows, kept=SWEEP_COLUMNS)
    seen: dict[str, int] = {}
    for number, row in enumerate(rows, start=1):
        if case_id := (row.get("case_id") or "").strip():
            if case_id in seen:
                raise ParityError(f"{path.name}: case_id {case_id!r} names rows {seen[case_id]} and {number}; case ids "
                                  "name the output's rows: give each its own (or leave it empty)")
            seen[case_id] = number
    for number, row in enumerate(rows, start=1):
        if not (row.get("case_id") or "").strip():
            if (taken := seen.get(given := f"row-{number}")) is not None:
                raise ParityError(f"{path.name}: row {taken}'s case_id {given!r} is the id given to row {number}, "
                                  "which has none: give one of them another")
            row["case_id"] = given
    return rows


PREDICTION_COLUMNS = [Column("case_id", "case", plain, "left"),
                      Column("ttft_text", "TTFT ms (80%)", plain, wrap=True),
                      Column("tpot_text", "TPOT ms (80%)", plain, wrap=True),
                      Column("rate_text", "tok/s/chip (80%)", plain, wrap=True),
                      Column("output_tokens_per_s_per_user", "tok/s/user", scaled(1), wide=2),
                      Column("chips", "chips", scaled(1), wide=2),
                      Column("memory_bytes_per_chip", "mem GB/chip", scaled(1e9), wide=2),
                      Column("feasible", "feasible", plain, wide=1), Column("flags", "flags", plain, "left"),
                      Column("note", "note", plain, "left", wide=3)]


@cli.command()
@click.argument("cases", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(TABLE_FORMATS), default=None,
              help="csv (default), json, table or md (default with --out: the file's suffix)")
@wide_option
@click.option("--model-kind", type=click.Choice(MODEL_KINDS), default="sim", show_default=True,
              help="sim: the step-level simulator of engine and benchmark client (percentiles, ITL, E2E); "
                   "steady: the closed-form steady-state model (about 10x faster)")
@click.option("--processes", type=click.IntRange(min=1), default=2, show_default=True,
              help="worker processes for --model-kind sim")
@ray_option("the simulator's runs (--model-kind sim)")
@variants_option("a row's system may name it (a sweep's table of them reads back with the sweep's spec)")
@out_option
def predict(cases: Path, fmt: str | None, model_kind: str, processes: int, ray: str | None,
            variants_path: Path | None, out: Path | None) -> None:
    """Predict every serving case of a CSV table (columns: docs/model.md, "parity predict input"; one it does not
    read is refused); bad rows get feasible=false. A row without a case_id is named row-N, N its place among the
    rows from 1."""
    fmt = output_format(fmt, out, default="csv")
    refuse_overwrite([("CASES", cases), ("--variants", variants_path)], [("--out", out)])
    rows = _read_cases(cases)
    measured = measured_values(cases.name, list(rows[0]), rows)  # refused before minutes of pricing
    what_ifs = {s.id: s for s in variant_systems(variants_path, "parity predict")}
    with progress_bar() as progress:
        task = progress.add_task("predicting", total=len(rows))
        predictions = predict_rows(rows, progress=lambda n: progress.advance(task, n), systems=what_ifs,
                                   model_kind=model_kind, processes=processes, ray=ray)
    if model_kind == "steady":
        predictions = [closed_loop_only(row, p) for row, p in zip(rows, predictions)]
    # phase rows (decode or prefill benchmarks) add their step time and input rate, rows of one rank per die of a
    # multi-die chip their die's memory; the simulator its percentiles
    phased = tuple(c for c in EXTRA_COLUMNS if any(c in p.extra for p in predictions))
    columns = OUTPUT_COLUMNS + phased + (SIM_COLUMNS if model_kind == "sim" else ())
    table = [{k: row.get(k, float("nan")) for k in columns} for row in (p.row() for p in predictions)]
    table = [{**row, **scored(row, m)} for row, m in zip(table, measured)]  # the user's runs scored, where given
    score = score_line(table)
    if fmt not in ("table", "md"):  # flags: a list in JSON, as serve's; JSON text in CSV
        emit(table, PREDICTION_COLUMNS, fmt, out=out)
        if score:
            click.echo(score, err=True)
        return
    # for people: every refusal says why (a case without an id named by its place in the file: _read_cases)
    shown = [interval_texts(r) for r in table]
    refusals = [f"{r['case_id']}: {r['note']}" for r in shown if not r["feasible"]]
    # a full stop unless the last reason ends a sentence already ('did you mean hgx-h100?')
    caption = sentence(f"Not feasible ({len(refusals)}): " + "; ".join(refusals[:_REFUSALS_SHOWN])
                       + (f"; and {len(refusals) - _REFUSALS_SHOWN} more (the note column of --format csv)"
                          if len(refusals) > _REFUSALS_SHOWN else "")) if refusals else ""
    errors = [Column(f"{name}_error", f"{name} err", lambda v: "-" if v is None or math.isnan(v) else percent(v),
                     wide=1) for name in SCORED if any(f"{name}_error" in r for r in table)]
    emit(shown, PREDICTION_COLUMNS + errors, fmt, title=f"{len(rows)} cases from {cases.name}",
         caption=" ".join(c for c in (score, caption) if c), out=out)


_REFUSALS_SHOWN = 10  # refused or infeasible cases whose reason the table's caption gives
