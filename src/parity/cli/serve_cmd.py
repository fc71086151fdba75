"""Serving commands: predict a table of cases, serve one scenario, validate against measurements."""

from __future__ import annotations

import dataclasses
import math
import re
import shlex
from collections.abc import Sequence
from pathlib import Path

import click

from parity.cli import (TABLE_FORMATS, cli, deliver, emit, emit_record, format_option, out_option, output_format,
                        progress_bar, typed_options, wide_option)
from parity import catalog
from parity.cli.csv_input import column_rows, read_table
from parity.cli.files import model_file, refuse_overwrite
from parity.cli.launch_options import (LAUNCH_DISAGG_ONLY, LAUNCH_LOOP_ONLY, LAUNCH_SIMULATOR_ONLY, Launch,
                                       launch_options)
from parity.cli.serve_explain import Tables, phase_step, typical_steps
from parity.cli.serve_line import serve_command, serve_inputs
from parity.cli.variants import variant_systems, variants_option
from parity.cli.values import (CONCURRENCY, ENGINE, FORMAT_NAME, PARALLEL, TOKENS, Count, Real, RequestRate,
                               StatisticTarget, ray_option)
from parity.compare import systems_to_hold
from parity.cost import math_unit
from parity.dtypes import format_named
from parity.errors import ParityError
from parity.hardware import per_die
from parity.model import Model
from parity.flags import texts as flag_texts
from parity.phase import PHASES
from parity.plan import Layout, served_format
from parity.search import best_precision
from parity.predict import (EXTRA_COLUMNS, MODEL_KINDS, MOST_MTP_TOKENS, OUTPUT_COLUMNS, SIM_COLUMNS, Case,
                            Prediction, Scenario, benchmark_of, case_note, check_case_columns, deployment, flags,
                            interval_bounds, predict_cases, open_loop_at_peak, predict_rows, scenario_of,
                            simulate_scenario, simulated_flags, simulated_note, client_fields, shortfall_text,
                            closed_loop_only)
from parity.predict.case import OPEN_LOOP_CLIENTS
from parity.predict.columns import FOREIGN_COLUMNS, READ_COLUMNS, close_column
from parity.predict.measured import SCORED, measured_values, score_line, scored
from parity.predict.scenario import engine_kv
from parity.predict.simulated import _workers, client_of
from parity.uncertainty import widening
from parity.units import counted, duration_text, whole
from parity.scenarios import longest_request, offline_throughput, server_latency
from parity.simulate import CLIENT_PROFILES, LATENCY_KEYS, Benchmark, TraceRequest, routes_at_random, trace_of
from parity.simulate.benchmark import MAX_SIMULATED_REQUESTS, trace_too_long
from parity.simulate.targets import LatencyTarget
from parity.report.markup import sentence
from parity.report.tables import Column, percent, plain, scaled, to_csv, with_interval


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


def _memory_row(data: dict) -> tuple[str, str]:
    """The memory per chip a run's table shows, per die where each die of a multi-die chip is a rank (its
    memory_bytes_per_die): each worker's where prefill and decode workers are apart (a worker on a system of whole
    chips, a mixed fleet's, gives its chip's)."""
    holder = "die" if "memory_bytes_per_die" in data else "chip"
    if "prefill_memory_bytes_per_chip" not in data:
        return f"memory per {holder}", f"{data[f'memory_bytes_per_{holder}'] / 1e9:,.1f} GB"
    sides = [data.get(f"{role}_memory_bytes_per_die", data[f"{role}_memory_bytes_per_chip"])
             for role in ("prefill", "decode")]
    return f"memory per {holder} (prefill / decode)", f"{sides[0] / 1e9:,.1f} / {sides[1] / 1e9:,.1f} GB"


def _number(value: float, unit: float) -> str:
    """A figure in `unit` to one decimal; '-' where it is undefined (NaN: TPOT, ITL and the per-user rate of
    one-token outputs, which have no decode step)."""
    return "-" if math.isnan(value) else f"{value / unit:,.1f}"


def interval_texts(row: dict) -> dict:
    """The row with its 80% intervals written for people, e.g. '12.3 (10.9-14.1)'."""
    return {**row,
            "ttft_text": with_interval(row["ttft_s"], row["ttft_s_low"], row["ttft_s_high"], 1e-3),
            "tpot_text": with_interval(row["tpot_s"], row["tpot_s_low"], row["tpot_s_high"], 1e-3),
            "rate_text": with_interval(row["output_tokens_per_s_per_chip"], row["output_tokens_per_s_per_chip_low"],
                                       row["output_tokens_per_s_per_chip_high"])}


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


@cli.command()
@click.option("--model", required=True, help="catalog model or config.json")
@click.option("--system", required=True, help="catalog system (or a chip: its default node)")
@click.option("--engine", type=ENGINE, default="generic", show_default=True,
              help="serving-engine profile (parity engines): generic, trtllm, vllm or sglang, each run as its "
                   "profile for the chip's software stack where one exists (vllm-rocm, sglang-rocm, sglang-cann), "
                   "else at the stack's measured maturity (flagged); MindIE and vLLM-Ascend have no profile (on "
                   "CANN: generic or sglang)")
@click.option("--weights", type=FORMAT_NAME, default=None,
              help="weight format (default: the checkpoint's, fp32 cast to bf16 as engines do)")
@click.option("--moe-weights", type=FORMAT_NAME, default=None,
              help="expert weight format (default: as --weights)")
@click.option("--kv", type=FORMAT_NAME, default=None, help="KV-cache storage format (default: the engine's)")
@click.option("--attention-format", type=FORMAT_NAME, default=None,
              help="format of the attention math, bf16 or fp8 (FP8 attention kernels such as FlashMLA-FP8; "
                   "default: the engine's)")
@click.option("--offload-kv", type=Real(0.0, 1.0), default=0.0, show_default=True,
              help="share of the KV cache kept in host CPU memory (systems with a chip-to-CPU link, e.g. GB200's "
                   "Grace over NVLink-C2C); each step reads it over that link")
@click.option("--offload-weights", type=Real(0.0, 1.0), default=0.0, show_default=True,
              help="share of the weights kept in host CPU memory, read over the host link every step")
@click.option("--mla-decode", type=click.Choice(["absorbed", "unabsorbed"]), default=None,
              help="MLA models: decode absorbed (FlashMLA, attention over the latent) or unabsorbed (K/V expanded "
                   "per head from the latent each step); default: the engine's (absorbed)")
@click.option("--mode", type=click.Choice(["agg", "disagg"]), default="agg", show_default=True,
              help="agg: prefill and decode on the same workers; disagg: separate prefill and decode workers")
@click.option("--phase", type=click.Choice(list(PHASES)), default="both", show_default=True,
              help="both: the closed-loop benchmark; decode or prefill: one step of a fixed --batch")
@click.option("--scenario", type=click.Choice(["closed", "offline", "server"]), default="closed", show_default=True,
              help="closed: the closed-loop benchmark (or --phase); MLPerf-style offline (a saturated worker) or "
                   "server (Poisson arrivals at --request-rate) over --lengths")
@click.option("--lengths", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="offline/server: a CSV of isl,osl pairs, one request a row (default: --isl, --osl)")
@click.option("--request-rate", type=RequestRate(), default=None,
              help="server: requests per second one worker receives; --sim: open-loop arrivals at this rate "
                   "(Poisson unless --fixed-rate), or inf: every request at once (vLLM's --request-rate inf)")
@click.option("--batch", type=CONCURRENCY, default=None,
              help="phase decode/prefill: sequences (prompts) over the whole deployment, split over its attention-DP "
                   "ranks")
@click.option("--context", type=TOKENS, default=None, help="phase decode: KV tokens per sequence")
@click.option("--isl", type=TOKENS, default=1024, show_default=True, help="prompt tokens per request")
@click.option("--osl", type=TOKENS, default=1024, show_default=True, help="output tokens per request")
@click.option("--concurrency", type=CONCURRENCY, default=OPEN_LOOP_CLIENTS, show_default=True,
              help="closed-loop clients, each sending its next request when the last one ends")
@click.option("--random-range-ratio", type=Real(0.0, 1.0), default=None,
              help="request lengths drawn uniformly from [ratio x isl, isl] and [ratio x osl, osl], as "
                   "benchmark_serving.py's --random-range-ratio (InferenceX runs 0.8); 1: fixed lengths; default: "
                   "the client profile's range (aiconfigurator's 0.8, 1 on SGLang engines; inferencex's 0.8, vllm's 1, "
                   "sglang's 0; parity engines --clients)")
@click.option("--tp", type=PARALLEL, default=1, show_default=True, help="tensor-parallel ranks per worker")
@click.option("--pp", type=PARALLEL, default=1, show_default=True, help="pipeline stages per worker")
@click.option("--attn-dp", type=PARALLEL, default=1, show_default=True, help="attention data-parallel ranks per worker")
@click.option("--moe-tp", type=PARALLEL, default=None, help="expert tensor parallel (default: experts split by "
                                                            "expert parallelism)")
@click.option("--moe-ep", type=PARALLEL, default=None,
              help="expert-parallel ranks: --moe-tp x --moe-ep must equal --tp x --attn-dp, so a divisor of it, at "
                   "most the experts (with placed replicas: the expert slots), need not divide them (default: "
                   "tp x attn_dp / --moe-tp)")
@click.option("--redundant-experts", type=Count(most=2**20, least=0), default=0, show_default=True,
              help="extra replicas of hot experts placed EPLB-style (DeepSeek's EPLB)")
@click.option("--shared-expert-replicas", type=Count(most=2**20, least=0), default=0, show_default=True,
              help="shared experts placed as this many expert instances instead of computed on every rank")
@click.option("--rank-per-die/--no-rank-per-die", default=None,
              help="each die of a multi-die package (Ascend 910C) is one rank, as CANN runs it and as compare, search "
                   "and train price it (the default on such a chip); --no-rank-per-die: the package as one device, a "
                   "what-if (flagged)")
@click.option("--prefill-workers", type=PARALLEL, default=None,
              help="disagg: prefill workers (default: sized for the engine's prefill utilisation)")
@click.option("--decode-workers", type=PARALLEL, default=None,
              help="disagg: decode workers (default: sized for the engine's clients per decode rank)")
@click.option("--prefill-system", default="", help="disagg: run the prefill workers on this system (a mixed fleet; "
              "the KV cache moves over scale-out links)")
@click.option("--decode-tp", type=PARALLEL, default=None, help="disagg: decode layout (default: as --tp)")
@click.option("--decode-pp", type=PARALLEL, default=None, help="disagg: decode pipeline stages (default: as --pp)")
@click.option("--decode-attn-dp", type=PARALLEL, default=None,
              help="disagg: decode attention-DP ranks (default: as --attn-dp)")
@click.option("--decode-moe-tp", type=PARALLEL, default=None, help="disagg: decode expert tensor parallel (default: "
                                                                   "as --moe-tp)")
@click.option("--decode-moe-ep", type=PARALLEL, default=None,
              help="disagg: decode expert-parallel ranks (default: as --moe-ep)")
@click.option("--explain", is_flag=True, help="also show where a step's time goes (ops, collectives): a typical decode "
              "step and a prompt's first chunk of a run of requests (--scenario offline|server: at the batch it "
              "found), or the one step of --phase decode|prefill")
@click.option("--mtp", "mtp_tokens", type=Count(most=MOST_MTP_TOKENS, least=0), default=0, show_default=True,
              help="multi-token prediction: draft tokens per decode step (models with MTP layers)")
@click.option("--mtp-acceptance", type=Real(0.0, 64.0), default=0.0, show_default=True,
              help="draft tokens accepted per step on average (e.g. 1.8 of 3; 0: the model's published "
                   "acceptance, data/speculation.toml)")
@click.option("--moe-overlap", type=Real(0.0, 1.0), default=None,
              help="MoE models: share of the expert dispatch and combine hidden under computation by running each "
                   "step as two overlapped microbatches (two-batch overlap: SGLang's --enable-two-batch-overlap and "
                   "DeepSeek's two-microbatch schedule are 1; the engine profile's moe_overlap, a measured row's "
                   "column; default: the engine's, 0)")
@click.option("--adp-hold-steps", type=Real(0.0, 1e6), default=None,
              help="attention DP: steps the engine holds new prompts until every rank has one (TensorRT-LLM's "
                   "attention_dp_config timeout_iters; 0: no balancing; default: the engine's)")
@launch_options
@click.option("--model-kind", type=click.Choice(MODEL_KINDS), default="sim", show_default=True,
              help="sim: the step-level simulator (percentiles); steady: the closed-form steady-state model")
@click.option("--sim", "use_sim", is_flag=True, help="--model-kind sim (the default)")
@click.option("--client", type=click.Choice(sorted(CLIENT_PROFILES)), default=None,
              help="sim: benchmark client profile (prompt count, length range, front end; with --trace, aggregated: "
                   "its front end only); default: inferencex when --random-range-ratio < 1, else vllm for "
                   "--request-rate or --trace (vLLM's benchmark, whose --request-rate this is), else aiconfigurator")
@click.option("--num-prompts", type=click.IntRange(min=1), default=None, help="sim: requests of the run")
@click.option("--fixed-rate", is_flag=True, help="sim: with --request-rate, evenly spaced arrivals")
@click.option("--max-concurrency", type=click.IntRange(min=1), default=None,
              help="sim: with --request-rate or --trace, requests in flight at most (vLLM's and SGLang's "
                   "--max-concurrency): later ones wait, and their TTFT counts from when they are sent")
@click.option("--trace", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="sim: replay a CSV trace with columns arrival_s, isl, osl")
@click.option("--timeline", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="sim: write queue length, prompts prefilled, running batch and KV use over time to this CSV, a "
                   "row per worker after each prompt step and each stretch of decode steps (time_s from the first "
                   "send; a trace's own clock; columns: docs/model.md)")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="sim: seed of the length and MTP draws")
@click.option("--ttft", "ttft_target", type=StatisticTarget("ttft"), default=None,
              help="TTFT target, a statistic may be named: 2s, p99:2s")
@click.option("--tpot", "tpot_target", type=StatisticTarget("tpot"), default=None,
              help="TPOT target, e.g. 50ms or p90:60ms")
@format_option
@out_option
def serve(model: str, system: str, engine: str, weights: str | None, moe_weights: str | None, kv: str | None,
          attention_format: str | None,
          offload_kv: float, offload_weights: float, mla_decode: str | None, mode: str, phase: str, scenario: str, lengths: Path | None, request_rate: float | None,
          batch: int | None, context: int | None, isl: int, osl: int, concurrency: int, random_range_ratio: float | None,
          tp: int, pp: int, attn_dp: int, moe_tp: int | None, moe_ep: int | None, redundant_experts: int,
          shared_expert_replicas: int, rank_per_die: bool | None, prefill_workers: int | None,
          decode_workers: int | None,
          prefill_system: str, decode_tp: int | None, decode_pp: int | None, decode_attn_dp: int | None,
          decode_moe_tp: int | None, decode_moe_ep: int | None, explain: bool, mtp_tokens: int,
          mtp_acceptance: float, moe_overlap: float | None, adp_hold_steps: float | None, launch: Launch,
          model_kind: str,
          use_sim: bool, client: str | None,
          num_prompts: int | None, fixed_rate: bool, max_concurrency: int | None, trace: Path | None,
          timeline: Path | None, seed: int, ttft_target: LatencyTarget | None, tpot_target: LatencyTarget | None, fmt: str, out: Path | None) -> None:
    """Predict one serving scenario: TTFT, TPOT, throughput per chip and per user, memory; simulated step by step
    with latency percentiles (--model-kind steady: the closed-form model, means only)."""
    output_format(fmt, out)  # a bad --out is refused before --timeline writes anything
    weights, moe_weights, kv, attention_format = (name or "" for name in (weights, moe_weights, kv, attention_format))
    if timeline is not None and timeline.suffix.lower() != ".csv":
        raise ParityError(f"--timeline {timeline}: the timeline is a CSV table; name the file .csv")
    refuse_overwrite([("--model", model_file(model)), ("--trace", trace), ("--lengths", lengths)],
                     [("--out", out), ("--timeline", timeline)])
    if phase != "both":
        _refuse_options_a_phase_ignores(phase, scenario, model_kind)
    elif given := typed_options({"--batch": "batch", "--context": "context"}):
        one = len(given) == 1
        raise ParityError(f"{', '.join(given)} set{'s' if one else ''} the fixed batch (--batch) or the KV context "
                          f"(--context) of one --phase decode|prefill step; {'the closed loop' if scenario == 'closed' else f'--scenario {scenario}'} runs whole "
                          f"requests of --isl and --osl: add --phase, or leave {'it' if one else 'them'} out")
    if use_sim and model_kind == "steady" and typed_options({"--model-kind": "model_kind"}):
        raise ParityError("--sim and --model-kind steady name two different models: give one of them")
    simulated = use_sim or model_kind == "sim"
    targets = [t for t in (ttft_target, tpot_target) if t]
    if not simulated and any(t.statistic != "mean" for t in targets):
        raise ParityError("percentile targets need the simulator (the default, not --model-kind steady): the "
                          "steady-state model gives means only")
    if not simulated and (given := typed_options(_SIMULATOR_ONLY | {"--trace": "trace"})
                          + (["--request-rate"] if request_rate and scenario == "closed" else [])):
        server = "; or --request-rate with --scenario server" if "--request-rate" in given else ""
        raise ParityError(f"{', '.join(given)} need{'s' if len(given) == 1 else ''} the simulator (the default, not "
                          f"--model-kind steady{server}): the steady-state model runs no requests and draws nothing")
    if simulated and scenario != "closed" and (given := typed_options(_SIMULATOR_ONLY | {"--sim": "use_sim"}) + (
            ["--model-kind sim"] if typed_options({"--model-kind": "model_kind"}) else [])):
        one = len(given) == 1
        raise ParityError(f"{', '.join(given)} {'is' if one else 'are'} read by the simulator, which runs the "
                          f"closed-loop scenario; --scenario {scenario} is priced in closed form: leave "
                          f"{'it' if one else 'them'} out")
    if scenario != "closed":
        _refuse_options_a_scenario_ignores(scenario, lengths is not None, mode)
    the_model = catalog.model(model)  # read once: a config.json is a file
    # the catalog's names in every output, as compare's and fleet's ('h100' read "system": "h100" beside their
    # "hgx-h100": fuzz round DO 3); a config file keeps its path, which its serve line reads again
    system = catalog.system(system).id
    # a model priced as another's entry keeps its own name (catalog.stand_in_name), which the assumptions explain
    model = model if model_file(model) else (catalog.stand_in_name(model) or the_model.name)
    if rank_per_die is None:  # a multi-die package runs one rank per die, as its frameworks and the other commands do
        rank_per_die = catalog.system(system).chip.dies > 1
    if "moe" not in the_model.features and (given := typed_options(_EXPERTS_ONLY)):
        one = len(given) == 1
        raise ParityError(f"{', '.join(given)} set{'s' if one else ''} how experts are stored or placed; "
                          f"{the_model.name} is dense (no experts): leave {'it' if one else 'them'} out")
    if moe_overlap is not None and "moe" not in the_model.features:
        raise ParityError(f"--moe-overlap hides the experts' dispatch and combine under computation; "
                          f"{the_model.name} is dense (no experts): leave it out")
    if mla_decode and "mla" not in the_model.features:
        raise ParityError(f"--mla-decode applies to models with MLA attention (DeepSeek-V3/R1, Kimi K2); {model} has "
                          "none")
    if max_concurrency is not None and request_rate is None and trace is None:
        raise ParityError("--max-concurrency caps the requests in flight of an open loop (--request-rate or --trace); "
                          "a closed loop's clients are --concurrency")
    if max_concurrency is not None and typed_options({"--concurrency": "concurrency"}):
        raise ParityError("--concurrency with --max-concurrency: an open loop's clients are its cap on requests in "
                          "flight (--max-concurrency), which also sets the client profile's count of prompts; give "
                          "one of them")
    concurrency = max_concurrency or concurrency
    given_range, random_range_ratio = random_range_ratio, 1.0 if random_range_ratio is None else random_range_ratio
    if client is None and random_range_ratio >= 1.0 and (request_rate is not None or (trace is not None and not
                                                                                  mode == "disagg")):
        client = "vllm"  # an open loop is vLLM's benchmark (its --request-rate); aiconfigurator's runs closed loops
    if fixed_rate and trace is not None:  # it advised a --request-rate, which a trace refuses (fuzzDG 6)
        raise ParityError("--fixed-rate spaces the arrivals of --request-rate evenly; a --trace gives each request's "
                          "own arrival: leave --fixed-rate out")
    if fixed_rate and (request_rate is None or math.isinf(request_rate)):
        raise ParityError("--fixed-rate spaces the arrivals of --request-rate evenly: give it a finite --request-rate "
                          "(inf sends every request at once)")
    if lengths is not None and scenario == "closed":
        raise ParityError("--lengths is read by --scenario offline or server; a closed loop draws lengths around "
                          "--isl and --osl (--random-range-ratio), or replays --trace")
    settings = (() if adp_hold_steps is None else (("attention_dp_hold_steps", adp_hold_steps),)) + launch.settings
    layout = Layout(tp=tp, pp=pp, attn_dp=attn_dp, moe_tp=moe_tp or 0, moe_ep=moe_ep or 0,
                    redundant_experts=redundant_experts, shared_expert_replicas=shared_expert_replicas)
    _refuse_expert_group(layout, {"tp": "--tp", "attn_dp": "--attn-dp", "moe_tp": "--moe-tp", "moe_ep": "--moe-ep"})
    disagg = mode == "disagg"
    split_only = {"--prefill-workers": prefill_workers, "--decode-workers": decode_workers,
                  "--prefill-system": prefill_system, "--decode-tp": decode_tp, "--decode-pp": decode_pp,
                  "--decode-attn-dp": decode_attn_dp, "--decode-moe-tp": decode_moe_tp, "--decode-moe-ep": decode_moe_ep}
    given = [name for name, value in split_only.items() if value] + typed_options(LAUNCH_DISAGG_ONLY)
    if given and not disagg:
        one = len(given) == 1
        raise ParityError(f"{', '.join(given)} set{'s' if one else ''} the disaggregated workers: add --mode disagg, "
                          f"or leave {'it' if one else 'them'} out")
    if typed_options({"--adp-hold-steps": "adp_hold_steps"}) and max(attn_dp, decode_attn_dp or attn_dp) == 1:
        raise ParityError("--adp-hold-steps holds new prompts until every attention-DP rank has one: at --attn-dp 1 "
                          + ("(and --decode-attn-dp 1) " if disagg else "")
                          + "a worker has one rank and nothing is held; add --attn-dp, or leave it out")
    if phase != "both":
        if not batch:
            raise ParityError(f"--phase {phase} needs --batch")
        if phase == "decode" and not context:
            raise ParityError("--phase decode needs --context")
        ranks = layout.attn_dp or 1
        if phase == "prefill" and batch % ranks:
            # prefill_benchmark prices the mean rank's share (1 prompt on 32 ranks read 0.03125 a rank, as if every
            # rank prefilled a 32nd of it), where the rank holding a prompt runs it whole (fuzz round DN 8)
            raise ParityError(f"--phase prefill prices a step of whole prompts on each attention-DP rank: --batch "
                              f"{batch:,} on {ranks} ranks does not divide; give a multiple of {ranks}")
    decode_layout = dataclasses.replace(layout, tp=decode_tp or tp, pp=decode_pp or pp,
                                        attn_dp=decode_attn_dp or attn_dp, moe_tp=decode_moe_tp or moe_tp or 0,
                                        moe_ep=decode_moe_ep or moe_ep or 0)
    _check_layout(the_model, layout, {"tp": "--tp", "pp": "--pp", "attn_dp": "--attn-dp", "moe_tp": "--moe-tp",
                                      "moe_ep": "--moe-ep"})
    if disagg:  # each degree named by the option that set it: the decode one, or the one it defaults to
        decode_options = {
            "tp": "--decode-tp" if decode_tp else "--tp", "pp": "--decode-pp" if decode_pp else "--pp",
            "attn_dp": "--decode-attn-dp" if decode_attn_dp else "--attn-dp",
            "moe_tp": "--moe-tp" if moe_tp and not decode_moe_tp else "--decode-moe-tp",
            "moe_ep": "--moe-ep" if moe_ep and not decode_moe_ep else "--decode-moe-ep"}
        _refuse_expert_group(decode_layout, decode_options)
        _check_layout(the_model, decode_layout, decode_options)
    case = Case(case_id="scenario", model=model, system=system, engine=engine, weights=weights,
                moe_weights=moe_weights, kv=kv, attention_format=attention_format, mode=mode,
                isl=isl, osl=osl, concurrency=concurrency, layout=layout,
                decode_layout=decode_layout if disagg else None,
                prefill_workers=prefill_workers if disagg else None, decode_workers=decode_workers if disagg else None,
                prefill_system=prefill_system if disagg else "",
                mtp_tokens=mtp_tokens, mtp_acceptance=mtp_acceptance, moe_overlap=moe_overlap,
                random_range_ratio=given_range, engine_settings=settings, rank_per_die=rank_per_die, phase=phase,
                batch=batch or 0,
                context=context or 0, offload_kv=offload_kv, offload_weights=offload_weights,
                mla_decode=mla_decode or "", **dict(launch.fields))
    requests: tuple[TraceRequest, ...] = ()
    lengths_and_load = ""  # the title's workload: lengths and how requests arrive
    if trace is not None:  # each request's lengths: the longest prompt and output are what must fit and be flagged
        if given := typed_options(_TRACE_REPLACES):
            raise ParityError(f"{', '.join(given)} with --trace: the trace gives each request's arrival and lengths")
        if disagg and client is not None:
            raise ParityError("--client with --trace and --mode disagg: the trace gives each request's arrival and "
                              "lengths, and a client's front end applies to aggregated runs only")
        if scenario != "closed":
            raise ParityError(f"--trace with --scenario {scenario}: a trace is replayed by the simulator, whose "
                              "runs are the closed-loop scenario's (the default)")
        requests = trace_of(column_rows(trace, ("arrival_s", "isl", "osl"), max_rows=MAX_SIMULATED_REQUESTS,
                                        too_many=trace_too_long()), trace.name)
        # what must fit before the run: the longest prompt and output as one request alone (a trace's requests arrive
        # at their own times, so there are no clients; the simulator queues or preempts what does not fit beside it,
        # and the closed-form rows are priced again at the run's peak in flight: open_loop_at_peak)
        case = dataclasses.replace(case, isl=max(r.isl for r in requests), osl=max(r.osl for r in requests),
                                   concurrency=1)
        lengths_and_load = _trace_text(trace, requests)
        # --explain prices a typical request's steps: the trace's mean lengths
        isl, osl = (round(sum(r.isl for r in requests) / len(requests)),
                    round(sum(r.osl for r in requests) / len(requests)))
    moe = "moe" in the_model.features
    if scenario != "closed":
        pairs = _read_lengths(lengths) if lengths else [(float(isl), float(osl))]
        # the longest prompt and output are what is flagged (past the context window), as a trace's are
        case = dataclasses.replace(case, isl=math.ceil(max(i for i, _ in pairs)),
                                   osl=math.ceil(max(o for _, o in pairs)))
        _refuse_an_unfit_mix(case, pairs, lengths, the_model)
        if scenario == "offline":
            _serve_offline(case, pairs, lengths, moe, explain, fmt, out)
        else:
            _serve_server(case, pairs, lengths, moe, request_rate, explain, fmt, out)
        return
    if phase != "both":
        _serve_phase(case, moe, explain, fmt, out)
        return
    lengths_note = ""
    if not simulated and given_range is None:  # the steady model draws lengths as the simulator's default client does
        default_client = client_of(scenario_of(case))
        case = dataclasses.replace(case, random_range_ratio=default_client.range_ratio)
        lengths_note = f"; {default_client.lengths} (the {default_client.id} client profile's, as --sim draws them)"
    (prediction,) = predict_cases([case])
    if not prediction.feasible:
        # the note gives the lengths it was sized at (a trace's longest prompt and output): what is checked, where
        raise ParityError(prediction.note + (" (the trace's longest prompt and output)"
                                             if requests else "")
                          + (_search_hint(case, the_model) if prediction.note.startswith("does not fit") else ""))
    bench, resolved = None, scenario_of(case)
    if simulated:
        options: dict[str, object] = {"num_prompts": num_prompts, "request_rate": request_rate,
                                      "poisson": not fixed_rate, "seed": seed, "max_concurrency": max_concurrency}
        bench = benchmark_of(resolved, client, **options, **({"trace": requests} if requests else {}))
        _refuse_what_the_run_does_not_read(case, resolved, bench)
    _refuse_what_the_run_cannot_use(case, bench)
    data = prediction.row()
    # the line that runs it again (a trace by the path it was given)
    rerun = serve_command(
        case, moe=moe, model_kind="sim" if simulated else "steady",
        request_rate=request_rate if simulated else None, client=client or "", max_concurrency=max_concurrency,
        trace=str(trace) if requests else "", clients=bench is None or bench.counts_clients()) + "".join(
        f" {option}" for option, typed in (("--fixed-rate", fixed_rate), (f"--num-prompts {num_prompts}", num_prompts),
                                           (f"--seed {seed}", seed)) if simulated and typed)
    # which model priced the table: the simulator's note names itself (simulated_note), the closed form's does not
    priced_by = "" if bench is not None else STEADY_PRICED
    data = {**data, "note": priced_by + data["note"] + lengths_note}  # its flags a list, as compare's (Prediction.row)
    percentile_rows: list[dict[str, object]] = []
    if bench is not None:
        data, percentile_rows = _simulated(case, prediction, bench, timeline)
    data = {"case_id": data["case_id"], **serve_inputs(case, resolved, rerun), **_workload(case, trace, requests,
                                                                                   bench), **data}
    texts = interval_texts(data)
    band = "" if math.isnan(data["ttft_s_low"]) else " (80% interval)"  # none: open-loop or trace runs
    rows = [{"quantity": k, "value": v} for k, v in (
        (f"TTFT [ms]{band}", texts["ttft_text"]), (f"TPOT [ms]{band}", texts["tpot_text"]),
        (f"output tokens/s per chip{band}", texts["rate_text"]),
        ("output tokens/s per user", _number(data["output_tokens_per_s_per_user"], 1.0)),
        ("chips", f"{data['chips']:g}"), *_workers_row(data),
        _memory_row(data),
        ("decode batch per rank", f"{data.get('decode_batch', 0):,.1f}"),
        ("prefill share of engine time", f"{data.get('prefill_utilization', 0):.0%}"),
        ("outside what was validated", "; ".join(data["flags"]) or "no"))] + percentile_rows
    for target in targets:
        value = data[target.key]
        rows.append({"quantity": f"target {target}", "value": _target_text(target, data)})
        data = {**data, f"meets_{target.key}": bool(value <= target.seconds)}
    steps: Tables = []  # --explain's tables under the record
    if explain:
        # the lengths the run draws (a trace's isl and osl are already its means): the client's range under --sim,
        # the one the steady model drew at otherwise
        drawn = (1.0 if requests else bench.client.range_ratio if bench is not None
                 else 1.0 if case.random_range_ratio is None else case.random_range_ratio)
        explained, steps = typical_steps(scenario_of(case), float(data.get("decode_batch", 1.0)), isl, osl,
                                         range_ratio=drawn)
        data = {**data, **explained}
    load = _load(concurrency, request_rate if simulated else None, data.get("requests"), max_concurrency, bench)
    emit_record(rows, fmt,
                title=(f"{catalog.stand_in_name(model) or the_model.name} on {system} ({mode}, "
                       + (lengths_and_load or f"{isl} in / {osl} out, {load}") + ")"),
                caption="Assumptions: " + data["note"], payload=data, out=out, tables=steps)


def _target_text(target: LatencyTarget, data: dict[str, object]) -> str:
    """'met (80.2 ms)' or 'missed (250.0 ms)'; a TTFT target met from the send (vLLM's benchmark counts TTFT from
    there) that TTFT from arrival misses (a capped client held requests back: ttft_from_arrival_*, in the target's
    statistic) is met from the send only, and says so with the wait at the client in that statistic."""
    value = float(data[target.key])  # type: ignore[arg-type]
    if value > target.seconds:
        return f"missed ({value * 1e3:,.1f} ms)"
    arrival = data.get(target.key.replace("ttft", "ttft_from_arrival", 1)) if target.metric == "ttft" else None
    if not isinstance(arrival, float) or not arrival > target.seconds:
        return f"met ({value * 1e3:,.1f} ms)"
    wait = float(data[target.key.replace("ttft", "client_wait", 1)])  # type: ignore[arg-type]
    statistic = "on average" if target.statistic == "mean" else f"({target.statistic})"
    return (f"met from the send only ({value * 1e3:,.1f} ms), not from arrival ({arrival * 1e3:,.1f} ms): requests "
            f"waited {duration_text(wait)} at the client {statistic}")


def _workers_row(data: dict[str, object]) -> tuple[tuple[str, str], ...]:
    """A disaggregated record's whole workers as a table row ('12 prefill + 1 decode'); none for an aggregated one."""
    prefill, decode = data.get("prefill_workers"), data.get("decode_workers")
    if not isinstance(prefill, float | int) or not isinstance(decode, float | int) or math.isnan(prefill):
        return ()
    return (("workers", f"{prefill:g} prefill + {decode:g} decode"),)


def _search_hint(case: Case, model: Model) -> str:
    """'; `parity search ...` lists the layouts that fit' after a case that does not fit: the search of its model,
    system, engine, weights, KV format (where given, or serve's differs from the search's), lengths and MTP drafts
    (where the search's default differs),
    with the --chips of the fewest systems a worker must span where one
    system's scale-up domain cannot hold the model (compare.systems_to_hold, as search's own refusal counts them);
    '' where no worker search prices holds it, or the search would refuse the weights. Where serve priced the
    checkpoint's format by default and the chip emulates it (DeepSeek-R1's fp8_block on a 910C), the search is of the
    format compare and fleet run there (best_precision: int8), and the hint says so and how serve runs it."""
    system = catalog.system(case.system)
    profile = catalog.engine_on(catalog.engine(case.engine or "generic"), system.chip.software_stack)
    # the weights serve priced: the checkpoint's as engines load it (served_format) where none were given (search
    # would pick the chip's narrowest native format, int8 for DeepSeek-R1's fp8_block on a 910C); a checkpoint of two
    # formats is left to search
    weights = case.weights or (served_format(model.weight_format)
                               if model.expert_weight_format == model.weight_format else "")
    native, emulated = "", ""
    try:
        if weights and not case.weights and math_unit(format_named(weights), system.chip)[1]:
            # a search of the emulated checkpoint format finds layouts no one would run: the native one compare runs
            native, emulated = best_precision(model, system.chip).weights, weights
            weights = ""
        # the KV format serve ran (the engine's default where none was given: predict.scenario.engine_kv), given
        # to the search where its own (the best the chip offers) differs: it sets the bytes each sequence takes
        kv = case.kv or engine_kv(profile, system.chip, case.weights or served_format(model.weight_format),
                                  case.moe_weights or case.weights or served_format(model.expert_weight_format))
        searched_kv = best_precision(model, system.chip, weights or None).kv_cache
        precision = best_precision(model, system.chip, weights or None, kv)
    except ParityError:
        return ""
    spans = systems_to_hold(model, per_die(system), profile, precision, case.isl + case.osl)
    if spans is None:
        return ""
    options = ["--model", case.model, "--system", case.system]
    options += ["--engine", case.engine] if case.engine not in ("", "generic") else []
    options += ["--weights", weights] if weights else []
    options += ["--kv", kv] if case.kv or kv != searched_kv else []
    options += [word for option, tokens in (("--isl", case.isl), ("--osl", case.osl)) if tokens != 1024  # search's
                for word in (option, str(tokens))]
    # the drafts serve ran (0 unless --mtp), where the search's default differs (one on DeepSeek-R1): their layers
    # and KV take memory
    options += ["--mtp", str(case.mtp_tokens)] if case.mtp_tokens != catalog.mtp_drafts(model, None) else []
    return (f"; `parity search {shlex.join(options)}{f' --chips {spans * system.chips}' if spans > 1 else ''}` "
            "lists the layouts that fit"
            + (f" in {native}, which the chip runs natively, as compare and fleet price it (serve --weights {native} "
               f"runs it; the checkpoint's {emulated}, serve's default, is emulated on the chip)" if native else ""))


# the head of a steady-state run's assumptions, naming the model that priced it (a simulated run's note names its own)
STEADY_PRICED = "steady-state model (--model-kind steady: closed form, no simulated run): "


# options only the simulator reads (it runs the closed-loop scenario, --phase both): option -> its parameter
_SIMULATOR_ONLY = {"--client": "client", "--num-prompts": "num_prompts", "--fixed-rate": "fixed_rate",
                   "--max-concurrency": "max_concurrency", "--timeline": "timeline", "--seed": "seed",
                   **LAUNCH_SIMULATOR_ONLY}
# options of a mixture-of-experts model's experts, which a dense model has none of: option -> its parameter
_EXPERTS_ONLY = {"--moe-weights": "moe_weights", "--moe-tp": "moe_tp", "--moe-ep": "moe_ep",
                 "--redundant-experts": "redundant_experts", "--shared-expert-replicas": "shared_expert_replicas",
                 "--decode-moe-tp": "decode_moe_tp", "--decode-moe-ep": "decode_moe_ep"}


def _refuse_expert_group(layout: Layout, options: dict[str, str]) -> None:
    """Refuse expert degrees that do not fill a worker's MoE group (tp x attn_dp), naming the options that set
    them (`options`: Layout field -> option) and the degree derived from the other when only one was given."""
    if not (layout.moe_tp or layout.moe_ep):
        return
    r = layout.resolved()
    if r.moe_tp * r.moe_ep == r.moe_group:
        return
    group = f"{options['tp']} x {options['attn_dp']} ({layout.tp} x {layout.attn_dp} = {layout.moe_group})"
    if layout.moe_tp and layout.moe_ep:
        raise ParityError(f"{options['moe_tp']} x {options['moe_ep']} must equal {group}, got "
                          f"{layout.moe_tp} x {layout.moe_ep}")
    given, derived = ("moe_tp", "moe_ep") if layout.moe_tp else ("moe_ep", "moe_tp")
    value, other = getattr(layout, given), getattr(r, derived)
    quotient = f"{layout.moe_group} // {value}"  # Layout.resolved: at least 1
    quotient = quotient if layout.moe_group >= value else f"max(1, {quotient})"
    raise ParityError(f"{options[given]} must divide {group}, got {value}: {options[derived]}, not given, is derived "
                      f"as {quotient} = {other}, and {value} x {other} = {value * other}")


def _check_layout(model: Model, layout: Layout, options: dict[str, str]) -> None:
    """Refuse a layout the model cannot be split by (Layout.check), its message naming the option the user typed
    (`options`: Layout field -> option) for the field it names: '--decode-tp must divide num_attention_heads (128),
    got 3', where the library's 'tp must ...' left a disaggregated run's user to guess which tp."""
    try:
        layout.check(model)
    except ParityError as err:
        head, must, rest = str(err).partition(" must ")
        named = re.sub(r"\b(" + "|".join(options) + r")\b", lambda m: options[m.group(1)], head)
        if not must or named == head:
            raise
        raise ParityError(f"{named}{must}{rest}") from err


def _workload(case: Case, trace: Path | None, requests: Sequence[TraceRequest], bench: Benchmark | None
              ) -> dict[str, object]:
    """What a record says of the requests it ran, over serve_inputs' lengths and clients: a trace's path, and its mean
    lengths as isl and osl beside its longest (isl_max, osl_max; a closed loop's nominal lengths are its longest); no
    concurrency (None) where requests arrive at their own times (a rate or a trace), but a cap on those in flight."""
    isl, osl = case.isl, case.osl
    out: dict[str, object] = {"isl_max": isl, "osl_max": osl, "trace": str(trace) if trace is not None else None}
    if requests:
        out |= {"isl": sum(r.isl for r in requests) / len(requests), "osl": sum(r.osl for r in requests) / len(requests)}
    if bench is not None and (bench.request_rate is not None or bench.trace):
        out["concurrency"] = bench.max_concurrency
    return out


# options whose requests a --trace replaces (its arrivals and lengths): option -> its parameter
_TRACE_REPLACES = {"--isl": "isl", "--osl": "osl", "--concurrency": "concurrency",
                   "--random-range-ratio": "random_range_ratio", "--request-rate": "request_rate",
                   "--fixed-rate": "fixed_rate", "--num-prompts": "num_prompts"}


def _trace_text(trace: Path, requests: Sequence[TraceRequest]) -> str:
    """A trace for a title: 'trace t.csv: 40 requests over 9.8 s, 1,032 in (at most 1,990) / 231 out (at most 398)',
    mean lengths."""
    n = len(requests)
    isl, osl = [r.isl for r in requests], [r.osl for r in requests]
    span = requests[-1].arrival_s - requests[0].arrival_s  # trace_of sorts them by arrival
    return (f"trace {trace.name}: {n:,} request{'s' if n != 1 else ''}" + (f" over {span:,.1f} s" if span else "")
            + f", {sum(isl) / n:,.0f} in (at most {max(isl):,}) / {sum(osl) / n:,.0f} out (at most {max(osl):,})")


# options of the closed-loop benchmark that one fixed-batch step of --phase decode|prefill leaves unread
_CLOSED_LOOP_ONLY = {"--concurrency": "concurrency", "--osl": "osl", "--random-range-ratio": "random_range_ratio",
                     "--prefill-workers": "prefill_workers", "--decode-workers": "decode_workers",
                     "--adp-hold-steps": "adp_hold_steps", "--ttft": "ttft_target",
                     "--tpot": "tpot_target", "--sim": "use_sim", "--client": "client", "--num-prompts": "num_prompts",
                     "--fixed-rate": "fixed_rate", "--request-rate": "request_rate", "--trace": "trace",
                     "--max-concurrency": "max_concurrency", "--timeline": "timeline", "--seed": "seed"}
# and those the other phase reads: a decode step's sequences hold --context, a prefill step's prompts --isl; MTP
# drafts are decode's (a prefill step prices the main model's forward over the prompts, as the closed loop's prefill)
_OTHER_PHASE_ONLY = {"decode": {"--isl": "isl", "--prefill-system": "prefill_system"},
                     "prefill": {"--context": "context", "--decode-tp": "decode_tp", "--decode-pp": "decode_pp",
                                 "--decode-attn-dp": "decode_attn_dp", "--decode-moe-tp": "decode_moe_tp",
                                 "--decode-moe-ep": "decode_moe_ep", "--mtp": "mtp_tokens",
                                 "--mtp-acceptance": "mtp_acceptance"}}


def _refuse_options_a_phase_ignores(phase: str, scenario: str, model_kind: str) -> None:
    """Refuse an option given on the command line that one fixed-batch --phase step would silently ignore."""
    if scenario != "closed":
        raise ParityError(f"--phase {phase} is one fixed-batch step; --scenario {scenario} runs whole requests: "
                          "leave one out")
    given = typed_options(_CLOSED_LOOP_ONLY | LAUNCH_LOOP_ONLY | _OTHER_PHASE_ONLY[phase])
    if model_kind == "sim" and typed_options({"--model-kind": "model_kind"}):
        given.append("--model-kind sim")
    if given:
        one = len(given) == 1
        raise ParityError(f"{', '.join(given)} {'is' if one else 'are'} not read by --phase {phase} (one step of "
                          f"--batch {'sequences at --context' if phase == 'decode' else 'prompts of --isl'} tokens): "
                          f"leave {'it' if one else 'them'} out")


# options of the closed-loop benchmark that --scenario offline|server (one aggregated worker priced in closed form)
# leave unread: option -> its parameter
_NOT_SCENARIO = {"--concurrency": "concurrency", "--random-range-ratio": "random_range_ratio",
                 "--ttft": "ttft_target", "--tpot": "tpot_target"}


def _refuse_options_a_scenario_ignores(scenario: str, lengths: bool, mode: str) -> None:
    """Refuse an option given on the command line that --scenario offline or server would silently ignore: the
    closed loop's clients, length draws and targets, its disaggregated workers, --isl and --osl
    beside --lengths (whose rows are the requests), and --request-rate where the worker is saturated (offline)."""
    given = typed_options(_NOT_SCENARIO | ({"--isl": "isl", "--osl": "osl"} if lengths else {})
                          | ({"--request-rate": "request_rate"} if scenario == "offline" else {}))
    given += ["--mode disagg"] if mode == "disagg" else []
    if given:
        one = len(given) == 1
        runs = "a saturated worker" if scenario == "offline" else "one worker under Poisson arrivals at --request-rate"
        raise ParityError(f"{', '.join(given)} {'is' if one else 'are'} not read by --scenario {scenario} ({runs}, "
                          f"aggregated, over {'the requests of --lengths' if lengths else 'requests of --isl and --osl'})"
                          f": leave {'it' if one else 'them'} out")


def _record_head(case: Case, scenario: Scenario, rerun: str, **workload: object) -> dict[str, object]:
    """The head of a record of serve's --phase steps and --scenario offline|server, under the keys of the closed
    loop's (serve_inputs: the case's names, formats, layouts and its serve line `rerun`), with `workload`: what it
    ran in place of the closed loop's clients and lengths, a key it does not read None (a decode step's osl)."""
    return {"case_id": case.case_id, **serve_inputs(case, scenario, rerun), **workload}


def _priced(scenario: Scenario, chips: float, assumptions: Sequence[str]) -> dict[str, object]:
    """What a record says of how a scenario was priced, under the closed loop's keys (Prediction.row): its chips
    (a count, an integer), its note (case_note: `assumptions` among what resolving and calibrating it said), the flags
    of where it lies outside what was validated (a list) and the math units its formats are emulated on."""
    return {"chips": whole(chips), "feasible": True, "note": case_note(scenario, assumptions),
            "flags": flag_texts(flags(scenario)), "emulated_on": scenario.emulated_on,
            "expert_emulated_on": scenario.expert_emulated_on}


def _serve_phase(case: Case, moe: bool, explain: bool, fmt: str, out: Path | None) -> None:
    """One fixed-batch decode or prefill step: step time, TPOT and the rates per chip; `explain`: where its time
    goes."""
    phase = case.phase
    (prediction,) = predict_cases([case])
    if not prediction.feasible:
        raise ParityError(prediction.note)
    data = prediction.row()  # its flags a list, as compare's
    # the case as serve's other records state it, with the step's workload in place of the closed loop's clients
    decode = phase == "decode"
    head = _record_head(case, scenario_of(case), serve_command(case, moe=moe), concurrency=None,
                        isl=None if decode else case.isl, osl=None, batch=case.batch,
                        context=case.context if decode else None)
    # the step's figures and their 80% bounds (predict.steady.phase_bounds: a decode step's TPOT band, a prefill
    # step's TTFT band), and the busiest rank's batch, which paces a decode step, beside the mean
    figures = [f"{k}{end}" for k in ("step_s", "tpot_s", "ttft_s", "output_tokens_per_s_per_chip",
                                     "input_tokens_per_s_per_chip") for end in ("", "_low", "_high")]
    payload = head | {k: data[k] for k in (*figures, "chips", "feasible", "memory_bytes_per_chip",
                                           "memory_bytes_per_die", "batch_per_rank", "busiest_rank_batch", "note",
                                           "flags", "emulated_on", "expert_emulated_on")
                      if k in data and not (k.startswith("ttft_s") and decode)}
    experts = "" if payload["moe_weights"] == payload["weights"] else f" (experts {payload['moe_weights']})"
    band = " (80% interval)" if "step_s_low" in payload else ""

    def shown_with_band(key: str, scale: float) -> str:  # '31.79 (27.23-44.45)': milliseconds to 2 decimals
        low, high = payload.get(f"{key}_low"), payload.get(f"{key}_high")
        figure = (lambda v: f"{v * scale:,.2f}") if scale != 1.0 else (lambda v: f"{v:,.1f}")
        return figure(payload[key]) + (f" ({figure(low)}-{figure(high)})" if band and low is not None else "")

    mean, busiest = data["batch_per_rank"], data["busiest_rank_batch"]
    shown = [(f"step time [ms]{band}", shown_with_band("step_s", 1e3)), ("chips", f"{data['chips']:g}"),
             ("batch per attention-DP rank", f"{mean:g}" + (f" (the busiest rank {busiest:g}, the step's pace)"
                                                            if busiest != mean else "")),
             ("weights / KV cache", f"{payload['weights']}{experts} / {payload['kv_cache']}")]
    if phase == "decode":
        shown += [(f"TPOT [ms]{band}", shown_with_band("tpot_s", 1e3)),
                  (f"output tokens/s per chip{band}", shown_with_band("output_tokens_per_s_per_chip", 1.0))]
    else:
        shown += [(f"input tokens/s per chip{band}", shown_with_band("input_tokens_per_s_per_chip", 1.0))]
    # per chip (per die where a die is a rank), as serve's other rows and the JSON's key say: 'per rank' read one chip
    # beside an assumption's 'rank' of 4 chips (report-only tester fuzzDF 9)
    shown += [_memory_row(data), ("outside what was validated", "; ".join(data["flags"]) or "no")]
    explained, steps = phase_step(scenario_of(case)) if explain else ({}, [])
    emit_record([{"quantity": k, "value": v} for k, v in shown], fmt,
                title=f"{case.model} on {case.system}: one {phase} step of "
                      f"{counted(case.batch, 'sequence' if phase == 'decode' else 'prompt')}",
                caption="Assumptions: " + str(data["note"]), payload=payload | explained, out=out, tables=steps)


def _read_lengths(path: Path) -> list[tuple[float, float]]:
    """(prompt, output) tokens of each row of a lengths table, each a finite number of at least 1."""
    out = []
    for line, row in column_rows(path, ("isl", "osl")):
        try:
            isl, osl = float(row[0]), float(row[1])  # type: ignore[arg-type]
        except (TypeError, ValueError) as err:
            raise ParityError(f"{path.name} line {line:,}: isl and osl must be numbers, got {row[0]!r}, {row[1]!r}"
                              ) from err
        if not (1 <= isl <= TOKENS.most and 1 <= osl <= TOKENS.most):
            raise ParityError(f"{path.name} line {line:,}: isl and osl must be token counts of 1 to {TOKENS.most:,}, "
                              f"got {row[0]}, {row[1]}")
        out.append((isl, osl))
    return out


def _refuse_an_unfit_mix(case: Case, pairs: Sequence[tuple[float, float]], lengths: Path | None,
                         model: Model) -> None:
    """Refuse an offline or server mix whose longest request does not fit alone (scenarios.longest_request), as a
    closed loop's or a trace's refusal says it: what that request lacks per chip, its lengths and the search that
    lists layouts that fit. Sized at the mix's mean, 1,000 + 100 and 500,000 + 1,000 tokens was priced at 3.8 tokens/s
    a chip, and --isl 500000 alone said only 'not even one request's KV cache fits beside the weights'."""
    scenario = scenario_of(case)
    mem, (isl, osl) = longest_request(deployment(scenario, scenario.layout), scenario.engine, pairs)
    if bool(mem.fits):
        return
    which = f"the longest request in {lengths.name}" if lengths else "the longest requests"
    raise ParityError(shortfall_text(mem, scenario.system, where="one request alone ")
                      + f", at {which} ({isl:,.0f} prompt + {osl:,.0f} output tokens)" + _search_hint(case, model))


def _mix_head(case: Case, scenario: Scenario, pairs: Sequence[tuple[float, float]], lengths: Path | None,
              moe: bool, request_rate: float | None = None) -> dict[str, object]:
    """The head of an offline or server record (_record_head): no clients (None), the mix's mean lengths as isl and
    osl (integers where whole) beside its longest (isl_max, osl_max, the case's), the --lengths table's path (None:
    --isl and --osl) and a server's request_rate [requests/s per worker], as a trace's record says them."""
    rerun = serve_command(case, moe=moe, scenario="server" if request_rate else "offline",
                          lengths=str(lengths) if lengths else "", request_rate=request_rate)
    rate = {"request_rate": request_rate} if request_rate else {}
    return _record_head(case, scenario, rerun, concurrency=None, isl=whole(sum(i for i, _ in pairs) / len(pairs)),
                        osl=whole(sum(o for _, o in pairs) / len(pairs)), isl_max=case.isl, osl_max=case.osl,
                        lengths=str(lengths) if lengths else None, **rate)


def _serve_offline(case: Case, pairs: list[tuple[float, float]], lengths: Path | None, moe: bool, explain: bool,
                   fmt: str, out: Path | None) -> None:
    """MLPerf-style offline throughput of one worker over a length distribution; `explain`: where a decode step at
    its batch and a prompt's first chunk go."""
    scenario = scenario_of(case)
    try:
        result = offline_throughput(deployment(scenario, scenario.layout), scenario.engine, pairs)
    except ValueError as err:
        raise ParityError(f"--lengths: {err}") from err
    if not result.feasible:
        raise ParityError("; ".join(result.assumptions))
    payload = _mix_head(case, scenario, pairs, lengths, moe) | {
        "output_tokens_per_s_per_chip": result.output_tokens_per_s_per_chip,
        "input_tokens_per_s_per_chip": result.input_tokens_per_s_per_chip, "tpot_s": result.tpot_s,
        "decode_batch": result.decode_batch, "length_pairs": result.length_pairs,
        **_priced(scenario, result.chips, result.assumptions)}
    first = f"{pairs[0][0]:.0f} in / {pairs[0][1]:.0f} out"  # the lengths of --isl and --osl, or a mix's first pair
    shown = [("output tokens/s per chip", f"{result.output_tokens_per_s_per_chip:,.1f}"),
             ("input tokens/s per chip", f"{result.input_tokens_per_s_per_chip:,.1f}"),
             ("TPOT [ms]", f"{result.tpot_s * 1e3:,.2f}"), ("decode batch per rank", f"{result.decode_batch:g}"),
             ("chips", f"{result.chips:g}"),
             # the lengths priced, not a count of requests: an offline run keeps the engine full
             # (OfflineResult.length_pairs); --isl and --osl are one pair, said as the lengths
             ("length pairs in the mix", f"{result.length_pairs:,}") if lengths else
             ("lengths", first),
             ("outside what was validated", "; ".join(payload["flags"]) or "no")]
    mix = first if len(pairs) == 1 else f"a mix of {len(pairs):,} length pairs (--lengths)"
    explained, steps = _mix_steps(scenario, pairs, result.decode_batch, "offline") if explain else ({}, [])
    emit_record([{"quantity": k, "value": v} for k, v in shown], fmt,
                title=f"{case.model} on {case.system}: offline, {mix}",
                caption="Assumptions: " + payload["note"], payload=payload | explained, out=out, tables=steps)


def _mix_steps(scenario: Scenario, pairs: Sequence[tuple[float, float]], batch: float, name: str
               ) -> tuple[dict[str, object], Tables]:
    """--explain of --scenario offline|server: the closed loop's two tables (serve_explain.typical_steps) at the
    decode batch per rank the scenario found and the mix's mean lengths, as it priced its decode steps."""
    isl, osl = (sum(p[i] for p in pairs) / len(pairs) for i in (0, 1))
    return typical_steps(scenario, batch, isl, osl, found=f" (the {name} scenario's batch)")


def _load(concurrency: int, request_rate: float | None, requests: float | None, cap: int | None = None,
          bench: Benchmark | None = None) -> str:
    """How the run's requests arrive, for its title: closed-loop clients or an open-loop rate, and its cap on requests
    in flight, or where `bench`'s client profile counts prompts per client and no cap is given, that --concurrency
    set their count alone (aiconfigurator's 10 a client: '--concurrency 4' read as a cap sent 40 requests at 100/s)."""
    if request_rate is None:
        return f"{concurrency} client{'' if concurrency == 1 else 's'}"
    sent = f"{requests:,.0f} request{'' if requests == 1 else 's'}" if requests else "requests"
    capped = "" if cap is None else f", at most {cap:,} in flight"
    if cap is None and bench is not None and bench.counts_clients():
        capped = f": {bench.client.prompts_per_client:g} a client x --concurrency {concurrency:,}, no cap in flight"
    return (f"{sent} at once" if math.isinf(request_rate) else f"{sent} at {request_rate:g}/s") + capped


def _serve_server(case: Case, pairs: list[tuple[float, float]], lengths: Path | None, moe: bool, rate: float | None,
                  explain: bool, fmt: str, out: Path | None) -> None:
    """MLPerf-style server scenario: one worker under Poisson arrivals, mean and p99 TTFT, TPOT; `explain`: where a
    decode step at its batch and a prompt's first chunk go."""
    if rate is None or math.isinf(rate):
        raise ParityError("--scenario server needs a finite --request-rate (requests per second per worker)")
    scenario = scenario_of(case)
    result = server_latency(deployment(scenario, scenario.layout), scenario.engine, pairs, rate)
    if not result.feasible:
        raise ParityError("; ".join(result.assumptions) or "does not fit: the decoding sequences' KV cache")
    payload = _mix_head(case, scenario, pairs, lengths, moe, rate) | {
        "ttft_s": result.ttft_s, "ttft_p99_s": result.ttft_p99_s, "tpot_s": result.tpot_s,
        "output_tokens_per_s_per_chip": result.output_tokens_per_s_per_chip, "decode_batch": result.decode_batch,
        "prefill_utilization": result.prefill_utilization, **_priced(scenario, result.chips, result.assumptions)}
    shown = [("TTFT mean [ms]", f"{result.ttft_s * 1e3:,.1f}"), ("TTFT p99 [ms]", f"{result.ttft_p99_s * 1e3:,.1f}"),
             ("TPOT [ms]", f"{result.tpot_s * 1e3:,.2f}"),
             ("output tokens/s per chip", f"{result.output_tokens_per_s_per_chip:,.1f}"),
             ("decode batch per rank", f"{result.decode_batch:,.1f}"),
             ("prefill share of engine time", f"{result.prefill_utilization:.0%}"), ("chips", f"{result.chips:g}"),
             ("outside what was validated", "; ".join(payload["flags"]) or "no")]
    explained, steps = _mix_steps(scenario, pairs, result.decode_batch, "server") if explain else ({}, [])
    if steps:  # decodes wait out the prompt steps: TPOT is the decode step over the engine's time left to decodes
        rows, columns, title = steps[0]
        steps = [(rows, columns, f"{title}; the TPOT, {result.tpot_s * 1e3:,.2f} ms, is this step / (1 - "
                  f"{result.prefill_utilization:.1%}, the engine's time in prompt steps)"), *steps[1:]]
    emit_record([{"quantity": k, "value": v} for k, v in shown], fmt,
                title=f"{case.model} on {case.system}: server at {rate:g} requests/s",
                caption="Assumptions: " + payload["note"], payload=payload | explained, out=out, tables=steps)


def _refuse_what_the_run_does_not_read(case: Case, scenario: Scenario, bench: Benchmark) -> None:
    """Refuse --concurrency beside --request-rate where clients shape nothing (the requests arrive at the rate, and
    their count is the client profile's or --num-prompts'; a profile counting prompts a client, inferencex's and
    aiconfigurator's, reads it), and --seed where the simulated run draws nothing: no lengths from a range, no Poisson
    arrivals (Benchmark.draws), no MTP acceptance, no attention-DP rank drawn for a request on a disaggregated worker
    (routes_at_random)."""
    rate = bench.request_rate
    if rate is not None and not bench.counts_clients() and typed_options({"--concurrency": "concurrency"}):
        n = bench.arrivals().num_prompts
        requests = f"{n:,} request{'' if n == 1 else 's'}"
        sent = (f"the {requests} of --num-prompts" if bench.num_prompts else
                f"client profile {bench.client.id}'s {requests} (--num-prompts sets another count)")
        raise ParityError(f"--concurrency with --request-rate {rate:g}: the run sends {sent} "
                          f"{'all at once' if math.isinf(rate) else f'at {rate:g}/s'}, not from clients; vLLM's cap on "
                          "requests in flight is --max-concurrency: give that, or leave --concurrency out")
    ranks = max(case.layout.attn_dp, (case.decode_layout or case.layout).attn_dp)
    routed = case.mode == "disagg" and ranks > 1 and routes_at_random(scenario.engine)
    # MTP draws each step's accepted drafts unless it accepts none or every one (Mtp.probability 0 or 1)
    drafts = 0 < scenario.mtp_acceptance < scenario.mtp_tokens
    if bench.draws() or drafts or routed or not typed_options({"--seed": "seed"}):
        return
    arrivals = ("a closed loop" if rate is None else "every request at once" if math.isinf(rate) else
                "evenly spaced arrivals (--fixed-rate)")
    run = "the trace's own arrivals and lengths" if bench.trace else f"fixed lengths, {arrivals}"
    mtp = (f"MTP accepting {'every' if scenario.mtp_acceptance else 'no'} draft" if scenario.mtp_tokens else "no --mtp")
    raise ParityError(f"--seed seeds the simulator's draws of lengths, arrivals and MTP acceptance; this run draws "
                      f"none ({run}, {mtp}): leave it out")


def _refuse_what_the_run_cannot_use(case: Case, bench: Benchmark | None) -> None:
    """Refuse an open loop's cap on requests in flight above the requests it sends (it caps nothing), and
    disaggregated workers beyond the requests the run can have in flight (`bench`: the simulated run, None: the
    steady model's closed loop of case.concurrency): a decode worker holds at least one client's sequence and a
    prefill worker at least one prompt, so one beyond them never runs, yet its chips count in every per-chip figure
    and the simulator steps it (1,000 decode workers for 32 clients ran 20 s)."""
    clients, held, more = case.concurrency, f"{case.concurrency:,} client{'s' if case.concurrency != 1 else ''}", \
        "more --concurrency"
    if bench is not None and bench.request_rate is None and not bench.trace and bench.num_prompts \
            and bench.num_prompts < clients:  # a closed loop sends a client's next request as its last one ends
        given = "" if typed_options({"--concurrency": "concurrency"}) else ", serve's default"
        idle = clients - bench.num_prompts
        raise ParityError(f"--num-prompts {bench.num_prompts:,} is fewer than the {held} (--concurrency "
                          f"{clients:,}{given}): a closed loop of {counted(bench.num_prompts, 'request')} has at most "
                          f"{bench.num_prompts:,} in flight and {counted(idle, 'client')} never "
                          f"send{'s' if idle == 1 else ''}; give --concurrency {bench.num_prompts:,} for that run, or "
                          f"{clients:,} prompts or more")
    if bench is not None and (bench.request_rate is not None or bench.trace):
        sent = bench.arrivals().num_prompts
        source = "the trace's" if bench.trace else "--num-prompts" if bench.num_prompts else \
            f"client profile {bench.client.id}'s"
        cap = bench.max_concurrency
        if cap is not None and cap > sent:
            raise ParityError(f"--max-concurrency {cap:,} is above the {sent:,} requests the run sends ({source}), "
                              f"so it caps nothing: give at most {sent:,}, or leave it out")
        clients = min(cap or sent, sent)
        held, more = ((f"at most {cap:,} requests in flight (--max-concurrency)", "a higher --max-concurrency") if cap
                      else (f"the run's {sent:,} requests ({source})", "a longer trace" if bench.trace
                            else "more --num-prompts"))
    for role, workers, what in (("prefill", case.prefill_workers, "prompt"), ("decode", case.decode_workers, "client")):
        if workers is not None and workers > clients:
            raise ParityError(f"--{role}-workers {workers:,} with {held}: at most {clients:,} {role} workers can each "
                              f"hold a {what}; give fewer workers or {more}")


def _simulated(case: Case, prediction: Prediction, bench: Benchmark,
               timeline: Path | None) -> tuple[dict, list[dict[str, object]]]:
    """The steady prediction's row with the simulator's figures for the run `bench`, and table rows of its
    percentiles."""
    scenario, data = scenario_of(case), prediction.row()
    request_rate, trace = bench.request_rate, bench.trace
    workers = _workers(prediction)
    open_loop = bool(trace) or request_rate is not None
    sim = simulate_scenario(scenario, bench, workers=workers, timeline=timeline is not None or open_loop)
    overload = None
    if open_loop:  # its closed-form rows (memory, prefill share, worker sizing) at its own load, not --concurrency's
        prediction, sim, overload = open_loop_at_peak(prediction, scenario, sim, bench)
        data = prediction.row()
    if timeline is not None:
        deliver(to_csv(sim.timeline) if sim.timeline else "time_s\n", timeline)  # whole, and 'wrote ...' as --out
    out = {**data, **sim.latency, "ttft_s": sim.ttft_s, "tpot_s": sim.tpot_s,
           "output_tokens_per_s_per_chip": sim.output_tokens_per_s_per_chip,
           "output_tokens_per_s_per_user": sim.output_tokens_per_s_per_user, "chips": whole(sim.chips),
           "decode_batch": sim.decode_batch, "preemptions": sim.preemptions,
           "kv_waited": sim.kv_waited, "requests": sim.requests,
           "duration_s": sim.duration_s,
           "flags": flag_texts(raised := simulated_flags(prediction.flags, sim, bench, scenario.engine, scenario.mode,
                                                             overload))}
    out |= client_fields(sim, raised)  # the wait at the client, TTFT from arrival: what TTFT targets are read against
    nan = {k: float("nan") for k in ("ttft_s_low", "ttft_s_high", "tpot_s_low", "tpot_s_high",
                                     "output_tokens_per_s_per_chip_low", "output_tokens_per_s_per_chip_high")}
    # the simulator's own 80% bands (uncertainty_sim.toml) where the run is the benchmark they were built on
    own = {} if (request_rate is not None or trace) else interval_bounds(
        scenario, sim.ttft_s, sim.tpot_s, sim.output_tokens_per_s_per_chip, widening(raised), "sim")
    out |= nan | own | {"note": simulated_note(data["note"], sim.assumptions, scenario, bool(own), open_loop)}
    table = [{"quantity": f"{name.upper()} mean / p50 / p90 / p99 [ms]",
              "value": " / ".join(_number(sim.latency[k], 1e-3) for k in LATENCY_KEYS if k.startswith(name + "_"))}
             for name in ("ttft", "tpot", "itl", "e2e")]
    table += [{"quantity": "simulated requests (preempted)", "value": f"{sim.requests:,} ({sim.preemptions:,})"}]
    return out, table
