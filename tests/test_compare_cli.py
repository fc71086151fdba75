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


def test_a_row_that_does_not_fit_writes_no_rates() -> None:
    """Kimi-K2 does not fit a TPU v6e-8: its rates were 0.0 in JSON and CSV, which read as figures, where fleet writes
    null; clients_per_worker was a float (8192.0) (fuzz16 4.3)."""
    import csv
    import io
    import json

    from click.testing import CliRunner

    from parity.cli import cli
    args = ["compare", "tpu-v6e-8", "hgx-h100", "--model", "kimi-k2", "--format"]
    tpu, h100 = json.loads(CliRunner().invoke(cli, [*args, "json"]).stdout)
    rates = ("tokens_per_s_per_chip", "prefill_tokens_per_s_per_chip", "tokens_per_s_per_system",
             "tokens_per_s_per_kw", "tokens_per_s_per_gb", "decode_tokens_per_s_per_chip")
    assert not tpu["fits"] and [tpu[k] for k in rates] == [None] * 6
    assert h100["fits"] and all(h100[k] > 0 for k in rates)
    assert h100["clients_per_worker"] == 8192 and isinstance(h100["clients_per_worker"], int)
    row = next(csv.DictReader(io.StringIO(CliRunner().invoke(cli, [*args, "csv"]).stdout)))
    assert row["fits"] == "False" and [row[k] for k in rates[:5]] == [""] * 5
    formats = json.loads(CliRunner().invoke(cli, ["formats", "tpu-v6e-8", "--model", "kimi-k2", "--formats", "fp8",
                                                  "--format", "json"]).stdout)
    assert [(f["fits"], f["tokens_per_s_per_chip"], f["tokens_per_s_per_kw"]) for f in formats] == [(False, None, None)]
