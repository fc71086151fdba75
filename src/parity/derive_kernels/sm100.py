"""SGLang and TensorRT-LLM on SM100 at DeepSeek's shapes: SGLang's CUTLASS MLA decode (sgl-kernel) and
TensorRT-LLM's DeepGEMM fused MoE, each ratio from its kernel benchmark."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from parity.cost import EXPERT_KERNELS
from parity.derive_kernels.solve import Derived, _solve, with_ratio
from parity.engine import EngineKernel
from parity.plan.layout import Layout
from parity.predict import scenario_from_row
from parity.predict.scenario import deployment
from parity.step import Batch, breakdown


# SGLang's CUTLASS MLA decode (sgl-kernel) on SM100 at DeepSeek's shapes ------------------------------------------

# sgl-project/sglang#6929's sgl-kernel/benchmark/bench_cutlass_mla.py, 'This PR' table of block_size 128 (the last
# one it prints; num_kv_splits -1, which at batch 256 on 148 SMs is one split), 128 heads, bf16, d 576, dv 512, CUDA
# graphs: KV tokens a sequence at batch 256 -> GB/s, counting q + o + the KV cache in 128-token pages
CUTLASS_MLA_GB_PER_S = {2048: 4047.294114, 4096: 4015.363449, 8192: 4124.473260}
CUTLASS_MLA_BATCH, CUTLASS_MLA_HEADS = 256, 128
CUTLASS_MLA_SYSTEMS = ("hgx-b200", "gb200-nvl72")  # the benchmark names no GPU; an SM100 kernel: either


def cutlass_mla_bench_s(context: int) -> float:
    """[s] the benchmark's call at batch 256 and `context` KV tokens: its bytes (q and o of 128 heads, o at dv 512
    over d 576, the KV cache padded to 128-token pages, all bf16) over its GB/s."""
    q = CUTLASS_MLA_BATCH * CUTLASS_MLA_HEADS * 576 * 2
    pages = -(-context // 128)
    kv = CUTLASS_MLA_BATCH * pages * 128 * 576 * 2
    return (q + q * 512 / 576 + kv) / (CUTLASS_MLA_GB_PER_S[context] * 1e9)


def sglang_mla_decode_s(system: str, context: int, ratio: float | None = None) -> float:
    """[s] parity's price of one DeepSeek-V3 layer's MLA decode (absorbed, bf16 KV cache, all 128 heads on the rank:
    attention TP 1) for 256 sequences of `context` KV tokens on `system` with the SGLang profile; `ratio` an
    attention_decode time ratio (None: the calibrated kernel)."""
    row = {"case_id": "x", "model": "deepseek-v3", "system": system, "engine": "sglang", "weights": "fp8_block",
           "kv": "bf16", "mode": "agg", "isl": str(context), "osl": "1", "concurrency": str(CUTLASS_MLA_BATCH),
           "tp": "1", "metric": "tpot_s", "measured": "1", "engine_version": ""}
    s = scenario_from_row(row)
    if ratio is not None:
        s = dataclasses.replace(s, kernels=(EngineKernel(engine="sglang", since=(0,), until=(1,),
                                                         op="attention_decode", time_ratio=ratio),))
    parts = {p.name: p.seconds for p in breakdown(deployment(s, Layout(tp=1)),
                                                  Batch(decode_tokens=CUTLASS_MLA_BATCH, decode_context=context))}
    return parts["mla_decode"] / sum(layer.count for layer in s.model.layers)


def sglang_cutlass_mla() -> Derived:
    """sgl-project/sglang#6929: the CUTLASS MLA decode at batch 256 and 2,048 KV tokens, 4,047.29 GB/s; the ratio
    that makes parity's price of the call (its fixed cost kept) the measured time, on each GPU it may have run on,
    and their mean. The 4,096 and 8,192 points are quoted as checks."""
    solved = {(system, n): _solve(lambda x, system=system, n=n: sglang_mla_decode_s(system, n, x),
                                  cutlass_mla_bench_s(n))
              for system in CUTLASS_MLA_SYSTEMS for n in CUTLASS_MLA_GB_PER_S}
    ratio = sum(solved[(system, 2048)] for system in CUTLASS_MLA_SYSTEMS) / len(CUTLASS_MLA_SYSTEMS)
    prices = "; ".join(f"{system} {sglang_mla_decode_s(system, 2048) * 1e6:.2f} us calibrated, r = "
                       f"{solved[(system, 2048)]:.3f} (4,096: {solved[(system, 4096)]:.3f}, 8,192: "
                       f"{solved[(system, 8192)]:.3f})" for system in CUTLASS_MLA_SYSTEMS)
    return Derived(name="sglang#6929", entries=(("sglang", "0.4.7", "cuda", "attention_decode"),), ratio=ratio,
                   figures=(f"measured {cutlass_mla_bench_s(2048) * 1e6:.2f} us a call at 2,048 KV tokens; {prices}; "
                            f"mean {ratio:.3f}"))


# TensorRT-LLM's DeepGemmFusedMoE on B200 at DeepSeek's shapes, prompt-sized --------------------------------------

# aiconfigurator's B200 table of TensorRT-LLM 1.2.0rc5's fused MoE (ai-dynamo/aiconfigurator @ 095f58a51,
# aic-core/src/aiconfigurator_core/systems/data/b200_sxm/moe/trtllm/1.2.0rc5/moe_perf.parquet; collector
# collector/trtllm/collect_moe.py: create_moe with moe_backend deepgemm, CUDA graphs, the module's forward on one GPU
# holding its expert-parallel share): kernel_source deepgemm, moe_dtype fp8_block, hidden 7,168, intermediate 2,048,
# 256 experts, top 8, balanced routing, moe_tp 1, moe_ep 16 (the smallest expert-parallel size that version's table
# times this kernel at), tokens into the module -> latency [ms]; the prompt-sized points, where the grouped GEMMs run
# at a math rate
DEEPGEMM_MOE_MS = {4096: 0.3322507, 6144: 0.4380640, 8192: 0.5069120, 12288: 0.7052534, 16384: 0.9136373}
DEEPGEMM_MOE_EP = 16


def trtllm_deepgemm_moe_ms(ratios: Mapping[str, float] | None = None) -> dict[int, float]:
    """parity's time [ms] for one DeepSeek-R1 MoE layer's routed experts (both expert GEMMs and the token permute,
    what the module runs between dispatch and combine) at each of DEEPGEMM_MOE_MS's token counts, on a B200 rank of
    an expert-parallel group of DEEPGEMM_MOE_EP, TensorRT-LLM 1.2 with moe_backend deepgemm: the stored entries, or
    `ratios` for them (with_ratio)."""
    row = {"case_id": "x", "model": "deepseek-r1", "system": "hgx-b200", "engine": "trtllm", "weights": "fp8",
           "mode": "agg", "isl": "1024", "osl": "1", "concurrency": "1", "tp": "1", "attn_dp": "8", "moe_ep": "8",
           "moe_backend": "deepgemm", "metric": "tpot_s", "measured": "1", "engine_version": "1.2.0rc6.post3"}
    s = scenario_from_row(row)
    if ratios is not None:
        s = with_ratio(s, ratios)
    ep = DEEPGEMM_MOE_EP
    dep = deployment(s, Layout(tp=1, attn_dp=ep, moe_ep=ep))
    layers = sum(layer.count for layer in s.model.layers if layer.moe)
    out = {}
    for tokens in DEEPGEMM_MOE_MS:
        parts = {p.name: p.seconds for p in breakdown(dep, Batch(prefill_tokens=tokens / ep,
                                                                 prefill_sequences=tokens / ep / 1024))}
        out[tokens] = sum(parts.get(name, 0.0) for name in EXPERT_KERNELS) / layers * 1e3
    return out


def trtllm_deepgemm_moe(bandwidth: float) -> Derived:
    """aiconfigurator's TensorRT-LLM 1.2.0rc5 DeepGemmFusedMoE on B200 (DEEPGEMM_MOE_MS): the math ratio that,
    beside the stored moe_expert_gemm ratio `bandwidth` (fitted on the decode-long calibration rows), makes
    parity's routed-expert time at the table's prompt-sized token counts add up to the measured total."""
    calibrated = trtllm_deepgemm_moe_ms({"moe_expert_gemm": 1.0, "moe_expert_gemm_math": 1.0})
    before = trtllm_deepgemm_moe_ms({"moe_expert_gemm": bandwidth, "moe_expert_gemm_math": 1.0})
    target = sum(DEEPGEMM_MOE_MS.values())
    r = _solve(lambda x: sum(trtllm_deepgemm_moe_ms({"moe_expert_gemm": bandwidth,
                                                      "moe_expert_gemm_math": x}).values()), target)
    after = trtllm_deepgemm_moe_ms({"moe_expert_gemm": bandwidth, "moe_expert_gemm_math": r})
    each = "; ".join(f"{n:,} tokens {DEEPGEMM_MOE_MS[n]:.3f} ms measured, {calibrated[n]:.3f} calibrated, "
                     f"{before[n]:.3f} at x{bandwidth:g}, {after[n]:.3f} with r" for n in DEEPGEMM_MOE_MS)
    return Derived(name="AIC DeepGEMM MoE",
                   entries=(("trtllm", "0.8.1", "cuda", "moe_expert_gemm_math"),), ratio=r,
                   figures=(f"a B200 rank of EP {DEEPGEMM_MOE_EP}, DeepSeek-R1's routed experts and permute a layer: "
                            f"{each}; totals {target:.3f} ms measured, {sum(before.values()):.3f} at x{bandwidth:g} "
                            f"alone, r = {r:.3f} (solved)"))
