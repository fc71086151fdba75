"""A step-level (discrete-event) simulator of a serving engine and its benchmark client: TTFT under
load, latency percentiles, throughput and a timeline, with step times from parity's step model."""

from parity.simulate.benchmark import Benchmark
from parity.simulate.clients import (CLIENT_PROFILES, Arrivals, ClientProfile, TraceRequest, client_profile,
                                     draw_lengths, trace_of)
from parity.simulate.policies import (PlanBuilds, Scheduler, cudnn_fp4_plan_builds, mixes_prompts, policy_parameters,
                                      routes_at_random, scheduler_of)
from parity.simulate.results import CLIENT_KEYS, KV_BOUND_SHARE, LATENCY_KEYS, SimResult
from parity.simulate.run import run_aggregated, run_disaggregated, simulate_aggregated, simulate_disaggregated
from parity.simulate.tables import StepTable, step_table
from parity.simulate.workers import kv_capacity_tokens
from parity.step import kv_transfer_s

__all__ = ["CLIENT_KEYS", "PlanBuilds", "cudnn_fp4_plan_builds", "mixes_prompts", "policy_parameters",
           "routes_at_random",
           "CLIENT_PROFILES", "Arrivals", "ClientProfile", "TraceRequest", "client_profile", "draw_lengths",
           "trace_of", "Scheduler", "scheduler_of", "KV_BOUND_SHARE", "LATENCY_KEYS", "Benchmark", "SimResult", "kv_capacity_tokens",
           "kv_transfer_s", "run_aggregated", "run_disaggregated", "simulate_aggregated", "simulate_disaggregated", "StepTable", "step_table"]
