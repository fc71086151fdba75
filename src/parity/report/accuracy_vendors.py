"""The accuracy page's leave-one-out sections: published figures per vendor and per source with every fit rebuilt
without it, the cross-vendor pairs and their intervals, and training throughput per vendor."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from parity.crossvendor import KERNELS_TOO, coverage_words, ratio_error_median
from parity.report.accuracy_cells import SOURCE_DECODE_TARGET, _pct, _table
from parity.report.tables import signed_percent
from parity.uncertainty import CALIBRATION_WIDEN


# how a pair's interval is built and checked (crossvendor.pair_intervals), for both leave-out tables
INTERVAL_WORDS = ("Around each decode pair's ratio with its {by} left out, an 80% interval built as `parity compare` "
                  "builds its own (the two vendors' bands of left-out residuals, widened where compare widens), from "
                  "this table's left-out residuals of every source but the pair's own, holds the published ratio for "
                  "{coverage} pairs (compare's stored bands, ratio_uncertainty.toml, are of the steady model's "
                  "residuals with each source left out): read a compare interval as holding about that often.")


def _by_vendor(payload: Mapping[str, Any]) -> list[str]:
    """Published figures per vendor with every fit rebuilt without that vendor, and the cross-vendor pairs."""
    found = payload.get("by_vendor")
    if not found:
        return []
    pairs = found["ratios"]
    medians = ", ".join(f"{name} {_pct(ratio_error_median(pairs, key))}" for name, key in (
        ("before any vendor fit", "before"), ("with the pair's vendor left out", "left_out"), ("now", "predicted")))
    scored = [p for p in pairs if p["split"] != "calibration"]
    return ["## Across vendors: each vendor scored with fits that never saw it", "",
            "Source: `serving_published.csv` (`parity validate --by vendor`). *before*: the generic prior on every "
            "chip but the H200, CUDA-fitted engine profiles on every stack; *left out*: every fit rebuilt without the"
            " vendor's published end-to-end rows (its stack profiles refitted on the others' rows or, where none "
            "remain, priced at the maturity of the fits that stand: every ROCm row is AMD's, every CANN row Huawei's); "
            "the family calibrations of its kernel figures stay (microbenchmarks are what a family is calibrated from, and none is scored), "
            "and so, for NVIDIA, do the CUDA engine profiles fitted on aiconfigurator's NVIDIA serving points and the"
            " H200's measured calibration: NVIDIA's figures are the least left out of all; *left out* is what a chip "
            "with kernel figures and no end-to-end ones should expect. *left out, kernels too*: as *left out*, and "
            "the family calibrations fitted on kernel figures of the vendor's chips dropped as well, so that its "
            "chips run on the prior the other vendors' measurements derive (a vendor with a chip measured on its own,"
            " NVIDIA, whose H200 every prior is derived from, cannot be left out so): what a chip of a vendor parity "
            "has no measurement at all of should expect. *after*: the stored fits on the rows no fit used. A vendor "
            "is the chip's maker, whoever published the figure (AMD's figures of NVIDIA chips count as NVIDIA's). The"
            " figures measured by clients in a closed loop (per-user rates, and per-worker rates at a concurrency) "
            "are priced by the step-level simulator, what `parity serve` and `predict` run; offline and "
            "unbounded-rate throughputs (every request queued at once) and prefill steps by the steady-state model, "
            "which every fit runs.", "",
            _table(["vendor", "metric", "fits", "rows", "median \\|err\\|", "p90 \\|err\\|", "bias", "80% int. holds"],
                   [[r["group"], r["kind"], r["setting"], f"{r['count']:,}", _pct(r["median_abs_error"]),
                     _pct(r["p90_abs_error"]), signed_percent(r["bias"]),
                     f"{r['inside']}/{r['judged']}" if r.get("judged") else "-"] for r in found["scores"]],
                   [False, False, False, True, True, True, True, True]), "",
            _uncalibrated_words(found["scores"]), "",
            f"The same work on two vendors' chips ({len(pairs)} pairs, same source, model, lengths and "
            f"concurrency): median |predicted ratio / published ratio - 1| {medians}; now, on the "
            f"{len(scored)} pairs no fit used: {_pct(ratio_error_median(scored, 'predicted'))}. " + INTERVAL_WORDS.format(
                by="vendor", coverage=coverage_words(pairs)) + (
                " With the vendor's kernel figures left out too, the ratio (median |error| "
                f"{_pct(ratio_error_median(pairs, 'kernels_too'))}) and the interval compare builds for a vendor never "
                f"measured (the widest band of the others, {CALIBRATION_WIDEN['prior']:g} times as wide in log, as on "
                "a chip on a prior, and by the chip's other flags) hold the published ratio for "
                f"{coverage_words(pairs, 'kernels_too_inside')} pairs." if any("kernels_too" in p for p in pairs)
                else ""), ""] + _training_by_vendor(
                found.get("training", []))


def _uncalibrated_words(rows: Sequence[Mapping[str, Any]]) -> str:
    """How often the 80% intervals of predictions on chips priced as never measured held (the decode rows left out
    with their kernel figures, and a vendor's with none: 'uncalibrated chip'), the figure
    CALIBRATION_WIDEN['prior'] is checked on."""
    never = [r for r in rows if r["kind"] == "decode" and r.get("judged") and (
        r["setting"] == KERNELS_TOO or (r["setting"] == "left out" and r.get("kept") == "none"))]
    inside, judged = sum(r["inside"] for r in never), sum(r["judged"] for r in never)
    return ("*80% int. holds*: the rows inside the 80% interval their prediction printed (decode figures; an interval "
            "moves with the TPOT band's). A chip on a prior (nothing measured it or a chip of its family) is flagged "
            f"\"uncalibrated chip\", a reason that alone widens its interval {CALIBRATION_WIDEN['prior']:g} times in "
            "log, in quadrature with its flags' 2 (uncertainty.CALIBRATION_WIDEN): "
            "on the decode figures priced so here (" + ", ".join(f"{r['group']} {r['setting']}" for r in never)
            + f") it holds {inside} of {judged}" + (f" ({inside / judged:.0%})." if judged else "."))


def _by_source(payload: Mapping[str, Any]) -> list[str]:
    """Published figures per source, each scored with every fit rebuilt without that source's rows."""
    found = payload.get("by_source")
    if not found:
        return []
    left = [r for r in found["scores"] if r["setting"] == "left out"]
    decode = [r for r in left if r["kind"] == "decode"]
    missed = [r["group"] for r in sorted(decode, key=lambda r: -r["median_abs_error"])
              if r["median_abs_error"] > SOURCE_DECODE_TARGET]
    verdict = (f"{len(missed)} of {len(decode)} sources' decode figures miss {_pct(SOURCE_DECODE_TARGET)} median "
               f"with their rows left out: {', '.join(f'`{g}`' for g in missed)}." if missed else
               f"Every source's decode figures are within {_pct(SOURCE_DECODE_TARGET)} median with its rows left out.")
    return ["### Across sources: each source scored with fits that never saw it", "",
            "`parity validate --by source`: every fit rebuilt without the source's rows (stack profiles refitted on "
            "the others' rows or, where none remain, priced at the maturity of the fits that stand; family calibrations fitted on its kernel figures dropped); decode: output tokens/s per worker "
            "or per user, prefill: prefill tokens/s. A source is one publisher's campaign, so this is the error a "
            "user should expect from a chip, engine or model parity has no figure of from that publisher. " + verdict,
            "",
            _table(["source", "metric", "rows", "median \\|err\\|", "p90 \\|err\\|", "bias"],
                   [[f"`{r['group']}`", r["kind"], f"{r['count']:,}", _pct(r["median_abs_error"]),
                     _pct(r["p90_abs_error"]), signed_percent(r["bias"])] for r in left],
                   [False, False, True, True, True, True]), ""] + (
        [INTERVAL_WORDS.format(by="source", coverage=coverage_words(found["ratios"])), ""] if found.get("ratios") else [])


def _training_by_vendor(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Published training runs (tokens/s per chip) per vendor, before, left out and after."""
    if not rows:
        return []
    return ["Training runs per vendor (`training_published.csv`, tokens/s per chip). *left out*: the training "
            "profile refitted from its documented prior without the vendor's calibration rows (the prior itself "
            "where none remain: every calibration row is NVIDIA's); the family calibrations of its kernel figures "
            "stay, as above. *before* scores the stored profile on every row, its calibration rows in-sample.", "",
            _table(["vendor", "fits", "rows", "median \\|err\\|", "p90 \\|err\\|", "bias"],
                   [[r["group"], r["setting"], f"{r['count']:,}", _pct(r["median_abs_error"]),
                     _pct(r["p90_abs_error"]), signed_percent(r["bias"])] for r in rows],
                   [False, False, True, True, True, True]), ""]
