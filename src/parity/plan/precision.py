"""Number formats of a deployment: weights, KV cache, activations, attention math, and how MLA decode runs."""

from __future__ import annotations

from dataclasses import dataclass

from parity.dtypes import format_named
from parity.errors import InfeasiblePlan
from parity.graph import MLA_DECODE

__all__ = ["Precision", "served_format", "FP32_SERVED_AS"]

# The format a serving engine's default dtype ("auto") loads a float32 checkpoint in: 16 bits, never 32. vLLM's
# --dtype "auto" "will use FP16 precision for FP32 and FP16 models, and BF16 precision for BF16 models" (docs.vllm.ai
# engine_args, v0.4-v0.5); today's vllm/config/model.py _resolve_auto_dtype ("Downcast for float32 models") takes the
# platform's first supported dtype, bf16 where the GPU has it. SGLang's python/sglang/srt/configs/model_config.py
# _get_and_verify_dtype casts float32 to float16 ("Following the common practice"), Gemma's to bfloat16. bf16 here:
# fp16, the older engines' choice, is the same 2 B wide.
FP32_SERVED_AS = "bf16"


@dataclass(frozen=True, slots=True, kw_only=True)
class Precision:
    """Number formats of a deployment: dense and expert weights, KV cache, activations, attention math;
    and how MLA decode runs (mla_decode, see MLA_DECODE): absorbed in the latent space (FlashMLA), or
    unabsorbed with each step's cached latents expanded to per-head K and V. attention_weights: the
    attention projections' format where a checkpoint keeps them apart (Meta's Llama-3.1 FP8 checkpoints
    quantise the MLP only); empty: the dense weights' format. unquantized: the weight matrices (Layer.matrices' names)
    kept bf16 beside their role's format, as a checkpoint's skip list leaves them (Model.unquantized_matrices; a
    format the deployment names itself quantizes every matrix of its role, so it carries none)."""

    weights: str = "bf16"
    expert_weights: str = "bf16"
    kv_cache: str = "bf16"
    activations: str = "bf16"
    attention: str = "bf16"
    mla_decode: str = "absorbed"
    attention_weights: str = ""
    unquantized: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        for name in ("weights", "expert_weights", "kv_cache", "activations", "attention"):
            format_named(getattr(self, name))  # raises on an unknown name
        if self.attention_weights:
            format_named(self.attention_weights)
        if self.mla_decode not in MLA_DECODE:
            raise InfeasiblePlan(f"mla_decode must be one of {', '.join(MLA_DECODE)}, got {self.mla_decode!r}")

    @property
    def unquantized_format(self) -> str:
        """The format of the weights no quantization touches (embedding, LM head, router, a checkpoint's skip list):
        bf16, or the weights' own where they are wider (fp32 weights keep every matrix in fp32)."""
        return "fp32" if format_named(self.weights).bits > 16 else "bf16"

    def of(self, role: str, matrix: str = "") -> str:
        """The format of the weights with a given role (attention, mlp, expert, router, head): unquantized_format
        for a matrix (Layer.matrices' name) the checkpoint leaves unquantized, the router and the head."""
        if matrix in self.unquantized or role in ("router", "head"):
            return self.unquantized_format
        return {"expert": self.expert_weights,
                "attention": self.attention_weights or self.weights}.get(role, self.weights)


def served_format(checkpoint: str) -> str:
    """The weight format a serving engine loads a checkpoint's `checkpoint` format in by default (dtype auto): an
    fp32 checkpoint cast to FP32_SERVED_AS, any other as it is stored. An explicit format is not passed here."""
    return FP32_SERVED_AS if format_named(checkpoint).name == "fp32" else checkpoint
