"""Layouts as numpy arrays, to price many at once: their fields (LAYOUT_ARRAYS) and what each of their pipeline
ranks holds, with the busiest rank's share of the work (rank_arrays)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from parity.model import Attention, Layer, Model
from parity.ops import Num
from parity.training.layout import PP_SCHEDULES, RECOMPUTE, TrainingLayout
from parity.training.stages import PipelineRank, implicit_ranks

__all__ = ["LAYOUT_ARRAYS", "rank_arrays"]

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
