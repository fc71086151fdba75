"""A system's training row of `compare`: its fastest layout that fits, on the fewest whole systems on which one
does (`training.search_fewest_systems`, as `parity train` sizes a job), every system's job then sized alike, and the
memory savings that bind it."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import replace

from parity import catalog
from parity.compare.record import Comparison, _calibrated, _per_system, held_clocks_note, system_power_flags
from parity.cost import emulation, native_format
from parity.errors import InfeasiblePlan
from parity.hardware import System, rank_holder
from parity.model import Model
from parity.parallel import map_chunks
from parity.training.layout import RECOMPUTE, TrainingLayout
from parity.training.search import SearchSpace, search_fewest_systems, search_training
from parity.training.step import TrainingResult
from parity.uncertainty import flag_note, training_flags, training_interval


def _train(system: System, model: Model, chips: int | None, seq_len: int, global_batch: int,
           precision: str, sized: bool = False) -> Comparison:
    """One system's training row: its fastest layout on `chips` chips or, where None, on the fewest whole systems
    on which a layout fits (as `parity train` sizes a job; the note says how many where more than one, as it does
    where `sized`: `chips` is the whole systems compare sized every system's job to, _same_size). A format the chip
    has no unit for trains in its native fallback (cost.native_format), as the note says."""
    chip = system.chip
    cal = catalog.calibration(chip)
    precision, swapped = native_format(precision, chip)
    emulated_on, emulated = emulation(precision, chip)
    try:  # the fitted training profile, as `parity train` prices the same layouts
        n, found = search_fewest_systems(model, system, seq_len, global_batch, cal, catalog.training_profile(),
                                         precision=precision, top=1, chips=chips)
    except InfeasiblePlan:
        n, found = chips or system.chips, None
    picked = [found.best[0].layout] if found is not None and found.best and found.best[0].layout else []
    trained = training_flags(system, model, seq_len, precision, picked)  # the rate's flags: they widen its interval
    raised = trained + system_power_flags(system)
    common = dict(system=system.id, chip=chip.id, model=model.name, workload="train", weights=precision,
                  emulated_on=emulated_on, expert_emulated_on=emulated_on if "moe" in model.features else "",
                  kv_cache="-", mode="train", calibrated=_calibrated(chip, cal),
                  kernel_figures=catalog.calibration_statement(chip, cal).verdict, flags=raised)
    systems = f"on {n // system.chips} systems" if (sized or not chips) and n > system.chips else ""
    if found is None or not found.best:
        why = (f"does not fit{' ' + systems if systems else ''}: {found.closest.memory.shortfall_bytes / 1e9:.1f} GB "
               f"more per {rank_holder(chip.dies)} needed"
               if found is not None and found.closest is not None
               else "no layout divides the model")
        return Comparison(**common, layout="-", chips=n, fits=False, tokens_per_s_per_chip=0.0,
                          prefill_tokens_per_s_per_chip=float("nan"), tokens_per_s_per_system=0.0,
                          tokens_per_s_per_kw=0.0, tokens_per_s_per_gb=0.0,
                          note="; ".join([*flag_note([f for f in raised if f.kind == "what-if chip"]), why]))
    best = found.best[0]
    per_chip = float(best.tokens_per_s_per_chip)
    # per system = every chip of the system busy (the caption's words): a job asking fewer (--chips) counts all of
    # them at its per-chip rate, as serving counts every chip at a worker's; where no layout divides the system's
    # chips it trains on fewer and the rest idle, the system's rates theirs (as fleet counts them), the note says
    share = n / system.chips if n < system.chips and not chips else 1.0
    whole, per_kw, per_gb = (share * v for v in _per_system(system, per_chip))
    if n < system.chips and chips:
        systems = (f"the job asks for {n:,} of the system's {system.chips:,} chips (per system, per kW and per GB: all "
                   f"{system.chips:,} at its per-chip rate)")
    elif share < 1.0:
        systems = (f"no layout divides the system's {system.chips:,} chips: trains on {n:,} of them, the rest idle "
                   f"(per system, per kW and per GB: the {n:,} that train)")
    # the per-chip rate's own 80% interval, as `train` prints it for the layout (uncertainty.training_interval)
    low, high = training_interval(chip, per_chip, trained, mfu=float(best.mfu)) or (float("nan"), float("nan"))
    return Comparison(**common, layout=str(best.layout) if best.layout else "-", chips=n, fits=True,
                      tokens_per_s_per_chip=per_chip, tokens_per_s_per_chip_low=low, tokens_per_s_per_chip_high=high,
                      prefill_tokens_per_s_per_chip=float("nan"),
                      tokens_per_s_per_system=whole, tokens_per_s_per_kw=per_kw, tokens_per_s_per_gb=per_gb,
                      mfu=float(best.mfu), mfu_peak=best.peak_math, mfu_bf16=float(best.mfu_bf16),
                      memory_bound=binding_savings(model, system, n, seq_len, global_batch, precision, best),
                      note="; ".join(filter(None, [systems, swapped, *flag_note(raised), emulated])),
                      assumptions=tuple(filter(None, [*best.assumptions, held_clocks_note(system)])))


def memory_savings(layout: TrainingLayout) -> tuple[str, ...]:
    """What a training layout gives up to fit in memory: ZeRO-3 (weights gathered before every forward and backward)
    and full recomputation (every layer's forward run twice), each of which costs time ('ZeRO-3', 'full recompute');
    () where it takes neither."""
    return (("ZeRO-3",) if layout.zero == 3 else ()) + (("full recompute",) if layout.recompute == "full" else ())


# a memory saving the fastest layout takes binds only where every layout without it that fits is slower by more than
# this share of the rate: a near tie is a choice, not a need (the share fleet_training.NEAR_FASTEST calls no gain)
SAVINGS_AS_GOOD = 0.05
# the search space without each saving
_WITHOUT = {"ZeRO-3": SearchSpace(zero=(0, 1, 2)),
            "full recompute": SearchSpace(recompute=tuple(r for r in RECOMPUTE if r != "full"))}


def binding_savings(model: Model, system: System, chips: int, seq_len: int, global_batch: int, precision: str,
                    best: TrainingResult) -> tuple[str, ...]:
    """The memory savings (memory_savings) of the fastest layout `best` on `chips` chips that memory forces: each for
    which no layout of those chips without it fits at a rate within SAVINGS_AS_GOOD of best's (one search each,
    under 0.2 s). Llama-3.1-70B on 256 H100s picked ZeRO-3 at 911.7 tok/s/chip where ZeRO-1 fits at 909.9: not
    bound, where the note had said 'memory binds' (report-only tester, training-infrastructure lead 2)."""
    if best.layout is None:
        return ()
    floor = (1.0 - SAVINGS_AS_GOOD) * float(best.tokens_per_s_per_chip)

    def binds(saving: str) -> bool:
        try:
            found = search_training(model, system, chips, seq_len, global_batch, catalog.calibration(system.chip),
                                    catalog.training_profile(), precision, _WITHOUT[saving], top=1)
        except InfeasiblePlan:
            return True
        return not found.best or float(found.best[0].tokens_per_s_per_chip) < floor
    return tuple(s for s in memory_savings(best.layout) if binds(s))


def memory_text(row: Comparison, larger: Comparison | None) -> str:
    """'memory binds at 16 chips: ZeRO-3, full recompute (on 32: 1,143/chip, MFU 52%)': a training row whose fastest
    layout that fits needs memory savings (Comparison.memory_bound), so its per-chip rate, and every ratio to it, holds
    at this job size; in brackets the rate of a job of twice the whole systems (`larger`, None where not run), with
    the savings that still bind there. '' where none binds. The H100's Llama-3.1-70B at 16 chips (ZeRO-3, full
    recompute, 40% MFU) made the B200 3.09x it, 2.31x at 64 chips (report-only tester fuzzDK 2)."""
    if not row.fits or not row.memory_bound:
        return ""
    more = ""
    if larger is not None and larger.fits:
        still = f"; {', '.join(larger.memory_bound)} there too" if larger.memory_bound else ""
        more = f" (on {larger.chips:,}: {larger.tokens_per_s_per_chip:,.0f}/chip, MFU {larger.mfu:.0%}{still})"
    return f"memory binds at {row.chips:,} chips: {', '.join(row.memory_bound)}{more}"


def _larger_jobs(rows: list[Comparison], systems: list[System], model: Model, seq_len: int, global_batch: int,
                 precision: str, processes: int) -> list[Comparison]:
    """The training rows with memory_text in their notes: each memory-bound row's job re-searched on twice its whole
    systems (a training search takes well under a second: Llama-3.1-70B on 32 H100s, 0.03 s; DeepSeek-R1 on 512,
    0.2 s), so the note gives the rate a larger job reaches."""
    larger = _trained_on({i: (s, 2 * math.ceil(r.chips / s.chips) * s.chips)
                          for i, (r, s) in enumerate(zip(rows, systems)) if r.fits and r.memory_bound},
                         model, seq_len, global_batch, precision, processes)
    return [replace(r, note="; ".join(filter(None, [r.note, memory_text(r, larger[i])]))) if i in larger else r
            for i, r in enumerate(rows)]


def training_chips(rows: Sequence[Comparison], systems: Sequence[System]) -> int:
    """[chips] one training job of every system that fits takes: the most of the fewest each needs (whole systems,
    rows as `_train` sized them alone); 0 where none fits."""
    return max((math.ceil(r.chips / s.chips) * s.chips for r, s in zip(rows, systems) if r.fits), default=0)


def _same_size(rows: list[Comparison], systems: list[System], model: Model, seq_len: int, global_batch: int,
               precision: str, processes: int) -> list[Comparison]:
    """The training rows re-searched on jobs of one size: `training_chips`, rounded up to whole systems of each, so
    that per-chip rates compare chips, not job sizes (each on its own fewest systems, a B200 job of 64 chips
    recomputing everything to fit beside an H100 job of 256: report-only tester DA 2). A system that fits on none
    keeps its row."""
    target = training_chips(rows, systems)
    redo = _trained_on({i: (s, math.ceil(target / s.chips) * s.chips) for i, (r, s) in enumerate(zip(rows, systems))
                        if r.fits and math.ceil(target / s.chips) * s.chips != math.ceil(r.chips / s.chips) * s.chips},
                       model, seq_len, global_batch, precision, processes)
    return [redo.get(i, row) for i, row in enumerate(rows)]


def _trained_on(jobs: dict[int, tuple[System, int]], model: Model, seq_len: int, global_batch: int, precision: str,
                processes: int) -> dict[int, Comparison]:
    """Each job's training row (a system on that many chips, _train_sized) by the job's key, over `processes`
    processes: the rows _same_size and _larger_jobs price again on other job sizes."""
    again = functools.partial(_train_sized, model=model, seq_len=seq_len, global_batch=global_batch,
                              precision=precision)
    return dict(zip(jobs, map_chunks(again, list(jobs.values()), processes))) if jobs else {}


def _train_sized(job: tuple[System, int], model: Model, seq_len: int, global_batch: int, precision: str
                 ) -> Comparison:
    """_train of a system on the chips compare sized its job to (a top-level function: map_chunks pickles it)."""
    system, chips = job
    return _train(system, model, chips, seq_len, global_batch, precision, sized=True)
