"""The entry points: price scenarios, typed cases or table rows, steady-state or simulated."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace

from parity.errors import ParityError
from parity.hardware import System
from parity.predict.case import Case
from parity.predict.columns import MODEL_KINDS, _cell, _int, request_rate
from parity.predict.scenario import Prediction, Scenario, _failed, scenario_from_row, scenario_of
from parity.predict.simulated import _simulated
from parity.predict.steady import _predict_steady


def predict_scenarios(scenarios: Sequence[Scenario], model_kind: str = "steady", processes: int = 1,
                      ray: str | None = None, progress: Callable[[int], None] | None = None) -> list[Prediction]:
    """Price scenarios; those sharing a deployment are solved together as arrays. model_kind 'sim'
    replaces TTFT, TPOT and throughput by the step-level simulator's (parity.simulate) and adds its
    percentiles, over `processes` processes or as Ray tasks (`ray`: parity.parallel.map_chunks).
    progress(n) as n scenarios get their final prices (the simulator's under 'sim'), n summing to all."""
    if model_kind not in MODEL_KINDS:
        raise ParityError(f"model kind must be one of {', '.join(MODEL_KINDS)}, got {model_kind!r}")
    if ray is not None and model_kind != "sim":
        raise ParityError("--ray runs the simulator's runs: it needs --model-kind sim")
    steady = _predict_steady(scenarios, progress if model_kind == "steady" else None)
    priced = steady if model_kind == "steady" else _simulated(steady, scenarios, processes, ray, progress)
    return [replace(p, emulated_on=s.emulated_on, expert_emulated_on=s.expert_emulated_on)
            for p, s in zip(priced, scenarios)]


def predict_cases(cases: Sequence[Case], systems: Mapping[str, System] | None = None) -> list[Prediction]:
    """Predict typed cases; a case that makes no sense becomes feasible=false with the reason."""
    scenarios: list[Scenario | Prediction] = []
    for case in cases:
        try:
            scenarios.append(scenario_of(case, systems))
        except (ParityError, ValueError, TypeError, ArithmeticError) as err:
            scenarios.append(_failed(case.case_id, str(err)))
    priced = iter(predict_scenarios([s for s in scenarios if isinstance(s, Scenario)]))
    return [s if isinstance(s, Prediction) else next(priced) for s in scenarios]


def predict_rows(rows: Iterable[Mapping[str, object]], progress: Callable[[int], None] | None = None,
                 systems: Mapping[str, System] | None = None, model_kind: str = "steady",
                 processes: int = 1, ray: str | None = None) -> list[Prediction]:
    """Predict every row; a row that cannot be read becomes feasible=false with the reason. processes,
    ray: where the simulator runs (predict_scenarios). progress(n) as n rows are done: those refused once all
    are read, the rest as they are priced (predict_scenarios), n summing to the rows."""
    rows = list(rows)
    scenarios: list[Scenario | None] = []
    failures: dict[int, Prediction] = {}
    for i, row in enumerate(rows):
        try:
            scenarios.append(scenario_from_row(row, systems))
        except (ParityError, ValueError, TypeError, ArithmeticError) as err:
            scenarios.append(None)
            failures[i] = _failed(_cell(row, "case_id"), str(err))
    if progress and failures:
        progress(len(failures))
    good = [s for s in scenarios if s is not None]
    priced = iter(predict_scenarios(good, model_kind, processes, ray, progress))
    return [failures[i] if s is None else next(priced) for i, s in enumerate(scenarios)]


# where a row's open loop is priced: predict's own simulator (a sweep names how to run it on its table)
SIMULATOR_HINT = "--model-kind sim, the default"


def open_loop(row: Mapping[str, object]) -> bool:
    """Whether the row's requests arrive at a request_rate the steady model cannot price: a finite rate, or inf
    without max_concurrency (every request in flight at once, which serve refuses too). inf capped by max_concurrency
    is the closed loop of max_concurrency clients (every request sent at once, that many in flight, the next sent as
    one finishes: vLLM's --request-rate inf --max-concurrency). False where a cell cannot be read (the row's own
    refusal says why)."""
    try:
        rate = request_rate(row)
        capped = bool(_int(row, "max_concurrency", 0))
    except ParityError:
        return False
    return bool(rate) and not (math.isinf(rate) and capped)


def closed_loop_only(row: Mapping[str, object], p: Prediction, simulator: str = SIMULATOR_HINT) -> Prediction:
    """A steady-state prediction of `row`, or feasible=false where its requests arrive in an open loop (open_loop):
    the closed form prices a closed loop of its concurrency, not those arrivals (a sweep wrote 0.5 requests/s of 256
    tokens at the closed loop's 1,015 tok/s/chip, where the arrivals carry at most 128). `simulator`: how the refusal
    says to run the simulator instead."""
    if not open_loop(row) or not p.feasible:
        return p
    rate = request_rate(row)
    if math.isinf(rate):  # no open loop: every request queued at once, none held back in the client
        return _failed(p.case_id, "request_rate inf without max_concurrency: every request sent at once, all in "
                                  "flight together; the steady-state model prices a closed loop of the row's "
                                  "concurrency, which request_rate inf with max_concurrency is (set it), and the "
                                  f"simulator the burst ({simulator})")
    return _failed(p.case_id, f"request_rate {rate:g}/s: open-loop arrivals need the simulator ({simulator}); the "
                              "steady-state model prices a closed loop of the row's concurrency")
