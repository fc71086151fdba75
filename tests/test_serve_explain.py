"""serve --explain: the decode step's breakdown is the step the summary prices (MTP drafts in), and every text
format shows both breakdown tables."""

from __future__ import annotations

from pathlib import Path

import json
import pytest
from click.testing import CliRunner

from parity.cli import cli
from parity.plan import Layout
from parity.predict import Case, deployment, scenario_of
from parity.step import decode_breakdown, decode_step

R1_MTP = ("serve", "--model", "deepseek-r1", "--system", "hgx-b200", "--engine", "trtllm", "--tp", "8", "--moe-ep", "8",
          "--concurrency", "1", "--mtp", "3", "--mtp-acceptance", "1.8", "--model-kind", "steady", "--explain")
LLAMA = ("serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--engine", "vllm", "--tp", "1", "--concurrency",
         "4", "--model-kind", "steady", "--explain")
STEP_HEADER = "| op or collective | ms per step | bound by | format / algorithm |"


def _run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, (result.stderr, result.exception)
    return result.stdout


def test_the_decode_breakdown_adds_up_to_the_step_with_its_mtp_drafts() -> None:
    """DeepSeek-R1 on 8 B200s, MTP 3 at 1.8 accepted, one client: ITL 9.474 ms, but the breakdown summed to 7.596 ms,
    the --mtp 0 step. It now prices the verify of 4 tokens a sequence and a line of 3 draft passes of 0.186 ms, and
    adds up to decode_step's 9.4755 ms, the step the summary's TPOT divides by the 2.8 tokens a step keeps (the
    steady model's 3.3837 ms x 2.8 = 9.4743 ms, the simulator's ITL 9.4742 ms: their contexts a little apart)."""
    data = json.loads(_run(*R1_MTP, "--format", "json"))
    parts = {p["part"]: p["seconds"] for p in data["decode_step_breakdown"]}
    assert sum(parts.values()) == pytest.approx(9.4755e-3, rel=1e-4)
    assert sum(parts.values()) == pytest.approx(data["tpot_s"] * 2.8, rel=2e-4)
    assert parts["MTP draft passes"] == pytest.approx(3 * 0.18578e-3, rel=1e-3)
    assert parts["expert_up"] == pytest.approx(1.59e-3, rel=3e-3)  # the verify's 4 tokens: 0.747 ms at 1
    case = Case(model="deepseek-r1", system="hgx-b200", isl=1024, osl=1024, concurrency=1, engine="trtllm",
                layout=Layout(tp=8, moe_ep=8), mtp_tokens=3, mtp_acceptance=1.8)
    scenario = scenario_of(case)
    dep = deployment(scenario, scenario.layout)
    assert sum(p.seconds for p in decode_breakdown(dep, 1.0, 1536.0)) == pytest.approx(
        float(decode_step(dep, 1.0, 1536.0)[0]), rel=1e-12)
    assert ("One decode step with 3 draft tokens (the verify of 4 tokens a sequence and 3 MTP draft passes) of 1 "
            "sequence per rank on one device") in " ".join(_run(*R1_MTP, "--format", "md").split())


def test_markdown_and_files_carry_both_breakdown_tables(tmp_path: Path) -> None:
    """--explain --format md (and --out x.md, --out x.txt) left out both breakdown tables that the table on a
    terminal, JSON and CSV carry."""
    md = _run(*LLAMA, "--format", "md")
    assert md.count(STEP_HEADER) == 2
    assert "**One decode step of 3.95 sequences per rank on one device**" in md
    assert "**One prefill step of 1024 prompt tokens on one device (no queueing; before the engine's prefill time " \
           "factor x1.29)**" in md
    for name in ("s.md", "s.txt"):
        _run(*LLAMA, "--out", str(tmp_path / name))
        written = (tmp_path / name).read_text()
        assert "One decode step of 3.95 sequences" in written and "One prefill step of 1024" in written
    assert (tmp_path / "s.md").read_text() == md


def test_an_attention_dp_breakdown_says_it_is_the_mean_rank() -> None:
    """With attention DP the breakdown prices the mean rank's sequences, while the ranks step at the busiest one's
    pace (a disaggregated DEP8 run: parts of 19.9 ms beside a simulated ITL of 26.3 ms); the title says so."""
    result = CliRunner().invoke(cli, ["serve", "--model", "deepseek-r1", "--system", "hgx-h200", "--engine", "sglang",
                                      "--tp", "1", "--attn-dp", "8", "--moe-ep", "8", "--concurrency", "16",
                                      "--model-kind", "steady", "--explain", "--format", "md"])
    assert result.exit_code == 0, result.output
    assert ("One decode step of 1.93 sequences per rank (the mean of 8 attention-DP ranks, which step at the busiest "
            "one's pace) on one device") in result.output
