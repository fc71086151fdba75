"""Published draft-token acceptance of models' own multi-token-prediction modules (data/speculation.toml)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from parity.catalog.files import data_dir, read_toml, require
from parity.errors import CatalogError, InfeasiblePlan, InputError, is_whole
from parity.flags import Flag
from parity.model import Model

__all__ = ["MtpAcceptance", "mtp_acceptance", "mtp_flags", "MOST_MTP_DRAFTS"]

# draft tokens a step compare, fleet, formats and search price at most (their --mtp): the published runs draft 1 to 3,
# and an acceptance extrapolated far past them says nothing (serve and predict take more, at an acceptance given)
MOST_MTP_DRAFTS = 8


@dataclass(frozen=True, slots=True, kw_only=True)
class MtpAcceptance:
    """Share of a model's first MTP draft token that is accepted, in (0, 1], with where it comes from;
    `kept_by_depth`: draft tokens kept a step on average with 1, 2, ... drafts where a source measured them
    (the model's one MTP module reused for every draft after the first predicts them worse and worse)."""

    model: str
    acceptance: float
    source: str
    note: str = ""
    kept_by_depth: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if not 0.0 < self.acceptance <= 1.0:
            raise ValueError(f"mtp acceptance of {self.model} must be in (0, 1], got {self.acceptance}")
        kept = (0.0, *self.kept_by_depth)
        if any(not 0.0 < b - a <= 1.0 for a, b in zip(kept, kept[1:])) or any(
                b - a > a - z for z, a, b in zip(kept, kept[1:], kept[2:])):
            raise ValueError(f"mtp kept_by_depth of {self.model} must grow by at most 1 a draft, each draft adding no "
                             f"more than the one before, got {list(self.kept_by_depth)}")

    def accepted_tokens(self, draft_tokens: int) -> float:
        """Draft tokens kept a step on average. Measured depths: the measured figure. Otherwise p + p^2 + ... +
        p^n (each kept only after the one before), and past the deepest measured depth each further draft adds
        the last measured draft's share times the last measured ratio between successive drafts' shares."""
        kept = self.kept_by_depth
        if not kept:
            return sum(self.acceptance ** i for i in range(1, draft_tokens + 1))
        if draft_tokens <= len(kept):
            return kept[draft_tokens - 1] if draft_tokens > 0 else 0.0
        gains = [b - a for a, b in zip((0.0, *kept), kept)]
        ratio = gains[-1] / gains[-2] if len(gains) > 1 else self.acceptance
        extra = sum(gains[-1] * ratio ** i for i in range(1, draft_tokens - len(kept) + 1))
        return kept[-1] + extra

    def extrapolation_flag(self, draft_tokens: int) -> Flag | None:
        """A flag where `draft_tokens` drafts a step go past the deepest depth the source measured (its
        kept_by_depth; else the first draft's rate alone), so that the tokens kept a step are accepted_tokens'
        extrapolation, not a measurement; None at a measured depth."""
        depth = len(self.kept_by_depth) or 1
        if draft_tokens <= depth:
            return None
        past = f"past {depth} draft token{'s' if depth > 1 else ''}"
        return Flag("MTP acceptance extrapolated",
                    f"MTP acceptance extrapolated {past}: {self.accepted_tokens(draft_tokens):.3g} of {draft_tokens} "
                    f"kept a step ({self.model}'s measured to {depth})", f"MTP acceptance extrapolated {past}")

    def describe(self, draft_tokens: int) -> str:
        """How many of `draft_tokens` drafts are kept and on what basis, for assumption notes."""
        kept = self.accepted_tokens(draft_tokens)
        basis = ("as measured at that depth" if 0 < draft_tokens <= len(self.kept_by_depth) else
                 f"{self.acceptance:.0%} a draft token" if not self.kept_by_depth else
                 "extrapolated past the deepest measured depth")
        return f"{kept:.3g} of {draft_tokens} kept a step ({basis})"


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
                row, "acceptance", where)), source=titles[source], note=row.get("note", ""),
                kept_by_depth=tuple(float(v) for v in row.get("kept_by_depth", ())))
        except ValueError as err:
            raise CatalogError(f"{where}: {err}") from err
    return out


def mtp_acceptance(model_name: str) -> MtpAcceptance | None:
    """The published acceptance of a catalog model's MTP drafts, or None where none is recorded."""
    return _table().get(model_name)


def default_mtp(model: Model) -> int:
    """Draft tokens a decode step when --mtp is not given (`compare`, `fleet`): 1 on a model that ships
    multi-token-prediction modules and has a published acceptance (DeepSeek-V3/R1: one MTP module, the second
    token accepted 85-90% of the time, DeepSeek-V3 technical report, arXiv 2412.19437, Sec. 5.4.3; the published
    DeepSeek-R1 serving runs parity holds draft 1 to 3), so chips are compared as these models are deployed; 0 on
    any other."""
    return 1 if model.mtp_layers and mtp_acceptance(model.name) is not None else 0


def mtp_drafts(model: Model, mtp_tokens: int | None) -> int:
    """Draft tokens a decode step for an --mtp option (`compare`, `fleet`, `search`): as given, else the model's
    default_mtp."""
    return default_mtp(model) if mtp_tokens is None else mtp_tokens


def mtp_flags(model: Model, mtp_tokens: int) -> tuple[Flag, ...]:
    """The flag of `mtp_tokens` drafts a step at the model's published acceptance past its deepest measured depth
    (MtpAcceptance.extrapolation_flag), as `compare`, `fleet` and `serve` (without --mtp-acceptance) run them; ()
    where MTP is off, the model has no published acceptance, or the depth was measured."""
    published = mtp_acceptance(model.name) if mtp_tokens and model.mtp_layers else None
    flag = published.extrapolation_flag(mtp_tokens) if published is not None else None
    return (flag,) if flag else ()


def mtp_setting(model: Model, mtp_tokens: int) -> tuple[tuple[int, float], str]:
    """((draft tokens, accepted a step), a note) for `mtp_tokens` MTP drafts on `model`, at the model's published
    acceptance (data/speculation.toml); (0, 0) when off or when the model has no MTP layers. A count that is not
    a whole number in [0, MOST_MTP_DRAFTS] is refused (InputError)."""
    if not is_whole(mtp_tokens) or not 0 <= mtp_tokens <= MOST_MTP_DRAFTS:
        raise InputError(f"mtp_tokens must be a whole number of draft tokens in [0, {MOST_MTP_DRAFTS}], got "
                         f"{mtp_tokens!r}")
    if not mtp_tokens:
        return (0, 0.0), "no multi-token prediction (--mtp N: N draft tokens a decode step)"
    if not model.mtp_layers:
        return (0, 0.0), f"no multi-token prediction ({model.name} has no MTP layers)"
    published = mtp_acceptance(model.name)
    if published is None:
        raise InfeasiblePlan(f"no published MTP acceptance is recorded for {model.name}")
    kept = published.accepted_tokens(mtp_tokens)
    return (mtp_tokens, kept), f"MTP {mtp_tokens} draft token{'s' if mtp_tokens != 1 else ''} a decode step, {published.describe(mtp_tokens)}"
