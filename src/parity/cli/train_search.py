"""`parity train --search`: the table (or JSON, CSV) of the fastest layouts found, its columns and the
caption that names the rows each flag holds for."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from parity.cli import emit, output_format
from parity.cli.train_record import _on, _record, interval_fields, result_payload
from parity.flags import Flag, texts
from parity.hardware import rank_holder
from parity.report.tables import Column, percent, plain, scaled
from parity.training import TrainingSearch
from parity.uncertainty import TRAINING_INTERVAL_BASIS, training_flags


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
