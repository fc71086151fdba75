"""Keys and (query, key) pairs of windowed and chunked attention, counted query by query by hand.

A sliding window W caps each query's keys at W: over L prompt tokens after `prefix` cached ones, the first
W - prefix queries see all theirs (prefix + i + 1), the rest W each. Mistral's W = 4,096 (prefix 0):
  L = 6,144: 4,096 x 4,097 / 2 + 2,048 x 4,096 = 8,390,656 + 8,388,608 = 16,779,264 (full 18,877,440)
  L = 8,192: 8,390,656 + 4,096 x 4,096 = 25,167,872 (full 33,558,528)
  L = 12,288: 8,390,656 + 8,192 x 4,096 = 41,945,088 (full 75,503,616)
The old cap min(L x prefix + L(L+1)/2, L x W) gave 18.9 M, 33.6 M and 50.3 M: full attention below 2W.
  prefix 2,048, L = 4,096: 2,048 queries see 2,049 .. 4,096 keys (2,048 x 2,048 + 2,048 x 2,049 / 2 = 6,292,480),
  the other 2,048 see 4,096 each (8,388,608): 14,681,088.
A chunked query (Llama 4's attention_chunk_size C = 8,192) sees only the keys before it in its own chunk:
  L = 16,384: 2 x 8,192 x 8,193 / 2 = 67,117,056 (not L x C = 134,217,728; full 134,225,920)
  prefix 4,096, L = 8,192: keys 4,097 .. 8,192 then 1 .. 4,096: 25,167,872 + 8,390,656 = 33,558,528.
A decode query at context T reads T - C (ceil(T / C) - 1) keys: 8,192 at 8,192, 512 at 8,704, 4,096 at 12,288;
over a request's decode from 16,384 to 32,768 (context 24,576, spread 8,192) 4,096 on average.
"""

import dataclasses

import numpy as np
import pytest

from parity import catalog
from parity.graph import forward, prefill_attention_pairs
from parity.model import Attention, causal_pairs, mean_keys
from parity.ops import Batch
from parity.plan import Layout, Precision
from parity.step import Deployment, step_cost


def test_sliding_window_prompt_pairs_are_summed_query_by_query() -> None:
    pairs = prefill_attention_pairs(np.array([6144.0, 8192.0, 12288.0]), np.ones(3), np.zeros(3), 4096)
    assert pairs.tolist() == [16_779_264.0, 25_167_872.0, 41_945_088.0]
    assert prefill_attention_pairs(4096.0, 1.0, 2048.0, 4096) == 14_681_088.0
    # two prompts of 4,096 after 2,048 cached tokens each: twice one
    assert prefill_attention_pairs(8192.0, 2.0, 2048.0, 4096) == 2 * 14_681_088.0
    # wholly beyond the window: W a query
    assert prefill_attention_pairs(1000.0, 1.0, 10_000.0, 4096) == 1000 * 4096


def test_full_attention_pairs_are_unchanged() -> None:
    assert prefill_attention_pairs(np.array([6144.0, 8192.0, 12288.0]), np.ones(3), np.zeros(3)).tolist() == [
        18_877_440.0, 33_558_528.0, 75_503_616.0]
    # L x prefix + L(L+1)/2: 100 tokens of 2 prompts after 30 cached: 2 x (50 x 30 + 50 x 51 / 2)
    assert prefill_attention_pairs(100.0, 2.0, 30.0, None) == 5550.0
    assert causal_pairs(30.0, 50.0) == 50 * 30 + 50 * 51 / 2


def test_chunked_prompt_pairs_stay_within_each_chunk() -> None:
    assert prefill_attention_pairs(16384.0, 1.0, 0.0, chunk=8192) == 67_117_056.0
    assert prefill_attention_pairs(8192.0, 1.0, 4096.0, chunk=8192) == 33_558_528.0
    # within the first chunk: full attention
    assert prefill_attention_pairs(8192.0, 1.0, 0.0, chunk=8192) == 8192 * 8193 / 2


def test_chunked_decode_reads_its_own_chunk() -> None:
    keys = mean_keys(np.array([1000.0, 8192.0, 8704.0, 12288.0]), chunk=8192.0)
    assert keys.tolist() == [1000.0, 8192.0, 512.0, 4096.0]
    # a request's decode: 1,024 tokens after 8,192 (context 8,704, spread 512): 1 .. 1,024 keys, 512 on average
    assert mean_keys(8704.0, 512.0, chunk=8192.0) == pytest.approx(512.0)
    # 16,384 after 16,384: two whole chunks, C / 2 on average
    assert mean_keys(24576.0, 8192.0, chunk=8192.0) == pytest.approx(4096.0)
    # 1,024 after 1,024: the first chunk, as full attention
    assert mean_keys(1536.0, 512.0, chunk=8192.0) == pytest.approx(1536.0)
    # a sliding window over a decode that crosses it: 2,048 .. 6,144 with W 4,096: (4,096^2 / 2 - 2,048^2 / 2
    # + 2,048 x 4,096) / 4,096 = 3,584
    assert mean_keys(4096.0, 2048.0, window=4096.0) == pytest.approx(3584.0)
    # full attention: the mean context whatever the spread
    assert mean_keys(4096.0, 2048.0) == 4096.0


def _llama4_ops(batch: Batch) -> dict[str, dict[str, float]]:
    """attention_prefill / attention_decode FLOPs and KV bytes of a head, by layer kind, for Llama 4 Scout."""
    out: dict[str, dict[str, float]] = {}
    for group in forward(catalog.model("llama-4-scout"), batch):
        if group.layer is None:
            continue
        for op in group.ops:
            if op.name in ("attention_prefill", "attention_decode"):
                out.setdefault(group.layer.attention.kind, {})[op.name] = float(op.flops_per_head)
                out[group.layer.attention.kind][op.name + "_kv"] = float(op.kv_bytes_per_kv_head)
    return out


def test_llama4_chunked_layers_in_the_graph() -> None:
    """Scout: head_dim 128, so 2 x (128 + 128) = 512 FLOPs a pair a head; a prompt of 16,384 tokens: chunked layers
    512 x 67,117,056, the full (NoPE) layers 512 x 134,225,920. 64 sequences decoding at 12,288: the chunked layers
    read 64 x 4,096 keys a KV head (256 elements each), the full ones 64 x 12,288."""
    prefill = _llama4_ops(Batch(prefill_tokens=16384.0, prefill_sequences=1.0))
    assert prefill["attention chunked 8192"]["attention_prefill"] == 512.0 * 67_117_056
    assert prefill["attention"]["attention_prefill"] == 512.0 * 134_225_920
    decode = _llama4_ops(Batch(decode_tokens=64.0, decode_context=12288.0))
    assert decode["attention chunked 8192"]["attention_decode_kv"] == 256.0 * 64 * 4096
    assert decode["attention"]["attention_decode_kv"] == 256.0 * 64 * 12288
    # the cache a chunked layer keeps stays its chunk
    chunked = next(layer for layer in catalog.model("llama-4-scout").layers if layer.attention.chunk_size)
    assert chunked.attention.window == 8192 and chunked.attention.kept(12288.0) == 8192.0


def _windowed(model_id: str, window: int | None) -> Deployment:
    m = catalog.model(model_id)
    layers = tuple(dataclasses.replace(layer, attention=dataclasses.replace(layer.attention, sliding_window=window))
                   for layer in m.layers)
    s = catalog.system("hgx-h100")
    return Deployment(model=dataclasses.replace(m, layers=layers), system=s, layout=Layout(tp=1),
                      precision=Precision(), calibration=catalog.calibration(s.chip))


def test_a_window_one_to_two_windows_long_is_cheaper_than_full_attention() -> None:
    """The tester's case: Mistral-7B's 8,192-token prefill priced 206.09 ms with its 4,096 window and without it
    alike. Llama-3.1-8B given a 4,096 window: the same as full attention up to 4,096 tokens, cheaper at 6,144 and
    8,192 (where the old cap L x W did not yet bite)."""
    full, windowed = _windowed("llama-3.1-8b", None), _windowed("llama-3.1-8b", 4096)

    def prefill_s(dep: Deployment, tokens: float) -> float:
        return float(step_cost(dep, Batch(prefill_tokens=tokens, prefill_sequences=1.0)).time_s)

    assert prefill_s(windowed, 4096.0) == pytest.approx(prefill_s(full, 4096.0), rel=1e-12)
    for tokens in (6144.0, 8192.0):
        assert prefill_s(windowed, tokens) < prefill_s(full, tokens) * 0.99


def test_causal_training_core_counts_what_a_window_leaves() -> None:
    """Per token of a causal L-token sequence: full attention L / 2 keys; a window W at L = 2W: (W^2 / 2 + W x W)
    / 2W = 0.75 W; a chunk C at L = 2C: C / 2. Heads 8, head_dim 64: 2 x 8 x 128 = 2,048 FLOPs a key."""
    full = Attention(num_attention_heads=8, num_key_value_heads=8, head_dim=64)
    window = dataclasses.replace(full, sliding_window=1024)
    chunked = dataclasses.replace(full, chunk_size=1024)
    assert full.causal_score_flops_per_token(2048.0) == 2048.0 * 1024
    assert window.causal_score_flops_per_token(2048.0) == pytest.approx(2048.0 * 768)
    assert chunked.causal_score_flops_per_token(2048.0) == pytest.approx(2048.0 * 512)


def test_chunked_attention_takes_no_window() -> None:
    with pytest.raises(ValueError, match="chunk_size 8192.*sliding_window 4096"):
        Attention(num_attention_heads=8, num_key_value_heads=8, head_dim=64, chunk_size=8192, sliding_window=4096)
