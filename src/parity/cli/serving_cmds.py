"""Serving commands: predict a table of cases, serve one scenario, validate against measurements."""

from __future__ import annotations

import csv
import datetime
import io
from collections import Counter
from pathlib import Path

import click
from rich.progress import Progress

from parity import catalog
from parity.cli import cli, emit, format_option, out_option
from parity.errors import ParityError
from parity.predict import CASE_COLUMNS, OUTPUT_COLUMNS, predict_rows
from parity.report.tables import Column, percent, plain, scaled, write_atomic
from parity.uncertainty import Intervals
from parity.validate import (SIZING_PARAMETERS, case_errors, engine_toml, fit_engine, interval_coverage, intervals_from,
                             scenarios_of, scores)


def _read_cases(path: Path) -> list[dict[str, str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ParityError(f"cannot read {path}: {err.strerror or err}") from err
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "model" not in reader.fieldnames:
        raise ParityError(f"{path.name}: not a cases table (needs a header with at least model, system, isl, osl, "
                          f"concurrency; columns: {', '.join(CASE_COLUMNS)})")
    return [dict(row) for row in reader]


PREDICTION_COLUMNS = [Column("case_id", "case", plain, "left"), Column("ttft_s", "TTFT ms", scaled(1e-3)),
                      Column("tpot_s", "TPOT ms", scaled(1e-3)),
                      Column("output_tokens_per_s_per_chip", "tok/s/chip", scaled(1)),
                      Column("output_tokens_per_s_per_user", "tok/s/user", scaled(1)), Column("chips", "chips", plain),
                      Column("memory_bytes_per_chip", "mem GB/chip", scaled(1e9)),
                      Column("feasible", "feasible", plain), Column("note", "note", plain, "left")]


@cli.command()
@click.argument("cases", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "table"]), default="csv", show_default=True)
@out_option
def predict(cases: Path, fmt: str, out: Path | None) -> None:
    """Predict every serving case of a CSV table (columns: see the README); bad rows get feasible=false."""
    rows = _read_cases(cases)
    with Progress(transient=True, disable=fmt != "table") as progress:
        task = progress.add_task("predicting", total=len(rows))
        predictions = predict_rows(rows, progress=lambda n: progress.advance(task, n))
    table = [{k: p.row()[k] for k in OUTPUT_COLUMNS} for p in predictions]
    emit(table, PREDICTION_COLUMNS, fmt, title=f"{len(rows)} cases from {cases.name}", out=out)


@cli.command()
@click.option("--model", required=True, help="catalog model or config.json")
@click.option("--system", required=True, help="catalog system (or a chip: its default node)")
@click.option("--engine", default="", help="trtllm, vllm, sglang or empty for the generic profile")
@click.option("--weights", default="", help="weight format (default: the checkpoint's)")
@click.option("--moe-weights", default="", help="expert weight format (default: as --weights)")
@click.option("--kv", default="", help="KV-cache format (default: the engine's)")
@click.option("--mode", type=click.Choice(["agg", "disagg"]), default="agg", show_default=True)
@click.option("--isl", type=int, default=1024, show_default=True)
@click.option("--osl", type=int, default=1024, show_default=True)
@click.option("--concurrency", type=int, default=32, show_default=True)
@click.option("--tp", type=int, default=1, show_default=True)
@click.option("--pp", type=int, default=1, show_default=True)
@click.option("--attn-dp", type=int, default=1, show_default=True)
@click.option("--moe-tp", type=int, default=0, help="0: default (experts split by expert parallelism)")
@click.option("--moe-ep", type=int, default=0)
@click.option("--prefill-workers", type=int, default=None)
@click.option("--decode-workers", type=int, default=None)
@click.option("--decode-tp", type=int, default=None, help="disagg: decode layout (default: as --tp)")
@click.option("--decode-attn-dp", type=int, default=None)
@format_option
def serve(model: str, system: str, engine: str, weights: str, moe_weights: str, kv: str, mode: str, isl: int,
          osl: int, concurrency: int, tp: int, pp: int, attn_dp: int, moe_tp: int, moe_ep: int,
          prefill_workers: int | None, decode_workers: int | None, decode_tp: int | None,
          decode_attn_dp: int | None, fmt: str) -> None:
    """Predict one serving scenario: TTFT, TPOT, throughput per chip and per user, memory."""
    row: dict[str, object] = {"case_id": "scenario", "model": model, "system": system, "engine": engine,
                              "weights": weights, "moe_weights": moe_weights, "kv": kv, "mode": mode, "isl": isl,
                              "osl": osl, "concurrency": concurrency, "tp": tp, "pp": pp, "attn_dp": attn_dp,
                              "moe_tp": moe_tp or "", "moe_ep": moe_ep or ""}
    if mode == "disagg":
        row |= {"prefill_tp": tp, "prefill_pp": pp, "prefill_attn_dp": attn_dp, "decode_tp": decode_tp or tp,
                "decode_pp": pp, "decode_attn_dp": decode_attn_dp or attn_dp,
                "prefill_workers": prefill_workers or "", "decode_workers": decode_workers or ""}
    prediction = predict_rows([row])[0]
    if not prediction.feasible:
        raise ParityError(prediction.note)
    data = prediction.row()
    rows = [{"quantity": k, "value": v} for k, v in (
        ("TTFT", f"{data['ttft_s'] * 1e3:,.1f} ms"), ("TPOT", f"{data['tpot_s'] * 1e3:,.2f} ms"),
        ("output tokens/s per chip", f"{data['output_tokens_per_s_per_chip']:,.1f}"),
        ("output tokens/s per user", f"{data['output_tokens_per_s_per_user']:,.1f}"),
        ("chips", f"{data['chips']:g}"), ("memory per chip", f"{data['memory_bytes_per_chip'] / 1e9:,.1f} GB"),
        ("decode batch per rank", f"{data.get('decode_batch', 0):,.1f}"),
        ("prefill share of engine time", f"{data.get('prefill_utilization', 0):.0%}"))]
    emit(rows, [Column("quantity", "quantity", plain, "left"), Column("value", "value", plain)], fmt,
         title=f"{model} on {system} ({mode}, {isl} in / {osl} out, {concurrency} clients)",
         caption="Assumptions: " + data["note"], payload=data)


@cli.command()
@click.option("--by", default="system,engine", show_default=True,
              help="group scores by these fields (system, engine, model, mode, split)")
@click.option("--fit", is_flag=True, help="refit the engine profiles on the calibration rows and write them")
@click.option("--iterations", default=150, show_default=True, help="Nelder-Mead iterations per engine (--fit)")
@format_option
@out_option
def validate(by: str, fit: bool, iterations: int, fmt: str, out: Path | None) -> None:
    """Predicted against measured on parity's validation data (rows used for fitting excluded)."""
    rows = catalog.measurements()
    fields = [f.strip() for f in by.split(",") if f.strip()]
    unknown = set(fields) - {"system", "engine", "model", "mode", "split"}
    if unknown:
        raise ParityError(f"--by accepts system, engine, model, mode, split; got {', '.join(sorted(unknown))}")
    if fit:
        _fit_engines(rows, iterations)
    with Progress(transient=True) as progress:
        task = progress.add_task("predicting measured cases", total=len(rows))
        predictions = predict_rows(rows, progress=lambda n: progress.advance(task, n))
    errors = case_errors(rows, predictions)
    if fit:
        made = intervals_from(errors, datetime.date.today().isoformat())
        write_atomic(catalog.data_dir() / "uncertainty.toml", made.to_toml())
        catalog.uncertainty_table.cache_clear()
    table_ = catalog.uncertainty_table()
    covered = interval_coverage(errors, Intervals.from_table(table_)) if table_ else {}
    counted = Counter(r["split"] for r in rows)
    infeasible = sum(not p.feasible for p in predictions)
    overall = scores(errors)
    table = [s.row() for s in scores(errors, fields)] + [
        {**s.row(), **{f: "all scored" for f in fields}} for s in overall]
    columns = [Column("metric", "metric", plain, "left")] + [Column(f, f, plain, "left") for f in fields] + [
        Column("count", "rows", plain), Column("median_abs_error", "median |err|", percent),
        Column("p90_abs_error", "p90 |err|", percent), Column("bias", "bias", percent)]
    payload = {"scores": table, "by_split": [s.row() for s in scores(errors, ["split"],
                                                                     splits=("calibration", "holdout", "unseen"))],
               "rows": dict(counted), "infeasible": infeasible, "interval_coverage": covered,
               "cases": [{"case_id": e.case_id, "split": e.split, "metric": e.metric, "measured": e.measured,
                          "predicted": e.predicted, "error": e.error} for e in errors]}
    emit(table, columns, fmt, payload=payload, out=out,
         title=f"Validation on {counted['holdout'] + counted['unseen']} scored rows "
               f"({counted['calibration']} calibration rows excluded)",
         caption="Error = (predicted - measured) / measured. 'unseen' rows (B300, gpt-oss-120b) were excluded "
                 f"from every fit. {infeasible} rows predicted infeasible are not scored. 80% intervals contain the "
                 "measured value on rows not used to build them: "
                 + (", ".join(f"{m} {v:.0%}" for m, v in covered.items()) or "no intervals yet (parity validate --fit)"))


def _fit_engines(rows: list[dict[str, str]], iterations: int) -> None:
    date = datetime.date.today().isoformat()
    calibration = [r for r in rows if r["split"] == "calibration"]
    for engine_id in sorted({r["engine"] for r in calibration}):
        mine = [r for r in calibration if r["engine"] == engine_id]
        known = scenarios_of([r for r in mine if r["mode"] == "agg" or r["decode_workers"]])
        disagg = scenarios_of([r for r in mine if r["mode"] == "disagg"])
        with Progress(transient=True) as progress:
            task = progress.add_task(f"fitting {engine_id} on {len(known)} rows", total=iterations * 2)
            fitted, before, after = fit_engine(catalog.engine(engine_id), known, iterations=iterations,
                                               progress=lambda _: progress.advance(task))
            if disagg:
                task = progress.add_task(f"fitting disaggregated {engine_id} on {len(disagg)} rows", total=100)
                fitted, _, _ = fit_engine(fitted, disagg, tuple(SIZING_PARAMETERS), iterations=50,
                                          progress=lambda _: progress.advance(task))
        path = catalog.data_dir() / "engines" / f"{engine_id}.toml"
        write_atomic(path, engine_toml(fitted, len(known), before, after, date))
        click.echo(f"{engine_id}: loss {before:.3f} -> {after:.3f} on {len(known)} calibration rows "
                   f"(+ {len(disagg)} disaggregated rows for the hand-off and sizing); wrote {path}", err=True)
    catalog.engines.cache_clear()
