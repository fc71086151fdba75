"""FlashInfer's cuDNN FP4 GEMM building its plans for every new token count (parity.simulate.PlanBuilds): the cost
a prompt step pays, hand-checked on a made-up step table, the shapes a DeepSeek NVFP4 checkpoint has, and the rows
whose recipes launch it (the prefill_fp4_gemm column)."""

from __future__ import annotations

import dataclasses

import pytest

from parity import catalog
from parity.predict.case import case_from_row
from parity.simulate import (Benchmark, ClientProfile, PlanBuilds, StepTable, TraceRequest, cudnn_fp4_plan_builds,
                             run_aggregated, scheduler_of)
from parity.simulate.loop import Engine

FIXED = ClientProfile(id="test", num_prompts=1, range_ratio=1.0, source="test")
GRID = dict(batches=(0.0, 1.0, 2.0), contexts=(1.0, 1000.0, 10000.0), prefills=(0.0, 1000.0, 2000.0, 4000.0))
BUILDS = PlanBuilds(build_s=0.262, own_shapes=3, gathered_shapes=2)


def linear(b: float, c: float, p: float) -> float:
    """10 ms per step, 1 ms per decoding sequence, 0.01 ms per prompt token."""
    return 0.010 + 0.001 * b + 0.00001 * p


def scheduler(builds: PlanBuilds | None):
    """vLLM's profile (no overlap, no output lag, prompt steps apart from decodes) with plan builds."""
    engine = dataclasses.replace(catalog.engine("vllm"), max_num_tokens=4000, mixes_prefill=False,
                                 ttft_overhead_s=0.0, sim_first_token_steps=0.0)
    return dataclasses.replace(scheduler_of(engine, 1e6), plan_builds=builds)


def test_a_token_count_pays_its_builds_once() -> None:
    """Three requests far apart: 1,000 prompt tokens at 0 s, 1,000 at 2 s, 1,500 at 4 s (one rank, so a count is
    also the group's sum). The first step builds the 3 + 2 shapes, 5 x 262 = 1,310 ms on top of 10 + 10 ms: TTFT
    1.330 s; the second meets 1,000 again and builds nothing: 20 ms; the third a new count: 10 + 15 + 1,310 =
    1.335 s. Mean (1.330 + 0.020 + 1.335) / 3; without the policy 20, 20 and 25 ms. Decode steps pay nothing:
    each request's one decode step is 11 ms either way, so the E2E latency moves by the TTFT alone."""
    table = StepTable.of(linear, **GRID)
    trace = (TraceRequest(arrival_s=0.0, isl=1000, osl=2), TraceRequest(arrival_s=2.0, isl=1000, osl=2),
             TraceRequest(arrival_s=4.0, isl=1500, osl=2))
    bench = Benchmark(isl=1000, osl=2, concurrency=3, client=FIXED, trace=trace)
    built = run_aggregated(table, scheduler(BUILDS), bench)
    plain = run_aggregated(table, scheduler(None), bench)
    assert built.latency["ttft_s"] == pytest.approx((1.330 + 0.020 + 1.335) / 3)
    assert plain.latency["ttft_s"] == pytest.approx((0.020 + 0.020 + 0.025) / 3)
    assert built.latency["e2e_s"] - plain.latency["e2e_s"] == pytest.approx(2 * 1.310 / 3)


def test_each_rank_keeps_its_own_counts_and_the_group_its_sums() -> None:
    """Two attention-DP ranks. [1,000, idle]: rank 0's count and the sum 1,000 are new, 5 x 262 ms; [idle, 1,000]:
    rank 1 has not met 1,000 (3 x 262 ms), the group has met the sum; [1,000, 1,000]: only the sum 2,000 is new
    (2 x 262 ms); again: nothing. An idle rank runs none of these GEMMs."""
    engine = Engine(StepTable.of(linear, **GRID), scheduler(BUILDS), 2, "prefill", on_done=lambda r: None,
                    on_prefilled=lambda r: None)
    steps = ([1000.0, 0.0], [0.0, 1000.0], [1000.0, 1000.0], [1000.0, 1000.0])
    assert [engine._plan_build_s(s) for s in steps] == pytest.approx([5 * 0.262, 3 * 0.262, 2 * 0.262, 0.0])


def test_deepseek_r1_builds_three_shapes_on_its_own_tokens_and_two_on_the_groups() -> None:
    """DeepSeek-R1's FP4 linears (attention input projections excluded by the NVFP4 checkpoint): o_proj (16,384 x
    7,168, one shape for 61 layers), the 3 dense layers' gate_up (7,168 x 36,864) and down (18,432 x 7,168) on a rank's
    own tokens; the shared expert's gate_up (7,168 x 4,096) and down (2,048 x 7,168) on the gathered ones. A step that
    meets both a new count and a new sum: 5 x 262 = 1,310 ms."""
    builds = cudnn_fp4_plan_builds(catalog.model("deepseek-r1"))
    assert (builds.own_shapes, builds.gathered_shapes, builds.build_s) == (3, 2, 0.262)
    assert builds.step_s(True, True) == pytest.approx(1.310)
    assert builds.step_s(True, False) == pytest.approx(0.786) and builds.step_s(False, False) == 0.0
    with pytest.raises(ValueError, match="must be >= 0"):
        PlanBuilds(build_s=-1.0, own_shapes=3, gathered_shapes=2)


def test_the_cudnn_rows_are_the_1k1k_stp_nvfp4_recipes() -> None:
    """The import marks the rows whose recipes leave SGLang's --fp4-gemm-backend unset on the prefill workers under a
    -cu130 image (NVIDIA/srt-slurm 5063eb43 recipes/b200-fp4/1k1k/stp/*: auto, cuDNN under CUDA 13): the 5 InferenceX
    DeepSeek-R1 1k/1k STP runs (DEP 4 prefill, 16-256 clients) and the 2 results-database runs of the STP max-tpt
    recipes (512 clients, 1 and 2 DEP 8 decode workers); their MTP twins' recipes set flashinfer_trtllm."""
    rows = list(catalog.measurements("serving_aiconfigurator"))
    cudnn = [r for r in rows if r["prefill_fp4_gemm"] == "cudnn"]
    assert len(cudnn) == 7 and {r["prefill_fp4_gemm"] for r in rows} == {"", "cudnn"}
    assert {(r["engine"], r["system"], r["mode"], r["weights"], r["isl"], r["osl"], r["mtp_tokens"],
             r["prefill_attn_dp"]) for r in cudnn} == {("sglang", "hgx-b200", "disagg", "nvfp4", "1024", "1024", "",
                                                        "4")}
    assert sorted(int(r["concurrency"]) for r in cudnn) == [16, 32, 64, 128, 256, 512, 512]
    assert not any(r["split"] == "calibration" for r in cudnn)
    twins = [r for r in rows if r["engine"] == "sglang" and r["weights"] == "nvfp4" and r["mtp_tokens"]
             and r["isl"] == "1024" and r["prefill_attn_dp"] == "4"]
    assert twins and not any(r["prefill_fp4_gemm"] for r in twins)
    recipes = {r["recipe_path"]: r["prefill_fp4_gemm_backend"]
               for r in catalog.measurements("inferencex_sglang_recipes")}
    assert {v for k, v in recipes.items() if k.startswith("recipes/b200-fp4/1k1k/stp/")} == {""}
    assert {v for k, v in recipes.items() if k.startswith("recipes/b200-fp4/1k1k/mtp/")} == {"flashinfer_trtllm"}
    row = cudnn[0]
    assert case_from_row(row).prefill_fp4_gemm == "cudnn"
    assert case_from_row({**row, "mode": "agg"}).prefill_fp4_gemm == ""  # a prefill workers' setting
