"""Side-by-side comparison of systems on one model and workload (`compare`): what each delivers per chip, per system,
per kW of system power and per GB of memory, with ratios to a baseline next to the datasheet ratios, so a claim like
"1.7x the compute" can be read against the workload ratio it buys."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import replace

from parity import catalog
from parity.catalog import default_mtp, mtp_setting
from parity.compare.formats import DEFAULT_FORMATS, FormatResult, compare_formats
from parity.compare.ratios import (RATIO_BASES, SPEC_RATIO_FIELDS, _ratio_with_basis, even_text, quotient_intervals,
                                   ratio_basis, shared_text, spec_bases, spec_ratios, without_even_text)
from parity.compare.record import RATIO_WORDS, Comparison, format_label, held_clocks_note, system_power_flags
from parity.compare.serve import TTFT_BINDS, Choose, _serve, configuration_flags, intervals, serving_ceiling
from parity.compare.spans import (NAMED_GAIN, WIDER_GAIN, domain_shortfall, memory_shortfall, narrower_text,
                                  passed_text, serving_search, serving_spans, systems_spanned, systems_to_hold,
                                  wider_workers, widest_span)
from parity.compare.train import SAVINGS_AS_GOOD, _larger_jobs, _same_size, _train, memory_savings, memory_text
from parity.engine import EngineProfile
from parity.errors import InfeasiblePlan, expect
from parity.hardware import Chip, System
from parity.model import Model
from parity.parallel import map_chunks
from parity.search import best_precision, check_records
from parity.serving.workload import DEFAULT_TTFT_S, check_serving_inputs
from parity.training.layout import default_global_batch
from parity.uncertainty import Band, ratio_band, training_band, vendor_bands

__all__ = ["DEFAULT_SYSTEMS", "DEFAULT_MODELS", "DEFAULT_FORMATS", "Comparison", "FormatResult", "best_precision",
           "compare", "compare_formats", "configuration_flags", "default_mtp", "domain_shortfall", "memory_shortfall",
           "mtp_setting", "serving_spans", "spec_ratios", "spec_bases", "SPEC_RATIO_FIELDS", "vendor_bands",
           "format_label", "intervals", "serving_ceiling", "memory_savings", "memory_text", "narrower_text",
           "serving_search", "systems_spanned", "systems_to_hold", "wider_workers", "widest_span", "RATIO_WORDS",
           "even_text", "without_even_text",
           "quotient_intervals", "held_clocks_note", "system_power_flags", "RATIO_BASES", "ratio_basis",
           "shared_text", "TTFT_BINDS", "WIDER_GAIN", "NAMED_GAIN", "passed_text", "SAVINGS_AS_GOOD"]

DEFAULT_SYSTEMS = ("hgx-h20", "rtx-pro-6000d-server", "hgx-h800", "hgx-h100", "hgx-h200", "hgx-b200",
                   "atlas-800-a2", "atlas-800-a3", "mi300x-platform")
DEFAULT_MODELS = ("llama-3.1-70b", "deepseek-r1")


def compare(systems: Sequence[System], model: Model, profile: EngineProfile, tpot_s: float | None = 0.05,
            isl: int = 1024, osl: int = 1024, weights: str | None = None, baseline: System | None = None,
            ttft_s: float | None = DEFAULT_TTFT_S, workload: str = "serve", chips: int | None = None,
            seq_len: int = 4096, global_batch: int | None = None, training_precision: str = "bf16",
            mtp_tokens: int | None = None, processes: int = 1, choose: Choose | None = None,
            progress: Callable[[int], None] | None = None) -> list[Comparison]:
    """Every system on `model`, with ratios to `baseline` (default: the first system; one not among `systems`
    joins them first, so that it is run and shown); when the baseline cannot run the workload (does not fit),
    ratios are to the first system that can, named in `baseline`.
    tpot_s, ttft_s [s]: mean latency targets, None: no target; the defaults are `parity compare`'s (50 ms, and
    DEFAULT_TTFT_S, 5 s). mtp_tokens: serving with multi-token prediction of that many draft tokens a step (0: off;
    None: the model's default, catalog.mtp_drafts, 1 on DeepSeek-V3/R1, as `parity compare` runs it). The systems are
    searched on `processes` processes (the same numbers as one after another). choose: serving, a second judge
    of each system's search (Choose), whose configuration the row reports instead of the search's best. chips:
    training, the chips each system trains on (None: the fewest whole systems on which a layout fits); global_batch:
    training, sequences per step (None: 4M tokens' worth, as `train`'s default). progress(1) as each system's row is
    done (the baseline's too where it joins the systems)."""
    check_records(model, systems, profile)
    if baseline is not None:
        expect("baseline", baseline, System, "catalog.system(name), or None for the first system")
    if workload not in ("serve", "train"):
        raise InfeasiblePlan(f"workload must be serve or train, got {workload!r}")
    check_serving_inputs(isl, osl, tpot_s, ttft_s, processes)
    mtp_tokens = catalog.mtp_drafts(model, mtp_tokens)
    mtp_setting(model, mtp_tokens)  # refused here, once, not in each system's search
    global_batch = global_batch or default_global_batch(seq_len)
    base = baseline or systems[0]
    if base.id not in {s.id for s in systems}:
        systems = [base, *systems]
    each = functools.partial(_row, model=model, profile=profile, tpot_s=tpot_s, ttft_s=ttft_s, isl=isl, osl=osl,
                             weights=weights, mtp_tokens=mtp_tokens, workload=workload, chips=chips, seq_len=seq_len,
                             global_batch=global_batch, training_precision=training_precision, choose=choose)
    rows = map_chunks(each, list(systems), processes, progress=(lambda _row: progress(1)) if progress else None)
    if workload == "train" and chips is None:
        rows = _same_size(rows, list(systems), model, seq_len, global_batch, training_precision, processes)
    if workload == "train":
        rows = _larger_jobs(rows, list(systems), model, seq_len, global_batch, training_precision, processes)
    ref = next((r for r in rows if r.system == base.id), rows[0])
    if not ref.fits:
        ref = next((r for r in rows if r.fits), ref)
        base = next((s for s in systems if s.id == ref.system), base)

    def ratio(a: float, b: float) -> float:
        return a / b if b and not math.isnan(a) and not math.isnan(b) and a > 0 else float("nan")

    # the vendors' bands are cross-source residuals of the workload's published figures: serving decode figures, or
    # training runs' tokens/s per chip (training_band: as `train` and `fleet` give a training prediction's interval)
    bands = vendor_bands()

    def band(chip: Chip) -> Band | None:
        if workload == "train":
            return training_band(chip)
        found = bands.get(chip.vendor)
        return found and ratio_band(found, chip, catalog.calibration(chip))

    out = []
    varied = len({s.chips for s in systems} | {base.chips}) > 1
    for system, row in zip(systems, rows):
        ratios = {k: ratio(getattr(row, f"tokens_per_s_{k}"), getattr(ref, f"tokens_per_s_{k}")) for k in RATIO_WORDS}
        a, b = band(system.chip), band(base.chip)
        basis, interval = "", (float("nan"), float("nan"))
        if system.id != base.id and not math.isnan(ratios["per_chip"]):
            basis, interval = _ratio_with_basis(ratios["per_chip"], ratio_basis(row, ref, system.chip, base.chip), a, b)
        row = replace(row, spec_ratios=spec_ratios(system, base), ratios=ratios, baseline=base.id,
                      ratio_interval=interval, ratio_basis=basis)
        # the ratios a row states: per system only where it may differ from per chip (systems of other sizes in the
        # comparison, whose table shows x/system: its interval held 1 unsaid in a row of the baseline's size)
        stated = (("per_chip", "per_kw", "per_gb") if not varied
                  else ("per_chip", "per_system", "per_kw", "per_gb"))
        even = even_text({k: row.interval_of(k) for k in stated})
        out.append(replace(row, note="; ".join(filter(None, [row.note, even, shared_text(row, stated)]))))
    return out


def _row(system: System, model: Model, profile: EngineProfile, tpot_s: float | None, ttft_s: float | None, isl: int,
         osl: int, weights: str | None, mtp_tokens: int, workload: str, chips: int | None, seq_len: int,
         global_batch: int, training_precision: str, choose: Choose | None = None) -> Comparison:
    """One system's row of `compare`, before ratios."""
    if workload == "train":
        return _train(system, model, chips, seq_len, global_batch, training_precision)
    # each chip runs the engine as fitted on its software stack (vllm on rocm: vllm-rocm), where one is
    return _serve(system, model, catalog.engine_on(profile, system.chip.software_stack), tpot_s, ttft_s, isl, osl,
                  weights, mtp_tokens, choose)
