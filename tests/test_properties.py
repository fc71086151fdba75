"""Properties that hold for every input: monotone times, conserved work, memory that shrinks with TP."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parity import catalog
from parity.ops import Batch
from parity.plan import Layout, Precision, Shard, device_step
from parity.memory import weight_bytes_per_device
from parity.step import Deployment, step_cost

MODELS = ["llama-3.1-8b", "qwen3-32b", "gpt-oss-120b", "deepseek-v3", "mixtral-8x7b"]
SYSTEMS = ["hgx-h100", "hgx-b200", "atlas-800-a3", "mi300x-platform", "hgx-h20"]


def deployment(model: str, system: str, tp: int, **chip_changes: float) -> Deployment:
    s = catalog.system(system)
    if chip_changes:
        s = dataclasses.replace(s, chip=dataclasses.replace(s.chip, **chip_changes))
    m = catalog.model(model)
    return Deployment(model=m, system=s, layout=Layout(tp=tp), precision=Precision(), calibration=catalog.calibration(s.chip))


# this module's examples per property, on its own tests only (a loaded profile would set every module's)
EXAMPLES = settings(max_examples=40, deadline=None)


@EXAMPLES
@given(model=st.sampled_from(MODELS), system=st.sampled_from(SYSTEMS), tp=st.sampled_from([1, 2, 4, 8]),
       batch=st.integers(1, 512), more=st.integers(1, 512), context=st.integers(1, 32768), longer=st.integers(0, 32768))
def test_decode_step_never_gets_faster_with_more_work(model: str, system: str, tp: int, batch: int, more: int,
                                                      context: int, longer: int) -> None:
    dep = deployment(model, system, tp)
    base = step_cost(dep, Batch(decode_tokens=batch, decode_context=context)).time_s
    assert step_cost(dep, Batch(decode_tokens=batch + more, decode_context=context)).time_s >= base
    assert step_cost(dep, Batch(decode_tokens=batch, decode_context=context + longer)).time_s >= base


@EXAMPLES
@given(model=st.sampled_from(MODELS), system=st.sampled_from(SYSTEMS), batch=st.integers(1, 1024),
       context=st.integers(1, 32768), factor=st.floats(1.0, 8.0))
def test_decode_step_never_gets_slower_with_faster_hardware(model: str, system: str, batch: int, context: int,
                                                            factor: float) -> None:
    dep = deployment(model, system, 8)
    chip = dep.system.chip
    batch_ = Batch(decode_tokens=batch, decode_context=context)
    base = step_cost(dep, batch_).time_s
    faster_memory = deployment(model, system, 8, memory_bytes_per_s=chip.memory_bytes_per_s * factor)
    faster_math = deployment(model, system, 8, peak_flop_per_s={k: v * factor for k, v in chip.peak_flop_per_s.items()})
    assert step_cost(faster_memory, batch_).time_s <= base * (1 + 1e-12)
    assert step_cost(faster_math, batch_).time_s <= base * (1 + 1e-12)


@EXAMPLES
@given(model=st.sampled_from(MODELS))
def test_weight_memory_per_chip_never_grows_with_more_tensor_parallelism(model: str) -> None:
    m = catalog.model(model)
    sizes = [weight_bytes_per_device(m, Shard.of(Layout(tp=tp).check(m)), Precision()) for tp in (1, 2, 4, 8)]
    assert all(a >= b for a, b in zip(sizes, sizes[1:]))


@EXAMPLES
@given(model=st.sampled_from(["llama-3.1-8b", "qwen3-32b", "llama-3.1-70b"]), tp=st.sampled_from([1, 2, 4, 8]),
       tokens=st.integers(1, 4096))
def test_matmul_flops_are_conserved_across_tensor_parallel_shards(model: str, tp: int, tokens: int) -> None:
    """tp devices together do the same weight-matmul FLOPs as one device (dense models, prefill)."""
    base = deployment(model, "hgx-h100", 1)
    split = deployment(model, "hgx-h100", tp)
    batch = Batch(prefill_tokens=tokens, prefill_sequences=1)
    def gemm_flops(dep: Deployment) -> float:
        step = device_step(dep.model, batch, dep.shard, dep.precision)
        return sum(float(np.sum(k.flops * k.count)) for k in step.kernels if k.kind == "gemm")

    assert tp * gemm_flops(split) == pytest.approx(gemm_flops(base), rel=1e-12)
