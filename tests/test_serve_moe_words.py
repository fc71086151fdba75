"""What `serve` says of an MoE deployment: a steady run's clients beyond the simulator's limit, a disaggregated
deployment's whole workers, a given MTP acceptance, a fixed-batch step's formats and notes (report-only tester DC
2-5)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from parity.cli import cli

R1_B200 = ["serve", "--model", "deepseek-r1", "--system", "hgx-b200", "--engine", "trtllm", "--tp", "8",
           "--moe-ep", "8"]


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env={"COLUMNS": "80"})
    return result.exit_code, result.output


def test_a_steady_run_is_not_held_to_the_simulators_request_limit() -> None:
    """200,000 clients are 2,000,000 simulated requests, more than the simulator runs (1,000,000); the steady model
    replays none, yet it was refused with advice to use the steady model. It runs, its clients echoed."""
    code, output = _invoke("serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--concurrency", "200000",
                           "--model-kind", "steady", "--format", "json")
    assert code == 0 and json.loads(output)["concurrency"] == 200000


def test_a_steady_disaggregated_run_says_its_whole_workers() -> None:
    """128 GB200 chips could be 12 prefill + 1 decode, 8 + 2 or 4 + 3 workers; the note and the table said only the
    workers' sizes. The note says each count as the simulated note does, and the table has a workers row."""
    code, output = _invoke("serve", "--model", "deepseek-r1", "--system", "gb200-nvl72", "--engine", "trtllm",
                           "--mode", "disagg", "--tp", "1", "--attn-dp", "8", "--moe-ep", "8", "--decode-attn-dp",
                           "32", "--decode-tp", "1", "--decode-moe-ep", "32", "--concurrency", "2048", "--isl", "8192",
                           "--osl", "1024", "--model-kind", "steady")
    assert code == 0
    lines = output.splitlines()
    assert "workers 12 prefill + 1 decode".split() in [line.split() for line in lines]  # however wide the value
    assert max(len(line) for line in lines) <= 80
    words = " ".join(output.split())  # the caption wrapped at 80 columns, whole words
    assert ("disaggregated: 12 prefill workers of 8 chips + 1 decode worker of 32 chips (128 chips; decode workers "
            "sized for 776 clients per rank; prefill workers sized for 53% utilisation)") in words


def test_a_given_mtp_acceptance_is_echoed() -> None:
    """--mtp 3 --mtp-acceptance 1.8 priced TPOT 3.38 ms against 7.60 ms without MTP, and no note named it; a
    defaulted acceptance cites its source."""
    code, output = _invoke(*R1_B200, "--concurrency", "1", "--mtp", "3", "--mtp-acceptance", "1.8", "--model-kind",
                           "steady", "--format", "json")
    note = json.loads(output)["note"]
    assert code == 0 and "; MTP: 3 draft tokens a step, 1.8 accepted (given); " in note
    assert "MTP acceptance" not in note


def test_a_decode_step_names_its_formats_and_says_its_mtp_acceptance_once() -> None:
    """--phase decode --weights nvfp4: the step and memory fell, and no output named the format; with --mtp 3 the
    acceptance was said twice, and the note spoke of prompt attention, which a decode step has none of."""
    code, output = _invoke(*R1_B200, "--phase", "decode", "--batch", "8", "--context", "1024", "--weights", "nvfp4",
                           "--mtp", "3")
    assert code == 0 and "weights / KV cache           nvfp4 / fp8" in output.splitlines()
    code, output = _invoke(*R1_B200, "--phase", "decode", "--batch", "8", "--context", "1024", "--weights", "nvfp4",
                           "--mtp", "3", "--format", "json")
    data = json.loads(output)
    assert (data["weights"], data["moe_weights"], data["kv_cache"], data["mtp_tokens"]) == ("nvfp4", "nvfp4", "fp8", 3)
    note = data["note"]
    assert note.count("1.82") == 2 and "MTP acceptance: 1.82 of 3 kept a step" in note  # its source says 0.92, 1.58
    assert "accepted on average" not in note and "MLA prompt attention" not in note


def test_a_prefill_step_leaves_out_the_decode_notes() -> None:
    """--mla-decode unabsorbed prices decode steps alone: a prefill step does not say it, a decode step does; the
    prompt attention's fp8 note is the prefill step's."""
    args = (*R1_B200, "--batch", "2", "--mla-decode", "unabsorbed", "--format", "json")
    code, output = _invoke(*args, "--phase", "prefill", "--isl", "1024")
    note = json.loads(output)["note"]
    assert code == 0 and "MLA decode unabsorbed" not in note and "MLA prompt attention in fp8" in note
    code, output = _invoke(*args, "--phase", "decode", "--context", "1024")
    note = json.loads(output)["note"]
    assert code == 0 and "MLA decode unabsorbed (K/V expanded per head each step)" in note
