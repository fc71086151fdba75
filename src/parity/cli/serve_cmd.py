"""`parity serve`: one serving scenario in detail, from its options to the record it prints."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import click

from parity.cli import cli, emit_record, format_option, out_option, output_format, typed_options
from parity import catalog
from parity.cli.csv_input import column_rows
from parity.cli.files import model_file, refuse_overwrite
from parity.cli.launch_options import LAUNCH_DISAGG_ONLY, Launch, launch_options
from parity.cli.serve_explain import Tables, typical_steps
from parity.cli.serve_line import serve_command, serve_inputs
from parity.cli.serve_record import (_load, _memory_row, _number, _simulated, _target_text, _trace_text, _workers_row,
                                     _workload, interval_texts, target_met)
from parity.cli.serve_refusals import (_EXPERTS_ONLY, _SIMULATOR_ONLY, _TRACE_REPLACES, _check_layout,
                                       _refuse_an_unfit_mix, _refuse_expert_group, _refuse_options_a_phase_ignores,
                                       _refuse_options_a_scenario_ignores, _refuse_what_the_run_cannot_use,
                                       _refuse_what_the_run_does_not_read, _search_hint)
from parity.cli.serve_scenarios import _read_lengths, _serve_offline, _serve_phase, _serve_server
from parity.cli.values import (CONCURRENCY, ENGINE, FORMAT_NAME, PARALLEL, TOKENS, Count, Real, RequestRate,
                               StatisticTarget)
from parity.errors import ParityError
from parity.phase import PHASES
from parity.plan import Layout
from parity.predict import MODEL_KINDS, MOST_MTP_TOKENS, Case, benchmark_of, predict_cases, scenario_of
from parity.predict.case import OPEN_LOOP_CLIENTS
from parity.predict.simulated import client_of
from parity.simulate import CLIENT_PROFILES, TraceRequest, trace_of
from parity.simulate.benchmark import MAX_SIMULATED_REQUESTS, trace_too_long
from parity.simulate.targets import LatencyTarget


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
              help="sim: replay a CSV trace with columns arrival_s, isl, osl (rows in any order: replayed by arrival)")
@click.option("--timeline", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="sim: write queue length, prompts prefilled, running batch and KV use over time to this CSV, a "
                   "row per worker after each prompt step and each stretch of decode steps (time_s from the first "
                   "send; a trace's own clock; columns: docs/model.md)")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="sim: seed of the length, arrival (--request-rate) and MTP draws")
@click.option("--ttft", "ttft_target", type=StatisticTarget("ttft"), default=None,
              help="TTFT target: the mean (2s) or a named statistic (p99:2s, p50:800ms)")
@click.option("--tpot", "tpot_target", type=StatisticTarget("tpot"), default=None,
              help="TPOT target: the mean (50ms) or a named statistic (p90:60ms)")
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
        rows.append({"quantity": f"target {target}", "value": _target_text(target, data)})
        data = {**data, f"meets_{target.key}": target_met(target, data)}
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


# the head of a steady-state run's assumptions, naming the model that priced it (a simulated run's note names its own)
STEADY_PRICED = "steady-state model (--model-kind steady: closed form, no simulated run): "
