"""engine_kernels.toml's text: each entry's stored time_ratio read, and the text with derived ratios and their
machine-written sentences written in, line by line so that its comments and layout stay."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from parity.derive_kernels.solve import Derived


# The machine-written sentence that closes each derived entry's derivation text, replaced on every --write.
SENTENCE = "Derived against the stored profile (scripts/derive_engine_kernels.py): "


# The file: entries found and rewritten line by line, so its comments and layout stay -----------------------------

_KEY = re.compile(r'^(\w+) = (.*)$')


def _blocks(text: str) -> list[tuple[int, int, dict[str, str]]]:
    """(first line, end line, raw values by key) of each [[kernel]] entry of engine_kernels.toml's text."""
    lines = text.split("\n")
    starts = [i for i, line in enumerate(lines) if line.strip() == "[[kernel]]"]
    out = []
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        raw = {}
        for line in lines[start + 1:end]:
            match = _KEY.match(line)
            if match:
                raw[match.group(1)] = match.group(2)
            elif line.startswith("#") or line.startswith("["):
                break
        out.append((start, end, raw))
    return out


def _entry(raw: Mapping[str, str]) -> tuple[str, str, str, str]:
    return tuple(raw.get(k, '""').strip('"') for k in ("engine", "since", "stack", "op"))  # type: ignore[return-value]


def stored_ratios(text: str) -> dict[tuple[str, str, str, str], str]:
    """Each entry's (engine, since, stack, op) to its time_ratio as written (its decimals are its rounding)."""
    blocks = _blocks(text)
    out = {_entry(raw): raw["time_ratio"] for _, _, raw in blocks}
    if len(out) != len(blocks):
        raise ValueError("engine_kernels.toml: two entries share an (engine, since, stack, op); the derivations "
                         "cannot tell them apart")
    return out


def decimals(written: str) -> int:
    """The decimals a ratio is written to: '3.65' 2, '17.1' 1, '4' 0."""
    return len(written.split(".")[1]) if "." in written else 0


def drifted(derived: Derived, stored: Mapping[tuple[str, str, str, str], str]) -> bool:
    """Whether the derived ratio, rounded as the file writes it, differs from any entry's stored one."""
    return any(round(derived.ratio, decimals(stored[e])) != float(stored[e]) for e in derived.entries)


def rewrite(text: str, derived: Sequence[Derived]) -> str:
    """engine_kernels.toml's text with each derived entry's time_ratio at the derived ratio (to the decimals it
    was written to) and its derivation closed by one machine-written sentence (SENTENCE ...), replacing the one
    an earlier run wrote; every other line as it was."""
    by_entry = {e: d for d in derived for e in d.entries}
    lines = text.split("\n")
    for start, end, raw in _blocks(text):
        d = by_entry.get(_entry(raw))
        if d is None:
            continue
        for i in range(start + 1, end):
            if lines[i].startswith("time_ratio = "):
                lines[i] = f"time_ratio = {d.ratio:.{decimals(raw['time_ratio'])}f}"
            elif lines[i].startswith("derivation = "):
                prose = lines[i].removeprefix('derivation = "').removesuffix('"')
                prose = prose.split(SENTENCE)[0].rstrip()
                prose = prose if prose.endswith(".") else prose + "."
                figures = d.figures.replace('"', "'").replace("\\", "/")
                lines[i] = f'derivation = "{prose} {SENTENCE}{figures}."'
    return "\n".join(lines)
