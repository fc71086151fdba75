"""Timings of `search_training` (issue 4: Llama-3.1-70B on 1,024 H100 and on 1,024 Ascend 910C in under 2 s).

Run: PYTHONPATH=src python benchmarks/bench_training_search.py. Prints the catalog load, then each search's
time (best of 3), the layouts priced, how many fit and the fastest one.
"""

import time

from parity import catalog
from parity.training import search_training

CASES = [
    ("llama-3.1-70b", "hgx-h100", 1024, 8192, 512),
    ("llama-3.1-70b", "atlas-800-a3", 1024, 8192, 512),
    ("llama-3.1-70b", "cloudmatrix-384", 1024, 8192, 512),
    ("llama-3.1-405b", "gb200-nvl72", 4096, 8192, 2048),
    ("deepseek-v3", "hgx-h800", 2048, 4096, 15360),
]


def main() -> None:
    start = time.perf_counter()
    profile = catalog.training_profile()
    for model, system, *_ in CASES:
        catalog.model(model), catalog.system(system)
    print(f"catalog load: {time.perf_counter() - start:.3f} s")
    for model, system, chips, seq_len, batch in CASES:
        m, s = catalog.model(model), catalog.system(system)
        cal = catalog.calibration(s.chip)
        times = []
        for _ in range(3):
            t = time.perf_counter()
            found = search_training(m, s, chips, seq_len, batch, cal, profile)
            times.append(time.perf_counter() - t)
        best = found.best[0] if found.best else None
        print(f"{model} on {chips} x {s.chip.id} ({system}): {min(times):.3f} s, {found.candidates} layouts, "
              f"{found.fitting} fit; best {best.layout if best else '-'} "
              f"{'' if best is None else f'{float(best.step_s):.2f} s/step, MFU {float(best.mfu):.1%}'}")


if __name__ == "__main__":
    main()
