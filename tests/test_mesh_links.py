"""A full mesh's links: a group of g of its m chips reaches (g-1)/(m-1) of a chip's scale-up bandwidth."""

import dataclasses

import numpy as np
import pytest

from parity import catalog
from parity.cost import collective_algorithm, collective_s, mesh_link_share

# one all-reduce of Llama-3.1-70B prefill at 4,096 tokens: 4,096 x 8,192 (hidden) x 2 B (bf16) = 67,108,864 B
BUFFER_BYTES = 4096 * 8192 * 2.0
EFFICIENCY = 0.7072  # family-cdna3's collective efficiency (8-GPU RCCL bus bandwidth, AZ-rccl-allreduce-8g)


@pytest.mark.parametrize(("system_id", "ranks", "share"), [
    ("mi300x-platform", 2, 1 / 7), ("mi300x-platform", 4, 3 / 7), ("mi300x-platform", 8, 1.0),
    ("atlas-800-a2", 2, 1 / 7), ("mtt-s4000-8card", 6, 5 / 7), ("hgx-h100", 2, 1.0), ("hgx-h100", 8, 1.0)])
def test_a_group_reaches_its_share_of_the_mesh_links(system_id: str, ranks: int, share: float) -> None:
    """Eight chips, each linked to the other seven by one link: a pair has 1 of the 7 links, a group of four
    3 of them (one to each other member); an NVSwitch (switch) gives any group the whole bandwidth."""
    assert mesh_link_share(catalog.system(system_id), ranks) == pytest.approx(share)


def test_mi300x_tp2_tp4_tp8_all_reduce_by_hand() -> None:
    """MI300X platform: 896 GB/s both ways = 448 GB/s a direction over 7 links, 64 GB/s a link; at 0.7072 a link
    moves 45.2608 GB/s; latency 3 us a hop.
    TP2 (1 link, 45.2608 GB/s): one-shot 3 us + 67,108,864 / 45.2608e9 = 3 + 1,482.715 = 1,485.715 us
        (it was 3 + 211.816 = 214.816 us at the whole chip's 316.8256 GB/s).
    TP4 (3 links, 135.7824 GB/s): two-shot 6 us + 2 x 3/4 x 67,108,864 / 135.7824e9 = 6 + 741.357 = 747.357 us
        (one-shot: 3 + 3 x 494.238 = 1,485.715 us).
    TP8 (7 links, 316.8256 GB/s): two-shot 6 us + 2 x 7/8 x 67,108,864 / 316.8256e9 = 6 + 370.679 = 376.679 us,
        as before."""
    system = catalog.system("mi300x-platform")
    times_us = [float(collective_s("all_reduce", BUFFER_BYTES, n, system, EFFICIENCY)) * 1e6 for n in (2, 4, 8)]
    assert times_us == pytest.approx([1485.715, 747.357, 376.679], abs=0.01)
    assert [collective_algorithm("all_reduce", BUFFER_BYTES, n, system, EFFICIENCY) for n in (2, 4, 8)] == \
        ["one-shot", "two-shot (reduce-scatter + all-gather)", "two-shot (reduce-scatter + all-gather)"]
    grid = collective_s("all_reduce", np.full(3, BUFFER_BYTES), np.array([2.0, 4.0, 8.0]), system, EFFICIENCY)
    assert list(grid * 1e6) == pytest.approx(times_us)


def test_a_switch_system_is_priced_as_before() -> None:
    """The same mesh rewired as a switch gives a pair the whole 316.8256 GB/s: 3 + 211.816 = 214.816 us."""
    system = dataclasses.replace(catalog.system("mi300x-platform"), scale_up_topology="switch")
    assert float(collective_s("all_reduce", BUFFER_BYTES, 2, system, EFFICIENCY)) * 1e6 == pytest.approx(214.816,
                                                                                                        abs=0.01)


def test_an_expert_all_to_all_over_part_of_the_mesh_has_its_links_only() -> None:
    """EP4 dispatch inside an MI300X platform: the bytes part takes 7/3 of what a switch of the same per-chip
    bandwidth needs (3 of 7 links), the hop the same."""
    mesh = catalog.system("mi300x-platform")
    switch = dataclasses.replace(mesh, scale_up_topology="switch")
    lat = mesh.scale_up_latency_s
    on_mesh, on_switch = (float(collective_s("all_to_all", BUFFER_BYTES, 4, s, EFFICIENCY, fanout=8.0)) - lat
                          for s in (mesh, switch))
    assert on_mesh == pytest.approx(on_switch * 7 / 3, rel=1e-9)


def test_groups_across_meshes_use_the_links_of_their_ranks_in_each() -> None:
    """TP16 over two platforms: 8 ranks a mesh, all 7 links, as before. A data-parallel group strided one rank a
    mesh sends nothing on scale-up: finite, and the same as on a switch."""
    mesh = catalog.system("mi300x-platform")
    switch = dataclasses.replace(mesh, scale_up_topology="switch")
    for kw in ({}, {"domain_ranks": 1.0}):
        t_mesh, t_switch = (float(collective_s("all_reduce", BUFFER_BYTES, 16, s, EFFICIENCY, **kw))
                            for s in (mesh, switch))
        assert np.isfinite(t_mesh) and t_mesh == pytest.approx(t_switch)
    # two ranks of a 4-rank strided group in each mesh: their in-mesh part runs over one link, slower than a switch
    t_mesh, t_switch = (float(collective_s("all_reduce", BUFFER_BYTES, 4, s, EFFICIENCY, domain_ranks=2.0))
                        for s in (mesh, switch))
    assert t_mesh > t_switch


def test_a_kv_hand_off_over_a_mesh_has_one_link_a_pair() -> None:
    """A disaggregated Llama-3.1-8B on one MI300X platform (tp 1 prefill and decode workers, each a chip): an 8,192-
    token prompt's KV, 8,192 x 131,072 B = 1,073,741,824 B, moves from one chip to one peer over the one Infinity
    Fabric link between them, 64 GB/s a direction (448 / 7): 16.78 ms plus the scale-out latency, where it was priced
    at the chip's whole 448 GB/s, 2.40 ms (regression tester fuzzFE 1)."""
    from parity.plan import Layout
    from parity.search import best_precision
    from parity.serving import engine_deployment
    from parity.step import kv_transfer_s
    model, system = catalog.model("llama-3.1-8b"), catalog.system("mi300x-platform")
    profile = catalog.engine_on(catalog.engine("generic"), system.chip.software_stack)
    precision = dataclasses.replace(best_precision(model, system.chip), kv_cache="bf16")  # 131,072 B a token
    dep = engine_deployment(model, system, Layout(tp=1), precision, catalog.calibration(system.chip), profile)
    moved_s = float(kv_transfer_s(dep, dep, 8192.0)) - system.scale_out_latency_s
    assert moved_s == pytest.approx(8192 * 131072 / 64e9, rel=1e-6)
