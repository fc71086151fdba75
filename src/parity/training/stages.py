"""Pipeline stages: Megatron-Core's --pp-layout strings parsed, counted and expanded, the virtual stages that split
every stage evenly, and what each pipeline rank holds when no stages are given."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from parity.errors import InfeasiblePlan
from parity.model import Model

__all__ = ["PipelineRank", "implicit_stage_layers", "implicit_ranks", "chunk_choices", "stages_hold_layers",
           "layout_chunks", "layout_counts", "most_layout_entries"]

_REPEAT = re.compile(r"\*([0-9]+)")  # ASCII digits only: \d takes a full-width '４' as 4
_ENTRIES = "EtmL|"
# a layout of any model in the catalog expands to at most a few hundred entries; this bound only keeps a
# caller that gives no model's bound from expanding a typo like "(t|)*10000000000" into memory
_MOST_ENTRIES = 1 << 20
_MOST_NESTING = 32

# a parsed layout: entries and (group, times) pairs
_Items = list["str | tuple[_Items, int]"]


def _parse_layout(text: str, most_entries: int) -> tuple[_Items, dict[str, int]]:
    """The items of a layout string and how many of each entry it expands to, counted without expanding;
    InfeasiblePlan if it is not a layout or it, or any group in it, expands past `most_entries` entries.

    The grammar is Megatron-Core's (PipelineParallelLayerLayout.parse_str_to_list): commas are cosmetic and
    dropped first, an entry or a non-empty "(...)" may be repeated with "*n"; "(...)" must be. Spaces are
    dropped too and groups may nest, which Megatron-Core refuses; a repeat of a repeat, which it reads oddly
    ("(t)*2*3" as "t" then "t"*3) or not at all ("t*2*3"), is refused."""
    kept = [i for i, char in enumerate(text) if char not in " ,"]  # where each character of `flat` stands in `text`
    flat = "".join(text[i] for i in kept)
    brief = repr(text) if len(text) <= 60 else repr(text[:57] + "...")
    if not flat:
        raise InfeasiblePlan(f"--pp-layout is empty{f' ({brief})' if text else ''}: give a layout such as "
                             "'Et*3|(tt|)*29,m|L', or leave it out")

    def malformed(at: int) -> InfeasiblePlan:  # quoting the text as typed, from the character at flat[at]
        start = kept[at] if at < len(kept) else len(text)
        part = text[start:start + 20] + ("..." if len(text) > start + 20 else "")
        return InfeasiblePlan(f"--pp-layout may hold only E, t, m, L, '|', commas and repeats x*n or (...)*n, "
                              f"got {brief} (at {part!r})")
    # per open group: its items, its counts and where its "(" stands
    stack: list[tuple[_Items, dict[str, int], int]] = [([], dict.fromkeys(_ENTRIES, 0), 0)]
    i = 0
    while i < len(flat):
        char = flat[i]
        if char == "(":
            if len(stack) > _MOST_NESTING:
                raise InfeasiblePlan(f"--pp-layout may nest (...) at most {_MOST_NESTING} deep, got {brief}")
            stack.append(([], dict.fromkeys(_ENTRIES, 0), i))
            i += 1
            continue
        if char in _ENTRIES:
            items, inner = [char], {**dict.fromkeys(_ENTRIES, 0), char: 1}
        elif char == ")" and len(stack) > 1 and stack[-1][0]:
            items, inner, _ = stack.pop()
        else:
            raise malformed(stack[-1][2] if char == ")" and len(stack) > 1 else i)
        repeat = _REPEAT.match(flat, i + 1)
        if repeat is None and char == ")":
            raise malformed(i)
        digits = repeat.group(1) if repeat else "1"
        if len(digits) > 4000:  # past int()'s 4,300 digits and any bound
            raise InfeasiblePlan(f"--pp-layout may expand to at most {most_entries:,} entries (E, t, m, L, '|'), "
                                 f"got a repeat count of {len(digits):,} digits in {brief}")
        times = int(digits)
        if sum(inner.values()) * times > most_entries:
            raise InfeasiblePlan(f"--pp-layout may expand to at most {most_entries:,} entries (E, t, m, L, '|'), "
                                 f"got a group of {sum(inner.values()) * times:,} in {brief}")
        stack[-1][0].append(char if repeat is None else (items, times))
        for key, count in inner.items():
            stack[-1][1][key] += count * times
        i = repeat.end() if repeat else i + 1
    if len(stack) != 1:
        raise malformed(stack[-1][2])
    items, counts, _ = stack[0]
    if sum(counts.values()) > most_entries:
        raise InfeasiblePlan(f"--pp-layout may expand to at most {most_entries:,} entries (E, t, m, L, '|'), "
                             f"got {sum(counts.values()):,} in {brief}")
    return items, counts


def layout_counts(text: str, most_entries: int = _MOST_ENTRIES) -> dict[str, int]:
    """How many of each entry (E, t, m, L and the '|' between chunks) a `pipeline_model_parallel_layout`
    string holds once its "x*n" and "(...)*n" repeats are applied, counted without expanding them;
    InfeasiblePlan if the text is not such a layout or it, or any group in it, expands past `most_entries`
    entries."""
    return _parse_layout(text, most_entries)[1]


def most_layout_entries(model: Model) -> int:
    """The most entries a pipeline layout of `model` can hold: its layers, its multi-token-prediction modules,
    one embedding and one loss, each followed by at most one '|' (an empty chunk after each)."""
    return 2 * (model.num_layers + len(model.mtp_layers) + 2)


def layout_chunks(text: str, most_entries: int = _MOST_ENTRIES) -> tuple[str, ...]:
    """The pipeline chunks of a Megatron-Core `pipeline_model_parallel_layout` string, e.g. "Et|(tt|)*30mL":
    chunks split by "|", "x*n" and "(...)*n" repeated n times, commas dropped; in each, E the embedding,
    t a transformer layer, m a multi-token-prediction module, L the LM head and loss (Megatron-Core
    transformer/pipeline_parallel_layer_layout.py). Chunk c runs on pipeline rank c mod pp. The text is
    counted before it is expanded: nothing past `most_entries` entries is ever built."""
    def expand(items: _Items) -> str:
        return "".join(item if isinstance(item, str) else expand(item[0]) * item[1] if item[1] else ""
                       for item in items)
    return tuple(expand(_parse_layout(text, most_entries)[0]).split("|"))


def stages_hold_layers(num_layers: int, pp: int, vp: int) -> bool:
    """Whether `pp` pipeline stages of `vp` virtual stages each split `num_layers` layers evenly with a transformer
    layer in every virtual stage: pp x vp at most the layers (chunk_choices may count the embedding or the loss as a
    layer, which would leave a chunk of none). The layout check and the search both ask this."""
    return pp * vp <= num_layers


def chunk_choices(num_layers: int, pp: int, first: int = 0, last: int = 0) -> tuple[int, ...]:
    """The virtual stages (model chunks per pipeline rank, 1 included) that split the layers of every pipeline stage
    evenly, as Megatron-Core builds them: get_num_layers_to_build asserts num_layers_per_pipeline_rank % vp_size
    == 0, and TransformerConfig refuses first and last stages (decoder_first/last_pipeline_num_layers) whose layers
    vp does not divide. The embedding (first stage) and the loss (last) may each count as one layer where that
    makes the split whole (account_for_embedding_in_pipeline_split, account_for_loss_in_pipeline_split: how
    Megatron-Bridge runs Llama-3.1-405B's 126 layers as pp 8 x vp 8, 128 / 64 = 2 a chunk; with given first and
    last stages a --pp-layout gives such chunks). first, last: the given first and last stages' layers (0: even)."""
    if pp == 1:
        return (1,)
    inner = pp - bool(first) - bool(last)
    rest = num_layers - first - last
    common = set()
    for embedding, loss in ((0, 0), (1, 0), (0, 1), (1, 1)):
        if first or last:
            if inner and rest % inner:
                continue
            sizes = [first + embedding] * bool(first) + [rest // max(inner, 1)] * bool(inner) + \
                [last + loss] * bool(last)
        elif (num_layers + embedding + loss) % pp == 0:
            sizes = [(num_layers + embedding + loss) // pp]
        else:
            continue
        common.add(math.gcd(*sizes))
    return tuple(v for v in range(1, max(common, default=1) + 1) if v == 1 or any(g % v == 0 for g in common))


@dataclass(frozen=True, slots=True, kw_only=True)
class PipelineRank:
    """What one pipeline rank holds: its layers of each of `model.layers`' groups, its multi-token-prediction
    modules, and its share of the embedding and of the LM head (1.0: all of it, on the first and the last rank)."""

    layers: tuple[int, ...]
    mtp: int = 0
    embedding: float = 0.0
    head: float = 0.0


def implicit_stage_layers(num_layers: int, pp: int) -> tuple[int, ...]:
    """The layers of each of `pp` stages when none are given: whole layers, floor or ceil(num_layers / pp) a stage.
    Where pp does not divide them, the extra layers go to the middle stages from the second on, then the first,
    never the last: Megatron's split with the embedding and the loss each counted as a layer
    (account_for_embedding/loss_in_pipeline_split, how Megatron-Bridge splits Llama-3.1-405B's 126 layers over
    pp 8 as 15, 16 x 6, 15), and what a --pp-layout writes for any other count (80 over 25: 3, 4 x 5, 3 x 19)."""
    base, extra = divmod(num_layers, pp)
    order = list(range(1, pp - 1)) + [0]
    heavier = set(order[:extra])
    return tuple(base + (k in heavier) for k in range(pp))


def implicit_ranks(model: Model, pp: int) -> tuple[PipelineRank, ...]:
    """What each of `pp` ranks holds when no stages are given: `implicit_stage_layers` of the layers in order,
    the embedding on the first rank and the LM head (with the loss) on the last, as with --pp-first-layers and
    --pp-last-layers. Megatron-Core builds them there whatever the split: GPTModel.__init__
    (megatron/core/models/gpt/gpt_model.py) makes the LanguageModelEmbedding only where pre_process (the
    first pipeline stage) and the output layer only where post_process (the last); NeMo 2 and Megatron-Bridge
    build that GPTModel."""
    group = [g for g, layer in enumerate(model.layers) for _ in range(layer.count)]
    held, start = [], 0
    for k, size in enumerate(implicit_stage_layers(model.num_layers, pp)):
        held.append(PipelineRank(layers=tuple(group[start:start + size].count(g) for g in range(len(model.layers))),
                                 embedding=float(k == 0), head=float(k == pp - 1)))
        start += size
    return tuple(held)
