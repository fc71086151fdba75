"""A priced training layout as `parity train` writes it: the JSON record with its 80% intervals, and the
quantity/value rows and caption words of a single run for people."""

from __future__ import annotations

from typing import Any

from parity.flags import texts
from parity.hardware import rank_holder
from parity.report.tables import fields_text
from parity.training import TrainingLayout, TrainingResult, ranks_clause
from parity.uncertainty import TRAINING_INTERVAL_BASIS, training_interval
from parity.units import places_text


# the rows of a step: they add up to step_s
_BREAKDOWN = (("compute_s", "compute (forward and backward)"), ("recompute_s", "recomputation"),
              ("tp_comm_s", "exposed TP/SP communication"), ("cp_comm_s", "exposed CP communication"),
              ("ep_comm_s", "exposed EP all-to-all"), ("pp_comm_s", "exposed PP send/receive"),
              ("dp_comm_s", "exposed DP/ZeRO communication"), ("imbalance_s", "uneven pipeline stages (idle)"),
              ("bubble_s", "pipeline bubble"), ("optimizer_s", "optimizer step"), ("overhead_s", "per-step overhead"))


def _fit_note(r: TrainingResult) -> str:
    if bool(r.fits):
        return ""
    return (f"does not fit by {float(r.shortfall_bytes) / 1e9:.1f} GB per {rank_holder(r.dies)} "
            f"({r.memory.biggest_term()} is the biggest term)")


def _memory_fields(r: TrainingResult) -> dict[str, float]:
    """A package's memory use and capacity under the per-chip keys, as chips and tokens_per_s_per_chip count packages
    (as serve's memory_bytes_per_chip), and a die's beside them where each die is a rank (the `memory` terms are a
    rank's): a 910C held 60.1 GB "per chip" of its 128 GB."""
    used, held = float(r.memory.total_bytes), float(r.memory.capacity_bytes)
    return {"memory_bytes_per_chip": used * r.dies, "memory_capacity_bytes": held * r.dies} | (
        {"memory_bytes_per_die": used, "memory_capacity_bytes_per_die": held} if r.dies > 1 else {})


def result_payload(r: TrainingResult, tokens: float) -> dict[str, Any]:
    """The JSON of one priced layout (SI units); `memory` holds one rank's terms (a die's where each die is one), and
    `memory_per` says whose ('die' or 'chip', as the table's 'memory per die' row): a 910C's terms summed to a die's
    61.6 GB beside a package's memory_bytes_per_chip of 123.2 GB, and their keys did not say so (report-only tester,
    training-infrastructure lead 7)."""
    memory = {f"{k.replace(' ', '_')}_bytes": float(v) for k, v in r.memory.terms().items()}
    layout = r.layout
    return {
        "layout": {} if layout is None else {
            "tp": layout.tp, "pp": layout.pp, "dp": layout.dp, "cp": layout.cp, "ep": layout.ep, "etp": layout.expert_tp,
            "virtual_stages": layout.virtual_stages, "zero": layout.zero, "sequence_parallel": layout.sequence_parallel,
            "recompute": layout.recompute, "micro_batch": layout.micro_batch, "global_batch": layout.global_batch,
            "seq_len": layout.seq_len, "precision": layout.precision, "grad_overlap": layout.grad_overlap,
            "microbatches": layout.microbatches, "pp_schedule": layout.schedule,
            "pp_first_layers": layout.pp_first_layers, "pp_last_layers": layout.pp_last_layers,
            "activation_cache": layout.activation_cache, "optimizer_states": layout.optimizer_states,
            "gradients": layout.gradients, "pp_layout": layout.pp_layout, "moe_dispatcher": layout.moe_dispatcher,
            "name": str(layout)},
        "chips": r.chips, "ranks": r.ranks, "dies_per_chip": r.dies, "step_s": float(r.step_s),
        "tokens_per_s": float(r.tokens_per_s),
        "tokens_per_s_per_chip": float(r.tokens_per_s_per_chip), "mfu": float(r.mfu),
        "mfu_noncausal": float(r.mfu_noncausal), "mfu_causal": float(r.mfu_causal), "mfu_peak": r.peak_math,
        "mfu_bf16": float(r.mfu_bf16),
        "model_flops_per_token": float(r.model_flops_per_token), "bubble_fraction": float(r.bubble_fraction),
        "breakdown": {key: float(getattr(r, key)) for key, _ in _BREAKDOWN},
        **_memory_fields(r), "memory": memory, "memory_per": rank_holder(r.dies),
        "memory_pipeline_rank": int(r.memory.pipeline_rank),
        "fits": bool(r.fits), "shortfall_bytes": float(r.shortfall_bytes),
        "biggest_memory_term": r.memory.biggest_term(), "note": _fit_note(r),
        "train_tokens": tokens, "time_to_train_s": float(r.time_to_train_s(tokens)),
        "chip_hours": float(r.chip_hours(tokens)), "energy_j_at_tdp": float(r.energy_j(tokens)),
        "assumptions": list(r.assumptions),
    }


def _stage_name(rank: int, pp: int) -> str:
    """A pipeline rank as the memory row names it: 'first of 4 (rank 0: the embedding)', 'last of 4 (rank 3: the LM
    head and loss)', 'rank 1 of 4'."""
    if rank == 0:
        return f"first of {pp} (rank 0: the embedding)"
    return f"last of {pp} (rank {rank}: the LM head and loss)" if rank == pp - 1 else f"rank {rank} of {pp}"


def _one_layout_rows(data: dict[str, Any], layout: TrainingLayout) -> list[dict[str, str]]:
    """The single run's quantity/value rows for people: the layout's name wraps between its fields."""
    step = data["step_s"]
    rows = [("layout", fields_text(layout.name_fields)),
            _with_interval(data, "step time", "step_s", 3, 1, unit_text="s")]
    rows += [(f"  {label}", f"{data['breakdown'][key]:,.3f} s ({data['breakdown'][key] / step:.1%})")
             for key, label in _BREAKDOWN if data["breakdown"][key] > 0]
    rows += [("tokens/s (all chips)", f"{data['tokens_per_s']:,.0f}"),
             _with_interval(data, "tokens/s per chip", "tokens_per_s_per_chip", 1, 1),
             (f"MFU of the {data['mfu_peak'].upper()} peak (6N + 12LHQT: PaLM, Megatron)", f"{data['mfu']:.1%}"),
             ("MFU, causal (6N + 6LHQT: FlashAttention, torchtitan)", f"{data['mfu_causal']:.1%}")]
    if data["mfu_peak"] != "bf16":  # FP8 reports divide by the BF16 peak: above 100% when FP8 runs faster
        rows.append((f"model FLOP/s / BF16 peak ({data['mfu_peak'].upper()} papers' MFU; a ratio)",
                     f"{data['mfu_bf16']:.1%}"))
    die = data["dies_per_chip"] > 1
    used = data["memory_bytes_per_die" if die else "memory_bytes_per_chip"]
    held = data["memory_capacity_bytes_per_die" if die else "memory_capacity_bytes"]
    rows += [(f"memory per {rank_holder(data['dies_per_chip'])}", f"{used / 1e9:,.1f} of {held / 1e9:,.1f} GB")]
    if layout.pp > 1:
        rows += [("  fullest pipeline stage", _stage_name(data["memory_pipeline_rank"], layout.pp))]
    rows += [(f"  {k.removesuffix('_bytes').replace('_', ' ')}", f"{v / 1e9:,.1f} GB") for k, v in data["memory"].items()]
    rows += [("fits", "yes" if data["fits"] else data["note"]),
             _with_interval(data, f"time to train {data['train_tokens']:.3g} tokens", "time_to_train_s", 1, 1,
                            86400, "days"),
             ("chip-hours", places_text(data["chip_hours"], 0)),
             ("energy at chip TDP", _energy_text(data["energy_j_at_tdp"]))]
    per_step = layout.global_batch * layout.seq_len
    if data["train_tokens"] < per_step:  # a run takes whole steps: the figures above are a share of one
        rows += [("  fewer than one step", f"{data['train_tokens']:,.0f} of one step's {per_step:,} tokens "
                                           f"({step:,.3f} s a step)")]
    rows += [("outside what was validated", "; ".join(data.get("flags", ())) or "no")]
    return [{"quantity": k, "value": v} for k, v in rows]


def _energy_text(energy_j: float) -> str:
    """Energy in MWh from 1 MWh (3.6e9 J) up, in kWh (3.6e6 J) below it, so that a short run's 17.5 kWh does not read
    '0.0 MWh'; to three significant figures, whole from 100 up: '0.500 kWh', '1.83 kWh', '18.3 kWh', '183 kWh',
    '1.83 MWh', '1,393 MWh' (one place read '1.8 kWh' between '0.500' and '18.3': tester fixsm 2)."""
    value, unit = (energy_j / 3.6e9, "MWh") if energy_j >= 3.6e9 else (energy_j / 3.6e6, "kWh")
    return f"{value:,.0f} {unit}" if value >= 100 else f"{f'{value:#.3g}'.removesuffix('.')} {unit}"


def _with_interval(data: dict[str, Any], label: str, key: str, decimals: int, bounds: int, unit: float = 1.0,
                   unit_text: str = "") -> tuple[str, str]:
    """The row of a priced layout's quantity: its value over `unit` to `decimals` places and `unit_text`, then its
    80% interval (`key`_low, `key`_high: interval_fields) to `bounds` places, the label saying so as serve's rows do
    ('tokens/s per chip (80% interval)', '183.4 (100.4-311.2)'); the value alone where the chip's vendor has no band.
    Each figure to three significant ones where its places leave fewer than two (units.places_text)."""
    value = " ".join(filter(None, [places_text(data[key] / unit, decimals), unit_text]))
    low, high = data.get(f"{key}_low"), data.get(f"{key}_high")
    if low is None or high is None:
        return label, value
    return f"{label} (80% interval)", f"{value} ({places_text(low / unit, bounds)}-{places_text(high / unit, bounds)})"


def _record(model: Any, system: Any, result: TrainingResult, tokens: float, raised: Any) -> dict[str, Any]:
    """One priced layout as `train` writes it (JSON; CSV spreads it over layout_*, breakdown_*, memory_* columns)."""
    payload = result_payload(result, tokens)
    return {"model": model.name, "system": system.id, **payload, **interval_fields(system.chip, payload, raised),
            "flags": texts(raised)}


# the quantities of a priced layout given an 80% interval: those that move along with tokens/s per chip, and those
# that move inversely (the same work at the measured rate)
_ALONG = ("tokens_per_s", "tokens_per_s_per_chip", "mfu")
_INVERSE = ("step_s", "time_to_train_s", "chip_hours", "energy_j_at_tdp")


def interval_fields(chip: Any, payload: dict[str, Any], raised: Any) -> dict[str, Any]:
    """KEY_low and KEY_high of a priced layout's quantities (result_payload) on `chip`, widened by its flags `raised`
    and the fast end no faster than the chip's peak (uncertainty.training_interval), and interval_basis saying where
    they come from; {} where the chip's vendor has no band."""
    out: dict[str, Any] = {}
    for key in (*_ALONG, *_INVERSE):
        found = training_interval(chip, float(payload[key]), tuple(raised), inverse=key in _INVERSE,
                                  mfu=float(payload["mfu"]))
        if found is None:
            return {}
        out |= {f"{key}_low": found[0], f"{key}_high": found[1]}
    return out | {"interval_basis": f"80% intervals (KEY_low to KEY_high): {TRAINING_INTERVAL_BASIS}"}


def _interval_caption(data: dict[str, Any]) -> str:
    """What the single run's caption says of the ranges after its figures; '' where it has none."""
    if "interval_basis" not in data:
        return ""
    return (f"80% intervals: {TRAINING_INTERVAL_BASIS} (KEY_low, KEY_high in --format json, MFU's, tokens/s', "
            "chip-hours' and energy's too). ")


def _on(chips: int, system: Any) -> str:
    """What a job runs on: '64 x huawei-ascend-910c (atlas-800-a3), 128 ranks (2 dies a chip)'."""
    return f"{chips} x {system.chip.id} ({system.id}){ranks_clause(chips, system.chip.dies)}"
