"""What a prediction on a software stack other than CUDA rests on: the stack profiles (sglang-cann, vllm-rocm) whose
fitted kernel scales set the stack's software maturity (engine.measured_stack_prior), said in a prediction's notes."""

from __future__ import annotations

from parity.catalog.measurements import measurements
from parity.catalog.profiles import engine, engine_on, engines, row_groups
from parity.engine import EngineProfile, field_origins, maturity_sources
from parity.errors import CatalogError

__all__ = ["STACK_WORDS", "stack_word", "fit_text", "fitted_parameters", "maturity_note", "maturity_brief"]

# software stacks as their vendors spell them (the catalog's chips name them in lower case)
STACK_WORDS = {"cuda": "CUDA", "rocm": "ROCm", "cann": "CANN"}


def stack_word(stack: str) -> str:
    """'CANN' for 'cann': a stack as its vendor spells it (upper case where parity has no spelling)."""
    return STACK_WORDS.get(stack, stack.upper())


def fitted_parameters(profile: EngineProfile) -> tuple[str, ...]:
    """The parameters a stack profile's own rows moved from its base's values (engine.field_origins 'fitted');
    none for a profile with no base (a CUDA profile, fitted otherwise)."""
    if not profile.base:
        return ()
    return tuple(f for f, origin in field_origins(profile, engine(profile.base)).items() if origin == "fitted")


def fit_text(profile: EngineProfile) -> str:
    """What a stack profile's own values rest on: "sglang-cann: 4 parameters (gemm_scale, memory_scale,
    collective_scale, step_overhead_s) fitted on 4 deepseek-r1 runs (rows B12-*)", or "sglang-rocm: none fitted, its
    3 deepseek-r1 runs (rows AMD-*) too few" (engine.field_origins: the values its rows moved from its base's)."""
    fitted = fitted_parameters(profile)
    by_id = {r["case_id"]: r["model"] for r in measurements("serving_published")}
    models = sorted({by_id.get(row, "") for row in profile.rows} - {""})
    runs = (f"{len(profile.rows)} {models[0]} runs" if len(models) == 1 else
            f"{len(profile.rows)} runs of {', '.join(models)}")
    tags = ", ".join(ids[0] if len(ids) == 1 else f"{tag}-*" for tag, ids in row_groups(profile.rows).items())
    if not fitted:
        return f"{profile.id}: none fitted, its {runs} (rows {tags}) too few"
    return f"{profile.id}: {len(fitted)} parameters ({', '.join(fitted)}) fitted on {runs} (rows {tags})"


def _carried_sources(profile: EngineProfile, stack: str) -> tuple[tuple[EngineProfile, ...], bool]:
    """The fitted stack profiles whose maturity a catalog CUDA profile carried to `stack` runs at, and whether they
    are the stack's own (engine.maturity_sources); none for a profile outside the catalog (a user's what-if is
    carried nowhere) or not as engine_on carries it."""
    try:
        catalog_profile = engine(profile.id)
    except CatalogError:
        return (), False
    if engine_on(catalog_profile, stack) != profile:
        return (), False
    return maturity_sources(catalog_profile, stack, engines())


def maturity_note(profile: EngineProfile, stack: str) -> str:
    """The software maturity a prediction on `stack` is priced at, with the fits it rests on ('' on the profile's
    own stack, and for a what-if profile that engine_on does not carry): "CANN software maturity: sglang-cann's
    kernel scales (sglang-cann: 4 parameters (...) fitted on 4 deepseek-r1 runs (rows B12-*))". `profile` is the engine
    as priced, after catalog.engine_on: a stack profile itself, or a CUDA profile carried to the stack."""
    if profile.base:  # a stack profile priced as it is (sglang on cann: sglang-cann)
        return (f"{stack_word(profile.stack)} software maturity: {profile.id}'s own profile ({fit_text(profile)}; "
                f"every other value {profile.base}'s)")
    chosen, own = _carried_sources(profile, stack)
    if not chosen:
        return ""
    names = [f"{p.id}'s" for p in chosen]
    names_said = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    scales = (f"{names_said} kernel scales" if own and len(chosen) == 1 else
              f"the run-weighted mean of {names_said} kernel scales" if own else
              f"no {stack} profile, so the level of {names_said} kernel scales, {profile.gemm_scale:.2f} of CUDA's")
    return f"{stack_word(stack)} software maturity: {scales} ({'; '.join(fit_text(p) for p in chosen)})"


def maturity_brief(profile: EngineProfile, stack: str) -> str:
    """maturity_note in a few words, for a flag and a table's caption: "ROCm's software maturity, fitted on 22 runs
    (vllm-rocm)", or "the software maturity of the measured stacks, fitted on 29 runs (sglang-cann, vllm-rocm)" on a
    stack without fits of its own; '' where `profile` (as priced) runs at no stack's measured maturity (on its own
    stack, or a what-if)."""
    if profile.base:
        return f"{stack_word(profile.stack)}'s software maturity, {profile.id}'s own profile" if fitted_parameters(
            profile) else ""
    chosen, own = _carried_sources(profile, stack)
    if not chosen:
        return ""
    runs = sum(len(p.rows) for p in chosen)
    whose = f"{stack_word(stack)}'s software maturity" if own else "the software maturity of the measured stacks"
    return f"{whose}, fitted on {runs} runs ({', '.join(p.id for p in chosen)})"
