"""Catalog configs a source trimmed say so wherever the model is shown or priced (tester fixet 4).

aiconfigurator's copy of zai-org/GLM-4.7-FP8 lacks the full file's attention bias, its MTP layer and the FP8
repository's quantization_config: `serve --mtp 1` found no MTP layers and memory was priced in bf16, while nothing said
the file was trimmed (the index's note was shown nowhere and `models --help` called every config verbatim). Llama 4's
copies hold text_config only. No verbatim copy was found to bring in instead.
"""

import json

from click.testing import CliRunner

from parity import catalog
from parity.cli import cli
from parity.uncertainty import WIDEN_FLAGGED, widening

GLM_TRIM = ("config trimmed: aiconfigurator's copy lacks the full file's attention bias, its MTP layer "
            "(num_nextn_predict_layers: --mtp finds none) and the FP8 repository's quantization_config (weights read "
            "bf16: give --weights fp8); priced as absent, so the interval widens")
INFORMATIONAL = "; informational: nothing priced is missing, the interval is not widened"


def test_trimmed_entries_carry_their_note_as_a_flag() -> None:
    trimmed = {e.id for e in catalog.models() if e.trimmed}
    assert trimmed == {"glm-4.7", "glm-4.7-flash", "minimax-m2.5", "llama-4-scout", "llama-4-maverick", "mimo-7b",
                       "mimo-v2-flash", "step-3.7-flash"}
    for entry in catalog.models():
        said = [f.text for f in catalog.model(entry.id).flags if f.kind == "config trimmed"]
        assert [text.startswith(f"config trimmed: {entry.trimmed}; ") for text in said] == (
            [True] if entry.trimmed else []), entry.id
    assert [f.text for f in catalog.model("glm-4.7").flags] == [GLM_TRIM]
    assert [f.brief for f in catalog.model("llama-4-maverick").flags] == ["config trimmed"]


def test_model_models_and_serve_show_the_trim() -> None:
    runner = CliRunner()
    shown = json.loads(runner.invoke(cli, ["model", "glm-4.7", "--format", "json"]).stdout)
    assert shown["flags"] == [GLM_TRIM]
    listed = json.loads(runner.invoke(cli, ["models", "--format", "json"]).stdout)
    rows = listed if isinstance(listed, list) else listed["rows"]
    by_id = {row["id"]: row["flags"] for row in rows}
    assert by_id["glm-4.7"] == [GLM_TRIM] and by_id["llama-3.1-8b"] == []
    assert by_id["llama-4-maverick"] == ["config trimmed: aiconfigurator's copy: text_config only, no vision_config "
                                         "(the vision tower is neither counted nor priced)" + INFORMATIONAL]
    refused = runner.invoke(cli, ["serve", "--model", "glm-4.7", "--system", "hgx-h200", "--tp", "8", "--mtp", "1"])
    assert refused.exit_code == 2
    assert "has no multi-token-prediction layers" in refused.output and "config trimmed:" in refused.output
    helped = " ".join(runner.invoke(cli, ["models", "--help"]).output.split())
    assert "verbatim, or as a source trimmed them" in helped and "(verbatim Hugging Face configs)" not in helped


def test_a_trim_widens_only_where_it_drops_a_priced_part() -> None:
    """A config cut to the keys its source reads misses nothing priced: its flag is informational (widen 1) and leaves
    the interval as wide as an unflagged case's, where it had doubled it (regression tester fuzzEW 1: MiniMax-M2.5's
    TPOT interval on an HGX H200 at TP 8 on TensorRT-LLM read 1/1.32 to 1.41x against Qwen3-235B-A22B's 1/1.129 to
    1.210x). GLM-4.7's copy lacks its MTP layer and FP8 weights, both priced: its flag still widens."""
    widened = {e.id: widening(f for f in catalog.model(e.id).flags if f.kind == "config trimmed")
               for e in catalog.models() if e.trimmed}
    assert widened == {"glm-4.7": WIDEN_FLAGGED, "glm-4.7-flash": 1.0, "minimax-m2.5": 1.0, "llama-4-scout": 1.0,
                       "llama-4-maverick": 1.0, "mimo-7b": 1.0, "mimo-v2-flash": 1.0, "step-3.7-flash": 1.0}
    runner = CliRunner()
    ratios = {}
    for name in ("minimax-m2.5", "qwen3-235b-a22b", "glm-4.7"):
        out = runner.invoke(cli, ["serve", "--model", name, "--system", "hgx-h200", "--tp", "8", "--engine", "trtllm",
                                  "--model-kind", "steady", "--format", "json"]).stdout
        row = json.loads(out)
        ratios[name] = (round(row["tpot_s"] / row["tpot_s_low"], 3), round(row["tpot_s_high"] / row["tpot_s"], 3))
    assert ratios == {"minimax-m2.5": (1.129, 1.210), "qwen3-235b-a22b": (1.129, 1.210),
                      "glm-4.7": (1.320, 1.414)}
