"""Published throughputs (measurements/serving_published.csv) against parity's predictions: per worker, per user,
per chip in prefill steps and in one decode step."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence

from parity.errors import ParityError
from parity.flags import Flag
from parity.hardware import Calibration, package_id
from parity.ops import Batch
from parity.predict import Scenario, deployment, predict_scenarios, scenario_from_row
from parity.predict.columns import flag
from parity.step import step_cost
from parity.validate.cases import CaseError

PUBLISHED_METRICS = ("output_tokens_per_s_per_worker", "output_tokens_per_s_per_user", "prefill_tokens_per_s_per_chip",
                     "decode_tokens_per_s_per_chip")
# published figures of one fixed-batch step, measured with no clients: never a closed loop's
STEP_METRICS = ("prefill_tokens_per_s_per_chip", "decode_tokens_per_s_per_chip")


def closed_loop(row: Mapping[str, str]) -> bool:
    """A published serving figure measured by clients in a closed loop at the row's concurrency, what the
    step-level simulator runs: a served metric (per user or per worker), neither an offline batch (`offline`:
    every prompt submitted at once) nor a run at an unbounded request rate (`request_rate` inf: trtllm-bench's
    3,000 requests queued at once), nor one fixed-batch step (STEP_METRICS)."""
    return (row["metric"] not in STEP_METRICS
            and not flag(row, "offline")
            and (row.get("request_rate") or "").strip().lower() != "inf")


def published_errors(rows: Sequence[Mapping[str, str]], calibration: Calibration | None = None,
                     hook: Callable[[Scenario], Scenario] | None = None, model_kind: str = "steady",
                     processes: int = 1) -> list[CaseError]:
    """Published throughputs (measurements/serving_published.csv) against parity's predictions.

    output_tokens_per_s_per_worker: every request queued at once, the engine at its KV and batch
    limits; output_tokens_per_s_per_user: 1 / TPOT at the row's concurrency (speculative decoding
    with the row's MTP depth and acceptance); prefill_tokens_per_s_per_chip: steps of
    `batch_tokens` prompt tokens per attention rank, their time multiplied by the engine's prefill_scale as the
    steady-state model prices prompt work (what the step model's prefill misses, fitted on calibration rows), and
    the package's ranks counted where each die is one (rank_per_die); decode_tokens_per_s_per_chip: one decode step
    of the row's `batch` sequences over the deployment, `context` KV tokens each (its `phase` decode), priced as
    `parity serve --phase decode` prices it (phase.decode_benchmark), per chip package.
    `calibration` replaces the catalog's for its chip;
    `hook` rewrites each scenario (another calibration or engine profile) before it is priced. model_kind
    'sim' prices the closed-loop figures (`closed_loop`) by the step-level simulator over `processes`
    processes; offline and unbounded-rate throughputs stay with the steady-state model, whose operating point
    (the engine at its KV and batch limits) is their definition, and prefill steps with step_cost.
    """
    cases: list[tuple[Mapping[str, str], Scenario]] = []
    for row in rows:
        _check_phase(row)
        try:
            scenario = scenario_from_row(row)
        except ParityError:
            continue
        if calibration is not None and calibration.chip in (package_id(scenario.system.chip), "*"):  # a die: its package
            scenario = dataclasses.replace(scenario, calibration=calibration)
        if row["metric"] not in PUBLISHED_METRICS:
            raise ParityError(f"serving_published.csv: unknown metric {row['metric']!r}")
        cases.append((row, hook(scenario) if hook else scenario))
    served = [(row, s) for row, s in cases if row["metric"] != "prefill_tokens_per_s_per_chip"]
    simulate = [model_kind != "steady" and closed_loop(row) for row, _ in served]
    steady = iter(predict_scenarios([s for (_, s), sim in zip(served, simulate) if not sim]))
    simulated = iter(predict_scenarios([s for (_, s), sim in zip(served, simulate) if sim], model_kind, processes))
    predicted_served = iter([next(simulated) if sim else next(steady) for sim in simulate])
    out = []
    for row, scenario in cases:
        metric = row["metric"]
        if metric == "prefill_tokens_per_s_per_chip":
            dep = deployment(scenario, scenario.layout)
            tokens = float(row["batch_tokens"])
            isl = float(scenario.isl)
            step = step_cost(dep, Batch(prefill_tokens=tokens, prefill_sequences=tokens / isl,
                                        prefill_context=max(isl - tokens, 0.0) / 2.0))
            # per package: a rank per die (rank_per_die) prefills its tokens on one of the package's dies
            predicted = (tokens * scenario.system.chip.ranks_per_package
                         / (float(step.time_s) * scenario.engine.prefill_scale))
            low = high = math.nan
            raised: tuple[Flag, ...] = ()
        else:
            p = next(predicted_served)
            if not p.feasible:
                continue
            predicted = (p.output_tokens_per_s_per_chip * p.chips if metric.endswith("worker")
                         else p.output_tokens_per_s_per_chip if metric == "decode_tokens_per_s_per_chip"
                         else p.output_tokens_per_s_per_user)
            # the printed throughput interval, scaled to the metric (a per-user rate moves with the per-chip one)
            low, high = (predicted * x / p.output_tokens_per_s_per_chip
                         for x in p.interval("output_tokens_per_s_per_chip"))
            raised = p.flags
        out.append(CaseError(case_id=row["case_id"], split=row.get("split", "holdout"), system=row["system"],
                             engine=row.get("engine") or "generic", model=row["model"], mode="published", metric=metric,
                             measured=float(row["measured"]), predicted=float(predicted), flags=raised,
                             low=float(low), high=float(high)))
    return out


def _check_phase(row: Mapping[str, str]) -> None:
    """A decode_tokens_per_s_per_chip row is one decode step (`phase` decode, with `batch` and `context`), and only
    it: a decode figure read as a closed loop, or a closed-loop figure read as one step, would be scored against
    another quantity than the one measured."""
    metric, phase = row["metric"], (row.get("phase") or "both").strip().lower()
    if (metric == "decode_tokens_per_s_per_chip") != (phase == "decode"):
        raise ParityError(f"serving_published.csv {row['case_id']}: metric {metric} with phase {phase}: "
                          "decode_tokens_per_s_per_chip is one decode step of a fixed batch, and needs phase decode "
                          "(with batch and context), which no other metric takes")
