"""SGLang's scheduler habits in the step-level simulator (parity.simulate): prompt admission by its
PrefillAdder's two budgets, the chunked prefill size by GPU memory, and the receive cadence of
--scheduler-recv-interval. Hand-checked runs on a made-up step table."""

from __future__ import annotations

import dataclasses

import pytest

from parity import catalog
from parity.simulate import Benchmark, ClientProfile, StepTable, TraceRequest, run_aggregated, scheduler_of
from parity.simulate.policies import PromptAdmission, RecvInterval, sglang_chunked_prefill_tokens, sglang_dp_chunk_tokens

FIXED = ClientProfile(id="test", num_prompts=1, range_ratio=1.0, source="test")
GRID = dict(batches=(0.0, 1.0, 2.0, 4.0, 8.0), contexts=(1.0, 1000.0, 10000.0),
            prefills=(0.0, 1000.0, 2000.0, 4000.0, 8192.0))


def linear(b: float, c: float, p: float) -> float:
    """10 ms per step, 1 ms per decoding sequence, 0.01 ms per prompt token."""
    return 0.010 + 0.001 * b + 0.00001 * p


def scheduler(budget: int, max_prefill_tokens: float | None = None, recv_steps: float = 0.0):
    """vLLM's profile (no overlap, no output lag) with prompt steps apart from decodes, blocks of 1, and
    optionally SGLang's prompt admission and receive interval."""
    engine = dataclasses.replace(catalog.engine("vllm"), max_num_tokens=budget, mixes_prefill=False,
                                 ttft_overhead_s=0.0, sim_first_token_steps=0.0)
    sched = scheduler_of(engine, 1e6)
    admission = None if max_prefill_tokens is None else PromptAdmission(max_prefill_tokens=max_prefill_tokens)
    return dataclasses.replace(sched, kv=dataclasses.replace(sched.kv, block_tokens=1),
                               budget=dataclasses.replace(sched.budget, prompt_admission=admission),
                               recv=RecvInterval(steps=recv_steps))


def closed(isl: int, osl: int, clients: int) -> Benchmark:
    return Benchmark(isl=isl, osl=osl, concurrency=clients, client=FIXED, num_prompts=clients)


def test_prompt_admission_leaves_a_prompt_that_does_not_fit_the_input_budget_for_the_next_step() -> None:
    """Four clients send 1,000-token prompts at once; step budget (chunk) 4,000, input budget 2,500.
    SGLang's PrefillAdder takes the first (1,500 left), the second (1,000 < 1,500; 500 left), and leaves
    the third (1,000 >= 500): steps of two prompts, 10 + 0.01 x 2000 = 30 ms each, TTFT 30, 30, 60, 60 ms,
    mean 45 ms. Without the input budget one step takes all four: 10 + 40 = 50 ms each, mean 50 ms."""
    table = StepTable.of(linear, **GRID)
    admitted = run_aggregated(table, scheduler(4000, 2500.0), closed(1000, 2, 4))
    plain = run_aggregated(table, scheduler(4000), closed(1000, 2, 4))
    assert admitted.latency["ttft_s"] == pytest.approx(0.045)
    assert admitted.latency["ttft_p50_s"] == pytest.approx(0.045)
    assert plain.latency["ttft_s"] == pytest.approx(0.050)


def test_the_first_prompt_of_a_step_goes_whole_even_past_the_input_budget() -> None:
    """Two 3,000-token prompts, step budget 4,000, input budget 2,500: the first is the step's first, so it
    goes whole (3,000 <= the 4,000 chunk); the second (3,000 >= -500 left) waits: steps of 10 + 30 = 40 ms,
    TTFT 40 and 80 ms, mean 60 ms. Without the input budget the second is chunked into the first step's
    last 1,000 tokens (step 10 + 40 = 50 ms) and finished in a step of 10 + 20 = 30 ms: TTFT 50 and 80 ms,
    mean 65 ms."""
    table = StepTable.of(linear, **GRID)
    admitted = run_aggregated(table, scheduler(4000, 2500.0), closed(3000, 2, 2))
    plain = run_aggregated(table, scheduler(4000), closed(3000, 2, 2))
    assert admitted.latency["ttft_s"] == pytest.approx(0.060)
    assert plain.latency["ttft_s"] == pytest.approx(0.065)


def test_sglang_chunked_prefill_size_follows_the_gpu_memory() -> None:
    """SGLang's server_args default: < 35 GiB 2,048, < 60 GiB 4,096, < 160 GiB 8,192 (H100 80 GB =
    76,294 MiB; H200 141 GB = 134,468 MiB), else 16,384 (B200); the scheduler's step budget is that, at
    most the profile's max_num_tokens, where the profile turns SGLang's admission on."""
    assert sglang_chunked_prefill_tokens(24e9) == 2048
    assert sglang_chunked_prefill_tokens(40e9) == 4096
    assert sglang_chunked_prefill_tokens(80e9) == 8192
    assert sglang_chunked_prefill_tokens(141e9) == 8192
    assert sglang_chunked_prefill_tokens(180e9) == 16384
    sglang = catalog.engine("sglang")
    assert sglang.sim_max_prefill_tokens == 16384
    on_h100 = scheduler_of(sglang, 1e6, chip_memory_bytes=80e9).budget
    assert on_h100.max_num_tokens == 8192
    assert on_h100.prompt_admission == PromptAdmission(max_prefill_tokens=16384.0)
    assert scheduler_of(sglang, 1e6, chip_memory_bytes=180e9).budget.max_num_tokens == 16384
    trtllm = scheduler_of(catalog.engine("trtllm"), 1e6, chip_memory_bytes=80e9).budget
    assert trtllm.prompt_admission is None and trtllm.max_num_tokens == catalog.engine("trtllm").max_num_tokens


def test_sglang_with_attention_dp_gives_each_rank_its_share_of_the_chunked_prefill_size() -> None:
    """--enable-dp-attention divides --chunked-prefill-size by the DP size (server_args.py): B200's 16,384 over
    8 ranks is 2,048 prompt tokens per rank and step; 8,192 over 3 ranks is 2,730 (floor). A disaggregated
    decode worker runs no prompts, so its budget stays whole; TensorRT-LLM's max_num_tokens is per rank already."""
    assert sglang_dp_chunk_tokens(16384, 8) == 2048
    assert sglang_dp_chunk_tokens(8192, 3) == 2730
    assert sglang_dp_chunk_tokens(8192, 1) == 8192
    sglang = catalog.engine("sglang")
    assert scheduler_of(sglang, 1e6, attn_dp=8, chip_memory_bytes=180e9).budget.max_num_tokens == 2048
    assert scheduler_of(sglang, 1e6, attn_dp=8, chip_memory_bytes=180e9, prompts=False).budget.max_num_tokens == 16384
    trtllm = catalog.engine("trtllm")
    assert scheduler_of(trtllm, 1e6, attn_dp=8, chip_memory_bytes=180e9).budget.max_num_tokens == trtllm.max_num_tokens


def test_the_receive_interval_takes_requests_in_every_n_decode_steps_whatever_it_found() -> None:
    """Request A (1,000 + 101 tokens) at 0 s, request B (1,000 + 2) at 0.25 s; receive every 10 decode
    steps (SGLang --scheduler-recv-interval 10: the counter restarts at every attempt and after a prompt
    step). A's prompt step ends at 20 ms (TTFT 20 ms) and the scheduler looks at 20 ms, then every 10
    decode steps of 11 ms: 130, 240, 350 ms. B, sent at 250 ms, is seen at 350 ms and prefilled by 370 ms:
    TTFT 120 ms; mean TTFT 70 ms. Receiving every step: B is seen at the first step boundary after 250 ms
    (20 + 21 x 11 = 251 ms) and its TTFT is 21 ms."""
    table = StepTable.of(linear, **GRID)
    trace = (TraceRequest(arrival_s=0.0, isl=1000, osl=101), TraceRequest(arrival_s=0.25, isl=1000, osl=2))
    bench = Benchmark(isl=1000, osl=101, concurrency=2, client=FIXED, trace=trace)
    every10 = run_aggregated(table, scheduler(4000, recv_steps=10.0), bench)
    every = run_aggregated(table, scheduler(4000), bench)
    assert every10.latency["ttft_s"] == pytest.approx(0.070)
    assert every.latency["ttft_s"] == pytest.approx((0.020 + 0.021) / 2)


def test_sglang_speculative_decoding_turns_overlap_scheduling_off() -> None:
    """SGLang's server_args turn the overlap scheduler off for EAGLE/NEXTN speculative decoding (MTP), so an
    SGLang scheduler with MTP is synchronous; TensorRT-LLM keeps overlapping with MTP."""
    sglang, trtllm = catalog.engine("sglang"), catalog.engine("trtllm")
    assert scheduler_of(sglang, 1e6).overlap.on
    assert not scheduler_of(sglang, 1e6, mtp_tokens=1, mtp_acceptance=0.9).overlap.on
    assert scheduler_of(trtllm, 1e6, mtp_tokens=3, mtp_acceptance=1.8).overlap.on


def test_engines_scheduler_lists_each_engines_named_policies_with_their_parameters() -> None:
    """`parity engines --scheduler`: TensorRT-LLM holds attention-DP prompts 60 steps (its profile's
    attention_dp_hold_steps, read as with attention DP) in KV blocks of 32 reserved at admission; SGLang has
    PromptAdmission's 16,384-token input budget and pages of 1 token, vLLM no PromptAdmission ('-'); the KV
    pool is sized per deployment. policy_parameters reads every policy object, nested ones too."""
    import json

    from click.testing import CliRunner

    from parity.cli import cli
    from parity.simulate import policy_parameters

    result = CliRunner().invoke(cli, ["engines", "--scheduler", "--format", "json"])
    assert result.exit_code == 0, result.output
    found = {e["id"]: {(p["policy"], p["parameter"]): p["value"] for p in e["policies"]}
             for e in json.loads(result.stdout)}
    assert found["trtllm"][("AttentionDpBalance", "hold_steps")] == 60
    assert found["trtllm"][("KvAdmission", "block_tokens")] == 32 and not found["trtllm"][("KvAdmission", "on_demand")]
    assert found["sglang"][("PromptAdmission", "max_prefill_tokens")] == 16384
    assert found["sglang"][("KvAdmission", "block_tokens")] == 1
    assert ("PromptAdmission", "max_prefill_tokens") not in found["vllm"]
    assert found["vllm"][("KvAdmission", "capacity_tokens")] is None
    table = CliRunner().invoke(cli, ["engines", "--scheduler"], env={"COLUMNS": "200"})
    assert "PromptAdmission" in table.stdout and "per run" in table.stdout
    narrow = CliRunner().invoke(cli, ["engines", "--scheduler"], env={"COLUMNS": "80"}).stdout
    assert max(map(len, narrow.splitlines())) <= 80 and "first_token_at_prefill" in narrow  # was 82 (fuzz round 6)
    sched = scheduler_of(catalog.engine("sglang"), kv_capacity_tokens=1000.0, mtp_tokens=1, mtp_acceptance=0.9)
    params = {(p, n): v for p, n, v, _ in policy_parameters(sched)}
    assert params[("Mtp", "tokens")] == 1 and params[("KvAdmission", "capacity_tokens")] == 1000.0
    assert params[("OverlapScheduling", "on")] is False  # SGLang's MTP turns overlap off


def test_chunked_prefill_off_runs_whole_prompts_under_the_input_budget_alone() -> None:
    """--chunked-prefill-size -1 (sim_chunked_prefill_tokens -1) leaves SGLang's scheduler without a chunk budget,
    and attention DP leaves it off (-1 // 16 is -1): on a 64 GB die (SGLang's default there 4,096) over 16
    attention-DP ranks each rank's step budget stays the profile's 16,384 instead of 4,096 // 16 = 256, prompts run
    whole, and --max-prefill-tokens 1,500 takes one 2,048-token prompt per rank and step (the first goes whatever
    its length; the next, 2,048 >= -548 left, waits). Two clients on two ranks: one step of 10 + 0.01 x 2,048 =
    30.48 ms prefills both, TTFT 30.48 ms; with the default, eight 256-token chunks of 12.56 ms: 100.48 ms."""
    base = dataclasses.replace(catalog.engine("vllm"), max_num_tokens=16384, mixes_prefill=False,
                               ttft_overhead_s=0.0, sim_first_token_steps=0.0, sim_max_prefill_tokens=1500)
    off = scheduler_of(dataclasses.replace(base, sim_chunked_prefill_tokens=-1), 1e6, attn_dp=16,
                       chip_memory_bytes=64e9)
    default = scheduler_of(base, 1e6, attn_dp=16, chip_memory_bytes=64e9)
    assert off.budget.max_num_tokens == 16384 and not off.budget.chunked
    assert off.budget.prompt_admission == PromptAdmission(max_prefill_tokens=1500.0)
    assert default.budget.max_num_tokens == 256 and default.budget.chunked
    table = StepTable.of(linear, **GRID)

    def ttft(sched) -> float:  # type: ignore[no-untyped-def]
        sched = dataclasses.replace(sched, kv=dataclasses.replace(sched.kv, block_tokens=1))
        return run_aggregated(table, sched, closed(2048, 2, 2), ranks=16).latency["ttft_s"]
    assert ttft(off) == pytest.approx(0.03048)
    assert ttft(default) == pytest.approx(0.10048)
