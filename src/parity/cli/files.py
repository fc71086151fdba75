"""Files at the edge: inputs read whole as UTF-8 text, and outputs refused where they would overwrite an input or
each other or have no folder to go in, each refusal one line naming the file and why."""

from __future__ import annotations

import os
import tempfile
import tomllib
from collections.abc import Iterable
from pathlib import Path

from parity.errors import ParityError

__all__ = ["read_text", "read_toml", "refuse_overwrite", "check_output_path", "model_file"]


def read_text(path: Path, what: str = "text") -> str:
    """The file's text (UTF-8, a byte-order mark dropped); ParityError when it cannot be read, is not
    UTF-8, or holds NUL bytes (a binary file). `what` names the expected content in the message."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ParityError(f"cannot read {path}: {err.strerror or err}") from err
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ParityError(f"{path.name}: not UTF-8 text (byte {err.start:,} is 0x{data[err.start]:02x}); save it "
                          f"as {what} in UTF-8") from err
    if "\0" in text:
        raise ParityError(f"{path.name}: holds NUL bytes, so it is not {what}")
    return text


def read_toml(path: Path) -> dict:
    """The parsed TOML document in the file (read_text's refusals, and malformed TOML in one line)."""
    try:
        return tomllib.loads(read_text(path, "TOML"))
    except tomllib.TOMLDecodeError as err:
        raise ParityError(f"{path.name}: malformed TOML: {err}") from err


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file: the same absolute path once links are followed, or (when both exist)
    the same file by device and inode, as a hard link or a bind mount makes it."""
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist yet: then they are not one file
        return False


def model_file(name: str | None) -> Path | None:
    """The config.json a --model value reads when it names a file or a folder (catalog.model's rule), else None."""
    if not name:
        return None
    path = Path(name).expanduser()
    if path.is_dir():
        return path / "config.json"
    return path if name.endswith(".json") or path.exists() else None


def refuse_overwrite(inputs: Iterable[tuple[str, Path | None]], outputs: Iterable[tuple[str, Path | None]]) -> None:
    """Refuse, before anything is read or written, an output that is the same file as an input (writing it would
    replace what was read) or as another output (one would overwrite the other). Each pair is an option's name as
    typed (`--out`, `CASES`) and its path, one pair per use of an option given many times; a None path is an option
    not given. Each output's folder is checked too (check_output_path)."""
    given_in = [(name, path) for name, path in inputs if path is not None]
    given_out = [(name, path) for name, path in outputs if path is not None]
    for out_name, out in given_out:
        check_output_path(out_name, out)
    for out_name, out in given_out:
        for in_name, source in given_in:
            if _same_file(out, source):
                raise ParityError(f"{out_name} {out} is the same file as {in_name} {source}: writing it would "
                                  f"overwrite the input; name another file")
    for i, (first_name, first) in enumerate(given_out):
        for second_name, second in given_out[i + 1:]:
            if _same_file(first, second):
                raise ParityError(f"{first_name} {first} and {second_name} {second} name the same file: one output "
                                  f"would overwrite the other; name two files")


def check_output_path(option: str, path: Path | None) -> None:
    """Refuse, before any work, an output file (`option` as typed, e.g. --out, and its path; None: not given) that
    has no folder to go in: its folder does not exist (it is not created), or a file stands where the folder
    should be; or whose folder takes no new file (read-only, /proc), found by creating and removing an empty one, so
    that an hour's sweep is not lost at its end. The write itself still reports what only writing finds (a full
    disk)."""
    if path is None:
        return
    folder = path.parent
    if folder.is_dir():
        try:
            fd, probe = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".probe")
        except OSError as err:
            raise ParityError(f"{option} {path}: cannot write in {folder} ({err.strerror or err})") from err
        os.close(fd)
        os.unlink(probe)
        return
    blocker = next((p for p in folder.parents if p.exists()), None) if not folder.exists() else folder
    if blocker is not None and not blocker.is_dir():
        raise ParityError(f"{option} {path}: {blocker} is a file, not a folder")
    raise ParityError(f"{option} {path}: no folder {folder}; create it first")
