"""A serving case's number formats resolved against its chip and engine (`Precision`, the notes they raise) and
the KV-cache format an engine stores by default."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from parity.cost import emulation, math_unit
from parity.dtypes import CHIP_NATIVE, format_named, format_on
from parity.engine import EngineProfile
from parity.errors import InfeasiblePlan, ParityError
from parity.graph import MLA_DECODE
from parity.hardware import Chip, System, chip_text
from parity.model import Model
from parity.plan import FP32_SERVED_AS, Precision, served_format
from parity.predict.columns import _cell


def _own_sides(row: Mapping[str, object], model: Model, native: Collection[str]) -> tuple[bool, bool]:
    """Whether the (dense, routed-expert) weights are the checkpoint's own: the row names no format for them
    (weights; moe_weights, or weights, for the experts) or names the one the checkpoint stores (`--weights int4` on
    an int4 AWQ checkpoint). Another format is the checkpoint re-quantized, every matrix of that side in it."""
    def own(named: str, stored: str) -> bool:
        return not named or format_on(named, native).name == format_named(stored).name
    return (own(_cell(row, "weights"), model.weight_format),
            own(_cell(row, "moe_weights") or _cell(row, "weights"), model.expert_weight_format))


def _unquantized(row: Mapping[str, object], model: Model, native: Collection[str]) -> frozenset[str]:
    """The matrices the checkpoint leaves unquantized (Model.unquantized_matrices) on each side whose weights are
    the checkpoint's own (_own_sides); on a side re-quantized to another format its skip list does not apply."""
    experts = {m.name for layer in model.layers for m in layer.matrices(model.hidden_size) if m.expert}
    dense_own, experts_own = _own_sides(row, model, native)
    return frozenset(name for name in model.unquantized_matrices if (experts_own if name in experts else dense_own))


def _precision(row: Mapping[str, object], model: Model, system: System, engine: EngineProfile) -> tuple[Precision, str]:
    """The row's formats; those it leaves empty are the checkpoint's own as an engine loads them (an fp32 checkpoint
    in 16 bits, plan.served_format), its skip list's matrices bf16 beside them (_unquantized)."""
    weights = _cell(row, "weights") or served_format(model.weight_format)
    experts = _cell(row, "moe_weights") or (_cell(row, "weights") or served_format(model.expert_weight_format))
    native = system.chip.native  # a bare fp4 reads as the chip's own 4-bit format (dtypes.format_on)
    for name in (weights, experts):
        math_unit(format_on(name, native), system.chip)  # raises if the chip cannot run it at all
    kv = _cell(row, "kv")
    dense_own = not _cell(row, "weights")  # the checkpoint's format as loaded: an fp32 one cast (served_format)
    experts_own = dense_own and not _cell(row, "moe_weights")
    cast = (dense_own and weights != model.weight_format) or (experts_own and experts != model.expert_weight_format)
    note = f"weights {FP32_SERVED_AS}: the fp32 checkpoint cast as the engines' dtype auto does" if cast else ""
    # fp4 names one format per chip: say which it read as here, for the weights and the KV cache
    read = {(name, role): format_on(name, native).name
            for name, role in ((_cell(row, "weights"), "weights"), (_cell(row, "moe_weights"), "weights"),
                               (kv, "KV cache")) if name.strip().lower() in CHIP_NATIVE}
    note = "; ".join(n for n in (note, *(f"{name} {role} read as {fmt}, " + (
        "the chip's own" if fmt in native else f"the chip having none of {', '.join(CHIP_NATIVE[name.lower()])}")
        for (name, role), fmt in read.items())) if n)
    if not kv:
        kv = engine_kv(engine, system.chip, weights, experts)
        note = "; ".join(n for n in (note, f"KV cache {kv} (engine default)") if n)
    try:
        attention = format_named(_cell(row, "attention_format") or engine.attention_format)
    except ParityError as err:
        raise InfeasiblePlan(f"attention_format: {err}") from err
    if math_unit(attention, system.chip)[1]:
        raise InfeasiblePlan(f"attention_format {attention.name}: {chip_text(system.chip)} has no {attention.name} "
                             f"math (native: {', '.join(sorted(system.chip.native))})")
    if attention.name != "bf16":
        note = "; ".join(n for n in (note, f"attention math in {attention.name}") if n)
    mla_decode = (_cell(row, "mla_decode") or engine.mla_decode).lower()
    if mla_decode not in MLA_DECODE:
        raise InfeasiblePlan(f"mla_decode must be one of {', '.join(MLA_DECODE)}, got {mla_decode!r}")
    mla = "mla" in model.features
    phase = _cell(row, "phase") or "both"  # a fixed-batch step says only what prices its own phase
    if mla_decode != "absorbed" and mla and phase != "prefill":
        note = "; ".join(n for n in (note, f"MLA decode {mla_decode} (K/V expanded per head each step)") if n)
    if mla and format_on(kv, native).math == "fp8" and attention.math != "fp8" and phase != "decode":
        # ops.Attention.in_kv_format: prompt attention alone
        note = "; ".join(n for n in (note, "MLA prompt attention in fp8 over the fp8 KV cache (its inputs cast "
                                           "first)") if n)
    attention_weights = _cell(row, "attention_weights")
    if attention_weights:
        try:
            projections = format_on(attention_weights, native)
        except ParityError as err:
            raise InfeasiblePlan(f"attention_weights: {err}") from err
        math_unit(projections, system.chip)  # raises if the chip cannot run it at all
        attention_weights = projections.name
        note = "; ".join(n for n in (note, f"attention projections in {attention_weights}") if n)
    unquantized = _unquantized(row, model, native)
    if unquantized:
        note = "; ".join(n for n in (note, f"{', '.join(sorted(unquantized))} in bf16 (the checkpoint's skip list)")
                         if n)
    dropped = model.unquantized_matrices - unquantized
    if dropped:  # a format the checkpoint does not store: every matrix of that side re-quantized to it
        note = "; ".join(n for n in (note, f"the checkpoint's skip list not applied ({', '.join(sorted(dropped))} "
                                           "re-quantized to the weight format named, as the rest)") if n)
    return Precision(weights=format_on(weights, native).name, expert_weights=format_on(experts, native).name,
                     kv_cache=format_on(kv, native).name, attention=attention.name, mla_decode=mla_decode,
                     attention_weights=attention_weights, unquantized=unquantized), note


def engine_kv(engine: EngineProfile, chip: Chip, weights: str, experts: str) -> str:
    """The KV-cache format an engine stores by default (serve without --kv): fp8 where the engine quantizes its KV
    cache (fp8_kv_cache), the weights or experts are 8-bit or narrower and the chip has FP8 math; else bf16."""
    native = chip.native
    narrow = format_on(weights, native).bits <= 8 or format_on(experts, native).bits <= 8
    fp8_native = not math_unit(format_named("fp8"), chip)[1] if "fp8" in native else False
    return "fp8" if engine.fp8_kv_cache and narrow and fp8_native else "bf16"


def _emulated(precision: Precision, system: System) -> tuple[str, ...]:
    """What the system's chip runs the weights and the experts' weights on where it has no math unit of their own
    format ('fp8 emulated on bf16 (ascend-910b has no FP8 math)'; cost.emulation), once a format; () where native."""
    return tuple(filter(None, (emulation(name, system.chip)[1]
                               for name in dict.fromkeys((precision.weights, precision.expert_weights)))))
