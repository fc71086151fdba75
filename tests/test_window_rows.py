"""A sliding-window model's rows priced together equal each row priced alone: the windows cap each row's own
context, never the longest of the rows solved with it."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parity import catalog
from parity.memory import cache_bytes_per_sequence_per_device
from parity.plan import Precision, Shard
from parity.predict import predict_rows

ROW = {"model": "gpt-oss-120b", "system": "hgx-h100", "engine": "vllm", "weights": "fp8", "tp": "2",
       "random_range_ratio": "1"}
FIGURES = ("ttft_s", "tpot_s", "output_tokens_per_s_per_chip", "output_tokens_per_s_per_user", "memory_bytes_per_chip")


def test_each_context_keeps_its_own_window() -> None:
    """gpt-oss-120b at tp 2, bf16 KV: 18 full + 18 sliding (128) layers of 1,024 elements, 4 of 8 KV heads a
    device, so 1,024 B a token a layer. A 1,152-token sequence holds 18 x 1,024 x (1,152 + 128) = 23,592,960 B and a
    9,216-token one 18 x 1,024 x (9,216 + 128) = 172,228,608 B, together as alone (the batch's longest once capped
    the short one's windows at 9,216: 96,075,648 B)."""
    model = catalog.model("gpt-oss-120b")
    shard = Shard(2, 1, 1, 1, 1)
    together = cache_bytes_per_sequence_per_device(model, shard, Precision(), np.array([1152.0, 9216.0]))
    assert together.tolist() == pytest.approx([23_592_960.0, 172_228_608.0], abs=1e-6)
    alone = cache_bytes_per_sequence_per_device(model, shard, Precision(), 1152.0)
    assert alone == pytest.approx(23_592_960.0, abs=1e-6)


@settings(max_examples=8, deadline=None)
@given(cases=st.lists(st.tuples(st.integers(1, 40_000), st.integers(1, 4096), st.integers(1, 4000)),
                      min_size=2, max_size=4))
def test_rows_solved_together_equal_each_alone(cases: list[tuple[int, int, int]]) -> None:
    """The tester's case: isl 1,024 beside isl 100,000 (osl 1,024, 3,000 clients) read 259.08 s TTFT and
    5,292 tok/s/chip, alone 278.65 s and 4,966; and memory per chip a whole number of bytes."""
    rows = [dict(ROW, case_id=f"c{i}", isl=str(isl), osl=str(osl), concurrency=str(clients))
            for i, (isl, osl, clients) in enumerate(cases)]
    together = predict_rows(rows)
    for row, grouped in zip(rows, together):
        alone = predict_rows([row])[0]
        for name in FIGURES:
            assert getattr(grouped, name) == pytest.approx(getattr(alone, name), rel=1e-12, nan_ok=True), name
        assert grouped.memory_bytes_per_chip == pytest.approx(round(grouped.memory_bytes_per_chip), abs=1e-3)


def test_tester_case_matches_its_serve_line() -> None:
    """/tmp/fuzzDL/s7.toml's isl 1,024 row beside an isl 100,000 row: TTFT 278.63 s and 4,966 tok/s/chip, its own
    serve line's figures (259.08 s and 5,292 with the windows capped at the longer row; 278.65 s before the sliding
    layers' prompt pairs were summed query by query, not capped at L x W)."""
    rows = [dict(ROW, case_id=f"c{isl}", isl=str(isl), osl="1024", concurrency="3000") for isl in (1024, 100_000)]
    short = predict_rows(rows)[0]
    assert short.ttft_s == pytest.approx(278.6345, rel=1e-5)
    assert short.output_tokens_per_s_per_chip == pytest.approx(4965.97, rel=1e-5)
