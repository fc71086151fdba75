"""What a fleet's limits buy and power: whole systems only, every limit named, megawatts as people write them."""

import json

from click.testing import CliRunner

from parity.cli import cli


def _row(*args: str) -> dict:
    result = CliRunner().invoke(cli, ["fleet", "--model", "llama-3.1-70b", "--chips", "h200", *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)[0]


def test_chips_past_the_whole_systems_are_neither_powered_nor_priced() -> None:
    """12 H200s hold one whole 8-GPU node: its 10.2 kW (DGX H200 maximum system power) is drawn, not 1.5 nodes'
    15.3 kW, as a system is bought and powered whole; the 4 chips past it say so."""
    row = _row("--units", "12")
    assert (row["chips"], row["systems"], row["power_w"]) == (12, 1, 10_200.0)
    assert row["note"] == ("4 chips past 1 whole hgx-h200 serve nothing, neither powered nor priced (a system is "
                           "bought whole)")


def test_a_budget_that_runs_no_system_still_names_the_chips_given() -> None:
    """--units 100 beside a 5 kW budget: the note named the budget alone, though the help says every limit is named."""
    assert _row("--units", "100", "--power-mw", "0.005")["note"] == (
        "the power budget runs no whole hgx-h200 (10.2 kW); none of the 100 chips available run")


def test_a_large_budget_reads_in_megawatts_without_an_exponent() -> None:
    """'the fleet draws 0.398 of the 1.5e+03 MW budget' read as '1.5e+03'."""
    note = _row("--demand", "1e11 tokens/day", "--power-mw", "1500")["note"]
    assert note.endswith("of the 1,500 MW budget") and "e+" not in note
