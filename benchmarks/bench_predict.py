"""How long `parity predict` takes on 2,000 serving cases (the measured set's rows, as a user's table).

Run: python benchmarks/bench_predict.py   (prints seconds; the target is under 10 s on one core)
"""

from __future__ import annotations

import time

from parity import catalog
from parity.predict import CASE_COLUMNS, predict_rows


def main() -> None:
    rows = [{k: r.get(k, "") for k in CASE_COLUMNS} for r in catalog.measurements()]
    rows = (rows * (2000 // len(rows) + 1))[:2000]
    catalog.model("deepseek-r1")  # warm the catalog caches (file reads are not what we time)
    start = time.perf_counter()
    predictions = predict_rows(rows)
    elapsed = time.perf_counter() - start
    feasible = sum(p.feasible for p in predictions)
    print(f"predict: {len(rows)} cases in {elapsed:.2f} s ({len(rows) / elapsed:,.0f} cases/s), {feasible} feasible")


if __name__ == "__main__":
    main()
