"""The command line: tables and machine formats, and one clear line with exit code 2 for user mistakes."""

import csv
import io
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from parity.cli import cli


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("args", [
    ("show", "h10"),
    ("compare", "no-such-system"),
    ("model", "deepsek-r1"),
    ("compare", "hgx-h100", "--model", "llama-3.1-8b", "--tpot", "-5ms"),
    ("formats", "hgx-h100", "--model", "llama-3.1-8b", "--formats", "fp7"),
])
def test_bad_names_give_one_line_and_exit_2(args: tuple[str, ...]) -> None:
    code, out, err = run(*args)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("parity: error: "), err
    assert "Traceback" not in err + out


def test_unknown_chip_names_close_matches() -> None:
    _, _, err = run("show", "h10")
    assert "did you mean nvidia-h100-sxm, hgx-h100, " in err  # the ids, not their aliases (fuzz round DS 9)


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "config.json: malformed JSON: Expecting property name enclosed in double quotes at line 1, "
                  "column 2\n"),
    ('{"hidden_size": 4096, "num_attention_heads": 32, "intermediate_size": 1, "vocab_size": 10}',
     "missing key 'num_hidden_layers'"),
    ("[1, 2]", "parity: error: config.json: a config must be a JSON object {...}, got an array\n"),
])
def test_malformed_or_incomplete_config_exits_2_naming_the_problem(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(content)
    code, _, err = run("model", str(path))
    assert code == 2 and message in err and err.count("\n") == 1


def test_titles_and_captions_read_as_text() -> None:
    """One client is singular in serve's title; compare's caption has no double space where a model without MTP
    modules leaves its MTP sentence out."""
    _, out, _ = run("serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--concurrency", "1",
                    "--model-kind", "steady", "--format", "md")
    assert "(agg, 1024 in / 1024 out, 1 client)" in out
    _, out, _ = run("compare", "hgx-h100", "--model", "llama-3.1-8b", "--format", "md")
    caption = out.strip().splitlines()[-1]
    assert "Engine profile: generic. tok/s:" in caption and "  " not in caption


def test_model_reads_a_config_path(tmp_path: Path) -> None:
    config = {"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4, "intermediate_size": 128,
              "vocab_size": 100}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    code, out, _ = run("model", str(path), "--format", "json")
    data = json.loads(out)
    # 2 layers x (4 x 64^2 + 3 x 64 x 128 + 2 x 64) + 2 x 100 x 64 + 64
    assert code == 0 and data["parameters"] == 2 * (4 * 64 * 64 + 3 * 64 * 128 + 128) + 2 * 100 * 64 + 64


def test_chips_and_systems_export_json_and_csv() -> None:
    code, out, _ = run("chips", "--format", "json")
    chips = json.loads(out)
    h100 = next(c for c in chips if c["id"] == "nvidia-h100-sxm")
    assert code == 0 and h100["bf16_flop_per_s"] == pytest.approx(989.5e12)
    code, out, _ = run("systems", "--format", "csv")
    assert code == 0 and out.splitlines()[0].startswith("id,name,status,chip")
    assert any(line.startswith("cloudmatrix-384,") for line in out.splitlines())


def test_show_lists_every_number_with_its_source() -> None:
    code, out, _ = run("show", "huawei-ascend-910c", "--format", "json")
    numbers = json.loads(out)["numbers"]
    assert code == 0 and {"memory_bytes", "memory_bytes_per_s", "peak_flop_per_s.bf16"} <= {n["field"] for n in numbers}
    assert all(n["source_kind"] and n["source"] for n in numbers)


def test_show_system_prints_its_structure_and_totals_with_sources() -> None:
    """CloudMatrix 384: 384 NPUs in one UB domain on a Clos, as the CloudMatrix384 paper states; its totals are
    384 x 800 TFLOP/s = 307.2 PFLOP/s BF16 and 384 x 128 GB = 49.15 TB, from the paper's count and the chip's
    figures: its memory a datasheet's, its 800 TFLOP/s derived (the A3 page's 307.2 PFLOPS / 384 NPUs)."""
    code, out, _ = run("show", "cloudmatrix-384", "--format", "json")
    rows = {n["field"]: n for n in json.loads(out)["numbers"]}
    assert code == 0
    assert [(rows[f]["value"], rows[f]["source_kind"]) for f in ("chips", "scale_up_domain_chips", "scale_up_topology")] \
        == [(384, "paper"), (384, "paper"), ("clos", "paper")]
    assert rows["chips"]["source"].startswith("Zuo et al., 'Serving Large Language Models on Huawei CloudMatrix384'")
    bf16, memory = rows["system bf16_flop_per_s"], rows["system memory_bytes"]
    assert (bf16["value"], bf16["as_quoted"]) == (pytest.approx(307.2e15), "384 x 800 TFLOP/s = 307.2 PFLOP/s")
    assert (memory["value"], memory["as_quoted"]) == (pytest.approx(49.152e12), "384 x 128 GB = 49.15 TB")
    assert bf16["source"] == ("chips (paper) x the chip's peak_flop_per_s.bf16 (derived): "
                              "'parity show huawei-ascend-910c'")
    for columns, start in ((80, ["chips", "384", "Zuo", "et", "al.,"]), (120, ["chips", "384", "paper", "Zuo"])):
        table = CliRunner().invoke(cli, ["show", "cloudmatrix-384"], env={"COLUMNS": str(columns)}).stdout
        assert any(line.split()[:len(start)] == start for line in table.splitlines()), columns


def test_show_writes_a_list_of_formats_as_names_not_a_python_tuple() -> None:
    """The 'stored (SI)' column of h100's `native` row read "('fp64', 'fp32', ...)" (JSON stores a list): both
    columns now read as the source's words do."""
    names = "fp64, fp32, tf32, bf16, fp16, fp8, int8"
    _, md, _ = run("show", "h100", "--format", "md")
    assert [line.split(" | ")[1:3] for line in md.splitlines() if line.startswith("| native |")] == [[names, names]]
    _, out, _ = run("show", "h100", "--format", "json")
    assert next(n["value"] for n in json.loads(out)["numbers"] if n["field"] == "native") == names.split(", ")


def test_compare_prints_ratios_and_throughput() -> None:
    code, out, _ = run("compare", "hgx-h20", "hgx-h100", "--model", "llama-3.1-70b", "--format", "json")
    rows = json.loads(out)
    h20, h100 = rows
    assert code == 0
    assert h100["spec_ratios"]["bf16"] == pytest.approx(989.5 / 148, rel=1e-3)
    assert h100["decode_tokens_per_s_per_chip"] > h20["decode_tokens_per_s_per_chip"] > 0
    assert h20["decode_ratio"] == 1.0


def test_compare_says_does_not_fit_by_how_much() -> None:
    code, out, _ = run("compare", "l20-server", "--model", "kimi-k2", "--weights", "bf16", "--format", "json")
    row = json.loads(out)[0]
    assert code == 0 and not row["fits"] and row["note"].startswith("does not fit by")
    assert re.fullmatch(r"does not fit by [0-9.]+ GB per chip \(by [0-9.]+ GB per chip across 4 systems\)", row["note"])


def test_compare_spans_systems_when_the_model_is_too_big_for_one() -> None:
    code, out, _ = run("compare", "hgx-h100", "--model", "deepseek-r1", "--format", "json")
    row = json.loads(out)[0]
    assert code == 0 and row["fits"] and "spans 2 systems" in row["note"]


@pytest.mark.e2e  # two comparisons (2-4 s)
def test_compare_explains_spans_and_dies_only_where_a_row_has_them() -> None:
    """A caption says what 'spans N systems' means where a row spans systems, and leaves it out where none does, as
    the one-rank-per-die clause where no chip has dies (report-only tester fuzzCB 5: a legend of notes no row
    carries)."""
    _, md, _ = run("compare", "hgx-h100", "--model", "deepseek-r1", "--format", "md")
    assert "'spans N systems': its workers span N systems over scale-out" in md and "multi-die" not in md
    _, md, _ = run("compare", "hgx-h100", "atlas-800-a3", "--model", "llama-3.1-8b", "--format", "md")
    assert "spans N systems" not in md and "a multi-die package (Ascend 910C) runs one rank per die" in md


def test_out_writes_the_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "chips.csv"
    code, _, _ = run("chips", "--format", "csv", "--out", str(target))
    assert code == 0 and target.read_text().startswith("id,")
    assert not list(tmp_path.glob(".*.tmp"))


def test_formats_shows_native_and_emulated_formats_and_what_fp4_buys() -> None:
    code, out, _ = run("formats", "hgx-b200", "atlas-800-a3", "--model", "llama-3.1-8b", "--formats",
                       "bf16,fp8,int8,nvfp4", "--format", "json")
    assert code == 0
    rows = {(r["system"], r["format"]): r for r in json.loads(out)}
    assert rows[("hgx-b200", "nvfp4")]["runs_on"] == "native fp4"
    assert rows[("atlas-800-a3", "fp8")]["runs_on"] == "emulated on bf16"  # the 910C has no FP8 unit
    assert rows[("atlas-800-a3", "int8")]["runs_on"] == "native int8"
    assert all(r["baseline_format"] == "bf16" and r["fits"] for r in rows.values())
    assert rows[("hgx-b200", "bf16")]["ratio_to_baseline"] == pytest.approx(1.0)
    # narrower native weights stream faster: FP8 and FP4 beat BF16 on the B200
    assert 1.0 < rows[("hgx-b200", "fp8")]["ratio_to_baseline"] < rows[("hgx-b200", "nvfp4")]["ratio_to_baseline"]
    # emulated FP8 keeps the memory saving on the 910C but not the math rate: below native INT8
    assert rows[("atlas-800-a3", "fp8")]["tokens_per_s_per_chip"] < rows[("atlas-800-a3", "int8")]["tokens_per_s_per_chip"]


def test_chips_and_formats_agree_on_a_native_format_with_no_published_rate() -> None:
    """The B30A and the T-Head PPU list int8 as native, but no source gives their INT8 rate (int8_op_per_s null, an
    empty CSV cell; it was 0.0, as for a format a chip lacks, which is null too now: one convention, never 0), so
    parity runs INT8 on BF16: `chips` listed int8 as native while `formats` said 'emulated on bf16'. Both now say
    it from one definition (Chip.runs_natively): `chips` moves it to native_rate_unpublished, `formats` names it
    beside the emulation. The H100 publishes every rate; the Trainium3's FP8 rate is its MXFP8 rate (native
    mxfp8, not per-tensor fp8), so nothing moves there."""
    code, out, _ = run("chips", "--format", "json")
    chips = {r["id"]: r for r in json.loads(out)}
    assert code == 0 and chips["nvidia-b30a"]["int8_op_per_s"] is None  # unpublished (it was 0.0, as unsupported)
    assert [i for i, r in chips.items() if "int8" in r["native_rate_unpublished"]] == [
        "alibaba-t-head-ppu", "huawei-ascend-960", "huawei-ascend-970", "moorethreads-mtt-s5000", "nvidia-b30a"]
    # a format the chip lacks is null as well (it was 0): no FP4 unit on the H100, no INT8 on the Rubin
    assert chips["nvidia-h100-sxm"]["fp4_flop_per_s"] is None and chips["nvidia-rubin"]["int8_op_per_s"] is None
    assert not [(i, k) for i, r in chips.items() for k, v in r.items() if k.endswith("_per_s") and v == 0]
    code, out, _ = run("chips", "--format", "csv")
    b30a = next(line for line in out.splitlines() if line.startswith("nvidia-b30a,"))
    assert ",2250000000000000.0,,6750000000000000.0," in b30a  # fp8 2.25 PF, int8 (empty: unpublished), fp4 6.75 PF
    # lists in JSON, as every list parity writes (they were space-joined strings: report-only tester fuzzDF 4)
    assert (chips["nvidia-b30a"]["native"], chips["nvidia-b30a"]["native_rate_unpublished"]) == (
        ["bf16", "fp16", "fp8", "mxfp4", "mxfp8", "nvfp4", "tf32"], ["fp32", "int8", "mxfp6"])  # no FP6 rate
    assert (chips["alibaba-t-head-ppu"]["native"], chips["alibaba-t-head-ppu"]["native_rate_unpublished"]) == (
        ["bf16", "fp16"], ["fp32", "int8"])
    assert chips["nvidia-h100-sxm"]["native_rate_unpublished"] == []
    assert "mxfp8" in chips["aws-trainium3"]["native"] and chips["aws-trainium3"]["fp8_flop_per_s"] > 0
    code, out, _ = run("formats", "hgx-b30a", "hgx-h100", "--model", "llama-3.1-8b", "--formats", "int8", "--format",
                       "json")
    b30a, h100 = json.loads(out)
    assert b30a["runs_on"] == "emulated on bf16 (int8 native, rate unpublished)" and h100["runs_on"] == "native int8"



def test_serve_runs_w4a6_natively_on_the_mi355x_and_emulated_on_the_h100() -> None:
    """`--weights w4a6` (MXFP4 weights x MXFP6 activations) and `mxfp6` were refused as unknown number formats, though
    the MI355X lists mxfp6 at its MXFP4 rate. Now W4A6 runs natively there, flagged because no calibration measures
    an FP6 GEMM, and emulated on FP8 on the H100 (no MXFP6 unit), flagged for its assumed emulation rate; a format
    parity does not know is still one line and exit 2."""
    def serve(system: str, weights: str) -> dict:
        code, out, _ = run("serve", "--model", "llama-3.1-8b", "--system", system, "--tp", "1", "--weights", weights,
                           "--model-kind", "steady", "--format", "json")
        assert code == 0
        return json.loads(out)

    mi355x, h100 = serve("mi355x-platform", "w4a6"), serve("hgx-h100", "w4a6")
    assert (mi355x["weights"], mi355x["emulated_on"], h100["weights"], h100["emulated_on"]) == (
        "w4a6_mxfp4", "", "w4a6_mxfp4", "fp8")
    assert mi355x["flags"][0] == ("fp6 GEMM rate not measured on amd-mi355x (family-cdna4 measures bf16, fp4, fp8; "
                                  "no chip its calibration draws on measured fp6: it moved with the formats measured)")
    assert h100["flags"][0] == ("emulation rate assumed: w4a6_mxfp4 on fp8 at 0.8 of the wider unit, no measurement "
                                "(nvidia-h200-sxm-measured carries the prior)")
    assert h100["note"].startswith("steady-state model (--model-kind steady: closed form, no simulated run): "
                                   "w4a6_mxfp4 emulated on fp8 (nvidia-h100-sxm has no MXFP6 unit); ")
    assert serve("mi355x-platform", "mxfp6")["weights"] == "mxfp6"
    code, _, err = run("serve", "--model", "llama-3.1-8b", "--system", "mi355x-platform", "--weights", "mxfp7")
    assert code == 2 and err == ("parity: error: unknown number format 'mxfp7'; known: fp32, bf16, fp16, fp8, "
                                 "fp8_channel, fp8_block, mxfp8, hif8, int8, nvfp4, mxfp4, mxfp6, w4a8_mxfp4, "
                                 "w4a6_mxfp4, w4a16_mxfp4, w4a16_mxfp4_marlin, int4, w8a16, w4a8, fp4 (the chip's nvfp4 or "
                                 "mxfp4)\n")

def test_compare_divides_by_the_first_system_that_runs_the_model_when_the_baseline_cannot() -> None:
    code, out, _ = run("compare", "l20-server", "hgx-h200", "--model", "kimi-k2", "--weights", "bf16",
                       "--format", "json")
    l20, h200 = json.loads(out)
    assert code == 0 and not l20["fits"] and h200["fits"]
    assert l20["baseline"] == h200["baseline"] == "hgx-h200"
    assert h200["ratios"]["per_chip"] == pytest.approx(1.0) and h200["spec_ratios"]["bf16"] == pytest.approx(1.0)


def test_a_pair_of_systems_gets_a_summary_line_with_every_ratio() -> None:
    # the other system against the baseline (the first), as the table's ratios read
    code, out, _ = run("compare", "gb200-nvl72", "cloudmatrix-384", "--model", "llama-3.1-8b")
    text = " ".join(out.split())
    assert code == 0 and "cloudmatrix-384 against gb200-nvl72: 1.71x the system BF16, 3.67x the system memory" in text
    assert "per kW" in text and "per GB of memory" in text and "x/GB" in text


def test_engines_lists_every_profile_parameter_and_how_it_was_obtained() -> None:
    runner = CliRunner()
    data = json.loads(runner.invoke(cli, ["engines", "--format", "json"]).stdout)
    by_id = {e["id"]: e for e in data}
    assert set(by_id) == {"generic", "trtllm", "vllm", "sglang", "vllm-rocm", "sglang-rocm", "sglang-cann"}
    assert not by_id["generic"]["measured"] and by_id["generic"]["first_token_steps"] == 0.5
    for fitted in ("trtllm", "vllm", "sglang", "vllm-rocm", "sglang-rocm", "sglang-cann"):
        assert by_id[fitted]["measured"] and "calibration rows" in by_id[fitted]["method"]
        assert 0.5 <= by_id[fitted]["first_token_steps"] <= 3.0
    table = runner.invoke(cli, ["engines"], env={"COLUMNS": "200"}).stdout
    assert "[steady]" in table and "  first_token_steps" in table and "assumed" in table
    # three CUDA fits, one ROCm and one CANN stack fit; sglang-rocm's 3 rows are too few for its 4 parameters
    assert len(__import__("re").findall(r"\d+ rows", table)) == 5 and "sglang's" in table


def test_engines_marks_a_stack_profiles_inherited_values() -> None:
    """fuzz 23b 2.2, 2.4: sglang-cann refits 4 of sglang's values (gemm_scale, memory_scale, collective_scale,
    step_overhead_s) on 4 rows; every other value is sglang's (disagg_decode_batch 902, burstiness 2.94) or the
    stack prior's (prompt_gather_all_reduce off), and `engines` says which, where "fitted on 4 rows" had headed the
    whole column. Its caption names the stacks with profiles, and MindIE and vLLM-Ascend as having none."""
    table = CliRunner().invoke(cli, ["engines", "sglang-cann"], env={"COLUMNS": "80"}).stdout
    lines = {" ".join(line.split()) for line in table.splitlines()}
    assert {"fitted on 4 values on 4 rows", "gemm_scale 1.01", "memory_scale 0.574", "step_overhead [ms] 0.113",
            "attention_scale 1 (sglang's)", "prompt_gather_all_reduce no (stack prior)",
            "disagg_decode_batch 902 (sglang's)", "burstiness 2.94 (sglang's)"} <= lines
    text = " ".join(table.split())
    assert "MindIE and vLLM-Ascend have none, so on CANN generic and sglang-cann apply" in text
    out = CliRunner().invoke(cli, ["engines", "vllm-rocm", "--format", "csv"]).stdout
    obtained = {r["parameter"]: r["obtained"] for r in csv.DictReader(io.StringIO(out))}
    assert {p for p, o in obtained.items() if o == "4 values on 22 rows"} == {
        "gemm_scale", "memory_scale", "collective_scale", "step_overhead_s"}
    assert set(obtained.values()) == {"4 values on 22 rows", "vllm's"}


def test_engines_csv_is_one_record_per_parameter() -> None:
    """`engines NAME --format csv` is for machines: engine, section, parameter (file key), value in SI units, unit
    and how the profile was obtained, one row per parameter; no display rows ('fitted on', '[kernels]'). Each row
    carries its engine's own fields under the JSON's keys (name, method, date...: the CSV lacked them, report-only
    tester fixdz2 3), all but its calibration rows, a long list JSON alone gives."""
    from parity.engine import PROFILE_SECTIONS

    out = CliRunner().invoke(cli, ["engines", "vllm", "--format", "csv"]).stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    own = ["name", "measured", "method", "source", "date", "user_file", "assumptions", "stack", "base"]
    assert list(rows[0]) == ["engine", "section", "parameter", "value", "unit", "obtained", *own]
    assert len(rows) == sum(len(s.fields) for s in PROFILE_SECTIONS)
    assert {r["section"] for r in rows} == {s.name for s in PROFILE_SECTIONS}
    assert not any(r["parameter"].startswith(("[", " ")) or r["parameter"] == "fitted on" for r in rows)
    overhead = next(r for r in rows if r["parameter"] == "kernel_overhead_s")
    assert overhead["section"] == "host" and overhead["unit"] == "s" and 1e-7 < float(overhead["value"]) < 1e-4
    assert {r["obtained"] for r in rows} == {"70 rows"} and {r["engine"] for r in rows} == {"vllm"}
    data = json.loads(CliRunner().invoke(cli, ["engines", "vllm", "--format", "json"]).stdout)
    assert {(r["name"], r["method"], r["date"], r["stack"], r["measured"]) for r in rows} == {
        (data[0]["name"], data[0]["method"], data[0]["date"], "cuda", "True")} and data[0]["name"] == "vLLM"
    assert data[0]["method"].startswith("Nelder-Mead fit of kernel_overhead_s")
    assert data[0]["parameters"][0] == {k: rows[0][k] for k in ("engine", "section", "parameter", "unit", "obtained")
                                        } | {"value": data[0]["sections"]["kernels"]["gemm_scale"]}


_PHASE = {"decode": ("--phase", "decode", "--batch", "64", "--context", "2048"),
          "prefill": ("--phase", "prefill", "--batch", "4", "--isl", "2048")}


@pytest.mark.parametrize(("phase", "extra", "named"), [
    ("decode", ("--concurrency", "7"), "--concurrency is not read by --phase decode"),
    ("decode", ("--osl", "99", "--isl", "4096"), "--osl, --isl are not read by --phase decode"),
    ("decode", ("--ttft", "1s", "--tpot", "10ms"), "--ttft, --tpot are not read"),
    ("decode", ("--model-kind", "sim"), "--model-kind sim is not read"),
    ("decode", ("--mode", "disagg", "--prefill-system", "hgx-h200"), "--prefill-system is not read"),
    ("prefill", ("--context", "8192"), "--context is not read by --phase prefill"),
    ("prefill", ("--random-range-ratio", "0.5", "--seed", "3"), "--random-range-ratio, --seed are not read"),
    ("prefill", ("--mode", "disagg", "--decode-tp", "1", "--decode-workers", "2"),
     "--decode-workers, --decode-tp are not read"),
    ("prefill", ("--scenario", "offline"), "--phase prefill is one fixed-batch step; --scenario offline"),
])
def test_serve_phase_refuses_options_it_would_ignore(phase: str, extra: tuple[str, ...], named: str) -> None:
    """One fixed-batch step reads --batch and --context (decode) or --isl (prefill), the layout and formats: a
    closed-loop option (clients, output length, targets, the simulator's) or the other phase's is refused."""
    code, out, err = run("serve", "--model", "qwen3-30b-a3b", "--system", "hgx-h100", "--tp", "2", *_PHASE[phase],
                         *extra)
    assert code == 2 and err.count("\n") == 1 and named in err, err


def test_serve_phase_still_reads_its_own_options() -> None:
    code, out, err = run("serve", "--model", "qwen3-30b-a3b", "--system", "hgx-h100", "--tp", "2",
                         *_PHASE["prefill"], "--mode", "disagg", "--prefill-system", "hgx-h200", "--model-kind",
                         "steady", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["step_s"] > 0


def test_serve_adp_hold_flag_overrides_the_engine() -> None:
    """--adp-hold-steps 0 turns TensorRT-LLM's attention-DP balancing off: a shorter TTFT at light load,
    and the assumption line says whether prompts are held."""
    args = ("serve", "--model", "deepseek-r1", "--system", "hgx-b200", "--engine", "trtllm", "--weights", "fp8",
            "--attn-dp", "8", "--moe-ep", "8", "--isl", "1024", "--osl", "8192", "--concurrency", "64",
            "--format", "json")
    code, held, _ = run(*args)
    code_off, free, _ = run(*args, "--adp-hold-steps", "0")
    assert code == code_off == 0
    held_, free_ = json.loads(held), json.loads(free)
    assert held_["ttft_s"] > free_["ttft_s"] + 0.3
    assert "held up to 60 steps" in held_["note"] and "held up to" not in free_["note"]


@pytest.mark.parametrize("args, says", [
    (("serve", "--model", "deepseek-r1", "--system", "hgx-b200", "--adp-hold-steps", "-1"), "--adp-hold-steps"),
    (("serv",), "No such command 'serv'"),
    (("serve", "--model", "llama-3.1-8b"), "Missing option '--system'"),
    (("--bogus",), "No such option '--bogus'"),
    (("servee",), "No such command 'servee'; did you mean serve?"),
    (("compare", "--model"), "Option '--model' requires an argument. (see 'parity compare --help')"),
])
def test_bad_options_give_one_line_and_exit_code_2(args: tuple[str, ...], says: str) -> None:
    """Click's usage errors come out as parity's other errors do: one line on stderr, exit code 2."""
    from parity.cli import main

    code, out, err = run(*args)
    assert code == 2 and not out
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("parity: error: ") and says in lines[0]
    assert main(list(args)) == 2


def test_serve_explain_shows_where_a_decode_step_and_a_prefill_step_go() -> None:
    """--explain prices one decode step and one prompt chunk op by op: Llama-3.1-70B fp8 on 8 H100s with an
    8,192-token prompt (drawn in [0.8, 1] x nominal: a chunk of the mean 7,372.5 tokens) spends 0.2-0.3 s in the prefill step, its two tensor-parallel all-reduces per layer a
    third or more of it; the table names both steps."""
    args = ("serve", "--model", "llama-3.1-70b", "--system", "hgx-h100", "--engine", "vllm", "--weights", "fp8",
            "--tp", "8", "--isl", "8192", "--osl", "1024", "--concurrency", "4", "--explain")
    code, out, _ = run(*args, "--format", "json")
    assert code == 0
    data = json.loads(out)
    prefill = {p["part"]: p["seconds"] for p in data["prefill_step_breakdown"]}
    total = sum(prefill.values())
    assert 0.2 < total < 0.3
    assert (prefill["attention_all_reduce"] + prefill["mlp_all_reduce"]) / total > 0.33
    assert sum(p["seconds"] for p in data["decode_step_breakdown"]) < 0.05 < total
    code, table, _ = run(*args)
    assert code == 0 and "One decode step" in table and "One prefill step of 7,372 prompt tokens" in table


def test_every_option_is_explained_and_shows_its_default() -> None:
    """`--help` of each command: an option without a help line (serve --tp, train --zero, fleet --isl, ...) or
    with a default it does not show (serve --mtp 0) left the reader to guess."""
    from parity.cli import COMMANDS  # noqa: PLC0415
    import click  # noqa: PLC0415

    missing = []
    for name in COMMANDS:
        for option in cli.get_command(None, name).params:  # type: ignore[arg-type, union-attr]
            if not isinstance(option, click.Option) or option.hidden:
                continue
            plain = not (option.is_flag or option.multiple or option.required)
            unstated = plain and option.default not in (None, "") and not option.show_default \
                and "default" not in (option.help or "")
            if not option.help or unstated:
                missing.append(f"{name} {option.opts[0]}")
    assert not missing, missing


@pytest.mark.parametrize("args", [("formats", "hgx-h100", "--model", "llama-3.1-8b", "--formats", "bf16",
                                   "--format", "csv"),
                                  ("predict", "{cases}", "--model-kind", "steady", "--format", "table")])
def test_progress_bars_leave_stdout_to_the_output(args: tuple[str, ...], tmp_path: Path) -> None:
    """formats' and predict's progress bars wrote a blank line to stdout: a CSV began with an empty row."""
    cases = tmp_path / "cases.csv"
    cases.write_text("model,system,isl,osl,concurrency\nllama-3.1-8b,hgx-h100,1024,128,8\n")
    code, out, _ = run(*(a.format(cases=cases) for a in args))
    assert code == 0 and out.splitlines()[0].strip(), out[:200]


def test_parity_alone_prints_its_help_and_exits_0() -> None:
    """Plain `parity` printed the whole help squeezed into one 'parity: error: Usage: ...' line, exit 2."""
    code, out, err = run()
    assert code == 0 and not err and out == run("--help")[1] and out.startswith("Usage: ")


def test_progress_bars_are_drawn_only_by_cli_progress_bar() -> None:
    """report's and sweep's bars were rich Progress on stdout, leaving a blank line before 'wrote ...' in a pipe;
    every command draws its bar through parity.cli.progress_bar (calibrate's GPU run aside)."""
    folder = Path(__file__).parents[1] / "src" / "parity" / "cli"
    drawing = sorted(p.name for p in folder.glob("*.py") if "Progress(" in p.read_text())
    assert drawing == ["__init__.py", "calibrate_cmd.py"], drawing


@pytest.mark.e2e
def test_validate_percentiles_csv_has_a_row_per_published_figure() -> None:
    """--section percentiles --format csv printed nothing (the rows handed to CSV were empty; JSON got the payload)."""
    import csv  # noqa: PLC0415
    import io  # noqa: PLC0415

    code, out, _ = run("validate", "--section", "percentiles", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(rows) > 10
    assert {"case_id", "metric", "statistic", "measured_s", "predicted_s", "error"} <= set(rows[0])


def test_a_reader_that_leaves_stops_parity_quietly() -> None:
    """`parity ... | head` ended in 'parity: error: Broken pipe' and exit 2, as if the input were bad."""
    import os  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    src = str(Path(__file__).parents[1] / "src")  # this checkout's parity, whatever is installed
    code = "import sys; from parity.cli import main; sys.exit(main(['chips']))"
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env={**os.environ, "PYTHONPATH": src})
    child.stdout.close()  # type: ignore[union-attr] - closed before parity writes: its write finds no reader
    err = child.stderr.read().decode()  # type: ignore[union-attr]
    assert child.wait() == 141 and err == "", err


def test_ctrl_c_is_one_parity_line_and_exit_130(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C during a sweep (or any command) printed click's 'Aborted!' and exit 1, where SIGTERM exits 143 and every
    other stop is a 'parity:' line: now 'parity: interrupted' and 130 (128 + SIGINT), nothing written."""
    def interrupted(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("parity.cli.sweep_cmd.run_sweep", interrupted)
    spec = tmp_path / "spec.toml"
    spec.write_text('[axes]\nsystem = ["hgx-h20"]\nmodel = ["llama-3.1-8b"]\nisl = [128]\nosl = [128]\n'
                    'concurrency = [8]\n')
    result = CliRunner().invoke(cli, ["sweep", str(spec), "--out", str(tmp_path / "out.csv")])
    assert (result.exit_code, result.stdout, result.stderr) == (130, "", "parity: interrupted\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.toml"]


@pytest.mark.parametrize(("args", "key"), [
    (("serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--model-kind", "steady"), "tpot_s"),
    (("train", "--model", "llama-3.1-8b", "--system", "hgx-h100"), "step_s"),
    (("model", "llama-3.1-8b"), "parameters"),
])
def test_one_record_as_csv_is_one_row_in_si_units(args: tuple[str, ...], key: str) -> None:
    """serve, train and model wrote their people's rows as CSV ('step time,45.437 s'), not SI values."""
    import csv  # noqa: PLC0415
    import io  # noqa: PLC0415

    code, out, _ = run(*args, "--format", "csv")
    (row,) = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and float(row[key]) > 0 and "quantity" not in row


@pytest.mark.parametrize(("args", "numbers"), [
    (("train", "--model", "llama-3.1-8b", "--system", "hgx-h100"),
     ("breakdown_compute_s", "memory_weights_bytes", "layout_tp")),
    (("model", "llama-3.1-8b"), ("kv_cache_bytes_per_token_bf16",)),
    (("compare", "hgx-h100", "hgx-h200", "--model", "llama-3.1-8b"),
     ("ratios_per_chip", "spec_ratios_bf16")),
])
def test_csv_spreads_nested_values_over_columns(args: tuple[str, ...], numbers: tuple[str, ...]) -> None:
    """train's breakdown and memory, model's kv_cache_bytes_per_token and compare's ratios were JSON objects in one
    CSV cell ('{"per_chip": 1.0, ...}'), which no spreadsheet reads: each is now a column named parent_child.
    Llama-3.1-8B holds 32 layers x 8 KV heads x 128 x 2 (K and V) x 2 B = 131,072 B of bf16 KV cache a token."""
    code, out, _ = run(*args, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and all(float(row[key]) >= 0 for row in rows for key in numbers)
    assert not any(cell.startswith("{") for row in rows for cell in row.values())  # lists stay JSON text
    if args[0] == "model":
        assert float(rows[0]["kv_cache_bytes_per_token_bf16"]) == 131072


def test_python_dash_m_parity_runs_the_command() -> None:
    """`python -m parity` is the `parity` command (it failed: no __main__ module)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "parity", "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("parity, version ")


def test_weakest_source_counts_hardware_numbers_not_the_price() -> None:
    """Every hardware number of the H100 is from its datasheet; only its unit price is press, and it made the
    'weakest source' read 'press'. The Ascend 950DT's BF16 is derived (FP8 / 2): that still counts."""
    code, out, _ = run("chips", "--format", "json")
    chips = {r["id"]: r for r in json.loads(out)}
    assert code == 0 and chips["nvidia-h100-sxm"]["weakest_source"] == "datasheet"
    assert chips["huawei-ascend-950dt"]["weakest_source"] in ("derived", "press", "analyst-estimate", "assumption")


def test_systems_mark_totals_set_by_a_derived_or_assumed_number() -> None:
    """Atlas 950: 8,192 x 500 TFLOP/s BF16 derived as FP8 / 2 = 4,096 PF, memory 8,192 x 144 GB from the Huawei
    Connect 2025 keynote (a roadmap claim: press, as NVIDIA's Rubin keynote figures), power assumed; HGX H100: 8 x
    989.5 = 7.92 PF, 640 GB and 10.2 kW, all from datasheets. The table marks the first's three with '~' and says
    so; JSON and CSV name each total's source kind."""
    code, out, _ = run("systems", "--format", "json")
    rows = {r["id"]: r for r in json.loads(out)}
    assert code == 0 and {k: rows["atlas-950-superpod"][k] for k in ("bf16_source", "memory_source", "power_source")} \
        == {"bf16_source": "derived", "memory_source": "press", "power_source": "assumption"}
    assert {rows["hgx-h100"][k] for k in ("bf16_source", "memory_source", "power_source")} == {"datasheet"}
    table = CliRunner().invoke(cli, ["systems"], env={"COLUMNS": "80"}).stdout
    atlas = next(line for line in table.splitlines() if line.startswith("atlas-950-superpod "))
    h100 = next(line for line in table.splitlines() if line.startswith("hgx-h100 "))
    assert atlas.split()[-3:] == ["4,096~", "1,180~", "11,182~"] and h100.split()[-3:] == ["7.92", "0.640", "10.2"]
    assert max(len(line) for line in table.splitlines()) <= 80
    assert "~: set by a derived, press, estimated or assumed number" in " ".join(table.split())


def test_x_per_gb_shows_for_systems_of_one_size_whose_chips_hold_different_memory() -> None:
    """Two 8-chip nodes, H20 (96 GB a chip) and Atlas 800 A3 (8 x 910C, 128 GB), on Llama-3.1-8B: per system equals
    per chip, but per GB does not (0.96x per chip / (128 / 96) = 0.72x). --wide promises every column; x/GB showed
    only where the systems' sizes differed."""
    code, out, _ = run("compare", "hgx-h20", "atlas-800-a3", "--model", "llama-3.1-8b", "--wide")
    tokens = next(line for line in out.splitlines() if line.startswith("atlas-800-a3")).split()
    at = tokens.index("5,863")  # tok/s/chip, then x/chip, tok/s/system, tok/s/kW, x/kW, x/GB
    assert code == 0 and "x/GB" in out and tokens[at + 1:at + 6] == ["0.96x", "46,904", "4,026", "0.48x", "0.72x"]
    # --wide shows the node's throughput too (x/system, which is x/chip here, is no column), and the caption names only
    # the interval columns the table has: it said 'under x/system, x/kW and x/GB' (a tester's round)
    assert "tok/s/system" in out and "x/system" not in out
    assert ("the per-kW and per-GB intervals (under x/kW and x/GB; beside them in Markdown) are it scaled by the "
            "systems' power and memory (systems of one size: per system is per chip), and the sentence on the two "
            "systems names each ratio whose interval holds 1.") in " ".join(out.split())
