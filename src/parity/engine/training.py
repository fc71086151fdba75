"""The training-framework profile (Megatron-LM / NeMo style): overlap, optimizer, memory reserve, each factor named
with its source. Values are fitted on measured runs (see `validate_training`)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TrainingProfile"]


# one training framework's behaviour (Megatron-LM / NeMo style), named assumptions and fitted factors
_TRAINING_FRACTIONS = ("gemm_scale", "moe_scale", "attention_scale", "attention_backward_efficiency", "tp_comm_exposed",
                       "ep_comm_exposed", "cp_comm_exposed", "pp_comm_exposed", "dp_comm_exposed", "dp_overlap_window",
                       "memory_reserve_fraction")


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainingProfile:
    """How a training framework runs a step, beyond the kernels: every factor named, with its source.

    gemm_scale, attention_scale: multipliers on the chip calibration's GEMM and flash-attention
    efficiencies for training kernels; moe_scale: the same for routed-expert (grouped) GEMMs, which
    also carry the routing and token permutation around them (fitted on calibration rows).
    attention_backward_efficiency: flash-attention backward efficiency over forward (FA-2: 63% vs 73%
    of peak). tp/ep/cp/pp_comm_exposed: share of tensor-, expert-, context- and pipeline-parallel communication left on
    the critical path after the framework's overlap. dp_overlap_window: share of the last microbatch's backward (and
    first forward) that hides gradient reduce-scatter and parameter all-gather under the "overlap" policy;
    dp_comm_exposed: share of that data-parallel (ZeRO) traffic left exposed even where the window is long enough to
    hide it (0: all of it hidden). gradient_bytes, optimizer_state_bytes [B per parameter]: mixed-precision Adam (ZeRO
    paper: 2 + 12). fp8_weight_copy_bytes [B per parameter]: the cached FP8 copy of the weights under FP8 training;
    fp8_cast_bytes [B per input/output element of an FP8 GEMM, forward; twice in backward]: quantising activations and
    gradients (and their transposes) to FP8. optimizer_traffic_bytes [B per parameter]: device-memory traffic of one
    Adam update. expert_imbalance: busiest expert rank over the mean. memory_reserve_fraction, memory_reserve_bytes [B]:
    what the allocator and runtime keep (fragmentation, CUDA context, communication buffers). step_overhead_s [s]: per
    step (data loading, logging, host sync). moe_layer_overhead_s [s]: per MoE layer and microbatch, forward and
    backward together: routing, token permutation and the host synchronisation of dropless experts beyond the roofline
    of their kernels. moe_permute_scale: multiplier on the memory traffic of the routed tokens' permutation and
    unpermutation (4 passes over tokens x top_k x hidden at 2 B): the unfused glue around them (routing, probability
    multiply, padding to capacity) is further passes over the same rows, so it grows with the tokens, not the layers
    (fitted).
    """

    id: str
    name: str
    date: str
    method: str
    measured: bool
    gemm_scale: float = 1.0
    moe_scale: float = 1.0
    attention_scale: float = 1.0
    attention_backward_efficiency: float = 0.86
    tp_comm_exposed: float = 1.0
    ep_comm_exposed: float = 1.0
    cp_comm_exposed: float = 1.0
    pp_comm_exposed: float = 1.0
    dp_comm_exposed: float = 0.0
    dp_overlap_window: float = 1.0
    gradient_bytes: float = 2.0
    optimizer_state_bytes: float = 12.0
    fp8_weight_copy_bytes: float = 1.0
    fp8_cast_bytes: float = 1.5
    optimizer_traffic_bytes: float = 32.0
    expert_imbalance: float = 1.0
    memory_reserve_fraction: float = 0.05
    memory_reserve_bytes: float = 2e9
    step_overhead_s: float = 0.0
    moe_layer_overhead_s: float = 0.0
    moe_permute_scale: float = 1.0
    source: str = ""

    def __post_init__(self) -> None:
        for name in _TRAINING_FRACTIONS:
            value = getattr(self, name)
            limit = 2.0 if name.endswith("_scale") else 1.0
            if not 0 <= value <= limit:
                raise ValueError(f"training profile {self.id}: {name} must be in [0, {limit:g}], got {value}")
        for name in ("gemm_scale", "moe_scale", "attention_scale", "attention_backward_efficiency", "moe_permute_scale"):
            if getattr(self, name) <= 0:
                raise ValueError(f"training profile {self.id}: {name} must be > 0, got {getattr(self, name)}")
        for name in ("gradient_bytes", "optimizer_state_bytes", "fp8_weight_copy_bytes", "fp8_cast_bytes",
                     "optimizer_traffic_bytes",
                     "memory_reserve_bytes", "step_overhead_s", "moe_layer_overhead_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"training profile {self.id}: {name} must be >= 0, got {getattr(self, name)}")
        if self.expert_imbalance < 1:
            raise ValueError(f"training profile {self.id}: expert_imbalance must be >= 1, got {self.expert_imbalance}")
