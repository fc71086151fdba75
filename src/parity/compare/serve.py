"""A system's serving row of `compare`: its best configuration under the latency targets (`search.search_serving`
over layouts, loads, aggregated and disaggregated), in the narrowest number format its chips run natively, with its
flags and 80% intervals."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

from parity import catalog
from parity.catalog import mtp_setting
from parity.compare.record import Comparison, _calibrated, _per_system, held_clocks_note, system_power_flags
from parity.compare.spans import (_domain_chips, domain_shortfall, memory_shortfall, narrower_text, passed_text,
                                  serving_search, systems_spanned, widest_span)
from parity.cost import emulation
from parity.engine import EngineProfile
from parity.flags import Flag
from parity.hardware import Calibration, System, per_die
from parity.memory import vision_note
from parity.model import Model
from parity.ops import Batch
from parity.plan import Layout, Precision
from parity.search import Candidate, SearchResult, best_precision, search_spanning
from parity.serving import engine_deployment
from parity.serving.regimes import large_ep_decode_flag
from parity.step import step_cost
from parity.units import duration_text
from parity.uncertainty import Intervals, widening, case_flags, flag_note, interval_kind, calibration_label, \
    kernel_figures_note, what_if_flag, capped_rate, compute_ceiling

# a second judge of a system's configurations (percentile targets, which the steady model cannot check): given the
# system, its search (means within the targets' bounds) and the systems a worker spans that it takes without
# WIDER_GAIN (serving_search's narrower span, where it took wider workers; else the search's own), the configuration
# it chooses (None: none passes) and what the row's note should say of its choice ('' for nothing; why, where none
# passes)
Choose = Callable[[System, SearchResult, int], "tuple[Candidate | None, str]"]


def _prefill_rate(model: Model, system: System, profile: EngineProfile, precision: Precision, layout: Layout,
                  isl: int, cal: Calibration) -> float:
    """Prompt tokens/s per chip (rank) of a layout's prefill (steps filled to the token budget)."""
    dep = engine_deployment(model, system, layout, precision, cal, profile)
    tokens = float(max(profile.max_num_tokens, isl))
    t = float(step_cost(dep, Batch(prefill_tokens=tokens, prefill_sequences=tokens / isl)).time_s)
    return tokens * layout.attn_dp / t / layout.chips


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
