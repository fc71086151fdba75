"""What every derivation shares: the record of one re-derived ratio (`Derived`), the solver that finds a ratio
meeting a published figure, and a scenario with its version kernels at other ratios."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

from parity.predict.scenario import Scenario


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Derived:
    """One published figure's ratio re-derived: `entries` the (engine, since, stack, op) of every entry that
    stores it, `ratio` unrounded, `figures` the intermediate figures the derivation text quotes."""

    name: str
    entries: tuple[tuple[str, str, str, str], ...]
    ratio: float
    figures: str


def _solve(f: Callable[[float], float], target: float, low: float = 1.0, high: float = 20.0) -> float:
    """The x in [low, high] where the monotonic f(x) meets target, by regula falsi with the Illinois step (f is
    near linear in a time ratio: a few evaluations where bisection takes twenty), to 1e-5 of target or a bracket
    1e-4 wide. The default bracket is EngineKernel's bounds on a ratio above 1."""
    f_low, f_high = f(low) - target, f(high) - target
    if f_low * f_high > 0:
        raise ValueError(f"no ratio in [{low}, {high}] meets {target:.6g}: {f_low + target:.6g} to {f_high + target:.6g}")
    side = 0
    for _ in range(60):
        x = high - f_high * (high - low) / (f_high - f_low)
        fx = f(x) - target
        if abs(fx) <= 1e-5 * abs(target) or high - low <= 1e-4:
            return x
        if fx * f_high > 0:
            high, f_high = x, fx
            f_low = f_low / 2 if side == -1 else f_low
            side = -1
        else:
            low, f_low = x, fx
            f_high = f_high / 2 if side == 1 else f_high
            side = 1
    return x


def with_ratio(s: Scenario, ratios: Mapping[str, float] | float | None) -> Scenario:
    """The scenario's version kernels at other time ratios: one per op (ops not named dropped), one for every
    op, or None for the calibrated kernels (no entries)."""
    if ratios is None:
        return dataclasses.replace(s, kernels=())
    if isinstance(ratios, float | int):
        return dataclasses.replace(s, kernels=tuple(dataclasses.replace(k, time_ratio=float(ratios))
                                                    for k in s.kernels))
    return dataclasses.replace(s, kernels=tuple(dataclasses.replace(k, time_ratio=ratios[k.op])
                                                for k in s.kernels if k.op in ratios))
