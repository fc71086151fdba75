"""The refits a command writes (validate --fit, --fit-stacks): one run's files stand or fall together, and a refit
that fits its rows worse than the file in use is not written over it."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import click

from parity.fit import Refit, write_refits
from parity.report.tables import write_atomic

__all__ = ["one_set", "write_better"]

Write = Callable[[Path, str], None]


@contextmanager
def one_set() -> Iterator[Write]:
    """A `write(path, text)` (atomic, each file) for the files of one run, which stand or fall together: engine
    profiles and the intervals or bands built on their predictions. Should the run stop before the block ends (an
    error, Ctrl-C, SIGTERM), every file written through it is put back as it was (a new one removed) and stderr says
    so: never new profiles beside the old bands."""
    before: dict[Path, str | None] = {}

    def write(path: Path, text: str) -> None:
        if path not in before:
            before[path] = path.read_text(encoding="utf-8") if path.is_file() else None
        write_atomic(path, text)

    try:
        yield write
    except BaseException:
        for path, text in before.items():
            if text is None:
                path.unlink(missing_ok=True)
            else:
                write_atomic(path, text)
        if before:
            click.echo(f"parity: stopped before the run's end, so none of its refits is kept: "
                       f"{', '.join(map(str, before))} put back as they were", err=True)
        raise


def write_better(refits: Sequence[Refit], folder: Path, write: Write) -> None:
    """Each refit written under `folder` and named on stderr, but for one that fits its rows worse than the file in
    use (Refit.worse): that one is named with both losses and not written, so an under-iterated fit never overrides
    a better profile."""
    kept = []
    for refit in refits:
        if refit.worse:
            click.echo(f"{refit.summary}; not written: the profile in use fits the same rows better "
                       f"({refit.loss_replaced:.3f}; more --iterations may beat it)", err=True)
        else:
            kept.append(refit)
    for refit, path in zip(kept, write_refits(kept, folder, write)):
        click.echo(f"{refit.summary}; wrote {path}", err=True)
