"""Published latency percentiles against the simulator (parity.validate_percentiles)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from click.testing import CliRunner

from parity import catalog
from parity.cli import cli
from parity.errors import ParityError
from parity.predict import scenario_from_row
from parity.validate_percentiles import (METRICS, STATISTICS, PercentileError, benchmark_of_row, percentile_errors,
                                         percentile_scores)

ROW = {"case_id": "t1", "model": "llama-3.1-8b", "system": "hgx-h100", "engine": "vllm", "weights": "bf16",
       "mode": "agg", "isl": "1000", "osl": "100", "concurrency": "100", "tp": "1", "client": "vllm",
       "num_prompts": "100", "request_rate": "4", "measured_ttft_mean_s": "0.05", "measured_tpot_p99_s": "0.01"}


def _error(error: float, kind: str = "sim") -> PercentileError:
    return PercentileError(case_id="x", source_id="s", vendor="v", system="hgx-h100", engine="vllm", model="m",
                           model_kind=kind, metric="ttft", statistic="p99", measured_s=1.0, predicted_s=1.0 + error)


def test_scores_are_median_p90_and_bias_of_the_errors() -> None:
    """Errors +0.1, -0.2, +0.3: |err| sorted 0.1, 0.2, 0.3, median 0.2; p90 by linear interpolation at
    rank 0.9 x 2 = 1.8: 0.2 + 0.8 x 0.1 = 0.28; bias (median signed) +0.1."""
    (score,) = percentile_scores([_error(0.1), _error(-0.2), _error(0.3)])
    assert (score.model_kind, score.metric, score.statistic, score.count) == ("sim", "ttft", "p99", 3)
    assert score.median_abs_error == pytest.approx(0.2)
    assert score.p90_abs_error == pytest.approx(0.28)
    assert score.bias == pytest.approx(0.1)


def test_a_row_names_its_client_prompts_and_request_rate() -> None:
    """vllm profile (fixed lengths), 100 prompts at 4 requests/s, concurrency 100 caps requests in flight;
    a row's random_range_ratio 0.5 replaces the profile's 1."""
    bench = benchmark_of_row(ROW, scenario_from_row(ROW))
    assert (bench.client.id, bench.num_prompts, bench.request_rate, bench.concurrency) == ("vllm", 100, 4.0, 100)
    assert bench.max_concurrency == 100 and benchmark_of_row({**ROW, "request_rate": ""}, scenario_from_row(ROW)
                                                             ).max_concurrency is None  # a closed loop has no cap
    assert bench.client.range_ratio == 1.0
    ranged = {**ROW, "random_range_ratio": "0.5", "client": "sglang"}
    assert benchmark_of_row(ranged, scenario_from_row(ranged)).client.range_ratio == 0.5


def test_only_published_statistics_are_scored_and_steady_scores_means() -> None:
    """The row publishes mean TTFT and p99 TPOT: the simulator scores both, the steady model the mean only."""
    errors, infeasible = percentile_errors([ROW])
    assert not infeasible
    assert sorted((e.model_kind, e.metric, e.statistic) for e in errors) == [
        ("sim", "tpot", "p99"), ("sim", "ttft", "mean"), ("steady", "ttft", "mean")]
    assert all(e.predicted_s > 0 for e in errors)


def test_a_bad_measured_cell_names_the_row_and_column() -> None:
    with pytest.raises(ParityError, match="t1: measured_ttft_mean_s must be > 0"):
        percentile_errors([{**ROW, "measured_ttft_mean_s": "-1"}])


def test_section_percentiles_refuses_the_accuracy_page_in_one_line() -> None:
    result = CliRunner().invoke(cli, ["validate", "--section", "percentiles", "--format", "md"])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "--format md" in result.stderr


@pytest.mark.validation
def test_every_published_percentile_is_scored_within_its_documented_tolerance(targets: dict[str, Any]) -> None:
    """Every row that the simulator can price has a prediction for each statistic it publishes; the rows it
    cannot are exactly those listed (with parity's reason) in targets.toml; the median and p90 |error| per
    model, metric and statistic stay within targets.toml [percentiles]."""
    bounds = targets["percentiles"]
    rows = catalog.measurements("serving_percentiles")
    assert len(rows) == bounds["rows"]
    assert {r["split"] for r in rows} == {"holdout"}
    errors, infeasible = percentile_errors(rows)
    assert sorted({i.case_id for i in infeasible}) == sorted(bounds["not_priced"])
    for row in rows:
        if row["case_id"] in bounds["not_priced"]:
            continue
        published = {(m, s) for m in METRICS for s in STATISTICS if row.get(f"measured_{m}_{s}_s")}
        scored = {(e.metric, e.statistic) for e in errors if e.case_id == row["case_id"] and e.model_kind == "sim"}
        assert scored == published, row["case_id"]
    found = {f"{s.model_kind}_{s.metric}_{s.statistic}": s for s in percentile_scores(errors)}
    assert set(found) == set(bounds["median_abs_error_max"]) == set(bounds["p90_abs_error_max"])
    for key, score in found.items():
        assert score.median_abs_error <= bounds["median_abs_error_max"][key], (key, score)
        assert score.p90_abs_error <= bounds["p90_abs_error_max"][key], (key, score)


@pytest.mark.validation
def test_section_percentiles_reports_every_source() -> None:
    import json
    result = CliRunner().invoke(cli, ["validate", "--section", "percentiles", "--format", "json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert len(payload["sources"]) == 12 and payload["rows"] == 51
    assert {s["model_kind"] for s in payload["scores"]} == {"sim", "steady"}


def test_scores_group_by_vendor_and_refuse_unknown_fields() -> None:
    """Two vendors, one error each: each group's median |err| is its own error."""
    amd = dataclasses.replace(_error(0.5), vendor="AMD")
    scores = percentile_scores([amd, _error(-0.1)], "vendor")
    assert [(s.group, s.median_abs_error, s.bias) for s in scores] == [
        ("AMD", pytest.approx(0.5), pytest.approx(0.5)), ("v", pytest.approx(0.1), pytest.approx(-0.1))]
    with pytest.raises(ParityError, match="group by one of"):
        percentile_scores([amd], "colour")
