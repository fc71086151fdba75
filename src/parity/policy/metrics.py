"""A chip's export-control metrics, TPP and performance density, and the ECCN 3A090 class they give, with the
lines of 88 FR 73458 and 91 FR 1684."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from parity.dtypes import MATH_RATES
from parity.errors import PolicyError
from parity.hardware import Chip

TERA = 1e12         # TOPS and 'MacTOPS' count tera (10^12) operations per second (88 FR 73458, 3A090 Tech. Note 2)
MM2_PER_M2 = 1e6    # 'applicable die area' is measured in mm^2 (88 FR 73458)
TF32_BITS = (0, 19, 32)   # 0: TF32 not counted (default); 19 significant bits; 32-bit storage word (C.6 item 1)

# 3A090 (88 FR 73458): TPP is a plain number (TOPS x bits); PD is TPP per mm^2 of applicable die area.
TPP_A1, TPP_B1, TPP_FLOOR = 4800.0, 2400.0, 1600.0
PD_A2, PD_B2, PD_B1 = 5.92, 3.2, 1.6
OCT2022_IO_BYTES_PER_S = 600e9       # 87 FR 62186: aggregate bidirectional I/O >= 600 Gbyte/s
JAN2026_TPP = 21_000.0               # 91 FR 1684: TPP < 21,000 ...
JAN2026_DRAM_BYTES_PER_S = 6_500e9   # ... and 'total DRAM bandwidth' < 6,500 GB/s


@dataclass(frozen=True, slots=True, kw_only=True)
class Reading:
    """Another reading of one of TPP's unsettled points that gives a chip another TPP.

    point: how the TPP it differs from reads it, and why in doubt ('TF32 not counted (no BIS ruling)'); other: this
    reading ('TF32 counted at 32 bits'); tpp, tied: what this reading gives; chip, tf32_bits: the chip and TF32 bit length as this
    reading counts them, so every rule can be checked under it.
    """

    point: str
    other: str
    tpp: float
    tied: tuple[str, ...]
    chip: Chip
    tf32_bits: int

    @property
    def note(self) -> str:
        return f"{self.point}; with {self.other}, TPP is {self.tpp:,.0f}, set by {'/'.join(self.tied)}"


@dataclass(frozen=True, slots=True, kw_only=True)
class TppResult:
    """'Total processing performance' of a chip: max over its dense peaks of TOPS x bit length.

    tpp: the plain number the rule defines (88 FR 73458: 2 x MacTOPS x bit length; 2 x MacTOPS is the
    datasheet TOPS). format: the math key that sets it (the widest when several tie); tied: every key
    that reaches it. readings: the other readings of TPP's unsettled points (TF32, FP6) that change the result;
    note: what they give.
    """

    tpp: float
    format: str
    tied: tuple[str, ...]
    tf32_bits: int
    readings: tuple[Reading, ...] = ()

    @property
    def note(self) -> str:
        return "; ".join(r.note for r in self.readings)


def _bits(key: str, tf32_bits: int) -> int:
    return tf32_bits if key == "tf32" else MATH_RATES[key]


def _max_tpp(chip: Chip, tf32_bits: int) -> tuple[float, tuple[str, ...]]:
    scores = {key: chip.peak(key) / TERA * _bits(key, tf32_bits) for key in MATH_RATES}
    best = max(scores.values())
    return best, tuple(k for k, v in scores.items() if v > 0 and math.isclose(v, best, rel_tol=1e-9))


def _readings(chip: Chip, tf32_bits: int, value: float) -> tuple[Reading, ...]:
    """The other readings of TPP's two unsettled points that move this chip's TPP off `value`: TF32's bit length
    (C.6 item 1; no BIS ruling), and FP6, counted at its 6 bits as the rule's 'bit length' reads, though some
    published TPP tables count only FP8 and FP4 (MI355X: 60,396 with FP6, 40,264 without)."""
    point = ("TF32 not counted" if tf32_bits == 0 else f"TF32 counted at {tf32_bits} bits") + " (no BIS ruling)"
    found = [(point, "TF32 counted at 32 bits" if bits else "TF32 not counted", chip, bits)
             for bits in (32, 0) if bits != tf32_bits]  # each other TF32 reading (at 19 bits: 32 and not counted)
    if chip.peak("fp6") > 0:
        without = replace(chip, peak_flop_per_s={k: v for k, v in chip.peak_flop_per_s.items() if k != "fp6"})
        found.append(("FP6 counted at 6 bits (some TPP tables count only FP8 and FP4)", "FP6 left out", without,
                      tf32_bits))
    readings = []
    for point, other, read, bits in found:
        other_tpp, tied = _max_tpp(read, bits)
        if not math.isclose(other_tpp, value, rel_tol=1e-9):
            readings.append(Reading(point=point, other=other, tpp=other_tpp, tied=tied, chip=read, tf32_bits=bits))
    return tuple(readings)


def tpp(chip: Chip, tf32_bits: int = 0) -> TppResult:
    """TPP = max_p (dense peak_p [TOP/s] x bits_p), 88 FR 73458 3A090 Technical Note 2; dense rates only
    (Technical Note 3). Bits: fp64 64, fp32 32, bf16/fp16 16, fp8/int8 8, fp6 6, fp4/int4 4; TF32 is
    counted at `tf32_bits` (0 = not counted, the default; no BIS ruling exists)."""
    if tf32_bits not in TF32_BITS:
        raise PolicyError(f"tf32_bits must be one of {TF32_BITS}, got {tf32_bits!r}")
    value, tied = _max_tpp(chip, tf32_bits)
    return TppResult(tpp=value, format=tied[0], tied=tied, tf32_bits=tf32_bits,
                     readings=_readings(chip, tf32_bits, value))


# the performance density's key in output records, with its unit: TPP per mm^2 of logic die
PD_KEY = "performance_density_tpp_per_mm2"


def performance_density(chip: Chip, tf32_bits: int = 0) -> float | None:
    """PD [TPP per mm^2] = TPP / 'applicable die area' (88 FR 73458): all FinFET/GAA logic dies of the
    package, HBM excluded. None when the chip's die area is unknown."""
    if chip.die_area_m2 is None:
        return None
    return tpp(chip, tf32_bits).tpp / (chip.die_area_m2 * MM2_PER_M2)


def eccn_3a090(tpp: float, pd: float, datacenter: bool) -> str | None:
    """The 3A090 paragraph an IC falls under, or None (88 FR 73458; hardware_notes C.2, in this order):
    Note 2 (not data-centre and TPP < 4800: outside); a.1 TPP >= 4800; a.2 TPP >= 1600 and PD >= 5.92;
    b.1 2400 <= TPP < 4800 and 1.6 <= PD < 5.92; b.2 TPP >= 1600 and 3.2 <= PD < 5.92."""
    if not datacenter and tpp < TPP_A1:
        return None
    if tpp >= TPP_A1:
        return "3A090.a.1"
    if tpp >= TPP_FLOOR and pd >= PD_A2:
        return "3A090.a.2"
    if TPP_B1 <= tpp < TPP_A1 and PD_B1 <= pd < PD_A2:
        return "3A090.b.1"
    if tpp >= TPP_FLOOR and PD_B2 <= pd < PD_A2:
        return "3A090.b.2"
    return None


def paragraphs_3a090(tpp: float, pd: float | None) -> tuple[str, ...]:
    """Every 3A090 paragraph whose parameters are met (Note 2 aside); the class is the first of them.
    With PD unknown only a.1 can be tested."""
    tests = {"3A090.a.1": tpp >= TPP_A1}
    if pd is not None:
        tests |= {"3A090.a.2": tpp >= TPP_FLOOR and pd >= PD_A2,
                  "3A090.b.1": TPP_B1 <= tpp < TPP_A1 and PD_B1 <= pd < PD_A2,
                  "3A090.b.2": tpp >= TPP_FLOOR and PD_B2 <= pd < PD_A2}
    return tuple(name for name, met in tests.items() if met)


def possible_3a090(tpp: float, datacenter: bool) -> tuple[str | None, ...]:
    """The classes an IC could have when its die area (so PD) is unknown: one PD from each band."""
    found = [eccn_3a090(tpp, pd, datacenter) for pd in (PD_A2, PD_B2, PD_B1, 0.0)]
    return tuple(dict.fromkeys(found))


def license_exception_nac(eccn: str | None, tpp: float, datacenter: bool) -> bool:
    """License Exception NAC (88 FR 73458): yes for 3A090.a if not designed or marketed for data centres
    and TPP >= 4800; yes for 3A090.b if designed or marketed for data centres."""
    if eccn is None:
        return False
    if eccn.startswith("3A090.a"):
        return not datacenter and tpp >= TPP_A1
    return datacenter


def jan2026_zone(tpp: float, dram_bytes_per_s: float) -> bool:
    """Inside the case-by-case review line of 91 FR 1684: TPP < 21,000 and total DRAM bandwidth
    [B/s] < 6,500 GB/s (e.g. H200, MI325X)."""
    return tpp < JAN2026_TPP and dram_bytes_per_s < JAN2026_DRAM_BYTES_PER_S


def _classify(chip: Chip, tf32_bits: int) -> tuple[str | None, tuple[str | None, ...], float | None]:
    """(class or 'unknown', possible classes, PD) for a chip; 'unknown' when PD is needed but missing."""
    value = tpp(chip, tf32_bits).tpp
    pd = performance_density(chip, tf32_bits)
    if pd is not None:
        return eccn_3a090(value, pd, chip.datacenter), (eccn_3a090(value, pd, chip.datacenter),), pd
    possible = possible_3a090(value, chip.datacenter)
    return (possible[0] if len(possible) == 1 else "unknown"), possible, None
