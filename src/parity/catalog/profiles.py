"""Calibrations (parity's and the user's), serving-engine profiles and the training profile."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from parity import units
from parity.catalog.files import close_matches, data_dir, load_all, read_toml, require, user_dir
from parity.engine import EngineProfile, TrainingProfile
from parity.errors import CatalogError
from parity.hardware import Calibration, Chip

__all__ = ["calibrations", "calibration", "prior_calibration", "engines", "ENGINE_ALIASES", "engine", "training_profile",
           "training_profile_text"]


def _calibration_from(data: dict[str, Any], where: str) -> Calibration:
    scalars = ("memory_efficiency", "grouped_gemm_memory_efficiency", "attention_prefill_efficiency",
               "attention_decode_efficiency", "stream_efficiency", "emulation_efficiency", "collective_efficiency")
    try:
        return Calibration(
            id=require(data, "id", where), chip=require(data, "chip", where), date=str(require(data, "date", where)),
            method=require(data, "method", where), measured=bool(require(data, "measured", where)),
            gemm_efficiency=dict(require(data, "gemm_efficiency", where)),
            kernel_overhead_s=units.parse(require(data, "kernel_overhead", where), "s"),
            source=data.get("source", ""), points=tuple(data.get("points", ())),
            **{name: float(require(data, name, where)) for name in scalars})
    except (ValueError, units.UnitError) as err:
        raise CatalogError(f"{where}: {err}") from err


@cache
def calibrations() -> tuple[Calibration, ...]:
    """Every calibration file: parity's own (data/calibration/*.toml, the generic prior included) and the
    user's (user_dir()/calibration/*.toml)."""
    return tuple(_calibration_from(data, where) for data, where in load_all("calibration", user=True))


def prior_calibration() -> Calibration:
    """The generic prior: the efficiencies of any chip without a calibration of its own."""
    return next(c for c in calibrations() if c.chip == "*")


def calibration(the_chip: Chip) -> Calibration:
    """The newest calibration measured on this chip, else the generic prior."""
    own = [c for c in calibrations() if c.chip == the_chip.id]
    if own:
        return max(own, key=lambda c: c.date)
    return prior_calibration()


@cache
def engines() -> tuple[EngineProfile, ...]:
    """Serving-engine profiles (data/engines/*.toml); a profile of the same id in the user's folder
    (user_dir()/engines/, written by `parity validate --fit`) takes the place of parity's own."""
    out: dict[str, EngineProfile] = {}
    for data, where in load_all("engines", user=True):
        try:
            times = ("kernel_overhead", "step_overhead", "ttft_overhead")
            optional = ("collective_latency", "disagg_ttft_overhead")
            fields = {k: v for k, v in data.items() if k not in times + optional}
            fields |= {f"{k}_s": units.parse(require(data, k, where), "s") for k in times}
            fields |= {f"{k}_s": units.parse(data[k], "s") for k in optional if k in data}
            profile = EngineProfile(**fields)
        except (TypeError, ValueError, units.UnitError) as err:
            raise CatalogError(f"{where}: {err}") from err
        out[profile.id] = profile
    return tuple(out.values())


ENGINE_ALIASES = {"tensorrt-llm": "trtllm", "trt-llm": "trtllm", "trt": "trtllm", "": "generic", "none": "generic"}


def engine(name: str | None) -> EngineProfile:
    """An engine profile by id (trtllm, vllm, sglang, generic); empty or None gives generic."""
    key = ENGINE_ALIASES.get((name or "").strip().lower(), (name or "").strip().lower())
    for profile in engines():
        if profile.id == key:
            return profile
    hints = close_matches(key, [p.id for p in engines()])
    raise CatalogError(f"unknown engine {name!r}; known: {', '.join(p.id for p in engines())}"
                       + (f"; did you mean {hints[0]}?" if hints else ""))


def _training_path() -> Path:
    own = user_dir() / "training.toml"
    return own if own.is_file() else data_dir() / "training.toml"


def training_profile_text() -> str:
    """The text of the training profile in effect (the user's refit, else parity's), comments included."""
    return _training_path().read_text(encoding="utf-8")


@cache
def training_profile() -> TrainingProfile:
    """The training-framework profile (data/training.toml, or the user's refit of it in user_dir()):
    overlap, optimizer and memory assumptions."""
    path = _training_path()
    where = str(path) if path.parent == user_dir() else "training.toml"
    data = read_toml(path)
    times = {"memory_reserve": ("memory_reserve_bytes", "bytes"), "step_overhead": ("step_overhead_s", "s"),
             "moe_layer_overhead": ("moe_layer_overhead_s", "s")}
    try:
        fields = {k: v for k, v in data.items() if k not in times and k != "sources"}
        fields |= {name: units.parse(data[key], dimension) for key, (name, dimension) in times.items() if key in data}
        return TrainingProfile(**fields)
    except (TypeError, ValueError, units.UnitError) as err:
        raise CatalogError(f"{where}: {err}") from err
