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

GLM_TRIM = ("config trimmed: aiconfigurator's copy lacks the full file's attention bias, its MTP layer "
            "(num_nextn_predict_layers: --mtp finds none) and the FP8 repository's quantization_config (weights read "
            "bf16: give --weights fp8)")


def test_trimmed_entries_carry_their_note_as_a_flag() -> None:
    trimmed = {e.id for e in catalog.models() if e.trimmed}
    assert trimmed == {"glm-4.7", "glm-4.7-flash", "minimax-m2.5", "llama-4-scout", "llama-4-maverick", "mimo-7b",
                       "mimo-v2-flash", "step-3.7-flash"}
    for entry in catalog.models():
        said = [f.text for f in catalog.model(entry.id).flags if f.kind == "config trimmed"]
        assert said == ([f"config trimmed: {entry.trimmed}"] if entry.trimmed else []), entry.id
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
                                         "(the vision tower is neither counted nor priced)"]
    refused = runner.invoke(cli, ["serve", "--model", "glm-4.7", "--system", "hgx-h200", "--tp", "8", "--mtp", "1"])
    assert refused.exit_code == 2
    assert "has no multi-token-prediction layers" in refused.output and "config trimmed:" in refused.output
    helped = " ".join(runner.invoke(cli, ["models", "--help"]).output.split())
    assert "verbatim, or as a source trimmed them" in helped and "(verbatim Hugging Face configs)" not in helped
