"""DeepEP's normal (high-throughput) kernels across nodes: the notify before each dispatch or combine, and an
engine that runs them at decode batches too (TensorRT-LLM's TRTLLM_FORCE_ALLTOALL_METHOD=DeepEP)."""

from __future__ import annotations

import dataclasses

import pytest

from parity import catalog
from parity.cost import collective_s
from parity.ops import Batch
from parity.plan import Layout, Precision, Shard, device_step
from parity.predict.case import case_from_row


def test_a_normal_all_to_all_across_nodes_pays_the_notify_once_per_call() -> None:
    """hgx-h100 states 160.81 us (deepseek-ai/DeepEP#397): a 16-rank normal dispatch of 16 tokens a rank
    (hidden 7168, FP8, top-8 plus a shared expert) costs that much more than with the notify at 0; the
    low-latency kernels and an all-to-all inside one node do not pay it."""
    h100 = catalog.system("hgx-h100")
    bare = dataclasses.replace(h100, normal_all_to_all_notify_s=0.0)
    size = 16 * 7168 * 1.0
    assert h100.normal_all_to_all_notify_s == pytest.approx(160.81e-6)
    extra = collective_s("all_to_all", size, 16, h100, 0.8, 9) - collective_s("all_to_all", size, 16, bare, 0.8, 9)
    assert float(extra) == pytest.approx(160.81e-6)
    for n, low_latency in ((16, True), (8, False)):
        assert float(collective_s("all_to_all", size, n, h100, 0.8, 9, low_latency=low_latency)) == pytest.approx(
            float(collective_s("all_to_all", size, n, bare, 0.8, 9, low_latency=low_latency)))


def test_a_row_that_forces_the_normal_kernels_dispatches_a_decode_batch_with_them() -> None:
    """16 decode tokens a rank under attention DP 16 go through the low-latency kernels unless the engine is
    told otherwise: the row flag sets EngineProfile.normal_all_to_all, the shard's normal_a2a turns them off."""
    row = {"model": "deepseek-r1", "system": "hgx-h100", "engine": "trtllm", "isl": "1024", "osl": "1024",
           "concurrency": "256", "attn_dp": "16", "moe_ep": "16", "normal_all_to_all": "true"}
    assert dict(case_from_row(row).engine_settings)["normal_all_to_all"] is True
    model = catalog.model("deepseek-r1")
    layout = Layout(tp=1, attn_dp=16, moe_ep=16)
    batch = Batch(decode_tokens=16.0, decode_context=1024.0)
    precision = Precision(weights="fp8", expert_weights="fp8")
    for normal, low_latency in ((False, True), (True, False)):
        step = device_step(model, batch, Shard.of(layout, normal_a2a=normal), precision)
        dispatch = next(c for c in step.collectives if c.name == "moe_dispatch")
        assert bool(dispatch.low_latency) is low_latency
