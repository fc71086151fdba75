"""Serving memory with multi-token prediction: an engine drafting with the model's MTP module holds its weights and
its own KV cache beside the main model's; without drafting it holds neither."""

from __future__ import annotations

import pytest

from parity.memory import mtp_kv_bytes_per_token_per_device, mtp_weight_bytes_per_device
from parity.predict import deployment, predict_rows, scenario_from_row
from parity.step import deployment_memory

# DeepSeek-R1 decoding 32 sequences of 32,768 tokens on 8 x H200 (SGLang, tp 8, EP 8, fp8 KV)
_ROW = {"model": "deepseek-r1", "system": "hgx-h200", "engine": "sglang", "tp": 8, "moe_ep": 8, "phase": "decode",
        "context": 32768, "kv": "fp8"}


def test_deepseek_r1_mtp_module_bytes_per_chip() -> None:
    """The MTP layer's 256 routed experts, 3 x 7,168 x 2,048 each, over EP 8 in fp8 blocks (1 + 4 / 128^2 B an
    element): 1,409,630,208 B; eh_proj (2 x 7,168 x 7,168) and three norms whole in bf16: 205,563,904 B; its
    attention, shared expert and router in fp8, sliced as the main layers: 45,819,952 B. Its KV: the MLA latent,
    512 + 64 elements in fp8."""
    s = scenario_from_row({**_ROW, "batch": 32, "mtp_tokens": 1})
    dep = deployment(s, s.layout)
    assert mtp_weight_bytes_per_device(dep.model, dep.shard, dep.precision) == 1_661_014_064
    assert mtp_kv_bytes_per_token_per_device(dep.model, dep.shard, dep.precision) == 576


def test_drafting_adds_the_module_weights_kv_and_activations() -> None:
    """At --mtp 1 the chip holds 2,269,192,240 B more than at --mtp 0: the module's 1,661,014,064 B of weights,
    32 x 32,768 x 576 = 603,979,776 B of its KV and 4,198,400 B of activations for the 32 draft tokens (the 4.2 MB
    was all that was counted)."""
    memory = {}
    for mtp in (0, 1):
        s = scenario_from_row({**_ROW, "batch": 32, "mtp_tokens": mtp})
        memory[mtp] = deployment_memory(deployment(s, s.layout), 32, 32768, 32 * (1 + mtp),
                                        1.0 - s.engine.kv_memory_fraction)
    assert memory[0].used_bytes == 139_085_016_176
    assert memory[1].used_bytes - memory[0].used_bytes == 2_269_192_240
    assert memory[1].weight_bytes - memory[0].weight_bytes == 1_661_014_064
    assert memory[1].kv_bytes - memory[0].kv_bytes == 603_979_776


def test_batch_32_with_a_draft_no_longer_fits_an_h200() -> None:
    """141,354,208,416 B at 32 sequences exceed the H200's 141 GB (33 fitted at 140.3 GB when the module was left
    out); 31 fit at 140,183,735,200 B. Without drafting 32 fit as before."""
    plain, drafted, fewer = predict_rows([{**_ROW, "batch": 32, "mtp_tokens": 0}, {**_ROW, "batch": 32, "mtp_tokens": 1},
                                          {**_ROW, "batch": 31, "mtp_tokens": 1}])
    assert plain.feasible and plain.memory_bytes_per_chip == 139_085_016_176
    assert not drafted.feasible
    assert drafted.note == "does not fit: needs 0.4 GB more per chip (weights is the largest term)"
    assert fewer.feasible and fewer.memory_bytes_per_chip == 140_183_735_200


def test_memory_per_chip_of_each_model_kind_says_what_it_counts() -> None:
    """Llama-3.1-70B at tp 8 on an H100, 64 clients of 32,768 + 1,024 tokens, fp8 KV (20,480 B a token a chip): the
    engine holds back 10% of 80 GB and 3 GB (the 2,472,750 KV tokens a rank the simulator gets leave 11 GB, not 8).
    The simulator's closed-form rows price the nominal lengths, 64 x (32,768 + 512) tokens: 72,978,836,992 B; the
    steady model the mean of lengths drawn from [0.8, 1] x nominal, 64 x (29,491 + 921.5 / 2): 68,616,433,152 B,
    4,362,403,840 B = 64 x 3,328.25 x 20,480 less (not its decode batch of 57.4 at nominal lengths: 68.5 GB)."""
    row = {"model": "llama-3.1-70b", "system": "hgx-h100", "engine": "generic", "tp": 8, "isl": 32768, "osl": 1024,
           "concurrency": 64, "kv": "fp8"}
    nominal, drawn = predict_rows([row, {**row, "random_range_ratio": 0.8}])
    assert nominal.memory_bytes_per_chip == 72_978_836_992 and drawn.memory_bytes_per_chip == 68_616_433_152
    assert nominal.memory_bytes_per_chip - drawn.memory_bytes_per_chip == 64 * 3_328.25 * 20_480
    said = ("the engine holds back 10% of memory (its KV share 90%) and 3 GB more (CUDA context, graphs and "
            "communication buffers: an assumption); memory per chip counts these, the weights, activations and every "
            "client's KV cache at its mean prompt + half its mean output (pages allocated as it grows)")
    assert said in nominal.note and said in drawn.note
    s = scenario_from_row(row)
    mem = deployment_memory(deployment(s, s.layout), 1, 32768 + 1024, s.engine.max_num_tokens,
                            1.0 - s.engine.kv_memory_fraction)
    assert mem.reserve_bytes == pytest.approx(0.1 * 80e9 + 3e9)
    assert int(mem.kv_token_capacity) == 2_472_750


def test_a_simulated_row_says_its_memory_is_the_closed_form_at_nominal_lengths() -> None:
    from parity.predict import simulated_note
    drawn = scenario_from_row({"model": "llama-3.1-70b", "system": "hgx-h100", "tp": 8, "isl": 1024, "osl": 128,
                               "concurrency": 4, "random_range_ratio": 0.8})
    assert simulated_note("x", ("y",), drawn, intervals=False) == (
        "closed-form model (memory per chip at the mean lengths, not the simulated run's; worker sizing, flags): x; "
        "simulator: y")
