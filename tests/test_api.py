"""The public API is pinned: what `parity`, the typed CLI values and the typed serving entry point export,
and the commands the CLI lists without importing them."""

from __future__ import annotations

import importlib
import subprocess
import sys

import click

import parity
import parity.cli
import parity.cli.values
import parity.predict

PUBLIC = ["catalog", "Chip", "System", "Calibration", "Model", "what_if", "Layout", "Precision", "Batch",
          "Deployment", "step_cost", "Workload", "ServingResult", "serve_aggregated", "serve_disaggregated",
          "engine_deployment",
          "Comparison", "compare", "TrainingLayout", "TrainingResult", "train_step", "search_training",
          "ParityError", "CatalogError", "ModelConfigError", "InfeasiblePlan"]


def test_the_package_exports_exactly_its_pinned_names_and_each_resolves() -> None:
    assert parity.__all__ == PUBLIC
    for name in PUBLIC:
        assert getattr(parity, name) is not None
    importlib.import_module("parity.compare")  # the submodule of the same name does not replace the function
    assert callable(parity.compare) and parity.compare.__module__ == "parity.compare"
    assert parity.catalog.__name__ == "parity.catalog"


def test_import_parity_loads_no_engine_module() -> None:
    """`import parity` (and so `parity --version`) imports neither numpy, rich, matplotlib nor the engine."""
    code = "import sys, parity.cli; print(' '.join(sorted(sys.modules)))"
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split())
    assert not loaded & {"numpy", "rich", "matplotlib", "parity.serving", "parity.catalog", "parity.report.tables"}


def test_typed_entry_points_are_pinned() -> None:
    assert {"Case", "case_from_row", "scenario_of", "predict_cases"} <= set(parity.predict.__all__)
    assert parity.cli.values.__all__ == ["Duration", "Count", "Real", "Quantity", "DURATION", "COUNT",
                                         "TOKENS", "CONCURRENCY", "CHIPS", "PARALLEL", "StatisticTarget", "Targets",
                                         "targets_options", "target_text", "ray_option", "listed"]


def test_the_lazy_command_list_matches_the_registered_commands() -> None:
    """`parity --help` lists commands from parity.cli.COMMANDS without importing them; each module named
    there registers exactly the commands mapped to it."""
    group = parity.cli.cli
    ctx = click.Context(group)
    for name, (module, summary) in parity.cli.COMMANDS.items():
        command = group.get_command(ctx, name)
        assert command is not None and command.name == name and summary.endswith(".")
        assert command.callback.__module__ == f"parity.cli.{module}"
    assert set(group.commands) == set(parity.cli.COMMANDS)
