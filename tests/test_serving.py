"""The serving model: monotone in load, feasible or a reason for any input, and disaggregation."""

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parity import catalog
from parity.predict import CASE_COLUMNS, predict_rows, scenario_from_row
from parity.serving import Workload, mean_length, prompt_group_size, serve_aggregated
from parity.predict import deployment
from parity.validate import case_errors, fit_loss, scenarios_of

# this module's examples per property, on its own tests only (a loaded profile would set every module's)
EXAMPLES = settings(max_examples=30, deadline=None)

CASES = [
    dict(model="llama-3.1-8b", system="hgx-h100", engine="trtllm", weights="fp8", tp=1),
    dict(model="llama-3.1-70b", system="hgx-b200", engine="vllm", weights="fp8", tp=4),
    dict(model="qwen3-32b", system="hgx-h100", engine="sglang", tp=2),
    dict(model="deepseek-r1", system="hgx-b200", engine="trtllm", weights="nvfp4", tp=1, attn_dp=8, moe_ep=8),
    dict(model="gpt-oss-120b", system="hgx-b200", engine="trtllm", tp=2),
]


def predicted(case: dict, isl: float, osl: float, concurrency: np.ndarray, **engine: float):
    s = scenario_from_row({**case, "isl": isl, "osl": osl, "concurrency": 1, **engine})
    return serve_aggregated(deployment(s, s.layout), s.engine, Workload(isl=isl, osl=osl, concurrency=concurrency))


@pytest.mark.e2e  # over 1.5 s: the end-to-end tier keeps the default run under a minute
@EXAMPLES
@given(case=st.sampled_from(CASES), isl=st.sampled_from([128, 1024, 4096, 8192]), osl=st.sampled_from([128, 1024]))
def test_ttft_and_tpot_never_fall_as_concurrency_grows(case: dict, isl: int, osl: int) -> None:
    """More clients never make a token come sooner. Two exceptions, on purpose: an engine that holds prompts
    until every attention-DP rank has one (TensorRT-LLM's balancing) holds them less under more load, as
    measured (DeepSeek-R1 fp8 DEP8, 1024/1024: TTFT 1.81 s at 128 clients, 1.40 s at 256), and so does one
    that batch-waits (more prompts share each window); there TPOT still never falls, and TTFT never falls
    with neither, with or without a scheduler that takes requests every 30 steps."""
    concurrency = np.array([1, 2, 4, 8, 16, 32, 64, 128, 256], float)
    waits = ({"attention_dp_hold_steps": 60.0}, {"attention_dp_hold_steps": 0.0},
             {"attention_dp_hold_steps": 0.0, "scheduler_recv_interval": 30.0},
             {"attention_dp_hold_steps": 0.0, "batch_wait_timeout_iters": 20.0, "batch_wait_max_tokens_ratio": 0.9})
    for engine in waits:
        r = predicted(case, isl, osl, concurrency, **engine)
        ok = np.asarray(r.feasible)
        if engine["attention_dp_hold_steps"] == 0.0 and "batch_wait_timeout_iters" not in engine:
            assert np.all(np.diff(r.ttft_s[ok]) >= -1e-9 * r.ttft_s[ok][1:]), engine
        assert np.all(np.diff(r.tpot_s[ok]) >= -1e-9 * r.tpot_s[ok][1:])


@EXAMPLES
@given(case=st.sampled_from(CASES), concurrency=st.sampled_from([1, 4, 32, 128]), osl=st.sampled_from([128, 1024]))
def test_ttft_and_tpot_never_fall_as_prompts_grow(case: dict, concurrency: int, osl: int) -> None:
    """Longer prompts never make a token come sooner; the lengths are one array, as search prices them. TPOT
    only while every client's sequence fits the KV cache: past that, clients queue for a slot and the fewer
    sequences decoding step faster (Qwen3-32B on two H100s under SGLang, 32 clients of 16,384 tokens: about 8
    decode at once, TPOT 85 ms against 86 ms at 8,192 tokens, while TTFT grows from 9.6 s to 37 s)."""
    lengths = np.array([128, 512, 1024, 2048, 4096, 8192, 16384], float)
    s = scenario_from_row({**case, "isl": 1024, "osl": osl, "concurrency": 1})
    r = serve_aggregated(deployment(s, s.layout), s.engine,
                         Workload(isl=lengths, osl=osl, concurrency=np.full(lengths.shape, float(concurrency))))
    ok = np.asarray(r.feasible)
    ttft, tpot = np.asarray(r.ttft_s)[ok], np.asarray(r.tpot_s)[ok]
    assert np.all(ttft[1:] >= ttft[:-1] * (1 - 1e-9))
    clients = concurrency / float(s.layout.resolved().attn_dp)  # per attention-DP rank
    held = (np.asarray(r.memory.kv_token_capacity) >= clients * (lengths + osl))[ok]
    tpot = tpot[held]
    assert np.all(tpot[1:] >= tpot[:-1] * (1 - 1e-9))


def test_throughput_is_little_law_consistent() -> None:
    """Clients = request rate x (TTFT + (osl-1) TPOT); output tokens/s = rate x osl."""
    case = CASES[1]
    r = predicted(case, 1024, 512, np.array([64.0]))
    rate = r.output_tokens_per_s[0] / 512
    assert rate * (r.ttft_s[0] + 511 * r.tpot_s[0]) == pytest.approx(64.0, rel=1e-3)


def test_prompt_groups_follow_the_step_budget() -> None:
    profile = catalog.engine("trtllm")
    assert prompt_group_size(profile, 8192 * 2, 64) == 1.0
    most = math.floor(profile.max_num_tokens / 1024)
    assert prompt_group_size(profile, 1024, 1) == 1.0
    assert prompt_group_size(profile, 1024, 64) == pytest.approx(1 + profile.arrival_sync * (most - 1))


def test_disaggregated_prefill_does_not_slow_decode() -> None:
    """With separate prefill workers TPOT is the decode step alone, below the aggregated TPOT under load."""
    base = {"model": "llama-3.1-70b", "system": "hgx-h100", "engine": "trtllm", "weights": "fp8", "isl": 4096,
            "osl": 512, "concurrency": 64}
    agg, disagg = predict_rows([{**base, "tp": 8}, {**base, "mode": "disagg", "prefill_tp": 8, "decode_tp": 8,
                                                   "prefill_workers": 2, "decode_workers": 1}])
    assert agg.feasible and disagg.feasible
    assert disagg.tpot_s < agg.tpot_s
    assert disagg.chips == 24 and agg.chips == 8


def test_a_decode_batch_limit_queues_the_clients_beyond_it() -> None:
    """decode_batch caps the sequences a decode rank runs (the recipe's max_batch_size): clients beyond the
    slots wait, and their prefill runs inside that wait (TTFT = clients without a slot / rate, Little's
    law), so TTFT is the larger of the prefill path and the slot queue; a cap above the clients changes
    nothing."""
    base = {"model": "llama-3.1-70b", "system": "hgx-h100", "engine": "trtllm", "weights": "fp8", "isl": 1024,
            "osl": 512, "concurrency": 96, "mode": "disagg", "prefill_tp": 8, "decode_tp": 8,
            "prefill_workers": 1, "decode_workers": 2}
    free, roomy, tight = predict_rows([base, {**base, "decode_batch": 64}, {**base, "decode_batch": 32}])
    assert roomy.ttft_s == free.ttft_s and roomy.tpot_s == free.tpot_s
    rate = tight.output_tokens_per_s_per_chip * tight.chips / 512  # requests per second
    assert rate * 511 * tight.tpot_s == pytest.approx(64, rel=0.02)  # 2 workers x 32 slots, all decoding
    assert rate * (tight.ttft_s + 511 * tight.tpot_s) == pytest.approx(96, rel=1e-3)  # closed loop
    assert tight.ttft_s == pytest.approx((96 - 64) / rate, rel=0.05)
    assert tight.ttft_s > free.ttft_s and tight.tpot_s < free.tpot_s


def test_a_model_too_big_for_the_node_says_by_how_much() -> None:
    (p,) = predict_rows([{"case_id": "x", "model": "deepseek-r1", "system": "hgx-h100", "isl": 1024, "osl": 128,
                          "concurrency": 8, "tp": 8}])
    assert not p.feasible and p.note.startswith("does not fit: one request alone needs") and "weights" in p.note


def test_layouts_that_do_not_divide_the_model_are_refused_with_the_reason() -> None:
    (p,) = predict_rows([{"model": "llama-3.1-70b", "system": "hgx-h100", "isl": 1024, "osl": 128,
                          "concurrency": 8, "tp": 3}])
    assert not p.feasible and "tp must divide num_attention_heads (64), got 3" in p.note


cells = st.one_of(st.none(), st.just(""), st.integers(-3, 10000).map(str), st.sampled_from(
    ["fp8", "nvfp4", "bf16", "int4", "mxfp4", "fp8_block", "agg", "disagg", "trtllm", "vllm", "sglang", "junk",
     "llama-3.1-8b", "deepseek-r1", "qwen3-235b-a22b-fp8", "hgx-h100", "cloudmatrix-384", "h20", "1.5", "nan"]))


OPTIONAL_COLUMNS = ("attention_dp_hold_steps", "max_num_tokens", "moe_overlap", "mtp_tokens", "mtp_acceptance",
                    "random_range_ratio", "batch_wait_timeout_iters", "batch_wait_max_tokens_ratio",
                    "scheduler_recv_interval")


@settings(max_examples=150, deadline=None)
@given(st.fixed_dictionaries({column: cells for column in CASE_COLUMNS},
                             optional={column: cells for column in OPTIONAL_COLUMNS}))
@pytest.mark.e2e  # over 1.5 s: the end-to-end tier keeps the default run under a minute
def test_any_row_ends_in_numbers_or_a_reason(row: dict) -> None:
    (p,) = predict_rows([row])
    if p.feasible:
        assert p.ttft_s > 0 and p.tpot_s > 0 and p.output_tokens_per_s_per_chip > 0
    else:
        assert p.note


def test_multi_token_prediction_speeds_up_a_lone_user() -> None:
    """DeepSeek-R1 at concurrency 1: MTP with 3 drafts and 1.8 accepted per step is faster per token
    than plain decoding but less than 2.8x (drafting and verifying cost time); a model without MTP
    layers refuses it."""
    base = {"model": "deepseek-r1", "system": "hgx-b200", "engine": "trtllm", "weights": "nvfp4", "isl": 1024,
            "osl": 2048, "concurrency": 1, "tp": 8, "moe_tp": 4, "moe_ep": 2}
    plain, mtp = predict_rows([base, {**base, "mtp_tokens": 3, "mtp_acceptance": 1.8}])
    assert 1.5 < plain.tpot_s / mtp.tpot_s < 2.8
    (bad,) = predict_rows([{**base, "model": "llama-3.1-8b", "tp": 1, "moe_tp": "", "moe_ep": "", "mtp_tokens": 2}])
    assert not bad.feasible and "no multi-token-prediction layers" in bad.note


@pytest.mark.validation
def test_memory_model_agrees_with_every_published_deployment(targets: dict) -> None:
    """Where published deployments run (and where they are said to need more chips), parity agrees
    (targets.toml [deployments]); the table with its sources and margins is tests/test_deployments.py."""
    from parity.validate import deployment_checks

    checks = deployment_checks(catalog.measurements("deployments_published"))
    t = targets["deployments"]
    assert len(checks) == t["rows"]
    assert sum(c.agrees for c in checks) >= t["agreeing"], [c.case_id for c in checks if not c.agrees]
    h20 = next(c for c in checks if c.case_id == "D07-h20-fp8-8")
    assert 0 < h20.margin_bytes_per_chip < 10e9  # one 8 x H20 node holds FP8 DeepSeek-R1, with little room


def test_repeat_runs_measure_the_floor_under_any_model() -> None:
    """Two runs of identical inputs: each predicts the other within |a/b - 1|; the data's own repeats."""
    from parity.crosscheck import repeat_spread

    row = {"case_id": "a", "model": "qwen3-32b", "system": "hgx-h100", "engine": "vllm", "mode": "agg", "isl": "1024",
           "osl": "128", "concurrency": "8", "tp": "2", "measured_ttft_s": "1.0", "measured_tpot_s": "0.01"}
    other = {**row, "case_id": "b", "measured_ttft_s": "1.5"}
    elsewhere = [{**row, "case_id": "c", "isl": "2048"}, {**row, "case_id": "d", "engine_version": "0.5.9"}]
    spread = {(s.metric, dict(s.group)["mode"]): s for s in repeat_spread([row, other, *elsewhere])}
    assert spread[("ttft_s", "agg")].count == 2  # c ran other work, d another engine version
    assert spread[("ttft_s", "agg")].median_abs_error == pytest.approx((0.5 + 1 / 3) / 2)
    assert spread[("tpot_s", "agg")].median_abs_error == 0.0
    shipped = {(s.metric, dict(s.group)["mode"]): s for s in repeat_spread(catalog.measurements())}
    # 188 + the 5 B200 8k/1k twins matched past their EP cells, both ways, - 2: SGLang 0.5.6 and 0.5.9 runs of one
    # B200 FP8 configuration are two configurations, - 2: B200 FP4 disaggregated 8k/1k at 128 clients on InferenceX's
    # MTP image (MTP-2, its recipe) and on its STP image are two
    assert shipped[("ttft_s", "all")].count == 194
    assert shipped[("ttft_s", "all")].median_abs_error == pytest.approx(0.1482, abs=0.002)
    assert shipped[("tpot_s", "all")].median_abs_error == pytest.approx(0.2021, abs=0.002)
    # runs whose deployment InferenceX's configuration gives repeat within a few percent
    assert shipped[("tpot_s", "disagg")].median_abs_error < 0.03


@pytest.mark.validation
def test_validate_scores_only_never_fitted_rows_and_meets_the_targets(targets: dict,
                                                                      simulated_predictions: list) -> None:
    """`parity validate`'s serving section (the simulator's predictions the validation tier makes once): scores
    per engine version, calibration rows left out, TPOT and TTFT medians within the targets stored beside the
    data (targets.toml [serving])."""
    from click.testing import CliRunner

    from parity.cli import cli
    from parity.cli.validate_payload import validation_payload

    _, payload, _ = validation_payload(catalog.measurements(), simulated_predictions, ["engine", "engine_version"],
                                       "serving", "sim", 2)
    overall = {s["metric"]: s for s in payload["scores"] if s["engine"] == "all scored"}
    t = targets["serving"]
    assert overall["tpot_s"]["median_abs_error"] <= t["tpot_median_abs_error_max"]
    assert overall["ttft_s"]["median_abs_error"] <= t["ttft_median_abs_error_max"]
    calibration = {r["case_id"] for r in catalog.measurements() if r["split"] in ("calibration", "reference")}
    scored = [c for c in payload["cases"] if c["metric"] == "ttft_s" and c["split"] in ("holdout", "unseen")]
    assert scored and not {c["case_id"] for c in scored} & calibration and len(calibration) == 416 + 15
    assert overall["ttft_s"]["count"] == len(scored)
    versions = {s["engine_version"] for s in payload["scores"] if s["engine"] == "trtllm"}
    assert {"1.0.0rc3", "unknown"} <= versions
    assert {(t["system"], t["model"]) for t in payload["transfer"]} >= {("hgx-b300", "deepseek-r1"),
                                                                       ("hgx-h100", "gpt-oss-120b")}
    assert any(r["mode"] == "all" and r["count"] == t["repeat_pairs"] for r in payload["repeat_spread"])
    h100 = {r["metric"]: r for r in payload["system_ratios"]
            if r["systems"] == "hgx-h100 / hgx-b200" and r["engine"] == "vllm"}
    assert h100["tpot_s"]["count"] >= t["ratio_h100_b200_vllm_tpot_configs_min"]
    assert h100["tpot_s"]["median_abs_error"] <= t["ratio_h100_b200_vllm_tpot_error_max"]
    low, high = t["ratio_h100_b200_vllm_tpot_low"], t["ratio_h100_b200_vllm_tpot_high"]
    assert low < h100["tpot_s"]["measured_ratio"] < high and low < h100["tpot_s"]["predicted_ratio"] < high
    bad = CliRunner().invoke(cli, ["validate", "--by", "colour"])
    assert bad.exit_code == 2 and "engine_version" in bad.output


def test_each_first_token_step_costs_one_decode_step() -> None:
    """A lone client's TTFT grows by one engine step (its TPOT) per step the engine adds before the first token."""
    import dataclasses

    s = scenario_from_row({**CASES[0], "isl": 1024, "osl": 256, "concurrency": 1})
    work = Workload(isl=1024, osl=256, concurrency=1)
    early = dataclasses.replace(s.engine, first_token_steps=0.5)
    late = dataclasses.replace(s.engine, first_token_steps=2.5)
    a = serve_aggregated(deployment(s, s.layout), early, work)
    b = serve_aggregated(deployment(s, s.layout), late, work)
    assert float(b.ttft_s - a.ttft_s) == pytest.approx(2.0 * float(a.tpot_s), rel=0.05)
    assert float(b.tpot_s) == pytest.approx(float(a.tpot_s), rel=0.02)
    with pytest.raises(ValueError, match="first_token_steps"):
        dataclasses.replace(s.engine, first_token_steps=-1.0)


def test_side_by_side_ratios_pair_identical_work_on_two_systems() -> None:
    """The same case on H100 and B200: measured and predicted ratios, and the ratio's error; calibration
    rows and rows that differ in anything but the system are left out."""
    from parity.crosscheck import system_ratios

    base = {"model": "llama-3.1-70b", "engine": "vllm", "weights": "fp8", "mode": "agg", "isl": "1024", "osl": "256",
            "concurrency": "16", "tp": "4", "split": "holdout"}
    rows = [{**base, "case_id": "a", "system": "hgx-b200", "measured_ttft_s": "0.1", "measured_tpot_s": "0.01"},
            {**base, "case_id": "b", "system": "hgx-h100", "measured_ttft_s": "0.2", "measured_tpot_s": "0.015"},
            {**base, "case_id": "c", "system": "hgx-h100", "isl": "2048", "measured_ttft_s": "9",
             "measured_tpot_s": "9"},
            {**base, "case_id": "d", "system": "hgx-h200", "split": "calibration", "measured_ttft_s": "9",
             "measured_tpot_s": "9"}]
    predictions = predict_rows(rows)
    found = {r.metric: r for r in system_ratios(rows, predictions)}
    assert set(found) == {"ttft_s", "tpot_s"}
    ttft = found["ttft_s"]
    assert (ttft.system_a, ttft.system_b, ttft.count, ttft.measured_ratio) == ("hgx-b200", "hgx-h100", 1, 2.0)
    assert ttft.predicted_ratio == pytest.approx(predictions[1].ttft_s / predictions[0].ttft_s)
    assert ttft.median_abs_error == pytest.approx(abs(ttft.predicted_ratio / 2.0 - 1.0))
    assert found["tpot_s"].measured_ratio == pytest.approx(1.5)



@pytest.mark.e2e  # over 1 s: the end-to-end tier keeps the default run under a minute
def test_validate_prices_the_side_by_side_ratios_as_compare_does() -> None:
    """`validate`'s side-by-side table ('the ratio `parity compare` reports') priced the ratios with the scored
    model, the simulator by default (TTFT hgx-h100 / hgx-b200 vLLM 1.71x, 24.3% off), not with the steady model
    compare and the report price them with (1.33x, 16.5%). Handed simulator predictions that double every H100
    TTFT (their H100 and B200 vLLM rows), its ratios are the steady model's still: TTFT 1.33x against 1.37x
    measured, TPOT 1.38x against 1.30x (1.376x since a client's own prompt stretches none of its decodes)."""
    import dataclasses

    from parity.cli.validate_payload import validation_payload

    rows = [r for r in catalog.measurements() if r["system"] in ("hgx-h100", "hgx-b200") and r["engine"] == "vllm"]
    steady = predict_rows(rows)
    doubled = [dataclasses.replace(p, ttft_s=2 * p.ttft_s) if r["system"] == "hgx-h100" else p
               for r, p in zip(rows, steady)]
    _, payload, _ = validation_payload(rows, doubled, ["system"], "serving", "sim", 1)
    found = {r["metric"]: r for r in payload["system_ratios"]
             if r["systems"] == "hgx-h100 / hgx-b200" and r["engine"] == "vllm"}
    assert (found["ttft_s"]["count"], found["tpot_s"]["count"]) == (10, 10)
    assert found["ttft_s"]["measured_ratio"] == pytest.approx(1.3717, abs=1e-4)
    assert found["ttft_s"]["predicted_ratio"] == pytest.approx(1.3327, abs=1e-4)
    assert found["ttft_s"]["median_abs_error"] == pytest.approx(0.1652, abs=1e-4)
    assert found["tpot_s"]["measured_ratio"] == pytest.approx(1.2966, abs=1e-4)
    assert found["tpot_s"]["predicted_ratio"] == pytest.approx(1.3762, abs=1e-4)
    assert found["tpot_s"]["median_abs_error"] == pytest.approx(0.0701, abs=1e-4)

def _adp_case(**extra: object) -> dict[str, object]:
    return {"case_id": "adp", "model": "deepseek-r1", "system": "hgx-b200", "engine": "trtllm", "weights": "fp8",
            "mode": "agg", "isl": 1024, "osl": 8192, "concurrency": 64, "tp": 1, "attn_dp": 8, "moe_ep": 8, **extra}


def test_attention_dp_hold_delays_prompts_by_its_steps_when_it_runs_out() -> None:
    """At light load no rank fills soon, so the hold runs out: each extra step of hold adds one engine step
    (one TPOT) to the TTFT; with one attention rank there is nothing to hold."""
    short, long_ = predict_rows([_adp_case(attention_dp_hold_steps=30), _adp_case(attention_dp_hold_steps=60)])
    assert long_.ttft_s - short.ttft_s == pytest.approx(30 * long_.tpot_s, rel=0.1)
    dense = {"model": "llama-3.1-70b", "weights": "fp8", "tp": 8, "attn_dp": 1, "moe_ep": ""}
    a, b = predict_rows([_adp_case(**dense, attention_dp_hold_steps=0), _adp_case(**dense, attention_dp_hold_steps=60)])
    assert (a.ttft_s, a.tpot_s) == (b.ttft_s, b.tpot_s)


def test_attention_dp_hold_lets_ranks_share_the_prefill_stall() -> None:
    """Long prompts under attention DP: without the hold every rank's prompt stalls all eight ranks in
    lockstep; with it the ranks prefill together, so decodes stall far less (measured TensorRT-LLM, DeepSeek-R1
    nvfp4 DEP8, 8192/1024 at 256 clients: TPOT 30 ms) and the TTFT is shorter too."""
    case = _adp_case(weights="nvfp4", isl=8192, osl=1024, concurrency=256)
    free, held = predict_rows([{**case, "attention_dp_hold_steps": 0}, {**case, "attention_dp_hold_steps": 60}])
    assert held.tpot_s == pytest.approx(free.tpot_s / 2, rel=0.05)  # 0.50 of it
    assert 0.020 < held.tpot_s < 0.040
    assert held.ttft_s < free.ttft_s
    assert catalog.engine("trtllm").attention_dp_hold_steps == 60  # NVIDIA's recipes: timeout_iters 60
    for nonsense in ("-1", "nan", "junk"):
        bad = predict_rows([{**case, "attention_dp_hold_steps": nonsense}])[0]
        assert not bad.feasible and "attention_dp_hold_steps" in bad.note


def test_ranks_with_waiting_prompts_share_a_lockstep_prompt_step() -> None:
    """Without a hold, a prompt step serves every attention-DP rank whose prompt group came during the step before:
    1 + (ranks - 1)(1 - exp(-rate x step)). 16 ranks, a group per rank every 0.5 s, 0.5 ln 2 s steps: half of the
    15 others join, 8.5 ranks a step; one rank or no other arrivals: 1; groups far faster than steps: all 16."""
    from parity.serving.prefill import _ranks_per_prompt_step
    assert _ranks_per_prompt_step(16, 2.0, 0.5 * math.log(2.0)) == pytest.approx(8.5)
    assert _ranks_per_prompt_step(1, 2.0, 10.0) == pytest.approx(1.0)
    assert _ranks_per_prompt_step(16, 0.0, 1.0) == pytest.approx(1.0)
    assert _ranks_per_prompt_step(16, 100.0, 1.0) == pytest.approx(16.0)


def test_on_demand_kv_cache_holds_half_the_output_per_sequence() -> None:
    """An engine that allocates KV pages as outputs grow holds isl + osl/2 tokens per sequence on average;
    one that reserves the whole request at admission holds isl + osl. Llama-3.1-70B fp8 on one B200 with
    1,024-token prompts and 8,192-token outputs: 32 clients fit the first way only, as measured (vLLM,
    TTFT 0.24 s, no queue for KV slots)."""
    import dataclasses

    s = scenario_from_row({"model": "llama-3.1-70b", "system": "hgx-b200", "engine": "vllm", "weights": "fp8",
                           "isl": 1024, "osl": 8192, "concurrency": 1, "tp": 1})
    work = Workload(isl=1024, osl=8192, concurrency=32)
    dep = deployment(s, s.layout)
    paged = serve_aggregated(dep, dataclasses.replace(s.engine, kv_on_demand=True), work)
    reserved = serve_aggregated(dep, dataclasses.replace(s.engine, kv_on_demand=False), work)
    capacity = float(paged.memory.kv_token_capacity)
    assert capacity / (1024 + 8192) < 32 < capacity / (1024 + 4096)
    assert float(paged.ttft_s) < 1.0 < 10.0 < float(reserved.ttft_s)
    assert catalog.engine("vllm").kv_on_demand and catalog.engine("sglang").kv_on_demand


def test_a_row_can_set_the_engines_step_budget() -> None:
    """max_num_tokens in a row replaces the engine's step budget (aiconfigurator, for one, configures
    isl + 1,500 + the batch): with room for one 4,096-token prompt per step instead of two the prediction
    changes; a budget below one token is refused with a reason."""
    base = {"model": "qwen3-32b", "system": "hgx-h100", "engine": "trtllm", "weights": "fp8", "tp": 4,
            "isl": 4096, "osl": 512, "concurrency": 8}
    wide, narrow, bad = predict_rows([base, {**base, "max_num_tokens": 5000}, {**base, "max_num_tokens": "0"}])
    assert catalog.engine("trtllm").max_num_tokens == 8192
    assert narrow.ttft_s != wide.ttft_s
    assert not bad.feasible and "max_num_tokens" in bad.note


def test_a_row_can_cap_the_engines_batch() -> None:
    """max_batch_size in a row replaces the engine's sequence cap (MLPerf submissions state theirs: AMD's vLLM
    server harness max_num_seqs 768, NVIDIA's gpu_batch_size): 8 clients under a cap of 4 queue half their
    requests, so TTFT grows; a cap below one sequence is refused with a reason."""
    from parity.predict import scenario_from_row
    base = {"model": "llama-2-70b", "system": "hgx-h200", "engine": "trtllm", "weights": "fp8", "tp": 1,
            "isl": 512, "osl": 256, "concurrency": 8}
    assert scenario_from_row({**base, "max_batch_size": "768"}).engine.max_batch_size == 768
    free, capped, bad = predict_rows([base, {**base, "max_batch_size": 4}, {**base, "max_batch_size": "0"}])
    assert capped.ttft_s > free.ttft_s
    assert not bad.feasible and "max_batch_size" in bad.note


def test_a_refitted_engine_file_keeps_every_field_and_its_assumptions() -> None:
    """What `parity validate --fit` writes loads back as the same profile: fitted values (to the digits
    written), switches, and the assumptions with their sources."""
    import tomllib

    from parity.catalog.profiles import engines
    from parity.catalog.engine_file import flat_keys
    from parity.validate import engine_toml

    for profile in engines():
        if not profile.measured:
            continue
        data = flat_keys(tomllib.loads(engine_toml(profile, 100, 0.2, 0.1, "2026-11-28")))
        assert data["assumptions"] == profile.assumptions and profile.assumptions
        for name in ("mixes_prefill", "kv_on_demand", "fp8_kv_cache", "max_num_tokens", "max_batch_size"):
            assert data[name] == getattr(profile, name), (profile.id, name)
        for name in ("attention_dp_hold_steps", "first_token_steps", "prefill_scale", "burstiness"):
            assert data[name] == pytest.approx(getattr(profile, name), rel=1e-5), (profile.id, name)
        assert "100 calibration rows" in data["method"]


def test_inferencex_deployments_match_their_recipes_and_reach_the_rows() -> None:
    """The disaggregated sweeps' deployments come from InferenceX's configuration: each entry agrees with
    its recipe's name (ctxP_genD_{dep,tep,tp,dp}N_..._mtpK), and the rows it was applied to carry it."""
    import re

    table = catalog.measurements("inferencex_disagg_layouts")
    assert len(table) == 191
    checked = 0
    for e in table:
        m = re.match(r"(?:c\d+_)?ctx(\d+)_gen(\d+)_(dep|tep|tp|dp)(\d+)_batch\d+_eplb\d+_mtp(\d)", e["recipe"])
        if not m:
            continue
        prefill, decode, kind, gpus, mtp = m.groups()
        assert (e["prefill_workers"], e["decode_workers"], e["decode_tp"]) == (prefill, decode, gpus)
        assert e["decode_ep"] == (gpus if kind in ("dep", "tep") else "1")
        assert e["decode_dp_attn"] == ("true" if kind in ("dep", "dp") else "false")
        assert e["spec_decoding"] == (f"mtp{mtp}" if mtp != "0" else "none")
        checked += 1
    assert checked == 135  # every TensorRT-LLM entry; SGLang recipes are named by deployment only
    rows = [r for r in catalog.measurements() if "workers and layout from InferenceX" in r["note"]]
    assert len(rows) == 181
    for r in rows:
        assert r["prefill_workers"] and r["decode_workers"]
        for side in ("prefill_", "decode_"):
            gpus = int(r[side + "tp"]) * int(r[side + "attn_dp"])
            assert int(r[side + "moe_tp"]) * int(r[side + "moe_ep"]) == gpus
    # e.g. B200 FP8 TensorRT-LLM, 1k/1k at 1,024 clients: 1 DEP8 prefill worker, 4 DEP8 decode, MTP-3
    (r,) = [r for r in rows if r["system"] == "hgx-b200" and r["weights"] == "fp8" and r["isl"] == "1024"
            and r["concurrency"] == "1024" and r["measured_on"] == "2026-03-23"]
    assert (r["prefill_workers"], r["decode_workers"], r["decode_attn_dp"], r["decode_moe_ep"]) == ("1", "4", "8", "8")
    assert (r["mtp_tokens"], r["mtp_acceptance"]) == ("3", "1.82")
    # and the limits of its recipe (ctx1_gen4_dep8_batch256_eplb0_mtp3_1024.yaml): 32 sequences a decode rank
    assert (r["prefill_batch"], r["max_num_tokens"], r["decode_batch"]) == ("16", "16384", "32")
    recipes = catalog.measurements("inferencex_recipes")
    assert len(recipes) == 135 and all(x["decode_max_batch_size"] for x in recipes)
    assert sum(1 for r in rows if r["decode_batch"]) == 132


def test_a_recipe_file_copied_from_another_run_gives_its_name_s_decode_batch() -> None:
    """Two B300 FP8 recipes (connorcarpenter15/srt-slurm 5a156f6b, ..._batch64_eplb0_mtp0_12 and
    ..._batch2_eplb0_mtp0_16) hold the settings of a run at 10 clients (`concurrencies: [10]`, decode max_batch_size
    1). Their runs measured a free decode slot's TTFT (0.18 s at 12 clients on 8 decode workers, 1,024 / 1,024
    tokens): the rows take their names' batch, 64 and 2, and say so. Recipes whose benchmark lists their run's
    concurrency, or whose settings agree with their names, keep their settings (ctx1_gen4_dep8_batch256_..._1024
    runs 32 a rank; ctx1_gen4_tp8_batch1_eplb0_mtp3_8, written for 5 clients, ran 8 on 4 workers of one each: TTFT
    3.76 s)."""
    recipes = {x["recipe_path"].rsplit("/", 1)[-1]: x for x in catalog.measurements("inferencex_recipes")}
    copied = sorted(name for name, x in recipes.items()
                    if x["benchmark_concurrencies"] and name.removesuffix(".yaml").rsplit("_", 1)[-1].isdigit()
                    and name.removesuffix(".yaml").rsplit("_", 1)[-1] not in x["benchmark_concurrencies"].split()
                    and f"_batch{x['decode_max_batch_size']}_" not in name)
    assert copied == ["ctx1_gen8_tp8_batch2_eplb0_mtp0_16.yaml", "ctx1_gen8_tp8_batch64_eplb0_mtp0_12.yaml"]
    rows = {r["concurrency"]: r for r in catalog.measurements() if r["system"] == "hgx-b300"
            and r["engine"] == "trtllm" and r["weights"] == "fp8" and "ctx1_gen" in r["note"] and "_tp8_batch" in r["note"]}
    assert (rows["12"]["decode_batch"], rows["16"]["decode_batch"], rows["8"]["decode_batch"]) == ("64", "2", "1")
    assert "its name's batch 64 taken" in rows["12"]["note"] and "name's batch" not in rows["8"]["note"]


def test_inferencex_prefill_experts_follow_the_recipe() -> None:
    """The prefill experts are spread as the recipe sets them (inferencex_recipes.csv prefill_moe_ep, read from
    NVIDIA/srt-slurm 5063eb43): every TensorRT-LLM recipe agrees with InferenceX's configuration but the 15 B200 FP8
    8k/1k ones, which run the prefill MoE in TP 8 (moe_expert_parallel_size 1) where the configuration says ep 8.
    The 18 rows a B200 FP8 8k/1k recipe reaches carry moe_tp 8 x moe_ep 1 over their 8 prefill GPUs."""
    layouts = catalog.measurements("inferencex_disagg_layouts")
    recipes = {x["recipe_path"]: x for x in catalog.measurements("inferencex_recipes")}
    lengths = {"1024": "1k", "8192": "8k"}
    differ, checked = set(), 0
    for e in layouts:
        if e["config_key"].endswith("-dynamo-trt"):
            _, precision, chip, *_ = e["config_key"].split("-")
            mode = "stp" if e["spec_decoding"] == "none" else "mtp"
            recipe = recipes[f"recipes/trtllm/{chip}-{precision}/{lengths[e['isl']]}{lengths[e['osl']]}/{mode}/"
                             f"{e['recipe']}.yaml"]
            checked += 1
            if recipe["prefill_moe_ep"] != e["prefill_ep"]:
                differ.add((e["config_key"], e["isl"], recipe["prefill_moe_ep"], e["prefill_ep"]))
    assert checked == 135
    assert differ == {("dsr1-fp8-b200-dynamo-trt", "8192", "1", "8")}
    said = "prefill experts in moe_tp 8 x moe_ep 1 as the recipe sets them"
    rows = [r for r in catalog.measurements() if said in r["note"]]
    assert len(rows) == 18
    assert {(r["system"], r["weights"], r["isl"], r["prefill_moe_tp"], r["prefill_moe_ep"]) for r in rows} == {
        ("hgx-b200", "fp8", "8192", "8", "1")}
    assert all(int(r["prefill_tp"]) * int(r["prefill_attn_dp"]) == 8 for r in rows)


def test_inferencex_sglang_b200_runs_carry_the_image_and_recipe_they_ran() -> None:
    """InferenceX's SGLang B200 DeepSeek runs of 2025-11 that the source lists without a version
    (SGLANG_B200_UNVERSIONED in scripts/import_aiconfigurator.py): FP4 on 0.5.3rc1 with --enable-ep-moe, so the
    experts are spread over the TP ranks (moe_ep = tp, moe_tp 1, where the source says moe_tp = tp), FP8 on 0.5.5
    with --ep-size 8. The B200 FP4 disaggregated MTP recipes run EAGLE with speculative-num-steps 2 (3 tokens
    verified a step, the accepted one included): 2 draft tokens at NVIDIA's MTP-2 acceptance, 1.58; the FP8 ones
    too (but max-tpt-dep8-1p2d: 1), on the 4 FP8 rows that match MTP entries alone."""
    rows = [r for r in catalog.measurements() if r["engine"] == "sglang" and r["system"] == "hgx-b200"]
    assert all(r["engine_version"] for r in rows)
    fp4 = [r for r in rows if r["engine_version"] == "0.5.3rc1"]
    assert len(fp4) == 36 and {r["tp"] for r in fp4} == {"4", "8"}
    assert all(r["weights"] == "nvfp4" and r["measured_on"] <= "2025-11-10" for r in fp4)
    assert all((r["moe_tp"], r["moe_ep"]) == ("1", r["tp"]) for r in fp4)
    fp8 = [r for r in rows if r["engine_version"] == "0.5.5"]
    assert len(fp8) == 15 and all(r["measured_on"] == "2025-11-18" for r in fp8)
    assert {(r["weights"], r["tp"], r["moe_tp"], r["moe_ep"]) for r in fp8} == {("fp8", "8", "1", "8")}
    mtp2 = [r for r in rows if r["mode"] == "disagg" and r["weights"] == "nvfp4" and r["mtp_tokens"] == "2"]
    assert len(mtp2) == 12 and {r["mtp_acceptance"] for r in mtp2} == {"1.58"}
    assert all("MTP-2 as configured" in r["note"] for r in mtp2)
    fp8_mtp2 = [r for r in rows if r["mode"] == "disagg" and r["weights"] == "fp8" and r["mtp_tokens"] == "2"]
    assert sorted((r["isl"], r["concurrency"]) for r in fp8_mtp2) == [("1024", "8"), ("1024", "8"), ("8192", "16"),
                                                                     ("8192", "8")]


def test_a_cold_servers_ttft_is_not_kept() -> None:
    """InferenceX's 0.5.3rc1 and 0.5.5 SGLang B200 runs had no warm-up and no FlashInfer cache (COLD_SERVER_TTFT in
    scripts/import_aiconfigurator.py): where the first wave passes the script's --chunked-prefill-size (16,384 FP4,
    32,768 FP8), the run's first chunked continuation loads its kernels inside the timed run, so the TTFT (7.98 s at
    32 clients of 8k on TP 4, against 0.60 s at 16 clients of 1k, whose wave 14,746 tokens stays under) is a cold
    server's: left out, kept in the note, the TPOT kept. 24 FP4 rows and 6 FP8 rows; none of the later ones."""
    rows = [r for r in catalog.measurements() if r["engine"] == "sglang" and r["system"] == "hgx-b200"
            and r["engine_version"] in ("0.5.3rc1", "0.5.5")]
    assert {(r["engine_version"], r["chunked_prefill_size"]) for r in rows} == {("0.5.3rc1", "16384"),
                                                                                ("0.5.5", "32768")}
    cold = [r for r in rows if not r["measured_ttft_s"]]
    assert all(int(r["concurrency"]) * 0.9 * int(r["isl"]) > int(r["chunked_prefill_size"]) for r in cold)
    assert all(int(r["concurrency"]) * 0.9 * int(r["isl"]) <= int(r["chunked_prefill_size"])
               for r in rows if r["measured_ttft_s"])
    assert (sum(r["engine_version"] == "0.5.3rc1" for r in cold), sum(r["engine_version"] == "0.5.5" for r in cold)) \
        == (24, 6)
    assert all(float(r["measured_tpot_s"]) > 0 and "is a cold server's" in r["note"] for r in cold)
    (big,) = [r for r in cold if (r["weights"], r["tp"], r["isl"], r["osl"], r["concurrency"]) ==
              ("nvfp4", "4", "8192", "1024", "32")]
    assert "the measured TTFT, 7.9774 s" in big["note"] and "first wave of 235,930 prompt tokens" in big["note"]
    assert all(r["measured_ttft_s"] for r in catalog.measurements() if r["engine_version"] not in ("0.5.3rc1", "0.5.5"))
    # the scores and the fit count such a row for TPOT alone
    assert {e.metric for e in case_errors([big], predict_rows([big]))} == {"tpot_s"}
    ((row, scenario),) = scenarios_of([big])
    tpot = predict_rows([big])[0].tpot_s
    assert fit_loss([(row, scenario)], scenario.engine) == pytest.approx(abs(math.log(tpot / 0.0263861)), rel=1e-9)


def test_inferencex_rows_carry_the_prompt_count_their_runner_sent() -> None:
    """num_prompts as InferenceX's code said at each row's date (inferencex_client in scripts/import_aiconfigurator.py).
    SGLang DeepSeek-R1 FP8 on B200 of 2025-11-18: .github/configs/runners.yaml at 189ae51cc gives the b200 runner
    type to b200-nvd_0..3 alone, and runners/launch_b200-nvd.sh there sends deepseek-ai/DeepSeek-R1-0528 (its model
    in nvidia-master.yaml) NUM_PROMPTS = CONC x 50, CONC x 20 at OSL 8192: 64 clients of 1k/1k 3,200 prompts, 4 of
    1k/8k 80. The FP4 runs of 2025-11-10 ran nvidia/DeepSeek-R1-0528-FP4-V2 (#145), which the same script sends
    CONC x 10: 640 at 64 clients. The FP4 runs of 2025-11-02 (before runners.yaml; b200-tg_0 sent 10 x) and the FP8
    run of 2025-12-31 (#379 added SLURM nodes sending 10 x that day) are left blank; a B300 disaggregated run of
    2026-01-28 (srt-slurm sa-bench from 88ff268d: concurrency x 10) at 8 clients sent 80. Every other InferenceX
    row sent 10 x concurrency."""
    rows = {r["case_id"]: r for r in catalog.measurements()}
    assert rows["dsr1_b200_sglang_fp8_agg_1024x1024_c64_cfg199"]["num_prompts"] == "3200"
    assert rows["dsr1_b200_sglang_fp8_agg_1024x8192_c4_cfg199"]["num_prompts"] == "80"
    assert rows["dsr1_b200_sglang_fp4_agg_1024x1024_c64_cfg99"]["num_prompts"] == "640"
    disagg = rows["2026_03_25_deepseek_r1_b300_sxm_trtllm_fp4_disagg_8192x1024_c8_tp2_0_ep2_0_1237"]
    assert (disagg["measured_on"], disagg["num_prompts"]) == ("2026-01-28", "80")
    inferencex = [r for r in rows.values() if r["random_range_ratio"] == "0.8"]
    blank = [r for r in inferencex if not r["num_prompts"]]
    assert sorted(r["measured_on"] for r in blank) == ["2025-11-02"] * 3 + ["2025-12-31"]
    assert all("prompt count left to the client profile" in r["note"] for r in blank)
    other = [r for r in inferencex if r["num_prompts"] and int(r["num_prompts"]) != 10 * int(r["concurrency"])]
    assert len(other) == 15 and {r["measured_on"] for r in other} == {"2025-11-18"}
    assert not any(r["num_prompts"] for r in rows.values() if r["random_range_ratio"] != "0.8")


def test_the_later_b200_fp8_sglang_8k_runs_carry_the_consolidated_recipes_deployments() -> None:
    """InferenceX #907 (2026-03-18) moved the B200 FP8 SGLang 8k/1k entries to the consolidated srt-slurm recipes
    (8k1k_{stp,mtp}_{lowlat,maxtpt}_N.yaml): one prefill worker of attention DP 8 with its experts in TP 8 (expert
    parallelism 1, as the rows of that day say), decoding on 3-6 TP-8 workers or 1-2 DEP-8 ones. Rows whose
    concurrency one deployment lists take it (8-64 clients: 6 decode workers; 160, 512, 1,024: 1-3 prefill
    workers and one DEP-8 decode worker); 128 and 288 clients name 3 and 2, which all run one such prefill worker
    (taken) and differ in their decode workers (left to parity). The earlier rows (expert parallelism 8) keep the
    per-file recipes' deployments."""
    rows = [r for r in catalog.measurements() if r["engine"] == "sglang" and r["mode"] == "disagg"
            and r["system"] == "hgx-b200" and r["weights"] == "fp8" and r["isl"] == "8192"
            and r["case_id"].startswith("2026_03_25_") and r["measured_on"] == "2026-03-18"]
    taken = [r for r in rows if "(8k1k_mtp_" in r["note"]]
    assert sorted(int(r["concurrency"]) for r in taken) == [8, 8, 16, 16, 32, 32, 64, 64, 160, 512, 1024]
    assert all((r["prefill_tp"], r["prefill_attn_dp"], r["prefill_moe_tp"], r["prefill_moe_ep"]) == ("1", "8", "8", "1")
               for r in taken)
    low = {(r["decode_workers"], r["decode_tp"], r["decode_moe_ep"]) for r in taken if int(r["concurrency"]) <= 64}
    assert low == {("6", "8", "1")}
    high = {(r["concurrency"], r["prefill_workers"], r["decode_workers"], r["decode_attn_dp"], r["decode_moe_ep"])
            for r in taken if int(r["concurrency"]) > 64}
    assert high == {("160", "1", "1", "8", "8"), ("512", "2", "1", "8", "8"), ("1024", "3", "1", "8", "8")}
    left = sorted((r["concurrency"], next(p for p in r["note"].split("; ") if p.startswith("InferenceX lists")))
                  for r in rows if r not in taken)
    assert left == [("128", "InferenceX lists 3 deployments for this run"),
                    ("128", "InferenceX lists 3 deployments for this run"),
                    ("288", "InferenceX lists 2 deployments for this run")]
    assert all((r["prefill_workers"], r["prefill_attn_dp"], r["decode_workers"]) == ("1", "8", "") and
               "; decode worker count left to parity" in r["note"] for r in rows if r not in taken)


def test_inferencex_deepseek_fp8_trt_runs_batch_wait_as_their_script_sets_it() -> None:
    """InferenceX's dsr1_fp8_b200_trt.sh from #594 (release:1.2.0rc6.post2, 2026-01-29) batch-waits 1k/1k runs at
    64 clients and more (40 steps, 0.8 of the budget; DSR1_FP8_TRT_BATCH_WAIT in scripts/import_aiconfigurator.py):
    the 64- and 128-client runs, and no other DeepSeek row. With it the simulator puts their TTFT at 0.67 / 0.70 s
    (measured 0.64 / 0.74; 0.24 / 0.33 without)."""
    rows = [r for r in catalog.measurements() if r["model"].startswith("deepseek") and r["batch_wait_timeout_iters"]]
    assert sorted(int(r["concurrency"]) for r in rows) == [64, 128]
    assert {(r["engine"], r["engine_version"], r["weights"], r["isl"], r["osl"], r["batch_wait_timeout_iters"],
             r["batch_wait_max_tokens_ratio"]) for r in rows} == {
        ("trtllm", "1.2.0rc6.post2", "fp8", "1024", "1024", "40", "0.8")}


def test_inferencex_vllm_llama_runs_carry_the_image_they_ran() -> None:
    """InferenceX's vLLM Llama-3.1-70B runs (VLLM_LLAMA70B_IMAGE in scripts/import_aiconfigurator.py): its
    70b-tmpl.yml ran vllm/vllm-openai:v0.10.2 on H100 (FP8) and B200 (FP8, NVFP4) until the 70B runs were removed
    on 2025-10-29, the day all 165 rows were measured; every other vLLM row keeps the version the source gives."""
    rows = [r for r in catalog.measurements() if r["engine"] == "vllm" and r["model"] == "llama-3.1-70b"]
    assert len(rows) == 165 and {r["engine_version"] for r in rows} == {"0.10.2"}
    assert {r["measured_on"] for r in rows} == {"2025-10-29"}
    assert {(r["system"], r["weights"]) for r in rows} == {("hgx-h100", "fp8"), ("hgx-b200", "fp8"),
                                                            ("hgx-b200", "nvfp4")}
    assert all("image vllm/vllm-openai:v0.10.2 in InferenceX's 70b-tmpl.yml" in r["note"] for r in rows)


def test_inferencex_vllm_runs_keep_the_fp8_kv_cache_their_scripts_set() -> None:
    """InferenceX's vLLM scripts set `kv-cache-dtype: fp8` for Llama-3.1-70B on B200 and H100 (every run, 2025-10-29)
    and for gpt-oss-120b on B200 from vLLM 0.11.2 (2025-11-19; VLLM_FP8_KV_SINCE in scripts/import_aiconfigurator.py):
    221 rows, where vLLM's default is the model's BF16. Its H100 gpt-oss script and the earlier B200 one set none.
    With the BF16 cache one B200 of Llama-3.1-70B FP8 holds 257k tokens of KV and 64 clients of 1,024 / 8,192 tokens
    preempt each other 781 times (simulated TTFT 18.5 s against 0.38 s measured); with FP8, 515k and none."""
    rows = [r for r in catalog.measurements() if r["engine"] == "vllm" and r["model"] in ("llama-3.1-70b", "gpt-oss-120b")]
    fp8 = [r for r in rows if r["kv"] == "fp8"]
    assert len(fp8) == 221 and all("kv-cache-dtype: fp8" in r["note"] for r in fp8)
    assert {(r["model"], r["system"], r["measured_on"]) for r in rows if r["kv"] != "fp8"} == {
        ("gpt-oss-120b", "hgx-b200", "2025-11-02"), ("gpt-oss-120b", "hgx-h100", "2025-11-02"),
        ("gpt-oss-120b", "hgx-h100", "2025-12-05"), ("gpt-oss-120b", "hgx-h100", "2025-12-08"),
        ("gpt-oss-120b", "hgx-h100", "2026-03-27")}
    assert all(r["model"] == "gpt-oss-120b" or r["kv"] == "fp8" for r in rows)


def _importer():  # type: ignore[no-untyped-def]
    """scripts/import_aiconfigurator.py as a module (it runs by hand; its rules are checked against the rows here)."""
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[1] / "scripts" / "import_aiconfigurator.py"
    spec = importlib.util.spec_from_file_location("import_aiconfigurator", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_the_import_rules_reproduce_the_rows_they_wrote() -> None:
    """The importer's rules, run again on the stored data: apply_vllm_fp8_kv gives back every vLLM Llama-3.1-70B and
    gpt-oss-120b row's kv cell and note from the row with them taken off, and inferencex_layouts gives the two copied
    B300 recipes their names' decode batch (64, 2) and every other TensorRT-LLM entry its recipe file's."""
    importer = _importer()
    for row in catalog.measurements():
        if row["engine"] == "vllm" and row["model"] in ("llama-3.1-70b", "gpt-oss-120b"):
            note = row["note"].replace("; KV cache fp8 as InferenceX's vLLM script sets it (kv-cache-dtype: fp8)", "")
            bare = {**row, "kv": "", "note": note}
            importer.apply_vllm_fp8_kv(bare)
            assert (bare["kv"], bare["note"]) == (row["kv"], row["note"]), row["case_id"]
    recipes = {x["recipe_path"].rsplit("/", 1)[-1].removesuffix(".yaml"): x
               for x in catalog.measurements("inferencex_recipes")}
    batches = {e["recipe"]: e["decode_max_batch_size"] for e in importer.inferencex_layouts()
               if e["config_key"].endswith("-dynamo-trt")}
    taken = {name: batch for name, batch in batches.items() if batch != recipes[name]["decode_max_batch_size"]}
    assert taken == {"ctx1_gen8_tp8_batch64_eplb0_mtp0_12": "64", "ctx1_gen8_tp8_batch2_eplb0_mtp0_16": "2"}


def test_inferencex_deployments_reach_rows_whose_expert_parallelism_the_source_garbles() -> None:
    """The source's B200 FP8 TensorRT-LLM 8k/1k sweep of 2026-03-23 says expert parallelism 1 on both sides;
    every InferenceX entry at those concurrencies says EP 8 on the prefill side, so the strict match finds none.
    Matched on tensor parallelism and concurrency, 5 rows have one deployment each (48, 64, 224, 288, 1,088
    clients; at 8 clients two recipes remain and the row stays inferred). At 48 clients:
    ctx1_gen6_tp8_batch8_eplb0_mtp3_48 = 1 prefill worker with attention DP 8 whose experts run in TP 8 as the
    recipe sets them (moe_expert_parallel_size 1: moe_tp 8, as the source says), 6 TP-8 decode workers (EP 1:
    moe_tp 8), MTP-3 at NVIDIA's 1.82; its recipe: prefill batch 1, 8,320 tokens, decode batch 8."""
    rows = [r for r in catalog.measurements() if "matched on tensor parallelism and concurrency" in r["note"]]
    assert sorted(int(r["concurrency"]) for r in rows) == [48, 64, 224, 288, 1088]
    assert all(r["system"] == "hgx-b200" and r["engine"] == "trtllm" and r["isl"] == "8192" for r in rows)
    (r,) = [r for r in rows if r["concurrency"] == "48"]
    assert (r["prefill_workers"], r["prefill_tp"], r["prefill_attn_dp"], r["prefill_moe_tp"], r["prefill_moe_ep"]) == (
        "1", "1", "8", "8", "1")
    assert (r["decode_workers"], r["decode_tp"], r["decode_attn_dp"], r["decode_moe_tp"], r["decode_moe_ep"]) == (
        "6", "8", "1", "8", "1")
    assert (r["mtp_tokens"], r["mtp_acceptance"]) == ("3", "1.82")
    assert (r["prefill_batch"], r["max_num_tokens"], r["decode_batch"]) == ("1", "8320", "8")
    (r,) = [r for r in rows if r["concurrency"] == "1088"]  # ctx4_gen1_dep8_batch128_eplb0_mtp2_1088
    assert (r["prefill_workers"], r["decode_workers"], r["decode_attn_dp"], r["decode_batch"]) == ("4", "1", "8", "128")
    assert (r["mtp_tokens"], r["mtp_acceptance"]) == ("2", "1.58")
    # each is a repeat of a run of the sweep of 2026-02-12 that says EP 8 and so matched the same recipe strictly
    # (..._ep8_0_722 at 48 clients: TTFT 2.091 s, TPOT 6.284 ms, against 2.039 s and 6.359 ms): 2.5% apart at most
    from parity.crosscheck import _INPUTS, _key
    by_inputs = {}
    for x in catalog.measurements():
        by_inputs.setdefault(_key(x, _INPUTS), []).append(x)
    for r in rows:
        (twin,) = [x for x in by_inputs[_key(r, _INPUTS)] if x["case_id"] != r["case_id"]]
        assert "_ep8_" in twin["case_id"] and "matched on tensor parallelism" not in twin["note"]
        for metric in ("measured_ttft_s", "measured_tpot_s"):
            assert float(r[metric]) == pytest.approx(float(twin[metric]), rel=0.025)
    still = [r for r in catalog.measurements() if r["system"] == "hgx-b200" and r["engine"] == "trtllm"
             and r["mode"] == "disagg" and r["isl"] == "8192" and r["concurrency"] == "8" and r["prefill_moe_ep"] == "1"]
    assert still and all(not r["decode_workers"] for r in still)


def test_database_decode_batches_are_read_as_what_they_are() -> None:
    """aiconfigurator's database rows (db-dump) give a decode batch of concurrency / (decode workers x attention
    DP), not the engine's limit: each of the 64 disaggregated ones says so, 30 carry the limits of the InferenceX
    TensorRT-LLM recipe they ran, the others none. H100 DeepSeek 1k/1k at 6 clients on 3 TEP-16 decode workers:
    the source's 2 is 6 / 3; the recipe (ctx1_gen3_tep16_batch1) runs 1 sequence a worker, prefill batch 2 and
    2,048 tokens. Simulated, 3 slots hold 3 of the 6 clients: at request rate R, R x mean decode (0.9 x 1024 - 1
    tokens at the simulated TPOT) = 3 slots busy and R x (TTFT + that decode) = 6 clients (closed loop), so the
    TTFT is one whole decode, (6 - 3) / R: the 12 s the benchmark measured, where a cap of 2 gave no queue."""
    rows = [r for r in catalog.measurements() if "concurrency / (workers x attention DP)" in r["note"]]
    assert len(rows) == 64
    limited = [r for r in rows if r["decode_batch"]]
    assert len(limited) == 30 and all("engine limits from InferenceX's recipe" in r["note"] for r in limited)
    (r,) = [r for r in rows if r["case_id"] == "dsr1_h100_trtllm_fp8_disagg_1024x1024_c6_cfg494"]
    assert (r["decode_workers"], r["decode_batch"], r["prefill_batch"], r["max_num_tokens"]) == ("3", "1", "2", "2048")
    (p,) = predict_rows([r], model_kind="sim")
    decode_s = (0.9 * 1024 - 1) * p.tpot_s
    rate = p.output_tokens_per_s_per_chip * p.chips / (0.9 * 1024)
    assert rate * decode_s == pytest.approx(3, rel=0.05)
    assert rate * (p.ttft_s + decode_s) == pytest.approx(6, rel=0.05)
    assert p.ttft_s == pytest.approx(3 / rate, rel=0.1) and p.ttft_s > 8


def test_gpt_oss_rows_carry_the_formats_its_engines_run() -> None:
    """The source labels gpt-oss-120b nvfp4 / nvfp4 (fp8 / fp8 on aiconfigurator's five TensorRT-LLM H100 runs);
    its rows carry bf16 attention and MXFP4 experts against MXFP8 activations on Blackwell, bf16 ones on Hopper,
    and say so in their note. InferenceX's H100 vLLM runs
    from its v0.13.0 image on set VLLM_MXFP4_USE_MARLIN=1 (GPT_OSS_MARLIN_SINCE): the 43 vLLM 0.18.0 rows carry
    Marlin's kernel, the earlier and TensorRT-LLM H100 rows triton_kernels'."""
    rows = [r for r in catalog.measurements() if r["model"] == "gpt-oss-120b"]
    relabelled = [r for r in rows if "formats as engines run gpt-oss" in r["note"]]
    assert len(relabelled) == 209 and not any(r["weights"] in ("nvfp4", "fp8") for r in rows)
    assert sum("the source says fp8" in r["note"] for r in relabelled) == 5
    marlin = [r for r in relabelled if r["moe_weights"] == "w4a16_mxfp4_marlin"]
    assert len(marlin) == 43 and {(r["system"], r["engine"], r["engine_version"]) for r in marlin} == {
        ("hgx-h100", "vllm", "0.18.0")}
    for r in relabelled:
        experts = ("w4a8_mxfp4" if r["system"] != "hgx-h100" else
                   "w4a16_mxfp4_marlin" if r["engine_version"] == "0.18.0" else "w4a16_mxfp4")
        assert (r["weights"], r["moe_weights"]) == ("bf16", experts), r["case_id"]
        assert r["moe_weights"] in r["note"], r["case_id"]
    (p,) = predict_rows([relabelled[0]])
    assert p.feasible


def test_every_optional_column_is_read() -> None:
    """OPTIONAL_COLUMNS (which the repeat-run key also uses) are inputs scenario_from_row reads: a bad cell in
    any of them makes its row infeasible, naming the column."""
    from parity.predict import OPTIONAL_COLUMNS

    base = {"model": "deepseek-r1", "system": "hgx-h200", "engine": "trtllm", "isl": 1024, "osl": 128,
            "concurrency": 8, "tp": 8}
    for column in OPTIONAL_COLUMNS:
        (p,) = predict_rows([{**base, column: "junk"}])
        assert not p.feasible and column in p.note, (column, p.note)


def test_a_row_that_keeps_prompt_steps_apart_pauses_its_decodes() -> None:
    """separate_prefill (SGLang's own default, enable_mixed_chunk False, which speculative decoding also forces)
    turns the profile's mixes_prefill off for that row alone: DeepSeek-R1 on 8 x H200 at 128 clients of
    3,200/800 (dstack's SGLang run) has every prompt step stall the decodes, so it puts out fewer tokens than
    with the prompts mixed into decode steps, and the profile itself still mixes them."""
    assert catalog.engine("sglang").mixes_prefill
    base = {"model": "deepseek-r1", "system": "hgx-h200", "engine": "sglang", "weights": "fp8_block",
            "isl": 3200, "osl": 800, "concurrency": 128, "tp": 8}
    mixed, apart = predict_rows([base, {**base, "separate_prefill": "true"}])
    assert "prefill mixed into decode steps" in mixed.note and "prefill steps pause decodes" in apart.note
    assert apart.output_tokens_per_s_per_chip < mixed.output_tokens_per_s_per_chip
    assert apart.tpot_s > mixed.tpot_s


def test_random_lengths_are_served_at_their_mean() -> None:
    """benchmark_serving.py with --random-range-ratio 0.8 draws whole lengths from [floor(0.8 L), L]: a
    1,024-token prompt averages (819 + 1,024) / 2; a row with the ratio predicts as one of those mean
    lengths; a lower bound under one token is one; a ratio outside [0, 1] is refused."""
    assert mean_length(1024, 0.8) == pytest.approx(921.5)
    assert mean_length(8192, 0.8) == pytest.approx((6553 + 8192) / 2)
    assert mean_length(1024) == 1024 and mean_length(1, 0.0) == 1
    base = {"model": "qwen3-32b", "system": "hgx-h100", "engine": "trtllm", "weights": "fp8", "isl": 1000,
            "osl": 1000, "concurrency": 16, "tp": 2}
    spread, mean = predict_rows([{**base, "random_range_ratio": 0.8}, {**base, "isl": 900, "osl": 900}])
    assert spread.ttft_s == pytest.approx(mean.ttft_s) and spread.tpot_s == pytest.approx(mean.tpot_s)
    (bad,) = predict_rows([{**base, "random_range_ratio": 1.5}])
    assert not bad.feasible and "random_range_ratio must be in [0, 1]" in bad.note
    with pytest.raises(ValueError, match="range_ratio"):
        Workload(isl=1024, osl=128, concurrency=1, range_ratio=-0.1)


def test_inferencex_rows_carry_their_length_spread() -> None:
    """Rows from InferenceX (its dated sweeps and its results database) say 0.8, aiconfigurator's own
    runs (fixed lengths) leave the cell empty."""
    rows = catalog.measurements()
    spread = [r for r in rows if r["random_range_ratio"]]
    assert len(spread) == 1166 and {r["random_range_ratio"] for r in spread} == {"0.8"}
    assert all(r["measured_on"] for r in spread)
    assert not any(r["random_range_ratio"] for r in rows if r["case_id"].startswith("qwen_qwen3_32b_"))


def test_batch_waiting_holds_a_lone_prompt_for_its_steps() -> None:
    """TensorRT-LLM's batch waiting (batch_wait_timeout_iters, batch_wait_max_tokens_ratio): at 4 clients no
    window fills, so a prompt waits the whole timeout, 20 decode steps (as InferenceX's B200 Llama-3.1-70B
    1k/1k runs measure: their TTFT exceeds the 1k/8k runs' by 20 of their steps); a budget share the
    waiting prompt alone fills, or a timeout of 0, waits nothing; the fit keeps a row's own setting."""
    from parity.validate import scenarios_of

    base = {"model": "llama-3.1-70b", "system": "hgx-b200", "engine": "trtllm", "weights": "fp8", "isl": 1024,
            "osl": 1024, "concurrency": 4, "tp": 2}
    wait = {"batch_wait_timeout_iters": 20, "batch_wait_max_tokens_ratio": 0.9}
    plain, held, filled, off = predict_rows([base, {**base, **wait},
                                             {**base, **wait, "batch_wait_max_tokens_ratio": 0.05},
                                             {**base, **wait, "batch_wait_timeout_iters": 0}])
    assert held.ttft_s - plain.ttft_s == pytest.approx(20 * plain.tpot_s, rel=0.05)
    assert filled.ttft_s == pytest.approx(plain.ttft_s) and off.ttft_s == pytest.approx(plain.ttft_s)
    ((_, scenario),) = scenarios_of([{**base, **wait}])
    refitted = scenario.with_engine(dataclasses.replace(catalog.engine("trtllm"), prefill_scale=1.0))
    assert (refitted.engine.batch_wait_steps, refitted.engine.prefill_scale) == (20, 1.0)
    (bad,) = predict_rows([{**base, **wait, "batch_wait_max_tokens_ratio": 2}])
    assert not bad.feasible and "batch_wait_max_tokens_ratio" in bad.note
    rows = [r for r in catalog.measurements() if r["batch_wait_timeout_iters"]]
    assert len(rows) == 38 and {(r["model"], r["isl"], r["osl"]) for r in rows} == {("llama-3.1-70b", "1024", "1024"),
                                                                                   ("deepseek-v3", "1024", "1024")}


def test_a_scheduler_that_takes_requests_every_n_steps_delays_them_half_an_interval() -> None:
    """SGLang's --scheduler-recv-interval N: among decodes, new requests are taken in every N steps, so
    one waits N / 2 decode steps on average (less the share of time spent on prompts); 1 or 0 is every
    step. InferenceX's SGLang DeepSeek rows carry the interval their scripts set (30 from 16 clients, 10
    below)."""
    base = {"model": "qwen3-32b", "system": "hgx-b200", "engine": "sglang", "weights": "fp8", "isl": 1024,
            "osl": 1024, "concurrency": 4, "tp": 2}
    plain, every, thirty = predict_rows([base, {**base, "scheduler_recv_interval": 1},
                                         {**base, "scheduler_recv_interval": 30}])
    assert every.ttft_s == pytest.approx(plain.ttft_s)
    assert 0.8 * 15 * plain.tpot_s < thirty.ttft_s - plain.ttft_s <= 15 * plain.tpot_s
    rows = [r for r in catalog.measurements() if r["scheduler_recv_interval"]]
    assert len(rows) == 155 and {r["engine"] for r in rows} == {"sglang"}
    assert all(r["scheduler_recv_interval"] == ("30" if int(r["concurrency"]) >= 16 and
                                                not (r["weights"] == "fp8" and r["tp"] == "4") else "10")
               for r in rows)


def test_inferencex_sglang_transformers5_rows_carry_the_servers_prompt_length() -> None:
    """InferenceX's SGLang 0.5.10.post1 (transformers 5.3.0) DeepSeek runs before its client's tokenizer fix reached
    Hub ids (InferenceX#1381, 2026-05-15) sent prompts 35,921 / 7,140 = 5.0310 times the nominal length
    (InferenceX#937): 8,192 x 5.0310 = 41,213.6 -> 41,214 and 1,024 x 5.0310 = 5,151.7 -> 5,152 tokens, with the
    scripts' fp8 KV cache. All 31 are the B300 rows; the case id keeps the nominal length, and no other row moved
    (SGLang 0.5.9 pins transformers 4.57.1)."""
    rows = [r for r in catalog.measurements() if r["engine"] == "sglang" and r["engine_version"] == "0.5.10.post1"]
    assert len(rows) == 31 and {r["system"] for r in rows} == {"hgx-b300"}
    nominal = {r["case_id"]: int(r["case_id"].split("_agg_")[1].split("x")[0]) for r in rows}
    assert {(nominal[r["case_id"]], int(r["isl"])) for r in rows} == {(8192, 41214), (1024, 5152)}
    assert all(r["kv"] == "fp8" and "InferenceX#937" in r["note"] for r in rows)
    others = [r for r in catalog.measurements() if r["engine"] == "sglang" and r["engine_version"] != "0.5.10.post1"]
    assert others and all(int(r["isl"]) in (1024, 2048, 4000, 4096, 8192) for r in others)


def test_inferencex_trt_mtp_rows_carry_their_scripts_step_budget() -> None:
    """InferenceX's TensorRT-LLM DeepSeek-R1 MTP scripts set --max_num_tokens = ((MTP + 1) x CONC + ISL + 64 + 63)
    // 64 x 64 without attention DP: MTP-3 at 128 clients of 1,024-token prompts gives (512 + 1,151) // 64 x 64 =
    25 x 64 = 1,600; at 4 clients (16 + 1,151) // 64 x 64 = 18 x 64 = 1,152; at 4 clients of 8,192 tokens
    (16 + 8,319) // 64 x 64 = 130 x 64 = 8,320. Rows measured before the scripts existed keep the default."""
    rows = [r for r in catalog.measurements() if r["engine"] == "trtllm" and r["mode"] == "agg"
            and r["mtp_tokens"] == "3" and r["random_range_ratio"]]
    budget = {(r["isl"], r["concurrency"], r["max_num_tokens"]) for r in rows if r["max_num_tokens"]}
    assert ("1024", "128", "1600") in budget and ("1024", "4", "1152") in budget and ("8192", "4", "8320") in budget
    assert all(int(b) == ((4 * int(c) + int(i) + 127) // 64) * 64 for i, c, b in budget)
    assert all(bool(r["max_num_tokens"]) == (r["measured_on"] >= "2026-01-14") for r in rows)


def test_sglang_rows_with_several_deployments_take_what_every_one_agrees_on() -> None:
    """Where an SGLang DeepSeek row matches several InferenceX deployments, each side's layout and worker count
    that all of them share is taken (apply_agreed_sides in scripts/import_aiconfigurator.py), the source's attention
    DP 1 being lossy: the B200 FP8 1k/1k runs at 512-4,096 clients can only be `max-tpt-dep8-{1p5d,2p5d,1p2d}`
    (srt-slurm recipes/b200-fp8/1k1k.yaml), attention DP 8 on both sides; at 4,096 clients every candidate decodes
    on 5 workers, at 512 prefills on 1; the counts that differ stay parity's. TensorRT-LLM rows take a side only
    with its recipes' limits (apply_agreed_limits, the next test): H100 1k/1k at 462 clients still has its decode
    workers sized (3 workers of 8 DEP-16 or 128 TEP-16 sequences a rank)."""
    rows = [r for r in catalog.measurements() if r["engine"] == "sglang" and r["system"] == "hgx-b200"
            and r["mode"] == "disagg" and r["weights"] == "fp8" and r["isl"] == "1024"
            and int(r["concurrency"]) >= 512]
    assert sorted({int(r["concurrency"]) for r in rows}) == [512, 1024, 2048, 4096] and len(rows) == 15
    for r in rows:
        assert (r["prefill_tp"], r["prefill_attn_dp"], r["prefill_moe_ep"]) == ("1", "8", "8")
        assert (r["decode_tp"], r["decode_attn_dp"], r["decode_moe_ep"]) == ("1", "8", "8")
    workers = {(r["concurrency"], r["prefill_workers"], r["decode_workers"]) for r in rows}
    assert workers == {("512", "1", ""), ("1024", "", ""), ("2048", "", ""), ("4096", "", "5")}
    agreed = [r for r in catalog.measurements() if "every deployment agrees on" in r["note"]]
    assert len([r for r in agreed if r["engine"] == "sglang"]) == 63
    trt = [r for r in catalog.measurements() if r["engine"] == "trtllm" and r["system"] == "hgx-h100"
           and r["mode"] == "disagg" and r["concurrency"] == "462"]
    assert trt and all(not r["decode_workers"] and r["decode_attn_dp"] == "1" for r in trt)


def test_trtllm_rows_with_several_deployments_take_the_sides_whose_recipes_agree() -> None:
    """Where a TensorRT-LLM DeepSeek row matches several InferenceX deployments, a side is taken only with its
    recipes' per-rank limits, where every candidate agrees on both (apply_agreed_limits in
    scripts/import_aiconfigurator.py). B300 FP8 1k/1k at 3,072 clients can be `ctx1_gen1_dp8_batch256_eplb0_mtp1`
    or `ctx1_gen2_dp8_batch128_eplb0_mtp0` (NVIDIA/srt-slurm recipes/trtllm/b300-fp8/1k1k): one context worker of
    attention DP 4 with experts in MoE TP 4 (max_batch_size 8, max_num_tokens 8,320) in both, decode workers and
    batches that differ (left to parity); at 8k/1k and 512 clients (`ctx3_gen1_dp8_batch64_eplb0_mtp0`,
    `ctx4_gen1_dp8_batch64_eplb0_mtp2`) the decode side agrees too (one DP 8 worker of 64 sequences a rank) and the
    context worker count does not. 14 rows: 6 on B300, 5 on B200, 3 on H100."""
    agreed = [r for r in catalog.measurements() if r["engine"] == "trtllm" and "every deployment agrees on" in r["note"]]
    assert len(agreed) == 14
    assert sorted(r["system"] for r in agreed).count("hgx-b300") == 6
    b300 = {(r["isl"], r["concurrency"]): r for r in agreed if r["system"] == "hgx-b300"}
    short = b300[("1024", "3072")]
    assert (short["prefill_workers"], short["prefill_tp"], short["prefill_attn_dp"], short["prefill_moe_tp"],
            short["prefill_moe_ep"], short["prefill_batch"], short["max_num_tokens"]) == ("1", "1", "4", "4", "1", "8",
                                                                                          "8320")
    assert (short["decode_workers"], short["decode_batch"], short["decode_attn_dp"]) == ("", "", "1")
    long = b300[("8192", "512")]
    assert (long["prefill_workers"], long["prefill_attn_dp"], long["decode_workers"], long["decode_attn_dp"],
            long["decode_moe_tp"], long["decode_batch"]) == ("", "4", "1", "8", "8", "64")


def test_rows_without_a_recorded_client_count_are_reference_rows() -> None:
    """15 rows of the source (Qwen3 4,000/1,000 on H100) record no client count; the importer writes the largest
    batch the deployment holds and lists them as `reference` rows, never fitted or scored. At that bound vLLM's
    disaggregated Qwen3-32B FP8 run (448 clients on two TP4 decode workers of 224) could not have run as measured:
    per GPU a step reads 8.2 GB of FP8 weights and 224 x 4,500 x 131,072 B / 4 = 33.0 GB of an FP8 KV cache,
    12.3 ms at the H100's full 3.35 TB/s, against 8.7 ms measured."""
    rows = [r for r in catalog.measurements() if r["split"] == "reference"]
    assert len(rows) == 15 and all(r["note"].startswith("concurrency not recorded: at most") for r in rows)
    assert {r["model"] for r in rows} == {"qwen3-32b", "qwen3-235b-a22b-fp8"} and {r["isl"] for r in rows} == {"4000"}
    (run,) = [r for r in rows if r["engine"] == "vllm" and r["mode"] == "disagg" and r["model"] == "qwen3-32b"]
    assert (run["concurrency"], run["decode_workers"], run["decode_batch"], run["decode_tp"]) == ("448", "2", "224", "4")
    model, chip = catalog.model("qwen3-32b"), catalog.chip("nvidia-h100-sxm")
    kv_fp8 = model.kv_elements_per_token()  # one byte an element
    per_gpu = (model.parameters + 224 * 4500 * kv_fp8) / 4
    assert kv_fp8 == 131072 and per_gpu / chip.memory_bytes_per_s == pytest.approx(12.3e-3, abs=0.1e-3)
    assert per_gpu / chip.memory_bytes_per_s > float(run["measured_tpot_s"]) == pytest.approx(8.75e-3, abs=0.01e-3)


def test_predict_knows_every_column_a_case_reads() -> None:
    """READ_COLUMNS, which `parity predict` checks a cases table's header against, is what case_from_row reads of
    an aggregated, a disaggregated and a decode-phase row, no more and no less: a column read but not listed would
    be refused, one listed but not read accepted and ignored."""
    from parity.predict.case import case_from_row  # noqa: PLC0415
    from parity.predict.columns import READ_COLUMNS  # noqa: PLC0415

    seen: set[object] = set()

    class Recording(dict):
        def get(self, key: object, default: object = None) -> object:
            seen.add(key)
            return super().get(key, default)

    base = {"model": "deepseek-r1", "system": "hgx-h200", "isl": 1024, "osl": 128, "concurrency": 8, "tp": 8}
    # a phase row's clients are its batch: its concurrency cell is read to be refused where given
    for extra in ({}, {"mode": "disagg"}, {"phase": "decode", "batch": 8, "context": 100, "concurrency": ""}):
        case_from_row(Recording({**base, **extra}))
    assert seen - {None} == set(READ_COLUMNS)  # None: csv's key for cells past the header


@pytest.mark.parametrize(("case", "said"), [
    (CASES[0], None),  # llama-3.1-8b: dense
    (CASES[2], None),  # qwen3-32b: dense
    (CASES[4], "expert imbalance 1.2"),  # gpt-oss-120b: 128 experts tensor-parallel
    (CASES[3], "expert imbalance 1.2"),  # deepseek-r1: 256 experts over 8 EP ranks in index order
    ({**CASES[3], "redundant_experts": 32}, "EPLB placement (32 redundant, 0 shared-expert replicas): 36 expert "
                                            "slots per rank over 8 ranks"),
])
def test_the_steady_note_says_an_expert_imbalance_only_of_a_model_with_experts(case: dict, said: str | None) -> None:
    """Every dense model's steady note said 'expert imbalance 1.2' (Qwen3-8B, Llama-3.1-8B on H100, MI300X, A3):
    serving.steady called placement_note unconditionally where phase guarded it (report-only tester fuzzCA 5). A
    model with experts says its imbalance or placement; a dense one says nothing of experts."""
    (note,) = [n for n in predicted(case, 1024.0, 128.0, np.array([8.0])).assumptions if "first token waits" in n]
    if said is None:
        assert "expert" not in note and note.split("; ")[-1].endswith("steps beyond its prefill"), note
    else:
        assert said in note.split("beyond its prefill; ")[1], note


@pytest.mark.parametrize(("system", "engine", "runtime"), [
    ("hgx-h100", "vllm", "CUDA context"),
    ("mi300x-platform", "vllm", "ROCm/HIP context"),
    ("atlas-800-a3", "sglang", "CANN runtime context"),
])
def test_the_runtime_reserve_is_said_in_the_chips_own_stack(system: str, engine: str, runtime: str) -> None:
    """The steady note said '3 GB more (CUDA context, graphs and communication buffers...)' on an Ascend 910C and an
    MI300X too (report-only tester fuzzCA 6): the reserve is the chip's software stack's runtime (memory.
    runtime_reserve_text), and a stack without words of its own (Moore Threads' musa) is said generically."""
    from parity.memory import runtime_reserve_text

    s = scenario_from_row({"model": "llama-3.1-8b", "system": system, "engine": engine, "tp": 1, "isl": 1024,
                           "osl": 128, "concurrency": 1})
    r = serve_aggregated(deployment(s, s.layout), s.engine,
                         Workload(isl=1024.0, osl=128.0, concurrency=np.array([8.0])))
    (note,) = [n for n in r.assumptions if "holds back" in n]
    assert f"and 3 GB more ({runtime}, graphs and communication buffers: an assumption)" in note, note
    assert runtime_reserve_text("musa") == "the runtime's context, graphs and communication buffers"
