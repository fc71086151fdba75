"""Tables that fit: at 80, 100 and 120 columns no table cuts a name or a number ('…'), and no line is
wider than the terminal; the columns left out are named, and --wide or a file shows them."""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from parity.cli import cli
from parity.compare import without_even_text
from parity.report.tables import count, money, over_interval, ratio, scaled
from parity.units import share_text

pytestmark = pytest.mark.usefixtures("compared_once")  # its tables compare the systems other tables compare
LLAMA = ("--model", "llama-3.1-8b", "--system", "hgx-h100")


def _slow(*args: str) -> object:
    """A command over half a second (a search, a fleet of pods, a validation): run in the end-to-end tier, which keeps
    the default run under a minute."""
    return pytest.param(args, marks=pytest.mark.e2e, id=" ".join(args))


COMMANDS = [
    ("chips",), ("systems",), _slow("models",), ("engines",), ("show", "910c"), ("model", "deepseek-r1"), ("policy",),
    ("policy", "--at-threshold", "h100", "--model", "llama-3.1-8b"),
    ("fleet", "--model", "llama-3.1-8b", "--demand", "2e12 tokens/day"),
    ("fleet", "--model", "llama-3.1-70b", "--demand", "4e9 tokens/s"),  # near the largest fleet: 6.14 M H20s
    ("fleet", "--model", "llama-3.1-70b", "--power-mw", "5000"),  # 6.87 M H20s
    # a system named beside 'T tokens/day served' or a long note: 81 to 95 columns at 80
    _slow("fleet", "--model", "deepseek-r1", "--chips", "cloudmatrix-384,hgx-h20", "--demand", "1e12 tokens/day"),
    _slow("fleet", "--model", "deepseek-r1", "--chips", "atlas-950-superpod,cloudmatrix-384", "--units", "1000"),
    # columns that must show wider than 80 at their longest words (83 and 84): the note folds below them
    _slow("compare", "hgx-a100", "cloudmatrix-384", "--model", "deepseek-r1", "--weights", "w4a8_mxfp4"),
    ("compare", "trn2-48xlarge", "trn3-ultraserver", "hgx-h100", "--model", "llama-3.1-8b", "--workload", "train",
     "--precision", "mxfp8"),
    _slow("search", *LLAMA), _slow("search", "--model", "deepseek-r1", "--system", "gb200-nvl72", "--refine", "0"),
    ("train", *LLAMA), ("train", *LLAMA, "--search"),
    _slow("train", "--model", "deepseek-v3", "--system", "hgx-h800", "--chips", "2048", "--search"),  # long layouts
    ("serve", *LLAMA, "--explain"),
    _slow("search", "--model", "deepseek-r1", "--system", "hgx-h200", "--prefill-system", "hgx-h20", "--prefill-chips", "32",
     "--decode-chips", "16"),  # the split table: 119 columns wide at every width, none gave way
    ("compare", "hgx-h100", "atlas-800-a3", "--model", "llama-3.1-8b"),
    ("compare", "cloudmatrix-384", "gb200-nvl72", "--model", "llama-3.1-8b"),
    ("compare", "hgx-h100", "cloudmatrix-384", "--model", "llama-3.1-70b", "--workload", "train"),
    ("compare", "hgx-a100", "atlas-800-a2", "--model", "llama-3.1-70b", "--workload", "train", "--precision",
     "fp8_block"),  # 'fp8_block on bf16': 88 at 80
    _slow("formats", "hgx-h100", "atlas-800-a3", "--model", "llama-3.1-8b"),
    ("show", "cloudmatrix-384"), ("train", "--model", "glm-5", "--system", "cloudmatrix-384"),  # long words, layouts
    ("serve", "--model", "llama-3.1-8b", "--system", "trn2-48xlarge", "--tp", "8", "--phase", "decode", "--batch", "8",
     "--context", "1"),  # a long flags row
    ("validate", "--section", "training"), _slow("validate", "--section", "percentiles"),  # 45-character case ids: 99, 100
    ("train", "--validate"),  # 40-character case ids: 91 at 80
]


def table(*args: str, columns: int) -> str:
    result = CliRunner().invoke(cli, list(args), env={"COLUMNS": str(columns)})
    assert result.exit_code == 0 and result.exception is None, (args, result.stderr, result.exception)
    return result.stdout


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_tables_fit_without_cutting_a_name_or_a_number(args: tuple[str, ...], monkeypatch: pytest.MonkeyPatch) -> None:
    """Each command runs once, at 80 columns; at 100 and 120 its output is the same with each table laid out again
    at that width in its place (tables.render_text, the only reader of the terminal's width)."""
    from parity.report import tables

    real, laid_out = tables.render_text, []

    def recorded(rows: Any, *layout: Any, **options: Any) -> str:
        rows = list(rows)
        laid_out.append((rows, layout, options, real(rows, *layout, **options)))
        return laid_out[-1][-1]

    monkeypatch.setattr(tables, "render_text", recorded)
    printed = table(*args, columns=80)
    for columns in (80, 100, 120):
        monkeypatch.setenv("COLUMNS", str(columns))
        out = printed
        for rows, layout, options, text in laid_out:
            assert text in out
            out = out.replace(text, real(rows, *layout, **options), 1)
        assert "…" not in out
        assert max(len(line) for line in out.splitlines()) <= columns, (columns, out)



@pytest.mark.parametrize("args", [
    ("rtx-pro-6000d",), ("rubin", "--rule", "jan2026", "--model", "llama-3.1-8b"),
    pytest.param(("huawei-ascend-950dt", "--rule", "jan2026", "--model", "deepseek-r1"), marks=pytest.mark.e2e,
                 id="huawei-ascend-950dt --rule jan2026 --model deepseek-r1"),  # a DeepSeek-R1 search (1.9 s)
    ("trainium3",)], ids=" ".join)
def test_policy_at_threshold_fits_80_columns_with_the_notes_words_whole(args: tuple[str, ...]) -> None:
    """`policy --at-threshold` ran 83 to 87 columns at 80 (the system 'rtx-pro-6000d-server@3a090' and the header
    'decode tok/s/chip' on one line each) and folded its note inside a word ('uncalibrat' over 'ed'); the rule goes
    under the system's id and the header over two lines, and every word of each row's note prints whole."""
    out = table("policy", "--at-threshold", *args, columns=80)
    assert "…" not in out and max(len(line) for line in out.splitlines()) <= 80, out
    words = set(out.split())
    rows = json.loads(table("policy", "--at-threshold", *args, "--format", "json", columns=80))["rows"]
    base, rule = rows[1]["system"].split("@")  # the variant's '@rule' on a line of its own, under its system's id
    # in the table (its rows' notes, '- ...', and the caption may name the row whole: 'Only trn3-ultraserver@3a090:
    # layout far from measured ones')
    table_rows = out.split("\n- ")[0]
    assert f"{base}@" not in table_rows and any(line.startswith(f"@{rule} ") for line in out.splitlines())
    for row in rows:
        assert row["note"] and all(word in words for word in row["note"].split()), (row["note"], out)


def test_only_render_text_reads_the_terminal_width() -> None:
    """What lets the test above lay a command's tables out at 100 and 120 columns without running it again: no other
    module reads the terminal's width or $COLUMNS (a Console on stdout would)."""
    import re

    import parity
    reader = re.compile(r"get_terminal_size|terminal_width\(\)|[\"']COLUMNS[\"']|Console\((?!stderr=True)")
    readers = sorted(str(path.relative_to(Path(parity.__file__).parent)) for path in
                     Path(parity.__file__).parent.rglob("*.py") if reader.search(path.read_text()))
    assert readers == ["report/text_table.py"]

@pytest.mark.e2e  # over 1.5 s: the end-to-end tier keeps the default run under a minute
def test_the_default_compare_fits_80_columns_and_states_its_ttft_target() -> None:
    """The issue's worst case: the default compare printed 277 ellipses and needed about 220 columns."""
    out = table("compare", columns=80)
    assert "…" not in out and max(len(line) for line in out.splitlines()) <= 80
    assert "at TPOT 50 ms, TTFT 5 s" in out and "TTFT ms" in out
    assert "atlas-800-a3" in out and "8x Ascend 910C" in out  # a reader finds the 910C row


def test_wide_and_files_show_every_column(tmp_path: Path) -> None:
    narrow = " ".join(table("chips", columns=80).split())
    assert "Not shown at 80 columns: FP8 TFLOP/s" in narrow and "weakest source" in narrow.split("Not shown")[1]
    wide = table("chips", "--wide", columns=80)
    assert "weakest source" in wide.splitlines()[1] and "Not shown" not in wide
    target = tmp_path / "chips.txt"
    table("chips", "--out", str(target), columns=80)
    assert "weakest source" in target.read_text() and "Not shown" not in target.read_text()


def test_chips_show_a_format_the_chip_lacks_as_a_dash() -> None:
    """`chips --wide` showed FP4 TFLOP/s 0 for chips with no FP4 unit (the MI300X, the TPU7x); a format the chip
    lacks is '-' (null in JSON, empty in CSV: test_cli), and the caption says what '-' means."""
    wide = table("chips", "--wide", columns=200)
    assert next(line for line in wide.splitlines() if line.startswith("amd-mi300x ")).split()[2:5] == [
        "1,307", "2,615", "-"]
    assert ("-: a format the chip lacks, or a native one whose rate no source gives (native_rate_unpublished in "
            "--format csv/json)." in " ".join(wide.split()))


def test_compare_json_carries_intervals_and_flags_and_train_says_does_not_fit() -> None:
    """Each serving row carries its 80% interval bounds (low <= value <= high) and the flags the README
    promises; a system that cannot train the model on the chips given shows '-' and 'does not fit', never 0 tok/s."""
    rows = json.loads(table("compare", "hgx-h100", "kunlun-p800-8card", "--model", "llama-3.1-8b", "--format", "json",
                            columns=120))
    for row in rows:
        for metric in ("ttft_s", "tpot_s", "tokens_per_s_per_chip"):
            assert row[f"{metric}_low"] <= row[metric] <= row[f"{metric}_high"]
    assert any(f.startswith("uncalibrated chip kunlunxin-p800") for f in rows[1]["flags"]), rows[1]["flags"]
    out = table("compare", "hgx-h100", "cloudmatrix-384", "--model", "llama-3.1-405b", "--workload", "train",
                "--chips", "8", columns=120)
    line = next(line for line in out.splitlines() if line.startswith("hgx-h100"))
    assert " - " in line and " 0 " not in line and "does not fit" in line


@pytest.mark.parametrize(("caption", "joined"), [("prices from press reports", "press reports. Not shown"),
                                                 ("every source listed.", "listed. Not shown")])
def test_the_note_on_columns_left_out_starts_a_sentence_of_its_own(caption: str, joined: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A caption that ends without a full stop ('...per GPU', "'-': not refined") ran into 'Not shown at
    80 columns' as one sentence."""
    from parity.report.tables import Column, plain, render_text

    monkeypatch.setenv("COLUMNS", "40")
    columns = [Column("a", "first", plain, "left"), Column("b", "a wide column here", plain, wide=True)]
    out = render_text([{"a": "x" * 30, "b": "y" * 30}], columns, caption=caption)
    assert joined in " ".join(out.split())


def test_the_list_of_columns_left_out_quotes_a_header_that_holds_its_comma(monkeypatch: pytest.MonkeyPatch) -> None:
    """fleet at 80 columns listed 'chips 80%, systems, T tokens/day served, 80% (--wide, ...)': the header
    'T tokens/day\nserved, 80%' read as two columns. A header on two lines is named on one, quoted where it holds
    ', '."""
    from parity.report.tables import Column, plain, render_text

    monkeypatch.setenv("COLUMNS", "40")
    columns = [Column("a", "first", plain, "left"), Column("b", "chips 80%", plain, wide=True),
               Column("c", "T tokens/day\nserved, 80%", plain, wide=True)]
    out = render_text([{"a": "x" * 30, "b": "y" * 20, "c": "z" * 20}], columns)
    assert " ".join(out.split()).endswith(
        "Not shown at 40 columns: chips 80%, 'T tokens/day served, 80%' (--wide, or --format csv/json).")


def test_search_caption_separates_its_assumptions() -> None:
    """The search's assumptions were joined by a space: '... chips per worker disaggregated prefill ...' (DeepSeek-R1
    drafts one MTP token unless told, as compare runs it)."""
    out = " ".join(table("search", "--model", "deepseek-r1", "--system", "gb200-nvl72", "--refine", "0",
                         columns=120).split())
    assert "1 to 64 chips per worker; disaggregated prefill workers" in out
    # the MTP drafts said once, by the caption's first sentence (the search's own 'MTP 1 draft tokens, 0.92 accepted
    # a step' repeated them among the assumptions)
    assert out.count("draft token") == 1 and "MTP 1 draft token a decode step, 0.92 of 1 kept a step" in out
    # its disaggregated rows' chips are fractional (64.3): the caption says why
    assert ("chips: a disaggregated row's decode worker plus its share of the whole prefill workers it runs with (1 "
            "prefill worker per 8 decode workers adds an eighth of one), hence fractions." in out)


def test_search_captions_leave_the_mtp_line_to_their_opening_sentence() -> None:
    """search's and the split search's captions list the assumptions without the MTP line the opening sentence
    (mtp_caption) says; with no such sentence, the line stays."""
    from parity.cli.search_words import _unsaid

    notes = ("engine profile generic", "MTP 1 draft tokens, 0.92 accepted a step", "workers sized by rate matching")
    assert _unsaid(notes, (1, 0.92), "MTP 1 draft token a decode step ...") == [notes[0], notes[2]]
    assert _unsaid(notes, (1, 0.92), "") == list(notes)


def test_search_says_what_fractional_chips_mean_only_where_one_shows() -> None:
    """`search` printed chips 64.3 and 6.93 (a decode worker plus its share of a prefill worker) with no word on
    what a fraction means; the clause shows where a row's chips show a fraction, and not for whole chips (8.001
    shows as 8)."""
    from parity.cli.search_cmd import _chips_clause

    assert _chips_clause([{"chips": 64.0}, {"chips": 64.3}]) == (
        "chips: a disaggregated row's decode worker plus its share of the whole prefill workers it runs with (1 "
        "prefill worker per 8 decode workers adds an eighth of one), hence fractions. ")
    assert _chips_clause([{"chips": 8.0}, {"chips": 8.0001}, {"chips": 4096.4}]) == ""


def test_fleet_for_a_power_budget_shows_what_it_serves() -> None:
    """With --power-mw (or --units) and no demand, the tokens/day served is the answer: it was the column left out
    at 80 and 120 columns, beside an 'of demand' column of '-'."""
    out = table("fleet", "--model", "llama-3.1-8b", "--chips", "h100", "--power-mw", "10", columns=80)
    header = out.splitlines()[1:3]
    assert "T tokens/day" in header[0] and "served" in header[1] and "of demand" not in out


def test_counts_and_money_read_in_three_figures_at_any_magnitude() -> None:
    """Fleet cells: whole below a million, then M, B, T (short scale) and an exponent past a thousand trillion;
    dollars keep their cents' worth of M and B as before. Figures rounded first: 999.6 M chips read 1 B."""
    assert [count(v) for v in (8, 31_752.4, 1_234_567, 686_695_272, 999.6e6, 1.53e12, 1.5e15)] == [
        "8", "31,752", "1.23 M", "687 M", "1 B", "1.53 T", "1.5e+15"]
    assert [money(v) for v in (None, 13_500, 404.6e6, 1.3849e9, 23.28e12, 2.07e16)] == [
        "-", "$13,500", "$404.6 M", "$1.38 B", "$23.28 T", "$2.07e+16"]
    assert [scaled(1)(v) for v in (999_999_999.0, 1_483_758_838.0)] == ["999,999,999", "1.48e+09"]


def test_a_fraction_keeps_its_three_figures() -> None:
    """`policy --at-threshold h100 --isl 2000000` printed decode tok/s/chip 0.0654 over 0.01 (0.0099957 to three
    figures, its trailing zeros dropped): a fraction now keeps them, 0.0100; whole-ish figures are unchanged."""
    assert [scaled(1)(v) for v in (0.0654, 0.0099957, 0.5, 28.0, 2.5, 184.0, 0.0)] == [
        "0.0654", "0.0100", "0.500", "28", "2.5", "184", "0"]


@pytest.mark.parametrize(("option", "value", "error"), [
    ("--demand", "1e15 tokens/s", "the demand needs more than 156,865,239,303 nvidia-h100-sxm chips, the fewest of "
                                  "any chip named (each at its peak, 2 FLOPs per active parameter a token)"),
    ("--demand", "3e10 tokens/s", "the demand needs 11,688,072 nvidia-h100-sxm chips in hgx-h100"),
    ("--power-mw", "1000000", "the power budget runs 784,313,720 nvidia-h100-sxm chips in hgx-h100")])
def test_a_fleet_beyond_any_fleets_chips_is_refused_whatever_sizes_it(option: str, value: str, error: str) -> None:
    """Llama-3.1-70B on H100s at 1e15 tokens/s (the --demand ceiling) printed 393 B chips and '$1.08e+16', and a
    1 TW power budget 784 M chips, while --units refused 10,000,001 chips as beyond any fleet: one bound on the
    fleet now, whichever option sizes it, refused in one line (fifteenth fuzz round). A demand no chip could serve
    within the bound at its peak rate (1,979 TFLOP/s FP8 over 2 x 70.6 B FLOPs a token, with 2.2x headroom: 6,371
    tokens/s a chip, 157 B chips at 1e15) and a power budget alone are refused before the search, which took 1.6 s
    (fuzz16 3.1); a demand under that bound that the sized rate puts beyond it (3e10 tokens/s) after it."""
    result = CliRunner().invoke(cli, ["fleet", "--model", "llama-3.1-70b", "--chips", "h100", option, value])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == f"parity: error: {error}, beyond any fleet's chips (at most 10,000,000)\n"


def test_one_kind_beyond_any_fleet_says_so_in_its_row_and_the_others_are_sized() -> None:
    """8,000 MW runs 10,989,008 H20s (728 W a chip), beyond the bound, and 6.27 M H200s within it: the whole command
    was refused for the H20 alone (fuzz 18 3.2). The H20's row now says so and the H200's fleet is sized; the H20
    alone is still refused in one line."""
    both = CliRunner().invoke(cli, ["fleet", "--model", "deepseek-r1", "--power-mw", "8000", "--chips", "h20,h200",
                                    "--format", "json"])
    h20, h200 = json.loads(both.stdout)
    assert (h20["chips"], h20["note"]) == (None, "the power budget runs 10,989,008 nvidia-h20 chips in hgx-h20, "
                                                 "beyond any fleet's chips (at most 10,000,000)")
    assert h200["chips"] == 6_274_504
    alone = CliRunner().invoke(cli, ["fleet", "--model", "deepseek-r1", "--power-mw", "8000", "--chips", "h20"])
    assert alone.exit_code == 2 and alone.stderr.startswith("parity: error: the power budget runs 10,989,008")


def test_wide_keeps_free_text_in_the_table_past_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """compare --model llama-3.1-70b --wide listed its short 'format' column and its notes under the table, where the
    default table keeps 'format' in it: --wide is every column in the table, however wide the terminal, free text at
    a readable width (up to 24 characters a line); without it the free text goes under a table too wide for 40."""
    from parity.report.tables import Column, plain, render_text

    monkeypatch.setenv("COLUMNS", "40")
    rows = [{"name": "hgx-h20", "format": "fp8", "a": "1" * 12, "b": "2" * 12,
             "note": "fp8 GEMM rate not measured; power assumed"}]
    columns = [Column("name", "system", plain, "left"), Column("format", "format", plain, "left", wrap=True),
               Column("a", "a", plain), Column("b", "b", plain), Column("note", "note", plain, "left")]
    assert render_text(rows, columns, wide=True).splitlines() == [
        "system   format             a             b  note",
        "─" * 69,
        "hgx-h20  fp8     111111111111  222222222222  fp8 GEMM rate not",
        "                                             measured; power assumed"]
    assert render_text(rows, columns).splitlines()[-3:] == [
        "- hgx-h20 (format): fp8", "- hgx-h20 (note): fp8 GEMM rate not", "  measured; power assumed"]


def test_a_title_breaks_between_words_not_inside_a_quantity(monkeypatch: pytest.MonkeyPatch) -> None:
    """rich wrapped a title inside a quantity ('TTFT p99 2' over 's', fleet's title at 80 columns): a number keeps
    its unit, and a percentile its bound, on one line."""
    from parity.report.tables import Column, plain, render_text
    monkeypatch.setenv("COLUMNS", "31")
    out = render_text([{"a": "x" * 31}], [Column("a", "a", plain, "left")],
                      title="Fleet for llama-3.1-70b: 8 chips at TPOT 50 ms, TTFT p99 2 s")
    assert [line.strip() for line in out.splitlines()[:3]] == [
        "Fleet for llama-3.1-70b:", "8 chips at TPOT 50 ms, TTFT", "p99 2 s"]


def test_a_path_longer_than_the_terminal_breaks_between_its_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """`COLUMNS=80 serve --model deepseek-r1 --system hgx-b200 --tp 8 --moe-ep 8 --concurrency 8 --mtp 3` printed a
    121-character line in its Assumptions: a source's path, one word, which the caption kept whole. A word longer than
    a line now breaks after its '/', '_' or '-' (a part without one, cut to fill the line), in the caption and in the
    items under the table alike; words that fit still break only at spaces."""
    from parity.report.tables import Column, plain, render_text
    monkeypatch.setenv("COLUMNS", "40")
    path = "docs/source/blogs/tech_blog/blog1_Pushing_Latency_Boundaries_on_B200_GPUs.md"
    out = render_text([{"a": "x"}], [Column("a", "a", plain, "left")], caption=f"Assumptions: its source ({path}): "
                      "acceptance 0.92; " + "y" * 50, listed=[f"see {path}"])
    assert out.splitlines()[3:] == [
        "- see docs/source/blogs/tech_blog/blog1_",
        "  Pushing_Latency_Boundaries_on_B200_",
        "  GPUs.md",
        "Assumptions: its source (docs/source/",
        "blogs/tech_blog/blog1_Pushing_Latency_",
        "Boundaries_on_B200_GPUs.md): acceptance",
        "0.92; " + "y" * 34,
        "y" * 16]


@pytest.mark.e2e  # over 1.5 s: the end-to-end tier keeps the default run under a minute
def test_the_mtp_sources_path_fits_80_columns() -> None:
    """The tester's command: every line of it within 80 columns, the blog's path broken between its parts."""
    result = CliRunner().invoke(cli, ["serve", "--model", "deepseek-r1", "--system", "hgx-b200", "--tp", "8",
                                      "--moe-ep", "8", "--concurrency", "8", "--mtp", "3"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert max(map(len, result.output.splitlines())) <= 80 and "blog1_Pushing_" in result.output


@pytest.mark.e2e  # over 1.5 s: the end-to-end tier keeps the default run under a minute
def test_fleet_megawatts_keep_three_figures() -> None:
    """The first README example's 910C fleet drew 22.99 MW (15,784 chips x 11.65 kW / 8), printed '23' beside
    '8.82': three figures throughout now ('23.0' then; 22.6 MW for 15,552 chips since disaggregated rows are priced
    on whole workers, 32.8 MW for 22,520 since EP x ETP decode workers cross scale-out as their ranks do, 31.4 MW
    for 21,592 since each layout runs at the most clients or decode batch its targets allow, 30.9 MW for 21,232 since
    the near-best disaggregated pairs run at the largest decode batch meeting them as serve prices it)."""
    out = table("fleet", "--model", "deepseek-r1", "--chips", "910c", "--demand", "2e12 tokens/day", columns=80)
    (row,) = [line for line in out.splitlines() if line.startswith("huawei-ascend-910c ")]
    assert row.split()[1:3] == ["21,232", "30.9"]


@pytest.mark.parametrize(("demand", "share"), [("3e12 tokens/day", "0.1%"), ("3e9 tokens/day", "127.5%"),
                                               ("1e5 tokens/day", "38,247x")])
def test_fleet_note_and_column_give_the_same_share_at_any_size(demand: str, share: str) -> None:
    """Eight H20s serving Llama-3.1-8B: 12,173.4 tokens/s a chip at peak, / (peak factor 2 x 1.1 spare) x 8 chips
    x 86,400 s = 3.825e9 tokens a day. Of 3e12 a day that is 0.127%: the note said 'serves 0%' beside a column of
    0.1%; both now read 0.1%. Of 3e9, 127.5%; of 1e5 a day the column printed 3792927.7% (then), now 38,247x."""
    rows = json.loads(table("fleet", "--model", "llama-3.1-8b", "--chips", "h20", "--units", "8", "--demand", demand,
                            "--format", "json", columns=120))
    assert rows[0]["served_tokens_per_day"] == pytest.approx(8 * 12_173.4 / 2.2 * 86_400, rel=1e-4)
    assert share_text(rows[0]["served_share"]) == share
    assert ("serves 0.1% of the demand within the limits" in rows[0]["note"]) == (share == "0.1%")
    assert "of the demand" not in rows[0]["note"] or rows[0]["served_share"] < 1
    (h20,) = [line for line in table("fleet", "--model", "llama-3.1-8b", "--chips", "h20", "--units", "8", "--demand",
                                     demand, columns=120).splitlines() if line.startswith("nvidia-h20 ")]
    assert f" {share} " in h20


@pytest.mark.e2e  # split searches (1.8 s): the end-to-end tier keeps the default run under a minute
def test_the_split_table_fits_80_columns_and_names_what_gave_way() -> None:
    """`search --prefill-system` printed ten columns 119 wide at COLUMNS=80 (none could give way). Each side's
    workers now share a cell with their layout and the chips of both one cell; the fleet's rate (tok/s/chip x
    chips), the clients per decode worker and the side that limits give way, listed as not shown; --wide and
    JSON keep every field."""
    args = ("search", "--model", "deepseek-r1", "--system", "hgx-h200", "--prefill-system", "hgx-h20",
            "--prefill-chips", "32", "--decode-chips", "16")
    out = table(*args, columns=80)
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert lines[1].split() == ["prefill", "workers", "decode", "workers", "TPOT", "ms", "TTFT", "ms", "tok/s/chip"]
    assert lines[3].split()[:4] == ["2x", "tp1-pp4-dp4-ep4", "1x", "tp2-dp8-ep4-etp4"]
    assert ("Not shown at 80 columns: chips, clients/D worker, tok/s (fleet), limited by (--wide, or --format "
            "csv/json)." in " ".join(out.split()))
    wide = table(*args, "--wide", columns=80).splitlines()
    assert all(name in wide[1] for name in ("chips", "clients/D worker", "tok/s (fleet)", "limited by"))
    assert wide[3].split()[4] == "32+16"  # the chips of each budget the best takes (JSON: test_search_split)


def test_train_search_counts_layouts_with_thousands_separators() -> None:
    """'11616 layouts priced, 9265 fit' beside search's '12,012 configurations evaluated' (13,872 since the 1,024
    910C train as 2,048 die ranks)."""
    out = " ".join(table("train", "--model", "llama-3.1-70b", "--system", "atlas-800-a3", "--chips", "1024",
                         "--seq-len", "8192", "--global-batch", "512", "--search", columns=120).split())
    assert "13,872 layouts priced, " in out


def test_a_table_too_wide_for_the_terminal_is_only_as_wide_as_its_longest_words() -> None:
    """show gb200-nvl72 at 80 columns printed 432-character lines: past the terminal, the table took its widest
    layout (every text on one line) instead of its narrowest one that cuts no word."""
    out = table("show", "gb200-nvl72", columns=80)
    assert "…" not in out and max(len(line) for line in out.splitlines()) < 90


words = st.text(alphabet="ab1.-[]/ ", min_size=0, max_size=14)


@settings(max_examples=60, deadline=None)
@given(headers=st.lists(st.text(alphabet="xyz %", min_size=1, max_size=9), min_size=1, max_size=6),
       data=st.data())
def test_the_narrowest_table_is_its_columns_least_widths_plus_the_gaps(headers: list[str], data: st.DataObject
                                                                       ) -> None:
    """_fit and render_text lay columns out themselves: at a terminal too narrow for them every line of a table whose
    first column is free text (none goes under it) is the columns' least widths (a name or number its longest line,
    free text its longest word up to LONGEST_UNBROKEN_WORD) plus COLUMN_GAP between columns, never wider, and no
    character is lost."""
    from parity.report.tables import Column, render_text
    from parity.report.text_table import _min_width, _minimum_width

    columns = [Column(f"k{i}", h, wrap=i == 0 or data.draw(st.booleans())) for i, h in enumerate(headers)]
    cells = data.draw(st.lists(st.lists(words, min_size=len(columns), max_size=len(columns)), min_size=1,
                               max_size=5))
    rows = [{f"k{i}": v for i, v in enumerate(line)} for line in cells]
    least = [_min_width(c, [line[i] for line in cells]) for i, c in enumerate(columns)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COLUMNS", "1")
        out = render_text(rows, columns)
    assert max(len(line.rstrip()) for line in out.splitlines()) <= _minimum_width(least)
    shown = sorted(ch for ch in out if not ch.isspace() and ch != "\u2500")
    assert shown == sorted(ch for text in [*headers, *(v for line in cells for v in line)] for ch in text
                           if not ch.isspace())


@settings(max_examples=60, deadline=None)
@given(headers=st.lists(st.text(alphabet="xyz", min_size=1, max_size=9), min_size=3, max_size=5),
       data=st.data())
def test_free_text_with_too_little_room_for_its_words_goes_under_the_table(headers: list[str], data: st.DataObject
                                                                          ) -> None:
    """Where the names and numbers leave free text less room than its words (here a terminal 1 column wide), it no
    longer folds inside a word ('uncalibrat' over 'ed'): each free-text cell is listed under the table, '- ', its
    row's first cell (and its column's header where two or more went), ': ', its words; the table is the other
    columns' least widths plus the gaps. The second column is a name or number here: a table of names and free
    text alone keeps its text (test_a_table_of_names_and_one_text_keeps_its_text_in_the_table)."""
    from parity.report.tables import Column, render_text
    from parity.report.text_table import _min_width, _minimum_width

    columns = [Column(f"k{i}", h, wrap=i > 1 and data.draw(st.booleans())) if i else Column("k0", h, justify="left")
               for i, h in enumerate(headers)]
    free = [c for c in columns if c.wrap]
    names = st.text(alphabet="ab1.", min_size=1, max_size=14)
    cells = data.draw(st.lists(st.tuples(names, *[words] * (len(columns) - 1)), min_size=1, max_size=5))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COLUMNS", "1")
        out = render_text([{f"k{i}": v for i, v in enumerate(line)} for line in cells], columns)
    lines = out.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("- ")), len(lines))
    # a row is named by its first cell, and its second where first cells repeat and the second stays in the table
    named = [(f"{line[0]} {line[1]}".rstrip() if len({c[0] for c in cells}) < len(cells) and columns[1] not in free
              else line[0]) for line in cells]
    listed = [f"- {name}{f' ({c.header})' if len(free) > 1 else ''}: {v}" for name, line in zip(named, cells)
              for c, v in zip(columns, line) if c in free and v.strip()]
    assert " ".join(" ".join(lines[start:]).split()) == " ".join(" ".join(listed).split())
    kept = [i for i, c in enumerate(columns) if c not in free]
    least = [_min_width(columns[i], [line[i] for line in cells]) for i in kept]
    assert max(len(line.rstrip()) for line in lines[:start]) <= _minimum_width(least)
    assert " ".join(lines[:start]).split()[:len(kept)] == [columns[i].header for i in kept]


@pytest.mark.parametrize("name", ["gpt-oss-120b", "gpt-oss-20b", "llama-4-scout", "llama-4-maverick", "mimo-v2-flash",
                                  "gemma-4-26b-a4b", "step-3.7-flash"])
def test_a_models_layer_kinds_fit_80_columns(name: str) -> None:
    """The layer-kind table was 84-85 columns at COLUMNS=80 ('attention chunked 8192 + moe' on one line): a
    kind wraps at its spaces now, every figure whole."""
    out = table("model", name, columns=80)
    assert "…" not in out and max(len(line) for line in out.splitlines()) <= 80
    assert "state MB/seq" in out


def test_a_models_flags_are_listed_under_its_table_at_full_width(tmp_path: Path) -> None:
    """`parity model`'s flags sat in the right-aligned value column of a 28-character width and folded to 20 lines
    at 80 columns, a word or two a line (ChatGLM3; DeepSeek-V2-Lite's 'num_experts_per_tok,' on a line of its own):
    the row counts them and each prints under the table on lines of its own, left-aligned, at the terminal's width
    (fuzz19a 4.3); Markdown lists them the same way."""
    from parity import catalog
    config = tmp_path / "odd.json"
    text = json.loads(catalog.data_dir().joinpath("models", "Qwen--Qwen3-0.6B_config.json").read_text())
    config.write_text(json.dumps({**text, "model_type": "oddity", "architectures": ["OddForCausalLM"],
                                  "add_qkv_bias": True, "apply_query_key_layer_scaling": True}))
    out = table("model", str(config), columns=80)
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80, out
    assert " ".join(next(line for line in lines if line.startswith("flags ")).split()) == "flags 3, listed below"
    start = lines.index("- unmodelled: add_qkv_bias")
    assert lines[start + 1] == "- unmodelled: apply_query_key_layer_scaling"
    assert lines[start + 2:start + 5] == ['- unknown architecture OddForCausalLM (model_type "oddity"): guessed '
                                          "from its", "  keys (max_window_layers); assumed a gated MLP (3 matrices); what "
                                          "its class", "  adds unstated (defaults, q/k norms, biases) is missing"]
    flags = json.loads(table("model", str(config), "--format", "json", columns=80))["flags"]
    # the list closes the record's table, before the layer kinds' title and table
    assert [f"- {flag}" for flag in flags] == table("model", str(config), "--format", "md", columns=80).split(
        "\n\n")[-3].splitlines()


@pytest.mark.parametrize("columns", [72, 80, 90, 100])
def test_a_training_layout_breaks_only_between_its_fields(columns: int) -> None:
    """At 80 columns train's layout broke 'act-fp8-os-' over 'bf16-deepep', inside the field 'os-bf16' (and textwrap,
    which breaks after a hyphen only after two letters, could cut 'zero1' at other widths): every line of the cell
    now ends between two fields, and the lines join back into the name (fuzz19b 4.2)."""
    fields = ["tp1", "pp16", "dp128", "ep64", "mb1", "zero1", "rc-selective", "dualpipe", "act-fp8", "os-bf16",
              "deepep"]
    out = table("train", "--model", "deepseek-v3", "--system", "hgx-h800", "--chips", "2048", "--tp", "1", "--pp",
                "16", "--ep", "64", "--precision", "fp8_block", "--pp-schedule", "dualpipe", "--activation-cache",
                "fp8", "--optimizer-states", "bf16", "--moe-dispatcher", "deepep", "--global-batch", "15360",
                columns=columns)
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("layout "))
    cell = [lines[start].split()[-1]] + [line.strip() for line in lines[start + 1:start + 8]]
    cell = cell[:next(i for i, part in enumerate(cell) if not part.endswith("-")) + 1]
    assert "".join(cell) == "-".join(fields) and max(len(line) for line in lines) <= columns
    ends = {len("-".join(fields[:n])) + 1 for n in range(1, len(fields))}  # after each field's '-'
    assert all(sum(map(len, cell[:i + 1])) in ends for i in range(len(cell) - 1)), cell
    if columns == 80:
        assert cell == ["tp1-pp16-dp128-ep64-mb1-", "zero1-rc-selective-", "dualpipe-act-fp8-os-bf16-", "deepep"]


SIX_TRAINING = ("hgx-h800", "hgx-h20", "atlas-800-a3", "cloudmatrix-384", "mi300x-platform", "mi355x-platform")


@pytest.mark.e2e  # over 1.5 s: the end-to-end tier keeps the default run under a minute
@pytest.mark.parametrize("systems", [("hgx-h800", "cloudmatrix-384"), SIX_TRAINING], ids=" ".join)
def test_compare_training_fits_80_columns_with_the_notes_words_whole(systems: tuple[str, ...]) -> None:
    """`compare --workload train` beside 'fp8_block on bf16' and a multi-chip system ran 81 (two systems) and 82 (six)
    columns at COLUMNS=80 and folded its note inside words ('uncalibrat' over 'ed', 'dav' over 'inci-910'): x/system
    gives way first (the caption names it) and the throughput's header takes two lines, so every word of each row's
    note prints whole (fuzz19b 4.1)."""
    args = ("compare", *systems, "--model", "deepseek-v3", "--workload", "train", "--chips", "2048", "--precision",
            "fp8_block")
    out = table(*args, columns=80)
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80, out
    header = next(lines[i - 2:i] for i, line in enumerate(lines) if line.startswith("──"))
    assert [h.split() for h in header] == [["train", "x/chip"], ["system", "format", "tok/s/chip", "80%", "int.", "MFU",
                                                                 "note"]]  # the ratio over its interval
    assert "Not shown at 80 columns: mode, BF16 x, 8-bit x, mem x, BW x, TDP x, sys BF16 x, sys mem x, sys power x, " \
           "train tok/s/system, x/system, train tok/s/kW, x/kW, x/GB" in " ".join(out.split())
    words = set(out.split())
    rows = json.loads(table(*args, "--format", "json", columns=80))
    for row in rows:  # two systems: the sentence on the pair says 'no clear winner', which their notes leave to it
        note = without_even_text(row["note"]) if len(systems) == 2 else row["note"]
        assert all(word in words for word in note.split()), (note, out)


def test_a_long_layout_name_stays_whole() -> None:
    """At 80 columns train's value column broke 'tp1-pp2-dp4-mb1-zero1-stag' / 'es31/-' inside a part, then after a
    '-' ('tp1-pp2-dp4-mb1-zero1-' over 'stages31/-'); the quantities too long to leave it a line fold now, and it is
    whole (a longer one breaks after a '-': test_a_training_layout_breaks_only_between_its_fields)."""
    out = table("train", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--chips", "8", "--tp", "1", "--pp", "2",
                "--dp", "4", "--pp-first-layers", "31", "--recompute", "none", "--vp", "1", "--show-infeasible",
                columns=80)
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("layout "))
    assert lines[start].split() == ["layout", "tp1-pp2-dp4-mb1-zero1-stages31/-"]
    assert lines[start + 1].startswith("step time ")


def _mlperf_stubs(monkeypatch: pytest.MonkeyPatch) -> None:
    """validate --section mlperf on two runs and a pair of the longest names it prints (pricing them takes ~10 s)."""
    from parity.cli import mlperf_report
    from parity.validate_mlperf import Bracket, PairRatio

    a, b = "MLP41-AMD-8xMI300X-offline", "MLP50-NV-8xH100-offline"
    brackets = [Bracket(model_kind=kind, case_id=f"MLP41-AMD-8xMI300X-{scenario}", vendor="AMD", system="mi300x",
                        scenario=scenario, metric=metric, measured=measured, predicted=predicted)
                for kind, scenario, metric, measured, predicted in (
                    ("steady", "offline", "output_tokens_per_s", 23_514.8, (36_160.0, 16_959.0, 11_030.0, 8_157.0,
                                                                            6_467.0)),
                    ("sim", "server", "ttft_p99_s", 1.6042, (0.1357, 33.5439, 209.911, 466.684, 638.0232)))]
    pairs = [PairRatio(a=a, b=b, published=0.96, predicted=(0.58, 0.59, 0.6, 0.61, 0.62))]
    monkeypatch.setattr(mlperf_report, "bracket_checks", lambda rows: brackets)
    monkeypatch.setattr(mlperf_report, "pair_ratios", lambda rows, hook=None: pairs)


@pytest.mark.parametrize("columns", [80, 100])
def test_the_mlperf_tables_fit_and_their_csv_carries_the_pairs(columns: int,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """`validate --section mlperf` was 154 columns at COLUMNS=80 and 100 (eleven columns, none could give way, and
    runs named in 52 characters a pair); its CSV left out the cross-vendor pairs that JSON has."""
    _mlperf_stubs(monkeypatch)
    out = table("validate", "--section", "mlperf", columns=columns)
    assert "…" not in out and max(len(line) for line in out.splitlines()) <= columns
    assert "sim TTFT p99" in out and "MLP41-AMD-8xMI300X-offline /" in out and "Not shown at" in out
    rows = list(csv.DictReader(io.StringIO(table("validate", "--section", "mlperf", "--format", "csv",
                                                 columns=columns))))
    assert [r["table"] for r in rows] == ["runs", "runs", "pairs stored", "pairs before"]
    assert float(rows[2]["error_isl_1"]) == pytest.approx(0.58 / 0.96 - 1)


def test_the_calibration_tables_fit_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    """`validate --section calibration` printed its campaigns table 130 columns wide at COLUMNS=80 (and its first
    title ended "...points not fitted on"); the section takes ~70 s, so its tables are laid out here on stub rows
    with its longest names."""
    from parity.cli.validate_tables import calibration_tables
    from parity.report.tables import render_text

    kernel = {"kind": "attention_prefill", "fitted_points": 251, "scored_points": 252, "roofline_error": 0.4123,
              "prior_error": 0.1234, "measured_error": 0.0567}
    payload = {"calibration_kernels": [kernel, {**kernel, "kind": "all"}],
               "calibration_campaigns": [{"fitted_on": "sweep (graphs)", "scored_on": "reference", "kernels": ">= 40 us",
                                          **kernel}, {"fitted_on": "reference", "scored_on": "sweep (eager)",
                                                      "kernels": "all", **kernel, "kind": "all"}],
               "calibration_serving": [{"group": "hgx-h200", "metric": "output_tokens_per_s_per_chip", "rows": 1234,
                                        "roofline_error": 0.5, "prior_error": 0.25, "measured_error": 0.125}]}
    monkeypatch.setenv("COLUMNS", "80")
    tables = calibration_tables(payload)
    assert [t[2] for t in tables][0].endswith("on held-out microbenchmark points")
    for rows, columns, title, caption in tables:
        out = render_text(rows, columns, title=title, caption=caption)
        assert "…" not in out and max(len(line) for line in out.splitlines()) <= 80, out
        assert ("12.3%" in out and "5.7%" in out) if "kind" in out else "25.0%" in out


@pytest.mark.parametrize(("args", "header", "left_out"), [
    # long MoE layouts beside 'sim meets': 88 columns; 'meets' (the means' screen, whose verdict 'sim meets' gives)
    # and 'chips' give way (under Poisson arrivals, 97 columns with longer decode layouts, the steady mean TTFT of a
    # TTFT p99 target goes too)
    (("search", "--model", "deepseek-r1", "--system", "hgx-h200", "--ttft", "p99:3s", "--refine", "2"),
     "layout decode TPOT ms TTFT ms tok/s/chip sim meets", "mode, clients/worker, chips, tok/s/user, meets"),
    # CloudMatrix's 128-chip decode layouts (tp16-pp2-dp16-ep64-etp4): 'chips' and 'meets' give way too
    (("search", "--model", "deepseek-r1", "--system", "cloudmatrix-384", "--refine", "0"),
     "layout decode TPOT ms TTFT ms tok/s/chip", "mode, clients/worker, chips, tok/s/user, meets"),
    # 86 columns with the simulator's mean TTFT required beside the steady one: it gives way as sim tok/s/chip does,
    # while the per-chip ratio's 80% interval (on its second line) stays; with each row its own serve line (no 'serve
    # line: ...' in the note) the steady TTFT and 'mem x' fit beside them, until both rows' notes carried the large-EP
    # decode flag's brief: they give way to it
    (("compare", "cloudmatrix-384", "gb200-nvl72", "--model", "deepseek-r1", "--refine"),
     "system format tok/s/chip 80% int. x/system note", "sim TTFT ms, TPOT ms, sim TPOT ms"),
    # a percentile target's column beside x/system folded the note to 10 columns ("simulator'" over "s 48 runs"):
    # x/system, which the pair's sentence states with its interval, gives way (fuzz22b 5.3; a minute of simulation)
    pytest.param(("compare", "cloudmatrix-384", "gb200-nvl72", "--model", "deepseek-r1", "--ttft", "p99:2s",
                  "--refine"), "system format p99 ms tok/s/chip 80% int. note", "tok/s/system, x/system",
                 marks=pytest.mark.e2e),
    # 95 columns with a system named beside 'T tokens/day served' and a long note: the chip, which the system names,
    # gives way first, and the served figure's header takes two lines
    (("fleet", "--model", "deepseek-r1", "--chips", "cloudmatrix-384", "--units", "385"),  # MW and cost shown
     "in system chips MW cost served, 80% note", "chip, format, ECCN 3A090, out tok/s/chip, TTFT ms, TPOT ms, systems"),
])
@pytest.mark.e2e  # over 1.5 s: the end-to-end tier keeps the default run under a minute
def test_search_and_compare_with_long_layouts_fit_80_columns(args: tuple[str, ...], header: str,
                                                             left_out: str) -> None:
    """Found at COLUMNS=80 in a real terminal: these tables ran 81 to 97 columns wide, every column they showed
    required. They fit now, and the caption names what gave way."""
    out = table(*args, columns=80)
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert " ".join(next(lines[i - 1] for i, line in enumerate(lines) if line.startswith("──")).split()) == header
    assert left_out in " ".join(out.split()).split("Not shown at 80 columns: ")[1]


def test_a_percentile_target_lets_its_metrics_steady_mean_give_way() -> None:
    """Under a TTFT p99 target the steady mean TTFT only screens the configurations ('sim meets' is the verdict): at
    70 columns it gives way where the layouts leave no room, while the mean TPOT, bounded by a mean, stays."""
    out = table("search", "--model", "deepseek-r1", "--system", "hgx-h200", "--ttft", "p99:3s", "--refine", "2",
                columns=70)
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 70
    assert " ".join(next(lines[i - 1] for i, line in enumerate(lines) if line.startswith("──")).split()) == (
        "layout decode TPOT ms tok/s/chip sim meets")
    assert "TTFT ms" in " ".join(out.split()).split("Not shown at 70 columns: ")[1]


def test_csv_spreads_mappings_at_any_depth_and_keeps_lists_zeros_and_falses() -> None:
    """The one CSV writer every command shares: a nested mapping becomes parent_child columns, an empty one an empty
    cell; a list stays JSON text; 0 and False are values, not blanks; a spread name that is another field's is a
    bug, refused rather than overwritten."""
    from parity.report.tables import to_csv

    rows = [{"a": {"b_s": 0.0, "c": {"d": False}}, "e": [1, 2], "f": {}, "g": 0}]
    assert to_csv(rows) == 'a_b_s,a_c_d,e,f,g\n0.0,False,"[1, 2]",,0\n'
    with pytest.raises(ValueError, match="CSV column a_b twice"):
        to_csv([{"a": {"b": 1}, "a_b": 2}])


def test_machine_outputs_write_floats_to_twelve_significant_digits() -> None:
    """`systems --format csv` wrote hgx-b30a's power 8007.999999999999 W (a derived figure) and `policy`
    a performance density of 33.75000000000001: JSON and CSV write a float to 12 significant digits (numpy's too),
    which changes no figure at that precision; NaN and infinity are null."""
    from parity.report.tables import to_builtin, to_csv, to_json

    assert to_builtin({"p": 8007.999999999999, "d": [33.75000000000001, np.float64(0.1) + np.float64(0.2)],
                       "t": (15832 / 814,), "n": np.array([float("nan"), 4.8e12]), "i": 7}) == {
        "p": 8008.0, "d": [33.75, 0.3], "t": [19.4496314496], "n": [None, 4.8e12], "i": 7}
    assert to_csv([{"w": 4003.9999999999995, "x": 1.23456789012345e-07}]) == "w,x\n4004.0,1.23456789012e-07\n"
    assert to_json([np.float32(0.1)]) == "[\n  0.10000000149\n]"
    systems = {r["id"]: r for r in csv.DictReader(io.StringIO(table("systems", "--format", "csv", columns=80)))}
    assert (systems["hgx-b30a"]["power_w"], systems["hgx-b300"]["power_w"]) == ("8008.0", "16016.0")


def test_a_column_that_keeps_trailing_zeros_prints_whole_figures_without_a_point() -> None:
    """fleet's served column keeps trailing zeros (2.00 beside 1.95), and printed 330 as '330.' (twelfth round)."""
    show = scaled(1e12, zeros=True)
    assert [show(v) for v in (330e12, 84.5e12, 2e12, 0.5e12, 1234e12)] == ["330", "84.5", "2.00", "0.500", "1,234"]


@pytest.mark.parametrize("columns", [80, 100, 200])
def test_show_marks_a_sparse_or_bidirectional_quote_with_the_stored_figure_at_every_width(columns: int) -> None:
    """At 80 and 100 columns show printed only the quote ('4.5 PFLOP/s' for the B200's BF16, a 2:4-sparse figure) and
    hid the stored dense 2.25 PFLOP/s and its note; the quote now says what it counts and the stored figure in its own
    unit. NVLink 4: 900 GB/s both directions = 450 each; MI300X 7 x 128 = 896 GB/s both = 448 each."""
    def cell(chip: str, field: str) -> list[str]:
        """The words of the row of `field` and its next line: the quote's cell wraps onto it, beside the source's."""
        lines = table("show", chip, columns=columns).splitlines()
        at = next(i for i, line in enumerate(lines) if line.startswith(field + " "))
        return " ".join(lines[at:at + 2]).split()

    def reads(words: list[str], text: str) -> bool:  # text's words in order, other columns' words between them
        rest = iter(words)
        return all(word in rest for word in text.split())

    assert reads(cell("b200", "peak_flop_per_s.bf16"), "4.5 PFLOP/s sparse = 2.25 dense")
    assert reads(cell("nvidia-gb200", "peak_flop_per_s.bf16"), "5 PFLOP/s sparse = 2.5 dense")
    assert reads(cell("h100", "peak_flop_per_s.bf16"), "1979 TFLOP/s sparse = 989.5 dense")
    assert reads(cell("h100", "scale_up_bytes_per_s"), "900 GB/s bidirectional = 450 per direction")
    assert reads(cell("mi300x", "scale_up_bytes_per_s"), "896 GB/s bidirectional = 448 per direction")
    assert cell("mi300x", "scale_out_bytes_per_s")[1:3] == ["400", "Gb/s"]  # quoted per direction: the quote alone
    assert "=" not in cell("mi300x", "scale_out_bytes_per_s")


def test_show_csv_and_json_keep_the_quote_verbatim() -> None:
    """The files keep the literal quote (as_quoted) beside the stored SI value; only tables add the reading."""
    out = table("show", "b200", "--format", "csv", columns=80)
    assert "peak_flop_per_s.bf16,2250000000000000.0,4.5 PFLOP/s,datasheet," in out


def test_ratios_from_a_thousand_read_whole_with_separators() -> None:
    """An 8,192-chip pod's ratio per system to an 8-chip node printed '13014.83x' over '2280.85-5102.36', which took
    the note's room at 80 columns (fuzz 22a 5.2); below 1,000 a ratio keeps its two decimals."""
    assert [ratio(v) for v in (0.214, 12.28, 999.994, 3411.41, 13014.83)] == [
        "0.21x", "12.28x", "999.99x", "3,411x", "13,015x"]
    assert over_interval(ratio(3411.41), 2280.85, 5102.36) == "3,411x\n2,281-5,102"


def test_a_note_with_no_room_for_its_words_goes_under_the_table_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """A compare of superpods at 80 columns (atlas-950-superpod, vera-rubin-nvl144, tpu7x-pod beside nodes) printed
    an 82-column table whose note folded inside words ('uncalibrat' over 'ed', 'blackwell)' over ';') and a caption
    82 wide, which the terminal broke mid-word: the names and numbers left the note 10 columns. Now the note goes
    under the table, whole, and the table fits; here the same at 50 columns."""
    from parity.report.tables import Column, plain, render_text

    monkeypatch.setenv("COLUMNS", "50")
    columns = [Column("system", "system", plain, "left"), Column("rate", "tok/s/chip", plain),
               Column("x", "x/system", plain), Column("note", "note", plain, "left")]
    rows = [{"system": "atlas-950-superpod\n8,192x Ascend 950DT", "rate": "2,529", "x": "3,229x\n2,199-4,194",
             "note": "uncalibrated (inherits davinci-910); power assumed"},
            {"system": "hgx-h20\n8x HGX H20 96GB", "rate": "802", "x": "1.00x", "note": ""}]
    out = render_text(rows, columns, title="deepseek-r1: serving 1024 in / 1024 out, ratios to hgx-h20",
                      caption="per system = every chip of the system busy; 'uncalibrated': no measured calibration")
    assert [line.rstrip() for line in out.splitlines()] == [
        "  deepseek-r1: serving 1024 in / 1024 out,",
        "             ratios to hgx-h20",
        "system               tok/s/chip     x/system",
        "\u2500" * 44,
        "atlas-950-superpod        2,529       3,229x",
        "8,192x Ascend 950DT              2,199-4,194",
        "hgx-h20                     802        1.00x",
        "8x HGX H20 96GB",
        "- atlas-950-superpod: uncalibrated (inherits",
        "  davinci-910); power assumed",
        "per system = every chip of the system busy;",
        "'uncalibrated': no measured calibration"]
    monkeypatch.setenv("COLUMNS", "60")  # room for the note's longest word, 'uncalibrated': it stays in the table
    assert "uncalibrated\n8,192x Ascend 950DT              2,199-4,194  (inherits" in render_text(rows, columns)


def test_a_table_of_names_and_one_text_keeps_its_text_in_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """train's quantity/value table at 60 columns listed every value under the table and left a column of names
    alone above them (regression round 25, 1: its longest name, 52 characters, left the values too little room;
    here at 56 columns): a table of names and one text keeps the text beside its names, folded between words."""
    from parity.report.tables import Column, plain, render_text

    monkeypatch.setenv("COLUMNS", "56")  # the names need 52, the values' longest word 5
    columns = [Column("quantity", "quantity", plain, "left"), Column("value", "value", plain, wrap=True)]
    rows = [{"quantity": "MFU, causal (6N + 6LHQT: FlashAttention, torchtitan)", "value": "38.1%"},
            {"quantity": "time to train 1e+12 tokens", "value": "107.7 days"}]
    out = [line.rstrip() for line in render_text(rows, columns).splitlines()]
    assert out[2:] == ["MFU, causal (6N + 6LHQT: FlashAttention, torchtitan)  38.1%",
                       "time to train 1e+12 tokens                            107.7",
                       "                                                       days"]


def test_the_caption_never_runs_past_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """A table whose names are wider than the terminal wrapped its caption at the table's width (30 here), so the
    terminal broke the caption's lines inside words; it wraps at the terminal's (20, the narrowest a caption takes)."""
    from parity.report.tables import Column, plain, render_text

    monkeypatch.setenv("COLUMNS", "20")
    out = render_text([{"a": "a-name-of-thirty-characters-xx"}], [Column("a", "name", plain, "left")],
                      caption="every figure is per chip unless the header says otherwise")
    assert out.splitlines()[3:] == ["every figure is per", "chip unless the", "header says", "otherwise"]


@pytest.mark.e2e  # six systems, three of them pods of thousands of chips: 4 s
def test_a_compare_of_superpods_fits_80_columns_with_its_notes_whole() -> None:
    out = table("compare", "hgx-h20", "atlas-950-superpod", "cloudmatrix-384", "gb200-nvl72", "vera-rubin-nvl144",
                "tpu7x-pod", "--model", "deepseek-r1", columns=80)
    assert max(len(line) for line in out.splitlines()) <= 80 and "uncalibrat\n" not in out
    # the 950's FP4 rate is family-davinci-910's, which no chip with an FP4 unit measured (uncertainty.unmeasured_gemm)
    assert ("- atlas-950-superpod: uncalibrated (inherits davinci-910); fp4 GEMM rate not\n  measured; announced chip: "
            "press/derived/assumption figures") in out


@pytest.mark.parametrize("width", [120, 80])
def test_models_shows_every_feature_of_a_model_whose_features_wrap(width: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """A tester read qwen3.5-397b-a17b's row as 'linear_attention moe mtp' against JSON's five features: the column
    wraps (its last two words on the line below the row, past a grep of the row's line), so every feature shows at
    120 and 80 columns. The catalog cut to the one model: the whole list takes over a second."""
    from click.testing import CliRunner

    from parity import catalog
    from parity.cli import cli
    entries = catalog.models()
    monkeypatch.setattr(catalog, "models", lambda: tuple(e for e in entries if e.id == "qwen3.5-397b-a17b"))
    out = CliRunner().invoke(cli, ["models"], env={"COLUMNS": str(width)})
    assert out.exit_code == 0, out.output
    lines = out.stdout.splitlines()
    start = lines[1].index("features")
    after = re.search(r"\S", lines[1][start + len("features"):])  # the next column's header, where one shows
    end = start + len("features") + after.start() if after else None
    row = next(i for i, line in enumerate(lines) if line.startswith("qwen3.5-397b-a17b"))
    below = list(itertools.takewhile(lambda line: line.startswith(" "), lines[row + 1:]))  # the row's wrapped lines
    cell = " ".join(line[start:end] for line in [lines[row], *below])
    assert " ".join(cell.split()) == "GQA linear_attention moe mtp output_gate qk_norm", out.stdout


def test_markdown_puts_an_interval_in_brackets_beside_its_figure() -> None:
    """A figure over its interval (two lines in the terminal) read '2.00 0.933-3.07' in Markdown: two numbers."""
    from parity.report.tables import Column, over_interval, plain, to_markdown
    text = to_markdown([{"a": over_interval("2.00", 0.933, 3.07, lambda v: f"{v:.3g}"), "b": "BF16\nMFU"}],
                       [Column("a", "served,\n80%", plain), Column("b", "b", plain)])
    assert "| 2.00 (0.933-3.07) | BF16 MFU |" in text and "| served, 80% | b |" in text


def test_train_keeps_its_layout_whole_at_80_columns() -> None:
    """At 80 columns the value column was as wide as the longest quantity (52) left it: 26, and the layout broke
    'tp2-pp1-cp4-dp1024-mb1-' over 'zero1'. The quantity too long to leave the layout a line folds before its
    parenthesis instead; at 120 columns nothing folds. (Its ZeRO-1 over dp 1,024 at one microbatch a step now shows a
    line of exposed DP/ZeRO communication, 20% of it beside compute: the MFU lines moved down one, 50.7% -> 46.5%.)"""
    args = ("train", "--model", "llama-3.1-70b", "--system", "atlas-960-superpod", "--chips", "8192", "--seq-len",
            "4096", "--global-batch", "1024", "--tp", "2", "--pp", "1", "--cp", "4")
    lines = table(*args, columns=80).splitlines()
    assert lines[3] == f"layout{'tp2-pp1-cp4-dp1024-mb1-zero1':>74}"
    assert [line.rstrip() for line in lines[13:15]] == [f"MFU, causal{'46.5%':>69}",
                                                         "(6N + 6LHQT: FlashAttention, torchtitan)"]
    assert max(map(len, lines)) == 80


def test_a_record_folds_only_the_quantities_too_long_for_its_longest_value_word() -> None:
    """text_table._folded: a name column with `fold` folds its cells too long to leave the free text beside it its
    longest word, before the fold text and indented as the cell is; nothing where folding cannot make that room."""
    from parity.report.tables import Column, plain
    from parity.report.text_table import _folded

    columns = [Column("quantity", "quantity", plain, "left", fold=" ("), Column("value", "value", plain, wrap=True)]
    cells = [["layout", "tp2-pp1-cp4-dp1024-mb1-zero1"], ["MFU, causal (6N + 6LHQT: FlashAttention, torchtitan)",
                                                          "50.7%"],
             ["MFU of the BF16 peak (6N + 12LHQT: PaLM, Megatron)", "52.6%"], ["  compute (forward and backward)", "1"]]
    assert _folded(columns, cells, 120) == cells
    assert [row[0] for row in _folded(columns, cells, 79)] == [  # 79 - 2 - 28 = 49 < 50
        "layout", "MFU, causal\n(6N + 6LHQT: FlashAttention, torchtitan)",
        "MFU of the BF16 peak\n(6N + 12LHQT: PaLM, Megatron)", "  compute (forward and backward)"]
    assert _folded(columns, cells, 60) == cells  # 30 left: '(6N + 6LHQT: ...)' (40) would not fit either
    indented = [["  compute (forward and backward)", "x" * 60]]
    assert _folded(columns, indented, 90) == [["  compute\n  (forward and backward)", "x" * 60]]


@pytest.mark.parametrize(("args", "layout"), [
    (("--system", "atlas-960-superpod"), "tp2-pp15-cp16-dp32-mb1-zero1"),
    (("--system", "gb200-nvl72", "--chips", "71"), "tp1-pp71-dp1-mb1-zero0-rc-full"),
])
def test_a_picked_training_layout_is_whole_at_80_columns(args: tuple[str, ...], layout: str) -> None:
    """train's picked layout on part of an Atlas 960 SuperPoD (15,360 of its chips) and on 71 GB200s (pp71, full
    recomputation) prints whole at 80 columns, on the layout row's one line (report-only testers' check)."""
    lines = table("train", "--model", "llama-3.1-70b", *args, columns=80).splitlines()
    row = next(line for line in lines if line.startswith("layout "))
    assert row.split() == ["layout", layout] and max(map(len, lines)) <= 80


@pytest.mark.e2e  # two searches (1.2 s)
def test_policy_at_threshold_names_the_flags_its_notes_leave_out() -> None:
    """`policy --at-threshold h100` put its rows' flags (a far layout, the generic engine profile) in its JSON alone:
    the table and Markdown showed an empty note and no caption line (report-only tester fuzzCB 3)."""
    md = " ".join(table("policy", "--at-threshold", "h100", "--rule", "3a090", "--model", "llama-3.1-70b", "--format",
                        "md", columns=120).split())
    assert ("Every row: layout far from measured ones (pipeline parallel or over 64 chips per worker); engine profile "
            "generic not fitted to measurements. NVIDIA H100 SXM5 80GB: all peak rates x0.1515") in md, md


def test_whole_figures_are_grouped_in_threes_at_any_precision_and_errors_carry_their_sign() -> None:
    """validate --by source's rows furthest off printed 1313 beside 11,858 (four significant figures: the grouping
    applied only from 10,000); signed errors printed +1.7% on the accuracy page and 1.7% in the table (fuzzDD 15)."""
    from parity.report.tables import scaled, signed_percent

    assert [scaled(1.0, 4)(v) for v in (1313.4, 11858, 999.7)] == ["1,313", "11,858", "999.7"]
    assert [scaled(1e9, 1)(-12.3e9), scaled(1.0)(1234.5), scaled(1.0, 5)(1313.4)] == ["-12", "1,234", "1,313.4"]
    assert [signed_percent(v) for v in (0.017, -0.042, 0.0, None, float("nan"))] == ["+1.7%", "-4.2%", "+0.0%", "-", "-"]


@pytest.mark.e2e  # a search refined by the simulator under Poisson arrivals (about 3 s)
def test_a_searchs_bounded_percentile_shows_before_the_means_at_80_columns() -> None:
    """At 80 columns search kept the simulator's mean TTFT and left out the p99 it was asked to bound (report-only
    tester fuzzDG 4): the bounded percentile is the first of the simulator's columns to show."""
    out = table("search", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--ttft", "p99:2s", "--refine", "2",
                "--arrivals", "poisson", columns=80)
    header = " ".join(next(out.splitlines()[i - 1] for i, line in enumerate(out.splitlines())
                           if line.startswith("──")).split())
    assert "p99 ms" in header and "sim TTFT ms" not in " ".join(out.split()).split("Not shown")[0]


def test_a_narrow_tables_title_and_caption_take_the_terminals_width(monkeypatch: pytest.MonkeyPatch) -> None:
    """calibrate's three columns make a 47-column table: at 120 columns its title broke mid-sentence inside the table
    and its caption read as a 47-column strip (fuzzEM 7). The caption wraps at the terminal's width (up to 100), as
    the items listed under a table do, and a title wider than the table sits above it on one line where it fits the
    terminal (inside the table, wrapped at its width, where it does not)."""
    from parity.report.tables import Column, plain, render_text

    columns = [Column("efficiency", "efficiency", plain, "left"), Column("before", "before", plain),
               Column("measured", "measured", plain)]
    rows = [{"efficiency": "grouped expert GEMM streaming", "before": "0.895", "measured": "0.5"}]
    title = "nvidia-h20: 54 points, kernel-time error 61% with the prior, 1% fitted"
    caption = " ".join(["before: what nvidia-h20 used until now (nvidia-h20-published)."] * 3)
    monkeypatch.setenv("COLUMNS", "120")
    lines = render_text(rows, columns, title=title, caption=caption).splitlines()
    assert lines[0] == title and lines[1].split() == ["efficiency", "before", "measured"]
    assert len(lines[2]) == 47 and [len(line) for line in lines[4:]] == [97, 90]  # was 47 columns at most
    monkeypatch.setenv("COLUMNS", "60")
    lines = render_text(rows, columns, title=title, caption=caption).splitlines()
    assert [line.strip() for line in lines[:2]] == ["nvidia-h20: 54 points, kernel-time error 61%",
                                                    "with the prior, 1% fitted"]
    assert [len(line) for line in lines[5:]] == [38, 58, 56, 33]


def test_a_path_breaks_after_a_separator() -> None:
    """A path longer than its column broke at the width, inside its file's name ('/tmp/fuzzER/home/chips/h20e.tom'
    over 'l', report-only tester fuzzER 3): it breaks after a '/' (or a '-')."""
    from parity.report.text_table import _filled

    assert _filled("/tmp/fuzzER/home/chips/h20e.toml", 29) == "/tmp/fuzzER/home/chips/\nh20e.toml"
    assert _filled("/tmp/fixer2-home/chips/h20e.toml", 20) == "/tmp/fixer2-home/\nchips/h20e.toml"
