"""Softmax attention of one decoder layer (GQA, MLA, windowed, chunked, DeepSeek sparse) and the weight
matrix every mixer and MLP is made of (linear attention and Mamba2 live in `model.recurrent`).

Each mixer states its weight matrices, its FLOPs per token beyond them at a context, the KV elements a
token adds to the cache (0 for linear and state-space layers) and the fixed state a sequence keeps.
Parameters are a count; FLOPs count a multiply-add as 2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from parity.dtypes import Format


Values = float | np.ndarray  # one value, or one per element of an array

__all__ = ["Matrix", "Attention", "cache_bytes_per_element", "causal_pairs", "mean_keys"]


def causal_pairs(prefix: Values, queries: Values, window: float = np.inf, chunk: float = np.inf) -> Values:
    """(query, key) pairs of `queries` causal queries of one sequence after its `prefix` cached tokens (positions
    prefix .. prefix + queries - 1, 0-based), element by element of arrays: G(prefix + queries) - G(prefix), where
    G(x) sums over p < x the keys query p reads: p + 1 under full attention, min(p + 1, W) under a sliding `window` W,
    (p mod C) + 1 under chunked local attention of `chunk` C (a query sees only the keys before it in its own chunk;
    Llama 4's attention_chunk_size). So G(x) = x(x+1)/2 up to the window, W(W+1)/2 + (x - W) W beyond it, and
    n C(C+1)/2 + r(r+1)/2 for n whole chunks and r = x - nC tokens of the last. Full attention: L x prefix + L(L+1)/2
    for L queries; a window: the first W - prefix queries see all their keys, the rest W each.
    Mistral's W = 4,096 over an 8,192-token prompt: 4,096 x 4,097 / 2 + 4,096 x 4,096 = 25,167,872 pairs
    (full attention: 33,558,528); Llama 4's C = 8,192 over 16,384 tokens: 2 x 8,192 x 8,193 / 2 = 67,117,056."""
    def upto(x: np.ndarray) -> np.ndarray:
        x = np.maximum(x, 0.0)
        if chunk < np.inf:
            n = np.floor(x / chunk)
            r = x - n * chunk
            return n * chunk * (chunk + 1.0) / 2.0 + r * (r + 1.0) / 2.0
        within = np.minimum(x, window)
        return within * (within + 1.0) / 2.0 + (x - within) * window
    first, count = np.asarray(prefix, float), np.asarray(queries, float)
    if window == np.inf and chunk == np.inf:  # full attention, as L x prefix + L(L+1)/2 (no difference of squares)
        pairs = count * first + count * (count + 1.0) / 2.0
    else:
        pairs = upto(first + count) - upto(first)
    return float(pairs) if pairs.ndim == 0 else pairs


def mean_keys(context: Values, spread: Values = 0.0, window: float = np.inf, chunk: float = np.inf) -> Values:
    """[tokens] keys one decode query reads, on average over contexts spread evenly over context +- `spread` (a
    request's decode from isl to isl + osl: context isl + osl / 2, spread osl / 2), element by element of arrays.
    At one context T: T, min(T, W) under a sliding `window`, and under chunked local attention of `chunk` C the keys
    of T's own chunk, T - C (ceil(T / C) - 1) (a query sees the tokens before it in its chunk). Over a spread: the
    mean of that over [T - s, T + s], (K(T + s) - K(T - s)) / 2s with K(x) = x^2 / 2; W^2 / 2 + (x - W) W beyond the
    window; n C^2 / 2 + r^2 / 2 for n whole chunks and r = x - nC. Llama 4 (C = 8,192), 1,024 tokens decoded after
    8,192: context 8,704, 512 keys on average (not 8,192); 16,384 after 16,384: 4,096."""
    if window == np.inf and chunk == np.inf:  # full attention: every key, whatever the spread (its mean is T)
        return context
    t, s = np.asarray(context, float), np.maximum(np.asarray(spread, float), 0.0)

    def integral(x: np.ndarray) -> np.ndarray:
        x = np.maximum(x, 0.0)
        if chunk < np.inf:
            n = np.floor(x / chunk)
            return n * chunk * chunk / 2.0 + (x - n * chunk) ** 2 / 2.0
        within = np.minimum(x, window)
        return within * within / 2.0 + (x - within) * window

    if chunk < np.inf:
        at = t - chunk * np.maximum(np.ceil(t / chunk) - 1.0, 0.0)
    else:
        at = np.minimum(t, window)
    low = np.maximum(t - s, 0.0)
    width = np.where(s > 0, t + s - low, 1.0)
    spread_mean = (integral(t + s) - integral(low)) / width
    if chunk == np.inf:  # wholly beyond the window: the window, exactly
        spread_mean = np.where(low >= window, window, spread_mean)
    keys = np.where(s > 0, spread_mean, at)
    return float(keys) if keys.ndim == 0 else keys


def cache_bytes_per_element(fp8_record_bytes: float, kv_format: Format) -> float:
    """[B] a KV cache in `kv_format` stores per element: the format's, or an 8-bit FP8 cache's own record where the
    layer keeps one (Attention.fp8_record_bytes_per_element, nonzero)."""
    if fp8_record_bytes and kv_format.math == "fp8" and kv_format.bits == 8:
        return fp8_record_bytes
    return kv_format.bytes_per_element


@dataclass(frozen=True, slots=True, kw_only=True)
class Matrix:
    """One weight matrix y = x W: `rows` inputs to `cols` outputs, `copies` of it (experts)."""

    name: str
    rows: int
    cols: int
    copies: int = 1
    expert: bool = False

    @property
    def parameters(self) -> int:
        return self.rows * self.cols * self.copies


def positive(obj: object, names: tuple[str, ...]) -> None:
    for name in names:
        if getattr(obj, name) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(obj, name)}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Attention:
    """Softmax self-attention of one layer.

    GQA (Llama, Qwen, Mixtral, gpt-oss): num_key_value_heads K/V heads of head_dim shared by groups of
    query heads (v_head_dim when values are narrower, as in MiMo-V2). MLA (DeepSeek-V2/V3, Kimi-K2) when
    kv_lora_rank is set: the cache holds one latent of kv_lora_rank plus a decoupled RoPE key of
    qk_rope_head_dim per token (DeepSeek-V2 paper, Sec. 2.1).
    sliding_window: keys a query sees (None = all); chunk_size: Llama 4's chunked local attention, a
    query sees only its own chunk (at most chunk_size keys, which bounds the cache the same way);
    qk_norm: a norm of head_dim on each query and key head, one weight shared by the heads (Qwen3), or one per
    head when qk_norm_per_head (Cohere's LayerNorms of (heads, head_dim));
    sinks: one learned logit per head (gpt-oss); output_gate: a sigmoid gate per query feature (Qwen3-Next
    attn_output_gate), which doubles the query projection.
    DeepSeek Sparse Attention (V3.2, GLM-5) when index_heads is set: a lightning indexer of index_heads
    heads of index_head_dim scores every cached key (its own index_head_dim key cache per token, in FP8 whatever
    the KV format) and the attention reads only the index_topk best (DeepSeek-V3.2-Exp report, Sec. 2.1).
    """

    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    qkv_bias: bool = False
    o_bias: bool = False
    qk_norm: bool = False
    qk_norm_per_head: bool = False
    sliding_window: int | None = None
    chunk_size: int | None = None
    sinks: bool = False
    output_gate: bool = False
    q_lora_rank: int | None = None
    kv_lora_rank: int | None = None
    qk_nope_head_dim: int = 0
    qk_rope_head_dim: int = 0
    v_head_dim: int = 0
    index_heads: int = 0
    index_head_dim: int = 0
    index_topk: int = 0

    def __post_init__(self) -> None:
        positive(self, ("num_attention_heads", "num_key_value_heads", "head_dim"))
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError(f"num_key_value_heads ({self.num_key_value_heads}) must divide "
                             f"num_attention_heads ({self.num_attention_heads})")
        for name in ("sliding_window", "chunk_size"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1 or None, got {value}")
        if self.chunk_size is not None and (self.sliding_window is not None or self.index_heads):
            raise ValueError(f"chunked attention (chunk_size {self.chunk_size}) takes neither a sliding window nor "
                             f"a sparse indexer, got sliding_window {self.sliding_window}, "
                             f"index_heads {self.index_heads}")
        if self.index_heads and (self.index_head_dim < 1 or self.index_topk < 1):
            raise ValueError(f"a sparse-attention indexer needs index_head_dim and index_topk >= 1, "
                             f"got {self.index_head_dim}, {self.index_topk}")

    @property
    def mla(self) -> bool:
        return self.kv_lora_rank is not None

    @property
    def dsa(self) -> bool:
        return self.index_heads > 0

    @property
    def kind(self) -> str:
        """Name of this layer kind in tables: mla/attention, +dsa, sliding or chunked."""
        base = "mla" if self.mla else "attention"
        if self.dsa:
            return base + "+dsa"
        if self.sliding_window is not None:
            return f"{base} sliding {self.sliding_window}"
        if self.chunk_size is not None:
            return f"{base} chunked {self.chunk_size}"
        return base + (" gated" if self.output_gate else "")

    @property
    def qk_head_dim(self) -> int:
        """Width of one query/key head [elements] (MLA: nope + rope parts)."""
        return self.qk_nope_head_dim + self.qk_rope_head_dim if self.mla else self.head_dim

    @property
    def value_head_dim(self) -> int:
        return self.v_head_dim if self.mla or self.v_head_dim else self.head_dim

    def matrices(self, hidden_size: int) -> tuple[Matrix, ...]:
        h, heads = hidden_size, self.num_attention_heads
        gate = 2 if self.output_gate else 1
        if self.mla:
            assert self.kv_lora_rank is not None
            q = ((Matrix(name="q_a", rows=h, cols=self.q_lora_rank),
                  Matrix(name="q_b", rows=self.q_lora_rank, cols=heads * self.qk_head_dim))
                 if self.q_lora_rank else (Matrix(name="q", rows=h, cols=heads * self.qk_head_dim),))
            out = (*q,
                   Matrix(name="kv_a", rows=h, cols=self.kv_lora_rank + self.qk_rope_head_dim),
                   Matrix(name="kv_b", rows=self.kv_lora_rank,
                          cols=heads * (self.qk_nope_head_dim + self.v_head_dim)),
                   Matrix(name="o", rows=heads * self.v_head_dim, cols=h))
        else:
            kv = self.num_key_value_heads * (self.head_dim + self.value_head_dim)
            out = (Matrix(name="qkv", rows=h, cols=gate * heads * self.head_dim + kv),
                   Matrix(name="o", rows=heads * self.value_head_dim, cols=h))
        if self.dsa:  # the indexer's query (from the query latent), key and head-weight projections
            out += (Matrix(name="index_q", rows=self.q_lora_rank or h, cols=self.index_heads * self.index_head_dim),
                    Matrix(name="index_k", rows=h, cols=self.index_head_dim),
                    Matrix(name="index_weights", rows=h, cols=self.index_heads))
        return out

    def vector_parameters(self, hidden_size: int) -> int:
        """Biases, norms and sinks of the attention block (not matrices)."""
        count = 0
        if self.qkv_bias:
            count += self.num_attention_heads * self.head_dim + self.num_key_value_heads * (
                self.head_dim + self.value_head_dim)
        if self.o_bias:
            count += hidden_size
        if self.qk_norm:
            count += (self.num_attention_heads + self.num_key_value_heads if self.qk_norm_per_head else 2) \
                * self.head_dim
        if self.sinks:
            count += self.num_attention_heads
        if self.mla:
            count += (self.q_lora_rank or 0) + (self.kv_lora_rank or 0)  # latent RMSNorms
        if self.dsa:
            count += 2 * self.index_head_dim  # the indexer key's LayerNorm (weight and bias)
        return count

    @property
    def kv_elements_per_token(self) -> int:
        """Elements one token adds to this layer's cache in the KV format: K and V per KV head, or MLA's latent +
        rope key (a sparse-attention indexer's key is kept apart, in FP8: index_key_bytes_per_token)."""
        if self.mla:
            assert self.kv_lora_rank is not None
            return self.kv_lora_rank + self.qk_rope_head_dim
        return self.num_key_value_heads * (self.head_dim + self.value_head_dim)

    @property
    def index_key_bytes_per_token(self) -> float:
        """[B] of the sparse-attention indexer's key one token adds to this layer (0 without an indexer): FP8 values
        with an fp32 scale per 128, whatever the KV format, 128 + 4 = 132 B for V3.2's and GLM-5's 128-wide key.
        DeepSeek-V3.2-Exp inference/model.py Indexer (k_cache float8_e4m3fn, k_scale_cache float32 of
        head_dim // 128); vLLM deepseek_v2.py Indexer (k_cache of head_dim + head_dim // 128 * 4 uint8); SGLang
        NSATokenToKVPool (index_k_with_scale_buffer, quant_block_size 128)."""
        return self.index_head_dim * (1.0 + 4.0 / 128.0)

    @property
    def fp8_record_bytes_per_element(self) -> float:
        """[B] an FP8 cache stores per cached element where its record is not the format's (0: it is). Sparse MLA
        (DSA) in an FP8 cache is stored as FlashMLA's "FP8 with scale" record: the latent in FP8 with an fp32
        scale per 128, the rope key kept in bf16, 512 + 16 + 128 = 656 B for 576 elements (FlashMLA README, "FP8
        KV Cache"), as vLLM's FLASHMLA_SPARSE backend stores any quantized cache (mla_attention.py turns it to
        fp8_ds_mla, 656 B a token in flashmla_sparse.py) and SGLang's NSA pool does (rope in bf16). The sparse
        kernels read and write that record, so the graph's cache traffic carries it too (cache_bytes_per_element)."""
        if not (self.dsa and self.mla):
            return 0.0
        assert self.kv_lora_rank is not None
        record = self.kv_lora_rank * (1.0 + 4.0 / 128.0) + 2.0 * self.qk_rope_head_dim
        return record / self.kv_elements_per_token

    def kv_bytes_per_token(self, kv_format: Format) -> float:
        """[B] one token adds to this layer's cache in `kv_format`, the indexer's FP8 key included."""
        own = self.kv_elements_per_token * cache_bytes_per_element(self.fp8_record_bytes_per_element, kv_format)
        return own + self.index_key_bytes_per_token

    @property
    def state_elements_per_sequence(self) -> int:
        return 0

    def state_bytes_per_sequence(self) -> float:
        return 0.0

    @property
    def window(self) -> int | None:
        """Most tokens of a sequence this layer keeps in its cache (None: all of them): a sliding window, or a chunk
        (a chunked layer keeps its current chunk, which the queries of that chunk read)."""
        return self.sliding_window if self.sliding_window is not None else self.chunk_size

    @property
    def key_cap(self) -> float:
        """Most keys one query reads [tokens] beyond a chunk's own bound: a sliding window's, a sparse indexer's top
        k (inf: none)."""
        return min(self.sliding_window or np.inf, self.index_topk or np.inf)

    def decode_keys(self, context: Values, spread: Values = 0.0) -> Values:
        """[tokens] keys one decode query reads at `context`, or on average over context +- `spread` (mean_keys):
        all of them, a window's or top k's at most, or those of its own chunk (Llama 4: ~C/2 over a long decode,
        not C)."""
        return mean_keys(context, spread, window=self.key_cap, chunk=self.chunk_size or np.inf)

    def prompt_pairs(self, prefix: Values, queries: Values) -> Values:
        """(query, key) pairs of a prompt's `queries` tokens after its `prefix` cached ones (causal_pairs)."""
        return causal_pairs(prefix, queries, window=self.key_cap, chunk=self.chunk_size or np.inf)

    def cached_keys_read(self, prefix: Values) -> Values:
        """[tokens] cached keys of a `prefix`-token cached prefix that a prompt continuing it reads: all of them, a
        window's or top k's at most, or those of the chunk the prefix ends in (prefix mod chunk)."""
        p = np.asarray(prefix, float)
        keys = p - self.chunk_size * np.floor(p / self.chunk_size) if self.chunk_size else np.minimum(p, self.key_cap)
        return float(keys) if keys.ndim == 0 else keys

    def kept(self, context: float) -> float:
        """Tokens of a `context`-token sequence this layer's cache holds [tokens]."""
        return context if self.window is None else np.minimum(context, float(self.window))

    def kept_share(self, context: Values) -> Values:
        """Share of a `context`-token sequence's tokens this layer's cache holds, element by element of an array of
        contexts (so a batch of lengths prices each on its own); 1 without a window or for an empty context."""
        if self.window is None:
            return 1.0
        c = np.asarray(context, float)
        share = np.where(c > 0, np.minimum(c, float(self.window)) / np.where(c > 0, c, 1.0), 1.0)
        return float(share) if share.ndim == 0 else share

    def attended(self, context: float) -> float:
        """Keys one query's attention reads at a given context length [tokens] (sparse: the top k; chunked: those
        of its own chunk)."""
        return self.decode_keys(context)

    def score_flops_per_token(self, context: float) -> float:
        """[FLOP] of QK^T and PV for one query token against its keys: 2 x heads x (dqk + dv) x keys,
        plus the sparse indexer's 2 x index_heads x index_head_dim over every cached key."""
        flops = 2.0 * self.num_attention_heads * (self.qk_head_dim + self.value_head_dim) * self.attended(context)
        if self.dsa:
            flops = flops + 2.0 * self.index_heads * self.index_head_dim * self.kept(context)
        return flops

    def causal_score_flops_per_token(self, seq_len: float) -> float:
        """[FLOP] score_flops_per_token averaged over the tokens of a causal `seq_len`-token sequence, each query
        reading the keys up to itself: half the keys under full attention (L / 2), a sliding window's W - W^2 / 2L
        beyond it, ~C/2 under chunked attention, top k's k - k^2 / 2L (mean_keys over 0 .. L), the sparse indexer
        half of every key."""
        half = seq_len / 2.0
        flops = 2.0 * self.num_attention_heads * (self.qk_head_dim + self.value_head_dim) * self.decode_keys(half, half)
        if self.dsa:
            window = self.sliding_window or np.inf
            flops = flops + 2.0 * self.index_heads * self.index_head_dim * mean_keys(half, half, window=window)
        return flops


