"""`compare_formats`: each system serving a model with its weights in each number format, natively or emulated,
run as `compare` runs it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from parity import catalog
from parity.catalog import mtp_setting
from parity.compare.record import Comparison
from parity.compare.serve import _serve
from parity.cost import math_unit
from parity.dtypes import format_on
from parity.engine import EngineProfile
from parity.errors import InfeasiblePlan
from parity.flags import Flag
from parity.hardware import System
from parity.model import Model
from parity.search import check_records
from parity.serving.workload import DEFAULT_TTFT_S, check_serving_inputs

DEFAULT_FORMATS = ("bf16", "fp8", "fp8_block", "mxfp8", "int8", "nvfp4", "mxfp4")


@dataclass(frozen=True, slots=True, kw_only=True)
class FormatResult:
    """One system serving the model with its weights in one number format: how the chip runs the
    format (its own unit, emulated on a wider one, or not at all), and what that delivers."""

    system: str
    chip: str
    format: str
    scale: str
    bytes_per_parameter: float
    runs_on: str
    native: bool
    comparison: Comparison | None
    baseline_format: str
    ratio_to_baseline: float
    note: str

    def to_dict(self) -> dict[str, object]:
        out = {k: getattr(self, k) for k in ("system", "chip", "format", "scale", "bytes_per_parameter", "runs_on",
                                             "native", "baseline_format", "ratio_to_baseline", "note")}
        # compare's row of the configuration, its interval, flags and assumptions included (a format that does not
        # fit has no rates: null, empty in CSV); a format the chip cannot run has none of it
        row = self.comparison.to_dict() if self.comparison else {}
        return out | {k: row.get(k, absent) for k, absent in _FORMAT_FIELDS.items()}

    def flag_row(self) -> tuple[str, bool, tuple[Flag, ...]]:
        """The row as a caption's flags take it (flags_caption in report.notes): 'hgx-b200 nvfp4', whether it has a
        prediction, and its flags (none where the chip cannot run the format)."""
        fits = self.comparison is not None and self.comparison.fits
        return f"{self.system} {self.format}", fits, self.comparison.flags if self.comparison else ()


# the fields of compare's row a format's row carries, and what a format the chip cannot run has of each
_FORMAT_FIELDS: dict[str, object] = {
    "fits": False, "mode": "-", "layout": "-",
    **dict.fromkeys(("tokens_per_s_per_chip", "tokens_per_s_per_chip_low", "tokens_per_s_per_chip_high",
                     "tokens_per_s_per_kw", "tpot_s", "ttft_s"), float("nan")),
    "flags": (), "assumptions": ()}


def compare_formats(systems: Sequence[System], model: Model, profile: EngineProfile,
                    formats: Sequence[str] = DEFAULT_FORMATS, tpot_s: float | None = 0.05,
                    ttft_s: float | None = DEFAULT_TTFT_S,
                    isl: int = 1024, osl: int = 1024, mtp_tokens: int | None = None) -> list[FormatResult]:
    """Each system serving `model` with its weights (experts included) in each format, at its best
    configuration under the targets, run as `compare` runs it (the engine at its stack's maturity, a rank per
    die of a multi-die package, `mtp_tokens` MTP drafts a decode step); a format the chip lacks runs emulated
    (dequantised to its first fallback at `emulation_efficiency`). Ratios are to the same system in the first of
    `formats` that fits it (bf16 when the model fits in bf16). The targets and mtp_tokens (None: the model's
    default, catalog.mtp_drafts) default as `compare`'s and `parity formats`'s."""
    check_records(model, systems, profile)
    check_serving_inputs(isl, osl, tpot_s, ttft_s)
    mtp_tokens = catalog.mtp_drafts(model, mtp_tokens)
    mtp_setting(model, mtp_tokens)  # a model without a published acceptance is refused once, not per format
    out = []
    for system in systems:
        engine = catalog.engine_on(profile, system.chip.software_stack)
        rows = []
        # a bare fp4 reads as the chip's own 4-bit format (dtypes.format_on); one that reads as a format the list
        # names besides (fp4 and mxfp4 on an MI355X) is shown once
        for fmt in dict.fromkeys(format_on(name, system.chip.native) for name in formats):
            try:
                unit, emulated = math_unit(fmt, system.chip)
                runs_on = (f"native {unit}" if not emulated else f"emulated on {unit}"
                           + (f" ({fmt.feature} native, rate unpublished)"
                              if fmt.feature in system.chip.native_rate_unpublished else ""))
                result: Comparison | None = _serve(system, model, engine, tpot_s, ttft_s, isl, osl, fmt.name,
                                                   mtp_tokens, note_emulation=False)  # runs_on says it
            except InfeasiblePlan as err:
                unit, emulated, runs_on, result = "", True, "cannot run", None
                note = str(err)
            else:
                note = result.note
            rows.append((fmt, runs_on, not emulated, result, note))
        base_format, base = next(((f.name, r) for f, _, _, r, _ in rows if r is not None and r.fits), ("-", None))
        for fmt, runs_on, native, result, note in rows:
            fits = result is not None and result.fits
            ratio = (result.tokens_per_s_per_chip / base.tokens_per_s_per_chip
                     if fits and base is not None and base.tokens_per_s_per_chip > 0 else float("nan"))
            out.append(FormatResult(system=system.id, chip=system.chip.id, format=fmt.name, scale=fmt.scale,
                                    bytes_per_parameter=fmt.bytes_per_element, runs_on=runs_on, native=native,
                                    comparison=result, baseline_format=base_format, ratio_to_baseline=ratio,
                                    note=note))
    return out
