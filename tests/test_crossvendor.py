"""Cross-source and cross-vendor validation: fitted rows are named and never scored; stack profiles and
leave-one-out settings never see the rows they score."""

from __future__ import annotations

import pytest

from parity import catalog
from parity.crossvendor import (before_setting, fitted_row_ids, ratio_checks, scored_rows, stack_rows,
                                stored_setting, twin_offsets)
from parity.predict import scenario_from_row


def test_every_fitted_file_names_its_rows_and_none_of_them_is_scored() -> None:
    """Family calibrations name kernel rows, stack profiles serving rows; each named row exists, each fitted
    serving row sits in the calibration split, and the scored rows exclude them all."""
    kernels = {r["case_id"] for r in catalog.measurements("kernels_published")}
    published = {r["case_id"]: r for r in catalog.measurements("serving_published")}
    for cal in catalog.calibrations():
        if cal.family or cal.id == "derived-prior":
            assert cal.rows and set(cal.rows) <= kernels, cal.id
    stacks = [p for p in catalog.engines() if p.base]
    assert {p.id for p in stacks} >= {"vllm-rocm", "sglang-rocm"}
    for profile in stacks:
        assert profile.rows, profile.id
        assert all(published[r]["split"] == "calibration" for r in profile.rows), profile.id
        assert set(profile.rows) == {r["case_id"] for r in stack_rows(published.values(), profile.base, profile.stack)}
    fitted = fitted_row_ids()
    scored = {r["case_id"] for r in scored_rows(published.values())}
    assert scored and not scored & fitted
    assert "AMD-064" in kernels and "AMD-064" not in fitted  # the 4096^3 GEMM is kept to check the fit


def test_stack_profiles_apply_on_their_stack_only() -> None:
    """A vLLM row on an MI300X runs on vllm-rocm; the same row on an H200 on the CUDA-fitted vllm; the
    'before' setting puts the CUDA profile and the generic prior back on the MI300X."""
    row = {"case_id": "x", "model": "llama-3.1-8b", "system": "mi300x-platform", "engine": "vllm", "isl": "128",
           "osl": "128", "concurrency": "8", "tp": "1"}
    amd = scenario_from_row(row)
    assert amd.engine.id == "vllm-rocm" and amd.engine.stack == "rocm"
    assert scenario_from_row({**row, "system": "hgx-h200"}).engine.id == "vllm"
    before = before_setting().apply(amd)
    assert before.engine.id == "vllm" and before.calibration == catalog.prior_calibration()
    assert stored_setting().apply(amd).engine.id == "vllm-rocm"


def test_twin_offsets_are_the_nvidia_twins_log_errors() -> None:
    """Each offset is ln(predicted/measured) of the row's '-nv' twin: positive where parity overpredicts the
    NVIDIA run of the same source, so the AMD row then fits the ratio between the two."""
    rows = catalog.measurements("serving_published")
    offsets = twin_offsets(rows, stored_setting())
    twins = {r["case_id"].removesuffix("-nv") for r in rows if r["case_id"].endswith("-nv")}
    assert set(offsets) == twins and len(twins) == 10


@pytest.mark.validation
def test_ratio_checks_pair_the_same_work_on_two_vendors() -> None:
    checks = ratio_checks(catalog.measurements("serving_published"))
    assert len(checks) == 10
    by = {c.case_id: c for c in checks}
    # AMD-014: 8x MI300X 1,705.14 against 8x H100 1,196.35 total tokens/s (dstack), ratio 1.4253
    assert by["AMD-014"].published == pytest.approx(1705.140233 / 1196.345439, rel=1e-4)
