"""A chip or system file of the user's holding a figure no accelerator has (a unit prefix typed wrong), a link with no
direction, a format name parity does not know, a zero rate, a system drawing less than its chips, or a name that is
not its file's, is refused in one line naming the file and the key, exit 2 (report-only tester fuzzER 1-6: each was
read and priced)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from parity import catalog
from parity.catalog.plausible import NATIVE_NAMES
from parity.cli import cli
from parity.units import reprefixed, unit_slip

CHIP, POD = "chips/nova-x1.toml", "systems/nova-pod16.toml"
_KNOWN = "known: fp32, bf16, fp16, fp8, mxfp8, hif8, int8, nvfp4, mxfp4, mxfp6, fp64, tf32, int4"
_DIRECTIONS = ("add direction = one of 'bidirectional', 'unidirectional', 'unstated' (bidirectional and unstated "
               "figures are halved to the per-direction rate)")

# (file, text in it, what it becomes, the refusal after '{file}: '); the catalog's least and greatest of each figure
# (768 GB/s: the MTT S4000's bandwidth; 22 TB/s, 288 GB, 16.7 PFLOP/s of FP8, 1.8 kW: Rubin's) bound it 1/100 to 100x
CASES = [
    # 1: unit slips and absurd figures, each with the prefix that brings it within
    (CHIP, '"4 TB/s"', '"3.7 B/s"', "memory.bandwidth = '3.7 B/s' is 4.8e-12 x the least of parity's chips "
     "(moorethreads-mtt-s4000's 768 GB/s), under 1/100 of it; a unit slip? e.g. '3.7 TB/s'"),
    (CHIP, '"4 TB/s"', '"3.7 PB/s"', "memory.bandwidth = '3.7 PB/s' is 168 x the greatest of parity's chips "
     "(nvidia-rubin's 22 TB/s), beyond 100 times it; a unit slip? e.g. '3.7 TB/s'"),
    (CHIP, '"144 GB"', '"128 TB"', "memory.capacity = '128 TB' is 444 x the greatest of parity's chips "
     "(nvidia-rubin's 288 GB), beyond 100 times it; a unit slip? e.g. '128 GB'"),
    (CHIP, '"2400 TFLOP/s"', '"1835 PFLOP/s"', "peak.fp8 = '1835 PFLOP/s' is 110 x the greatest of parity's chips "
     "(nvidia-rubin's 16.7 PFLOP/s), beyond 100 times it; a unit slip? e.g. '1835 TFLOP/s'"),
    (CHIP, '"800 W"', '"800 kW"', "power.tdp = '800 kW' is 444 x the greatest of parity's chips (nvidia-rubin's "
     "1.8 kW), beyond 100 times it; a unit slip? e.g. '800 W'"),
    (CHIP, '"800 GB/s", direction', '"800 TB/s", direction', "interconnect.scale_up = '800 TB/s' is 400 x the greatest "
     "of parity's chips (huawei-ascend-970's 2 TB/s), beyond 100 times it; a unit slip? e.g. '800 GB/s'"),
    # a narrower format's rate beyond 50x bf16 (9 TFLOP/s of bf16, 1,200 meant): within the span, so the ratio says it
    (CHIP, '"1200 TFLOP/s"', '"9 TFLOP/s"', "peak.fp8 = '2400 TFLOP/s' is 267 x peak.bf16 = '9 TFLOP/s', beyond the "
     "50 x a narrower format can reach: a unit slip in one of them?"),
    # 2: a link figure with no direction (1,200 GB/s was stored as per direction)
    (CHIP, 'direction = "unidirectional", source = "nova-brief" }\nscale_out', 'source = "nova-brief" }\nscale_out',
     f"interconnect.scale_up says no direction: {_DIRECTIONS}"),
    (POD, "[power]", '[host]\nlink = { value = "64 GB/s", source = "nova-pod" }\n\n[power]',
     f"host.link says no direction: {_DIRECTIONS}"),
    # 3: a native name no format has (fp8 then ran emulated), and a rate no native format runs on
    (CHIP, '["bf16", "fp8"]', '["bf16", "fp8e4m3"]', f"native lists 'fp8e4m3', no format's unit; did you mean fp8? "
     f"{_KNOWN}"),
    (CHIP, '["bf16", "fp8"]', '["bf16", "fp7"]', f"native lists 'fp7', no format's unit; did you mean fp8? {_KNOWN}"),
    (CHIP, '["bf16", "fp8"]', '["bf16", "fp4"]', "native lists 'fp4', no format's unit; did you mean nvfp4 or mxfp4? "
     f"{_KNOWN}"),
    (CHIP, '["bf16", "fp8"]', '["bf16"]', "peak.fp8 is given but native lists no format that runs on it (fp8 or "
     "mxfp8 or hif8): add the chip's to [native] value, or leave the rate out (a rate no native format runs on changes "
     "nothing)"),
    # 4: a zero rate as a negative one, and a chip with no bf16 math
    (CHIP, '"2400 TFLOP/s"', '"0 TFLOP/s"', "peak.fp8 = '0 TFLOP/s' must be positive (leave out a format the chip has "
     "no unit for)"),
    (CHIP, '"2400 TFLOP/s"', '"-1 TFLOP/s"', "peak.fp8 = '-1 TFLOP/s' must be positive (leave out a format the chip "
     "has no unit for)"),
    (CHIP, 'bf16 = { value = "1200 TFLOP/s", source = "nova-brief" }\n', "", "the chip has no bf16 math, and parity "
     "runs every model's activations and attention in bf16: give [peak] bf16 (its BF16/FP16 matrix rate) with bf16 in "
     "[native], or fp32 with fp32 in [native] to emulate it on"),
    # 5: a system drawing less than its chips (per-kW figures ballooned 13x)
    (POD, '"16 kW"', '"1 kW"', "power.system = '1 kW' is under its chips' TDP (16 x 800 W of nova-x1 = 12.8 kW): a "
     "system draws its chips' power and its host's, network's and cooling's beside"),
    # 6: a file not named by its id, a count given as text
    (CHIP, 'id = "nova-x1"', 'id = "nova-x2"', "the file holds chip 'nova-x2' but is named nova-x1.toml; name it "
     "nova-x2.toml (a chip's file is chips/ID.toml)"),
    (POD, 'id = "nova-pod16"', 'id = "nova-pod"', "the file holds system 'nova-pod' but is named nova-pod16.toml; "
     "name it nova-pod.toml (a system's file is systems/ID.toml)"),
    (POD, "chips = { value = 16,", 'chips = { value = "16",', "chips must be a number, not text: value = 16, got '16'"),
]


@pytest.mark.parametrize(("name", "old", "new", "says"), CASES, ids=[c[3][:40] for c in CASES])
def test_an_implausible_file_is_refused_in_one_line(home: Path, name: str, old: str, new: str, says: str) -> None:
    path = home / name
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new, 1))
    result = CliRunner().invoke(cli, ["systems"])
    assert (result.exit_code, result.stderr) == (2, f"parity: error: {path}: {says}\n")


def test_a_system_with_no_link_bandwidth_is_refused(home: Path) -> None:
    """A chip file without [interconnect], in a system stating no bandwidth either: compare broke on numpy's 'argmin of
    an empty sequence' (report-only tester fuzzER, found again by fixer2); the system is refused naming the link."""
    chip = home / CHIP
    text = chip.read_text()
    start = text.index("[interconnect]")
    chip.write_text(text[:start] + text[text.index("[power]", start):])
    result = CliRunner().invoke(cli, ["systems"])
    assert (result.exit_code, result.stderr) == (2, f"parity: error: {home / POD}: interconnect.scale_up: neither this "
                                                    "file nor chip nova-x1's states a scale-up bandwidth (parity lays "
                                                    "layouts over both links)\n")


def test_every_catalog_chip_lists_known_formats_and_the_example_loads(home: Path) -> None:
    """The names the catalog's chips list are NATIVE_NAMES (so none of its files is refused), and the example pair,
    within every span, loads as it is."""
    assert {name for chip in catalog.chips() for name in chip.native} == set(NATIVE_NAMES)
    assert catalog.system("nova-pod16").power_w == 16e3


def test_a_slip_is_read_back_in_its_own_digits() -> None:
    """The power of 1,000 that brings a figure nearest the middle of a span (the geometric mean: 4.1 TB/s for 768 GB/s
    to 22 TB/s), and the figure with its prefix moved by it."""
    assert unit_slip(3.7, 7.68e9, 2.2e15) == 1e12 and unit_slip(3.7e15, 7.68e9, 2.2e15) == 1e-3
    assert unit_slip(4e12, 7.68e9, 2.2e15) == 1.0 and unit_slip(0.0, 7.68e9, 2.2e15) == 1.0
    assert [reprefixed(t, f) for t, f in [("3.7 B/s", 1e12), ("1835 PFLOP/s", 1e-3), ("144 TiB", 1e-3),
                                          ("400 Mb/s", 1e3), ("1 EB/s", 1e3), ("3 us", 1e3)]] == [
        "3.7 TB/s", "1835 TFLOP/s", "144 GiB", "400 Gb/s", "", ""]
