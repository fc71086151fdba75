"""Side-by-side comparison of systems on one model and workload.

Serving: each system's best configuration under the latency targets (`search.search_serving` over
layouts, loads, aggregated and disaggregated), in the narrowest number format its chips run
natively. Training: each system's fastest layout that fits, on the fewest whole systems on which one
does (`training.search_fewest_systems`, as `parity train` sizes a job). Results per chip, per system
(the whole system running the workload), per kW of system power and per GB of memory, with ratios
to a baseline next to the datasheet ratios, so a claim like "1.7x the compute" can be read against
the workload ratio it buys.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from parity import catalog
from parity.catalog import default_mtp, mtp_setting
from parity.cost import emulation, math_unit, native_format
from parity.dtypes import format_on
from parity.engine import EngineProfile
from parity.errors import InfeasiblePlan, expect
from parity.flags import Flag, texts
from parity.hardware import SPEC_FIELDS, Calibration, Chip, System, is_what_if, package_id, per_die, rank_holder
from parity.model import Model
from parity.parallel import map_chunks
from parity.ops import Batch
from parity.plan import Layout, Precision
from parity.search import (MAX_WORKER_CHIPS, Candidate, SearchResult, best_precision, check_records, layout_grid,
                           search_spanning)
from parity.serving import engine_deployment
from parity.serving.regimes import large_ep_decode_flag
from parity.serving.workload import DEFAULT_TTFT_S, check_serving_inputs
from parity.memory import vision_note
from parity.step import deployment_memory, step_cost
from parity.training.layout import RECOMPUTE, TrainingLayout, default_global_batch
from parity.training.search import SearchSpace, search_fewest_systems, search_training
from parity.training.step import TrainingResult
from parity.units import duration_text
from parity.uncertainty import Band, Intervals, widening, case_flags, chip_calibrated, flag_note, interval_kind, \
    calibration_label, kernel_figures_note, power_figure, power_flags, ratio_band, ratio_interval, training_band, \
    training_flags, training_interval, vendor_bands, what_if_flag, capped_rate, compute_ceiling, response_interval, \
    shared_errors

__all__ = ["DEFAULT_SYSTEMS", "DEFAULT_MODELS", "DEFAULT_FORMATS", "Comparison", "FormatResult", "best_precision",
           "compare", "compare_formats", "configuration_flags", "default_mtp", "domain_shortfall", "memory_shortfall",
           "mtp_setting", "serving_spans", "spec_ratios", "spec_bases", "SPEC_RATIO_FIELDS", "vendor_bands",
           "format_label", "intervals", "serving_ceiling", "memory_savings", "memory_text", "narrower_text",
           "serving_search", "systems_spanned", "systems_to_hold", "wider_workers", "widest_span", "RATIO_WORDS",
           "even_text", "without_even_text",
           "quotient_intervals", "held_clocks_note", "system_power_flags", "RATIO_BASES", "ratio_basis",
           "shared_text"]

DEFAULT_SYSTEMS = ("hgx-h20", "rtx-pro-6000d-server", "hgx-h800", "hgx-h100", "hgx-h200", "hgx-b200",
                   "atlas-800-a2", "atlas-800-a3", "mi300x-platform")
DEFAULT_MODELS = ("llama-3.1-70b", "deepseek-r1")
DEFAULT_FORMATS = ("bf16", "fp8", "fp8_block", "mxfp8", "int8", "nvfp4", "mxfp4")
# a second judge of a system's configurations (percentile targets, which the steady model cannot check): given the
# system, its search (means within the targets' bounds) and the systems a worker spans that it takes without
# WIDER_GAIN (serving_search's narrower span, where it took wider workers; else the search's own), the configuration
# it chooses (None: none passes) and what the row's note should say of its choice ('' for nothing; why, where none
# passes)
Choose = Callable[[System, SearchResult, int], "tuple[Candidate | None, str]"]

def spec_ratios(system: System, baseline: System) -> dict[str, float]:
    """Catalog ratios against a baseline (spec_bases says whose figures are not a datasheet's), per chip (bf16 and
    8-bit math, memory, bandwidth, TDP) and per system (bf16 total, memory total, system power). A figure the
    catalog lacks reads 0 (Chip.peak: no published rate, as the PPU's INT8), so a ratio with 0 on either side is
    NaN ('-', null in JSON), not 0x: unknown in the row as in the baseline."""
    a, b = system.chip, baseline.chip

    def eight(c: Chip) -> float:
        return max(c.peak("fp8"), c.peak("int8"))

    def over(x: float, y: float) -> float:
        return x / y if x and y else float("nan")

    return {"bf16": over(a.peak("bf16"), b.peak("bf16")), "eight_bit": over(eight(a), eight(b)),
            "memory": over(a.memory_bytes, b.memory_bytes),
            "bandwidth": over(a.memory_bytes_per_s, b.memory_bytes_per_s), "power": over(a.tdp_w, b.tdp_w),
            "system_bf16": over(system.peak("bf16"), baseline.peak("bf16")),
            "system_memory": over(system.memory_bytes, baseline.memory_bytes),
            "system_power": over(system.power_w, baseline.power_w)}


# the chip figures spec_ratios divides (its system totals are chips x these; system power has its own caption)
SPEC_RATIO_FIELDS = ("peak_flop_per_s.bf16", "peak_flop_per_s.fp8", "peak_flop_per_s.int8", *SPEC_FIELDS)


def spec_bases(systems: Sequence[System]) -> str:
    """Where the spec ratios of `systems`' chips come from, for a caption: 'Spec ratios from datasheets' where every
    figure they divide is a datasheet's, else the chips whose figures are not, with the source kinds of those ('Spec
    ratios from the catalog's figures, a datasheet's except these chips' (source kinds): nvidia-h20 press; ...'). A
    what-if's chip, which keeps its catalog chip's id, is named by the what-if's own name (its system's id), so the
    catalog chip beside it keeps its own kinds (report-only tester fuzzDE 2), and `show` finds it with --variants."""
    other: dict[str, str] = {}
    what_ifs = False
    for system in systems:
        chip = system.chip
        what_if = is_what_if(chip) or is_what_if(system)
        name = system.id if what_if else chip.id
        kinds = [k for k in chip.source_kinds(SPEC_RATIO_FIELDS) if k != "datasheet"]
        if kinds:
            other[name] = " ".join([name, ", ".join(kinds)])
            what_ifs |= what_if
    if not other:
        return "Spec ratios from datasheets"
    # a what-if is no catalog name: show finds it in its file (report-only tester fuzzED 2)
    shown = "; a what-if's: 'parity show NAME --variants FILE'" if what_ifs else ""
    return ("Spec ratios from the catalog's figures, a datasheet's except these chips' (source kinds; 'parity show "
            f"CHIP' names each figure's{shown}): {'; '.join(other.values())}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparison:
    """One system on one model and workload: the chosen format and configuration, what it delivers
    per chip, per system, per kW and per GB, ratios to the baseline, and caveats."""

    system: str
    chip: str
    model: str
    workload: str
    weights: str
    kv_cache: str
    mode: str
    emulated_on: str = ""  # the math unit the chip emulates `weights` on ('' where it runs them natively)
    expert_emulated_on: str = ""  # the same of the experts' format ('' where native or the model has no experts)
    layout: str
    chips: int
    fits: bool
    tokens_per_s_per_chip: float
    prefill_tokens_per_s_per_chip: float
    tokens_per_s_per_system: float
    tokens_per_s_per_kw: float
    tokens_per_s_per_gb: float
    tpot_s: float = float("nan")
    ttft_s: float = float("nan")
    # 80% intervals of the serving figures (NaN where none is stored or the system cannot serve)
    ttft_s_low: float = float("nan")
    ttft_s_high: float = float("nan")
    tpot_s_low: float = float("nan")
    tpot_s_high: float = float("nan")
    tokens_per_s_per_chip_low: float = float("nan")
    tokens_per_s_per_chip_high: float = float("nan")
    flags: tuple[Flag, ...] = ()  # ways the case lies outside what parity was checked on
    mfu: float = float("nan")  # model FLOP/s per chip over the dense peak of `mfu_peak`, the math the format runs on
    mfu_peak: str = ""
    mfu_bf16: float = float("nan")  # the same over the BF16 peak, whatever the format (one denominator for every chip)
    spec_ratios: dict[str, float] = field(default_factory=dict)
    ratios: dict[str, float] = field(default_factory=dict)
    note: str = ""
    # 80% interval of ratios["per_chip"] (interval_of scales it to the other ratios)
    ratio_interval: tuple[float, float] = (float("nan"), float("nan"))
    # what ratio_interval rests on (RATIO_BASES): 'bands', 'exact' or 'response'; '' where it has none
    ratio_basis: str = ""
    calibrated: bool = False  # _calibrated: the chip itself measured or fitted (either workload); never a what-if
    # which of the chip's kernel figures its calibration fitted on it (catalog.calibration_statement's verdict: fitted,
    # partly, inherited, prior); 'calibrated' may rest on part of them, or on serving runs alone
    kernel_figures: str = ""
    # training: the memory savings the fastest layout that fits needs at this job size (binding_savings), each costing
    # time, so a larger job, with less to hold per chip, may run faster per chip; () where none binds, and serving
    memory_bound: tuple[str, ...] = ()
    assumptions: tuple[str, ...] = field(default=())
    baseline: str = ""  # the system every ratio divides by
    # the best serving configuration as searched (layouts count dies of a multi-die package; its clients per
    # worker are `clients_per_worker` in to_dict), for `compare --refine` to simulate; None where none is chosen
    configuration: Candidate | None = None

    # compatibility names used by the node comparison of `parity compare`
    @property
    def decode_tokens_per_s_per_chip(self) -> float:
        return self.tokens_per_s_per_chip

    @property
    def decode_ratio(self) -> float:
        return self.ratios.get("per_chip", float("nan"))

    def interval_of(self, key: str) -> tuple[float, float]:
        """The 80% interval of ratios[key] ('per_system', 'per_kw', 'per_gb'): the per-chip ratio's (ratio_interval)
        times the factor that makes that ratio of the per-chip one (chips, power and memory per system, fixed catalog
        figures, so the per-chip error is the only one); NaN where the per-chip ratio has no interval."""
        low, high = self.ratio_interval
        per_chip, ratio = self.ratios.get("per_chip", math.nan), self.ratios.get(key, math.nan)
        factor = ratio / per_chip if per_chip else math.nan
        return low * factor, high * factor

    def flag_row(self) -> tuple[str, bool, tuple[Flag, ...]]:
        """The row as a caption's flags take it (flags_caption in report.notes): its system, whether it has a
        prediction, and its flags."""
        return self.system, self.fits, self.flags

    def to_dict(self) -> dict[str, object]:
        """The record's fields for JSON and CSV, each workload's own: a training row has no KV cache, TTFT, TPOT,
        prefill rate, clients or serving intervals (they were all null), a serving row no MFU. A row that does not
        fit has no rates (null in JSON, empty in CSV, as fleet writes them), not a 0.0 that reads as a figure."""
        out = asdict(self)
        del out["configuration"]
        if not self.fits:
            out |= dict.fromkeys(_RATES, float("nan"))
        out["flags"] = texts(self.flags)
        out |= {f"ratio_interval_{key}": self.interval_of(key) for key in tuple(RATIO_WORDS)[1:]}
        if self.workload == "train":
            return {k: v for k, v in out.items() if k not in _SERVING_ONLY}
        for key in ("mfu", "mfu_peak", "mfu_bf16", "memory_bound"):
            del out[key]
        out["clients_per_worker"] = int(self.configuration.concurrency) if self.configuration else float("nan")
        out["decode_tokens_per_s_per_chip"] = out["tokens_per_s_per_chip"]
        out["decode_ratio"] = self.decode_ratio
        return out


# the throughput ratios a comparison states (Comparison.ratios keys), in the words its notes and sentences use
RATIO_WORDS = {"per_chip": "per chip", "per_system": "per system", "per_kw": "per kW", "per_gb": "per GB"}

# the rates of a configuration, which a row that does not fit has none of
_RATES = ("tokens_per_s_per_chip", "prefill_tokens_per_s_per_chip", "tokens_per_s_per_system", "tokens_per_s_per_kw",
          "tokens_per_s_per_gb")

# Comparison fields that only serving fills (to_dict leaves them out of a training row, whose ratios carry their
# intervals from the training bands, and whose per-chip rate its own: uncertainty.training_interval)
_SERVING_ONLY = frozenset({"kv_cache", "prefill_tokens_per_s_per_chip", "tpot_s", "ttft_s", "ttft_s_low",
                           "ttft_s_high", "tpot_s_low", "tpot_s_high"})


def _per_system(system: System, per_chip: float) -> tuple[float, float, float]:
    """(tokens/s of the whole system, per kW of system power, per GB of chip memory)."""
    whole = per_chip * system.chips
    return whole, system.per_kw(per_chip), per_chip / (system.chip.memory_bytes / 1e9)


def _prefill_rate(model: Model, system: System, profile: EngineProfile, precision: Precision, layout: Layout,
                  isl: int, cal: Calibration) -> float:
    """Prompt tokens/s per chip (rank) of a layout's prefill (steps filled to the token budget)."""
    dep = engine_deployment(model, system, layout, precision, cal, profile)
    tokens = float(max(profile.max_num_tokens, isl))
    t = float(step_cost(dep, Batch(prefill_tokens=tokens, prefill_sequences=tokens / isl)).time_s)
    return tokens * layout.attn_dp / t / layout.chips


def _calibrated(chip: Chip, cal: Calibration) -> bool:
    """A row's `calibrated`, as compare's caption defines it: parity timed kernels on the chip, holds published kernel
    figures of it, or serving runs of it fitted the engine profiles (chip_calibrated). Never a what-if chip
    (hardware.what_if, a --variants chip), which only borrows the calibration of the catalog chip whose id it keeps,
    as its 'what-if' flag says."""
    return chip_calibrated(chip, cal) and not is_what_if(chip)


def format_label(weights: str, emulated_on: str) -> str:
    """A row's format as people read it: 'fp8', or 'fp8 on bf16' where the chip emulates it on bf16."""
    return f"{weights} on {emulated_on}" if emulated_on else weights


def _serve(system: System, model: Model, profile: EngineProfile, tpot_s: float | None, ttft_s: float | None, isl: int,
           osl: int, weights: str | None, mtp_tokens: int = 0, choose: Choose | None = None,
           note_emulation: bool = True) -> Comparison:
    """One system's serving row, before ratios; note_emulation False: its note leaves out that the chip emulates the
    format (compare_formats says it in its own column)."""
    chip = system.chip
    cal = catalog.calibration(chip)
    precision = best_precision(model, chip, weights)
    emulated_on, emulated = emulation(precision.weights, chip)
    common = dict(system=system.id, chip=chip.id, model=model.name, workload="serve", weights=precision.weights,
                  emulated_on=emulated_on,
                  expert_emulated_on=emulation(precision.expert_weights, chip)[0] if "moe" in model.features else "",
                  kv_cache=precision.kv_cache, calibrated=_calibrated(chip, cal),
                  kernel_figures=catalog.calibration_statement(chip, cal).verdict)
    # a multi-die package (Ascend 910C) runs one rank per die, as its frameworks see it (16 devices an
    # Atlas 800 A3 node) and as the rows that fitted its engine profiles ran; the package's efficiencies hold
    ranks, dies = per_die(system), chip.dies
    shortfall = domain_shortfall(model, ranks, profile, precision, isl + osl)
    mtp, mtp_note = mtp_setting(model, mtp_tokens)
    result, span, narrow, passed = serving_search(functools.partial(
        search_spanning, model, ranks, profile, cal, precision, isl, osl, tpot_s, ttft_s, mtp=mtp,
        meeting=choose is not None), ranks, shortfall)
    result = result.per_package(dies) if result is not None else None  # rates per package, layouts in dies
    die_note = (f"one rank per die ({dies} a package; layouts count dies, rates are per package)"
                if dies > 1 else "")
    engine_note = f"engine profile {profile.id}" + (
        "" if profile.name == catalog.engine(profile.id).name else f" ({profile.name})")
    notes = tuple(filter(None, (engine_note, catalog.engine_user_note(profile),
                                catalog.maturity_note(profile, chip.software_stack),
                                calibration_label(system, cal), kernel_figures_note(system, cal),
                                held_clocks_note(system), mtp_note,
                                die_note, vision_note(model)))) + (
             f"workload {isl} in / {osl} out; mean targets TPOT "
             f"{'none' if not tpot_s else f'{tpot_s * 1e3:g} ms'}, TTFT {'none' if not ttft_s else f'{ttft_s:g} s'}",
             "best configuration: most output tokens/s per chip meeting the targets, over layouts of one scale-up "
             "domain (of up to 4 systems over scale-out where those deliver 1.25x more per chip, or the model fits "
             "no one), loads up to each layout's KV capacity, aggregated and disaggregated serving")
    chosen, why = (result.best if result is not None else None), ""
    if chosen is not None and choose is not None:
        chosen, why = choose(system, result, narrow[1] if narrow else widest_span(ranks))
        # the span the note names is the chosen worker's (its chips per package, as the result's): a percentile choice
        # may take a narrower worker than the steady best's (a 2-system tp8-pp2 where the search spanned 4;
        # report-only tester fixec), and the narrower figure only beside a worker wider than its own
        span = systems_spanned(chosen, system) if chosen is not None else span
        narrow = narrow if narrow is not None and span > narrow[1] else None
    if chosen is None:
        if not why:
            widest = memory_shortfall(model, ranks, profile, precision, 4 * _domain_chips(ranks), isl + osl)
            rank = "die" if dies > 1 else "chip"  # both shortfalls are a rank's: the widest one per rank too
            why = (result.binding() if result is not None and (result.feasible or shortfall <= 0) else
                   f"does not fit by {shortfall / 1e9:.1f} GB per {rank}"
                   + (f" (by {widest / 1e9:.1f} GB per {rank} across 4 systems)" if 0 < widest < float("inf") else "")
                   if shortfall > 0 else "no layout divides the model")
        what_if = tuple(filter(None, [what_if_flag(system)]))  # a variant's every row says it is one
        return Comparison(**common, mode="-", layout="-", chips=system.chips, fits=False, tokens_per_s_per_chip=0.0,
                          prefill_tokens_per_s_per_chip=0.0, tokens_per_s_per_system=0.0, tokens_per_s_per_kw=0.0,
                          tokens_per_s_per_gb=0.0, flags=what_if, note="; ".join([*flag_note(what_if), why]),
                          assumptions=notes)
    best = chosen
    whole, per_kw, per_gb = _per_system(system, best.tokens_per_s_per_chip)
    raised = configuration_flags(best, system, model, profile, mtp[0], isl + osl, precision, osl > 1)
    note = "; ".join(filter(None, [
        *flag_note(raised), emulated if note_emulation else "",
        f"spans {span} systems{narrower_text(narrow, dies, choose is not None)}" if span > 1 else "",
        passed_text(passed, dies), why,
        ttft_binding_text(_untimed_best(model, ranks, profile, cal, precision, isl, osl, tpot_s, mtp, shortfall, dies)
                          if ttft_s and best.ttft_s > TTFT_NEAR * ttft_s else None, best, ttft_s, choose is not None)]))
    ceiling = serving_ceiling(model, system, precision, isl, osl)
    return Comparison(**common, **intervals(best, model, raised, ceiling), flags=raised, mode=best.mode,
                      configuration=chosen,
                      layout=(f"P {best.layout} / D {best.decode_layout}" if best.decode_layout
                              else str(best.layout)),
                      chips=system.chips, fits=True, tokens_per_s_per_chip=best.tokens_per_s_per_chip,
                      prefill_tokens_per_s_per_chip=dies * _prefill_rate(model, ranks, profile, precision, best.layout,
                                                                         isl, cal),
                      tokens_per_s_per_system=whole, tokens_per_s_per_kw=per_kw, tokens_per_s_per_gb=per_gb,
                      tpot_s=best.tpot_s, ttft_s=best.ttft_s, note=note, assumptions=notes)


TTFT_BINDS = 1.25  # a row's note names the rate without the TTFT target where that is this much more per chip
TTFT_NEAR = 0.5  # a TTFT target is looked at where the row's TTFT is past this share of it (a bound far off binds none)


def _untimed_best(model: Model, ranks: System, profile: EngineProfile, cal: Calibration | None, precision: Precision,
                  isl: int, osl: int, tpot_s: float | None, mtp: tuple[int, float], shortfall: float,
                  dies: int) -> Candidate | None:
    """The configuration compare takes for the system with no TTFT target (the same search, spans included), as
    `--ttft none` prints it; None where none fits."""
    found = serving_search(functools.partial(search_spanning, model, ranks, profile, cal, precision, isl, osl, tpot_s,
                                             None, mtp=mtp), ranks, shortfall)[0]
    return found.per_package(dies).best if found is not None else None


def ttft_binding_text(loose: Candidate | None, best: Candidate, ttft_s: float | None, screen: bool = False) -> str:
    """'the TTFT target 5 s binds: 1,634/chip without it (TTFT 31.9 s)': where the configuration compare takes with no
    TTFT target (`loose`, as `--ttft none` prints it) delivers TTFT_BINDS or more per chip than `best`, so the row's
    rate, and every ratio to it, rests on the TTFT bound (and on the engine's TTFT model, its queueing most of all);
    '' otherwise. `screen`: the bound is the mean's screen of a percentile target. DeepSeek-R1 on an Atlas 800 A3
    with SGLang's fitted profile: 385/chip at a 5 s mean TTFT, 1,634 without it, where the H20 moves 543 -> 674
    (report-only testers fuzzDN 1, fuzzDS 1-2: the rate at the row's own span alone read 1,338)."""
    if loose is None or not ttft_s or loose.tokens_per_s_per_chip < TTFT_BINDS * best.tokens_per_s_per_chip:
        return ""
    bound = f"the mean TTFT screen {duration_text(ttft_s)}" if screen else f"the TTFT target {duration_text(ttft_s)}"
    return (f"{bound} binds: {loose.tokens_per_s_per_chip:,.0f}/chip without it "
            f"(TTFT {duration_text(loose.ttft_s)})")


WIDER_GAIN = 1.25  # workers over more systems are taken when they deliver this much more per chip
NAMED_GAIN = 1.05  # and named (passed_text) where they deliver this much more, not taken


def serving_search(search: Callable[..., tuple[SearchResult | None, int]], ranks: System, shortfall_bytes: float
                   ) -> tuple[SearchResult | None, int, tuple[float, int] | None, tuple[float, int] | None]:
    """`search` (search_spanning with all but its spans) over serving_spans(shortfall_bytes), then with workers over
    widest_span(ranks) systems where those deliver WIDER_GAIN x more per chip than the narrower best (or where the
    narrower has none): (result, systems its workers span, (tokens/s per rank, systems) of the narrower best it
    replaced, or None; the same of a wider best it did not take, faster per chip by less than WIDER_GAIN, or None;
    the systems are those the chosen worker spans). A looser target can so price a chip below a tighter one (the
    narrower best gains more from it than the wider): passed_text says so. A model that fits one system is not kept on
    one: a MoE model's experts spread over more ranks, each reading fewer weights a step, so DeepSeek-R1 on the 910C
    delivers 1,617 tok/s/chip over four Atlas 800 A3 against 510 on one (SGLang's own A3 recipe decodes over two),
    and keeping it there priced a chip that holds the model alone below one that does not (the H20, which spans
    two). compare and fleet both choose so."""
    found, spans = search(spans=serving_spans(shortfall_bytes))
    if spans >= widest_span(ranks):
        return found, spans, None, None
    narrow = found.best.tokens_per_s_per_chip if found is not None and found.best is not None else 0.0
    wider = _wider_search(search, ranks)
    if _gains(wider, narrow):
        assert wider is not None and wider.best is not None
        if found is not None and found.meeting:
            # the narrower workers stay in a percentile target's choice as their own search priced them (the wider
            # search pairs a narrow decode worker with a wider prefill worker where that delivers more): it takes a
            # wider one only where it gains WIDER_GAIN over them (percentile_choice)
            wider = replace(wider, meeting=found.meeting + tuple(
                c for c in wider.meeting if systems_spanned(c, ranks) > spans))
        return wider, systems_spanned(wider.best, ranks), (narrow, spans) if narrow else None, None
    passed = (None if wider is None or wider.best is None or wider.best.tokens_per_s_per_chip < NAMED_GAIN * narrow
              else (wider.best.tokens_per_s_per_chip, systems_spanned(wider.best, ranks)))
    if found is not None and wider is not None:
        # the fastest TPOT and TTFT of every worker searched, so that "the fastest configuration that fits reaches"
        # (SearchResult.binding, percentile_choice) holds over both spans: it named one system's 12.4 s TTFT where
        # workers over four reach 3.4 s
        found = replace(found, fastest_tpot_s=min(found.fastest_tpot_s, wider.fastest_tpot_s),
                        fastest_ttft_s=min(found.fastest_ttft_s, wider.fastest_ttft_s))
    return found, spans, None, passed


def systems_spanned(candidate: Candidate, system: System) -> int:
    """The systems a configuration's widest worker spans, decode or prefill, its chips counted as `system`'s are
    (dies for a per-die system, packages after SearchResult.per_package): a search over 4 systems may choose a worker
    of 2. A disaggregated one's prefill worker counts too: Llama-3.1-8B in bf16 on HGX H100s at TPOT 2.6 ms, TTFT
    25 ms takes a tp8 decode worker beside a tp8-pp4 prefill worker over 4 systems, which read as 1 system, wider
    than search's own best (report-only tester fixec 1)."""
    return max(1, math.ceil(max(candidate.worker_chips()) / system.chips - 1e-9))


def wider_workers(search: Callable[..., tuple[SearchResult | None, int]], ranks: System,
                  per_rank: float) -> SearchResult | None:
    """`search` (search_spanning with all but its spans) with workers over widest_span(ranks) systems, where its best
    delivers WIDER_GAIN x `per_rank` [tokens/s per rank] or more (0: any best); None where no wider span exists or
    it gains less."""
    found = _wider_search(search, ranks)
    return found if _gains(found, per_rank) else None


def _wider_search(search: Callable[..., tuple[SearchResult | None, int]], ranks: System) -> SearchResult | None:
    """`search` with workers over widest_span(ranks) systems; None where no wider span exists."""
    widest = widest_span(ranks)
    return search(spans=(widest,))[0] if widest >= 2 else None


def _gains(found: SearchResult | None, per_rank: float) -> bool:
    """Whether the wider search's best delivers WIDER_GAIN x `per_rank` [tokens/s per rank] or more."""
    return found is not None and found.best is not None and found.best.tokens_per_s_per_chip >= WIDER_GAIN * per_rank


def passed_text(passed: tuple[float, int] | None, dies: int) -> str:
    """'workers over up to 2 systems reach 3,358/chip, under the 1.25x gain that spanning more systems needs': a wider
    best serving_search did not take (its per-chip rate per package of `dies`); '' where none is faster."""
    if passed is None:
        return ""
    return (f"workers over up to {passed[1]} systems reach {passed[0] * dies:,.0f}/chip, under the {WIDER_GAIN:g}x "
            "gain that spanning more systems needs")


def narrower_text(narrow: tuple[float, int] | None, dies: int, screened: bool = False) -> str:
    """' (510/chip on one)': the per-chip rate [tokens/s per rank] of the narrower best serving_search replaced, per
    package of `dies`; '' where it replaced none. `screened`: the row was then chosen under a percentile target, so
    the narrower figure, the steady search's at the mean targets that chose the span, says so."""
    if narrow is None:
        return ""
    return (f" ({narrow[0] * dies:,.0f}/chip on {'one' if narrow[1] == 1 else narrow[1]}"
            + (" at the mean targets" if screened else "") + ")")


def configuration_flags(best: Candidate, system: System, model: Model, engine: EngineProfile, mtp_tokens: int,
                        context_tokens: int, precision: Precision, decodes: bool = True) -> tuple[Flag, ...]:
    """The flags of a best serving configuration on `system` as compare, search and fleet raise them (case_flags of
    its layouts, prefill and decode, with its weights', experts' and KV cache's formats; MTP drafts past the measured
    acceptance; a large-EP decode layout: regimes.large_ep_decode_flag; the system's power_flags), from which its
    intervals widen (`intervals`); `engine` as priced on the chip's stack (catalog.engine_on); `decodes`: whether a
    decode step runs (no large-EP decode flag for a prompt-only run, osl 1)."""
    layouts = [best.layout] + ([best.decode_layout] if best.decode_layout else [])
    # the decode layout's ranks are dies of a multi-die package, as compare, search and fleet run it (per_die)
    decoding = large_ep_decode_flag(per_die(system), best.decode_layout or best.layout,
                                    "moe" in model.features) if decodes else None
    return (case_flags([(system, None)], model, engine, layouts, mtp_tokens, context_tokens, precision.weights,
                       precision.expert_weights, precision.kv_cache) + tuple(filter(None, (decoding,)))
            + catalog.mtp_flags(model, mtp_tokens) + system_power_flags(system))


def held_clocks_note(system: System) -> str:
    """What a what-if that changes a chip's TDP or a system's power, and no peak rate, leaves as it was: its peak rates
    and clocks stay the catalog chip's at its stock TDP, as parity models no power-capped clocks, so its per-kW (and
    per-MW) change is power arithmetic only (an H20 at half its TDP kept its 738 tok/s/chip and read 1.38x per kW with
    no word of it: report-only tester fixfb 3); '' for any other system."""
    chip = {r.field.partition(".")[0] for r in system.chip.provenance if r.source.id == "what-if"}
    own = {r.field for r in system.provenance if r.source.id == "what-if"}
    if not ("tdp_w" in chip or "power_w" in own) or "peak_flop_per_s" in chip:
        return ""
    return (f"peak rates and clocks held at {package_id(system.chip)}'s stock TDP (parity does not model "
            "power-capped clocks): a per-kW change is power arithmetic only")


def system_power_flags(system: System) -> tuple[Flag, ...]:
    """The flags of a system's power, which its per-kW and MW figures rest on: uncertainty.power_flags ('power
    assumed': parity's assumption), and 'power derived' where the catalog's figure is parity's arithmetic on another
    system's published one (its source's kind 'derived', as `parity show` gives it): an Atlas 800 A3's 11.65 kW is
    CloudMatrix 384's all-in 559 kW / 384 x 8, UB switches and optics a stand-alone node lacks included (its per kW
    read 1.09x a published node's with no flag: report-only tester fixfb 4). 'power derived' is informational
    (widen 1): the per-chip rate's interval rests on no system's power."""
    record = system.source_of("power_w")
    if record is None or record.source.kind != "derived":
        return power_flags(system)
    basis = record.note or record.source.title
    return power_flags(system) + (Flag("power derived", f"power derived: {power_figure(system)} per {system.id} "
                                       f"({basis}; parity show {system.id})", "power derived", widen=1.0),)


def serving_ceiling(model: Model, system: System, precision: Precision, isl: float, osl: float) -> float:
    """[output tokens/s per chip] what `system`'s chips could serve at their compute peak (uncertainty.compute_ceiling)
    with `precision`'s weight formats: no interval's fast end passes it."""
    formats = (precision.weights, precision.expert_weights, precision.attention_weights)
    return compute_ceiling(model, system.chip, formats, isl, osl)


def intervals(best: Candidate, model: Model, raised: tuple[str, ...], ceiling: float = math.inf) -> dict[str, float]:
    """The 80% intervals of a configuration's TTFT, TPOT and throughput per chip, as predictions carry them
    (the bands of its mode and model class; uncertainty.widening: wider in log where the case is flagged and by its
    chip's calibration), the throughput's fast end (and TPOT's low end with it) no faster than
    `ceiling` (serving_ceiling: the chips' compute at peak); empty when no intervals are stored."""
    table = catalog.uncertainty_table()
    if not table:
        return {}
    stored = Intervals.from_table(table)
    out: dict[str, float] = {}
    widen = widening(raised)
    for metric, value in (("ttft_s", best.ttft_s), ("tpot_s", best.tpot_s)):
        band = stored.band(metric, interval_kind(best.mode, model))
        if band is not None:
            out[f"{metric}_low"], out[f"{metric}_high"] = band.around(value, widen)
    if "tpot_s_low" in out:  # throughput moves inversely with the per-token time
        rate = best.tokens_per_s_per_chip
        out["tokens_per_s_per_chip_low"] = rate * best.tpot_s / out["tpot_s_high"]
        out["tokens_per_s_per_chip_high"], out["tpot_s_low"] = capped_rate(rate, best.tpot_s, out["tpot_s_low"],
                                                                            ceiling)
    return out


def widest_span(ranks: System) -> int:
    """The most systems a serving worker spans over scale-out: as many as a model too big for one may span
    (serving_spans), within MAX_WORKER_CHIPS (1 for a scale-up domain of 128 chips or more)."""
    domain = min(ranks.scale_up_domain_chips, MAX_WORKER_CHIPS)
    return min(max(serving_spans(math.inf)), MAX_WORKER_CHIPS // domain)


def serving_spans(shortfall_bytes: float) -> tuple[int, ...]:
    """The systems a serving worker may span (search_spanning's spans), from domain_shortfall: a model too big for one
    scale-up domain spans 2 or 4 systems over scale-out; one that fits searches one system first (serving_search
    then tries the widest span)."""
    return (1,) if shortfall_bytes <= 0 else (1, 2, 4)


def systems_to_hold(model: Model, ranks: System, profile: EngineProfile, precision: Precision,
                    tokens: int) -> int | None:
    """The fewest systems (of serving_spans) one worker spans over scale-out, each system's scale-up domain a
    power-of-two share of it, to hold `model` serving one sequence of `tokens` tokens: 1 where one domain holds it
    (domain_shortfall), None where no span does. `ranks`: the system as its ranks count (hardware.per_die)."""
    if domain_shortfall(model, ranks, profile, precision, tokens) <= 0:
        return 1
    return next((n for n in serving_spans(math.inf)[1:]
                 if memory_shortfall(model, ranks, profile, precision, n * _domain_chips(ranks), tokens) <= 0), None)


def _domain_chips(system: System) -> int:
    """The chips of one worker in a scale-up domain: its size, at most MAX_WORKER_CHIPS, down to a power of two."""
    return 1 << (min(system.scale_up_domain_chips, MAX_WORKER_CHIPS).bit_length() - 1)


def domain_shortfall(model: Model, system: System, profile: EngineProfile, precision: Precision, tokens: int) -> float:
    """Bytes per chip the smallest-footprint layout of one scale-up domain lacks for one sequence."""
    return memory_shortfall(model, system, profile, precision, _domain_chips(system), tokens)


def memory_shortfall(model: Model, system: System, profile: EngineProfile, precision: Precision, chips: int,
                     tokens: int, reserve: tuple[float, float] | None = None) -> float:
    """Bytes per chip that the smallest-footprint layout of `chips` chips (tensor, expert and pipeline
    parallel, across systems when `chips` exceeds one) lacks to serve one sequence of `tokens`
    tokens; negative: the margin left. Infinite when no layout of that many chips divides the model.
    reserve: (fraction of memory, bytes) the runtime keeps back; default: the engine's KV share and 3 GB."""
    pipeline = tuple(p for p in (1, 2, 4, 8) if chips % p == 0)
    try:
        grid = layout_grid(model, chips, pipeline)
    except InfeasiblePlan:
        return float("inf")
    dep = engine_deployment(model, system, grid, precision, catalog.calibration(system.chip), profile)
    fraction, fixed = reserve or (1.0 - profile.kv_memory_fraction, 3e9)
    mem = deployment_memory(dep, np.ones(len(grid)), np.full(len(grid), float(tokens)), profile.max_num_tokens,
                            fraction, fixed)
    return float(np.min(-np.asarray(mem.free_bytes)))


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


def compare(systems: Sequence[System], model: Model, profile: EngineProfile, tpot_s: float | None = 0.05,
            isl: int = 1024, osl: int = 1024, weights: str | None = None, baseline: System | None = None,
            ttft_s: float | None = DEFAULT_TTFT_S, workload: str = "serve", chips: int | None = None,
            seq_len: int = 4096, global_batch: int | None = None, training_precision: str = "bf16",
            mtp_tokens: int | None = None, processes: int = 1, choose: Choose | None = None,
            progress: Callable[[int], None] | None = None) -> list[Comparison]:
    """Every system on `model`, with ratios to `baseline` (default: the first system; one not among `systems`
    joins them first, so that it is run and shown); when the baseline cannot run the workload (does not fit),
    ratios are to the first system that can, named in `baseline`.
    tpot_s, ttft_s [s]: mean latency targets, None: no target; the defaults are `parity compare`'s (50 ms, and
    DEFAULT_TTFT_S, 5 s). mtp_tokens: serving with multi-token prediction of that many draft tokens a step (0: off;
    None: the model's default, catalog.mtp_drafts, 1 on DeepSeek-V3/R1, as `parity compare` runs it). The systems are
    searched on `processes` processes (the same numbers as one after another). choose: serving, a second judge
    of each system's search (Choose), whose configuration the row reports instead of the search's best. chips:
    training, the chips each system trains on (None: the fewest whole systems on which a layout fits); global_batch:
    training, sequences per step (None: 4M tokens' worth, as `train`'s default). progress(1) as each system's row is
    done (the baseline's too where it joins the systems)."""
    check_records(model, systems, profile)
    if baseline is not None:
        expect("baseline", baseline, System, "catalog.system(name), or None for the first system")
    if workload not in ("serve", "train"):
        raise InfeasiblePlan(f"workload must be serve or train, got {workload!r}")
    check_serving_inputs(isl, osl, tpot_s, ttft_s, processes)
    mtp_tokens = catalog.mtp_drafts(model, mtp_tokens)
    mtp_setting(model, mtp_tokens)  # refused here, once, not in each system's search
    global_batch = global_batch or default_global_batch(seq_len)
    base = baseline or systems[0]
    if base.id not in {s.id for s in systems}:
        systems = [base, *systems]
    each = functools.partial(_row, model=model, profile=profile, tpot_s=tpot_s, ttft_s=ttft_s, isl=isl, osl=osl,
                             weights=weights, mtp_tokens=mtp_tokens, workload=workload, chips=chips, seq_len=seq_len,
                             global_batch=global_batch, training_precision=training_precision, choose=choose)
    rows = map_chunks(each, list(systems), processes, progress=(lambda _row: progress(1)) if progress else None)
    if workload == "train" and chips is None:
        rows = _same_size(rows, list(systems), model, seq_len, global_batch, training_precision, processes)
    if workload == "train":
        rows = _larger_jobs(rows, list(systems), model, seq_len, global_batch, training_precision, processes)
    ref = next((r for r in rows if r.system == base.id), rows[0])
    if not ref.fits:
        ref = next((r for r in rows if r.fits), ref)
        base = next((s for s in systems if s.id == ref.system), base)

    def ratio(a: float, b: float) -> float:
        return a / b if b and not math.isnan(a) and not math.isnan(b) and a > 0 else float("nan")

    # the vendors' bands are cross-source residuals of the workload's published figures: serving decode figures, or
    # training runs' tokens/s per chip (training_band: as `train` and `fleet` give a training prediction's interval)
    bands = vendor_bands()

    def band(chip: Chip) -> Band | None:
        if workload == "train":
            return training_band(chip)
        found = bands.get(chip.vendor)
        return found and ratio_band(found, chip, catalog.calibration(chip))

    out = []
    varied = len({s.chips for s in systems} | {base.chips}) > 1
    for system, row in zip(systems, rows):
        ratios = {k: ratio(getattr(row, f"tokens_per_s_{k}"), getattr(ref, f"tokens_per_s_{k}")) for k in RATIO_WORDS}
        a, b = band(system.chip), band(base.chip)
        basis, interval = "", (float("nan"), float("nan"))
        if system.id != base.id and not math.isnan(ratios["per_chip"]):
            basis, interval = _ratio_with_basis(ratios["per_chip"], ratio_basis(row, ref, system.chip, base.chip), a, b)
        row = replace(row, spec_ratios=spec_ratios(system, base), ratios=ratios, baseline=base.id,
                      ratio_interval=interval, ratio_basis=basis)
        # the ratios a row states: per system only where it may differ from per chip (systems of other sizes in the
        # comparison, whose table shows x/system: its interval held 1 unsaid in a row of the baseline's size)
        stated = (("per_chip", "per_kw", "per_gb") if not varied
                  else ("per_chip", "per_system", "per_kw", "per_gb"))
        even = even_text({k: row.interval_of(k) for k in stated})
        out.append(replace(row, note="; ".join(filter(None, [row.note, even, shared_text(row, stated)]))))
    return out


def _ratio_with_basis(ratio: float, basis: str, a: Band | None, b: Band | None) -> tuple[str, tuple[float, float]]:
    """(basis, 80% interval) of a per-chip `ratio` whose rows share their errors as ratio_basis says (`basis`), with
    the two chips' bands `a` and `b`: 'exact' and 'response' take response_interval (one chip, calibration, engine
    and band: the errors cancel, and the ratio errs by the response alone), a response never wider than the two
    bands taken as independent (policy --at-threshold on Llama-3.1-8B: the response's 0.13-0.51x against the bands'
    0.19-0.36x), the narrower in log, its basis named; 'bands' the bands' ratio_interval, and ('', NaN) without
    them."""
    if basis == "bands":
        return ("bands", ratio_interval(ratio, a, b)) if a and b else ("", (float("nan"), float("nan")))
    interval = response_interval(ratio)
    if basis == "response" and a and b:
        bands_interval = ratio_interval(ratio, a, b)
        if _log_width(bands_interval) < _log_width(interval):
            return "bands", bands_interval
    return basis, interval


def _log_width(interval: tuple[float, float]) -> float:
    """ln(high / low) of a ratio's interval (positive ends)."""
    return math.log(interval[1] / interval[0])


# what a ratio's 80% interval rests on (Comparison.ratio_basis): 'bands', both chips' vendor bands taken as independent
# (uncertainty.ratio_interval); where the row and the baseline share every error source (uncertainty.shared_errors),
# 'exact', the same rate (nothing that differs moves it: a zero-width interval), or 'response', parity's response to
# what differs alone (uncertainty.response_interval)
RATIO_BASES = ("bands", "exact", "response")


def ratio_basis(row: Comparison, ref: Comparison, a: Chip, b: Chip) -> str:
    """RATIO_BASES' key of a row's ratio to the baseline `ref` (on chips `a` and `b`): 'exact' or 'response' where the
    two share their errors (shared_errors), run the same formats (a what-if that adds a unit runs its weights at
    another GEMM rate, whose error the base's does not share) and raise the same flags that widen, a what-if's own
    aside (one flagged where the other is not, as CloudMatrix 384's large-EP decode beside an Atlas 800 A3's, rests on
    a part of the model the other does not), 'exact' where their per-chip rates are equal; else 'bands'."""
    if not (shared_errors(a, b) and row.weights == ref.weights and row.kv_cache == ref.kv_cache
            and _widening_kinds(row) == _widening_kinds(ref)):
        return "bands"
    same = math.isclose(row.tokens_per_s_per_chip, ref.tokens_per_s_per_chip, rel_tol=1e-9)
    return "exact" if same else "response"


# the kinds of a what-if's own flags (uncertainty.what_if_flag, idle_units_flag), which its base never raises
_WHAT_IF_KINDS = frozenset({"what-if chip", "what-if changes nothing"})


def _widening_kinds(row: Comparison) -> frozenset[str]:
    """The kinds of a row's flags that widen an interval (Flag.widen above 1), a what-if's own aside."""
    return frozenset(f.kind for f in row.flags if f.widen > 1.0 and f.kind not in _WHAT_IF_KINDS)


# the arithmetic that makes each ratio of the per-chip one (Comparison.interval_of), in shared_text's words
_ARITHMETIC = {"per_system": "by chip count", "per_kw": "by power arithmetic", "per_gb": "by memory arithmetic"}


def shared_text(row: Comparison, stated: Sequence[str] = tuple(RATIO_WORDS)) -> str:
    """What a ratio resting on shared errors says in place of 'no clear winner' (even_text), of the ratios `stated`
    (RATIO_WORDS keys): 'the same chip's rate as gb200-nvl72, per kW 1.11x by power arithmetic' ('exact': the ratios
    that differ from per chip, each by the arithmetic that makes it; one clause, which without_even_text takes out
    of a note with even_text's), 'interval: the response to what differs from hgx-h20 alone (shared errors cancel)'
    ('response': uncertainty.response_interval; the caption states its WHAT_IF_RESPONSE); '' otherwise."""
    if row.ratio_basis == "exact":
        moved = [f"{RATIO_WORDS[k]} {row.ratios[k]:.3g}x {_ARITHMETIC[k]}" for k in stated
                 if k != "per_chip" and not math.isclose(row.ratios.get(k, math.nan), 1.0, rel_tol=1e-9)
                 and not math.isnan(row.ratios.get(k, math.nan))]
        return ", ".join([f"the same chip's rate as {row.baseline}", *moved])
    if row.ratio_basis == "response":
        return f"interval: the response to what differs from {row.baseline} alone (shared errors cancel)"
    return ""


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


def even_text(intervals: dict[str, tuple[float, float]]) -> str:
    """'no clear winner per system and per kW (1 lies inside their 80% intervals)', naming each ratio (RATIO_WORDS
    keys) whose interval spans 1; '' where none does. The ratios come first, with the verdict: the phrase is the one a
    reader quotes alone, and '1 lies inside the 80% interval per GB: no clear winner' read as if the comparison had
    none where per chip and per kW it had (report-only tester fuzzDK 3)."""
    spans = [RATIO_WORDS[k] for k, (low, high) in intervals.items() if low < 1.0 < high]
    if not spans:
        return ""
    said = spans[0] if len(spans) == 1 else f"{', '.join(spans[:-1])} and {spans[-1]}"
    inside = "its 80% interval" if len(spans) == 1 else "their 80% intervals"
    return f"no clear winner {said} (1 lies inside {inside})"


def without_even_text(note: str) -> str:
    """A row's note without the clause even_text adds to it ('...; no clear winner per system (1 lies inside its 80%
    interval)'), or shared_text's, for a table whose caption says it of that row; wherever it stands among the note's
    clauses (a serve line may follow it)."""
    return "; ".join(part for part in note.split("; ")
                     if not re.fullmatch(r"no clear winner [^;()]* \(1 lies inside (its 80% interval|their 80% "
                                         r"intervals)\)", part)
                     and not part.startswith(("the same chip's rate as ", "interval: the response to what differs ")))


def quotient_intervals(a: Comparison, b: Comparison) -> dict[str, tuple[float, float]]:
    """The 80% intervals of a's ratios over b's (RATIO_WORDS keys), where one of them is the baseline: a's own
    intervals, or the reciprocals of b's; NaN where neither is (two ratios to a third system do not divide into an
    interval)."""
    if b.system == b.baseline:
        return {k: a.interval_of(k) for k in RATIO_WORDS}
    if a.system == a.baseline:
        return {k: (1.0 / high, 1.0 / low) for k, (low, high) in ((k, b.interval_of(k)) for k in RATIO_WORDS)}
    return dict.fromkeys(RATIO_WORDS, (math.nan, math.nan))


def _row(system: System, model: Model, profile: EngineProfile, tpot_s: float | None, ttft_s: float | None, isl: int,
         osl: int, weights: str | None, mtp_tokens: int, workload: str, chips: int | None, seq_len: int,
         global_batch: int, training_precision: str, choose: Choose | None = None) -> Comparison:
    """One system's row of `compare`, before ratios."""
    if workload == "train":
        return _train(system, model, chips, seq_len, global_batch, training_precision)
    # each chip runs the engine as fitted on its software stack (vllm on rocm: vllm-rocm), where one is
    return _serve(system, model, catalog.engine_on(profile, system.chip.software_stack), tpot_s, ttft_s, isl, osl,
                  weights, mtp_tokens, choose)


@dataclass(frozen=True, slots=True, kw_only=True)
class FormatResult:
    """One system serving the model with its weights in one number format: how the chip runs the
    format (its own unit, emulated on a wider one, or not at all), and what that delivers."""

    system: str
    chip: str
    format: str
    scale: str
    bytes_per_parameter: float
    runs_on: str
    native: bool
    comparison: Comparison | None
    baseline_format: str
    ratio_to_baseline: float
    note: str

    def to_dict(self) -> dict[str, object]:
        out = {k: getattr(self, k) for k in ("system", "chip", "format", "scale", "bytes_per_parameter", "runs_on",
                                             "native", "baseline_format", "ratio_to_baseline", "note")}
        # compare's row of the configuration, its interval, flags and assumptions included (a format that does not
        # fit has no rates: null, empty in CSV); a format the chip cannot run has none of it
        row = self.comparison.to_dict() if self.comparison else {}
        return out | {k: row.get(k, absent) for k, absent in _FORMAT_FIELDS.items()}

    def flag_row(self) -> tuple[str, bool, tuple[Flag, ...]]:
        """The row as a caption's flags take it (flags_caption in report.notes): 'hgx-b200 nvfp4', whether it has a
        prediction, and its flags (none where the chip cannot run the format)."""
        fits = self.comparison is not None and self.comparison.fits
        return f"{self.system} {self.format}", fits, self.comparison.flags if self.comparison else ()


# the fields of compare's row a format's row carries, and what a format the chip cannot run has of each
_FORMAT_FIELDS: dict[str, object] = {
    "fits": False, "mode": "-", "layout": "-",
    **dict.fromkeys(("tokens_per_s_per_chip", "tokens_per_s_per_chip_low", "tokens_per_s_per_chip_high",
                     "tokens_per_s_per_kw", "tpot_s", "ttft_s"), float("nan")),
    "flags": (), "assumptions": ()}


def compare_formats(systems: Sequence[System], model: Model, profile: EngineProfile,
                    formats: Sequence[str] = DEFAULT_FORMATS, tpot_s: float | None = 0.05,
                    ttft_s: float | None = DEFAULT_TTFT_S,
                    isl: int = 1024, osl: int = 1024, mtp_tokens: int | None = None) -> list[FormatResult]:
    """Each system serving `model` with its weights (experts included) in each format, at its best
    configuration under the targets, run as `compare` runs it (the engine at its stack's maturity, a rank per
    die of a multi-die package, `mtp_tokens` MTP drafts a decode step); a format the chip lacks runs emulated
    (dequantised to its first fallback at `emulation_efficiency`). Ratios are to the same system in the first of
    `formats` that fits it (bf16 when the model fits in bf16). The targets and mtp_tokens (None: the model's
    default, catalog.mtp_drafts) default as `compare`'s and `parity formats`'s."""
    check_records(model, systems, profile)
    check_serving_inputs(isl, osl, tpot_s, ttft_s)
    mtp_tokens = catalog.mtp_drafts(model, mtp_tokens)
    mtp_setting(model, mtp_tokens)  # a model without a published acceptance is refused once, not per format
    out = []
    for system in systems:
        engine = catalog.engine_on(profile, system.chip.software_stack)
        rows = []
        # a bare fp4 reads as the chip's own 4-bit format (dtypes.format_on); one that reads as a format the list
        # names besides (fp4 and mxfp4 on an MI355X) is shown once
        for fmt in dict.fromkeys(format_on(name, system.chip.native) for name in formats):
            try:
                unit, emulated = math_unit(fmt, system.chip)
                runs_on = (f"native {unit}" if not emulated else f"emulated on {unit}"
                           + (f" ({fmt.feature} native, rate unpublished)"
                              if fmt.feature in system.chip.native_rate_unpublished else ""))
                result: Comparison | None = _serve(system, model, engine, tpot_s, ttft_s, isl, osl, fmt.name,
                                                   mtp_tokens, note_emulation=False)  # runs_on says it
            except InfeasiblePlan as err:
                unit, emulated, runs_on, result = "", True, "cannot run", None
                note = str(err)
            else:
                note = result.note
            rows.append((fmt, runs_on, not emulated, result, note))
        base_format, base = next(((f.name, r) for f, _, _, r, _ in rows if r is not None and r.fits), ("-", None))
        for fmt, runs_on, native, result, note in rows:
            fits = result is not None and result.fits
            ratio = (result.tokens_per_s_per_chip / base.tokens_per_s_per_chip
                     if fits and base is not None and base.tokens_per_s_per_chip > 0 else float("nan"))
            out.append(FormatResult(system=system.id, chip=system.chip.id, format=fmt.name, scale=fmt.scale,
                                    bytes_per_parameter=fmt.bytes_per_element, runs_on=runs_on, native=native,
                                    comparison=result, baseline_format=base_format, ratio_to_baseline=ratio,
                                    note=note))
    return out
