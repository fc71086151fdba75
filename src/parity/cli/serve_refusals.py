"""serve's refusals: options a run would silently ignore or cannot use, layouts a model cannot be split by,
and the `parity search` line that lists the layouts that fit."""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Sequence
from pathlib import Path

from parity.cli import typed_options
from parity import catalog
from parity.cli.launch_options import LAUNCH_LOOP_ONLY, LAUNCH_SIMULATOR_ONLY
from parity.compare import systems_to_hold
from parity.cost import math_unit
from parity.dtypes import format_named
from parity.errors import ParityError
from parity.hardware import per_die
from parity.model import Model
from parity.plan import Layout, served_format
from parity.search import best_precision
from parity.predict import Case, Scenario, deployment, scenario_of, shortfall_text
from parity.predict.precision import engine_kv
from parity.units import counted
from parity.scenarios import longest_request
from parity.simulate import Benchmark, routes_at_random


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
        # the KV format serve ran (the engine's default where none was given: predict.precision.engine_kv), given
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


# options whose requests a --trace replaces (its arrivals and lengths): option -> its parameter
_TRACE_REPLACES = {"--isl": "isl", "--osl": "osl", "--concurrency": "concurrency",
                   "--random-range-ratio": "random_range_ratio", "--request-rate": "request_rate",
                   "--fixed-rate": "fixed_rate", "--num-prompts": "num_prompts"}


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
