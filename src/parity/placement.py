"""Where the experts of a MoE layer sit on its expert-parallel ranks, and the load that gives the busiest rank.

A placement puts E routed experts, R redundant replicas of hot experts and S shared-expert
instances into slots on n ranks, ceil((E + R + S) / n) slots a rank. Without redundancy or placed
shared experts, experts sit in index order (static placement); otherwise DeepSeek's EPLB
(github.com/deepseek-ai/EPLB, eplb.py; DeepSeek-V3 report Sec. 3.4) replicates the hottest experts
and packs the replicas onto ranks so that their loads balance.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from statistics import NormalDist

__all__ = ["ExpertPlacement", "expert_popularity", "replicate_hot_experts", "pack_balanced",
           "static_imbalance", "popularity_spread"]


def static_imbalance(spread: float, experts_per_rank: float, ranks: int) -> float:
    """Busiest rank's load over the mean for experts placed in index order [ratio].

    Each rank's load is the sum of g = experts_per_rank expert loads drawn with coefficient of
    variation `spread`, so it varies by spread / sqrt(g); the largest of n such roughly normal loads
    lies sqrt(2 ln n) standard deviations above the mean (the expected maximum of n Gaussians, as in
    the balls-into-bins bound m + sqrt(2 m ln n) of Raab & Steger 1998).
    """
    if ranks <= 1:
        return 1.0
    return 1.0 + spread * math.sqrt(2.0 * math.log(ranks) / max(experts_per_rank, 1.0))


def popularity_spread(imbalance: float, experts_per_rank: float, ranks: int) -> float:
    """The experts' load coefficient of variation that makes static placement's busiest rank `imbalance`
    (the inverse of static_imbalance) [ratio]."""
    if ranks <= 1:
        return 0.0
    return (imbalance - 1.0) / math.sqrt(2.0 * math.log(ranks) / max(experts_per_rank, 1.0))


def expert_popularity(experts: int, spread: float) -> list[float]:
    """Expected loads of `experts` experts, hottest first, mean ~1 [relative]: the quantiles of a normal
    distribution with coefficient of variation `spread` (an assumption: the DeepSeek-V3 report shows
    balanced but uneven expert loads, Fig. 9, and gives no distribution), floored at 0."""
    unit = NormalDist()
    return [max(1.0 + spread * unit.inv_cdf((experts - j - 0.5) / experts), 0.0) for j in range(experts)]


def replicate_hot_experts(loads: list[float], redundant: int) -> list[int]:
    """Replicas of each expert after adding `redundant` replicas one at a time to the expert with the
    largest load per replica (eplb.py's replicate_experts)."""
    counts = [1] * len(loads)
    heap = [(-load, j) for j, load in enumerate(loads)]
    heapq.heapify(heap)
    for _ in range(redundant):
        _, j = heapq.heappop(heap)
        counts[j] += 1
        heapq.heappush(heap, (-loads[j] / counts[j], j))
    return counts


def pack_balanced(items: list[float], ranks: int, slots: int) -> list[float]:
    """Load of each rank after packing `items` (loads), heaviest first, each onto the lightest rank that
    still has one of its `slots` free (eplb.py's balanced_packing) [relative]."""
    if len(items) > ranks * slots:
        raise ValueError(f"{len(items)} items do not fit {ranks} ranks x {slots} slots")
    load = [0.0] * ranks
    used = [0] * ranks
    for item in sorted(items, reverse=True):
        r = min((r for r in range(ranks) if used[r] < slots), key=lambda r: load[r])
        load[r] += item
        used[r] += 1
    return load


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpertPlacement:
    """Experts of one MoE layer on `ranks` expert-parallel ranks.

    routed_experts: E; redundant: R extra replicas of hot experts; shared_replicas: S instances of the
    shared expert(s) placed as experts (0: the shared experts run on every rank); shared_weight: one
    token's shared-expert work in routed-expert assignments (shared width over expert width);
    experts_per_token: k routed experts per token.
    """

    routed_experts: int
    ranks: int
    redundant: int = 0
    shared_replicas: int = 0
    shared_weight: float = 1.0
    experts_per_token: int = 1

    def __post_init__(self) -> None:
        if self.routed_experts < 1 or self.ranks < 1:
            raise ValueError(f"routed_experts and ranks must be >= 1, got {self.routed_experts}, {self.ranks}")
        if self.redundant < 0 or self.shared_replicas < 0:
            raise ValueError(f"redundant and shared_replicas must be >= 0, got {self.redundant}, "
                             f"{self.shared_replicas}")

    @property
    def slots_per_rank(self) -> int:
        """Expert slots (weights of one expert each) a rank holds: ceil((E + R + S) / n)."""
        return math.ceil((self.routed_experts + self.redundant + self.shared_replicas) / self.ranks)

    @property
    def balanced(self) -> bool:
        """Whether EPLB places the experts (redundant replicas or placed shared experts), not index order."""
        return bool(self.redundant or self.shared_replicas)

    @property
    def assignments_per_token(self) -> float:
        """Expert assignments one token makes: k routed, plus the shared work when it is placed."""
        return self.experts_per_token + (self.shared_weight if self.shared_replicas else 0.0)

    def imbalance(self, static: float) -> float:
        """Busiest rank's assignments over the mean [ratio >= 1].

        static: the busiest rank's share under index-order placement with E/n experts a rank (an
        engine's fitted expert_imbalance); it fixes the experts' popularity spread. Index order with
        n not dividing E: ranks holding ceil(E/n) experts carry that much more. EPLB: the popularity
        quantiles replicated and packed as eplb.py does; shared instances carry the tokens' shared
        work evenly.
        """
        e, n = self.routed_experts, self.ranks
        if n <= 1:
            return 1.0
        if not self.balanced:
            return static * math.ceil(e / n) / (e / n)
        loads = expert_popularity(e, popularity_spread(static, e / n, n))
        counts = replicate_hot_experts(loads, self.redundant)
        items = [load / c for load, c in zip(loads, counts) for _ in range(c)]
        total_routed = sum(loads)
        if self.shared_replicas:
            shared_total = total_routed * self.shared_weight / self.experts_per_token
            items += [shared_total / self.shared_replicas] * self.shared_replicas
        ranks = pack_balanced(items, n, self.slots_per_rank)
        return max(ranks) / (sum(items) / n)
