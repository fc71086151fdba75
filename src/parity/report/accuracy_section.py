"""The report's accuracy section: how far the steady model the report's figures use is from measurements no fit
has seen, as `parity validate` scores them."""

from __future__ import annotations

from parity import catalog
from parity.crosscheck import system_ratios
from parity.predict import predict_rows
from parity.report.accuracy_page import METRIC_NAMES
from parity.report.markup import esc, num, signed, table, times
from parity.report.tables import percent
from parity.validate import SCORED_SPLITS, case_errors, scores
from parity.validate_training import training_case_errors

__all__ = ["accuracy_section"]


def accuracy_section() -> str:
    """How far parity's predictions are from measurements it was never fitted on (parity validate), scored
    with the steady model the report's comparisons, frontiers and fleet plan use."""
    measured = catalog.measurements()
    rows = [r for r in measured if r.get("split") in SCORED_SPLITS]
    predictions = predict_rows(rows)  # the steady model, as compare, search and fleet price their work
    errors = case_errors(rows, predictions)
    serving = [[esc(dict(s.group).get("mode", "all never-fitted rows")), esc(METRIC_NAMES.get(s.metric, s.metric)),
                num(s.count), percent(s.median_abs_error), percent(s.p90_abs_error), signed(s.bias)]
               for s in scores(errors, ["mode"]) + scores(errors)]
    ratios = [[esc(r.system_b + " / " + r.system_a), esc(r.engine), esc(METRIC_NAMES.get(r.metric, r.metric)),
               num(r.count), times(r.measured_ratio), times(r.predicted_ratio), percent(r.median_abs_error)]
              for r in system_ratios(rows, predictions)]
    (training,) = scores(training_case_errors(), splits=("holdout",))
    overall = {s.metric: s for s in scores(errors)}
    verdict = ", ".join(f"{METRIC_NAMES[metric]} {'meets' if overall[metric].median_abs_error <= goal else 'misses'} "
                        f"its {goal:.0%}" for metric, goal in (("tpot_s", 0.15), ("ttft_s", 0.25)))
    calibration = sum(r.get("split") == "calibration" for r in measured)
    reference = sum(r.get("split") == "reference" for r in measured)
    return ("<p>Scored with the steady (closed-form) model, the one every comparison, frontier and fleet figure "
            f"above uses, on the {num(len(rows))} rows of serving_aiconfigurator.csv that no fit has "
            f"seen (splits holdout and unseen; {num(overall['tpot_s'].count)} of them scored for TPOT and "
            f"{num(overall['ttft_s'].count)} for TTFT, the others lacking that measurement or predicted not to "
            "fit): closed-loop TensorRT-LLM, vLLM and SGLang benchmarks on NVIDIA 8-GPU "
            f"H100, B200 and B300 nodes. Its {num(calibration)} calibration rows, which fitted the engine profiles, "
            f"are left out, and so are {num(reference)} reference rows that record no client count. These are claims about those NVIDIA nodes only: the other chips' predictions rest on "
            "datasheets and, where published, their own kernel figures (see Assumptions). Error = predicted / measured - 1; bias = median signed "
            f"error. Against the project's median-error targets: {verdict}. The step-by-step simulator of the "
            "timeline above is scored separately, by <code>parity validate --section serving</code> (minutes: it "
            "replays every row), whose scores the page docs/accuracy.md of parity's source tree records; "
            "<code>parity validate</code> prints these tables and more.</p>"
            + table(["mode", "metric", "rows", "median |error|", "p90 |error|", "bias"], serving, "numbers",
                    "Error of the steady model on never-fitted serving rows, by mode", "stack-narrow")
            + "<p>The same work on two systems, on the same never-fitted rows: what this report's ratios claim, "
              "checked where both systems were measured.</p>"
            + table(["systems", "engine", "metric", "configurations", "measured ratio", "predicted ratio",
                      "median |error| of the ratio"], ratios, "numbers",
                    "Measured and predicted ratios of two systems on the same never-fitted rows", "stack-narrow")
            + f"<p>Training: tokens/s per chip of the {training.count} published runs in the holdout split, which "
              f"no fit has seen: median |error| {percent(training.median_abs_error)}, p90 "
              f"{percent(training.p90_abs_error)}.</p>")
