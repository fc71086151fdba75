"""`parity calibrate`: measure this machine's GPU (or import measurements) into a chip calibration."""

from __future__ import annotations

import dataclasses
import datetime
import json
import re
from pathlib import Path

import click
from rich.progress import Progress

from parity import catalog
from parity.calibrate import (Point, Seen, check_fit, check_plausible, fitted_fields, points_from_benchmark,
                              replayed)
from parity.calibrate.sweep import GPU_PLAN, run_sweep, torch_backend
from parity.cli import TABLE_FORMATS, cli, emit, typed_options, wide_option
from parity.cli.files import read_text, refuse_overwrite
from parity.errors import CatalogError, ParityError
from parity.fit import refit_calibration, write_refits
from parity.hardware import Chip
from parity.hf import malformed_json_text
from parity.report.tables import Column, plain, write_atomic


def _read_json(path: Path) -> dict:
    """A microbenchmark document: a JSON object whose meta, if any, is an object with a text name."""
    try:
        document = json.loads(read_text(path, "JSON"))
    except json.JSONDecodeError as err:
        raise ParityError(f"{path.name}: {malformed_json_text(err)}") from err
    except RecursionError as err:
        raise ParityError(f"{path.name}: JSON nested too deeply to be microbenchmarks") from err
    if not isinstance(document, dict):
        raise ParityError(f"{path.name}: a microbenchmark file must hold a JSON object")
    meta = document.get("meta", {})
    if not isinstance(meta, dict):
        raise ParityError(f"{path.name}: meta must be an object, got {json.dumps(meta)[:60]}")
    if not isinstance(meta.get("name", ""), str | None):
        raise ParityError(f"{path.name}: meta.name must be the GPU's name as text, got {json.dumps(meta['name'])[:60]}")
    return document


def _points(path: Path, document: dict, seen: Seen) -> list[Point]:
    """The document's points; a refusal names the file. `seen`: the sizes of the files read before, shared so that a
    row another file measured is refused as a repeat in one file is (the fit would weigh it twice)."""
    try:
        return [dataclasses.replace(p, where=f"{path.name}: {p.where}")
                for p in points_from_benchmark(document, seen, path.name)]
    except ParityError as err:
        raise ParityError(f"{path.name}: {err}") from err


# a GPU's board: a PCIe card or an NVL board runs the die at other clocks, power and memory than the SXM module
# (H100 PCIe: 756 of the SXM's 989 TFLOP/s dense BF16, 2.0 of 3.35 TB/s), so it is another chip
_BOARDS = {"pcie": "a PCIe", "nvl": "an NVL", "sxm": "an SXM"}  # the word in a name, and the board in a sentence


def _words(name: str) -> list[str]:
    """A device name's words, lower case, without the vendor, an SXM generation as 'sxm' ('NVIDIA A100-SXM4-80GB':
    a100, sxm, 80gb)."""
    words = [w for w in re.split(r"[^a-z0-9]+", name.lower()) if w and w != "nvidia"]
    return ["sxm" if re.fullmatch(r"sxm\d?", w) else w for w in words]


def _named_chip(reported: str) -> tuple[Chip | None, str]:
    """The catalog chip a GPU's reported name is ('NVIDIA H200', nvidia-smi's 'NVIDIA A100-SXM4-80GB'), and '' where
    its board is the chip's; for a name whose board the chip's is not ('NVIDIA H100 PCIe'), the closest chip and
    that board. (None, '') where no id or alias is among the name's words (joined by '-' or nothing) or the whole
    name; the longest match wins ('rtx-pro-6000d' over 'rtx-pro-6000')."""
    words = _words(reported)
    spans = {sep.join(words[i:j]): j - i for i in range(len(words)) for j in range(i + 1, len(words) + 1)
             for sep in ("-", "")}
    best, length = None, 0
    for chip in catalog.chips():
        names = {chip.id, chip.id.split("-", 1)[-1], *(a.lower() for a in chip.aliases)}
        if chip.name.lower() == reported.strip().lower():
            return chip, ""
        found = max((spans[n] for n in names if n in spans), default=0)
        if found > length:
            best, length = chip, found
    if best is None:
        return None, ""
    own = set(_words(" ".join((best.id, best.name, *best.aliases))))
    other = next((w for w in _BOARDS if w in words and w not in own), "")
    return best, other


def _chip_of(name: str | None, documents: list[dict]) -> str:
    """--chip, or the chip the measurements name; --chip naming another chip than a file records is refused, and so
    is a device the catalog does not hold (another board of a catalog chip: an H100 PCIe is no H100 SXM) unless
    --chip takes it."""
    reported = next((d.get("meta", {}).get("name") for d in documents if d.get("meta", {}).get("name")), None)
    named, board = _named_chip(reported) if reported else (None, "")
    if name:
        chip_id = catalog.chip(name).id
        if named and not board and named.id != chip_id:
            raise ParityError(f"--chip {name} is {chip_id}, but the measurements were taken on {reported!r} "
                              f"({named.id}): give --chip {named.id}, or measurements of {chip_id}")
        return chip_id
    if not reported:
        raise ParityError("the measurements do not name their GPU: give --chip")
    if named and board:
        raise ParityError(f"meta.name {reported!r} is not {named.id}, the closest catalog chip: {_BOARDS[board]} "
                          f"board has other peaks than {named.name}, and the catalog holds none; give --chip "
                          f"{named.id} to take it anyway")
    if named:
        return named.id
    raise CatalogError(f"cannot tell which catalog chip {reported!r} is: give --chip")


def _toml_path(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """--out names the calibration file, which is TOML whatever its name: any other suffix is refused."""
    if value is not None and value.suffix.lower() != ".toml":
        raise click.BadParameter(f"a calibration file is TOML: name it {value.stem or 'CHIP'}.toml, not {value.name} "
                                 "(--format picks how the summary is printed)", ctx, param)
    return value


@cli.command()
@click.option("--import", "imports", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="read measurements in parity's microbenchmark JSON format instead of measuring (repeatable)")
@click.option("--chip", default=None, help="catalog chip the measurements belong to (default: the GPU's name)")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, callback=_toml_path,
              help="calibration file to write, TOML, named .toml (default: $PARITY_HOME/calibration/CHIP.toml, "
                   "~/.parity/calibration/CHIP.toml where PARITY_HOME is unset: used by every prediction)")
@click.option("--save-raw", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="also write the raw measurements as JSON")
@click.option("--eager", is_flag=True,
              help="time each eager launch, launch cost included (default: CUDA-graph replays, as engines run)")
@click.option("--format", "fmt", type=click.Choice(TABLE_FORMATS), default="table", show_default=True,
              help="how the summary is printed: table for people, md for Markdown; json or csv (SI units) for "
                   "machines (the --out file is TOML in every format)")
@wide_option
def calibrate(imports: tuple[Path, ...], chip: str | None, out: Path | None, save_raw: Path | None, eager: bool,
              fmt: str) -> None:
    """Calibrate a chip: measure GEMMs, grouped GEMMs, attention and copies on this GPU with PyTorch (seconds to
    a minute), or --import measurements; fit the efficiencies and write a dated calibration file."""
    refuse_overwrite([("--import", p) for p in imports], [("--out", out), ("--save-raw", save_raw)])
    seen: dict[Path, Path] = {}
    for path in imports:  # one file's points fitted twice would weigh it double (two names of one file count)
        if (first := seen.setdefault(path.resolve(), path)) is not path:
            same = "" if first == path else f" (as {first})"
            raise ParityError(f"--import {path} named twice{same}: each file's measurements are fitted once")
    if imports and typed_options({"--save-raw": "save_raw"}):
        raise ParityError(f"--save-raw writes the measurements this GPU takes; with --import nothing is measured "
                          f"({imports[0].name} holds the measurements already): leave one of them out")
    if imports and typed_options({"--eager": "eager"}):
        raise ParityError(f"--eager sets how this GPU's kernels are timed; with --import nothing is measured "
                          f"({imports[0].name} says how its times were taken, in meta.timing): leave one of them out")
    if imports:
        documents = [_read_json(p) for p in imports]
        kinds = {replayed([d]): p.name for p, d in zip(imports, documents)}
        if len(kinds) > 1:  # one fit has one fixed cost a kernel: a pooled 18 us is neither timing's
            raise ParityError(f"{kinds[True]} times CUDA-graph replays and {kinds[False]} eager launches "
                              "(meta.timing): a fit has one fixed cost a kernel, so import the files of one timing at "
                              "a time")
        method = f"fit to imported microbenchmarks: {', '.join(p.name for p in imports)}"
    else:
        backend = torch_backend(graphs=not eager)
        with Progress() as progress:
            task = progress.add_task("measuring", total=GPU_PLAN.size)
            documents = [run_sweep(backend, GPU_PLAN, lambda label: progress.update(task, advance=1,
                                                                                     description=label))]
        method = "parity calibrate sweep on this GPU"
        if save_raw:
            write_atomic(save_raw, json.dumps(documents[0], indent=1))
    chip_id = _chip_of(chip, documents)
    seen: Seen = {}
    points = ([p for path, d in zip(imports, documents) for p in _points(path, d, seen)] if imports
              else points_from_benchmark(documents[0]))
    if imports:  # another's measurements: refused where no such chip could have taken them
        check_plausible(points, catalog.chip(chip_id))
    meta = {k: str(v) for d in documents for k, v in d.get("meta", {}).items() if k in ("name", "torch", "cuda",
                                                                                          "numpy", "backend", "timing")}
    date = datetime.date.today().isoformat()
    until_now = catalog.calibration(catalog.chip(chip_id))  # before it is replaced
    result = refit_calibration(chip_id, points, date, f"{method}; {len(points)} points; Nelder-Mead on log kernel "
                               "times, restarted until a restart gains nothing", meta, replays=replayed(documents))
    refit, fitted = result.refit, result.fitted
    before, after = refit.loss_before, refit.loss_after
    if imports:
        check_fit(after, catalog.chip(chip_id))
    if out is not None:
        write_atomic(out, refit.text)
        target = out
    else:
        (target,) = write_refits([refit], catalog.user_dir(), write_atomic)
    catalog.calibrations.cache_clear()
    # what the file holds as measured: not a field held at its value before, nor the launch cost replays do not time
    measured = [n for n in fitted_fields(points) if n not in result.held
                and not (n == "kernel_overhead_s" and result.replay_kernel_s is not None)]
    # (label for people, field, value until now, fitted value): JSON and CSV carry the field and SI numbers
    fields = [
        ("bf16 GEMM (of peak)", "gemm_efficiency.bf16", until_now.gemm("bf16"), fitted.gemm("bf16")),
        ("fp8 GEMM (of peak)", "gemm_efficiency.fp8", until_now.gemm("fp8"), fitted.gemm("fp8")),
        ("memory streaming (of peak)", "memory_efficiency", until_now.memory_efficiency, fitted.memory_efficiency),
        ("grouped expert GEMM streaming", "grouped_gemm_memory_efficiency",
         until_now.grouped_gemm_memory_efficiency, fitted.grouped_gemm_memory_efficiency),
        ("attention prefill math", "attention_prefill_efficiency", until_now.attention_prefill_efficiency,
         fitted.attention_prefill_efficiency),
        ("attention decode bandwidth", "attention_decode_efficiency", until_now.attention_decode_efficiency,
         fitted.attention_decode_efficiency),
        ("copy bandwidth", "stream_efficiency", until_now.stream_efficiency, fitted.stream_efficiency),
        ("kernel overhead [us]", "kernel_overhead_s", until_now.kernel_overhead_s, fitted.kernel_overhead_s)]
    machine = [{"field": field.replace(".", "_"), "before": old, "measured": new if field in measured else None}
               for _, field, old, new in fields]
    scale = {"kernel_overhead_s": 1e6}  # shown in us
    rows = [{"efficiency": label, "before": f"{old * scale.get(field, 1):.3g}",
             "measured": f"{new * scale.get(field, 1):.3g}" if field in measured else None}
            for label, field, old, new in fields]
    unmeasured = (" A dash: no point measures it, so the file keeps the value before."
                  if any(f not in fitted_fields(points) for _, f, _, _ in fields) else "")
    errors = result.bound_errors
    if result.held:
        held = ", ".join(f"{label} (error {errors[f][0]:.1%} at the bound, {errors[f][1]:.1%} held)"
                         for label, f, _, _ in fields if f in result.held)
        unmeasured += (" Held at the value before, since fitted it went to a bound and these points price as well "
                       f"held (they do not measure it): {held}.")
    if result.pinned:
        pinned = ", ".join(f"{label} (error {errors[f][0]:.1%} at the bound, {errors[f][1]:.1%} held at the value "
                           "before)" for label, f, _, _ in fields if f in result.pinned)
        unmeasured += (" At the fit's bound, kept there since these points price it better than the value before: "
                       f"{pinned}.")
    if result.replay_kernel_s is not None:
        unmeasured += (f" CUDA-graph replays cost {result.replay_kernel_s * 1e6:.3g} us a kernel as fitted, but do "
                       "not time an eager launch, which the file's kernel overhead is: it keeps the value before "
                       "(measure it with --eager).")
    kinds = {kind: sum(p.kind == kind for p in points) for kind in dict.fromkeys(p.kind for p in points)}
    by_kind = result.by_kind
    emit(machine if fmt == "csv" else rows,
         [Column("efficiency", "efficiency", plain, "left"), Column("before", "before", plain),
          Column("measured", "measured", lambda value: "-" if value is None else value)], fmt,
         title=f"{chip_id}: {len(points)} points, kernel-time error {by_kind[0]:.0%} with the prior, "
               f"{by_kind[1]:.0%} fitted",
         caption=f"before: what {chip_id} used until now ({until_now.id}). Kernel-time error: mean "
                 f"|log(predicted / measured)| of each of the {len(kinds)} kinds of kernel ({', '.join(kinds)}), "
                 f"averaged alike: what the fit minimises, from parity's generic prior. Over the points, where the "
                 f"{max(kinds.values())} {max(kinds, key=kinds.get)} points weigh most: {before:.0%} with the prior, "
                 f"{after:.0%} fitted.{unmeasured}",
         payload={"chip": chip_id, "file": str(target), "before_calibration": until_now.id, "error_before": before,
                  "error_after": after, "error_by_kind_before": by_kind[0], "error_by_kind_after": by_kind[1],
                  "efficiencies": machine, "held": [f.replace(".", "_") for f in result.held],
                  "pinned": [f.replace(".", "_") for f in result.pinned],
                  "replay_kernel_s": result.replay_kernel_s})
    click.echo(f"wrote {target}", err=True)  # on a line of its own: a path wrapped with the caption cannot be copied
