"""Serving commands: predict a table of cases, serve one scenario, validate against measurements."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import click
from rich.progress import Progress

from parity.cli import cli, emit, format_option, out_option
from parity.errors import ParityError
from parity.ops import Batch
from parity.predict import (CASE_COLUMNS, MODEL_KINDS, OUTPUT_COLUMNS, SIM_COLUMNS, benchmark_of, deployment,
                            predict_rows, scenario_from_row, simulate_scenario)
from parity.simulate import CLIENT_PROFILES, LATENCY_KEYS, trace_of
from parity.simulate.targets import latency_target
from parity.step import Part, breakdown
from parity.report.tables import Column, plain, scaled, with_interval


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


PREDICTION_COLUMNS = [Column("case_id", "case", plain, "left"), Column("ttft_text", "TTFT ms (80%)", plain),
                      Column("tpot_text", "TPOT ms (80%)", plain),
                      Column("rate_text", "tok/s/chip (80%)", plain),
                      Column("output_tokens_per_s_per_user", "tok/s/user", scaled(1)), Column("chips", "chips", plain),
                      Column("memory_bytes_per_chip", "mem GB/chip", scaled(1e9)),
                      Column("feasible", "feasible", plain), Column("flags", "flags", plain, "left"),
                      Column("note", "note", plain, "left")]


def interval_texts(row: dict) -> dict:
    """The row with its 80% intervals written for people, e.g. '12.3 (10.9-14.1)'."""
    return {**row,
            "ttft_text": with_interval(row["ttft_s"], row["ttft_s_low"], row["ttft_s_high"], 1e-3),
            "tpot_text": with_interval(row["tpot_s"], row["tpot_s_low"], row["tpot_s_high"], 1e-3),
            "rate_text": with_interval(row["output_tokens_per_s_per_chip"], row["output_tokens_per_s_per_chip_low"],
                                       row["output_tokens_per_s_per_chip_high"])}


@cli.command()
@click.argument("cases", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "table"]), default="csv", show_default=True)
@click.option("--model-kind", type=click.Choice(MODEL_KINDS), default="steady", show_default=True,
              help="steady: the closed-form steady-state model; sim: the step-level simulator of engine and "
                   "benchmark client (adds percentiles, ITL, E2E)")
@click.option("--processes", type=click.IntRange(min=1), default=2, show_default=True,
              help="worker processes for --model-kind sim")
@out_option
def predict(cases: Path, fmt: str, model_kind: str, processes: int, out: Path | None) -> None:
    """Predict every serving case of a CSV table (columns: see the README); bad rows get feasible=false."""
    rows = _read_cases(cases)
    with Progress(transient=True, disable=fmt != "table") as progress:
        task = progress.add_task("predicting", total=len(rows))
        predictions = predict_rows(rows, progress=lambda n: progress.advance(task, n), model_kind=model_kind,
                                   processes=processes)
    columns = OUTPUT_COLUMNS + (SIM_COLUMNS if model_kind == "sim" else ())
    table = [{k: p.row().get(k, float("nan")) for k in columns} for p in predictions]
    emit([interval_texts(r) for r in table] if fmt == "table" else table, PREDICTION_COLUMNS, fmt,
         title=f"{len(rows)} cases from {cases.name}", out=out)


def _parts(found: Sequence[Part]) -> list[dict[str, object]]:
    return [{"part": p.name, "seconds": p.seconds, "bound": p.bound, "detail": p.detail} for p in found]


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
@click.option("--random-range-ratio", type=click.FloatRange(0, 1), default=1.0, show_default=True,
              help="request lengths drawn uniformly from [ratio x isl, isl] and [ratio x osl, osl], as "
                   "benchmark_serving.py's --random-range-ratio (InferenceX runs 0.8); 1: fixed lengths")
@click.option("--tp", type=int, default=1, show_default=True)
@click.option("--pp", type=int, default=1, show_default=True)
@click.option("--attn-dp", type=int, default=1, show_default=True)
@click.option("--moe-tp", type=int, default=0, help="0: default (experts split by expert parallelism)")
@click.option("--moe-ep", type=int, default=0)
@click.option("--prefill-workers", type=int, default=None)
@click.option("--decode-workers", type=int, default=None)
@click.option("--decode-tp", type=int, default=None, help="disagg: decode layout (default: as --tp)")
@click.option("--decode-attn-dp", type=int, default=None)
@click.option("--explain", is_flag=True, help="also show where a decode step's time goes (ops, collectives)")
@click.option("--mtp", "mtp_tokens", type=click.IntRange(min=0), default=0,
              help="multi-token prediction: draft tokens per decode step (models with MTP layers)")
@click.option("--mtp-acceptance", type=click.FloatRange(min=0), default=0.0,
              help="draft tokens accepted per step on average (e.g. 1.8 of 3)")
@click.option("--adp-hold-steps", type=click.FloatRange(min=0), default=None,
              help="attention DP: steps the engine holds new prompts until every rank has one (TensorRT-LLM's "
                   "attention_dp_config timeout_iters; 0: no balancing; default: the engine's)")
@click.option("--model-kind", type=click.Choice(MODEL_KINDS), default="steady", show_default=True,
              help="steady: the closed-form steady-state model; sim: the step-level simulator (percentiles)")
@click.option("--sim", "use_sim", is_flag=True, help="shorthand for --model-kind sim")
@click.option("--client", type=click.Choice(sorted(CLIENT_PROFILES)), default=None,
              help="sim: benchmark client profile (prompt count, length range); default: inferencex when "
                   "--random-range-ratio < 1, else aiconfigurator")
@click.option("--num-prompts", type=click.IntRange(min=1), default=None, help="sim: requests of the run")
@click.option("--request-rate", type=click.FloatRange(min=0, min_open=True), default=None,
              help="sim: open-loop Poisson arrivals at this many requests/s instead of a closed loop")
@click.option("--fixed-rate", is_flag=True, help="sim: with --request-rate, evenly spaced arrivals")
@click.option("--trace", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="sim: replay a CSV trace with columns arrival_s, isl, osl")
@click.option("--timeline", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="sim: write queue length, running batch and KV use over time to this CSV")
@click.option("--seed", type=int, default=0, show_default=True, help="sim: seed of the length and MTP draws")
@click.option("--ttft", "ttft_target", default=None, help="TTFT target, a statistic may be named: 2s, p99:2s")
@click.option("--tpot", "tpot_target", default=None, help="TPOT target, e.g. 50ms or p90:60ms")
@format_option
def serve(model: str, system: str, engine: str, weights: str, moe_weights: str, kv: str, mode: str, isl: int,
          osl: int, concurrency: int, random_range_ratio: float, tp: int, pp: int, attn_dp: int, moe_tp: int,
          moe_ep: int,
          prefill_workers: int | None, decode_workers: int | None, decode_tp: int | None,
          decode_attn_dp: int | None, explain: bool, mtp_tokens: int, mtp_acceptance: float,
          adp_hold_steps: float | None, model_kind: str, use_sim: bool, client: str | None, num_prompts: int | None,
          request_rate: float | None, fixed_rate: bool, trace: Path | None, timeline: Path | None, seed: int,
          ttft_target: str | None, tpot_target: str | None, fmt: str) -> None:
    """Predict one serving scenario: TTFT, TPOT, throughput per chip and per user, memory (with --sim:
    simulated step by step, with latency percentiles)."""
    simulated = use_sim or model_kind == "sim"
    targets = [t for t in (latency_target(ttft_target, "ttft"), latency_target(tpot_target, "tpot")) if t]
    if not simulated and any(t.statistic != "mean" for t in targets):
        raise ParityError("percentile targets need the simulator (--sim): the steady-state model gives means only")
    if not simulated and (trace or timeline or request_rate or num_prompts or client):
        raise ParityError("--client, --num-prompts, --request-rate, --trace and --timeline need --sim")
    row: dict[str, object] = {"case_id": "scenario", "model": model, "system": system, "engine": engine,
                              "weights": weights, "moe_weights": moe_weights, "kv": kv, "mode": mode, "isl": isl,
                              "osl": osl, "concurrency": concurrency, "tp": tp, "pp": pp, "attn_dp": attn_dp,
                              "moe_tp": moe_tp or "", "moe_ep": moe_ep or "", "mtp_tokens": mtp_tokens,
                              "mtp_acceptance": mtp_acceptance, "random_range_ratio": random_range_ratio,
                              "attention_dp_hold_steps": "" if adp_hold_steps is None else adp_hold_steps}
    if mode == "disagg":
        row |= {"prefill_tp": tp, "prefill_pp": pp, "prefill_attn_dp": attn_dp, "decode_tp": decode_tp or tp,
                "decode_pp": pp, "decode_attn_dp": decode_attn_dp or attn_dp,
                "prefill_workers": prefill_workers or "", "decode_workers": decode_workers or ""}
    prediction = predict_rows([row])[0]
    if not prediction.feasible:
        raise ParityError(prediction.note)
    data = prediction.row()
    percentile_rows: list[dict[str, object]] = []
    if simulated:
        data, percentile_rows = _simulated(row, data, client, num_prompts, request_rate, fixed_rate, trace, timeline,
                                           seed)
    texts = interval_texts(data)
    rows = [{"quantity": k, "value": v} for k, v in (
        ("TTFT [ms] (80% interval)", texts["ttft_text"]), ("TPOT [ms] (80% interval)", texts["tpot_text"]),
        ("output tokens/s per chip (80% interval)", texts["rate_text"]),
        ("output tokens/s per user", f"{data['output_tokens_per_s_per_user']:,.1f}"),
        ("chips", f"{data['chips']:g}"), ("memory per chip", f"{data['memory_bytes_per_chip'] / 1e9:,.1f} GB"),
        ("decode batch per rank", f"{data.get('decode_batch', 0):,.1f}"),
        ("prefill share of engine time", f"{data.get('prefill_utilization', 0):.0%}"),
        ("outside what was validated", data["flags"] or "no"))] + percentile_rows
    for target in targets:
        value = data[target.key]
        rows.append({"quantity": f"target {target}", "value": f"{'met' if value <= target.seconds else 'missed'} "
                                                              f"({value * 1e3:,.1f} ms)"})
        data = {**data, f"meets_{target.key}": bool(value <= target.seconds)}
    parts: list[dict[str, object]] = []
    prefill_parts: list[dict[str, object]] = []
    if explain:
        scenario = scenario_from_row(row)
        dep = deployment(scenario, scenario.decode_layout or scenario.layout)
        batch = Batch(decode_tokens=max(float(data.get("decode_batch", 1.0)), 1.0), decode_context=isl + osl / 2)
        parts = _parts(breakdown(dep, batch))
        # a prompt's first chunk alone: what its prefill costs before any queueing or batching
        chunk = float(min(isl, scenario.engine.max_num_tokens))
        prompt = Batch(prefill_tokens=chunk, prefill_sequences=chunk / isl)
        prefill_parts = _parts(breakdown(deployment(scenario, scenario.layout), prompt))
        data = {**data, "decode_step_breakdown": parts, "prefill_step_breakdown": prefill_parts}
    emit(rows, [Column("quantity", "quantity", plain, "left"), Column("value", "value", plain)], fmt,
         title=f"{model} on {system} ({mode}, {isl} in / {osl} out, {concurrency} clients)",
         caption="Assumptions: " + data["note"], payload=data)
    if explain and fmt == "table":
        step_columns = [Column("part", "op or collective", plain, "left"),
                        Column("seconds", "ms per step", scaled(1e-3)), Column("bound", "bound by", plain, "left"),
                        Column("detail", "format / algorithm", plain, "left")]
        emit(parts, step_columns, "table",
             title=f"One decode step of {batch.decode_tokens:g} sequences per rank on one device")
        emit(prefill_parts, step_columns, "table",
             title=f"One prefill step of {prompt.prefill_tokens:g} prompt tokens on one device (no queueing; "
                   f"before the engine's prefill time factor x{scenario.engine.prefill_scale:.2f})")


def _simulated(row: dict[str, object], data: dict, client: str | None, num_prompts: int | None,
               request_rate: float | None, fixed_rate: bool, trace: Path | None, timeline: Path | None,
               seed: int) -> tuple[dict, list[dict[str, object]]]:
    """The steady prediction's row with the simulator's figures, and table rows of its percentiles."""
    scenario = scenario_from_row(row)
    options: dict[str, object] = {"num_prompts": num_prompts, "request_rate": request_rate, "poisson": not fixed_rate,
                                  "seed": seed}
    if trace is not None:
        options["trace"] = trace_of(_read_cases_any(trace))
    bench = benchmark_of(scenario, client, **options)
    workers = (data.get("prefill_workers", 0.0), data.get("decode_workers", 0.0))
    sim = simulate_scenario(scenario, bench, workers=workers, timeline=timeline is not None)
    if timeline is not None:
        _write_csv(timeline, list(sim.timeline))
    out = {**data, **sim.latency, "ttft_s": sim.ttft_s, "tpot_s": sim.tpot_s,
           "output_tokens_per_s_per_chip": sim.output_tokens_per_s_per_chip,
           "output_tokens_per_s_per_user": sim.output_tokens_per_s_per_user, "chips": sim.chips,
           "decode_batch": sim.decode_batch, "preemptions": sim.preemptions, "requests": sim.requests,
           "duration_s": sim.duration_s, "note": "; ".join((data["note"], *sim.assumptions)),
           "ttft_s_low": float("nan"), "ttft_s_high": float("nan"), "tpot_s_low": float("nan"),
           "tpot_s_high": float("nan"), "output_tokens_per_s_per_chip_low": float("nan"),
           "output_tokens_per_s_per_chip_high": float("nan")}
    table = [{"quantity": f"{name.upper()} mean / p50 / p90 / p99 [ms]",
              "value": " / ".join(f"{sim.latency[k] * 1e3:,.1f}" for k in LATENCY_KEYS if k.startswith(name + "_"))}
             for name in ("ttft", "tpot", "itl", "e2e")]
    table += [{"quantity": "simulated requests (preempted)", "value": f"{sim.requests:,} ({sim.preemptions:,})"}]
    return out, table


def _read_cases_any(path: Path) -> list[dict[str, str]]:
    try:
        return [dict(r) for r in csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))]
    except OSError as err:
        raise ParityError(f"cannot read {path}: {err.strerror or err}") from err


def _write_csv(path: Path, records: list[dict[str, object]]) -> None:
    try:
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(records[0]) if records else ["time_s"])
            writer.writeheader()
            writer.writerows(records)
    except OSError as err:
        raise ParityError(f"cannot write {path}: {err.strerror or err}") from err
