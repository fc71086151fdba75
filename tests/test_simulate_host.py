"""The host's floor on eager prompt steps (simulate.tables.host_bound_s, EngineProfile.sim_prefill_host_launch_s):
hand-checked numbers, the step table, and where the simulator applies it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from parity import catalog
from parity.predict import deployment, scenario_from_row, simulate_scenario
from parity.simulate.tables import host_bound_s, prefill_launches, step_table


def _row(case_id: str) -> dict[str, str]:
    return next(r for r in catalog.measurements() if r["case_id"] == case_id)


def test_a_host_bound_step_lasts_as_long_as_its_host_issues_kernels() -> None:
    """600 launches at 50 us each: the host needs 600 x 50 us = 30 ms, so a step the device runs in 20 ms
    takes 30 ms and one it runs in 50 ms stays 50 ms; no host time (0 us): the device's time."""
    assert host_bound_s(0.020, 600.0, 50e-6) == pytest.approx(0.030)
    assert host_bound_s(0.050, 600.0, 50e-6) == pytest.approx(0.050)
    assert host_bound_s(0.020, 600.0, 0.0) == pytest.approx(0.020)
    assert np.allclose(host_bound_s(np.array([0.010, 0.040]), 600.0, 50e-6), [0.030, 0.040])


def test_the_table_floors_prompt_steps_at_the_hosts_time_and_leaves_decode_steps() -> None:
    """step_table with host_launch_s = 1 ms on gpt-oss-120b (TP 8, B200): a step with 512 prompt tokens, which
    the device runs in well under launches x 1 ms, takes exactly launches x 1 ms (prefill_launches: the step
    priced at 1 s per kernel less at 0 s); a decode-only step (CUDA graphs) is unchanged, and so is every
    step at 1 ns per launch (the device's time is the longer)."""
    scenario = scenario_from_row(_row("2026_04_06_gpt_oss_120b_b200_sxm_trtllm_fp4_agg_1024x1024_c4_tp8_ep1_437"))
    dep = deployment(scenario, scenario.layout)
    plain = step_table(dep, 8.0, 2048.0, 2048.0)
    host = step_table(dep, 8.0, 2048.0, 2048.0, host_launch_s=1e-3)
    tiny = step_table(dep, 8.0, 2048.0, 2048.0, host_launch_s=1e-9)
    launches = prefill_launches(dep, 2048.0)
    assert launches > 100  # a transformer step launches hundreds of kernels
    assert plain.time_s(4.0, 1000.0, 512.0) < launches * 1e-3
    assert host.time_s(4.0, 1000.0, 512.0) == pytest.approx(launches * 1e-3)
    assert host.time_s(4.0, 1000.0) == pytest.approx(plain.time_s(4.0, 1000.0))
    assert tiny.time_s(4.0, 1000.0, 512.0) == pytest.approx(plain.time_s(4.0, 1000.0, 512.0))


def test_the_host_floor_shapes_aggregated_runs_and_not_disaggregated_ones() -> None:
    """TensorRT-LLM's profile sets the floor (45 us per op its model code issues). An aggregated gpt-oss-120b run
    at 4 clients (TP 8: the device prefills 1,024 tokens in ~9 ms, the host needs 331 ops x 45 us = 15 ms) gets a
    longer TTFT with it than without; a disaggregated DeepSeek run is the same to the bit without it and with
    1 ms per launch (a 0.6 s floor over every prompt step, were it applied): its prefill workers' prompt time
    is fitted as a whole (sim_disagg_prefill_scale)."""
    trtllm = catalog.engine("trtllm")
    assert trtllm.sim_prefill_host_launch_s == pytest.approx(45e-6) and trtllm.sim_host_ops
    without = dataclasses.replace(trtllm, sim_prefill_host_launch_s=0.0)
    agg = scenario_from_row(_row("2026_04_06_gpt_oss_120b_b200_sxm_trtllm_fp4_agg_1024x1024_c4_tp8_ep1_437"))
    assert simulate_scenario(agg).ttft_s > simulate_scenario(agg.with_engine(without)).ttft_s
    disagg = scenario_from_row(_row("dsr1_b200_trtllm_fp8_disagg_8192x1024_c1_cfg556"))
    slow_host = dataclasses.replace(trtllm, sim_prefill_host_launch_s=1e-3)
    assert (simulate_scenario(disagg.with_engine(slow_host)).latency
            == simulate_scenario(disagg.with_engine(without)).latency)


def test_the_host_time_per_launch_is_checked() -> None:
    """A host time per launch outside [0, 1 ms] is refused with the field's name."""
    with pytest.raises(ValueError, match="sim_prefill_host_launch_s"):
        dataclasses.replace(catalog.engine("trtllm"), sim_prefill_host_launch_s=2e-3)


def test_vllm_replays_prompt_steps_unless_the_row_runs_them_eagerly() -> None:
    """vLLM replays piecewise graphs for prompt steps by default (sim_eager_prefill False), so its host floor
    (130 us per launch) leaves an H100 Llama-3.1-70B run as it is without it; InferenceX's B200 runs state
    cudagraph_mode FULL_DECODE_ONLY (eager_prefill 1), and there the floor lengthens TTFT."""
    vllm = catalog.engine("vllm")
    assert not vllm.sim_eager_prefill and vllm.sim_prefill_host_launch_s == pytest.approx(130e-6)
    without = dataclasses.replace(vllm, sim_prefill_host_launch_s=0.0)
    graphs = scenario_from_row(_row("2026_04_06_llama_3_1_70b_h100_sxm_vllm_fp8_agg_1024x8192_c4_tp4_ep1_265"))
    assert not graphs.engine.sim_eager_prefill
    assert simulate_scenario(graphs).latency == simulate_scenario(graphs.with_engine(without)).latency
    eager = scenario_from_row(_row("2026_04_06_llama_3_1_70b_b200_sxm_vllm_fp4_agg_1024x8192_c4_tp8_ep1_328"))
    assert eager.engine.sim_eager_prefill
    off = dataclasses.replace(eager.engine, sim_prefill_host_launch_s=0.0)
    assert simulate_scenario(eager).ttft_s > simulate_scenario(eager.with_engine(off)).ttft_s


def test_vllms_own_server_costs_less_before_the_first_token_than_behind_dynamo() -> None:
    """InferenceX runs `vllm serve` itself (its front end: 10 ms before the engine sees a request, fitted with
    the host floor); aiconfigurator's rows go through Dynamo's front end and keep the profile's 30 ms."""
    from parity.predict.simulated import benchmark_of, deployed_engine
    inferencex = scenario_from_row(_row("2026_04_06_llama_3_1_70b_h100_sxm_vllm_fp8_agg_1024x8192_c4_tp4_ep1_265"))
    assert deployed_engine(inferencex, benchmark_of(inferencex)).ttft_overhead_s == pytest.approx(0.010)
    dynamo = scenario_from_row(_row("qwen_qwen3_32b_qwen_qwen3_32b_h100_sxm_vllm_agg_1024x128_c8_tp2_epnone_1"))
    assert deployed_engine(dynamo, benchmark_of(dynamo)).ttft_overhead_s == pytest.approx(
        catalog.engine("vllm").ttft_overhead_s)
    assert catalog.engine("vllm").ttft_overhead_s == pytest.approx(0.030, abs=1e-3)


def test_a_refit_profile_keeps_the_host_floor_and_where_it_applies() -> None:
    """`parity validate --fit` writes a profile back as TOML: vLLM's 130 us per launch and its graph-replayed
    prompt steps (sim_eager_prefill false), and TensorRT-LLM's 45 us, come back as they went."""
    import tomllib

    from parity.catalog.engine_file import flat_keys
    from parity.validate import engine_toml
    for name, host_s, eager in (("vllm", 130e-6, False), ("trtllm", 45e-6, True)):
        data = flat_keys(tomllib.loads(engine_toml(catalog.engine(name), 100, 0.2, 0.1, "2026-12-03")))
        assert data["sim_prefill_host_launch"] == f"{host_s * 1e6:.3f} us"
        assert data.get("sim_eager_prefill", True) is eager


def test_an_attention_dp_decode_step_lasts_at_least_its_tokens_host_time() -> None:
    """The decode floor (EngineProfile.decode_host_token_s): a B200 NVFP4 DEP 8 decode worker at 1 ms per token
    (a what-if, far above the fitted 90 us) takes 1 ms x 64 = 64 ms for a step of 64 sequences, which the device
    runs in well under that, and 1 ms x 64 x 4 = 256 ms for the same sequences with 3 MTP drafts each (4 tokens a
    sequence verified); at 1 ns per token the device's time stands. A worker without attention DP (TP 8) is
    unchanged at 1 ms per token."""
    scenario = scenario_from_row(_row("dsr1_b200_trtllm_fp4_disagg_1024x1024_c4096_cfg309"))
    dep = deployment(scenario, scenario.decode_layout, decode=True)
    assert int(dep.layout.attn_dp) == 8 and dep.mtp_tokens == 0
    plain = step_table(dep, 512.0, 2048.0, 0.0)
    floored = step_table(dep, 512.0, 2048.0, 0.0, decode_host_token_s=1e-3)
    tiny = step_table(dep, 512.0, 2048.0, 0.0, decode_host_token_s=1e-9)
    assert plain.decode_time_s(64.0, 1500.0) < 0.064
    assert floored.decode_time_s(64.0, 1500.0) == pytest.approx(0.064)
    assert tiny.decode_time_s(64.0, 1500.0) == pytest.approx(plain.decode_time_s(64.0, 1500.0))
    mtp = dataclasses.replace(dep, mtp_tokens=3, mtp_acceptance=1.82)
    assert step_table(mtp, 512.0, 2048.0, 0.0, decode_host_token_s=1e-3).decode_time_s(64.0, 1500.0) == \
        pytest.approx(0.256)
    tp = scenario_from_row(_row("dsr1_b200_trtllm_fp8_disagg_8192x1024_c1_cfg556"))
    tp_dep = deployment(tp, tp.decode_layout, decode=True)
    assert int(tp_dep.layout.attn_dp) == 1
    assert step_table(tp_dep, 64.0, 9000.0, 0.0, decode_host_token_s=1e-3).decode_time_s(32.0, 8500.0) == \
        pytest.approx(step_table(tp_dep, 64.0, 9000.0, 0.0).decode_time_s(32.0, 8500.0))


def test_tensorrt_llms_decode_floor_lengthens_a_large_attention_dp_batch() -> None:
    """TensorRT-LLM's profile sets 90 us per decode token (fitted on the B200 NVFP4 DEP calibration rows): gpt-oss-120b
    on a B200 worker of attention DP 2 at 256 clients (128 a rank) decodes slower with it than without (the device's
    step at 128 a rank is shorter than 128 x 90 us = 11.5 ms); a value above 1 ms is refused with the field's name,
    and a refit profile writes it back."""
    import tomllib

    from parity.catalog.engine_file import flat_keys
    from parity.validate import engine_toml
    trtllm = catalog.engine("trtllm")
    assert trtllm.decode_host_token_s == pytest.approx(90e-6)
    row = scenario_from_row(_row("2026_03_25_gpt_oss_120b_b200_sxm_trtllm_fp4_agg_1024x1024_c256_tp2_0_ep2_0_1009"))
    assert int(row.layout.attn_dp) == 2
    without = dataclasses.replace(trtllm, decode_host_token_s=0.0)
    assert simulate_scenario(row).tpot_s > 1.1 * simulate_scenario(row.with_engine(without)).tpot_s
    with pytest.raises(ValueError, match="decode_host_token_s"):
        dataclasses.replace(trtllm, decode_host_token_s=2e-3)
    data = flat_keys(tomllib.loads(engine_toml(trtllm, 100, 0.2, 0.1, "2026-12-04")))
    assert data["decode_host_token"] == "90.000 us"


def test_the_decode_floor_is_among_a_simulated_predictions_assumptions() -> None:
    """Where the floor applies (an attention-DP worker) the step table says so in words, with the value and the
    token it counts (a sequence, or a sequence's 1 + MTP drafts); a worker without attention DP says nothing of it,
    and a simulated TensorRT-LLM row of attention DP 2 carries the sentence in its notes."""
    scenario = scenario_from_row(_row("dsr1_b200_trtllm_fp4_disagg_1024x1024_c4096_cfg309"))
    dep = deployment(scenario, scenario.decode_layout, decode=True)
    assert step_table(dep, 512.0, 2048.0, 0.0).notes == ()
    (note,) = step_table(dep, 512.0, 2048.0, 0.0, decode_host_token_s=90e-6).notes
    assert "at least 90 us a sequence of its rank" in note
    mtp = dataclasses.replace(dep, mtp_tokens=3, mtp_acceptance=1.82)
    (note,) = step_table(mtp, 512.0, 2048.0, 0.0, decode_host_token_s=90e-6).notes
    assert "at least 90 us a decode token (a sequence's 1 + MTP drafts) of its rank" in note
    tp = scenario_from_row(_row("dsr1_b200_trtllm_fp8_disagg_8192x1024_c1_cfg556"))
    assert step_table(deployment(tp, tp.decode_layout, decode=True), 64.0, 9000.0, 0.0,
                      decode_host_token_s=90e-6).notes == ()
    row = scenario_from_row(_row("2026_03_25_gpt_oss_120b_b200_sxm_trtllm_fp4_agg_1024x1024_c256_tp2_0_ep2_0_1009"))
    assert any("attention-DP decode step lasts at least 90 us" in n for n in simulate_scenario(row).assumptions)
