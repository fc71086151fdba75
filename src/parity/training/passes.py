"""One microbatch on one pipeline stage: its forward kernels (those of `plan.device_step`, the LM head, cross
entropy, FP8 casts, attention without flash) and the seconds of its forward, backward and weight-gradient passes."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from parity.cost import price_kernel
from parity.dtypes import format_named
from parity.engine import TrainingProfile
from parity.hardware import Calibration, System
from parity.model import Model
from parity.ops import Batch, Kernel, Num
from parity.plan import Shard, device_step
from parity.training.layout import training_precision

__all__ = ["ATTENTION_BACKWARD_FLOPS"]

# FlashAttention-2 (Dao 2023, Sec. 3.1.2): the backward pass runs 5 matrix products to the forward's 2
ATTENTION_BACKWARD_FLOPS = 2.5


def _training_calibrations(cal: Calibration, profile: TrainingProfile) -> tuple[Calibration, Calibration, Calibration]:
    """(forward, attention-backward, expert) calibrations: the chip's efficiencies scaled by the profile."""
    def scaled(factor: float) -> dict[str, float]:
        return {k: min(v * factor, 1.0) for k, v in cal.gemm_efficiency.items()}
    forward = dataclasses.replace(
        cal, gemm_efficiency=scaled(profile.gemm_scale),
        attention_prefill_efficiency=min(cal.attention_prefill_efficiency * profile.attention_scale, 1.0))
    backward = dataclasses.replace(
        forward, attention_prefill_efficiency=forward.attention_prefill_efficiency * profile.attention_backward_efficiency)
    return forward, backward, dataclasses.replace(forward, gemm_efficiency=scaled(profile.moe_scale))


def _materialised(model: Model, kernels: list[Kernel], tokens: Num, seq_len: Num, shard: Shard, dropout: bool
                  ) -> list[Kernel]:
    """Attention without flash: QK^T and PV as batched GEMMs over the full square of scores (the causal
    mask is applied after), and the scores written, softmaxed and read back in device memory
    (Megatron's fused scale-mask-softmax: 8 B per score forward, 5 B more with dropout's mask and output)."""
    out = []
    for k in kernels:
        out.append(dataclasses.replace(k, kind="gemm", flops=2.0 * k.flops, other_bytes=0.0, fmt="bf16")
                   if k.kind == "attention_prefill" else k)
    for layer in model.layers:
        a = layer.attention
        if a is None or not a.kv_elements_per_token:
            continue
        scores = layer.count / shard.p * a.num_attention_heads / shard.t * tokens * np.minimum(seq_len, a.sliding_window or np.inf)
        out.append(Kernel(name="attention_scores", kind="stream", flops=0.0, weight_bytes=0.0,
                          other_bytes=(8.0 + 5.0 * dropout) * scores, fmt="bf16", count=1.0))
    return out


def _kernels(model: Model, batch: Batch, shard: Shard, precision_name: str, tp: Num, cast_bytes: float,
             permute_scale: float = 1.0, sp_split: Num = 1.0) -> tuple[list[Kernel], list]:
    """Forward kernels and collectives of one microbatch on one stage; the LM head sees every token; the
    routed tokens' permutation traffic scaled by `permute_scale` (TrainingProfile.moe_permute_scale).

    sp_split: ranks the sequence-parallel glue is split over (tp under sequence parallelism, else 1): the
    norms, residual adds and dropout run on each rank's 1/tp of the tokens (Korthikanti et al. 2022,
    arXiv 2205.05198, Sec. 4.2.2), and the rotary embedding in that glue on its 1/tp of the heads."""
    step = device_step(model, batch, shard, training_precision(precision_name))
    scales = {"moe_permute": permute_scale, "norms_residual": 1.0 / sp_split}
    kernels = [dataclasses.replace(k, other_bytes=scales[k.name] * k.other_bytes) if k.name in scales else k
               for k in step.kernels if k.name not in ("lm_head", "attention_decode")]
    t, h, vocab = batch.prefill_tokens, float(model.hidden_size), float(model.vocab_size)
    kernels.append(Kernel(name="lm_head", kind="gemm", flops=2.0 * t * h * vocab / tp, weight_bytes=2.0 * h * vocab / tp,
                          other_bytes=2.0 * t * (h + vocab / tp), fmt="bf16", tokens=t, count=1.0 / shard.p))
    # vocab-parallel cross entropy: bf16 logits read, fp32 softmax written (Megatron's fused kernel)
    kernels.append(Kernel(name="cross_entropy", kind="stream", flops=0.0, weight_bytes=0.0,
                          other_bytes=6.0 * t * vocab / tp, fmt="bf16", count=1.0 / shard.p))
    if format_named(precision_name).bits <= 8:
        # casts to FP8 of each FP8 GEMM's inputs (and, twice as much, in backward): `cast_bytes` per
        # input/output element of the GEMM, whose other_bytes count 2 B per such element
        kernels += [Kernel(name=f"fp8_cast_{k.name}", kind="stream", flops=0.0, weight_bytes=0.0,
                           other_bytes=cast_bytes / 2.0 * k.other_bytes, fmt="bf16", count=k.count)
                    for k in list(kernels) if k.kind in ("gemm", "grouped_gemm") and k.fmt == precision_name]
    collectives = [c for c in step.collectives if c.name not in ("logits_all_gather", "pipeline_send")]
    return kernels, collectives


@dataclass(frozen=True, slots=True)
class _Pass:
    """Seconds of one microbatch on one stage: forward, backward, the attention core's forward, the
    weight-gradient GEMMs (W of zero-bubble schedules: one forward's worth of each GEMM), and the
    forward of the MLA up-projections and norms (what DeepSeek-V3 recomputes)."""

    f_s: Num
    b_s: Num
    attention_s: Num
    w_s: Num
    up_s: Num


_UP_PROJECTIONS = ("q_b", "kv_b")


def _price_pass(kernels: list[Kernel], system: System, cals: tuple[Calibration, Calibration, Calibration]) -> _Pass:
    """The seconds of one microbatch's kernels on one stage (see _Pass)."""
    chip = system.chip
    fwd, bwd, experts = cals
    f_s: Num = 0.0
    b_s: Num = 0.0
    attention_s: Num = 0.0
    w_s: Num = 0.0
    up_s: Num = 0.0
    for k in kernels:
        forward = price_kernel(k, chip, experts if k.kind == "grouped_gemm" else fwd).time_s
        f_s = f_s + forward
        if k.name in ("attention_prefill", "mla_prefill", "attention_scores"):  # the attention core
            attention_s = attention_s + forward
        if k.kind in ("gemm", "grouped_gemm"):
            w_s = w_s + forward
        if k.name in _UP_PROJECTIONS or k.name == "norms_residual":
            up_s = up_s + forward
        if k.kind.startswith("attention"):
            back = dataclasses.replace(k, flops=ATTENTION_BACKWARD_FLOPS * k.flops, other_bytes=2.0 * k.other_bytes)
            b_s = b_s + price_kernel(back, chip, bwd).time_s
        elif k.kind in ("gemm", "grouped_gemm"):
            b_s = b_s + 2.0 * forward  # dgrad and wgrad: same shape class, same FLOPs
        else:
            b_s = b_s + price_kernel(dataclasses.replace(k, other_bytes=2.0 * k.other_bytes), chip, fwd).time_s
    return _Pass(f_s, b_s, attention_s, w_s, up_s)
