"""Parallel layouts, and the sharding that turns logical ops into per-device kernels and collectives.

A serving worker has tp x attn_dp x pp chips: attention heads split `tp` ways inside each of
`attn_dp` data-parallel groups (each with its own sequences), layers split into `pp` stages, and
the MoE layers spread over the same tp x attn_dp chips as moe_tp (slices of each expert) x
moe_ep (whole experts). Layout sizes may be numpy arrays when many layouts are priced at once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from parity.dtypes import format_named
from parity.errors import InfeasiblePlan
from parity.graph import MLA_DECODE, LayerOps, forward
from parity.model import Model, MoeMlp
from parity.ops import Attention, Batch, Collective, Gemm, Kernel, Num, Stream

__all__ = ["Layout", "LayoutGrid", "Precision", "Shard", "device_step", "weight_matrices_per_device", "DeviceStep",
           "check_tensor_split", "check_expert_split", "check_pipeline_split"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Precision:
    """Number formats of a deployment: dense and expert weights, KV cache, activations, attention math;
    and how MLA decode runs (mla_decode, see MLA_DECODE): absorbed in the latent space (FlashMLA), or
    unabsorbed with each step's cached latents expanded to per-head K and V. attention_weights: the
    attention projections' format where a checkpoint keeps them apart (Meta's Llama-3.1 FP8 checkpoints
    quantise the MLP only); empty: the dense weights' format."""

    weights: str = "bf16"
    expert_weights: str = "bf16"
    kv_cache: str = "bf16"
    activations: str = "bf16"
    attention: str = "bf16"
    mla_decode: str = "absorbed"
    attention_weights: str = ""

    def __post_init__(self) -> None:
        for name in ("weights", "expert_weights", "kv_cache", "activations", "attention"):
            format_named(getattr(self, name))  # raises on an unknown name
        if self.attention_weights:
            format_named(self.attention_weights)
        if self.mla_decode not in MLA_DECODE:
            raise InfeasiblePlan(f"mla_decode must be one of {', '.join(MLA_DECODE)}, got {self.mla_decode!r}")

    def of(self, role: str) -> str:
        """The format of the weights with a given role (attention, mlp, expert, router, head)."""
        return {"expert": self.expert_weights, "router": "bf16", "head": "bf16",
                "attention": self.attention_weights or self.weights}.get(role, self.weights)

    @classmethod
    def for_model(cls, model: Model, kv_cache: str | None = None) -> Precision:
        """The checkpoint's own formats; KV in fp8 when weights are 8-bit or narrower, else bf16."""
        narrow = format_named(model.weight_format).bits <= 8 or format_named(model.expert_weight_format).bits <= 8
        return cls(weights=model.weight_format, expert_weights=model.expert_weight_format,
                   kv_cache=kv_cache or ("fp8" if narrow else "bf16"))


# Divisibility rules that serving and training layouts share (each message names the field and value)
def check_tensor_split(model: Model, tp: int, dense_mlp: bool = False) -> None:
    """tp must divide every layer's attention heads, and divide its KV heads or be a multiple of them
    (KV heads are then replicated; MLA's latent KV is not split by heads); with `dense_mlp`, also every
    dense MLP's width (training splits it; serving engines pad it)."""
    for layer in model.layers:
        a = layer.attention
        if a is None:  # a recurrent or MLP-only layer: its heads are checked by the mixer's own rules
            pass
        elif a.num_attention_heads % tp:
            raise InfeasiblePlan(f"tp must divide num_attention_heads ({a.num_attention_heads}), got {tp}")
        elif not a.mla and a.num_key_value_heads % tp and tp % a.num_key_value_heads:
            kv = a.num_key_value_heads
            raise InfeasiblePlan(f"tp must divide num_key_value_heads ({kv}) or be a multiple of it, got {tp}")
        if (dense_mlp and layer.mlp is not None and not isinstance(layer.mlp, MoeMlp)
                and layer.mlp.intermediate_size % tp):
            raise InfeasiblePlan(f"tp must divide intermediate_size ({layer.mlp.intermediate_size}), got {tp}")


def check_expert_split(mlp: MoeMlp, ep: int, expert_tp: int, names: tuple[str, str] = ("ep", "etp"),
                       extra_slots: int | None = None) -> None:
    """Expert parallelism must divide the experts and expert tensor parallelism the expert width;
    `names`: how the caller calls the two degrees. With `extra_slots` (serving's placement: redundant
    replicas + placed shared experts) any expert-parallel size up to the expert slots is allowed, each
    rank holding ceil(slots / ep) of them."""
    if extra_slots is not None:
        if ep > mlp.num_experts + extra_slots:
            raise InfeasiblePlan(f"{names[0]} must be at most the expert slots (routed {mlp.num_experts} + "
                                 f"redundant + shared replicas = {mlp.num_experts + extra_slots}), got {ep}")
    elif mlp.num_experts % ep:
        raise InfeasiblePlan(f"{names[0]} must divide the number of experts ({mlp.num_experts}), got {ep}")
    if mlp.expert_intermediate_size % expert_tp:
        raise InfeasiblePlan(f"{names[1]} must divide the expert width ({mlp.expert_intermediate_size}), "
                             f"got {expert_tp}")


def check_pipeline_split(model: Model, pp: int) -> None:
    """A pipeline stage holds at least one layer."""
    if pp > model.num_layers:
        raise InfeasiblePlan(f"pp must be at most the number of layers ({model.num_layers}), got {pp}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Layout:
    """Parallel layout of one serving worker (or one training replica's model-parallel part)."""

    tp: int = 1
    pp: int = 1
    attn_dp: int = 1
    moe_tp: int = 0
    moe_ep: int = 0
    redundant_experts: int = 0
    shared_expert_replicas: int = 0

    def __post_init__(self) -> None:
        if self.redundant_experts < 0 or self.shared_expert_replicas < 0:
            raise InfeasiblePlan(f"redundant_experts and shared_expert_replicas must be >= 0, got "
                                 f"{self.redundant_experts}, {self.shared_expert_replicas}")
        for name in ("tp", "pp", "attn_dp"):
            if getattr(self, name) < 1:
                raise InfeasiblePlan(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.moe_tp < 0 or self.moe_ep < 0:
            raise InfeasiblePlan(f"moe_tp and moe_ep must be >= 0 (0 = default), got {self.moe_tp}, {self.moe_ep}")

    @property
    def chips(self) -> int:
        return self.tp * self.pp * self.attn_dp

    @property
    def moe_group(self) -> int:
        """Chips one MoE layer spreads over: tp x attn_dp."""
        return self.tp * self.attn_dp

    def resolved(self) -> Layout:
        """moe_tp/moe_ep filled in: by default experts are split by expert parallelism over the group."""
        if self.moe_tp and self.moe_ep:
            return self
        if self.moe_ep:
            return dataclasses.replace(self, moe_tp=max(self.moe_group // self.moe_ep, 1))
        if self.moe_tp:
            return dataclasses.replace(self, moe_ep=max(self.moe_group // self.moe_tp, 1))
        return dataclasses.replace(self, moe_tp=1, moe_ep=self.moe_group)

    @property
    def placed(self) -> bool:
        """Whether the layout names an expert placement (redundant replicas or placed shared experts)."""
        return bool(self.redundant_experts or self.shared_expert_replicas)

    def check(self, model: Model) -> Layout:
        """This layout, resolved, if it divides the model; else InfeasiblePlan naming what does not."""
        layout = self.resolved()
        check_tensor_split(model, layout.tp)
        for layer in model.layers:
            if isinstance(layer.mlp, MoeMlp):
                if layout.moe_tp * layout.moe_ep != layout.moe_group:
                    raise InfeasiblePlan(f"moe_tp x moe_ep must equal tp x attn_dp ({layout.moe_group}), "
                                         f"got {layout.moe_tp} x {layout.moe_ep}")
                if layout.shared_expert_replicas and not layer.mlp.num_shared_experts:
                    raise InfeasiblePlan(f"shared_expert_replicas needs shared experts; {model.name} has none")
                check_expert_split(layer.mlp, layout.moe_ep, layout.moe_tp, ("moe_ep", "moe_tp"),
                                   extra_slots=layout.redundant_experts + layout.shared_expert_replicas)
        if "moe" not in model.features:  # no experts: the MLP follows attention's tensor parallelism
            if layout.placed:
                raise InfeasiblePlan(f"{model.name} has no experts to place (redundant_experts, "
                                     f"shared_expert_replicas)")
            layout = Layout(tp=layout.tp, pp=layout.pp, attn_dp=layout.attn_dp, moe_tp=layout.moe_group, moe_ep=1)
        check_pipeline_split(model, layout.pp)
        return layout

    def __str__(self) -> str:
        parts = [f"tp{self.tp}"]
        if self.pp > 1:
            parts.append(f"pp{self.pp}")
        if self.attn_dp > 1:
            parts.append(f"dp{self.attn_dp}")
        if self.moe_ep > 1:
            parts.append(f"ep{self.moe_ep}")
        if self.moe_tp > 1 and self.moe_ep > 1:
            parts.append(f"etp{self.moe_tp}")
        if self.redundant_experts:
            parts.append(f"r{self.redundant_experts}")
        if self.shared_expert_replicas:
            parts.append(f"s{self.shared_expert_replicas}")
        return "-".join(parts)


@dataclass(frozen=True, slots=True, kw_only=True)
class LayoutGrid:
    """Many layouts of one worker at once, as equal-length integer arrays (each already checked)."""

    tp: np.ndarray
    pp: np.ndarray
    attn_dp: np.ndarray
    moe_tp: np.ndarray
    moe_ep: np.ndarray

    @classmethod
    def of(cls, layouts: Iterable[Layout]) -> LayoutGrid:
        found = list(layouts)
        return cls(**{name: np.array([getattr(l, name) for l in found], dtype=float)
                      for name in ("tp", "pp", "attn_dp", "moe_tp", "moe_ep")})

    @property
    def chips(self) -> np.ndarray:
        return self.tp * self.pp * self.attn_dp

    def __len__(self) -> int:
        return len(self.tp)

    def at(self, i: int) -> Layout:
        return Layout(tp=int(self.tp[i]), pp=int(self.pp[i]), attn_dp=int(self.attn_dp[i]),
                      moe_tp=int(self.moe_tp[i]), moe_ep=int(self.moe_ep[i]))

    def take(self, index: np.ndarray) -> LayoutGrid:
        """The layouts at `index` (integer positions, repeats allowed)."""
        return LayoutGrid(**{name: getattr(self, name)[index] for name in ("tp", "pp", "attn_dp", "moe_tp", "moe_ep")})


@dataclass(frozen=True, slots=True)
class Shard:
    """Split factors of one layout as numbers (or arrays): t heads, d attention DP, mt/me experts, p stages.

    imbalance: the busiest expert-parallel rank's share of routed tokens over the mean (>= 1);
    moe_overlap: share of the expert dispatch/combine time hidden under computation;
    slots: expert weight sets a rank holds (0: experts / me, no placement named); shared: shared-expert
    instances placed as experts (0: shared experts computed on every rank), each token's shared work
    counted as shared_weight routed assignments.
    """

    t: Num
    d: Num
    mt: Num
    me: Num
    p: Num
    imbalance: Num = 1.0
    moe_overlap: Num = 0.0
    slots: Num = 0.0
    shared: Num = 0.0
    shared_weight: Num = 0.0

    @classmethod
    def of(cls, layout: Layout | LayoutGrid, imbalance: float = 1.0, moe_overlap: float = 0.0) -> Shard:
        r = layout.resolved() if isinstance(layout, Layout) else layout
        return cls(r.tp, r.attn_dp, r.moe_tp, r.moe_ep, r.pp, imbalance, moe_overlap)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceStep:
    """Kernels and collectives one device runs in one forward step (all its pipeline stage's layers)."""

    kernels: tuple[Kernel, ...]
    collectives: tuple[Collective, ...]


def _bytes(fmt: str) -> float:
    return format_named(fmt).bytes_per_element


def _gemm_kernel(op: Gemm, s: Shard, prec: Precision, moe_tokens: Num, count: Num) -> Kernel:
    """One GEMM on one device. moe_tokens: routed (token, expert) assignments of the MoE group."""
    fmt = prec.of(op.role)
    w, a = _bytes(fmt), _bytes(prec.activations)
    if op.split in ("expert_column", "expert_row"):
        rows = op.rows / (s.mt if op.split == "expert_row" else 1)
        cols = op.cols / (s.mt if op.split == "expert_column" else 1)
        local_experts = s.slots if s.slots else op.copies / s.me
        # routed assignments reaching this device: all the group's tokens, 1/me of them, times imbalance
        assignments = moe_tokens / s.me * s.imbalance
        active = local_experts * (1.0 - np.power(1.0 - 1.0 / op.copies, moe_tokens))
        active = np.minimum(np.maximum(active, np.minimum(assignments, 1.0)), local_experts)
        return Kernel(name=op.name, kind="grouped_gemm", flops=2.0 * assignments * rows * cols,
                      weight_bytes=active * rows * cols * w, other_bytes=assignments * (rows + cols) * a,
                      fmt=fmt, tokens=assignments / np.maximum(active, 1e-9), count=count)
    rows, cols, copies = float(op.rows), float(op.cols), op.copies
    if op.per_head:
        copies = op.copies / s.t
    elif op.split in ("column", "vocab"):
        cols = cols / s.t
    elif op.split == "row":
        rows = rows / s.t
    tokens = op.tokens
    runs = np.asarray(tokens) > 0  # a GEMM with no tokens this step is not launched
    return Kernel(name=op.name, kind="gemm", flops=2.0 * tokens * rows * cols * copies,
                  weight_bytes=np.where(runs, rows * cols * copies * w, 0.0),
                  other_bytes=tokens * (rows + cols) * copies * a,
                  fmt=fmt, tokens=tokens, count=count, launches=0.0 if op.fused else 1.0)


def _attention_kernel(op: Attention, s: Shard, prec: Precision, count: Num) -> Kernel:
    heads = op.heads / s.t
    kv_heads = op.kv_heads if op.latent else np.maximum(op.kv_heads / s.t, 1.0)
    kv = _bytes(prec.kv_cache)
    return Kernel(name=op.name, kind=f"attention_{op.phase}", flops=op.flops_per_head * heads,
                  weight_bytes=0.0, other_bytes=(op.kv_bytes_per_kv_head * kv + op.state_bytes_per_kv_head) * kv_heads,
                  fmt=prec.attention, tokens=op.queries, count=count)


def moe_scatter(s: Shard) -> Num:
    """Attention-TP ranks that split their attention-DP rank's tokens before an expert all-to-all (>= 1).

    With attention DP and experts spread over ranks, the attention-TP ranks of one DP rank hold the same
    tokens after attention; each dispatches 1/t of them (SGLang's scattered MoE input under DeepEP: the
    attention output is reduce-scattered over the attention-TP group and all-gathered before the next
    attention, the same bytes as the all-reduce), so no token is sent to its experts twice.
    """
    return np.where((s.d > 1) & (s.me > 1), s.t, 1.0)


def _stream_kernel(op: Stream, s: Shard, prec: Precision, kv_share: Num, count: Num) -> Kernel:
    moved = op.bytes * _bytes(prec.kv_cache) * kv_share if op.split == "kv" else op.bytes
    if op.split == "moe_tokens":
        moved = moved / moe_scatter(s)
    return Kernel(name=op.name, kind="stream", flops=0.0, weight_bytes=0.0, other_bytes=moved,
                  fmt=prec.activations, count=count, launches=0.0 if op.fused else 1.0)


# tokens a rank at most sends through low-latency all-to-all kernels: DeepEP's low-latency buffers as
# SGLang sizes them by default (SGLANG_DEEPEP_NUM_MAX_DISPATCH_TOKENS_PER_RANK = 128); larger batches
# (prefill) run the normal, per-domain forwarding kernels
LOW_LATENCY_TOKENS = 128


def _layer_collectives(group: LayerOps, batch: Batch, hidden: int, s: Shard, prec: Precision,
                       count: Num) -> list[Collective]:
    a = _bytes(prec.activations)
    tokens_bytes = batch.tokens * hidden * a
    mixer = group.layer.attention if group.layer is not None else None
    out = ([Collective(name="attention_all_reduce", kind="all_reduce", bytes=tokens_bytes, group=s.t, count=count)]
           if mixer is not None else [])
    mlp = group.layer.mlp if group.layer is not None else None
    if isinstance(mlp, MoeMlp):
        # Under attention DP the ranks hold different tokens: with experts spread (me > 1) each token
        # goes to the ranks of its top-k experts and back (all-to-all dispatch and combine); with
        # experts only sliced, tokens are gathered over the group and outputs reduce-scattered.
        # Under attention TP every rank holds the same tokens: one all-reduce sums expert outputs.
        # Dispatch goes out in the experts' activation format when they are quantised (FP8 in DeepEP,
        # NVFP4 in TensorRT-LLM); the combine returns in the activation format.
        dp = s.d > 1
        expert_fmt = format_named(prec.expert_weights)
        dispatch = min(a, expert_fmt.bytes_per_element) if not expert_fmt.weight_only else a
        a2a_group = np.where(dp, s.me, 1.0)
        gather_group = np.where(dp & (s.me <= 1), s.d * s.t, 1.0)
        sent = batch.tokens / moe_scatter(s)  # tokens this rank sends to their experts
        low_latency = sent <= LOW_LATENCY_TOKENS
        fanout = mlp.experts_per_token + (1 if s.shared else 0)  # placed shared experts: one more destination
        # the busiest expert rank receives `imbalance` x the mean token copies in the dispatch and returns as
        # many in the combine, and the step waits for it, as for its expert GEMMs: the all-to-all is priced on
        # the bytes of that rank (LMSYS 2025-05-05, 'Prefill Time Breakdown': SGLang's dispatch and combine take
        # 41.6 ms a layer with its default expert distribution, 30.8 ms with a simulated perfect EPLB)
        busiest = sent * s.imbalance
        out += [Collective(name="moe_dispatch", kind="all_to_all", bytes=busiest * hidden * dispatch,
                           group=a2a_group, count=count, fanout=fanout, hidden=s.moe_overlap,
                           low_latency=low_latency),
                Collective(name="moe_combine", kind="all_to_all", bytes=busiest * hidden * a, group=a2a_group,
                           count=count, fanout=fanout, hidden=s.moe_overlap, low_latency=low_latency),
                Collective(name="moe_gather", kind="all_gather", bytes=tokens_bytes * s.d, group=gather_group,
                           count=count),
                Collective(name="moe_reduce", kind="reduce_scatter", bytes=tokens_bytes * s.d, group=gather_group,
                           count=count),
                Collective(name="moe_all_reduce", kind="all_reduce", bytes=tokens_bytes, group=np.where(dp, 1.0, s.t),
                           count=count)]
    elif mlp is not None:
        out.append(Collective(name="mlp_all_reduce", kind="all_reduce", bytes=tokens_bytes, group=s.t, count=count))
    return out


def device_step(model: Model, batch: Batch, shard: Shard, precision: Precision) -> DeviceStep:
    """Per-device kernels and collectives of one forward step of `batch` (per attention-DP rank).

    With pipeline parallelism the device holds 1/pp of the layers; the head counts on every stage
    (a simplification: only the last stage runs it, but stages are balanced around it).
    """
    kernels: list[Kernel] = []
    collectives: list[Collective] = []
    s = shard
    for group in forward(model, batch, precision.mla_decode):
        count = group.count / s.p if group.layer is not None else 1.0 / s.p
        kv_share = 1.0
        if group.layer is not None and group.layer.attention is not None and not group.layer.attention.mla:
            kv = group.layer.attention.num_key_value_heads
            kv_share = np.maximum(kv / s.t, 1.0) / kv
        for op in group.ops:
            if isinstance(op, Gemm) and s.shared and op.name.startswith("shared_"):
                continue  # placed shared experts run as expert slots: their tokens join the routed ones
            if isinstance(op, Gemm):
                # routed assignments of the whole MoE group: every attention-DP rank sends its own
                share = op.tokens / np.maximum(batch.tokens, 1e-12)  # top-k for experts, else 1
                if s.shared and op.role == "expert":
                    share = share + s.shared_weight
                kernels.append(_gemm_kernel(op, s, precision, share * batch.group_tokens(s.d), count))
            elif isinstance(op, Attention):
                kernels.append(_attention_kernel(op, s, precision, count))
            else:
                kernels.append(_stream_kernel(op, s, precision, kv_share, count))
        if group.layer is not None:
            collectives += _layer_collectives(group, batch, model.hidden_size, s, precision, count)
    a = _bytes(precision.activations)
    collectives.append(Collective(name="logits_all_gather", kind="all_gather",
                                  bytes=batch.sequences * model.vocab_size * a, group=s.t, count=1.0 / s.p))
    collectives.append(Collective(name="pipeline_send", kind="send_recv", bytes=batch.tokens * model.hidden_size * a,
                                  group=np.minimum(s.p, 2.0), count=(s.p - 1.0) / s.p))
    return DeviceStep(kernels=tuple(kernels), collectives=tuple(collectives))


def weight_matrices_per_device(model: Model, shard: Shard, precision: Precision) -> Iterable[tuple[str, Num]]:
    """(role, bytes) of every weight matrix one device stores: all its local experts, its slice of
    the dense weights (a stage's share of the layers under pipeline parallelism)."""
    s = shard
    h = model.hidden_size
    for layer in model.layers:
        per_stage = layer.count / s.p
        mixer = layer.attention.matrices(h) if layer.attention is not None else ()
        for m in layer.matrices(h):
            role = "expert" if m.expert else ("router" if m.name == "router" else
                                             ("attention" if m in mixer else "mlp"))
            size = float(m.rows * m.cols) * m.copies
            if s.shared and m.name.startswith("shared_"):
                continue  # held in expert slots
            if m.expert:
                size = size / m.copies * s.slots / s.mt if s.slots else size / (s.mt * s.me)
            elif m.name in ("q_a", "kv_a", "router", "latent_down", "latent_up"):
                pass  # replicated on every TP rank
            elif m.name == "qkv" and layer.attention is not None and not layer.attention.mla:
                a = layer.attention
                q = (2 if a.output_gate else 1) * a.num_attention_heads * a.head_dim
                kv = a.num_key_value_heads * (a.head_dim + a.value_head_dim)
                size = h * (q / s.t + kv * np.maximum(a.num_key_value_heads / s.t, 1.0) / a.num_key_value_heads)
            else:
                size = size / s.t
            yield role, per_stage * size * _bytes(precision.of(role))
    vocab = model.vocab_size * h / s.t
    yield "head", vocab * _bytes(precision.of("head")) / s.p
    yield "embedding", model.vocab_size * h * _bytes("bf16") / s.t / s.p
