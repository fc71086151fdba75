"""The report's simulated run: what its caption states is what was simulated, and its plot is written; and the
targets the report prices at."""

from parity.cli.values import DEFAULT_TTFT, DURATION
from parity.report.html import ReportSpec
from parity.report.plots import timeline_png
from parity.report.timeline import simulated_run


def test_the_simulated_run_caption_states_the_run_and_its_timeline_is_plotted(tmp_path) -> None:
    """8 clients of the aiconfigurator client (10 prompts a client, the first wave counted): 80 requests.
    The timeline never has more requests decoding than clients, runs forward in time, and keeps the KV
    cache within its capacity (used fraction in [0, 1])."""
    run = simulated_run("llama-3.1-8b", "hgx-h100", "vllm", 1, 8, 256, 64)
    assert run.result.requests == 80
    assert "8 closed-loop clients of the aiconfigurator client sending 80 counted requests" in run.caption
    assert f"TTFT mean {run.result.ttft_s * 1e3:,.0f} ms" in run.caption
    assert "engine profile vllm" in run.caption and "at TP1" in run.caption
    records = run.result.timeline
    times = [r["time_s"] for r in records]
    assert len(records) > 10 and times == sorted(times)
    assert max(r["running"] for r in records) == 8
    assert all(0.0 <= r["kv_used_fraction"] <= 1.0 for r in records)
    path = tmp_path / "timeline.png"
    timeline_png(records, path, run.title)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_caption_carries_the_runs_kv_flag_when_it_outgrows_its_cache() -> None:
    """Llama-3.1-8B on one H100 at 256 clients of 4,096 + 512 tokens outgrows its KV cache: the caption ends with the
    simulator's flag, word for word; the report's own run (Llama-3.1-70B, H200 TP4, 256 clients of 1k/1k) has none."""
    bound = simulated_run("llama-3.1-8b", "hgx-h100", "vllm", 1, 256, 4096, 512)
    assert bound.result.kv_flag() and bound.caption.endswith(f" Flagged: {bound.result.kv_flag()}.")
    roomy = simulated_run("llama-3.1-70b", "hgx-h200", "generic", 4, 256, 1024, 1024)
    assert not roomy.result.kv_flag() and "Flagged" not in roomy.caption


def test_the_report_prices_at_the_commands_default_targets() -> None:
    """The report's comparisons, formats and fleet run at the TTFT bound compare, formats and fleet default to (its
    node table read 591 tok/s/chip where `compare` printed 590: it ran with no TTFT bound)."""
    assert ReportSpec().ttft_s == DURATION.convert(DEFAULT_TTFT, None, None)
