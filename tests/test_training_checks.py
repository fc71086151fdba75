"""What `train` flags as outside what was validated, notes in its assumptions, and refuses as without effect."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from parity import catalog
from parity.cli import cli
from parity.training import TrainingLayout, search_training
from parity.uncertainty import PARTLY_FITTED, training_flags


def _train_json(*args: str) -> dict:
    result = CliRunner().invoke(cli, ["train", *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_an_emulated_training_format_is_flagged_as_serving_flags_it() -> None:
    """MI300X has FP8 math but no MXFP8 unit: mxfp8 runs on its FP8 unit at the calibration's assumed emulation
    efficiency (0.8, family-cdna3 carries generic.toml's prior), which `train` flags as compare's serving rows do;
    bf16 and fp8 it runs natively: no such flag (its kernel figures' partly inherited one alone)."""
    mi300x, llama = catalog.system("mi300x-platform"), catalog.model("llama-3.1-8b")
    said = ("emulation rate assumed: mxfp8 on fp8 at 0.8 of the wider unit, no measurement (family-cdna3 carries "
            "the prior)")
    native = training_flags(mi300x, llama, 4096, "bf16")  # its kernel figures partly inherited, whatever the format
    assert [f.kind for f in native] == [PARTLY_FITTED]
    assert [f.text for f in training_flags(mi300x, llama, 4096, "mxfp8")] == [said, native[0].text]
    assert training_flags(mi300x, llama, 4096, "fp8") == native
    data = _train_json("--model", "llama-3.1-8b", "--system", "mi300x-platform", "--precision", "mxfp8",
                       "--tp", "1", "--pp", "1", "--micro-batch", "1", "--recompute", "none", "--vp", "1")
    assert data["flags"] == [said, native[0].text]


def test_fp8_at_the_bf16_rate_is_said() -> None:
    """Google's TPU7x table gives TPU v5p FP8 at its BF16 peak (459 TFLOP/s): fp8 stays native there, and the
    assumptions say it buys no faster math; on H100 (FP8 at 2x) nothing is said."""
    from parity.cost import same_rate_note
    from parity.dtypes import format_named
    v5p, h100 = catalog.chip("google-tpu-v5p"), catalog.chip("nvidia-h100-sxm")
    assert same_rate_note(format_named("fp8"), v5p) == (
        "fp8 runs at the BF16 rate on google-tpu-v5p (459 TFLOP/s each): no faster math than bf16, while its casts "
        "and scales still cost")
    assert same_rate_note(format_named("bf16"), v5p) == same_rate_note(format_named("fp8"), h100) == ""


def test_zero3_with_a_pipeline_is_flagged() -> None:
    """No published training run (17 ZeRO-3 rows, all pp 1) combines ZeRO-3 with pp > 1: such a layout is flagged,
    ZeRO-3 at pp 1 and ZeRO-1 at pp 2 are not."""
    h100, llama = catalog.system("hgx-h100"), catalog.model("llama-3.1-8b")

    def layout(zero: int, pp: int) -> TrainingLayout:
        return TrainingLayout(tp=1, pp=pp, dp=8 // pp, zero=zero, micro_batch=1, global_batch=1024, seq_len=4096)

    said = "ZeRO-3 with pipeline parallel (pp > 1): none of the 68 published training runs combines them"
    assert [f.text for f in training_flags(h100, llama, 4096, "bf16", [layout(3, 2)])] == [said]
    assert training_flags(h100, llama, 4096, "bf16", [layout(3, 1), layout(1, 2)]) == ()
    data = _train_json("--model", "llama-3.1-8b", "--system", "hgx-h100", "--pp", "2", "--zero", "3", "--vp", "1",
                       "--recompute", "none", "--micro-batch", "1")
    assert (data["layout"]["name"], data["flags"]) == ("tp1-pp2-dp4-mb1-zero3", [said])


def test_a_search_flags_each_layout_and_the_caption_names_the_rows() -> None:
    """Llama-3.1-70B on 64 H100s, searched at ZeRO-3 (its best overall is ZeRO-1 since 20% of ZeRO-3's traffic stays
    exposed): the best layouts run ZeRO-3 at pp 1 (rows 1-6); rows 7-10 at pp 8 are the ones flagged. The caption said the flag of the whole answer and JSON's flags held it, though the best (and --top 3)
    lies inside what was validated (report-only tester fixNF 4): each entry carries its own flags, the top-level
    flags are the best's, and the caption names the rows."""
    said = "ZeRO-3 with pipeline parallel (pp > 1): none of the 68 published training runs combines them"
    args = ("--model", "llama-3.1-70b", "--system", "hgx-h100", "--chips", "64", "--seq-len", "8192",
            "--global-batch", "128", "--search", "--zero", "3")
    data = _train_json(*args)
    assert data["best"][0]["layout"]["name"] == "tp2-pp1-cp2-dp16-mb1-zero3" and data["flags"] == []
    cp = "context parallel {}: the 67 scored published runs checked cp up to 2".format  # past the runs' envelope
    assert [(b["layout"]["pp"], b["flags"]) for b in data["best"]] == [(1, [])] * 3 + [
        (1, [cp(4)]), (1, [cp(4)]), (1, [cp(8)])] + [(8, [said])] * 3 + [(8, [said, cp(4)])]
    table = " ".join(CliRunner().invoke(cli, ["train", *args], env={"COLUMNS": "200"}).output.split())
    assert f"Outside what was validated, rows 7-10 only (not the best): {said}. Assumptions:" in table
    assert f"Outside what was validated, rows 4-5, 10 only (not the best): {cp(4)}." in table
    assert "Outside what was validated" not in CliRunner().invoke(cli, ["train", *args, "--top", "3"]).output


def test_the_ranks_a_flag_holds_for_read_as_ranges() -> None:
    from parity.cli.train_search import _ranks_text

    assert [_ranks_text(r) for r in ([5], [5, 6, 7, 8, 9, 10], [2, 5, 6, 7], [1, 3])] == [
        "row 5", "rows 5-10", "rows 2, 5-7", "rows 1, 3"]


def _refused(*args: str) -> str:
    base = [] if "--model" in args else ["--model", "llama-3.1-8b"]  # one --model: an option given twice is refused
    result = CliRunner().invoke(cli, ["train", *base, "--system", "hgx-h100", *args])
    assert result.exit_code == 2, result.output
    return result.output.strip()


def test_options_without_effect_are_refused_in_one_line() -> None:
    """DeepEP on a dense model (as --ep 4 is), zb with pp 1 (as dualpipe is), the FP8 activation cache of a bf16 run
    (no FP8 GEMM inputs to cache) or of a dense model (DeepSeek-V3 Sec. 3.3.2 saves in the MoE SwiGLU; a dense model
    kept 42.63 -> 43.42 GB per chip on the README layout at --precision fp8 --recompute none): one line, exit 2,
    whether a layout is given or searched for."""
    dense = "llama-3.1-8b is dense"
    assert _refused("--moe-dispatcher", "deepep", "--tp", "1") == (
        f"parity: error: --moe-dispatcher deepep applies to mixture-of-experts models only; {dense}")
    assert _refused("--moe-dispatcher", "deepep", "--search") == _refused("--moe-dispatcher", "deepep", "--tp", "1")
    assert _refused("--pp-schedule", "zb", "--pp", "1") == (
        "parity: error: --pp-schedule zb needs pipeline parallelism (--pp > 1), got --pp 1")
    assert _refused("--model", "mixtral-8x7b", "--precision", "bf16", "--activation-cache", "fp8") == (
        "parity: error: --activation-cache fp8 caches the FP8 GEMM inputs of an FP8 run (DeepSeek-V3 Sec. 3.3.2); "
        "give --precision fp8, fp8_block or mxfp8, got bf16")
    # a dense model is told it is dense first, at any precision: told to take fp8, it was then told that (round 25, 4)
    assert _refused("--precision", "bf16", "--activation-cache", "fp8", "--tp", "4") == _refused(
        "--precision", "fp8", "--activation-cache", "fp8", "--tp", "4") == (
        "parity: error: --activation-cache fp8 saves memory in mixture-of-experts layers only (DeepSeek-V3 Sec. "
        f"3.3.2: their SwiGLU inputs in FP8, output recomputed); {dense}, where it only widens the attention output "
        "to E5M6")


def test_the_fp8_activation_cache_saves_memory_on_an_moe_model() -> None:
    """On Mixtral 8x7B (SwiGLU experts) at fp8 the cache keeps less per chip than the precision's own GEMM inputs,
    as its help says (13.96 -> 7.39 GB of activations per chip); the layout is accepted."""
    args = ("--model", "mixtral-8x7b", "--system", "hgx-h100", "--tp", "2", "--pp", "1", "--ep", "4", "--vp", "1",
            "--recompute", "none", "--micro-batch", "1", "--precision", "fp8", "--show-infeasible")
    auto, cached = (_train_json(*args, "--activation-cache", cache)["memory"]["activations_bytes"]
                    for cache in ("auto", "fp8"))
    assert (auto, cached) == (13_962_838_016, 7_386_169_344)


def test_compare_trains_on_trains_default_batch() -> None:
    """`compare --workload train` picks each system's layout as `train` does, at train's default global batch, 4M
    tokens' worth (256 sequences of 16,384 tokens; it took 1,024 at any length): Llama-3.1-70B on 64 H100s at
    16k tokens trains 1,015.4 tokens/s per chip in both (1,097 at 1,024 sequences before; 1,091.2 with the LM head
    balanced over the pipeline stages; 1,090.3 at ZeRO-3 while its traffic hid wholly beside compute)."""
    from parity.compare import compare
    from parity.training import default_global_batch
    assert (default_global_batch(16384), default_global_batch(4096), default_global_batch(2**23)) == (256, 1024, 1)
    h100, llama = catalog.system("hgx-h100"), catalog.model("llama-3.1-70b")
    (row,) = compare([h100], llama, catalog.engine("generic"), workload="train", chips=64, seq_len=16384)
    data = _train_json("--model", "llama-3.1-70b", "--system", "hgx-h100", "--chips", "64", "--seq-len", "16384")
    assert (row.layout, round(row.tokens_per_s_per_chip, 1)) == (data["layout"]["name"], 1015.4)
    assert data["layout"]["global_batch"] == 256


def test_the_search_tries_only_layouts_train_accepts() -> None:
    """Llama-3.1-70B on 1,728 GB200s at 13 sequences a step: the search picked tp4-pp27-vp3-cp16-dp1 (81 virtual
    stages for 80 layers: chunk_choices counts the embedding as a layer), which `train --tp 4 --pp 27 --vp 3 --cp 16`
    refuses. Every layout the search tries now passes the layout check (training.layout.stages_hold_layers, one
    rule for both), and it picks tp4-pp27-cp16-dp1."""
    from parity.training.search import SearchSpace, structural_layouts

    model, system = catalog.model("llama-3.1-70b"), catalog.system("gb200-nvl72")
    tried = structural_layouts(model, system, 1728, 4096, SearchSpace())
    for tp, cp, pp, dp, vp, _, _ in tried:
        TrainingLayout(tp=tp, cp=cp, pp=pp, dp=dp, virtual_stages=vp, global_batch=dp).check(model, 1728)
    assert (4, 16, 27, 1, 1) in [row[:5] for row in tried] and (4, 16, 27, 1, 3) not in [row[:5] for row in tried]
    found = search_training(model, system, 1728, 4096, 13, catalog.calibration(system.chip),
                            catalog.training_profile(), top=1)
    assert str(found.best[0].layout) == "tp4-pp27-cp16-dp1-mb1-zero1"
    result = CliRunner().invoke(cli, ["train", "--model", "llama-3.1-70b", "--system", "gb200-nvl72", "--chips",
                                      "1728", "--global-batch", "13", "--tp", "4", "--pp", "27", "--vp", "3",
                                      "--cp", "16"])
    assert result.exit_code == 2 and "--pp x --vp must be at most the number of layers (80), got 27 x 3" \
        in result.output


def test_a_side_by_side_trains_a_format_the_chip_lacks_in_its_native_fallback() -> None:
    """compare --workload train --precision fp8 ran the 910C's FP8 emulated on BF16 at 0.8 of the BF16 rate, 781
    tok/s/chip against its own BF16's 958, so the chip ranked below itself (report-only tester fuzzDA 5): a
    side-by-side trains it in the first fallback the chip has a unit for, and says so; a chip with the unit keeps it."""
    from parity.cost import native_format

    a3, h100, h20 = (catalog.chip(c) for c in ("huawei-ascend-910c", "nvidia-h100-sxm", "nvidia-h20"))
    assert native_format("fp8", a3) == ("bf16", "bf16: huawei-ascend-910c has no FP8 math (fp8 asked)")
    assert native_format("fp8_block", a3)[0] == "bf16"
    assert native_format("fp8", h100) == ("fp8", "") and native_format("bf16", a3) == ("bf16", "")
    assert native_format("mxfp8", h20) == ("fp8", "fp8: nvidia-h20 has no MXFP8 unit (mxfp8 asked)")


@pytest.mark.e2e
def test_compare_and_fleet_train_the_910c_in_bf16_when_fp8_is_asked() -> None:
    row = json.loads(CliRunner().invoke(cli, ["compare", "hgx-h100", "atlas-800-a3", "--workload", "train", "--model",
                                              "llama-3.1-70b", "--precision", "fp8", "--format", "json"]).stdout)[1]
    assert (row["weights"], row["emulated_on"]) == ("bf16", "")
    assert "bf16: huawei-ascend-910c has no FP8 math (fp8 asked)" in row["note"]
    fleet = json.loads(CliRunner().invoke(cli, ["fleet", "--workload", "train", "--model", "llama-3.1-70b", "--tokens",
                                                "1e12", "--units", "1024", "--chips", "910c", "--precision", "fp8",
                                                "--format", "json"]).stdout)
    (a3,) = fleet if isinstance(fleet, list) else fleet["rows"]
    assert a3["precision"] == "bf16" and a3["note"].startswith("bf16: huawei-ascend-910c has no FP8 math (fp8 asked)")


def test_features_no_published_training_run_has_are_flagged_and_widen() -> None:
    """The shipped training runs train GPT, Llama, Qwen3 and DeepSeek-V3 stacks: mla, moe, mtp, qk_norm. Nemotron-H's
    Mamba2 layers, Qwen3-Next's linear attention and output gate and Llama 4's chunked attention were never trained in
    one, and `train` says so as serving does ('features never validated'), its interval widened as a flagged case's
    (twice the log-width): Llama-3.1-8B is not flagged."""
    assert catalog.training_features() == {"mla", "moe", "mtp", "qk_norm"}
    h100 = catalog.system("hgx-h100")
    expected = {"nemotron-h-56b": "mamba2", "qwen3-next-80b-a3b": "linear_attention, output_gate",
                "llama-4-scout": "chunked_attention"}
    for name, features in expected.items():
        (flag,) = [f for f in training_flags(h100, catalog.model(name), 4096) if f.kind == "features never validated"]
        assert flag.text == (f"features never validated: {features} (no published training run's model carries them; "
                             "those carry mla, moe, mtp, qk_norm)")
    assert training_flags(h100, catalog.model("llama-3.1-8b"), 4096) == ()
    args = ("--system", "hgx-h100", "--tp", "8", "--pp", "1", "--dp", "1", "--micro-batch", "1", "--recompute", "full",
            "--vp", "1", "--show-infeasible")
    plain = _train_json("--model", "llama-3.1-8b", *args)
    flagged = _train_json("--model", "nemotron-h-56b", *args)
    assert flagged["flags"] == [flag.text for flag in training_flags(h100, catalog.model("nemotron-h-56b"), 4096)]

    def log_width(data: dict) -> float:
        return float(np.log(data["tokens_per_s_per_chip_high"] / data["tokens_per_s_per_chip_low"]))

    assert plain["flags"] == []
    assert log_width(flagged) == pytest.approx(2.0 * log_width(plain), rel=1e-9)
