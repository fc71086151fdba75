"""What serve says: refusals of MTP drafting name the options a user types (--mtp, --mtp-acceptance) beside the table
columns (mtp_tokens, mtp_acceptance), where they named the columns alone (report-only tester fuzzAH 4); where a
disaggregated deployment's KV moves."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from parity.cli import cli


def test_drafting_refusals_name_the_options_and_the_columns() -> None:
    said = [CliRunner().invoke(cli, ["serve", "--model", model, "--system", "gb200-nvl72", "--tp", "8",
                                     "--concurrency", "4", "--mtp", mtp, "--model-kind", "steady"])
            for model, mtp in (("kimi-k2", "1"), ("kimi-k2", "2"), ("glm-5", "1"))]
    assert [(r.exit_code, r.stderr) for r in said] == [
        (2, "parity: error: kimi-k2 has no multi-token-prediction layers to draft 1 token with (--mtp, or mtp_tokens "
            "in a table)\n"),
        (2, "parity: error: kimi-k2 has no multi-token-prediction layers to draft 2 tokens with (--mtp, or "
            "mtp_tokens in a table)\n"),
        (2, "parity: error: glm-5 drafting needs an acceptance (--mtp-acceptance, or mtp_acceptance in a table): "
            "parity records no published one for it\n")]


@pytest.mark.e2e  # a steady run on a CloudMatrix 384 (0.8 s)
def test_a_deployment_wider_than_its_domain_says_its_kv_is_priced_over_scale_up_links() -> None:
    """17 prefill workers of 8 CloudMatrix 384 packages and a 256-package decode worker (search's best for
    DeepSeek-R1) take 392 packages: each pair fits one 384-chip domain, the deployment not, and the note said only
    'KV moved over scale-up links' (report-only tester fuzzAH 2); a rank per die, the domain was read as 768, the
    packages' count against the dies'."""
    result = CliRunner().invoke(cli, [
        "serve", "--model", "deepseek-r1", "--system", "cloudmatrix-384", "--weights", "int8", "--mode", "disagg",
        "--tp", "1", "--pp", "2", "--attn-dp", "8", "--moe-ep", "8", "--decode-tp", "2", "--decode-pp", "2",
        "--decode-attn-dp", "128", "--decode-moe-ep", "256", "--prefill-workers", "17", "--decode-workers", "1",
        "--concurrency", "4096", "--rank-per-die", "--model-kind", "steady", "--format", "json"])
    assert ("KV moved over scale-up links (every prefill-decode pair fits one 384-chip domain, not the deployment's "
            "392 chips: priced as if each pair shared one)") in result.stdout


def test_the_simulators_scheduler_line_says_whole_prompts_or_chunks_once() -> None:
    """TensorRT-LLM's profile mixes whole prompts into decode steps: the line said 'prompt chunks mixed with decodes,
    whole prompts (no chunked prefill)', two opposite things (report-only tester fuzzAJ 4)."""
    out = CliRunner().invoke(cli, ["serve", "--model", "llama-3.1-8b", "--system", "hgx-b200", "--engine", "trtllm",
                                   "--concurrency", "1", "--osl", "16", "--explain", "--format", "json"]).stdout
    assert "simulator: step budget" in out and "whole prompts (no chunked prefill) mixed with decodes, at most" in out
    assert "prompt chunks" not in out
