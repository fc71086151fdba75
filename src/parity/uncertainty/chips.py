"""A chip's own flags, whatever runs on it: its calibration status (how much of it was measured, and the words and
flags that say so), a chip not shipping, specs assumed, a package run as one device, a file of the user's."""

from __future__ import annotations

from parity import catalog
from parity.errors import ParityError
from parity.flags import CALIBRATION_REASON, Flag
from parity.hardware import Calibration, Chip, System, chip_text, is_what_if, package_id
from parity.uncertainty.bands import CALIBRATION_WIDEN
from parity.uncertainty.what_if import _package_id, what_if_changes

def calibration_on_prior(cal: Calibration) -> bool:
    """Whether `cal` is one of the priors (the generic one, or a derived prior of what measured chips achieve:
    derived-prior*, also as a leave-out rebuilds it), not a measurement of the chip or one inherited from its family
    or a sibling (an H800's from the H200, an MI325X's from CDNA3)."""
    return cal.id.startswith("derived-prior") or cal.id == catalog.prior_calibration().id


def short_basis(basis: str) -> str:
    """'inherits h200-sxm', 'inherits h20/h200-sxm blend' (catalog.blend: 'inherited from nvidia-h20 0.51 +
    nvidia-h200-sxm 0.49, blended ...') or 'derived prior' from a calibration's basis."""
    if basis.startswith("inherited from "):
        head = basis.removeprefix("inherited from ").split(" (")[0]
        if head.endswith(", blended"):
            chips = [part.split(" ")[0].split("-", 1)[-1] for part in head.removesuffix(", blended").split(" + ")]
            return f"inherits {'/'.join(chips)} blend"
        chip = head.split(" ")[0]
        return "inherits " + chip.split("-", 1)[-1]  # without the vendor, so the note wraps at 80 columns
    return "derived prior" if "derived" in basis else basis.split(":")[0]


def chip_calibrated(chip: Chip, cal: Calibration) -> bool:
    """Whether predictions on `chip` rest on a measurement of the chip itself: its calibration was measured, the
    GEMM rate and memory streaming that predictions rest on most included (Calibration.unmeasured_core: copies alone
    measure neither), or parity's serving measurements fitted it (catalog.fitted_chips). A chip that is not is
    flagged "uncalibrated chip" ("partly calibrated chip" where its measurement leaves those out), in serving and in
    training alike."""
    return calibration_kind(chip, cal) in ("kernels", "serving")


def calibration_kind(chip: Chip, cal: Calibration) -> str:
    """Which half of chip_calibrated's rule holds for `chip`: 'kernels' (its calibration measured it, the GEMM rate and
    memory streaming included), 'serving' (parity's serving runs on it fitted the engine profiles, its kernel figures
    another chip's: the H100), 'partly' (measured, but not those) or 'none'."""
    if cal.measured and not cal.unmeasured_core:
        return "kernels"
    if package_id(chip) in catalog.fitted_chips():
        return "serving"
    return "partly" if cal.unmeasured_core else "none"


def calibrated_text(chip: Chip, cal: Calibration) -> str:
    """Whether predictions on `chip` count as calibrated, and why (calibration_kind), in a few words beside its
    calibration: 'calibrated: kernel figures measured on it (nvidia-h200-sxm-measured)', 'calibrated: parity's
    serving runs on it fitted the engine profiles, though its kernel figures are inherited', 'partly calibrated:
    ...' or 'uncalibrated: ...' (the flag its predictions then carry)."""
    kind = calibration_kind(chip, cal)
    if kind == "kernels":
        return f"calibrated: kernel figures measured on it ({cal.id})"
    if kind == "serving":
        figures = ("the prior's" if calibration_on_prior(cal) else "not all measured on it" if cal.measured
                   else "inherited")
        return f"calibrated: parity's serving runs on it fitted the engine profiles, though its kernel figures are " \
               f"{figures}"
    if kind == "partly":
        return (f"partly calibrated: {cal.id} measures neither {' nor '.join(cal.unmeasured_core)} on it (its "
                "predictions are flagged 'partly calibrated')")
    return ("uncalibrated: no kernel figure measured on it, and no serving run on it fitted by parity (its predictions "
            "are flagged 'uncalibrated')")


def calibration_label(system: System, cal: Calibration) -> str:
    """'calibration: BASIS' (Calibration.label) of a prediction on `system`; a what-if's (what_if_changes) names the
    calibration as its base chip's, which nothing measured on the what-if: 'calibration: the base chip
    nvidia-h200-sxm's, not the what-if's (nothing measured it): measured on nvidia-h200-sxm (nvidia-h200-sxm-measured)'
    (the basis's 'this chip' is the base chip). A chip whose serving runs parity fitted (calibration_kind 'serving',
    graded 'fitted' by calibration_grade: the H100) says so before the calibration its kernel figures inherit:
    'calibration: fitted: parity's serving runs on it fitted the engine profiles; its kernel figures' calibration
    inherited from nvidia-h200-sxm (hopper family)', where it read 'inherited' alone beside an interval that widens
    as a fitted chip's (regression tester fixfc 6)."""
    if not what_if_changes(system):
        if calibration_kind(system.chip, cal) != "serving":
            return cal.label
        return ("calibration: fitted: parity's serving runs on it fitted the engine profiles; its kernel figures' "
                f"calibration {cal.label.removeprefix('calibration: ')}")
    chip = _package_id(system)
    return (f"calibration: the base chip {chip}'s, not the what-if's (nothing measured it): "
            + (cal.basis or cal.id).replace("this chip", chip))


def user_file_flag(system: System) -> Flag | None:
    """The flag of a system or chip read from the user's own file (PARITY_HOME/systems, PARITY_HOME/chips), whose
    specs are the user's and not parity's catalog: 'specs from your file /home/me/.parity/chips/nova-x1.toml, not
    parity's catalog'; None where both are parity's."""
    files = list(dict.fromkeys(filter(None, (system.chip.user_file, system.user_file))))
    if not files:
        return None
    return Flag("specs from your file", f"specs from your file{'s' * (len(files) > 1)} {' and '.join(files)}, not "
                "parity's catalog", "specs from your file")


def status_flag(chip: Chip) -> Flag | None:
    """The flag of a chip that is not shipping (catalog status reported, announced or roadmap): its figures are
    claims nobody has measured a part against, so its predictions rest on them; it names the source kinds of its
    figures (Chip.source_kinds: 'reported chip: derived figures' on the B30A, every number half of HGX B300's);
    None for a shipping chip."""
    if chip.status == "shipping":
        return None
    kinds = chip.source_kinds()
    return Flag(f"{chip.status} chip", f"{chip.status} chip {chip.id}: not a shipping part; its figures are "
                f"{', '.join(kinds)} (source kinds; parity show {chip.id})",
                f"{chip.status} chip: {'/'.join(kinds)} figures")


# a chip's headline figures that a prediction rests on, as specs_flag names them (a peak rate by its format); the
# format list decides which weights each chip is served in (its narrowest native format)
_SPEC_WORDS = {"native": "formats", "memory_bytes_per_s": "memory bandwidth", "memory_bytes": "memory capacity"}


def specs_flag(chip: Chip) -> Flag | None:
    """The flag of a chip with a format list, peak math rate, memory bandwidth or memory capacity that no source
    publishes, only parity's assumption (its source's kind): the spec ratios and the predictions rest on it ('specs
    assumed: formats, bf16, int8, memory bandwidth' on the MLU590; formats first, as they choose the served weights);
    None where each is published, estimated or derived from a published figure. A what-if's changes have their own
    flag (what_if_flag)."""
    assumed = sorted((r for r in chip.provenance if r.source.kind == "assumption" and r.source.id != "what-if"
                      and (r.field.startswith("peak_flop_per_s.") or r.field in _SPEC_WORDS)),
                     key=lambda r: r.field != "native")
    if not assumed:
        return None
    names = [_SPEC_WORDS.get(r.field, r.field.removeprefix("peak_flop_per_s.")) for r in assumed]
    # a format list in brackets, so its commas do not run into the next figure's (and it wraps as words)
    quoted = ", ".join(f"{name} ({r.quoted})" if r.field == "native" else f"{name} {r.quoted}"
                       for name, r in zip(names, assumed))
    plural = "s" * (len(names) > 1)
    return Flag("specs assumed", f"specs assumed on {chip_text(chip)}: {quoted}, parity's assumption{plural} where no "
                f"figure is published (parity show {package_id(chip)})", f"specs assumed: {', '.join(names)}")


def package_flag(system: System) -> Flag | None:
    """The flag of a multi-die package priced as one device (a serving case without rank_per_die, serve's
    --no-rank-per-die): its dies' memory pooled and its compute as one, which no framework of the chip runs (CANN
    exposes each 910C die as a device, and every other command runs one rank per die, hardware.per_die); None where
    the chip has one die."""
    chip = system.chip
    if chip.dies == 1:
        return None
    stack = chip.software_stack.upper() or "its software"
    return Flag("package run as one device",
                f"package run as one device: {chip.id}'s {chip.dies} dies as one {chip.memory_bytes / 1e9:,.0f} GB "
                f"device; {stack} runs one rank per die ({chip.memory_bytes / chip.dies / 1e9:,.0f} GB)",
                "package run as one device")


def chip_flags(chip: Chip, cal: Calibration, training: bool = False) -> tuple[Flag, ...]:
    """The flags of `chip` itself, whatever runs on it, by which a ratio interval's band widens (ratio_band): its
    calibration (calibration_flag), a what-if chip (hardware.is_what_if: nothing measured it; it had the width of the
    catalog chip whose calibration it borrows, report-only tester fuzzCD 1), one not shipping (status_flag), specs
    assumed (specs_flag) and, for a `training` ratio, a family no published training run was measured on
    (training_flags' 'training never checked')."""
    what_if = Flag("what-if chip", f"what-if chip {chip.id}: nothing measured it") if is_what_if(chip) else None
    return tuple(filter(None, [calibration_flag(chip, cal), what_if, status_flag(chip), specs_flag(chip),
                               _training_unchecked(chip) if training else None]))


PARTLY_FITTED = "kernel figures partly inherited"  # the kind of a partly fitted chip's flag (calibration_flag)


def calibration_grade(chip: Chip, cal: Calibration) -> str:
    """How much of what predictions on `chip` priced with `cal` rest on was measured on it, a key of CALIBRATION_WIDEN:
    'fitted' (its own kernel figures, catalog.calibration_statement, or parity's serving measurements of it,
    catalog.fitted_chips: the H200, H100, B200), 'partly' (chip_calibrated, but some kernel figures inherited: the H20,
    910B, 910C, B300, GB200, MI300X), 'inherited' (nothing measured it; its family or a sibling did: the 950PR, H800,
    MI325X) or 'prior' (nothing measured it or its family, calibration_on_prior, or its core rates keep a prior's:
    Kunlun, MetaX, Cambricon, TPU)."""
    if not chip_calibrated(chip, cal):
        source = cal.unmeasured_from or ""
        on_prior = calibration_on_prior(cal) or bool(cal.unmeasured_core) and (
            source.startswith("derived-prior") or source == catalog.prior_calibration().id)
        return "prior" if on_prior else "inherited"
    if package_id(chip) in catalog.fitted_chips():
        return "fitted"
    return "fitted" if catalog.calibration_statement(chip, cal).verdict == "fitted" else "partly"


def calibration_flag(chip: Chip, cal: Calibration) -> Flag | None:
    """The flag of a chip whose predictions rest on no measurement of its own ('uncalibrated chip'), on one that
    leaves out its core rates ('partly calibrated chip') or on kernel figures partly inherited from other chips
    (PARTLY_FITTED), each widening by its calibration_grade's CALIBRATION_WIDEN as the calibration's reason
    (widening); None for a fitted chip."""
    grade = calibration_grade(chip, cal)
    if grade == "fitted":
        return None
    widen, basis = CALIBRATION_WIDEN[grade], cal.basis or cal.id
    if grade == "partly":
        figures = catalog.calibration_statement(chip, cal).figures
        inherited = [f for f in figures if f.how == "inherited"]
        said = [f"{', '.join(f.figure for f in inherited if f.chips == chips)} from {', '.join(chips)}"
                for chips in dict.fromkeys(f.chips for f in inherited)]
        if unmeasured := [f.figure for f in figures if f.how == "unmeasured"]:
            said.append(f"{', '.join(unmeasured)} measured on no chip")
        return Flag(PARTLY_FITTED, f"{PARTLY_FITTED} on {chip_text(chip)}: {'; '.join(said)} (parity show "
                    f"{package_id(chip)})", widen=widen, reason=CALIBRATION_REASON)
    if missing := cal.unmeasured_core:  # measured, but not what predictions rest on most
        source = cal.unmeasured_from or "the value before"
        return Flag("partly calibrated chip",
                    f"partly calibrated chip {chip_text(chip)}: {cal.id} measures "
                    f"{', '.join(cal.measured_fields)}, not {' or '.join(missing)}, which keep {source}'s values "
                    f"(calibration: {basis})",
                    f"partly calibrated: {', '.join(missing)} from {'the prior' if grade == 'prior' else source}",
                    widen, reason=CALIBRATION_REASON)
    return Flag("uncalibrated chip", f"uncalibrated chip {chip_text(chip)} (calibration: {basis})",
                f"uncalibrated ({short_basis(basis)})", widen, reason=CALIBRATION_REASON)


def _calibration_placed(chip: Chip, cal: Calibration) -> tuple[Flag | None, Flag | None]:
    """calibration_flag as a case's flags place it, (first, last): an uncalibrated or partly calibrated chip's flag
    first, where the chip's other flags follow it; a partly fitted chip's (PARTLY_FITTED) last, after the figures of
    its own the others name."""
    calibrated = calibration_flag(chip, cal)
    if calibrated is not None and calibrated.kind == PARTLY_FITTED:
        return None, calibrated
    return calibrated, None


def _training_unchecked(chip: Chip) -> Flag | None:
    """The flag of a chip of a family no published training run was measured on (catalog.training_families)."""
    if chip.family in catalog.training_families():
        return None
    family = f"the {chip.family} family" if chip.family else f"{chip.id}, of no family"
    return Flag(f"training never checked on {family}",
                f"training never checked on {family} (published runs measured on "
                f"{', '.join(sorted(catalog.training_families()))})",
                f"training unchecked on {family}")


def foreign_calibration_flag(chip: Chip, cal: Calibration) -> Flag | None:
    """A flag where `chip` is priced with the calibration of the chip its file names (its `calibration` key) and that
    chip runs another software stack, or belongs to a family of another tree (families.toml: no common root), so its
    kernel rates are another stack's kernels' while the chip's engines run its own: a Hopper chip on CUDA naming the
    MI300X took CDNA3's fit without a word (report-only tester fuzzES 4). Without the key, the same flag where the
    calibration its family lends (its nearest siblings', its family's or a parent's fit) was measured under another
    stack than the chip's own (catalog.calibration_stacks): a Hopper chip stating software_stack = "rocm" took the
    H20's and H200's CUDA calibration unflagged, where naming the H20 raised it (regression tester fuzzEW 2). None
    where the chip has a calibration of its own, or the two share stack (and, by the key, family tree)."""
    if cal.chip == chip.id:
        return None
    if not chip.calibration_chip:
        return _family_stack_flag(chip, cal)
    try:
        lender = catalog.chip(chip.calibration_chip)
    except ParityError:  # a chip built in Python naming no catalog chip: its calibration says so
        return None
    other_stack, other_tree = catalog.foreign_lender(chip, lender)
    if not (other_stack or other_tree):
        return None
    what = " and ".join(filter(None, ("stack" if other_stack else "", "family" if other_tree else "")))
    def said(c: Chip) -> str:
        return f"{c.family or 'no'} family, {c.software_stack or 'no'} stack"

    return Flag(f"calibration from another {what}",
                f"calibration from another {what}: {chip_text(chip)} ({said(chip)}) takes the calibration of "
                f"{lender.id} ({said(lender)}), which its file's calibration key names: kernel rates measured under "
                f"{lender.software_stack or 'another stack'}, where its engines run "
                f"{chip.software_stack or 'its own'}", f"calibration of a {lender.software_stack or lender.id} chip")


def _family_stack_flag(chip: Chip, cal: Calibration) -> Flag | None:
    """foreign_calibration_flag's flag where `chip`'s family lends it `cal` (no calibration key) and the chips or
    families that measured `cal` ran another stack than the chip's own; None where they ran its own or it states none."""
    measured = catalog.calibration_stacks(cal)
    other = {who: stack for who, stack in measured.items() if stack != chip.software_stack}
    if not chip.software_stack or not other:
        return None
    stacks = ", ".join(dict.fromkeys(other.values()))
    whose = " and ".join(f"{who} ({stack})" for who, stack in other.items())
    return Flag("calibration from another stack",
                f"calibration from another stack: {chip_text(chip)} ({chip.family or 'no'} family, "
                f"{chip.software_stack} stack) takes the calibration of {whose} through its family: kernel rates "
                f"measured under {stacks}, where its engines run {chip.software_stack}",
                f"calibration of a {stacks} chip")
