"""`parity search` runs a system as `compare` does: the engine as fitted on the chip's software stack (vllm on ROCm
runs vllm-rocm) and a multi-die package one rank per die, rates per package; so the two agree on a system's best."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from parity.cli import cli


def _json(*args: str) -> object:
    result = CliRunner().invoke(cli, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize(("system", "engine", "per_chip"), [
    ("mi300x-platform", "vllm", 1528),  # search priced the CUDA vllm profile: 2,894
    ("atlas-800-a3", "generic", 1080),  # search ran one rank per package: 1,270
])
def test_search_and_compare_agree_on_the_best(system: str, engine: str, per_chip: int) -> None:
    """Llama-3.1-70B at TPOT 50 ms, TTFT 5 s."""
    (row,) = _json("compare", system, "--model", "llama-3.1-70b", "--engine", engine, "--processes", "1")
    best = _json("search", "--model", "llama-3.1-70b", "--system", system, "--engine", engine, "--ttft", "5s",
                 "--refine", "0")["best"]  # type: ignore[index]
    assert round(row["tokens_per_s_per_chip"]) == round(best["tokens_per_s_per_chip"]) == per_chip
    assert row["clients_per_worker"] == best["concurrency"]
