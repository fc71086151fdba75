"""The context window a config supports (as vLLM derives max_model_len) and the flag on requests past it."""

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from parity import catalog
from parity.cli import cli
from parity.errors import ModelConfigError
from parity.hf import context_window
from parity.hf.context import read_context
from parity.flags import texts
from parity.predict import Scenario, flags, scenario_from_row
from parity.uncertainty import context_flags

MEASUREMENTS = Path(__file__).parents[1] / "src" / "parity" / "data" / "measurements"


@pytest.mark.parametrize(("config", "window"), [
    ({"max_position_embeddings": 40_960}, 40_960),  # Qwen3-32B as shipped
    # Qwen3 with the YaRN its model card suggests: 32,768 x 4 = 131,072 (original_max_position_embeddings wins
    # over max_position_embeddings for YaRN)
    ({"max_position_embeddings": 40_960, "rope_scaling": {"rope_type": "yarn", "factor": 4.0,
                                                          "original_max_position_embeddings": 32_768}}, 131_072),
    # DeepSeek-V3's "type" spelling: 4,096 x 40 = 163,840
    ({"max_position_embeddings": 163_840, "rope_scaling": {"type": "yarn", "factor": 40,
                                                           "original_max_position_embeddings": 4_096}}, 163_840),
    # Llama 3.1: the llama3 type's factor is already inside max_position_embeddings
    ({"max_position_embeddings": 131_072, "rope_scaling": {"rope_type": "llama3", "factor": 8.0,
                                                           "original_max_position_embeddings": 8_192}}, 131_072),
    ({"max_position_embeddings": 4_096, "rope_scaling": {"type": "dynamic", "factor": 2.0}}, 8_192),
    ({"max_position_embeddings": 4_096, "rope_parameters": {"rope_type": "default", "rope_theta": 1e6}}, 4_096),
    ({"n_positions": 2_048, "max_seq_len": 1_024}, 1_024),  # the smallest bound present
    ({"hidden_size": 8}, 0),  # none stated: unknown
])
def test_context_window_follows_vllms_max_model_len(config: dict, window: int) -> None:
    assert context_window(config) == window


_QWEN3 = {"max_position_embeddings": 40_960}
_YARN = {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32_768}
_UNREAD = "unmodelled: rope_scaling {}: context window 40,960 read unscaled"


@pytest.mark.parametrize(("config", "window", "basis", "flags"), [
    (_QWEN3, 40_960, "config.json", []),
    # derived from RoPE scaling, said so: it read '(config.json) 131,072' where the config states 40,960
    (_QWEN3 | {"rope_scaling": _YARN}, 131_072, "config.json, yarn x4 of 32,768", []),
    (_QWEN3 | {"rope_scaling": {"rope_type": "llama3", "factor": 8.0}}, 40_960, "config.json", []),  # counted already
    (_QWEN3 | {"rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]}}, 40_960, "config.json", []),
    # a string was passed over, an unknown type read x4 (163,840), both silently
    (_QWEN3 | {"rope_scaling": "yarn"}, 40_960, "config.json",
     [_UNREAD.format('"yarn" (parity reads an object of rope_type and factor)')]),
    (_QWEN3 | {"rope_scaling": {"rope_type": "weird", "factor": 4}}, 40_960, "config.json",
     [_UNREAD.format('rope_type "weird" (vLLM builds default, linear, dynamic, yarn, deepseek_yarn, llama3, '
                     "longrope, proportional)") + ", not x4"]),
    (_QWEN3 | {"rope_scaling": {"factor": 4}}, 40_960, "config.json",
     [_UNREAD.format("with a factor but no rope_type (vLLM builds default, linear, dynamic, yarn, deepseek_yarn, "
                     "llama3, longrope, proportional)") + ", not x4"]),
    # a type vLLM builds from a factor, with none: read unscaled with no word (vLLM's get_rope raises a KeyError)
    *((_QWEN3 | {"rope_scaling": {"rope_type": kind}}, 40_960, "config.json",
       [_UNREAD.format(f'rope_type "{kind}" states no factor (vLLM builds {kind} from one)')])
      for kind in ("yarn", "linear", "dynamic", "deepseek_yarn")),
    # by the key the config gives it: legacy `type` said as such (it read 'rope_type', fuzzCF 7)
    (_QWEN3 | {"rope_scaling": {"type": "linear"}}, 40_960, "config.json",
     [_UNREAD.format('type "linear" states no factor (vLLM builds linear from one)')]),
    (_QWEN3 | {"rope_scaling": {"type": "weird", "factor": 2}}, 40_960, "config.json",
     [_UNREAD.format('type "weird" (vLLM builds default, linear, dynamic, yarn, deepseek_yarn, llama3, longrope, '
                     "proportional)") + ", not x2"]),
    (_QWEN3 | {"rope_scaling": {"rope_type": "yarn", "original_max_position_embeddings": 32_768}}, 40_960,
     "config.json", [_UNREAD.format('rope_type "yarn" states no factor (vLLM builds yarn from one)')]),
    # Hunyuan's dynamic NTK states an alpha, not a factor (vLLM's DynamicNTKAlphaRotaryEmbedding): factor 1
    (_QWEN3 | {"rope_scaling": {"type": "dynamic", "alpha": 1000.0}}, 40_960, "config.json", []),
    # vLLM: Gemma 3's length counts its linear factor already (it read 131,072 x 8 = 1,048,576)
    ({"model_type": "gemma3_text", "max_position_embeddings": 131_072,
      "rope_scaling": {"rope_type": "linear", "factor": 8.0}}, 131_072, "config.json", []),
    # nested by layer type (Laguna): the full layers' YaRN, 4,096 x 64, the factor carried past the sliding ones'
    ({"max_position_embeddings": 262_144, "rope_parameters": {
        "full_attention": {"rope_type": "yarn", "factor": 64.0, "original_max_position_embeddings": 4_096},
        "sliding_attention": {"rope_type": "default"}, "original_max_position_embeddings": 4_096}},
     262_144, "config.json, yarn x64 of 4,096", []),
])
def test_the_window_says_how_it_was_derived_and_flags_a_scaling_it_does_not_read(
        config: dict, window: int, basis: str, flags: list[str]) -> None:
    context = read_context(config)
    assert (context.tokens, context.basis, [f.text for f in context.flags]) == (window, basis, flags)


def test_model_labels_a_derived_window_and_carries_the_rope_flag(tmp_path: Path) -> None:
    base = {"model_type": "qwen3", "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4,
            "num_key_value_heads": 2, "head_dim": 16, "num_hidden_layers": 2, "vocab_size": 1000, **_QWEN3}
    (tmp_path / "yarn.json").write_text(json.dumps(base | {"rope_scaling": _YARN}))
    (tmp_path / "odd.json").write_text(json.dumps(base | {"rope_scaling": "yarn"}))
    shown = CliRunner().invoke(cli, ["model", str(tmp_path / "yarn.json"), "--format", "json"])
    assert {k: json.loads(shown.stdout)[k] for k in ("context_window_tokens", "context_window_basis", "flags")} == \
        {"context_window_tokens": 131_072, "context_window_basis": "config.json, yarn x4 of 32,768", "flags": []}
    table = CliRunner().invoke(cli, ["model", str(tmp_path / "yarn.json")]).stdout
    assert "context window [tokens] (config.json, yarn x4 of 32,768)" in table
    odd = json.loads(CliRunner().invoke(cli, ["model", str(tmp_path / "odd.json"), "--format", "json"]).stdout)
    assert odd["flags"] == [_UNREAD.format('"yarn" (parity reads an object of rope_type and factor)')]


def test_a_rope_factor_that_is_no_number_is_refused_by_name() -> None:
    with pytest.raises(ModelConfigError, match='rope_scaling.factor must be a positive number, got "x"'):
        context_window({"max_position_embeddings": 4_096, "rope_scaling": {"type": "linear", "factor": "x"}})


def test_catalog_models_carry_their_config_windows() -> None:
    windows = {e.id: catalog.model(e.id).context_window for e in catalog.models()}
    assert windows["llama-3.1-8b"] == 131_072 and windows["qwen3-32b"] == 40_960
    assert windows["deepseek-v3"] == 163_840 and windows["kimi-k2"] == 131_072 and windows["gpt-oss-120b"] == 131_072
    # BLOOM's config states no length (vLLM would assume 2,048); every other model has one
    assert [m for m, w in windows.items() if not w] == ["bloom-176b"]
    shown = CliRunner().invoke(cli, ["model", "deepseek-v3", "--format", "json"])
    assert json.loads(shown.stdout)["context_window_tokens"] == 163_840


def _row(model: str, isl: int, osl: int, **extra: object) -> dict:
    return {**dict(case_id="x", model=model, system="hgx-h100", engine="", tp=1, isl=isl, osl=osl, concurrency=1),
            **extra}


def said(scenario: Scenario) -> list[str]:
    return texts(flags(scenario))


def test_requests_past_the_window_are_flagged_not_refused() -> None:
    past = said(scenario_from_row(_row("llama-3.1-8b", 500_000, 1_024)))
    assert "sequences of 501,024 tokens, 369,952 past llama-3.1-8b's context window of 131,072 (config.json)" in past
    # GPUStack's 32k prompts on Qwen3-32B (PG03): 32,100 of 40,960
    assert not any("context window" in f for f in said(scenario_from_row(_row("qwen3-32b", 32_000, 100))))
    # a decode step's sequence is its context, a prefill step's its prompt
    decode = _row("llama-3.1-8b", 1_024, 1_024, phase="decode", batch=1, context=200_000, concurrency="")
    assert any("sequences of 200,000 tokens, 68,928 past" in f for f in said(scenario_from_row(decode)))
    prefill = _row("llama-3.1-8b", 131_072, 1_000_000, phase="prefill", batch=1, concurrency="")
    assert not any("context window" in f for f in said(scenario_from_row(prefill)))


def test_the_flag_says_how_long_the_sequences_are_and_how_far_past_the_window() -> None:
    """`compare --osl 10000000` on DeepSeek-R1 noted '10,001,024 tokens past the 163,840-token context window', which
    reads as 10 M tokens beyond it: the sequences are 10,001,024 tokens long, 9,837,184 past the window."""
    (flag,) = context_flags(catalog.model("deepseek-r1"), 10_001_024)
    assert flag.brief == "10,001,024-token sequences, past the 163,840-token context window"
    assert flag.text == ("sequences of 10,001,024 tokens, 9,837,184 past deepseek-r1's context window of 163,840 "
                         "(config.json, yarn x40 of 4,096)")


def test_serve_prints_the_flag() -> None:
    result = CliRunner().invoke(cli, ["serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--isl", "500000",
                                      "--concurrency", "1", "--tp", "2", "--model-kind", "steady", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["flags"][0] == ("sequences of 501,024 tokens, 369,952 past llama-3.1-8b's "
                                                      "context window of 131,072 (config.json)")


PAST = "sequences of 1,000,000 tokens, 868,928 past llama-3.1-8b's context window of 131,072 (config.json)"


@pytest.mark.parametrize("command", [
    ["train", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--seq-len", "{tokens}"],
    ["train", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--seq-len", "{tokens}", "--search", "--top", "1"],
    ["model", "llama-3.1-8b", "--context", "{tokens}"],
])
def test_train_and_model_flag_sequences_past_the_window_as_serve_does(command: list[str]) -> None:
    """`train --seq-len 1000000` said "outside what was validated: no" and `model --context 1000000` "flags none"
    for Llama-3.1-8B, whose window is 131,072 tokens; at the window itself nothing is flagged."""
    def flags_at(tokens: int) -> list[str]:
        result = CliRunner().invoke(cli, [a.format(tokens=tokens) for a in command] + ["--format", "json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)["flags"]

    assert PAST in flags_at(1_000_000)
    assert not any("context window" in f for f in flags_at(131_072))


def test_no_measured_serving_row_runs_past_its_models_window() -> None:
    """Measured runs ran inside their models' windows, so none may carry the flag (PG03: 32,100 of 40,960); a
    decode step (phase decode: LMSYS's C03, no output length given) holds its context and the token it decodes."""
    for name in ("serving_aiconfigurator", "serving_published", "serving_percentiles"):
        with (MEASUREMENTS / f"{name}.csv").open(newline="") as f:
            for row in csv.DictReader(f):
                window = catalog.model(row["model"]).context_window
                tokens = (int(row["context"]) + 1 if row.get("phase") == "decode"
                          else int(row["isl"]) + int(row["osl"]))
                assert tokens <= window, (name, row["case_id"])
