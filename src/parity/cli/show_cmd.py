"""`parity show NAME`: every number of one chip or system (or a what-if of a --variants file) with its source,
and how its calibration was reached."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from parity import catalog, units
from parity.cli import cli, emit, format_option, out_option, output_format
from parity.cli.chips_cmd import _kind
from parity.cli.files import refuse_overwrite
from parity.cli.variants import variant_named, variant_systems, variants_option
from parity.errors import CatalogError, ParityError
from parity.hardware import Calibration, Chip, Provenance, System, is_what_if
from parity.report.tables import Column, plain
from parity.sweep import PRICED_BY
from parity.uncertainty import calibration_kind, chip_calibrated


def _provenance_rows(item: Chip | System, for_people: bool) -> list[dict[str, object]]:
    """One row per number; for people a quote that counts more than the stored value says so and gives the stored
    figure in the quote's unit ('4.5 PFLOP/s sparse = 2.25 dense'), so no width hides the halving."""
    return [{"field": p.field, "value": p.value, "as_quoted": _quote_for_people(p) if for_people else p.quoted,
             "source_kind": p.source.kind, "source": p.source.title, "url": p.source.url, "note": p.note}
            for p in item.provenance]


_STORED_AS = {"bidirectional": "per direction", "direction unstated": "per direction"}


def _quote_for_people(p: Provenance) -> str:
    """'4.5 PFLOP/s sparse = 2.25 dense', '896 GB/s bidirectional = 448 per direction'; the quote alone where it is
    the stored value."""
    if not p.basis:
        return p.quoted
    number = p.quoted.partition(" ")[0]
    stored = f"{units.read_number(number) / p.divisor:,.6g}"
    return f"{p.quoted} {p.basis} = {stored} {_STORED_AS.get(p.basis, 'dense')}"


def _stored_text(value: object) -> str:
    """A stored value for people: a number in six figures, a list of names as 'as quoted' writes it ('fp64, fp32'),
    not Python's tuple ("('fp64', 'fp32')")."""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (tuple, list)):
        return ", ".join(str(v) for v in value)
    return str(value)


# the totals 'parity systems' prints: (name, the chip's field, dimension, the chip's figure)
_TOTALS: tuple[tuple[str, str, str, Callable[[Chip], float]], ...] = (
    ("bf16_flop_per_s", "peak_flop_per_s.bf16", "flop_per_s", lambda c: c.peak("bf16")),
    ("memory_bytes", "memory_bytes", "bytes", lambda c: c.memory_bytes))


def _total_rows(s: System) -> list[dict[str, object]]:
    """The totals 'parity systems' prints, derived: chips x the chip's figure ('384 x 800 TFLOP/s'), with the kinds of
    the two sources behind them."""
    rows = []
    for name, field, dimension, figure in _TOTALS:
        per_chip = figure(s.chip)
        total = s.chips * per_chip
        quoted = f"{s.chips:,} x {units.format_si(per_chip, dimension, 4)} = {units.format_si(total, dimension, 4)}"
        shown = "the chip's rows above" if is_what_if(s.chip) else f"'parity show {s.chip.id}'"  # a variant's
        rows.append({"field": f"system {name}", "value": total, "as_quoted": quoted, "source_kind": "derived",
                     "source": f"chips ({_kind(s, 'chips')}) x the chip's {field} ({_kind(s.chip, field)}): {shown}",
                     "url": "", "note": "what 'parity systems' prints"})
    return rows


def _names_model(name: str) -> bool:
    """Whether `name` is a catalog model's, which `show` does not describe (a path is none: show reads no file)."""
    if name.endswith(".json") or Path(name).expanduser().exists():
        return False
    try:
        catalog.model(name)
    except ParityError:
        return False
    return True


@cli.command()
@click.argument("name")
@format_option
@out_option
@variants_option("`parity show NAME --variants FILE` shows the variant NAME: its chip's figures, each one it "
                 "changes as its assumption, then its system's (prefixed 'system ')")
def show(name: str, fmt: str, out: Path | None, variants_path: Path | None) -> None:
    """Every number of one chip or system with its source (a what-if's of a --variants file too)."""
    refuse_overwrite([("--variants", variants_path)], [("--out", out)])
    variant = variant_named(variant_systems(variants_path, "parity show", tuple(PRICED_BY)), name, variants_path)
    item = variant or _catalog_item(name)
    fmt = output_format(fmt, out)
    rows = _provenance_rows(item, fmt not in ("csv", "json"))
    if variant is not None:  # the what-if's changes are its chip's (its power and links its system's too)
        rows = _provenance_rows(variant.chip, fmt not in ("csv", "json")) + [
            {**row, "field": f"system {row['field']}"} for row in rows] + _total_rows(variant)
    elif isinstance(item, System):
        rows = [{"field": "chip", "value": item.chip.id, "as_quoted": item.chip.id, "source_kind": "",
                 "source": "see 'parity show " + item.chip.id + "'", "url": "", "note": ""}] + rows + _total_rows(item)
    the_chip = item.chip if isinstance(item, System) else item
    cal = catalog.calibration(the_chip)
    stated = {"family": the_chip.family or "-", "software stack": the_chip.software_stack or "-",
              # a basis that opens with the id already names it ('derived-prior-npu: the kunlun-xpu family ...')
              "calibration": cal.basis if cal.basis.startswith(f"{cal.id}:") else f"{cal.id}: {cal.basis}",
              "calibrated": _calibrated_text(the_chip, cal)}
    lines = [{"field": key, "value": value, "as_quoted": value, "source_kind": "", "source": source, "url": "",
              "note": ""} for (key, value), source in zip(stated.items(), _stated_sources(item, the_chip, cal))]
    # a chip or system of the user's own file (PARITY_HOME/chips, /systems): its numbers are the file's, not parity's
    files = {"file": item.user_file, "chip file": the_chip.user_file if the_chip is not item else ""}
    lines = [{"field": key, "value": f, "as_quoted": f, "source_kind": "", "source": "your file, not parity's "
              "catalog", "url": "", "note": ""} for key, f in files.items() if f] + lines
    columns = [Column("field", "field", plain, "left"), Column("as_quoted", "as quoted", plain, "left"),
               Column("value", "stored (SI)", _stored_text, "left", wrap=True, wide=2),
               Column("source_kind", "kind", plain, "left", wide=1), Column("source", "source", plain, "left"),
               Column("note", "note", plain, "left", wide=3)]
    payload = {"id": item.id, "name": item.name, "status": item.status, "notes": item.notes,
               "user_file": item.user_file,
               "family": the_chip.family, "software_stack": the_chip.software_stack,
               "calibration": {"id": cal.id, "basis": cal.basis, "measured": cal.measured, "rows": list(cal.rows),
                               "date": cal.date, "user_file": cal.user_file},
               "calibrated": chip_calibrated(the_chip, cal) and not is_what_if(the_chip),
               "kernel_figures": _figures_payload(the_chip, cal), "numbers": rows}
    emit(lines + rows, columns, fmt, title=f"{item.name} ({item.id}, {item.status})", caption=item.notes,
         payload=payload, out=out)


def _stated_sources(item: Chip | System, the_chip: Chip, cal: Calibration) -> list[str]:
    """Where show's family, software stack, calibration and calibrated rows come from: the family and the stack are
    the chip file's keys (its family defined in families.toml); the calibration is a file of data/calibration, or the
    user's own (PARITY_HOME, named by its path), the chip's own or reached through the chip file's calibration key
    where it names the lender, else through its family where it has one. A chip of no family with a stack of its own
    read 'families.toml; data/calibration' on all four (report-only tester fuzzER 3)."""
    chip_file = (("your chip file" if isinstance(item, System) else "your file") if the_chip.user_file
                 else f"chips/{the_chip.id}.toml")
    reached = ([] if cal.chip == the_chip.id else [f"{chip_file} (calibration key)"] if the_chip.calibration_chip
               else ["families.toml"] if the_chip.family else [])
    calibration_source = "; ".join([*reached, cal.user_file or "data/calibration"])
    return [f"{chip_file}; families.toml" if the_chip.family else chip_file, chip_file, calibration_source,
            calibration_source]


def _figures_payload(chip: Chip, cal: Calibration) -> dict[str, object]:
    """The chip's kernel figures as `show --format json` gives them: the verdict (fitted, partly, inherited, prior)
    and each figure's source (catalog.calibration_statement)."""
    statement = catalog.calibration_statement(chip, cal)
    return {"verdict": statement.verdict, "text": statement.text,
            "figures": [{"figure": f.figure, "how": f.how, "calibration": f.calibration, "chips": list(f.chips),
                         "rows": list(f.rows), "points": f.points, "moved": f.moved,
                         "dropped": list(f.dropped)} for f in statement.figures]}


def _catalog_item(name: str) -> Chip | System:
    """The catalog system or chip `name` names; a refusal says where a model's or a what-if's figures are shown."""
    systems = catalog.systems()  # a broken file of them refused here, not taken for an unknown name
    try:
        return catalog.resolve(name, systems, "system")
    except CatalogError:
        try:
            return catalog.chip(name)
        except CatalogError:
            if _names_model(name):
                raise CatalogError(f"unknown system or chip {name!r} (a model: 'parity model {name}')") from None
            try:
                catalog.system(name)  # refuses it, suggesting the closest systems and chips alike
            except CatalogError as err:  # a caption's 'parity show CHIP' may name a what-if (report-only fuzzED 2)
                raise CatalogError(f"{err} (a what-if's figures are its file's: 'parity show {name} --variants "
                                   "FILE')") from None
            raise


def _calibrated_text(chip: Chip, cal: Calibration) -> str:
    """Whether predictions on `chip` rest on a measurement of it (uncertainty.chip_calibrated, the `calibrated` of
    `chips` and `compare`, by its uncertainty.calibration_kind), and which of its kernel figures its calibration
    fitted on it and which it inherits (catalog.calibration_statement): 'yes: fitted on it (...): ...', 'partly:
    fitted on it (...): GEMM bf16/fp8/fp4; inherited from amd-mi300x (...): HBM bandwidth, collectives; ...', 'yes:
    parity's serving measurements on it fitted the engine profiles; its kernel figures inherited: from
    nvidia-h200-sxm (...): ...', or 'no: ...' (compare's note then says 'uncalibrated')."""
    if is_what_if(chip):
        whose = "your chip" if chip.user_file else "the catalog chip"
        return f"no: a what-if, priced with the calibration of {whose} {chip.id} (nothing measured it)"
    statement = catalog.calibration_statement(chip, cal)
    figures = statement.text.split(": ", 1)[1] if statement.verdict != "prior" else ""
    kind = calibration_kind(chip, cal)  # which half of chip_calibrated's rule holds, if either
    if kind == "kernels":
        return ("yes: " if statement.verdict == "fitted" else "partly: ") + figures
    if kind == "serving":
        return ("yes: parity's serving measurements on it fitted the engine profiles; its kernel figures "
                + (f"{statement.verdict}: {figures}" if figures else "are the prior's"))
    if kind == "partly":
        return (f"no: its calibration measures neither {' nor '.join(cal.unmeasured_core)} on it ('partly calibrated' "
                f"in compare's note); its kernel figures {statement.verdict}: {figures}")
    return ("no: nothing measured on it fits its predictions ('uncalibrated' in compare's note)"
            + (f"; its kernel figures inherited: {figures}" if figures else ""))
