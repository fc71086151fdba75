"""The report's frontiers pass through the tables' figures, and the words under its tables say what the notes, the
power and the assumptions are (fuzz17 1.1, 1.5, 2.1, 2.2, 4.3)."""

import html
import math

import pytest

from parity import catalog
from parity.compare import Comparison, compare, default_mtp
from parity.flags import Flag
from parity.report.frontier import frontier
from parity.report.comparison import comparison_table, flags_legend
from parity.report.notes import flags_caption, group_assumptions, legend, power_basis, without_mtp_hint
from parity.report.page import SCRIPT
from parity.uncertainty import UNMEASURED_GEMM_WORDS

MODEL = catalog.model("deepseek-r1")
GENERIC = catalog.engine("generic")


@pytest.mark.parametrize(("name", "tokens_per_s_per_chip", "spans"),
                         [("hgx-h200", 3_244, 1), ("atlas-800-a3", 1_200, 2)])
def test_the_frontier_passes_through_the_table_figure(name: str, tokens_per_s_per_chip: int, spans: int) -> None:
    """The plot searched the bare engine, one rank per package, no MTP and no TTFT bound: at TPOT 50 ms it gave
    3,167 tok/s/chip on hgx-h200 (table: 3,627) and 616 on atlas-800-a3 (table: 1,617 over 4 systems). Searched as
    compare searched the row, the row's figure is on the curve and none beyond it meets the target (3,244 and 1,200,
    the A3's a decode worker over 2 systems; 1,180 before the decode batch was refined as served; 1,131 over 4
    before each layout ran at the most clients, or decode
    batch, its targets allow; 3,244 and 1,131
    since EP x ETP layouts cross scale-out and gather over their slices, 3,245 and 1,641 before; 3,627 and 1,617
    before disaggregated rows were priced on whole workers by serve's steady model)."""
    system = catalog.system(name)
    (row,) = compare([system], MODEL, GENERIC, 0.05, 1024, 1024, ttft_s=5.0, mtp_tokens=default_mtp(MODEL))
    curve = frontier(MODEL, system, GENERIC, 1024, 1024, 0.05, 5.0, row)
    assert round(row.tokens_per_s_per_chip) == tokens_per_s_per_chip and curve.spans == spans
    assert curve.chosen in curve.points and curve.chosen[1] == row.tokens_per_s_per_chip
    assert max(chip for user, chip in curve.points if user >= 20.0) == pytest.approx(row.tokens_per_s_per_chip)
    assert curve.label == (f"atlas-800-a3 (int8, workers over up to {spans} systems)" if spans > 1
                           else "hgx-h200 (fp8_block)")


def test_power_basis_names_each_figure_and_its_basis() -> None:
    """'power/system 59.50x' rested on 8,192 x 750 W x 1.82 against 72 x 1,800 W x 1.45, said nowhere on the page."""
    text = power_basis([catalog.system("atlas-950-superpod"), catalog.system("vera-rubin-nvl144"),
                        catalog.system("hgx-h200")])
    assert text.startswith("Power per system, as the catalog states it (no facility overhead): 11.1821 MW per "
                           "atlas-950-superpod (assumption: 8,192 x 750 W (assumed TDP) x 1.82, ")
    assert "217.728 kW per vera-rubin-nvl144 (assumption: 72 x 1,800 W (assumed TDP) x 1.68)" in text
    assert "10.2 kW per hgx-h200 (datasheet: DGX H200 maximum system power)" in text


@pytest.mark.e2e
def test_the_legend_explains_the_notes_a_table_uses() -> None:
    """'spans 4 systems (277/chip on 2)', 'uncalibrated' and 'GEMM rate not measured' went unexplained."""
    systems = {s: catalog.system(s) for s in ("hgx-h20", "atlas-800-a3", "rtx-pro-6000d-server")}
    rows = compare(list(systems.values()), MODEL, GENERIC, 0.05, 1024, 1024, ttft_s=5.0, mtp_tokens=1)
    text = legend(rows, systems)
    for said in ("'spans N systems'", "'(M/chip on K)': the best on K systems ('one': a single system)",
                 "one rank per die", "'uncalibrated'", "'X GEMM rate not measured'", "its 80% interval",
                 "no clear winner", UNMEASURED_GEMM_WORDS):
        assert said in text
    h200 = catalog.system("hgx-h200")
    bare = legend(compare([h200], MODEL, GENERIC, 0.05, 1024, 1024, ttft_s=5.0, mtp_tokens=1), {"hgx-h200": h200},
                  ratios=False)
    assert bare == ""  # one system alone: no ratio, no note, nothing to explain


def test_assumptions_group_into_every_rows_each_sections_and_each_systems() -> None:
    grouped = group_assumptions({"a": [("x", ("workload", "mtp 1", "cal x")), ("y", ("workload", "mtp 1", "cal y"))],
                                 "b": [("x", ("workload", "no mtp", "cal x")), ("z", ("workload", "no mtp", "cal z"))]})
    assert grouped.common == ("workload",)
    assert grouped.sections == {"a": ("mtp 1",), "b": ("no mtp",)}
    assert grouped.systems == {"x": ("cal x",), "y": ("cal y",), "z": ("cal z",)}


def test_the_report_names_no_option_it_lacks() -> None:
    """The report's fleet caption said '--mtp N: N draft tokens a decode step'; `parity report` has no --mtp. And its
    script told the reader to keep PNG files next to a page whose plots are embedded."""
    hint = catalog.mtp_setting(catalog.model("mixtral-8x7b"), 0)[1]
    assert without_mtp_hint(("a", hint), catalog.model("mixtral-8x7b")) == (
        "a", "no multi-token prediction (mixtral-8x7b has no MTP layers)")
    assert "keep the PNG files" not in SCRIPT and "the PNG files beside index.html hold the same plots" in SCRIPT


def _row(system: str, baseline: str, flags: tuple, note: str = "", per_chip: float = 1.0) -> Comparison:
    """A served comparison row as compare returns it, with the figures the report's table prints."""
    return Comparison(system=system, chip=catalog.system(system).chip.id, model="deepseek-r1", workload="serve",
                      weights="int8", kv_cache="bf16", mode="disagg", layout="-", chips=catalog.system(system).chips,
                      fits=True, tokens_per_s_per_chip=1.0, prefill_tokens_per_s_per_chip=1.0,
                      tokens_per_s_per_system=1.0, tokens_per_s_per_kw=1.0, tokens_per_s_per_gb=1.0, flags=flags,
                      note=note, baseline=baseline, ratio_interval=(math.nan, math.nan),
                      ratios=dict.fromkeys(("per_chip", "per_system", "per_kw", "per_gb"), per_chip))


def test_a_report_table_carries_the_flags_compare_prints_under_its_own() -> None:
    """The CLI printed 'Every row: layout far from measured ones (...); engine profile generic not fitted to
    measurements' under gb200-nvl72 against cloudmatrix-384; the report's table of the same comparison said neither,
    its notes only the briefed flags (report-only tester fuzzDK 1). One rule, flags_caption, says them in both. And
    its baseline row came second (the systems' order, CloudMatrix first): every table now opens with it (fuzzDK 5)."""
    far = Flag("layout far from measured ones", "layout far from measured ones (pipeline parallel or over 64 chips "
               "per worker)")
    generic = Flag("engine profile not fitted", "engine profile generic not fitted to measurements")
    power = Flag("power assumed", "power assumed: 559 kW per cloudmatrix-384 (...)", "power assumed")
    systems = {s: catalog.system(s) for s in ("cloudmatrix-384", "gb200-nvl72")}
    rows = [_row("cloudmatrix-384", "gb200-nvl72", (far, generic, power), "power assumed", 0.2),
            _row("gb200-nvl72", "gb200-nvl72", (far, generic))]
    page = comparison_table(rows, systems, MODEL, "a comparison")
    said = ("Every row: layout far from measured ones (pipeline parallel or over 64 chips per worker); engine profile "
            "generic not fitted to measurements.")
    assert flags_caption(MODEL, MODEL.name, [r.flag_row() for r in rows]).strip() == said
    assert (f"<p class='legend'><small><b>Flags</b> (where the case lies outside what parity was checked on): "
            f"{html.escape(said)}</small></p>") in page
    assert page.index("<b>gb200-nvl72</b>") < page.index("<b>cloudmatrix-384</b>")
    # a per-kW interval scales the per-chip one by the systems' power: an assumed power's error is not in it (fuzzDK 4)
    assert ("'power assumed': the system's power is parity's assumption (below), which its per-kW figures rest on; "
            "its per-kW interval holds the per-chip rate's error alone, not that assumption's.") in html.unescape(page)
    assert flags_legend(MODEL, [("hgx-h200", True, ())]) == ""  # nothing outside what was checked: no line
