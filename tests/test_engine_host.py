"""Host work an engine version does between device steps (data/engine_host.toml): which rows get it, what it adds
to a step, and that the stored times follow from the published timings they were derived from."""

import dataclasses

import pytest

from parity import catalog
from parity.engine import EngineHost, version_host
from parity.predict import scenario_from_row
from parity.predict.scenario import deployment
from parity.step import Batch, step_cost


def _lib_row(system: str, version: str, batch: int) -> dict[str, str]:
    """An LLM-Inference-Bench run as serving_published.csv holds it: Llama-3-8B TP1, 1,024 in and out, offline."""
    return {"case_id": "x", "model": "llama-3.1-8b", "system": system, "engine": "vllm", "weights": "fp16",
            "kv": "fp16", "mode": "agg", "isl": "1024", "osl": "1024", "concurrency": str(batch), "tp": "1",
            "metric": "output_tokens_per_s_per_worker", "measured": "1", "engine_version": version, "offline": "true"}


def test_the_v0_entry_is_the_straight_line_through_its_two_published_timings() -> None:
    """vllm-project/vllm#6913: _process_model_outputs takes 0.2 ms at batch 1 and 3.4 ms at batch 32, so
    3.2 ms / 31 = 0.10323 ms a sequence and 0.2 - 0.10323 = 0.09677 ms a step; the file stores 4 digits."""
    (entry,) = [e for e in catalog.engine_host() if e.engine == "vllm"]
    assert entry.sequence_s == pytest.approx((3.4e-3 - 0.2e-3) / 31, rel=1e-3)
    assert entry.step_s == pytest.approx(0.2e-3 - (3.4e-3 - 0.2e-3) / 31, rel=1e-3)
    assert entry.step_s + 32 * entry.sequence_s == pytest.approx(3.4e-3, rel=1e-3)
    assert "#6913" in entry.source and entry.implementation and entry.derivation


@pytest.mark.parametrize(("engine", "version", "stack", "held"), [
    ("vllm", (0, 5, 0), "cuda", True), ("vllm", (0, 5, 2), "rocm", True), ("vllm", (0, 5, 9), "cuda", True),
    ("vllm", (0, 6, 0), "cuda", False), ("vllm", (0, 6, 1), "rocm", False), ("vllm", (0, 4, 3), "cuda", False),
    ("sglang", (0, 5, 1), "cuda", False)])
def test_which_versions_do_their_output_work_between_steps(engine, version, stack, held) -> None:
    """vLLM 0.5.x on any stack (the work is the CPU's); 0.6.0 overlapped it (vllm-project/vllm#7049); no figure
    before 0.5; SGLang's 0.5.x versions (aiconfigurator's bare versions) are another engine."""
    assert (version_host(catalog.engine_host(), engine, version, stack) is not None) is held


def test_entries_refuse_impossible_values() -> None:
    with pytest.raises(ValueError, match="until"):
        EngineHost(engine="vllm", since=(0, 6, 0), until=(0, 5, 0), step_s=0.0, sequence_s=0.0)
    with pytest.raises(ValueError, match="sequence_s"):
        EngineHost(engine="vllm", since=(0, 5, 0), until=(0, 6, 0), step_s=0.0, sequence_s=-1e-4)
    with pytest.raises(ValueError, match="step_s"):
        EngineHost(engine="vllm", since=(0, 5, 0), until=(0, 6, 0), step_s=float("nan"), sequence_s=0.0)


def test_the_lib_h100_rows_take_it_and_their_mi300x_twins_do_not() -> None:
    """The H100 runs' vLLM predates 0.5.3 (the row's engine_version reads 0.5.x); the MI300X ran 0.6.1."""
    rows = {r["case_id"]: r for r in catalog.measurements("serving_published")}
    h100 = scenario_from_row(rows["LIB-l3-8b-tp1-b64-nv"])
    mi300x = scenario_from_row(rows["LIB-l3-8b-tp1-b64"])
    assert h100.host is not None and mi300x.host is None
    assert any("host:" in note for note in h100.notes)


def test_a_step_gains_the_entry_per_step_and_per_sequence() -> None:
    """A decode step of 64 sequences gains 0.0968 ms + 64 x 0.1032 ms = 6.70 ms; a prompt step of one sequence
    0.2 ms; nothing else in the step moves."""
    s = scenario_from_row(_lib_row("hgx-h100", "vLLM 0.5.2", 64))
    with_host, without = deployment(s, s.layout), deployment(dataclasses.replace(s, host=None), s.layout)
    decode = Batch(decode_tokens=64, decode_context=1024)
    added = float(step_cost(with_host, decode).time_s - step_cost(without, decode).time_s)
    assert added == pytest.approx(0.0968e-3 + 64 * 0.1032e-3, rel=1e-6)
    prompt = Batch(prefill_tokens=1024, prefill_sequences=1)
    assert float(step_cost(with_host, prompt).time_s - step_cost(without, prompt).time_s) == pytest.approx(0.2e-3)
    assert scenario_from_row(_lib_row("hgx-h100", "vLLM 0.6.0", 64)).host is None
