"""Number formats of a deployment: weights, KV cache, activations, attention math, and how MLA decode runs."""

from __future__ import annotations

from dataclasses import dataclass

from parity.dtypes import format_named
from parity.errors import InfeasiblePlan
from parity.graph import MLA_DECODE

__all__ = ["Precision"]


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

    def of(self, role: str, matrix: str = "") -> str:
        """The format of the weights with a given role (attention, mlp, expert, router, head): bf16 for a matrix
        (Layer.matrices' name) the checkpoint leaves unquantized."""
        if matrix in self.unquantized:
            return "bf16"
        return {"expert": self.expert_weights, "router": "bf16", "head": "bf16",
                "attention": self.attention_weights or self.weights}.get(role, self.weights)
