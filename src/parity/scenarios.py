"""MLPerf-style scenarios over a distribution of request lengths: offline (a deployment kept full) and server
(Poisson arrivals at a request rate).

Offline (MLPerf Inference's scenario where every sample is available at once) keeps the engine
saturated: decode steps run as many sequences as the KV cache holds for the mean request, and each
request costs its prompt's engine time plus its share of those decode steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from parity.engine import EngineProfile
from parity.memory import MemoryPlan
from parity.serving import prefill_throughput
from parity.step import (Deployment, decode_host_floor, decode_host_floor_note, decode_spread, decode_step,
                         deployment_memory)

__all__ = ["OfflineResult", "offline_throughput", "ServerResult", "server_latency", "longest_request"]

# what a scenario whose longest request cannot be held says (OfflineResult, ServerResult); serve refuses such a mix
# first, with the memory that request lacks (longest_request)
LONGEST_UNFIT = "the longest request's KV cache does not fit beside the weights"


def longest_request(dep: Deployment, profile: EngineProfile,
                    lengths: Sequence[tuple[float, float]]) -> tuple[MemoryPlan, tuple[float, float]]:
    """The memory of one rank holding the mix's longest request alone (the most KV held: isl + osl, or isl + osl / 2
    where the engine allocates pages on demand) and that request's (isl, osl): what must fit for the mix to run at all,
    as a closed loop's fit is decided on one request. Sized at the mean, a mix of 1,000 + 100 and 500,000 + 1,000
    tokens was priced at 3.8 tokens/s a chip on an H100 that cannot hold the second request (13.9 GB short)."""
    share = 0.5 if profile.kv_on_demand else 1.0
    isl, osl = max(((float(i), float(o)) for i, o in lengths), key=lambda pair: pair[0] + share * pair[1])
    mem = deployment_memory(dep, 1, isl + share * osl, profile.max_num_tokens,
                            reserve_fraction=1.0 - profile.kv_memory_fraction)
    return mem, (isl, osl)


@dataclass(frozen=True, slots=True, kw_only=True)
class OfflineResult:
    """Offline throughput of one worker over a length distribution.

    output_tokens_per_s_per_chip, input_tokens_per_s_per_chip [tokens/s]; decode_batch: sequences per
    attention-DP rank in a decode step; tpot_s [s]: its time per output token; length_pairs: the (isl, osl) pairs of
    the mix weighed, one request's lengths each: the throughput is their mix's, and the decode batch what the KV
    cache holds at their mean, whatever their count (an offline run has every request available at once).
    """

    output_tokens_per_s_per_chip: float
    input_tokens_per_s_per_chip: float
    tpot_s: float
    decode_batch: float
    chips: float
    length_pairs: int
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
    if batch < 1 or not bool(longest_request(dep, profile, lengths)[0].fits):
        return OfflineResult(output_tokens_per_s_per_chip=0.0, input_tokens_per_s_per_chip=0.0, tpot_s=float("nan"),
                             decode_batch=0.0, chips=float(dep.chips), length_pairs=len(lengths), feasible=False,
                             assumptions=(LONGEST_UNFIT,))
    d = dep.layout.attn_dp
    step_s, kept = decode_step(dep, batch, float(np.mean(isl + osl / 2.0)), context_spread=float(np.mean(osl / 2.0)))
    step_s = float(decode_host_floor(dep, step_s, batch, profile.decode_host_token_s))
    per_output_s = float(step_s) / (batch * d * kept)  # worker time per output token
    prefill_s = isl / np.asarray(prefill_throughput(dep, profile, isl), float) * profile.prefill_scale
    total_s = float(np.sum(prefill_s + osl * per_output_s))
    chips = float(dep.chips)
    mix = (f"of {isl[0]:.0f} in / {osl[0]:.0f} out" if len(lengths) == 1 else
           f"mixing {len(lengths):,} length pairs (mean {np.mean(isl):.0f} in / {np.mean(osl):.0f} out)")
    notes = (f"offline: requests {mix}, all available at once; decode steps of {batch:g} sequences per rank (KV "
             f"capacity at the mean length, engine cap {profile.max_batch_size}); TPOT: a decode step's time per output "
             "token, the prompt steps between decode steps not counted",
             *decode_host_floor_note(profile.decode_host_token_s, d, dep.mtp_tokens))
    return OfflineResult(output_tokens_per_s_per_chip=float(np.sum(osl)) / total_s / chips,
                         input_tokens_per_s_per_chip=float(np.sum(isl)) / total_s / chips,
                         tpot_s=float(step_s) / float(kept), decode_batch=batch, chips=chips, length_pairs=len(lengths),
                         feasible=True, assumptions=notes)


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerResult:
    """A worker under Poisson arrivals (MLPerf's server scenario): latencies and throughput.

    ttft_s, ttft_p99_s [s]: mean and 99th percentile time to first token; tpot_s [s]; decode_batch:
    sequences decoding per attention-DP rank; prefill_utilization: share of engine time on prompts;
    feasible: the queue is stable (utilisation < 1), the longest request's KV fits (longest_request) and the decoding
    sequences' KV fits.
    """

    ttft_s: float
    ttft_p99_s: float
    tpot_s: float
    output_tokens_per_s_per_chip: float
    decode_batch: float
    prefill_utilization: float
    chips: float
    feasible: bool
    assumptions: tuple[str, ...] = field(default=())


def server_latency(dep: Deployment, profile: EngineProfile, lengths: Sequence[tuple[float, float]],
                   request_rate: float) -> ServerResult:
    """Steady state of one worker receiving `request_rate` requests/s as a Poisson stream, lengths drawn
    from `lengths` (their means are used).

    Prompts take a share u = rate x S of the engine (S: a mean prompt's engine time at full prefill
    steps) and wait W = u / (1 - u) S on average (M/M/1, Kleinrock 1975 Sec. 3.2), with the M/M/1
    tail P(W > t) = u exp(-(1 - u) t / S) for the 99th percentile; each also waits half a decode step, and the
    engine's fixed overhead before it (profile.ttft_overhead_s: its front end, tokenising, admission), as the closed
    loop's steady model and the simulator count it.
    Decoding sequences per rank N solve Little's law N = rate / d x (osl - 1) x TPOT(N), with
    TPOT(N) = step(N) / tokens kept / (1 - u).
    """
    if request_rate <= 0:
        raise ValueError(f"request_rate must be > 0, got {request_rate}")
    if not bool(longest_request(dep, profile, lengths)[0].fits):  # under a sequence a rank, the mean is held in part
        nan = float("nan")
        return ServerResult(ttft_s=nan, ttft_p99_s=nan, tpot_s=nan, output_tokens_per_s_per_chip=0.0, decode_batch=nan,
                            prefill_utilization=nan, chips=float(dep.chips), feasible=False,
                            assumptions=(LONGEST_UNFIT,))
    isl = float(np.mean([float(i) for i, _ in lengths]))
    osl = float(np.mean([float(o) for _, o in lengths]))
    d = dep.layout.attn_dp
    service = isl / float(prefill_throughput(dep, profile, isl)) * profile.prefill_scale
    u = request_rate * service
    chips = float(dep.chips)
    context = isl + osl / 2.0
    nan = float("nan")
    if u >= 1.0:
        return ServerResult(ttft_s=nan, ttft_p99_s=nan, tpot_s=nan, output_tokens_per_s_per_chip=0.0, decode_batch=nan,
                            prefill_utilization=u, chips=chips, feasible=False,
                            assumptions=(f"unstable: prompts alone need {u:.0%} of the engine",))

    def tpot(n: float) -> float:
        busiest, carrying = decode_spread(n, d)  # under a sequence a rank, d x n ranks carry one each
        step_s, kept = decode_step(dep, busiest, context, carrying, osl / 2.0)
        step_s = decode_host_floor(dep, step_s, busiest, profile.decode_host_token_s)
        return float(step_s) / float(kept) / (1.0 - u)

    lo, hi = 0.0, float(profile.max_batch_size)
    if request_rate / d * (osl - 1.0) * tpot(hi) > hi:
        return ServerResult(ttft_s=nan, ttft_p99_s=nan, tpot_s=nan, output_tokens_per_s_per_chip=0.0, decode_batch=hi,
                            prefill_utilization=u, chips=chips, feasible=False,
                            assumptions=(f"unstable: decode needs more than {hi:g} sequences per rank",))
    for _ in range(40):  # N - rate x (osl - 1) x TPOT(N) rises with N: bisect its root
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if mid >= request_rate / d * (osl - 1.0) * tpot(mid) else (mid, hi)
    batch = 0.5 * (lo + hi)
    t = tpot(batch)
    half_step = 0.5 * t * float(decode_step(dep, max(batch, 1.0), context, context_spread=osl / 2.0)[1])
    wait = u / (1.0 - u) * service
    tail = service / (1.0 - u) * np.log(max(u / 0.01, 1.0))
    mem = deployment_memory(dep, batch, isl + osl, profile.max_num_tokens,
                            reserve_fraction=1.0 - profile.kv_memory_fraction)
    front = profile.ttft_overhead_s
    notes = (f"server: Poisson arrivals at {request_rate:g} requests/s, mean {isl:.0f} in / {osl:.0f} out; prompts use "
             f"{u:.0%} of the engine (M/M/1 queue); TTFT counts the engine's {front * 1e3:.3g} ms before a prompt "
             "(ttft_overhead_s: front end, tokenising, admission), half a decode step after it, and the queue",
             *decode_host_floor_note(profile.decode_host_token_s, d, dep.mtp_tokens))
    return ServerResult(ttft_s=front + service + wait + half_step, ttft_p99_s=front + service + tail + half_step,
                        tpot_s=t,
                        output_tokens_per_s_per_chip=request_rate * osl / chips, decode_batch=batch,
                        prefill_utilization=u, chips=chips, feasible=bool(mem.fits), assumptions=notes)
