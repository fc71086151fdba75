"""`calibrated` means one thing in every command: predictions on the chip rest on a measurement of it
(uncertainty.chip_calibrated). `chips` said the H100 was not calibrated (its calibration file is the H200's,
inherited) where `compare` said it was (parity's serving measurements on it fitted the engine profiles), and `show`
did not say it at all (report-only tester fuzzCB 4)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from parity import catalog
from parity.cli import cli
from parity.uncertainty import chip_calibrated


def test_chips_calibrated_is_compares() -> None:
    result = CliRunner().invoke(cli, ["chips", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    said = {r["id"]: r["calibrated"] for r in (rows if isinstance(rows, list) else rows["rows"])}
    assert said["nvidia-h100-sxm"] is True and said["nvidia-h800-sxm"] is False
    assert said == {c.id: chip_calibrated(c, catalog.calibration(c)) for c in catalog.chips() if c.id in said}


def test_show_says_whether_and_how_a_chip_is_calibrated() -> None:
    def shown(chip: str) -> dict[str, object]:
        result = CliRunner().invoke(cli, ["show", chip, "--format", "json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.output)
    assert shown("nvidia-h100-sxm")["calibrated"] is True
    assert shown("nvidia-h800-sxm")["calibrated"] is False
    csv = CliRunner().invoke(cli, ["show", "nvidia-h100-sxm", "--format", "csv"]).output
    assert ("calibrated,\"yes: parity's serving measurements on it fitted the engine profiles; its kernel figures "
            "inherited: from nvidia-h200-sxm (nvidia-h200-sxm-measured, 503 microbenchmark points): ") in csv
    csv = CliRunner().invoke(cli, ["show", "nvidia-h800-sxm", "--format", "csv"]).output
    assert ("calibrated,\"no: nothing measured on it fits its predictions ('uncalibrated' in compare's note); its "
            "kernel figures inherited: from nvidia-h200-sxm (") in csv
