"""--mtp as `compare`, `fleet` and `search` take it: the option (None: the model's default, catalog.mtp_drafts) and
the caption's sentence on what was assumed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import click

from parity.catalog import MOST_MTP_DRAFTS, mtp_setting
from parity.errors import ParityError
from parity.model import Model

__all__ = ["mtp_option", "mtp_caption", "refuse_mtp_without_layers"]


def mtp_option(scope: str = "") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """--mtp N into the parameter `mtp_tokens` (None where not given); `scope` opens the help ('serving: ')."""
    return click.option("--mtp", "mtp_tokens", type=click.IntRange(0, MOST_MTP_DRAFTS), default=None,
                        help=f"{scope}multi-token prediction, draft tokens a decode step on models with MTP layers "
                             "(DeepSeek-R1), at the model's published acceptance; 0: off (default: 1 on models that "
                             "ship MTP modules with a published acceptance, as they are deployed; else 0)")


def refuse_mtp_without_layers(models: Sequence[Model], mtp_tokens: int | None) -> None:
    """Refuse --mtp N (N > 0) where no model of the run has MTP layers: the option would change nothing, and `serve`
    refuses it alike. Where some model has them, the others' captions say it does not apply to them."""
    if mtp_tokens and not any(model.mtp_layers for model in models):
        names = ", ".join(model.name for model in models)
        raise ParityError(f"--mtp {mtp_tokens} does nothing here: {names} {'has' if len(models) == 1 else 'have'} "
                          "no MTP layers (drop --mtp)")


def mtp_caption(model: Model, mtp_tokens: int, chosen: bool, where: str = "") -> str:
    """What a run assumes about multi-token prediction, for a caption: `mtp_tokens` drafts (`chosen`: given as
    --mtp, else the model's default) `where` ('on every chip'); '' for a model without MTP layers unless --mtp
    asked for drafts."""
    if not model.mtp_layers:
        return f"--mtp {mtp_tokens} does not apply: {model.name} has no MTP layers." if mtp_tokens and chosen else ""
    if not mtp_tokens:
        return (f"No multi-token prediction (published {model.name} serving runs mostly use it: --mtp N; engine "
                "profiles fitted only on MTP runs are applied here beyond them).")
    default = "" if chosen else f" (the default for {model.name}, which ships MTP modules; --mtp 0: off)"
    return f"{mtp_setting(model, mtp_tokens)[1]}{', ' + where if where else ''}{default}."
