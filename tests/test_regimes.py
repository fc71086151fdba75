"""The large-EP decode flag (serving.regimes): raised from the layout (experts over 32 chip packages or more with
attention DP, a decode step), worded with the published checks that read 33% and 53% fast, which are priced again
here; no calibration row of aiconfigurator's data is in the regime (report-only tester fixfa 4)."""

from __future__ import annotations

import csv

import pytest

from parity import catalog
from parity.catalog.files import data_dir
from parity.hardware import per_die
from parity.plan import Layout
from parity.predict.scenario import scenario_from_row
from parity.predict.steady import flags
from parity.serving.regimes import LARGE_EP_CHECKS, large_ep_decode_flag
from parity.uncertainty import WIDEN_FLAGGED, widening
from parity.validate import published_errors

MEASUREMENTS = data_dir() / "measurements"


def _rows(name: str) -> list[dict[str, str]]:
    with open(MEASUREMENTS / name, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _flagged(row: dict[str, str]) -> bool:
    return any(f.kind == "large-EP decode" for f in flags(scenario_from_row(row)))


@pytest.mark.parametrize(("system", "layout", "where"), [
    ("hgx-h100", Layout(attn_dp=72, moe_ep=72), "EP 72 with attention DP 72, over 9 scale-up domains of 8 ranks"),
    ("gb200-nvl72", Layout(attn_dp=48, moe_ep=48), "EP 48 with attention DP 48, in one 72-rank scale-up domain"),
    ("gb200-nvl72", Layout(tp=8, attn_dp=4, moe_ep=32), "EP 32 with attention DP 4, in one 72-rank scale-up domain"),
])
def test_large_ep_decode_is_flagged_with_its_evidence(system: str, layout: Layout, where: str) -> None:
    flag = large_ep_decode_flag(catalog.system(system), layout, moe=True)
    assert flag is not None and flag.widen == WIDEN_FLAGGED
    assert flag.text == (f"large-EP decode ({where}): parity's two published checks of this regime read 33-53% fast "
                         "(C03-h100-decode-2k +33%, C04-gb200-decode-2k +53%: SGLang, DeepEP low-latency)")
    assert flag.brief == "large-EP decode: checks read 33-53% fast"


@pytest.mark.parametrize(("system", "layout", "moe"), [
    ("gb200-nvl72", Layout(attn_dp=16, moe_ep=16), True),  # 16 packages: below the regime
    ("gb200-nvl72", Layout(tp=32, moe_ep=32), True),  # no attention DP
    ("gb200-nvl72", Layout(attn_dp=48, moe_ep=48), False),  # a dense model has no experts to spread
    ("atlas-800-a3", Layout(attn_dp=32, moe_ep=32), True),  # 32 dies are 16 packages (B11: -6%, -1%)
])
def test_other_layouts_are_not(system: str, layout: Layout, moe: bool) -> None:
    the_system = per_die(catalog.system(system))  # a 910C's ranks are dies
    assert large_ep_decode_flag(the_system, layout, moe=moe) is None


def test_the_published_rows_of_the_regime_carry_it_and_no_other_decode_row_does() -> None:
    """serving_published.csv: C03 (EP 72 on H100 nodes) and C04 (EP 48 on a GB200 NVL72) carry it; the Atlas A3
    decode workers at 32 dies (B11, B12, scored within 10%) do not; a prefill step of C03's layout has no decode, nor
    has C02's prompt-only run (EP 32 with attention DP 32 on 4 HGX H100s, osl 1: regression tester fixfc 4), whose
    layout, given an output, would be flagged."""
    rows = {r["case_id"]: r for r in _rows("serving_published.csv")}
    assert _flagged(rows["C03-h100-decode-2k"]) and _flagged(rows["C04-gb200-decode-2k"])
    for case in ("B11-a3-dsr1-w8a8-3.5k1.5k-pd", "B12-a3-dsr1-w8a8-6k1.6k-pd-lowlat"):
        assert not _flagged(rows[case])
    prefill = {**rows["C03-h100-decode-2k"], "phase": "prefill", "batch": "72", "isl": "2000", "context": ""}
    assert not _flagged(prefill)
    assert rows["C02-h100-prefill-1k"]["osl"] == "1" and not _flagged(rows["C02-h100-prefill-1k"])
    assert _flagged({**rows["C02-h100-prefill-1k"], "osl": "2"})


def test_the_checks_the_flag_quotes_are_what_parity_prices() -> None:
    """The flag's words are the two checks' errors as validate scores them (C03: 3,702 predicted against 2,785, +32.9%;
    C04: 11,600 against 7,583, +53.0%): a change that moves them fails here, and the flag is reworded. The flag
    doubles their interval's log-width (uncertainty.widening), combined with the chip's calibration status: the
    H100, whose serving rows fit the engine profiles (catalog.fitted_chips), stays at 2, the partly fitted GB200
    (1.25) gives sqrt(1 + 3 + 0.5625) = 2.14."""
    rows = [r for r in _rows("serving_published.csv") if r["case_id"] in {c for c, _, _ in LARGE_EP_CHECKS}]
    errors = {e.case_id: e for e in published_errors(rows)}
    for case, _, error in LARGE_EP_CHECKS:
        assert round(errors[case].predicted / errors[case].measured - 1.0, 2) == error
        assert widening(errors[case].flags) == pytest.approx({"C03-h100-decode-2k": 4.0, "C04-gb200-decode-2k":
                                                              4.5625}[case] ** 0.5, rel=1e-12)


@pytest.mark.e2e
@pytest.mark.parametrize(("name", "count"), [("serving_aiconfigurator.csv", 0), ("serving_percentiles.csv", 0),
                                             ("serving_published.csv", 2)])
def test_how_many_measured_rows_are_in_the_regime(name: str, count: int) -> None:
    """aiconfigurator's 1,848 rows (calibration and holdout) hold no expert group of 32 packages: none is flagged.
    Of the published rows, C03 and C04 are; five prefill figures at EP 32 on H100 / H800 nodes (A05, C02 x3, B02-nv)
    were too, by their closed-loop scenarios, until a run with no decode step (one output token) raised no flag."""
    flagged = [r["case_id"] for r in _rows(name) if _flagged(r)]
    assert len(flagged) == count, flagged
