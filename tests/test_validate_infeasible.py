"""Rows predicted infeasible in `parity validate`'s serving scores: each score group counts its own (every group
said 0 while the top-level count said 14), and the title counts what it says it counts (it called 1,417 never-fitted
rows "scored measured points", 10 of them infeasible and unscored)."""

import pytest

from parity import catalog
from parity.cli.validate_payload import validation_payload
from parity.cli.validate_tables import serving_caption, serving_title
from parity.crosscheck import repeat_spread
from parity.predict import predict_rows
from parity.validate import CaseError, flag_scores, infeasible_words, scores


def _case(split: str, system: str, predicted: float = 1.1, metric: str = "tpot_s") -> CaseError:
    return CaseError(case_id=f"{split}-{system}-{predicted}", split=split, system=system, engine="e", model="m",
                     mode="agg", metric=metric, measured=1.0, predicted=predicted)


def test_each_score_group_counts_its_own_infeasible_rows() -> None:
    """Two scored holdout rows on system a, one infeasible there and one on b, where no row is scored, one infeasible
    calibration row: a counts 1, b a group of its own (count 0, no statistics), the calibration row in no
    never-fitted group; scores told no infeasible rows, and the flag and repeat-run scores, do not claim 0."""
    scored = [_case("holdout", "a"), _case("holdout", "a", 1.3)]
    unscored = [_case("holdout", "a", float("nan")), _case("holdout", "b", float("nan")),
                _case("calibration", "a", float("nan"))]
    found = {dict(s.group)["system"]: s for s in scores(scored, ["system"], infeasible=unscored)}
    assert (found["a"].count, found["a"].infeasible, found["a"].median_abs_error) == (2, 1, pytest.approx(0.2))
    assert (found["b"].count, found["b"].infeasible) == (0, 1) and found["b"].median_abs_error != found["b"].bias
    (overall,) = scores(scored, infeasible=unscored)
    assert (overall.count, overall.infeasible) == (2, 2)
    (by_split,) = [s for s in scores(scored, ["split"], ("calibration",), unscored)]
    assert (by_split.count, by_split.infeasible) == (0, 1)
    assert "infeasible" not in scores(scored)[0].row() and "infeasible" not in flag_scores(scored)[0].row()
    runs = [{"case_id": str(i), "system": "s", "model": "m", "measured_tpot_s": str(v)} for i, v in enumerate((1, 2))]
    assert "infeasible" not in repeat_spread(runs)[0].row()
    assert infeasible_words({"holdout": 10, "calibration": 4}) == ("14 rows predicted infeasible are not scored "
                                                                   "(4 calibration, 10 holdout)")
    assert infeasible_words({"unseen": 1}) == "1 row predicted infeasible is not scored (1 unseen)"


def test_the_serving_payload_and_title_count_infeasible_rows_by_group() -> None:
    """SGLang's Qwen3-32B rows on an H100 node (88: 52 holdout, 32 calibration, 4 reference): tp1 with 2,048-token
    prompts does not fit (the bf16 weights, 64 GB, and the KV cache pass 80 GB), one calibration row and two
    holdout rows. Each split's scores, the model's row and the 'all scored' rows count their own; 50 rows scored."""
    rows = [r for r in catalog.measurements()
            if (r["system"], r["engine"], r["model"]) == ("hgx-h100", "sglang", "qwen3-32b")]
    predictions = predict_rows(rows, model_kind="steady")
    _, payload, _ = validation_payload(rows, predictions, ["model"], "serving", "steady", 1)
    assert (payload["infeasible"], payload["infeasible_by_split"], payload["scored"]) == (
        3, {"holdout": 2, "calibration": 1}, 50)
    assert {(r["metric"], r["split"]): (r["count"], r["infeasible"]) for r in payload["by_split"]} == {
        ("tpot_s", "calibration"): (31, 1), ("tpot_s", "holdout"): (50, 2),
        ("ttft_s", "calibration"): (31, 1), ("ttft_s", "holdout"): (50, 2)}
    assert [(r["model"], r["count"], r["infeasible"]) for r in payload["scores"]] == [
        ("qwen3-32b", 50, 2), ("qwen3-32b", 50, 2), ("all scored", 50, 2), ("all scored", 50, 2)]
    assert serving_title(payload) == ("Serving: 52 never-fitted rows (52 holdout, 0 unseen), 50 scored, 2 predicted "
                                      "infeasible; 32 calibration rows excluded, 4 reference rows too")
    assert "3 rows predicted infeasible are not scored (1 calibration, 2 holdout); a row" in serving_caption(
        payload, ["model"])
    assert "but a flag's: an infeasible prediction names no flags" in serving_caption(payload, ["flag"])
