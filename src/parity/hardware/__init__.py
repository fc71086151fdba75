"""Frozen descriptions of chips and systems, with the provenance of every number (no I/O here).

Rates are dense peaks in SI units; links are per chip and per direction. What-ifs are
`dataclasses.replace(chip, memory_bytes_per_s=2 * chip.memory_bytes_per_s)`, or `what_if(...)`,
which also records the change in the provenance.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from parity.dtypes import FORMATS, MATH_RATES, MODEL_MATH_RATES
from parity.errors import InputError, is_real, is_whole
from parity.units import format_si

__all__ = ["ARCHITECTURES", "SOURCE_KINDS", "SPEC_FIELDS", "STATUSES", "TOPOLOGIES", "Source", "Provenance", "Chip",
           "System",
           "Calibration", "per_die", "rank_holder", "one_rank_per_die", "system_text", "chip_text", "package_id",
           "rank_memory_text", "figure_distance", "field_dimension",
           "Family", "what_if", "is_what_if", "MOST_FLEET_CHIPS", "Claim", "ClaimFigure", "CLAIM_MEASURES",
           "KERNEL_OVERHEAD_MAX_S", "MEASURABLE_FIELDS"]

SOURCE_KINDS = ("datasheet", "paper", "press", "analyst-estimate", "measured", "derived", "assumption")
SPEC_FIELDS = ("memory_bytes", "memory_bytes_per_s", "tdp_w")  # with the peak rates: the figures a chip is compared on
STATUSES = ("shipping", "announced", "reported", "roadmap")
TOPOLOGIES = ("switch", "clos", "torus", "mesh", "pcie")
# the longest fixed cost a kernel (launch, tail) a calibration holds [s]: the fit's bound (calibrate.FITTED) and what
# a calibration file may say (catalog); parity's files hold 4-28 us, and a figure past 60 us is more likely another
# unit (ms written for us) than a launch
KERNEL_OVERHEAD_MAX_S = 60e-6
# the fields of a Calibration that microbenchmarks measure (`parity calibrate`: calibrate.FITTED's), per GEMM format
MEASURABLE_FIELDS = ("gemm_efficiency.bf16", "gemm_efficiency.fp8", "memory_efficiency",
                     "grouped_gemm_memory_efficiency", "attention_prefill_efficiency", "attention_decode_efficiency",
                     "stream_efficiency", "kernel_overhead_s")


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    """Where a number comes from: a datasheet, paper, press report, estimate or assumption."""

    id: str
    kind: str
    title: str
    url: str = ""
    date: str = ""

    def __post_init__(self) -> None:
        if self.kind not in SOURCE_KINDS:
            raise ValueError(f"source {self.id!r}: kind must be one of {SOURCE_KINDS}, got {self.kind!r}")
        if not self.title.strip():
            raise ValueError(f"source {self.id!r}: title must not be empty")


# what parity's catalog divides beside a claim's figure (ClaimFigure.catalog): the systems' chips, a chip's BF16 peak,
# the systems' BF16 and FP8 peaks, memory and power
CLAIM_MEASURES = ("chips", "bf16", "system_bf16", "system_fp8", "system_memory", "system_power")


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimFigure:
    """One figure of a headline claim as its source states it: what it measures, the system's and the baseline's
    figures as written ('300 PFLOP/s', '180 PFLOP/s') and in SI [FLOP/s, B, B/s, W or a count], the ratio in the
    source's words ('about 1.7x'; '' where it states none) and what parity's catalog divides for the same ratio
    (one of CLAIM_MEASURES; '' for none)."""

    what: str
    value_text: str
    against_text: str
    value: float
    against: float
    stated: str = ""
    catalog: str = ""

    def __post_init__(self) -> None:
        if not (self.value > 0 and self.against > 0):
            raise ValueError(f"claim figure {self.what!r}: value and against must be > 0, got {self.value_text!r} "
                             f"and {self.against_text!r}")
        if self.catalog and self.catalog not in CLAIM_MEASURES:
            raise ValueError(f"claim figure {self.what!r}: catalog must be one of {CLAIM_MEASURES} or empty, got "
                             f"{self.catalog!r}")

    @property
    def ratio(self) -> float:
        """The ratio the source's own figures give (300 / 180 = 1.67), which its rounded words may not."""
        return self.value / self.against


@dataclass(frozen=True, slots=True, kw_only=True)
class Claim:
    """A headline claim of one system against another (`against`) in its source's own figures, kept apart from the
    catalog's, which may take a figure from another source or count another thing (`differs` says how): quoting
    the catalog's arithmetic as the source's put words in its mouth (report-only tester fixeg 1, 2). `by`: who
    claims it; against_source: where the baseline's figures come from, where not from `source`."""

    system: str
    against: str
    by: str
    source: Source
    figures: tuple[ClaimFigure, ...]
    differs: str
    against_source: Source | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Provenance:
    """One number of a chip or system: the field it fills, the literal quote, and its source.

    basis, divisor: where the quote counts more than the stored value, what ('sparse', 'bidirectional',
    'direction unstated') and the quote / stored ratio (2 for 2:4 sparsity and for both directions).
    """

    field: str
    quoted: str
    value: float | str | tuple[str, ...]
    source: Source
    note: str = ""
    basis: str = ""
    divisor: float = 1.0


# chips in any fleet at most, ten times the largest clusters planned (about a million): a count beyond is a typing
# error or a demand no fleet serves, whether given (--units) or sized from a demand or a power budget
MOST_FLEET_CHIPS = 10**7


def _source_of(provenance: tuple[Provenance, ...], field_name: str) -> Provenance | None:
    return next((record for record in provenance if record.field == field_name), None)


def _positive(owner: str, name: str, value: float) -> None:
    if not (isinstance(value, numbers.Real) and value > 0):
        raise InputError(f"{owner}: {name} must be positive, got {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Chip:
    """One accelerator package as a buyer sees it (a 910C counts its two dies as one chip).

    peak_flop_per_s: dense peak [FLOP/s or OP/s] per math key of `dtypes.MATH_RATES`.
    native: hardware features (formats) the matrix units run natively, e.g. {"bf16", "fp8", "nvfp4"}.
    memory_bytes [B], memory_bytes_per_s [B/s]: device memory capacity and peak bandwidth.
    scale_up_bytes_per_s, scale_out_bytes_per_s [B/s]: per chip, each direction.
    tdp_w [W]: board or module power; die_area_m2 [m^2]: summed logic-die area, if known.
    dies: compute dies in the package (each with its own memory); ranks_per_package: how many ranks
    (devices a framework addresses) this record is a share of (2 for one die of a dual-die package).
    family: architecture family (data/families.toml) whose measured calibration a chip without its own
    inherits; software_stack: the stack its engines run on (cuda, rocm, cann...).
    calibration_chip: the id of the chip whose calibration this chip inherits where it has none of its own (its
    file's `calibration` key); '' where its file names none.
    compute_units: the package's enabled compute units (a CUDA GPU's streaming multiprocessors), if stated:
    what a communication kernel that holds some of them takes from the kernels beside it.
    user_file: the path of the user's own file (PARITY_HOME/chips) it was read from, '' for parity's catalog.
    """

    id: str
    name: str
    vendor: str
    status: str
    year: int | None
    datacenter: bool
    peak_flop_per_s: Mapping[str, float]
    native: frozenset[str]
    memory_bytes: float
    memory_bytes_per_s: float
    scale_up_bytes_per_s: float
    scale_out_bytes_per_s: float
    tdp_w: float
    die_area_m2: float | None = None
    unit_price_usd: float | None = None
    dies: int = 1
    ranks_per_package: int = 1
    family: str = ""
    software_stack: str = ""
    calibration_chip: str = ""
    compute_units: float | None = None
    aliases: tuple[str, ...] = ()
    notes: str = ""
    user_file: str = ""
    provenance: tuple[Provenance, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise InputError(f"chip {self.id}: status must be one of {STATUSES}, got {self.status!r}")
        if self.dies < 1 or self.ranks_per_package < 1:
            raise InputError(f"chip {self.id}: dies and ranks_per_package must be >= 1, got {self.dies}, "
                             f"{self.ranks_per_package}")
        unknown = set(self.peak_flop_per_s) - set(MATH_RATES)
        if unknown:
            raise InputError(f"chip {self.id}: unknown peak keys {sorted(unknown)}; known {sorted(MATH_RATES)}")
        if not any(v > 0 for v in self.peak_flop_per_s.values()):
            raise InputError(f"chip {self.id}: needs at least one positive peak rate")
        for key, value in self.peak_flop_per_s.items():
            if value < 0:
                raise InputError(f"chip {self.id}: peak_flop_per_s[{key!r}] must be >= 0, got {value}")
        _positive(f"chip {self.id}", "memory_bytes", self.memory_bytes)
        _positive(f"chip {self.id}", "memory_bytes_per_s", self.memory_bytes_per_s)
        _positive(f"chip {self.id}", "tdp_w", self.tdp_w)
        if self.scale_up_bytes_per_s < 0 or self.scale_out_bytes_per_s < 0:
            raise InputError(f"chip {self.id}: link bandwidths must be >= 0")
        if self.compute_units is not None and not self.compute_units > 0:
            raise InputError(f"chip {self.id}: compute_units must be > 0, got {self.compute_units}")

    def peak(self, math: str) -> float:
        """Dense peak [FLOP/s] for a math key; 0.0 where the chip has no such unit."""
        return float(self.peak_flop_per_s.get(math, 0.0))

    def runs_natively(self, feature: str, math: str) -> bool:
        """Whether the matrix units run `feature` (a name of the `native` list) at the `math` rate: the chip lists
        it and its rate is published. A listed format with no rate is priced on a fallback, as emulated."""
        return feature in self.native and self.peak(math) > 0

    @property
    def native_rate_unpublished(self) -> tuple[str, ...]:
        """Formats the chip lists as native whose math rate (dtypes.FORMATS) no source gives: parity runs them
        emulated on a fallback rather than invent a rate."""
        return tuple(sorted(f for f in self.native if f in FORMATS and not self.runs_natively(f, FORMATS[f].math)))

    def source_of(self, field_name: str) -> Provenance | None:
        """The provenance record of one field (e.g. 'peak_flop_per_s.bf16'), if any."""
        return _source_of(self.provenance, field_name)

    def source_kinds(self, fields: tuple[str, ...] = ()) -> tuple[str, ...]:
        """The source kinds of `fields` (default SPEC_FIELDS: every peak rate, memory capacity and bandwidth, TDP),
        each once, in SOURCE_KINDS order: ('press', 'derived', 'assumption') on Rubin."""
        wanted = fields or (*(f"peak_flop_per_s.{k}" for k in self.peak_flop_per_s), *SPEC_FIELDS)
        kinds = {r.source.kind for f in wanted if (r := self.source_of(f)) is not None}
        return tuple(k for k in SOURCE_KINDS if k in kinds)


@dataclass(frozen=True, slots=True, kw_only=True)
class System:
    """Chips wired together: a server node, a rack (NVL72) or a supernode (CloudMatrix 384).

    chips: chips in one system; scale_up_domain_chips: how many share the scale-up fabric.
    scale_up_bytes_per_s, scale_out_bytes_per_s [B/s]: per chip, each direction.
    scale_up_latency_s, scale_out_latency_s [s]: one-hop latency of a small message.
    fused_all_to_all_latency_s, fused_all_to_all_peer_latency_s [s]: what a fused MoE dispatch or combine
    inside the scale-up domain costs beyond its hop and its bytes: once per call (routing counts exchanged,
    completion signalled) and once per peer die of the group; 0 where the system states none (see
    cost.collective_s).
    normal_all_to_all_notify_s [s]: what a normal-kernel (DeepEP high-throughput) MoE dispatch or combine
    across scale-out costs beyond its hop and its bytes: the notify kernel before it (the receive counts
    exchanged and global barriers over NVLink and RDMA); 0 where the system states none.
    power_w [W]: the whole system, all-in where a source gives it.
    host_memory_bytes [B], host_link_bytes_per_s [B/s]: per chip, the coherent host CPU memory a chip may
    offload KV cache or weights to and the chip-to-CPU link it reads them over (one direction, the link
    shared by the chips of one CPU); 0 where the system has no such link (offload refused).
    user_file: the path of the user's own file (PARITY_HOME/systems) it was read from, '' for parity's catalog.
    """

    id: str
    name: str
    status: str
    chip: Chip
    chips: int
    scale_up_domain_chips: int
    scale_up_topology: str
    scale_up_bytes_per_s: float
    scale_up_latency_s: float
    scale_out_bytes_per_s: float
    scale_out_latency_s: float
    power_w: float
    fused_all_to_all_latency_s: float = 0.0
    fused_all_to_all_peer_latency_s: float = 0.0
    normal_all_to_all_notify_s: float = 0.0
    host_memory_bytes: float = 0.0
    host_link_bytes_per_s: float = 0.0
    unit_price_usd: float | None = None
    aliases: tuple[str, ...] = ()
    notes: str = ""
    user_file: str = ""
    provenance: tuple[Provenance, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        owner = f"system {self.id}"
        if self.status not in STATUSES:
            raise InputError(f"{owner}: status must be one of {STATUSES}, got {self.status!r}")
        if self.scale_up_topology not in TOPOLOGIES:
            raise InputError(f"{owner}: scale_up_topology must be one of {TOPOLOGIES}, got {self.scale_up_topology!r}")
        if self.chips < 1 or self.scale_up_domain_chips < 1:
            raise InputError(f"{owner}: chips and scale_up_domain_chips must be >= 1")
        if self.chips % self.scale_up_domain_chips and self.scale_up_domain_chips < self.chips:
            raise InputError(f"{owner}: scale_up_domain_chips ({self.scale_up_domain_chips}) must divide "
                             f"chips ({self.chips})")
        _positive(owner, "power_w", self.power_w)
        if min(self.scale_up_latency_s, self.scale_out_latency_s, self.fused_all_to_all_latency_s,
               self.fused_all_to_all_peer_latency_s, self.normal_all_to_all_notify_s) < 0:
            raise InputError(f"{owner}: latencies must be >= 0")
        if min(self.host_memory_bytes, self.host_link_bytes_per_s) < 0:
            raise InputError(f"{owner}: host memory and host link must be >= 0")

    @property
    def memory_bytes(self) -> float:
        """[B] device memory of all chips."""
        return self.chips * self.chip.memory_bytes

    @property
    def memory_bytes_per_s(self) -> float:
        """[B/s] summed device-memory bandwidth."""
        return self.chips * self.chip.memory_bytes_per_s

    def peak(self, math: str) -> float:
        """[FLOP/s] summed dense peak for one math key."""
        return self.chips * self.chip.peak(math)

    @property
    def power_w_per_chip(self) -> float:
        """[W] system power divided by its chips (host, network and cooling shares included)."""
        return self.power_w / self.chips

    def source_of(self, field_name: str) -> Provenance | None:
        """The provenance record of one field (e.g. 'chips', 'power_w', 'unit_price_usd'), if any."""
        return _source_of(self.provenance, field_name)

    def per_kw(self, per_chip: float) -> float:
        """A rate per chip (tokens/s) per kW of the system's power: the whole system's rate over its power."""
        return per_chip / (self.power_w_per_chip / 1e3)


@dataclass(frozen=True, slots=True, kw_only=True)
class Family:
    """An architecture family: its chips share kernels and compilers, so a measured chip's calibration
    carries to its siblings; `parent` is the family a family without measurements inherits from.
    `architecture`: the class of the family's compute cores (ARCHITECTURES), which picks the derived prior of a
    family whose tree holds no measurement; empty: none stated (the prior over every measured family)."""

    id: str
    vendor: str
    stack: str
    parent: str = ""
    note: str = ""
    architecture: str = ""

    def __post_init__(self) -> None:
        if self.architecture and self.architecture not in ARCHITECTURES:
            raise ValueError(f"family {self.id}: architecture must be one of {', '.join(ARCHITECTURES)}, "
                             f"got {self.architecture!r}")


# classes of compute cores. gpu: many SIMT cores, each with tensor/matrix units, programmed kernel by kernel
# (CUDA, ROCm/HIP and their forks); npu: a few large fixed-function matrix engines (systolic arrays, cubes) fed by
# vector units, programmed mostly through the vendor's graph compiler (XLA, CANN, Neuron)
ARCHITECTURES = ("gpu", "npu")


def rank_holder(dies: int) -> str:
    """Whose memory one rank's is: a chip's, or a die's where each die of a multi-die chip is a rank (per_die)."""
    return "die" if dies > 1 else "chip"


def one_rank_per_die(system: System) -> bool:
    """Whether `system` is a catalog system run one rank per die (per_die): a rank is one die of a package."""
    return system.chip.ranks_per_package > 1


def system_text(system: System) -> str:
    """A system as messages name it: its catalog id, and 'cloudmatrix-384, one rank per die' for a system of one
    rank per die (per_die), whose own id ('cloudmatrix-384-per-die') no command knows."""
    return f"{system.id.removesuffix('-per-die')}, one rank per die" if one_rank_per_die(system) else system.id


def package_id(chip: Chip) -> str:
    """The catalog id of `chip`: that of its package where it is one die run as a rank (per_die: the
    'huawei-ascend-910c-die' of an Atlas 800 A3's ranks is 'huawei-ascend-910c')."""
    return chip.id.removesuffix("-die") if chip.ranks_per_package > 1 else chip.id


def figure_distance(a: Chip, b: Chip) -> float:
    """How far apart two chips' figures are, in log: the root of the mean squared log ratio of the peak rates both
    have of the math models run on (dtypes.MODEL_MATH_RATES: bf16, fp8 and narrower, each with a positive rate on
    both) plus the squared log ratio of their memory bandwidths, so that compute and bandwidth weigh alike; inf where
    they share no such rate. Example: an H20 with 4.8 TB/s of HBM against the H20 (the same 148 and 296 TFLOP/s,
    4.0 TB/s): ln(4.8 / 4.0) = 0.1823; against the H200 (989.5 and 1,979 TFLOP/s, 4.8 TB/s): ln(989.5 / 148) =
    1.9000. fp64, fp32, tf32 and int4 rates, which no model runs on, are left out: the H20's 1 TFLOP/s of fp64 against
    a chip stating 100 moved a 380 TFLOP/s bf16 chip from a 0.50/0.50 H20/H200 blend to the H200 alone (regression
    tester fuzzEW 3)."""
    shared = [key for key in MODEL_MATH_RATES if a.peak(key) > 0 and b.peak(key) > 0]
    if not shared:
        return math.inf
    rates = sum(math.log(a.peak(key) / b.peak(key)) ** 2 for key in shared) / len(shared)
    return math.sqrt(rates + math.log(a.memory_bytes_per_s / b.memory_bytes_per_s) ** 2)


def chip_text(chip: Chip) -> str:
    """A chip as messages name it: its catalog id, and 'one die of huawei-ascend-910c' for one die of a multi-die
    package run as a rank (per_die), whose own id ('huawei-ascend-910c-die') no command knows."""
    return f"one die of {package_id(chip)}" if chip.ranks_per_package > 1 else chip.id


def rank_memory_text(system: System) -> str:
    """Whose memory a rank of `system` holds, in words: 'chip', or '64 GB die' on a system of one rank per die
    (per_die), where a reader would otherwise take the package's figure."""
    return f"{system.chip.memory_bytes / 1e9:,.0f} GB die" if one_rank_per_die(system) else "chip"


def per_die(system: System) -> System:
    """The system with each die of its multi-die packages as one rank (one device): a die gets
    1/dies of the package's compute, memory, bandwidth, links and power (the Ascend 910C's two
    910B-class dies each address their own HBM; frameworks see 16 devices on an 8-package node).
    A single-die chip's system is returned unchanged."""
    chip = system.chip
    n = chip.dies
    if n == 1:
        return system
    die = dataclasses.replace(
        chip, id=f"{chip.id}-die", name=f"{chip.name}, one of {n} dies",
        peak_flop_per_s={k: v / n for k, v in chip.peak_flop_per_s.items()}, memory_bytes=chip.memory_bytes / n,
        memory_bytes_per_s=chip.memory_bytes_per_s / n, scale_up_bytes_per_s=chip.scale_up_bytes_per_s / n,
        scale_out_bytes_per_s=chip.scale_out_bytes_per_s / n, tdp_w=chip.tdp_w / n,
        die_area_m2=None if chip.die_area_m2 is None else chip.die_area_m2 / n,
        unit_price_usd=None if chip.unit_price_usd is None else chip.unit_price_usd / n,
        compute_units=None if chip.compute_units is None else chip.compute_units / n,
        dies=1, ranks_per_package=n * chip.ranks_per_package, aliases=())
    return dataclasses.replace(system, id=f"{system.id}-per-die", name=f"{system.name}, one rank per die", chip=die,
                               chips=system.chips * n, scale_up_domain_chips=system.scale_up_domain_chips * n,
                               scale_up_bytes_per_s=system.scale_up_bytes_per_s / n,
                               scale_out_bytes_per_s=system.scale_out_bytes_per_s / n, aliases=())


def what_if(item: Chip | System, note: str, **changes: object) -> Chip | System:
    """A variant of a chip or system with some fields changed, the change recorded as provenance.

    Example: what_if(chip, "2x bandwidth", memory_bytes_per_s=2 * chip.memory_bytes_per_s). Fields are the
    record's own, in SI units (memory_bytes, not GB); a field it lacks, a value of another type, a number that is
    not finite and one that breaks an invariant of the record are refused (InputError, one line).
    """
    owner = f"{'chip' if isinstance(item, Chip) else 'system'} {item.id}"
    for name, value in changes.items():
        _check_change(item, owner, name, value)
    source = Source(id="what-if", kind="assumption", title=f"what-if: {note}")
    records = [r for r in item.provenance if r.field.split(".")[0] not in changes]
    for name, value in changes.items():
        if isinstance(value, Mapping):
            records += _what_if_entries(item, name, value, source, note)
            continue
        shown = value if isinstance(value, (int, float, str)) else str(value)
        records.append(Provenance(field=name, quoted=_what_if_quoted(name, shown), value=shown, source=source,
                                  note=note))
    try:
        return dataclasses.replace(item, provenance=tuple(records), **changes)
    except (TypeError, ValueError) as err:  # an invariant of the record (InputError), or a comparison of odd types
        raise InputError(f"what_if {owner}: {err}" if not str(err).startswith(owner) else str(err)) from err


def _what_if_entries(item: Chip | System, name: str, value: Mapping[str, Any], source: Source,
                     note: str) -> list[Provenance]:
    """The records of a what-if's rate table, one per key as the catalog's ('peak_flop_per_s.bf16'), so that
    source_of finds each figure the what-if set (a record of the whole table under 'peak_flop_per_s' left the
    rates unsourced, and captions read the what-if's rates as the catalog's: report-only tester fuzzED 1): a rate
    it changes or adds is its assumption, one it keeps keeps its source; a table that changes nothing sets every
    rate, as a field set to its own value does."""
    old = getattr(item, name)
    changed = {key for key, rate in value.items() if old.get(key) != rate} or set(value)
    kept = [r for r in item.provenance if r.field.startswith(f"{name}.")
            and r.field.partition(".")[2] in set(value) - changed]
    return kept + [Provenance(field=f"{name}.{key}", quoted=_what_if_quoted(name, value[key]), value=value[key],
                              source=source, note=note) for key in value if key in changed]


# a field's unit from its name's ending, longest first (memory_bytes_per_s is a rate, not bytes)
_UNIT_ENDINGS = (("_flop_per_s", "flop_per_s"), ("_bytes_per_s", "bytes_per_s"), ("_bytes", "bytes"), ("_m2", "m2"),
                 ("_w", "w"), ("_s", "s"))


def field_dimension(name: str) -> str | None:
    """The unit (units.parse's dimension) a Chip or System field holds, read from its name's ending, as STYLE's 'the
    unit in every name' makes it: 'memory_bytes_per_s' -> 'bytes_per_s', 'peak_flop_per_s.bf16' (one rate of the
    table) -> 'flop_per_s', 'tdp_w' -> 'w'; None for a count or a price ('chips', 'unit_price_usd')."""
    base = name.partition(".")[0]
    return next((unit for ending, unit in _UNIT_ENDINGS if base.endswith(ending)), None)


def _what_if_quoted(name: str, value: object) -> str:
    """A what-if's value as `parity show` quotes a catalog figure, with its unit: memory_bytes 1.41e11 -> '141 GB',
    memory_bytes_per_s 5.76e12 -> '5.76 TB/s' (six significant figures, so the figure set is the figure shown); a
    count, price or anything else as written ('132', '41250')."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    unit = field_dimension(name)
    return format_si(float(value), unit, digits=6) if unit else f"{value:g}"


def is_what_if(item: Chip | System) -> bool:
    """Whether what_if changed a field of `item` (a `[[variant]]`'s or the Python API's): nothing measured it, and it
    keeps the catalog id, and so the calibration, of the item it varies."""
    return any(r.source.id == "what-if" for r in item.provenance)


def _check_change(item: Chip | System, owner: str, name: str, value: object) -> None:
    """Refuse a what_if change no record can hold: a field `item` lacks (with the nearest name, or every field), a
    value not of the field's kind (a whole number for a count, a number for a rate), a number that is not finite."""
    kinds = {f.name: str(f.type) for f in dataclasses.fields(item) if f.name not in ("provenance", "user_file")}
    if name not in kinds:
        near = difflib.get_close_matches(name, kinds, n=1)
        raise InputError(f"what_if {owner}: no field {name!r}" + (f" (did you mean {near[0]}?" if near else " (")
                         + f"{' ' if near else ''}fields: {', '.join(kinds)}; SI units)")
    kind = kinds[name]
    if value is None and "None" in kind:
        return
    if kind.startswith("Mapping") and not isinstance(value, Mapping):
        raise InputError(f"what_if {owner}: {name} must be a mapping of math key -> rate [FLOP/s], got {value!r}")
    numbers_in = list(value.values()) if isinstance(value, Mapping) else [value]
    if kind.startswith(("int", "float", "Mapping")):
        whole = kind.startswith("int")
        for number in numbers_in:
            if not (is_whole(number) if whole else is_real(number)):
                raise InputError(f"what_if {owner}: {name} must be {'a whole number' if whole else 'a number'}"
                                 f"{' (SI units)' if not whole else ''}, got {value!r}")
            if not math.isfinite(number):
                raise InputError(f"what_if {owner}: {name} must be a finite number, got {value!r}")
    elif kind == "str" and not isinstance(value, str):
        raise InputError(f"what_if {owner}: {name} must be a string, got {value!r}")
    elif kind == "Chip" and not isinstance(value, Chip):
        raise InputError(f"what_if {owner}: chip must be a Chip (parity.catalog.chip(NAME)), got {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Calibration:
    """Achieved fractions of a chip's peaks, measured or assumed, kept apart from the datasheet.

    gemm_efficiency: large-GEMM math rate over dense peak, per math key ("default" for the rest).
    memory_efficiency: streaming bandwidth over peak; grouped_gemm_memory_efficiency: the same for
    expert GEMMs with few tokens per expert; attention_*: flash-attention prefill math and decode
    KV-read bandwidth fractions; attention_decode_math_efficiency: the math rate of decode attention where
    it is compute-bound (absorbed MLA: 128 heads share one latent KV), measured on MLA decode kernels
    (FlashMLA), 0 where none is measured (attention_prefill_efficiency stands in); stream_efficiency: norms and other element-wise ops;
    kernel_overhead_s [s]: fixed cost per kernel (launch, tail) as measured outside CUDA graphs;
    emulation_efficiency: rate of a format run on a wider math unit (dequantise on the fly);
    collective_efficiency: achieved over link bandwidth for large collectives.
    grouped_gemm_efficiency: the math rate of routed-expert (grouped) GEMMs over dense peak per math key, at
    many tokens per expert, where a grouped-GEMM figure of the chip's family measures it (empty: the dense GEMM's
    gemm_efficiency stands in); grouped_gemm_half_tokens: tokens per expert at which that rate is half of it
    (rate x m / (m + half) at m tokens per expert: tiles of few rows, 0: no dependence).
    collective_latency_factor: a small collective's time through this chip's vendor library and fabric over the
    reference's (the H200: NCCL on NVLink) in the same test; it multiplies the system's link latency where
    collectives go through the library (1: the reference's, or no measurement).
    user_file: the path of the user's own file (in PARITY_HOME) it was read from, '' for parity's: every basis
    names it, so no prediction passes off a user's measurement as parity's.
    measured: False for priors (the chip has no measurement behind these numbers).
    family: the chip family a family-level file calibrates (chip is then "*"); rows: the ids of the
    measured rows a fitted file used (never scored); basis: how the calibration reached the chip it
    prices (measured on it, inherited through its family, or a prior), stated in every prediction.
    measured_fields: of a microbenchmark fit (`parity calibrate`), each MEASURABLE_FIELDS entry that measured points
    fitted, with their count; the others keep the values of `unmeasured_from` (a calibration's id). Empty where the
    file records none (parity's own, fitted before the record or on published rows): it reads as measured whole.
    relative_to: of a fit on published kernel figures (calibrate.family), the calibration's id it moved from: the
    figures its rows do not measure are that one's, kept or moved by the fit's ratios ('' for any other file).
    blend: of a calibration blended from several (catalog.blend: a chip of the user's between its family's nearest
    chips), each part as in effect and its weight, heaviest first (relative_to then names the heaviest); () for any
    other.
    """

    id: str
    chip: str
    date: str
    method: str
    measured: bool
    gemm_efficiency: Mapping[str, float]
    memory_efficiency: float
    grouped_gemm_memory_efficiency: float
    attention_prefill_efficiency: float
    attention_decode_efficiency: float
    stream_efficiency: float
    kernel_overhead_s: float
    emulation_efficiency: float
    collective_efficiency: float
    attention_decode_math_efficiency: float = 0.0
    collective_latency_factor: float = 1.0
    grouped_gemm_efficiency: Mapping[str, float] = field(default_factory=dict)
    grouped_gemm_half_tokens: float = 0.0
    source: str = ""
    family: str = ""
    rows: tuple[str, ...] = ()
    measured_chips: tuple[str, ...] = ()  # chips of a family file whose own figures are among its rows
    basis: str = ""
    user_file: str = ""
    measured_fields: Mapping[str, int] = field(default_factory=dict)
    unmeasured_from: str = ""
    relative_to: str = ""
    blend: tuple[tuple[Calibration, float], ...] = field(default=(), compare=False, repr=False)
    points: tuple[Mapping[str, float | str], ...] = field(default=(), compare=False, repr=False)

    @property
    def label(self) -> str:
        """'calibration: BASIS': how a prediction's notes name the calibration that priced the chip and how the chip
        reached it (its basis), or its id where no basis is said."""
        return f"calibration: {self.basis or self.id}"

    def __post_init__(self) -> None:
        fractions = dict(self.gemm_efficiency)
        fractions |= {name: getattr(self, name) for name in (
            "memory_efficiency", "grouped_gemm_memory_efficiency", "attention_prefill_efficiency",
            "attention_decode_efficiency", "stream_efficiency", "emulation_efficiency", "collective_efficiency")}
        for name, value in fractions.items():
            if not 0.0 < value <= 1.0:
                raise ValueError(f"calibration {self.id}: {name} must be in (0, 1], got {value}")
        if not 0.0 <= self.attention_decode_math_efficiency <= 1.0:
            raise ValueError(f"calibration {self.id}: attention_decode_math_efficiency must be in [0, 1], "
                             f"got {self.attention_decode_math_efficiency}")
        for name, value in self.grouped_gemm_efficiency.items():
            if not 0.0 < value <= 1.0:
                raise ValueError(f"calibration {self.id}: grouped_gemm_efficiency {name} must be in (0, 1], got {value}")
        if not self.grouped_gemm_half_tokens >= 0:  # NaN too
            raise ValueError(f"calibration {self.id}: grouped_gemm_half_tokens must be >= 0, "
                             f"got {self.grouped_gemm_half_tokens}")
        if "default" not in self.gemm_efficiency:
            raise ValueError(f"calibration {self.id}: gemm_efficiency needs a 'default' entry")
        if self.kernel_overhead_s < 0:
            raise ValueError(f"calibration {self.id}: kernel_overhead_s must be >= 0, got {self.kernel_overhead_s}")
        if unknown := sorted(set(self.measured_fields) - set(MEASURABLE_FIELDS)):
            raise ValueError(f"calibration {self.id}: measured_fields holds {', '.join(unknown)}, not among "
                             f"{', '.join(MEASURABLE_FIELDS)}")
        if not self.collective_latency_factor > 0:  # NaN too
            raise ValueError(f"calibration {self.id}: collective_latency_factor must be > 0, "
                             f"got {self.collective_latency_factor}")

    @property
    def unmeasured_core(self) -> tuple[str, ...]:
        """What predictions rest on most that this measured calibration's points did not measure: GEMM rates (the
        math of every layer's projections) and memory streaming (every decode step's weight reads), both measured by
        GEMM points (one-token GEMMs stream their weights; where memory streaming's fit goes to a bound and is held,
        they price as well with the value it keeps), so ('GEMM', 'memory streaming') where no GEMM format was
        measured; () where it records no measured_fields (measured whole, or not measured at all)."""
        if not self.measured or not self.measured_fields:
            return ()
        gemm = any(name.startswith("gemm_efficiency.") for name in self.measured_fields)
        return () if gemm else ("GEMM", "memory streaming")

    @property
    def attention_decode_math(self) -> float:
        """Math rate fraction of compute-bound decode attention: measured where stated, else prefill's."""
        return self.attention_decode_math_efficiency or self.attention_prefill_efficiency

    def gemm(self, math: str) -> float:
        return float(self.gemm_efficiency.get(math, self.gemm_efficiency["default"]))

    def grouped_gemm(self, math: str, tokens_per_expert: Any = 0.0) -> Any:
        """Math rate fraction of a grouped expert GEMM with `tokens_per_expert` rows per expert (array-like): the
        measured grouped rate x m / (m + half) where one is stated for this math key, else the dense GEMM's."""
        if math not in self.grouped_gemm_efficiency:
            return self.gemm(math)
        rate = float(self.grouped_gemm_efficiency[math])
        if not self.grouped_gemm_half_tokens:
            return rate
        m = np.maximum(np.asarray(tokens_per_expert, dtype=float), 1e-9)
        return rate * m / (m + self.grouped_gemm_half_tokens)
