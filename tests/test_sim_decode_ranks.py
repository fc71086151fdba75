"""Attention-DP ranks that carry fewer decoding sequences than the busiest one (ops.Batch.decode_ranks): the experts
see the sequences decoding over the ranks, not the busiest rank's count on every rank. DeepSeek-R1 on 8 H200s at
attention DP 8, EP 8 (SGLang), 1,024 in / 1,024 out: a lone client's decode step is 13.1 ms (one token to the
experts: 8 of 256 experts read, 1 on each EP rank's 32), not the 16.7 ms of 8 clients (8 tokens, ~57 experts), where
its experts see only the real tokens (DeepEP masks padded rows from 0.4.7); SGLang without an all-to-all backend, as
parity's profile runs it, pads every rank to the busiest and routes the padded rows (decode_padded_experts)."""

from __future__ import annotations

import dataclasses

import pytest

from parity.ops import Batch
from parity.phase import decode_benchmark
from parity.predict import deployment, predict_rows, scenario_from_row, simulate_scenario
from parity.simulate.tables import _rank_axis, step_table
from parity.step import decode_spread, step_cost

ROW = dict(model="deepseek-r1", system="hgx-h200", engine="sglang", tp=1, attn_dp=8, moe_ep=8, isl=1024, osl=1024,
           concurrency=1)


def _dep8(row: dict = ROW, padded: bool = False):
    """The DEP8 worker; padded False: its experts see only the real tokens (SGLang with DeepEP)."""
    scenario = scenario_from_row(row)
    return dataclasses.replace(deployment(scenario, scenario.layout), decode_padded=padded)


def _step_s(decode_ranks: float | None, sequences: float = 1.0, context: float = 1536.0, dep=None) -> float:
    return float(step_cost(dep or _dep8(), Batch(decode_tokens=sequences, decode_context=context,
                                                 decode_ranks=decode_ranks)).time_s)


def test_sglang_without_deepep_routes_the_padded_rows_of_every_rank() -> None:
    """SGLang's profile (no --moe-a2a-backend, as its CUDA recipes launch it) pads each rank's decodes to the busiest
    rank's and its experts compute the padded rows: a lone sequence costs the batch-8 step, 16.72 ms, however many
    ranks carry it; the same worker with the padded rows masked, 13.12 ms on one rank."""
    scenario = scenario_from_row(ROW)
    padded = deployment(scenario, scenario.layout)
    assert padded.decode_padded
    assert [round(_step_s(e, dep=padded) * 1e3, 2) for e in (1.0, 4.0, None)] == [16.72, 16.72, 16.72]
    assert round(_step_s(1.0) * 1e3, 2) == 13.12


def test_group_tokens_count_the_decodes_of_the_ranks_that_carry_them() -> None:
    """2 sequences of width 2 (MTP 1) on 3 of 8 ranks and 100 prompt tokens on 1: 2 x 2 x 3 + 100 x 1 = 112 tokens
    to the experts; every rank carrying both (the default): 2 x 2 x 8 + 100 x 8 = 832; decodes on 3, prompts on all
    8: 12 + 800 = 812."""
    assert Batch(decode_tokens=2.0, decode_width=2.0, prefill_tokens=100.0, prefill_ranks=1.0,
                 decode_ranks=3.0).group_tokens(8) == 112.0
    assert Batch(decode_tokens=2.0, decode_width=2.0, prefill_tokens=100.0).group_tokens(8) == 832.0
    assert Batch(decode_tokens=2.0, decode_width=2.0, prefill_tokens=100.0, decode_ranks=3.0).group_tokens(8) == 812.0


def test_a_mean_under_one_sequence_a_rank_is_one_sequence_on_that_many_ranks() -> None:
    """decode_spread: 0.125 a rank on 8 ranks (a lone client) is 1 sequence on 1 rank; 0.5 is 1 on 4; 1.5 is 1.5 on
    all 8; without attention DP 0.5 is 1 on the one rank; 1 / 16 (a lone client over 2 workers) still 1 on 1."""
    assert [tuple(float(v) for v in decode_spread(mean, d)) for mean, d in
            ((0.125, 8), (0.5, 8), (1.5, 8), (0.5, 1), (1 / 16, 8))] == \
        [(1.0, 1.0), (1.0, 4.0), (1.5, 8.0), (1.0, 1.0), (1.0, 1.0)]


def test_a_lone_sequence_on_dep8_sends_one_token_to_the_experts() -> None:
    """One sequence at 1,536 tokens of context: on 1 of the 8 ranks 13.12 ms, on 4 14.75 ms, on all 8 16.72 ms (the
    batch-8 step). The expert GEMMs of 1 token read its 8 experts' weights: on each EP rank's 32 experts
    32 x (1 - (1 - 1/256)^8) = 0.98 of them, floored at 1 (a rank with an assignment reads one expert); of 8 tokens
    32 x (1 - (1 - 1/256)^64) = 7.10."""
    assert [round(_step_s(e) * 1e3, 2) for e in (1.0, 4.0, None)] == [13.12, 14.75, 16.72]
    from parity.plan import device_step
    dep = _dep8()
    for ranks, experts in ((1.0, 1.0), (None, 7.10)):
        step = device_step(dep.model, Batch(decode_tokens=1.0, decode_context=1536.0, decode_ranks=ranks), dep.shard,
                           dep.precision)
        up = next(k for k in step.kernels if k.name == "expert_up")
        per_expert = 7168 * 2 * 2048 * 1.0  # fp8_block weights: rows x cols x 1 B (scales aside)
        assert float(up.weight_bytes) / per_expert == pytest.approx(experts, rel=0.01)


def test_phase_decode_of_fewer_sequences_than_ranks_prices_the_busiest_rank() -> None:  # padded rows masked
    """--phase decode --batch 1 on DEP8: the busiest rank decodes 1 sequence, the experts see 1 token: the step of
    Batch(decode_tokens=1, decode_ranks=1), 13.12 ms (it priced 0.125 a rank, 13.05 ms, before); batch 12: 2 on the
    busiest, 12 to the experts (decode_ranks 6)."""
    dep = _dep8()
    assert float(decode_benchmark(dep, 1, 1536.0).step_s) == pytest.approx(_step_s(1.0), rel=1e-12)
    assert float(decode_benchmark(dep, 12, 1536.0).step_s) == pytest.approx(_step_s(6.0, 2.0), rel=1e-12)
    assert float(decode_benchmark(dep, 8, 1536.0).step_s) == pytest.approx(_step_s(None), rel=1e-12)


def test_the_step_table_reads_the_carrying_ranks_within_its_stated_error() -> None:
    """The simulator's table on DEP8 (carrying ranks 1, 2, 4, 8) at a grid batch and context: exact at the points,
    and between them as tables.StepTable states (at most 2.0% low: 9 sequences on 6 ranks reads 1.4-2.0% low)."""
    assert _rank_axis(8) == (1.0, 2.0, 4.0, 8.0) and _rank_axis(1) == (1.0,) and _rank_axis(6) == (1.0, 2.0, 4.0, 6.0)
    dep = _dep8()
    table = step_table(dep, 64.0, 2048.0, 1024.0)
    context = table.contexts[4]
    for sequences in (1.0, 9.0):
        for ranks in (1.0, 2.0, 4.0, 8.0):
            assert table.decode_time_s(sequences, context, sequences * ranks) == pytest.approx(
                _step_s(ranks, sequences, context), rel=1e-9)
        between = table.decode_time_s(sequences, context, sequences * 6.0) / _step_s(6.0, sequences, context) - 1.0
        assert -0.021 < between < -0.001
    assert table.decode_time_s(1.0, context) == table.decode_time_s(1.0, context, 8.0)  # None: every rank carries


@pytest.mark.e2e
def test_a_lone_client_on_dep8_decodes_at_the_one_token_step_in_both_models() -> None:
    """The closed loop of 1 client (10 requests of 1,024 in / 1,024 out): the simulator's TPOT is the step of 1
    sequence on 1 rank at the mean context 1,536 (its steps run at contexts 1,024 to 2,047, linear in context), and
    the steady model's the same step, on an engine whose experts see only the real tokens (TensorRT-LLM here)."""
    row = ROW | {"engine": "trtllm"}  # its experts see the real tokens (no padding modelled)
    scenario = scenario_from_row(row)
    one = _step_s(1.0, dep=_dep8(row))
    assert simulate_scenario(scenario).tpot_s == pytest.approx(one, rel=1e-3)  # its table's interpolation
    assert predict_rows([row], model_kind="steady")[0].tpot_s == pytest.approx(one, rel=1e-9)
    assert one < _step_s(None, dep=_dep8(row)) * 0.85


@pytest.mark.e2e
def test_four_clients_on_eight_ranks_decode_on_four() -> None:
    """Concurrency 4 < attention DP 8 on an engine whose experts see only the real tokens (TensorRT-LLM): the
    simulator's four sequences sit on 4 ranks, one each (least-loaded routing), and its TPOT is that step; the steady
    model prices the same step and stretches it by the other clients' prompts; SGLang, which pads, decodes the
    batch-8 step."""
    row = ROW | {"engine": "trtllm", "concurrency": 4}
    four, eight = _step_s(4.0, dep=_dep8(row)), _step_s(None, dep=_dep8(row))
    assert four < eight
    assert simulate_scenario(scenario_from_row(row)).tpot_s == pytest.approx(four, rel=5e-3)  # contexts interpolated
    assert four <= float(predict_rows([row], model_kind="steady")[0].tpot_s) < eight * 1.1
    sglang = simulate_scenario(scenario_from_row(ROW | {"concurrency": 4})).tpot_s
    assert sglang == pytest.approx(_step_s(None, dep=_dep8(ROW, padded=True)), rel=1e-3)
