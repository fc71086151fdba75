"""What a what-if chip (a sweep's [[variant]], compare and fleet --variants) says of itself: the file a bad spec's
refusal names, its changes in a row's note and its power arithmetic (report-only tester fuzzCC, on five what-ifs of
the Ascend 910C in its Atlas 800 A3)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

import parity
from parity import catalog
from parity.cli import cli
from parity.cli.variants import what_ifs_text
from parity.fleet import power_text
from parity.hardware import per_die
from parity.sweep import Variant, spec_from_toml, variants_from_toml
from parity.uncertainty import power_flags, what_if_brief, what_if_flag

SPEC = """
[[variant]]
name = "910c-2x-bw"
chip = "huawei-ascend-910c"
scale = { memory_bytes_per_s = 2.0 }

[[variant]]
name = "910c-2x-mem"
chip = "huawei-ascend-910c"
scale = { memory_bytes = 2.0 }

[[variant]]
name = "910c-fp8"
chip = "huawei-ascend-910c"
values = { native = ["fp8"], peak_flop_per_s = { fp8 = 1.6e15 } }

[[variant]]
name = "910c-2x-scaleup"
chip = "huawei-ascend-910c"
scale = { scale_up_bytes_per_s = 2.0 }

[[variant]]
name = "910c-low-power"
chip = "huawei-ascend-910c"
scale = { tdp_w = 0.5 }
"""
AXES = """
[axes]
variant = ["910c-2x-bw"]
model = ["llama-3.1-70b"]
isl = [1024]
osl = [1024]
concurrency = [16]
"""


def _systems() -> dict:
    return {v.name: v.system() for v in variants_from_toml(tomllib.loads(SPEC), "parity compare")}


def _file(tmp_path: Path, text: str, name: str = "spec.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_every_bad_spec_names_its_file_and_an_unknown_chip_its_variant(tmp_path: Path) -> None:
    """`parity sweep` said 'unknown chip ...' alone, and no refusal of a [[variant]] named the file (only malformed
    TOML did), in sweep, compare --variants and fleet --variants alike (report-only tester fuzzCC 2)."""
    unknown = '[[variant]]\nname = "v1"\nchip = "huawei-ascend-999"\nscale = { memory_bytes_per_s = 2.0 }\n'
    said = ("parity: error: spec.toml: variant v1: chip: unknown chip 'huawei-ascend-999'; did you mean "
            "huawei-ascend-970, huawei-ascend-960, huawei-ascend-910c, huawei-ascend-910b?\n")
    path = _file(tmp_path, unknown + AXES.replace("910c-2x-bw", "v1"))
    for args in (["sweep", str(path), "--out", str(tmp_path / "out.csv")],
                 ["compare", "--variants", str(path), "--model", "llama-3.1-70b"],
                 ["fleet", "--variants", str(path), "--model", "llama-3.1-70b", "--demand", "1e12 tokens/day"]):
        result = CliRunner().invoke(cli, args)
        assert (result.exit_code, result.stderr) == (2, said), args
    result = CliRunner().invoke(cli, ["sweep", str(_file(tmp_path, SPEC.replace("= 2.0", "= -2.0", 1) + AXES)),
                                      "--out", str(tmp_path / "out.csv")])
    assert result.stderr == ("parity: error: spec.toml: variant 910c-2x-bw: scale.memory_bytes_per_s must be a number "
                             "in [1e-06, 1e+06] (a factor on the chip's value), got -2.0\n")
    result = CliRunner().invoke(cli, ["sweep", str(_file(tmp_path, SPEC + AXES.replace("[16]", "[-16]"))), "--out",
                                      str(tmp_path / "out.csv")])
    assert result.stderr == "parity: error: spec.toml: sweep axis concurrency = -16: must be a whole number >= 1, got -16\n"


@pytest.mark.parametrize(("head", "said"), [
    ("samples = 3", "[sweep] samples applies to random mode only (mode = \"random\"); grid mode runs every case: leave "
                    "it out, or give mode = \"random\""),
    ("mode = \"grid\"\nseed = 7", "[sweep] seed applies to random mode only (mode = \"random\"); grid mode runs "
                                  "every case: leave it out, or give mode = \"random\""),
    ("samples = 3\nseed = 7", "[sweep] samples and seed apply to random mode only (mode = \"random\"); grid mode runs "
                              "every case: leave them out, or give mode = \"random\"")])
def test_samples_and_seed_are_refused_in_grid_mode(head: str, said: str) -> None:
    """mode = "grid" (the default) with samples = 3 ran the whole grid without a word: a planner who meant random
    mode got every case (report-only tester fuzzCC 3). Random mode takes them."""
    with pytest.raises(parity.ParityError) as refused:
        spec_from_toml(tomllib.loads(f"[sweep]\n{head}\n" + SPEC + AXES))
    assert str(refused.value) == said
    spec = spec_from_toml(tomllib.loads('[sweep]\nmode = "random"\nsamples = 1\nseed = 7\n' + SPEC + AXES))
    assert (spec.mode, spec.samples, spec.seed) == ("random", 1, 7)


def test_a_what_ifs_power_arithmetic_adds_up_as_printed() -> None:
    """Half the 910C's TDP: the Atlas 800 A3's 11.65 kW less 8 x 400 W is 8.45 kW, which read '11.7 kW - 8 x 400 W'
    (11.7 - 3.2 = 8.5: report-only tester fuzzCC 4); half the H20's: 5.824 kW - 8 x 200 W = 4.224 kW (it read
    '4.22 kW' from '5.82 kW - 8 x 200 W'). The catalog's own assumed power keeps three figures."""
    low = _systems()["910c-low-power"]
    assert [f.text for f in power_flags(low)] == [
        "power assumed: 8.45 kW per 910c-low-power (11.65 kW - 8 x 400 W less chip power)"]
    assert power_text(low) == "8.45 kW per 910c-low-power (assumption: 11.65 kW - 8 x 400 W less chip power)"
    half = Variant(name="h20-half", chip="nvidia-h20", scale={"tdp_w": 0.5}).system()
    assert [f.text for f in power_flags(half)] == [
        "power assumed: 4.224 kW per h20-half (5.824 kW - 8 x 200 W less chip power)"]
    assert [f.text for f in power_flags(catalog.system("hgx-h20"))] == [
        "power assumed: 5.82 kW per hgx-h20 (8 x 400 W x 1.82)"]


def test_the_systems_power_is_a_clause_of_its_own_after_the_chips_changes() -> None:
    """The flag read 'tdp_w x0.5; 11.7 kW - 8 x 400 W less chip power of huawei-ascend-910c': the system's power note
    spliced into 'CHANGES of CHIP' (report-only tester fuzzCC 5)."""
    low = _systems()["910c-low-power"]
    assert what_if_flag(low).text == (
        "what-if: tdp_w x0.5 of huawei-ascend-910c; system power 8.45 kW (11.65 kW - 8 x 400 W less chip power), "
        "priced with huawei-ascend-910c's calibration (nothing measured the what-if)")
    assert what_ifs_text([low]) == ("910c-low-power: tdp_w x0.5 of huawei-ascend-910c; system power 8.45 kW "
                                    "(11.65 kW - 8 x 400 W less chip power)")


def test_a_what_ifs_note_says_what_changed() -> None:
    """A row's note read 'what-if' alone where no spec ratio shows the change (a scale-up link, an FP8 unit at the
    INT8 rate: 8-bit x 1.00x), and at 80 columns only BF16 x shows (report-only tester fuzzCC 6): the note names each
    change as a factor on the catalog chip's figure, or the unit gained. One rank per die says the same; a Python
    what_if is read from its fields, whatever its own note says."""
    systems = _systems()
    assert {name: what_if_flag(s).brief for name, s in systems.items()} == {
        "910c-2x-bw": "what-if: BW x2", "910c-2x-mem": "what-if: memory x2", "910c-fp8": "what-if: fp8 unit added",
        "910c-2x-scaleup": "what-if: scale-up x2", "910c-low-power": "what-if: TDP x0.5"}
    assert what_if_brief(per_die(systems["910c-2x-bw"])) == "BW x2"
    h20 = catalog.chip("h20")
    node = catalog.system("hgx-h20")
    faster = parity.what_if(h20, "2x bandwidth", memory_bytes_per_s=2 * h20.memory_bytes_per_s)
    assert what_if_brief(node.__class__(**{**_fields(node), "chip": faster})) == "BW x2"
    halved = Variant(name="v", chip="h20", values={"peak_flop_per_s": {"fp8": 1.48e14, "int8": 1.48e14}}).system()
    slower = Variant(name="v", chip="h20", scale={"peak_flop_per_s": 0.5}).system()
    assert (what_if_brief(halved), what_if_brief(slower)) == ("fp8 x0.5; int8 x0.5", "peak rates x0.5")


def _fields(node: object) -> dict:
    return {name: getattr(node, name) for name in node.__dataclass_fields__}  # type: ignore[attr-defined]


def test_a_what_ifs_note_keeps_its_words_whole_at_80_columns(tmp_path: Path) -> None:
    """The H20 with twice its scale-up bandwidth: its note says so ('what-if: scale-up x2'; no spec ratio moves), each
    word whole in the table at 80 columns."""
    path = _file(tmp_path, '[[variant]]\nname = "h20-2x-up"\nchip = "nvidia-h20"\n'
                           'scale = { scale_up_bytes_per_s = 2 }\n')
    args = ["compare", "--variants", str(path), "--model", "llama-3.1-8b"]
    out = CliRunner().invoke(cli, args, env={"COLUMNS": "80"}).output
    rows = json.loads(CliRunner().invoke(cli, [*args, "--format", "json"]).stdout)
    assert rows[1]["note"].startswith("what-if: scale-up x2; ") and max(len(line) for line in out.splitlines()) <= 80
    assert {"what-if:", "scale-up", "x2;"} <= set(out.split()), out
    assert [line.split()[-3:] for line in out.splitlines() if line.startswith("h20-2x-up")] == [
        ["what-if:", "scale-up", "x2;"]]
