"""The step-level simulator (parity.simulate): hand-checked runs on made-up step tables, and agreement
with the steady-state model where both should hold."""

from __future__ import annotations

import dataclasses
import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parity import catalog
from parity.errors import ParityError
from parity.flags import Flag
from parity.memory import kv_bytes_per_token_per_device
from parity.plan import Shard
from parity.predict import deployment, predict_scenarios, scenario_from_row, simulate_scenario
from parity.simulate import (Benchmark, ClientProfile, StepTable, client_profile, kv_transfer_s, run_aggregated,
                             run_disaggregated, scheduler_of)
from parity.simulate.policies import Mtp
from parity.simulate.results import _percentiles

FIXED = ClientProfile(id="test", num_prompts=1, range_ratio=1.0, source="test")
GRID = dict(batches=(0.0, 1.0, 2.0, 4.0, 8.0, 64.0), contexts=(1.0, 1000.0, 10000.0),
            prefills=(0.0, 1000.0, 2000.0, 8192.0))


def linear(b: float, c: float, p: float) -> float:
    """10 ms per step, 1 ms per decoding sequence, 0.01 ms per prompt token."""
    return 0.010 + 0.001 * b + 0.00001 * p


def scheduler(budget: int = 8192, mixed: bool = True, capacity: float = 1e6, on_demand: bool = False):
    engine = dataclasses.replace(catalog.engine("vllm"), max_num_tokens=budget, mixes_prefill=mixed,
                                 kv_on_demand=on_demand, ttft_overhead_s=0.0, disagg_ttft_overhead_s=0.0,
                                 sim_first_token_steps=0.0)
    sched = scheduler_of(engine, capacity)
    return dataclasses.replace(sched, kv=dataclasses.replace(sched.kv, block_tokens=1))


def bench(isl: int, osl: int, clients: int, prompts: int) -> Benchmark:
    return Benchmark(isl=isl, osl=osl, concurrency=clients, client=FIXED, num_prompts=prompts)


def test_one_client_waits_for_nothing_but_its_prefill_and_decode_steps() -> None:
    """One client, isl 1000, osl 101, step = 10 ms + 1 ms/sequence + 0.01 ms/prompt token, no overheads:
    TTFT = its prefill step alone = 10 + 0.01 x 1000 = 20 ms; each later token one decode step of one
    sequence = 10 + 1 = 11 ms (TPOT = ITL = 11 ms); E2E = 20 + 100 x 11 = 1,120 ms."""
    table = StepTable.of(linear, **GRID)
    r = run_aggregated(table, scheduler(), bench(1000, 101, 1, 1))
    assert r.latency["ttft_s"] == pytest.approx(0.020)
    assert r.latency["tpot_s"] == pytest.approx(0.011)
    assert r.latency["itl_p99_s"] == pytest.approx(0.011)
    assert r.latency["e2e_s"] == pytest.approx(1.120)
    assert r.output_tokens_per_s == pytest.approx(101 / 1.120)


def test_clients_arriving_together_wait_one_prefill_step_per_group_ahead() -> None:
    """Six clients send 1,000-token prompts at once to an engine with a 2,000-token budget whose prompt
    steps pause decodes: groups of B / isl = 2 prompts, each step 10 + 0.01 x 2000 = 30 ms, so the k-th
    group's first token comes after k steps: TTFT 30, 30, 60, 60, 90, 90 ms (mean and median 60 ms)."""
    table = StepTable.of(linear, **GRID)
    r = run_aggregated(table, scheduler(budget=2000, mixed=False), bench(1000, 2, 6, 6))
    assert r.latency["ttft_s"] == pytest.approx(0.060)
    assert r.latency["ttft_p50_s"] == pytest.approx(0.060)
    assert r.latency["ttft_p99_s"] == pytest.approx(0.090, rel=0.01)


def test_kv_exhaustion_preempts_the_latest_request_once() -> None:
    """Two clients, isl 1000, osl 1000, on-demand KV of 3,000 tokens (blocks of 1). One prompt step of
    2,000 tokens (30 ms) gives both their first token; they then hold 2 x 1,001 + 2 per decode step of
    12 ms, 3,000 after step 499 (t = 30 + 499 x 12 = 6,018 ms), so step 500 would overcommit the cache: before it
    the later one is preempted with 500 tokens out. The other ends 500 steps of 11 ms later (A = 11,518 ms); the
    preempted one's prompt and output so far (1,499 tokens) fit only then: re-prefill 10 + 14.99 ms, then its last
    500 tokens at 11 ms (B = 11,518 + 24.99 + 5,500 = 17,042.99 ms). Mean E2E (A + B) / 2 = 14,280.495 ms; one
    preemption, and the KV cache never past full."""
    table = StepTable.of(linear, **GRID)
    r = run_aggregated(table, scheduler(capacity=3000, on_demand=True), bench(1000, 1000, 2, 2), timeline=True)
    assert r.preemptions == 1
    assert r.requests == 2
    assert max(rec["kv_used_fraction"] for rec in r.timeline) == 1.0
    assert r.latency["e2e_s"] == pytest.approx(14.280495)
    # the preempted request waited for KV room to come back: the run is KV-bound, and says so
    assert r.kv_waited == 1
    assert r.kv_flag() == Flag("KV-bound run", "KV-bound run (1 of 2 requests waited for KV room, 1 preempted): its "
                                               "TTFT turns on the KV capacity")


def test_the_timelines_queue_counts_only_requests_that_have_arrived() -> None:
    """Five requests one second apart, each served (20 ms prompt step, one 11 ms decode step) long before the next
    is sent: nothing ever waits, yet the timeline counted every later send as queued (4, 4, 3, 3, ...). Now 0 in every
    row, with the engine's steps at 0.020, 0.031, 1.020, 1.031 s and so on."""
    table = StepTable.of(linear, **GRID)
    b = Benchmark(isl=1000, osl=2, concurrency=1, client=FIXED, num_prompts=5, request_rate=1.0, poisson=False)
    r = run_aggregated(table, scheduler(), b, timeline=True)
    assert [rec["queued"] for rec in r.timeline] == [0] * 10
    assert [rec["time_s"] for rec in r.timeline][:4] == pytest.approx([0.020, 0.031, 1.020, 1.031])


def test_poisson_arrivals_start_at_the_first_send_on_both_the_timeline_and_the_duration() -> None:
    """vLLM's and SGLang's clients send the first request at once, then wait a drawn gap before each next one. The
    simulated stream waited a gap before the first too, so the timeline's clock ran ahead of duration_s (first send
    to last token) by that gap. Now the first request is sent at 0: its prompt step (20 ms) is the first row, and the
    last row, the last token's step (no output lag here), is at duration_s."""
    table = StepTable.of(linear, **GRID)
    b = Benchmark(isl=1000, osl=5, concurrency=1, client=FIXED, num_prompts=10, request_rate=2.0)
    r = run_aggregated(table, scheduler(), b, timeline=True)
    assert r.timeline[0]["time_s"] == pytest.approx(0.020)
    assert r.timeline[-1]["time_s"] == pytest.approx(r.duration_s)


def test_a_disaggregated_timeline_is_in_time_order() -> None:
    """Two prefill and two decode workers advance in turn, so their records came interleaved: 2 of these 59 rows
    stepped back in time. They are sorted by time, each worker's own order kept."""
    table = StepTable.of(linear, **GRID)
    r = run_disaggregated(table, scheduler(budget=2000), table, scheduler(), bench(1000, 30, 8, 24), transfer_s=0.050,
                          prefill_workers=2, decode_workers=2, timeline=True)
    times = [rec["time_s"] for rec in r.timeline]
    assert len(times) == 59 and times == sorted(times)


def test_a_mixed_step_never_overcommits_the_kv_cache() -> None:
    """Eight requests of 100 + 200 tokens, 50 ms apart, on 1,500 tokens of on-demand KV: a preempted request's
    prompt and output so far were prefilled again in a step whose six decodes each grew a token past what admission
    left room for, and the timeline showed the cache at 1,505 of 1,500 tokens (1.0033). Admission now leaves room for
    the step's decodes, and a step that would outgrow the cache preempts before it: at most 1,496 tokens (0.99733),
    and one preemption fewer (3, not 4)."""
    table = StepTable.of(linear, **GRID)
    b = Benchmark(isl=100, osl=200, concurrency=1, client=FIXED, num_prompts=8, request_rate=20.0, poisson=False)
    r = run_aggregated(table, scheduler(capacity=1500, on_demand=True), b, timeline=True)
    assert max(rec["kv_used_fraction"] for rec in r.timeline) == pytest.approx(1496 / 1500)
    assert r.preemptions == 3


def test_a_preempted_requests_wait_out_of_the_batch_is_one_long_gap_between_its_chunks() -> None:
    """Two clients, isl 1000, osl 30, on-demand KV of 2,020 tokens: one prompt step (30 ms) gives both their first
    token; they hold 2,002 + 2 per decode step of 12 ms, 2,020 after step 9 (t = 138 ms), so before step 10 (which
    would overcommit the cache) the later one is preempted with 10 tokens out. The other ends 20 steps of 11 ms later
    (358 ms); the preempted one's prompt and output so far (1,009 tokens) are prefilled again (10 + 10.09 ms) and its
    next chunk comes one 11 ms step later, at 389.09 ms: a gap of 251.09 ms, as a benchmark client times it. Its 19
    later gaps are 11 ms (done at 598.09 ms). Gaps: 18 of 12 ms, 39 of 11 ms, one of 251.09 ms: mean 896.09 / 58 =
    15.450 ms, which is the mean TPOT ((358 - 30) / 29 and (598.09 - 30) / 29); p50 11 ms, p90 12 ms, p99 251.09 ms
    (the 58th of 58 gaps)."""
    table = StepTable.of(linear, **GRID)
    r = run_aggregated(table, scheduler(capacity=2020, on_demand=True), bench(1000, 30, 2, 2))
    assert r.preemptions == 1
    assert r.latency["tpot_s"] == pytest.approx(0.89609 / 58)
    assert [r.latency[k] for k in ("itl_s", "itl_p50_s", "itl_p90_s", "itl_p99_s")] == pytest.approx(
        [0.89609 / 58, 0.011, 0.012, 0.25109])


def test_prompt_steps_apart_from_decodes_stall_every_decoding_request_for_one_gap() -> None:
    """The six clients of 1,000-token prompts with a 2,000-token budget, prompt steps apart from decodes, osl 2:
    prompt steps of 30 ms end at 30, 60 and 90 ms, then one decode step of six sequences (16 ms) ends at 106 ms.
    The groups' one gap each is 76, 46 and 16 ms, the time since their first token (not the 16 ms step alone):
    ITL mean 46 ms = TPOT, p50 46 ms, p90 76 ms."""
    table = StepTable.of(linear, **GRID)
    r = run_aggregated(table, scheduler(budget=2000, mixed=False), bench(1000, 2, 6, 6))
    assert [r.latency[k] for k in ("tpot_s", "itl_s", "itl_p50_s", "itl_p90_s")] == pytest.approx(
        [0.046, 0.046, 0.046, 0.076])


def test_with_mtp_a_gap_is_timed_once_per_chunk_as_vllms_client_does() -> None:
    """One drafted token always accepted: each 11 ms decode step streams a chunk of two tokens. vLLM's
    benchmark client times one gap per chunk (11 ms), while TPOT spreads the time over the tokens (5.5 ms)."""
    table = StepTable.of(linear, **GRID)
    r = run_aggregated(table, dataclasses.replace(scheduler(), mtp=Mtp(tokens=1, acceptance=1.0)),
                       bench(1000, 101, 1, 1))
    assert (r.latency["tpot_s"], r.latency["itl_s"], r.latency["itl_p99_s"]) == pytest.approx((0.0055, 0.011, 0.011))


@pytest.mark.parametrize("engine, model, system", [("vllm", "qwen3-32b", "hgx-h20"),  # preempts
                                                   ("sglang", "qwen3-32b", "hgx-h20"),  # preempts, overlap, lag
                                                   ("trtllm", "llama-3.1-8b", "hgx-h100")])
def test_fixed_lengths_make_the_mean_gap_the_mean_tpot(engine: str, model: str, system: str) -> None:
    """Every request of a fixed output length has osl - 1 gaps adding up to its E2E less its TTFT, so the mean
    over every gap is the mean TPOT (within the uncounted first wave and the output path's drift), stalls and
    preemptions included; the percentiles are in order."""
    row = dict(model=model, system=system, engine=engine, isl=128, osl=2048, concurrency=64, tp=1)
    r = simulate_scenario(scenario_from_row(row), Benchmark(isl=128, osl=2048, concurrency=64, client=FIXED,
                                                            num_prompts=256))
    lat = r.latency
    assert lat["itl_s"] == pytest.approx(lat["tpot_s"], rel=0.01)
    assert lat["itl_p50_s"] <= lat["itl_p90_s"] <= lat["itl_p99_s"]
    assert (r.preemptions > 0) == (engine != "trtllm")


def test_reserved_kv_never_preempts_and_queues_instead() -> None:
    """The same run with the whole length reserved at admission (2,000 tokens each, 3,000 free): the
    second request waits for the first to end; nothing is preempted. Its TTFT is the first request's
    E2E (20 + 999 x 11 = 11,009 ms) plus its own 20 ms prefill step; mean TTFT (20 + 11,029) / 2 =
    5,524.5 ms."""
    table = StepTable.of(linear, **GRID)
    r = run_aggregated(table, scheduler(capacity=3000, on_demand=False), bench(1000, 1000, 2, 2))
    assert r.preemptions == 0
    assert r.latency["ttft_s"] == pytest.approx(5.5245, rel=1e-3)
    assert r.kv_waited == 1  # the second request, refused until the first ended
    assert r.kv_flag().text.startswith("KV-bound run (1 of 2 requests waited for KV room, 0 preempted)")


def test_a_run_with_kv_room_to_spare_is_not_flagged() -> None:
    """The same two clients with 5,000 KV tokens (both whole lengths fit): nobody waits for KV room, nothing is
    preempted, and the run carries no KV flag."""
    table = StepTable.of(linear, **GRID)
    for on_demand in (True, False):
        r = run_aggregated(table, scheduler(capacity=5000, on_demand=on_demand), bench(1000, 1000, 2, 2))
        assert (r.preemptions, r.kv_waited, r.kv_flag()) == (0, 0, None)


def test_disaggregated_first_token_waits_for_the_kv_transfer() -> None:
    """One client on a prefill worker and a decode worker, transfer 50 ms, no hand-off overhead: TTFT =
    prefill step (20 ms) + 50 ms = 70 ms; TPOT = the decode worker's step of one sequence, 11 ms."""
    table = StepTable.of(linear, **GRID)
    r = run_disaggregated(table, scheduler(), table, scheduler(), bench(1000, 101, 1, 1), transfer_s=0.050)
    assert r.latency["ttft_s"] == pytest.approx(0.070)
    assert r.latency["tpot_s"] == pytest.approx(0.011)


def test_kv_transfer_moves_every_layer_of_the_prompt_over_the_links() -> None:
    """Llama-3.1-8B's KV is 2 x 32 layers x 8 KV heads x 128 x 2 bytes = 131,072 B per token (bf16); a
    1,000-token prompt moves 131.072 MB from a one-chip prefill worker to a one-chip decode worker in
    the same NVLink domain: 131.072e6 / scale-up bandwidth + the link latency."""
    s = scenario_from_row(dict(model="llama-3.1-8b", system="hgx-h100", engine="vllm", isl=1000, osl=10,
                               concurrency=1, tp=1))
    dep = deployment(s, s.layout)
    per_token = float(kv_bytes_per_token_per_device(dep.model, Shard(1, 1, 1, 1, 1), dep.precision))
    assert per_token == 131072
    expected = 131.072e6 / dep.system.scale_up_bytes_per_s + dep.system.scale_out_latency_s
    assert kv_transfer_s(dep, dep, 1000) == pytest.approx(expected)


def test_an_mla_prompt_leaves_one_attention_dp_rank_for_every_tensor_parallel_decode_rank() -> None:
    """DeepSeek-R1 (MLA): a prompt prefilled on one of 4 attention-DP ranks of a 4-chip prefill worker (tp 1)
    goes to a decode worker of tp 8 on another node. MLA's latent is whole on every tp rank, so it moves 8
    copies of the prompt's KV (per token: kv_bytes_per_token_per_device at tp 8, the same as at tp 1), sent by
    the rank's one chip over its scale-out link: isl x bytes x 8 / scale-out bandwidth + latency. With the
    decode worker in attention DP 8 (tp 1 a rank) one copy goes to one rank."""
    row = next(r for r in catalog.measurements() if r["engine"] == "trtllm" and r["mode"] == "disagg"
               and r["prefill_attn_dp"] == "4" and r["decode_tp"] == "8" and r["system"] == "hgx-b200")
    s = scenario_from_row(row)
    pre, dec = deployment(s, s.layout), deployment(s, s.decode_layout)
    assert (pre.chips, pre.layout.resolved().attn_dp, dec.chips, dec.layout.resolved().tp) == (4, 4, 8, 8)
    per_token = float(kv_bytes_per_token_per_device(dec.model, Shard(8, 1, 1, 1, 1), dec.precision))
    assert per_token == float(kv_bytes_per_token_per_device(dec.model, Shard(1, 1, 1, 1, 1), dec.precision))
    system = dec.system
    assert pre.chips + dec.chips > system.scale_up_domain_chips  # two nodes: over scale-out
    expected = 1000 * per_token * 8 / system.scale_out_bytes_per_s + system.scale_out_latency_s
    assert kv_transfer_s(pre, dec, 1000) == pytest.approx(expected)
    adp = dataclasses.replace(dec, layout=dataclasses.replace(dec.layout, tp=1, attn_dp=8))
    assert kv_transfer_s(pre, adp, 1000) == pytest.approx(1000 * per_token / system.scale_out_bytes_per_s
                                                          + system.scale_out_latency_s)


def test_mtp_acceptance_is_a_distribution_with_the_stated_mean() -> None:
    """3 drafts accepted in order with probability p, mean accepted p + p^2 + p^3 = 1.8; p = 0.7 gives
    0.7 + 0.49 + 0.343 = 1.533 and p = 0.8 gives 1.952, so p lies between; a step keeps 2.8 tokens on
    average, between 1 and 4."""
    m = Mtp(tokens=3, acceptance=1.8)
    assert 0.7 < m.probability() < 0.8
    mean, var = m.moments()
    assert mean == pytest.approx(2.8)
    assert 0 < var < 1.5 ** 2


def test_percentiles_weight_each_gap_by_the_tokens_that_saw_it() -> None:
    """Gaps of 10 ms seen 90 times and 100 ms seen 10 times: mean 19 ms, p50 10 ms, p99 100 ms."""
    mean, p50, p90, p99 = _percentiles(np.array([0.01, 0.1]), np.array([90.0, 10.0]))
    assert (mean, p50, p99) == pytest.approx((0.019, 0.01, 0.1))


def test_client_profiles_name_their_sources_and_refuse_unknown_names() -> None:
    """InferenceX sends 10 requests per client at lengths in [0.8, 1] x nominal."""
    ix = client_profile("inferencex")
    assert ix.prompts(64) == 640 and ix.range_ratio == 0.8 and "InferenceX" in ix.source
    assert client_profile("vllm").prompts(64) == 1000
    with pytest.raises(ParityError, match="unknown client profile"):
        client_profile("nope")


@settings(max_examples=4, deadline=None)
@given(clients=st.sampled_from([4, 16, 48]), engine=st.sampled_from(["vllm", "trtllm"]))
def test_long_decode_runs_agree_with_the_steady_state_model(clients: int, engine: str) -> None:
    """Short prompts (128) and long outputs (4,096) on Llama-3.1-8B: prefill is a sliver of the time, so
    the simulated TPOT and throughput per chip must match the steady-state model's within 10% (both
    price the same decode steps; they differ only in transients and in how the batch is averaged)."""
    s = scenario_from_row(dict(model="llama-3.1-8b", system="hgx-h100", engine=engine, isl=128, osl=4096,
                               concurrency=clients, tp=1))
    (steady,) = predict_scenarios([s])
    sim = simulate_scenario(s, Benchmark(isl=128, osl=4096, concurrency=clients, client=FIXED,
                                         num_prompts=2 * clients))
    assert sim.tpot_s == pytest.approx(steady.tpot_s, rel=0.10)
    assert sim.output_tokens_per_s_per_chip == pytest.approx(steady.output_tokens_per_s_per_chip, rel=0.10)


def test_latency_targets_name_a_statistic_or_mean_the_mean() -> None:
    """'p99:2s' bounds the 99th percentile (key ttft_p99_s) at 2 s; '50ms' the mean (key tpot_s)."""
    from parity.simulate.targets import latency_target
    t = latency_target("p99:2s", "ttft")
    assert (t.key, t.seconds) == ("ttft_p99_s", 2.0)
    assert t.met_by({"ttft_p99_s": 1.9}) and not t.met_by({"ttft_p99_s": 2.1})
    m = latency_target("50ms", "tpot")
    assert (m.key, m.seconds) == ("tpot_s", pytest.approx(0.05))
    assert latency_target("", "ttft") is None
    with pytest.raises(ParityError, match="statistic must be one of"):
        latency_target("p95:2s", "ttft")
    with pytest.raises(ParityError, match="positive"):
        latency_target("p99:0s", "ttft")
    # printed as typed from 1,000 s: 'p99:2h' read '7.2e+06 ms'
    assert [str(latency_target(x, "ttft")) for x in ("p99:2h", "30min", "p50:800ms", "2s")] == [
        "TTFT p99 <= 2 h", "TTFT mean <= 30 min", "TTFT p50 <= 800 ms", "TTFT mean <= 2000 ms"]


def test_serve_sim_prints_percentiles_and_refuses_percentiles_without_it(tmp_path) -> None:
    """parity serve --sim gives the percentile keys; a percentile target with the steady model exits 2; the
    simulator is serve's default, so the same call without --sim prints the same figures."""
    import json

    from click.testing import CliRunner

    from parity.cli import cli
    base = ["serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--engine", "vllm", "--concurrency", "4",
            "--isl", "512", "--osl", "64"]
    timeline = tmp_path / "timeline.csv"
    result = CliRunner().invoke(cli, base + ["--sim", "--num-prompts", "12", "--timeline", str(timeline),
                                             "--ttft", "p99:5s", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)  # stderr says where the timeline went, as --out's does
    assert result.stderr == f"wrote {timeline}\n"
    assert data["ttft_p50_s"] <= data["ttft_p99_s"] and data["requests"] == 12
    assert data["meets_ttft_p99_s"] is True
    assert timeline.read_text().startswith("time_s,worker,role,queued,prefilling,partly_prefilled,running,"
                                           "kv_used_fraction\n")
    refused = CliRunner().invoke(cli, base + ["--ttft", "p99:2s", "--model-kind", "steady"])
    assert refused.exit_code == 2 and "need the simulator" in refused.output
    default = CliRunner().invoke(cli, base + ["--num-prompts", "12", "--ttft", "p99:5s", "--format", "json"])
    assert default.exit_code == 0 and json.loads(default.output)["ttft_p99_s"] == data["ttft_p99_s"]


def test_the_output_lag_delays_first_and_last_token_alike() -> None:
    """The one-client run with an output lag of 3 decode steps (3 x 11 ms = 33 ms): TTFT 20 + 33 = 53 ms,
    the last token 33 ms later too, so TPOT stays 11 ms."""
    table = StepTable.of(linear, **GRID)
    sched = dataclasses.replace(scheduler(), first_token_lag_steps=3.0)
    r = run_aggregated(table, sched, bench(1000, 101, 1, 1))
    assert r.latency["ttft_s"] == pytest.approx(0.053)
    assert r.latency["tpot_s"] == pytest.approx(0.011, rel=0.01)


def test_overlap_scheduling_hands_out_every_token_one_step_late_the_first_too() -> None:
    """An overlap scheduler hands a step's tokens out once the next step is launched, so each token, the first as the
    last, reaches the client one step late: a decode step of the next step's batch, which the requests just prefilled
    join. One client, isl 1000, osl 2: prefill 20 ms, first token after the 11 ms step of one sequence (TTFT 31 ms),
    second token out of that step and handed out one 11 ms step later (E2E 20 + 11 + 11 = 42 ms): TPOT = ITL = 11 ms.
    Four clients at once: one prompt step of 10 + 0.01 x 4,000 = 50 ms, then steps of four sequences, 14 ms: TTFT
    64 ms, E2E 78 ms, TPOT = ITL = 14 ms (the delay priced at the batch before the four joined, 10 ms, gave TTFT 60
    and TPOT 18 ms beside an ITL of 14 ms)."""
    from parity.simulate.policies import OverlapScheduling
    table = StepTable.of(linear, **GRID)
    sched = dataclasses.replace(scheduler(), overlap=OverlapScheduling(on=True))
    for clients, ttft_s, step_s in ((1, 0.031, 0.011), (4, 0.064, 0.014)):
        lat = run_aggregated(table, sched, bench(1000, 2, clients, clients)).latency
        assert [lat[k] for k in ("ttft_s", "tpot_s", "itl_s", "e2e_s")] == pytest.approx(
            [ttft_s, step_s, step_s, ttft_s + step_s])


def test_an_overlapping_decode_workers_gaps_add_up_to_e2e_less_ttft() -> None:
    """One client on a prefill worker and an overlapping decode worker, isl 1000, osl 3, no transfer: the first token
    is out as the decode worker takes the request at 20 ms (TTFT 20 ms); its steps of one sequence, 11 ms, end at 31
    and 42 ms, the last token handed out one step later, at 53 ms: TPOT 16.5 ms. The gaps: 31 + 11 - 20 = 22 ms (the
    second token is handed out one step late too) and 11 ms, mean 16.5 ms as TPOT (the first gap was 21 ms with the
    delay priced at the batch before the request joined)."""
    from parity.simulate.policies import OverlapScheduling
    table = StepTable.of(linear, **GRID)
    decode = dataclasses.replace(scheduler(), overlap=OverlapScheduling(on=True))
    lat = run_disaggregated(table, scheduler(), table, decode, bench(1000, 3, 1, 1), transfer_s=0.0).latency
    assert [lat[k] for k in ("ttft_s", "tpot_s", "itl_s", "itl_p99_s", "e2e_s")] == pytest.approx(
        [0.020, 0.0165, 0.0165, 0.022, 0.053])


def test_separate_prompt_steps_and_fixed_lengths_keep_clients_in_lockstep_waves() -> None:
    """Four clients, isl 1000, osl 11, budget 4,000, prompt steps apart from decodes, 12 requests: each
    wave is one prompt step of 4 x 1000 tokens (10 + 0.01 x 4000 = 50 ms) and 10 decode steps of four
    sequences (10 + 4 = 14 ms each); every request ends in the same step and the next wave starts whole,
    so every TTFT is 50 ms (p99 too) and TPOT 14 ms; E2E 50 + 140 = 190 ms."""
    table = StepTable.of(linear, **GRID)
    r = run_aggregated(table, scheduler(budget=4000, mixed=False), bench(1000, 11, 4, 12))
    assert r.latency["ttft_s"] == pytest.approx(0.050)
    assert r.latency["ttft_p99_s"] == pytest.approx(0.050)
    assert r.latency["tpot_s"] == pytest.approx(0.014)
    assert r.latency["e2e_s"] == pytest.approx(0.190)


def test_sglang_simulator_runs_prompt_steps_apart_and_its_client_at_fixed_lengths() -> None:
    """SGLang's profile: mixes_prefill stays true for the steady-state model, but the simulator's budget
    policy keeps prompt steps apart (sim_separate_prefill); the aiconfigurator client on its rows draws
    fixed lengths (sim_client_range_ratio 1), while a row that states random_range_ratio 0.8 keeps it."""
    from parity.predict import benchmark_of
    sglang = catalog.engine("sglang")
    assert sglang.mixes_prefill and sglang.sim_separate_prefill
    assert not scheduler_of(sglang, 1e6).budget.mixed
    assert scheduler_of(catalog.engine("trtllm"), 1e6).budget.mixed
    rows = [r for r in catalog.measurements() if r["engine"] == "sglang" and r["mode"] == "agg"]
    fixed = next(r for r in rows if not r.get("random_range_ratio"))
    spread = next(r for r in rows if r.get("random_range_ratio") == "0.8")
    assert benchmark_of(scenario_from_row(fixed)).client.range_ratio == 1.0
    assert benchmark_of(scenario_from_row(spread)).client.range_ratio == 0.8


def test_an_eager_prompt_step_pays_its_kernel_launches_and_a_decode_step_does_not() -> None:
    """step_table with prefill_launch_s = 100 us adds 100 us x the prompt step's kernel launches
    (prefill_launches: the step priced at 1 s per kernel less at 0 s) to every cell with prompt tokens,
    and nothing to decode-only cells (CUDA graphs)."""
    from parity.simulate.tables import prefill_launches, step_table
    row = next(r for r in catalog.measurements() if r["engine"] == "vllm" and r["mode"] == "agg")
    scenario = scenario_from_row(row)
    dep = deployment(scenario, scenario.layout)
    plain = step_table(dep, 8.0, 2048.0, 2048.0)
    eager = step_table(dep, 8.0, 2048.0, 2048.0, prefill_launch_s=100e-6)
    launches = prefill_launches(dep, 2048.0)
    assert launches > 100  # a transformer step launches hundreds of kernels
    assert eager.time_s(4.0, 1000.0) == pytest.approx(plain.time_s(4.0, 1000.0))
    assert eager.time_s(4.0, 1000.0, 512.0) - plain.time_s(4.0, 1000.0, 512.0) == pytest.approx(100e-6 * launches)


def test_first_token_at_prefill_moves_the_decode_queue_from_ttft_to_tpot() -> None:
    """Two clients, isl 1000, osl 101, a decode worker that runs one sequence, transfer 50 ms, no hand-off
    overhead. Both prompts share one prefill step (10 + 0.01 x 2000 = 30 ms) and reach the decode worker at
    80 ms; the first decodes 100 steps of 11 ms (ends at 1.18 s), the second is admitted then and ends at
    2.28 s. First token at admission: TTFT (0.08 + 1.18) / 2 = 0.63 s, TPOT 11 ms. First token at the
    prefill worker (DisaggHandOff.first_token_at_prefill): TTFT 80 ms for both, TPOT (1.10 / 100 + 2.20 /
    100) / 2 = 16.5 ms."""
    from parity.simulate.policies import DisaggHandOff
    table = StepTable.of(linear, **GRID)
    at_decode = run_disaggregated(table, scheduler(), table, scheduler(), bench(1000, 101, 2, 2), transfer_s=0.050,
                                  decode_batch=1)
    assert at_decode.latency["ttft_s"] == pytest.approx(0.63)
    assert at_decode.latency["tpot_s"] == pytest.approx(0.011)
    early = dataclasses.replace(scheduler(), handoff=DisaggHandOff(first_token_at_prefill=True))
    at_prefill = run_disaggregated(table, scheduler(), table, early, bench(1000, 101, 2, 2), transfer_s=0.050,
                                   decode_batch=1)
    assert at_prefill.latency["ttft_s"] == pytest.approx(0.080)
    assert at_prefill.latency["tpot_s"] == pytest.approx(0.0165)
    # the second's first gap is its wait for the decode slot: 1.191 - 0.080 = 1.111 s, then 199 gaps of 11 ms in
    # all: mean ITL (1.111 + 199 x 0.011) / 200 = 16.5 ms, as TPOT
    assert (at_prefill.latency["itl_s"], at_prefill.latency["itl_p99_s"]) == pytest.approx((0.0165, 0.011))


def test_a_request_preempted_on_a_decode_worker_keeps_its_first_token_and_waits_one_long_gap() -> None:
    """Two clients, isl 1000, osl 30, transfer 50 ms, a decode worker with on-demand KV of 2,020 tokens: both first
    tokens at 80 ms (the prefill step's 30 ms and the transfer), steps of 12 ms to the preemption before step 10,
    which would overcommit the cache (188 ms); the other ends 20 steps of 11 ms later (408 ms), the preempted one is
    taken back then and ends at 408 + 20 x 11 = 628 ms. Its TTFT stays 80 ms (it was reset to its return before); its
    gap over the preemption is 408 + 11 - 188 = 231 ms; mean TPOT = mean ITL = (328 + 548) / 58 = 15.103 ms."""
    table = StepTable.of(linear, **GRID)
    r = run_disaggregated(table, scheduler(), table, scheduler(capacity=2020, on_demand=True), bench(1000, 30, 2, 2),
                          transfer_s=0.050)
    assert r.preemptions == 1
    assert [r.latency[k] for k in ("ttft_s", "ttft_p99_s", "tpot_s", "itl_s", "itl_p99_s")] == pytest.approx(
        [0.080, 0.080, 0.876 / 58, 0.876 / 58, 0.231])


def test_the_hand_off_overhead_adds_to_one_clients_ttft_and_the_simulator_may_have_its_own() -> None:
    """One client, transfer 50 ms, hand-off 100 ms: TTFT = 20 ms prefill + 50 + 100 = 170 ms (the
    queue-free run of test_disaggregated_first_token_waits_for_the_kv_transfer plus the overhead).
    scheduler_of takes sim_disagg_ttft_overhead where the profile sets it, else disagg_ttft_overhead."""
    from parity.simulate.policies import DisaggHandOff
    table = StepTable.of(linear, **GRID)
    sched = dataclasses.replace(scheduler(), handoff=DisaggHandOff(overhead_s=0.100))
    r = run_disaggregated(table, scheduler(), table, sched, bench(1000, 101, 1, 1), transfer_s=0.050)
    assert r.latency["ttft_s"] == pytest.approx(0.170)
    vllm = catalog.engine("vllm")
    assert scheduler_of(vllm, 1e6).disagg_ttft_overhead_s == vllm.disagg_ttft_overhead_s
    own = dataclasses.replace(vllm, sim_disagg_ttft_overhead_s=0.042, sim_disagg_first_token="prefill")
    assert scheduler_of(own, 1e6).disagg_ttft_overhead_s == 0.042
    assert scheduler_of(own, 1e6).handoff.first_token_at_prefill
    trtllm = catalog.engine("trtllm")
    assert trtllm.sim_disagg_ttft_overhead_s == pytest.approx(0.100) and trtllm.sim_disagg_prefill_scale == 0.9
    with pytest.raises(ValueError, match="sim_disagg_first_token"):
        dataclasses.replace(vllm, sim_disagg_first_token="router")


def test_prefill_workers_scale_only_the_prompt_part_of_their_steps() -> None:
    """One client on a TensorRT-LLM disaggregated row: its TTFT is one prompt-only step on the prefill
    worker plus what follows it (transfer, hand-off, the decode worker's lag), the same whatever the
    prefill factor. A prompt-only step is decode-only step (0 sequences) + scale x (prompt step - that),
    so sim_disagg_prefill_scale 0.5 against 1 takes 0.5 x prefill_scale x (prompt part) off the TTFT:
    exactly the difference of the two step tables' cells."""
    from parity.simulate import simulate_disaggregated
    from parity.simulate.tables import step_table
    row = next(r for r in catalog.measurements() if r["engine"] == "trtllm" and r["mode"] == "disagg"
               and r.get("decode_workers") and not r.get("mtp_tokens"))
    s = scenario_from_row(row)
    pre, dec = deployment(s, s.layout), deployment(s, s.decode_layout)
    one = Benchmark(isl=s.isl, osl=8, concurrency=1, client=FIXED, num_prompts=1)
    runs = {}
    for factor in (1.0, 0.5):
        engine = dataclasses.replace(s.engine, sim_disagg_prefill_scale=factor)
        runs[factor] = simulate_disaggregated(pre, dec, engine, one, 1, 1).ttft_s
    base = s.engine.prefill_scale * s.engine.sim_prefill_scale
    full = step_table(pre, 2.0, float(s.isl + 8), float(s.engine.max_num_tokens), base).time_s(0.0, 1.0, s.isl)
    half = step_table(pre, 2.0, float(s.isl + 8), float(s.engine.max_num_tokens), 0.5 * base).time_s(0.0, 1.0, s.isl)
    assert half < full
    assert runs[1.0] - runs[0.5] == pytest.approx(full - half, rel=0.02)


def _unchunked(sched, chunked: bool = False):
    return dataclasses.replace(sched, budget=dataclasses.replace(sched.budget, chunked=chunked))


def test_whole_prompts_wait_for_a_step_they_fit_in_while_chunks_fill_the_budget() -> None:
    """Six clients send 1,000-token prompts at once; budget 2,500, prompt steps apart from decodes.
    Whole prompts (TensorRT-LLM without chunked prefill): two fit a step (a third would make 3,000), each step
    10 + 0.01 x 2000 = 30 ms: TTFT 30, 30, 60, 60, 90, 90 ms (mean 60, p99 90). Chunked: steps of 2,500
    tokens (35 ms), 2,500 (35 ms), 1,000 (20 ms): prompts 1-2 done in step 1, 3-5 in step 2, 6 in step 3:
    TTFT 35, 35, 70, 70, 70, 90 ms (mean 61.67, median 70)."""
    table = StepTable.of(linear, **GRID)
    whole = run_aggregated(table, _unchunked(scheduler(budget=2500, mixed=False)), bench(1000, 2, 6, 6))
    assert whole.latency["ttft_s"] == pytest.approx(0.060)
    assert whole.latency["ttft_p99_s"] == pytest.approx(0.090)
    chunks = run_aggregated(table, _unchunked(scheduler(budget=2500, mixed=False), True), bench(1000, 2, 6, 6))
    assert chunks.latency["ttft_s"] == pytest.approx(0.370 / 6)
    assert chunks.latency["ttft_p50_s"] == pytest.approx(0.070)


def test_a_whole_prompt_counts_the_decodes_of_its_step_and_one_over_the_budget_still_runs_alone() -> None:
    """Mixed steps, budget 2,500, three clients of 1,000 / 3 tokens, whole prompts: step 1 takes prompts 1-2
    (30 ms); step 2 carries their two decodes, leaving 2,498 tokens, so prompt 3 fits: 10 + 2 x 1 + 10 = 22 ms,
    its TTFT 52 ms (mean (30 + 30 + 52) / 3 = 37.33 ms). A 3,000-token prompt over a 2,000 budget with nothing
    else to run goes in chunks of 2,000 and 1,000 (30 + 20 = 50 ms) rather than waiting for ever."""
    table = StepTable.of(linear, **GRID)
    r = run_aggregated(table, _unchunked(scheduler(budget=2500, mixed=True)), bench(1000, 3, 3, 3))
    assert r.latency["ttft_s"] == pytest.approx(0.112 / 3)
    alone = run_aggregated(table, _unchunked(scheduler(budget=2000, mixed=False)), bench(3000, 2, 1, 1))
    assert alone.latency["ttft_s"] == pytest.approx(0.050)


def test_aiconfigurator_runs_get_the_limits_its_generator_writes_on_the_engines_it_maps_them_to() -> None:
    """aiconfigurator's own TensorRT-LLM and vLLM runs (rows without random_range_ratio): max_batch_size =
    concurrency and max_num_tokens = concurrency + isl + 1,500 (e.g. 64 clients of 1,024 tokens: 2,588);
    TensorRT-LLM runs whole prompts, vLLM chunks. SGLang's rows and InferenceX's keep their profiles, and a
    row that states its own budget keeps it."""
    from parity.predict import benchmark_of
    from parity.predict.simulated import deployed_engine
    rows = catalog.measurements()

    def first(engine: str, spread: bool) -> dict:
        return next(r for r in rows if r["engine"] == engine and r["mode"] == "agg"
                    and bool(r.get("random_range_ratio")) == spread)

    for engine, chunked in (("trtllm", False), ("vllm", True)):
        s = scenario_from_row(first(engine, False))
        e = deployed_engine(s, benchmark_of(s))
        assert e.max_num_tokens == s.concurrency + s.isl + 1500 and e.max_batch_size == s.concurrency
        assert e.sim_chunked_prefill is chunked
        own = scenario_from_row({**first(engine, False), "max_num_tokens": "4096"})
        assert deployed_engine(own, benchmark_of(own)).max_num_tokens == 4096
        ix = scenario_from_row(first(engine, True))
        assert deployed_engine(ix, benchmark_of(ix)).max_num_tokens == ix.engine.max_num_tokens
    sglang = scenario_from_row(first("sglang", False))
    assert deployed_engine(sglang, benchmark_of(sglang)) == sglang.engine
    assert client_profile("aiconfigurator").deploys.max_num_tokens(64, 1024) == 2588


def test_the_front_end_sets_tensorrt_llms_ttft_overhead_and_leaves_other_engines_theirs() -> None:
    """TensorRT-LLM behind Dynamo's frontend (aiconfigurator's runs) pays 60 ms before the engine sees a
    request, behind its own trtllm-serve (InferenceX's single-node runs) nothing but for an MLA model
    (DeepSeek-V3/R1: 70 ms, ENGINE_SERVER feature_overhead_s); vLLM keeps its profile's ttft_overhead_s
    (29.975 ms) behind Dynamo and pays 10 ms behind its own `vllm serve`, and a disaggregated row keeps its
    profile's. One client of 1,000 / 101 tokens on the made-up engine: TTFT = overhead + its 20 ms prefill step."""
    from parity.predict import benchmark_of
    from parity.predict.simulated import deployed_engine
    from parity.simulate.clients import DYNAMO_FRONT_END, ENGINE_SERVER, FrontEnd
    rows = catalog.measurements()
    for engine, spread, model, want in (("trtllm", False, "", 0.060), ("trtllm", True, "llama", 0.0),
                                        ("trtllm", True, "deepseek", 0.070), ("vllm", False, "", None),
                                        ("vllm", True, "", 0.010)):
        row = next(r for r in rows if r["engine"] == engine and r["mode"] == "agg"
                   and bool(r.get("random_range_ratio")) == spread and r["model"].startswith(model))
        s = scenario_from_row(row)
        got = deployed_engine(s, benchmark_of(s)).ttft_overhead_s
        assert got == pytest.approx(s.engine.ttft_overhead_s if want is None else want)
    disagg = scenario_from_row(next(r for r in rows if r["engine"] == "trtllm" and r["mode"] == "disagg"))
    assert deployed_engine(disagg, benchmark_of(disagg)) == disagg.engine
    assert DYNAMO_FRONT_END.overhead_s("trtllm") == 0.060 and ENGINE_SERVER.overhead_s("sglang") is None
    table = StepTable.of(linear, **GRID)
    sched = dataclasses.replace(scheduler(), ttft_overhead_s=DYNAMO_FRONT_END.overhead_s("trtllm"))
    assert run_aggregated(table, sched, bench(1000, 101, 1, 1)).ttft_s == pytest.approx(0.080)
    with pytest.raises(ParityError, match="front end x"):
        FrontEnd(id="x", ttft_overhead_s=(("trtllm", -1.0),))
    with pytest.raises(ParityError, match="feature_overhead_s"):
        FrontEnd(id="x", feature_overhead_s=(("trtllm", "mla", 2.0),))
    assert ENGINE_SERVER.feature_extra_s("trtllm", frozenset({"mla", "moe"})) == 0.070
    assert ENGINE_SERVER.feature_extra_s("sglang", frozenset({"mla"})) == 0.0


def test_an_idle_worker_is_ready_at_its_own_clock_not_at_an_arrival_in_its_past() -> None:
    """A prefill worker whose last step ended at 5 s gets a prompt sent at 1 s (a decode worker behind it
    ended a request then): it starts that prompt at 5 s, so it is ready at 5 s, not 1 s. Reporting 1 s let
    the driver run it ahead of the decode worker, one prompt a step, while the prompts the decode worker
    would still send by then piled up behind it (a 8,192-token DeepSeek-V3 row at 1,024 clients on three
    prefill workers: TTFT 147 s simulated against 11 s measured; 10 s once ready at its own clock)."""
    from parity.simulate.loop import Engine, Request
    table = StepTable.of(linear, **GRID)
    worker = Engine(table, scheduler(), 1, "prefill", lambda req: None, on_prefilled=lambda req: None)
    worker.now = 5.0
    worker.push(1.0, Request(0, 1.0, 1000, 2))
    assert worker.ready_s() == 5.0
    worker.push(7.0, Request(1, 7.0, 1000, 2))
    worker.advance()  # the 1 s prompt: one step of 10 + 0.01 x 1000 = 20 ms from 5 s
    assert worker.now == pytest.approx(5.020)
    assert worker.ready_s() == 7.0  # idle again: the next prompt's arrival, which is ahead of its clock


def test_sglang_disaggregated_workers_place_requests_on_random_dp_ranks_aggregated_ones_on_the_least_loaded() -> None:
    """Eight prompts reach a 4-rank worker at once. Least loaded (aggregated workers, other engines): two per
    rank. SGLang's disaggregated workers (DpRouting.by_bootstrap_room): the rank is the request's random
    bootstrap room mod 4, i.e. the worker's generator's integers(4) in arrival order, so the queues are the
    counts of those eight draws (seed 7: drawn here the same way), whatever the loads."""
    from parity.simulate.loop import Engine, Request
    from parity.simulate.policies import DpRouting
    table = StepTable.of(linear, **GRID)
    sglang = dataclasses.replace(scheduler(), dp_routing=DpRouting(by_bootstrap_room=True))
    assert scheduler_of(catalog.engine("sglang"), 1e6).dp_routing.by_bootstrap_room
    assert not scheduler_of(catalog.engine("trtllm"), 1e6).dp_routing.by_bootstrap_room

    def queues(sched, role: str) -> list[int]:
        worker = Engine(table, sched, 4, role, lambda req: None, on_prefilled=lambda req: None,
                        rng=np.random.default_rng(7))
        for i in range(8):
            worker.push(0.0, Request(i, 0.0, 1000, 2))
        worker._deliver(False)
        return [len(w) for w in worker.waiting]

    drawn = np.bincount(np.random.default_rng(7).integers(4, size=8), minlength=4).tolist()
    assert queues(sglang, "prefill") == queues(sglang, "decode") == drawn
    assert queues(sglang, "agg") == queues(scheduler(), "prefill") == [2, 2, 2, 2]


def test_serve_sim_intervals_come_from_the_simulators_own_bands(tmp_path) -> None:
    """A closed-loop `serve --sim` takes its 80% interval from uncertainty_sim.toml (bands of the simulator's
    residuals): TTFT low = TTFT x e^-q90 and high = TTFT x e^-q10 of the 'agg' band (this case is not
    flagged); an open-loop run (--request-rate) is not the benchmark the bands were built on, so its table
    labels no interval and its bounds are empty."""
    import json
    import math

    from click.testing import CliRunner

    from parity import catalog
    from parity.cli import cli
    from parity.uncertainty import Intervals
    base = ["serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--engine", "vllm", "--isl", "512", "--osl",
            "64", "--sim", "--num-prompts", "12"]
    closed = CliRunner().invoke(cli, base + ["--concurrency", "4", "--format", "json"])
    assert closed.exit_code == 0, closed.output
    data = json.loads(closed.stdout)
    band = Intervals.from_table(catalog.uncertainty_table("sim")).band("ttft_s", "agg")
    assert band is not None and band.count >= 30
    assert data["ttft_s_low"] == pytest.approx(data["ttft_s"] * math.exp(-band.q_high), rel=1e-9)
    assert data["ttft_s_high"] == pytest.approx(data["ttft_s"] * math.exp(-band.q_low), rel=1e-9)
    table = CliRunner().invoke(cli, base + ["--concurrency", "4"], env={"COLUMNS": "120"})
    assert "TTFT [ms] (80% interval)" in table.output
    opened = CliRunner().invoke(cli, base + ["--request-rate", "2"], env={"COLUMNS": "120"})  # no clients: a rate
    assert opened.exit_code == 0, opened.output
    assert "TTFT [ms]" in opened.output and "80% interval" not in opened.output


def test_a_simulated_row_keeps_the_closed_form_assumptions_apart_from_its_own() -> None:
    """The closed-form model still gives memory, sizing and flags, so its assumptions stay in the note, but
    labelled: its Kingman burstiness does not shape the simulated figures; the simulator's follow. Where the row
    prints the simulator's intervals the note ends saying whose residuals they are, once: the steady note's own
    phrase (its bands are not these) goes."""
    from parity.predict import scenario_from_row, simulated_note
    scenario = scenario_from_row({"case_id": "x", "model": "llama-3.1-70b", "system": "hgx-h100", "engine": "vllm",
                                  "isl": "1024", "osl": "128", "concurrency": "4", "tp": "8"})
    note = simulated_note("arrival burstiness 0.5 (Kingman)", ("step budget 8192 tokens", "simulated 40 requests"),
                          scenario, intervals=False)
    closed = "closed-form model (memory per chip at the nominal lengths, not the simulated run's; worker sizing, flags)"
    assert note == (f"{closed}: arrival burstiness 0.5 (Kingman); simulator: step budget 8192 tokens; "
                    "simulated 40 requests")
    assert simulated_note("", ("x",), scenario, intervals=False) == "simulator: x"
    phrase = "80% intervals from held-out residuals of aggregated runs"
    assert simulated_note(f"burstiness 0.5; {phrase}", ("x",), scenario, intervals=True) == (
        f"{closed}: burstiness 0.5; simulator: x; {phrase}")


def test_a_decode_worker_never_runs_ahead_of_a_request_sent_through_an_idle_prefill_worker() -> None:
    """Three clients, three decode workers of one slot each, prompts of 800-1,000 tokens and outputs of
    81-101 (the InferenceX client's 0.8 range), transfer 50 ms, step = 10 ms + 1 ms/sequence + 0.01 ms/prompt
    token. With as many slots as clients no request waits for one: the least-outstanding decode worker is idle
    when a prompt is handed on. So every TTFT is at most a prefill step in progress (three prompts at most:
    10 + 0.01 x 3,000 = 40 ms) + its own (40 ms) + the transfer (50 ms) = 130 ms. A decode worker must not run
    a decode stretch past the time a request can reach it through the client and an idle prefill worker
    (whose clock bounds nothing): with only the prefill workers as its senders, a worker that ran ahead to
    its own request's end admitted the next request there, 0.5-0.9 s late (p99 TTFT 0.62 s here; on a B200
    DeepSeek-R1 row of 10 clients on 5 x 2 decode slots, 0.56 s simulated against 0.17 s measured)."""
    client = ClientProfile(id="test", num_prompts=1, range_ratio=0.8, source="test")
    table = StepTable.of(linear, **GRID)
    b = Benchmark(isl=1000, osl=101, concurrency=3, client=client, num_prompts=30)
    r = run_disaggregated(table, scheduler(), table, scheduler(), b, transfer_s=0.050, decode_workers=3,
                          decode_batch=1)
    assert r.requests == 30
    assert r.latency["ttft_p99_s"] <= 0.130
    assert r.latency["ttft_s"] >= 0.050 + 0.010 + 0.00001 * 800  # at least its own step and the transfer


def test_disaggregated_workers_neither_hold_prompts_nor_overlap_a_tensorrt_llm_prefill() -> None:
    """TensorRT-LLM with attention DP holds new prompts up to 60 iterations until every rank has one
    (attention_dp_config timeout_iters), but only while every rank has generation requests: a prefill worker
    has none, and a decode worker's new requests are generation-only ones the hold never sees
    (prefill_worker_scheduler, decode_worker_scheduler). One client, one 4-rank prefill worker, transfer 50 ms: with the aggregated
    engine's hold the prompt idles 60 iterations of 1 ms first, TTFT = 60 + 20 (its step: 10 + 0.01 x 1,000)
    + 50 = 130 ms; as a prefill worker it does not, 70 ms. TensorRT-LLM's prefill workers also run
    without overlap scheduling (aiconfigurator's generator and InferenceX's recipes:
    disable_overlap_scheduler true), its decode workers with it; SGLang's keep theirs."""
    from parity.simulate.policies import decode_worker_scheduler, prefill_worker_scheduler
    trtllm = dataclasses.replace(catalog.engine("trtllm"), ttft_overhead_s=0.0, sim_disagg_ttft_overhead_s=0.0,
                                 sim_first_token_steps=0.0)
    engine = scheduler_of(trtllm, 1e6, attn_dp=4)
    assert engine.balance.hold_steps == 60 and engine.overlap.on
    prefill, decode = prefill_worker_scheduler(engine, trtllm), decode_worker_scheduler(engine)
    assert prefill.balance.hold_steps == decode.balance.hold_steps == 0
    assert not prefill.overlap.on and decode.overlap.on
    sglang = catalog.engine("sglang")
    assert prefill_worker_scheduler(scheduler_of(sglang, 1e6, attn_dp=4), sglang).overlap.on
    table = StepTable.of(linear, **GRID)
    plain = dataclasses.replace(scheduler(), balance=engine.balance)
    held = run_disaggregated(table, plain, table, scheduler(), bench(1000, 101, 1, 1), transfer_s=0.050,
                             prefill_ranks=4)
    assert held.latency["ttft_s"] == pytest.approx(0.130)
    free = prefill_worker_scheduler(plain, catalog.engine("vllm"))
    assert run_disaggregated(table, free, table, scheduler(), bench(1000, 101, 1, 1), transfer_s=0.050,
                             prefill_ranks=4).latency["ttft_s"] == pytest.approx(0.070)


def test_a_step_of_several_whole_prompts_prices_their_attention_apart() -> None:
    """The step table prices a rank's prompt tokens up to the nominal prompt length as one sequence and more as
    prompts of that length side by side: its cell at 2 x 1,024 tokens is the step model's price of two
    1,024-token prompts (attention pairs 2 x 1,024^2 / 2), below one 2,048-token sequence (2,048^2 / 2), and
    at 1,024 tokens the same as a table without the prompt length."""
    from parity.ops import Batch
    from parity.step import step_cost
    from parity.simulate.tables import step_table
    row = next(r for r in catalog.measurements() if r["engine"] == "vllm" and r["mode"] == "agg")
    s = scenario_from_row(row)
    dep = deployment(s, s.layout)
    split = step_table(dep, 2.0, 4096.0, 2048.0, prompt_tokens=1024.0)
    whole = step_table(dep, 2.0, 4096.0, 2048.0)
    two = float(np.asarray(step_cost(dep, Batch(prefill_tokens=2048.0, prefill_sequences=2.0)).time_s))
    one = float(np.asarray(step_cost(dep, Batch(prefill_tokens=2048.0, prefill_sequences=1.0)).time_s))
    assert split.time_s(0.0, 1.0, 2048.0) == pytest.approx(two, rel=1e-9)
    assert whole.time_s(0.0, 1.0, 2048.0) == pytest.approx(one, rel=1e-9)
    assert two < one
    assert split.time_s(0.0, 1.0, 1024.0) == pytest.approx(whole.time_s(0.0, 1.0, 1024.0), rel=1e-9)


def test_inferencex_sglang_prefill_workers_take_their_recipes_budgets_and_no_inferred_batch_limit() -> None:
    """InferenceX's disaggregated SGLang rows carry their recipes' prefill --max-prefill-tokens and
    --chunked-prefill-size where every recipe they match agrees (inferencex_sglang_recipes.csv, NVIDIA/srt-slurm
    5063eb43 and 4a22a181): 2,048 and 2,048 on H100, 8,192 and 65,536 for the consolidated B200 FP8 8k/1k recipes
    (8,192 a rank over attention DP 8), 32,768 and 32,768 for the other B200 ones, which is also what a row without
    them takes (INFERENCEX_SGLANG_PREFILL_TOKENS); none keeps the prefill batch of 1 its import inferred from
    aiconfigurator's generator. aiconfigurator's own SGLang rows and other engines' InferenceX rows keep what they
    state."""
    from parity.predict.simulated import benchmark_of, disaggregated_deployment
    recipes = catalog.measurements("inferencex_sglang_recipes")
    assert len(recipes) == 66
    h100 = [x for x in recipes if x["recipe_path"].startswith("recipes/h100/")]
    assert len(h100) == 12
    assert {(x["prefill_max_prefill_tokens"], x["prefill_chunked_prefill_size"]) for x in h100} == {("2048", "2048")}
    rows = [r for r in catalog.measurements() if r["mode"] == "disagg" and r["split"] != "calibration"]
    inferred = next(r for r in rows if r["engine"] == "sglang" and r["random_range_ratio"]
                    and r["prefill_batch"] == "1" and r["system"] == "hgx-h100")
    s = scenario_from_row(inferred)
    assert s.prefill_batch == 1.0
    engine, prefill_batch = disaggregated_deployment(s, benchmark_of(s))
    assert prefill_batch is None
    assert (engine.max_num_tokens, engine.sim_max_prefill_tokens, engine.sim_chunked_prefill_tokens) == (2048,) * 3
    assert scheduler_of(engine, 1e6).budget.max_num_tokens == 2048
    assert scheduler_of(engine, 1e6).budget.prompt_admission.max_prefill_tokens == 2048
    budgets = {}
    for r in rows:
        if r["engine"] == "sglang" and r["system"] == "hgx-b200" and r["random_range_ratio"]:
            t = scenario_from_row(r)
            e, _ = disaggregated_deployment(t, benchmark_of(t))
            budgets[(r["max_prefill_tokens"], r["chunked_prefill_size"])] = (
                e.sim_max_prefill_tokens, e.sim_chunked_prefill_tokens,
                scheduler_of(e, 1e6, attn_dp=int(t.layout.attn_dp)).budget.max_num_tokens)
    carried = Counter((r["system"], r["max_prefill_tokens"], r["chunked_prefill_size"]) for r in catalog.measurements()
                      if r["engine"] == "sglang" and r["mode"] == "disagg" and r["random_range_ratio"])
    assert carried == {("hgx-h100", "2048", "2048"): 30, ("hgx-b200", "32768", "32768"): 66,
                       ("hgx-b200", "8192", "65536"): 14, ("hgx-b200", "", ""): 23}
    # a blank row takes 32,768 for both; the consolidated 8k/1k recipes' 65,536-token chunk is 8,192 a DP-8 rank
    assert budgets == {("", ""): (32768, 32768, 4096), ("32768", "32768"): (32768, 32768, 4096),
                       ("8192", "65536"): (8192, 65536, 8192)}
    for own in (next(r for r in rows if r["engine"] == "sglang" and not r["random_range_ratio"]),
                next(r for r in rows if r["engine"] == "trtllm" and r["random_range_ratio"])):
        t = scenario_from_row(own)
        assert disaggregated_deployment(t, benchmark_of(t)) == (t.engine, t.prefill_batch)


def test_serve_request_rate_inf_sends_every_request_at_once() -> None:
    """`--request-rate inf` (vLLM's and SGLang's clients: every request at once) is the open loop whose arrivals
    are all at t = 0: the same run as 12 clients sending 12 prompts, so the same mean TTFT and TPOT, and the
    table's title says so; the MLPerf server scenario needs a finite rate and refuses it with exit code 2."""
    import json

    from click.testing import CliRunner

    from parity.cli import cli
    base = ["serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--engine", "vllm", "--isl", "512",
            "--osl", "64", "--num-prompts", "12", "--client", "vllm", "--format", "json"]
    burst = CliRunner().invoke(cli, base + ["--request-rate", "inf"])
    closed = CliRunner().invoke(cli, base + ["--concurrency", "12"])
    assert burst.exit_code == 0 and closed.exit_code == 0, burst.output + closed.output
    b, c = json.loads(burst.stdout), json.loads(closed.stdout)
    assert b["ttft_s"] == pytest.approx(c["ttft_s"], rel=1e-9) and b["tpot_s"] == pytest.approx(c["tpot_s"], rel=1e-9)
    assert b["requests"] == 12
    table = CliRunner().invoke(cli, base[:-2] + ["--request-rate", "inf"], env={"COLUMNS": "160"})
    assert "(agg, 512 in / 64 out, 12 requests at once)" in " ".join(table.output.split())
    server = CliRunner().invoke(cli, ["serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--scenario",
                                      "server", "--request-rate", "inf"])
    assert server.exit_code == 2 and "finite --request-rate" in server.output


def test_an_unbounded_rate_capped_at_n_in_flight_is_the_closed_loop_of_n_clients() -> None:
    """vLLM's and SGLang's --max-concurrency caps an open loop's requests in flight (a semaphore around the request
    function). At --request-rate inf every request is due at once, so each one waits for one in flight to end: the
    closed loop of n clients, with the same draws, gives the same run to the last digit."""
    table = StepTable.of(linear, **GRID)
    profile = dataclasses.replace(FIXED, range_ratio=0.5)
    closed = Benchmark(isl=1000, osl=50, concurrency=4, client=profile, num_prompts=20)
    capped = dataclasses.replace(closed, request_rate=float("inf"), max_concurrency=4)
    a, b = run_aggregated(table, scheduler(), closed), run_aggregated(table, scheduler(), capped)
    assert b.latency == a.latency and b.duration_s == a.duration_s and b.requests == a.requests == 20
    assert "at most 4 in flight" in " ".join(b.assumptions)
    # a closed loop counts no wait at the client, though every request was due at 0 (it read a mean wait of 42 s
    # and a p99 of 88 s at --max-concurrency 8: report-only tester fixec2 2)
    assert (b.client_wait_s, b.client_wait_p99_s, b.client_waited) == (a.client_wait_s, a.client_wait_p99_s, 0) == (
        0.0, 0.0, 0)
    assert b.ttft_from_arrival == {k: b.latency[k] for k in ("ttft_s", "ttft_p50_s", "ttft_p90_s", "ttft_p99_s")}


def test_a_capped_open_loop_counts_ttft_from_the_send_after_the_wait() -> None:
    """Three requests due at 0, 1 ms and 2 ms (fixed rate 1,000/s), one in flight at most: each waits for the last
    to end and is then alone on the engine, so each TTFT is one lone prefill step (10 + 0.01 x 1,000 = 20 ms) and
    each E2E 20 + 10 x 11 = 130 ms, the run lasting 3 x 130 ms. Uncapped, the second and third queue behind the
    first prompt instead, and their TTFT counts that wait. The capped run's requests are sent at 0, 130 and 260 ms,
    so they wait 0, 129 and 258 ms at the client (mean and p50 129 ms, p90 129 + 0.8 x 129 = 232.2 ms, p99 129 + 0.98
    x 129 = 255.42 ms; two of the three waited), due over 2 ms and sent over 260; counted from arrival their TTFTs are
    20, 149 and 278 ms (mean 149, p99 149 + 0.98 x 129 = 275.42 ms); uncapped, none waits."""
    table = StepTable.of(linear, **GRID)
    base = Benchmark(isl=1000, osl=11, concurrency=1, client=FIXED, num_prompts=3, request_rate=1000.0,
                     poisson=False)
    capped = run_aggregated(table, scheduler(budget=1000, mixed=False), dataclasses.replace(base, max_concurrency=1))
    assert capped.latency["ttft_p99_s"] == pytest.approx(0.020)
    assert capped.latency["e2e_s"] == pytest.approx(0.130)
    assert capped.duration_s == pytest.approx(0.390)
    assert (capped.client_wait_s, capped.client_wait_p99_s) == pytest.approx((0.129, 0.25542))
    waits = (capped.client_wait_p50_s, capped.client_wait_p90_s, capped.client_waited)
    assert waits == pytest.approx((0.129, 0.2322, 2))
    assert (capped.from_arrival("ttft_s"), capped.from_arrival("ttft_p99_s")) == pytest.approx((0.149, 0.27542))
    assert (capped.due_span_s, capped.arrival_span_s) == pytest.approx((0.002, 0.260))
    free = run_aggregated(table, scheduler(budget=1000, mixed=False), base)
    assert free.latency["ttft_p99_s"] > 0.030 and free.duration_s < 0.3
    assert free.client_wait_s == free.client_wait_p99_s == 0.0 and free.due_span_s == pytest.approx(0.002)
    assert free.client_waited == 0 and free.from_arrival("ttft_p99_s") == free.latency["ttft_p99_s"]


def test_a_cap_needs_an_open_loop() -> None:
    with pytest.raises(ParityError, match="open loop"):
        Benchmark(isl=10, osl=10, concurrency=2, client=FIXED, max_concurrency=2).arrivals()
    with pytest.raises(ParityError, match=">= 1"):
        Benchmark(isl=10, osl=10, concurrency=2, client=FIXED, request_rate=1.0, max_concurrency=0).arrivals()


def test_serve_max_concurrency_caps_an_open_loop_and_prices_memory_at_its_peak() -> None:
    """`serve --request-rate inf --max-concurrency 12` is the closed loop of 12 clients (same TTFT and TPOT); its
    memory is the run's own peak of KV, 12 requests at their whole 512 + 64 tokens at once (they run in lockstep),
    where the closed loop's closed form holds each at 512 + 64 / 2: 12 x 32 tokens of 131,072 B more (Llama-3.1-8B:
    32 layers x 8 KV heads x 128 x 2 x 2 B); at a finite rate the cap shows in the title and bounds the run's peak in
    flight, at which the prefill share is priced; a cap without an open loop, or beside --concurrency, is refused in
    one line with exit code 2."""
    import json

    from click.testing import CliRunner

    from parity.cli import cli
    base = ["serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--engine", "vllm", "--isl", "512",
            "--osl", "64", "--num-prompts", "48", "--client", "vllm"]
    capped = CliRunner().invoke(cli, base + ["--request-rate", "inf", "--max-concurrency", "12", "--format", "json"])
    closed = CliRunner().invoke(cli, base + ["--concurrency", "12", "--format", "json"])
    assert capped.exit_code == 0 and closed.exit_code == 0, capped.output + closed.output
    c, d = json.loads(capped.stdout), json.loads(closed.stdout)
    assert c["ttft_p99_s"] == pytest.approx(d["ttft_p99_s"], rel=1e-9) and c["tpot_s"] == pytest.approx(d["tpot_s"])
    assert c["memory_bytes_per_chip"] - d["memory_bytes_per_chip"] == 12 * 32 * 131_072
    slow = CliRunner().invoke(cli, base + ["--request-rate", "100", "--max-concurrency", "3"], env={"COLUMNS": "160"})
    text = " ".join(slow.output.split())
    assert "48 requests at 100/s, at most 3 in flight)" in text and "peak of 3 requests in flight" in text
    for extra, words in ((["--max-concurrency", "4"], "caps the requests in flight of an open loop"),
                         (["--request-rate", "5", "--max-concurrency", "4", "--concurrency", "8"], "give one of them"),
                         (["--max-concurrency", "0", "--request-rate", "5"], "0 is not in the range")):
        bad = CliRunner().invoke(cli, base + extra)
        assert bad.exit_code == 2 and words in bad.output, bad.output


def test_predict_rows_with_a_request_rate_run_the_open_loop_they_describe(tmp_path) -> None:
    """A cases table's request_rate (and max_concurrency) make the simulated run the open loop of `serve
    --request-rate`: inf capped at 12 is the closed loop of 12 clients of the same profile (the vllm client, whose
    engine limits are the engine's own in both); a finite rate capped at 3 keeps 3 in flight and prices memory at that
    peak; without a simulator the row is unpriced with the reason (inf too, uncapped: every request at once, no closed
    loop), and a cap without a rate is refused."""
    import csv
    import io

    from click.testing import CliRunner

    from parity.cli import cli
    from parity.predict import predict_rows
    base = {"model": "llama-3.1-8b", "system": "hgx-h100", "engine": "vllm", "isl": "512", "osl": "64",
            "num_prompts": "48", "random_range_ratio": "0"}
    rows = [{**base, "case_id": "closed", "concurrency": "12"},
            {**base, "case_id": "burst", "concurrency": "12", "request_rate": "inf", "max_concurrency": "12"},
            {**base, "case_id": "rate", "request_rate": "100", "max_concurrency": "3"},
            {**base, "case_id": "uncapped", "concurrency": "3", "request_rate": "100"}]
    closed, burst, rate, uncapped = predict_rows(rows, model_kind="sim")
    assert burst.ttft_s == pytest.approx(closed.ttft_s, rel=1e-9) and burst.tpot_s == pytest.approx(closed.tpot_s)
    assert rate.feasible and "at the simulated run's peak of 3 requests in flight" in rate.note
    assert uncapped.extra["ttft_p99_s"] != rate.extra["ttft_p99_s"]  # the cap changes the run
    assert math.isnan(rate.extra.get("ttft_s_low", math.nan))  # no closed-loop bands on an open loop
    cases = tmp_path / "open.csv"
    with cases.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["case_id", *base, "concurrency", "request_rate", "max_concurrency"])
        w.writeheader()
        w.writerows(rows + [{**base, "case_id": "capped only", "concurrency": "4", "max_concurrency": "4"},
                            {**base, "case_id": "all at once", "concurrency": "12", "request_rate": "inf"}])
    steady = CliRunner().invoke(cli, ["predict", str(cases), "--model-kind", "steady"])
    notes = {r["case_id"]: r for r in csv.DictReader(io.StringIO(steady.stdout))}
    assert steady.exit_code == 0 and notes["closed"]["feasible"] == notes["burst"]["feasible"] == "True"
    assert notes["rate"]["feasible"] == "False" and "open-loop arrivals need the simulator" in notes["rate"]["note"]
    assert notes["capped only"]["note"].startswith("max_concurrency caps an open loop's requests in flight")
    assert notes["all at once"]["feasible"] == "False" and notes["all at once"]["note"] == (  # serve refuses it too
        "request_rate inf without max_concurrency: every request sent at once, all in flight together; the "
        "steady-state model prices a closed loop of the row's concurrency, which request_rate inf with "
        "max_concurrency is (set it), and the simulator the burst (--model-kind sim, the default)")


def test_an_open_loop_that_falls_behind_is_flagged_overloaded_on_its_own_evidence(tmp_path) -> None:
    """200 requests/s of 1,024 + 1,024 tokens (vLLM's client, serve's for an open loop, at fixed lengths) on one H100
    serving Llama-3.1-8B ask for 204,800 output tokens/s: the run completes 5,161 a second and each request's TTFT is
    3 s longer for every second later it was sent, so it is flagged, its latencies growing with --num-prompts. 2 a
    second is not, however short the run, nor a run capped at 16 in flight (its backlog waits in the client) or all
    at once (a burst, as its title says). A trace of 600 requests at 20 a second, prompts of 100 to 2,000 tokens and
    outputs of 50 to 500 (mean 274), keeps up (TTFT 46.5 ms, p99 69.7 ms): it was flagged as overloaded, priced at its
    longest request ('completes at most about 4,633' for the 5,489 it asks), and is not."""
    import json

    from click.testing import CliRunner

    from parity.cli import cli
    base = ["serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--format", "json"]

    def run(*extra: str) -> dict:
        done = CliRunner().invoke(cli, base + list(extra))
        assert done.exit_code == 0, done.output
        return json.loads(done.stdout)
    flagged = run("--request-rate", "200", "--num-prompts", "60")["flags"]
    assert ("overloaded run: its requests ask for 204,800 output tokens/s and it completed 5,161 a second (their TTFT "
            "grew by 3.00 s for every second of arrivals), so the backlog grows as long as they come: its latencies "
            "grow with the run's length (--num-prompts) and describe no steady state") in flagged
    for extra in (("--request-rate", "2", "--num-prompts", "5"), ("--request-rate", "200", "--num-prompts", "60",
                  "--max-concurrency", "16"), ("--request-rate", "inf", "--num-prompts", "60")):
        assert "overloaded" not in "; ".join(run(*extra)["flags"])
    # no TTFT backlog, but 20 requests within 0.5 s, each 8.2 s long: the run took them in at once and never settled
    # (asked 40,960 tok/s, completed 2,418; report-only tester fuzzDG 1: 300 at 32/s had a 75x better TTFT p99 than
    # at 16/s, unflagged)
    short = run("--request-rate", "40", "--fixed-rate", "--num-prompts", "20")["flags"]
    assert ("short run: its requests arrive over 0.5 s, less than one request's mean end-to-end time (8.2 s), and ask "
            "for 40,960 output tokens/s where it completed 2,418 a second: the run never settles, so its latencies "
            "describe this burst, not a sustained load (more requests: --num-prompts)") in short
    trace = tmp_path / "kept.csv"
    trace.write_text("arrival_s,isl,osl\n" + "".join(f"{i / 20:.2f},{100 + i * 617 % 1901},{50 + i * 37 % 451}\n"
                                                     for i in range(600)))
    kept = run("--trace", str(trace))
    assert (kept["ttft_s"], kept["ttft_p99_s"]) == pytest.approx((0.0465, 0.0697), abs=1e-4)
    assert "overloaded" not in "; ".join(kept["flags"])
    trace.write_text("arrival_s,isl,osl\n" + "".join(f"{i / 100:.2f},1024,1024\n" for i in range(100)))
    assert ("overloaded run: its requests ask for 102,400 output tokens/s and it completed 6,648 a second (their TTFT "
            "grew by 1.23 s for every second of arrivals), so the backlog grows as long as they come: its latencies "
            "grow with the run's length (the trace's length) and describe no steady state") in run(
        "--trace", str(trace))["flags"]
    bench = Benchmark(isl=100, osl=100, concurrency=1, client=dataclasses.replace(FIXED, range_ratio=0.5),
                      request_rate=3.0)
    assert bench.offered_output_tokens_per_s() == pytest.approx(3.0 * 75)  # lengths uniform in [50, 100]
    # a cap on requests in flight holds arrivals back at the client; they still ask for what they ask for
    assert dataclasses.replace(bench, max_concurrency=4).offered_output_tokens_per_s() == pytest.approx(3.0 * 75)


def test_a_rows_random_range_ratio_of_1_asks_for_fixed_lengths() -> None:
    """A cases table's random_range_ratio 1 was read as an empty cell: the row kept its client profile's range (sglang's
    [0, 1] x nominal, TTFT 33.0 ms) where `serve --random-range-ratio 1` and validate's rows price fixed lengths
    (272.5 ms). A ratio given replaces the profile's, 1 included; an empty cell keeps the profile's."""
    from parity.predict import predict_rows
    base = {"model": "llama-3.1-8b", "system": "hgx-h100", "isl": "1024", "osl": "256", "concurrency": "16",
            "tp": "1", "client": "sglang"}
    profile, fixed, aic = predict_rows([{**base, "case_id": "sg", "random_range_ratio": ""},
                                        {**base, "case_id": "sg1", "random_range_ratio": "1"},
                                        {**base, "case_id": "aic1", "client": "aiconfigurator",
                                         "random_range_ratio": "1"}], model_kind="sim")
    assert profile.ttft_s == pytest.approx(0.0329965, rel=1e-5) and "in [0, 1] x nominal" in profile.note
    assert fixed.ttft_s == pytest.approx(0.272452, rel=1e-5) and fixed.tpot_s == pytest.approx(0.00760559, rel=1e-5)
    assert aic.ttft_s == pytest.approx(0.273160, rel=1e-5) and "fixed lengths" in fixed.note + aic.note


def test_a_rows_open_loop_names_its_columns_and_refuses_two_client_counts() -> None:
    """A row with concurrency 16 and max_concurrency 8 simulated 160 requests, '10 a client x the 16 in flight', with
    at most 8 in flight, where serve refuses --concurrency with --max-concurrency; and a row's note named serve's
    options ('x --concurrency 32'). The row is refused with the reason (the same number in both is one count), and
    its notes name the row's columns."""
    from parity.predict import predict_rows
    base = {"model": "llama-3.1-8b", "system": "hgx-h100", "isl": "1024", "osl": "256", "tp": "1",
            "client": "inferencex", "request_rate": "5"}
    uncapped, capped, both = predict_rows([{**base, "case_id": "o1", "concurrency": "32"},
                                           {**base, "case_id": "o2", "max_concurrency": "8"},
                                           {**base, "case_id": "o3", "concurrency": "16", "max_concurrency": "8"}],
                                          model_kind="sim")
    assert ("simulated 320 requests (10 a client x the row's concurrency 32: a count of requests, not a cap on those "
            "in flight, which max_concurrency would set)") in uncapped.note
    assert ("simulated 80 requests (10 a client x the 8 in flight) arriving at random at 5 requests/s, at most 8 in "
            "flight (the row's max_concurrency: later ones wait") in capped.note
    assert not both.feasible and both.note == (
        "concurrency 16 with max_concurrency 8: an open loop's clients are its cap on requests in flight "
        "(max_concurrency), which also sets the client profile's count of prompts; give one of them, or the same "
        "number in both")


def test_an_open_loops_step_table_reaches_every_request_it_can_have_in_flight_whatever_its_concurrency() -> None:
    """In flight at most: a closed loop's 8 clients; an open loop's (or a trace's) cap of 32; without a cap, each of
    its 100 requests (its concurrency only sets how many it sends). The step table's batches reach that (at most the
    engine's 2,048 sequences) plus one: 101 for the open loop. So llama-3.1-70b on 8 H100s at 4 requests/s of 1,000 in /
    1,000 out, whose peak in flight is 73, reads the same steps at --concurrency 8 as at 16: TPOT 16.85 ms (the table
    stopped at 9 and 17 sequences and extrapolated from its last cell: 17.44 ms, the step's time past 64 sequences
    grows more slowly)."""
    from parity.simulate.clients import TraceRequest
    from parity.simulate.workers import _scheduler, _table
    closed = Benchmark(isl=1000, osl=1000, concurrency=8, client=FIXED, num_prompts=100)
    rate = dataclasses.replace(closed, request_rate=4.0)
    trace = tuple(TraceRequest(arrival_s=0.1 * i, isl=1000, osl=1000) for i in range(3))
    assert [b.most_in_flight() for b in (closed, rate, dataclasses.replace(rate, max_concurrency=32),
                                         dataclasses.replace(closed, num_prompts=None, trace=trace))] == [8, 100, 32, 3]
    s = scenario_from_row(dict(model="llama-3.1-70b", system="hgx-h100", engine="trtllm", isl=1000, osl=1000,
                               concurrency=8, tp=8))
    dep = deployment(s, s.layout)
    _, capacity = _scheduler(dep, s.engine, closed)
    runs = [simulate_scenario(s, dataclasses.replace(rate, concurrency=c), timeline=True) for c in (8, 16)]
    assert [(r.latency["tpot_s"], r.peak_in_flight()) for r in runs] == [(pytest.approx(0.016849, abs=1e-6), 73)] * 2
    assert _table(dep, s.engine, rate, capacity, 2048.0).batches[-1] == 101.0  # the run's own table


def test_a_timeline_row_counts_the_prompts_its_step_prefilled_and_names_its_worker_by_index() -> None:
    """With 2,048-token prompts (one chunk each) `prefilling` read 0 in every row: it counted prompts left partway
    after the step. It counts the prompts that took a chunk in the step now (partly_prefilled the ones left
    partway), and `worker` is an index beside its role, not 'worker 0'. 8 clients of 2,048 + 64 tokens on one
    H100 under sglang: the first step prefills 4 prompts (8,192 tokens, its step budget) and 4 stay queued."""
    from parity.plan import Layout
    from parity.predict import Case, benchmark_of, scenario_of, simulate_scenario
    scenario = scenario_of(Case(case_id="t", model="llama-3.1-8b", system="hgx-h100", engine="sglang", isl=2048,
                                osl=64, concurrency=8, layout=Layout(tp=1), random_range_ratio=1.0))
    run = simulate_scenario(scenario, benchmark_of(scenario, num_prompts=8), timeline=True)
    first = run.timeline[0]
    assert {k: first[k] for k in ("worker", "role", "queued", "prefilling", "partly_prefilled", "running")} == {
        "worker": 0, "role": "agg", "queued": 4, "prefilling": 4, "partly_prefilled": 0, "running": 4}
    assert sum(int(r["prefilling"]) for r in run.timeline) == 8  # each prompt prefilled in one step, once
    assert run.peak_in_flight() == 8.0


def test_an_open_loop_row_without_a_concurrency_counts_serves_default_clients() -> None:
    """A cases row with a request_rate and no concurrency was refused 'concurrency is required', where `serve
    --request-rate` needs none (report-only tester fuzzDG 3): it counts serve's default 32 clients, which set the
    client profile's prompts where num_prompts is not given, and prices as the row with 32."""
    from parity.predict import predict_rows
    base = {"model": "llama-3.1-8b", "system": "hgx-h100", "isl": "256", "osl": "64", "tp": "1", "request_rate": "10",
            "num_prompts": "40"}
    bare, given = predict_rows([{**base, "case_id": "a"}, {**base, "case_id": "b", "concurrency": "32"}],
                               model_kind="sim")
    assert bare.feasible and (bare.ttft_s, bare.tpot_s) == (given.ttft_s, given.tpot_s)
