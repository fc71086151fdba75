"""The ops an engine's model code issues in an eager prompt step (engine.HostOps, data/host_ops.toml, summed by
simulate.host_ops.prompt_step_ops) and the host floor they set on TensorRT-LLM's prompt steps: hand-counted
numbers."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parity import catalog
from parity.plan import Precision
from parity.predict import deployment, scenario_from_row, simulate_scenario
from parity.predict.simulated import benchmark_of, deployed_engine
from parity.simulate import simulate_aggregated
from parity.simulate.host_ops import prompt_step_ops
from parity.simulate.tables import prefill_launches, step_table

_PARTS = ("norm", "linear", "quantize", "attention", "qk_norm", "mla", "activation", "moe_routing", "moe_experts",
          "shared_add", "step")


def _row(case_id: str) -> dict[str, str]:
    return next(r for r in catalog.measurements() if r["case_id"] == case_id)


def test_tensorrt_llm_lists_its_ops_and_the_other_engines_none() -> None:
    """TensorRT-LLM's counts as read from its source: 1 op per norm, GEMM, quantisation and attention op, 2 for
    Qwen3's q/k norms, 4 more in an MLA context step, 1 activation, 3 before the experts and 1 for them, 1 add
    of the shared experts, 7 outside the layers. vLLM and SGLang are not listed (their floors count kernels)."""
    ops = catalog.host_ops("trtllm")
    assert ops is not None and ops.version.startswith("1.0")
    assert [getattr(ops, p) for p in _PARTS] == [1, 1, 1, 1, 2, 4, 1, 3, 1, 1, 7]
    assert "modeling_deepseekv3.py" in ops.source
    assert catalog.host_ops("vllm") is None and catalog.host_ops("sglang") is None


@pytest.mark.parametrize(("model", "weights", "ops"), [
    # 80 x (2 norms + qkv 2 + attention 1 + o_proj 1 + gate_up 2 + activation 1 + down 2 = 11) + 7
    ("llama-3.1-70b", "fp8", 887.0),
    # BF16: no quantisation; 32 x (2 + 1 + 1 + 1 + 1 + 1 + 1 = 8) + 7
    ("llama-3.1-8b", "bf16", 263.0),
    # q/k norms: 64 x (11 + 2) + 7
    ("qwen3-32b", "fp8", 839.0),
    # 3 dense layers: 2 norms + MLA (4 projections x 2 + attention 1 + its own 4 = 13) + MLP 5 = 20;
    # 58 MoE layers: 2 + 13 + routing 3 + experts 1 + shared MLP 5 + add 1 = 25; 3 x 20 + 58 x 25 + 7
    ("deepseek-v3", "fp8_block", 1517.0),
    # BF16 attention, MoE without shared experts: 36 x (2 + 3 + 4 = 9) + 7
    ("gpt-oss-120b", "bf16", 331.0),
])
def test_a_models_prompt_step_issues_the_hand_counted_ops(model: str, weights: str, ops: float) -> None:
    precision = Precision(weights=weights, expert_weights=weights)
    assert prompt_step_ops(catalog.model(model), precision, catalog.host_ops("trtllm")) == ops


def test_a_checkpoints_unquantized_projections_quantise_nothing() -> None:
    """nvidia/DeepSeek-V3.1-NVFP4 keeps q_a, q_b, kv_a and kv_b bf16: of the MLA projections only o_proj quantises
    (it read the whole attention and the dense MLPs bf16, 1,151 ops). 3 dense layers: 2 norms + MLA (q_a 1, q_b 1,
    kv_b 1, o 2, attention 1, its own 4 = 10) + MLP 5 = 17; 58 MoE layers: 2 + 10 + routing 3 + experts 1 + shared
    MLP 5 + add 1 = 22; 3 x 17 + 58 x 22 + 7 = 1,334."""
    model = catalog.model("deepseek-v3.1-nvfp4")
    own = Precision(weights="nvfp4", expert_weights="nvfp4", unquantized=model.unquantized_matrices)
    assert prompt_step_ops(model, own, catalog.host_ops("trtllm")) == 1334.0


def test_a_token_mixer_without_a_count_gives_none() -> None:
    """Qwen3-Next's Gated DeltaNet layers have no count read from the source: None (the floor then counts the
    step model's kernels)."""
    assert prompt_step_ops(catalog.model("qwen3-next-80b-a3b"), Precision(), catalog.host_ops("trtllm")) is None


@settings(max_examples=25, deadline=None)
@given(part=st.sampled_from(_PARTS), more=st.floats(min_value=0.5, max_value=5.0))
def test_more_ops_per_part_never_count_fewer(part: str, more: float) -> None:
    """Raising any part's count never lowers a model's total (every part enters with a non-negative weight)."""
    ops = catalog.host_ops("trtllm")
    model, precision = catalog.model("deepseek-v3"), Precision(weights="fp8_block", expert_weights="fp8_block")
    raised = dataclasses.replace(ops, **{part: getattr(ops, part) + more})
    assert prompt_step_ops(model, precision, raised) >= prompt_step_ops(model, precision, ops)


def test_a_negative_count_is_refused_with_its_name() -> None:
    with pytest.raises(ValueError, match="moe_routing"):
        dataclasses.replace(catalog.host_ops("trtllm"), moe_routing=-1.0)


def test_the_floor_on_a_deepseek_prompt_step_is_its_ops_times_the_host_time() -> None:
    """DeepSeek-R1 in FP8 on B200: a step with 512 prompt tokens at 45 us per op lasts 1,517 x 45 us = 68.265 ms
    (the device needs ~40 ms); the step model's 725 priced kernels would floor it at 32.625 ms, below the
    device's time, so without the source's count it keeps the device's. A decode-only step (CUDA graphs) is
    unchanged."""
    scenario = scenario_from_row(_row("dsr1_b200_trtllm_fp8_agg_1024x1024_c16_cfg177"))
    dep = deployment(scenario, scenario.layout)
    assert prefill_launches(dep, 2048.0) == pytest.approx(725.0)
    plain = step_table(dep, 8.0, 2048.0, 2048.0)
    floored = step_table(dep, 8.0, 2048.0, 2048.0, host_launch_s=45e-6, host_ops=1517.0)
    kernels = step_table(dep, 8.0, 2048.0, 2048.0, host_launch_s=45e-6)
    device = plain.time_s(4.0, 1000.0, 512.0)
    assert 0.032625 < device < 0.068265
    assert floored.time_s(4.0, 1000.0, 512.0) == pytest.approx(0.068265)
    assert kernels.time_s(4.0, 1000.0, 512.0) == pytest.approx(device)
    assert floored.time_s(4.0, 1000.0) == pytest.approx(plain.time_s(4.0, 1000.0))


def test_a_profile_that_opts_in_counts_the_sources_ops_and_others_the_step_models_kernels() -> None:
    """TensorRT-LLM's profile counts them (sim_host_ops true): simulate_scenario hands its counts to the aggregated
    simulation, so a DeepSeek NVFP4 run at 4 clients of 1,024 tokens gets the same result as simulate_aggregated
    with them, and a shorter TTFT without them (725 priced kernels instead of 1,517 ops, at the profile's 45 us per
    op). Opted out, the run is the one without them, to the bit."""
    assert catalog.engine("trtllm").sim_host_ops
    opted = scenario_from_row(_row("dsr1_b200_trtllm_fp4_agg_1024x1024_c4_cfg91"))
    scenario = opted.with_engine(dataclasses.replace(opted.engine, sim_host_ops=False))
    bench = benchmark_of(opted)
    engine = deployed_engine(opted, bench)
    dep = deployment(dataclasses.replace(opted, engine=engine), opted.layout)
    counted = simulate_aggregated(dep, engine, bench, host_ops=catalog.host_ops("trtllm"))
    assert simulate_scenario(opted).latency == counted.latency
    plain = simulate_aggregated(dep, engine, bench)
    assert plain.ttft_s < counted.ttft_s
    assert simulate_scenario(scenario).latency == plain.latency
