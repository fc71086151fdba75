"""What a fixed-batch step (`serve --phase decode|prefill`, a `predict` row's phase) says: the busiest attention-DP
rank's batch that paces it, its 80% interval, and the options and columns it does not read, refused as serve refuses
them (report-only tester fixfa 1-3)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from parity.cli import cli
from parity.predict import predict_rows

R1_H200 = ["serve", "--model", "deepseek-r1", "--system", "hgx-h200", "--engine", "sglang", "--weights", "fp8_block",
           "--attn-dp", "8", "--moe-ep", "8"]
DECODE_100 = [*R1_H200, "--phase", "decode", "--batch", "100", "--context", "2000"]


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env={"COLUMNS": "100"})
    return result.exit_code, result.output


def test_a_decode_step_says_the_busiest_ranks_batch_that_paces_it() -> None:
    """100 sequences on 8 attention-DP ranks are 12.5 a rank on average, and the busiest decodes ceil(12.5) = 13: the
    step (31.79 ms, as batch 104's) runs at its pace, 100 / 0.03179 / 8 = 393.2 tokens/s per chip. The table said
    '12.5' alone; it says the busiest rank's 13 beside it, and the JSON carries it."""
    code, output = _invoke(*DECODE_100)
    assert code == 0, output
    rows = {line[:40].strip(): line[40:].strip() for line in output.splitlines()[3:12]}
    assert rows["batch per attention-DP rank"] == "12.5 (the busiest rank 13, the step's pace)"
    code, output = _invoke(*DECODE_100, "--format", "json")
    data = json.loads(output)
    assert (data["batch_per_rank"], data["busiest_rank_batch"]) == (12.5, 13.0)
    assert round(data["step_s"] * 1e3, 2) == 31.79 and round(data["output_tokens_per_s_per_chip"], 1) == 393.2
    # an even split says the one figure
    code, output = _invoke(*R1_H200, "--phase", "decode", "--batch", "96", "--context", "2000", "--format", "json")
    assert (json.loads(output)["batch_per_rank"], json.loads(output)["busiest_rank_batch"]) == (12.0, 12.0)


def test_a_predict_decode_row_says_the_busiest_rank_too(tmp_path: Path) -> None:
    """The same step as a `predict` row: its note says the busiest rank's 13 sequences pace it, and its figures are
    serve's."""
    (p,) = predict_rows([{"case_id": "d", "model": "deepseek-r1", "system": "hgx-h200", "engine": "sglang",
                          "weights": "fp8_block", "phase": "decode", "batch": "100", "context": "2000", "attn_dp": "8",
                          "moe_ep": "8"}], model_kind="steady")
    assert p.feasible
    assert ("12.5 sequences per attention-DP rank (8 ranks): the busiest decodes 13 sequences (the step's pace)"
            in p.note)
    assert round(p.tpot_s * 1e3, 2) == 31.79 and p.extra["busiest_rank_batch"] == 13.0


def test_a_decode_step_has_the_closed_loops_tpot_interval() -> None:
    """The step's 80% interval is the steady model's TPOT band of aggregated MLA-model runs (uncertainty.toml:
    q_low -0.335176, q_high 0.155, unflagged so not widened): 31.79 ms x e^-0.155 = 27.23 to x e^0.3352 = 44.45 ms,
    the rate inversely 393.2 / 1.3982 = 281.2 to 393.2 / 0.8564 = 459.1 tokens/s per chip."""
    code, output = _invoke(*DECODE_100, "--format", "json")
    data = json.loads(output)
    assert [round(data[k] * 1e3, 2) for k in ("tpot_s_low", "tpot_s_high", "step_s_low", "step_s_high")] == [
        27.23, 44.45, 27.23, 44.45]
    assert [round(data[k], 1) for k in ("output_tokens_per_s_per_chip_low", "output_tokens_per_s_per_chip_high")] == [
        281.2, 459.1]
    assert "the closed loop's TPOT band, about the decode step" in data["note"]
    code, output = _invoke(*DECODE_100)
    assert "TPOT [ms] (80% interval)" in output and "31.79 (27.23-44.45)" in output


def test_a_prefill_step_has_the_closed_loops_ttft_interval() -> None:
    """8 prompts of 2,000 tokens on 8 ranks: 317.5 ms; the TTFT band of aggregated MLA-model runs (q_low -0.912,
    q_high 0.4636): 317.54 x e^-0.4636 = 199.75 to x e^0.912 = 790.45 ms; the input rate inversely."""
    code, output = _invoke(*R1_H200, "--phase", "prefill", "--batch", "8", "--isl", "2000", "--format", "json")
    data = json.loads(output)
    assert [round(data[k] * 1e3, 2) for k in ("step_s", "ttft_s_low", "ttft_s_high")] == [317.54, 199.75, 790.45]
    rate = data["input_tokens_per_s_per_chip"]
    assert data["input_tokens_per_s_per_chip_low"] == pytest.approx(rate * 0.31754 / 0.79045, rel=1e-4)
    assert "the closed loop's TTFT band, about the prefill step" in data["note"]


@pytest.mark.parametrize(("args", "says"), [
    (["--phase", "prefill", "--batch", "8", "--isl", "2000", "--mtp", "1"], "--mtp is not read by --phase prefill"),
    (["--phase", "prefill", "--batch", "8", "--isl", "2000", "--mtp-acceptance", "0.5"],
     "--mtp-acceptance is not read by --phase prefill"),
])
def test_serve_refuses_mtp_on_a_prefill_step(args: list[str], says: str) -> None:
    """A prefill step prices the main model over the prompts, not the MTP drafts (its step was 317.54 ms with --mtp 1
    or without, and the caption quoted an MTP acceptance): --mtp is refused as other options it does not read."""
    code, output = _invoke(*R1_H200, *args)
    assert code == 2 and says in output


@pytest.mark.parametrize(("cells", "says"), [
    ({"phase": "decode", "batch": "100", "context": "2000", "concurrency": "64"},
     "concurrency with phase decode: a fixed-batch step has no clients"),
    ({"phase": "prefill", "batch": "8", "isl": "2000", "concurrency": "64"},
     "concurrency with phase prefill: a fixed-batch step has no clients"),
    ({"phase": "prefill", "batch": "8", "isl": "2000", "mtp_tokens": "1"}, "mtp_tokens with phase prefill"),
])
def test_predict_refuses_a_phase_row_what_serve_refuses(tmp_path: Path, cells: dict[str, str], says: str) -> None:
    """`serve --phase decode --concurrency 64` is refused, and a predict row with phase decode and concurrency 64 was
    priced as if the column were not there; it is refused by its row, as serve refuses the option."""
    header = ["case_id", "model", "system", "attn_dp", "moe_ep", *cells]
    path = tmp_path / "cases.csv"
    path.write_text(",".join(header) + "\n" + ",".join(["x9", "deepseek-r1", "hgx-h200", "8", "8", *cells.values()])
                    + "\n")
    code, output = _invoke("predict", str(path), "--model-kind", "steady", "--format", "table", "--wide")
    assert code == 0 and f"x9: {says}" in " ".join(output.split())
