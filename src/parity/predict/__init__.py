"""Serving scenarios from table rows: `parity predict CASES.csv` and `parity serve` share this.

A row names a model, a system, an engine, formats, a workload and layouts (empty cells mean
"default"); `predict_rows` prices them all, grouping rows that share a deployment so that their
workloads are solved as arrays. A bad row ends as feasible=false with the reason; it never stops
the others.

Modules, lowest first: columns (the table's columns and cell readers), case (Case, a row read),
precision and engine_version (a case's formats; what its engine version changes), scenario (Scenario,
Prediction, a case resolved against the catalog), steady (the steady-state pricing), simulated (the
step-level simulator's re-run), pricing (predict_scenarios, predict_cases, predict_rows).
"""

from parity.predict.case import INPUT_KINDS, Case, case_from_row, layout_from_row
from parity.predict.columns import (CASE_COLUMNS, COLUMN_KINDS, EXTRA_COLUMNS, MODEL_KINDS, MOST_MTP_TOKENS,
                                     OPTIONAL_COLUMNS, OUTPUT_COLUMNS, OUTPUT_KINDS, SIM_COLUMNS, check_case_columns,
                                     close_column)
from parity.predict.pricing import closed_loop_only, open_loop, predict_cases, predict_rows, predict_scenarios
from parity.predict.scenario import Prediction, Scenario, deployment, scenario_from_row, scenario_of
from parity.predict.simulated import (CLIENT_HELD_FLAG, benchmark_of, client_fields, lockstep_flag, open_loop_at_peak,
                                      overload_flag, simulate_scenario, simulated_flags, simulated_note)
from parity.predict.steady import case_note, flags, interval_bounds, interval_note, shortfall_text

__all__ = ["layout_from_row", "CASE_COLUMNS", "OPTIONAL_COLUMNS", "OUTPUT_COLUMNS", "SIM_COLUMNS", "MODEL_KINDS", "MOST_MTP_TOKENS", "Case",
           "COLUMN_KINDS", "INPUT_KINDS", "OUTPUT_KINDS", "EXTRA_COLUMNS",
           "check_case_columns", "close_column",
           "Scenario", "Prediction", "case_from_row", "scenario_from_row", "scenario_of", "predict_rows",
           "predict_cases", "predict_scenarios", "deployment", "simulate_scenario", "benchmark_of", "interval_bounds", "interval_note", "simulated_note",
           "simulated_flags", "overload_flag", "lockstep_flag", "open_loop_at_peak", "CLIENT_HELD_FLAG",
           "client_fields", "case_note", "flags", "shortfall_text", "closed_loop_only",
           "open_loop"]
