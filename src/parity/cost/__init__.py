"""Prices kernels on a chip (roofline with measured efficiencies) and collectives on a system's links.

A kernel takes max(FLOPs / achieved math rate, bytes / achieved bandwidth) plus a fixed
overhead; a collective takes the time of its algorithm (ring, tree, one-shot, direct all-to-all,
hierarchical across scale-up domains). Times add as `Cost` records.
"""

from parity.cost.collectives import (collective_algorithm, collective_s, direct_all_to_all_s, fused_overhead_s,
                                     mesh_link_share, one_shot_all_reduce_s, price_collective, ring_all_gather_s,
                                     ring_all_reduce_s, slice_stride_ranks, sliced_all_to_all_s, tree_all_reduce_s,
                                     two_shot_all_reduce_s)
from parity.cost.formats import emulation, emulation_note, math_unit, native_format, same_rate_note
from parity.cost.kernels import FP8_ATTENTION_SPEEDUP, HEAD_DIM_64_ATTENTION_SCALE, Cost, head_dim_scale, price_kernel
from parity.cost.overlap import (EXPERT_KERNELS, OVERLAP_UNITS, TBO_CYCLES, overlap_unit_share, price_step,
                                 two_batch_layer_s)

__all__ = ["Cost", "math_unit", "emulation_note", "same_rate_note", "emulation", "native_format", "head_dim_scale",
           "price_kernel",
           "price_collective", "price_step", "sliced_all_to_all_s", "slice_stride_ranks",
           "collective_algorithm", "ring_all_reduce_s", "tree_all_reduce_s", "one_shot_all_reduce_s",
           "two_shot_all_reduce_s", "direct_all_to_all_s",
           "ring_all_gather_s", "collective_s", "mesh_link_share", "OVERLAP_UNITS", "overlap_unit_share",
           "TBO_CYCLES", "two_batch_layer_s", "EXPERT_KERNELS",
           "fused_overhead_s", "FP8_ATTENTION_SPEEDUP", "HEAD_DIM_64_ATTENTION_SCALE"]
