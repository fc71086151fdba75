"""What `parity compare` says of the run it priced."""

from __future__ import annotations

import pytest


def test_the_caption_names_the_weights_given_not_the_narrowest_native() -> None:
    """With --weights the caption said 'the narrowest weights each chip runs natively', which the run did not do."""
    from click.testing import CliRunner

    from parity.cli import cli
    given = CliRunner().invoke(cli, ["compare", "hgx-h100", "--model", "llama-3.1-8b", "--weights", "int4", "--format",
                                     "md"])
    chosen = CliRunner().invoke(cli, ["compare", "hgx-h100", "--model", "llama-3.1-8b", "--format", "md"])
    assert given.exit_code == chosen.exit_code == 0, given.output + chosen.output
    assert "Formats: int4 weights on every chip (--weights), and an FP8 KV cache" in " ".join(given.output.split())
    assert "Formats: the narrowest weights each chip runs natively" in " ".join(chosen.output.split())


def test_the_caption_says_what_calibrated_rests_on() -> None:
    """JSON's `"calibrated": true` on the 910C, MI300X and MI355X read as "measured", and nothing said it may rest
    on a few published kernel figures (fuzz22b 1.2): the caption now says what a calibration of the chip is."""
    from click.testing import CliRunner

    from parity.cli import cli
    shown = CliRunner().invoke(cli, ["compare", "hgx-h100", "--model", "llama-3.1-8b", "--format", "md"])
    assert shown.exit_code == 0, shown.output
    assert ("a calibrated chip ('calibrated' in --format json) has kernels timed by parity on it, published kernel "
            "figures of it (its 'calibration:' assumption names them), or serving runs of it that fitted the engine "
            "profiles, and may have part of its kernel figures from other chips: its 'kernel figures:' assumption says "
            "which were fitted on it and which it inherits, from which chip (kernel_figures in --format json: fitted, "
            "partly, inherited or prior). 80% int.") in " ".join(shown.output.split())


@pytest.mark.e2e  # compare searches (1.4 s): the end-to-end tier keeps the default run under a minute
def test_a_row_that_does_not_fit_writes_no_rates() -> None:
    """Kimi-K2 does not fit a TPU v6e-8: its rates were 0.0 in JSON and CSV, which read as figures, where fleet writes
    null; clients_per_worker was a float (8192.0) (fuzz16 4.3)."""
    import csv
    import io
    import json

    from click.testing import CliRunner

    from parity.cli import cli
    args = ["compare", "tpu-v6e-8", "hgx-h100", "--model", "kimi-k2", "--format"]
    tpu, h100 = json.loads(CliRunner().invoke(cli, [*args, "json"]).stdout)
    rates = ("tokens_per_s_per_chip", "prefill_tokens_per_s_per_chip", "tokens_per_s_per_system",
             "tokens_per_s_per_kw", "tokens_per_s_per_gb", "decode_tokens_per_s_per_chip")
    assert not tpu["fits"] and [tpu[k] for k in rates] == [None] * 6
    assert h100["fits"] and all(h100[k] > 0 for k in rates)
    # 6,155 before each layout ran at the most clients its targets allow (the H100's best is now another worker);
    # 3,621 before the decode batch was refined as served
    assert h100["clients_per_worker"] == 3717 and isinstance(h100["clients_per_worker"], int)
    row = next(csv.DictReader(io.StringIO(CliRunner().invoke(cli, [*args, "csv"]).stdout)))
    assert row["fits"] == "False" and [row[k] for k in rates[:5]] == [""] * 5
    formats = json.loads(CliRunner().invoke(cli, ["formats", "tpu-v6e-8", "--model", "kimi-k2", "--formats", "fp8",
                                                  "--format", "json"]).stdout)
    assert [(f["fits"], f["tokens_per_s_per_chip"], f["tokens_per_s_per_kw"]) for f in formats] == [(False, None, None)]


def test_compare_and_fleet_name_a_models_unmodelled_keys_once_under_the_table(tmp_path) -> None:
    """`compare` (serving and training) and `fleet` printed none of a config's `unmodelled:` flags (their JSON and
    `serve` have them; a row's note gives only a few words): the caption names them once, ahead of its other
    sentences, and points at `parity model`, which says each whole; training's JSON carries them as serving's does
    (it had none) (fuzz19a 4.1). A model with no flags adds no sentence."""
    import json

    from click.testing import CliRunner

    from parity import catalog
    from parity.cli import cli
    config = tmp_path / "odd.json"
    text = json.loads(catalog.data_dir().joinpath("models", "Qwen--Qwen3-0.6B_config.json").read_text())
    config.write_text(json.dumps({**text, "mystery_width": 4096, "gating": "odd"}))
    said = ("Model flags: unmodelled: gating, mystery_width (`parity model " + str(config) + "` says each whole).")
    for args in (["compare", "hgx-h100", "--model", str(config)],
                 ["compare", "hgx-h100", "--model", str(config), "--workload", "train"],
                 ["fleet", "--model", str(config), "--chips", "h20", "--demand", "1e9 tokens/day"]):
        out = CliRunner().invoke(cli, args, env={"COLUMNS": "200"})
        assert out.exit_code == 0, out.output
        assert " ".join(out.stdout.split()).count(said) == 1, out.stdout
    rows = json.loads(CliRunner().invoke(cli, ["compare", "hgx-h100", "--model", str(config), "--workload", "train",
                                               "--format", "json"]).stdout)
    assert rows[0]["flags"][:2] == ["unmodelled: gating", "unmodelled: mystery_width"]
    plain = CliRunner().invoke(cli, ["compare", "hgx-h100", "--model", "qwen3-0.6b"], env={"COLUMNS": "200"})
    assert "Model flags" not in plain.stdout


@pytest.mark.e2e  # training searches (1.5 s): the end-to-end tier keeps the default run under a minute
def test_training_mfu_names_the_peak_it_divides_by() -> None:
    """The MFU of `compare --workload train` and `train --search` was headed 'MFU' alone, one row's FP8 peak beside
    another's BF16 one (the 910C emulates FP8): the H800's 16% of its FP8 peak read as less busy than the 910C's 26%
    of its BF16 peak. compare's caption names each row's peak and its JSON writes the peak and the BF16-peak figure;
    search heads the column with its peak (fuzz19b 1.3)."""
    import json

    from click.testing import CliRunner

    from parity.cli import cli
    args = ["compare", "hgx-h800", "atlas-800-a3", "--model", "deepseek-v3", "--workload", "train", "--chips", "2048",
            "--precision", "fp8_block"]
    out = CliRunner().invoke(cli, args, env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    assert ("MFU: model FLOP/s (6N + 12LHQT) per chip over the chip's dense peak in the math its format runs on, "
            "which differs by row: FP8 for hgx-h800; BF16 for atlas-800-a3 (mfu_bf16 in --format json divides every "
            "row by the BF16 peak).") in " ".join(out.stdout.split())
    h800, a3 = json.loads(CliRunner().invoke(cli, [*args, "--format", "json"]).stdout)
    assert (h800["mfu_peak"], a3["mfu_peak"]) == ("fp8", "bf16")
    assert h800["mfu_bf16"] == pytest.approx(2 * h800["mfu"], rel=0.01)  # H800: 1,979 TFLOP/s FP8, 989 BF16
    assert a3["mfu_bf16"] == a3["mfu"]
    same = CliRunner().invoke(cli, [*args[:-2], "--format", "md"])
    assert "MFU: model FLOP/s (6N + 12LHQT) per chip over the chip's dense BF16 peak." in same.stdout
    serving = json.loads(CliRunner().invoke(cli, ["compare", "hgx-h100", "--model", "llama-3.1-8b", "--format",
                                                  "json"]).stdout)
    assert not {"mfu", "mfu_peak", "mfu_bf16"} & set(serving[0])
    for system, peak in (("hgx-h800", "FP8"), ("atlas-800-a3", "BF16")):
        search = CliRunner().invoke(cli, ["train", "--model", "deepseek-v3", "--system", system, "--chips", "2048",
                                          "--precision", "fp8_block", "--search", "--top", "2"], env={"COLUMNS": "80"})
        lines = search.stdout.splitlines()
        rule = next(i for i, line in enumerate(lines) if line.startswith("──"))
        assert lines[rule - 2].split() == [peak] and "tok/s/chip MFU" in " ".join(lines[rule - 1].split())
        assert f"{peak} MFU: model FLOP/s (6N + 12LHQT) per chip over the chip's dense {peak} peak" in " ".join(
            search.stdout.split())


def test_the_caption_names_once_each_flag_every_row_carries_and_no_note_shows() -> None:
    """A flag with no brief (no row's note gives it) that every row with a prediction carries goes into the caption
    once, after the model's own flags; one only some rows carry goes in after it with the rows it holds for (a far
    layout on one system of a compare was in its JSON alone: report-only tester fuzzCB 2); a briefed flag (the notes
    say it) and the model's own (said under 'Model flags') do not; a row with no prediction makes it 'Every row with
    a result' (it said 'Every row that fits' of a row that fits the memory but meets no target: report-only tester
    fixC 5)."""
    from dataclasses import replace

    from conftest import tiny_model
    from parity.cli.labels import flags_caption
    from parity.flags import Flag
    own = Flag("unmodelled", "unmodelled: gating")
    model = replace(tiny_model(), flags=(own,))
    unseen, engine = Flag("features never validated", "features never validated: dsa"), Flag("engine", "engine x")
    briefed, some = Flag("uncalibrated chip", "uncalibrated (long)", "uncalibrated"), Flag("layout", "layout far")
    rows = [("a", True, (own, unseen, briefed, some, engine)), ("b", True, (own, engine, unseen, briefed))]
    said = "Model flags: unmodelled: gating (`parity model tiny` says each whole). "
    assert flags_caption(model, "tiny", rows) == said + "Every row: features never validated: dsa; engine x. Only a: " \
                                                        "layout far. "
    assert flags_caption(model, "tiny", [*rows, ("c", False, (some,))]) == (
        said + "Every row with a result: features never validated: dsa; engine x. Only a: layout far. ")
    assert flags_caption(tiny_model(), "tiny", [("a", True, (briefed,)), ("b", True, (some,)), ("c", True, (some,))]
                         ) == "Only b, c: layout far. "
    assert flags_caption(tiny_model(), "tiny", [("a", False, (some,))]) == ""


def test_a_caption_that_names_each_stacks_maturity_says_the_flags_without_theirs() -> None:
    """tester fixsm 1: compare's caption said a stack's maturity in the engine flag and again under 'Software
    stacks'; with maturity_said the flags lose their maturity clause (Flag.maturity), so rows on different stacks
    whose flags differed only there share one line; a clause that does not close the text is refused."""
    from conftest import tiny_model
    from parity.cli.labels import flags_caption
    from parity.flags import Flag
    plain = Flag("engine", "engine generic not fitted")
    rocm = Flag("engine", "engine generic not fitted; its kernels at ROCm's", maturity="; its kernels at ROCm's")
    rows = [("a", True, (plain,)), ("b", True, (rocm,))]
    assert flags_caption(tiny_model(), "tiny", rows) == (
        "Only a: engine generic not fitted. Only b: engine generic not fitted; its kernels at ROCm's. ")
    assert flags_caption(tiny_model(), "tiny", rows, maturity_said=True) == "Every row: engine generic not fitted. "
    with pytest.raises(ValueError, match="maturity must close its text"):
        Flag("engine", "engine x", maturity="; at ROCm's")


@pytest.mark.e2e  # four searches (0.4 s each after the first's 1.3 s)
def test_compare_fleet_and_formats_captions_name_a_feature_no_row_shows() -> None:
    """compare's table dropped 'features never validated: dsa', which every row of deepseek-v3.2 carries (only its
    JSON had it; serve and search print it): compare (table and Markdown), fleet and formats name it once in the
    caption (fixN 1)."""
    import json

    from click.testing import CliRunner

    from parity.cli import cli
    runs = [["compare", "hgx-h100", "--model", "deepseek-v3.2"],
            ["compare", "hgx-h100", "--model", "deepseek-v3.2", "--format", "md"],
            ["fleet", "--model", "deepseek-v3.2", "--chips", "h100", "--demand", "1e12 tokens/day"],
            ["formats", "hgx-h100", "--model", "deepseek-v3.2", "--formats", "fp8_block"]]
    for args in runs:
        out = CliRunner().invoke(cli, args, env={"COLUMNS": "120"})
        assert out.exit_code == 0, out.output
        said = " ".join(out.stdout.split())
        assert said.count("Every row: features never validated: dsa;") == 1, said
    rows = json.loads(CliRunner().invoke(cli, [*runs[0], "--format", "json"]).stdout)
    assert "features never validated: dsa" in rows[0]["flags"]


@pytest.mark.e2e  # two models' searches (about 2 s)
def test_a_term_is_explained_under_the_first_models_table_alone() -> None:
    """The default compare (two models) printed its 28 lines of terms under each table: a term whose text an earlier
    table printed is now left to that table, and the later caption says so; its own facts (engine profile, MTP)
    stay."""
    from click.testing import CliRunner

    from parity.cli import cli
    shown = CliRunner().invoke(cli, ["compare", "hgx-h100", "hgx-h200", "--model", "llama-3.1-8b", "--model",
                                     "deepseek-r1", "--format", "md"])
    assert shown.exit_code == 0, shown.output
    text = " ".join(shown.output.split())
    first, second = text.split("deepseek-r1: serving")
    for term in ("tok/s: output tokens per second.", "80% int.: the 80% interval of the per-chip ratio",
                 "per kW = per system over the system's power"):
        assert term in first and term not in second, term
    assert "Other terms as under llama-3.1-8b's table." in second and "Other terms" not in first
    assert second.count("Engine profile: generic.") == 1 and "MTP 1 draft token a decode step" in second


def test_once_keeps_facts_and_drops_only_a_terms_exact_repeat() -> None:
    """A term is left to the table that printed it, named (a third model's caption named the second table for a
    term the first printed: report-only tester fuzzEC 9)."""
    from parity.cli.compare_captions import _once

    said: dict[str, str] = {}
    assert _once([("A means a. ", True), ("Fact one. ", False)], said, "m1") == "A means a. Fact one. "
    assert _once([("A means a. ", True), ("Fact one. ", False), ("B means b. ", True)], said, "m2") == (
        "Fact one. B means b. Other terms as under m1's table. ")
    assert _once([("A means more. ", True), ("", True)], said, "m3") == "A means more. "
    assert _once([("B means b. ", True), ("A means a. ", True)], said, "m4") == (
        "Other terms as under m2's and m1's tables. ")
