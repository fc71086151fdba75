"""Flags: the ways a prediction lies outside what parity was fitted and checked on, as records.

A flag is said three ways: its whole sentence (`serve`'s "outside what was validated", the `flags` column of
`predict`, every JSON), its kind (what `validate --by flag` scores it under) and, for the few that matter most in a
side-by-side, a brief (the note of `compare` and `fleet`). Each producer states all three, so no reader parses
another's words.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Flag", "joined", "texts"]


@dataclass(frozen=True)
class Flag:
    """One way a case lies outside what was checked: `kind` groups it (e.g. "uncalibrated chip"), `text` says it
    whole, `brief` is the few words a table's note gives it ("" leaves it to the whole text); `widen`: how many times
    wider in log than another flagged case's it makes the case's interval (uncertainty.widening: a chip on a prior),
    0 for an informational flag, said but widening nothing (a config trimmed of keys nothing prices);
    `maturity`: the closing clause of `text` that names the software maturity the engine's kernels run at ("; its
    kernels at ROCm's software maturity, ..."), which a caption naming each stack's maturity itself leaves out."""

    kind: str
    text: str
    brief: str = ""
    widen: float = 1.0
    maturity: str = ""

    def __post_init__(self) -> None:
        if self.widen < 0:
            raise ValueError(f"a flag's widen must be >= 0 (0: informational), got {self.widen}")
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
