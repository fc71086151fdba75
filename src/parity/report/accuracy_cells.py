"""The accuracy page's Markdown cells and words: percentages, numbers, ratios, metric names, tables and score
tables, and the words for splits, serving models and what a vendor's left-out fits keep."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from parity.report.tables import signed_percent
from parity.validate import Score


METRIC_NAMES = {"ttft_s": "TTFT", "tpot_s": "TPOT", "tokens_per_s_per_chip": "tokens/s per chip",
                "output_tokens_per_s_per_chip": "output tokens/s per chip"}


# the source-level bar the cross-vendor work aims at: no source's decode figures worse than this median |error|
# with the source left out of every fit
SOURCE_DECODE_TARGET = 0.20


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _num(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}" if abs(value) >= 1 else f"{value:.4g}"


def _x(value: float) -> str:
    return f"{value:.2f}x"


def _metric(name: str) -> str:
    return METRIC_NAMES.get(name, name)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool] | None = None) -> str:
    right = right or [False] * len(headers)
    rule = ["---:" if r else "---" for r in right]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(rule) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _score_table(found: Sequence[Score], label: Callable[[Score], Sequence[str]], headers: Sequence[str]) -> str:
    rows = [[*label(s), _metric(s.metric), f"{s.count:,}", _pct(s.median_abs_error), _pct(s.p90_abs_error),
             signed_percent(s.bias)] for s in found]
    return _table([*headers, "metric", "rows", "median \\|err\\|", "p90 \\|err\\|", "bias"], rows,
                  [False] * (len(headers) + 1) + [True] * 4)


SPLIT_WORDS = {"calibration": "calibration (fitted: in-sample)", "holdout": "holdout (never fitted)",
               "unseen": "unseen: B300, gpt-oss-120b (never fitted)", "reference": "reference (listed, never scored)"}


MODEL_WORDS = {"sim": "simulated (`serve`, `predict`, `validate`)",
               "steady": "steady model (`search`, `compare`, `fleet`)"}


# a vendor's 'left out' row in words, by what its fits keep (crossvendor_scores' `kept`)
KEPT_WORDS = {"kernels": "end-to-end figures left out of every fit (its kernel calibrations kept)",
              "measured": "published figures left out of every fit (its own chips' measured calibration and the engine "
                          "profiles fitted on its serving points kept)",
              "none": "figures left out of every fit (it has no kernel figures: its chips were never measured)"}
