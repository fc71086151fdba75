"""vLLM's version kernels re-derived from published runs: V0 on DeepSeek FP8 at TP8 (Triton MLA, FlashMLA),
on ROCm, its generic paged attention and its SM100 CUTLASS GEMMs."""

from __future__ import annotations

import dataclasses
from statistics import median

from parity import catalog
from parity.derive_kernels.solve import Derived, _solve, with_ratio
from parity.engine import EngineKernel, stack_prior
from parity.predict import predict_scenarios, scenario_from_row
from parity.predict.scenario import deployment
from parity.step import Batch, step_cost


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
