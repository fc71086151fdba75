"""A family's measured small-collective latency (collective_latency_factor) where collectives go through the
vendor's library, and the engines' own fitted latencies (their custom all-reduce kernels) everywhere else."""

from __future__ import annotations

import dataclasses

import pytest

from parity import catalog
from parity.cost import collective_s
from parity.plan import Layout
from parity.search import best_precision
from parity.serving import engine_deployment


def _deployment(engine: str, system: str = "mi300x-platform"):
    s, m = catalog.system(system), catalog.model("llama-3.1-70b")
    return engine_deployment(m, s, Layout(tp=8), best_precision(m, s.chip), catalog.calibration(s.chip),
                             catalog.engine(engine))


def test_library_collectives_on_mi300x_take_the_rccl_factor() -> None:
    """The generic engine states no collective latency, so the system's 3 us link latency times CDNA3's 1.6480
    (RCCL over NCCL at 8 and 64 KB): 4.944 us. An 8 KB all-reduce over the 8-GPU mesh: one-shot 4.944 us +
    7 x 8,192 B / (448 GB/s x 0.7072) = 4.944 + 0.181 = 5.125 us; two-shot 2 x 4.944 + 1.75 x 8,192 / 316.8 GB/s
    = 9.933 us; the cheaper is 5.125 us."""
    dep = _deployment("generic")
    assert dep.system.scale_up_latency_s == pytest.approx(3e-6 * 1.6480, rel=1e-9)
    t = collective_s("all_reduce", 8192, 8, dep.system, dep.calibration.collective_efficiency)
    assert float(t) == pytest.approx(5.125e-6, abs=2e-9)


def test_engines_with_their_own_latency_keep_it_on_every_chip() -> None:
    """vLLM's fitted 32.384 us (its custom all-reduce, which vLLM runs on ROCm as on CUDA) stands on MI300X,
    and NVIDIA's systems keep their latencies whatever the engine (factor 1)."""
    assert _deployment("vllm").system.scale_up_latency_s == pytest.approx(32.384e-6, rel=1e-6)
    assert _deployment("generic", "hgx-h200").system.scale_up_latency_s == 3e-6
    assert _deployment("vllm", "hgx-h200").system.scale_up_latency_s == pytest.approx(32.384e-6, rel=1e-6)


def test_the_factor_must_be_positive() -> None:
    cal = catalog.calibration(catalog.chip("mi300x"))
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="collective_latency_factor must be > 0"):
            dataclasses.replace(cal, collective_latency_factor=bad)
