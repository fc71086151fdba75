"""A training layout: how chips split the model (tp, pp, cp, ep) and the batch (dp, microbatches),
with the memory levers (ZeRO stage, recomputation, sequence parallelism) and the number format.

Chips = tp x pp x cp x dp. Experts fold into the tp x cp x dp ranks of a stage as Megatron-Core's
"MoE parallel folding" does: ep x etp ranks form one MoE group (etp slices each expert).
"""

from __future__ import annotations

from dataclasses import dataclass

from parity.errors import InfeasiblePlan
from parity.model import Model, MoeMlp
from parity.plan import Precision, check_expert_split, check_pipeline_split, check_tensor_split

__all__ = ["TrainingLayout", "RECOMPUTE", "PRECISIONS", "GRAD_OVERLAP", "training_precision"]

RECOMPUTE = ("none", "selective", "full")
GRAD_OVERLAP = ("none", "overlap")
# training formats: bf16 mixed precision, FP8 with per-tensor scales (Transformer Engine "current/delayed
# scaling"), FP8 with 128x128 weight / 1x128 activation blocks (DeepSeek-V3), MXFP8 (32-element UE8M0 blocks)
PRECISIONS = ("bf16", "fp8", "fp8_block", "mxfp8")


def training_precision(name: str) -> Precision:
    """Formats of a training step: matrix multiplies in `name`, attention, LM head and router in bf16."""
    if name not in PRECISIONS:
        raise InfeasiblePlan(f"precision must be one of {', '.join(PRECISIONS)}, got {name!r}")
    return Precision(weights=name, expert_weights=name, kv_cache="bf16", activations="bf16", attention="bf16")


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainingLayout:
    """One parallel layout and batch of a training step.

    tp, pp, cp, dp: tensor, pipeline, context and data parallel degrees; ep, etp: expert parallel
    ranks and expert tensor slices (etp 0: tp when ep does not fill the tensor group, else 1).
    virtual_stages: model chunks per pipeline rank (interleaved 1F1B when > 1).
    zero: 0 plain data parallel, 1 optimizer states sharded (Megatron's distributed optimizer),
    2 also gradients, 3 also weights (FSDP). sequence_parallel: norms and dropout split over tp.
    micro_batch, global_batch [sequences]; seq_len [tokens]; precision: one of PRECISIONS;
    grad_overlap: "overlap" hides gradient reduce-scatter and parameter all-gather behind the
    backward and forward passes, "none" runs them after the step. flash_attention: attention runs
    fused (FlashAttention), never storing scores; False: scores materialised in device memory as
    Megatron-LM did before 2023. dropout: dropout layers (and their masks) are active.
    """

    tp: int = 1
    pp: int = 1
    dp: int = 1
    cp: int = 1
    ep: int = 1
    etp: int = 0
    virtual_stages: int = 1
    zero: int = 1
    sequence_parallel: bool = True
    recompute: str = "none"
    micro_batch: int = 1
    global_batch: int = 1
    seq_len: int = 4096
    precision: str = "bf16"
    grad_overlap: str = "overlap"
    flash_attention: bool = True
    dropout: bool = False

    def __post_init__(self) -> None:
        for name in ("tp", "pp", "dp", "cp", "ep", "virtual_stages", "micro_batch", "global_batch", "seq_len"):
            if getattr(self, name) < 1:
                raise InfeasiblePlan(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.etp < 0:
            raise InfeasiblePlan(f"etp must be >= 0 (0 = default), got {self.etp}")
        if self.zero not in (0, 1, 2, 3):
            raise InfeasiblePlan(f"zero must be 0, 1, 2 or 3, got {self.zero}")
        if self.recompute not in RECOMPUTE:
            raise InfeasiblePlan(f"recompute must be one of {', '.join(RECOMPUTE)}, got {self.recompute!r}")
        if self.precision not in PRECISIONS:
            raise InfeasiblePlan(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.grad_overlap not in GRAD_OVERLAP:
            raise InfeasiblePlan(f"grad_overlap must be one of {', '.join(GRAD_OVERLAP)}, got {self.grad_overlap!r}")

    @property
    def chips(self) -> int:
        return self.tp * self.pp * self.cp * self.dp

    @property
    def expert_tp(self) -> int:
        """Slices of each expert: etp, or by default tp when ep alone does not fill the tensor group."""
        if self.etp:
            return self.etp
        return 1 if self.ep % self.tp == 0 else self.tp

    @property
    def microbatches(self) -> int:
        """Microbatches each pipeline runs per step: global_batch / (dp x micro_batch)."""
        return self.global_batch // (self.dp * self.micro_batch)

    def check(self, model: Model, chips: int | None = None) -> TrainingLayout:
        """This layout if it divides the model, the batch and the chips; else InfeasiblePlan naming why."""
        check_tensor_split(model, self.tp, dense_mlp=True)
        for layer in model.layers:
            if isinstance(layer.mlp, MoeMlp):
                self._check_experts(layer.mlp)
        if "moe" not in model.features and (self.ep > 1 or self.etp > 1):
            raise InfeasiblePlan(f"ep and etp apply to mixture-of-experts models only; {model.name} is dense "
                                 f"(got ep {self.ep}, etp {self.etp})")
        check_pipeline_split(model, self.pp)
        if self.virtual_stages > 1 and self.pp == 1:
            raise InfeasiblePlan(f"virtual_stages needs pipeline parallelism (pp > 1), got pp 1 and "
                                 f"virtual_stages {self.virtual_stages}")
        if self.pp * self.virtual_stages > model.num_layers:
            raise InfeasiblePlan(f"pp x virtual_stages must be at most the number of layers ({model.num_layers}), "
                                 f"got {self.pp} x {self.virtual_stages}")
        if self.seq_len % self.cp:
            raise InfeasiblePlan(f"cp must divide seq_len ({self.seq_len}), got {self.cp}")
        if self.global_batch % (self.dp * self.micro_batch):
            raise InfeasiblePlan(f"global_batch must be a multiple of dp x micro_batch ({self.dp * self.micro_batch}), "
                                 f"got {self.global_batch}")
        if chips is not None and self.chips != chips:
            raise InfeasiblePlan(f"tp x pp x cp x dp must equal the chips ({chips}), got "
                                 f"{self.tp} x {self.pp} x {self.cp} x {self.dp} = {self.chips}")
        return self

    def _check_experts(self, mlp: MoeMlp) -> None:
        group = self.ep * self.expert_tp
        check_expert_split(mlp, self.ep, self.expert_tp)
        if group % self.tp:
            raise InfeasiblePlan(f"ep x etp must be a multiple of tp ({self.tp}), got {self.ep} x {self.expert_tp}")
        if (self.tp * self.cp * self.dp) % group:
            raise InfeasiblePlan(f"ep x etp must divide tp x cp x dp ({self.tp * self.cp * self.dp}), "
                                 f"got {self.ep} x {self.expert_tp}")

    def __str__(self) -> str:
        parts = [f"tp{self.tp}", f"pp{self.pp}"]
        if self.virtual_stages > 1:
            parts.append(f"vp{self.virtual_stages}")
        if self.cp > 1:
            parts.append(f"cp{self.cp}")
        parts.append(f"dp{self.dp}")
        if self.ep > 1:
            parts.append(f"ep{self.ep}")
        parts += [f"mb{self.micro_batch}", f"zero{self.zero}"]
        if self.recompute != "none":
            parts.append(f"rc-{self.recompute}")
        return "-".join(parts)
