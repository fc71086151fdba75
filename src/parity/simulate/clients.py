"""The benchmark client as the benchmarks run it: named closed-loop profiles (prompt count, warm-up,
length range, whether the first wave is counted), open-loop Poisson or fixed-rate arrivals, and
traces of (arrival time, prompt tokens, output tokens)."""

from __future__ import annotations

import math
from array import array
from math import isfinite
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from parity.errors import ParityError

__all__ = ["ClientProfile", "CLIENT_PROFILES", "GeneratedLimits", "AICONFIGURATOR_GENERATOR", "FrontEnd", "client_profile", "Arrivals", "TraceRequest", "draw_lengths", "length_range",
           "mean_length", "trace_of"]


@dataclass(frozen=True, slots=True, kw_only=True)
class GeneratedLimits:
    """The engine limits a benchmark's own deployment generator writes for an aggregated worker it then
    benchmarks, on the `engines` its configuration maps them to: at most `concurrency` sequences
    (max_batch_size), a step budget of concurrency + isl + `extra_tokens` tokens (max_num_tokens), and whole
    prompts (no chunked prefill) on the engines in `unchunked` (that engine's template leaves chunking at its
    default, off)."""

    extra_tokens: int
    engines: tuple[str, ...]
    unchunked: tuple[str, ...] = ()
    source: str = ""

    def max_num_tokens(self, concurrency: int, isl: int) -> int:
        """The generated step budget [tokens]."""
        return int(concurrency) + int(isl) + self.extra_tokens


@dataclass(frozen=True, slots=True, kw_only=True)
class FrontEnd:
    """The path between the benchmark client and the engine: what it adds to a request before the engine
    sees it [s], by engine (`ttft_overhead_s`: (engine, seconds) pairs; an engine not listed keeps its
    profile's ttft_overhead_s), and what it adds on top for models with an architecture feature
    (`feature_overhead_s`: (engine, feature, seconds), a feature of Model.features). A serving framework in
    front of the engine (NVIDIA Dynamo's frontend routing to its worker) costs more than the engine's own
    OpenAI server."""

    id: str
    ttft_overhead_s: tuple[tuple[str, float], ...] = ()
    feature_overhead_s: tuple[tuple[str, str, float], ...] = ()
    source: str = ""

    def __post_init__(self) -> None:
        if any(not 0.0 <= s <= 1.0 for _, s in self.ttft_overhead_s):
            raise ParityError(f"front end {self.id}: ttft_overhead_s must be in [0, 1 s], got {self.ttft_overhead_s}")
        if any(not 0.0 <= s <= 1.0 for _, _, s in self.feature_overhead_s):
            raise ParityError(f"front end {self.id}: feature_overhead_s must be in [0, 1 s], "
                              f"got {self.feature_overhead_s}")

    def overhead_s(self, engine: str) -> float | None:
        """What this front end adds for `engine` [s], None where the engine profile's own applies."""
        return dict(self.ttft_overhead_s).get(engine)

    def feature_extra_s(self, engine: str, features: frozenset[str]) -> float:
        """What it adds on top for `engine` serving a model with `features` [s] (0 where none is listed)."""
        return sum(s for e, f, s in self.feature_overhead_s if e == engine and f in features)


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientProfile:
    """How a benchmark drives the server.

    prompts_per_client: requests sent per concurrent client (num_prompts = this x concurrency) unless
    num_prompts is set; num_prompts: a fixed request count (0: use prompts_per_client). range_ratio:
    lengths drawn uniformly from [floor(ratio x nominal), nominal] (1: fixed). first_wave_counted:
    the measured run starts with every client sending at once and those requests are scored (a
    warm-up before it only warms the engine; the measured run still starts empty). source: where
    each default comes from. deploys: the engine limits the benchmark's own generator writes into the
    aggregated deployment it runs (None: the engine's defaults or the row's own settings). front_end: the
    path its requests take to an aggregated engine (FrontEnd; None: the engine profile's ttft_overhead_s).
    """

    id: str
    prompts_per_client: float = 10.0
    num_prompts: int = 0
    range_ratio: float = 1.0
    first_wave_counted: bool = True
    deploys: GeneratedLimits | None = None
    front_end: FrontEnd | None = None
    source: str = ""

    def __post_init__(self) -> None:
        if not 0.0 <= self.range_ratio <= 1.0:
            raise ParityError(f"client {self.id}: range_ratio must be in [0, 1], got {self.range_ratio}")
        if self.num_prompts < 0 or self.prompts_per_client <= 0:
            raise ParityError(f"client {self.id}: num_prompts must be >= 0 and prompts_per_client > 0")

    def prompts(self, concurrency: int) -> int:
        """Requests of a run at `concurrency` clients (at least one per client)."""
        n = self.num_prompts or int(math.ceil(self.prompts_per_client * concurrency))
        return max(n, concurrency)

    @property
    def lengths(self) -> str:
        """How it draws request lengths, in words: 'fixed lengths' or 'lengths uniform in [0.8, 1] x nominal'."""
        return "fixed lengths" if self.range_ratio >= 1.0 else f"lengths uniform in [{self.range_ratio:g}, 1] x nominal"

    def describe(self, open_loop: bool = False, num_prompts: int | None = None) -> str:
        """What the profile sends, in a line (its sources: `source`, `parity engines --clients`); `open_loop`: the
        requests arrive at given times, so its closed loop's clients and first wave do not apply, nor its generator's
        engine limits (written for the closed loop it benchmarks: predict.simulated.deployed_engine); `num_prompts`:
        the count a run sends in place of the profile's (Benchmark.num_prompts; None: the profile's)."""
        own = f"{self.num_prompts:,} prompts" if self.num_prompts else f"{self.prompts_per_client:g} prompts a client"
        count = f"{num_prompts:,} prompts as asked, in place of its {own}" if num_prompts else own
        parts = [self.lengths] if open_loop else [
            count, self.lengths, "first wave scored" if self.first_wave_counted else "first wave not scored"]
        if self.deploys is not None and not open_loop:
            parts.append(f"its generator's engine limits on {', '.join(self.deploys.engines)}")
        if self.front_end is not None:
            parts.append(f"front end {self.front_end.id}")
        return ", ".join(parts)


# aiconfigurator's generator (src/aiconfigurator/generator: backends/trtllm.py "max_num_tokens heuristic" in
# v0.3, Oct 2025; rule_plugin/trtllm.rule and vllm.rule from Dec 2025, "agg max_num_tokens = max_batch_size +
# SlaConfig.isl + 1500", agg max_batch_size = the configuration's batch size, which its measured aggregated rows
# give as their concurrency); TensorRT-LLM's template extra_engine_args.1.0.0rc3.yaml.j2 writes
# enable_chunked_prefill default(false); vLLM V1 chunks prompts always (max-num-batched-tokens is the budget).
# Its backend_config_mapping.yaml maps max_num_tokens to no SGLang flag, so SGLang runs keep their defaults.
AICONFIGURATOR_GENERATOR = GeneratedLimits(
    extra_tokens=1500, engines=("trtllm", "vllm"), unchunked=("trtllm",),
    source="aiconfigurator generator: agg max_batch_size = batch size, max_num_tokens = batch size + isl + 1500; "
           "TensorRT-LLM enable_chunked_prefill false")

# The front ends, from the launch scripts: aiconfigurator's generator starts `python3 -m dynamo.frontend` and
# `python3 -m dynamo.trtllm` / `dynamo.vllm` workers (generator/config/backend_templates/*/run.sh.j2);
# InferenceX's single-node scripts start the engine's own server (benchmarks/dsr1_fp8_b200_trt_slurm.sh,
# gptoss_fp4_b200_trt_docker.sh: `trtllm-serve`; gptoss_fp4_b200_docker.sh: `vllm serve`). Their costs on
# TensorRT-LLM are fitted on the calibration rows of serving_aiconfigurator.csv with the simulator (TTFT median
# |error| of aiconfigurator's aggregated TensorRT-LLM rows at 30 / 50 / 60 / 70 / 90 ms: 24.0 / 17.8 / 18.1 /
# 20.5 / 25.6%, p90 63 / 61 / 58 / 57 / 63%; InferenceX's at 0 / 5 / 15 / 30 ms: 14.5 / 14.8 / 18.0 / 26.1%);
# the other engines keep their profiles' ttft_overhead_s (one fit over both kinds of row)
DYNAMO_FRONT_END = FrontEnd(
    id="dynamo", ttft_overhead_s=(("trtllm", 0.060),),
    source="aiconfigurator generator run.sh.j2: dynamo.frontend in front of dynamo.trtllm / dynamo.vllm workers; "
           "TensorRT-LLM's cost fitted on calibration rows (60 ms)")
# TensorRT-LLM serving DeepSeek-V3/R1 (MLA) behind trtllm-serve: its InferenceX runs on B200 take a fixed ~60-100 ms
# a request more to their first token than the simulator's steps give, at every concurrency where neither queueing
# nor batch waiting dominates (4 to 64 clients of 1k/8k), while their TPOT is met: a time the simulated steps do
# not hold, which Llama-3.1-70B and gpt-oss-120b under the same server and scripts do not show. What makes it is not
# found (measurements/README.md lists what was checked: num_postprocess_workers, stream_interval, the host ops of
# a prompt step, the MLA prefill kernel). Its size is fitted on the 37 calibration rows of those runs (34 simulate;
# scripts/sim_grid.py --engine trtllm --mode agg --model deepseek --inferencex --feature-overhead mla, trimmed mean
# |log error| of TTFT plus TPOT): 0 / 30 / 40 / 50 / 60 / 70 / 80 / 90 / 100 / 120 / 150 ms: 0.596 / 0.547 / 0.533 /
# 0.515 / 0.515 / 0.503 / 0.510 / 0.512 / 0.519 / 0.535 / 0.558.
ENGINE_SERVER = FrontEnd(
    id="engine server", ttft_overhead_s=(("trtllm", 0.0), ("vllm", 0.010)),
    feature_overhead_s=(("trtllm", "mla", 0.070),),
    source="InferenceX single-node scripts: trtllm-serve / vllm serve directly; TensorRT-LLM's cost fitted on "
           "calibration rows (0 ms), vLLM's with its host floor on eager prompt steps (10 ms; data/engines/vllm.toml); "
           "TensorRT-LLM serving an MLA model (DeepSeek-V3/R1) 70 ms more, fitted on that model's calibration rows")

CLIENT_PROFILES: dict[str, ClientProfile] = {p.id: p for p in (
    ClientProfile(id="vllm", num_prompts=1000, range_ratio=1.0,
                  source="vLLM benchmarks/benchmark_serving.py: --num-prompts default 1000, --max-concurrency "
                         "clients, random dataset at fixed lengths unless --random-range-ratio; one test prompt "
                         "before the run, which starts with every client sending at once"),
    ClientProfile(id="inferencex", prompts_per_client=10.0, range_ratio=0.8, front_end=ENGINE_SERVER,
                  source="InferenceX benchmark-tmpl.yml / benchmark_lib.sh: benchmark_serving.py with num prompts "
                         "10 x concurrency and --random-range-ratio 0.8 (parity's InferenceX rows carry "
                         "random_range_ratio 0.8, and num_prompts where a run sent another count: its B200 Docker "
                         "runners sent 50 x, 20 x at osl 8192, for two DeepSeek-R1 model names from #89 to #480, "
                         "2025-10-06 to 2026-01-21); no warm-up before #480 (d053ae24e: one single-prompt test "
                         "request, then the timed run), --num-warmups 2 x concurrency after it, and a 2 x concurrency "
                         "warm-up run before each disaggregated one (srt-slurm sa-bench bench.sh, from 2026-01-23); the "
                         "measured run starts with every client at once, and no cold start is modelled"),
    ClientProfile(id="sglang", num_prompts=1000, range_ratio=0.0,
                  source="SGLang python/sglang/bench_serving.py: --num-prompts default 1000, --random-range-ratio "
                         "default 0.0 (lengths uniform in [1, nominal]), --max-concurrency clients"),
    ClientProfile(id="aiconfigurator", prompts_per_client=10.0, range_ratio=0.8, deploys=AICONFIGURATOR_GENERATOR,
                  front_end=DYNAMO_FRONT_END,
                  source="aiconfigurator's own benchmark runner (src/aiconfigurator/eval/benchmarks/"
                         "genai_perf_runner.py: genai-perf --concurrency c --request-count 10c --warmup-request-count "
                         "2c, fixed lengths with ignore_eos) for the ten requests per client; its silicon rows do not "
                         "say they were run by it. Assumption: lengths uniform in [0.8, 1] x nominal, the best of 1, "
                         "0.9, 0.8, 0.7, 0.5 on the calibration rows of that source (simulated TTFT median error 112%, "
                         "34%, 29%, 32%, 39%: fixed lengths keep clients in lockstep waves the TensorRT-LLM and vLLM "
                         "measurements do not show). Tried instead on a third of the TensorRT-LLM aggregated "
                         "calibration rows at fixed lengths (TTFT median/p90 62.7%/297%): a random server-side delay "
                         "per request, exponential of mean 10/30/100 ms (61%, 77%, 91% median); a random client gap "
                         "before each send, 30/100/300 ms (58%, 47%, 38%; p90 296-329%); with the spread, the first "
                         "wave left unscored as after an undrained warm-up (34.4% median, -30% bias, against 21.5% "
                         "scored): the measured runs start empty and the spread stays. With the generator's own limits (deploys: a step "
                         "budget of concurrency + isl + 1500, whole prompts on TensorRT-LLM) and its Dynamo front end "
                         "the spread still stands in for what breaks the waves up: at fixed lengths every calibration "
                         "row of aiconfigurator's TensorRT-LLM runs gives 77.9% median TTFT error (18.1% with the "
                         "spread) and of its vLLM runs 150% (9.6%)"),
)}


def client_profile(name: str) -> ClientProfile:
    try:
        return CLIENT_PROFILES[name.strip().lower()]
    except KeyError:
        raise ParityError(f"unknown client profile {name!r}; known: {', '.join(CLIENT_PROFILES)}") from None


def mean_length(nominal: float, range_ratio: float) -> float:
    """Mean of whole lengths uniform in [max(floor(range_ratio x nominal), 1), nominal] [tokens]."""
    return 0.5 * (max(math.floor(range_ratio * nominal), 1.0) + nominal)


def length_range(nominal: float, range_ratio: float) -> tuple[int, int]:
    """(low, high) of the whole lengths draw_lengths draws: [max(floor(range_ratio x nominal), 1), nominal]."""
    low = max(int(math.floor(range_ratio * nominal)), 1)
    return low, max(int(nominal), low)


def draw_lengths(nominal: float, range_ratio: float, count: int, rng: np.random.Generator) -> list[int]:
    """`count` whole lengths uniform in [max(floor(range_ratio x nominal), 1), nominal] (length_range)."""
    low, high = length_range(nominal, range_ratio)
    if low == high:
        return [high] * count
    return rng.integers(low, high + 1, size=count).tolist()  # Python ints


MAX_ARRIVAL_S = 1e7  # a trace's latest arrival [s] (about 16 weeks): later ones are typing errors, not traces
# a request's prompt or output tokens at most: beyond any context length (the longest windows are ~1e7), so a longer
# one is a typing error; --isl, --osl and a cases table's lengths are held to it too
MOST_REQUEST_TOKENS = 10**8


@dataclass(frozen=True, slots=True, kw_only=True)
class TraceRequest:
    """One request of a trace: when it arrives [s], at most MAX_ARRIVAL_S, its prompt and output tokens (each at
    most MOST_REQUEST_TOKENS)."""

    arrival_s: float
    isl: int
    osl: int

    def __post_init__(self) -> None:
        if not (0 <= self.arrival_s <= MAX_ARRIVAL_S and 1 <= self.isl <= MOST_REQUEST_TOKENS
                and 1 <= self.osl <= MOST_REQUEST_TOKENS):
            raise ParityError(f"trace request needs 0 <= arrival_s <= {MAX_ARRIVAL_S:,.0f} and 1 <= isl, osl <= "
                              f"{MOST_REQUEST_TOKENS:,} (beyond any context length); got {self.arrival_s:g}, "
                              f"{self.isl:,}, {self.osl:,}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Arrivals:
    """Where requests come from: a closed loop of `concurrency` clients (request_rate None, trace
    empty), open-loop arrivals at `request_rate` per second (Poisson, or evenly spaced when
    `poisson` is False; concurrency then only sets the profile's count of prompts), or a trace. num_prompts:
    requests of the run. max_concurrency: an open loop's cap on requests in flight (None: none), as vLLM's and
    SGLang's benchmark clients apply --max-concurrency: a request whose time has come waits, in arrival order,
    for one in flight to end, and its TTFT counts from when it is sent (benchmarks/benchmark_serving.py and
    sglang bench_serving.py: `async with semaphore` around the request function, whose timer starts inside);
    at an unbounded rate that is a closed loop of max_concurrency clients."""

    concurrency: int
    num_prompts: int
    request_rate: float | None = None
    poisson: bool = True
    trace: tuple[TraceRequest, ...] = ()
    max_concurrency: int | None = None

    def __post_init__(self) -> None:
        if self.concurrency < 1 or self.num_prompts < 1:
            raise ParityError(f"concurrency and num_prompts must be >= 1, got {self.concurrency}, {self.num_prompts}")
        if self.request_rate is not None and not self.request_rate > 0:
            raise ParityError(f"request rate must be > 0 requests/s, got {self.request_rate}")
        if self.max_concurrency is not None:
            if self.max_concurrency < 1:
                raise ParityError(f"max_concurrency must be >= 1 requests in flight, got {self.max_concurrency}")
            if self.request_rate is None and not self.trace:
                raise ParityError("max_concurrency caps an open loop's requests in flight (a request rate or a "
                                  "trace); a closed loop's clients are its concurrency")

    def open_times(self, rng: np.random.Generator) -> list[float] | None:
        """Arrival times [s] of an open-loop run, None for a closed loop. A drawn stream starts at 0, as vLLM's and
        SGLang's benchmark clients send their first request at once and then wait a gap before each next one, so the
        run's clock (a timeline's time_s) and its duration both start at the first send; a trace keeps its own clock."""
        if self.trace:
            return [r.arrival_s for r in self.trace]
        if self.request_rate is None:
            return None
        if self.poisson:
            times = np.cumsum(rng.exponential(1.0 / self.request_rate, self.num_prompts))
            return [float(t) for t in times - times[0]]
        return [i / self.request_rate for i in range(self.num_prompts)]


def trace_of(rows: Iterable[tuple[int, Sequence[str | None]]], source: str = "trace") -> tuple[TraceRequest, ...]:
    """Trace requests from (line number, arrival_s, isl and osl cells: None where a row has none) of the file `source`
    names, sorted by arrival (in the file's order at one time); the first bad row is refused as it is reached, by its
    line, before the rows after it are taken, and no request is built before every row is read."""
    arrivals, isls, osls = array("d"), array("q"), array("q")  # 20 bytes a row until every row is read
    for line, values in rows:
        try:
            arrival, isl, osl = float(values[0]), float(values[1]), float(values[2])  # type: ignore[arg-type]
        except (TypeError, ValueError) as err:
            raise ParityError(f"{source} line {line:,}: arrival_s, isl and osl must be numbers, got "
                              f"{', '.join(repr(v) if v is not None else 'nothing' for v in values)}") from err
        if not (isfinite(arrival) and isfinite(isl) and isfinite(osl)) or isl != int(isl) or osl != int(osl):
            raise ParityError(f"{source} line {line:,}: arrival_s must be a finite number and isl, osl whole numbers, "
                              f"got {', '.join(str(v) for v in values)}")
        if not (0 <= arrival <= MAX_ARRIVAL_S and 1 <= isl <= MOST_REQUEST_TOKENS and 1 <= osl <= MOST_REQUEST_TOKENS):
            try:  # TraceRequest's own bounds, checked as the row is read: the request says what it needs
                TraceRequest(arrival_s=arrival, isl=int(isl), osl=int(osl))
            except ParityError as err:
                raise ParityError(f"{source} line {line:,}: {err}") from err
        arrivals.append(arrival)
        isls.append(int(isl))
        osls.append(int(osl))
    if not arrivals:
        raise ParityError(f"{source} has no requests (a header and no rows)")
    order = sorted(range(len(arrivals)), key=arrivals.__getitem__)  # stable: the file's order at one time
    return tuple(TraceRequest(arrival_s=arrivals[i], isl=isls[i], osl=osls[i]) for i in order)
