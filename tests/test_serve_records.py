"""What `serve`, `predict` and `sweep` records say of their own run: the math a format is emulated on, the inputs
that make a row joinable, whole counts as integers, and a worker wider than one system."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from parity import catalog
from parity.cli import cli
from parity.cost import emulation

FP8_ON_910B = ["serve", "--system", "atlas-800-a2", "--weights", "fp8", "--model", "llama-3.1-8b", "--concurrency", "4",
               "--osl", "128", "--model-kind", "steady"]


def _run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def test_serve_says_a_format_runs_emulated_as_compare_does() -> None:
    """fp8 on a 910B runs dequantised on bf16; serve's JSON and notes said nothing of it ('emul' 0 times) where
    compare and formats say 'fp8 emulated on bf16'. Its note is compare's own (cost.emulation)."""
    said = "fp8 emulated on bf16 (huawei-ascend-910b has no FP8 math)"
    assert emulation("fp8", catalog.system("atlas-800-a2").chip) == ("bf16", said)
    data = json.loads(_run(*FP8_ON_910B, "--format", "json"))
    assert (data["emulated_on"], said in data["note"]) == ("bf16", True)
    assert said in _run(*FP8_ON_910B)  # the table's assumptions
    native = json.loads(_run(*FP8_ON_910B[:2], "hgx-h100", *FP8_ON_910B[3:], "--format", "json"))
    assert (native["emulated_on"], "emulated" in native["note"]) == ("", False)


def test_predict_has_an_emulated_on_column(tmp_path: Path) -> None:
    cases = tmp_path / "cases.csv"
    cases.write_text("case_id,model,system,weights,isl,osl,concurrency\n"
                     "a,llama-3.1-8b,atlas-800-a2,fp8,1024,128,4\nb,llama-3.1-8b,hgx-h100,fp8,1024,128,4\n")
    rows = list(csv.DictReader(io.StringIO(_run("predict", str(cases), "--format", "csv"))))
    assert [(r["case_id"], r["emulated_on"]) for r in rows] == [("a", "bf16"), ("b", "")]
    assert "fp8 emulated on bf16 (huawei-ascend-910b has no FP8 math)" in rows[0]["note"]


def test_sweep_rows_say_emulated_on_in_csv_and_parquet_alike(tmp_path: Path) -> None:
    """A sweep of fp8 on a 910B and an H100: the 910B's rows run on bf16; CSV and Parquet keep one set of columns."""
    pq = pytest.importorskip("pyarrow.parquet")
    spec = tmp_path / "spec.toml"
    spec.write_text('[axes]\nsystem = ["atlas-800-a2", "hgx-h100"]\nmodel = ["llama-3.1-8b"]\nweights = ["fp8"]\n'
                    'isl = [1024]\nosl = [128]\nconcurrency = [4]\n')
    for name in ("out.parquet", "out.csv"):
        _run("sweep", str(spec), "--out", str(tmp_path / name), "--workers", "1")
    table = pq.read_table(tmp_path / "out.parquet")
    rows = list(csv.DictReader((tmp_path / "out.csv").open()))
    assert table.column_names == list(rows[0])
    assert table.column("emulated_on").to_pylist() == ["bf16", None]
    assert [r["emulated_on"] for r in rows] == ["bf16", ""]
