"""How a chip or a system is named: its id, its aliases and its display name, as commands take them (resolve), and
the load check that no two files give one name."""

from __future__ import annotations

from collections.abc import Iterable

from parity.catalog.files import close_matches, name_key
from parity.errors import CatalogError
from parity.hardware import Chip, System

__all__ = ["Entry", "resolve", "close_ids", "check_names"]

Entry = Chip | System


def check_names(items: Iterable[Chip | System], files: Iterable[str], kind: str) -> None:
    """Refuse a name that two files give, naming both: an id or an alias, and a display name that is another file's id
    or alias (resolve takes each). A user's file that takes a catalog name would price under it numbers that are not
    parity's (a chip named "H100" was shown for `parity show h100`: report-only tester fuzzES 1), and two files of one
    id would leave one of them unused, unsaid. A file's display name may be its own id or alias ("H100 SXM" of
    nvidia-h100-sxm), and two files' display names may be alike (a copy of a file under a new id): resolve refuses
    that name as ambiguous, naming both ids."""
    seen: dict[str, tuple[str, bool]] = {}
    for item, where in zip(items, files):
        given = {name_key(n): (n, where, False) for n in reversed((item.id, *item.aliases))}
        given.setdefault(name_key(item.name), (item.name, f"{where} (name = {item.name!r})", True))  # ids first
        for key, (name, giver, title) in given.items():
            if key in seen and not (title and seen[key][1]):
                each = ("a chip and a system need names of their own, as 'parity show' takes either" if " or " in kind
                        else f"each {kind} needs names of its own")
                if title or seen[key][1]:
                    each += ", and commands take a display name as they take an id"
                raise CatalogError(f"{kind} name {name!r} is given by both {seen[key][0]} and {giver}: {each} "
                                   "(rename or remove one)")
            seen.setdefault(key, (giver, title))


def resolve(name: str, items: Iterable[Entry], kind: str) -> Entry:
    """The item whose id, alias or title is `name` (case-insensitive; '_', '-' and inner spaces alike), its vendor's
    first word before it or not ('NVIDIA H100' as h100, 'AMD Instinct MI300X' as the chip's title: fuzz round DS 4).
    An id or an alias wins over a title (a title is read only where no id or alias is `name`, and only where one item
    has it: a chip titled "H100" answered `h100` before nvidia-h100-sxm, first in id order: fuzzES 1). A name matching
    none is refused with the closest items' ids (an alias's item, once)."""
    pool = list(items)
    wanted = name_key(name)
    if not wanted:  # an empty name is like every name a little: no hints, a plain refusal
        raise CatalogError(f"no {kind} name given: name one ('parity {kind}s' lists them)")
    # a vendor's word is read off a name typed with spaces only ('NVIDIA H100'): 'nvidia-gb200', the chip's id, is
    # not the system gb200 with its vendor before it
    casual = any(c.isspace() for c in name.strip())
    for titles in (False, True):
        found = [item for item in pool if _answers(item, wanted, casual, titles)]
        if titles and len(found) > 1:  # two files' titles (load refuses it; a pool built in code may hold it)
            raise CatalogError(f"{kind} name {name!r} is the title of {' and '.join(i.id for i in found)}: name one "
                               "by its id")
        if found:
            return found[0]
    hints = close_ids(name, pool)
    hint = f"; did you mean {', '.join(hints)}?" if hints else f"; see 'parity {kind}s'"
    raise CatalogError(f"unknown {kind} {name!r}{hint}")


def _answers(item: Entry, wanted: str, casual: bool, titles: bool) -> bool:
    """Whether `item`'s id or aliases (its title, with `titles`) are `wanted` (a name_key), or with `casual` are it
    less the item's vendor's first word."""
    keys = {name_key(n) for n in ((item.name,) if titles else (item.id, *item.aliases))}
    return wanted in keys or (casual and _without_vendor(wanted, item) in keys)


def close_ids(name: str, items: Iterable[Entry]) -> list[str]:
    """The ids of up to four items whose id or aliases look like `name` (close_matches), each once: 'Ascend 910'
    listed ascend910c, ascend910b, ascend-910c, ascend-910b, two chips' aliases twice (fuzz round DS 9)."""
    owner = {n: item.id for item in items for n in (item.id, *item.aliases)}
    return list(dict.fromkeys(owner[n] for n in close_matches(name, list(owner), n=12)))[:4]


def _without_vendor(wanted: str, item: Entry) -> str:
    """`wanted` (a name_key) less its item's vendor's first word before it ('nvidia-h100' -> 'h100'), else itself."""
    vendor = getattr(item, "vendor", "") or getattr(getattr(item, "chip", None), "vendor", "")
    first = name_key(vendor.split()[0]) if vendor.strip() else ""
    return wanted.removeprefix(f"{first}-") if first else wanted
