"""Which parity wrote a report: its version, and the commit of its source tree where it runs from a git checkout,
read from the checkout's files (no git program needed; none found: the version alone)."""

from __future__ import annotations

import re
from pathlib import Path

import parity

__all__ = ["source_commit", "version_text"]

_HASH = re.compile(r"[0-9a-f]{40}")
# the checkout this module lies in, where it runs from one (src/parity/report/version.py)
_CHECKOUT = Path(__file__).resolve().parents[3]


def version_text(checkout: Path = _CHECKOUT) -> str:
    """'parity 0.1.0 (commit ff82dd99a1b2)'; 'parity 0.1.0' where parity is not run from a git checkout (an
    installed wheel) or its commit cannot be read."""
    commit = source_commit(checkout) if (checkout / "src" / "parity").is_dir() else None
    return f"parity {parity.__version__}" + (f" (commit {commit[:12]})" if commit else "")


def source_commit(checkout: Path) -> str | None:
    """The commit a git checkout's HEAD names (40 hex digits), from its files: .git a folder or, in a worktree, a
    file naming one ('gitdir: PATH'); HEAD a commit (detached) or a branch, found loose under refs/ (in the worktree's
    folder or the repository's, 'commondir') or in packed-refs. None where any of these is missing or unreadable."""
    try:
        dot = checkout / ".git"
        if dot.is_file():
            said = dot.read_text().strip()
            if not said.startswith("gitdir:"):
                return None
            folder = (checkout / said.removeprefix("gitdir:").strip()).resolve()
        elif dot.is_dir():
            folder = dot
        else:
            return None
        head = (folder / "HEAD").read_text().strip()
        if not head.startswith("ref:"):
            return head if _HASH.fullmatch(head) else None
        ref = head.removeprefix("ref:").strip()
        common = folder
        if (folder / "commondir").is_file():
            common = (folder / (folder / "commondir").read_text().strip()).resolve()
        for base in dict.fromkeys((folder, common)):
            if (base / ref).is_file():
                loose = (base / ref).read_text().strip()
                return loose if _HASH.fullmatch(loose) else None
        packed = common / "packed-refs"
        if packed.is_file():
            for line in packed.read_text().splitlines():
                commit, _, name = line.partition(" ")
                if name == ref and _HASH.fullmatch(commit):
                    return commit
    except (OSError, UnicodeDecodeError):
        return None
    return None
