"""What serve's closed-loop record says: its figures for people (intervals, memory, workers, targets, load,
trace) and the simulator's figures of the run."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from parity.cli import deliver
from parity.flags import texts as flag_texts
from parity.predict import (Case, Prediction, interval_bounds, open_loop_at_peak, scenario_of, simulate_scenario,
                            simulated_flags, simulated_note, client_fields)
from parity.predict.simulated import _workers
from parity.uncertainty import widening
from parity.units import duration_text, whole
from parity.simulate import LATENCY_KEYS, Benchmark, TraceRequest
from parity.simulate.targets import LatencyTarget
from parity.report.tables import to_csv, with_interval


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


def target_met(target: LatencyTarget, data: dict[str, object]) -> bool | None:
    """Whether a run's record meets `target` in the statistic it names; None where no request has that statistic
    (a TPOT where every request outputs one token): the target judges nothing."""
    raw = data[target.key]
    value = float(raw) if isinstance(raw, int | float) else math.nan
    return None if math.isnan(value) else value <= target.seconds


def _target_text(target: LatencyTarget, data: dict[str, object]) -> str:
    """'met (80.2 ms)' or 'missed (250.0 ms)'; a TTFT target met from the send (vLLM's benchmark counts TTFT from
    there) that TTFT from arrival misses (a capped client held requests back: ttft_from_arrival_*, in the target's
    statistic) is met from the send only, and says so with the wait at the client in that statistic."""
    met = target_met(target, data)
    if met is None:
        return f"not judged: no request has a {target.metric.upper()} (none outputs a second token)"
    value = float(data[target.key])  # type: ignore[arg-type]
    if not met:
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


def _trace_text(trace: Path, requests: Sequence[TraceRequest]) -> str:
    """A trace for a title: 'trace t.csv: 40 requests over 9.8 s, 1,032 in (at most 1,990) / 231 out (at most 398)',
    mean lengths."""
    n = len(requests)
    isl, osl = [r.isl for r in requests], [r.osl for r in requests]
    span = requests[-1].arrival_s - requests[0].arrival_s  # trace_of sorts them by arrival
    return (f"trace {trace.name}: {n:,} request{'s' if n != 1 else ''}" + (f" over {span:,.1f} s" if span else "")
            + f", {sum(isl) / n:,.0f} in (at most {max(isl):,}) / {sum(osl) / n:,.0f} out (at most {max(osl):,})")


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
