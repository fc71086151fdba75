"""The checked readers of a config's values (`_int`, `_get`, `_bool`) and the quoting of JSON values in messages,
which every other part of `hf` uses."""

from __future__ import annotations

import json
import math
from typing import Any

from parity.errors import ModelConfigError
from parity.hf.keys import _BOUNDS, _LIMIT, ALIASES


def _where(where: str) -> str:
    return where or "config.json"


def _named(err: ValueError, where: str) -> ModelConfigError:
    """`err` as a config error that says where it is, once: one raised by a key's own check already does."""
    return err if isinstance(err, ModelConfigError) else ModelConfigError(f"{where}: {err}")


def _get(config: dict[str, Any], name: str, default: Any = ..., where: str = "") -> Any:
    """The value of the first of `name`'s keys that is set; `default` where none is (none given: refused, a key
    present as null said to be null)."""
    for key in ALIASES.get(name, (name,)):
        if key in config and config[key] is not None:
            return config[key]
    if default is ...:
        null = next((k for k in ALIASES.get(name, (name,)) if k in config), None)
        if null is not None:
            raise ModelConfigError(f"{_where(where)}: {null} is null; parity needs its value here")
        keys = " or ".join(repr(k) for k in ALIASES.get(name, (name,)))
        raise ModelConfigError(f"{_where(where)}: missing key {keys}")
    return default


def _bool(config: dict[str, Any], key: str, default: bool, where: str = "") -> bool:
    """A true/false key: `default` where absent or null; any other JSON value ("yes", 1) is refused."""
    value = config.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ModelConfigError(f"{_where(where)}: {key} must be true or false, got {_json_text(value)}")
    return value


def _json_text(value: Any, most: int = 80) -> str:
    """`value` as its JSON file writes it (true, null, "36", [1, 2]), cut to `most` characters: a config's value
    quoted in a message as the config states it, not as Python prints it (True, None, '36')."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= most else f"{text[:most - 3]}..."


def _json_kind(value: Any) -> str:
    """What a JSON value is, in JSON's words: an array, an object, a string, a number, true/false, null."""
    return ("an array" if isinstance(value, list) else "an object" if isinstance(value, dict)
            else "a string" if isinstance(value, str)
            else "true/false" if isinstance(value, bool) else "a number" if isinstance(value, (int, float))
            else "null" if value is None else type(value).__name__)


def _object(value: Any, what: str) -> dict[str, Any]:
    """`value` where it is a JSON object; else refused, `what` naming the file and key."""
    if not isinstance(value, dict):
        raise ModelConfigError(f"{what} must be a JSON object {{...}}, got {_json_kind(value)}")
    return value


def _key(config: dict[str, Any], name: str) -> str:
    return next((k for k in ALIASES.get(name, (name,)) if config.get(k) is not None), name)


def _int(config: dict[str, Any], name: str, default: Any = ..., where: str = "", positive: bool = False) -> int:
    """A count from the config: an integer >= 0 (>= 1 when `positive`), at most its sanity bound. A value refused
    names the bound it misses, the same for -3 as for 0 where 0 is refused too ("must be an integer >= 1")."""
    value = _get(config, name, default, where)
    if value is None:
        return value
    key = _key(config, name)
    least = 1 if positive else 0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not _finite(value) \
            or value != int(value) or value < least:
        raise ModelConfigError(f"{_where(where)}: {key} must be an integer >= {least}, got {_json_text(value)}")
    if value > _BOUNDS.get(name, _LIMIT):
        shown = f"{value:g}" if abs(value) <= _FLOAT_MAX else _json_text(value, 24)
        raise ModelConfigError(f"{_where(where)}: {key} = {shown} is past parity's sanity bound "
                               f"({_BOUNDS.get(name, _LIMIT):,})")
    return int(value)


# the largest finite float: a JSON integer past it (json reads any length of digits as an int) has no float value
_FLOAT_MAX = 1.7976931348623157e308


def _finite(value: int | float) -> bool:
    """Whether a JSON number has a finite float value: not NaN or Infinity (floats), nor an integer past _FLOAT_MAX,
    which math.isfinite and every float operation refuse with an OverflowError."""
    return abs(value) <= _FLOAT_MAX if isinstance(value, int) else math.isfinite(value)


def _nonfinite(value: Any, path: str) -> str | None:
    """Path of the first NaN, infinity or integer past a float's range (_finite) inside a config value, or None."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and not _finite(value):
        return path
    if isinstance(value, dict):
        return next((p for k, v in value.items() if (p := _nonfinite(v, f"{path}.{k}" if path else str(k)))), None)
    if isinstance(value, list):
        return next((p for i, v in enumerate(value) if (p := _nonfinite(v, f"{path}[{i}]"))), None)
    return None
