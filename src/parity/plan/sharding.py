"""Sharding: the kernels and collectives one device runs in a forward step of the model's ops, and the weight
matrices it stores."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from parity.dtypes import format_named
from parity.graph import LayerOps, forward
from parity.model import Attention as SoftmaxAttention, Model, MoeMlp
from parity.model.mixers import cache_bytes_per_element
from parity.ops import Attention, Batch, Collective, Gemm, Kernel, Num, Stream, where
from parity.plan.layout import Shard
from parity.plan.precision import Precision

__all__ = ["DeviceStep", "device_step", "weight_matrices_per_device", "column_share", "moe_scatter", "moe_routes_share",
           "LOW_LATENCY_TOKENS"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceStep:
    """Kernels and collectives one device runs in one forward step (all its pipeline stage's layers)."""

    kernels: tuple[Kernel, ...]
    collectives: tuple[Collective, ...]


@functools.lru_cache(maxsize=None)
def _bytes(fmt: str) -> float:
    return format_named(fmt).bytes_per_element


@functools.lru_cache(maxsize=None)
def _cache_bytes(fp8_record_bytes: float, kv_format: str) -> float:
    return cache_bytes_per_element(fp8_record_bytes, format_named(kv_format))


def _fp8_cache(prec: Precision) -> bool:
    """Whether the KV cache is FP8, so the prompt attention that follows its format (Attention.in_kv_format) runs in
    FP8 after its inputs are cast (Stream split "heads_kv_cast")."""
    return format_named(prec.kv_cache).math == "fp8"


def column_share(cols: float, kv_cols: float, num_key_value_heads: int, t: Num) -> Num:
    """Columns of a column-split matrix one of t TP ranks holds, where its last kv_cols are num_key_value_heads
    K/V heads: those split by whole heads and replicate once t exceeds their count (each rank holds
    max(kv / t, 1) heads). Qwen3-235B's qkv at TP 8 (4 KV heads of 128, 64 query heads): 8192 / 8 + 2 x 128
    = 1280 columns, not 9216 / 8 = 1152."""
    kv = num_key_value_heads
    return (cols - kv_cols) / t + kv_cols / kv * np.maximum(kv / t, 1.0)


def _gemm_kernel(op: Gemm, s: Shard, prec: Precision, moe_tokens: Num, count: Num) -> Kernel:
    """One GEMM on one device. moe_tokens: routed (token, expert) assignments of the MoE group."""
    fmt = prec.of(op.role, op.weights)
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
    elif op.split == "column":
        cols = column_share(cols, op.kv_cols, op.num_key_value_heads, s.t)
    elif op.split == "vocab":
        cols = cols / s.t
    elif op.split == "row":
        rows = rows / s.t
    tokens = op.tokens
    weights = rows * cols * copies * w  # a GEMM with no tokens this step is not launched: it reads none
    return Kernel(name=op.name, kind="gemm", flops=2.0 * tokens * rows * cols * copies,
                  weight_bytes=where(tokens > 0, weights, 0.0),
                  other_bytes=tokens * (rows + cols) * copies * a,
                  fmt=fmt, tokens=tokens, count=count, launches=0.0 if op.fused else 1.0)


def _attention_kernel(op: Attention, s: Shard, prec: Precision, count: Num) -> Kernel:
    heads = op.heads / s.t
    kv_heads = op.kv_heads if op.latent else np.maximum(op.kv_heads / s.t, 1.0)
    kv = _cache_bytes(op.fp8_record_bytes_per_element, prec.kv_cache)
    fmt = prec.kv_cache if op.in_kv_format and _fp8_cache(prec) else prec.attention
    return Kernel(name=op.name, kind=f"attention_{op.phase}", flops=op.flops_per_head * heads,
                  weight_bytes=0.0, other_bytes=(op.kv_bytes_per_kv_head * kv + op.state_bytes_per_kv_head
                                                + op.fp8_key_bytes_per_kv_head) * kv_heads,
                  fmt=fmt, tokens=op.queries, count=count, head_dim=op.head_dim)


def moe_scatter(s: Shard) -> Num:
    """Attention-TP ranks that split their attention-DP rank's tokens before an expert all-to-all (>= 1).

    With attention DP and experts spread over ranks, the attention-TP ranks of one DP rank hold the same
    tokens after attention; each dispatches 1/t of them (SGLang's scattered MoE input under DeepEP: the
    attention output is reduce-scattered over the attention-TP group and all-gathered before the next
    attention, the same bytes as the all-reduce), so no token is sent to its experts twice.
    """
    return np.where((s.d > 1) & (s.me > 1), s.t, 1.0)


def moe_routes_share(s: Shard) -> Num:
    """The routed (token, expert) rows one rank's experts handle, over those of the tokens its attention rank holds
    (Batch.tokens: an attention-DP rank's, shared by its attention-TP ranks): d / me. The MoE group (t x d ranks, mt x
    me of them) runs the routes of all d attention-DP ranks' tokens, each expert-parallel rank those of its 1/me of
    the experts. Experts spread without attention DP (TP 8, EP 8): every rank holds every token and handles the 1/8
    routed to its experts; experts sliced (EP 1): every rank handles every route of the group's tokens, gathered
    where attention runs data-parallel; attention DP with the experts spread as widely (DP 8, EP 8): a rank's own
    routes' worth. Equal to 1 / moe_scatter wherever the group is d x t ranks of EP d x t (every expert-parallel
    layout with attention DP the serving engines run)."""
    return s.d / s.me


def _stream_kernel(op: Stream, s: Shard, prec: Precision, kv_share: Num, count: Num) -> Kernel:
    moved = op.bytes * _cache_bytes(op.fp8_record_bytes_per_element, prec.kv_cache) * kv_share if op.split == "kv" \
        else op.bytes
    if op.split == "moe_tokens":
        moved = moved * moe_routes_share(s)
    elif op.split == "heads_kv_cast":
        a, kv = _bytes(prec.activations), _bytes(prec.kv_cache)
        moved = op.bytes * (a + kv) / s.t if _fp8_cache(prec) and kv < a else 0.0
    elif op.split == "heads":
        moved = op.bytes / s.t
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
        # experts sliced mt ways as well as spread me ways: every slice needs the token (Collective.slices), and the
        # me expert-parallel ranks sit mt chips apart, so the d x t = me x mt ranks of the group span
        # me x mt / domain domains (EP 8 x ETP 2 on two 8-chip systems: 4 expert-parallel ranks in each)
        a2a_slices = np.where(dp & (s.me > 1), s.mt, 1.0)
        # a backend that gathers (s.moe_gather) moves the group's tokens as experts only sliced do, spread or not
        spread_gather = dp & (s.me > 1) & (np.asarray(s.moe_gather, dtype=float) > 0)
        gathers = (dp & (s.me <= 1)) | spread_gather
        gather_group = np.where(gathers, s.d * s.t, 1.0)
        sent = batch.tokens / moe_scatter(s)  # tokens this rank sends to their experts
        # an engine told to run the normal kernels (s.normal_a2a) runs them at every batch
        low_latency = (sent <= LOW_LATENCY_TOKENS) & ~np.asarray(s.normal_a2a, dtype=bool)
        fanout = mlp.experts_per_token + (1 if s.shared else 0)  # placed shared experts: one more destination
        # the busiest expert rank receives `imbalance` x the mean token copies in the dispatch and returns as
        # many in the combine, and the step waits for it, as for its expert GEMMs: the all-to-all is priced on
        # the bytes of that rank (LMSYS 2025-05-05, 'Prefill Time Breakdown': SGLang's dispatch and combine take
        # 41.6 ms a layer with its default expert distribution, 30.8 ms with a simulated perfect EPLB)
        # the group's tokens, in a step with prompt tokens of an engine that pads them to their sum there
        # (s.prompt_all_reduce), reach the experts by two all-reduces of the summed buffer, sliced or spread, and
        # no all-to-all runs: SGLang's DP attention takes DpPaddingMode.SUM_LEN for any extend batch
        # (layers/dp_attention.py get_dp_padding_mode: `if is_extend_in_batch: return DpPaddingMode.SUM_LEN`),
        # gathers by `_dp_gather_via_all_reduce` and, reduce-scatter being kept for MAX_LEN
        # (communicator.should_use_reduce_scatter), all-reduces the MoE output (deepseek_v2 DeepseekV2MoE:
        # tensor_model_parallel_all_reduce) before dp_scatter keeps each rank's own; with experts spread too, as
        # long as no all-to-all backend is set (--moe-a2a-backend none, its default: communicator._compute_mlp_mode
        # gives sparse layers ScatterMode.FULL), each rank runs its experts on the gathered tokens (sglang
        # v0.5.8.post1)
        gathered = tokens_bytes * s.d
        summed = np.asarray(s.prompt_all_reduce, dtype=float) * (np.asarray(batch.prefill_tokens) > 0) * dp
        busiest = sent * s.imbalance * (1.0 - summed) * np.where(spread_gather, 0.0, 1.0)
        whole_group = np.where(dp, s.d * s.t, 1.0)
        out += [Collective(name="moe_dispatch", kind="all_to_all", bytes=busiest * hidden * dispatch,
                           group=a2a_group, count=count, fanout=fanout, hidden=s.moe_overlap,
                           low_latency=low_latency, slices=a2a_slices),
                Collective(name="moe_combine", kind="all_to_all", bytes=busiest * hidden * a, group=a2a_group,
                           count=count, fanout=fanout, hidden=s.moe_overlap, low_latency=low_latency,
                           slices=a2a_slices),
                Collective(name="moe_gather", kind="all_gather", bytes=gathered * (1.0 - summed), group=gather_group,
                           count=count),
                Collective(name="moe_reduce", kind="reduce_scatter", bytes=gathered * (1.0 - summed),
                           group=gather_group, count=count),
                Collective(name="moe_gather_all_reduce", kind="all_reduce", bytes=gathered * summed,
                           group=whole_group, count=count),
                Collective(name="moe_reduce_all_reduce", kind="all_reduce", bytes=gathered * summed,
                           group=whole_group, count=count),
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
    # the tokens the experts see from the whole attention-DP group: where the engine pads every rank's decodes to
    # the busiest's and computes the padded rows (Shard.decode_padded), every rank counts, whatever carries them
    group_tokens = batch.group_tokens(s.d)
    if batch.decode_ranks is not None and np.any(s.decode_padded):
        group_tokens = np.where(s.decode_padded > 0,
                                replace(batch, decode_ranks=None).group_tokens(s.d), group_tokens)
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
                kernels.append(_gemm_kernel(op, s, precision, share * group_tokens, count))
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


def weight_matrices_per_device(model: Model, shard: Shard, precision: Precision,
                               stage: tuple[Sequence[Num], Num, Num] | None = None) -> Iterable[tuple[str, Num]]:
    """(role, bytes) of every weight matrix one device stores: all its local experts, its slice of
    the dense weights (a stage's share of the layers under pipeline parallelism). stage: what its pipeline
    stage holds, (layers of each of model.layers' groups, share of the embedding, share of the LM head);
    None: 1/p of everything (stages balanced around the embedding and LM head). A head tied to the embedding
    counts only under pipeline parallelism (a copy on the last stage); with one stage it is the embedding."""
    s = shard
    h = model.hidden_size
    layers, embedding, head = stage or ([layer.count / s.p for layer in model.layers], 1.0 / s.p, 1.0 / s.p)
    for layer, per_stage in zip(model.layers, layers):
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
            elif m.name == "qkv" and isinstance(layer.attention, SoftmaxAttention) and not layer.attention.mla:
                a = layer.attention  # softmax attention: its KV heads replicate where TP exceeds them
                kv = a.num_key_value_heads * (a.head_dim + a.value_head_dim)
                size = m.rows * column_share(m.cols, kv, a.num_key_value_heads, s.t)
            else:
                size = size / s.t
            yield role, per_stage * size * _bytes(precision.of(role, m.name))
    vocab = model.vocab_size * h / s.t
    if model.tie_word_embeddings:
        # a tied head is the embedding's tensor: in one pipeline stage holding both (pp 1) it is stored once. Split
        # over stages, the model chunk with the head keeps its own copy of the tied weight (Megatron-LM's
        # LanguageModule.setup_embeddings_and_output_layer with share_embeddings_and_output_weights: the output
        # layer allocates its weight only where the chunk lacks the embedding, fills it from the first stage and
        # all-reduces its gradient with the first stage's word embedding), so there it counts (whichever rank,
        # even the first's under interleaving). The lm_head GEMM is priced either way.
        head = np.where(np.asarray(s.p) > 1, head, 0.0)
    yield "head", vocab * _bytes(precision.of("head")) * head
    yield "embedding", vocab * _bytes(precision.unquantized_format) * embedding
