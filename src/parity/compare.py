"""Side-by-side comparison of systems on one model: spec ratios against a baseline, and predicted
prefill and decode throughput per chip at a time-per-output-token target, each system in its
best layout and in the best number format its chips run natively.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from parity import catalog
from parity.cost import math_unit
from parity.dtypes import format_named
from parity.engine import EngineProfile
from parity.errors import InfeasiblePlan
from parity.hardware import Chip, System
from parity.model import Model
from parity.plan import Layout, Precision
from parity.serving import decode_throughput_at, engine_deployment, prefill_throughput
from parity.step import deployment_memory

__all__ = ["DEFAULT_SYSTEMS", "DEFAULT_MODELS", "Comparison", "best_precision", "candidate_layouts", "compare",
           "spec_ratios"]

DEFAULT_SYSTEMS = ("hgx-h20", "rtx-pro-6000d-server", "hgx-h800", "hgx-h100", "hgx-h200", "hgx-b200",
                   "atlas-800-a2", "atlas-800-a3", "mi300x-platform")
DEFAULT_MODELS = ("llama-3.1-70b", "deepseek-r1")

# narrowest first: the format a deployment uses if the chip runs it natively
_WEIGHT_PREFERENCE = ("nvfp4", "mxfp4", "fp8", "int8", "bf16", "fp16")


def best_precision(model: Model, chip: Chip, weights: str | None = None) -> Precision:
    """The narrowest weight format the chip multiplies natively (or `weights` if given), with an FP8
    KV cache where the chip has FP8 and bf16 otherwise. Block-scaled FP8 checkpoints stay block-scaled."""
    def native(name: str) -> bool:
        try:
            return not math_unit(format_named(name), chip)[1]
        except InfeasiblePlan:
            return False

    if weights is None:
        weights = next(name for name in _WEIGHT_PREFERENCE if native(name))
        if weights == "fp8" and "fp8_block" in (model.weight_format, model.expert_weight_format):
            weights = "fp8_block"
    kv = "fp8" if native("fp8") else "bf16"
    return Precision(weights=weights, expert_weights=weights, kv_cache=kv)


def candidate_layouts(model: Model, chips: int) -> list[Layout]:
    """Layouts of one worker on `chips` chips that divide the model: every tensor-parallel degree,
    and for MoE models attention data parallelism with experts spread over the same chips."""
    out = []
    for tp in (t for t in (1, 2, 4, 8, 16, 32, 64) if chips % t == 0):
        dp = chips // tp
        options = [Layout(tp=tp, attn_dp=dp)] if "moe" in model.features else ([Layout(tp=tp)] if dp == 1 else [])
        for layout in options:
            try:
                out.append(layout.check(model))
            except InfeasiblePlan:
                continue
    return out


def spec_ratios(system: System, baseline: System) -> dict[str, float]:
    """Per-chip datasheet ratios against a baseline: bf16 and 8-bit math, memory, bandwidth, power."""
    a, b = system.chip, baseline.chip

    def eight(c: Chip) -> float:
        return max(c.peak("fp8"), c.peak("int8"))

    def over(x: float, y: float) -> float:
        return x / y if y else float("nan")

    return {"bf16": over(a.peak("bf16"), b.peak("bf16")), "eight_bit": over(eight(a), eight(b)),
            "memory": over(a.memory_bytes, b.memory_bytes),
            "bandwidth": over(a.memory_bytes_per_s, b.memory_bytes_per_s), "power": over(a.tdp_w, b.tdp_w)}


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparison:
    """One system on one model: the chosen format and layout, throughputs, ratios and caveats."""

    system: str
    chip: str
    model: str
    weights: str
    kv_cache: str
    layout: str
    chips: int
    fits: bool
    prefill_tokens_per_s_per_chip: float
    decode_tokens_per_s_per_chip: float
    decode_batch: float
    spec_ratios: dict[str, float]
    decode_ratio: float = float("nan")
    prefill_ratio: float = float("nan")
    note: str = ""
    calibrated: bool = False
    assumptions: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _evaluate(system: System, model: Model, profile: EngineProfile, tpot_s: float, isl: int, osl: int,
              weights: str | None) -> Comparison:
    chip = system.chip
    cal = catalog.calibration(chip)
    precision = best_precision(model, chip, weights)
    common = {"system": system.id, "chip": chip.id, "model": model.name, "weights": precision.weights,
              "kv_cache": precision.kv_cache, "calibrated": cal.measured}
    best: tuple[float, float, float, Layout] | None = None
    shortfall = None
    for layout in candidate_layouts(model, min(system.chips, system.scale_up_domain_chips)):
        dep = engine_deployment(model, system, layout, precision, cal, profile)
        rate, batch = decode_throughput_at(dep, profile, tpot_s, isl + osl / 2, isl + osl)
        if rate <= 0:
            mem = deployment_memory(dep, 1, isl + osl, profile.max_num_tokens, 1.0 - profile.kv_memory_fraction)
            if not mem.fits:
                gap = -float(mem.free_bytes)
                shortfall = gap if shortfall is None else min(shortfall, gap)
            continue
        prefill = float(prefill_throughput(dep, profile, isl))
        per_chip = rate / layout.chips
        if best is None or per_chip > best[0]:
            best = (per_chip, prefill / layout.chips, batch, layout)
    notes = (f"engine profile {profile.id}", f"workload {isl} in / {osl} out, TPOT target {tpot_s * 1e3:g} ms",
             "decode: largest batch within the TPOT target whose KV cache fits; prefill: steps filled with prompts")
    if best is None:
        why = (f"does not fit by {shortfall / 1e9:.1f} GB per chip" if shortfall is not None
               else f"no layout meets TPOT {tpot_s * 1e3:g} ms")
        return Comparison(**common, layout="-", chips=system.chips, fits=False, prefill_tokens_per_s_per_chip=0.0,
                          decode_tokens_per_s_per_chip=0.0, decode_batch=0.0, spec_ratios={}, note=why,
                          assumptions=notes)
    per_chip, prefill, batch, layout = best
    note = "" if cal.measured else "uncalibrated chip (prior efficiencies)"
    return Comparison(**common, layout=str(layout), chips=layout.chips, fits=True,
                      prefill_tokens_per_s_per_chip=prefill, decode_tokens_per_s_per_chip=per_chip,
                      decode_batch=batch, spec_ratios={}, note=note, assumptions=notes)


def compare(systems: Sequence[System], model: Model, profile: EngineProfile, tpot_s: float = 0.05,
            isl: int = 1024, osl: int = 1024, weights: str | None = None,
            baseline: System | None = None) -> list[Comparison]:
    """Every system on `model`, with ratios to `baseline` (default: the first system)."""
    if not systems:
        raise InfeasiblePlan("compare needs at least one system")
    base = baseline or systems[0]
    rows = [_evaluate(system, model, profile, tpot_s, isl, osl, weights) for system in systems]
    ref = next((r for r in rows if r.system == base.id), rows[0])
    out = []
    for system, row in zip(systems, rows):
        decode = (row.decode_tokens_per_s_per_chip / ref.decode_tokens_per_s_per_chip
                  if row.fits and ref.fits and ref.decode_tokens_per_s_per_chip else float("nan"))
        prefill = (row.prefill_tokens_per_s_per_chip / ref.prefill_tokens_per_s_per_chip
                   if row.fits and ref.fits and ref.prefill_tokens_per_s_per_chip else float("nan"))
        out.append(Comparison(**{**asdict(row), "spec_ratios": spec_ratios(system, base), "decode_ratio": decode,
                                 "prefill_ratio": prefill}))
    return out
