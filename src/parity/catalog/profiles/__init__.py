"""Calibrations (parity's and the user's), serving-engine profiles and the training profile: the calibration files in
`calibration_files`, which of them a chip runs on in `lending`, engine and training profiles in `engine_profiles`."""

from parity.catalog.profiles.calibration_files import (calibrations, derived_prior, prior_calibration, row_groups,
                                                       user_note)
from parity.catalog.profiles.engine_profiles import (ENGINE_ALIASES, engine, engine_defaults, engine_for, engine_host,
                                                     engine_kernels, engine_on, engine_text, engine_user_file,
                                                     engine_user_note, engines, fitted_any, host_ops, training_prior,
                                                     training_profile, training_profile_text, unfitted_stack_profile)
from parity.catalog.profiles.lending import calibration, calibration_stacks, family_chain, foreign_lender

__all__ = ["calibrations", "calibration", "user_note", "engine_user_file", "engine_user_note", "prior_calibration",
           "derived_prior", "family_chain", "engines", "engine_for", "fitted_any", "unfitted_stack_profile",
           "foreign_lender", "calibration_stacks", "engine_defaults", "engine_kernels", "engine_host", "host_ops",
           "training_prior", "ENGINE_ALIASES", "engine", "training_profile", "training_profile_text", "engine_on",
           "engine_text", "row_groups"]
