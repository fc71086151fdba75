"""A Case resolved against the catalog (`Scenario`), what a prediction holds (`Prediction`) and the
deployment of one worker of a scenario."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

from parity import catalog
from parity.cost import emulation, math_unit
from parity.dtypes import format_named
from parity.engine import GATHERING_MOE_BACKENDS, EngineHost, EngineKernel, EngineProfile
from parity.errors import InfeasiblePlan
from parity.flags import Flag, texts
from parity.hardware import Calibration, System, per_die
from parity.memory import HOST_RESERVE_BYTES, vision_note
from parity.model import Model
from parity.phase import PHASES
from parity.plan import Layout, Precision
from parity.predict.case import _SETTING_COLUMNS, Case, case_from_row
from parity.predict.columns import OUTPUT_COLUMNS
from parity.predict.engine_version import _version_defaults, _version_host, _version_kernels
from parity.predict.precision import _emulated, _precision
from parity.serving import engine_deployment
from parity.step import Deployment
from parity.units import counted, whole


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """One serving case, resolved: the deployment(s) and the workload."""

    case_id: str
    model: Model
    system: System
    engine: EngineProfile
    precision: Precision
    mode: str
    isl: int
    osl: int
    concurrency: int
    layout: Layout
    decode_layout: Layout | None = None
    prefill_workers: float | None = None
    decode_workers: float | None = None
    prefill_batch: float | None = None
    decode_batch: float | None = None  # most sequences a decode rank runs (the engine's max_batch_size there)
    moe_overlap: float | None = None
    mtp_tokens: int = 0
    mtp_acceptance: float = 0.0
    # request lengths uniform in [ratio x isl, isl] (and osl); 1: fixed; None (not given): the client profile's
    # range in the simulator, fixed lengths in the steady model
    random_range_ratio: float | None = None
    num_prompts: int = 0  # requests the benchmark client sends (0: its client profile's count)
    client: str = ""  # the benchmark client profile the row names (empty: benchmark_of's default)
    request_rate: float = 0.0  # open-loop arrivals [requests/s] (0: the closed loop; inf: every request at once)
    max_concurrency: int = 0  # an open loop's cap on requests in flight (0: none)
    engine_settings: tuple[tuple[str, float], ...] = ()  # the row's own engine settings, already in `engine`
    row_settings: tuple[str, ...] = ()  # which of them the row states itself (the others: its version's defaults)
    notes: tuple[str, ...] = ()
    flags: tuple[Flag, ...] = ()  # what resolving the case raised (an MTP acceptance extrapolated past its source)
    calibration: Calibration | None = None  # None: the catalog's calibration of the chip
    phase: str = "both"  # "decode" or "prefill": a fixed-batch step (phase.py) instead of the closed loop
    batch: int = 0  # the phase benchmark's sequences (decode) or prompts (prefill) over the deployment
    context: int = 0  # the decode benchmark's KV tokens per sequence
    prefill_system: System | None = None  # disaggregated: prefill workers on another system (None: `system`)
    offload_kv: float = 0.0  # share of each device's KV cache kept in host memory (Deployment.offload_kv)
    offload_weights: float = 0.0  # share of each device's weights kept in host memory
    kernels: tuple[EngineKernel, ...] = ()  # what the row's engine version runs instead of the calibrated kernels
    decode_kernels: tuple[EngineKernel, ...] | None = None  # disaggregated decode workers' where they differ
    host: EngineHost | None = None  # host work the row's engine version does beyond the calibrated profile's
    moe_gather: bool = False  # the fused-MoE backend gathers the attention-DP group's tokens (Deployment.moe_gather)
    decode_moe_gather: bool = False  # disaggregated decode workers' (their own backend)
    prefill_fp4_gemm: str = ""  # disaggregated prefill workers' FlashInfer FP4 GEMM backend (Case.prefill_fp4_gemm)

    @property
    def emulated_on(self) -> str:
        """The math unit the chip emulates the weights' format on ('bf16' for fp8 on an Ascend 910B), '' where it
        runs it natively: a prediction's `emulated_on` (compare's rows say it so; the experts' is expert_emulated_on)."""
        return emulation(self.precision.weights, self.system.chip)[0]

    @property
    def expert_emulated_on(self) -> str:
        """The math unit the chip emulates the experts' format on ('fp8' for gpt-oss's mxfp4 experts on an MI300X,
        nearly all its weights), '' where it runs it natively or the model has no experts."""
        return emulation(self.precision.expert_weights, self.system.chip)[0] if "moe" in self.model.features else ""

    def with_engine(self, profile: EngineProfile) -> Scenario:
        """This scenario under another profile of its engine, keeping the row's own engine settings."""
        return dataclasses.replace(self, engine=dataclasses.replace(profile, **dict(self.engine_settings)))

    @property
    def group(self) -> tuple[object, ...]:
        """Everything but the workload: rows with one group share their deployments."""
        return (self.model.name, self.model.source, self.system.id, self.engine, self.precision, self.mode,
                self.layout, self.decode_layout, self.prefill_workers, self.decode_workers, self.prefill_batch,
                self.decode_batch, self.moe_overlap, self.mtp_tokens, self.mtp_acceptance, self.notes, self.flags,
                self.calibration and self.calibration.id, self.phase, self.batch, self.context,
                self.prefill_system and self.prefill_system.id, self.offload_kv, self.offload_weights,
                self.kernels, self.decode_kernels, self.host, self.moe_gather, self.decode_moe_gather,
                self.prefill_fp4_gemm)


@dataclass(frozen=True, slots=True, kw_only=True)
class Prediction:
    """Predicted means of one case (NaN where infeasible) and what was assumed."""

    case_id: str
    ttft_s: float
    tpot_s: float
    output_tokens_per_s_per_chip: float
    output_tokens_per_s_per_user: float
    chips: float
    # [B] device memory the run holds per chip at its load (its clients; an open loop or trace the simulator runs: the
    # KV its busiest rank held at its peak): weights, activations, the KV cache its sequences keep and the share the
    # engine holds back (1 - kv_memory_fraction of memory, and a fixed runtime reserve), counted as in use. The KV
    # term is at most the pool the rest leaves, so a run whose sequences need more KV than that (they wait or are
    # preempted) reads the chip's whole memory; a package's where each die is a rank, the most any chip holds in a
    # disaggregated run
    memory_bytes_per_chip: float
    feasible: bool
    note: str
    flags: tuple[Flag, ...] = ()  # where the case lies outside what parity was checked on
    emulated_on: str = ""  # the math unit the chip emulates the weights' format on ('' where native: Scenario's)
    expert_emulated_on: str = ""  # the same of the experts' format ('' where native or no experts: Scenario's)
    extra: dict[str, float] = field(default_factory=dict)

    def row(self) -> dict[str, object]:
        """Every output column (interval bounds NaN where unknown) plus the extra figures; counts (chips, and a
        disaggregated deployment's prefill_workers and decode_workers) as integers where whole, and the workers None
        where the deployment is aggregated (its one kind of worker is neither; chips counts it)."""
        out = asdict(self)
        out.update(out.pop("extra"))
        out["flags"] = texts(self.flags)  # a list: one cell of a table, of JSON text in CSV
        out["chips"] = whole(self.chips)  # a count (workers of whole chips): an integer column of CSV and Parquet
        for workers in ("prefill_workers", "decode_workers"):  # an aggregated deployment has neither kind: None
            if workers in out:
                out[workers] = whole(out[workers]) if out[workers] else None
        for column in OUTPUT_COLUMNS:
            out.setdefault(column, float("nan"))
        return out

    def interval(self, metric: str) -> tuple[float, float]:
        """(low, high) of the 80% interval of a metric (NaN when unknown)."""
        nan = float("nan")
        return self.extra.get(f"{metric}_low", nan), self.extra.get(f"{metric}_high", nan)


def _failed(case_id: str, reason: str) -> Prediction:
    nan = float("nan")
    return Prediction(case_id=case_id, ttft_s=nan, tpot_s=nan, output_tokens_per_s_per_chip=nan,
                      output_tokens_per_s_per_user=nan, chips=nan, memory_bytes_per_chip=nan, feasible=False,
                      note=reason)


def scenario_from_row(row: Mapping[str, object], systems: Mapping[str, System] | None = None) -> Scenario:
    """A Scenario from one table row; raises ParityError naming the bad field. `systems` adds systems
    (e.g. what-if variants) by name to the catalog's."""
    return scenario_of(case_from_row(row), systems)


# a case's settings of how experts run (Case field -> its column and serve's option), which a dense model never reads
_EXPERT_SETTINGS = {"moe_backend": "moe_backend (--moe-backend)",
                    "decode_moe_backend": "decode_moe_backend (--decode-moe-backend)",
                    "normal_all_to_all": "normal_all_to_all (--normal-all-to-all)",
                    "prompt_gather_all_reduce": "moe_all_to_all (--moe-all-to-all, --no-moe-all-to-all)"}


def _refuse_unread_launch(case: Case, model_name: str, moe: bool, precision: Precision) -> None:
    """Refuse a launch setting the run would not read, as other unread options and columns are: one of how experts
    run (_EXPERT_SETTINGS) on a dense model, or an FP8 GEMM (fp8_gemm) over 16-bit weights (Llama-3.1-70B
    with --moe-all-to-all read as without it: regression tester fixfc 2)."""
    settings = dict(case.engine_settings)
    given = [said for field, said in _EXPERT_SETTINGS.items() if getattr(case, field, "") or field in settings]
    if given and not moe:
        one = len(given) == 1
        raise InfeasiblePlan(f"{', '.join(given)} set{'s' if one else ''} how the experts run; {model_name} is dense "
                             f"(no experts): leave {'it' if one else 'them'} out")
    formats = filter(None, (precision.weights, precision.expert_weights, precision.attention_weights))
    # 16-bit weights have no FP8 GEMM to pick (an NVFP4 checkpoint may keep FP8 matrices: taken, read or not)
    if case.fp8_gemm and all(format_named(name).bits >= 16 for name in formats):
        raise InfeasiblePlan(f"fp8_gemm (--fp8-gemm) {case.fp8_gemm} picks the FP8 GEMM; the weights here are "
                             f"{precision.weights}, with no FP8 matrix: leave it out, or serve FP8 weights")


def scenario_of(case: Case, systems: Mapping[str, System] | None = None) -> Scenario:
    """A Case resolved against the catalog (and `systems`, e.g. what-if variants, by name) into a
    Scenario; raises ParityError naming the field that makes no sense."""
    model = catalog.model(case.model)
    system = (systems or {}).get(case.system) or catalog.system(case.system)
    calibration = None
    if case.runs_per_die(system.chip.dies):
        if system.chip.dies == 1:
            raise InfeasiblePlan(f"rank_per_die: {system.chip.id} has one die per package")
        calibration = catalog.calibration(system.chip)  # the package's efficiencies hold per die
        system = per_die(system)
    engine = catalog.engine_for(case.engine, system.chip.software_stack)
    defaults, defaults_note = _version_defaults(engine, case, system)
    settings = (*defaults, *case.engine_settings)  # kept by Scenario.with_engine under a refitted profile
    for field_name, value in settings:
        try:
            engine = dataclasses.replace(engine, **{field_name: value})
        except ValueError as err:
            column, rule = _SETTING_COLUMNS.get(field_name, (field_name, "as the engine allows"))
            raise InfeasiblePlan(f"{column} must be a number {rule}, got {value:g}") from err
    row = {"weights": case.weights, "moe_weights": case.moe_weights, "kv": case.kv,
           "attention_format": case.attention_format, "mla_decode": case.mla_decode,
           "attention_weights": case.attention_weights, "phase": case.phase}
    precision, note = _precision(row, model, system, engine)
    _refuse_unread_launch(case, model.name, "moe" in model.features, precision)
    kernels, kernels_note = _version_kernels(engine, case, system, model, precision.weights, case.moe_backend)
    decode_kernels = None
    if case.mode == "disagg" and case.decode_moe_backend != case.moe_backend:
        decode_kernels, decode_note = _version_kernels(engine, case, system, model, precision.weights,
                                                       case.decode_moe_backend)
        if decode_kernels != kernels:
            kernels_note = "; ".join(n for n in (kernels_note and f"prefill workers: {kernels_note}",
                                                 decode_note and f"decode workers: {decode_note}") if n)
        else:
            decode_kernels = None
    host, host_note = _version_host(engine, case, system)
    if case.moe_overlap is not None and not 0.0 <= case.moe_overlap <= 1.0:
        raise InfeasiblePlan(f"moe_overlap must be in [0, 1], got {case.moe_overlap:g}")
    mtp = case.mtp_tokens
    if mtp and not model.mtp_layers:
        trimmed = "".join(f"; {f.text}" for f in model.flags if f.kind == "config trimmed")  # the layer cut away
        raise InfeasiblePlan(f"{model.name} has no multi-token-prediction layers to draft {mtp} token"
                             f"{'s' if mtp != 1 else ''} with (--mtp, or mtp_tokens in a table){trimmed}")
    mtp_acceptance, mtp_note, raised = case.mtp_acceptance, "", ()
    if mtp and not mtp_acceptance:
        published = catalog.mtp_acceptance(model.name)
        if published is None:
            raise InfeasiblePlan(f"{model.name} drafting needs an acceptance (--mtp-acceptance, or mtp_acceptance in a "
                                 "table): parity records no published one for it")
        mtp_acceptance = published.accepted_tokens(mtp)
        mtp_note = f"MTP acceptance: {published.describe(mtp)} (default: {published.source}; {published.note})"
        raised = catalog.mtp_flags(model, mtp)
    elif mtp:
        mtp_note = f"MTP: {counted(mtp, 'draft token')} a step, {mtp_acceptance:g} accepted (given)"
    if mtp_acceptance and not mtp:  # it quoted a '--mtp 0' no one typed and the range [0, 0] (fuzzDF 8)
        raise InfeasiblePlan(f"an MTP acceptance of {case.mtp_acceptance:g} (--mtp-acceptance; a cases table's "
                             "mtp_acceptance) counts the drafts a step accepts with multi-token prediction, which is "
                             "off: give the drafts a step (--mtp N; mtp_tokens), or leave it out")
    if not 0.0 <= mtp_acceptance <= mtp:
        raise InfeasiblePlan(f"--mtp-acceptance {case.mtp_acceptance:g} must be in [0, {mtp}]: a step accepts at "
                             f"most the --mtp {mtp} tokens it drafts (a cases table's mtp_acceptance and mtp_tokens)")
    if case.random_range_ratio is not None and not 0.0 <= case.random_range_ratio <= 1.0:
        raise InfeasiblePlan(f"random_range_ratio must be in [0, 1], got {case.random_range_ratio:g}")
    if case.phase not in PHASES:
        raise InfeasiblePlan(f"phase must be one of {', '.join(PHASES)}, got {case.phase!r}")
    for name, share in (("offload_kv", case.offload_kv), ("offload_weights", case.offload_weights)):
        if not 0.0 <= share <= 1.0:
            raise InfeasiblePlan(f"{name} must be in [0, 1], got {share:g}")
        if share and not system.host_link_bytes_per_s:
            raise InfeasiblePlan(f"{name}: {system.id} has no host memory on a chip-to-CPU link to offload to")
    if case.offload_kv or case.offload_weights:
        note = "; ".join(n for n in (note, f"offloaded to host memory: KV {case.offload_kv:.0%}, weights "
                                           f"{case.offload_weights:.0%}, read each step over "
                                           f"{system.host_link_bytes_per_s / 1e9:,.0f} GB/s per chip, not "
                                           f"overlapped; {HOST_RESERVE_BYTES / 1e9:,.0f} GB of the host's "
                                           f"{system.host_memory_bytes / 1e9:,.0f} GB per chip kept for its own use")
                                     if n)
    common = dict(case_id=case.case_id, model=model, system=system, engine=engine, precision=precision,
                  isl=case.isl, osl=case.osl, concurrency=case.concurrency, phase=case.phase, batch=case.batch,
                  context=case.context, moe_overlap=case.moe_overlap, mtp_tokens=mtp, mtp_acceptance=mtp_acceptance,
                  random_range_ratio=case.random_range_ratio, num_prompts=case.num_prompts, client=case.client,
                  request_rate=case.request_rate, max_concurrency=case.max_concurrency, engine_settings=settings,
                  row_settings=tuple(k for k, _ in case.engine_settings), calibration=calibration, flags=raised,
                  offload_kv=case.offload_kv, offload_weights=case.offload_weights, kernels=kernels, host=host,
                  decode_kernels=decode_kernels, moe_gather=case.moe_backend in GATHERING_MOE_BACKENDS,
                  decode_moe_gather=(case.decode_moe_backend if case.mode == "disagg" else case.moe_backend)
                  in GATHERING_MOE_BACKENDS)
    gathering = sorted({case.moe_backend, case.decode_moe_backend} & set(GATHERING_MOE_BACKENDS))
    gather_note = (f"MoE backend {', '.join(gathering)}: under attention DP the group's tokens are all-gathered to "
                   f"every rank and the outputs reduce-scattered, no all-to-all") if gathering else ""
    notes = tuple(n for n in (catalog.priced_as(case.model), *_emulated(precision, system), note, mtp_note,
                              defaults_note, kernels_note, host_note, gather_note, vision_note(model)) if n)
    if case.mode == "agg":
        if case.prefill_system:
            raise InfeasiblePlan("prefill_system needs mode disagg (prefill and decode workers apart)")
        layout = case.layout.check(model)
        return Scenario(**common, mode="agg", layout=layout, notes=notes + _spanning("worker", layout, system))  # type: ignore[arg-type]
    if case.mode != "disagg":
        raise InfeasiblePlan(f"mode must be agg or disagg, got {case.mode!r}")
    prefill_system = None
    if case.prefill_system:
        prefill_system = (systems or {}).get(case.prefill_system) or catalog.system(case.prefill_system)
        for fmt in (precision.weights, precision.expert_weights):
            math_unit(format_named(fmt), prefill_system.chip)  # raises if the prefill chip cannot run it at all
        if prefill_system.chip.id != system.chip.id:
            notes = (*_emulated(precision, prefill_system), *notes)
    prefill = case.layout.check(model)
    decode = (case.decode_layout or case.layout).check(model)
    decode_batch = None
    if case.decode_workers is not None:
        decode_workers = float(case.decode_workers)
        decode_batch = None if case.decode_batch is None else float(case.decode_batch)  # a per-rank cap
    elif case.decode_batch is not None:
        decode_workers = float(max(1, round(case.concurrency / (case.decode_batch * decode.attn_dp))))
        notes += (f"{decode_workers:g} decode worker(s) inferred from the decode batch",)
    else:
        decode_workers = None
    return Scenario(**common, mode="disagg", layout=prefill, decode_layout=decode,  # type: ignore[arg-type]
                    prefill_workers=None if case.prefill_workers is None else float(case.prefill_workers),
                    decode_workers=decode_workers,
                    prefill_batch=None if case.prefill_batch is None else float(case.prefill_batch),
                    decode_batch=decode_batch, prefill_system=prefill_system, prefill_fp4_gemm=case.prefill_fp4_gemm,
                    notes=notes + _spanning("prefill worker", prefill, prefill_system or system)
                    + _spanning("decode worker", decode, system))


def _spanning(worker: str, layout: Layout, system: System) -> tuple[str, ...]:
    """A note where one worker is wider than the system's scale-up domain ('the worker spans 2 hgx-h100 systems
    over scale-out', as compare's 'spans 2 systems'): its collectives run hierarchically, the links between domains
    the slower; () where it fits in one. A system of one rank per die (hardware.per_die) is named as the catalog's,
    with its dies: 'spans 4 atlas-800-a3 systems (64 dies)'."""
    domain = system.scale_up_domain_chips
    if layout.chips <= domain:
        return ()
    count = -(-layout.chips // domain)
    ranks = system.chip.ranks_per_package  # > 1: a rank is one die of a package
    name, dies = (system.id.removesuffix("-per-die"), f" ({count * domain} dies)") if ranks > 1 else (system.id, "")
    unit = (f"{name} systems" if domain == system.chips
            else f"{domain // ranks}-chip scale-up domains of {name}") + dies
    return (f"the {worker} spans {count} {unit} over scale-out",)


def deployment(scenario: Scenario, layout: Layout, system: System | None = None, decode: bool = False
               ) -> Deployment:
    """The deployment of one worker of a scenario (on `system`, default the scenario's; decode: a disaggregated
    decode worker, with its own kernels where they differ), with its engine's overheads and efficiencies."""
    if system is None or system.id == scenario.system.id:
        system, calibration = scenario.system, scenario.calibration or catalog.calibration(scenario.system.chip)
    else:
        calibration = catalog.calibration(system.chip)
    dep = engine_deployment(scenario.model, system, layout, scenario.precision, calibration, scenario.engine,
                            scenario.moe_overlap, scenario.mtp_tokens, scenario.mtp_acceptance,
                            scenario.decode_kernels if decode and scenario.decode_kernels is not None
                            else scenario.kernels, scenario.host)
    if scenario.offload_kv or scenario.offload_weights:
        dep = dataclasses.replace(dep, offload_kv=scenario.offload_kv, offload_weights=scenario.offload_weights)
    if scenario.decode_moe_gather if decode else scenario.moe_gather:
        dep = dataclasses.replace(dep, moe_gather=True)
    return dep
