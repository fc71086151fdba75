"""The report's words a reader quotes: a claim in its source's own figures with parity's catalog arithmetic apart,
the node tables' heading from what they hold, the fleet's assumptions per row, and power that rebuilds the MW
(report-only tester fixeg 1-5)."""

import html
import re

import pytest

from parity import catalog
from parity.errors import CatalogError
from parity.catalog.claims import _figure
from parity.fleet import power_text
from parity.report.claims import claim_html
from parity.report.html import nodes_heading
from parity.report.notes import rows_assumptions


def _cells(text: str) -> list[list[str]]:
    """A table's rows as their cells' text."""
    return [[html.unescape(c) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", text) if "<td" in row]


def _claim(system: str) -> str:
    said = catalog.claim(system)
    assert said is not None
    return claim_html(said, catalog.system(system), catalog.system(said.against))


def test_cloudmatrix_claim_is_in_semianalysis_own_figures() -> None:
    """SemiAnalysis: ~300 PF, 49.2 TB, 559 kW against 180 PF, 13.8 TB, 145 kW: 1.67x, 3.57x, 3.86x. The report
    said 'SemiAnalysis: 1.71x BF16, 3.67x memory', the catalog's 307.2 PF (Huawei's page) and 72 x 186 GB = 13.39 TB,
    which SemiAnalysis never wrote; those stay, in their own column."""
    text = _claim("cloudmatrix-384")
    assert text.startswith("<p>Claim (SemiAnalysis, 2025-04-16), in its own figures, with parity's catalog")
    rows = _cells(text)
    assert rows[0] == ["system BF16 compute (dense)", "300 PFLOP/s", "180 PFLOP/s", "1.67x", "about 1.7x", "1.71x"]
    assert rows[1] == ["system HBM capacity", "49.2 TB", "13.8 TB", "3.57x", "3.6x", "3.67x"]
    assert rows[2] == ["system power (all-in estimate)", "559 kW", "145 kW", "3.86x", "about 3.9x", "3.86x"]
    assert rows[3][1:5] == ["780 TFLOP/s", "2,500 TFLOP/s", "0.31x", "-"]
    # the figures are those of the source they are filed under
    title = catalog.claim("cloudmatrix-384").source.title
    for figure in ("300 PF", "49.2 TB", "559 kW", "180 PF", "13.8 TB", "145 kW", "780 vs 2,500"):
        assert figure in title


def test_atlas_claim_says_what_each_56_8x_counts() -> None:
    """Huawei's 56.8x is NPUs over Rubin's 144 dies; parity's 56.89x is memory, HBM alone over 72 packages: the
    report's numbers sat side by side with the reason only in the system file's note."""
    text = html.unescape(_claim("atlas-950-superpod"))
    rows = _cells(_claim("atlas-950-superpod"))
    assert rows[0] == ["NPUs (Huawei counts Rubin dies)", "8,192", "144", "56.89x", "56.8x", "113.78x"]
    assert rows[1] == ["FP8 compute", "8 EFLOP/s", "1.2 EFLOP/s", "6.67x", "6.7x", "6.81x"]
    assert rows[2][1:] == ["1,152 TB", "75 TB", "15.36x", "15x", "56.89x"]
    assert ("Huawei divides by NVIDIA's GTC 2025 NVL144 figures: 144 Rubin dies, and 75 TB of 'fast memory' that adds "
            "the Vera CPUs' LPDDR5X to the 20.7 TB of HBM4. parity counts 72 Rubin packages and HBM alone") in text


def test_why_the_catalog_differs_agrees_with_the_catalog() -> None:
    """The figures the claims' notes give for the catalog are the catalog's (a changed catalog fails here)."""
    cm, nvl72 = catalog.system("cloudmatrix-384"), catalog.system("gb200-nvl72")
    atlas, rubin = catalog.system("atlas-950-superpod"), catalog.system("vera-rubin-nvl144")
    assert cm.peak("bf16") == pytest.approx(307.2e15) and nvl72.memory_bytes == pytest.approx(13.392e12)
    assert atlas.memory_bytes == pytest.approx(1179.648e12) and rubin.memory_bytes == pytest.approx(20.736e12)
    assert (rubin.chips, atlas.chips / rubin.chips) == (72, pytest.approx(113.78, abs=0.01))


def test_a_claim_figure_measures_one_thing() -> None:
    with pytest.raises(CatalogError, match="measure different things"):
        _figure({"what": "x", "value": "49.2 TB", "against": "13.8 TB/s"}, "claims.toml [x]")
    assert _figure({"what": "NPUs", "value": "8,192", "against": "144"}, "w").ratio == pytest.approx(56.889, abs=1e-3)


def test_node_heading_says_what_the_table_holds() -> None:
    """hgx-h20, ppu-server-16 and gb200-nvl72 were '8-chip nodes'."""
    assert nodes_heading([catalog.system(s) for s in ("hgx-h20", "ppu-server-16", "gb200-nvl72")]) == \
        "Systems of 8, 16 and 72 chips"
    assert nodes_heading([catalog.system(s) for s in ("hgx-h20", "hgx-h200")]) == "8-chip nodes"


def test_fleet_assumptions_are_every_rows_and_each_rows_own() -> None:
    """The first row's alone: with the 910C first its CANN maturity read as every row's; with the H20 first, lost."""
    rows = [("atlas-800-a3", ("peak 2x", "CANN software maturity: fits", "power as stated")),
            ("hgx-h20", ("peak 2x", "power as stated")),
            ("mi300x-platform", ("peak 2x", "ROCm maturity", "power as stated"))]
    assert rows_assumptions(rows) == ("peak 2x", "power as stated", "only atlas-800-a3: CANN software maturity: fits",
                                      "only mi300x-platform: ROCm maturity")
    assert rows_assumptions(rows[1:2]) == ("peak 2x", "power as stated")


def test_power_rebuilds_the_fleet_mw() -> None:
    """2,699 atlas-800-a3 at '11.7 kW' is 31.6 MW, not the 31.4 shown; the catalog's 11.65 kW gives 31.44."""
    assert power_text(catalog.system("atlas-800-a3")).startswith("11.65 kW per atlas-800-a3")
    assert power_text(catalog.system("gb200-nvl72")).startswith("145 kW per gb200-nvl72")
    assert f"{2699 * 11.65e3 / 1e6:.3g}" == "31.4"
