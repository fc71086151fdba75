"""The `parity serve` command line of a serving case, so that a search's or a comparison's pick can be run again."""

from __future__ import annotations

import shlex

from parity.plan import Layout
from parity.predict import Case

__all__ = ["serve_command"]


def _layout_options(layout: Layout, prefix: str, moe: bool) -> list[str]:
    """--tp/--pp/--attn-dp (and for a MoE model --moe-ep, from which serve derives --moe-tp) with a prefix
    ('decode-'); pp and attn_dp only where above 1, which serve defaults to."""
    options = [f"--{prefix}tp", str(layout.tp)]
    if layout.pp > 1 or prefix:  # a decode layout's pp and DP default to the prefill's: stated always
        options += [f"--{prefix}pp", str(layout.pp)]
    if layout.attn_dp > 1 or prefix:
        options += [f"--{prefix}attn-dp", str(layout.attn_dp)]
    if moe and layout.moe_ep:
        options += [f"--{prefix}moe-ep", str(layout.moe_ep)]
    return options


def serve_command(case: Case, *, moe: bool, model_kind: str = "steady", request_rate: float | None = None,
                  client: str = "") -> str:
    """'parity serve --model ... --model-kind steady': the options that make `serve` price `case` as given (its
    formats, lengths and their spread, layouts, clients, whole workers and the prefill workers' system); `moe`: the
    model has experts (their split is stated);
    `request_rate` [requests/s]: the simulator's requests arrive at random at that rate (its clients' prompts);
    `client`: the benchmark client profile that sends them (named, since serve's own default for an open loop is
    vLLM's)."""
    options = ["--model", case.model, "--system", case.system]
    if case.engine:
        options += ["--engine", case.engine]
    options += ["--weights", case.weights] if case.weights else []
    options += ["--moe-weights", case.moe_weights] if case.moe_weights and case.moe_weights != case.weights else []
    options += ["--kv", case.kv] if case.kv else []
    options += ["--isl", str(case.isl), "--osl", str(case.osl)]
    if case.mode == "disagg":
        options += ["--mode", "disagg"]
    options += ["--prefill-system", case.prefill_system] if case.prefill_system else []
    options += _layout_options(case.layout, "", moe)
    if case.decode_layout is not None:
        options += _layout_options(case.decode_layout, "decode-", moe)
    if case.prefill_workers:
        options += ["--prefill-workers", str(case.prefill_workers)]
    if case.decode_workers:
        options += ["--decode-workers", str(case.decode_workers)]
    options += ["--concurrency", str(case.concurrency)]
    options += ["--request-rate", repr(float(request_rate))] if request_rate else []  # exact: the same draws
    options += ["--client", client] if client else []
    options += ["--mtp", str(case.mtp_tokens)] if case.mtp_tokens else []
    options += ["--rank-per-die"] if case.rank_per_die else []
    if model_kind == "steady":  # the case's own lengths (fixed in a search), where serve's default draws the client's
        options += ["--random-range-ratio", f"{1.0 if case.random_range_ratio is None else case.random_range_ratio:g}"]
    options += ["--model-kind", model_kind]
    return "parity serve " + shlex.join(options)
