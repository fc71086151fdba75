"""The steady state of a closed-loop benchmark on aggregated or disaggregated workers: arrival rates found by
bisection, with the KV cache's capacity and the decode batch as a damped fixed point."""

from __future__ import annotations

import numpy as np

from parity.engine import EngineProfile
from parity.errors import expect
from parity.memory import RUNTIME_RESERVE_BYTES, MemoryPlan, runtime_reserve_text
from parity.ops import Num
from parity.serving.prefill import (_attention_dp_hold, _batch_wait, _group_prefill, _queue_wait,
                                    _ranks_per_prompt_step, _recv_wait, prompt_group_size)
from parity.serving.workload import ServingResult, Workload
from parity.step import (Deployment, decode_host_floor, decode_host_floor_note, decode_spread, decode_step,
                         deployment_memory, kv_over_scale_up, kv_transfer_s, placement_note)
from parity.units import counted, figure_text

__all__ = ["serve_aggregated", "serve_disaggregated"]

_BUILT = "serving.engine_deployment(...), as `parity serve` builds a worker"


def _check_records(deployments: tuple[Deployment, ...], profile: EngineProfile, workload: Workload) -> None:
    """Refuse in one line (InputError) an engine profile, worker or workload given as anything but its record (an
    engine's name where catalog.engine(name) goes raised AttributeError deep in the model)."""
    for name, dep in zip(("dep", "decode") if len(deployments) == 1 else ("prefill", "decode"), deployments):
        expect(name, dep, Deployment, _BUILT)
    expect("profile", profile, EngineProfile, "catalog.engine(name)")
    expect("workload", workload, Workload, "parity.Workload(isl=..., osl=..., concurrency=...)")


_ITERATIONS = 3


def _one_text(values: Num, noun: str) -> str:
    """'12 prefill workers' where every scenario of a batch has the same count (counted), '' where they differ."""
    found = np.unique(np.asarray(values, dtype=float))
    return counted(float(found[0]), noun) if found.size == 1 else ""


def _workers_text(workers: Num, role: str, chips: Num, where: str = "") -> str:
    """'12 prefill workers of 8 chips' (`where`: ' of SYSTEM' after the chips); 'prefill workers of 8 chips' where
    a batch's scenarios have different counts (a note serves them all)."""
    return f"{_one_text(workers, f'{role} worker') or f'{role} workers'} of {_chips_text(chips)}{where}"


def _chips_text(chips: Num) -> str:
    """A worker's chips for a note: '8 chips', not '8.0 chips' (packages of a multi-die chip counted a rank per die
    come as floats), '1 chip'; a grid of layouts by its range, '1 to 128 chips' (numpy's print of the grid took 5 ms
    of a 26 ms search)."""
    if np.ndim(chips):
        low, high = float(np.min(chips)), float(np.max(chips))
        return counted(low, "chip") if low == high else f"{low:g} to {high:g} chips"
    return counted(float(chips), "chip")


def _bisect(residual, low: Num, high: Num, iterations: int = 32) -> Num:
    """Root of an increasing function on [low, high], elementwise."""
    lo, hi = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        above = residual(mid) > 0
        hi = np.where(above, mid, hi)
        lo = np.where(above, lo, mid)
    return 0.5 * (lo + hi)


def kv_capacity(dep: Deployment, profile: EngineProfile, sequences: Num, isl: Num, osl: Num) -> tuple[MemoryPlan, Num]:
    """Memory of one device and the sequences whose KV fits per attention-DP rank: each holds isl + osl
    tokens where the engine reserves a request's whole length at admission, isl + osl / 2 on average
    where it allocates pages as the output grows (profile.kv_on_demand)."""
    held = isl + np.where(profile.kv_on_demand, 0.5, 1.0) * osl
    mem = deployment_memory(dep, sequences, held, profile.max_num_tokens,
                            reserve_fraction=1.0 - profile.kv_memory_fraction)
    return mem, np.minimum(np.floor(mem.kv_token_capacity / held), float(profile.max_batch_size))


def held_back_note(profile: EngineProfile, stack: str) -> str:
    """What memory per chip counts, in words: what the engine holds back (1 - kv_memory_fraction of memory and
    memory.RUNTIME_RESERVE_BYTES, the context of the chip's software stack `stack`: memory.runtime_reserve_text)
    beside the weights, activations and every client's KV cache at its mean lengths (kv_capacity's: isl + osl / 2
    where pages grow with the output, isl + osl where admission reserves it)."""
    output = ("half its mean output (pages allocated as it grows)" if profile.kv_on_demand
              else "its whole mean output (reserved at admission)")
    return (f"the engine holds back {1.0 - profile.kv_memory_fraction:.0%} of memory (its KV share "
            f"{profile.kv_memory_fraction:.0%}) and {RUNTIME_RESERVE_BYTES / 1e9:g} GB more "
            f"({runtime_reserve_text(stack)}: an assumption); memory per chip counts these, the weights, activations "
            f"and every client's KV cache at its mean prompt + {output}")


_HARMONIC = np.cumsum(1.0 / np.arange(1.0, 1025.0))  # H_n for n = 1..1024


def serve_aggregated(dep: Deployment, profile: EngineProfile, workload: Workload, workers: Num = 1) -> ServingResult:
    """Steady state of `workers` identical workers serving prefill and decode in the same steps. `dep`: a worker as
    the engine runs it (serving.engine_deployment; a bare Deployment prices the chip's calibration without the
    engine's kernels and overheads, so it does not give `parity serve --model-kind steady`'s figures)."""
    _check_records((dep,), profile, workload)
    d = dep.layout.attn_dp
    isl, osl = workload.lengths()
    clients = np.asarray(workload.concurrency, float) / (workers * d)  # per attention-DP rank
    context, spread = isl + osl / 2.0, osl / 2.0  # a request's decode runs from isl to isl + osl
    mem, slots = kv_capacity(dep, profile, clients, isl, osl)
    fits = slots >= 1
    mixed = profile.mixes_prefill
    active = np.minimum(clients, np.maximum(slots, 1.0))  # clients holding KV-cache slots
    waiting = clients - active  # clients queued for a free slot
    group = prompt_group_size(profile, isl, active)
    # ranks step in lockstep: a rank with no sequence still runs a step; under a client a rank, d x active ranks
    # carry one sequence each and the experts see only theirs (decode_spread)
    batch, carrying = decode_spread(active, d)
    balanced = (np.asarray(d) > 1) & (profile.attention_dp_hold_steps > 0)
    # TensorRT-LLM batch-waits (timeout and token share both set) without attention DP, and only while other
    # sequences decode (not for a lone client); SGLang's receive interval also applies without attention DP only
    waits = ((np.asarray(d) == 1) & (profile.batch_wait_steps > 0) & (profile.batch_wait_tokens_ratio > 0)
             & (clients > 1))
    receives = (np.asarray(d) == 1) & (profile.recv_interval_steps > 1)
    harmonic = _HARMONIC[np.clip(np.asarray(d, int), 1, _HARMONIC.size) - 1] if np.any(balanced) else None
    others = 1.0 - 1.0 / np.maximum(clients * d, 1.0)  # the share of a worker's prompts that are other clients'
    for _ in range(_ITERATIONS):  # the decode batch excludes clients in prefill: a damped fixed point
        device_s, per_step = decode_step(dep, batch, context, carrying, spread)
        # the prompts' share is priced on the device step; the decode step itself waits for the host's floor
        t_decode = decode_host_floor(dep, device_s, batch, profile.decode_host_token_s)
        added, wall = _group_prefill(dep, profile, isl, group, batch, context, mixed, decode_step_s=device_s,
                                     decode_ranks=carrying, context_spread=spread)
        # ranks step in lockstep: a prompt step stalls all of them; it serves every rank whose prompts wait
        # (_ranks_per_prompt_step), or all ranks where the engine holds prompts until all prefill in the same step
        def per_prompt_of(lam: Num) -> Num:
            return added / group * np.where(balanced, 1.0, d / _ranks_per_prompt_step(d, lam / group, added))

        def latency(lam: Num) -> tuple[Num, Num, Num]:
            per_prompt = per_prompt_of(lam)
            u = np.minimum(lam * per_prompt, 0.999999)
            # a client's decodes pause for the other clients' prompts, not its own (done before its first
            # token): a lone client's TPOT is the decode step
            stretched = t_decode / (1.0 - u * others)
            tpot = stretched / per_step
            inner = (profile.ttft_overhead_s + profile.first_token_steps * stretched + wall
                     + _queue_wait(profile, u * others, added, active * others, per_prompt)
                     + (np.where(balanced, _attention_dp_hold(profile, harmonic, lam, stretched), 0.0)
                        if harmonic is not None else 0.0)
                     + (np.where(waits, _batch_wait(profile, lam, stretched, isl,
                                                    batch * (1.0 + dep.mtp_tokens)), 0.0)
                        if np.any(waits) else 0.0)
                     + (np.where(receives, _recv_wait(profile, u, t_decode), 0.0) if np.any(receives) else 0.0))
            return inner + waiting / np.maximum(lam, 1e-12), tpot, inner

        def residual(lam: Num) -> Num:
            ttft, tpot, _ = latency(lam)
            return lam * (ttft + (osl - 1.0) * tpot) - clients

        lam = _bisect(residual, 0.0, 1.0 / np.maximum(added / group, 1e-12))
        per_prompt = per_prompt_of(lam)
        ttft, tpot, inner = latency(lam)
        decoding = (osl - 1.0) * tpot
        batch = 0.5 * batch + 0.5 * np.maximum(active * decoding / (inner + decoding), 1.0)
    notes = (f"engine {profile.id}: step budget {profile.max_num_tokens} tokens, "
             f"{'prefill mixed into decode steps' if mixed else 'prefill steps pause decodes'}",
             f"prompts arrive in groups of up to {profile.max_num_tokens} tokens; arrival burstiness "
             f"{figure_text(profile.burstiness)} (Kingman); a first token waits {profile.first_token_steps:.2g} engine "
             "steps beyond its prefill" + (f"; {placed}" if (placed := placement_note(dep)) else "")
             + (f"; prompts held up to {profile.attention_dp_hold_steps:g} steps until every attention-DP "
                f"rank has one" if harmonic is not None else "")
             + (f"; new prompts wait up to {profile.batch_wait_steps:g} steps for "
                f"{profile.batch_wait_tokens_ratio:.0%} of the step budget (batch waiting)" if np.any(waits) else "")
             + (f"; new requests taken in every {profile.recv_interval_steps:g} decode steps"
                if np.any(receives) else ""),
             f"{counted(workers, 'aggregated worker')} of {_chips_text(dep.chips)}; "
             f"{held_back_note(profile, dep.system.chip.software_stack)}"
             ) + decode_host_floor_note(profile.decode_host_token_s, d, dep.mtp_tokens)
    return ServingResult(ttft_s=ttft, tpot_s=tpot, output_tokens_per_s=lam * osl * d * workers,
                         chips=dep.chips * workers, decode_batch=batch, prefill_utilization=lam * per_prompt,
                         memory=mem, feasible=np.broadcast_to(fits, np.shape(ttft)),
                         kv_waiting=waiting * d * workers, assumptions=notes)


def serve_disaggregated(prefill: Deployment, decode: Deployment, profile: EngineProfile, workload: Workload,
                        prefill_workers: Num | None = None, decode_workers: Num | None = None,
                        prefill_batch: Num | None = None, decode_batch: Num | None = None) -> ServingResult:
    """Steady state of separate prefill and decode workers; the KV cache of each prompt moves over
    the scale-out network (scale-up when both fit in one scale-up domain), priced by step.kv_transfer_s as the
    simulator prices it. prefill_batch: prompts a prefill step takes at most (default: the step budget's worth);
    decode_batch: sequences a decode rank runs at most (default: what its KV cache holds, up to the engine's
    max_batch_size); clients beyond wait for a slot.

    Workers not given are sized: decode workers so that each decode rank holds the engine's
    `disagg_decode_batch` clients, prefill workers so that prompts keep them as busy as the engine's
    `disagg_prefill_utilization`. Both workers as the engine runs them (serving.engine_deployment).
    """
    _check_records((prefill, decode), profile, workload)
    isl, osl = workload.lengths()
    conc = np.asarray(workload.concurrency, float)
    dp, dd = prefill.layout.attn_dp, decode.layout.attn_dp
    context, spread = isl + osl / 2.0, osl / 2.0  # a request's decode runs from isl to isl + osl
    sized = []
    if decode_workers is None:
        decode_workers = np.maximum(1.0, np.round(conc / (dd * profile.disagg_decode_batch)))
        sized.append(f"decode workers sized for {figure_text(profile.disagg_decode_batch)} clients per rank")
    clients = conc / (decode_workers * dd)
    mem, slots = kv_capacity(decode, profile, clients, isl, osl)
    if decode_batch is not None:
        slots = np.minimum(slots, decode_batch)
    p_mem, _ = kv_capacity(prefill, profile, np.ones_like(isl), isl, np.ones_like(osl))
    fits = (slots >= 1) & p_mem.fits
    active = np.minimum(clients, np.maximum(slots, 1.0))  # per decode rank
    batch, carrying = decode_spread(active, dd)  # fewer clients than decode ranks: d x active ranks carry one each
    waiting = (clients - active) * decode_workers * dd  # all workers: clients queued for a KV slot
    def prefill_groups(workers: Num) -> tuple[Num, Num, Num]:
        """(prompts a prefill worker takes per round, its engine time, its wall time): a group per
        attention-DP rank, the ranks stepping in lockstep as one server."""
        per_worker = conc / workers
        per_rank = prompt_group_size(profile, isl, per_worker / dp)
        if prefill_batch is not None:
            per_rank = np.minimum(per_rank, prefill_batch)
        busy = np.clip(per_worker, 1.0, np.asarray(dp, float))
        group = per_rank * busy
        return (group, *_group_prefill(prefill, profile, isl, group, 0.0, 0.0, False, busy))

    if prefill_workers is None:
        group, added, _ = prefill_groups(1.0)
        t_decode = decode_host_floor(decode, decode_step(decode, batch, context, carrying, spread)[0], batch,
                                     profile.decode_host_token_s)
        rate = conc / ((osl - 1.0) * t_decode + profile.ttft_overhead_s + added)
        target = profile.disagg_prefill_utilization
        prefill_workers = np.maximum(1.0, np.ceil(rate * added / group / target))
        sized.append(f"prefill workers sized for {target:.0%} utilisation")
    prefill_ranks = prefill_workers  # each worker's ranks step together: one server per worker
    group, added, wall = prefill_groups(prefill_workers)
    # KV of one prompt, all layers, sent from the prefill rank that prefilled it to the decode rank that takes it
    system = decode.system
    domain = system.scale_up_domain_chips / system.chip.ranks_per_package  # chip packages, as Deployment.chips counts
    same_domain = kv_over_scale_up(prefill, decode)
    transfer = kv_transfer_s(prefill, decode, isl)
    for _ in range(_ITERATIONS):
        step_s, per_step = decode_step(decode, batch, context, carrying, spread)
        step_s = decode_host_floor(decode, step_s, batch, profile.decode_host_token_s)
        tpot = step_s / per_step

        def ttft_of(lam_total: Num) -> tuple[Num, Num]:
            u = np.minimum(lam_total / prefill_ranks * added / group, 0.999999)
            inner = (profile.ttft_overhead_s + profile.disagg_ttft_overhead_s + wall + transfer
                     + _queue_wait(profile, u, added, conc / prefill_ranks, added / group))
            # clients without a decode slot: their prefill runs while they queue for one (Little's law
            # over the clients not decoding), so the slot queue and the prefill path overlap
            return np.maximum(inner, waiting / np.maximum(lam_total, 1e-12)), inner

        def residual(lam_total: Num) -> Num:
            return lam_total * (ttft_of(lam_total)[0] + (osl - 1.0) * tpot) - conc

        lam = _bisect(residual, 0.0, prefill_ranks * group / np.maximum(added, 1e-12))
        ttft, inner = ttft_of(lam)
        decoding = (osl - 1.0) * tpot
        batch = 0.5 * batch + 0.5 * np.maximum(active * decoding / (inner + decoding), 1.0)
    chips = prefill.chips * prefill_workers + decode.chips * decode_workers
    mixed = "" if prefill.system.id == system.id else f" of {prefill.system.id}"
    said = [n for n in (_one_text(chips, "chip"), *sized) if n]  # '128 chips; prefill workers sized for ...'
    notes = (f"disaggregated: {_workers_text(prefill_workers, 'prefill', prefill.chips, mixed)} + "
             f"{_workers_text(decode_workers, 'decode', decode.chips)}" + (f" ({'; '.join(said)})" if said else ""),
             f"engine {profile.id}; arrival burstiness {figure_text(profile.burstiness)}; KV moved over "
             f"{'scale-up' if np.all(same_domain) else 'scale-out'} links"
             # a pair of workers fits one domain, the deployment not: priced as if every pair shared one
             + (f" (every prefill-decode pair fits one {domain:,.0f}-chip domain, not the deployment's "
                f"{_chips_text(chips)}: priced as if each pair shared one)"
                if np.all(same_domain) and np.any(chips > domain) else ""))
    notes += decode_host_floor_note(profile.decode_host_token_s, dd, decode.mtp_tokens)
    return ServingResult(ttft_s=ttft, tpot_s=tpot, output_tokens_per_s=lam * osl, chips=chips, decode_batch=batch,
                         prefill_workers=prefill_workers, decode_workers=decode_workers,
                         prefill_utilization=lam / prefill_ranks * added / group, memory=mem,
                         feasible=np.broadcast_to(fits, np.shape(ttft)), kv_waiting=waiting,
                         assumptions=notes, prefill_memory=p_mem)
