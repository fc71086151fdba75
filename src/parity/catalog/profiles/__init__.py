"""Calibrations (parity's and the user's), serving-engine profiles and the training profile."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from parity import units
from parity.catalog.blend import NEAR_RATIO, blend, nearness_weights
from parity.catalog.engine_file import profile_from
from parity.catalog.files import (catalog_files, close_matches, data_dir, in_effect, is_user, load_all, number,
                                  read_toml, refuse_unknown, require, shown, text, user_dir)
from parity.catalog.hardware import chips, families
from parity.engine import (EngineDefault, EngineHost, EngineKernel, EngineProfile, HostOps, TrainingProfile,
                           field_origins, measured_stack_prior)
from parity.dtypes import MATH_RATES
from parity.errors import CatalogError
from parity.hardware import KERNEL_OVERHEAD_MAX_S, Calibration, Chip, figure_distance

T = TypeVar("T")

__all__ = ["calibrations", "calibration", "user_note", "engine_user_file", "engine_user_note", "prior_calibration", "derived_prior", "family_chain", "engines", "engine_for",
           "fitted_any", "unfitted_stack_profile", "foreign_lender", "calibration_stacks",
           "engine_defaults", "engine_kernels", "engine_host", "host_ops", "training_prior",
           "ENGINE_ALIASES", "engine", "training_profile", "training_profile_text"]


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


def family_chain(family: str) -> tuple[str, ...]:
    """A family and its ancestors, nearest first (hopper; blackwell, hopper; cdna4, cdna3)."""
    tree, out = families(), []
    while family and family in tree and family not in out:
        out.append(family)
        family = tree[family].parent
    return tuple(out)


def _own_generation(cal: Calibration, step: int, name: str, via: str) -> tuple[Calibration, str]:
    """A measured MLA-decode kernel rate stays in its generation: FlashMLA's sparse decode reaches 700 of
    2,250 TFLOP/s on B200 (0.31) against 410 of 989 on H800 (0.41), so a child family (step > 0) falls back
    to the attention math efficiency (0.4996 = 0.667 x 0.75)."""
    if not step or not cal.attention_decode_math_efficiency:
        return cal, via
    return (dataclasses.replace(cal, attention_decode_math_efficiency=0.0),
            via + f" (not its {name} MLA-decode kernel rate)")


def _rows_said(rows: tuple[str, ...]) -> str:
    """A calibration's rows as a basis states them: each id up to six, else those of one source tag (the id's first
    part: AZ, AIC) as 'tag-* (count)', in their order; the file itself names every row."""
    if len(rows) <= 6:
        return ", ".join(rows)
    return f"{len(rows)}: " + ", ".join(ids[0] if len(ids) == 1 else f"{prefix}-* ({len(ids)})"
                                        for prefix, ids in row_groups(rows).items())


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


@cache
def _calibration_of(chip_id: str, family: str, named: str = "") -> Calibration:
    cal = _found_calibration(chip_id, family, named)
    return dataclasses.replace(cal, basis=f"{cal.basis}; {user_note(cal)}") if cal.user_file else cal


def _lender(chip_id: str, family: str, named: str) -> tuple[Chip | None, str]:
    """The chip whose calibration a chip without one of its own inherits because its file names it (its `calibration`
    key), and why; else None (a chip of the user's then inherits from its family's nearest chips: _nearest)."""
    if not named:
        return None, ""
    kin = {c.id: c for c in chips()}
    if named not in kin:  # a chip built in Python, naming a chip the catalog does not hold
        raise CatalogError(f"chip {chip_id}: calibration_chip {named!r} is no chip of the catalog ('parity chips')")
    lender, own = kin[named], kin.get(chip_id)
    return lender, "named by its file's calibration key" + (_foreign(own, lender) if own is not None else "")


def foreign_lender(own: Chip, lender: Chip) -> tuple[bool, bool]:
    """Whether `lender`, the chip whose calibration `own` takes, runs another software stack, and whether it belongs to
    another family tree (no common root in families.toml: hopper and blackwell share one, hopper and cdna3 do not);
    False where either states none."""
    def root(family: str) -> str:
        chain = family_chain(family)
        return chain[-1] if chain else family

    stacks = bool(own.software_stack and lender.software_stack) and own.software_stack != lender.software_stack
    trees = bool(own.family and lender.family) and root(own.family) != root(lender.family)
    return stacks, trees


def calibration_stacks(cal: Calibration) -> dict[str, str]:
    """The software stacks a calibration's figures were measured under, by what measured them: a catalog chip's
    calibration by that chip ({'nvidia-h20': 'cuda'}), a family's fit by its family (families.toml's stack), a blend
    by each of its parts; {} for the priors (generic, derived-prior*), which measure no chip, and for a chip the
    catalog does not hold."""
    if cal.blend:
        return {who: stack for part, _ in cal.blend for who, stack in calibration_stacks(part).items()}
    kin = {c.id: c for c in chips()}
    if cal.chip in kin and kin[cal.chip].software_stack:
        return {cal.chip: kin[cal.chip].software_stack}
    family = families().get(cal.family)
    return {cal.family: family.stack} if family is not None and family.stack else {}


def _foreign(own: Chip, lender: Chip) -> str:
    """'; a cdna3 chip on the rocm stack, where this one is hopper on cuda' where the chip a file names for its
    calibration runs another software stack or family tree (foreign_lender), so its kernel rates are another stack's
    (uncertainty.foreign_calibration_flag says so in every prediction); '' otherwise."""
    if not any(foreign_lender(own, lender)):
        return ""
    return (f"; a {lender.family or 'familyless'} chip on the {lender.software_stack or 'unnamed'} stack, where this "
            f"one is {own.family or 'of no family'} on {own.software_stack or 'no named stack'}")


def _inherited(lender: Chip, why: str, lent: Calibration) -> Calibration:
    """`lent`, the calibration of `lender`, as a chip inherits it: not measured on this chip, its basis naming the
    lender and why, then how the lender came by it ('this chip' in it is the lender)."""
    basis = (lent.basis or lent.id).replace("this chip", lender.id)
    return dataclasses.replace(lent, measured=False, basis=f"inherited from {lender.id} ({why}): {basis}")


def _nearest(chip_id: str, family: str) -> Calibration | None:
    """For a chip of the user's (PARITY_HOME/chips) in a family, the calibration of that family's catalog chips nearest
    it in their figures (hardware.figure_distance: peak rates and memory bandwidth), which prices it as a what-if of
    such a chip would be priced (an H20 with HBM3e took the H200's calibration, the family's reference, and ran 0.87x
    the H20 on Llama-3.1-70B, against 1.01x as a what-if of the H20: report-only tester fuzzER 1). The siblings whose
    calibrations differ blend by nearness (catalog.blend: each calibration as near as its nearest chip; one NEAR_RATIO
    times as far as the nearest weighs nothing), so that a chip's predictions move continuously with its figures: two
    chips of 380 and 390 TFLOP/s went from the H20's calibration to the H200's between them, and the faster ran 0.89x
    the other (report-only tester fuzzES 1). None for any other chip, and where the nearest chip is itself on a prior
    (nothing measured it to pass on: the family's own rule, _found_calibration, says so)."""
    kin = {c.id: c for c in chips()}
    own = kin.get(chip_id)
    if own is None or not own.user_file or not family:
        return None
    distance = {c.id: figure_distance(own, c) for c in kin.values() if c.family == family and not c.user_file}
    by_calibration: dict[str, tuple[float, Chip, Calibration]] = {}  # calibration id -> its nearest chip
    for sibling_id in sorted(distance, key=lambda c: (distance[c], c)):
        if distance[sibling_id] == float("inf"):
            break
        sibling = kin[sibling_id]
        lent = _found_calibration(sibling.id, sibling.family, sibling.calibration_chip)
        if lent.chip == "*" and not lent.family:  # derived-prior*, generic: measures no chip
            if not by_calibration:
                return None
            continue
        by_calibration.setdefault(lent.id, (distance[sibling_id], sibling, lent))
    weights = nearness_weights({key: d for key, (d, _, _) in by_calibration.items()})
    if not weights:
        return None
    why = "the {family} family's chip{s} nearest it in peak rates and memory bandwidth, log distance{s} {d}"
    key = "its file's calibration key may name {which}"
    if len(weights) == 1:
        d, lender, lent = by_calibration[next(iter(weights))]
        return _inherited(lender, why.format(family=family, s="", d=f"{d:.3f}") + "; " + key.format(which="another"),
                          lent)
    parts = [(by_calibration[cid], w) for cid, w in weights.items()]
    lenders = " + ".join(f"{lender.id} {w:.2f}" for (_, lender, _), w in parts)
    said = why.format(family=family, s="s", d=" and ".join(f"{d:.3f}" for (d, _, _), _ in parts))
    bases = "; ".join(f"{lender.id}: {(lent.basis or lent.id).replace('this chip', lender.id)}"
                      for (_, lender, lent), _ in parts)
    basis = (f"inherited from {lenders}, blended ({said}; each weighs by how near it is, a chip {NEAR_RATIO:g}x as "
             f"far as the nearest nothing; the calibrations' fields are blended with those weights; "
             f"{key.format(which='one')}): {bases}")
    return blend([(lent, w) for (_, _, lent), w in parts], id="+".join(lent.id for (_, _, lent), _ in parts),
                 basis=basis)


def _lent(chip_id: str, family: str, named: str) -> Calibration | None:
    """The calibration a chip without one of its own inherits from another chip: the chip its file names (_lender),
    else, for a chip of the user's, its family's nearest chips' (_nearest); None where neither lends one."""
    lender, why = _lender(chip_id, family, named)
    if lender is not None:
        return _inherited(lender, why, _found_calibration(lender.id, lender.family, lender.calibration_chip))
    return _nearest(chip_id, family)


def _found_calibration(chip_id: str, family: str, named: str = "") -> Calibration:
    own = [c for c in calibrations() if c.chip == chip_id]
    if own:
        best = _newest(own)
        partly = (f"partly measured on this chip ({best.id}; {' and '.join(best.unmeasured_core)} from "
                  f"{best.unmeasured_from or 'the value before'})")
        return dataclasses.replace(best, basis=best.basis or (
            (partly if best.unmeasured_core else f"measured on this chip ({best.id})") if best.measured
            else f"the chip's own prior ({best.id})"))
    lent = _lent(chip_id, family, named)
    if lent is not None:
        return lent
    for step, name in enumerate(family_chain(family)):
        via = "" if step == 0 else f"; {family} has no measurement of its own, so it inherits from its parent {name}"
        fitted = [c for c in calibrations() if c.family == name]
        if fitted:
            best = _newest(fitted)
            if chip_id in best.measured_chips:  # the family's fit, on this chip's rows; a basis of its own says
                # which figures those rows measure and which the fit inherits (family-cdna4: its parent's bandwidth)
                rows = f"(rows {_rows_said(best.rows)})"
                # a fit on several chips' rows says whose (the 910C's: 3 of its 7 rows measured it, 4 the 910B)
                others = [c for c in best.measured_chips if c != chip_id]
                on = f"on this chip and {', '.join(others)}" if others else "on this chip"
                return dataclasses.replace(best, basis=(
                    f"{best.id}: the {name} family's fit, partly {on} {rows}; {best.basis}" if best.basis
                    else f"{best.id}: the {name} family's fit {on} {rows}"))
            best, via = _own_generation(best, step, name, via)
            return dataclasses.replace(best, measured=False, basis=(
                f"inherited from {best.id} (measured on {', '.join(best.measured_chips)}; rows "
                f"{_rows_said(best.rows)}){via}"))
        # the user's own chips (PARITY_HOME/chips) pass no calibration to parity's: nothing of parity's measured them
        siblings = {c.id for c in chips() if c.family == name and not c.user_file}
        # a sibling's microbenchmark calibration passes on; one built from a few published figures on that
        # chip alone (rows named, e.g. the H20's attention rates) describes only that chip
        measured = [c for c in calibrations() if c.measured and c.chip in siblings and not c.rows]
        if measured:
            best, via = _own_generation(_newest(measured), step, name, via)
            return dataclasses.replace(best, measured=False,
                                       basis=f"inherited from {best.chip} ({name} family){via}")
    tree = families()
    prior = derived_prior(tree[family].architecture if family in tree else "")
    where = f"the {family} family and its parents hold" if family else "the chip has no family and"
    whose = (f"measured {prior.id.removeprefix('derived-prior-')} chips (its architecture class)"
             if prior.id != "derived-prior" and prior.id.startswith("derived-prior-") else "measured chips")
    return dataclasses.replace(prior, basis=f"{prior.id}: {where} no measurement, so the prior derived from what "
                                            f"{whose} achieve")


def calibration(the_chip: Chip) -> Calibration:
    """The newest calibration measured on this chip (the user's own file first), else that of the chip its file
    names (its `calibration` key) or, for a chip of the user's, of its family's catalog chips nearest it in its
    figures, blended by nearness (_nearest), else its family's (up the family tree: a family file fitted on measured
    rows, or a measured sibling chip), else the derived prior; `basis` says which, and names the user's file where one
    is in effect."""
    return _calibration_of(the_chip.id, the_chip.family, the_chip.calibration_chip)


@cache
def engines() -> tuple[EngineProfile, ...]:
    """Serving-engine profiles (data/engines/*.toml, read by section: catalog.engine_file); a profile of the same
    id in the user's folder (user_dir()/engines/, written by `parity validate --fit`) takes the place of parity's
    own."""
    out: dict[str, EngineProfile] = {}
    for data, where in load_all("engines", user=True):
        profile = profile_from(data, where)
        out[profile.id] = profile
    return tuple(out.values())


def engine_for(name: str | None, stack: str) -> EngineProfile:
    """The engine profile fitted on a software stack (`vllm` on rocm: vllm-rocm) where one exists, else the
    profile fitted on CUDA as engine.measured_stack_prior carries it to another stack (its host side as fitted,
    its kernels at the software maturity the stack's fitted profiles show, or every measured stack's where the
    stack has none). A stack profile whose rows fitted none of its values (unfitted_stack_profile: sglang-rocm)
    is no fit: it holds its base's values at the vendor libraries' kernel rates, CUDA's level, where the stack's
    measured maturity is what serve --help promises an engine without a fit there."""
    profile = _named(engine(name))
    if profile.base:
        return profile  # a stack profile named: itself on any stack, as engine_on keeps it
    for candidate in engines():
        if candidate.base == profile.id and candidate.stack == stack and fitted_any(candidate):
            return candidate
    return measured_stack_prior(profile, stack, engines())


def _named(profile: EngineProfile) -> EngineProfile:
    """The profile an engine named runs as: an unfitted stack profile named (`--engine sglang-rocm`) is its base,
    so that it runs as `--engine sglang` does, at the stack's measured maturity and flagged (it ran at CUDA's kernel
    level: MI355X 8,118 tok/s/chip on Llama-3.1-70B against 5,536, report-only tester fuzzEO 2)."""
    return engine(profile.base) if profile.base and not fitted_any(profile) else profile


def fitted_any(profile: EngineProfile) -> bool:
    """Whether a stack profile's rows moved any of its values from its base's (engine.field_origins 'fitted'); True
    for a profile that is no stack profile."""
    return not profile.base or "fitted" in field_origins(profile, engine(profile.base)).values()


def unfitted_stack_profile(name: str | None, stack: str) -> EngineProfile | None:
    """The stack profile of engine `name` on `stack` whose rows fitted none of its values (sglang-rocm: 3 rows for 4
    parameters), which engine_for passes over; None where there is none or it is fitted."""
    profile = engine(name)
    return next((p for p in engines() if p.base == profile.id and p.stack == stack and not fitted_any(p)), None)


def engine_on(profile: EngineProfile, stack: str) -> EngineProfile:
    """What the catalog profile `profile` runs as on `stack` (engine_for: its fit there, or the stack's measured
    software maturity); `profile` itself where it is a stack profile already or not the catalog's own (a
    what-if)."""
    if profile != engine(profile.id):
        return profile
    named = _named(profile)
    return named if named.base else engine_for(named.id, stack)


def _version(text: object, where: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in str(text).split("."))
    except ValueError as err:
        raise CatalogError(f"{where}: a version is numbers and dots, got {text!r}") from err


def _version_entries(where: str, table: str, build: Callable[[Mapping[str, Any], str], T]) -> tuple[T, ...]:
    """Each [[table]] entry of a by-version data file built into a value, in the file's order; a bad entry
    raises a CatalogError naming the file and the entry."""
    out = []
    for i, entry in enumerate(read_toml(data_dir() / where).get(table, ())):
        at = f"{where} entry {i + 1}"
        try:
            out.append(build(entry, at))
        except (TypeError, ValueError, units.UnitError) as err:
            raise CatalogError(f"{at}: {err}") from err
    return tuple(out)


@cache
def engine_defaults() -> tuple[EngineDefault, ...]:
    """Engines' defaults by version (data/engine_defaults.toml), in the file's order."""
    return _version_entries("engine_defaults.toml", "default", lambda entry, at: EngineDefault(
        engine=require(entry, "engine", at), since=_version(require(entry, "since", at), at),
        until=_version(entry["until"], at) if "until" in entry else None,
        min_memory_bytes=units.parse(entry["min_memory"], "bytes") if "min_memory" in entry else 0.0,
        chips=tuple(entry.get("chips", ())), context=entry.get("context", "any"),
        max_batch_size=int(entry.get("max_batch_size", 0)), max_num_tokens=int(entry.get("max_num_tokens", 0)),
        source=require(entry, "source", at)))


@cache
def engine_kernels() -> tuple[EngineKernel, ...]:
    """What engine versions run where the calibrated profiles assume today's kernels (data/engine_kernels.toml),
    in the file's order."""
    return _version_entries("engine_kernels.toml", "kernel", lambda entry, at: EngineKernel(
        engine=require(entry, "engine", at), since=_version(require(entry, "since", at), at),
        until=_version(require(entry, "until", at), at), op=require(entry, "op", at),
        time_ratio=float(require(entry, "time_ratio", at)), stack=entry.get("stack", ""),
        features=tuple(entry.get("features", ())), weights=tuple(entry.get("weights", ())),
        families=tuple(entry.get("families", ())), fp8_gemm=tuple(entry.get("fp8_gemm", ())),
        moe_backend=tuple(entry.get("moe_backend", ())), queries_per_kv=int(entry.get("queries_per_kv", 0)),
        implementation=require(entry, "implementation", at),
        source=require(entry, "source", at), derivation=require(entry, "derivation", at)))


@cache
def engine_host() -> tuple[EngineHost, ...]:
    """Host work engine versions do in every step beyond the calibrated profiles' (data/engine_host.toml), in the
    file's order."""
    return _version_entries("engine_host.toml", "host", lambda entry, at: EngineHost(
        engine=require(entry, "engine", at), since=_version(require(entry, "since", at), at),
        until=_version(require(entry, "until", at), at), stack=entry.get("stack", ""),
        step_s=units.parse(require(entry, "step", at), "s"),
        sequence_s=units.parse(require(entry, "sequence", at), "s"),
        implementation=require(entry, "implementation", at), source=require(entry, "source", at),
        derivation=require(entry, "derivation", at)))


_HOST_OP_PARTS = ("norm", "linear", "quantize", "attention", "qk_norm", "mla", "activation", "moe_routing", "moe_experts",
                  "shared_add", "step")


@cache
def host_ops(engine_id: str) -> HostOps | None:
    """The ops an engine's model code issues per part of a layer in an eager prompt step (data/host_ops.toml);
    None for an engine the file does not list."""
    where = "host_ops.toml"
    entry = read_toml(data_dir() / where).get(engine_id)
    if entry is None:
        return None
    at = f"{where} [{engine_id}]"
    try:
        return HostOps(engine=engine_id, version=require(entry, "version", at), source=require(entry, "source", at),
                       **{part: float(require(entry, part, at)) for part in _HOST_OP_PARTS})
    except (TypeError, ValueError) as err:
        raise CatalogError(f"{at}: {err}") from err


ENGINE_ALIASES = {"tensorrt-llm": "trtllm", "trt-llm": "trtllm", "trt": "trtllm", "": "generic", "none": "generic"}


def engine_user_file(profile: EngineProfile) -> Path | None:
    """The user's file (PARITY_HOME/engines/ID.toml) a profile was read from, None where it is parity's."""
    path = in_effect(f"engines/{profile.id}.toml")
    return path if is_user(path) else None


def engine_user_note(profile: EngineProfile) -> str:
    """'engine vllm: user file PATH (dated DATE), not parity's' where the user's folder holds the profile's file (it
    takes the place of parity's), for every prediction's assumptions as a user calibration is named; '' otherwise."""
    path = engine_user_file(profile)
    return f"engine {profile.id}: user file {path} (dated {profile.date}), not parity's" if path else ""


def engine(name: str | None) -> EngineProfile:
    """An engine profile by id (trtllm, vllm, sglang, generic); empty or None gives generic."""
    key = ENGINE_ALIASES.get((name or "").strip().lower(), (name or "").strip().lower())
    for profile in engines():
        if profile.id == key:
            return profile
    hints = close_matches(key, [p.id for p in engines()])
    raise CatalogError(f"unknown engine {name!r}; known: {', '.join(p.id for p in engines())}"
                       + (f"; did you mean {hints[0]}?" if hints else ""))


def _training_path() -> Path:
    return in_effect("training.toml")


def engine_text(engine_id: str) -> str:
    """The text of an engine profile's file in effect (the user's refit, else parity's), comments included."""
    return in_effect(f"engines/{engine_id}.toml").read_text(encoding="utf-8")


def training_profile_text() -> str:
    """The text of the training profile in effect (the user's refit, else parity's), comments included."""
    return _training_path().read_text(encoding="utf-8")


@cache
def training_profile() -> TrainingProfile:
    """The training-framework profile (data/training.toml, or the user's refit of it in user_dir()):
    overlap, optimizer and memory assumptions."""
    path = _training_path()
    where = str(path) if path.parent == user_dir() else "training.toml"
    data = read_toml(path)
    times = {"memory_reserve": ("memory_reserve_bytes", "bytes"), "step_overhead": ("step_overhead_s", "s"),
             "moe_layer_overhead": ("moe_layer_overhead_s", "s")}
    try:
        fields = {k: v for k, v in data.items() if k not in times and k not in ("sources", "prior")}
        fields |= {name: units.parse(data[key], dimension) for key, (name, dimension) in times.items() if key in data}
        return TrainingProfile(**fields)
    except (TypeError, ValueError, units.UnitError) as err:
        raise CatalogError(f"{where}: {err}") from err


@cache
def training_prior() -> TrainingProfile:
    """The training profile with its fitted factors at their documented priors (training.toml's [prior]
    table): what the profile is when no measured row fitted it."""
    path = _training_path()
    prior = read_toml(path).get("prior", {})
    times = {"moe_layer_overhead": "moe_layer_overhead_s", "step_overhead": "step_overhead_s"}
    try:
        values = {times.get(k, k): units.parse(v, "s") if k in times else v for k, v in prior.items()}
        profile = training_profile()
        return dataclasses.replace(profile, id=f"{profile.id}-prior", measured=False, **values,
                                   method="the fitted factors at their documented priors (training.toml [prior])")
    except (TypeError, ValueError, units.UnitError) as err:
        raise CatalogError(f"{path.name} [prior]: {err}") from err
