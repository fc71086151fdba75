"""Serving scenarios: a closed-loop benchmark of `concurrency` clients on aggregated or disaggregated
workers, solved in steady state.

Each client sends a prompt of `isl` tokens, reads `osl` tokens, and sends the next. Clients that
start together stay together: prompts arrive in groups as large as one step's token budget holds
(g = budget / isl, at most the clients), and a group's prompts are prefilled in the same steps, so
each waits for the whole group. Per attention data-parallel rank requests arrive at
lam = clients / (TTFT + (osl-1) TPOT); prefill takes a share u = lam x S of the engine (S: engine
time of one prompt), so decode steps stretch to TPOT = T_decode / (1 - u), and a group waits
W = c x u / (1 - u) x S_group for the groups ahead of it (Kingman's G/G/1 formula; c = the engine's
arrival burstiness). Besides its own prefill and the wait, a prompt waits `first_token_steps` engine
steps for its first token: half of the step in flight, plus what overlap scheduling adds. lam is
found by bisection, for arrays of scenarios at once. Clients beyond the KV-cache capacity wait for a
free slot. Where a benchmark draws request lengths at random (Workload.range_ratio), the model runs at
their means.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from parity.engine import EngineKernel, EngineProfile
from parity.hardware import Calibration, System
from parity.memory import MemoryPlan, kv_bytes_per_token_per_device, state_bytes_per_sequence_per_device
from parity.ops import Batch, Num
from parity.model import Model
from parity.plan import Layout, LayoutGrid, Precision, Shard
from parity.step import Deployment, decode_step, deployment_memory, placement_note, step_cost

__all__ = ["prefill_throughput", "Workload", "ServingResult", "mean_length", "serve_aggregated", "serve_disaggregated", "engine_calibration",
           "engine_deployment", "prompt_group_size", "with_kernels"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Workload:
    """A closed-loop benchmark: `concurrency` clients, `isl` prompt and `osl` output tokens each, or
    lengths drawn uniformly from [range_ratio x isl, isl] and [range_ratio x osl, osl] (1: fixed)."""

    isl: Num
    osl: Num
    concurrency: Num
    range_ratio: Num = 1.0

    def __post_init__(self) -> None:
        if np.any(np.asarray(self.isl) < 1) or np.any(np.asarray(self.osl) < 1):
            raise ValueError(f"isl and osl must be >= 1, got {self.isl}, {self.osl}")
        if np.any(np.asarray(self.concurrency) < 1):
            raise ValueError(f"concurrency must be >= 1, got {self.concurrency}")
        if np.any(np.asarray(self.range_ratio) < 0) or np.any(np.asarray(self.range_ratio) > 1):
            raise ValueError(f"range_ratio must be in [0, 1], got {self.range_ratio}")

    def lengths(self) -> tuple[Num, Num]:
        """(mean prompt tokens, mean output tokens) [tokens]."""
        return mean_length(self.isl, self.range_ratio), mean_length(self.osl, self.range_ratio)


def mean_length(nominal: Num, range_ratio: Num = 1.0) -> Num:
    """Mean of whole-number lengths drawn uniformly from [floor(range_ratio x nominal), nominal]: the
    random dataset of vLLM's benchmark_serving.py as InferenceX and NVIDIA's sa-bench run it (their
    --random-range-ratio; 1: every request has the nominal length)."""
    nominal = np.asarray(nominal, float)
    return 0.5 * (np.maximum(np.floor(np.asarray(range_ratio, float) * nominal), 1.0) + nominal)


@dataclass(frozen=True, slots=True, kw_only=True)
class ServingResult:
    """Predicted steady state of a serving scenario (means over requests).

    ttft_s, tpot_s [s]; output_tokens_per_s [tokens/s] of all workers; chips: all chips used;
    decode_batch: sequences per decode step per attention-DP rank; prefill_utilization: share of
    engine time spent on prompts (of the prefill workers when disaggregated); prefill_workers and
    decode_workers: of a disaggregated deployment (0 when aggregated).
    """

    ttft_s: Num
    tpot_s: Num
    output_tokens_per_s: Num
    chips: Num
    decode_batch: Num
    prefill_utilization: Num
    memory: MemoryPlan
    feasible: Num
    prefill_workers: Num = 0.0
    decode_workers: Num = 0.0
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
        attention_decode_math_efficiency=(scaled(cal.attention_decode_math_efficiency, profile.attention_scale)
                                          if cal.attention_decode_math_efficiency else 0.0),
        attention_decode_efficiency=scaled(cal.attention_decode_efficiency, profile.memory_scale),
        collective_efficiency=scaled(cal.collective_efficiency, profile.collective_scale),
    )


def with_kernels(cal: Calibration, profile: EngineProfile, kernels: Iterable[EngineKernel]
                 ) -> tuple[Calibration, EngineProfile]:
    """The calibration and profile of an engine version that runs other kernels than the calibrated ones: each
    kernel's efficiency divided by its time ratio, and the fixed cost per kernel (the profile's with CUDA graphs,
    the calibration's eager one without) multiplied by the launch ratio (engine.EngineKernel)."""
    ratio = {k.op: k.time_ratio for k in kernels}
    if not ratio:
        return cal, profile
    def slower(value: float, op: str) -> float:
        return float(min(value / ratio.get(op, 1.0), 1.0))
    launch = ratio.get("launch", 1.0)
    decode_math = cal.attention_decode_math_efficiency and slower(cal.attention_decode_math_efficiency,
                                                                  "attention_decode")
    cal = dataclasses.replace(
        cal, gemm_efficiency={k: slower(v, "gemm") for k, v in cal.gemm_efficiency.items()},
        memory_efficiency=slower(cal.memory_efficiency, "gemm"),
        grouped_gemm_memory_efficiency=slower(cal.grouped_gemm_memory_efficiency, "grouped_gemm"),
        attention_prefill_efficiency=slower(cal.attention_prefill_efficiency, "attention_prefill"),
        attention_decode_efficiency=slower(cal.attention_decode_efficiency, "attention_decode"),
        attention_decode_math_efficiency=decode_math or (
            slower(cal.attention_prefill_efficiency, "attention_decode") if "attention_decode" in ratio else 0.0),
        kernel_overhead_s=cal.kernel_overhead_s * launch)
    return cal, dataclasses.replace(profile, kernel_overhead_s=profile.kernel_overhead_s * launch)


def engine_deployment(model: Model, system: System, layout: Layout | LayoutGrid, precision: Precision,
                      calibration: Calibration, profile: EngineProfile, moe_overlap: float | None = None,
                      mtp_tokens: int = 0, mtp_acceptance: float = 0.0,
                      kernels: Iterable[EngineKernel] = ()) -> Deployment:
    """A worker as an engine runs it: the engine's kernel quality, overheads and collective latency
    applied to the chip calibration and the system; `kernels`: what the engine's version runs instead of the
    calibrated kernels (with_kernels).

    An engine with a fitted collective latency runs its small all-reduces in its own kernels (vLLM's and
    SGLang's custom all-reduce, on CUDA and ROCm alike), and that latency stands on every chip. Without one,
    collectives go through the vendor's library (NCCL, RCCL): the system's link latency times the calibration's
    collective_latency_factor, what the library takes for a small collective over the reference's."""
    calibration, profile = with_kernels(calibration, profile, kernels)
    if profile.collective_latency_s is not None:
        system = dataclasses.replace(system, scale_up_latency_s=profile.collective_latency_s)
    elif calibration.collective_latency_factor != 1.0:
        system = dataclasses.replace(
            system, scale_up_latency_s=system.scale_up_latency_s * calibration.collective_latency_factor)
    return Deployment(model=model, system=system, layout=layout, precision=precision,
                      calibration=engine_calibration(calibration, profile),
                      kernel_overhead_s=profile.kernel_overhead_s if profile.cuda_graphs else None,
                      step_overhead_s=profile.step_overhead_s, expert_imbalance=profile.expert_imbalance,
                      moe_overlap=profile.moe_overlap if moe_overlap is None else moe_overlap,
                      mtp_tokens=mtp_tokens, mtp_acceptance=mtp_acceptance)


def prompt_group_size(profile: EngineProfile, isl: Num, clients: Num) -> Num:
    """Prompts that arrive and are prefilled together: up to as many as one step's budget holds (at
    most the clients of the rank), scaled by how synchronised the engine's arrivals stay."""
    most = np.clip(np.floor(profile.max_num_tokens / isl), 1.0, np.maximum(clients, 1.0))
    return 1.0 + profile.arrival_sync * (most - 1.0)


def _group_prefill(dep: Deployment, profile: EngineProfile, isl: Num, group: Num, decode_batch: Num, context: Num,
                   mixed: bool, busy_ranks: Num = 1.0, decode_step_s: Num | None = None) -> tuple[Num, Num]:
    """(engine time a group of prompts adds, wall time until the group's prefill is done) [s].

    The group's tokens run in chunks of what the step budget leaves beside `decode_batch` decodes
    (mixed engines) or alone while decodes wait; a chunked prompt has half its earlier chunks cached
    on average. Under attention data parallelism the group is spread over `busy_ranks` ranks: their
    attention runs there while the other ranks wait in lockstep, and the experts see only its tokens.
    """
    decode = decode_batch if mixed else 0.0
    width = 1.0 + dep.mtp_tokens  # tokens a decode verifies a step (multi-token prediction)
    tokens = group * isl / busy_ranks  # per busy rank
    chunk = np.minimum(tokens, np.maximum(profile.max_num_tokens - decode * width, 1.0))
    steps = tokens / chunk
    with_prompts = step_cost(dep, Batch(decode_tokens=decode, decode_context=context, decode_width=width,
                                        prefill_tokens=chunk, prefill_sequences=chunk / isl,
                                        prefill_context=np.maximum(isl - chunk, 0.0) / 2.0,
                                        prefill_ranks=busy_ranks)).time_s
    if mixed:
        # the same decodes alone (with MTP not decode_step_s, which adds the drafts the mixed step leaves out)
        without = decode_step_s if decode_step_s is not None and not dep.mtp_tokens else step_cost(
            dep, Batch(decode_tokens=decode, decode_context=context, decode_width=width)).time_s
        added = (with_prompts - without) * steps
    else:
        added = with_prompts * steps
    return added * profile.prefill_scale, with_prompts * steps * profile.prefill_scale


_ITERATIONS = 3


def _bisect(residual, low: Num, high: Num, iterations: int = 32) -> Num:
    """Root of an increasing function on [low, high], elementwise."""
    lo, hi = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        above = residual(mid) > 0
        hi = np.where(above, mid, hi)
        lo = np.where(above, lo, mid)
    return 0.5 * (lo + hi)


def _capacity(dep: Deployment, profile: EngineProfile, sequences: Num, isl: Num, osl: Num) -> tuple[MemoryPlan, Num]:
    """Memory of one device and the sequences whose KV fits per attention-DP rank: each holds isl + osl
    tokens where the engine reserves a request's whole length at admission, isl + osl / 2 on average
    where it allocates pages as the output grows (profile.kv_on_demand)."""
    held = isl + np.where(profile.kv_on_demand, 0.5, 1.0) * osl
    mem = deployment_memory(dep, sequences, held, profile.max_num_tokens,
                            reserve_fraction=1.0 - profile.kv_memory_fraction)
    return mem, np.minimum(np.floor(mem.kv_token_capacity / held), float(profile.max_batch_size))


def _queue_wait(profile: EngineProfile, u: Num, group_service: Num, clients: Num, per_prompt: Num) -> Num:
    """Mean wait of a prompt group for the prompts ahead of it [s]: Kingman's steady-state queue, plus
    the benchmark's first wave (all clients send at once; on average half of them are ahead)."""
    return profile.burstiness * u / (1.0 - u) * group_service + profile.first_wave * clients * per_prompt


_HARMONIC = np.cumsum(1.0 / np.arange(1.0, 1025.0))  # H_n for n = 1..1024


def _attention_dp_hold(profile: EngineProfile, harmonic: Num, lam: Num, step_s: Num) -> Num:
    """Mean time a prompt is held so that every attention-DP rank prefills in the same step [s]: until
    each of the ranks has a prompt (the largest of their first arrivals, H_ranks / lam for arrivals
    at `lam` per rank; `harmonic` is H_ranks) or the engine's hold of attention_dp_hold_steps steps runs
    out. A prompt is taken to wait a whole hold, not half of one: measured TensorRT-LLM DeepSeek-R1 fp8
    DEP8 runs with 1,024-token prompts at 64-128 clients wait 1.3-1.4 s beyond the lockstep model where
    60 of their steps last 1.1-1.3 s."""
    return np.minimum(profile.attention_dp_hold_steps * step_s, harmonic / np.maximum(lam, 1e-12))


def _batch_wait(profile: EngineProfile, lam: Num, step_s: Num, isl: Num, decode_tokens: Num) -> Num:
    """Mean time a prompt waits under the engine's batch waiting [s]: the first prompt to arrive holds
    until enough prompts join for their tokens and the step's `decode_tokens` to reach the engine's
    share of its budget, or batch_wait_steps steps pass; prompts arriving meanwhile (lam per second,
    uniformly) wait the rest of that window, on average half of it. More load fills windows with more
    prompts, so the mean wait falls from a whole window towards half of one as clients are added."""
    threshold = profile.batch_wait_tokens_ratio * profile.max_num_tokens
    more = np.maximum(np.ceil((threshold - decode_tokens) / isl) - 1.0, 0.0)  # prompts still to come
    per_step = np.maximum(lam * step_s, 1e-12)
    window = np.minimum(profile.batch_wait_steps, more / per_step)
    joined = per_step * window
    return window * (1.0 + joined / 2.0) / (1.0 + joined) * step_s


def _recv_wait(profile: EngineProfile, u: Num, decode_step_s: Num) -> Num:
    """Mean time a prompt waits to be taken in [s] when the scheduler takes new requests only every
    recv_interval_steps decode steps and after any step with prompts: one arriving among decodes (a
    share 1 - u of the time) waits half an interval. Without attention DP only: SGLang's skipper of the
    measured releases refuses attention DP (scheduler_recv_skipper.py asserts it off)."""
    return (1.0 - u) * 0.5 * profile.recv_interval_steps * decode_step_s


def serve_aggregated(dep: Deployment, profile: EngineProfile, workload: Workload, workers: Num = 1) -> ServingResult:
    """Steady state of `workers` identical workers serving prefill and decode in the same steps."""
    d = dep.layout.attn_dp
    isl, osl = workload.lengths()
    clients = np.asarray(workload.concurrency, float) / (workers * d)  # per attention-DP rank
    context = isl + osl / 2.0
    mem, slots = _capacity(dep, profile, clients, isl, osl)
    fits = slots >= 1
    mixed = profile.mixes_prefill
    active = np.minimum(clients, np.maximum(slots, 1.0))  # clients holding KV-cache slots
    waiting = clients - active  # clients queued for a free slot
    group = prompt_group_size(profile, isl, active)
    batch = np.maximum(active, 1.0)  # ranks step in lockstep: a rank with no sequence still runs a step
    balanced = (np.asarray(d) > 1) & (profile.attention_dp_hold_steps > 0)
    # TensorRT-LLM batch-waits (timeout and token share both set) without attention DP, and only while other
    # sequences decode (not for a lone client); SGLang's receive interval also applies without attention DP only
    waits = ((np.asarray(d) == 1) & (profile.batch_wait_steps > 0) & (profile.batch_wait_tokens_ratio > 0)
             & (clients > 1))
    receives = (np.asarray(d) == 1) & (profile.recv_interval_steps > 1)
    harmonic = _HARMONIC[np.clip(np.asarray(d, int), 1, _HARMONIC.size) - 1] if np.any(balanced) else None
    for _ in range(_ITERATIONS):  # the decode batch excludes clients in prefill: a damped fixed point
        t_decode, per_step = decode_step(dep, batch, context)
        added, wall = _group_prefill(dep, profile, isl, group, batch, context, mixed, decode_step_s=t_decode)
        # ranks step in lockstep: every rank's prompts stall all of them, unless the engine holds prompts
        # until all ranks prefill in the same step
        per_prompt = added / group * np.where(balanced, 1.0, d)

        def latency(lam: Num) -> tuple[Num, Num, Num]:
            u = np.minimum(lam * per_prompt, 0.999999)
            tpot = t_decode / (1.0 - u) / per_step
            inner = (profile.ttft_overhead_s + profile.first_token_steps * t_decode / (1.0 - u) + wall
                     + _queue_wait(profile, u, added, active, per_prompt)
                     + (np.where(balanced, _attention_dp_hold(profile, harmonic, lam, t_decode / (1.0 - u)), 0.0)
                        if harmonic is not None else 0.0)
                     + (np.where(waits, _batch_wait(profile, lam, t_decode / (1.0 - u), isl,
                                                    batch * (1.0 + dep.mtp_tokens)), 0.0)
                        if np.any(waits) else 0.0)
                     + (np.where(receives, _recv_wait(profile, u, t_decode), 0.0) if np.any(receives) else 0.0))
            return inner + waiting / np.maximum(lam, 1e-12), tpot, inner

        def residual(lam: Num) -> Num:
            ttft, tpot, _ = latency(lam)
            return lam * (ttft + (osl - 1.0) * tpot) - clients

        lam = _bisect(residual, 0.0, 1.0 / np.maximum(per_prompt, 1e-12))
        ttft, tpot, inner = latency(lam)
        decoding = (osl - 1.0) * tpot
        batch = 0.5 * batch + 0.5 * np.maximum(active * decoding / (inner + decoding), 1.0)
    notes = (f"engine {profile.id}: step budget {profile.max_num_tokens} tokens, "
             f"{'prefill mixed into decode steps' if mixed else 'prefill steps pause decodes'}",
             f"prompts arrive in groups of up to {profile.max_num_tokens} tokens; arrival burstiness "
             f"{profile.burstiness:g} (Kingman); a first token waits {profile.first_token_steps:.2g} engine "
             f"steps beyond its prefill; {placement_note(dep)}"
             + (f"; prompts held up to {profile.attention_dp_hold_steps:g} steps until every attention-DP "
                f"rank has one" if harmonic is not None else "")
             + (f"; new prompts wait up to {profile.batch_wait_steps:g} steps for "
                f"{profile.batch_wait_tokens_ratio:.0%} of the step budget (batch waiting)" if np.any(waits) else "")
             + (f"; new requests taken in every {profile.recv_interval_steps:g} decode steps"
                if np.any(receives) else ""),
             f"{workers:g} aggregated worker(s) of {dep.chips} chips; KV cache gets "
             f"{profile.kv_memory_fraction:.0%} of memory")
    return ServingResult(ttft_s=ttft, tpot_s=tpot, output_tokens_per_s=lam * osl * d * workers,
                         chips=dep.chips * workers, decode_batch=batch, prefill_utilization=lam * per_prompt,
                         memory=mem, feasible=np.broadcast_to(fits, np.shape(ttft)), assumptions=notes)


def serve_disaggregated(prefill: Deployment, decode: Deployment, profile: EngineProfile, workload: Workload,
                        prefill_workers: Num | None = None, decode_workers: Num | None = None,
                        prefill_batch: Num | None = None, decode_batch: Num | None = None) -> ServingResult:
    """Steady state of separate prefill and decode workers; the KV cache of each prompt moves over
    the scale-out network (scale-up when both fit in one scale-up domain). prefill_batch: prompts a
    prefill step takes at most (default: the step budget's worth); decode_batch: sequences a decode
    rank runs at most (default: what its KV cache holds, up to the engine's max_batch_size); clients
    beyond wait for a slot.

    Workers not given are sized: decode workers so that each decode rank holds the engine's
    `disagg_decode_batch` clients, prefill workers so that prompts keep them as busy as the engine's
    `disagg_prefill_utilization`.
    """
    isl, osl = workload.lengths()
    conc = np.asarray(workload.concurrency, float)
    dp, dd = prefill.layout.attn_dp, decode.layout.attn_dp
    context = isl + osl / 2.0
    sized = []
    if decode_workers is None:
        decode_workers = np.maximum(1.0, np.round(conc / (dd * profile.disagg_decode_batch)))
        sized.append(f"decode workers sized for {profile.disagg_decode_batch:g} clients per rank")
    clients = conc / (decode_workers * dd)
    mem, slots = _capacity(decode, profile, clients, isl, osl)
    if decode_batch is not None:
        slots = np.minimum(slots, decode_batch)
    p_mem, _ = _capacity(prefill, profile, np.ones_like(isl), isl, np.ones_like(osl))
    fits = (slots >= 1) & p_mem.fits
    active = np.minimum(clients, np.maximum(slots, 1.0))  # per decode rank
    waiting = (clients - active) * decode_workers * dd  # all workers: clients queued for a KV slot
    def prefill_groups(workers: Num) -> tuple[Num, Num, Num]:
        """(prompts a prefill worker takes per round, its engine time, its wall time): a group per
        attention-DP rank, the ranks stepping in lockstep as one server."""
        per_worker = conc / workers
        per_rank = prompt_group_size(profile, isl, per_worker / dp)
        if prefill_batch is not None:
            per_rank = np.minimum(per_rank, prefill_batch)
        busy = np.clip(per_worker, 1.0, float(dp))
        group = per_rank * busy
        return (group, *_group_prefill(prefill, profile, isl, group, 0.0, 0.0, False, busy))

    if prefill_workers is None:
        group, added, _ = prefill_groups(1.0)
        t_decode = decode_step(decode, np.maximum(active, 1.0), context)[0]
        rate = conc / ((osl - 1.0) * t_decode + profile.ttft_overhead_s + added)
        target = profile.disagg_prefill_utilization
        prefill_workers = np.maximum(1.0, np.ceil(rate * added / group / target))
        sized.append(f"prefill workers sized for {target:.0%} utilisation")
    prefill_ranks = prefill_workers  # each worker's ranks step together: one server per worker
    group, added, wall = prefill_groups(prefill_workers)
    # KV of one prompt, all layers, sent from the prefill worker to the decode worker
    kv_total = (isl * kv_bytes_per_token_per_device(decode.model, Shard(1, 1, 1, 1, 1), decode.precision)
                + state_bytes_per_sequence_per_device(decode.model, Shard(1, 1, 1, 1, 1)))
    system = decode.system
    # prefill and decode on different systems (a mixed fleet) share only scale-out links: the slower side's
    same_domain = (prefill.chips + decode.chips <= system.scale_up_domain_chips) & (prefill.system.id == system.id)
    scale_out = min(system.scale_out_bytes_per_s, prefill.system.scale_out_bytes_per_s)
    link = np.where(same_domain, system.scale_up_bytes_per_s, scale_out) * prefill.chips
    transfer = kv_total / np.maximum(link, 1.0) + max(system.scale_out_latency_s, prefill.system.scale_out_latency_s)
    batch = np.maximum(active, 1.0)
    for _ in range(_ITERATIONS):
        step_s, per_step = decode_step(decode, batch, context)
        tpot = step_s / per_step

        def ttft_of(lam_total: Num) -> tuple[Num, Num]:
            u = np.minimum(lam_total / prefill_ranks * added / group, 0.999999)
            inner = (profile.ttft_overhead_s + profile.disagg_ttft_overhead_s + wall + transfer
                     + _queue_wait(profile, u, added, conc / prefill_ranks, added / group))
            # clients without a decode slot: their prefill runs while they queue for one (Little's law
            # over the clients not decoding), so the slot queue and the prefill path overlap
            return np.maximum(inner, waiting / np.maximum(lam_total, 1e-12)), inner

        def residual(lam_total: Num) -> Num:
            return lam_total * (ttft_of(lam_total)[0] + (osl - 1.0) * tpot) - conc

        lam = _bisect(residual, 0.0, prefill_ranks * group / np.maximum(added, 1e-12))
        ttft, inner = ttft_of(lam)
        decoding = (osl - 1.0) * tpot
        batch = 0.5 * batch + 0.5 * np.maximum(active * decoding / (inner + decoding), 1.0)
    chips = prefill.chips * prefill_workers + decode.chips * decode_workers
    mixed = "" if prefill.system.id == system.id else f" of {prefill.system.id}"
    notes = (f"disaggregated: prefill workers of {prefill.chips} chips{mixed}, decode workers of {decode.chips} chips"
             + (f" ({'; '.join(sized)})" if sized else ""),
             f"engine {profile.id}; arrival burstiness {profile.burstiness:g}; KV moved over "
             f"{'scale-up' if np.all(same_domain) else 'scale-out'} links")
    return ServingResult(ttft_s=ttft, tpot_s=tpot, output_tokens_per_s=lam * osl, chips=chips, decode_batch=batch,
                         prefill_workers=prefill_workers, decode_workers=decode_workers,
                         prefill_utilization=lam / prefill_ranks * added / group, memory=mem,
                         feasible=np.broadcast_to(fits, np.shape(ttft)),
                         assumptions=notes)


def prefill_throughput(dep: Deployment, profile: EngineProfile, isl: Num) -> Num:
    """Prompt tokens per second one worker processes when prompts queue up [tokens/s]: steps filled
    to the token budget with whole or chunked prompts (MLPerf-style offline and server scenarios)."""
    tokens = np.maximum(profile.max_num_tokens, np.minimum(isl, 16384))
    t = step_cost(dep, Batch(prefill_tokens=tokens, prefill_sequences=tokens / isl,
                             prefill_context=np.maximum(isl - tokens, 0.0) / 2.0)).time_s
    return tokens * dep.layout.attn_dp / t
