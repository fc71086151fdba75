"""Prices kernels on a chip (roofline with measured efficiencies) and collectives on a system's links.

A kernel takes max(FLOPs / achieved math rate, bytes / achieved bandwidth) plus a fixed
overhead; a collective takes the time of its algorithm (ring, tree, one-shot, direct all-to-all,
hierarchical across scale-up domains). Times add as `Cost` records.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from parity.dtypes import FORMATS, Format, format_named
from parity.errors import InfeasiblePlan
from parity.hardware import Calibration, Chip, System, chip_text
from parity.ops import Collective, Kernel, Num, expected_distinct, where
from parity.plan import DeviceStep

__all__ = ["Cost", "math_unit", "emulation_note", "same_rate_note", "emulation", "native_format", "head_dim_scale",
           "price_kernel",
           "price_collective", "price_step", "sliced_all_to_all_s", "slice_stride_ranks",
           "collective_algorithm", "ring_all_reduce_s", "tree_all_reduce_s", "one_shot_all_reduce_s",
           "two_shot_all_reduce_s", "direct_all_to_all_s",
           "ring_all_gather_s", "collective_s", "mesh_link_share", "OVERLAP_UNITS", "overlap_unit_share",
           "TBO_CYCLES", "two_batch_layer_s", "EXPERT_KERNELS"]


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


def math_unit(fmt: Format, chip: Chip) -> tuple[str, bool]:
    """(math key, emulated?) that runs a format on a chip: its own unit if native, else the first
    fallback the chip has (e.g. fp8 weights on an Ascend 910C run as bf16 after dequantising; a format the chip
    lists with no published rate, Chip.native_rate_unpublished, runs on its fallback too)."""
    if chip.runs_natively(fmt.feature, fmt.math):
        return fmt.math, False
    for fallback in fmt.fallbacks:
        if chip.runs_natively(fallback, fallback):
            return fallback, True
    # a format the chip lists with no published rate reads as native in its list: say which rate is missing
    why = (f"it lists {fmt.feature} but no source gives its {fmt.math.upper()} rate" if fmt.feature in chip.native
           else f"it has {_lacks(fmt, chip)}")
    onto = (f"no published {' or '.join(f.upper() for f in fmt.fallbacks)} rate to emulate it on" if fmt.fallbacks
            else "no format to emulate it on")
    runs = [f for f in sorted(chip.native) if f in FORMATS and chip.runs_natively(f, FORMATS[f].math)]
    raise InfeasiblePlan(f"chip {chip_text(chip)} cannot run format {fmt.name}: {why}, and {onto}; use a format it "
                         f"runs ({', '.join(runs) or 'none'})")


def _lacks(fmt: Format, chip: Chip) -> str:
    """What the chip lacks to run `fmt` on a unit of its own: the rate of a unit it lists with none published, the
    math itself ('no FP8 math'), or the format's own unit where that is apart from its math ('no MXFP8 unit')."""
    return (f"no published {fmt.math.upper()} rate" if fmt.feature in chip.native
            else f"no {fmt.math.upper()} math" if fmt.feature == fmt.math else f"no {fmt.feature.upper()} unit")


def emulation_note(fmt: Format, chip: Chip) -> str:
    """What a format runs on where the chip has no math unit of its own for it, naming what it lacks: the math
    itself ('fp8 emulated on bf16 (nvidia-a100-sxm has no FP8 math)'), the format's own unit where that is apart from
    its math ('mxfp8 emulated on fp8 (nvidia-h20 has no MXFP8 unit)': block-scaled FP8 on FP8 math), or the rate
    of a unit it lists with none published; '' where it has one (training and serving rows say it the same way)."""
    unit, emulated = math_unit(fmt, chip)
    if not emulated:
        return ""
    return f"{fmt.name} emulated on {unit} ({chip_text(chip)} has {_lacks(fmt, chip)})"


def same_rate_note(fmt: Format, chip: Chip) -> str:
    """Where a chip runs a narrower format on its own unit at no more than its BF16 rate (Google's TPU7x table gives
    TPU v5p and v6e FP8 at their BF16 peaks), what that buys: no faster math, only narrower operands, while the
    format's casts and scales still cost; '' where the format is BF16, emulated, or faster than BF16."""
    unit, emulated = math_unit(fmt, chip)
    if emulated or unit == "bf16" or chip.peak(unit) > chip.peak("bf16"):
        return ""
    return (f"{fmt.name} runs at the BF16 rate on {chip_text(chip)} ({chip.peak(unit) / 1e12:,.0f} TFLOP/s each): "
            f"no faster math than bf16, while its casts and scales still cost")


def emulation(name: str, chip: Chip) -> tuple[str, str]:
    """The math unit the format `name` is emulated on and its note (emulation_note): '' and '' where the chip runs
    it on its own math unit, 'bf16' and 'fp8 emulated on bf16 (... has no FP8 math)' where it dequantises onto
    another. compare's rows, serve, predict and sweep say it so (their `emulated_on`; people read the row's format
    as 'fp8 on bf16')."""
    fmt = format_named(name)
    note = emulation_note(fmt, chip)
    return (math_unit(fmt, chip)[0] if note else ""), note


def native_format(name: str, chip: Chip) -> tuple[str, str]:
    """The format a side-by-side runs `name` in on `chip` (compare's and fleet's training rows): itself where the chip
    has a unit of its own for it, else the first of its fallbacks it has (fp8 -> bf16 on a chip without FP8 math:
    dequantising FP8 onto BF16 units trains slower than BF16 itself, so no one trains so), with a note saying so
    ('bf16: huawei-ascend-910c has no FP8 math (fp8 asked)'); '' where it runs as asked. A format the chip has no
    fallback for runs emulated, as asked."""
    fmt = format_named(name)
    if not emulation_note(fmt, chip):
        return fmt.name, ""
    kept = next((f for f in fmt.fallbacks if not emulation_note(format_named(f), chip)), None)
    if kept is None:
        return fmt.name, ""
    return kept, f"{kept}: {chip_text(chip)} has {_lacks(fmt, chip)} ({fmt.name} asked)"


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


# --- collectives -------------------------------------------------------------------------------
# S: bytes per rank [B]; n: ranks; B: achieved link bandwidth per rank and direction [B/s];
# lat: one hop [s]. Formulas from Thakur, Rabenseifner & Gropp 2005 (ring, recursive algorithms)
# and NCCL's documentation (bus bandwidth = algorithm bandwidth x 2(n-1)/n for all-reduce).

def ring_all_reduce_s(S: Num, n: Num, B: Num, lat: Num) -> Num:
    """Ring all-reduce: 2(n-1) steps, each rank sends 2(n-1)/n of the buffer over its link."""
    return 2.0 * (n - 1.0) * lat + 2.0 * (n - 1.0) / n * S / B


def tree_all_reduce_s(S: Num, n: Num, B: Num, lat: Num) -> Num:
    """Double binary tree (NCCL): 2 log2(n) hops of latency, about 2S over the link (pipelined)."""
    return 2.0 * np.log2(np.maximum(n, 1.0)) * lat + 2.0 * S / B * (n > 1)


def one_shot_all_reduce_s(S: Num, n: Num, B: Num, lat: Num) -> Num:
    """One-shot (switch or full mesh): every rank reads the n-1 other buffers and reduces locally."""
    return lat + (n - 1.0) * S / B


def two_shot_all_reduce_s(S: Num, n: Num, B: Num, lat: Num) -> Num:
    """Two-shot (switch): a direct reduce-scatter then all-gather, (n-1)/n of the buffer each."""
    return 2.0 * lat + 2.0 * (n - 1.0) / n * S / B


def ring_all_gather_s(S: Num, n: Num, B: Num, lat: Num) -> Num:
    """Ring all-gather (or reduce-scatter) of a buffer of S per rank at the end: (n-1)/n of S moved."""
    return (n - 1.0) * lat + (n - 1.0) / n * S / B


def direct_all_to_all_s(S: Num, n: Num, B: Num, lat: Num) -> Num:
    """Direct all-to-all: each rank sends (n-1)/n of its S bytes (1/n stays local) in parallel."""
    return lat + (n - 1.0) / n * S / B


def mesh_link_share(system: System, ranks: Num) -> Num:
    """Share of a chip's scale-up bandwidth a group of `ranks` chips reaches inside one scale-up domain: on a full
    mesh of m chips ("mesh" topology), where each chip's scale-up bandwidth is m-1 equal links, one to each peer
    (mi300x-platform: seven Infinity Fabric links, one to each peer; atlas-800-a2: seven HCCS links, likewise),
    a group of g ranks has g-1 of them: (g-1)/(m-1); 1 on a switch, Clos, torus or PCIe fabric and for the whole
    mesh. Ring, one-shot, two-shot and direct all-to-all move their bytes over those direct links only: RCCL's
    README ('Improving performance on MI300 when using less than 8 GPUs': with fewer than 8 of the fully connected
    GPUs 'one can only achieve a fraction of the potential bandwidth'), and RCCL's topology search on 4 MI300X
    counts 3 XGMI links (ROCm/rccl issue 1210: maxBw 48 totalBw 144 GB/s), not paths through the other four."""
    if system.scale_up_topology != "mesh":
        return 1.0
    peers = max(system.scale_up_domain_chips - 1.0, 1.0)
    g = np.minimum(np.maximum(np.asarray(ranks, dtype=float), 2.0), system.scale_up_domain_chips)
    share = (g - 1.0) / peers
    return float(share) if np.ndim(share) == 0 else share


def _flat_s(kind: str, S: Num, n: Num, B: Num, lat: Num, switched: bool) -> Num:
    if kind == "all_reduce":
        if switched:
            return np.minimum(one_shot_all_reduce_s(S, n, B, lat), two_shot_all_reduce_s(S, n, B, lat))
        return np.minimum(ring_all_reduce_s(S, n, B, lat), tree_all_reduce_s(S, n, B, lat))
    if kind in ("all_gather", "reduce_scatter"):
        return lat + (n - 1.0) / n * S / B if switched else ring_all_gather_s(S, n, B, lat)
    if kind == "all_to_all":
        return direct_all_to_all_s(S, n, B, lat) if switched else (n - 1.0) * lat + (n - 1.0) / n * S / B
    return lat + S / B  # send_recv


def fused_overhead_s(system: System, n: Num) -> Num:
    """[s] what a fused MoE dispatch or combine over n ranks inside a scale-up domain costs beyond its hop
    and its bytes: the system's per-call latency plus its per-peer latency for each other die of the group
    (a multi-die package's dies run side by side, each addressing every other die). CloudMatrix 384's
    fused operators (B07: dispatch 116 us at EP8 and 152 us at EP256 for 128 tokens a die, when its UB
    link moves those bytes in 27-46 us) take most of their time here; 0 on systems that state none."""
    peers = np.maximum(np.asarray(n, dtype=float) * system.chip.dies - 1.0, 0.0)
    return system.fused_all_to_all_latency_s + peers * system.fused_all_to_all_peer_latency_s


def collective_s(kind: str, S: Num, n: Num, system: System, efficiency: float, fanout: Num | None = None,
                 domain_ranks: Num | None = None, low_latency: Num = False) -> Num:
    """[s] of one collective over n ranks placed on consecutive chips of `system`.

    Inside one scale-up domain it runs on the scale-up fabric; beyond it, hierarchically: the
    domain part on scale-up links, the rest over each chip's scale-out NIC. An all-to-all with a
    `fanout` sends each token to that many random destinations (see `ops.Collective`).
    domain_ranks: ranks of the group that share one scale-up domain (default: the domain's chips,
    i.e. consecutive chips); a group strided over the chips (e.g. data-parallel peers spaced by
    tp x cp) has fewer, down to 1 when every peer sits in another domain.
    """
    if not isinstance(n, np.ndarray) and not isinstance(S, np.ndarray) and (n <= 1 or S <= 0):
        return 0.0  # one rank, or nothing to send: no collective runs
    n = np.maximum(np.asarray(n, dtype=float), 1.0)
    S = np.asarray(S, dtype=float)
    d = (float(system.scale_up_domain_chips) if domain_ranks is None
         else np.maximum(np.asarray(domain_ranks, dtype=float), 1.0))
    switched = system.scale_up_topology in ("switch", "clos", "mesh")
    d_eff = np.minimum(n, d)
    # the ranks of one domain reach their share of a full mesh's links (mesh_link_share; 1 on other fabrics)
    up_bw = max(system.scale_up_bytes_per_s, system.scale_out_bytes_per_s) * mesh_link_share(system, d_eff) \
        * efficiency
    out_bw = max(system.scale_out_bytes_per_s, 1.0) * efficiency
    up_lat, out_lat = system.scale_up_latency_s, system.scale_out_latency_s
    domains = n / d_eff
    if kind == "all_to_all" and fanout is not None:
        # tokens to `fanout` experts: remote destination ranks inside the domain, and one copy per
        # remote domain across scale-out, forwarded inside it (DeepEP's normal kernels, after their notify)
        ranks = expected_distinct(fanout, n)
        inner_bytes = S * ranks * (n - 1.0) / n
        forwarded = out_lat + system.normal_all_to_all_notify_s + np.maximum(
            S * expected_distinct(fanout, domains) * (domains - 1.0) / domains / out_bw,
            S * ranks * (d_eff - 1.0) / n / up_bw)
        # low-latency kernels: one copy per (token, expert), remote ones straight over scale-out
        direct = out_lat + np.maximum(S * fanout * (n - d_eff) / n / out_bw, S * fanout * (d_eff - 1.0) / n / up_bw)
        t = np.where(n <= d, _flat_s("all_to_all", inner_bytes * n / np.maximum(n - 1.0, 1.0), n, up_bw, up_lat,
                                     switched) + fused_overhead_s(system, n),
                     np.where(low_latency, direct, forwarded))
        return np.where((n > 1) & (S > 0), t, 0.0)
    inner = _flat_s(kind, S, n, up_bw, up_lat, switched)
    # across domains: d chips per domain talk inside, n/d domains over scale-out
    if kind == "all_reduce":
        outer = (2.0 * (up_lat + (d_eff - 1.0) / d_eff * S / up_bw)
                 + ring_all_reduce_s(S / d_eff, domains, out_bw, out_lat))
    elif kind in ("all_gather", "reduce_scatter"):
        outer = up_lat + (d_eff - 1.0) / d_eff * S / up_bw + ring_all_gather_s(S, domains, out_bw, out_lat) / d_eff
    elif kind == "all_to_all":
        outer = out_lat + np.maximum((n - d_eff) / n * S / out_bw, (d_eff - 1.0) / n * S / up_bw)
    else:
        outer = out_lat + S / out_bw
    t = np.where(n <= d, inner, outer)
    return np.where((n > 1) & (S > 0), t, 0.0)


def slice_stride_ranks(system: System, slices: Num) -> Num:
    """Ranks of an expert-parallel group that share one scale-up domain when each is `slices` consecutive chips
    (expert-TP slices): domain / slices, at least 1 (slices wider than a domain put every peer in another)."""
    return np.maximum(np.floor(system.scale_up_domain_chips / np.asarray(slices, dtype=float)), 1.0)


def sliced_all_to_all_s(S: Num, n: Num, slices: Num, system: System, efficiency: float, fanout: Num,
                        low_latency: Num = False) -> Num:
    """[s] of an MoE dispatch (or combine) over n expert-parallel ranks of `slices` expert-TP slices each.

    The ranks sit `slices` chips apart, the slices of one expert on consecutive chips: SGLang's rank order
    (python/sglang/srt/distributed/parallel_state.py, initialize_model_parallel: moe_ep groups
    range(st, en, moe_tp_size)) and Megatron-Core's, which training prices with the same stride. The all-to-all runs
    over the n ranks with domain / slices of them in each domain (`slice_stride_ranks`), so EP 8 x ETP 2 on two
    8-chip systems sends each token's copies to 4 ranks in its own system and 4 in the other; then each rank
    all-gathers what its slices received, one copy per destination rank (S x expected_distinct(fanout, n) each), to
    all `slices` of them (a combine reduce-scatters their partial sums first: the same bytes and time). TensorRT-LLM
    orders the other way (mapping.py: moe_ep_rank = tp_rank % moe_ep_size), which keeps that all-to-all inside a
    system and puts the slices' gather across systems instead.
    """
    a2a = collective_s("all_to_all", S, n, system, efficiency, fanout, domain_ranks=slice_stride_ranks(system, slices),
                       low_latency=low_latency)
    received = where(n > 1, S * expected_distinct(fanout, n), 0.0)  # no expert-parallel peers: no all-to-all
    return a2a + collective_s("all_gather", received * slices, slices, system, efficiency)


def _sliced(slices: float) -> str:
    """What an explanation adds for an all-to-all whose experts are sliced: ', gathered over 2 expert-TP slices'."""
    return f", gathered over {slices:g} expert-TP slices" if slices > 1 else ""


def collective_algorithm(kind: str, S: float, n: float, system: System, efficiency: float,
                         fanout: float | None = None, low_latency: bool = False, slices: float = 1.0) -> str:
    """The name of the algorithm `collective_s` (with `slices`: sliced_all_to_all_s) prices a collective with (for
    explanations)."""
    if n <= 1 or S <= 0:
        return "none"
    switched = system.scale_up_topology in ("switch", "clos", "mesh")
    per_domain = float(slice_stride_ranks(system, slices)) if kind == "all_to_all" and fanout else \
        float(system.scale_up_domain_chips)
    if n > per_domain and kind == "all_to_all" and fanout and low_latency:
        return f"low-latency all-to-all (each token's {fanout:g} expert copies sent straight to their ranks, " \
               f"{n / per_domain:g} domains over scale-out{_sliced(slices)})"
    if n > per_domain:
        return f"hierarchical ({kind.replace('_', '-')} inside {system.scale_up_domain_chips}-chip domains, " \
               f"scale-out between {n / per_domain:g}{_sliced(slices) if fanout else ''})"
    if kind == "all_reduce":
        bw = max(system.scale_up_bytes_per_s, system.scale_out_bytes_per_s) * mesh_link_share(system, n) * efficiency
        lat = system.scale_up_latency_s
        if switched:
            return "one-shot" if one_shot_all_reduce_s(S, n, bw, lat) <= two_shot_all_reduce_s(S, n, bw, lat) \
                else "two-shot (reduce-scatter + all-gather)"
        return "ring" if ring_all_reduce_s(S, n, bw, lat) <= tree_all_reduce_s(S, n, bw, lat) else "double binary tree"
    if kind == "all_to_all":
        fused = (f", fused: +{fused_overhead_s(system, n) * 1e6:.0f} us per call"
                 if fanout and system.fused_all_to_all_latency_s + system.fused_all_to_all_peer_latency_s else "")
        return "direct all-to-all" + (f" (each token to {fanout:g} experts{_sliced(slices)}{fused})" if fanout else "")
    return {"all_gather": "direct all-gather" if switched else "ring all-gather",
            "reduce_scatter": "direct reduce-scatter" if switched else "ring reduce-scatter",
            "send_recv": "point-to-point"}[kind]


def price_collective(c: Collective, system: System, cal: Calibration) -> tuple[Cost, Num]:
    """(cost of `c.count` runs of a collective, the part of it that may overlap computation) [s]."""
    if c.fanout is not None and np.any(np.asarray(c.slices) > 1):
        t = c.count * sliced_all_to_all_s(c.bytes, c.group, c.slices, system, cal.collective_efficiency, c.fanout,
                                          c.low_latency)
    else:
        t = c.count * collective_s(c.kind, c.bytes, c.group, system, cal.collective_efficiency, c.fanout,
                                   low_latency=c.low_latency)
    moved = where(c.group > 1, c.bytes, 0.0)
    overlappable = t * c.hidden
    return Cost(communication_s=t - overlappable, comm_bytes=c.count * moved), overlappable


# compute units an overlapped expert all-to-all holds while it runs (normal, not low-latency, kernels: these copy
# through the cores; DeepEP's low-latency kernels receive by RDMA without holding SMs). cuda: DeepEP's normal
# kernels run on 20 SMs (deep_ep.Buffer.num_sms = 20, the default SGLang keeps; DeepSeek-V3 technical report,
# arXiv 2412.19437, Sec. 3.2.2: "only 20 SMs are sufficient to fully utilize the bandwidths of IB and NVLink"),
# out of the chip's own count (Chip.compute_units: 132 on an H100, 78 on an H20, 148 on a B200). Other stacks,
# and chips whose count the catalog does not state: none (the collective hides at no cost to the kernels beside it).
OVERLAP_UNITS: dict[str, float] = {"cuda": 20.0}


def overlap_unit_share(chip: Chip) -> float:
    """Share of `chip`'s compute units an overlapped (normal-kernel) all-to-all occupies; 0 where unpublished."""
    units = OVERLAP_UNITS.get(chip.software_stack, 0.0)
    if not units or not chip.compute_units:
        return 0.0
    return min(units / chip.compute_units, 1.0)


# The two-microbatch schedule of an MoE layer whose expert all-to-all overlaps computation, as DeepSeek's prefill
# profile runs it (github.com/deepseek-ai/profile-data, README and prefill figure; SGLang's two-batch overlap
# yields at the same points: attention, dispatch, experts, combine). Per layer the compute stream runs microbatch
# 1's attention (A), microbatch 0's shared experts (S, of the layer before), 0's attention, 1's routed experts (M),
# 0's routed experts, 1's shared experts; the communication stream 0's combine (C, of the layer before), 1's
# dispatch (D), 0's dispatch, 1's combine. A microbatch's dispatch waits for its attention, its experts for its
# dispatch, its combine for its experts and its next attention for its combine. In steady state a layer takes
# the largest cycle mean of that event graph (max-plus algebra): each row below is one of its elementary cycles
# that no other dominates, as counts of one microbatch's (A, S, M, D, C) per layer crossed. The first two are the
# compute and the communication stream; (1, 0, 1, 0, 2) is 0's combine, 0's attention, 1's experts (queued behind
# it on the compute stream), 1's combine, before 0's next combine can start: where compute and communication take
# about as long, this chain, not either stream, sets the pace. Fed the per-layer kernel times of DeepSeek's
# profile as LMSYS tabulates them (blog 2025-05-05, 'Prefill Time Breakdown': attention 7.65, shared 0.63,
# experts 7.48, dispatch 5.8, combine 9.65 ms per microbatch), it gives 34.4 ms a layer against the profile's
# 34.6 ms, where the larger stream alone gives 31.5 ms.
TBO_CYCLES: tuple[tuple[int, int, int, int, int], ...] = (
    (2, 2, 2, 0, 0), (0, 0, 0, 2, 2), (1, 0, 1, 0, 2), (1, 0, 2, 0, 1), (0, 0, 1, 1, 2), (0, 0, 1, 2, 1),
    (0, 0, 2, 1, 1), (1, 0, 0, 1, 2), (1, 0, 0, 2, 1), (1, 1, 1, 2, 0), (1, 1, 2, 1, 0), (2, 1, 0, 1, 1),
    (2, 1, 1, 0, 1), (2, 2, 1, 1, 0))
# kernels of an MoE layer's routed experts and of its shared experts (graph's op names); the rest of a layer's
# kernels run on the attention side of the schedule
EXPERT_KERNELS = ("expert_up", "expert_down", "moe_permute")
SHARED_KERNELS = ("shared_up", "shared_down")


def two_batch_layer_s(attention_s: Num, shared_s: Num, experts_s: Num, dispatch_s: Num, combine_s: Num) -> Num:
    """[s] one MoE layer in steady state under the two-microbatch overlap (TBO_CYCLES), given each part's time for
    the layer's whole batch [s]; each microbatch takes half. A = M = 4 ms, D = 2 ms, C = 10 ms for the batch (2, 2,
    1, 5 ms a microbatch): compute 8 ms, communication 12 ms, but 0's combine, 0's attention, 1's experts and 1's
    combine follow one another: 5 + 2 + 2 + 5 = 14 ms a layer."""
    parts = [np.asarray(x, dtype=float) / 2.0 for x in (attention_s, shared_s, experts_s, dispatch_s, combine_s)]
    return functools.reduce(np.maximum, [sum(k * p for k, p in zip(cycle, parts) if k) for cycle in TBO_CYCLES])


def _values(cost: Cost) -> tuple[Num, ...]:
    """A cost's fields in their order (faster than dataclasses.astuple, which copies each value)."""
    return (cost.compute_s, cost.memory_s, cost.communication_s, cost.overhead_s, cost.flops, cost.bytes,
            cost.comm_bytes)


def _kernel_s(cost: Cost) -> Num:
    return cost.compute_s + cost.memory_s


def price_step(step: DeviceStep, system: System, cal: Calibration, kernel_overhead_s: float | None = None) -> Cost:
    """Everything one device does in a step: kernels and collectives one after another, except
    collectives that overlap computation, which cost only what the kernels cannot hide.

    An overlapped normal-kernel all-to-all of Hn seconds holds a share f of the compute units
    (`overlap_unit_share`), so the K seconds of kernels beside it lose f x Hn of their rate. An MoE step
    whose expert dispatch and combine overlap (normal kernels) runs its n MoE layers as two microbatches
    (two_batch_layer_s): n layers at the schedule's pace, each kernel in it for up to n of its runs and slowed
    by the same f x Hn in all, the rest of the kernels alone. Any other overlapped collective (or low-latency
    kernels, which run no such schedule) takes max(H, K + f x Hn) for H seconds of overlappable collectives."""
    priced = [(k, price_kernel(k, system.chip, cal, kernel_overhead_s)) for k in step.kernels]
    parts = [cost for _, cost in priced]
    overlappable: Num = 0.0
    held: Num = 0.0
    hidden_of: dict[str, Num] = {}
    layers: Num = 0.0
    low_latency: Num = False
    for c in step.collectives:
        cost, hidden = price_collective(c, system, cal)
        parts.append(cost)
        overlappable = overlappable + hidden
        if c.kind == "all_to_all":
            held = held + where(c.low_latency, 0.0, hidden)
            hidden_of[c.name] = hidden_of.get(c.name, 0.0) + hidden
            if c.name == "moe_dispatch":
                layers = layers + where(hidden > 0, c.count, 0.0)
                low_latency = np.asarray(low_latency, dtype=bool) | np.asarray(c.low_latency, dtype=bool)
    total = Cost(*(sum(column) for column in zip(*(_values(p) for p in parts))))
    taxed = overlap_unit_share(system.chip) * held
    kernels_s = total.compute_s + total.memory_s
    extra = overlappable - kernels_s
    extra = (max(extra, taxed) if not isinstance(extra, np.ndarray) and not isinstance(taxed, np.ndarray) else
             np.maximum(extra, taxed))  # max(H, K + f Hn) - K
    if "moe_dispatch" in hidden_of and "moe_combine" in hidden_of:
        n = np.maximum(layers, 1e-30)
        side = {"attention": 0.0, "shared": 0.0, "experts": 0.0}
        for kernel, cost in priced:
            runs = np.minimum(kernel.count, layers)  # runs of this kernel inside the overlapped layers
            per_layer = np.where(runs > 0, _kernel_s(cost) / np.maximum(kernel.count, 1e-30) * runs / n, 0.0)
            which = ("experts" if kernel.name in EXPERT_KERNELS else "shared" if kernel.name in SHARED_KERNELS
                     else "attention")
            side[which] = side[which] + per_layer
        inside = (side["attention"] + side["shared"] + side["experts"]) * layers
        slow = 1.0 + taxed / np.maximum(inside, 1e-30)  # the f x Hn the units lose, spread over these kernels
        pipeline = layers * two_batch_layer_s(side["attention"] * slow, side["shared"] * slow, side["experts"] * slow,
                                              hidden_of["moe_dispatch"] / n, hidden_of["moe_combine"] / n)
        other = overlappable - hidden_of["moe_dispatch"] - hidden_of["moe_combine"]
        scheduled = np.maximum(pipeline - inside, taxed) + np.maximum(other - (kernels_s - inside), 0.0)
        runs_schedule = (layers > 0) & (side["experts"] > 0) & ~np.asarray(low_latency, dtype=bool)
        extra = np.where(runs_schedule, scheduled, extra)
    return total + Cost(communication_s=extra)
