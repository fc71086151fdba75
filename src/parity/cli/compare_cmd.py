"""`parity compare`: systems side by side on one or more models, serving or training."""

from __future__ import annotations

import math
from pathlib import Path

import click

from parity import catalog
from parity.cli import cli, emit, format_option, out_option
from parity.cli.search_cmd import duration
from parity.compare import DEFAULT_MODELS, DEFAULT_SYSTEMS, compare
from parity.report.tables import Column, plain, ratio, scaled

SPECS = (("bf16", "BF16 x"), ("eight_bit", "8-bit x"), ("memory", "mem x"), ("bandwidth", "BW x"), ("power", "TDP x"))
SYSTEM_SPECS = (("system_bf16", "sys BF16 x"), ("system_memory", "sys mem x"), ("system_power", "sys power x"))


def _interval(value: object) -> str:
    low, high = value  # type: ignore[misc]
    return "-" if math.isnan(low) else f"{low:.2f}-{high:.2f}x"


def _flatten(row: dict) -> dict:
    out = dict(row)
    for key, value in row["spec_ratios"].items():
        out[f"spec_{key}"] = value
    for key, value in row["ratios"].items():
        out[f"ratio_{key}"] = value
    return out


@cli.command(name="compare")
@click.argument("systems", nargs=-1)
@click.option("--model", "models", multiple=True,
              help=f"catalog model or config.json (repeatable); default: {', '.join(DEFAULT_MODELS)}")
@click.option("--workload", type=click.Choice(["serve", "train"]), default="serve", show_default=True)
@click.option("--tpot", default="50ms", show_default=True, help="serving: time-per-output-token target")
@click.option("--ttft", default=None, help="serving: time-to-first-token target")
@click.option("--isl", default=1024, show_default=True, type=click.IntRange(min=1), help="prompt tokens")
@click.option("--osl", default=1024, show_default=True, type=click.IntRange(min=1), help="output tokens")
@click.option("--weights", default=None, help="serving weight format for all systems (default: best native per chip)")
@click.option("--engine", default="generic", show_default=True, help="serving-engine profile")
@click.option("--chips", type=click.IntRange(min=1), default=None, help="training: chips (default: the system's)")
@click.option("--seq-len", type=click.IntRange(min=1), default=4096, show_default=True, help="training sequence")
@click.option("--global-batch", type=click.IntRange(min=1), default=1024, show_default=True,
              help="training: sequences per step")
@click.option("--precision", "training_precision", default="bf16", show_default=True, help="training precision")
@click.option("--baseline", default=None, help="system the ratios divide by (default: the first)")
@format_option
@out_option
def compare_command(systems: tuple[str, ...], models: tuple[str, ...], workload: str, tpot: str, ttft: str | None,
                    isl: int, osl: int, weights: str | None, engine: str, chips: int | None, seq_len: int,
                    global_batch: int, training_precision: str, baseline: str | None, fmt: str,
                    out: Path | None) -> None:
    """Compare systems on a model (default: 8-chip nodes of H20, RTX Pro 6000D, H800, H100, H200, B200,
    Ascend 910B, Ascend 910C and MI300X on Llama-3.1-70B and DeepSeek-R1): datasheet ratios beside
    what each delivers per chip, per system, per kW and per GB in its best configuration."""
    tpot_s, ttft_s = duration(tpot, "tpot"), duration(ttft, "ttft")
    found = [catalog.system(name) for name in (systems or DEFAULT_SYSTEMS)]
    base = catalog.system(baseline) if baseline else found[0]
    profile = catalog.engine(engine)
    payload = []
    for name in models or DEFAULT_MODELS:
        model = catalog.model(name)
        results = compare(found, model, profile, tpot_s, isl, osl, weights, base, ttft_s, workload, chips, seq_len,
                          global_batch, training_precision)
        rows = [_flatten(r.to_dict()) for r in results]
        payload += [r.to_dict() for r in results]
        if fmt != "table":
            continue
        varied = any(sys_.chips != found[0].chips for sys_ in found)
        unit = "out tok/s" if workload == "serve" else "train tok/s"
        columns = [Column("system", "system", plain, "left"), Column("weights", "format", plain, "left"),
                   Column("mode", "mode", plain, "left")]
        if varied:  # systems of different sizes: per-chip compute and memory, then whole-system ratios
            columns += [Column(f"spec_{k}", label, ratio) for k, label in SPECS[:1] + SPECS[2:3]]
            columns += [Column(f"spec_{k}", label, ratio) for k, label in SYSTEM_SPECS]
        else:
            columns += [Column(f"spec_{k}", label, ratio) for k, label in SPECS]
        if workload == "serve":
            columns.append(Column("prefill_tokens_per_s_per_chip", "prefill tok/s/chip", scaled(1)))
        columns += [Column("tokens_per_s_per_chip", f"{unit}/chip", scaled(1)), Column("ratio_per_chip", "x/chip", ratio)]
        if workload == "serve":
            columns.append(Column("ratio_interval", "80% interval", _interval, "left"))
        if varied:
            columns += [Column("tokens_per_s_per_system", f"{unit}/system", scaled(1)),
                        Column("ratio_per_system", "x/system", ratio)]
        columns += [Column("tokens_per_s_per_kw", f"{unit}/kW", scaled(1)), Column("ratio_per_kw", "x/kW", ratio)]
        if varied:
            columns.append(Column("ratio_per_gb", "x/GB", ratio))
        if workload == "train":
            columns.append(Column("mfu", "MFU", lambda v: "-" if v is None or math.isnan(v) else f"{v:.0%}"))
        columns.append(Column("note", "note", plain, "left"))
        target = (f"TPOT {tpot_s * 1e3:g} ms" if tpot_s else "no TPOT target") + (f", TTFT {ttft}" if ttft else "")
        pair = ""
        if len(results) == 2 and results[1].fits and results[0].fits:
            a, b = results
            spec = {k: 1.0 / v if v else float("nan") for k, v in b.spec_ratios.items()}
            got = {k: 1.0 / v if v else float("nan") for k, v in b.ratios.items()}
            pair = (f"{a.system} against {b.system}: {spec['system_bf16']:.2f}x the system BF16, "
                    f"{spec['system_memory']:.2f}x the memory, {spec['system_power']:.2f}x the power, "
                    f"{spec['bf16']:.2f}x BF16 per chip; predicted {got['per_system']:.2f}x the output tokens/s "
                    f"per system, {got['per_chip']:.2f}x per chip, {got['per_kw']:.2f}x per kW, "
                    f"{got['per_gb']:.2f}x per GB of memory. ")
        used = results[0].baseline or base.id
        against = used if used == base.id else f"{used} ({base.id} cannot run it)"
        title = (f"{model.name}: serving {isl} in / {osl} out at {target}, ratios to {against}" if workload == "serve"
                 else f"{model.name}: training, {seq_len}-token sequences, {global_batch} per step, ratios to {against}")
        emit(rows, columns, "table", title=title,
             caption=pair + ("Formats: the narrowest each chip runs natively. " if workload == "serve" else "")
             + f"Engine profile: {profile.id}. Spec ratios from datasheets (x = times the baseline); throughput "
             "predicted in each system's best configuration; per system = every chip of the system busy; per kW "
             "= per system over the system's power (all-in where published); per GB = per system over its memory; "
             "'spans N systems': the model does not fit one, its workers span N over scale-out; 'uncalibrated': "
             "no measured calibration of the chip itself (it inherits its family's or runs on the derived prior; "
             "'parity show CHIP'). 80% interval of the per-chip ratio: from the cross-source residuals of both "
             "chips' vendors (parity validate --by source); per system and per kW ratios share it. Assumptions: "
             "'parity show SYSTEM', --format json.")
    if fmt != "table":
        emit(payload, [], fmt, payload=payload, out=out)
