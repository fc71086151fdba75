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
    adds up to the step the summary's TPOT divides by the 2.8 tokens a step keeps: 9.4743 ms at the mean drawn
    lengths, the steady model's 3.3837 ms x 2.8 (the simulator's ITL 9.4742 ms; at the nominal 1,024 + 512 context
    decode_step's 9.4755 ms)."""
    data = json.loads(_run(*R1_MTP, "--format", "json"))
    parts = {p["part"]: p["seconds"] for p in data["decode_step_breakdown"]}
    assert sum(parts.values()) == pytest.approx(9.4743e-3, rel=1e-5)
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
            "sequence per rank at 1,382.25 KV tokens (isl + osl / 2 = 921.5 + 921.5 / 2, the mean of lengths drawn "
            "uniformly in [0.8, 1] x nominal) on one device") in " ".join(_run(*R1_MTP, "--format", "md").split())


def test_markdown_and_files_carry_both_breakdown_tables(tmp_path: Path) -> None:
    """--explain --format md (and --out x.md, --out x.txt) left out both breakdown tables that the table on a
    terminal, JSON and CSV carry."""
    md = _run(*LLAMA, "--format", "md")
    assert md.count(STEP_HEADER) == 2
    # the steady model's lengths: drawn in [0.8, 1] x 1024 (the aiconfigurator client's), mean 921.5
    assert ("**One decode step of 3.95 sequences per rank at 1,382.25 KV tokens (isl + osl / 2 = 921.5 + 921.5 / 2, "
            "the mean of lengths drawn uniformly in [0.8, 1] x nominal) on one device**") in md
    assert ("**One prefill step of 922 prompt tokens on one device (a prompt of 921.5 tokens, the mean of lengths "
            "drawn uniformly in [0.8, 1] x nominal; no queueing; before the engine's prefill time factor x1.29)**") in md
    for name in ("s.md", "s.txt"):
        _run(*LLAMA, "--out", str(tmp_path / name))
        written = (tmp_path / name).read_text()
        assert "One decode step of 3.95 sequences" in written and "One prefill step of 922" in written
    assert (tmp_path / "s.md").read_text() == md


def test_an_attention_dp_breakdown_says_it_is_the_mean_rank() -> None:
    """With attention DP the breakdown prices the mean rank's sequences, while the ranks step at the busiest one's
    pace (a disaggregated DEP8 run: parts of 19.9 ms beside a simulated ITL of 26.3 ms); the title says so."""
    result = CliRunner().invoke(cli, ["serve", "--model", "deepseek-r1", "--system", "hgx-h200", "--engine", "sglang",
                                      "--tp", "1", "--attn-dp", "8", "--moe-ep", "8", "--concurrency", "16",
                                      "--model-kind", "steady", "--explain", "--format", "md"])
    assert result.exit_code == 0, result.output
    assert ("One decode step of 1.93 sequences per rank (the mean of 8 attention-DP ranks, which step at the busiest "
            "one's pace) at 1,536 KV tokens (isl + osl / 2 = 1,024 + 1,024 / 2) on one device") in result.output


C03 = ("serve", "--model", "deepseek-v3", "--system", "hgx-h100", "--engine", "sglang", "--weights", "fp8_block", "--kv",
       "bf16", "--phase", "decode", "--batch", "18432", "--context", "2000", "--tp", "1", "--attn-dp", "72", "--moe-tp",
       "1", "--moe-ep", "72", "--redundant-experts", "32", "--explain")


@pytest.mark.e2e
def test_a_phase_decode_breakdown_is_the_step_it_prices_and_what_overlap_hid() -> None:
    """LMSYS's C03 decode (tests/test_published_sim.py): 256 sequences on the busiest of 72 ranks, 98.75 ms a step
    without overlap, the lines adding up to it; with --moe-overlap 1 the same lines (the dispatch's 22.73 ms and the
    combine's 35.89 ms whole) and a line of -29.60 ms hidden under computation add up to the 69.15 ms step. --explain
    was refused with --phase."""
    bare, overlap = (json.loads(_run(*C03, *more, "--format", "json")) for more in ((), ("--moe-overlap", "1")))
    for data, step_s in ((bare, 98.7478e-3), (overlap, 69.1476e-3)):
        parts = {p["part"]: p["seconds"] for p in data["decode_step_breakdown"]}
        assert data["step_s"] == pytest.approx(step_s, rel=1e-5)
        assert sum(parts.values()) == pytest.approx(data["step_s"], rel=1e-9)
        assert parts["moe_dispatch"] == pytest.approx(22.730e-3, rel=1e-4)
        assert parts["moe_combine"] == pytest.approx(35.895e-3, rel=1e-4)
        assert "prefill_step_breakdown" not in data
    hidden = {p["part"]: p["seconds"] for p in overlap["decode_step_breakdown"]}.pop("hidden under computation")
    assert hidden == pytest.approx(-29.600e-3, rel=1e-4)
    assert sum(p["seconds"] for p in overlap["decode_step_breakdown"]) - hidden == pytest.approx(bare["step_s"],
                                                                                                rel=1e-9)
    text = " ".join(_run(*C03, "--moe-overlap", "1", "--format", "md").split())
    assert ("The decode step of 256 sequences on the busiest of 72 attention-DP ranks (the step's pace) at 2,000 KV "
            "tokens, on one device: 69.15 ms, after 29.60 ms hidden under computation") in text


def test_a_phase_decode_breakdown_shows_the_host_floor_where_it_binds() -> None:
    """DeepSeek-R1 on 8 B200s under TensorRT-LLM, 8,192 sequences at 100 KV tokens over 8 attention-DP ranks: the
    device step is 53.88 ms, but 1,024 decode tokens a rank at the engine's 90 us a token last 92.16 ms
    (step.decode_host_floor); a host floor line of the 38.28 ms between makes the lines the step."""
    data = json.loads(_run("serve", "--model", "deepseek-r1", "--system", "hgx-b200", "--engine", "trtllm", "--phase",
                           "decode", "--batch", "8192", "--context", "100", "--tp", "1", "--attn-dp", "8",
                           "--moe-ep", "8", "--explain", "--format", "json"))
    parts = {p["part"]: p["seconds"] for p in data["decode_step_breakdown"]}
    assert data["step_s"] == pytest.approx(1024 * 90e-6, rel=1e-9)
    assert sum(parts.values()) == pytest.approx(data["step_s"], rel=1e-9)
    assert parts["host floor"] == pytest.approx(38.2765e-3, rel=1e-4)


def test_a_phase_prefill_breakdown_carries_the_engines_prefill_factor() -> None:
    """Llama-3.1-8B on one H100 under SGLang, 4 prompts of 2,048 tokens: a 170.05 ms device step, times SGLang's
    prefill factor 1.10 = the 187.06 ms step serve prints, the factor's 17.01 ms a line of its own."""
    data = json.loads(_run("serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--engine", "sglang", "--phase",
                           "prefill", "--batch", "4", "--isl", "2048", "--tp", "1", "--explain", "--format", "json"))
    parts = {p["part"]: p["seconds"] for p in data["prefill_step_breakdown"]}
    assert data["step_s"] == pytest.approx(187.056e-3, rel=1e-5)
    assert sum(parts.values()) == pytest.approx(data["step_s"], rel=1e-9)
    factor = parts.pop("engine prefill factor")
    assert factor == pytest.approx(sum(parts.values()) * 0.10, rel=2e-2)
    assert factor / sum(parts.values()) == pytest.approx(data["step_s"] / sum(parts.values()) - 1, rel=1e-9)


def test_offline_and_server_explain_their_decode_step_at_the_batch_they_found() -> None:
    """Llama-3.1-8B on one MI355X under vLLM, offline at 941 in / 128 out: decode steps of 1,813 sequences (the KV
    capacity at the mean length), whose lines add up to its 72.07 ms TPOT; a server at 5 requests/s on an H100
    decodes 8.96 sequences, a 6.19 ms step that prompts' 11.9% of the engine stretch to a 7.03 ms TPOT. --explain
    was refused with --scenario."""
    offline = json.loads(_run("serve", "--model", "llama-3.1-8b", "--system", "mi355x-platform", "--engine", "vllm",
                              "--weights", "bf16", "--isl", "941", "--osl", "128", "--scenario", "offline", "--tp", "1",
                              "--explain", "--format", "json"))
    assert offline["decode_batch"] == 1813
    assert sum(p["seconds"] for p in offline["decode_step_breakdown"]) == pytest.approx(offline["tpot_s"], rel=1e-9)
    assert offline["tpot_s"] == pytest.approx(72.066e-3, rel=1e-4)
    assert {p["part"] for p in offline["prefill_step_breakdown"]} >= {"attention_prefill", "mlp_up"}
    server = ("serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--engine", "vllm", "--isl", "1024",
              "--osl", "256", "--scenario", "server", "--request-rate", "5", "--tp", "1", "--explain")
    data = json.loads(_run(*server, "--format", "json"))
    step_s = sum(p["seconds"] for p in data["decode_step_breakdown"])
    assert data["decode_batch"] == pytest.approx(8.964, rel=1e-3)
    assert step_s == pytest.approx(data["tpot_s"] * (1 - data["prefill_utilization"]), rel=1e-9)
    assert step_s == pytest.approx(6.1947e-3, rel=1e-4)
    text = " ".join(_run(*server, "--format", "md").split())
    assert ("One decode step of 8.96 sequences per rank (the server scenario's batch) at 1,152 KV tokens (isl + osl / 2 "
            "= 1,024 + 256 / 2) on one device") in text
    # the title says how the step becomes the TPOT (regression tester fuzzFC 5: the lines summed to 12.09 ms beside a
    # 13.41 ms TPOT, and nothing said why)
    assert (f"the TPOT, {data['tpot_s'] * 1e3:,.2f} ms, is this step / (1 - {data['prefill_utilization']:.1%}, the "
            "engine's time in prompt steps)") in text


def test_a_pipelined_breakdown_is_pp_stage_times_of_a_microbatch() -> None:
    """Llama-3.1-70B under vLLM on 8 H100s, TP 4 x PP 2: the step moves 8 sequences as 2 microbatches, 18.47 ms
    (step_cost); the lines summed one unpipelined pass of all 8 (9.50 ms) and now add up to it."""
    from parity.ops import Batch
    from parity.step import breakdown, step_cost
    case = Case(model="llama-3.1-70b", system="hgx-h100", engine="vllm", isl=1024, osl=1024, concurrency=8,
                layout=Layout(tp=4, pp=2))
    scenario = scenario_of(case)
    dep = deployment(scenario, scenario.layout)
    decode = Batch(decode_tokens=8.0, decode_context=1500.0)
    assert sum(p.seconds for p in breakdown(dep, decode)) == pytest.approx(float(step_cost(dep, decode).time_s),
                                                                          rel=1e-12)
    assert float(step_cost(dep, decode).time_s) == pytest.approx(18.4734e-3, rel=1e-4)
