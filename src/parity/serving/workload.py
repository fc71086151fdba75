"""What a serving benchmark runs (Workload: clients, prompt and output lengths) and the steady state predicted
for it (ServingResult)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from parity.errors import InputError, is_real, is_whole
from parity.memory import MemoryPlan
from parity.ops import Num

__all__ = ["Workload", "ServingResult", "mean_length", "check_serving_inputs", "DEFAULT_TTFT_S"]

# [s] the TTFT target of the questions that rank a system's configurations (compare, formats, fleet) unless told: a
# prompt answered within seconds, so no layout that makes users wait 20 s is ranked; the CLI's default is this one
DEFAULT_TTFT_S = 5.0


def _lowest(value: Num) -> float:
    """The lowest of a length or an array of them, for a one-line message."""
    return float(np.nanmin(np.asarray(value, float)))


def check_serving_inputs(isl: object, osl: object, tpot_s: object = None, ttft_s: object = None,
                         processes: object = 1) -> None:
    """Refuse, in one line each (InputError), what no serving question means: prompt and output lengths that are
    not whole numbers >= 1 [tokens], a latency target that is not a finite positive duration [s] (None: no target;
    0 is refused rather than read as none), and fewer than one process. compare, fleet and search_serving check
    their arguments here before any work."""
    for name, length in (("isl", isl), ("osl", osl)):
        if not is_real(length) or not (
                math.isfinite(length) and float(length).is_integer() and length >= 1):
            raise InputError(f"{name} must be a whole number of tokens >= 1, got {length!r}")
    for name, target in (("tpot_s", tpot_s), ("ttft_s", ttft_s)):
        if target is not None and (not is_real(target) or not 0 < target < math.inf):
            raise InputError(f"{name} must be a finite duration > 0 [s], or None for no target, got {target!r}")
    if not is_whole(processes) or processes < 1:
        raise InputError(f"processes must be a whole number >= 1, got {processes!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Workload:
    """A closed-loop benchmark: `concurrency` clients, `isl` prompt and `osl` output tokens each, or
    lengths drawn uniformly from [range_ratio x isl, isl] and [range_ratio x osl, osl] (1: fixed)."""

    isl: Num
    osl: Num
    concurrency: Num
    range_ratio: Num = 1.0

    def __post_init__(self) -> None:
        # arrays in a vectorised search: the message names the lowest (or highest) value, on one line
        for name in ("isl", "osl", "concurrency"):
            if np.any(np.asarray(getattr(self, name)) < 1):
                raise InputError(f"{name} must be >= 1, got {_lowest(getattr(self, name)):g}"
                                 + (" (the lowest of an array)" if np.ndim(getattr(self, name)) else ""))
        ratio = np.ravel(np.asarray(self.range_ratio, float))
        if np.any((ratio < 0) | (ratio > 1)):
            raise InputError(f"range_ratio must be in [0, 1], got {ratio[(ratio < 0) | (ratio > 1)][0]:g}")

    def lengths(self) -> tuple[Num, Num]:
        """(mean prompt tokens, mean output tokens) [tokens]."""
        return mean_length(self.isl, self.range_ratio), mean_length(self.osl, self.range_ratio)


def mean_length(nominal: Num, range_ratio: Num = 1.0) -> Num:
    """Mean of whole-number lengths drawn uniformly from [floor(range_ratio x nominal), nominal]: the
    random dataset of vLLM's benchmark_serving.py as InferenceX and NVIDIA's sa-bench run it (their
    --random-range-ratio; 1: every request has the nominal length)."""
    nominal = np.asarray(nominal, float)
    return 0.5 * (np.maximum(np.floor(np.asarray(range_ratio, float) * nominal), 1.0) + nominal)


@dataclass(frozen=True, slots=True, kw_only=True)
class ServingResult:
    """Predicted steady state of a serving scenario (means over requests).

    ttft_s, tpot_s [s]; output_tokens_per_s [tokens/s] of all workers; chips: all chips used;
    decode_batch: sequences per decode step per attention-DP rank; prefill_utilization: share of
    engine time spent on prompts (of the prefill workers when disaggregated); prefill_workers and
    decode_workers: of a disaggregated deployment (0 when aggregated); kv_waiting: clients of all workers
    queued for a KV-cache slot (more clients than the KV caches hold: their TTFT is mostly that queue).
    """

    ttft_s: Num
    tpot_s: Num
    output_tokens_per_s: Num
    chips: Num
    decode_batch: Num
    prefill_utilization: Num
    memory: MemoryPlan
    feasible: Num
    prefill_workers: Num = 0.0
    decode_workers: Num = 0.0
    kv_waiting: Num = 0.0
    assumptions: tuple[str, ...] = field(default=())
    prefill_memory: MemoryPlan | None = None  # a disaggregated deployment's prefill worker's (memory: decode's)

    @property
    def output_tokens_per_s_per_chip(self) -> Num:
        return self.output_tokens_per_s / self.chips

    @property
    def output_tokens_per_s_per_user(self) -> Num:
        """Decode speed one user sees [tokens/s]: 1 / TPOT."""
        return 1.0 / self.tpot_s
