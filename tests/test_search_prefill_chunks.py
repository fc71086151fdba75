"""Disaggregated prefill workers run steps small enough for the TTFT target (not always the engine's
full token budget), so a chip with slow compute per rank is not priced out of disaggregated serving."""

from __future__ import annotations

import dataclasses

import pytest

from parity import catalog
from parity.search import best_precision, layout_grid, prefill_chunks, prefill_rates, search_serving


def test_chunks_halve_the_budget_down_to_one_prompt() -> None:
    """16,384 / 2 / 2 ... while >= isl: 1,024 tokens gives five sizes, 3,000 three (2,048 < 3,000), and a
    prompt longer than the budget one step of itself."""
    profile = dataclasses.replace(catalog.engine("sglang"), max_num_tokens=16384)
    assert prefill_chunks(profile, 1024) == (16384.0, 8192.0, 4096.0, 2048.0, 1024.0)
    assert prefill_chunks(profile, 3000) == (16384.0, 8192.0, 4096.0)
    assert prefill_chunks(profile, 20000) == (20000.0,)


def test_h20_disaggregated_deepseek_meets_ttft_with_quarter_budget_steps() -> None:
    """DeepSeek-R1 on two HGX H20 (16 chips), SGLang, prefill workers sized for its 87.1% utilisation (a prompt waits
    burstiness 2.94 x 0.871 / 0.129 = 19.8 rank services): a prefill rank of tp1-dp16 takes 7.08 s for a full
    16,384-token step (+8.77 s queueing +0.010 s overhead = 15.85 s TTFT, over 5 s), 3.54 s for 8,192 tokens (TTFT
    7.94 s, still over), 1.78 s for 4,096 (TTFT 3.99 s) at almost the same prompts/s (36.2 against 36.0 a worker):
    only a quarter-budget step meets TTFT 5 s on that layout. The search's best meets it with a quarter-budget step
    on another layout, tp1-pp4-dp4-ep4 at 4,096 tokens (TTFT 2.55 s; sized for 80% utilisation, as the search was
    before it read the engine's, it took 8,192-token steps there, 3.31 s). The MoE group's tokens move by
    all-gather here (SGLang's prompt_gather_all_reduce off)."""
    system, model = catalog.system("hgx-h20"), catalog.model("deepseek-r1")
    profile = dataclasses.replace(catalog.engine("sglang"), prompt_gather_all_reduce=False)
    precision = best_precision(model, system.chip)
    found = search_serving(model, system, profile, catalog.calibration(system.chip), precision, 1024, 1024,
                           0.05, 5.0, modes=("disagg",), max_chips=16)
    assert found.best is not None
    assert found.best.prefill_tokens_per_step == 4096.0 and str(found.best.layout) == "tp1-pp4-dp4-ep4"
    assert found.best.ttft_s == pytest.approx(2.55, abs=0.02)
    grid = layout_grid(model, 16)
    (row,) = [i for i in range(len(grid)) if str(grid.at(i)) == "tp1-dp16-ep16"]
    ttft = {}
    for chunk in (16384.0, 8192.0, 4096.0):
        rates = prefill_rates(model, system, grid, precision, catalog.calibration(system.chip), profile, 1024, chunk)
        ttft[chunk] = profile.ttft_overhead_s + rates["step"][row] + rates["wait"][row]
    assert ttft == {16384.0: pytest.approx(15.85, abs=0.02), 8192.0: pytest.approx(7.94, abs=0.02),
                    4096.0: pytest.approx(3.99, abs=0.02)}


def test_search_sizes_prefill_for_the_engines_utilisation_as_serve_does() -> None:
    """The search's prefill queue and worker ratio use the engine's disagg_prefill_utilization u, the figure
    `serve` sizes prefill workers for: a prompt waits burstiness x u / (1 - u) rank services (1 at u = 0.5, 3 at
    0.75), and the assumptions name u (70% for the generic engine)."""
    system, model = catalog.system("hgx-h100"), catalog.model("llama-3.1-8b")
    grid, precision = layout_grid(model, 1), best_precision(model, system.chip)
    for u, services in ((0.5, 1.0), (0.75, 3.0)):
        profile = dataclasses.replace(catalog.engine("generic"), disagg_prefill_utilization=u, burstiness=1.0)
        rates = prefill_rates(model, system, grid, precision, catalog.calibration(system.chip), profile, 1024)
        assert float(rates["wait"][0]) == pytest.approx(services * float(rates["step"][0]), rel=1e-12)
    found = search_serving(model, system, catalog.engine("generic"), catalog.calibration(system.chip), precision,
                           1024, 1024, 0.05, None, chips=1, modes=("disagg",))
    assert any("prefill workers sized for 70% utilisation (the engine's disagg_prefill_utilization" in note
               for note in found.assumptions)
