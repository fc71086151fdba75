"""A chip that is not shipping, or a system whose power parity assumed, is flagged wherever its row appears (compare,
fleet, serve's flags), and a ratio to a chip nothing measured takes a wider interval (fuzz22b 2.2, 2.3)."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
from click.testing import CliRunner
from conftest import compare_rows_once

from parity import catalog
from parity.cli import cli
from parity.compare import Comparison, vendor_bands
from parity.report.comparison import ratios_words
from parity.hardware import Source
from parity.uncertainty import Band, flag_note, power_flags, ratio_band, specs_flag, status_flag, training_flags


def test_a_chip_not_shipping_is_flagged_with_what_its_figures_are() -> None:
    """The flag names the source kinds of the chip's peaks, memory and TDP, not a blanket 'press reports' or
    'keynote figures': every B30A number is half of HGX B300's (derived); Trainium3's are AWS Neuron documentation
    (datasheet) and an assumed TDP; Rubin's are keynote figures (press), FP8/BF16 derived and TDP assumed."""
    b30a, rubin, trn3, h100 = (catalog.chip(c) for c in ("nvidia-b30a", "nvidia-rubin", "aws-trainium3",
                                                          "nvidia-h100-sxm"))
    reported, announced, documented = status_flag(b30a), status_flag(rubin), status_flag(trn3)
    assert (reported.kind, reported.brief) == ("reported chip", "reported chip: derived figures")
    assert reported.text == ("reported chip nvidia-b30a: not a shipping part; its figures are derived (source kinds; "
                             "parity show nvidia-b30a)")
    assert (announced.kind, announced.brief) == ("announced chip", "announced chip: press/derived/assumption figures")
    assert documented.brief == "announced chip: datasheet/assumption figures"
    assert status_flag(catalog.chip("huawei-ascend-960")).brief == "roadmap chip: press/derived/assumption figures"
    assert status_flag(h100) is None


def test_an_assumed_system_power_is_flagged_with_its_basis() -> None:
    """HGX B30A: 8 x 550 W x 1.82 = 8,008 W, an assumption; DGX H100's 10.2 kW is a datasheet figure."""
    (flag,) = power_flags(catalog.system("hgx-b30a"))
    assert (flag.kind, flag.brief, flag.text) == ("power assumed", "power assumed",
                                                  "power assumed: 8.008 kW per hgx-b30a (8 x 550 W x 1.82)")
    assert power_flags(catalog.system("hgx-h100")) == ()


def test_a_ratio_band_widens_for_a_chip_uncalibrated_or_not_shipping() -> None:
    """NVIDIA's band [-0.0718, 0.2408] (centre 0.0845, half-width 0.1563) widens by the chip's flags as a prediction's
    interval does (uncertainty.widening): the B30A, reported (2) and inheriting Blackwell's calibration (2), takes
    half-width 0.1563 sqrt(4 + 4 - 1) = 0.4135: [-0.3290, 0.4980]; the H20, shipping but partly fitted (1.25), 0.1954:
    [-0.1109, 0.2799]; the H100, fitted by parity's serving runs and shipping, keeps it."""
    nvidia = vendor_bands()["NVIDIA"]
    for chip, (low, high) in (("nvidia-b30a", (-0.3290, 0.4980)), ("nvidia-h20", (-0.1109, 0.2799)),
                              ("nvidia-h100-sxm", (-0.0718, 0.2408))):
        found = ratio_band(nvidia, catalog.chip(chip), catalog.calibration(catalog.chip(chip)))
        assert (found.q_low, found.q_high) == pytest.approx((low, high), abs=1e-4), chip
    wider = Band(q_low=0.0, q_high=0.2, count=3).widened(3.0)
    assert (wider.q_low, wider.q_high, wider.count) == pytest.approx((-0.2, 0.4, 3))


@pytest.mark.e2e
def test_compare_flags_a_reported_chip_and_widens_its_ratio_interval() -> None:
    """B30A against the H20 on DeepSeek-R1: the B30A row says it is reported and its formats (B300's) and power
    assumed (note and JSON), and the H20's ratio to it takes the root sum of squares of NVIDIA's half-width widened for
    the B30A (flagged, 2 once however many flags, and inheriting Blackwell's calibration, 2: sqrt(4 + 4 - 1) = 2.6458)
    and for the H20 (partly fitted, 1.25): hypot(0.4135, 0.1954) = 0.4574, so high / low = e^0.9148 = 2.496 (2.012
    when any flag doubled a band once; e^(2 x 0.2150) = 1.537 before the B30A's was widened)."""
    with compare_rows_once():
        rows = json.loads(CliRunner().invoke(cli, ["compare", "hgx-b30a", "hgx-h20", "--model", "deepseek-r1",
                                                   "--format", "json"]).stdout)
    b30a, h20 = rows
    assert "reported chip nvidia-b30a: not a shipping part; its figures are derived (source kinds; parity show " \
        "nvidia-b30a)" in b30a["flags"] and "power assumed: 8.008 kW per hgx-b30a (8 x 550 W x 1.82)" in b30a["flags"]
    assert "reported chip: derived figures; specs assumed: formats; power assumed" in b30a["note"]
    low, high = h20["ratio_interval"]
    nvidia = vendor_bands()["NVIDIA"]
    half = 0.5 * (nvidia.q_high - nvidia.q_low)
    assert high / low == pytest.approx(math.exp(2 * math.hypot(math.sqrt(7) * half, 1.25 * half)), rel=1e-9)
    assert high / low == pytest.approx(2.496, abs=1e-3)


def test_the_reports_prose_gives_each_ratio_its_interval_and_names_the_one_that_spans_1() -> None:
    """The report's CloudMatrix and Atlas 950 sentences share one helper: per system, per chip and per kW, each with
    its interval (the per-chip one scaled), and 'no clear winner' for each that holds 1."""
    row = Comparison(system="cloudmatrix-384", chip="huawei-ascend-910c", model="deepseek-r1", workload="serve",
                     weights="int8", kv_cache="bf16", mode="disagg", layout="-", chips=384, fits=True,
                     tokens_per_s_per_chip=2049.0, prefill_tokens_per_s_per_chip=1.0, tokens_per_s_per_system=1.0,
                     tokens_per_s_per_kw=1.0, tokens_per_s_per_gb=1.0, ratio_interval=(0.16, 0.24),
                     ratios={"per_chip": 0.2, "per_system": 1.1, "per_kw": 0.3, "per_gb": 0.3})
    assert ratios_words(row) == (
        "<b class='key'>1.10x</b> the output tokens/s per system (80% interval 0.88-1.32x), <b>0.20x</b> per chip "
        "(80% interval 0.16-0.24x) and <b>0.30x</b> per kW (80% interval 0.24-0.36x); no clear winner per system (1 "
        "lies inside its 80% interval)")


def test_a_chip_whose_headline_specs_are_assumptions_is_flagged_with_each() -> None:
    """The MLU590's format list, BF16 and INT8 rates and memory bandwidth have no published figure
    (cambricon-mlu590.toml: source kind 'assumption'), its formats first, as they choose the weights it is served in;
    the catalog's other such chips are the T-Head PPU and Kunlun P800 (formats assumed too), the MetaX C500 (memory;
    its formats are Gitee AI's list of MetaX's data), the B30A (formats as B300's) and the Ascend 950DT, 960 and 970
    (formats partly named in a keynote, the rest as the 950PR's), and a chip whose figures are published, estimated
    or derived (H100, Ascend 910B) is not flagged."""
    mlu590 = specs_flag(catalog.chip("mlu590"))
    assert (mlu590.kind, mlu590.brief) == ("specs assumed", "specs assumed: formats, bf16, int8, memory bandwidth")
    assert mlu590.text == ("specs assumed on cambricon-mlu590: formats (fp32, bf16, fp16, int8), bf16 312 TFLOP/s, "
                           "int8 624 TOP/s, memory bandwidth 2 TB/s, parity's assumptions where no figure is published "
                           "(parity show cambricon-mlu590)")
    formats = "specs assumed: formats"
    assert {c.id: specs_flag(c).brief for c in catalog.chips() if specs_flag(c)} == {
        "alibaba-t-head-ppu": "specs assumed: formats, memory bandwidth", "cambricon-mlu590": mlu590.brief,
        "kunlunxin-p800": "specs assumed: formats, int8, memory bandwidth",
        "metax-c500": "specs assumed: memory capacity, memory bandwidth", "nvidia-b30a": formats,
        "huawei-ascend-950dt": formats, "huawei-ascend-960": formats, "huawei-ascend-970": formats}
    assert specs_flag(catalog.chip("ppu")).text.endswith("2.5 TB/s, parity's assumptions where no figure is published "
                                                         "(parity show alibaba-t-head-ppu)")


def test_assumed_specs_are_in_every_prediction_of_the_chip_and_widen_its_ratio_band() -> None:
    """Training carries the flag as serving does; a calibrated shipping chip (the H100) with its memory bandwidth an
    assumption takes NVIDIA's band doubled, [-0.2281, 0.3970], as an unreleased chip does."""
    flags = training_flags(catalog.system("mlu590-8card"), catalog.model("llama-3.1-8b"), 4096.0)
    assert "specs assumed: formats, bf16, int8, memory bandwidth" in flag_note(flags)
    h100 = catalog.chip("nvidia-h100-sxm")
    guess = Source(id="guess", kind="assumption", title="a guess")
    assumed = replace(h100, provenance=tuple(replace(r, source=guess) if r.field == "memory_bytes_per_s" else r
                                             for r in h100.provenance))
    nvidia = vendor_bands()["NVIDIA"]
    band = ratio_band(nvidia, assumed, catalog.calibration(h100))
    assert (band.q_low, band.q_high) == pytest.approx((-0.2281, 0.3970), abs=1e-4)
    assert ratio_band(nvidia, h100, catalog.calibration(h100)) == nvidia


def test_fleet_notes_a_chip_whose_specs_are_assumed() -> None:
    """fleet's note gives the brief and the caption says what it means; --format json carries the whole flag."""
    with compare_rows_once():
        rows = json.loads(CliRunner().invoke(cli, ["fleet", "--model", "llama-3.1-8b", "--chips", "mlu590",
                                                   "--demand", "1e10 tokens/day", "--format", "json"]).stdout)
    assert "specs assumed: formats, bf16, int8, memory bandwidth" in rows[0]["note"]
    assert any(f.startswith("specs assumed on cambricon-mlu590: formats (fp32, bf16, fp16, int8), bf16 312 TFLOP/s")
               for f in rows[0]["flags"])


def test_the_spec_ratio_caption_names_the_chips_whose_figures_are_not_a_datasheets() -> None:
    """Every compare said 'Spec ratios from datasheets', though Rubin's BF16 is FP8 / 2 (derived), its memory a press
    copy of a keynote and its TDP assumed, and every B30A figure is half of HGX B300's (derived). The caption names
    those chips and kinds; Trainium3's ratio figures are AWS documentation but for its assumed TDP; H100 and H200 are
    all datasheet."""
    from parity.compare import spec_bases

    systems = [catalog.system(c) for c in ("h100", "rubin", "b30a", "trainium3")]
    assert spec_bases(systems) == ("Spec ratios from the catalog's figures, a datasheet's except these chips' (source "
                                 "kinds; 'parity show CHIP' names each figure's): nvidia-rubin press, derived, "
                                 "assumption; nvidia-b30a derived; aws-trainium3 assumption")
    assert spec_bases([catalog.system("h100"), catalog.system("h200")]) == "Spec ratios from datasheets"
