"""Ways a training prediction lies outside what parity was checked on: its flags, the envelope of the published runs'
layouts, ZeRO-3 spans and pipelines none of them ran."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from parity import catalog
from parity.flags import Flag
from parity.hardware import System, per_die
from parity.model import Model
from parity.units import counted
from parity.uncertainty.cases import assumed_emulation, context_flags
from parity.uncertainty.chips import (_calibration_placed, _training_unchecked, foreign_calibration_flag, specs_flag,
                                      status_flag, user_file_flag)
from parity.uncertainty.what_if import idle_units_flag, what_if_flag

def training_flags(system: System, model: Model, seq_len: float, precision: str = "",
                   layouts: Sequence[Any] = ()) -> tuple[Flag, ...]:
    """Ways a training prediction of `model` on `system` at sequences of `seq_len` tokens in GEMMs of `precision`,
    in `layouts` (training layouts: their zero and pp), lies outside what parity was checked on: the model's own
    flags (config keys parity does not model, as case_flags carries them for serving), sequences past the model's
    context window (context_flags, as serving says it), a chip with no measured calibration, one that is not
    shipping and one whose specs are assumed (as case_flags says them for serving), a format the chip
    emulates (assumed_emulation, as serving flags it), architecture features no published training run's model
    carries (catalog.training_features: Mamba2, linear attention, windows, chunks ...; serving's "features never
    validated"), a chip family no published training run was measured on (catalog.training_families), ZeRO-3 with
    pipeline parallelism where no published run combines them, and a layout past the published runs' envelope
    (_outside_envelope: cp, TP over scale-up domains, chips)."""
    chip = system.chip
    cal = catalog.calibration(chip)
    first, last = _calibration_placed(chip, cal)  # as case_flags places them
    out = [*model.flags, *context_flags(model, seq_len), what_if_flag(system), idle_units_flag(system, model),
           user_file_flag(system), first, foreign_calibration_flag(chip, cal),
           assumed_emulation(cal, chip, (precision,)) if precision else None, status_flag(chip),
           specs_flag(chip), last]
    if never := sorted(model.features - catalog.training_features()):
        out.append(Flag("features never validated",
                        f"features never validated: {', '.join(never)} (no published training run's model carries "
                        f"them; those carry {', '.join(sorted(catalog.training_features()))})",
                        f"features never validated in training: {', '.join(never)}"))
    out += [_training_unchecked(chip), _zero3_pipeline(layouts), _zero3_span(system, layouts),
            *_outside_envelope(system, layouts)]
    return tuple(f for f in out if f)


# a training job on more than this many times the chips of the largest scored published run (MegaScale's 12,288
# A100s) is flagged: its data-parallel all-reduces and scale-out fabric are extrapolated past one doubling of what was
# measured (an assumption: the margin, not a measurement)
ENVELOPE_CHIPS_FACTOR = 2.0


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainingEnvelope:
    """The widest layouts the scored published training runs (training_published.csv, calibration and holdout rows)
    were measured at: cp the largest context-parallel degree, tp_domains the most scale-up domains one tensor-parallel
    group spanned (in ranks of a die, hardware.per_die), chips the most chips of one run, runs how many."""

    cp: int
    tp_domains: int
    chips: int
    runs: int


@functools.cache
def training_envelope() -> TrainingEnvelope:
    """The scored published runs' TrainingEnvelope, read once from the package's own training_published.csv (the
    rows shipped with parity: cp 2, TP within one scale-up domain, 12,288 chips, 67 runs)."""
    rows = [r for r in catalog.measurements("training_published") if r["split"] != "reference"]
    return TrainingEnvelope(
        cp=max(int(r["cp"]) for r in rows),
        tp_domains=max(_tp_domains(catalog.system(r["system"]), int(r["tp"])) for r in rows),
        chips=max(int(r["chips"]) for r in rows), runs=len(rows))


def _tp_domains(system: System, tp: int) -> int:
    """Scale-up domains one tensor-parallel group of `tp` ranks spans on `system` (ranks of a die)."""
    return -(-tp // per_die(system).scale_up_domain_chips)


def _outside_envelope(system: System, layouts: Sequence[Any]) -> list[Flag]:
    """Flags where a training layout lies past the published runs' envelope (training_envelope): context parallel
    above the largest measured cp, a tensor-parallel group over more scale-up domains than any measured run's (its
    all-reduces run over scale-out, every layer), or more than ENVELOPE_CHIPS_FACTOR times the largest measured run's
    chips. Layouts count ranks; a multi-die package's chips are its ranks over its dies."""
    if not layouts:
        return []
    edge, out = training_envelope(), []
    runs = f"{edge.runs} scored published runs"
    cp = max(l.cp for l in layouts)
    if cp > edge.cp:
        out.append(Flag("context parallel beyond the runs checked",
                        f"context parallel {cp}: the {runs} checked cp up to {edge.cp}",
                        f"cp {cp}, checked to {edge.cp}"))
    tp = max(l.tp for l in layouts)
    if (domains := _tp_domains(system, tp)) > edge.tp_domains:
        domain = per_die(system).scale_up_domain_chips
        out.append(Flag("tensor parallel beyond the runs checked",
                        f"tensor parallel {tp} over {domains} scale-up domains of {domain} ranks: the {runs} kept "
                        f"each TP group within {counted(edge.tp_domains, 'scale-up domain')}",
                        f"TP {tp} over {domains} domains, checked within {edge.tp_domains}"))
    chips = max(l.chips for l in layouts) // system.chip.dies
    if chips > ENVELOPE_CHIPS_FACTOR * edge.chips:
        out.append(Flag("chips beyond the runs checked",
                        f"{chips:,} chips: over {ENVELOPE_CHIPS_FACTOR:g} times the largest of the {runs} "
                        f"({edge.chips:,})", f"{chips:,} chips, checked to {edge.chips:,}"))
    return out


def _dp_domains(system: System, tp: int, cp: int, dp: int) -> int:
    """Scale-up domains one data-parallel group of a layout spans: its dp x cp peers, tp ranks apart (Megatron-Core's
    rank order tp-cp-ep-dp-pp), counted in ranks of a die (hardware.per_die)."""
    return max(math.ceil(tp * cp * dp / per_die(system).scale_up_domain_chips), 1)


# The holdout errors of tokens/s per chip of the ZeRO-3 runs `_zero3_span` names, as `parity validate --section
# training` scores them (tests/test_training_dp.py keeps them equal to the live scores): overlapped runs
# within the widest span checked, and DeepSpeed's synchronous ZeRO-3 of 2021 (Narayanan et al. 2021, Table 2) beyond
ZERO3_CHECKED_ERRORS = (-0.19, 0.18)
ZERO3_SYNCHRONOUS_WORST = 1.17


@functools.cache
def _zero3_checked() -> tuple[tuple[int, int], ...]:
    """(scale-up domains its data-parallel group spans, dp) of each scored published run with overlapped ZeRO-3, read
    once (training_flags runs for every row of a training comparison or fleet)."""
    return tuple((_dp_domains(catalog.system(r["system"]), int(r["tp"]), int(r["cp"]), int(r["dp"])), int(r["dp"]))
                 for r in catalog.measurements("training_published")
                 if int(r["zero"]) == 3 and r["split"] != "reference"
                 and (r.get("grad_overlap") or "overlap") != "none")


def _zero3_span(system: System, layouts: Sequence[Any]) -> Flag | None:
    """A flag where a ZeRO-3 layout's data-parallel group spans more scale-up domains than any scored published run
    with overlapped ZeRO-3 (training_published.csv, calibration and holdout rows): its per-layer weight all-gathers
    and gradient reduce-scatters over that many domains are unchecked, and the only runs beyond, DeepSpeed's
    synchronous ZeRO-3 of 2021, parity over-predicts."""
    spans = [(_dp_domains(system, l.tp, l.cp, l.dp), l.dp * l.cp) for l in layouts if l.zero == 3]
    if not spans:
        return None
    checked = _zero3_checked()
    widest = max(span for span, _ in checked)
    domains, ranks = max(spans)
    if domains <= widest:
        return None
    sizes = sorted(dp for _, dp in checked)
    low, high = ZERO3_CHECKED_ERRORS
    kind = "ZeRO-3 beyond the spans checked"
    return Flag(kind, f"ZeRO-3 over {domains:,} scale-up domains ({ranks:,} data-parallel ranks): published runs "
                      f"checked overlapped ZeRO-3 over at most {widest} (dp {sizes[0]} to {sizes[-1]}, holdout error "
                      f"{low:+.0%} to {high:+.0%}); beyond, DeepSpeed's synchronous ZeRO-3 of 2021 is over-predicted "
                      f"by up to {ZERO3_SYNCHRONOUS_WORST:.0%} (parity train --validate)",
                f"ZeRO-3 over {domains:,} domains, checked to {widest}")


def _zero3_pipeline(layouts: Sequence[Any]) -> Flag | None:
    """A flag where a layout shards weights with ZeRO-3 across a pipeline (pp > 1) and no published training run
    (training_published.csv, every split) does: its weight all-gathers per micro-batch and stage are unchecked."""
    if not any(l.zero == 3 and l.pp > 1 for l in layouts):
        return None
    rows = catalog.measurements("training_published")
    if any(int(r["zero"]) == 3 and int(r["pp"]) > 1 for r in rows):
        return None
    kind = "ZeRO-3 with pipeline parallel"
    return Flag(kind, f"{kind} (pp > 1): none of the {len(rows)} published training runs combines them", kind)
