"""How long the step-level simulator takes: `parity serve --sim` at 256 clients and 8k outputs (target
under a second), and `parity predict --model-kind sim` on 2,000 serving cases over 2 processes
(target under a minute on 2 cores).

Run: python benchmarks/bench_simulate.py [--skip-predict]   (prints seconds)

Wall time on a shared machine depends on what else runs; the CPU seconds of this process and its worker
processes (printed beside it) do much less.
"""

from __future__ import annotations

import resource
import sys
import time

from parity import catalog
from parity.predict import CASE_COLUMNS, benchmark_of, predict_rows, scenario_from_row, simulate_scenario


def serve_case(model: str, system: str, engine: str, tp: int, clients: int, isl: int, osl: int) -> None:
    scenario = scenario_from_row(dict(model=model, system=system, engine=engine, tp=tp, isl=isl, osl=osl,
                                      concurrency=clients))
    catalog.model(model)
    start = time.perf_counter()
    sim = simulate_scenario(scenario, benchmark_of(scenario))
    elapsed = time.perf_counter() - start
    print(f"serve --sim: {model} on {system} ({engine}, TP{tp}), {clients} clients, {isl}/{osl}: {elapsed:.2f} s "
          f"({sim.requests:,} requests, {sim.preemptions:,} preemptions, TTFT {sim.ttft_s * 1e3:,.0f} ms, "
          f"TPOT {sim.tpot_s * 1e3:.1f} ms)")


def cpu_s() -> float:
    """CPU seconds (user and system) of this process and of its finished worker processes."""
    own, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


def main() -> None:
    serve_case("llama-3.1-70b", "hgx-h200", "vllm", 4, 256, 1024, 8192)
    serve_case("llama-3.1-8b", "hgx-h100", "trtllm", 1, 256, 1024, 8192)
    if "--skip-predict" in sys.argv:
        return
    rows = [{k: r.get(k, "") for k in CASE_COLUMNS + ("random_range_ratio",)} for r in catalog.measurements()]
    rows = (rows * (2000 // len(rows) + 1))[:2000]
    catalog.model("deepseek-r1")
    start, cpu = time.perf_counter(), cpu_s()
    predictions = predict_rows(rows, model_kind="sim", processes=2)
    elapsed, cpu = time.perf_counter() - start, cpu_s() - cpu
    feasible = sum(p.feasible for p in predictions)
    print(f"predict --model-kind sim: {len(rows)} cases in {elapsed:.1f} s over 2 processes ({cpu:.0f} CPU s), "
          f"{feasible} feasible")


if __name__ == "__main__":
    main()
