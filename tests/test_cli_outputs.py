"""What commands leave behind: 'wrote ...' on stderr (stdout carries only output), and nothing half-written when
a command is stopped by SIGTERM."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from parity.cli import cli

SRC = str(Path(__file__).resolve().parents[1] / "src")  # this checkout's parity, whatever is installed


def _fake_build(folder: Path, _spec: object, _progress: object) -> None:
    (folder / "a.png").write_bytes(b"png")
    (folder / "index.html").write_text("<html></html>")


def test_sweep_and_report_say_wrote_on_stderr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """sweep and report printed 'wrote ...' on stdout, every other command on stderr."""
    spec = tmp_path / "spec.toml"
    spec.write_text('[axes]\nsystem = ["hgx-h20"]\nmodel = ["llama-3.1-8b"]\nisl = [128]\nosl = [128]\n'
                    'concurrency = [8]\n')
    result = CliRunner().invoke(cli, ["sweep", str(spec), "--out", str(tmp_path / "out.csv"), "--workers", "1"])
    assert result.exit_code == 0 and result.stdout == ""
    assert result.stderr == f"wrote {tmp_path / 'out.csv'}: 1 scenarios, 1 feasible\n"
    monkeypatch.setattr("parity.report.html.build_report", _fake_build)
    result = CliRunner().invoke(cli, ["report", "--out", str(tmp_path / "rep")])
    assert result.exit_code == 0 and result.stdout == ""
    assert result.stderr == f"wrote {tmp_path / 'rep' / 'index.html'} (plots: a.png)\n"


def test_a_report_stopped_by_sigterm_leaves_no_staging_folder(tmp_path: Path) -> None:
    """`timeout 3 parity report --out rep` left an empty hidden '.rep.<random>.tmp' beside the target (Ctrl-C
    removed it): SIGTERM now leaves through the same cleanup, exit 143."""
    code = ("import time, parity.report.html as html; html.build_report = lambda *a: time.sleep(60); "
            f"from parity.cli import main; raise SystemExit(main(['report', '--out', {str(tmp_path / 'rep')!r}]))")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env={**os.environ, "PYTHONPATH": SRC})
    deadline = time.monotonic() + 30
    while not list(tmp_path.iterdir()) and time.monotonic() < deadline:  # the staging folder is being built
        time.sleep(0.05)
    assert [p.name.startswith(".rep.") for p in tmp_path.iterdir()] == [True]
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=30) == 143
    assert list(tmp_path.iterdir()) == []
