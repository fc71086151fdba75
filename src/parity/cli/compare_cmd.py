"""`parity compare`: systems side by side on one or more models."""

from __future__ import annotations

import math
from pathlib import Path

import click

from parity import catalog, units
from parity.cli import cli, emit, format_option, out_option
from parity.compare import DEFAULT_MODELS, DEFAULT_SYSTEMS, compare
from parity.errors import ParityError
from parity.report.tables import Column, plain, ratio, scaled


@cli.command(name="compare")
@click.argument("systems", nargs=-1)
@click.option("--model", "models", multiple=True, help="catalog model or config.json (repeatable); "
              f"default: {', '.join(DEFAULT_MODELS)}")
@click.option("--tpot", default="50ms", show_default=True, help="time-per-output-token target")
@click.option("--isl", default=1024, show_default=True, type=click.IntRange(min=1), help="prompt tokens")
@click.option("--osl", default=1024, show_default=True, type=click.IntRange(min=1), help="output tokens")
@click.option("--weights", default=None, help="weight format for all systems (default: best native per chip)")
@click.option("--engine", default="generic", show_default=True, help="serving-engine profile")
@click.option("--baseline", default=None, help="system the ratios divide by (default: the first)")
@format_option
@out_option
def compare_command(systems: tuple[str, ...], models: tuple[str, ...], tpot: str, isl: int, osl: int,
                    weights: str | None, engine: str, baseline: str | None, fmt: str, out: Path | None) -> None:
    """Compare systems (default: 8-chip nodes of H20, RTX Pro 6000D, H800, H100, H200, B200, Ascend 910B,
    Ascend 910C and MI300X) on serving: spec ratios and predicted throughput per chip."""
    tpot_s = units.parse_duration_s(tpot)
    if not tpot_s > 0:
        raise ParityError(f"--tpot must be positive, got {tpot!r}")
    found = [catalog.system(name) for name in (systems or DEFAULT_SYSTEMS)]
    base = catalog.system(baseline) if baseline else found[0]
    profile = catalog.engine(engine)
    payload = []
    for name in models or DEFAULT_MODELS:
        model = catalog.model(name)
        results = compare(found, model, profile, tpot_s, isl, osl, weights, base)
        rows = [r.to_dict() for r in results]
        payload += rows
        if fmt != "table":
            continue
        columns = [Column("system", "system", plain, "left"), Column("weights", "weights", plain, "left"),
                   Column("layout", "layout", plain, "left")]
        for row in rows:
            for key, label in (("bf16", "bf16"), ("eight_bit", "8-bit"), ("memory", "mem"),
                               ("bandwidth", "BW"), ("power", "TDP")):
                row[f"spec_{key}"] = row["spec_ratios"].get(key, math.nan)
        columns += [Column(f"spec_{k}", f"{label}", ratio) for k, label in
                    (("bf16", "BF16 x"), ("eight_bit", "8-bit x"), ("memory", "mem x"), ("bandwidth", "BW x"),
                     ("power", "TDP x"))]
        columns += [Column("prefill_tokens_per_s_per_chip", "prefill tok/s/chip", scaled(1)),
                    Column("decode_tokens_per_s_per_chip", f"decode tok/s/chip @{tpot_s * 1e3:g}ms", scaled(1)),
                    Column("decode_ratio", "decode x", ratio), Column("note", "note", plain, "left")]
        emit(rows, columns, "table", title=f"{model.name}: {isl} in / {osl} out, ratios to {base.id}",
             caption=f"Formats: the narrowest each chip runs natively. Engine profile: {profile.id}. "
                     "Spec ratios per chip (datasheets); throughput predicted per chip in the best layout "
                     "of one scale-up domain.")
    if fmt != "table":
        emit(payload, [], fmt, payload=payload, out=out)
