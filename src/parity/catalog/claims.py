"""Headline claims of one system against another in their sources' own figures (data/claims.toml)."""

from __future__ import annotations

from functools import cache
from typing import Any

from parity import units
from parity.catalog.files import data_dir, read_toml, refuse_unknown, require, text
from parity.catalog.hardware import sources
from parity.errors import CatalogError
from parity.hardware import Claim, ClaimFigure

__all__ = ["claim", "claims"]

# the dimensions a claim's figures may have, tried in turn: a unit names one alone ('49.2 TB' a size, '16.3 PB/s' a
# bandwidth), and a bare number is a count
_DIMENSIONS = ("flop_per_s", "bytes", "bytes_per_s", "w", "count")
_FIGURE_KEYS = ("what", "value", "against", "stated", "catalog")
_CLAIM_KEYS = ("against", "by", "source", "against_source", "figures", "differs")


def _quantity(value: Any, where: str) -> tuple[float, str]:
    """A figure as written ('300 PFLOP/s', '8,192') in SI, with its dimension."""
    for dimension in _DIMENSIONS:
        try:
            return units.parse(value, dimension), dimension
        except units.UnitError:
            continue
    raise CatalogError(f"{where}: cannot read {value!r} as a compute rate, size, bandwidth, power or count")


def _figure(spec: Any, where: str) -> ClaimFigure:
    if not isinstance(spec, dict):
        raise CatalogError(f"{where}: a figure must be a table with what, value and against, got {spec!r}")
    refuse_unknown(spec, _FIGURE_KEYS, where, "figures", "claim figure")
    value, dimension = _quantity(require(spec, "value", where), where)
    against, against_dimension = _quantity(require(spec, "against", where), where)
    if dimension != against_dimension:
        raise CatalogError(f"{where}: value {spec['value']!r} and against {spec['against']!r} measure different "
                           "things")
    try:
        return ClaimFigure(what=text(require(spec, "what", where), where, "what"), value_text=str(spec["value"]),
                           against_text=str(spec["against"]), value=value, against=against,
                           stated=str(spec.get("stated", "")), catalog=str(spec.get("catalog", "")))
    except ValueError as err:
        raise CatalogError(f"{where}: {err}") from err


@cache
def claims() -> dict[str, Claim]:
    """Every claim, by the id of the system it is about."""
    path = data_dir() / "claims.toml"
    known = sources()
    out = {}
    for system, spec in read_toml(path).items():
        where = f"{path.name} [{system}]"
        refuse_unknown(spec, _CLAIM_KEYS, where, f"[{system}]", "claim")
        named = [spec.get("source"), *filter(None, [spec.get("against_source")])]
        for source_id in named:
            if source_id not in known:
                raise CatalogError(f"{where}: names unknown source {source_id!r} (data/sources.toml)")
        out[system] = Claim(system=system, against=text(require(spec, "against", where), where, "against"),
                            by=text(require(spec, "by", where), where, "by"), source=known[spec["source"]],
                            against_source=known[spec["against_source"]] if spec.get("against_source") else None,
                            figures=tuple(_figure(f, where) for f in require(spec, "figures", where)),
                            differs=text(require(spec, "differs", where), where, "differs"))
    return out


def claim(system: str) -> Claim | None:
    """The headline claim about `system` (a catalog id), None where the catalog records none."""
    return claims().get(system)
