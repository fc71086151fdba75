"""How a source ran its engine, as row columns: eager launches, offline runs (every request at once), the
engine's sequence cap, and checkpoints that keep the attention projections in another format."""

import dataclasses

import pytest

from parity import catalog
from parity.errors import InfeasiblePlan
from parity.memory import weight_bytes_per_device
from parity.plan import Layout, Precision, Shard
from parity.predict import scenario_from_row
from parity.predict.case import case_from_row
from parity.serving import engine_deployment

ROW = {"case_id": "x", "model": "llama-3.1-405b", "system": "hgx-h100", "engine": "vllm", "weights": "fp8",
       "mode": "agg", "isl": "128", "osl": "2048", "concurrency": "256", "tp": "8"}


def test_attention_weights_bf16_adds_the_attention_projections() -> None:
    """Llama-3.1-405B (hidden 16,384, 128 heads, 8 KV heads of 128, 126 layers): q and o 16,384^2 each,
    k and v 16,384 x 1,024 each = 570,425,344 per layer, 71,873,593,344 in all; one more byte each in
    BF16 than in FP8, over TP 8: 8,984,199,168 bytes more per device."""
    model, shard = catalog.model("llama-3.1-405b"), Shard.of(Layout(tp=8))
    fp8 = float(weight_bytes_per_device(model, shard, Precision(weights="fp8")))
    meta = float(weight_bytes_per_device(model, shard, Precision(weights="fp8", attention_weights="bf16")))
    assert meta - fp8 == pytest.approx(8_984_199_168, rel=1e-9)
    assert scenario_from_row({**ROW, "attention_weights": "bf16"}).precision.of("attention") == "bf16"
    assert scenario_from_row(ROW).precision.of("attention") == "fp8"


def test_eager_prices_every_kernel_at_the_calibrations_launch_cost() -> None:
    """vLLM's profile replays graphs at 0.996 us a kernel; eager, the H100 (Hopper family, the H200's
    measured eager launches) pays its calibration's 25.701 us instead: the deployment carries no engine
    override, so each kernel falls back to the calibration's."""
    graphs, eager = scenario_from_row(ROW), scenario_from_row({**ROW, "eager": "true"})
    assert graphs.engine.cuda_graphs and not eager.engine.cuda_graphs
    cal = catalog.calibration(graphs.system.chip)
    assert cal.kernel_overhead_s == pytest.approx(25.701e-6)

    def dep(s):  # type: ignore[no-untyped-def]
        return engine_deployment(s.model, s.system, s.layout, s.precision, cal, s.engine)
    assert dep(graphs).kernel_overhead_s == pytest.approx(0.996e-6)
    assert dep(eager).kernel_overhead_s is None


def test_offline_and_max_num_seqs_set_the_engine_habits() -> None:
    """offline: KV counted at the whole isl + osl (sequences grow in step); max_num_seqs caps the batch."""
    case = case_from_row({**ROW, "offline": "yes", "max_num_seqs": "256"})
    assert dict(case.engine_settings) == {"max_batch_size": 256, "kv_on_demand": False}
    s = scenario_from_row({**ROW, "offline": "true", "max_num_seqs": "256"})
    assert s.engine.max_batch_size == 256 and not s.engine.kv_on_demand
    assert scenario_from_row(ROW).engine.kv_on_demand  # vLLM allocates pages on demand


def test_offline_counts_the_whole_length_so_fewer_sequences_fit() -> None:
    """On the H100 the 405B FP8 weights leave room for N tokens of KV: on demand each sequence holds
    128 + 2,048 / 2 = 1,152 on average, offline all 2,176 at the end, so at most 1,152 / 2,176 as many
    run at once; the worker's output throughput cannot rise."""
    from parity.predict import predict_rows
    on_demand, offline = predict_rows([ROW, {**ROW, "offline": "true"}])
    assert offline.output_tokens_per_s_per_chip < on_demand.output_tokens_per_s_per_chip


@pytest.mark.parametrize("column,value,message", [("eager", "maybe", "eager must be true or false"),
                                                  ("offline", "2", "offline must be true or false"),
                                                  ("max_num_seqs", "0", "max_num_seqs must be a whole number")])
def test_bad_flags_are_refused_naming_the_column(column: str, value: str, message: str) -> None:
    with pytest.raises(InfeasiblePlan, match=message):
        case_from_row({**ROW, column: value})


def test_unknown_attention_weights_format_is_refused() -> None:
    with pytest.raises(Exception, match="fp7"):
        scenario_from_row({**ROW, "attention_weights": "fp7"})
    assert dataclasses.replace(Precision(), attention_weights="").of("attention") == "bf16"


def test_sglang_prompt_budgets_of_a_launch_set_the_simulators_admission() -> None:
    """--max-prefill-tokens and --chunked-prefill-size as row columns (SGLang's Ascend 2K/2K PD-mixed launch:
    1,500 and -1, chunked prefill off): the engine's sim_max_prefill_tokens and sim_chunked_prefill_tokens."""
    sglang = {**ROW, "engine": "sglang"}
    case = case_from_row({**sglang, "max_prefill_tokens": "1500", "chunked_prefill_size": "-1"})
    assert dict(case.engine_settings) == {"sim_max_prefill_tokens": 1500, "sim_chunked_prefill_tokens": -1}
    s = scenario_from_row({**sglang, "max_prefill_tokens": "1500", "chunked_prefill_size": "-1"})
    assert s.engine.sim_max_prefill_tokens == 1500 and s.engine.sim_chunked_prefill_tokens == -1
    for bad in ("0", "-2"):
        with pytest.raises(InfeasiblePlan, match="chunked_prefill_size"):
            case_from_row({**sglang, "chunked_prefill_size": bad})


def test_a_rows_prompt_count_reaches_the_simulated_client() -> None:
    """num_prompts (requests the benchmark client sent) replaces the client profile's count: an InferenceX-style row
    (random lengths: the inferencex client, 10 x concurrency) at 16 clients sends 160 prompts, with num_prompts 800
    it sends 800; a count that is not a whole number >= 1 is refused."""
    from parity.predict.simulated import benchmark_of

    row = {**ROW, "concurrency": 16, "random_range_ratio": "0.8"}
    assert case_from_row({**row, "num_prompts": "800"}).num_prompts == 800
    assert benchmark_of(scenario_from_row(row)).arrivals().num_prompts == 160
    assert benchmark_of(scenario_from_row({**row, "num_prompts": "800"})).arrivals().num_prompts == 800
    for bad in ("0", "12.5", "many"):
        with pytest.raises(InfeasiblePlan, match="num_prompts"):
            case_from_row({**row, "num_prompts": bad})
