"""Models whose Hugging Face class adds what config.json leaves unsaid: Cohere's Command models read as transformers
builds them (CohereForCausalLM, Cohere2ForCausalLM), and OLMo 2's q/k norms.

Each decoder layer holds one LayerNorm (a weight of hidden_size, no bias) that feeds the attention and the MLP in
parallel; the embedding is tied to the head; Command R+ adds LayerNorms of (heads, head_dim) on the queries and
(kv_heads, head_dim) on the keys (use_qk_norm); Cohere2 keeps a window of 4,096 in three layers of four, the fourth
attending to all with no RoPE (which changes no byte). The configs below are written from the model cards and the
checkpoints' module printouts (hidden, layers, heads, KV heads, MLP width, vocabulary 256,000), with the keys their
config.json files carry beside them. Parameters by hand, for hidden h, MLP width f, KV width k = kv_heads x 128:
  a layer = 2 h^2 + 2 h k (q, o; k, v) + 3 h f (gate, up, down) + h (its norm); the model = 256,000 h + L layers + h.
  Command R7B  (h 4,096,  L 32, k 1,024, f 14,336): 218,107,904 a layer, 8,028,033,024 (published 8.03 B; 9.08 B
               read as an unknown architecture, with an untied head and two norms a layer)
  Command R    (h 8,192,  L 40, k 8,192, f 22,528): 822,091,776 a layer, 34,980,831,232 (published 35 B)
  Command R+   (h 12,288, L 64, k 1,024, f 33,792): + (96 + 8) x 128 = 13,312 of q/k norms, 103,810,674,688 (104 B)
  Command A    (h 12,288, L 64, k 1,024, f 36,864): 1,686,122,496 a layer, 111,057,580,032 (published 111 B)
KV bytes a token in bf16, 2 x k x 2 B a layer: R7B 32 x 4,096 = 131,072 at up to 4,096 tokens; at 131,072 tokens the
24 sliding layers keep 4,096 of them: 8 x 4,096 + 24 x 4,096 x 4,096 / 131,072 = 35,840 (Command A: 16 and 48
layers, 65,536 + 6,144 = 71,680); Command R (MHA, k 8,192) 40 x 32,768 = 1,310,720; Command R+ 64 x 4,096 = 262,144.
"""

import pytest

from parity.dtypes import format_named
from parity.hf import model_from_config

# the keys Cohere's own exports carry that transformers' classes do not read (they state what the classes hard-code)
_ORIGINAL = {"use_parallel_block": True, "use_parallel_embedding": True, "use_embedding_sharing": True,
             "use_gated_activation": True, "rotary_pct": 1.0, "position_embedding_type": "rope_gptj",
             "order_of_interleaved_layers": "local_attn_first", "layer_switch": 4}
_COMMON = {"attention_bias": False, "attention_dropout": 0.0, "bos_token_id": 5, "eos_token_id": 255001,
           "pad_token_id": 0, "hidden_act": "silu", "initializer_range": 0.02, "layer_norm_eps": 1e-05,
           "vocab_size": 256000, "torch_dtype": "bfloat16", "use_cache": True}
COMMAND_R7B = {**_COMMON, **_ORIGINAL, "architectures": ["Cohere2ForCausalLM"], "model_type": "cohere2",
               "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
               "num_key_value_heads": 8, "head_dim": 128, "logit_scale": 0.25, "rope_theta": 50000,
               "sliding_window": 4096, "sliding_window_pattern": 4, "cache_implementation": "hybrid",
               "max_position_embeddings": 132096, "use_qk_norm": False}
COMMAND_R = {**_COMMON, "architectures": ["CohereForCausalLM"], "model_type": "cohere", "hidden_size": 8192,
             "intermediate_size": 22528, "num_hidden_layers": 40, "num_attention_heads": 64, "num_key_value_heads": 64,
             "logit_scale": 0.0625, "rope_theta": 8000000.0, "max_position_embeddings": 131072, "use_qk_norm": False}
COMMAND_R_PLUS = {**COMMAND_R, "hidden_size": 12288, "intermediate_size": 33792, "num_hidden_layers": 64,
                  "num_attention_heads": 96, "num_key_value_heads": 8, "logit_scale": 0.8333333333333334,
                  "rope_theta": 75000000.0, "use_qk_norm": True}
COMMAND_A = {**COMMAND_R7B, "hidden_size": 12288, "intermediate_size": 36864, "num_hidden_layers": 64,
             "num_attention_heads": 96, "num_key_value_heads": 8, "max_position_embeddings": 131072}


@pytest.mark.parametrize(("config", "parameters", "kv_bytes", "kv_bytes_at_128k"), [
    (COMMAND_R7B, 8_028_033_024, 131_072, 35_840),
    (COMMAND_R, 34_980_831_232, 1_310_720, 1_310_720),
    (COMMAND_R_PLUS, 103_810_674_688, 262_144, 262_144),
    (COMMAND_A, 111_057_580_032, 262_144, 71_680),
], ids=["command-r7b", "command-r", "command-r-plus", "command-a"])
def test_command_models_match_their_published_counts(config: dict, parameters: int, kv_bytes: int,
                                                     kv_bytes_at_128k: int) -> None:
    m = model_from_config(config)
    bf16 = format_named("bf16")
    assert (m.parameters, m.kv_cache_bytes_per_token(bf16, 4096), m.kv_cache_bytes_per_token(bf16, 131072)) \
        == (parameters, kv_bytes, kv_bytes_at_128k)
    assert m.tie_word_embeddings and {layer.norms for layer in m.layers} == {1} and m.flags == ()


def test_cohere2_keeps_every_fourth_layer_global_and_command_r_plus_norms_each_head() -> None:
    r7b, plus = model_from_config(COMMAND_R7B), model_from_config(COMMAND_R_PLUS)
    assert [(layer.count, layer.attention.sliding_window) for layer in r7b.layers[:2]] == [(3, 4096), (1, None)]
    attention = plus.layers[0].attention
    assert (attention.qk_norm, attention.qk_norm_per_head, attention.vector_parameters(12288)) == (True, True, 13_312)


def test_an_untied_cohere_export_counts_its_head() -> None:
    """tie_word_embeddings false, stated, adds the head: 256,000 x 4,096 = 1,048,576,000 weights."""
    untied = model_from_config({**COMMAND_R7B, "tie_word_embeddings": False})
    assert untied.parameters - model_from_config(COMMAND_R7B).parameters == 1_048_576_000


def test_olmo2_norms_each_head_of_its_queries_and_keys() -> None:
    """OLMo 2's q_norm and k_norm are RMSNorms over the whole projection (transformers Olmo2Attention: heads x
    head_dim and kv_heads x head_dim), not one head_dim each. OLMo-2-1124-7B (h 4,096, 32 layers of 32 heads, MLP
    11,008, vocabulary 100,352, untied): a layer 4 h^2 + 3 h f + 2 h (its two post-norms) + 2 h (q and k norms) =
    202,391,552; 32 of them, two 411,041,792 embeddings and the final norm: 7,298,617,344 (7.30 B published; it read
    7,298,363,392, 2 x 128 norm weights a layer)."""
    olmo2 = {"architectures": ["Olmo2ForCausalLM"], "model_type": "olmo2", "hidden_size": 4096,
             "intermediate_size": 11008, "num_attention_heads": 32, "num_key_value_heads": 32, "num_hidden_layers": 32,
             "vocab_size": 100352, "max_position_embeddings": 4096, "rms_norm_eps": 1e-06, "rope_theta": 500000,
             "tie_word_embeddings": False, "attention_bias": False, "hidden_act": "silu", "torch_dtype": "float32"}
    assert model_from_config(olmo2).parameters == 7_298_617_344
