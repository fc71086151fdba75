"""Published training runs scored per chip vendor or per source with fits that never saw them.

What fits a training prediction: the training profile's fitted factors (training.toml: gemm_scale and
moe_permute_scale, fitted on the `calibration` rows of training_published.csv) and each chip's
calibration (family calibrations fitted on kernel figures; the H200's own microbenchmarks). Leaving a group
out refits the profile from its documented prior on the calibration rows of the other groups (the prior
itself where none remain); leaving a source out also drops the family calibrations fitted on its kernel
figures. Leaving a vendor out keeps them, as the serving scores do (crossvendor.leave_one_out_errors): a
vendor's kernel microbenchmarks are what its chip family is calibrated from by design, and none is scored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from parity import catalog
from parity.crossvendor import (GroupScore, before_setting, group_scores, kernel_fits_of_source, stored_setting,
                                vendor_bands, without_kernel_fits)
from parity.uncertainty import SMALL_SAMPLE_ROWS, Band
from parity.validate import CaseError
from parity.validate_training import (TrainingCase, fit_training_profile, training_case_errors, training_cases,
                                      training_source_id)

__all__ = ["training_group", "training_leave_one_out", "training_scores", "training_vendor_bands", "TRAINING_BANDS",
           "TRAINING_MIN_RUNS"]

# the runs a vendor's own training band needs: Google's 5 (four MaxText v5p runs of one README at 64-128 chips and
# a PaLM v4 run) were all under-predicted by 10-16%, a band of [-0.170, -0.110] that put every TPU training
# prediction outside its own 80% interval (report-only tester fuzzDY 1); NVIDIA holds 59, every other vendor under 5
TRAINING_MIN_RUNS = 10
TRAINING_BANDS = ("10th-90th percentiles of ln(predicted/measured) of published training tokens/s per chip, each run "
                  "scored leaving its source out of every fit (parity validate --by source, its training table), per "
                  f"chip vendor; vendors with fewer than {SMALL_SAMPLE_ROWS} runs at least as wide as the pooled band "
                  f"of every vendor's runs, and those with fewer than {TRAINING_MIN_RUNS} the widest band")

SCORED_SPLITS = ("calibration", "holdout")  # `reference` rows are listed, never scored


def training_group(row: Mapping[str, str], by: str) -> str:
    """The row's group: its chip's vendor (`by` 'vendor') or its source ('source')."""
    if by == "vendor":
        return catalog.system(row["system"]).chip.vendor
    if by == "source":
        return training_source_id(row)
    raise ValueError(f"by must be 'vendor' or 'source', got {by!r}")


def training_leave_one_out(by: str, cases: Sequence[TrainingCase] | None = None,
                           kernel_rows: Sequence[Mapping[str, str]] | None = None
                           ) -> list[tuple[str, str, list[CaseError]]]:
    """(group, what 'left out' means for it, its rows' errors) for every group of scored training rows,
    each priced with a profile and chip calibrations that never saw the group's rows."""
    cases = [c for c in (cases if cases is not None else training_cases()) if c.split in SCORED_SPLITS]
    kernels = kernel_rows if kernel_rows is not None else catalog.measurements("kernels_published")
    out = []
    for group in sorted({training_group(c.row, by) for c in cases}):
        mine = [c for c in cases if training_group(c.row, by) == group]
        dropped = kernel_fits_of_source(kernels, group, by)
        calibrations = without_kernel_fits(stored_setting(), dropped).calibrations
        fitted_here = [c.case_id for c in mine if c.split == "calibration"]
        others = [c for c in cases if c.split == "calibration" and training_group(c.row, by) != group]
        if not fitted_here and not dropped:
            profile, left = catalog.training_profile(), "its rows fitted nothing"
        elif not fitted_here:
            profile, left = catalog.training_profile(), ""
        elif others:
            profile, _, _ = fit_training_profile(catalog.training_prior(), others, calibrations=calibrations)
            left = (f"training profile refitted from its prior on the {len(others)} calibration rows of the "
                    f"other {by}s (without {', '.join(fitted_here)})")
        else:
            profile = catalog.training_prior()
            left = f"no calibration row left: the training profile's prior (without {', '.join(fitted_here)})"
        if dropped:
            left = "; ".join(filter(None, [left, f"dropped {', '.join(sorted(dropped))} from the family calibrations "
                                                 "(refitted on their other rows, if any)"]))
        out.append((group, left, training_case_errors(profile, mine, calibrations)))
    return out


def training_scores(by: str, progress: Callable[[str], None] | None = None) -> list[dict[str, object]]:
    """Training tokens/s per chip scored per vendor or source (`by`): 'before' (the generic prior on every chip
    but the H200, the stored profile; every scored row), 'left out' (fits that never saw the group) and
    'after (scored half)' (the stored fits on the holdout rows only)."""
    cases = [c for c in training_cases() if c.split in SCORED_SPLITS]
    group_of = {c.case_id: training_group(c.row, by) for c in cases}
    before = training_case_errors(cases=cases, calibrations=before_setting().calibrations)
    after = training_case_errors(cases=[c for c in cases if c.split == "holdout"])
    left_out = []
    for group, left, errors in training_leave_one_out(by, cases):
        if progress:
            progress(group)
        left_out += group_scores(errors, lambda e, g=group: g, "left out", by, left)
    table: list[GroupScore] = (group_scores(before, lambda e: group_of[e.case_id], "before", by) + left_out
                               + group_scores(after, lambda e: group_of[e.case_id], "after (scored half)", by))
    rows = [{**s.row(), "kind": "training"} for s in table]
    return sorted(rows, key=lambda r: (str(r["group"]), str(r["setting"])))


def training_vendor_bands(errors: Iterable[CaseError] | None = None) -> dict[str, Band]:
    """80% bands of ln(predicted/measured) training tokens/s per chip, per chip vendor, from the published runs each
    scored with fits that never saw its source (training_leave_one_out by source; `errors`: those, where given);
    every catalog vendor gets one (the widest measured band where it has fewer than TRAINING_MIN_RUNS runs): data/
    training_ratio_uncertainty.toml, from which compare's training ratios take their intervals."""
    if errors is None:
        errors = [e for _, _, found in training_leave_one_out("source") for e in found]
    return vendor_bands(errors, decode_only=False, minimum=TRAINING_MIN_RUNS)
