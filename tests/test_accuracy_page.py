"""The accuracy page: `parity validate --format md` writes docs/accuracy.md, which never goes stale."""

from pathlib import Path

import pytest
from parity import catalog
from parity.cli.validate_payload import page_payload, validation_payload
from parity.report.accuracy_page import SUMMARY_END, SUMMARY_START, accuracy_markdown, summary_table
from parity.report.accuracy_summary import summary_rows
from parity.validate import CaseError, case_errors

PAGE = Path(__file__).resolve().parents[1] / "docs" / "accuracy.md"


def _error(case_id: str, split: str, metric: str, predicted: float) -> CaseError:
    return CaseError(case_id=case_id, split=split, system="hgx-h100", engine="vllm", model="m", mode="agg",
                     metric=metric, measured=1.0, predicted=predicted)


def test_the_summary_scores_never_fitted_rows_only() -> None:
    """TPOT errors +10%, -20%, +40% on holdout/unseen rows: median |err| 20%; p90 of (0.1, 0.2, 0.4) is
    0.2 + 0.8 x (0.4 - 0.2) = 36%. The calibration row (+90%) is left out; the unseen row alone: 40%. Scored
    by the simulator (+5% holdout, +30% unseen: median 17.5%, p90 0.05 + 0.9 x 0.25 = 27.5%) with those as
    the steady model's, the simulator's rows come first, labelled, and the steady model's row follows."""
    errors = [_error("a", "holdout", "tpot_s", 1.1), _error("b", "holdout", "tpot_s", 0.8),
              _error("c", "unseen", "tpot_s", 1.4), _error("d", "calibration", "tpot_s", 1.9)]
    never, unseen = summary_rows(errors, [], [])
    assert never[0] == "serving TPOT" and never[2:] == ["3", "20.0%", "36.0%"]
    assert unseen[2:] == ["1", "40.0%", "40.0%"]
    simulated = [_error("a", "holdout", "tpot_s", 1.05), _error("c", "unseen", "tpot_s", 1.3)]
    sim, sim_unseen, steady = summary_rows(simulated, [], [], kind="sim", other=errors)
    assert sim[0] == "serving TPOT, simulated (`serve`, `predict`, `validate`)" and sim[2:] == ["2", "17.5%", "27.5%"]
    assert sim_unseen[1].startswith("of which B300") and sim_unseen[2:] == ["1", "30.0%", "30.0%"]
    assert steady[0] == "serving TPOT, steady model (`search`, `compare`, `fleet`)"
    assert steady[2:] == ["3", "20.0%", "36.0%"]
    text = summary_table(errors, [], [{"kind": "all", "scored_points": 272, "measured_error": 0.081}])
    assert text.startswith(SUMMARY_START) and text.endswith(SUMMARY_END)
    assert "| 272 | 8.1% | n/a |" in text



def test_the_page_says_what_other_chips_rest_on_and_which_model_prices_the_ratios() -> None:
    """The page said Ascend, AMD and other chips rest on "the generic efficiency prior" and are all flagged
    uncalibrated (the 910B/910C, CDNA3/CDNA4 and Blackwell families are fitted on their published kernel figures
    and are not), and its table "the ratio `parity compare` reports" did not say that compare's steady model
    prices it (whichever model the page's other serving tables score)."""
    pair = {"systems": "hgx-h100 / hgx-b200", "engine": "vllm", "metric": "ttft_s", "count": 10,
            "measured_ratio": 1.3717, "predicted_ratio": 1.3340, "median_abs_error": 0.1683}
    page = accuracy_markdown([], [], {"rows": {}, "infeasible_by_split": {}, "model_kind": "sim", "system_ratios": [pair]})
    assert "generic efficiency prior" not in page
    assert ("whose predictions rest on datasheets and, where published, their own kernel figures (their family's "
            'calibration, named in each prediction; a chip with none is flagged "uncalibrated chip").') in page
    assert ("ratio - 1|. Predicted with the steady model, as `compare` predicts them, whichever model the tables "
            "above score.") in page
    assert "| hgx-h100 / hgx-b200 | vllm | TTFT | 10 | 1.37x | 1.33x | 16.8% |" in page

def test_the_page_holds_the_summary_the_readme_shows() -> None:
    text = PAGE.read_text(encoding="utf-8")
    assert text.count(SUMMARY_START) == 1 and text.count(SUMMARY_END) == 1


@pytest.mark.validation
def test_docs_accuracy_md_is_what_validate_prints_now(simulated_predictions: list) -> None:
    """Regenerate with `parity validate --format md --out docs/accuracy.md` when this fails. The page is built as
    that command builds it (its defaults: two processes, 150 iterations), from the simulator's predictions the
    validation tier makes once."""
    rows = catalog.measurements()
    errors = case_errors(rows, simulated_predictions)
    _, payload, training = validation_payload(rows, simulated_predictions, ["system", "engine"], "all", "sim", 2)
    page = accuracy_markdown(errors, training, page_payload(rows, errors, payload, "sim", 2, 150))
    assert page == PAGE.read_text(encoding="utf-8"), \
        "docs/accuracy.md is stale: run `parity validate --format md --out docs/accuracy.md`"
