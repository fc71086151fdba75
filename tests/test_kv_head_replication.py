"""GQA's fused qkv projection where tensor parallelism exceeds the KV heads: every rank computes one whole K/V head
(vLLM's QKVParallelLinear, SGLang and TensorRT-LLM replicate KV heads where tp > num_key_value_heads), so its
GEMM's FLOPs and weight bytes per rank count a whole head, as its stored weights and its KV cache do."""

from __future__ import annotations

import pytest

from parity import catalog
from parity.ops import Batch
from parity.plan import Layout, Precision, Shard, device_step, weight_matrices_per_device
from parity.plan.sharding import column_share


def _qkv(model: str, tp: int, batch: Batch):
    step = device_step(catalog.model(model), batch, Shard.of(Layout(tp=tp)), Precision())
    return next(k for k in step.kernels if k.name == "qkv")


def test_qwen3_235b_qkv_at_tp8_counts_one_whole_kv_head_per_rank() -> None:
    """Qwen3-235B-A22B: hidden 4096, 64 query heads and 4 KV heads of 128. At TP 8 a rank holds 8 query heads and
    one whole KV head: 64 x 128 / 8 + 2 x 128 = 1024 + 256 = 1280 columns (not 9216 / 8 = 1152). One decode token
    in bf16: 4096 x 1280 x 2 B = 10,485,760 weight bytes and 2 x 4096 x 1280 = 10,485,760 FLOPs."""
    kernel = _qkv("qwen3-235b-a22b", 8, Batch(decode_tokens=1, decode_context=4096))
    assert float(kernel.weight_bytes) == pytest.approx(4096 * 1280 * 2.0)
    assert float(kernel.flops) == pytest.approx(2.0 * 4096 * 1280)


def test_qkv_splits_kv_heads_evenly_up_to_their_count() -> None:
    """At TP 4 the 4 KV heads split one a rank: 8192 / 4 + 1024 / 4 = 2304 columns = 9216 / 4."""
    kernel = _qkv("qwen3-235b-a22b", 4, Batch(decode_tokens=1, decode_context=4096))
    assert float(kernel.weight_bytes) == pytest.approx(4096 * 2304 * 2.0)


def test_the_qkv_gemm_reads_the_weights_each_rank_stores() -> None:
    """The stored qkv slice and the GEMM's weight read agree at TP 2, 4, 8 and 16 (Llama-3.1-8B, 8 KV heads)."""
    model = catalog.model("llama-3.1-8b")
    for tp in (2, 4, 8, 16):
        shard = Shard.of(Layout(tp=tp))
        stored = list(weight_matrices_per_device(model, shard, Precision()))
        attention = sum(float(size) for role, size in stored if role == "attention")
        kernels = {k.name: k for k in device_step(model, Batch(decode_tokens=1, decode_context=1), shard,
                                                  Precision()).kernels}
        read = (float(kernels["qkv"].weight_bytes) + float(kernels["o"].weight_bytes)) * model.layers[0].count
        assert read == pytest.approx(attention), tp


def test_column_share_hand_values() -> None:
    """Llama-3.1-8B's qkv (4096 query + 8 KV heads x 256 = 6144 columns): 6144 / 8 = 768 at TP 8; at TP 16 a rank
    holds 256 query columns and one whole KV head, 256 + 256 = 512."""
    assert column_share(6144, 2048, 8, 8) == pytest.approx(768.0)
    assert column_share(6144, 2048, 8, 16) == pytest.approx(512.0)
