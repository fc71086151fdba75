"""`parity validate --by source|vendor` writes every format, once and whole: the scores, training, pairs and
per-row tables as text or Markdown, all of it as JSON, every row as one CSV (the scoring itself is stubbed: it is
scored in the validation tier); `row_errors` puts each left-out row beside its other predictions."""

import csv
import json
import math

import pytest
from click.testing import CliRunner

from parity.cli import cli, crossvendor_cmd
from parity.crossvendor import row_errors
from parity.validate import CaseError

SCORES = [{"group": "lib", "kind": "decode", "setting": "left out", "count": 24, "median_abs_error": 0.262,
           "p90_abs_error": 0.587, "bias": 0.262, "left_out_what": "its rows fitted nothing"}]
TRAINING = [{"group": "palm", "setting": "left out", "count": 2, "median_abs_error": 0.1, "p90_abs_error": 0.2,
             "bias": -0.1, "left_out_what": "prior"}]
PAIRS = [{"case_id": "LIB-x", "a": "mi300x", "b": "h100", "metric": "decode", "published": 0.8, "before": 1.6,
          "left_out": 0.9, "left_out_error": 0.125, "predicted": 0.88, "error": 0.1, "split": "holdout"}]
ROWS = [{"group": "lib", "case_id": "LIB-l3-70b-tp4-b1", "system": "mi300x-platform", "engine": "vllm",
         "model": "llama-3.1-70b", "metric": "output_tokens_per_s_per_worker", "kind": "decode", "split": "holdout",
         "measured": 26.6, "before": 45.0, "left_out": 43.3, "left_out_error": 0.628, "now": 41.0}]


@pytest.fixture
def stubbed(monkeypatch):
    monkeypatch.setattr(crossvendor_cmd, "crossvendor_scores",
                        lambda by, iterations, progress, **kind: {"scores": SCORES, "ratios": PAIRS, "rows": ROWS})
    monkeypatch.setattr(crossvendor_cmd, "training_scores", lambda by, progress: TRAINING)


def test_csv_holds_every_row_with_its_table(stubbed, tmp_path):
    out = tmp_path / "by_source.csv"
    result = CliRunner().invoke(cli, ["validate", "--by", "source", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open()))
    assert [r["table"] for r in rows] == ["scores", "training", "pairs", "rows"]
    assert rows[0]["group"] == "lib" and float(rows[0]["median_abs_error"]) == pytest.approx(0.262)
    assert float(rows[2]["published"]) == pytest.approx(0.8)
    assert rows[3]["case_id"] == "LIB-l3-70b-tp4-b1" and float(rows[3]["left_out_error"]) == pytest.approx(0.628)


@pytest.mark.parametrize(("section", "tables"), [("published", ["scores", "pairs", "rows"]), ("training", ["training"])])
def test_a_section_with_by_scores_that_section_alone(stubbed, tmp_path, monkeypatch, section, tables):
    """`--section training --by vendor` ran the serving leave-outs too and printed them (report-only tester fuzzDD
    7): the training runs alone, and --section published the serving figures alone, neither fit run for the other."""
    if section == "training":
        monkeypatch.setattr(crossvendor_cmd, "crossvendor_scores", lambda *a, **k: pytest.fail("serving was run"))
    else:
        monkeypatch.setattr(crossvendor_cmd, "training_scores", lambda *a, **k: pytest.fail("training was run"))
    out = tmp_path / "by_vendor.csv"
    result = CliRunner().invoke(cli, ["validate", "--section", section, "--by", "vendor", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert list(dict.fromkeys(r["table"] for r in csv.DictReader(out.open()))) == tables
    text = CliRunner().invoke(cli, ["validate", "--section", section, "--by", "vendor"]).output
    assert ("Published training runs by vendor" in text) == (section == "training")
    assert ("Published serving figures by vendor" in text) == (section == "published")


def test_json_and_text_carry_all_four_tables(stubbed, tmp_path):
    out = tmp_path / "by_source.json"
    assert CliRunner().invoke(cli, ["validate", "--by", "vendor", "--out", str(out)]).exit_code == 0
    payload = json.loads(out.read_text())
    assert payload["scores"] == SCORES and payload["training"] == TRAINING and payload["ratios"] == PAIRS
    assert payload["rows"] == ROWS
    text = tmp_path / "by_source.txt"
    assert CliRunner().invoke(cli, ["validate", "--by", "vendor", "--out", str(text)]).exit_code == 0
    written = text.read_text()
    assert "Published serving figures by vendor" in written and "Published training runs by vendor" in written
    assert "The same work on two vendors' chips" in written and "LIB-x" in written and "26.2%" in written
    assert "The 1 published rows furthest off with their vendor left out" in written
    assert "LIB-l3-70b-tp4-b1" in written and "62.8%" in written and "43.3" in written


def _error(case_id, measured, predicted, split="holdout"):
    return CaseError(case_id=case_id, split=split, system="mi300x-platform", engine="vllm", model="m",
                     mode="published", metric="output_tokens_per_s_per_worker", measured=measured, predicted=predicted)


def test_row_errors_sorts_by_left_out_error_and_blanks_fitted_rows():
    before = [_error("a", 100.0, 150.0), _error("b", 100.0, 90.0, "calibration")]
    left = [("src1", "refitted", [_error("a", 100.0, 110.0)], None),
            ("src2", "nothing", [_error("b", 100.0, 70.0, "calibration")], None)]
    after = [_error("a", 100.0, 105.0)]  # b fitted a profile: the stored fits do not score it
    rows = row_errors(before, left, after)
    assert [r["case_id"] for r in rows] == ["b", "a"]  # |-30%| before |+10%|
    b, a = rows
    assert b["group"] == "src2" and b["left_out_error"] == pytest.approx(-0.3) and b["before"] == 90.0
    assert math.isnan(b["now"]) and b["split"] == "calibration" and b["kind"] == "decode"
    assert a["left_out"] == 110.0 and a["now"] == 105.0 and a["before"] == 150.0


def test_iterations_are_taken_where_a_fit_reads_them(stubbed, monkeypatch):
    """--by source|vendor refits with --iterations (capped at 60), so it is accepted there; without a fit that
    reads it the option is refused (test_cli_input)."""
    seen = []
    monkeypatch.setattr(crossvendor_cmd, "crossvendor_scores", lambda by, iterations, progress, **kind: (
        seen.append(iterations) or {"scores": SCORES, "ratios": PAIRS, "rows": ROWS}))
    for iterations in ("5", "500"):
        result = CliRunner().invoke(cli, ["validate", "--by", "vendor", "--iterations", iterations, "--format", "json"])
        assert result.exit_code == 0, result.output
    assert seen == [5, 60]


# a source as long as the longest stored one and a training group's explanation as long as NVIDIA's (six case ids)
LONG_SCORES = [{"group": "rocm-blog-mi300x-best-practices", "kind": "decode", "setting": setting, "count": 1407,
                "median_abs_error": 0.262, "p90_abs_error": 1.199, "bias": -0.262, "left_out_what": left}
               for setting, left in (("after (scored half)", ""), ("never fitted", "profiles fitted on its half"),
                                     ("left out", "its rows fitted nothing"))]
LONG_TRAINING = [{"group": group, "setting": "left out", "count": 59, "median_abs_error": 0.169,
                  "p90_abs_error": 0.473, "bias": -0.169, "left_out_what": left}
                 for group, left in (("AMD", "its rows fitted nothing"), ("Google", "its rows fitted nothing"),
                                     ("NVIDIA", "no calibration row left: the training profile's prior (without "
                                                + ", ".join(f"bridge2509-gb200-llama-3.1-{n}b-fp8" for n in range(6))
                                                + ")"))]


def test_text_fits_80_columns_with_each_explanation_once_under_its_table(monkeypatch):
    """At 80 columns no line of `validate --by source` runs past 80 (the 'left out' explanation was a column padded
    to some 300 characters); each explanation is listed once under its table, the groups that share it together."""
    monkeypatch.setattr(crossvendor_cmd, "crossvendor_scores", lambda by, iterations, progress, **kind: {
        "scores": LONG_SCORES, "ratios": PAIRS * 2, "rows": [{**ROWS[0], "group": LONG_SCORES[0]["group"]}]})
    monkeypatch.setattr(crossvendor_cmd, "training_scores", lambda by, progress: LONG_TRAINING)
    monkeypatch.setenv("COLUMNS", "80")
    result = CliRunner().invoke(cli, ["validate", "--by", "source"])
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.output.splitlines()) == 80
    assert "- AMD, Google left out: its rows fitted nothing\n" in result.output
    assert "- rocm-blog-mi300x-best-practices never fitted: profiles fitted on its half\n" in result.output
    assert result.output.count("its rows fitted nothing") == 2  # once under each table
    assert "rocm-blog-mi300x-best-practices  decode  after      1407" in result.output  # 'after (scored half)'
