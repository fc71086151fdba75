"""Serving scenarios: a closed-loop benchmark of `concurrency` clients on aggregated or disaggregated
workers, solved in steady state.

Each client sends a prompt of `isl` tokens, reads `osl` tokens, and sends the next. Per attention
data-parallel rank, requests arrive at a rate lam = clients / (TTFT + (osl-1) TPOT). Prefill work
takes a share u = lam x S of the engine (S: engine time of one prompt), so decode steps stretch to
TPOT = T_decode / (1 - u), and a prompt waits W = c x u / (1 - u) x S for the prefills ahead of it
(Kingman's G/G/1 formula; c = the engine's arrival burstiness). lam is found by bisection, for
arrays of scenarios at once. Clients beyond the KV-cache capacity wait for a free slot.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from parity.engine import EngineProfile
from parity.hardware import Calibration
from parity.memory import MemoryPlan, kv_bytes_per_token_per_device
from parity.ops import Batch, Num
from parity.plan import Shard
from parity.step import Deployment, deployment_memory, step_cost

__all__ = ["Workload", "ServingResult", "serve_aggregated", "serve_disaggregated", "engine_calibration",
           "prefill_throughput", "decode_throughput_at"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Workload:
    """A closed-loop benchmark: `concurrency` clients, `isl` prompt and `osl` output tokens each."""

    isl: Num
    osl: Num
    concurrency: Num

    def __post_init__(self) -> None:
        if np.any(np.asarray(self.isl) < 1) or np.any(np.asarray(self.osl) < 1):
            raise ValueError(f"isl and osl must be >= 1, got {self.isl}, {self.osl}")
        if np.any(np.asarray(self.concurrency) < 1):
            raise ValueError(f"concurrency must be >= 1, got {self.concurrency}")


@dataclass(frozen=True, slots=True, kw_only=True)
class ServingResult:
    """Predicted steady state of a serving scenario (means over requests).

    ttft_s, tpot_s [s]; output_tokens_per_s [tokens/s] of all workers; chips: all chips used;
    decode_batch: sequences per decode step per attention-DP rank; prefill_utilization: share of
    engine time spent on prompts (of the prefill workers when disaggregated).
    """

    ttft_s: Num
    tpot_s: Num
    output_tokens_per_s: Num
    chips: Num
    decode_batch: Num
    prefill_utilization: Num
    memory: MemoryPlan
    feasible: Num
    assumptions: tuple[str, ...] = field(default=())

    @property
    def output_tokens_per_s_per_chip(self) -> Num:
        return self.output_tokens_per_s / self.chips

    @property
    def output_tokens_per_s_per_user(self) -> Num:
        """Decode speed one user sees [tokens/s]: 1 / TPOT."""
        return 1.0 / self.tpot_s


def engine_calibration(cal: Calibration, profile: EngineProfile) -> Calibration:
    """A chip calibration with an engine's kernel-quality multipliers applied (capped at 1)."""
    def scaled(value: float, factor: float) -> float:
        return float(min(value * factor, 1.0))
    return dataclasses.replace(
        cal,
        gemm_efficiency={k: scaled(v, profile.gemm_scale) for k, v in cal.gemm_efficiency.items()},
        memory_efficiency=scaled(cal.memory_efficiency, profile.memory_scale),
        grouped_gemm_memory_efficiency=scaled(cal.grouped_gemm_memory_efficiency, profile.memory_scale),
        attention_prefill_efficiency=scaled(cal.attention_prefill_efficiency, profile.attention_scale),
        attention_decode_efficiency=scaled(cal.attention_decode_efficiency, profile.memory_scale),
    )


def _prefill_cost(dep: Deployment, profile: EngineProfile, isl: Num, decode_batch: Num, context: Num,
                  mixed: bool) -> tuple[Num, Num]:
    """(engine time one prompt adds, wall time until its prefill is done) [s].

    A prompt runs in chunks of what the step budget leaves; mixed with `decode_batch` decodes when the
    engine mixes, else alone (the decodes wait). Chunk i has i chunks of the prompt cached before it.
    """
    room = np.maximum(profile.max_num_tokens - np.where(mixed, decode_batch, 0.0), 1.0)
    chunk = np.minimum(isl, room)
    chunks = isl / chunk
    decode = np.where(mixed, decode_batch, 0.0)
    with_prompt = step_cost(dep, Batch(decode_tokens=decode, decode_context=context, prefill_tokens=chunk,
                                       prefill_sequences=chunk / isl, prefill_context=(isl - chunk) / 2.0)).time_s
    without = step_cost(dep, Batch(decode_tokens=decode, decode_context=context)).time_s
    added = np.where(mixed, with_prompt - without, with_prompt) * chunks * profile.prefill_scale
    return added, with_prompt * chunks * profile.prefill_scale


def _bisect(residual, low: Num, high: Num, iterations: int = 60) -> Num:
    """Root of an increasing function on [low, high], elementwise."""
    lo, hi = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        above = residual(mid) > 0
        hi = np.where(above, mid, hi)
        lo = np.where(above, lo, mid)
    return 0.5 * (lo + hi)


def _capacity(dep: Deployment, profile: EngineProfile, sequences: Num, isl: Num, osl: Num) -> tuple[MemoryPlan, Num]:
    mem = deployment_memory(dep, sequences, isl + osl, profile.max_num_tokens,
                            reserve_fraction=1.0 - profile.kv_memory_fraction)
    return mem, np.floor(mem.kv_token_capacity / (isl + osl))


def serve_aggregated(dep: Deployment, profile: EngineProfile, workload: Workload, workers: Num = 1) -> ServingResult:
    """Steady state of `workers` identical workers serving prefill and decode in the same steps."""
    d = dep.layout.attn_dp
    isl, osl = np.asarray(workload.isl, float), np.asarray(workload.osl, float)
    clients = np.asarray(workload.concurrency, float) / (workers * d)  # per attention-DP rank
    context = isl + osl / 2.0
    mem, slots = _capacity(dep, profile, clients, isl, osl)
    fits = slots >= 1
    mixed = profile.mixes_prefill
    batch = np.maximum(np.minimum(clients, slots), 1.0)
    for _ in range(3):  # the decode batch excludes clients waiting for or in prefill
        t_decode = step_cost(dep, Batch(decode_tokens=batch, decode_context=context)).time_s
        added, own = _prefill_cost(dep, profile, isl, batch, context, mixed)

        def latency(lam: Num) -> tuple[Num, Num]:
            u = np.minimum(lam * added, 0.999999)
            tpot = t_decode / (1.0 - u)
            wait = profile.burstiness * u / (1.0 - u) * added + 0.5 * t_decode
            slot_wait = np.maximum(clients - np.minimum(clients, slots), 0.0) / np.maximum(lam, 1e-12)
            return own + wait + slot_wait, tpot

        def residual(lam: Num) -> Num:
            ttft, tpot = latency(lam)
            return lam * (ttft + (osl - 1.0) * tpot) - clients

        lam = _bisect(residual, 0.0, 1.0 / np.maximum(added, 1e-12))
        ttft, tpot = latency(lam)
        cycle = ttft + (osl - 1.0) * tpot
        batch = np.maximum(np.minimum(clients * (osl - 1.0) * tpot / cycle, slots), 1.0)
    total = lam * osl * d * workers
    notes = (f"engine {profile.id}: step budget {profile.max_num_tokens} tokens, "
             f"{'prefill mixed into decode steps' if mixed else 'prefill steps pause decodes'}",
             f"arrival burstiness {profile.burstiness:g} (Kingman), expert imbalance {dep.expert_imbalance:g}",
             f"{workers:g} aggregated worker(s) of {dep.chips} chips; KV cache gets "
             f"{profile.kv_memory_fraction:.0%} of memory")
    return ServingResult(ttft_s=ttft, tpot_s=tpot, output_tokens_per_s=total, chips=dep.chips * workers,
                         decode_batch=batch, prefill_utilization=lam * added, memory=mem, feasible=fits,
                         assumptions=notes)


def serve_disaggregated(prefill: Deployment, decode: Deployment, profile: EngineProfile, workload: Workload,
                        prefill_workers: Num, decode_workers: Num) -> ServingResult:
    """Steady state of separate prefill and decode workers; the KV cache of each prompt moves over
    the scale-out network (scale-up when both fit in one scale-up domain)."""
    isl, osl = np.asarray(workload.isl, float), np.asarray(workload.osl, float)
    conc = np.asarray(workload.concurrency, float)
    dp, dd = prefill.layout.attn_dp, decode.layout.attn_dp
    context = isl + osl / 2.0
    clients = conc / (decode_workers * dd)
    mem, slots = _capacity(decode, profile, clients, isl, osl)
    p_mem, _ = _capacity(prefill, profile, np.ones_like(isl), isl, np.zeros_like(osl) + 1.0)
    fits = (slots >= 1) & p_mem.fits
    added, own = _prefill_cost(prefill, profile, isl, 0.0, 0.0, False)
    # KV of one prompt, all layers, sent from the prefill worker to the decode worker
    kv_total = isl * kv_bytes_per_token_per_device(decode.model, Shard(1, 1, 1, 1, 1), decode.precision)
    system = decode.system
    same_domain = prefill.chips + decode.chips <= system.scale_up_domain_chips
    link = np.where(same_domain, system.scale_up_bytes_per_s, system.scale_out_bytes_per_s) * prefill.chips
    transfer = kv_total / np.maximum(link, 1.0) + system.scale_out_latency_s
    batch = np.maximum(np.minimum(clients, slots), 1.0)
    for _ in range(3):
        tpot = step_cost(decode, Batch(decode_tokens=batch, decode_context=context)).time_s

        def ttft_of(lam_total: Num) -> Num:
            u = np.minimum(lam_total / (prefill_workers * dp) * added, 0.999999)
            slot_wait = np.maximum(clients - np.minimum(clients, slots), 0.0) * decode_workers * dd / np.maximum(
                lam_total, 1e-12)
            return own + profile.burstiness * u / (1.0 - u) * added + transfer + slot_wait

        def residual(lam_total: Num) -> Num:
            return lam_total * (ttft_of(lam_total) + (osl - 1.0) * tpot) - conc

        lam = _bisect(residual, 0.0, prefill_workers * dp / np.maximum(added, 1e-12))
        ttft = ttft_of(lam)
        cycle = ttft + (osl - 1.0) * tpot
        batch = np.maximum(np.minimum(clients * (osl - 1.0) * tpot / cycle, slots), 1.0)
    chips = prefill.chips * prefill_workers + decode.chips * decode_workers
    notes = (f"disaggregated: {prefill_workers:g} prefill worker(s) of {prefill.chips} chips, {decode_workers:g} "
             f"decode worker(s) of {decode.chips} chips", f"engine {profile.id}; arrival burstiness "
             f"{profile.burstiness:g}; KV moved over {'scale-up' if np.all(same_domain) else 'scale-out'} links")
    return ServingResult(ttft_s=ttft, tpot_s=tpot, output_tokens_per_s=lam * osl, chips=chips, decode_batch=batch,
                         prefill_utilization=lam / (prefill_workers * dp) * added, memory=mem, feasible=fits,
                         assumptions=notes)


def prefill_throughput(dep: Deployment, profile: EngineProfile, isl: Num) -> Num:
    """Prompt tokens per second one worker processes when prompts queue up [tokens/s]: steps filled
    to the token budget with whole or chunked prompts."""
    tokens = np.maximum(profile.max_num_tokens, np.minimum(isl, 16384))
    t = step_cost(dep, Batch(prefill_tokens=tokens, prefill_sequences=tokens / isl,
                             prefill_context=np.maximum(isl - tokens, 0.0) / 2.0)).time_s
    return tokens * dep.layout.attn_dp / t


def decode_throughput_at(dep: Deployment, profile: EngineProfile, tpot_s: float, context: float,
                         kv_tokens_per_sequence: float) -> tuple[float, float]:
    """(output tokens/s of one worker, batch per attention-DP rank) at the largest batch whose decode step
    stays within `tpot_s` and whose KV cache fits; (0, 0) if not even one sequence does."""
    mem = deployment_memory(dep, 1, kv_tokens_per_sequence, profile.max_num_tokens,
                            reserve_fraction=1.0 - profile.kv_memory_fraction)
    most = float(np.floor(mem.kv_token_capacity / kv_tokens_per_sequence))
    if most < 1:
        return 0.0, 0.0
    batches = np.unique(np.clip(np.round(np.geomspace(1, most, 96)), 1, most))
    times = np.asarray(step_cost(dep, Batch(decode_tokens=batches, decode_context=context)).time_s)
    ok = times <= tpot_s
    if not ok.any():
        return 0.0, 0.0
    rates = np.where(ok, batches / times, 0.0) * dep.layout.attn_dp
    best = int(np.argmax(rates))
    return float(rates[best]), float(batches[best])

