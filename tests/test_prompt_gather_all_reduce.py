"""SGLang's attention-DP prompt steps: the group's tokens reach the experts, sliced or spread, by an all-reduce of
their summed buffer and the MoE output is all-reduced back (DpPaddingMode.SUM_LEN for extend batches), where by
default they move by all-gather and reduce-scatter or by all-to-all; decode-only steps keep the default."""

from __future__ import annotations

import pytest

from parity import catalog
from parity.cost import collective_s
from parity.ops import Batch
from parity.plan import Layout, Precision, Shard, device_step


def _gathered(step, kind: str) -> float:
    return sum(float(c.bytes) for c in step.collectives if c.name.startswith(("moe_gather", "moe_reduce"))
               and c.kind == kind)


def test_a_prompt_step_gathers_by_all_reduce_and_a_decode_step_by_all_gather() -> None:
    """DeepSeek-R1 (hidden 7,168) on attention DP 8 with MoE TP 8, 4,096 prompt tokens a rank in BF16: the group's
    buffer is 8 x 4,096 x 7,168 x 2 B = 469,762,048 B, all-reduced twice a MoE layer (gather and reduce: 2 x that
    per layer); without the engine setting, or in a decode step, it moves by all-gather plus reduce-scatter."""
    model = catalog.model("deepseek-r1")
    layout = Layout(tp=1, attn_dp=8, moe_tp=8, moe_ep=1)
    precision = Precision(weights="fp8", expert_weights="fp8", activations="bf16")
    prompt = Batch(prefill_tokens=4096.0, prefill_sequences=1.0, prefill_context=2048.0)
    buffer_bytes = 8 * 4096 * 7168 * 2
    assert buffer_bytes == 469_762_048
    moe_layers = sum(1 for layer in model.layers if type(layer.mlp).__name__ == "MoeMlp")
    summed = device_step(model, prompt, Shard.of(layout, prompt_all_reduce=True), precision)
    plain = device_step(model, prompt, Shard.of(layout), precision)
    per_layer = _gathered(summed, "all_reduce") / moe_layers
    assert per_layer == pytest.approx(2 * buffer_bytes)
    assert _gathered(summed, "all_gather") + _gathered(summed, "reduce_scatter") == 0.0
    assert _gathered(plain, "all_reduce") == 0.0
    assert _gathered(plain, "all_gather") / moe_layers == pytest.approx(buffer_bytes)
    decode = Batch(decode_tokens=64.0, decode_context=1024.0)
    kept = device_step(model, decode, Shard.of(layout, prompt_all_reduce=True), precision)
    assert _gathered(kept, "all_reduce") == 0.0
    assert _gathered(kept, "all_gather") / moe_layers == pytest.approx(8 * 64 * 7168 * 2)


def test_with_the_experts_spread_a_prompt_step_gathers_instead_of_dispatching() -> None:
    """Attention DP 4 with expert parallelism 4 and no all-to-all backend (SGLang's default): the prompt step's
    4 x 4,096 x 7,168 x 2 B = 234,881,024 B buffer is all-reduced twice a MoE layer and nothing is dispatched; without
    the setting the tokens go by all-to-all and nothing is all-reduced."""
    model = catalog.model("deepseek-r1")
    layout = Layout(tp=1, attn_dp=4, moe_tp=1, moe_ep=4)
    precision = Precision(weights="fp8", expert_weights="fp8", activations="bf16")
    prompt = Batch(prefill_tokens=4096.0, prefill_sequences=1.0, prefill_context=2048.0)
    moe_layers = sum(1 for layer in model.layers if type(layer.mlp).__name__ == "MoeMlp")
    summed = device_step(model, prompt, Shard.of(layout, prompt_all_reduce=True), precision)
    plain = device_step(model, prompt, Shard.of(layout), precision)

    def dispatched(step) -> float:
        return sum(float(c.bytes) for c in step.collectives if c.kind == "all_to_all")

    assert _gathered(summed, "all_reduce") / moe_layers == pytest.approx(2 * 234_881_024)
    assert dispatched(summed) == 0.0
    assert _gathered(plain, "all_reduce") == 0.0 and dispatched(plain) > 0.0


def test_an_all_reduce_of_the_summed_buffer_costs_about_twice_the_all_gather() -> None:
    """A ring all-reduce moves 2(n-1)/n of the buffer per rank, an all-gather (n-1)/n: on 8 B200s of one NVLink
    domain a 469.8 MB buffer's all-reduce takes twice its all-gather, up to the hops' latency (within 1%)."""
    b200 = catalog.system("hgx-b200")
    size = 469_762_048.0
    all_reduce_s = float(collective_s("all_reduce", size, 8, b200, 0.8))
    ratio = all_reduce_s / float(collective_s("all_gather", size, 8, b200, 0.8))
    assert ratio == pytest.approx(2.0, rel=0.01)


def test_sglang_sets_it_and_tensorrt_llm_does_not() -> None:
    """SGLang's profile turns the summed gather on; TensorRT-LLM all-gathers and reduce-scatters
    (fused_moe_cutlass forward_chunk: allgather before run_moe), so it stays off there."""
    assert catalog.engine("sglang").prompt_gather_all_reduce is True
    assert catalog.engine("trtllm").prompt_gather_all_reduce is False


def test_the_gather_by_all_reduce_stays_on_cuda():
    """SGLang's Ascend best-practice launches set an all-to-all backend (deepep): a stack profile starts without
    the CUDA recipes' gather by all-reduce, and the stored CANN fit carries none."""
    from parity.catalog import profiles
    from parity.engine.profile import stack_prior
    sglang = profiles.engine("sglang")
    assert sglang.prompt_gather_all_reduce
    assert not stack_prior(sglang, "cann").prompt_gather_all_reduce
    assert not profiles.engine_for("sglang", "cann").prompt_gather_all_reduce


def test_a_row_run_with_an_all_to_all_backend_dispatches_its_prompts():
    """moe_all_to_all (SGLang with --moe-a2a-backend deepep, as LMSYS's 4 x 8 H100 EP32 prefill runs): attention
    DP 32 over four nodes gathers 32 ranks' prompt tokens by all-reduce without it, across the nodes' scale-out
    links, so 4,096-token prompts wait over three times as long as when each rank dispatches its own tokens."""
    from parity.predict import predict_rows
    base = {"model": "deepseek-v3", "system": "hgx-h100", "engine": "sglang", "weights": "fp8_block", "isl": 4096,
            "osl": 1, "concurrency": 64, "tp": 1, "attn_dp": 32, "moe_ep": 32, "max_num_tokens": 16384}
    gathered, dispatched = predict_rows([base, {**base, "moe_all_to_all": "true"}])
    assert gathered.feasible and dispatched.feasible
    assert gathered.ttft_s / dispatched.ttft_s == pytest.approx(3.519, abs=0.01)
