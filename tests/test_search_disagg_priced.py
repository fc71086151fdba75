"""A disaggregated search row is priced as its `parity serve --model-kind steady` line prices it: on the whole
workers the line runs, by serve's own closed loop, so its TTFT is its own load's. Every disaggregated row of
DeepSeek-R1 on an HGX H200 under SGLang showed TTFT 4,123 ms, from 2 clients a worker to 2,471: the search queued
prompts at its prefill share's rate-matched 87% utilisation whatever the load (report-only tester, fixSR 1)."""

from __future__ import annotations

import numpy as np
import pytest

from parity import catalog
from parity.predict import predict_cases
from parity.predict.refine import _workers, case_of_candidate
from parity.search import best_precision, search_serving, whole_workers


def test_disaggregated_rows_are_their_serve_lines_figures_and_ttft_grows_with_the_load() -> None:
    """Llama-3.1-8B on one-H100 workers, generic engine: the 1-client row (1 prefill worker to 8 decode workers,
    8 clients in all) reaches TTFT 72.2 ms, the KV cache's 437 clients (1 prefill to 2 decode) 666 ms; each row's
    serve case prices exactly its TTFT, TPOT and tokens/s per chip."""
    model, system, profile = catalog.model("llama-3.1-8b"), catalog.system("hgx-h100"), catalog.engine("generic")
    precision = best_precision(model, system.chip)
    found = search_serving(model, system, profile, catalog.calibration(system.chip), precision, 1024, 1024, 0.05,
                           None, chips=1, modes=("disagg",))
    rows = found.frontier
    assert [(c.concurrency, c.prefill_workers_per_decode_worker * c.decode_workers, c.decode_workers)
            for c in (rows[0], rows[-1])] == [(1.0, 1.0, 8), (437.0, 1.0, 2)]
    assert [round(c.ttft_s * 1e3, 1) for c in (rows[0], rows[-1])] == [72.2, 666.2]
    ttft = [c.ttft_s for c in sorted(rows, key=lambda c: c.concurrency)]
    assert ttft[0] < ttft[len(ttft) // 2] < ttft[-1]
    for c in (rows[0], rows[-1]):
        case = case_of_candidate(c, "llama-3.1-8b", "hgx-h100", "generic", precision, 1024, 1024)
        assert (case.prefill_workers, case.decode_workers, case.concurrency) == (
            1, c.decode_workers, round(c.concurrency) * c.decode_workers)
        served = predict_cases([case])[0]
        assert (served.ttft_s, served.tpot_s) == (c.ttft_s, c.tpot_s)
        assert served.output_tokens_per_s_per_chip == pytest.approx(c.tokens_per_s_per_chip, rel=1e-12)
    assert any("prefill workers sized for 70% utilisation (the engine's disagg_prefill_utilization, rate matching) "
               "and rounded up to whole workers (at most 8 decode workers)" in note for note in found.assumptions)


def test_whole_workers_are_the_fewest_within_one_and_a_half_times_the_share() -> None:
    """0.26: 1 per 3 (1/4 would starve the prefill); 0.02: none within 1.5x at up to 8 decode workers, the nearest
    above, 1 per 8; 1.6: 2 per 1; 0.6: 2 per 3. A candidate's own workers are what its serve case runs, not the
    rule's reading of its ratio: 1 per 7 (the rule reads 1/7 as 1 per 5, within 1.5x and fewer)."""
    p, d = whole_workers(np.array([0.26, 0.02, 1.6, 0.6]))
    assert list(zip(p.tolist(), d.tolist())) == [(1, 3), (1, 8), (2, 1), (2, 3)]
    model, system = catalog.model("llama-3.1-8b"), catalog.system("hgx-h100")
    found = search_serving(model, system, catalog.engine("generic"), catalog.calibration(system.chip),
                           best_precision(model, system.chip), 1024, 1024, 0.05, None, chips=1, modes=("disagg",))
    assert {_workers(c) for c in found.frontier} == {(1, 8), (1, 7), (1, 5), (1, 4), (1, 3), (1, 2)}
