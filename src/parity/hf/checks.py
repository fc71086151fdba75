"""Checks of a config's keys against the tables of `hf.keys`: refused, encoder and unknown keys and types, nested and
unread parts, the class's defaults, MLP gating and the flag of an unknown architecture."""

from __future__ import annotations

from typing import Any

from parity.errors import ModelConfigError
from parity.flags import Flag
from parity.hf.keys import (_ENCODER_DECODER_TYPES, _ENCODER_TYPES, _HARMLESS, _MOOT_UNLESS, _NESTED,
                            _NONFINITE_OK, _PART_KEYS, _PLAIN_TYPES, _READ_ONLY_BESIDE, _READ_ONLY_BY, _REFUSED,
                            _REFUSED_TYPES, _RENAMED, _TOKEN_SUFFIXES, _UNDERSTOOD, _UNGATED_TYPES,
                            _WRAPPER_VISION_WORDS, ALIASES, CLASS_DEFAULTS, CLASS_TYPES, KNOWN_TYPES)
from parity.hf.values import _json_text, _nonfinite, _object, _where


def _check_keys(config: dict[str, Any], where: str, wrapper: bool = False) -> tuple[Flag, ...]:
    """Refuse NaN/Infinity and keys parity cannot model; flag keys it does not know, but for transformers' private
    attributes (a leading '_': _attn_implementation_autoset, _commit_hash; those parity reads, as
    _sliding_window_pattern, are read) and, where `config` is a `wrapper` whose text config is nested, the keys of its
    vision tower and projector (_WRAPPER_VISION_WORDS)."""
    for key, value in config.items():
        if key in _NONFINITE_OK:
            continue
        path = _nonfinite(value, key)
        if path:
            raise ModelConfigError(f"{_where(where)}: {path} is not a finite number (NaN, Infinity or an integer "
                                   "past 1.8e308)")
    for key, what in _REFUSED.items():
        if config.get(key):
            raise ModelConfigError(f"{_where(where)}: {key} ({what}) is not modelled by parity")
    if config.get("model_type") in _REFUSED_TYPES:
        raise ModelConfigError(f"{_where(where)}: model_type {_json_text(config['model_type'])} "
                               f"({_REFUSED_TYPES[config['model_type']]}) is not modelled by parity")
    _refuse_non_decoders(config, where)
    return tuple(Flag("unmodelled", f"unmodelled: {key}") for key in sorted(config) if key not in _UNDERSTOOD
                 and not key.endswith(_TOKEN_SUFFIXES) and not key.startswith("_")
                 and not (wrapper and any(word in key for word in _WRAPPER_VISION_WORDS))
                 and config[key] not in (None, False, 0, [], {})
                 and not (key in _MOOT_UNLESS and not config.get(_MOOT_UNLESS[key])))


def _refuse_non_decoders(config: dict[str, Any], where: str) -> None:
    """Refuse an encoder-only model (BERT: _ENCODER_TYPES, or a *ForMaskedLM class) or an encoder-decoder one (T5:
    _ENCODER_DECODER_TYPES, or is_encoder_decoder true): read as a causal decoder, it was priced with a KV cache it
    does not keep (and without the encoder's passes or the cross-attention)."""
    model_type = config.get("model_type")
    names = config.get("architectures")
    name = names[0] if isinstance(names, list) and names and isinstance(names[0], str) else ""
    typed = f"model_type {_json_text(model_type)}" if model_type else ""
    said = f"{name} ({typed})" if name and typed else name or typed or "this config"
    if model_type in _ENCODER_DECODER_TYPES or config.get("is_encoder_decoder") is True:
        kind = "an encoder-decoder model (cross-attention over an encoded input)"
    elif model_type in _ENCODER_TYPES or name.endswith("ForMaskedLM"):
        kind = "an encoder-only model (it encodes its whole input at once, keeping no KV cache)"
    else:
        return
    raise ModelConfigError(f"{_where(where)}: {said} is {kind}; parity prices decoder-only LLMs "
                           "that generate token by token with a KV cache")


def _unnested(config: dict[str, Any], where: str) -> dict[str, Any]:
    """`config` with the nested records its class reads (_NESTED: DBRX's attn_config and ffn_config) lifted to the top
    level, each record's own keys only, and its class's own spellings renamed (_RENAMED: Mamba-2's); a record that is
    not a JSON object is refused."""
    renamed = _RENAMED.get(str(config.get("model_type", "")), {})
    config = {renamed.get(k, k): v for k, v in config.items()} if renamed else config
    records = _NESTED.get(str(config.get("model_type", "")), {})
    lifted = {key: value for record, keys in records.items() if record in config
              for key, value in _object(config[record], f"{_where(where)}: {record}").items() if key in keys}
    return {**{k: v for k, v in config.items() if k not in records}, **lifted} if records else config


def _unread_parts(config: dict[str, Any]) -> tuple[dict[str, Any], tuple[Flag, ...]]:
    """`config` less the keys its known class never reads: those of _PART_KEYS where the class is one of
    _PLAIN_TYPES, those of _READ_ONLY_BY where it is not among the key's readers, and those of _READ_ONLY_BESIDE
    without the key they need; a flag for each of those that is set. As it is otherwise (a type parity does not know
    is read from its keys)."""
    model_type = config.get("model_type")
    dropped = (_PART_KEYS if model_type in _PLAIN_TYPES else frozenset()) | frozenset(
        key for key, readers in _READ_ONLY_BY.items() if model_type in KNOWN_TYPES and model_type not in readers) | {
        key for key, beside in _READ_ONLY_BESIDE.get(str(model_type), {}).items() if config.get(beside) is None}
    if not dropped & config.keys():
        return config, ()
    unread = sorted(key for key in dropped & config.keys() if config[key] not in (None, False, 0, [], {}))
    return {k: v for k, v in config.items() if k not in dropped}, tuple(_ignored(key, model_type) for key in unread)


def _ignored(key: str, model_type: Any) -> Flag:
    """The flag of a key a known class never reads, left unread: said, not dropped."""
    return Flag("unmodelled", f"ignored: {key} (model_type {_json_text(model_type)} has no such part; its class does "
                              "not read the key)")


def _with_class_defaults(config: dict[str, Any]) -> dict[str, Any]:
    """`config` with its class's defaults (CLASS_DEFAULTS) for the keys it leaves out under every alias; a key
    present, even as null, keeps its own value."""
    defaults = CLASS_DEFAULTS.get(str(config.get("model_type", "")), {})
    absent = {key: value for key, value in defaults.items()
              if not any(k in config for k in next((keys for keys in ALIASES.values() if key in keys), (key,)))}
    return {**config, **absent} if absent else config


# the activations of gated MLPs (SwiGLU): a GPT-2-style activation_function naming any other (gelu_new, relu ...)
# marks the plain c_fc/fc1 MLP of the classes that keep that key (GPT-J, CodeGen, Phi-1/2); JetMoE's "silu" is a GLU
_GATED_ACTIVATIONS = {"silu", "swish", "swiglu"}


def _mlp_gating(config: dict[str, Any], where: str = "") -> tuple[bool, str]:
    """(whether the MLPs are gated, the key that says so; "" where parity assumes a gated MLP): the class's own
    (_UNGATED_TYPES ungated, any other known type gated, relu2 for Nemotron-H) or, for a type parity does not know,
    mlp_type 'default' (StarCoder2's spelling of a plain MLP; any other value is refused) or a GPT-2
    activation_function."""
    model_type = str(config.get("model_type", "")).lower()
    if model_type in _UNGATED_TYPES:
        return False, "model_type"
    if str(config.get("mlp_hidden_act", "")).lower() == "relu2":
        return False, "mlp_hidden_act"
    if model_type in KNOWN_TYPES:
        return True, "model_type"
    mlp_type = config.get("mlp_type")
    if mlp_type is not None:
        if mlp_type != "default":
            raise ModelConfigError(f"{_where(where)}: mlp_type {_json_text(mlp_type)} is not modelled (parity reads "
                                   '"default", a plain MLP of two matrices)')
        return False, "mlp_type"
    activation = config.get("activation_function")
    if isinstance(activation, str) and activation.lower() not in _GATED_ACTIVATIONS:
        return False, "activation_function"
    return True, ""


def _guesses(config: dict[str, Any], where: str) -> list[str]:
    """The structural guesses that size a model of unknown type: what its config leaves to its class."""
    said = _mlp_gating(config, where)[1]
    kv_said = any(config.get(k) is not None for k in ALIASES["num_key_value_heads"] + ("multi_query", "kv_lora_rank"))
    return ([] if said else ["a gated MLP (3 matrices)"]) + (
        [] if config.get("tie_word_embeddings") is not None else ["an untied head"]) + (
        [] if kv_said else ["KV heads = attention heads"])


# keys that name or wrap a config, and the sizes every decoder states: left out of what an unknown one was read from
_PLAIN = {"model_type", "architectures", "text_config", "vision_config", "language_config", "llm_config",
          "torch_dtype", "dtype", "quantization_config", "hidden_act", "tie_word_embeddings"} | {
    key for name in ("hidden_size", "num_layers", "num_attention_heads", "num_key_value_heads", "head_dim",
                     "intermediate_size", "vocab_size", "max_position_embeddings") for key in ALIASES[name]}


def _typed(config: dict[str, Any]) -> dict[str, Any]:
    """`config` with the model_type of the class its `architectures` names first (CLASS_TYPES), where it states
    none; as it is otherwise."""
    names = config.get("architectures")
    name = names[0] if isinstance(names, list) and names and isinstance(names[0], str) else ""
    return {**config, "model_type": CLASS_TYPES[name]} if not config.get("model_type") and name in CLASS_TYPES \
        else config


def _unknown_architecture(config: dict[str, Any], top: dict[str, Any], where: str = "") -> tuple[Flag, ...]:
    """A flag when the model type the layers of `config` (the translated, text config; `top` the file's own) are
    read by is not one of KNOWN_TYPES: its layers were then guessed from the keys present, naming those beyond the
    plain sizes. A nested text config that names no type, under a wrapper that implies none, is flagged so."""
    model_type = config.get("model_type")
    if model_type in KNOWN_TYPES:
        return ()
    names = top.get("architectures") or config.get("architectures")
    name = names[0] if isinstance(names, list) and names and isinstance(names[0], str) else ""
    wrapper = top.get("model_type") if config is not top else None
    missing = (f"its text config names no model_type and model_type {_json_text(wrapper)} implies none" if wrapper else
               "no model_type, and no class parity knows" if name else "no model_type nor architectures")
    label = f"{name} ({f'model_type {_json_text(model_type)}' if model_type else missing})".strip()
    read = sorted(k for k, v in config.items() if k in _UNDERSTOOD - _HARMLESS - _PLAIN and v not in (None, False))
    guesses = _guesses(config, where)
    assumed = f"; assumed {', '.join(guesses[:-1])} and {guesses[-1]}" if len(guesses) > 1 else \
        f"; assumed {guesses[0]}" if guesses else ""
    return (Flag("unknown architecture",
                 f"unknown architecture {label}: guessed from its keys ("
                 + (", ".join(read) if read else "the plain sizes only") + f"){assumed}; what its class adds "
                 "unstated (defaults, q/k norms, biases) is missing", "unknown architecture"),)
