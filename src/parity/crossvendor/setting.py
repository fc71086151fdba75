"""A setting is what prices a published row: each chip's calibration and each (engine, stack)'s profile; the stored
one, the one before families and stacks, and which rows the stored fits used."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from parity import catalog
from parity.engine import EngineProfile, measured_stack_prior
from parity.hardware import Calibration, package_id
from parity.predict import Scenario

__all__ = ["metric_kind", "Setting", "stored_setting", "before_setting", "fitted_row_ids", "scored_rows"]


def metric_kind(metric: str) -> str:
    """decode (output tokens/s per worker or per user, TPOT) or prefill (prefill tokens/s, TTFT)."""
    return "prefill" if metric in ("prefill_tokens_per_s_per_chip", "ttft_s") else "decode"


@dataclass(frozen=True, slots=True, kw_only=True)
class Setting:
    """Calibrations by chip id and engine profiles by (engine id, stack); absent: the catalog's."""

    name: str
    calibrations: Mapping[str, Calibration]
    engines: Mapping[tuple[str, str], EngineProfile]
    # the fitted stack profiles an (engine, stack) without one of its own is priced from (measured_stack_prior);
    # None: the catalog's, as the scenario was built
    stacks: tuple[EngineProfile, ...] | None = None

    def apply(self, scenario: Scenario) -> Scenario:
        chip = scenario.system.chip
        # a system run one rank per die (an Atlas 800 A3's rows) has a die for its chip: the package's calibration
        # is the die's (left out as the package's: the A3's decode rows kept the Da Vinci family everywhere before)
        cal = self.calibrations.get(package_id(chip))
        base = catalog.engine(scenario.engine.base or scenario.engine.id)
        profile = self.engines.get((base.id, chip.software_stack))
        if profile is None and self.stacks is not None:
            profile = measured_stack_prior(base, chip.software_stack, self.stacks)
        out = scenario if cal is None else dataclasses.replace(scenario, calibration=cal)
        return out if profile is None else out.with_engine(profile)


def stored_setting() -> Setting:
    """The catalog as it stands (family calibrations, stack profiles)."""
    return Setting(name="stored", calibrations={}, engines={})


def before_setting() -> Setting:
    """What parity did before families and stacks: the generic prior on every chip but the H200, and the
    CUDA-fitted profiles on every stack."""
    generic = catalog.prior_calibration()
    cals = {c.id: generic for c in catalog.chips() if not catalog.calibration(c).basis.startswith(
        "measured on this chip (")}
    engines = {(p.base, p.stack): catalog.engine(p.base) for p in catalog.engines() if p.base}
    return Setting(name="before", calibrations=cals, engines=engines, stacks=())


def fitted_row_ids() -> frozenset[str]:
    """Every measured row some stored fit used: the rows named by family calibrations and stack profiles."""
    return frozenset(r for c in catalog.calibrations() for r in c.rows) | frozenset(
        r for p in catalog.engines() for r in p.rows)


def scored_rows(rows: Iterable[Mapping[str, str]]) -> list[Mapping[str, str]]:
    """The rows no stored fit used (neither named by a fitted file nor in the calibration split)."""
    fitted = fitted_row_ids()
    return [r for r in rows if r["case_id"] not in fitted and r.get("split") != "calibration"]
