"""A decoder layer (token mixer + MLP, either may be absent) and the model: groups of identical layers."""

from __future__ import annotations

from dataclasses import dataclass, field

from parity.dtypes import Format
from parity.flags import Flag
from parity.model.mixers import Attention, Matrix
from parity.model.recurrent import Mixer
from parity.model.mlp import DenseMlp, MoeMlp

__all__ = ["Layer", "Model"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Layer:
    """`count` consecutive identical decoder layers with `norms` RMSNorms of hidden_size each.

    attention: the token mixer (softmax attention, linear attention or Mamba2), None in an MLP-only
    layer; mlp: None in a mixer-only layer (Nemotron-H's blocks hold one of the two and one norm).
    """

    attention: Mixer | None
    mlp: DenseMlp | MoeMlp | None
    count: int = 1
    norms: int = 2

    def __post_init__(self) -> None:
        if self.attention is None and self.mlp is None:
            raise ValueError("a layer needs a token mixer or an MLP")
        if self.count < 1:
            raise ValueError(f"count must be >= 1, got {self.count}")

    @property
    def moe(self) -> bool:
        return isinstance(self.mlp, MoeMlp)

    @property
    def kind(self) -> str:
        """Name of this layer kind in tables, e.g. 'gated_deltanet + moe'."""
        mixer = self.attention.kind if self.attention is not None else ""
        mlp = "" if self.mlp is None else ("moe" if self.moe else "mlp")
        return " + ".join(p for p in (mixer, mlp) if p)

    def matrices(self, hidden_size: int) -> tuple[Matrix, ...]:
        return ((self.attention.matrices(hidden_size) if self.attention is not None else ())
                + (self.mlp.matrices(hidden_size) if self.mlp is not None else ()))

    def vector_parameters(self, hidden_size: int) -> int:
        """Norms, biases, convolution taps and sinks of one such layer."""
        return (self.norms * hidden_size
                + (self.attention.vector_parameters(hidden_size) if self.attention is not None else 0)
                + (self.mlp.vector_parameters(hidden_size) if self.mlp is not None else 0))

    def parameters(self, hidden_size: int) -> int:
        """Weights of one such layer: matrices, biases and norms."""
        return sum(m.parameters for m in self.matrices(hidden_size)) + self.vector_parameters(hidden_size)

    def matmul_flops_per_token(self, hidden_size: int) -> float:
        """[FLOP] of one such layer's weight matmuls for one token: 2 x its matrices, routed experts
        experts_per_token times."""
        total = 0.0
        for m in self.matrices(hidden_size):
            copies = self.mlp.experts_per_token if m.expert and isinstance(self.mlp, MoeMlp) else m.copies
            total += 2.0 * m.rows * m.cols * copies
        return total

    def active_parameters(self, hidden_size: int) -> int:
        """Weights one token touches: routed experts count experts_per_token times, not num_experts."""
        total = self.parameters(hidden_size)
        if isinstance(self.mlp, MoeMlp):
            mlp = self.mlp
            per_expert = sum(m.rows * m.cols for m in mlp.matrices(hidden_size) if m.expert)
            total -= (mlp.num_experts - mlp.experts_per_token) * per_expert
            if mlp.expert_bias:
                g = 2 if mlp.gated else 1
                total -= (mlp.num_experts - mlp.experts_per_token) * (g * mlp.expert_intermediate_size
                                                                      + (mlp.latent_size or hidden_size))
        return total

    def kv_elements_per_token(self, context: float | None = None) -> float:
        """Cache elements one token adds to this layer; with `context` (a length, or an array of them each taken on
        its own), the average over a context's tokens (a window or chunk keeps at most its own length)."""
        a = self.attention
        if a is None or not a.kv_elements_per_token:
            return 0.0
        if context is not None:
            return a.kv_elements_per_token * a.kept_share(context)
        return float(a.kv_elements_per_token)

    def kv_bytes_per_token(self, kv_format: Format, context: float | None = None) -> float:
        """[B] of cache one token adds to this layer in `kv_format` (a sparse indexer's FP8 key included); with
        `context`, the average over a context's tokens (a window or chunk keeps at most its own length)."""
        a = self.attention
        if not isinstance(a, Attention) or not a.kv_elements_per_token:
            return 0.0
        if context is not None:
            return a.kv_bytes_per_token(kv_format) * a.kept_share(context)
        return a.kv_bytes_per_token(kv_format)

    def state_bytes_per_sequence(self) -> float:
        """[B] of fixed state (linear attention, Mamba) one sequence keeps in this layer."""
        return self.attention.state_bytes_per_sequence() if self.attention is not None else 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Model:
    """A decoder-only transformer (or hybrid).

    layers: groups of identical layers in order; mtp_layers: multi-token-prediction modules, counted
    apart from the main model (each adds a layer, two norms and a 2h x h projection; the embedding and
    head are shared with the main model).
    weight_format, expert_weight_format: the checkpoint's own formats of its dense and routed-expert
    matrices (e.g. fp8_block, mxfp4); a scenario may choose others.
    unquantized_matrices: the weight matrices (Layer.matrices' names: q_a, kv_b, o, up, shared_up, expert_up ...) the
    checkpoint's skip list leaves unquantized in every layer that holds them, read bf16 beside the others in their
    side's format (nvidia/DeepSeek-V3.1-NVFP4 keeps q_a, q_b, kv_a, kv_b bf16 and its o, dense MLPs and shared
    experts NVFP4); empty where none is skipped or where a whole side is (its format is then bf16).
    vision_parameters: weights of a vision tower that feeds the text model, counted apart (not in
    `parameters`); flags: what the config holds that parity does not model ("unmodelled: KEY").
    context_window: [tokens] the longest sequence (prompt + output) the config supports, RoPE scaling included
    (hf.context_window), 0 where the config states none; context_window_basis: where it comes from ('config.json',
    or 'config.json, yarn x4 of 32,768' where RoPE scaling derived it).
    """

    name: str
    hidden_size: int
    vocab_size: int
    layers: tuple[Layer, ...]
    tie_word_embeddings: bool = False
    mtp_layers: tuple[Layer, ...] = ()
    max_position_embeddings: int = 0
    context_window: int = 0
    context_window_basis: str = "config.json"
    weight_format: str = "bf16"
    expert_weight_format: str = "bf16"
    unquantized_matrices: frozenset[str] = frozenset()
    source: str = ""
    architecture: str = ""
    notes: tuple[str, ...] = field(default=())
    vision_parameters: int = 0
    flags: tuple[Flag, ...] = ()

    def __post_init__(self) -> None:
        if self.hidden_size < 1 or self.vocab_size < 1:
            raise ValueError(f"hidden_size and vocab_size must be >= 1, got {self.hidden_size}, {self.vocab_size}")
        if not self.layers:
            raise ValueError("a model needs at least one layer")
        held = {m.name for layer in self.layers for m in layer.matrices(self.hidden_size)}
        for name in sorted(self.unquantized_matrices - held):
            raise ValueError(f"unquantized_matrices: {name!r} names no weight matrix of the model (it holds "
                             f"{', '.join(sorted(held))})")

    @property
    def unquantized_parameters(self) -> int:
        """Weights of the matrices the checkpoint leaves unquantized (unquantized_matrices), over all layers."""
        return sum(layer.count * m.parameters for layer in self.layers for m in layer.matrices(self.hidden_size)
                   if m.name in self.unquantized_matrices)

    @property
    def num_layers(self) -> int:
        return sum(layer.count for layer in self.layers)

    @property
    def queries_per_kv_head(self) -> int:
        """Query heads per K/V head of the softmax-attention layers (the most of any; Llama-3.1-70B: 64 / 8 = 8),
        0 where the model has none."""
        return max((a.num_attention_heads // a.num_key_value_heads for layer in self.layers
                    if isinstance(a := layer.attention, Attention)), default=0)

    @property
    def kv_sharing(self) -> str:
        """How the softmax-attention layers share K/V heads: 'MHA' (one per query head), 'MQA' (one for all), 'GQA'
        (groups, or a mix of these); '' where the model has none."""
        kinds = {"MHA" if a.num_key_value_heads == a.num_attention_heads else "MQA" if a.num_key_value_heads == 1
                 else "GQA" for layer in self.layers if isinstance(a := layer.attention, Attention)}
        return next(iter(kinds)) if len(kinds) == 1 else "GQA" if kinds else ""

    @property
    def features(self) -> frozenset[str]:
        """Architecture features the engine branches on: moe, mla, dsa, sliding_window, chunked_attention,
        linear_attention (Gated DeltaNet or lightning), mamba2, output_gate, qk_norm, sinks, mtp."""
        found = set()
        for layer in self.layers:
            a = layer.attention
            found |= {name for name, on in (
                ("moe", layer.moe), ("mla", a is not None and a.mla), ("dsa", a is not None and a.dsa),
                ("sliding_window", a is not None and a.sliding_window is not None),
                ("chunked_attention", a is not None and a.chunk_size is not None),
                ("linear_attention", a is not None and a.kind in ("gated_deltanet", "lightning")),
                ("mamba2", a is not None and a.kind == "mamba2"),
                ("output_gate", isinstance(a, Attention) and a.output_gate),
                ("qk_norm", a is not None and a.qk_norm), ("sinks", a is not None and a.sinks)) if on}
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
        """All weights of the main model (embedding, layers, final norm, head), MTP modules and the vision
        tower excluded."""
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
    def active_parameters_without_embeddings(self) -> int:
        """Weights one token uses less the embedding table and an untied LM head: the layers and the final norm, the
        count model cards that leave both out state (gpt-oss-120b's 5.13 B leaves out the embedding alone)."""
        return self.active_parameters - self.embedding_parameters - self.head_parameters

    @property
    def expert_parameters(self) -> int:
        """Weights of routed experts (the part expert parallelism splits)."""
        return sum(layer.count * m.parameters for layer in self.layers
                   for m in layer.matrices(self.hidden_size) if m.expert)

    def kv_elements_per_token(self, context: float | None = None) -> float:
        """Cache elements one token keeps over all layers that keep KV (linear and state-space layers keep
        none). With `context`, windowed and chunked layers keep only their window, so the average per
        token of a context is returned."""
        return sum(layer.count * layer.kv_elements_per_token(context) for layer in self.layers)

    def kv_cache_bytes_per_token(self, fmt: Format, context: float | None = None) -> float:
        """[B] of KV cache per token in a format (windows averaged over `context` if given)."""
        return sum(layer.count * layer.kv_bytes_per_token(fmt, context) for layer in self.layers)

    @property
    def state_bytes_per_sequence(self) -> float:
        """[B] of fixed per-sequence state of the linear-attention and Mamba layers (0 without them)."""
        return sum(layer.count * layer.state_bytes_per_sequence() for layer in self.layers)

    def cache_bytes_per_sequence(self, fmt: Format, context: float) -> float:
        """[B] one sequence of `context` tokens holds: KV of the layers that keep it (windows capped) plus
        the fixed state of linear and state-space layers."""
        return self.kv_cache_bytes_per_token(fmt, context) * context + self.state_bytes_per_sequence

    def matmul_flops_per_token(self) -> float:
        """[FLOP] of weight matmuls for one token: 2 x active matrix weights, head included, embedding
        lookup excluded (Kaplan et al. 2020, Sec. 2.1: C_forward ~ 2N)."""
        h = self.hidden_size
        # LM head (also when tied: the product still happens)
        return 2.0 * self.vocab_size * h + sum(layer.count * layer.matmul_flops_per_token(h) for layer in self.layers)

    def attention_flops_per_token(self, context: float) -> float:
        """[FLOP] of the token mixers beyond their matmuls for one token that sees `context` earlier tokens:
        attention scores and values, sparse indexers, linear-attention and scan recurrences."""
        return sum(layer.count * layer.attention.score_flops_per_token(context) for layer in self.layers
                   if layer.attention is not None)

    def flops_per_token(self, context: float) -> float:
        """[FLOP] of one forward token at a given context: matmuls plus mixers (PaLM, App. B)."""
        return self.matmul_flops_per_token() + self.attention_flops_per_token(context)
