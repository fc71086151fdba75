"""The microbenchmark sweep of `parity calibrate`: GEMMs over LLM shapes and token counts (bf16, and
fp8 where the GPU has it), grouped expert GEMMs, flash-attention prefill and decode, and copies.

A backend times one kernel; `TorchBackend` runs on a CUDA GPU with CUDA events (weights rotated so
L2 does not serve them), `NumpyBackend` runs the same sweep on the CPU with tiny shapes so that the
sweep logic is testable anywhere. The result has the format of parity's H200 reference files, so
`parity calibrate --import` reads both.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from parity.errors import ParityError

__all__ = ["SweepPlan", "Backend", "NumpyBackend", "TorchBackend", "run_sweep", "GPU_PLAN", "TINY_PLAN", "TP_SHARDS",
           "torch_backend"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepPlan:
    """What to measure: weight shapes (n, k) x token counts, grouped GEMMs, attention and copies."""

    gemm_shapes: tuple[tuple[int, int], ...]
    tokens: tuple[int, ...]
    fp8_shapes: tuple[tuple[int, int], ...]
    fp8_tokens: tuple[int, ...]
    grouped: tuple[tuple[int, int, int, int], ...]  # (experts, tokens per expert, n, k)
    prefill: tuple[tuple[int, int, int, int, int], ...]  # (batch, heads, kv heads, head dim, sequence)
    decode: tuple[tuple[int, int, int, int, int], ...]  # (batch, heads, kv heads, head dim, context)
    copy_bytes: tuple[int, ...]
    repeats: int = 20

    @property
    def size(self) -> int:
        return (len(self.gemm_shapes) * len(self.tokens) + len(self.fp8_shapes) * len(self.fp8_tokens)
                + len(self.grouped) + len(self.prefill) + len(self.decode) + len(self.copy_bytes))


# Llama-3.1-8B/70B, Qwen3 and DeepSeek-V3 projection shapes, whole and as tensor parallelism shards
# them (Llama-3.1-8B at tp 8, Llama-3.1-70B at tp 8, Qwen3-32B at tp 4: qkv, o, gate+up, down per GPU);
# 282 points: 19 s of GPU time on an H200 as CUDA-graph replays, 5 s as eager launches (2026-11-28).
TP_SHARDS = ((768, 4096), (4096, 512), (3584, 4096), (4096, 1792),
             (1280, 8192), (8192, 1024), (7168, 8192), (8192, 3584),
             (2560, 5120), (5120, 2048), (12800, 5120), (5120, 6400))
GPU_PLAN = SweepPlan(
    gemm_shapes=((4096, 4096), (6144, 4096), (28672, 4096), (4096, 14336), (10240, 8192), (8192, 28672),
                 (24576, 1536), (7168, 16384), *TP_SHARDS),
    tokens=(1, 16, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384),
    fp8_shapes=((8192, 8192), (28672, 8192), (4096, 14336), *TP_SHARDS[4:8]),
    fp8_tokens=(16, 128, 1024, 4096, 16384),
    grouped=tuple((e, t, 4096, 7168) for e in (8, 32, 256) for t in (1, 8, 64, 512)),
    prefill=tuple((1, 32, 8, 128, s) for s in (1024, 2048, 4096, 8192, 16384)),
    decode=tuple((b, 32, 8, 128, c) for b, c in ((1, 4096), (8, 4096), (32, 4096), (128, 4096), (8, 1024),
                                                 (64, 1024), (8, 16384), (64, 16384))),
    copy_bytes=(2**29, 2**31),
)

TINY_PLAN = SweepPlan(gemm_shapes=((64, 64), (128, 64)), tokens=(1, 16, 64), fp8_shapes=((64, 64),),
                      fp8_tokens=(16,), grouped=((4, 2, 32, 64),), prefill=((1, 2, 1, 16, 64),),
                      decode=((2, 2, 1, 16, 64),), copy_bytes=(2**16,), repeats=3)


class Backend(Protocol):
    name: str
    has_fp8: bool

    def gemm(self, m: int, n: int, k: int, fp8: bool) -> float: ...
    def grouped(self, experts: int, tokens: int, n: int, k: int) -> float: ...
    def prefill(self, batch: int, heads: int, kv_heads: int, head_dim: int, seq: int) -> float: ...
    def decode(self, batch: int, heads: int, kv_heads: int, head_dim: int, ctx: int) -> float: ...
    def copy(self, nbytes: int) -> float: ...
    def meta(self) -> dict[str, Any]: ...


@dataclass
class NumpyBackend:
    """CPU timings with numpy (for tests and dry runs; not a calibration of any accelerator)."""

    repeats: int = 3
    name: str = "numpy-cpu"
    has_fp8: bool = False
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))

    def _time(self, fn: Callable[[], object]) -> float:
        fn()
        samples = []
        for _ in range(self.repeats):
            start = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - start)
        return float(np.median(samples))

    def gemm(self, m: int, n: int, k: int, fp8: bool) -> float:
        x = self.rng.standard_normal((m, k), dtype=np.float32)
        w = self.rng.standard_normal((n, k), dtype=np.float32)
        return self._time(lambda: x @ w.T)

    def grouped(self, experts: int, tokens: int, n: int, k: int) -> float:
        x = self.rng.standard_normal((experts, tokens, k), dtype=np.float32)
        w = self.rng.standard_normal((experts, k, n), dtype=np.float32)
        return self._time(lambda: np.matmul(x, w))

    def _attention(self, batch: int, heads: int, head_dim: int, queries: int, keys: int) -> float:
        q = self.rng.standard_normal((batch, heads, queries, head_dim), dtype=np.float32)
        kv = self.rng.standard_normal((batch, heads, keys, head_dim), dtype=np.float32)

        def run() -> object:
            scores = q @ kv.transpose(0, 1, 3, 2)
            return np.exp(scores - scores.max(axis=-1, keepdims=True)) @ kv
        return self._time(run)

    def prefill(self, batch: int, heads: int, kv_heads: int, head_dim: int, seq: int) -> float:
        return self._attention(batch, heads, head_dim, seq, seq)

    def decode(self, batch: int, heads: int, kv_heads: int, head_dim: int, ctx: int) -> float:
        return self._attention(batch, heads, head_dim, 1, ctx)

    def copy(self, nbytes: int) -> float:
        a = np.ones(nbytes // 4, dtype=np.float32)
        return self._time(lambda: a.copy())

    def meta(self) -> dict[str, Any]:
        return {"name": platform.processor() or platform.machine(), "numpy": np.__version__, "backend": self.name}


def run_sweep(backend: Backend, plan: SweepPlan, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Measure every point of the plan; returns a document in the reference microbenchmark format."""
    started = time.perf_counter()

    def step(label: str) -> None:
        if progress:
            progress(label)

    out: dict[str, Any] = {"gemm": [], "fp8_gemm": [], "grouped": [], "attn_prefill": [], "attn_decode": [],
                           "copy": []}
    for n, k in plan.gemm_shapes:
        for m in plan.tokens:
            s = backend.gemm(m, n, k, False)
            out["gemm"].append({"m": m, "n": n, "k": k, "s": s, "TFLOPs": 2 * m * n * k / s / 1e12})
            step(f"gemm {m}x{n}x{k}")
    for n, k in plan.fp8_shapes if backend.has_fp8 else ():
        for m in plan.fp8_tokens:
            s = backend.gemm(m, n, k, True)
            out["fp8_gemm"].append({"m": m, "n": n, "k": k, "s": s, "TFLOPs": 2 * m * n * k / s / 1e12})
            step(f"fp8 gemm {m}x{n}x{k}")
    for experts, tokens, n, k in plan.grouped:
        s = backend.grouped(experts, tokens, n, k)
        out["grouped"].append({"experts": experts, "tokens_per_expert": tokens, "n": n, "k": k, "s_grouped": s})
        step(f"grouped {experts}x{tokens}")
    for b, h, kv, d, seq in plan.prefill:
        s = backend.prefill(b, h, kv, d, seq)
        out["attn_prefill"].append({"batch": b, "heads": h, "kv_heads": kv, "head_dim": d, "seq": seq, "s": s})
        step(f"attention prefill {seq}")
    for b, h, kv, d, ctx in plan.decode:
        s = backend.decode(b, h, kv, d, ctx)
        out["attn_decode"].append({"batch": b, "heads": h, "kv_heads": kv, "head_dim": d, "ctx": ctx, "s": s})
        step(f"attention decode b{b}")
    for nbytes in plan.copy_bytes:
        out["copy"].append({"bytes_each_way": nbytes, "s": backend.copy(nbytes)})
        step(f"copy {nbytes}")
    out["meta"] = {**backend.meta(), "wall_s": time.perf_counter() - started,
                   "note": f"parity calibrate sweep ({plan.size} points, median of {plan.repeats} timings)"}
    return out


def torch_backend(repeats: int = 20, graphs: bool = True) -> Backend:
    """A CUDA backend, or ParityError with one line when PyTorch or a GPU is missing."""
    try:
        import torch  # noqa: PLC0415 - optional dependency, imported only here
    except ImportError as err:
        raise ParityError("parity calibrate needs PyTorch on a machine with an NVIDIA GPU: "
                          "pip install 'parity[gpu]'") from err
    if not torch.cuda.is_available():
        raise ParityError("no GPU found: parity calibrate measures a CUDA GPU (use --import FILE to read "
                          "measurements made elsewhere)")
    return TorchBackend(torch=torch, repeats=repeats, graphs=graphs)


@dataclass
class TorchBackend:
    """CUDA timings with PyTorch: medians of CUDA-event timings after warm-up, weights rotated over
    at least 512 MiB so that L2 does not serve them.

    With `graphs` (the default) the rotated copies are captured back to back in one CUDA graph and a
    kernel's time is a replay over the copies, as serving engines run their steps: the host's launch
    cost (24-38 us per eager launch on the H200 machines parity measured) stays out. Without, each
    eager launch is timed on its own, launch cost included (how the reference microbenchmarks were
    taken). A kernel whose capture PyTorch refuses is timed eagerly and named in `fallbacks`."""

    torch: Any
    repeats: int = 20
    graphs: bool = True
    name: str = "torch-cuda"
    has_fp8: bool = False
    fallbacks: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        major, _ = self.torch.cuda.get_device_capability()
        self.has_fp8 = major >= 9 and hasattr(self.torch, "_scaled_mm")

    def _event_seconds(self, run: Callable[[], object]) -> float:
        torch = self.torch
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        run()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3

    def _graph_seconds(self, runs: list[Callable[[], object]]) -> float:
        """Median replay time of one CUDA graph holding every run once, per run [s]."""
        torch = self.torch
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm up on a side stream before capture, as PyTorch asks
            for run in runs:
                run()
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            for run in runs:
                run()
        graph.replay()
        torch.cuda.synchronize()
        return float(np.median([self._event_seconds(graph.replay) for _ in range(self.repeats)])) / len(runs)

    def _time(self, make: Callable[[int], Callable[[], object]], footprint_bytes: float, graphs: bool = True) -> float:
        torch = self.torch
        copies = max(1, min(16, int(np.ceil(512 * 2**20 / max(footprint_bytes, 1)))))
        runs = [make(i) for i in range(copies)]
        for run in runs:
            run()
        torch.cuda.synchronize()
        if self.graphs and graphs:
            try:
                return self._graph_seconds(runs)
            except RuntimeError as err:  # a capture PyTorch refuses: time eager launches instead
                torch.cuda.synchronize()
                self.fallbacks.append(str(err).splitlines()[0][:120] if str(err) else type(err).__name__)
        samples = []
        for i in range(self.repeats):
            samples.append(self._event_seconds(runs[i % copies]))
        return float(np.median(samples))

    def _randn(self, *shape: int, dtype: Any = None) -> Any:
        return self.torch.randn(*shape, device="cuda", dtype=dtype or self.torch.bfloat16)

    def gemm(self, m: int, n: int, k: int, fp8: bool) -> float:
        torch = self.torch
        x = self._randn(m, k)
        if not fp8:
            return self._time(lambda i: (lambda w=self._randn(n, k): x @ w.T), 2.0 * n * k)
        xf = x.to(torch.float8_e4m3fn)
        one = torch.ones((), device="cuda")

        def make(i: int) -> Callable[[], object]:
            w = self._randn(n, k).to(torch.float8_e4m3fn)
            return lambda: torch._scaled_mm(xf, w.T, scale_a=one, scale_b=one, out_dtype=torch.bfloat16)
        return self._time(make, 1.0 * n * k)

    def grouped(self, experts: int, tokens: int, n: int, k: int) -> float:
        x = self._randn(experts, tokens, k)
        return self._time(lambda i: (lambda w=self._randn(experts, k, n): self.torch.bmm(x, w)), 2.0 * experts * n * k)

    def _attention(self, batch: int, heads: int, kv_heads: int, head_dim: int, queries: int, keys: int,
                   causal: bool) -> float:
        sdpa = self.torch.nn.functional.scaled_dot_product_attention
        q = self._randn(batch, heads, queries, head_dim)

        def make(i: int) -> Callable[[], object]:
            k = self._randn(batch, kv_heads, keys, head_dim)
            v = self._randn(batch, kv_heads, keys, head_dim)
            return lambda: sdpa(q, k, v, is_causal=causal, enable_gqa=kv_heads != heads)
        return self._time(make, 4.0 * batch * kv_heads * keys * head_dim)

    def prefill(self, batch: int, heads: int, kv_heads: int, head_dim: int, seq: int) -> float:
        return self._attention(batch, heads, kv_heads, head_dim, seq, seq, True)

    def decode(self, batch: int, heads: int, kv_heads: int, head_dim: int, ctx: int) -> float:
        return self._attention(batch, heads, kv_heads, head_dim, 1, ctx, False)

    def copy(self, nbytes: int) -> float:
        a = self.torch.empty(nbytes, dtype=self.torch.uint8, device="cuda")
        b = self.torch.empty_like(a)
        # eager always: captured in a graph, a device-to-device copy becomes a memcpy node that the copy
        # engines run at 2.6 TB/s on an H200 where a copy kernel moves 3.9 TB/s
        return self._time(lambda i: (lambda: b.copy_(a)), 2.0 * nbytes, graphs=False)

    def meta(self) -> dict[str, Any]:
        torch = self.torch
        props = torch.cuda.get_device_properties(0)
        return {"name": props.name, "torch": torch.__version__, "cuda": torch.version.cuda, "sms":
                props.multi_processor_count, "mem_gib": props.total_memory / 2**30, "backend": self.name,
                "timing": ("CUDA graph of the rotated copies back to back, replay time / copies (copies: eager)"
                           if self.graphs else "each eager launch timed with CUDA events, launch cost included"),
                **({"eager_fallbacks": self.fallbacks} if self.fallbacks else {})}

