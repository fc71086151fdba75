"""The words of `parity search`'s titles and captions: the formats priced, the MTP drafts, serve's KV default, the
best's interval, and the workers over more systems that compare and fleet would take, with the compare line."""

from __future__ import annotations

import functools
import math
import shlex
from collections.abc import Sequence

from parity import catalog
from parity.cli.values import Targets
from parity.compare import WIDER_GAIN, systems_spanned, systems_to_hold, wider_workers
from parity.engine import EngineProfile
from parity.hardware import System, per_die
from parity.model import Model
from parity.plan import Precision
from parity.predict.precision import engine_kv
from parity.report.tables import scaled
from parity.search import SearchResult, mtp_assumption, search_spanning
from parity.serving.workload import DEFAULT_TTFT_S


def _formats(precision: Precision) -> str:
    """'fp8 weights, fp8 KV' for a title: the formats the search priced (serve's --weights and --kv)."""
    experts = f", {precision.expert_weights} experts" if precision.expert_weights != precision.weights else ""
    return f"{precision.weights} weights{experts}, {precision.kv_cache} KV"


def _mtp_words(mtp: tuple[int, float]) -> str:
    """', MTP 1' for a title, '' without drafts."""
    return f", MTP {mtp[0]}" if mtp[0] else ""


def _unsaid(assumptions: Sequence[str], mtp: tuple[int, float], mtp_text: str) -> list[str]:
    """The assumptions a caption lists after its opening MTP sentence (mtp_caption), which says the drafts and their
    acceptance: the search's own MTP line left out, not said twice."""
    return [a for a in assumptions if not (mtp_text and a == mtp_assumption(mtp))]


def _kv_note(precision: Precision, profile: EngineProfile, system: System, kv: str | None) -> str:
    """Where no --kv was given and serve's default (the engine's, predict.precision.engine_kv) differs from the KV
    format the search priced (search.best_precision: FP8 where the chip has it): what each stores, and how to set
    it; '' otherwise."""
    served = engine_kv(profile, system.chip, precision.weights, precision.expert_weights)
    if kv is not None or served == precision.kv_cache:
        return ""
    return (f"KV cache {precision.kv_cache}, the best the chip offers, as compare and fleet run it, where serve "
            f"stores the engine's default, {served} here (the serve line says --kv {precision.kv_cache}; --kv sets "
            "the search's)")


def _interval_text(row: dict[str, object], figure: str = "") -> str:
    """' (80% interval 955-3,140)' after the best's tokens/s per chip, '' where no interval is stored; `figure`:
    'sim_' where the figure is the simulator's, whose interval is its own (its residual bands around its figure, as
    `parity serve --sim` gives it for the best's serve line), '' for the steady-state model's (compare's)."""
    low, high = (row.get(f"{figure}tokens_per_s_per_chip_{end}") for end in ("low", "high"))
    if low is None or high is None or math.isnan(float(low)):  # type: ignore[arg-type]
        return ""
    return f" (80% interval {scaled(1)(float(low))}-{scaled(1)(float(high))})"  # type: ignore[arg-type]


def _wider(result: SearchResult, model: Model, system: System, profile: EngineProfile, precision: Precision,
           lengths: tuple[int, int], targets: tuple[float | None, float | None],
           mtp: tuple[int, float]) -> tuple[int, float] | None:
    """(systems spanned, tokens/s per chip) of workers over more systems (compare.wider_workers) where they deliver
    WIDER_GAIN x the best of one, as compare and fleet then take them; None otherwise (search keeps its system)."""
    if result.best is None:
        return None
    ranks, dies = per_die(system), system.chip.dies
    found = wider_workers(functools.partial(search_spanning, model, ranks, profile, catalog.calibration(system.chip),
                                            precision, *lengths, *targets, mtp=mtp), ranks,
                          result.best.tokens_per_s_per_chip / dies)
    if found is None or found.best is None or (spans := systems_spanned(found.best, ranks)) < 2:
        return None  # workers of one system are the search's own: never named as wider
    return spans, found.best.tokens_per_s_per_chip * dies


def _wider_text(wider: tuple[int, float], compared: str | None, precision: Precision, theirs: Precision,
                percentiles: bool) -> str:
    """'; workers over 4 systems deliver 187 tok/s/chip, and compare and fleet take them (parity compare ...)': the
    caption's clause on the wider workers (_wider), priced at the search's own formats; where compare and fleet run
    other formats (`theirs`: no --kv there), the clause says so in place of a compare line that could not give the
    figure. `percentiles`: the figure is the steady search's at the mean screen, which puts the wider workers in
    compare's choice too, and compare takes them only where the simulator finds them WIDER_GAIN x the best narrower
    worker that meets the percentiles (percentile_choice), else this search's own choice."""
    said = f"; workers over {wider[0]} systems deliver {wider[1]:,.0f} tok/s/chip" + (
        " at the mean screen" if percentiles else "")
    if compared is None:
        return f"{said} with this search's {_formats(precision)}; {_unmatched(theirs)}"
    if percentiles:  # compare and fleet simulate them beside this search's own, as percentile_choice does
        return (f"{said}, and compare and fleet take them where, simulated, they deliver {WIDER_GAIN:g}x the best "
                f"narrower worker that meets the percentiles ({compared})")
    return f"{said}, and compare and fleet take them ({compared})"


def _unmatched(theirs: Precision) -> str:
    """Why no compare line reproduces the search's wider workers: compare and fleet run their own formats `theirs`
    (search.best_precision at the search's --weights; they take no --kv), not the search's."""
    return f"compare and fleet run {_formats(theirs)} (they take no --kv), so no compare line gives this figure"


def _compare_command(model: str, system: str, targets: Targets, arrivals: str, isl: int, osl: int,
                     engine: str, weights: str | None, mtp_tokens: int | None) -> str:
    """'parity compare atlas-800-a3 --model ./config.json --weights bf16 --ttft none': the comparison that takes the
    wider workers (_wider) at the search's own question: the model and system as the command line gave them, and
    the lengths, engine, weights, drafts and TPOT and TTFT targets, where compare's defaults differ. A percentile
    target stays one ('p99:25ms'; compare screens by its bound as search does) with the --refine compare needs for
    it, and Poisson arrivals, which drop a percentile TTFT from that screen, go with it."""
    options = ["parity", "compare", system, "--model", model]
    options += ["--engine", engine] if engine != "generic" else []
    options += ["--weights", weights] if weights else []
    options += [word for option, tokens in (("--isl", isl), ("--osl", osl)) if tokens != 1024
                for word in (option, str(tokens))]
    options += ["--mtp", str(mtp_tokens)] if mtp_tokens is not None else []
    for option, seconds, statistic, default_s in zip(("--tpot", "--ttft"), (targets.tpot_s, targets.ttft_s),
                                                     (targets.tpot_statistic, targets.ttft_statistic),
                                                     (0.05, DEFAULT_TTFT_S)):
        if seconds != default_s or statistic != "mean":
            bound = f"{seconds:g}s" if seconds else "none"
            options += [option, bound if statistic == "mean" or not seconds else f"{statistic}:{bound}"]
    if targets.percentiles():
        options += ["--refine"] + (["--arrivals", arrivals] if arrivals != "closed" else [])
    return shlex.join(options)


def _wider_hint(result: SearchResult, model: Model, system: System, profile: EngineProfile, precision: Precision,
                chips: int | None, tokens: int) -> str:
    """Where nothing fits one system's scale-up domain and no --chips was given: the workers over scale-out that
    compare would span (compare.systems_to_hold), as a --chips to try; '' otherwise."""
    if result.feasible or chips or (spans := systems_to_hold(model, per_die(system), profile, precision, tokens)) in (
            None, 1):
        return ""
    return (f"; {model.name} fits no worker of one {system.id}: --chips {spans * system.chips} searches workers "
            f"over {spans} systems, as compare spans them")
