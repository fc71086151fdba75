"""SGLang 0.4.x's version kernels re-derived from bench_one_batch decode and prefill steps on DeepSeek FP8 at
TP8: its launch entries on CUDA and ROCm, AITER's and its own prompt ratios."""

from __future__ import annotations

from collections.abc import Mapping
from statistics import median

from parity import catalog
from parity.derive_kernels.solve import Derived, _solve, with_ratio
from parity.predict import scenario_from_row
from parity.predict.scenario import deployment
from parity.predict.simulated import simulate_scenario
from parity.simulate import Benchmark, client_profile
from parity.step import Batch, step_cost


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
