"""`parity compare --variants` (and `fleet --variants`): what-if chips of a sweep's [[variant]] tables priced at a
latency target beside the catalog systems."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from parity import catalog
from parity.cli import cli
from parity.cli.labels import system_label
from parity.compare import compare
from parity.flags import texts
from parity.fleet import SECONDS_PER_DAY, plan_fleet
from parity.sweep import Variant, variants_from_toml

BANDWIDTH = """
[[variant]]
name = "h20-2x-bw"
chip = "nvidia-h20"
scale = { memory_bytes_per_s = 2.0 }
"""
H100_BANDWIDTH = """
[[variant]]
name = "h100-2xbw"
chip = "nvidia-h100-sxm"
scale = { memory_bytes_per_s = 2 }
"""
EIGHT_BIT = """
[[variant]]
name = "h20-half-8bit"
chip = "nvidia-h20"
values = { peak_flop_per_s = { fp8 = 1.48e14, int8 = 1.48e14 } }
"""


def _file(tmp_path: Path, text: str, name: str = "variants.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _rows(*args: str) -> list[dict]:
    result = CliRunner().invoke(cli, ["compare", *args, "--model", "llama-3.1-70b", "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_twice_the_bandwidth_on_h20_buys_three_percent_at_50_ms(tmp_path: Path) -> None:
    """With no SYSTEMS the variant follows its chip's default system (hgx-h20), the baseline. Its row carries its
    own id, the datasheet ratio BW x 2.00 (the other spec ratios 1.00), and 759 / 738 = 1.03x per chip: on
    Llama-3.1-70B at TPOT 50 ms the H20's best configuration (agg tp1-pp4) is bound by its 296 TFLOP/s of FP8
    (738 tok/s/chip x 2,048 tokens a request / 1,024 output x 2 x 70.6e9 FLOP = 2.08e14 FLOP/s, 70% of peak, prompts
    included), so twice the bandwidth shortens only the weight and KV reads of each decode step: above 1, far
    below 2. The what-if is flagged (its changes in the flag and the caption), and has no serve line (serve runs
    catalog systems)."""
    base, variant = _rows("--variants", str(_file(tmp_path, BANDWIDTH)))
    assert (base["system"], variant["system"], variant["chip"], variant["baseline"]) == (
        "hgx-h20", "h20-2x-bw", "nvidia-h20", "hgx-h20")
    assert {k: round(v, 2) for k, v in variant["spec_ratios"].items()} == {
        "bf16": 1.0, "eight_bit": 1.0, "memory": 1.0, "bandwidth": 2.0, "power": 1.0, "system_bf16": 1.0,
        "system_memory": 1.0, "system_power": 1.0}
    assert (round(base["tokens_per_s_per_chip"]), round(variant["tokens_per_s_per_chip"])) == (738, 759)
    assert round(variant["ratios"]["per_chip"], 2) == 1.03
    assert variant["note"].startswith("what-if: BW x2; ")
    # 'calibrated' as compare's caption defines it: the H20 has published kernel figures; the what-if has none of its
    # own, only the H20's calibration (it read true)
    assert (base["calibrated"], variant["calibrated"]) == (True, False)
    assert variant["flags"][0] == ("what-if: memory_bytes_per_s x2 of nvidia-h20, priced with nvidia-h20's "
                                   "calibration (nothing measured the what-if)")
    # the base chip's calibration, found by the id it keeps, and said to be the base chip's: the what-if's line said
    # 'measured on this chip' as the H20's does (report-only tester fixNF 3)
    said = "GEMM and attention measured on {} (torch-h20-bf16-gemm, FlashMLA-h20-compute); the rest inherited from " \
           "nvidia-h200-sxm (hopper family)"
    calibrated = {a: b for a, b in zip(base["assumptions"], variant["assumptions"]) if a != b}
    figures = ("partly: fitted on {} (nvidia-h20-published rows torch-h20-bf16-gemm, FlashMLA-h20-compute): GEMM bf16, "
               "attention; inherited from nvidia-h200-sxm (nvidia-h200-sxm-measured, 503 microbenchmark points): GEMM "
               "fp8 (moved by the fits' ratios), HBM bandwidth, launch cost; measured on no chip: GEMM int8, "
               "collectives")
    assert calibrated == {f"calibration: {said.format('this chip')}": "calibration: the base chip nvidia-h20's, not "
                          f"the what-if's (nothing measured it): {said.format('nvidia-h20')}",
                          f"kernel figures: {figures.format('it')}": "kernel figures of the base chip nvidia-h20 "
                          f"(nothing measured the what-if): {figures.format('nvidia-h20')}"}
    assert len(variant["assumptions"]) == len(base["assumptions"])
    assert variant["serve_command"] == "" and "`parity sweep` with the same [[variant]]" in variant["serve_note"]
    assert base["serve_command"].startswith("parity serve ") and not base["flags"][0].startswith("what-if")


def test_half_the_8bit_rate_halves_what_h20_delivers(tmp_path: Path) -> None:
    """The same H20 with its FP8 and INT8 units at half their rate (148 TFLOP/s; halving FP8 alone leaves 8-bit x at
    1.00, the better of the two 8-bit rates): the compute-bound configuration above falls from 738 to 382
    tok/s/chip (on the same tp1-pp4), never above the base. Named by --baseline, the variant divides every ratio:
    hgx-h20 shows 8-bit x 2.00 and 738 / 382 = 1.93x per chip."""
    # named in any case, as variant names clash in any case (H20-HALF-8BIT was an unknown system)
    rows = _rows("hgx-h20", "--variants", str(_file(tmp_path, EIGHT_BIT)), "--baseline", "H20-Half-8bit")
    base, variant = rows
    assert round(variant["spec_ratios"]["eight_bit"], 2) == 1.0 and round(base["spec_ratios"]["eight_bit"], 2) == 2.0
    assert round(variant["tokens_per_s_per_chip"]) == 382 <= base["tokens_per_s_per_chip"]
    assert round(base["ratios"]["per_chip"], 2) == 1.93 and variant["layout"] == "tp1-pp4"
    assert {r["baseline"] for r in rows} == {"h20-half-8bit"}


def test_the_table_fits_80_columns(tmp_path: Path) -> None:
    out = CliRunner().invoke(cli, ["compare", "--variants", str(_file(tmp_path, BANDWIDTH)), "--model",
                                   "llama-3.1-70b"], env={"COLUMNS": "80"}).output
    assert "h20-2x-bw" in out and max(len(line) for line in out.splitlines()) <= 80
    assert "h20-2x-bw: memory_bytes_per_s x2 of nvidia-h20." in " ".join(out.split())  # the caption says what changed


def test_refine_simulates_the_variant(tmp_path: Path) -> None:
    """--refine runs the simulator on the variant's own system (not looked up in the catalog by its name)."""
    _, variant = _rows("--variants", str(_file(tmp_path, BANDWIDTH)), "--refine")
    assert variant["sim_case"].startswith("agg: 1 x tp1-pp4") and round(variant["sim_tokens_per_s_per_chip"]) > 738


def test_fleet_sizes_the_variant_beside_its_chip(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["fleet", "--variants", str(_file(tmp_path, BANDWIDTH)), "--model",
                                      "llama-3.1-70b", "--demand", "1e11 tokens/day", "--format", "json"])
    assert result.exit_code == 0, result.output
    plans = json.loads(result.stdout)
    assert [(p["system"], p["chips"]) for p in plans] == [("hgx-h20", 1728), ("h20-2x-bw", 1680)]
    assert plans[1]["note"].startswith("what-if: BW x2; ")


@pytest.mark.parametrize(("text", "said"), [
    (None, "cannot read"),
    ("[sweep]\nmode = 'grid'\n", "no [[variant]] table: a variants file holds [[variant]] tables"),
    ("[[variant]]\nname = 'v'\nchip = 'nvidia-h20'\nsclae = { memory_bytes = 2.0 }\n",
     "variant v: unknown key 'sclae' (did you mean 'scale'?)"),
    ("[[variant]]\nname = 'hgx-h100'\nchip = 'nvidia-h20'\n",
     "variant hgx-h100: the name is the catalog system hgx-h100's"),
    ("[[variant]]\nname = 'v'\nchip = 'nvidia-h20'\nscale = { unit_price_usd = 2.0 }\n",
     "variant v: scale.unit_price_usd would change nothing in parity compare: none of its columns reads a chip's "
     "price (parity fleet --variants reads it, in its cost_usd)"),
    ("[[variant]\n", "malformed TOML"),
    # a regression round: a name heads a table row (a 71-character or multi-line one broke 80 columns) and is a
    # string; a rate for a unit no native format runs on changed nothing; a roadmap chip's error named no variant
    ("[[variant]]\nname = 'an-h20-with-a-very-long-name'\nchip = 'nvidia-h20'\n",
     "variant name 'an-h20-with-a-very-long-name': a [[variant]] is named by a string of letters, digits, '.', '_' "
     "and '-', at most 24 characters"),
    ('[[variant]]\nname = "two\\nlines"\nchip = "nvidia-h20"\n', "variant name 'two\\nlines'"),
    ("[[variant]]\nname = 5\nchip = 'nvidia-h20'\n", "variant name 5:"),
    ("[[variant]]\nname = 'v'\nchip = 'nvidia-h20'\nvalues = { peak_flop_per_s = { fp4 = 1e15 } }\n",
     "variant v: values.peak_flop_per_s.fp4: chip nvidia-h20 runs no format natively on a fp4 unit, so serving would "
     "not read the rate"),
    ("[[variant]]\nname = 'v'\nchip = 'huawei-ascend-970'\nscale = { memory_bytes = 2.0 }\n",
     "variant v: no system in the catalog uses chip 'huawei-ascend-970'"),
])
def test_a_bad_variants_file_is_refused_in_one_line(tmp_path: Path, text: str | None, said: str) -> None:
    path = tmp_path / "missing.toml" if text is None else _file(tmp_path, text)
    result = CliRunner().invoke(cli, ["compare", "--variants", str(path), "--model", "llama-3.1-70b"])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and said in result.stderr, result.output


def test_a_whole_sweep_spec_is_taken(tmp_path: Path) -> None:
    """Its [axes] (which run the variant at a fixed concurrency) and [sweep] are not read."""
    spec = BANDWIDTH + "[sweep]\nmode = 'grid'\n[axes]\nvariant = ['h20-2x-bw']\nmodel = ['llama-3.1-8b']\n"
    assert [r["system"] for r in _rows("--variants", str(_file(tmp_path, spec)))] == ["hgx-h20", "h20-2x-bw"]



def test_fleet_prices_a_variant_at_its_chips_catalog_price_unless_it_sets_its_own() -> None:
    """A tester's round: `fleet --variants` priced 352 what-if H100s (2x bandwidth) at the H100's $27,500 ($9.68 M)
    and nothing said whose price it was, and values.unit_price_usd was refused as changing nothing. Llama-3.1-8B at
    1e10 tokens/day: 8 chips (one node) a kind, at $27,500 (flagged) or the variant's $60,000."""
    own = "[[variant]]\nname = 'h100-own-price'\nchip = 'nvidia-h100-sxm'\nscale = { memory_bytes_per_s = 2 }\n" \
          "values = { unit_price_usd = 60000 }\n"
    variants = variants_from_toml(tomllib.loads(H100_BANDWIDTH + own), "parity fleet", reads=("unit_price_usd",))
    catalog_priced, own_priced = plan_fleet(catalog.model("llama-3.1-8b"), [v.system() for v in variants],
                                            catalog.engine("generic"), 1e10 / SECONDS_PER_DAY, 0.05, 1024, 1024)
    assert (catalog_priced.chips, catalog_priced.cost_usd, catalog_priced.note) == (8, 220_000.0,
                                                                                    "what-if: BW x2; catalog price")
    assert "price: nvidia-h100-sxm's catalog price, not changed by the variant" in texts(catalog_priced.flags)
    assert (own_priced.chips, own_priced.cost_usd, own_priced.note) == (8, 480_000.0, "what-if: BW x2; price x2.18")
    assert own_priced.price_source == "$60,000 per chip, set by variant h100-own-price (assumption)"


def test_a_variants_label_names_the_variant_not_a_product() -> None:
    """A tester's round: compare's row of an H20 with twice the HBM read '8x HGX H20 96GB', the catalog chip's; then
    '8x H200 SXM 144GB' read as a real part (report-only tester fuzzDE 6). The label names the variant and the chip
    it varies, without a memory size the variant may change."""
    assert system_label(Variant(name="h20-2xhbm", chip="nvidia-h20", scale={"memory_bytes": 2.0}).system()) == \
        "8x h20-2xhbm (what-if of HGX H20)"
    assert Variant(name="b-96", chip="huawei-ascend-910b", values={"memory_bytes": 96e9}).system().chip.name == \
        "b-96 (what-if of Ascend 910B)"
    assert system_label(Variant(name="h20-2xbw", chip="nvidia-h20", scale={"memory_bytes_per_s": 2.0}).system()) == \
        "8x h20-2xbw (what-if of HGX H20)"


@pytest.mark.e2e
def test_a_shortfall_across_4_systems_is_per_chip_or_die_as_the_one_before_it() -> None:
    """'does not fit by 128.9 GB per chip (by 2.7 GB across 4 systems)' read as 2.7 GB over the fleet; both are a
    rank's (compare.memory_shortfall: bytes per chip of the smallest-footprint layout), so both say whose (report-only
    tester fixev2 3): DeepSeek-R1 in BF16 on MTT S4000s, and a 910C of 8 GB (a rank a die) on Llama-3.1-70B."""
    engine = catalog.engine("generic")
    (mtt,) = compare([catalog.system("mtt-s4000-8card")], catalog.model("deepseek-r1"), engine, weights="bf16")
    assert mtt.note == "does not fit by 128.9 GB per chip (by 2.7 GB per chip across 4 systems)"
    small = Variant(name="910c-small", chip="huawei-ascend-910c", values={"memory_bytes": 8e9}).system()
    (row,) = compare([small], catalog.model("llama-3.1-70b"), engine)
    assert row.note == "what-if: memory x0.0625; does not fit by 4.7 GB per die (by 1.2 GB per die across 4 systems)"


def test_a_variant_that_fits_nothing_still_says_what_if() -> None:
    """A tester's round: an H100 of 1 byte read only 'does not fit by 4.5 GB per chip ...' in compare, where every
    other variant row begins 'what-if'; fleet's row as well (100 kB: 1 byte is under 1e-6 of its 80 GB, refused)."""
    tiny = Variant(name="h100-tiny", chip="nvidia-h100-sxm", values={"memory_bytes": 1e5}).system()
    model, engine = catalog.model("llama-3.1-8b"), catalog.engine("generic")
    (row,) = compare([tiny], model, engine)
    assert row.note == ("what-if: memory x1.25e-06; does not fit by 4.5 GB per chip (by 3.6 GB per chip across 4 "
                        "systems)")
    assert texts(row.flags) == ["what-if: memory_bytes = 100 kB of nvidia-h100-sxm, priced with nvidia-h100-sxm's "
                                "calibration (nothing measured the what-if)"]
    (plan,) = plan_fleet(model, [tiny], engine, 1e6, 0.05, 1024, 1024)
    assert (plan.note, plan.cost_usd) == ("what-if: memory x1.25e-06; none of 378 configurations fits in memory", None)


def test_the_spec_caption_names_a_variant_by_its_own_name() -> None:
    """A variant keeps its catalog chip's id: the caption said the real H200 had assumed specs whenever a variant of it
    was compared beside it (report-only tester fuzzDE 2). Its figures are named by the variant's name; the H200's
    are datasheets'. A link the variant sets is per direction in its what-if words (fuzzDE 4)."""
    from parity.compare import spec_bases
    from parity.sweep import Variant

    nova = Variant(name="nova-x1", chip="nvidia-h200-sxm", values={
        "peak_flop_per_s": {"bf16": 1.2e15, "fp8": 2.4e15}, "memory_bytes": 144e9, "scale_up_bytes_per_s": 800e9})
    assert spec_bases([catalog.system("hgx-h200"), nova.system()]) == (
        "Spec ratios from the catalog's figures, a datasheet's except these chips' (source kinds; 'parity show CHIP' "
        "names each figure's; a what-if's: 'parity show NAME --variants FILE'): nova-x1 assumption")
    assert nova.changes_text().endswith("scale_up_bytes_per_s = 800 GB/s per direction")


def test_a_variants_peak_rates_are_its_assumption_in_the_spec_caption() -> None:
    """A what-if's rate table was recorded under 'peak_flop_per_s' while captions look up 'peak_flop_per_s.bf16',
    so a variant that changes only peak rates read as the catalog's ('h20-2xflops press', no h200-halfflops:
    report-only tester fuzzED 1). Each rate it changes is its assumption; one it keeps keeps its source (the fp4 rate
    h200-fp4 adds is no spec ratio's, its BF16 and 8-bit rates stay the datasheet's)."""
    from parity.compare import spec_bases
    from parity.sweep import Variant

    half = Variant(name="h200-halfflops", chip="nvidia-h200-sxm", scale={"peak_flop_per_s": 0.5}).system()
    fp4 = Variant(name="h200-fp4", chip="nvidia-h200-sxm",
                  values={"native": ["nvfp4"], "peak_flop_per_s": {"fp4": 3.958e15}}).system()
    flops = Variant(name="h20-2xflops", chip="nvidia-h20", scale={"peak_flop_per_s": 2.0}).system()
    assert spec_bases([catalog.system("hgx-h200"), half, fp4]) == (
        "Spec ratios from the catalog's figures, a datasheet's except these chips' (source kinds; 'parity show CHIP' "
        "names each figure's; a what-if's: 'parity show NAME --variants FILE'): h200-halfflops assumption")
    assert spec_bases([flops]).endswith("h20-2xflops press, assumption")  # its memory figures stay press
    assert {k: fp4.chip.source_of(f"peak_flop_per_s.{k}").source.kind for k in ("bf16", "fp8", "fp4")} == {
        "bf16": "datasheet", "fp8": "datasheet", "fp4": "assumption"}
    assert half.chip.source_of("peak_flop_per_s.bf16").quoted == "494.75 TFLOP/s"  # 989.5e12 / 2, with its unit


def test_show_finds_a_variant_in_its_file_and_names_its_figures_its_assumption(tmp_path: Path) -> None:
    """Captions send a reader to 'parity show CHIP' for each figure's source, but a variant is no catalog name: show
    refused it with 'did you mean nvidia-h200-sxm' (report-only tester fuzzED 2). With --variants FILE it shows the
    variant's chip, what it changes as its assumption, then its system; without, the refusal says so."""
    path = tmp_path / "v.toml"
    path.write_text('[[variant]]\nname = "h200-2xmem"\nchip = "nvidia-h200-sxm"\nscale = { memory_bytes = 2.0 }\n')
    refused = CliRunner().invoke(cli, ["show", "h200-2xmem"])
    assert refused.exit_code == 2 and refused.output.rstrip().endswith(
        "(a what-if's figures are its file's: 'parity show h200-2xmem --variants FILE')")
    result = CliRunner().invoke(cli, ["show", "H200-2xmem", "--variants", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    numbers = {row["field"]: row for row in shown["numbers"]}
    assert shown["id"] == "h200-2xmem" and shown["calibrated"] is False
    assert (numbers["memory_bytes"]["value"], numbers["memory_bytes"]["source_kind"]) == (282e9, "assumption")
    assert numbers["peak_flop_per_s.bf16"]["source_kind"] == "datasheet"
    assert numbers["system power_w"]["value"] == 10_200 and numbers["system memory_bytes"]["value"] == 8 * 282e9
    unknown = CliRunner().invoke(cli, ["show", "h200-x", "--variants", str(path)])
    assert unknown.exit_code == 2 and "v.toml: no variant 'h200-x'; its variants: h200-2xmem" in unknown.output


def test_show_quotes_a_what_ifs_figures_with_their_units(tmp_path: Path) -> None:
    """A what-if's rows of `parity show` read '141000000000.0' and '5760000000000.0' under "as quoted", where the
    catalog's rows read '141 GB' and '4.8 TB/s' (report-only tester fuzzEI 4): a what-if's figure is now quoted with
    its field's unit, to six significant figures (1.5 x 989.5 TFLOP/s = 1.48425 PFLOP/s)."""
    path = tmp_path / "v.toml"
    path.write_text('[[variant]]\nname = "h100-fast"\nchip = "nvidia-h100-sxm"\nscale = { peak_flop_per_s = 1.5 }\n'
                    '[[variant]]\nname = "h100-big"\nchip = "nvidia-h100-sxm"\n'
                    'values = { memory_bytes = 141e9, memory_bytes_per_s = 5.76e12, tdp_w = 1000, '
                    'compute_units = 140 }\n')
    quoted = {}
    for name in ("h100-fast", "h100-big"):
        result = CliRunner().invoke(cli, ["show", name, "--variants", str(path), "--format", "json"])
        assert result.exit_code == 0, result.output
        quoted |= {row["field"]: row["as_quoted"] for row in json.loads(result.output)["numbers"]
                   if row["source_kind"] == "assumption" and "what-if" in row["source"]}
    assert {k: quoted[k] for k in ("peak_flop_per_s.bf16", "memory_bytes", "memory_bytes_per_s", "tdp_w",
                                   "compute_units")} == {
        "peak_flop_per_s.bf16": "1.48425 PFLOP/s", "memory_bytes": "141 GB", "memory_bytes_per_s": "5.76 TB/s",
        "tdp_w": "1 kW", "compute_units": "140"}


def test_a_what_if_chips_ratio_band_is_twice_as_wide_in_log() -> None:
    """A what-if chip borrows the calibration of the catalog chip whose id it keeps: compare called it uncalibrated
    (`calibrated` false, 'nothing measured the what-if') but gave its ratio the catalog chip's band, 1.28-2.83 for an
    H100 at twice its BF16 rate on Llama-3.1-8B training, where the caption's rule gives 1.02-3.55 (report-only
    tester fuzzCD 1). By hand: NVIDIA's serving band [-0.091185, 0.212845] is twice as wide in log around its centre."""
    from parity import catalog
    from parity.compare import vendor_bands
    from parity.hardware import what_if
    from parity.uncertainty import WIDEN_FLAGGED, ratio_band
    h100 = catalog.chip("nvidia-h100-sxm")
    faster = what_if(h100, "2x bandwidth", memory_bytes_per_s=2 * h100.memory_bytes_per_s)
    band, cal = vendor_bands()["NVIDIA"], catalog.calibration(h100)
    assert ratio_band(band, h100, cal) == band
    wide = ratio_band(band, faster, cal)
    assert WIDEN_FLAGGED == 2.0 and wide.q_high - wide.q_low == pytest.approx(2 * (band.q_high - band.q_low))
    assert wide.q_low + wide.q_high == pytest.approx(band.q_low + band.q_high)
