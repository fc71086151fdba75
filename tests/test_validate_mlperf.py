"""MLPerf Inference submissions against parity over the input lengths they allow (parity.validate_mlperf)."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest
from click.testing import CliRunner

from parity import catalog
from parity.cli import cli
from parity.errors import ParityError
from parity.validate_mlperf import Bracket, PairRatio, bracket_checks, output_length, pair_ratios, twin_pairs

ROWS = catalog.measurements("mlperf_inference")


def _bracket(measured: float, predicted: tuple[float, ...], isl: tuple[int, ...] = (1, 256, 512)) -> Bracket:
    return Bracket(case_id="x", vendor="v", system="s", scenario="offline", metric="output_tokens_per_s",
                   measured=measured, predicted=predicted, isl_tokens=isl)


def test_a_bracket_is_the_range_of_the_predictions() -> None:
    """Measured 100 against predictions 300, 200, 100 is inside (miss 0); against 90, 60, 30 it lies above the
    bracket: miss (90 - 100) / 100 = -0.10; against 120, 110, 115 below it: (110 - 100) / 100 = +0.10. A latency
    of inf (parity: unstable at that length) bounds nothing: 1 s against 0.01 s and inf is inside."""
    assert _bracket(100.0, (300.0, 200.0, 100.0)).inside
    assert _bracket(100.0, (90.0, 60.0, 30.0)).miss == pytest.approx(-0.10)
    assert _bracket(100.0, (120.0, 110.0, 115.0)).miss == pytest.approx(0.10)
    assert _bracket(1.0, (0.01, math.inf), (1, 256)).inside


def test_the_implied_input_length_interpolates_between_grid_lengths() -> None:
    """Predictions 300, 200, 100 at 1, 256, 512 tokens; measured 150 lies halfway between 200 and 100, so
    256 + 0.5 x 256 = 384 tokens; measured 400 lies above every prediction: None."""
    assert _bracket(150.0, (300.0, 200.0, 100.0)).implied_isl_tokens == pytest.approx(384.0)
    assert _bracket(400.0, (300.0, 200.0, 100.0)).implied_isl_tokens is None


def test_pair_errors_are_predicted_over_published_ratios() -> None:
    """Published 0.96; predicted 0.48 and 0.96: errors -0.5 and 0."""
    pair = PairRatio(a="a", b="b", published=0.96, predicted=(0.48, 0.96), isl_tokens=(1, 1023))
    assert pair.errors == pytest.approx((-0.5, 0.0))


def test_a_runs_output_length_is_its_tokens_over_its_samples() -> None:
    """AMD's 8 x MI300X offline run (v4.1): 23,514.8 tokens/s over 80.15 samples/s = 293.385 tokens a sample."""
    (row,) = [r for r in ROWS if r["case_id"] == "MLP41-AMD-8xMI300X-offline"]
    assert output_length(row) == pytest.approx(293.385, abs=1e-3)


def test_every_run_is_a_valid_submission_with_its_source() -> None:
    """As transcribed, each run passes what MLPerf's checker and loadgen require of a valid Llama-2-70B result:
    tokens a sample within 0.9-1.1 x the reference's 294.45 (265.0-323.9; mlcommons/inference
    tools/submission/submission_checker/constants.py), and in the server scenario p50 <= p90 <= p99 with
    p99 TTFT <= 2 s and p99 TPOT <= 200 ms; every row names its repository, a 40-digit commit and the
    summary file it was read from, and none is fitted (split holdout)."""
    assert len(ROWS) == 20
    for row in ROWS:
        assert 265.0 <= output_length(row) <= 323.9, row["case_id"]
        assert re.fullmatch(r"[0-9a-f]{40}", row["commit"]) and row["repo"] and row["path"].endswith(
            "mlperf_log_summary.txt"), row["case_id"]
        assert row["split"] == "holdout" and row["unstated"], row["case_id"]
        if row["scenario"] == "server":
            for metric, limit in (("ttft", 2.0), ("tpot", 0.2)):
                p50, p90, p99 = (float(row[f"measured_{metric}_{s}_s"]) for s in ("p50", "p90", "p99"))
                assert p50 <= p90 <= p99 <= limit, (row["case_id"], metric)


def test_twins_are_another_vendors_run_of_the_same_round() -> None:
    """Four pairs of offline and four of server runs: MI300X against H100 and H200 (v4.1), MI325X against
    H200 and H100 (v5.0); a twin of the same vendor is refused with the row named."""
    pairs = twin_pairs(ROWS)
    assert sorted((a["case_id"], b["case_id"]) for a, b in pairs if a["scenario"] == "offline") == [
        ("MLP41-AMD-8xMI300X-offline", "MLP41-NV-8xH100-offline"),
        ("MLP41-AMD-8xMI300X-offline", "MLP41-NV-8xH200-offline"),
        ("MLP50-AMD-8xMI325X-offline", "MLP50-NV-8xH100-offline"),
        ("MLP50-AMD-8xMI325X-offline", "MLP50-NV-8xH200-offline")]
    assert len(pairs) == 8
    rows = [{**r, "twins": "MLP41-Dell-8xMI300X-offline"} if r["case_id"] == "MLP41-AMD-8xMI300X-offline" else r
            for r in ROWS]
    with pytest.raises(ParityError, match="MLP41-AMD-8xMI300X-offline: twin 'MLP41-Dell-8xMI300X-offline'"):
        twin_pairs(rows)


def test_a_bad_measured_cell_names_the_row_and_column() -> None:
    row = {**ROWS[0], "measured_samples_per_s": "-3"}
    with pytest.raises(ParityError, match="MLP41-AMD-8xMI300X-offline: measured_samples_per_s must be > 0"):
        output_length(row)


def test_offline_throughput_falls_as_prompts_grow() -> None:
    """Longer prompts cost more prefill per request, so the predicted offline throughput never rises with the
    mean input length (H200, v4.1)."""
    (row,) = [r for r in ROWS if r["case_id"] == "MLP41-NV-8xH200-offline"]
    (bracket,) = bracket_checks([row])
    assert all(a > b for a, b in zip(bracket.predicted, bracket.predicted[1:]))


def test_a_hook_reprices_every_scenario() -> None:
    """pair_ratios with a hook that leaves scenarios as they are predicts what it predicts without one; a hook
    that halves every chip's memory bandwidth lowers the MI300X's offline throughput at 256-token prompts (decode
    reads the weights and the KV cache every step)."""
    import dataclasses

    def slower(s):  # type: ignore[no-untyped-def]
        chip = dataclasses.replace(s.system.chip, memory_bytes_per_s=0.5 * s.system.chip.memory_bytes_per_s)
        return dataclasses.replace(s, system=dataclasses.replace(s.system, chip=chip))

    rows = [r for r in ROWS if r["case_id"] in ("MLP41-AMD-8xMI300X-offline", "MLP41-NV-8xH100-offline")]
    rows = [{**r, "twins": "MLP41-NV-8xH100-offline" if r["vendor"] == "AMD" else ""} for r in rows]
    (plain,), (same,) = pair_ratios(rows, grid=(256,)), pair_ratios(rows, grid=(256,), hook=lambda s: s)
    assert same.predicted == plain.predicted
    (amd,) = [r for r in rows if r["vendor"] == "AMD"]
    (fast,), (slow,) = bracket_checks([amd], grid=(256,)), bracket_checks([amd], grid=(256,), hook=slower)
    assert slow.predicted[0] < fast.predicted[0]


def test_simulated_server_latency_rises_with_prompts() -> None:
    """At the H200's v4.1 server load (101 queries/s over 8 workers) 256-token prompts wait for more prefill
    than 1-token ones: the simulator's mean TTFT and TPOT both rise; p50 <= p90 <= p99."""
    from parity.validate_mlperf import _server_sim
    (row,) = [r for r in ROWS if r["case_id"] == "MLP41-NV-8xH200-server"]
    short, long = _server_sim(row, 1), _server_sim(row, 256)
    assert long["ttft_s"] > short["ttft_s"] and long["tpot_s"] > short["tpot_s"]
    assert long["ttft_p50_s"] <= long["ttft_p90_s"] <= long["ttft_p99_s"]


@pytest.mark.validation
def test_mlperf_runs_and_pairs_within_their_documented_tolerance(targets: dict[str, Any]) -> None:
    """The figures that lie outside every prediction over the admissible input lengths (offline throughput,
    the steady-state model's server means, the simulator's server statistics) are exactly those targets.toml
    [mlperf.outside] names, each missed by at most its documented distance; every cross-vendor ratio's error at
    every input length stays within the documented bound."""
    bounds = targets["mlperf"]
    assert len(ROWS) == bounds["rows"]
    brackets = bracket_checks(ROWS)
    outside = {f"{b.model_kind}:{b.case_id}:{b.metric}": b.miss for b in brackets if not b.inside}
    assert set(outside) == set(bounds["outside"])
    for key, miss in outside.items():
        assert abs(miss) <= bounds["outside"][key], (key, miss)
    pairs = pair_ratios(ROWS)
    assert len(pairs) == bounds["pairs"]
    worst = max(abs(e) for p in pairs for e in p.errors)
    assert worst <= bounds["pair_error_max"], worst


@pytest.mark.validation
def test_section_mlperf_reports_every_run_and_pair() -> None:
    import json
    result = CliRunner().invoke(cli, ["validate", "--section", "mlperf", "--format", "json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["rows"] == 20 and len(payload["pairs"]) == len(payload["pairs_before"]) == 4
    # 10 offline throughputs; 10 server runs x (steady mean TTFT and TPOT + the simulator's 8 statistics)
    assert len(payload["brackets"]) == 10 + 10 * (2 + 8)
    table = CliRunner().invoke(cli, ["validate", "--section", "mlperf", "--format", "csv"])
    # one row per figure, then the 4 pairs stored and the 4 before
    assert table.exit_code == 0 and len(table.stdout.strip().splitlines()) == 1 + 110 + 8
