"""The SGLang Ascend best-practice rows read as their launch commands ran them: the page's 'CardNum' counts
910C packages (8 an Atlas 800I A3 node) while SGLang runs one rank per die (16 a node)."""

from __future__ import annotations

from parity import catalog
from parity.predict import predict_scenarios, scenario_from_row

# case id -> the page's card count (hand-read from each section's header, e.g. 'Atlas 800I A3 32Card')
CARDS = {"B11-a3-dsr1-w8a8-3.5k1.5k-pd": 32, "B12-a3-dsr1-w4a8-2k2k-mixed": 8, "B12-a3-dsr1-w4a8-3.5k1.5k-mixed": 8,
         "B12-a3-dsr1-w4a8-2k2k-pd": 16, "B12-a3-dsr1-w8a8-6k1.6k-pd-lowlat": 32}


def test_every_ascend_row_occupies_the_packages_the_page_counts() -> None:
    """B11: 2 prefill workers of 16 dies (attention TP 8 x DP 2) + 1 decode worker of 32 dies (TP 1 x DP 32)
    = 64 dies = 32 packages = 32 cards. B12 mixed: one node, --tp 16 = 16 dies = 8 cards; B12 PD 2K/2K:
    16 + 16 dies = 16 cards; B12 low latency: 2 x 16 + 32 (TP 2 x DP 16) dies = 32 cards."""
    rows = {r["case_id"]: r for r in catalog.measurements("serving_published") if r["case_id"] in CARDS}
    assert set(rows) == set(CARDS)
    predictions = predict_scenarios([scenario_from_row(rows[c]) for c in CARDS])
    assert {c: p.chips for c, p in zip(CARDS, predictions)} == CARDS


def test_b11_is_the_same_deployment_in_both_tables() -> None:
    published, throughput = [r for r in catalog.measurements("serving_published") if r["case_id"].startswith("B11-")]
    (percentiles,) = [r for r in catalog.measurements("serving_percentiles") if r["case_id"].startswith("PS01-")]
    keys = ("prefill_workers", "prefill_tp", "prefill_attn_dp", "prefill_moe_ep", "decode_workers", "decode_tp",
            "decode_attn_dp", "decode_moe_ep", "rank_per_die", "mtp_tokens", "isl", "osl", "concurrency")
    assert {k: published[k] for k in keys} == {k: percentiles[k] for k in keys}
    assert {k: throughput[k] for k in keys} == {k: percentiles[k] for k in keys}
    assert float(published["measured"]) == round(1.0 / float(percentiles["measured_tpot_mean_s"]), 4)
    assert float(throughput["measured"]) == 12697.49  # 396.796 a card x 32 cards, as the page totals it
