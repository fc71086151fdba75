"""MoE all-to-all against DeepEP's published bandwidths (tolerances stored with the data)."""

import csv
from importlib import resources

import pytest

from parity import catalog
from parity.cost import collective_s
from parity.ops import expected_distinct

ROWS = list(csv.DictReader((resources.files("parity") / "data/measurements/collectives_published.csv")
                           .open(encoding="utf-8")))


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r["case_id"])
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
