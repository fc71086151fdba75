"""Serving regimes where parity's published checks found it errs past its bands, each said as a flag."""

from __future__ import annotations

import math

from parity.flags import Flag
from parity.hardware import System
from parity.plan import Layout

__all__ = ["LARGE_EP_CHIPS", "LARGE_EP_CHECKS", "large_ep_decode_flag"]

# the smallest expert-parallel group, in chip packages, of the large-EP decode regime: wide enough that every rank's
# dispatch and combine reach ranks of other nodes (32 is four 8-GPU nodes) or fill a rack-scale domain (NVL72).
# The regime's published checks are at 72 and 48; the Atlas A3 decode rows at 32 dies (16 packages, two nodes) score
# -9% to +9% (B11, B12), so packages, not dies, are counted
LARGE_EP_CHIPS = 32
# parity's published checks of the regime, (case id, what it is, predicted / measured - 1 as scored when added;
# data/measurements/README.md, serving_published.csv); tests/test_regimes.py prices them again
LARGE_EP_CHECKS = (("C03-h100-decode-2k", "EP 72 over 9 HGX H100 nodes", 0.33),
                   ("C04-gb200-decode-2k", "EP 48 in a GB200 NVL72", 0.53))


def large_ep_decode_flag(system: System, layout: Layout, moe: bool) -> Flag | None:
    """The flag of a decode step of a mixture-of-experts model whose experts spread over LARGE_EP_CHIPS chip packages
    or more with attention data parallel (attn_dp > 1), the regime of LMSYS's SGLang runs with DeepEP's low-latency
    dispatch across nodes or a GB200 NVL72, which parity priced 33% and 53% fast (LARGE_EP_CHECKS); None elsewhere.
    `layout` counts ranks of `system` (a die on a system of one rank per die: hardware.per_die), so the group's
    packages are its ranks over the chip's ranks_per_package. It widens the interval as any flag does."""
    ep = layout.resolved().moe_ep
    packages = ep / system.chip.ranks_per_package
    if not moe or layout.attn_dp < 2 or packages < LARGE_EP_CHIPS:
        return None
    domain = system.scale_up_domain_chips
    where = (f"over {math.ceil(ep / domain)} scale-up domains of {domain} ranks" if ep > domain
             else f"in one {domain}-rank scale-up domain")
    low, high = min(c[2] for c in LARGE_EP_CHECKS), max(c[2] for c in LARGE_EP_CHECKS)
    said = (f"large-EP decode (EP {ep} with attention DP {layout.attn_dp}, {where}): parity's two published checks "
            f"of this regime read {low * 100:.0f}-{high * 100:.0f}% fast "
            f"({', '.join(f'{case} {error:+.0%}' for case, _, error in LARGE_EP_CHECKS)}: SGLang, DeepEP low-latency)")
    return Flag("large-EP decode", said, f"large-EP decode: checks read {low * 100:.0f}-{high * 100:.0f}% fast")
