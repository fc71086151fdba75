"""Per-row errors of the step-level simulator and the steady-state model on serving_aiconfigurator.csv,
for diagnosing the simulator (written as CSV; filter with --split/--engine/--mode/--limit).

    PYTHONPATH=src python scripts/sim_errors.py --split scored --out /tmp/sim_rows.csv
"""

from __future__ import annotations

import argparse
import csv
import sys

from parity import catalog
from parity.predict import predict_rows
from parity.validate import mode_label


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default="scored", help="calibration, scored (holdout+unseen), or all")
    ap.add_argument("--engine", default="")
    ap.add_argument("--mode", default="", help="agg, disagg, or 'disagg (workers inferred)'")
    ap.add_argument("--every", type=int, default=1, help="keep every n-th row (fast subsets)")
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    rows = catalog.measurements()
    keep = {"scored": ("holdout", "unseen"), "all": ("calibration", "holdout", "unseen")}.get(a.split, (a.split,))
    rows = [r for r in rows if r.get("split") in keep and (not a.engine or r.get("engine") == a.engine)
            and (not a.mode or mode_label(r) == a.mode)][::a.every]
    steady = predict_rows(rows, model_kind="steady")
    sim = predict_rows(rows, model_kind="sim", processes=a.processes)
    with open(a.out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["case_id", "split", "engine", "mode", "system", "model", "isl", "osl", "concurrency",
                    "meas_ttft", "steady_ttft", "sim_ttft", "meas_tpot", "steady_tpot", "sim_tpot",
                    "pw", "dw", "sim_decode_batch", "preempt", "note"])
        for r, p, s in zip(rows, steady, sim):
            w.writerow([r["case_id"], r["split"], r["engine"], mode_label(r), r["system"], r["model"], r["isl"],
                        r["osl"], r["concurrency"], r["measured_ttft_s"], p.ttft_s if p.feasible else "",
                        s.ttft_s if s.feasible else "", r["measured_tpot_s"], p.tpot_s if p.feasible else "",
                        s.tpot_s if s.feasible else "", p.extra.get("prefill_workers", ""),
                        p.extra.get("decode_workers", ""), s.extra.get("decode_batch", ""),
                        s.extra.get("preemptions", ""), "" if s.feasible else s.note])
    return 0


if __name__ == "__main__":
    sys.exit(main())
