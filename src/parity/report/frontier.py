"""The report's Pareto frontiers, each searched as `compare` searched the system's table row, so that a curve
passes through the figure the tables give for it."""

from __future__ import annotations

from dataclasses import dataclass

from parity import catalog
from parity.compare import Comparison, best_precision, default_mtp, systems_spanned
from parity.engine import EngineProfile
from parity.hardware import System, per_die
from parity.model import Model
from parity.search import MAX_WORKER_CHIPS, search_serving

__all__ = ["Frontier", "frontier", "systems_spanned_by"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Frontier:
    """One system's Pareto frontier: points (tokens/s per user, tokens/s per chip [per package]), the table's
    figure on it (None where the system has no table row) and the systems its workers may span."""

    system: str
    weights: str
    points: tuple[tuple[float, float], ...]
    chosen: tuple[float, float] | None
    spans: int

    @property
    def label(self) -> str:
        """The curve's legend entry: 'atlas-800-a3 (int8, workers over up to 4 systems)'."""
        return f"{self.system} ({self.weights}" + (
            f", workers over up to {self.spans} systems)" if self.spans > 1 else ")")


def systems_spanned_by(row: Comparison | None, system: System) -> int:
    """The systems the (decode) worker of a table row's configuration spans (1 where it has none); the row's rates and
    chips are per package, as `system`'s."""
    return 1 if row is None or row.configuration is None else systems_spanned(row.configuration, system)


def frontier(model: Model, system: System, profile: EngineProfile, isl: int, osl: int, tpot_s: float | None,
             ttft_s: float | None, row: Comparison | None = None) -> Frontier:
    """`system`'s frontier searched as compare searched `row` (its table row on the same model and targets): the
    engine at the chip's software-stack maturity, one rank per die of a multi-die package (rates per package), the
    model's default multi-token prediction, the TPOT target and the TTFT bound, workers of up to one scale-up domain
    (at most MAX_WORKER_CHIPS) times the systems the row's worker spans. The best configuration under the targets is
    then the row's, and its point (the table's figure) lies on the curve."""
    chip, ranks = system.chip, per_die(system)
    precision = best_precision(model, chip)
    spans = systems_spanned_by(row, system)
    domain = min(ranks.scale_up_domain_chips, MAX_WORKER_CHIPS)
    found = search_serving(model, ranks, catalog.engine_on(profile, chip.software_stack), catalog.calibration(chip),
                           precision, isl, osl, tpot_s, ttft_s, max_chips=domain * spans,
                           mtp=catalog.mtp_setting(model, default_mtp(model))[0]).per_package(chip.dies)
    chosen = None
    if row is not None and row.fits and row.configuration is not None:
        chosen = (row.configuration.tokens_per_s_per_user, row.tokens_per_s_per_chip)
    return Frontier(system=system.id, weights=precision.weights, spans=spans, chosen=chosen,
                    points=tuple((c.tokens_per_s_per_user, c.tokens_per_s_per_chip) for c in found.frontier))
