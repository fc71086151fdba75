"""The vectorised search gives the scalar path's numbers, and its best is the exhaustive best."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parity import catalog
from parity.search import best_precision
from parity.search import layout_grid, search_serving
from parity.search.aggregated import _aggregated
from parity.serving import Workload, engine_deployment, kv_capacity, serve_aggregated

CASES = [("llama-3.1-8b", "hgx-h100", "trtllm"), ("qwen3-235b-a22b-fp8", "hgx-h100", "trtllm"),
         ("deepseek-r1", "gb200-nvl72", "trtllm"), ("gpt-oss-120b", "hgx-b200", "vllm"),
         ("deepseek-r1", "cloudmatrix-384", "generic")]


def setup(model: str, system: str, engine: str):
    m, s = catalog.model(model), catalog.system(system)
    return m, s, catalog.engine(engine), catalog.calibration(s.chip), best_precision(m, s.chip)


@settings(max_examples=25, deadline=None)
@given(case=st.sampled_from(CASES), chips=st.sampled_from([1, 2, 4, 8, 16]), pick=st.integers(0, 10**6),
       concurrency=st.sampled_from([1, 3, 16, 100, 512]), isl=st.sampled_from([128, 1024, 8192]),
       osl=st.sampled_from([64, 1024]))
@pytest.mark.e2e
def test_vectorised_aggregated_equals_the_scalar_path(case, chips, pick, concurrency, isl, osl) -> None:
    m, s, profile, cal, precision = setup(*case)
    try:
        grid = layout_grid(m, chips)
    except Exception:
        return
    r = _aggregated(m, s, grid, precision, cal, profile, isl, osl, np.array([1.0, float(concurrency)]))
    i = (pick % len(grid)) * 2 + 1
    layout = grid.at(int(r["index"][i]))
    dep = engine_deployment(m, s, layout, precision, cal, profile)
    # the search runs a layout at most at its KV capacity (its clients of the worker, test below)
    scalar = serve_aggregated(dep, profile, Workload(isl=isl, osl=osl, concurrency=float(r["concurrency"][i])))
    if not bool(np.asarray(scalar.feasible)):
        assert not r["fits"][i]
        return
    assert r["ttft"][i] == pytest.approx(float(scalar.ttft_s), rel=1e-9)
    assert r["tpot"][i] == pytest.approx(float(scalar.tpot_s), rel=1e-9)
    assert r["per_chip"][i] == pytest.approx(float(scalar.output_tokens_per_s) / layout.chips, rel=1e-9)


def test_a_load_beyond_the_kv_capacity_runs_at_the_capacity() -> None:
    """Llama-3.1-70B FP8 on two H100s (TensorRT-LLM, tp 2), 4,096 + 1,024 tokens: the KV cache holds 74
    sequences. At 64 clients the search runs 64; at 256 and 1,024 it runs 74, with the TPOT and throughput of
    all 256 or 1,024 (the others only queue for a slot) but the TTFT of 74 clients (1.95 s), not the queue's
    (135 s and 699 s)."""
    m, s, profile, cal, precision = setup("llama-3.1-70b", "hgx-h100", "trtllm")
    grid = layout_grid(m, 2)
    i = next(n for n in range(len(grid)) if str(grid.at(n)) == "tp2")
    dep = engine_deployment(m, s, grid.at(i), precision, cal, profile)
    r = _aggregated(m, s, grid.take(np.array([i])), precision, cal, profile, 4096, 1024, np.array([64.0, 256.0, 1024.0]))
    assert list(r["concurrency"]) == [64.0, 74.0, 74.0]
    for j, clients in enumerate((64.0, 256.0, 1024.0)):
        everyone = serve_aggregated(dep, profile, Workload(isl=4096, osl=1024, concurrency=clients))
        # equal but for a client's own prompt, which stretches none of its decodes: 1/74 of the prompts at the
        # capacity, 1/256 or 1/1,024 of them with every client cycling (under 1% of TPOT)
        assert r["tpot"][j] == pytest.approx(float(everyone.tpot_s), rel=1e-9 if j == 0 else 1e-2)
        assert r["per_chip"][j] == pytest.approx(float(everyone.output_tokens_per_s) / 2, rel=1e-9 if j == 0 else 1e-2)
    queued = [float(serve_aggregated(dep, profile, Workload(isl=4096, osl=1024, concurrency=c)).ttft_s)
              for c in (256.0, 1024.0)]
    assert r["ttft"][1] == r["ttft"][2] == pytest.approx(1.947, rel=1e-3)
    assert queued == [pytest.approx(135.26, rel=1e-3), pytest.approx(698.6, rel=1e-3)]


def test_search_best_is_the_exhaustive_best() -> None:
    """Llama-3.1-8B on one H100 node, aggregated only, under a 20 ms TPOT target: every layout at every whole load
    from 1 to 512 clients (a layout's loads in one serve_aggregated call, each at most what its KV cache holds, as the
    search runs them) gives the search's best, 9,633 tok/s/chip, though the search prices only the loads 1, 8, 32,
    128 and 512 and, where the target binds between two of them, the most clients that meet it (_largest_meeting).
    The grid's loads alone give 9,056."""
    m, s, profile, cal, precision = setup("llama-3.1-8b", "hgx-h100", "trtllm")
    concurrency = (1, 8, 32, 128, 512)
    result = search_serving(m, s, profile, cal, precision, 1024, 256, tpot_s=0.02, modes=("agg",),
                            concurrency=concurrency)
    best, on_grid = 0.0, 0.0
    loads = np.arange(1.0, 513.0)
    for chips in (1, 2, 4, 8):
        grid = layout_grid(m, chips, (1, 2, 4))
        for k in range(len(grid)):
            layout = grid.at(k)
            dep = engine_deployment(m, s, layout, precision, cal, profile)
            _, slots = kv_capacity(dep, profile, loads, 1024.0, 256.0)
            clients = np.minimum(loads, np.maximum(slots, 1.0))
            r = serve_aggregated(dep, profile, Workload(isl=np.full(loads.size, 1024.0), osl=np.full(loads.size, 256.0),
                                                        concurrency=clients))
            meets = np.asarray(r.feasible) & (np.asarray(r.tpot_s) <= 0.02)
            per_chip = np.where(meets, np.asarray(r.output_tokens_per_s) / layout.chips, 0.0)
            best, on_grid = max(best, per_chip.max()), max(on_grid, per_chip[np.isin(loads, concurrency)].max())
    assert result.best is not None
    assert result.best.tokens_per_s_per_chip == pytest.approx(best, rel=1e-9)
    assert (round(best), round(on_grid)) == (9633, 9056)


def test_the_frontier_is_pareto() -> None:
    m, s, profile, cal, precision = setup("deepseek-r1", "gb200-nvl72", "trtllm")
    frontier = search_serving(m, s, profile, cal, precision, 1024, 1024, tpot_s=0.05).frontier
    users = [c.tokens_per_s_per_user for c in frontier]
    chips = [c.tokens_per_s_per_chip for c in frontier]
    assert users == sorted(users, reverse=True) and chips == sorted(chips)
    assert len(frontier) >= 5


def test_a_group_of_prompts_never_makes_a_mixed_step_cheaper() -> None:
    """gpt-oss-120b on 16 B200s (tp2-dp8-ep16, vLLM): a 128-token prompt beside 256 decodes prices the mixed step
    under the decodes alone (the MoE all-to-all changes mode when prompts join); the engine time the prompt adds
    is then zero, not negative (a negative share sent the search's bisection to overflow), while the group's wall
    time is the mixed step's own (6.06 ms)."""
    from parity.serving import _group_prefill
    m, s, profile, cal, precision = setup("gpt-oss-120b", "hgx-b200", "vllm")
    grid = layout_grid(m, 16)
    layout = next(grid.at(i) for i in range(len(grid)) if str(grid.at(i)) == "tp2-dp8-ep16")
    dep = engine_deployment(m, s, layout, precision, cal, profile)
    added, wall = _group_prefill(dep, profile, 128.0, 1.0, 256.0, 160.0, True)
    assert float(added) == 0.0 and float(wall) == pytest.approx(6.064e-3, rel=1e-3)


def test_the_search_caption_gives_a_small_best_rate_in_three_figures() -> None:
    """Llama-3.1-8B with 2,000,000-token prompts on an H100 node: the best delivers 0.237 tok/s/chip (0.329 when its
    disaggregated rows were priced on a rate-matched share of a prefill worker), which the caption printed as 0."""
    from click.testing import CliRunner
    from parity.cli import cli
    out = CliRunner().invoke(cli, ["search", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--isl", "2000000",
                                   "--refine", "0"])
    assert out.exit_code == 0, out.output
    assert "Best under TPOT 50 ms: 0.237 tok/s/chip" in " ".join(out.output.split())


def test_a_missed_ttft_target_names_the_fastest_ttft_a_configuration_reaches() -> None:
    """Llama-3.1-8B, disaggregated workers of one H100, generic engine, each row priced on whole workers by serve's
    steady model: its TTFT is its own load's, 72.2 ms at one client per decode worker on its rate-matched workers (8
    decode workers to a prefill worker) up to 666 ms at the KV cache's 437 (it was 337 ms at every load, a prompt queue
    priced at the prefill workers' rate-matched 70% whatever the load). A pair missing the TTFT target alone also runs
    at fewer clients on the workers of its best load (search._lowered): 1 prefill per 2 decode workers meets 50 ms at
    2 clients per decode worker (45.0 ms, 306.3 tok/s/chip), and reaches 31.5 ms at 1. A refusal names the fastest,
    whatever the target, and a target just above it is met."""
    m, s, profile, cal, precision = setup("llama-3.1-8b", "hgx-h100", "generic")

    def search(ttft_s: float):
        return search_serving(m, s, profile, cal, precision, 1024, 1024, 0.05, ttft_s, chips=1, modes=("disagg",))

    tight, tighter = search(0.050), search(0.010)
    assert (tight.best.concurrency, tight.best.decode_workers, tight.best.prefill_workers(2)) == (2.0, 2, 1)
    assert (round(tight.best.ttft_s, 4), round(tight.best.tokens_per_s_per_chip, 1)) == (0.045, 306.3)
    assert tighter.best is None
    assert max(c.ttft_s for c in tighter.frontier) == pytest.approx(0.6662, abs=5e-5)
    assert tight.fastest_ttft_s == tighter.fastest_ttft_s == pytest.approx(0.0315, abs=5e-5)
    assert tighter.binding() == "the TTFT target 10 ms binds: the fastest configuration that fits reaches 31.5 ms"
    met = search(tighter.fastest_ttft_s * (1 + 1e-9))
    assert met.best is not None and met.best.ttft_s <= tighter.fastest_ttft_s * (1 + 1e-9)
