"""An engine's defaults by version (data/engine_defaults.toml): what a row that names its engine version runs
with where it sets nothing itself."""

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parity import catalog
from parity.engine import EngineDefault, engine_version, version_defaults
from parity.predict import scenario_from_row

ROW = {"case_id": "x", "model": "llama-3.1-70b", "system": "mi300x-platform", "engine": "vllm", "weights": "fp8",
       "mode": "agg", "isl": "128", "osl": "2048", "concurrency": "3200", "tp": "8"}


@pytest.mark.parametrize(("text", "version"), [
    ("vLLM 0.7.3.dev138", (0, 7, 3)), ("vLLM 0.11.1 RC (ROCm 7.0.0) - vllm bench throughput", (0, 11, 1)),
    ("8x H200 vLLM 0.7.4.dev181", (0, 7, 4)), ("vLLM v0.10.2", (0, 10, 2)), ("Moreh vLLM 0.11.0rc2", (0, 11, 0)),
    ("vLLM (version not stated)", None), ("0.11.2", None), ("SGLang 0.4.2.post4", None)])
def test_engine_version_reads_the_version_the_text_names_for_the_engine(text, version) -> None:
    """A bare number names no engine (aiconfigurator's rows configure every run themselves): no defaults."""
    assert engine_version("vllm", text) == version


@pytest.mark.parametrize(("version", "memory", "chip", "offline", "expected"), [
    ((0, 6, 6), 192e9, "amd-mi300x", True, {"max_batch_size": 256}),  # V0: EngineArgs.max_num_seqs = 256
    ((0, 8, 2), 48e9, "nvidia-l40s", False, {"max_batch_size": 1024, "max_num_tokens": 2048}),  # V1 before #16158
    ((0, 8, 4), 80e9, "nvidia-h100-sxm", True, {"max_batch_size": 1024, "max_num_tokens": 16384}),  # H100 kept 1024
    ((0, 8, 4), 192e9, "amd-mi300x", True, {"max_batch_size": 256, "max_num_tokens": 8192}),  # not yet (#17073)
    ((0, 10, 2), 192e9, "amd-mi300x", True, {"max_batch_size": 1024, "max_num_tokens": 16384}),  # >= 70 GiB
    ((0, 10, 2), 80e9, "nvidia-h100-sxm", False, {"max_batch_size": 1024, "max_num_tokens": 8192}),
    ((0, 10, 2), 48e9, "nvidia-l40s", False, {"max_batch_size": 256, "max_num_tokens": 2048})])
def test_vllm_defaults_by_version_chip_and_context(version, memory, chip, offline, expected) -> None:
    """vLLM's arg_utils.py at each step: 256 sequences in V0; V1 (0.8.0) 1,024 everywhere until #16158 (0.8.4)
    kept it on H100/H200 only; from #17073 (0.8.5) every device of 70 GiB (75.16 GB) or more; the step budget
    16,384 tokens offline (LLM class) and 8,192 behind the API server on those, 8,192 / 2,048 elsewhere."""
    assert dict(version_defaults(catalog.engine_defaults(), "vllm", version, memory, chip, offline)) == expected


def test_every_default_names_its_source_and_sglang_has_none() -> None:
    entries = catalog.engine_defaults()
    assert entries and all(e.source for e in entries)
    assert not version_defaults(entries, "sglang", (0, 4, 2), 192e9, "amd-mi300x", False)


def test_a_row_takes_its_versions_defaults_unless_it_sets_them() -> None:
    """vLLM 0.7.3 (V0) caps an offline run of 3,200 prompts at 256 sequences; the row's own max_num_seqs wins;
    no version, the profile's own cap (2,048)."""
    v0 = scenario_from_row({**ROW, "engine_version": "vLLM 0.7.3.dev138", "offline": "true"})
    assert v0.engine.max_batch_size == 256 and v0.engine.max_num_tokens == catalog.engine("vllm").max_num_tokens
    assert any("defaults (offline): max_batch_size 256" in n for n in v0.notes)
    own = scenario_from_row({**ROW, "engine_version": "vLLM 0.7.3", "max_num_seqs": "3200"})
    assert own.engine.max_batch_size == 3200
    v1 = scenario_from_row({**ROW, "engine_version": "vLLM 0.10.2 (ROCm 7.0.0)", "offline": "true"})
    assert (v1.engine.max_batch_size, v1.engine.max_num_tokens) == (1024, 16384)
    assert scenario_from_row(ROW).engine.max_batch_size == catalog.engine_for("vllm", "rocm").max_batch_size == 2048


def test_a_refitted_profile_keeps_the_versions_defaults() -> None:
    """Leave-one-out scoring swaps the profile (Scenario.with_engine): the version's cap must stay."""
    s = scenario_from_row({**ROW, "engine_version": "vLLM 0.6.6", "offline": "true"})
    assert s.with_engine(dataclasses.replace(catalog.engine("vllm"), gemm_scale=0.7)).engine.max_batch_size == 256


@settings(max_examples=40, deadline=None)
@given(st.tuples(st.integers(0, 2), st.integers(0, 20), st.integers(0, 9)), st.floats(1e9, 1e12),
       st.booleans())
def test_at_most_one_value_per_field_and_never_zero(version, memory, offline) -> None:
    found = version_defaults(catalog.engine_defaults(), "vllm", version, memory, "amd-mi300x", offline)
    assert set(found) <= {"max_batch_size", "max_num_tokens"} and all(v >= 1 for v in found.values())
    if version < (0, 8, 0):
        assert found == {"max_batch_size": 256}


def test_an_entry_must_set_something_in_a_known_context() -> None:
    with pytest.raises(ValueError, match="set max_batch_size or max_num_tokens"):
        EngineDefault(engine="vllm", since=(0, 1), source="x")
    with pytest.raises(ValueError, match="context"):
        EngineDefault(engine="vllm", since=(0, 1), context="batch", max_batch_size=8, source="x")
    with pytest.raises(ValueError, match="until"):
        EngineDefault(engine="vllm", since=(0, 8), until=(0, 7), max_batch_size=8, source="x")


def test_collective_scale_multiplies_the_calibrations_link_efficiency() -> None:
    """CDNA3's collective efficiency is RCCL's all-reduce bus bandwidth over the links: 316.82 / 448 = 0.7072;
    a stack profile's collective_scale 0.5 leaves 0.3536 to the engine's TP all-reduce, and 1 leaves it."""
    from parity.serving import engine_calibration
    cal = catalog.calibration(catalog.chip("amd-mi300x"))
    assert cal.collective_efficiency == pytest.approx(0.7072, abs=1e-4)
    half = dataclasses.replace(catalog.engine("vllm"), collective_scale=0.5)
    assert engine_calibration(cal, half).collective_efficiency == pytest.approx(0.3536, abs=1e-4)
    assert engine_calibration(cal, catalog.engine("vllm")).collective_efficiency == cal.collective_efficiency
    with pytest.raises(ValueError, match="collective_scale"):
        dataclasses.replace(catalog.engine("vllm"), collective_scale=0.0)


def test_the_rocm_stack_profiles_fit_the_all_reduce_within_bounds() -> None:
    """The ROCm profiles move collective_scale with the other stack parameters (crossvendor.STACK_PARAMETERS)."""
    from parity.crossvendor import STACK_PARAMETERS
    low, high = STACK_PARAMETERS["collective_scale"]
    for name in ("vllm-rocm", "sglang-rocm"):
        profile = catalog.engine(name)
        assert profile.stack == "rocm" and low <= profile.collective_scale <= high < 1.0 + 1e-9
        assert "collective_scale" in profile.method
