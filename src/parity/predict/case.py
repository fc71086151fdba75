"""A serving case as the user states it (`Case`) and how a table row becomes one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from parity.engine import FP4_GEMMS, FP8_GEMMS, MOE_BACKENDS
from parity.errors import InfeasiblePlan
from parity.phase import PHASES
from parity.plan import Layout
from parity.predict.columns import MOST_MTP_TOKENS, READ_COLUMNS, _cell, _int, _number, flag, request_rate
from parity.simulate import CLIENT_PROFILES
from parity.simulate.clients import MOST_REQUEST_TOKENS
from parity.units import counted


def layout_from_row(row: Mapping[str, object], prefix: str) -> Layout:
    """A layout from the row's columns with this prefix; placement columns fall back to the unprefixed ones."""
    def placed(name: str) -> int:
        return _int(row, prefix + name, _int(row, name, 0, 0), 0)
    return Layout(tp=_int(row, prefix + "tp", 1), pp=_int(row, prefix + "pp", 1),
                  attn_dp=_int(row, prefix + "attn_dp", 1), moe_tp=_int(row, prefix + "moe_tp", 0, 0),
                  moe_ep=_int(row, prefix + "moe_ep", 0, 0), redundant_experts=placed("redundant_experts"),
                  shared_expert_replicas=placed("shared_expert_replicas"))


# the clients an open-loop row (request_rate) without a concurrency counts, as `parity serve --request-rate` does with
# its default --concurrency: they set the client profile's count of prompts where num_prompts is not given (a row
# was refused 'concurrency is required' where serve needs none: report-only tester fuzzDG 3)
OPEN_LOOP_CLIENTS = 32


@dataclass(frozen=True, slots=True, kw_only=True)
class Case:
    """One serving case as the user states it, typed but not yet resolved against the catalog: names
    of the model, system and engine, the workload, the layouts and the engine settings it overrides.
    A table row becomes one with `case_from_row`; the command line builds one directly."""

    model: str
    system: str
    isl: int
    osl: int
    concurrency: int
    case_id: str = ""
    engine: str = ""  # empty: the generic profile
    weights: str = ""  # empty: the checkpoint's format (fp32 served as bf16: plan.served_format)
    moe_weights: str = ""  # empty: as weights
    kv: str = ""  # empty: the engine's default
    mode: str = "agg"
    layout: Layout = Layout()  # the worker's (the prefill worker's when disaggregated)
    decode_layout: Layout | None = None  # disaggregated: the decode worker's
    prefill_workers: int | None = None
    decode_workers: int | None = None
    prefill_batch: int | None = None
    decode_batch: int | None = None
    moe_overlap: float | None = None
    mtp_tokens: int = 0
    mtp_acceptance: float = 0.0
    random_range_ratio: float | None = None  # None: the client profile's range (sim), fixed lengths (steady)
    engine_settings: tuple[tuple[str, float], ...] = ()  # EngineProfile field -> value the case sets
    attention_format: str = ""  # empty: the engine's default
    rank_per_die: bool | None = None  # each die of a multi-die package one rank (None: so on a multi-die chip)
    phase: str = "both"  # both: the closed loop; decode / prefill: one fixed-batch step (phase benchmark)
    batch: int = 0  # phase benchmarks: sequences decoded or prompts prefilled together by the deployment
    context: int = 0  # decode phase: tokens of KV each sequence holds
    prefill_system: str = ""  # disaggregated: prefill workers on another system (empty: the same)
    offload_kv: float = 0.0  # share of the KV cache kept in host memory (systems with a host link)
    offload_weights: float = 0.0  # share of the weights kept in host memory
    mla_decode: str = ""  # absorbed or unabsorbed MLA decode (empty: the engine's default)
    attention_weights: str = ""  # the attention projections' format where it differs (empty: weights')
    engine_version: str = ""  # the engine's version as the source names it ('vLLM 0.7.3'): its defaults apply
    fp8_gemm: str = ""  # the block-FP8 dense GEMM the run picked (engine.FP8_GEMMS; empty: the engine's default),
    # where a launch setting departs from it; engine_kernels.toml entries may need it
    moe_backend: str = ""  # the fused-MoE backend the run picked (engine.MOE_BACKENDS; empty: the engine's default):
    # agg rows' moe_backend column, disaggregated rows' prefill_moe_backend (the prefill workers')
    decode_moe_backend: str = ""  # disaggregated: the decode workers' (the decode_moe_backend column)
    offline: bool = False  # every request submitted at once (vLLM's LLM class): the engine's offline defaults
    num_prompts: int = 0  # requests the benchmark client sent in the run (0: its client profile's count)
    client: str = ""  # the benchmark client profile the run used (simulate.CLIENT_PROFILES; empty: benchmark_of's)
    request_rate: float = 0.0  # open-loop arrivals [requests/s] (0: the closed loop; inf: every request at once)
    max_concurrency: int = 0  # an open loop's cap on requests in flight (0: none), as vLLM's --max-concurrency
    prefill_fp4_gemm: str = ""  # disaggregated: FlashInfer's FP4 GEMM backend the prefill workers ran
    # (engine.FP4_GEMMS; empty: the calibrated FP4 GEMM); cudnn builds plans per new token count (simulate.PlanBuilds)

    def runs_per_die(self, dies: int) -> bool:
        """Whether each die of the system's `dies`-die packages is a rank: as rank_per_die says, else on any
        multi-die package (serve's default, and CANN's)."""
        return self.rank_per_die if self.rank_per_die is not None else dies > 1


# optional columns that set an engine's habit: column, EngineProfile field, the rule its value obeys
_ENGINE_COLUMNS = (("attention_dp_hold_steps", "attention_dp_hold_steps", ">= 0"),
                   ("batch_wait_timeout_iters", "batch_wait_steps", ">= 0"),
                   ("batch_wait_max_tokens_ratio", "batch_wait_tokens_ratio", "in [0, 1]"),
                   ("scheduler_recv_interval", "recv_interval_steps", ">= 0"))

_SETTING_COLUMNS = {field_name: (column, rule) for column, field_name, rule in _ENGINE_COLUMNS}
_SETTING_COLUMNS["max_batch_size"] = ("max_num_seqs", "a whole number >= 1")

# flags that describe how the source ran the engine, each as the engine habit it changes:
# eager: kernels launched one by one (vLLM --enforce-eager), no graph replay;
# offline: every request submitted at once with the same lengths (vLLM benchmark_throughput), so the
# sequences grow in step and each holds isl + osl tokens of KV at the end even where pages come on demand;
# eager_prefill: steps with prompt tokens run without CUDA graphs while decode-only steps replay them (vLLM's
# cudagraph_mode FULL_DECODE_ONLY), so the simulator's host floor on prompt steps applies;
# normal_all_to_all: the expert all-to-all runs DeepEP's normal kernels in decode too (TensorRT-LLM's
# TRTLLM_FORCE_ALLTOALL_METHOD=DeepEP);
# separate_prefill: prompt steps pause decodes instead of sharing steps with them (SGLang's own default,
# enable_mixed_chunk False, which speculative decoding also forces: python/sglang/srt/server_args.py), where the
# engine profile mixes them (mixes_prefill, true for SGLang: aiconfigurator's generator sets enable_mixed_chunk);
# moe_all_to_all: the source ran SGLang with an expert all-to-all backend (--moe-a2a-backend deepep, earlier
# --enable-deepep-moe), so attention-DP prompt steps dispatch tokens to the experts instead of gathering them by
# all-reduce (prompt_gather_all_reduce, what SGLang does without such a backend: layers/communicator.py)
FLAG_COLUMNS = (("eager", "cuda_graphs", False), ("offline", "kv_on_demand", False),
                 ("eager_prefill", "sim_eager_prefill", True), ("normal_all_to_all", "normal_all_to_all", True),
                 ("separate_prefill", "mixes_prefill", False), ("moe_all_to_all", "prompt_gather_all_reduce", False))


# the kind of value (columns.COLUMN_KINDS) each column case_from_row reads holds, by the reader that reads it: text
# (_cell), a number (_number, request_rate), a flag (flag); every other is a whole number (_int)
_TEXT_INPUTS = ("case_id", "model", "system", "engine", "engine_version", "weights", "moe_weights", "kv", "mode",
                "phase", "attention_format", "attention_weights", "prefill_system", "mla_decode", "fp8_gemm",
                "moe_backend", "prefill_moe_backend", "decode_moe_backend", "prefill_fp4_gemm", "client")
_NUMBER_INPUTS = ("moe_overlap", "mtp_acceptance", "random_range_ratio", "offload_kv", "offload_weights",
                  "request_rate", *(column for column, _, _ in _ENGINE_COLUMNS))
INPUT_KINDS = {**dict.fromkeys(READ_COLUMNS, "count"), **dict.fromkeys(_TEXT_INPUTS, "text"),
               **dict.fromkeys(_NUMBER_INPUTS, "number"),
               **dict.fromkeys(("rank_per_die", *(column for column, _, _ in FLAG_COLUMNS)), "flag")}


def case_from_row(row: Mapping[str, object]) -> Case:
    """A Case from one table row (every cell text or a number); raises ParityError naming the bad field."""
    extra = row.get(None)  # type: ignore[call-overload] - csv.DictReader's key for cells beyond the header
    if extra:
        raise InfeasiblePlan(f"{counted(len(extra), 'cell')} beyond the header's columns "
                             f"({', '.join(map(repr, extra[:3]))}): "
                             "an unquoted comma shifts every cell after it")
    settings: dict[str, float] = {}
    for column, field_name, rule in _ENGINE_COLUMNS:
        value = _number(row, column, rule)
        if value is not None:
            settings[field_name] = value
    for column in ("max_num_tokens", "max_batch_size"):  # the engine's step token budget and sequence cap
        if _cell(row, column):
            settings[column] = _int(row, column)
    if _cell(row, "max_num_seqs"):  # the engine's cap on sequences run at once (vLLM max_num_seqs)
        settings["max_batch_size"] = _int(row, "max_num_seqs")
    # SGLang's launch budgets for prompts: --max-prefill-tokens (PromptAdmission's input budget) and
    # --chunked-prefill-size (-1: chunked prefill off; simulate.policies.scheduler_of)
    if _cell(row, "max_prefill_tokens"):
        settings["sim_max_prefill_tokens"] = _int(row, "max_prefill_tokens")
    if _cell(row, "chunked_prefill_size"):
        chunk = _int(row, "chunked_prefill_size", minimum=-1)
        if chunk == 0:
            raise InfeasiblePlan("chunked_prefill_size must be -1 (off) or a whole number >= 1, got 0")
        settings["sim_chunked_prefill_tokens"] = chunk
    for column, field_name, value in FLAG_COLUMNS:
        if flag(row, column):
            settings[field_name] = value
    mode = (_cell(row, "mode") or "agg").lower()
    disagg = mode == "disagg"
    phase = (_cell(row, "phase") or "both").lower()
    if phase not in PHASES:
        raise InfeasiblePlan(f"phase must be one of {', '.join(PHASES)}, got {phase!r}")
    fp8_gemm = _cell(row, "fp8_gemm")
    if fp8_gemm and fp8_gemm not in FP8_GEMMS:
        raise InfeasiblePlan(f"fp8_gemm must be one of {', '.join(FP8_GEMMS)} (or empty), got {fp8_gemm!r}")
    for column in ("moe_backend", "prefill_moe_backend", "decode_moe_backend"):  # refused when bad in either mode
        if (value := _cell(row, column)) and value not in MOE_BACKENDS:
            raise InfeasiblePlan(f"{column} must be one of {', '.join(MOE_BACKENDS)} (or empty), got {value!r}")
    fp4_gemm = _cell(row, "prefill_fp4_gemm")  # refused when bad in either mode, read for disaggregated rows
    if fp4_gemm and fp4_gemm not in FP4_GEMMS:
        raise InfeasiblePlan(f"prefill_fp4_gemm must be one of {', '.join(FP4_GEMMS)} (or empty), got {fp4_gemm!r}")
    mtp_tokens = _int(row, "mtp_tokens", 0, 0)
    if mtp_tokens > MOST_MTP_TOKENS:
        raise InfeasiblePlan(f"mtp_tokens {mtp_tokens:,} is beyond any sensible value (at most {MOST_MTP_TOKENS})")
    moe_backends = [_cell(row, c) for c in
                    (("prefill_moe_backend", "decode_moe_backend") if disagg else ("moe_backend",))]
    fixed = phase != "both"
    batch = _int(row, "batch", None if fixed else 0)  # read (and refused when bad) in every phase
    context = _length(row, "context", None if phase == "decode" else 0)
    if not disagg:
        for column in ("prefill_redundant_experts", "prefill_shared_expert_replicas", "decode_redundant_experts",
                       "decode_shared_expert_replicas"):
            _int(row, column, 0, 0)  # read (and refused when bad) in either mode

    def optional(key: str) -> int | None:
        return _int(row, key) if _cell(row, key) else None

    client = _cell(row, "client").lower()
    if client and client not in CLIENT_PROFILES:
        raise InfeasiblePlan(f"client must be one of {', '.join(CLIENT_PROFILES)} (or empty), got {client!r}")
    rate, cap = request_rate(row), _int(row, "max_concurrency", 0)
    if cap and not rate:
        raise InfeasiblePlan("max_concurrency caps an open loop's requests in flight: give the row a request_rate "
                             "(a closed loop's clients are its concurrency)")
    if cap and _cell(row, "concurrency") and _int(row, "concurrency") != cap:
        raise InfeasiblePlan(f"concurrency {_int(row, 'concurrency'):,} with max_concurrency {cap:,}: an open loop's "
                             "clients are its cap on requests in flight (max_concurrency), which also sets the client "
                             "profile's count of prompts; give one of them, or the same number in both")
    if rate and fixed:
        raise InfeasiblePlan(f"request_rate with phase {phase}: a fixed-batch step has no arrivals")
    if fixed and _cell(row, "concurrency"):  # as serve refuses --concurrency with --phase
        raise InfeasiblePlan(f"concurrency with phase {phase}: a fixed-batch step has no clients; its sequences "
                             f"{'(prompts) ' if phase == 'prefill' else ''}are the row's batch: leave concurrency "
                             "empty")
    if phase == "prefill" and mtp_tokens:  # as serve refuses --mtp with --phase prefill
        raise InfeasiblePlan("mtp_tokens with phase prefill: MTP drafts run in decode steps, and a prefill step "
                             "prices the main model's forward over the prompts; leave mtp_tokens empty")

    return Case(case_id=_cell(row, "case_id"), model=_cell(row, "model") or _missing("model"),
                system=_cell(row, "system") or _missing("system"), engine=_cell(row, "engine"),
                weights=_cell(row, "weights"), moe_weights=_cell(row, "moe_weights"), kv=_cell(row, "kv"), mode=mode,
                isl=_length(row, "isl", (context or None) if fixed else None),
                osl=_length(row, "osl", 1 if fixed else None),
                concurrency=_int(row, "concurrency", batch or cap or (OPEN_LOOP_CLIENTS if rate else None)),
                layout=layout_from_row(row, "prefill_" if disagg else ""),
                decode_layout=layout_from_row(row, "decode_") if disagg else None,
                prefill_workers=optional("prefill_workers") if disagg else None,
                decode_workers=optional("decode_workers") if disagg else None,
                prefill_batch=optional("prefill_batch") if disagg else None,
                decode_batch=optional("decode_batch") if disagg else None,
                moe_overlap=_number(row, "moe_overlap", "in [0, 1]"), mtp_tokens=mtp_tokens,
                mtp_acceptance=_number(row, "mtp_acceptance", "in [0, mtp_tokens]") or 0.0,
                random_range_ratio=_number(row, "random_range_ratio", "in [0, 1]"),
                engine_settings=tuple(settings.items()), attention_format=_cell(row, "attention_format"),
                rank_per_die=flag(row, "rank_per_die") if _cell(row, "rank_per_die") else None, phase=phase,
                batch=batch, context=context,
                prefill_system=_cell(row, "prefill_system"),
                offload_kv=_number(row, "offload_kv", "in [0, 1]") or 0.0,
                offload_weights=_number(row, "offload_weights", "in [0, 1]") or 0.0,
                mla_decode=_cell(row, "mla_decode"), attention_weights=_cell(row, "attention_weights"),
                engine_version=_cell(row, "engine_version"), offline=flag(row, "offline"),
                fp8_gemm=fp8_gemm, moe_backend=moe_backends[0],
                decode_moe_backend=moe_backends[1] if disagg else "", num_prompts=_int(row, "num_prompts", 0),
                client=client, request_rate=rate, max_concurrency=cap,
                prefill_fp4_gemm=fp4_gemm if disagg else "")


def _length(row: Mapping[str, object], key: str, default: int | None) -> int:
    """A length in tokens (isl, osl, context): a whole number, at most MOST_REQUEST_TOKENS, as --isl takes it."""
    value = _int(row, key, default)
    if value > MOST_REQUEST_TOKENS:
        raise InfeasiblePlan(f"{key} {value:,} is beyond any context length (at most {MOST_REQUEST_TOKENS:,})")
    return value


def _missing(key: str) -> str:
    raise InfeasiblePlan(f"{key} is required")
