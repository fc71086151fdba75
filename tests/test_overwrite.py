"""An output that is the same file as an input, or as another output, is refused in one line before anything is
read or written (found by a fuzz round: `serve --trace t.csv --out t.csv` replaced the trace with its results)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from parity.catalog.files import data_dir
from parity.cli import cli

SERVE = ["serve", "--model", "llama-3.1-8b", "--system", "hgx-h100"]
TRACE = "arrival_s,isl,osl\n0,100,50\n0.1,200,60\n"


def _invoke(*args: str, cwd: Path | None = None) -> tuple[int, str]:
    here = Path.cwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        result = CliRunner().invoke(cli, list(args), env={"COLUMNS": "120"})
    finally:
        os.chdir(here)
    return result.exit_code, result.output


def _refused(code: int, output: str, says: str) -> None:
    assert code == 2 and says in output and len(output.strip().splitlines()) == 1, output


@pytest.mark.parametrize(("inputs", "outputs", "says"), [
    (["--trace", "t.csv"], ["--out", "t.csv"], "--out t.csv is the same file as --trace t.csv: writing it would "
                                                "overwrite the input"),
    (["--trace", "t.csv"], ["--timeline", "t.csv"], "--timeline t.csv is the same file as --trace t.csv"),
    (["--trace", "t.csv"], ["--out", "./sub/../t.csv"], "--out sub/../t.csv is the same file as --trace t.csv"),
    (["--scenario", "offline", "--lengths", "t.csv"], ["--out", "t.csv"], "--out t.csv is the same file as --lengths"),
    (["--trace", "t.csv"], ["--out", "link.csv"], "--out link.csv is the same file as --trace t.csv"),  # a hard link
])
def test_serve_refuses_to_overwrite_its_inputs(inputs: list[str], outputs: list[str], says: str,
                                               tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "t.csv").write_text(TRACE)
    os.link(tmp_path / "t.csv", tmp_path / "link.csv")
    code, output = _invoke(*SERVE, *inputs, *outputs, cwd=tmp_path)
    _refused(code, output, says)
    assert (tmp_path / "t.csv").read_text() == TRACE
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.csv", "sub", "t.csv"]


def test_predict_and_sweep_refuse_to_overwrite_their_table(tmp_path: Path) -> None:
    table = tmp_path / "c.csv"
    table.write_text(TRACE)
    _refused(*_invoke("predict", str(table), "--out", str(table)), f"--out {table} is the same file as CASES {table}")
    _refused(*_invoke("sweep", str(table), "--out", str(table)), f"--out {table} is the same file as SPEC.toml")
    assert table.read_text() == TRACE and [p.name for p in tmp_path.iterdir()] == ["c.csv"]


def test_calibrate_refuses_two_outputs_on_one_file_and_an_import_as_output(tmp_path: Path) -> None:
    """--save-raw c.toml --out c.toml wrote the raw JSON, then the calibration over it: refused before measuring
    (so this test needs no GPU). A measurement file named .toml given as --out too is refused as well."""
    both = tmp_path / "c.toml"
    _refused(*_invoke("calibrate", "--save-raw", str(both), "--out", str(both)),
             f"--out {both} and --save-raw {both} name the same file: one output would overwrite the other")
    both.write_text("{}")
    _refused(*_invoke("calibrate", "--import", str(both), "--out", str(both)),
             f"--out {both} is the same file as --import {both}")
    assert both.read_text() == "{}" and [p.name for p in tmp_path.iterdir()] == ["c.toml"]


@pytest.mark.parametrize("command", [["model", "{config}"], ["search", "--model", "{config}", "--system", "hgx-h100"],
                                     ["train", "--model", "{config}", "--system", "hgx-h100"],
                                     ["fleet", "--model", "{config}", "--demand", "1e9tokens/day"],
                                     ["compare", "--model", "{config}"], ["formats", "--model", "{config}"],
                                     SERVE[:1] + ["--model", "{config}", "--system", "hgx-h100"]])
def test_a_model_config_given_as_output_is_refused(command: list[str], tmp_path: Path) -> None:
    """--model config.json --out config.json replaced the model's configuration with the command's JSON output."""
    config = tmp_path / "config.json"
    shutil.copy(data_dir() / "models" / "Qwen--Qwen3-0.6B_config.json", config)
    before = config.read_bytes()
    code, output = _invoke(*[a.format(config=config) for a in command], "--out", str(config))
    _refused(code, output, f"is the same file as {'NAME' if command[0] == 'model' else '--model'} {config}")
    assert config.read_bytes() == before


def test_distinct_files_pass(tmp_path: Path) -> None:
    """The check refuses only one file: a trace and another output file run (and a file not yet there is no
    input's)."""
    (tmp_path / "t.csv").write_text(TRACE)
    code, output = _invoke(*SERVE, "--trace", "t.csv", "--out", "r.json", cwd=tmp_path)
    assert code == 0 and (tmp_path / "r.json").exists() and (tmp_path / "t.csv").read_text() == TRACE
