"""The engine_kernels.toml ratios derived through parity's own fitted profiles, re-derived from the published
figures they reproduce (each derivation's docstring names its figure), and the file's text with them written in.
A refit of the SGLang or vLLM profile moves these; ratios taken straight from a kernel benchmark do not.

Modules: solve (Derived, the solver), sglang, vllm and sm100 (the derivations), text (the file's text)."""

from __future__ import annotations

from collections.abc import Mapping

from parity.derive_kernels.sglang import (aiter_prompt, aiter_run_s, sglang_3550_run_s, sglang_decode_row,
                                          sglang_launch_cuda, sglang_launch_rocm, sglang_prompt_attention,
                                          sglang_step_s)
from parity.derive_kernels.sm100 import (CUTLASS_MLA_GB_PER_S, DEEPGEMM_MOE_MS, cutlass_mla_bench_s,
                                         sglang_cutlass_mla, sglang_mla_decode_s, trtllm_deepgemm_moe,
                                         trtllm_deepgemm_moe_ms)
from parity.derive_kernels.solve import Derived, with_ratio
from parity.derive_kernels.text import SENTENCE, decimals, drifted, rewrite, stored_ratios
from parity.derive_kernels.vllm import (generic_pa_batch_s, vllm_flashmla, vllm_generic_paged_attention,
                                        vllm_r1_run_tok_s, vllm_rocm, vllm_rocm_batch_s, vllm_sm100_cutlass,
                                        vllm_triton_mla)

__all__ = ["Derived", "derive_all", "decimals", "stored_ratios", "drifted", "rewrite",
           "SENTENCE", "sglang_decode_row", "with_ratio", "sglang_step_s", "aiter_run_s", "sglang_3550_run_s",
           "vllm_r1_run_tok_s", "vllm_rocm_batch_s", "generic_pa_batch_s", "DEEPGEMM_MOE_MS",
           "trtllm_deepgemm_moe_ms", "CUTLASS_MLA_GB_PER_S", "cutlass_mla_bench_s", "sglang_mla_decode_s"]


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

