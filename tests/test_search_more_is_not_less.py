"""A chip made strictly better (more memory, faster scale-out) finds a best configuration at least as good as its
own: the search runs each layout at the most clients (or decode batch) its targets allow, not only at the grid's
loads, and pairs a decode worker with a prefill layout of nearly the cheapest cost but a quicker step."""

from __future__ import annotations

import pytest

from parity import catalog
from parity.catalog.speculation import mtp_setting
from parity.search import best_precision, grid_of_sizes, search_serving, worker_sizes
from parity.search.disaggregated import _prefill_options
from parity.search.rates import _prefill_both
from parity.sweep import Variant


def _search(system, model_name: str, engine: str, mtp: int = 0, max_chips: int | None = None):
    model = catalog.model(model_name)
    return search_serving(model, system, catalog.engine(engine), catalog.calibration(system.chip),
                          best_precision(model, system.chip), 1024, 1024, 0.05, 5.0,
                          mtp=mtp_setting(model, mtp)[0], max_chips=max_chips)


def test_twice_the_memory_keeps_the_load_its_targets_allow() -> None:
    """Llama-3.1-70B on an HGX H200 (TensorRT-LLM, TPOT 50 ms, TTFT 5 s): tp1 holds 146 clients, which meet TPOT
    50 ms (48.7 ms, 2,906 tok/s/chip). With twice the memory it holds 524, which miss it, and the grid's loads under
    the target were 128 and 192: the variant's best fell to tp1-pp4 at 512 clients, 2,819 (0.97x the H200's 2,906).
    Each layout now also runs at the most clients that meet the targets: tp1 at 152 (49.9 ms, 2,956 tok/s/chip) on
    the variant, and both systems' best is tp1-pp4 at 624 clients (TPOT 50.0 ms), 3,049.7 tok/s/chip."""
    h200 = catalog.system("hgx-h200")
    more = Variant(name="h200-2xmem", chip="nvidia-h200-sxm", scale={"memory_bytes": 2.0}).system()
    base, variant = (_search(system, "llama-3.1-70b", "trtllm") for system in (h200, more))
    assert (str(base.best.layout), base.best.concurrency) == (str(variant.best.layout), variant.best.concurrency) == (
        "tp1-pp4", 624.0)
    assert variant.best.tokens_per_s_per_chip == base.best.tokens_per_s_per_chip == pytest.approx(3049.68, abs=0.01)
    tp1 = {system: max((c for c in found.frontier if str(c.layout) == "tp1" and c.meets_targets),
                       key=lambda c: c.tokens_per_s_per_chip) for system, found in (("base", base), ("more", variant))}
    assert (tp1["base"].concurrency, round(tp1["base"].tokens_per_s_per_chip)) == (146.0, 2906)
    assert (tp1["more"].concurrency, round(tp1["more"].tokens_per_s_per_chip)) == (152.0, 2956)
    assert tp1["more"].tpot_s <= 0.05


def test_faster_scale_out_keeps_the_prefill_layout_it_paired() -> None:
    """DeepSeek-R1 (MTP 1) on H20s, workers of up to 16 chips (two systems), TPOT 50 ms, TTFT 5 s: with 4x the
    scale-out, tp1-dp16-ep16 became 0.7% cheaper per prompt/s than tp1-pp4-dp4-ep4, at 4x its step (3.18 s against
    0.80 s), and replaced it as the 16-chip prefill option; its slow groups took the TTFT near 5 s, and the best fell
    from 709.9 to 691.5 tok/s/chip. Each worker size now also offers its quickest step within 5% of the cheapest's
    cost: the variant keeps tp1-pp4-dp4-ep4, and its best (767.8) is above the H20's (719.7; 766.3 and 717.7 before
    each near-best pair ran at its largest batch meeting the targets as served, _refined)."""
    model = catalog.model("deepseek-r1")
    h20 = catalog.system("hgx-h20")
    faster = Variant(name="h20-4xso", chip="nvidia-h20", scale={"scale_out_bytes_per_s": 4.0}).system()
    grid = grid_of_sizes(model, worker_sizes(faster, None, 16), (1, 2, 4))
    engine, cal, precision = catalog.engine("generic"), catalog.calibration(faster.chip), best_precision(model,
                                                                                                         faster.chip)
    options, _, _ = _prefill_options(model, faster, grid, precision, cal, engine, 1024,
                                     _prefill_both(model, faster, grid, precision, cal, engine, 1024))
    assert {"tp1-dp16-ep16", "tp1-pp4-dp4-ep4"} <= {str(grid.at(int(i))) for i in options}
    base, variant = (_search(system, "deepseek-r1", "generic", mtp=1, max_chips=16).best for system in (h20, faster))
    assert (str(base.layout), str(variant.layout)) == ("tp1-pp4-dp4-ep4", "tp1-pp4-dp4-ep4")
    assert (round(base.tokens_per_s_per_chip, 1), round(variant.tokens_per_s_per_chip, 1)) == (719.7, 767.8)


def test_more_memory_keeps_the_decode_batch_its_tpot_allows() -> None:
    """DeepSeek-R1 (MTP 1) on an HGX H200, TPOT 50 ms: tp1-dp8-ep8 decodes at most 268 sequences a rank (TPOT
    39.7 ms), 3,243.9 tok/s/chip. With 10% more memory a rank holds 441, which miss TPOT 50 ms, and the grid's batch
    under it is 256: the best fell to 3,198.0. The decode batch is now also the largest whose TPOT meets the target
    (345 a rank held full, 355 as serve's closed loop prices it): 3,416.2."""
    h200 = catalog.system("hgx-h200")
    more = Variant(name="h200-mem1.1", chip="nvidia-h200-sxm", scale={"memory_bytes": 1.1}).system()
    base, variant = (_search(system, "deepseek-r1", "generic", mtp=1).best for system in (h200, more))
    assert (round(base.tokens_per_s_per_chip, 1), round(variant.tokens_per_s_per_chip, 1)) == (3243.9, 3416.2)
    assert str(variant.decode_layout) == "tp1-dp8-ep8" and variant.tpot_s <= 0.05


def test_the_best_never_falls_as_memory_grows() -> None:
    """DeepSeek-R1 (MTP 1) on an HGX H200's 8 GPUs, TPOT 50 ms, TTFT 5 s, memory x1.05 to x1.3: at x1.05 a
    tp1-dp8-ep8 rank holds 354 sequences, whose TPOT held full (51.2 ms) misses 50 ms but as served meets it (49.8 ms,
    2,836 clients, 3,415.7 tok/s/chip); from x1.08 it holds 406, and the decode batch stopped at the 345 whose held
    TPOT meets it, 2,764 clients, 3,411.2. Each near-best pair now runs at its largest batch meeting the targets as
    served (_refined): 355 a rank, 2,844 clients, TPOT 49.98 ms, 3,416.2 from x1.08 on."""
    found = [_search(Variant(name=f"m{scale}", chip="nvidia-h200-sxm", scale={"memory_bytes": scale}).system(),
                     "deepseek-r1", "generic", mtp=1, max_chips=8).best for scale in (1.05, 1.08, 1.3)]
    figures = [(c.concurrency, round(c.tokens_per_s_per_chip, 1)) for c in found]
    assert figures == [(2836.0, 3415.7), (2844.0, 3416.2), (2844.0, 3416.2)]
    assert all(c.tpot_s <= 0.05 and str(c.decode_layout) == "tp1-dp8-ep8" for c in found)
