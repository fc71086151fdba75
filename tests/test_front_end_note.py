"""A simulated prediction says what its client's front end adds to each request before the engine sees it:
InferenceX's engine server (trtllm-serve) adds TensorRT-LLM's fitted 70 ms on an MLA model (DeepSeek-R1) and
nothing on Llama; a client without a front end keeps the engine profile's own ttft_overhead_s."""

import json

import pytest
from click.testing import CliRunner

from parity import catalog
from parity.cli import cli


def _note(model: str, client: str) -> str:
    out = CliRunner().invoke(cli, ["serve", "--model", model, "--system", "hgx-b200", "--engine", "trtllm", "--tp", "8",
                                   "--isl", "128", "--osl", "8", "--concurrency", "1", "--client", client,
                                   "--format", "json"])
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout)["note"]


@pytest.mark.parametrize(("model", "ms"), [("deepseek-r1", 70), ("llama-3.1-70b", 0)])
def test_the_engine_server_states_its_per_request_time(model: str, ms: int) -> None:
    said = f"each request reaches the engine {ms} ms after it is sent (front end: InferenceX"
    assert said in _note(model, "inferencex")


def test_without_a_front_end_the_profiles_overhead_is_named() -> None:
    ms = round(catalog.engine("trtllm").ttft_overhead_s * 1e3)
    assert f"each request reaches the engine {ms} ms after it is sent (the engine profile's ttft_overhead_s)" in \
        _note("llama-3.1-70b", "vllm")
