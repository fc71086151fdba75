"""Prediction intervals and out-of-calibration flags.

An 80% interval comes from the spread of held-out validation residuals r = ln(predicted/measured):
with q10 and q90 their 10th and 90th percentiles for a metric and kind of case, a prediction p has
the interval [p e^-q90, p e^-q10]. Cases outside what the model was checked on (a chip with no
measurement behind it, an architecture feature never validated, a layout far from any measured
one) are flagged, and their interval is widened by a named factor per reason (widening).
"""

from parity.flags import WIDEN_FLAGGED
from parity.uncertainty.bands import (BANDED_APART, CALIBRATION_WIDEN, SMALL_SAMPLE_ROWS, WHAT_IF_RESPONSE, Band,
                                      Intervals, bands_from, build_intervals, capped_rate, compute_ceiling, coverage,
                                      interval_kind, ratio_interval, response_interval, shared_errors, widening,
                                      widening_words)
from parity.uncertainty.cases import (CUDA_ONLY, UNMEASURED_GEMM_WORDS, assumed_emulation, case_flags, context_flags,
                                      flag_note, kernel_figures_note, kv_cache_flag, unmeasured_gemm)
from parity.uncertainty.chips import (PARTLY_FITTED, calibrated_text, calibration_flag, calibration_grade,
                                      calibration_kind, calibration_label, calibration_on_prior, chip_calibrated,
                                      chip_flags, foreign_calibration_flag, package_flag, short_basis, specs_flag,
                                      status_flag, user_file_flag)
from parity.uncertainty.training import (ENVELOPE_CHIPS_FACTOR, ZERO3_CHECKED_ERRORS, ZERO3_SYNCHRONOUS_WORST,
                                         TrainingEnvelope, training_envelope, training_flags)
from parity.uncertainty.vendor import (TRAINING_INTERVAL_BASIS, ratio_band, training_band, training_interval,
                                       vendor_bands)
from parity.uncertainty.what_if import (WHAT_IF_DIGITS, idle_units_flag, power_figure, power_flags, what_if_brief,
                                        what_if_changes, what_if_flag)

__all__ = ["Band", "Intervals", "build_intervals", "coverage", "case_flags", "context_flags", "WIDEN_FLAGGED",
           "package_flag", "chip_calibrated", "calibration_kind", "calibrated_text",
           "ratio_interval", "WHAT_IF_RESPONSE", "shared_errors", "response_interval", "bands_from", "interval_kind",
           "BANDED_APART",
           "unmeasured_gemm", "UNMEASURED_GEMM_WORDS", "kernel_figures_note", "assumed_emulation",
           "kv_cache_flag", "flag_note", "short_basis", "training_flags",
           "what_if_changes", "what_if_brief", "what_if_flag", "idle_units_flag", "power_figure", "calibration_label",
           "power_flags",
           "status_flag", "specs_flag", "ratio_band", "user_file_flag", "CALIBRATION_WIDEN", "widening",
           "calibration_grade", "calibration_flag", "chip_flags", "SMALL_SAMPLE_ROWS", "widening_words",
           "PARTLY_FITTED",
           "calibration_on_prior", "vendor_bands", "compute_ceiling", "capped_rate", "foreign_calibration_flag",
           "training_band",
           "training_interval", "TRAINING_INTERVAL_BASIS",
           "ENVELOPE_CHIPS_FACTOR", "TrainingEnvelope", "training_envelope",
           "CUDA_ONLY", "WHAT_IF_DIGITS", "ZERO3_CHECKED_ERRORS", "ZERO3_SYNCHRONOUS_WORST"]
