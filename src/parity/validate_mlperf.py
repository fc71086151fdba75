"""MLPerf Inference submissions (measurements/mlperf_inference.csv) against parity, over the input lengths they allow.

MLPerf's Llama-2-70B runs 24,576 OpenOrca prompts whose mean length no source at hand publishes: the reference
preprocessing (mlcommons/inference language/llama2-70b/processorca.py) keeps prompts under 1,024 tokens, and the
reference output is 294.45 tokens a sample (its README; each run's own is its tokens/s over samples/s). So every
prediction is made at each mean input length of ISL_GRID_TOKENS, and a published figure is checked against the
range those predictions span (a bracket): a figure outside it is missed whatever the prompts are. Where two vendors
ran the same benchmark in the same round (`twins`), the predicted ratio of their offline throughputs is checked
the same way; it moves far less with the input length than either throughput does. Nothing here is fitted.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from parity.errors import ParityError
from parity.predict import Scenario, deployment, scenario_from_row, simulate_scenario
from parity.scenarios import offline_throughput, server_latency
from parity.simulate import Benchmark, client_profile

__all__ = ["ISL_GRID_TOKENS", "SIM_REQUESTS_PER_WORKER", "Bracket", "PairRatio", "output_length", "bracket_checks", "twin_pairs", "pair_ratios"]

# every admissible mean prompt length [tokens]: processorca.py keeps prompts under its 1,024-token limit
ISL_GRID_TOKENS: tuple[int, ...] = (1, 256, 512, 768, 1023)
# requests the simulator sends each worker of a server run (MLPerf's runs last 10-40 minutes, tens of thousands of
# queries a worker; 2,000 arrive in 2-4 simulated minutes at these rates, enough for stable p99s)
SIM_REQUESTS_PER_WORKER = 2000
STATISTICS = ("mean", "p50", "p90", "p99")


@dataclass(frozen=True, slots=True, kw_only=True)
class Bracket:
    """One published figure against parity's predictions at each mean input length of `isl_tokens`.

    metric: output_tokens_per_s (offline, whole system); server: ttft_s, tpot_s (means) for the steady-state
    model (model_kind steady), and ttft_s, ttft_p50_s ... tpot_p99_s for the step-level simulator (sim). A steady
    latency is inf where parity finds the server run unstable at that length (the queue grows without bound).
    """

    model_kind: str = "steady"
    case_id: str
    vendor: str
    system: str
    scenario: str
    metric: str
    measured: float
    predicted: tuple[float, ...]
    isl_tokens: tuple[int, ...] = ISL_GRID_TOKENS

    @property
    def low(self) -> float:
        return float(np.min(self.predicted))

    @property
    def high(self) -> float:
        return float(np.max(self.predicted))

    @property
    def inside(self) -> bool:
        return self.low <= self.measured <= self.high

    @property
    def miss(self) -> float:
        """Signed relative distance from the measured figure to the bracket: 0 inside, (bound - measured) /
        measured outside (negative: parity predicts less at every admissible input length)."""
        if self.inside:
            return 0.0
        bound = self.high if self.measured > self.high else self.low
        return (bound - self.measured) / self.measured

    @property
    def implied_isl_tokens(self) -> float | None:
        """The mean input length at which parity's prediction equals the measured figure [tokens], by linear
        interpolation between neighbouring grid lengths; None where no neighbouring pair brackets it."""
        pairs = zip(self.isl_tokens, self.isl_tokens[1:], self.predicted, self.predicted[1:])
        for isl_a, isl_b, p_a, p_b in pairs:
            if min(p_a, p_b) <= self.measured <= max(p_a, p_b) and math.isfinite(p_a) and math.isfinite(p_b):
                return isl_a if p_a == p_b else isl_a + (isl_b - isl_a) * (self.measured - p_a) / (p_b - p_a)
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class PairRatio:
    """Offline throughput of run `a` over its twin `b` (another vendor, same benchmark and round): published,
    and predicted at each mean input length of `isl_tokens` (both runs at the same length)."""

    a: str
    b: str
    published: float
    predicted: tuple[float, ...]
    isl_tokens: tuple[int, ...] = ISL_GRID_TOKENS

    @property
    def errors(self) -> tuple[float, ...]:
        return tuple(p / self.published - 1.0 for p in self.predicted)


def _number(row: Mapping[str, str], key: str) -> float:
    try:
        value = float(row[key])
    except (KeyError, ValueError) as err:
        raise ParityError(f"mlperf_inference.csv {row.get('case_id')}: {key} must be a number, "
                          f"got {row.get(key)!r}") from err
    if not (math.isfinite(value) and value > 0):
        raise ParityError(f"mlperf_inference.csv {row.get('case_id')}: {key} must be > 0, got {row[key]!r}")
    return value


def output_length(row: Mapping[str, str]) -> float:
    """Mean output tokens a sample of the run [tokens]: its output tokens/s over its samples/s."""
    return _number(row, "measured_output_tokens_per_s") / _number(row, "measured_samples_per_s")


def _scenario_row(row: Mapping[str, str], isl: int) -> dict[str, str]:
    """The run as a `parity predict` row of one worker at mean input length `isl`."""
    keys = ("case_id", "model", "system", "engine", "weights", "kv", "tp", "pp", "max_batch_size", "max_num_tokens")
    out = {k: row.get(k, "") for k in keys}
    out.update(isl=str(isl), osl=str(round(output_length(row))), concurrency=row.get("max_batch_size") or "2048")
    return out


Hook = Callable[[Scenario], Scenario] | None  # rewrites a scenario before it is priced (another calibration or profile)


def _scenario(row: Mapping[str, str], isl: int, hook: Hook = None) -> Scenario:
    s = scenario_from_row(_scenario_row(row, isl))
    return hook(s) if hook else s


def _offline(row: Mapping[str, str], isl: int, hook: Hook = None) -> float:
    """Output tokens/s of the whole submitted system: one worker kept full, times the system's chips."""
    s = _scenario(row, isl, hook)
    result = offline_throughput(deployment(s, s.layout), s.engine, [(float(isl), output_length(row))])
    return result.output_tokens_per_s_per_chip * _number(row, "chips") if result.feasible else 0.0


def _server(row: Mapping[str, str], isl: int, hook: Hook = None) -> tuple[float, float]:
    """Mean TTFT and TPOT [s] of one worker receiving its share of the target rate as a Poisson stream (inf:
    unstable). The harnesses spread queries over `workers` engines; parity assumes evenly."""
    s = _scenario(row, isl, hook)
    rate = _number(row, "target_qps") / _number(row, "workers")
    result = server_latency(deployment(s, s.layout), s.engine, [(float(isl), output_length(row))], rate)
    return (result.ttft_s, result.tpot_s) if result.feasible else (math.inf, math.inf)


def _server_sim(row: Mapping[str, str], isl: int, hook: Hook = None) -> Mapping[str, float]:
    """The simulator's latency statistics [s] of one worker under Poisson arrivals at its share of the target
    rate: SIM_REQUESTS_PER_WORKER requests of the mean lengths (OpenOrca's spread of lengths is not modelled)."""
    s = _scenario(row, isl, hook)
    n = SIM_REQUESTS_PER_WORKER
    bench = Benchmark(isl=isl, osl=round(output_length(row)), concurrency=n, client=client_profile("vllm"),
                      num_prompts=n, request_rate=_number(row, "target_qps") / _number(row, "workers"))
    return simulate_scenario(s, bench).latency


def _key(metric: str, statistic: str) -> str:
    return f"{metric}_s" if statistic == "mean" else f"{metric}_{statistic}_s"


def bracket_checks(rows: Sequence[Mapping[str, str]], grid: Sequence[int] = ISL_GRID_TOKENS,
                   simulate: bool = True, hook: Hook = None) -> list[Bracket]:
    """Offline throughput (offline rows), and mean TTFT and TPOT of the steady-state model and every published
    TTFT and TPOT statistic of the simulator (server rows; `simulate` False leaves the simulator out), bracketed
    over `grid`; `hook` rewrites each scenario before it is priced."""
    out = []
    for row in rows:
        common = {"case_id": row["case_id"], "vendor": row["vendor"], "system": row["system"],
                  "scenario": row["scenario"], "isl_tokens": tuple(grid)}
        if row["scenario"] == "offline":
            out.append(Bracket(metric="output_tokens_per_s", measured=_number(row, "measured_output_tokens_per_s"),
                               predicted=tuple(_offline(row, isl, hook) for isl in grid), **common))
        elif row["scenario"] == "server":
            served = [_server(row, isl, hook) for isl in grid]
            for i, metric in enumerate(("ttft_s", "tpot_s")):
                out.append(Bracket(metric=metric, measured=_number(row, f"measured_{metric[:4]}_mean_s"),
                                   predicted=tuple(p[i] for p in served), **common))
            if simulate:
                simulated = [_server_sim(row, isl, hook) for isl in grid]
                for metric in ("ttft", "tpot"):
                    for statistic in STATISTICS:
                        key = _key(metric, statistic)
                        out.append(Bracket(model_kind="sim", metric=key,
                                           measured=_number(row, f"measured_{metric}_{statistic}_s"),
                                           predicted=tuple(float(p[key]) for p in simulated), **common))
        else:
            raise ParityError(f"mlperf_inference.csv {row['case_id']}: scenario must be offline or server, "
                              f"got {row['scenario']!r}")
    return out


def twin_pairs(rows: Sequence[Mapping[str, str]]) -> list[tuple[Mapping[str, str], Mapping[str, str]]]:
    """(row, twin) for every id in a row's `twins`: another vendor's run of the same benchmark round and scenario."""
    by_id = {r["case_id"]: r for r in rows}
    out = []
    for row in rows:
        for twin_id in filter(None, (row.get("twins") or "").split(";")):
            twin = by_id.get(twin_id)
            if twin is None or twin["vendor"] == row["vendor"] or twin["round"] != row["round"] \
                    or twin["scenario"] != row["scenario"]:
                raise ParityError(f"mlperf_inference.csv {row['case_id']}: twin {twin_id!r} must be another "
                                  "vendor's row of the same round and scenario")
            out.append((row, twin))
    return out


def pair_ratios(rows: Sequence[Mapping[str, str]], grid: Sequence[int] = ISL_GRID_TOKENS,
                hook: Hook = None) -> list[PairRatio]:
    """The offline throughput ratio of every row to each of its twins, published and predicted over `grid`
    (`hook`: as bracket_checks)."""
    out = []
    for row, twin in twin_pairs(rows):
        if row["scenario"] != "offline":
            continue
        published = _number(row, "measured_output_tokens_per_s") / _number(twin, "measured_output_tokens_per_s")
        predicted = tuple(_offline(row, isl, hook) / (_offline(twin, isl, hook) or math.nan) for isl in grid)
        out.append(PairRatio(a=row["case_id"], b=twin["case_id"], published=published, predicted=predicted,
                             isl_tokens=tuple(grid)))
    return out
