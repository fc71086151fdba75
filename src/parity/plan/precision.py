"""Number formats of a deployment: weights, KV cache, activations, attention math, and how MLA decode runs."""

from __future__ import annotations

from dataclasses import dataclass

from parity.dtypes import format_named
from parity.errors import InfeasiblePlan
from parity.graph import MLA_DECODE
from parity.model import Model

__all__ = ["Precision"]


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
