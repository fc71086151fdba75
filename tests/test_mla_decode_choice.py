"""MLA decode absorbed (FlashMLA: attention over the latent) or unabsorbed (K/V expanded per head from the
cached latent every step), chosen per deployment (issue 17, Build item 3)."""

import dataclasses
import json

import pytest
from click.testing import CliRunner

from parity import catalog
from parity.cli import cli
from parity.errors import InfeasiblePlan
from parity.model import Attention, DenseMlp, Layer, Model
from parity.ops import Batch
from parity.plan import Precision, Shard, device_step
from parity.predict import predict_rows

# one MLA layer: 4 heads, latent 64, RoPE key 16, nope 32, values 32 (no query latent)
TINY_MLA = Model(name="tiny-mla", hidden_size=256, vocab_size=1000, layers=(
    Layer(attention=Attention(num_attention_heads=4, num_key_value_heads=4, head_dim=48, kv_lora_rank=64,
                              qk_nope_head_dim=32, qk_rope_head_dim=16, v_head_dim=32),
          mlp=DenseMlp(intermediate_size=512)),))

# 2 sequences decoding one token each over 100 cached tokens: 200 keys, 200 (query, key) pairs
BATCH = Batch(decode_tokens=2.0, decode_context=100.0)


def _totals(mla_decode: str) -> tuple[dict[str, tuple[float, float]], float, float]:
    step = device_step(TINY_MLA, BATCH, Shard(1, 1, 1, 1, 1), Precision(mla_decode=mla_decode))
    kernels = {k.name: (float(k.flops * k.count), float((k.weight_bytes + k.other_bytes) * k.count))
               for k in step.kernels}
    return kernels, sum(f for f, _ in kernels.values()), sum(b for _, b in kernels.values())


def test_the_two_decodes_differ_by_the_hand_derived_flops_and_bytes() -> None:
    """All in bf16 (2 B). Absorbed: q_absorb 2 tokens x 32 x 64 x 4 heads: 2x that = 32,768 FLOP, weights
    32 x 64 x 4 x 2 = 16,384 B, activations 2 x (32 + 64) x 4 x 2 = 1,536 B; v_absorb the same (64 x 32);
    attention over the latent 2 x (64 + 16 + 64) x 200 pairs x 4 heads = 230,400 FLOP reading 200 x 80 x 2
    = 32,000 B (one shared latent). Total 295,936 FLOP, 67,840 B.
    Unabsorbed: kv_b over the 200 keys, 64 -> 4 x (32 + 32): 2 x 200 x 64 x 256 = 6,553,600 FLOP, weights
    64 x 256 x 2 = 32,768 B, activations 200 x (64 + 256) x 2 = 128,000 B; attention per head 2 x (32 + 16 +
    32) x 200 x 4 = 128,000 FLOP (fewer per key) reading 200 x 80 x 2 x 4 heads = 128,000 B (more per key).
    Total 6,681,600 FLOP, 288,768 B. Every other kernel is the same."""
    absorbed, flops_a, bytes_a = _totals("absorbed")
    unabsorbed, flops_u, bytes_u = _totals("unabsorbed")
    assert flops_u - flops_a == pytest.approx(6_681_600 - 295_936)
    assert bytes_u - bytes_a == pytest.approx(288_768 - 67_840)
    assert absorbed["mla_decode"] == pytest.approx((230_400, 32_000))
    assert unabsorbed["mla_decode_unabsorbed"] == pytest.approx((128_000, 128_000))
    assert unabsorbed["kv_b_decode"] == pytest.approx((6_553_600, 32_768 + 128_000))
    assert "q_absorb" not in unabsorbed and "kv_b_decode" not in absorbed


def test_prefill_and_non_mla_models_do_not_change() -> None:
    prefill = Batch(prefill_tokens=64.0, prefill_sequences=1.0)
    shard = Shard(1, 1, 1, 1, 1)
    one = device_step(TINY_MLA, prefill, shard, Precision(mla_decode="absorbed"))
    two = device_step(TINY_MLA, prefill, shard, Precision(mla_decode="unabsorbed"))
    assert sum(float(k.flops) for k in one.kernels) == sum(float(k.flops) for k in two.kernels)
    with pytest.raises(InfeasiblePlan, match="mla_decode must be one of absorbed, unabsorbed"):
        Precision(mla_decode="expanded")


def test_column_option_and_engine_default() -> None:
    """The CSV column mla_decode and --mla-decode price the same case; absorbed stays the default (every
    engine profile says absorbed); a bad value is a one-line error."""
    row = {"model": "deepseek-r1", "system": "hgx-h200", "phase": "decode", "batch": 64, "context": 1024,
           "attn_dp": 8, "moe_ep": 8, "kv": "bf16"}
    default, absorbed, unabsorbed = predict_rows([row, {**row, "mla_decode": "absorbed"},
                                                  {**row, "mla_decode": "unabsorbed"}])
    assert default.extra["step_s"] == absorbed.extra["step_s"] < unabsorbed.extra["step_s"]
    assert "MLA decode unabsorbed" in unabsorbed.note
    bad = predict_rows([{**row, "mla_decode": "sideways"}])[0]
    assert not bad.feasible and "mla_decode must be one of" in bad.note
    args = ("serve --model deepseek-r1 --system hgx-h200 --phase decode --batch 64 --context 1024 --attn-dp 8 "
            "--moe-ep 8 --kv bf16 --mla-decode unabsorbed --format json").split()
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["step_s"] == pytest.approx(unabsorbed.extra["step_s"])
    for name in ("generic", "vllm", "sglang", "trtllm"):
        assert catalog.engine(name).mla_decode == "absorbed"
    with pytest.raises(ValueError, match="mla_decode must be one of"):
        dataclasses.replace(catalog.engine("vllm"), mla_decode="sideways")
