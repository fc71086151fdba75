"""Prediction intervals: their coverage on rows that did not build them, and flags for cases outside
what the model was checked on, in every output format."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from parity import catalog
from parity.cli import cli
from parity.flags import Flag
from parity.predict import predict_rows
from parity.uncertainty import WIDEN_FLAGGED, Band, Intervals, build_intervals, coverage, interval_kind
from parity.validate import interval_coverage

ASCEND = {"case_id": "a3", "model": "llama-3.1-70b", "system": "atlas-800-a3", "engine": "", "isl": 1024, "osl": 256,
          "concurrency": 16, "tp": 4}
H100 = {"case_id": "h100", "model": "llama-3.1-70b", "system": "hgx-h100", "engine": "vllm", "weights": "fp8",
        "isl": 1024, "osl": 256, "concurrency": 16, "tp": 4}


def test_band_brackets_the_prediction_and_widens() -> None:
    band = Band(q_low=-0.2, q_high=0.3, count=100)  # ln(pred/meas) from -0.2 to 0.3
    low, high = band.around(10.0)
    assert low == pytest.approx(10.0 * 2.718281828 ** -0.3) and high == pytest.approx(10.0 * 2.718281828 ** 0.2)
    wide = band.around(10.0, widen=2.0)
    assert wide[0] < low and wide[1] > high


def test_intervals_built_from_residuals_cover_them() -> None:
    residuals = [("tpot_s", "agg", r / 100.0) for r in range(-50, 51)]
    made = build_intervals(residuals, "2026-01-01", "test", minimum=10)
    cases = [("tpot_s", "agg", 1.0, 1.0 / 2.718281828 ** (r / 100.0)) for r in range(-50, 51)]
    assert coverage(made, cases)["tpot_s"] == pytest.approx(0.8, abs=0.03)
    assert Intervals.from_table(__import__("tomllib").loads(made.to_toml())).bands == made.bands


def test_coverage_counts_a_flagged_case_by_its_widened_interval() -> None:
    """A measurement 30% above a prediction whose band reaches 20% above is missed, unless the case is
    flagged and its interval twice as wide in log, as predictions print it."""
    made = build_intervals([("tpot_s", "agg", r / 100.0) for r in range(-20, 21)], "2026-01-01", "test", minimum=10)
    low, high = made.band("tpot_s", "agg").around(1.0)
    assert 1.1 < high < 1.3
    assert coverage(made, [("tpot_s", "agg", 1.0, 1.3)])["tpot_s"] == 0.0
    assert coverage(made, [("tpot_s", "agg", 1.0, 1.3, WIDEN_FLAGGED)])["tpot_s"] == 1.0


def test_mla_models_take_bands_of_their_own_within_their_mode() -> None:
    """DeepSeek-R1 (MLA) is kind "agg, mla", Llama-3.1-70B plain "agg". Built from 20 MLA residuals at -0.5 and 20
    others at 0: the MLA band is [-0.5, -0.5], the others' [0, 0], and the band over all cases (the fallback of a
    kind with none of its own, "disagg, mla" here) holds all 40: its 10th and 90th percentiles are -0.5 and 0."""
    assert interval_kind("agg", catalog.model("deepseek-r1")) == "agg, mla"
    assert interval_kind("disagg", catalog.model("llama-3.1-70b")) == "disagg"
    made = build_intervals([("ttft_s", "agg, mla", -0.5)] * 20 + [("ttft_s", "agg", 0.0)] * 20, "2026-01-01", "test",
                           minimum=10)
    mla, plain, every = made.band("ttft_s", "agg, mla"), made.band("ttft_s", "agg"), made.band("ttft_s", "disagg, mla")
    assert (mla.q_low, mla.q_high, mla.count) == (-0.5, -0.5, 20)
    assert (plain.q_low, plain.q_high, plain.count) == (0.0, 0.0, 20)
    assert every is made.bands[("ttft_s", "all")] and (every.q_low, every.q_high, every.count) == (-0.5, 0.0, 40)


@pytest.mark.validation
def test_stored_intervals_cover_about_80_percent_of_rows_that_did_not_build_them(serving_errors: list,
                                                                                 targets: dict) -> None:
    """The 80% bands contain the measured value on 70-90% of the rows that did not build them
    (targets.toml [intervals])."""
    covered = interval_coverage(serving_errors, Intervals.from_table(catalog.uncertainty_table()))
    assert set(covered) == {"ttft_s", "tpot_s"}
    t = targets["intervals"]
    assert all(t["coverage_min"] <= v <= t["coverage_max"] for v in covered.values()), covered


def test_uncalibrated_chip_is_flagged_in_every_output(tmp_path: Path) -> None:
    cases = tmp_path / "cases.csv"
    cases.write_text("case_id,model,system,engine,isl,osl,concurrency,tp\n"
                     "a3,llama-3.1-70b,kunlun-p800-8card,,1024,256,16,4\n"
                     "h100,llama-3.1-70b,hgx-h100,vllm,1024,256,16,4\n")
    runner = CliRunner()
    csv_out = runner.invoke(cli, ["predict", str(cases), "--format", "csv"]).stdout
    assert "uncalibrated chip kunlunxin-p800" in csv_out.splitlines()[1]
    assert "uncalibrated" not in csv_out.splitlines()[2]
    rows = json.loads(runner.invoke(cli, ["predict", str(cases), "--format", "json"]).stdout)
    flagged = [["uncalibrated" in flag for flag in row["flags"]] for row in rows]  # JSON: a list of sentences
    assert (True in flagged[0], True in flagged[1]) == (True, False)
    table = runner.invoke(cli, ["predict", str(cases), "--format", "table"], env={"COLUMNS": "400"}).stdout
    assert "uncalibrated chip" in table
    serve = json.loads(runner.invoke(cli, ["serve", "--model", "llama-3.1-70b", "--system", "kunlun-p800-8card", "--tp", "4",
                                           "--format", "json"]).stdout)
    assert serve["flags"][0].startswith("uncalibrated chip kunlunxin-p800 (calibration: derived-prior-npu")
    compared = json.loads(runner.invoke(cli, ["compare", "kunlun-p800-8card", "hgx-h100", "--model", "llama-3.1-8b",
                                              "--format", "json"]).stdout)
    assert compared[0]["calibrated"] is False and "uncalibrated" in compared[0]["note"]
    assert compared[1]["calibrated"] is True


def test_flagged_cases_get_wider_intervals() -> None:
    ascend, h100 = predict_rows([ASCEND, H100])
    def log_width(p):
        low, high = p.interval("tpot_s")
        return __import__("math").log(high / low)
    assert ascend.flags and not h100.flags
    assert log_width(ascend) > 1.9 * log_width(h100)
    assert h100.interval("tpot_s")[0] <= h100.tpot_s <= h100.interval("tpot_s")[1]


def test_a_prediction_says_which_residuals_its_intervals_come_from() -> None:
    """DeepSeek-R1 aggregated takes the MLA models' band and says so; Llama-3.1-70B the plain aggregated one. The
    steady model's prediction ends its note with the phrase once."""
    from parity.predict import interval_note, scenario_from_row
    deepseek = scenario_from_row({"case_id": "d", "model": "deepseek-r1", "system": "hgx-h200", "engine": "sglang",
                                  "isl": "1024", "osl": "1024", "concurrency": "16", "tp": "8", "moe_ep": "8"})
    assert interval_note(deepseek) == "80% intervals from held-out residuals of aggregated MLA-model runs"
    (p,) = predict_rows([H100], model_kind="steady")
    assert p.note.endswith("; 80% intervals from held-out residuals of aggregated runs")
    assert p.note.count("80% intervals") == 1


def test_a_kv_bound_simulated_run_is_flagged_and_its_interval_widened() -> None:
    """Llama-3.1-70B FP8 on two H100s (vLLM) at 128 clients of 2,048 + 512 tokens outgrows its KV cache: the
    simulated run says so in its flags, and its TTFT interval is twice as wide in log as the band it takes;
    at 8 clients the same deployment has room and no KV flag."""
    import math
    row = {"case_id": "kv", "model": "llama-3.1-70b", "system": "hgx-h100", "engine": "vllm", "weights": "fp8",
           "isl": 2048, "osl": 512, "tp": 2}
    bound, roomy = predict_rows([{**row, "concurrency": 128}, {**row, "concurrency": 8}], model_kind="sim")
    (kv,) = (f.text for f in bound.flags if f.kind == "KV-bound run")  # one flag, its own entry
    assert kv.endswith("preempted): its TTFT turns on the KV capacity")
    assert not any("KV-bound" in f.kind for f in roomy.flags)
    assert kv in bound.row()["flags"]  # predict's flags column lists them
    waited = int(kv.split("KV-bound run (")[1].split(" of ")[0].replace(",", ""))
    assert bound.extra["kv_waited"] == waited > 0 and roomy.extra["kv_waited"] == 0.0  # predict's kv_waited column
    intervals = Intervals.from_table(catalog.uncertainty_table("sim"))
    band = intervals.band("ttft_s", "agg")
    low, high = bound.interval("ttft_s")
    assert math.log(high / low) == pytest.approx(WIDEN_FLAGGED * (band.q_high - band.q_low))


def test_a_kv_bound_load_is_flagged_by_the_steady_model_and_replaced_by_the_simulated_runs_flag() -> None:
    """The same deployment under the steady model: its KV cache holds 83 of the 128 clients (45 queue for a slot,
    the TTFT 15.8 s of which that queue is most), so the prediction is flagged and its TTFT interval widened; at 8
    clients nothing queues. The simulator's run of the same case drops that flag for its own."""
    import math
    row = {"case_id": "kv", "model": "llama-3.1-70b", "system": "hgx-h100", "engine": "vllm", "weights": "fp8",
           "isl": 2048, "osl": 512, "tp": 2}
    bound, roomy = predict_rows([{**row, "concurrency": 128}, {**row, "concurrency": 8}], model_kind="steady")
    assert [f.text for f in bound.flags] == ["KV-bound load (45 of 128 clients wait for a KV-cache slot, 83 hold "
                                             "one): its TTFT is mostly that queue; engine vllm grows KV on demand "
                                             "and preempts instead of queueing, so its TPOT and throughput may differ "
                                             "from this queue's (the simulator, --model-kind sim, runs the "
                                             "preemptions)"]
    assert bound.ttft_s == pytest.approx(15.81, rel=1e-3) and roomy.flags == ()
    band = Intervals.from_table(catalog.uncertainty_table("steady")).band("ttft_s", "agg")
    low, high = bound.interval("ttft_s")
    assert math.log(high / low) == pytest.approx(WIDEN_FLAGGED * (band.q_high - band.q_low))
    (simulated,) = predict_rows([{**row, "concurrency": 128}], model_kind="sim")
    assert [f.kind for f in simulated.flags] == ["KV-bound run"]
    # TensorRT-LLM reserves a request's whole length at admission: the queue is what it does, and the flag says no more
    (reserved,) = predict_rows([{**row, "concurrency": 512, "engine": "trtllm"}], model_kind="steady")
    (text,) = (f.text for f in reserved.flags)
    assert text.startswith("KV-bound load (") and text.endswith("): its TTFT is mostly that queue")


def test_flag_kinds_are_each_flags_kind_once() -> None:
    """The kinds `validate --by flag` groups by are those the producers name, once each in order: the B200's FP6
    GEMM rate (no kernel figure of the family measures it; its FP4 is measured beside FP8), a feature never
    validated (Qwen3.5's linear attention) and the generic engine; a run past the context window adds its own."""
    from parity.validate import flag_kinds
    from parity.uncertainty import case_flags
    raised = case_flags([(catalog.system("hgx-b200"), None)], catalog.model("qwen3.5-397b-a17b"),
                        catalog.engine("generic"), [], 0, 0, "mxfp6")
    assert flag_kinds(raised) == ("fp6 GEMM rate not measured on nvidia-b200-sxm", "features never validated",
                                  "engine profile generic not fitted to measurements")
    assert flag_kinds(raised + raised) == flag_kinds(raised)
    past = case_flags([(catalog.system("hgx-b200"), None)], catalog.model("llama-3.1-8b"),
                      catalog.engine("generic"), [], 0, 200_000)
    assert flag_kinds(past)[0] == "past the context window"
    assert flag_kinds(()) == ()


def test_flag_scores_count_a_row_under_each_of_its_flags() -> None:
    """Three never-fitted TTFT rows: +10% unflagged, -50% KV-bound, +20% KV-bound and uncalibrated; a calibration
    row is not scored. KV-bound: 2 rows, median |error| 35%, bias -15%; none: 1 row at +10%."""
    from parity.validate import CaseError, flag_scores
    def case(split: str, predicted: float, *kinds: str) -> CaseError:
        return CaseError(case_id="c", split=split, system="s", engine="e", model="m", mode="agg", metric="ttft_s",
                         measured=1.0, predicted=predicted, flags=tuple(Flag(k, f"{k} (detail)") for k in kinds))
    kv = "KV-bound run"
    found = {dict(s.group)["flag"]: s for s in flag_scores([
        case("holdout", 1.1), case("holdout", 0.5, kv), case("unseen", 1.2, "uncalibrated chip x", kv),
        case("calibration", 9.0, kv)])}
    assert set(found) == {"none", "KV-bound run", "uncalibrated chip x"}
    assert (found["KV-bound run"].count, found["KV-bound run"].median_abs_error) == (2, pytest.approx(0.35))
    assert found["KV-bound run"].bias == pytest.approx(-0.15)
    assert (found["none"].count, found["none"].bias) == (1, pytest.approx(0.1))


def test_validate_by_flag_groups_the_scores_by_flag_kind() -> None:
    """`parity validate --by flag`: one row per metric and flag kind (a row with two flags under each), then every
    scored row together; a calibration row is not scored. Any other field beside 'flag' is refused in one line."""
    from parity.cli.validate_payload import score_table
    from parity.validate import CaseError
    def case(split: str, predicted: float, *kinds: str) -> CaseError:
        return CaseError(case_id="c", split=split, system="s", engine="e", model="m", mode="agg", metric="ttft_s",
                         measured=1.0, predicted=predicted, flags=tuple(Flag(k, f"{k} (detail)") for k in kinds))
    table = score_table([case("holdout", 1.1), case("holdout", 0.5, "KV-bound run", "uncalibrated chip y"),
                         case("calibration", 3.0)], ["flag"])
    assert [(r["flag"], r["count"]) for r in table] == [("KV-bound run", 1), ("none", 1), ("uncalibrated chip y", 1),
                                                         ("all scored", 2)]
    bad = CliRunner().invoke(cli, ["validate", "--by", "flag,engine"])
    assert bad.exit_code == 2 and "alone); got 'flag,engine' (flag: only alone)" in bad.output


def test_features_scored_but_never_fitted_are_told_apart_from_features_never_scored() -> None:
    """gpt-oss-120b's sinks and sliding windows are in 209 never-fitted serving rows that docs/accuracy.md scores,
    though in no calibration row: 'features no fit saw', not 'never validated' (the page scores them). DeepSeek-V3.2's
    sparse attention is in no row at all: 'features never validated'."""
    assert {"sinks", "sliding_window"} <= catalog.validated_features(fitted=False) - catalog.validated_features()
    assert "dsa" not in catalog.validated_features(fitted=False)
    result = CliRunner().invoke(cli, ["serve", "--model", "gpt-oss-120b", "--system", "hgx-b200", "--engine", "trtllm",
                                      "--tp", "1", "--concurrency", "8", "--model-kind", "steady", "--format", "json"])
    flags = json.loads(result.output)["flags"]
    assert "features no fit saw: sinks, sliding_window (scored on never-fitted rows: docs/accuracy.md)" in flags
    assert not any("never validated" in flag for flag in flags)


def test_fp4_timed_beside_fp8_counts_as_measured() -> None:
    """family-blackwell measures FP4 as layers timed beside FP8 at the same shapes (kind gemm_fp4_of_fp8): its FP4
    rate is measured, so a B200 in NVFP4 raises no "GEMM rate not measured" flag (the flag named 'fp4_of_fp8' as a
    format and called FP4 unmeasured)."""
    from parity.uncertainty import case_flags
    cal = catalog.calibration(catalog.system("hgx-b200").chip)
    assert "fp4" in catalog.measured_gemm_formats(cal.rows)
    raised = case_flags([(catalog.system("hgx-b200"), None)], catalog.model("llama-3.1-8b"), catalog.engine("generic"),
                        [], 0, 0, "nvfp4")
    assert not any("GEMM rate not measured" in f.text for f in raised)


FP4_KV = ("KV cache nvfp4 without a unit: nvidia-h100-sxm has no NVFP4 unit; priced as attention reading it "
          "dequantised (fewer bytes, no faster math), which no measured run checks; engines run NVFP4 KV caches on "
          "Blackwell only (TensorRT-LLM: sm100/103; vLLM 0.21+: SM100)")


@pytest.mark.parametrize(("kv", "flagged"), [("fp8", ""), ("int8", ""), ("nvfp4", FP4_KV),
                                             ("fp4", FP4_KV), ("mxfp4", FP4_KV.replace("nvfp4", "mxfp4", 1)
                                                                .replace("NVFP4 unit", "MXFP4 unit")),
                                             ("int4", "KV cache int4: a weight-only format (INT4 weight-only, FP16 "
                                                      "scale per group of 128; multiplies in bf16); priced as "
                                                      "attention reading it dequantised (fewer bytes, no faster "
                                                      "math), which no measured run stores its KV cache in")])
def test_a_kv_cache_the_chip_has_no_unit_for_is_flagged(kv: str, flagged: str) -> None:
    """Llama-3.1-8B decoding 16 sequences of 32k tokens on an H100: an NVFP4 KV cache ran unflagged at TPOT 12.45 ms
    against FP8's 17.05 (report-only tester fixNF 5), though the H100 has no FP4 unit and engines run NVFP4 KV caches
    on Blackwell only; --kv fp4 read as nvfp4 silently. parity prices such a cache by its bytes with attention's math
    as it was (the 12.45 ms stands: fewer bytes read), and now flags it; FP8, BF16 and INT8 (the H100's own units)
    stay unflagged, their figures as they were (a BF16 cache does not fit here: the next test)."""
    args = ["serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--phase", "decode", "--batch", "16",
            "--context", "32768", "--kv", kv, "--format", "json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [f for f in data["flags"] if f.startswith("KV cache")] == ([flagged] if flagged else [])
    tpot = {"fp8": 17.05, "int8": 17.05, "nvfp4": 12.45, "fp4": 12.45}
    if kv in tpot:
        assert round(data["tpot_s"] * 1e3, 2) == tpot[kv]
    assert ("fp4 KV cache read as nvfp4, the chip having none of nvfp4, mxfp4" in data["note"]) == (kv == "fp4")


def test_a_native_fp4_kv_cache_is_not_flagged() -> None:
    from parity.uncertainty import kv_cache_flag
    assert kv_cache_flag(catalog.chip("b200"), "nvfp4") is None
    assert kv_cache_flag(catalog.chip("h100"), "bf16") is None
    assert kv_cache_flag(catalog.chip("a100"), "fp8") is None  # engines dequantise FP8 KV on Ampere (vLLM #2279)
    assert kv_cache_flag(catalog.chip("mi355x"), "nvfp4").brief == "KV nvfp4 emulated"


def test_a_flag_and_the_chips_calibration_widen_in_quadrature() -> None:
    """widening: D, the largest widen of the flags but the calibration's (2 each), and C, the chip's calibration's
    (fitted 1, partly 1.25, inherited 2, prior 2.25), give sqrt(D^2 + C^2 - 1): flags of one kind count once (a far
    layout beside an unfitted engine: 2, not 2.65), a flag beside a partly fitted chip sqrt(5.5625) = 2.1360, an
    inherited one sqrt(7) = 2.6458, one on a prior sqrt(8.0625) = 2.8395; informational flags (widen 1) none. So on
    one workload (qwen3-32b in BF16 on the generic engine, flagged on every chip) the H200 (fitted) prints a TPOT
    interval of its band's log-width 2, the H20 (partly) 2.1360, the H800 (inheriting the H200's) 2.6458 and the MetaX
    C500 (on derived-prior-gpu, its specs assumed too) 2.8395."""
    import math

    from parity.flags import CALIBRATION_REASON, Flag
    from parity.predict import predict_rows
    from parity.uncertainty import CALIBRATION_WIDEN, widening

    def calibration(widen: float) -> Flag:
        return Flag("uncalibrated chip", "y", widen=widen, reason=CALIBRATION_REASON)

    assert CALIBRATION_WIDEN == {"fitted": 1.0, "partly": 1.25, "inherited": 2.0, "prior": 2.25}
    far, engine = Flag("layout far from measured ones", "x"), Flag("engine profile generic not fitted", "z")
    assert widening([]) == 1.0 and widening([far]) == 2.0 and widening([far, engine]) == 2.0
    assert widening([Flag("config trimmed", "t", widen=1.0)]) == 1.0 and widening([calibration(2.25)]) == 2.25
    assert [widening([far, engine, calibration(c)]) for c in (1.25, 2.0, 2.25)] == pytest.approx(
        [2.1360009, 2.6457513, 2.8394542], abs=1e-7)
    assert widening([calibration(1.25), calibration(2.0)]) == 2.0  # one reason: the larger
    with pytest.raises(ValueError, match="at least 1"):
        Flag("config trimmed", "t", widen=0.0)
    row = {"model": "qwen3-32b", "engine": "generic", "weights": "bf16", "kv": "bf16", "isl": "1024", "osl": "1024",
           "concurrency": "64", "tp": "4"}
    widths = {}
    for system in ("hgx-h200", "hgx-h20", "hgx-h800", "metax-c500-8card"):
        (p,) = predict_rows([row | {"system": system}])
        low, high = p.interval("tpot_s")
        widths[system] = math.log(high / low)
    assert [widths[s] / widths["hgx-h200"] for s in ("hgx-h20", "hgx-h800", "metax-c500-8card")] == pytest.approx(
        [2.1360009 / 2, 2.6457513 / 2, 2.8394542 / 2], rel=1e-6)
    assert catalog.calibration(catalog.chip("metax-c500")).measured is False


def test_a_training_prediction_takes_its_vendors_band_of_published_runs() -> None:
    """A training prediction's 80% interval had none (`train` printed a MetaX C500 step of 714.834 s bare, `fleet`
    28.4 days against a 30-day deadline: report-only tester). It takes the vendor band of
    training_ratio_uncertainty.toml (NVIDIA: q10 -0.246328, q90 0.319276 over 59 published runs, each scored with its
    source left out), as `compare --workload train` builds its ratio intervals from, twice as wide in log where no
    published run trained on the family (MetaX's, which takes the widest band: centre 0.036474, half-width 2 x
    0.282802 = 0.565604, so [-0.529130, 0.602078]). Measured tokens/s per chip lie in [p e^-q90, p e^-q10]: 183.4 on a
    C500 -> 183.4 e^-0.602078 = 100.44 to 183.4 e^0.529130 = 311.31; a time moves inversely: 28.4 days -> 28.4
    e^-0.529130 = 16.73 to 28.4 e^0.602078 = 51.86. On an H100 (Hopper, trained on and measured): 1,000 -> 1,000
    e^-0.319276 = 726.67 to 1,000 e^0.246328 = 1,279.32. training_interval widens by the run's flags (here the MetaX
    run's 'training never checked' alone), training_band as a training ratio widens (ratio_band), by the chip's own
    flags: untrained family (2) and its calibration on a prior (2.25), sqrt(4 + 5.0625 - 1) = 2.839454, half-width
    0.803003, so [-0.766529, 0.839477]."""
    from parity.flags import Flag
    from parity.uncertainty import training_band, training_interval

    unchecked = (Flag("training never checked", "training never checked on the metax family"),)

    metax, h100 = catalog.chip("metax-c500"), catalog.chip("nvidia-h100-sxm")
    band = training_band(metax)
    assert band is not None and (band.q_low, band.q_high) == pytest.approx((-0.766529, 0.839477), abs=1e-6)
    assert training_interval(metax, 183.4, unchecked) == pytest.approx((100.44, 311.31), abs=0.005)
    assert training_interval(metax, 28.4, unchecked, inverse=True) == pytest.approx((16.73, 51.86), abs=0.005)
    band = training_band(h100)
    assert band is not None and (band.q_low, band.q_high, band.count) == pytest.approx((-0.246328, 0.319276, 59))
    assert training_interval(h100, 1000.0, ()) == pytest.approx((726.67, 1279.32), abs=0.005)
