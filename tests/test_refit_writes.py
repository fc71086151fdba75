"""What `validate --fit` and `--fit-stacks` write (fuzz 20b 4.3, 4.7): one run's refits stand or fall together, a
refit worse than the profile in use is not written over it, and a log is told each stage. The fits are stubbed; the
writing is what is tested."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from parity import catalog
from parity.cli import cli, crossvendor_cmd, validate_cmd
from parity.fit import Refit


def _refit(name: str, after: float, replaced: float) -> Refit:
    return Refit(name=name, text=f"# {name} refitted\n", rows=10, loss_before=replaced, loss_after=after,
                 summary=f"{name}: loss {replaced:.3f} -> {after:.3f}", loss_replaced=replaced)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PARITY_HOME holding the user's own vllm profile (its text only matters: nothing reads it back)."""
    monkeypatch.setenv("PARITY_HOME", str(tmp_path))
    (tmp_path / "engines").mkdir()
    (tmp_path / "engines" / "vllm.toml").write_text("# the user's vllm\n")
    yield tmp_path
    for cached in (catalog.engines, catalog.uncertainty_table, catalog.training_profile, catalog.calibrations):
        cached.cache_clear()


def _engines(rows, iterations, date, progress):
    progress("fitting sglang on 2 rows", 1)
    return [_refit("engines/sglang.toml", 0.2, 0.3), _refit("engines/vllm.toml", 0.25, 0.3)]


def test_an_interrupted_fit_puts_back_every_file_it_wrote(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C while the cases were priced with the new profiles left them beside the old intervals. Now the run's
    files are put back as they were: the user's vllm.toml restored, the new sglang.toml removed; and with stderr
    not a terminal each stage was a line as it began (minutes of silence before)."""
    monkeypatch.setattr(validate_cmd, "refit_engines", _engines)

    def interrupted(rows, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(validate_cmd, "predict_rows", interrupted)
    result = CliRunner().invoke(cli, ["validate", "--model-kind", "steady", "--fit"])
    assert result.exit_code == 130, result.output
    assert (home / "engines" / "vllm.toml").read_text() == "# the user's vllm\n"
    assert sorted(p.name for p in (home / "engines").iterdir()) == ["vllm.toml"]
    lines = result.stderr.splitlines()  # the user's vllm.toml is in effect, and said first
    assert lines[0].startswith("parity: these scores include the user's files") and lines[1] == "fitting sglang on 2 rows"
    assert lines[-3].startswith("predicting ") and lines[-3].endswith(" measured cases")
    assert lines[-2] == (f"parity: stopped before the run's end, so none of its refits is kept: "
                         f"{home / 'engines' / 'sglang.toml'}, {home / 'engines' / 'vllm.toml'} put back as they were")


def test_a_refit_worse_than_the_profile_in_use_is_not_written(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An under-iterated fit (loss 0.135 where the profile in use has 0.127) was written over it and then overrode
    it. Now it is named with both losses and the file in use kept; a better refit is written."""
    monkeypatch.setattr(validate_cmd, "refit_engines", lambda *args, progress: [
        _refit("engines/sglang.toml", 0.2, 0.3), _refit("engines/vllm.toml", 0.135, 0.127)])
    monkeypatch.setattr(validate_cmd, "predict_rows", lambda rows, **kwargs: [])
    monkeypatch.setattr(validate_cmd, "refit_intervals", lambda *args: Refit(
        name="uncertainty.toml", text="# bands\n", rows=1, loss_before=float("nan"), loss_after=float("nan"),
        summary="intervals"))
    monkeypatch.setattr(validate_cmd, "validation_payload", lambda *args: ([], {}, []))
    monkeypatch.setattr(validate_cmd, "render_output", lambda *args, **kwargs: "")
    result = CliRunner().invoke(cli, ["validate", "--model-kind", "steady", "--fit", "--section", "training"])
    assert (home / "engines" / "vllm.toml").read_text() == "# the user's vllm\n"
    assert (home / "engines" / "sglang.toml").read_text() == "# engines/sglang.toml refitted\n"
    assert (home / "uncertainty.toml").read_text() == "# bands\n"
    assert ("engines/vllm.toml: loss 0.127 -> 0.135; not written: the profile in use fits the same rows better "
            "(0.127; more --iterations may beat it)") in result.stderr.splitlines()
    assert f"engines/sglang.toml: loss 0.300 -> 0.200; wrote {home / 'engines' / 'sglang.toml'}" in result.stderr


def test_a_stack_refit_is_weighed_against_the_stack_profile_in_use(home: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """--fit-stacks --iterations 3 wrote vllm-rocm at 0.135 over the shipped 0.127 and said only 'loss 0.254 ->
    0.135' (from its prior). Now the loss of the stack profile in use is computed on the same rows and compared."""
    (home / "engines" / "vllm.toml").unlink()  # the stack profiles read their base profiles
    stacks = [p for p in catalog.engines() if p.base]
    monkeypatch.setattr(crossvendor_cmd, "fit_stack", lambda base, stack, *args, **kwargs: (
        next(p for p in stacks if p.stack == stack and p.base == base.id), 0.254, 0.135))
    monkeypatch.setattr(crossvendor_cmd, "stack_loss", lambda profile, *args, **kwargs: 0.127)
    monkeypatch.setattr(crossvendor_cmd, "leave_one_out_errors", lambda *args: [])
    monkeypatch.setattr(crossvendor_cmd, "training_vendor_bands", lambda: {})
    result = CliRunner().invoke(cli, ["validate", "--fit-stacks", "--iterations", "3"])
    assert result.exit_code == 0, result.output
    assert list((home / "engines").iterdir()) == []
    assert (home / "training_ratio_uncertainty.toml").read_text().startswith('date = "')  # beside ratio_uncertainty
    assert ("vllm-rocm: loss 0.254 -> 0.135 on 22 rows; not written: the profile in use fits the same rows better "
            "(0.127; more --iterations may beat it)") in result.stderr.splitlines()
    assert "fitting vllm-rocm on 22 rows" in result.stderr.splitlines()
