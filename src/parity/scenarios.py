"""MLPerf-style offline throughput: a deployment kept full over a distribution of request lengths.

Offline (MLPerf Inference's scenario where every sample is available at once) keeps the engine
saturated: decode steps run as many sequences as the KV cache holds for the mean request, and each
request costs its prompt's engine time plus its share of those decode steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from parity.engine import EngineProfile
from parity.serving import prefill_throughput
from parity.step import Deployment, decode_step, deployment_memory

__all__ = ["OfflineResult", "offline_throughput"]


@dataclass(frozen=True, slots=True, kw_only=True)
class OfflineResult:
    """Offline throughput of one worker over a length distribution.

    output_tokens_per_s_per_chip, input_tokens_per_s_per_chip [tokens/s]; decode_batch: sequences per
    attention-DP rank in a decode step; tpot_s [s]: its time per output token; requests: pairs weighed.
    """

    output_tokens_per_s_per_chip: float
    input_tokens_per_s_per_chip: float
    tpot_s: float
    decode_batch: float
    chips: float
    requests: int
    feasible: bool
    assumptions: tuple[str, ...] = field(default=())


def offline_throughput(dep: Deployment, profile: EngineProfile, lengths: Sequence[tuple[float, float]]) -> OfflineResult:
    """Output tokens/s of a saturated worker over (isl, osl) pairs, each pair one request.

    Batch B per rank: what the KV cache holds at the mean held length (isl + osl, or isl + osl/2 when the
    engine allocates pages on demand), at most the engine's max_batch_size. A request costs
    isl / prefill rate (steps full of prompt tokens, serving.prefill_throughput) plus osl decode steps
    shared by B x attn_dp sequences (at the mean context isl + osl/2); throughput = sum osl / sum cost.
    """
    if not lengths:
        raise ValueError("lengths must hold at least one (isl, osl) pair")
    isl = np.array([float(i) for i, _ in lengths])
    osl = np.array([float(o) for _, o in lengths])
    if np.any(isl < 1) or np.any(osl < 1):
        raise ValueError("isl and osl must be >= 1 in every pair")
    held = float(np.mean(isl + np.where(profile.kv_on_demand, 0.5, 1.0) * osl))
    mem = deployment_memory(dep, 1, held, profile.max_num_tokens, reserve_fraction=1.0 - profile.kv_memory_fraction)
    batch = float(min(np.floor(float(mem.kv_token_capacity) / held), profile.max_batch_size))
    if batch < 1:
        return OfflineResult(output_tokens_per_s_per_chip=0.0, input_tokens_per_s_per_chip=0.0, tpot_s=float("nan"),
                             decode_batch=0.0, chips=float(dep.chips), requests=len(lengths), feasible=False,
                             assumptions=("not even one request's KV cache fits beside the weights",))
    d = dep.layout.attn_dp
    step_s, kept = decode_step(dep, batch, float(np.mean(isl + osl / 2.0)))
    per_output_s = float(step_s) / (batch * d * kept)  # worker time per output token
    prefill_s = isl / np.asarray(prefill_throughput(dep, profile, isl), float) * profile.prefill_scale
    total_s = float(np.sum(prefill_s + osl * per_output_s))
    chips = float(dep.chips)
    notes = (f"offline: {len(lengths)} requests, mean {np.mean(isl):.0f} in / {np.mean(osl):.0f} out; decode steps of "
             f"{batch:g} sequences per rank (KV capacity at the mean length, engine cap {profile.max_batch_size})",)
    return OfflineResult(output_tokens_per_s_per_chip=float(np.sum(osl)) / total_s / chips,
                         input_tokens_per_s_per_chip=float(np.sum(isl)) / total_s / chips,
                         tpot_s=float(step_s) / float(kept), decode_batch=batch, chips=chips, requests=len(lengths),
                         feasible=True, assumptions=notes)
