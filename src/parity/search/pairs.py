"""Disaggregated pairs of a decode candidate and a prefill layout: on whole workers at the rate-matched ratio
(whole_workers), priced as serving.serve_disaggregated prices them, each candidate's best prefill layout (_Pairs)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from parity.engine import EngineProfile
from parity.hardware import Calibration, System
from parity.model import Model
from parity.plan import LayoutGrid, Precision
from parity.serving import Workload, engine_deployment, serve_disaggregated

MAX_DECODE_WORKERS = 8  # a disaggregated candidate runs on at most this many decode workers (whole_workers)
# and with at most this many times the prefill workers per decode worker rate matching sizes (at the engine's
# disagg_prefill_utilization u: at least u / 1.5 busy, 47% for the generic engine's 70%), so that a small ratio does
# not need many decode workers to be met in whole workers
OVER_PROVISION = 1.5
# a disaggregated row is screened (search._screened) before it is priced as its serve line: rows within this share of
# the screened frontiers, and the best few, are priced first, then any other the result keeps (search_serving)
_SCREEN_SLACK = 0.03


def whole_workers(ratio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(prefill, decode) whole workers for each prefill-per-decode-worker `ratio`, never fewer prefill workers than
    it asks (fewer would take prompts faster than they prefill them, a queue that grows as long as the run): the
    fewest workers (at most MAX_DECODE_WORKERS decode) whose ratio is at least `ratio` and at most OVER_PROVISION
    times it; where none is, the ratio nearest above it (then the fewest workers)."""
    ratio = np.asarray(ratio, dtype=float)
    best_p, best_d = np.ones_like(ratio), np.ones_like(ratio)
    close_found = np.zeros(ratio.shape, dtype=bool)
    for d in range(1, MAX_DECODE_WORKERS + 1):
        p = np.maximum(1.0, np.ceil(ratio * d - 1e-9))
        close = p / d <= OVER_PROVISION * ratio
        fewer = (p + d) < (best_p + best_d)
        nearer = (p / d < best_p / best_d) | ((p / d == best_p / best_d) & fewer)
        take = np.where(close_found, close & fewer, close | nearer) if d > 1 else np.ones(ratio.shape, dtype=bool)
        best_p, best_d = np.where(take, p, best_p), np.where(take, float(d), best_d)
        close_found |= close
    return best_p, best_d


@dataclass(frozen=True, slots=True, kw_only=True)
class _Pairs:
    """What pairs decode candidates (decode_rates' rows) with the prefill layouts `options` (_prefill_options, `p`
    their full-step rates, `lone_ttft` their lone prompt's TTFT [s]): sized() puts each pair on whole workers,
    served() prices pairs as serve_disaggregated does, pick() keeps each candidate's best prefill layout."""

    model: Model
    system: System
    grid: LayoutGrid
    precision: Precision
    cal: Calibration
    profile: EngineProfile
    isl: int
    osl: int
    mtp: tuple[int, float]
    options: np.ndarray
    p: dict[str, np.ndarray]
    lone_ttft: np.ndarray
    ttft_s: float | None
    tpot_s: float | None

    def sized(self, d: dict[str, np.ndarray], prefill: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Every (decode candidate i, prefill layout j) pair, j each of `options` (or the one of `prefill` a
        candidate): prefill workers rate-matched at the engine's disagg_prefill_utilization and rounded up to whole
        ones (whole_workers), its clients per decode worker and chips per deployment unit."""
        m, n = len(self.options), len(d["index"])
        i, j = ((np.repeat(np.arange(n), m), np.tile(self.options, n)) if prefill is None else
                (np.arange(n), np.asarray(prefill, dtype=int)))
        ratio = (d["out_rate"][i] / self.osl) / (self.p["prompt_rate"][j] * self.profile.disagg_prefill_utilization)
        workers_p, workers_d = whole_workers(ratio)
        # the clients that keep a worker's batch decoding: each spends TTFT in its prompt for (osl - 1) TPOT decoding
        # (a worker of 8 decoding at TPOT 2.9 ms after a 3.2 s TTFT takes 17 clients), at the lone prompt's TTFT
        decoding = d["batch"][i] * self.grid.attn_dp[d["index"][i]]
        streaming = np.maximum(self.osl - 1.0, 1.0) * d["tpot"][i]
        clients = np.maximum(np.round(decoding * (self.lone_ttft[j] + streaming) / streaming), 1.0)
        chips = self.grid.chips[j] * workers_p + d["chips"][i] * workers_d  # ranks (dies where a die is one)
        return {"i": i, "j": j, "workers_p": workers_p, "workers_d": workers_d, "clients": clients, "chips": chips}

    def served(self, d: dict[str, np.ndarray], sized: dict[str, np.ndarray], at: np.ndarray
               ) -> tuple[np.ndarray, ...]:
        """The pairs `at` (into `sized`) as their serve lines price them: TTFT and TPOT [s], tokens/s per chip, and
        whether they fit and deliver."""
        i, j, workers_p, workers_d = (sized[key][at] for key in ("i", "j", "workers_p", "workers_d"))
        mtp_of = dict(mtp_tokens=self.mtp[0], mtp_acceptance=self.mtp[1])
        served = serve_disaggregated(
            engine_deployment(self.model, self.system, self.grid.take(j), self.precision, self.cal, self.profile,
                              **mtp_of),
            engine_deployment(self.model, self.system, self.grid.take(d["index"][i]), self.precision, self.cal,
                              self.profile, **mtp_of),
            self.profile, Workload(isl=np.full(at.size, float(self.isl)), osl=np.full(at.size, float(self.osl)),
                                   concurrency=sized["clients"][at] * workers_d), workers_p, workers_d)
        ttft, tpot = np.asarray(served.ttft_s), np.asarray(served.tpot_s)
        per_chip = np.asarray(served.output_tokens_per_s) / sized["chips"][at]
        fits = (np.broadcast_to(np.asarray(served.feasible), (at.size,)) & d["fits"][i] & np.isfinite(per_chip)
                & (per_chip > 0) & np.isfinite(ttft) & np.isfinite(tpot))
        return ttft, tpot, per_chip, fits

    def pick(self, sized: dict[str, np.ndarray], pair: dict[str, np.ndarray], rows: np.ndarray,
             run: dict[str, object]) -> None:
        """Per decode candidate in `rows`: the prefill layout with the most tokens/s per chip among those meeting
        the targets, else among those that fit, written into `run`'s columns."""
        m = len(self.options)
        at = (rows[:, None] * m + np.arange(m)).ravel()
        fits = pair["fits"][at]
        meets = fits & (pair["ttft"][at] <= (self.ttft_s or np.inf)) & (pair["tpot"][at] <= (self.tpot_s or np.inf))
        meeting, fitting = (np.where(ok, pair["per_chip"][at], -np.inf).reshape(-1, m) for ok in (meets, fits))
        column = np.where(meets.reshape(-1, m).any(axis=1), np.argmax(meeting, axis=1), np.argmax(fitting, axis=1))
        for key, values in self.columns(sized, pair, rows * m + column).items():
            if key not in run:
                run[key] = np.zeros(len(run["index"]), dtype=values.dtype)
            run[key][rows] = values

    def columns(self, sized: dict[str, np.ndarray], pair: dict[str, np.ndarray], chosen: np.ndarray
                ) -> dict[str, np.ndarray]:
        """The pairs `chosen` (into `sized`, priced in `pair`) as a disaggregated run's columns."""
        j, workers_d = sized["j"][chosen], sized["workers_d"][chosen]
        return {"prefill_index": j, "concurrency": sized["clients"][chosen], "ttft": pair["ttft"][chosen],
                "tpot": pair["tpot"][chosen], "per_chip": pair["per_chip"][chosen],
                "chips": sized["chips"][chosen] / workers_d, "ratio": sized["workers_p"][chosen] / workers_d,
                "decode_workers": workers_d, "prompt_rate": self.p["prompt_rate"][j], "fits": pair["fits"][chosen]}
