"""serve's options for the launch settings a cases table's columns set (cli.launch_options): a published row run
through serve gives validate's figure, its serve line says every setting, and what a run does not read is refused;
the caption names the experts' exchange and two-batch overlap; a layout refusal names the option typed (report-only
tester FA 1-4)."""

from __future__ import annotations

import csv
import json
import shlex
from importlib import resources

import pytest
from click.testing import CliRunner

from parity.cli import cli
from parity.cli.serve_line import serve_command
from parity.predict import case_from_row, predict_cases
from parity.validate import published_errors

V3_H100 = ["serve", "--model", "deepseek-v3", "--system", "hgx-h100", "--engine", "sglang", "--weights", "fp8_block",
           "--kv", "bf16"]
C02 = [*V3_H100, "--phase", "prefill", "--batch", "512", "--isl", "1024", "--tp", "1", "--attn-dp", "32", "--moe-tp",
       "1", "--moe-ep", "32", "--moe-overlap", "1"]
C03 = [*V3_H100, "--phase", "decode", "--batch", "18432", "--context", "2000", "--tp", "1", "--attn-dp", "72",
       "--moe-tp", "1", "--moe-ep", "72", "--redundant-experts", "32"]
B12 = ["serve", "--model", "deepseek-r1", "--system", "atlas-800-a3", "--engine", "sglang", "--weights", "int8",
       "--moe-weights", "w4a8", "--isl", "2048", "--osl", "2048", "--concurrency", "256", "--tp", "1", "--attn-dp",
       "16", "--moe-ep", "16", "--mtp", "3"]
B12_LAUNCH = ["--separate-prefill", "--moe-all-to-all", "--max-prefill-tokens", "1500", "--chunked-prefill-size", "-1"]


def _record(*args: str) -> dict:
    result = CliRunner().invoke(cli, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _refusal(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 2, result.output
    return result.output


def _validated(case_id: str) -> float:
    """validate's prediction of one row of serving_published.csv (the simulator's where it runs the row)."""
    text = resources.files("parity").joinpath("data/measurements/serving_published.csv").read_text()
    rows = [r for r in csv.DictReader(text.splitlines()) if r["case_id"] == case_id]
    (error,) = published_errors(rows, model_kind="sim")
    return error.predicted


def test_sglangs_expert_all_to_all_gives_validates_prefill_rate() -> None:
    """C02 (LMSYS, 4 x 8 H100, EP32): the row sets moe_all_to_all, which serve had no option for: its SGLang default,
    the prompt tokens gathered by all-reduce over 32 ranks, took a 10.52 s step (1,557.6 input tok/s a chip) where
    validate prices 2.011 s (8,145.8: 16 x 1,024 x 32 tokens / 2.011 s / 32 chips). --moe-all-to-all gives
    validate's figure, the caption names the exchange priced, and the serve line says it."""
    gathered, sent = _record(*C02), _record(*C02, "--moe-all-to-all")
    assert gathered["step_s"] == pytest.approx(10.519, abs=1e-3)
    assert gathered["input_tokens_per_s_per_chip"] == pytest.approx(1557.6, abs=0.1)
    assert sent["step_s"] == pytest.approx(2.0114, abs=1e-4)
    assert sent["input_tokens_per_s_per_chip"] == pytest.approx(8145.8, abs=0.1)
    assert sent["input_tokens_per_s_per_chip"] == pytest.approx(_validated("C02-h100-prefill-1k"), rel=1e-9)
    assert "gather the group's tokens for the experts by all-reduce, no all-to-all" in gathered["note"]
    assert "prompt steps send tokens to the experts by all-to-all" in sent["note"]
    assert sent["serve_command"].endswith("--moe-overlap 1.0 --moe-all-to-all")
    assert _record(*shlex.split(sent["serve_command"])[1:])["step_s"] == sent["step_s"]
    # the opposite, where a stack's default is the all-to-all: --no-moe-all-to-all gathers, and is said so
    regathered = _record(*C02, "--no-moe-all-to-all")
    assert regathered["step_s"] == gathered["step_s"] and regathered["serve_command"].endswith("--no-moe-all-to-all")


def test_sglangs_prompt_budgets_give_validates_ascend_tpot() -> None:
    """B12 (SGLang on Atlas 800I A3, 2k/2k, 256 clients): the row's launch, prompt steps apart, DeepEP all-to-all,
    --max-prefill-tokens 1500 and chunked prefill off, puts TPOT at 57.2 ms, as predict and validate do; serve
    without them gave 81.8 ms. The serve line says each, and runs to the same figure."""
    plain, launched = _record(*B12), _record(*B12, *B12_LAUNCH)
    assert plain["tpot_s"] == pytest.approx(0.0818, abs=1e-4)
    assert launched["tpot_s"] == pytest.approx(0.0572, abs=1e-4)
    assert launched["output_tokens_per_s_per_user"] == pytest.approx(_validated("B12-a3-dsr1-w4a8-2k2k-mixed"),
                                                                     rel=1e-9)
    line = launched["serve_command"]
    assert ("--max-prefill-tokens 1500 --chunked-prefill-size -1 --separate-prefill --moe-all-to-all "
            "--rank-per-die --model-kind sim") in line
    assert _record(*shlex.split(line)[1:])["tpot_s"] == launched["tpot_s"]


def test_bf16_attention_weights_give_validates_per_user_rate() -> None:
    """C08-b200-mtp3 (TensorRT-LLM, DeepSeek-R1 NVFP4 with bf16 attention, MTP 3): 309.2 tok/s a user as validate
    gives; serve, with no option for attention_weights, gave 330.5 (all NVFP4)."""
    args = ["serve", "--model", "deepseek-r1", "--system", "hgx-b200", "--engine", "trtllm", "--weights", "nvfp4",
            "--kv", "fp8", "--isl", "1024", "--osl", "2048", "--concurrency", "1", "--tp", "8", "--moe-tp", "2",
            "--moe-ep", "4", "--mtp", "3", "--mtp-acceptance", "1.82"]
    assert _record(*args)["output_tokens_per_s_per_user"] == pytest.approx(330.5, abs=0.1)
    bf16 = _record(*args, "--attention-weights", "bf16")
    assert bf16["output_tokens_per_s_per_user"] == pytest.approx(309.2, abs=0.1)
    assert bf16["output_tokens_per_s_per_user"] == pytest.approx(_validated("C08-b200-mtp3"), rel=1e-9)
    assert "--attention-weights bf16" in bf16["serve_command"]


def test_an_offline_rows_engine_caps_give_validates_throughput() -> None:
    """AMD-001 (vLLM on MI300X, Llama-3.1-70B FP8, 128 in / 2,048 out, every request at once): validate prices
    2,017.06 tok/s a chip at 3,200 sequences (max_num_seqs 3200); serve's --scenario offline gave 1,954.2, the
    engine's own cap of 2,048 sequences being the difference (--max-num-seqs 3200 alone: 2,016.1). With the row's
    columns as options the steady closed loop gives validate's figure, and its line says them."""
    base = ["serve", "--model", "llama-3.1-70b", "--system", "mi300x-platform", "--engine", "vllm", "--weights", "fp8",
            "--kv", "fp8", "--isl", "128", "--osl", "2048", "--tp", "8"]
    assert _record(*base, "--scenario", "offline")["output_tokens_per_s_per_chip"] == pytest.approx(1954.2, abs=0.1)
    capped = _record(*base, "--scenario", "offline", "--max-num-seqs", "3200")
    assert capped["output_tokens_per_s_per_chip"] == pytest.approx(2016.1, abs=0.1)
    assert capped["decode_batch"] == 3200
    version = "vLLM 0.11.1 RC (ROCm 7.0.0) - vllm bench throughput (offline)"
    row = _record(*base, "--concurrency", "3200", "--model-kind", "steady", "--random-range-ratio", "1",
                  "--max-num-seqs", "3200", "--max-num-tokens", "131072", "--offline-engine", "--engine-version",
                  version)
    assert row["output_tokens_per_s_per_chip"] == pytest.approx(2017.06, abs=0.01)
    assert row["output_tokens_per_s_per_chip"] * row["chips"] == pytest.approx(_validated("AMD-001"), rel=1e-9)
    assert (f"--max-num-seqs 3200 --max-num-tokens 131072 --offline-engine --engine-version '{version}'"
            in row["serve_command"])


def test_what_a_run_does_not_read_is_refused() -> None:
    """The simulator's prompt budgets with the steady model, the closed loop's engine caps in one --phase step, a
    decode worker's backend in an aggregated run and a chunk of 0 tokens are refused, naming the option."""
    steady = _refusal(*B12, "--max-prefill-tokens", "1500", "--model-kind", "steady")
    assert "--max-prefill-tokens need" in steady and "the simulator" in steady
    phase = _refusal(*C02, "--max-num-seqs", "64", "--separate-prefill")
    assert "--max-num-seqs, --separate-prefill are not read by --phase prefill" in phase
    agg = _refusal(*B12, "--decode-moe-backend", "deepgemm")
    assert "--decode-moe-backend sets the disaggregated workers: add --mode disagg" in agg
    assert "must be -1 (off) or a whole number >= 1, got 0" in _refusal(*B12, "--chunked-prefill-size", "0")
    assert "must be -1 (off) or a whole number >= 1, got -5" in _refusal(*B12, "--chunked-prefill-size", "-5")


@pytest.mark.parametrize("option, said", [
    (["--moe-all-to-all"], "moe_all_to_all (--moe-all-to-all, --no-moe-all-to-all) sets how the experts run"),
    (["--no-moe-all-to-all"], "moe_all_to_all (--moe-all-to-all, --no-moe-all-to-all) sets how the experts run"),
    (["--moe-backend", "deepgemm"], "moe_backend (--moe-backend) sets how the experts run"),
    (["--normal-all-to-all"], "normal_all_to_all (--normal-all-to-all) sets how the experts run"),
    (["--fp8-gemm", "deep_gemm"], "fp8_gemm (--fp8-gemm) deep_gemm picks the FP8 GEMM; the weights here are bf16, "
                                  "with no FP8 matrix"),
])
def test_a_setting_a_dense_or_bf16_model_does_not_read_is_refused(option: list[str], said: str) -> None:
    """Llama-3.1-70B has no experts and serves bf16: how experts run and a block-FP8 GEMM change nothing of its run,
    and were taken without a word (regression tester fixfc 2); refused in one line, as predict refuses the column."""
    args = ["serve", "--model", "llama-3.1-70b", "--system", "hgx-h200", "--tp", "8", "--model-kind", "steady"]
    assert said in _refusal(*args, *option)
    row = {"case_id": "x", "model": "llama-3.1-70b", "system": "hgx-h200", "isl": "1024", "osl": "128",
           "concurrency": "8", "tp": "8", option[0].removeprefix("--no-").removeprefix("--").replace("-", "_"):
           option[1] if len(option) > 1 else "1"}
    (predicted,) = predict_cases([case_from_row(row)])
    assert not predicted.feasible and said in predicted.note


def test_the_caption_says_whether_two_batch_overlap_hides_the_experts_exchange() -> None:
    """C03's decode step (EP72) is 98.7 / 76.9 / 69.1 ms at --moe-overlap none (SGLang's 0) / 0.5 / 1, and its
    notes were the same; each now says what it priced, apart from the host's overlap scheduling."""
    steps = {overlap: _record(*C03, *(["--moe-overlap", overlap] if overlap else [])) for overlap in ("", "0.5", "1")}
    assert [round(r["step_s"] * 1e3, 1) for r in steps.values()] == [98.7, 76.9, 69.1]
    assert "expert dispatch/combine not overlapped with computation (no two-batch overlap)" in steps[""]["note"]
    assert "expert dispatch/combine overlapped with computation (two-batch overlap, share 0.5)" in steps["0.5"]["note"]
    assert "(two-batch overlap, share 1)" in steps["1"]["note"]
    # a dense model, and an MoE run under attention TP (no all-to-all to hide), say nothing of it
    assert "two-batch" not in _record("serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--phase",
                                      "decode", "--batch", "8", "--context", "1024")["note"]
    assert "two-batch" not in _record("serve", "--model", "deepseek-r1", "--system", "hgx-h200", "--tp", "8",
                                      "--moe-ep", "8", "--phase", "decode", "--batch", "8", "--context", "1024")["note"]


def test_a_layout_refusal_names_the_option_typed() -> None:
    """--decode-tp 3 was refused 'tp must divide num_attention_heads (128), got 3', a disaggregated run's user left
    to guess which tp; it names --decode-tp, and --tp where that is the one."""
    disagg = ["serve", "--model", "deepseek-r1", "--system", "hgx-h200", "--engine", "sglang", "--mode", "disagg",
              "--model-kind", "steady"]
    assert "--decode-tp must divide num_attention_heads (128), got 3" in _refusal(*disagg, "--tp", "8",
                                                                                  "--decode-tp", "3")
    assert "--tp must divide num_attention_heads (128), got 3" in _refusal(*disagg, "--tp", "3")
    assert "--pp must be at most the number of layers (61), got 100" in _refusal(*disagg, "--tp", "8", "--pp", "100")


def test_a_rows_launch_settings_are_said_by_its_serve_line_which_prices_it_the_same() -> None:
    """A cases-table row setting engine launch columns (eager, normal_all_to_all, max_num_tokens, max_num_seqs,
    moe_backend, fp8_gemm, engine_version, separate_prefill) has a serve line that says each, and serve prices that
    line as predict prices the row; a disaggregated row's decode backend and prompt cap are said too."""
    row = {"model": "deepseek-r1", "system": "hgx-b200", "engine": "trtllm", "isl": "1024", "osl": "1024",
           "concurrency": "64", "tp": "8", "attn_dp": "1", "moe_ep": "8", "eager": "true", "normal_all_to_all": "true",
           "max_num_tokens": "4096", "max_num_seqs": "48", "moe_backend": "cutlass", "fp8_gemm": "deep_gemm",
           "engine_version": "TensorRT-LLM 1.1.0", "separate_prefill": "true"}
    case = case_from_row(row)
    line = serve_command(case, moe=True)
    assert ("--max-num-seqs 48 --max-num-tokens 4096 --eager --normal-all-to-all --separate-prefill "
            "--engine-version 'TensorRT-LLM 1.1.0' --fp8-gemm deep_gemm --moe-backend cutlass") in line
    (predicted,) = predict_cases([case])
    served = _record(*shlex.split(line)[1:])
    assert served["tpot_s"] == pytest.approx(predicted.tpot_s, rel=1e-12)
    assert served["ttft_s"] == pytest.approx(predicted.ttft_s, rel=1e-12)
    disagg = case_from_row({**row, "mode": "disagg", "prefill_moe_backend": "cutlass", "decode_moe_backend": "deepgemm",
                            "prefill_batch": "2", "prefill_workers": "1", "decode_workers": "1"})
    assert ("--moe-backend cutlass --decode-moe-backend deepgemm --prefill-batch 2"
            in serve_command(disagg, moe=True))
