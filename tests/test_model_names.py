"""How a model read from a file is named and flagged across commands (report-only tester fuzzDR, regression round of
the reader's changes): a folder named like a catalog model, two folders of one name, titles, ignored keys, a
context window from the class's default, an empty vision config."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from parity.cli import cli
from parity.catalog.files import data_dir

LLAMA_8B = data_dir() / "models" / "meta-llama--Meta-Llama-3.1-8B_config.json"


def _folder(root: Path, name: str, config: dict | None = None) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    if config is None:
        shutil.copy(LLAMA_8B, folder / "config.json")
    else:
        (folder / "config.json").write_text(json.dumps(config))
    return folder


def _run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_a_folder_named_like_a_catalog_model_is_not_read_as_it(tmp_path: Path) -> None:
    """An 8B config in a folder 'llama-3.1-70b' titled every table 'llama-3.1-70b' and was refused beside the catalog
    model as 'named twice'; it goes by 'llama-3.1-70b (file)'."""
    folder = _folder(tmp_path / "z", "llama-3.1-70b")
    record = json.loads(_run("model", str(folder), "--format", "json").stdout)
    assert record["name"] == "llama-3.1-70b (file)" and record["parameters"] == 8_030_261_248


def test_two_config_folders_of_one_name_are_refused_naming_both(tmp_path: Path) -> None:
    """x/m and y/m (two models) read 'm named twice', as if one model were given twice."""
    one, two = _folder(tmp_path / "x", "m"), _folder(tmp_path / "y", "m")
    refused = _run("compare", "hgx-h100", "--model", str(one), "--model", str(two / "config.json"))
    assert refused.exit_code == 2 and refused.output.count("\n") == 1
    assert f"{one} and {two / 'config.json'} both go by the name 'm'" in refused.output
    again = _run("compare", "hgx-h100", "--model", str(one), "--model", str(one / "config.json"))
    assert again.exit_code == 2 and "m named twice: each model is compared once" in again.output


def test_serve_titles_a_config_model_by_its_name(tmp_path: Path) -> None:
    """serve's title read the path as typed ('cfg/m/config.json on hgx-h100'), model's and compare's the name."""
    folder = _folder(tmp_path, "m")
    out = _run("serve", "--model", str(folder / "config.json"), "--system", "hgx-h100", "--model-kind", "steady")
    assert out.exit_code == 0 and out.stdout.split("\n", 1)[0].strip().startswith("m on hgx-h100 (agg, ")


def test_keys_a_plain_class_never_reads_are_captioned_as_ignored(tmp_path: Path) -> None:
    """compare's caption read 'unmodelled: ignored: num_experts_per_tok (...), ignored: ...' for a llama config with
    expert keys: they are ignored, not unmodelled, and named by key."""
    config = json.loads(LLAMA_8B.read_text()) | {"num_local_experts": 8, "num_experts_per_tok": 2}
    folder = _folder(tmp_path, "llamamoe", config)
    out = _run("compare", "hgx-h100", "--model", str(folder), "--format", "md")
    said = " ".join(out.stdout.split())
    assert "Model flags: ignored (its class does not read them): num_experts_per_tok, num_local_experts (" in said
    assert "unmodelled: ignored" not in said


@pytest.mark.parametrize(("vision", "flagged"), [({}, True), (None, False)])
def test_an_empty_vision_config_is_flagged_and_a_null_one_is_no_tower(tmp_path: Path, vision: dict | None,
                                                                      flagged: bool) -> None:
    """A llava wrapper with "vision_config": {} read no tower without a word (its class builds a default one)."""
    config = {"model_type": "llava", "architectures": ["LlavaForConditionalGeneration"],
              "text_config": json.loads(LLAMA_8B.read_text()), "vision_config": vision}
    record = json.loads(_run("model", str(_folder(tmp_path, "llv", config)), "--format", "json").stdout)
    assert record["vision_parameters"] == 0
    assert record["flags"] == (["unmodelled: vision_config states no width and depth (its class builds a default "
                                "tower): the tower is not counted"] if flagged else [])


def test_a_context_window_from_the_class_default_says_so() -> None:
    """Google's Gemma 3 text_config states no max_position_embeddings: its 131,072 tokens are Gemma3TextConfig's
    default, which read '(config.json)'."""
    gemma = Path(__file__).parent / "data" / "hf" / "google--gemma-3-27b-it_config.json"
    record = json.loads(_run("model", str(gemma), "--format", "json").stdout)
    assert (record["context_window_tokens"], record["context_window_basis"]) == (
        131_072, "gemma3_text class default; config.json states none")
    llama = json.loads(_run("model", "llama-3.1-8b", "--format", "json").stdout)
    assert llama["context_window_basis"] == "config.json"


def test_a_model_priced_as_another_says_so() -> None:
    """`--model llama-3.3-70b` was taken as an alias and every title read llama-3.1-70b, unsaid. It is priced as
    Llama 3.1 70B (the same architecture: index.toml's priced_for), keeps its own name in titles and records, and
    the assumptions and `parity models` say which entry prices it."""
    from parity import catalog  # noqa: PLC0415

    assert catalog.model("llama-3.3-70b") == catalog.model("llama-3.1-70b")
    assert catalog.stand_in_name("meta-llama/Llama-3.3-70B-Instruct") == "llama-3.3-70b"
    assert catalog.priced_as("llama-3.3-70b") == "llama-3.3-70b (priced as llama-3.1-70b: same architecture)"
    assert catalog.priced_as("llama-3.1-70b") == catalog.priced_as("meta-llama/Llama-3.1-70B-Instruct") == ""
    result = _run("serve", "--model", "meta-llama/Llama-3.3-70B-Instruct", "--system", "hgx-h100", "--tp", "4",
                  "--phase", "decode", "--batch", "8", "--context", "1000", "--format", "json")
    data = json.loads(result.output)
    assert data["model"] == "llama-3.3-70b"
    assert data["note"].startswith("llama-3.3-70b (priced as llama-3.1-70b: same architecture); ")
    result = _run("models", "--format", "json")
    (entry,) = [m for m in json.loads(result.output) if m["priced_for"]]
    assert (entry["id"], entry["priced_for"], entry["priced_for_basis"]) == (
        "llama-3.1-70b", ["llama-3.3-70b", "meta-llama/Llama-3.3-70B-Instruct"], "same architecture")
    caption = " ".join(_run("models").output.split())
    assert ("Also priced: llama-3.3-70b (meta-llama/Llama-3.3-70B-Instruct) as llama-3.1-70b: same architecture"
            in caption)
