"""Serving-engine profiles (parity's and the user's refits, on each software stack), what engine versions change
(defaults, kernels, host work) and the training-framework profile."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from parity import units
from parity.catalog.engine_file import profile_from
from parity.catalog.files import close_matches, data_dir, in_effect, is_user, load_all, read_toml, require, user_dir
from parity.engine import (EngineDefault, EngineHost, EngineKernel, EngineProfile, HostOps, TrainingProfile,
                           field_origins, measured_stack_prior)
from parity.errors import CatalogError

T = TypeVar("T")

__all__ = ["engines", "engine_for", "fitted_any", "unfitted_stack_profile", "engine_on", "engine_defaults",
           "engine_kernels", "engine_host", "host_ops", "ENGINE_ALIASES", "engine_user_file", "engine_user_note",
           "engine", "engine_text", "training_profile_text", "training_profile", "training_prior"]


@cache
def engines() -> tuple[EngineProfile, ...]:
    """Serving-engine profiles (data/engines/*.toml, read by section: catalog.engine_file); a profile of the same
    id in the user's folder (user_dir()/engines/, written by `parity validate --fit`) takes the place of parity's
    own."""
    out: dict[str, EngineProfile] = {}
    for data, where in load_all("engines", user=True):
        profile = profile_from(data, where)
        out[profile.id] = profile
    return tuple(out.values())


def engine_for(name: str | None, stack: str) -> EngineProfile:
    """The engine profile fitted on a software stack (`vllm` on rocm: vllm-rocm) where one exists, else the
    profile fitted on CUDA as engine.measured_stack_prior carries it to another stack (its host side as fitted,
    its kernels at the software maturity the stack's fitted profiles show, or every measured stack's where the
    stack has none). A stack profile whose rows fitted none of its values (unfitted_stack_profile: sglang-rocm)
    is no fit: it holds its base's values at the vendor libraries' kernel rates, CUDA's level, where the stack's
    measured maturity is what serve --help promises an engine without a fit there."""
    profile = _named(engine(name))
    if profile.base:
        return profile  # a stack profile named: itself on any stack, as engine_on keeps it
    for candidate in engines():
        if candidate.base == profile.id and candidate.stack == stack and fitted_any(candidate):
            return candidate
    return measured_stack_prior(profile, stack, engines())


def _named(profile: EngineProfile) -> EngineProfile:
    """The profile an engine named runs as: an unfitted stack profile named (`--engine sglang-rocm`) is its base,
    so that it runs as `--engine sglang` does, at the stack's measured maturity and flagged (it ran at CUDA's kernel
    level: MI355X 8,118 tok/s/chip on Llama-3.1-70B against 5,536, report-only tester fuzzEO 2)."""
    return engine(profile.base) if profile.base and not fitted_any(profile) else profile


def fitted_any(profile: EngineProfile) -> bool:
    """Whether a stack profile's rows moved any of its values from its base's (engine.field_origins 'fitted'); True
    for a profile that is no stack profile."""
    return not profile.base or "fitted" in field_origins(profile, engine(profile.base)).values()


def unfitted_stack_profile(name: str | None, stack: str) -> EngineProfile | None:
    """The stack profile of engine `name` on `stack` whose rows fitted none of its values (sglang-rocm: 3 rows for 4
    parameters), which engine_for passes over; None where there is none or it is fitted."""
    profile = engine(name)
    return next((p for p in engines() if p.base == profile.id and p.stack == stack and not fitted_any(p)), None)


def engine_on(profile: EngineProfile, stack: str) -> EngineProfile:
    """What the catalog profile `profile` runs as on `stack` (engine_for: its fit there, or the stack's measured
    software maturity); `profile` itself where it is a stack profile already or not the catalog's own (a
    what-if)."""
    if profile != engine(profile.id):
        return profile
    named = _named(profile)
    return named if named.base else engine_for(named.id, stack)


def _version(text: object, where: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in str(text).split("."))
    except ValueError as err:
        raise CatalogError(f"{where}: a version is numbers and dots, got {text!r}") from err


def _version_entries(where: str, table: str, build: Callable[[Mapping[str, Any], str], T]) -> tuple[T, ...]:
    """Each [[table]] entry of a by-version data file built into a value, in the file's order; a bad entry
    raises a CatalogError naming the file and the entry."""
    out = []
    for i, entry in enumerate(read_toml(data_dir() / where).get(table, ())):
        at = f"{where} entry {i + 1}"
        try:
            out.append(build(entry, at))
        except (TypeError, ValueError, units.UnitError) as err:
            raise CatalogError(f"{at}: {err}") from err
    return tuple(out)


@cache
def engine_defaults() -> tuple[EngineDefault, ...]:
    """Engines' defaults by version (data/engine_defaults.toml), in the file's order."""
    return _version_entries("engine_defaults.toml", "default", lambda entry, at: EngineDefault(
        engine=require(entry, "engine", at), since=_version(require(entry, "since", at), at),
        until=_version(entry["until"], at) if "until" in entry else None,
        min_memory_bytes=units.parse(entry["min_memory"], "bytes") if "min_memory" in entry else 0.0,
        chips=tuple(entry.get("chips", ())), context=entry.get("context", "any"),
        max_batch_size=int(entry.get("max_batch_size", 0)), max_num_tokens=int(entry.get("max_num_tokens", 0)),
        source=require(entry, "source", at)))


@cache
def engine_kernels() -> tuple[EngineKernel, ...]:
    """What engine versions run where the calibrated profiles assume today's kernels (data/engine_kernels.toml),
    in the file's order."""
    return _version_entries("engine_kernels.toml", "kernel", lambda entry, at: EngineKernel(
        engine=require(entry, "engine", at), since=_version(require(entry, "since", at), at),
        until=_version(require(entry, "until", at), at), op=require(entry, "op", at),
        time_ratio=float(require(entry, "time_ratio", at)), stack=entry.get("stack", ""),
        features=tuple(entry.get("features", ())), weights=tuple(entry.get("weights", ())),
        families=tuple(entry.get("families", ())), fp8_gemm=tuple(entry.get("fp8_gemm", ())),
        moe_backend=tuple(entry.get("moe_backend", ())), queries_per_kv=int(entry.get("queries_per_kv", 0)),
        implementation=require(entry, "implementation", at),
        source=require(entry, "source", at), derivation=require(entry, "derivation", at)))


@cache
def engine_host() -> tuple[EngineHost, ...]:
    """Host work engine versions do in every step beyond the calibrated profiles' (data/engine_host.toml), in the
    file's order."""
    return _version_entries("engine_host.toml", "host", lambda entry, at: EngineHost(
        engine=require(entry, "engine", at), since=_version(require(entry, "since", at), at),
        until=_version(require(entry, "until", at), at), stack=entry.get("stack", ""),
        step_s=units.parse(require(entry, "step", at), "s"),
        sequence_s=units.parse(require(entry, "sequence", at), "s"),
        implementation=require(entry, "implementation", at), source=require(entry, "source", at),
        derivation=require(entry, "derivation", at)))


_HOST_OP_PARTS = ("norm", "linear", "quantize", "attention", "qk_norm", "mla", "activation", "moe_routing", "moe_experts",
                  "shared_add", "step")


@cache
def host_ops(engine_id: str) -> HostOps | None:
    """The ops an engine's model code issues per part of a layer in an eager prompt step (data/host_ops.toml);
    None for an engine the file does not list."""
    where = "host_ops.toml"
    entry = read_toml(data_dir() / where).get(engine_id)
    if entry is None:
        return None
    at = f"{where} [{engine_id}]"
    try:
        return HostOps(engine=engine_id, version=require(entry, "version", at), source=require(entry, "source", at),
                       **{part: float(require(entry, part, at)) for part in _HOST_OP_PARTS})
    except (TypeError, ValueError) as err:
        raise CatalogError(f"{at}: {err}") from err


ENGINE_ALIASES = {"tensorrt-llm": "trtllm", "trt-llm": "trtllm", "trt": "trtllm", "": "generic", "none": "generic"}


def engine_user_file(profile: EngineProfile) -> Path | None:
    """The user's file (PARITY_HOME/engines/ID.toml) a profile was read from, None where it is parity's."""
    path = in_effect(f"engines/{profile.id}.toml")
    return path if is_user(path) else None


def engine_user_note(profile: EngineProfile) -> str:
    """'engine vllm: user file PATH (dated DATE), not parity's' where the user's folder holds the profile's file (it
    takes the place of parity's), for every prediction's assumptions as a user calibration is named; '' otherwise."""
    path = engine_user_file(profile)
    return f"engine {profile.id}: user file {path} (dated {profile.date}), not parity's" if path else ""


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
    return in_effect("training.toml")


def engine_text(engine_id: str) -> str:
    """The text of an engine profile's file in effect (the user's refit, else parity's), comments included."""
    return in_effect(f"engines/{engine_id}.toml").read_text(encoding="utf-8")


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
        fields = {k: v for k, v in data.items() if k not in times and k not in ("sources", "prior")}
        fields |= {name: units.parse(data[key], dimension) for key, (name, dimension) in times.items() if key in data}
        return TrainingProfile(**fields)
    except (TypeError, ValueError, units.UnitError) as err:
        raise CatalogError(f"{where}: {err}") from err


@cache
def training_prior() -> TrainingProfile:
    """The training profile with its fitted factors at their documented priors (training.toml's [prior]
    table): what the profile is when no measured row fitted it."""
    path = _training_path()
    prior = read_toml(path).get("prior", {})
    times = {"moe_layer_overhead": "moe_layer_overhead_s", "step_overhead": "step_overhead_s"}
    try:
        values = {times.get(k, k): units.parse(v, "s") if k in times else v for k, v in prior.items()}
        profile = training_profile()
        return dataclasses.replace(profile, id=f"{profile.id}-prior", measured=False, **values,
                                   method="the fitted factors at their documented priors (training.toml [prior])")
    except (TypeError, ValueError, units.UnitError) as err:
        raise CatalogError(f"{path.name} [prior]: {err}") from err
