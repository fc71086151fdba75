"""Attention DP with attention TP inside each DP rank: each attention-TP rank sends 1/t of its DP rank's
tokens to their experts (SGLang's scattered MoE input under DeepEP), so no token is dispatched twice."""

from __future__ import annotations

import pytest

from parity import catalog
from parity.ops import Batch
from parity.plan import Layout, Precision, Shard, device_step, moe_routes_share, moe_scatter


def _step(layout: Layout, tokens: float):
    model = catalog.model("deepseek-r1")
    return device_step(model, Batch(prefill_tokens=tokens, prefill_sequences=tokens / 3500.0),
                       Shard.of(layout), Precision(weights="int8", expert_weights="int8"))


def _one(step, name: str):
    found = [c for c in step.collectives if c.name == name] + [k for k in step.kernels if k.name == name]
    return found[0]


def test_scatter_is_the_attention_tp_size_only_where_tokens_go_to_spread_experts() -> None:
    """B11's prefill worker (SGLang --tp-size 16 --dp-size 2 --enable-dp-attention, DeepEP): attention
    TP 8 in each of 2 DP ranks, experts over 16 ranks -> 8. Pure attention TP (no DP: experts' outputs
    all-reduced, no all-to-all) and pure attention DP (t = 1) -> 1."""
    assert float(moe_scatter(Shard.of(Layout(tp=8, attn_dp=2, moe_ep=16)))) == 8.0
    assert float(moe_scatter(Shard.of(Layout(tp=8, moe_ep=8)))) == 1.0
    assert float(moe_scatter(Shard.of(Layout(tp=1, attn_dp=16, moe_ep=16)))) == 1.0
    assert float(moe_scatter(Shard.of(Layout(tp=8, attn_dp=2, moe_tp=16, moe_ep=1)))) == 1.0


def test_dispatch_bytes_and_permute_of_the_hybrid_layout_are_those_of_its_share_of_tokens() -> None:
    """14,000 prompt tokens per DP rank (4 prompts of 3,500), hidden 7,168, INT8 experts: each of the 8
    attention-TP ranks dispatches 1,750 tokens x 7,168 x 1 B = 12,544,000 B a layer (INT8 dispatch) and
    combines 1,750 x 7,168 x 2 B = 25,088,000 B (BF16); its permute moves 4 x 2 x 1,750 x 8 x 7,168 =
    802,816,000 B. The same tokens on a t = 1 rank (attn_dp 16) move 8x those: the hybrid layout
    equals the all-DP one with 1/t of the tokens."""
    hybrid = _step(Layout(tp=8, attn_dp=2, moe_ep=16), 14000.0)
    assert float(_one(hybrid, "moe_dispatch").bytes) == pytest.approx(12_544_000.0)
    assert float(_one(hybrid, "moe_combine").bytes) == pytest.approx(25_088_000.0)
    assert float(_one(hybrid, "moe_permute").other_bytes) == pytest.approx(802_816_000.0)
    flat = _step(Layout(tp=1, attn_dp=16, moe_ep=16), 14000.0)
    assert float(_one(flat, "moe_dispatch").bytes) == pytest.approx(8 * 12_544_000.0)
    assert float(_one(flat, "moe_permute").other_bytes) == pytest.approx(8 * 802_816_000.0)


def test_the_expert_all_to_all_is_priced_on_the_busiest_ranks_tokens() -> None:
    """With the busiest expert rank at 1.25x the mean load its dispatch receives, and its combine returns,
    1.25x the mean token copies: the hybrid layout's 12,544,000 B dispatch becomes 15,680,000 B and its
    25,088,000 B combine 31,360,000 B, as its expert GEMMs do 1.25x the mean work. The batch still runs normal,
    not low-latency, kernels: 1,750 tokens sent, over 128."""
    model = catalog.model("deepseek-r1")
    shard = Shard.of(Layout(tp=8, attn_dp=2, moe_ep=16), imbalance=1.25)
    step = device_step(model, Batch(prefill_tokens=14000.0, prefill_sequences=4.0), shard,
                       Precision(weights="int8", expert_weights="int8"))
    assert float(_one(step, "moe_dispatch").bytes) == pytest.approx(15_680_000.0)
    assert float(_one(step, "moe_combine").bytes) == pytest.approx(31_360_000.0)
    assert not bool(_one(step, "moe_dispatch").low_latency)


def test_a_ranks_permute_moves_the_routes_its_expert_gemms_run_in_every_layout() -> None:
    """8,192 tokens on each attention rank, DeepSeek-R1 (hidden 7,168, top 8), 16-bit activations: the permute
    moves 4 x 2 x routes x 7,168 B, with the routes those the rank's expert GEMMs run (its tokens' 65,536 routes x d /
    me). TP 8, EP 8 (every rank holds every token, its experts get 1/8 of the routes): 8,192 routes, 469,762,048 B
    (it moved all 65,536 before 2026-12-05); attention DP 8, EP 8: 65,536, a rank's own routes' worth; TP 8 with the
    experts sliced (EP 1): all 65,536; attention DP 8 with the experts sliced: the group's 8 x 65,536, gathered
    (30,064,771,072 B). Each equals the routes of the up-projection's grouped GEMM (its FLOPs over 2 x 7,168 x 4,096 /
    mt)."""
    model = catalog.model("deepseek-r1")
    for layout, routes in ((Layout(tp=8, moe_ep=8), 8192.0), (Layout(tp=1, attn_dp=8, moe_ep=8), 65536.0),
                           (Layout(tp=8, moe_tp=8, moe_ep=1), 65536.0),
                           (Layout(tp=1, attn_dp=8, moe_tp=8, moe_ep=1), 8 * 65536.0)):
        shard = Shard.of(layout)
        step = device_step(model, Batch(prefill_tokens=8192.0, prefill_sequences=8.0), shard, Precision())
        assert float(moe_routes_share(shard)) == routes / 65536.0
        assert float(_one(step, "moe_permute").other_bytes) == pytest.approx(4 * 2 * routes * 7168)
        up = _one(step, "expert_up")
        assert float(up.flops) / (2 * 7168 * 2 * 2048 / float(shard.mt)) == pytest.approx(routes), str(layout)
    assert 4 * 2 * 8192 * 7168 == 469_762_048 and 4 * 2 * 8 * 65536 * 7168 == 30_064_771_072
