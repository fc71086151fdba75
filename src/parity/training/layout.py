"""A training layout: how chips split the model (tp, pp, cp, ep) and the batch (dp, microbatches),
with the memory levers (ZeRO stage, recomputation, sequence parallelism) and the number format.

Chips = tp x pp x cp x dp. Experts fold into the tp x cp x dp ranks of a stage as Megatron-Core's
"MoE parallel folding" does: ep x etp ranks form one MoE group (etp slices each expert).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from parity.errors import InfeasiblePlan
from parity.model import Model, MoeMlp
from parity.plan import Precision, check_expert_split, check_pipeline_split, check_tensor_split

__all__ = ["TrainingLayout", "implicit_stage_layers", "implicit_ranks", "chunk_choices", "stages_hold_layers",
           "layout_chunks", "layout_counts", "most_layout_entries", "check_dense_experts", "check_micro_batch",
           "check_model_options", "default_global_batch", "ranks_clause", "RECOMPUTE", "PRECISIONS", "GRAD_OVERLAP",
           "training_precision", "ACTIVATION_CACHES", "OPTIMIZER_STATES", "GRADIENT_FORMATS", "MOE_DISPATCHERS"]

RECOMPUTE = ("none", "selective", "full")
PP_SCHEDULES = ("1f1b", "interleaved", "zb", "dualpipe")
GRAD_OVERLAP = ("none", "overlap")
# what the backward pass finds stored (training.memory.layer_activation_bytes_per_token): "auto" the GEMM
# inputs in the precision's format, the rest bf16; "fp8" DeepSeek-V3's cache (arXiv 2412.19437, Sec. 3.3.2)
ACTIVATION_CACHES = ("auto", "fp8")
OPTIMIZER_STATES = ("fp32", "bf16")  # AdamW moments (master weights fp32 either way)
GRADIENT_FORMATS = ("bf16", "fp32")  # gradients accumulated over the microbatches
# Megatron-Core's MoE token dispatchers: "alltoall" sends one row per (token, expert) (MoEAlltoAllTokenDispatcher);
# "deepep" (moe_token_dispatcher_type "flex" with DeepEP) sends each token once per destination rank, once per
# remote node over scale-out, forwarded inside it over NVLink
MOE_DISPATCHERS = ("alltoall", "deepep")
# training formats: bf16 mixed precision, FP8 with per-tensor scales (Transformer Engine "current/delayed
# scaling"), FP8 with 128x128 weight / 1x128 activation blocks (DeepSeek-V3), MXFP8 (32-element UE8M0 blocks)
PRECISIONS = ("bf16", "fp8", "fp8_block", "mxfp8")


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


def check_dense_experts(model: Model, ep: int, etp: int) -> None:
    """Expert degrees on a model without experts: InfeasiblePlan unless both are 1 (etp 0: the default)."""
    if "moe" not in model.features and (ep > 1 or etp > 1):
        raise InfeasiblePlan(f"ep and etp apply to mixture-of-experts models only; {model.name} is dense "
                             f"(got ep {ep}, etp {etp})")


def check_model_options(model: Model, precision: str, activation_cache: str, moe_dispatcher: str) -> None:
    """InfeasiblePlan for an option that would do nothing, or the opposite of what it says, for this model and format:
    DeepEP's dispatcher on a model without experts, and DeepSeek-V3's FP8 activation cache (arXiv 2412.19437, Sec.
    3.3.2) without FP8 GEMMs, whose inputs it caches, or on a dense model: its saving there is in the MoE layers'
    SwiGLU (inputs in FP8, output recomputed), and a dense model keeps only its wider E5M6 attention output."""
    moe = "moe" in model.features
    if moe_dispatcher == "deepep" and not moe:
        raise InfeasiblePlan(f"--moe-dispatcher deepep applies to mixture-of-experts models only; {model.name} is "
                             "dense")
    if activation_cache == "fp8" and not moe:
        raise InfeasiblePlan(f"--activation-cache fp8 saves memory in mixture-of-experts layers only (DeepSeek-V3 Sec. "
                             f"3.3.2: their SwiGLU inputs in FP8, output recomputed); {model.name} is dense, where it "
                             "only widens the attention output to E5M6")
    if activation_cache == "fp8" and precision == "bf16":
        raise InfeasiblePlan("--activation-cache fp8 caches the FP8 GEMM inputs of an FP8 run (DeepSeek-V3 Sec. "
                             "3.3.2); give --precision fp8, fp8_block or mxfp8, got bf16")


def default_global_batch(seq_len: int) -> int:
    """Sequences per step when none is given: 4M tokens' worth (4,194,304 / seq_len, at least 1), as `train` and
    `compare --workload train` size a step."""
    return max(1, round(4_194_304 / seq_len))


def ranks_clause(chips: int, dies: int) -> str:
    """The ranks of `chips` chips of `dies` dies each, one a die, as a clause to follow the chips:
    ", 128 ranks (2 dies a chip)"; "" for one die, whose ranks are its chips."""
    return f", {chips * dies:,} ranks ({dies} dies a chip)" if dies > 1 else ""


def check_micro_batch(global_batch: int, micro_batches: tuple[int, ...]) -> None:
    """InfeasiblePlan unless one of the micro-batch sizes divides the global batch [sequences]."""
    if all(global_batch % mb for mb in micro_batches):
        raise InfeasiblePlan(f"--micro-batch must divide --global-batch ({global_batch}), got "
                             f"{', '.join(map(str, micro_batches))}")


def training_precision(name: str) -> Precision:
    """Formats of a training step: matrix multiplies in `name`, attention, LM head and router in bf16."""
    if name not in PRECISIONS:
        raise InfeasiblePlan(f"precision must be one of {', '.join(PRECISIONS)}, got {name!r}")
    return Precision(weights=name, expert_weights=name, kv_cache="bf16", activations="bf16", attention="bf16")


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


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainingLayout:
    """One parallel layout and batch of a training step.

    tp, pp, cp, dp: tensor, pipeline, context and data parallel degrees; ep, etp: expert parallel
    ranks and expert tensor slices (etp 0: tp when ep does not fill the tensor group, else 1).
    virtual_stages: model chunks per pipeline rank (interleaved 1F1B when > 1).
    zero: 0 plain data parallel, 1 optimizer states sharded (Megatron's distributed optimizer),
    2 also gradients (reduce-scattered after every microbatch's backward), 3 also weights (FSDP: gathered
    before every forward and backward). sequence_parallel: norms and dropout split over tp.
    micro_batch, global_batch [sequences]; seq_len [tokens]; precision: one of PRECISIONS;
    grad_overlap: "overlap" hides gradient reduce-scatter and parameter all-gather behind the
    backward and forward passes, "none" runs them after the step. flash_attention: attention runs
    fused (FlashAttention), never storing scores; False: scores materialised in device memory as
    Megatron-LM did before 2023. dropout: dropout layers (and their masks) are active.
    pp_schedule: 1f1b, interleaved (1F1B over virtual_stages chunks), zb (zero bubble ZB-H1) or dualpipe
    (DeepSeek-V3's bidirectional schedule); "" picks interleaved when virtual_stages > 1, else 1f1b.
    pp_first_layers, pp_last_layers: layers of the first and last pipeline stages when they differ
    from the others (Megatron's decoder_first/last_pipeline_num_layers); the rest split evenly (0: even).
    activation_cache: one of ACTIVATION_CACHES; optimizer_states: the AdamW moments' format (bf16: 8 B of
    optimizer state per parameter instead of 12); gradients: their accumulation format (fp32: 4 B).
    """

    tp: int = 1
    pp: int = 1
    dp: int = 1
    cp: int = 1
    ep: int = 1
    etp: int = 0
    virtual_stages: int = 1
    zero: int = 1
    sequence_parallel: bool = True
    recompute: str = "none"
    micro_batch: int = 1
    global_batch: int = 1
    seq_len: int = 4096
    precision: str = "bf16"
    grad_overlap: str = "overlap"
    flash_attention: bool = True
    dropout: bool = False
    pp_schedule: str = ""
    pp_first_layers: int = 0
    pp_last_layers: int = 0
    activation_cache: str = "auto"
    optimizer_states: str = "fp32"
    gradients: str = "bf16"
    pp_layout: str = ""
    moe_dispatcher: str = "alltoall"

    def __post_init__(self) -> None:
        if self.pp_schedule not in ("", *PP_SCHEDULES):
            raise InfeasiblePlan(f"pp_schedule must be one of {', '.join(PP_SCHEDULES)}, got {self.pp_schedule!r}")
        if self.pp_first_layers < 0 or self.pp_last_layers < 0:
            raise InfeasiblePlan(f"pp_first_layers and pp_last_layers must be >= 0, got {self.pp_first_layers}, "
                                 f"{self.pp_last_layers}")
        for name in ("tp", "pp", "dp", "cp", "ep", "virtual_stages", "micro_batch", "global_batch", "seq_len"):
            if getattr(self, name) < 1:
                raise InfeasiblePlan(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.etp < 0:
            raise InfeasiblePlan(f"etp must be >= 0 (0 = default), got {self.etp}")
        if self.zero not in (0, 1, 2, 3):
            raise InfeasiblePlan(f"zero must be 0, 1, 2 or 3, got {self.zero}")
        if self.recompute not in RECOMPUTE:
            raise InfeasiblePlan(f"recompute must be one of {', '.join(RECOMPUTE)}, got {self.recompute!r}")
        if self.precision not in PRECISIONS:
            raise InfeasiblePlan(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        for name, allowed in (("activation_cache", ACTIVATION_CACHES), ("optimizer_states", OPTIMIZER_STATES),
                              ("gradients", GRADIENT_FORMATS), ("moe_dispatcher", MOE_DISPATCHERS)):
            if getattr(self, name) not in allowed:
                raise InfeasiblePlan(f"{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        if self.grad_overlap not in GRAD_OVERLAP:
            raise InfeasiblePlan(f"grad_overlap must be one of {', '.join(GRAD_OVERLAP)}, got {self.grad_overlap!r}")

    @property
    def chips(self) -> int:
        return self.tp * self.pp * self.cp * self.dp

    @property
    def schedule(self) -> str:
        """The pipeline schedule, the default filled in."""
        return self.pp_schedule or ("interleaved" if self.virtual_stages > 1 else "1f1b")

    @property
    def uneven(self) -> bool:
        """Whether the stages are given (--pp-first-layers, --pp-last-layers, --pp-layout), not an even split."""
        return bool(self.pp_first_layers or self.pp_last_layers or self.pp_layout)

    def pipeline_ranks(self, model: Model) -> tuple[PipelineRank, ...]:
        """What each of the pp ranks holds: where the stages are given, a pp_layout's chunks, chunk c on rank c mod
        pp, or the first and last stages' layers with the rest split evenly, the embedding on the first rank and the
        LM head on the last (Megatron's decoder_first/last_pipeline_num_layers); else `implicit_ranks` (the same
        embedding and head on an even split)."""
        if not self.uneven:
            return implicit_ranks(model, self.pp)
        group = [g for g, layer in enumerate(model.layers) for _ in range(layer.count)]
        if self.pp_layout:
            chunks = layout_chunks(self.pp_layout, most_layout_entries(model))
            ranks = [chunks[r::self.pp] for r in range(self.pp)]
        else:
            first, middle, last = self.stage_layers(model.num_layers)
            sizes = [int(first)] + [int(middle)] * (self.pp - 2) + [int(last)]
            ranks = [("E" if r == 0 else "") + "t" * size + ("L" if r == self.pp - 1 else "")
                     for r, size in enumerate(sizes)]
        held, start = [], 0
        for parts in ranks:
            text = "".join(parts)
            end = start + text.count("t")
            held.append(PipelineRank(layers=tuple(group[start:end].count(g) for g in range(len(model.layers))),
                                     mtp=text.count("m"), embedding=float("E" in text), head=float("L" in text)))
            start = end
        return tuple(held)

    def stage_layers(self, num_layers: int) -> tuple[float, float, float]:
        """(first, middle, last) stage layers: as given, the rest split evenly over the middle stages."""
        if not (self.pp_first_layers or self.pp_last_layers):
            even = num_layers / self.pp
            return even, even, even
        first = self.pp_first_layers or None
        last = self.pp_last_layers or None
        inner = self.pp - (first is not None) - (last is not None)
        rest = num_layers - (first or 0) - (last or 0)
        middle = rest / inner if inner else 0.0
        return float(first or middle), middle, float(last or middle)

    @property
    def expert_tp(self) -> int:
        """Slices of each expert: etp, or by default tp when ep alone does not fill the tensor group."""
        if self.etp:
            return self.etp
        return 1 if self.ep % self.tp == 0 else self.tp

    @property
    def microbatches(self) -> int:
        """Microbatches each pipeline runs per step: global_batch / (dp x micro_batch)."""
        return self.global_batch // (self.dp * self.micro_batch)

    def check(self, model: Model, chips: int | None = None, dies: int = 1) -> TrainingLayout:
        """This layout if it divides the model, the ranks (`chips` x `dies`: one a die of a multi-die chip) and the
        batch; else InfeasiblePlan naming why (the ranks before the batch: a product that misses them is the
        mistake, whatever the batch divides)."""
        check_tensor_split(model, self.tp, dense_mlp=True)
        for layer in model.layers:
            if isinstance(layer.mlp, MoeMlp):
                self._check_experts(layer.mlp)
        check_dense_experts(model, self.ep, self.etp)
        check_model_options(model, self.precision, self.activation_cache, self.moe_dispatcher)
        check_pipeline_split(model, self.pp)
        if self.virtual_stages > 1 and self.pp == 1:
            raise InfeasiblePlan(f"--vp needs pipeline parallelism (--pp > 1), got --pp 1 and --vp "
                                 f"{self.virtual_stages}")
        if self.pp_layout:
            self._check_layout(model)
        elif self.pp_first_layers or self.pp_last_layers:
            self._check_stages(model.num_layers)
        elif not stages_hold_layers(model.num_layers, self.pp, self.virtual_stages):
            raise InfeasiblePlan(f"--pp x --vp must be at most the number of layers ({model.num_layers}), "
                                 f"got {self.pp} x {self.virtual_stages} (uneven first and last stages: "
                                 f"--pp-first-layers, --pp-last-layers)")
        if self.schedule == "dualpipe" and (self.pp % 2 or self.microbatches < self.pp):
            raise InfeasiblePlan(f"dualpipe needs an even --pp and at least pp microbatches, got --pp {self.pp} and "
                                 f"{self.microbatches} microbatches")
        if self.schedule == "zb" and self.pp == 1:
            raise InfeasiblePlan("--pp-schedule zb needs pipeline parallelism (--pp > 1), got --pp 1")
        if self.schedule == "zb" and self.microbatches < self.pp:  # its bubble fills with later microbatches' W
            raise InfeasiblePlan(f"--pp-schedule zb needs at least pp microbatches, got --pp {self.pp} and "
                                 f"{self.microbatches} microbatches")
        if self.schedule == "interleaved" and self.virtual_stages == 1:
            raise InfeasiblePlan("--pp-schedule interleaved needs --vp > 1")
        if self.schedule in ("1f1b", "zb") and self.virtual_stages > 1:  # their bubble has no chunks: --vp unpriced
            raise InfeasiblePlan(f"--vp {self.virtual_stages} needs the interleaved schedule (its default), got "
                                 f"--pp-schedule {self.schedule}")
        if self.seq_len % self.cp:
            raise InfeasiblePlan(f"--cp must divide --seq-len ({self.seq_len}), got {self.cp}")
        if chips is not None and self.chips != chips * dies:
            ranks = f"ranks ({chips * dies}: {chips} chips of {dies} dies, a rank a die)" if dies > 1 else \
                f"chips ({chips})"
            raise InfeasiblePlan(f"tp x pp x cp x dp must equal the {ranks}, got "
                                 f"{self.tp} x {self.pp} x {self.cp} x {self.dp} = {self.chips}")
        check_micro_batch(self.global_batch, (self.micro_batch,))
        if self.global_batch % (self.dp * self.micro_batch):
            raise InfeasiblePlan(f"--global-batch must be a multiple of --dp x --micro-batch ({self.dp} x "
                                 f"{self.micro_batch} = {self.dp * self.micro_batch}), got {self.global_batch}")
        return self

    def check_chunks(self, model: Model) -> TrainingLayout:
        """This layout if its virtual stages split every pipeline stage's layers evenly (`chunk_choices`) or a
        --pp-layout gives the chunks; else InfeasiblePlan naming the virtual stages that do. `check` leaves this
        out: a published run outside Megatron-Core (DeepSeek-V3's 61 layers over pp 16 x 2 DualPipe chunks) is
        priced with the chunks it ran, as even ones; the layouts parity picks or is given follow Megatron-Core."""
        vp, layers = self.virtual_stages, model.num_layers
        choices = chunk_choices(layers, self.pp, self.pp_first_layers, self.pp_last_layers)
        if self.pp_layout or vp in choices:
            return self
        first, middle, last = self.stage_layers(layers)
        inner = self.pp - bool(self.pp_first_layers) - bool(self.pp_last_layers)
        if not self.uneven:
            what = (f"the {int(middle)} layers of each pipeline stage" if layers % self.pp == 0 else
                    f"the layers of each pipeline stage, --pp {self.pp} over {layers} layers")
        else:
            others = "middle" if self.pp_first_layers and self.pp_last_layers else "others"
            stages = (("first", first, self.pp_first_layers), (others, middle, inner),
                      ("last", last, self.pp_last_layers))
            what = "the layers of each pipeline stage, " + ", ".join(
                f"{name} {int(count)}" for name, count, given in stages if given)
        listed = ", ".join(map(str, choices))
        if not self.uneven and choices == tuple(v for v in range(1, layers + 1) if layers % (self.pp * v) == 0):
            ways = f"({listed})"  # the layers alone, no embedding or loss counted
        else:
            ways = f"({listed} do, " if len(choices) > 1 else "(only 1 does, "
            ways += "the embedding and the loss counted as a layer each or not)"
        raise InfeasiblePlan(f"--vp {vp} must divide {what} {ways}, or give --pp-layout")

    def _check_stages(self, num_layers: int) -> None:
        """Uneven stages: the given first/last layers leave a whole number of layers for each other stage,
        at least one per virtual stage."""
        if self.pp < 2:
            raise InfeasiblePlan(f"--pp-first-layers and --pp-last-layers need --pp >= 2, got --pp {self.pp}")
        first, last = self.pp_first_layers, self.pp_last_layers
        given = first + last
        inner = self.pp - bool(first) - bool(last)
        rest = num_layers - given
        if rest >= 0 and (rest % inner == 0 and rest // inner >= self.virtual_stages if inner else rest == 0):
            return
        what = (f"--pp-first-layers + --pp-last-layers ({first} + {last})" if first and last else
                f"--pp-first-layers ({first})" if first else f"--pp-last-layers ({last})")
        if not inner:
            raise InfeasiblePlan(f"{what} must add up to the {num_layers} layers: --pp {self.pp} has no other stage "
                                 f"to take the rest")
        # the stages that share the rest: between the given ones, or, with one given, all the others
        others = ("the middle stage" if first and last else "the last stage" if first else "the first stage"
                  ) if inner == 1 else f"the {inner} {'middle' if first and last else 'other'} stages"
        each = (f"at least {self.virtual_stages} layer{'s' if self.virtual_stages > 1 else ''}" if inner == 1 else
                f"a whole number of at least {self.virtual_stages} layer{'s' if self.virtual_stages > 1 else ''} each")
        per_chunk = " (one per virtual stage)" if self.virtual_stages > 1 else ""
        raise InfeasiblePlan(f"{what} must leave {others} {each}{per_chunk} of the {num_layers} layers; "
                             + (f"it takes {given} of them" if rest < 0 else f"it leaves {rest}"))

    def _check_layout(self, model: Model) -> None:
        counts = layout_counts(self.pp_layout, most_layout_entries(model))
        chunks = counts["|"] + 1
        if chunks % self.pp:
            raise InfeasiblePlan(f"--pp-layout must hold a multiple of --pp ({self.pp}) chunks (split by '|'), one per "
                                 f"rank and virtual stage, got {chunks}")
        if chunks != self.pp * self.virtual_stages:
            raise InfeasiblePlan(f"--pp-layout must hold --pp x --vp ({self.pp} x {self.virtual_stages}) chunks, got "
                                 f"{chunks} (--vp {chunks // self.pp} for these, or leave --vp out)")
        if counts["t"] != model.num_layers or counts["m"] > len(model.mtp_layers):
            raise InfeasiblePlan(f"--pp-layout must place the {model.num_layers} layers (t) and at most the "
                                 f"{len(model.mtp_layers)} multi-token-prediction modules (m) of {model.name}, "
                                 f"got {counts['t']} and {counts['m']}")
        parts = layout_chunks(self.pp_layout, most_layout_entries(model))
        for r, rank in enumerate(self.pipeline_ranks(model)):
            if not (sum(rank.layers) or rank.mtp):
                raise InfeasiblePlan(f"--pp-layout must give every pipeline rank a layer (t or m); rank {r} of "
                                     f"--pp {self.pp} holds {'|'.join(parts[r::self.pp])!r}")
        # one embedding first and one loss last, as Megatron-Core's layout validation requires (without them a
        # stage was priced lighter than the model is, and the imbalance came out negative)
        if counts["E"] != 1 or "E" not in parts[0]:
            raise InfeasiblePlan(f"--pp-layout must hold one embedding (E), in its first chunk; got {counts['E']}"
                                 + (f", first chunk {parts[0]!r}" if counts["E"] == 1 else ""))
        if counts["L"] != 1 or "L" not in parts[-1]:
            raise InfeasiblePlan(f"--pp-layout must hold one LM head and loss (L), in its last chunk; got "
                                 f"{counts['L']}" + (f", last chunk {parts[-1]!r}" if counts["L"] == 1 else ""))

    def _check_experts(self, mlp: MoeMlp) -> None:
        group = self.ep * self.expert_tp
        check_expert_split(mlp, self.ep, self.expert_tp)
        if group % self.tp:
            raise InfeasiblePlan(f"--ep x --etp must be a multiple of --tp ({self.tp}), got {self.ep} x "
                                 f"{self._etp_given()}")
        if (self.tp * self.cp * self.dp) % group:
            raise InfeasiblePlan(f"--ep x --etp must divide --tp x --cp x --dp ({self.tp} x {self.cp} x {self.dp} = "
                                 f"{self.tp * self.cp * self.dp}), got {self.ep} x {self._etp_given()}")

    def _etp_given(self) -> str:
        """The expert slices as a message shows them: the default named when --etp was left at 0."""
        return str(self.etp) if self.etp else f"{self.expert_tp} (--etp 0: the default)"

    def __str__(self) -> str:
        return "-".join(self.name_fields)

    @property
    def name_fields(self) -> tuple[str, ...]:
        """The fields of the layout's name ('tp1', 'pp16', 'rc-selective', 'os-bf16' ...), which it joins with '-';
        a table breaks a long name only between them."""
        parts = [f"tp{self.tp}", f"pp{self.pp}"]
        if self.virtual_stages > 1:
            parts.append(f"vp{self.virtual_stages}")
        if self.cp > 1:
            parts.append(f"cp{self.cp}")
        parts.append(f"dp{self.dp}")
        if self.ep > 1:
            parts.append(f"ep{self.ep}")
        # experts sliced: a layout of its own (report-only tester DA 6: etp 1 and 2 had one name); at ep 1 without
        # --etp the experts are sliced as the tensor group is, dense layers alike (a dense model's name says no etp)
        if self.etp > 1 or (self.ep > 1 and self.expert_tp != 1):
            parts.append(f"etp{self.expert_tp}")
        parts += [f"mb{self.micro_batch}", f"zero{self.zero}"]
        if self.recompute != "none":
            parts.append(f"rc-{self.recompute}")
        if self.pp_schedule in ("zb", "dualpipe"):
            parts.append(self.pp_schedule)
        parts += [tag for tag, on in (("act-fp8", self.activation_cache == "fp8"),
                                      ("os-bf16", self.optimizer_states == "bf16"),
                                      ("grad-fp32", self.gradients == "fp32"),
                                      ("deepep", self.moe_dispatcher == "deepep")) if on]
        if self.pp_layout:
            parts.append(f"layout[{self.pp_layout}]")
        if self.pp_first_layers or self.pp_last_layers:
            parts.append(f"stages{self.pp_first_layers or '-'}/{self.pp_last_layers or '-'}")
        return tuple(parts)
