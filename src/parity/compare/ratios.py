"""Ratios a comparison states: the datasheet ratios beside the workload's, what a ratio's 80% interval rests on,
and the words a row's note gives them ('no clear winner', shared errors)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from parity.compare.record import RATIO_WORDS, Comparison
from parity.hardware import SPEC_FIELDS, Chip, System, is_what_if
from parity.uncertainty import Band, ratio_interval, response_interval, shared_errors


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
