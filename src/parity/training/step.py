"""One training step: forward, backward and optimizer per pipeline stage, priced from the same op graph
as serving, with the pipeline schedule's bubble and the exposed part of every communication.

Per microbatch and stage (priced in `passes`): the forward kernels of `plan.device_step`; backward =
dgrad + wgrad (twice the forward GEMMs), flash-attention backward (2.5x the forward FLOPs, Dao 2023
Sec. 3.1.2) and twice the memory-bound glue; recomputation adds forward work. 1F1B runs m microbatches
in (m + p - 1) stage-times, the interleaved schedule in (m + (p - 1)/v) (Narayanan et al. 2021 Sec. 2.2).
Sizes may be numpy arrays: every layout of a search is priced at once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from parity.cost import collective_s, emulation_note, math_unit, same_rate_note
from parity.dtypes import format_named
from parity.engine import TrainingProfile
from parity.errors import InfeasiblePlan
from parity.hardware import Calibration, System, per_die
from parity.memory import vision_note
from parity.model import Attention, Layer, Model
from parity.ops import Batch, Num, expected_distinct
from parity.plan import Shard
from parity.training.layout import (PP_SCHEDULES, RECOMPUTE, PipelineRank, TrainingLayout, implicit_ranks,
                                    implicit_stage_layers)
from parity.training.memory import (TrainingMemory, adam_bytes_per_parameter, parameters_per_device,
                                    training_memory)
from parity.training.passes import (ATTENTION_BACKWARD_FLOPS, _kernels, _materialised, _price_pass,
                                    _training_calibrations)
from parity.training.pipeline import pipeline_bubble_s

__all__ = ["TrainingResult", "train_step", "evaluate_layouts", "evaluate_arrays", "model_flops_per_token", "rank_arrays",
           "DEFAULT_PROFILE", "ATTENTION_BACKWARD_FLOPS", "LAYOUT_ARRAYS", "format_notes"]

DEFAULT_PROFILE = TrainingProfile(id="default", name="documented defaults", date="", method="defaults of TrainingProfile",
                                  measured=False)
_TP_COLLECTIVES = ("attention_all_reduce", "mlp_all_reduce", "moe_all_reduce", "moe_gather", "moe_reduce",
                   "moe_gather_all_reduce", "moe_reduce_all_reduce")
_EP_COLLECTIVES = ("moe_dispatch", "moe_combine")


def model_flops_per_token(model: Model, seq_len: Num, causal: bool = False) -> Num:
    """[FLOP] of one trained token: 6N + 12 L H Q T (Chowdhery et al. 2022, PaLM, Appendix B).

    N: weights one token multiplies (routed experts counted experts_per_token times, LM head included,
    embedding lookup excluded); the attention term counts all T keys as PaLM does (not halved for
    causality), each head's query-key and value widths, and sliding windows at their width.
    causal: count each query's keys up to itself only, on average half of them (6N + 6 L H Q T; the
    convention of FlashAttention's and torchtitan's FLOP counts).
    """
    attention = sum(layer.count * layer.attention.score_flops_per_token(seq_len) for layer in model.layers
                    if layer.attention is not None)
    return 3.0 * (model.matmul_flops_per_token() + (0.5 if causal else 1.0) * attention)


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainingResult:
    """One training step on `chips` chips [s], its breakdown, throughput, MFU and memory per chip.

    step_s = compute_s + recompute_s + tp/cp/ep/pp/dp_comm_s (exposed parts) + imbalance_s + bubble_s + optimizer_s
    + overhead_s: the breakdown adds up. compute_s: the forward and backward passes; recompute_s: the forward work
    run again to recompute activations, beside it. Both and the communication are an even stage's (with a 1/pp share
    of any multi-token-prediction module a --pp-layout places); imbalance_s: what the busiest stage of uneven ones
    adds (the others idle meanwhile). mfu: model FLOP/s per chip over
    the dense peak of the math unit the step's matrix multiplies run on (`peak_math`: bf16 for bf16, fp8 for
    the 8-bit formats where the chip has FP8 units), counting every key of a query (PaLM's and Megatron-LM's
    convention, also as mfu_noncausal); mfu_causal counts the causal half of the attention (FlashAttention,
    torchtitan), over the same peak. mfu_bf16: model FLOP/s over the dense BF16 peak whatever the format,
    as FP8 training reports usually quote MFU; it passes 1 when FP8 math runs faster than the BF16 peak, so it
    is a ratio, not a utilisation (equal to mfu when peak_math is bf16).
    dies: dies a chip; above 1 each die is a rank (Ascend 910C: CANN sees an 8-package Atlas 800 A3 as 16 NPUs),
    so the layout counts ranks = chips x dies, memory is a die's, and the rates per chip, TDP and chip-hours are
    a package's (per_package).
    """

    step_s: Num
    compute_s: Num
    recompute_s: Num
    tp_comm_s: Num
    cp_comm_s: Num
    ep_comm_s: Num
    pp_comm_s: Num
    dp_comm_s: Num
    imbalance_s: Num
    bubble_s: Num
    optimizer_s: Num
    overhead_s: Num
    tokens_per_s: Num
    tokens_per_s_per_chip: Num
    model_flops_per_token: Num
    mfu: Num
    mfu_bf16: Num
    mfu_causal: Num
    chips: int
    microbatches: Num
    memory: TrainingMemory
    tdp_w: float
    layout: TrainingLayout | None = None
    assumptions: tuple[str, ...] = field(default=())
    peak_math: str = "bf16"
    dies: int = 1

    @property
    def ranks(self) -> int:
        """Devices the layout spreads over: one a die of a multi-die chip."""
        return self.chips * self.dies

    def per_package(self, dies: int) -> TrainingResult:
        """This result, priced one rank per die (hardware.per_die) on `chips` dies, counted per package of `dies`
        dies: chips, tokens/s per chip and TDP a package's; MFU, memory and the breakdown stay a rank's."""
        if dies == 1:
            return self
        return dataclasses.replace(self, chips=self.chips // dies, dies=dies, tdp_w=self.tdp_w * dies,
                                   tokens_per_s_per_chip=self.tokens_per_s_per_chip * dies,
                                   assumptions=self.assumptions + (
                                       f"one rank per die ({dies} dies a chip, each a device to its framework): "
                                       "the layout counts ranks, memory is a die's, tokens/s per chip a package's",))

    @property
    def mfu_noncausal(self) -> Num:
        """MFU counting every key of each query (the `mfu` convention, named)."""
        return self.mfu

    @property
    def fits(self) -> Num:
        return self.memory.fits

    @property
    def shortfall_bytes(self) -> Num:
        return self.memory.shortfall_bytes

    @property
    def bubble_fraction(self) -> Num:
        return self.bubble_s / self.step_s

    def time_to_train_s(self, tokens: float) -> Num:
        """[s] to train on `tokens` tokens at this step's throughput."""
        return tokens / self.tokens_per_s

    def chip_hours(self, tokens: float) -> Num:
        """Chip-hours to train on `tokens` tokens [h x chips]."""
        return self.chips * self.time_to_train_s(tokens) / 3600.0

    def energy_j(self, tokens: float) -> Num:
        """[J] the chips draw at TDP while training on `tokens` tokens (chips only: no host, network, cooling)."""
        return self.chips * self.tdp_w * self.time_to_train_s(tokens)

    def at(self, i: int) -> TrainingResult:
        """The i-th candidate of an array result, as floats."""
        def pick(value: Num) -> Num:
            arr = np.asarray(value)
            return arr.item() if arr.ndim == 0 else arr.reshape(-1)[i].item()
        scalars = {f.name: pick(getattr(self, f.name)) for f in dataclasses.fields(self)
                   if f.name not in ("memory", "layout", "assumptions", "chips", "tdp_w", "peak_math", "dies")}
        memory = TrainingMemory(**{f.name: pick(getattr(self.memory, f.name)) for f in dataclasses.fields(TrainingMemory)})
        return dataclasses.replace(self, memory=memory, **scalars)


# t tp, p pp, dp, c cp, e ep, et expert tp, v virtual stages, zero, sp (0/1), rc recompute (0 none, 1 selective,
# 2 full), mb micro batch, gb global batch, s seq_len, overlap (0/1)
# sched: pipeline schedule (index in PP_SCHEDULES); stage and rank_*: the pipeline ranks (rank_arrays; default even);
# optional (0 when absent): ac FP8 activation cache, os bf16 optimizer moments, ga fp32 gradients, dd DeepEP dispatch
LAYOUT_ARRAYS = ("t", "p", "dp", "c", "e", "et", "v", "zero", "sp", "rc", "mb", "gb", "s", "overlap", "sched")


def _arrays(layouts: Sequence[TrainingLayout]) -> dict[str, np.ndarray]:
    def col(getter: object) -> np.ndarray:
        return np.array([getter(x) for x in layouts], dtype=float)  # type: ignore[operator]
    return {"t": col(lambda x: x.tp), "p": col(lambda x: x.pp), "dp": col(lambda x: x.dp), "c": col(lambda x: x.cp),
            "e": col(lambda x: x.ep), "et": col(lambda x: x.expert_tp), "v": col(lambda x: x.virtual_stages),
            "zero": col(lambda x: x.zero), "sp": col(lambda x: x.sequence_parallel and x.tp > 1),
            "rc": col(lambda x: RECOMPUTE.index(x.recompute)), "mb": col(lambda x: x.micro_batch),
            "gb": col(lambda x: x.global_batch), "s": col(lambda x: x.seq_len),
            "overlap": col(lambda x: x.grad_overlap == "overlap"),
            "sched": col(lambda x: PP_SCHEDULES.index(x.schedule)),
            "ac": col(lambda x: x.activation_cache == "fp8"), "os": col(lambda x: x.optimizer_states == "bf16"),
            "ga": col(lambda x: x.gradients == "fp32"), "dd": col(lambda x: x.moe_dispatcher == "deepep")}


def _collective(kind: str, size: Num, group: Num, system: System, cal: Calibration, stride: Num = 1.0,
                fanout: Num | None = None) -> Num:
    """[s] of one collective over `group` ranks spaced `stride` chips apart (`fanout`: see ops.Collective)."""
    per_domain = np.maximum(np.floor(system.scale_up_domain_chips / np.asarray(stride, dtype=float)), 1.0)
    return collective_s(kind, size, group, system, cal.collective_efficiency, fanout=fanout, domain_ranks=per_domain)


def _layer_flops(model: Model, layer: Layer, seq_len: float) -> float:
    """[FLOP] of one layer's forward for one token: its matmuls (Layer.matmul_flops_per_token) and its causal
    attention core (half the keys, or what a window or chunk leaves of them: Attention.causal_score_flops_per_token)."""
    mixer = layer.attention
    core = (mixer.causal_score_flops_per_token(seq_len) if isinstance(mixer, Attention)
            else 0.5 * mixer.score_flops_per_token(seq_len) if mixer is not None else 0.0)
    return layer.matmul_flops_per_token(model.hidden_size) + core


# what _rank_flops_share returns, as rank_arrays names it
_SHARES = ("stage", "stage_rest", "stage_dual", "stage_dual_rest", "even")


def _rank_flops_share(model: Model, ranks: Sequence[PipelineRank], seq_len: float
                      ) -> tuple[float, float, float, float, float]:
    """(busiest, rest, busiest under DualPipe, rest under DualPipe, even): the busiest of given pipeline ranks, the
    mean of the other p - 1, the same under DualPipe, where rank r runs stage r for the microbatches fed from one
    end and stage p - 1 - r for those from the other, half each (DeepSeek-V3 report, Sec. 3.2.1 and Table 2: two
    stages a rank, as training.memory holds them), and the even share of all they hold, over the even share that
    the step prices (the layers and the LM head split evenly over pp), in forward FLOPs. The busiest paces the
    steady state, one microbatch at a time; the others' are what the first microbatch's forward and the last's
    backward cross besides it, the bubble (1F1B's (p - 1) stage-times are the other p - 1 stages'). A
    multi-token-prediction module (m) is one more layer, its 2h x h projection and the shared LM head again
    (DeepSeek-V3, arXiv 2412.19437, Sec. 2.2): where a --pp-layout places one, an even rank's share of the work
    grows by its 1/pp (even > 1). The LM head's cross entropy is left out, as is the embedding's lookup."""
    h = float(model.hidden_size)
    head = 2.0 * h * model.vocab_size
    per_group = [_layer_flops(model, layer, seq_len) for layer in model.layers]
    mtp = iter([_layer_flops(model, layer, seq_len) + 2.0 * 2.0 * h * h + head for layer in model.mtp_layers])
    flops = [sum(n * f for n, f in zip(rank.layers, per_group)) + sum(next(mtp) for _ in range(rank.mtp))
             + head * rank.head for rank in ranks]
    priced = (sum(layer.count * f for layer, f in zip(model.layers, per_group)) + head) / len(ranks)
    dual = [(f + mirror) / 2.0 for f, mirror in zip(flops, reversed(flops))]

    def rest(work: list[float]) -> float:
        return (sum(work) - max(work)) / (len(work) - 1) / priced if len(work) > 1 else 1.0
    return (max(flops) / priced, rest(flops), max(dual) / priced, rest(dual), sum(flops) / len(ranks) / priced)


def rank_arrays(model: Model, layouts: Sequence[TrainingLayout] | None = None, pp: np.ndarray | None = None,
                seq_len: Num = 4096.0) -> dict[str, np.ndarray]:
    """What the pipeline ranks of each layout hold, as arrays over (layout, rank), padded with empty ranks:
    "rank_layers" (layout, rank, layer group) layers, "rank_mtp" MTP modules, "rank_embedding" and "rank_head"
    their shares, "rank_loss" 1 where the loss is, "rank_position" its place in the pipeline (0 first), "rank_mirror"
    the rank DualPipe pairs it with; "stage", the busiest rank's forward FLOPs over the even share priced,
    "stage_rest" the mean of the other ranks', "stage_dual" and "stage_dual_rest" the same under DualPipe (a rank the
    mean of its two stages), and "even",
    an even share of all the ranks hold over it (above 1 where MTP modules are placed). Only the ranks
    that can be the busiest or the fullest are kept (`_rank_table`). Given only `pp` (and `seq_len`), every layout
    is split as `implicit_ranks`, built once per distinct (pp, seq_len): a search prices hundreds of thousands of
    layouts at once, and building them rank by rank in Python took most of its time."""
    if layouts is None:
        stages = np.asarray(pp, dtype=float).reshape(-1)
        lengths = np.broadcast_to(np.asarray(seq_len, dtype=float), stages.shape)
        keys, inverse = np.unique(np.stack([stages, lengths], axis=1), axis=0, return_inverse=True)
        tables = [_rank_table(model, implicit_ranks(model, int(p)), float(s)) for p, s in keys]
        return _stacked(model, tables, inverse.reshape(-1))
    tables = [_rank_table(model, layout.pipeline_ranks(model), float(layout.seq_len)) for layout in layouts]
    return _stacked(model, tables, np.arange(len(tables)))


# one kept rank: layers of each group, MTP modules, embedding share, head share, loss (0/1), position, mirror (index)
_RankRow = tuple[list[float], float, float, float, float, float, float]


def _rank_table(model: Model, ranks: Sequence[PipelineRank], seq_len: float
                ) -> tuple[list[_RankRow], tuple[float, ...]]:
    """The ranks of one pipeline that can hold the most memory, with their DualPipe mirrors, and its busiest rank's
    FLOPs (of 1F1B's ranks and of DualPipe's), the other ranks' and an even share of all its ranks hold over the
    even share priced (`_rank_flops_share`). Of ranks holding the same (and mirrored to the same) the first is kept:
    a rank further down the pipeline holds no more microbatches in flight (training.memory), so it is never the
    fuller."""
    p = len(ranks)

    def key(k: int) -> tuple[object, ...]:
        r = ranks[k]
        return r.layers, r.mtp, r.embedding, r.head, k == p - 1
    first: dict[tuple[object, ...], int] = {}
    for k in range(p):
        first.setdefault((key(k), key(p - 1 - k)), k)
    kept = sorted(set(first.values()) | {p - 1 - k for k in first.values()})
    index = {k: i for i, k in enumerate(kept)}
    rows = [([float(n) for n in ranks[k].layers], float(ranks[k].mtp), float(ranks[k].embedding), float(ranks[k].head),
             float(k == p - 1), float(k), float(index[p - 1 - k])) for k in kept]
    return rows, tuple(round(x, 12) for x in _rank_flops_share(model, ranks, seq_len))  # even: 1, not 1 + 1e-16


def _stacked(model: Model, tables: Sequence[tuple[list[_RankRow], tuple[float, ...]]], take: np.ndarray
             ) -> dict[str, np.ndarray]:
    """rank_arrays of `tables` padded to one width with empty ranks, row i of the result table take[i]'s."""
    width = max(len(rows) for rows, _ in tables)
    groups = len(model.layers)
    padded = [rows + [([0.0] * groups, 0.0, 0.0, 0.0, 0.0, float(k), float(k)) for k in range(len(rows), width)]
              for rows, _ in tables]
    out = {"rank_layers": np.array([[row[0] for row in rows] for rows in padded], dtype=float).reshape(
        len(tables), width, groups)}
    for k, name in enumerate(("rank_mtp", "rank_embedding", "rank_head", "rank_loss", "rank_position", "rank_mirror"),
                             start=1):
        out[name] = np.array([[row[k] for row in rows] for rows in padded], dtype=float)
    for k, name in enumerate(_SHARES):
        out[name] = np.array([shares[k] for _, shares in tables], dtype=float)
    return {name: value[take] for name, value in out.items()}


def evaluate_layouts(model: Model, system: System, chips: int, layouts: Sequence[TrainingLayout], calibration: Calibration,
                     profile: TrainingProfile | None = None) -> TrainingResult:
    """Price many layouts of one precision at once; every field of the result is an array over them."""
    if not layouts:
        raise InfeasiblePlan("no layouts to price")
    kinds = {(x.precision, x.flash_attention, x.dropout) for x in layouts}
    if len(kinds) != 1:
        raise InfeasiblePlan(f"evaluate_layouts prices one precision and attention kind at a time, got {sorted(kinds)}")
    precision, flash, dropout = kinds.pop()
    arrays = _arrays(layouts) | rank_arrays(model, layouts)
    return evaluate_arrays(model, system, chips, arrays, calibration, profile, precision, flash, dropout)


def evaluate_arrays(model: Model, system: System, chips: int, a: dict[str, np.ndarray], calibration: Calibration,
                    profile: TrainingProfile | None = None, precision: str = "bf16", flash: bool = True,
                    dropout: bool = False) -> TrainingResult:
    """Price layouts given as arrays of their fields (keys of `LAYOUT_ARRAYS`), already checked."""
    prof = profile or DEFAULT_PROFILE
    # defaults: interleaved 1F1B where there are virtual stages, else 1F1B; even stages
    a = {"sched": np.where(a["v"] > 1, 1.0, 0.0),
         **({} if "stage" in a else rank_arrays(model, pp=a["p"], seq_len=a["s"])), **a}
    t, p, dp, c, e, et, v = a["t"], a["p"], a["dp"], a["c"], a["e"], a["et"], a["v"]
    moe = "moe" in model.features
    group_d = np.where(moe, e * et / t, 1.0)
    shard = Shard(t, group_d, np.where(moe, et, t), np.where(moe, e, 1.0), p, prof.expert_imbalance)
    tokens = a["mb"] * a["s"] / c
    m = a["gb"] / (dp * a["mb"])
    # context parallelism: each rank's queries see all keys; Megatron balances the causal work, so each
    # rank computes 1/cp of the pairs (prefix chosen so that pairs = s^2 / (2 cp) per sequence)
    batch = Batch(prefill_tokens=tokens, prefill_sequences=a["mb"], prefill_context=a["s"] * (c - 1.0) / (2.0 * c))
    sp_split = np.where(a["sp"] > 0, t, 1.0)  # sequence parallelism: the glue between GEMMs on 1/tp of the tokens
    kernels, collectives = _kernels(model, batch, shard, precision, t, prof.fp8_cast_bytes, prof.moe_permute_scale,
                                    sp_split)
    if not flash:
        kernels = _materialised(model, kernels, tokens, a["s"], shard, dropout)
    priced = _price_pass(kernels, system, _training_calibrations(calibration, prof))
    f_s, b_s, attn_s = priced.f_s, priced.b_s, priced.attention_s
    rc = a["rc"]
    # selective recomputation reruns the attention core (Korthikanti et al. 2022, Sec. 5; flash attention's
    # backward already does) and, for MLA, the norms and up-projections as DeepSeek-V3 does (Sec. 3.2.3)
    mla = "mla" in model.features
    selective_s = (0.0 if flash else attn_s) + (priced.up_s if mla else 0.0)
    recompute_s = np.where(rc >= 2, f_s, np.where(rc == 1, selective_s, 0.0))
    moe_layers = sum(layer.count for layer in model.layers if layer.moe)
    compute_mb = f_s + b_s + recompute_s + moe_layers / p * prof.moe_layer_overhead_s
    passes = 2.0 + (rc >= 2)  # forward + backward (+ the recomputed forward) run the same collectives

    tp_s: Num = 0.0
    ep_s: Num = 0.0
    for col in collectives:
        if col.name in _EP_COLLECTIVES:
            # Megatron-Core runs MoE under tensor parallelism with sequence parallelism only: each TP rank
            # dispatches its 1/tp share of the tokens (the collective's bytes already are that share:
            # plan.sharding.moe_scatter divides by tp once experts are spread); its all-to-all dispatcher
            # ("alltoall", which Megatron-Bridge 25.09's token-drop recipes need) permutes them into one row per
            # (token, expert) before the all-to-all, so each token crosses once per chosen expert
            # (megatron/core/transformer/moe/token_dispatcher.py, MoEAlltoAllTokenDispatcher); DeepEP's
            # normal kernels send it once per destination rank and remote node (collective_s with a fanout)
            rows = _collective(col.kind, col.bytes * (col.fanout or 1.0), col.group, system, calibration, et)
            deepep = _collective(col.kind, col.bytes, col.group, system, calibration, et, col.fanout)
            # experts sliced as well as spread (col.slices = etp > 1): what each rank received is all-gathered over
            # its expert-TP group after the dispatch, and the combine's partial sums reduce-scattered before it
            # (the same bytes): MoEAlltoAllTokenDispatcher's gather_from_sequence_parallel_region over tp_group;
            # the flex dispatcher sends each token to every slice instead, the same bytes on the same links
            on_deepep = a.get("dd", 0.0) > 0
            copies = np.where(on_deepep, expected_distinct(col.fanout or 1.0, col.group), col.fanout or 1.0)
            received = np.where(col.group > 1, col.bytes * copies, 0.0)
            gather = _collective("all_gather", received * col.slices, col.slices, system, calibration)
            ep_s = ep_s + col.count * (np.where(on_deepep, deepep, rows) + gather)
        elif col.name in _TP_COLLECTIVES:
            tp_s = tp_s + col.count * _collective(col.kind, col.bytes, col.group, system, calibration)
    cp_s: Num = 0.0
    for layer in model.layers:
        at = layer.attention
        if at is None or not at.kv_elements_per_token:
            continue  # no keys to ring: MLP-only, linear-attention and Mamba layers
        per_rank = (at.num_attention_heads * (at.qk_head_dim + at.value_head_dim) / t if at.mla
                    else (at.qk_head_dim + at.value_head_dim) * np.maximum(at.num_key_value_heads / t, 1.0))
        # ring attention: keys and values of every chunk reach every rank (all-gather forward; all-gather
        # and reduce-scatter of their gradients backward)
        cp_s = cp_s + layer.count / p * _collective("all_gather", 2.0 * tokens * c * per_rank, c, system, calibration, t)
    p2p = 2.0 * tokens * model.hidden_size / sp_split
    # each hop joins two stages t x c x dp chips apart (Megatron-Core's rank order "tp-cp-ep-dp-pp", pipeline
    # outermost); once the p stages span more than one scale-up domain, some hop crosses scale-out, and in
    # 1F1B's steady state every stage waits on its slowest neighbour: priced over the whole pipeline's p ranks
    pp_s = np.where(p > 1, 2.0 * v * _collective("send_recv", p2p, p, system, calibration, t * c * dp), 0.0)

    tp_mb, cp_mb = prof.tp_comm_exposed * passes * tp_s, prof.cp_comm_exposed * (passes + 1.0) * cp_s
    ep_mb = prof.ep_comm_exposed * passes * ep_s
    exposed_mb = tp_mb + cp_mb + ep_mb + prof.pp_comm_exposed * pp_s

    # data parallelism over dp x cp ranks (experts: over the ranks holding the same experts)
    dense_params, expert_params = parameters_per_device(model, shard)
    n_dense = dp * c
    n_expert = np.maximum(dp * c * t / (e * et), 1.0)
    window = prof.dp_overlap_window * a["overlap"]
    zero = a["zero"]
    # ZeRO-3 / FSDP gathers and reduce-scatters one layer at a time (PyTorch FSDP wraps each transformer block as a
    # unit; DeepSpeed's ZeRO-3 fetches each submodule's parameters as it runs): the ring's latency once a layer.
    # Gradients otherwise reduce in Megatron-Core's buckets of max(40M, 1M x dp) parameters
    # (megatron/core/distributed/distributed_data_parallel_config.py, bucket_size: "larger DP sizes need larger
    # buckets to ensure collectives do not become latency-bound")
    units = np.maximum(model.num_layers / p, 1.0)

    def sync(params: Num, n: Num, stride: Num) -> tuple[Num, Num, Num]:
        calls = np.where(zero >= 3, units, np.maximum(np.ceil(params / np.maximum(40e6, 1e6 * n)), 1.0))

        def each(kind: str, size: Num) -> Num:
            return calls * _collective(kind, size / calls, n, system, calibration, stride)
        return (each("reduce_scatter", params * prof.gradient_bytes), each("all_gather", params * 2.0),
                each("all_reduce", params * prof.gradient_bytes))

    dg, da, dr = sync(dense_params, n_dense, t)
    eg, ea, er = sync(expert_params, n_expert, e * et) if moe else (0.0, 0.0, 0.0)
    grads_s, gather_s, reduce_s = dg + eg, da + ea, dr + er

    def exposed(comm: Num, beside: Num) -> Num:
        """[s] of `comm` seconds of data-parallel traffic left on the critical path beside `beside` seconds of
        compute: what the window cannot hide, and at least the profile's exposed share of it."""
        return np.maximum(comm - window * beside, prof.dp_comm_exposed * comm)

    grads_exposed = exposed(grads_s, b_s)
    gather_exposed = exposed(gather_s, f_s)
    # ZeRO-1 (Megatron's distributed optimizer) accumulates full gradients and syncs once a step; ZeRO-2
    # keeps only its gradient shard, so it reduce-scatters after every microbatch's backward (DeepSpeed
    # issue #2252: "for zero stage 2 (and 3), gradient reduction is required after every backward") and
    # gathers the updated weights once a step
    per_step_dp = np.where(zero == 0, exposed(reduce_s, b_s), gather_exposed + np.where(zero == 2, 0.0, grads_exposed))
    # ZeRO-3 / FSDP gathers the weights before each forward and backward of every microbatch and reduce-scatters
    # its gradients (ZeRO paper Sec. 5.3: 3x the parameters a step, 1.5x plain data parallelism; PyTorch FSDP
    # docs), prefetching a layer ahead: its traffic grows with the microbatches
    zero3_mb = exposed((passes - 1.0) * gather_s, (passes - 1.0) * f_s) + exposed(gather_s + grads_s, b_s)
    dp_mb = np.where(zero >= 3, zero3_mb, np.where(zero == 2, grads_exposed, 0.0))
    dp_step = np.where(zero >= 3, 0.0, per_step_dp)

    # the busiest rank's share of the work over the even share priced, and the other ranks' (DualPipe's ranks each
    # run two stages): the busiest paces the microbatches, the others' stages make the bubble
    dual = a["sched"] == 3
    stage = np.where(dual, a["stage_dual"], a["stage"])
    rest = np.where(dual, a["stage_dual_rest"], a["stage_rest"])
    stage_mb = (compute_mb + exposed_mb + dp_mb) * stage
    # an even rank's share of the work of the layers (their passes and their TP, CP and EP collectives) is what
    # compute_s and the communication report: `even` times the model's 1/pp, above 1 where a --pp-layout places
    # MTP modules, each a layer more; the busiest rank's excess over it is the imbalance, the others idle meanwhile
    even = a["even"]
    layers_mb = compute_mb + tp_mb + cp_mb + ep_mb
    imbalance_s = m * ((compute_mb + exposed_mb + dp_mb) * (stage - 1.0) - layers_mb * (even - 1.0))
    bubble_s = pipeline_bubble_s(a["sched"], p, v, (compute_mb + exposed_mb + dp_mb) * rest, b_s * rest,
                                 priced.w_s * rest, m)
    shards_dense = np.where(zero >= 1, n_dense, 1.0)
    shards_expert = np.where(zero >= 1, n_expert, 1.0)
    optimizer_s = ((dense_params / shards_dense + expert_params / shards_expert) * prof.optimizer_traffic_bytes
                   / (system.chip.memory_bytes_per_s * calibration.stream_efficiency))
    step_s = m * stage_mb + bubble_s + dp_step + optimizer_s + prof.step_overhead_s

    memory = training_memory(model, system.chip.memory_bytes, a, shard, tokens, m, prof, n_dense, n_expert, precision,
                             flash, dropout)
    tokens_per_s = a["gb"] * a["s"] / step_s
    per_chip = tokens_per_s / chips
    flops = model_flops_per_token(model, a["s"])
    chip = system.chip
    # the unit the GEMMs run on (an 8-bit format on a chip without FP8 units runs as bf16)
    peak_math = math_unit(format_named(precision), chip)[0]
    peak = chip.peak(peak_math)
    bf16_peak = chip.peak("bf16") or np.nan
    return TrainingResult(
        step_s=step_s, compute_s=m * even * (compute_mb - recompute_s), recompute_s=m * even * recompute_s,
        tp_comm_s=m * even * tp_mb, cp_comm_s=m * even * cp_mb, ep_comm_s=m * even * ep_mb,
        pp_comm_s=m * prof.pp_comm_exposed * pp_s, dp_comm_s=m * dp_mb + dp_step, imbalance_s=imbalance_s, bubble_s=bubble_s,
        optimizer_s=optimizer_s, overhead_s=prof.step_overhead_s + 0.0 * step_s, tokens_per_s=tokens_per_s,
        tokens_per_s_per_chip=per_chip, model_flops_per_token=flops, mfu=per_chip * flops / peak,
        mfu_causal=per_chip * model_flops_per_token(model, a["s"], causal=True) / peak,
        mfu_bf16=per_chip * flops / bf16_peak, chips=chips, microbatches=m, memory=memory, tdp_w=chip.tdp_w,
        assumptions=_assumptions(prof, model) + tuple(filter(None, [emulation_note(format_named(precision), chip),
                                                                    same_rate_note(format_named(precision), chip)])),
        peak_math=peak_math)


def _assumptions(prof: TrainingProfile, model: Model) -> tuple[str, ...]:
    notes = [f"training profile {prof.id} ({'fitted' if prof.measured else 'prior'})",
             f"exposed communication: TP {prof.tp_comm_exposed:.0%}, CP {prof.cp_comm_exposed:.0%}, "
             f"EP {prof.ep_comm_exposed:.0%}, PP {prof.pp_comm_exposed:.0%}, DP/ZeRO {prof.dp_comm_exposed:.0%} "
             "(the rest hidden only as far as compute runs beside it)",
             f"memory reserve {prof.memory_reserve_fraction:.0%} + {prof.memory_reserve_bytes / 1e9:g} GB "
             "(allocator fragmentation, context, buffers)"]
    if "moe" in model.features:
        notes.append(f"expert load imbalance {prof.expert_imbalance:g}")
    return tuple(notes) + tuple(filter(None, [vision_note(model, "train")]))


def train_step(model: Model, system: System, chips: int, layout: TrainingLayout, calibration: Calibration,
               profile: TrainingProfile | None = None) -> TrainingResult:
    """One training step of `layout` on `chips` chips of `system`'s kind (scale-out beyond one system), each die
    of a multi-die chip one rank (the layout spreads over chips x dies ranks; TrainingResult.per_package).

    Raises InfeasiblePlan (naming the field) when the layout does not divide the model, batch or ranks;
    a layout that does not fit in memory is still priced, with fits False and the shortfall.
    profile None: DEFAULT_PROFILE, TrainingProfile's documented defaults, not the fitted profile `parity train`
    prices with (this engine reads no files): pass catalog.training_profile() for the command's figures (the
    README's Llama-3.1-70B on 64 H100s: 10.717 s a step with the defaults, 10.698 s as `parity train` gives it).
    """
    dies = system.chip.dies
    layout.check(model, chips, dies)
    result = evaluate_layouts(model, per_die(system), chips * dies, [layout], calibration, profile).at(0)
    result = result.per_package(dies)
    return dataclasses.replace(result, layout=layout,
                               assumptions=result.assumptions + format_notes(layout, profile, model))


def _implicit_stages(model: Model | None, pp: int) -> str:
    """"pipeline stages of equal layers, " or, where pp does not divide the layers, the stages' whole layers named."""
    if model is None or model.num_layers % pp == 0:
        return "pipeline stages of equal layers, "
    sizes = implicit_stage_layers(model.num_layers, pp)
    low, high = min(sizes), max(sizes)
    return (f"pipeline stages of whole layers ({sizes.count(high)} of {high}, {sizes.count(low)} of {low}: "
            f"{model.num_layers} over pp {pp}, as a --pp-layout would place them), ")


def _mtp_notes(layout: TrainingLayout, model: Model | None) -> tuple[str, ...]:
    """Whether `model`'s multi-token-prediction modules are trained: where a --pp-layout places them (m), on the
    ranks holding them (priced as training.step prices them); else not at all."""
    if model is None or not model.mtp_layers:
        return ()
    ranks = layout.pipeline_ranks(model) if layout.pp_layout else ()
    placed = [r for r, rank in enumerate(ranks) for _ in range(rank.mtp)]
    if not placed:
        return ("multi-token-prediction modules not trained (--pp-layout places them: m)",)
    where = ", ".join(map(str, sorted(set(placed))))
    return (f"multi-token-prediction modules trained where --pp-layout places them ({len(placed)} of "
            f"{len(model.mtp_layers)}, on pipeline rank{'s' if len(set(placed)) > 1 else ''} {where})",)


def format_notes(layout: TrainingLayout, profile: TrainingProfile | None = None, model: Model | None = None
                 ) -> tuple[str, ...]:
    """The assumptions a layout's storage formats and pipeline stages add to its result: Adam's bytes per
    parameter as training_memory counts them (2 + 2 + 12 in the ZeRO paper; an FP8 weight copy, bf16 moments
    and fp32 gradients change the terms); with `model`, whether its multi-token-prediction modules are trained (where
    a --pp-layout places them) and the layers of implicit stages that pp does not divide."""
    prof = profile or DEFAULT_PROFILE
    fp8, moments, gradients = (format_named(layout.precision).bits <= 8, layout.optimizer_states == "bf16",
                               layout.gradients == "fp32")
    terms = adam_bytes_per_parameter(0, 1.0, prof, fp8, float(moments), float(gradients))
    changes = [change for change, on in ((f"a {prof.fp8_weight_copy_bytes:g} B FP8 weight copy", fp8),
                                         ("bf16 moments", moments), ("fp32 gradients", gradients)) if on]
    adam = (f"Adam: {' + '.join(f'{float(b):g}' for b in terms)} B per parameter (ZeRO paper"
            + (f", with {', '.join(changes)})" if changes else ")")
            # Megatron-Core's distributed-optimizer docs (docs.nvidia.com/megatron-core/developer-guide/latest/
            # distrib_optimizer.html) count bf16 parameters with fp32 gradients, 6 + 12/d B (grad_reduce_in_fp32)
            + ("" if gradients else "; bf16 gradients, where Megatron-Core's distributed-optimizer table counts "
                                    "fp32 ones with bf16 weights (6 + 12/d B; --gradients fp32)"))
    stages = ("pipeline stages as --pp-layout places them" if layout.pp_layout else
              "pipeline stages as given, the embedding on the first and the LM head on the last" if layout.uneven else
              _implicit_stages(model, layout.pp) + "the embedding on the first and the LM head on the last "
              "(Megatron-Core's GPTModel)")
    cache = ("activations cached as DeepSeek-V3 (FP8 GEMM inputs, E5M6 attention output, SwiGLU inputs FP8 and "
             "output recomputed; that recomputation, an elementwise pass over the cached inputs, is not priced)")
    # DeepSeek-V3's 1x128 activation tiles and 128x128 weight blocks (arXiv 2412.19437 Sec. 3.3.2): their scales'
    # loads and the finer-grained casts are not modelled, so fp8_block prices as per-tensor fp8 on every chip
    block = ("fp8_block priced as fp8: its 128x128 block scales' cost (scale loads, finer casts) is not modelled",)
    return (_mtp_notes(layout, model) + (adam, stages) + ((cache,) if layout.activation_cache == "fp8" else ())
            + (block if layout.precision == "fp8_block" else ()))
