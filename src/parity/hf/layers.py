"""Translation of one config's layers: attention, Gated DeltaNet, Mamba2, the MLP, the layer-kind sequence,
the checkpoint's formats and a vision tower's size."""

from __future__ import annotations

import re
from typing import Any

from parity.errors import ModelConfigError
from parity.hf.checks import _mlp_gating
from parity.hf.keys import ALIASES, _MLA_TYPES, _OUTPUT_GATE_TYPES, _PER_HEAD_QK_NORM_TYPES, _QK_NORM_TYPES, \
    _QKV_BIAS_TYPES, _QKV_ONLY_BIAS_TYPES, _BIASED_TYPES, _SHARED_GATE_TYPES
from parity.hf.values import _bool, _get, _int, _json_text, _key, _named, _object
from parity.hf.skips import SkipList
from parity.model import Attention, DenseMlp, Layer, LightningAttention, LinearAttention, Mamba, MoeMlp

# a checkpoint's torch dtype (config.json's torch_dtype, or dtype since transformers 4.56) -> its weight format
_DTYPES = {"bfloat16": "bf16", "float16": "fp16", "half": "fp16", "float32": "fp32", "float": "fp32",
           "float8_e4m3fn": "fp8"}


# GPTQ and AutoAWQ weights (weight-only, multiplied in bf16) by their bit width: `bits` (AutoAWQ: `w_bit` first, as
# vLLM's AWQConfig.from_config reads ["w_bit", "bits"]); AWQ states 4 where it leaves both out (transformers' AwqConfig)
_WEIGHT_ONLY_INT = {4: "int4", 8: "w8a16"}


# the quant_method values _formats reads
_METHODS = ("awq", "gptq", "fp8", "mxfp4", "compressed-tensors", "modelopt")


def _quantization(config: dict[str, Any], quant: Any, where: str) -> tuple[str, dict[str, Any], str]:
    """(method, record, where the record sits) of the checkpoint's quantization; ("", {}, ...) where it states none.
    ModelOpt's record, method 'modelopt', is read in each spelling vLLM's ModelOptQuantConfigBase.from_config reads:
    a sibling hf_quant_config.json {"quantization": {"quant_algo", "exclude_modules", ...}} (`quant`), which overrides
    config.json; config.json's quantization_config holding that same {"quantization": {...}} record, with a
    quant_method of 'modelopt...' or none (the producer/quantization layout inlined); or the flat
    {"quant_method": "modelopt", "quant_algo", "ignore", ...}."""
    # mlx-lm's checkpoints state {"group_size": 64, "bits": 4} as "quantization" (and, since mlx-lm #957, as
    # quantization_config too), with no quant_method: refused below, never read as unquantized
    key = "quantization_config"
    if config.get(key) is None and isinstance(config.get("quantization"), dict):
        key = "quantization"
    at = f"{where or 'config.json'}: {key}"
    q = config.get(key)
    q = {} if q is None else _object(q, at)
    method = str(q.get("quant_method") or "").lower()
    if quant is not None:
        if "quantization" not in quant:
            raise ModelConfigError("hf_quant_config.json: missing key 'quantization'")
        at = "hf_quant_config.json: quantization"
        q = _object(quant["quantization"], at)
        return ("modelopt" if q.get("quant_algo") else ""), q, at  # a KV-cache-only record quantizes no weight
    if "quantization" in q and (not method or method.startswith("modelopt")):
        q, at, method = _object(q["quantization"], f"{at}.quantization"), f"{at}.quantization", "modelopt"
    if config.get(key) is not None and not method:  # an empty {} too: it names no method any loader reads
        bits = next((f"{q[k]} bits" for k in ("bits", "w_bit", "num_bits") if q.get(k) is not None), "")
        stated = f"states {bits or ', '.join(sorted(q)[:3])}" if q else "is empty ({})"
        raise ModelConfigError(f"{at} {stated} with no quant_method{' (an MLX checkpoint?)' if bits else ''}; "
                               f"parity reads quant_method {', '.join(_METHODS[:-1])} or {_METHODS[-1]}, and will not "
                               "take these weights as unquantized")
    if method.startswith("modelopt"):
        if not q.get("quant_algo"):
            raise ModelConfigError(f'{at} of quant_method "modelopt" names no quant_algo')
        method = "modelopt"
    return method, q, at


# ModelOpt's quant_algo -> the format its weights run in, as vLLM's modelopt.py runs them: FP8 per tensor;
# FP8_PER_CHANNEL_PER_TOKEN per-channel weight scales against dynamic per-token activation scales
# (ModelOptFp8PcPtLinearMethod); FP8_PB_WO FP8 weights in 128x128 blocks against dynamic 1x128 activation groups, the
# DeepSeek-V3 recipe, despite "weight-only" in its name (ModelOptFp8PbWoLinearMethod); NVFP4 W4A4; MXFP8. Others
# (W4A16_NVFP4: NVFP4 weights multiplied in bf16; NVFP4_AWQ, W4A8_AWQ, which vLLM does not load) hold no parity format
_MODELOPT = {"FP8": "fp8", "FP8_PER_CHANNEL_PER_TOKEN": "fp8_channel", "FP8_PB_WO": "fp8_block", "NVFP4": "nvfp4",
             "MXFP8": "mxfp8"}


def _modelopt_format(algo: Any, at: str) -> str:
    fmt = _MODELOPT.get(str(algo).upper())
    if fmt is None:
        raise ModelConfigError(f"{at}: ModelOpt quant_algo {_json_text(algo)} is not modelled (parity reads "
                               f"{', '.join(_MODELOPT)} and MIXED_PRECISION)")
    return fmt


# the last part of a ModelOpt layer name that names an MLP projection (Nemotron-H names its MLP modules `mixer` too)
_MLP_PROJECTIONS = {"gate_proj", "up_proj", "down_proj", "gate_up_proj", "fc1", "fc2", "w1", "w2", "w3"}


def _dense_part(name: str) -> str:
    """Which dense weights a quantized layer's name belongs to: 'MLP' (dense or shared-expert MLPs) or 'attention'
    (any token mixer: attention, Mamba, linear attention)."""
    mlp = ".mlp." in name or "shared_expert" in name or name.rsplit(".", 1)[-1] in _MLP_PROJECTIONS
    return "MLP" if mlp else "attention"


# the projections that make one part of a layer whole, in the names checkpoints give them (standard and fused
# attention, MLA with and without a query LoRA, Mamba; gated, fused-gated and ungated MLPs): a part listed with some
# of one set's names and no whole set is listed in part
_WHOLE_PARTS = {"attention": ({"q_proj", "k_proj", "v_proj", "o_proj"}, {"qkv_proj", "o_proj"},
                              {"q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj"},
                              {"q_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj"}, {"in_proj", "out_proj"}),
                "MLP": ({"gate_proj", "up_proj", "down_proj"}, {"gate_up_proj", "down_proj"}, {"fc1", "fc2"},
                        {"w1", "w2", "w3"})}
_WHOLE_PARTS["experts"] = _WHOLE_PARTS["MLP"]
_LAYER_INDEX = re.compile(r"layers\.(\d+)\.")
_EXPERT_INDEX = re.compile(r"\.experts\.(\d+)\.")


def _routed(name: str) -> bool:
    """Whether a quantized_layers name is of routed experts: one expert's ('...mlp.experts.0.gate_proj') or a
    layer's fused experts as vLLM's FusedMoE names them ('...mlp.experts', which vLLM looks up directly)."""
    return ".experts." in name or name.endswith(".experts")


def _part_of(name: str) -> str:
    return "experts" if _routed(name) else _dense_part(name)


def _check_coverage(names: list[str], at: str, layer_parts: tuple[frozenset[str], ...], num_experts: int) -> None:
    """Refuse a part (attention, MLP, experts) that quantized_layers lists for only some of the layers that hold it,
    only some of its projections in a layer, or only some of a layer's routed experts: vLLM runs the rest in bf16,
    and parity holds one format per part. Names with no layer index ('model.layers.N.') are not counted."""
    seen: dict[str, dict[int, set[str]]] = {}
    experts: dict[int, set[str]] = {}
    for name in names:
        index = _LAYER_INDEX.search(name)
        if index is None:
            continue
        part, layer = _part_of(name), int(index.group(1))
        seen.setdefault(part, {}).setdefault(layer, set()).add(name.rsplit(".", 1)[-1])
        expert = _EXPERT_INDEX.search(name)
        if expert:
            experts.setdefault(layer, set()).add(expert.group(1))
    for part, layers in sorted(seen.items()):
        holding = [i for i, parts in enumerate(layer_parts) if part in parts]
        if len(set(holding) & set(layers)) < len(holding):
            raise ModelConfigError(f"{at}.quantized_layers: lists the {part.replace('experts', 'routed experts')} "
                                   f"of {len(set(holding) & set(layers))} of the {len(holding)} layers holding them "
                                   "(vLLM runs the others in bf16); parity holds one format for them")
        for layer, projections in sorted(layers.items()):
            known = [whole for whole in _WHOLE_PARTS[part] if whole & projections]
            if known and not any(whole <= projections for whole in known):
                whole = max(known, key=lambda w: len(w & projections))
                raise ModelConfigError(
                    f"{at}.quantized_layers: layer {layer}'s {part.replace('experts', 'routed experts')} lists "
                    f"{len(whole & projections)} of its {len(whole)} projections ("
                    f"{', '.join(sorted(whole & projections))}; not {', '.join(sorted(whole - projections))}); "
                    "parity holds one format for it")
    for layer, listed in sorted(experts.items()):
        if num_experts and len(listed) < num_experts:
            raise ModelConfigError(f"{at}.quantized_layers: layer {layer} lists {len(listed)} of its {num_experts} "
                                   "routed experts (vLLM runs the others in bf16); parity holds one format for them")


def _modelopt_formats(q: dict[str, Any], at: str, layer_parts: tuple[frozenset[str], ...],
                      num_experts: int) -> tuple[str, str, SkipList | None]:
    """(dense, expert) formats of a ModelOpt record. MIXED_PRECISION names each layer's quant_algo in
    quantized_layers, as vLLM's ModelOptMixedPrecisionConfig reads it: routed experts (_routed) take theirs, the
    other layers theirs (the head aside), a layer it leaves out stays bf16 (vLLM's unquantized method);
    each side must be one format, so dense layers listed for some of the model's dense parts ('attention', 'MLP',
    from `layer_parts`, each layer's parts) and left out for others are refused, as is a part listed for only some
    of its layers, projections or experts (_check_coverage). Otherwise every weight is in quant_algo's format but
    what the skip list (exclude_modules; config.json's ignore: fnmatch wildcards, 're:' read as text) names."""
    if str(q["quant_algo"]).upper() != "MIXED_PRECISION":
        fmt = _modelopt_format(q["quant_algo"], at)
        key = "exclude_modules" if "exclude_modules" in q else "ignore"
        return fmt, fmt, SkipList(entries=q.get(key), at=f"{at}.{key}")
    layers = _object(q.get("quantized_layers") or {}, f"{at}.quantized_layers")
    if not layers:
        raise ModelConfigError(f"{at}: quant_algo MIXED_PRECISION names no quantized_layers")
    found: dict[bool, set[str]] = {False: set(), True: set()}
    listed: set[str] = set()
    for name, entry in layers.items():
        if not name.endswith("lm_head"):
            algo = _object(entry, f"{at}.quantized_layers[{_json_text(name)}]").get("quant_algo")
            found[_routed(name)].add(_modelopt_format(algo, f"{at}.quantized_layers[{_json_text(name)}]"))
            listed |= set() if _routed(name) else {_dense_part(name)}
    for experts, formats in found.items():
        if len(formats) > 1:
            raise ModelConfigError(f"{at}.quantized_layers: the {'routed experts' if experts else 'dense layers'} "
                                   f"mix {' and '.join(sorted(formats))}; parity holds one format for them")
    dense_parts = frozenset().union(*layer_parts) - {"experts"}
    unlisted = sorted(dense_parts - listed)
    if listed and unlisted:
        raise ModelConfigError(f"{at}.quantized_layers: the dense layers mix {next(iter(found[False]))} (the "
                               f"{' and '.join(sorted(listed))} projections) and bf16 (the {' and '.join(unlisted)} "
                               "projections, not listed); parity holds one format for them")
    _check_coverage([name for name in layers if not name.endswith("lm_head")], at, layer_parts, num_experts)
    return next(iter(found[False]), "bf16"), next(iter(found[True]), "bf16"), None


# compressed-tensors' FP8 weight strategy -> the format its weights run in
_CT_FP8 = {"tensor": "fp8", "channel": "fp8_channel", "block": "fp8_block"}


# compressed-tensors' weight strategies each type runs in vLLM (int: W8A8/W4A16/W8A16 per tensor, channel or group;
# NVFP4: 16-element groups under a global scale, 'tensor_group'); FP8's (_CT_FP8) pick the format
_CT_STRATEGIES = {"int8": {"tensor", "channel", "group"}, "int4": {"tensor", "channel", "group"},
                  "nvfp4": {"tensor_group"}}


def _ct_format(group: dict[str, Any], at: str) -> str:
    """The format of one compressed-tensors config group: its weights' bits, type and strategy, and whether it
    quantizes the activations (W8A16 int8 is 'w8a16'; FP8 weight-only, which vLLM runs as W8A16 FP8 through Marlin,
    has no parity format and is refused)."""
    weights = _object(group.get("weights") or {}, f"{at}.config_groups weights")
    bits, kind = weights.get("num_bits"), str(weights.get("type", ""))
    fmt = {(8, "float"): "fp8", (8, "int"): "int8", (4, "int"): "int4", (4, "float"): "nvfp4"}.get((bits, kind))
    if fmt is None:
        raise ModelConfigError(f"{at}: compressed-tensors weights of {_json_text(bits)} bits "
                               f"{_json_text(weights.get('type'))} are not modelled")
    strategy = weights.get("strategy")
    if fmt == "fp8":  # FP8 scales per tensor, per weight channel (FP8-dynamic: per-token activations) or per
        # 128x128 block, the weight strategies vLLM's CompressedTensorsW8A8Fp8 runs; none stated is per tensor
        strategy = strategy or "tensor"
        if str(strategy).lower() not in _CT_FP8:
            raise ModelConfigError(f"{at}: compressed-tensors FP8 weights of strategy {_json_text(strategy)} are "
                                   f"not modelled (parity reads {', '.join(_CT_FP8)})")
        if group.get("input_activations") is None:
            raise ModelConfigError(f"{at}: compressed-tensors FP8 weights with no input_activations (FP8 "
                                   "weight-only, W8A16 FP8) are not modelled")
        return _CT_FP8[str(strategy).lower()]
    if strategy is not None and str(strategy).lower() not in _CT_STRATEGIES[fmt]:
        raise ModelConfigError(f"{at}: compressed-tensors {bits}-bit {kind} weights of strategy "
                               f"{_json_text(strategy)} are not modelled (parity reads "
                               f"{', '.join(sorted(_CT_STRATEGIES[fmt]))})")
    if fmt == "int8" and group.get("input_activations") is None:  # W8A16: activations stay bf16
        return "w8a16"
    return fmt


def _formats(config: dict[str, Any], quant: dict[str, Any] | None, where: str = "",
             layer_parts: tuple[frozenset[str], ...] = (frozenset({"attention", "MLP"}),),
             num_experts: int = 0) -> tuple[str, str, SkipList | None]:
    """(dense weight format, expert weight format, skip list) of the checkpoint; the skip list (ModelOpt's
    exclude_modules, compressed-tensors' ignore, modules_to_not_convert; None where there is none) names the modules
    left unquantized (hf.skips reads it; only compressed-tensors reads 're:' entries as regexes, as vLLM does).
    `layer_parts` are each layer's parts ('attention': any token mixer; 'MLP': dense or shared-expert MLPs;
    'experts': routed experts, `num_experts` a layer), which a ModelOpt MIXED_PRECISION record must quantize all
    alike or leave all out."""
    method, q, at = _quantization(config, quant, where)
    if method == "modelopt":
        return _modelopt_formats(q, at, layer_parts, num_experts)
    if method == "compressed-tensors":  # (vLLM's llm-compressor) every config group must name the same numbers
        groups = _object(q.get("config_groups") or {}, f"{at}.config_groups")
        formats = {_ct_format(_object(group, f"{at}.config_groups entry"), at) for group in groups.values()} or {
            _ct_format({}, at)}
        if len(formats) > 1:
            raise ModelConfigError(f"{at}.config_groups: the groups mix {' and '.join(sorted(formats))}; parity holds "
                                   "one format for the weights")
        fmt = next(iter(formats))
        return fmt, fmt, SkipList(entries=q.get("ignore"), at=f"{at}.ignore", regex=True)
    if method in ("fp8", "mxfp4"):  # vLLM's Fp8Config reads ignored_layers, else modules_to_not_convert
        if method == "mxfp4" and not num_experts:
            raise ModelConfigError(f"{at}: quant_method \"mxfp4\" quantizes MoE experts alone (transformers' "
                                   "Mxfp4HfQuantizer swaps only GptOssExperts; vLLM's Mxfp4Config runs no linear "
                                   "layer in MXFP4), and this model has no routed experts")
        block = q.get("weight_block_size") if method == "fp8" else None
        if block is not None and (not isinstance(block, list) or len(block) != 2 or any(
                isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in block)):  # as Fp8Config refuses
            raise ModelConfigError(f"{at}.weight_block_size must be two positive integers ([128, 128]: a block's "
                                   f"rows and columns), got {_json_text(block)}")
        fmt = "mxfp4" if method == "mxfp4" else "fp8_block" if block else "fp8"
        key = "ignored_layers" if method == "fp8" and q.get("ignored_layers") else "modules_to_not_convert"
        dense = _dtype_format(config, where) if method == "mxfp4" else fmt  # MXFP4: the experts alone, as above
        return dense, fmt, SkipList(entries=q.get(key), at=f"{at}.{key}")
    if method in {"awq", "gptq"}:
        key = next((k for k in (("w_bit", "bits") if method == "awq" else ("bits",)) if q.get(k) is not None), None)
        if key is None and method == "gptq":
            raise ModelConfigError(f'{at} of quant_method "gptq" states no bits')
        bits = q[key] if key else 4
        fmt = _WEIGHT_ONLY_INT.get(bits) if isinstance(bits, int) and not isinstance(bits, bool) else None
        if fmt is None and not isinstance(bits, bool) and str(bits).strip() in ("4", "8", "4.0", "8.0"):  # "8", 8.0
            raise ModelConfigError(f"{at}.{key} {_json_text(bits)}: must be the integer 4 or 8 (a JSON number "
                                   "without a fraction)")
        if fmt is None:
            raise ModelConfigError(f"{at}.{key} {_json_text(bits)}: {method} weights of other than 4 or 8 bits are not "
                                   "modelled")
        # the modules the quantizer left in 16-bit (AutoAWQ and transformers' AwqConfig write modules_to_not_convert;
        # vLLM's AWQConfig reads it, is_layer_skipped with skip_with_substr: an entry the module's path holds
        # anywhere); GPTQ's is read as fp8's list is
        return fmt, fmt, SkipList(entries=q.get("modules_to_not_convert"), at=f"{at}.modules_to_not_convert",
                                  substring=method == "awq")
    if method:
        raise ModelConfigError(f"{at}: quant_method {_json_text(method)} is not modelled")
    fmt = _dtype_format(config, where)
    return fmt, fmt, None


def _dtype_format(config: dict[str, Any], where: str) -> str:
    """The format of the checkpoint's unquantized weights: its torch_dtype (dtype since transformers 4.56), bf16 where
    it states none."""
    dtype = config.get("torch_dtype", config.get("dtype")) or "bfloat16"
    fmt = _DTYPES.get(str(dtype).lower().removeprefix("torch."))
    if fmt is None:
        key = "torch_dtype" if "torch_dtype" in config else "dtype"
        raise ModelConfigError(f"{where or 'config.json'}: {key} {_json_text(dtype)} is not a weight format parity "
                               f"models (one of {', '.join(_DTYPES)})")
    return fmt


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


# vision towers counted exactly where their config says which (the vision config's model_type, else its wrapper's):
# (MLP matrices, norm parameters per hidden unit, whether the merger's norm and biases count). Qwen2.5-VL's
# Qwen2_5_VLVisionBlock holds two RMSNorms (weights only) and a gated MLP, Qwen2_5_VLMLP's gate_proj, up_proj and
# down_proj with biases; its merger an RMSNorm ln_q and two biased linear layers (transformers
# modeling_qwen2_5_vl.py). Any other tower is estimated as a ViT of two LayerNorms and a 2-matrix MLP (Qwen2-VL's
# VisionMlp fc1/fc2), its merger's two matrices alone
_VISION_BLOCKS = {"qwen2_5_vl": (3, 1, True)}
# a vision config's class defaults for the sizes it leaves out (Qwen/Qwen2.5-VL-7B-Instruct's config.json states only
# hidden_size 1280 of them): transformers' Qwen2_5_VLVisionConfig.__init__ (configuration_qwen2_5_vl.py)
_VISION_DEFAULTS = {"qwen2_5_vl": {"depth": 32, "intermediate_size": 3420, "in_channels": 3, "patch_size": 14,
                                   "spatial_merge_size": 2, "temporal_patch_size": 2, "out_hidden_size": 3584}}


# the sizes a vision config states that _vision_parameters reads: each stated must be a count >= 1
_VISION_SIZES = ("hidden_size", "vt_hidden_size", "depth", "num_hidden_layers", "vt_num_hidden_layers",
                 "intermediate_size", "vt_intermediate_size", "patch_size", "in_channels", "temporal_patch_size",
                 "out_hidden_size", "text_hidden_size", "spatial_merge_size")


def _vision_parameters(vision: Any, model_type: str = "", where: str = "") -> int:
    """Weights of a ViT-style vision tower from its config (patch embedding, depth x (attention with biases,
    MLP with biases, two norms), patch merger), shown apart from the text model: exact for the towers of
    _VISION_BLOCKS, an estimate for others; 0 where there is no vision config or it states no width and depth.
    `model_type` is the wrapper's, read where the vision config names none. A vision config that is not an object,
    or a size in it that is not a count >= 1 (-5, "1152"), is refused as a text config's is: it read as no tower."""
    if vision is None:
        return 0
    at = f"{where or 'config.json'} vision_config"
    kind = str(_object(vision, f"{where or 'config.json'}: vision_config").get("model_type") or model_type)
    vision = {**_VISION_DEFAULTS.get(kind, {}), **vision}
    sizes = {key: _int({key: vision[key]}, key, where=at, positive=True) for key in _VISION_SIZES
             if vision.get(key) is not None}
    h = sizes.get("hidden_size") or sizes.get("vt_hidden_size") or 0
    depth = sizes.get("depth") or sizes.get("num_hidden_layers") or sizes.get("vt_num_hidden_layers") or 0
    if not h or not depth:
        return 0
    inner = sizes.get("intermediate_size") or sizes.get("vt_intermediate_size") or 4 * h
    patch, channels = sizes.get("patch_size", 14), sizes.get("in_channels", 3)
    temporal = sizes.get("temporal_patch_size", 1)
    out = sizes.get("out_hidden_size") or sizes.get("text_hidden_size") or h
    merge = sizes.get("spatial_merge_size", 2)
    matrices, norm, exact = _VISION_BLOCKS.get(kind, (2, 2, False))
    mlp = matrices * h * inner + (matrices - 1) * inner + h
    block = 4 * h * h + 4 * h + mlp + 2 * norm * h
    merged = h * merge * merge
    merger = merged * merged + merged * out + ((norm * h + merged + out) if exact else 0)
    return channels * temporal * patch * patch * h + depth * block + merger


# the text config class of a multimodal wrapper (transformers' sub_configs["text_config"]), by the wrapper's model_type:
# Qwen2VLConfig's Qwen2VLTextConfig, Qwen2_5_VLConfig's Qwen2_5_VLTextConfig (q, k and v biases: _QKV_BIAS_TYPES) and
# Gemma3Config's Gemma3TextConfig among them
_TEXT_TYPES = {"qwen3_5": "qwen3_5_text", "qwen3_5_moe": "qwen3_5_moe_text", "llama4": "llama4_text",
               "qwen3_vl": "qwen3_vl_text", "qwen3_vl_moe": "qwen3_vl_moe_text", "gemma4": "gemma4_text",
               "qwen2_vl": "qwen2_vl_text", "qwen2_5_vl": "qwen2_5_vl_text", "gemma3": "gemma3_text"}


def _text_config(config: dict[str, Any], where: str = "") -> tuple[dict[str, Any], Any, str]:
    """The language model's config of a multimodal wrapper (text_config, language_config, llm_config), the top
    level's quantization and dtype carried in; the vision config, if any (beside a nested text config or, in a flat
    wrapper such as Qwen2.5-VL-7B's published config, beside top-level text sizes); and the key the text config sits
    under ("": the top level). A nested config that states a hidden size is read, whatever the top level says, as
    transformers' wrapper classes build the language model from it alone (LlavaConfig, Qwen2_5_VLConfig: sizes beside
    it go unused); one that states none is read unless the top level states hidden_size and num_hidden_layers
    itself. A text config that is neither an object nor null is refused (a string was read as no text config, its
    sizes then missing)."""
    for key in ("text_config", "language_config", "llm_config"):
        inner = config.get(key)
        if inner is not None:
            _object(inner, f"{where or 'config.json'}: {key}")
        if isinstance(inner, dict) and (any(k in inner for k in ALIASES["hidden_size"])
                                        or "hidden_size" not in config or "num_hidden_layers" not in config):
            carried = {k: config[k] for k in ("quantization_config", "torch_dtype", "dtype", "tie_word_embeddings")
                       if k in config and k not in inner}
            # a wrapper class builds its text config as its own text class, whether or not the dict names it
            # (transformers' sub_configs: Qwen3_5MoeConfig's text_config is a Qwen3_5MoeTextConfig), so that class's
            # defaults apply to a nested dict without a model_type too
            named = _TEXT_TYPES.get(str(config.get("model_type", "")))
            if named and "model_type" not in inner:
                carried["model_type"] = named
            return {**inner, **carried}, config.get("vision_config"), key
    return config, config.get("vision_config"), ""
