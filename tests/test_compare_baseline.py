"""`parity compare --baseline`: every ratio, in the table and in the two-system sentence, is to the system named,
listed or not."""

from __future__ import annotations

import json
import math

from click.testing import CliRunner

from parity.cli import cli

PAIR = ["compare", "hgx-h100", "atlas-800-a3", "--model", "llama-3.1-8b", "--processes", "1"]


def _run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_two_system_sentence_reads_as_the_table_whichever_is_the_baseline() -> None:
    """Llama-3.1-8B, H100 node against Atlas 800 A3: 2.94x the tokens/s per chip, 1.24x the system BF16. With the
    A3 as baseline the H100 row reads 2.94x, and the sentence, which said 1.00x everywhere (it inverted the second
    row's ratios as if the first were the baseline), says so too. The sentence states the other system against the
    baseline, as the table's ratios read: with the H100 as baseline it said the H100's 3.00x beside the A3 row's 0.33x
    (report-only tester fixC 2); it now says the A3's 0.34x, the reciprocals."""
    default = " ".join(_run(*PAIR).split())
    against_a3 = " ".join(_run(*PAIR, "--baseline", "atlas-800-a3").split())
    sentence = ("hgx-h100 against atlas-800-a3: 1.24x the system BF16, 0.62x the system memory, 0.88x the system "
                "power, 1.24x BF16 per chip; predicted 2.94x the output tokens/s per chip and per system, 3.36x per "
                "kW, 4.71x per GB of memory.")
    assert sentence in against_a3 and "hgx-h100 against" not in default
    assert ("atlas-800-a3 against hgx-h100: 0.81x the system BF16, 1.60x the system memory, 1.14x the system power, "
            "0.81x BF16 per chip; predicted 0.34x the output tokens/s per chip and per system, 0.30x per kW, 0.21x "
            "per GB of memory.") in default
    h100, a3 = json.loads(_run(*PAIR, "--baseline", "atlas-800-a3", "--format", "json"))
    assert round(h100["ratios"]["per_chip"], 2) == 2.94 and a3["ratios"]["per_chip"] == 1.0
    assert h100["baseline"] == a3["baseline"] == "atlas-800-a3"


def test_a_baseline_not_listed_joins_the_comparison() -> None:
    """`compare hgx-h100 --baseline atlas-800-a3` divided by the H100 itself (1.00x, with an interval built from
    Huawei's residuals): the A3 is now run and shown first, and the H100's ratio is its 2.94x."""
    rows = json.loads(_run("compare", "hgx-h100", "--model", "llama-3.1-8b", "--baseline", "atlas-800-a3",
                           "--processes", "1", "--format", "json"))
    assert [r["system"] for r in rows] == ["atlas-800-a3", "hgx-h100"]
    assert round(rows[1]["ratios"]["per_chip"], 2) == 2.94 and rows[1]["baseline"] == "atlas-800-a3"
    low, high = rows[1]["ratio_interval"]
    assert low < 2.94 < high


def test_a_rate_no_source_gives_reads_unknown_on_either_side_of_the_ratio() -> None:
    """The T-Head PPU lists INT8 as native but no source gives its rate ('parity formats': rate unpublished), so its
    8-bit peak reads 0. Against the H20 (296 TFLOP/s FP8) its 8-bit x read 0.00x while the H20 against it read '-':
    unknown either way, it is NaN ('-', null in JSON) in both positions. BF16 has both figures: 118.7 / 148 =
    0.80x and 148 / 118.7 = 1.25x."""
    from parity import catalog
    from parity.compare import spec_ratios

    ppu, h20 = catalog.system("ppu-server-16"), catalog.system("hgx-h20")
    for row, base in ((ppu, h20), (h20, ppu)):
        assert math.isnan(spec_ratios(row, base)["eight_bit"])
    assert round(spec_ratios(ppu, h20)["bf16"], 2) == 0.80 and round(spec_ratios(h20, ppu)["bf16"], 2) == 1.25
    assert spec_ratios(h20, h20)["eight_bit"] == 1.0


def test_compare_shows_an_unknown_8bit_ratio_as_a_dash_whichever_is_the_baseline() -> None:
    """The table and JSON of both orders: the PPU row's 8-bit x reads '-' and null, not 0.00x and 0.0, and the
    caption says what '-' means."""
    pair = ["compare", "hgx-h20", "ppu-server-16", "--model", "llama-3.1-8b", "--processes", "1"]
    for order, h20 in ((pair, 1.0), ([*pair, "--baseline", "ppu-server-16"], None)):
        rows = {r["system"]: r["spec_ratios"]["eight_bit"] for r in json.loads(_run(*order, "--format", "json"))}
        assert rows == {"hgx-h20": h20, "ppu-server-16": None}
    text = " ".join(_run(*pair, "--wide").split())
    assert "0.00x" not in text.split("Every row")[0]
    assert "'-': no source gives the figure of the row's chip or the baseline's" in text
