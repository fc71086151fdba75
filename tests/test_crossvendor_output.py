"""`parity validate --by source|vendor` writes every format, once and whole: the scores, training and pairs
tables as text or Markdown, all of it as JSON, every row as one CSV (the scoring itself is stubbed: it is
scored in the validation tier)."""

import csv
import json

import pytest
from click.testing import CliRunner

from parity.cli import cli, crossvendor_cmd

SCORES = [{"group": "lib", "kind": "decode", "setting": "left out", "count": 24, "median_abs_error": 0.262,
           "p90_abs_error": 0.587, "bias": 0.262, "left_out": "its rows fitted nothing"}]
TRAINING = [{"group": "palm", "setting": "left out", "count": 2, "median_abs_error": 0.1, "p90_abs_error": 0.2,
             "bias": -0.1, "left_out": "prior"}]
PAIRS = [{"case_id": "LIB-x", "a": "mi300x", "b": "h100", "metric": "decode", "published": 0.8, "before": 1.6,
          "left_out": 0.9, "left_out_error": 0.125, "predicted": 0.88, "error": 0.1, "split": "holdout"}]


@pytest.fixture
def stubbed(monkeypatch):
    monkeypatch.setattr(crossvendor_cmd, "crossvendor_scores",
                        lambda by, iterations, progress, **kind: {"scores": SCORES, "ratios": PAIRS})
    monkeypatch.setattr(crossvendor_cmd, "training_scores", lambda by, progress: TRAINING)


def test_csv_holds_every_row_with_its_table(stubbed, tmp_path):
    out = tmp_path / "by_source.csv"
    result = CliRunner().invoke(cli, ["validate", "--section", "published", "--by", "source", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open()))
    assert [r["table"] for r in rows] == ["scores", "training", "pairs"]
    assert rows[0]["group"] == "lib" and float(rows[0]["median_abs_error"]) == pytest.approx(0.262)
    assert float(rows[2]["published"]) == pytest.approx(0.8)


def test_json_and_text_carry_all_three_tables(stubbed, tmp_path):
    out = tmp_path / "by_source.json"
    assert CliRunner().invoke(cli, ["validate", "--by", "vendor", "--out", str(out)]).exit_code == 0
    payload = json.loads(out.read_text())
    assert payload["scores"] == SCORES and payload["training"] == TRAINING and payload["ratios"] == PAIRS
    text = tmp_path / "by_source.txt"
    assert CliRunner().invoke(cli, ["validate", "--by", "vendor", "--out", str(text)]).exit_code == 0
    written = text.read_text()
    assert "Published serving figures by vendor" in written and "Published training runs by vendor" in written
    assert "The same work on two vendors' chips" in written and "LIB-x" in written and "26.2%" in written
