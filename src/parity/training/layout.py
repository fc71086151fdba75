"""A training layout: how chips split the model (tp, pp, cp, ep) and the batch (dp, microbatches),
with the memory levers (ZeRO stage, recomputation, sequence parallelism) and the number format.

Chips = tp x pp x cp x dp. Experts fold into the tp x cp x dp ranks of a stage as Megatron-Core's
"MoE parallel folding" does: ep x etp ranks form one MoE group (etp slices each expert).
What its pipeline stages hold (--pp-layout, implicit stages, virtual stages) is in `stages`.
"""

from __future__ import annotations

from dataclasses import dataclass

from parity.errors import InfeasiblePlan
from parity.model import Model, MoeMlp
from parity.plan import Precision, check_expert_split, check_pipeline_split, check_tensor_split
from parity.training.stages import (PipelineRank, chunk_choices, implicit_ranks, implicit_stage_layers, layout_chunks,
                                    layout_counts, most_layout_entries, stages_hold_layers)

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
