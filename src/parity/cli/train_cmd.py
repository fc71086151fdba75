"""`parity train`: one training layout (step time, breakdown, MFU, memory), the search for the fastest
layout that fits, and the validation against published training throughput."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from parity import catalog
from parity.cli import cli, emit, emit_record, format_option, out_option, output_format, typed_options
from parity.cli.files import model_file, refuse_overwrite
from parity.cli.values import CHIPS, COUNT, PARALLEL, TOKENS, Count, FormatChoice, Real
from parity.errors import InfeasiblePlan, ParityError
from parity.fit import WRITE_TO, destination, refit_training, write_refits
from parity.flags import Flag, texts
from parity.hardware import rank_holder
from parity.report.tables import Column, fields_text, percent, plain, signed_percent, scaled, write_atomic
from parity.training import (ACTIVATION_CACHES, check_model_options, default_global_batch, GRADIENT_FORMATS,
                             MOE_DISPATCHERS, OPTIMIZER_STATES, layout_counts, most_layout_entries, GRAD_OVERLAP,
                             PP_SCHEDULES, PRECISIONS, RECOMPUTE, pick_training_layout, SearchSpace, TrainingLayout,
                             TrainingResult, TrainingSearch, ranks_clause, search_fewest_systems)
from parity.uncertainty import TRAINING_INTERVAL_BASIS, training_flags, training_interval
from parity.units import counted, places_text
from parity.validate import scores
from parity.validate_training import training_case_errors, training_cases

# the rows of a step: they add up to step_s
_BREAKDOWN = (("compute_s", "compute (forward and backward)"), ("recompute_s", "recomputation"),
              ("tp_comm_s", "exposed TP/SP communication"), ("cp_comm_s", "exposed CP communication"),
              ("ep_comm_s", "exposed EP all-to-all"), ("pp_comm_s", "exposed PP send/receive"),
              ("dp_comm_s", "exposed DP/ZeRO communication"), ("imbalance_s", "uneven pipeline stages (idle)"),
              ("bubble_s", "pipeline bubble"), ("optimizer_s", "optimizer step"), ("overhead_s", "per-step overhead"))


def _fit_note(r: TrainingResult) -> str:
    if bool(r.fits):
        return ""
    return (f"does not fit by {float(r.shortfall_bytes) / 1e9:.1f} GB per {rank_holder(r.dies)} "
            f"({r.memory.biggest_term()} is the biggest term)")


def _memory_fields(r: TrainingResult) -> dict[str, float]:
    """A package's memory use and capacity under the per-chip keys, as chips and tokens_per_s_per_chip count packages
    (as serve's memory_bytes_per_chip), and a die's beside them where each die is a rank (the `memory` terms are a
    rank's): a 910C held 60.1 GB "per chip" of its 128 GB."""
    used, held = float(r.memory.total_bytes), float(r.memory.capacity_bytes)
    return {"memory_bytes_per_chip": used * r.dies, "memory_capacity_bytes": held * r.dies} | (
        {"memory_bytes_per_die": used, "memory_capacity_bytes_per_die": held} if r.dies > 1 else {})


def result_payload(r: TrainingResult, tokens: float) -> dict[str, Any]:
    """The JSON of one priced layout (SI units); `memory` holds one rank's terms (a die's where each die is one), and
    `memory_per` says whose ('die' or 'chip', as the table's 'memory per die' row): a 910C's terms summed to a die's
    61.6 GB beside a package's memory_bytes_per_chip of 123.2 GB, and their keys did not say so (report-only tester,
    training-infrastructure lead 7)."""
    memory = {f"{k.replace(' ', '_')}_bytes": float(v) for k, v in r.memory.terms().items()}
    layout = r.layout
    return {
        "layout": {} if layout is None else {
            "tp": layout.tp, "pp": layout.pp, "dp": layout.dp, "cp": layout.cp, "ep": layout.ep, "etp": layout.expert_tp,
            "virtual_stages": layout.virtual_stages, "zero": layout.zero, "sequence_parallel": layout.sequence_parallel,
            "recompute": layout.recompute, "micro_batch": layout.micro_batch, "global_batch": layout.global_batch,
            "seq_len": layout.seq_len, "precision": layout.precision, "grad_overlap": layout.grad_overlap,
            "microbatches": layout.microbatches, "pp_schedule": layout.schedule,
            "pp_first_layers": layout.pp_first_layers, "pp_last_layers": layout.pp_last_layers,
            "activation_cache": layout.activation_cache, "optimizer_states": layout.optimizer_states,
            "gradients": layout.gradients, "pp_layout": layout.pp_layout, "moe_dispatcher": layout.moe_dispatcher,
            "name": str(layout)},
        "chips": r.chips, "ranks": r.ranks, "dies_per_chip": r.dies, "step_s": float(r.step_s),
        "tokens_per_s": float(r.tokens_per_s),
        "tokens_per_s_per_chip": float(r.tokens_per_s_per_chip), "mfu": float(r.mfu),
        "mfu_noncausal": float(r.mfu_noncausal), "mfu_causal": float(r.mfu_causal), "mfu_peak": r.peak_math,
        "mfu_bf16": float(r.mfu_bf16),
        "model_flops_per_token": float(r.model_flops_per_token), "bubble_fraction": float(r.bubble_fraction),
        "breakdown": {key: float(getattr(r, key)) for key, _ in _BREAKDOWN},
        **_memory_fields(r), "memory": memory, "memory_per": rank_holder(r.dies),
        "memory_pipeline_rank": int(r.memory.pipeline_rank),
        "fits": bool(r.fits), "shortfall_bytes": float(r.shortfall_bytes),
        "biggest_memory_term": r.memory.biggest_term(), "note": _fit_note(r),
        "train_tokens": tokens, "time_to_train_s": float(r.time_to_train_s(tokens)),
        "chip_hours": float(r.chip_hours(tokens)), "energy_j_at_tdp": float(r.energy_j(tokens)),
        "assumptions": list(r.assumptions),
    }


def _stage_name(rank: int, pp: int) -> str:
    """A pipeline rank as the memory row names it: 'first of 4 (rank 0: the embedding)', 'last of 4 (rank 3: the LM
    head and loss)', 'rank 1 of 4'."""
    if rank == 0:
        return f"first of {pp} (rank 0: the embedding)"
    return f"last of {pp} (rank {rank}: the LM head and loss)" if rank == pp - 1 else f"rank {rank} of {pp}"


def _one_layout_rows(data: dict[str, Any], layout: TrainingLayout) -> list[dict[str, str]]:
    """The single run's quantity/value rows for people: the layout's name wraps between its fields."""
    step = data["step_s"]
    rows = [("layout", fields_text(layout.name_fields)),
            _with_interval(data, "step time", "step_s", 3, 1, unit_text="s")]
    rows += [(f"  {label}", f"{data['breakdown'][key]:,.3f} s ({data['breakdown'][key] / step:.1%})")
             for key, label in _BREAKDOWN if data["breakdown"][key] > 0]
    rows += [("tokens/s (all chips)", f"{data['tokens_per_s']:,.0f}"),
             _with_interval(data, "tokens/s per chip", "tokens_per_s_per_chip", 1, 1),
             (f"MFU of the {data['mfu_peak'].upper()} peak (6N + 12LHQT: PaLM, Megatron)", f"{data['mfu']:.1%}"),
             ("MFU, causal (6N + 6LHQT: FlashAttention, torchtitan)", f"{data['mfu_causal']:.1%}")]
    if data["mfu_peak"] != "bf16":  # FP8 reports divide by the BF16 peak: above 100% when FP8 runs faster
        rows.append((f"model FLOP/s / BF16 peak ({data['mfu_peak'].upper()} papers' MFU; a ratio)",
                     f"{data['mfu_bf16']:.1%}"))
    die = data["dies_per_chip"] > 1
    used = data["memory_bytes_per_die" if die else "memory_bytes_per_chip"]
    held = data["memory_capacity_bytes_per_die" if die else "memory_capacity_bytes"]
    rows += [(f"memory per {rank_holder(data['dies_per_chip'])}", f"{used / 1e9:,.1f} of {held / 1e9:,.1f} GB")]
    if layout.pp > 1:
        rows += [("  fullest pipeline stage", _stage_name(data["memory_pipeline_rank"], layout.pp))]
    rows += [(f"  {k.removesuffix('_bytes').replace('_', ' ')}", f"{v / 1e9:,.1f} GB") for k, v in data["memory"].items()]
    rows += [("fits", "yes" if data["fits"] else data["note"]),
             _with_interval(data, f"time to train {data['train_tokens']:.3g} tokens", "time_to_train_s", 1, 1,
                            86400, "days"),
             ("chip-hours", places_text(data["chip_hours"], 0)),
             ("energy at chip TDP", _energy_text(data["energy_j_at_tdp"]))]
    per_step = layout.global_batch * layout.seq_len
    if data["train_tokens"] < per_step:  # a run takes whole steps: the figures above are a share of one
        rows += [("  fewer than one step", f"{data['train_tokens']:,.0f} of one step's {per_step:,} tokens "
                                           f"({step:,.3f} s a step)")]
    rows += [("outside what was validated", "; ".join(data.get("flags", ())) or "no")]
    return [{"quantity": k, "value": v} for k, v in rows]


def _energy_text(energy_j: float) -> str:
    """Energy in MWh from 1 MWh (3.6e9 J) up, in kWh (3.6e6 J) below it, so that a short run's 17.5 kWh does not read
    '0.0 MWh'; to three significant figures, whole from 100 up: '0.500 kWh', '1.83 kWh', '18.3 kWh', '183 kWh',
    '1.83 MWh', '1,393 MWh' (one place read '1.8 kWh' between '0.500' and '18.3': tester fixsm 2)."""
    value, unit = (energy_j / 3.6e9, "MWh") if energy_j >= 3.6e9 else (energy_j / 3.6e6, "kWh")
    return f"{value:,.0f} {unit}" if value >= 100 else f"{f'{value:#.3g}'.removesuffix('.')} {unit}"


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


def _with_interval(data: dict[str, Any], label: str, key: str, decimals: int, bounds: int, unit: float = 1.0,
                   unit_text: str = "") -> tuple[str, str]:
    """The row of a priced layout's quantity: its value over `unit` to `decimals` places and `unit_text`, then its
    80% interval (`key`_low, `key`_high: interval_fields) to `bounds` places, the label saying so as serve's rows do
    ('tokens/s per chip (80% interval)', '183.4 (100.4-311.2)'); the value alone where the chip's vendor has no band.
    Each figure to three significant ones where its places leave fewer than two (units.places_text)."""
    value = " ".join(filter(None, [places_text(data[key] / unit, decimals), unit_text]))
    low, high = data.get(f"{key}_low"), data.get(f"{key}_high")
    if low is None or high is None:
        return label, value
    return f"{label} (80% interval)", f"{value} ({places_text(low / unit, bounds)}-{places_text(high / unit, bounds)})"


def _search_columns(peak_math: str, dies: int = 1) -> list[Column]:
    """The columns of `train --search`, its MFU headed by the peak it divides by ('BF16' over 'MFU', as wide as its
    figures: the chip's FP8 peak for an FP8 run, its BF16 peak where it emulates FP8), as the single run's row
    names it; memory is a rank's, a die's where each die of a multi-die chip is one."""
    return [Column("rank", "#", plain), Column("layout", "layout", plain, "left"),
            Column("step_s", "step s", scaled(1, zeros=True)), Column("tokens_per_s_per_chip", "tok/s/chip", scaled(1)),
            Column("mfu", f"{peak_math.upper()}\nMFU", percent),
            Column("bubble_fraction", "bubble", percent, wide=1),
            Column("memory_bytes_per_die" if dies > 1 else "memory_bytes_per_chip", f"mem GB/{rank_holder(dies)}",
                   scaled(1e9), wide=2)]  # every row listed fits


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


def _record(model: Any, system: Any, result: TrainingResult, tokens: float, raised: Any) -> dict[str, Any]:
    """One priced layout as `train` writes it (JSON; CSV spreads it over layout_*, breakdown_*, memory_* columns)."""
    payload = result_payload(result, tokens)
    return {"model": model.name, "system": system.id, **payload, **interval_fields(system.chip, payload, raised),
            "flags": texts(raised)}


# the quantities of a priced layout given an 80% interval: those that move along with tokens/s per chip, and those
# that move inversely (the same work at the measured rate)
_ALONG = ("tokens_per_s", "tokens_per_s_per_chip", "mfu")
_INVERSE = ("step_s", "time_to_train_s", "chip_hours", "energy_j_at_tdp")


def interval_fields(chip: Any, payload: dict[str, Any], raised: Any) -> dict[str, Any]:
    """KEY_low and KEY_high of a priced layout's quantities (result_payload) on `chip`, widened by its flags `raised`
    and the fast end no faster than the chip's peak (uncertainty.training_interval), and interval_basis saying where
    they come from; {} where the chip's vendor has no band."""
    out: dict[str, Any] = {}
    for key in (*_ALONG, *_INVERSE):
        found = training_interval(chip, float(payload[key]), tuple(raised), inverse=key in _INVERSE,
                                  mfu=float(payload["mfu"]))
        if found is None:
            return {}
        out |= {f"{key}_low": found[0], f"{key}_high": found[1]}
    return out | {"interval_basis": f"80% intervals (KEY_low to KEY_high): {TRAINING_INTERVAL_BASIS}"}


def _interval_caption(data: dict[str, Any]) -> str:
    """What the single run's caption says of the ranges after its figures; '' where it has none."""
    if "interval_basis" not in data:
        return ""
    return (f"80% intervals: {TRAINING_INTERVAL_BASIS} (KEY_low, KEY_high in --format json, MFU's, tokens/s', "
            "chip-hours' and energy's too). ")


def _emit_search(model: Any, system: Any, chips: int, seq_len: int, precision: str, found: TrainingSearch, pinned: str,
                 systems: str, workload: str, tokens: float, fmt: str, out: Path | None) -> None:
    """The table (or JSON) of the fastest layouts found; as CSV each row is a single run's columns after its rank.
    Each layout carries its own flags (JSON: each entry of best, and the best's at the top; CSV: each row's); the
    caption gives those every row carries, and names the rows of one only some carry (a ZeRO-3 layout with pp > 1
    among pp-1 ones: 'rows 5-10 only')."""
    raised = [training_flags(system, model, seq_len, precision, [r.layout] if r.layout else []) for r in found.best]
    if output_format(fmt, out) == "csv":
        rows = [{"rank": i + 1, **_record(model, system, r, tokens, own)}
                for i, (r, own) in enumerate(zip(found.best, raised))]
    else:
        rows = [{"rank": i + 1, "layout": str(r.layout), **{k: v for k, v in result_payload(r, tokens).items()
                                                             if k in ("step_s", "tokens_per_s_per_chip", "mfu",
                                                                      "bubble_fraction", "memory_bytes_per_chip",
                                                                      "memory_bytes_per_die")}}
                for i, r in enumerate(found.best)]
    dies = system.chip.dies
    payload = {"model": model.name, "system": system.id, "chips": chips, "ranks": chips * dies,
               "candidates": found.candidates, "fitting": found.fitting,
               "best": [(one := result_payload(r, tokens)) | interval_fields(system.chip, one, own)
                        | {"flags": texts(own)} for r, own in zip(found.best, raised)],
               "flags": texts(raised[0] if raised else ())}
    peak = found.best[0].peak_math  # the math unit the format runs on, one for every layout of the search
    emit(rows, _search_columns(peak, dies), fmt, title=f"Fastest layouts of {model.name} on {_on(chips, system)}, "
                                          f"{workload}", payload=payload, out=out,
         caption=f"{found.candidates:,} layouts priced, {found.fitting:,} fit" + (f" ({pinned})" if pinned else "")
                 + (f"; {systems}" if systems else "") + ". "
                 + f"{peak.upper()} MFU: model FLOP/s (6N + 12LHQT) per chip over the chip's dense {peak.upper()} peak"
                 + (" (mfu_bf16 in --format json: over its BF16 peak). " if peak != "bf16" else ". ")
                 + ("Each layout's 80% intervals (KEY_low, KEY_high) are in --format json or csv: "
                    f"{TRAINING_INTERVAL_BASIS}. " if payload["best"] and "interval_basis" in payload["best"][0] else "")
                 + _search_flags_text(raised)
                 + "Assumptions: " + "; ".join(found.best[0].assumptions))


def _search_flags_text(raised: Sequence[Sequence[Flag]]) -> str:
    """What the caption of `train --search` says of its rows' flags (`raised`: each row's, best first): those every
    row carries, then each only some carry with their ranks: 'Outside what was validated, rows 5-10 only (not the
    best): ZeRO-3 with pipeline parallel (pp > 1): ...'; '' where no row carries one."""
    every = list(dict.fromkeys(f.text for flags in raised for f in flags))
    held = {text: [i + 1 for i, flags in enumerate(raised) if text in {f.text for f in flags}] for text in every}
    shared = [text for text, ranks in held.items() if len(ranks) == len(raised)]
    out = f"Outside what was validated: {'; '.join(shared)}. " if shared else ""
    for text, ranks in held.items():
        if len(ranks) < len(raised):
            out += (f"Outside what was validated, {_ranks_text(ranks)} only"
                    + ("" if ranks[0] == 1 else " (not the best)") + f": {text}. ")
    return out


def _ranks_text(ranks: Sequence[int]) -> str:
    """'row 5', 'rows 5-10', 'rows 2, 5-7': ascending ranks, runs of consecutive ones as a range."""
    runs: list[list[int]] = []
    for rank in ranks:
        if runs and rank == runs[-1][-1] + 1:
            runs[-1].append(rank)
        else:
            runs.append([rank])
    said = ", ".join(f"{run[0]}-{run[-1]}" if len(run) > 1 else f"{run[0]}" for run in runs)
    return f"{'row' if len(ranks) == 1 else 'rows'} {said}"


def _on(chips: int, system: Any) -> str:
    """What a job runs on: '64 x huawei-ascend-910c (atlas-800-a3), 128 ranks (2 dies a chip)'."""
    return f"{chips} x {system.chip.id} ({system.id}){ranks_clause(chips, system.chip.dies)}"


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
