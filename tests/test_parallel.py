"""Work mapped over processes or Ray (parity.parallel), and `predict`/`validate --ray` for the simulator."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import Future
from pathlib import Path

import pytest
from click.testing import CliRunner

from parity.cli import cli
from parity.errors import ParityError
from parity import parallel
from parity.parallel import RAY_LOCAL, map_chunks, pool_size

SRC = str(Path(__file__).resolve().parents[1] / "src")  # this checkout's parity, whatever is installed


def _square_all(chunk: list[int]) -> list[int]:
    return [x * x for x in chunk]


CHUNKS = [[1, 2], [3], [4, 5, 6]]


@pytest.mark.parametrize("processes", [1, 2])
def test_chunks_come_back_in_order_with_progress_per_chunk(processes: int) -> None:
    """[[1, 4], [9], [16, 25, 36]] in the chunks' order; progress sees each result once (2 + 1 + 3 = 6)."""
    seen: list[int] = []
    assert map_chunks(_square_all, CHUNKS, processes, progress=lambda r: seen.append(len(r))) == [
        [1, 4], [9], [16, 25, 36]]
    assert sorted(seen) == [1, 2, 3]


def _fail_or_finish_late(chunk: tuple[str, str]) -> str:
    """Chunk ("fail", _) raises at once; ("late", path) writes path after a second."""
    import pathlib
    import time
    kind, path = chunk
    if kind == "fail":
        raise ValueError("the first chunk fails")
    time.sleep(1.0)
    pathlib.Path(path).write_text("finished")
    return path


@pytest.mark.e2e  # signals and process groups, with waits: the end-to-end tier keeps the default run under a minute
def test_a_stopped_map_stops_its_workers_instead_of_waiting_for_every_chunk(tmp_path, monkeypatch) -> None:
    """A pool's `with` block waited for every chunk submitted before an exception (or SIGTERM's SystemExit) left it:
    `timeout 8 parity validate ...` ran on for minutes. Now the workers are stopped: the late chunk never finishes."""
    monkeypatch.setattr(parallel, "pool_size", lambda processes, tasks: 2)
    late = tmp_path / "late.txt"
    with pytest.raises(ValueError, match="the first chunk fails"):
        map_chunks(_fail_or_finish_late, [("fail", ""), ("late", str(late))], processes=2)
    import time
    time.sleep(1.5)
    assert not late.exists()


def test_processes_are_capped_at_the_tasks_and_the_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    """search --processes 1000 --refine 2 started 1000 processes for a few simulations (12 s instead of 1 s): a pool
    gets at most one process per task and per CPU, and none at all when that leaves one."""
    monkeypatch.setattr(parallel.os, "sched_getaffinity", lambda _pid: set(range(8)))
    assert [pool_size(1000, 3), pool_size(1000, 50), pool_size(4, 50), pool_size(1, 50), pool_size(8, 0)] == [
        3, 8, 4, 1, 1]
    started: list[int] = []

    class Pool:
        def __init__(self, max_workers: int, **_options: object) -> None:
            started.append(max_workers)

        def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
            pass

        def submit(self, fn, chunk):  # type: ignore[no-untyped-def]
            future: Future[object] = Future()
            future.set_result(fn(chunk))
            return future

    monkeypatch.setattr(parallel, "ProcessPoolExecutor", Pool)
    assert map_chunks(_square_all, CHUNKS, 1000) == [[1, 4], [9], [16, 25, 36]]
    assert map_chunks(_square_all, CHUNKS[:1], 1000) == [[1, 4]]  # one task: run here, no pool
    assert started == [3]


def test_ray_without_ray_installed_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(ParityError, match="--ray needs Ray: pip install 'parity\\[ray\\]'"):
        map_chunks(_square_all, CHUNKS, ray=RAY_LOCAL)
    assert map_chunks(_square_all, [], ray=RAY_LOCAL) == []  # nothing to run starts nothing


CASES = "model,system,isl,osl,concurrency,tp\n" + "".join(
    f"llama-3.1-8b,hgx-h100,256,128,{c},1\n" for c in (1, 2, 3, 4, 6, 8, 12, 16, 24))


def test_ray_needs_the_simulator(tmp_path) -> None:
    cases = tmp_path / "cases.csv"
    cases.write_text(CASES)
    result = CliRunner().invoke(cli, ["predict", str(cases), "--model-kind", "steady", "--ray"])
    assert result.exit_code == 2
    assert result.stderr == "parity: error: --ray runs the simulator's runs: it needs --model-kind sim\n"


def test_ray_without_ray_installed_exits_2_in_one_line(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    cases = tmp_path / "cases.csv"
    cases.write_text(CASES)
    result = CliRunner().invoke(cli, ["predict", str(cases), "--model-kind", "sim", "--ray"])
    assert result.exit_code == 2
    assert result.stderr == "parity: error: --ray needs Ray: pip install 'parity[ray]'\n"


@pytest.mark.e2e
def test_predict_sim_on_ray_gives_the_local_result(tmp_path) -> None:
    """Nine simulated cases as Ray tasks on a local instance: the CSV is byte for byte the one-process one."""
    pytest.importorskip("ray")
    cases = tmp_path / "cases.csv"
    cases.write_text(CASES)
    here = CliRunner().invoke(cli, ["predict", str(cases), "--model-kind", "sim", "--processes", "1"])
    on_ray = CliRunner().invoke(cli, ["predict", str(cases), "--model-kind", "sim", "--ray"])
    assert here.exit_code == on_ray.exit_code == 0, on_ray.output
    assert on_ray.stdout == here.stdout
    assert here.stdout.count("\n") == 10 and "ttft_p99_s" in here.stdout


def test_validate_ray_needs_the_simulator_too() -> None:
    result = CliRunner().invoke(cli, ["validate", "--section", "serving", "--model-kind", "steady", "--ray"])
    assert result.exit_code == 2
    assert result.stderr == "parity: error: --ray runs the simulator's runs: it needs --model-kind sim\n"


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads a process's children from Linux's /proc")
def test_a_pool_stopped_while_a_worker_sends_its_result_does_not_hang() -> None:
    """A worker killed by SIGTERM while it sent a result (here 50 MB of zeros, which takes a pipe some milliseconds)
    left half a message in the result pipe; the executor's thread waited for the rest for ever, and so did Python's
    exit, which joins it (`timeout 25 parity sweep huge.toml` never ended). Here it hung in every run; now exit 143
    at once, nothing on stderr."""
    code = ("import signal; from parity.parallel import map_chunks; "
            "signal.signal(signal.SIGTERM, lambda signum, frame: exec('raise SystemExit(143)')); "
            "map_chunks(bytes, [50_000_000] * 400, 2)")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env={**os.environ, "PYTHONPATH": SRC}, start_new_session=True)
    deadline = time.monotonic() + 30
    children = Path(f"/proc/{child.pid}/task/{child.pid}/children")
    while len(children.read_text().split()) < 2 and time.monotonic() < deadline:  # both workers have started
        time.sleep(0.02)
    time.sleep(0.3)  # results are streaming back
    os.killpg(child.pid, signal.SIGTERM)
    try:
        _, stderr = child.communicate(timeout=20)
    finally:
        with contextlib.suppress(ProcessLookupError):  # a hung run, and its workers
            os.killpg(child.pid, signal.SIGKILL)
    assert (child.returncode, stderr.decode()) == (143, "")
