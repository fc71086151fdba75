"""serve --explain: where a step's time goes, as tables under serve's record. A run of requests (the closed loop,
--scenario offline|server) shows a typical decode step and a prompt's first chunk; --phase decode|prefill its step."""

from __future__ import annotations

from collections.abc import Sequence

from parity.ops import Batch
from parity.phase import busiest_rank, decode_benchmark_breakdown, prefill_benchmark_breakdown
from parity.predict import Scenario, deployment
from parity.report.tables import Column, plain, scaled
from parity.serving import mean_length
from parity.step import Part, breakdown, decode_breakdown, decode_spread
from parity.units import counted

__all__ = ["STEP_COLUMNS", "Tables", "typical_steps", "phase_step"]

STEP_COLUMNS = [Column("part", "op or collective", plain, "left"), Column("seconds", "ms per step", scaled(1e-3)),
                Column("bound", "bound by", plain, "left"), Column("detail", "format / algorithm", plain, "left")]

# emit_record's tables: (rows, columns, title) each
Tables = list[tuple[list[dict[str, object]], list[Column], str]]


def _rows(found: Sequence[Part]) -> list[dict[str, object]]:
    return [{"part": p.name, "seconds": p.seconds, "bound": p.bound, "detail": p.detail} for p in found]


def _verify(drafts: int) -> str:
    """' with 3 draft tokens (...)': with MTP the step verifies 1 + drafts tokens a sequence, after the drafts."""
    return (f" with {counted(drafts, 'draft token')} (the verify of {1 + drafts} tokens a sequence and {drafts} MTP "
            f"draft pass{'es' if drafts > 1 else ''})") if drafts else ""


def _adds_up(parts: Sequence[Part], always: bool = True) -> str:
    """': 69.15 ms, after 29.60 ms hidden under computation': the step the lines add up to, where a line takes off
    what overlap hid (the other lines then add up to more than the step); '' where nothing was hidden and not
    `always`."""
    step_s = sum(p.seconds for p in parts)
    hidden_s = -sum(p.seconds for p in parts if p.seconds < 0)
    if not (hidden_s or always):
        return ""
    return f": {step_s * 1e3:,.2f} ms" + (f", after {hidden_s * 1e3:,.2f} ms hidden under computation"
                                          if hidden_s else "")


def typical_steps(scenario: Scenario, batch: float, isl: float, osl: float, found: str = "", range_ratio: float = 1.0
                  ) -> tuple[dict[str, object], Tables]:
    """The record's decode_step_breakdown and prefill_step_breakdown and their tables, for a run of requests of `isl`
    and `osl` tokens decoding `batch` sequences a rank on average: a decode step of the mean rank at the mean context
    isl + osl / 2 (as the steady model, the simulator and the offline and server scenarios price it), and a prompt's
    first chunk alone (no queueing or batching). `found`: how the batch was reached, for the title ('' : the run's).
    range_ratio: where the run draws lengths uniformly in [range_ratio, 1] x nominal, isl and osl are their means
    (serving.mean_length: 0.8 of 1024 draws 819 to 1024, mean 921.5), as the steady model prices the run."""
    drawn = range_ratio < 1.0
    isl, osl = float(mean_length(isl, range_ratio)), float(mean_length(osl, range_ratio))
    dep = deployment(scenario, scenario.decode_layout or scenario.layout, decode=scenario.mode == "disagg")
    # the mean rank's sequences; under one, that many of the ranks carry one each (step.decode_spread)
    ranks = dep.layout.attn_dp
    sequences, carrying = (float(v) for v in decode_spread(batch, ranks))
    parts = decode_breakdown(dep, sequences, isl + osl / 2, carrying if carrying < ranks else None, osl / 2,
                             scenario.engine.decode_host_token_s)
    chunk = float(min(isl, scenario.engine.max_num_tokens))
    prompt = Batch(prefill_tokens=chunk, prefill_sequences=chunk / isl)
    prefill_parts = breakdown(deployment(scenario, scenario.layout), prompt)
    # attention-DP ranks step together at the pace of the busiest (the simulator's ITL), not the mean rank's
    pace = ("" if ranks == 1 else
            f" (the mean of {ranks} attention-DP ranks, which step at the busiest one's pace)" if carrying >= ranks
            else f" on {carrying:.3g} of {ranks} attention-DP ranks (the mean rank's {batch:.3g}; "
                 + ("every rank pads its decodes to the busiest's and the experts compute the padded rows, as "
                    f"{scenario.engine.id} does)" if dep.decode_padded else
                    "the others step idle with them, and the experts see those ranks' sequences alone)"))
    # the lengths the steps are priced at: the mean drawn ones where the run draws them
    means = f", the mean of lengths drawn uniformly in [{range_ratio:g}, 1] x nominal" if drawn else ""
    at = f" at {isl + osl / 2:,.6g} KV tokens (isl + osl / 2 = {isl:,.6g} + {osl:,.6g} / 2{means})"
    tables = [(_rows(parts), STEP_COLUMNS, f"One decode step{_verify(dep.mtp_tokens)} of "
               f"{counted(sequences, 'sequence')} per rank{found}{pace}{at} on one device{_adds_up(parts, False)}"),
              (_rows(prefill_parts), STEP_COLUMNS, f"One prefill step of {counted(chunk, 'prompt token')} on one "
               f"device (a prompt of {isl:,.6g} tokens{means}; no queueing; before the engine's prefill time factor "
               f"x{scenario.engine.prefill_scale:.2f})")]
    return {"decode_step_breakdown": tables[0][0], "prefill_step_breakdown": tables[1][0]}, tables


def phase_step(scenario: Scenario) -> tuple[dict[str, object], Tables]:
    """The record's decode_step_breakdown (--phase decode) or prefill_step_breakdown (--phase prefill) and its table:
    the one step serve prices (phase.decode_benchmark: the busiest attention-DP rank's sequences at the scenario's
    context, its MTP drafts and the engine's host floor; phase.prefill_benchmark: a rank's prompts of isl tokens,
    times the engine's prefill factor), whose lines add up to the step time the record prints."""
    s = scenario
    if s.phase == "decode":
        dep = deployment(s, s.decode_layout or s.layout, decode=s.mode == "disagg")
        parts = decode_benchmark_breakdown(dep, s.batch, s.context, s.engine.decode_host_token_s)
        busiest, ranks = float(busiest_rank(dep, s.batch)), dep.layout.attn_dp
        pace = "" if ranks == 1 else f" on the busiest of {ranks} attention-DP ranks (the step's pace)"
        title = (f"The decode step{_verify(dep.mtp_tokens)} of {counted(busiest, 'sequence')}{pace} at {s.context:,} "
                 f"KV tokens, on one device{_adds_up(parts)}")
        return {"decode_step_breakdown": _rows(parts)}, [(_rows(parts), STEP_COLUMNS, title)]
    dep = deployment(s, s.layout, s.prefill_system)
    parts = prefill_benchmark_breakdown(dep, s.batch, s.isl, s.engine.prefill_scale)
    prompts = s.batch / dep.layout.attn_dp
    factor = (f", with the engine's prefill time factor x{s.engine.prefill_scale:.2f}"
              if s.engine.prefill_scale != 1.0 else "")
    title = (f"The prefill step of {counted(prompts, 'prompt')} of {s.isl:,} tokens per rank on one device"
             f"{_adds_up(parts)}{factor}")
    return {"prefill_step_breakdown": _rows(parts)}, [(_rows(parts), STEP_COLUMNS, title)]
