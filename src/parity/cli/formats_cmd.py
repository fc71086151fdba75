"""`parity formats`: what the number format of the weights changes on each system."""

from __future__ import annotations

from pathlib import Path

import click

from parity import catalog
from parity.cli import cli, emit, format_option, out_option, output_format, progress_bar, systems_named
from parity.cli.files import model_file, refuse_overwrite
from parity.cli.labels import flags_caption, system_label
from parity.cli.mtp import mtp_caption, mtp_option, refuse_mtp_without_layers
from parity.cli.values import DEFAULT_TTFT, ENGINE, TOKENS, Targets, listed, targets_options
from parity.compare import DEFAULT_FORMATS, compare_formats
from parity.dtypes import refuse_repeated_formats
from parity.errors import ParityError
from parity.report.tables import Column, over_interval, plain, ratio, scaled
from parity.uncertainty import widening_words

DEFAULT = ("hgx-h20", "hgx-h100", "hgx-b200", "atlas-800-a3", "atlas-350-server")


@cli.command(name="formats")
@click.argument("systems", nargs=-1)
@click.option("--model", default="deepseek-r1", show_default=True, help="catalog model or config.json")
@click.option("--formats", "names", default=",".join(DEFAULT_FORMATS), show_default=True,
              help="comma-separated weight formats (bf16, fp8, fp8_block or its alias ue8m0, mxfp8, hif8, int8, nvfp4, "
                   "mxfp6, mxfp4, w4a8_mxfp4, w4a6_mxfp4 or its alias w4a6, w4a16_mxfp4, w4a16_mxfp4_marlin, int4, "
                   "w8a16, w4a8)")
@targets_options(ttft_default=DEFAULT_TTFT)
@click.option("--isl", default=1024, show_default=True, type=TOKENS, help="prompt tokens per request")
@click.option("--osl", default=1024, show_default=True, type=TOKENS, help="output tokens per request")
@click.option("--engine", type=ENGINE, default="generic", show_default=True, help="serving-engine profile (parity engines)")
@mtp_option()
@format_option
@out_option
def formats_command(systems: tuple[str, ...], model: str, names: str, targets: Targets,
                    isl: int, osl: int,
                    engine: str, mtp_tokens: int | None, fmt: str, out: Path | None) -> None:
    """Serve a model with its weights in each number format (BF16, FP8 per-tensor or block-scaled with FP32 or
    UE8M0 scales, MXFP8, INT8, FP4 ...) on each system (default: 8-chip H20, H100, B200, Ascend 910C and
    Ascend 950PR nodes): whether the chip runs the format natively or emulated, and what it buys. Each system
    runs as `compare` runs it: the engine at its software stack's maturity, a rank per die of a multi-die package,
    and the model's MTP default."""
    refuse_overwrite([("--model", model_file(model))], [("--out", out)])
    fmt = output_format(fmt, out)  # a --format that contradicts the suffix of --out, refused before any work
    found = systems_named(systems or DEFAULT, "each system is shown once")
    wanted = listed(names, "--formats")
    if not wanted:
        raise ParityError("--formats names no format")
    wanted = refuse_repeated_formats(wanted, "each format is shown once")
    the_model, profile = catalog.model(model), catalog.engine(engine)
    refuse_mtp_without_layers([the_model], mtp_tokens)
    drafts = catalog.mtp_drafts(the_model, mtp_tokens)
    mtp_text = mtp_caption(the_model, drafts, mtp_tokens is not None, "on every chip")
    results = []
    with progress_bar() as progress:
        task = progress.add_task("searching each system and format", total=len(found))
        for system in found:
            results += compare_formats([system], the_model, profile, wanted, targets.tpot_s, targets.ttft_s, isl, osl,
                                       drafts)
            progress.advance(task)
    labels = {system.id: f"{system.id}\n{system_label(system)}" for system in found}
    rows = [r.to_dict() for r in results]
    shown = rows if fmt not in ("table", "md") else [  # the rate over its 80% interval: '2,794' over '1,302-4,281'
        r | {"rate_cell": over_interval(scaled(1)(r["tokens_per_s_per_chip"]), r["tokens_per_s_per_chip_low"],
                                        r["tokens_per_s_per_chip_high"], scaled(1))} for r in rows]
    columns = [Column("system", "system", lambda name: labels.get(str(name), str(name)), "left"), Column("format", "format", plain, "left"),
               Column("scale", "scales", plain, "left", wide=True),
               Column("bytes_per_parameter", "B/param", scaled(1), wide=True),
               Column("runs_on", "runs on", plain, "left", wrap=True), Column("mode", "mode", plain, "left", wide=True),
               Column("rate_cell", "out tok/s/chip\n80% int.", plain),
               Column("ratio_to_baseline", "x", ratio), Column("baseline_format", "vs", plain, "left", wide=True),
               Column("note", "note", plain, "left")]
    target = targets.text()
    emit(shown, columns, fmt, payload=rows, out=out,
         title=f"{the_model.name}: weights in each format, serving {isl} in / {osl} out at {target}",
         caption=flags_caption(the_model, model, [r.flag_row() for r in results])
                 + "Each system in its best configuration per format (experts in the same format; KV cache FP8 "
                 "where the chip has FP8). 'emulated on X': the chip has no unit for the format (or lists one whose "
                 "rate no source gives: 'rate unpublished'), so weights are dequantised and multiplied on X at the calibration's emulation efficiency, keeping the "
                 "memory saving. x: output tokens/s per chip over the same system in the 'vs' format, the first "
                 "of the list that fits it. 80% int.: the 80% interval of out tok/s/chip (under it; "
                 "tokens_per_s_per_chip_low/high in --format json or csv, with each row's flags and assumptions), "
                 f"as compare's: the serving band of the configuration's mode and model class, {widening_words()}. "
                 "x has none: the band is of the model's error on "
                 "a chip, which two formats on the same chip share and their ratio cancels. "
                 f"Engine profile: {profile.id}, at each chip's software-stack maturity as compare runs it. "
                 + (f"{mtp_text}" if mtp_text else ""))
