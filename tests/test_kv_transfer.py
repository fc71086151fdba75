"""The KV transfer from a prefill to a decode worker (step.kv_transfer_s): one formula for the steady model, the
simulator and search, checked by hand on DeepSeek-R1 (report-only tester DC 1)."""

from __future__ import annotations

import numpy as np
import pytest

from parity.plan import Layout, LayoutGrid
from parity.predict import Case, deployment, scenario_of
from parity.step import Deployment, kv_transfer_s

# DeepSeek-R1's MLA latent: 61 layers x (512 + 64) elements a token, whole on every tp rank
LATENT_ELEMENTS = 61 * 576
LATENCY_S = 4e-6  # the H200's and GB200's scale-out latency (catalog systems)


def _workers(**fields: object) -> tuple[Deployment, Deployment]:
    s = scenario_of(Case(model="deepseek-r1", mode="disagg", osl=1024, concurrency=1, **fields))  # type: ignore[arg-type]
    assert s.decode_layout is not None
    return deployment(s, s.layout, s.prefill_system), deployment(s, s.decode_layout, decode=True)


def test_a_single_gb200_rank_receives_at_its_own_scale_out_not_at_its_eight_senders() -> None:
    """8,192 tokens x 35,136 B (fp8 latent) = 287,834,112 B leave an 8-H200 prefill worker (8 x 50 GB/s = 400 GB/s
    out) for one GB200 decode rank (tp 1 of attention DP 16: one copy, 50 GB/s in): 287.8 MB / 50 GB/s = 5.757 ms
    + 4 us. It printed 0.72 ms: the senders' 400 GB/s, the receiver's link left out."""
    pre, dec = _workers(system="gb200-nvl72", prefill_system="hgx-h200", engine="trtllm", isl=8192,
                        layout=Layout(tp=8, moe_ep=8), decode_layout=Layout(tp=1, attn_dp=16, moe_ep=16))
    moved = 8192 * LATENT_ELEMENTS * 1
    assert moved == 287_834_112
    assert float(kv_transfer_s(pre, dec, 8192)) == pytest.approx(moved / 50e9 + LATENCY_S, rel=1e-12)
    assert float(kv_transfer_s(pre, dec, 8192)) * 1e3 == pytest.approx(5.7607, abs=1e-4)


def test_an_mla_latent_moves_once_for_every_tensor_parallel_decode_rank() -> None:
    """4,096 tokens x 70,272 B (bf16 latent) = 287.8 MB, to a tp-8 decode worker of 8 H200s on another node: each
    of the 8 ranks holds the whole latent, so 8 copies, 2,302,672,896 B, move at min(8 x 50, 8 x 50) GB/s =
    5.757 ms + 4 us, as the simulator printed; the steady model charged 0.72 ms (one copy over 8 senders)."""
    pre, dec = _workers(system="hgx-h200", engine="sglang", isl=4096, layout=Layout(tp=8, moe_ep=8),
                        decode_layout=Layout(tp=8, moe_ep=8))
    moved = 4096 * LATENT_ELEMENTS * 2 * 8
    assert moved == 2_302_672_896
    assert float(kv_transfer_s(pre, dec, 4096)) == pytest.approx(moved / 400e9 + LATENCY_S, rel=1e-12)


def test_a_layout_grid_prices_each_pair_as_one_layout_alone() -> None:
    """search's grids: the transfer of each (prefill, decode) pair of a grid is that of the pair priced alone, on
    scale-up where both workers fit one 72-chip NVL72 domain (1 + 32 ranks: 288 MB at 900 GB/s = 0.320 ms) and on
    scale-out where they do not (8 + 72 ranks)."""
    pre, dec = _workers(system="gb200-nvl72", engine="trtllm", isl=8192, layout=Layout(tp=1, attn_dp=8, moe_ep=8),
                        decode_layout=Layout(tp=1, attn_dp=32, moe_ep=32))
    alone = float(kv_transfer_s(pre, dec, 8192))
    assert alone == pytest.approx(8192 * LATENT_ELEMENTS / 900e9 + LATENCY_S, rel=1e-12)
    big = Layout(tp=1, attn_dp=72, moe_ep=72, moe_tp=1)
    grid = LayoutGrid.of([Layout(tp=1, attn_dp=32, moe_ep=32, moe_tp=1), big])
    both = kv_transfer_s(pre, Deployment(model=dec.model, system=dec.system, layout=grid, precision=dec.precision,
                                         calibration=dec.calibration), 8192)
    assert np.allclose(both, [alone, 8192 * LATENT_ELEMENTS / 50e9 + LATENCY_S], rtol=1e-12)
