"""Chips and systems: one TOML file each, every number a table `{ value = "989 TFLOP/s", source = "id" }`.

The source is declared in the file's [sources] or in data/sources.toml. `sparse = true` halves a figure
quoted with 2:4 sparsity (`sparsity = 4` divides by four); link figures say their `direction`, and
bidirectional (or `unstated`) figures are halved to the per-direction rate. The user's own chips and systems
(user_dir()/chips, user_dir()/systems) are read as parity's are, every key checked, their figures held to what
real accelerators span (catalog.plausible), and marked by their file. Reading one file is catalog.hardware_files;
here the whole catalog is loaded, checked across files and looked up by name.
"""

from __future__ import annotations

import dataclasses
from functools import cache
from typing import Any

from parity.catalog.files import catalog_files, data_dir, is_user, name_key, read_toml, require, shown, user_dir
from parity.catalog.hardware_files import _chip_from, _system_from, sources
from parity.catalog.names import Entry, check_names, close_ids, resolve
from parity.catalog.plausible import check_power_share, check_rates, check_span, power_span, spans
from parity.errors import CatalogError
from parity.hardware import ARCHITECTURES, Chip, Family, System

__all__ = ["sources", "chips", "systems", "families", "Entry", "resolve", "chip", "system_for", "system"]


@cache
def families() -> dict[str, Family]:
    """The family tree (data/families.toml); every chip's family must be in it, every parent too."""
    where = "families.toml"
    table = read_toml(data_dir() / where)
    for name, spec in table.items():
        if str(spec.get("architecture", "")) not in ("", *ARCHITECTURES):
            raise CatalogError(f"{where}: family {name}: architecture must be one of {', '.join(ARCHITECTURES)}, "
                               f"got {spec['architecture']!r}")
    out = {name: Family(id=name, vendor=str(require(spec, "vendor", f"{where} [{name}]")),
                        stack=str(require(spec, "stack", f"{where} [{name}]")), parent=str(spec.get("parent", "")),
                        note=str(spec.get("note", "")), architecture=str(spec.get("architecture", "")))
           for name, spec in table.items()}
    for family in out.values():
        if family.parent and family.parent not in out:
            raise CatalogError(f"{where}: family {family.id} names unknown parent {family.parent!r}")
    return out


def _files(kind: str) -> list[tuple[dict[str, Any], str, str]]:
    """Each chip or system file, parity's then the user's (user_dir()/KIND/*.toml), as (its tables, its name as
    messages give it, the user's path or '')."""
    return [(read_toml(path), shown(path), str(path) if is_user(path) else "")
            for path in catalog_files(kind, user=True)]


@cache
def chips() -> tuple[Chip, ...]:
    """Every chip in the catalog and the user's (user_dir()/chips), sorted by id."""
    files = _files("chips")
    loaded = [_chip_from(data, where, user) for data, where, user in files]
    check_names(loaded, [where for _, where, _ in files], "chip")
    known_spans = spans(c for c in loaded if not c.user_file)  # what real accelerators span: parity's chips
    for item, (_, where, _) in zip(loaded, files):  # a figure beyond the span first: its message names the slip
        check_span(item.provenance, known_spans, where)
        check_rates(item, where)
    known = families()
    for item, (_, where, user) in zip(loaded, files):
        if item.family and item.family not in known:
            owner = f"{where}: key family" if user else f"chip {item.id}: family"
            raise CatalogError(f"{owner} {item.family!r} is not in families.toml; known: {', '.join(sorted(known))}"
                               + (" (or leave it out: the chip then takes the prior of an uncalibrated chip)" if user
                                  else ""))
    loaded = _lenders_named(loaded, [where for _, where, _ in files])
    return tuple(sorted(loaded, key=lambda c: c.id))


def _lenders_named(loaded: list[Chip], files: list[str]) -> list[Chip]:
    """Each chip with the chip its file's `calibration` key names as that chip's id (an alias, 'h20', or a system's
    name, 'hgx-h20', as a command line takes them: nvidia-h20); a name no chip or system answers to, the chip itself,
    or a loop of chips naming each other (whose calibration none of them would reach) refused naming the file."""
    out = []
    for item, where in zip(loaded, files):
        if item.calibration_chip:
            others = [c for c in loaded if c.id != item.id]  # hints name other chips, never the chip itself
            try:
                lender = resolve(item.calibration_chip, others, "chip")
            except CatalogError as err:
                lender = _system_chip(item.calibration_chip, loaded) or _itself(item, where, err)
            if lender.id == item.id:
                raise CatalogError(f"{where}: key calibration names the chip itself ({item.id}, the chip of system "
                                   f"{item.calibration_chip!r}): name the chip whose calibration it inherits, or leave "
                                   "the key out")
            item = dataclasses.replace(item, calibration_chip=lender.id)
        out.append(item)
    lenders = {c.id: c.calibration_chip for c in out}
    for item, where in zip(out, files):
        seen = [item.id]
        while lenders.get(seen[-1]):
            seen.append(lenders[seen[-1]])
            if seen[-1] in seen[1:-1]:  # a loop this chip only leads into: its own file is refused
                break
            if seen[-1] == item.id:
                raise CatalogError(f"{where}: key calibration makes a loop ({' -> '.join(seen)}): one of them must "
                                   "name a chip with a calibration of its own or its family's")
    return out


def _itself(item: Chip, where: str, err: CatalogError) -> Chip:
    """Refuse the calibration key of `item`'s file (`where`): it names the chip itself, or no chip (`err`)."""
    try:
        resolve(item.calibration_chip, [item], "chip")
    except CatalogError:
        raise CatalogError(f"{where}: key calibration names no chip: {err} (the chip whose calibration yours inherits: "
                           "a chip's id, 'parity chips', or a system's)") from None
    raise CatalogError(f"{where}: key calibration names the chip itself ({item.id}): name the chip whose calibration "
                       "it inherits, or leave the key out")


def _system_chip(name: str, loaded: list[Chip]) -> Chip | None:
    """The chip of the system file (parity's or the user's) whose id, alias or name is `name`, as `parity show`
    takes a system's name for its chip; None where no system file answers to it or its chip is none of `loaded`.
    Read from the files as written: the systems are built from the chips, which are being built."""
    wanted = name_key(name)
    for data, _, _ in _files("systems"):
        aliases = data.get("aliases", [])
        names = [n for n in (data.get("id"), data.get("name"), *(aliases if isinstance(aliases, list) else []))
                 if isinstance(n, str)]
        if wanted in {name_key(n) for n in names} and isinstance(data.get("chip"), str):
            try:
                return resolve(data["chip"], loaded, "chip")  # type: ignore[return-value]
            except CatalogError:
                return None
    return None


@cache
def systems() -> tuple[System, ...]:
    """Every system in the catalog and the user's (user_dir()/systems), sorted by id."""
    index = {c.id: c for c in chips()}
    files = _files("systems")
    loaded = [_system_from(data, where, index, user) for data, where, user in files]
    check_names(loaded, [where for _, where, _ in files], "system")
    known_spans = spans(c for c in index.values() if not c.user_file)
    power = power_span(s for s in loaded if not s.user_file)
    for item, (_, where, _) in zip(loaded, files):  # its links where it states its own, its power per chip
        check_span(item.provenance, known_spans, where)
        check_power_share(item, power, where)
    # a chip's name that a system takes too: `show` and every --system take either (a system first)
    check_names([*index.values(), *loaded], [*(c.user_file or f"chips/{c.id}.toml" for c in index.values()),
                                              *(where for _, where, _ in files)], "chip or system")
    return tuple(sorted(loaded, key=lambda s: s.id))


def chip(name: str) -> Chip:
    """The chip called `name` (id or alias); a system's name gives its chip (`gb200` -> nvidia-gb200)."""
    try:
        found = resolve(name, chips(), "chip")
    except CatalogError as chip_error:
        try:
            return resolve(name, systems(), "system").chip  # type: ignore[union-attr]
        except CatalogError:
            raise chip_error from None
    assert isinstance(found, Chip)
    return found


def system_for(the_chip: Chip) -> System:
    """The default system of a chip: the smallest catalog system built from it; one of the user's own files only
    where parity's catalog has none (a chip of the user's): a 4-chip system file of H100s became the H100's system
    in every `fleet --chips h100` (report-only tester fuzzDF 5)."""
    built = [s for s in systems() if s.chip.id == the_chip.id]
    candidates = [s for s in built if not s.user_file] or built
    if not candidates:  # what a user can do: write a system of it, or put it in another chip's from Python
        raise CatalogError(f"no system in the catalog uses chip {the_chip.id!r} (status: {the_chip.status}), and "
                           "commands run a chip only in a catalog system ('parity systems' lists them): a system "
                           f"file of yours in {user_dir() / 'systems'} may name it (docs/model.md); from Python, "
                           "parity.what_if(parity.catalog.system('SYSTEM'), 'NOTE', chip=parity.catalog.chip("
                           f"{the_chip.id!r}), id='NEW-ID') puts it in another chip's system")
    return min(candidates, key=lambda s: (s.chips, s.id))


def system(name: str) -> System:
    """The system called `name`; a chip name gives that chip's default system (e.g. its 8-GPU node)."""
    try:
        found = resolve(name, systems(), "system")
    except CatalogError as system_error:
        try:
            the_chip = chip(name)
        except CatalogError:
            if not name.strip():
                raise CatalogError("no system or chip name given: name one ('parity systems' and 'parity chips' "
                                   "list them)") from None
            hints = close_ids(name, (*systems(), *chips()))
            if hints:
                raise CatalogError(f"unknown system or chip {name!r}; did you mean {', '.join(hints)}?") \
                    from system_error
            raise CatalogError(f"unknown system or chip {name!r}; see 'parity systems'") from system_error
        return system_for(the_chip)  # a chip in no system says so
    assert isinstance(found, System)
    return found
