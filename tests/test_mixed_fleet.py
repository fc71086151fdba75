"""Mixed fleets: disaggregated serving with the prefill workers on another kind of system."""

import dataclasses

import pytest
from conftest import perfect_calibration, round_system, tiny_model

from parity import catalog
from parity.plan import Layout, Precision
from parity.predict import predict_rows
from parity.serving import Workload, engine_deployment, serve_disaggregated


def _dep(system):
    return engine_deployment(tiny_model(), system, Layout(), Precision(), perfect_calibration(), catalog.engine(""))


def test_kv_moves_over_scale_out_between_two_systems() -> None:
    """Tiny model: a 1,000-token prompt's KV is 1,000 x 2 x 10 heads x 100 x 2 B = 4 MB. On one round node it
    moves over scale-up (100 GB/s: 40 us); from another system over scale-out (10 GB/s: 400 us), so TTFT
    grows by 360 us (one client: no queue to amplify it)."""
    other = dataclasses.replace(round_system(), id="round-b")
    w = Workload(isl=1000, osl=100, concurrency=1)
    same = serve_disaggregated(_dep(round_system()), _dep(round_system()), catalog.engine(""), w, 1, 1)
    mixed = serve_disaggregated(_dep(other), _dep(round_system()), catalog.engine(""), w, 1, 1)
    assert float(mixed.ttft_s - same.ttft_s) == pytest.approx(360e-6, rel=1e-3)
    assert "of round-b" in mixed.assumptions[0]


def test_h20_prefill_with_910c_decode_as_a_row() -> None:
    """H20 prefill workers (16 chips) beside CloudMatrix384 decode workers (16 910Cs, one rank per die, a case's
    default on a multi-die chip as serve's: 32 ranks): feasible, both chips counted."""
    row = {"model": "deepseek-r1", "system": "cloudmatrix-384", "prefill_system": "hgx-h20", "mode": "disagg",
           "weights": "int8", "kv": "bf16", "isl": 1024, "osl": 1024, "concurrency": 256, "prefill_tp": 8,
           "prefill_attn_dp": 2, "decode_attn_dp": 32, "decode_moe_ep": 32}
    (p,) = predict_rows([row])
    assert p.feasible, p.note
    assert p.chips == 32 and "hgx-h20" in p.note  # the H20 has its own calibration now: no flag for it
    (agg,) = predict_rows([{**row, "mode": "agg"}])
    assert not agg.feasible and "prefill_system needs mode disagg" in agg.note


def test_a_case_runs_a_multi_die_package_one_rank_per_die_unless_it_says() -> None:
    """predict priced a 910C row with no rank_per_die cell as one 128 GB device, flagged as a what-if, where serve's
    default (and CANN's, and the docs') is one rank per die: the same case gave 4 chips in predict and 2 in serve."""
    row = {"model": "llama-3.1-70b", "system": "atlas-800-a3", "isl": 1024, "osl": 1024, "concurrency": 8, "tp": 4}
    default, package = predict_rows([row, {**row, "rank_per_die": "false"}], model_kind="steady")
    assert (default.chips, package.chips) == (2, 4)
    assert default.extra["memory_bytes_per_die"] * 2 == default.memory_bytes_per_chip
    assert not any("package run as one device" in f.text for f in default.flags)
    assert any("package run as one device" in f.text for f in package.flags)
