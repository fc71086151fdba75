"""A fit moves parameters only on enough rows (validate.unfitted): the CUDA profiles' main and disaggregated fits and
the stack fits keep their stored or prior values on fewer, and their method says so."""

import tomllib

import pytest

from parity import catalog
from parity.crossvendor import fit_stack, stack_rows, stack_toml, stored_setting
from parity.engine import stack_prior
from parity.validate import (FIT_PARAMETERS, MIN_FIT_ROWS, SIZING_PARAMETERS, engine_refit_text, fit_engine,
                             scenarios_of, sizing_rows, unfitted)


def _calibration(engine: str) -> list[dict[str, str]]:
    return [r for r in catalog.measurements() if r["split"] == "calibration" and r["engine"] == engine]


def test_a_fit_needs_a_row_a_parameter_and_three_at_least() -> None:
    """1 row cannot fit 3 parameters, 10 rows cannot fit 11; 2 rows cannot fit 1 (MIN_FIT_ROWS = 3: one outlying
    run would set a one-parameter median alone); 3 rows fit 1 to 3, and 11 rows fit 11."""
    assert MIN_FIT_ROWS == 3
    assert unfitted(1, 3) == "1 row for 3 parameters"
    assert unfitted(10, len(FIT_PARAMETERS)) == "10 rows for 11 parameters"
    assert unfitted(2, 1) == "2 rows for 1 parameter"
    assert unfitted(3, 1) == unfitted(3, 3) == unfitted(11, 11) == ""


def test_which_rows_bear_on_each_sizing_parameter() -> None:
    """The hand-off on every disaggregated row, the decode batch on those without a decode worker count, the
    prefill utilisation on those without a prefill worker count: of the stored calibration rows, vLLM has none (its
    one disaggregated run records no client count: a reference row), TensorRT-LLM 25 (both given), SGLang 14 (11
    without decode workers)."""
    assert sizing_rows(_calibration("vllm")) == {"disagg_ttft_overhead_s": 0, "disagg_decode_batch": 0,
                                                 "disagg_prefill_utilization": 0}
    assert sizing_rows(_calibration("trtllm")) == {"disagg_ttft_overhead_s": 25, "disagg_decode_batch": 0,
                                                   "disagg_prefill_utilization": 0}
    assert sizing_rows(_calibration("sglang")) == {"disagg_ttft_overhead_s": 14, "disagg_decode_batch": 11,
                                                   "disagg_prefill_utilization": 0}
    assert sizing_rows([{"mode": "agg"}, {"mode": "disagg", "prefill_workers": "2", "decode_workers": ""}]) == {
        "disagg_ttft_overhead_s": 1, "disagg_decode_batch": 1, "disagg_prefill_utilization": 0}


def test_vllm_hand_off_on_one_row_keeps_the_stored_values() -> None:
    """vLLM's disaggregated fit, 3 parameters on 1 row (the run that was its one calibration row until it proved to
    record no client count; two refits on it had moved the hand-off 15 ms -> 20 ms -> 1.95 s): the stored profile
    comes back unchanged (15.025 ms, 64 clients a rank, 0.7), loss before = after."""
    vllm = catalog.engine("vllm")
    pairs = scenarios_of([r for r in catalog.measurements() if r["engine"] == "vllm" and r["mode"] == "disagg"
                          and r["case_id"].endswith("qwen3_32b_h100_sxm_vllm_disagg_4000x1000_c_tp_epnone_2")])
    assert len(pairs) == 1 and _calibration("vllm") and not any(r["mode"] == "disagg" for r in _calibration("vllm"))
    fitted, before, after = fit_engine(vllm, pairs, tuple(SIZING_PARAMETERS), iterations=50)
    assert fitted == vllm and before == after > 0
    assert (fitted.disagg_ttft_overhead_s, fitted.disagg_decode_batch, fitted.disagg_prefill_utilization) == (
        vllm.disagg_ttft_overhead_s, vllm.disagg_decode_batch, vllm.disagg_prefill_utilization)
    assert abs(vllm.disagg_ttft_overhead_s - 15.025e-3) < 1e-9


def test_a_short_main_fit_keeps_the_profile_and_says_so() -> None:
    """The main fit on 2 rows for 11 parameters returns the profile as stored; the method written names what was
    not refitted and why, and keeps the simulator's account behind the steady fit's."""
    vllm = catalog.engine("vllm")
    pairs = scenarios_of([r for r in _calibration("vllm") if r["mode"] == "agg"][:2])
    fitted, before, after = fit_engine(vllm, pairs, iterations=5)
    assert fitted == vllm and before == after
    text = engine_refit_text(catalog.engine_text("vllm"), fitted, 2, before, after, "2026-12-04",
                             sizing_rows(_calibration("vllm")))
    method = tomllib.loads(text)["method"]
    assert "(not refitted: 2 rows for 11 parameters; the stored values kept)" in method
    assert ("disagg_ttft_overhead_s (0 rows), disagg_decode_batch (0 rows), disagg_prefill_utilization (0 rows) "
            "not refitted") in method
    assert "nothing refitted" in method and "sim_prefill_scale and sim_first_token_steps: grid search" in method
    assert method.count("the data does not give") == 1


def test_sglang_on_rocm_three_rows_keep_the_prior() -> None:
    """sglang-rocm has 3 calibration rows for 4 stack parameters: the fit returns SGLang's profile as stack_prior
    carries it to ROCm (gemm and memory scale 1, collective scale 1), and its method says it was not refitted."""
    rows = stack_rows(catalog.measurements("serving_published"), "sglang", "rocm")
    assert len(rows) == 3
    profile, before, after = fit_stack(catalog.engine("sglang"), "rocm", rows, stored_setting(), iterations=60)
    prior = stack_prior(catalog.engine("sglang"), "rocm")
    assert before == after
    for name in ("gemm_scale", "memory_scale", "step_overhead_s", "collective_scale"):
        assert getattr(profile, name) == getattr(prior, name)
    method = tomllib.loads(stack_toml(profile, before, after, "2026-12-04"))["method"]
    assert method.startswith("gemm_scale, memory_scale, step_overhead_s, collective_scale not refitted: "
                             "3 rows for 4 parameters")


@pytest.mark.e2e  # a refit (1.4 s): the end-to-end tier keeps the default run under a minute
def test_a_vllm_refit_writes_its_stored_hand_off_and_sizing() -> None:
    """refit_engines on vLLM's rows (one Nelder-Mead step, for speed): the file written keeps the stored hand-off
    15.025 ms and sizing 64 / 0.7, and its summary says nothing was refitted: no disaggregated calibration row."""
    from parity.fit import refit_engines
    (refit,) = refit_engines([r for r in catalog.measurements() if r["engine"] == "vllm"], 1, "2026-12-04")
    data = tomllib.loads(refit.text)
    assert data["scheduler"]["disagg_handoff"] == {"disagg_ttft_overhead": "15.025 ms"}
    assert data["disagg_sizing"] == {"disagg_decode_batch": 64.0, "disagg_prefill_utilization": 0.7}
    assert refit.summary.endswith("(+ 0 disaggregated rows for the hand-off and sizing, refitted on them: none, "
                                  "too few bear on each)")
