"""Published draft-token acceptance of models' own multi-token-prediction modules (data/speculation.toml)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from parity.catalog.files import data_dir, read_toml, require
from parity.errors import CatalogError

__all__ = ["MtpAcceptance", "mtp_acceptance"]


@dataclass(frozen=True, slots=True, kw_only=True)
class MtpAcceptance:
    """Share of a model's first MTP draft token that is accepted, in (0, 1], with where it comes from."""

    model: str
    acceptance: float
    source: str
    note: str = ""

    def __post_init__(self) -> None:
        if not 0.0 < self.acceptance <= 1.0:
            raise ValueError(f"mtp acceptance of {self.model} must be in (0, 1], got {self.acceptance}")

    def accepted_tokens(self, draft_tokens: int) -> float:
        """Draft tokens kept a step on average: p + p^2 + ... + p^n (each kept only after the one before)."""
        return sum(self.acceptance ** i for i in range(1, draft_tokens + 1))


@cache
def _table() -> dict[str, MtpAcceptance]:
    where = "speculation.toml"
    data = read_toml(data_dir() / where)
    titles = {k: require(v, "title", where) for k, v in data.get("sources", {}).items()}
    out = {}
    for row in data.get("model", []):
        source = require(row, "source", where)
        if source not in titles:
            raise CatalogError(f"{where}: model {row.get('id')!r} names unknown source {source!r}")
        try:
            out[row["id"]] = MtpAcceptance(model=require(row, "id", where), acceptance=float(require(
                row, "acceptance", where)), source=titles[source], note=row.get("note", ""))
        except ValueError as err:
            raise CatalogError(f"{where}: {err}") from err
    return out


def mtp_acceptance(model_name: str) -> MtpAcceptance | None:
    """The published acceptance of a catalog model's MTP drafts, or None where none is recorded."""
    return _table().get(model_name)
