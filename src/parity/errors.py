"""The error hierarchy: every user mistake is one of these, and the CLI prints it as one line."""

import numbers

__all__ = ["ParityError", "UnitError", "CatalogError", "ModelConfigError", "InfeasiblePlan", "PolicyError",
           "InputError", "expect", "is_real", "is_whole"]


class ParityError(Exception):
    """Base of every error parity raises on purpose (bad input, impossible plan)."""


class UnitError(ParityError, ValueError):
    """A quantity string that cannot be read without guessing, e.g. '4.8 TBps'."""


class CatalogError(ParityError, LookupError):
    """An unknown chip, system or model name, or a malformed catalog entry."""


class ModelConfigError(ParityError, ValueError):
    """A Hugging Face config.json that is malformed or lacks a needed key."""


class InfeasiblePlan(ParityError, ValueError):
    """A layout that does not divide the model, or a model that does not fit in memory."""


class PolicyError(ParityError, ValueError):
    """An export-control question that cannot be answered as asked (bad option, unknown rule)."""


class InputError(ParityError, ValueError):
    """An argument no question can mean: a length below one token, a negative or NaN target or demand, a chip or
    system field that does not exist, or a value of the wrong type or not finite (hardware.what_if)."""


def expect(name: str, value: object, kind: type, lookup: str) -> None:
    """Refuse in one line (InputError) a public function's argument that is not a `kind` record, e.g. a system's
    name where its System goes; `lookup` says how to get one (the catalog call)."""
    if not isinstance(value, kind):
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        article = "an" if kind.__name__[0] in "AEIOU" else "a"
        raise InputError(f"{name} must be {article} {kind.__name__} ({lookup}), got {type(value).__name__} {shown}")


def is_real(value: object) -> bool:
    """Whether `value` is a real number, a bool not counted (True is not 1 token or 1 W)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_whole(value: object) -> bool:
    """Whether `value` is a whole number (an integral type), a bool not counted."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
