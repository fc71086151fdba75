"""The columns of a serving-case table and the readers of its cells (empty cells mean "default")."""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence

from parity.errors import InfeasiblePlan, ParityError
from parity.predict.measured import SCORED
from parity.simulate import CLIENT_KEYS, LATENCY_KEYS


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
                    "decode_moe_backend", "num_prompts", "prefill_fp4_gemm", "request_rate", "max_concurrency",
                    "client")
# every column case_from_row reads: engine_version (above) and max_batch_size (the engine's sequence cap, as
# max_num_seqs) besides the case's and the optional ones
READ_COLUMNS = CASE_COLUMNS + OPTIONAL_COLUMNS + ("engine_version", "max_batch_size")
# what a measurement table keeps beside each case, which a cases table may carry and nothing reads (the worked example
# serving_aiconfigurator.csv among them): what was measured (these and every measured_* column) and where it comes from
MEASUREMENT_COLUMNS = ("measured", "metric", "note", "notes", "split", "source", "source_id", "url", "date", "vendor",
                       "quoted", "unstated")
# what qualifies a measurement's `metric` (kept unread where the table has one): batch_tokens, the prompt tokens per
# attention rank a step of a prefill_tokens_per_s_per_chip figure holds (serving_published.csv; validate prices that
# step). It is not the engine's step budget (max_num_tokens), which a table without a metric is pointed to
METRIC_COLUMNS = ("batch_tokens",)
OUTPUT_COLUMNS = ("case_id", "ttft_s", "tpot_s", "output_tokens_per_s_per_chip", "output_tokens_per_s_per_user",
                  "chips", "memory_bytes_per_chip", "feasible", "note", "ttft_s_low", "ttft_s_high", "tpot_s_low",
                  "tpot_s_high", "output_tokens_per_s_per_chip_low", "output_tokens_per_s_per_chip_high", "flags",
                  "emulated_on", "expert_emulated_on")

# the kind of value each output column holds, one of COLUMN_KINDS' (a typed file's column type is read from it, never
# from the values a run happens to give: a column of empty cells is still text, one of infeasible rows still numbers)
# the figures a prediction adds beside OUTPUT_COLUMNS where its row has them (Prediction.extra): a phase row's step time
# and input rate, and on a multi-die chip run one rank per die the die's memory beside the package's
EXTRA_COLUMNS = ("step_s", "input_tokens_per_s_per_chip", "memory_bytes_per_die")
OUTPUT_KINDS = {**dict.fromkeys(OUTPUT_COLUMNS + EXTRA_COLUMNS, "number"), "case_id": "text", "chips": "count",
                "note": "text", "emulated_on": "text", "expert_emulated_on": "text", "feasible": "flag",
                "flags": "texts"}
# the kinds of value a column holds: a whole number (count), any number, true or false (flag), text, a list of texts
COLUMN_KINDS = ("count", "number", "flag", "text", "texts")

# draft tokens a decode step may carry with multi-token prediction (`parity serve --mtp`, a row's mtp_tokens, a sweep
# axis): the deepest published runs draft 3 to 4; the bound keeps a mistyped count from pricing forever
MOST_MTP_TOKENS = 64

# what the simulator adds (percentiles, ITL, E2E, preemptions, requests that waited for KV room, the wait at the client
# and TTFT from arrival, whether the client held requests back: serve's keys); NaN under the steady-state model
SIM_COLUMNS = (tuple(k for k in LATENCY_KEYS if k not in ("ttft_s", "tpot_s")) + ("preemptions", "kv_waited")
               + CLIENT_KEYS + ("held_at_client",))
# every column predict writes (EXTRA_COLUMNS where a row has them): a cases table that carries a former run's
# predictions beside its cases (to set them against a new run) keeps them unread, as it keeps measured_* columns;
# predict writes its own to a table of its own, so nothing of the input is overwritten
PREDICTED_COLUMNS = OUTPUT_COLUMNS + SIM_COLUMNS + EXTRA_COLUMNS + tuple(
    f"{name}_error" for name in SCORED)  # predicted / measured - 1 where the cases carry measured_<name>
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


def request_rate(row: Mapping[str, object]) -> float:
    """An open-loop row's arrivals [requests/s]: a number > 0, or inf (every request at once); 0 where the cell is
    blank (a closed loop)."""
    text = _cell(row, "request_rate")
    if not text:
        return 0.0
    try:
        value = float(text)
    except ValueError as err:
        raise InfeasiblePlan(f"request_rate must be a number > 0 requests/s or inf, got {text!r}") from err
    if math.isnan(value) or value <= 0:
        raise InfeasiblePlan(f"request_rate must be a number > 0 requests/s or inf, got {text!r}")
    return value


def refuse_repeated_column(table: str, header: Sequence[str]) -> None:
    """Refuse a CSV header that names a column twice: a reader keeps the second's cells in place of the first's."""
    for column in header:
        if header.count(column) > 1:
            raise ParityError(f"{table}: column {column!r} is named twice (the second's cells would replace the first's)")


def check_case_columns(table: str, header: Sequence[str], rows: Sequence[Mapping[str, object]],
                       kept: Sequence[str] = ()) -> None:
    """Refuse a column of the cases table `table` (its name, for the message) that case_from_row does not read
    (READ_COLUMNS) and that is no measurement's own (MEASUREMENT_COLUMNS, measured_*): a misspelled input
    ('mtp_token') would take its default without a word; predict's own outputs (PREDICTED_COLUMNS) and `kept`, what
    another command writes beside them (a sweep's chip figures and serve line: a sweep's table is a cases table), are
    kept unread as measurements are, never taken for a misspelled input ('tpp' is a sweep's, not 'tp'). A column named
    twice is refused too (its second cells
    would replace the first), and an unnamed one (a trailing comma in the header) where it holds a cell. A column
    that qualifies a measured metric (METRIC_COLUMNS) is kept unread beside a `metric` column."""
    refuse_repeated_column(table, header)
    for column in header:
        if column in READ_COLUMNS or column in MEASUREMENT_COLUMNS or column in PREDICTED_COLUMNS or column in kept or \
                column.startswith("measured_") or (column in METRIC_COLUMNS and "metric" in header):
            continue
        if not column.strip():
            if any(_cell(row, column) for row in rows):
                raise ParityError(f"{table}: a column without a name holds cells (name it, or delete its cells)")
            continue
        close = close_column(column, READ_COLUMNS, FOREIGN_COLUMNS)
        raise ParityError(f"{table}: unknown column {column!r}" + (f" (did you mean {close!r}?)" if close else "")
                          + "; no case reads it, so each would take that input's default (the columns: docs/model.md; "
                          "measured_*, note, split, source and the like are kept unread)")


# what engines call the inputs predict reads under other names (a hint's words are matched against these too)
FOREIGN_COLUMNS = {"max_num_batched_tokens": "max_num_tokens",  # vLLM's step token budget
                   "max_running_requests": "max_num_seqs",  # SGLang's cap on sequences run at once
                   "tensor_parallel_size": "tp", "pipeline_parallel_size": "pp",
                   "input_len": "isl", "output_len": "osl"}


def _alike(a: str, b: str, cutoff: float = 0.75) -> bool:
    return a == b or difflib.SequenceMatcher(None, a, b).ratio() >= cutoff


def close_column(column: str, columns: Sequence[str], foreign: Mapping[str, str] | None = None) -> str:
    """The column `column` was probably meant as, or '' where none is close enough to name: one it begins
    ('mtp' -> 'mtp_tokens', not the nearest, 'tp'); one of as many words, each alike ('mtp_token', 'concurency');
    or one whose words hold each of its words, directly or under an engine's name for it in `foreign`
    ('batch_tokens' -> 'max_num_tokens', vLLM's max_num_batched_tokens). A column that shares only a word
    ('batch_tokens' and 'mtp_tokens') or letters ('chips' and 'isl') gets no hint: a weak hint misleads."""
    name = column.strip().lower()
    if not name:
        return ""
    words = name.split("_")
    named = {c: c for c in columns} | {k: v for k, v in (foreign or {}).items() if v in columns}
    for rule in (lambda c: c.startswith(name),
                 lambda c: len(c.split("_")) == len(words) and all(map(_alike, words, c.split("_")))):
        found = [named[c] for c in named if rule(c)]
        if found:
            return found[0]
    # the fewest words beside the ones it holds; two columns as close: no hint
    holding = sorted((len(c.split("_")), named[c]) for c in named
                     if len(words) > 1 and all(any(_alike(w, x) for x in c.split("_")) for w in words))
    fewest = {target for size, target in holding if size == holding[0][0]} if holding else set()
    return fewest.pop() if len(fewest) == 1 else ""
