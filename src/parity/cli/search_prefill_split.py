"""`parity search --prefill-system`: the best splits of prefill and decode workers over two kinds of system, each
within its budget of chips."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from parity import catalog
from parity.cli import emit, output_format
from parity.cli.search_words import _formats, _mtp_words, _unsaid
from parity.cli.serve_line import serve_command
from parity.cli.values import Targets
from parity.errors import InfeasiblePlan
from parity.flags import joined, texts
from parity.predict import Case
from parity.report.tables import Column, plain, scaled
from parity.search import best_precision
from parity.search_split import search_split
from parity.uncertainty import context_flags


# a split for people: each side's workers in one cell ('2x tp1-pp4-dp4-ep4') and the chips of both in another
# ('32+16'), the core within 80 columns; what follows from them (the fleet's rate: tok/s/chip x chips) and the
# detail give way, in their rank's order
SPLIT_COLUMNS = [Column("prefill_workers_text", "prefill workers", plain, "left"),
                 Column("decode_workers_text", "decode workers", plain, "left"),
                 Column("chips_text", "chips", plain, wide=1),
                 Column("clients_per_decode_worker", "clients/D worker", scaled(1), wide=3),
                 Column("tpot_s", "TPOT ms", scaled(1e-3)), Column("ttft_s", "TTFT ms", scaled(1e-3)),
                 Column("output_tokens_per_s", "tok/s (fleet)", scaled(1), wide=2),
                 Column("output_tokens_per_s_per_chip", "tok/s/chip", scaled(1)),
                 Column("limited_by", "limited by", plain, "left", wide=2)]


def _split(model, prefill_system, decode_system, profile, formats: tuple[str | None, str | None], targets: Targets,
           isl: int, osl: int, prefill_chips: int, decode_chips: int, mtp: tuple[int, float], mtp_text: str, fmt: str,
           out: Path | None, named: Case) -> None:
    """`search --prefill-system`: the best fleets of prefill and decode workers under the two budgets; `named`: the
    model, system and engine as the command line named them (for the best's serve line); `formats`: --weights and
    --kv as given (None: the search's defaults)."""
    prefill_precision = best_precision(model, prefill_system.chip, *formats)
    decode_precision = best_precision(model, decode_system.chip, *formats)
    found = search_split(model, prefill_system, decode_system, profile, catalog.calibration(prefill_system.chip),
                         catalog.calibration(decode_system.chip), prefill_precision, decode_precision, isl, osl,
                         prefill_chips, decode_chips, targets.tpot_s, targets.ttft_s, mtp=mtp)
    if not found.best:
        raise InfeasiblePlan(f"no split of {prefill_chips} x {prefill_system.id} (prefill) and {decode_chips} x "
                             f"{decode_system.id} (decode) fits and meets {targets.text()}")
    rows = [s.to_dict() for s in found.best]
    best = found.best[0]
    raised = list(model.flags) + context_flags(model, isl + osl)
    # serve runs one set of formats on both kinds of worker: the best's line where the two sides' agree
    rerun = serve_command(dataclasses.replace(
        named, concurrency=round(best.clients_per_decode_worker * best.decode_workers), weights=decode_precision.weights,
        moe_weights=decode_precision.expert_weights, kv=decode_precision.kv_cache, mode="disagg",
        layout=best.prefill_layout, decode_layout=best.decode_layout, prefill_workers=best.prefill_workers,
        decode_workers=best.decode_workers, mtp_tokens=mtp[0], prefill_system=prefill_system.id),
        moe="moe" in model.features) if prefill_precision == decode_precision else ""
    caption = ((f"{mtp_text} " if mtp_text else "")
               + f"{found.evaluated:,} pairs of decode (layout, batch) and prefill layout evaluated. Best under "
               f"{targets.text()}: {best.output_tokens_per_s:,.0f} output tok/s from {best.prefill_chips} prefill and "
               f"{best.decode_chips} decode chips (limited by {best.limited_by}); "
               + (f"to run it: {rerun}" if rerun else "no `parity serve` line runs it: serve runs one set of formats "
                  f"on both kinds of worker, and these prefill workers run {_formats(prefill_precision)}, the "
                  f"decode workers {_formats(decode_precision)}")
               + ". " + "; ".join(_unsaid(found.assumptions, mtp, mtp_text))
               + (f". Flags: {joined(raised)}" if raised else ""))
    payload = {"model": model.name, "prefill_system": prefill_system.id, "decode_system": decode_system.id,
               "prefill_weights": prefill_precision.weights, "prefill_kv_cache": prefill_precision.kv_cache,
               "decode_weights": decode_precision.weights, "decode_kv_cache": decode_precision.kv_cache,
               "mtp_tokens": mtp[0], "mtp_accepted_tokens": mtp[1],
               "prefill_budget_chips": prefill_chips, "decode_budget_chips": decode_chips,
               "evaluated": found.evaluated, "best": rows, "best_serve_command": rerun,
               "assumptions": list(found.assumptions),
               "model_flags": texts(raised)}
    if output_format(fmt, out) in ("table", "md"):  # json and csv keep the fields apart
        rows = [{**r, "prefill_workers_text": f"{r['prefill_workers']:,}x {r['prefill_layout']}",
                 "decode_workers_text": f"{r['decode_workers']:,}x {r['decode_layout']}",
                 "chips_text": f"{r['prefill_chips']:,}+{r['decode_chips']:,}"} for r in rows]
        caption = "chips: the prefill workers' + the decode workers'. " + caption
    caption += f". Formats: prefill {_formats(prefill_precision)}; decode {_formats(decode_precision)}"
    emit(rows, SPLIT_COLUMNS, fmt, title=f"Best splits: {model.name}, prefill on {prefill_system.id}, decode on "
         f"{decode_system.id}{_mtp_words(mtp)}", caption=caption, payload=payload, out=out)
