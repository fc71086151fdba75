"""Offload of KV cache and weights to host CPU memory over a chip-to-CPU link (issue 17, Build item 4):
device memory falls by the offloaded share, and each step adds the offloaded bytes over the link's bandwidth."""

import dataclasses
import json

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from parity import catalog
from parity.cli import cli
from parity.errors import InfeasiblePlan
from parity.memory import HOST_RESERVE_BYTES
from parity.ops import Batch
from parity.plan import Layout, Precision
from parity.predict import predict_rows
from parity.step import Deployment, deployment_memory, host_read_s, step_cost

from conftest import perfect_calibration, round_system, tiny_model

# the round node with a host: 200 GB of CPU memory and 50 GB/s of host link per chip
HOSTED = dataclasses.replace(round_system(), host_memory_bytes=200e9, host_link_bytes_per_s=50e9)


def _dep(**offload: float) -> Deployment:
    return Deployment(model=tiny_model(), system=HOSTED, layout=Layout(), precision=Precision(),
                      calibration=perfect_calibration(), **offload)


def test_added_decode_time_is_offloaded_bytes_over_the_host_link() -> None:
    """tiny model, bf16: KV per token 2 x 10 heads x 100 x 2 B = 4,000 B; 10 sequences of 1,000 tokens hold
    40 MB, half offloaded: 20 MB / 50 GB/s = 0.4 ms. Weights 4 x 1000^2 (attention) + 3 x 1000 x 4000 (MLP)
    + 2 x 1000^2 (embeddings) = 18 M x 2 B = 36 MB; a quarter offloaded: 9 MB / 50 GB/s = 0.18 ms."""
    batch = Batch(decode_tokens=10.0, decode_context=1000.0)
    base = float(step_cost(_dep(), batch).time_s)
    kv = float(step_cost(_dep(offload_kv=0.5), batch).time_s)
    both = float(step_cost(_dep(offload_kv=0.5, offload_weights=0.25), batch).time_s)
    assert kv - base == pytest.approx(0.4e-3, rel=1e-9)
    assert both - base == pytest.approx(0.4e-3 + 0.18e-3, rel=1e-9)
    assert float(host_read_s(_dep(), batch)) == 0.0


def test_device_memory_falls_by_the_offloaded_share() -> None:
    """Same case: KV 40 MB -> 20 MB on the device, weights 36 MB -> 27 MB; the KV a device can hold grows
    from (room / 4,000 B) to (room / 2,000 B) while the host's 200 GB is not the tighter bound."""
    plain = deployment_memory(_dep(), 10.0, 1000.0, 10.0)
    moved = deployment_memory(_dep(offload_kv=0.5, offload_weights=0.25), 10.0, 1000.0, 10.0)
    assert float(plain.kv_bytes) == pytest.approx(40e6) and float(moved.kv_bytes) == pytest.approx(20e6)
    assert float(plain.weight_bytes) == pytest.approx(36e6) and float(moved.weight_bytes) == pytest.approx(27e6)
    assert float(moved.kv_bytes_per_token) == pytest.approx(2000.0)


def test_all_kv_offloaded_is_bounded_by_host_memory() -> None:
    """offload_kv 1: the device keeps none of the KV, so the host's 200 GB less its 10 GB reserve
    (HOST_RESERVE_BYTES) bounds it: 190e9 / 4,000 B = 4.75e7 tokens; with the 36 MB of weights offloaded too,
    (190e9 - 36e6) / 4,000 = 47,491,000 tokens. Weights larger than the host memory are refused."""
    assert HOST_RESERVE_BYTES == 10e9
    assert float(deployment_memory(_dep(offload_kv=1.0), 1.0, 1000.0, 1.0).kv_token_capacity) == pytest.approx(4.75e7)
    both = deployment_memory(_dep(offload_kv=1.0, offload_weights=1.0), 1.0, 1000.0, 1.0)
    assert float(both.kv_token_capacity) == pytest.approx(47_491_000)
    assert float(both.weight_bytes) == 0.0
    small = dataclasses.replace(HOSTED, host_memory_bytes=10e6)
    dep = dataclasses.replace(_dep(offload_weights=1.0), system=small)
    with pytest.raises(InfeasiblePlan, match="exceeds the host memory"):
        deployment_memory(dep, 1.0, 1000.0, 1.0)


def test_device_keeps_only_its_share_where_the_host_bounds_capacity() -> None:
    """offload_kv 0.75 on the 100 GB round chip: ~89 GB of room for the device's 1,000 B a token and the
    host's 200 GB (less its 10 GB reserve) for its 3,000 B a token, so the host bounds capacity at
    190e9 / 3,000 = 63,333,333 tokens (the device alone would hold ~89 M). The 10 x 1,000 tokens of 4,000 B still keep only a quarter,
    10 MB, on the device and 30 MB on the host: the host bound limits capacity, it is not device memory."""
    plain = deployment_memory(_dep(), 10.0, 1000.0, 10.0)
    moved = deployment_memory(_dep(offload_kv=0.75), 10.0, 1000.0, 10.0)
    assert float(moved.kv_bytes) == pytest.approx(10e6) and float(moved.host_kv_bytes) == pytest.approx(30e6)
    assert float(plain.used_bytes - moved.used_bytes) == pytest.approx(30e6)
    assert float(moved.kv_token_capacity) == pytest.approx(190e9 / 3000)
    everything = deployment_memory(_dep(offload_kv=1.0), 10.0, 1000.0, 10.0)
    assert float(everything.kv_bytes) == 0.0
    assert float(plain.used_bytes - everything.used_bytes) == pytest.approx(40e6)
    over = deployment_memory(_dep(offload_kv=1.0), 10.0, 6e6, 10.0)  # 240 GB of KV for the host's 190 GB
    assert not bool(over.fits) and float(over.free_bytes) == pytest.approx(190e9 - 240e9)
    assert bool(over.host_binds) and not bool(moved.host_binds)


@settings(max_examples=60, deadline=None)
@given(low=st.floats(0.0, 1.0), high=st.floats(0.0, 1.0), weights=st.floats(0.0, 1.0),
       sequences=st.floats(1.0, 1e4), context=st.floats(1.0, 1e6))
def test_device_memory_never_grows_with_the_offloaded_kv_share(low: float, high: float, weights: float,
                                                               sequences: float, context: float) -> None:
    """For the same sequences, more KV offloaded never raises device memory, and the KV on the device and
    on the host add up to the whole cache."""
    low, high = min(low, high), max(low, high)
    less = deployment_memory(_dep(offload_kv=low, offload_weights=weights), sequences, context, 10.0)
    more = deployment_memory(_dep(offload_kv=high, offload_weights=weights), sequences, context, 10.0)
    assert float(more.used_bytes) <= float(less.used_bytes) * (1 + 1e-12)
    whole = sequences * context * 4000.0
    for plan in (less, more):
        assert float(plan.kv_bytes + plan.host_kv_bytes) == pytest.approx(whole, rel=1e-9)


def test_gb200_llama_70b_memory_falls_in_step_with_the_offloaded_share() -> None:
    """Llama-3.1-70B at tp 4, bf16 KV: 80 layers x 8 heads x 128 x 2 (K, V) x 2 B / 4 ranks = 81,920 B a token
    per chip. 32 clients of 1,024 + 1,024 tokens hold 1,024 + 512 each on average (pages allocated as the
    output grows): 32 x 1,536 x 81,920 B = 4.027 GB a chip, of which 0.75 and 1 leave the device."""
    row = {"model": "llama-3.1-70b", "system": "gb200-nvl72", "tp": 4, "isl": 1024, "osl": 1024, "concurrency": 32}
    shares = (0.0, 0.25, 0.75, 1.0)
    memory = [p.memory_bytes_per_chip for p in
              predict_rows([{**row, "offload_kv": share} for share in shares], model_kind="steady")]
    kv = 32 * 1536 * 81920
    for share, used in zip(shares, memory):
        assert memory[0] - used == pytest.approx(share * kv, rel=1e-9)


def test_a_system_without_host_link_refuses_offload() -> None:
    with pytest.raises(InfeasiblePlan, match="no host memory"):
        Deployment(model=tiny_model(), system=round_system(), layout=Layout(), precision=Precision(),
                   calibration=perfect_calibration(), offload_kv=0.5)
    with pytest.raises(InfeasiblePlan, match=r"offload_weights must be in \[0, 1\]"):
        _dep(offload_weights=1.5)
    result = CliRunner().invoke(cli, "serve --model llama-3.1-8b --system hgx-h100 --offload-kv 0.5".split())
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "no host memory" in result.output


def test_grace_systems_state_host_memory_and_link_per_gpu() -> None:
    """NVIDIA Grace: 480 GB LPDDR5X and NVLink-C2C 900 GB/s bidirectional per Grace, one Grace per two GPUs:
    240 GB and 900 / 2 (one direction) / 2 = 225 GB/s per GPU."""
    for name in ("gb200-nvl72", "gb300-nvl72"):
        system = catalog.system(name)
        assert system.host_memory_bytes == pytest.approx(240e9)
        assert system.host_link_bytes_per_s == pytest.approx(225e9)
    assert catalog.system("hgx-h200").host_link_bytes_per_s == 0.0


def test_gb200_deepseek_decode_with_half_the_kv_offloaded() -> None:
    """DeepSeek-R1 MLA KV, bf16: 61 layers x 576 x 2 B = 70,272 B a token. 64 sequences of 8,192 tokens per
    rank hold 36.84 GB; half offloaded frees 18.42 GB of HBM and adds 18.42 GB / 225 GB/s = 81.9 ms a step.
    Through the CSV columns offload_kv (and the CLI's --offload-kv, which builds the same case)."""
    row = {"model": "deepseek-r1", "system": "gb200-nvl72", "phase": "decode", "batch": 1024, "context": 8192,
           "attn_dp": 16, "moe_ep": 16, "kv": "bf16"}
    before, after = predict_rows([row, {**row, "offload_kv": 0.5}])
    moved = 0.5 * 64 * 8192 * 61 * 576 * 2
    assert before.memory_bytes_per_chip - after.memory_bytes_per_chip == pytest.approx(moved, rel=1e-9)
    assert after.extra["step_s"] - before.extra["step_s"] == pytest.approx(moved / 225e9, rel=1e-9)
    assert "offloaded to host memory: KV 50%" in after.note
    bad = predict_rows([{**row, "system": "hgx-h200", "offload_kv": 0.5}])[0]
    assert not bad.feasible and "no host memory" in bad.note


def test_serve_option_matches_the_column() -> None:
    args = ("serve --model deepseek-r1 --system gb200-nvl72 --phase decode --batch 1024 --context 8192 "
            "--attn-dp 16 --moe-ep 16 --kv bf16 --offload-kv 0.5 --format json").split()
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    row = {"model": "deepseek-r1", "system": "gb200-nvl72", "phase": "decode", "batch": 1024, "context": 8192,
           "attn_dp": 16, "moe_ep": 16, "kv": "bf16", "offload_kv": 0.5}
    assert json.loads(result.output)["step_s"] == pytest.approx(predict_rows([row])[0].extra["step_s"])


def test_a_refusal_names_host_memory_where_the_host_binds() -> None:
    """Llama-3.1-70B at tp 4 on GB200, one decode step of 32 sequences of 100,000 tokens: 32 x 100,000 x 81,920 B
    = 262.1 GB of KV a chip. All of it offloaded, the host's 240 - 10 GB reserve = 230 GB is 32.1 GB short while
    the device (weights only) has room: the refusal named the device ("needs 22.1 GB more per chip (weights is the
    largest term)"). 90% offloaded: 235.9 GB, 5.9 GB short. Half offloaded the device binds, and says so."""
    row = {"model": "llama-3.1-70b", "system": "gb200-nvl72", "tp": 4, "phase": "decode", "batch": 32,
           "context": 100_000, "kv": "bf16"}
    whole, most, half = predict_rows([{**row, "offload_kv": share} for share in (1.0, 0.9, 0.5)])
    assert not whole.feasible and whole.note == (
        "does not fit: host memory is the limit: the offloaded KV cache (262.1 GB per chip) needs 32.1 GB more than "
        "the 230.0 GB of host memory per chip left for it")
    assert "(235.9 GB per chip) needs 5.9 GB more than the 230.0 GB" in most.note
    assert not half.feasible and "host" not in half.note and "GB more per chip (KV cache is the largest term)" in half.note
    result = CliRunner().invoke(cli, ["serve", "--model", "llama-3.1-70b", "--system", "gb200-nvl72", "--tp", "4",
                                      "--kv", "bf16", "--offload-kv", "1", "--phase", "decode", "--batch", "32",
                                      "--context", "100000"])
    assert result.exit_code == 2 and result.output == f"parity: error: {whole.note}\n"


def test_a_batched_refusal_names_its_own_largest_term() -> None:
    """Llama-3.1-70B at tp 1 on an H20 (96 GB), one request's shortfall (what must fit for it to run): weights 141 GB
    are the largest term for a request of 1,024 + 1,024 tokens (1,536 held as pages grow: 0.5 GB of KV at 327,680 B a
    token), the KV cache for one of 500,000 + 1,024 (500,512 held: 164 GB). Priced in one batch, the first row named
    the KV cache: the largest term was taken over the whole batch."""
    row = {"model": "llama-3.1-70b", "system": "hgx-h20", "tp": 1, "osl": 1024}
    small, large = predict_rows([{**row, "isl": 1024, "concurrency": 16}, {**row, "isl": 500000, "concurrency": 1}])
    assert small.note == ("does not fit: one request alone needs 60.2 GB more per chip (weights is the largest term), "
                          "at the longest requests (1,024 prompt + 1,024 output tokens)")
    assert large.note == ("does not fit: one request alone needs 223.7 GB more per chip (KV cache is the largest "
                          "term), at the longest requests (500,000 prompt + 1,024 output tokens)")
