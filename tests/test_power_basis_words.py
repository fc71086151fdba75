"""What an energy or TCO reader needs said beside a per-kW or per-day figure (report-only tester fixfb): what fleet's
'served' counts and is (the daily-mean demand the fleet carries, not what it produces), a power-only what-if's
unchanged clocks, and a system power that is parity's arithmetic rather than a published figure."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from parity import catalog
from parity.cli import cli
from parity.cli.compare_captions import _powers_text
from parity.cli.fleet_cmd import _served_text
from parity.cli.variants import what_ifs_text
from parity.compare import held_clocks_note, system_power_flags
from parity.fleet import power_text
from parity.hardware import what_if
from parity.uncertainty import widening


def _run(*args: str, columns: int = 250) -> str:
    result = CliRunner().invoke(cli, list(args), env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    return result.stdout


def test_a_system_whose_power_is_derived_is_flagged_power_derived_and_widens_nothing() -> None:
    """The Atlas 800 A3's 11.65 kW is CloudMatrix 384's all-in 559 kW / 384 x 8 (its UB switches and optics a
    stand-alone node lacks included), an HGX H800's and A800's their DGX H100's and A100's maxima: each 'derived' in
    `parity show`, and each flagged so in compare; a datasheet figure (HGX H200's 10.2 kW) is not, and an assumed one
    (HGX H20's 8 x 400 W x 1.82 = 5.824 kW) keeps its 'power assumed' alone. The flag is about the per-kW figure,
    not the per-chip rate: its interval is not widened (widen 1)."""
    (a3,) = system_power_flags(catalog.system("atlas-800-a3"))
    assert (a3.kind, a3.brief, a3.widen) == ("power derived", "power derived", 1.0)
    assert a3.text.startswith("power derived: 11.65 kW per atlas-800-a3 (parity arithmetic: SemiAnalysis "
                              "CloudMatrix384 all-in 559 kW / 384 NPUs x 8 = 11.65 kW per 8-NPU node")
    assert a3.text.endswith("; parity show atlas-800-a3)")
    assert widening([a3]) == 1.0
    assert [f.text[:33] for s in ("hgx-h800", "hgx-a800") for f in system_power_flags(catalog.system(s))] == [
        "power derived: 10.2 kW per hgx-h8", "power derived: 6.5 kW per hgx-a80"]
    assert system_power_flags(catalog.system("hgx-h200")) == ()
    assert [f.kind for f in system_power_flags(catalog.system("hgx-h20"))] == ["power assumed"]
    # fleet's MW basis gives the same arithmetic (its record has no note of its own)
    assert power_text(catalog.system("atlas-800-a3")).startswith(
        "11.65 kW per atlas-800-a3 (derived: parity arithmetic: SemiAnalysis CloudMatrix384 all-in 559 kW")


def test_a_per_kw_interval_names_each_power_it_leaves_out_by_its_kind() -> None:
    assert _powers_text({"hgx-h20": "assumed"}) == "hgx-h20's assumed power"
    assert _powers_text({"hgx-a800": "derived", "hgx-h800": "derived"}) == "hgx-a800 and hgx-h800's derived power"
    assert _powers_text({"atlas-800-a3": "derived", "hgx-h20": "assumed"}) == (
        "atlas-800-a3's derived power and hgx-h20's assumed power")


@pytest.mark.e2e  # three compare searches (3-11 s on two shared cores)
def test_compare_says_power_derived_in_the_note_json_and_caption() -> None:
    args = ("compare", "atlas-800-a3", "hgx-h200", "--model", "llama-3.1-8b")
    rows = {r["system"]: r for r in json.loads(_run(*args, "--format", "json"))}
    assert "power derived" in rows["atlas-800-a3"]["note"].split("; ")
    assert any(f.startswith("power derived: 11.65 kW per atlas-800-a3") for f in rows["atlas-800-a3"]["flags"])
    assert not any("power" in f for f in rows["hgx-h200"]["flags"])
    caption = " ".join(_run(*args).split())
    assert "per kW (without the error of atlas-800-a3's derived power)" in caption
    assert ("else assumed on that basis: a server chips x TDP x 1.82, a liquid-cooled rack x 1.68; or derived from "
            "another system's published figure, where the note says 'power derived'") in caption
    assert ("'power derived': the system's power is parity's arithmetic on another system's published figure, not "
            "one published for it, which its per-kW figures rest on: 11.65 kW per atlas-800-a3 (parity arithmetic: "
            "SemiAnalysis CloudMatrix384 all-in 559 kW") in caption
    # a pair with no derived power says nothing of it
    assert "power derived" not in " ".join(_run("compare", "hgx-h200", "--model", "llama-3.1-8b").split())


def test_a_power_only_what_if_says_its_clocks_are_the_stock_tdps() -> None:
    """An H20 at half its TDP keeps the H20's peak rates and clocks (parity models no power-capped clocks): its
    assumptions and the caption's what-if line say so; a what-if that changes a peak rate, or no power, does not."""
    said = ("peak rates and clocks held at nvidia-h20's stock TDP (parity does not model power-capped clocks): a "
            "per-kW change is power arithmetic only")
    h20 = catalog.system("hgx-h20")
    assert held_clocks_note(h20) == ""
    faster = what_if(h20.chip, "2x bf16", peak_flop_per_s={**h20.chip.peak_flop_per_s,
                                                         "bf16": 2 * h20.chip.peak_flop_per_s["bf16"]})
    assert held_clocks_note(replace(h20, chip=what_if(faster, "half TDP", tdp_w=200.0))) == ""
    assert held_clocks_note(replace(h20, chip=what_if(h20.chip, "2x BW", memory_bytes_per_s=8e12))) == ""
    assert held_clocks_note(replace(h20, chip=what_if(h20.chip, "half TDP", tdp_w=200.0))) == said
    assert what_ifs_text([replace(h20, id="h20-half", chip=what_if(h20.chip, "tdp_w x0.5", tdp_w=200.0))]) == (
        f"h20-half: tdp_w x0.5 of nvidia-h20, {said}")


@pytest.mark.e2e  # two compare searches (3-8 s on two shared cores)
def test_a_power_only_what_if_keeps_its_rate_and_gains_per_kw_by_arithmetic(tmp_path: Path) -> None:
    """An H20 at half its TDP keeps the H20's throughput exactly (parity models no power-capped clocks), so its per
    kW rises by the power arithmetic alone: 5.824 kW / (5.824 kW - 8 x 200 W) = 1.3788x; compare says so in the
    row's assumptions and the caption."""
    spec = tmp_path / "v.toml"
    spec.write_text('[[variant]]\nname = "h20-half"\nchip = "nvidia-h20"\nscale = { tdp_w = 0.5 }\n')
    args = ("compare", "hgx-h20", "--variants", str(spec), "--model", "llama-3.1-8b")
    stock, half = json.loads(_run(*args, "--format", "json"))
    assert half["tokens_per_s_per_chip"] == stock["tokens_per_s_per_chip"]
    assert half["ratios"]["per_kw"] == pytest.approx(5.824 / 4.224)
    said = ("peak rates and clocks held at nvidia-h20's stock TDP (parity does not model power-capped clocks): a "
            "per-kW change is power arithmetic only")
    assert said in half["assumptions"] and said not in stock["assumptions"]
    assert (f"h20-half: tdp_w x0.5 of nvidia-h20 (system power 4.224 kW), {said}. ") in " ".join(_run(*args).split())


def test_fleets_served_caption_says_its_count_and_the_headroom_it_is_under() -> None:
    assert _served_text("output", 3.0, 0.0) == (
        "tokens/day served in trillions of output tokens (--count output): the daily-mean demand the fleet carries "
        "at peak factor 3 with no spare margin, its full-load tokens a day over 3.")
    assert _served_text("total", 2.0, 0.25).endswith("with capacity 1.25x the peak demand (25% spare margin), its "
                                                     "full-load tokens a day over 2.5.")


@pytest.mark.e2e  # four fleet searches (3 s on two shared cores)
def test_fleet_says_what_served_counts_and_that_it_is_the_daily_mean_demand_carried() -> None:
    """--units and --power-mw alone printed the same title and caption whether --count was total or output (2.04 or
    1.02 T tokens/day); and 'served' is the daily-mean demand the chips carry at the peak factor and spare margin, their
    full-load tokens a day over 2 x 1.1 = 2.2, which read as what they produce."""
    base = ("fleet", "--model", "llama-3.1-8b", "--chips", "h100", "--units", "8")
    total, output = (" ".join(_run(*base, "--count", c, columns=80).split()) for c in ("total", "output"))
    assert "Fleet for llama-3.1-8b: 8 chips (total tokens) at TPOT 50 ms, TTFT 5 s" in total
    assert "Fleet for llama-3.1-8b: 8 chips (output tokens) at TPOT 50 ms, TTFT 5 s" in output
    assert ("tokens/day served in trillions of prompt + output tokens (--count total): the daily-mean demand the "
            "fleet carries at peak factor 2 with capacity 1.1x the peak demand (10% spare margin), its full-load "
            "tokens a day over 2.2. Workload 1024 in / 1024 out;") in total
    assert "tokens/day served in trillions of output tokens (--count output)" in output
    power = " ".join(_run("fleet", "--model", "llama-3.1-8b", "--chips", "h100", "--power-mw", "1", "--spare", "0",
                          columns=80).split())
    assert "Fleet for llama-3.1-8b: 1 MW (total tokens) at" in power
    assert "at peak factor 2 with no spare margin, its full-load tokens a day over 2." in power
    (plan,) = json.loads(_run("fleet", "--model", "llama-3.1-8b", "--chips", "h100", "--power-mw", "1", "--format",
                              "json"))
    # served x 2.2 is what every deployed chip makes a day at the rate sized on (prompt + output: 2x the output)
    assert plan["served_tokens_per_day"] * 2.2 == pytest.approx(
        plan["tokens_per_s_per_chip"] * 2 * plan["chips"] * 86_400)
    # with a demand the title said the count already, once
    demand = " ".join(_run("fleet", "--model", "llama-3.1-8b", "--chips", "h100", "--demand", "1e9 tokens/day",
                           columns=80).split())
    assert "1e+09 tokens/day (total tokens) at TPOT" in demand and "(total tokens) (total tokens)" not in demand
