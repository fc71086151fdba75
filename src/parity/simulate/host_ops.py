"""The ops a deployment's host issues in one eager prompt step: an engine's per-part op counts (engine.HostOps,
read from its source) summed over the model's layers."""

from __future__ import annotations

from parity.dtypes import format_named
from parity.engine import HostOps
from parity.model import Attention, DenseMlp, Model, MoeMlp
from parity.plan import Precision

__all__ = ["prompt_step_ops"]


def _quantizes(fmt: str) -> bool:
    """Whether a projection in this weight format quantises its activations first (FP8/FP4/INT8 math; not BF16
    or a weight-only format, whose GEMM takes the BF16 activations)."""
    f = format_named(fmt)
    return not f.weight_only and f.math not in ("bf16", "fp32")


def _mlp_ops(mlp: DenseMlp | MoeMlp, precision: Precision, ops: HostOps) -> float:
    """One MLP block's ops beyond its norm: gated projections (each quantising where its format does) with the
    activation between them; an MoE's routing and fused experts, and its shared experts (a gated MLP) with the add
    of their output."""
    def gated(prefix: str) -> float:
        return ops.activation + sum(ops.linear + (ops.quantize if _quantizes(precision.of("mlp", prefix + name))
                                                  else 0.0) for name in ("up", "down"))

    if isinstance(mlp, DenseMlp):
        return gated("")
    return ops.moe_routing + ops.moe_experts + ((gated("shared_") + ops.shared_add) if mlp.num_shared_experts
                                                else 0.0)


def _attention_ops(attention: Attention, precision: Precision, ops: HostOps) -> float:
    """One attention block's ops beyond its norm. GQA: qkv_proj (quantising where its format does), the attention
    op, o_proj on the op's already quantised output, the q and k norms where the model has them. MLA (a context
    step without cached KV): its projections (q_a fused with kv_a where q_lora_rank is set, q_b, kv_b, o_proj,
    each quantising where its format does: a checkpoint may keep some bf16), the attention op and its own ops
    (HostOps.mla)."""
    def projection(matrix: str) -> float:
        return ops.linear + (ops.quantize if _quantizes(precision.of("attention", matrix)) else 0.0)

    if attention.mla:
        projections = ("q_a", "q_b", "kv_b", "o") if attention.q_lora_rank else ("q", "kv_b", "o")
        return sum(projection(name) for name in projections) + ops.attention + ops.mla
    return projection("qkv") + ops.attention + ops.linear + (ops.qk_norm if attention.qk_norm else 0.0)


def prompt_step_ops(model: Model, precision: Precision, ops: HostOps) -> float | None:
    """Ops one eager prompt step issues from the host [ops]: ops.step, plus per layer its norms, its attention
    block and its MLP block. The count does not depend on the step's tokens. None where a layer has a token mixer
    other than softmax attention (no count read for it).

    Llama-3.1-70B in FP8 (80 layers, 2 norms each, TensorRT-LLM's counts): per layer 2 norms + qkv (quantise +
    GEMM) + attention op + o_proj GEMM + gate_up (2) + activation + down (2) = 2 + 2 + 1 + 1 + 2 + 1 + 2 = 11;
    80 x 11 + 7 = 887."""
    total = ops.step
    for layer in model.layers:
        if layer.attention is not None and not isinstance(layer.attention, Attention):
            return None
        per = layer.norms * ops.norm
        if layer.attention is not None:
            per += _attention_ops(layer.attention, precision, ops)
        if layer.mlp is not None:
            per += _mlp_ops(layer.mlp, precision, ops)
        total += layer.count * per
    return total
