"""The `parity serve` command line of a serving case, so that a search's or a comparison's pick can be run again."""

from __future__ import annotations

import math
import shlex
from collections.abc import Mapping

from parity import catalog
from parity.cli.launch_options import LAUNCH_COLUMNS, LAUNCH_SIMULATOR_COLUMNS, launch_words
from parity.errors import ParityError
from parity.hardware import System
from parity.plan import Layout, Precision
from parity.predict import Case, Prediction, Scenario, predict_cases
from parity.predict.refine import REFINE_KEYS, refine_candidate
from parity.search import Candidate, best_precision
from parity.units import duration_text

__all__ = ["serve_command", "serve_inputs", "disagg_rerun", "in_catalog", "as_compared", "simulated_as_compared",
           "SERVE_LINE_COLUMNS"]

# the columns of a predict row (predict.columns) that a steady serve_command says as options (the simulator's launch
# settings, as its clients and arrivals, a sweep's note names apart: sweep_cmd.SIMULATOR_COLUMNS)
_LAYOUT = ("tp", "pp", "attn_dp", "moe_tp", "moe_ep", "redundant_experts", "shared_expert_replicas")
SERVE_LINE_COLUMNS = frozenset((
    "case_id", "engine_version", "model", "system", "engine", "weights", "moe_weights", "kv", "attention_format",
    "mla_decode", "offload_kv", "offload_weights", "isl", "osl", "mode", "prefill_system", "prefill_workers",
    "decode_workers", "concurrency", "mtp_tokens", "mtp_acceptance", "moe_overlap", "attention_dp_hold_steps",
    "rank_per_die",
    "random_range_ratio", *(c for c in LAUNCH_COLUMNS if c not in LAUNCH_SIMULATOR_COLUMNS), *_LAYOUT,
    *(f"{side}_{k}" for side in ("prefill", "decode") for k in _LAYOUT)))


def _layout_options(layout: Layout, prefix: str, moe: bool) -> list[str]:
    """--tp/--pp/--attn-dp (and for a MoE model --moe-ep, from which serve derives --moe-tp) with a prefix
    ('decode-'); pp and attn_dp only where above 1, which serve defaults to."""
    options = [f"--{prefix}tp", str(layout.tp)]
    if layout.pp > 1 or prefix:  # a decode layout's pp and DP default to the prefill's: stated always
        options += [f"--{prefix}pp", str(layout.pp)]
    if layout.attn_dp > 1 or prefix:
        options += [f"--{prefix}attn-dp", str(layout.attn_dp)]
    if moe and layout.moe_ep:
        options += [f"--{prefix}moe-ep", str(layout.moe_ep)]
    if not prefix:  # serve places experts alike in both workers (the decode layout takes the prefill's)
        options += ["--redundant-experts", str(layout.redundant_experts)] if layout.redundant_experts else []
        options += (["--shared-expert-replicas", str(layout.shared_expert_replicas)]
                    if layout.shared_expert_replicas else [])
    return options


def serve_command(case: Case, *, moe: bool, model_kind: str = "steady", request_rate: float | None = None,
                  client: str = "", max_concurrency: int | None = None, trace: str = "", clients: bool = True,
                  scenario: str = "closed", lengths: str = "") -> str:
    """'parity serve --model ... --model-kind steady': the options that make `serve` price `case` as given (its
    formats, attention and offload settings, lengths and their spread, layouts and expert placement, clients, whole
    workers, the prefill workers' system, MTP and its acceptance, the experts' two-batch overlap, the engine's launch
    settings (launch_options.launch_words), and on a multi-die
    chip whether each die is a rank); `moe`: the
    model has experts (their split is stated);
    `request_rate` [requests/s]: the simulator's requests arrive at random at that rate (its clients' prompts);
    `client`: the benchmark client profile that sends them (named, since serve's own default for an open loop is
    vLLM's); `max_concurrency`: an open loop's cap on requests in flight (said in place of the clients, which it
    is); `trace`: the path of the trace the simulator replays (said in place of the lengths, clients and rate it
    gives); `clients`: False where the case's clients shape nothing (an open loop whose count of requests the client
    profile or --num-prompts sets: Benchmark.counts_clients), so --concurrency, which serve then refuses, is left
    out. A case of one --phase step says its --batch and --context (decode) or --isl (prefill); `scenario` offline or
    server (MLPerf's, priced in closed form) says it with `lengths`, the path of the lengths table it read in place
    of --isl and --osl, and a server's `request_rate`: neither has clients, drawn lengths or a --model-kind."""
    options = ["--model", case.model, "--system", case.system]
    if case.engine not in ("", "generic"):  # serve's default
        options += ["--engine", case.engine]
    options += ["--weights", case.weights] if case.weights else []
    options += ["--moe-weights", case.moe_weights] if case.moe_weights and case.moe_weights != case.weights else []
    options += ["--kv", case.kv] if case.kv else []
    options += ["--attention-format", case.attention_format] if case.attention_format else []
    options += ["--mla-decode", case.mla_decode] if case.mla_decode else []
    for option, share in (("--offload-kv", case.offload_kv), ("--offload-weights", case.offload_weights)):
        options += [option, repr(float(share))] if share else []
    closed = case.phase == "both" and scenario == "closed"  # the closed loop: clients, drawn lengths, a model kind
    if case.phase != "both":
        options += ["--phase", case.phase, "--batch", str(case.batch)]
        options += ["--context", str(case.context)] if case.phase == "decode" else ["--isl", str(case.isl)]
    elif not closed:
        options += ["--scenario", scenario]
    if case.phase == "both":
        options += (["--trace", trace] if trace else ["--lengths", lengths] if lengths else
                    ["--isl", str(case.isl), "--osl", str(case.osl)])
    if case.mode == "disagg":
        options += ["--mode", "disagg"]
    options += ["--prefill-system", case.prefill_system] if case.prefill_system else []
    options += _layout_options(case.layout, "", moe)
    if case.decode_layout is not None and case.phase != "prefill":  # a prefill step runs no decode worker
        options += _layout_options(case.decode_layout, "decode-", moe)
    if case.prefill_workers:
        options += ["--prefill-workers", str(case.prefill_workers)]
    if case.decode_workers:
        options += ["--decode-workers", str(case.decode_workers)]
    if max_concurrency:
        options += ["--max-concurrency", str(max_concurrency)]
    elif not trace and clients and closed:
        options += ["--concurrency", str(case.concurrency)]
    options += ["--request-rate", repr(float(request_rate))] if request_rate and not trace else []  # exact draws
    options += ["--client", client] if client else []
    options += ["--mtp", str(case.mtp_tokens)] if case.mtp_tokens else []
    options += ["--mtp-acceptance", repr(float(case.mtp_acceptance))] if case.mtp_acceptance else []
    options += ["--moe-overlap", repr(float(case.moe_overlap))] if case.moe_overlap is not None else []
    hold = dict(case.engine_settings).get("attention_dp_hold_steps")
    options += ["--adp-hold-steps", repr(float(hold))] if hold is not None else []
    # the engine's launch settings a table's columns set (launch_options), those the line's run reads
    options += launch_words(case, ("step",) if case.phase != "both" else ("step", "loop", "sim")
                            if closed and model_kind == "sim" else ("step", "loop"))
    dies = catalog.system(case.system).chip.dies
    if case.runs_per_die(dies):  # stated either way on a multi-die chip
        options += ["--rank-per-die"]
    elif dies > 1:
        options += ["--no-rank-per-die"]
    # the case's own spread of lengths (fixed in a search), where serve's default draws the client profile's
    if closed and not trace and (model_kind == "steady" or case.random_range_ratio is not None):
        options += ["--random-range-ratio", f"{1.0 if case.random_range_ratio is None else case.random_range_ratio:g}"]
    options += ["--model-kind", model_kind] if closed else []
    return "parity serve " + shlex.join(options)


def serve_inputs(case: Case, scenario: Scenario, rerun: str) -> dict[str, object]:
    """What a `parity serve` record states of its own run, so that the rows of many runs join and tell apart: the case's
    names and workload, its formats as resolved (the checkpoint's where none was given, the engine's KV format;
    unquantized_matrices: the matrices its skip list keeps bf16, a list as `parity model`'s), its layouts ('' the decode
    layout of an aggregated run), whether each die of a package was a rank (rank_per_die: then the record adds
    memory_bytes_per_die beside the package's memory_bytes_per_chip) and `rerun`, its serve_command."""
    precision = scenario.precision
    return {"model": case.model, "system": case.system, "engine": scenario.engine.id, "mode": case.mode,
            "layout": str(case.layout), "decode_layout": "" if case.decode_layout is None else str(case.decode_layout),
            "concurrency": case.concurrency, "isl": case.isl, "osl": case.osl, "weights": precision.weights,
            "moe_weights": precision.expert_weights, "kv_cache": precision.kv_cache,
            "unquantized_matrices": sorted(precision.unquantized), "mtp_tokens": case.mtp_tokens,
            "rank_per_die": scenario.system.chip.ranks_per_package > 1, "serve_command": rerun}


def disagg_rerun(candidate: Candidate, case: Case, utilization: float, priced: bool = True,
                 systems: Mapping[str, System] | None = None) -> tuple[str, dict[str, float]]:
    """What a disaggregated candidate's serve line (`case`, case_of_candidate) runs and prices, said beside the
    search's figures: its whole workers ('on 1 prefill per 2 decode workers, as the search priced them'; where the
    candidate's ratio is not theirs, one raised for a first wave, 'for the search's 1.38 per decode worker'), and,
    where `priced`, serve's steady figures for it (TTFT, TPOT, tokens/s per chip), said where they differ from the
    search's (_serve_differs). `utilization`: the engine's disagg_prefill_utilization, at which the search
    rate-matches its prefill workers before rounding them up to whole ones. `systems`: the case's system where it is
    a what-if (by its id), which a sweep prices (predict.refine.sweep_note), not serve: its figures are the sweep's."""
    ratio = candidate.prefill_workers_per_decode_worker
    own = case.prefill_workers == round(ratio * case.decode_workers) and abs(
        ratio * case.decode_workers - case.prefill_workers) < 1e-9
    said = (f"on {case.prefill_workers} prefill per {case.decode_workers} decode worker"
            f"{'s' if case.decode_workers != 1 else ''}, "
            + ("as the search priced them" if own else f"for the search's {ratio:.3g} per decode worker")
            + f": rate-matched at {utilization:.0%} prefill utilisation, rounded up to whole workers")
    served = predict_cases([case], systems)[0] if priced else None
    if served is None or not served.feasible:
        return said, {}
    prices = {"ttft_s": served.ttft_s, "tpot_s": served.tpot_s,
              "tokens_per_s_per_chip": served.output_tokens_per_s_per_chip}
    same = all(abs(prices[k] / getattr(candidate, k) - 1.0) < SAME_FIGURES for k in prices)
    pricer = "the sweep" if systems and case.system in systems else "serve's steady model"
    return (said if same else f"{said}; {_serve_differs(candidate, served, pricer)}"), prices


SAME_FIGURES = 0.005  # serve's figures within this share of the search's: the same, said as no difference


def _serve_differs(candidate: Candidate, served: Prediction, pricer: str = "serve's steady model") -> str:
    """What serve's steady model says of a disaggregated candidate's serve line where it differs from the search's
    figures: the search priced the candidate's own share of prefill workers per decode worker (one raised for a
    first wave, refine.prefill_for_first_wave), the line whole workers near it."""
    return (f"{pricer} prices it at TTFT {duration_text(served.ttft_s)}, TPOT "
            f"{duration_text(served.tpot_s)}, {served.output_tokens_per_s_per_chip:,.0f} tok/s/chip, where the "
            f"search gives {duration_text(candidate.ttft_s)}, {duration_text(candidate.tpot_s)}, "
            f"{candidate.tokens_per_s_per_chip:,.0f} for its {candidate.prefill_workers_per_decode_worker:.3g} "
            "prefill workers per decode worker")


def in_catalog(system: System) -> bool:
    """Whether `system` is the catalog's system of its id (a what-if variant is not, whatever its name): only those
    have a serve line (serve runs catalog systems)."""
    try:
        return catalog.system(system.id) == system
    except ParityError:
        return False


def as_compared(system: System, model_name: str, weights: str | None, mtp_tokens: int) -> tuple[Precision, int]:
    """The formats and MTP drafts a compare or fleet row's configuration was priced with (search.best_precision: the
    chip's narrowest native weights unless `weights` names them; the model's MTP at `mtp_tokens` drafts), as its
    simulation and its serve line run it again: the one place they read them, so the line is the case simulated."""
    model = catalog.model(model_name)
    return best_precision(model, system.chip, weights), catalog.mtp_setting(model, mtp_tokens)[0][0]


def simulated_as_compared(job: tuple[Candidate | None, System, str, str, int, int, int, str | None, str]
                          ) -> dict[str, object]:
    """A compare or fleet row's configuration (a Candidate; None where none was chosen) re-run by the step-level
    simulator as `parity serve --sim` would (refine_candidate: the formats and MTP it was priced with, as_compared;
    one rank per die of a multi-die package, rates per package as the deployment counts them): its REFINE_KEYS, NaN
    figures where there is none or the simulation fails (sim_case says why). The job's system is the row's, a what-if
    variant's included; a top-level function, as map_chunks pickles it."""
    candidate, system, model_name, engine, isl, osl, mtp_tokens, weights, arrivals = job
    if candidate is None:
        return {**{k: math.nan for k in REFINE_KEYS}, "sim_case": "no configuration to simulate", "sim_flags": []}
    precision, drafts = as_compared(system, model_name, weights, mtp_tokens)
    out = refine_candidate(candidate, model_name, system.id, engine, precision, isl, osl, drafts,
                           rank_per_die=system.chip.dies > 1, arrivals=arrivals, systems={system.id: system})
    return {k: v for k, v in out.items() if k in REFINE_KEYS}
