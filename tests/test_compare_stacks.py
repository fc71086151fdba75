"""`parity compare` runs each chip's engine as fitted on that chip's software stack (its software maturity)."""

import dataclasses

from parity import catalog
from parity.compare import _on_stack, compare


def test_each_chip_takes_its_stacks_profile_of_the_engine() -> None:
    """vllm on the MI300X (rocm) is vllm-rocm, on the H200 (cuda) vllm itself; generic has no stack profile; a
    what-if profile (the user's own numbers) is used as given, on every chip."""
    vllm = catalog.engine("vllm")
    mi300x, h200 = catalog.system("mi300x-platform"), catalog.system("hgx-h200")
    assert _on_stack(vllm, mi300x).id == "vllm-rocm" and _on_stack(vllm, h200) is vllm
    assert _on_stack(catalog.engine("generic"), mi300x).id == "generic"
    what_if = dataclasses.replace(vllm, gemm_scale=0.9)
    assert _on_stack(what_if, mi300x) is what_if


def test_the_rocm_profile_lowers_the_mi300x_against_cuda_profile() -> None:
    """vllm-rocm's GEMM (0.62), all-reduce (0.60) and memory (0.82 against 0.91) scales are all below CUDA's vLLM,
    so the MI300X's tokens/s per chip under --engine vllm falls below what CUDA's profile gives it."""
    model, mi300x = catalog.model("llama-3.1-70b"), catalog.system("mi300x-platform")
    rocm = compare([mi300x], model, catalog.engine("vllm"))[0]
    cuda = compare([mi300x], model, dataclasses.replace(catalog.engine("vllm"), name="vLLM (CUDA's)"))[0]
    assert 0 < rocm.tokens_per_s_per_chip < cuda.tokens_per_s_per_chip
