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
    said = f"each request reaches the engine {ms} ms after it is sent (front end: engine server)"
    assert said in _note(model, "inferencex")


def test_without_a_front_end_the_profiles_overhead_is_named() -> None:
    ms = round(catalog.engine("trtllm").ttft_overhead_s * 1e3)
    assert f"each request reaches the engine {ms} ms after it is sent (the engine profile's ttft_overhead_s)" in \
        _note("llama-3.1-70b", "vllm")


def test_the_note_names_the_client_in_a_line_and_engines_clients_lists_the_sources() -> None:
    """A simulated note says what the client sent in a line (ClientProfile.describe) and where its sources are;
    `parity engines --clients` lists every profile with that line and its whole source, front end included."""
    from parity.simulate import CLIENT_PROFILES
    note = _note("llama-3.1-70b", "inferencex")
    assert ("requests from client profile inferencex (10 prompts a client, lengths uniform in [0.8, 1] x nominal, "
            "first wave scored, front end engine server; sources: parity engines --clients)") in note
    assert CLIENT_PROFILES["inferencex"].source not in note
    out = CliRunner().invoke(cli, ["engines", "--clients", "--format", "json"])
    assert out.exit_code == 0, out.output
    listed = {r["client"]: r for r in json.loads(out.stdout)}
    assert set(listed) == set(CLIENT_PROFILES)
    for name, profile in CLIENT_PROFILES.items():
        assert listed[name]["sends"] == profile.describe() and listed[name]["source"].startswith(profile.source)
    assert listed["aiconfigurator"]["front_end_s"] == "trtllm 60 ms"
    assert "front end dynamo: " in listed["aiconfigurator"]["source"]
    bad = CliRunner().invoke(cli, ["engines", "vllm", "--clients"])
    assert bad.exit_code == 2 and "give it alone" in bad.output
