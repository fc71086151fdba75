"""A checkpoint's quantization skip list (ModelOpt exclude_modules, compressed-tensors ignore, modules_to_not_convert)
read as the weight matrices parity holds (Layer.matrices' names) that the checkpoint leaves unquantized."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from parity.errors import ModelConfigError
from parity.model import Layer

# the blocks a layer's token mixer and MLP sit under in checkpoints (Nemotron-H names both `mixer`)
_MIXER_BLOCKS = ("self_attn", "linear_attn", "mixer", "attention", "self_attention", "attn")
_MLP_BLOCKS = ("mlp", "feed_forward", "block_sparse_moe", "mixer", "ffn")
_SHARED_BLOCKS = tuple(f"{block}.{name}" for block in _MLP_BLOCKS
                       for name in ("shared_experts", "shared_expert", "shared_mlp"))
_GATED_UP = (("gate_proj", "up_proj"), ("gate_up_proj",), ("w1", "w3"))
_UNGATED_UP = (("up_proj",), ("fc1",), ("c_fc",), ("dense_h_to_4h",))
_DOWN = (("down_proj",), ("w2",), ("fc2",), ("c_proj",), ("dense_4h_to_h",))

# parity's matrix -> (the blocks it sits under, its spellings): each spelling the modules that make it whole (vLLM
# fuses q/k/v and gate/up into one linear and refuses a skip list that names some of a fused set's modules); the
# routed experts are one fused module ("mlp.experts", vLLM's FusedMoE prefix)
_MODULES: dict[str, tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]] = {
    "qkv": (_MIXER_BLOCKS, (("q_proj", "k_proj", "v_proj"), ("qkv_proj",), ("query_key_value",), ("W_pack",),
                            ("c_attn",))),
    "q": (_MIXER_BLOCKS, (("q_proj",),)), "q_a": (_MIXER_BLOCKS, (("q_a_proj",),)),
    "q_b": (_MIXER_BLOCKS, (("q_b_proj",),)), "kv_a": (_MIXER_BLOCKS, (("kv_a_proj_with_mqa",),)),
    "kv_b": (_MIXER_BLOCKS, (("kv_b_proj",),)),
    "o": (_MIXER_BLOCKS, (("o_proj",), ("out_proj",), ("dense",), ("c_proj",))),
    "index_q": (_MIXER_BLOCKS, (("indexer.wq_b",),)), "index_k": (_MIXER_BLOCKS, (("indexer.wk",),)),
    "index_weights": (_MIXER_BLOCKS, (("indexer.weights_proj",),)),
    "qkvz": (_MIXER_BLOCKS, (("in_proj_qkvz",),)), "ab": (_MIXER_BLOCKS, (("in_proj_ba",),)),
    "in_proj": (_MIXER_BLOCKS, (("in_proj",),)), "gate": (_MIXER_BLOCKS, (("output_gate",), ("g_proj",))),
    "up": (_MLP_BLOCKS, ()), "down": (_MLP_BLOCKS, _DOWN),
    "shared_up": (_SHARED_BLOCKS, ()), "shared_down": (_SHARED_BLOCKS, _DOWN),
    "router": (_MLP_BLOCKS, (("gate",), ("router",))),
    "expert_up": (_MLP_BLOCKS, (("experts",),)), "expert_down": (_MLP_BLOCKS, (("experts",),)),
    "latent_down": (_MLP_BLOCKS, (("fc1_latent_proj",),)), "latent_up": (_MLP_BLOCKS, (("fc2_latent_proj",),)),
}

# where checkpoints put the text model's layers (multimodal wrappers, Nemotron-H's backbone): read as model.layers.
_LAYER_PREFIXES = ("language_model.model.layers.", "model.language_model.layers.", "language_model.layers.",
                   "backbone.layers.")
_LAYER_INDEX = re.compile(r"^model\.layers\.(\d+)(?:\.|$)")


def _entries(value: Any) -> tuple[str, ...]:
    """The module names a skip list holds (a list of names, or one name)."""
    return tuple(str(v) for v in value) if isinstance(value, list) else ((str(value),) if value else ())


def _matcher(entry: str) -> Callable[[str], bool]:
    """Whether a module path is skipped by `entry`: a compressed-tensors `re:` regex matched from the path's start;
    otherwise a name with `*` wildcards (ModelOpt's fnmatch) that names the module, an enclosing one, or the end of
    either at a dot ('self_attn' covers model.layers.3.self_attn.q_proj, 'gate' model.layers.3.mlp.gate)."""
    if entry.startswith("re:"):
        regex = re.compile(entry[3:])
        return lambda path: regex.match(path) is not None
    if "*" not in entry:
        return lambda path: f".{entry}." in f".{path}."
    glob = re.compile(r"(?:.*\.)?" + ".*".join(re.escape(part) for part in entry.split("*")) + r"(?:\..*)?")
    return lambda path: glob.fullmatch(path) is not None


def _spellings(name: str, layer: Layer) -> tuple[tuple[str, ...], ...]:
    """Each spelling of matrix `name` in one layer, as the module names (below the layer) that make it whole."""
    blocks, spellings = _MODULES.get(name, ((), ()))
    if name in ("up", "shared_up"):
        spellings = _GATED_UP if layer.mlp is not None and layer.mlp.gated else _UNGATED_UP
    return tuple(tuple(f"{block}.{module}" for module in spelling) for block in blocks for spelling in spellings)


def unquantized_matrices(value: Any, at: str, layers: Sequence[Layer], hidden_size: int) -> frozenset[str]:
    """The matrices (Layer.matrices' names) skip list `value` leaves unquantized in the main layers `layers` (one per
    layer index, as model.layers.N counts them; the MTP layers past them, DeepSeek's "model.layers.61*", are not
    read). A matrix must be skipped in every layer that holds it or in none, and whole (all of q/k/v_proj): vLLM runs
    the rest in another format and parity holds one format per matrix, so a list naming it in part is refused. The
    router, embedding and head, which parity keeps bf16 anyway, may be named; entries that name no matrix parity
    holds (norms, biases, a vision tower, an unknown spelling) are passed over, as vLLM loads nothing by them."""
    entries = _entries(value)
    if not entries:
        return frozenset()
    anywhere: list[Callable[[str], bool]] = []
    by_layer: dict[int, list[Callable[[str], bool]]] = {}
    for entry in entries:
        named = next((f"model.layers.{entry[len(p):]}" for p in _LAYER_PREFIXES if entry.startswith(p)), entry)
        index = _LAYER_INDEX.match(named)  # a name of one layer is tried on that layer's modules alone
        (by_layer.setdefault(int(index.group(1)), []) if index else anywhere).append(_matcher(named))
    holding: dict[str, int] = {}
    skipped: dict[str, int] = {}
    for i, layer in enumerate(layers):
        matchers = anywhere + by_layer.get(i, [])
        for name in dict.fromkeys(m.name for m in layer.matrices(hidden_size)):
            holding[name] = holding.get(name, 0) + 1
            if not matchers:
                continue
            spellings = [tuple(f"model.layers.{i}.{module}" for module in spelling)
                         for spelling in _spellings(name, layer)]
            hits = [[path for path in spelling if any(hit(path) for hit in matchers)] for spelling in spellings]
            if any(len(found) == len(spelling) for found, spelling in zip(hits, spellings)):
                skipped[name] = skipped.get(name, 0) + 1
            elif any(hits) and name != "router":
                found, spelling = max(zip(hits, spellings), key=lambda pair: len(pair[0]))
                raise ModelConfigError(
                    f"{at} names {', '.join(p.rsplit('.', 1)[-1] for p in found)} but not "
                    f"{', '.join(p.rsplit('.', 1)[-1] for p in spelling if p not in found)} of layer {i}'s {name} "
                    "(vLLM runs a fused matrix in one format); parity holds one format per matrix")
    for name, count in sorted(skipped.items()):
        if count < holding[name] and name != "router":
            raise ModelConfigError(f"{at} leaves {name} unquantized in {count} of the {holding[name]} layers "
                                   "holding it (vLLM runs those in bf16, the others quantized); parity holds one "
                                   "format per matrix")
    return frozenset(skipped) - {"router"}


def settled(dense_format: str, expert_format: str, skipped: frozenset[str], layers: Sequence[Layer],
            hidden_size: int) -> tuple[str, str, frozenset[str]]:
    """(dense format, expert format, unquantized matrices) of a checkpoint whose skip list leaves `skipped`
    unquantized: a side (the routed experts; the other matrices, the router aside) skipped whole is bf16 (gpt-oss's
    attention, Kimi-K2.5's dense layers), and only matrices of a quantized side are kept apart."""
    matrices = [m for layer in layers for m in layer.matrices(hidden_size) if m.name != "router"]
    sides = {True: {m.name for m in matrices if m.expert}, False: {m.name for m in matrices if not m.expert}}
    formats = {expert: ("bf16" if names and names <= skipped else fmt)
               for (expert, names), fmt in zip(sides.items(), (expert_format, dense_format))}
    kept = frozenset(name for expert, names in sides.items() if formats[expert] != "bf16" for name in names & skipped)
    return formats[False], formats[True], kept
