"""A chip that is not shipping, or a system whose power parity assumed, is flagged wherever its row appears (compare,
fleet, serve's flags), and a ratio to a chip nothing measured takes a wider interval (fuzz22b 2.2, 2.3)."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner
from conftest import compare_rows_once

from parity import catalog
from parity.cli import cli
from parity.compare import Comparison, vendor_bands
from parity.report.html import _ratios_words
from parity.uncertainty import Band, power_flags, ratio_band, status_flag


def test_a_chip_not_shipping_is_flagged_with_what_its_figures_are() -> None:
    b30a, rubin, h100 = (catalog.chip(c) for c in ("nvidia-b30a", "nvidia-rubin", "nvidia-h100-sxm"))
    reported, announced = status_flag(b30a), status_flag(rubin)
    assert (reported.kind, reported.brief) == ("reported chip", "reported chip: specs from press reports")
    assert reported.text == ("reported chip nvidia-b30a: specs from press reports, not a shipping part's "
                             "(parity show nvidia-b30a)")
    assert (announced.kind, announced.brief) == ("announced chip", "announced chip: keynote figures")
    assert status_flag(h100) is None


def test_an_assumed_system_power_is_flagged_with_its_basis() -> None:
    """HGX B30A: 8 x 550 W x 1.82 = 8,008 W, an assumption; DGX H100's 10.2 kW is a datasheet figure."""
    (flag,) = power_flags(catalog.system("hgx-b30a"))
    assert (flag.kind, flag.brief, flag.text) == ("power assumed", "power assumed",
                                                  "power assumed: 8.01 kW per hgx-b30a (8 x 550 W x 1.82)")
    assert power_flags(catalog.system("hgx-h100")) == ()


def test_a_ratio_band_doubles_for_a_chip_uncalibrated_or_not_shipping() -> None:
    """NVIDIA's band [-0.0912, 0.2128] (centre 0.0608, half-width 0.1520) takes half-width 0.3040 for the B30A
    (reported, inheriting Blackwell's calibration): [-0.2432, 0.3649]; the H100, measured and shipping, keeps it."""
    nvidia = vendor_bands()["NVIDIA"]
    for chip, (low, high) in (("nvidia-b30a", (-0.2432, 0.3649)), ("nvidia-h100-sxm", (-0.0912, 0.2128))):
        found = ratio_band(nvidia, catalog.chip(chip), catalog.calibration(catalog.chip(chip)))
        assert (found.q_low, found.q_high) == pytest.approx((low, high), abs=1e-4), chip
    wider = Band(q_low=0.0, q_high=0.2, count=3).widened(3.0)
    assert (wider.q_low, wider.q_high, wider.count) == pytest.approx((-0.2, 0.4, 3))


def test_compare_flags_a_reported_chip_and_widens_its_ratio_interval() -> None:
    """B30A against the H20 on DeepSeek-R1: the B30A row says it is reported and its power assumed (note and JSON),
    and the H20's ratio to it takes the root sum of squares of NVIDIA's half-width doubled and NVIDIA's own:
    hypot(0.3040, 0.1520) = 0.3399, so high / low = e^0.6798 = 1.973 (it was e^(2 x 0.2150) = 1.537)."""
    with compare_rows_once():
        rows = json.loads(CliRunner().invoke(cli, ["compare", "hgx-b30a", "hgx-h20", "--model", "deepseek-r1",
                                                   "--format", "json"]).stdout)
    b30a, h20 = rows
    assert "reported chip nvidia-b30a: specs from press reports, not a shipping part's (parity show nvidia-b30a)" \
        in b30a["flags"] and "power assumed: 8.01 kW per hgx-b30a (8 x 550 W x 1.82)" in b30a["flags"]
    assert "reported chip: specs from press reports; power assumed" in b30a["note"]
    low, high = h20["ratio_interval"]
    nvidia = vendor_bands()["NVIDIA"]
    half = 0.5 * (nvidia.q_high - nvidia.q_low)
    assert high / low == pytest.approx(math.exp(2 * math.hypot(2 * half, half)), rel=1e-9)
    assert high / low == pytest.approx(1.973, abs=1e-3)


def test_the_reports_prose_gives_each_ratio_its_interval_and_names_the_one_that_spans_1() -> None:
    """The report's CloudMatrix and Atlas 950 sentences share one helper: per system, per chip and per kW, each with
    its interval (the per-chip one scaled), and 'no clear winner' for each that holds 1."""
    row = Comparison(system="cloudmatrix-384", chip="huawei-ascend-910c", model="deepseek-r1", workload="serve",
                     weights="int8", kv_cache="bf16", mode="disagg", layout="-", chips=384, fits=True,
                     tokens_per_s_per_chip=2049.0, prefill_tokens_per_s_per_chip=1.0, tokens_per_s_per_system=1.0,
                     tokens_per_s_per_kw=1.0, tokens_per_s_per_gb=1.0, ratio_interval=(0.16, 0.24),
                     ratios={"per_chip": 0.2, "per_system": 1.1, "per_kw": 0.3, "per_gb": 0.3})
    assert _ratios_words(row) == (
        "<b class='key'>1.10x</b> the output tokens/s per system (80% interval 0.88-1.32x), <b>0.20x</b> per chip "
        "(80% interval 0.16-0.24x) and <b>0.30x</b> per kW (80% interval 0.24-0.36x); 1 lies inside the 80% interval "
        "per system: no clear winner")
