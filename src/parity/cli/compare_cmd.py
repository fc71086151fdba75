"""`parity compare`: systems side by side on one or more models, serving or training."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import click

from parity import catalog
from parity.cli import cli, deliver, format_option, out_option, output_format, progress_bar, refuse_repeats, \
    render_output, systems_named, typed_options
from parity.cli.compare_captions import _intervals_caption, _once, _pair_text, _refine_caption, _shared_caption, \
    _stacks_text, _what_if_caption
from parity.cli.compare_rows import SERVE_DIFFERS, _flatten, _noted, _ratio_cell, _rerun
from parity.cli.files import model_file, refuse_overwrite
from parity.cli.variants import variant_systems, variants_option
from parity.cli.workloads import refuse_other_workloads_options, training_run_options
from parity.cli.labels import SPECS_ASSUMED_WORDS, flags_caption, mfu_caption, system_label
from parity.cli.values import CHIPS, DEFAULT_TTFT, ENGINE, FORMAT_NAME, TOKENS, Targets, \
    arrivals_option, arrivals_text, formats_text, targets_options
from parity.cli.mtp import mtp_caption, mtp_option, refuse_mtp_without_layers
from parity.cli.percentile_choice import bound_text, percentile_choice, screened
from parity.compare import DEFAULT_MODELS, DEFAULT_SYSTEMS, compare, SAVINGS_AS_GOOD, format_label, spec_bases, \
    without_even_text
from parity.errors import ParityError
from parity.export import EXPORT_RULES, refusal, rule_fields, screen
from parity.model import Model
from parity.parallel import map_chunks
from parity.cli.serve_line import simulated_as_compared
from parity.report.notes import NO_POWER_ERROR
from parity.report.tables import Column, plain, ratio, reached, scaled
from parity.units import counted
from parity.training import default_global_batch
from parity.uncertainty import UNMEASURED_GEMM_WORDS, specs_flag

SPECS = (("bf16", "BF16 x"), ("eight_bit", "8-bit x"), ("memory", "mem x"), ("bandwidth", "BW x"), ("power", "TDP x"))
SYSTEM_SPECS = (("system_bf16", "sys BF16 x"), ("system_memory", "sys mem x"), ("system_power", "sys power x"))
LAST = 4  # the rank of a wide column added only where every other fits (past every other rank of compare's table)


def _refuse_namesakes(named: Sequence[tuple[str, Model]]) -> None:
    """Refuse two config files read as models of one name (a config.json goes by its folder's: x/m and y/m are both
    'm'), naming both, where 'm named twice' read as if one model were given twice (report-only tester fuzzDR 1)."""
    given: dict[str, list[str]] = {}
    for text, model in named:
        given.setdefault(model.name, []).append(text)
    for name, texts_given in given.items():
        files = list(dict.fromkeys(str(found.resolve()) for t in texts_given if (found := model_file(t))))
        if len(files) > 1:
            raise ParityError(f"{' and '.join(texts_given)} both go by the name {name!r} (a config.json by its "
                              "folder's): each model is compared once by its name; rename a folder")


# options only one workload reads (the other would ignore them): option -> its parameter
_SERVING_ONLY = {"--tpot": "tpot_s", "--ttft": "ttft_s", "--isl": "isl", "--osl": "osl", "--weights": "weights",
                 "--engine": "engine", "--mtp": "mtp_tokens", "--refine": "refine", "--arrivals": "arrivals"}
_TRAINING_ONLY = {"--chips": "chips", "--seq-len": "seq_len", "--global-batch": "global_batch",
                  "--precision": "training_precision"}


@cli.command(name="compare")
@click.argument("systems", nargs=-1)
@click.option("--model", "models", multiple=True,
              help=f"catalog model or config.json (repeatable); default: {', '.join(DEFAULT_MODELS)}")
@click.option("--workload", type=click.Choice(["serve", "train"]), default="serve", show_default=True,
              help="serve: serving throughput at the latency targets; train: training tokens/s per chip")
@targets_options(ttft_default=DEFAULT_TTFT, statistics=True)
@click.option("--isl", default=1024, show_default=True, type=TOKENS, help="prompt tokens per request")
@click.option("--osl", default=1024, show_default=True, type=TOKENS, help="output tokens per request")
@click.option("--weights", type=FORMAT_NAME, default=None,
              help="serving weight format for all systems (default: best native per chip)")
@click.option("--engine", type=ENGINE, default="generic", show_default=True, help="serving-engine profile")
@click.option("--chips", type=CHIPS, default=None,
              help="training: chips each system trains on (default: the fewest whole systems on which a layout "
                   "fits, as train sizes a job)")
@training_run_options
@click.option("--baseline", default=None, help="system the ratios divide by (default: the first)")
@mtp_option("serving: ")
@click.option("--refine", is_flag=True,
              help="serving: re-run each system's best configuration with the step-level simulator, as `parity "
                   "serve --sim` would, and show its TTFT, TPOT and tokens/s per chip beside the steady-state "
                   "model's, which chose the configuration (seconds more); needed by a percentile target "
                   "(--ttft p99:2s), which the simulator checks (a minute or so more)")
@arrivals_option()
@variants_option("is compared after the systems named (given none, each variant follows its chip's default "
                 "system); --baseline may name one")
@click.option("--rule", default=None, type=click.Choice(EXPORT_RULES, case_sensitive=False),
              help="keep only the systems whose chip a buyer in China gets under this US export-control rule, as "
                   "`parity fleet --rule` does (the caption names every system dropped and why); a --baseline it "
                   "drops is refused")
@click.option("--processes", type=click.IntRange(min=1), default=2, show_default=True,
              help="worker processes the systems are searched (and simulated) on")
@format_option
@out_option
def compare_command(systems: tuple[str, ...], models: tuple[str, ...], workload: str, targets: Targets,
                    isl: int, osl: int, weights: str | None, engine: str, chips: int | None, seq_len: int,
                    global_batch: int | None, training_precision: str, baseline: str | None, mtp_tokens: int | None,
                    refine: bool, arrivals: str, variants_path: Path | None, rule: str | None, processes: int,
                    fmt: str, out: Path | None) -> None:
    """Compare systems on a model (default: 8-chip nodes of H20, RTX Pro 6000D, H800, H100, H200, B200,
    Ascend 910B, Ascend 910C and MI300X on Llama-3.1-70B and DeepSeek-R1): datasheet ratios beside
    what each delivers per chip, per system, per kW and per GB in its best configuration."""
    refuse_other_workloads_options(workload, _SERVING_ONLY, _TRAINING_ONLY)
    refuse_overwrite([("--model", model_file(m)) for m in models] + [("--variants", variants_path)],
                     [("--out", out)])
    percentiles = targets.percentiles()
    if percentiles and not refine:
        raise ParityError(f"{' and '.join(bound_text(t) for t in percentiles)}: a percentile target is checked by the "
                          "step-level simulator, so it needs --refine (or give the mean's bound, e.g. "
                          f"--{percentiles[0].metric} {percentiles[0].seconds:g}s)")
    if not refine and typed_options({"--arrivals": "arrivals"}):
        raise ParityError("--arrivals says how the simulator's requests arrive: it needs --refine")
    what_ifs = variant_systems(variants_path, "parity compare")
    found = systems_named(systems or list(dict.fromkeys(s.chip.id for s in what_ifs)) or DEFAULT_SYSTEMS,
                          "each system is compared once") + what_ifs
    exporting = screen(found, rule) if rule else None  # every system dropped: one line, before any search
    found = list(exporting.kept) if exporting else found
    # a catalog model by its name in every line the rows give ('Llama 3.1 8B' read so in serve_command), a file by
    # its path
    named = [(name if model_file(name) else found_model.name, found_model)
             for name in models or DEFAULT_MODELS for found_model in (catalog.model(name),)]
    _refuse_namesakes(named)
    refuse_repeats([m.name for _, m in named], "each model is compared once")
    refuse_mtp_without_layers([m for _, m in named], mtp_tokens)
    base = (next((s for s in what_ifs if s.id.lower() == baseline.strip().lower()), None) or catalog.system(baseline)
            if baseline else found[0])  # a variant by its name in any case, as variant names clash
    if exporting and (why := refusal(base.chip, exporting.rule)):
        raise ParityError(f"--baseline {base.id}: --rule {exporting.rule} drops it ({why}); name a baseline the rule "
                          "keeps")
    profile = catalog.engine(engine)
    fmt = output_format(fmt, out)
    payload, texts = [], []
    explained: dict[str, str] = {}  # the caption's terms under an earlier model's table, and its name (_once)
    by_id = {s.id: s for s in [base, *found]}  # each row's system, a what-if variant's included
    global_batch = global_batch or default_global_batch(seq_len)  # train's default: 4M tokens' worth
    for name, model in named:
        drafts = catalog.mtp_drafts(model, mtp_tokens)
        choose = functools.partial(percentile_choice, model_name=name, engine=engine, isl=isl, osl=osl,
                                   mtp_tokens=drafts, weights=weights, percentiles=percentiles,
                                   arrivals=arrivals) if percentiles else None
        with progress_bar(shown=refine) as bar:  # --refine's searches and runs, on a terminal only, on stderr
            due = len(found) + (base.id not in {s.id for s in found})  # compare runs the baseline too
            searched = bar.add_task(f"{name}: searching{' and simulating' if percentiles else ''} "
                                    f"{counted(due, 'system')}", total=due)
            results = compare(found, model, profile, targets.tpot_s, isl, osl, weights, base,
                              targets.screen_ttft_s(arrivals), workload, chips, seq_len, global_batch,
                              training_precision, drafts, processes, choose, lambda n: bar.advance(searched, n))
            simulating = bar.add_task(f"{name}: simulating {counted(len(results), 'configuration')}",
                                      total=len(results))
            jobs = [(r.configuration, by_id[r.system], name, engine, isl, osl, drafts, weights, arrivals)
                    for r in results]
            sims = (map_chunks(simulated_as_compared, jobs, processes, progress=lambda _: bar.advance(simulating))
                    if refine else [{} for _ in results])
        if percentiles:
            judged = (f"configuration: the fastest whose simulated {' and '.join(bound_text(t) for t in percentiles)} "
                      f"hold, among those whose {screened(targets, arrivals)}" + arrivals_text(arrivals))
            results = [replace(r, assumptions=r.assumptions + (judged,)) for r in results]
        if exporting:
            results = [replace(r, assumptions=r.assumptions + (exporting.text,)) for r in results]
        reruns, briefs = zip(*[_rerun(r, by_id[r.system], name, engine, isl, osl, drafts, weights, targets)
                               if workload == "serve" else ({}, "") for r in results])
        results = [_noted(r, brief) for r, brief in zip(results, briefs)]  # one note in every format
        rows = [_flatten(r.to_dict()) | s | again for r, s, again in zip(results, sims, reruns)]
        payload += [r.to_dict() | s | again | rule_fields(exporting, by_id[r.system])
                    for r, s, again in zip(results, sims, reruns)]
        if fmt not in ("table", "md"):
            continue
        varied = len({sys_.chips for sys_ in by_id.values()}) > 1  # a --baseline's size too
        labels = {sys_.id: f"{sys_.id}\n{system_label(sys_)}" for sys_ in by_id.values()}  # a --baseline's too
        used = results[0].baseline or base.id
        # two systems that both run it: the caption's sentence sets the other against the baseline, intervals and
        # 'no clear winner' included, so the other's note leaves that clause to it (JSON's note keeps it)
        paired = len(results) == 2 and all(r.fits for r in results)
        rows = [{**r, "system_label": labels.get(r["system"], r["system"]), "ratio_cell": _ratio_cell(r),
                 "system_ratio_cell": _ratio_cell(r, "per_system"), "kw_ratio_cell": _ratio_cell(r, "per_kw"),
                 "gb_ratio_cell": _ratio_cell(r, "per_gb"),
                 "format_label": format_label(r["weights"], r["emulated_on"]),
                 "note": without_even_text(r["note"]) if paired else r["note"]} for r in rows]
        unit = "tok/s" if workload == "serve" else "train\ntok/s"  # over two lines: 10 columns wide, not 16
        columns = [Column("system_label", "system", plain, "left"),
                   Column("format_label", "format", plain, "left", wrap=True),  # 'fp8 on bf16' over two lines
                   Column("mode", "mode", plain, "left", wide=3)]
        if varied:  # systems of different sizes: per-chip compute and memory, then whole-system ratios; the other
            # per-chip ratios only where every other column fits (--wide)
            columns += [Column(f"spec_{k}", label, ratio, wide=2 if k in ("bf16", "memory") else LAST)
                        for k, label in SPECS]
            columns += [Column(f"spec_{k}", label, ratio, wide=2) for k, label in SYSTEM_SPECS]
        else:  # systems of one size: a system's ratios are its chip's (sys BF16 x is BF16 x), so none repeats them
            columns += [Column(f"spec_{k}", label, ratio, wide=2) for k, label in SPECS]
        if workload == "serve":
            columns += [Column("ttft_s", "TTFT ms", reached(scaled(1e-3)), wide=3 if percentiles else 1),
                        # the simulator's mean TTFT beside the steady one gives way first (as its tok/s/chip does)
                        *([Column("sim_ttft_s", "sim TTFT ms", reached(scaled(1e-3)), wide=2 if percentiles else 1)]
                          if refine else []),
                        *[Column(f"sim_{t.key}", f"sim {t.metric.upper()}\n{t.statistic} ms", reached(scaled(1e-3)))
                          for t in sorted(percentiles, key=lambda t: t.metric != "ttft")],
                        Column("tpot_s", "TPOT ms", reached(scaled(1e-3)), wide=2),
                        *([Column("sim_tpot_s", "sim TPOT ms", reached(scaled(1e-3)), wide=2)] if refine else []),
                        Column("prefill_tokens_per_s_per_chip", "prefill tok/s/chip", reached(scaled(1)), wide=3)]
        columns += [Column("tokens_per_s_per_chip", f"{unit}/chip", reached(scaled(1))),
                    *([Column("sim_tokens_per_s_per_chip", f"sim {unit}/chip", reached(scaled(1)), wide=1)]
                      if refine else []),
                    Column("ratio_cell", "x/chip\n80% int.", plain)]
        if not varied:  # a system's throughput (--wide): no x/system, which is x/chip for systems of one size
            columns.append(Column("tokens_per_s_per_system", f"{unit}/system", reached(scaled(1)), wide=LAST))
        else:
            columns += [Column("tokens_per_s_per_system", f"{unit}/system", reached(scaled(1)), wide=2),
                        # training's first to give way where the columns that must show pass the terminal (a
                        # multi-chip system's note beside 'fp8_block on bf16': 81-82 at 80), so the note's words print
                        # whole (serving's note is shorter, and x/system is its headline beside the interval)
                        # (a percentile target's column beside the simulator's passes 80 columns too: x/system, which
                        # the sentence under a pair's table states with its interval, gives way to it)
                        Column("system_ratio_cell", "x/system", plain,
                               wide=1 if workload == "train" or percentiles else False)]
        columns += [Column("tokens_per_s_per_kw", f"{unit}/kW", reached(scaled(1)), wide=3),
                    Column("kw_ratio_cell", "x/kW", plain, wide=True)]
        # per GB differs from per chip wherever the chips' memories do, whatever the systems' sizes
        columns.append(Column("gb_ratio_cell", "x/GB", plain, wide=True))
        if workload == "train":
            columns.append(Column("mfu", "MFU", lambda v: "-" if v is None or math.isnan(v) else f"{v:.0%}"))
        columns.append(Column("note", "note", plain, "left"))
        target = targets.text(ttft_always=True)
        pair = ""
        if paired:
            # the other system against the baseline, as the table's ratios read (each's ratios are to the same
            # baseline: other / baseline is their quotient)
            first, second = results
            pair = _pair_text(first, second, workload) if second.system == used else _pair_text(second, first, workload)
        against = used if used == base.id else f"{used} ({base.id} cannot run it)"
        title = (f"{model.name}: serving {isl} in / {osl} out at {target}, ratios to {against}" if workload == "serve"
                 else f"{model.name}: training, {seq_len}-token sequences, {global_batch} per step, ratios to {against}")
        mtp_text = mtp_caption(model, drafts, mtp_tokens is not None, "on every chip") if workload == "serve" else ""
        # each 'power derived' flag's figure and arithmetic ('11.65 kW per atlas-800-a3 (parity arithmetic: ...)')
        derived = list(dict.fromkeys(f.text.removeprefix("power derived: ") for r in results for f in r.flags
                                     if f.kind == "power derived"))
        idle = workload == "train" and any("no layout divides the system's" in r.note for r in results)
        idle_text = " (where no layout divides a system's chips, those a layout trains on: its note says so)"
        per = ("per system = every chip of the system busy" + (idle_text if idle else "")
               + "; per kW = per system over the system's power (a datasheet maximum or an all-in figure where "
               "published, else assumed on that basis: a server chips x TDP x 1.82, a liquid-cooled rack x 1.68"
               + ("; or derived from another system's published figure, where the note says 'power derived'"
                  if derived else "")
               + "; 'parity show SYSTEM'); per GB = per system over its memory; ")
        assumed = any(specs_flag(by_id[r.system].chip) for r in results)
        unknown = any(math.isnan(v) for r in results for v in r.spec_ratios.values())
        specs = spec_bases([by_id[r.system] for r in results]) + (
            ", parity's assumptions where a note says 'specs assumed'" if assumed else "") + (
            " (x = times the baseline; '-': no source gives the figure of the row's chip or the baseline's, as an "
            "8-bit rate 'parity formats' calls unpublished)" if unknown else " (x = times the baseline)")
        uncalibrated = (("'uncalibrated': no measured calibration of the chip itself (it inherits its family's or "
                         "runs on the derived prior; 'parity show CHIP'); " if any("uncalibrated" in r.note
                                                                                   for r in results) else "")
                        + "a calibrated chip ('calibrated' in --format json) has kernels timed by parity on it, "
                        "published kernel figures of it (its 'calibration:' assumption names them), or serving runs of "
                        "it that fitted the engine profiles, and may have part of its kernel figures from other chips: "
                        "its 'kernel figures:' assumption says which were fitted on it and which it inherits, from "
                        "which chip (kernel_figures in --format json: fitted, partly, inherited or prior)"
                        + (f"; {UNMEASURED_GEMM_WORDS}" if any("GEMM rate not measured" in r.note for r in results)
                           else "")
                        + ("; 'reported chip', 'announced chip', 'roadmap chip': not shipping, the note names the "
                           "source kinds of its figures"
                           if any(by_id[r.system].chip.status != "shipping" for r in results)
                           else "")
                        + ("; 'power assumed': the system's power is parity's assumption above (or a what-if's, "
                           "derived from the catalog's as its flag says), which its per-kW figures rest on; "
                           + NO_POWER_ERROR
                           if any(f.kind == "power assumed" for r in results for f in r.flags)
                           else "")
                        + ("; 'power derived': the system's power is parity's arithmetic on another system's "
                           "published figure, not one published for it, which its per-kW figures rest on: "
                           + " and ".join(derived) + "; its per-kW interval holds the per-chip rate's error alone, "
                           "not that figure's" if derived else "")
                        + (f"; {SPECS_ASSUMED_WORDS}" if assumed else ""))
        multi_die = any(by_id[r.system].chip.dies > 1 for r in results)
        stacks = _stacks_text(profile, results, by_id) if workload == "serve" else ""
        if workload == "serve":
            disaggregated = any(r.mode == "disagg" for r in results)
            formats = formats_text(weights, disaggregated, [(r.weights, r.emulated_on) for r in results])
            pieces = [(f"Formats: {formats} (each row's whole line: serve_command in --format json or csv"
                       + ("; serve_note: the whole workers a disaggregated row's line runs; 'serve line' in the note: "
                          f"serve's figures where they differ from the row's by {SERVE_DIFFERS:.0%} or more"
                          if disaggregated else "") + "). ", True),
                      (f"Engine profile: {profile.id}. {stacks}"
                       + (f"{mtp_text} " if mtp_text else ""), False),
                      ("tok/s: output tokens per second. ", True),
                      (f"{specs}; throughput predicted in each system's best configuration; {per}"
                       + ("a multi-die package (Ascend 910C) runs one rank per die; " if multi_die else "")
                       + f"{uncalibrated}. ", True),
                      ("'spans N systems': its workers span N systems over scale-out, where the model does not fit "
                       "one or where workers over N (up to 4) deliver 1.25x or more per chip, as `parity fleet` "
                       "takes them ('(M/chip on one)': the one-system best they replace). "
                       if any("spans " in r.note for r in results) else "", True),
                      (_intervals_caption("serve", varied, bool(pair)), True),
                      (_shared_caption(results), True),
                      *(_refine_caption(results, sims, percentiles) if refine else [])]
        else:
            counts = {r.system: r.chips for r in results if r.fits}
            said = (f"{next(iter(counts.values())):,} chips" if len(set(counts.values())) == 1 else
                    ", ".join(f"{n:,} {system}" for system, n in counts.items()))
            sized = (f"every system trains on {chips:,} chips (--chips)" if chips else
                     "jobs of one size, so that per-chip rates compare chips, not job sizes: the most of the fewest "
                     "chips each system needs (1, 2, 4 ... 128 whole systems on which a layout fits, as 'parity "
                     f"train' sizes a job), rounded up to whole systems of each (here {said}; 'on N systems' in "
                     "the note; --chips sets the count)" if counts else
                     "the fewest whole systems (1, 2, 4 ... 128) on which a layout fits, as 'parity train' sizes a job")
            block = any(r.weights == "fp8_block" for r in results)  # said in each row's assumptions, JSON alone
            pieces = [("train tok/s: tokens trained on per second (global batch x sequence length / step time). ",
                       True),
                      ("fp8_block is priced as fp8: its 128x128 block scales' cost is not modelled. " if block
                       else "", False),
                      (f"{specs}; throughput predicted in each system's "
                       f"fastest training layout that fits, as 'parity train' picks it; {per}{sized}; "
                       + ("'memory binds at N chips: ZeRO-3, full recompute': the system's fastest layout that fits "
                          "needs these memory savings at this job size (no layout without one fits within "
                          f"{SAVINGS_AS_GOOD:.0%} of its rate), each costing time, so its per-chip rate and "
                          "every ratio to it hold for this size alone (in brackets: its rate on a job of twice the "
                          "whole systems, with less to hold per chip); " if any(r.memory_bound for r in results)
                          else "")
                       + ("a multi-die package (Ascend 910C) trains one rank per die (layouts count dies); "
                          if multi_die else "")
                       + f"{uncalibrated}. ", True),
                      (_intervals_caption("train", varied, bool(pair)), True),
                      (_shared_caption(results), True),
                      (mfu_caption([(r.system, r.mfu_peak) for r in results if r.fits]), False)]
        texts.append(render_output(rows, columns, fmt, title=title, to_file=out is not None,
                                   caption=flags_caption(model, name, [r.flag_row() for r in results],
                                                         workload, maturity_said=bool(stacks))
                                   + pair + _once(pieces, explained, name)
                                   + _what_if_caption(what_ifs, workload)
                                   + (f"{exporting.text}. " if exporting else "")
                                   + "Assumptions: 'parity show SYSTEM', --format json."))
    deliver("\n".join(texts) if texts else render_output(payload, [], fmt, payload=payload), out)
