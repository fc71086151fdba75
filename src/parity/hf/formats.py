"""The checkpoint's weight formats: its quantization_config (AWQ, GPTQ, FP8, MXFP4, compressed-tensors, ModelOpt) or
torch dtype, the skip list of modules left unquantized, and a Mamba state's format."""

from __future__ import annotations

import re
from typing import Any

from parity.errors import ModelConfigError
from parity.hf.skips import SkipList
from parity.hf.values import _json_text, _object

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
