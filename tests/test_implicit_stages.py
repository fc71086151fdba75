"""Pipeline stages no layout names: the embedding on the first and the LM head on the last, as given stages put them
(Megatron-Core's GPTModel), memory of the fullest stage, named, and the step paced by the busiest."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from parity import catalog
from parity.cli import cli
from parity.cli.train_record import _stage_name
from parity.training import TrainingLayout, train_step

_LAYER, _VOCAB = 50_336_000, 2048 * 151_936  # Qwen3-1.7B: parameters of a layer; of its (tied) embedding


def _step(pp: int, **stages: int):  # type: ignore[no-untyped-def]
    model, system = catalog.model("qwen3-1.7b"), catalog.system("hgx-h100")
    layout = TrainingLayout(tp=1, pp=pp, dp=8 // pp, seq_len=4096, global_batch=64, recompute="none", **stages)
    return train_step(model, system, 8, layout, catalog.calibration(system.chip), catalog.training_profile())


@pytest.mark.parametrize("pp", [2, 4])
def test_implicit_stages_price_as_the_even_split_given(pp: int) -> None:
    """Qwen3-1.7B (28 layers, a 151,936 x 2,048 vocabulary) on 8 H100s, ZeRO-1 over dp 8 / pp: without
    --pp-first/last-layers the step and memory are those of --pp-first-layers and --pp-last-layers 28 / pp."""
    implicit, given = _step(pp), _step(pp, pp_first_layers=28 // pp, pp_last_layers=28 // pp)
    assert (implicit.step_s, implicit.imbalance_s, implicit.bubble_s) == (given.step_s, given.imbalance_s,
                                                                         given.bubble_s)
    assert implicit.memory == given.memory and implicit.imbalance_s > 0


def test_the_first_stage_holds_the_whole_embedding() -> None:
    """pp 4: the first rank holds 7 layers and the embedding, 7 x 50,336,000 + 311,164,928 = 663,516,928 parameters:
    2 B of weights each, 1,327,033,856 B, and 12 B / dp 2 of optimizer states, 3,981,101,568 B. Balanced (a quarter
    of the embedding and of its copy as the head on each rank) it read 507,934,464 parameters, 1,015,868,928 and
    3,047,606,784 B: 31% under. pp 1 holds the 28 layers and the tied embedding once, 1,720,572,928 parameters."""
    heavy = 7 * _LAYER + _VOCAB
    r = _step(4)
    assert (r.memory.weight_bytes, r.memory.optimizer_bytes, r.memory.pipeline_rank) == (
        2 * heavy, 6 * heavy, 0) == (1_327_033_856, 3_981_101_568, 0)
    assert _step(1).memory.weight_bytes == 2 * (28 * _LAYER + _VOCAB) == 3_441_145_856


def test_train_names_the_stage_whose_memory_it_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    """The table names the fullest stage under the memory per chip, the JSON its rank: the first at mb 1 (4
    microbatches in flight); Qwen3-0.6B under full recomputation, the last (the LM head and 2.5 GB of fp32 logits)."""
    monkeypatch.setenv("COLUMNS", "120")
    base = ["train", "--system", "hgx-h100", "--chips", "8", "--tp", "1", "--pp", "4", "--vp", "1", "--seq-len",
            "4096", "--global-batch", "64", "--micro-batch", "1"]
    out = CliRunner().invoke(cli, [*base, "--model", "qwen3-1.7b", "--recompute", "none"]).output
    assert "  fullest pipeline stage" in out and "first of 4 (rank 0: the embedding)" in out
    data = json.loads(CliRunner().invoke(cli, [*base, "--model", "qwen3-0.6b", "--recompute", "full", "--format",
                                               "json"]).output)
    assert data["memory_pipeline_rank"] == 3
    assert ("pipeline stages of equal layers, the embedding on the first and the LM head on the last (Megatron-Core's "
            "GPTModel)") in data["assumptions"]
    assert [_stage_name(rank, 4) for rank in (3, 1)] == ["last of 4 (rank 3: the LM head and loss)", "rank 1 of 4"]
