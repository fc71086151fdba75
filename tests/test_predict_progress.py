"""predict_rows' progress: one call as each group of cases gets its final prices, the counts summing to the rows.

It counted rows as they were read, so `parity predict`'s bar sat at 100% for the whole pricing."""

import pytest

from parity.predict import predict_rows, simulated, steady

# three rows of one deployment (c0 and c3 the same workload, simulated once), one of another, one refused
ROWS = [{"case_id": f"c{i}", "model": "llama-3.1-8b", "system": system, "isl": 256, "osl": 16, "concurrency": clients}
        for i, (system, clients) in enumerate([("hgx-h100", 1), ("hgx-h100", 2), ("hgx-h200", 1), ("hgx-h100", 1)])]
ROWS += [{"case_id": "bad", "model": "no-such-model", "system": "hgx-h100", "isl": 1, "osl": 1, "concurrency": 1}]


def _spied(monkeypatch: pytest.MonkeyPatch, module: object, name: str, events: list[object]) -> None:
    """module.name noted in `events` ('priced') each time it runs, before it returns."""
    real = getattr(module, name)

    def spy(*args: object) -> object:
        events.append("priced")
        return real(*args)

    monkeypatch.setattr(module, name, spy)


def test_steady_counts_each_deployment_as_it_is_solved(monkeypatch: pytest.MonkeyPatch) -> None:
    """The refused row at once (1), then the hgx-h100 group of 3 after its solve, the hgx-h200 row after its own."""
    events: list[object] = []
    _spied(monkeypatch, steady, "_solve", events)
    predict_rows(ROWS, progress=events.append, model_kind="steady")
    assert events == [1, "priced", 3, "priced", 1]


def test_the_simulator_counts_each_run_as_it_finishes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under sim the steady pricing counts nothing; each run counts after it ends, c0's run for c3 too (2)."""
    events: list[object] = []
    _spied(monkeypatch, simulated, "_with_simulation", events)
    predict_rows(ROWS, progress=events.append, model_kind="sim")
    assert events == [1, "priced", 2, "priced", 1, "priced", 1]


def test_processes_count_each_chunk_as_it_comes_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """Over processes (here map_chunks' order and callback, run in this process): a chunk's runs and their copies
    counted as the chunk comes back. Nine rows, eight runs (c7's copy c8 with it): chunks of one run each (8 runs //
    (2 processes x 8), at least 1), costliest first, so c7 (8 clients, 2 rows) comes back first."""
    rows = [{"case_id": f"c{i}", "model": "llama-3.1-8b", "system": "hgx-h100", "isl": 256, "osl": 16,
             "concurrency": clients} for i, clients in enumerate([1, 2, 3, 4, 5, 6, 7, 8, 8])]
    events: list[object] = []

    def in_order(fn, chunks, processes, ray, progress):  # type: ignore[no-untyped-def]
        assert processes == 2
        done = []
        for chunk in chunks:
            done.append(fn(chunk))
            progress(done[-1])
        return done

    _spied(monkeypatch, simulated, "_with_simulation", events)
    monkeypatch.setattr(simulated, "map_chunks", in_order)
    predictions = predict_rows(rows, progress=events.append, model_kind="sim", processes=2)
    assert events == ["priced", 2] + ["priced", 1] * 7
    assert [p.case_id for p in predictions] == [r["case_id"] for r in rows]
