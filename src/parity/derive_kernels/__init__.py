"""The engine_kernels.toml ratios derived through parity's own fitted profiles, re-derived from the published
figures they reproduce (each derivation's docstring names its figure), and the file's text with them written in.
A refit of the SGLang or vLLM profile moves these; ratios taken straight from a kernel benchmark do not."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from statistics import median

from parity import catalog
from parity.cost import EXPERT_KERNELS
from parity.engine import EngineKernel, stack_prior
from parity.plan.layout import Layout
from parity.predict import predict_scenarios, scenario_from_row
from parity.predict.scenario import Scenario, deployment
from parity.predict.simulated import simulate_scenario
from parity.simulate import Benchmark, client_profile
from parity.step import Batch, breakdown, step_cost

__all__ = ["Derived", "derive_all", "decimals", "stored_ratios", "drifted", "rewrite",
           "SENTENCE", "sglang_decode_row", "with_ratio", "sglang_step_s", "aiter_run_s", "sglang_3550_run_s",
           "vllm_r1_run_tok_s", "vllm_rocm_batch_s", "generic_pa_batch_s", "DEEPGEMM_MOE_MS",
           "trtllm_deepgemm_moe_ms", "CUTLASS_MLA_GB_PER_S", "cutlass_mla_bench_s", "sglang_mla_decode_s"]

# The machine-written sentence that closes each derived entry's derivation text, replaced on every --write.
SENTENCE = "Derived against the stored profile (scripts/derive_engine_kernels.py): "


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Derived:
    """One published figure's ratio re-derived: `entries` the (engine, since, stack, op) of every entry that
    stores it, `ratio` unrounded, `figures` the intermediate figures the derivation text quotes."""

    name: str
    entries: tuple[tuple[str, str, str, str], ...]
    ratio: float
    figures: str


def _solve(f: Callable[[float], float], target: float, low: float = 1.0, high: float = 20.0) -> float:
    """The x in [low, high] where the monotonic f(x) meets target, by regula falsi with the Illinois step (f is
    near linear in a time ratio: a few evaluations where bisection takes twenty), to 1e-5 of target or a bracket
    1e-4 wide. The default bracket is EngineKernel's bounds on a ratio above 1."""
    f_low, f_high = f(low) - target, f(high) - target
    if f_low * f_high > 0:
        raise ValueError(f"no ratio in [{low}, {high}] meets {target:.6g}: {f_low + target:.6g} to {f_high + target:.6g}")
    side = 0
    for _ in range(60):
        x = high - f_high * (high - low) / (f_high - f_low)
        fx = f(x) - target
        if abs(fx) <= 1e-5 * abs(target) or high - low <= 1e-4:
            return x
        if fx * f_high > 0:
            high, f_high = x, fx
            f_low = f_low / 2 if side == -1 else f_low
            side = -1
        else:
            low, f_low = x, fx
            f_high = f_high / 2 if side == 1 else f_high
            side = 1
    return x


def with_ratio(s: Scenario, ratios: Mapping[str, float] | float | None) -> Scenario:
    """The scenario's version kernels at other time ratios: one per op (ops not named dropped), one for every
    op, or None for the calibrated kernels (no entries)."""
    if ratios is None:
        return dataclasses.replace(s, kernels=())
    if isinstance(ratios, float | int):
        return dataclasses.replace(s, kernels=tuple(dataclasses.replace(k, time_ratio=float(ratios))
                                                    for k in s.kernels))
    return dataclasses.replace(s, kernels=tuple(dataclasses.replace(k, time_ratio=ratios[k.op])
                                                for k in s.kernels if k.op in ratios))


# SGLang 0.4.x: bench_one_batch decode and prefill steps on DeepSeek FP8 at TP8 ---------------------------------

def sglang_decode_row(system: str, version: str, batch: int, context: int) -> dict[str, str]:
    """A decode step of DeepSeek-R1 FP8 at TP8, as SGLang's bench_one_batch runs it."""
    return {"case_id": "x", "model": "deepseek-r1", "system": system, "engine": "sglang", "weights": "fp8_block",
            "mode": "agg", "isl": str(context), "osl": "1", "concurrency": str(batch), "tp": "8",
            "metric": "tpot_s", "measured": "1", "engine_version": version}


def sglang_step_s(system: str, version: str, batch: int, context: int,
                  ratios: Mapping[str, float] | float | None = ()) -> tuple[float, float]:
    """(decode step, its fixed cost) [s] with the calibrated SGLang profile (the CUDA fit, as a row left out of the
    ROCm stack fit gets it); ratios as with_ratio, () for the stored entries."""
    s = scenario_from_row(sglang_decode_row(system, version, batch, context)).with_engine(catalog.engine("sglang"))
    if ratios != ():
        s = with_ratio(s, ratios)
    cost = step_cost(deployment(s, s.layout), Batch(decode_tokens=batch, decode_context=context))
    return float(cost.time_s), float(cost.overhead_s)


def _launch_ratio(system: str, version: str, batch: int, context: int,
                  measured_s: float) -> tuple[float, str, str]:
    """The launch ratio that makes parity's decode step (priced without entries) the measured one, the fixed
    kernel cost it multiplies and its arithmetic: the launch entry multiplies the kernels' fixed cost k alone
    (not the step's own overhead), so r = (measured - step + k) / k, k read as what a launch ratio of 2 adds."""
    step_s = sglang_step_s(system, version, batch, context, None)[0]
    k_s = sglang_step_s(system, version, batch, context, {"launch": 2.0})[0] - step_s
    per_kernel_s = catalog.engine("sglang").kernel_overhead_s
    ratio = (measured_s - step_s + k_s) / k_s
    return (ratio, f"{k_s * 1e3:.2f} ms fixed kernel cost ({k_s / per_kernel_s:.0f} kernels x {per_kernel_s * 1e6:.3f} us)",
            f"({measured_s * 1e3:.2f} - {step_s * 1e3:.2f} + {k_s * 1e3:.2f}) / {k_s * 1e3:.2f} = {ratio:.3f}")


def sglang_launch_cuda() -> Derived:
    """sgl-project/sglang#2643: DeepSeek-V3 on 8x H200, bench_one_batch input 128, output 256: 30.29, 206.32 and
    760.52 tokens/s at batch 1, 8, 32 (256 KV tokens: 128 in + 256/2 out); the median of the three ratios."""
    found = [_launch_ratio("hgx-h200", "SGLang 0.4.1.post2", batch, 256, batch / tok_s)
             for batch, tok_s in ((1, 30.29), (8, 206.32), (32, 760.52))]
    ratio = median(r for r, _, _ in found)
    costs = "; ".join(dict.fromkeys(cost for _, cost, _ in found))
    parts = ", ".join(f"batch {batch} {text}" for batch, (_, _, text) in zip((1, 8, 32), found, strict=True))
    return Derived(name="sglang#2643", entries=(("sglang", "0.4.1", "cuda", "launch"),), ratio=ratio,
                   figures=f"{costs}; {parts}; median {ratio:.3f}")


def sglang_launch_rocm() -> Derived:
    """sgl-project/sglang#3237: DeepSeek-V3 on 8x MI300X, bench_one_batch batch 4, input 2048, output 256: decode
    median 38.50 ms (2,176 KV tokens: 2048 in + 256/2 out)."""
    ratio, cost, text = _launch_ratio("mi300x-platform", "SGLang 0.4.2", 4, 2176, 38.50e-3)
    return Derived(name="sglang#3237", entries=(("sglang", "0.4.1", "rocm", "launch"),), ratio=ratio,
                   figures=f"{cost}; {text}")


AITER_OPS = ("gemm_math_fp8", "moe_expert_gemm_math", "attention_prefill")


def aiter_run_s(ratios: Mapping[str, float] | float | None = ()) -> tuple[float, float]:
    """(prefill [s], median decode step [s]) of AMD's bench_one_batch run on MI300X (DeepSeek-R1 TP8, batch 64,
    input 512, output 32) with the CUDA-fitted SGLang profile, as a row left out of the ROCm stack fit gets it;
    SGLang 0.4.3's entries at `ratios` (as with_ratio; () the stored ones)."""
    s = scenario_from_row(sglang_decode_row("mi300x-platform", "SGLang 0.4.3", 64, 512)).with_engine(
        catalog.engine("sglang"))
    if ratios != ():
        s = with_ratio(s, ratios)
    dep = deployment(s, s.layout)
    prefill = float(step_cost(dep, Batch(prefill_tokens=64 * 512, prefill_sequences=64)).time_s)
    decode = sorted(float(step_cost(dep, Batch(decode_tokens=64, decode_context=512 + i)).time_s) for i in range(1, 32))
    return prefill, decode[15]


def aiter_prompt(launch: float) -> Derived:
    """AMD ROCm blog 'Integrate AITER into SGLang': bench_one_batch prefill 3.12678 s before AITER, 1.50748 s after;
    one ratio r on the dense and expert FP8 GEMMs' math and prompt attention, the launch entry at `launch`."""
    target = 3.12678 / 1.50748
    calibrated = aiter_run_s(None)
    launch_only = aiter_run_s({"launch": launch})
    def run(r: float) -> tuple[float, float]:
        return aiter_run_s({"launch": launch, **dict.fromkeys(AITER_OPS, r)})
    r = _solve(lambda x: run(x)[0] / calibrated[0], target)
    with_ = run(r)
    return Derived(name="AITER blog", entries=tuple(("sglang", "0.4.1", "rocm", op) for op in AITER_OPS), ratio=r,
                   figures=(f"launch entry {launch}; prefill {calibrated[0]:.3f} s calibrated, {launch_only[0]:.3f} s "
                            f"with the launch entry; r = {r:.3f} (solved; {with_[0]:.3f} s, ratio "
                            f"{with_[0] / calibrated[0]:.4f} beside {target:.4f}); decode {calibrated[1] * 1e3:.2f} ms "
                            f"calibrated, {with_[1] * 1e3:.2f} ms with the entries ({launch_only[1] * 1e3:.2f} ms with "
                            f"the launch entry alone), a ratio of {with_[1] / calibrated[1]:.3f} beside the blog's "
                            f"{53.19 / 28.37:.3f}"))


def sglang_3550_run_s(ratios: Mapping[str, float] | float | None = ()) -> float:
    """Simulated duration [s] of sglang#3550's benchmark: DeepSeek-V3 TP8 on 8x H200, SGLang 0.4.3, 60 random
    prompts (input up to 32,000, output up to 100) at 1 request/s, prompt steps apart from decodes; SGLang 0.4.3's
    entries at `ratios` (as with_ratio; () the stored ones)."""
    row = {**sglang_decode_row("hgx-h200", "SGLang 0.4.3", 60, 32000), "osl": "100", "model": "deepseek-v3",
           "separate_prefill": "true"}
    s = scenario_from_row(row)
    if ratios != ():
        s = with_ratio(s, ratios)
    bench = Benchmark(isl=32000, osl=100, concurrency=60, client=client_profile("sglang"), num_prompts=60,
                      request_rate=1.0)
    return simulate_scenario(s, bench).duration_s


def sglang_prompt_attention(launch: float) -> Derived:
    """sgl-project/sglang#3550: the Triton MLA backend's run took 10526.88 / 2679.07 = 3.929x the FlashInfer MLA
    backend's; prompt attention at r reproduces that ratio, the launch entry at `launch`."""
    target = 10526.88 / 2679.07
    flashinfer = sglang_3550_run_s({"launch": launch})
    r = _solve(lambda x: sglang_3550_run_s({"launch": launch, "attention_prefill": x}) / flashinfer, target)
    triton = sglang_3550_run_s({"launch": launch, "attention_prefill": r})
    return Derived(name="sglang#3550", entries=(("sglang", "0.4.1", "cuda", "attention_prefill"),), ratio=r,
                   figures=(f"launch entry {launch}; the FlashInfer run {flashinfer:.2f} s (published 89.26 s); "
                            f"r = {r:.2f} (solved) reproduces {target:.3f}x ({triton:.1f} s)"))


# vLLM 0.7.x (V0) on DeepSeek FP8 at TP8 -------------------------------------------------------------------------

VLLM_OPS = ("launch", "attention_decode", "grouped_gemm", "gemm")


def vllm_r1_run_tok_s(version: str, ratio: float | None | tuple[()] = ()) -> tuple[float, float]:
    """(output tokens/s, TPOT [s]) of vllm#13747's offline benchmark_throughput run: DeepSeek-R1 FP8 at TP8 on
    8x H200, 100 prompts of 3000 in / 1000 out, all at once, with the calibrated (CUDA) vLLM profile; the
    version's entries at one shared `ratio` (None: the calibrated kernels; (): the stored ones)."""
    row = {"case_id": "x", "model": "deepseek-r1", "system": "hgx-h200", "engine": "vllm", "weights": "fp8_block",
           "mode": "agg", "isl": "3000", "osl": "1000", "concurrency": "100", "tp": "8", "offline": "true",
           "metric": "output_tokens_per_s_per_worker", "measured": "1", "engine_version": version}
    s = scenario_from_row(row).with_engine(catalog.engine("vllm"))
    if ratio != ():
        s = with_ratio(s, ratio)
    p = predict_scenarios([s])[0]
    return float(p.output_tokens_per_s_per_chip * p.chips), float(p.tpot_s)


def _vllm_cuda(name: str, version: str, since: str, tok_s: float) -> Derived:
    calibrated = vllm_r1_run_tok_s(version, None)
    r = _solve(lambda x: vllm_r1_run_tok_s(version, x)[0], tok_s)
    with_ = vllm_r1_run_tok_s(version, r)
    return Derived(name=name, entries=tuple(("vllm", since, "cuda", op) for op in VLLM_OPS), ratio=r,
                   figures=(f"{calibrated[0]:,.0f} output tokens/s with the calibrated kernels; one shared r "
                            f"reproduces {tok_s:.2f} at r = {r:.3f} (solved; TPOT {calibrated[1] * 1e3:.1f} -> "
                            f"{with_[1] * 1e3:.1f} ms)"))


def vllm_triton_mla() -> Derived:
    """vllm-project/vllm#13747, VLLM_ATTENTION_BACKEND=TRITON_MLA: 634.90 output tokens/s."""
    return _vllm_cuda("vllm#13747 TRITON_MLA", "vLLM 0.7.3", "0.7.1", 634.90)


def vllm_flashmla() -> Derived:
    """vllm-project/vllm#13747, VLLM_ATTENTION_BACKEND=FLASHMLA: 692.34 output tokens/s."""
    return _vllm_cuda("vllm#13747 FLASHMLA", "vLLM 0.7.4.dev181", "0.7.4", 692.34)


def vllm_rocm_batch_s(ratio: float | None | tuple[()] = ()) -> tuple[float, float, float]:
    """(batch, prefill, median decode step) [s] of vllm#13199's benchmark_latency run: DeepSeek-V3 FP8 on 8x
    MI300X, TP8, batch 32, 128 in / 32 out (the prefill plus 31 decode steps), on the profile a row left out of
    the ROCm stack fit gets; vLLM 0.7.3's entries at one shared `ratio` (None: calibrated; (): stored)."""
    row = {"case_id": "x", "model": "deepseek-v3", "system": "mi300x-platform", "engine": "vllm",
           "weights": "fp8_block", "mode": "agg", "isl": "128", "osl": "32", "concurrency": "32", "tp": "8",
           "metric": "tpot_s", "measured": "1", "engine_version": "vLLM 0.7.3"}
    s = scenario_from_row(row).with_engine(stack_prior(catalog.engine("vllm"), "rocm"))
    if ratio != ():
        s = with_ratio(s, ratio)
    dep = deployment(s, s.layout)
    prefill = float(step_cost(dep, Batch(prefill_tokens=32 * 128, prefill_sequences=32)).time_s)
    decode = [float(step_cost(dep, Batch(decode_tokens=32, decode_context=128 + i)).time_s) for i in range(1, 32)]
    return prefill + sum(decode), prefill, median(decode)


def vllm_rocm() -> Derived:
    """vllm-project/vllm#13199: DeepSeek-V3 on 8x MI300X, benchmark_latency batch 32, 128 in / 32 out: 2.547 s
    after the tunings (3.080 s before)."""
    whole, prefill, step = vllm_rocm_batch_s(None)
    r = _solve(lambda x: vllm_rocm_batch_s(x)[0], 2.547)
    before = _solve(lambda x: vllm_rocm_batch_s(x)[0], 3.080)
    return Derived(name="vllm#13199", entries=tuple(("vllm", "0.7.2", "rocm", op) for op in VLLM_OPS), ratio=r,
                   figures=(f"prefill {prefill:.3f} s plus 31 decode steps ({step * 1e3:.1f} ms each) = {whole:.3f} s "
                            f"with the calibrated kernels; one shared r reproduces 2.547 s at r = {r:.3f} (solved; "
                            f"3.080 s before the tunings: r = {before:.2f})"))


def generic_pa_batch_s(ratio: float | None) -> tuple[float, float, float]:
    """(prefill, decode, whole) [s] of vllm#16426's batch on one MI300X: 128 prompts of 2,048 tokens, 128 out, FP8
    weights and KV cache, Llama-3.1-8B for Mistral-7B (the same layers; only the vocabulary differs), prefill in
    steps of 16 prompts (V0's 32,768-token budget), on the profile a row left out of the ROCm stack fit gets; the
    decode attention at `ratio` times the calibrated kernel's time (None: the calibrated kernels)."""
    row = {"case_id": "x", "model": "llama-3.1-8b", "system": "mi300x-platform", "engine": "vllm", "weights": "fp8",
           "kv": "fp8", "mode": "agg", "isl": "2048", "osl": "128", "concurrency": "128", "tp": "1",
           "metric": "tpot_s", "measured": "1", "engine_version": ""}
    s = scenario_from_row(row).with_engine(stack_prior(catalog.engine("vllm"), "rocm"))
    if ratio is not None:
        s = dataclasses.replace(s, kernels=(EngineKernel(engine="vllm", since=(0,), until=(1,), op="attention_decode",
                                                         time_ratio=ratio),))
    dep = deployment(s, s.layout)
    prefill = 8 * float(step_cost(dep, Batch(prefill_tokens=16 * 2048, prefill_sequences=16)).time_s)
    decode = sum(float(step_cost(dep, Batch(decode_tokens=128, decode_context=2048 + i)).time_s) for i in range(1, 128))
    return prefill, decode, prefill + decode


def vllm_generic_paged_attention() -> Derived:
    """vllm-project/vllm#16426: the generic paged attention made the batch 'about 2-3x' as long as the custom
    kernel; the middle of the bracket, 2.5x."""
    prefill, decode, whole = generic_pa_batch_s(None)
    attention = generic_pa_batch_s(2.0)[2] - whole
    r = _solve(lambda x: generic_pa_batch_s(x)[2], 2.5 * whole)
    return Derived(name="vllm#16426", entries=(("vllm", "0.5.0", "rocm", "attention_decode"),), ratio=r,
                   figures=(f"prefill {prefill:.3f} s + 127 decode steps {decode:.3f} s = {whole:.3f} s with the "
                            f"calibrated kernels, of which decode attention takes {attention:.3f} s; twice the run is "
                            f"r = {1 + whole / attention:.1f}, three times r = {1 + 2 * whole / attention:.1f}, 2.5x "
                            f"r = {r:.2f} (solved)"))


def vllm_sm100_cutlass() -> Derived:
    """vllm-project/vllm#19566: B200, N 6144, K 4096, per-tensor FP8 without quantisation: 2,341.43 TFLOP/s at
    batch 1,024 and 2,544.68 at 16,384, against parity's calibrated B200 FP8 math rate (moves with the H200's
    calibration, not with an engine refit)."""
    chip = catalog.system("hgx-b200").chip
    rate = chip.peak("fp8") * catalog.calibration(chip).gemm("fp8")
    parts, ratios = [], []
    for m, flop_per_s in ((1024, 2341.43e12), (16384, 2544.68e12)):
        flops = 2 * m * 6144 * 4096
        ratios.append(rate / flop_per_s)
        parts.append(f"batch {m:,}: {flops / flop_per_s * 1e6:.2f} / {flops / rate * 1e6:.2f} us = {ratios[-1]:.3f}")
    ratio = sum(ratios) / 2
    return Derived(name="vllm#19566", entries=(("vllm", "0.10.2", "cuda", "gemm_math_fp8"),), ratio=ratio,
                   figures=f"calibrated B200 FP8 rate {rate / 1e15:.3f} PFLOP/s; {'; '.join(parts)}; mean {ratio:.3f}")


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


def _rounded(ratio: float, stored: Mapping[tuple[str, str, str, str], str], entry: tuple[str, str, str, str]) -> float:
    return round(ratio, decimals(stored[entry]))


def derive_all(stored: Mapping[tuple[str, str, str, str], str]) -> list[Derived]:
    """Every derivation, in dependency order: the SGLang launch entries first, the prompt ratios on their rounded
    values (what --write stores); `stored` maps each entry to its time_ratio as the file writes it."""
    cuda, rocm = sglang_launch_cuda(), sglang_launch_rocm()
    return [cuda, rocm, aiter_prompt(_rounded(rocm.ratio, stored, rocm.entries[0])),
            sglang_prompt_attention(_rounded(cuda.ratio, stored, cuda.entries[0])),
            vllm_triton_mla(), vllm_flashmla(), vllm_rocm(), vllm_generic_paged_attention(), vllm_sm100_cutlass(),
            sglang_cutlass_mla(), trtllm_deepgemm_moe(float(stored[("trtllm", "0.8.1", "cuda", "moe_expert_gemm")]))]


# The file: entries found and rewritten line by line, so its comments and layout stay -----------------------------

_KEY = re.compile(r'^(\w+) = (.*)$')


def _blocks(text: str) -> list[tuple[int, int, dict[str, str]]]:
    """(first line, end line, raw values by key) of each [[kernel]] entry of engine_kernels.toml's text."""
    lines = text.split("\n")
    starts = [i for i, line in enumerate(lines) if line.strip() == "[[kernel]]"]
    out = []
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        raw = {}
        for line in lines[start + 1:end]:
            match = _KEY.match(line)
            if match:
                raw[match.group(1)] = match.group(2)
            elif line.startswith("#") or line.startswith("["):
                break
        out.append((start, end, raw))
    return out


def _entry(raw: Mapping[str, str]) -> tuple[str, str, str, str]:
    return tuple(raw.get(k, '""').strip('"') for k in ("engine", "since", "stack", "op"))  # type: ignore[return-value]


def stored_ratios(text: str) -> dict[tuple[str, str, str, str], str]:
    """Each entry's (engine, since, stack, op) to its time_ratio as written (its decimals are its rounding)."""
    blocks = _blocks(text)
    out = {_entry(raw): raw["time_ratio"] for _, _, raw in blocks}
    if len(out) != len(blocks):
        raise ValueError("engine_kernels.toml: two entries share an (engine, since, stack, op); the derivations "
                         "cannot tell them apart")
    return out


def decimals(written: str) -> int:
    """The decimals a ratio is written to: '3.65' 2, '17.1' 1, '4' 0."""
    return len(written.split(".")[1]) if "." in written else 0


def drifted(derived: Derived, stored: Mapping[tuple[str, str, str, str], str]) -> bool:
    """Whether the derived ratio, rounded as the file writes it, differs from any entry's stored one."""
    return any(round(derived.ratio, decimals(stored[e])) != float(stored[e]) for e in derived.entries)


def rewrite(text: str, derived: Sequence[Derived]) -> str:
    """engine_kernels.toml's text with each derived entry's time_ratio at the derived ratio (to the decimals it
    was written to) and its derivation closed by one machine-written sentence (SENTENCE ...), replacing the one
    an earlier run wrote; every other line as it was."""
    by_entry = {e: d for d in derived for e in d.entries}
    lines = text.split("\n")
    for start, end, raw in _blocks(text):
        d = by_entry.get(_entry(raw))
        if d is None:
            continue
        for i in range(start + 1, end):
            if lines[i].startswith("time_ratio = "):
                lines[i] = f"time_ratio = {d.ratio:.{decimals(raw['time_ratio'])}f}"
            elif lines[i].startswith("derivation = "):
                prose = lines[i].removeprefix('derivation = "').removesuffix('"')
                prose = prose.split(SENTENCE)[0].rstrip()
                prose = prose if prose.endswith(".") else prose + "."
                figures = d.figures.replace('"', "'").replace("\\", "/")
                lines[i] = f'derivation = "{prose} {SENTENCE}{figures}."'
    return "\n".join(lines)
