"""`parity train`: one training layout (step time, breakdown, MFU, memory), the search for the fastest
layout that fits, and the validation against published training throughput. A priced layout's record and rows
live in train_record, --search's table in train_search."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import click

from parity import catalog
from parity.cli import cli, emit, emit_record, format_option, out_option, output_format, typed_options
from parity.cli.files import model_file, refuse_overwrite
from parity.cli.train_record import _fit_note, _interval_caption, _on, _one_layout_rows, _record
from parity.cli.train_search import _emit_search
from parity.cli.values import CHIPS, COUNT, PARALLEL, TOKENS, Count, FormatChoice, Real
from parity.errors import InfeasiblePlan, ParityError
from parity.fit import WRITE_TO, destination, refit_training, write_refits
from parity.hardware import rank_holder
from parity.report.tables import Column, plain, signed_percent, scaled, write_atomic
from parity.training import (ACTIVATION_CACHES, check_model_options, default_global_batch, GRADIENT_FORMATS,
                             MOE_DISPATCHERS, OPTIMIZER_STATES, layout_counts, most_layout_entries, GRAD_OVERLAP,
                             PP_SCHEDULES, PRECISIONS, RECOMPUTE, pick_training_layout, SearchSpace, TrainingLayout,
                             ranks_clause, search_fewest_systems)
from parity.uncertainty import training_flags
from parity.units import counted
from parity.validate import scores
from parity.validate_training import training_case_errors, training_cases


def _check_dp_left(chips: int, dies: int, degrees: dict[str, int | None]) -> None:
    """Refuses, naming the degree, a layout given without --dp whose degrees do not divide the ranks (chips x dies):
    dp is what they leave, so '--pp 3 does not divide 64 / 8 = 8', where the layout's own check named a dp 2 parity
    had floored to ('got 8 x 3 x 1 x 2 = 48': report-only tester, training-infrastructure lead 9)."""
    left, over = chips * dies, []
    whole = f"the ranks ({left}: {chips} chips of {dies} dies)" if dies > 1 else f"the chips ({left})"
    for name, degree in degrees.items():
        if degree is None:
            continue
        if left % degree:
            of, leave = (f"{chips * dies} / {' x '.join(over)} = {left}", whole) if over else (whole, "them")
            raise InfeasiblePlan(f"--{name} {degree} does not divide {of}: dp, not given, is what the degrees leave of "
                                 f"{leave}")
        left //= degree
        over.append(str(degree))


# what `train --validate` reads: every other option is about one layout, which the published runs each give
_VALIDATE_READS = frozenset({"validate_rows", "fit", "write_to", "fmt", "out"})


@cli.command()
@click.option("--model", default=None, help="catalog model or config.json")
@click.option("--system", default=None, help="catalog system (or a chip: its default node)")
@click.option("--chips", type=CHIPS, default=None, help="chips in all (may span many systems; default: the fewest whole "
              "systems, 1, 2, 4 ... 128, on which a layout fits, or one system with a layout given); each die of a "
              "multi-die chip (Ascend 910C) is a rank, and --tp x --pp x --cp x --dp count ranks")
@click.option("--tp", type=PARALLEL, default=None, help="tensor parallel (with --search: pin it); without --tp, --pp, "
              "--dp, --cp and --ep train picks the fastest layout that fits, holding the other options given")
@click.option("--pp", type=PARALLEL, default=None, help="pipeline parallel (with --search: pin it)")
@click.option("--dp", type=PARALLEL, default=None, help="data parallel (default: chips / (tp x pp x cp))")
@click.option("--cp", type=PARALLEL, default=None, help="context parallel (with --search: pin it)")
@click.option("--ep", type=PARALLEL, default=None, help="expert parallel (MoE; with --search: pin it)")
@click.option("--etp", type=Count(most=2**20, least=0), default=0, show_default=True,
              help="expert tensor parallel (0: default)")
@click.option("--vp", "virtual_stages", type=PARALLEL, default=None,
              help="virtual stages (interleaved 1F1B; one that divides every pipeline stage's layers, or as "
                   "--pp-layout gives them; default: the fastest that fits)")
@click.option("--pp-schedule", type=click.Choice(PP_SCHEDULES), default=None,
              help="pipeline schedule (default: interleaved with --vp > 1, else 1f1b)")
@click.option("--pp-first-layers", type=Count(most=2**20, least=0), default=0, show_default=True,
              help="layers of the first pipeline stage when uneven (Megatron's decoder_first_pipeline_num_layers; "
                   "0: even stages)")
@click.option("--pp-last-layers", type=Count(most=2**20, least=0), default=0, show_default=True,
              help="layers of the last pipeline stage when uneven (0: even stages)")
@click.option("--seq-len", type=TOKENS, default=4096, show_default=True, help="sequence length [tokens]")
@click.option("--global-batch", type=COUNT, default=None, help="sequences per step (default: 4M tokens' worth)")
@click.option("--micro-batch", type=COUNT, default=None,
              help="sequences per micro-batch (default: 1 in a layout you give, else the fastest that fits)")
@click.option("--show-infeasible", is_flag=True,
              help="print a layout that does not fit in memory (exit 0) instead of refusing it")
@click.option("--recompute", type=click.Choice(RECOMPUTE), default=None,
              help="activation recomputation (default: the fastest that fits)")
@click.option("--zero", type=click.IntRange(0, 3), default=None,
              help="ZeRO stage: 0 plain data parallel, 1 optimizer states sharded, 2 also gradients, 3 also weights "
                   "(default: 1 in a layout you give, else the fastest that fits)")
@click.option("--precision", type=FormatChoice(PRECISIONS), default="bf16", show_default=True,
              help="format of the GEMMs (fp8: per-tensor scales; fp8_block, alias ue8m0: 128x128 blocks, DeepSeek-V3; "
                   "mxfp8: MX blocks)")
@click.option("--grad-overlap", type=click.Choice(GRAD_OVERLAP), default="overlap", show_default=True,
              help="overlap: gradient reduce-scatter and parameter all-gather hidden behind backward and forward; "
                   "none: run after the step")
@click.option("--activation-cache", type=click.Choice(ACTIVATION_CACHES), default="auto", show_default=True,
              help="stored activations: auto (GEMM inputs in the precision's format) or fp8 (DeepSeek-V3 Sec. 3.3.2, "
                   "MoE models with an FP8 --precision: FP8 GEMM inputs, E5M6 attention output, the MoE SwiGLU's "
                   "inputs FP8 and its output recomputed)")
@click.option("--optimizer-states", type=click.Choice(OPTIMIZER_STATES), default="fp32", show_default=True,
              help="AdamW moments' format (bf16: DeepSeek-V3 Sec. 3.3.2; master weights stay fp32)")
@click.option("--gradients", type=click.Choice(GRADIENT_FORMATS), default="bf16", show_default=True,
              help="gradient accumulation format (fp32: 4 B per parameter)")
@click.option("--no-sequence-parallel", is_flag=True, help="keep norms and dropout replicated over tp")
@click.option("--pp-layout", default="", help="Megatron-Core pipeline_model_parallel_layout, e.g. 'Et*3|(tt|)*29,m|L' "
              "(E embedding, t layer, m MTP module, L loss; chunks split by '|'; t*3 and (...)*n repeat, commas are "
              "cosmetic; sets --vp to chunks / pp)")
@click.option("--moe-dispatcher", type=click.Choice(MOE_DISPATCHERS), default="alltoall", show_default=True,
              help="MoE all-to-all: alltoall (one copy per token and expert, Megatron's default) or deepep "
                   "(once per destination rank and node)")
@click.option("--tokens", type=Real(1.0, 1e18), default=1e12, show_default=True,
              help="tokens to train on (time, chip-hours)")
@click.option("--search", is_flag=True, help="find the fastest layout that fits and show the top ones")
@click.option("--top", type=COUNT, default=10, show_default=True, help="with --search: layouts shown")
@click.option("--validate", "validate_rows", is_flag=True, help="score parity on the published training measurements")
@click.option("--fit", is_flag=True, help="with --validate: refit the training profile on the calibration rows")
@click.option("--write-to", "write_to", type=click.Choice(WRITE_TO), default="user", show_default=True,
              help="with --fit: 'user' writes to ~/.parity (or $PARITY_HOME), 'repo' into the checkout's data")
@format_option
@out_option
def train(model: str | None, system: str | None, chips: int | None, tp: int | None, pp: int | None, dp: int | None,
          cp: int | None, ep: int | None, etp: int, virtual_stages: int | None, pp_schedule: str | None,
          pp_first_layers: int, pp_last_layers: int, seq_len: int, global_batch: int | None,
          micro_batch: int | None, show_infeasible: bool, recompute: str | None, zero: int | None, precision: str,
          grad_overlap: str, activation_cache: str, optimizer_states: str, gradients: str, no_sequence_parallel: bool,
          pp_layout: str, moe_dispatcher: str, tokens: float, search: bool, top: int,
          validate_rows: bool, fit: bool, write_to: str, fmt: str, out: Path | None) -> None:
    """Training: step time, breakdown, MFU and memory per chip of one layout, or --search for the best."""
    refuse_overwrite([("--model", model_file(model))], [("--out", out)])
    output_format(fmt, out)  # a --format that contradicts the suffix of --out, refused before any work
    if validate_rows:
        context = click.get_current_context()
        if given := [p.opts[0] for p in context.command.params if p.name not in _VALIDATE_READS
                     and context.get_parameter_source(p.name) is click.core.ParameterSource.COMMANDLINE]:
            raise ParityError(f"{', '.join(given)} with --validate: it scores the published training runs, each at "
                              f"its own model, system and layout; leave {'it' if len(given) == 1 else 'them'} out")
        _validate(fit, write_to, fmt, out)
        return
    if given := typed_options({"--fit": "fit", "--write-to": "write_to"}):
        raise ParityError(f"{', '.join(given)} refit{'s' if len(given) == 1 else ''} the training profile on the "
                          "published runs: add --validate, or leave it out")
    searching = search or all(v is None for v in (tp, pp, dp, cp, ep))
    if searching and typed_options({"--show-infeasible": "show_infeasible"}):
        raise ParityError("--show-infeasible prints a layout you give (--tp, --pp, --dp, --cp, --ep) that does not "
                          "fit; " + ("--search lists" if search else "without one, train picks") + " only layouts "
                          "that fit")
    if not search and typed_options({"--top": "top"}):
        raise ParityError("--top sets how many layouts --search lists: add --search, or leave it out")
    if not model or not system:
        raise ParityError("--model and --system are required (or use --validate)")
    the_model = catalog.model(model)
    check_model_options(the_model, precision, activation_cache, moe_dispatcher)  # searched or given, one line
    the_system = catalog.system(system)
    n, dies = chips or the_system.chips, the_system.chip.dies  # each die of a multi-die chip is a rank
    batch = global_batch or default_global_batch(seq_len)
    cal = catalog.calibration(the_system.chip)
    profile = catalog.training_profile()
    if pp_layout or typed_options({"--pp-layout": "pp_layout"}):  # read the same way whether it is used or refused
        # below; an empty one typed is refused, not read as none
        layout_counts(pp_layout, most_layout_entries(the_model))
    chosen, picked = "", ""
    if searching:
        if search and dp:
            raise ParityError("--search derives --dp from the chips and the layout it tries; pin --tp, --pp, --cp "
                              "or --ep instead")
        stages = [option for option, value in (("--pp-layout", pp_layout), ("--pp-first-layers", pp_first_layers),
                                                ("--pp-last-layers", pp_last_layers)) if value]
        if stages:
            raise ParityError(f"{' and '.join(stages)} place{'s' if len(stages) == 1 else ''} the layers of a pipeline "
                              "you give: " + ("give it without --search" if search else
                                              "add --pp (and --tp, --dp, --cp as needed)"))
        # what the user typed pins the search: the layout picked, or the layouts listed, honour it
        space = SearchSpace(**{k: (v,) for k, v in (("tp", tp), ("pp", pp), ("cp", cp), ("ep", ep)) if v},
                            **{k: (v,) for k, v in (("zero", zero), ("micro_batch", micro_batch),
                                                    ("recompute", recompute), ("virtual_stages", virtual_stages))
                               if v is not None},
                            etp=etp, pp_schedule=pp_schedule or "", sequence_parallel=not no_sequence_parallel,
                            grad_overlap=grad_overlap, activation_cache=activation_cache,
                            optimizer_states=optimizer_states, gradients=gradients, moe_dispatcher=moe_dispatcher)
        # without --chips, the fewest whole systems (1, 2, 4 ...) on which some layout fits
        n, found = search_fewest_systems(the_model, the_system, seq_len, batch, cal, profile, precision, space,
                                         top if search else 1, chips)
        if not found.best:
            raise InfeasiblePlan(_no_fit(n, dies, found))
        systems = ("" if chips or n == the_system.chips
                   else f"{n:,} of the system's {the_system.chips:,} chips: no layout divides them all"
                   if n < the_system.chips else f"{n // the_system.chips} systems: the fewest on which a layout fits")
        if search:
            _emit_search(the_model, the_system, n, seq_len, precision, found, space.pinned(), systems,
                         f"seq {seq_len}, batch {batch}, {precision}", tokens, fmt, out)
            return
        result = found.best[0]
        chosen = (f"Layout: the fastest of {found.candidates:,} on {n:,} chips{ranks_clause(n, dies)}"
                  + (f" with {space.pinned()}" if space.pinned() else "")
                  + f" ({found.fitting:,} fit; --search lists them)" + (f"; {systems}" if systems else "") + ". ")
    else:
        if pp_layout and virtual_stages is None:
            virtual_stages = max((layout_counts(pp_layout, most_layout_entries(the_model))["|"] + 1) // (pp or 1), 1)
        base = TrainingLayout(tp=tp or 1, pp=pp or 1, cp=cp or 1,
                              dp=dp or max(1, n * dies // ((tp or 1) * (pp or 1) * (cp or 1))),
                              ep=ep or 1, etp=etp, virtual_stages=virtual_stages or 1, zero=1 if zero is None else zero,
                              sequence_parallel=not no_sequence_parallel, recompute=recompute or "none",
                              micro_batch=micro_batch or 1, global_batch=batch, seq_len=seq_len, precision=precision,
                              grad_overlap=grad_overlap, pp_schedule=pp_schedule or "",
                              pp_first_layers=pp_first_layers, pp_last_layers=pp_last_layers,
                              activation_cache=activation_cache, optimizer_states=optimizer_states,
                              gradients=gradients, pp_layout=pp_layout, moe_dispatcher=moe_dispatcher)
        try:
            result, picked = pick_training_layout(the_model, the_system, n, base, cal, profile,
                                                  vary_vp=virtual_stages is None, vary_recompute=recompute is None)
        except InfeasiblePlan as refusal:  # TrainingLayout.check's product refusal named the dp parity floored
            if dp is None and str(refusal).startswith("tp x pp x cp x dp must equal"):
                _check_dp_left(n, dies, {"tp": tp, "cp": cp, "pp": pp})
            raise
        if not bool(result.fits) and not show_infeasible:
            raise InfeasiblePlan(f"{result.layout} {_fit_note(result)}; 'parity train' without a layout picks the "
                                 "fastest that fits (--show-infeasible prints this one anyway)")
    data = _record(the_model, the_system, result, tokens,
                   training_flags(the_system, the_model, seq_len, precision, [result.layout] if result.layout else []))
    if picked:
        data["assumptions"] = [picked, *data["assumptions"]]
    emit_record(_one_layout_rows(data, result.layout), fmt,
                title=f"Training {the_model.name} on {_on(n, the_system)}", payload=data,
                out=out, caption=chosen + _interval_caption(data) + "Assumptions: " + "; ".join(data["assumptions"]))


def _no_fit(chips: int, dies: int, found: Any) -> str:
    """Why no layout of `chips` chips of `dies` dies fits: the closest one and by how much it misses."""
    c = found.closest
    if c is None:
        return f"no layout of {counted(chips, 'chip')}{ranks_clause(chips, dies)} fits"
    return (f"no layout of {counted(chips, 'chip')}{ranks_clause(chips, dies)} fits: the closest, {c.layout}, does "
            f"not fit by {float(c.shortfall_bytes) / 1e9:.1f} GB per {rank_holder(dies)} "
            f"({c.memory.biggest_term()} is the biggest term)")


def _validate(fit: bool, write_to: str, fmt: str, out: Path | None) -> None:
    cases = training_cases()
    profile = catalog.training_profile()
    if fit:
        refit = refit_training(cases, datetime.date.today().isoformat())
        (path,) = write_refits([refit], destination(write_to, Path.cwd()), write_atomic)
        click.echo(f"{refit.summary}; wrote {path}", err=True)
        profile = catalog.training_profile()
    errors = training_case_errors(profile, cases)
    table = [{"case_id": e.case_id, "split": e.split, "model": e.model, "system": e.system, "precision": e.mode,
              "measured": e.measured, "predicted": e.predicted, "error": e.error} for e in errors]
    overall = scores(errors, ["split"], splits=("calibration", "holdout", "reference"))
    columns = [Column("case_id", "case", plain, "left", wrap=True), Column("split", "split", plain, "left"),
               Column("measured", "measured tok/s/chip", scaled(1)), Column("predicted", "predicted", scaled(1)),
               Column("error", "error", signed_percent)]
    caption = " ".join(f"{s.group[0][1]}: median |err| {s.median_abs_error:.1%} over {s.count} rows (bias "
                       f"{s.bias:+.1%})." for s in overall)
    emit(table, columns, fmt, title=f"Training throughput: {len(errors)} published rows, profile {profile.id}",
         payload={"cases": table, "scores": [s.row() for s in overall]}, out=out,
         caption=caption + " Only holdout rows are evidence; calibration rows fit the profile; reference rows "
                           "are listed, never scored.")
