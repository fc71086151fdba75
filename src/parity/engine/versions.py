"""What an engine version does where the user sets nothing (its defaults, data/engine_defaults.toml), which
kernels it runs where the calibrated profiles assume today's (data/engine_kernels.toml) and what its host does
in a step that today's engines no longer do there (data/engine_host.toml)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["EngineDefault", "DEFAULT_FIELDS", "engine_version", "version_defaults", "KERNEL_OPS", "FP8_GEMMS",
           "EngineKernel", "version_kernels", "EngineHost", "version_host"]


# what an engine does when the user sets nothing: its defaults by version (data/engine_defaults.toml)
DEFAULT_FIELDS = ("max_batch_size", "max_num_tokens")  # EngineProfile fields a version's defaults set


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineDefault:
    """One engine's defaults over a range of its versions, as its source code sets them.

    engine: the profile id (vllm, sglang); since, until: the versions it holds over, until excluded (None:
    still). min_memory_bytes [B]: only on chips with at least this much device memory (0: any);
    chips: only on chips whose id contains one of these (empty: any). context: offline (vLLM's LLM class, as
    its benchmark_throughput and benchmark_latency scripts run it), server (its OpenAI API server) or any.
    max_batch_size: sequences run at once (vLLM --max-num-seqs); max_num_tokens: tokens per step (vLLM
    --max-num-batched-tokens); 0: this entry does not set it. source: where the value is set in the code.
    """

    engine: str
    since: tuple[int, ...]
    until: tuple[int, ...] | None = None
    min_memory_bytes: float = 0.0
    chips: tuple[str, ...] = ()
    context: str = "any"
    max_batch_size: int = 0
    max_num_tokens: int = 0
    source: str = ""

    def __post_init__(self) -> None:
        if self.context not in ("offline", "server", "any"):
            raise ValueError(f"engine default {self.engine} {self.since}: context must be offline, server or any, "
                             f"got {self.context!r}")
        if self.until is not None and self.until <= self.since:
            raise ValueError(f"engine default {self.engine}: until {self.until} must come after since {self.since}")
        if self.max_batch_size < 0 or self.max_num_tokens < 0 or not (self.max_batch_size or self.max_num_tokens):
            raise ValueError(f"engine default {self.engine} {self.since}: set max_batch_size or max_num_tokens (>= 1)")

    def holds(self, engine: str, version: tuple[int, ...], memory_bytes: float, chip: str, offline: bool) -> bool:
        return (engine == self.engine and self.since <= version and (self.until is None or version < self.until)
                and memory_bytes >= self.min_memory_bytes and (not self.chips or any(c in chip for c in self.chips))
                and self.context in ("any", "offline" if offline else "server"))


_NAMES = {"vllm": "vllm", "sglang": "sglang", "trtllm": r"tensorrt-llm|trt-llm|trtllm"}


def engine_version(engine: str, text: str, bare: bool = False) -> tuple[int, ...] | None:
    """The version a row's free-text engine_version names for this engine ('vLLM 0.7.3.dev138' -> (0, 7, 3));
    None where it names none ('vLLM (version not stated)'). A development build counts as its release. bare: a
    text that is a version alone ('0.5.8.post1', aiconfigurator's rows, whose engine is the row's) counts too."""
    pattern = _NAMES.get(engine)
    found = re.search(rf"(?:{pattern})\s+v?(\d+)\.(\d+)(?:\.(\d+))?", text, re.IGNORECASE) if pattern else None
    if found is None and bare and pattern:
        found = re.fullmatch(r"\s*v?(\d+)\.(\d+)(?:\.(\d+))?(?:[.\w+-]*)\s*", text)
    return None if found is None else tuple(int(g) for g in found.groups(default="0"))


def version_defaults(defaults: Iterable[EngineDefault], engine: str, version: tuple[int, ...], memory_bytes: float,
                     chip: str, offline: bool) -> Mapping[str, int]:
    """EngineProfile field -> value of what this version of the engine sets by default on this chip and in
    this context (the first entry that holds sets each field)."""
    out: dict[str, int] = {}
    for entry in defaults:
        if entry.holds(engine, version, memory_bytes, chip, offline):
            for name in DEFAULT_FIELDS:
                if getattr(entry, name) and name not in out:
                    out[name] = getattr(entry, name)
    return out


# what an engine version runs where the calibrated profiles assume today's kernels (data/engine_kernels.toml):
# launch: the fixed cost of every kernel (more, unfused kernels per op); attention_decode, attention_prefill,
# grouped_gemm (routed experts), gemm (dense projections): the kernel's time over the calibrated kernel's;
# gemm_math_fp8: dense projections on the FP8 unit where they are math-bound (their rate on that unit; memory-bound
# projections, as in decode at small batches, keep the calibrated bandwidth); moe_expert_gemm: routed-expert GEMMs
# math-bound and memory-bound alike (their math rate, measured or the dense one, and their bandwidth);
# moe_expert_gemm_math: routed-expert GEMMs where they are math-bound (their math rate alone: memory-bound expert
# GEMMs, as in decode, keep the calibrated bandwidth)
KERNEL_OPS = ("launch", "attention_decode", "attention_prefill", "grouped_gemm", "gemm", "gemm_math_fp8",
              "moe_expert_gemm", "moe_expert_gemm_math")
# block-FP8 dense GEMMs a launch may pick (SGLang's names: DeepGEMM, FlashInfer's TRT-LLM groupwise kernel)
FP8_GEMMS = ("deep_gemm", "flashinfer_trtllm")
# FlashInfer's NVFP4 GEMM backends (mm_fp4's `backend`) a launch may run SGLang's prefill workers on; cudnn builds its
# plans per new shape on the host (parity.simulate.PlanBuilds), the others are priced as the calibrated FP4 GEMM
FP4_GEMMS = ("cudnn", "cutlass", "trtllm")
# fused-MoE backends a launch may pick (TensorRT-LLM's moe_config.backend, lower case)
MOE_BACKENDS = ("deepgemm", "trtllm", "cutlass")
# of those, the backends that under attention DP with the experts spread run no all-to-all: every rank all-gathers
# the group's tokens (BF16, quantised after the permute), runs its experts' share of them and finalizes all of them,
# and the outputs are reduce-scattered. TensorRT-LLM's DeepGemmFusedMoE.forward_chunk (`use_allgather = self.use_dp
# and self.parallel_size > 1`, then `allgather([x, x_sf, token_selected_experts, token_final_scales], ...)`) and
# forward_impl (`reducescatter_or_allreduce`), tensorrt_llm/_torch/modules/fused_moe/fused_moe_deepgemm.py, the same
# from v1.1.0rc6 (Ataraksia/TensorRT-LLM a451bf93, upstream side) to xxi-nv/TensorRT-LLM fdfae150; it overrides
# CutlassFusedMoE's forward, whose all-to-all it never calls
GATHERING_MOE_BACKENDS = ("deepgemm",)


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineKernel:
    """The kernel one engine runs for one kind of op over a range of its versions, and its time relative to
    the kernel the calibrated profile represents.

    engine: the profile id (vllm, sglang); since, until: the versions it holds over, until excluded. stack: the
    software stack it holds on (cuda, rocm; empty: any). features: model features it needs, all of them (mla,
    moe: e.g. DeepSeek's decode path); weights: dense weight formats it holds for, any of them (empty: any);
    families: chip families (data/families.toml) it holds on, any of them (empty: any; e.g. a kernel an engine
    picks on Blackwell alone); fp8_gemm: the block-FP8 dense GEMM settings it needs, any of them (a case's
    fp8_gemm: a launch setting that departs from the engine's default; empty: any); moe_backend: the fused-MoE
    backends it needs, any of them (a case's moe_backend, a launch setting; empty: any). op: one of KERNEL_OPS.
    time_ratio: its time over the calibrated kernel's (2: half as fast; for launch, the fixed cost per kernel).
    queries_per_kv: 0 where time_ratio holds for any model; else the kernel runs one thread block per query head,
    each reading its K/V head's whole cache, so it reads the cache once per query head where the calibrated kernel
    reads it once per K/V head, and time_ratio was measured on a model with this many query heads per K/V head
    (ratio_for scales it to another model's). implementation: what the version runs; source: where that is read
    and measured; derivation: how time_ratio follows from the source's figures.
    """

    engine: str
    since: tuple[int, ...]
    until: tuple[int, ...]
    op: str
    time_ratio: float
    stack: str = ""
    features: tuple[str, ...] = ()
    weights: tuple[str, ...] = ()
    families: tuple[str, ...] = ()
    fp8_gemm: tuple[str, ...] = ()
    moe_backend: tuple[str, ...] = ()
    queries_per_kv: int = 0
    implementation: str = ""
    source: str = ""
    derivation: str = ""

    def __post_init__(self) -> None:
        if self.op not in KERNEL_OPS:
            raise ValueError(f"engine kernel {self.engine} {self.since}: op must be one of {KERNEL_OPS}, got {self.op!r}")
        if any(g not in FP8_GEMMS for g in self.fp8_gemm):
            raise ValueError(f"engine kernel {self.engine} {self.op}: fp8_gemm must name one of {FP8_GEMMS}, got "
                             f"{self.fp8_gemm}")
        if any(b not in MOE_BACKENDS for b in self.moe_backend):
            raise ValueError(f"engine kernel {self.engine} {self.op}: moe_backend must name one of {MOE_BACKENDS}, "
                             f"got {self.moe_backend}")
        if not 0.1 <= self.time_ratio <= 20:  # NaN too
            raise ValueError(f"engine kernel {self.engine} {self.op}: time_ratio must be in [0.1, 20], got "
                             f"{self.time_ratio}")
        if self.until <= self.since:
            raise ValueError(f"engine kernel {self.engine}: until {self.until} must come after since {self.since}")
        if self.queries_per_kv < 0:
            raise ValueError(f"engine kernel {self.engine} {self.op}: queries_per_kv must be >= 0, got "
                             f"{self.queries_per_kv}")

    def ratio_for(self, queries_per_kv: int) -> float:
        """The time ratio on a model with `queries_per_kv` query heads per K/V head (0: not known): time_ratio
        where the entry holds for any model, else scaled by the model's cache reads over the measured one's
        (a kernel reading the cache once per query head: 8 query heads per K/V head read it twice as often
        as 4 do)."""
        if not self.queries_per_kv or queries_per_kv < 1:
            return self.time_ratio
        return self.time_ratio * queries_per_kv / self.queries_per_kv

    def holds(self, engine: str, version: tuple[int, ...], stack: str, features: frozenset[str],
              weights: str = "", family: str = "", fp8_gemm: str = "", moe_backend: str = "") -> bool:
        return (_covers(self, engine, version, stack) and set(self.features) <= features
                and (not self.weights or weights in self.weights)
                and (not self.families or family in self.families)
                and (not self.fp8_gemm or fp8_gemm in self.fp8_gemm)
                and (not self.moe_backend or moe_backend in self.moe_backend))


def version_kernels(kernels: Iterable[EngineKernel], engine: str, version: tuple[int, ...], stack: str,
                    features: frozenset[str], weights: str = "", family: str = "", fp8_gemm: str = "",
                    moe_backend: str = "") -> tuple[EngineKernel, ...]:
    """The kernels this version of the engine runs on this stack and chip family for a model with these features
    and dense weights in this format, with this block-FP8 GEMM setting and fused-MoE backend, one per op (the first
    entry that holds)."""
    out: dict[str, EngineKernel] = {}
    for entry in kernels:
        if entry.op not in out and entry.holds(engine, version, stack, features, weights, family, fp8_gemm,
                                               moe_backend):
            out[entry.op] = entry
    return tuple(out.values())


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineHost:
    """Host work one engine's versions do in every step without overlapping the device, beyond the calibrated
    profile's step overhead (which was fitted on engines that overlap it or no longer do it).

    engine: the profile id; since, until: the versions it holds over, until excluded; stack: the software stack
    (empty: any: host work is the CPU's). step_s [s]: per step; sequence_s [s]: per sequence in the step.
    implementation: what the versions do on the host; source: where it is measured; derivation: how step_s and
    sequence_s follow from the source's figures.
    """

    engine: str
    since: tuple[int, ...]
    until: tuple[int, ...]
    step_s: float
    sequence_s: float
    stack: str = ""
    implementation: str = ""
    source: str = ""
    derivation: str = ""

    def __post_init__(self) -> None:
        if self.until <= self.since:
            raise ValueError(f"engine host {self.engine}: until {self.until} must come after since {self.since}")
        for name, value in (("step_s", self.step_s), ("sequence_s", self.sequence_s)):
            if not 0.0 <= value <= 0.1:  # NaN too
                raise ValueError(f"engine host {self.engine} {self.since}: {name} must be in [0, 0.1] s, got {value}")

    def holds(self, engine: str, version: tuple[int, ...], stack: str) -> bool:
        return _covers(self, engine, version, stack)


def _covers(entry: EngineKernel | EngineHost, engine: str, version: tuple[int, ...], stack: str) -> bool:
    """Whether a version-bound entry holds for this engine, version (since included, until excluded) and stack
    (an entry naming no stack holds on any)."""
    return engine == entry.engine and entry.since <= version < entry.until and entry.stack in ("", stack)


def version_host(entries: Iterable[EngineHost], engine: str, version: tuple[int, ...], stack: str
                 ) -> EngineHost | None:
    """The host work this version of the engine does on this stack (the first entry that holds; None: none)."""
    return next((e for e in entries if e.holds(engine, version, stack)), None)
