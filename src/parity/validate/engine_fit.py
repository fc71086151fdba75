"""The steady fit of engine profiles on calibration rows (Nelder-Mead in log space on the trimmed mean absolute log
error of TTFT and TPOT), and the TOML text a fitted profile is written as."""

from __future__ import annotations

import dataclasses
import math
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

from parity import tomlwrite
from parity.catalog.engine_file import SECTION_COMMENTS, key_path, sectioned
from parity.engine import EngineProfile
from parity.errors import ParityError
from parity.optimize import nelder_mead
from parity.predict import Scenario, predict_scenarios, scenario_from_row
from parity.validate.cases import METRICS

# engine parameters the fit may move, with their bounds (the prior lies inside)
FIT_PARAMETERS: dict[str, tuple[float, float]] = {
    "kernel_overhead_s": (0.5e-6, 20e-6),
    "step_overhead_s": (0.05e-3, 8e-3),
    "ttft_overhead_s": (1e-3, 0.03),
    "burstiness": (0.05, 20.0),
    "gemm_scale": (0.3, 1.2),
    "memory_scale": (0.5, 1.05),
    "prefill_scale": (0.5, 4.0),
    "arrival_sync": (0.01, 1.0),
    "first_wave": (0.001, 0.5),
    "first_token_steps": (0.5, 3.0),
    "collective_latency_s": (1e-6, 40e-6),
}
# fitted apart, on disaggregated rows whose worker counts the data does not give
SIZING_PARAMETERS: dict[str, tuple[float, float]] = {
    "disagg_ttft_overhead_s": (1e-3, 5.0),
    "disagg_decode_batch": (2.0, 1024.0),
    "disagg_prefill_utilization": (0.2, 0.99),
}
BOUNDS = FIT_PARAMETERS | SIZING_PARAMETERS
# a fit moves parameters only on as many rows as it moves parameters, and never on fewer than MIN_FIT_ROWS: with fewer
# the loss is flat along some direction and Nelder-Mead wanders there (vLLM's hand-off and sizing, 3 parameters on
# 1 row, went 15 ms -> 20 ms -> 1.95 s in two refits); 3 because the loss is a mean absolute log error, so a
# one-parameter fit lands on the median of what its rows ask, which one outlying run sets alone with 2 rows, not with 3
MIN_FIT_ROWS = 3

def unfitted(rows: int, parameters: int) -> str:
    """'' when `rows` rows can fit `parameters` parameters (MIN_FIT_ROWS), else why not: '1 row for 3 parameters'."""
    if rows >= max(parameters, MIN_FIT_ROWS):
        return ""
    return f"{_rows(rows)} for {parameters} parameter{'' if parameters == 1 else 's'}"


def _rows(count: int) -> str:
    return f"{count} row{'' if count == 1 else 's'}"
def sizing_rows(rows: Iterable[Mapping[str, str]]) -> dict[str, int]:
    """How many disaggregated rows bear on each of SIZING_PARAMETERS: the hand-off on every one, the decode batch on
    those without a decode worker count, the prefill utilisation on those without a prefill worker count (a row
    that gives a count is priced with it, whatever the sizing parameter)."""
    disagg = [r for r in rows if r.get("mode") == "disagg"]
    return {"disagg_ttft_overhead_s": len(disagg),
            "disagg_decode_batch": sum(not r.get("decode_workers") for r in disagg),
            "disagg_prefill_utilization": sum(not r.get("prefill_workers") for r in disagg)}

def scenarios_of(rows: Sequence[Mapping[str, str]]) -> list[tuple[Mapping[str, str], Scenario]]:
    """(row, scenario) for every row that reads as a scenario."""
    out = []
    for row in rows:
        try:
            out.append((row, scenario_from_row(row)))
        except ParityError:
            continue
    return out


TRIM = 0.1  # share of the worst residuals a fit ignores (measurement outliers such as 7-second TTFT spikes)


def fit_loss(pairs: Sequence[tuple[Mapping[str, str], Scenario]], engine: EngineProfile) -> float:
    """Trimmed mean absolute log error of TTFT and TPOT under an engine profile (infeasible: 3); the
    worst TRIM of residuals per metric are left out so that outliers do not steer the fit. A row without a
    measured value of a metric counts for the other only."""
    scenarios = [s.with_engine(engine) for _, s in pairs]
    predictions = predict_scenarios(scenarios)
    losses: dict[str, list[float]] = {metric: [] for metric in METRICS}
    for (row, _), p in zip(pairs, predictions):
        for metric in METRICS:
            measured = float(row.get(f"measured_{metric}") or "nan")
            if not measured > 0:  # a metric the row does not keep (e.g. TTFT measured on a cold server)
                continue
            value = float(getattr(p, metric))
            losses[metric].append(abs(math.log(value / measured)) if p.feasible and value > 0 else 3.0)
    kept = [np.sort(v)[: max(1, int(round(len(v) * (1 - TRIM))))] for v in losses.values() if v]
    return float(np.mean([np.mean(k) for k in kept])) if kept else 0.0


def fit_engine(engine: EngineProfile, pairs: Sequence[tuple[Mapping[str, str], Scenario]],
               parameters: Sequence[str] = tuple(FIT_PARAMETERS), iterations: int = 150,
               progress: Callable[[float], None] | None = None) -> tuple[EngineProfile, float, float]:
    """The engine profile that best fits the calibration pairs: (fitted, loss before, loss after). With too few
    pairs for the parameters (`unfitted`), `engine` as it is, its loss before and after alike."""
    if not parameters or unfitted(len(pairs), len(parameters)):
        before = fit_loss(pairs, engine)
        return engine, before, before
    lows = np.log([BOUNDS[p][0] for p in parameters])
    highs = np.log([BOUNDS[p][1] for p in parameters])

    def profile_at(x: np.ndarray) -> EngineProfile:
        values = np.exp(np.clip(x, lows, highs))
        return dataclasses.replace(engine, **{p: float(v) for p, v in zip(parameters, values)})

    def objective(x: np.ndarray) -> float:
        loss = fit_loss(pairs, profile_at(x))
        if progress:
            progress(loss)
        return loss + float(np.sum(np.maximum(x - highs, 0) + np.maximum(lows - x, 0)))

    def initial(p: str) -> float:
        value = getattr(engine, p)
        return 5e-6 if value is None else min(max(value, BOUNDS[p][0] * 1.01), BOUNDS[p][1])

    start = np.log([initial(p) for p in parameters])
    before = fit_loss(pairs, engine)
    best, after = nelder_mead(objective, start, iterations=iterations)
    return profile_at(best), before, after


# the last words of the steady fit's method; a refit keeps what a file's method says after them (the simulator's fits)
_STEADY_METHOD_END = "the data does not give"


def engine_toml(engine: EngineProfile, rows: int, before: float, after: float, date: str, **identity: str) -> str:
    """The TOML text of a fitted engine profile in its sections (catalog.engine_file), with its method and the
    fit's figures; `identity` replaces top-level keys (a stack profile's method and source)."""
    return tomlwrite.document(sectioned(_engine_table(engine, rows, before, after, date) | identity),
                              comments=SECTION_COMMENTS)


def engine_refit_text(text: str, engine: EngineProfile, rows: int, before: float, after: float, date: str,
                      sizing: Mapping[str, int] | None = None) -> str:
    """`text` (the engine's current file) with the steady fit's parameters (FIT_PARAMETERS, SIZING_PARAMETERS),
    date and method rewritten in place, each in its section (one the file lacks added there): comments, the
    simulator's fields and their sources stay as they are. `sizing`: the rows that bore on each sizing parameter
    (sizing_rows). The method's account of the fits after the steady one (the simulator's) is kept behind the new
    figures."""
    table = _engine_table(engine, rows, before, after, date, sizing)
    names = [n.removesuffix("_s") for n in (*FIT_PARAMETERS, *SIZING_PARAMETERS)]
    values = {k: table[k] for k in ("date", "method", *names) if k in table}
    old = str(tomllib.loads(text).get("method", ""))
    tail = old.partition(_STEADY_METHOD_END)[2]
    values["method"] = f"{values['method']}{tail}"
    return tomlwrite.replace_values(text, {key_path(k): v for k, v in values.items()}, add=True)


def _steady_method(rows: int, before: float, after: float, sizing: Mapping[str, int]) -> str:
    """The steady fit's method: what was refitted on how many rows, and what was not (unfitted), ending with
    _STEADY_METHOD_END."""
    short = unfitted(rows, len(FIT_PARAMETERS))
    kept_main = f" (not refitted: {short}; the stored values kept)" if short else ""
    main = (f"Nelder-Mead fit of {', '.join(FIT_PARAMETERS)}{kept_main} "
            f"on {rows} calibration rows of serving_aiconfigurator.csv (aggregated and disaggregated with known "
            f"workers), minimising the mean absolute log error of TTFT and TPOT: {before:.3f} before, "
            f"{after:.3f} after")
    moved = [p for p in SIZING_PARAMETERS if not unfitted(sizing.get(p, 0), 1)]
    kept = [p for p in SIZING_PARAMETERS if p not in moved]
    fitted = f"{', '.join(moved)} refitted on them" if moved else "nothing refitted"
    left = (f"; {', '.join(f'{p} ({_rows(sizing.get(p, 0))})' for p in kept)} not refitted: fewer than "
            f"{MIN_FIT_ROWS} rows bear on a parameter, the stored values kept") if kept else ""
    counts = ", ".join(f"{sizing.get(p, 0)} for {p}" for p in SIZING_PARAMETERS)
    return (f"{main}; then on the calibration rows of disaggregated runs ({counts}: "
            f"the hand-off every one, the sizing those without the worker count): {fitted}{left}; the sizing prices "
            f"runs whose worker counts {_STEADY_METHOD_END}")


def _engine_table(engine: EngineProfile, rows: int, before: float, after: float, date: str,
                  sizing: Mapping[str, int] | None = None) -> dict[str, object]:
    method = _steady_method(rows, before, after, sizing or {})
    table: dict[str, object] = {
        "id": engine.id, "name": engine.name, "date": date, "measured": True, "method": method,
        "source": "parity validate --model-kind steady --fit (parity data: measurements/serving_aiconfigurator.csv)",
        **({"assumptions": engine.assumptions} if engine.assumptions else {}),
        **({"stack": engine.stack, "base": engine.base, "rows": list(engine.rows)} if engine.base else {}),
        "kernel_overhead": f"{engine.kernel_overhead_s * 1e6:.3f} us",
        "step_overhead": f"{engine.step_overhead_s * 1e3:.4f} ms",
        "ttft_overhead": f"{engine.ttft_overhead_s * 1e3:.3f} ms",
        **({"collective_latency": f"{engine.collective_latency_s * 1e6:.3f} us"}
           if engine.collective_latency_s is not None else {}),
        "disagg_ttft_overhead": f"{engine.disagg_ttft_overhead_s * 1e3:.3f} ms",
        "max_num_tokens": engine.max_num_tokens, "mixes_prefill": engine.mixes_prefill}
    for name in ("burstiness", "gemm_scale", "attention_scale", "memory_scale", "prefill_scale", "arrival_sync",
                 "first_wave", "first_token_steps", "attention_dp_hold_steps", "batch_wait_steps",
                 "batch_wait_tokens_ratio", "recv_interval_steps", "max_batch_size", "disagg_decode_batch",
                 "disagg_prefill_utilization", "moe_overlap", "expert_imbalance", "kv_memory_fraction",
                 "sim_prefill_scale", "sim_first_token_steps"):
        number = getattr(engine, name)
        table[name] = number if isinstance(number, int) else tomlwrite.significant(number)
    if engine.collective_scale != 1.0:
        table["collective_scale"] = tomlwrite.significant(engine.collective_scale)
    if engine.sim_prefill_launch_s:
        table["sim_prefill_launch"] = f"{engine.sim_prefill_launch_s * 1e6:.3f} us"
    if engine.sim_prefill_host_launch_s:
        table["sim_prefill_host_launch"] = f"{engine.sim_prefill_host_launch_s * 1e6:.3f} us"
    if engine.decode_host_token_s:
        table["decode_host_token"] = f"{engine.decode_host_token_s * 1e6:.3f} us"
    if not engine.sim_eager_prefill:
        table["sim_eager_prefill"] = False
    if engine.sim_host_ops:
        table["sim_host_ops"] = True
    if engine.sim_separate_prefill:
        table["sim_separate_prefill"] = True
    if engine.sim_client_range_ratio:
        table["sim_client_range_ratio"] = tomlwrite.significant(engine.sim_client_range_ratio)
    if engine.sim_max_prefill_tokens:
        table["sim_max_prefill_tokens"] = engine.sim_max_prefill_tokens
    if engine.sim_chunked_prefill_tokens:
        table["sim_chunked_prefill_tokens"] = engine.sim_chunked_prefill_tokens
    if not engine.sim_chunked_prefill:
        table["sim_chunked_prefill"] = False
    if engine.sim_disagg_ttft_overhead_s is not None:
        table["sim_disagg_ttft_overhead"] = f"{engine.sim_disagg_ttft_overhead_s * 1e3:.3f} ms"
    if engine.sim_disagg_first_token != "decode":
        table["sim_disagg_first_token"] = engine.sim_disagg_first_token
    if engine.sim_disagg_prefill_scale != 1.0:
        table["sim_disagg_prefill_scale"] = tomlwrite.significant(engine.sim_disagg_prefill_scale)
    if not engine.cuda_graphs:
        table["cuda_graphs"] = False
    if engine.prompt_gather_all_reduce:
        table["prompt_gather_all_reduce"] = True
    if engine.decode_padded_experts:
        table["decode_padded_experts"] = True
    table["fp8_kv_cache"] = engine.fp8_kv_cache
    table["kv_on_demand"] = engine.kv_on_demand
    table["attention_format"] = engine.attention_format
    table["mla_decode"] = engine.mla_decode
    return table
