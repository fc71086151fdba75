"""A config that leaves out a key its transformers class fills reads as the class fills it (hf.keys.CLASS_DEFAULTS).

Each catalog config below, with the named keys removed, gives back the stated model: parameters, KV bytes per token in
bf16 at a context, and fixed state per sequence.
Qwen3-Next-80B-A3B: 12 full-attention layers (every 4th of 48) of 2 KV heads x (256 + 256) = 24,576 B/token; 36
  Gated DeltaNet layers of 1,097,728 B = 39,518,208 B a sequence (without full_attention_interval it read 48 full
  layers: 98,304 B/token, no state; without head_dim, 2,048 / 16 = 128).
Qwen3.5-35B-A3B: 10 of 40 layers full, 2 x 2 x 256 x 2 B = 2,048 B each: 20,480 B/token (all 40: 81,920).
Qwen3.5-27B: 16 of 64 layers full, 2 x 4 x 256 x 2 B: 65,536 B/token.
Llama-4-Scout at 131,072 tokens: 12 global layers of 2 x 8 x 128 x 2 B = 4,096 B, 36 chunked ones keeping 8,192 of
  the 131,072 tokens, 256 B each: 49,152 + 9,216 = 58,368 B/token (unchunked: 48 x 4,096 = 196,608).
DeepSeek-V3.2 and GLM-5: 61 (78) layers of a 512 + 64 latent (1,152 B) and a 128-wide FP8 indexer key (132 B):
  78,324 (100,152) B/token; the class's index_n_heads, index_head_dim and index_topk keep the indexer.
"""

import json
from typing import Any

import pytest

from parity.catalog.files import data_dir
from parity.dtypes import FORMATS
from parity.hf import model_from_config

BF16 = FORMATS["bf16"]


def _config(name: str, removed: tuple[str, ...] = (), nested: str = "") -> dict[str, Any]:
    """The catalog's verbatim config `name`, the `removed` keys taken out of it (of its `nested` text config)."""
    config = json.loads((data_dir() / "models" / f"{name}_config.json").read_text())
    inner = config[nested] if nested else config
    for key in removed:
        assert key in inner, key  # the test removes what the file states
        del inner[key]
    return config


def _numbers(config: dict[str, Any], context: float) -> tuple[int, float, float]:
    m = model_from_config(config)
    assert m.flags == ()
    return m.parameters, m.kv_cache_bytes_per_token(BF16, context), m.state_bytes_per_sequence


_LINEAR = ("linear_num_key_heads", "linear_num_value_heads", "linear_key_head_dim", "linear_value_head_dim",
           "linear_conv_kernel_dim")
_MLA = ("kv_lora_rank", "q_lora_rank", "qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim")
_EXPERTS = ("moe_intermediate_size", "n_routed_experts", "num_experts_per_tok", "n_shared_experts",
            "first_k_dense_replace")
_INDEXER = ("index_n_heads", "index_head_dim", "index_topk")
CASES = [
    ("Qwen--Qwen3-Next-80B-A3B-Thinking", "", 32768, (79_674_391_296, 24_576, 39_518_208),
     [("full_attention_interval",), ("head_dim",), _LINEAR,
      ("full_attention_interval", "head_dim", "num_key_value_heads", "moe_intermediate_size",
       "shared_expert_intermediate_size", "num_experts", "num_experts_per_tok", "decoder_sparse_step") + _LINEAR]),
    ("Qwen--Qwen3.5-35B-A3B", "text_config", 32768, (34_660_610_688, 20_480, 64_389_120),
     [("layer_types", "full_attention_interval"), ("attn_output_gate",),
      ("model_type", "layer_types", "full_attention_interval"),  # the wrapper's text class: Qwen3_5MoeTextConfig
      ("layer_types", "full_attention_interval", "head_dim", "attn_output_gate", "num_key_value_heads",
       "moe_intermediate_size", "shared_expert_intermediate_size", "num_experts", "num_experts_per_tok") + _LINEAR]),
    ("Qwen--Qwen3.5-27B", "text_config", 32768, (26_895_998_464, 65_536, 153_944_064),
     [("layer_types", "full_attention_interval", "head_dim", "attn_output_gate", "num_key_value_heads")]),
    ("meta-llama--Llama-4-Scout-17B-16E-Instruct", "text_config", 131072, (107_769_873_408, 58_368, 0),
     [("attention_chunk_size",), ("intermediate_size_mlp",), ("model_type", "attention_chunk_size"),
      ("attention_chunk_size", "head_dim", "num_key_value_heads", "use_qk_norm", "intermediate_size",
       "intermediate_size_mlp", "num_local_experts", "num_experts_per_tok", "interleave_moe_layer_step")]),
    ("deepseek-ai--DeepSeek-V3.2", "", 32768, (671_877_944_064, 78_324, 0), [_INDEXER, _MLA + _EXPERTS + _INDEXER]),
    ("zai-org--GLM-5", "", 32768, (743_911_218_432, 100_152, 0), [_INDEXER, _MLA + _EXPERTS + _INDEXER]),
    ("Qwen--Qwen3-32B", "", 4096, (32_762_123_264, 262_144, 0), [("head_dim",)]),
    ("zai-org--GLM-4.7-FP8", "", 4096, (352_796_472_320, 376_832, 0),
     [("num_key_value_heads", "num_experts_per_tok", "n_shared_experts")]),
]


@pytest.mark.parametrize(("name", "nested", "context", "stated", "removed"),
                         [(n, t, c, s, r) for n, t, c, s, rs in CASES for r in rs],
                         ids=[f"{n.split('--')[1]}-{'+'.join(r) if len(r) < 3 else f'{len(r)} keys'}"
                              for n, _, _, _, rs in CASES for r in rs])
def test_a_key_left_out_takes_its_class_default(name: str, nested: str, context: int,
                                                 stated: tuple[int, int, int], removed: tuple[str, ...]) -> None:
    assert _numbers(_config(name), context) == stated
    assert _numbers(_config(name, removed, nested), context) == stated


def test_the_defaults_keep_the_features_the_stated_config_has() -> None:
    """The features a report names (linear_attention, chunked_attention, dsa, output_gate) stay."""
    qwen = model_from_config(_config("Qwen--Qwen3-Next-80B-A3B-Thinking", ("full_attention_interval",)))
    assert qwen.features == {"linear_attention", "moe", "output_gate", "qk_norm"}
    qwen35 = model_from_config(_config("Qwen--Qwen3.5-27B", ("attn_output_gate",), "text_config"))
    assert "output_gate" in qwen35.features
    scout = model_from_config(_config("meta-llama--Llama-4-Scout-17B-16E-Instruct", ("attention_chunk_size",),
                                      "text_config"))
    assert scout.features == {"chunked_attention", "moe", "qk_norm"}
    dsa = model_from_config(_config("deepseek-ai--DeepSeek-V3.2", _INDEXER))
    assert {layer.attention.index_heads for layer in dsa.layers} == {64}


def test_a_key_stated_null_keeps_its_own_meaning() -> None:
    """attention_chunk_size null is Llama4TextConfig's 'no chunking' (the class keeps None): every layer global."""
    config = _config("meta-llama--Llama-4-Scout-17B-16E-Instruct")
    config["text_config"]["attention_chunk_size"] = None
    assert model_from_config(config).kv_cache_bytes_per_token(BF16, 131072) == 196_608
