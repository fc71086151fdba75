"""Units of work: matrix products, attention, memory-bound ops and collectives.

A logical op (`Gemm`, `Attention`, `Stream`) describes work on the whole model; `plan` splits it
over devices into `Kernel`s (FLOPs and bytes on one device) and inserts `Collective`s. Sizes may
be numpy arrays so that many batch sizes or layouts are priced at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Gemm", "Attention", "Stream", "Kernel", "Collective", "SPLITS", "STREAM_SPLITS", "COLLECTIVES", "Batch",
           "where"]

Num = Any  # a float or a numpy array of floats (one value per candidate)


def where(condition: Any, if_true: Num, if_false: Num) -> Num:
    """np.where(condition, if_true, if_false), without numpy's per-call cost where none of them is an array (one
    candidate, priced in Python floats): the same values."""
    if isinstance(condition, np.ndarray) or isinstance(if_true, np.ndarray) or isinstance(if_false, np.ndarray):
        return np.where(condition, if_true, if_false)
    return if_true if condition else if_false

# How tensor parallelism splits a matrix: columns (output features), rows (input features),
# not at all; `expert` matrices are split by expert parallelism, and `moe_tp` inside an expert.
SPLITS = ("column", "row", "replicated", "expert_column", "expert_row", "vocab")
STREAM_SPLITS = ("replicated", "kv", "moe_tokens", "heads", "heads_kv_cast")
COLLECTIVES = ("all_reduce", "all_gather", "reduce_scatter", "all_to_all", "send_recv")


@dataclass(frozen=True, slots=True, kw_only=True)
class Batch:
    """The tokens of one forward step of a serving engine (per attention data-parallel rank).

    decode_tokens: sequences producing one token each; decode_context: their mean context [tokens];
    decode_context_spread: how far their contexts spread evenly either side of that mean [tokens] (a request's
    decode from isl to isl + osl, priced at context isl + osl / 2: osl / 2; 0: all at the mean), which the keys of a
    chunked or windowed layer depend on (model.mean_keys);
    decode_width: tokens each decoding sequence runs through the model per step (1, or 1 + the draft
    tokens a speculative step verifies), the KV cache read once per sequence.
    prefill_tokens: prompt tokens processed in this step, from prefill_sequences prompts whose
    earlier tokens (prefill_context, e.g. previous chunks) are already cached.
    prefill_ranks: how many of the worker's attention data-parallel ranks carry such prompt tokens
    in this step (None: every rank); the experts see only those ranks' prompt tokens.
    decode_ranks: how many of them carry decode sequences, each as many as this (the busiest) rank (None: every
    rank; may be fractional, a mean); the experts see decode_queries x decode_ranks decode tokens. A lone client
    on 8 attention-DP ranks: decode_tokens 1, decode_ranks 1, so the experts see one token, not eight.
    """

    decode_tokens: Num = 0.0
    decode_context: Num = 0.0
    decode_context_spread: Num = 0.0
    decode_width: Num = 1.0
    prefill_tokens: Num = 0.0
    prefill_sequences: Num = 0.0
    prefill_context: Num = 0.0
    prefill_ranks: Num | None = None
    decode_ranks: Num | None = None

    @property
    def decode_queries(self) -> Num:
        """Decode tokens through the model this step (sequences x width)."""
        return self.decode_tokens * self.decode_width

    @property
    def tokens(self) -> Num:
        return self.decode_queries + self.prefill_tokens

    def group_tokens(self, ranks: Num) -> Num:
        """Tokens all `ranks` attention data-parallel ranks send to the experts in this step: each carrying rank's
        decode queries and prompt tokens, over the ranks that carry them (decode_ranks, prefill_ranks)."""
        decoding = ranks if self.decode_ranks is None else self.decode_ranks
        prompting = ranks if self.prefill_ranks is None else self.prefill_ranks
        return self.decode_queries * decoding + self.prefill_tokens * prompting

    @property
    def sequences(self) -> Num:
        """Sequences that need logits this step (decodes plus prompts that finish)."""
        return self.decode_tokens + self.prefill_sequences


@dataclass(frozen=True, slots=True, kw_only=True)
class Gemm:
    """y[m, cols] = x[m, rows] W[rows, cols], `copies` independent matrices (experts, heads).

    role: which weights these are ("attention", "mlp", "expert", "head"), for their number format.
    matrix: the model's weight matrix (Layer.matrices' name) multiplied, where it is not `name` (the dense MLP's
    mlp_up is `up`; MLA decode's q_absorb, v_absorb and kv_b_decode are pieces of `kv_b`), for its format.
    tokens: rows of x per copy [tokens]; for experts the tokens routed to each expert.
    kv_cols: the last kv_cols of a column-split GEMM's cols are num_key_value_heads K/V heads (GQA's fused qkv),
    which split over TP only until TP reaches their count: beyond it each rank computes one whole head (vLLM's
    QKVParallelLinear, SGLang and TensorRT-LLM replicate KV heads where tp > num_key_value_heads).
    """

    name: str
    tokens: Num
    rows: int
    cols: int
    split: str
    role: str
    copies: Num = 1
    per_head: bool = False
    fused: bool = False  # runs inside another GEMM's launch (same input, concatenated weights)
    matrix: str = ""
    kv_cols: int = 0
    num_key_value_heads: int = 1

    @property
    def weights(self) -> str:
        """The model's weight matrix this multiplies (Layer.matrices' name)."""
        return self.matrix or self.name

    def __post_init__(self) -> None:
        if self.split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {self.split!r}")
        if not 0 <= self.kv_cols <= self.cols:
            raise ValueError(f"kv_cols must be in [0, cols ({self.cols})], got {self.kv_cols}")
        if self.num_key_value_heads < 1:
            raise ValueError(f"num_key_value_heads must be >= 1, got {self.num_key_value_heads}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Attention:
    """Attention scores and values of one layer: `queries` tokens against their keys.

    flops_per_head [FLOP] and kv_bytes_per_replica [B] (cache read once per query group) are
    already summed over the batch; plan splits heads over tensor parallelism.
    latent: MLA's cache is shared by all heads, so every TP rank reads all of it.
    state_bytes_per_kv_head [B]: fixed recurrent state read and written (linear attention, Mamba), in its
    own format (not the KV-cache format).
    fp8_key_bytes_per_kv_head [B]: cache read in FP8 whatever the KV format (DSA's indexer keys with their scales).
    head_dim: the query/key width of each head of a flash-attention kernel (its tile shape, cost.head_dim_scale);
    0 where not stated.
    in_kv_format: the kernel runs in FP8 where the KV cache is FP8, whatever the attention format (MLA's prompt
    attention with an FP8 cache: its inputs cast first, graph._mla_prompt_passes; DSA's indexer, graph._indexer_ops).
    fp8_record_bytes_per_element [B]: what an 8-bit FP8 cache stores per element of kv_bytes_per_kv_head where its
    record is not the format's (sparse MLA's FlashMLA record, model.Attention.fp8_record_bytes_per_element; 0: the
    format's).
    """

    name: str
    phase: str  # "prefill" or "decode"
    heads: int
    kv_heads: int
    flops_per_head: Num
    kv_bytes_per_kv_head: Num
    queries: Num
    latent: bool = False
    state_bytes_per_kv_head: Num = 0.0
    fp8_key_bytes_per_kv_head: Num = 0.0
    head_dim: int = 0
    in_kv_format: bool = False
    fp8_record_bytes_per_element: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Stream:
    """A memory-bound op (norms, rotary, residual adds, KV writes, embedding gather) [B moved].

    fused: the serving engines fold it into a neighbouring kernel (an RMSNorm into the residual add
    and the next GEMM's quantisation, the KV write into the attention kernel), so it moves its bytes
    but costs no launch of its own. split: "replicated" (every rank moves the bytes), "kv" (elements of
    the KV cache, in its format, shared over TP by KV heads), "moe_tokens" (routed assignments of the
    rank's tokens: a rank moves those its experts handle, plan.sharding.moe_routes_share), "heads" (bytes of
    per-head tensors: each TP rank moves its heads' share) or "heads_kv_cast" (elements of per-head tensors cast
    to an FP8 KV cache's format before attention, split as "heads": read in the activations' format and written in
    the cache's, nothing where the cache is not FP8). fp8_record_bytes_per_element: as Attention's, for "kv".
    """

    name: str
    bytes: Num
    split: str = "replicated"
    fused: bool = True
    fp8_record_bytes_per_element: float = 0.0

    def __post_init__(self) -> None:
        if self.split not in STREAM_SPLITS:
            raise ValueError(f"stream split must be one of {STREAM_SPLITS}, got {self.split!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Kernel:
    """Work of one kind on one device, `count` times per step.

    flops [FLOP], weight_bytes and other_bytes [B]: device-memory traffic; fmt: the number format
    whose math unit runs it; kind: gemm, grouped_gemm, attention or stream (for efficiency);
    launches: kernels it takes per run (0 when fused into another kernel); head_dim: an attention kernel's
    head width (0: not stated).
    """

    name: str
    kind: str
    flops: Num
    weight_bytes: Num
    other_bytes: Num
    fmt: str
    tokens: Num = 0.0
    count: Num = 1
    launches: Num = 1.0
    head_dim: int = 0

    @property
    def bytes(self) -> Num:
        return self.weight_bytes + self.other_bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Collective:
    """A collective over `group` ranks on a buffer of `bytes` per rank, `count` times per step.

    all_reduce/all_gather/reduce_scatter: bytes is the full buffer each rank ends with (or starts with);
    all_to_all: bytes each rank splits evenly over the group, or, with `fanout`, the bytes of its
    tokens (of an MoE dispatch or combine: as many as the busiest expert rank receives), each sent to
    `fanout` destinations drawn at random from the group (MoE dispatch: one copy per destination rank, and
    across scale-up domains one copy per destination domain, as DeepEP forwards); send_recv: bytes to the
    next pipeline stage. hidden: the share of its time overlapped with computation (e.g. two-batch overlap).
    low_latency: a fanout all-to-all of decode-sized batches runs low-latency kernels (DeepEP's): every
    token copy goes straight to its expert's rank, over scale-out when that rank is in another domain, with
    no per-domain forwarding.
    slices: with a fanout, the expert tensor-parallel ranks of each of the group's (expert-parallel) ranks, on
    consecutive chips: each holds a slice of the same experts' width and needs every token routed to them (its slice
    takes the whole hidden vector in and gives a partial sum of it out), so the group's ranks sit `slices` chips
    apart, and a dispatch is followed by an all-gather of what each rank received over its slices (a combine
    preceded by a reduce-scatter of their partial sums): cost.sliced_all_to_all_s.
    """

    name: str
    kind: str
    bytes: Num
    group: Num
    count: Num = 1
    fanout: Num | None = None
    hidden: Num = 0.0
    low_latency: Num = False
    slices: Num = 1.0

    def __post_init__(self) -> None:
        if self.kind not in COLLECTIVES:
            raise ValueError(f"kind must be one of {COLLECTIVES}, got {self.kind!r}")


def expected_distinct(draws: Num, choices: Num) -> Num:
    """Expected distinct items hit by `draws` uniform draws from `choices` items: n(1-(1-1/n)^d)."""
    choices = np.maximum(choices, 1.0)
    return choices * (1.0 - np.power(1.0 - 1.0 / choices, np.maximum(draws, 0.0)))
