"""Commands that show the catalog: chips, systems, show NAME, models, model NAME|PATH, engines."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import click

from parity import catalog, units
from parity.cli import cli, emit, emit_record, format_option, out_option, output_format
from parity.cli.files import model_file, refuse_overwrite
from parity.cli.labels import system_label
from parity.cli.values import TOKENS
from parity.cli.variants import variant_named, variant_systems, variants_option
from parity.dtypes import FORMATS as NUMBER_FORMATS
from parity.engine import PROFILE_SECTIONS, EngineProfile, field_origins
from parity.errors import CatalogError, ParityError
from parity.flags import texts
from parity.hardware import Calibration, Chip, Provenance, System, is_what_if
from parity.model import LightningAttention, LinearAttention, Mamba, Model, MoeMlp
from parity.report.tables import Column, plain, scaled, words
from parity.simulate import CLIENT_PROFILES, policy_parameters, scheduler_of
from parity.sweep import PRICED_BY
from parity.uncertainty import calibration_kind, chip_calibrated, context_flags


def chip_row(c: Chip) -> dict[str, object]:
    unpublished = {NUMBER_FORMATS[f].math for f in c.native_rate_unpublished}

    def rate(math: str) -> float | None:
        """The dense peak; None (JSON null, an empty CSV cell, '-' in the table), never 0, where the chip lacks the
        format or no source gives the rate of a native one (native_rate_unpublished says which)."""
        return None if math in unpublished else c.peak(math) or None
    return {"id": c.id, "name": c.name, "vendor": c.vendor, "status": c.status, "year": c.year,
            "bf16_flop_per_s": rate("bf16"), "fp8_flop_per_s": rate("fp8"), "int8_op_per_s": rate("int8"),
            "fp4_flop_per_s": rate("fp4"), "memory_bytes": c.memory_bytes,
            "memory_bytes_per_s": c.memory_bytes_per_s, "scale_up_bytes_per_s": c.scale_up_bytes_per_s,
            "tdp_w": c.tdp_w, "native": sorted(set(c.native) - set(c.native_rate_unpublished)),  # lists, as JSON's
            "native_rate_unpublished": list(c.native_rate_unpublished),
            "calibrated": chip_calibrated(c, catalog.calibration(c)),
            "kernel_figures": catalog.calibration_statement(c, catalog.calibration(c)).verdict,
            "weakest_source": min((p.source.kind for p in c.provenance if p.field not in _PRICES),
                                  key=_confidence_rank, default=""),
            "user_file": c.user_file}


_CONFIDENCE = ("datasheet", "paper", "measured", "derived", "press", "analyst-estimate", "assumption")
_PRICES = ("unit_price_usd",)  # not hardware: a street price is press at best, and would mark every chip that has one
# a figure whose source is below these kinds is marked in the systems table
_FIRM = _CONFIDENCE[:3]
FIRM_MARK = "~"


def _confidence_rank(kind: str) -> int:
    return -_CONFIDENCE.index(kind) if kind in _CONFIDENCE else -len(_CONFIDENCE)


def _kind(item: Chip | System, field: str) -> str:
    record = item.source_of(field)
    return record.source.kind if record is not None else ""


def system_row(s: System) -> dict[str, object]:
    """A system's totals, each with the source kind of the number that sets it: the chip's BF16 and capacity (the
    totals are chips x those), the system's power."""
    return {"id": s.id, "name": s.name, "status": s.status, "chip": s.chip.id, "chips": s.chips,
            "chip_label": system_label(s),
            "scale_up_domain_chips": s.scale_up_domain_chips, "scale_up_topology": s.scale_up_topology,
            "scale_up_bytes_per_s": s.scale_up_bytes_per_s, "scale_out_bytes_per_s": s.scale_out_bytes_per_s,
            "bf16_flop_per_s": s.peak("bf16"), "memory_bytes": s.memory_bytes, "power_w": s.power_w,
            "bf16_source": _kind(s.chip, "peak_flop_per_s.bf16"), "memory_source": _kind(s.chip, "memory_bytes"),
            "power_source": _kind(s, "power_w"), "user_file": s.user_file}


YOURS = " (yours)"  # after the id of a chip or system read from the user's own file, in a table for people


def _yours(rows: list[dict[str, object]], fmt: str, kind: str) -> tuple[list[dict[str, object]], str]:
    """The rows with YOURS after the id of each read from the user's file (for people; CSV and JSON have its
    user_file), and the caption's sentence saying so; '' where there is none."""
    if not any(row["user_file"] for row in rows):
        return rows, ""
    if fmt not in ("csv", "json"):
        rows = [row | {"id": f"{row['id']}{YOURS}"} if row["user_file"] else row for row in rows]
    return rows, (f" '{YOURS.strip()}' after an id: read from your file in {catalog.user_dir() / kind} (user_file "
                  "in --format csv/json; "
                  f"'parity show {kind[:-1].upper()}' names it), not parity's catalog.")


def _marked(row: dict[str, object], key: str, source_key: str, show: Callable[[object], str]) -> str:
    """The figure for people, FIRM_MARK after it where its source is not a datasheet, paper or measurement."""
    return show(row[key]) + ("" if row[source_key] in _FIRM else FIRM_MARK)


@cli.command()
@format_option
@out_option
def chips(fmt: str, out: Path | None) -> None:
    """List the chips in the catalog (dense peaks, memory, links, power)."""
    fmt = output_format(fmt, out)
    rows, yours = _yours([chip_row(c) for c in catalog.chips()], fmt, "chips")
    columns = [Column("id", "chip", plain, "left"), Column("status", "status", plain, "left", wide=True),
               Column("bf16_flop_per_s", "BF16 TFLOP/s", scaled(1e12)),
               Column("fp8_flop_per_s", "FP8 TFLOP/s", scaled(1e12), wide=True),
               Column("fp4_flop_per_s", "FP4 TFLOP/s", scaled(1e12), wide=True),
               Column("memory_bytes", "mem GB", scaled(1e9)), Column("memory_bytes_per_s", "mem TB/s", scaled(1e12)),
               Column("scale_up_bytes_per_s", "scale-up GB/s/dir", scaled(1e9), wide=True),
               Column("tdp_w", "TDP W", scaled(1)),
               Column("weakest_source", "weakest source", plain, "left", wide=True),
               Column("kernel_figures", "kernel figures", plain, "left", wide=True)]
    emit(rows, columns, fmt, title="Chips (dense peaks)", out=out,
         caption="Every number has a source: 'parity show CHIP'. Links are per direction. -: a format the chip "
                 "lacks, or a native one whose rate no source gives (native_rate_unpublished in --format csv/json). "
                 "Weakest source: the least certain source of the chip's hardware numbers (prices not counted). "
                 "Kernel figures (its GEMM rates, attention, HBM bandwidth, collectives, launch cost): fitted on the "
                 "chip's own kernel rows or microbenchmarks, partly (the rest inherited from other chips), inherited "
                 "(from chips of its family tree) or prior (what measured chips achieve); 'parity show CHIP' says "
                 "which, from which chip." + yours)


@cli.command()
@format_option
@out_option
def systems(fmt: str, out: Path | None) -> None:
    """List the systems in the catalog (nodes, racks, supernodes)."""
    fmt = output_format(fmt, out)
    rows, yours = _yours([system_row(s) for s in catalog.systems()], fmt, "systems")
    totals = {"bf16_flop_per_s": ("bf16_source", scaled(1e15)), "memory_bytes": ("memory_source", scaled(1e12)),
              "power_w": ("power_source", scaled(1e3))}
    if fmt not in ("csv", "json"):
        rows = [row | {key: _marked(row, key, source, show) for key, (source, show) in totals.items()} for row in rows]
    columns = [Column("id", "system", plain, "left"), Column("chip_label", "chips", plain, "left", wrap=True),
               Column("chip", "chip", plain, "left", wide=True),
               Column("scale_up_domain_chips", "scale-up domain", plain, wide=True),
               Column("scale_up_topology", "topology", plain, "left", wide=True),
               Column("scale_up_bytes_per_s", "scale-up GB/s/dir", scaled(1e9), wide=True),
               Column("scale_out_bytes_per_s", "scale-out GB/s/dir", scaled(1e9), wide=True),
               Column("bf16_flop_per_s", "BF16 PFLOP/s", scaled(1e15)),
               Column("memory_bytes", "mem TB", scaled(1e12)), Column("power_w", "power kW", scaled(1e3)),
               Column("status", "status", plain, "left", wide=True)]
    emit(rows, columns, fmt, title="Systems", out=out,
         caption=f"{FIRM_MARK}: set by a derived, press, estimated or assumed number (the chip's BF16 or capacity, the "
                 "system's power), not a datasheet, paper or measurement: 'parity show SYSTEM' and its chip." + yours)


def _provenance_rows(item: Chip | System, for_people: bool) -> list[dict[str, object]]:
    """One row per number; for people a quote that counts more than the stored value says so and gives the stored
    figure in the quote's unit ('4.5 PFLOP/s sparse = 2.25 dense'), so no width hides the halving."""
    return [{"field": p.field, "value": p.value, "as_quoted": _quote_for_people(p) if for_people else p.quoted,
             "source_kind": p.source.kind, "source": p.source.title, "url": p.source.url, "note": p.note}
            for p in item.provenance]


_STORED_AS = {"bidirectional": "per direction", "direction unstated": "per direction"}


def _quote_for_people(p: Provenance) -> str:
    """'4.5 PFLOP/s sparse = 2.25 dense', '896 GB/s bidirectional = 448 per direction'; the quote alone where it is
    the stored value."""
    if not p.basis:
        return p.quoted
    number = p.quoted.partition(" ")[0]
    stored = f"{units.read_number(number) / p.divisor:,.6g}"
    return f"{p.quoted} {p.basis} = {stored} {_STORED_AS.get(p.basis, 'dense')}"


def _stored_text(value: object) -> str:
    """A stored value for people: a number in six figures, a list of names as 'as quoted' writes it ('fp64, fp32'),
    not Python's tuple ("('fp64', 'fp32')")."""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (tuple, list)):
        return ", ".join(str(v) for v in value)
    return str(value)


# the totals 'parity systems' prints: (name, the chip's field, dimension, the chip's figure)
_TOTALS: tuple[tuple[str, str, str, Callable[[Chip], float]], ...] = (
    ("bf16_flop_per_s", "peak_flop_per_s.bf16", "flop_per_s", lambda c: c.peak("bf16")),
    ("memory_bytes", "memory_bytes", "bytes", lambda c: c.memory_bytes))


def _total_rows(s: System) -> list[dict[str, object]]:
    """The totals 'parity systems' prints, derived: chips x the chip's figure ('384 x 800 TFLOP/s'), with the kinds of
    the two sources behind them."""
    rows = []
    for name, field, dimension, figure in _TOTALS:
        per_chip = figure(s.chip)
        total = s.chips * per_chip
        quoted = f"{s.chips:,} x {units.format_si(per_chip, dimension, 4)} = {units.format_si(total, dimension, 4)}"
        shown = "the chip's rows above" if is_what_if(s.chip) else f"'parity show {s.chip.id}'"  # a variant's
        rows.append({"field": f"system {name}", "value": total, "as_quoted": quoted, "source_kind": "derived",
                     "source": f"chips ({_kind(s, 'chips')}) x the chip's {field} ({_kind(s.chip, field)}): {shown}",
                     "url": "", "note": "what 'parity systems' prints"})
    return rows


def _names_model(name: str) -> bool:
    """Whether `name` is a catalog model's, which `show` does not describe (a path is none: show reads no file)."""
    if name.endswith(".json") or Path(name).expanduser().exists():
        return False
    try:
        catalog.model(name)
    except ParityError:
        return False
    return True


@cli.command()
@click.argument("name")
@format_option
@out_option
@variants_option("`parity show NAME --variants FILE` shows the variant NAME: its chip's figures, each one it "
                 "changes as its assumption, then its system's (prefixed 'system ')")
def show(name: str, fmt: str, out: Path | None, variants_path: Path | None) -> None:
    """Every number of one chip or system with its source (a what-if's of a --variants file too)."""
    refuse_overwrite([("--variants", variants_path)], [("--out", out)])
    variant = variant_named(variant_systems(variants_path, "parity show", tuple(PRICED_BY)), name, variants_path)
    item = variant or _catalog_item(name)
    fmt = output_format(fmt, out)
    rows = _provenance_rows(item, fmt not in ("csv", "json"))
    if variant is not None:  # the what-if's changes are its chip's (its power and links its system's too)
        rows = _provenance_rows(variant.chip, fmt not in ("csv", "json")) + [
            {**row, "field": f"system {row['field']}"} for row in rows] + _total_rows(variant)
    elif isinstance(item, System):
        rows = [{"field": "chip", "value": item.chip.id, "as_quoted": item.chip.id, "source_kind": "",
                 "source": "see 'parity show " + item.chip.id + "'", "url": "", "note": ""}] + rows + _total_rows(item)
    the_chip = item.chip if isinstance(item, System) else item
    cal = catalog.calibration(the_chip)
    stated = {"family": the_chip.family or "-", "software stack": the_chip.software_stack or "-",
              # a basis that opens with the id already names it ('derived-prior-npu: the kunlun-xpu family ...')
              "calibration": cal.basis if cal.basis.startswith(f"{cal.id}:") else f"{cal.id}: {cal.basis}",
              "calibrated": _calibrated_text(the_chip, cal)}
    lines = [{"field": key, "value": value, "as_quoted": value, "source_kind": "", "source": source, "url": "",
              "note": ""} for (key, value), source in zip(stated.items(), _stated_sources(item, the_chip, cal))]
    # a chip or system of the user's own file (PARITY_HOME/chips, /systems): its numbers are the file's, not parity's
    files = {"file": item.user_file, "chip file": the_chip.user_file if the_chip is not item else ""}
    lines = [{"field": key, "value": f, "as_quoted": f, "source_kind": "", "source": "your file, not parity's "
              "catalog", "url": "", "note": ""} for key, f in files.items() if f] + lines
    columns = [Column("field", "field", plain, "left"), Column("as_quoted", "as quoted", plain, "left"),
               Column("value", "stored (SI)", _stored_text, "left", wrap=True, wide=2),
               Column("source_kind", "kind", plain, "left", wide=1), Column("source", "source", plain, "left"),
               Column("note", "note", plain, "left", wide=3)]
    payload = {"id": item.id, "name": item.name, "status": item.status, "notes": item.notes,
               "user_file": item.user_file,
               "family": the_chip.family, "software_stack": the_chip.software_stack,
               "calibration": {"id": cal.id, "basis": cal.basis, "measured": cal.measured, "rows": list(cal.rows),
                               "date": cal.date, "user_file": cal.user_file},
               "calibrated": chip_calibrated(the_chip, cal) and not is_what_if(the_chip),
               "kernel_figures": _figures_payload(the_chip, cal), "numbers": rows}
    emit(lines + rows, columns, fmt, title=f"{item.name} ({item.id}, {item.status})", caption=item.notes,
         payload=payload, out=out)


def _stated_sources(item: Chip | System, the_chip: Chip, cal: Calibration) -> list[str]:
    """Where show's family, software stack, calibration and calibrated rows come from: the family and the stack are
    the chip file's keys (its family defined in families.toml); the calibration is a file of data/calibration, or the
    user's own (PARITY_HOME, named by its path), the chip's own or reached through the chip file's calibration key
    where it names the lender, else through its family where it has one. A chip of no family with a stack of its own
    read 'families.toml; data/calibration' on all four (report-only tester fuzzER 3)."""
    chip_file = (("your chip file" if isinstance(item, System) else "your file") if the_chip.user_file
                 else f"chips/{the_chip.id}.toml")
    reached = ([] if cal.chip == the_chip.id else [f"{chip_file} (calibration key)"] if the_chip.calibration_chip
               else ["families.toml"] if the_chip.family else [])
    calibration_source = "; ".join([*reached, cal.user_file or "data/calibration"])
    return [f"{chip_file}; families.toml" if the_chip.family else chip_file, chip_file, calibration_source,
            calibration_source]


def _figures_payload(chip: Chip, cal: Calibration) -> dict[str, object]:
    """The chip's kernel figures as `show --format json` gives them: the verdict (fitted, partly, inherited, prior)
    and each figure's source (catalog.calibration_statement)."""
    statement = catalog.calibration_statement(chip, cal)
    return {"verdict": statement.verdict, "text": statement.text,
            "figures": [{"figure": f.figure, "how": f.how, "calibration": f.calibration, "chips": list(f.chips),
                         "rows": list(f.rows), "points": f.points, "moved": f.moved,
                         "dropped": list(f.dropped)} for f in statement.figures]}


def _catalog_item(name: str) -> Chip | System:
    """The catalog system or chip `name` names; a refusal says where a model's or a what-if's figures are shown."""
    systems = catalog.systems()  # a broken file of them refused here, not taken for an unknown name
    try:
        return catalog.resolve(name, systems, "system")
    except CatalogError:
        try:
            return catalog.chip(name)
        except CatalogError:
            if _names_model(name):
                raise CatalogError(f"unknown system or chip {name!r} (a model: 'parity model {name}')") from None
            try:
                catalog.system(name)  # refuses it, suggesting the closest systems and chips alike
            except CatalogError as err:  # a caption's 'parity show CHIP' may name a what-if (report-only fuzzED 2)
                raise CatalogError(f"{err} (a what-if's figures are its file's: 'parity show {name} --variants "
                                   "FILE')") from None
            raise


def _calibrated_text(chip: Chip, cal: Calibration) -> str:
    """Whether predictions on `chip` rest on a measurement of it (uncertainty.chip_calibrated, the `calibrated` of
    `chips` and `compare`, by its uncertainty.calibration_kind), and which of its kernel figures its calibration
    fitted on it and which it inherits (catalog.calibration_statement): 'yes: fitted on it (...): ...', 'partly:
    fitted on it (...): GEMM bf16/fp8/fp4; inherited from amd-mi300x (...): HBM bandwidth, collectives; ...', 'yes:
    parity's serving measurements on it fitted the engine profiles; its kernel figures inherited: from
    nvidia-h200-sxm (...): ...', or 'no: ...' (compare's note then says 'uncalibrated')."""
    if is_what_if(chip):
        whose = "your chip" if chip.user_file else "the catalog chip"
        return f"no: a what-if, priced with the calibration of {whose} {chip.id} (nothing measured it)"
    statement = catalog.calibration_statement(chip, cal)
    figures = statement.text.split(": ", 1)[1] if statement.verdict != "prior" else ""
    kind = calibration_kind(chip, cal)  # which half of chip_calibrated's rule holds, if either
    if kind == "kernels":
        return ("yes: " if statement.verdict == "fitted" else "partly: ") + figures
    if kind == "serving":
        return ("yes: parity's serving measurements on it fitted the engine profiles; its kernel figures "
                + (f"{statement.verdict}: {figures}" if figures else "are the prior's"))
    if kind == "partly":
        return (f"no: its calibration measures neither {' nor '.join(cal.unmeasured_core)} on it ('partly calibrated' "
                f"in compare's note); its kernel figures {statement.verdict}: {figures}")
    return ("no: nothing measured on it fits its predictions ('uncalibrated' in compare's note)"
            + (f"; its kernel figures inherited: {figures}" if figures else ""))


@cli.command()
@format_option
@out_option
def models(fmt: str, out: Path | None) -> None:
    """List the models in the catalog (Hugging Face configs: verbatim, or as a source trimmed them, which the flags
    column says: 'config trimmed: ...')."""
    rows = []
    for entry in catalog.models():
        m = catalog.model(entry.id)
        # the checkpoint's formats under `model`'s keys; the table joins them ('bf16/bf16') for people
        rows.append({"id": entry.id, "hf": entry.hf, "parameters": m.parameters,
                     "active_parameters": m.active_parameters,
                     "active_parameters_without_embeddings": m.active_parameters_without_embeddings,
                     "layers": m.num_layers, "features": feature_words(m),
                     "checkpoint_weights": m.weight_format, "checkpoint_expert_weights": m.expert_weight_format,
                     "flags": texts(m.flags), "priced_for": list(entry.priced_for),
                     "priced_for_basis": entry.priced_for_basis, "priced_for_source": entry.priced_for_source})
    columns = [Column("id", "model", plain, "left"), Column("hf", "Hugging Face", plain, "left", wide=True),
               Column("parameters", "params B", scaled(1e9)), Column("active_parameters", "active B", scaled(1e9)),
               Column("layers", "layers", plain), Column("features", "features", words, "left"),
               Column("checkpoint_text", "checkpoint dense/experts", plain, "left", wide=True),
               Column("flags", "flags", plain, "left", wide=True)]
    machine = output_format(fmt, out) in ("json", "csv")
    emit(rows if machine else [r | {"checkpoint_text": f"{r['checkpoint_weights']}/{r['checkpoint_expert_weights']}"}
                               for r in rows], columns, fmt, title="Models", out=out,
         caption=" ".join((_ACTIVE_WORDS + ".", *_priced_for_words())))


def _priced_for_words() -> list[str]:
    """'Also priced: llama-3.3-70b (meta-llama/Llama-3.3-70B-Instruct) as llama-3.1-70b: same architecture.' per
    entry that prices other models (ModelEntry.priced_for), which --model takes by those names."""
    return [f"Also priced: {e.priced_for[0]}" + (f" ({', '.join(e.priced_for[1:])})" if e.priced_for[1:] else "")
            + f" as {e.id}: {e.priced_for_basis} (the evidence: priced_for_source in --format json)."
            for e in catalog.models() if e.priced_for]


# what the active count includes, said wherever it is printed: model cards differ (gpt-oss-120b's 5.13 B leaves out
# the embedding; Qwen3-Next's 3 B both the embedding and the head)
_ACTIVE_WORDS = ("active B: the weights one token uses, embedding table and LM head included (JSON's "
                 "active_parameters_without_embeddings leaves both out)")


def feature_words(m: Model) -> list[str]:
    """What a model is built of, one rule for `model` and `models` (their text and JSON): 'dense' where it holds no
    routed experts, how its softmax attention shares K/V heads (GQA, MHA, MQA: Model.kv_sharing; not said of MLA,
    whose one latent all heads share), then the features the engine branches on (Model.features)."""
    sharing = [m.kv_sharing] if m.kv_sharing and "mla" not in m.features else []
    return [*([] if "moe" in m.features else ["dense"]), *sharing, *sorted(m.features)]


def layer_kind_rows(m: Model, context: float) -> list[dict[str, object]]:
    """One row per layer kind of a model: layers, parameters, FLOPs per token at `context`, KV bytes per token
    (bf16, averaged over the context for windowed layers) and fixed state bytes per sequence."""
    kinds: dict[str, dict[str, float]] = {}
    h = m.hidden_size
    for layer in m.layers:
        row = kinds.setdefault(layer.kind or "-", {"layers": 0, "parameters": 0, "flops_per_token": 0.0,
                                                   "kv_bytes_per_token": 0.0, "state_bytes_per_sequence": 0.0})
        mixer = layer.attention.score_flops_per_token(context) if layer.attention is not None else 0.0
        matmul = sum(2.0 * x.rows * x.cols * (layer.mlp.experts_per_token if x.expert and isinstance(layer.mlp, MoeMlp)
                                              else x.copies) for x in layer.matrices(h))
        row["layers"] += layer.count
        row["parameters"] += layer.count * layer.parameters(h)
        row["flops_per_token"] += layer.count * (matmul + float(mixer))
        row["kv_bytes_per_token"] += layer.count * layer.kv_bytes_per_token(NUMBER_FORMATS["bf16"], context)
        row["state_bytes_per_sequence"] += layer.count * layer.state_bytes_per_sequence()
    return [{"kind": kind, **row} for kind, row in kinds.items()]


def bytes_formats_text(m: Model) -> str:
    """What the layer-kind table's bytes are in: the KV cache in bf16, the recurrent state in its own format where it
    is another ('KV in bf16, state in fp32, its conv window in 16-bit': the window is 16-bit whatever the state's
    format, LinearAttention.state_bytes_per_sequence); 'KV and state in bf16' where they share it."""
    recurrent = [layer.attention for layer in m.layers
                 if isinstance(layer.attention, (LinearAttention, LightningAttention, Mamba))]
    formats = sorted({mixer.state_format for mixer in recurrent})  # config.json's mamba_ssm_dtype (Qwen3.5: fp32)
    if formats in ([], ["bf16"]):
        return "KV and state in bf16"
    conv = any(isinstance(mixer, (LinearAttention, Mamba)) for mixer in recurrent)
    return f"KV in bf16, state in {' and '.join(formats)}" + (", its conv window in 16-bit" if conv else "")


@cli.command()
@click.argument("name")
@click.option("--context", default=4096, show_default=True, type=TOKENS,
              help="context length [tokens] for attention FLOPs and sliding-window KV")
@format_option
@out_option
def model(name: str, context: int, fmt: str, out: Path | None) -> None:
    """Parameters, KV-cache bytes per token and FLOPs per token of a model (catalog name or config.json)."""
    refuse_overwrite([("NAME", model_file(name))], [("--out", out)])
    m = catalog.model(name)
    raised = [*m.flags, *context_flags(m, context)]  # --context past the window, as serve flags a request past it
    kv = {f: m.kv_cache_bytes_per_token(NUMBER_FORMATS[f], float(context)) for f in ("bf16", "fp8", "int8", "nvfp4")}
    payload = {"name": m.name, "architecture": m.architecture, "features": feature_words(m),
               "parameters": m.parameters, "active_parameters": m.active_parameters,
               "active_parameters_without_embeddings": m.active_parameters_without_embeddings,
               "mtp_parameters": m.mtp_parameters, "expert_parameters": m.expert_parameters,
               "layers": m.num_layers, "hidden_size": m.hidden_size, "vocab_size": m.vocab_size,
               "context_window_tokens": m.context_window, "context_window_basis": m.context_window_basis,
               "checkpoint_weights": m.weight_format, "checkpoint_expert_weights": m.expert_weight_format,
               "unquantized_matrices": sorted(m.unquantized_matrices),
               "unquantized_parameters": m.unquantized_parameters,
               "context_tokens": context, "kv_cache_bytes_per_token": kv,
               "flops_per_token": m.flops_per_token(float(context)),
               "matmul_flops_per_token": m.matmul_flops_per_token()}
    rows = [{"quantity": "parameters (main model)", "value": f"{m.parameters:,}"},
            {"quantity": "active parameters per token (embedding and head included)",
             "value": f"{m.active_parameters:,}"},
            {"quantity": "active parameters less embedding and head",
             "value": f"{m.active_parameters_without_embeddings:,}"},
            {"quantity": "MTP module parameters (apart)", "value": f"{m.mtp_parameters:,}"},
            {"quantity": "layers", "value": str(m.num_layers)},
            {"quantity": f"context window [tokens] ({m.context_window_basis})",
             "value": f"{m.context_window:,}" if m.context_window else "not stated"},
            {"quantity": "features", "value": ", ".join(feature_words(m))},
            {"quantity": "checkpoint formats (dense / experts)", "value": f"{m.weight_format} / {m.expert_weight_format}"},
            {"quantity": "left in bf16 (skip list)", "value": f"{', '.join(sorted(m.unquantized_matrices))} "
             f"({m.unquantized_parameters / 1e9:.3g} B params)" if m.unquantized_matrices else "none"}]
    # a sliding window's KV is averaged over the context, so the rows name it, as the FLOPs row does
    rows += [{"quantity": f"KV cache per token at context {context}, {f} [kB]", "value": f"{v / 1e3:,.1f}"}
             for f, v in kv.items()]
    rows += [{"quantity": f"FLOPs per token at context {context} [GFLOP]",
              "value": f"{m.flops_per_token(float(context)) / 1e9:,.2f}"},
             {"quantity": "of which weight matmuls [GFLOP]", "value": f"{m.matmul_flops_per_token() / 1e9:,.2f}"}]
    rows += [{"quantity": "vision tower parameters (apart, estimated)", "value": f"{m.vision_parameters:,}"},
             {"quantity": "fixed state per sequence [MB]", "value": f"{m.state_bytes_per_sequence / 1e6:,.2f}"},
             # listed under the table: a right-aligned value column folds a flag's sentence to a word a line
             {"quantity": "flags", "value": f"{len(raised)}, listed below" if raised else "none"}]
    kinds = layer_kind_rows(m, float(context))
    payload |= {"vision_parameters": m.vision_parameters, "state_bytes_per_sequence": m.state_bytes_per_sequence,
                "flags": texts(raised), "layer_kinds": kinds}
    # a kind ("attention chunked 8192 + moe") wraps at its spaces, so the six columns fit 80; under the record in
    # every text (the terminal, Markdown, a .txt or .md file), as JSON and CSV carry it in layer_kinds
    kind_columns = [Column("kind", "layer kind", plain, "left", wrap=True), Column("layers", "layers", plain),
                    Column("parameters", "params B", scaled(1e9)),
                    Column("flops_per_token", "GFLOP/token", scaled(1e9)),
                    Column("kv_bytes_per_token", "KV B/token", lambda v: f"{v:,.0f}"),
                    Column("state_bytes_per_sequence", "state MB/seq", scaled(1e6))]
    emit_record(rows, fmt, title=m.name, payload=payload, out=out, listed=texts(raised),
                tables=[(kinds, kind_columns, f"{m.name}: layer kinds at context {context} ({bytes_formats_text(m)})")])


# the unit a time field of an engine profile is shown in: (factor, name); every other field shows as it is
_ENGINE_TIMES = {"kernel_overhead_s": (1e-6, "us"), "collective_latency_s": (1e-6, "us"),
                 "sim_prefill_launch_s": (1e-6, "us"), "sim_prefill_host_launch_s": (1e-6, "us"),
                 "decode_host_token_s": (1e-6, "us")}


def _parameter_records(found: list[EngineProfile], obtained: Callable[[EngineProfile, str], str]
                       ) -> list[dict[str, object]]:
    """Each profile's parameters for machines: engine, section, parameter (its file key), value in SI units, unit
    ("s" for times, "" for counts, fractions and switches) and how the value was obtained ("260 rows": fitted on
    that many calibration rows; "assumed"; a stack profile's "sglang's" or "stack prior": `_origin_words`)."""
    return [{"engine": e.id, "section": section.name, "parameter": field, "value": getattr(e, field),
             "unit": "s" if field.endswith("_s") else "", "obtained": obtained(e, field)}
            for e in found for section in PROFILE_SECTIONS for field in section.fields]


def _origin_words(profile: EngineProfile) -> dict[str, str]:
    """How a stack profile (sglang-cann, refitted from sglang) came by each value it did not fit (engine.field_origins):
    "sglang's" (its base's, as fitted on CUDA) or "stack prior" (its base's carried to the stack: kernel scales at
    the vendor libraries' 1); empty for a profile that is no stack profile."""
    if not profile.base:
        return {}
    words = {"base": f"{profile.base}'s", "prior": "stack prior"}
    return {field: words[origin] for field, origin in field_origins(profile, catalog.engine(profile.base)).items()
            if origin in words}


def _section_rows(found: list[EngineProfile], origins: dict[str, dict[str, str]]) -> list[dict[str, object]]:
    """Each profile by the sections of its file (engine.PROFILE_SECTIONS): a row naming the section, then a row per
    parameter under its file key, times with their unit (us, else ms), a column per engine; a stack profile's value
    it did not fit is marked as its base's or the stack prior's ('0.1 (sglang's)': `origins`, _origin_words by
    profile id)."""
    rows: list[dict[str, object]] = []
    for section in PROFILE_SECTIONS:
        rows.append({"parameter": f"[{section.name}]", **{e.id: "" for e in found}})
        for field in section.fields:
            factor, unit = _ENGINE_TIMES.get(field, (1e-3, "ms") if field.endswith("_s") else (1.0, ""))
            label = f"  {field.removesuffix('_s')}" + (f" [{unit}]" if unit else "")
            rows.append({"parameter": label, **{
                e.id: _engine_value(getattr(e, field), factor)
                + (f" ({origins[e.id][field]})" if field in origins[e.id] else "") for e in found}})
    return rows


def _engine_value(value: object, factor: float) -> str:
    """A profile parameter for people: yes/no, a time in its unit, 3 significant figures, '-' for none."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return scaled(factor)(value) if isinstance(value, (int, float)) or value is None else str(value)


def _policy_value(value: object) -> str:
    """A policy parameter for people: yes/no, 4 significant digits, '-' where the engine lacks the policy."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return str(value)


def _scheduler_rows(found: list[EngineProfile]) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """The simulator's view of each profile: its named scheduler policies and their parameters (table rows,
    one per policy parameter, a column per engine), and the same with sources per engine (payload). The KV
    pool is sized per deployment; attention-DP balancing is read as with attention DP, the rest without."""
    rows: dict[tuple[str, str], dict[str, object]] = {}
    payload = []
    for e in found:
        alone = {(p, n): v for p, n, v, _ in policy_parameters(scheduler_of(e, kv_capacity_tokens=1.0))}
        params = [(p, n, v if p == "AttentionDpBalance" else alone.get((p, n), v), s)
                  for p, n, v, s in policy_parameters(scheduler_of(e, kv_capacity_tokens=1.0, attn_dp=2))]
        for policy, name, value, source in params:
            shown = "per run" if policy == "Mtp" or name == "capacity_tokens" else value
            rows.setdefault((policy, name), {"policy": policy, "parameter": name})[e.id] = shown
        payload.append({"id": e.id, "policies": [{"policy": p, "parameter": n, "source": s,
                                                  "value": None if p == "Mtp" or n == "capacity_tokens" else v}
                                                 for p, n, v, s in params]})
    longest = max((d["policies"] for d in payload), key=len)
    order = {(p["policy"], p["parameter"]): i for i, p in enumerate(longest)}
    return sorted(rows.values(), key=lambda r: order.get((r["policy"], r["parameter"]), len(order))), payload


def _client_rows() -> list[dict[str, object]]:
    """The simulator's benchmark clients: each profile's settings, its front end's per-request times and the
    sources of both (simulate.CLIENT_PROFILES)."""
    return [{"client": p.id, "sends": p.describe(),
             "front_end_s": ", ".join(f"{e} {s * 1e3:g} ms" for e, s in p.front_end.ttft_overhead_s)
             + "".join(f", {e} with {f} +{s * 1e3:g} ms" for e, f, s in p.front_end.feature_overhead_s)
             if p.front_end else "",
             "source": "; ".join(filter(None, (p.source, f"front end {p.front_end.id}: {p.front_end.source}"
                                               if p.front_end else "",
                                               f"deploys: {p.deploys.source}" if p.deploys else "")))}
            for p in CLIENT_PROFILES.values()]


# which stacks have profiles, and what a stack profile's marked values are, for the engines table's caption
_STACKS_SAID = ("Profiles exist for TensorRT-LLM, vLLM and SGLang on CUDA, vLLM and SGLang on ROCm (vllm-rocm, "
                "sglang-rocm) and SGLang on CANN (sglang-cann), and the generic prior; MindIE and vLLM-Ascend have "
                "none, so on CANN generic and sglang-cann apply (any other profile runs there with its host side as "
                "fitted on CUDA and sglang-cann's kernel scales, and is flagged). A stack profile refits a few values "
                "of its CUDA base on that stack's runs ('fitted on': how many, on how many rows); a value marked "
                "(sglang's) or (vllm's) is its base's as fitted on CUDA, (stack prior) its base's carried to the "
                "stack (kernel scales at the vendor libraries' 1).")


def _unfitted_said(found: list[EngineProfile]) -> str:
    """What each stack profile among `found` whose rows fitted none of its values (catalog.fitted_any) is to a
    prediction: passed over for the stack's measured maturity, flagged (catalog.engine_for)."""
    said = []
    for p in (p for p in found if not catalog.fitted_any(p)):
        carried = catalog.engine_on(catalog.engine(p.base), p.stack)
        said.append(f" {catalog.fit_text(p)}: --engine {p.base} on {p.stack} runs as {p.base} at "
                    f"{catalog.maturity_brief(carried, p.stack) or 'the stack prior'} instead, flagged 'engine "
                    f"profile {p.id} not fitted to measurements'; --engine {p.id} named runs as --engine {p.base}.")
    return "".join(said)


@cli.command()
@click.argument("name", required=False)
@click.option("--scheduler", is_flag=True, help="the simulator's view: each engine's named scheduler policies "
                                               "and their parameters (sources in --format json)")
@click.option("--clients", is_flag=True, help="the simulator's benchmark clients (--client of serve): what each "
                                             "sends, its front end, and the sources of both")
@format_option
@out_option
def engines(name: str | None, scheduler: bool, clients: bool, fmt: str, out: Path | None) -> None:
    """The serving-engine profiles (TensorRT-LLM, vLLM, SGLang, generic), or the one NAME names: every parameter
    a serving prediction rests on, by the sections of the profile's file, and how it was obtained (fitted on
    which rows, or assumed)."""
    if clients:
        if name or scheduler:
            raise ParityError("--clients lists every benchmark client; give it alone (no NAME, no --scheduler)")
        emit(_client_rows(), [Column("client", "client", plain, "left"),
                              Column("sends", "sends", plain, "left", wrap=True),
                              Column("front_end_s", "front end", plain, "left", wrap=True),
                              Column("source", "source", plain, "left", wide=True, wrap=True)], fmt,
             title="Benchmark clients the simulator runs (serve --client)", out=out,
             caption="A run's client: the row's benchmark (InferenceX where its lengths are drawn from a range, "
                     "aiconfigurator otherwise) or --client. Sources: --wide, or --format json/md.")
        return
    found = [catalog.engine(name)] if name else list(catalog.engines())
    if scheduler:
        rows_, payload_ = _scheduler_rows(found)
        columns = [Column("policy", "policy", plain, "left"), Column("parameter", "parameter", plain, "left")] + [
            Column(e.id, e.id, _policy_value, wide=bool(e.base)) for e in found]
        emit(rows_, columns, fmt, title="Scheduler policies the simulator runs, per engine", payload=payload_,
             out=out, caption="Read from each profile by parity.simulate.scheduler_of; SGLang's step budget "
                              "follows the GPU's memory (16,384 tokens here, 8,192 on 80-141 GB GPUs); '-': the "
                              "engine has no such policy; 'per run': set by each deployment (its KV cache, its "
                              "MTP). Sources per policy: --format json.")
        return

    def fitted_on(e: EngineProfile) -> str:
        rows_ = re.search(r" on (\d+) calibration rows", e.method)
        if e.measured and e.base and " not refitted: " in e.method:  # a stack with too few rows keeps its base's
            return f"{e.base}'s"
        said = f"{rows_.group(1)} rows" if e.measured and rows_ else ("fitted" if e.measured else "assumed")
        if e.base and rows_:  # a stack profile fits a few of its values; the rest are its base's (_origin_words)
            said = f"{sum(o == 'fitted' for o in field_origins(e, catalog.engine(e.base)).values())} values on {said}"
        return said + (" (user file)" if catalog.engine_user_file(e) else "")

    # how each profile, and each value a stack profile did not fit, was obtained: worked out once a profile
    origins = {e.id: _origin_words(e) for e in found}
    fitted = {e.id: fitted_on(e) for e in found}

    def obtained(e: EngineProfile, field: str) -> str:
        return origins[e.id].get(field) or fitted[e.id]

    own = {e.id: (str(path), e.date) for e in found if (path := catalog.engine_user_file(e))}

    # what a profile says of itself, under the JSON's keys (its id is the CSV's engine column)
    described = {e.id: {"name": e.name, "measured": e.measured, "method": e.method, "source": e.source,
                        "date": e.date, "user_file": own.get(e.id, ("",))[0], "assumptions": e.assumptions,
                        "stack": e.stack, "base": e.base} for e in found}
    payload = [{"id": e.id, **described[e.id], "rows": list(e.rows),
                **{f: getattr(e, f) for s in PROFILE_SECTIONS for f in s.fields},
                "sections": {s.name: {f: getattr(e, f) for f in s.fields} for s in PROFILE_SECTIONS},
                "parameters": _parameter_records([e], obtained)} for e in found]
    if output_format(fmt, out) == "csv":
        # one record per engine and parameter, in SI units, and after them the engine's own fields (all but its
        # calibration rows, a long list that JSON alone gives)
        emit([r | described[str(r["engine"])] for r in _parameter_records(found, obtained)], [], fmt, payload=payload,
             out=out)
        return
    rows: list[dict[str, object]] = [{"parameter": "fitted on", **fitted}]
    rows += _section_rows(found, origins)
    # stack profiles (vllm-rocm ...) show where the terminal has room, or with --wide; one named engine always
    columns = [Column("parameter", "parameter", plain, "left")] + [
        Column(e.id, e.id, plain, wide=bool(e.base) and len(found) > 1) for e in found]
    title = f"{found[0].name}, by section" if name else "Serving-engine profiles, by the sections of their files"
    emit(rows, columns, fmt, title=title, payload=payload,
         out=out, caption="Fitted profiles: Nelder-Mead on the calibration rows of parity's serving measurements only "
                          "(parity validate --model-kind steady --fit); the generic profile is an assumption for "
                          "engines never measured. [steady] is read by the steady-state model alone, [simulator] by "
                          "the simulator alone, [disagg_sizing] by the steady model, whose worker counts the "
                          "simulator runs; the other sections by both ([scheduler.X]: the simulator's policy X). "
                          "Methods and assumptions (with their sources) in full: --format json. "
                          + _STACKS_SAID + _unfitted_said(found)
                          + "".join(f" {i}: the user file {path} (dated {date}), not parity's."
                                    for i, (path, date) in own.items()))
