"""Chip calibration from microbenchmarks: measured points in, a dated Calibration out.

Points (GEMMs over LLM shapes and token counts, grouped expert GEMMs, flash-attention prefill and
decode, memory copies) come from `parity calibrate` on the user's GPU (see `sweep`) or from a file
in the format of parity's H200 reference microbenchmarks. The fit prices every point with the
same roofline the engine uses (`cost.price_kernel`) and moves the calibration's efficiencies to
minimise the mean absolute log error of the predicted kernel times.
"""

from parity.calibrate.checks import (MAX_FIT_ERROR, MIN_POINTS_PER_KIND, PEAK_TOLERANCE, SLOW_TOLERANCE, check_fit,
                                     check_plausible)
from parity.calibrate.fitting import (BOUND_LOSS_SLACK, BOUND_SLACK, FITTED, at_bounds, calibration_toml, field_counts,
                                      field_value, fit_calibration, fit_start, fitted_fields, held_at, kind_error,
                                      point_times, replayed, stack_points)
from parity.calibrate.points import SECTIONS, SHORTEST_KERNEL_S, Point, Seen, points_from_benchmark

__all__ = ["Point", "Seen", "points_from_benchmark", "stack_points", "point_times", "fit_calibration", "fitted_fields",
           "fit_start", "calibration_toml", "field_value", "at_bounds", "replayed", "held_at", "BOUND_SLACK",
           "check_plausible", "check_fit", "kind_error", "FITTED", "BOUND_LOSS_SLACK",
           "field_counts", "SHORTEST_KERNEL_S", "PEAK_TOLERANCE",
           "SLOW_TOLERANCE", "MAX_FIT_ERROR", "MIN_POINTS_PER_KIND", "SECTIONS"]
