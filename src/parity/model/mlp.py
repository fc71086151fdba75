"""Feed-forward blocks of a decoder layer: a dense (gated or plain) MLP, or a mixture of experts."""

from __future__ import annotations

from dataclasses import dataclass

from parity.model.mixers import Matrix

__all__ = ["DenseMlp", "MoeMlp", "Mlp"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DenseMlp:
    """A feed-forward block; gated (SwiGLU: gate, up, down) unless gated=False."""

    intermediate_size: int
    gated: bool = True
    bias: bool = False

    def matrices(self, hidden_size: int) -> tuple[Matrix, ...]:
        up = (2 if self.gated else 1) * self.intermediate_size
        return (Matrix(name="up", rows=hidden_size, cols=up),
                Matrix(name="down", rows=self.intermediate_size, cols=hidden_size))

    def vector_parameters(self, hidden_size: int) -> int:
        return ((2 if self.gated else 1) * self.intermediate_size + hidden_size) if self.bias else 0


@dataclass(frozen=True, slots=True, kw_only=True)
class MoeMlp:
    """Mixture of experts: a router picks experts_per_token of num_experts; shared experts always run
    (num_shared_experts of them, shared_intermediate_size wide in all). latent_size: routed experts work in
    a narrower latent space, projected down from and back up to hidden_size around them (Nemotron-3's
    latent MoE); 0: they work on the hidden vector itself."""

    num_experts: int
    experts_per_token: int
    expert_intermediate_size: int
    num_shared_experts: int = 0
    shared_intermediate_size: int = 0
    shared_gate: bool = False
    latent_size: int = 0
    gated: bool = True
    expert_bias: bool = False
    router_bias: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.experts_per_token <= self.num_experts:
            raise ValueError(f"experts_per_token must be in [1, num_experts={self.num_experts}], "
                             f"got {self.experts_per_token}")

    def matrices(self, hidden_size: int) -> tuple[Matrix, ...]:
        g = 2 if self.gated else 1
        width = self.latent_size or hidden_size
        out = [Matrix(name="router", rows=hidden_size, cols=self.num_experts),
               Matrix(name="expert_up", rows=width, cols=g * self.expert_intermediate_size,
                      copies=self.num_experts, expert=True),
               Matrix(name="expert_down", rows=self.expert_intermediate_size, cols=width,
                      copies=self.num_experts, expert=True)]
        if self.latent_size:
            out += [Matrix(name="latent_down", rows=hidden_size, cols=self.latent_size),
                    Matrix(name="latent_up", rows=self.latent_size, cols=hidden_size)]
        if self.num_shared_experts:
            out += [Matrix(name="shared_up", rows=hidden_size, cols=g * self.shared_intermediate_size),
                    Matrix(name="shared_down", rows=self.shared_intermediate_size, cols=hidden_size)]
        return tuple(out)

    def vector_parameters(self, hidden_size: int) -> int:
        g = 2 if self.gated else 1
        count = self.num_experts if self.router_bias else 0
        if self.shared_gate:  # a sigmoid gate of the shared expert's output (Qwen2-MoE, Qwen3-Next)
            count += hidden_size
        if self.expert_bias:
            count += self.num_experts * (g * self.expert_intermediate_size + (self.latent_size or hidden_size))
        return count


Mlp = DenseMlp | MoeMlp
