"""An engine profile as named parts: each EngineProfile field in one section of the engine's file (the kernels, the
host side, one scheduler policy with its parameters, the steady-state model's own stand-ins for transients, the
simulator's own factors), each section saying which model reads it."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ProfileSection", "IDENTITY", "PROFILE_SECTIONS", "section_of"]


_READERS = {"both": "read by both models (parity.serving, parity.simulate)",
            "steady": "read by the steady-state model (parity.serving) alone",
            "sizing": ("read by the steady-state model (parity.serving), whose worker counts a simulated prediction "
                       "runs (predict.simulated), and by the layout search (parity.search) sizing prefill workers"),
            "simulator": "read by the simulator (parity.simulate) alone"}


@dataclass(frozen=True, slots=True, kw_only=True)
class ProfileSection:
    """One section of an engine profile: its table name in the file (`scheduler.token_budget`), the policy it
    configures (the simulator's class in parity.simulate.policies; "" for a section that is no policy), which
    model reads its fields ("both": the steady-state model, parity.serving, and the simulator, parity.simulate;
    "steady"; "sizing": the steady model, whose sizing the simulator runs; "simulator"), what it holds, and its EngineProfile fields in the file's order."""

    name: str
    policy: str
    readers: str
    about: str
    fields: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.readers not in _READERS:
            raise ValueError(f"section {self.name}: readers must be one of {tuple(_READERS)}, got {self.readers!r}")

    @property
    def comment(self) -> str:
        """What the section holds, the policy it configures and who reads it, as its file's comment says."""
        policy = f" (simulate.policies.{self.policy})" if self.policy else ""
        return f"{self.about}{policy}; {_READERS[self.readers]}"


# the profile's identity and provenance: top-level keys of the file, before every section
IDENTITY = ("id", "name", "date", "measured", "method", "source", "assumptions", "stack", "base", "rows")

PROFILE_SECTIONS = (
    ProfileSection(name="kernels", policy="", readers="both",
                   about="how the engine's kernels run against the chip calibration: efficiency multipliers fitted "
                         "on calibration rows (the ones engine.stack_prior resets on another stack), collectives, "
                         "experts, number formats and the MLA decode path",
                   fields=("gemm_scale", "attention_scale", "memory_scale", "collective_scale", "collective_latency_s",
                           "expert_imbalance", "moe_overlap", "normal_all_to_all", "prompt_gather_all_reduce",
                           "decode_padded_experts",
                           "prefill_scale", "fp8_kv_cache", "attention_format",
                           "mla_decode")),
    ProfileSection(name="host", policy="", readers="both",
                   about="what the engine's host side costs: per kernel (CUDA-graph replay, or eager launches "
                         "without graphs), per step, per request before its first token, per decode token of an "
                         "attention-DP rank (a floor on its step); kept as fitted on another stack",
                   fields=("kernel_overhead_s", "cuda_graphs", "step_overhead_s", "ttft_overhead_s",
                           "decode_host_token_s")),
    ProfileSection(name="scheduler.token_budget", policy="TokenBudget", readers="both",
                   about="continuous batching with a token budget per step; sim_separate_prefill and "
                         "sim_chunked_prefill are the simulator's alone",
                   fields=("max_num_tokens", "max_batch_size", "mixes_prefill", "sim_separate_prefill",
                           "sim_chunked_prefill")),
    ProfileSection(name="scheduler.prompt_admission", policy="PromptAdmission", readers="simulator",
                   about="SGLang's second budget on a step's prompts (PrefillAdder) and its chunked prefill size",
                   fields=("sim_max_prefill_tokens", "sim_chunked_prefill_tokens")),
    ProfileSection(name="scheduler.kv_admission", policy="KvAdmission", readers="both",
                   about="the KV cache's share of free memory and whether pages grow on demand with preemption",
                   fields=("kv_memory_fraction", "kv_on_demand")),
    ProfileSection(name="scheduler.attention_dp_balance", policy="AttentionDpBalance", readers="both",
                   about="with attention DP, new prompts held until every rank has one",
                   fields=("attention_dp_hold_steps",)),
    ProfileSection(name="scheduler.batch_wait", policy="BatchWait", readers="both",
                   about="without attention DP, new prompts wait for a share of the budget",
                   fields=("batch_wait_steps", "batch_wait_tokens_ratio")),
    ProfileSection(name="scheduler.recv_interval", policy="RecvInterval", readers="both",
                   about="new requests taken in every so many decode steps",
                   fields=("recv_interval_steps",)),
    ProfileSection(name="scheduler.disagg_handoff", policy="DisaggHandOff", readers="both",
                   about="a disaggregated request's hand-off from prefill to decode worker beyond the KV transfer; "
                         "disagg_ttft_overhead is the steady model's fit and the simulator's fallback",
                   fields=("disagg_ttft_overhead_s", "sim_disagg_ttft_overhead_s", "sim_disagg_first_token")),
    ProfileSection(name="steady", policy="", readers="steady",
                   about="the closed-form model's fitted stand-ins for transients the simulator replays (arrival "
                         "waves and groups, the benchmark's first wave, steps before a first token)",
                   fields=("burstiness", "arrival_sync", "first_wave", "first_token_steps")),
    ProfileSection(name="disagg_sizing", policy="", readers="sizing",
                   about="how many prefill and decode workers a disaggregated deployment has when it does not say: "
                         "clients per decode rank, how busy prompts keep prefill workers",
                   fields=("disagg_decode_batch", "disagg_prefill_utilization")),
    ProfileSection(name="simulator", policy="", readers="simulator",
                   about="the step-level simulator's own fitted factors and client spread",
                   fields=("sim_prefill_scale", "sim_first_token_steps", "sim_prefill_launch_s",
                           "sim_prefill_host_launch_s", "sim_eager_prefill", "sim_host_ops",
                           "sim_client_range_ratio",
                           "sim_disagg_prefill_scale")),
)


def section_of(field: str) -> ProfileSection | None:
    """The section holding an EngineProfile field; None for an identity field (IDENTITY)."""
    for section in PROFILE_SECTIONS:
        if field in section.fields:
            return section
    if field in IDENTITY:
        return None
    raise KeyError(f"EngineProfile has no field {field!r} in any section")
