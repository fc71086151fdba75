"""Recurrent token mixers: Gated DeltaNet and lightning linear attention, and Mamba2 state-space layers.

Each keeps a fixed state per sequence (no KV cache) and costs the same FLOPs per token at any context.
Parameters are a count; FLOPs count a multiply-add as 2.
"""

from __future__ import annotations

from dataclasses import dataclass

from parity.dtypes import format_named
from parity.model.mixers import Attention, Matrix, positive

__all__ = ["Recurrent", "LinearAttention", "LightningAttention", "Mamba", "Mixer"]


class Recurrent:
    """What every recurrent mixer answers the same way: no KV cache, no window, no MLA or sparse indexer,
    and the attention-only options off (the names plan and training read off any mixer)."""

    __slots__ = ()
    kind = ""
    mla = False
    dsa = False
    sliding_window = None
    chunk_size = None
    window = None
    sinks = False
    qk_norm = False
    q_lora_rank = None
    kv_lora_rank = None
    qk_rope_head_dim = 0
    kv_elements_per_token = 0

    def kept(self, context: float) -> float:
        """Tokens of the context held in a cache: none [tokens]."""
        return 0.0 * context

    def attended(self, context: float) -> float:
        return 0.0 * context


@dataclass(frozen=True, slots=True, kw_only=True)
class LinearAttention(Recurrent):
    """Gated DeltaNet linear attention (Yang et al. 2024, arXiv 2412.06464; Qwen3-Next, Qwen3.5).

    Projections: q and k of num_key_heads x key_head_dim, v and the output gate z of num_value_heads x
    value_head_dim, and per value head a decay a and a write strength b; a depthwise causal convolution of
    conv_kernel taps over q, k and v; an RMSNorm of value_head_dim on the output. The state per sequence
    is one key_head_dim x value_head_dim matrix per value head (in state_format) plus the last
    conv_kernel - 1 inputs of the convolution: no KV cache, nothing grows with the context.
    """

    num_key_heads: int
    num_value_heads: int
    key_head_dim: int
    value_head_dim: int
    conv_kernel: int
    state_format: str = "bf16"

    def __post_init__(self) -> None:
        positive(self, ("num_key_heads", "num_value_heads", "key_head_dim", "value_head_dim", "conv_kernel"))
        if self.num_value_heads % self.num_key_heads:
            raise ValueError(f"linear_num_key_heads ({self.num_key_heads}) must divide "
                             f"linear_num_value_heads ({self.num_value_heads})")
        format_named(self.state_format)

    kind = "gated_deltanet"

    # the names tensor parallelism and training use: value heads split like query heads
    @property
    def num_attention_heads(self) -> int:
        return self.num_value_heads

    @property
    def num_key_value_heads(self) -> int:
        return self.num_key_heads

    @property
    def head_dim(self) -> int:
        return self.key_head_dim

    @property
    def qk_head_dim(self) -> int:
        return self.key_head_dim

    @property
    def key_dim(self) -> int:
        return self.num_key_heads * self.key_head_dim

    @property
    def value_dim(self) -> int:
        return self.num_value_heads * self.value_head_dim

    @property
    def conv_dim(self) -> int:
        """Channels of the convolution: q, k and v [elements]."""
        return 2 * self.key_dim + self.value_dim

    def matrices(self, hidden_size: int) -> tuple[Matrix, ...]:
        h = hidden_size
        return (Matrix(name="qkvz", rows=h, cols=2 * self.key_dim + 2 * self.value_dim),
                Matrix(name="ab", rows=h, cols=2 * self.num_value_heads),
                Matrix(name="o", rows=self.value_dim, cols=h))

    def vector_parameters(self, hidden_size: int) -> int:
        """Convolution taps, per-head decay and step bias, the output RMSNorm."""
        return self.conv_dim * self.conv_kernel + 2 * self.num_value_heads + self.value_head_dim

    @property
    def state_elements_per_sequence(self) -> int:
        """Recurrent state (heads x dk x dv) plus the convolution's last kernel - 1 inputs."""
        return self.num_value_heads * self.key_head_dim * self.value_head_dim + self.conv_dim * (self.conv_kernel - 1)

    def state_bytes_per_sequence(self) -> float:
        """[B] of state: the recurrent matrices in state_format, the conv window in 16-bit."""
        ssm = self.num_value_heads * self.key_head_dim * self.value_head_dim
        return ssm * format_named(self.state_format).bytes_per_element + 2.0 * self.conv_dim * (self.conv_kernel - 1)

    def score_flops_per_token(self, context: float) -> float:
        """[FLOP] of one token's recurrence, the same at any context: per value head the delta rule
        S <- a S + b k (v - S^T k)^T and the read-out S^T q touch the dk x dv state about four times
        (S^T k, the rank-1 update, the decay, S^T q: 8 dk dv), plus the convolution (2 x channels x taps)."""
        return (8.0 * self.num_value_heads * self.key_head_dim * self.value_head_dim
                + 2.0 * self.conv_dim * self.conv_kernel + 0.0 * context)


@dataclass(frozen=True, slots=True, kw_only=True)
class Mamba(Recurrent):
    """A Mamba2 state-space mixer (Dao and Gu 2024, arXiv 2405.21060; Nemotron-H, Falcon-H1, Granite 4).

    in_proj gives x (num_heads x head_dim), the gate z (same width), B and C (n_groups x state_size each)
    and one step size per head; a depthwise convolution of conv_kernel taps runs over x, B and C; out_proj
    maps num_heads x head_dim back. State per sequence: num_heads x head_dim x state_size (state_format)
    plus the convolution's last conv_kernel - 1 inputs.
    """

    num_heads: int
    head_dim: int
    state_size: int
    n_groups: int
    conv_kernel: int
    conv_bias: bool = True
    proj_bias: bool = False
    state_format: str = "bf16"

    def __post_init__(self) -> None:
        positive(self, ("num_heads", "head_dim", "state_size", "n_groups", "conv_kernel"))
        if self.num_heads % self.n_groups:
            raise ValueError(f"n_groups ({self.n_groups}) must divide mamba_num_heads ({self.num_heads})")
        format_named(self.state_format)

    kind = "mamba2"

    @property
    def num_attention_heads(self) -> int:
        return self.num_heads

    @property
    def num_key_value_heads(self) -> int:
        return self.n_groups

    @property
    def qk_head_dim(self) -> int:
        return self.state_size

    @property
    def value_head_dim(self) -> int:
        return self.head_dim

    @property
    def inner_size(self) -> int:
        return self.num_heads * self.head_dim

    @property
    def conv_dim(self) -> int:
        return self.inner_size + 2 * self.n_groups * self.state_size

    def matrices(self, hidden_size: int) -> tuple[Matrix, ...]:
        h = hidden_size
        return (Matrix(name="in_proj", rows=h, cols=self.inner_size + self.conv_dim + self.num_heads),
                Matrix(name="o", rows=self.inner_size, cols=h))

    def vector_parameters(self, hidden_size: int) -> int:
        """Convolution taps (and biases), dt bias, A and D per head, the gated RMSNorm, projection biases."""
        count = self.conv_dim * (self.conv_kernel + (1 if self.conv_bias else 0)) + 3 * self.num_heads + self.inner_size
        if self.proj_bias:
            count += self.inner_size + self.conv_dim + self.num_heads + hidden_size
        return count

    @property
    def state_elements_per_sequence(self) -> int:
        return self.num_heads * self.head_dim * self.state_size + self.conv_dim * (self.conv_kernel - 1)

    def state_bytes_per_sequence(self) -> float:
        """[B] of state: the SSM state in state_format, the conv window in 16-bit."""
        ssm = self.num_heads * self.head_dim * self.state_size
        return ssm * format_named(self.state_format).bytes_per_element + 2.0 * self.conv_dim * (self.conv_kernel - 1)

    def score_flops_per_token(self, context: float) -> float:
        """[FLOP] of one token's scan step, the same at any context: h <- exp(dt A) h + dt B x (3 per
        state element) and y = C h (2 per state element) over heads x head_dim x state_size, about 6 per
        element with the gate, plus the convolution (2 x channels x taps)."""
        return 6.0 * self.num_heads * self.head_dim * self.state_size + 2.0 * self.conv_dim * self.conv_kernel + 0.0 * context


@dataclass(frozen=True, slots=True, kw_only=True)
class LightningAttention(Recurrent):
    """Lightning attention, MiniMax-01's linear attention (MiniMax 2025, arXiv 2501.08313, Sec. 2.2).

    q, k, v of num_heads x head_dim each from one projection, a sigmoid output gate of the same width, an
    RMSNorm over the heads' output and the output projection; each head keeps a head_dim x head_dim state
    decayed by a fixed per-head rate (no weights), so nothing grows with the context.
    """

    num_heads: int
    head_dim: int
    state_format: str = "bf16"

    def __post_init__(self) -> None:
        positive(self, ("num_heads", "head_dim"))
        format_named(self.state_format)

    kind = "lightning"

    @property
    def num_attention_heads(self) -> int:
        return self.num_heads

    @property
    def num_key_value_heads(self) -> int:
        return self.num_heads

    @property
    def qk_head_dim(self) -> int:
        return self.head_dim

    @property
    def value_head_dim(self) -> int:
        return self.head_dim

    def matrices(self, hidden_size: int) -> tuple[Matrix, ...]:
        width = self.num_heads * self.head_dim
        return (Matrix(name="qkv", rows=hidden_size, cols=3 * width),
                Matrix(name="gate", rows=hidden_size, cols=width),
                Matrix(name="o", rows=width, cols=hidden_size))

    def vector_parameters(self, hidden_size: int) -> int:
        return self.num_heads * self.head_dim  # the output RMSNorm

    @property
    def state_elements_per_sequence(self) -> int:
        return self.num_heads * self.head_dim * self.head_dim

    def state_bytes_per_sequence(self) -> float:
        return self.state_elements_per_sequence * format_named(self.state_format).bytes_per_element

    def score_flops_per_token(self, context: float) -> float:
        """[FLOP] of one token's recurrence at any context: the decay (1 per state element), the k^T v update
        (2) and the read-out q S (2) over heads x head_dim^2."""
        return 5.0 * self.num_heads * self.head_dim * self.head_dim + 0.0 * context


Mixer = Attention | LinearAttention | LightningAttention | Mamba
