"""Family calibrations from published kernel figures measured beside a calibrated chip, and the derived prior.

A figure on chip X with the same test on a measured twin T (an H200, or an H800 of the H200's family)
transfers as a ratio: r = (achieved_X / peak_X) / (achieved_T / peak_T), and X's family gets T's measured
efficiency times r (both chips run the same test, so the test's own bias cancels). A figure stated as a
utilization with no twin is taken as the efficiency itself. Efficiencies no figure reaches move with the
nearest measured one (named in the method): compute-bound kinds with the GEMM ratio, bandwidth-bound
kinds with the bandwidth ratio. An all-reduce's bus bandwidth over large messages (nccl-tests / rccl-tests
busbw) over the chip's scale-up bandwidth per direction is the collective efficiency itself: NVIDIA's
NVLS all-reduce reduces inside the switch and beats the link rate, so no twin ratio carries it across. A small
all-reduce's time beside the twin's in the same test (8-64 KB, where the bytes take under 1% of it) is the
collective latency factor: engine profiles' collective latencies were fitted on the twin's fabric. Several figures
of one kind (GEMM shapes, message sizes) combine by their geometric mean. A memory-bound GEMM's bandwidth (M = 1,
weights read once) stated with no twin is the memory efficiency itself, and moves grouped expert GEMMs with it.
A sub-byte GEMM format measured on its own kernels (OWN_RATE: FP4, whose kernels pack two values a byte, read a block
scale every 32 values and run their own kernel family: AITER's asm f4gemm, Triton dot_scaled) sets that format's rate
only: it moves no other format and no other compute-bound kind, whose level comes from the byte-wide formats' figures.
An FP4 layer timed beside the same chip's FP8 layer at the same shape in the same harness (kind gemm_fp4_of_fp8:
aiconfigurator's collectors time each engine's Linear forward, activation quantisation included) sets FP4 as the
family's FP8 efficiency times the FP4 layer's fraction of the FP4 peak over the FP8 layer's of the FP8 peak (their
geometric mean over shapes, engines and chips): the harness's own bias cancels as a twin's does, and no other figure
of FP4 may be fitted beside it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence

from parity.errors import ParityError
from parity.hardware import ARCHITECTURES, Calibration, Chip, Family

__all__ = ["KernelFigure", "figures_from_rows", "family_calibration", "grouped_gemm_fit", "chip_calibration", "derived_prior",
           "architecture_priors",
           "family_toml", "COMPUTE", "BANDWIDTH", "OWN_RATE"]

COMPUTE = ("gemm", "attention_prefill")
OWN_RATE = ("fp4",)  # GEMM math keys whose measured rate sets themselves only (module docstring)
BANDWIDTH = ("memory", "attention_decode")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class KernelFigure:
    """One published kernel figure: `achieved` [FLOP/s, B/s or a fraction] on `chip`, the same test's
    `twin_achieved` on `twin` where the source ran it, and which efficiency it measures (`kind`)."""

    case_id: str
    chip: str
    kind: str  # gemm_fp8, gemm_fp4, gemm_fp4_of_fp8, gemm_int8_fraction, gemm_memory, memory,
    # attention_prefill(_fraction), attention_decode_fraction, allreduce_busbw, allreduce_latency, launch_overhead
    # (one small kernel's launch and completion, eager, wall clock [s])
    achieved: float
    twin: str = ""
    twin_achieved: float = 0.0
    of_peak: float = 0.0  # the peak a fraction is of, where the source's differs from the catalog's [FLOP/s]
    tokens_per_expert: float = 0.0  # grouped_gemm_*: routed tokens per local expert of the timed op
    flop: float = 0.0  # grouped_gemm_*: the op's FLOPs as the source counts them [FLOP]

    @property
    def group(self) -> str:
        """compute or bandwidth: the efficiencies this figure moves."""
        return "compute" if self.kind.startswith(COMPUTE) and self.kind != "gemm_memory" else "bandwidth"


KINDS = ("gemm_fp8", "gemm_fp4", "gemm_fp4_of_fp8", "gemm_int8", "gemm_bf16", "gemm_int8_fraction", "gemm_memory",
         "memory", "attention_prefill", "attention_prefill_fraction", "attention_decode_fraction", "allreduce_busbw",
         "allreduce_latency", "launch_overhead", "grouped_gemm_fp4", "grouped_gemm_fp8", "grouped_gemm_bf16")
GROUPED = "grouped_gemm_"  # a routed-expert op's median latency [s] at tokens_per_expert (grouped_gemm_fit)


def figures_from_rows(rows: Iterable[Mapping[str, str]]) -> list[KernelFigure]:
    """Rows of measurements/kernels_published.csv typed once; a bad row raises naming its id and field."""
    out = []
    for row in rows:
        where = f"kernels_published.csv {row.get('case_id', '?')}"
        if row.get("kind") not in KINDS:
            raise ParityError(f"{where}: kind must be one of {', '.join(KINDS)}, got {row.get('kind')!r}")
        try:
            achieved = float(row["achieved"])
            twin_achieved = float(row["twin_achieved"]) if row.get("twin_achieved") else 0.0
        except (KeyError, ValueError) as err:
            raise ParityError(f"{where}: achieved and twin_achieved must be numbers ({err})") from err
        if not achieved > 0 or (row.get("twin_chip") and not twin_achieved > 0):
            raise ParityError(f"{where}: achieved figures must be positive")
        try:
            of_peak = float(row["of_peak"]) if row.get("of_peak") else 0.0
        except ValueError as err:
            raise ParityError(f"{where}: of_peak must be a number ({err})") from err
        try:
            grouped = {name: float(row.get(name) or 0.0) for name in ("tokens_per_expert", "flop")}
        except ValueError as err:
            raise ParityError(f"{where}: tokens_per_expert and flop must be numbers ({err})") from err
        if row["kind"].startswith(GROUPED) and not all(v > 0 for v in grouped.values()):
            raise ParityError(f"{where}: a grouped-GEMM latency needs positive tokens_per_expert and flop")
        out.append(KernelFigure(case_id=row["case_id"], chip=row["chip"], kind=row["kind"], achieved=achieved,
                                twin=row.get("twin_chip", ""), twin_achieved=twin_achieved, of_peak=of_peak, **grouped))
    return out


def _fraction(figure: KernelFigure, chip: Chip, achieved: float) -> float:
    if figure.kind.endswith("_fraction"):
        # a utilization of the source's own peak, restated against the catalog's (the CloudMatrix paper's
        # 910C: 752 TFLOP/s BF16 per package where the catalog keeps Huawei's 800); the twin's is as stated
        if not figure.of_peak or chip.id != figure.chip:
            return achieved
        if figure.kind == "attention_decode_fraction":
            return achieved * figure.of_peak / chip.memory_bytes_per_s
        math = "int8" if figure.kind == "gemm_int8_fraction" else "bf16"
        return achieved * figure.of_peak / chip.peak(math)
    if figure.kind == "attention_prefill":  # a flash-attention forward rate [FLOP/s] of the dense BF16 peak
        return achieved / chip.peak("bf16")
    if figure.kind == "allreduce_latency":  # a time [s]: only its ratio to the twin's means anything
        return achieved
    if figure.kind.startswith("gemm_") and figure.kind != "gemm_memory":
        return achieved / chip.peak(figure.kind.removeprefix("gemm_"))
    if figure.kind == "allreduce_busbw":
        return achieved / chip.scale_up_bytes_per_s
    if figure.kind == "launch_overhead":  # a time, not a fraction: the family's eager per-kernel cost itself
        return achieved
    return achieved / chip.memory_bytes_per_s


def _of_fp8(figure: KernelFigure, chips: Mapping[str, Chip]) -> float:
    """An FP4 layer's fraction of the FP4 peak over the same chip's FP8 layer's fraction of the FP8 peak."""
    if figure.twin != figure.chip:
        raise ParityError(f"{figure.case_id}: an FP4-beside-FP8 figure needs the FP8 layer on the same chip "
                          "(twin_chip)")
    chip = chips[figure.chip]
    return (figure.achieved / chip.peak("fp4")) / (figure.twin_achieved / chip.peak("fp8"))


def _ratio(figure: KernelFigure, chips: Mapping[str, Chip]) -> float:
    """Efficiency of the figure's chip relative to its twin (1 where there is no twin)."""
    own = _fraction(figure, chips[figure.chip], figure.achieved)
    if not figure.twin:
        return own
    return own / _fraction(figure, chips[figure.twin], figure.twin_achieved)


def family_calibration(family: str, base: Calibration, figures: Sequence[KernelFigure], chips: Mapping[str, Chip],
                       date: str) -> Calibration:
    """The calibration of a chip family from its published kernel figures, relative to `base` (the twin's
    measured calibration). Twinned figures scale base's efficiencies; absolute utilizations replace them.

    Example (hand-derived, MI300X vs H200 on Azure's tests): fp8 GEMM 8192^3 1,159.23 of 2,614.9 TFLOP/s
    = 0.4433 against 1,300.6 of 1,979 = 0.6572, r = 0.6746, so fp8 GEMM 0.6765 x 0.6746 = 0.4564; STREAM
    4.09 of 5.3 TB/s = 0.7717 against 4.15 of 4.8 = 0.8646, r = 0.8926, so memory 0.9221 x 0.8926 = 0.8231.
    """
    if not figures:
        raise ParityError(f"family {family}: no kernel figures to fit")
    scale = {"compute": [], "bandwidth": []}  # type: dict[str, list[float]]
    absolute_shapes: dict[str, list[float]] = {}  # GEMM math key: its utilizations (several shapes combine)
    gemm: dict[str, float] = dict(base.gemm_efficiency)
    twin_ratios: dict[str, list[float]] = {}  # GEMM math key: its figures' ratios (several shapes combine)
    latency: list[float] = []
    skinny: list[float] = []
    ratios: dict[str, list[float]] = {}  # attention_prefill, attention_decode, memory: their figures' ratios
    fields: dict[str, float] = {}
    grouped = [f for f in figures if f.kind.startswith(GROUPED)]
    if len({f.chip for f in grouped}) > 1:
        raise ParityError(f"family {family}: grouped-GEMM latencies of one chip only ({', '.join(f.case_id for f in grouped)})")
    grouped_rates, half = grouped_gemm_fit(grouped, chips[grouped[0].chip]) if grouped else ({}, 0.0)
    of_fp8 = [_of_fp8(f, chips) for f in figures if f.kind == "gemm_fp4_of_fp8"]
    for f in (f for f in figures if not f.kind.startswith(GROUPED) and f.kind != "gemm_fp4_of_fp8"):
        r = _ratio(f, chips)
        if f.kind == "allreduce_busbw":  # the collective efficiency itself (module docstring)
            fields["collective_efficiency"] = min(_fraction(f, chips[f.chip], f.achieved), 1.0)
            continue
        if f.kind == "launch_overhead":  # the eager per-kernel cost measured on the family's own stack
            fields["kernel_overhead_s"] = f.achieved
            continue
        if f.kind == "allreduce_latency":
            if not f.twin:
                raise ParityError(f"{f.case_id}: an all-reduce time needs the twin's time in the same test")
            latency.append(r)
            continue
        if f.kind == "gemm_memory":
            if f.twin:
                raise ParityError(f"{f.case_id}: a memory-bound GEMM figure is taken as a utilization (no twin)")
            skinny.append(r)
            continue
        if f.kind.startswith("gemm_") and not f.twin:  # a utilization: the efficiency itself
            absolute_shapes.setdefault(f.kind.removeprefix("gemm_").removesuffix("_fraction"), []).append(r)
            continue
        if f.kind.startswith("gemm_"):
            twin_ratios.setdefault(f.kind.removeprefix("gemm_"), []).append(r)
        elif f.kind in ("attention_prefill", "attention_prefill_fraction", "attention_decode_fraction", "memory"):
            ratios.setdefault(f.kind.removesuffix("_fraction"), []).append(r)
        else:
            raise ParityError(f"{f.case_id}: unknown kernel figure kind {f.kind!r}")
    for kind, rs in ratios.items():  # several figures of one kind (shapes, sizes): their geometric mean
        r = _mean(rs)
        if kind == "attention_prefill":
            # an attention-math figure (the CloudMatrix paper's MLA compute-bound utilization against FlashMLA)
            # moves prefill attention and compute-bound decode attention (absorbed MLA) alike
            fields["attention_prefill_efficiency"] = base.attention_prefill_efficiency * r
            if base.attention_decode_math_efficiency:
                fields["attention_decode_math_efficiency"] = base.attention_decode_math_efficiency * r
            scale["compute"].append(r)
        else:
            name = "attention_decode_efficiency" if kind == "attention_decode" else "memory_efficiency"
            fields[name] = getattr(base, name) * r
            scale["bandwidth"].append(r)
    absolute = {m: _mean(rs) for m, rs in absolute_shapes.items()}
    leveled = [v for m, v in absolute.items() if m not in OWN_RATE]  # the formats that set the level
    level = _mean(leveled)
    if leveled:  # a measured utilization fixes the GEMM level; the base's other keys keep their shape
        gemm = {k: min(level * v / base.gemm("default"), 1.0) for k, v in base.gemm_efficiency.items()}
        scale["compute"].append(level / base.gemm("default"))
    gemm |= absolute
    twinned = {m: base.gemm(m) * _mean(rs) for m, rs in twin_ratios.items()}
    moving = [m for m in twinned if m not in OWN_RATE]  # twinned formats whose ratio moves the others
    scale["compute"] += [_mean(twin_ratios[m]) for m in moving]
    if skinny:
        fields["memory_efficiency"] = min(_mean(skinny), 1.0)
        fields["grouped_gemm_memory_efficiency"] = min(
            base.grouped_gemm_memory_efficiency * fields["memory_efficiency"] / base.memory_efficiency, 1.0)
    compute = _mean(scale["compute"])
    bandwidth = _mean(scale["bandwidth"])
    if twinned and absolute:  # both kinds of GEMM figure: each measured format keeps its own value, the
        # others move by the geometric mean of the measured formats' ratios to the base (an assumption, stated)
        factor = _mean([level / base.gemm("default")] * bool(leveled) + [twinned[m] / base.gemm(m) for m in moving])
        gemm = {k: v * factor for k, v in base.gemm_efficiency.items()} | twinned | absolute
    elif twinned:  # math keys without a figure move by the measured keys' ratio (an assumption, stated)
        factor = _mean(twinned[m] / base.gemm(m) for m in moving)
        gemm = {k: v * factor for k, v in gemm.items()} | twinned
    elif not leveled:  # no byte-wide GEMM figure: the formats move with the compute-bound kinds' figures
        gemm = {k: v * compute for k, v in gemm.items()} | absolute
    def moved(name: str, factor: float) -> float:
        return fields.get(name, min(getattr(base, name) * factor, 1.0))
    inferred = [*([f"GEMM formats without a figure of their own move by {factor:.4f} (the measured formats' mean "
                   f"ratio)", f"compute-bound kinds not measured move by {compute:.4f}"] if twinned else
                  [f"GEMM formats and compute-bound kinds not measured move by {compute:.4f}"]),
                f"bandwidth-bound ones by {bandwidth:.4f}"]
    if of_fp8:
        if "fp4" in absolute or "fp4" in twinned:
            raise ParityError(f"family {family}: FP4 set twice (gemm_fp4 and gemm_fp4_of_fp8 figures both fitted)")
        gemm["fp4"] = gemm["fp8"] * _mean(of_fp8)
        inferred.append(f"fp4 is {_mean(of_fp8):.4f}x the fp8 efficiency ({len(of_fp8)} FP4 layers beside FP8 ones "
                        f"at the same shape, fp4 {gemm['fp4']:.4f}): it moves no other format or kind")
    own = sorted(m for m in (*absolute, *twinned) if m in OWN_RATE)
    if own:
        rates = ", ".join(f"{m} {gemm[m]:.4f}" for m in own)
        inferred.append(f"{', '.join(own)} measured on its own kernels ({rates}) sets that format only: it moves no "
                        "other format or kind (parity.calibrate.family.OWN_RATE)")
    if skinny:
        inferred.append(f"memory-bound GEMMs reach {fields['memory_efficiency']:.4f} of the memory bandwidth "
                        f"(mean of {len(skinny)} figures) and grouped expert GEMMs move with them")
    if latency:
        inferred.append(f"small collectives take {_mean(latency):.4f}x the twin's time (mean of {len(latency)} sizes)")
    if grouped:
        inferred.append("grouped expert GEMMs run at " + ", ".join(f"{k} {v:.4f}" for k, v in grouped_rates.items())
                        + f" of peak at many tokens per expert, half that at {half:g} tokens per expert (grouped_gemm_fit "
                        "on " + ", ".join(f.case_id for f in grouped) + "); other formats' at the GEMM rate")
    return dataclasses.replace(
        base, id=f"family-{family}", chip="*", family=family, date=date, measured=True,
        method=(f"from published kernel figures relative to {base.id} (see parity.calibrate.family): "
                + "; ".join(_described(f, chips) for f in figures) + "; " + ", ".join(inferred)),
        source="data/measurements/kernels_published.csv", rows=tuple(f.case_id for f in figures), basis="",
        measured_chips=tuple(sorted({f.chip for f in figures})), relative_to=base.id,
        gemm_efficiency={k: round(min(v, 1.0), 4) for k, v in gemm.items()},
        memory_efficiency=round(moved("memory_efficiency", bandwidth), 4),
        grouped_gemm_memory_efficiency=round(moved("grouped_gemm_memory_efficiency", bandwidth), 4),
        attention_prefill_efficiency=round(moved("attention_prefill_efficiency", compute), 4),
        attention_decode_efficiency=round(moved("attention_decode_efficiency", bandwidth), 4),
        # a measured MLA-decode rate moves only with an attention figure of the family's own (B06 for Da Vinci);
        # elsewhere (CDNA3) decode attention math stays at the family's prefill attention rate, as before
        attention_decode_math_efficiency=round(fields.get("attention_decode_math_efficiency", 0.0), 4),
        stream_efficiency=round(moved("stream_efficiency", bandwidth), 4),
        collective_efficiency=round(fields.get("collective_efficiency", base.collective_efficiency), 4),
        kernel_overhead_s=fields.get("kernel_overhead_s", base.kernel_overhead_s),
        collective_latency_factor=round(_mean(latency), 4) if latency else base.collective_latency_factor,
        grouped_gemm_efficiency=grouped_rates or dict(base.grouped_gemm_efficiency),
        grouped_gemm_half_tokens=half if grouped else base.grouped_gemm_half_tokens, points=())


def grouped_gemm_fit(figures: Sequence[KernelFigure], chip: Chip) -> tuple[dict[str, float], float]:
    """(math key -> grouped-GEMM math rate over dense peak at many tokens per expert, tokens per expert at half that
    rate) from the median latencies of one routed-expert op (routing, the grouped GEMMs, finalize) at several
    token counts on `chip`, as a roofline plus a fixed cost: the op's fewest-token latency of each format is its fixed
    cost t1 (launches, routing, finalize: no math to speak of); every other latency t at m tokens per expert gives a
    math rate r = flop / (t - t1) / peak, and r(m) = rate x m / (m + half) is fitted in log space (one half for
    all formats: the tensor cores' tile rows, filled by m of them; a grid of 0.25 tokens). Pass only figures where
    the op is bound by math (all experts busy, weights read well under t): where it is bound by memory the same
    latencies say nothing of the math rate.

    Example (hand-derived, TRT-LLM NVFP4 MoE on B200, flashinfer#5301): t1 = 0.025697 ms; 16,384 tokens (512 a
    local expert): 1.44311e12 FLOP in 0.622597 - 0.025697 = 0.596900 ms = 2.4177 PFLOP/s = 0.26863 of 9 PFLOP/s;
    8,192 (256): 0.72156e12 in 0.359843 ms = 0.22280. 0.26863 / 0.22280 = 2 (256 + h) / (512 + h) gives h = 132.6
    and rate 0.22280 x 388.6 / 256 = 0.3382.
    """
    by_math: dict[str, list[KernelFigure]] = {}
    for f in figures:
        by_math.setdefault(f.kind.removeprefix(GROUPED), []).append(f)
    points: dict[str, list[tuple[float, float]]] = {}  # math -> (tokens per expert, rate over peak)
    for math_key, mine in by_math.items():
        fixed = min(mine, key=lambda f: f.tokens_per_expert)
        bound = [f for f in mine if f is not fixed]
        if not bound or any(f.achieved <= fixed.achieved for f in bound):
            raise ParityError(f"grouped {math_key} figures ({', '.join(f.case_id for f in mine)}): need the fixed-cost "
                              "latency (fewest tokens) and longer math-bound ones")
        points[math_key] = [(f.tokens_per_expert, f.flop / (f.achieved - fixed.achieved) / chip.peak(math_key))
                            for f in bound]
    def fitted(half: float) -> tuple[float, dict[str, float]]:
        loss, rates = 0.0, {}
        for math_key, pts in points.items():
            logs = [math.log(r * (m + half) / m) for m, r in pts]
            level = sum(logs) / len(logs)
            loss += sum((v - level) ** 2 for v in logs)
            rates[math_key] = math.exp(level)
        return loss, rates
    half = min((0.25 * i for i in range(16385)), key=lambda h: fitted(h)[0])
    return {k: round(min(v, 1.0), 4) for k, v in fitted(half)[1].items()}, round(half, 2)


def _described(f: KernelFigure, chips: Mapping[str, Chip]) -> str:
    if f.kind == "launch_overhead" or f.kind.startswith(GROUPED):
        return f"{f.case_id} {f.kind} {f.achieved * 1e6:.1f} us"
    if f.kind == "gemm_fp4_of_fp8":
        return f"{f.case_id} {f.kind} {_of_fp8(f, chips):.4f}"
    return f"{f.case_id} {f.kind} ratio {_ratio(f, chips):.4f}"


def chip_calibration(chip: str, base: Calibration, figures: Sequence[KernelFigure], chips: Mapping[str, Chip],
                     date: str) -> Calibration:
    """One chip's own calibration where published GEMM and attention figures measure that chip alone inside a
    family whose calibration (`base`: a measured sibling's, the H20 on the H200's, or the family's own fit, Blackwell
    Ultra on family-blackwell) it otherwise shares: GEMM formats and attention rates move as
    family_calibration moves them (twinned figures as ratios to the twin's), memory, stream and collective
    efficiencies stay base's (no figure measures them).

    Example (hand-derived, H20): torch BF16 GEMM 8192^3 138.60 of 148 TFLOP/s = 0.9365 against the same test
    on an H100, 797.51 of 989.4 = 0.8060, r = 1.1619, so bf16 0.7102 x r = 0.8252 and fp8 0.6765 x r =
    0.7860; FlashMLA compute-bound 127 of 148 = 0.8581 against 0.667 on the H800, r = 1.2865, so MLA-decode
    math 0.8581 and prefill attention 0.4996 x r = 0.6427.
    """
    if not figures or any(not f.kind.startswith(("attention_", "gemm_")) or f.chip != chip for f in figures):
        raise ParityError(f"a chip calibration of {chip} takes GEMM and attention figures measured on {chip} only")
    moved = family_calibration(chip, base, figures, chips, date)
    kept = "memory, grouped-GEMM memory, stream and collective efficiencies"
    inherited = (f"{base.chip} ({chips[base.chip].family} family)" if base.chip in chips
                 else f"{base.id} (the {base.family} family's fit)")
    return dataclasses.replace(
        base, id=f"{chip}-published", chip=chip, family="", date=date, measured=True,
        method=("GEMM and attention rates from published kernel figures on this chip "
                + moved.method.removeprefix("from published kernel figures ")
                + f"; {kept} are {base.id}'s (inherited: no figure on this chip measures them)"),
        source="data/measurements/kernels_published.csv", rows=moved.rows, measured_chips=(chip,), relative_to=base.id,
        basis=(f"GEMM and attention measured on this chip ({_rows_named(moved.rows)}); the rest inherited from "
               f"{inherited}"),
        gemm_efficiency=moved.gemm_efficiency,
        attention_prefill_efficiency=moved.attention_prefill_efficiency,
        attention_decode_efficiency=moved.attention_decode_efficiency,
        attention_decode_math_efficiency=moved.attention_decode_math_efficiency, points=())


def _rows_named(rows: Sequence[str]) -> str:
    """Row ids for a one-line basis: all of them up to four, else the first two and how many more."""
    return ", ".join(rows) if len(rows) <= 4 else f"{rows[0]}, {rows[1]} and {len(rows) - 2} more"


def _mean(values: Iterable[float]) -> float:
    """Geometric mean; 1 when empty."""
    v = list(values)
    return math.exp(sum(math.log(x) for x in v) / len(v)) if v else 1.0


def derived_prior(measured: Calibration, families: Sequence[Calibration], date: str) -> Calibration:
    """The prior of chips whose family tree has no measurement: the measured chip's efficiencies times the
    geometric mean, per efficiency, of what the measured families reach relative to it. The collective latency
    factor stays the measured chip's (1): a fabric's latency says nothing of another vendor's fabric."""
    if not families:
        raise ParityError("a derived prior needs at least one family calibration")
    def over(name: str) -> float:
        return _mean(getattr(c, name) / getattr(measured, name) for c in families)
    scalars = ("memory_efficiency", "grouped_gemm_memory_efficiency", "attention_prefill_efficiency",
               "attention_decode_efficiency", "stream_efficiency")
    if measured.attention_decode_math_efficiency and all(c.attention_decode_math_efficiency for c in families):
        scalars += ("attention_decode_math_efficiency",)
    gemm_ratio = _mean(c.gemm("default") / measured.gemm("default") for c in families)
    return dataclasses.replace(
        measured, id="derived-prior", chip="*", family="", date=date, measured=False,
        method=(f"{measured.id} times the geometric mean over the measured families "
                f"({', '.join(c.family for c in families)}) of each efficiency relative to it "
                f"(GEMM x{gemm_ratio:.4f}): what measured chips achieve"),
        source=", ".join(c.id for c in families), rows=tuple(r for c in families for r in c.rows), basis="",
        measured_chips=(), relative_to="",
        gemm_efficiency={k: round(v * gemm_ratio, 4) for k, v in measured.gemm_efficiency.items()},
        # the MLA-decode rate only where every family measured one (else the prefill attention rate stands in)
        **({"attention_decode_math_efficiency": 0.0}
           | {name: round(getattr(measured, name) * over(name), 4) for name in scalars}), points=())


def architecture_priors(measured: Calibration, families: Sequence[Calibration], tree: Mapping[str, Family],
                        date: str, measured_family: str = "") -> dict[str, Calibration]:
    """The derived prior of each architecture class (hardware.ARCHITECTURES) that holds a measured family, over
    that class's measured families alone (id derived-prior-CLASS), and under '' the prior over all of them
    (derived-prior): a chip without measurements inherits what measured chips of its own class reach. A child
    family fitted from its parent among `families` (CDNA4 from CDNA3), or from the measured chip's own family
    `measured_family` (Blackwell from Hopper's H200), is left out: it would count one stack twice."""
    parents = {k.family for k in families} | ({measured_family} - {""})
    families = [c for c in families if not (c.family in tree and tree[c.family].parent in parents)]
    out = {"": derived_prior(measured, families, date)} if families else {}
    for architecture in ARCHITECTURES:
        mine = [c for c in families if c.family in tree and tree[c.family].architecture == architecture]
        if mine:
            prior = derived_prior(measured, mine, date)
            out[architecture] = dataclasses.replace(
                prior, id=f"derived-prior-{architecture}",
                method=prior.method.replace("the measured families", f"the measured {architecture} families"))
    return out


def family_toml(cal: Calibration) -> str:
    """The TOML text of a family or chip calibration, or the derived prior (rows named)."""
    lines = [f'id = "{cal.id}"', f'chip = "{cal.chip}"', *([f'family = "{cal.family}"'] if cal.family else []),
             f'date = "{cal.date}"', f"measured = {str(cal.measured).lower()}", f'method = "{cal.method}"',
             f'source = "{cal.source}"', "rows = [" + ", ".join(f'"{r}"' for r in cal.rows) + "]",
             *(["measured_chips = [" + ", ".join(f'"{c}"' for c in cal.measured_chips) + "]"]
               if cal.measured_chips else []), *([f'basis = "{cal.basis}"'] if cal.basis else []),
             *([f'relative_to = "{cal.relative_to}"'] if cal.relative_to else []),
             f'kernel_overhead = "{cal.kernel_overhead_s * 1e6:.3f} us"']
    for name in ("memory_efficiency", "grouped_gemm_memory_efficiency", "attention_prefill_efficiency",
                 "attention_decode_efficiency", "stream_efficiency", "emulation_efficiency", "collective_efficiency"):
        lines.append(f"{name} = {getattr(cal, name):.4f}")
    if cal.attention_decode_math_efficiency:
        lines.append(f"attention_decode_math_efficiency = {cal.attention_decode_math_efficiency:.4f}")
    if cal.collective_latency_factor != 1.0:
        lines.append(f"collective_latency_factor = {cal.collective_latency_factor:.4f}")
    if cal.grouped_gemm_half_tokens:
        lines.append(f"grouped_gemm_half_tokens = {cal.grouped_gemm_half_tokens:g}")
    if cal.grouped_gemm_efficiency:
        lines += ["", "[grouped_gemm_efficiency]"] + [f"{k} = {v:.4f}" for k, v in cal.grouped_gemm_efficiency.items()]
    lines += ["", "[gemm_efficiency]"] + [f"{k} = {v:.4f}" for k, v in cal.gemm_efficiency.items()]
    return "\n".join(lines) + "\n"
