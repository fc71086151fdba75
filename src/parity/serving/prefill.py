"""Prompts in the steady-state model: groups that arrive and prefill together, their engine time, what a prompt
waits before its first token (the queue, attention-DP holds, batch waiting, the receive interval), and the
prefill throughput of a worker."""

from __future__ import annotations

import numpy as np

from parity.engine import EngineProfile
from parity.ops import Batch, Num
from parity.step import Deployment, step_cost

__all__ = ["prompt_group_size", "prefill_throughput"]


def prompt_group_size(profile: EngineProfile, isl: Num, clients: Num) -> Num:
    """Prompts that arrive and are prefilled together: up to as many as one step's budget holds (at
    most the clients of the rank), scaled by how synchronised the engine's arrivals stay."""
    most = np.clip(np.floor(profile.max_num_tokens / isl), 1.0, np.maximum(clients, 1.0))
    return 1.0 + profile.arrival_sync * (most - 1.0)


def _group_prefill(dep: Deployment, profile: EngineProfile, isl: Num, group: Num, decode_batch: Num, context: Num,
                   mixed: bool, busy_ranks: Num = 1.0, decode_step_s: Num | None = None,
                   decode_ranks: Num | None = None, context_spread: Num = 0.0) -> tuple[Num, Num]:
    """(engine time a group of prompts adds, wall time until the group's prefill is done) [s].

    The group's tokens run in chunks of what the step budget leaves beside `decode_batch` decodes
    (mixed engines) or alone while decodes wait; a chunked prompt has half its earlier chunks cached
    on average. Under attention data parallelism the group is spread over `busy_ranks` ranks: their
    attention runs there while the other ranks wait in lockstep, and the experts see only its tokens, and the
    decodes of `decode_ranks` ranks (None: every rank; step.decode_spread), at mean `context` spread context_spread
    either side (step.decode_step).
    """
    decode = decode_batch if mixed else 0.0
    width = 1.0 + dep.mtp_tokens  # tokens a decode verifies a step (multi-token prediction)
    tokens = group * isl / busy_ranks  # per busy rank
    chunk = np.minimum(tokens, np.maximum(profile.max_num_tokens - decode * width, 1.0))
    steps = tokens / chunk
    with_prompts = step_cost(dep, Batch(decode_tokens=decode, decode_context=context, decode_width=width,
                                        prefill_tokens=chunk, prefill_sequences=chunk / isl,
                                        prefill_context=np.maximum(isl - chunk, 0.0) / 2.0,
                                        prefill_ranks=busy_ranks, decode_ranks=decode_ranks,
                                        decode_context_spread=context_spread)).time_s
    if mixed:
        # the same decodes alone (with MTP not decode_step_s, which adds the drafts the mixed step leaves out)
        without = decode_step_s if decode_step_s is not None and not dep.mtp_tokens else step_cost(
            dep, Batch(decode_tokens=decode, decode_context=context, decode_width=width,
                       decode_ranks=decode_ranks, decode_context_spread=context_spread)).time_s
        # never below zero: where the mixed step's pricing comes out under the decodes' own (decode_step prices
        # them apart, e.g. gpt-oss-120b's 128-token prompts beside 512 decodes on 16 B200s), prompts cost nothing
        added = np.maximum(with_prompts - without, 0.0) * steps
    else:
        added = with_prompts * steps
    return added * profile.prefill_scale, with_prompts * steps * profile.prefill_scale


def _ranks_per_prompt_step(ranks: Num, group_rate: Num, step_s: Num) -> Num:
    """Attention-DP ranks whose prompt groups share one lockstep prompt step (mean, 1 to `ranks`), where no policy
    holds prompts to align them: a step starts when one rank has a group, and every other rank whose group came
    during the step before (length step_s [s], groups arriving at group_rate [1/s] per rank, Poisson) prefills in
    it too, since all ranks stop for it anyway: 1 + (ranks - 1) (1 - exp(-group_rate x step_s)). SGLang builds each
    rank's prefill batch in the same scheduler iteration and runs them in one synchronised forward; the ranks
    without one run an idle batch where speculative decoding is on ("prefill and decode batches will not be mixed
    when spec and dp-attn is enabled", python/sglang/srt/managers/scheduler.py get_next_batch_to_run;
    prepare_mlp_sync_batch_raw's idle batch) and, without it, their decode batch in the same forward, which neither
    this nor the simulator models (the step is as long either way; those ranks' decodes do not wait); each
    TensorRT-LLM rank likewise schedules its own waiting context requests every iteration where attention_dp_config
    does not hold them; the simulator's lockstep steps do the same (simulate.admission._plan). 16 ranks, one group
    per rank in each step's time ln 2: half the other ranks join, 8.5 ranks a step. The step is priced as one rank's
    (the experts see that rank's tokens alone), as before."""
    return 1.0 + (np.asarray(ranks, float) - 1.0) * (1.0 - np.exp(-np.asarray(group_rate) * step_s))


def _queue_wait(profile: EngineProfile, u: Num, group_service: Num, clients: Num, per_prompt: Num) -> Num:
    """Mean wait of a prompt group for the prompts ahead of it [s]: Kingman's steady-state queue, plus
    the benchmark's first wave (all clients send at once; on average half of them are ahead)."""
    return profile.burstiness * u / (1.0 - u) * group_service + profile.first_wave * clients * per_prompt


def _attention_dp_hold(profile: EngineProfile, harmonic: Num, lam: Num, step_s: Num) -> Num:
    """Mean time a prompt is held so that every attention-DP rank prefills in the same step [s]: until
    each of the ranks has a prompt (the largest of their first arrivals, H_ranks / lam for arrivals
    at `lam` per rank; `harmonic` is H_ranks) or the engine's hold of attention_dp_hold_steps steps runs
    out. A prompt is taken to wait a whole hold, not half of one: measured TensorRT-LLM DeepSeek-R1 fp8
    DEP8 runs with 1,024-token prompts at 64-128 clients wait 1.3-1.4 s beyond the lockstep model where
    60 of their steps last 1.1-1.3 s."""
    return np.minimum(profile.attention_dp_hold_steps * step_s, harmonic / np.maximum(lam, 1e-12))


def _batch_wait(profile: EngineProfile, lam: Num, step_s: Num, isl: Num, decode_tokens: Num) -> Num:
    """Mean time a prompt waits under the engine's batch waiting [s]: the first prompt to arrive holds
    until enough prompts join for their tokens and the step's `decode_tokens` to reach the engine's
    share of its budget, or batch_wait_steps steps pass; prompts arriving meanwhile (lam per second,
    uniformly) wait the rest of that window, on average half of it. More load fills windows with more
    prompts, so the mean wait falls from a whole window towards half of one as clients are added."""
    threshold = profile.batch_wait_tokens_ratio * profile.max_num_tokens
    more = np.maximum(np.ceil((threshold - decode_tokens) / isl) - 1.0, 0.0)  # prompts still to come
    per_step = np.maximum(lam * step_s, 1e-12)
    window = np.minimum(profile.batch_wait_steps, more / per_step)
    joined = per_step * window
    return window * (1.0 + joined / 2.0) / (1.0 + joined) * step_s


def _recv_wait(profile: EngineProfile, u: Num, decode_step_s: Num) -> Num:
    """Mean time a prompt waits to be taken in [s] when the scheduler takes new requests only every
    recv_interval_steps decode steps and after any step with prompts: one arriving among decodes (a
    share 1 - u of the time) waits half an interval. Without attention DP only: SGLang's skipper of the
    measured releases refuses attention DP (scheduler_recv_skipper.py asserts it off)."""
    return (1.0 - u) * 0.5 * profile.recv_interval_steps * decode_step_s


def prefill_throughput(dep: Deployment, profile: EngineProfile, isl: Num) -> Num:
    """Prompt tokens per second one worker processes when prompts queue up [tokens/s]: steps filled
    to the token budget with whole or chunked prompts (MLPerf-style offline and server scenarios)."""
    tokens = np.maximum(profile.max_num_tokens, np.minimum(isl, 16384))
    t = step_cost(dep, Batch(prefill_tokens=tokens, prefill_sequences=tokens / isl,
                             prefill_context=np.maximum(isl - tokens, 0.0) / 2.0)).time_s
    return tokens * dep.layout.attn_dp / t
