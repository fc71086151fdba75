"""What `parity compare` says of the run it priced."""

from __future__ import annotations


def test_the_caption_names_the_weights_given_not_the_narrowest_native() -> None:
    """With --weights the caption said 'the narrowest weights each chip runs natively', which the run did not do."""
    from click.testing import CliRunner

    from parity.cli import cli
    given = CliRunner().invoke(cli, ["compare", "hgx-h100", "--model", "llama-3.1-8b", "--weights", "int4", "--format",
                                     "md"])
    chosen = CliRunner().invoke(cli, ["compare", "hgx-h100", "--model", "llama-3.1-8b", "--format", "md"])
    assert given.exit_code == chosen.exit_code == 0, given.output + chosen.output
    assert "Formats: int4 weights on every chip (--weights), and an FP8 KV cache" in " ".join(given.output.split())
    assert "Formats: the narrowest weights each chip runs natively" in " ".join(chosen.output.split())
