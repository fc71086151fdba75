"""A checkpoint stored in float32 (Gemma-2-9B's and OLMoE's published configs) is served in 16 bits by default, as
the engines' dtype auto loads it (vLLM, SGLang: plan.served_format); an explicit --weights fp32 still runs fp32.
serve priced such a checkpoint in fp32 by default, 4 B a weight (Gemma-2-9B on one H100: TPOT 16.3 ms where bf16
gives 9.1 ms), and only its JSON said so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from parity import catalog
from parity.plan import served_format
from parity.predict import scenario_from_row

QWEN3 = Path(__file__).parents[1] / "src" / "parity" / "data" / "models" / "Qwen--Qwen3-0.6B_config.json"
NOTE = "weights bf16: the fp32 checkpoint cast as the engines' dtype auto does"


def _fp32_checkpoint(tmp_path: Path) -> str:
    config = json.loads(QWEN3.read_text()) | {"torch_dtype": "float32"}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return str(path)


@pytest.mark.parametrize(("weights", "served", "noted"), [("", "bf16", True), ("fp32", "fp32", False),
                                                         ("bf16", "bf16", False)])
def test_an_fp32_checkpoint_is_served_in_bf16_unless_fp32_is_asked_for(weights: str, served: str, noted: bool,
                                                                       tmp_path: Path) -> None:
    """The model keeps its checkpoint's own format (fp32); the scenario's default casts it and says so."""
    path = _fp32_checkpoint(tmp_path)
    assert catalog.model(path).weight_format == "fp32"
    scenario = scenario_from_row({"case_id": "x", "model": path, "system": "hgx-h100", "isl": 1024, "osl": 1024,
                                  "concurrency": 8, "tp": 1, "weights": weights})
    assert (scenario.precision.weights, scenario.precision.expert_weights) == (served, served)
    assert scenario.notes[0].startswith(NOTE + "; KV cache bf16") == noted


def test_served_format_casts_only_fp32() -> None:
    assert [served_format(f) for f in ("fp32", "bf16", "fp16", "fp8_block", "mxfp4")] == \
        ["bf16", "bf16", "fp16", "fp8_block", "mxfp4"]


def test_fp32_weights_keep_the_embedding_and_head_in_fp32() -> None:
    """--weights fp32 stored the embedding, the tied head and the router at bf16, the convention for quantized
    weights: Qwen3-0.6B held 2.073 GB where its 596.0M parameters take 2.384 GB in fp32."""
    from parity import catalog
    from parity.memory import weight_bytes_per_device
    from parity.plan import Precision, Shard

    model = catalog.model("qwen3-0.6b")
    fp32 = weight_bytes_per_device(model, Shard(1, 1, 1, 1, 1), Precision(weights="fp32", expert_weights="fp32"))
    assert fp32 == pytest.approx(4 * model.parameters, rel=1e-3)
    assert Precision(weights="fp8").of("head") == "bf16" and Precision(weights="fp32").of("router") == "fp32"
