"""Expert parallelism x expert tensor parallelism under attention DP: the expert-parallel ranks sit `slices` chips
apart (SGLang's and Megatron-Core's rank order), so a group wider than a domain sends part of every dispatch and
combine over scale-out, and each rank's received tokens are gathered over its expert-TP slices."""

from __future__ import annotations

import dataclasses

import pytest

from parity import catalog
from parity.cost import collective_s, price_collective, sliced_all_to_all_s, slice_stride_ranks
from parity.ops import Batch, Collective, expected_distinct
from parity.plan import Layout, Precision, Shard, device_step
from parity.step import Deployment, breakdown
from conftest import round_system

# DeepSeek-R1 on hgx-h20 as the finding had it: 16 ranks over two 8-GPU systems, attention DP 16, EP 8 x ETP 2
LAYOUT = Layout(tp=1, attn_dp=16, moe_ep=8)
PRECISION = Precision(weights="fp8", expert_weights="fp8", kv_cache="fp8")


def _dispatch(batch: Batch, layout: Layout = LAYOUT) -> Collective:
    step = device_step(catalog.model("deepseek-r1"), batch, Shard.of(layout), PRECISION)
    (dispatch,) = [c for c in step.collectives if c.name == "moe_dispatch"]
    return dispatch


def test_round_system_ep8_etp2_sends_half_of_each_tokens_copies_over_scale_out() -> None:
    """Two 8-chip domains, scale-up 100 GB/s, scale-out 10 GB/s, no latencies, efficiency 1; 1 MB of tokens a rank,
    top-8. EP 8 x ETP 2: the 8 expert-parallel ranks 2 chips apart, 4 in each domain (domain / slices).
    Low-latency kernels: 8 x 4/8 = 4 copies of each token cross scale-out, 4 MB / 10 GB/s = 400 us (the 3 x 1 MB
    inside the domain take 30 us beside it); then each rank gathers what its slice peer received, 1 MB x
    expected_distinct(8, 8) = 5.2511 MB over scale-up, 52.51 us: 452.51 us. Flat EP 16 sends as many copies across,
    400 us, and gathers nothing. Normal kernels: one copy per remote domain, 1 MB x expected_distinct(8, 2) x 1/2 =
    0.99609 MB / 10 GB/s = 99.61 us (inside: 5.2511 x 3/8 MB / 100 GB/s = 19.69 us) + 52.51 = 152.12 us.
    Priced as one 8-chip group, as before, it took 1 MB x 5.2511 x 7/8 / 100 GB/s = 45.95 us and crossed nothing."""
    system = round_system(chips=16)
    S = 1e6
    assert float(slice_stride_ranks(system, 2.0)) == 4.0
    assert expected_distinct(8.0, 8.0) == pytest.approx(5.2511, abs=1e-4)
    low = sliced_all_to_all_s(S, 8.0, 2.0, system, 1.0, 8.0, low_latency=True)
    assert float(low) == pytest.approx(400e-6 + 52.511e-6, rel=1e-4)
    assert float(collective_s("all_to_all", S, 16.0, system, 1.0, 8.0, low_latency=True)) == pytest.approx(400e-6)
    normal = sliced_all_to_all_s(S, 8.0, 2.0, system, 1.0, 8.0)
    assert float(normal) == pytest.approx(99.609e-6 + 52.511e-6, rel=1e-4)
    assert float(collective_s("all_to_all", S, 8.0, system, 1.0, 8.0)) == pytest.approx(45.947e-6, rel=1e-4)


def test_h20_ep8_etp2_dispatch_prices_its_scale_out_bytes() -> None:
    """The finding's layout, 4 decode tokens a rank: each of the 16 ranks dispatches 4 x 7,168 x 1 B (FP8) =
    28,672 B to 8 experts over the 8 expert-parallel ranks, 2 GPUs apart, 4 in each HGX H20. Low-latency kernels:
    4 of the 8 copies, 114,688 B, cross the 50 GB/s NIC at 0.8: 2.8672 us + 4 us hop = 6.8672 us (the 3 copies
    inside, 0.239 us over 0.8 x 450 GB/s, hide under it); the gather over the expert-TP pair moves what the rank
    received, 28,672 x 5.2511 = 150,560 B: 3 us + 0.41822 us. 10.285 us a call. At 1% of the scale-out bandwidth
    the crossing takes 286.72 us: 294.14 us. Before, one 8-GPU group: 3 + 0.366 + 26.5 us (DeepEP's per-call
    latency inside NVLink) = 29.87 us whatever the NIC."""
    system = catalog.system("hgx-h20")
    cal = catalog.calibration(system.chip)
    assert cal.collective_efficiency == 0.8
    dispatch = _dispatch(Batch(decode_tokens=4.0, decode_context=2048.0))
    assert (float(dispatch.group), float(dispatch.slices), dispatch.fanout) == (8.0, 2.0, 8)
    assert float(dispatch.bytes) == pytest.approx(28_672.0)
    assert bool(dispatch.low_latency)
    cost, _ = price_collective(dataclasses.replace(dispatch, count=1.0), system, cal)
    assert float(cost.communication_s) == pytest.approx(6.8672e-6 + 3.41822e-6, rel=1e-4)
    slow = dataclasses.replace(system, scale_out_bytes_per_s=0.01 * system.scale_out_bytes_per_s)
    cost, _ = price_collective(dataclasses.replace(dispatch, count=1.0), slow, cal)
    assert float(cost.communication_s) == pytest.approx(290.72e-6 + 3.41822e-6, rel=1e-4)


def test_h20_ep8_etp2_steps_slow_with_the_scale_out_links() -> None:
    """The whole decode and prompt steps (the step cost the steady model and the simulator's tables share) of the
    finding's layout grow when the NIC is 1% as fast, as flat EP 16's do: 61 layers' dispatch and combine cross it.
    Before, both steps were the same at any scale-out bandwidth."""
    system = catalog.system("hgx-h20")
    slow = dataclasses.replace(system, scale_out_bytes_per_s=0.01 * system.scale_out_bytes_per_s)
    for batch in (Batch(decode_tokens=4.0, decode_context=2048.0),
                  Batch(prefill_tokens=1024.0, prefill_sequences=1.0)):
        times = {}
        for name, where in (("nominal", system), ("slow", slow)):
            dep = Deployment(model=catalog.model("deepseek-r1"), system=where, layout=LAYOUT, precision=PRECISION,
                             calibration=catalog.calibration(system.chip))
            times[name] = sum(p.seconds for p in breakdown(dep, batch) if p.name.startswith("moe_"))
        assert times["slow"] > 10 * times["nominal"]


def test_explanation_names_the_domains_and_the_slices() -> None:
    """--explain says the EP 8 x ETP 2 dispatch crosses 2 domains (it said 'direct all-to-all (fused)', inside one
    8-GPU system), and an EP 4 x ETP 2 group on 8 GPUs of one system stays inside it, gathering over its slices."""
    system = catalog.system("hgx-h20")
    dep = Deployment(model=catalog.model("deepseek-r1"), system=system, layout=LAYOUT, precision=PRECISION,
                     calibration=catalog.calibration(system.chip))
    parts = {p.name: p.detail for p in breakdown(dep, Batch(decode_tokens=4.0, decode_context=2048.0))}
    assert parts["moe_dispatch"] == ("low-latency all-to-all (each token's 8 expert copies sent straight to their "
                                     "ranks, 2 domains over scale-out, gathered over 2 expert-TP slices)")
    assert parts["moe_combine"] == parts["moe_dispatch"]
    one = dataclasses.replace(dep, layout=Layout(tp=1, attn_dp=8, moe_ep=4))
    parts = {p.name: p.detail for p in breakdown(one, Batch(decode_tokens=4.0, decode_context=2048.0))}
    assert parts["moe_dispatch"].startswith("direct all-to-all (each token to 8 experts, gathered over 2 expert-TP "
                                            "slices")


def test_slices_only_where_an_all_to_all_runs() -> None:
    """Experts only sliced (EP 1) gather the group's tokens instead, and attention TP all-reduces: neither has a
    sliced all-to-all. Flat EP 16 has slices 1 and prices as before."""
    batch = Batch(decode_tokens=4.0, decode_context=2048.0)
    assert float(_dispatch(batch, Layout(tp=1, attn_dp=16, moe_ep=1)).slices) == 1.0
    assert float(_dispatch(batch, Layout(tp=8, moe_ep=4)).slices) == 1.0
    assert float(_dispatch(batch, Layout(tp=1, attn_dp=16, moe_ep=16)).slices) == 1.0
