"""The model as logical ops for one forward step of a batch (before any sharding).

Per layer: projections, the token mixer (GQA, or MLA with absorbed weights in decode as FlashMLA
runs it, or unabsorbed where the deployment says so, a sparse-attention indexer, or a linear-attention / Mamba2 recurrence that reads and writes
its fixed state once per step), the MLP (dense or routed experts plus shared experts) and the
memory-bound glue; then the LM head. Expert GEMMs carry the routed token count (tokens x experts_per_token); `plan`
spreads them over expert-parallel ranks.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from parity.engine import MLA_DECODE
from parity.model import Attention as AttentionSpec
from parity.model import causal_pairs
from parity.model import DenseMlp, Layer, LightningAttention, LinearAttention, Mamba, Model, MoeMlp
from parity.ops import Attention, Batch, Gemm, Num, Stream

__all__ = ["LayerOps", "forward", "prefill_attention_pairs", "MLA_DECODE"]


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerOps:
    """The ops of `count` identical layers (or of the head when count is 1 and layer is None)."""

    count: int
    ops: tuple[Gemm | Attention | Stream, ...]
    layer: Layer | None = None


def prefill_attention_pairs(tokens: Num, sequences: Num, prefix: Num, window: int | None = None,
                            chunk: int | None = None) -> Num:
    """(query, key) pairs of causal attention for `tokens` new tokens in `sequences` prompts whose first `prefix`
    tokens are cached: per prompt L = tokens/sequences queries, L*prefix + L(L+1)/2 pairs, or under a sliding
    `window` W each query's keys capped at W (the first W - prefix queries see all theirs, the rest W each), or under
    chunked local attention of `chunk` C only the keys before a query in its own chunk (model.causal_pairs)."""
    per_seq = np.where(sequences > 0, tokens / np.maximum(sequences, 1e-9), 0.0)
    pairs = causal_pairs(prefix, per_seq, window=np.inf if window is None else float(window),
                         chunk=np.inf if chunk is None else float(chunk))
    return sequences * pairs


def _recurrent_ops(spec: LinearAttention | LightningAttention | Mamba, hidden: int, batch: Batch) -> list[Gemm | Attention | Stream]:
    """Linear attention or Mamba2: projections as GEMMs, the recurrence (its FLOPs the same at any context)
    reading and writing each sequence's state once per step (decode) or per prompt chunk (prefill)."""
    t = batch.tokens
    in_proj, *rest, out = spec.matrices(hidden)
    ops: list[Gemm | Attention | Stream] = [
        Gemm(name=m.name, tokens=t, rows=m.rows, cols=m.cols, split="column", role="attention")
        for m in (in_proj, *rest)]
    heads = spec.num_attention_heads
    per_head_flops = spec.score_flops_per_token(0.0) / heads
    state = 2.0 * spec.state_bytes_per_sequence() / heads  # read and written back
    ops += [Attention(name="recurrence_decode", phase="decode", heads=heads, kv_heads=heads,
                      flops_per_head=per_head_flops * batch.decode_queries, kv_bytes_per_kv_head=0.0,
                      queries=batch.decode_queries, state_bytes_per_kv_head=state * batch.decode_tokens),
            Attention(name="recurrence_prefill", phase="prefill", heads=heads, kv_heads=heads,
                      flops_per_head=per_head_flops * batch.prefill_tokens, kv_bytes_per_kv_head=0.0,
                      queries=batch.prefill_tokens, state_bytes_per_kv_head=state * batch.prefill_sequences),
            Gemm(name="o", tokens=t, rows=out.rows, cols=out.cols, split="row", role="attention"),
            Stream(name="norms_residual", bytes=8.0 * 2.0 * t * hidden)]
    return ops


def _indexer_ops(spec: AttentionSpec, batch: Batch) -> list[Gemm | Attention | Stream]:
    """DeepSeek Sparse Attention's lightning indexer: every query scores every cached key with
    index_heads heads of index_head_dim (2 x heads x dim FLOPs per pair) reading each key's
    FP8 cache entry (index_key_bytes_per_token, whatever the KV format) once (DeepSeek-V3.2-Exp report, Sec. 2.1).
    Its logits run in FP8 (the report's FP8 indexer; DeepGEMM's fp8_mqa_logits, which SGLang and vLLM call) where the
    KV cache is FP8 (in_kv_format, as MLA's prompt attention), else in the attention format (a chip without FP8)."""
    d, entry = spec.index_head_dim, spec.index_key_bytes_per_token
    decode_keys = batch.decode_tokens * batch.decode_context
    prefill_pairs = prefill_attention_pairs(batch.prefill_tokens, batch.prefill_sequences, batch.prefill_context, None)
    prefill_keys = batch.prefill_sequences * batch.prefill_context + batch.prefill_tokens
    return [Attention(name="indexer_decode", phase="decode", heads=spec.index_heads, kv_heads=1,
                      flops_per_head=2.0 * d * decode_keys * batch.decode_width, kv_bytes_per_kv_head=0.0,
                      fp8_key_bytes_per_kv_head=decode_keys * entry, queries=batch.decode_queries, latent=True,
                      in_kv_format=True),
            Attention(name="indexer_prefill", phase="prefill", heads=spec.index_heads, kv_heads=1,
                      flops_per_head=2.0 * d * prefill_pairs, kv_bytes_per_kv_head=0.0,
                      fp8_key_bytes_per_kv_head=prefill_keys * entry, queries=batch.prefill_tokens, latent=True,
                      in_kv_format=True)]


def _absorbed_decode(spec: AttentionSpec, batch: Batch, decode_keys: Num, decode_pairs: Num) -> list[Gemm | Attention]:
    """MLA decode in the latent space: the query through W_UK per head, MQA over each key's 576-wide latent
    (scores over lora + rope, values over lora), the output back through W_UV per head."""
    assert spec.kv_lora_rank is not None
    lora, rope, nope, v = spec.kv_lora_rank, spec.qk_rope_head_dim, spec.qk_nope_head_dim, spec.v_head_dim
    heads = spec.num_attention_heads
    return [Gemm(name="q_absorb", tokens=batch.decode_queries, rows=nope, cols=lora, copies=heads,
                 split="column", role="attention", per_head=True, matrix="kv_b"),
            Attention(name="mla_decode", phase="decode", heads=heads, kv_heads=1,
                      flops_per_head=2.0 * (lora + rope + lora) * decode_pairs,
                      kv_bytes_per_kv_head=decode_keys * (lora + rope), queries=batch.decode_queries,
                      latent=True, fp8_record_bytes_per_element=spec.fp8_record_bytes_per_element),
            Gemm(name="v_absorb", tokens=batch.decode_queries, rows=lora, cols=v, copies=heads, split="column",
                 role="attention", per_head=True, matrix="kv_b")]


def _unabsorbed_decode(spec: AttentionSpec, batch: Batch, decode_keys: Num,
                       decode_pairs: Num) -> list[Gemm | Attention]:
    """MLA decode as multi-head attention: each step kv_b expands every cached key's latent to per-head K
    (nope) and V (v) (a GEMM over the keys, reading the latents and writing the expanded K/V), then each head
    attends over nope + rope wide keys and v wide values; the expanded K/V are read in the KV-cache format."""
    assert spec.kv_lora_rank is not None
    lora, rope, nope, v = spec.kv_lora_rank, spec.qk_rope_head_dim, spec.qk_nope_head_dim, spec.v_head_dim
    heads = spec.num_attention_heads
    return [Gemm(name="kv_b_decode", tokens=decode_keys, rows=lora, cols=heads * (nope + v), split="column",
                 role="attention", matrix="kv_b"),
            Attention(name="mla_decode_unabsorbed", phase="decode", heads=heads, kv_heads=heads,
                      flops_per_head=2.0 * (nope + rope + v) * decode_pairs,
                      kv_bytes_per_kv_head=decode_keys * (nope + rope + v), queries=batch.decode_queries)]


def _mla_prompt_passes(spec: AttentionSpec, queries: Num, keys: Num) -> list[Stream]:
    """The memory passes of MLA's prompt path beside its flash attention, for `queries` prompt tokens against
    `keys` expanded keys (prompt and cached prefix), one launch each.

    Rotary and concatenation in 16-bit: each query head's rotary part read and written, each key head built from
    its expanded no-position part and the latent's shared rotary key (TensorRT-LLM's MLA context preprocessing,
    SGLang's and vLLM's torch.cat of k_nope and the broadcast k_pe), and the attention output written. With a
    narrower (FP8) KV cache the engines run the prompt's flash attention in that format and first cast every
    query, key and value head to it (split "heads_kv_cast"). Per head: 2 x 64 x 2 + 128 x 2 = 512 B a query,
    (128 + 192) x 2 = 640 B a key, 192 + 192 + 128 elements cast; 1,152 B a prompt token in 16-bit, 2,688 B in FP8.
    aiconfigurator's timings of these context-MLA operators (TensorRT-LLM 1.2.0rc5 and 1.3.0rc10 on H100, H200,
    B200, B300, GB200; data/measurements/aiconfigurator_context_mla.json) take 0.22-0.35 ns a prompt token and head
    beyond their attention math with a 16-bit cache and 0.49-0.89 ns with an FP8 one: 1.1-1.7 kB and 2.7-3.4 kB at
    parity's calibrated streaming rates, the flash attention's own reads of its inputs included."""
    rope, nope, v = spec.qk_rope_head_dim, spec.qk_nope_head_dim, spec.v_head_dim
    heads = spec.num_attention_heads
    per_query, per_key = 2 * 2.0 * rope + 2.0 * v, 2.0 * (nope + nope + rope)
    return [Stream(name="mla_prefill_rope", bytes=heads * (per_query * queries + per_key * keys), split="heads",
                   fused=False),
            Stream(name="mla_prefill_cast", bytes=heads * ((nope + rope) * queries + (nope + rope + v) * keys),
                   split="heads_kv_cast", fused=False)]


def _attention_ops(spec: AttentionSpec, hidden: int, batch: Batch,
                   mla_decode: str = "absorbed") -> list[Gemm | Attention | Stream]:
    t = batch.tokens
    heads = spec.num_attention_heads
    ops: list[Gemm | Attention | Stream] = []
    # keys one query reads: a window caps them, a chunked query reads only its own chunk's, and sparse attention
    # only its top k (Attention.decode_keys, on average over the contexts the batch's mean stands for)
    # (query, key) pairs of the decode tokens: each sequence's KV cache is read once per step, and
    # every one of its `decode_width` tokens attends to it
    decode_keys = batch.decode_tokens * spec.decode_keys(batch.decode_context, batch.decode_context_spread)
    decode_pairs = decode_keys * batch.decode_width
    per_prompt = np.where(batch.prefill_sequences > 0,
                          batch.prefill_tokens / np.maximum(batch.prefill_sequences, 1e-9), 0.0)
    prefill_pairs = batch.prefill_sequences * spec.prompt_pairs(batch.prefill_context, per_prompt)
    # keys whose cache is read by prefill chunks (the cached prefix, once per prompt)
    prefill_cached_keys = batch.prefill_sequences * spec.cached_keys_read(batch.prefill_context)
    if spec.dsa:
        ops += _indexer_ops(spec, batch)
    if spec.mla:
        assert spec.kv_lora_rank is not None
        lora, rope, nope, v = spec.kv_lora_rank, spec.qk_rope_head_dim, spec.qk_nope_head_dim, spec.v_head_dim
        if spec.q_lora_rank:
            ops += [Gemm(name="q_a", tokens=t, rows=hidden, cols=spec.q_lora_rank, split="replicated",
                         role="attention"),
                    Gemm(name="q_b", tokens=t, rows=spec.q_lora_rank, cols=heads * (nope + rope), split="column",
                         role="attention")]
        else:
            ops.append(Gemm(name="q", tokens=t, rows=hidden, cols=heads * (nope + rope), split="column",
                            role="attention"))
        # engines concatenate the q and kv down-projections into one GEMM (TensorRT-LLM's fused_a,
        # SGLang's fused_qkv_a_proj_with_mqa), so kv_a costs its bytes but no launch of its own
        ops.append(Gemm(name="kv_a", tokens=t, rows=hidden, cols=lora + rope, split="replicated", role="attention",
                        fused=spec.q_lora_rank is not None))
        if mla_decode == "unabsorbed":
            ops += _unabsorbed_decode(spec, batch, decode_keys, decode_pairs)
        else:
            # decode: absorb W_UK into the query and W_UV into the output (DeepSeek-V2 Sec. 2.1.2), so
            # attention runs in the latent space (MQA with 576-wide keys, 512-wide values)
            ops += _absorbed_decode(spec, batch, decode_keys, decode_pairs)
        # prefill: expand the latent of prompt (and cached prefix) tokens to per-head K and V
        expanded = batch.prefill_tokens + prefill_cached_keys
        ops += [Gemm(name="kv_b", tokens=expanded, rows=lora, cols=heads * (nope + v), split="column",
                     role="attention"),
                *_mla_prompt_passes(spec, batch.prefill_tokens, expanded),
                Attention(name="mla_prefill", phase="prefill", heads=heads, kv_heads=heads,
                          flops_per_head=2.0 * (nope + rope + v) * prefill_pairs,
                          kv_bytes_per_kv_head=prefill_cached_keys * (lora + rope) / heads,
                          queries=batch.prefill_tokens, head_dim=nope + rope, in_kv_format=True,
                          fp8_record_bytes_per_element=spec.fp8_record_bytes_per_element)]
        ops.append(Gemm(name="o", tokens=t, rows=heads * v, cols=hidden, split="row", role="attention"))
    else:
        d, dv, kv = spec.head_dim, spec.value_head_dim, spec.num_key_value_heads
        qkv, o = spec.matrices(hidden)[:2]
        ops.append(Gemm(name="qkv", tokens=t, rows=hidden, cols=qkv.cols, split="column", role="attention",
                        kv_cols=kv * (d + dv), num_key_value_heads=kv))
        ops.append(Attention(name="attention_decode", phase="decode", heads=heads, kv_heads=kv,
                             flops_per_head=2.0 * (d + dv) * decode_pairs, kv_bytes_per_kv_head=(d + dv) * decode_keys,
                             queries=batch.decode_queries))
        ops.append(Attention(name="attention_prefill", phase="prefill", heads=heads, kv_heads=kv,
                             flops_per_head=2.0 * (d + dv) * prefill_pairs,
                             kv_bytes_per_kv_head=(d + dv) * (prefill_cached_keys + batch.prefill_tokens),
                             queries=batch.prefill_tokens, head_dim=d))
        ops.append(Gemm(name="o", tokens=t, rows=o.rows, cols=hidden, split="row", role="attention"))
    if spec.dsa:  # the indexer's own projections (its query from the query latent)
        ops += [Gemm(name=m.name, tokens=t, rows=m.rows, cols=m.cols, split="replicated", role="attention")
                for m in spec.matrices(hidden) if m.name.startswith("index_")]
    kv_write = t * spec.kv_elements_per_token
    # KV-cache write (elements; plan converts with the KV format) and activation glue: two RMSNorms,
    # rotary, residual adds: ~8 reads/writes of a hidden vector per token in 16-bit activations
    ops += [Stream(name="kv_write", bytes=kv_write, split="kv",
                   fp8_record_bytes_per_element=spec.fp8_record_bytes_per_element),
            Stream(name="norms_residual", bytes=8.0 * 2.0 * t * hidden)]
    if spec.dsa:  # the indexer's FP8 key, written whatever the KV format
        ops.append(Stream(name="index_key_write", bytes=t * spec.index_key_bytes_per_token))
    return ops


def _mlp_ops(mlp: DenseMlp | MoeMlp | None, hidden: int, batch: Batch) -> list[Gemm | Attention | Stream]:
    t = batch.tokens
    if mlp is None:
        return []
    g = 2 if mlp.gated else 1
    if isinstance(mlp, DenseMlp):
        return [Gemm(name="mlp_up", tokens=t, rows=hidden, cols=g * mlp.intermediate_size, split="column",
                     role="mlp", matrix="up"),
                Gemm(name="mlp_down", tokens=t, rows=mlp.intermediate_size, cols=hidden, split="row", role="mlp",
                     matrix="down")]
    width = mlp.latent_size or hidden  # latent MoE: experts (and their dispatch) work in the latent space
    ops: list[Gemm | Attention | Stream] = [
        Gemm(name="router", tokens=t, rows=hidden, cols=mlp.num_experts, split="replicated", role="router"),
        # tokens = routed assignments from this rank; copies = experts (plan spreads them over EP ranks)
        Gemm(name="expert_up", tokens=t * mlp.experts_per_token, rows=width, cols=g * mlp.expert_intermediate_size,
             copies=mlp.num_experts, split="expert_column", role="expert"),
        Gemm(name="expert_down", tokens=t * mlp.experts_per_token, rows=mlp.expert_intermediate_size, cols=width,
             copies=mlp.num_experts, split="expert_row", role="expert"),
        Stream(name="moe_permute", bytes=4.0 * 2.0 * t * mlp.experts_per_token * width, split="moe_tokens"),
    ]
    if mlp.latent_size:
        ops += [Gemm(name="latent_down", tokens=t, rows=hidden, cols=width, split="replicated", role="mlp"),
                Gemm(name="latent_up", tokens=t, rows=width, cols=hidden, split="replicated", role="mlp")]
    if mlp.num_shared_experts:
        ops += [Gemm(name="shared_up", tokens=t, rows=hidden, cols=g * mlp.shared_intermediate_size,
                     split="column", role="mlp"),
                Gemm(name="shared_down", tokens=t, rows=mlp.shared_intermediate_size, cols=hidden, split="row",
                     role="mlp")]
    return ops


def _mixer_ops(layer: Layer, hidden: int, batch: Batch, mla_decode: str) -> list[Gemm | Attention | Stream]:
    spec = layer.attention
    if spec is None:  # an MLP-only layer: its norm and residual add
        return [Stream(name="norms_residual", bytes=4.0 * 2.0 * batch.tokens * hidden)]
    if isinstance(spec, AttentionSpec):
        return _attention_ops(spec, hidden, batch, mla_decode)
    return _recurrent_ops(spec, hidden, batch)


def forward(model: Model, batch: Batch, mla_decode: str = "absorbed") -> tuple[LayerOps, ...]:
    """Logical ops of one forward step: each layer group, then the embedding and LM head (MLA decode as
    `mla_decode` says, one of MLA_DECODE)."""
    h = model.hidden_size
    # identical layers cost the same wherever they sit: one group each (gpt-oss alternates sliding-window and full
    # attention, 36 groups of one layer, priced as two)
    counts: dict[Layer, int] = {}
    for layer in model.layers:
        key = dataclasses.replace(layer, count=1)
        counts[key] = counts.get(key, 0) + layer.count
    groups = [LayerOps(count=n, layer=dataclasses.replace(layer, count=n),
                       ops=tuple(_mixer_ops(layer, h, batch, mla_decode) + _mlp_ops(layer.mlp, h, batch)))
              for layer, n in counts.items()]
    head = LayerOps(count=1, ops=(
        Stream(name="embedding", bytes=2.0 * 2.0 * batch.tokens * h, fused=False),
        Gemm(name="lm_head", tokens=batch.sequences, rows=h, cols=model.vocab_size, split="vocab", role="head"),
    ))
    return (*groups, head)
