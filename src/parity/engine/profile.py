"""Serving-engine profiles: how TensorRT-LLM, vLLM, SGLang or a generic engine schedule and what they cost beyond
the kernels, and the software maturity an engine carries to a stack it has no fit on. Values are fitted on measured
points (see `validate` and `crossvendor`)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass

from parity.engine.sections import PROFILE_SECTIONS

__all__ = ["EngineProfile", "MLA_DECODE", "KERNEL_QUALITY", "STACK_QUALITY", "stack_prior", "measured_stack_prior",
           "maturity_sources", "measures_maturity", "field_origins"]

# how MLA decode runs: absorbed (W_UK into the query, W_UV into the output; attention over the 576-wide
# latent, as FlashMLA), or unabsorbed (kv_b expands every cached latent to per-head K and V each step, then
# multi-head attention over them, as in prefill); parity.graph prices both
MLA_DECODE = ("absorbed", "unabsorbed")


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineProfile:
    """One serving engine's behaviour, as named and calibrated assumptions. Its file groups the fields by section
    (engine.sections.PROFILE_SECTIONS: the kernels, the host side, one table per scheduler policy, the steady-state
    model's stand-ins, the simulator's own factors).

    kernel_overhead_s [s]: fixed cost per kernel inside the engine (CUDA graphs, fused kernels).
    step_overhead_s [s]: per forward step (scheduling, sampling, detokenising, host sync).
    ttft_overhead_s [s]: per request before its first token (HTTP, tokenising, admission).
    decode_host_token_s [s]: host time per decode token (a sequence's verified tokens, 1 + MTP drafts) per
    attention-DP rank that a step of an attention-DP worker cannot hide: the engine's overlap scheduler prepares the
    next step while the device runs this one, so such a decode step lasts at least its tokens x this (a floor, in
    both models: step.decode_host_floor). 0: none.
    max_num_tokens: the token budget of one step (the prefill chunk size).
    mixes_prefill: prompt chunks share steps with decodes (in-flight / chunked-prefill batching);
    if False, decodes pause while a prefill step runs (SGLang's default).
    burstiness: squared coefficient of variation of prompt arrivals in Kingman's queueing formula
    W = burstiness * u / (1 - u) * S (1 for random arrivals; closed-loop benchmarks arrive in waves).
    gemm_scale, attention_scale, memory_scale: multipliers on the chip calibration's efficiencies
    (kernel quality of this engine relative to the prior); collective_scale: the same on the calibration's
    collective (link) efficiency, what the engine's tensor-parallel all-reduce gets of the bandwidth the
    collective microbenchmarks reach (1: all of it); expert_imbalance: busiest expert rank
    over the mean. kv_memory_fraction: share of device memory the engine fills
    with weights, activations and KV cache (vLLM's gpu_memory_utilization); the rest is held back.
    prefill_scale: multiplier on prompt processing time (chunking and scheduling losses).
    arrival_sync: how much of a step's budget of prompts arrives together, in [0, 1] (0: one at a
    time, 1: as many as a step holds). first_wave: weight of the benchmark's start, when every client
    sends at once and the last waits for all prompts before it (0.5 / requests per client).
    first_token_steps: engine steps a new prompt waits besides its own prefill: half of the step in
    flight when it arrives (0.5), plus what the engine's overlap scheduling adds (a scheduler that
    prepares step n+1 while step n runs returns a token one step later).
    attention_dp_hold_steps: with attention data parallelism, new prompts are held until every rank
    has one, or at most this many engine steps, so that all ranks prefill in the same step
    (TensorRT-LLM's attention_dp_config enable_balance / timeout_iters); 0: each rank prefills as its
    prompts come and stalls the others in lockstep.
    batch_wait_steps, batch_wait_tokens_ratio: without attention data parallelism, new prompts wait
    while decodes run until their tokens and the decodes' reach batch_wait_tokens_ratio x
    max_num_tokens, or at most batch_wait_steps engine steps (TensorRT-LLM's batch_wait_timeout_iters
    and batch_wait_max_tokens_ratio; either 0: no wait, the engine's default).
    recv_interval_steps: the scheduler takes in new requests only every this many decode steps (and
    after any step with prompts): SGLang's scheduler_recv_interval; 1 or less: every step.
    max_batch_size: most sequences a worker (rank) runs at once, whatever memory allows.
    moe_overlap: share of expert dispatch/combine time the engine hides under computation
    (two-batch overlap); a scenario may set its own.
    normal_all_to_all: the expert all-to-all runs the normal (high-throughput) kernels at every batch, decode
    included, where by default batches of at most plan.LOW_LATENCY_TOKENS a rank run the low-latency ones
    (TensorRT-LLM's TRTLLM_FORCE_ALLTOALL_METHOD=DeepEP; a row sets it with its normal_all_to_all flag).
    prompt_gather_all_reduce: under attention DP, a step with prompt tokens gathers the group's tokens for the
    MoE by an all-reduce of their summed buffer and all-reduces the MoE output before each rank keeps its own,
    whether the experts are sliced or spread (no all-to-all), where by default they move by all-gather and
    reduce-scatter (sliced) or all-to-all dispatch and combine (spread): SGLang's DpPaddingMode.SUM_LEN for
    extend batches without an all-to-all backend (plan.sharding); a deployment with DeepEP
    (--moe-a2a-backend deepep) dispatches instead.
    decode_padded_experts: under attention DP, a decode step pads every rank's batch to the busiest rank's (one
    CUDA graph for the group) and the routed experts compute the padded rows, so they see the busiest rank's tokens
    on every rank whatever ranks carry sequences: SGLang's MoE forward without an all-to-all backend
    (`forward_normal` routes without `num_token_non_padded`; its graphs pad to bucket(max) x dp before 0.4.6 and from
    0.4.10, to the sum's bucket in between) and its Ascend top-k for 256 experts; DeepEP from 0.4.7 masks them
    (measurements README, "Attention DP with fewer decoding sequences than ranks").
    collective_latency_s [s]: fixed cost of one small collective inside a scale-up domain with this
    engine's communication kernels (custom all-reduce, NCCL); None: the system's link latency.
    disagg_ttft_overhead_s [s]: what a disaggregated request adds before its first token beyond the
    prefill itself (KV-transfer setup, the router's hand-off between workers, polling).
    disagg_decode_batch: sequences per decode rank a disaggregated deployment is sized for when the
    number of decode workers is not given (workers = clients / (this x attention DP));
    disagg_prefill_utilization: how busy prompts keep prefill workers when their number is not given (serve) and
    the utilisation the layout search sizes prefill workers for (search.search_serving, search_split).
    fp8_kv_cache: by default the engine stores KV in FP8 when the weights are 8-bit or narrower.
    attention_format: the number format the engine's attention math runs in by default (bf16: KV
    read in its storage format and dequantised; fp8: FP8 attention kernels, e.g. FlashMLA-FP8).
    mla_decode: how the engine decodes MLA models by default (graph.MLA_DECODE): absorbed (FlashMLA and
    its kin) or unabsorbed (K/V expanded per head from the cached latent every step).
    kv_on_demand: the engine allocates KV-cache pages as sequences grow and preempts when memory runs
    out (vLLM, SGLang), so a sequence holds its prompt and on average half its output; False: it
    reserves the prompt and the whole output at admission (TensorRT-LLM's GUARANTEED_NO_EVICT).
    cuda_graphs: the engine replays captured graphs, each kernel at kernel_overhead_s; False (eager mode,
    vLLM's --enforce-eager): the host launches every kernel, each at the chip calibration's kernel_overhead_s
    (measured on eager launches, hardware.Calibration).
    sim_prefill_scale, sim_first_token_steps: the step-level simulator's own fitted factors (parity.simulate;
    the steady-state model ignores them): a multiplier on prompt time beyond prefill_scale, and decode
    steps between a prompt's last chunk and its first token reaching the client (detokenising, streaming,
    the engine's output loop). Fitted on calibration rows with the simulator; 1 and 0: none.
    sim_prefill_launch_s [s]: what each kernel launch of a step that carries prompt tokens costs beyond
    the step model's kernel_overhead_s, in the simulator only: engines replay decode-only steps as CUDA
    graphs but run prompt steps eagerly (SGLang captures graphs for decode batches up to
    --cuda-graph-max-bs; TensorRT-LLM's cuda_graph_config covers generation-only batches), so a prompt
    step pays the host's launch and Python cost for every kernel. 0: none.
    sim_prefill_host_launch_s [s]: the host's time to issue each kernel launch of such an eager prompt step,
    in the aggregated simulation only: the step lasts at least its launches x this, however little the
    device has to do (simulate.tables.host_bound_s; a bound, where sim_prefill_launch_s adds). TensorRT-LLM
    runs context steps eagerly, its PyTorch modules calling one op after another from Python (cuda_graph_config
    captures generation-only batches), so a short prompt step of a many-layered model waits on the host. 0: none.
    sim_host_ops: the floor above counts the ops the engine's model code issues, read from its source
    (data/host_ops.toml, simulate.host_ops.prompt_step_ops), instead of the kernels the step model prices;
    False (the default): the priced kernels.
    sim_eager_prefill: the engine runs steps with prompt tokens without CUDA graphs, so the host's floor above
    applies to them; False: it replays graphs for them too (vLLM V1's default cudagraph_mode FULL_AND_PIECEWISE
    captures piecewise graphs for mixed and prefill batches; FULL_DECODE_ONLY, which a row states with its
    eager_prefill column, runs them eagerly: vllm/config/compilation.py CUDAGraphMode, mixed_mode NONE).
    sim_separate_prefill: the simulator runs prompt steps apart from decodes (the engine's own default
    scheduler: SGLang without --enable-mixed-chunk) even where mixes_prefill is fitted true for the
    steady-state model. sim_client_range_ratio: the length spread (clients.ClientProfile.range_ratio)
    of the aiconfigurator client on this engine's rows, 0: the client profile's own.
    sim_disagg_prefill_scale: a multiplier on prompt time on disaggregated prefill workers in the
    simulator, beyond sim_prefill_scale (prefill_scale is fitted mostly on aggregated rows, whose prompt
    chunks share steps with decodes; a prefill worker runs prompt-only steps). 1: none.
    sim_disagg_ttft_overhead_s [s]: the simulator's own disaggregated hand-off (disagg_ttft_overhead_s
    is fitted for the steady-state model, which sees no decode-side queue); None: that one.
    sim_chunked_prefill: the simulator splits a prompt that does not fit the step's token budget into chunks
    (vLLM V1 always; TensorRT-LLM with enable_chunked_prefill), else a prompt runs whole in one step and waits
    while it does not fit beside the step's decodes and earlier prompts (TensorRT-LLM's default: MicroBatch-
    Scheduler "skip chunking" breaks at the first context request over max_num_tokens).
    sim_disagg_first_token: where a disaggregated request's first token reaches the client from in the
    simulator: "decode" (when a decode worker admits it) or "prefill" (the prefill worker streams the
    token it computes as the KV cache is handed on; waiting for a decode slot then shows in TPOT).
    sim_max_prefill_tokens: SGLang's prompt admission in the simulator (simulate.policies.PromptAdmission,
    from schedule_policy.PrefillAdder): a prompt step's input budget [tokens] (--max-prefill-tokens, default
    16,384), a prompt not smaller than what is left of it waiting for the next step unless it is the first,
    and the step budget SGLang's chunked prefill size by GPU memory (at most max_num_tokens); 0: off.
    sim_chunked_prefill_tokens: SGLang's --chunked-prefill-size where the deployment sets it [tokens] (the
    step budget with prompt admission, at most max_num_tokens); 0: SGLang's default by GPU memory; -1: chunked
    prefill off (--chunked-prefill-size -1: whole prompts, at most max_num_tokens a step).
    assumptions: what the profile assumes rather than fits, and where each assumption comes from.
    """

    id: str
    name: str
    date: str
    method: str
    measured: bool
    kernel_overhead_s: float
    step_overhead_s: float
    ttft_overhead_s: float
    max_num_tokens: int
    mixes_prefill: bool
    burstiness: float
    gemm_scale: float = 1.0
    attention_scale: float = 1.0
    memory_scale: float = 1.0
    collective_scale: float = 1.0
    expert_imbalance: float = 1.2
    kv_memory_fraction: float = 0.9
    prefill_scale: float = 1.0
    arrival_sync: float = 1.0
    first_wave: float = 0.0
    first_token_steps: float = 0.5
    attention_dp_hold_steps: float = 0.0
    batch_wait_steps: float = 0.0
    batch_wait_tokens_ratio: float = 0.0
    recv_interval_steps: float = 0.0
    max_batch_size: int = 2048
    moe_overlap: float = 0.0
    normal_all_to_all: bool = False
    prompt_gather_all_reduce: bool = False
    decode_padded_experts: bool = False
    collective_latency_s: float | None = None
    disagg_ttft_overhead_s: float = 0.0
    disagg_decode_batch: float = 64.0
    disagg_prefill_utilization: float = 0.7
    fp8_kv_cache: bool = False
    attention_format: str = "bf16"
    mla_decode: str = "absorbed"
    kv_on_demand: bool = False
    cuda_graphs: bool = True
    decode_host_token_s: float = 0.0
    sim_prefill_scale: float = 1.0
    sim_first_token_steps: float = 0.0
    sim_prefill_launch_s: float = 0.0
    sim_prefill_host_launch_s: float = 0.0
    sim_eager_prefill: bool = True
    sim_host_ops: bool = False
    sim_separate_prefill: bool = False
    sim_client_range_ratio: float = 0.0
    sim_disagg_ttft_overhead_s: float | None = None
    sim_disagg_first_token: str = "decode"
    sim_disagg_prefill_scale: float = 1.0
    sim_max_prefill_tokens: int = 0
    sim_chunked_prefill_tokens: int = 0
    sim_chunked_prefill: bool = True
    source: str = ""
    assumptions: str = ""
    stack: str = "cuda"  # the software stack this profile was fitted on (cuda, rocm, cann)
    base: str = ""  # the profile a stack profile was refitted from (vllm for vllm-rocm)
    rows: tuple[str, ...] = ()  # measured rows a stack profile was fitted on (never scored)

    @property
    def label(self) -> str:
        """How a prediction's notes name the engine: 'engine profile vllm', or 'engine profile generic (not
        fitted)' for a profile no measurement fitted (the prior's values, not an engine's)."""
        return f"engine profile {self.id}" + ("" if self.measured else " (not fitted)")

    def __post_init__(self) -> None:
        if self.mla_decode not in MLA_DECODE:
            raise ValueError(f"engine {self.id}: mla_decode must be one of {MLA_DECODE}, got {self.mla_decode!r}")
        if self.max_num_tokens < 1:
            raise ValueError(f"engine {self.id}: max_num_tokens must be >= 1, got {self.max_num_tokens}")
        for name in ("kernel_overhead_s", "step_overhead_s", "ttft_overhead_s", "burstiness"):
            if getattr(self, name) < 0:
                raise ValueError(f"engine {self.id}: {name} must be >= 0, got {getattr(self, name)}")
        for name in ("gemm_scale", "attention_scale", "memory_scale", "collective_scale"):
            if not 0 < getattr(self, name) <= 2:
                raise ValueError(f"engine {self.id}: {name} must be in (0, 2], got {getattr(self, name)}")
        if not 0 < self.prefill_scale <= 5:
            raise ValueError(f"engine {self.id}: prefill_scale must be in (0, 5], got {self.prefill_scale}")
        if not 0 < self.disagg_prefill_utilization < 1 or self.disagg_decode_batch < 1:
            raise ValueError(f"engine {self.id}: disagg_prefill_utilization must be in (0, 1) and "
                             f"disagg_decode_batch >= 1")
        if not 0 <= self.arrival_sync <= 1 or not 0 <= self.first_wave <= 1:
            raise ValueError(f"engine {self.id}: arrival_sync and first_wave must be in [0, 1]")
        if not 0 <= self.first_token_steps <= 5:
            raise ValueError(f"engine {self.id}: first_token_steps must be in [0, 5], got {self.first_token_steps}")
        if not self.attention_dp_hold_steps >= 0:  # NaN too
            raise ValueError(f"engine {self.id}: attention_dp_hold_steps must be >= 0, got "
                             f"{self.attention_dp_hold_steps}")
        if not self.recv_interval_steps >= 0:  # NaN too
            raise ValueError(f"engine {self.id}: recv_interval_steps must be >= 0, got {self.recv_interval_steps}")
        if not self.batch_wait_steps >= 0 or not 0 <= self.batch_wait_tokens_ratio <= 1:  # NaN too
            raise ValueError(f"engine {self.id}: batch_wait_steps must be >= 0 and batch_wait_tokens_ratio in [0, 1], "
                             f"got {self.batch_wait_steps}, {self.batch_wait_tokens_ratio}")
        if self.expert_imbalance < 1:
            raise ValueError(f"engine {self.id}: expert_imbalance must be >= 1, got {self.expert_imbalance}")
        if not 0 < self.kv_memory_fraction <= 1:
            raise ValueError(f"engine {self.id}: kv_memory_fraction must be in (0, 1], got {self.kv_memory_fraction}")
        if not 0 < self.sim_prefill_scale <= 5 or not 0 <= self.sim_first_token_steps <= 100:
            raise ValueError(f"engine {self.id}: sim_prefill_scale must be in (0, 5] and sim_first_token_steps in "
                             f"[0, 100], got {self.sim_prefill_scale}, {self.sim_first_token_steps}")
        if not 0 <= self.sim_client_range_ratio <= 1:
            raise ValueError(f"engine {self.id}: sim_client_range_ratio must be in [0, 1], got "
                             f"{self.sim_client_range_ratio}")
        if not 0 < self.sim_disagg_prefill_scale <= 5:
            raise ValueError(f"engine {self.id}: sim_disagg_prefill_scale must be in (0, 5], got "
                             f"{self.sim_disagg_prefill_scale}")
        if self.sim_disagg_first_token not in ("decode", "prefill"):
            raise ValueError(f"engine {self.id}: sim_disagg_first_token must be decode or prefill, got "
                             f"{self.sim_disagg_first_token!r}")
        if self.sim_disagg_ttft_overhead_s is not None and not 0 <= self.sim_disagg_ttft_overhead_s <= 5:
            raise ValueError(f"engine {self.id}: sim_disagg_ttft_overhead must be in [0, 5 s], got "
                             f"{self.sim_disagg_ttft_overhead_s}")
        if self.sim_chunked_prefill_tokens < -1:
            raise ValueError(f"engine {self.id}: sim_chunked_prefill_tokens must be >= -1, got "
                             f"{self.sim_chunked_prefill_tokens}")
        if self.sim_max_prefill_tokens < 0:
            raise ValueError(f"engine {self.id}: sim_max_prefill_tokens must be >= 0, got {self.sim_max_prefill_tokens}")
        if not 0 <= self.sim_prefill_launch_s <= 1e-3:
            raise ValueError(f"engine {self.id}: sim_prefill_launch_s must be in [0, 1 ms], got "
                             f"{self.sim_prefill_launch_s}")
        if not 0 <= self.decode_host_token_s <= 1e-3:
            raise ValueError(f"engine {self.id}: decode_host_token_s must be in [0, 1 ms], got "
                             f"{self.decode_host_token_s}")
        if not 0 <= self.sim_prefill_host_launch_s <= 1e-3:
            raise ValueError(f"engine {self.id}: sim_prefill_host_launch_s must be in [0, 1 ms], got "
                             f"{self.sim_prefill_host_launch_s}")


# the multipliers that say how good an engine's own kernels are against the chip calibration's (engine_calibration)
KERNEL_QUALITY = ("gemm_scale", "attention_scale", "memory_scale", "collective_scale")
# the kernel-quality multipliers a stack's rows refit (crossvendor.STACK_PARAMETERS); attention_scale stays at 1
STACK_QUALITY = ("gemm_scale", "memory_scale", "collective_scale")


def stack_prior(profile: EngineProfile, stack: str) -> EngineProfile:
    """What an engine fitted on one software stack is taken to achieve on another before rows of that stack say
    more: its host side as fitted (step and per-kernel overheads, scheduling, batching), its kernels at the rates
    of the vendor libraries the chip's calibration measures (every KERNEL_QUALITY multiplier 1). The fitted
    multipliers compare the engine's own kernels on its stack (on CUDA: CUTLASS FP8 GEMMs, FlashInfer attention,
    a custom all-reduce) with parity's H200 microbenchmarks of the libraries; a ROCm or CANN build runs the
    vendor's libraries (vLLM's FP8 linear layers call torch._scaled_mm, hipBLASLt on ROCm), and those are what
    the CDNA3 and Da Vinci family calibrations were fitted on (hipBLASLt GEMMs, rocBLAS skinny GEMMs, RCCL).
    prompt_gather_all_reduce stays on CUDA: it is what the CUDA recipes' launch (no MoE all-to-all backend) makes
    SGLang do, while every DeepSeek launch command of SGLang's Ascend docs sets `--moe-a2a-backend deepep`
    (sgl-project/sglang docs/platforms/ascend_npu_deepseek_example.md, mixed and PD-disaggregated on Atlas 800I A3)."""
    if stack == profile.stack:
        return profile
    return dataclasses.replace(profile, prompt_gather_all_reduce=False, **{name: 1.0 for name in KERNEL_QUALITY})


def measured_stack_prior(profile: EngineProfile, stack: str, fitted: Iterable[EngineProfile]) -> EngineProfile:
    """What `profile`'s engine is taken to achieve on a `stack` it has no rows of: stack_prior, its kernel-quality
    multipliers set to what the stack profiles fitted away from `profile`'s own stack achieve (geometric means
    weighted by the rows each was fitted on; the prior of each is 1).

    Where `stack` itself has fits (SGLang's on CANN speaks for vLLM on CANN), each multiplier takes their mean:
    the engines share the stack's kernel libraries, so which kernels lag carries over. Where it has none, every
    other stack's fits give one level, the mean over all their STACK_QUALITY multipliers, set on each of them:
    the measured stacks agree on how far they trail CUDA but not on where (CANN's fit keeps CUDA's GEMM rate and
    streams at 0.58 of it; ROCm's is the other way about, GEMMs 0.68 and streams 0.83), so the pattern of one
    stack says nothing of another's and only the level carries. A stack's software maturity is part of what its
    chips deliver: before any row of theirs, ROCm, CANN or another stack is priced at the maturity the measured
    ones show, not at CUDA's. No fitted profile outside `profile`'s stack: stack_prior itself."""
    prior = stack_prior(profile, stack)
    chosen, own = maturity_sources(profile, stack, fitted)
    if not chosen:
        return prior
    weights = [float(len(p.rows)) for p in chosen]

    def mean_log(name: str) -> float:
        return math.fsum(w * math.log(getattr(p, name)) for p, w in zip(chosen, weights)) / math.fsum(weights)

    values = {name: math.exp(mean_log(name)) for name in KERNEL_QUALITY}
    if not own:
        level = math.exp(math.fsum(mean_log(name) for name in STACK_QUALITY) / len(STACK_QUALITY))
        values.update(dict.fromkeys(STACK_QUALITY, level))
    return dataclasses.replace(prior, name=f"{profile.name} on {stack}, at the software maturity of "
                                           f"{', '.join(p.id for p in chosen)}"
                                           f"{'' if own else f' (their level, {level:.2f} of CUDA)'}", **values)


def measures_maturity(profile: EngineProfile) -> bool:
    """Whether a stack profile's rows moved any of its STACK_QUALITY multipliers from stack_prior's 1: one whose rows
    were too few to refit (sglang-rocm's 3 for 4 parameters) holds the vendor libraries' rates, an assumption, and
    counting it in a stack's maturity would pull the measured fits toward CUDA's level by its rows."""
    return any(getattr(profile, name) != 1.0 for name in STACK_QUALITY)


def maturity_sources(profile: EngineProfile, stack: str, fitted: Iterable[EngineProfile]
                     ) -> tuple[tuple[EngineProfile, ...], bool]:
    """The stack profiles among `fitted` whose kernel-quality multipliers measured_stack_prior gives `profile` on
    `stack`, and whether they are `stack`'s own fits (else every stack's but `profile`'s, at their level); none
    where `stack` is `profile`'s own or nothing away from it was fitted."""
    if stack == profile.stack:
        return (), False
    others = [p for p in fitted if p.base and p.rows and p.stack != profile.stack and measures_maturity(p)]
    own = tuple(p for p in others if p.stack == stack)
    return own or tuple(others), bool(own)


def field_origins(profile: EngineProfile, base: EngineProfile) -> dict[str, str]:
    """Where each parameter (every PROFILE_SECTIONS field) of a stack profile refitted from `base` (vllm-rocm from
    vllm) comes from: 'base' where it is `base`'s value, 'prior' where it is what stack_prior puts in its place on
    the profile's stack (the vendor libraries' kernel rates, 1), 'fitted' where the stack's rows moved it."""
    prior = stack_prior(base, profile.stack)
    origins = {}
    for field in (f for section in PROFILE_SECTIONS for f in section.fields):
        value = getattr(profile, field)
        origins[field] = ("base" if value == getattr(base, field) else "prior" if value == getattr(prior, field)
                          else "fitted")
    return origins
