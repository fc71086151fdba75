"""Pin what the step-level simulator outputs, to check that a speed-up changes nothing (to the bit).

    python scripts/sim_pin.py --write pins.json [--all | --sample N]   # at the commit to compare against
    python scripts/sim_pin.py --check pins.json                        # after the change: exit 1 on any difference

The cases: a varied sample of the measured rows (each engine, aggregated and disaggregated, with and
without MTP, spread over concurrency; --all: every distinct row, ~3 CPU minutes) run as `parity predict
--model-kind sim` runs them, plus the `parity serve --sim` cases of benchmarks/bench_simulate.py. Every
latency key, throughput, chips, preemptions and decode batch is compared with ==; the CPU time of each
case is written beside it (`--top K` prints the costliest)."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import defaultdict

from parity import catalog
from parity.predict import CASE_COLUMNS, benchmark_of, scenario_from_row, simulate_scenario
from parity.predict.pricing import predict_scenarios
from parity.predict.simulated import _with_simulation, _workload_key

SERVE_CASES = (  # (model, system, engine, tp, clients, isl, osl): benchmarks/bench_simulate.py's and a small one
    ("llama-3.1-70b", "hgx-h200", "vllm", 4, 256, 1024, 8192),
    ("llama-3.1-8b", "hgx-h100", "trtllm", 1, 256, 1024, 8192),
    ("llama-3.1-8b", "hgx-h100", "sglang", 1, 64, 2048, 512),
)


def _rows(sample: int | None, extra: frozenset[str] = frozenset()) -> list[dict[str, str]]:
    """Distinct measured rows (as predict --model-kind sim dedups them); a sample: per (engine, mode, MTP)
    group, rows evenly spread over the group's concurrency order, and the rows named in `extra`."""
    rows = [{k: r.get(k, "") for k in CASE_COLUMNS + ("random_range_ratio",)} for r in catalog.measurements()]
    if sample is None:
        return rows
    groups: dict[tuple[str, str, bool], list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        groups[(row["engine"], row["mode"], bool(row.get("mtp_tokens") not in ("", "0")))].append(row)
    per = max(1, math.ceil(sample / len(groups)))
    out = []
    for key in sorted(groups):
        group = sorted(groups[key], key=lambda r: (float(r["concurrency"] or 0), r["case_id"]))
        step = max(len(group) / per, 1.0)
        out += [group[int(i * step)] for i in range(min(per, len(group)))]
    out += [r for r in rows if r["case_id"] in extra and r not in out]
    # a row that repeats an earlier one but for its case id is simulated (and pinned) under the first one's id
    first: dict[tuple[str, ...], dict[str, str]] = {}
    for row in rows:
        first.setdefault(tuple(v for k, v in row.items() if k != "case_id"), row)
    return list({id(r): r for r in (first[tuple(v for k, v in row.items() if k != "case_id")] for row in out)}.values())


def _figures(pred) -> dict[str, object]:
    out = {"feasible": pred.feasible, "ttft_s": pred.ttft_s, "tpot_s": pred.tpot_s,
           "tokens_per_s_per_chip": pred.output_tokens_per_s_per_chip,
           "tokens_per_s_per_user": pred.output_tokens_per_s_per_user, "chips": pred.chips, **pred.extra}
    if not pred.feasible:
        out["note"] = pred.note
    return {k: (repr(float(v)) if isinstance(v, float) else v) for k, v in out.items()}


def pin(sample: int | None, extra: frozenset[str] = frozenset()) -> dict[str, dict[str, object]]:
    rows = _rows(sample, extra)
    scenarios = [scenario_from_row(r) for r in rows]
    steady = predict_scenarios(scenarios)
    seen: set[tuple[object, ...]] = set()
    out: dict[str, dict[str, object]] = {}
    for p, s in zip(steady, scenarios):
        if (key := _workload_key(s)) in seen:
            continue
        seen.add(key)
        start = time.process_time()
        figures = _figures(_with_simulation(p, s))
        out[s.case_id] = figures | {"cpu_s": time.process_time() - start}
    for model, system, engine, tp, clients, isl, osl in SERVE_CASES:
        scenario = scenario_from_row(dict(model=model, system=system, engine=engine, tp=tp, isl=isl, osl=osl,
                                          concurrency=clients))
        start = time.process_time()
        sim = simulate_scenario(scenario, benchmark_of(scenario))
        figures = {k: repr(v) for k, v in sim.latency.items()} | {
            "tokens_per_s": repr(float(sim.output_tokens_per_s)), "preemptions": sim.preemptions,
            "decode_batch": repr(sim.decode_batch), "requests": sim.requests}
        out[f"serve {model} {system} {engine} tp{tp} c{clients} {isl}/{osl}"] = figures | {
            "cpu_s": time.process_time() - start}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write")
    ap.add_argument("--check")
    ap.add_argument("--all", action="store_true")
    ap.add_argument("--sample", type=int, default=None, help="rows of the sample (default 48; with --check: "
                    "the pinned file's; a pinned --all file can check a sample)")
    ap.add_argument("--top", type=int, default=0, help="print the K costliest cases")
    ap.add_argument("--costliest", type=int, default=0, help="with --check: add the K costliest pinned cases")
    args = ap.parse_args()
    if args.check:
        pinned = json.load(open(args.check))
        for figures in pinned.values():  # pins written before floats were normalised: np.float64(x) -> x
            if isinstance(figures, dict):
                figures.update({k: v[11:-1] for k, v in figures.items() if str(v).startswith("np.float64(")})
        sample = args.sample if args.sample is not None else pinned["__sample__"]
    else:
        sample = None if args.all else (args.sample or 48)
    catalog.model("deepseek-r1")
    start = time.process_time()
    extra = frozenset()
    if args.check and args.costliest:
        costs = sorted(((v["cpu_s"], k) for k, v in pinned.items() if k != "__sample__"), reverse=True)
        extra = frozenset(k for _, k in costs[:args.costliest])
    now = pin(sample, extra)
    total = time.process_time() - start
    cases = sum(1 for k in now)
    print(f"{cases} cases in {total:.1f} s CPU ({sum(v['cpu_s'] for v in now.values()):.1f} s simulating)")
    if args.top:
        for k, v in sorted(now.items(), key=lambda kv: -kv[1]["cpu_s"])[:args.top]:
            print(f"  {v['cpu_s']:6.2f} s  {k}")
    if args.write:
        json.dump({"__sample__": sample, **now}, open(args.write, "w"), indent=0)
        return 0
    if args.check:
        bad = 0
        for case, got in now.items():
            figures = pinned.get(case, {})
            diff = {k: (figures.get(k), v) for k, v in got.items() if k != "cpu_s" and figures.get(k) != v}
            if diff:
                bad += 1
                print(f"DIFFERS {case}: {diff}")
        old = sum(pinned[k]["cpu_s"] for k in now if k in pinned)
        print(f"{bad} of {len(now)} cases differ; simulating CPU {old:.1f} s pinned -> "
              f"{sum(v['cpu_s'] for v in now.values()):.1f} s now")
        return 1 if bad else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
