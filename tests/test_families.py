"""Calibration inherited through the chip family tree (data/families.toml), each inheritance stated."""

from __future__ import annotations

import json

from click.testing import CliRunner

from parity import catalog
from parity.cli import cli
from parity.predict import flags, predict_scenarios, scenario_from_row


def test_every_chip_names_a_family_and_stack() -> None:
    for chip in catalog.chips():
        assert chip.family in catalog.families(), chip.id
        assert chip.software_stack == catalog.families()[chip.family].stack, chip.id


def test_hopper_siblings_inherit_the_measured_h200() -> None:
    """H100, H800 and H20 have no microbenchmark; they take the H200's fitted efficiencies (fp8 GEMM 0.6765,
    decode attention 0.9766, kernel overhead 25.701 us), stay marked unmeasured, and say where from."""
    h200 = catalog.calibration(catalog.chip("h200"))
    assert h200.measured and h200.basis.startswith("measured on this chip")
    for name in ("h100", "h800", "h20"):
        cal = catalog.calibration(catalog.chip(name))
        assert not cal.measured
        assert cal.gemm("fp8") == 0.6765 and cal.attention_decode_efficiency == 0.9766
        assert abs(cal.kernel_overhead_s - 25.701e-6) < 1e-12
        assert cal.basis == "inherited from nvidia-h200-sxm (hopper family)"


def test_a_family_without_measurements_inherits_its_parents() -> None:
    """Blackwell holds no microbenchmark; its parent Hopper does, so B200 takes the H200's and says why."""
    cal = catalog.calibration(catalog.chip("b200"))
    assert cal.gemm("bf16") == 0.7102
    assert "inherited from nvidia-h200-sxm (hopper family)" in cal.basis
    assert "blackwell has no measurement of its own" in cal.basis
    assert catalog.family_chain("cdna4") == ("cdna4", "cdna3")
    assert catalog.family_chain("rubin") == ("rubin", "blackwell", "hopper")


def test_inheritance_is_stated_in_predictions_and_show() -> None:
    runner = CliRunner()
    shown = json.loads(runner.invoke(cli, ["show", "hgx-h20", "--format", "json"]).stdout)
    assert shown["family"] == "hopper" and shown["software_stack"] == "cuda"
    assert shown["calibration"]["basis"] == "inherited from nvidia-h200-sxm (hopper family)"
    table = runner.invoke(cli, ["show", "h800", "--format", "csv"]).stdout
    assert "inherited from nvidia-h200-sxm (hopper family)" in table
    scenario = scenario_from_row({"case_id": "x", "model": "llama-3.1-8b", "system": "hgx-h20", "engine": "vllm",
                                  "isl": "128", "osl": "128", "concurrency": "1", "tp": "1"})
    raised = flags(scenario)
    (predicted,) = predict_scenarios([scenario])
    assert "calibration: inherited from nvidia-h200-sxm (hopper family)" in predicted.note
    assert any(f.startswith("uncalibrated chip nvidia-h20 (calibration: inherited from nvidia-h200-sxm")
               for f in raised)
