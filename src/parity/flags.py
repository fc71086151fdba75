"""Flags: the ways a prediction lies outside what parity was fitted and checked on, as records.

A flag is said three ways: its whole sentence (`serve`'s "outside what was validated", the `flags` column of
`predict`, every JSON), its kind (what `validate --by flag` scores it under) and, for the few that matter most in a
side-by-side, a brief (the note of `compare` and `fleet`). Each producer states all three, so no reader parses
another's words.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Flag", "CALIBRATION_REASON", "WIDEN_FLAGGED", "joined", "texts"]

WIDEN_FLAGGED = 2.0  # a flag's interval alone: its band's log-width doubles (an assumption; uncertainty.widening)
CALIBRATION_REASON = "calibration"  # the reason of a chip's calibration flags, which widen apart (Flag.reason)


@dataclass(frozen=True)
class Flag:
    """One way a case lies outside what was checked: `kind` groups it (e.g. "uncalibrated chip"), `text` says it
    whole, `brief` is the few words a table's note gives it ("" leaves it to the whole text); `widen`: how many times
    its band's log-width the case's interval would be were this flag its only one (WIDEN_FLAGGED, but for a chip's
    calibration, uncertainty.CALIBRATION_WIDEN), 1 for an informational flag, said but widening nothing (a config
    trimmed of keys nothing prices, an assumed power); `reason`: CALIBRATION_REASON for the flag of the chip's
    calibration status (uncertainty.calibration_flag), which widens apart from every other kind
    (uncertainty.widening), '' for any other;
    `maturity`: the closing clause of `text` that names the software maturity the engine's kernels run at ("; its
    kernels at ROCm's software maturity, ..."), which a caption naming each stack's maturity itself leaves out."""

    kind: str
    text: str
    brief: str = ""
    widen: float = WIDEN_FLAGGED
    maturity: str = ""
    reason: str = ""

    def __post_init__(self) -> None:
        if self.widen < 1.0:
            raise ValueError(f"a flag's widen must be at least 1 (1: informational), got {self.widen!r} for "
                             f"{self.kind!r}")
        if self.reason not in ("", CALIBRATION_REASON):
            raise ValueError(f"a flag's reason must be '' or {CALIBRATION_REASON!r}, got {self.reason!r}")
        if not self.text.endswith(self.maturity):
            raise ValueError(f"a flag's maturity must close its text, got {self.maturity!r} for {self.text!r}")

    def __str__(self) -> str:
        return self.text

    @property
    def text_without_maturity(self) -> str:
        """The whole sentence less its software-maturity clause, for a caption that names each stack's maturity
        (compare's 'Software stacks: ...')."""
        return self.text.removesuffix(self.maturity)


def texts(flags: Iterable[Flag]) -> list[str]:
    """The flags' whole sentences, once each in order (a JSON list)."""
    return list(dict.fromkeys(f.text for f in flags))


def joined(flags: Iterable[Flag]) -> str:
    """The flags' whole sentences in one table or CSV cell."""
    return "; ".join(texts(flags))
