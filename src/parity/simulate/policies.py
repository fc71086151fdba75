"""The scheduler as small policy objects, one per engine habit, each with its parameters and source.
`scheduler_of` reads them from an engine profile (the same fields the steady-state model uses)."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, is_dataclass, replace

from parity.engine import EngineProfile
from parity.errors import ParityError
from parity.model import Model
from parity.units import counted

__all__ = ["PromptAdmission", "sglang_chunked_prefill_tokens", "sglang_dp_chunk_tokens", "TokenBudget", "KvAdmission", "OverlapScheduling", "AttentionDpBalance", "BatchWait", "RecvInterval",
           "Mtp", "DisaggHandOff", "DpRouting", "routes_at_random", "PlanBuilds", "cudnn_fp4_plan_builds", "Scheduler", "scheduler_of",
           "mixes_prompts", "policy_parameters",
           "prefill_worker_scheduler",
           "decode_worker_scheduler"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PromptAdmission:
    """SGLang's PrefillAdder: a prompt step takes waiting prompts first come first served while two budgets
    last, both less the running decodes when prompts mix with them: `max_prefill_tokens` (--max-prefill-tokens,
    default 16,384) refuses a whole prompt not smaller than what is left of it, unless it is the step's first;
    the step budget (TokenBudget.max_num_tokens, here --chunked-prefill-size) cuts the last prompt taken to
    what is left of it, and the step takes no more. Source: sgl-project/sglang python/sglang/srt/managers/schedule_policy.py (PrefillAdder
    .add_one_req: `if real_input_tokens >= self.rem_input_tokens and len(self.can_run_list) != 0: return
    AddReqResult.OTHER`; the chunked branch sets new_chunked_req; _update_prefill_budget takes each prompt's
    tokens from both budgets; mixed_with_decode_tokens = running batch size), v0.4-v0.5."""

    max_prefill_tokens: float
    source: str = "SGLang schedule_policy.PrefillAdder, server_args (max_prefill_tokens, chunked_prefill_size)"


# SGLang's --chunked-prefill-size when unset, by the GPU's memory [MiB, as torch reports it]: (below, tokens);
# sgl-project/sglang python/sglang/srt/server_args.py (_handle_gpu_memory_settings, v0.5.x: "A10, 4090" < 35 GiB
# 2,048; "A100 (40GB), L40" < 60 GiB 4,096; "H100", "H20, H200" < 160 GiB 8,192; "B200, MI300" 16,384)
_SGLANG_CHUNKED_PREFILL = ((35 * 1024, 2048), (60 * 1024, 4096), (160 * 1024, 8192))
_SGLANG_CHUNKED_PREFILL_LARGEST = 16384


def sglang_chunked_prefill_tokens(memory_bytes: float) -> int:
    """SGLang's default chunked prefill size [tokens] on a GPU of `memory_bytes` [B] (_SGLANG_CHUNKED_PREFILL).
    H100 (80 GB): 8,192; B200: 16,384."""
    mib = memory_bytes / 2**20
    for below, tokens in _SGLANG_CHUNKED_PREFILL:
        if mib < below:
            return tokens
    return _SGLANG_CHUNKED_PREFILL_LARGEST


# EngineProfile.sim_chunked_prefill_tokens for SGLang's --chunked-prefill-size -1: chunked prefill off. The
# scheduler then has no chunk budget (python/sglang/srt/managers/scheduler.py: `if self.chunked_prefill_size <= 0:
# # -1 means disable` -> None, so PrefillAdder's rem_chunk_tokens is None and every prompt runs whole), and
# attention DP leaves it off (server_args._handle_data_parallelism: -1 // dp_size is -1 in Python), so a prompt
# step takes whole prompts while --max-prefill-tokens lasts, the first whatever its length (PromptAdmission).
_CHUNKED_PREFILL_OFF = -1


def sglang_dp_chunk_tokens(chunked_prefill_tokens: int, attn_dp: int) -> int:
    """SGLang's chunked prefill size [tokens] per attention-DP rank: with --enable-dp-attention the server
    divides --chunked-prefill-size by the DP size ("DP attention is enabled. The chunked prefill size is adjusted
    to ... to avoid MoE kernel issues"), and each rank's scheduler takes its prompts under that share.
    sgl-project/sglang python/sglang/srt/server_args.py (__post_init__ from v0.4.4.post1, _handle_data_parallelism in
    v0.5.x: `self.chunked_prefill_size = self.chunked_prefill_size // self.dp_size`). B200's 16,384 over DP 8:
    2,048 a rank. Up to 0.4.4 the server halved it instead (the 0.4.3.post2 wheel), which this does not model: the
    only rows it touches, dstack's H200 SGLang 0.4.3.post2 runs at DP 8, are priced with 1,024 a rank where 4,096
    ran (halved, they come out 4 points further over: measurements/README.md, "dstack's SGLang 0.4.3.post2
    attention-DP rows on H200")."""
    return max(int(chunked_prefill_tokens) // max(int(attn_dp), 1), 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenBudget:
    """Continuous batching with a token budget per step and chunked prefill: a step carries at most
    `max_num_tokens` tokens (decodes count one each, times the MTP width), prompts beyond it run in
    chunks; `mixed`: prompt chunks share steps with decodes, else a step with prompts pauses decodes.
    `max_batch_size`: most sequences a rank runs at once. `prompt_admission`: SGLang's second budget on a
    step's prompts (PromptAdmission; None: the step budget alone). `chunked`: a prompt longer than what is left of
    the budget runs in chunks; else it runs whole and, when it does not fit, waits with every prompt
    behind it (TensorRT-LLM cpp/tensorrt_llm/batch_manager/microBatchScheduler.cpp, "skip chunking": break at
    the first context request over max_num_tokens; enable_chunked_prefill is off by default).
    The budget is a rank's: SGLang with attention DP gives each rank its chunked prefill size over the DP size
    (sglang_dp_chunk_tokens). Sources: vLLM (max_num_batched_tokens, chunked prefill, max_num_seqs), TensorRT-LLM
    (max_num_tokens, in-flight batching, max_batch_size), SGLang (chunked_prefill_size; enable_mixed_chunk mixes)."""

    max_num_tokens: int
    mixed: bool
    max_batch_size: int
    chunked: bool = True
    source: str = "engine profile max_num_tokens, mixes_prefill, max_batch_size"
    prompt_admission: PromptAdmission | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class KvAdmission:
    """KV admission by blocks: a request is admitted when its blocks fit. `on_demand`: blocks grow with
    the output and the latest-admitted request is preempted (recomputed later) when none are free
    (vLLM, SGLang); else the whole length is reserved at admission and nothing is preempted
    (TensorRT-LLM's GUARANTEED_NO_EVICT). capacity_tokens: KV tokens one rank holds."""

    capacity_tokens: float
    block_tokens: int
    on_demand: bool
    source: str = ("vLLM block_size 16 / SGLang page size 1 / TensorRT-LLM tokens_per_block 32; engine profile "
                   "kv_on_demand, kv_memory_fraction")

    def blocks(self, tokens: float) -> float:
        return math.ceil(tokens / self.block_tokens) * self.block_tokens


@dataclass(frozen=True, slots=True, kw_only=True)
class OverlapScheduling:
    """The scheduler prepares step n+1 while step n runs, so a request that arrives during step n is
    first seen when step n+1 is planned and runs in step n+2. Sources: SGLang's overlap scheduler (on by
    default since v0.4), TensorRT-LLM's PyTorch backend (disable_overlap_scheduler false by default);
    vLLM V1 schedules synchronously by default."""

    on: bool
    source: str = "SGLang v0.4 overlap scheduler; TensorRT-LLM disable_overlap_scheduler=False"


@dataclass(frozen=True, slots=True, kw_only=True)
class AttentionDpBalance:
    """With attention data parallelism, new prompts are held until every rank has one or `hold_steps`
    steps pass, so that all ranks prefill in the same step (TensorRT-LLM attention_dp_config
    enable_balance / timeout_iters). 0: each rank prefills its prompts as they come, the others wait
    in lockstep."""

    hold_steps: float
    source: str = "engine profile attention_dp_hold_steps (TensorRT-LLM attention_dp_config)"


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchWait:
    """Without attention DP, new prompts wait while decodes run until their tokens and the decodes'
    reach `tokens_ratio` x the budget, or `timeout_steps` steps pass (TensorRT-LLM
    batch_wait_timeout_iters, batch_wait_max_tokens_ratio). Off when either is 0."""

    timeout_steps: float
    tokens_ratio: float
    source: str = "engine profile batch_wait_steps, batch_wait_tokens_ratio (TensorRT-LLM)"

    @property
    def on(self) -> bool:
        return self.timeout_steps > 0 and self.tokens_ratio > 0


@dataclass(frozen=True, slots=True, kw_only=True)
class RecvInterval:
    """The scheduler takes in new requests only every `steps` decode steps, its counter restarting at every
    attempt whatever it finds (so a request sent meanwhile waits for the next attempt), and after any step
    with prompts (SGLang --scheduler-recv-interval; without attention DP). 1 or less: every step. Source:
    sgl-project/sglang python/sglang/srt/managers/scheduler_recv_skipper.py (SchedulerRecvSkipper.handle:
    the counter adds 1 per decode step and 1,000 after any other, and `if self._counter >= self._threshold:
    self._counter = 0; should_recv = True`), v0.5."""

    steps: float
    source: str = "engine profile recv_interval_steps (SGLang scheduler_recv_interval)"


@dataclass(frozen=True, slots=True, kw_only=True)
class Mtp:
    """Multi-token prediction: `tokens` drafts per step, each accepted (in order) with probability p
    such that the mean accepted per step is `acceptance` = p + p^2 + ... + p^tokens; the tokens a step
    keeps are a distribution, so the decode steps a request needs vary (DeepSeek-V3 Sec. 2.2)."""

    tokens: int
    acceptance: float

    def probability(self) -> float:
        """p with sum_{i=1..tokens} p^i = acceptance (bisection)."""
        if self.tokens == 0 or self.acceptance <= 0:
            return 0.0
        if self.acceptance >= self.tokens:
            return 1.0
        lo, hi = 0.0, 1.0
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if sum(mid ** i for i in range(1, self.tokens + 1)) > self.acceptance:
                hi = mid
            else:
                lo = mid
        return 0.5 * (lo + hi)

    def moments(self) -> tuple[float, float]:
        """(mean, variance) of the tokens one step keeps (1 + accepted drafts)."""
        p = self.probability()
        probs = [(p ** j) * (1.0 - p) for j in range(self.tokens)] + [p ** self.tokens]
        mean = sum((1 + j) * q for j, q in enumerate(probs))
        var = sum((1 + j - mean) ** 2 * q for j, q in enumerate(probs))
        return mean, var


@dataclass(frozen=True, slots=True, kw_only=True)
class DisaggHandOff:
    """How a disaggregated request passes from its prefill worker to a decode worker: `overhead_s` [s]
    beyond the KV transfer itself (transfer setup, the router, polling for completion), and whether its
    first token reaches the client from the prefill worker as the KV cache is handed on
    (`first_token_at_prefill`; a decode slot it then waits for delays its second token, i.e. TPOT) or
    only when a decode worker admits it."""

    overhead_s: float = 0.0
    first_token_at_prefill: bool = False
    source: str = "engine profile sim_disagg_ttft_overhead (else disagg_ttft_overhead), sim_disagg_first_token"


@dataclass(frozen=True, slots=True, kw_only=True)
class DpRouting:
    """Which attention-DP rank of a disaggregated worker a request lands on. `by_bootstrap_room`: the rank
    its bootstrap room (a random 63-bit number the router gives each request) names, so each rank gets
    requests at random whatever its load, on the prefill and on the decode worker alike; else the least
    loaded rank. Source: sgl-project/sglang python/sglang/srt/managers/data_parallel_controller.py
    (in PD disaggregation the controller sends a request to `self.workers[req.bootstrap_room %
    len(self.workers)]`, v0.4-v0.5; follow_bootstrap_room_scheduler later), the router drawing
    `bootstrap_room = random.randint(0, 2**63 - 1)` (sglang/srt/disaggregation/mini_lb.py)."""

    by_bootstrap_room: bool = False
    source: str = "SGLang data_parallel_controller (bootstrap_room % dp_size in PD disaggregation)"


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanBuilds:
    """A GEMM library that builds its plans on the host for each new problem shape, inside the step that first
    meets it, and keeps them per process: a prompt step pays `build_s` [s] for each of `own_shapes` weight shapes
    whose GEMMs run on a rank's own tokens when that rank meets a token count it has not run before, and for each
    of `gathered_shapes` whose GEMMs run on the attention-DP group's tokens gathered (their sum) when the group
    meets a new sum. The ranks step together, so a step waits for the rank that builds. Decode steps replay CUDA
    graphs captured (and their plans built) at startup and pay nothing; the worker's prompt steps carry its
    prompt tokens alone (a disaggregated prefill worker). A run starts with no count met, though a warm-up before
    it (srt-slurm's sa-bench sends 2 x concurrency prompts) meets some. The steady-state model, which prices one
    mean step, has no cache of the counts met so far and leaves it out."""

    build_s: float
    own_shapes: int
    gathered_shapes: int
    source: str = ""

    def __post_init__(self) -> None:
        if self.build_s < 0 or self.own_shapes < 0 or self.gathered_shapes < 0:
            raise ValueError(f"build_s, own_shapes and gathered_shapes must be >= 0, got {self.build_s}, "
                             f"{self.own_shapes}, {self.gathered_shapes}")

    def step_s(self, new_own: bool, new_gathered: bool) -> float:
        """Host time a prompt step builds plans [s]: some rank met a new count of its own tokens (new_own), the
        group a new sum (new_gathered)."""
        return self.build_s * (self.own_shapes * new_own + self.gathered_shapes * new_gathered)


# FlashInfer's cuDNN FP4 GEMM (mm_fp4 with backend cudnn, or auto under CUDA 13 with cuDNN >= 9.15; FlashInfer 0.6.1,
# flashinfer/gemm/gemm_base.py) builds a cuDNN graph with heur_mode A and B (create_cudnn_execution_plans_fp4_gemm)
# and its execution plans (build_plans_cudnn_fp4_gemm_graph), each functools.cache'd on the exact shapes: once per
# (token count, weight shape) and process. flashinfer-ai/flashinfer#2545 (YangXu1990uiuc, 2026-02-12) measures
# "Static (A+B): 262ms per shape" on Blackwell sm100 with cuDNN 9.21.0.
CUDNN_FP4_PLAN_BUILD_S = 0.262
# The linears an NVFP4 ModelOpt checkpoint of a DeepSeek-V3-like model runs as FP4 GEMMs: every dense linear but the
# attention input projections and lm_head, which nvidia/DeepSeek-V3.1-NVFP4's hf_quant_config.json excludes
# (exclude_modules: lm_head, self_attn.{q_a_proj, q_b_proj, kv_a_proj_with_mqa, kv_b_proj} of every layer, layer 61,
# the MTP module), and not the router (a plain matrix, not a quantised linear) or the routed experts (the fused-MoE
# kernel): the attention output projection and the dense MLP on a rank's own tokens (SGLang with attention DP and
# --moe-dense-tp-size 1, as the B200 recipes set it), the shared experts on the group's gathered tokens (SGLang
# 0.5.8.post1 gathers them for the MoE layer without an all-to-all backend: layers/dp_attention.py, SUM_LEN).
_FP4_OWN_TOKEN_MATRICES = ("o", "up", "down")
_FP4_GATHERED_MATRICES = ("shared_up", "shared_down")


def cudnn_fp4_plan_builds(model: Model) -> PlanBuilds:
    """PlanBuilds of FlashInfer's cuDNN FP4 GEMM for a model's NVFP4 checkpoint laid out as DeepSeek's (the linears
    _FP4_OWN_TOKEN_MATRICES and _FP4_GATHERED_MATRICES name; another checkpoint may quantise others, e.g. a Llama's
    qkv_proj): CUDNN_FP4_PLAN_BUILD_S a shape, over the distinct weight shapes (rows, cols) of those linears, on a
    rank's own tokens and on the gathered ones (every layer of one kind shares a shape, and so a plan).
    DeepSeek-R1: o_proj 16,384 x 7,168, the 3 dense layers' gate_up 7,168 x 36,864 and down 18,432 x 7,168 (3 own);
    the shared expert's gate_up 7,168 x 4,096 and down 2,048 x 7,168 (2 gathered)."""
    own: set[tuple[int, int]] = set()
    gathered: set[tuple[int, int]] = set()
    for layer in model.layers:
        for part in (layer.attention, layer.mlp):
            for m in part.matrices(model.hidden_size) if part is not None else ():
                if m.name in _FP4_OWN_TOKEN_MATRICES:
                    own.add((m.rows, m.cols))
                elif m.name in _FP4_GATHERED_MATRICES:
                    gathered.add((m.rows, m.cols))
    return PlanBuilds(build_s=CUDNN_FP4_PLAN_BUILD_S, own_shapes=len(own), gathered_shapes=len(gathered),
                      source="FlashInfer 0.6.1 mm_fp4 cuDNN backend: a graph and its plans per new shape "
                             "(flashinfer-ai/flashinfer#2545: 262 ms a shape, sm100, cuDNN 9.21); FP4 linears per "
                             "nvidia/DeepSeek-V3.1-NVFP4 hf_quant_config.json")


@dataclass(frozen=True, slots=True, kw_only=True)
class Scheduler:
    """One engine's scheduling habits, as the simulator runs them."""

    budget: TokenBudget
    kv: KvAdmission
    overlap: OverlapScheduling
    balance: AttentionDpBalance
    batch_wait: BatchWait
    recv: RecvInterval
    mtp: Mtp
    ttft_overhead_s: float = 0.0
    handoff: DisaggHandOff = DisaggHandOff()
    dp_routing: DpRouting = DpRouting()
    first_token_lag_steps: float = 0.0  # decode steps between a prompt's last chunk and its first token at the client
    plan_builds: PlanBuilds | None = None  # a GEMM library's per-shape plan builds in prompt steps (None: none)

    @property
    def disagg_ttft_overhead_s(self) -> float:
        """The disaggregated hand-off beyond the KV transfer [s] (DisaggHandOff.overhead_s)."""
        return self.handoff.overhead_s

    def describe(self) -> tuple[str, ...]:
        b = self.budget
        prompts = "prompt chunks" if b.chunked else "whole prompts (no chunked prefill)"
        return (f"step budget {b.max_num_tokens} tokens"
                + (f" (SGLang prompt admission: at most {b.prompt_admission.max_prefill_tokens:,.0f} prompt tokens, "
                   f"a prompt not fitting what is left waits)" if b.prompt_admission is not None else "") + ", "
                f"{prompts + ' mixed with decodes' if b.mixed else 'prompt steps pause decodes'}, "
                f"{'' if b.chunked or b.mixed else 'whole prompts (no chunked prefill), '}"
                f"at most {counted(b.max_batch_size, 'sequence')} per rank",
                f"KV {'grows on demand with preemption' if self.kv.on_demand else 'reserved at admission'}, "
                f"{self.kv.capacity_tokens:,.0f} tokens per rank in blocks of {self.kv.block_tokens}",
                f"overlap scheduling {'on' if self.overlap.on else 'off'}"
                + (f"; attention-DP prompts held up to {self.balance.hold_steps:g} steps" if self.balance.hold_steps
                   else "")
                + (f"; batch waiting {self.batch_wait.timeout_steps:g} steps / {self.batch_wait.tokens_ratio:.0%}"
                   if self.batch_wait.on else "")
                + (f"; requests taken in every {self.recv.steps:g} decode steps" if self.recv.steps > 1 else "")
                + (f"; MTP {self.mtp.tokens} drafts, {self.mtp.acceptance:g} accepted per step" if self.mtp.tokens
                   else "")
                + (f"; prompt steps build GEMM plans for new token counts ({self.plan_builds.own_shapes} + "
                   f"{self.plan_builds.gathered_shapes} shapes, {self.plan_builds.build_s * 1e3:.0f} ms each)"
                   if self.plan_builds else ""))


_BLOCKS = {"vllm": 16, "sglang": 1, "trtllm": 32}
_OVERLAP = {"vllm": False, "sglang": True, "trtllm": True}
# engines whose speculative decoding (MTP) turns overlap scheduling off: SGLang's server_args
# (_handle_speculative_decoding: for EAGLE, and NEXTN which runs as EAGLE, `self.disable_overlap_schedule = True`,
# "Overlap scheduler is disabled because of using eagle speculative decoding", v0.4-v0.5 without SGLANG_ENABLE_SPEC_V2)
_NO_OVERLAP_WITH_MTP = frozenset({"sglang"})
# engines whose disaggregated workers place requests on attention-DP ranks by their bootstrap room (DpRouting)
_DP_BY_BOOTSTRAP_ROOM = frozenset({"sglang"})


def routes_at_random(profile: EngineProfile) -> bool:
    """Whether the engine's disaggregated workers place each request on an attention-DP rank at random (DpRouting:
    by its bootstrap room), a draw from the run's seed."""
    return (profile.base or profile.id) in _DP_BY_BOOTSTRAP_ROOM


def mixes_prompts(profile: EngineProfile) -> bool:
    """Whether the simulator's steps of an engine carry prompt chunks beside decodes (TokenBudget.mixed): the profile
    mixes them (mixes_prefill) and the simulator does not run its prompt steps apart (sim_separate_prefill)."""
    return bool(profile.mixes_prefill) and not profile.sim_separate_prefill


def scheduler_of(profile: EngineProfile, kv_capacity_tokens: float, attn_dp: int = 1, mtp_tokens: int = 0,
                 mtp_acceptance: float = 0.0, chip_memory_bytes: float | None = None, prompts: bool = True) -> Scheduler:
    """The policies of an engine profile (unknown engines: vLLM-like, synchronous, blocks of 16). With SGLang's
    prompt admission (profile.sim_max_prefill_tokens > 0) the step budget is the deployment's chunked prefill
    size (profile.sim_chunked_prefill_tokens), else SGLang's default on a chip of `chip_memory_bytes` [B], at
    most the profile's max_num_tokens; with attention DP over `attn_dp` ranks each rank's budget is that over
    attn_dp (sglang_dp_chunk_tokens) on a worker that runs prompts (`prompts` False: a disaggregated decode
    worker, whose requests arrive prefilled, outside the prompt budget that the division serves). With chunked
    prefill off (sim_chunked_prefill_tokens -1, _CHUNKED_PREFILL_OFF) a rank's prompt step takes whole prompts
    under the prompt admission's input budget, at most max_num_tokens in all."""
    if kv_capacity_tokens < 1:
        raise ParityError("not even one token of KV cache fits beside the weights")
    d = int(attn_dp)
    step_tokens = int(profile.max_num_tokens)
    admission = None
    unchunked = profile.sim_chunked_prefill_tokens == _CHUNKED_PREFILL_OFF
    if profile.sim_max_prefill_tokens > 0 and not unchunked:
        admission = PromptAdmission(max_prefill_tokens=float(profile.sim_max_prefill_tokens))
        if profile.sim_chunked_prefill_tokens > 0:
            step_tokens = min(step_tokens, int(profile.sim_chunked_prefill_tokens))
        elif chip_memory_bytes is not None:
            step_tokens = min(step_tokens, sglang_chunked_prefill_tokens(chip_memory_bytes))
        if prompts:
            step_tokens = sglang_dp_chunk_tokens(step_tokens, d)
    elif profile.sim_max_prefill_tokens > 0:  # chunked prefill off: whole prompts under the input budget alone
        admission = PromptAdmission(max_prefill_tokens=float(profile.sim_max_prefill_tokens))
    return Scheduler(
        budget=TokenBudget(max_num_tokens=step_tokens,
                           mixed=mixes_prompts(profile),
                           max_batch_size=int(profile.max_batch_size), prompt_admission=admission,
                           chunked=bool(profile.sim_chunked_prefill) and not unchunked),
        kv=KvAdmission(capacity_tokens=float(kv_capacity_tokens), block_tokens=_BLOCKS.get(profile.id, 16),
                       on_demand=bool(profile.kv_on_demand)),
        overlap=OverlapScheduling(on=_OVERLAP.get(profile.id, False)
                                  and not (mtp_tokens and (profile.base or profile.id) in _NO_OVERLAP_WITH_MTP)),
        balance=AttentionDpBalance(hold_steps=float(profile.attention_dp_hold_steps) if d > 1 else 0.0),
        batch_wait=BatchWait(timeout_steps=float(profile.batch_wait_steps) if d == 1 else 0.0,
                             tokens_ratio=float(profile.batch_wait_tokens_ratio)),
        recv=RecvInterval(steps=float(profile.recv_interval_steps) if d == 1 else 0.0),
        mtp=Mtp(tokens=int(mtp_tokens), acceptance=float(mtp_acceptance)),
        ttft_overhead_s=float(profile.ttft_overhead_s),
        handoff=DisaggHandOff(overhead_s=float(profile.disagg_ttft_overhead_s if profile.sim_disagg_ttft_overhead_s is None
                                               else profile.sim_disagg_ttft_overhead_s),
                              first_token_at_prefill=profile.sim_disagg_first_token == "prefill"),
        dp_routing=DpRouting(by_bootstrap_room=routes_at_random(profile)),
        first_token_lag_steps=float(profile.sim_first_token_steps))


def policy_parameters(scheduler: Scheduler) -> list[tuple[str, str, object, str]]:
    """The scheduler as named policies: (policy, parameter, value, source) for every parameter of every
    policy object it holds, then its plain timing fields under "timing". Reads the dataclasses, so a new
    policy shows without being listed here."""
    out: list[tuple[str, str, object, str]] = []
    timing = []
    for f in fields(scheduler):
        value = getattr(scheduler, f.name)
        if value is None:  # an optional policy the engine does not have
            continue
        if not is_dataclass(value):
            timing.append(("timing", f.name, value, "engine profile (ttft_overhead_s, sim_first_token_steps)"))
            continue
        source = getattr(value, "source", "") or (type(value).__doc__ or "").split(".")[0]
        for p in fields(value):
            if p.name == "source":
                continue
            inner = getattr(value, p.name)
            if inner is None:  # an optional policy the engine does not have
                continue
            if is_dataclass(inner):  # a policy inside a policy (the prompt admission of a token budget)
                out += [(type(inner).__name__, q.name, getattr(inner, q.name), getattr(inner, "source", ""))
                        for q in fields(inner) if q.name != "source"]
                continue
            out.append((type(value).__name__, p.name, inner, source))
    return out + timing


# engines whose disaggregated prefill (context) workers schedule synchronously: TensorRT-LLM's, as aiconfigurator's
# generator writes them (ai-dynamo/aiconfigurator src/aiconfigurator/generator/rule_plugin/trtllm.rule: `prefill
# disable_overlap_scheduler = true`, `decode disable_overlap_scheduler = false`) and as InferenceX's recipes run them
# (ishandhanani/srt-slurm recipes/trtllm/*: prefill `disable_overlap_scheduler: true`)
_SYNCHRONOUS_PREFILL_WORKERS = frozenset({"trtllm"})


def decode_worker_scheduler(scheduler: Scheduler) -> Scheduler:
    """A disaggregated decode worker's scheduler, from the engine's: it holds no prompts for attention-DP
    balance or batch waiting. TensorRT-LLM's _balance_adp_requests releases context requests at once unless
    every rank has generation requests (`if timeout_reached or not all_ranks_have_gen_requests`), and its batch
    waiting acts only with generation requests in the step; a decode worker's new requests arrive as
    generation-only requests, scheduled as fitting_disagg_gen_init_requests, outside the context requests either
    policy holds (NVIDIA/TensorRT-LLM tensorrt_llm/_torch/pyexecutor/py_executor.py, _schedule and
    _balance_adp_requests, v1.1-v1.2)."""
    return replace(scheduler, balance=AttentionDpBalance(hold_steps=0.0),
                   batch_wait=BatchWait(timeout_steps=0.0, tokens_ratio=0.0))


def prefill_worker_scheduler(scheduler: Scheduler, profile: EngineProfile) -> Scheduler:
    """A disaggregated prefill worker's scheduler, from the engine's: no attention-DP balance hold or batch
    waiting either (decode_worker_scheduler: the hold waits for every rank to have generation requests, which a
    prefill worker never has), and a prefill worker of _SYNCHRONOUS_PREFILL_WORKERS without overlap scheduling."""
    free = decode_worker_scheduler(scheduler)
    synchronous = (profile.base or profile.id) in _SYNCHRONOUS_PREFILL_WORKERS
    return replace(free, overlap=OverlapScheduling(on=False)) if synchronous else free
