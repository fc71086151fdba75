"""TensorRT-LLM's attention-DP decode floor (EngineProfile.decode_host_token_s, step.decode_host_floor) in the
steady-state model: where it binds, where not, its sentence among the assumptions, the search's vectorised decode
rates, and the steady model agreeing with the simulator, which applies the same floor."""

from __future__ import annotations

import dataclasses
import tomllib

import numpy as np
import pytest

from parity import catalog
from parity.catalog.engine_file import profile_from
from parity.errors import CatalogError
from parity.plan import Layout, LayoutGrid
from parity.predict import deployment, scenario_from_row, simulate_scenario
from parity.predict.steady import _solve
from parity.search import decode_rates
from parity.step import decode_host_floor, decode_step

DEP8 = "dsr1_b200_trtllm_fp4_disagg_1024x1024_c4096_cfg309"  # B200 NVFP4, decode worker of attention DP 8
GPT_OSS = "2026_03_25_gpt_oss_120b_b200_sxm_trtllm_fp4_agg_1024x1024_c256_tp2_0_ep2_0_1009"  # aggregated, DP 2


def _scenario(case_id: str):
    return scenario_from_row(next(r for r in catalog.measurements() if r["case_id"] == case_id))


def _without_floor(scenario):
    return scenario.with_engine(dataclasses.replace(scenario.engine, decode_host_token_s=0.0))


def test_the_floor_is_the_ranks_decode_tokens_times_the_host_time() -> None:
    """The B200 NVFP4 DEP 8 decode worker at 90 us a token: at 512 sequences a rank the device step (well under it)
    becomes 512 x 90 us = 46.08 ms, with 3 MTP drafts 512 x 4 x 90 us = 184.32 ms; at 16 a rank the device's step
    stands (over 16 x 90 us = 1.44 ms); a TP 8 worker (no attention DP) keeps its device step."""
    scenario = _scenario(DEP8)
    dep = deployment(scenario, scenario.decode_layout, decode=True)
    assert int(dep.layout.attn_dp) == 8
    big, _ = decode_step(dep, 512.0, 1536.0)
    assert float(big) < 0.042
    assert float(decode_host_floor(dep, big, 512.0, 90e-6)) == pytest.approx(0.04608)
    mtp = dataclasses.replace(dep, mtp_tokens=3, mtp_acceptance=1.82)
    assert float(decode_host_floor(mtp, decode_step(mtp, 512.0, 1536.0)[0], 512.0, 90e-6)) == pytest.approx(0.18432)
    small, _ = decode_step(dep, 16.0, 1536.0)
    assert float(small) > 16 * 90e-6 and float(decode_host_floor(dep, small, 16.0, 90e-6)) == float(small)
    tp = dataclasses.replace(dep, layout=Layout(tp=8, moe_tp=1, moe_ep=8))
    tp_step = float(decode_step(tp, 512.0, 1536.0)[0])
    assert 0 < tp_step < 0.04608 and float(decode_host_floor(tp, tp_step, 512.0, 90e-6)) == tp_step


def test_the_steady_decode_waits_for_the_floor_at_a_large_batch_and_not_at_a_small_one() -> None:
    """The calibration row at 4,096 clients on one decode worker (about 490 a rank): steady TPOT 36.1 ms without the
    floor, 43.3 ms with it (measured 44.9 ms), and its assumptions name the floor; at 64 clients (8 a rank) the floor
    does not bind and TPOT is the same to the bit."""
    scenario = _scenario(DEP8)
    floored, plain = _solve([scenario]), _solve([_without_floor(scenario)])
    assert float(plain.tpot_s[0]) == pytest.approx(0.0361, rel=0.01)
    assert float(floored.tpot_s[0]) == pytest.approx(0.0433, rel=0.01)
    assert any("attention-DP decode step lasts at least 90 us a sequence of its rank" in n for n in floored.assumptions)
    few = dataclasses.replace(scenario, concurrency=64)
    assert float(_solve([few]).tpot_s[0]) == float(_solve([_without_floor(few)]).tpot_s[0])


@pytest.mark.e2e
def test_the_steady_model_and_the_simulator_agree_where_the_floor_binds() -> None:
    """With the floor in both models, steady and simulated TPOT agree within 2.5%: the DEP 8 row at 4,096 clients 44.1
    against 44.2 ms (the steady model 14% short without it: 38.0 ms), gpt-oss-120b at attention DP 2 and 256 clients
    11.8 against 12.1 ms (10.1 ms without; 2% until Blackwell's HBM was measured, the simulator's mixed steps feeling
    the slower decode attention more than the steady model's mean step)."""
    for case_id, short in ((DEP8, 0.87), (GPT_OSS, 0.87)):
        scenario = _scenario(case_id)
        simulated = simulate_scenario(scenario).tpot_s
        assert float(_solve([scenario]).tpot_s[0]) == pytest.approx(simulated, rel=0.025)
        assert float(_solve([_without_floor(scenario)]).tpot_s[0]) < short * simulated


def test_the_searchs_decode_rates_floor_attention_dp_layouts_only() -> None:
    """decode_rates over a grid of TP 8 and attention DP 8 (EP 8) decode workers of DeepSeek-R1 on B200, 16 and 512
    sequences a rank: only attention DP 8 at 512 moves, to 512 x 90 us = 46.08 ms a step (one token kept a step)."""
    model, system = catalog.model("deepseek-r1"), catalog.system("hgx-b200")
    scenario = _scenario(DEP8)
    grid = LayoutGrid.of([Layout(tp=8, moe_tp=1, moe_ep=8), Layout(attn_dp=8, moe_tp=1, moe_ep=8)])
    args = (model, system, grid, scenario.precision, catalog.calibration(system.chip))
    trtllm = catalog.engine("trtllm")
    floored = decode_rates(*args, trtllm, 1024, 1024, np.array([16.0, 512.0]))
    plain = decode_rates(*args, dataclasses.replace(trtllm, decode_host_token_s=0.0), 1024, 1024,
                         np.array([16.0, 512.0]))
    moved = floored["tpot"] != plain["tpot"]
    assert moved.tolist() == [False, False, False, True]
    assert floored["tpot"][3] == pytest.approx(0.04608)


def test_a_file_with_the_old_simulator_key_is_told_its_new_name() -> None:
    """The floor was the simulator's sim_decode_host_token in [simulator] until both models read it: a file that
    still has it is refused naming the key's new name and section."""
    data = tomllib.loads(catalog.engine_text("trtllm"))
    host = {k: v for k, v in data["host"].items() if k != "decode_host_token"}
    old = {**data, "host": host, "simulator": {**data["simulator"], "sim_decode_host_token": "90 us"}}
    with pytest.raises(CatalogError, match=r"key 'sim_decode_host_token' in \[simulator\] is now 'decode_host_token' "
                                           r"in \[host\]"):
        profile_from(old, "engines/old.toml")


def test_a_fixed_batch_decode_step_takes_the_floor_too() -> None:
    """serve --phase decode's step (phase.decode_benchmark) on the DEP 8 decode worker: 4,096 sequences (512 a rank)
    at 90 us a token take 46.08 ms and say so; without the floor the device's step is shorter."""
    from parity.phase import decode_benchmark

    scenario = _scenario(DEP8)
    dep = deployment(scenario, scenario.decode_layout, decode=True)
    floored = decode_benchmark(dep, 4096, 1536, host_token_s=90e-6)
    assert float(floored.step_s) == pytest.approx(0.04608)
    assert float(decode_benchmark(dep, 4096, 1536).step_s) < 0.042
    assert any("at least 90 us a sequence of its rank" in n for n in floored.assumptions)
