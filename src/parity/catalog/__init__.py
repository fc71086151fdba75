"""The catalog: chips, systems, models, calibrations, engine profiles and measurements read from
parity's data folder (and the user's) into frozen values. This package is the only file reader."""

from parity.catalog.claims import claim, claims
from parity.catalog.files import (as_written, close_matches, data_dir, in_effect, is_user, name_key, user_dir,
                                  user_files)
from parity.catalog.hardware import Entry, chip, chips, families, resolve, sources, system, system_for, systems
from parity.catalog.lineage import CalibrationStatement, FigureSource, calibration_statement, figure_source
from parity.catalog.measurements import (bands_path, fitted_chips, measured_gemm_formats, measurements,
                                         training_families, training_features, scale_out_tp_families,
                                         microbenchmarks,
                                         ratio_uncertainty_table, training_ratio_uncertainty_table,
                                         uncertainty_table, validated_features, validation_targets)
from parity.catalog.models import ModelEntry, model, models, priced_as, stand_in_name
from parity.catalog.profiles import (ENGINE_ALIASES, calibration, calibrations, derived_prior, engine, engine_defaults,
                                     foreign_lender, calibration_stacks,
                                     engine_kernels, engine_host, host_ops,
                                     engine_for, engine_on, engine_text, engine_user_file, engine_user_note,
                                     fitted_any, unfitted_stack_profile,
                                     engines, family_chain, prior_calibration, training_profile, training_profile_text,
                                     training_prior)
from parity.catalog.stacks import fit_text, fitted_parameters, maturity_brief, maturity_note, stack_word
from parity.catalog.speculation import (MOST_MTP_DRAFTS, MtpAcceptance, default_mtp, mtp_acceptance, mtp_drafts,
                                        mtp_flags, mtp_setting)

__all__ = ["claim", "claims", "data_dir", "chips", "systems", "chip", "system", "system_for", "sources",
           "close_matches", "resolve", "Entry", "families", "family_chain", "derived_prior", "engine_for", "engine_on", "engine_text",
           "fitted_any", "unfitted_stack_profile",
           "engine_defaults", "engine_kernels", "engine_host", "host_ops", "models", "model",
           "priced_as", "stand_in_name",
           "ModelEntry", "calibrations", "calibration", "foreign_lender", "calibration_stacks", "prior_calibration",
           "engines", "engine", "engine_user_file", "engine_user_note", "ENGINE_ALIASES", "measurements", "microbenchmarks", "user_dir",
           "uncertainty_table", "ratio_uncertainty_table", "training_ratio_uncertainty_table", "fitted_chips",
           "training_families", "training_features", "scale_out_tp_families",
           "measured_gemm_formats", "validated_features", "training_profile", "training_prior",
           "training_profile_text", "validation_targets", "MtpAcceptance", "MOST_MTP_DRAFTS", "mtp_acceptance",
           "default_mtp", "mtp_drafts",
           "mtp_flags", "mtp_setting", "fit_text", "fitted_parameters", "maturity_note", "maturity_brief", "stack_word",
           "in_effect",
           "is_user", "user_files", "bands_path", "as_written", "name_key", "CalibrationStatement", "FigureSource",
           "calibration_statement", "figure_source"]
