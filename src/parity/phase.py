"""Fixed-batch phase benchmarks: one decode or prefill step of a whole deployment, as papers report them.

Decode: N sequences decoded together, split evenly over the attention-DP ranks, each with T tokens
of KV ("batch 96 per NPU, context 4,096"). Prefill: N prompts of `isl` tokens in one step over the
deployment. No queueing and no arrivals: the step itself, its memory and the rates it gives.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from parity.memory import MemoryPlan
from parity.ops import Batch, Num
from parity.step import (Deployment, Part, breakdown, decode_breakdown, decode_host_floor, decode_host_floor_note,
                         decode_step, deployment_memory, placement_note, step_cost)
from parity.units import counted

__all__ = ["PhaseResult", "decode_benchmark", "prefill_benchmark", "decode_benchmark_breakdown",
           "prefill_benchmark_breakdown", "busiest_rank", "PHASES"]

PHASES = ("both", "decode", "prefill")


@dataclass(frozen=True, slots=True, kw_only=True)
class PhaseResult:
    """One step of a fixed batch on a deployment.

    step_s [s]: the step; tpot_s [s]: time per output token (decode: step / tokens kept per step with
    MTP); output_tokens_per_s_per_chip / input_tokens_per_s_per_chip [tokens/s]: per chip package;
    batch_per_rank: sequences (or prompts) per attention-DP rank, the mean; busiest_batch_per_rank: those of the
    busiest rank, whose step paces a decode step (decode_benchmark: 13 of 100 on 8 ranks, the mean 12.5; a prefill
    step's, priced at the mean, is the mean); feasible: the memory fits.
    """

    phase: str
    step_s: Num
    tpot_s: Num
    output_tokens_per_s_per_chip: Num
    input_tokens_per_s_per_chip: Num
    chips: Num
    batch_per_rank: Num
    busiest_batch_per_rank: Num
    memory: MemoryPlan
    feasible: Num
    assumptions: tuple[str, ...] = field(default=())


def _expert_notes(dep: Deployment) -> tuple[str, ...]:
    return tuple(filter(None, (placement_note(dep),)))


def busiest_rank(dep: Deployment, batch: Num) -> Num:
    """Sequences the busiest attention-DP rank decodes of `batch` split as evenly as whole sequences go: the step's
    pace (18,432 on 72 ranks: 256; 1 on 8: 1)."""
    per_rank = np.asarray(batch, float) / dep.layout.attn_dp
    return np.maximum(np.ceil(per_rank - 1e-9), 1.0)  # 1e-9: a whole batch a rank is not rounded up


def decode_benchmark(dep: Deployment, batch: Num, context: Num, reserve_fraction: float = 0.08,
                     host_token_s: float = 0.0) -> PhaseResult:
    """One decode step of `batch` sequences over the deployment, `context` KV tokens each.

    The sequences are split as evenly as whole sequences go over the attention-DP ranks: the busiest rank decodes
    ceil(batch / attn_dp), the step's pace, and the experts see all `batch` (1 sequence on 8 ranks: one rank
    decodes it while the others step idle, and the experts see one token, not eight). With MTP the step verifies
    1 + mtp_tokens tokens a sequence and keeps 1 + mtp_acceptance (step.decode_step). The KV of the busiest rank's
    context + the step's tokens must fit beside the weights, the runtime reserve and the activations.
    With attention DP the step lasts at least host_token_s [s] a decode token of a rank (the engine's
    decode_host_token_s, step.decode_host_floor).
    """
    d = dep.layout.attn_dp
    per_rank = np.asarray(batch, float) / d
    busiest = busiest_rank(dep, batch)
    step_s, kept = decode_step(dep, busiest, context, np.asarray(batch, float) / busiest)
    step_s = decode_host_floor(dep, step_s, busiest, host_token_s)
    mem = deployment_memory(dep, busiest, context, busiest * (1 + dep.mtp_tokens), reserve_fraction=reserve_fraction)
    spread = (f"{counted(float(per_rank), 'sequence')} per attention-DP rank ({counted(d, 'rank')})"
              if np.ndim(per_rank) or float(busiest) == float(per_rank) else
              f"{float(per_rank):g} sequences per attention-DP rank ({counted(d, 'rank')}): the busiest decodes "
              f"{counted(float(busiest), 'sequence')} (the step's pace) and the experts see all {float(batch):g}")
    notes = (f"decode benchmark: {spread}, {context:g} KV tokens each" if np.ndim(per_rank) == 0
             else "decode benchmark",)
    notes += _expert_notes(dep) + decode_host_floor_note(host_token_s, d, dep.mtp_tokens)  # MTP: the scenario's note
    return PhaseResult(phase="decode", step_s=step_s, tpot_s=step_s / kept,
                       output_tokens_per_s_per_chip=np.asarray(batch, float) * kept / step_s / dep.chips,
                       input_tokens_per_s_per_chip=0.0, chips=dep.chips, batch_per_rank=per_rank,
                       busiest_batch_per_rank=busiest, memory=mem, feasible=mem.fits, assumptions=notes)


def prefill_benchmark(dep: Deployment, batch: Num, isl: Num, reserve_fraction: float = 0.08,
                      prefill_scale: float = 1.0) -> PhaseResult:
    """One prefill step of `batch` prompts of `isl` tokens over the deployment (batch / attn_dp a rank, no
    cached prefix), times the engine's prefill factor; the prompts' KV and the step's activations must fit."""
    d = dep.layout.attn_dp
    per_rank = np.asarray(batch, float) / d
    tokens = per_rank * isl
    step_s = step_cost(dep, Batch(prefill_tokens=tokens, prefill_sequences=per_rank)).time_s * prefill_scale
    mem = deployment_memory(dep, per_rank, isl, tokens, reserve_fraction=reserve_fraction)
    notes = ("prefill benchmark: " + (f"{counted(float(per_rank), 'prompt')} of {isl:g} tokens per attention-DP rank"
                                      if np.ndim(per_rank) == 0 else "fixed prompts per rank")
             + (f"; engine prefill factor x{prefill_scale:.2f}" if prefill_scale != 1.0 else ""),
             *_expert_notes(dep))
    return PhaseResult(phase="prefill", step_s=step_s, tpot_s=float("nan"), output_tokens_per_s_per_chip=0.0,
                       input_tokens_per_s_per_chip=np.asarray(batch, float) * isl / step_s / dep.chips,
                       chips=dep.chips, batch_per_rank=per_rank, busiest_batch_per_rank=per_rank, memory=mem,
                       feasible=mem.fits, assumptions=notes)


def decode_benchmark_breakdown(dep: Deployment, batch: float, context: float, host_token_s: float = 0.0
                               ) -> list[Part]:
    """Where decode_benchmark's step goes on one device of the busiest rank, largest first (step.decode_breakdown):
    its busiest_rank sequences at `context` [tokens], the experts seeing all `batch`, its MTP drafts, a line of what
    overlap hid and one of the host floor where it binds, so the lines add up to its step_s."""
    busiest = float(busiest_rank(dep, batch))
    return decode_breakdown(dep, busiest, float(context), float(batch) / busiest, host_token_s=host_token_s)


def prefill_benchmark_breakdown(dep: Deployment, batch: float, isl: float, prefill_scale: float = 1.0
                                ) -> list[Part]:
    """Where prefill_benchmark's step goes on one device (step.breakdown of batch / attn_dp prompts of `isl` tokens a
    rank), the engine's prefill factor a line of its own where it is not 1, so the lines add up to its step_s."""
    per_rank = float(batch) / float(dep.layout.attn_dp)
    parts = breakdown(dep, Batch(prefill_tokens=per_rank * float(isl), prefill_sequences=per_rank))
    if prefill_scale != 1.0:
        device_s = sum(p.seconds for p in parts)
        parts.append(Part(name="engine prefill factor", seconds=(prefill_scale - 1.0) * device_s, bound="engine",
                          detail=f"x{prefill_scale:.2f} the device step (the engine profile's prefill_scale)"))
    return parts
