"""The report's comparison tables: each system's row against the baseline's, the flags its rows share, the words
under it (what its notes mean, each system's power), and its ratios said in prose."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from parity.compare import Comparison, even_text, format_label
from parity.flags import Flag
from parity.hardware import System
from parity.model import Model
from parity.report.markup import esc, num, rate, table, times
from parity.report.notes import flags_caption, legend, power_basis
from parity.report.tables import ratio_number

__all__ = ["HEADERS", "comparison_table", "flags_legend", "ratios_words"]

HEADERS = ("system", "format", "mode", "BF16/chip", "BF16/system", "memory/system", "power/system", "out tok/s/chip",
           "out tok/s/system", "out tok/s/kW", "x per chip", "x per system", "x per kW", "x per GB", "note")


def comparison_table(rows: Sequence[Comparison], systems: Mapping[str, System], model: Model, caption: str) -> str:
    """A comparison's table, the baseline's row first (as compare lists it, whatever order the systems were run in),
    with the flags its rows share as `parity compare`'s caption gives them (flags_caption), what its notes mean and
    each system's power under it. Under 1,180 px of window (page.STACKED) each row is a block of labelled cells, its
    note on a line of its own: the 15 columns need some 1,110 px, and scrolled, the ratios and notes were off-screen."""
    out = []
    rows = sorted(rows, key=lambda r: r.system != r.baseline)
    for r in rows:
        s = systems[r.system]
        out.append([f"<b>{esc(r.system)}</b><br><small>{esc(s.chips)} x {esc(r.chip)}, {esc(s.status)}</small>",
                    esc(format_label(r.weights, r.emulated_on)), esc(r.mode), times(r.spec_ratios.get("bf16")),
                    times(r.spec_ratios.get("system_bf16")), times(r.spec_ratios.get("system_memory")),
                    times(r.spec_ratios.get("system_power")), num(r.tokens_per_s_per_chip),
                    num(r.tokens_per_s_per_system), rate(r.tokens_per_s_per_kw),
                    *(times(r.ratios.get(k)) + _interval(r, k) for k in ("per_chip", "per_system", "per_kw", "per_gb")),
                    esc(r.note or ("" if r.fits else "does not fit")) or "&nbsp;"])
    return (table(HEADERS, out, "numbers", caption, "stack-wide", notes=len(HEADERS) - 1)
            + flags_legend(model, [r.flag_row() for r in rows])
            + f"<p class='legend'><small>{esc(legend(rows, systems))}</small></p>"
            + f"<p class='legend'><small>{esc(power_basis([systems[r.system] for r in rows]))}</small></p>")


def flags_legend(model: Model, rows: Sequence[tuple[str, bool, Sequence[Flag]]]) -> str:
    """The flags a table's rows leave to their JSON (flags_caption, as `parity compare` and `parity formats` say them
    under their tables: 'Every row: layout far from measured ones (...)'), for the legend under it (`rows`: each row's
    label, whether it has a prediction, and its flags); '' where none is."""
    said = flags_caption(model, model.name, rows)
    return (f"<p class='legend'><small><b>Flags</b> (where the case lies outside what parity was checked on): "
            f"{esc(said.strip())}</small></p>" if said else "")


def ratios_words(row: Comparison, anchor: str = "") -> str:
    """A row's ratios to the baseline in prose, each with its 80% interval, and the ratios whose interval holds 1
    named: '<b>1.11x</b> the output tokens/s per system (80% interval 0.85-1.29x), ...; no clear winner per
    system (1 lies inside its 80% interval)'. The per-system figure is the key one (`anchor`: its id)."""
    key_tag = "b class='key'" + (f" id='{anchor}'" if anchor else "")
    said = []
    for key, tag, words in (("per_system", key_tag, "the output tokens/s per system"), ("per_chip", "b", "per chip"),
                            ("per_kw", "b", "per kW")):
        low, high = row.interval_of(key)
        said.append(f"<{tag}>{times(row.ratios[key])}</b> {words}"
                    + ("" if low != low else f" (80% interval {ratio_number(low)}-{times(high)})"))
    even = even_text({k: row.interval_of(k) for k in ("per_system", "per_chip", "per_kw")})
    return f"{', '.join(said[:-1])} and {said[-1]}" + (f"; {esc(even)}" if even else "")


def _interval(row: Comparison, key: str) -> str:
    """A ratio's 80% interval (Comparison.interval_of), on the line under it ('' where none: the baseline,
    training; 'exact' where the row's rate is the baseline's chip's own, Comparison.ratio_basis)."""
    low, high = row.interval_of(key)
    if low != low or high != high:
        return ""
    if row.ratio_basis == "exact":  # the same chip's rate: a zero-width interval
        return "<br><small>exact</small>"
    return f"<br><small style='white-space:nowrap'>{ratio_number(low)}-{ratio_number(high)}</small>"
