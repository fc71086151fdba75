"""`parity search --refine K`: the frontier's best K candidates re-run by the simulator, as `serve --sim`."""

import csv
import io
import json
import math

import pytest
from click.testing import CliRunner

from parity.cli import cli
from parity.plan import Layout
from parity.predict.refine import REFINE_KEYS, _workers, refine_order
from parity.search import Candidate

# one chip per worker and short requests keep the search and its simulations small
SEARCH = ("search", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--chips", "1", "--isl", "256", "--osl", "128",
          "--tpot", "20ms", "--format", "json")


def _run(*args: str) -> dict:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _candidate(per_chip: float, meets: bool, ratio: float = 0.0) -> Candidate:
    return Candidate(mode="disagg" if ratio else "agg", layout=Layout(), decode_layout=Layout() if ratio else None,
                     concurrency=8.0, chips=1.0, prefill_workers_per_decode_worker=ratio, ttft_s=1.0, tpot_s=0.01,
                     tokens_per_s_per_chip=per_chip, tokens_per_s_per_user=100.0, meets_targets=meets)


def test_refine_order_puts_those_meeting_the_targets_first_by_rate() -> None:
    """Rates 300 (misses), 100, 200 (meet): the two meeting come first, faster first (2, 1), then 0."""
    frontier = [_candidate(300.0, False), _candidate(100.0, True), _candidate(200.0, True)]
    assert refine_order(frontier) == [2, 1, 0]


@pytest.mark.parametrize(("ratio", "workers"), [
    (0.26, (1, 3)),  # 1/3 = 0.333 is the fewest workers within [0.26, 0.39]; 1/4 = 0.25 would starve the prefill
    (0.02, (1, 8)),  # none within [0.02, 0.03] at up to 8 decode workers: the nearest above, 1/8
    (1.6, (2, 1)),  # 2 prefill workers for one decode worker: 2.0 within [1.6, 2.4]
    (0.5, (1, 2)),
    (0.6, (2, 3)),  # 1/1 and 2/2 are over 0.9; 2/3 = 0.667 (1/2 = 0.5 would starve the prefill)
])
def test_disaggregated_candidates_run_on_whole_workers_near_their_ratio(ratio: float, workers: tuple) -> None:
    assert _workers(_candidate(1.0, True, ratio)) == workers


def test_refine_zero_leaves_the_output_as_the_steady_search_and_two_refines_exactly_two_rows() -> None:
    """--refine 0: no row has a simulator key. --refine 2: the same frontier, exactly two rows gain every
    sim key, and they are the two meeting the TPOT target with the most tok/s/chip; the other rows are
    unchanged."""
    plain = _run(*SEARCH, "--refine", "0")
    refined = _run(*SEARCH, "--refine", "2")
    assert not any(k in row for row in plain["frontier"] for k in REFINE_KEYS)
    with_sim = [i for i, row in enumerate(refined["frontier"]) if row["sim_ttft_s"] is not None]
    assert len(with_sim) == 2
    meeting = [i for i, row in enumerate(plain["frontier"]) if row["meets_targets"]]
    best_two = sorted(meeting, key=lambda i: -plain["frontier"][i]["tokens_per_s_per_chip"])[:2]
    assert with_sim == sorted(best_two)
    for i, (before, after) in enumerate(zip(plain["frontier"], refined["frontier"], strict=True)):
        assert {k: v for k, v in after.items() if k not in REFINE_KEYS} == before
        assert set(REFINE_KEYS) <= set(after)  # every row has every key: null where not refined
        if i in with_sim:
            assert after["sim_ttft_p50_s"] <= after["sim_ttft_p90_s"] <= after["sim_ttft_p99_s"]
        else:
            assert {k: after[k] for k in REFINE_KEYS} == {k: [] if k == "sim_flags" else None for k in REFINE_KEYS}
    simulated = ("frontier", "best", "best_sim_serve_command")  # the line that reproduces the best's sim figures
    assert plain["best_sim_serve_command"] == "" and refined["best_sim_serve_command"].endswith("--model-kind sim")
    unrefined = {k: v for k, v in refined.items() if k not in simulated}
    assert unrefined == {k: v for k, v in plain.items() if k not in simulated}
    assert {k: v for k, v in refined["best"].items() if k not in REFINE_KEYS} == plain["best"]  # + the sim figures


def test_refined_numbers_are_what_serve_sim_reports_for_the_same_layout() -> None:
    """The best refined aggregated row (tp1, its clients, fp8 weights and KV) against `parity serve --sim`
    of that case: the same simulation, so the same TTFT and TPOT means and percentiles to the bit."""
    refined = _run(*SEARCH, "--refine", "1")
    (row,) = [r for r in refined["frontier"] if r["sim_ttft_s"] is not None]
    assert row["mode"] == "agg" and row["layout"] == "tp1"
    served = _run("serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--isl", "256", "--osl", "128", "--tp",
                  "1", "--concurrency", str(round(row["concurrency"])), "--weights", "fp8", "--kv", "fp8", "--sim",
                  "--format", "json")
    for key in ("ttft_s", "ttft_p50_s", "ttft_p90_s", "ttft_p99_s", "tpot_s", "tpot_p99_s"):
        assert row[f"sim_{key}"] == served[key], key
    assert row["sim_tokens_per_s_per_chip"] == served["output_tokens_per_s_per_chip"]


def test_refined_disaggregated_rows_are_serve_sim_on_whole_workers() -> None:
    """A disaggregated candidate (one-chip prefill and decode workers) is `serve --sim --mode disagg` with
    the whole worker counts its sim_case names and all their clients."""
    refined = _run(*SEARCH, "--mode", "disagg", "--refine", "1")
    (row,) = [r for r in refined["frontier"] if r["sim_ttft_s"] is not None]
    prefill, decode = _workers(Candidate(**{**{k: row[k] for k in Candidate.__slots__ if k not in (
        "layout", "decode_layout")}, "layout": Layout(), "decode_layout": Layout()}))
    clients = round(row["concurrency"]) * decode
    assert row["sim_case"] == (f"disagg: {prefill} x tp1 prefill, {decode} x tp1 decode, {clients} clients, fp8 "
                               "weights, fp8 KV, lengths uniform in [0.8, 1] x nominal")
    served = _run("serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--isl", "256", "--osl", "128",
                  "--mode", "disagg", "--prefill-workers", str(prefill), "--decode-workers", str(decode),
                  "--concurrency", str(clients), "--weights", "fp8", "--kv", "fp8", "--sim", "--format", "json")
    for key in ("ttft_s", "ttft_p99_s", "tpot_s", "tpot_p90_s"):
        assert row[f"sim_{key}"] == served[key], key
    assert row["sim_chips"] == served["chips"] == prefill + decode


def test_refine_adds_the_sim_columns_to_the_table_and_csv() -> None:
    """The table shows 'sim TTFT ms' and marks rows not refined with '-'; the CSV carries every sim key,
    empty on rows not refined but sim_flags, a list, '[]' (it was '': report-only tester fixec 3)."""
    table = CliRunner().invoke(cli, [*SEARCH[:-2], "--refine", "1", "--format", "table", "--wide"]).stdout
    assert "sim TTFT ms" in table and "sim TPOT p99" in table
    csv_text = CliRunner().invoke(cli, [*SEARCH[:-2], "--refine", "1", "--format", "csv"]).stdout
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    assert all(k in rows[0] for k in REFINE_KEYS)
    assert [bool(r["sim_ttft_s"]) for r in rows].count(True) == 1
    assert [r["sim_case"] for r in rows if r["sim_case"]] == [r["sim_case"] for r in rows if r["sim_ttft_s"]]
    assert {r["sim_flags"] for r in rows if not r["sim_ttft_s"]} == {"[]"} and len(rows) > 1
    unrefined = CliRunner().invoke(cli, [*SEARCH[:-2], "--refine", "0", "--format", "table"]).stdout
    assert "sim TTFT" not in unrefined


def test_default_refine_skips_candidates_with_more_clients_than_the_budget() -> None:
    """DeepSeek-R1 on GB200 NVL72 at 50 ms: the best candidates run over 2,048 clients each (12,288 per
    worker), so a plain search (no --refine given) simulates none of them."""
    from parity.predict.refine import DEFAULT_REFINE_MAX_CLIENTS

    base = ("search", "--model", "deepseek-r1", "--system", "gb200-nvl72", "--tpot", "50ms", "--format", "json")
    plain = _run(*base)
    best = plain["frontier"]
    assert DEFAULT_REFINE_MAX_CLIENTS == 2048
    assert not any("sim_ttft_s" in row for row in best)
    assert max(row["concurrency"] for row in best) > DEFAULT_REFINE_MAX_CLIENTS


def _load(tp: int, per_chip: float) -> Candidate:
    """An aggregated tp`tp` configuration whose steady rate is `per_chip` (its load grows with it)."""
    return Candidate(mode="agg", layout=Layout(tp=tp), decode_layout=None, concurrency=per_chip / 10, chips=tp,
                     prefill_workers_per_decode_worker=0.0, ttft_s=0.1, tpot_s=0.01, tokens_per_s_per_chip=per_chip,
                     tokens_per_s_per_user=100.0, meets_targets=True)


def test_each_layouts_loads_are_searched_along_its_percentile_and_a_layout_that_cannot_beat_the_best_costs_one_run(
        ) -> None:
    """Two layouts whose means pass a p99 TTFT of 1 s, their p99 growing with the load as a closed loop's first wave
    does: tp1 at 100-500 tok/s/chip (10-50 clients, p99 = clients / 31 s), tp2 at 50-250 (p99 = clients / 1000 s).
    tp1 (the faster at its heaviest) goes first: its lightest load holds (0.32 s), the line through it and zero
    reaches 1 s at 31 clients, so 30 clients (300 tok/s/chip, 0.97 s) is probed next and holds, then 40 (1.29 s)
    misses. Of tp2 only 250 could come within SIM_RATE_MARGIN (0.8) of 300: one run, which holds but is slower. A
    budget of two stops after tp1's second run; a failed (NaN) simulation meets nothing."""
    from parity.predict.refine import SIM_RATE_MARGIN, percentile_probes
    from parity.simulate.targets import latency_target

    target = [latency_target("p99:1s", "ttft")]
    tp1, tp2 = [_load(1, r) for r in (100, 200, 300, 400, 500)], [_load(2, r) for r in (50, 100, 150, 200, 250)]

    def simulate(c: Candidate) -> dict:
        return {"meets_targets": True, "sim_ttft_p99_s": c.concurrency / (31 if c.layout.tp == 1 else 1000),
                "sim_tokens_per_s_per_chip": c.tokens_per_s_per_chip}

    assert SIM_RATE_MARGIN == 0.8
    probes = percentile_probes(tp2 + tp1, simulate, target, budget=10)
    assert [(c.layout.tp, c.tokens_per_s_per_chip, row["sim_meets_targets"]) for c, row in probes] == [
        (1, 100, True), (1, 300, True), (1, 400, False), (2, 250, True)]
    assert [c.layout.tp for c, _ in percentile_probes(tp2 + tp1, simulate, target, budget=2)] == [1, 1]
    failed = percentile_probes(tp1[:1], lambda c: {"meets_targets": True, "sim_ttft_p99_s": float("nan"),
                                                   "sim_tokens_per_s_per_chip": float("nan")}, target, budget=10)
    assert [row["sim_meets_targets"] for _, row in failed] == [False]


def test_a_p99_ttft_bound_orders_layouts_by_their_first_wave_and_skips_loads_it_rules_out() -> None:
    """A closed loop's p99 TTFT is about its first wave: every client's prompt at the workers' prompt rate
    (first_wave_s). tp1 reaches 500 tok/s/chip at 50 clients but prefills 10 prompts/s (first waves of 1-5 s);
    tp2 reaches 250 at 25 clients and prefills 100/s (0.05-0.25 s). Under p99 1 s the steady rates alone would run
    tp1 first; the first waves put tp2 first, at its heaviest load, which holds (0.23 s): one run. tp1's loads over
    1 / FIRST_WAVE_LEAST_SHARE of the bound (20 clients and up: 2 s) are not run, and its 10 clients cannot come
    within SIM_RATE_MARGIN of 250. Without a prompt rate (0) a candidate has no estimate (NaN)."""
    from dataclasses import replace

    from parity.predict.refine import FIRST_WAVE_LEAST_SHARE, first_wave_s, percentile_probes
    from parity.simulate.targets import latency_target

    tp1 = [replace(_load(1, r), prefill_prompts_per_s=10.0) for r in (100, 200, 300, 400, 500)]
    tp2 = [replace(_load(2, r), prefill_prompts_per_s=100.0) for r in (50, 100, 150, 200, 250)]
    assert [first_wave_s(c) for c in tp1] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert first_wave_s(tp2[-1]) == 0.25 and FIRST_WAVE_LEAST_SHARE == 0.75
    assert first_wave_s(_load(1, 100)) != first_wave_s(_load(1, 100))  # NaN

    def simulate(c: Candidate) -> dict:
        return {"meets_targets": True, "sim_ttft_p99_s": 0.9 * first_wave_s(c),
                "sim_tokens_per_s_per_chip": c.tokens_per_s_per_chip}

    probes = percentile_probes(tp1 + tp2, simulate, [latency_target("p99:1s", "ttft")], budget=10)
    assert [(c.layout.tp, c.tokens_per_s_per_chip, round(row["sim_ttft_p99_s"], 3)) for c, row in probes] == [
        (2, 250, 0.225)]
    # a disaggregated candidate's first wave is its clients over its whole prefill workers' rate: a ratio of 0.6
    # runs 2 prefill workers for 3 decode workers (_workers), 3 x 8 clients at 2 x 4 prompts/s
    disagg = replace(_candidate(100.0, True, ratio=0.6), prefill_prompts_per_s=4.0)
    assert _workers(disagg) == (2, 3) and first_wave_s(disagg) == 3.0


def test_a_disaggregated_layout_is_also_tried_with_prefill_enough_for_its_first_wave() -> None:
    """A disaggregated candidate of 8 clients a decode worker at 0.6 prefill workers each (4 prompts/s a prefill
    worker: a 3 s first wave) under p99 TTFT 1 s: the same decode with 8 / (1 s x 4/s) = 2 prefill workers a decode
    worker (one-chip workers: 1.6 chips -> 3.0, 100 -> 53.3 tok/s/chip), its first wave 1 s. Searched as a layout of
    its own, the variant is what meets the bound (the stand-in p99 is 0.9 of the first wave); the original is
    not run (3 s x FIRST_WAVE_LEAST_SHARE is over 1 s)."""
    from dataclasses import replace

    from parity.predict.refine import first_wave_s, percentile_probes, prefill_for_first_wave
    from parity.simulate.targets import latency_target

    disagg = replace(_candidate(100.0, True, ratio=0.6), chips=1.6, prefill_prompts_per_s=4.0)
    more = prefill_for_first_wave(disagg, 1.0)
    assert more is not None and more.prefill_workers_per_decode_worker == 2.0 and more.chips == pytest.approx(3.0)
    assert more.tokens_per_s_per_chip == pytest.approx(53.33, abs=0.01) and first_wave_s(more) == 1.0
    assert prefill_for_first_wave(disagg, 5.0) is None and prefill_for_first_wave(_load(1, 100), 1.0) is None
    # searched a rank per die and counted per package of 2 dies (per_package): the added prefill counts packages too
    # (it added dies to packages: CloudMatrix 384's best at p99 5 s showed 149 chips for 114)
    packaged = prefill_for_first_wave(disagg.per_package(2), 1.0)
    assert packaged is not None and packaged.chips == pytest.approx(1.5)
    assert packaged.tokens_per_s_per_chip == pytest.approx(2 * more.tokens_per_s_per_chip)
    probes = percentile_probes([disagg], lambda c: {"meets_targets": True, "sim_ttft_p99_s": 0.9 * first_wave_s(c),
                                                    "sim_tokens_per_s_per_chip": c.tokens_per_s_per_chip},
                               [latency_target("p99:1s", "ttft")], budget=10)
    assert [(c.prefill_workers_per_decode_worker, row["sim_meets_targets"]) for c, row in probes] == [(2.0, True)]


def test_a_percentile_is_met_only_within_its_bound_after_the_mean_screen() -> None:
    """sim_meets: p99 0.9 s under 1 s meets; the same with a failed steady screen, or a failed (NaN)
    simulation, does not."""
    from parity.predict.refine import sim_meets
    from parity.simulate.targets import latency_target

    target = [latency_target("p99:1s", "ttft")]
    assert sim_meets({"meets_targets": True, "sim_ttft_p99_s": 0.9}, target)
    assert not sim_meets({"meets_targets": False, "sim_ttft_p99_s": 0.9}, target)
    assert not sim_meets({"meets_targets": True, "sim_ttft_p99_s": float("nan")}, target)
    assert not sim_meets({"meets_targets": True, "sim_ttft_p99_s": 1.1}, target)


def test_search_under_a_percentile_target_returns_a_simulated_candidate_that_meets_it() -> None:
    """--ttft p99:150ms: the best is a refined row whose simulated p99 TTFT is within 150 ms and whose
    steady mean passed the same bound; every row marked as meeting the percentile was simulated and is
    within it; the rows the bisection skipped carry no simulator figures."""
    found = _run(*SEARCH, "--ttft", "p99:150ms")
    best = found["best"]
    assert found["target_statistics"] == {"tpot": "mean", "ttft": "p99"}
    assert best["sim_meets_targets"] and best["sim_ttft_p99_s"] <= 0.150 and best["ttft_s"] <= 0.150
    meeting = [row for row in found["frontier"] if row.get("sim_meets_targets")]
    assert best in meeting and all(row["sim_ttft_p99_s"] <= 0.150 for row in meeting)
    assert best["sim_tokens_per_s_per_chip"] == max(row["sim_tokens_per_s_per_chip"] for row in meeting)
    assert any(row["sim_ttft_s"] is None for row in found["frontier"])
    # one schema: a row the bisection skipped has its sim_* keys, and sim_meets_targets, null (report-only tester
    # fixec 3: they were left out)
    assert len({tuple(row) for row in found["frontier"]}) == 1
    assert {row["sim_meets_targets"] for row in found["frontier"] if row["sim_ttft_s"] is None} == {None}


@pytest.mark.parametrize(("args", "says"), [
    (("--ttft", "p99:150ms", "--refine", "0"), "needs --refine 1 or more"),
    (("--ttft", "p42:1s"), "the statistic must be one of mean, p50, p90, p99"),
    (("--ttft", "p99:0s"), "positive duration"),
])
def test_percentile_targets_that_cannot_be_checked_fail_in_one_line(args: tuple, says: str) -> None:
    result = CliRunner().invoke(cli, [*SEARCH, *args])
    assert result.exit_code == 2
    assert says in result.output and len(result.output.strip().splitlines()) == 1


def test_a_refined_candidate_that_outgrows_its_kv_cache_says_so() -> None:
    """Llama-3.1-70B FP8 on two H100s at 128 clients of 2,048 + 512 tokens is KV-bound in the simulator: its refined
    row carries the run's flag (as `serve --sim` prints it) and the search's caption names it; at 8 clients the
    row has no flag."""
    from parity.plan import Precision
    from parity.predict.refine import refine_candidate
    precision = Precision(weights="fp8", expert_weights="fp8", kv_cache="bf16")
    def row(clients: float) -> dict:
        c = Candidate(mode="agg", layout=Layout(tp=2), decode_layout=None, concurrency=clients, chips=2.0,
                      prefill_workers_per_decode_worker=0.0, ttft_s=1.0, tpot_s=0.05, tokens_per_s_per_chip=1.0,
                      tokens_per_s_per_user=20.0, meets_targets=True)
        return refine_candidate(c, "llama-3.1-70b", "hgx-h100", "vllm", precision, 2048, 512)
    bound, roomy = row(128.0), row(8.0)
    (said,) = bound["sim_flags"]
    assert said.startswith("KV-bound run (") and "preempted): its TTFT turns on the KV capacity" in said
    assert roomy["sim_flags"] == []


def test_the_json_best_carries_its_simulated_figures() -> None:
    """--refine 1 simulates the best; its JSON `best` lacked the sim_ fields its frontier row had."""
    found = _run(*SEARCH, "--refine", "1")
    best = found["best"]
    assert best["sim_tokens_per_s_per_chip"] > 0 and best in found["frontier"]


def test_poisson_arrivals_simulate_the_rate_a_configuration_sustains_without_a_first_wave() -> None:
    """Llama-3.1-8B on one H100 at 512 clients (1,024 in, 256 out; steady TTFT 0.48 s, TPOT 42.4 ms; a grid load,
    under the 606 that the targets allow and the search's best runs): the closed
    loop's p99 TTFT is its first wave, 5.5 s; the same 5,120 requests arriving at random at the rate that carries
    the output tokens/s the configuration sustains (512 x 256 / (0.48 + 256 x 0.0424) = 11,571 tokens/s, over the
    client's mean draw of 230 output tokens: 50.3 requests/s) wait 0.20 s at p99, as production traffic would.
    sim_case said only 'Poisson arrivals at 50.3 requests/s', not that the client draws lengths in [0.8, 1] x nominal
    where the steady figures' are fixed, nor the tokens its requests carry (report-only tester, fixea 2): 50.3 x 230
    = 11,571 output tokens/s on the one chip, about the steady rate (11,615), and 50.3 x (921 + 230) = 57,931 with the
    prompts.
    sim_rate_share: the Poisson run keeps up (its TTFT does not grow), so it sustains all of the steady rate, whatever
    its own rate, first send to last token, reads; the closed loop's is its rate over the steady one."""
    from parity import catalog
    from parity.predict.refine import case_of_candidate, poisson_rate, refine_candidate
    from parity.search import best_precision, search_serving

    model, system = catalog.model("llama-3.1-8b"), catalog.system("hgx-h100")
    precision = best_precision(model, system.chip)
    found = search_serving(model, system, catalog.engine("generic"), catalog.calibration(system.chip), precision,
                           1024, 256, 0.05, 2.0, chips=1, modes=("agg",), meeting=True)
    assert max(found.meeting, key=lambda c: c.tokens_per_s_per_chip).concurrency == 606
    best = next(c for c in found.meeting if str(c.layout) == "tp1" and c.concurrency == 512)
    case = case_of_candidate(best, "llama-3.1-8b", "hgx-h100", "generic", precision, 1024, 256)
    assert poisson_rate(best, case) == pytest.approx(50.31, abs=0.01)
    closed, poisson = (refine_candidate(best, "llama-3.1-8b", "hgx-h100", "generic", precision, 1024, 256,
                                        arrivals=a) for a in ("closed", "poisson"))
    assert closed["sim_ttft_p99_s"] == pytest.approx(5.54, abs=0.01)
    assert poisson["sim_ttft_p99_s"] == pytest.approx(0.196, abs=0.001)
    assert poisson["sim_case"] == ("agg: 1 x tp1, 512 clients, fp8 weights, fp8 KV, lengths uniform in [0.8, 1] x "
                                   "nominal, Poisson arrivals at 50.3 requests/s carrying 11,571 output tokens/s a "
                                   "chip (57,931 with their prompts)")
    assert round(best.tokens_per_s_per_chip) == 11_615
    assert poisson["sim_rate_share"] == 1.0 and closed["sim_rate_share"] == pytest.approx(
        closed["sim_tokens_per_s_per_chip"] / best.tokens_per_s_per_chip, rel=1e-12)
    assert closed["sim_case"].endswith("fp8 KV, lengths uniform in [0.8, 1] x nominal")


def test_a_refined_row_carries_the_simulators_interval_as_serve_gives_it() -> None:
    """A refined candidate's sim_*_low/_high are the 80% intervals `parity serve --sim` gives its case: the
    simulator's residual bands around the simulator's figures, widened as the run is flagged (the engine profile
    generic, not fitted), not the steady model's bands around the steady figures (report-only tester fuzzCA 4: a
    search's best said '37,504 sim tok/s/chip (80% interval 25,228-47,066)', the steady band about its steady 35,664,
    where its serve line gave 26,465-48,097). 4 clients of 64 in / 8 out on one H100 keep it a fraction of a second."""
    from parity.plan import Precision
    from parity.predict import predict_scenarios, scenario_of
    from parity.predict.refine import case_of_candidate, refine_candidate

    candidate = Candidate(mode="agg", layout=Layout(), decode_layout=None, concurrency=4.0, chips=1.0,
                          prefill_workers_per_decode_worker=0.0, ttft_s=0.02, tpot_s=0.005,
                          tokens_per_s_per_chip=800.0, tokens_per_s_per_user=200.0, meets_targets=True)
    precision = Precision(weights="fp8", expert_weights="fp8", kv_cache="fp8")
    row = refine_candidate(candidate, "llama-3.1-8b", "hgx-h100", "generic", precision, 64, 8)
    case = case_of_candidate(candidate, "llama-3.1-8b", "hgx-h100", "generic", precision, 64, 8)
    (served,) = predict_scenarios([scenario_of(case)], model_kind="sim")
    assert row["sim_tokens_per_s_per_chip"] == served.output_tokens_per_s_per_chip
    for key, bound in (("sim_tokens_per_s_per_chip_low", "output_tokens_per_s_per_chip_low"),
                       ("sim_tokens_per_s_per_chip_high", "output_tokens_per_s_per_chip_high"),
                       ("sim_ttft_s_low", "ttft_s_low"), ("sim_tpot_s_high", "tpot_s_high")):
        assert row[key] == served.extra[bound]
    assert row["sim_tokens_per_s_per_chip_low"] < row["sim_tokens_per_s_per_chip"] < row[
        "sim_tokens_per_s_per_chip_high"]


@pytest.mark.e2e  # a search with a percentile target and its simulations (about 2 s)
def test_a_percentile_searchs_best_states_its_serve_lines_interval() -> None:
    """Under a percentile target the best's figure is the simulator's, and its interval is the one its serve line
    gives (llama-3.1-8b, 128 in / 16 out on an H100 at TTFT p99 1 s: 9,117 sim tok/s/chip, 6,434-11,693, tp1 at 623
    clients; the steady band about the steady figure, 8,991 then, said 6,360-11,865)."""
    result = CliRunner().invoke(cli, ["search", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--isl", "128",
                                      "--osl", "16", "--ttft", "p99:1s", "--refine", "2"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "Best under TPOT 50 ms, TTFT p99 1 s: 9,117 sim tok/s/chip (80% interval 6,434-11,693), agg tp1" in text
    line = text.split("to run it: ")[1].split(" (the simulator's")[0]
    served = CliRunner().invoke(cli, line.split()[1:], env={"COLUMNS": "120"})
    assert "output tokens/s per chip (80% interval) 9,117 (6,434-11,693)" in " ".join(served.output.split())


@pytest.mark.e2e  # a search and two Poisson simulations (about 3 s)
def test_search_json_states_the_bound_asked_beside_the_one_it_screened_by() -> None:
    """Under Poisson arrivals the steady search screens no percentile TTFT (the simulator checks it alone), and the
    JSON's targets were the screen's: ttft_s null beside target_statistics ttft p99, the 1.234 s asked nowhere
    (report-only tester fuzzDG 2)."""
    found = _run("search", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--chips", "1", "--ttft", "p99:1.234s",
                 "--arrivals", "poisson", "--refine", "1", "--format", "json")
    assert found["targets"] == {"tpot_s": 0.05, "ttft_s": 1.234}
    assert found["screened_targets"] == {"tpot_s": 0.05, "ttft_s": None}
    assert found["target_statistics"] == {"tpot": "mean", "ttft": "p99"}


def test_a_simulated_run_short_of_the_rate_sized_on_says_what_the_fleet_serves() -> None:
    """`fleet --ttft p99:2s --tpot p99:60ms` sized Qwen3-235B on H20s on the steady 1,579 tok/s/chip ('101% of
    demand') beside a simulated 1,518 with nothing said (report-only tester, fixea 2). That Poisson run kept up (its
    TTFT did not grow): its rate, first send to last token, counts the 27 s drain after 556 s of arrivals, so its
    sim_rate_share is 1. A run whose TTFT grows 0.05 s a second is served at 1 / 1.05 of the arrivals, 95.2%; a
    closed loop's share is its rate over the steady one. Under 97% the fleet's note says what the fleet serves."""
    from types import SimpleNamespace

    from parity.cli.fleet_cmd import _simulated_note
    from parity.predict.refine import _rate_share

    steady = SimpleNamespace(tokens_per_s_per_chip=1579.0)
    kept_up, behind = (SimpleNamespace(ttft_growth=g, output_tokens_per_s_per_chip=1518.3) for g in (-0.0002, 0.05))
    assert _rate_share(steady, kept_up, open_loop=True) == 1.0
    assert _rate_share(steady, behind, open_loop=True) == pytest.approx(0.9524, abs=1e-4)
    assert _rate_share(steady, behind, open_loop=False) == pytest.approx(1518.3 / 1579.0, rel=1e-12)
    fleet, units = SimpleNamespace(served_share=1.0103), SimpleNamespace(served_share=None)
    assert _simulated_note(fleet, {"sim_rate_share": 1 / 1.05}) == (
        "the simulated run sustains 95.2% of the rate sized on, so the fleet serves 96.2% of the demand")
    assert _simulated_note(units, {"sim_rate_share": 1 / 1.05}) == (
        "the simulated run sustains 95.2% of the rate sized on")
    assert [_simulated_note(fleet, sim) for sim in ({"sim_rate_share": 0.98}, {"sim_rate_share": math.nan}, {})] == [
        ""] * 3


def test_one_layout_and_one_run_are_singular() -> None:
    """A percentile search on one layout in one run said 'on 1 layouts ... in 1 runs' (report-only tester fixec2 7)."""
    result = CliRunner().invoke(cli, ["search", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--chips", "1",
                                      "--isl", "256", "--osl", "128", "--mode", "agg", "--tpot", "p99:50ms",
                                      "--refine", "1"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    words = " ".join(result.output.split())
    assert "that passed, on 1 layout, the simulator bisected" in words and "in 1 run, skipping" in words
