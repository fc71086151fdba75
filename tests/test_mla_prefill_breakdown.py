"""MLA prefill as parity prices it: the unabsorbed attention (128 heads, keys 128 + 64 wide, values 128) and
the kv_b expansion of the prompt's latents, and how small a share of a DeepSeek prefill step the attention is
(the measurements README's negative result on MLA prefill attention, 2026-12-04)."""

import pytest

from parity import catalog
from parity.ops import Batch
from parity.plan import Layout, Precision
from parity.predict import deployment, scenario_from_row
from parity.step import Deployment, breakdown

from conftest import perfect_calibration, round_system


def _seconds(dep: Deployment, batch: Batch) -> dict[str, float]:
    return {p.name: p.seconds for p in breakdown(dep, batch)}


def test_mla_prefill_attention_and_kv_b_on_a_round_chip() -> None:
    """DeepSeek-V3, one prompt of 8,192 tokens at TP 8 on 1 PFLOP/s bf16 chips, every efficiency 1.
    Attention: 61 layers x 16 heads a rank x 2 x (128 + 64 + 128) FLOP x 8,192 x 8,193 / 2 causal pairs
    = 20.962 TFLOP at 1.076 PFLOP/s (192-wide query/key heads, cost.head_dim_scale): 19.481 ms. kv_b expands each
    prompt token's 512-wide latent to 16 heads x (128 + 128): 61 x 2 x 8,192 x 512 x 4,096 = 2.0959 TFLOP (2.0959 ms),
    but it moves more than that at 1 TB/s: per layer the latents 8,192 x 512 x 2 B, the weights 512 x 4,096 x 2 B and
    the expanded K/V 8,192 x 4,096 x 2 B, 79,691,776 B, x 61 = 4.8612 GB: 4.8612 ms, memory-bound."""
    dep = Deployment(model=catalog.model("deepseek-v3"), system=round_system(), layout=Layout(tp=8),
                     precision=Precision(), calibration=perfect_calibration())
    parts = _seconds(dep, Batch(prefill_tokens=8192, prefill_sequences=1))
    assert parts["mla_prefill"] == pytest.approx(19.481e-3, rel=1e-4)
    assert parts["kv_b"] == pytest.approx(4.8612e-3, rel=1e-4)


def _b200_trtllm_prefill(isl: int) -> dict[str, float]:
    row = {"model": "deepseek-v3", "system": "hgx-b200", "engine": "trtllm", "weights": "fp8", "moe_weights": "fp8",
           "mode": "agg", "isl": isl, "osl": 1024, "concurrency": 4, "tp": 8}
    scenario = scenario_from_row(row)
    return _seconds(deployment(scenario, scenario.layout), Batch(prefill_tokens=isl, prefill_sequences=1))


def test_mla_prefill_attention_is_a_small_share_of_a_deepseek_prefill_step_on_b200() -> None:
    """The catalog's B200 at TP 8 under TensorRT-LLM's profile (FP8 cache): MLA's prompt path (the attention in FP8,
    the rotary/concatenation pass and the cast to FP8, graph._mla_prompt_passes) is 2.06 ms of a 1,024-token prefill
    step of about 32 ms (0.78 ms of 30 before the passes) and 17.5 ms of an 8,192-token step of about 102 ms (19.2 of
    104). The measured DeepSeek TTFT gap on these rows is a fixed ~70 ms a request at either length (measurements
    README), which attention at this size cannot carry even at half its rate."""
    short, long = _b200_trtllm_prefill(1024), _b200_trtllm_prefill(8192)
    mla_short = sum(v for k, v in short.items() if k.startswith("mla_prefill"))
    mla_long = sum(v for k, v in long.items() if k.startswith("mla_prefill"))
    assert mla_short == pytest.approx(2.06e-3, rel=0.05)
    assert mla_long == pytest.approx(17.5e-3, rel=0.05)
    assert mla_short / sum(short.values()) < 0.08
    assert 0.1 < mla_long / sum(long.values()) < 0.2
