"""How the catalog reads its sources: one capacity unit per vendor table, and vendor totals that differ from
parity's by a unit explained in the file."""

import pytest

from parity import catalog

GIB = 2**30


@pytest.mark.parametrize(("chip_id", "gib"), [("google-tpu-v4", 32), ("google-tpu-v5p", 95),
                                              ("google-tpu-v6e", 32), ("google-tpu7x", 192)])
def test_every_tpu_capacity_is_read_in_gib_as_google_s_table_states_it(chip_id: str, gib: int) -> None:
    """Google's TPU7x table gives v5p 95, v6e 32 and TPU7x 192 under 'HBM capacity per chip (GiB)', and the v4 page
    32 GiB; v5p and v6e were read as 95 and 32 decimal GB (their own pages' wording), TPU7x as GiB: one unit now."""
    assert catalog.chip(chip_id).memory_bytes == gib * GIB


def test_the_ironwood_pod_holds_1_90_pb_and_its_note_says_why_google_writes_1_77() -> None:
    """9,216 x 192 GiB = 1.900e15 B; Google's '1.77 PB' is 9,216 x 192 = 1,769,472 with the unit carried over."""
    pod = catalog.system("tpu7x-pod")
    assert pod.memory_bytes == 9216 * 192 * GIB == pytest.approx(1.900e15, rel=1e-3)
    assert "1.77 million GiB" in pod.notes and "1.90 PB" in pod.notes


def test_the_atlas_950_superpod_note_explains_huawei_s_1152_tb() -> None:
    """8,192 x 144 GB = 1,179.6 TB; Huawei's 1,152 TB = 8,192 x 144 / 1,024."""
    pod = catalog.system("atlas-950-superpod")
    assert pod.memory_bytes == pytest.approx(1.179648e15)
    assert "Huawei's 1,152 TB divides by 1,024 instead of 1,000" in pod.notes
