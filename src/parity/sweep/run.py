"""A sweep's cases as predict rows, priced in chunks on local processes or Ray, each with the chip's figures
(tokens per kW, TPP, performance density) and its what-if and power flags."""

from __future__ import annotations

import functools
import itertools
import math
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from parity import catalog
from parity.compare import system_power_flags
from parity.errors import ParityError
from parity.hardware import System
from parity.parallel import RAY_LOCAL, map_chunks
from parity.policy import PD_KEY, performance_density, tpp
from parity.predict import (EXTRA_COLUMNS, INPUT_KINDS, OUTPUT_COLUMNS, OUTPUT_KINDS, closed_loop_only,
                            predict_rows)
from parity.sweep.spec import SweepSpec, _grid_axes
from parity.sweep.variant import Variant
from parity.uncertainty import what_if_flag

# a row's figures of its system's chip (CHIP_COLUMNS, after the prediction's): tokens per kW of the system's power
# (compare's figure: the system's power shared by its chips, so a variant's tdp_w shows), and the chip's TPP and
# performance density (policy: its peak rates and die area); NaN where unknown
CHIP_COLUMNS = ("output_tokens_per_s_per_kw", "tpp", PD_KEY)
# predict's figures, each of EXTRA_COLUMNS on every row (NaN where the row has none: a table's columns, and a Parquet
# file's schema, follow the spec's axes, never the run's values), then the chip's
RESULT_COLUMNS = OUTPUT_COLUMNS[1:] + EXTRA_COLUMNS + CHIP_COLUMNS
_RESULT_KINDS = {**OUTPUT_KINDS, **dict.fromkeys(CHIP_COLUMNS, "number")}


def column_kind(column: str) -> str:
    """The kind of value (predict.COLUMN_KINDS) a sweep's column holds whatever the run gives: an axis's as predict
    reads that column, a result's as predict or the chip's figures write it; 'text' for any other (serve_command)."""
    return INPUT_KINDS.get(column) or _RESULT_KINDS.get(column, "text")


def sweep_rows(spec: SweepSpec) -> list[dict[str, Any]]:
    """The cases of a sweep as predict rows (a 'variant' axis becomes the row's system). Random mode draws
    `samples` distinct cases of the grid (without replacement), seeded."""
    axes = _grid_axes(spec.axes)
    names = list(axes)
    if spec.mode == "grid":
        combos = list(itertools.product(*(axes[n] for n in names)))
    else:
        sizes = [len(axes[n]) for n in names]
        picks = random.Random(spec.seed).sample(range(math.prod(sizes)), spec.samples)
        combos = [_combo(index, [axes[n] for n in names]) for index in picks]
    return [{"case_id": f"sweep-{i}", **dict(zip(names, combo))} for i, combo in enumerate(combos)]


def _combo(index: int, axes: Sequence[Sequence[Any]]) -> tuple[Any, ...]:
    """The grid's case number `index` (the order itertools.product gives: the last axis varies fastest)."""
    picked = []
    for values in reversed(axes):
        index, at = divmod(index, len(values))
        picked.append(values[at])
    return tuple(reversed(picked))


def _per_die(row: dict[str, Any], systems: Mapping[str, System]) -> dict[str, Any]:
    """The row as the sweep prices it: one rank per die on a multi-die package (the 910C), as serve, compare and CANN
    run it, where the row does not say (a `rank_per_die` axis does); its rank_per_die cell says which ran."""
    if row.get("rank_per_die") not in (None, ""):
        return row
    system = _system_named(row.get("system"), systems)
    return {**row, "rank_per_die": system is not None and system.chip.dies > 1}


# how a sweep's refusal of an open-loop row (predict.closed_loop_only) says to price it: with the simulator, which a
# sweep does not run
SWEEP_SIMULATOR = ("`parity predict` of the sweep's table runs it, --model-kind sim by default; a sweep runs the steady "
                   "model")


def _predict_chunk(rows: list[dict[str, Any]], variants: tuple[Variant, ...]) -> list[dict[str, Any]]:
    """The rows priced as `parity predict --model-kind steady` prices them (an open-loop row refused), each with
    RESULT_COLUMNS and its flags, a what-if's and a power assumption's among them."""
    systems = {v.name: v.system() for v in variants}
    rows = [_per_die(row, systems) for row in rows]
    out = []
    for row, prediction in zip(rows, predict_rows(rows, systems=systems)):
        predicted = closed_loop_only(row, prediction, SWEEP_SIMULATOR).row()
        system, prefill = _system_named(row.get("system"), systems), _system_named(row.get("prefill_system"), systems)
        chip = _chip_columns(system, prefill, predicted["output_tokens_per_s_per_chip"])
        flags = _with_what_if_flags(predicted["flags"], [s for s in (system, prefill) if s and s.id in systems])
        out.append({**row, **{k: predicted.get(k, math.nan) for k in OUTPUT_COLUMNS[1:] + EXTRA_COLUMNS}, **chip,
                    "flags": _with_power_flags(flags, chip, (system, prefill))})
    return out


def _with_what_if_flags(flags: list[str], what_ifs: Sequence[System]) -> list[str]:
    """A row's flags with the what-if flag of each variant system it runs on, first, where none of its flags says
    'what-if:' already: a priced row carries it among its case's flags, a refused one (too big, an open loop) had
    none, so a variant's infeasible rows read as the catalog's (docs/model.md: every row of a variant is flagged)."""
    if any(f.startswith("what-if:") for f in flags):
        return flags
    return [*(f.text for s in what_ifs if (f := what_if_flag(s)) is not None), *flags]


def _with_power_flags(flags: list[str], chip: Mapping[str, float], systems: Sequence[System | None]) -> list[str]:
    """A row's flags with each of its systems' power flags where the row states tokens per kW, which rests on
    the systems' power ('power assumed: 10.92 kW per mi300x-platform (8 x 750 W x 1.82)', 'power derived: ...', as
    compare flags it: compare.system_power_flags)."""
    if math.isnan(chip["output_tokens_per_s_per_kw"]):
        return flags
    raised = [f.text for system in systems if system is not None for f in system_power_flags(system)]
    return list(dict.fromkeys([*flags, *raised]))


def _system_named(name: object, variants: Mapping[str, System]) -> System | None:
    """The system a row's cell names (a variant's, or the catalog's); None where it names none."""
    if not isinstance(name, str) or not name:
        return None
    try:
        return variants[name] if name in variants else catalog.system(name)
    except ParityError:
        return None


def _chip_columns(system: System | None, prefill: System | None, per_chip: float) -> dict[str, float]:
    """CHIP_COLUMNS of a row on `system` (prefill workers on `prefill`, if another) at `per_chip` output
    tokens/s: tokens per kW only where every chip of the row draws the system's power per chip."""
    if system is None:
        return dict.fromkeys(CHIP_COLUMNS, math.nan)
    one_power = prefill is None or prefill.power_w_per_chip == system.power_w_per_chip
    density = performance_density(system.chip)
    return {"output_tokens_per_s_per_kw": system.per_kw(per_chip) if one_power else math.nan,
            "tpp": tpp(system.chip).tpp, PD_KEY: math.nan if density is None else density}


def _chunks(rows: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [rows[i:i + size] for i in range(0, len(rows), size)]


def run_sweep(spec: SweepSpec, workers: int = 1, ray_address: str | None = None, use_ray: bool = False,
              chunk: int = 64, progress: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
    """Every case of the sweep with its prediction, in order; on `workers` local processes, or as Ray
    tasks (a local Ray instance, or the cluster at `ray_address`)."""
    rows = sweep_rows(spec)
    ray = (ray_address or RAY_LOCAL) if use_ray else None
    done = map_chunks(functools.partial(_predict_chunk, variants=spec.variants), _chunks(rows, chunk), workers, ray,
                      (lambda part: progress(len(part))) if progress else None)
    return [row for part in done for row in part]
