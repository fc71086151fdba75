"""Refits go to the user's folder (or the checkout's data by an explicit option), never into the installed
package, and every file parity writes goes through one TOML writer that reads back what it was given."""

import dataclasses
import math
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from parity import catalog, tomlwrite
from parity.catalog.engine_file import flat_keys
from parity.cli import cli
from parity.errors import ParityError
from parity.fit import destination, repo_data_dir
from parity.validate import engine_toml
from parity.validate_training import training_cases

REPO = Path(__file__).resolve().parents[1]

keys = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=8)
scalars = st.one_of(st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=False),
                    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20))
tables = st.recursive(st.dictionaries(keys, scalars | st.lists(st.integers(-5, 5), max_size=3), max_size=4),
                      lambda inner: st.dictionaries(keys, inner | st.lists(inner.filter(bool), min_size=1, max_size=2),
                                                    max_size=3), max_leaves=12)


@pytest.mark.e2e  # over 1.2 s: the end-to-end tier keeps the default run under a minute
@settings(max_examples=150, deadline=None)
@given(tables)
def test_every_written_table_reads_back_as_given(table: dict) -> None:
    """Scalars, quoted keys, escapes, inf, nested tables and arrays of tables survive tomllib exactly."""
    assert tomllib.loads(tomlwrite.document(table, "a comment\non two lines")) == table


def test_values_are_written_as_toml_spells_them() -> None:
    """0.1 is repr'd (reads back exactly); 6 significant digits on request; a newline is escaped."""
    assert tomlwrite.value(0.1) == "0.1" and tomlwrite.value(True) == "true" and tomlwrite.value(-math.inf) == "-inf"
    assert tomlwrite.significant(0.123456789) == 0.123457
    assert tomlwrite.value('a "b"\nc') == '"a \\"b\\"\\nc"'
    with pytest.raises(TypeError):
        tomlwrite.value(object())


def test_replace_values_keeps_comments_and_refuses_unknown_keys() -> None:
    text = "# head\nx = 1  # old\n[t]\nx = 2\n"
    assert tomlwrite.replace_values(text, {"x": 0.5}) == "# head\nx = 0.5\n[t]\nx = 2\n"
    with pytest.raises(KeyError, match="y"):
        tomlwrite.replace_values(text, {"y": 1})


@pytest.mark.e2e  # over 1.2 s: the end-to-end tier keeps the default run under a minute
def test_a_training_refit_goes_to_parity_home_and_is_read_from_there(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """`parity train --validate --fit` writes PARITY_HOME/training.toml, leaves the package's file byte for
    byte, and the catalog then reads the user's profile; its method names the calibration rows that fitted it
    (the three Megatron-Bridge 25.09 rows among them)."""
    monkeypatch.setenv("PARITY_HOME", str(tmp_path))
    package = (catalog.data_dir() / "training.toml").read_bytes()
    try:
        result = CliRunner().invoke(cli, ["train", "--validate", "--fit", "--format", "json"])
        assert result.exit_code == 0, result.output
        written = tmp_path / "training.toml"
        assert f"wrote {written}" in result.stderr
        assert (catalog.data_dir() / "training.toml").read_bytes() == package
        catalog.training_profile.cache_clear()
        fitted = tomllib.loads(written.read_text())
        assert catalog.training_profile().gemm_scale == fitted["gemm_scale"]
        assert "# The training-framework profile" in written.read_text()  # comments kept
        calibration = [c.case_id for c in training_cases() if c.split == "calibration"]
        assert "bridge2509-b200-deepseek-v3-fp8" in calibration and len(calibration) == 6
        assert f"training_published.csv ({', '.join(calibration)})" in fitted["method"]
    finally:
        catalog.training_profile.cache_clear()


def test_a_user_engine_profile_takes_the_place_of_parity_s(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A refitted engines/vllm.toml in PARITY_HOME replaces the shipped vllm profile, and only that one."""
    monkeypatch.setenv("PARITY_HOME", str(tmp_path))
    shipped = catalog.engine("vllm")
    (tmp_path / "engines").mkdir()
    (tmp_path / "engines" / "vllm.toml").write_text(
        engine_toml(dataclasses.replace(shipped, prefill_scale=2.5), 10, 0.3, 0.2, "2026-12-01"))
    catalog.engines.cache_clear()
    try:
        assert catalog.engine("vllm").prefill_scale == 2.5
        assert [e.id for e in catalog.engines()].count("vllm") == 1
        assert catalog.engine("trtllm").prefill_scale != 2.5
    finally:
        catalog.engines.cache_clear()


def test_write_to_repo_needs_a_checkout_parity_runs_from(tmp_path: Path) -> None:
    """'user' is PARITY_HOME; 'repo' is the checkout's src/parity/data, refused outside a checkout."""
    assert destination("user", tmp_path) == catalog.user_dir()
    assert repo_data_dir(REPO / "tests") == REPO / "src" / "parity" / "data"
    with pytest.raises(ParityError, match="not inside a parity checkout"):
        destination("repo", tmp_path)
    result = CliRunner().invoke(cli, ["train", "--validate", "--fit", "--write-to", "elsewhere"])
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_a_steady_refit_rewrites_its_parameters_in_place_and_keeps_every_other_line() -> None:
    """engine_refit_text on TensorRT-LLM's file: the fitted values (kernel overhead 8.652 -> 9.5 us, gemm scale
    1.15312 -> 1.2) change in place, and everything the steady fit does not own stays: the simulator's hand-off
    (sim_disagg_prefill_scale 0.9, 100 ms), the host floor (45 us an op, sim_host_ops) and their sourced comments, and the method's
    account of the simulator's fits behind the new figures. Read back, the profile equals the fitted one."""
    from parity.catalog.profiles import engine_text
    from parity.validate import engine_refit_text
    shipped = catalog.engine("trtllm")
    fitted = dataclasses.replace(shipped, kernel_overhead_s=9.5e-6, gemm_scale=1.2)
    before = engine_text("trtllm")
    after = engine_refit_text(before, fitted, 260, 0.3, 0.2, "2026-12-03")
    data = flat_keys(tomllib.loads(after))
    assert data["kernel_overhead"] == "9.500 us" and data["gemm_scale"] == 1.2 and data["date"] == "2026-12-03"
    assert data["sim_disagg_prefill_scale"] == 0.9 and data["sim_disagg_ttft_overhead"] == "100 ms"
    assert data["sim_prefill_host_launch"] == "45 us" and data["sim_host_ops"] is True
    comments = [line for line in before.splitlines() if line.startswith("#")]
    assert comments and comments == [line for line in after.splitlines() if line.startswith("#")]
    assert "0.300 before, 0.200 after" in data["method"]
    assert data["method"].endswith(tomllib.loads(before)["method"].partition("the data does not give")[2])
    assert len(after.splitlines()) == len(before.splitlines())


def test_the_full_engine_writer_keeps_every_field_a_profile_sets() -> None:
    """engine_toml (the writer of a new profile and of stack profiles) writes every field a stored profile sets
    away from its default, so a profile written and read back loses none: TensorRT-LLM's simulated hand-off
    (sim_disagg_prefill_scale 0.9, sim_disagg_ttft_overhead 100 ms) among them. A stack profile's stack, base and
    rows are added by crossvendor.stack_toml."""
    for profile in catalog.engines():
        data = flat_keys(tomllib.loads(engine_toml(profile, 1, 0.2, 0.1, "2026-12-03")))
        lost = [f.name for f in dataclasses.fields(profile) if getattr(profile, f.name) != f.default
                and f.name.removesuffix("_s") not in data]
        assert set(lost) <= {"stack", "base", "rows"}, (profile.id, lost)
    trtllm = flat_keys(tomllib.loads(engine_toml(catalog.engine("trtllm"), 1, 0.2, 0.1, "2026-12-03")))
    assert trtllm["sim_disagg_prefill_scale"] == 0.9 and trtllm["sim_disagg_ttft_overhead"] == "100.000 ms"
