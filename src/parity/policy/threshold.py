"""The fastest variant of a chip, its peak rates scaled by one factor, that stays just under a rule's line, and the
shipping chips measured on their own that it does not outrun."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from parity import catalog
from parity.errors import PolicyError
from parity.hardware import Chip, what_if
from parity.policy.metrics import (JAN2026_DRAM_BYTES_PER_S, JAN2026_TPP, MM2_PER_M2, PD_A2, PD_B1, PD_B2, TPP_A1,
                                   TPP_B1, TPP_FLOOR, _classify, jan2026_zone, performance_density, tpp)
from parity.policy.rules import RULES, _fmt_pd, licence_letter
from parity.uncertainty import chip_calibrated

THRESHOLD_RULES = ("3a090", "3a090.a", "jan2026")


@dataclass(frozen=True, slots=True, kw_only=True)
class Threshold:
    """The fastest variant of a chip, all its peak rates scaled by one factor, just under a rule's line; the
    variant keeps the original's id (so its calibration) and is told apart by its name and provenance.

    rate_factor: variant peak / original peak (> 1 when the original had headroom);
    memory_factor: variant / original memory bandwidth (< 1 only for the jan2026 DRAM limb);
    binding: the constraint that sets the factor;
    letter: why a licence letter still requires a licence for the variant (an NVIDIA chip outside 3A090 that keeps
    the H20's memory or interconnect bandwidth: the line of the rule does not lift the letter), or may (its verdict
    unknown below both bandwidths), '' where none does.
    """

    rule: str
    original: Chip
    chip: Chip
    rate_factor: float
    memory_factor: float
    tpp: float
    performance_density: float | None
    eccn_3a090: str | None
    binding: str
    description: str
    letter: str = ""


def _ceiling(lines: list[tuple[float, str]]) -> tuple[float, str]:
    """The lowest of several TPP ceilings and the constraint that sets it."""
    return min(lines, key=lambda line: line[0])


def _tpp_ceiling(chip: Chip, rule: str, tpp_margin: float, pd_margin: float) -> tuple[float, str]:
    """Highest TPP that stays under `rule` with the chip's die area fixed (PD = TPP / area), and why.

    3a090 (88 FR 73458, a data-centre part is outside only by one of): TPP < 1600; TPP < 2400 and
    PD < 3.2; TPP < 4800 and PD < 1.6. Not data-centre: TPP < 4800 (Note 2). 3a090.a: below 3A090.a,
    so at most 3A090.b (NAC for data-centre parts): TPP < 1600, or TPP < 4800 and PD < 5.92.
    jan2026 (91 FR 1684): TPP < 21,000.
    """
    area_mm2 = None if chip.die_area_m2 is None else chip.die_area_m2 * MM2_PER_M2
    if rule == "jan2026":
        return JAN2026_TPP - tpp_margin, "TPP < 21,000 (91 FR 1684)"
    if not chip.datacenter:
        return TPP_A1 - tpp_margin, "TPP < 4800 (Note 2: not designed or marketed for data centres)"
    floor = (TPP_FLOOR - tpp_margin, "TPP < 1600" + ("" if area_mm2 else " (die area unknown, so PD cannot help)"))
    if area_mm2 is None:
        return floor
    if rule == "3a090.a":
        routes = [[floor], [(TPP_A1 - tpp_margin, "TPP < 4800"), ((PD_A2 - pd_margin) * area_mm2, "PD < 5.92")]]
    else:
        routes = [[floor],
                  [(TPP_B1 - tpp_margin, "TPP < 2400"), ((PD_B2 - pd_margin) * area_mm2, "PD < 3.2")],
                  [(TPP_A1 - tpp_margin, "TPP < 4800"), ((PD_B1 - pd_margin) * area_mm2, "PD < 1.6")]]
    best = max((_ceiling(route), route) for route in routes)
    (value, binding), route = best
    others = [name for _, name in route if name != binding]
    return value, binding + (f" (with {', '.join(others)})" if others else "")


def at_threshold(chip: Chip, rule: str = "3a090", *, tf32_bits: int = 0, tpp_margin: float = 1.0,
                 pd_margin: float = 0.01, bandwidth_margin_bytes_per_s: float = 1e9) -> Threshold:
    """The chip with every dense peak scaled by one factor so TPP sits just under `rule`'s line.

    rule: '3a090' (outside 3A090 altogether, the H20 route), '3a090.a' (below 3A090.a: 3A090.b at most)
    or 'jan2026' (inside the 91 FR 1684 case-by-case line; memory bandwidth is also cut to just under
    6,500 GB/s [B/s] if needed). TPP and PD scale linearly with the factor; die area stays fixed.
    tpp_margin [TPP] and pd_margin [TPP/mm^2] set how far under each line the variant sits.
    """
    key = rule.strip().lower()
    if key not in THRESHOLD_RULES:
        raise PolicyError(f"rule must be one of {THRESHOLD_RULES}, got {rule!r}")
    for name, margin in (("tpp_margin", tpp_margin), ("pd_margin", pd_margin),
                         ("bandwidth_margin_bytes_per_s", bandwidth_margin_bytes_per_s)):
        if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not 0 <= margin < math.inf:
            raise PolicyError(f"{name} must be a finite number >= 0, got {margin!r}")
    original = tpp(chip, tf32_bits).tpp
    ceiling, binding = _tpp_ceiling(chip, key, tpp_margin, pd_margin)
    if not ceiling > 0:
        raise PolicyError(f"at_threshold({chip.id!r}, {key!r}): the margins put the line at TPP {ceiling:,.1f}, "
                          "below any chip (tpp_margin, pd_margin too large)")
    factor = ceiling / original
    changes: dict[str, object] = {"peak_flop_per_s": {k: v * factor for k, v in chip.peak_flop_per_s.items()}}
    memory_factor = 1.0
    if key == "jan2026" and chip.memory_bytes_per_s >= JAN2026_DRAM_BYTES_PER_S:
        bandwidth = JAN2026_DRAM_BYTES_PER_S - bandwidth_margin_bytes_per_s
        memory_factor = bandwidth / chip.memory_bytes_per_s
        changes["memory_bytes_per_s"] = bandwidth
        binding += "; DRAM bandwidth < 6,500 GB/s"
    note = f"all peak rates x{factor:.4f} to sit just under {key} ({binding})"
    if memory_factor != 1.0:
        note += f"; memory bandwidth x{memory_factor:.4f}"
    variant = what_if(chip, note, **changes)
    assert isinstance(variant, Chip)
    # the variant keeps the chip's id, as sweep's variants do, so it keeps the chip's calibration: its measured
    # efficiencies are fractions of peak and apply to the scaled peaks (a new id would fall back to the family's
    # calibration, and a chip scaled x1.01 would lose 10% of its throughput to another chip's fractions)
    variant = replace(variant, name=f"{chip.name} at the {key} line")
    value = tpp(variant, tf32_bits).tpp
    pd = performance_density(variant, tf32_bits)
    eccn, _, _ = _classify(variant, tf32_bits)
    under = {"3a090": eccn is None, "3a090.a": eccn is None or not eccn.startswith("3A090.a"),
             "jan2026": jan2026_zone(value, variant.memory_bytes_per_s)}[key]
    if not under:
        raise PolicyError(f"at_threshold({chip.id!r}, {key!r}): variant with TPP {value:,.1f} is not under the line")
    # outside 3A090 a letter may still bind (the H20's: an NVIDIA chip keeping the H20's bandwidths), as fleet and
    # compare --rule read it, so the variant under the line is said to need a licence where it does
    letter = licence_letter(variant, tf32_bits)
    said = f"still needs a US licence under {letter.rule}: {letter.reason}" if letter else ""
    unknown = [v for v in (r.verdict(variant, tf32_bits) for r in RULES if r.named) if v.status == "unknown"]
    said = said or (f"{unknown[0].rule} may still require a licence (its verdict is unknown): {unknown[0].reason}"
                    if unknown else "")
    description = (f"{chip.name}: {note}; TPP {original:,.0f} -> {value:,.0f}, PD {_fmt_pd(pd)}, "
                   f"ECCN {eccn or 'outside 3A090'}" + (f"; {said}" if said else ""))
    return Threshold(rule=key, original=chip, chip=variant, rate_factor=factor, memory_factor=memory_factor,
                     tpp=value, performance_density=pd, eccn_3a090=eccn, binding=binding, description=description,
                     letter=said)


# a chip's figures besides its peak rates that serving reads, which measured_within compares
_SERVING_FIELDS = ("memory_bytes", "memory_bytes_per_s", "scale_up_bytes_per_s", "scale_out_bytes_per_s")


def measured_within(variant: Chip, math_keys: Sequence[str]) -> tuple[Chip, ...]:
    """The shipping catalog chips, other than the one `variant` scales (its id), calibrated on measurements of their
    own (uncertainty.chip_calibrated) and with no figure above the variant's among the peak rates of `math_keys` (those
    its serving runs on), memory capacity and bandwidth, and links. Each is priced on its own measurements where the
    variant runs the original's calibration on scaled rates: the H200 at the 3a090 line (646 tok/s/chip on
    DeepSeek-R1) beside the H20 (720), under it on each of these."""
    return tuple(c for c in catalog.chips() if c.status == "shipping" and c.id != variant.id
                 and all(c.peak(k) <= variant.peak(k) for k in math_keys)
                 and all(getattr(c, f) <= getattr(variant, f) for f in _SERVING_FIELDS)
                 and chip_calibrated(c, catalog.calibration(c)))
