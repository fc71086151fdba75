"""Chips, systems and architecture families: frozen descriptions whose numbers carry their provenance, and how far
two chips' figures are apart."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field

from parity.dtypes import FORMATS, MATH_RATES, MODEL_MATH_RATES
from parity.errors import InputError
from parity.hardware.sources import SOURCE_KINDS, Provenance

SPEC_FIELDS = ("memory_bytes", "memory_bytes_per_s", "tdp_w")  # with the peak rates: the figures a chip is compared on
STATUSES = ("shipping", "announced", "reported", "roadmap")
TOPOLOGIES = ("switch", "clos", "torus", "mesh", "pcie")


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
