"""The captions of `parity compare`'s tables: what the intervals are, the sentence setting two systems side by side,
what --refine ran, the software stacks, the what-ifs, and each term said once across the models' tables."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace

from parity import catalog
from parity.cli.percentile_choice import bound_text
from parity.cli.values import SIM_CLIENT
from parity.cli.variants import what_ifs_text
from parity.compare import RATIO_WORDS, Comparison, even_text, quotient_intervals, shared_text
from parity.engine import EngineProfile
from parity.hardware import System
from parity.predict.refine import PERCENTILE_RUNS
from parity.report.tables import ratio, ratio_number
from parity.simulate.targets import LatencyTarget
from parity.uncertainty import WHAT_IF_RESPONSE, widening_words


def _intervals_caption(workload: str, varied: bool, pair: bool) -> str:
    """What the 80% intervals under the ratios are, for a caption: built from the cross-source residuals of both
    chips' vendors (compare.vendor_bands: published decode figures, or published training runs), widened where those
    say nothing of the chip; `varied`: systems of other sizes (an x/system interval); `pair`: two systems, whose
    sentence names each ratio whose interval holds 1 (else a note does)."""
    widened = ("for a what-if chip, one not shipping or specs assumed" if workload == "serve" else
               "for a what-if chip, one not shipping, specs assumed or of a family no published training run was "
               "measured on")
    return ("80% int.: the 80% interval of the per-chip ratio (under it; beside it in Markdown), from the cross-source "
            + ("residuals of both chips' vendors (parity validate --by source)" if workload == "serve" else
               "residuals of both chips' vendors' published training runs (parity validate --by source, its training "
               "table)")
            + f", each chip's band {widening_words(widened)} (the residuals are measured, published chips'; an "
            "unreleased chip's specs, or assumed ones, may err beyond them); "
            + ("the per-system, per-kW and per-GB intervals (under x/system, x/kW and x/GB; beside them in Markdown) "
               "are it scaled by the systems' chips, power and memory" if varied else
               "the per-kW and per-GB intervals (under x/kW and x/GB; beside them in Markdown) are it scaled by the "
               "systems' power and memory (systems of one size: per system is per chip)")
            + (", and the sentence on the two systems names each ratio whose interval holds 1. " if pair else
               ", and a note names each ratio whose interval holds 1. "))


def _shared_caption(results: Sequence[Comparison]) -> str:
    """What an interval between systems that share their errors is (compare.RATIO_BASES 'exact', 'response'), for a
    caption: '' where no row's ratio is such."""
    bases = {r.ratio_basis for r in results}
    if not bases & {"exact", "response"}:
        return ""
    return ("Where a row and the baseline share the chip (a what-if of it, or another system of it), its calibration, "
            "software stack and vendor band, and run the same formats, their predictions share every error those "
            "intervals count, which cancels in the ratio: "
            + ("where the rates are equal (nothing that differs moves them: power, price, memory that does not bind) "
               "the per-chip ratio is exact ('exact' under it), and per kW and per GB are power and memory arithmetic "
               "on it" if "exact" in bases else "")
            + ("; " if bases >= {"exact", "response"} else "")
            + ("where they differ, the interval is the what-if's own: parity's response to what differs, its log "
               f"half-width {WHAT_IF_RESPONSE:g} of |ln(predicted ratio)| (a predicted +20% reads about +10% to "
               "+30%), or both bands' interval where that is narrower (docs/model.md, Uncertainty)"
               if "response" in bases else "")
            + ". ")


def _pair_text(a: Comparison, b: Comparison, workload: str) -> str:
    """The sentence that sets two systems side by side: a's spec ratios over b's, its predicted ratios, and their 80%
    intervals (quotient_intervals) with the ratios whose interval spans 1 named (even_text); where the two share
    their errors (Comparison.ratio_basis), that the ratios are exact, each by its arithmetic ('exact'), or that their
    intervals are the response to what differs alone ('response')."""
    spec = {k: v / b.spec_ratios[k] if b.spec_ratios[k] else float("nan") for k, v in a.spec_ratios.items()}
    got = {k: v / b.ratios[k] if b.ratios[k] else float("nan") for k, v in a.ratios.items()}
    tokens = "output" if workload == "serve" else "training"
    one_size = math.isclose(got["per_system"], got["per_chip"])  # systems of one size: per system is per chip
    bound = [r.system for r in (a, b) if r.fits and r.memory_bound]  # training: its ratios hold at this size alone
    said = (f"{a.system} against {b.system}: {ratio(spec['system_bf16'])} the system BF16, "
            f"{ratio(spec['system_memory'])} the system memory, {ratio(spec['system_power'])} "
            f"the system power, "
            f"{ratio(spec['bf16'])} BF16 per chip; predicted "
            + (f"at this job size, where memory binds {' and '.join(bound)}'s layout (its note), " if bound else "")
            + (f"{ratio(got['per_chip'])} the {tokens} tokens/s per chip and per system" if one_size else
               f"{ratio(got['per_system'])} the {tokens} tokens/s per system, {ratio(got['per_chip'])} per chip")
            + f", {ratio(got['per_kw'])} per kW, {ratio(got['per_gb'])} per GB of memory. ")
    bounds = {k: v for k, v in quotient_intervals(a, b).items() if not math.isnan(v[0])}
    # each system whose power is parity's assumption or arithmetic ('power assumed', 'power derived'): its kind
    assumed = {r.system: f.kind.removeprefix("power ") for r in (a, b) for f in r.flags
               if f.kind in ("power assumed", "power derived")}
    # as the sentence states them; per system apart from per chip only for systems of two sizes (else the rows'
    # notes, which JSON keeps, name per chip alone)
    order = (() if one_size else ("per_system",)) + ("per_chip", "per_kw", "per_gb")
    if not bounds:
        return said
    row = a if b.system == b.baseline else b  # the row whose ratio the intervals are of (or of its reciprocal)
    if row.ratio_basis == "exact":  # one chip's rate: the ratios are arithmetic on it, with no interval
        moved = shared_text(replace(row, ratios=got), order).partition(", ")[2]
        return (said + f"The ratios are exact, the same chip's rate ({a.system} and {b.system} share the chip, its "
                "calibration and engine, and nothing that differs moves the rate)" + (f"; {moved}" if moved else "")
                + ". ")
    even = even_text({k: bounds[k] for k in order if k in bounds})
    own = (f" (parity's response to what differs alone: {a.system} and {b.system} share the chip, its calibration "
           "and engine, whose errors cancel)" if row.ratio_basis == "response" else "")
    stated = [f"{ratio_number(bounds[k][0])}-{ratio(bounds[k][1])} {RATIO_WORDS[k]}"
              + (f" (without the error of {_powers_text(assumed)})" if k == "per_kw" and assumed else "")
              for k in order if k in bounds]
    return said + f"80% intervals{own}: " + ", ".join(stated) + (f"; {even}" if even else "") + ". "


def _powers_text(kinds: Mapping[str, str]) -> str:
    """The systems' powers a per-kW interval leaves the error of, each by its kind (system -> 'assumed' or 'derived'):
    "hgx-h20's assumed power", "hgx-a800 and hgx-h800's derived power", "hgx-h20's assumed power and atlas-800-a3's
    derived power"."""
    if len(set(kinds.values())) == 1:
        return f"{' and '.join(kinds)}'s {next(iter(kinds.values()))} power"
    return " and ".join(f"{system}'s {kind} power" for system, kind in kinds.items())


def _refine_caption(results: list[Comparison], sims: list[dict[str, object]],
                    percentiles: Sequence[LatencyTarget]) -> list[tuple[str, bool]]:
    """What --refine adds, for the caption (_once's pieces): what the simulator ran, and each run it flags or could
    not make."""
    said = [f"{r.system}: {'; '.join(s['sim_flags']) or s['sim_case']}" for r, s in zip(results, sims)
            if r.fits and (s["sim_flags"] or str(s["sim_case"]).startswith("simulation failed"))]
    chosen = ("the configuration is the steady-state model's choice" if not percentiles else
              f"{' and '.join(bound_text(t) for t in percentiles)}: the steady-state model, which has means only, "
              "screened each system's configurations by the mean at the same bound, and the simulator bisected "
              "each layout's loads for the heaviest whose percentiles hold (as `parity search` does; a percentile "
              f"grows with the load on one layout), at most {PERCENTILE_RUNS} runs a system, so a system's "
              "configuration is the fastest the simulator passes; the throughputs and ratios are the steady-state "
              "model's for it")
    return [("sim: the step-level simulator re-ran each system's best configuration as `parity serve --sim` would "
             f"(the same layouts, formats and MTP, at {SIM_CLIENT}; how each model scores on measured runs: "
             f"docs/accuracy.md); {chosen}. ", True),
            (f"Simulated runs flagged: {'; '.join(said)}. " if said else "", False)]


def _once(pieces: Sequence[tuple[str, bool]], said: dict[str, str], table: str) -> str:
    """A caption from its (text, term) pieces, in order: a term (what a column, a word or a rule means) whose very
    text an earlier table of the run printed is left out, once for all in a closing 'Other terms as under X's table'
    naming the tables that printed them, so that comparing on several models explains each term once (the default run
    on two models printed its 28 lines of terms twice); the facts of the table (its engine profile, MTP, flagged runs)
    always print. `said` maps each term printed to the table (`table`: its model's name) that printed it."""
    kept = [text for text, term in pieces if text and not (term and text in said)]
    where = list(dict.fromkeys(said[text] for text, term in pieces if term and text in said))
    said.update({text: table for text, term in pieces if term and text and text not in said})
    named = " and ".join(f"{name}'s" for name in where)
    return "".join(kept) + (f"Other terms as under {named} table{'s' if len(where) > 1 else ''}. " if where else "")


def _stacks_text(profile: EngineProfile, results: Sequence[Comparison], by_id: Mapping[str, System]) -> str:
    """Each software stack of the rows with the maturity the engine runs at on it, once a stack, where any row runs
    at a stack's measured maturity (catalog.maturity_brief): "Software stacks: CUDA (hgx-h200): the chips' calibrated
    kernel rates; ROCm (mi300x-platform): ROCm's software maturity, fitted on 22 runs (vllm-rocm). " ('' otherwise: each
    row's assumptions say it in full)."""
    stacks: dict[str, list[str]] = {}
    for row in results:
        stacks.setdefault(by_id[row.system].chip.software_stack, []).append(row.system)
    said = {stack: catalog.maturity_brief(catalog.engine_on(profile, stack), stack) for stack in stacks}
    if not any(said.values()):
        return ""
    return "Software stacks: " + "; ".join(
        f"{catalog.stack_word(stack)} ({', '.join(dict.fromkeys(names))}): "
        + (said[stack] or (f"{profile.id} as fitted" if profile.measured else "the chips' calibrated kernel rates"))
        for stack, names in stacks.items()) + ". "


def _what_if_caption(what_ifs: Sequence[System], workload: str) -> str:
    """What each --variants system changes, for the caption ('' where none is given)."""
    if not what_ifs:
        return ""
    return ("What-ifs (--variants; note 'what-if'), each priced with its catalog chip's calibration"
            + (" and without a serve_command (serve runs catalog systems; its serve_note gives the sweep axes that "
               "price its configuration)" if workload == "serve" else "") + ": "
            + what_ifs_text(what_ifs) + ". ")
