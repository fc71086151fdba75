"""Translates a Hugging Face config.json into a `Model`: the only module that knows HF key names.

Key names differ between architectures (n_routed_experts vs num_local_experts ...); the alias
tables below list each name parity accepts. A missing required key raises ModelConfigError
naming the key.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from parity.errors import ModelConfigError
from parity.model import Attention, DenseMlp, Layer, LinearAttention, Mamba, Model, MoeMlp

__all__ = ["model_from_config", "read_config", "read_model"]

# parity name -> accepted HF keys, first found wins
ALIASES: dict[str, tuple[str, ...]] = {
    "hidden_size": ("hidden_size", "d_model", "n_embd", "dim"),
    "num_layers": ("num_hidden_layers", "n_layer", "num_layers", "n_layers"),
    "num_attention_heads": ("num_attention_heads", "n_head", "n_heads"),
    "num_key_value_heads": ("num_key_value_heads", "num_kv_heads", "n_kv_heads", "multi_query_group_num"),
    "head_dim": ("head_dim", "kv_channels"),
    "intermediate_size": ("intermediate_size", "ffn_dim", "n_inner", "ffn_hidden_size"),
    "vocab_size": ("vocab_size", "padded_vocab_size"),
    "num_experts": ("n_routed_experts", "num_local_experts", "num_experts", "moe_num_experts"),
    "experts_per_token": ("num_experts_per_tok", "experts_per_token", "moe_topk", "top_k_experts", "top_k"),
    "expert_intermediate_size": ("moe_intermediate_size", "expert_intermediate_size"),
    "num_shared_experts": ("n_shared_experts", "num_shared_experts"),
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
_QKV_BIAS_TYPES = {"qwen2", "qwen2_moe"}
# GPT-2-style blocks: a plain (not gated) MLP of 4 x hidden unless stated, biases on every linear layer
_UNGATED_TYPES = {"gpt2", "bloom", "opt", "gpt_neox", "nemotron"}
_BIASED_TYPES = {"gpt2", "bloom", "opt", "gpt_neox"}
# Hugging Face's own default for these classes ties the LM head to the embedding when the key is absent
_TIED_TYPES = {"gpt2", "bloom", "opt"}
# a sigmoid gate on the shared expert's output (Qwen2-MoE lineage)
_SHARED_GATE_TYPES = {"qwen2_moe", "qwen3_next", "qwen3_5_moe_text"}

# sanity bounds, checked before anything is built per layer: a config past them is a typo or an attack
_BOUNDS = {"num_layers": 10_000, "hidden_size": 1_000_000, "vocab_size": 100_000_000,
           "num_attention_heads": 100_000, "num_key_value_heads": 100_000, "head_dim": 100_000,
           "intermediate_size": 10_000_000, "expert_intermediate_size": 10_000_000, "num_experts": 1_000_000,
           "experts_per_token": 1_000_000, "num_shared_experts": 1_000, "shared_intermediate_size": 10_000_000,
           "first_dense_layers": 10_000, "max_position_embeddings": 1_000_000_000_000}
_LIMIT = 100_000_000  # any other count parity reads

# keys whose meaning changes compute or memory in a way parity cannot model: the model is refused
_REFUSED = {"block_configs": "per-layer block_configs (heterogeneous NAS layers)",
            "attn_layer_period": "Mamba (v1) layers of Jamba-style hybrids",
            "compress_ratios": "compressed sparse attention (DeepSeek-V4)",
            "mamba_d_ssm": "parallel attention + Mamba2 layers (Falcon-H1)",
            "attn_type_list": "lightning attention layers (MiniMax-01/M1)"}
# keys read, or known not to change compute or memory (ids, init, dropout, RoPE, losses, runtime options)
_UNDERSTOOD = {
    "model_type", "architectures", "text_config", "vision_config", "language_config", "llm_config",
    "quantization_config", "torch_dtype", "dtype", "tie_word_embeddings", "layer_types", "sliding_window",
    "use_sliding_window", "max_window_layers", "sliding_window_pattern", "full_attention_interval",
    "attention_chunk_size", "no_rope_layers", "no_rope_layer_interval", "attention_bias", "enable_bias",
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
    "n_shared_experts", "experts_per_token", "moe_latent_size",
    # no effect on weights, FLOPs or memory
    "bos_token_id", "eos_token_id", "pad_token_id", "sep_token_id", "decoder_start_token_id", "image_token_id",
    "video_token_id", "audio_token_id", "vision_start_token_id", "vision_end_token_id", "media_placeholder_token_id",
    "boi_token_id", "eoi_token_id", "boa_token_id", "eoa_token_id", "eoa_token_index", "ignore_index",
    "video_placeholder", "vision_soft_tokens_per_image", "use_unified_vision_chunk", "audio_config",
    "initializer_range", "rms_norm_eps", "layer_norm_epsilon", "layernorm_epsilon", "norm_eps", "attention_dropout",
    "hidden_dropout", "rope_theta", "rope_scaling", "rope_parameters", "rope_interleave", "indexer_rope_interleave",
    "swa_rope_theta", "compress_rope_theta", "use_mrope", "router_aux_loss_coef", "aux_loss_alpha", "seq_aux",
    "output_router_logits", "norm_topk_prob", "scoring_func", "routed_scaling_factor", "moe_router_scaling_factor",
    "n_group", "topk_group", "ep_size", "use_cache", "transformers_version", "auto_map", "_name_or_path",
    "num_logits_to_keep", "pretraining_tp", "rescale_prenorm_residual", "residual_in_fp32", "use_mamba_kernels",
    "time_step_floor", "time_step_limit", "time_step_max", "time_step_min", "time_step_rank", "mamba_hidden_act",
    "final_logit_softcapping", "attention_value_scale", "use_bidirectional_attention", "expert_dtype",
    "moe_shared_expert_overlap", "activation_function", "apply_residual_connection_post_layernorm",
    "attention_softmax_in_fp32", "masked_softmax_fusion", "slow_but_exact", "tokenizer_class",
    "embedding_multiplier", "attention_multiplier", "residual_multiplier", "logits_scaling", "position_embedding_type",
    "mamba_chunk_size", "normalization_function", "init_method",
    # generic PretrainedConfig fields (generation and export options)
    "add_cross_attention", "bad_words_ids", "begin_suppress_tokens", "chunk_size_feed_forward",
    "cross_attention_hidden_size", "diversity_penalty", "do_sample", "early_stopping", "encoder_no_repeat_ngram_size",
    "exponential_decay_length_penalty", "finetuning_task", "forced_bos_token_id", "forced_eos_token_id", "id2label",
    "is_decoder", "is_encoder_decoder", "label2id", "length_penalty", "max_length", "min_length",
    "no_repeat_ngram_size", "num_beam_groups", "num_beams", "num_return_sequences", "output_attentions",
    "output_hidden_states", "output_scores", "prefix", "problem_type", "pruned_heads", "remove_invalid_values",
    "repetition_penalty", "return_dict", "return_dict_in_generate", "suppress_tokens", "task_specific_params",
    "temperature", "tf_legacy_loss", "tie_encoder_decoder", "top_k", "top_p", "torchscript", "typical_p",
    "use_bfloat16",
} | {key for keys in ALIASES.values() for key in keys}
# non-finite numbers are refused everywhere except here (Mamba's dt clamp is [0, inf) by design)
_NONFINITE_OK = {"time_step_limit"}


def _where(where: str) -> str:
    return where or "config.json"


def _get(config: dict[str, Any], name: str, default: Any = ..., where: str = "") -> Any:
    for key in ALIASES.get(name, (name,)):
        if key in config and config[key] is not None:
            return config[key]
    if default is ...:
        keys = " or ".join(repr(k) for k in ALIASES.get(name, (name,)))
        raise ModelConfigError(f"{_where(where)}: missing key {keys}")
    return default


def _key(config: dict[str, Any], name: str) -> str:
    return next((k for k in ALIASES.get(name, (name,)) if config.get(k) is not None), name)


def _int(config: dict[str, Any], name: str, default: Any = ..., where: str = "", positive: bool = False) -> int:
    """A count from the config: an integer >= 0 (>= 1 when `positive`), at most its sanity bound."""
    value = _get(config, name, default, where)
    if value is None:
        return value
    key = _key(config, name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value != int(value) or value < 0:
        raise ModelConfigError(f"{_where(where)}: {key} must be a non-negative integer, got {value!r}")
    if positive and value < 1:
        raise ModelConfigError(f"{_where(where)}: {key} must be >= 1, got {value!r}")
    if value > _BOUNDS.get(name, _LIMIT):
        raise ModelConfigError(f"{_where(where)}: {key} = {value:g} is past parity's sanity bound "
                               f"({_BOUNDS.get(name, _LIMIT):,})")
    return int(value)


def _nonfinite(value: Any, path: str) -> str | None:
    """Path of the first NaN or infinity inside a config value, or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return path
    if isinstance(value, dict):
        return next((p for k, v in value.items() if (p := _nonfinite(v, f"{path}.{k}" if path else str(k)))), None)
    if isinstance(value, list):
        return next((p for i, v in enumerate(value) if (p := _nonfinite(v, f"{path}[{i}]"))), None)
    return None


def _check_keys(config: dict[str, Any], where: str) -> tuple[str, ...]:
    """Refuse NaN/Infinity and keys parity cannot model; flag keys it does not know."""
    for key, value in config.items():
        if key in _NONFINITE_OK:
            continue
        path = _nonfinite(value, key)
        if path:
            raise ModelConfigError(f"{_where(where)}: {path} is not a finite number (NaN or Infinity)")
    for key, what in _REFUSED.items():
        if config.get(key):
            raise ModelConfigError(f"{_where(where)}: {key} ({what}) is not modelled by parity")
    return tuple(f"unmodelled: {key}" for key in sorted(config) if key not in _UNDERSTOOD
                 and config[key] not in (None, False, 0, [], {}))


def _formats(config: dict[str, Any], quant: dict[str, Any] | None) -> tuple[str, str]:
    """(dense weight format, expert weight format) of the checkpoint."""
    q = config.get("quantization_config") or {}
    if quant:  # ModelOpt's hf_quant_config.json overrides what config.json says
        q = dict(quant.get("quantization", {}))
    method = str(q.get("quant_method") or q.get("quant_algo") or "").lower()
    if method == "compressed-tensors":  # (vLLM's llm-compressor) its first config group names the numbers
        groups = q.get("config_groups") or {}
        weights = next(iter(groups.values()), {}).get("weights", {}) if groups else {}
        bits, kind = weights.get("num_bits"), str(weights.get("type", ""))
        fmt = {(8, "float"): "fp8", (8, "int"): "int8", (4, "int"): "int4", (4, "float"): "nvfp4"}.get((bits, kind))
        if fmt is None:
            raise ModelConfigError(f"quantization_config: compressed-tensors weights of {bits} bits {kind!r} "
                                   "are not modelled")
        return fmt, fmt
    if method == "fp8":
        fmt = "fp8_block" if q.get("weight_block_size") else "fp8"
        return fmt, fmt
    if method == "mxfp4":
        skipped = " ".join(q.get("modules_to_not_convert", []))
        return ("bf16" if "self_attn" in skipped else "mxfp4"), "mxfp4"
    if method == "nvfp4":
        skipped = " ".join(q.get("exclude_modules", []))
        return ("bf16" if "self_attn" in skipped else "nvfp4"), "nvfp4"
    if method in {"awq", "gptq"}:
        return "int4", "int4"
    if method:
        raise ModelConfigError(f"quantization_config: quant_method {method!r} is not modelled")
    dtype = str(config.get("torch_dtype", config.get("dtype", "bfloat16"))).lower()
    fmt = {"float16": "fp16", "float32": "fp32"}.get(dtype, "bf16")
    return fmt, fmt


def _state_format(config: dict[str, Any], model_format: str) -> str:
    dtype = str(config.get("mamba_ssm_cache_dtype") or config.get("mamba_ssm_dtype") or "").lower()
    return {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}.get(dtype, model_format
                                                                          if model_format in ("fp32", "fp16") else "bf16")


def _attention(config: dict[str, Any], where: str, kind: str) -> Attention:
    """Softmax attention of a layer of `kind` (full, sliding or chunked)."""
    sliding = kind == "sliding"
    swa = (lambda key, fallback: config.get(f"swa_{key}") or fallback) if sliding else (lambda key, fallback: fallback)
    heads = swa("num_attention_heads", _int(config, "num_attention_heads", where=where, positive=True))
    hidden = _int(config, "hidden_size", where=where)
    kv_heads = swa("num_key_value_heads", _int(config, "num_key_value_heads", heads, where, positive=True))
    head_dim = swa("head_dim", _int(config, "head_dim", _int(config, "attention_head_dim", hidden // heads, where),
                                    where, positive=True))
    model_type = str(config.get("model_type", "")).lower()
    window = _int(config, "sliding_window", where=where, positive=True) if sliding else None
    if sliding and config.get("sliding_window_size"):
        window = _int(config, "sliding_window_size", where=where, positive=True)
    sink_key = "add_swa_attention_sink_bias" if sliding else "add_full_attention_sink_bias"
    common: dict[str, Any] = {
        "num_attention_heads": heads, "num_key_value_heads": kv_heads, "head_dim": head_dim,
        "qk_norm": model_type in _QK_NORM_TYPES or bool(config.get("use_qk_norm")), "sliding_window": window,
        "chunk_size": _int(config, "attention_chunk_size", where=where, positive=True) if kind == "chunked" else None,
        "sinks": model_type == "gpt_oss" or bool(config.get(sink_key)),
        "output_gate": bool(config.get("attn_output_gate", model_type == "qwen3_next")),  # Qwen3-Next always gates
    }
    bias = bool(config.get("attention_bias", config.get("enable_bias", model_type in _BIASED_TYPES)))
    common |= {"qkv_bias": bias or model_type in _QKV_BIAS_TYPES or bool(config.get("qkv_bias")), "o_bias": bias}
    if config.get("kv_lora_rank"):
        common |= {
            "q_lora_rank": _int(config, "q_lora_rank", None, where) or None,
            "kv_lora_rank": _int(config, "kv_lora_rank", where=where, positive=True),
            "qk_nope_head_dim": _int(config, "qk_nope_head_dim", where=where),
            "qk_rope_head_dim": _int(config, "qk_rope_head_dim", where=where),
            "v_head_dim": _int(config, "v_head_dim", where=where, positive=True),
        }
    elif config.get("v_head_dim"):
        common["v_head_dim"] = swa("v_head_dim", _int(config, "v_head_dim", where=where, positive=True))
    if config.get("index_n_heads"):
        common |= {"index_heads": _int(config, "index_n_heads", where=where, positive=True),
                   "index_head_dim": _int(config, "index_head_dim", where=where, positive=True),
                   "index_topk": _int(config, "index_topk", where=where, positive=True)}
    try:
        return Attention(**common)
    except ValueError as err:
        raise ModelConfigError(f"{where}: {err}") from err


def _linear(config: dict[str, Any], where: str, state_format: str) -> LinearAttention:
    try:
        return LinearAttention(
            num_key_heads=_int(config, "linear_num_key_heads", where=where, positive=True),
            num_value_heads=_int(config, "linear_num_value_heads", where=where, positive=True),
            key_head_dim=_int(config, "linear_key_head_dim", where=where, positive=True),
            value_head_dim=_int(config, "linear_value_head_dim", where=where, positive=True),
            conv_kernel=_int(config, "linear_conv_kernel_dim", where=where, positive=True),
            state_format=state_format)
    except ValueError as err:
        raise ModelConfigError(f"{where}: {err}") from err


def _mamba(config: dict[str, Any], where: str, state_format: str) -> Mamba:
    hidden = _int(config, "hidden_size", where=where)
    head_dim = _int(config, "mamba_head_dim", where=where, positive=True)
    inner = _int(config, "expand", 2, where, positive=True) * hidden
    try:
        return Mamba(num_heads=_int(config, "mamba_num_heads", inner // head_dim, where, positive=True),
                     head_dim=head_dim, state_size=_int(config, "ssm_state_size", where=where, positive=True),
                     n_groups=_int(config, "n_groups", 1, where, positive=True),
                     conv_kernel=_int(config, "conv_kernel", 4, where, positive=True),
                     conv_bias=bool(_get(config, "use_conv_bias", True)),
                     proj_bias=bool(config.get("mamba_proj_bias", config.get("use_bias", False))),
                     state_format=state_format)
    except ValueError as err:
        raise ModelConfigError(f"{where}: {err}") from err


_LAYER_TYPES = {"full_attention": "full", "attention": "full", "sliding_attention": "sliding",
                "chunked_attention": "chunked", "linear_attention": "linear", "mamba": "mamba"}
_PATTERN = {"M": ("mamba", ""), "*": ("full", ""), "-": ("", "dense"), "E": ("", "moe")}


def _kinds(config: dict[str, Any], num_layers: int, where: str) -> list[tuple[str, str]]:
    """(mixer kind, MLP kind) of every layer: mixer full/sliding/chunked/linear/mamba or '' (none);
    MLP '' (none), 'dense', 'moe' or 'auto' (decided by the MoE placement keys)."""
    pattern = config.get("hybrid_override_pattern")
    if pattern:  # Nemotron-H: one mixer or one MLP per layer
        if len(pattern) != num_layers or set(pattern) - set(_PATTERN):
            raise ModelConfigError(f"{where}: hybrid_override_pattern {pattern!r} must hold {num_layers} of "
                                   f"the characters M * - E")
        return [_PATTERN[c] for c in pattern]
    types = config.get("layer_types")
    if types:
        if not isinstance(types, list) or len(types) != num_layers:
            raise ModelConfigError(f"{where}: layer_types has {len(types) if isinstance(types, list) else 0} "
                                   f"entries, expected num_hidden_layers={num_layers}")
        unknown = sorted({str(t) for t in types} - set(_LAYER_TYPES))
        if unknown:
            raise ModelConfigError(f"{where}: layer_types entry {unknown[0]!r} is not modelled")
        return [(_LAYER_TYPES[t], "auto") for t in types]
    interval = _int(config, "full_attention_interval", 0, where)
    if interval:  # Qwen3-Next: every interval-th layer full attention, the others Gated DeltaNet
        return [("full" if (i + 1) % interval == 0 else "linear", "auto") for i in range(num_layers)]
    hybrid = config.get("hybrid_layer_pattern")
    if isinstance(hybrid, list) and len(hybrid) == num_layers:  # MiMo-V2: 1 marks a sliding-window layer
        return [("sliding" if v else "full", "auto") for v in hybrid]
    if config.get("attention_chunk_size"):  # Llama 4: RoPE layers chunked, every 4th (NoPE) global
        nope = config.get("no_rope_layers") or [int((i + 1) % _int(config, "no_rope_layer_interval", 4, where) != 0)
                                                for i in range(num_layers)]
        return [("chunked" if nope[i] else "full", "auto") for i in range(num_layers)]
    window = config.get("sliding_window")
    if window and config.get("use_sliding_window", True):
        every = _int(config, "sliding_window_pattern", 0, where)
        first = _int(config, "max_window_layers", 0, where) if "use_sliding_window" in config else 0
        return [("full" if (every and (i + 1) % every == 0) or i < first else "sliding", "auto")
                for i in range(num_layers)]
    return [("full", "auto")] * num_layers


def _is_moe(config: dict[str, Any], index: int, where: str) -> bool:
    """Whether layer `index` holds experts: first-k dense, mlp_only_layers, DeepSeek's moe_layer_freq
    (an int or a per-layer list), Qwen's decoder_sparse_step and Llama 4's interleave_moe_layer_step."""
    if _int(config, "num_experts", 0, where) <= 1:
        return False
    if index < _int(config, "first_dense_layers", 0, where) or index in set(config.get("mlp_only_layers") or ()):
        return False
    freq = config.get("moe_layer_freq")
    if isinstance(freq, list):
        return bool(freq[index]) if index < len(freq) else False
    if freq:
        return index % _int(config, "moe_layer_freq", 1, where, positive=True) == 0
    step = _int(config, "decoder_sparse_step", 0, where) or _int(config, "interleave_moe_layer_step", 1, where) or 1
    return (index + 1) % step == 0


def _mlp(config: dict[str, Any], kind: str, index: int, where: str) -> DenseMlp | MoeMlp | None:
    if not kind:
        return None
    model_type = str(config.get("model_type", "")).lower()
    ungated = model_type in _UNGATED_TYPES or str(config.get("mlp_hidden_act", "")).lower() == "relu2"
    hidden = _int(config, "hidden_size", where=where)
    llama4 = "intermediate_size_mlp" in config  # Llama 4: intermediate_size is the expert's width
    moe = _is_moe(config, index, where) if kind == "auto" else kind == "moe"
    if not moe:
        bias = config.get("mlp_bias", config.get("enable_bias", model_type in _BIASED_TYPES))
        size = (_int(config, "intermediate_size_mlp", where=where, positive=True) if llama4 else
                _int(config, "intermediate_size", 4 * hidden if ungated else ..., where, positive=True))
        return DenseMlp(intermediate_size=size, gated=not ungated, bias=bool(bias))
    intermediate = _int(config, "intermediate_size", 0, where)
    expert_size = intermediate if llama4 else _int(config, "expert_intermediate_size", intermediate, where, positive=True)
    shared = _int(config, "num_shared_experts", 1 if llama4 else 0, where)
    shared_size = _int(config, "shared_intermediate_size", 0, where) or (
        _int(config, "moe_shared_expert_intermediate_size", 0, where)
        or _int(config, "share_expert_dim", 0, where) * max(shared, 1) or shared * expert_size)
    try:
        return MoeMlp(num_experts=_int(config, "num_experts", where=where),
                      experts_per_token=_int(config, "experts_per_token", where=where, positive=True),
                      expert_intermediate_size=expert_size, num_shared_experts=max(shared, 1) if shared_size else 0,
                      shared_intermediate_size=shared_size, gated=not ungated,
                      shared_gate=model_type in _SHARED_GATE_TYPES and shared_size > 0,
                      latent_size=_int(config, "moe_latent_size", 0, where),
                      expert_bias=model_type == "gpt_oss",
                      router_bias=model_type in ("gpt_oss", "nemotron_h") or config.get("topk_method") == "noaux_tc"
                      or bool(config.get("use_routing_bias") or config.get("use_moe_router_bias")))
    except ValueError as err:
        raise ModelConfigError(f"{where}: {err}") from err


def _group(layers: list[Layer]) -> tuple[Layer, ...]:
    grouped: list[Layer] = []
    for layer in layers:
        last = grouped[-1] if grouped else None
        if last is not None and (last.attention, last.mlp, last.norms) == (layer.attention, layer.mlp, layer.norms):
            grouped[-1] = Layer(attention=last.attention, mlp=last.mlp, count=last.count + layer.count,
                                norms=last.norms)
        else:
            grouped.append(layer)
    return tuple(grouped)


def _vision_parameters(vision: Any) -> int:
    """Weights of a ViT-style vision tower from its config (patch embedding, depth x (attention with biases,
    MLP, two LayerNorms), patch merger), an estimate to show it apart from the text model."""
    if not isinstance(vision, dict):
        return 0
    h = vision.get("hidden_size") or vision.get("vt_hidden_size") or 0
    depth = vision.get("depth") or vision.get("num_hidden_layers") or vision.get("vt_num_hidden_layers") or 0
    inner = vision.get("intermediate_size") or vision.get("vt_intermediate_size") or 4 * h
    values = (h, depth, inner)
    if not all(isinstance(v, int) and 0 < v <= 1_000_000 for v in values):
        return 0
    patch = vision.get("patch_size") if isinstance(vision.get("patch_size"), int) else 14
    channels = vision.get("in_channels") if isinstance(vision.get("in_channels"), int) else 3
    temporal = vision.get("temporal_patch_size") if isinstance(vision.get("temporal_patch_size"), int) else 1
    out = vision.get("out_hidden_size") or vision.get("text_hidden_size") or h
    merge = vision.get("spatial_merge_size") if isinstance(vision.get("spatial_merge_size"), int) else 2
    block = 4 * h * h + 4 * h + 2 * h * inner + inner + h + 4 * h
    merged = h * merge * merge
    return channels * temporal * patch * patch * h + depth * block + merged * merged + merged * out


def _text_config(config: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """The language model's config of a multimodal wrapper (text_config, language_config, llm_config),
    the top level's quantization and dtype carried in; and the vision config, if any."""
    for key in ("text_config", "language_config", "llm_config"):
        inner = config.get(key)
        if isinstance(inner, dict) and ("hidden_size" not in config or "num_hidden_layers" not in config):
            carried = {k: config[k] for k in ("quantization_config", "torch_dtype", "dtype", "tie_word_embeddings")
                       if k in config and k not in inner}
            return {**inner, **carried}, config.get("vision_config")
    return config, None


def model_from_config(config: Any, name: str = "model", quant: dict[str, Any] | None = None,
                      source: str = "") -> Model:
    """The Model a config.json dict describes. `quant` is ModelOpt's hf_quant_config.json, if any."""
    where = source or name
    if not isinstance(config, dict):
        raise ModelConfigError(f"{where}: config.json must hold a JSON object, got {type(config).__name__}")
    flags = _check_keys(config, where)
    inner, vision = _text_config(config)
    if inner is not config:
        flags += _check_keys(inner, where)
    config = inner
    num_layers = _int(config, "num_layers", where=where, positive=True)
    hidden = _int(config, "hidden_size", where=where, positive=True)
    vocab = _int(config, "vocab_size", where=where, positive=True)
    for bounded in ("num_attention_heads", "num_key_value_heads", "num_experts", "intermediate_size"):
        _int(config, bounded, 0, where)
    if any(key in config and config[key] is not None and _int(config, "num_key_value_heads", 0, where) == 0
           for key in ALIASES["num_key_value_heads"]):
        raise ModelConfigError(f"{where}: {_key(config, 'num_key_value_heads')} must be >= 1, got 0")
    dense_format, expert_format = _formats(config, quant)
    state_format = _state_format(config, dense_format)
    kinds = _kinds(config, num_layers, where)
    layers = []
    for i, (mixer_kind, mlp_kind) in enumerate(kinds):
        mixer = (None if not mixer_kind else _linear(config, where, state_format) if mixer_kind == "linear"
                 else _mamba(config, where, state_format) if mixer_kind == "mamba"
                 else _attention(config, where, mixer_kind))
        try:
            layers.append(Layer(attention=mixer, mlp=_mlp(config, mlp_kind, i, where),
                                norms=1 if "hybrid_override_pattern" in config else 2))
        except ValueError as err:
            raise ModelConfigError(f"{where}: layer {i}: {err}") from err
    mtp = (_int(config, "num_nextn_predict_layers", 0, where) or _int(config, "mtp_num_hidden_layers", 0, where)
           or _int(config, "num_mtp_modules", 0, where))
    last = next(layer for layer in reversed(layers) if layer.attention is not None and layer.mlp is not None) \
        if any(layer.attention is not None and layer.mlp is not None for layer in layers) else layers[-1]
    mtp_layers = (Layer(attention=last.attention, mlp=last.mlp, count=mtp, norms=last.norms),) if mtp else ()
    model_type = str(config.get("model_type", ""))
    tied = config.get("tie_word_embeddings")
    try:
        return Model(name=name, hidden_size=hidden, vocab_size=vocab, layers=_group(layers),
                     tie_word_embeddings=bool(model_type in _TIED_TYPES if tied is None else tied),
                     mtp_layers=mtp_layers,
                     max_position_embeddings=_int(config, "max_position_embeddings", 0, where),
                     weight_format=dense_format, expert_weight_format=expert_format, source=source,
                     architecture=model_type, vision_parameters=_vision_parameters(vision),
                     flags=tuple(dict.fromkeys(flags)))
    except ValueError as err:
        raise ModelConfigError(f"{where}: {err}") from err


def _constant(name: str) -> float:
    """NaN and Infinity (which json accepts) become floats here; model_from_config refuses them by key."""
    return float(name.lower().replace("infinity", "inf"))


def read_config(path: Path) -> dict[str, Any]:
    """Parse a config.json file; malformed JSON is a ModelConfigError naming the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ModelConfigError(f"cannot read {path}: {err.strerror or err}") from err
    try:
        data = json.loads(text, parse_constant=_constant)
    except json.JSONDecodeError as err:
        raise ModelConfigError(f"{path.name}: malformed JSON at line {err.lineno}: {err.msg}") from err
    if not isinstance(data, dict):
        raise ModelConfigError(f"{path.name}: config.json must hold a JSON object")
    return data


def read_model(path: Path, name: str | None = None) -> Model:
    """A Model from a config.json path (a sibling hf_quant_config.json is read too, if present)."""
    config = read_config(path)
    quant_path = path.with_name(path.name.replace("config.json", "hf_quant_config.json"))
    quant = read_config(quant_path) if quant_path != path and quant_path.exists() else None
    return model_from_config(config, name or path.stem.removesuffix("_config"), quant, source=str(path.name))
