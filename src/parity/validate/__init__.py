"""Measured against predicted: relative errors per metric and group, and the fit of engine profiles.

Scores count only rows never used to fit anything (`holdout` and `unseen`); `calibration` rows are
marked and left out of every score. Engine profiles are fitted on calibration rows alone by
minimising the mean absolute log error of TTFT and TPOT (Nelder-Mead in log space).
"""

from parity.deployments import DeploymentCheck, deployment_checks
from parity.optimize import nelder_mead
from parity.validate.cases import (METRICS, SCORED_SPLITS, CaseError, Score, case_errors, error_statistics, flag_kinds,
                                   flag_scores, infeasible_cases, infeasible_words, interval_coverage, interval_split,
                                   intervals_from, mode_label, scores)
from parity.validate.engine_fit import (FIT_PARAMETERS, MIN_FIT_ROWS, SIZING_PARAMETERS, engine_refit_text,
                                        engine_toml, fit_engine, fit_loss, scenarios_of, sizing_rows, unfitted)
from parity.validate.published import closed_loop, published_errors

__all__ = ["METRICS", "CaseError", "Score", "case_errors", "infeasible_cases", "scores", "fit_engine", "FIT_PARAMETERS",
           "SIZING_PARAMETERS", "fit_loss", "MIN_FIT_ROWS", "unfitted", "sizing_rows", "scenarios_of", "intervals_from",
           "interval_coverage", "interval_split",
           "published_errors", "closed_loop", "DeploymentCheck", "deployment_checks", "mode_label",
           "error_statistics", "flag_kinds", "flag_scores", "infeasible_words", "SCORED_SPLITS",
           "engine_toml", "engine_refit_text", "nelder_mead"]
