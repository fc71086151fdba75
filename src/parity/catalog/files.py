"""Where the catalog lives (the package data folder, the user's folder) and how its files are read."""

from __future__ import annotations

import difflib
import math
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from parity.errors import CatalogError

__all__ = ["data_dir", "read_toml", "require", "user_dir", "load_all", "close_matches", "name_key", "shown", "is_user",
           "catalog_files", "as_written", "number", "text", "refuse_unknown", "user_files"]


def data_dir() -> Path:
    """The folder holding the catalog (inside the installed package)."""
    return Path(str(resources.files("parity") / "data"))


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as err:
        raise CatalogError(f"{shown(path)}: malformed TOML: {err}") from err


def shown(path: Path) -> str:
    """How messages name a catalog file: parity's by its path in the data folder (calibration/generic.toml), the
    user's by its whole path, so that it reads as the user's own file and not parity's."""
    return str(path.relative_to(data_dir())) if path.is_relative_to(data_dir()) else str(path)


def is_user(path: Path) -> bool:
    """Whether a catalog file is the user's (in user_dir()), not parity's."""
    return not path.is_relative_to(data_dir())


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


def catalog_files(kind: str, user: bool = False) -> list[Path]:
    """The TOML files of one kind (calibration, engines, chips...): parity's, then with `user` the user's
    (user_dir()/KIND/*.toml); a user_dir()/KIND that is there but no folder is refused, not passed over."""
    folders = [data_dir() / kind] + ([user_dir() / kind] if user else [])
    for folder in folders[1:]:
        if folder.exists() and not folder.is_dir():
            raise CatalogError(f"{folder}: not a folder; parity reads the user's {kind} files (*.toml) from it")
    return [path for folder in folders for path in sorted(folder.glob("*.toml"))]


def load_all(kind: str, user: bool = False) -> list[tuple[dict[str, Any], str]]:
    """Each file of catalog_files as (its TOML tables, its name as messages give it: shown)."""
    return [(read_toml(path), shown(path)) for path in catalog_files(kind, user)]


def user_files() -> list[Path]:
    """The user's own files parity reads beside or in place of its own (user_dir()): calibrations, engine profiles,
    interval and ratio bands, the training profile; what `validate` must say its scores include."""
    named = [user_dir() / n for n in ("uncertainty.toml", "uncertainty_sim.toml", "ratio_uncertainty.toml",
                                      "training_ratio_uncertainty.toml", "training.toml")]
    return ([p for kind in ("calibration", "engines") for p in catalog_files(kind, user=True) if is_user(p)]
            + [p for p in named if p.is_file()])


def as_written(value: Any) -> str:
    """A file's value as TOML writes it, for a refusal: 'half' quoted, true and false in lower case, a large or small
    float in the fewest digits that give it back, with an exponent (4e12, not 4000000000000.0), lists and tables
    of them alike ([4e12], { bf16 = 1200 })."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and math.isfinite(value) and value and not 1e-4 <= abs(value) < 1e6:
        digits = next(p for p in range(1, 18) if float(f"{value:.{p - 1}e}") == value)
        mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
        return f"{mantissa}e{int(exponent)}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(as_written(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {as_written(v)}" for k, v in value.items()) + " }" if value else "{}"
    return repr(value)


def number(value: Any, where: str, key: str) -> float:
    """A value a file must give as a number (an integer or a float: not text, a boolean or a list); a CatalogError
    naming the file and key otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CatalogError(f"{where}: key {key} must be a number, got {as_written(value)}")
    return float(value)


def text(value: Any, where: str, key: str) -> str:
    """A value a file must give as text; a CatalogError naming the file and key otherwise."""
    if not isinstance(value, str):
        raise CatalogError(f"{where}: key {key} must be text, got {as_written(value)}")
    return value


def refuse_unknown(table: Mapping[str, Any], known: Iterable[str], where: str, at: str, what: str) -> None:
    """Refuse the first key of `table` not among `known` (a typo would otherwise be passed over and its value
    unused): '{where}: key 'bf61' in [gemm_efficiency] is no calibration key; did you mean 'bf16'?'."""
    names = list(known)
    for key in table:
        if key not in names:
            hints = close_matches(key, names, n=1)
            raise CatalogError(f"{where}: key {key!r} in {at} is no {what} key"
                               + (f"; did you mean {hints[0]!r}?" if hints else ""))


def name_key(name: str) -> str:
    """A name as the catalog matches it (chips, systems, models, variants): case-insensitive, '_', '-' and the spaces
    inside it alike ('H100 SXM' as h100-sxm, which was refused where h100_sxm was taken: fuzz round DO 2), surrounding
    spaces left out."""
    return re.sub(r"\s+", "-", name.strip().lower()).replace("_", "-")


def close_matches(name: str, candidates: Iterable[str], n: int = 4) -> list[str]:
    """Names that look like `name`, best first (for 'did you mean' messages): those it begins (a name short of its
    suffix: 'nvidia-b200' -> nvidia-b200-sxm, which difflib ranked below nvidia-gb200, nvidia-gb300, nvidia-l20 and
    nvidia-h20 and so left out: report-only tester fuzzCF 8), shortest first, then the closest by difflib, then those
    holding it."""
    pool = list(dict.fromkeys(candidates))
    lowered = {c.lower(): c for c in pool}
    typed = re.sub(r"\s+", "-", name.strip().lower())  # 'NVIDIA H200' as nvidia-h200, as name_key reads it
    # the shortest first: 'sglan' is sglang short of a letter before it is sglang-cann short of six (fuzz round DO 6)
    begun = sorted((c for c in pool if c.lower().startswith(typed) and c.lower() != typed), key=len)
    found = [lowered[f] for f in difflib.get_close_matches(typed, list(lowered), n=n, cutoff=0.5)]
    contains = [c for c in pool if typed in c.lower()]
    return list(dict.fromkeys(begun + found + contains))[:n]
