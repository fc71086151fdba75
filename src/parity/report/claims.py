"""A headline claim in the report: its source's own figures and ratios, and parity's catalog arithmetic of the same
ratios beside them, labelled apart (catalog.claim; data/claims.toml)."""

from __future__ import annotations

from parity.compare import spec_ratios
from parity.hardware import Claim, System
from parity.report.markup import esc, table, times

__all__ = ["catalog_ratios", "claim_html"]


def catalog_ratios(system: System, baseline: System) -> dict[str, float]:
    """parity's own ratios of `system` to `baseline` from the catalog's figures, by hardware.CLAIM_MEASURES (the
    comparison tables' spec columns, with the chips and the systems' FP8 besides); NaN where either side lacks one."""
    fp8 = baseline.peak("fp8")
    return {**spec_ratios(system, baseline), "chips": system.chips / baseline.chips,
            "system_fp8": system.peak("fp8") / fp8 if system.peak("fp8") and fp8 else float("nan")}


def claim_html(claim: Claim, system: System, baseline: System) -> str:
    """The claim as its source makes it: a sentence naming who and when, a table of each figure in the source's own
    numbers, the ratio they give, the ratio in the source's words, and parity's catalog ratio, then why the last
    differs (Claim.differs), so that a reader quotes the source's figures as the source's and parity's as parity's."""
    ours = catalog_ratios(system, baseline)
    rows = [[esc(f.what), esc(f.value_text), esc(f.against_text), times(f.ratio), esc(f.stated) or "-",
             times(ours[f.catalog]) if f.catalog else "-"] for f in claim.figures]
    return (f"<p>Claim ({esc(claim.by)}, {esc(claim.source.date)}), in its own figures, with parity's catalog "
            "arithmetic of the same ratios beside it (the table's spec columns below):</p>"
            + table(["figure", f"{system.id} ({claim.by})", f"{baseline.id} ({claim.by})",
                     f"ratio of {claim.by}'s figures", f"{claim.by} says", "parity's catalog"],
                    rows, "numbers", f"{claim.by}'s figures of {system.id} and {baseline.id}, their ratios, and "
                    "parity's catalog ratios", "stack-narrow")
            + f"<p>Why the catalog's ratios differ: {esc(claim.differs)}</p>")
