"""What a chip or system file may state beyond its keys and units: known format names, a rate for each unit a native
format runs on, figures within reach of what real accelerators span (the catalog's chips), and a system that draws at
least its chips' power and at most a few times the most per chip of the catalog's systems. A figure outside is
refused, where a unit prefix slipped, with the figure it likely meant."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from parity import units
from parity.catalog.files import close_matches
from parity.dtypes import CHIP_NATIVE, FORMATS, MATH_RATES, format_named
from parity.errors import CatalogError, ParityError
from parity.hardware import Chip, Provenance, System, field_dimension

__all__ = ["NATIVE_NAMES", "SPAN_MARGIN", "LINK_MARGIN", "LEAST_LINK_BYTES_PER_S", "POWER_MARGIN", "MOST_OVER_BF16",
           "Span", "spans", "power_span", "check_rates", "check_span", "check_power", "check_power_share"]

# the names a chip's [native] list takes: each format's unit (dtypes.FORMATS' features: bf16, fp8, mxfp8, nvfp4 ...)
# and the math keys no format runs on, which a chip lists for their peak rates (fp64, tf32, int4)
NATIVE_NAMES = tuple(dict.fromkeys([*(f.feature for f in FORMATS.values()),
                                    *(k for k in MATH_RATES if all(f.math != k for f in FORMATS.values()))]))
# a file's figure stays within this factor of the catalog's least and greatest of it: the catalog spans parts from the
# 2020 A100 to 2026's announced Rubin, whose HBM bandwidths (their files: 2,039 GB/s and 22 TB/s) differ elevenfold
# in six years, so a part a generation past either end is a few times beyond it at most, while a unit prefix typed
# wrong is off by 1,000 at least. Parts unlike any in the catalog (a wafer-scale engine, an SRAM-only chip) may fall
# outside: their figures are not the HBM-and-links chip parity's model prices
SPAN_MARGIN = 100.0
# a link's figure stays within a tighter factor: the catalog's scale-up links span 62x (32 GB/s a direction over
# PCIe to 2 TB/s) and its scale-out 121x (1.65 GB/s to 200 GB/s), so at 100x their windows span 620,000x and more, and
# a GB typed MB (900 MB/s for 900 GB/s) lands inside. A link is its lanes times a lane's rate, which doubles a
# generation (PCIe 4 -> 5 -> 6, NVLink 4 -> 5): 10x is three generations past either end, and leaves a scale-up
# window (3.2 GB/s to 20 TB/s) that no catalog figure 1,000x off falls into
LINK_MARGIN = 10.0
# and no accelerator's link of the catalog's era runs under 1 GB/s a direction: 10 Gb Ethernet carries 1.25 GB/s,
# PCIe 3.0 x16 16 GB/s, and the slowest of the catalog's (the TPU v4's data-center network share) 1.65 GB/s; a
# scale-out figure typed in Mb/s for Gb/s (400 Mb/s: 50 MB/s) falls below it, where 1/10 of the least would not
LEAST_LINK_BYTES_PER_S = 1e9
_LINKS = ("scale_up_bytes_per_s", "scale_out_bytes_per_s")
# a system's power per chip stays within this factor of the greatest of the catalog's systems (vera-rubin-nvl144's
# 3.0 kW): a chip's share is its TDP (1.8 kW at most, Rubin's) and its share of host, network and fans, which the
# catalog's systems draw at 1.7-2.0x their chips' TDP; a single chip in a whole server (a 1 kW chip in a 4 kW box)
# stays well within 10x, while a kW typed MW is 1,000x
POWER_MARGIN = 10.0
# a narrower format's rate over the bf16 rate at most: halving a multiplier's operands fits about four in its area
# (area grows as the square of the width), so fp8 runs at most ~4x and fp4 ~16x bf16; the catalog's greatest is 6x
# (the B300's FP4 over its cut BF16). Beyond 50x is a prefix typed wrong in one of the two
MOST_OVER_BF16 = 50.0
# the file key each checked Chip field is read from, as a refusal names it (peak_flop_per_s.KEY is peak.KEY)
_FILE_KEYS = {"memory_bytes": "memory.capacity", "memory_bytes_per_s": "memory.bandwidth",
              "scale_up_bytes_per_s": "interconnect.scale_up", "scale_out_bytes_per_s": "interconnect.scale_out",
              "tdp_w": "power.tdp"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Span:
    """The least and greatest of one figure over the catalog's chips, and the chips that set them."""

    least: float
    least_chip: str
    greatest: float
    greatest_chip: str


def _file_key(field: str) -> str:
    return field.replace("peak_flop_per_s.", "peak.") if field.startswith("peak_flop_per_s.") else _FILE_KEYS[field]


def spans(chips: Iterable[Chip]) -> dict[str, Span]:
    """Each checked figure's span over `chips` (parity's catalog), by its provenance field (memory_bytes_per_s,
    peak_flop_per_s.fp8 ...); a figure no chip states (a link a chip leaves out) has none."""
    found: dict[str, list[tuple[float, str]]] = {}
    for chip in chips:
        for record in chip.provenance:
            if (record.field in _FILE_KEYS or record.field.startswith("peak_flop_per_s.")) and record.value:
                found.setdefault(record.field, []).append((float(record.value), chip.id))  # type: ignore[arg-type]
    return {field: Span(least=min(values)[0], least_chip=min(values)[1], greatest=max(values)[0],
                        greatest_chip=max(values)[1]) for field, values in found.items()}


def check_span(records: Iterable[Provenance], known: Mapping[str, Span], where: str) -> None:
    """Refuse a figure of `records` (a chip's or a system's) outside SPAN_MARGIN of the catalog's span of it (a link's
    outside LINK_MARGIN, or under LEAST_LINK_BYTES_PER_S), naming the file key, the figure as quoted and the prefix
    that brings it within ("3.7 B/s" where TB/s was meant)."""
    for record in records:
        span = known.get(record.field)
        if span is None or not isinstance(record.value, int | float):
            continue
        link = record.field in _LINKS
        margin = LINK_MARGIN if link else SPAN_MARGIN
        floor = LEAST_LINK_BYTES_PER_S if link else 0.0
        value, low, high = float(record.value), max(span.least / margin, floor), span.greatest * margin
        if low <= value <= high:
            continue
        dimension = str(field_dimension(record.field))  # every checked field names its unit
        if value < floor:
            said = (f"{units.format_si(value, dimension)} a direction, under the {units.format_si(floor, dimension)} "
                    f"no accelerator's link falls below (10 Gb Ethernet: 1.25 GB/s; the slowest of parity's chips, "
                    f"{span.least_chip}'s: {units.format_si(span.least, dimension)})")
        elif value < low:
            said = (f"{_times(value / span.least)} x the least of parity's chips ({span.least_chip}'s "
                    f"{units.format_si(span.least, dimension)}), under 1/{margin:g} of it")
        else:
            said = (f"{_times(value / span.greatest)} x the greatest of parity's chips ({span.greatest_chip}'s "
                    f"{units.format_si(span.greatest, dimension)}), beyond {margin:g} times it")
        raise CatalogError(f"{where}: {_file_key(record.field)} = {record.quoted!r} is {said}"
                           f"{_slip(value, low, high, record, dimension)}")


def _slip(value: float, low: float, high: float, record: Provenance | None, dimension: str) -> str:
    """'; a unit slip? e.g. '3.7 TB/s'' where a power of 1,000 brings `value` within [low, high] (the figure as its
    file quotes it, its prefix moved), else ''."""
    prefix = units.unit_slip(value, low, high)
    if prefix == 1 or not low <= value * prefix <= high:
        return ""
    divisor = record.divisor if record else 1.0
    hint = (units.reprefixed(record.quoted, prefix) if record else "") or units.format_si(value * prefix * divisor,
                                                                                          dimension, 6)
    return f"; a unit slip? e.g. {hint!r}"


def _times(ratio: float) -> str:
    """A ratio as a refusal gives it: '4.8e-12', '0.0031', '168', '1,529'."""
    return f"{ratio:,.0f}" if ratio >= 10 else f"{ratio:.2g}"


def check_rates(chip: Chip, where: str) -> None:
    """Refuse a [native] name no format or unit has (fp8e4m3, fp7: fp8 then ran emulated, unsaid), a peak rate for a
    unit no native format runs on (it changes nothing), a narrower format's rate beyond MOST_OVER_BF16 times the bf16
    rate, and a chip with no bf16 math, natively or on fp32 (parity runs activations and attention in bf16)."""
    for name in sorted(chip.native):
        if name not in NATIVE_NAMES:
            raise CatalogError(f"{where}: native lists {name!r}, no format's unit; {_meant(name)}known: "
                               f"{', '.join(NATIVE_NAMES)}")
    for key in chip.peak_flop_per_s:
        on_unit = list(dict.fromkeys(f.feature for f in FORMATS.values() if f.math == key))
        if on_unit and key not in chip.native and not set(on_unit) & chip.native:
            raise CatalogError(f"{where}: peak.{key} is given but native lists no format that runs on it "
                               f"({' or '.join(on_unit)}): add the chip's to [native] value, or leave the rate out "
                               "(a rate no native format runs on changes nothing)")
    bf16 = chip.peak("bf16")
    for key, rate in chip.peak_flop_per_s.items():
        if MATH_RATES[key] < MATH_RATES["bf16"] and bf16 and rate > MOST_OVER_BF16 * bf16:
            raise CatalogError(f"{where}: peak.{key} = {_quoted(chip, key)!r} is {_times(rate / bf16)} x peak.bf16 = "
                               f"{_quoted(chip, 'bf16')!r}, beyond the {MOST_OVER_BF16:g} x a narrower format can "
                               "reach: a unit slip in one of them?")
    fmt = FORMATS["bf16"]
    if not any(chip.runs_natively(unit, math) for unit, math in ((fmt.feature, fmt.math),
                                                                 *((f, f) for f in fmt.fallbacks))):
        raise CatalogError(f"{where}: the chip has no bf16 math, and parity runs every model's activations and "
                           "attention in bf16: give [peak] bf16 (its BF16/FP16 matrix rate) with bf16 in [native], or "
                           "fp32 with fp32 in [native] to emulate it on")


def _meant(name: str) -> str:
    """'did you mean fp8? ' for a native name an alias or a near spelling gives, else ''."""
    try:
        hints = [" or ".join(CHIP_NATIVE.get(name.strip().lower(), ())) or format_named(name).feature]
    except ParityError:
        hints = close_matches(name, NATIVE_NAMES, n=1)
    return f"did you mean {hints[0]}? " if hints else ""


def _quoted(chip: Chip, key: str) -> str:
    record = chip.source_of(f"peak_flop_per_s.{key}")
    return record.quoted if record else units.format_si(chip.peak(key), "flop_per_s")


def check_power(system: System, where: str) -> None:
    """Refuse a system power under its chips' TDP summed: a system draws its chips' power and more (host, network,
    cooling: the catalog's systems 1.7-2x it), so a figure under it is a slip ('1 kW' for 8 x 900 W), and per-kW
    figures would balloon."""
    least = system.chips * system.chip.tdp_w
    if system.power_w < least:
        record = system.source_of("power_w")
        quoted = record.quoted if record else units.format_si(system.power_w, "w")
        raise CatalogError(f"{where}: power.system = {quoted!r} is under its chips' TDP ({system.chips} x "
                           f"{units.format_si(system.chip.tdp_w, 'w')} of {system.chip.id} = "
                           f"{units.format_si(least, 'w')}): a system draws its chips' power and its host's, "
                           "network's and cooling's beside")


def power_span(systems: Iterable[System]) -> Span:
    """The least and greatest power per chip [W] over `systems` (parity's catalog), and the systems that set them."""
    shares = [(s.power_w / s.chips, s.id) for s in systems]
    return Span(least=min(shares)[0], least_chip=min(shares)[1], greatest=max(shares)[0],
                greatest_chip=max(shares)[1])


def check_power_share(system: System, known: Span, where: str) -> None:
    """Refuse a system power beyond POWER_MARGIN times the greatest of the catalog's systems per chip (known:
    power_span), a prefix typed wrong ('5.824 MW' for an 8-chip node), with the figure it likely meant."""
    share = system.power_w / system.chips
    if share <= known.greatest * POWER_MARGIN:
        return
    record = system.source_of("power_w")
    quoted = record.quoted if record else units.format_si(system.power_w, "w")
    low, high = system.chips * system.chip.tdp_w, system.chips * known.greatest * POWER_MARGIN
    raise CatalogError(f"{where}: power.system = {quoted!r} is {units.format_si(share, 'w')} a chip ({system.chips} "
                       f"chips), {_times(share / known.greatest)} x the greatest of parity's systems "
                       f"({known.greatest_chip}'s {units.format_si(known.greatest, 'w')} a chip), beyond "
                       f"{POWER_MARGIN:g} times it{_slip(system.power_w, low, high, record, 'w')}")
