"""search's and compare's simulator runs show a progress bar on a terminal (stderr), as predict and sweep do; they ran
for seconds to minutes with nothing on the screen. stdout is the same with the bar drawn as without it."""

import pytest
from click.testing import CliRunner

from parity import catalog
from parity.cli import cli, compare_cmd, search_cmd
from parity.fleet import plan_fleet

# one chip per worker and short requests keep the search and its simulations small (as tests/test_search_refine.py)
SEARCH = ["search", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--chips", "1", "--isl", "256", "--osl", "128",
          "--tpot", "20ms", "--format", "json"]


class _Bar:
    """A stand-in for cli.progress_bar's bar: each task as (description, total) and each advance as (task, n)."""

    def __init__(self, log: list[tuple[object, ...]], shown: bool) -> None:
        self.log, self.shown, self.tasks = log, shown, 0

    def __enter__(self) -> "_Bar":
        return self

    def __exit__(self, *_: object) -> None:
        pass

    def add_task(self, description: str, total: int) -> int:
        self.log.append((description, total, self.shown))
        self.tasks += 1
        return self.tasks - 1

    def advance(self, task: int, n: int = 1) -> None:
        self.log.append((task, n))


def _logged(monkeypatch: pytest.MonkeyPatch, module: object, args: list[str]) -> list[tuple[object, ...]]:
    log: list[tuple[object, ...]] = []
    monkeypatch.setattr(module, "progress_bar", lambda stages=False, shown=True: _Bar(log, shown))
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return log


def test_search_counts_each_refined_candidate(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _logged(monkeypatch, search_cmd, [*SEARCH, "--refine", "2"]) == [
        ("simulating 2 candidates", 2, True), (0, 1), (0, 1)]


def test_search_counts_each_percentile_run_against_its_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """--refine 2 under a percentile target: at most 2 runs, each counted as it ends."""
    assert _logged(monkeypatch, search_cmd, [*SEARCH, "--ttft", "p99:150ms", "--refine", "2"]) == [
        ("simulating (at most 2 runs)", 2, True), (0, 1), (0, 1)]


def test_compare_counts_each_system_searched_and_simulated(monkeypatch: pytest.MonkeyPatch) -> None:
    """The system searched (task 0), then its configuration simulated (task 1), each counted as it ends."""
    assert _logged(monkeypatch, compare_cmd, ["compare", "hgx-h100", "--model", "llama-3.1-8b", "--isl", "256",
                                              "--osl", "128", "--processes", "1", "--refine", "--format", "json"]) == [
        ("llama-3.1-8b: searching 1 system", 1, True), (0, 1), ("llama-3.1-8b: simulating 1 configuration", 1, True),
        (1, 1)]


def test_fleet_planning_counts_each_chip_kind() -> None:
    seen: list[int] = []
    plan_fleet(catalog.model("llama-3.1-8b"), [catalog.system("hgx-h100"), catalog.system("hgx-h200")],
               catalog.engine("generic"), None, 0.05, 256, 128, units=8, progress=seen.append)
    assert seen == [1, 1]


def test_search_draws_its_bar_on_stderr_only_on_a_terminal() -> None:
    """TTY_COMPATIBLE=1 tells rich that stderr is a terminal: the bar is drawn there, and stdout is byte for byte
    what it is without (a pipe's: no bar at all)."""
    args = [*SEARCH, "--refine", "1"]
    piped = CliRunner().invoke(cli, args)
    drawn = CliRunner().invoke(cli, args, env={"TTY_COMPATIBLE": "1"})
    assert piped.exit_code == drawn.exit_code == 0
    assert "simulating" not in piped.stderr and "simulating 1 candidate" in drawn.stderr
    assert drawn.stdout == piped.stdout
