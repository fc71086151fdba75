"""Hugging Face key names: the alias table, the keys parity reads or knows to be harmless, the keys it refuses,
sanity bounds, and the model types it knows and their classes' defaults (`hf.values` reads the values, `hf.checks`
checks a config's keys against these tables)."""

from __future__ import annotations

from typing import Any

__all__ = ["ALIASES", "CLASS_DEFAULTS", "CLASS_TYPES", "KNOWN_TYPES"]

# parity name -> accepted HF keys, first found wins
ALIASES: dict[str, tuple[str, ...]] = {
    "hidden_size": ("hidden_size", "d_model", "n_embd", "dim"),
    "num_layers": ("num_hidden_layers", "n_layer", "num_layers", "n_layers"),
    "num_attention_heads": ("num_attention_heads", "n_head", "n_heads"),
    "num_key_value_heads": ("num_key_value_heads", "num_kv_heads", "n_kv_heads", "multi_query_group_num",
                            "kv_n_heads"),
    "head_dim": ("head_dim", "kv_channels"),
    "intermediate_size": ("intermediate_size", "ffn_dim", "n_inner", "ffn_hidden_size"),
    "vocab_size": ("vocab_size", "padded_vocab_size"),
    "num_experts": ("n_routed_experts", "num_local_experts", "num_experts", "moe_num_experts"),
    "experts_per_token": ("num_experts_per_tok", "experts_per_token", "moe_topk", "top_k_experts", "top_k",
                          "moe_top_k"),
    "expert_intermediate_size": ("moe_intermediate_size", "expert_intermediate_size"),
    "num_shared_experts": ("n_shared_experts", "num_shared_experts", "num_shared_expert"),
    "shared_intermediate_size": ("shared_expert_intermediate_size",),
    "first_dense_layers": ("first_k_dense_replace",),
    "moe_layer_frequency": ("moe_layer_freq", "decoder_sparse_step"),
    "max_position_embeddings": ("max_position_embeddings", "n_positions", "seq_length"),
    # Mamba2 (Nemotron-H spelling first, Granite 4's mamba_* second)
    "mamba_num_heads": ("mamba_num_heads", "mamba_n_heads"),
    "mamba_head_dim": ("mamba_head_dim", "mamba_d_head"),
    "ssm_state_size": ("ssm_state_size", "mamba_d_state"),
    "n_groups": ("n_groups", "mamba_n_groups"),
    "conv_kernel": ("conv_kernel", "mamba_d_conv"),
    "expand": ("expand", "mamba_expand"),
    "use_conv_bias": ("use_conv_bias", "mamba_conv_bias"),
}

_QK_NORM_TYPES = {"qwen3", "qwen3_moe", "olmo2", "gemma3", "gemma3_text", "qwen3_next", "qwen3_5_text",
                  "qwen3_5_moe_text", "qwen3_vl_text", "qwen3_vl_moe_text", "step3p7", "mimo_v2_flash"}
# q and k norms with a weight per head, not one head_dim shared: Cohere's LayerNorms (use_qk_norm) of (heads,
# head_dim); OLMo 2's RMSNorms over the whole projection (transformers Olmo2Attention: q_norm of num_attention_heads
# x head_dim, k_norm of num_key_value_heads x head_dim)
_PER_HEAD_QK_NORM_TYPES = {"cohere", "olmo2"}
# q, k and v biases, no o bias: transformers' Qwen2Attention, Qwen2MoeAttention, and the language models of Qwen2-VL
# and Qwen2.5-VL (Qwen2VLAttention, Qwen2_5_VLAttention: q_proj/k_proj/v_proj bias=True, o_proj bias=False), whose
# configs are flat (model_type qwen2_vl / qwen2_5_vl, text sizes at the top level) or nest a *_text config
_QWEN2_VL_TYPES = {"qwen2_vl", "qwen2_5_vl", "qwen2_vl_text", "qwen2_5_vl_text"}
_QKV_BIAS_TYPES = {"qwen2", "qwen2_moe"} | _QWEN2_VL_TYPES
# attention_bias biases q, k and v alone: transformers' Glm4MoeAttention (modeling_glm4_moe.py: q_proj, k_proj and
# v_proj bias=config.attention_bias, o_proj bias=False), where Llama's biases o_proj too
_QKV_ONLY_BIAS_TYPES = {"glm4_moe"}
# GPT-2-style blocks: a plain (not gated) MLP of 4 x hidden unless stated, biases on every linear layer (StarCoder2
# and GPTBigCode: c_fc and c_proj, transformers' Starcoder2MLP and GPTBigCodeMLP; StarCoder2's use_bias defaults true)
_UNGATED_TYPES = {"gpt2", "bloom", "opt", "gpt_neox", "nemotron", "starcoder2", "gpt_bigcode"}
_BIASED_TYPES = {"gpt2", "bloom", "opt", "gpt_neox", "starcoder2", "gpt_bigcode"}
# Hugging Face's own default for these classes ties the LM head to the embedding when the key is absent
_TIED_TYPES = {"gpt2", "bloom", "opt", "gemma", "gemma2", "gemma3", "gemma3_text", "cohere", "cohere2", "starcoder2",
               "gpt_bigcode"}
# sandwich norms: an RMSNorm before and after both the attention and the MLP (Gemma 2 and 3)
_FOUR_NORM_TYPES = {"gemma2", "gemma3", "gemma3_text"}
# parallel blocks: one LayerNorm (weight, no bias) feeds both the attention and the MLP, whose outputs are added to
# the residual together (transformers' CohereDecoderLayer, Cohere2DecoderLayer): the same matmuls, one norm
_PARALLEL_TYPES = {"cohere", "cohere2"}
# a sigmoid gate on the shared expert's output (Qwen2-MoE lineage)
_SHARED_GATE_TYPES = {"qwen2_moe", "qwen3_next", "qwen3_5_moe_text"}
# a sigmoid output gate on every softmax-attention layer unless attn_output_gate says false: transformers'
# Qwen3NextAttention (and Qwen3_5Attention, its subclass) always projects 2 x heads x head_dim queries, and vLLM's
# Qwen3NextAttention reads getattr(config, "attn_output_gate", True)
_OUTPUT_GATE_TYPES = {"qwen3_next", "qwen3_5_text", "qwen3_5_moe_text"}

# model types whose layers parity translates knowingly: those of the catalog's verbatim configs (and their
# multimodal wrappers) and those the tables above name; any other is read from its keys alone, and flagged
KNOWN_TYPES = frozenset({
    "bloom", "cohere", "cohere2", "dbrx", "deepseek_v3", "deepseek_v32", "gemma", "gemma2", "gemma3", "gemma3_text",
    "gemma4", "gemma4_text", "glm4_moe", "glm4_moe_lite", "glm_moe_dsa", "gpt2", "gpt_bigcode", "gpt_neox", "gpt_oss",
    "granitemoehybrid", "hunyuan", "kimi_k2", "kimi_k25", "llama", "llama4", "llama4_text", "mamba2", "mimo",
    "mimo_v2_flash", "minimax", "minimax_m1", "minimax_m2", "mistral", "mixtral", "nemotron", "nemotron_h", "olmo2",
    "opt", "palm", "phi3", "qwen2", "qwen2_moe", "qwen3", "qwen3_5", "qwen3_5_moe", "qwen3_5_moe_text", "qwen3_5_text",
    "qwen3_moe", "qwen3_next", "qwen3_vl", "qwen3_vl_moe", "qwen3_vl_moe_text", "qwen3_vl_text", "starcoder2",
    "step3p7"}) | _QWEN2_VL_TYPES
# the model_type a config that states none is read by, from the class its `architectures` names first: transformers'
# auto mappings (models/auto/modeling_auto.py, MODEL_FOR_CAUSAL_LM_MAPPING_NAMES and
# MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES) and the catalog's verbatim configs, which state both; every value is in
# KNOWN_TYPES (DeepseekV3ForCausalLM is Kimi-K2's class too: its configs say kimi_k2, read the same way)
CLASS_TYPES: dict[str, str] = {
    "BloomForCausalLM": "bloom", "CohereForCausalLM": "cohere", "Cohere2ForCausalLM": "cohere2",
    "DbrxForCausalLM": "dbrx", "DeepseekV3ForCausalLM": "deepseek_v3", "DeepseekV32ForCausalLM": "deepseek_v32",
    "GemmaForCausalLM": "gemma", "Gemma2ForCausalLM": "gemma2", "Gemma3ForCausalLM": "gemma3_text",
    "Gemma3ForConditionalGeneration": "gemma3", "Gemma4ForConditionalGeneration": "gemma4",
    "Glm4MoeForCausalLM": "glm4_moe", "Glm4MoeLiteForCausalLM": "glm4_moe_lite", "GlmMoeDsaForCausalLM": "glm_moe_dsa",
    "GPT2LMHeadModel": "gpt2", "GPTBigCodeForCausalLM": "gpt_bigcode", "GPTNeoXForCausalLM": "gpt_neox",
    "GptOssForCausalLM": "gpt_oss", "GraniteMoeHybridForCausalLM": "granitemoehybrid",
    "HunYuanMoEV1ForCausalLM": "hunyuan", "KimiK25ForConditionalGeneration": "kimi_k25", "LlamaForCausalLM": "llama",
    "Llama4ForCausalLM": "llama4_text", "Llama4ForConditionalGeneration": "llama4", "Mamba2ForCausalLM": "mamba2",
    "MiMoForCausalLM": "mimo", "MiMoV2FlashForCausalLM": "mimo_v2_flash", "MiniMaxForCausalLM": "minimax",
    "MiniMaxM1ForCausalLM": "minimax_m1", "MiniMaxM2ForCausalLM": "minimax_m2", "MistralForCausalLM": "mistral",
    "MixtralForCausalLM": "mixtral", "NemotronForCausalLM": "nemotron", "NemotronHForCausalLM": "nemotron_h",
    "Olmo2ForCausalLM": "olmo2", "OPTForCausalLM": "opt", "PaLMForCausalLM": "palm", "Phi3ForCausalLM": "phi3",
    "Qwen2ForCausalLM": "qwen2", "Qwen2MoeForCausalLM": "qwen2_moe",
    "Qwen2VLForConditionalGeneration": "qwen2_vl", "Qwen2_5_VLForConditionalGeneration": "qwen2_5_vl",
    "Qwen3ForCausalLM": "qwen3", "Qwen3MoeForCausalLM": "qwen3_moe", "Qwen3NextForCausalLM": "qwen3_next",
    "Qwen3VLForConditionalGeneration": "qwen3_vl", "Qwen3VLMoeForConditionalGeneration": "qwen3_vl_moe",
    "Qwen3_5ForConditionalGeneration": "qwen3_5", "Qwen3_5MoeForConditionalGeneration": "qwen3_5_moe",
    "Starcoder2ForCausalLM": "starcoder2", "Step3p7FlashForCausalLM": "step3p7"}
# keys that add a part a plain decoder has no module for: routed experts, a latent (MLA) attention, a sparse indexer,
# chunked, linear, lightning or Mamba layers, MTP modules (top_k aside: PretrainedConfig's sampling option too)
_PART_KEYS = frozenset({
    *(key for name in ("num_experts", "experts_per_token", "expert_intermediate_size", "num_shared_experts",
                       "shared_intermediate_size", "first_dense_layers", "moe_layer_frequency")
      for key in ALIASES[name]),
    "kv_lora_rank", "q_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "index_n_heads", "index_head_dim",
    "index_topk", "attention_chunk_size", "no_rope_layers", "attn_type_list", "hybrid_override_pattern",
    "full_attention_interval", "hybrid_layer_pattern", "linear_num_key_heads", "linear_num_value_heads",
    "linear_key_head_dim", "linear_value_head_dim", "num_nextn_predict_layers", "mtp_num_hidden_layers",
    "num_mtp_modules", "moe_latent_size", "intermediate_size_mlp", "interleave_moe_layer_step", "mlp_only_layers"}
    - {"top_k"})
# dense decoder classes whose transformers class reads none of _PART_KEYS (LlamaForCausalLM builds a dense MLP and
# full attention whatever num_local_experts or attention_chunk_size says): such a key in their config is left unread,
# flagged, rather than turning a Llama into a Mixtral (_unread_parts)
_PLAIN_TYPES = frozenset({"bloom", "cohere", "cohere2", "gemma", "gemma2", "gemma3", "gemma3_text", "gpt2",
                          "gpt_bigcode", "gpt_neox", "llama", "mistral", "nemotron", "olmo2", "opt", "phi3", "qwen2",
                          "qwen3", "starcoder2"})
# keys of _PART_KEYS that one family's classes alone read -> those model types: any other known class leaves the key
# unread (_unread_parts). Chunked attention is Llama4TextConfig's (transformers' attention_chunk_size; GptOssConfig,
# Qwen3NextConfig and MiMoV2FlashConfig take it into **kwargs and no layer reads it)
_READ_ONLY_BY = {"attention_chunk_size": frozenset({"llama4", "llama4_text"})}
# model type -> keys its classes read only beside another key: a Llama's sliding_window only beside layer_types
# (LlamaConfig has neither and transformers' LlamaAttention passes no window; vLLM's llama.py builds its Attention
# with no sliding_window, and since v0.10 with config.sliding_window on the layers layer_types marks
# sliding_attention): without layer_types it windows no layer, and is left unread (_unread_parts)
_READ_ONLY_BESIDE = {"llama": {"sliding_window": "layer_types"}}
# Multi-head Latent Attention in every layer: kv_lora_rank must be >= 1 (a zero-rank latent is no model)
_MLA_TYPES = {"deepseek_v2", "deepseek_v3", "deepseek_v32", "kimi_k2", "glm4_moe_lite", "glm_moe_dsa"}
# Hugging Face's config-class defaults for the keys that shape a class's attention and experts, which an absent
# key takes as from_pretrained gives it (transformers' configuration_<model>.py: DeepseekV3Config, Qwen3MoeConfig,
# MixtralConfig, GptOssConfig, Gemma2Config, Gemma3TextConfig, Cohere2Config). The sizes every decoder states
# (hidden_size, layers, heads, vocab) stay required, but where a class's released configs leave them out (Gemma 3's
# vocab and heads). A class that fills an absent layer_types in __post_init__ with
# `"sliding_attention" if (i + 1) % N else "full_attention"` (every N-th layer full) has that N here as
# sliding_window_pattern, the key Gemma 3 and Cohere2 configs state it by: 2 for GptOssConfig and Gemma2Config,
# Gemma3TextConfig's sliding_window_pattern=6, Cohere2Config's 4.
CLASS_DEFAULTS: dict[str, dict[str, Any]] = {
    "deepseek_v3": {"kv_lora_rank": 512, "q_lora_rank": 1536, "qk_rope_head_dim": 64, "qk_nope_head_dim": 128,
                    "v_head_dim": 128, "moe_intermediate_size": 2048, "n_routed_experts": 256,
                    "num_experts_per_tok": 8, "n_shared_experts": 1, "first_k_dense_replace": 3},
    "qwen3_moe": {"moe_intermediate_size": 768, "num_experts": 128, "num_experts_per_tok": 8,
                  "decoder_sparse_step": 1, "num_key_value_heads": 4, "use_sliding_window": False},
    "mixtral": {"num_local_experts": 8, "num_experts_per_tok": 2, "num_key_value_heads": 8},
    "gpt_oss": {"num_local_experts": 128, "num_experts_per_tok": 4, "head_dim": 64, "num_key_value_heads": 8,
                "sliding_window": 128, "sliding_window_pattern": 2, "attention_bias": True},
    "gemma2": {"head_dim": 256, "num_key_value_heads": 4, "sliding_window": 4096, "sliding_window_pattern": 2},
    # Gemma3TextConfig.__init__ (transformers v4.50, configuration_gemma3.py; the same at d98ac17): Google's own
    # Gemma 3 text_configs leave out vocab_size (27B) and the head counts too (4B), as the class fills them; and
    # max_position_embeddings, the context window they are run at
    "gemma3_text": {"vocab_size": 262_208, "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256,
                    "max_position_embeddings": 131_072, "sliding_window": 4096, "sliding_window_pattern": 6},
    "cohere2": {"sliding_window": 4096, "sliding_window_pattern": 4},
    # MistralConfig.__init__ (transformers 001f85b, configuration_mistral.py): 8 KV heads, a window of 4,096 unless
    # the config states one or null (Mistral-7B-v0.3 states null: full attention)
    "mistral": {"num_key_value_heads": 8, "sliding_window": 4096},
    "gpt_bigcode": {"multi_query": True},  # GPTBigCodeConfig: one K/V head unless multi_query is false
    "dbrx": {"num_key_value_heads": 1},  # DbrxAttentionConfig: kv_n_heads defaults to 1
    # transformers 008e5743 (v5; the same values in v4.57's __init__ signatures): Qwen3Config (num_key_value_heads
    # a fixed 32, not the query heads; sliding off unless use_sliding_window), Glm4MoeConfig, DeepseekV32Config and
    # GlmMoeDsaConfig (DeepseekV3Config's MLA and experts, GLM-5's own sizes, and the DSA indexer's index_*)
    "qwen3": {"head_dim": 128, "num_key_value_heads": 32, "use_sliding_window": False},
    # Qwen2Config, Qwen2VLConfig / Qwen2VLTextConfig and Qwen2_5_VLConfig / Qwen2_5_VLTextConfig: sliding off unless
    # use_sliding_window (their sliding_window and max_window_layers keys are otherwise unused)
    **{name: {"use_sliding_window": False} for name in ("qwen2", *sorted(_QWEN2_VL_TYPES))},
    "glm4_moe": {"num_key_value_heads": 8, "moe_intermediate_size": 1408, "n_routed_experts": 128,
                 "num_experts_per_tok": 8, "n_shared_experts": 1, "first_k_dense_replace": 1},
    "deepseek_v32": {"kv_lora_rank": 512, "q_lora_rank": 1536, "qk_rope_head_dim": 64, "qk_nope_head_dim": 128,
                     "v_head_dim": 128, "moe_intermediate_size": 2048, "n_routed_experts": 256,
                     "num_experts_per_tok": 8, "n_shared_experts": 1, "first_k_dense_replace": 3,
                     "index_n_heads": 64, "index_head_dim": 128, "index_topk": 2048},
    "glm_moe_dsa": {"kv_lora_rank": 512, "q_lora_rank": 2048, "qk_rope_head_dim": 64, "qk_nope_head_dim": 192,
                    "v_head_dim": 256, "moe_intermediate_size": 2048, "n_routed_experts": 256,
                    "num_experts_per_tok": 8, "n_shared_experts": 1, "first_k_dense_replace": 3,
                    "index_n_heads": 32, "index_head_dim": 128, "index_topk": 2048},
    # Gated DeltaNet hybrids (transformers 008e5743 Qwen3NextConfig, Qwen3_5TextConfig, Qwen3_5MoeTextConfig; v4.57's
    # Qwen3NextConfig the same): __post_init__ fills an absent layer_types with every full_attention_interval-th
    # layer (default 4) full attention, the others linear; head_dim 256 whatever hidden / heads is
    "qwen3_next": {"head_dim": 256, "num_key_value_heads": 2, "full_attention_interval": 4,
                   "linear_num_key_heads": 16, "linear_num_value_heads": 32, "linear_key_head_dim": 128,
                   "linear_value_head_dim": 128, "linear_conv_kernel_dim": 4, "moe_intermediate_size": 512,
                   "shared_expert_intermediate_size": 512, "num_experts": 512, "num_experts_per_tok": 10,
                   "decoder_sparse_step": 1},
    "qwen3_5_text": {"head_dim": 256, "num_key_value_heads": 4, "full_attention_interval": 4,
                     "linear_num_key_heads": 16, "linear_num_value_heads": 32, "linear_key_head_dim": 128,
                     "linear_value_head_dim": 128, "linear_conv_kernel_dim": 4},
    "qwen3_5_moe_text": {"head_dim": 256, "num_key_value_heads": 2, "full_attention_interval": 4,
                         "linear_num_key_heads": 16, "linear_num_value_heads": 32, "linear_key_head_dim": 128,
                         "linear_value_head_dim": 128, "linear_conv_kernel_dim": 4, "moe_intermediate_size": 512,
                         "shared_expert_intermediate_size": 512, "num_experts": 256, "num_experts_per_tok": 8},
    # Llama4TextConfig (transformers 008e5743; v4.51's __init__ the same): chunked attention of 8,192 on every layer
    # but each no_rope_layer_interval-th (4), L2 q/k norms, 16 experts of intermediate_size 8,192 top-1 beside dense
    # MLPs of intermediate_size_mlp (parity reads that key's presence as Llama 4's MoE layout)
    "llama4_text": {"head_dim": 128, "num_key_value_heads": 8, "attention_chunk_size": 8192,
                    "no_rope_layer_interval": 4, "use_qk_norm": True, "intermediate_size": 8192,
                    "intermediate_size_mlp": 16384, "num_local_experts": 16, "num_experts_per_tok": 1,
                    "interleave_moe_layer_step": 1},
}

# sanity bounds, checked before anything is built per layer: a config past them is a typo or an attack
# (the largest released: 512 routed experts, Qwen3-Next; an MLA latent of 512 and query rank of 1,536, DeepSeek-V3)
_BOUNDS = {"num_layers": 10_000, "hidden_size": 1_000_000, "vocab_size": 100_000_000,
           "num_attention_heads": 100_000, "num_key_value_heads": 100_000, "head_dim": 100_000,
           "intermediate_size": 10_000_000, "expert_intermediate_size": 10_000_000, "num_experts": 10_000,
           "experts_per_token": 10_000, "num_shared_experts": 1_000, "shared_intermediate_size": 10_000_000,
           "first_dense_layers": 10_000, "max_position_embeddings": 1_000_000_000_000,
           "kv_lora_rank": 100_000, "q_lora_rank": 100_000, "qk_nope_head_dim": 100_000,
           "qk_rope_head_dim": 100_000, "v_head_dim": 100_000}
_LIMIT = 100_000_000  # any other count parity reads
# keys that bound the positions a model takes, the smallest present winning, as vLLM derives max_model_len
# (vllm/config.py _get_and_verify_max_len, v0.6-v0.10; vllm/config/model.py since)
CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length", "model_max_length",
                "max_target_positions", "max_sequence_length", "max_seq_length", "seq_len")
# RoPE types whose factor is already inside max_position_embeddings (vLLM scales no further for these)
UNSCALED_ROPE_TYPES = ("su", "longrope", "llama3")

# keys whose meaning changes compute or memory in a way parity cannot model: the model is refused
_REFUSED = {"block_configs": "per-layer block_configs (heterogeneous NAS layers)",
            "attn_layer_period": "Mamba (v1) layers of Jamba-style hybrids",
            "compress_ratios": "compressed sparse attention (DeepSeek-V4)",
            "mamba_d_ssm": "parallel attention + Mamba2 layers (Falcon-H1)",
            "use_cla": "cross-layer attention sharing K and V between layers (Hunyuan CLA)"}
# model types whose layers parity cannot model: the model is refused, naming them
_REFUSED_TYPES = {"mamba": "Mamba (v1) layers, no attention",
                  "falcon_mamba": "Mamba (v1) layers, no attention"}
# model types of encoder-only classes (transformers' models/auto/modeling_auto.py, MODEL_FOR_MASKED_LM_MAPPING_NAMES)
# and encoder-decoder ones (MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES, MODEL_FOR_SPEECH_SEQ_2_SEQ_MAPPING_NAMES):
# parity prices a causal decoder generating with a KV cache; an encoder reads its whole input at once and keeps no
# cache, and an encoder-decoder adds cross-attention. A class named *ForMaskedLM, or is_encoder_decoder true, is one
# whatever its model_type
_ENCODER_TYPES = frozenset({"albert", "bert", "big_bird", "camembert", "convbert", "data2vec-text", "deberta",
                            "deberta-v2", "distilbert", "electra", "ernie", "esm", "fnet", "funnel", "ibert",
                            "longformer", "luke", "megatron-bert", "mobilebert", "modernbert", "mpnet", "mra",
                            "nomic_bert", "nystromformer", "rembert", "roberta", "roberta-prelayernorm", "roformer",
                            "squeezebert", "xlm-roberta", "xlm-roberta-xl", "xmod", "yoso"})
_ENCODER_DECODER_TYPES = frozenset({"bart", "bigbird_pegasus", "blenderbot", "blenderbot-small", "encoder-decoder",
                                    "fsmt", "led", "longt5", "m2m_100", "marian", "mbart", "mt5", "mvp", "nllb-moe",
                                    "pegasus", "pegasus_x", "plbart", "prophetnet", "seamless_m4t",
                                    "switch_transformers", "t5", "t5gemma", "umt5", "whisper", "xlm-prophetnet"})
# DBRX states its attention's and experts' sizes in nested records (transformers' DbrxAttentionConfig,
# DbrxFFNConfig), read as top-level keys; the records' other keys are PretrainedConfig's, which DbrxConfig ignores
_NESTED = {"dbrx": {"attn_config": ("kv_n_heads", "clip_qkv", "attn_pdrop", "rope_theta"),
                    "ffn_config": ("ffn_hidden_size", "moe_num_experts", "moe_top_k", "ffn_act_fn",
                                   "moe_jitter_eps", "moe_loss_weight", "moe_normalize_expert_weights",
                                   "uniform_expert_assignment")}}
# a pure Mamba-2 stack (transformers' Mamba2Config) names its mixer's sizes as Mamba2Mixer reads them: read as the
# Nemotron-H spelling (ALIASES) of a hybrid's Mamba2 layers, so `head_dim` is never taken for attention's
_RENAMED = {"mamba2": {"num_heads": "mamba_num_heads", "head_dim": "mamba_head_dim", "state_size": "ssm_state_size"}}
# keys that matter only when another key is set: moot (neither read nor flagged) while that key is 0 or false
_MOOT_UNLESS = {"shared_moe_mode": "shared_intermediate_size", "cla_share_factor": "use_cla"}
# keys read (besides ALIASES and CONTEXT_KEYS)
_READ = {
    "model_type", "architectures", "text_config", "vision_config", "language_config", "llm_config",
    "quantization_config", "torch_dtype", "dtype", "tie_word_embeddings", "layer_types", "sliding_window",
    "use_sliding_window", "max_window_layers", "sliding_window_pattern", "_sliding_window_pattern",
    "full_attention_interval", "attention_chunk_size", "no_rope_layers", "no_rope_layer_interval", "attention_bias",
    "enable_bias",
    "qkv_bias", "mlp_bias", "use_qk_norm", "qk_norm_type", "attn_output_gate", "kv_lora_rank", "q_lora_rank",
    "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim", "qk_head_dim", "index_n_heads", "index_head_dim",
    "index_topk", "linear_num_key_heads", "linear_num_value_heads", "linear_key_head_dim",
    "linear_value_head_dim", "linear_conv_kernel_dim", "mamba_ssm_dtype", "mamba_ssm_cache_dtype",
    "hybrid_override_pattern", "mamba_num_heads", "mamba_head_dim", "ssm_state_size", "n_groups", "conv_kernel",
    "expand", "use_conv_bias", "mamba_proj_bias", "use_bias", "mlp_hidden_act", "hidden_act", "hidden_activation",
    "mlp_only_layers", "interleave_moe_layer_step", "intermediate_size_mlp", "moe_shared_expert_intermediate_size",
    "share_expert_dim", "topk_method", "use_routing_bias", "use_moe_router_bias", "num_nextn_predict_layers",
    "mtp_num_hidden_layers", "num_mtp_modules", "mtp_transformer_layers", "use_mtp", "mtp_use_dedicated_embeddings",
    "mtp_hybrid_override_pattern", "attention_head_dim", "rotary_dim", "partial_rotary_factor",
    "hybrid_layer_pattern", "swa_num_attention_heads", "swa_num_key_value_heads", "swa_head_dim",
    "swa_v_head_dim", "sliding_window_size", "add_swa_attention_sink_bias", "add_full_attention_sink_bias",
    "chunk_size", "enable_moe_block", "top_k_experts", "initial_context_length", "swiglu_limit",
    "n_shared_experts", "experts_per_token", "moe_latent_size", "multi_query", "mlp_type", "activation_function",
    "mlp_layer_types", "num_attention_heads_per_layer"}
# keys known not to change compute or memory (ids, init, dropout, RoPE, losses, runtime options)
_HARMLESS = {
    "bos_token_id", "eos_token_id", "pad_token_id", "sep_token_id", "decoder_start_token_id", "image_token_id",
    "video_token_id", "audio_token_id", "vision_start_token_id", "vision_end_token_id", "media_placeholder_token_id",
    "boi_token_id", "eoi_token_id", "boa_token_id", "eoa_token_id", "eoa_token_index", "ignore_index",
    "video_placeholder", "vision_soft_tokens_per_image", "use_unified_vision_chunk", "audio_config",
    # Gemma 3's begin- and end-of-image token ids, and the prompt tokens an image becomes (mm_tokens_per_image, as
    # vision_soft_tokens_per_image: a workload's prompt length counts them; no weight, compute per token or cache)
    "boi_index", "eoi_index", "mm_tokens_per_image",
    "initializer_range", "rms_norm_eps", "layer_norm_epsilon", "layernorm_epsilon", "norm_eps", "attention_dropout",
    "hidden_dropout", "rope_theta", "rope_scaling", "rope_parameters", "rope_interleave", "indexer_rope_interleave",
    "swa_rope_theta", "compress_rope_theta", "use_mrope", "router_aux_loss_coef", "aux_loss_alpha", "seq_aux",
    "output_router_logits", "norm_topk_prob", "scoring_func", "routed_scaling_factor", "moe_router_scaling_factor",
    "n_group", "topk_group", "ep_size", "use_cache", "transformers_version", "auto_map", "_name_or_path",
    "num_logits_to_keep", "pretraining_tp", "rescale_prenorm_residual", "residual_in_fp32", "use_mamba_kernels",
    "time_step_floor", "time_step_limit", "time_step_max", "time_step_min", "time_step_rank", "mamba_hidden_act",
    "final_logit_softcapping", "attention_value_scale", "use_bidirectional_attention", "expert_dtype",
    "moe_shared_expert_overlap", "apply_residual_connection_post_layernorm",
    "attention_softmax_in_fp32", "masked_softmax_fusion", "slow_but_exact", "tokenizer_class",
    "embedding_multiplier", "attention_multiplier", "residual_multiplier", "logits_scaling", "position_embedding_type",
    "mamba_chunk_size", "normalization_function", "init_method", "query_pre_attn_scalar", "rope_local_base_freq",
    "attn_logit_softcapping", "cache_implementation", "attn_type_list", "postnorm", "block_size",
    "layernorm_full_attention_alpha", "layernorm_full_attention_beta", "layernorm_linear_attention_alpha",
    "layernorm_linear_attention_beta", "layernorm_mlp_alpha", "layernorm_mlp_beta", "use_mixed_mlp_moe",
    "norm_type", "use_rotary_pos_emb", "dense_list", "org_vocab_size", "pool_type", "layer_norm_eps",
    # Cohere: logit_scale multiplies the logits by a constant; the original release's keys below state what
    # transformers' and vLLM's Cohere classes hard-code and never read (parallel block, SwiGLU, full interleaved
    # RoPE, tied embedding, layer_switch = sliding_window_pattern, sliding layers first in each group)
    "logit_scale", "use_parallel_block", "use_parallel_embedding", "use_embedding_sharing", "use_gated_activation",
    "rotary_pct", "layer_switch", "order_of_interleaved_layers",
    # Hunyuan's special-token ids and the options of a vision tower that its text checkpoints leave out
    # (vit_type and vit_path stay flagged: set, they would add one)
    "eod_token_id", "pad_id", "im_start_id", "im_end_id", "im_newline_id", "text_start_id", "text_end_id",
    "video_start_id", "video_end_id", "mask_init_id", "num_media_embeds", "anyres_pooling_size",
    "vit_input_resolution", "vit_mapping_type", "vit_norm_type", "vit_patch", "vit_token",
    # runtime and loader options (the attention kernel, transformers.js's export, a Llama-style marker), GPT-2's and
    # StarCoder2's dropouts, GPT-2's sequence-summary head (not part of a causal LM), StarCoder2's norm epsilon and
    # GPTBigCode's softmax scaling; original_max_position_embeddings at the top level (Phi-3's longrope picks its
    # short or long factors by it; vLLM's max_model_len reads it only inside rope_scaling, for YaRN)
    "_attn_implementation", "attn_implementation", "transformers.js_config", "is_llama_config", "_from_model_config",
    "attn_pdrop", "embd_pdrop", "resid_pdrop", "emb_pdrop", "embedding_dropout", "residual_dropout",
    "summary_activation", "summary_first_dropout", "summary_proj_to_labels", "summary_type", "summary_use_proj",
    "norm_epsilon", "scale_attn_weights", "scale_attention_softmax_in_fp32", "original_max_position_embeddings",
    # DBRX: a clamp of q, k and v, its experts' activation (a GLU whatever it names) and training-only router options
    "clip_qkv", "ffn_act_fn", "moe_jitter_eps", "moe_loss_weight", "moe_normalize_expert_weights",
    "uniform_expert_assignment",
    # Mamba-2: transformers' Mamba2Mixer holds its gated RMSNorm whatever rms_norm says, norm_before_gate orders the
    # same weights, and time_step_init_scheme and time_step_scale only initialize dt
    "rms_norm", "norm_before_gate", "time_step_init_scheme", "time_step_scale",
    # generic PretrainedConfig fields (generation and export options)
    "add_cross_attention", "bad_words_ids", "begin_suppress_tokens", "chunk_size_feed_forward",
    "cross_attention_hidden_size", "diversity_penalty", "do_sample", "early_stopping", "encoder_no_repeat_ngram_size",
    "exponential_decay_length_penalty", "finetuning_task", "forced_bos_token_id", "forced_eos_token_id", "id2label",
    "is_decoder", "is_encoder_decoder", "label2id", "length_penalty", "max_length", "min_length",
    "no_repeat_ngram_size", "num_beam_groups", "num_beams", "num_return_sequences", "output_attentions",
    "output_hidden_states", "output_scores", "prefix", "problem_type", "pruned_heads", "remove_invalid_values",
    "repetition_penalty", "return_dict", "return_dict_in_generate", "suppress_tokens", "task_specific_params",
    "temperature", "tf_legacy_loss", "tie_encoder_decoder", "top_k", "top_p", "torchscript", "typical_p",
    "use_bfloat16"}
# keys that name special tokens, harmless whatever their prefix: any *_token_id(s) or *_token_index (Qwen2.5-VL's
# vision_token_id, LLaVA's and Gemma 3's image_token_index); the ids named otherwise are in _HARMLESS
_TOKEN_SUFFIXES = ("_token_id", "_token_ids", "_token_index")
# words of the keys a multimodal wrapper states beside its nested text config for its vision tower and the projector
# into the language model (Mistral3Config's projector_hidden_act, spatial_merge_size, vision_feature_layer;
# LlavaConfig's vision_feature_select_strategy, image_seq_length): transformers' wrapper classes build the language
# model from text_config alone, and the tower is counted apart (vision_parameters), so none changes the text model
_WRAPPER_VISION_WORDS = ("vision", "projector", "image", "patch", "spatial_merge")
_UNDERSTOOD = _READ | _HARMLESS | {key for keys in ALIASES.values() for key in keys} | set(CONTEXT_KEYS)
# non-finite numbers are refused everywhere except here (Mamba's dt clamp is [0, inf) by design)
_NONFINITE_OK = {"time_step_limit"}
