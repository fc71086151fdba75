"""Parallel layouts, and the sharding that turns logical ops into per-device kernels and collectives.

A serving worker has tp x attn_dp x pp chips: attention heads split `tp` ways inside each of
`attn_dp` data-parallel groups (each with its own sequences), layers split into `pp` stages, and
the MoE layers spread over the same tp x attn_dp chips as moe_tp (slices of each expert) x
moe_ep (whole experts). Layout sizes may be numpy arrays when many layouts are priced at once.
Number formats in `precision`, layouts and their split rules in `layout`, per-device kernels in `sharding`.
"""

from parity.plan.layout import (Layout, LayoutGrid, Shard, check_expert_split, check_pipeline_split,
                                check_tensor_split)
from parity.plan.precision import FP32_SERVED_AS, Precision, served_format
from parity.plan.sharding import (LOW_LATENCY_TOKENS, DeviceStep, device_step, moe_routes_share, moe_scatter,
                                  weight_matrices_per_device)

__all__ = ["Layout", "LayoutGrid", "Precision", "Shard", "device_step", "weight_matrices_per_device", "DeviceStep",
           "check_tensor_split", "check_expert_split", "check_pipeline_split", "moe_scatter", "moe_routes_share",
           "LOW_LATENCY_TOKENS", "served_format", "FP32_SERVED_AS"]
