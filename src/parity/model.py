"""Frozen description of a decoder-only LLM: layers of attention (GQA or MLA) and MLP (dense or MoE).

Counts are exact for the weights a checkpoint stores (matrices, biases, norms); parameters are a
count, FLOPs count a multiply-add as 2. Nothing here knows Hugging Face key names (see `hf`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from parity.dtypes import Format

__all__ = ["Attention", "DenseMlp", "MoeMlp", "Layer", "Model", "Matrix"]


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


@dataclass(frozen=True, slots=True, kw_only=True)
class Attention:
    """Self-attention of one layer.

    GQA (Llama, Qwen, Mixtral, gpt-oss): num_key_value_heads K/V heads of head_dim shared by groups of
    query heads. MLA (DeepSeek-V2/V3, Kimi-K2) when kv_lora_rank is set: the cache holds one latent of
    kv_lora_rank plus a decoupled RoPE key of qk_rope_head_dim per token (DeepSeek-V2 paper, Sec. 2.1).
    sliding_window: tokens a query sees (None = all); sinks: one learned logit per head (gpt-oss).
    """

    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    qkv_bias: bool = False
    o_bias: bool = False
    qk_norm: bool = False
    sliding_window: int | None = None
    sinks: bool = False
    q_lora_rank: int | None = None
    kv_lora_rank: int | None = None
    qk_nope_head_dim: int = 0
    qk_rope_head_dim: int = 0
    v_head_dim: int = 0

    def __post_init__(self) -> None:
        for name in ("num_attention_heads", "num_key_value_heads", "head_dim"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError(f"num_key_value_heads ({self.num_key_value_heads}) must divide "
                             f"num_attention_heads ({self.num_attention_heads})")
        if self.sliding_window is not None and self.sliding_window < 1:
            raise ValueError(f"sliding_window must be >= 1 or None, got {self.sliding_window}")

    @property
    def mla(self) -> bool:
        return self.kv_lora_rank is not None

    @property
    def qk_head_dim(self) -> int:
        """Width of one query/key head [elements] (MLA: nope + rope parts)."""
        return self.qk_nope_head_dim + self.qk_rope_head_dim if self.mla else self.head_dim

    @property
    def value_head_dim(self) -> int:
        return self.v_head_dim if self.mla else self.head_dim

    def matrices(self, hidden_size: int) -> tuple[Matrix, ...]:
        h, heads = hidden_size, self.num_attention_heads
        if self.mla:
            assert self.kv_lora_rank is not None
            q = ((Matrix(name="q_a", rows=h, cols=self.q_lora_rank),
                  Matrix(name="q_b", rows=self.q_lora_rank, cols=heads * self.qk_head_dim))
                 if self.q_lora_rank else (Matrix(name="q", rows=h, cols=heads * self.qk_head_dim),))
            return (*q,
                    Matrix(name="kv_a", rows=h, cols=self.kv_lora_rank + self.qk_rope_head_dim),
                    Matrix(name="kv_b", rows=self.kv_lora_rank,
                           cols=heads * (self.qk_nope_head_dim + self.v_head_dim)),
                    Matrix(name="o", rows=heads * self.v_head_dim, cols=h))
        kv = self.num_key_value_heads * self.head_dim
        return (Matrix(name="qkv", rows=h, cols=heads * self.head_dim + 2 * kv),
                Matrix(name="o", rows=heads * self.head_dim, cols=h))

    def vector_parameters(self, hidden_size: int) -> int:
        """Biases, norms and sinks of the attention block (not matrices)."""
        count = 0
        if self.qkv_bias:
            count += (self.num_attention_heads + 2 * self.num_key_value_heads) * self.head_dim
        if self.o_bias:
            count += hidden_size
        if self.qk_norm:
            count += 2 * self.head_dim
        if self.sinks:
            count += self.num_attention_heads
        if self.mla:
            count += (self.q_lora_rank or 0) + (self.kv_lora_rank or 0)  # latent RMSNorms
        return count

    @property
    def kv_elements_per_token(self) -> int:
        """Elements one token adds to this layer's cache: 2 x kv_heads x head_dim, or MLA's latent + rope key."""
        if self.mla:
            assert self.kv_lora_rank is not None
            return self.kv_lora_rank + self.qk_rope_head_dim
        return 2 * self.num_key_value_heads * self.head_dim

    def attended(self, context: float) -> float:
        """Keys one query attends to at a given context length [tokens]."""
        return context if self.sliding_window is None else min(context, float(self.sliding_window))

    def score_flops_per_token(self, context: float) -> float:
        """[FLOP] of QK^T and PV for one query token against `context` keys: 2 x heads x (dqk + dv) x keys."""
        return 2.0 * self.num_attention_heads * (self.qk_head_dim + self.value_head_dim) * self.attended(context)


@dataclass(frozen=True, slots=True, kw_only=True)
class DenseMlp:
    """A feed-forward block; gated (SwiGLU: gate, up, down) unless gated=False."""

    intermediate_size: int
    gated: bool = True
    bias: bool = False

    def matrices(self, hidden_size: int) -> tuple[Matrix, ...]:
        up = (2 if self.gated else 1) * self.intermediate_size
        return (Matrix(name="up", rows=hidden_size, cols=up),
                Matrix(name="down", rows=self.intermediate_size, cols=hidden_size))

    def vector_parameters(self, hidden_size: int) -> int:
        return ((2 if self.gated else 1) * self.intermediate_size + hidden_size) if self.bias else 0


@dataclass(frozen=True, slots=True, kw_only=True)
class MoeMlp:
    """Mixture of experts: a router picks experts_per_token of num_experts; shared experts always run."""

    num_experts: int
    experts_per_token: int
    expert_intermediate_size: int
    num_shared_experts: int = 0
    shared_intermediate_size: int = 0
    gated: bool = True
    expert_bias: bool = False
    router_bias: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.experts_per_token <= self.num_experts:
            raise ValueError(f"experts_per_token must be in [1, num_experts={self.num_experts}], "
                             f"got {self.experts_per_token}")

    def matrices(self, hidden_size: int) -> tuple[Matrix, ...]:
        g = 2 if self.gated else 1
        out = [Matrix(name="router", rows=hidden_size, cols=self.num_experts),
               Matrix(name="expert_up", rows=hidden_size, cols=g * self.expert_intermediate_size,
                      copies=self.num_experts, expert=True),
               Matrix(name="expert_down", rows=self.expert_intermediate_size, cols=hidden_size,
                      copies=self.num_experts, expert=True)]
        if self.num_shared_experts:
            out += [Matrix(name="shared_up", rows=hidden_size, cols=g * self.shared_intermediate_size),
                    Matrix(name="shared_down", rows=self.shared_intermediate_size, cols=hidden_size)]
        return tuple(out)

    def vector_parameters(self, hidden_size: int) -> int:
        g = 2 if self.gated else 1
        count = self.num_experts if self.router_bias else 0
        if self.expert_bias:
            count += self.num_experts * (g * self.expert_intermediate_size + hidden_size)
        return count


@dataclass(frozen=True, slots=True, kw_only=True)
class Layer:
    """`count` consecutive identical decoder layers (pre-norm: two RMSNorms of hidden_size each)."""

    attention: Attention
    mlp: DenseMlp | MoeMlp
    count: int = 1

    @property
    def moe(self) -> bool:
        return isinstance(self.mlp, MoeMlp)

    def matrices(self, hidden_size: int) -> tuple[Matrix, ...]:
        return self.attention.matrices(hidden_size) + self.mlp.matrices(hidden_size)

    def parameters(self, hidden_size: int) -> int:
        """Weights of one such layer: matrices, biases and norms."""
        return (sum(m.parameters for m in self.matrices(hidden_size)) + 2 * hidden_size
                + self.attention.vector_parameters(hidden_size) + self.mlp.vector_parameters(hidden_size))

    def active_parameters(self, hidden_size: int) -> int:
        """Weights one token touches: routed experts count experts_per_token times, not num_experts."""
        total = self.parameters(hidden_size)
        if isinstance(self.mlp, MoeMlp):
            mlp = self.mlp
            per_expert = sum(m.rows * m.cols for m in mlp.matrices(hidden_size) if m.expert)
            total -= (mlp.num_experts - mlp.experts_per_token) * per_expert
            if mlp.expert_bias:
                g = 2 if mlp.gated else 1
                total -= (mlp.num_experts - mlp.experts_per_token) * (g * mlp.expert_intermediate_size + hidden_size)
        return total


@dataclass(frozen=True, slots=True, kw_only=True)
class Model:
    """A decoder-only transformer.

    layers: groups of identical layers in order; mtp_layers: DeepSeek's multi-token-prediction modules,
    counted apart from the main model (each adds a layer, two norms and a 2h x h projection; the
    embedding and head are shared with the main model).
    weight_format, expert_weight_format: the checkpoint's own formats of its dense and routed-expert
    matrices (e.g. fp8_block, mxfp4); a scenario may choose others.
    """

    name: str
    hidden_size: int
    vocab_size: int
    layers: tuple[Layer, ...]
    tie_word_embeddings: bool = False
    mtp_layers: tuple[Layer, ...] = ()
    max_position_embeddings: int = 0
    weight_format: str = "bf16"
    expert_weight_format: str = "bf16"
    source: str = ""
    architecture: str = ""
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.hidden_size < 1 or self.vocab_size < 1:
            raise ValueError(f"hidden_size and vocab_size must be >= 1, got {self.hidden_size}, {self.vocab_size}")
        if not self.layers:
            raise ValueError("a model needs at least one layer")

    @property
    def num_layers(self) -> int:
        return sum(layer.count for layer in self.layers)

    @property
    def features(self) -> frozenset[str]:
        """Architecture features the engine branches on: moe, mla, sliding_window, qk_norm, mtp, sinks."""
        found = set()
        for layer in self.layers:
            found |= {name for name, on in (("moe", layer.moe), ("mla", layer.attention.mla),
                                             ("sliding_window", layer.attention.sliding_window is not None),
                                             ("qk_norm", layer.attention.qk_norm), ("sinks", layer.attention.sinks))
                      if on}
        if self.mtp_layers:
            found.add("mtp")
        return frozenset(found)

    @property
    def embedding_parameters(self) -> int:
        return self.vocab_size * self.hidden_size

    @property
    def head_parameters(self) -> int:
        """The output projection (LM head); zero extra when tied to the embedding."""
        return 0 if self.tie_word_embeddings else self.vocab_size * self.hidden_size

    @property
    def parameters(self) -> int:
        """All weights of the main model (embedding, layers, final norm, head), MTP modules excluded."""
        return (self.embedding_parameters + self.head_parameters + self.hidden_size
                + sum(layer.count * layer.parameters(self.hidden_size) for layer in self.layers))

    @property
    def mtp_parameters(self) -> int:
        """Weights of the MTP modules not shared with the main model."""
        h = self.hidden_size
        return sum(layer.count * (layer.parameters(h) + 3 * h + 2 * h * h) for layer in self.mtp_layers)

    @property
    def active_parameters(self) -> int:
        """Weights one token uses, counting both the embedding row table and the head (as the issue's
        ~37.5 B for DeepSeek-V3 does)."""
        return (self.embedding_parameters + self.head_parameters + self.hidden_size
                + sum(layer.count * layer.active_parameters(self.hidden_size) for layer in self.layers))

    @property
    def expert_parameters(self) -> int:
        """Weights of routed experts (the part expert parallelism splits)."""
        return sum(layer.count * m.parameters for layer in self.layers
                   for m in layer.matrices(self.hidden_size) if m.expert)

    def kv_elements_per_token(self, context: float | None = None) -> float:
        """Cache elements one token keeps over all layers. With `context`, sliding-window layers keep
        only their window, so the average per token of a context is returned."""
        total = 0.0
        for layer in self.layers:
            elements = layer.attention.kv_elements_per_token
            if context and layer.attention.sliding_window is not None:
                elements *= layer.attention.attended(context) / context
            total += layer.count * elements
        return total

    def kv_cache_bytes_per_token(self, fmt: Format, context: float | None = None) -> float:
        """[B] of KV cache per token in a format (sliding windows averaged over `context` if given)."""
        return self.kv_elements_per_token(context) * fmt.bytes_per_element

    def matmul_flops_per_token(self) -> float:
        """[FLOP] of weight matmuls for one token: 2 x active matrix weights, head included, embedding
        lookup excluded (Kaplan et al. 2020, Sec. 2.1: C_forward ~ 2N)."""
        h = self.hidden_size
        total = 2.0 * self.vocab_size * h  # LM head (also when tied: the product still happens)
        for layer in self.layers:
            for m in layer.matrices(h):
                copies = m.copies
                if m.expert and isinstance(layer.mlp, MoeMlp):
                    copies = layer.mlp.experts_per_token
                total += layer.count * 2.0 * m.rows * m.cols * copies
        return total

    def attention_flops_per_token(self, context: float) -> float:
        """[FLOP] of attention scores and values for one token that sees `context` earlier tokens."""
        return sum(layer.count * layer.attention.score_flops_per_token(context) for layer in self.layers)

    def flops_per_token(self, context: float) -> float:
        """[FLOP] of one forward token at a given context: matmuls plus attention (PaLM, App. B)."""
        return self.matmul_flops_per_token() + self.attention_flops_per_token(context)
