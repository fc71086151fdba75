"""Expert placement: slots per rank, EPLB's replicate-and-pack, the busiest rank's load, dual-die ranks."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parity import catalog
from parity.errors import InfeasiblePlan
from parity.hardware import per_die
from parity.placement import (ExpertPlacement, expert_popularity, pack_balanced, popularity_spread,
                              replicate_hot_experts, static_imbalance)
from parity.plan import Layout, Precision, weight_matrices_per_device
from parity.step import Deployment

from conftest import perfect_calibration


@pytest.mark.parametrize("experts,redundant,shared,ranks,slots", [
    (256, 32, 32, 320, 1),   # CloudMatrix384 decode: 256 routed + 32 redundant + 32 shared on 320 dies
    (256, 0, 0, 48, 6),      # 48 ranks: ceil(256 / 48) = 6 (5.33 on average)
    (256, 32, 0, 48, 6),     # ceil(288 / 48) = 6
    (256, 0, 0, 160, 2),     # ceil(256 / 160) = 2
    (256, 0, 0, 8, 32),
])
def test_slots_per_rank(experts: int, redundant: int, shared: int, ranks: int, slots: int) -> None:
    """slots = ceil((E + R + S) / n)."""
    assert ExpertPlacement(routed_experts=experts, ranks=ranks, redundant=redundant,
                           shared_replicas=shared).slots_per_rank == slots


def test_static_placement_keeps_the_engine_imbalance_and_adds_uneven_ranks() -> None:
    """Index order: 256 experts on 32 ranks (8 each) keep the fitted 1.2; on 48 ranks the ranks with
    ceil(256/48) = 6 experts carry 6 / 5.333 more: 1.2 x 6 x 48 / 256 = 1.35."""
    assert ExpertPlacement(routed_experts=256, ranks=32).imbalance(1.2) == pytest.approx(1.2)
    assert ExpertPlacement(routed_experts=256, ranks=48).imbalance(1.2) == pytest.approx(1.35)


def test_replicate_gives_each_replica_to_the_largest_load_per_replica() -> None:
    """Loads [4, 2, 1, 1], 2 replicas: expert 0 (4) gets one (4/2 = 2 each); then experts 0 and 1 tie at 2
    and the lower index wins, so expert 0 ends with 3 replicas."""
    assert replicate_hot_experts([4.0, 2.0, 1.0, 1.0], 2) == [3, 1, 1, 1]


def test_pack_balanced_puts_each_item_on_the_lightest_rank_with_room() -> None:
    """Items 2, 4/3 x 3, 1, 1 on 2 ranks of 3 slots: 2 -> r0; 4/3 -> r1; 4/3 -> r1 (8/3); 4/3 -> r0 (10/3);
    1 -> r1 (11/3, full); 1 -> r0 (13/3)."""
    assert pack_balanced([2.0, 4 / 3, 4 / 3, 4 / 3, 1.0, 1.0], 2, 3) == pytest.approx([13 / 3, 11 / 3])


def test_static_imbalance_and_spread_are_inverse() -> None:
    """1 + cv sqrt(2 ln n / g): cv 0.5 on 2 ranks of 2 experts -> 1 + 0.5 sqrt(ln 2) = 1.41628."""
    assert static_imbalance(0.5, 2, 2) == pytest.approx(1 + 0.5 * math.sqrt(math.log(2)))
    assert popularity_spread(static_imbalance(0.5, 2, 2), 2, 2) == pytest.approx(0.5)


def test_eplb_redundancy_lowers_the_busiest_rank_by_hand() -> None:
    """4 experts on 2 ranks, static imbalance 1 + 0.5 sqrt(ln 2) = 1.416, so cv 0.5 and loads
    1 + 0.5 z at the normal quantiles 7/8, 5/8, 3/8, 1/8: 1.5752, 1.1593, 0.8407, 0.4248 (sum 4).
    Two redundant replicas go to 1.5752 (-> 0.7876 x 2) and 1.1593 (-> 0.5797 x 2). Packing 3 slots a
    rank, heaviest first: 0.8407 r0, 0.7876 r1, 0.7876 r1 (1.5752), 0.5797 r0 (1.4204), 0.5797 r0
    (2.0000, full), 0.4248 r1 (2.0000): busiest 2.0000 over mean 2.0 = 1.000."""
    static = 1 + 0.5 * math.sqrt(math.log(2))
    loads = expert_popularity(4, 0.5)
    assert loads == pytest.approx([1.5752, 1.1593, 0.8407, 0.4248], abs=1e-4)
    placed = ExpertPlacement(routed_experts=4, ranks=2, redundant=2)
    assert placed.imbalance(static) == pytest.approx(1.0, abs=2e-4)
    assert ExpertPlacement(routed_experts=4, ranks=2).imbalance(static) == pytest.approx(1.41628, abs=1e-4)


@settings(max_examples=25, deadline=None)
@given(st.sampled_from([16, 32, 64]), st.integers(min_value=1, max_value=64))
def test_redundant_experts_never_raise_the_imbalance(ranks: int, redundant: int) -> None:
    """DeepSeek-V3 on n ranks at the fitted 1.2: EPLB with any R >= 1 replicas leaves the busiest rank
    between the mean and index order's 1.2 (packing is greedy, so a few more replicas may cost a little
    when they change the slots per rank; see the next test for the trend)."""
    placed = ExpertPlacement(routed_experts=256, ranks=ranks, redundant=redundant).imbalance(1.2)
    assert 1.0 <= placed <= 1.2


def test_imbalance_falls_as_replicas_fill_the_ranks() -> None:
    """256 experts on 64 ranks (4 a rank): one replica per rank (R = 64) leaves less imbalance than half a
    rank's worth (R = 32), which leaves less than none; with R = 256 (every expert twice) the hottest
    expert's load is halved and the packing comes within 1% of the mean."""
    values = [ExpertPlacement(routed_experts=256, ranks=64, redundant=r).imbalance(1.2) for r in (0, 32, 64, 256)]
    assert values[0] == pytest.approx(1.2)
    assert values[0] > values[1] > values[2] > values[3]
    assert values[3] < 1.01


def test_cloudmatrix_placement_one_expert_per_die() -> None:
    """256 routed + 32 redundant + 32 shared on 320 ranks: one slot each. Shared work is one
    expert-sized assignment a token (2048 wide like the routed experts), so the 32 shared dies carry
    T/32 and the 288 routed dies 8T/288 on average: busiest over mean >= 1 and below index order,
    which on 320 ranks leaves 64 idle and loads the others 320/256 = 1.25 x 1.2 = 1.5."""
    placed = ExpertPlacement(routed_experts=256, ranks=320, redundant=32, shared_replicas=32, shared_weight=1.0,
                             experts_per_token=8)
    assert placed.slots_per_rank == 1
    assert 1.0 <= placed.imbalance(1.2) < ExpertPlacement(routed_experts=256, ranks=320).imbalance(1.2) == \
        pytest.approx(1.5)


def test_per_die_splits_the_910c_package() -> None:
    """The 910C TOML states two dies: a die gets 800/2 = 400 TFLOP/s bf16, 128/2 = 64 GB, 3.2/2 = 1.6 TB/s;
    CloudMatrix384 becomes 768 ranks in one domain."""
    system = catalog.system("cloudmatrix-384")
    assert system.chip.dies == 2
    dies = per_die(system)
    assert (dies.chips, dies.scale_up_domain_chips) == (768, 768)
    assert dies.chip.peak("bf16") == pytest.approx(400e12)
    assert dies.chip.memory_bytes == pytest.approx(64e9)
    assert dies.chip.memory_bytes_per_s == pytest.approx(1.6e12)
    assert dies.chip.ranks_per_package == 2


def test_placed_deployment_stores_one_expert_per_die_and_counts_packages() -> None:
    """DeepSeek-R1 on 320 dies with EP320 + 32 redundant + 32 shared replicas in int8: each die holds one
    expert slot per MoE layer: 58 x (7168 x 2 x 2048 + 2048 x 7168) x 1 B = 58 x 44,040,192 = 2,554,331,136 B,
    and no shared-expert weights of its own; 320 ranks are 160 packages."""
    model = catalog.model("deepseek-r1")
    system = per_die(catalog.system("cloudmatrix-384"))
    dep = Deployment(model=model, system=system, precision=Precision(weights="int8", expert_weights="int8"),
                     layout=Layout(attn_dp=320, moe_ep=320, redundant_experts=32, shared_expert_replicas=32),
                     calibration=perfect_calibration(), expert_imbalance=1.2)
    roles = list(weight_matrices_per_device(model, dep.shard, dep.precision))
    assert sum(size for role, size in roles if role == "expert") == pytest.approx(2_554_331_136)
    assert dep.chips == 160
    assert dep.shard.slots == 1 and dep.shard.shared == 32


def test_placement_refusals_name_the_field() -> None:
    model = catalog.model("deepseek-r1")
    with pytest.raises(InfeasiblePlan, match="moe_ep must be at most the expert slots"):
        Layout(attn_dp=320, moe_ep=320).check(model)
    with pytest.raises(InfeasiblePlan, match="no experts to place"):
        Layout(tp=8, redundant_experts=8).check(catalog.model("llama-3.1-70b"))


def test_an_expert_group_that_misses_says_which_degree_was_derived() -> None:
    """Layout(tp=8, moe_tp=3) on Qwen3-235B: moe_ep is derived as 8 // 3 = 2, and 3 x 2 misses the 8 chips."""
    with pytest.raises(InfeasiblePlan, match=r"^moe_tp x moe_ep must equal tp x attn_dp \(8\), got 3 x 2 "
                                             r"\(moe_ep derived as 8 // 3\)$"):
        Layout(tp=8, moe_tp=3).check(catalog.model("qwen3-235b-a22b-fp8"))
    # a degree above the group: 8 // 16 is 0, clamped to 1 (report-only tester DC 6)
    with pytest.raises(InfeasiblePlan, match=r"^moe_tp x moe_ep must equal tp x attn_dp \(8\), got 1 x 16 "
                                             r"\(moe_tp derived as max\(1, 8 // 16\) = 1\)$"):
        Layout(tp=8, moe_ep=16).check(catalog.model("qwen3-235b-a22b-fp8"))
