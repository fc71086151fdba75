"""Translation of one config's layers: attention, Gated DeltaNet, Mamba2, the MLP, the layer-kind sequence and
the grouping of equal layers."""

from __future__ import annotations

from typing import Any

from parity.errors import ModelConfigError
from parity.hf.checks import _mlp_gating
from parity.hf.keys import (_BIASED_TYPES, _MLA_TYPES, _OUTPUT_GATE_TYPES, _PER_HEAD_QK_NORM_TYPES, _QK_NORM_TYPES,
                            _QKV_BIAS_TYPES, _QKV_ONLY_BIAS_TYPES, _SHARED_GATE_TYPES)
from parity.hf.values import _bool, _get, _int, _json_text, _key, _named
from parity.model import Attention, DenseMlp, Layer, LightningAttention, LinearAttention, Mamba, MoeMlp


def _attention(config: dict[str, Any], where: str, kind: str) -> Attention:
    """Softmax attention of a layer of `kind` (full, sliding or chunked)."""
    sliding = kind == "sliding"
    swa = (lambda key, fallback: config.get(f"swa_{key}") or fallback) if sliding else (lambda key, fallback: fallback)
    heads = swa("num_attention_heads", _int(config, "num_attention_heads", where=where, positive=True))
    hidden = _int(config, "hidden_size", where=where)
    # multi_query (GPTBigCode, Falcon): one K/V head, unless a KV-head key says otherwise (Falcon-40B states 8)
    kv_heads = swa("num_key_value_heads", _int(config, "num_key_value_heads",
                                               1 if _bool(config, "multi_query", False, where) else heads, where,
                                               positive=True))
    if config.get("head_dim") is None and config.get("attention_head_dim") is None and hidden % heads:
        raise ModelConfigError(f"{where}: num_attention_heads ({heads}) must divide hidden_size ({hidden}) "
                               "when head_dim is not given")
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
        "qk_norm_per_head": model_type in _PER_HEAD_QK_NORM_TYPES,
        "chunk_size": _int(config, "attention_chunk_size", where=where, positive=True) if kind == "chunked" else None,
        "sinks": model_type == "gpt_oss" or bool(config.get(sink_key)),
        "output_gate": bool(config.get("attn_output_gate", model_type in _OUTPUT_GATE_TYPES)),
    }
    bias = bool(config.get("attention_bias", config.get("enable_bias", config.get("use_bias",
                                                                                  model_type in _BIASED_TYPES))))
    common |= {"qkv_bias": bias or model_type in _QKV_BIAS_TYPES or bool(config.get("qkv_bias")),
               "o_bias": bias and model_type not in _QKV_ONLY_BIAS_TYPES}
    if config.get("kv_lora_rank") or model_type in _MLA_TYPES:
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
        raise _named(err, where) from err


_LINEAR_SIZES = ("linear_num_key_heads", "linear_num_value_heads", "linear_key_head_dim", "linear_value_head_dim",
                 "linear_conv_kernel_dim")


def _linear(config: dict[str, Any], where: str, state_format: str) -> LinearAttention | LightningAttention:
    """Gated DeltaNet when the config sizes its heads (linear_num_value_heads ...); MiniMax's lightning attention,
    which reuses the attention heads' count and width, in a MiniMax config (attn_type_list, or a minimax model type)
    that does not. Any other config must size its linear attention: its linear_* keys are required."""
    minimax = "attn_type_list" in config or str(config.get("model_type", "")).startswith("minimax")
    if not minimax and not any(key in config for key in _LINEAR_SIZES):
        raise ModelConfigError(f"{where}: linear-attention layers, but the config sizes none (no "
                               f"{', '.join(_LINEAR_SIZES)}); parity does not invent them")
    try:
        if config.get("linear_num_value_heads") is None and minimax:
            heads = _int(config, "num_attention_heads", where=where, positive=True)
            hidden = _int(config, "hidden_size", where=where, positive=True)
            return LightningAttention(num_heads=heads, head_dim=_int(config, "head_dim", hidden // heads, where,
                                                                     positive=True), state_format=state_format)
        return LinearAttention(
            num_key_heads=_int(config, "linear_num_key_heads", where=where, positive=True),
            num_value_heads=_int(config, "linear_num_value_heads", where=where, positive=True),
            key_head_dim=_int(config, "linear_key_head_dim", where=where, positive=True),
            value_head_dim=_int(config, "linear_value_head_dim", where=where, positive=True),
            conv_kernel=_int(config, "linear_conv_kernel_dim", where=where, positive=True),
            state_format=state_format)
    except ValueError as err:
        raise _named(err, where) from err


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
        raise _named(err, where) from err


_LAYER_TYPES = {"full_attention": "full", "attention": "full", "sliding_attention": "sliding",
                "chunked_attention": "chunked", "linear_attention": "linear", "mamba": "mamba"}
_PATTERN = {"M": ("mamba", ""), "*": ("full", ""), "-": ("", "dense"), "E": ("", "moe")}


def _kinds(config: dict[str, Any], num_layers: int, where: str) -> list[tuple[str, str]]:
    """(mixer kind, MLP kind) of every layer: mixer full/sliding/chunked/linear/mamba or '' (none);
    MLP '' (none), 'dense', 'moe' or 'auto' (decided by the MoE placement keys)."""
    if config.get("model_type") == "mamba2":  # a pure Mamba-2 stack: transformers' Mamba2Block, a norm and a mixer
        return [("mamba", "")] * num_layers
    pattern = config.get("hybrid_override_pattern")
    if pattern:  # Nemotron-H: one mixer or one MLP per layer
        if len(pattern) != num_layers or set(pattern) - set(_PATTERN):
            raise ModelConfigError(f"{where}: hybrid_override_pattern {_json_text(pattern)} must hold {num_layers} of "
                                   f"the characters M * - E")
        return [_PATTERN[c] for c in pattern]
    types = config.get("layer_types")
    if types:
        if not isinstance(types, list) or len(types) != num_layers:
            raise ModelConfigError(f"{where}: layer_types has {len(types) if isinstance(types, list) else 0} "
                                   f"entries, expected num_hidden_layers={num_layers}")
        unknown = [t for t in types if not isinstance(t, str) or t not in _LAYER_TYPES]
        if unknown:
            raise ModelConfigError(f"{where}: layer_types entry {_json_text(unknown[0])} is not modelled")
        return [(_LAYER_TYPES[t], "auto") for t in types]
    attn_types = config.get("attn_type_list")
    if attn_types is not None:  # MiniMax-01/M1: 0 lightning attention, 1 softmax attention
        if not isinstance(attn_types, list) or len(attn_types) != num_layers or set(attn_types) - {0, 1}:
            raise ModelConfigError(f"{where}: attn_type_list must hold {num_layers} entries of 0 or 1")
        return [("full" if t else "linear", "auto") for t in attn_types]
    if config.get("full_attention_interval") is not None:  # Qwen3-Next: every interval-th layer full attention,
        # the others Gated DeltaNet; HF takes (i + 1) % full_attention_interval, so 0 is no model
        interval = _int(config, "full_attention_interval", where=where, positive=True)
        return [("full" if (i + 1) % interval == 0 else "linear", "auto") for i in range(num_layers)]
    hybrid = config.get("hybrid_layer_pattern")
    if isinstance(hybrid, list) and len(hybrid) == num_layers:  # MiMo-V2: 1 marks a sliding-window layer
        return [("sliding" if v else "full", "auto") for v in hybrid]
    if config.get("attention_chunk_size"):  # Llama 4: RoPE layers chunked, every 4th (NoPE) global
        nope = config.get("no_rope_layers") or [int((i + 1) % _int(config, "no_rope_layer_interval", 4, where) != 0)
                                                for i in range(num_layers)]
        return [("chunked" if nope[i] else "full", "auto") for i in range(num_layers)]
    window = config.get("sliding_window")
    if window is not None and config.get("use_sliding_window", True):
        _int(config, "sliding_window", where=where, positive=True)  # on, a window of 0 or less is no window
        # a pattern stated is every how many layers one is full (0 would divide by zero in its HF class); none: all
        every = (_int(config, "sliding_window_pattern", where=where, positive=True)
                 if config.get("sliding_window_pattern") is not None else 0)
        first = _int(config, "max_window_layers", 0, where) if "use_sliding_window" in config else 0
        return [("full" if (every and (i + 1) % every == 0) or i < first else "sliding", "auto")
                for i in range(num_layers)]
    return [("full", "auto")] * num_layers


def _check_pattern(config: dict[str, Any], where: str) -> None:
    """Refuse a sliding_window_pattern N stated beside layer_types that disagree with it: N is every N-th layer full
    attention, the others sliding, as Gemma 3's and Cohere2's classes build layer_types from it (transformers v5 writes
    both, the pattern as _sliding_window_pattern). `config` is the config as stated, before its class's defaults."""
    types = config.get("layer_types")
    for key in ("sliding_window_pattern", "_sliding_window_pattern"):
        if config.get(key) is None or not isinstance(types, list):
            continue
        every = _int(config, key, where=where, positive=True)
        for i, kind in enumerate(types):
            stated = _LAYER_TYPES.get(kind) if isinstance(kind, str) else None
            if stated != ("sliding" if (i + 1) % every else "full"):
                raise ModelConfigError(f"{where}: layer_types[{i}] is {_json_text(kind)}, but {key} {every} makes "
                                       f"every {every}th layer full attention and the others sliding")


def _check_layer_indices(config: dict[str, Any], key: str, num_layers: int, where: str) -> None:
    """Refuse a list of layer indices (Qwen's mlp_only_layers) that is not one of integers in [0, num_layers): a
    string "0,1" was read as no index, 100 or -1 as an index that names no layer, so each model loaded as if the key
    were empty."""
    value = config.get(key)
    if value is None:
        return
    bad = (value if not isinstance(value, list) else
           next((i for i in value if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < num_layers), None))
    if bad is not None:
        raise ModelConfigError(f"{where}: {key} must list layer indices, integers in [0, num_hidden_layers="
                               f"{num_layers}), got {_json_text(value)}")


def _is_moe(config: dict[str, Any], index: int, where: str) -> bool:
    """Whether layer `index` holds experts: first-k dense, mlp_only_layers, DeepSeek's moe_layer_freq
    (an int or a per-layer list), Qwen's decoder_sparse_step and Llama 4's interleave_moe_layer_step."""
    if _int(config, "num_experts", 0, where) < 1:
        return False
    if "mlp_layer_type" in config:  # Laguna's mlp_layer_types, as _layer_view gives the layer its own
        if config["mlp_layer_type"] not in ("dense", "sparse"):
            raise ModelConfigError(f"{where}: mlp_layer_types entry {_json_text(config['mlp_layer_type'])} for layer "
                                   f'{index} must be "dense" or "sparse"')
        return config["mlp_layer_type"] == "sparse"
    if index < _int(config, "first_dense_layers", 0, where) or index in set(config.get("mlp_only_layers") or ()):
        return False
    freq = config.get("moe_layer_freq")
    if isinstance(freq, list):
        return bool(freq[index]) if index < len(freq) else False
    if freq is not None:  # HF takes layer_idx % moe_layer_freq: 0 is no model
        return index % _int(config, "moe_layer_freq", where=where, positive=True) == 0
    step_key = "decoder_sparse_step" if config.get("decoder_sparse_step") is not None else "interleave_moe_layer_step"
    return (index + 1) % _int(config, step_key, 1, where, positive=True) == 0


# keys that list a value per layer -> the key each layer's entry stands for: the MoE sizes Hunyuan lists, Laguna's
# query heads and its "dense" or "sparse" MLPs
_PER_LAYER = {"moe_intermediate_size": "moe_intermediate_size", "moe_topk": "moe_topk",
              "num_shared_expert": "num_shared_expert", "num_attention_heads_per_layer": "num_attention_heads",
              "mlp_layer_types": "mlp_layer_type"}


def _layer_view(config: dict[str, Any], index: int, where: str) -> dict[str, Any]:
    """`config` as layer `index` reads it: each per-layer list (_PER_LAYER) replaced by the layer's own entry."""
    lists = {key: config[key] for key in _PER_LAYER if isinstance(config.get(key), list)}
    for key, values in lists.items():
        if index >= len(values):
            raise ModelConfigError(f"{where}: {key} has {len(values)} entries, none for layer {index}")
    return {**config, **{_PER_LAYER[key]: values[index] for key, values in lists.items()}} if lists else config


def _mlp(config: dict[str, Any], kind: str, index: int, where: str) -> DenseMlp | MoeMlp | None:
    if not kind:
        return None
    config = _layer_view(config, index, where)
    model_type = str(config.get("model_type", "")).lower()
    ungated = not _mlp_gating(config, where)[0]
    hidden = _int(config, "hidden_size", where=where)
    llama4 = "intermediate_size_mlp" in config  # Llama 4: intermediate_size is the expert's width
    moe = _is_moe(config, index, where) if kind == "auto" else kind == "moe"
    if not moe:
        bias = config.get("mlp_bias", config.get("enable_bias", config.get("use_bias", model_type in _BIASED_TYPES)))
        # a plain MLP is 4 x hidden unless stated; GPT-2's n_inner stated null is that too (GPT2Config, PhiConfig)
        four_x = ungated or ("n_inner" in config and config["n_inner"] is None)
        size = (_int(config, "intermediate_size_mlp", where=where, positive=True) if llama4 else
                _int(config, "intermediate_size", 4 * hidden if four_x else ..., where, positive=True))
        return DenseMlp(intermediate_size=size, gated=not ungated, bias=bool(bias))
    intermediate = _int(config, "intermediate_size", 0, where)
    expert_size = intermediate if llama4 else _int(config, "expert_intermediate_size", intermediate, where, positive=True)
    shared = _int(config, "num_shared_experts", 1 if llama4 else 0, where)
    shared_size = _int(config, "shared_intermediate_size", 0, where) or (
        _int(config, "moe_shared_expert_intermediate_size", 0, where)
        or _int(config, "share_expert_dim", 0, where) * max(shared, 1) or shared * expert_size)
    if "use_mixed_mlp_moe" in config:  # Hunyuan: one shared MLP of intermediate_size x num_shared_expert, if mixed
        shared = shared if config["use_mixed_mlp_moe"] else 0
        shared_size = shared * intermediate
    num_experts = _int(config, "num_experts", where=where)
    per_token = _int(config, "experts_per_token", where=where, positive=True)
    if per_token > num_experts:  # MoeMlp refuses it too, but by parity's field names, not the config's keys
        raise ModelConfigError(f"{where}: {_key(config, 'experts_per_token')} must be in [1, "
                               f"{_key(config, 'num_experts')}={num_experts}], got {per_token}")
    try:
        return MoeMlp(num_experts=num_experts, experts_per_token=per_token,
                      expert_intermediate_size=expert_size, num_shared_experts=max(shared, 1) if shared_size else 0,
                      shared_intermediate_size=shared_size, gated=not ungated,
                      shared_gate=model_type in _SHARED_GATE_TYPES and shared_size > 0,
                      latent_size=_int(config, "moe_latent_size", 0, where),
                      expert_bias=model_type == "gpt_oss",
                      router_bias=model_type in ("gpt_oss", "nemotron_h") or config.get("topk_method") == "noaux_tc"
                      or bool(config.get("use_routing_bias") or config.get("use_moe_router_bias")))
    except ValueError as err:
        raise _named(err, where) from err


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
