"""Ways a serving case lies outside what the model was fitted and checked on (case_flags): past the context window, a
GEMM rate not measured, an emulated format or KV cache, an unfitted engine, TP over scale-out, MTP unlike its fit."""

from __future__ import annotations

from collections.abc import Sequence

from parity import catalog
from parity.engine import EngineProfile
from parity.cost import emulation, math_unit
from parity.dtypes import format_named
from parity.flags import Flag
from parity.hardware import Calibration, Chip, System, chip_text, package_id, per_die
from parity.model import Model
from parity.plan import Layout
from parity.uncertainty.chips import (_calibration_placed, chip_calibrated, foreign_calibration_flag, specs_flag,
                                      status_flag, user_file_flag)
from parity.uncertainty.what_if import idle_units_flag, what_if_changes, what_if_flag

# engines that run on no other software stack than CUDA: TensorRT-LLM is NVIDIA's library for its GPUs (its docs'
# supported hardware lists NVIDIA GPUs alone); priced on another vendor's chip, a case says it does not run there
CUDA_ONLY = frozenset({"trtllm"})


def context_flags(model: Model, tokens: float) -> list[Flag]:
    """A flag when a request of `tokens` (prompt + output) runs past the model's context window (its config's,
    RoPE scaling included: Model.context_window): the engine would refuse it unless started beyond its config
    (e.g. with YaRN), so the prediction prices a run the model was not set up for. Nothing where the window is
    unknown (0)."""
    window = model.context_window
    if window and tokens > window:
        return [Flag("past the context window",
                     f"sequences of {tokens:,.0f} tokens, {tokens - window:,.0f} past {model.name}'s context window of "
                     f"{window:,} ({model.context_window_basis})",
                     f"{tokens:,.0f}-token sequences, past the {window:,}-token context window")]
    return []


def flag_note(raised: Sequence[Flag]) -> list[str]:
    """case_flags of a best configuration in the few words a table's note gives them (`compare`, `fleet`; the
    whole flags are in their JSON): the flags with a brief (past the context window, an uncalibrated chip and its
    basis, its specs assumed, a GEMM format's rate not measured, an engine profile fitted only with or without MTP or
    on another stack, training never checked on the family). Other flags (the generic engine, a far layout) hold for
    most rows of such tables and are left to the JSON."""
    return list(dict.fromkeys(f.brief for f in raised if f.brief))


def case_flags(systems: Sequence[tuple[System, Calibration | None]], model: Model, engine: EngineProfile,
               layouts: Sequence[Layout], mtp_tokens: int = 0, context_tokens: float = 0,
               weights: str = "", expert_weights: str = "", kv_cache: str = "") -> tuple[Flag, ...]:
    """Ways a serving case (a model on these systems' workers of these layouts; each system with the
    calibration the case uses, None for the catalog's; requests of `context_tokens` prompt + output tokens;
    `weights` its weight format, `expert_weights` its experts' where they differ, `kv_cache` its KV cache's) lies
    outside what the model was fitted and checked on."""
    out = list(model.flags)  # config keys parity does not model ("unmodelled: KEY")
    out += context_flags(model, context_tokens)
    for system, cal in {s.id: (s, c) for s, c in systems}.values():
        chip = system.chip
        cal = cal or catalog.calibration(chip)
        out += filter(None, [what_if_flag(system), idle_units_flag(system, model), user_file_flag(system)])
        first, last = _calibration_placed(chip, cal)
        out += filter(None, [first, foreign_calibration_flag(chip, cal),
                             weights and unmeasured_gemm(cal, chip, weights)])
        out += filter(None, [assumed_emulation(cal, chip, (weights, expert_weights)),
                             kv_cache and kv_cache_flag(chip, kv_cache)])
        out += filter(None, [status_flag(chip), specs_flag(chip), last])
    used = model.features - (set() if mtp_tokens else {"mtp"})  # MTP layers unused: no flag
    scored = catalog.validated_features(fitted=False)
    if never := sorted(used - scored):
        out.append(Flag("features never validated", f"features never validated: {', '.join(never)}"))
    if unfitted := sorted((used & scored) - catalog.validated_features()):  # scored on never-fitted rows alone
        out.append(Flag("features no fit saw", f"features no fit saw: {', '.join(unfitted)} (scored on never-fitted "
                                               "rows: docs/accuracy.md)"))
    if any(l.pp > 1 for l in layouts) or any(l.chips > 64 for l in layouts):
        out.append(Flag("layout far from measured ones",
                        "layout far from measured ones (pipeline parallel or over 64 chips per worker)"))
    out += _scale_out_tp(systems, layouts)
    chip = systems[0][0].chip
    if unfitted := _unfitted_engine(engine, chip.software_stack):
        out.append(unfitted)
    elif chip.software_stack and (engine.base or engine.id) in CUDA_ONLY and chip.software_stack != "cuda":
        said = (f"engine profile {engine.id} does not run on {chip.software_stack} (NVIDIA's TensorRT-LLM builds on "
                "CUDA alone): priced as if it did")
        out.append(Flag(said, said, f"{engine.id} does not run on {chip.software_stack}"))
    elif chip.software_stack and engine.stack != chip.software_stack:
        said = f"engine profile {engine.id} fitted on {engine.stack}, not on {chip.software_stack}"
        # briefed in a table's note: unlike the generic engine's flag, it holds for the rows of one stack only
        out.append(Flag(said, said, f"{engine.id} fitted on {engine.stack}"))
    out += _mtp_beyond_fit(engine, mtp_tokens)
    return tuple(out)


def _unfitted_engine(engine: EngineProfile, stack: str) -> Flag | None:
    """A flag where no measurement fitted the engine as priced on `stack`: the generic prior, a profile not measured,
    a stack profile whose rows were too few to fit any value (catalog.fitted_any: sglang-rocm), or a CUDA profile
    carried to a stack whose own profile of it is such a one (catalog.engine_for passes it over for the stack's
    measured maturity); each widens the interval alike. Where the engine runs at a stack's fitted software maturity,
    the flag says so (catalog.maturity_brief) in its closing clause, Flag.maturity: only the rest of the engine is
    unfitted."""
    own = (engine.base or engine.id) in {p.id for p in catalog.engines()}
    idle = engine if engine.base and not catalog.fitted_any(engine) else (
        catalog.unfitted_stack_profile(engine.id, stack) if stack and own and engine.stack != stack else None)
    if idle is not None:
        why = catalog.fit_text(idle).removeprefix(f"{idle.id}: ")
        at = f", at {catalog.maturity_brief(engine, stack)}" if idle is not engine else ""
        carried = f": {engine.id} fitted on {engine.stack}{at}" if idle is not engine else ""
        said = f"engine profile {idle.id} not fitted to measurements ({why}){carried}"
        return Flag(said, said, maturity=at)
    if engine.id == "generic" or not engine.measured:
        maturity = catalog.maturity_brief(engine, stack) if own else ""
        at = f"; its kernels at {maturity}" if maturity else ""
        said = f"engine profile {engine.id} not fitted to measurements{at}"
        return Flag(said, said, maturity=at)
    return None


def _scale_out_tp(systems: Sequence[tuple[System, Calibration | None]], layouts: Sequence[Layout]) -> list[Flag]:
    """A flag where a layout's tensor-parallel group is wider than a system's scale-up domain (in ranks of a die,
    hardware.per_die), so its all-reduces run hierarchically over scale-out, on a chip family no scored serving run
    had such a group on (catalog.scale_out_tp_families: DeepSeek-R1 at TP 16 on two H100 nodes is measured)."""
    measured = catalog.scale_out_tp_families()
    out = []
    for system in {s.id: s for s, _ in systems}.values():
        domain, family = per_die(system).scale_up_domain_chips, system.chip.family
        tp = max((l.tp for l in layouts), default=1)
        if tp <= domain or family in measured:
            continue
        name = system.id.removesuffix("-per-die")
        out.append(Flag("tensor parallel over scale-out",
                        f"tensor parallel over scale-out: a TP group of {tp} spans {-(-tp // domain)} scale-up domains "
                        f"of {domain} ranks on {name}, which no measured run on the {family} family did (measured on: "
                        f"{', '.join(sorted(measured)) or 'none'})", f"TP over scale-out unmeasured on {family}"))
    return out


# what the flag's short form means, as every caption that explains it says it (compare, fleet, the HTML report): the
# rule unmeasured_gemm raises it by, in figure_source's terms ('parity show CHIP' traces the same sources)
UNMEASURED_GEMM_WORDS = ("'X GEMM rate not measured': no kernel figure of the chip itself measured format X's GEMM "
                         "rate: it is another chip's measured rate moved by the fits' ratios, or no chip its "
                         "calibration draws on measured X (the flag's whole text, in --format json, says which; "
                         "'parity show CHIP' traces each figure)")


def unmeasured_gemm(cal: Calibration, chip: Chip, weights: str) -> Flag | None:
    """A flag when the GEMM rate a weight format runs at on a chip was not measured on the chip itself: measured on
    no chip of its calibration's lineage (catalog.figure_source: the fits it moved from), or another chip's
    measurement moved by a fit's ratios rather than kept, else None (UNMEASURED_GEMM_WORDS). It says what the
    calibration measured: one that measured GEMM formats itself (rows of kernels_published.csv, or microbenchmark
    points) names them, as 'family-cdna4 measures bf16, fp4, fp8'; an inherited one names the chips it measured
    ('family-cdna3, which it inherits, measures fp8 on amd-mi300x'); then where the rate comes from: the chip that
    measured it ('bf16 is the rate nvidia-h200-sxm measured, moved by the fits' ratios', as `show` traces it), or
    none ('no chip its calibration draws on measured int8', on an H200; '...: it moved with the formats measured',
    on a B200). Raised beside an uncalibrated chip's own flag too: FP4 on an Ascend 950 runs the Da Vinci family's
    rate, which no chip with an FP4 unit measured. It widens as any flag (2), not as the chip's calibration status
    (calibration_grade), which counts the chip's inherited figures already: the H20 is partly fitted because its FP8
    rate, among others, is the H200's."""
    math, _ = math_unit(format_named(weights), chip)
    source = catalog.figure_source(chip, cal, f"GEMM {math}")
    if source.how in ("fitted", "prior") or (source.how == "inherited" and not source.moved):
        return None
    points = {name.split(".", 1)[1] for name in cal.measured_fields if name.startswith("gemm_efficiency.")}
    measured = points or catalog.measured_gemm_formats(cal.rows)
    kind = f"{math} GEMM rate not measured on {chip_text(chip)}"
    if cal.blend:  # each part's rate as it came: a blend with one moved or unmeasured is no measured rate
        return Flag(kind, f"{kind} (a blend of calibrations: " + "; ".join(
            f"{weight:.2f} of {part.id}, {_gemm_source_text(catalog.figure_source(chip, part, f'GEMM {math}'))}"
            for part, weight in cal.blend) + ")", f"{math} GEMM rate not measured")
    own = bool(measured and (chip_calibrated(chip, cal) or points))  # the chip's own calibration measured formats
    if own:
        drawn = f"{cal.id} measures {', '.join(sorted(measured))}"
    else:
        figures = [f for f in catalog.calibration_statement(chip, cal).figures
                   if f.figure.startswith("GEMM ") and f.calibration == cal.id]  # what the calibration measured
        on = sorted({c for f in figures for c in f.chips} - {package_id(chip)})
        maths = ", ".join(sorted(f.figure.removeprefix("GEMM ") for f in figures))
        drawn = (f"{cal.id}{', which it inherits,' if on else ''} measures {maths}"
                 + (f" on {', '.join(on)}" if on else "") if figures else f"{cal.id} measures no GEMM format")
    if source.how == "inherited":
        how = f"{math} is the rate {', '.join(source.chips)} measured, moved by the fits' ratios"
    else:
        kept = f": it was kept from {cal.unmeasured_from or 'the value before'}"
        how = f"no chip its calibration draws on measured {math}" + (
            (kept if points else ": it moved with the formats measured") if own else "")
    return Flag(kind, f"{kind} ({drawn}; {how})", f"{math} GEMM rate not measured")


def _gemm_source_text(source: catalog.FigureSource) -> str:
    """How a GEMM rate came to a calibration, in words: 'measured on nvidia-h200-sxm', 'moved from nvidia-h200-sxm's
    by the fits' ratios', 'measured on no chip'."""
    if source.how == "unmeasured" or not source.chips:
        return "measured on no chip"
    chips = ", ".join(source.chips)
    return f"moved from {chips}'s by the fits' ratios" if source.moved else f"measured on {chips}"


def kernel_figures_note(system: System, cal: Calibration) -> str:
    """'kernel figures: partly: fitted on it (...): GEMM bf16/fp8/fp4; inherited from amd-mi300x (...): ...'
    (catalog.calibration_statement): which kernel figures of the chip its calibration fitted on the chip and which
    it inherits, for a prediction's notes beside its calibration label; a what-if's are its base chip's, named; ''
    for a chip on a prior (its label says so)."""
    statement = catalog.calibration_statement(system.chip, cal)
    if statement.verdict == "prior":
        return ""
    if what_if_changes(system):
        return (f"kernel figures of the base chip {statement.chip} (nothing measured the what-if): "
                + statement.text.replace("fitted on it", f"fitted on {statement.chip}"))
    return f"kernel figures: {statement.text}"


def assumed_emulation(cal: Calibration, chip: Chip, formats: Sequence[str]) -> Flag | None:
    """A flag where the chip runs any of `formats` emulated on a wider unit (cost.emulation): at the calibration's
    emulation_efficiency, which no calibration measures (parity calibrate and the family fits carry generic.toml's
    prior, "an assumption", through), so the format's rate rests on it; None where all run natively. Raised on an
    uncalibrated chip too, beside its own flag: the calibration it inherits measures no emulated rate either."""
    emulated = {name: unit for name in dict.fromkeys(filter(None, formats))
                if (unit := emulation(name, chip)[0])}
    if not emulated:
        return None
    said = ", ".join(f"{name} on {unit}" for name, unit in emulated.items())
    rate = f"{cal.emulation_efficiency:g}"
    return Flag("emulation rate assumed", f"emulation rate assumed: {said} at {rate} of the wider unit, no "
                f"measurement ({cal.id} carries the prior)", f"emulation rate assumed ({rate})")


# KV cache formats engines dequantise on a chip without their math and were measured so: FP8 caches on Ampere (vLLM
# "is not limited on Hopper. Volta/Ampere are both ok and have been tested", vllm-project/vllm#2279; TensorRT-LLM's
# quantization hardware support matrix ticks FP8 KV cache on Ampere), and the 16- and 32-bit ones
_KV_DEQUANTISED = ("fp8", "bf16", "fp16", "fp32")
# where engines run a 4-bit float KV cache: TensorRT-LLM's hardware support matrix ticks NVFP4 KV cache on Blackwell
# sm100/103 only (docs/source/features/quantization.md), vLLM's --kv-cache-dtype nvfp4 (0.21.0, vllm-project/vllm#40177)
# takes FlashInfer's SM100 trtllm-gen path only (vllm-project/vllm#49011)
_FP4_KV_ENGINES = "engines run NVFP4 KV caches on Blackwell only (TensorRT-LLM: sm100/103; vLLM 0.21+: SM100)"


def kv_cache_flag(chip: Chip, kv_cache: str) -> Flag | None:
    """A flag where a KV cache format has no unit of its own on the chip (nvfp4 or mxfp4 on an H100), or is a
    weight-only format (int4): parity prices such a cache as attention reading it dequantised, its bytes shrunk but
    its math no faster, which no measured run checks, and which engines may not run at all (_FP4_KV_ENGINES); None
    for a cache of fp8, 16 or 32 bits (_KV_DEQUANTISED) and one the chip has the unit for (int8 on an H100)."""
    fmt = format_named(kv_cache)
    if fmt.weight_only:
        kind = "KV cache in a weight-only format"
        return Flag(kind, f"KV cache {fmt.name}: a weight-only format ({fmt.description}); priced as attention "
                    "reading it dequantised (fewer bytes, no faster math), which no measured run stores its KV cache "
                    "in", f"KV {fmt.name}: a weight format")
    if fmt.feature in _KV_DEQUANTISED or not math_unit(fmt, chip)[1]:
        return None
    kind = "KV cache format without a unit"
    return Flag(kind, f"KV cache {fmt.name} without a unit: {chip_text(chip)} has no {fmt.feature.upper()} unit; "
                "priced as attention reading it dequantised (fewer bytes, no faster math), which no measured run "
                "checks" + (f"; {_FP4_KV_ENGINES}" if fmt.math == "fp4" else ""), f"KV {fmt.name} emulated")


def _mtp_beyond_fit(engine: EngineProfile, mtp_tokens: int) -> list[Flag]:
    """A flag when a stack profile's fitting rows all ran multi-token prediction and the case does not, or the
    reverse: its step-time scales absorbed the assumed MTP acceptance, which the case then leaves out (or adds).
    None where the rows fitted none of its values (sglang-rocm's three: its values are its base's and the stack
    prior's, which no fit on those rows moved)."""
    if not catalog.fitted_parameters(engine):
        return []
    fitted = [r for r in catalog.measurements("serving_published") if r["case_id"] in set(engine.rows)]
    if not fitted:
        return []
    with_mtp = [float(r.get("mtp_tokens") or 0) > 0 for r in fitted]
    if all(with_mtp) and not mtp_tokens:
        fitted_with, here = "with", "without MTP"
    elif not any(with_mtp) and mtp_tokens:
        fitted_with, here = "without", f"with MTP ({mtp_tokens} draft token{'s' if mtp_tokens > 1 else ''} a step)"
    else:
        return []
    kind = f"engine profile {engine.id} fitted only on runs {fitted_with} MTP"
    return [Flag(kind, f"{kind} ({len(fitted)} rows), run here {here}",
                 f"{engine.id} fitted only on runs {fitted_with} MTP")]
