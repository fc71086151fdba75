"""Input files at the edge: read whole as UTF-8 text, or refused in one line naming the file and why."""

from __future__ import annotations

from pathlib import Path

from parity.errors import ParityError

__all__ = ["read_text"]


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
