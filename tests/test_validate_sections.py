"""`parity validate --section X --format json` prints section X's part of the payload only (it printed every
section); the predictions and the payload are stubbed: the sections themselves are scored in the validation tier."""

import json

import pytest
from click.testing import CliRunner

from parity.cli import cli, validate_cmd

# validation_payload's keys (those the command reads before printing, and one or more of every section), each
# holding its own marker
SERVING = {"scores": [1], "rows": {"holdout": 1}, "infeasible": 0, "infeasible_by_split": {}, "scored": 1,
           "interval_coverage": {},
           "interval_coverage_by_split": {}, "cases": [{"case_id": "c", "split": "holdout", "metric": "tpot_s",
                                                         "measured": 1.0, "predicted": 1.1, "error": 0.1}],
           "transfer": [2], "repeat_spread": [3], "system_ratios": [4]}
PAYLOAD = {**SERVING, "published": [5], "deployments": [6], "training": [7], "training_scores": [8],
           "calibration_kernels": [9], "calibration_campaigns": [10], "calibration_serving": [11]}


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """No prediction is made and the payload is PAYLOAD; the list collects the section each call prices."""
    priced: list[str] = []
    monkeypatch.setattr(validate_cmd, "predict_rows", lambda rows, **kwargs: [])

    def payload(rows, predictions, fields, section, model_kind, processes):
        priced.append(section)
        return [], dict(PAYLOAD), []
    monkeypatch.setattr(validate_cmd, "validation_payload", payload)
    return priced


@pytest.mark.parametrize(("section", "keys"), [
    ("serving", list(SERVING)),
    ("published", ["published", "deployments"]),
    ("training", ["training", "training_scores"]),
    ("calibration", ["calibration_kernels", "calibration_campaigns", "calibration_serving"]),
    ("all", list(PAYLOAD)),
])
def test_json_holds_only_the_section_asked_for(stubbed: list[str], section: str, keys: list[str]) -> None:
    result = CliRunner().invoke(cli, ["validate", "--section", section, "--format", "json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert list(payload) == keys and all(payload[k] == PAYLOAD[k] for k in keys)
    assert stubbed == [section]


def test_csv_of_the_serving_section_is_still_one_row_per_measured_value(stubbed: list[str]) -> None:
    result = CliRunner().invoke(cli, ["validate", "--section", "serving", "--format", "csv"])
    assert result.exit_code == 0, result.output
    header, row = result.stdout.strip().splitlines()
    assert header.startswith("case_id,split,metric") and row.startswith("c,holdout,tpot_s,1.0,1.1")


def test_tables_go_whole_to_out_and_its_suffix_picks_the_format(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """`--out FILE` with the table format wrote nothing (the tables went to the terminal), and `--out page.md`
    without `--format md` ignored the suffix. The training section's table is now written whole to the file."""
    row = {"case_id": "t1", "system": "s", "model": "m", "metric": "tokens/s", "measured": 100.0, "predicted": 110.0,
           "error": 0.1, "split": "holdout"}
    payload = {**PAYLOAD, "training": [row], "training_scores": [{"split": "holdout", "median_abs_error": 0.1,
                                                                  "count": 1}]}
    monkeypatch.setattr(validate_cmd, "predict_rows", lambda rows, **kwargs: [])
    monkeypatch.setattr(validate_cmd, "validation_payload", lambda *args: ([], dict(payload), []))
    out = tmp_path / "training.txt"
    result = CliRunner().invoke(cli, ["validate", "--section", "training", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout == "" and f"wrote {out}" in result.stderr
    text = out.read_text()
    assert "Published training runs: tokens/s per chip" in text and "t1" in text and "10.0%" in text
    md = CliRunner().invoke(cli, ["validate", "--section", "training", "--out", str(tmp_path / "page.md")])
    assert md.exit_code == 2 and "--format md writes the whole accuracy page" in md.output


@pytest.mark.parametrize("section", ["published", "training", "calibration"])
def test_a_section_without_the_serving_points_does_not_price_them(monkeypatch: pytest.MonkeyPatch,
                                                                 section: str) -> None:
    """`validate --section training` predicted all 1,848 serving points first (minutes) and showed none of them."""
    def refuse(rows, **kwargs):
        raise AssertionError("priced the serving points")
    monkeypatch.setattr(validate_cmd, "predict_rows", refuse)
    monkeypatch.setattr(validate_cmd, "validation_payload", lambda rows, *args: (rows, dict(PAYLOAD), []))
    result = CliRunner().invoke(cli, ["validate", "--section", section, "--format", "json"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(("args", "says"), [
    (["--section", "mlperf"], "--fit refits on the serving points, which --section mlperf does not score"),
    (["--section", "percentiles"], "which --section percentiles does not score"),
    (["--by", "vendor"], "--fit with --by vendor: leaving each vendor out refits its own fits and writes none"),
])
def test_fit_where_nothing_refits_is_refused_in_one_line(args: list[str], says: str) -> None:
    """--fit was ignored by the percentile and MLPerf sections and by leave-one-out scoring."""
    result = CliRunner().invoke(cli, ["validate", "--fit", *args])
    assert result.exit_code == 2 and says in result.output and len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize(("args", "says"), [
    *((["--model-kind", "both", "--section", section],
       f"--model-kind both scores the serving points with each model side by side: --section {section} does not "
       "show them; leave it out")
      for section in ("training", "published")),
    (["--model-kind", "both", "--fit"],
     "--model-kind both scores the serving points with each model side by side: --fit refits one model; name it "
     "(sim or steady)"),
    (["--model-kind", "both", "--by", "vendor"],
     "--model-kind both scores the serving points with each model side by side: --by vendor scores with one model; "
     "name it (sim or steady)"),
    *((["--model-kind", kind, "--section", section],
       f"--model-kind picks the model that prices the serving points and published throughputs: --section {section} "
       "does not read it; leave it out")
      for kind, section in (("steady", "training"), ("sim", "calibration"), ("steady", "percentiles"),
                            ("sim", "mlperf"))),
    *((["--by", "model", "--section", section],
       f"--by model groups the serving points' scores: --section {section} does not read it; leave it out")
      for section in ("published", "training", "calibration", "percentiles", "mlperf")),
    *((["--by", "source", "--section", section], "--by source scores the published figures and training runs with "
       f"each source left out of every fit: --section {section} does not read it; leave it out")
      for section in ("calibration", "percentiles", "mlperf")),
    (["--by", "flag", "--model-kind", "both"],
     "--by flag with --model-kind both: the two models are scored side by side by engine and mode; leave out --by"),
    (["--by", "model", "--format", "csv"],
     "--by model groups the scores of the table and of --format json; --format csv writes one row per measured "
     "value, each with its fields: leave out --by, or give --format table or json"),
    (["--by", "mode", "--format", "md"],
     "--by mode groups the scores of the table and of --format json; --format md writes the whole accuracy page "
     "(docs/accuracy.md), grouped as it is: leave out --by, or give --format table or json"),
])
def test_options_a_section_does_not_read_are_refused_in_one_line(args: list[str], says: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """--model-kind both --section training ran the serving models side by side for 63 s (rc 0) and --by left the
    mlperf, percentiles and training sections unchanged: each is refused before any work."""
    def work(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the command began its work")
    for name in ("predict_rows", "validation_payload", "percentiles_report", "mlperf_report", "crossvendor_report",
                 "_models_side_by_side"):
        monkeypatch.setattr(validate_cmd, name, work)
    result = CliRunner().invoke(cli, ["validate", *args])
    assert (result.exit_code, result.output) == (2, f"parity: error: {says}\n")


@pytest.mark.parametrize("args", [["--model-kind", "steady", "--section", "published"],
                                  ["--model-kind", "both", "--section", "serving"],
                                  ["--by", "model", "--section", "serving"], ["--by", "vendor", "--section", "training"],
                                  ["--model-kind", "steady", "--section", "training", "--by", "vendor"]])
def test_options_a_section_reads_are_taken(args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the section reads --model-kind or --by, the run goes ahead (stubbed at its first step)."""
    class Began(Exception):
        pass

    def began(*_args: object, **_kwargs: object) -> None:
        raise Began
    for name in ("predict_rows", "validation_payload", "crossvendor_report", "_models_side_by_side"):
        monkeypatch.setattr(validate_cmd, name, began)
    assert isinstance(CliRunner().invoke(cli, ["validate", *args]).exception, Began)


def test_the_published_section_fits_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    """The deployments table was 100 columns wide at 80 (case ids that do not fold, 'does not fit' twice)."""
    case = {"case_id": "dstack-r1-h200-mi300x-AMD-023-nv-long-id", "system": "mi300x-platform", "model": "deepseek-r1",
            "metric": "output_tokens_per_s_per_worker", "measured": 957.7, "predicted": 1642.3, "error": 0.71,
            "split": "holdout"}
    deployment = {"case_id": "vllm-docs-deepseek-r1-on-eight-mi300x-long-id", "system": "mi300x-platform",
                  "chips": 8, "weights": "fp8_block", "expected_fits": True, "predicted_fits": False,
                  "margin_bytes_per_chip": -12.3e9, "agrees": False}
    payload = {**PAYLOAD, "published": [case], "deployments": [deployment]}
    monkeypatch.setattr(validate_cmd, "predict_rows", lambda rows, **kwargs: [])
    monkeypatch.setattr(validate_cmd, "validation_payload", lambda *args: ([], dict(payload), []))
    result = CliRunner().invoke(cli, ["validate", "--section", "published"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.stdout.splitlines()) <= 80 and "…" not in result.stdout
    assert "fits       no          -12" in result.stdout


def test_the_side_by_side_table_fits_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fuzz 20b 4.4: 'Side by side' was 100 columns wide at 80 ('measured ratio  predicted ratio  median |err| of
    ratio'); now its headers are short and the configuration count gives way where a pair's names are long."""
    pair = {"systems": "hgx-h100 / hgx-b200", "engine": "vllm", "metric": "tpot_s", "count": 10,
            "measured_ratio": 1.30, "predicted_ratio": 1.38, "median_abs_error": 0.07}
    long_names = {**pair, "systems": "gb200-nvl72-platform / hgx-b200", "engine": "sglang"}
    payload = {**PAYLOAD, "scores": [], "transfer": [], "repeat_spread": [], "system_ratios": [pair]}
    monkeypatch.setattr(validate_cmd, "predict_rows", lambda rows, **kwargs: [])
    monkeypatch.setattr(validate_cmd, "validation_payload", lambda *args: ([], dict(payload), []))
    result = CliRunner().invoke(cli, ["validate", "--section", "serving"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    assert "hgx-h100 / hgx-b200  vllm    tpot_s       10     1.30x      1.38x          7.0%" in result.stdout
    payload["system_ratios"] = [long_names]
    result = CliRunner().invoke(cli, ["validate", "--section", "serving"], env={"COLUMNS": "80"})
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    assert "Not shown at 80 columns: configs" in " ".join(result.stdout.split())



def test_csv_of_the_published_section_is_its_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """README says every table command takes csv; `--section published --format csv` was refused. It writes the
    published figures, one row each under the fields of the section's table (not the serving points' rows)."""
    case = {"case_id": "C03-h100-decode-2k", "system": "hgx-h100", "model": "deepseek-v3",
            "metric": "decode_tokens_per_s_per_chip", "measured": 2785.0, "predicted": 3702.0, "error": 0.329,
            "split": "holdout"}
    monkeypatch.setattr(validate_cmd, "predict_rows", lambda rows, **kwargs: [])
    monkeypatch.setattr(validate_cmd, "validation_payload",
                        lambda *args: ([], {**PAYLOAD, "published": [case]}, []))
    result = CliRunner().invoke(cli, ["validate", "--section", "published", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines() == [
        "case_id,system,model,metric,measured,predicted,error,split",
        "C03-h100-decode-2k,hgx-h100,deepseek-v3,decode_tokens_per_s_per_chip,2785.0,3702.0,0.329,holdout"]
