"""Where each kernel figure of a chip's calibration comes from: fitted on the chip's own rows or points, inherited from
another chip's through the fits the calibration moved from (Calibration.relative_to, unmeasured_from), or measured on
no chip; said as one statement ('partly: fitted on it (...): GEMM bf16/fp8/fp4; inherited from amd-mi300x (...): ...').
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from parity.catalog.measurements import measurements
from parity.catalog.profiles import calibrations, row_groups
from parity.dtypes import FORMATS
from parity.hardware import MEASURABLE_FIELDS, Calibration, Chip, package_id

__all__ = ["FigureSource", "CalibrationStatement", "calibration_statement", "figure_source", "GEMM_MATHS",
           "FIGURES", "HOWS"]

GEMM_WORD = "GEMM "  # a GEMM math's figure: 'GEMM bf16'
# the GEMM maths a served model's weights run on, in the order a statement names them (wider ones, fp32 and tf32,
# price no served layer; fp16 runs at the bf16 rate)
GEMM_MATHS = ("bf16", "fp8", "fp6", "fp4", "int8", "int4")
# the figures every statement names besides the chip's GEMM maths: what each calibration field prices
FIGURES = ("attention", "HBM bandwidth", "collectives", "launch cost")
# how a figure reached the chip: its own rows or points fitted it; another chip's measurement, through the fits its
# calibration moved from; no chip's (the prior's assumption, carried through every fit); or the chip runs on a prior
HOWS = ("fitted", "inherited", "unmeasured", "prior")
# a field that microbenchmarks fit (hardware.MEASURABLE_FIELDS) -> the figure it prices
_FIELD_FIGURES = {"gemm_efficiency.bf16": "GEMM bf16", "gemm_efficiency.fp8": "GEMM fp8",
                  "memory_efficiency": "HBM bandwidth", "grouped_gemm_memory_efficiency": "HBM bandwidth",
                  "stream_efficiency": "HBM bandwidth", "attention_prefill_efficiency": "attention",
                  "attention_decode_efficiency": "attention", "kernel_overhead_s": "launch cost"}
# two calibrations' values of a figure differ where they differ by more than a stored file's rounding (4 decimals)
_SAME = 5e-5


@dataclass(frozen=True, slots=True, kw_only=True)
class FigureSource:
    """Where one kernel figure of a chip comes from. figure: 'GEMM bf16' (one per GEMM math), 'attention', 'HBM
    bandwidth' (weight streaming, grouped-GEMM memory, copies), 'collectives' (bandwidth and latency), 'launch cost';
    how: one of HOWS; calibration: the calibration whose rows or points measured it ('' where none did); chips: the
    chips those measured; rows: its rows (kernels_published.csv ids); points: the microbenchmark points that fitted
    it; moved: the chip's value is that measurement's moved by the ratios of the fits in between, not kept; dropped:
    the parts of the figure (_PARTS) the chip does not take from that measurement, its own fallback pricing them
    (an MLA-decode kernel rate kept in its generation: the prefill rate stands in), the rest kept or moved."""

    figure: str
    how: str
    calibration: str = ""
    chips: tuple[str, ...] = ()
    rows: tuple[str, ...] = ()
    points: int = 0
    moved: bool = False
    dropped: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.how not in HOWS:
            raise ValueError(f"figure {self.figure}: how must be one of {', '.join(HOWS)}, got {self.how!r}")

    @property
    def evidence(self) -> str:
        """'family-cdna4 rows HK-mi355x-bf16-4096, ...' or 'nvidia-h200-sxm-measured, 503 microbenchmark points'; ''
        where nothing measured it."""
        return _evidence([self]) if self.calibration else ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CalibrationStatement:
    """Which kernel figures of `chip` (its catalog id) its calibration in effect (`calibration`, its id) fitted on the
    chip itself and which it inherits, each figure's source in `figures` (GEMM maths first)."""

    chip: str
    calibration: str
    figures: tuple[FigureSource, ...]
    lineage: tuple[str, ...] = ()  # the calibrations' ids it moved from, nearest first (`calibration` the first)
    # of a blended calibration (Calibration.blend), each part's statement and weight, heaviest first
    parts: tuple[tuple[CalibrationStatement, float], ...] = ()

    @property
    def verdict(self) -> str:
        """'fitted' (every figure a chip measured is the chip's own), 'partly' (some inherited from other chips),
        'inherited' (none its own) or 'prior' (no chip's measurement reaches it: the derived or generic prior)."""
        hows = {f.how for f in self.figures}
        if "fitted" in hows:
            return "partly" if "inherited" in hows else "fitted"
        return "inherited" if "inherited" in hows else "prior"

    @property
    def text(self) -> str:
        """The verdict and the figures by source: 'partly: fitted on it (family-cdna4 rows HK-* (6), AITER-* (3)):
        GEMM bf16/fp8/fp4; inherited from amd-mi300x (family-cdna3 rows ...): HBM bandwidth, collectives; from
        nvidia-h200-sxm (...): attention (moved by the fits' ratios, not its MLA-decode kernel rate), launch cost;
        measured on no chip: GEMM fp6/int8'; a blend's names each part's: 'inherited, blended: 0.51 of
        nvidia-h20-published: from nvidia-h20 (...): GEMM bf16, attention; ...; 0.49 of nvidia-h200-sxm-measured: from
        nvidia-h200-sxm (...): ...'."""
        if self.parts:
            return f"{self.verdict}, blended: " + "; ".join(
                f"{weight:.2f} of {part.calibration}: {part.text.split(': ', 1)[1]}" for part, weight in self.parts)
        if self.verdict == "prior":
            whose = self.calibration.removeprefix("derived-prior").removeprefix("-")
            return ("prior: no kernel figure was measured on it or on a chip it inherits from ("
                    + (f"{self.calibration}: what measured {whose + ' ' if whose else ''}chips achieve)"
                       if self.calibration.startswith("derived-prior") else f"{self.calibration}: an assumption)"))
        clauses = []
        own = [f for f in self.figures if f.how == "fitted"]
        if own:
            others = sorted({c for f in own for c in f.chips} - {self.chip})
            clauses.append(f"fitted on it ({_evidence(own)}" + (f"; with {', '.join(others)}" if others else "")
                           + f"): {_said(own)}")
        inherited = [f for f in self.figures if f.how == "inherited"]
        for i, chips in enumerate(dict.fromkeys(f.chips for f in sorted(inherited, key=self._depth))):
            mine = [f for f in inherited if f.chips == chips]
            word = "inherited from" if i == 0 and own else "from"
            clauses.append(f"{word} {', '.join(chips)} ({_evidence(mine)}): {_said(mine)}")
        if unmeasured := [f for f in self.figures if f.how == "unmeasured"]:
            clauses.append(f"measured on no chip: {_said(unmeasured)}")
        return f"{self.verdict}: " + "; ".join(clauses)

    def _depth(self, figure: FigureSource) -> int:
        """How far along the lineage the calibration that measured `figure` lies (nearest first)."""
        return self.lineage.index(figure.calibration) if figure.calibration in self.lineage else len(self.lineage)

    def figure(self, name: str) -> FigureSource:
        """The source of one figure ('GEMM fp4'); a GEMM math the chip does not run natively is still traced."""
        return next(f for f in self.figures if f.figure == name)


def rows_text(rows: Sequence[str]) -> str:
    """Row ids as a statement names them: each up to two, else those of one source tag (the id's first part) as
    'tag-* (count)': 'HK-* (6), AITER-* (3)'."""
    if len(rows) <= 2:
        return ", ".join(rows)
    groups = row_groups(tuple(rows))
    return ", ".join(ids[0] if len(ids) == 1 else f"{tag}-* ({len(ids)})" for tag, ids in groups.items())


def _evidence(figures: Sequence[FigureSource]) -> str:
    """The rows or points behind figures, each calibration once: 'family-cdna4 rows HK-* (6), AITER-* (3)'."""
    said = []
    for source in dict.fromkeys(f.calibration for f in figures):
        mine = [f for f in figures if f.calibration == source]
        rows = tuple(dict.fromkeys(r for f in mine for r in f.rows))
        said.append(f"{source} rows {rows_text(rows)}" if rows else
                    f"{source}, {max(f.points for f in mine):,} microbenchmark points")
    return "; ".join(said)


def _said(figures: Sequence[FigureSource]) -> str:
    """Figure names joined, the GEMM maths as one ('GEMM bf16/fp8/fp4'), a moved one so marked, and the parts one
    does not inherit named ('attention (not its MLA-decode kernel rate)')."""
    def name(f: FigureSource) -> str:
        said = (["moved by the fits' ratios"] if f.moved else []) + [f"not its {part}" for part in f.dropped]
        return f.figure + (f" ({', '.join(said)})" if said else "")
    gemm = [f for f in figures if f.figure.startswith(GEMM_WORD)]
    parts = []
    if gemm:
        moved = [f for f in gemm if f.moved]
        maths = "/".join(f.figure.removeprefix(GEMM_WORD) for f in gemm)
        parts.append(f"GEMM {maths}" + (" (moved by the fits' ratios)" if moved and len(moved) == len(gemm) else
                                         f" ({'/'.join(f.figure.removeprefix(GEMM_WORD) for f in moved)} moved by "
                                         "the fits' ratios)" if moved else ""))
    return ", ".join(parts + [name(f) for f in figures if not f.figure.startswith(GEMM_WORD)])


@cache
def _row_kinds() -> dict[str, tuple[str, str]]:
    """kernels_published.csv: case id -> (chip, kind)."""
    return {r["case_id"]: (r["chip"], r["kind"]) for r in measurements("kernels_published")}


def _figure_of_kind(kind: str) -> str:
    """The figure a kernel row of `kind` (calibrate.family.KINDS) measures."""
    if kind in ("memory", "gemm_memory"):
        return "HBM bandwidth"
    if kind.startswith("grouped_gemm_"):
        return f"grouped GEMM {kind.removeprefix('grouped_gemm_')}"
    if kind.startswith("gemm_"):
        return GEMM_WORD + kind.removeprefix("gemm_").removesuffix("_fraction").removesuffix("_of_fp8")
    if kind.startswith("attention_"):
        return "attention"
    if kind.startswith("allreduce_"):
        return "collectives"
    if kind == "launch_overhead":
        return "launch cost"
    raise ValueError(f"kernel row kind {kind!r} prices no figure")


def _is_prior(cal: Calibration) -> bool:
    """A prior (generic.toml, derived-prior*.toml: chip '*' and no family) measures no chip, whatever rows it names."""
    return cal.chip == "*" and not cal.family


def _fits(cal: Calibration) -> dict[str, tuple[tuple[str, ...], tuple[str, ...], int]]:
    """figure -> (chips, rows, points) of what one calibration measured itself: its kernel rows' figures (a fit on
    published figures) or its microbenchmark points' (measured_fields, or every MEASURABLE_FIELDS entry where it
    records none: measured whole); nothing for a prior or a file measured on nothing."""
    if _is_prior(cal):
        return {}
    kinds = _row_kinds()
    if cal.rows:
        out: dict[str, tuple[list[str], list[str]]] = {}
        for row in (r for r in cal.rows if r in kinds):
            chip, kind = kinds[row]
            chips, rows = out.setdefault(_figure_of_kind(kind), ([], []))
            chips.append(chip)
            rows.append(row)
        return {name: (tuple(sorted(set(chips))), tuple(rows), 0) for name, (chips, rows) in out.items()}
    if cal.chip == "*" or not (cal.points or _stored(cal).measured):
        return {}
    fields = cal.measured_fields or dict.fromkeys(MEASURABLE_FIELDS, len(cal.points))
    found: dict[str, int] = {}
    for name, count in fields.items():
        found[_FIELD_FIGURES[name]] = max(found.get(_FIELD_FIGURES[name], 0), count)
    return {name: ((cal.chip,), (), count) for name, count in found.items()}


def _file(calibration_id: str) -> Calibration | None:
    """The calibration file of that id in effect (the user's over parity's, else the newest), None where none is."""
    found = [c for c in calibrations() if c.id == calibration_id]
    return max(found, key=lambda c: (bool(c.user_file), c.date)) if found else None


def _stored(cal: Calibration) -> Calibration:
    """The file of `cal`'s id as stored (an inherited calibration in effect reads measured = false), else `cal`."""
    return _file(cal.id) or cal


def _lineage(cal: Calibration) -> tuple[Calibration, ...]:
    """`cal` and the calibrations it moved from, nearest first (relative_to of a fit on published figures,
    unmeasured_from of a microbenchmark fit that measured part), each file once."""
    out = [cal]
    while (nearer := out[-1].relative_to or out[-1].unmeasured_from) and nearer not in {c.id for c in out}:
        if (found := _file(nearer)) is None:
            break
        out.append(found)
    return tuple(out)


# the parts of a figure whose calibration values _value gives, in its order, where a part may be dropped (_dropped)
_PARTS = {"attention": ("prefill rate", "decode KV-read fraction", "MLA-decode kernel rate")}


def _value(cal: Calibration, figure: str) -> tuple[float, ...]:
    """The calibration values that price `figure` (those of _PARTS, in its order, where it names them)."""
    if figure.startswith(GEMM_WORD):
        return (cal.gemm(figure.removeprefix(GEMM_WORD)),)
    if figure.startswith("grouped GEMM "):
        math = figure.removeprefix("grouped GEMM ")
        return (cal.grouped_gemm(math), cal.grouped_gemm_half_tokens if math in cal.grouped_gemm_efficiency else 0.0)
    return {"attention": (cal.attention_prefill_efficiency, cal.attention_decode_efficiency, cal.attention_decode_math),
            "HBM bandwidth": (cal.memory_efficiency, cal.grouped_gemm_memory_efficiency, cal.stream_efficiency),
            "collectives": (cal.collective_efficiency, cal.collective_latency_factor),
            "launch cost": (cal.kernel_overhead_s * 1e6,)}[figure]  # [us]: a stored file's 3 decimals


def _dropped(cal: Calibration, measured: Calibration, figure: str) -> tuple[str, ...]:
    """The parts of `figure` (_PARTS) that `measured` rates and `cal` does not take: an MLA-decode kernel rate the
    chip's calibration leaves at 0, so its prefill rate prices MLA decode (Calibration.attention_decode_math; a child
    family does not inherit its parent's, catalog.profiles.lending._own_generation)."""
    if figure == "attention" and measured.attention_decode_math_efficiency and not cal.attention_decode_math_efficiency:
        return (_PARTS["attention"][2],)
    return ()


def figure_source(chip: Chip, cal: Calibration, figure: str) -> FigureSource:
    """Where `figure` of `chip` priced with `cal` comes from: the nearest calibration of its lineage whose rows or
    points measured it; fitted where those measured this chip (its package), inherited where they measured others
    (moved where its value is no longer theirs, a later fit's ratios; dropped: a part the chip does not inherit),
    unmeasured where none did, prior where `cal` is a prior. A blend's is that of its heaviest part whose calibration
    measured it, moved where any part's is moved or unmeasured: a blend of measured rates (bf16 on the H20 and on the
    H200) is a measured rate, one with a rate moved by a fit's ratios is not."""
    if cal.blend:
        sources = [figure_source(chip, part, figure) for part, _ in cal.blend]
        found = [s for s in sources if s.how in ("fitted", "inherited")]
        if not found:
            return FigureSource(figure=figure, how="unmeasured")
        return dataclasses.replace(found[0], moved=any(s.moved or s.how not in ("fitted", "inherited")
                                                       for s in sources))
    if _is_prior(cal):
        return FigureSource(figure=figure, how="prior")
    for i, layer in enumerate(_lineage(cal)):
        if figure in (fits := _fits(layer)):
            chips, rows, points = fits[figure]
            if package_id(chip) in chips:
                return FigureSource(figure=figure, how="fitted", calibration=layer.id, chips=chips, rows=rows,
                                    points=points)
            # an inherited calibration in effect (measured false) against its file; a fit against what it moved from
            measured = layer if i else (_stored(cal) if not cal.measured else cal)
            dropped = _dropped(cal, measured, figure)
            parts = _PARTS.get(figure, ())
            pairs = enumerate(zip(_value(cal, figure), _value(measured, figure)))
            moved = any(abs(a - b) > _SAME for n, (a, b) in pairs if n >= len(parts) or parts[n] not in dropped)
            return FigureSource(figure=figure, how="inherited", calibration=layer.id, chips=chips, rows=rows,
                                points=points, moved=moved, dropped=dropped)
    return FigureSource(figure=figure, how="unmeasured")


def calibration_statement(chip: Chip, cal: Calibration) -> CalibrationStatement:
    """Which kernel figures of `chip` priced with `cal` (catalog.calibration's, or one a command passes) are fitted on
    the chip and which it inherits (figure_source): each GEMM math it runs natively among GEMM_MATHS, the FIGURES,
    and any other figure (a grouped GEMM) a calibration of its lineage measured."""
    natives = {FORMATS[f].math for f in chip.native if f in FORMATS and chip.runs_natively(f, FORMATS[f].math)}
    names = [GEMM_WORD + m for m in GEMM_MATHS if m in natives] + list(FIGURES)
    lineage = _lineage(cal)
    parts = tuple((calibration_statement(chip, part), weight) for part, weight in cal.blend)
    extra = (name for layer in lineage for name in _fits(layer) if name not in names)
    extra_parts = (f.figure for part, _ in parts for f in part.figures)
    names += [name for name in dict.fromkeys([*extra, *extra_parts]) if name not in names
              and not name.startswith(GEMM_WORD)]
    return CalibrationStatement(chip=package_id(chip), calibration=cal.id, lineage=tuple(c.id for c in lineage),
                                figures=tuple(figure_source(chip, cal, name) for name in names), parts=parts)
