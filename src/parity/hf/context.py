"""The context window a config supports, derived as vLLM derives max_model_len, with how it was derived and a flag
where the config's RoPE scaling is one parity does not read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from parity.errors import ModelConfigError
from parity.flags import Flag
from parity.hf.keys import _BOUNDS, ALIASES, CONTEXT_KEYS, UNSCALED_ROPE_TYPES
from parity.hf.values import _int, _json_text, _where

__all__ = ["ContextWindow", "ROPE_TYPES", "read_context"]

# the RoPE types vLLM builds (vllm/model_executor/layers/rotary_embedding/__init__.py, get_rope: default, linear,
# dynamic, yarn, deepseek_yarn, llama3, longrope, proportional), with the legacy names its config loader renames
# (vllm/transformers_utils/config.py, patch_rope_scaling_dict: su -> longrope, mrope -> default); get_rope refuses any
# other ("Unknown RoPE scaling type")
ROPE_TYPES = ("default", "linear", "dynamic", "yarn", "deepseek_yarn", "llama3", "longrope", "proportional", "su",
              "mrope")
# the scaled types get_rope builds from rope_parameters["factor"] (a KeyError without one; dynamic takes an alpha
# instead): a config of one that states no factor is no model vLLM runs, its window read unscaled, flagged
FACTOR_ROPE_TYPES = ("linear", "dynamic", "yarn", "deepseek_yarn")


@dataclass(frozen=True, slots=True, kw_only=True)
class ContextWindow:
    """tokens: [tokens] the longest sequence (prompt + output), 0 where the config states no length; basis: where it
    comes from ('config.json', or 'config.json, yarn x4 of 32,768' where RoPE scaling derived it); flags: a RoPE
    scaling parity does not read ("unmodelled: rope_scaling ...", the window then read unscaled)."""
    tokens: int
    basis: str = "config.json"
    flags: tuple[Flag, ...] = ()


def read_context(config: dict[str, Any], where: str = "") -> ContextWindow:
    """The context window as vLLM derives max_model_len (vllm/config.py _get_and_verify_max_len, v0.6-v0.10;
    vllm/config/model.py since): the smallest of CONTEXT_KEYS present; then, unless the RoPE type already counts its
    factor (UNSCALED_ROPE_TYPES: Llama 3.1's 131,072 stays) or the model is a Gemma 3 (whose length counts its linear
    factor), times rope_scaling's factor (1 where unstated, as "default" states none), from
    original_max_position_embeddings for YaRN (DeepSeek-V3: 4,096 x 40 = 163,840). RoPE parameters nested by layer
    type (transformers v5: full_attention, sliding_attention) are read each in turn, a factor stated carrying to the
    next, as vLLM does. A rope_scaling that is no object, of a type vLLM does not build (ROPE_TYPES), or of a type
    built from a factor (FACTOR_ROPE_TYPES) that states none, leaves the window unscaled, flagged."""
    found = [_int({key: config[key]}, "max_position_embeddings" if key in ALIASES["max_position_embeddings"] else key,
                  where=where, positive=True) for key in CONTEXT_KEYS if config.get(key) is not None]
    window = min(found, default=0)
    key = "rope_scaling" if config.get("rope_scaling") is not None else "rope_parameters"
    rope = config.get(key)
    if not window or not rope or "gemma3" in str(config.get("model_type", "")):
        return ContextWindow(tokens=window)
    unscaled = f"context window {window:,} read unscaled"
    if not isinstance(rope, dict):
        return ContextWindow(tokens=window, flags=(Flag("unmodelled", f"unmodelled: {key} {_json_text(rope)} (parity "
                                                                      "reads an object of rope_type and factor): "
                                                                      f"{unscaled}"),))
    nested = not (rope.get("rope_type") or rope.get("type")) and any(isinstance(v, dict) for v in rope.values())
    factor, base, scaled, told = 1.0, window, "", False  # told: a factor stated, carried to the entries after it
    for entry in [v for v in rope.values() if isinstance(v, dict)] if nested else [rope]:
        kind = entry.get("rope_type") or entry.get("type")
        named = "rope_type" if entry.get("rope_type") else "type"  # the key the config gave it by (legacy: type)
        stated = entry.get("factor")
        if kind is None and stated is None:  # RoPE of no scaling (rope_theta alone): nothing to derive
            continue
        if kind not in ROPE_TYPES:
            said = f"{named} {_json_text(kind)}" if kind is not None else "with a factor but no rope_type"
            times = f", not x{stated:g}" if isinstance(stated, (int, float)) and not isinstance(stated, bool) else ""
            return ContextWindow(tokens=window, flags=(Flag("unmodelled", f"unmodelled: {key} {said} (vLLM builds "
                                                                          f"{', '.join(ROPE_TYPES[:8])}): "
                                                                          f"{unscaled}{times}"),))
        if kind in UNSCALED_ROPE_TYPES:
            continue
        told = told or stated is not None
        if not told and kind in FACTOR_ROPE_TYPES and not (kind == "dynamic" and "alpha" in entry):
            return ContextWindow(tokens=window, flags=(Flag("unmodelled", f"unmodelled: {key} {named} "
                                                                          f"{_json_text(kind)} states no factor (vLLM "
                                                                          f"builds {kind} from one): {unscaled}"),))
        factor = factor if stated is None else stated
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or factor <= 0:
            raise ModelConfigError(f"{_where(where)}: {key}.factor must be a positive number, got "
                                   f"{_json_text(factor)}")
        rebased = kind == "yarn" and entry.get("original_max_position_embeddings") is not None
        if rebased:
            base = _int({"original_max_position_embeddings": entry["original_max_position_embeddings"]},
                        "original_max_position_embeddings", where=where, positive=True)
        if (stated is not None or rebased) and (factor != 1 or base != window):  # the type that scaled it, named
            scaled = kind
    bound = _BOUNDS["max_position_embeddings"]
    if base * factor > bound:
        raise ModelConfigError(f"{_where(where)}: {key}.factor {factor:g} x {base:,} positions = "
                               f"{base * factor:.3g} tokens is past parity's sanity bound ({bound:,})")
    return ContextWindow(tokens=int(base * factor),
                         basis=f"config.json, {scaled} x{factor:g} of {base:,}" if scaled else "config.json")
