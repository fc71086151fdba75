"""What one eager prompt step asks of an engine's host: the GPU ops (torch op or custom op calls that launch work)
its Python model code issues per part of a decoder layer, read from the engine's source (data/host_ops.toml)."""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["HostOps"]


@dataclass(frozen=True, slots=True, kw_only=True)
class HostOps:
    """Ops one engine's model code issues from the host in a step that carries prompt tokens, by part of a
    decoder layer. One op is one call of a torch op or custom op that launches GPU work (a GEMM, a norm, the
    attention op, a quantisation, a copy); views, splits and reshapes launch nothing and are not counted, nor
    are the kernels a custom op launches from C++ (its host cost is the one Python call).

    norm: a (fused residual-add) RMSNorm, one per norm of a layer (Layer.norms); linear: a projection's GEMM;
    quantize: the activation quantisation before a projection whose math runs in FP8/FP4/INT8 (none for BF16
    weights or weight-only formats); attention: the attention op (RoPE and the KV-cache write inside it);
    qk_norm: the per-head q and k norms of a model with them; mla: an MLA context step's ops beyond its four
    projections and its attention op; activation: the gated activation between two MLP projections;
    moe_routing: the router GEMM with the routing and activation-quantisation ops before the experts;
    moe_experts: the fused expert op; shared_add: adding the shared experts' output to the routed one;
    step: ops of the step outside the decoder layers (embedding, final norm, last-token gather, LM head)."""

    engine: str
    version: str
    norm: float
    linear: float
    quantize: float
    attention: float
    qk_norm: float
    mla: float
    activation: float
    moe_routing: float
    moe_experts: float
    shared_add: float
    step: float
    source: str = ""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not value >= 0:  # NaN too
                raise ValueError(f"host ops of {self.engine}: {f.name} must be >= 0, got {value}")
