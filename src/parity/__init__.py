"""parity: an open what-if engine for AI compute.

The public API: look up chips, systems, models and engine profiles in `catalog`, build what-if
variants with `what_if` (or `dataclasses.replace`), price steps and serving scenarios, compare
systems, price training steps and search for the fastest training layout. Results are frozen
dataclasses; `dataclasses.asdict` turns them into dicts.
"""

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

__version__ = "0.1.0"

__all__ = [
    "catalog", "Chip", "System", "Calibration", "Model", "what_if",
    "Layout", "Precision", "Batch", "Deployment", "step_cost",
    "Workload", "ServingResult", "serve_aggregated", "serve_disaggregated",
    "Comparison", "compare",
    "TrainingLayout", "TrainingResult", "train_step", "search_training",
    "ParityError", "CatalogError", "ModelConfigError", "InfeasiblePlan",
]
