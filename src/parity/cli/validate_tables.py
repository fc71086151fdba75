"""`parity validate`'s tables for people: the serving table's title and caption, and the H200 calibration checks'
tables."""

from __future__ import annotations

from collections import Counter
from typing import Any

from parity.calibration_check import LAUNCH_BOUND_S
from parity.report.tables import Column, percent, plain
from parity.uncertainty import widening_words
from parity.validate import SCORED_SPLITS, infeasible_words


def calibration_tables(payload: dict[str, Any]) -> list[tuple[list[Any], list[Column], str, str]]:
    """The H200 calibration checks for people, (rows, columns, title, caption) a table: kernel times on held-out
    points, across measurement campaigns, and on serving rows. Each fits 80 columns: the point counts give way
    first, and a campaign's name wraps at its space ("sweep (graphs)")."""
    three = [Column("roofline_error", "roofline", percent), Column("prior_error", "prior", percent),
             Column("measured_error", "measured", percent)]
    kernel_columns = [Column("kind", "kernel kind", plain, "left"),
                      Column("fitted_points", "fitted", plain, wide=1), Column("scored_points", "scored", plain,
                                                                               wide=1), *three]
    errors = ("roofline: every datasheet peak reached, no per-kernel cost; prior: parity's generic efficiencies for "
              "chips without measurements, themselves shaped by these H200 measurements; measured: ")
    return [
        (payload["calibration_kernels"], kernel_columns,
         "H200 calibration: median |err| of kernel times on held-out microbenchmark points",
         "fitted, scored: microbenchmark points; the calibration is fitted on one half of them (split by a hash of "
         "each label) and every calibration scored on the other. " + errors + "the calibration fitted from the "
         "roofline on the fitted half."),
        (payload["calibration_campaigns"],
         [Column("fitted_on", "fitted on", plain, "left", wrap=True),
          Column("scored_on", "scored on", plain, "left", wrap=True),
          Column("kernels", "kernels", plain, "left", wrap=True), *kernel_columns],
         "H200 calibration across measurement campaigns: median |err| of kernel times",
         "sweep: `parity calibrate` on a real H200 SXM, 282 points timed as CUDA-graph replays (its default) and "
         "again as eager launches (--eager), data/measurements/h200_parity_sweep*.json; reference: parity's H200 "
         "reference microbenchmarks, eager launches on another H200 SXM (503 points). Fitted from the roofline on "
         "all of one, scored on the other. Eager against eager, and replays against replays: all kernels; eager "
         f"against replays only kernels of {LAUNCH_BOUND_S * 1e6:.0f} us or more, since shorter ones time the launch "
         "(24-38 us eager, about 8 us replayed) as much as the chip. H100 sweep: the same sweep on an H100 SXM "
         "(h100_parity_sweep*.json), priced at the H100's peaks with the H200's efficiencies, as the Hopper family "
         "gives them to it. " + errors + "fitted on the H200 campaign named."),
        (payload["calibration_serving"], [Column("group", "system", plain, "left"),
                                          Column("metric", "metric", plain, "left"), Column("rows", "rows", plain),
                                          *three],
         "H200 calibration: median |err| on serving rows with each calibration in place",
         "hgx-h200: published throughputs (none fitted). hgx-h100: never-fitted serving points on the same Hopper "
         "die (H100 = H200 compute with less memory); the engine profiles were fitted on top of the generic prior, "
         "so there the calibration changes little. " + errors + "the H200's measured calibration."),
    ]


def serving_title(payload: dict[str, Any]) -> str:
    """The serving table's title: the never-fitted rows, how many of them are scored and how many are not (predicted
    infeasible), and the rows left out: 'Serving: 1,417 never-fitted rows (1,110 holdout, 307 unseen), 1,407 scored,
    10 predicted infeasible; 416 calibration rows excluded, 15 reference rows too'."""
    counted, infeasible = Counter(payload["rows"]), Counter(payload["infeasible_by_split"])
    never = sum(counted[split] for split in SCORED_SPLITS)
    unscored = sum(infeasible[split] for split in SCORED_SPLITS)
    return (f"Serving: {never:,} never-fitted rows ({', '.join(f'{counted[s]:,} {s}' for s in SCORED_SPLITS)}), "
            f"{payload['scored']:,} scored" + (f", {unscored:,} predicted infeasible" if unscored else "")
            + f"; {counted['calibration']:,} calibration rows excluded"
            + (f", {counted['reference']:,} reference rows too" if counted["reference"] else ""))


def serving_caption(payload: dict[str, Any], fields: list[str]) -> str:
    """The serving table's caption: what an error is, the rows not scored (predicted infeasible, by split; the
    infeasible column's counts, which a flag cannot know), why TTFT counts fewer rows, and the intervals' coverage."""
    covered, by_split = payload["interval_coverage"], payload["interval_coverage_by_split"]
    flagged = ("; the infeasible column counts each group's, but a flag's: an infeasible prediction names no flags"
               if fields == ["flag"] else "")

    def parts(metric: str) -> str:  # a part without rows of the metric (rows of no unseen system) has no coverage
        return ", ".join(f"{name} {by_split[part][metric]:.0%}" for part, name in (("check", "holdout half"),
                                                                                    ("unseen", "unseen"))
                         if metric in by_split.get(part, {}))
    coverage = ("; ".join(f"{m} {v:.0%} ({parts(m)})" for m, v in covered.items())
                or "no intervals yet (parity validate --fit)")
    return ("Error = (predicted - measured) / measured. 'unseen' rows (B300, gpt-oss-120b) were excluded from every "
            f"fit. {infeasible_words(payload['infeasible_by_split'])}{flagged}; a row measured on a cold server keeps "
            "no TTFT, so TTFT counts fewer rows than TPOT. 80% intervals, as predictions print them "
            f"({widening_words()}), contain the measured value on rows not used to build them: {coverage}")
