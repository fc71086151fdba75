"""Multimodal wrappers: the text config a wrapper nests (its class's model_type carried in) and the size of its vision
tower."""

from __future__ import annotations

from typing import Any

from parity.hf.keys import ALIASES
from parity.hf.values import _int, _object


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
