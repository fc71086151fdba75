"""Commands that list the catalog's hardware: chips and systems, each figure with the kind of its source."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from parity import catalog
from parity.cli import cli, emit, format_option, out_option, output_format
from parity.cli.labels import system_label
from parity.dtypes import FORMATS as NUMBER_FORMATS
from parity.hardware import Chip, System
from parity.report.tables import Column, plain, scaled
from parity.uncertainty import chip_calibrated


def chip_row(c: Chip) -> dict[str, object]:
    unpublished = {NUMBER_FORMATS[f].math for f in c.native_rate_unpublished}

    def rate(math: str) -> float | None:
        """The dense peak; None (JSON null, an empty CSV cell, '-' in the table), never 0, where the chip lacks the
        format or no source gives the rate of a native one (native_rate_unpublished says which)."""
        return None if math in unpublished else c.peak(math) or None
    return {"id": c.id, "name": c.name, "vendor": c.vendor, "status": c.status, "year": c.year,
            "bf16_flop_per_s": rate("bf16"), "fp8_flop_per_s": rate("fp8"), "int8_op_per_s": rate("int8"),
            "fp4_flop_per_s": rate("fp4"), "memory_bytes": c.memory_bytes,
            "memory_bytes_per_s": c.memory_bytes_per_s, "scale_up_bytes_per_s": c.scale_up_bytes_per_s,
            "tdp_w": c.tdp_w, "native": sorted(set(c.native) - set(c.native_rate_unpublished)),  # lists, as JSON's
            "native_rate_unpublished": list(c.native_rate_unpublished),
            "calibrated": chip_calibrated(c, catalog.calibration(c)),
            "kernel_figures": catalog.calibration_statement(c, catalog.calibration(c)).verdict,
            "weakest_source": min((p.source.kind for p in c.provenance if p.field not in _PRICES),
                                  key=_confidence_rank, default=""),
            "user_file": c.user_file}


_CONFIDENCE = ("datasheet", "paper", "measured", "derived", "press", "analyst-estimate", "assumption")
_PRICES = ("unit_price_usd",)  # not hardware: a street price is press at best, and would mark every chip that has one
# a figure whose source is below these kinds is marked in the systems table
_FIRM = _CONFIDENCE[:3]
FIRM_MARK = "~"


def _confidence_rank(kind: str) -> int:
    return -_CONFIDENCE.index(kind) if kind in _CONFIDENCE else -len(_CONFIDENCE)


def _kind(item: Chip | System, field: str) -> str:
    record = item.source_of(field)
    return record.source.kind if record is not None else ""


def system_row(s: System) -> dict[str, object]:
    """A system's totals, each with the source kind of the number that sets it: the chip's BF16 and capacity (the
    totals are chips x those), the system's power."""
    return {"id": s.id, "name": s.name, "status": s.status, "chip": s.chip.id, "chips": s.chips,
            "chip_label": system_label(s),
            "scale_up_domain_chips": s.scale_up_domain_chips, "scale_up_topology": s.scale_up_topology,
            "scale_up_bytes_per_s": s.scale_up_bytes_per_s, "scale_out_bytes_per_s": s.scale_out_bytes_per_s,
            "bf16_flop_per_s": s.peak("bf16"), "memory_bytes": s.memory_bytes, "power_w": s.power_w,
            "bf16_source": _kind(s.chip, "peak_flop_per_s.bf16"), "memory_source": _kind(s.chip, "memory_bytes"),
            "power_source": _kind(s, "power_w"), "user_file": s.user_file}


YOURS = " (yours)"  # after the id of a chip or system read from the user's own file, in a table for people


def _yours(rows: list[dict[str, object]], fmt: str, kind: str) -> tuple[list[dict[str, object]], str]:
    """The rows with YOURS after the id of each read from the user's file (for people; CSV and JSON have its
    user_file), and the caption's sentence saying so; '' where there is none."""
    if not any(row["user_file"] for row in rows):
        return rows, ""
    if fmt not in ("csv", "json"):
        rows = [row | {"id": f"{row['id']}{YOURS}"} if row["user_file"] else row for row in rows]
    return rows, (f" '{YOURS.strip()}' after an id: read from your file in {catalog.user_dir() / kind} (user_file "
                  "in --format csv/json; "
                  f"'parity show {kind[:-1].upper()}' names it), not parity's catalog.")


def _marked(row: dict[str, object], key: str, source_key: str, show: Callable[[object], str]) -> str:
    """The figure for people, FIRM_MARK after it where its source is not a datasheet, paper or measurement."""
    return show(row[key]) + ("" if row[source_key] in _FIRM else FIRM_MARK)


@cli.command()
@format_option
@out_option
def chips(fmt: str, out: Path | None) -> None:
    """List the chips in the catalog (dense peaks, memory, links, power)."""
    fmt = output_format(fmt, out)
    rows, yours = _yours([chip_row(c) for c in catalog.chips()], fmt, "chips")
    columns = [Column("id", "chip", plain, "left"), Column("status", "status", plain, "left", wide=True),
               Column("bf16_flop_per_s", "BF16 TFLOP/s", scaled(1e12)),
               Column("fp8_flop_per_s", "FP8 TFLOP/s", scaled(1e12), wide=True),
               Column("fp4_flop_per_s", "FP4 TFLOP/s", scaled(1e12), wide=True),
               Column("memory_bytes", "mem GB", scaled(1e9)), Column("memory_bytes_per_s", "mem TB/s", scaled(1e12)),
               Column("scale_up_bytes_per_s", "scale-up GB/s/dir", scaled(1e9), wide=True),
               Column("tdp_w", "TDP W", scaled(1)),
               Column("weakest_source", "weakest source", plain, "left", wide=True),
               Column("kernel_figures", "kernel figures", plain, "left", wide=True)]
    emit(rows, columns, fmt, title="Chips (dense peaks)", out=out,
         caption="Every number has a source: 'parity show CHIP'. Links are per direction. -: a format the chip "
                 "lacks, or a native one whose rate no source gives (native_rate_unpublished in --format csv/json). "
                 "Weakest source: the least certain source of the chip's hardware numbers (prices not counted). "
                 "Kernel figures (its GEMM rates, attention, HBM bandwidth, collectives, launch cost): fitted on the "
                 "chip's own kernel rows or microbenchmarks, partly (the rest inherited from other chips), inherited "
                 "(from chips of its family tree) or prior (what measured chips achieve); 'parity show CHIP' says "
                 "which, from which chip." + yours)


@cli.command()
@format_option
@out_option
def systems(fmt: str, out: Path | None) -> None:
    """List the systems in the catalog (nodes, racks, supernodes)."""
    fmt = output_format(fmt, out)
    rows, yours = _yours([system_row(s) for s in catalog.systems()], fmt, "systems")
    totals = {"bf16_flop_per_s": ("bf16_source", scaled(1e15)), "memory_bytes": ("memory_source", scaled(1e12)),
              "power_w": ("power_source", scaled(1e3))}
    if fmt not in ("csv", "json"):
        rows = [row | {key: _marked(row, key, source, show) for key, (source, show) in totals.items()} for row in rows]
    columns = [Column("id", "system", plain, "left"), Column("chip_label", "chips", plain, "left", wrap=True),
               Column("chip", "chip", plain, "left", wide=True),
               Column("scale_up_domain_chips", "scale-up domain", plain, wide=True),
               Column("scale_up_topology", "topology", plain, "left", wide=True),
               Column("scale_up_bytes_per_s", "scale-up GB/s/dir", scaled(1e9), wide=True),
               Column("scale_out_bytes_per_s", "scale-out GB/s/dir", scaled(1e9), wide=True),
               Column("bf16_flop_per_s", "BF16 PFLOP/s", scaled(1e15)),
               Column("memory_bytes", "mem TB", scaled(1e12)), Column("power_w", "power kW", scaled(1e3)),
               Column("status", "status", plain, "left", wide=True)]
    emit(rows, columns, fmt, title="Systems", out=out,
         caption=f"{FIRM_MARK}: set by a derived, press, estimated or assumed number (the chip's BF16 or capacity, the "
                 "system's power), not a datasheet, paper or measurement: 'parity show SYSTEM' and its chip." + yours)
