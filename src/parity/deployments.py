"""Published deployments against the memory model: does what runs fit, and what is said not to fit not?

Each row of measurements/deployments_published.csv names a model, a system, a chip count and a weight
format, and optionally the deployment's own layout (tp, attn_dp, moe_ep, placement, one rank per die)
with its batch and context. Without a layout, the smallest-footprint layout of that many chips serves
one sequence; with one, that layout holds `batch` sequences of `context` tokens. Either way the
runtime keeps the least it needs to start (memory.STARTUP_RESERVE_*), not an engine's default KV share.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from parity import catalog
from parity.compare import memory_shortfall
from parity.engine import EngineProfile
from parity.hardware import per_die
from parity.memory import STARTUP_RESERVE_BYTES, STARTUP_RESERVE_FRACTION
from parity.predict import layout_from_row
from parity.predict.columns import flag
from parity.search import best_precision
from parity.serving import engine_deployment
from parity.step import deployment_memory

__all__ = ["DeploymentCheck", "deployment_checks"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DeploymentCheck:
    """A published deployment (the model runs, or is said to need more chips) against parity's memory
    model: the row's layout, or the smallest-footprint layout of that many chips, one sequence of `tokens`."""

    case_id: str
    model: str
    system: str
    chips: int
    weights: str
    expected_fits: bool
    predicted_fits: bool
    margin_bytes_per_chip: float  # memory left per chip once the model is served; negative: short by that much

    @property
    def agrees(self) -> bool:
        return self.expected_fits == self.predicted_fits


def _cell(row: Mapping[str, str], key: str) -> str:
    return (row.get(key) or "").strip()


def _layout_shortfall(row: Mapping[str, str], profile: EngineProfile, tokens: int) -> float:
    """Bytes per rank the row's own layout lacks for `batch` sequences (default one per attention-DP rank)
    of `context` tokens; prefill rows hold `batch` prompts' tokens in one step, decode rows one token each."""
    model, system = catalog.model(row["model"]), catalog.system(row["system"])
    calibration = catalog.calibration(system.chip)
    if flag(row, "rank_per_die"):
        system = per_die(system)
    precision = best_precision(model, system.chip, row["weights"])
    if _cell(row, "kv"):
        precision = dataclasses.replace(precision, kv_cache=_cell(row, "kv"))
    layout = layout_from_row(row, "").check(model)
    dep = engine_deployment(model, system, layout, precision, calibration, profile)
    per_rank = float(_cell(row, "batch") or layout.attn_dp) / layout.attn_dp
    context = float(_cell(row, "context") or tokens)
    step_tokens = per_rank * context if _cell(row, "phase") == "prefill" else per_rank
    mem = deployment_memory(dep, per_rank, context, step_tokens, STARTUP_RESERVE_FRACTION, STARTUP_RESERVE_BYTES)
    return float(-mem.free_bytes)


def deployment_checks(rows: Sequence[Mapping[str, str]], tokens: int = 2048) -> list[DeploymentCheck]:
    """Every row of measurements/deployments_published.csv checked against parity's memory model."""
    out = []
    profile = catalog.engine("sglang")
    for row in rows:
        model, system = catalog.model(row["model"]), catalog.system(row["system"])
        precision = best_precision(model, system.chip, row["weights"])
        if _cell(row, "tp") or _cell(row, "attn_dp"):
            short = _layout_shortfall(row, profile, tokens)
        else:
            short = memory_shortfall(model, system, profile, precision, int(row["chips"]), tokens,
                                     (STARTUP_RESERVE_FRACTION, STARTUP_RESERVE_BYTES))
        out.append(DeploymentCheck(case_id=row["case_id"], model=model.name, system=system.id, chips=int(row["chips"]),
                                   weights=precision.weights, expected_fits=row["expected"] == "fits",
                                   predicted_fits=short <= 0, margin_bytes_per_chip=-short))
    return out
