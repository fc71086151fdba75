"""A tensor-parallel group wider than the scale-up domain runs its all-reduces over scale-out: flagged as outside
what was validated on a chip family no measured run had one on (DeepSeek-R1 at TP 16 on two H100 nodes is measured;
nothing on CDNA3)."""

from __future__ import annotations

import pytest

from parity import catalog
from parity.flags import texts
from parity.plan import Layout
from parity.uncertainty import case_flags
from parity.uncertainty.cases import _scale_out_tp

SPANS = ("tensor parallel over scale-out: a TP group of 16 spans 2 scale-up domains of 8 ranks on mi300x-platform, "
         "which no measured run on the cdna3 family did (measured on: hopper)")


def _flags(system: str, tp: int) -> list[str]:
    return texts(_scale_out_tp([(catalog.system(system), None)], [Layout(tp=tp)]))


def test_a_tp_group_over_scale_out_is_flagged_where_never_measured() -> None:
    assert "hopper" in catalog.scale_out_tp_families() and "cdna3" not in catalog.scale_out_tp_families()
    assert _flags("mi300x-platform", 16) == [SPANS]
    assert _flags("mi300x-platform", 8) == []  # within one system
    assert _flags("hgx-h100", 16) == []  # measured on two H100 nodes
    assert _flags("atlas-800-a3", 32) == [  # 16 die ranks a system
        "tensor parallel over scale-out: a TP group of 32 spans 2 scale-up domains of 16 ranks on atlas-800-a3, which "
        "no measured run on the davinci-910 family did (measured on: hopper)"]


@pytest.mark.e2e  # the first case_flags of a process reads every scored row's model (~1 s)
def test_case_flags_of_serve_compare_search_and_fleet_carry_it() -> None:
    flags = case_flags([(catalog.system("mi300x-platform"), None)], catalog.model("deepseek-r1"),
                       catalog.engine("generic"), [Layout(tp=16)])
    assert SPANS in texts(flags)
