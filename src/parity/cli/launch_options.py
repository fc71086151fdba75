"""serve's options for the engine launch settings a cases table's columns set (predict.case_from_row reads them):
each named as its column, read into a `Launch` record that fills serve's Case, and said again in a serve line."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import click

from parity.cli.values import CONCURRENCY, COUNT, FORMAT_NAME, CountOrOff, Real
from parity.engine import FP4_GEMMS, FP8_GEMMS, MOE_BACKENDS
from parity.predict.case import FLAG_COLUMNS, Case

__all__ = ["Launch", "launch_options", "launch_words", "LAUNCH_COLUMNS", "LAUNCH_SIMULATOR_ONLY",
           "LAUNCH_LOOP_ONLY", "LAUNCH_DISAGG_ONLY", "LAUNCH_SIMULATOR_COLUMNS"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Setting:
    """A launch setting a cases table's column sets: the column, the field it fills (an EngineProfile field, held in a
    Case's engine_settings, of _NUMBERS and _FLAGS; a Case field of its own, of _TEXTS), the values it takes (a click
    type; None: a flag, which sets the field to `value`), which runs read it (`reads`: 'step', every priced step;
    'loop', the closed loop and MLPerf's scenarios, not one --phase step; 'sim', the simulator's closed loop alone),
    whether disaggregated runs alone do, and what it is (the option's help)."""

    column: str
    field: str
    kind: click.ParamType | None
    reads: str
    help: str
    value: object = None
    disagg: bool = False

    @property
    def option(self) -> str:
        """The option: the column's name, dashed; the offline column's is --offline-engine, told apart from
        serve's --scenario offline (MLPerf's scenario, not an engine habit)."""
        return "--offline-engine" if self.column == "offline" else "--" + self.column.replace("_", "-")

    @property
    def parameter(self) -> str:
        return self.option.removeprefix("--").replace("-", "_")


_DEFAULT = "; default: the engine profile's"
_NUMBERS = (
    Setting(column="max_num_seqs", field="max_batch_size", kind=CONCURRENCY, reads="loop",
            help="sequences the engine runs at once (vLLM --max-num-seqs, SGLang --max-running-requests, "
                 "TensorRT-LLM max_batch_size; a table's max_num_seqs" + _DEFAULT + ")"),
    Setting(column="max_num_tokens", field="max_num_tokens", kind=COUNT, reads="loop",
            help="tokens one engine step holds (vLLM --max-num-batched-tokens, TensorRT-LLM max_num_tokens"
                 + _DEFAULT + ")"),
    Setting(column="max_prefill_tokens", field="sim_max_prefill_tokens", kind=COUNT, reads="sim",
            help="sim: SGLang's --max-prefill-tokens, the prompt tokens a step admits" + _DEFAULT),
    Setting(column="chunked_prefill_size", field="sim_chunked_prefill_tokens", kind=CountOrOff(most=10**9),
            reads="sim", help="sim: SGLang's --chunked-prefill-size, the prompt tokens of a chunk; -1: chunked "
                              "prefill off, whole prompts" + _DEFAULT),
    Setting(column="batch_wait_timeout_iters", field="batch_wait_steps", kind=Real(0.0, 1e6), reads="sim",
            help="sim: TensorRT-LLM's batch_wait_timeout_iters, steps new prompts wait for a fuller batch (without "
                 "attention DP)" + _DEFAULT),
    Setting(column="batch_wait_max_tokens_ratio", field="batch_wait_tokens_ratio", kind=Real(0.0, 1.0), reads="sim",
            help="sim: TensorRT-LLM's batch_wait_max_tokens_ratio, the share of max_num_tokens that ends the wait"
                 + _DEFAULT),
    Setting(column="scheduler_recv_interval", field="recv_interval_steps", kind=Real(0.0, 1e6), reads="sim",
            help="sim: SGLang's --scheduler-recv-interval, decode steps between takes of new requests" + _DEFAULT),
)
# what each flag column of a cases table (predict.case.FLAG_COLUMNS) does, as its option's help, and which runs read it
_FLAG_TEXTS = {
    "eager": ("step", "kernels launched one by one, no CUDA graphs (vLLM --enforce-eager)"),
    "offline": ("loop", "every request submitted at once, as vLLM's offline LLM class (benchmark_throughput): each "
                        "sequence's KV held whole from the start, and the engine version's offline defaults "
                        "(--engine-version)"),
    "eager_prefill": ("sim", "sim: steps with prompt tokens run without CUDA graphs (vLLM's FULL_DECODE_ONLY)"),
    "normal_all_to_all": ("step", "the expert all-to-all runs DeepEP's normal kernels in decode too (TensorRT-LLM "
                                  "TRTLLM_FORCE_ALLTOALL_METHOD=DeepEP)"),
    "separate_prefill": ("loop", "prompt steps pause decodes instead of sharing steps with them (SGLang without "
                                 "--enable-mixed-chunk)"),
    "moe_all_to_all": ("step", "--moe-all-to-all: attention-DP prompt steps send tokens to the experts by "
                               "all-to-all (SGLang --moe-a2a-backend deepep); --no-moe-all-to-all: they gather the "
                               "group's tokens by all-reduce (SGLang without such a backend); default: the engine "
                               "profile's (parity engines: prompt_gather_all_reduce)"),
}
_FLAGS = tuple(Setting(column=column, field=field, kind=None, reads=_FLAG_TEXTS[column][0],
                       help=_FLAG_TEXTS[column][1], value=value) for column, field, value in FLAG_COLUMNS)
_NEGATABLE = ("moe_all_to_all",)  # flags whose engine default differs by stack (SGLang gathers on CUDA alone)


_TEXTS = (
    Setting(column="attention_weights", field="attention_weights", kind=FORMAT_NAME, reads="step",
            help="format of the attention projections where it differs from --weights (bf16 attention beside FP4 "
                 "experts, as TensorRT-LLM's DeepSeek-R1 checkpoints)"),
    Setting(column="engine_version", field="engine_version", kind=click.STRING, reads="step",
            help="the engine's version as a source names it ('vLLM 0.11.1'): its defaults, kernels and host work "
                 "apply (data/engine_defaults.toml, engine_kernels.toml)"),
    Setting(column="fp8_gemm", field="fp8_gemm", kind=click.Choice(FP8_GEMMS), reads="step",
            help="the block-FP8 dense GEMM a launch picks over the engine's default (with --engine-version)"),
    Setting(column="moe_backend", field="moe_backend", kind=click.Choice(MOE_BACKENDS), reads="step",
            help="the fused-MoE backend a launch picks (disagg: the prefill workers', a table's prefill_moe_backend; "
                 "deepgemm gathers the attention-DP group's tokens instead of an all-to-all)"),
    Setting(column="decode_moe_backend", field="decode_moe_backend", kind=click.Choice(MOE_BACKENDS), reads="step",
            disagg=True,
            help="disagg: the decode workers' fused-MoE backend (default: the engine's, as a table's empty cell)"),
    Setting(column="prefill_fp4_gemm", field="prefill_fp4_gemm", kind=click.Choice(FP4_GEMMS), reads="sim",
            disagg=True, help="disagg, sim: FlashInfer's FP4 GEMM backend on the prefill workers (cudnn builds plans "
                              "per new token count)"),
    Setting(column="prefill_batch", field="prefill_batch", kind=CONCURRENCY, reads="loop", disagg=True,
            help="disagg: prompts a prefill rank takes a step (default: sized by the engine)"),
    Setting(column="decode_batch", field="decode_batch", kind=CONCURRENCY, reads="loop", disagg=True,
            help="disagg: sequences a decode rank runs at most (default: its clients)"),
)
_ALL: tuple[Setting, ...] = (*_NUMBERS, *_FLAGS, *_TEXTS)
# a cases table's columns these options say (serve_line.SERVE_LINE_COLUMNS); max_batch_size is max_num_seqs' other
# name, prefill_moe_backend a disaggregated row's moe_backend
LAUNCH_COLUMNS = frozenset((*(s.column for s in _ALL), "max_batch_size", "prefill_moe_backend"))
# option -> its parameter, of the options only the simulator reads, those one --phase step leaves unread (the closed
# loop's and the simulator's) and those of disaggregated workers alone
LAUNCH_SIMULATOR_ONLY = {s.option: s.parameter for s in _ALL if s.reads == "sim"}
LAUNCH_LOOP_ONLY = {s.option: s.parameter for s in _ALL if s.reads in ("sim", "loop")}
LAUNCH_DISAGG_ONLY = {s.option: s.parameter for s in _ALL if s.disagg}
# the columns whose options only the simulator reads (a sweep's steady line leaves them out, and says so)
LAUNCH_SIMULATOR_COLUMNS = tuple(s.column for s in _ALL if s.reads == "sim")


@dataclass(frozen=True, slots=True, kw_only=True)
class Launch:
    """The launch settings serve was given: engine-profile fields set (`settings`, field -> value, as a Case's
    engine_settings) and the Case fields of the others (`fields`)."""

    settings: tuple[tuple[str, Any], ...] = ()
    fields: tuple[tuple[str, Any], ...] = ()

    @property
    def offline(self) -> bool:
        return dict(self.fields).get("offline", False)


def _read(values: Mapping[str, Any]) -> Launch:
    settings: list[tuple[str, Any]] = []
    fields: dict[str, Any] = {}
    for s in (*_NUMBERS, *_FLAGS):
        given = values[s.parameter]
        if given is None or (given is False and s.column not in _NEGATABLE):
            continue
        # a negatable flag given as --no-...: the field's other value
        settings.append((s.field, given if s.kind is not None else s.value if given else not s.value))
        if s.column == "offline":
            fields["offline"] = True
    for t in _TEXTS:
        if values[t.parameter] not in (None, ""):
            fields[t.field] = values[t.parameter]
    return Launch(settings=tuple(settings), fields=tuple(fields.items()))


def launch_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The launch settings' options, handed to the command as one `launch` record (Launch)."""
    parameters = [s.parameter for s in _ALL]

    @functools.wraps(func)
    def command(*args: Any, **kwargs: Any) -> Any:
        return func(*args, launch=_read({p: kwargs.pop(p) for p in parameters}), **kwargs)

    for s in reversed(_ALL):
        if s.kind is None:
            negatable = s.column in _NEGATABLE
            declared = f"{s.option}/--no-{s.option.removeprefix('--')}" if negatable else s.option
            command = click.option(declared, s.parameter, is_flag=True, default=None if negatable else False,
                                   help=s.help)(command)
        else:
            command = click.option(s.option, s.parameter, type=s.kind, default=None, help=s.help)(command)
    return command


def launch_words(case: Case, reads: tuple[str, ...] = ("step", "loop", "sim")) -> list[str]:
    """The options that set `case`'s launch settings, for its serve line: each engine-profile field it sets by its
    column's option (attention_dp_hold_steps is serve's --adp-hold-steps, said apart), its own fields' options; of
    those the line's run `reads` (Setting.reads: a steady line's serve refuses the simulator's options, one --phase
    step's those of the closed loop)."""
    settings = dict(case.engine_settings)
    words: list[str] = []
    for s in _NUMBERS:
        if s.field in settings and s.reads in reads:
            value = settings[s.field]
            words += [s.option, repr(float(value)) if isinstance(value, float) else str(value)]
    for s in _FLAGS:
        if s.field in settings and s.reads in reads and not (s.column == "offline" and case.offline):
            said = settings[s.field] == s.value
            if said or s.column in _NEGATABLE:
                words += [s.option if said else f"--no-{s.option.removeprefix('--')}"]
    words += ["--offline-engine"] if case.offline and "loop" in reads else []
    for t in _TEXTS:
        value = getattr(case, t.field)
        if value not in (None, "", 0) and t.reads in reads and (case.mode == "disagg" or not t.disagg):
            words += [t.option, str(value)]
    return words
