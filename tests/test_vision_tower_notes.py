"""A vision-language model's vision tower, counted apart from its language model, is left out of every figure: serve
said so, train and compare did not (report-only tester fuzzDK 6). One note, memory.vision_note, says it in each.

Qwen2.5-VL-7B's tower: 676,550,144 parameters (tests/test_hf_multimodal.py derives them by hand), 1.35 GB in bf16
(2 B each)."""

import json

import pytest
from click.testing import CliRunner

from parity.cli import cli
from parity.hf import model_from_config
from parity.memory import vision_note

# Qwen/Qwen2.5-VL-7B-Instruct's config.json, its sizes and vision_config as first released
CONFIG = {"architectures": ["Qwen2_5_VLForConditionalGeneration"], "model_type": "qwen2_5_vl",
          "torch_dtype": "bfloat16", "hidden_size": 3584, "intermediate_size": 18944, "num_attention_heads": 28,
          "num_hidden_layers": 28, "num_key_value_heads": 4, "vocab_size": 152064, "max_position_embeddings": 128000,
          "tie_word_embeddings": False, "sliding_window": 32768, "use_sliding_window": False, "max_window_layers": 28,
          "vision_config": {"depth": 32, "hidden_act": "silu", "hidden_size": 1280, "intermediate_size": 3420,
                            "num_heads": 16, "in_chans": 3, "out_hidden_size": 3584, "patch_size": 14,
                            "spatial_merge_size": 2, "spatial_patch_size": 14, "window_size": 112,
                            "fullatt_block_indexes": [7, 15, 23, 31], "tokens_per_second": 2,
                            "temporal_patch_size": 2}}
SAID = "vision tower not counted: its 676,550,144 parameters (1.35 GB in bf16) are in neither memory per chip nor time"


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("qwen25vl") / "config.json"
    path.write_text(json.dumps(CONFIG))
    return str(path)


def test_the_note_says_what_the_figures_are_of() -> None:
    model = model_from_config(CONFIG)
    assert vision_note(model) == f"{SAID}; both are the language model's, serving text prompts"
    assert vision_note(model, "train") == f"{SAID}; both are the language model's, training on text"
    assert vision_note(model_from_config({**CONFIG, "vision_config": None} | {"model_type": "qwen2"})) == ""


def test_train_says_it_in_its_assumptions(config: str) -> None:
    out = CliRunner().invoke(cli, ["train", "--model", config, "--system", "hgx-h100", "--format", "json"])
    assert out.exit_code == 0, out.output
    assert f"{SAID}; both are the language model's, training on text" in json.loads(out.stdout)["assumptions"]


@pytest.mark.parametrize(("workload", "task"), [
    pytest.param("serve", "serving text prompts", marks=pytest.mark.e2e),  # two systems' serving searches (1.3 s)
    ("train", "training on text")])
def test_compare_says_it_under_its_table_and_in_each_rows_assumptions(config: str, workload: str, task: str) -> None:
    args = ["compare", "hgx-h100", "hgx-b200", "--model", config, "--workload", workload]
    table = CliRunner().invoke(cli, args, env={"COLUMNS": "120"})
    assert table.exit_code == 0, table.output
    assert f"V{SAID[1:]}; both are the language model's, {task}." in " ".join(table.output.split())
    rows = json.loads(CliRunner().invoke(cli, [*args, "--format", "json"]).stdout)
    assert all(f"{SAID}; both are the language model's, {task}" in r["assumptions"] for r in rows)
