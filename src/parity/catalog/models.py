"""The model catalog: Hugging Face config.json files listed in data/models/index.toml, verbatim or trimmed by the
source they came from (ModelEntry.trimmed, raised as a flag on the model)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from parity import hf, units
from parity.catalog.files import close_matches, data_dir, name_key, read_toml
from parity.errors import CatalogError, ModelConfigError
from parity.flags import Flag
from parity.model import Model

__all__ = ["ModelEntry", "models", "model", "trimmed_flag", "priced_as", "stand_in_name"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelEntry:
    """One row of the model catalog (data/models/index.toml). trimmed: what the source's copy of the config left out
("" where the file is verbatim), which the model carries as a 'config trimmed: ...' flag; trimmed_priced: whether
what it left out is priced (GLM-4.7's MTP layer and FP8 weights): the flag then widens intervals as any flag does,
else it is informational (widen 1: cut to the keys its source reads, nothing priced is missing). priced_for: other
models priced as this one (Llama 3.3 70B as Llama 3.1 70B), named by id first; priced_for_basis: why that holds, in
the few words every caption gives it; priced_for_source: its evidence, with its sources."""

    id: str
    file: str
    hf: str
    aliases: tuple[str, ...] = ()
    quant: str = ""
    weight_format: str = ""
    expert_weight_format: str = ""
    notes: str = ""
    published_total: str = ""
    published_active: str = ""
    total_with_mtp: bool = False
    active_without: str = ""
    count_source: str = ""
    trimmed: str = ""
    trimmed_priced: bool = False
    priced_for: tuple[str, ...] = ()
    priced_for_basis: str = ""
    priced_for_source: str = ""

    def __post_init__(self) -> None:
        if self.priced_for and not (self.priced_for_basis and self.priced_for_source):
            raise CatalogError(f"models/index.toml: {self.id}'s priced_for needs a priced_for_basis and a "
                               "priced_for_source (why the models are priced alike, and the evidence)")

    def published(self, which: str) -> tuple[float, float] | None:
        """(count, half a unit of its last quoted digit) of the published total or active count, or None."""
        quoted = self.published_total if which == "total" else self.published_active
        if not quoted:
            return None
        number, unit = quoted[:-1], units.parse("1" + quoted[-1], "count")  # '80B': 80 x 1e9
        decimals = len(number.split(".")[1]) if "." in number else 0
        return float(number) * unit, 0.5 * 10.0 ** -decimals * unit


@cache
def models() -> tuple[ModelEntry, ...]:
    """The catalog's models, in index order."""
    index = read_toml(data_dir() / "models" / "index.toml")
    entries = []
    for row in index.get("model", []):
        try:
            entries.append(ModelEntry(**{**row, "aliases": tuple(row.get("aliases", ())),
                                         "priced_for": tuple(row.get("priced_for", ()))}))
        except TypeError as err:
            raise CatalogError(f"models/index.toml: bad entry {row.get('id', '?')!r}: {err}") from err
    return tuple(entries)


@cache
def _catalog_model(entry_id: str) -> Model:
    entry = next(e for e in models() if e.id == entry_id)
    folder = data_dir() / "models"
    quant = hf.read_config(folder / entry.quant) if entry.quant else None
    found = hf.model_from_config(hf.read_config(folder / entry.file), entry.id, quant, source=entry.hf)
    changes: dict[str, object] = {k: v for k, v in (("weight_format", entry.weight_format),
                                                    ("expert_weight_format", entry.expert_weight_format)) if v}
    if entry.trimmed:  # said wherever the model is (serve, compare, model, train); widens where it drops a priced part
        changes["flags"] = (*found.flags, trimmed_flag(entry))
    return dataclasses.replace(found, **changes) if changes else found


def trimmed_flag(entry: ModelEntry) -> Flag:
    """The 'config trimmed' flag of a catalog entry whose file a source trimmed: informational (widen 1, the interval
    not widened) where nothing priced is missing, a flag that widens as any does where the trim drops a priced part
    (ModelEntry.trimmed_priced); its text says which."""
    if entry.trimmed_priced:
        return Flag("config trimmed", f"config trimmed: {entry.trimmed}; priced as absent, so the interval widens",
                    "config trimmed")
    return Flag("config trimmed", f"config trimmed: {entry.trimmed}; informational: nothing priced is missing, the "
                "interval is not widened", "config trimmed", widen=1.0)


_PIPED: dict[str, Model] = {}  # models read from pipes, by path, in this process


def _unmistaken(found: Model) -> Model:
    """A model read from a file, renamed 'NAME (file)' where its name (its folder's or file's) is a catalog model's:
    a folder z/llama-3.1-70b holding an 8B config read as 'llama-3.1-70b' in every title and record (report-only
    tester fuzzDR 1)."""
    return dataclasses.replace(found, name=f"{found.name} (file)") if _entry_named(found.name) else found


def _entry_named(name: str) -> ModelEntry | None:
    """The catalog entry whose id, Hugging Face name or alias is `name` (as name_key matches them), else None."""
    wanted = name_key(name)
    return next((e for e in models() if wanted in {name_key(n) for n in (e.id, e.hf, *e.aliases, *e.priced_for)}),
                None)


def stand_in_name(name: str) -> str:
    """The name outputs give a model the catalog prices as another's entry (ModelEntry.priced_for: 'llama-3.3-70b'
    for 'meta-llama/Llama-3.3-70B-Instruct'), else ''."""
    entry = _entry_named(name) if name.strip() else None
    wanted = name_key(name)
    return next((entry.priced_for[0] for n in entry.priced_for if name_key(n) == wanted), "") if entry else ""


def priced_as(name: str) -> str:
    """'llama-3.3-70b (priced as llama-3.1-70b: same architecture)' where `name` names a model the catalog
    prices as another's entry (stand_in_name), else ''."""
    stand_in = stand_in_name(name)
    if not stand_in:
        return ""
    entry = _entry_named(name)
    assert entry is not None
    return f"{stand_in} (priced as {entry.id}: {entry.priced_for_basis})"


def model(name: str) -> Model:
    """A model by catalog name or Hugging Face repository name, or from a path to a config.json."""
    if not name.strip():  # not the folder '.' an empty path names
        raise CatalogError("no model name given: name one ('parity models' lists them), or a config.json")
    path = Path(name).expanduser()
    if name.endswith(".json") or path.is_dir() or path.exists():
        if path.is_dir():
            path = path / "config.json"
        if not path.exists():
            raise ModelConfigError(f"no such config file: {path}")
        if path.is_file():
            return _unmistaken(hf.read_model(path))
        # a pipe the shell opened (`--model <(cat config.json)`) can be read once: a command that asks for its
        # model twice gets the first reading
        if str(path) not in _PIPED:
            _PIPED[str(path)] = _unmistaken(hf.read_model(path))
        return _PIPED[str(path)]

    if entry := _entry_named(name):
        return _catalog_model(entry.id)
    names = [n for e in models() for n in (e.id, e.hf)]
    hints = close_matches(name, names)
    hint = f"; did you mean {', '.join(hints)}?" if hints else "; see 'parity models'"
    raise CatalogError(f"unknown model {name!r}{hint}")
