"""The row `compare` gives each system (Comparison), and what its serving and training rows share: per-system
rates, the calibrated verdict, the format's label, and the caveats of a system's power."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from parity.flags import Flag, texts
from parity.hardware import Calibration, Chip, System, is_what_if, package_id
from parity.search import Candidate
from parity.uncertainty import chip_calibrated, power_figure, power_flags


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparison:
    """One system on one model and workload: the chosen format and configuration, what it delivers
    per chip, per system, per kW and per GB, ratios to the baseline, and caveats."""

    system: str
    chip: str
    model: str
    workload: str
    weights: str
    kv_cache: str
    mode: str
    emulated_on: str = ""  # the math unit the chip emulates `weights` on ('' where it runs them natively)
    expert_emulated_on: str = ""  # the same of the experts' format ('' where native or the model has no experts)
    layout: str
    chips: int
    fits: bool
    tokens_per_s_per_chip: float
    prefill_tokens_per_s_per_chip: float
    tokens_per_s_per_system: float
    tokens_per_s_per_kw: float
    tokens_per_s_per_gb: float
    tpot_s: float = float("nan")
    ttft_s: float = float("nan")
    # 80% intervals of the serving figures (NaN where none is stored or the system cannot serve)
    ttft_s_low: float = float("nan")
    ttft_s_high: float = float("nan")
    tpot_s_low: float = float("nan")
    tpot_s_high: float = float("nan")
    tokens_per_s_per_chip_low: float = float("nan")
    tokens_per_s_per_chip_high: float = float("nan")
    flags: tuple[Flag, ...] = ()  # ways the case lies outside what parity was checked on
    mfu: float = float("nan")  # model FLOP/s per chip over the dense peak of `mfu_peak`, the math the format runs on
    mfu_peak: str = ""
    mfu_bf16: float = float("nan")  # the same over the BF16 peak, whatever the format (one denominator for every chip)
    spec_ratios: dict[str, float] = field(default_factory=dict)
    ratios: dict[str, float] = field(default_factory=dict)
    note: str = ""
    # 80% interval of ratios["per_chip"] (interval_of scales it to the other ratios)
    ratio_interval: tuple[float, float] = (float("nan"), float("nan"))
    # what ratio_interval rests on (RATIO_BASES): 'bands', 'exact' or 'response'; '' where it has none
    ratio_basis: str = ""
    calibrated: bool = False  # _calibrated: the chip itself measured or fitted (either workload); never a what-if
    # which of the chip's kernel figures its calibration fitted on it (catalog.calibration_statement's verdict: fitted,
    # partly, inherited, prior); 'calibrated' may rest on part of them, or on serving runs alone
    kernel_figures: str = ""
    # training: the memory savings the fastest layout that fits needs at this job size (binding_savings), each costing
    # time, so a larger job, with less to hold per chip, may run faster per chip; () where none binds, and serving
    memory_bound: tuple[str, ...] = ()
    assumptions: tuple[str, ...] = field(default=())
    baseline: str = ""  # the system every ratio divides by
    # the best serving configuration as searched (layouts count dies of a multi-die package; its clients per
    # worker are `clients_per_worker` in to_dict), for `compare --refine` to simulate; None where none is chosen
    configuration: Candidate | None = None

    # compatibility names used by the node comparison of `parity compare`
    @property
    def decode_tokens_per_s_per_chip(self) -> float:
        return self.tokens_per_s_per_chip

    @property
    def decode_ratio(self) -> float:
        return self.ratios.get("per_chip", float("nan"))

    def interval_of(self, key: str) -> tuple[float, float]:
        """The 80% interval of ratios[key] ('per_system', 'per_kw', 'per_gb'): the per-chip ratio's (ratio_interval)
        times the factor that makes that ratio of the per-chip one (chips, power and memory per system, fixed catalog
        figures, so the per-chip error is the only one); NaN where the per-chip ratio has no interval."""
        low, high = self.ratio_interval
        per_chip, ratio = self.ratios.get("per_chip", math.nan), self.ratios.get(key, math.nan)
        factor = ratio / per_chip if per_chip else math.nan
        return low * factor, high * factor

    def flag_row(self) -> tuple[str, bool, tuple[Flag, ...]]:
        """The row as a caption's flags take it (flags_caption in report.notes): its system, whether it has a
        prediction, and its flags."""
        return self.system, self.fits, self.flags

    def to_dict(self) -> dict[str, object]:
        """The record's fields for JSON and CSV, each workload's own: a training row has no KV cache, TTFT, TPOT,
        prefill rate, clients or serving intervals (they were all null), a serving row no MFU. A row that does not
        fit has no rates (null in JSON, empty in CSV, as fleet writes them), not a 0.0 that reads as a figure."""
        out = asdict(self)
        del out["configuration"]
        if not self.fits:
            out |= dict.fromkeys(_RATES, float("nan"))
        out["flags"] = texts(self.flags)
        out |= {f"ratio_interval_{key}": self.interval_of(key) for key in tuple(RATIO_WORDS)[1:]}
        if self.workload == "train":
            return {k: v for k, v in out.items() if k not in _SERVING_ONLY}
        for key in ("mfu", "mfu_peak", "mfu_bf16", "memory_bound"):
            del out[key]
        out["clients_per_worker"] = int(self.configuration.concurrency) if self.configuration else float("nan")
        out["decode_tokens_per_s_per_chip"] = out["tokens_per_s_per_chip"]
        out["decode_ratio"] = self.decode_ratio
        return out


# the throughput ratios a comparison states (Comparison.ratios keys), in the words its notes and sentences use
RATIO_WORDS = {"per_chip": "per chip", "per_system": "per system", "per_kw": "per kW", "per_gb": "per GB"}

# the rates of a configuration, which a row that does not fit has none of
_RATES = ("tokens_per_s_per_chip", "prefill_tokens_per_s_per_chip", "tokens_per_s_per_system", "tokens_per_s_per_kw",
          "tokens_per_s_per_gb")

# Comparison fields that only serving fills (to_dict leaves them out of a training row, whose ratios carry their
# intervals from the training bands, and whose per-chip rate its own: uncertainty.training_interval)
_SERVING_ONLY = frozenset({"kv_cache", "prefill_tokens_per_s_per_chip", "tpot_s", "ttft_s", "ttft_s_low",
                           "ttft_s_high", "tpot_s_low", "tpot_s_high"})


def _per_system(system: System, per_chip: float) -> tuple[float, float, float]:
    """(tokens/s of the whole system, per kW of system power, per GB of chip memory)."""
    whole = per_chip * system.chips
    return whole, system.per_kw(per_chip), per_chip / (system.chip.memory_bytes / 1e9)


def _calibrated(chip: Chip, cal: Calibration) -> bool:
    """A row's `calibrated`, as compare's caption defines it: parity timed kernels on the chip, holds published kernel
    figures of it, or serving runs of it fitted the engine profiles (chip_calibrated). Never a what-if chip
    (hardware.what_if, a --variants chip), which only borrows the calibration of the catalog chip whose id it keeps,
    as its 'what-if' flag says."""
    return chip_calibrated(chip, cal) and not is_what_if(chip)


def format_label(weights: str, emulated_on: str) -> str:
    """A row's format as people read it: 'fp8', or 'fp8 on bf16' where the chip emulates it on bf16."""
    return f"{weights} on {emulated_on}" if emulated_on else weights


def held_clocks_note(system: System) -> str:
    """What a what-if that changes a chip's TDP or a system's power, and no peak rate, leaves as it was: its peak rates
    and clocks stay the catalog chip's at its stock TDP, as parity models no power-capped clocks, so its per-kW (and
    per-MW) change is power arithmetic only (an H20 at half its TDP kept its 738 tok/s/chip and read 1.38x per kW with
    no word of it: report-only tester fixfb 3); '' for any other system."""
    chip = {r.field.partition(".")[0] for r in system.chip.provenance if r.source.id == "what-if"}
    own = {r.field for r in system.provenance if r.source.id == "what-if"}
    if not ("tdp_w" in chip or "power_w" in own) or "peak_flop_per_s" in chip:
        return ""
    return (f"peak rates and clocks held at {package_id(system.chip)}'s stock TDP (parity does not model "
            "power-capped clocks): a per-kW change is power arithmetic only")


def system_power_flags(system: System) -> tuple[Flag, ...]:
    """The flags of a system's power, which its per-kW and MW figures rest on: uncertainty.power_flags ('power
    assumed': parity's assumption), and 'power derived' where the catalog's figure is parity's arithmetic on another
    system's published one (its source's kind 'derived', as `parity show` gives it): an Atlas 800 A3's 11.65 kW is
    CloudMatrix 384's all-in 559 kW / 384 x 8, UB switches and optics a stand-alone node lacks included (its per kW
    read 1.09x a published node's with no flag: report-only tester fixfb 4). 'power derived' is informational
    (widen 1): the per-chip rate's interval rests on no system's power."""
    record = system.source_of("power_w")
    if record is None or record.source.kind != "derived":
        return power_flags(system)
    basis = record.note or record.source.title
    return power_flags(system) + (Flag("power derived", f"power derived: {power_figure(system)} per {system.id} "
                                       f"({basis}; parity show {system.id})", "power derived", widen=1.0),)
