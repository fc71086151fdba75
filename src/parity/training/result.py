"""A training step's result (TrainingResult: time, breakdown, throughput, MFU, memory per chip) and the model
FLOPs of one trained token it counts MFU with."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from parity.model import Model
from parity.ops import Num
from parity.training.layout import TrainingLayout
from parity.training.memory import TrainingMemory

__all__ = ["TrainingResult", "model_flops_per_token"]

def model_flops_per_token(model: Model, seq_len: Num, causal: bool = False) -> Num:
    """[FLOP] of one trained token: 6N + 12 L H Q T (Chowdhery et al. 2022, PaLM, Appendix B).

    N: weights one token multiplies (routed experts counted experts_per_token times, LM head included,
    embedding lookup excluded); the attention term counts all T keys as PaLM does (not halved for
    causality), each head's query-key and value widths, and sliding windows at their width.
    causal: count each query's keys up to itself only, on average half of them (6N + 6 L H Q T; the
    convention of FlashAttention's and torchtitan's FLOP counts).
    """
    attention = sum(layer.count * layer.attention.score_flops_per_token(seq_len) for layer in model.layers
                    if layer.attention is not None)
    return 3.0 * (model.matmul_flops_per_token() + (0.5 if causal else 1.0) * attention)


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainingResult:
    """One training step on `chips` chips [s], its breakdown, throughput, MFU and memory per chip.

    step_s = compute_s + recompute_s + tp/cp/ep/pp/dp_comm_s (exposed parts) + imbalance_s + bubble_s + optimizer_s
    + overhead_s: the breakdown adds up. compute_s: the forward and backward passes; recompute_s: the forward work
    run again to recompute activations, beside it. Both and the communication are an even stage's (with a 1/pp share
    of any multi-token-prediction module a --pp-layout places); imbalance_s: what the busiest stage of uneven ones
    adds (the others idle meanwhile). mfu: model FLOP/s per chip over
    the dense peak of the math unit the step's matrix multiplies run on (`peak_math`: bf16 for bf16, fp8 for
    the 8-bit formats where the chip has FP8 units), counting every key of a query (PaLM's and Megatron-LM's
    convention, also as mfu_noncausal); mfu_causal counts the causal half of the attention (FlashAttention,
    torchtitan), over the same peak. mfu_bf16: model FLOP/s over the dense BF16 peak whatever the format,
    as FP8 training reports usually quote MFU; it passes 1 when FP8 math runs faster than the BF16 peak, so it
    is a ratio, not a utilisation (equal to mfu when peak_math is bf16).
    dies: dies a chip; above 1 each die is a rank (Ascend 910C: CANN sees an 8-package Atlas 800 A3 as 16 NPUs),
    so the layout counts ranks = chips x dies, memory is a die's, and the rates per chip, TDP and chip-hours are
    a package's (per_package).
    """

    step_s: Num
    compute_s: Num
    recompute_s: Num
    tp_comm_s: Num
    cp_comm_s: Num
    ep_comm_s: Num
    pp_comm_s: Num
    dp_comm_s: Num
    imbalance_s: Num
    bubble_s: Num
    optimizer_s: Num
    overhead_s: Num
    tokens_per_s: Num
    tokens_per_s_per_chip: Num
    model_flops_per_token: Num
    mfu: Num
    mfu_bf16: Num
    mfu_causal: Num
    chips: int
    microbatches: Num
    memory: TrainingMemory
    tdp_w: float
    layout: TrainingLayout | None = None
    assumptions: tuple[str, ...] = field(default=())
    peak_math: str = "bf16"
    dies: int = 1

    @property
    def ranks(self) -> int:
        """Devices the layout spreads over: one a die of a multi-die chip."""
        return self.chips * self.dies

    def per_package(self, dies: int) -> TrainingResult:
        """This result, priced one rank per die (hardware.per_die) on `chips` dies, counted per package of `dies`
        dies: chips, tokens/s per chip and TDP a package's; MFU, memory and the breakdown stay a rank's."""
        if dies == 1:
            return self
        return dataclasses.replace(self, chips=self.chips // dies, dies=dies, tdp_w=self.tdp_w * dies,
                                   tokens_per_s_per_chip=self.tokens_per_s_per_chip * dies,
                                   assumptions=self.assumptions + (
                                       f"one rank per die ({dies} dies a chip, each a device to its framework): "
                                       "the layout counts ranks, memory is a die's, tokens/s per chip a package's",))

    @property
    def mfu_noncausal(self) -> Num:
        """MFU counting every key of each query (the `mfu` convention, named)."""
        return self.mfu

    @property
    def fits(self) -> Num:
        return self.memory.fits

    @property
    def shortfall_bytes(self) -> Num:
        return self.memory.shortfall_bytes

    @property
    def bubble_fraction(self) -> Num:
        return self.bubble_s / self.step_s

    def time_to_train_s(self, tokens: float) -> Num:
        """[s] to train on `tokens` tokens at this step's throughput."""
        return tokens / self.tokens_per_s

    def chip_hours(self, tokens: float) -> Num:
        """Chip-hours to train on `tokens` tokens [h x chips]."""
        return self.chips * self.time_to_train_s(tokens) / 3600.0

    def energy_j(self, tokens: float) -> Num:
        """[J] the chips draw at TDP while training on `tokens` tokens (chips only: no host, network, cooling)."""
        return self.chips * self.tdp_w * self.time_to_train_s(tokens)

    def at(self, i: int) -> TrainingResult:
        """The i-th candidate of an array result, as floats."""
        def pick(value: Num) -> Num:
            arr = np.asarray(value)
            return arr.item() if arr.ndim == 0 else arr.reshape(-1)[i].item()
        scalars = {f.name: pick(getattr(self, f.name)) for f in dataclasses.fields(self)
                   if f.name not in ("memory", "layout", "assumptions", "chips", "tdp_w", "peak_math", "dies")}
        memory = TrainingMemory(**{f.name: pick(getattr(self.memory, f.name)) for f in dataclasses.fields(TrainingMemory)})
        return dataclasses.replace(self, memory=memory, **scalars)
