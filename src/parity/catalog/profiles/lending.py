"""Which calibration a chip runs on: its own file, else one lent by the chip its file names, by its family's nearest
chips (blended) or up its family tree, else the derived prior; with the basis that says which, and whose stacks."""

from __future__ import annotations

import dataclasses
from functools import cache

from parity.catalog.blend import NEAR_RATIO, blend, nearness_weights
from parity.catalog.hardware import chips, families
from parity.catalog.profiles.calibration_files import (_newest, calibrations, derived_prior, row_groups,
                                                       user_note)
from parity.errors import CatalogError
from parity.hardware import Calibration, Chip, figure_distance

__all__ = ["calibration", "family_chain", "foreign_lender", "calibration_stacks"]


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
