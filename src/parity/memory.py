"""Bytes per device: weights, KV cache per token, activations and the runtime's reserve.

A serving worker fits when weights, the runtime reserve and the activation workspace leave room
for the KV cache of its sequences; the result says by how much it does not.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from parity.dtypes import format_named
from parity.model import Model
from parity.ops import Num
from parity.plan import Precision, Shard, weight_matrices_per_device

__all__ = ["MemoryPlan", "serving_memory", "kv_bytes_per_token_per_device", "state_bytes_per_sequence_per_device",
           "cache_bytes_per_sequence_per_device", "prompt_kv_bytes", "weight_bytes_per_device", "mtp_weight_bytes_per_device",
           "mtp_kv_bytes_per_token_per_device",
           "STARTUP_RESERVE_FRACTION", "STARTUP_RESERVE_BYTES", "HOST_RESERVE_BYTES",
           "RUNTIME_RESERVE_BYTES", "runtime_reserve_text", "vision_note"]

# The least a serving runtime keeps beside weights, KV cache and activations to run at all (whether a
# deployment fits, as opposed to the KV share an engine gives by default): the CUDA context and kernels
# (~0.5-1 GB), communication buffers (NCCL, DeepEP: ~1 GB) and captured CUDA graphs, 2 GB together, and 3%
# of memory for allocator fragmentation. An assumption, checked against every deployment of
# data/measurements/deployments_published.csv: the tightest one that runs (DeepSeek-R1 FP8 on one 8 x H20
# node) keeps ~5 GB a GPU, the closest that does not (FP8 on one 8 x H100 node) misses by ~10 GB.
STARTUP_RESERVE_FRACTION = 0.03
STARTUP_RESERVE_BYTES = 2e9

# What a serving engine holds back beside the share of memory its setting leaves out (1 - kv_memory_fraction, vLLM's
# gpu_memory_utilization): the CUDA context, captured CUDA graphs and communication buffers, which the startup
# reserve above puts at 2 GB and 3% of memory. An assumption with no measurement or engine source of its own, 3 GB.
RUNTIME_RESERVE_BYTES = 3e9

# whose context the runtime reserve holds, by the chip's software stack (hardware.Chip.software_stack): the device
# runtime the engines run on; a stack not named here is said generically
_RUNTIMES = {"cuda": "CUDA", "rocm": "ROCm/HIP", "cann": "CANN runtime"}


def runtime_reserve_text(stack: str) -> str:
    """What RUNTIME_RESERVE_BYTES holds on a chip of software stack `stack`, in words: 'CUDA context, graphs and
    communication buffers' (cuda), 'ROCm/HIP context, ...' (rocm), 'CANN runtime context, ...' (cann), and 'the
    runtime's context, ...' for any other stack."""
    runtime = _RUNTIMES.get(stack, "the runtime's")
    return f"{runtime} context, graphs and communication buffers"

# Host CPU memory a chip's offloaded KV cache and weights may not fill [B per chip]: the operating system, the
# engine's process for that chip (Python, the CUDA driver's host side, pinned staging buffers) and the margin an
# engine leaves (SGLang allocates its host KV pool only within MemAvailable - 10 GiB, python/sglang/srt/mem_cache/
# memory_pool_host.py). An assumption, 10 GB a chip (4% of a GB200's 240 GB); the device's counterpart is the
# engine's kv_memory_fraction with the startup reserve above, an engine setting the host has no analogue of.
HOST_RESERVE_BYTES = 10e9


@dataclass(frozen=True, slots=True, kw_only=True)
class MemoryPlan:
    """Memory of one device [B]. kv_bytes is the KV cache the workload's sequences keep on the device.

    host_kv_bytes [B]: the share of that KV cache kept in host CPU memory instead (offload), and
    host_room_bytes [B]: the host memory the device may fill with it, beside the offloaded weights and the
    host's reserve (infinite without offload); the per-token figures split the same way. Device memory
    (used_bytes) counts only what stays on the device. sequences: the sequences whose KV cache kv_bytes and
    host_kv_bytes hold (per attention-DP rank; a fraction where fewer clients than ranks).
    """

    capacity_bytes: Num
    weight_bytes: Num
    reserve_bytes: Num
    activation_bytes: Num
    kv_bytes: Num
    kv_bytes_per_token: Num
    host_kv_bytes: Num = 0.0
    host_kv_bytes_per_token: Num = 0.0
    host_room_bytes: Num = float("inf")
    sequences: Num = 1.0

    @property
    def used_bytes(self) -> Num:
        """[B] of device memory in use: weights, reserve, activations and the KV kept on the device."""
        return self.weight_bytes + self.reserve_bytes + self.activation_bytes + self.kv_bytes

    @property
    def free_bytes(self) -> Num:
        """Room left for KV cache beyond what the workload needs, on the device or in the host memory it
        offloads to, whichever is tighter (negative: does not fit) [B]."""
        return np.minimum(self.capacity_bytes - self.used_bytes, self.host_room_bytes - self.host_kv_bytes)

    @property
    def host_binds(self) -> Num:
        """Whether the host memory the offloaded KV cache fills, not the device, leaves the less room (and so
        is what a shortfall lacks) [bool]."""
        return self.host_room_bytes - self.host_kv_bytes < self.capacity_bytes - self.used_bytes

    @property
    def fits(self) -> Num:
        return self.free_bytes >= 0

    def one_sequence(self) -> MemoryPlan:
        """The plan holding one of its sequences: what must fit for a request to run at all, since an engine admits
        requests while KV room lasts and queues the rest (serving.steady.kv_capacity's slots >= 1); a serving
        case's shortfall is this plan's (8 clients of 500,000 tokens lack what one does, not eight times it)."""
        share = 1.0 / np.maximum(self.sequences, 1e-30)
        return dataclasses.replace(self, kv_bytes=self.kv_bytes * share, host_kv_bytes=self.host_kv_bytes * share,
                                   sequences=1.0)

    @property
    def kv_token_capacity(self) -> Num:
        """Tokens of KV cache the device can hold next to its weights, with the share it offloads bounded by
        the host memory [tokens]."""
        room = self.capacity_bytes - self.weight_bytes - self.reserve_bytes - self.activation_bytes
        device = np.maximum(room, 0.0) / np.maximum(self.kv_bytes_per_token, 1e-30)
        host = np.maximum(self.host_room_bytes, 0.0) / np.maximum(self.host_kv_bytes_per_token, 1e-30)
        return np.minimum(device, host)

    def largest_term(self, at: Callable[[object], float] | None = None) -> str:
        """The name of the largest memory term; `at` picks one case's value of a batched plan (else the largest
        over the batch)."""
        terms = {"weights": self.weight_bytes, "KV cache": self.kv_bytes, "activations": self.activation_bytes,
                 "runtime reserve": self.reserve_bytes}
        return max(terms, key=lambda k: at(terms[k]) if at else float(np.max(terms[k])))


def weight_bytes_per_device(model: Model, shard: Shard, precision: Precision) -> Num:
    """[B] of weights one device stores (its local experts and its slice of the rest)."""
    return sum(size for _, size in weight_matrices_per_device(model, shard, precision))


# An engine that drafts with a model's multi-token-prediction (NextN) module loads it beside the main model and gives
# it its own KV cache: SGLang's EAGLEWorker (--speculative-algorithm EAGLE/NEXTN) is a second model worker that loads
# the module's layer and "owns its own KV cache pool" beside the target's, sharing the target's embedding and LM head
# (sgl-project/sglang python/sglang/srt/speculative/eagle_worker.py, EAGLEWorker.__init__); its projection eh_proj
# (2h x h) is a plain nn.Linear, whole on every rank in the checkpoint's bf16 (python/sglang/srt/models/
# deepseek_nextn.py; vLLM's vllm/model_executor/models/deepseek_mtp.py alike). Without drafting the main model
# skips the module's weights ("skip spec decode layers for main model", vLLM's deepseek_v2.py load_weights), so
# none of it counts then.
def _drafter(model: Model, shard: Shard) -> tuple[Model, Shard]:
    """The MTP modules as a model of their own (embedding and head the main model's), and the shard they take: the
    main model's, unpipelined (the modules sit on the last stage, whole: step.drafter_deployment)."""
    return (dataclasses.replace(model, layers=model.mtp_layers, mtp_layers=(), unquantized_matrices=frozenset()),
            dataclasses.replace(shard, p=1))


def mtp_weight_bytes_per_device(model: Model, shard: Shard, precision: Precision) -> Num:
    """[B] of the multi-token-prediction modules' weights one device stores while an engine drafts with them: each
    module's layer sliced as the main model's layers are (its experts over expert parallelism), plus its 2h x h
    projection and three norms whole in bf16 (DeepSeek-R1 on 8 x H200 at EP 8 in fp8: 1.66 GB); 0 without modules."""
    if not model.mtp_layers:
        return 0.0
    drafter, whole = _drafter(model, shard)
    h = model.hidden_size
    layers = sum(size for _, size in weight_matrices_per_device(
        drafter, whole, precision, ([float(layer.count) for layer in drafter.layers], 0.0, 0.0)))
    return layers + sum(layer.count for layer in model.mtp_layers) * (2.0 * h * h + 3.0 * h) * 2.0


def mtp_kv_bytes_per_token_per_device(model: Model, shard: Shard, precision: Precision,
                                      context: float | None = None) -> Num:
    """[B] of KV cache one token keeps on one device in the multi-token-prediction modules' own cache while an engine
    drafts with them (kv_bytes_per_token_per_device of their layers, unpipelined; DeepSeek-R1's MLA latent in fp8:
    576 B); 0 without modules."""
    if not model.mtp_layers:
        return 0.0
    return kv_bytes_per_token_per_device(*_drafter(model, shard), precision, context)


def kv_bytes_per_token_per_device(model: Model, shard: Shard, precision: Precision,
                                  context: float | None = None) -> Num:
    """[B] of KV cache one token of a sequence occupies on one device of its attention group.

    Only layers that keep KV count (linear-attention and Mamba layers keep a fixed state instead, see
    `state_bytes_per_sequence_per_device`). GQA heads split over tp (replicated when tp exceeds the KV
    heads); MLA's latent is whole on every rank. Pipeline stages hold their share of layers. Windowed
    and chunked layers keep only their window of a `context`-token sequence.
    """
    kv = format_named(precision.kv_cache)
    total = 0.0
    for layer in model.layers:
        a = layer.attention
        if a is None or not a.kv_elements_per_token:
            continue
        share = 1.0 if a.mla else np.maximum(a.num_key_value_heads / shard.t, 1.0) / a.num_key_value_heads
        total = total + layer.count / shard.p * layer.kv_bytes_per_token(kv, context) * share
    return total


def state_bytes_per_sequence_per_device(model: Model, shard: Shard) -> Num:
    """[B] of fixed state one sequence keeps on one device: linear-attention and Mamba layers, their heads
    split over tp, a stage's share of the layers (in the state format the checkpoint names)."""
    return sum(layer.count / shard.p * layer.state_bytes_per_sequence() / shard.t for layer in model.layers
               if layer.attention is not None and layer.attention.state_elements_per_sequence)


def prompt_kv_bytes(model: Model, precision: Precision, tokens: Num) -> Num:
    """[B] of a prompt's KV cache on no split, every layer's at its full per-token size, and its state: what a
    disaggregated deployment moves from the prefill worker to the decode worker (serving.steady, search)."""
    whole = Shard(1, 1, 1, 1, 1)
    return (tokens * kv_bytes_per_token_per_device(model, whole, precision)
            + state_bytes_per_sequence_per_device(model, whole))


def cache_bytes_per_sequence_per_device(model: Model, shard: Shard, precision: Precision, context: Num) -> Num:
    """[B] one sequence of `context` tokens holds on one device: its KV (windows capped at the window, each element
    of an array of contexts at its own length) and the fixed state of its linear and state-space layers."""
    per_token = kv_bytes_per_token_per_device(model, shard, precision, context)
    return context * per_token + state_bytes_per_sequence_per_device(model, shard)


def serving_memory(model: Model, shard: Shard, precision: Precision, capacity_bytes: float,
                   sequences: Num, context: Num, step_tokens: Num, reserve_fraction: float,
                   reserve_bytes: float, drafting: bool = False) -> MemoryPlan:
    """Memory of one device serving `sequences` sequences of `context` tokens each (per attention-DP rank).

    step_tokens: most tokens one forward step carries (sizes the activation workspace: hidden and
    MLP activations in 16-bit for that many tokens, plus logits). reserve_fraction and reserve_bytes:
    what the runtime keeps back (memory-fraction setting, CUDA context, graphs), an assumption. drafting: the
    engine drafts with the model's multi-token-prediction modules, whose weights and KV cache it then holds too.
    """
    # the fixed state of linear and state-space layers is spread over the sequence's tokens, so that
    # capacities in tokens (kv_token_capacity) count it
    per_token = (kv_bytes_per_token_per_device(model, shard, precision, context)
                 + state_bytes_per_sequence_per_device(model, shard) / np.maximum(context, 1.0))
    weights = weight_bytes_per_device(model, shard, precision)
    if drafting:
        per_token = per_token + mtp_kv_bytes_per_token_per_device(model, shard, precision, context)
        weights = weights + mtp_weight_bytes_per_device(model, shard, precision)
    widest = max(float(getattr(layer.mlp, "intermediate_size", 0) or getattr(layer.mlp, "expert_intermediate_size", 0)
                       * getattr(layer.mlp, "experts_per_token", 1)) for layer in model.layers)
    activation = step_tokens * 2.0 * (4.0 * model.hidden_size + 2.0 * widest / shard.t) + \
        np.minimum(step_tokens, 1024.0) * model.vocab_size * 4.0 / shard.t
    return MemoryPlan(capacity_bytes=capacity_bytes, weight_bytes=weights,
                      reserve_bytes=reserve_fraction * capacity_bytes + reserve_bytes, activation_bytes=activation,
                      kv_bytes=sequences * context * per_token, kv_bytes_per_token=per_token, sequences=sequences)


def vision_note(model: Model, workload: str = "serve") -> str:
    """What a multimodal model's figures leave out: its vision tower (Model.vision_parameters, counted apart from the
    language model), whose weights no memory term holds and whose encoder pass no step prices; '' for a text-only
    model. Its bytes are bf16's, as checkpoints quantized for serving keep the tower unquantized. One note for serve,
    train, compare and their captions; `workload` 'serve' or 'train', what the language model's figures are of."""
    if not model.vision_parameters:
        return ""
    held = model.vision_parameters * format_named("bf16").bytes_per_element
    task = "training on text" if workload == "train" else "serving text prompts"
    return (f"vision tower not counted: its {model.vision_parameters:,} parameters ({held / 1e9:,.2f} GB in bf16) are "
            f"in neither memory per chip nor time; both are the language model's, {task}")
