"""MoE all-to-all against DeepEP's published bandwidths and low-latency times (tolerances stored with the data)."""

import csv
from importlib import resources

import pytest

from parity import catalog
from parity.cost import collective_s
from parity.ops import expected_distinct

ROWS = list(csv.DictReader((resources.files("parity") / "data/measurements/collectives_published.csv")
                           .open(encoding="utf-8")))


@pytest.mark.parametrize("row", [r for r in ROWS if r["kernels"] == "normal"], ids=lambda r: r["case_id"])
def test_dispatch_bandwidth_matches_deepep(row: dict) -> None:
    """Bottleneck-link bandwidth = bytes crossing the bottleneck link / (time - latency): NVLink bytes to
    the other ranks inside a node, or RDMA bytes to the other nodes (one copy per node)."""
    system = catalog.system(row["system"])
    cal = catalog.calibration(system.chip)
    n, fanout = float(row["group"]), float(row["fanout"])
    per_rank = float(row["tokens"]) * float(row["hidden"]) * float(row["dispatch_bytes_per_element"])
    t = collective_s("all_to_all", per_rank, n, system, cal.collective_efficiency, fanout)
    if row["scope"] == "scale_up":
        crossing = per_rank * expected_distinct(fanout, n) * (n - 1) / n
        latency = system.scale_up_latency_s
    else:
        domains = n / system.scale_up_domain_chips
        crossing = per_rank * expected_distinct(fanout, domains) * (domains - 1) / domains
        latency = system.scale_out_latency_s
    achieved = crossing / (float(t) - latency)
    assert achieved == pytest.approx(float(row["measured_bytes_per_s"]), rel=float(row["tolerance"]))


@pytest.mark.parametrize("row", [r for r in ROWS if r["kernels"] == "low_latency"], ids=lambda r: r["case_id"])
def test_low_latency_all_to_all_matches_deepep(row: dict) -> None:
    """DeepEP's low-latency kernels (decode-sized batches) send every (token, expert) copy straight to its
    rank, with no per-node forwarding: dispatch and combine times across 4-32 nodes as published."""
    system = catalog.system(row["system"])
    cal = catalog.calibration(system.chip)
    per_rank = float(row["tokens"]) * float(row["hidden"]) * float(row["dispatch_bytes_per_element"])
    t = collective_s("all_to_all", per_rank, float(row["group"]), system, cal.collective_efficiency,
                     float(row["fanout"]), low_latency=True)
    assert float(t) == pytest.approx(float(row["measured_s"]), rel=float(row["tolerance"]))
    if row["group"] == "32":  # forwarding (one copy per destination node) would miss it: 4 nodes, 8 experts
        forwarded = collective_s("all_to_all", per_rank, 32.0, system, cal.collective_efficiency, 8.0)
        assert float(forwarded) < 0.7 * float(row["measured_s"])


def test_decode_sized_batches_take_the_low_latency_kernels() -> None:
    """Expert dispatch of at most LOW_LATENCY_TOKENS tokens a rank runs the low-latency kernels, a prefill
    batch the forwarding ones; inside one scale-up domain both are the same all-to-all."""
    from parity.ops import Batch
    from parity.plan import LOW_LATENCY_TOKENS, Layout, Precision, Shard, device_step

    model = catalog.model("deepseek-r1")
    shard = Shard.of(Layout(tp=1, attn_dp=16, moe_ep=16))
    precision = Precision(weights="fp8", expert_weights="fp8", kv_cache="fp8")
    decode = device_step(model, Batch(decode_tokens=float(LOW_LATENCY_TOKENS), decode_context=2048.0), shard, precision)
    prefill = device_step(model, Batch(prefill_tokens=4096.0, prefill_sequences=4.0), shard, precision)
    (d,) = {bool(c.low_latency) for c in decode.collectives if c.name == "moe_dispatch"}
    (p,) = {bool(c.low_latency) for c in prefill.collectives if c.name == "moe_dispatch"}
    assert d and not p
