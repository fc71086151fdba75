"""`parity compare` runs each chip's engine as fitted on that chip's software stack (its software maturity)."""

import dataclasses

from parity import catalog
from parity.compare import compare


def test_each_chip_takes_its_stacks_profile_of_the_engine() -> None:
    """vllm on ROCm is vllm-rocm, on CUDA vllm itself; generic has no stack profile of its own, so on ROCm it runs
    at ROCm's measured maturity (measured_stack_prior: still the generic profile, its kernel multipliers below 1);
    a what-if profile (the user's own numbers) is used as given, on every stack."""
    vllm, generic = catalog.engine("vllm"), catalog.engine("generic")
    assert catalog.engine_on(vllm, "rocm").id == "vllm-rocm" and catalog.engine_on(vllm, "cuda") is vllm
    on_rocm = catalog.engine_on(generic, "rocm")
    assert on_rocm.id == "generic" and on_rocm.gemm_scale < 1.0 and catalog.engine_on(generic, "cuda") is generic
    what_if = dataclasses.replace(vllm, gemm_scale=0.9)
    assert catalog.engine_on(what_if, "rocm") is what_if


def test_the_rocm_profile_lowers_the_mi300x_against_cuda_profile() -> None:
    """vllm-rocm's GEMM (0.62), all-reduce (0.60) and memory (0.82 against 0.91) scales are all below CUDA's vLLM,
    so the MI300X's tokens/s per chip under --engine vllm falls below what CUDA's profile gives it."""
    model, mi300x = catalog.model("llama-3.1-70b"), catalog.system("mi300x-platform")
    rocm = compare([mi300x], model, catalog.engine("vllm"))[0]
    cuda = compare([mi300x], model, dataclasses.replace(catalog.engine("vllm"), name="vLLM (CUDA's)"))[0]
    assert 0 < rocm.tokens_per_s_per_chip < cuda.tokens_per_s_per_chip
