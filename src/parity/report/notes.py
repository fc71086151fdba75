"""The words under the report's and the commands' tables: the flags a table's rows share (flags_caption, one rule
for `compare`, `fleet`, `formats` and the report), what a comparison's notes mean, each system's power and its basis,
and the assumptions grouped as the reader needs them (every row's, each section's own, each system's own)."""

from __future__ import annotations

import html
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from parity import catalog
from parity.compare import Comparison, spec_bases
from parity.flags import Flag
from parity.fleet import power_text
from parity.hardware import System
from parity.memory import vision_note
from parity.model import Model
from parity.uncertainty import UNMEASURED_GEMM_WORDS, WHAT_IF_RESPONSE, calibrated_text, calibration_kind, \
    widening_words

__all__ = ["CALIBRATED_RULE", "NO_POWER_ERROR", "Assumptions", "assumptions_html", "flags_caption",
           "group_assumptions", "legend",
           "model_flags_text", "power_basis", "rows_assumptions", "without_mtp_hint"]

# what a per-kW interval leaves out where a system's power is parity's assumption (its 'power assumed' flag): the
# interval is the per-chip one scaled by the systems' power, fixed figures (Comparison.interval_of)
NO_POWER_ERROR = "its per-kW interval holds the per-chip rate's error alone, not that assumption's"


# when a chip's predictions count as calibrated (uncertainty.chip_calibrated), as compare's caption says it
CALIBRATED_RULE = ("A chip counts as calibrated where kernel figures were measured on it (timed by parity or "
                   "published: its 'calibration:' assumption names them) or where parity's serving runs on it fitted "
                   "the engine profiles; else its predictions are flagged 'uncalibrated', and it inherits its family's "
                   "calibration ('inherits X') or runs on the derived prior (parity show CHIP).")


def model_flags_text(model: Model, name: str) -> str:
    """A model's own flags (its config's unmodelled keys, an unknown architecture) in one sentence for the caption of
    a table whose rows leave them out (`compare`, `fleet`: a row's note gives only a few words): 'Model flags:
    unmodelled: gating, mlp_layer_types; unknown architecture (`parity model PATH` says each whole). '; '' where the
    model has none. `name`: the model as the command line gave it."""
    keyed = [f.text for f in model.flags if f.kind == "unmodelled"]
    # a key a plain class never reads is 'ignored: KEY (why)', not unmodelled: its key alone, under its own word
    ignored = [t.removeprefix("ignored: ").split(" ", 1)[0] for t in keyed if t.startswith("ignored: ")]
    unread = [t.removeprefix("unmodelled: ") for t in keyed if not t.startswith("ignored: ")]
    said = ([f"unmodelled: {', '.join(unread)}"] * bool(unread)
            + [f"ignored (its class does not read them): {', '.join(ignored)}"] * bool(ignored)
            + [f.brief or f.text for f in model.flags if f.kind != "unmodelled"])
    return f"Model flags: {'; '.join(said)} (`parity model {shlex.quote(name)}` says each whole). " if said else ""


def flags_caption(model: Model, name: str, rows: Sequence[tuple[str, bool, Sequence[Flag]]],
                  workload: str = "serve", maturity_said: bool = False) -> str:
    """The flags a table's caption gives (`compare`, `fleet`, `formats`, `policy --at-threshold`, the report): the
    model's own (model_flags_text) and what of it its figures leave out (memory.vision_note of the `workload`, as
    serve's note says it; its rows' JSON carries it among their assumptions), then those its rows' notes
    leave to --format json, i.e. with no brief (uncertainty.flag_note
    gives the briefed ones) among the rows with a prediction (`rows`: each row's label, whether it has one, and its
    flags): those every such row carries once, 'Every row: features never validated: dsa. ' ('Every row with a
    result: ' where some row has no prediction, one that fits the memory but meets no target too), then each the
    others carry with the rows it holds for, 'Only hgx-b200: layout far from measured ones (...). ' (a far layout on
    one system of a compare was in its JSON alone); '' where there is none. `maturity_said`: the caption names each
    stack's software maturity itself (compare's 'Software stacks: ...'), so each flag is said without its own
    (Flag.maturity: the engine flag said it a second time)."""
    own = {f.text for f in model.flags}
    unbriefed = [(label, list(dict.fromkeys(f.text_without_maturity if maturity_said else f.text
                                            for f in flags if not f.brief and f.text not in own)))
                 for label, fits, flags in rows if fits]
    shared = [t for t in unbriefed[0][1] if all(t in said for _, said in unbriefed[1:])] if unbriefed else []
    some: dict[str, list[str]] = {}
    for label, said in unbriefed:
        for text in said:
            if text not in shared:
                some.setdefault(text, []).append(label)
    every = "Every row" if len(unbriefed) == len(rows) else "Every row with a result"
    vision = vision_note(model, workload)
    return (model_flags_text(model, name) + (f"{vision[:1].upper()}{vision[1:]}. " if vision else "")
            + (f"{every}: {'; '.join(shared)}. " if shared else "")
            + "".join(f"Only {holders}: {'; '.join(texts)}. " for holders, texts in _by_holders(some).items()))


def _by_holders(some: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """Each flag's text under the rows that carry it ('gb200-nvl72' -> its texts, in order), so that one 'Only X:'
    says all of X's flags (it said 'Only gb200-nvl72: ... Only gb200-nvl72: ...', a sentence a flag)."""
    grouped: dict[str, list[str]] = {}
    for text, labels in some.items():
        grouped.setdefault(", ".join(dict.fromkeys(labels)), []).append(text)
    return grouped


def legend(rows: Sequence[Comparison], systems: Mapping[str, System], ratios: bool = True) -> str:
    """What the terms in a comparison table mean, each said only where a row uses it (as `parity compare`'s caption
    says them), in sentences; `ratios`: the table has compare's ratio columns."""
    notes = " ".join(r.note for r in rows)
    said = ["Ratios (x) are to the baseline row: the throughput ratios predicted in each system's best configuration; "
            "per system = every chip of the system busy; per kW = per system over the system's power (below); per GB = "
            f"per system over its memory. {spec_bases([systems[r.system] for r in rows])}."] if ratios else []
    if "spans " in notes:
        said.append("'spans N systems': the best configuration's workers span N systems over scale-out, where the "
                    "model does not fit one system or where workers over N (up to 4) deliver 1.25x or more per chip; "
                    "'(M/chip on K)': the best on K systems ('one': a single system) that they replace.")
    if any(systems[r.system].chip.dies > 1 for r in rows):
        said.append("A multi-die package (Ascend 910C) runs one rank per die; its rates are per package.")
    served = list(dict.fromkeys(r.system for r in rows if calibration_kind(
        systems[r.system].chip, catalog.calibration(systems[r.system].chip)) == "serving"))
    if "uncalibrated" in notes or served:
        said.append(f"'uncalibrated': nothing measured on the chip fits its predictions. {CALIBRATED_RULE}" + (
            f" {_listed(served)} {'counts' if len(served) == 1 else 'count'} as calibrated by the second: "
            "parity's serving runs on its chip fitted the engine profiles, though its kernel figures are another "
            "chip's (Assumptions, each system shown)." if served else ""))
    if "GEMM rate not measured" in notes:
        said.append(f"{UNMEASURED_GEMM_WORDS}.")
    if any(systems[r.system].chip.status != "shipping" for r in rows):
        said.append("'reported chip', 'announced chip', 'roadmap chip': the chip is not shipping; the note names the "
                    "source kinds of its figures.")
    if rates := list(dict.fromkeys(re.findall(r"emulation rate assumed \(([\d.]+)\)", notes))):
        shares = " or ".join(rates)
        said.append(f"'emulation rate assumed ({'/'.join(rates)})': the chip has no unit for the format, so its "
                    f"weights are dequantised and multiplied on a wider unit ('emulated on X') at {shares} of that "
                    "unit's rate: the calibration's emulation efficiency, an assumption no measurement checks.")
    if ratios and "power assumed" in notes:  # a table without per-kW figures rests on no system's power
        said.append("'power assumed': the system's power is parity's assumption (below), which its per-kW figures "
                    f"rest on; {NO_POWER_ERROR}.")
    if ratios and "power derived" in notes:
        said.append("'power derived': the system's power is parity's arithmetic on another system's published figure "
                    "(as an Atlas 800 A3's is CloudMatrix 384's all-in figure per node, its switches and optics "
                    "included), not one published for it (below), which its per-kW figures rest on.")
    if "specs assumed" in notes:
        said.append("'specs assumed: X': no source publishes the chip's X (its formats, which choose the weights it "
                    "is served in, a peak rate by format, its memory bandwidth or capacity); its spec ratios and "
                    "predictions rest on parity's assumption (parity show CHIP).")
    if any(r.ratio_interval[0] == r.ratio_interval[0] for r in rows):  # not NaN: an interval is shown
        said.append("Under each per-chip ratio, its 80% interval, from the cross-source residuals of both chips' "
                    "vendors (parity validate --by source), each chip's band "
                    f"{widening_words('for a what-if chip, one not shipping or specs assumed')}; under the per-system, "
                    "per-kW and per-GB ratios, the same "
                    "scaled by the systems' chips, power and memory"
                    + ("; 'no clear winner per X': the 80% interval of the ratio per X holds 1 (parity), which says "
                       "nothing of the ratios it does not name." if "no clear winner" in notes else ".")
                    + (" Where a row and the baseline share the chip (a what-if of it), its calibration and engine, "
                       "their errors cancel: the ratio of equal rates is exact ('exact' under it), and an interval "
                       "where they differ is the what-if's own, parity's response to what differs "
                       f"({WHAT_IF_RESPONSE:g} of |ln(predicted ratio)| in log), or both bands' where narrower."
                       if any(r.ratio_basis in ("exact", "response") for r in rows) else ""))
    return " ".join(said)


def _listed(names: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def power_basis(systems: Sequence[System]) -> str:
    """Each system's power as 'power/system' and per kW count it, with its basis from the catalog (a datasheet
    maximum, an all-in estimate or an assumed ratio over the chips' power): '145 kW per gb200-nvl72 (analyst-estimate:
    all-in estimate; ...)'."""
    return ("Power per system, as the catalog states it (no facility overhead): "
            + "; ".join(dict.fromkeys(power_text(s) for s in systems)) + ".")


def without_mtp_hint(lines: Sequence[str], model: Model) -> tuple[str, ...]:
    """Assumptions with the CLI's 'no multi-token prediction (--mtp N: ...)' said without the option, which the
    report does not have: why the model runs without it."""
    why = (f"{model.name} has no MTP layers" if not model.mtp_layers else
           f"no published MTP acceptance of {model.name} is recorded")
    hint = catalog.mtp_setting(model, 0)[1]
    return tuple(f"no multi-token prediction ({why})" if line == hint else line for line in lines)


def rows_assumptions(rows: Sequence[tuple[str, Sequence[str]]]) -> tuple[str, ...]:
    """A table's assumptions from each row's (`rows`: its label and its lines): those every row holds, once, then
    each other line with the rows it holds for, 'only atlas-800-a3: CANN software maturity: ...', so that one row's
    line is neither read as every row's nor lost where that row is not the first (the fleet's were its first row's
    alone: report-only tester fixeg 4)."""
    shared = [x for x in (rows[0][1] if rows else ()) if all(x in lines for _, lines in rows)]
    some: dict[str, list[str]] = {}
    for label, lines in rows:
        for line in lines:
            if line not in shared:
                some.setdefault(line, []).append(label)
    return (*shared, *(f"only {', '.join(dict.fromkeys(labels))}: {line}" for line, labels in some.items()))


@dataclass(frozen=True, slots=True, kw_only=True)
class Assumptions:
    """A page's assumptions: those of every row, each section's own (section anchor -> lines) and each system's own
    (system id -> lines), none repeated."""

    common: tuple[str, ...]
    sections: Mapping[str, tuple[str, ...]]
    systems: Mapping[str, tuple[str, ...]]


def group_assumptions(sections: Mapping[str, Sequence[tuple[str, Sequence[str]]]]) -> Assumptions:
    """Assumptions of each section's rows ((system id, its row's assumptions), by section anchor) grouped: a line
    every row holds is common; one every row of a section holds, that section's; the rest, its system's."""
    every = [tuple(a) for rows in sections.values() for _, a in rows]
    common = tuple(x for x in (every[0] if every else ()) if all(x in a for a in every))
    own = {anchor: tuple(x for x in rows[0][1] if x not in common and all(x in a for _, a in rows))
           for anchor, rows in sections.items() if rows}
    systems: dict[str, dict[str, None]] = {}
    for anchor, rows in sections.items():
        for system, lines in rows:
            systems.setdefault(system, {}).update(
                dict.fromkeys(x for x in lines if x not in common and x not in own[anchor]))
    return Assumptions(common=common, sections=own, systems={s: tuple(lines) for s, lines in systems.items()})


def assumptions_html(grouped: Assumptions, headings: Mapping[str, str], more: Mapping[str, Sequence[str]],
                     systems: Sequence[System], engine_line: str) -> str:
    """The Assumptions section's body: every row's, each section's own (linked by its anchor; `headings`: anchor ->
    heading HTML; `more`: sections whose lines are not grouped, such as the fleet's), one line per system shown (its
    own lines and its calibration's id and date), and the figures of only the calibrations those systems use, folded
    under a <details>."""
    lines = ([f"<li>Every comparison and format row: {_e('; '.join(grouped.common))}</li>"] if grouped.common else [])
    lines += [f"<li>In <a href='#{anchor}'>{headings[anchor]}</a>: {_e('; '.join(own))}</li>"
              for anchor, own in [*grouped.sections.items(), *more.items()] if own]
    lines.append(f"<li>{_e(engine_line)}</li>")
    calibrations = {s.id: catalog.calibration(s.chip) for s in systems}
    verdicts = {s.id: calibrated_text(s.chip, calibrations[s.id]) for s in systems}
    each = "".join(f"<li><b>{_e(s)}</b>: {_e('; '.join(_with_verdict(own, verdicts[s])))}; calibration "
                   f"{_e(calibrations[s].id)} of {_e(calibrations[s].date)}</li>"
                   for s, own in grouped.systems.items() if s in calibrations)
    used = {c.id for c in calibrations.values()}
    figures = "".join(f"<li>calibration {_e(c.id)} ({_e(c.date)}, {'measured' if c.measured else 'prior'}): "
                      f"{_e(c.method)}</li>" for c in catalog.calibrations() if c.id in used)
    return (f"<ul>{''.join(lines)}</ul><h3>Each system shown</h3><p>{_e(CALIBRATED_RULE)} Each line says which holds "
            f"for its chip, beside its calibration and its kernel figures.</p><ul>{each}</ul>"
            f"<details><summary>The figures of the {len(used)} calibrations these systems use</summary>"
            f"<ul class='figures'>{figures}</ul></details>")


def _with_verdict(lines: Sequence[str], verdict: str) -> tuple[str, ...]:
    """A system's assumptions with whether its chip counts as calibrated (uncertainty.calibrated_text) before its
    'kernel figures:' line, which says whose figures those are (at the end where no such line is its own)."""
    at = next((i for i, line in enumerate(lines) if line.startswith("kernel figures")), len(lines))
    return (*lines[:at], verdict, *lines[at:])


def _e(text: object) -> str:
    return html.escape(str(text))
