"""`parity compare` of the issue's five DeepSeek-R1 systems: every ratio to the H20 carries its 80% interval
from both vendors' cross-source residual bands, and says when the interval spans 1."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

from parity.cli import cli
from parity.compare import vendor_bands

SYSTEMS = ["hgx-h20", "atlas-800-a3", "cloudmatrix-384", "gb200-nvl72", "mi300x-platform"]


def test_each_ratio_to_the_h20_has_its_interval_from_both_vendors_bands() -> None:
    """Interval of a/b: ratio x exp(-(c + h)) to ratio x exp(-(c - h)), c the difference of the band centres,
    h the root sum of squares of the half-widths. With Huawei on the widest band [-0.2745, 1.0040] (no rows of
    its own) and NVIDIA's [-0.1897, 0.8943]: c = 0.3648 - 0.3523 = 0.0125, h = hypot(0.6392, 0.5420) = 0.8381,
    so the 910C/H20 interval is ratio x 0.427 to ratio x 2.283: it spans 1 for any ratio between 0.44 and 2.34."""
    out = CliRunner().invoke(cli, ["compare", *SYSTEMS, "--model", "deepseek-r1", "--format", "json"])
    assert out.exit_code == 0, out.output
    rows = {r["system"]: r for r in json.loads(out.stdout)}
    assert rows["hgx-h20"]["ratio_interval"] == [None, None]
    bands = vendor_bands()
    nvidia = bands["NVIDIA"]
    for system in SYSTEMS[1:]:
        row = rows[system]
        ratio, (low, high) = row["ratios"]["per_chip"], row["ratio_interval"]
        vendor = {"atlas-800-a3": "Huawei", "cloudmatrix-384": "Huawei", "gb200-nvl72": "NVIDIA",
                  "mi300x-platform": "AMD"}[system]
        a = bands[vendor]
        centre = 0.5 * (a.q_low + a.q_high) - 0.5 * (nvidia.q_low + nvidia.q_high)
        half = math.hypot(0.5 * (a.q_high - a.q_low), 0.5 * (nvidia.q_high - nvidia.q_low))
        assert low == pytest.approx(ratio * math.exp(-(centre + half)), rel=1e-9)
        assert high == pytest.approx(ratio * math.exp(-(centre - half)), rel=1e-9)
        assert ("1 lies inside the 80% interval" in row["note"]) == (low < 1.0 < high), system
    assert rows["atlas-800-a3"]["ratio_interval"][0] < 1.0 < rows["atlas-800-a3"]["ratio_interval"][1]
