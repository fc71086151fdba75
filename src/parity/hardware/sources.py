"""Where a number comes from: sources, the provenance of one figure, and vendors' headline claims in their own
figures."""

from __future__ import annotations

from dataclasses import dataclass

SOURCE_KINDS = ("datasheet", "paper", "press", "analyst-estimate", "measured", "derived", "assumption")


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    """Where a number comes from: a datasheet, paper, press report, estimate or assumption."""

    id: str
    kind: str
    title: str
    url: str = ""
    date: str = ""

    def __post_init__(self) -> None:
        if self.kind not in SOURCE_KINDS:
            raise ValueError(f"source {self.id!r}: kind must be one of {SOURCE_KINDS}, got {self.kind!r}")
        if not self.title.strip():
            raise ValueError(f"source {self.id!r}: title must not be empty")


# what parity's catalog divides beside a claim's figure (ClaimFigure.catalog): the systems' chips, a chip's BF16 peak,
# the systems' BF16 and FP8 peaks, memory and power
CLAIM_MEASURES = ("chips", "bf16", "system_bf16", "system_fp8", "system_memory", "system_power")


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimFigure:
    """One figure of a headline claim as its source states it: what it measures, the system's and the baseline's
    figures as written ('300 PFLOP/s', '180 PFLOP/s') and in SI [FLOP/s, B, B/s, W or a count], the ratio in the
    source's words ('about 1.7x'; '' where it states none) and what parity's catalog divides for the same ratio
    (one of CLAIM_MEASURES; '' for none)."""

    what: str
    value_text: str
    against_text: str
    value: float
    against: float
    stated: str = ""
    catalog: str = ""

    def __post_init__(self) -> None:
        if not (self.value > 0 and self.against > 0):
            raise ValueError(f"claim figure {self.what!r}: value and against must be > 0, got {self.value_text!r} "
                             f"and {self.against_text!r}")
        if self.catalog and self.catalog not in CLAIM_MEASURES:
            raise ValueError(f"claim figure {self.what!r}: catalog must be one of {CLAIM_MEASURES} or empty, got "
                             f"{self.catalog!r}")

    @property
    def ratio(self) -> float:
        """The ratio the source's own figures give (300 / 180 = 1.67), which its rounded words may not."""
        return self.value / self.against


@dataclass(frozen=True, slots=True, kw_only=True)
class Claim:
    """A headline claim of one system against another (`against`) in its source's own figures, kept apart from the
    catalog's, which may take a figure from another source or count another thing (`differs` says how): quoting
    the catalog's arithmetic as the source's put words in its mouth (report-only tester fixeg 1, 2). `by`: who
    claims it; against_source: where the baseline's figures come from, where not from `source`."""

    system: str
    against: str
    by: str
    source: Source
    figures: tuple[ClaimFigure, ...]
    differs: str
    against_source: Source | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Provenance:
    """One number of a chip or system: the field it fills, the literal quote, and its source.

    basis, divisor: where the quote counts more than the stored value, what ('sparse', 'bidirectional',
    'direction unstated') and the quote / stored ratio (2 for 2:4 sparsity and for both directions).
    """

    field: str
    quoted: str
    value: float | str | tuple[str, ...]
    source: Source
    note: str = ""
    basis: str = ""
    divisor: float = 1.0
