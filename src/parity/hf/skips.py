"""A checkpoint's quantization skip list (ModelOpt exclude_modules, compressed-tensors ignore, modules_to_not_convert)
read as the weight matrices parity holds (Layer.matrices' names) that the checkpoint leaves unquantized."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from parity.errors import ModelConfigError
from parity.hf.values import _json_kind, _json_text
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
# a name reaching inside one layer's routed experts (one expert, or one expert's projection), which vLLM loads as one
# fused module (FusedMoE, prefix model.layers.N.mlp.experts)
_INSIDE_EXPERTS = re.compile(rf"model\.layers\.(\d+)\.({'|'.join(_MLP_BLOCKS)})\.experts\.")


@dataclass(frozen=True, slots=True, kw_only=True)
class SkipList:
    """A checkpoint's skip list as its config states it: `entries` (a list of module names, or None),
    where it sits (`at`, which messages name) and whether its format reads 're:' entries as regular expressions
    (`regex`: compressed-tensors' ignore, vLLM's should_ignore_layer). ModelOpt's exclude_modules are fnmatch
    wildcards and fp8's ignored_layers / modules_to_not_convert names, where vLLM reads 're:' as text. AWQ's
    modules_to_not_convert are read as text a module's path holds anywhere (`substring`: vLLM's is_layer_skipped with
    skip_with_substr, transformers' `key in name`), so "model.layers.0." names all of layer 0 and "layers.3" layers
    3, 30 and 31."""
    entries: Any
    at: str
    regex: bool = False
    substring: bool = False


def _names(skips: SkipList) -> tuple[str, ...]:
    """The distinct module names a skip list holds: a list of strings (None or []: none). Any other value is refused,
    naming the entry: read as text, a number 5 would name layer 5's modules; one string, which transformers'
    quantizers extend a list with letter by letter (get_modules_to_not_convert: "lm_head" names 'l', 'm', '_' ...)
    and compressed-tensors' QuantizationConfig (ignore: list[str]) does not validate, is no list of names either."""
    value, at = skips.entries, skips.at
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ModelConfigError(f"{at} must be a list of module names (strings), got {_shown(value)}")
    for i, entry in enumerate(value):
        if not isinstance(entry, str):
            raise ModelConfigError(f"{at}[{i}] must be a module name (a string), got {_shown(entry)}")
    return tuple(dict.fromkeys(value))


def _shown(value: Any) -> str:
    """A JSON value as a message shows it: its text (cut at 40 characters) and what it is."""
    text = json.dumps(value)
    return "null" if value is None else f"{text if len(text) <= 40 else text[:37] + '...'} ({_json_kind(value)})"


# a regex that refers to its groups by number or name (a backreference, a conditional), whose meaning joining shifts
_GROUP_REFERENCE = re.compile(r"\\[1-9]|\(\?P=|\(\?\(")


def _alternation(regexes: Sequence[re.Pattern[str]]) -> list[re.Pattern[str]]:
    """`regexes` as few patterns as match the same paths: one alternation of those that join, the others apart (a
    regex that names its groups' numbers; a pattern-wide flag such as '(?i)', which Python refuses inside one)."""
    joined: list[re.Pattern[str]] = []
    apart: list[re.Pattern[str]] = []
    for r in regexes:
        (apart if _GROUP_REFERENCE.search(r.pattern) else joined).append(r)
    if len(joined) < 2:
        return list(regexes)
    try:
        return [re.compile("|".join(f"(?:{r.pattern})" for r in joined)), *apart]
    except re.error:
        return list(regexes)


def _matcher(names: Sequence[str], at: str, regex: bool, substring: bool = False) -> Callable[[str], bool]:
    """Whether a module path is skipped by any of `names`, each path tried once. An entry is a regex after 're:'
    where `regex` (matched from the path's start, as compressed-tensors' re.match); otherwise a name with '*'
    wildcards (ModelOpt's fnmatch) that names the module, an enclosing one, or the end of either at a dot
    ('self_attn' covers model.layers.3.self_attn.q_proj, 'gate' model.layers.3.mlp.gate). Plain names are looked up
    by the path's dot-separated runs; a wildcard by its text after the last '*', which must end such a run, or else
    before the first, which must start one; '*x*' by a search for x; the regexes are one alternation. Where
    `substring`, a plain name matches wherever the path holds it (looked up by the path's runs of each name's
    length). So a list of 20,000 names or wildcards costs a few lookups per path, not 20,000 tries."""
    plain: set[str] = set()
    ends: dict[str, list[str]] = {}  # the text after the last '*' -> the wildcards' regexes
    starts: dict[str, list[str]] = {}  # the text before the first '*', of wildcards ending in one
    inner: list[str] = []  # the text between, of wildcards starting and ending in one ('*self_attn*')
    regexes: list[re.Pattern[str]] = []
    for name in names:
        if regex and name.startswith("re:"):
            if not name[3:]:  # it matches every module: a typo more likely than a checkpoint left unquantized
                raise ModelConfigError(f'{at}: "re:" with no pattern would match every module; name what it skips')
            try:
                regexes.append(re.compile(name[3:]))
            except re.error as err:
                raise ModelConfigError(f"{at}: {_json_text(name)} is not a valid regular expression ({err})") from None
        elif "*" in name:
            head, *_, tail = name.split("*")
            glob = ".*".join(re.escape(part) for part in (name[1:-1] if not head and not tail else name).split("*"))
            (ends.setdefault(tail, []) if tail else starts.setdefault(head, []) if head else inner).append(glob)
        elif substring and not name:  # text every path holds: a typo more likely than a checkpoint left unquantized
            raise ModelConfigError(f'{at}: "" names text every module path holds; name what it skips')
        else:
            plain.add(name)
    sizes = sorted({len(name) for name in plain}) if substring else []
    last_parts = {name.rsplit(".", 1)[-1] for name in plain}
    tails = sorted({len(tail) for tail in ends})
    heads = sorted({len(head) for head in starts})
    patterns = _alternation(regexes)
    anywhere = re.compile("|".join(f"(?:{glob})" for glob in inner)) if inner else None  # found anywhere

    @functools.cache
    def ending(tail: str) -> re.Pattern[str]:
        return re.compile(rf"(?:.*\.)?(?:{'|'.join(ends[tail])})")

    @functools.cache
    def starting(head: str) -> re.Pattern[str]:
        return re.compile(rf"(?:{'|'.join(starts[head])})(?:\..*)?\Z")

    @functools.cache
    def hit(path: str) -> bool:
        if any(path[start:start + size] in plain for size in sizes for start in range(len(path) - size + 1)):
            return True
        parts = path.split(".")
        if not substring and any(".".join(parts[i:j]) in plain for j in range(1, len(parts) + 1)
                                 if parts[j - 1] in last_parts for i in range(j)):
            return True
        dots = [i for i, c in enumerate(path) if c == "."]
        if any(path[end - size:end] in ends and ending(path[end - size:end]).fullmatch(path, 0, end)
               for end in [*dots, len(path)] for size in tails if size <= end):
            return True
        if any(path[start:start + size] in starts and starting(path[start:start + size]).match(path, start)
               for start in [0] + [i + 1 for i in dots] for size in heads):
            return True
        return (anywhere is not None and anywhere.search(path) is not None) or any(
            pattern.match(path) for pattern in patterns)

    return hit


def _spellings(name: str, layer: Layer) -> tuple[tuple[str, ...], ...]:
    """Each spelling of matrix `name` in one layer, as the module names (below the layer) that make it whole."""
    blocks, spellings = _MODULES.get(name, ((), ()))
    if name in ("up", "shared_up"):
        spellings = _GATED_UP if layer.mlp is not None and layer.mlp.gated else _UNGATED_UP
    return tuple(tuple(f"{block}.{module}" for module in spelling) for block in blocks for spelling in spellings)


def unquantized_matrices(skips: SkipList | None, layers: Sequence[Layer], hidden_size: int) -> frozenset[str]:
    """The matrices (Layer.matrices' names) skip list `skips` leaves unquantized in the main layers `layers` (one per
    layer index, as model.layers.N counts them; the MTP layers past them, DeepSeek's "model.layers.61*", are not
    read). A matrix must be skipped in every layer that holds it or in none, and whole (all of q/k/v_proj): vLLM runs
    the rest in another format and parity holds one format per matrix, so a list naming it in part is refused. A
    layer's routed experts are one module in vLLM (FusedMoE, model.layers.N.mlp.experts): a name inside them (one
    expert, or an expert's gate_proj) that leaves the module itself unnamed is refused too, as vLLM runs the whole
    module bf16 on it (ModelOpt, fp8: an entry under its prefix) or refuses unless expert 0's gate, up and down agree
    (compressed-tensors), where the checkpoint stores the rest quantized. The router, embedding and head, which
    parity keeps bf16 anyway, may be named; entries that name no matrix parity holds (norms, biases, a vision tower,
    an unknown spelling) are passed over, as vLLM loads nothing by them."""
    names = _names(skips) if skips is not None else ()
    if not names:
        return frozenset()
    at = skips.at
    named = [next((f"model.layers.{name[len(p):]}" for p in _LAYER_PREFIXES if name.startswith(p)), name)
             for name in names]
    hit = _matcher(named, at, skips.regex, skips.substring)
    inside = {int(m.group(1)): (name, m.group(2)) for name, spelt in reversed(list(zip(names, named)))
              if not (skips.regex and name.startswith("re:")) and (m := _INSIDE_EXPERTS.match(spelt))}
    holding: dict[str, int] = {}
    skipped: dict[str, list[int]] = {}  # matrix -> the layers skipping it
    for i, layer in enumerate(layers):
        for name in dict.fromkeys(m.name for m in layer.matrices(hidden_size)):
            holding[name] = holding.get(name, 0) + 1
            spellings = [tuple(f"model.layers.{i}.{module}" for module in spelling)
                         for spelling in _spellings(name, layer)]
            hits = [[path for path in spelling if hit(path)] for spelling in spellings]
            if any(len(found) == len(spelling) for found, spelling in zip(hits, spellings)):
                skipped.setdefault(name, []).append(i)
            elif name in ("expert_up", "expert_down") and i in inside:
                raise ModelConfigError(
                    f"{at} names {_json_text(inside[i][0])}, inside layer {i}'s routed experts, but not the experts "
                    f"whole (model.layers.{i}.{inside[i][1]}.experts): vLLM loads them as one fused module; parity "
                    "holds one format for them")
            elif any(hits) and name != "router":
                found, spelling = max(zip(hits, spellings), key=lambda pair: len(pair[0]))
                raise ModelConfigError(
                    f"{at} names {', '.join(p.rsplit('.', 1)[-1] for p in found)} but not "
                    f"{', '.join(p.rsplit('.', 1)[-1] for p in spelling if p not in found)} of layer {i}'s {name} "
                    "(vLLM runs a fused matrix in one format); parity holds one format per matrix")
    partial = [(name, indices) for name, indices in sorted(skipped.items())
               if len(indices) < holding[name] and name != "router"]
    if partial:  # named with the matrices skipped in the same layers ("model.layers.0.": all of layer 0's)
        name, indices = partial[0]
        alike = [other for other, its in partial if its == indices and holding[other] == holding[name]]
        shown = ", ".join(map(str, indices[:8])) + (", ..." if len(indices) > 8 else "")
        raise ModelConfigError(f"{at} leaves {', '.join(alike)} unquantized in {len(indices)} of the {holding[name]} "
                               f"layers holding {'them' if len(alike) > 1 else 'it'} (layer{'s' * (len(indices) > 1)} "
                               f"{shown}: vLLM runs those in bf16, the others quantized); parity holds one format "
                               "per matrix")
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
