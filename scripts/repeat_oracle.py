"""The noise floor under any serving model: an oracle that predicts each never-fitted row of
serving_aiconfigurator.csv by the measurement of its repeat run (another row with identical inputs and engine
version, crosscheck._REPEAT, as repeat_spread pairs them), scored as `parity validate` scores predictions,
(predicted - measured) / measured, per engine and mode. A row with several partners is predicted by their
median. With --errors (a CSV from scripts/sim_errors.py), the steady-state model and the simulator are scored on
the same rows.

    PYTHONPATH=src python scripts/repeat_oracle.py [--errors /tmp/sim_rows.csv]
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict

import numpy as np

from parity import catalog
from parity.crosscheck import _REPEAT, _key
from parity.validate import SCORED_SPLITS, mode_label


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--errors", default="", help="scripts/sim_errors.py output to score on the same rows")
    a = ap.parse_args()
    rows = catalog.measurements()
    runs = defaultdict(list)
    for r in rows:
        runs[_key(r, _REPEAT)].append(r)
    model = {}
    if a.errors:
        with open(a.errors) as f:
            model = {r["case_id"]: r for r in csv.DictReader(f)}
    errs: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for same in runs.values():
        for r in same:
            if r.get("split") not in SCORED_SPLITS or len(same) < 2:
                continue
            group = (r["engine"], mode_label(r))
            for metric in ("ttft", "tpot"):
                if not r[f"measured_{metric}_s"]:  # a metric the row does not keep
                    continue
                meas = float(r[f"measured_{metric}_s"])
                others = [float(o[f"measured_{metric}_s"]) for o in same if o is not r and o[f"measured_{metric}_s"]]
                if not others:
                    continue
                cols = {"oracle": float(np.median(others))}
                m = model.get(r["case_id"])
                if m and m[f"steady_{metric}"] and m[f"sim_{metric}"]:
                    cols |= {"steady": float(m[f"steady_{metric}"]), "sim": float(m[f"sim_{metric}"])}
                for name, pred in cols.items():
                    for g in (group, ("all", "")):
                        errs[(metric, name, *g)].append(abs(pred / meas - 1.0))
    print("metric  predictor  engine  mode                         rows  median    p90")
    for (metric, name, engine, mode), v in sorted(errs.items()):
        print(f"{metric:6}  {name:9}  {engine:6}  {mode:27} {len(v):5}  {np.median(v):6.1%}  "
              f"{np.percentile(v, 90):6.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
