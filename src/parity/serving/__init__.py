"""Serving scenarios: a closed-loop benchmark of `concurrency` clients on aggregated or disaggregated
workers, solved in steady state.

Each client sends a prompt of `isl` tokens, reads `osl` tokens, and sends the next. Clients that
start together stay together: prompts arrive in groups as large as one step's token budget holds
(g = budget / isl, at most the clients), and a group's prompts are prefilled in the same steps, so
each waits for the whole group. Per attention data-parallel rank requests arrive at
lam = clients / (TTFT + (osl-1) TPOT); prefill takes a share u = lam x S of the engine (S: engine
time of one prompt), so decode steps stretch to TPOT = T_decode / (1 - u), and a group waits
W = c x u / (1 - u) x S_group for the groups ahead of it (Kingman's G/G/1 formula; c = the engine's
arrival burstiness). Besides its own prefill and the wait, a prompt waits `first_token_steps` engine
steps for its first token: half of the step in flight, plus what overlap scheduling adds. lam is
found by bisection, for arrays of scenarios at once. Clients beyond the KV-cache capacity wait for a
free slot. Where a benchmark draws request lengths at random (Workload.range_ratio), the model runs at
their means.

The workload and result in `workload`, the engine's worker in `deployment`, prompt groups and waits in
`prefill`, the steady state in `steady`.
"""

from parity.serving.deployment import engine_calibration, engine_deployment, with_kernels
from parity.serving.prefill import _group_prefill, prefill_throughput, prompt_group_size  # noqa: F401 (tests import it from here)
from parity.serving.steady import kv_capacity, serve_aggregated, serve_disaggregated
from parity.serving.workload import ServingResult, Workload, mean_length

__all__ = ["prefill_throughput", "Workload", "ServingResult", "mean_length", "serve_aggregated", "serve_disaggregated", "engine_calibration",
           "engine_deployment", "kv_capacity", "prompt_group_size", "with_kernels"]
