"""What a serving case's engine version changes: its default settings, the kernels it runs instead of the
calibrated ones and the host work it adds, each with the note that names it."""

from __future__ import annotations

from parity import catalog
from parity.engine import EngineHost, EngineKernel, EngineProfile, engine_version, version_defaults, version_host, \
    version_kernels
from parity.hardware import System
from parity.model import Model
from parity.predict.case import Case


def _version_defaults(engine: EngineProfile, case: Case, system: System) -> tuple[tuple[tuple[str, float], ...], str]:
    """What the case's engine version sets by default (catalog.engine_defaults) and the case does not set, as
    engine settings, and a note naming them; none where the case names no version of this engine."""
    name = engine.base or engine.id
    version = engine_version(name, case.engine_version)
    if version is None:
        return (), ""
    chip = system.chip
    found = version_defaults(catalog.engine_defaults(), name, version, chip.memory_bytes, chip.id, case.offline)
    unset = {k: v for k, v in found.items() if k not in dict(case.engine_settings)}
    said = ", ".join(f"{k} {v:,}" for k, v in unset.items())
    return tuple(unset.items()), (f"{name} {'.'.join(map(str, version))} defaults{' (offline)' if case.offline else ''}:"
                                  f" {said}" if unset else "")


def _bare_version(engine: EngineProfile, case: Case) -> tuple[str, tuple[int, ...] | None]:
    """(the engine's base id, the case's version of it), a bare version (as aiconfigurator's rows give it) naming
    the case's own engine; None where the case names no version of this engine. Version kernels and host work
    read it so; version defaults do not take a bare version."""
    name = engine.base or engine.id
    return name, engine_version(name, case.engine_version, bare=True)


def _version_kernels(engine: EngineProfile, case: Case, system: System, model: Model, weights: str,
                     moe_backend: str = "") -> tuple[tuple[EngineKernel, ...], str]:
    """What the case's engine version runs instead of the calibrated kernels (catalog.engine_kernels) for dense
    weights in format `weights` on the system's chip family with the case's block-FP8 GEMM setting and the workers'
    fused-MoE backend `moe_backend`, and a note naming
    them; none where the case names no version of this engine (a bare version, as aiconfigurator's rows give it,
    names the row's own engine)."""
    name, version = _bare_version(engine, case)
    if version is None:
        return (), ""
    found = version_kernels(catalog.engine_kernels(), name, version, system.chip.software_stack, model.features,
                            weights, system.chip.family, case.fp8_gemm, moe_backend)
    said = "; ".join(f"{k.op} x{k.ratio_for(model.queries_per_kv_head):.3g} ({k.implementation})" for k in found)
    return found, (f"{name} {'.'.join(map(str, version))} kernels: {said}" if found else "")


def _version_host(engine: EngineProfile, case: Case, system: System) -> tuple[EngineHost | None, str]:
    """Host work the case's engine version does in every step beyond the calibrated profile's (catalog.engine_host),
    and a note naming it; none where the case names no version of this engine."""
    name, version = _bare_version(engine, case)
    if version is None:
        return None, ""
    found = version_host(catalog.engine_host(), name, version, system.chip.software_stack)
    if found is None:
        return None, ""
    return found, (f"{name} {'.'.join(map(str, version))} host: {found.step_s * 1e3:.3g} ms a step + "
                   f"{found.sequence_s * 1e3:.3g} ms a sequence, not overlapped ({found.implementation})")
