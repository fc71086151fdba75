"""Chunks of work mapped over local worker processes or Ray tasks (Ray is an optional extra), in order."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, wait
from typing import Any, TypeVar

from parity.errors import ParityError

__all__ = ["map_chunks", "pool_size", "RAY_LOCAL"]

RAY_LOCAL = "local"  # `ray` value that starts (and afterwards stops) a Ray instance on this machine
_POLL_S = 0.2  # [s] a pool's results are awaited in waits this long, between which a held signal acts
_STOP_S = 5  # [s] a terminated worker that has not died after this is killed
RAY_CONNECT_S = 3  # [s] a cluster's head answers at once; past this its address is taken as wrong or down

T = TypeVar("T")
R = TypeVar("R")


def map_chunks(fn: Callable[[T], R], chunks: Sequence[T], processes: int = 1, ray: str | None = None,
               progress: Callable[[R], None] | None = None) -> list[R]:
    """[fn(chunk) for chunk in chunks], in order: here when processes is 1, on `processes` local
    processes, or as Ray tasks when `ray` is given (RAY_LOCAL: a local instance; else the address of a
    cluster). fn and the chunks must pickle. progress(result) is called as each result comes back. Local processes
    are capped at the chunks and at the CPUs (`pool_size`): more would only cost their start-up."""
    done: list[R] = []

    def took(result: R) -> None:
        done.append(result)
        if progress:
            progress(result)

    if ray is not None and chunks:
        _on_ray(fn, chunks, None if ray == RAY_LOCAL else ray, took)
    elif (workers := pool_size(processes, len(chunks))) > 1:
        _on_pool(fn, chunks, workers, took)
    else:
        for chunk in chunks:
            took(fn(chunk))
    return done


def _on_pool(fn: Callable[[T], R], chunks: Sequence[T], workers: int, took: Callable[[R], None]) -> None:
    """took(fn(chunk)) for each chunk, in order, on a pool of `workers` local processes. SIGTERM and Ctrl-C are held
    while the pool runs (`_signals_held`) and act between two waits, where no lock of the executor is taken: a
    SystemExit raised inside its waits raced the executor's own cleanup of workers the same signal killed (its
    thread's InvalidStateError traceback, `timeout` on a sweep's process group)."""
    with _signals_held() as held:
        pool = ProcessPoolExecutor(max_workers=workers, initializer=_worker_signals)
        finished = False
        try:
            for future in [pool.submit(fn, chunk) for chunk in chunks]:
                while not (held or future.done()):
                    wait([future], timeout=_POLL_S)
                if held:
                    break
                took(future.result())
            finished = not held
        finally:
            if not finished:  # stopped or failed: the workers stop too, not after every chunk
                _stop(pool)
            pool.shutdown()


def _stop(pool: ProcessPoolExecutor) -> None:
    """End a pool's workers now; the executor's thread then fails the chunks left (BrokenProcessPool) and ends within
    milliseconds (a `with` block's shutdown waited for every chunk submitted, minutes of a validation after its
    command was told to stop; cancelling the chunks left from here raced that thread)."""
    workers = list((getattr(pool, "_processes", None) or {}).values())  # the executor keeps no public list
    for worker in workers:
        worker.terminate()
    for worker in workers:
        worker.join(timeout=_STOP_S)
        if worker.is_alive():
            worker.kill()
            worker.join()
    # A worker killed while it sent a result leaves half a message in the result pipe, and the executor's thread
    # waits for the rest for ever (Python's exit joins that thread: a hang). With every worker dead, this process
    # holds the pipe's last write end: closed, the wait ends (end of file), which the executor takes as a broken pool.
    writer = getattr(getattr(pool, "_result_queue", None), "_writer", None)
    if writer is not None:
        writer.close()


def _worker_signals() -> None:
    """In a pool's worker: SIGTERM kills it at once, and Ctrl-C (sent to the terminal's whole process group) is left
    to the parent, which stops its workers, instead of ending the chunk at hand with a KeyboardInterrupt."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def _signals_held() -> Iterator[list[int]]:
    """SIGTERM and SIGINT noted in the list yielded instead of acted on, then, on leaving, delivered again to the
    handlers they had before (parity's SIGTERM handler exits 143; Python's SIGINT handler raises KeyboardInterrupt).
    A signal that was ignored stays ignored; outside the main thread, where handlers cannot be set, nothing is held."""
    held: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield held
        return
    owner = os.getpid()

    def hold(signum: int, _frame: Any) -> None:
        if os.getpid() == owner:
            held.append(signum)
        else:  # a worker forked before its initializer ran
            _worker_signals()
            signal.raise_signal(signum)

    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    previous = {signum: handler for signum, handler in previous.items() if handler not in (signal.SIG_IGN, None)}
    for signum in previous:
        signal.signal(signum, hold)
    try:
        yield held
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in dict.fromkeys(held):
            signal.raise_signal(signum)


def pool_size(processes: int, tasks: int) -> int:
    """The local processes worth starting for `tasks` tasks when `processes` are asked for: no more than the tasks
    (a process without one only starts up), nor than the CPUs this process may run on (CPU-bound tasks gain nothing
    from more), and at least 1."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(processes, tasks, cpus))


def _apply(fn: Callable[[Any], Any], chunk: Any) -> Any:
    return fn(chunk)


def _on_ray(fn: Callable[[T], R], chunks: Sequence[T], address: str | None, took: Callable[[R], None]) -> None:
    try:
        import ray  # noqa: PLC0415 - optional extra
    except ImportError as err:
        raise ParityError("--ray needs Ray: pip install 'parity[ray]'") from err
    started = not ray.is_initialized()
    if started:
        if address is None:
            ray.init(include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
        else:
            _join(ray, address)
    try:
        task = ray.remote(_apply)
        pending = [task.remote(fn, chunk) for chunk in chunks]
        for ref in pending:
            took(ray.get(ref))
    finally:
        if started:
            ray.shutdown()


def _join(ray: Any, address: str) -> None:
    """ray.init(address) that fails in one line within about RAY_CONNECT_S: the head's port is tried first, Ray
    retries once a second for RAY_CONNECT_S seconds instead of 20 (unless RAY_gcs_server_port_wait_time_s says
    otherwise), and what its C++ core writes to stderr while it retries is kept back unless it joins."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if host and port.isdigit():  # 'auto' and the like are Ray's to read
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout=RAY_CONNECT_S).close()
        except OSError as err:
            raise ParityError(f"--ray {address}: no Ray cluster answers there ({err.strerror or err})") from err
    wait = "RAY_gcs_server_port_wait_time_s"
    told = os.environ.get(wait)
    os.environ[wait] = told or str(RAY_CONNECT_S)
    try:
        with _stderr_held() as held:
            try:
                ray.init(address=address, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True,
                         logging_level=logging.WARNING)
            except (ConnectionError, RuntimeError) as err:
                held.truncate(0)
                raise ParityError(f"--ray {address}: cannot join a Ray cluster there ({str(err).splitlines()[0]})") \
                    from err
    finally:
        if told is None:
            del os.environ[wait]


@contextlib.contextmanager
def _stderr_held() -> Iterator[Any]:
    """File descriptor 2 (where Ray's C++ core logs) into a temporary file, written out afterwards unless the
    caller truncates it."""
    with tempfile.TemporaryFile() as held:
        saved = os.dup(2)
        os.dup2(held.fileno(), 2)
        try:
            yield held
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            text = held.read()
            if text:
                os.write(2, text)
