"""`parity compare` runs a multi-die package as its frameworks do, one rank per die (the 910C: 16 devices an
Atlas 800 A3 node), and flags an engine profile fitted only on MTP runs when it runs without MTP."""

from __future__ import annotations

import pytest

from parity import catalog
from parity.compare import compare
from parity.hardware import per_die
from parity.search import best_precision, search_spanning
from parity.uncertainty import case_flags
from parity.flags import texts


@pytest.mark.e2e  # over 1.5 s: the end-to-end tier keeps the default run under a minute
def test_a3_runs_sixteen_die_ranks_and_reports_per_package() -> None:
    """DeepSeek-R1 (int8, 671 GB of weights) fits one A3 node's 16 dies of 64 GB, but its best decode worker (at
    CANN's measured software maturity and 50 ms TPOT, no MTP) spans four nodes' 64 dies, tp2-dp32-ep64 (tp4-dp16-ep64
    on the concurrency grid's batches alone; tp4-dp16-ep32-etp2 before EP x ETP workers crossed scale-out as their
    ranks do), and the rates come back per package: 2 x the per-die rate of the same search over four systems."""
    system, model = catalog.system("atlas-800-a3"), catalog.model("deepseek-r1")
    profile = catalog.engine("generic")
    (row,) = compare([system], model, profile, ttft_s=5.0, mtp_tokens=0)
    assert row.layout.endswith("D tp2-dp32-ep64")
    assert any("one rank per die (2 a package" in a for a in row.assumptions)
    ranks = per_die(system)
    found, span = search_spanning(model, ranks, catalog.engine_for("generic", "cann"), catalog.calibration(system.chip),
                                  best_precision(model, system.chip), 1024, 1024, 0.05, 5.0, spans=(4,))
    assert span == 4 and ranks.chips == 16
    assert row.tokens_per_s_per_chip == pytest.approx(2 * found.best.tokens_per_s_per_chip)
    assert row.tokens_per_s_per_system == pytest.approx(8 * row.tokens_per_s_per_chip)


def test_profile_fitted_only_on_mtp_runs_is_flagged_without_mtp() -> None:
    """sglang-cann was fitted on four B12 rows, all with NEXTN 3 (MTP): run without MTP it is outside them."""
    system, model = catalog.system("atlas-800-a3"), catalog.model("deepseek-r1")
    profile = catalog.engine_for("sglang", "cann")
    off = texts(case_flags([(system, None)], model, profile, [], 0))
    on = texts(case_flags([(system, None)], model, profile, [], 2))
    assert "engine profile sglang-cann fitted only on runs with MTP (4 rows), run here without MTP" in off
    assert not any("fitted only on runs" in f for f in on)
    (row,) = compare([system], model, profile, ttft_s=5.0, mtp_tokens=0)
    assert "sglang-cann fitted only on runs with MTP" in row.note


def test_mtp_fit_flag_says_the_mtp_run_and_only_where_rows_fitted_the_profile() -> None:
    """vllm-rocm's 22 fitting rows ran no MTP: run with it, the flag says how many drafts. sglang-rocm's three rows
    fitted none of its values (they are sglang's and the stack prior's): no fit on runs without MTP to flag."""
    model = catalog.model("deepseek-r1")
    mi300x = [(catalog.system("mi300x-platform"), None)]
    assert [f for f in texts(case_flags(mi300x, model, catalog.engine("vllm-rocm"), [], 3)) if "MTP" in f] == [
        "engine profile vllm-rocm fitted only on runs without MTP (22 rows), run here with MTP (3 draft tokens a step)"]
    assert catalog.fitted_parameters(catalog.engine("sglang-rocm")) == ()
    assert not any("fitted only" in f for f in texts(case_flags(mi300x, model, catalog.engine("sglang-rocm"), [], 1)))


@pytest.mark.e2e  # over 1.5 s: the end-to-end tier keeps the default run under a minute
def test_a3_spans_systems_where_wider_workers_deliver_more() -> None:
    """DeepSeek-R1 fits one A3 node, where only a small batch meets 50 ms TPOT (84.8 tok/s/chip, generic engine at
    CANN's measured software maturity), while the H20, which does not fit one HGX, spans two. Over more nodes each die
    holds fewer experts and reads fewer weights a step: over four (64 dies), 715 tok/s/chip, 8x the one-node figure
    (over WIDER_GAIN 1.25; the expert all-to-all between the nodes priced on the busiest die's 1.2x share of the
    tokens). compare kept the A3 on one node and only noted the wider figure, so the chip that holds the model alone
    priced below the one that does not (0.13x the H20 here); it now takes the wider workers, as fleet does, and the
    note gives the one-node figure; the H20 row, already over two systems, replaced no narrower best. (611 and 83
    before each decode layout ran the largest batch its TPOT target allows; 776 before EP x ETP decode workers crossed
    scale-out as their ranks do; 847 and 85 before disaggregated rows were priced on whole workers by serve's steady
    model.)"""
    systems = [catalog.system("hgx-h20"), catalog.system("atlas-800-a3")]
    h20, a3 = compare(systems, catalog.model("deepseek-r1"), catalog.engine("generic"), ttft_s=5.0, mtp_tokens=0)
    assert a3.tokens_per_s_per_chip == pytest.approx(733.9, abs=0.2)  # 715.1 before the batch was refined as served
    assert "spans 4 systems (85/chip on one)" in a3.note
    assert "spans 2 systems" in h20.note and "/chip on" not in h20.note


def test_the_note_gives_the_systems_the_chosen_worker_spans() -> None:
    """Qwen3-30B-A3B on the A3: the note said 'spans 4 systems', the widest searched, where the search chose a decode
    worker of 32 dies, two systems (fuzz 16 1.3); the note now gives the span from the chosen layout. Qwen3-30B-A3B's
    one-system best has since reached 5,940/chip (loads between the grid's), and its wider workers' 7,017 no longer
    gain 1.25x; Qwen3-Next-80B-A3B's best is a decode worker of 64 dies (tp1-pp2-dp32-ep32): four systems."""
    (row,) = compare([catalog.system("atlas-800-a3")], catalog.model("qwen3-next-80b-a3b"), catalog.engine("generic"),
                     ttft_s=5.0)
    assert row.layout.endswith("D tp1-pp2-dp32-ep32")
    assert row.note == "power derived; spans 4 systems (5,732/chip on one)"  # its 11.65 kW: CloudMatrix 384's per node
    assert any("of up to 4 systems over scale-out where those deliver 1.25x more per chip" in a
               for a in row.assumptions)
