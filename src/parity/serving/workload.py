"""What a serving benchmark runs (Workload: clients, prompt and output lengths) and the steady state predicted
for it (ServingResult)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from parity.memory import MemoryPlan
from parity.ops import Num

__all__ = ["Workload", "ServingResult", "mean_length"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Workload:
    """A closed-loop benchmark: `concurrency` clients, `isl` prompt and `osl` output tokens each, or
    lengths drawn uniformly from [range_ratio x isl, isl] and [range_ratio x osl, osl] (1: fixed)."""

    isl: Num
    osl: Num
    concurrency: Num
    range_ratio: Num = 1.0

    def __post_init__(self) -> None:
        if np.any(np.asarray(self.isl) < 1) or np.any(np.asarray(self.osl) < 1):
            raise ValueError(f"isl and osl must be >= 1, got {self.isl}, {self.osl}")
        if np.any(np.asarray(self.concurrency) < 1):
            raise ValueError(f"concurrency must be >= 1, got {self.concurrency}")
        if np.any(np.asarray(self.range_ratio) < 0) or np.any(np.asarray(self.range_ratio) > 1):
            raise ValueError(f"range_ratio must be in [0, 1], got {self.range_ratio}")

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
