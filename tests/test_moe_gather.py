"""TensorRT-LLM's DeepGEMM fused-MoE backend under attention DP (engine.GATHERING_MOE_BACKENDS): with the experts
spread, every step all-gathers the group's tokens to every rank and reduce-scatters the outputs, no all-to-all."""

from __future__ import annotations

import pytest

from parity import catalog
from parity.ops import Batch
from parity.plan import Layout, Precision, Shard, device_step
from parity.predict import deployment, scenario_from_row


def _bytes(step, *names: str) -> float:
    """Bytes the named collectives move between ranks (a collective over a group of one moves nothing)."""
    return sum(float(c.bytes) for c in step.collectives if c.name in names and float(c.group) > 1)


def test_a_gathering_backend_moves_the_group_by_all_gather_instead_of_all_to_all() -> None:
    """DeepSeek-R1 (hidden 7,168) on attention DP 8 with the experts spread over 8 ranks, 96 decode tokens a rank
    in BF16 activations: gathered, each MoE layer all-gathers the group's 8 x 96 x 7,168 x 2 B = 11,010,048 B and
    reduce-scatters as many, and dispatches nothing; by default it dispatches and combines by all-to-all and
    gathers nothing. Without attention DP (TP 8) the setting changes nothing."""
    model = catalog.model("deepseek-r1")
    precision = Precision(weights="fp8", expert_weights="fp8", activations="bf16")
    batch = Batch(decode_tokens=96.0, decode_context=1500.0)
    moe_layers = sum(1 for layer in model.layers if type(layer.mlp).__name__ == "MoeMlp")
    assert 8 * 96 * 7168 * 2 == 11_010_048
    dep8 = Layout(tp=1, attn_dp=8, moe_tp=1, moe_ep=8)
    gathered = device_step(model, batch, Shard.of(dep8, moe_gather=True), precision)
    plain = device_step(model, batch, Shard.of(dep8), precision)
    assert _bytes(gathered, "moe_gather") / moe_layers == pytest.approx(11_010_048)
    assert _bytes(gathered, "moe_reduce") / moe_layers == pytest.approx(11_010_048)
    assert _bytes(gathered, "moe_dispatch", "moe_combine") == 0.0
    assert _bytes(plain, "moe_gather", "moe_reduce") == 0.0
    assert _bytes(plain, "moe_dispatch") > 0.0
    tp8 = Layout(tp=8, attn_dp=1, moe_tp=1, moe_ep=8)
    assert device_step(model, batch, Shard.of(tp8, moe_gather=True), precision).collectives == \
        device_step(model, batch, Shard.of(tp8), precision).collectives


def test_a_rows_deepgemm_workers_gather_and_the_others_do_not() -> None:
    """B200 FP8 1k/1k at 1,600 clients (srt-slurm recipe ctx1_gen2_dep8_batch768_eplb0_mtp2_1600: moe_config.backend
    DEEPGEMM on both sides, attention DP 8): prefill and decode workers gather; a B200 NVFP4 DEP row (CUTLASS, the
    row names no backend) keeps its all-to-all."""
    rows = {r["case_id"]: r for r in catalog.measurements()}
    fp8 = scenario_from_row(rows["2026_03_25_deepseek_r1_b200_sxm_trtllm_fp8_disagg_1024x1024_c1600_tp8_0_ep8_0_355"])
    assert fp8.moe_gather and fp8.decode_moe_gather
    assert deployment(fp8, fp8.decode_layout, decode=True).moe_gather
    assert deployment(fp8, fp8.layout).moe_gather
    fp4 = scenario_from_row(rows["dsr1_b200_trtllm_fp4_disagg_1024x1024_c4096_cfg309"])
    assert not (fp4.moe_gather or fp4.decode_moe_gather)
    assert not deployment(fp4, fp4.decode_layout, decode=True).moe_gather
