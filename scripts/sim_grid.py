"""Grid over one engine-profile field with the step-level simulator on the rows of a split (calibration by
default: the only rows a fit may use), printing per value the trimmed loss parity's fits minimise (mean of
the best 90% of |log error|, TTFT plus TPOT) and the TTFT/TPOT median and p90 errors.

    PYTHONPATH=src python scripts/sim_grid.py --engine trtllm --mode disagg \
        --set '{"sim_disagg_prefill_scale": 0.6}' --field sim_disagg_ttft_overhead_s --values 0.02,0.06,0.134

--front-end-overhead CLIENT varies what that client profile's front end adds for the engine (aiconfigurator's:
Dynamo's frontend, simulate.clients.DYNAMO_FRONT_END); --split-report prints each client's rows apart:

    PYTHONPATH=src python scripts/sim_grid.py --engine vllm --mode agg --set '{"prefill_scale": 1.2}' \
        --front-end-overhead aiconfigurator --values 0.03,0.06,0.09 --split-report

--feature-overhead FEATURE varies instead what InferenceX's front end adds for the engine on models with that
feature (simulate.clients.ENGINE_SERVER feature_overhead_s); --model keeps rows whose model starts so:

    PYTHONPATH=src python scripts/sim_grid.py --engine trtllm --mode agg --model deepseek --inferencex \
        --feature-overhead mla --values 0,0.03,0.07,0.1
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from parity import catalog
from parity.predict.simulated import simulate_scenario
from parity.simulate import clients
from parity.validate import TRIM, mode_label, scenarios_of

_ARGS: argparse.Namespace


def _ratios(job) -> tuple[float, float]:
    """(simulated / measured TTFT, TPOT) of one row under one field value (nan where it fails)."""
    (row, scenario), value = job
    if _ARGS.feature_overhead:
        base = clients.CLIENT_PROFILES["inferencex"]
        extra = ((_ARGS.engine, _ARGS.feature_overhead, value),)
        front = dataclasses.replace(base.front_end, feature_overhead_s=extra)
        clients.CLIENT_PROFILES["inferencex"] = dataclasses.replace(base, front_end=front)
    if _ARGS.front_end_overhead:
        base = clients.CLIENT_PROFILES[_ARGS.front_end_overhead]
        kept = tuple((e, s) for e, s in base.front_end.ttft_overhead_s if e != _ARGS.engine)
        front = dataclasses.replace(base.front_end, ttft_overhead_s=kept + ((_ARGS.engine, value),))
        clients.CLIENT_PROFILES[_ARGS.front_end_overhead] = dataclasses.replace(base, front_end=front)
    fields = json.loads(_ARGS.set) | ({_ARGS.field: value} if _ARGS.field else {})
    try:
        r = simulate_scenario(scenario.with_engine(dataclasses.replace(scenario.engine, **fields)))
    except Exception:  # an infeasible run counts as missing, as validate leaves it out
        return math.nan, math.nan
    # a row without a measured TTFT (a cold server's, not kept) counts for TPOT only
    return r.ttft_s / float(row["measured_ttft_s"] or "nan"), r.tpot_s / float(row["measured_tpot_s"])


def _by_client(pairs) -> list[tuple[str, np.ndarray]]:
    """(client, row mask) for InferenceX's rows (random lengths) and aiconfigurator's (the others)."""
    ix = np.array([bool(row["random_range_ratio"]) for row, _ in pairs])
    return [("inferencex", ix), ("aiconfigurator", ~ix)]


def _value(text: str) -> object:
    try:
        return float(text)
    except ValueError:
        return text


def main() -> int:
    global _ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", required=True)
    ap.add_argument("--mode", default="", help="agg or disagg (disagg also takes the rows whose workers are inferred)")
    ap.add_argument("--split", default="calibration", help="comma-separated splits")
    ap.add_argument("--field", default="", help="EngineProfile field to vary (SI units: sim_disagg_ttft_overhead_s)")
    ap.add_argument("--values", default="", help="comma-separated values of --field")
    ap.add_argument("--set", default="{}", help="JSON of other fields to fix")
    ap.add_argument("--every", type=int, default=1, help="keep every n-th row (fast subsets)")
    ap.add_argument("--model", default="", help="keep rows whose model starts with this")
    ap.add_argument("--inferencex", action="store_true", help="keep InferenceX's rows (random_range_ratio set)")
    ap.add_argument("--feature-overhead", default="", help="vary InferenceX's front-end cost for this model feature")
    ap.add_argument("--front-end-overhead", default="", help="vary what this client profile's front end adds for the "
                    "engine (simulate.clients: aiconfigurator's is Dynamo's, DYNAMO_FRONT_END)")
    ap.add_argument("--split-report", action="store_true", help="also print the loss per client (aiconfigurator's "
                    "rows and InferenceX's)")
    ap.add_argument("--processes", type=int, default=2)
    _ARGS = a = ap.parse_args()
    rows = [r for r in catalog.measurements() if r["split"] in a.split.split(",") and r["engine"] == a.engine
            and (not a.mode or mode_label(r).startswith(a.mode)) and r["model"].startswith(a.model)
            and (not a.inferencex or r["random_range_ratio"])][::a.every]
    pairs = scenarios_of(rows)
    values = [_value(v) for v in a.values.split(",")] if a.values else [None]
    keep = lambda x: np.sort(x)[: max(1, int(len(x) * (1 - TRIM)))].mean()  # noqa: E731
    with ProcessPoolExecutor(a.processes) as pool:
        for v in values:
            res = np.array(list(pool.map(_ratios, [(p, v) for p in pairs])))
            ok, okt = ~np.isnan(res[:, 1]), ~np.isnan(res[:, 0])  # TPOT ran; TTFT also measured
            loss = keep(np.abs(np.log(res[okt, 0]))) + keep(np.abs(np.log(res[ok, 1])))
            et, ep = np.abs(res[okt, 0] - 1), np.abs(res[ok, 1] - 1)
            label = a.field or a.feature_overhead or a.front_end_overhead or "as is"
            print(f"{label}={v}: rows {ok.sum()}/{len(res)} loss {loss:.3f}  TTFT median {np.median(et):.1%} "
                  f"p90 {np.percentile(et, 90):.1%} bias {np.median(res[okt, 0] - 1):+.1%}  TPOT median "
                  f"{np.median(ep):.1%} p90 {np.percentile(ep, 90):.1%}", flush=True)
            if a.split_report:
                for name, mask in _by_client(pairs):
                    m, mt = mask & ok, mask & okt
                    print(f"    {name}: rows {m.sum()} TTFT median {np.median(np.abs(res[mt, 0] - 1)):.1%} bias "
                          f"{np.median(res[mt, 0] - 1):+.1%}  TPOT median {np.median(np.abs(res[m, 1] - 1)):.1%}",
                          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
