"""One training step: forward, backward and optimizer per pipeline stage, priced from the same op graph
as serving, with the pipeline schedule's bubble and the exposed part of every communication.

Per microbatch and stage (priced in `passes`): the forward kernels of `plan.device_step`; backward =
dgrad + wgrad (twice the forward GEMMs), flash-attention backward (2.5x the forward FLOPs, Dao 2023
Sec. 3.1.2) and twice the memory-bound glue; recomputation adds forward work. 1F1B runs m microbatches
in (m + p - 1) stage-times, the interleaved schedule in (m + (p - 1)/v) (Narayanan et al. 2021 Sec. 2.2).
Sizes may be numpy arrays: every layout of a search is priced at once (layouts as arrays in `arrays`, the
result record in `result`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from parity.cost import collective_s, emulation_note, math_unit, same_rate_note
from parity.dtypes import format_named
from parity.engine import TrainingProfile
from parity.errors import InfeasiblePlan
from parity.hardware import Calibration, System, per_die
from parity.memory import vision_note
from parity.model import Model
from parity.ops import Batch, Num, expected_distinct
from parity.plan import Shard
from parity.training.arrays import LAYOUT_ARRAYS, _arrays, rank_arrays
from parity.training.layout import TrainingLayout
from parity.training.memory import adam_bytes_per_parameter, parameters_per_device, training_memory
from parity.training.passes import (ATTENTION_BACKWARD_FLOPS, _kernels, _materialised, _price_pass,
                                    _training_calibrations)
from parity.training.pipeline import pipeline_bubble_s
from parity.training.result import TrainingResult, model_flops_per_token
from parity.training.stages import implicit_stage_layers

__all__ = ["TrainingResult", "train_step", "evaluate_layouts", "evaluate_arrays", "model_flops_per_token", "rank_arrays",
           "DEFAULT_PROFILE", "ATTENTION_BACKWARD_FLOPS", "LAYOUT_ARRAYS", "format_notes"]

DEFAULT_PROFILE = TrainingProfile(id="default", name="documented defaults", date="", method="defaults of TrainingProfile",
                                  measured=False)
_TP_COLLECTIVES = ("attention_all_reduce", "mlp_all_reduce", "moe_all_reduce", "moe_gather", "moe_reduce",
                   "moe_gather_all_reduce", "moe_reduce_all_reduce")
_EP_COLLECTIVES = ("moe_dispatch", "moe_combine")


def _collective(kind: str, size: Num, group: Num, system: System, cal: Calibration, stride: Num = 1.0,
                fanout: Num | None = None) -> Num:
    """[s] of one collective over `group` ranks spaced `stride` chips apart (`fanout`: see ops.Collective)."""
    per_domain = np.maximum(np.floor(system.scale_up_domain_chips / np.asarray(stride, dtype=float)), 1.0)
    return collective_s(kind, size, group, system, cal.collective_efficiency, fanout=fanout, domain_ranks=per_domain)




def evaluate_layouts(model: Model, system: System, chips: int, layouts: Sequence[TrainingLayout], calibration: Calibration,
                     profile: TrainingProfile | None = None) -> TrainingResult:
    """Price many layouts of one precision at once; every field of the result is an array over them."""
    if not layouts:
        raise InfeasiblePlan("no layouts to price")
    kinds = {(x.precision, x.flash_attention, x.dropout) for x in layouts}
    if len(kinds) != 1:
        raise InfeasiblePlan(f"evaluate_layouts prices one precision and attention kind at a time, got {sorted(kinds)}")
    precision, flash, dropout = kinds.pop()
    arrays = _arrays(layouts) | rank_arrays(model, layouts)
    return evaluate_arrays(model, system, chips, arrays, calibration, profile, precision, flash, dropout)


def evaluate_arrays(model: Model, system: System, chips: int, a: dict[str, np.ndarray], calibration: Calibration,
                    profile: TrainingProfile | None = None, precision: str = "bf16", flash: bool = True,
                    dropout: bool = False) -> TrainingResult:
    """Price layouts given as arrays of their fields (keys of `LAYOUT_ARRAYS`), already checked."""
    prof = profile or DEFAULT_PROFILE
    # defaults: interleaved 1F1B where there are virtual stages, else 1F1B; even stages
    a = {"sched": np.where(a["v"] > 1, 1.0, 0.0),
         **({} if "stage" in a else rank_arrays(model, pp=a["p"], seq_len=a["s"])), **a}
    t, p, dp, c, e, et, v = a["t"], a["p"], a["dp"], a["c"], a["e"], a["et"], a["v"]
    moe = "moe" in model.features
    group_d = np.where(moe, e * et / t, 1.0)
    shard = Shard(t, group_d, np.where(moe, et, t), np.where(moe, e, 1.0), p, prof.expert_imbalance)
    tokens = a["mb"] * a["s"] / c
    m = a["gb"] / (dp * a["mb"])
    # context parallelism: each rank's queries see all keys; Megatron balances the causal work, so each
    # rank computes 1/cp of the pairs (prefix chosen so that pairs = s^2 / (2 cp) per sequence)
    batch = Batch(prefill_tokens=tokens, prefill_sequences=a["mb"], prefill_context=a["s"] * (c - 1.0) / (2.0 * c))
    sp_split = np.where(a["sp"] > 0, t, 1.0)  # sequence parallelism: the glue between GEMMs on 1/tp of the tokens
    kernels, collectives = _kernels(model, batch, shard, precision, t, prof.fp8_cast_bytes, prof.moe_permute_scale,
                                    sp_split)
    if not flash:
        kernels = _materialised(model, kernels, tokens, a["s"], shard, dropout)
    priced = _price_pass(kernels, system, _training_calibrations(calibration, prof))
    f_s, b_s, attn_s = priced.f_s, priced.b_s, priced.attention_s
    rc = a["rc"]
    # selective recomputation reruns the attention core (Korthikanti et al. 2022, Sec. 5; flash attention's
    # backward already does) and, for MLA, the norms and up-projections as DeepSeek-V3 does (Sec. 3.2.3)
    mla = "mla" in model.features
    selective_s = (0.0 if flash else attn_s) + (priced.up_s if mla else 0.0)
    recompute_s = np.where(rc >= 2, f_s, np.where(rc == 1, selective_s, 0.0))
    moe_layers = sum(layer.count for layer in model.layers if layer.moe)
    compute_mb = f_s + b_s + recompute_s + moe_layers / p * prof.moe_layer_overhead_s
    passes = 2.0 + (rc >= 2)  # forward + backward (+ the recomputed forward) run the same collectives

    tp_s: Num = 0.0
    ep_s: Num = 0.0
    for col in collectives:
        if col.name in _EP_COLLECTIVES:
            # Megatron-Core runs MoE under tensor parallelism with sequence parallelism only: each TP rank
            # dispatches its 1/tp share of the tokens (the collective's bytes already are that share:
            # plan.sharding.moe_scatter divides by tp once experts are spread); its all-to-all dispatcher
            # ("alltoall", which Megatron-Bridge 25.09's token-drop recipes need) permutes them into one row per
            # (token, expert) before the all-to-all, so each token crosses once per chosen expert
            # (megatron/core/transformer/moe/token_dispatcher.py, MoEAlltoAllTokenDispatcher); DeepEP's
            # normal kernels send it once per destination rank and remote node (collective_s with a fanout)
            rows = _collective(col.kind, col.bytes * (col.fanout or 1.0), col.group, system, calibration, et)
            deepep = _collective(col.kind, col.bytes, col.group, system, calibration, et, col.fanout)
            # experts sliced as well as spread (col.slices = etp > 1): what each rank received is all-gathered over
            # its expert-TP group after the dispatch, and the combine's partial sums reduce-scattered before it
            # (the same bytes): MoEAlltoAllTokenDispatcher's gather_from_sequence_parallel_region over tp_group;
            # the flex dispatcher sends each token to every slice instead, the same bytes on the same links
            on_deepep = a.get("dd", 0.0) > 0
            copies = np.where(on_deepep, expected_distinct(col.fanout or 1.0, col.group), col.fanout or 1.0)
            received = np.where(col.group > 1, col.bytes * copies, 0.0)
            gather = _collective("all_gather", received * col.slices, col.slices, system, calibration)
            ep_s = ep_s + col.count * (np.where(on_deepep, deepep, rows) + gather)
        elif col.name in _TP_COLLECTIVES:
            tp_s = tp_s + col.count * _collective(col.kind, col.bytes, col.group, system, calibration)
    cp_s: Num = 0.0
    for layer in model.layers:
        at = layer.attention
        if at is None or not at.kv_elements_per_token:
            continue  # no keys to ring: MLP-only, linear-attention and Mamba layers
        per_rank = (at.num_attention_heads * (at.qk_head_dim + at.value_head_dim) / t if at.mla
                    else (at.qk_head_dim + at.value_head_dim) * np.maximum(at.num_key_value_heads / t, 1.0))
        # ring attention: keys and values of every chunk reach every rank (all-gather forward; all-gather
        # and reduce-scatter of their gradients backward)
        cp_s = cp_s + layer.count / p * _collective("all_gather", 2.0 * tokens * c * per_rank, c, system, calibration, t)
    p2p = 2.0 * tokens * model.hidden_size / sp_split
    # each hop joins two stages t x c x dp chips apart (Megatron-Core's rank order "tp-cp-ep-dp-pp", pipeline
    # outermost); once the p stages span more than one scale-up domain, some hop crosses scale-out, and in
    # 1F1B's steady state every stage waits on its slowest neighbour: priced over the whole pipeline's p ranks
    pp_s = np.where(p > 1, 2.0 * v * _collective("send_recv", p2p, p, system, calibration, t * c * dp), 0.0)

    tp_mb, cp_mb = prof.tp_comm_exposed * passes * tp_s, prof.cp_comm_exposed * (passes + 1.0) * cp_s
    ep_mb = prof.ep_comm_exposed * passes * ep_s
    exposed_mb = tp_mb + cp_mb + ep_mb + prof.pp_comm_exposed * pp_s

    # data parallelism over dp x cp ranks (experts: over the ranks holding the same experts)
    dense_params, expert_params = parameters_per_device(model, shard)
    n_dense = dp * c
    n_expert = np.maximum(dp * c * t / (e * et), 1.0)
    window = prof.dp_overlap_window * a["overlap"]
    zero = a["zero"]
    # ZeRO-3 / FSDP gathers and reduce-scatters one layer at a time (PyTorch FSDP wraps each transformer block as a
    # unit; DeepSpeed's ZeRO-3 fetches each submodule's parameters as it runs): the ring's latency once a layer.
    # Gradients otherwise reduce in Megatron-Core's buckets of max(40M, 1M x dp) parameters
    # (megatron/core/distributed/distributed_data_parallel_config.py, bucket_size: "larger DP sizes need larger
    # buckets to ensure collectives do not become latency-bound")
    units = np.maximum(model.num_layers / p, 1.0)

    def sync(params: Num, n: Num, stride: Num) -> tuple[Num, Num, Num]:
        calls = np.where(zero >= 3, units, np.maximum(np.ceil(params / np.maximum(40e6, 1e6 * n)), 1.0))

        def each(kind: str, size: Num) -> Num:
            return calls * _collective(kind, size / calls, n, system, calibration, stride)
        return (each("reduce_scatter", params * prof.gradient_bytes), each("all_gather", params * 2.0),
                each("all_reduce", params * prof.gradient_bytes))

    dg, da, dr = sync(dense_params, n_dense, t)
    eg, ea, er = sync(expert_params, n_expert, e * et) if moe else (0.0, 0.0, 0.0)
    grads_s, gather_s, reduce_s = dg + eg, da + ea, dr + er

    def exposed(comm: Num, beside: Num) -> Num:
        """[s] of `comm` seconds of data-parallel traffic left on the critical path beside `beside` seconds of
        compute: what the window cannot hide, and at least the profile's exposed share of it."""
        return np.maximum(comm - window * beside, prof.dp_comm_exposed * comm)

    grads_exposed = exposed(grads_s, b_s)
    gather_exposed = exposed(gather_s, f_s)
    # ZeRO-1 (Megatron's distributed optimizer) accumulates full gradients and syncs once a step; ZeRO-2
    # keeps only its gradient shard, so it reduce-scatters after every microbatch's backward (DeepSpeed
    # issue #2252: "for zero stage 2 (and 3), gradient reduction is required after every backward") and
    # gathers the updated weights once a step
    per_step_dp = np.where(zero == 0, exposed(reduce_s, b_s), gather_exposed + np.where(zero == 2, 0.0, grads_exposed))
    # ZeRO-3 / FSDP gathers the weights before each forward and backward of every microbatch and reduce-scatters
    # its gradients (ZeRO paper Sec. 5.3: 3x the parameters a step, 1.5x plain data parallelism; PyTorch FSDP
    # docs), prefetching a layer ahead: its traffic grows with the microbatches
    zero3_mb = exposed((passes - 1.0) * gather_s, (passes - 1.0) * f_s) + exposed(gather_s + grads_s, b_s)
    dp_mb = np.where(zero >= 3, zero3_mb, np.where(zero == 2, grads_exposed, 0.0))
    dp_step = np.where(zero >= 3, 0.0, per_step_dp)

    # the busiest rank's share of the work over the even share priced, and the other ranks' (DualPipe's ranks each
    # run two stages): the busiest paces the microbatches, the others' stages make the bubble
    dual = a["sched"] == 3
    stage = np.where(dual, a["stage_dual"], a["stage"])
    rest = np.where(dual, a["stage_dual_rest"], a["stage_rest"])
    stage_mb = (compute_mb + exposed_mb + dp_mb) * stage
    # an even rank's share of the work of the layers (their passes and their TP, CP and EP collectives) is what
    # compute_s and the communication report: `even` times the model's 1/pp, above 1 where a --pp-layout places
    # MTP modules, each a layer more; the busiest rank's excess over it is the imbalance, the others idle meanwhile
    even = a["even"]
    layers_mb = compute_mb + tp_mb + cp_mb + ep_mb
    imbalance_s = m * ((compute_mb + exposed_mb + dp_mb) * (stage - 1.0) - layers_mb * (even - 1.0))
    bubble_s = pipeline_bubble_s(a["sched"], p, v, (compute_mb + exposed_mb + dp_mb) * rest, b_s * rest,
                                 priced.w_s * rest, m)
    shards_dense = np.where(zero >= 1, n_dense, 1.0)
    shards_expert = np.where(zero >= 1, n_expert, 1.0)
    optimizer_s = ((dense_params / shards_dense + expert_params / shards_expert) * prof.optimizer_traffic_bytes
                   / (system.chip.memory_bytes_per_s * calibration.stream_efficiency))
    step_s = m * stage_mb + bubble_s + dp_step + optimizer_s + prof.step_overhead_s

    memory = training_memory(model, system.chip.memory_bytes, a, shard, tokens, m, prof, n_dense, n_expert, precision,
                             flash, dropout)
    tokens_per_s = a["gb"] * a["s"] / step_s
    per_chip = tokens_per_s / chips
    flops = model_flops_per_token(model, a["s"])
    chip = system.chip
    # the unit the GEMMs run on (an 8-bit format on a chip without FP8 units runs as bf16)
    peak_math = math_unit(format_named(precision), chip)[0]
    peak = chip.peak(peak_math)
    bf16_peak = chip.peak("bf16") or np.nan
    return TrainingResult(
        step_s=step_s, compute_s=m * even * (compute_mb - recompute_s), recompute_s=m * even * recompute_s,
        tp_comm_s=m * even * tp_mb, cp_comm_s=m * even * cp_mb, ep_comm_s=m * even * ep_mb,
        pp_comm_s=m * prof.pp_comm_exposed * pp_s, dp_comm_s=m * dp_mb + dp_step, imbalance_s=imbalance_s, bubble_s=bubble_s,
        optimizer_s=optimizer_s, overhead_s=prof.step_overhead_s + 0.0 * step_s, tokens_per_s=tokens_per_s,
        tokens_per_s_per_chip=per_chip, model_flops_per_token=flops, mfu=per_chip * flops / peak,
        mfu_causal=per_chip * model_flops_per_token(model, a["s"], causal=True) / peak,
        mfu_bf16=per_chip * flops / bf16_peak, chips=chips, microbatches=m, memory=memory, tdp_w=chip.tdp_w,
        assumptions=_assumptions(prof, model) + tuple(filter(None, [emulation_note(format_named(precision), chip),
                                                                    same_rate_note(format_named(precision), chip)])),
        peak_math=peak_math)


def _assumptions(prof: TrainingProfile, model: Model) -> tuple[str, ...]:
    notes = [f"training profile {prof.id} ({'fitted' if prof.measured else 'prior'})",
             f"exposed communication: TP {prof.tp_comm_exposed:.0%}, CP {prof.cp_comm_exposed:.0%}, "
             f"EP {prof.ep_comm_exposed:.0%}, PP {prof.pp_comm_exposed:.0%}, DP/ZeRO {prof.dp_comm_exposed:.0%} "
             "(the rest hidden only as far as compute runs beside it)",
             f"memory reserve {prof.memory_reserve_fraction:.0%} + {prof.memory_reserve_bytes / 1e9:g} GB "
             "(allocator fragmentation, context, buffers)"]
    if "moe" in model.features:
        notes.append(f"expert load imbalance {prof.expert_imbalance:g}")
    return tuple(notes) + tuple(filter(None, [vision_note(model, "train")]))


def train_step(model: Model, system: System, chips: int, layout: TrainingLayout, calibration: Calibration,
               profile: TrainingProfile | None = None) -> TrainingResult:
    """One training step of `layout` on `chips` chips of `system`'s kind (scale-out beyond one system), each die
    of a multi-die chip one rank (the layout spreads over chips x dies ranks; TrainingResult.per_package).

    Raises InfeasiblePlan (naming the field) when the layout does not divide the model, batch or ranks;
    a layout that does not fit in memory is still priced, with fits False and the shortfall.
    profile None: DEFAULT_PROFILE, TrainingProfile's documented defaults, not the fitted profile `parity train`
    prices with (this engine reads no files): pass catalog.training_profile() for the command's figures (the
    README's Llama-3.1-70B on 64 H100s: 10.717 s a step with the defaults, 10.698 s as `parity train` gives it).
    """
    dies = system.chip.dies
    layout.check(model, chips, dies)
    result = evaluate_layouts(model, per_die(system), chips * dies, [layout], calibration, profile).at(0)
    result = result.per_package(dies)
    return dataclasses.replace(result, layout=layout,
                               assumptions=result.assumptions + format_notes(layout, profile, model))


def _implicit_stages(model: Model | None, pp: int) -> str:
    """"pipeline stages of equal layers, " or, where pp does not divide the layers, the stages' whole layers named."""
    if model is None or model.num_layers % pp == 0:
        return "pipeline stages of equal layers, "
    sizes = implicit_stage_layers(model.num_layers, pp)
    low, high = min(sizes), max(sizes)
    return (f"pipeline stages of whole layers ({sizes.count(high)} of {high}, {sizes.count(low)} of {low}: "
            f"{model.num_layers} over pp {pp}, as a --pp-layout would place them), ")


def _mtp_notes(layout: TrainingLayout, model: Model | None) -> tuple[str, ...]:
    """Whether `model`'s multi-token-prediction modules are trained: where a --pp-layout places them (m), on the
    ranks holding them (priced as training.step prices them); else not at all."""
    if model is None or not model.mtp_layers:
        return ()
    ranks = layout.pipeline_ranks(model) if layout.pp_layout else ()
    placed = [r for r, rank in enumerate(ranks) for _ in range(rank.mtp)]
    if not placed:
        return ("multi-token-prediction modules not trained (--pp-layout places them: m)",)
    where = ", ".join(map(str, sorted(set(placed))))
    return (f"multi-token-prediction modules trained where --pp-layout places them ({len(placed)} of "
            f"{len(model.mtp_layers)}, on pipeline rank{'s' if len(set(placed)) > 1 else ''} {where})",)


def format_notes(layout: TrainingLayout, profile: TrainingProfile | None = None, model: Model | None = None
                 ) -> tuple[str, ...]:
    """The assumptions a layout's storage formats and pipeline stages add to its result: Adam's bytes per
    parameter as training_memory counts them (2 + 2 + 12 in the ZeRO paper; an FP8 weight copy, bf16 moments
    and fp32 gradients change the terms); with `model`, whether its multi-token-prediction modules are trained (where
    a --pp-layout places them) and the layers of implicit stages that pp does not divide."""
    prof = profile or DEFAULT_PROFILE
    fp8, moments, gradients = (format_named(layout.precision).bits <= 8, layout.optimizer_states == "bf16",
                               layout.gradients == "fp32")
    terms = adam_bytes_per_parameter(0, 1.0, prof, fp8, float(moments), float(gradients))
    changes = [change for change, on in ((f"a {prof.fp8_weight_copy_bytes:g} B FP8 weight copy", fp8),
                                         ("bf16 moments", moments), ("fp32 gradients", gradients)) if on]
    adam = (f"Adam: {' + '.join(f'{float(b):g}' for b in terms)} B per parameter (ZeRO paper"
            + (f", with {', '.join(changes)})" if changes else ")")
            # Megatron-Core's distributed-optimizer docs (docs.nvidia.com/megatron-core/developer-guide/latest/
            # distrib_optimizer.html) count bf16 parameters with fp32 gradients, 6 + 12/d B (grad_reduce_in_fp32)
            + ("" if gradients else "; bf16 gradients, where Megatron-Core's distributed-optimizer table counts "
                                    "fp32 ones with bf16 weights (6 + 12/d B; --gradients fp32)"))
    stages = ("pipeline stages as --pp-layout places them" if layout.pp_layout else
              "pipeline stages as given, the embedding on the first and the LM head on the last" if layout.uneven else
              _implicit_stages(model, layout.pp) + "the embedding on the first and the LM head on the last "
              "(Megatron-Core's GPTModel)")
    cache = ("activations cached as DeepSeek-V3 (FP8 GEMM inputs, E5M6 attention output, SwiGLU inputs FP8 and "
             "output recomputed; that recomputation, an elementwise pass over the cached inputs, is not priced)")
    # DeepSeek-V3's 1x128 activation tiles and 128x128 weight blocks (arXiv 2412.19437 Sec. 3.3.2): their scales'
    # loads and the finer-grained casts are not modelled, so fp8_block prices as per-tensor fp8 on every chip
    block = ("fp8_block priced as fp8: its 128x128 block scales' cost (scale loads, finer casts) is not modelled",)
    return (_mtp_notes(layout, model) + (adam, stages) + ((cache,) if layout.activation_cache == "fp8" else ())
            + (block if layout.precision == "fp8_block" else ()))
