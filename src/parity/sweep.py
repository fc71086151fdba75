"""Sweeps: a grid (or a random sample of it) over systems, what-if chip variants, models, workloads and
layouts, priced with `predict` in chunks on local processes or on a Ray cluster.

A spec is TOML:

    [sweep]
    mode = "grid"            # or "random", with `samples` and `seed`
    [[variant]]              # what-if chips: a catalog chip with fields scaled or set
    name = "910c-2x-bw"
    chip = "huawei-ascend-910c"
    scale = { memory_bytes_per_s = 2.0 }
    [axes]                   # every key is a predict column (or `variant`); each a list of values
    system = ["atlas-800-a3", "hgx-h20"]
    variant = ["910c-2x-bw"]  # run in the chip's default system
    model = ["deepseek-r1"]
    isl = [1024, 8192]
    ...
Results are identical whichever executor runs them: each chunk is the same pure function of its rows.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from parity import catalog
from parity.errors import ParityError
from parity.hardware import System, what_if
from parity.parallel import RAY_LOCAL, map_chunks
from parity.predict import CASE_COLUMNS, OPTIONAL_COLUMNS, OUTPUT_COLUMNS, predict_rows

__all__ = ["SweepSpec", "Variant", "spec_from_toml", "sweep_rows", "run_sweep", "RESULT_COLUMNS"]

RESULT_COLUMNS = OUTPUT_COLUMNS[1:]
REQUIRED_AXES = ("model", "isl", "osl", "concurrency")  # and a system or a variant
MOST_CASES = 10_000_000  # about a day on one core


@dataclass(frozen=True, slots=True, kw_only=True)
class Variant:
    """A what-if chip: `chip` with fields multiplied (`scale`) or replaced (`values`, SI units)."""

    name: str
    chip: str
    scale: Mapping[str, float] = dataclasses.field(default_factory=dict)
    values: Mapping[str, float] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        for kind, table, least in (("scale", self.scale, "> 0"), ("values", self.values, ">= 0")):
            if not isinstance(table, Mapping):
                raise ParityError(f"variant {self.name}: {kind} must be a table of field = number")
            for field, number in table.items():
                if (isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number)
                        or number < 0 or (kind == "scale" and number == 0)):
                    raise ParityError(f"variant {self.name}: {kind}.{field} must be a finite number {least}, "
                                      f"got {number!r}")

    def system(self) -> System:
        base = catalog.chip(self.chip)
        changes: dict[str, Any] = {}
        for field, factor in self.scale.items():
            if field == "peak_flop_per_s":
                changes[field] = {k: v * factor for k, v in base.peak_flop_per_s.items()}
            elif not hasattr(base, field):
                raise ParityError(f"variant {self.name}: chip has no field {field!r}")
            else:
                changes[field] = getattr(base, field) * factor
        for field, value in self.values.items():
            if not hasattr(base, field):
                raise ParityError(f"variant {self.name}: chip has no field {field!r}")
            changes[field] = value
        chip = what_if(base, self.name, **changes)
        return dataclasses.replace(catalog.system_for(base), chip=chip, id=self.name, name=f"{self.name} node")


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepSpec:
    """Axes of a sweep, its variants, and grid or random sampling."""

    axes: Mapping[str, Sequence[Any]]
    variants: tuple[Variant, ...] = ()
    mode: str = "grid"
    samples: int = 100
    seed: int = 0

    def __post_init__(self) -> None:
        if self.mode not in ("grid", "random"):
            raise ParityError(f"sweep mode must be grid or random, got {self.mode!r}")
        unknown = set(self.axes) - set(CASE_COLUMNS) - set(OPTIONAL_COLUMNS) - {"variant"}
        if unknown:
            raise ParityError(f"unknown sweep axes {', '.join(sorted(unknown))}; use predict columns or 'variant'")
        missing = [name for name in REQUIRED_AXES if name not in self.axes] + (
            [] if {"system", "variant"} & set(self.axes) else ["system or variant"])
        if missing:
            raise ParityError(f"a sweep needs the axes {', '.join(missing)} (every case needs a value; give a "
                              "one-value list for a fixed one, e.g. isl = [1024])")
        for name, values in self.axes.items():
            if not isinstance(values, (list, tuple)) or not values:
                raise ParityError(f"sweep axis {name!r} must be a non-empty list")
        cases = self.samples if self.mode == "random" else math.prod(len(v) for v in self.axes.values())
        if not 1 <= cases <= MOST_CASES:
            raise ParityError(f"a sweep must have 1 to {MOST_CASES:,} cases, this one has {cases:,}")


def spec_from_toml(data: Mapping[str, Any]) -> SweepSpec:
    """A SweepSpec from a parsed TOML document."""
    head = data.get("sweep", {})
    try:
        variants = tuple(Variant(name=str(v["name"]), chip=str(v["chip"]), scale=v.get("scale", {}),
                                 values=v.get("values", {})) for v in data.get("variant", []))
    except (KeyError, TypeError, AttributeError) as err:
        raise ParityError(f"every [[variant]] needs a name and a chip (and optional scale and values tables): "
                          f"{err}") from err
    axes = dict(data.get("axes", {}))
    if not axes:
        raise ParityError("a sweep spec needs an [axes] table")
    samples, seed = head.get("samples", 100), head.get("seed", 0)
    for name, value in (("samples", samples), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParityError(f"[sweep] {name} must be a whole number, got {value!r}")
    return SweepSpec(axes=axes, variants=variants, mode=head.get("mode", "grid"), samples=samples, seed=seed)


def sweep_rows(spec: SweepSpec) -> list[dict[str, Any]]:
    """The cases of a sweep as predict rows (a 'variant' axis becomes the row's system)."""
    axes = {k: list(v) for k, v in spec.axes.items()}
    if "variant" in axes:  # variants and catalog systems share the 'system' column
        axes["system"] = axes.get("system", []) + axes.pop("variant")
    names = list(axes)
    if spec.mode == "grid":
        combos = list(itertools.product(*(axes[n] for n in names)))
    else:
        rng = random.Random(spec.seed)
        combos = [tuple(rng.choice(axes[n]) for n in names) for _ in range(spec.samples)]
    return [{"case_id": f"sweep-{i}", **dict(zip(names, combo))} for i, combo in enumerate(combos)]


def _predict_chunk(rows: list[dict[str, Any]], variants: tuple[Variant, ...]) -> list[dict[str, Any]]:
    systems = {v.name: v.system() for v in variants}
    return [{**row, **{k: p.row()[k] for k in RESULT_COLUMNS}} for row, p in
            zip(rows, predict_rows(rows, systems=systems))]


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
