"""The `Cost` record, and kernels priced on a chip: roofline with measured efficiencies, per format and head width."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from parity.cost.formats import math_unit
from parity.dtypes import format_named
from parity.hardware import Calibration, Chip
from parity.ops import Kernel, Num

@dataclass(frozen=True, slots=True)
class Cost:
    """Time and work of some ops on one device; adds with `+` and scales with `*`.

    compute_s / memory_s: time of kernels bound by math / by memory traffic [s];
    communication_s: collectives [s]; overhead_s: fixed per-kernel and per-step costs [s];
    flops [FLOP], bytes [B] of device memory traffic, comm_bytes [B] sent over links.
    """

    compute_s: Num = 0.0
    memory_s: Num = 0.0
    communication_s: Num = 0.0
    overhead_s: Num = 0.0
    flops: Num = 0.0
    bytes: Num = 0.0
    comm_bytes: Num = 0.0

    def __add__(self, other: Cost) -> Cost:
        return Cost(*(mine + theirs for mine, theirs in zip(_values(self), _values(other))))

    def __radd__(self, other: Any) -> Cost:
        return self if other == 0 else NotImplemented

    def __mul__(self, factor: Num) -> Cost:
        return Cost(*(value * factor for value in _values(self)))

    __rmul__ = __mul__

    @property
    def time_s(self) -> Num:
        """[s] total: kernels, collectives and overheads, run one after another."""
        return self.compute_s + self.memory_s + self.communication_s + self.overhead_s


def _values(cost: Cost) -> tuple[Num, ...]:
    """A cost's fields in their order (faster than dataclasses.astuple, which copies each value)."""
    return (cost.compute_s, cost.memory_s, cost.communication_s, cost.overhead_s, cost.flops, cost.bytes,
            cost.comm_bytes)


_MEMORY_EFFICIENCY = {"gemm": "memory_efficiency", "grouped_gemm": "grouped_gemm_memory_efficiency",
                      "attention_decode": "attention_decode_efficiency",
                      "attention_prefill": "attention_decode_efficiency", "stream": "stream_efficiency"}


# Flash-attention forward at head dim 64 over head dim 128 (the width the calibrations' prefill points measure:
# PyTorch SDPA, 32 heads of 128): FlashAttention-3 paper (Shah et al. 2024, arXiv 2407.08608, Fig. 5, BF16 forward
# on H100 SXM5; bar labels as transcribed from the figure, not re-read from the PDF; the NeurIPS version's figures
# run higher than arXiv's, so only the ratio is used), FlashAttention-3 causal at sequence 512, 1k, 2k, 4k, 8k, 16k:
# head dim 64 197, 265, 371, 420, 460, 473 TFLOP/s; head dim 128 292, 423, 521, 579, 602, 616; ratios 0.675,
# 0.626, 0.712, 0.725, 0.764, 0.768, median 0.72 (without the causal mask 333-497 over 467-648 TFLOP/s, median
# 0.74). A 64-wide head does half the MMA work per softmax exponential and per K/V tile loaded, so the same tiles
# reach less of the tensor-core peak. Blackwell
# shows the same: cuDNN's forward on B200 (Dao-AILab/flash-attention#2605 benchmark, batch 32, sequence 1024, no
# mask) 980 TFLOP/s at head dim 64 and 1428 at 128, 0.69.
# parity's own H200 run agrees (data/measurements/h200_sdpa_head_dim.json, 2026-12-04): cuDNN's causal forward
# through PyTorch SDPA, head dim 64 over 128, 0.78 at 4k tokens and 0.74 at 8k; PyTorch's FlashAttention-2 build,
# at about half the peak whatever the width, 0.97 and 0.92. Wider heads run faster there, and parity prices them so
# from that run (the calibrated prefill points ran cuDNN): head dim 192 over 128, 571.3 / 525.2 = 1.088 at 4k and
# 646.7 / 608.2 = 1.063 at 8k, mean 1.076 (MLA's 192-wide query/key heads); 256, 602.5 / 525.2 = 1.147 and
# 676.6 / 608.2 = 1.112, mean 1.130. Linear between the measured widths; wider than 256 no flash-attention kernel of
# the engines runs (FlashAttention-2/3, cuDNN and TensorRT-LLM's FMHA stop there), so nothing is measured: 1.
HEAD_DIM_64_ATTENTION_SCALE = 0.72
HEAD_DIM_192_ATTENTION_SCALE = 1.076
HEAD_DIM_256_ATTENTION_SCALE = 1.130
CALIBRATED_HEAD_DIM = 128


def head_dim_scale(head_dim: int) -> float:
    """Flash-attention prefill math rate at `head_dim` over the calibrated one (128): 0.72 at 64 and below
    (HEAD_DIM_64_ATTENTION_SCALE), 1.076 at 192 and 1.130 at 256 (measured on the H200), linear between those
    widths, 1 where the width is not stated (0) or past 256 (not measured)."""
    if head_dim <= 0 or head_dim > 256:
        return 1.0
    return float(np.interp(head_dim, (64, CALIBRATED_HEAD_DIM, 192, 256),
                           (HEAD_DIM_64_ATTENTION_SCALE, 1.0, HEAD_DIM_192_ATTENTION_SCALE,
                            HEAD_DIM_256_ATTENTION_SCALE)))


# FP8 flash attention (the prompt attention the engines run on an FP8 KV cache, graph._mla_prompt_passes) over BF16 at
# the same shapes, from aiconfigurator's context-MLA timings (data/measurements/aiconfigurator_context_mla.json: each
# system's grid fitted as 24 us + a cost per token and head + causal math at one rate), the FP8 cache's rate over the
# BF16 cache's: GB200 2.03 / 1.48 PFLOP/s = 1.37, B200 1.84 / 1.35 = 1.37, B300 2.24 / 1.45 = 1.55, H100 0.81 / 0.62
# = 1.30, H200 0.79 / 0.61 = 1.29; median 1.37, on chips whose FP8 peak is twice their BF16 one. The FP8 kernel runs
# at this multiple of the BF16 attention rate, not at the FP8 peak's share.
FP8_ATTENTION_SPEEDUP = 1.37


def efficiency_key(math: str, chip: Chip) -> str:
    """The math key whose GEMM efficiency a GEMM on unit `math` of `chip` takes: its own, except FP4 on a chip whose
    FP4 rate is no faster than its FP8 one (Trainium3: MXFP4 at the MXFP8 rate), which runs as the FP8 unit does.
    The FP4 efficiencies calibrations hold were measured on FP4 units at twice the FP8 rate, which kernels feed less
    fully (Blackwell 0.73 and CDNA4 0.76 of the FP8 efficiency), or carried from them and the generic prior's
    placeholder; applied to a unit at the FP8 rate they priced MXFP4 below FP8 on the same unit (Llama-3.1-8B on
    trn3-ultraserver: 17,126 against 17,922 tok/s/chip).
    FP6 runs as the unit whose rate it shares, for no calibration measures an FP6 GEMM: FP4's on CDNA4 (one
    f8f6f4 MFMA takes 6- and 4-bit operands at the MXFP4 rate), FP8's on Blackwell (FP6 at the FP8 rate). Its
    own key would fall to a calibration's default (CDNA4 0.5822, above the 0.4669 measured on MXFP4 at the same
    peak) and price W4A6 1.12x MXFP4 on an MI355X (Llama-3.1-8B, 1,024 in / 128 out, 256 clients), where AMD
    measured 0.97x (the RW46 rows)."""
    if math == "fp6":
        math = "fp4" if 0.0 < chip.peak("fp4") <= chip.peak("fp6") else "fp8"
    if math == "fp4" and 0.0 < chip.peak("fp4") <= chip.peak("fp8"):
        return "fp8"
    return math


# price_kernel's rates of a (kind, format, head_dim) on a (chip, calibration), keyed by the records' ids: each entry
# holds the two records, so that no id is reused while it stands
_RATES: dict[tuple[str, str, int, int, int], tuple[Chip, Calibration, str, float, float, float, float]] = {}


def _rates(kind: str, fmt_name: str, head_dim: int, chip: Chip,
           cal: Calibration) -> tuple[str, float, float, float, float]:
    """(GEMM efficiency key, peak of the math unit [FLOP/s], the kernel's efficiency, the emulation factor, achieved
    bandwidth [B/s]) of a kernel kind and format on `chip`; a grouped GEMM's efficiency is its format's
    dequantisation factor alone (its grouped rate depends on the kernel's tokens)."""
    key = (kind, fmt_name, head_dim, id(chip), id(cal))
    hit = _RATES.get(key)
    if hit is not None and hit[0] is chip and hit[1] is cal:
        return hit[2:]
    fmt = format_named(fmt_name)
    math, emulated = math_unit(fmt, chip)
    gemm = efficiency_key(math, chip)
    efficiency = (cal.attention_decode_math if kind == "attention_decode" else
                  cal.attention_prefill_efficiency * head_dim_scale(head_dim) if kind == "attention_prefill" else
                  fmt.dequant_efficiency if kind == "grouped_gemm" else cal.gemm(gemm) * fmt.dequant_efficiency)
    if kind == "attention_prefill" and math == "fp8" and not emulated and chip.peak("bf16") > 0:
        efficiency *= FP8_ATTENTION_SPEEDUP * chip.peak("bf16") / chip.peak("fp8")
    bandwidth = chip.memory_bytes_per_s * getattr(cal, _MEMORY_EFFICIENCY[kind])
    if len(_RATES) > 4096:
        _RATES.clear()
    _RATES[key] = (chip, cal, gemm, chip.peak(math), efficiency, cal.emulation_efficiency if emulated else 1.0,
                   bandwidth)
    return _RATES[key][2:]


def price_kernel(kernel: Kernel, chip: Chip, cal: Calibration, overhead_s: float | None = None) -> Cost:
    """Roofline time of `kernel.count` runs of a kernel: max(math, memory) + fixed overhead each.

    Math runs at the chip's peak for its unit times the calibrated efficiency of the kernel kind, times the
    emulation efficiency on a wider unit, the format's dequantisation efficiency (weights widened inside the GEMM's
    main loop, dtypes.Format.dequant_efficiency) and, for prefill attention, head_dim_scale (and in FP8,
    FP8_ATTENTION_SPEEDUP times the BF16 rate rather than the FP8 peak's share); grouped expert GEMMs
    run at the calibration's grouped rate for their tokens per expert (Calibration.grouped_gemm)."""
    gemm, peak, efficiency, emulation, bandwidth = _rates(kernel.kind, kernel.fmt, kernel.head_dim, chip, cal)
    if kernel.kind == "grouped_gemm":
        efficiency = cal.grouped_gemm(gemm, kernel.tokens) * efficiency
    rate = peak * efficiency * emulation
    flops, moved, n = kernel.flops, kernel.bytes, kernel.count
    fixed = (cal.kernel_overhead_s if overhead_s is None else overhead_s) * kernel.launches
    if isinstance(flops, float) and isinstance(moved, float) and isinstance(rate, float) \
            and not isinstance(n, np.ndarray):
        # one candidate: the same arithmetic in Python floats, without numpy's per-call cost
        if flops == 0 and moved == 0:
            return Cost()  # nothing to run this step (e.g. prefill attention in a decode step)
        t_math = flops / rate
        t_memory = moved / bandwidth
        compute = n * (t_math if t_math >= t_memory else 0.0)
        return Cost(compute_s=compute, memory_s=n * max(t_math, t_memory) - compute,
                    overhead_s=n * fixed if fixed else 0.0, flops=n * flops, bytes=n * moved)
    if np.ndim(flops) == 0 and np.ndim(moved) == 0 and flops == 0 and moved == 0:
        return Cost()  # nothing to run this step (e.g. prefill attention in a decode step)
    t_math = flops / rate
    t_memory = moved / bandwidth
    fixed = np.where((flops > 0) | (moved > 0), n * fixed, 0.0) if fixed else 0.0
    compute = n * np.where(t_math >= t_memory, t_math, 0.0)
    return Cost(compute_s=compute, memory_s=n * np.maximum(t_math, t_memory) - compute, overhead_s=fixed,
                flops=n * flops, bytes=n * moved)
