"""Speed of the vectorised serving search (configurations evaluated per second on one core).

Run: python benchmarks/bench_search.py   Reports the DeepSeek-R1 searches on GB200 NVL72 and on
CloudMatrix 384 under a 50 ms TPOT target, and Llama-3.1-70B on an 8-GPU H100 node; each is timed
as the best of five runs after a warm-up (numpy and the catalog caches).
"""

from __future__ import annotations

import time

from parity import catalog
from parity.search import best_precision
from parity.search import search_serving

CASES = (("deepseek-r1", "gb200-nvl72", "trtllm"), ("deepseek-r1", "cloudmatrix-384", "generic"),
         ("llama-3.1-70b", "hgx-h100", "trtllm"))


def main() -> None:
    for model_name, system_name, engine in CASES:
        model, system = catalog.model(model_name), catalog.system(system_name)
        profile, cal = catalog.engine(engine), catalog.calibration(system.chip)
        precision = best_precision(model, system.chip)

        def run():
            return search_serving(model, system, profile, cal, precision, 1024, 1024, tpot_s=0.05)

        run()
        times = []
        for _ in range(5):
            start = time.perf_counter()
            result = run()
            times.append(time.perf_counter() - start)
        best = min(times)
        print(f"{model_name} on {system_name}: {result.evaluated:,} configurations in {best:.3f} s "
              f"({result.evaluated / best:,.0f} per second); best {result.best.tokens_per_s_per_chip:,.0f} "
              f"tok/s/chip at {result.best.tpot_s * 1e3:.1f} ms TPOT ({result.best.mode} {result.best.layout} "
              f"{result.best.decode_layout or ''})" if result.best else f"{model_name} on {system_name}: no configuration")


if __name__ == "__main__":
    main()
