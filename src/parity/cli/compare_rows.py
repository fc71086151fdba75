"""What each row of `parity compare` holds beyond the comparison: its ratios flattened, its 80% interval cells for
people, and its `parity serve` line with what serve gives for it (the row's note)."""

from __future__ import annotations

from dataclasses import replace

from parity import catalog
from parity.cli.serve_line import as_compared, disagg_rerun, in_catalog, serve_command
from parity.cli.values import Targets
from parity.compare import Comparison
from parity.hardware import System
from parity.predict.refine import case_of_candidate, sweep_note
from parity.report.tables import over_interval, ratio
from parity.units import duration_text


def _ratio_cell(row: dict[str, object], key: str = "per_chip") -> str:
    """A ratio (Comparison.ratios key) for people with its 80% interval on the line below ('0.64x' over '0.49-0.74'),
    so the interval is read wherever the ratio is, at any terminal width; none (the baseline): the ratio alone;
    'exact' under it where the row's rate is the baseline's chip's own (Comparison.ratio_basis)."""
    if row.get("ratio_basis") == "exact":  # a zero-width interval: the same chip's rate
        return f"{ratio(row[f'ratio_{key}'])}\nexact"
    return over_interval(ratio(row[f"ratio_{key}"]),  # type: ignore[misc]
                         *row.get("ratio_interval" if key == "per_chip" else f"ratio_interval_{key}", (None, None)))


def _flatten(row: dict) -> dict:
    out = dict(row)
    for key, value in row["spec_ratios"].items():
        out[f"spec_{key}"] = value
    for key, value in row["ratios"].items():
        out[f"ratio_{key}"] = value
    return out


SERVE_DIFFERS = 0.05  # a row's note names serve's figures for its line where one differs from the row's by this share


def _rerun(row: Comparison, system: System, model_name: str, engine: str, isl: int, osl: int, mtp_tokens: int,
           weights: str | None, targets: Targets) -> tuple[dict[str, str], str]:
    """A serving row's `parity serve --model-kind steady` line (serve_command: its layouts, formats, MTP, one rank per
    die, clients and fixed lengths, as `simulated_as_compared` simulates it, which gives the row's figures for an
    aggregated configuration) and, for a disaggregated one, what the line runs on whole workers and what serve's
    steady model prices it at (serve_note: serve's figures differ from the search's, disagg_rerun says why, and where they miss
    a mean target, which); both '' where no configuration was chosen. A what-if system has no serve line (serve
    runs catalog systems): its note says so, and names the whole workers, clients and sweep axes that price its
    configuration (predict.refine.sweep_note). Beside them, what the table's note says of the line where serve's
    tokens/s per chip, TTFT or TPOT differs from the row's by SERVE_DIFFERS or more ('serve line: 3,359/chip, TTFT
    1.87 s'), else ''."""
    if row.configuration is None:
        return {"serve_command": "", "serve_note": ""}, ""
    precision, drafts = as_compared(system, model_name, weights, mtp_tokens)
    case = case_of_candidate(row.configuration, model_name, row.system, engine, precision, isl, osl, drafts,
                             rank_per_die=system.chip.dies > 1)
    if not in_catalog(system):  # the sweep that prices it, and for a disaggregated one what its workers are
        said = "" if case.mode == "agg" else disagg_rerun(row.configuration, case, catalog.engine(
            engine).disagg_prefill_utilization, systems={system.id: system})[0]
        return {"serve_command": "", "serve_note": "; ".join(filter(None, [
            f"{WHAT_IF_SERVE_NOTE}; {sweep_note(case, moe='moe' in catalog.model(model_name).features)}", said]))}, ""
    said, prices = ("", {}) if case.mode == "agg" else disagg_rerun(
        row.configuration, case, catalog.engine(engine).disagg_prefill_utilization)
    over = {metric: bound for metric, bound, statistic in (("ttft", targets.ttft_s, targets.ttft_statistic),
                                                           ("tpot", targets.tpot_s, targets.tpot_statistic))
            if statistic == "mean" and bound and prices.get(f"{metric}_s", 0.0) > bound}
    missed = [f"the {metric.upper()} target {duration_text(bound)}" for metric, bound in over.items()]
    said += f"; serve's figures miss {' and '.join(missed)}" if missed else ""
    off = {key: abs(prices[key] / getattr(row, key) - 1.0) >= SERVE_DIFFERS
           for key in ("tokens_per_s_per_chip", "ttft_s", "tpot_s")} if prices else {}

    def figure(metric: str) -> str:  # 'TTFT 11.6 s (over the 5 s target)'
        return f"{metric.upper()} {duration_text(prices[f'{metric}_s'])}" + (
            f" (over the {duration_text(over[metric])} target)" if metric in over else "")

    brief = (f"serve line: {prices['tokens_per_s_per_chip']:,.0f}/chip, {figure('ttft')}"
             + (f", {figure('tpot')}" if off["tpot_s"] or "tpot" in over else "") if any(off.values()) else "")
    return {"serve_command": serve_command(case, moe="moe" in catalog.model(model_name).features),
            "serve_note": said}, brief


def _noted(row: Comparison, brief: str) -> Comparison:
    """The row with the note every format prints: its own, then what serve gives for its line where that differs
    (`_rerun`'s brief); 'does not fit' where the system cannot run it and its note says nothing."""
    return replace(row, note="; ".join(filter(None, [row.note, brief])) if row.fits else row.note or "does not fit")


WHAT_IF_SERVE_NOTE = "a what-if system: `parity serve` runs catalog systems"
