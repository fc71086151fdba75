"""What a layout search runs over: the precision it deploys (best_precision), the worker sizes and loads it tries,
and every layout of each worker size (layout_grid, grid_of_sizes)."""

from __future__ import annotations

import numpy as np

from parity.cost import math_unit
from parity.dtypes import format_named, format_on
from parity.errors import InfeasiblePlan
from parity.hardware import Chip, System
from parity.model import Model
from parity.plan import Layout, LayoutGrid, Precision
from parity.units import counted

DEFAULT_CONCURRENCY = (1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072,
                       4096)
MAX_WORKER_CHIPS = 128  # serving workers searched up to this many chips (or the scale-up domain)

# narrowest first: the format a deployment uses if the chip runs it natively
_WEIGHT_PREFERENCE = ("nvfp4", "mxfp4", "fp8", "int8", "bf16", "fp16")


def best_precision(model: Model, chip: Chip, weights: str | None = None, kv: str | None = None) -> Precision:
    """The narrowest weight format the chip multiplies natively (or `weights` if given), with an FP8
    KV cache where the chip has FP8 and bf16 otherwise, the best the chip offers where serve stores the engine's
    default (or `kv` if given). Block-scaled FP8 checkpoints stay block-scaled."""
    def native(name: str) -> bool:
        try:
            return not math_unit(format_named(name), chip)[1]
        except InfeasiblePlan:
            return False

    if weights is not None:  # an alias reads as its format's own name (ue8m0: fp8_block; fp4: the chip's own, nvfp4
        weights = format_on(weights, chip.native).name  # or mxfp4), in every row it labels
    else:
        weights = next(name for name in _WEIGHT_PREFERENCE if native(name))
        if weights == "fp8" and "fp8_block" in (model.weight_format, model.expert_weight_format):
            weights = "fp8_block"
    kv = format_on(kv, chip.native).name if kv is not None else "fp8" if native("fp8") else "bf16"
    return Precision(weights=weights, expert_weights=weights, kv_cache=kv)


def _powers_of_two(limit: int) -> list[int]:
    return [1 << i for i in range(limit.bit_length()) if (1 << i) <= limit]


def layout_grid(model: Model, chips: int, pipeline: tuple[int, ...] = (1,)) -> LayoutGrid:
    """Every layout of one worker on exactly `chips` chips that divides the model: tensor parallel
    degrees, attention data parallelism, and for MoE models every split of the experts between
    expert parallelism and expert tensor parallelism."""
    found = []
    moe = "moe" in model.features
    for pp in pipeline:
        if chips % pp:
            continue
        for tp in _powers_of_two(chips // pp):
            if (chips // pp) % tp:
                continue  # every layout uses exactly `chips` chips
            dp = chips // (pp * tp)
            if dp > 1 and not moe:
                continue  # dense models scale out by more workers, not attention DP
            for ep in (_powers_of_two(tp * dp) if moe else [1]):
                layout = Layout(tp=tp, pp=pp, attn_dp=dp, moe_ep=ep, moe_tp=(tp * dp) // ep if moe else 0)
                try:
                    found.append(layout.check(model))
                except InfeasiblePlan:
                    continue
    if not found:
        raise InfeasiblePlan(f"no layout of {counted(chips, 'chip')} divides {model.name}")
    return LayoutGrid.of(found)


def grid_of_sizes(model: Model, sizes: list[int], pipeline: tuple[int, ...]) -> LayoutGrid | None:
    """Every layout of workers of each size in `sizes` (None when no size divides the model)."""
    grids = []
    for size in sizes:
        try:
            grids.append(layout_grid(model, size, pipeline))
        except InfeasiblePlan:
            continue
    if not grids:
        return None
    return LayoutGrid(**{name: np.concatenate([getattr(g, name) for g in grids])
                         for name in ("tp", "pp", "attn_dp", "moe_tp", "moe_ep")})


def worker_sizes(system: System, chips: int | None, max_chips: int | None) -> list[int]:
    """Chips per worker to try: `chips` if given, else powers of two up to the scale-up domain, or up
    to `max_chips` when that exceeds the domain (workers spanning systems over scale-out)."""
    if chips is not None:
        return [chips]
    domain = system.scale_up_domain_chips
    limit = max_chips if max_chips and max_chips > domain else min(domain, max_chips or domain)
    return _powers_of_two(limit)
