"""What users get across sources and vendors: engine profiles per software stack, scores with fits that
never saw the scored group (leave one source or vendor out), and ratios where two vendors ran the same work.

A setting is what prices a row: each chip's calibration and each (engine, stack)'s profile. Leaving a
group out rebuilds the setting without the group's rows: stack profiles are refitted on the other
calibration rows (a stack left without rows, and any engine without a fit of its own, runs at the software
maturity the fits that stand show: engine.measured_stack_prior), family calibrations fitted on the group's
kernel figures are dropped (their chips fall to the parent family or the derived prior, rebuilt without them). NVIDIA's CUDA profiles and the H200
calibration were fitted on aiconfigurator rows and parity's H200 microbenchmarks, never on published rows:
those published rows are scored with them as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from parity import catalog
from parity.crossvendor.leave_out import (GroupScore, chip_files, group_scores, kernel_fits_of_source, leave_one_out,
                                          leave_one_out_errors, measured_vendors, without_kernel_fits)
from parity.crossvendor.ratios import (RatioCheck, bands_toml, chip_of, coverage_words, interval_coverage,
                                      pair_intervals, ratio_checks, ratio_error_median, vendor_bands)
from parity.crossvendor.setting import (Setting, before_setting, fitted_row_ids, metric_kind, scored_rows,
                                        stored_setting)
from parity.crossvendor.stacks import (STACK_PARAMETERS, STACK_PRIOR_WEIGHT, fit_stack, stack_loss, stack_rows, stack_toml,
                                       twin_offsets)
from parity.predict import predict_rows
from parity.validate import CaseError, case_errors, published_errors

__all__ = ["crossvendor_scores", "KERNELS_TOO", "measured_vendors",
           "row_errors", "ratio_error_median", "STACK_PARAMETERS", "STACK_PRIOR_WEIGHT",
           "Setting", "twin_offsets", "fitted_row_ids", "scored_rows", "stored_setting", "before_setting", "fit_stack", "stack_loss",
           "stack_rows",
           "GroupScore", "group_scores", "leave_one_out", "leave_one_out_errors", "vendor_bands", "bands_toml",
           "RatioCheck", "ratio_checks", "pair_intervals", "interval_coverage", "coverage_words", "metric_kind",
           "stack_toml", "without_kernel_fits", "kernel_fits_of_source",
           "chip_files", "chip_of"]


# the setting of a vendor's rows scored with its chips' kernel figures left out of the family calibrations too
KERNELS_TOO = "left out, kernels too"


def crossvendor_scores(by: str, iterations: int, progress: Callable[[str], None] | None = None,
                       served_errors: Sequence[CaseError] | None = None, model_kind: str = "sim",
                       processes: int = 1) -> dict[str, list[dict[str, object]]]:
    """Published serving rows scored per source or vendor (`by`) before families and stack profiles, with
    every fit rebuilt without the group ('left out'; by vendor also with the family calibrations of its chips' kernel
    figures dropped, KERNELS_TOO, where any fitted one), and with the stored fits on the rows no fit used;
    aiconfigurator's never-fitted rows as the in-source reference; and the pairs where two vendors ran the
    same work, with their predicted ratios under each setting. {'scores': [...], 'ratios': [...]}.
    `served_errors`: aiconfigurator's never-fitted errors when the caller has already computed them. Every fit
    (stack profiles, family calibrations) runs the steady-state model; `model_kind` prices the scored rows: 'sim'
    (the default) simulates the closed-loop figures (validate.closed_loop: per-user and per-worker rates at a
    concurrency) step by step and keeps offline and unbounded-rate throughputs and prefill steps on the
    steady-state model (validate.published_errors)."""
    rows = catalog.measurements("serving_published")
    field = {"source": "source_id", "vendor": "vendor"}[by]
    group_of = {r["case_id"]: r[field] for r in rows}
    before = published_errors(rows, hook=before_setting().apply, model_kind=model_kind,
                              processes=processes)
    after = published_errors(scored_rows(rows), hook=stored_setting().apply, model_kind=model_kind,
                             processes=processes)
    if served_errors is None:
        held = [r for r in catalog.measurements() if r["split"] in ("holdout", "unseen")]
        # aiconfigurator's rows: scored on its never-fitted half (the CUDA profiles were fitted on the other)
        # priced as the published rows are (model_kind): the steady model's figures here beside the simulator's in
        # `validate --format md` printed two scores for one row set (report-only tester fuzzDD 1)
        served_errors = case_errors(held, predict_rows(held, model_kind=model_kind, processes=processes))
    in_source = group_scores(served_errors,
                             lambda e: "aiconfigurator" if by == "source" else chip_of(e.system).vendor,
                             "never fitted", by, "profiles fitted on its calibration rows; NVIDIA only")
    kernels = catalog.measurements("kernels_published")
    left_out = leave_one_out_errors(rows, kernels, by, iterations, progress=progress, model_kind=model_kind,
                                    processes=processes)
    # by vendor, also as a vendor parity has no measurement of: its chips' kernel figures out of the families too
    bare = leave_one_out_errors(rows, kernels, by, iterations, progress=progress, model_kind=model_kind,
                                processes=processes, kernels=True) if by == "vendor" else []
    table = (group_scores(before, lambda e: group_of[e.case_id], "before", by)
             + [s for group, left, errors, _ in left_out
                for s in group_scores(errors, lambda e, g=group: g, "left out", by, left)]
             + [s for group, left, errors, _ in bare
                for s in group_scores(errors, lambda e, g=group: g, KERNELS_TOO, by, left)]
             + group_scores(after, lambda e: group_of[e.case_id], "after (scored half)", by)
             + in_source)
    # by vendor, what each vendor's 'left out' keeps: a chip measured on its own ('measured': NVIDIA's H200, and the
    # CUDA profiles fitted on aiconfigurator's NVIDIA points), its chips' kernel calibrations ('kernels'), or nothing
    # measured ('none': its chips were never measured, so 'left out' prices them as KERNELS_TOO would)
    measured = {g: "measured" if g in measured_vendors() else "kernels" if kernel_fits_of_source(kernels, g, by, True)
                else "none" for g in sorted(set(group_of.values()))} if by == "vendor" else {}
    scores = sorted((s.row() | ({"kept": measured[s.group]} if s.group in measured else {}) for s in table),
                    key=lambda r: (r["group"], r["kind"], r["setting"]))
    per_row = row_errors(before, left_out, after, bare)
    pairs_before = {c.case_id: c for c in ratio_checks(rows, before_setting(), model_kind, processes)}

    def under(settings: Sequence[tuple[str, str, list[CaseError], Setting]]) -> dict[str, RatioCheck]:
        """Each pair priced under the setting that left its group out (its NVIDIA twin, '-nv', goes with it)."""
        out: dict[str, RatioCheck] = {}
        for group, _, _, setting in settings:
            mine = [r for r in rows if r[field] == group or (r["case_id"].endswith("-nv") and group_of.get(
                r["case_id"].removesuffix("-nv")) == group)]
            out |= {c.case_id: c for c in ratio_checks(mine, setting, model_kind, processes)}
        return out

    pairs_left = under(left_out)  # with the pair's group (source or vendor) left out
    split = {r["case_id"]: r["split"] for r in rows}
    source_of = {r["case_id"]: r["source_id"] for r in rows}
    nan = float("nan")
    pairs_bare = under(bare)  # by vendor: with its kernel figures left out too
    pairs = [{**c.row(), "before": pairs_before[c.case_id].predicted if c.case_id in pairs_before else nan,
              "left_out": pairs_left[c.case_id].predicted if c.case_id in pairs_left else nan,
              "left_out_error": pairs_left[c.case_id].error if c.case_id in pairs_left else nan,
              **({"kernels_too": pairs_bare[c.case_id].predicted if c.case_id in pairs_bare else nan,
                  "kernels_too_error": pairs_bare[c.case_id].error if c.case_id in pairs_bare else nan}
                 if by == "vendor" else {}),
              "split": split[c.case_id], "source_id": source_of[c.case_id]}
             for c in ratio_checks(rows, None, model_kind, processes)]
    # each left-out ratio's 80% interval, as compare builds it, from the left-out residuals of the other sources;
    # with the kernel figures left out too, as compare builds it for a vendor never measured
    residuals = [(source_of[e.case_id], e) for _, _, errors, _ in left_out for e in errors]
    pairs = pair_intervals(pairs, residuals)
    if by == "vendor":
        pairs = pair_intervals(pairs, residuals, "kernels_too", never_measured=True)
    return {"scores": scores, "ratios": pairs, "rows": per_row, "vendors": measured}


def row_errors(before: Sequence[CaseError], left_out: Sequence[tuple[str, str, list[CaseError], Setting]],
               after: Sequence[CaseError], bare: Sequence[tuple[str, str, list[CaseError], Setting]] = ()
               ) -> list[dict[str, object]]:
    """Every published row scored with its group left out (`leave_one_out_errors`), with its prediction under the
    other settings beside: before (the generic prior and CUDA-fitted profiles), now (the stored fits; NaN where
    the row fitted something) and, where `bare` is given (by vendor), with its vendor's kernel figures left out too
    (KERNELS_TOO; NaN for vendors not left out so); largest |left-out error| first, so the rows that make a group's
    median lead."""
    then = {e.case_id: e.predicted for e in before}
    now = {e.case_id: e.predicted for e in after}
    without = {e.case_id: e.predicted for _, _, errors, _ in bare for e in errors}
    nan = float("nan")
    out = []
    for group, _, errors, _ in left_out:
        for e in errors:
            out.append({"group": group, "case_id": e.case_id, "system": e.system, "engine": e.engine,
                        "model": e.model, "metric": e.metric, "kind": metric_kind(e.metric),
                        "split": e.split, "measured": e.measured, "before": then.get(e.case_id, nan),
                        "left_out": e.predicted, "left_out_error": e.error, "now": now.get(e.case_id, nan),
                        **({"kernels_too": without.get(e.case_id, nan)} if bare else {})})
    return sorted(out, key=lambda r: -abs(float(r["left_out_error"])))
