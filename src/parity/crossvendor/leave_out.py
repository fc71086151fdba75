"""Scores with fits that never saw the scored group: each source's or vendor's rows priced with the stack profiles
refitted without them and, by source, the family calibrations fitted on its kernel figures dropped."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence, Mapping
from dataclasses import dataclass

from parity import catalog
from parity.calibrate.family import architecture_priors, family_calibration, figures_from_rows
from parity.crossvendor.setting import Setting, metric_kind, stored_setting
from parity.crossvendor.stacks import fit_stack, stack_rows
from parity.engine import measured_stack_prior
from parity.hardware import Calibration
from parity.parallel import map_chunks
from parity.validate import CaseError, error_statistics, published_errors

__all__ = ["GroupScore", "group_scores", "without_kernel_fits", "kernel_fits_of_source", "chip_files", "leave_one_out",
           "leave_one_out_errors", "measured_vendors"]


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupScore:
    """Errors of one group's rows under one setting, per kind of metric (fractions, not percent)."""

    setting: str
    by: str
    group: str
    kind: str
    count: int
    median_abs_error: float
    p90_abs_error: float
    bias: float
    left_out_what: str = ""  # what the fits left out, in words ('left out' settings; the pairs' left_out is a ratio)
    # the rows whose measured value lies inside the 80% interval their prediction printed, of those with one
    inside: int = 0
    judged: int = 0

    def row(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def group_scores(errors: Iterable[CaseError], key: Callable[[CaseError], str], setting: str, by: str,
                 left_out: str = "") -> list[GroupScore]:
    """Median and p90 |error| and median signed error per group and kind of metric, and how many of its rows fall
    inside the interval their prediction printed (CaseError.inside)."""
    grouped: dict[tuple[str, str], list[CaseError]] = defaultdict(list)
    for e in errors:
        grouped[(key(e), metric_kind(e.metric))].append(e)
    out = []
    for (group, kind), mine in sorted(grouped.items()):
        judged = [e.inside for e in mine if e.inside is not None]
        out.append(GroupScore(setting=setting, by=by, group=group, kind=kind, count=len(mine),
                              **error_statistics([e.error for e in mine]), left_out_what=left_out, inside=sum(judged),
                              judged=len(judged)))
    return out


def without_kernel_fits(setting: Setting, dropped: set[str]) -> Setting:
    """The setting with the family calibrations fitted on `dropped` kernel rows taken out: a family with
    other rows is refitted on those alone (Da Vinci without the CloudMatrix paper's B06 keeps the 910B's
    figures); one with none left gives its chips their parent family's, a measured sibling's or the derived
    prior rebuilt without it. A chip's own file fitted on them (the H20's) gives way to what a sibling of its
    family without one gets."""
    files = [c for c in catalog.calibrations() if c.family]
    refit = {c.family: _refit_family(c, [r for r in c.rows if r not in dropped])
             for c in files if set(c.rows) & dropped and set(c.rows) - dropped}
    if refit:
        cals = {chip.id: refit[catalog.calibration(chip).family] for chip in catalog.chips()
                if catalog.calibration(chip).family in refit}
        setting = dataclasses.replace(setting, calibrations={**setting.calibrations, **cals})
    files = [refit.get(c.family, c) for c in files]
    gone = {c.family for c in files if set(c.rows) & dropped}
    own = [catalog.chip(c.chip) for c in chip_files() if set(c.rows) & dropped]
    if own:
        plain = [o for o in catalog.chips() if o.id not in {c.chip for c in chip_files()}]
        setting = dataclasses.replace(setting, calibrations={**setting.calibrations, **{
            chip.id: catalog.calibration(next(o for o in plain if o.family == chip.family))
            for chip in own if any(o.family == chip.family for o in plain)}})
    if not gone:
        return setting
    kept = [c for c in files if c.family not in gone]
    measured = catalog.calibration(catalog.chip("nvidia-h200-sxm"))
    tree = catalog.families()
    priors = {k: dataclasses.replace(p, id=f"{p.id}-without-{'-'.join(sorted(gone))}")
              for k, p in architecture_priors(measured, kept, tree, measured.date,
                                               catalog.chip(measured.chip).family).items()}
    generic = dataclasses.replace(catalog.prior_calibration(), id=f"derived-prior-without-{'-'.join(sorted(gone))}")
    cals = dict(setting.calibrations)
    for chip in catalog.chips():
        if catalog.calibration(chip).family not in gone:
            continue
        chain = [f for f in catalog.family_chain(chip.family) if f not in gone]
        found = [c for c in kept if c.family in chain]
        architecture = tree[chip.family].architecture if chip.family in tree else ""
        cals[chip.id] = found[0] if found else priors.get(architecture, priors.get("", generic))
    return dataclasses.replace(setting, calibrations=cals)


def _refit_family(cal: Calibration, rows: Sequence[str]) -> Calibration:
    """A family calibration refitted (as scripts/fit_families.py fits it) on some of its kernel rows: relative to
    its parent family's stored calibration where there is one (CDNA4 from CDNA3), else to the H200's."""
    figures = {f.case_id: f for f in figures_from_rows(catalog.measurements("kernels_published"))}
    tree = catalog.families()
    parent = tree[cal.family].parent if cal.family in tree else ""
    base = next((c for c in catalog.calibrations() if parent and c.family == parent),
                catalog.calibration(catalog.chip("nvidia-h200-sxm")))
    fitted = family_calibration(cal.family, base, [figures[r] for r in rows], {c.id: c for c in catalog.chips()},
                                cal.date)
    # an id per row set, short: the rows kept counted and digested (every id joined ran to ~2,000 characters)
    digest = hashlib.sha1("\n".join(rows).encode()).hexdigest()[:10]
    return dataclasses.replace(fitted, id=f"{cal.id}-on-{len(rows)}-of-{len(cal.rows)}-rows-{digest}")


def kernel_fits_of_source(kernel_rows: Sequence[Mapping[str, str]], group: str, by: str,
                          kernels: bool = False) -> set[str]:
    """The kernel rows of source `group` that fitted a family calibration or a chip's own file: what leaving
    that source out drops. Leaving a vendor out drops none: a vendor's kernel microbenchmarks (GEMM, STREAM,
    collectives) are what its chip family is calibrated from by design, and none of them is scored; with `kernels`
    it drops those measured on the vendor's chips, whoever published them (a vendor parity has no measurement of)."""
    fitted = {r for c in [*(c for c in catalog.calibrations() if c.family), *chip_files()] for r in c.rows}
    if by == "vendor" and kernels:
        makers = {c.id: c.vendor for c in catalog.chips()}
        return {r["case_id"] for r in kernel_rows if makers.get(r["chip"]) == group and r["case_id"] in fitted}
    if by != "source":
        return set()
    return {r["case_id"] for r in kernel_rows if r["source_id"] == group and r["case_id"] in fitted}


def measured_vendors() -> frozenset[str]:
    """Vendors with a chip measured on its own (the H200's calibration, parity's microbenchmarks): every derived
    prior is built from it, so leaving such a vendor's kernel figures out leaves none of its chips without a
    measurement; `leave_one_out_errors(kernels=True)` skips them."""
    return frozenset(c.vendor for c in catalog.chips()
                     if catalog.calibration(c).basis.startswith("measured on this chip ("))


def chip_files() -> list[Calibration]:
    """Calibrations of one chip fitted on published kernel rows (rows named; not a microbenchmark fit)."""
    return [c for c in catalog.calibrations() if c.chip != "*" and c.rows]


def leave_one_out(rows: Sequence[Mapping[str, str]], kernel_rows: Sequence[Mapping[str, str]], by: str,
                  iterations: int = 60, progress: Callable[[str], None] | None = None, model_kind: str = "steady",
                  processes: int = 1) -> list[GroupScore]:
    """Scores of `leave_one_out_errors`, per group and kind of metric."""
    out = []
    for group, left, errors, _ in leave_one_out_errors(rows, kernel_rows, by, iterations, progress, model_kind,
                                                       processes):
        out += group_scores(errors, lambda e: group, "left out", by, left)
    return out


def leave_one_out_errors(rows: Sequence[Mapping[str, str]], kernel_rows: Sequence[Mapping[str, str]], by: str,
                         iterations: int = 60, progress: Callable[[str], None] | None = None,
                         model_kind: str = "steady", processes: int = 1, kernels: bool = False
                         ) -> list[tuple[str, str, list[CaseError], Setting]]:
    """Every group's rows (by `source_id` or `vendor`; all splits) scored with a setting that never saw
    them: stack profiles refitted without the group's rows; by source, family calibrations fitted on the
    source's kernel figures dropped too. By vendor those stay: a vendor's kernel microbenchmarks (GEMM,
    STREAM, collectives) are what a chip family is calibrated from by design, before any serving result,
    and none of them is a scored figure. A stack left without rows of its own, and any (engine, stack) without a
    fit, takes engine.measured_stack_prior of its base profile over the fits that stand without the group.
    Groups whose rows fitted nothing are scored with the stored setting. The fits run the steady-state model;
    `model_kind` prices the scored rows (published_errors: 'sim' simulates the closed-loop ones). `kernels` (by
    vendor): the family calibrations fitted on kernel figures of the vendor's chips dropped too, as for a vendor parity
    has no measurement of; only vendors with such figures and no chip measured on its own (measured_vendors)."""
    field = {"source": "source_id", "vendor": "vendor"}[by]
    groups = sorted({r[field] for r in rows})
    if kernels:
        groups = [g for g in groups if g not in measured_vendors() and kernel_fits_of_source(kernel_rows, g, by, True)]
    # each group's refits and scores are independent of the others': one group a process (its simulator runs then
    # stay in that process), in order, the same numbers as one after another
    each = functools.partial(_left_out, rows=rows, kernel_rows=kernel_rows, by=by, iterations=iterations,
                             model_kind=model_kind, processes=1 if processes > 1 and len(groups) > 1 else processes,
                             kernels=kernels)
    return map_chunks(each, groups, processes, progress=(lambda found: progress(found[0])) if progress else None)


def _left_out(group: str, rows: Sequence[Mapping[str, str]], kernel_rows: Sequence[Mapping[str, str]], by: str,
              iterations: int, model_kind: str, processes: int, kernels: bool = False
              ) -> tuple[str, str, list[CaseError], Setting]:
    """One group of `leave_one_out_errors`: (group, what was left out, its rows' errors, the setting)."""
    field = {"source": "source_id", "vendor": "vendor"}[by]
    stacks = [p for p in catalog.engines() if p.base]
    mine = [r for r in rows if r[field] == group]
    ids = {r["case_id"] for r in mine}
    dropped = kernel_fits_of_source(kernel_rows, group, by, kernels)
    setting = without_kernel_fits(stored_setting(), dropped)
    refit = [p for p in stacks if ids & set(p.rows)]
    emptied = []
    for p in refit:
        others = [r for r in stack_rows(rows, p.base, p.stack) if r["case_id"] not in ids]
        if others:
            profile, _, _ = fit_stack(catalog.engine(p.base), p.stack, others, setting, iterations,
                                      twins=[r for r in rows if r["case_id"] not in ids])
            setting = dataclasses.replace(setting, engines={**setting.engines, (p.base, p.stack): profile})
        else:
            emptied.append(p)
    # the fits that stand without the group: an (engine, stack) left without rows, and any without a fit of
    # its own, takes the software maturity these show (measured_stack_prior), never the group's
    fitted = tuple(setting.engines.get((p.base, p.stack), p) for p in stacks if p not in emptied)
    # each (engine, stack) with a fit standing is priced at it, as the stored setting prices it (with `stacks` set,
    # Setting.apply gave every pair the stack's measured prior, the mean of its fits: vLLM's ROCm rows of a source
    # that fitted nothing scored 3.7% left out against 6.6% after, report-only tester fuzzDF 2)
    setting = dataclasses.replace(setting, stacks=fitted, engines={
        **{(p.base, p.stack): p for p in fitted}, **{
            (p.base, p.stack): measured_stack_prior(catalog.engine(p.base), p.stack, fitted) for p in emptied}})
    measured_on = {r["chip"] for r in kernel_rows if r["case_id"] in dropped}
    on = sorted({setting.calibrations[c].id for c in measured_on if c in setting.calibrations})
    kept = [p for p in refit if p not in emptied]
    # the group's rows other groups' fits are measured against (a stack fit's NVIDIA twins, case id + '-nv'): kept
    twins = sorted(i for i in ids if i.endswith("-nv") and any(i.removesuffix("-nv") in p.rows for p in stacks))
    left = "; ".join(filter(None, [
        f"refitted {', '.join(p.id for p in kept)} without its rows" if kept else "",
        (f"{', '.join(p.id for p in emptied)} left without rows: priced at the software maturity of the fits that "
         f"stand ({', '.join(p.id for p in fitted) or 'none'})") if emptied else "",
        (f"dropped the {len(dropped)} kernel figures measured on its chips from the family calibrations (those "
         f"chips priced on {', '.join(on)})") if dropped and kernels else
        (f"dropped {', '.join(sorted(dropped))} from the family calibrations (refitted on their other rows, "
         "if any)") if dropped else "",
        "" if refit or dropped else "its rows fitted nothing" + (
            f" ({len(twins)} are the twins stack fits measure their rows against, kept)" if twins else "")]))
    return group, left, published_errors(mine, hook=setting.apply, model_kind=model_kind, processes=processes), setting
