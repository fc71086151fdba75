"""Refits as records: engine profiles, prediction intervals, the training profile and chip calibrations are
fitted here into `Refit`s (a file's name under the data folder, its TOML text, the fit's figures), and
`write_refits` puts them in the user's folder (~/.parity or $PARITY_HOME) or a folder the caller names,
never into the installed package."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from parity import catalog
from parity.calibrate import (BOUND_LOSS_SLACK, Point, at_bounds, calibration_toml, field_counts, field_value,
                              fit_calibration, fit_start, fitted_fields, held_at, kind_error)
from parity.errors import ParityError
from parity.hardware import MEASURABLE_FIELDS, Calibration
from parity.validate import (SIZING_PARAMETERS, CaseError, engine_refit_text, fit_engine, intervals_from, scenarios_of,
                             sizing_rows, unfitted)
from parity.validate_training import TrainingCase, fit_training_profile, training_profile_toml

__all__ = ["Refit", "CalibrationRefit", "refit_engines", "refit_intervals", "refit_training", "refit_calibration",
           "destination", "repo_data_dir", "write_refits", "WRITE_TO"]

WRITE_TO = ("user", "repo")


@dataclass(frozen=True, slots=True, kw_only=True)
class Refit:
    """One refitted file: `name` is its path under a data folder (engines/trtllm.toml), `text` its TOML;
    the fit's loss (mean |ln(predicted / measured)|) before and after, on `rows` calibration rows (a chip
    calibration's: the mean over its points, where the fit weighs each kind of kernel alike; its summary says both);
    `loss_replaced`: the loss on the same rows of the file in use that it would replace (NaN: not compared)."""

    name: str
    text: str
    rows: int
    loss_before: float
    loss_after: float
    summary: str
    loss_replaced: float = float("nan")

    @property
    def worse(self) -> bool:
        """Whether the refit fits its rows worse than the file in use it would replace (an under-iterated fit)."""
        return self.loss_after > self.loss_replaced + 1e-9


def refit_engines(rows: Sequence[Mapping[str, str]], iterations: int, date: str,
                  progress: Callable[[str, int], Callable[[float], None]] | None = None) -> list[Refit]:
    """Each engine profile refitted on its calibration rows: the step and TTFT parameters on aggregated
    rows and disaggregated rows with known workers, then the hand-off and sizing parameters on disaggregated
    rows, each only where enough of them bear on it (validate.unfitted, validate.sizing_rows).
    `progress(label, total)` returns a callback the fit calls once per evaluation."""
    calibration = [r for r in rows if r["split"] == "calibration"]
    made = []
    for engine_id in sorted({r["engine"] for r in calibration}):
        mine = [r for r in calibration if r["engine"] == engine_id]
        known = scenarios_of([r for r in mine if r["mode"] == "agg" or r["decode_workers"]])
        disagg = scenarios_of([r for r in mine if r["mode"] == "disagg"])
        tick = progress(f"fitting {engine_id} on {len(known)} rows", iterations * 2) if progress else None
        fitted, before, after = fit_engine(catalog.engine(engine_id), known, iterations=iterations, progress=tick)
        # each sizing parameter moves only where enough rows bear on it (unfitted); the others keep their stored values
        sizing = sizing_rows(r for r, _ in disagg)
        moved = tuple(p for p in SIZING_PARAMETERS if not unfitted(sizing[p], 1))
        if moved:
            tick = progress(f"fitting disaggregated {engine_id} on {len(disagg)} rows", 100) if progress else None
            fitted, _, _ = fit_engine(fitted, disagg, moved, iterations=50, progress=tick)
        text = engine_refit_text(catalog.engine_text(engine_id), fitted, len(known), before, after, date, sizing)
        made.append(Refit(name=f"engines/{engine_id}.toml", text=text,
                          rows=len(known), loss_before=before, loss_after=after, loss_replaced=before,
                          summary=f"{engine_id}: loss {before:.3f} -> {after:.3f} on {len(known)} calibration rows "
                                  f"(+ {len(disagg)} disaggregated rows for the hand-off and sizing, refitted on "
                                  f"them: {', '.join(moved) or 'none, too few bear on each'})"))
    return made


def refit_intervals(errors: Sequence[CaseError], date: str, model_kind: str = "steady") -> Refit:
    """The 80% prediction intervals from half of the holdout rows' residuals of the model that made them
    (uncertainty.toml for the steady model, uncertainty_sim.toml for the simulator)."""
    if not errors:
        raise ParityError("no measured case could be predicted, so no intervals can be fitted")
    made = intervals_from(errors, date)
    if model_kind == "sim":
        made = replace(made, method=made.method + ", of the step-level simulator's predictions")
    covered = ", ".join(f"{metric} {share:.0%}" for metric, share in made.coverage.items())
    return Refit(name="uncertainty_sim.toml" if model_kind == "sim" else "uncertainty.toml", text=made.to_toml(),
                 rows=sum(b.count for b in made.bands.values()),
                 loss_before=float("nan"), loss_after=float("nan"),
                 summary=f"intervals: {len(made.bands)} bands; coverage on rows that did not build them {covered}")


def refit_training(cases: Sequence[TrainingCase], date: str) -> Refit:
    """The training profile's fitted factors on the calibration rows (training.toml, comments kept)."""
    fitted, before, after = fit_training_profile(catalog.training_profile(), cases)
    named = [c.case_id for c in cases if c.split == "calibration"]
    rows = len(named)
    text = training_profile_toml(catalog.training_profile_text(), fitted, rows, before, after, date, row_ids=named)
    return Refit(name="training.toml", text=text, rows=rows, loss_before=before, loss_after=after,
                 summary=f"training profile: loss {before:.3f} -> {after:.3f} on {rows} calibration rows")


@dataclass(frozen=True, slots=True)
class CalibrationRefit:
    """A chip's refitted calibration: the file (`refit`) and the Calibration it holds; `by_kind`: the loss
    the fit minimises (calibrate.kind_error) from where it started and fitted; `held`: the fields whose fit
    went to a bound where the points price as well at the chip's value before, kept at that value (not measured);
    `pinned`: those whose fit went to a bound where they price worse at the value before, kept at the bound;
    `bound_errors`: for each of both, the loss with it at the bound and held at the value before (the rest fitted
    again); `replay_kernel_s`: with CUDA-graph replays, their fixed cost a kernel as fitted, where the file keeps the
    chip's eager launch cost (None: the times were eager)."""

    refit: Refit
    fitted: Calibration
    by_kind: tuple[float, float]
    held: tuple[str, ...] = ()
    replay_kernel_s: float | None = None
    pinned: tuple[str, ...] = ()
    bound_errors: Mapping[str, tuple[float, float]] = field(default_factory=dict)


def refit_calibration(chip_id: str, points: Sequence[Point], date: str, method: str,
                      software: Mapping[str, str], replays: bool = False) -> CalibrationRefit:
    """A chip's calibration fitted from the generic prior on measured kernel times (calibration/CHIP.toml); what no
    point measures keeps the chip's current value (calibrate.fit_start). A field whose fit goes to its bound is
    fitted again held at the current value: held there where the points price as well (within BOUND_LOSS_SLACK),
    since they do not pin it, else kept at the bound, which they price better. `replays`: the times are CUDA-graph
    replays, whose fixed cost a kernel is fitted but not written as kernel_overhead_s, the cost of a kernel launched
    outside graphs. The file records which fields the points measured, and with how many (measured_fields)."""
    source = "; ".join(f"{k}={v}" for k, v in software.items()) or "measured"
    chip = catalog.chip(chip_id)
    current = catalog.calibration(chip)
    prior = fit_start(catalog.prior_calibration(), current, points)
    fitted, before, after = fit_calibration(chip, points, prior, date, method, source)
    at_bound = kind_error(points, chip, fitted)
    trials = {name: fit_calibration(chip, points, held_at(prior, current, [name]), date, method, source, held=[name])
              for name in at_bounds(fitted, fitted_fields(points))}
    errors = {name: (at_bound, kind_error(points, chip, trial[0])) for name, trial in trials.items()}
    held = tuple(name for name, (bound, kept) in errors.items() if kept <= bound + BOUND_LOSS_SLACK)
    pinned = tuple(name for name in errors if name not in held)
    notes = [method]
    if held:
        notes.append(f"held at {current.id}'s values, since fitted they went to a bound where the points price as "
                     f"well (kind-weighted error at the bound, then held): " + _bound_said(held, current, errors))
    if pinned:
        notes.append(f"at the fit's bound, where the points price better than at {current.id}'s values "
                     f"(kind-weighted error at the bound, then held): " + _bound_said(pinned, fitted, errors))
    if len(held) == 1:
        fitted, before, after = trials[held[0]]
    elif held:
        fitted, before, after = fit_calibration(chip, points, held_at(prior, current, held), date, method, source,
                                                held=held)
    fitted = replace(fitted, method="; ".join(notes))
    prior = held_at(prior, current, held)
    # what the fit minimises weighs each kind of kernel alike; the mean over points may rise while it falls
    by_kind = kind_error(points, chip, prior), kind_error(points, chip, fitted)
    replay_s = None
    written = fitted
    if replays and "kernel_overhead_s" not in held:
        replay_s = fitted.kernel_overhead_s
        written = replace(fitted, kernel_overhead_s=current.kernel_overhead_s,
                          method=f"{fitted.method}; kernel_overhead {_said('kernel_overhead_s', current)} kept from "
                                 f"{current.id}: CUDA-graph replays do not time an eager launch (theirs, fitted with "
                                 f"the efficiencies: {replay_s * 1e6:.3f} us a kernel)")
    measured = {name: n for name, n in field_counts((p.kind, p.kernel.fmt) for p in points).items()
                if name not in held and not (name == "kernel_overhead_s" and replay_s is not None)}
    written = _recorded(written, measured, current)
    refit = Refit(name=f"calibration/{chip_id}.toml", text=calibration_toml(written, before, after, software, by_kind),
                  rows=len(points), loss_before=before, loss_after=after,
                  summary=f"{chip_id}: {len(points)} points; kernel-time error (mean |log|) over the points "
                          f"{before:.0%} with the prior, {after:.0%} fitted; over the {len({p.kind for p in points})} "
                          f"kinds of kernel alike, which the fit minimises, {by_kind[0]:.0%} and {by_kind[1]:.0%}")
    return CalibrationRefit(refit, written, by_kind, held, replay_s, pinned, errors)


def _bound_said(names: Sequence[str], cal: Calibration, errors: Mapping[str, tuple[float, float]]) -> str:
    """'memory_efficiency 0.9221 (5.0%, 5.1%)': each field's value in `cal` and its errors at the bound and held."""
    return ", ".join(f"{name} {_said(name, cal)} ({errors[name][0]:.1%}, {errors[name][1]:.1%})" for name in names)


def _recorded(cal: Calibration, measured: Mapping[str, int], current: Calibration) -> Calibration:
    """`cal` with the fields its points measured (and how many: measured_fields), and the calibration whose values
    the others keep (unmeasured_from). A field `current` measured on this chip stays measured where the new points
    do not reach it (GEMMs imported before, copies now): by its record, or by its stored points where it has none
    (the shipped H200 sweep)."""
    kept = dict(current.measured_fields)
    if current.measured and current.chip == cal.chip and not kept:
        kept = field_counts((str(p.get("kind", "")), str(p.get("label", "bf16")).split(" ")[0])
                            for p in current.points)
    own = current.chip == cal.chip and current.measured
    merged = {**(kept if own else {}), **measured}
    counts = {name: merged[name] for name in MEASURABLE_FIELDS if name in merged}
    unmeasured = "" if len(counts) == len(MEASURABLE_FIELDS) else (
        current.unmeasured_from if own and current.unmeasured_from else current.id)
    return replace(cal, measured_fields=counts, unmeasured_from=unmeasured)


def _said(name: str, cal: Calibration) -> str:
    """A FITTED field's value in `cal` as a file says it: '25.701 us', '0.9221'."""
    value = field_value(cal, name)
    return f"{value * 1e6:.3f} us" if name == "kernel_overhead_s" else f"{value:.4f}"


def repo_data_dir(start: Path) -> Path:
    """The data folder of the parity checkout that holds `start` (src/parity/data beside a pyproject.toml)."""
    for folder in (start.resolve(), *start.resolve().parents):
        data = folder / "src" / "parity" / "data"
        if (folder / "pyproject.toml").is_file() and data.is_dir():
            return data
    raise ParityError(f"--write-to repo: {start} is not inside a parity checkout (no src/parity/data beside a "
                      "pyproject.toml above it); run it from the repository")


def destination(write_to: str, cwd: Path) -> Path:
    """Where refits go: 'user' is ~/.parity (or $PARITY_HOME), which every prediction reads before the
    package's data; 'repo' is the src/parity/data of the checkout holding `cwd`, and only when parity runs
    from it (an editable install), so that what is refitted next in the same run reads what was written."""
    if write_to == "user":
        return catalog.user_dir()
    if write_to != "repo":
        raise ParityError(f"--write-to takes {' or '.join(WRITE_TO)}, got {write_to!r}")
    folder = repo_data_dir(cwd)
    if folder.resolve() != catalog.data_dir().resolve():
        raise ParityError(f"--write-to repo: parity runs from {catalog.data_dir()}, not from {folder}; install "
                          "this checkout editable (pip install -e .) to refit its data")
    return folder


def write_refits(refits: Iterable[Refit], folder: Path,
                 write: Callable[[Path, str], None]) -> list[Path]:
    """Each refit written under `folder` by `write(path, text)` (atomic in the caller); the catalog's
    caches are cleared so what follows in the same process uses the new files."""
    written = []
    for refit in refits:
        path = folder / refit.name
        write(path, refit.text)
        written.append(path)
    for cached in (catalog.engines, catalog.uncertainty_table, catalog.training_profile, catalog.calibrations):
        cached.cache_clear()
    return written
