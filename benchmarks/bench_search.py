"""Speed of the vectorised serving search (configurations evaluated per second on one core).

Run: python benchmarks/bench_search.py [--exhaustive]   Reports the DeepSeek-R1 searches on GB200 NVL72, on
CloudMatrix 384 and on an 8,192-chip Atlas 950 SuperPoD under a 50 ms TPOT target, and Llama-3.1-70B on an 8-GPU H100
node; each is timed
as the best of five runs after a warm-up (numpy and the catalog caches). --exhaustive compares the
GB200 search's best with an exhaustive evaluation, one configuration at a time.
"""

from __future__ import annotations

import time

from parity import catalog
from parity.search import best_precision
from parity.search import search_serving

CASES = (("deepseek-r1", "gb200-nvl72", "trtllm"), ("deepseek-r1", "cloudmatrix-384", "generic"),
         ("deepseek-r1", "atlas-950-superpod", "generic"), ("llama-3.1-70b", "hgx-h100", "trtllm"))


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
        best, found = min(times), result.best
        if found is None:
            print(f"{model_name} on {system_name}: no configuration")
            continue
        # "agg tp1-dp8-ep8", "disagg <prefill> <decode>": an aggregated run has no decode layout (no stray space)
        layouts = " ".join(str(part) for part in (found.mode, found.layout, found.decode_layout) if part)
        print(f"{model_name} on {system_name}: {result.evaluated:,} configurations in {best:.3f} s "
              f"({result.evaluated / best:,.0f} per second); best {found.tokens_per_s_per_chip:,.0f} "
              f"tok/s/chip at {found.tpot_s * 1e3:.1f} ms TPOT ({layouts})")


if __name__ == "__main__" and "--exhaustive" not in __import__("sys").argv:
    main()


def exhaustive_check() -> None:
    """DeepSeek-R1 on GB200 NVL72 at 50 ms TPOT: the vectorised search's best against the best of an
    exhaustive evaluation one configuration at a time through the scalar serving path (a minute or two), over the
    concurrency grid's loads; the search also runs each layout at the most clients (decode batch) its target allows
    between them (search._largest_meeting), so its best may lie a little above."""
    import numpy as np

    from parity.plan import LayoutGrid
    from parity.search import DEFAULT_CONCURRENCY, layout_grid
    from parity.search.disaggregated import _disaggregated
    from parity.serving import Workload, engine_deployment, kv_capacity, serve_aggregated

    model, system = catalog.model("deepseek-r1"), catalog.system("gb200-nvl72")
    profile, cal = catalog.engine("trtllm"), catalog.calibration(system.chip)
    precision = best_precision(model, system.chip)
    start = time.perf_counter()
    fast = search_serving(model, system, profile, cal, precision, 1024, 1024, tpot_s=0.05)
    fast_s = time.perf_counter() - start
    grids = []
    for chips in (1, 2, 4, 8, 16, 32, 64):
        try:
            grids.append(layout_grid(model, chips, (1, 2, 4)))
        except Exception:
            continue
    grid = LayoutGrid(**{n: np.concatenate([getattr(g, n) for g in grids]) for n in ("tp", "pp", "attn_dp",
                                                                                     "moe_tp", "moe_ep")})
    best, evaluated = 0.0, 0
    start = time.perf_counter()
    for k in range(len(grid)):
        layout = grid.at(k)
        dep = engine_deployment(model, system, layout, precision, cal, profile)
        for c in DEFAULT_CONCURRENCY:  # at most the clients the rank's KV cache holds, as the search runs them
            _, slots = kv_capacity(dep, profile, float(c), 1024.0, 1024.0)
            c = min(float(c), max(float(slots), 1.0))
            r = serve_aggregated(dep, profile, Workload(isl=1024, osl=1024, concurrency=c * layout.attn_dp))
            evaluated += 1
            if bool(np.asarray(r.feasible)) and float(r.tpot_s) <= 0.05:
                best = max(best, float(r.output_tokens_per_s) / layout.chips)
    for c in DEFAULT_CONCURRENCY:  # disaggregated: each decode layout at this batch, every prefill layout
        d = _disaggregated(model, system, grid, precision, cal, profile, 1024, 1024, np.array([float(c)]))
        d["price"](np.arange(len(grid)))  # every row as its serve line, not the screen's estimate
        for k in range(len(grid)):
            evaluated += 1
            if d["fits"][k] and d["tpot"][k] <= 0.05:
                best = max(best, float(d["per_chip"][k]))
    slow_s = time.perf_counter() - start
    gap = fast.best.tokens_per_s_per_chip / best - 1.0
    print(f"exhaustive, one configuration at a time: {evaluated:,} evaluations in {slow_s:.0f} s, best {best:,.0f} "
          f"tok/s/chip; vectorised search: {fast_s:.3f} s, best {fast.best.tokens_per_s_per_chip:,.0f} ({gap:+.2%})")


if __name__ == "__main__" and "--exhaustive" in __import__("sys").argv:
    exhaustive_check()
