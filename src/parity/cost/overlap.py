"""A device's step priced whole: collectives that overlap kernels, the compute units they hold, and the
two-microbatch schedule of an MoE layer whose expert all-to-alls overlap."""

from __future__ import annotations

import functools

import numpy as np

from parity.cost.collectives import price_collective
from parity.cost.kernels import Cost, _values, price_kernel
from parity.hardware import Calibration, Chip, System
from parity.ops import Num, where
from parity.plan import DeviceStep

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
