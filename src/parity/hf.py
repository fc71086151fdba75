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
from parity.model import Attention, DenseMlp, Layer, Model, MoeMlp

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
    "experts_per_token": ("num_experts_per_tok", "experts_per_token", "moe_topk", "top_k"),
    "expert_intermediate_size": ("moe_intermediate_size", "expert_intermediate_size"),
    "num_shared_experts": ("n_shared_experts", "num_shared_experts"),
    "shared_intermediate_size": ("shared_expert_intermediate_size",),
    "first_dense_layers": ("first_k_dense_replace",),
    "moe_layer_frequency": ("moe_layer_freq", "decoder_sparse_step"),
    "max_position_embeddings": ("max_position_embeddings", "n_positions", "seq_length"),
}

_QK_NORM_TYPES = {"qwen3", "qwen3_moe", "olmo2", "gemma3"}
_QKV_BIAS_TYPES = {"qwen2", "qwen2_moe"}
# GPT-2-style blocks: a plain (not gated) MLP of 4 x hidden unless stated, biases on every linear layer
_UNGATED_TYPES = {"gpt2", "bloom", "opt", "gpt_neox", "nemotron"}
_BIASED_TYPES = {"gpt2", "bloom", "opt", "gpt_neox"}
# Hugging Face's own default for these classes ties the LM head to the embedding when the key is absent
_TIED_TYPES = {"gpt2", "bloom", "opt"}


# sizes beyond physical sense are refused before any work: the largest published models have ~100 layers,
# hidden sizes ~20k, vocabularies ~250k and contexts ~10M tokens
_LARGEST = 2**40
_MOST_LAYERS = 10_000


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _get(config: dict[str, Any], name: str, default: Any = ..., where: str = "") -> Any:
    for key in ALIASES.get(name, (name,)):
        if key in config and config[key] is not None:
            return config[key]
    if default is ...:
        keys = " or ".join(repr(k) for k in ALIASES.get(name, (name,)))
        raise ModelConfigError(f"{where or 'config.json'}: missing key {keys}")
    return default


def _int(config: dict[str, Any], name: str, default: Any = ..., where: str = "") -> int:
    value = _get(config, name, default, where)
    if value is None:
        return value
    if (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
            or value != int(value) or value < 0):
        raise ModelConfigError(f"{where or 'config.json'}: {name} must be a non-negative integer, got {value!r}")
    if value > _LARGEST:
        raise ModelConfigError(f"{where or 'config.json'}: {name} = {value:,} is beyond any model "
                               f"(at most {_LARGEST:,})")
    return int(value)


def _formats(config: dict[str, Any], quant: dict[str, Any] | None) -> tuple[str, str]:
    """(dense weight format, expert weight format) of the checkpoint."""
    q = config.get("quantization_config") or {}
    if quant:  # ModelOpt's hf_quant_config.json overrides what config.json says
        q = dict(quant.get("quantization", {}))
    method = str(q.get("quant_method") or q.get("quant_algo") or "").lower()
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
    dtype = str(config.get("torch_dtype", config.get("dtype", "bfloat16"))).lower()
    fmt = {"float16": "fp16", "float32": "fp32"}.get(dtype, "bf16")
    return fmt, fmt


def _attention(config: dict[str, Any], where: str, window: int | None) -> Attention:
    heads = _int(config, "num_attention_heads", where=where)
    hidden = _int(config, "hidden_size", where=where)
    if heads == 0:
        raise ModelConfigError(f"{where}: num_attention_heads must be >= 1, got 0")
    kv_heads = _int(config, "num_key_value_heads", heads, where)
    head_dim = _int(config, "head_dim", hidden // heads, where)
    model_type = str(config.get("model_type", "")).lower()
    common = {
        "num_attention_heads": heads, "num_key_value_heads": kv_heads or heads, "head_dim": head_dim,
        "qk_norm": model_type in _QK_NORM_TYPES, "sliding_window": window,
        "sinks": model_type == "gpt_oss",
    }
    bias = bool(config.get("attention_bias", config.get("enable_bias", model_type in _BIASED_TYPES)))
    common |= {"qkv_bias": bias or model_type in _QKV_BIAS_TYPES, "o_bias": bias}
    if config.get("kv_lora_rank"):
        common |= {
            "q_lora_rank": _int(config, "q_lora_rank", None, where) or None,
            "kv_lora_rank": _int(config, "kv_lora_rank", where=where),
            "qk_nope_head_dim": _int(config, "qk_nope_head_dim", where=where),
            "qk_rope_head_dim": _int(config, "qk_rope_head_dim", where=where),
            "v_head_dim": _int(config, "v_head_dim", where=where),
        }
    try:
        return Attention(**common)
    except ValueError as err:
        raise ModelConfigError(f"{where}: {err}") from err


def _windows(config: dict[str, Any], num_layers: int) -> list[int | None]:
    window = config.get("sliding_window")
    types = config.get("layer_types")
    if types:
        if len(types) != num_layers:
            raise ModelConfigError(f"layer_types has {len(types)} entries, expected num_hidden_layers={num_layers}")
        return [window if t == "sliding_attention" else None for t in types]
    if window and config.get("use_sliding_window", True):
        return [window] * num_layers
    return [None] * num_layers


def _mlp(config: dict[str, Any], index: int, where: str) -> DenseMlp | MoeMlp:
    experts = _int(config, "num_experts", 0, where)
    model_type = str(config.get("model_type", "")).lower()
    ungated = model_type in _UNGATED_TYPES
    hidden = _int(config, "hidden_size", where=where)
    intermediate = _int(config, "intermediate_size", 4 * hidden if ungated else ..., where)
    first_dense = _int(config, "first_dense_layers", 0, where)
    frequency = _int(config, "moe_layer_frequency", 1, where) or 1
    dense_only = set(config.get("mlp_only_layers") or ())
    if experts <= 1 or index < first_dense or index in dense_only or (index - first_dense) % frequency:
        bias = config.get("mlp_bias", config.get("enable_bias", model_type in _BIASED_TYPES))
        return DenseMlp(intermediate_size=intermediate, gated=not ungated, bias=bool(bias))
    expert_size = _int(config, "expert_intermediate_size", intermediate, where)
    shared = _int(config, "num_shared_experts", 0, where)
    shared_size = _int(config, "shared_intermediate_size", shared * expert_size, where)
    try:
        return MoeMlp(num_experts=experts, experts_per_token=_int(config, "experts_per_token", where=where),
                      expert_intermediate_size=expert_size, num_shared_experts=shared if shared_size else 0,
                      shared_intermediate_size=shared_size,
                      expert_bias=model_type == "gpt_oss",
                      router_bias=model_type == "gpt_oss" or config.get("topk_method") == "noaux_tc")
    except ValueError as err:
        raise ModelConfigError(f"{where}: {err}") from err


def _group(layers: list[Layer]) -> tuple[Layer, ...]:
    grouped: list[Layer] = []
    for layer in layers:
        if grouped and grouped[-1].attention == layer.attention and grouped[-1].mlp == layer.mlp:
            last = grouped.pop()
            grouped.append(Layer(attention=last.attention, mlp=last.mlp, count=last.count + layer.count))
        else:
            grouped.append(layer)
    return tuple(grouped)


def model_from_config(config: Any, name: str = "model", quant: dict[str, Any] | None = None,
                      source: str = "") -> Model:
    """The Model a config.json dict describes. `quant` is ModelOpt's hf_quant_config.json, if any."""
    where = source or name
    if not isinstance(config, dict):
        raise ModelConfigError(f"{where}: config.json must hold a JSON object, got {type(config).__name__}")
    if "text_config" in config and "hidden_size" not in config:
        config = {**config["text_config"], "quantization_config": config.get("quantization_config")}
    num_layers = _int(config, "num_layers", where=where)
    if not 1 <= num_layers <= _MOST_LAYERS:
        raise ModelConfigError(f"{where}: num_hidden_layers must be in [1, {_MOST_LAYERS:,}], got {num_layers:,}")
    hidden = _int(config, "hidden_size", where=where)
    vocab = _int(config, "vocab_size", where=where)
    if hidden == 0 or vocab == 0:
        raise ModelConfigError(f"{where}: hidden_size and vocab_size must be >= 1")
    windows = _windows(config, num_layers)
    layers = [Layer(attention=_attention(config, where, windows[i]), mlp=_mlp(config, i, where))
              for i in range(num_layers)]
    mtp = _int(config, "num_nextn_predict_layers", 0, where)
    mtp_layers = (Layer(attention=layers[-1].attention, mlp=layers[-1].mlp, count=mtp),) if mtp else ()
    dense_format, expert_format = _formats(config, quant)
    model_type = str(config.get("model_type", ""))
    try:
        return Model(name=name, hidden_size=hidden, vocab_size=vocab, layers=_group(layers),
                     tie_word_embeddings=bool(config.get("tie_word_embeddings", model_type in _TIED_TYPES)),
                     mtp_layers=mtp_layers,
                     max_position_embeddings=_int(config, "max_position_embeddings", 0, where),
                     weight_format=dense_format, expert_weight_format=expert_format, source=source,
                     architecture=model_type)
    except ValueError as err:
        raise ModelConfigError(f"{where}: {err}") from err


def read_config(path: Path) -> dict[str, Any]:
    """Parse a config.json file; malformed JSON is a ModelConfigError naming the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ModelConfigError(f"cannot read {path}: {err.strerror or err}") from err
    except UnicodeDecodeError as err:
        raise ModelConfigError(f"{path.name}: not UTF-8 text (byte {err.start}): save it as UTF-8 JSON") from err
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as err:
        raise ModelConfigError(f"{path.name}: malformed JSON at line {err.lineno}: {err.msg}") from err
    except ValueError as err:  # NaN, Infinity
        raise ModelConfigError(f"{path.name}: {err}") from err
    if not isinstance(data, dict):
        raise ModelConfigError(f"{path.name}: config.json must hold a JSON object")
    return data


def read_model(path: Path, name: str | None = None) -> Model:
    """A Model from a config.json path (a sibling hf_quant_config.json is read too, if present)."""
    config = read_config(path)
    quant_path = path.with_name(path.name.replace("config.json", "hf_quant_config.json"))
    quant = read_config(quant_path) if quant_path != path and quant_path.exists() else None
    return model_from_config(config, name or path.stem.removesuffix("_config"), quant, source=str(path.name))
