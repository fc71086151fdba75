"""Chunks of work mapped over local worker processes or Ray tasks (Ray is an optional extra), in order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

from parity.errors import ParityError

__all__ = ["map_chunks", "RAY_LOCAL"]

RAY_LOCAL = "local"  # `ray` value that starts (and afterwards stops) a Ray instance on this machine

T = TypeVar("T")
R = TypeVar("R")


def map_chunks(fn: Callable[[T], R], chunks: Sequence[T], processes: int = 1, ray: str | None = None,
               progress: Callable[[R], None] | None = None) -> list[R]:
    """[fn(chunk) for chunk in chunks], in order: here when processes is 1, on `processes` local
    processes, or as Ray tasks when `ray` is given (RAY_LOCAL: a local instance; else the address of a
    cluster). fn and the chunks must pickle. progress(result) is called as each result comes back."""
    done: list[R] = []

    def took(result: R) -> None:
        done.append(result)
        if progress:
            progress(result)

    if ray is not None and chunks:
        _on_ray(fn, chunks, None if ray == RAY_LOCAL else ray, took)
    elif processes > 1 and len(chunks) > 1:
        with ProcessPoolExecutor(max_workers=processes) as pool:
            for result in pool.map(fn, chunks):
                took(result)
    else:
        for chunk in chunks:
            took(fn(chunk))
    return done


def _apply(fn: Callable[[Any], Any], chunk: Any) -> Any:
    return fn(chunk)


def _on_ray(fn: Callable[[T], R], chunks: Sequence[T], address: str | None, took: Callable[[R], None]) -> None:
    try:
        import ray  # noqa: PLC0415 - optional extra
    except ImportError as err:
        raise ParityError("--ray needs Ray: pip install 'parity[ray]'") from err
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    try:
        task = ray.remote(_apply)
        pending = [task.remote(fn, chunk) for chunk in chunks]
        for ref in pending:
            took(ray.get(ref))
    finally:
        if started:
            ray.shutdown()
