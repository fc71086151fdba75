"""The simulator keeps fixed-length closed loops in lockstep waves; measured TensorRT-LLM and vLLM runs break them up
by what parity does not model, so such a run's TTFT is flagged (fuzz, 2026-12-06: `vllm bench serve` at
--request-rate inf --max-concurrency 64 gave TTFT 1.82 s in waves with no flag, against 0.32 s for the default
client's drawn lengths). Which engines: those whose simulated steps mix prompt chunks into decodes, as these two do
(simulate.mixes_prompts), the generic profile too (fuzzEQ: Llama-3.1-70B at 32 clients of 1,024/1,024 on a B200 pair
read TTFT 0.675 s in waves, unflagged, against the steady model's 0.342 s); SGLang's keep prompt steps apart. Only
where the workers that take prompts also decode: a disaggregated run's never mix them (report-only tester fuzzES 3)."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
from click.testing import CliRunner

from parity import catalog
from parity.cli import cli
from parity.predict import lockstep_flag
from parity.simulate import Benchmark, client_profile

VLLM, TRTLLM, SGLANG, GENERIC = (catalog.engine(name) for name in ("vllm", "trtllm", "sglang", "generic"))


def _bench(client: str = "vllm", **options: object) -> Benchmark:
    return Benchmark(isl=1024, osl=1024, concurrency=64, client=client_profile(client), **options)


@pytest.mark.parametrize(("bench", "engine", "flagged"), [
    (_bench(), VLLM, True),  # vllm bench serve's fixed lengths, closed loop of 64 clients
    (_bench(request_rate=math.inf, max_concurrency=64, num_prompts=640), VLLM, True),  # her exact setup
    (_bench(), TRTLLM, True),
    (_bench(), SGLANG, False),  # SGLang's measured rows stay in waves, as simulated
    (_bench(), GENERIC, True),  # mixes prompts into decodes as vLLM does
    (_bench(), dataclasses.replace(VLLM, mixes_prefill=False), False),  # a row's separate_prefill: prompt steps apart
    (_bench(), dataclasses.replace(SGLANG, sim_separate_prefill=False), True),  # SGLang with --enable-mixed-chunk
    (_bench("aiconfigurator"), VLLM, False),  # lengths drawn from [0.8, 1] x nominal
    (_bench(request_rate=4.0), VLLM, False),  # an open loop at a rate: arrivals, not completions, set the sends
    (_bench(request_rate=math.inf, num_prompts=640), VLLM, False),  # all at once, uncapped: one wave
    (_bench(num_prompts=64), VLLM, False),  # one request a client: no second wave
])
def test_fixed_length_closed_loops_on_engines_that_break_waves_are_flagged(bench: Benchmark, engine, flagged: bool
                                                                            ) -> None:
    found = lockstep_flag(bench, engine, "agg")
    assert (found is not None) == flagged
    if found:
        assert found.kind == "lockstep waves"
        assert f"mix prompt chunks into decode steps, as {engine.id} does" in found.text


@pytest.mark.parametrize("engine", [VLLM, TRTLLM, GENERIC])
def test_a_disaggregated_run_is_never_flagged(engine) -> None:
    """The same fixed-length closed loop disaggregated: prefill workers decode nothing and decode workers take no
    prompt, so no step mixes prompt chunks into decodes."""
    assert lockstep_flag(_bench(), engine, "agg") is not None
    assert lockstep_flag(_bench(), engine, "disagg") is None
    assert lockstep_flag(_bench(request_rate=math.inf, max_concurrency=64, num_prompts=640), engine, "disagg") is None


@pytest.mark.e2e  # over 1.5 s: a disaggregated run simulated
def test_serve_disaggregated_at_fixed_lengths_raises_no_lockstep_flag() -> None:
    """`serve --mode disagg --engine vllm` at fixed lengths raised 'lockstep waves' (report-only tester fuzzES 3)."""
    result = CliRunner().invoke(cli, ["serve", "--model", "llama-3.1-8b", "--system", "hgx-h200", "--tp", "1", "--mode",
                                      "disagg", "--engine", "vllm", "--isl", "1024", "--osl", "128", "--concurrency",
                                      "16", "--random-range-ratio", "1", "--format", "json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    row = found[0] if isinstance(found, list) else found
    assert row["mode"] == "disagg" and not any(f.startswith("lockstep waves") for f in row["flags"])
