"""The columns of a serving-case table and the readers of its cells (empty cells mean "default")."""

from __future__ import annotations

import math
from collections.abc import Mapping

from parity.errors import InfeasiblePlan
from parity.simulate import LATENCY_KEYS


CASE_COLUMNS = ("case_id", "model", "system", "engine", "weights", "moe_weights", "kv", "mode", "isl", "osl",
                "concurrency", "tp", "pp", "attn_dp", "moe_tp", "moe_ep", "prefill_workers", "prefill_batch",
                "prefill_tp", "prefill_pp", "prefill_attn_dp", "prefill_moe_tp", "prefill_moe_ep", "decode_workers",
                "decode_batch", "decode_tp", "decode_pp", "decode_attn_dp", "decode_moe_tp", "decode_moe_ep")
# inputs a row may add; scenario_from_row reads each of them. engine_version, also read, is not one: a free-text
# label of the build that any cell passes, which crosscheck adds to its repeat-run key but not to its same-work key
OPTIONAL_COLUMNS = ("mtp_tokens", "mtp_acceptance", "moe_overlap", "attention_dp_hold_steps", "max_num_tokens",
                    "random_range_ratio", "batch_wait_timeout_iters", "batch_wait_max_tokens_ratio",
                    "scheduler_recv_interval", "redundant_experts", "shared_expert_replicas", "prefill_redundant_experts",
                    "prefill_shared_expert_replicas", "decode_redundant_experts", "decode_shared_expert_replicas",
                    "rank_per_die", "phase", "batch", "context", "attention_format", "prefill_system",
                    "offload_kv", "offload_weights", "mla_decode", "attention_weights", "max_num_seqs", "eager",
                    "offline", "eager_prefill", "normal_all_to_all", "separate_prefill", "moe_all_to_all",
                    "max_prefill_tokens", "chunked_prefill_size", "fp8_gemm", "moe_backend", "prefill_moe_backend",
                    "decode_moe_backend", "num_prompts", "prefill_fp4_gemm")
OUTPUT_COLUMNS = ("case_id", "ttft_s", "tpot_s", "output_tokens_per_s_per_chip", "output_tokens_per_s_per_user",
                  "chips", "memory_bytes_per_chip", "feasible", "note", "ttft_s_low", "ttft_s_high", "tpot_s_low",
                  "tpot_s_high", "output_tokens_per_s_per_chip_low", "output_tokens_per_s_per_chip_high", "flags")

# what the simulator adds (percentiles, ITL, E2E, preemptions, requests that waited for KV room); NaN under the
# steady-state model
# draft tokens a decode step may carry with multi-token prediction (`parity serve --mtp`, a row's mtp_tokens, a sweep
# axis): the deepest published runs draft 3 to 4; the bound keeps a mistyped count from pricing forever
MOST_MTP_TOKENS = 64

SIM_COLUMNS = tuple(k for k in LATENCY_KEYS if k not in ("ttft_s", "tpot_s")) + ("preemptions", "kv_waited")
MODEL_KINDS = ("steady", "sim")


def _cell(row: Mapping[str, object], key: str) -> str:
    value = row.get(key)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def _int(row: Mapping[str, object], key: str, default: int | None = None, minimum: int = 1) -> int:
    text = _cell(row, key)
    if not text:
        if default is None:
            raise InfeasiblePlan(f"{key} is required")
        return default
    try:
        value = float(text)
    except ValueError as err:
        raise InfeasiblePlan(f"{key} must be a whole number, got {text!r}") from err
    if not value.is_integer() or value < minimum:
        raise InfeasiblePlan(f"{key} must be a whole number >= {minimum}, got {text!r}")
    return int(value)


def flag(row: Mapping[str, object], key: str) -> bool:
    """A true/false column of a case row: blank, 0, false or no is False; 1, true or yes True; else refused."""
    text = _cell(row, key).lower()
    if text in ("", "0", "false", "no"):
        return False
    if text in ("1", "true", "yes"):
        return True
    raise InfeasiblePlan(f"{key} must be true or false, got {text!r}")


def _number(row: Mapping[str, object], key: str, rule: str) -> float | None:
    text = _cell(row, key)
    if not text:
        return None
    try:
        value = float(text)
    except ValueError as err:
        raise InfeasiblePlan(f"{key} must be a number {rule}, got {text!r}") from err
    if not math.isfinite(value):
        raise InfeasiblePlan(f"{key} must be a finite number {rule}, got {text!r}")
    return value
