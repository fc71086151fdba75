"""A worker as an engine runs it: the engine's kernel quality, its version's kernels and its collective latency
applied to the chip calibration and the system."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from parity.engine import EngineHost, EngineKernel, EngineProfile
from parity.errors import expect
from parity.hardware import Calibration, System
from parity.model import Model
from parity.plan import Layout, LayoutGrid, Precision
from parity.step import Deployment

__all__ = ["engine_calibration", "with_kernels", "engine_deployment"]


def engine_calibration(cal: Calibration, profile: EngineProfile) -> Calibration:
    """A chip calibration with an engine's kernel-quality multipliers applied (capped at 1). A grouped-GEMM rate
    measured on the engines' own expert kernels (Calibration.grouped_gemm_efficiency) is kept as measured: the
    multipliers rate an engine's kernels against microbenchmark-calibrated ones."""
    def scaled(value: float, factor: float) -> float:
        return float(min(value * factor, 1.0))
    return dataclasses.replace(
        cal,
        gemm_efficiency={k: scaled(v, profile.gemm_scale) for k, v in cal.gemm_efficiency.items()},
        memory_efficiency=scaled(cal.memory_efficiency, profile.memory_scale),
        grouped_gemm_memory_efficiency=scaled(cal.grouped_gemm_memory_efficiency, profile.memory_scale),
        attention_prefill_efficiency=scaled(cal.attention_prefill_efficiency, profile.attention_scale),
        attention_decode_math_efficiency=(scaled(cal.attention_decode_math_efficiency, profile.attention_scale)
                                          if cal.attention_decode_math_efficiency else 0.0),
        attention_decode_efficiency=scaled(cal.attention_decode_efficiency, profile.memory_scale),
        collective_efficiency=scaled(cal.collective_efficiency, profile.collective_scale),
    )


def with_kernels(cal: Calibration, profile: EngineProfile, kernels: Iterable[EngineKernel], queries_per_kv: int = 0
                 ) -> tuple[Calibration, EngineProfile]:
    """The calibration and profile of an engine version that runs other kernels than the calibrated ones: each
    kernel's efficiency divided by its time ratio (EngineKernel.ratio_for a model with `queries_per_kv` query
    heads per K/V head; 0: the stored ratios; gemm_math_fp8 divides the FP8 unit's GEMM math rate, which expert GEMMs
    without a grouped rate or an expert entry share, moe_expert_gemm the expert GEMMs' math rate and bandwidth,
    moe_expert_gemm_math their math rate alone), and the fixed cost per kernel (the profile's with CUDA graphs, the
    calibration's eager one without) multiplied by the launch ratio (engine.EngineKernel)."""
    ratio = {k.op: k.ratio_for(queries_per_kv) for k in kernels}
    if not ratio:
        return cal, profile
    def slower(value: float, op: str) -> float:
        return float(min(value / ratio.get(op, 1.0), 1.0))
    launch = ratio.get("launch", 1.0)
    decode_math = cal.attention_decode_math_efficiency and slower(cal.attention_decode_math_efficiency,
                                                                  "attention_decode")
    gemm = {k: slower(v, "gemm") for k, v in cal.gemm_efficiency.items()}
    if "gemm_math_fp8" in ratio:  # the FP8 unit's math rate alone: memory-bound projections keep their bandwidth.
        # Expert GEMMs without a grouped rate of their own fall back to this dense rate and move with it unless an
        # expert entry pins them below (SGLang's FlashInfer entry slows them too: pinned, with the whole refit,
        # never-fitted TTFT 17.5 -> 17.8%, measurements README 2026-12-05; kept as fitted)
        gemm["fp8"] = float(min(slower(cal.gemm("fp8"), "gemm") / ratio["gemm_math_fp8"], 1.0))
    grouped = {k: slower(v, "grouped_gemm") for k, v in cal.grouped_gemm_efficiency.items()}
    expert = ratio.get("moe_expert_gemm", 1.0)
    expert_math = expert * ratio.get("moe_expert_gemm_math", 1.0)
    if expert_math != 1.0:  # the expert GEMMs' math rate per math key: the measured grouped rate, else the calibrated
        # dense rate the engine profile gives them (engine_calibration keeps a grouped rate as stated), before any dense
        # GEMM ratio above, so an entry for the dense GEMMs and one for the experts each apply once; bandwidth below
        if cal.grouped_gemm_half_tokens and set(gemm) - set(grouped):
            raise ValueError(f"calibration {cal.id}: moe_expert_gemm needs a grouped rate for every math key")
        dense = {k: min(v * profile.gemm_scale, 1.0) for k, v in cal.gemm_efficiency.items()}
        grouped = {k: float(min((grouped[k] if k in grouped else dense[k]) / expert_math, 1.0))
                   for k in sorted({*gemm, *grouped})}
    cal = dataclasses.replace(
        cal, gemm_efficiency=gemm, grouped_gemm_efficiency=grouped,
        memory_efficiency=slower(cal.memory_efficiency, "gemm"),
        grouped_gemm_memory_efficiency=slower(cal.grouped_gemm_memory_efficiency, "grouped_gemm") / expert,
        attention_prefill_efficiency=slower(cal.attention_prefill_efficiency, "attention_prefill"),
        attention_decode_efficiency=slower(cal.attention_decode_efficiency, "attention_decode"),
        # a calibration without a decode math rate prices decode attention's math at the prefill rate: keep it at
        # the calibrated one where only the prefill kernel changes
        attention_decode_math_efficiency=decode_math or (
            slower(cal.attention_prefill_efficiency, "attention_decode")
            if {"attention_decode", "attention_prefill"} & set(ratio) else 0.0),
        kernel_overhead_s=cal.kernel_overhead_s * launch)
    return cal, dataclasses.replace(profile, kernel_overhead_s=profile.kernel_overhead_s * launch)


def engine_deployment(model: Model, system: System, layout: Layout | LayoutGrid, precision: Precision,
                      calibration: Calibration, profile: EngineProfile, moe_overlap: float | None = None,
                      mtp_tokens: int = 0, mtp_acceptance: float = 0.0,
                      kernels: Iterable[EngineKernel] = (), host: EngineHost | None = None) -> Deployment:
    """A worker as an engine runs it: the engine's kernel quality, overheads and collective latency
    applied to the chip calibration and the system; `kernels`: what the engine's version runs instead of the
    calibrated kernels (with_kernels); `host`: host work the version does in every step beyond the profile's
    step overhead (engine.EngineHost: added per step and per sequence).

    An engine with a fitted collective latency runs its small all-reduces in its own kernels (vLLM's and
    SGLang's custom all-reduce, on CUDA and ROCm alike), and that latency stands on every chip. Without one,
    collectives go through the vendor's library (NCCL, RCCL): the system's link latency times the calibration's
    collective_latency_factor, what the library takes for a small collective over the reference's. A name where a
    record goes (a system's for its System) is refused in one line (InputError)."""
    for name, value, kind, lookup in (("model", model, Model, "catalog.model(name)"),
                                      ("system", system, System, "catalog.system(name)"),
                                      ("precision", precision, Precision, "parity.Precision(...)"),
                                      ("calibration", calibration, Calibration, "catalog.calibration(chip)"),
                                      ("profile", profile, EngineProfile, "catalog.engine(name)")):
        expect(name, value, kind, lookup)
    calibration, profile = with_kernels(calibration, profile, kernels, model.queries_per_kv_head)
    if profile.collective_latency_s is not None:
        system = dataclasses.replace(system, scale_up_latency_s=profile.collective_latency_s)
    elif calibration.collective_latency_factor != 1.0:
        system = dataclasses.replace(
            system, scale_up_latency_s=system.scale_up_latency_s * calibration.collective_latency_factor)
    return Deployment(model=model, system=system, layout=layout, precision=precision,
                      calibration=engine_calibration(calibration, profile),
                      kernel_overhead_s=profile.kernel_overhead_s if profile.cuda_graphs else None,
                      step_overhead_s=profile.step_overhead_s + (host.step_s if host else 0.0),
                      sequence_overhead_s=host.sequence_s if host else 0.0, expert_imbalance=profile.expert_imbalance,
                      moe_overlap=profile.moe_overlap if moe_overlap is None else moe_overlap,
                      normal_all_to_all=profile.normal_all_to_all,
                      prompt_gather_all_reduce=profile.prompt_gather_all_reduce,
                      decode_padded=profile.decode_padded_experts, mtp_tokens=mtp_tokens,
                      mtp_acceptance=mtp_acceptance)
