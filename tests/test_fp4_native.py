"""A bare `fp4` is the chip's own 4-bit format: NVFP4 on Blackwell, MXFP4 on the MI355X, NVFP4 emulated elsewhere."""

from __future__ import annotations

import pytest

from parity import catalog
from parity.cli.values import formats_text
from parity.compare import compare_formats
from parity.dtypes import format_named, format_on, refuse_repeated_formats
from parity.errors import ParityError
from parity.predict.scenario import scenario_from_row
from parity.search import best_precision


@pytest.mark.parametrize(("system", "expected"), [("mi355x-platform", "mxfp4"), ("hgx-b200", "nvfp4"),
                                                  ("hgx-h100", "nvfp4"), ("atlas-350-server", "mxfp4")])
def test_fp4_reads_as_the_chips_own_format(system: str, expected: str) -> None:
    chip = catalog.system(system).chip
    assert format_on("FP4", chip.native).name == expected
    assert best_precision(catalog.model("llama-3.1-70b"), chip, "fp4").weights == expected


def test_fp4_rows_name_the_format_they_read() -> None:
    row = {"model": "llama-3.1-70b", "weights": "fp4", "tp": "1", "concurrency": "16", "isl": "1024", "osl": "1024"}
    amd = scenario_from_row(row | {"system": "mi355x-platform"})
    assert (amd.precision.weights, amd.precision.expert_weights) == ("mxfp4", "mxfp4")
    assert amd.notes == ("fp4 weights read as mxfp4, the chip's own; KV cache bf16 (engine default)",)
    hopper = scenario_from_row(row | {"system": "hgx-h100"})
    assert hopper.precision.weights == "nvfp4"
    assert hopper.notes[-1] == ("fp4 weights read as nvfp4, the chip having none of nvfp4, mxfp4; KV cache bf16 "
                                "(engine default)")


def test_fp4_is_known_and_its_own_name_among_formats() -> None:
    assert format_named("fp4").name == "nvfp4"  # with no chip to read it on
    with pytest.raises(ParityError) as err:
        format_named("fp5")
    assert str(err.value).endswith("int4, w8a16, w4a8, fp4 (the chip's nvfp4 or mxfp4)")
    assert refuse_repeated_formats(["fp4", "mxfp4", "nvfp4"], "each format is shown once") == ("fp4", "mxfp4", "nvfp4")
    with pytest.raises(ParityError, match=r"^fp4 named twice \(FP4, fp4\): each format is shown once$"):
        refuse_repeated_formats(["FP4", "fp4"], "each format is shown once")
    assert formats_text("fp4").startswith("fp4 weights on every chip (--weights), each chip's own: nvfp4 where it has "
                                          "it, else mxfp4, as the format column says, and an FP8 KV cache")


@pytest.mark.parametrize(("shown", "said"), [
    # hgx-b200, mi355x-platform and atlas-800-a3 (the 910C has neither: NVFP4 on its BF16 units)
    ([("nvfp4", ""), ("mxfp4", ""), ("nvfp4", "bf16")],
     "each chip's own: nvfp4 where it has it, else mxfp4, else nvfp4 emulated"),
    ([("nvfp4", ""), ("nvfp4", "bf16")], "each chip's own: nvfp4 where it has it, else nvfp4 emulated"),
    ([("mxfp4", "")], "each chip's own: mxfp4 where it has it"),
    ([("nvfp4", "bf16")], "no chip here has nvfp4 or mxfp4: nvfp4 emulated"),
])
def test_a_bare_fp4_caption_says_only_the_formats_its_rows_run(shown: list[tuple[str, str]], said: str) -> None:
    """compare's caption said 'nvfp4 where it has it, else mxfp4' above an atlas-800-a3 row of 'nvfp4 on bf16'."""
    assert formats_text("fp4", shown=shown).startswith(f"fp4 weights on every chip (--weights), {said}, as the format "
                                                       "column says, and an FP8 KV cache")


@pytest.mark.e2e  # a search, ~0.45 s
def test_formats_shows_a_format_fp4_reads_as_once() -> None:
    rows = compare_formats([catalog.system("mi355x-platform")], catalog.model("qwen3-0.6b"), catalog.engine("generic"),
                           ("fp4", "mxfp4"))
    assert [(r.format, r.runs_on) for r in rows] == [("mxfp4", "native fp4")]


@pytest.mark.e2e  # two searches, ~0.8 s
def test_compare_s_caption_names_the_emulated_fp4_of_a_chip_with_neither() -> None:
    from click.testing import CliRunner  # noqa: PLC0415

    from parity.cli import cli  # noqa: PLC0415

    out = CliRunner().invoke(cli, ["compare", "hgx-b200", "atlas-800-a3", "--model", "qwen3-0.6b", "--weights", "fp4",
                                   "--processes", "1", "--isl", "256", "--osl", "128"], env={"COLUMNS": "200"}).output
    assert "each chip's own: nvfp4 where it has it, else nvfp4 emulated, as the format column says" in " ".join(
        out.split())
