"""Memory of one chip in training: weights, gradients and optimizer states by ZeRO stage, activations
per layer (Korthikanti et al. 2022, generalised to the model's own widths), in-flight microbatches of
the pipeline schedule, and the allocator's reserve.
"""

from __future__ import annotations

import dataclasses

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from parity.dtypes import format_named
from parity.engine import TrainingProfile
from parity.model import Layer, Model, MoeMlp
from parity.ops import Num
from parity.plan import Precision, Shard, weight_matrices_per_device

__all__ = ["TrainingMemory", "layer_activation_bytes_per_token", "adam_bytes_per_parameter", "parameters_per_device",
           "MEMORY_TERMS", "training_memory"]

MEMORY_TERMS = ("weights", "gradients", "optimizer states", "activations", "reserve")


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainingMemory:
    """Bytes one chip holds at the peak of a step [B], and its capacity: the chip of the fullest pipeline stage,
    `pipeline_rank` (0 the first, the embedding's; pp - 1 the last, the LM head's and the loss's)."""

    capacity_bytes: Num
    weight_bytes: Num
    gradient_bytes: Num
    optimizer_bytes: Num
    activation_bytes: Num
    reserve_bytes: Num
    pipeline_rank: Num = 0.0

    @property
    def total_bytes(self) -> Num:
        return self.weight_bytes + self.gradient_bytes + self.optimizer_bytes + self.activation_bytes + \
            self.reserve_bytes

    @property
    def fits(self) -> Num:
        return self.total_bytes <= self.capacity_bytes

    @property
    def shortfall_bytes(self) -> Num:
        """How much more memory the chip would need [B] (0 when it fits)."""
        return np.maximum(self.total_bytes - self.capacity_bytes, 0.0)

    def terms(self) -> dict[str, Num]:
        return dict(zip(MEMORY_TERMS, (self.weight_bytes, self.gradient_bytes, self.optimizer_bytes,
                                       self.activation_bytes, self.reserve_bytes)))

    def biggest_term(self) -> Num:
        """Name of the largest term (an array of names when the sizes are arrays)."""
        values = np.stack(np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in self.terms().values())))
        names = np.array(MEMORY_TERMS)[np.argmax(values, axis=0)]
        return str(names) if names.ndim == 0 else names


# AdamW's two moments take 8 of the optimizer's 12 B per parameter in fp32; in bf16 (DeepSeek-V3 report,
# arXiv 2412.19437, Sec. 3.3.2 "Low-Precision Optimizer States") they take 4, the fp32 master weights stay
BF16_MOMENTS_SAVING_BYTES = 4.0
FP32_GRADIENT_BYTES = 4.0  # gradients accumulated in fp32 over the microbatches (the same section)


def adam_bytes_per_parameter(zero: Num, shards: Num, profile: TrainingProfile, fp8: bool = False,
                             bf16_moments: Num = 0.0, fp32_gradients: Num = 0.0) -> tuple[Num, Num, Num]:
    """(weights, gradients, optimizer states) [B per parameter of the model-parallel shard] under a ZeRO stage.

    Rajbhandari et al. 2020 (ZeRO), Sec. 5.1 and Fig. 1: mixed-precision Adam holds 2 B of 16-bit weights,
    2 B of gradients and K = 12 B of fp32 master weights, momentum and variance per parameter; stage 1
    splits the 12 over the `shards` data-parallel ranks, stage 2 also the gradients, stage 3 also the weights.
    bf16_moments (0/1): the moments in bf16, K = 12 - 4 = 8 B; fp32_gradients (0/1): 4 B of gradients.
    """
    zero = np.asarray(zero)
    weights = (2.0 + (profile.fp8_weight_copy_bytes if fp8 else 0.0)) / np.where(zero >= 3, shards, 1.0)
    grad_bytes = np.where(np.asarray(fp32_gradients) > 0, FP32_GRADIENT_BYTES, profile.gradient_bytes)
    grads = grad_bytes / np.where(zero >= 2, shards, 1.0)
    state_bytes = profile.optimizer_state_bytes - np.where(np.asarray(bf16_moments) > 0, BF16_MOMENTS_SAVING_BYTES, 0.0)
    states = state_bytes / np.where(zero >= 1, shards, 1.0)
    return weights, grads, states


def parameters_per_device(model: Model, shard: Shard, stage: tuple[Sequence[Num], Num, Num] | None = None
                          ) -> tuple[Num, Num]:
    """(dense, expert) parameters one chip of a model-parallel group holds (its stage, its slices); stage: what
    its pipeline stage holds (plan.weight_matrices_per_device), None an even 1/p of everything."""
    dense: Num = 0.0
    expert: Num = 0.0
    for role, size in weight_matrices_per_device(model, shard, Precision(), stage):
        if role == "expert":
            expert = expert + size / 2.0
        else:
            dense = dense + size / 2.0
    # norms and biases, split like the layers they belong to (small)
    layers = stage[0] if stage else [layer.count / shard.p for layer in model.layers]
    vectors = sum(n * layer.vector_parameters(model.hidden_size) for n, layer in zip(layers, model.layers))
    return dense + vectors, expert


def _mtp_parameters_per_device(model: Model, shard: Shard) -> tuple[Num, Num]:
    """(dense, expert) parameters one chip holds of a placed MTP module (DeepSeek-V3 Sec. 2.2: a transformer layer
    like the main model's, its projection M of 2h x h split over tensor parallelism as Megatron-Core's, and two
    RMSNorms; embedding and head shared): its layer sliced as the main model's identical layer group is; (0, 0)
    where the model has no MTP module or no such group."""
    if not model.mtp_layers:
        return 0.0, 0.0
    module, h = model.mtp_layers[0], model.hidden_size
    alike = [float(dataclasses.replace(layer, count=1) == dataclasses.replace(module, count=1))
             for layer in model.layers]
    if not any(alike):
        return 0.0, 0.0
    dense, expert = parameters_per_device(model, shard, (alike, 0.0, 0.0))
    return dense + 2.0 * h * h / shard.t + 3.0 * h, expert


def layer_activation_bytes_per_token(layer: Layer, hidden: int, tp: Num, sequence_parallel: Num, expert_tp: Num,
                                     recompute: Num, keys: Num, flash_attention: bool = True, dropout: bool = False,
                                     linear_input_bytes: float = 2.0, fp8_cache: Num = 0.0) -> Num:
    """[B] one layer keeps for the backward pass, per token of the microbatch on one chip.

    Korthikanti et al. 2022 ("Reducing Activation Recomputation in Large Transformer Models", Sec. 4 and
    Table 2) count 16-bit activations and 1-byte dropout masks of a GPT layer: sbh(34 + 5as/h) without
    parallelism, sbh(10 + 24/t + 5as/(ht)) with tensor parallelism, sbh(34/t + 5as/(ht)) with sequence
    parallelism, the 5as/h term dropped by selective recomputation, 2sbh under full recomputation.
    Here each term takes the layer's own widths (GQA/MLA heads, gated MLP, routed experts), flash
    attention stores a 4 B log-sum-exp per head instead of scores, and masks exist only with dropout.
    recompute: 0 none, 1 selective (the attention core; for MLA also the norms and up-projections, as
    DeepSeek-V3), 2 full; keys: keys per query of materialised scores [tokens].
    linear_input_bytes [B]: what a saved GEMM input takes per
    element (1 under FP8 training: Transformer Engine saves the FP8 copy it multiplied).
    fp8_cache (0/1): DeepSeek-V3's activation cache (report Sec. 3.3.2 "Low-Precision Activation"): every
    GEMM input in FP8 (1 B); the attention output, which the Linear after attention and the attention
    backward share, in E5M6 (1.5 B); in MoE layers the SwiGLU inputs in FP8 (2 x 1 B per inner element) and
    its output recomputed in backward, so neither the down projection's input nor a routed expert's output
    is kept (the gating weight multiplies the SwiGLU output, as Megatron-Core's weighted_bias_swiglu_impl,
    so its gradient comes from the recomputed product).
    """
    fp8_cache = np.asarray(fp8_cache) > 0
    linear_input_bytes = np.where(fp8_cache, 1.0, linear_input_bytes)
    h = float(hidden)
    a = layer.attention
    sp_split = np.where(sequence_parallel, tp, 1.0)
    mask = 1.0 if dropout else 0.0
    x = linear_input_bytes
    # norm inputs (2 x 2h), attention and MLP inputs (x h each), two dropout masks (h each)
    replicated = 4.0 * h + 2.0 * x * h + 2.0 * mask * h
    if a is None:  # an MLP-only layer: no Q, K, V (its activations are approximated as an attention layer's)
        heads, dqk, dv, kv = 0, 0, 0, 0.0
    else:
        heads, dqk, dv = a.num_attention_heads, a.qk_head_dim, a.value_head_dim
    if a is None:
        pass
    elif a.mla:
        replicated += 2.0 * ((a.q_lora_rank or 0) + (a.kv_lora_rank or 0) + a.qk_rope_head_dim)
        kv = heads * (dqk + dv)  # keys and values expanded per head for training
    else:
        kv = a.num_key_value_heads * (dqk + dv)
    # Q, K, V and the output projection's input (E5M6 in DeepSeek-V3's FP8 cache)
    split = 2.0 * (heads * dqk + kv) + np.where(fp8_cache, 1.5, x) * heads * dv
    if flash_attention:
        split += 4.0 * heads
    else:  # softmax output 2 B, and with dropout its mask 1 B and output 2 B, per score
        split = split + np.where(np.asarray(recompute) >= 1, 0.0, (2.0 + 3.0 * mask) * heads * keys)
    mlp = layer.mlp
    expert = 0.0
    if isinstance(mlp, MoeMlp):
        # up (+gate) output, and the down projection's input; FP8 cache: the SwiGLU inputs in FP8 only
        width = np.where(fp8_cache, 2.0 if mlp.gated else 1.0, (4.0 if mlp.gated else 2.0) + x)
        split += 4.0 * mlp.num_experts  # fp32 router logits
        if mlp.num_shared_experts:
            split += width * mlp.shared_intermediate_size
        # routed copies: input and output (2h each) on every slice (FP8 cache: the output not kept), the
        # expert's inner activations; each rank holds k copies per token of its microbatch on average (its
        # tokens go to k experts, and it receives as many copies from the other EP ranks), never k x ep
        copy = x + np.where(fp8_cache, 0.0, 2.0)
        expert = mlp.experts_per_token / tp * (expert_tp * copy * h + width * mlp.expert_intermediate_size)
    elif mlp is not None:  # gated: up and gate outputs 4f B, their product (the down projection's input) x f B
        split += ((4.0 if mlp.gated else 2.0) + x) * mlp.intermediate_size
    kept = replicated / sp_split + split / tp + expert
    if a is not None and a.mla:
        # DeepSeek-V3 (Sec. 3.2.3) recomputes the RMSNorms and MLA up-projections in backward: the GEMM
        # inputs after the norms (x h each) and the per-head Q, K, V are rebuilt from the norm inputs and
        # latents, which stay; selective recomputation does the same here
        rebuilt = 2.0 * x * h / sp_split + 2.0 * (heads * dqk + kv) / tp
        kept = kept - np.where(np.asarray(recompute) == 1, rebuilt, 0.0)
    return np.where(np.asarray(recompute) >= 2, 2.0 * h / sp_split, kept)


def training_memory(model: Model, capacity_bytes: float, a: dict[str, np.ndarray], shard: Shard, tokens: Num, m: Num,
                    prof: TrainingProfile, n_dense: Num, n_expert: Num, precision: str, flash: bool,
                    dropout: bool) -> TrainingMemory:
    """Memory of the fullest chip of layouts given as arrays (training.arrays.LAYOUT_ARRAYS, plus the pipeline ranks'
    "rank_*" arrays of training.arrays.rank_arrays): on every rank, the ZeRO-split Adam state of its layers (with
    the embedding and LM head where they sit) and the activations of the microbatches its schedule holds; the rank
    with the most, plus the reserve, and which rank that is (its place in the pipeline)."""
    t, p, v = a["t"], a["p"], a["v"]
    fp8 = format_named(precision).bits <= 8
    formats = (a.get("os", 0.0), a.get("ga", 0.0))  # bf16 moments, fp32 gradients (0/1)
    w_d, g_d, o_d = adam_bytes_per_parameter(a["zero"], n_dense, prof, fp8, *formats)
    w_e, g_e, o_e = adam_bytes_per_parameter(a["zero"], n_expert, prof, fp8, *formats)

    def activations(layer: Layer) -> Num:  # [B per token] one such layer keeps
        return layer_activation_bytes_per_token(
            layer, model.hidden_size, t, a["sp"] > 0, a["et"] if isinstance(layer.mlp, MoeMlp) else t, a["rc"],
            a["s"], flash, dropout, 1.0 if fp8 else 2.0, a.get("ac", 0.0))
    per_layer = [activations(layer) for layer in model.layers]
    per_mtp = activations(model.mtp_layers[0]) if model.mtp_layers else 0.0
    # 1F1B: rank r holds min(m, p - r) microbatches in flight, the first min(m, p); interleaving adds (p - 1)/(p v)
    # of it on the first (Korthikanti et al. 2022, Sec. 4.2.3), here on every rank (a bound for the others)
    ahead = np.maximum(p[:, None] - a["rank_position"], 1.0)
    in_flight = np.minimum(m[:, None], ahead) * np.where(v > 1, 1.0 + (p - 1.0) / (p * v), 1.0)[:, None]
    # DualPipe: p + 1 microbatches of activations, and every rank holds two stages (r and p - 1 - r) (Table 2)
    dual = np.asarray(a["sched"]) == 3
    in_flight = np.where(dual[:, None], p[:, None] + 1.0, in_flight)
    logits = 4.0 * tokens * model.vocab_size / t  # fp32 logits of the cross entropy, on the rank with the loss
    ranks = a["rank_loss"].shape[1]
    mtp_dense, mtp_expert = _mtp_parameters_per_device(model, shard)
    states, held = [], []
    for r in range(ranks):
        stage = ([a["rank_layers"][:, r, g] for g in range(len(model.layers))], a["rank_embedding"][:, r],
                 a["rank_head"][:, r])
        dense, expert = parameters_per_device(model, shard, stage)
        dense, expert = dense + a["rank_mtp"][:, r] * mtp_dense, expert + a["rank_mtp"][:, r] * mtp_expert
        states.append(np.stack(np.broadcast_arrays(dense * w_d + expert * w_e, dense * g_d + expert * g_e,
                                                   dense * o_d + expert * o_e)))
        held.append(tokens * (sum(n * b for n, b in zip(stage[0], per_layer)) + a["rank_mtp"][:, r] * per_mtp)
                    + 0.0 * t)
    states_rank, held_rank = np.stack(states, axis=-1), np.stack(held, axis=-1)  # (3, N, ranks), (N, ranks)
    mirror = a["rank_mirror"].astype(int)
    pair = np.take_along_axis(held_rank, mirror, axis=-1)
    states_rank = states_rank + np.where(dual[:, None], np.take_along_axis(states_rank, mirror[None], axis=-1), 0.0)
    flight = in_flight * np.where(dual[:, None], (held_rank + pair) / 2.0, held_rank)
    acts = np.where(a["rank_loss"] > 0, np.maximum(flight, held_rank + logits[:, None]), flight)
    fullest = np.argmax(states_rank.sum(axis=0) + acts, axis=-1)[:, None]
    weights, gradients, optimizer = (np.take_along_axis(x, fullest, axis=-1)[:, 0] for x in states_rank)
    return TrainingMemory(capacity_bytes=capacity_bytes + 0.0 * t, weight_bytes=weights, gradient_bytes=gradients,
                          optimizer_bytes=optimizer, activation_bytes=np.take_along_axis(acts, fullest, axis=-1)[:, 0],
                          reserve_bytes=prof.memory_reserve_fraction * capacity_bytes + prof.memory_reserve_bytes
                          + 0.0 * t, pipeline_rank=np.take_along_axis(a["rank_position"], fullest, axis=-1)[:, 0])
