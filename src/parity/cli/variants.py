"""`--variants FILE.toml` of `compare`, `fleet` and `show`: what-if chips as a sweep spec's [[variant]] tables
write them, each in its chip's default system (sweep.Variant.system)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from parity.cli.files import read_toml
from parity.compare import held_clocks_note
from parity.errors import ParityError
from parity.hardware import System
from parity.sweep import variants_from_toml
from parity.uncertainty import what_if_changes

__all__ = ["variants_option", "variant_systems", "variant_named", "what_ifs_text"]


def variants_option(what: str) -> Callable[[Any], Any]:
    """The --variants option; `what` says what the command does with each variant's system."""
    return click.option(
        "--variants", "variants_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
        help="TOML file of what-if chips: [[variant]] tables (name, chip, scale, values) as a `parity sweep` spec "
             "writes and checks them (a whole sweep spec is taken; its [sweep] and [axes] are not read); values in "
             "SI units, scale_up_bytes_per_s and scale_out_bytes_per_s per direction (a link quoted as '900 GB/s' "
             "both ways is 450e9); each "
             f"variant runs in its chip's default system, named by the variant's name, and {what}")


def variant_systems(path: Path | None, reader: str, reads: Sequence[str] = ()) -> list[System]:
    """The systems of the variants in the file at `path`, in its order (none where `path` is None); `reader`, the
    command, reads the fields of sweep.PRICED_BY in `reads` (a change to another is refused). A refusal names the
    file ('variants.toml: variant v1: chip: unknown chip ...')."""
    if path is None:
        return []
    data = read_toml(path)
    try:
        return [v.system() for v in variants_from_toml(data, reader, reads)]
    except ParityError as err:  # named by its file, as a malformed TOML's refusal is
        raise ParityError(f"{path.name}: {err}") from err


def variant_named(systems: Sequence[System], name: str, path: Path | None) -> System | None:
    """The variant of `systems` (those of the file at `path`) named `name`, in any case as compare takes it; None
    where no file is given; a name none of them has is refused with theirs (a name shown from a variants file is
    meant to be one of its)."""
    if path is None:
        return None
    found = next((s for s in systems if s.id.lower() == name.lower()), None)
    if found is None:
        raise ParityError(f"{path.name}: no variant {name!r}; its variants: {', '.join(s.id for s in systems)} "
                          f"(a catalog chip or system: 'parity show {name}' without --variants)")
    return found


def what_ifs_text(systems: Sequence[System]) -> str:
    """What each what-if system changes, for a caption: 'h20-2x-bw: memory_bytes_per_s x2 of nvidia-h20'; one that
    changes power and no peak rate says its rates and clocks are the stock TDP's (compare.held_clocks_note)."""
    return "; ".join(f"{s.id}: {what_if_changes(s) or 'no change'}"
                     + (f", {held}" if (held := held_clocks_note(s)) else "") for s in systems)
