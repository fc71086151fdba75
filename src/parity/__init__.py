"""parity: an open what-if engine for AI compute.

The public API: look up chips, systems, models and engine profiles in `catalog`, build what-if
variants with `what_if` (or `dataclasses.replace`), price steps and serving scenarios, compare
systems, price training steps and search for the fastest training layout. Results are frozen
dataclasses; `dataclasses.asdict` turns them into dicts.

Names load on first use (PEP 562), so `import parity` and the command line start fast.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> the module that defines it
_HOMES = {
    "catalog": "parity.catalog",
    "Chip": "parity.hardware", "System": "parity.hardware", "Calibration": "parity.hardware",
    "what_if": "parity.hardware", "Model": "parity.model",
    "Layout": "parity.plan", "Precision": "parity.plan", "Batch": "parity.ops",
    "Deployment": "parity.step", "step_cost": "parity.step",
    "Workload": "parity.serving", "ServingResult": "parity.serving", "serve_aggregated": "parity.serving",
    "serve_disaggregated": "parity.serving", "engine_deployment": "parity.serving",
    "Comparison": "parity.compare", "compare": "parity.compare",
    "TrainingLayout": "parity.training", "TrainingResult": "parity.training", "train_step": "parity.training",
    "search_training": "parity.training",
    "ParityError": "parity.errors", "CatalogError": "parity.errors", "ModelConfigError": "parity.errors",
    "InfeasiblePlan": "parity.errors",
}

__all__ = [
    "catalog", "Chip", "System", "Calibration", "Model", "what_if",
    "Layout", "Precision", "Batch", "Deployment", "step_cost",
    "Workload", "ServingResult", "serve_aggregated", "serve_disaggregated", "engine_deployment",
    "Comparison", "compare",
    "TrainingLayout", "TrainingResult", "train_step", "search_training",
    "ParityError", "CatalogError", "ModelConfigError", "InfeasiblePlan",
]


class _Package(types.ModuleType):
    """The parity package: `parity.compare` is the function, even after the submodule of the same name
    loads (the import system then sets the package attribute to the submodule; the function is kept)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "compare" and isinstance(value, types.ModuleType):
            value = value.compare
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'parity' has no attribute {name!r}")
    module = importlib.import_module(home)
    value = module if name == "catalog" else getattr(module, name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # for type checkers and IDEs: the names as plain imports
    from parity import catalog
    from parity.compare import Comparison, compare
    from parity.errors import CatalogError, InfeasiblePlan, ModelConfigError, ParityError
    from parity.hardware import Calibration, Chip, System, what_if
    from parity.model import Model
    from parity.ops import Batch
    from parity.plan import Layout, Precision
    from parity.serving import ServingResult, Workload, serve_aggregated, serve_disaggregated
    from parity.step import Deployment, step_cost
    from parity.training import TrainingLayout, TrainingResult, search_training, train_step
