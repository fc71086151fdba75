"""Training notes that say what is true: a job smaller than its system, memory savings that bind, the published runs'
envelope, times and units (report-only tester, training-infrastructure lead)."""

from __future__ import annotations

import pytest

from parity import catalog
from parity.compare import compare


def test_a_job_smaller_than_its_system_says_it_asked_for_fewer_chips() -> None:
    """CloudMatrix 384 trains Llama-3.1-70B on 384 chips (a layout divides them), so a job of --chips 128 trains on
    128 because it asked for them, not because none divides the system's (finding 1); at 256 ZeRO-3 wins by 0.2%
    (911.7 tok/s/chip against ZeRO-1's 909.9), so memory does not bind (finding 2)."""
    matrix, llama = catalog.system("cloudmatrix-384"), catalog.model("llama-3.1-70b")
    for chips in (128, 256):
        row, = compare([matrix], llama, catalog.engine("generic"), workload="train", chips=chips)
        assert row.note.startswith(f"the job asks for {chips} of the system's 384 chips (per system, per kW and per "
                                   "GB: all 384 at its per-chip rate)")
        assert row.tokens_per_s_per_system == pytest.approx(row.tokens_per_s_per_chip * 384)
        assert "no layout divides" not in row.note and "memory binds" not in row.note
        assert row.memory_bound == ()
    assert row.layout == "tp2-pp1-dp256-mb1-zero3" and round(row.tokens_per_s_per_chip, 1) == 911.7


def test_per_system_is_every_chip_of_the_system_busy_whatever_the_job_asks() -> None:
    """compare hgx-h100 cloudmatrix-384 gb200-nvl72 --chips 64 read CloudMatrix 6.23x per system: 64 chips training
    (916 x 64) against one 8-GPU H100 system (1,176 x 8), under a caption saying 'per system = every chip of the
    system busy' (fuzzEM 8). Per system is now per chip x the system's chips, as serving counts it: 916 x 384 against
    1,176 x 8 = 37.4x, 3,057 x 72 = 23.4x; the note states the job's own 64 chips."""
    systems = [catalog.system(s) for s in ("hgx-h100", "cloudmatrix-384", "gb200-nvl72")]
    rows = compare(systems, catalog.model("llama-3.1-70b"), catalog.engine("generic"), workload="train", chips=64)
    assert [round(r.tokens_per_s_per_system / r.tokens_per_s_per_chip) for r in rows] == [8, 384, 72]
    assert [round(r.ratios["per_system"], 2) for r in rows] == [1.0, 37.38, 23.38]
    assert rows[2].note.startswith("the job asks for 64 of the system's 72 chips (per system, per kW and per GB: all "
                                   "72 at its per-chip rate)")


def test_the_caption_says_where_per_system_counts_the_chips_a_layout_trains_on() -> None:
    """No layout divides the Atlas 960 SuperPoD's 15,488 chips: it trains on 15,360, the rest idle, and its per-system
    rate counts those (test_compare_trains_a_system_no_layout_divides_on_most_of_its_chips); the caption, which says
    every chip busy, says so."""
    from click.testing import CliRunner
    from parity.cli import cli
    out = CliRunner().invoke(cli, ["compare", "hgx-h100", "atlas-960-superpod", "--workload", "train", "--model",
                                   "llama-3.1-70b", "--format", "md"]).output
    assert ("per system = every chip of the system busy (where no layout divides a system's chips, those a layout "
            "trains on: its note says so); per kW") in out


def test_the_published_runs_envelope_is_read_from_the_shipped_rows() -> None:
    """The 67 scored runs of training_published.csv (the OPT reference row left out) reach cp 2 (NeMo's and Megatron
    Bridge's Llama runs), keep every TP group within one scale-up domain (tp 8 of an 8-GPU node, tp 12 of a TPU v4
    slice's 3,072) and at most MegaScale's 12,288 A100s."""
    from parity.uncertainty import ENVELOPE_CHIPS_FACTOR, TrainingEnvelope, training_envelope
    assert training_envelope() == TrainingEnvelope(cp=2, tp_domains=1, chips=12_288, runs=67)
    assert ENVELOPE_CHIPS_FACTOR == 2.0


def test_layouts_past_the_published_runs_are_flagged() -> None:
    """The tester's three layouts printed 'outside what was validated: no' (finding 3): cp 16 on 16,384 H100s, TP 16
    over two 8-GPU nodes, and 1,048,576 H100s at cp 16 (85x the largest run). Each is flagged; a layout inside the
    envelope (tp 8, cp 2 on up to twice 12,288 chips) is not."""
    from parity.training import TrainingLayout
    from parity.uncertainty import training_flags
    h100, llama = catalog.system("hgx-h100"), catalog.model("llama-3.1-70b")

    def said(**degrees: int) -> list[str]:
        return [f.text for f in training_flags(h100, llama, 8192, "bf16", [TrainingLayout(**degrees)])]
    runs = "the 67 scored published runs"
    assert said(tp=2, pp=16, cp=16, dp=32) == [f"context parallel 16: {runs} checked cp up to 2"]
    assert said(tp=16, dp=4) == [f"tensor parallel 16 over 2 scale-up domains of 8 ranks: {runs} kept each TP group "
                                 "within 1 scale-up domain"]
    assert said(tp=8, pp=64, cp=16, dp=128) == [f"context parallel 16: {runs} checked cp up to 2",
                                                f"1,048,576 chips: over 2 times the largest of {runs} (12,288)"]
    assert said(tp=8, pp=8, cp=2, dp=96) == [] and said(tp=8, pp=8, cp=2, dp=192) == []  # 12,288 and 24,576 chips
    assert said(tp=8, pp=8, cp=2, dp=193) == [f"24,704 chips: over 2 times the largest of {runs} (12,288)"]


def test_a_flagged_layout_takes_the_doubled_band() -> None:
    """Llama-3.1-70B on 64 H100s at TP 16: 811.4 tokens/s per chip (820.5 before each rank's qkv held a whole KV
    head of the 8), whose 80% interval was NVIDIA's band; flagged, it is twice as wide in log, 444.4-1,377.3 (as any
    flagged training run)."""
    import json
    from click.testing import CliRunner
    from parity.cli import cli
    out = CliRunner().invoke(cli, ["train", "--model", "llama-3.1-70b", "--system", "hgx-h100", "--chips", "64",
                                   "--tp", "16", "--format", "json"]).output
    data = json.loads(out)
    assert round(data["tokens_per_s_per_chip"], 1) == 811.4
    assert (round(data["tokens_per_s_per_chip_low"], 1), round(data["tokens_per_s_per_chip_high"], 1)) == (
        444.4, 1377.3)


def test_the_model_page_states_one_training_band_threshold() -> None:
    """docs/model.md said a vendor with fewer than 10 runs takes the widest training band in one place and fewer than
    5 in another (finding 6); the fit's TRAINING_MIN_RUNS, which data/training_ratio_uncertainty.toml records, is 10.
    (Serving's ratio bands take 5 rows, a different threshold.)"""
    import re
    from pathlib import Path
    from parity.crossvendor_training import TRAINING_MIN_RUNS
    page = " ".join((Path(__file__).parent.parent / "docs" / "model.md").read_text().split())
    said = re.findall(r"a vendor with fewer than (\d+) runs(?:, [^,]+,)? takes the widest band", page)
    assert TRAINING_MIN_RUNS == 10 and said == ["10", "10"]


@pytest.mark.e2e
def test_a_training_fleet_names_the_peak_each_mfu_divides_by() -> None:
    """FP8 on an H800 divides by its FP8 peak, on the 910C (no FP8 unit) by its BF16 one; the fleet's MFU column mixed
    them and said neither (finding 4). Its caption names each row's peak, as compare's does, and JSON carries
    mfu_peak and mfu_bf16 (the H800's 30.8% of FP8 is 61.7% of its BF16 peak)."""
    import json
    from click.testing import CliRunner
    from parity.cli import cli
    args = ["fleet", "--workload", "train", "--model", "llama-3.1-8b", "--tokens", "1e12", "--units", "384",
            "--precision", "fp8", "--chips", "nvidia-h800-sxm,cloudmatrix-384", "--processes", "1"]
    rows = json.loads(CliRunner().invoke(cli, [*args, "--format", "json"]).output)
    assert [(r["system"], r["mfu_peak"], round(r["mfu"], 3), round(r["mfu_bf16"], 3)) for r in rows] == [
        ("hgx-h800", "fp8", 0.308, 0.617), ("cloudmatrix-384", "bf16", 0.439, 0.439)]
    text = " ".join(CliRunner().invoke(cli, args).output.split())
    assert ("MFU: model FLOP/s (6N + 12LHQT) per chip over the chip's dense peak in the math its format runs on, "
            "which differs by row: FP8 for hgx-h800; BF16 for cloudmatrix-384 (mfu_bf16 in --format json divides "
            "every row by the BF16 peak).") in text


def test_small_figures_keep_their_digits() -> None:
    """A figure whose places leave fewer than two significant ones takes three (finding 5): 0.0167 days read '0.0',
    a step of 0.082-0.144 s '(0.1-0.1)'; figures that keep two or more read as before."""
    from parity.units import places_text
    assert [places_text(v, 1) for v in (0.0167, 0.082, 0.144, 3.8, 28.44, 1392.7)] == [
        "0.0167", "0.0820", "0.144", "3.8", "28.4", "1,392.7"]
    assert places_text(0.105, 3) == "0.105" and places_text(0.0, 1) == "0.00"


def test_a_short_training_run_prints_its_days_and_interval() -> None:
    """Qwen3-0.6B on 8 H100s trains 1e9 tokens in 0.0167 days, as fleet prints it, where train printed '0.0 days';
    the 80% interval no longer collapses, and fleet's note gives the same figure."""
    from click.testing import CliRunner
    from parity.cli import cli
    out = CliRunner().invoke(cli, ["train", "--model", "qwen3-0.6b", "--system", "hgx-h100", "--chips", "8",
                                   "--tokens", "1e9"], env={"COLUMNS": "120"}).output
    assert "time to train 1e+09 tokens (80% interval)               0.0167 days (0.0131-0.0230)" in out
    out = CliRunner().invoke(cli, ["train", "--model", "llama-3.1-70b", "--system", "hgx-h100", "--chips", "1048576",
                                   "--tp", "8", "--pp", "64", "--cp", "16"], env={"COLUMNS": "120"}).output
    assert "0.105 s (0.0620-0.192)" in out  # flagged past the runs' envelope: the band doubled


def test_a_multi_die_runs_memory_terms_say_they_are_a_dies() -> None:
    """Llama-3.1-70B on a CloudMatrix 384: memory_bytes_per_chip is a 910C package's (123.2 GB), the memory terms a
    die's (61.6 GB, as the table's 'memory per die'); memory_per says so (finding 7), 'chip' on an H100."""
    import json
    from click.testing import CliRunner
    from parity.cli import cli

    def train(system: str, chips: str) -> dict:
        return json.loads(CliRunner().invoke(cli, ["train", "--model", "llama-3.1-70b", "--system", system, "--chips",
                                                   chips, "--format", "json"]).output)
    data = train("cloudmatrix-384", "384")
    assert data["memory_per"] == "die" and round(data["memory_bytes_per_chip"] / 1e9, 1) == 123.2
    assert round(sum(data["memory"].values()) / 1e9, 1) == round(data["memory_bytes_per_die"] / 1e9, 1) == 61.6
    assert train("hgx-h100", "64")["memory_per"] == "chip"


def test_degrees_that_do_not_divide_the_chips_are_named_without_a_floored_dp() -> None:
    """--tp 8 --pp 3 on 64 H100s read 'got 8 x 3 x 1 x 2 = 48', a dp 2 the user never gave (finding 9): the degree
    that does not divide what the others leave is named; a dp given keeps the layout's own sentence."""
    from click.testing import CliRunner
    from parity.cli import cli

    def said(*args: str) -> tuple[int, str]:
        run = CliRunner().invoke(cli, ["train", "--model", "llama-3.1-70b", "--system", "hgx-h100", "--chips", "64",
                                       *args])
        return run.exit_code, " ".join(run.output.split())
    assert said("--tp", "8", "--pp", "3") == (2, "parity: error: --pp 3 does not divide 64 / 8 = 8: dp, not given, "
                                                 "is what the degrees leave of the chips (64)")
    assert said("--tp", "16", "--cp", "8") == (2, "parity: error: --cp 8 does not divide 64 / 16 = 4: dp, not given, "
                                                   "is what the degrees leave of the chips (64)")
    assert said("--tp", "8", "--pp", "3", "--dp", "2") == (2, "parity: error: tp x pp x cp x dp must equal the chips "
                                                              "(64), got 8 x 3 x 1 x 2 = 48")


@pytest.mark.parametrize(("kwh", "said"), [
    (0.5, "0.500 kWh"), (1.83, "1.83 kWh"), (1.0, "1.00 kWh"), (9.99, "9.99 kWh"), (18.3, "18.3 kWh"),
    (183.0, "183 kWh"), (999.4, "999 kWh"), (1830.0, "1.83 MWh"), (18_300.0, "18.3 MWh"), (1_392_700.0, "1,393 MWh"),
    (1.75e-5, "1.75e-05 kWh"),
])
def test_training_energy_keeps_three_significant_figures(kwh: float, said: str) -> None:
    """tester fixsm 2: energy between 1 and 10 kWh read to one place, '1.8 kWh', between '0.500 kWh' and '18.3 kWh';
    every figure now has three significant ones, whole from 100 up (1 kWh = 3.6e6 J, 1 MWh = 3.6e9 J)."""
    from parity.cli.train_record import _energy_text
    assert _energy_text(kwh * 3.6e6) == said


@pytest.mark.parametrize(("tokens", "chip_hours", "energy", "under_one_step"), [
    ("1e12", "25,008", "17.5 MWh", None),
    ("1e9", "25", "17.5 kWh", None),
    ("1e8", "2.50", "1.75 kWh", None),  # '1.8 kWh' (tester fixsm 2)
    ("1e6", "0.0250", "0.0175 kWh", "1,000,000 of one step's 4,194,304 tokens (47.202 s a step)"),
    ("1e3", "2.50e-05", "1.75e-05 kWh", "1,000 of one step's 4,194,304 tokens (47.202 s a step)"),
])
def test_a_short_runs_chip_hours_and_energy_keep_their_digits(tokens: str, chip_hours: str, energy: str,
                                                             under_one_step: str | None) -> None:
    """Llama-3.1-8B on 8 H100s (tp1-pp1-dp8-mb2-zero2, 47.202 s a step of 1,024 x 4,096 = 4,194,304 tokens, 88,859
    tokens/s): 1e9 tokens take 11,254 s, 8 x 11,254 / 3,600 = 25.0 chip-hours, x 700 W = 17.5 kWh, which read
    '0.0 MWh' (1e6 tokens: '0' chip-hours). Energy is in kWh under 1 MWh, to three significant figures; chip-hours
    keep three where their places leave fewer than two (units.places_text). Tokens under one step's (1e6, 1e3) are
    said to be."""
    from click.testing import CliRunner
    from parity.cli import cli
    out = CliRunner().invoke(cli, ["train", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--tp", "1", "--pp",
                                   "1", "--dp", "8", "--micro-batch", "2", "--zero", "2", "--tokens", tokens],
                             env={"COLUMNS": "120"}).output
    rows = {line[:50].strip(): line[50:].strip() for line in out.splitlines()}
    assert (rows["chip-hours"], rows["energy at chip TDP"], rows.get("fewer than one step")) == (
        chip_hours, energy, under_one_step)
