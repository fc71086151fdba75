"""Training scenarios: step time, memory per chip and MFU of a parallel layout, and the search for the
fastest layout that fits. Layout in `layout` (its pipeline stages in `stages`), memory in `memory`, pipeline
schedules in `pipeline`, one microbatch's passes in `passes`, the step in `step` (its result in `result`, layouts
as arrays in `arrays`), search in `search`."""

from parity.training.layout import (ACTIVATION_CACHES, GRADIENT_FORMATS, GRAD_OVERLAP, MOE_DISPATCHERS, OPTIMIZER_STATES,
                                    PP_SCHEDULES, check_model_options, chunk_choices, default_global_batch,
                                    layout_chunks, layout_counts, most_layout_entries,
                                    PRECISIONS, ranks_clause, RECOMPUTE, TrainingLayout, training_precision)
from parity.training.memory import (TrainingMemory, adam_bytes_per_parameter, layer_activation_bytes_per_token,
                                    parameters_per_device)
from parity.training.search import (SYSTEM_MULTIPLES, SearchSpace, TrainingSearch, pick_training_layout,
                                    search_fewest_systems, search_training, structural_layouts)
from parity.training.step import (DEFAULT_PROFILE, TrainingResult, evaluate_arrays, evaluate_layouts,
                                  model_flops_per_token, train_step)
from parity.training.pipeline import pipeline_bubble_s

__all__ = ["TrainingLayout", "TrainingMemory", "TrainingResult", "train_step", "evaluate_layouts",
           "model_flops_per_token", "adam_bytes_per_parameter", "layer_activation_bytes_per_token",
           "parameters_per_device", "training_precision", "RECOMPUTE", "PRECISIONS", "GRAD_OVERLAP",
           "DEFAULT_PROFILE", "evaluate_arrays", "search_training", "search_fewest_systems", "SYSTEM_MULTIPLES", "SearchSpace", "TrainingSearch",
           "structural_layouts", "pick_training_layout", "pipeline_bubble_s", "PP_SCHEDULES", "ACTIVATION_CACHES",
           "OPTIMIZER_STATES", "GRADIENT_FORMATS", "MOE_DISPATCHERS", "chunk_choices", "layout_chunks",
           "layout_counts", "most_layout_entries", "ranks_clause", "check_model_options",
           "default_global_batch"]
