"""Parallel layouts of a worker: one (Layout) or many at once (LayoutGrid), the divisibility rules serving and
training share, and a layout's split factors as numbers (Shard)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from parity.errors import InfeasiblePlan
from parity.model import Model, MoeMlp
from parity.ops import Num

__all__ = ["Layout", "LayoutGrid", "Shard", "check_tensor_split", "check_expert_split", "check_pipeline_split"]


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
                    given = self.moe_tp or self.moe_ep
                    quotient = f"{layout.moe_group} // {given}"  # resolved(): at least 1
                    quotient = quotient if layout.moe_group >= given else f"max(1, {quotient}) = 1"
                    derived = "" if self.moe_tp and self.moe_ep else \
                        f" ({'moe_ep' if self.moe_tp else 'moe_tp'} derived as {quotient})"
                    raise InfeasiblePlan(f"moe_tp x moe_ep must equal tp x attn_dp ({layout.moe_group}), "
                                         f"got {layout.moe_tp} x {layout.moe_ep}{derived}")
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
    counted as shared_weight routed assignments; normal_a2a: the expert all-to-all runs the normal
    (high-throughput) kernels at every batch, never the low-latency ones (an engine setting);
    prompt_all_reduce: with attention DP, a step with prompt tokens gathers and reduces the group's tokens by
    all-reduces, experts sliced or spread (an engine setting, EngineProfile.prompt_gather_all_reduce);
    moe_gather: with attention DP and the experts spread, every step all-gathers the group's tokens to every rank and
    reduce-scatters the outputs instead of an all-to-all (a fused-MoE backend's, engine.GATHERING_MOE_BACKENDS).
    decode_padded: with attention DP, every rank's decodes are padded to the busiest rank's and the experts compute
    the padded rows, so they see the busiest rank's tokens on every rank whatever ranks carry sequences
    (EngineProfile.decode_padded_experts).
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
    normal_a2a: Num = 0.0
    prompt_all_reduce: Num = 0.0
    moe_gather: Num = 0.0
    decode_padded: Num = 0.0

    @classmethod
    def of(cls, layout: Layout | LayoutGrid, imbalance: float = 1.0, moe_overlap: float = 0.0,
           normal_a2a: bool = False, prompt_all_reduce: bool = False, moe_gather: bool = False,
           decode_padded: bool = False) -> Shard:
        r = layout.resolved() if isinstance(layout, Layout) else layout
        return cls(r.tp, r.attn_dp, r.moe_tp, r.moe_ep, r.pp, imbalance, moe_overlap,
                   normal_a2a=float(normal_a2a), prompt_all_reduce=float(prompt_all_reduce),
                   moe_gather=float(moe_gather), decode_padded=float(decode_padded))
