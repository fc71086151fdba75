"""Calibration files read and checked (parity's and the user's), the priors, and which file of a chip is in effect."""

from __future__ import annotations

import datetime
from functools import cache
from pathlib import Path
from typing import Any

from parity import units
from parity.catalog.files import (catalog_files, close_matches, is_user, number, read_toml, refuse_unknown, require,
                                  shown, text, user_dir)
from parity.catalog.hardware import chips
from parity.dtypes import MATH_RATES
from parity.errors import CatalogError
from parity.hardware import KERNEL_OVERHEAD_MAX_S, Calibration

__all__ = ["calibrations", "prior_calibration", "derived_prior", "row_groups", "user_note"]


_FRACTIONS = ("memory_efficiency", "grouped_gemm_memory_efficiency", "attention_prefill_efficiency",
              "attention_decode_efficiency", "stream_efficiency", "emulation_efficiency", "collective_efficiency")
_OPTIONAL_NUMBERS = {"attention_decode_math_efficiency": 0.0, "collective_latency_factor": 1.0,
                     "grouped_gemm_half_tokens": 0.0}
_TEXTS = ("source", "family", "basis", "unmeasured_from", "relative_to")  # optional; id, chip and method are required
_LISTS = ("rows", "measured_chips")  # lists of text
_CALIBRATION_KEYS = ("id", "chip", "date", "method", "measured", "kernel_overhead", "gemm_efficiency",
                     "grouped_gemm_efficiency", "points", "software", "measured_fields", *_FRACTIONS,
                     *_OPTIONAL_NUMBERS, *_TEXTS, *_LISTS)
_GEMM_KEYS = ("default", *MATH_RATES)


def _date(value: Any, where: str) -> str:
    """A calibration's date as ISO text: the newest file of a chip is the one in effect, so it must be a date."""
    try:
        return datetime.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise CatalogError(f"{where}: key date must be a date (YYYY-MM-DD), got {value!r}") from None


def _numbers(data: dict[str, Any], table: str, where: str) -> dict[str, float]:
    """A table of numbers by math key ([gemm_efficiency], [grouped_gemm_efficiency])."""
    values = data.get(table, {})
    if not isinstance(values, dict):
        raise CatalogError(f"{where}: key {table} must be a table of numbers by math key, got {values!r}")
    refuse_unknown(values, _GEMM_KEYS, where, f"[{table}]", "calibration")
    return {k: number(v, where, f"{table}.{k}") for k, v in values.items()}


def _counts(data: dict[str, Any], where: str) -> dict[str, int]:
    """[measured_fields]: the points that fitted each field, as whole numbers (Calibration checks the names)."""
    values = data.get("measured_fields", {})
    if not isinstance(values, dict) or not all(type(v) is int and v > 0 for v in values.values()):
        raise CatalogError(f"{where}: key measured_fields must be a table of point counts (whole numbers > 0) by "
                           f"field, got {values!r}")
    return dict(values)


def _kernel_overhead_s(data: dict[str, Any], where: str) -> float:
    """kernel_overhead [s], within what a fit allows (hardware.KERNEL_OVERHEAD_MAX_S): '7.970 ms' written for us
    would price every kernel 300x its launch."""
    said = text(require(data, "kernel_overhead", where), where, "kernel_overhead")
    seconds = units.parse(said, "s")
    if not seconds <= KERNEL_OVERHEAD_MAX_S:
        raise CatalogError(f"{where}: key kernel_overhead must be at most {KERNEL_OVERHEAD_MAX_S * 1e6:g} us (a "
                           f"kernel's launch and tail, as a fit allows), got {said!r}: another unit?")
    return seconds


def _texts(data: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    values = data.get(key, [])
    if not isinstance(values, list):
        raise CatalogError(f"{where}: key {key} must be a list of text, got {values!r}")
    return tuple(text(v, where, key) for v in values)


def _calibrated_chip(data: dict[str, Any], path: Path, where: str) -> str:
    """The chip a calibration file prices: a catalog chip's id, or "*" for a family's or a prior's file. A user's
    file is looked up by its `chip` key, not its name, and `parity calibrate` names it CHIP.toml: one whose name
    says another chip (nvidia-h100-sxm.toml holding chip = "nvidia-h200-sxm") would silently replace that chip's
    calibration, so it is refused."""
    chip_id = text(require(data, "chip", where), where, "chip")
    known = [c.id for c in chips()]
    if chip_id != "*" and chip_id not in known:
        hints = close_matches(chip_id, known, n=1)
        fix = (f" (its chip removed from {user_dir() / 'chips'}? every command reads this file: remove or move "
               f"{path})" if is_user(path) else "")
        raise CatalogError(f"{where}: chip {chip_id!r} is no catalog chip" + (f"; did you mean {hints[0]}?" if hints
                                                                                else "") + fix)
    if is_user(path) and chip_id != "*" and path.stem != chip_id:
        raise CatalogError(f"{where}: the file calibrates chip {chip_id!r} but is named {path.name}; name it "
                           f"{chip_id}.toml (parity calibrate names a chip's file by its chip)")
    return chip_id


def _calibration_from(data: dict[str, Any], path: Path) -> Calibration:
    """A calibration file read into a Calibration, every key checked: a key the reader does not know, a value of
    the wrong type (text where a number belongs) or out of range is refused naming the file and key."""
    where = shown(path)
    refuse_unknown(data, _CALIBRATION_KEYS, where, "the top level", "calibration")
    points = data.get("points", [])
    if not isinstance(points, list) or not all(isinstance(p, dict) for p in points):
        raise CatalogError(f"{where}: key points must be a list of [[points]] tables")
    require(data, "gemm_efficiency", where)  # the one table of numbers a calibration must give
    measured = require(data, "measured", where)
    if not isinstance(measured, bool):
        raise CatalogError(f"{where}: key measured must be true or false, got {measured!r}")
    try:
        return Calibration(
            id=text(require(data, "id", where), where, "id"), chip=_calibrated_chip(data, path, where),
            date=_date(require(data, "date", where), where),
            method=text(require(data, "method", where), where, "method"), measured=measured,
            gemm_efficiency=_numbers(data, "gemm_efficiency", where),
            kernel_overhead_s=_kernel_overhead_s(data, where), measured_fields=_counts(data, where),
            points=tuple(points), rows=_texts(data, "rows", where), measured_chips=_texts(data, "measured_chips", where),
            grouped_gemm_efficiency=_numbers(data, "grouped_gemm_efficiency", where),
            user_file=str(path) if is_user(path) else "",
            **{key: text(data.get(key, ""), where, key) for key in _TEXTS},
            **{key: number(data.get(key, default), where, key) for key, default in _OPTIONAL_NUMBERS.items()},
            **{key: number(require(data, key, where), where, key) for key in _FRACTIONS})
    except (ValueError, units.UnitError) as err:
        raise CatalogError(f"{where}: {err}") from err


@cache
def calibrations() -> tuple[Calibration, ...]:
    """Every calibration file: parity's own (data/calibration/*.toml, the generic prior included) and the
    user's (user_dir()/calibration/*.toml)."""
    return tuple(_calibration_from(read_toml(path), path) for path in catalog_files("calibration", user=True))


def prior_calibration() -> Calibration:
    """The generic prior (data/calibration/generic.toml): the H200's shape on any chip's datasheet peaks."""
    return next(c for c in calibrations() if c.chip == "*" and not c.family and c.id == "generic")


def derived_prior(architecture: str = "") -> Calibration:
    """The prior of a chip whose family tree holds no measurement: what the measured families of its
    architecture class achieve (data/calibration/derived-prior-CLASS.toml), else what every measured family
    achieves (derived-prior.toml), else the generic prior."""
    for wanted in (f"derived-prior-{architecture}" if architecture else "", "derived-prior"):
        found = [c for c in calibrations() if wanted and c.id == wanted]
        if found:
            return found[0]
    return prior_calibration()


def row_groups(rows: tuple[str, ...]) -> dict[str, list[str]]:
    """Measured row ids by their source tag (the id's first part: AZ, B12), in their order."""
    groups: dict[str, list[str]] = {}
    for row in rows:
        groups.setdefault(row.split("-", 1)[0], []).append(row)
    return groups


def _newest(found: list[Calibration]) -> Calibration:
    """The calibration in effect among several of one chip or family: the user's own file (in PARITY_HOME) over
    parity's whatever their dates, as a user's engine profile takes the place of parity's; else the newest."""
    return max(found, key=lambda c: (bool(c.user_file), c.date))


def user_note(cal: Calibration) -> str:
    """'user file PATH (dated DATE), not parity's' for a calibration read from the user's folder, else ''."""
    return f"user file {cal.user_file} (dated {cal.date}), not parity's" if cal.user_file else ""
