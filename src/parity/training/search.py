"""The fastest training layout that fits: every (tp, cp, pp, vp, ep) that divides the model and the chips,
crossed with micro-batch sizes, ZeRO stages and recomputation, priced at once as numpy arrays.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, fields, replace

import numpy as np

from parity.engine import TrainingProfile
from parity.errors import InfeasiblePlan
from parity.hardware import Calibration, System, per_die
from parity.model import DenseMlp, Model, MoeMlp
from parity.training.layout import (PP_SCHEDULES, RECOMPUTE, TrainingLayout, check_dense_experts, check_micro_batch,
                                    chunk_choices, ranks_clause, stages_hold_layers)
from parity.training.step import LAYOUT_ARRAYS, TrainingResult, evaluate_arrays, format_notes, train_step
from parity.units import counted

__all__ = ["SearchSpace", "SYSTEM_MULTIPLES", "TrainingSearch", "fewer_counts", "search_dividing",
           "search_fewest_systems", "search_training", "structural_layouts", "pick_training_layout"]

_POWERS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
# whole systems a job is sized to when no chip count is given: the first on which a layout fits
SYSTEM_MULTIPLES = (1, 2, 4, 8, 16, 32, 64, 128)
_VIRTUAL = (1, 2, 3, 4, 5, 6, 8, 10, 12)


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchSpace:
    """What the search may choose; a fixed value (e.g. tp=(8,)) pins a degree.

    The rest is the same for every layout tried, as TrainingLayout names it: etp (0: the default rule),
    pp_schedule ("": interleaved where virtual stages > 1, else 1f1b; a schedule asks for a pipeline, pp > 1,
    and, unless virtual_stages is pinned, interleaved takes vp > 1 and the others vp 1), sequence_parallel,
    grad_overlap and the storage formats and dispatcher.
    """

    tp: tuple[int, ...] = _POWERS[:7]
    pp: tuple[int, ...] | None = None  # None: every divisor of the chips left
    cp: tuple[int, ...] = (1, 2, 4, 8, 16)
    ep: tuple[int, ...] = _POWERS
    virtual_stages: tuple[int, ...] = _VIRTUAL
    micro_batch: tuple[int, ...] = (1, 2, 4, 8)
    zero: tuple[int, ...] = (0, 1, 2, 3)
    recompute: tuple[str, ...] = RECOMPUTE
    etp: int = 0
    pp_schedule: str = ""
    sequence_parallel: bool = True
    grad_overlap: str = "overlap"
    activation_cache: str = "auto"
    optimizer_states: str = "fp32"
    gradients: str = "bf16"
    moe_dispatcher: str = "alltoall"

    def __post_init__(self) -> None:
        self.fixed()  # the same refusals, in the same words, as a layout given whole
        for name in ("zero", "recompute", "virtual_stages", "micro_batch"):
            for value in getattr(self, name):
                TrainingLayout(**{name: value})

    def fixed(self, **degrees: object) -> TrainingLayout:
        """A layout of `degrees` with what the search does not vary."""
        return TrainingLayout(etp=self.etp, pp_schedule=self.pp_schedule, sequence_parallel=self.sequence_parallel,
                              grad_overlap=self.grad_overlap, activation_cache=self.activation_cache,
                              optimizer_states=self.optimizer_states, gradients=self.gradients,
                              moe_dispatcher=self.moe_dispatcher, **degrees)  # type: ignore[arg-type]

    def pinned(self) -> str:
        """What differs from the default space, e.g. "zero 0, pp_schedule zb" ("" when nothing)."""
        def show(value: object) -> str:
            return "/".join(map(str, value)) if isinstance(value, tuple) else str(value)
        return ", ".join(f"{f.name} {show(getattr(self, f.name))}" for f in fields(self)
                         if getattr(self, f.name) != f.default)

    def virtual(self, pp: int) -> list[int]:
        """The virtual stages tried with `pp` pipeline stages."""
        vps = [v for v in self.virtual_stages if pp > 1 or v == 1]
        if self.pp_schedule == "interleaved":
            return [v for v in vps if v > 1]
        if self.pp_schedule and 1 in vps:
            return [1]
        return vps


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainingSearch:
    """The outcome of a search: the best layouts that fit (fastest first), or the one closest to fitting."""

    candidates: int
    fitting: int
    best: tuple[TrainingResult, ...]
    closest: TrainingResult | None = None
    notes: tuple[str, ...] = field(default=())

    def per_package(self, dies: int) -> TrainingSearch:
        """This search, run one rank per die (hardware.per_die), with every result counted per package of `dies`
        dies (TrainingResult.per_package)."""
        if dies == 1:
            return self
        return replace(self, best=tuple(r.per_package(dies) for r in self.best),
                       closest=self.closest.per_package(dies) if self.closest else None)


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _tp_ok(model: Model, tp: int) -> bool:
    for layer in model.layers:
        a = layer.attention
        if a is not None and (a.num_attention_heads % tp
                              or (not a.mla and a.num_key_value_heads % tp and tp % a.num_key_value_heads)):
            return False
        if isinstance(layer.mlp, DenseMlp) and layer.mlp.intermediate_size % tp:
            return False
    return True


def _expert_tp(model: Model, tp: int, ep: int, cp: int, dp: int, given: int = 0) -> int | None:
    """etp of (tp, ep) (`given`, or by default 1 when ep fills the tensor group, else tp) if the MoE group folds
    into the tp x cp x dp ranks, else None."""
    etp = given or (1 if ep % tp == 0 else tp)
    for layer in model.layers:
        if isinstance(layer.mlp, MoeMlp):
            m = layer.mlp
            if m.num_experts % ep or m.expert_intermediate_size % etp:
                return None
    group = ep * etp
    return etp if group % tp == 0 and (tp * cp * dp) % group == 0 else None


def structural_layouts(model: Model, system: System, chips: int, seq_len: int, space: SearchSpace
                       ) -> list[tuple[int, int, int, int, int, int, int]]:
    """(tp, cp, pp, dp, vp, ep, etp) that divide the model and the chips; tensor parallelism stays
    inside one scale-up domain."""
    layers = model.num_layers
    moe = "moe" in model.features
    out = []
    for tp in space.tp:
        if chips % tp or tp > system.scale_up_domain_chips or not _tp_ok(model, tp):
            continue
        for cp in space.cp:
            if (chips // tp) % cp or seq_len % (2 * cp if cp > 1 else 1):
                continue
            rest = chips // (tp * cp)
            for pp in space.pp or _divisors(rest):
                if rest % pp or pp > layers or (space.pp_schedule and pp == 1) or \
                        (space.pp_schedule == "dualpipe" and pp % 2):
                    continue
                dp = rest // pp
                chunks = chunk_choices(layers, pp)
                for vp in space.virtual(pp):
                    if vp not in chunks or not stages_hold_layers(layers, pp, vp):
                        continue
                    for ep in space.ep if moe else (1,):
                        etp = _expert_tp(model, tp, ep, cp, dp, space.etp) if moe else tp
                        if etp is not None:
                            out.append((tp, cp, pp, dp, vp, ep, etp))
    return out


def search_training(model: Model, system: System, chips: int, seq_len: int, global_batch: int, calibration: Calibration,
                    profile: TrainingProfile | None = None, precision: str = "bf16", space: SearchSpace | None = None,
                    top: int = 10, flash_attention: bool = True) -> TrainingSearch:
    """The `top` fastest layouts of `chips` chips that fit in memory, with their step time and memory.

    Every structural layout is crossed with the micro-batch sizes that divide the batch, the ZeRO
    stages and the recomputation choices, and all of them are priced in one vectorised call. Each die of a
    multi-die chip is one rank (the Ascend 910C's frameworks see two devices a package): layouts spread over
    chips x dies ranks of hardware.per_die(system), and the results count chips per package. profile None:
    DEFAULT_PROFILE, as train_step's (`parity train --search` passes catalog.training_profile()).
    """
    space = space or SearchSpace()
    dies, ranks = system.chip.dies, per_die(system)
    # a dense model searches ep 1 only; expert degrees the caller pinned are refused as in a layout given whole
    check_dense_experts(model, 1 if space.ep == _POWERS else max(space.ep), space.etp)
    check_micro_batch(global_batch, space.micro_batch)
    # with flash attention selective recomputation changes nothing unless MLA's up-projections are recomputed
    # (so it is skipped as a choice, and priced when it is the only one asked for)
    mla = "mla" in model.features
    recompute = [r for r in space.recompute
                 if not (r == "selective" and flash_attention and not mla and len(space.recompute) > 1)]
    rows = []
    for tp, cp, pp, dp, vp, ep, etp in structural_layouts(model, ranks, chips * dies, seq_len, space):
        sched = PP_SCHEDULES.index(space.fixed(pp=pp, virtual_stages=vp).schedule)
        for mb, zero, rc in itertools.product(space.micro_batch, space.zero, recompute):
            if global_batch % (dp * mb) or (space.pp_schedule in ("dualpipe", "zb") and global_batch // (dp * mb) < pp):
                continue
            rows.append((tp, pp, dp, cp, ep, etp, vp, zero, space.sequence_parallel and tp > 1, RECOMPUTE.index(rc), mb,
                         global_batch, seq_len, space.grad_overlap == "overlap", sched))
    if not rows:
        pinned = space.pinned()
        raise InfeasiblePlan(f"no layout of {counted(chips, 'chip')}{ranks_clause(chips, dies)} divides {model.name} "
                             f"with global batch {global_batch} and seq_len {seq_len}" + (f" under {pinned}" if pinned else "")
                             + " (try a global batch that is a multiple of the data-parallel degrees"
                             + (", or pin fewer choices" if pinned else "") + ")")
    table = np.array(rows, dtype=float)
    arrays = dict(zip(LAYOUT_ARRAYS, table.T))
    formats = space.fixed()
    arrays |= {key: np.full(len(rows), float(on)) for key, on in (
        ("ac", formats.activation_cache == "fp8"), ("os", formats.optimizer_states == "bf16"),
        ("ga", formats.gradients == "fp32"), ("dd", formats.moe_dispatcher == "deepep"))}
    result = evaluate_arrays(model, ranks, chips * dies, arrays, calibration, profile, precision, flash_attention)
    fits = np.asarray(result.fits)
    step = np.where(fits, result.step_s, np.inf)
    order = [int(i) for i in np.argsort(step, kind="stable")[: top] if np.isfinite(step[i])]

    def layout(i: int) -> TrainingLayout:
        tp, pp, dp, cp, ep, etp, vp, zero, _, rc, mb, gb, s, _, _ = (int(x) for x in table[i])
        return replace(space.fixed(tp=tp, pp=pp, dp=dp, cp=cp, ep=ep, virtual_stages=vp, zero=zero,
                                   recompute=RECOMPUTE[rc], micro_batch=mb, global_batch=gb, seq_len=s,
                                   precision=precision, flash_attention=flash_attention),
                       etp=space.etp or (etp if ep > 1 else 0))

    def picked(i: int) -> TrainingResult:
        chosen = layout(i)
        found = result.at(i)
        return replace(found, layout=chosen, assumptions=found.assumptions + format_notes(chosen, profile, model))

    best = tuple(picked(i) for i in order)
    closest = None
    if not best:
        closest = picked(int(np.argmin(np.asarray(result.shortfall_bytes))))
    return TrainingSearch(candidates=len(rows), fitting=int(fits.sum()), best=best, closest=closest,
                          notes=(f"{len(rows)} layouts priced, {int(fits.sum())} fit",)).per_package(dies)


def fewer_counts(chips: int) -> list[int]:
    """The counts below `chips` and above half of them that clear its lowest bits, largest first, at most four: where
    no layout divides a system's chips (an Atlas 960 SuperPoD's 15,488 = 2^7 x 11^2), the job trains on the most of
    them one does (15,360, 14,336, 12,288, 8,192), the rest idle."""
    return sorted({chips >> j << j for j in range(1, chips.bit_length())} - {chips}, reverse=True)[:4]


def search_dividing(model: Model, system: System, chips: int, seq_len: int, global_batch: int,
                    calibration: Calibration, profile: TrainingProfile | None = None, precision: str = "bf16",
                    space: SearchSpace | None = None, top: int = 10, above: int | None = None
                    ) -> tuple[int, TrainingSearch]:
    """(the chips searched, the search) on `chips` chips or, where no layout divides them, on the first of
    fewer_counts(chips) above `above` chips on which a layout fits, else the first on which one divides (the rest of
    `chips` idle); `above` None: `chips` only. InfeasiblePlan (the `chips` one's) where no count has a layout."""
    try:
        return chips, search_training(model, system, chips, seq_len, global_batch, calibration, profile, precision,
                                      space, top)
    except InfeasiblePlan as refusal:
        divided = None
        for n in fewer_counts(chips) if above is not None else ():
            if n <= above:
                continue
            try:
                found = search_training(model, system, n, seq_len, global_batch, calibration, profile, precision,
                                        space, top)
            except InfeasiblePlan:
                continue
            if found.best:
                return n, found
            divided = divided or (n, found)
        if divided is None:
            raise refusal
        return divided


def search_fewest_systems(model: Model, system: System, seq_len: int, global_batch: int, calibration: Calibration,
                          profile: TrainingProfile | None = None, precision: str = "bf16",
                          space: SearchSpace | None = None, top: int = 10, chips: int | None = None
                          ) -> tuple[int, TrainingSearch]:
    """The search on `chips` chips or, where None, on the fewest whole systems (SYSTEM_MULTIPLES of them) on which
    a layout fits, with the chip count searched (fewer than one system's where no layout divides them all:
    search_dividing). Where no count has a layout that fits: the last count that had
    layouts to price, whose search has no best and names the closest; InfeasiblePlan (the first count's) where no
    count had a layout to price."""
    refusal, last = None, None
    for n in [chips] if chips else [system.chips * k for k in SYSTEM_MULTIPLES]:
        one = not chips and n == system.chips  # one system whose chips no layout divides: the most of them one does
        try:
            searched, found = search_dividing(model, system, n, seq_len, global_batch, calibration, profile,
                                              precision, space, top, above=0 if one else None)
        except InfeasiblePlan as err:
            refusal = refusal or err
            continue
        if found.best:
            return searched, found
        last = searched, found
    if last is None:
        assert refusal is not None
        raise refusal
    return last


def pick_training_layout(model: Model, system: System, chips: int, base: TrainingLayout, calibration: Calibration,
                         profile: TrainingProfile | None = None, vary_vp: bool = False,
                         vary_recompute: bool = False) -> tuple[TrainingResult, str]:
    """`base` priced, or, where its virtual stages or recomputation are left open, the fastest choice of
    them that fits (the fastest of all when none fits), with a sentence saying what was picked ("" if
    nothing was left open). Virtual stages, given or picked, split every pipeline stage evenly
    (TrainingLayout.check_chunks)."""
    vps = [v for v in range(1, 9) if base.pp > 1 and base.schedule != "dualpipe" or v == 1] if vary_vp else \
        [base.virtual_stages]
    recomputes = list(RECOMPUTE) if vary_recompute else [base.recompute]
    candidates = []
    refusals: list[InfeasiblePlan] = []
    for v, rc in itertools.product(vps, recomputes):
        layout = replace(base, virtual_stages=v, recompute=rc)
        try:
            layout = layout.check(model, chips, system.chip.dies).check_chunks(model)
            candidates.append(train_step(model, system, chips, layout, calibration, profile))
        except InfeasiblePlan as err:
            refusals.append(err)
    if not candidates:
        raise refusals[0]  # what the layout as given (one virtual stage, no recomputation first) breaks
    fitting = [r for r in candidates if bool(r.fits)]
    best = min(fitting or candidates, key=lambda r: float(r.step_s))
    if not (vary_vp or vary_recompute):
        return best, ""
    assert best.layout is not None
    chosen = ", ".join(part for part, varied in ((f"virtual stages {best.layout.virtual_stages}", vary_vp),
                                                 (f"recompute {best.layout.recompute}", vary_recompute)) if varied)
    how = "the fastest that fits" if fitting else "the fastest (none fits)"
    return best, f"picked {chosen}: {how} of {len(candidates)} choices"
