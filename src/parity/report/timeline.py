"""The report's simulated serving run: one closed-loop benchmark replayed step by step (parity.simulate),
its queues and KV use over time, and a caption that says what was simulated."""

from __future__ import annotations

from dataclasses import dataclass

from parity.plan import Layout
from parity.predict import Case, benchmark_of, scenario_of, simulate_scenario
from parity.simulate import SimResult

__all__ = ["TimelineRun", "simulated_run"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TimelineRun:
    """A simulated benchmark run with its timeline, and the sentence that says what it was."""

    result: SimResult
    title: str
    caption: str


def simulated_run(model: str, system: str, engine: str, tp: int, concurrency: int, isl: int, osl: int) -> TimelineRun:
    """`parity serve --sim --timeline` of one aggregated worker (tensor parallel `tp`): the benchmark
    client's default profile, lengths and prompt count (predict.benchmark_of)."""
    scenario = scenario_of(Case(case_id="timeline", model=model, system=system, engine=engine, isl=isl, osl=osl,
                                concurrency=concurrency, layout=Layout(tp=tp)))
    bench = benchmark_of(scenario)
    run = simulate_scenario(scenario, bench, timeline=True)
    lat, flag = run.latency, run.kv_flag()
    title = (f"{scenario.model.name} on {system} (TP{tp}, {scenario.engine.id}): "
             f"{concurrency} client{'s' if concurrency != 1 else ''}")
    caption = (f"Simulated step by step (parity serve --sim --timeline): {scenario.model.name} on one {system} "
               f"worker at TP{tp} ({scenario.precision.weights} weights, {scenario.precision.kv_cache} KV cache), "
               f"engine profile {scenario.engine.id}, {concurrency} closed-loop clients of the {bench.client.id} "
               f"client sending {run.requests:,} counted requests of about {isl:,} prompt and {osl:,} output tokens "
               f"(lengths drawn from {bench.client.range_ratio:g}x to 1x). Queued: sent and not yet prefilling; "
               f"decoding: sequences in the decode batch; KV used: share of the {run.kv_capacity_tokens:,.0f} KV "
               f"tokens the worker holds. TTFT mean {lat['ttft_s'] * 1e3:,.0f} ms (p99 "
               f"{lat['ttft_p99_s'] * 1e3:,.0f} ms), TPOT mean {lat['tpot_s'] * 1e3:,.1f} ms (p99 "
               f"{lat['tpot_p99_s'] * 1e3:,.1f} ms), {run.preemptions:,} preemptions, "
               f"{run.output_tokens_per_s_per_chip:,.0f} output tokens/s per chip."
               + (f" Flagged: {flag}." if flag else ""))
    return TimelineRun(result=run, title=title, caption=caption)
