"""`FleetPlan`: one chip kind's fleet for a demand, a chip count or a power budget (sizes, power, cost), and the
seconds of a day a daily demand is counted over."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from parity.flags import Flag, texts
from parity.search import Candidate


SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True, slots=True, kw_only=True)
class FleetPlan:
    """One chip kind serving a demand (or a production volume): sizes, power and cost.

    tokens_per_s_per_chip: output tokens/s per chip in the best configuration under the targets;
    served_tokens_per_s_per_chip: the same counted as the demand counts (`count`: 'total', prompt + output, or
    'output'); both None where no configuration serves, as is clients_per_worker.
    chips: the chips deployed, those of the whole systems: needed for the demand at its peak with spare capacity,
    in whole deployment units (aggregated workers, or decode workers with whole prefill workers) rounded up to
    whole systems, else the whole systems the chips given (units) fill or a power budget runs; units_given: the
    chips given (--units; None without), of which those past the whole systems are not deployed (a part of a
    system runs no worker of its scale-up domain, and is neither bought nor powered alone: the note says how many),
    so that no cost or power is read over chips that serve nothing; systems: the whole systems; power_w: the
    chips' share of their systems' power as the catalog states it (power_source), cost_usd: their share of the
    price (price_source): a system's where the catalog prices the system (CloudMatrix 384, CPUs and optics
    included), else a chip's (None without either); idle chips of whole systems are included in both (NaN power
    and None cost where no system is whole).
    served_tokens_per_day: what the whole deployment units in the whole systems serve (other chips serve nothing).
    demand_tokens_per_s: the demand sized for, None where none was given.
    flags: where the best configuration lies outside what parity was checked on (uncertainty.case_flags, as
    `compare` gives them); the note names the ones that matter most in a few words (uncertainty.flag_note).
    """

    chip: str
    system: str
    model: str
    weights: str
    kv_cache: str  # the KV cache's format (FP8 where the chip has FP8, as search and compare price it)
    configuration: str
    tokens_per_s_per_chip: float | None
    served_tokens_per_s_per_chip: float | None
    count: str  # what served_* and demand_* count: 'total' (prompt + output tokens) or 'output'
    demand_tokens_per_s: float | None  # None where no demand was given (--units or --power-mw alone)
    chips: int | float  # whole chips deployed; inf where no configuration serves (as systems)
    units_given: int | None = None  # the chips given (--units), those past the whole systems not deployed
    # the chips the demand needs at the low and high ends of the per-chip rate's 80% interval (compare's
    # tokens_per_s_per_chip_low/high), before any limit; None without a demand or stored intervals
    chips_low: int | None = None
    chips_high: int | None = None
    systems: int | float
    power_w: float
    cost_usd: float | None
    price_source: str
    power_source: str = ""
    clients_per_worker: int | None = None  # the best configuration's load (per decode worker when disaggregated)
    served_tokens_per_day: float | None = None
    # what the same units serve at the low and high ends of the per-chip rate's 80% interval; None without intervals
    served_tokens_per_day_low: float | None = None
    served_tokens_per_day_high: float | None = None
    served_share: float | None = None
    # the steady-state model's mean TTFT and TPOT [s] of the configuration sized on; None where none serves
    ttft_s: float | None = None
    tpot_s: float | None = None
    note: str = ""
    flags: tuple[Flag, ...] = ()
    assumptions: tuple[str, ...] = field(default=())
    # the configuration itself, for a serve line or a simulation of it (not a record's field: to_dict leaves it out)
    candidate: Candidate | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "candidate"} | {
            "flags": texts(self.flags)}
