"""What users get across sources and vendors: engine profiles per software stack, scores with fits that
never saw the scored group (leave one source or vendor out), and ratios where two vendors ran the same work.

A setting is what prices a row: each chip's calibration and each (engine, stack)'s profile. Leaving a
group out rebuilds the setting without the group's rows: stack profiles are refitted on the other
calibration rows (a stack left without rows, and any engine without a fit of its own, runs at the software
maturity the fits that stand show: engine.measured_stack_prior), family calibrations fitted on the group's
kernel figures are dropped (their chips fall to the parent family or the derived prior, rebuilt without them). NVIDIA's CUDA profiles and the H200
calibration were fitted on aiconfigurator rows and parity's H200 microbenchmarks, never on published rows:
those published rows are scored with them as they are.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from parity import catalog
from parity.calibrate.family import architecture_priors, family_calibration, figures_from_rows
from parity.engine import EngineProfile, measured_stack_prior, stack_prior
from parity.hardware import Calibration, Chip
from parity.optimize import nelder_mead
from parity.predict import Scenario, predict_rows
from parity.uncertainty import Band, bands_from
from parity.validate import CaseError, case_errors, error_statistics, published_errors

__all__ = ["crossvendor_scores", "ratio_error_median", "STACK_PARAMETERS", "Setting", "twin_offsets", "fitted_row_ids", "scored_rows", "stored_setting",
           "before_setting", "fit_stack", "stack_rows", "GroupScore", "group_scores", "leave_one_out",
           "leave_one_out_errors", "vendor_bands", "bands_toml", "RatioCheck", "ratio_checks", "metric_kind",
           "stack_toml", "without_kernel_fits", "kernel_fits_of_source", "chip_files"]

# what a stack profile moves (kernel quality, tensor-parallel all-reduce and per-step cost of the engine on that
# stack), with bounds. collective_scale: under CUDA's vLLM profile, the step time AMD's TP8 offline tables take beyond
# the prediction is 107 us a sequence for Llama-3.1-405B (AMD-003) and 34 us for 70B (AMD-001): 3.1x, as the
# all-reduce bytes a token (126 x 2 x 16,384 x 2 B over 80 x 2 x 8,192 x 2 B: 3.15x), not the FLOPs (5.8x); and
# MLPerf's MI300X engines, TP1 (no all-reduce), are predicted within 27% by CUDA's GEMM scale, 43% under by 0.5
STACK_PARAMETERS: dict[str, tuple[float, float]] = {
    "gemm_scale": (0.1, 1.2), "memory_scale": (0.2, 1.05), "step_overhead_s": (0.05e-3, 30e-3),
    "collective_scale": (0.1, 1.0)}
# the stack's prior is its base engine's profile as engine.stack_prior carries it to the stack (CUDA's host side, the
# vendor libraries' kernel rates), until the stack's rows say otherwise: with the
# rows' summed |log error| as the fit's likelihood term, each parameter costs this much per unit of
# |ln(value / base value)| (a Laplace prior, so its pull on the mean loss is STACK_PRIOR_WEIGHT / rows): three rows
# cannot swing a parameter 5x to gain a few hundredths of their mean |log error| (sglang-rocm's gemm_scale went
# 1.13 -> 0.21 on its 3 rows without it), while 22 rows move it nearly freely
STACK_PRIOR_WEIGHT = 0.15


def metric_kind(metric: str) -> str:
    """decode (output tokens/s per worker or per user, TPOT) or prefill (prefill tokens/s, TTFT)."""
    return "prefill" if metric in ("prefill_tokens_per_s_per_chip", "ttft_s") else "decode"


@dataclass(frozen=True, slots=True, kw_only=True)
class Setting:
    """Calibrations by chip id and engine profiles by (engine id, stack); absent: the catalog's."""

    name: str
    calibrations: Mapping[str, Calibration]
    engines: Mapping[tuple[str, str], EngineProfile]
    # the fitted stack profiles an (engine, stack) without one of its own is priced from (measured_stack_prior);
    # None: the catalog's, as the scenario was built
    stacks: tuple[EngineProfile, ...] | None = None

    def apply(self, scenario: Scenario) -> Scenario:
        chip = scenario.system.chip
        cal = self.calibrations.get(chip.id)
        base = catalog.engine(scenario.engine.base or scenario.engine.id)
        profile = self.engines.get((base.id, chip.software_stack))
        if profile is None and self.stacks is not None:
            profile = measured_stack_prior(base, chip.software_stack, self.stacks)
        out = scenario if cal is None else dataclasses.replace(scenario, calibration=cal)
        return out if profile is None else out.with_engine(profile)


def stored_setting() -> Setting:
    """The catalog as it stands (family calibrations, stack profiles)."""
    return Setting(name="stored", calibrations={}, engines={})


def before_setting() -> Setting:
    """What parity did before families and stacks: the generic prior on every chip but the H200, and the
    CUDA-fitted profiles on every stack."""
    generic = catalog.prior_calibration()
    cals = {c.id: generic for c in catalog.chips() if not catalog.calibration(c).basis.startswith(
        "measured on this chip (")}
    engines = {(p.base, p.stack): catalog.engine(p.base) for p in catalog.engines() if p.base}
    return Setting(name="before", calibrations=cals, engines=engines, stacks=())


def fitted_row_ids() -> frozenset[str]:
    """Every measured row some stored fit used: the rows named by family calibrations and stack profiles."""
    return frozenset(r for c in catalog.calibrations() for r in c.rows) | frozenset(
        r for p in catalog.engines() for r in p.rows)


def scored_rows(rows: Iterable[Mapping[str, str]]) -> list[Mapping[str, str]]:
    """The rows no stored fit used (neither named by a fitted file nor in the calibration split)."""
    fitted = fitted_row_ids()
    return [r for r in rows if r["case_id"] not in fitted and r.get("split") != "calibration"]


def stack_rows(rows: Iterable[Mapping[str, str]], engine: str, stack: str) -> list[Mapping[str, str]]:
    """The calibration rows of one engine on one software stack."""
    return [r for r in rows if r.get("split") == "calibration" and (r.get("engine") or "generic") == engine
            and catalog.system(r["system"]).chip.software_stack == stack]


def twin_offsets(rows: Sequence[Mapping[str, str]], setting: Setting) -> dict[str, float]:
    """ln(predicted/measured) of each row's NVIDIA twin (case_id + '-nv') under a setting, by the row's id."""
    twins = [r for r in rows if r["case_id"].endswith("-nv")]
    return {e.case_id.removesuffix("-nv"): math.log(e.predicted / e.measured)
            for e in published_errors(twins, hook=setting.apply)}


def _loss(rows: Sequence[Mapping[str, str]], setting: Setting, offsets: Mapping[str, float]) -> float:
    """Mean |ln(predicted/measured)|, less the twin's where the source ran the same work on NVIDIA: such a
    row fits the ratio between the vendors, so what one source's setup costs both cancels."""
    errors = published_errors(rows, hook=setting.apply)
    logs = [abs(math.log(e.predicted / e.measured) - offsets.get(e.case_id, 0.0)) for e in errors]
    return float(np.mean(logs)) + 3.0 * (len(rows) - len(errors)) / max(len(rows), 1) if logs else 3.0


def fit_stack(base: EngineProfile, stack: str, rows: Sequence[Mapping[str, str]], setting: Setting,
              iterations: int = 60, twins: Sequence[Mapping[str, str]] = ()) -> tuple[EngineProfile, float, float]:
    """The profile of `base`'s engine on `stack` that best fits `rows` (mean absolute log error of the
    published figures, relative to the NVIDIA twin among `twins` where one exists), moving
    STACK_PARAMETERS from base's values at STACK_PRIOR_WEIGHT / len(rows) per unit of log distance from them:
    (profile, loss before, loss after), the losses without the prior's term. The prior is base's profile as
    engine.stack_prior carries it to `stack` (its kernel-quality multipliers at the vendor libraries' 1)."""
    base = stack_prior(base, stack)
    names = list(STACK_PARAMETERS)
    lows = np.log([STACK_PARAMETERS[n][0] for n in names])
    highs = np.log([STACK_PARAMETERS[n][1] for n in names])
    offsets = twin_offsets(twins, setting)

    def profile_at(x: np.ndarray) -> EngineProfile:
        values = np.exp(np.clip(x, lows, highs))
        return dataclasses.replace(base, id=f"{base.id}-{stack}", name=f"{base.name} on {stack}", stack=stack,
                                   base=base.id, rows=tuple(r["case_id"] for r in rows),
                                   **{n: float(v) for n, v in zip(names, values)})

    def with_profile(profile: EngineProfile) -> Setting:
        return dataclasses.replace(setting, engines={**setting.engines, (base.id, stack): profile})

    start = np.log([min(max(getattr(base, n), STACK_PARAMETERS[n][0] * 1.01), STACK_PARAMETERS[n][1]) for n in names])
    prior = STACK_PRIOR_WEIGHT / max(len(rows), 1)

    def objective(x: np.ndarray) -> float:
        return (_loss(rows, with_profile(profile_at(x)), offsets) + prior * float(np.sum(np.abs(x - start)))
                + float(np.sum(np.maximum(x - highs, 0) + np.maximum(lows - x, 0))))

    before = _loss(rows, with_profile(profile_at(start)), offsets)
    best, _ = nelder_mead(objective, start, iterations=iterations)
    fitted = profile_at(best)
    return fitted, before, _loss(rows, with_profile(fitted), offsets)


def stack_toml(profile: EngineProfile, before: float, after: float, date: str) -> str:
    """A stack profile as TOML: the base profile's file with the fitted values, the stack and the rows."""
    from parity.validate import engine_toml  # the same writer as the CUDA profiles
    text = engine_toml(profile, len(profile.rows), before, after, date)
    method = (f"refit of {profile.base}'s {', '.join(STACK_PARAMETERS)} on {len(profile.rows)} calibration rows of "
              f"serving_published.csv run on {profile.stack} (mean absolute log error of the published figures: "
              f"{before:.3f} before, {after:.3f} after); every other value is {profile.base}'s")
    lines = [line for line in text.splitlines() if not line.startswith(("method =", "source ="))]
    lines += [f'method = "{method}"', 'source = "parity validate --fit-stacks (measurements/serving_published.csv)"',
              f'stack = "{profile.stack}"', f'base = "{profile.base}"',
              "rows = [" + ", ".join(f'"{r}"' for r in profile.rows) + "]"]
    return "\n".join(lines) + "\n"


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
    left_out: str = ""

    def row(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def group_scores(errors: Iterable[CaseError], key: Callable[[CaseError], str], setting: str, by: str,
                 left_out: str = "") -> list[GroupScore]:
    """Median and p90 |error| and median signed error per group and kind of metric."""
    grouped: dict[tuple[str, str], list[float]] = defaultdict(list)
    for e in errors:
        grouped[(key(e), metric_kind(e.metric))].append(e.error)
    out = []
    for (group, kind), values in sorted(grouped.items()):
        out.append(GroupScore(setting=setting, by=by, group=group, kind=kind, count=len(values),
                              **error_statistics(values), left_out=left_out))
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
              for k, p in architecture_priors(measured, kept, tree, measured.date).items()}
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
    """A family calibration refitted (as scripts/fit_families.py fits it) on some of its kernel rows."""
    figures = {f.case_id: f for f in figures_from_rows(catalog.measurements("kernels_published"))}
    measured = catalog.calibration(catalog.chip("nvidia-h200-sxm"))
    fitted = family_calibration(cal.family, measured, [figures[r] for r in rows], {c.id: c for c in catalog.chips()},
                                cal.date)
    return dataclasses.replace(fitted, id=f"{cal.id}-on-{'-'.join(rows)}")


def kernel_fits_of_source(kernel_rows: Sequence[Mapping[str, str]], group: str, by: str) -> set[str]:
    """The kernel rows of source `group` that fitted a family calibration or a chip's own file: what leaving
    that source out drops. Leaving a vendor out drops none: a vendor's kernel microbenchmarks (GEMM, STREAM,
    collectives) are what its chip family is calibrated from by design, and none of them is scored."""
    if by != "source":
        return set()
    fitted = {r for c in [*(c for c in catalog.calibrations() if c.family), *chip_files()] for r in c.rows}
    return {r["case_id"] for r in kernel_rows if r["source_id"] == group and r["case_id"] in fitted}


def chip_files() -> list[Calibration]:
    """Calibrations of one chip fitted on published kernel rows (rows named; not a microbenchmark fit)."""
    return [c for c in catalog.calibrations() if c.chip != "*" and c.rows]


def leave_one_out(rows: Sequence[Mapping[str, str]], kernel_rows: Sequence[Mapping[str, str]], by: str,
                  iterations: int = 60, progress: Callable[[str], None] | None = None) -> list[GroupScore]:
    """Scores of `leave_one_out_errors`, per group and kind of metric."""
    out = []
    for group, left, errors, _ in leave_one_out_errors(rows, kernel_rows, by, iterations, progress):
        out += group_scores(errors, lambda e: group, "left out", by, left)
    return out


def leave_one_out_errors(rows: Sequence[Mapping[str, str]], kernel_rows: Sequence[Mapping[str, str]], by: str,
                         iterations: int = 60, progress: Callable[[str], None] | None = None
                         ) -> list[tuple[str, str, list[CaseError], Setting]]:
    """Every group's rows (by `source_id` or `vendor`; all splits) scored with a setting that never saw
    them: stack profiles refitted without the group's rows; by source, family calibrations fitted on the
    source's kernel figures dropped too. By vendor those stay: a vendor's kernel microbenchmarks (GEMM,
    STREAM, collectives) are what a chip family is calibrated from by design, before any serving result,
    and none of them is a scored figure. A stack left without rows of its own, and any (engine, stack) without a
    fit, takes engine.measured_stack_prior of its base profile over the fits that stand without the group.
    Groups whose rows fitted nothing are scored with the stored setting."""
    field = {"source": "source_id", "vendor": "vendor"}[by]
    stacks = [p for p in catalog.engines() if p.base]
    out: list[tuple[str, str, list[CaseError], Setting]] = []
    for group in sorted({r[field] for r in rows}):
        mine = [r for r in rows if r[field] == group]
        ids = {r["case_id"] for r in mine}
        dropped = kernel_fits_of_source(kernel_rows, group, by)
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
        setting = dataclasses.replace(setting, stacks=fitted, engines={**setting.engines, **{
            (p.base, p.stack): measured_stack_prior(catalog.engine(p.base), p.stack, fitted) for p in emptied}})
        if progress:
            progress(group)
        left = "; ".join(filter(None, [
            f"refitted {', '.join(p.id for p in refit)} without its rows" if refit else "",
            (f"dropped {', '.join(sorted(dropped))} from the family calibrations (refitted on their other rows, "
             "if any)") if dropped else "",
            "" if refit or dropped else "its rows fitted nothing"]))
        out.append((group, left, published_errors(mine, hook=setting.apply), setting))
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class RatioCheck:
    """The same work on two vendors' chips: published and predicted ratio (a over b)."""

    case_id: str
    metric: str
    a: str
    b: str
    published: float
    predicted: float

    @property
    def error(self) -> float:
        return self.predicted / self.published - 1.0

    def row(self) -> dict[str, object]:
        return {**dataclasses.asdict(self), "error": self.error}


def ratio_checks(rows: Sequence[Mapping[str, str]], setting: Setting | None = None) -> list[RatioCheck]:
    """Rows with an NVIDIA twin (case_id + '-nv': same source, model, lengths and concurrency)."""
    by_id = {r["case_id"]: r for r in rows}
    pairs = [(by_id[i], by_id[f"{i}-nv"]) for i in by_id if f"{i}-nv" in by_id]
    flat = [r for pair in pairs for r in pair]
    errors = {e.case_id: e for e in published_errors(flat, hook=(setting or stored_setting()).apply)}
    out = []
    for a, b in pairs:
        ea, eb = errors.get(a["case_id"]), errors.get(b["case_id"])
        if ea is None or eb is None:
            continue
        out.append(RatioCheck(case_id=a["case_id"], metric=a["metric"], a=a["system"], b=b["system"],
                              published=ea.measured / eb.measured, predicted=ea.predicted / eb.predicted))
    return out


def chip_of(system: str) -> Chip:
    return catalog.system(system).chip


def vendor_bands(errors: Iterable[CaseError]) -> dict[str, Band]:
    """80% bands of ln(predicted/measured) per chip vendor from cross-source residuals (decode figures);
    every catalog vendor gets one (the widest measured band where it has fewer than 5 rows)."""
    residuals: dict[str, list[float]] = {c.vendor: [] for c in catalog.chips()}
    for e in errors:
        if metric_kind(e.metric) == "decode":
            residuals[catalog.system(e.system).chip.vendor].append(math.log(e.predicted / e.measured))
    return bands_from(residuals)


def bands_toml(bands: Mapping[str, Band], date: str) -> str:
    """data/ratio_uncertainty.toml: a band per vendor (count 0: no rows of its own, the widest band)."""
    lines = [f'date = "{date}"', 'method = "10th-90th percentiles of ln(predicted/measured) of published decode '
             'figures, each scored leaving its source out of every fit (parity validate --by source), per chip vendor; '
             'vendors with fewer than 5 rows take the widest band"']
    for vendor, band in sorted(bands.items()):
        lines += ["", "[[band]]", f'vendor = "{vendor}"', f"q_low = {band.q_low:.6f}", f"q_high = {band.q_high:.6f}",
                  f"count = {band.count}"]
    return "\n".join(lines) + "\n"


def ratio_error_median(pairs: Sequence[Mapping[str, object]], key: str) -> float:
    """Median |predicted / published - 1| of the pairs' ratios under one setting (`key`: its column)."""
    values = [abs(float(p[key]) / float(p["published"]) - 1.0) for p in pairs]  # type: ignore[arg-type]
    return float(np.median(values)) if values else float("nan")


def crossvendor_scores(by: str, iterations: int, progress: Callable[[str], None] | None = None,
                       served_errors: Sequence[CaseError] | None = None) -> dict[str, list[dict[str, object]]]:
    """Published serving rows scored per source or vendor (`by`) before families and stack profiles, with
    every fit rebuilt without the group ('left out'), and with the stored fits on the rows no fit used;
    aiconfigurator's never-fitted rows as the in-source reference; and the pairs where two vendors ran the
    same work, with their predicted ratios under each setting. {'scores': [...], 'ratios': [...]}.
    `served_errors`: aiconfigurator's never-fitted errors when the caller has already computed them."""
    rows = catalog.measurements("serving_published")
    field = {"source": "source_id", "vendor": "vendor"}[by]
    group_of = {r["case_id"]: r[field] for r in rows}
    before = published_errors(rows, hook=before_setting().apply)
    after = published_errors(scored_rows(rows), hook=stored_setting().apply)
    if served_errors is None:
        held = [r for r in catalog.measurements() if r["split"] in ("holdout", "unseen")]
        # aiconfigurator's rows: scored on its never-fitted half (the CUDA profiles were fitted on the other)
        served_errors = case_errors(held, predict_rows(held))
    in_source = group_scores(served_errors,
                             lambda e: "aiconfigurator" if by == "source" else chip_of(e.system).vendor,
                             "held-out half", by, "profiles fitted on its calibration half; NVIDIA only")
    left_out = leave_one_out_errors(rows, catalog.measurements("kernels_published"), by, iterations,
                                    progress=progress)
    table = (group_scores(before, lambda e: group_of[e.case_id], "before", by)
             + [s for group, left, errors, _ in left_out
                for s in group_scores(errors, lambda e, g=group: g, "left out", by, left)]
             + group_scores(after, lambda e: group_of[e.case_id], "after (scored half)", by)
             + in_source)
    scores = sorted((s.row() for s in table), key=lambda r: (r["group"], r["kind"], r["setting"]))
    pairs_before = {c.case_id: c for c in ratio_checks(rows, before_setting())}
    pairs_left = {}  # each pair under the setting that left its group (source or vendor) out
    for group, _, _, setting in left_out:
        mine = [r for r in rows if r[field] == group or (r["case_id"].endswith("-nv") and group_of.get(
            r["case_id"].removesuffix("-nv")) == group)]
        pairs_left |= {c.case_id: c for c in ratio_checks(mine, setting)}
    split = {r["case_id"]: r["split"] for r in rows}
    nan = float("nan")
    pairs = [{**c.row(), "before": pairs_before[c.case_id].predicted if c.case_id in pairs_before else nan,
              "left_out": pairs_left[c.case_id].predicted if c.case_id in pairs_left else nan,
              "left_out_error": pairs_left[c.case_id].error if c.case_id in pairs_left else nan,
              "split": split[c.case_id]} for c in ratio_checks(rows)]
    return {"scores": scores, "ratios": pairs}
