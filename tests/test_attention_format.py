"""Formats per part: the KV cache's storage format moves decode where attention reads memory, and the
attention math format moves it where attention is math-bound (MLA's 128 heads share one latent cache)."""

import pytest

from parity import catalog
from parity.ops import Batch
from parity.phase import decode_benchmark
from parity.plan import Layout, Precision
from parity.predict import predict_rows, scenario_from_row
from parity.step import Deployment, breakdown

from conftest import perfect_calibration, round_chip, round_system, tiny_model


def test_fp8_kv_halves_a_memory_bound_gqa_decode_read() -> None:
    """Tiny model, one sequence of 1,000 tokens on the round chip: 38.068 us in bf16 (see test_phase); an
    FP8 cache halves the 4 MB attention read (-2 us) and the 4 kB KV write (-2 ns): 36.066 us."""
    def step(kv: str) -> float:
        dep = Deployment(model=tiny_model(), system=round_system(), layout=Layout(),
                         precision=Precision(kv_cache=kv), calibration=perfect_calibration())
        return float(decode_benchmark(dep, 1, 1000).step_s)
    assert step("bf16") == pytest.approx(38.068e-6)
    assert step("fp8") == pytest.approx(36.066e-6)


def _mla_seconds(kv: str, attention: str) -> float:
    """mla_decode of DeepSeek-V3 (61 layers, 128 heads, latent 512 + rope 64) for one sequence of 1,000
    tokens on a round chip with 10 TB/s: per layer 2 x (512 + 64 + 512) x 1,000 x 128 = 278.528 MFLOP."""
    system = round_system(round_chip(memory_bytes_per_s=10e12))
    dep = Deployment(model=catalog.model("deepseek-v3"), system=system, layout=Layout(),
                     precision=Precision(kv_cache=kv, attention=attention), calibration=perfect_calibration())
    return next(p.seconds for p in breakdown(dep, Batch(decode_tokens=1, decode_context=1000)) if p.name == "mla_decode")


def test_mla_decode_is_math_bound_so_only_the_attention_format_moves_it() -> None:
    """61 x 278.528 MFLOP = 16.990 GFLOP: 16.99 us at 1 PFLOP/s bf16, 8.495 us at 2 PFLOP/s fp8. The cache
    read, 61 x 1,000 x 576 x 2 B = 70.27 MB (7.03 us; 3.51 us in fp8), hides under the math either way, which
    is why an FP8 cache alone leaves MLA decode time unchanged."""
    assert _mla_seconds("bf16", "bf16") == pytest.approx(16.990e-6, rel=1e-4)
    assert _mla_seconds("fp8", "bf16") == pytest.approx(16.990e-6, rel=1e-4)
    assert _mla_seconds("fp8", "fp8") == pytest.approx(8.495e-6, rel=1e-4)


def test_attention_format_column_and_refusal() -> None:
    """CSV attention_format: fp8 attention shortens DeepSeek-R1 decode on H200 and is named in the note;
    a chip without FP8 math refuses it in one line naming the field."""
    base = {"model": "deepseek-r1", "system": "hgx-h200", "phase": "decode", "batch": 512, "context": 4096,
            "attn_dp": 8, "kv": "fp8"}
    (bf16,) = predict_rows([base])
    (fp8,) = predict_rows([{**base, "attention_format": "fp8"}])
    assert fp8.tpot_s < bf16.tpot_s and "attention math in fp8" in fp8.note
    (ascend,) = predict_rows([{**base, "system": "cloudmatrix-384", "weights": "int8", "kv": "int8",
                               "attention_format": "fp8"}])
    assert not ascend.feasible and "attention_format fp8" in ascend.note


def test_every_engine_profile_states_its_attention_format() -> None:
    assert {e.id: e.attention_format for e in catalog.engines()} == {
        "generic": "bf16", "sglang": "bf16", "trtllm": "bf16", "vllm": "bf16", "sglang-rocm": "bf16",
        "vllm-rocm": "bf16", "sglang-cann": "bf16"}


def test_breakdown_names_the_kv_format_beside_the_attention_math() -> None:
    """`serve --explain` lists attention by its math format; over an FP8 cache it says so, and the cache write
    names the KV format, not the activations' (it read 'bf16' for an FP8 cache before)."""
    dep = Deployment(model=tiny_model(), system=round_system(), layout=Layout(),
                     precision=Precision(kv_cache="fp8"), calibration=perfect_calibration())
    details = {p.name: p.detail for p in breakdown(dep, Batch(decode_tokens=1, decode_context=1000))}
    assert details["attention_decode"].startswith("bf16, KV fp8, ")
    assert details["kv_write"].startswith("KV fp8, ")
    assert details["qkv"].startswith("bf16, ")


def test_a_serve_over_an_fp8_cache_says_its_mla_prompt_attention_runs_in_fp8() -> None:
    """With an FP8 KV cache, MLA's prompt attention runs in fp8 (its inputs cast first) while decode stays bf16: the
    breakdown showed it and the assumptions did not (a regression round); a GQA model's do not say it."""
    row = {"case_id": "x", "model": "deepseek-r1", "system": "hgx-h200", "mode": "agg", "isl": "1024", "osl": "1024",
           "concurrency": "8", "tp": "8", "kv": "fp8"}
    said = "MLA prompt attention in fp8 over the fp8 KV cache (its inputs cast first)"
    def says(changes: dict[str, str]) -> bool:
        return any(said in note for note in scenario_from_row({**row, **changes}).notes)
    assert says({}) and not says({"kv": "bf16"}) and not says({"model": "llama-3.1-8b", "tp": "1"})
