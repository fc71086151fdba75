"""A deployment's workers as the simulator runs them: KV-cache capacity per rank, and each worker's step table and
scheduler."""

from __future__ import annotations

import numpy as np

from parity.engine import EngineProfile, HostOps
from parity.errors import InfeasiblePlan
from parity.simulate.benchmark import Benchmark
from parity.simulate.host_ops import prompt_step_ops
from parity.simulate.policies import Scheduler, scheduler_of
from parity.simulate.tables import StepTable, step_table
from parity.step import Deployment, deployment_memory

__all__ = ["kv_capacity_tokens"]


def kv_capacity_tokens(dep: Deployment, profile: EngineProfile, held_tokens: float) -> float:
    """KV-cache tokens one attention-DP rank holds beside the weights, activations and reserve."""
    mem = deployment_memory(dep, 1, held_tokens, profile.max_num_tokens,
                            reserve_fraction=1.0 - profile.kv_memory_fraction)
    return float(np.asarray(mem.kv_token_capacity))


def memory_with_kv(dep: Deployment, profile: EngineProfile, held_tokens: float, kv_tokens: float) -> float:
    """Device memory one attention-DP rank holds with `kv_tokens` tokens of KV cache [B]: the weights, activations
    and reserve that kv_capacity_tokens counts its room beside (at a request of `held_tokens`), and those tokens at
    the same size per token (the device's share where KV is offloaded)."""
    mem = deployment_memory(dep, 1, held_tokens, profile.max_num_tokens,
                            reserve_fraction=1.0 - profile.kv_memory_fraction)
    return float(np.asarray(mem.weight_bytes + mem.reserve_bytes + mem.activation_bytes
                            + kv_tokens * mem.kv_bytes_per_token))


def _table(dep: Deployment, profile: EngineProfile, bench: Benchmark, capacity: float, batch_cap: float,
           host_bound: bool = True, host_ops: HostOps | None = None) -> StepTable:
    """The deployment's step table under the profile's prompt-step costs (host_bound False: without the
    host's floor on eager prompt steps, sim_prefill_host_launch_s; an engine that replays graphs for prompt
    steps, sim_eager_prefill False, has none either). The floor counts the ops the engine's model code issues
    (host_ops, from its source: prompt_step_ops) where given and countable, else the kernels the step model
    prices. Its batches reach what a rank can run at once: the requests in flight (Benchmark.most_in_flight), the
    engine's batch limits, or about what its KV cache holds, whichever is least (beyond the grid a batch's time
    grows linearly from its last cell)."""
    most = min(float(bench.most_in_flight()), float(profile.max_batch_size), batch_cap,
               max(capacity / max(bench.isl * 0.5, 1.0), 1.0) * 1.5) + 1.0
    host_launch_s = profile.sim_prefill_host_launch_s if host_bound and profile.sim_eager_prefill else 0.0
    issued = prompt_step_ops(dep.model, dep.precision, host_ops) if host_launch_s and host_ops is not None else None
    return step_table(dep, most, float(bench.isl + bench.osl), float(profile.max_num_tokens),
                      profile.prefill_scale * profile.sim_prefill_scale, profile.sim_prefill_launch_s,
                      prompt_tokens=float(bench.isl), host_launch_s=host_launch_s, host_ops=issued,
                      decode_host_token_s=profile.decode_host_token_s)


def _scheduler(dep: Deployment, profile: EngineProfile, bench: Benchmark, prompts: bool = True
               ) -> tuple[Scheduler, float]:
    capacity = kv_capacity_tokens(dep, profile, bench.isl + bench.osl)
    if capacity < bench.isl + 1:
        raise InfeasiblePlan(f"one request's KV cache ({bench.isl + 1} tokens) does not fit: {capacity:,.0f} tokens "
                             f"free per rank")
    return scheduler_of(profile, capacity, int(dep.layout.attn_dp), dep.mtp_tokens, dep.mtp_acceptance,
                        dep.system.chip.memory_bytes, prompts=prompts), capacity
