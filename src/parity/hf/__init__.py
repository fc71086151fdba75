"""Translates a Hugging Face config.json into a `Model`: the only module that knows HF key names.

Key names differ between architectures (n_routed_experts vs num_local_experts ...); `hf.keys` lists
each name parity accepts, the keys it refuses and the sanity bounds (`hf.checks` checks a config's keys against
them, `hf.values` reads their values); `hf.layers` translates layers, `hf.formats` the checkpoint's weight formats,
`hf.multimodal` a wrapper's text config and vision tower.
A missing, non-finite, out-of-bound or unmodellable key raises ModelConfigError naming the key; a key
parity does not know loads with the flag "unmodelled: KEY", a model_type it does not know with "unknown
architecture"; a key a known class leaves out takes the class's Hugging Face default (`hf.keys.CLASS_DEFAULTS`).
"""

from __future__ import annotations

import dataclasses
import json
import stat
import sys
from pathlib import Path
from typing import Any

from parity.errors import ModelConfigError
from parity.flags import Flag
from parity.hf.context import read_context
from parity.hf.checks import _check_keys, _typed, _unknown_architecture, _unnested, _unread_parts, _with_class_defaults
from parity.hf.formats import _formats, _state_format
from parity.hf.keys import _FOUR_NORM_TYPES, _PARALLEL_TYPES, _TIED_TYPES, ALIASES, CONTEXT_KEYS
from parity.hf.layers import _attention, _check_layer_indices, _check_pattern, _group, _kinds, _layer_view, _linear, \
    _mamba, _mlp
from parity.hf.multimodal import _text_config, _vision_parameters
from parity.hf.values import _bool, _get, _int, _json_kind, _named
from parity.hf.skips import settled, unquantized_matrices
from parity.model import DenseMlp, Layer, Model, MoeMlp

__all__ = ["ALIASES", "context_window", "malformed_json_text", "model_from_config", "model_name", "read_config",
           "read_model"]


def model_from_config(config: Any, name: str = "model", quant: dict[str, Any] | None = None,
                      source: str = "") -> Model:
    """The Model a config.json dict describes. `quant` is ModelOpt's hf_quant_config.json, if any."""
    where = source or name
    if not isinstance(config, dict):
        raise ModelConfigError(f"{where}: a config must be a JSON object {{...}}, got {_json_kind(config)}")
    config = _unnested(_typed(config), where)
    inner, vision, nested_key = _text_config(config, where)
    flags = _check_keys(config, where, wrapper=inner is not config)
    file_where = where
    top_type = str(config.get("model_type", ""))
    if inner is not config:
        where = f"{where} {nested_key}"
        flags += _check_keys(inner, where)
    flags += _unknown_architecture(inner, config, where)
    inner, unread = _unread_parts(inner)
    _check_pattern(inner, where)
    config = _with_class_defaults(inner)
    flags += unread
    context = read_context(config, where)
    if not any(key in inner for key in CONTEXT_KEYS) and context.tokens:  # the class's default, not the file's
        context = dataclasses.replace(context, basis=context.basis.replace(
            "config.json", f"{inner.get('model_type')} class default; config.json states none", 1))
    num_layers = _int(config, "num_layers", where=where, positive=True)
    hidden = _int(config, "hidden_size", where=where, positive=True)
    vocab = _int(config, "vocab_size", where=where, positive=True)
    # bounded before any layer is built; a head count stated must be >= 1 (a layer of no heads is no attention)
    for bounded, positive in (("num_attention_heads", True), ("num_key_value_heads", True), ("num_experts", False),
                              ("intermediate_size", False)):
        _int(config, bounded, 0, where, positive=positive and _get(config, bounded, None) is not None)
    kinds = _kinds(config, num_layers, where)
    _check_layer_indices(config, "mlp_only_layers", num_layers, where)
    mlps = [_mlp(config, mlp_kind, i, where) for i, (_, mlp_kind) in enumerate(kinds)]
    layer_parts = tuple(frozenset({"attention"} if mixer else ()) | frozenset(
        {"MLP"} if isinstance(mlp, DenseMlp) or (isinstance(mlp, MoeMlp) and mlp.num_shared_experts) else ())
        | frozenset({"experts"} if isinstance(mlp, MoeMlp) else ()) for (mixer, _), mlp in zip(kinds, mlps))
    num_experts = max((mlp.num_experts for mlp in mlps if isinstance(mlp, MoeMlp)), default=0)
    dense_format, expert_format, skip_list = _formats(config, quant, file_where, layer_parts, num_experts)
    state_format = _state_format(config, dense_format)
    model_type = str(config.get("model_type", ""))
    norms = (1 if "hybrid_override_pattern" in config or model_type in _PARALLEL_TYPES or model_type == "mamba2"
             else 4 if model_type in _FOUR_NORM_TYPES else 2)
    layers = []
    for i, ((mixer_kind, _), mlp) in enumerate(zip(kinds, mlps)):
        mixer = (None if not mixer_kind else _linear(config, where, state_format) if mixer_kind == "linear"
                 else _mamba(config, where, state_format) if mixer_kind == "mamba"
                 else _attention(_layer_view(config, i, where), where, mixer_kind))
        try:
            layers.append(Layer(attention=mixer, mlp=mlp, norms=norms))
        except ValueError as err:
            raise _named(err, f"{where}: layer {i}") from err
    dense_format, expert_format, unquantized = settled(
        dense_format, expert_format, unquantized_matrices(skip_list, layers, hidden), layers, hidden)
    mtp = (_int(config, "num_nextn_predict_layers", 0, where) or _int(config, "mtp_num_hidden_layers", 0, where)
           or _int(config, "num_mtp_modules", 0, where))
    last = next(layer for layer in reversed(layers) if layer.attention is not None and layer.mlp is not None) \
        if any(layer.attention is not None and layer.mlp is not None for layer in layers) else layers[-1]
    mtp_layers = (Layer(attention=last.attention, mlp=last.mlp, count=mtp, norms=last.norms),) if mtp else ()
    tied = _bool(config, "tie_word_embeddings", model_type in _TIED_TYPES, where)
    vision_parameters = _vision_parameters(vision, top_type, file_where)
    if vision is not None and not vision_parameters:  # stated, but no width and depth to count: said, not dropped
        flags += (Flag("unmodelled", "unmodelled: vision_config states no width and depth (its class builds a "
                                     "default tower): the tower is not counted"),)
    try:
        return Model(name=name, hidden_size=hidden, vocab_size=vocab, layers=_group(layers),
                     tie_word_embeddings=tied,
                     mtp_layers=mtp_layers,
                     max_position_embeddings=_int(config, "max_position_embeddings", 0, where),
                     context_window=context.tokens, context_window_basis=context.basis,
                     weight_format=dense_format, expert_weight_format=expert_format,
                     unquantized_matrices=unquantized, source=source,
                     architecture=model_type, vision_parameters=vision_parameters,
                     flags=tuple(dict.fromkeys((*flags, *context.flags))))
    except ValueError as err:
        raise _named(err, where) from err


def context_window(config: dict[str, Any], where: str = "") -> int:
    """[tokens] The longest sequence (prompt + output) a config supports, as vLLM derives max_model_len
    (hf.context.read_context); 0 where the config states none."""
    return read_context(config, where).tokens


def _constant(name: str) -> float:
    """NaN and Infinity (which json accepts) become floats here; model_from_config refuses them by key."""
    return float(name.lower().replace("infinity", "inf"))


def malformed_json_text(err: json.JSONDecodeError) -> str:
    """'malformed JSON: Unterminated string starting at line 3, column 3': json's whole message, its position as
    line and column (a message ending in 'at' names where the faulty part starts)."""
    return f"malformed JSON: {err.msg}{'' if err.msg.endswith(' at') else ' at'} line {err.lineno}, column {err.colno}"


# pipes the shell has already opened, with their writer attached: `parity model <(cat config.json)`
_OPEN_PIPES = ("/dev/fd/", "/proc/self/fd/", "/dev/stdin")


def read_config(path: Path) -> dict[str, Any]:
    """Parse a config.json file; malformed JSON is a ModelConfigError naming the file, line and column. Only a
    regular file (or a pipe the shell opened, _OPEN_PIPES) is read: a named pipe with no writer would block, a device
    never end."""
    try:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode) and not (stat.S_ISFIFO(mode) and str(path).startswith(_OPEN_PIPES)):
            kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a folder" if stat.S_ISDIR(mode)
                    else "a device or socket")
            raise ModelConfigError(f"{path}: not a regular file but {kind}; give a config.json file")
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark, as some Windows editors write, is no JSON
    except OSError as err:
        raise ModelConfigError(f"cannot read {path}: {err.strerror or err}") from err
    except UnicodeDecodeError as err:
        raise ModelConfigError(f"{path.name}: not UTF-8 text (byte {err.start}): save it as UTF-8 JSON") from err
    try:
        data = json.loads(text, parse_constant=_constant)
    except json.JSONDecodeError as err:
        raise ModelConfigError(f"{path.name}: {malformed_json_text(err)}") from err
    except RecursionError as err:
        raise ModelConfigError(f"{path.name}: JSON nested too deeply to be a config") from err
    except ValueError as err:  # an integer of more digits than Python converts (sys.get_int_max_str_digits: 4,300)
        raise ModelConfigError(f"{path.name}: JSON holds an integer of more than {sys.get_int_max_str_digits():,} "
                               "digits, which no config value is") from err
    if not isinstance(data, dict):
        raise ModelConfigError(f"{path.name}: a config must be a JSON object {{...}}, got {_json_kind(data)}")
    return data


def model_name(path: Path) -> str:
    """The name a model read from `path` goes by: its file's stem less '_config' (llama_config.json: llama), but for a
    file called config.json, a Hugging Face download's folder, that folder's name (Llama-3.1-8B/config.json:
    Llama-3.1-8B), as two such folders are two models, not one named 'config' twice."""
    stem = path.stem.removesuffix("_config")
    return (path.resolve().parent.name or stem) if stem == "config" else stem


def read_model(path: Path, name: str | None = None) -> Model:
    """A Model from a config.json path (a sibling hf_quant_config.json is read too, if present)."""
    config = read_config(path)
    quant_path = path.with_name(path.name.replace("config.json", "hf_quant_config.json"))
    quant = read_config(quant_path) if quant_path != path and quant_path.exists() else None
    return model_from_config(config, name or model_name(path), quant, source=str(path.name))
