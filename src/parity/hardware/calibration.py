"""Calibrations: the achieved fractions of a chip's peaks, measured or assumed, kept apart from the datasheet."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# the longest fixed cost a kernel (launch, tail) a calibration holds [s]: the fit's bound (calibrate.FITTED) and what
# a calibration file may say (catalog); parity's files hold 4-28 us, and a figure past 60 us is more likely another
# unit (ms written for us) than a launch
KERNEL_OVERHEAD_MAX_S = 60e-6
# the fields of a Calibration that microbenchmarks measure (`parity calibrate`: calibrate.FITTED's), per GEMM format
MEASURABLE_FIELDS = ("gemm_efficiency.bf16", "gemm_efficiency.fp8", "memory_efficiency",
                     "grouped_gemm_memory_efficiency", "attention_prefill_efficiency", "attention_decode_efficiency",
                     "stream_efficiency", "kernel_overhead_s")



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
