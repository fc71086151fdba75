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


def test_compare_and_fleet_name_a_models_unmodelled_keys_once_under_the_table(tmp_path) -> None:
    """`compare` (serving and training) and `fleet` printed none of a config's `unmodelled:` flags (their JSON and
    `serve` have them; a row's note gives only a few words): the caption names them once, ahead of its other
    sentences, and points at `parity model`, which says each whole; training's JSON carries them as serving's does
    (it had none) (fuzz19a 4.1). A model with no flags adds no sentence."""
    import json

    from click.testing import CliRunner

    from parity import catalog
    from parity.cli import cli
    config = tmp_path / "odd.json"
    text = json.loads(catalog.data_dir().joinpath("models", "Qwen--Qwen3-0.6B_config.json").read_text())
    config.write_text(json.dumps({**text, "mystery_width": 4096, "gating": "odd"}))
    said = ("Model flags: unmodelled: gating, mystery_width (`parity model " + str(config) + "` says each whole).")
    for args in (["compare", "hgx-h100", "--model", str(config)],
                 ["compare", "hgx-h100", "--model", str(config), "--workload", "train"],
                 ["fleet", "--model", str(config), "--chips", "h20", "--demand", "1e9 tokens/day"]):
        out = CliRunner().invoke(cli, args, env={"COLUMNS": "200"})
        assert out.exit_code == 0, out.output
        assert " ".join(out.stdout.split()).count(said) == 1, out.stdout
    rows = json.loads(CliRunner().invoke(cli, ["compare", "hgx-h100", "--model", str(config), "--workload", "train",
                                               "--format", "json"]).stdout)
    assert rows[0]["flags"][:2] == ["unmodelled: gating", "unmodelled: mystery_width"]
    plain = CliRunner().invoke(cli, ["compare", "hgx-h100", "--model", "qwen3-0.6b"], env={"COLUMNS": "200"})
    assert "Model flags" not in plain.stdout
