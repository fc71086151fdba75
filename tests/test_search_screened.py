"""The search screens its disaggregated rows in numpy and prices exactly, by serve's steady model, only those that can
reach what it keeps (fixSR 2: pricing every (decode, prefill) pair by serve_disaggregated made the search 4-10x slower,
an 8,192-chip Atlas 950 SuperPoD 10.6 s for 1.1 s): every row it keeps is still its serve line's figures, and the
screen changes none of them."""

from __future__ import annotations

import functools

import pytest

from parity import catalog
from parity.predict import predict_cases
from parity.predict.refine import case_of_candidate
from parity.search import best_precision, frontier, refine, search_serving

MODEL, SYSTEM, ENGINE = catalog.model("deepseek-r1"), catalog.system("hgx-h200"), catalog.engine("sglang")
PRECISION = best_precision(MODEL, SYSTEM.chip)


@functools.cache
def _search():
    return _searched()


def _searched():
    return search_serving(MODEL, SYSTEM, ENGINE, catalog.calibration(SYSTEM.chip), PRECISION, 1024, 1024)


def _serve_lines_give(rows) -> None:
    served = predict_cases([case_of_candidate(c, "deepseek-r1", "hgx-h200", "sglang", PRECISION, 1024, 1024)
                            for c in rows])
    assert [(s.ttft_s, s.tpot_s) for s in served] == [(c.ttft_s, c.tpot_s) for c in rows]
    assert [s.output_tokens_per_s_per_chip for s in served] == pytest.approx(
        [c.tokens_per_s_per_chip for c in rows], rel=1e-12)


def test_disaggregated_frontier_rows_are_their_serve_lines_and_their_ttft_their_own_loads() -> None:
    """DeepSeek-R1 on an HGX H200 under SGLang (every disaggregated row showed TTFT 4,123 ms, whatever its load:
    report-only tester fixSR 1): 20 disaggregated frontier rows, their TTFTs all different, from 449 ms to 29.4 s;
    the first, middle and last are their serve cases' TTFT, TPOT and tokens/s per chip (every one: the e2e test)."""
    rows = [c for c in _search().frontier if c.mode == "disagg"]
    ttft = sorted(round(c.ttft_s * 1e3) for c in rows)
    assert (len(rows), ttft[0], ttft[-1], len(set(ttft))) == (20, 449, 29377, 20)
    _serve_lines_give([rows[0], rows[len(rows) // 2], rows[-1]])


@pytest.mark.e2e  # 20 serve cases (0.7 s)
def test_every_disaggregated_frontier_row_is_its_serve_line() -> None:
    _serve_lines_give([c for c in _search().frontier if c.mode == "disagg"])


def test_the_screen_keeps_the_frontier_and_best_of_pricing_every_row(monkeypatch: pytest.MonkeyPatch) -> None:
    """Screened, and with every disaggregated row priced exactly (a slack no row lies beyond): the same frontier and
    best, to the last bit."""
    screened = _search()
    for module in (frontier, refine):  # search_serving and _lowered each look it up
        monkeypatch.setattr(module, "_SCREEN_SLACK", float("inf"))
    every = _searched()
    assert (screened.frontier, screened.best, screened.feasible) == (every.frontier, every.best, every.feasible)
