"""What a layout search returns: each configuration with what it delivers (Candidate), and the search's summary
(SearchResult): its Pareto frontier, its best under the targets, and why none meets them."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

from parity.plan import Layout
from parity.units import duration_text, whole


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    """One configuration: mode, layouts, load, and what it delivers (per chip and per user).

    layout: the aggregated worker's layout, or the prefill workers' when disaggregated (then
    decode_layout is the decode workers'); concurrency: clients per (decode) worker.
    """

    mode: str
    layout: Layout
    decode_layout: Layout | None
    concurrency: float
    chips: float
    prefill_workers_per_decode_worker: float
    ttft_s: float
    prefill_prompts_per_s: float = 0.0  # prompts/s one worker that prefills takes in full steps (aggregated or prefill)
    decode_workers: int = 1  # disaggregated: the decode workers priced, with ratio x as many (whole) prefill workers
    tpot_s: float
    tokens_per_s_per_chip: float
    tokens_per_s_per_user: float
    meets_targets: bool

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["layout"], out["decode_layout"] = str(self.layout), str(self.decode_layout or "")
        out["concurrency"], out["chips"] = whole(self.concurrency), whole(self.chips)  # counts where whole
        return out

    def worker_chips(self) -> tuple[float, float]:
        """Chips of one (decode) worker and of one prefill worker (0 aggregated), counted as `chips` counts them
        (packages where it was searched a rank per die)."""
        prefill = self.prefill_workers_per_decode_worker * self.layout.chips if self.decode_layout else 0.0
        unit = self.chips / ((self.decode_layout or self.layout).chips + prefill)
        return (self.decode_layout or self.layout).chips * unit, (self.layout.chips * unit if prefill else 0.0)

    def prefill_workers(self, units: int) -> int:
        """Whole prefill workers `units` decode workers need at the sized ratio, never fewer (fewer would take
        prompts faster than they prefill them); 0 aggregated."""
        return math.ceil(units * self.prefill_workers_per_decode_worker - 1e-9) if self.decode_layout else 0

    def unit_chips(self, units: int) -> float:
        """Chips of `units` whole deployment units: aggregated workers, or decode workers with their whole prefill
        workers (prefill_workers). `chips` is one unit's share, a decode worker with a fraction of a prefill one."""
        decode, prefill = self.worker_chips()
        return units * decode + self.prefill_workers(units) * prefill

    def units_within(self, chips: float) -> int:
        """The most whole deployment units (unit_chips) `chips` chips hold."""
        units = math.floor(chips / self.chips + 1e-9)  # each unit takes at least its share, `chips`
        while units > 0 and self.unit_chips(units) > chips + 1e-9:
            units -= 1
        return units

    def per_package(self, dies: int) -> Candidate:
        """This configuration, searched one rank per die (hardware.per_die), counted per package of `dies` dies:
        tokens/s per package and packages per worker (layouts still count dies)."""
        if dies == 1:
            return self
        return replace(self, tokens_per_s_per_chip=self.tokens_per_s_per_chip * dies,
                                   chips=self.chips / dies)


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchResult:
    """Every evaluated configuration's summary, the Pareto frontier (of every configuration that fits, joined by
    that of the ones meeting the targets, which holds the best) and the best under the targets; `meeting`: every
    configuration meeting the targets, where the search was asked for them (percentile targets rank them)."""

    evaluated: int
    feasible: int
    frontier: tuple[Candidate, ...]
    best: Candidate | None
    meeting: tuple[Candidate, ...] = ()
    targets: dict[str, float] = field(default_factory=dict)
    assumptions: tuple[str, ...] = ()
    fastest_tpot_s: float = float("inf")  # the lowest TPOT [s] of any configuration that fits
    fastest_ttft_s: float = float("inf")  # the lowest TTFT [s] any configuration that fits reaches

    def per_package(self, dies: int) -> SearchResult:
        """This search, run one rank per die (hardware.per_die), with every configuration counted per package of
        `dies` dies (Candidate.per_package)."""
        if dies == 1:
            return self
        return replace(self, frontier=tuple(c.per_package(dies) for c in self.frontier),
                       best=self.best.per_package(dies) if self.best else None,
                       meeting=tuple(c.per_package(dies) for c in self.meeting))

    def binding(self) -> str:
        """Why no configuration meets the targets: the constraint that binds, with the closest figure."""
        tpot_s, ttft_s = self.targets.get("tpot_s", float("inf")), self.targets.get("ttft_s", float("inf"))
        if not self.feasible:
            return f"none of {self.evaluated:,} configurations fits in memory"
        if self.fastest_tpot_s > tpot_s:
            return (f"the TPOT target {duration_text(tpot_s)} binds: the fastest configuration that fits reaches "
                    f"{duration_text(self.fastest_tpot_s)}")
        if self.fastest_ttft_s > ttft_s:
            return (f"the TTFT target {duration_text(ttft_s)} binds: the fastest configuration that fits reaches "
                    f"{duration_text(self.fastest_ttft_s)}")
        return (f"the TPOT ({duration_text(tpot_s)}) and TTFT ({duration_text(ttft_s)}) targets bind together: "
                "each alone is met, never both")
