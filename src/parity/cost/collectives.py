"""Collectives priced on a system's links: ring, tree, one-shot, two-shot, direct all-to-all, hierarchical across
scale-up domains, and MoE all-to-alls over expert-TP slices."""

from __future__ import annotations

import numpy as np

from parity.cost.kernels import Cost
from parity.hardware import Calibration, System
from parity.ops import Collective, Num, expected_distinct, where

# --- collectives -------------------------------------------------------------------------------
# S: bytes per rank [B]; n: ranks; B: achieved link bandwidth per rank and direction [B/s];
# lat: one hop [s]. Formulas from Thakur, Rabenseifner & Gropp 2005 (ring, recursive algorithms)
# and NCCL's documentation (bus bandwidth = algorithm bandwidth x 2(n-1)/n for all-reduce).

def ring_all_reduce_s(S: Num, n: Num, B: Num, lat: Num) -> Num:
    """Ring all-reduce: 2(n-1) steps, each rank sends 2(n-1)/n of the buffer over its link."""
    return 2.0 * (n - 1.0) * lat + 2.0 * (n - 1.0) / n * S / B


def tree_all_reduce_s(S: Num, n: Num, B: Num, lat: Num) -> Num:
    """Double binary tree (NCCL): 2 log2(n) hops of latency, about 2S over the link (pipelined)."""
    return 2.0 * np.log2(np.maximum(n, 1.0)) * lat + 2.0 * S / B * (n > 1)


def one_shot_all_reduce_s(S: Num, n: Num, B: Num, lat: Num) -> Num:
    """One-shot (switch or full mesh): every rank reads the n-1 other buffers and reduces locally."""
    return lat + (n - 1.0) * S / B


def two_shot_all_reduce_s(S: Num, n: Num, B: Num, lat: Num) -> Num:
    """Two-shot (switch): a direct reduce-scatter then all-gather, (n-1)/n of the buffer each."""
    return 2.0 * lat + 2.0 * (n - 1.0) / n * S / B


def ring_all_gather_s(S: Num, n: Num, B: Num, lat: Num) -> Num:
    """Ring all-gather (or reduce-scatter) of a buffer of S per rank at the end: (n-1)/n of S moved."""
    return (n - 1.0) * lat + (n - 1.0) / n * S / B


def direct_all_to_all_s(S: Num, n: Num, B: Num, lat: Num) -> Num:
    """Direct all-to-all: each rank sends (n-1)/n of its S bytes (1/n stays local) in parallel."""
    return lat + (n - 1.0) / n * S / B


def mesh_link_share(system: System, ranks: Num) -> Num:
    """Share of a chip's scale-up bandwidth a group of `ranks` chips reaches inside one scale-up domain: on a full
    mesh of m chips ("mesh" topology), where each chip's scale-up bandwidth is m-1 equal links, one to each peer
    (mi300x-platform: seven Infinity Fabric links, one to each peer; atlas-800-a2: seven HCCS links, likewise),
    a group of g ranks has g-1 of them: (g-1)/(m-1); 1 on a switch, Clos, torus or PCIe fabric and for the whole
    mesh. Ring, one-shot, two-shot and direct all-to-all move their bytes over those direct links only: RCCL's
    README ('Improving performance on MI300 when using less than 8 GPUs': with fewer than 8 of the fully connected
    GPUs 'one can only achieve a fraction of the potential bandwidth'), and RCCL's topology search on 4 MI300X
    counts 3 XGMI links (ROCm/rccl issue 1210: maxBw 48 totalBw 144 GB/s), not paths through the other four."""
    if system.scale_up_topology != "mesh":
        return 1.0
    peers = max(system.scale_up_domain_chips - 1.0, 1.0)
    g = np.minimum(np.maximum(np.asarray(ranks, dtype=float), 2.0), system.scale_up_domain_chips)
    share = (g - 1.0) / peers
    return float(share) if np.ndim(share) == 0 else share


def _flat_s(kind: str, S: Num, n: Num, B: Num, lat: Num, switched: bool) -> Num:
    if kind == "all_reduce":
        if switched:
            return np.minimum(one_shot_all_reduce_s(S, n, B, lat), two_shot_all_reduce_s(S, n, B, lat))
        return np.minimum(ring_all_reduce_s(S, n, B, lat), tree_all_reduce_s(S, n, B, lat))
    if kind in ("all_gather", "reduce_scatter"):
        return lat + (n - 1.0) / n * S / B if switched else ring_all_gather_s(S, n, B, lat)
    if kind == "all_to_all":
        return direct_all_to_all_s(S, n, B, lat) if switched else (n - 1.0) * lat + (n - 1.0) / n * S / B
    return lat + S / B  # send_recv


def fused_overhead_s(system: System, n: Num) -> Num:
    """[s] what a fused MoE dispatch or combine over n ranks inside a scale-up domain costs beyond its hop
    and its bytes: the system's per-call latency plus its per-peer latency for each other die of the group
    (a multi-die package's dies run side by side, each addressing every other die). CloudMatrix 384's
    fused operators (B07: dispatch 116 us at EP8 and 152 us at EP256 for 128 tokens a die, when its UB
    link moves those bytes in 27-46 us) take most of their time here; 0 on systems that state none."""
    peers = np.maximum(np.asarray(n, dtype=float) * system.chip.dies - 1.0, 0.0)
    return system.fused_all_to_all_latency_s + peers * system.fused_all_to_all_peer_latency_s


def collective_s(kind: str, S: Num, n: Num, system: System, efficiency: float, fanout: Num | None = None,
                 domain_ranks: Num | None = None, low_latency: Num = False) -> Num:
    """[s] of one collective over n ranks placed on consecutive chips of `system`.

    Inside one scale-up domain it runs on the scale-up fabric; beyond it, hierarchically: the
    domain part on scale-up links, the rest over each chip's scale-out NIC. An all-to-all with a
    `fanout` sends each token to that many random destinations (see `ops.Collective`).
    domain_ranks: ranks of the group that share one scale-up domain (default: the domain's chips,
    i.e. consecutive chips); a group strided over the chips (e.g. data-parallel peers spaced by
    tp x cp) has fewer, down to 1 when every peer sits in another domain.
    """
    if not isinstance(n, np.ndarray) and not isinstance(S, np.ndarray) and (n <= 1 or S <= 0):
        return 0.0  # one rank, or nothing to send: no collective runs
    n = np.maximum(np.asarray(n, dtype=float), 1.0)
    S = np.asarray(S, dtype=float)
    d = (float(system.scale_up_domain_chips) if domain_ranks is None
         else np.maximum(np.asarray(domain_ranks, dtype=float), 1.0))
    switched = system.scale_up_topology in ("switch", "clos", "mesh")
    d_eff = np.minimum(n, d)
    # the ranks of one domain reach their share of a full mesh's links (mesh_link_share; 1 on other fabrics)
    up_bw = max(system.scale_up_bytes_per_s, system.scale_out_bytes_per_s) * mesh_link_share(system, d_eff) \
        * efficiency
    out_bw = max(system.scale_out_bytes_per_s, 1.0) * efficiency
    up_lat, out_lat = system.scale_up_latency_s, system.scale_out_latency_s
    domains = n / d_eff
    if kind == "all_to_all" and fanout is not None:
        # tokens to `fanout` experts: remote destination ranks inside the domain, and one copy per
        # remote domain across scale-out, forwarded inside it (DeepEP's normal kernels, after their notify)
        ranks = expected_distinct(fanout, n)
        inner_bytes = S * ranks * (n - 1.0) / n
        forwarded = out_lat + system.normal_all_to_all_notify_s + np.maximum(
            S * expected_distinct(fanout, domains) * (domains - 1.0) / domains / out_bw,
            S * ranks * (d_eff - 1.0) / n / up_bw)
        # low-latency kernels: one copy per (token, expert), remote ones straight over scale-out
        direct = out_lat + np.maximum(S * fanout * (n - d_eff) / n / out_bw, S * fanout * (d_eff - 1.0) / n / up_bw)
        t = np.where(n <= d, _flat_s("all_to_all", inner_bytes * n / np.maximum(n - 1.0, 1.0), n, up_bw, up_lat,
                                     switched) + fused_overhead_s(system, n),
                     np.where(low_latency, direct, forwarded))
        return np.where((n > 1) & (S > 0), t, 0.0)
    inner = _flat_s(kind, S, n, up_bw, up_lat, switched)
    # across domains: d chips per domain talk inside, n/d domains over scale-out
    if kind == "all_reduce":
        outer = (2.0 * (up_lat + (d_eff - 1.0) / d_eff * S / up_bw)
                 + ring_all_reduce_s(S / d_eff, domains, out_bw, out_lat))
    elif kind in ("all_gather", "reduce_scatter"):
        outer = up_lat + (d_eff - 1.0) / d_eff * S / up_bw + ring_all_gather_s(S, domains, out_bw, out_lat) / d_eff
    elif kind == "all_to_all":
        outer = out_lat + np.maximum((n - d_eff) / n * S / out_bw, (d_eff - 1.0) / n * S / up_bw)
    else:
        outer = out_lat + S / out_bw
    t = np.where(n <= d, inner, outer)
    return np.where((n > 1) & (S > 0), t, 0.0)


def slice_stride_ranks(system: System, slices: Num) -> Num:
    """Ranks of an expert-parallel group that share one scale-up domain when each is `slices` consecutive chips
    (expert-TP slices): domain / slices, at least 1 (slices wider than a domain put every peer in another)."""
    return np.maximum(np.floor(system.scale_up_domain_chips / np.asarray(slices, dtype=float)), 1.0)


def sliced_all_to_all_s(S: Num, n: Num, slices: Num, system: System, efficiency: float, fanout: Num,
                        low_latency: Num = False) -> Num:
    """[s] of an MoE dispatch (or combine) over n expert-parallel ranks of `slices` expert-TP slices each.

    The ranks sit `slices` chips apart, the slices of one expert on consecutive chips: SGLang's rank order
    (python/sglang/srt/distributed/parallel_state.py, initialize_model_parallel: moe_ep groups
    range(st, en, moe_tp_size)) and Megatron-Core's, which training prices with the same stride. The all-to-all runs
    over the n ranks with domain / slices of them in each domain (`slice_stride_ranks`), so EP 8 x ETP 2 on two
    8-chip systems sends each token's copies to 4 ranks in its own system and 4 in the other; then each rank
    all-gathers what its slices received, one copy per destination rank (S x expected_distinct(fanout, n) each), to
    all `slices` of them (a combine reduce-scatters their partial sums first: the same bytes and time). TensorRT-LLM
    orders the other way (mapping.py: moe_ep_rank = tp_rank % moe_ep_size), which keeps that all-to-all inside a
    system and puts the slices' gather across systems instead.
    """
    a2a = collective_s("all_to_all", S, n, system, efficiency, fanout, domain_ranks=slice_stride_ranks(system, slices),
                       low_latency=low_latency)
    received = where(n > 1, S * expected_distinct(fanout, n), 0.0)  # no expert-parallel peers: no all-to-all
    return a2a + collective_s("all_gather", received * slices, slices, system, efficiency)


def _sliced(slices: float) -> str:
    """What an explanation adds for an all-to-all whose experts are sliced: ', gathered over 2 expert-TP slices'."""
    return f", gathered over {slices:g} expert-TP slices" if slices > 1 else ""


def collective_algorithm(kind: str, S: float, n: float, system: System, efficiency: float,
                         fanout: float | None = None, low_latency: bool = False, slices: float = 1.0) -> str:
    """The name of the algorithm `collective_s` (with `slices`: sliced_all_to_all_s) prices a collective with (for
    explanations)."""
    if n <= 1 or S <= 0:
        return "none"
    switched = system.scale_up_topology in ("switch", "clos", "mesh")
    per_domain = float(slice_stride_ranks(system, slices)) if kind == "all_to_all" and fanout else \
        float(system.scale_up_domain_chips)
    if n > per_domain and kind == "all_to_all" and fanout and low_latency:
        return f"low-latency all-to-all (each token's {fanout:g} expert copies sent straight to their ranks, " \
               f"{n / per_domain:g} domains over scale-out{_sliced(slices)})"
    if n > per_domain:
        return f"hierarchical ({kind.replace('_', '-')} inside {system.scale_up_domain_chips}-chip domains, " \
               f"scale-out between {n / per_domain:g}{_sliced(slices) if fanout else ''})"
    if kind == "all_reduce":
        bw = max(system.scale_up_bytes_per_s, system.scale_out_bytes_per_s) * mesh_link_share(system, n) * efficiency
        lat = system.scale_up_latency_s
        if switched:
            return "one-shot" if one_shot_all_reduce_s(S, n, bw, lat) <= two_shot_all_reduce_s(S, n, bw, lat) \
                else "two-shot (reduce-scatter + all-gather)"
        return "ring" if ring_all_reduce_s(S, n, bw, lat) <= tree_all_reduce_s(S, n, bw, lat) else "double binary tree"
    if kind == "all_to_all":
        fused = (f", fused: +{fused_overhead_s(system, n) * 1e6:.0f} us per call"
                 if fanout and system.fused_all_to_all_latency_s + system.fused_all_to_all_peer_latency_s else "")
        return "direct all-to-all" + (f" (each token to {fanout:g} experts{_sliced(slices)}{fused})" if fanout else "")
    return {"all_gather": "direct all-gather" if switched else "ring all-gather",
            "reduce_scatter": "direct reduce-scatter" if switched else "ring reduce-scatter",
            "send_recv": "point-to-point"}[kind]


def price_collective(c: Collective, system: System, cal: Calibration) -> tuple[Cost, Num]:
    """(cost of `c.count` runs of a collective, the part of it that may overlap computation) [s]."""
    if c.fanout is not None and np.any(np.asarray(c.slices) > 1):
        t = c.count * sliced_all_to_all_s(c.bytes, c.group, c.slices, system, cal.collective_efficiency, c.fanout,
                                          c.low_latency)
    else:
        t = c.count * collective_s(c.kind, c.bytes, c.group, system, cal.collective_efficiency, c.fanout,
                                   low_latency=c.low_latency)
    moved = where(c.group > 1, c.bytes, 0.0)
    overlappable = t * c.hidden
    return Cost(communication_s=t - overlappable, comm_bytes=c.count * moved), overlappable
