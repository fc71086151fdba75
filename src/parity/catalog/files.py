"""Where the catalog lives (the package data folder, the user's folder) and how its files are read."""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from parity.errors import CatalogError

__all__ = ["data_dir", "read_toml", "require", "user_dir", "load_all", "close_matches"]


def data_dir() -> Path:
    """The folder holding the catalog (inside the installed package)."""
    return Path(str(resources.files("parity") / "data"))


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as err:
        raise CatalogError(f"{path.name}: malformed TOML: {err}") from err


def require(data: dict[str, Any], key: str, where: str) -> Any:
    if key not in data:
        raise CatalogError(f"{where}: missing key {key!r}")
    return data[key]


def user_dir() -> Path:
    """Where the user's own files live (calibrations written by `parity calibrate`): $PARITY_HOME,
    else ~/.parity."""
    return Path(os.environ.get("PARITY_HOME", Path.home() / ".parity")).expanduser()


def in_effect(name: str) -> Path:
    """The data file `name` (a path under the data folder) in effect: the user's refit in user_dir() where
    there is one, else parity's (which may not exist)."""
    own = user_dir() / name
    return own if own.is_file() else data_dir() / name


def load_all(kind: str, user: bool = False) -> list[tuple[dict[str, Any], str]]:
    folders = [data_dir() / kind] + ([user_dir() / kind] if user else [])
    return [(read_toml(path), f"{kind}/{path.name}") for folder in folders for path in sorted(folder.glob("*.toml"))]


def close_matches(name: str, candidates: Iterable[str], n: int = 4) -> list[str]:
    """Names that look like `name`, best first (for 'did you mean' messages)."""
    pool = list(dict.fromkeys(candidates))
    lowered = {c.lower(): c for c in pool}
    found = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.5)
    contains = [c for c in pool if name.lower() in c.lower() and c.lower() not in found]
    return [lowered[f] for f in found] + contains[: max(0, n - len(found))]
