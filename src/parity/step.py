"""One forward step of a deployment: the model on a system in a layout, priced end to end.

With pipeline parallelism the batch moves as pp microbatches, so one step of every sequence
takes pp stage-times of a 1/pp-sized microbatch (the stages work on the others meanwhile).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np

from parity.cost import (Cost, collective_algorithm, mesh_link_share, price_collective, price_kernel,
                         price_step)
from parity.hardware import Calibration, System
from parity.memory import (HOST_RESERVE_BYTES, RUNTIME_RESERVE_BYTES, MemoryPlan, cache_bytes_per_sequence_per_device,
                           kv_bytes_per_token_per_device, serving_memory, state_bytes_per_sequence_per_device,
                           weight_bytes_per_device)
from parity.errors import InfeasiblePlan
from parity.model import Model, MoeMlp
from parity.placement import ExpertPlacement
from parity.ops import Batch, Kernel, Num
from parity.plan import Layout, LayoutGrid, Precision, Shard, device_step
from parity.units import counted

__all__ = ["Deployment", "placement_note", "step_cost", "decode_step", "decode_spread", "drafter_deployment",
           "decode_host_floor", "decode_host_floor_note", "deployment_memory", "breakdown", "decode_breakdown", "Part",
           "host_read_s", "kv_over_scale_up", "kv_transfer_s"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Deployment:
    """A model served (or trained) on chips of a system in one layout, with named assumptions.

    kernel_overhead_s: fixed cost per kernel (None: the calibration's); step_overhead_s: per step
    (scheduling, sampling, host work); sequence_overhead_s: host work per sequence in a step that the engine
    does not overlap with the device (an engine version's, engine.EngineHost); expert_imbalance: busiest expert
    rank over the mean (>= 1);
    moe_overlap: share of expert dispatch/combine time hidden under computation (two-batch overlap).
    normal_all_to_all: the expert all-to-all runs normal (high-throughput) kernels at every batch
    (EngineProfile.normal_all_to_all); prompt_gather_all_reduce: a step with prompt tokens moves the attention-DP
    group's tokens to and from the experts by all-reduces (EngineProfile.prompt_gather_all_reduce); moe_gather: the
    fused-MoE backend all-gathers the attention-DP group's tokens and reduce-scatters the outputs in every step, no
    all-to-all (engine.GATHERING_MOE_BACKENDS); decode_padded: under attention DP the engine pads every rank's
    decodes to the busiest's and its experts compute the padded rows (EngineProfile.decode_padded_experts).
    mtp_tokens: draft tokens per decode step from the model's multi-token-prediction module (0: off);
    mtp_acceptance: draft tokens accepted per step on average, in [0, mtp_tokens].
    offload_kv, offload_weights: share of each device's KV cache / weights kept in the host CPU's memory
    (System.host_memory_bytes) instead of the chip's: device memory falls by that share, and every step
    reads the offloaded bytes over the host link (`host_read_s`).
    """

    model: Model
    system: System
    layout: Layout | LayoutGrid
    precision: Precision
    calibration: Calibration
    kernel_overhead_s: float | None = None
    step_overhead_s: float = 0.0
    sequence_overhead_s: float = 0.0
    expert_imbalance: float = 1.0
    moe_overlap: float = 0.0
    normal_all_to_all: bool = False
    prompt_gather_all_reduce: bool = False
    moe_gather: bool = False
    decode_padded: bool = False
    mtp_tokens: int = 0
    mtp_acceptance: float = 0.0
    offload_kv: float = 0.0
    offload_weights: float = 0.0

    def __post_init__(self) -> None:
        for name, share in (("offload_kv", self.offload_kv), ("offload_weights", self.offload_weights)):
            if not 0.0 <= share <= 1.0:
                raise InfeasiblePlan(f"{name} must be in [0, 1], got {share:g}")
            if share and not self.system.host_link_bytes_per_s:
                raise InfeasiblePlan(f"{name}: {self.system.id} has no host memory on a chip-to-CPU link to "
                                     f"offload to (offload needs e.g. a Grace-based GB200/GB300 system)")
        if isinstance(self.layout, Layout):  # a LayoutGrid's layouts are checked where they are made
            object.__setattr__(self, "layout", self.layout.check(self.model))
        if self.expert_imbalance < 1.0:
            raise ValueError(f"expert_imbalance must be >= 1, got {self.expert_imbalance}")
        if not self.sequence_overhead_s >= 0.0:  # NaN too
            raise ValueError(f"sequence_overhead_s must be >= 0, got {self.sequence_overhead_s}")
        if self.mtp_tokens:
            if not self.model.mtp_layers:
                raise InfeasiblePlan(f"{self.model.name} has no multi-token-prediction layers for mtp_tokens="
                                     f"{self.mtp_tokens}")
            if not 0.0 <= self.mtp_acceptance <= self.mtp_tokens:
                raise InfeasiblePlan(f"mtp_acceptance must be in [0, mtp_tokens={self.mtp_tokens}], "
                                     f"got {self.mtp_acceptance}")

    @property
    def chips(self) -> Num:
        """Chip packages the worker uses: its ranks, or fewer where each die of a multi-die package is a
        rank (System.per_die)."""
        share = self.system.chip.ranks_per_package
        return self.layout.chips if share == 1 else self.layout.chips / share

    @property
    def shard(self) -> Shard:
        """Split factors; with an expert placement (any moe_ep, redundant or placed shared experts) the
        slots per rank and the busiest rank's load come from `placement`."""
        placed = self.placement
        if placed is None:
            return Shard.of(self.layout, self.expert_imbalance, self.moe_overlap, self.normal_all_to_all,
                            self.prompt_gather_all_reduce, self.moe_gather, self.decode_padded)
        r = self.layout.resolved()
        shared = placed.shared_replicas
        return Shard(r.tp, r.attn_dp, r.moe_tp, r.moe_ep, r.pp, _imbalance(placed, self.expert_imbalance),
                     self.moe_overlap, float(placed.slots_per_rank), float(shared),
                     placed.shared_weight if shared else 0.0, float(self.normal_all_to_all),
                     float(self.prompt_gather_all_reduce), float(self.moe_gather), float(self.decode_padded))

    @property
    def placement(self) -> ExpertPlacement | None:
        """The experts' placement when the layout calls for one (a redundant or shared replica, or moe_ep
        not dividing the experts); None for the default even split."""
        layout = self.layout
        moe = next((layer.mlp for layer in self.model.layers if isinstance(layer.mlp, MoeMlp)), None)
        if not isinstance(layout, Layout) or moe is None:
            return None
        ep = layout.resolved().moe_ep
        if not layout.placed and moe.num_experts % ep == 0:
            return None
        weight = moe.shared_intermediate_size / moe.expert_intermediate_size if moe.num_shared_experts else 0.0
        return ExpertPlacement(routed_experts=moe.num_experts, ranks=ep, redundant=layout.redundant_experts,
                               shared_replicas=layout.shared_expert_replicas, shared_weight=weight,
                               experts_per_token=moe.experts_per_token)


def placement_note(dep: Deployment) -> str:
    """The experts' placement and the busiest rank's load, in words; '' for a model without experts, whose step
    the imbalance does not touch."""
    if "moe" not in dep.model.features:
        return ""
    placed = dep.placement
    if placed is None:
        return f"expert imbalance {dep.expert_imbalance:g}"
    how = (f"EPLB placement ({placed.redundant} redundant, {placed.shared_replicas} shared-expert replicas)"
           if placed.balanced else "experts in index order")
    return (f"{how}: {counted(placed.slots_per_rank, 'expert slot')} per rank over {counted(placed.ranks, 'rank')}, "
            f"busiest rank {float(dep.shard.imbalance):.3g} x the mean (fitted static imbalance "
            f"{dep.expert_imbalance:g})")


@functools.lru_cache(maxsize=256)
def _imbalance(placement: ExpertPlacement, static: float) -> float:
    return placement.imbalance(static)


def step_cost(dep: Deployment, batch: Batch) -> Cost:
    """Time and work of one step of `batch` (per attention-DP rank) on one device of the worker."""
    pp = dep.layout.pp
    micro = _microbatch(batch, pp)
    stage = price_step(device_step(dep.model, micro, dep.shard, dep.precision), dep.system, dep.calibration,
                       dep.kernel_overhead_s)
    host_s = host_read_s(dep, micro)
    return stage * pp + Cost(overhead_s=dep.step_overhead_s + dep.sequence_overhead_s * batch.sequences,
                             communication_s=host_s * pp)


def _microbatch(batch: Batch, pp: Num) -> Batch:
    """One of the pp microbatches a pipelined step moves `batch` as."""
    return batch if np.all(pp == 1) else dataclasses.replace(
        batch, decode_tokens=batch.decode_tokens / pp, prefill_tokens=batch.prefill_tokens / pp,
        prefill_sequences=batch.prefill_sequences / pp)


def host_read_s(dep: Deployment, batch: Batch) -> Num:
    """[s] one device spends in a step of `batch` reading what it offloaded to host memory over the host link:
    its offloaded weights once, and the offloaded share of the KV its decode tokens attend to (the KV of
    each sequence once, whatever the decode width). An assumption: these reads overlap nothing beyond what
    the step model already overlaps; they add to the step. Prefill reads of earlier chunks' KV are not priced.
    """
    if not (dep.offload_kv or dep.offload_weights):
        return 0.0
    kv = cache_bytes_per_sequence_per_device(dep.model, dep.shard, dep.precision, batch.decode_context) \
        * batch.decode_tokens
    weights = weight_bytes_per_device(dep.model, dep.shard, dep.precision)
    return (dep.offload_kv * kv + dep.offload_weights * weights) / dep.system.host_link_bytes_per_s


@dataclass(frozen=True, slots=True, kw_only=True)
class Part:
    """One line of a step's breakdown: an op (all layers) or a collective, its time and how it is bound."""

    name: str
    seconds: float
    bound: str
    detail: str = ""


def _formats(kernel: Kernel, precision: Precision) -> str:
    """The formats a breakdown line names: the math unit's, and the KV cache's where the op reads or writes it
    (attention math may run in bf16 over an fp8 cache, and the cache write moves KV, not activations)."""
    if kernel.name == "kv_write":
        return f"KV {precision.kv_cache}"
    if kernel.kind.startswith("attention"):
        return f"{kernel.fmt}, KV {precision.kv_cache}"
    return kernel.fmt


def breakdown(dep: Deployment, batch: Batch) -> list[Part]:
    """Where one step's time goes on one device, largest first (scalar layouts and batches): the step step_cost
    prices, so the lines add up to its time (pipelined: pp stage-times of a microbatch, each line pp times)."""
    if not isinstance(dep.layout, Layout):
        raise InfeasiblePlan("a breakdown needs one layout, not a grid")
    pp = float(dep.layout.pp)
    micro = _microbatch(batch, pp)
    step = device_step(dep.model, micro, dep.shard, dep.precision)
    parts: dict[str, list[float]] = {}
    bounds: dict[str, str] = {}
    details: dict[str, str] = {}
    runs: dict[str, float] = {}
    for kernel in step.kernels:
        cost = price_kernel(kernel, dep.system.chip, dep.calibration, dep.kernel_overhead_s)
        parts.setdefault(kernel.name, []).append(float(cost.time_s) * pp)
        bounds[kernel.name] = "math" if float(cost.compute_s) > float(cost.memory_s) else "memory"
        runs[kernel.name] = runs.get(kernel.name, 0.0) + float(kernel.count) * pp
        details[kernel.name] = f"{_formats(kernel, dep.precision)}, {runs[kernel.name]:g} per step"
    overlappable_s = 0.0
    for c in step.collectives:
        cost, hidden = price_collective(c, dep.system, dep.calibration)
        seconds = (float(cost.time_s) + float(hidden)) * pp
        overlappable_s += float(hidden) * pp
        if seconds <= 0:
            continue
        parts.setdefault(c.name, []).append(seconds)
        bounds[c.name] = "links" + (" (overlappable)" if float(hidden) > 0 else "")
        details[c.name] = collective_algorithm(c.kind, float(c.bytes), float(c.group), dep.system,
                                               dep.calibration.collective_efficiency,
                                               None if c.fanout is None else float(c.fanout),
                                               bool(np.all(c.low_latency)), float(c.slices))
    out = [Part(name=k, seconds=sum(v), bound=bounds[k], detail=details[k]) for k, v in parts.items() if sum(v) > 0]
    # the lines hold each overlappable collective whole; the step (price_step) runs part of them under the kernels:
    # a line of minus what it hid, so the lines add up to the step (a schedule slower than the serial sum: plus)
    device_s = float(price_step(step, dep.system, dep.calibration, dep.kernel_overhead_s).time_s) * pp
    hidden_s = sum(p.seconds for p in out) - device_s
    if abs(hidden_s) > 1e-9 * device_s:
        out.append(Part(name="hidden under computation" if hidden_s > 0 else "overlap schedule wait",
                        seconds=-hidden_s, bound="overlap",
                        detail=f"of {overlappable_s * 1e3:.3g} ms overlappable (moe_overlap {dep.moe_overlap:g})"))
    host_s = float(host_read_s(dep, micro)) * pp
    if host_s > 0:
        out.append(Part(name="host offload reads", seconds=host_s, bound="host link",
                        detail=f"KV {dep.offload_kv:.0%}, weights {dep.offload_weights:.0%} offloaded"))
    if dep.step_overhead_s:
        out.append(Part(name="step overhead", seconds=dep.step_overhead_s, bound="host", detail="scheduling, sampling"))
    sequences = float(batch.sequences)
    if dep.sequence_overhead_s and sequences:
        out.append(Part(name="host work per sequence", seconds=dep.sequence_overhead_s * sequences, bound="host",
                        detail=f"{sequences:g} sequences x {dep.sequence_overhead_s * 1e3:.3g} ms, not overlapped"))
    return sorted(out, key=lambda p: -p.seconds)


def decode_breakdown(dep: Deployment, sequences: float, context: float, decode_ranks: float | None = None,
                     context_spread: float = 0.0, host_token_s: float = 0.0) -> list[Part]:
    """Where one decode step of `sequences` sequences a rank at mean `context` [tokens] (spread context_spread either
    side, as decode_step), on `decode_ranks` of the attention-DP ranks (None: every rank), goes on one device,
    largest first: the step decode_step prices, held to decode_host_floor's host_token_s [s] a decode token, so the
    lines add up to its time (the floor a line of its own where it binds). With multi-token prediction the ops are
    the verify's (1 + mtp_tokens tokens a sequence) and one line holds the drafts: the MTP module run mtp_tokens
    times on drafter_deployment (DeepSeek-R1 on 8 B200s, MTP 3, 1 sequence: 8.92 ms of verify and 3 x 0.186 ms of
    drafts)."""
    parts = breakdown(dep, Batch(decode_tokens=sequences, decode_context=context, decode_width=1 + dep.mtp_tokens,
                                 decode_ranks=decode_ranks, decode_context_spread=context_spread))
    if dep.mtp_tokens:
        one = breakdown(drafter_deployment(dep), Batch(decode_tokens=sequences, decode_context=context,
                                                       decode_ranks=decode_ranks, decode_context_spread=context_spread))
        pass_s = sum(p.seconds for p in one)
        top = one[0]
        parts = sorted([*parts, Part(name="MTP draft passes", seconds=dep.mtp_tokens * pass_s, bound=top.bound,
                                     detail=f"{dep.mtp_tokens} x {pass_s * 1e3:.3g} ms, {top.name} "
                                            f"{top.seconds / pass_s:.0%} of each")], key=lambda p: -p.seconds)
    device_s = sum(p.seconds for p in parts)
    floor_s = float(decode_host_floor(dep, device_s, sequences, host_token_s))
    if floor_s > device_s:
        tokens = sequences * (1 + dep.mtp_tokens)
        parts.append(Part(name="host floor", seconds=floor_s - device_s, bound="host",
                          detail=f"{tokens:g} decode tokens x {host_token_s * 1e6:.3g} us = {floor_s * 1e3:.3g} ms"))
    return parts


def decode_step(dep: Deployment, sequences: Num, context: Num, decode_ranks: Num | None = None,
                context_spread: Num = 0.0) -> tuple[Num, Num]:
    """(seconds of one decode step of `sequences` sequences a rank, output tokens each gains per step).

    decode_ranks: the attention-DP ranks that carry such sequences (None: every rank; decode_spread), whose tokens
    the experts see. context: their mean context [tokens]; context_spread: how far their contexts spread either side
    of it (osl / 2 for requests decoding from isl to isl + osl, priced at isl + osl / 2; Batch.decode_context_spread),
    which the keys of chunked and windowed layers depend on.
    With multi-token prediction (DeepSeek-V3 Sec. 2.2; speculative decoding) the MTP module drafts
    `mtp_tokens` tokens one after another, the model verifies them all in one step, and on average
    1 + mtp_acceptance tokens are kept (the drafts priced on drafter_deployment).
    """
    if not dep.mtp_tokens:
        return step_cost(dep, Batch(decode_tokens=sequences, decode_context=context, decode_ranks=decode_ranks,
                                    decode_context_spread=context_spread)).time_s, 1.0
    main = step_cost(dep, Batch(decode_tokens=sequences, decode_context=context, decode_width=1 + dep.mtp_tokens,
                                decode_ranks=decode_ranks, decode_context_spread=context_spread))
    draft = step_cost(drafter_deployment(dep), Batch(decode_tokens=sequences, decode_context=context,
                                                     decode_ranks=decode_ranks, decode_context_spread=context_spread))
    return main.time_s + dep.mtp_tokens * draft.time_s, 1.0 + dep.mtp_acceptance


def decode_spread(sequences: Num, attn_dp: Num) -> tuple[Num, Num]:
    """(sequences of the busiest attention-DP rank, ranks carrying sequences) of a worker whose `attn_dp` ranks
    decode `sequences` sequences each on average: where that is 1 or more, every rank carries the mean; under 1,
    attn_dp x sequences ranks (at least one) carry one sequence each and the others step idle in lockstep, so the
    experts see the sequences decoding, not one a rank. A lone client on 8 ranks (0.125 a rank): 1 sequence on 1
    rank; 4 clients: 1 on 4; 12 clients: 1.5 on all 8."""
    return np.maximum(sequences, 1.0), np.clip(attn_dp * np.minimum(sequences, 1.0), 1.0, attn_dp)


def drafter_deployment(dep: Deployment) -> Deployment:
    """The deployment one MTP draft runs on: the model's multi-token-prediction layers alone, without the step's
    fixed overheads (the main step pays them), on the worker's devices; under pipeline parallelism the MTP module
    sits on the last stage and drafts for every sequence there, so it runs unpipelined (pp 1)."""
    # (the deployment's Precision holds the formats; the MTP layers may lack a matrix the main ones leave unquantized)
    model = dataclasses.replace(dep.model, name=f"{dep.model.name}-mtp", layers=dep.model.mtp_layers, mtp_layers=(),
                                unquantized_matrices=frozenset())
    layout = dep.layout
    last_stage = dataclasses.replace(layout, pp=1 if isinstance(layout, Layout) else np.ones_like(layout.pp))
    return dataclasses.replace(dep, model=model, layout=last_stage, mtp_tokens=0, step_overhead_s=0.0,
                               sequence_overhead_s=0.0)


def decode_host_floor(dep: Deployment, step_s: Num, sequences: Num, host_token_s: float) -> Num:
    """A decode step [s] of `sequences` sequences a rank (decode_step's), at least host_token_s [s] x the rank's decode
    tokens, sequences x (1 + mtp_tokens), where the deployment runs attention DP (attn_dp > 1, elementwise over a
    search's layout grid): the engine's host work per request that its overlap scheduler cannot hide once it
    outgrows the device step (EngineProfile.decode_host_token_s; the simulator's step table applies the same floor,
    simulate.tables.step_table). 64 sequences with MTP 1 at 90 us a token: at least 11.5 ms."""
    if not host_token_s:
        return step_s
    floor = host_token_s * np.asarray(sequences, float) * (1.0 + dep.mtp_tokens)
    return np.where(np.asarray(dep.layout.attn_dp) > 1, np.maximum(step_s, floor), step_s)


def decode_host_floor_note(host_token_s: float, attn_dp: Num, mtp_tokens: int = 0) -> tuple[str, ...]:
    """decode_host_floor in words, for a prediction's assumptions (both models name it alike); none where it does not
    apply (no floor, or no layout with attention DP among `attn_dp`)."""
    if not host_token_s or not np.any(np.asarray(attn_dp) > 1):
        return ()
    per = "decode token (a sequence's 1 + MTP drafts)" if mtp_tokens else "sequence"
    return (f"an attention-DP decode step lasts at least {host_token_s * 1e6:.0f} us a {per} of its rank "
            f"(host work the overlap scheduler cannot hide: the engine profile's decode_host_token)",)


def kv_over_scale_up(prefill: Deployment, decode: Deployment) -> Num:
    """Whether a prompt's KV moves from a prefill worker to a decode worker over scale-up links: both on one system,
    and one worker of each fits one scale-up domain together (ranks, as the domain counts them); else over scale-out
    (a mixed fleet's two systems share only scale-out). Elementwise over a search's layout grids."""
    ranks = np.asarray(prefill.layout.chips) + np.asarray(decode.layout.chips)
    return (ranks <= decode.system.scale_up_domain_chips) & (prefill.system.id == decode.system.id)


def kv_transfer_s(prefill: Deployment, decode: Deployment, isl: Num) -> Num:
    """[s] to move one prompt's KV cache (every layer, and the fixed state of linear-attention and state-space
    layers) from the prefill worker that prefilled it to the decode worker that takes it, plus one link latency:
    what both the steady model (serving.steady) and the simulator (simulate.run) charge, and search screens with.

    Bytes: what the receivers hold. The request decodes on one attention-DP rank of the decode worker, its
    tp x pp ranks; each holds its stage's layers, GQA heads split over tp (kv_bytes_per_token_per_device:
    replicated where tp exceeds the KV heads) and MLA's latent whole on every tp rank, so tp copies of the
    latent move (TensorRT-LLM's MLACacheFormatter::format sends a context rank's latent blocks to each
    generation rank; NVIDIA/TensorRT-LLM cpp/tensorrt_llm/batch_manager/mlaCacheFormatter.cpp).
    Senders: the prompt was prefilled on one attention-DP rank of the prefill worker, whose tp x pp ranks hold it
    and send at once. Rate: the slower of the senders' aggregate egress (senders x the prefill system's per-rank
    link) and the receivers' aggregate ingress (receivers x the decode system's), each link one direction: scale-up
    where kv_over_scale_up, else scale-out. TensorRT-LLM sends a latent that several context ranks duplicate from
    only as many of them as the generation has tp ranks (needSendCache), which this leaves out: with one link speed
    on both sides the receivers are then the slower side anyway (unless the decode worker has more pipeline stages).
    DeepSeek-R1 (fp8 MLA latent, 61 layers x 576 B = 35,136 B a token), 8,192 tokens: 288 MB; from 8 H200s (50 GB/s
    scale-out each) to one GB200 rank (tp 1, 50 GB/s): 288e6 / min(400, 50) GB/s = 5.76 ms; to a tp-8 decode rank of
    8 H200s in bf16 at 4,096 tokens: 8 x 288 MB / min(400, 400) GB/s = 5.76 ms. Elementwise over layout grids."""
    d_tp, d_pp = np.asarray(decode.layout.tp, float), np.asarray(decode.layout.pp, float)
    receivers = d_tp * d_pp
    senders = np.asarray(prefill.layout.tp, float) * np.asarray(prefill.layout.pp, float)
    shard = Shard(d_tp, 1, 1, 1, d_pp)
    moved = (isl * kv_bytes_per_token_per_device(decode.model, shard, decode.precision)
             + state_bytes_per_sequence_per_device(decode.model, shard)) * receivers
    up = kv_over_scale_up(prefill, decode)
    # over a full mesh's scale-up each rank reaches the other side's ranks by one direct link each
    # (cost.mesh_link_share of a group of the other side's ranks and itself): an MI300X sending to one peer has 1 of 7
    out_up = prefill.system.scale_up_bytes_per_s * mesh_link_share(prefill.system, receivers + 1)
    in_up = decode.system.scale_up_bytes_per_s * mesh_link_share(decode.system, senders + 1)
    egress = senders * np.where(up, out_up, prefill.system.scale_out_bytes_per_s)
    ingress = receivers * np.where(up, in_up, decode.system.scale_out_bytes_per_s)
    latency = max(prefill.system.scale_out_latency_s, decode.system.scale_out_latency_s)
    return moved / np.maximum(np.minimum(egress, ingress), 1.0) + latency


def deployment_memory(dep: Deployment, sequences: Num, context: Num, step_tokens: Num,
                      reserve_fraction: float = 0.08, reserve_bytes: float = RUNTIME_RESERVE_BYTES) -> MemoryPlan:
    """Memory of one device holding `sequences` sequences of `context` tokens (per attention-DP rank).

    reserve_fraction and reserve_bytes are assumptions: engines keep ~5-10% of memory back
    (vLLM's gpu_memory_utilization 0.9, TensorRT-LLM's free_gpu_memory_fraction) plus RUNTIME_RESERVE_BYTES (3 GB)
    for the device runtime's context, graphs and communication buffers (memory.runtime_reserve_text: CUDA's on
    NVIDIA, ROCm/HIP's on AMD, CANN's on Ascend).
    """
    plan = serving_memory(dep.model, dep.shard, dep.precision, dep.system.chip.memory_bytes, sequences, context,
                          step_tokens, reserve_fraction, reserve_bytes, drafting=bool(dep.mtp_tokens))
    if not (dep.offload_kv or dep.offload_weights):
        return plan
    # the offloaded shares live in host memory: the device keeps 1 - share of each. The offloaded KV fills
    # the host memory the offloaded weights and the host's reserve leave, which bounds the KV a device can hold
    # beside its own room
    full = plan.weight_bytes
    host_room = dep.system.host_memory_bytes - HOST_RESERVE_BYTES - dep.offload_weights * full
    if dep.offload_weights and np.any(host_room < 0):
        raise InfeasiblePlan(f"offload_weights: {dep.offload_weights:.0%} of the weights exceeds the host memory "
                             f"({dep.system.host_memory_bytes / 1e9:,.0f} GB per chip, "
                             f"{HOST_RESERVE_BYTES / 1e9:,.0f} GB of it kept for the host's own use)")
    kept, moved = 1.0 - dep.offload_kv, dep.offload_kv
    return dataclasses.replace(plan, weight_bytes=full * (1.0 - dep.offload_weights),
                               kv_bytes=kept * plan.kv_bytes, host_kv_bytes=moved * plan.kv_bytes,
                               kv_bytes_per_token=kept * plan.kv_bytes_per_token,
                               host_kv_bytes_per_token=moved * plan.kv_bytes_per_token, host_room_bytes=host_room)
