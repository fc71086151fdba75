"""What `serve`, `predict` and `sweep` records say of their own run: the math a format is emulated on, the inputs
that make a row joinable, whole counts as integers, and a worker wider than one system."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from parity import catalog
from parity.cli import cli
from parity.compare import compare
from parity.cost import emulation
from parity.predict import predict_rows

FP8_ON_910B = ["serve", "--system", "atlas-800-a2", "--weights", "fp8", "--model", "llama-3.1-8b", "--concurrency", "4",
               "--osl", "128", "--model-kind", "steady"]


def _run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def test_serve_says_a_format_runs_emulated_as_compare_does() -> None:
    """fp8 on a 910B runs dequantised on bf16; serve's JSON and notes said nothing of it ('emul' 0 times) where
    compare and formats say 'fp8 emulated on bf16'. Its note is compare's own (cost.emulation)."""
    said = "fp8 emulated on bf16 (huawei-ascend-910b has no FP8 math)"
    assert emulation("fp8", catalog.system("atlas-800-a2").chip) == ("bf16", said)
    data = json.loads(_run(*FP8_ON_910B, "--format", "json"))
    assert (data["emulated_on"], said in data["note"]) == ("bf16", True)
    assert said in " ".join(_run(*FP8_ON_910B).split())  # the table's assumptions, however they wrap
    native = json.loads(_run(*FP8_ON_910B[:2], "hgx-h100", *FP8_ON_910B[3:], "--format", "json"))
    assert (native["emulated_on"], "emulated" in native["note"]) == ("", False)


def test_predict_has_an_emulated_on_column(tmp_path: Path) -> None:
    cases = tmp_path / "cases.csv"
    cases.write_text("case_id,model,system,weights,isl,osl,concurrency\n"
                     "a,llama-3.1-8b,atlas-800-a2,fp8,1024,128,4\nb,llama-3.1-8b,hgx-h100,fp8,1024,128,4\n")
    rows = list(csv.DictReader(io.StringIO(_run("predict", str(cases), "--format", "csv"))))
    assert [(r["case_id"], r["emulated_on"]) for r in rows] == [("a", "bf16"), ("b", "")]
    assert "fp8 emulated on bf16 (huawei-ascend-910b has no FP8 math)" in rows[0]["note"]


def test_the_experts_emulation_has_its_own_column() -> None:
    """gpt-oss-120b on an MI300X keeps its dense weights bf16 (native) and its mxfp4 experts, nearly all its weights,
    run on FP8: the record said emulated_on '' while the assumptions said 'mxfp4 emulated on fp8'."""
    row = {"model": "gpt-oss-120b", "system": "mi300x-platform", "engine": "vllm", "tp": "1", "isl": "1024",
           "osl": "1024", "concurrency": "32"}
    moe, dense = predict_rows([row | {"case_id": "moe"}, row | {"case_id": "dense", "model": "llama-3.1-8b"}],
                              model_kind="steady")
    assert [(p.emulated_on, p.expert_emulated_on) for p in (moe, dense)] == [("", "fp8"), ("", "")]
    assert list(moe.row())[list(moe.row()).index("emulated_on") + 1] == "expert_emulated_on"
    assert "mxfp4 emulated on fp8 (amd-mi300x has no MXFP4 unit)" in moe.note


@pytest.mark.e2e  # a search, ~0.5 s
def test_compare_rows_carry_the_experts_emulation() -> None:
    (row,) = compare([catalog.system("mi300x-platform")], catalog.model("gpt-oss-120b"), catalog.engine("generic"),
                     weights="mxfp4", tpot_s=None)
    assert (row.to_dict()["emulated_on"], row.to_dict()["expert_emulated_on"]) == ("fp8", "fp8")


@pytest.mark.e2e  # a sweep or fleet run (over 1 s)
def test_sweep_rows_say_emulated_on_in_csv_and_parquet_alike(tmp_path: Path) -> None:
    """A sweep of fp8 on a 910B and an H100: the 910B's rows run on bf16; CSV and Parquet keep one set of columns."""
    pq = pytest.importorskip("pyarrow.parquet")
    spec = tmp_path / "spec.toml"
    spec.write_text('[axes]\nsystem = ["atlas-800-a2", "hgx-h100"]\nmodel = ["llama-3.1-8b"]\nweights = ["fp8"]\n'
                    'isl = [1024]\nosl = [128]\nconcurrency = [4]\n')
    for name in ("out.parquet", "out.csv"):
        _run("sweep", str(spec), "--out", str(tmp_path / name), "--workers", "1")
    table = pq.read_table(tmp_path / "out.parquet")
    rows = list(csv.DictReader((tmp_path / "out.csv").open()))
    assert table.column_names == list(rows[0])
    assert table.column("emulated_on").to_pylist() == ["bf16", None]
    assert [r["emulated_on"] for r in rows] == ["bf16", ""]


DISAGG = ["serve", "--model", "deepseek-r1", "--system", "hgx-h200", "--mode", "disagg", "--tp", "8", "--decode-tp",
          "8", "--moe-ep", "8", "--prefill-workers", "1", "--decode-workers", "2", "--concurrency", "64",
          "--model-kind", "steady"]


def test_serve_records_its_inputs_and_the_line_that_reruns_it() -> None:
    """serve --format json|csv carried none of its inputs (case_id the constant 'scenario'): rows of many runs could
    not be joined. Its formats are as resolved (the checkpoint's fp8_block, the engine's KV format), and its
    serve_command gives the same figures again."""
    data = json.loads(_run(*DISAGG, "--format", "json"))
    assert {k: data[k] for k in ("model", "system", "engine", "mode", "layout", "decode_layout", "concurrency", "isl",
                                 "osl", "weights", "moe_weights", "kv_cache", "mtp_tokens")} == {
        "model": "deepseek-r1", "system": "hgx-h200", "engine": "generic", "mode": "disagg", "layout": "tp8-ep8",
        "decode_layout": "tp8-ep8", "concurrency": 64, "isl": 1024, "osl": 1024, "weights": "fp8_block",
        "moe_weights": "fp8_block", "kv_cache": "bf16", "mtp_tokens": 0}
    assert data["serve_command"] == (
        "parity serve --model deepseek-r1 --system hgx-h200 --isl 1024 --osl 1024 --mode disagg --tp 8 --moe-ep 8 "
        "--decode-tp 8 --decode-pp 1 --decode-attn-dp 1 --decode-moe-ep 8 --prefill-workers 1 --decode-workers 2 "
        "--concurrency 64 --random-range-ratio 0.8 --model-kind steady")
    again = json.loads(_run(*data["serve_command"].split()[1:], "--format", "json"))
    assert (again["tpot_s"], again["serve_command"]) == (data["tpot_s"], data["serve_command"])
    row = next(csv.DictReader(io.StringIO(_run(*FP8_ON_910B, "--format", "csv"))))
    assert {k: row[k] for k in ("model", "system", "mode", "layout", "decode_layout", "weights", "concurrency")} == {
        "model": "llama-3.1-8b", "system": "atlas-800-a2", "mode": "agg", "layout": "tp1", "decode_layout": "",
        "weights": "fp8", "concurrency": "4"}


def test_a_simulated_serve_line_keeps_the_simulator_options() -> None:
    data = json.loads(_run(*FP8_ON_910B[:-2], "--seed", "3", "--num-prompts", "20", "--random-range-ratio", "0.5",
                           "--format", "json"))
    assert data["serve_command"] == (
        "parity serve --model llama-3.1-8b --system atlas-800-a2 --weights fp8 --isl 1024 --osl 128 --tp 1 "
        "--concurrency 4 --random-range-ratio 0.5 --model-kind sim --num-prompts 20 --seed 3")
    again = json.loads(_run(*data["serve_command"].split()[1:], "--format", "json"))
    assert again["ttft_p99_s"] == data["ttft_p99_s"]


def test_counts_are_integers_and_an_aggregated_run_has_no_worker_counts() -> None:
    """serve wrote chips 8.0 and, aggregated, prefill_workers 0.0 and decode_workers 0.0 ('no workers'); search
    wrote concurrency 512.0 and chips 4.0. Counts are integers; an aggregated run's worker counts are null (empty in
    CSV): its one kind of worker is neither, and chips counts it."""
    agg = json.loads(_run(*FP8_ON_910B[:-2], "--format", "json"))  # the simulator's run
    assert (agg["chips"], agg["prefill_workers"], agg["decode_workers"]) == (1, None, None)
    assert isinstance(agg["chips"], int)
    row = next(csv.DictReader(io.StringIO(_run(*FP8_ON_910B, "--format", "csv"))))
    assert (row["chips"], row["prefill_workers"], row["decode_workers"]) == ("1", "", "")
    disagg = json.loads(_run(*DISAGG, "--format", "json"))
    assert [(disagg[k], type(disagg[k])) for k in ("chips", "prefill_workers", "decode_workers")] == [
        (24, int), (1, int), (2, int)]
    best = json.loads(_run("search", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--format", "json"))["best"]
    assert [(best[k], type(best[k])) for k in ("concurrency", "chips")] == [(1255, int), (2, int)]


def test_a_worker_wider_than_one_system_says_it_spans_systems() -> None:
    """serve --tp 16 on an 8-chip HGX H100 priced its all-reduces over scale-out and said nothing of it, where
    compare says 'spans 2 systems'; a disaggregated run says it of each worker that spans."""
    said = "the worker spans 2 hgx-h100 systems over scale-out"
    wide = json.loads(_run("serve", "--model", "llama-3.1-70b", "--system", "hgx-h100", "--tp", "16", "--model-kind",
                           "steady", "--format", "json"))
    assert said in wide["note"]
    assert "spans" not in json.loads(_run("serve", "--model", "llama-3.1-70b", "--system", "hgx-h100", "--tp", "8",
                                          "--model-kind", "steady", "--format", "json"))["note"]
    disagg = json.loads(_run(*DISAGG[:10], "16", *DISAGG[11:], "--format", "json"))["note"]
    assert "the decode worker spans 2 hgx-h200 systems over scale-out" in disagg and "prefill worker spans" not in disagg


def test_a_worker_of_dies_names_the_catalog_system_and_its_dies() -> None:
    """--rank-per-die on an Atlas 800 A3 (8 910Cs, 16 dies): TP 32 is 32 dies, 2 systems. The note named the internal
    'atlas-800-a3-per-die', which `parity show` does not know (fuzz16 4.4)."""
    note = json.loads(_run("serve", "--model", "qwen3-30b-a3b", "--system", "atlas-800-a3", "--rank-per-die", "--tp",
                           "32", "--model-kind", "steady", "--format", "json"))["note"]
    assert "the worker spans 2 atlas-800-a3 systems (32 dies) over scale-out" in note and "per-die" not in note


def test_serve_records_the_matrices_a_checkpoints_skip_list_keeps_bf16() -> None:
    """DeepSeek-V3.1-NVFP4 from its checkpoint keeps q_a, q_b, kv_a and kv_b bf16 (its skip list), and so does
    --weights nvfp4, its own format (fuzzEM 2: the list was dropped); another format named with --weights
    re-quantizes the dense side, and the record says so by listing none."""
    run = ["serve", "--model", "deepseek-v3.1-nvfp4", "--system", "hgx-b200", "--tp", "8", "--moe-ep", "8",
           "--concurrency", "64", "--model-kind", "steady", "--format", "json"]
    assert json.loads(_run(*run))["unquantized_matrices"] == ["kv_a", "kv_b", "q_a", "q_b"]  # a list, as `model`'s
    assert json.loads(_run(*run, "--weights", "nvfp4"))["unquantized_matrices"] == ["kv_a", "kv_b", "q_a", "q_b"]
    assert json.loads(_run(*run, "--weights", "fp8"))["unquantized_matrices"] == []


def test_flags_are_a_list_in_json_and_its_json_text_in_csv_for_serve_and_predict(tmp_path: Path) -> None:
    """serve's JSON held a list, predict's JSON a joined string; then CSV joined the sentences by '; ', which many
    sentences hold themselves (an uncalibrated chip's, a power assumption's), so a cell could not be split back (report-only tester fuzzCE):
    JSON holds a list and CSV its JSON text ('[]' where none), in both commands."""
    said = ["emulation rate assumed: fp8 on bf16 at 0.8 of the wider unit, no measurement (family-davinci-910 carries "
            "the prior)", "kernel figures partly inherited on huawei-ascend-910b: GEMM int8, attention from "
            "huawei-ascend-910c (parity show huawei-ascend-910b)", "engine profile generic not fitted to measurements; "
            "its kernels at CANN's software maturity, fitted on 4 runs (sglang-cann)"]
    assert json.loads(_run(*FP8_ON_910B, "--format", "json"))["flags"] == said
    serve_csv = [r["flags"] for r in csv.DictReader(io.StringIO(_run(*FP8_ON_910B, "--format", "csv")))]
    assert [json.loads(cell) for cell in serve_csv] == [said]
    cases = tmp_path / "cases.csv"
    cases.write_text("case_id,model,system,engine,weights,isl,osl,concurrency\n"
                     "a,llama-3.1-8b,atlas-800-a2,,fp8,1024,128,4\nb,llama-3.1-8b,hgx-h100,sglang,,1024,128,4\n")
    listed = json.loads(_run("predict", str(cases), "--format", "json", "--model-kind", "steady"))
    assert [r["flags"] for r in listed] == [said, []]
    rows = csv.DictReader(io.StringIO(_run("predict", str(cases), "--format", "csv", "--model-kind", "steady")))
    assert [json.loads(r["flags"]) for r in rows] == [said, []]


def test_memory_per_chip_is_what_the_run_holds_the_held_back_share_included(tmp_path: Path) -> None:
    """memory_bytes_per_chip read 42.8 GB at 64 clients and exactly 80e9 (an H100's whole memory) at 400, beside a
    note 'KV cache gets 90% of memory': one meaning, the memory the run holds with the share the engine holds back
    (10% under vllm) counted as in use, so a KV-bound run that fills the pool reads the whole chip. The note says
    what the 90% is."""
    cases = tmp_path / "cases.csv"
    cases.write_text("model,system,engine,tp,isl,osl,concurrency\n"
                     + "".join(f"llama-3.1-70b,hgx-h100,vllm,8,1024,8192,{c}\n" for c in (64, 400)))
    light, bound = json.loads(_run("predict", str(cases), "--model-kind", "steady", "--format", "json"))
    assert (light["memory_bytes_per_chip"], bound["memory_bytes_per_chip"]) == (42_779_848_192.0, 80e9)
    said = ("; the engine holds back 10% of memory (its KV share 90%) and 3 GB more (CUDA context, graphs and "
            "communication buffers: an assumption); memory per chip counts these")
    assert said in light["note"] and said in bound["note"]


NVFP4_ON_H100 = ["serve", "--model", "llama-3.1-70b", "--system", "h100", "--tp", "8", "--weights", "nvfp4"]
NVFP4_FLAGS = ["emulation rate assumed: nvfp4 on fp8 at 0.8 of the wider unit, no measurement "
               "(nvidia-h200-sxm-measured carries the prior)", "engine profile generic not fitted to measurements"]
# what every serve record says of the case and its pricing, whichever scenario or step it ran (serve_inputs, and
# Prediction.row's keys of how it was priced)
CASE_KEYS = {"case_id", "model", "system", "engine", "mode", "layout", "decode_layout", "concurrency", "isl", "osl",
             "weights", "moe_weights", "kv_cache", "unquantized_matrices", "mtp_tokens", "rank_per_die",
             "serve_command", "chips", "feasible", "note", "flags", "emulated_on", "expert_emulated_on"}


@pytest.mark.parametrize("scenario", [("--scenario", "offline"), ("--scenario", "server", "--request-rate", "2")])
def test_offline_and_server_records_flag_and_key_as_the_closed_loop_does(scenario: tuple[str, ...]) -> None:
    """NVFP4 on an H100 under --scenario offline|server: its JSON had no flags and no emulated_on, its table dropped
    the emulation and engine flags the closed loop gives, a list 'assumptions' stood for the closed loop's 'note' and
    chips was 8.0 (report-only tester fixdz2 1). The same flags, note and keys as the closed loop's record, chips an
    integer, and a serve line that prices it again."""
    closed = json.loads(_run(*NVFP4_ON_H100, "--model-kind", "steady", "--format", "json"))
    data = json.loads(_run(*NVFP4_ON_H100, *scenario, "--format", "json"))
    assert CASE_KEYS <= set(closed) and CASE_KEYS <= set(data) and "assumptions" not in data
    assert data["flags"] == closed["flags"] == NVFP4_FLAGS
    assert (data["emulated_on"], data["expert_emulated_on"], data["chips"], type(data["chips"])) == ("fp8", "", 8, int)
    assert (data["concurrency"], data["isl"], data["osl"], data["isl_max"], data["lengths"]) == (
        None, 1024, 1024, 1024, None)
    assert data["note"].startswith("nvfp4 emulated on fp8 (nvidia-h100-sxm has no NVFP4 unit); KV cache bf16 "
                                   "(engine default); ") and data["note"].endswith(
        "; calibration: fitted: parity's serving runs on it fitted the engine profiles; its kernel figures' "
        "calibration inherited from nvidia-h200-sxm (hopper family); kernel figures: inherited: from "
        "nvidia-h200-sxm (nvidia-h200-sxm-measured, 503 microbenchmark points): GEMM bf16/fp8, attention, HBM "
        "bandwidth, launch cost; measured on no chip: GEMM int8, collectives")
    assert data["serve_command"] == ("parity serve --model llama-3.1-70b --system hgx-h100 --weights nvfp4 "
                                     f"--scenario {scenario[1]} --isl 1024 --osl 1024 --tp 8"
                                     + (" --request-rate 2.0" if len(scenario) > 2 else ""))
    assert json.loads(_run(*data["serve_command"].split()[1:], "--format", "json")) == data
    text = " ".join(_run(*NVFP4_ON_H100, *scenario).split())
    assert f"outside what was validated {NVFP4_FLAGS[0]}; {NVFP4_FLAGS[1]}" in text
    row = next(csv.DictReader(io.StringIO(_run(*NVFP4_ON_H100, *scenario, "--format", "csv"))))
    assert (json.loads(row["flags"]), row["chips"], row["emulated_on"]) == (NVFP4_FLAGS, "8", "fp8")


def test_a_lengths_mix_says_its_mean_and_longest_and_flags_the_longest(tmp_path: Path) -> None:
    """A --lengths mix is recorded as a trace is (mean lengths as isl and osl, the longest as isl_max and osl_max,
    the table's path) and its longest request is what is flagged: 200,000 + 100 tokens run 69,028 past
    Llama-3.1-70B's 131,072-token window."""
    lengths = tmp_path / "l.csv"
    lengths.write_text("isl,osl\n200000,100\n101,100\n")
    data = json.loads(_run(*NVFP4_ON_H100[:-2], "--scenario", "offline", "--lengths", str(lengths), "--format", "json"))
    assert (data["isl"], data["osl"], data["isl_max"], data["osl_max"], data["lengths"]) == (
        100050.5, 100, 200000, 100, str(lengths))
    assert data["flags"][0] == ("sequences of 200,100 tokens, 69,028 past llama-3.1-70b's context window of 131,072 "
                                "(config.json)")
    assert data["serve_command"].endswith(f"--scenario offline --lengths {lengths} --tp 8")


@pytest.mark.parametrize(("step", "workload"), [
    (("--phase", "decode", "--batch", "64", "--context", "2048"), {"batch": 64, "context": 2048, "isl": None}),
    (("--phase", "prefill", "--batch", "4", "--isl", "2048"), {"batch": 4, "context": None, "isl": 2048})])
def test_a_phase_step_records_its_case_and_workload(step: tuple[str, ...], workload: dict[str, object]) -> None:
    """serve --phase decode --format json had no model, system, batch or context (report-only tester fixdz2 3): its
    record states the case as the closed loop's does, its step's batch and context (decode) or prompt (prefill), the
    keys the step does not read None, and a serve line that prices it again."""
    data = json.loads(_run(*NVFP4_ON_H100, *step, "--format", "json"))
    assert CASE_KEYS <= set(data)
    assert {k: data[k] for k in ("model", "system", "layout", "concurrency", "osl", "emulated_on", "flags", *workload)
            } == {"model": "llama-3.1-70b", "system": "hgx-h100", "layout": "tp8", "concurrency": None, "osl": None,
                  "emulated_on": "fp8", "flags": NVFP4_FLAGS, **workload}
    assert data["serve_command"] == ("parity serve --model llama-3.1-70b --system hgx-h100 --weights nvfp4 "
                                     f"{' '.join(step)} --tp 8")
    assert json.loads(_run(*data["serve_command"].split()[1:], "--format", "json")) == data
