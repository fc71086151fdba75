"""serve's records of one --phase decode|prefill step and of MLPerf-style --scenario offline|server runs."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from parity.cli import emit_record
from parity.cli.csv_input import column_rows
from parity.cli.serve_explain import Tables, phase_step, typical_steps
from parity.cli.serve_line import serve_command, serve_inputs
from parity.cli.serve_record import _memory_row
from parity.cli.values import TOKENS
from parity.errors import ParityError
from parity.flags import texts as flag_texts
from parity.predict import Case, Scenario, case_note, deployment, flags, predict_cases, scenario_of
from parity.units import counted, whole
from parity.scenarios import offline_throughput, server_latency


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
