"""`parity compare --baseline`: every ratio, in the table and in the two-system sentence, is to the system named,
listed or not."""

from __future__ import annotations

import json

from click.testing import CliRunner

from parity.cli import cli

PAIR = ["compare", "hgx-h100", "atlas-800-a3", "--model", "llama-3.1-8b", "--processes", "1"]


def _run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_two_system_sentence_reads_as_the_table_whichever_is_the_baseline() -> None:
    """Llama-3.1-8B, H100 node against Atlas 800 A3: 3.00x the tokens/s per chip, 1.24x the system BF16. With the
    A3 as baseline the H100 row reads 3.00x, and the sentence, which said 1.00x everywhere (it inverted the second
    row's ratios as if the first were the baseline), says so too. The sentence states the other system against the
    baseline, as the table's ratios read: with the H100 as baseline it said the H100's 3.00x beside the A3 row's 0.33x
    (report-only tester fixC 2); it now says the A3's 0.33x, the reciprocals."""
    default = " ".join(_run(*PAIR).split())
    against_a3 = " ".join(_run(*PAIR, "--baseline", "atlas-800-a3").split())
    sentence = ("hgx-h100 against atlas-800-a3: 1.24x the system BF16, 0.62x the system memory, 0.88x the system "
                "power, 1.24x BF16 per chip; predicted 3.00x the output tokens/s per chip and per system, 3.43x per "
                "kW, 4.80x per GB of memory.")
    assert sentence in against_a3 and "hgx-h100 against" not in default
    assert ("atlas-800-a3 against hgx-h100: 0.81x the system BF16, 1.60x the system memory, 1.14x the system power, "
            "0.81x BF16 per chip; predicted 0.33x the output tokens/s per chip and per system, 0.29x per kW, 0.21x "
            "per GB of memory.") in default
    h100, a3 = json.loads(_run(*PAIR, "--baseline", "atlas-800-a3", "--format", "json"))
    assert round(h100["ratios"]["per_chip"], 2) == 3.00 and a3["ratios"]["per_chip"] == 1.0
    assert h100["baseline"] == a3["baseline"] == "atlas-800-a3"


def test_a_baseline_not_listed_joins_the_comparison() -> None:
    """`compare hgx-h100 --baseline atlas-800-a3` divided by the H100 itself (1.00x, with an interval built from
    Huawei's residuals): the A3 is now run and shown first, and the H100's ratio is its 3.00x."""
    rows = json.loads(_run("compare", "hgx-h100", "--model", "llama-3.1-8b", "--baseline", "atlas-800-a3",
                           "--processes", "1", "--format", "json"))
    assert [r["system"] for r in rows] == ["atlas-800-a3", "hgx-h100"]
    assert round(rows[1]["ratios"]["per_chip"], 2) == 3.00 and rows[1]["baseline"] == "atlas-800-a3"
    low, high = rows[1]["ratio_interval"]
    assert low < 3.00 < high
