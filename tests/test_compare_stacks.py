"""`parity compare` runs each chip's engine as fitted on that chip's software stack (its software maturity)."""

import dataclasses
import json

import pytest

from click.testing import CliRunner

from parity import catalog
from parity.cli import cli
from parity.compare import compare
from parity.fleet import plan_fleet


def test_each_chip_takes_its_stacks_profile_of_the_engine() -> None:
    """vllm on ROCm is vllm-rocm, on CUDA vllm itself; generic has no stack profile of its own, so on ROCm it runs
    at ROCm's measured maturity (measured_stack_prior: still the generic profile, its kernel multipliers below 1);
    a what-if profile (the user's own numbers) is used as given, on every stack."""
    vllm, generic = catalog.engine("vllm"), catalog.engine("generic")
    assert catalog.engine_on(vllm, "rocm").id == "vllm-rocm" and catalog.engine_on(vllm, "cuda") is vllm
    on_rocm = catalog.engine_on(generic, "rocm")
    assert on_rocm.id == "generic" and on_rocm.gemm_scale < 1.0 and catalog.engine_on(generic, "cuda") is generic
    what_if = dataclasses.replace(vllm, gemm_scale=0.9)
    assert catalog.engine_on(what_if, "rocm") is what_if


def test_the_rocm_profile_lowers_the_mi300x_against_cuda_profile() -> None:
    """vllm-rocm's GEMM (0.62), all-reduce (0.60) and memory (0.82 against 0.91) scales are all below CUDA's vLLM,
    so the MI300X's tokens/s per chip under --engine vllm falls below what CUDA's profile gives it."""
    model, mi300x = catalog.model("llama-3.1-70b"), catalog.system("mi300x-platform")
    rocm = compare([mi300x], model, catalog.engine("vllm"))[0]
    cuda = compare([mi300x], model, dataclasses.replace(catalog.engine("vllm"), name="vLLM (CUDA's)"))[0]
    assert 0 < rocm.tokens_per_s_per_chip < cuda.tokens_per_s_per_chip


def test_rows_on_another_stack_name_the_fit_its_maturity_rests_on() -> None:
    """fuzz 23b 2.2: compare, search, fleet and formats price an Ascend row at sglang-cann's kernel scales, whose
    fit is 4 parameters on 4 DeepSeek-R1 runs; the row's assumptions say so. sglang on CANN is sglang-cann itself;
    ROCm's maturity is vllm-rocm's (sglang-rocm's 3 runs too few to refit any value); a CUDA profile on
    CUDA, or a what-if profile, says nothing."""
    generic, vllm, sglang = (catalog.engine(e) for e in ("generic", "vllm", "sglang"))
    fit = ("sglang-cann: 4 parameters (gemm_scale, memory_scale, collective_scale, step_overhead_s) fitted on 4 "
           "deepseek-r1 runs (rows B12-*)")
    for engine in (generic, vllm):
        assert catalog.maturity_note(catalog.engine_on(engine, "cann"), "cann") == (
            f"CANN software maturity: sglang-cann's kernel scales ({fit})")
    assert catalog.maturity_note(catalog.engine_on(sglang, "cann"), "cann") == (
        f"CANN software maturity: sglang-cann's own profile ({fit}; every other value sglang's)")
    assert catalog.maturity_note(catalog.engine_on(generic, "rocm"), "rocm") == (
        "ROCm software maturity: vllm-rocm's kernel scales (vllm-rocm: 4 parameters (gemm_scale, "
        "memory_scale, collective_scale, step_overhead_s) fitted on 22 runs of deepseek-r1, llama-3.1-405b, "
        "llama-3.1-70b, llama-3.1-8b (rows AMD-*, AMDP-*))")
    assert catalog.maturity_note(vllm, "cuda") == ""
    assert catalog.maturity_note(dataclasses.replace(vllm, gemm_scale=0.9), "cann") == ""
    model, a2 = catalog.model("llama-3.1-8b"), catalog.system("atlas-800-a2")
    (row,) = compare([a2], model, generic)
    (plan,) = plan_fleet(model, [a2], generic, 1e5, 0.05, 1024, 1024)
    said = f"CANN software maturity: sglang-cann's kernel scales ({fit})"
    assert said in row.assumptions and said in plan.assumptions
    assert plan.assumptions[1].endswith("engine profile generic (not fitted)") and plan.assumptions[2] == said


def test_a_cuda_profile_served_on_cann_is_flagged_and_names_its_maturity() -> None:
    """fuzz 23b 2.4: `serve --engine vllm` on an Ascend system runs vllm's host side as fitted on CUDA with
    sglang-cann's kernel scales (catalog.engine_for: no vllm profile on CANN); it is flagged, and its notes say
    which fit the kernel scales come from."""
    result = CliRunner().invoke(cli, ["serve", "--model", "qwen3-32b", "--system", "atlas-800-a2", "--tp", "2",
                                      "--engine", "vllm", "--model-kind", "steady", "--format", "json"])
    assert result.exit_code == 0, result.output
    served = json.loads(result.stdout)
    assert served["flags"] == ["kernel figures partly inherited on huawei-ascend-910b: GEMM int8, attention from "
                               "huawei-ascend-910c (parity show huawei-ascend-910b)",
                               "engine profile vllm fitted on cuda, not on cann"]
    assert ("engine profile vllm was fitted on cuda, not on this chip's cann; CANN software maturity: sglang-cann's "
            "kernel scales (sglang-cann: 4 parameters") in served["note"]


def test_compares_note_says_a_profile_runs_off_its_stack() -> None:
    """`compare atlas-800-a3 --engine vllm` left the 910C row's note empty: its only flag, vLLM's CUDA fit run on
    CANN, had no brief, and only the JSON said it (fuzz 24 4.1)."""
    (row,) = json.loads(CliRunner().invoke(cli, ["compare", "atlas-800-a3", "--model", "qwen3-32b", "--engine", "vllm",
                                                 "--format", "json"]).stdout)
    assert "vllm fitted on cuda" in row["note"]
    assert "engine profile vllm fitted on cuda, not on cann" in row["flags"]


def test_tensorrt_llm_on_another_vendors_chip_says_it_does_not_run_there() -> None:
    """compare --engine trtllm priced an Atlas 800 A3 and an MI300X flagged only 'trtllm fitted on cuda', as if
    TensorRT-LLM ran on CANN or ROCm at another maturity (report-only tester fuzzDN 2); vLLM, which runs there, keeps
    the fitted-elsewhere flag."""
    from parity.uncertainty import case_flags
    model = catalog.model("llama-3.1-8b")
    for system, stack in (("atlas-800-a3", "cann"), ("mi300x-platform", "rocm")):
        flags = case_flags([(catalog.system(system), None)], model, catalog.engine("trtllm"), [], 0)
        said = [f for f in flags if "trtllm" in f.text]
        assert [(f.text, f.brief) for f in said] == [(
            f"engine profile trtllm does not run on {stack} (NVIDIA's TensorRT-LLM builds on CUDA alone): priced as "
            "if it did", f"trtllm does not run on {stack}")]
    vllm = case_flags([(catalog.system("atlas-800-a3"), None)], model, catalog.engine("vllm"), [], 0)
    assert any(f.text == "engine profile vllm fitted on cuda, not on cann" for f in vllm)


def test_an_unfitted_stack_profile_is_flagged_as_the_generic_one_is() -> None:
    """report-only tester fixen 1-2: `--engine sglang` on an MI300X ran sglang-rocm, whose 3 rows fitted nothing,
    with no flag and a normal interval. Priced at ROCm's measured maturity instead, it is flagged (a flag widens the
    interval, uncertainty.widening) naming the unfitted profile, as sglang-rocm named (which runs as sglang) is; the
    generic engine's flag on ROCm says its kernels run at the maturity fitted on vllm-rocm's 22 runs, on CUDA it says
    no more. The MI300X's own flag leads each list: its kernel figures partly inherited
    (uncertainty.calibration_flag)."""
    from parity.flags import texts
    from parity.uncertainty import case_flags
    model = catalog.model("llama-3.1-70b")
    mi300x, h200 = [(catalog.system("mi300x-platform"), None)], [(catalog.system("hgx-h200"), None)]
    unfitted = ("engine profile sglang-rocm not fitted to measurements (none fitted, its 3 deepseek-r1 runs (rows "
                "AMD-*) too few)")
    carried = catalog.engine_on(catalog.engine("sglang"), "rocm")
    partly = ("kernel figures partly inherited on amd-mi300x: GEMM bf16, attention, launch cost from nvidia-h200-sxm; "
              "GEMM int8 measured on no chip (parity show amd-mi300x)")
    assert texts(case_flags(mi300x, model, carried, [])) == [
        partly, f"{unfitted}: sglang fitted on cuda, at ROCm's software maturity, fitted on 22 runs (vllm-rocm)"]
    assert texts(case_flags(mi300x, model, catalog.engine("sglang-rocm"), [])) == [partly, unfitted]
    assert texts(case_flags(mi300x, model, catalog.engine("vllm-rocm"), [])) == [partly]
    generic = catalog.engine("generic")
    assert texts(case_flags(mi300x, model, catalog.engine_on(generic, "rocm"), [])) == [
        partly, "engine profile generic not fitted to measurements; its kernels at ROCm's software maturity, "
        "fitted on 22 runs (vllm-rocm)"]
    assert texts(case_flags(h200, model, generic, [])) == ["engine profile generic not fitted to measurements"]


@pytest.mark.e2e  # over 1.5 s: a compare of two systems
def test_compare_names_each_stack_and_the_maturity_it_runs_at() -> None:
    """report-only tester fixen 2: compare's caption said 'Every row: engine profile generic not fitted to
    measurements', never that the MI300X row runs at ROCm's maturity fitted on 22 runs; it now names each stack."""
    out = CliRunner().invoke(cli, ["compare", "hgx-h200", "mi300x-platform", "--model", "llama-3.1-70b", "--format",
                                   "md"]).stdout
    assert ("Software stacks: CUDA (hgx-h200): the chips' calibrated kernel rates; ROCm (mi300x-platform): ROCm's "
            "software maturity, fitted on 22 runs (vllm-rocm).") in out
    # tester fixsm 1: the flag said the maturity again ('Only mi300x-platform: ...; its kernels at ROCm's software
    # maturity, ...'); said in the stacks sentence alone, both rows' flag is the same and said once
    assert out.count("ROCm's software maturity") == 1
    assert "Every row: engine profile generic not fitted to measurements. " in out
    # the one row's own flag: the MI300X's kernel figures, partly the H200's (its interval 1.25 times as wide)
    assert out.count("Only ") == 1 and "Only mi300x-platform: kernel figures partly inherited on amd-mi300x" in out


@pytest.mark.e2e  # over 1.5 s: a compare of two systems
def test_compare_says_a_carried_profiles_maturity_once() -> None:
    """tester fixsm 1: `compare mi300x-platform hgx-h200 --engine sglang` said ROCm's maturity in the unfitted
    sglang-rocm flag ('sglang fitted on cuda, at ROCm's software maturity, fitted on 22 runs (vllm-rocm)') and again
    under 'Software stacks'; the flag keeps what the stacks sentence does not say, the JSON keeps the flag whole."""
    args = ["compare", "mi300x-platform", "hgx-h200", "--model", "llama-3.1-70b", "--engine", "sglang"]
    out = CliRunner().invoke(cli, [*args, "--format", "md"]).stdout
    assert out.count("ROCm's software maturity, fitted on 22 runs (vllm-rocm)") == 1
    assert out.count("Only ") == 1 and "Only mi300x-platform: kernel figures partly inherited on amd-mi300x" in out
    assert ("; engine profile sglang-rocm not fitted to measurements (none fitted, its 3 deepseek-r1 runs (rows "
            "AMD-*) too few): sglang fitted on cuda. ") in out  # in the one 'Only mi300x-platform:' sentence
    assert "Software stacks: ROCm (mi300x-platform): ROCm's software maturity, fitted on 22 runs (vllm-rocm);" in out
    rows = json.loads(CliRunner().invoke(cli, [*args, "--format", "json"]).stdout)
    assert any(f.endswith("sglang fitted on cuda, at ROCm's software maturity, fitted on 22 runs (vllm-rocm)")
               for f in rows[0]["flags"])


def test_the_model_page_quotes_the_fitted_stack_scales() -> None:
    """report-only tester fixen 5: docs/model.md said vLLM on ROCm runs GEMMs at 0.68 and streams at 0.83 where
    vllm-rocm.toml holds 0.604 and 0.888; the page's figures are the files' to two places."""
    from pathlib import Path
    page = " ".join((Path(__file__).parent.parent / "docs" / "model.md").read_text().split())
    rocm, cann = catalog.engine("vllm-rocm"), catalog.engine("sglang-cann")
    assert (f"SGLang on CANN keeps CUDA's GEMM rate ({cann.gemm_scale:.2f}) and streams at {cann.memory_scale:.2f} of "
            f"it, vLLM on ROCm runs GEMMs at {rocm.gemm_scale:.2f} and streams at {rocm.memory_scale:.2f}") in page
