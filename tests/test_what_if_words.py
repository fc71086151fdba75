"""What a what-if chip (a sweep's [[variant]], compare and fleet --variants) says of itself: the file a bad spec's
refusal names (report-only tester fuzzCC, on five what-ifs of the Ascend 910C in its Atlas 800 A3)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

import parity
from parity.cli import cli
from parity.sweep import spec_from_toml, variants_from_toml

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