"""Speed of pricing one step of one candidate (the scalar path `serve`'s steady model, compare's refinements and the
simulator's step tables take): DeepSeek-R1 on GB200 NVL72 (attention DP 8, EP 8), Llama-3.1-70B on an H100 node (TP 8)
and Qwen3-32B on an Atlas 800 A3 (TP 2), each at four decode batches and one mixed prompt step.

Run: python benchmarks/bench_step.py   Prints the sum of the fifteen steps' times (a checksum: it must not move when
only speed changes) and microseconds per step_cost, the best of seven rounds of twenty.
"""

from __future__ import annotations

import time

from parity import catalog
from parity.ops import Batch
from parity.plan import Layout
from parity.search import best_precision
from parity.step import Deployment, step_cost

CASES = (("deepseek-r1", "gb200-nvl72", Layout(tp=1, attn_dp=8, moe_ep=8)),
         ("llama-3.1-70b", "hgx-h100", Layout(tp=8)), ("qwen3-32b", "atlas-800-a3", Layout(tp=2)))
BATCHES = tuple(Batch(decode_tokens=float(b), decode_context=1500.0) for b in (1, 8, 64, 256)) + (
    Batch(prefill_tokens=4096.0, prefill_sequences=2.0, decode_tokens=32.0, decode_context=900.0),)


def main() -> None:
    deployments = []
    for model_name, system_name, layout in CASES:
        model, system = catalog.model(model_name), catalog.system(system_name)
        deployments.append(Deployment(model=model, system=system, layout=layout,
                                      precision=best_precision(model, system.chip),
                                      calibration=catalog.calibration(system.chip)))

    def run() -> float:
        return sum(float(step_cost(dep, batch).time_s) for dep in deployments for batch in BATCHES)

    checksum = run()
    best = min(_timed(run, 20) for _ in range(7))
    steps = len(deployments) * len(BATCHES)
    print(f"{steps} steps, sum of their times {checksum!r} s; {best / 20 / steps * 1e6:.0f} us per step_cost")


def _timed(fn, repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
