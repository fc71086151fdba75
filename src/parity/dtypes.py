"""Number formats: how many bytes an element takes (scales included) and which math unit runs it.

A storage format (bf16, fp8 with block scales, nvfp4 ...) names the math rate it needs
("fp8", "fp4" ...), the hardware feature that makes it native, and what to fall back to on a
chip without that feature (emulation). Bytes per element are floats: fp4 is 0.5 plus its scales.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from parity.errors import ParityError

__all__ = ["Format", "FORMATS", "MATH_RATES", "CHIP_NATIVE", "format_named", "format_on", "refuse_repeated_formats",
           "stored_format", "TPP_ONLY_RATES", "MODEL_MATH_RATES"]

# Keys of a chip's peak table, with the bit length the US export rules use for TPP.
MATH_RATES: dict[str, int] = {
    "fp64": 64, "fp32": 32, "tf32": 32, "bf16": 16, "fp8": 8, "int8": 8, "fp6": 6, "fp4": 4, "int4": 4,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Format:
    """One storage format of weights, activations or KV cache.

    bytes_per_element: [B] per element including the share of its scale factors.
    math: the peak-rate key used when the chip supports the format natively.
    feature: the name in a chip's `native` list that makes it native.
    fallbacks: math keys to emulate with, best first, on chips without the feature.
    weight_only: weights are stored in this format but multiplied in the activation format.
    stored_as: the format the weights are stored in, where this name also fixes how they are multiplied
    (w4a8_mxfp4 is MXFP4 weights run against MXFP8 activations); empty: this format itself.
    dequant_efficiency: the GEMM math rate over that of the plain `math` format where the kernel widens the
    weights inside its main loop (1: no widening, or its cost not measured).
    """

    name: str
    bits: int
    bytes_per_element: float
    math: str
    feature: str
    scale: str
    fallbacks: tuple[str, ...]
    weight_only: bool = False
    description: str = ""
    stored_as: str = ""
    dequant_efficiency: float = 1.0

    def __post_init__(self) -> None:
        if self.bytes_per_element <= 0:
            raise ValueError(f"bytes_per_element must be positive, got {self.bytes_per_element}")
        if not 0.0 < self.dequant_efficiency <= 1.0:
            raise ValueError(f"dequant_efficiency must be in (0, 1], got {self.dequant_efficiency}")
        if self.math not in MATH_RATES:
            raise ValueError(f"math must be one of {sorted(MATH_RATES)}, got {self.math!r}")


def _formats(*formats: Format) -> dict[str, Format]:
    return {f.name: f for f in formats}


FORMATS: dict[str, Format] = _formats(
    Format(name="fp32", bits=32, bytes_per_element=4.0, math="fp32", feature="fp32", scale="none",
           fallbacks=(), description="IEEE single precision"),
    Format(name="bf16", bits=16, bytes_per_element=2.0, math="bf16", feature="bf16", scale="none",
           fallbacks=("fp32",), description="bfloat16"),
    Format(name="fp16", bits=16, bytes_per_element=2.0, math="bf16", feature="fp16", scale="none",
           fallbacks=("fp32",), description="IEEE half precision (same math rate as bf16)"),
    Format(name="fp8", bits=8, bytes_per_element=1.0, math="fp8", feature="fp8", scale="per-tensor",
           fallbacks=("bf16",), description="FP8 E4M3 with one FP32 scale per tensor"),
    # Per-channel weight scales with per-token activation scales (Meta's Llama-3.1 FP8 checkpoints, quantised by
    # FBGEMM; vLLM's PTPC-FP8): one FP32 scale per output channel, a few bytes a row of thousands, so stored as fp8.
    # The math is the FP8 rate where the GEMM applies both scales in its epilogue (CUTLASS on CUDA, a row-wise
    # scaled GEMM on ROCm); engines without one run it slower (data/engine_kernels.toml)
    Format(name="fp8_channel", bits=8, bytes_per_element=1.0, math="fp8", feature="fp8",
           scale="per-channel fp32 (per-token activations)", fallbacks=("bf16",),
           description="FP8 E4M3 with FP32 scales per weight channel and per activation token (FBGEMM, PTPC)"),
    # DeepSeek-V3 recipe: 128x128 weight blocks and 1x128 activation tiles, FP32 scales. DeepSeek-V3.1's "UE8M0 FP8"
    # is the same blocks with power-of-two scales (its config.json: "scale_fmt": "ue8m0", "weight_block_size":
    # [128, 128]; DeepGEMM takes UE8M0 scales on Blackwell and either kind on Hopper, and engines requantise FP32
    # scales to UE8M0 for Blackwell at load), so `ue8m0` names this format: the scales' bytes (1 or 4 per 16,384
    # weights) differ by 0.02%, and the GEMM runs at the FP8 rate either way.
    Format(name="fp8_block", bits=8, bytes_per_element=1.0 + 4.0 / (128 * 128), math="fp8", feature="fp8",
           scale="block-128x128 fp32/ue8m0", fallbacks=("bf16",),
           description="FP8 E4M3 with a scale per 128x128 weight block: FP32 (DeepSeek-V3) or UE8M0 (DeepSeek-V3.1)"),
    # OCP MX v1.0: a UE8M0 scale (1 B) shared by 32 elements.
    Format(name="mxfp8", bits=8, bytes_per_element=1.0 + 1.0 / 32, math="fp8", feature="mxfp8",
           scale="ue8m0 per 32", fallbacks=("fp8", "bf16"),
           description="FP8 E4M3 with UE8M0 power-of-two scales per 32 elements (OCP MX)"),
    Format(name="hif8", bits=8, bytes_per_element=1.0, math="fp8", feature="hif8", scale="none",
           fallbacks=("fp8", "bf16"), description="Huawei HiFloat8 tapered-precision 8-bit float"),
    Format(name="int8", bits=8, bytes_per_element=1.0, math="int8", feature="int8", scale="per-channel",
           fallbacks=("bf16",), description="INT8 weights and activations (W8A8)"),
    # NVFP4: E2M1 elements, one E4M3 scale (1 B) per 16 elements, plus a per-tensor FP32 scale.
    Format(name="nvfp4", bits=4, bytes_per_element=0.5 + 1.0 / 16, math="fp4", feature="nvfp4",
           scale="e4m3 per 16", fallbacks=("fp8", "bf16"), description="NVIDIA FP4 (E2M1, E4M3 scale per 16)"),
    Format(name="mxfp4", bits=4, bytes_per_element=0.5 + 1.0 / 32, math="fp4", feature="mxfp4",
           scale="ue8m0 per 32", fallbacks=("fp8", "bf16"), description="OCP MXFP4 (E2M1, UE8M0 scale per 32)"),
    # OCP MX v1.0 (Microscaling Formats Specification, 2023-09): FP6 elements, E2M3 or E3M2 (6 bits), a UE8M0
    # scale (1 B) shared by 32 elements. Native where a chip lists mxfp6: CDNA4 at the MXFP4 rate (MI355X
    # datasheet), Blackwell at the FP8 rate (NVIDIA's "FP8/FP6" rows).
    Format(name="mxfp6", bits=6, bytes_per_element=0.75 + 1.0 / 32, math="fp6", feature="mxfp6",
           scale="ue8m0 per 32", fallbacks=("fp8", "bf16"), description="OCP MXFP6 (E2M3 or E3M2, UE8M0 scale per 32)"),
    # MXFP4 weights as engines run them: against MXFP8 activations on Blackwell (W4A8_MXFP4_MXFP8: TensorRT-LLM's
    # and FlashInfer's trtllm-gen MoE), against bf16 ones on Hopper (W4A16: Triton or Marlin kernels)
    Format(name="w4a8_mxfp4", bits=4, bytes_per_element=0.5 + 1.0 / 32, math="fp8", feature="fp8",
           scale="ue8m0 per 32", fallbacks=("bf16",), weight_only=True,
           description="MXFP4 weights multiplied with MXFP8 activations (W4A8, Blackwell MoE kernels)",
           stored_as="mxfp4"),
    # MXFP4 weights against MXFP6-E2M3 activations quantised at run time: AMD Quark's w_mxfp4_a_mxfp6_e2m3 scheme, run
    # in vLLM on MI355X by a FlyDSL GEMM on CDNA4's v_mfma_scale_f32_16x16x128_f8f6f4, which takes 6- and 4-bit operands
    # with their E8M0 block scales (AMD ROCm blog 'MXFP6 and MXFP4 Mixed Precision for Accelerating Dense LLMs on AMD
    # Instinct MI355X', 26 Jun 2026, ROCm/rocm-blogs blogs/artificial-intelligence/w4a6-quant-mm/README.md @ bae1c08)
    Format(name="w4a6_mxfp4", bits=4, bytes_per_element=0.5 + 1.0 / 32, math="fp6", feature="mxfp6",
           scale="ue8m0 per 32", fallbacks=("fp8", "bf16"), weight_only=True,
           description="MXFP4 weights multiplied with MXFP6 activations (W4A6, Quark w_mxfp4_a_mxfp6 on MI355X)",
           stored_as="mxfp4"),
    # W4A16 widens each MXFP4 weight tile to bf16 in registers before the MMA (Hopper has no FP4 MMA): OpenAI's
    # triton_kernels matmul_ogs, the Hopper MoE kernel of vLLM and TensorRT-LLM for gpt-oss, reaches 49% of the H100's
    # dense bf16 peak on bench_mlp's 8192^3 bf16 x mxfp4 MLP (triton-lang/triton#6833, lezcano, 2025-05-15: "improves
    # utilisation from 28% to 37% ... with #6812 we hit 49% util"; util = roofline time / measured time of the
    # layer's kernels, triton_kernels/bench/bench_mlp.py). cuBLAS bf16 GEMMs reach 0.7102 of the same peak (the
    # measured H200 calibration, same GH100 die), so the widening costs 0.49 / 0.7102 = 0.69 of the bf16 rate.
    # TensorRT-LLM's gpt-oss README (examples/models/core/gpt_oss, MoE support matrix) names the MMAs: Hopper bf16 x
    # mxfp4 "simulated mxfp4, HGMMA" (this format), Blackwell mxfp8 x mxfp4 "UTCQMMA" (w4a8_mxfp4: native, no widening).
    Format(name="w4a16_mxfp4", bits=4, bytes_per_element=0.5 + 1.0 / 32, math="bf16", feature="bf16",
           scale="ue8m0 per 32", fallbacks=("fp32",), weight_only=True,
           description="MXFP4 weights multiplied in bf16 (W4A16, Hopper MoE kernels)", stored_as="mxfp4",
           dequant_efficiency=0.69),
    # The same W4A16 experts through Marlin's fused MoE kernel (vLLM's MarlinExperts, VLLM_MXFP4_USE_MARLIN=1, as
    # InferenceX's H100 vLLM script sets from its v0.13.0 image on): Ampere-style mma.sync tiles, with no wgmma, so
    # the dequantising main loop is issue-bound on Hopper. Measured in a live W4A16 server on H100 (nsys, three
    # 16,384-token chunked-prefill forwards of DeepSeek-V4-Flash's MXFP4 experts): "1.237 TFLOP per layer per GPU in
    # 4.863 ms is 254 TFLOPS, 25.7% of H100 BF16 peak ... issue-bound, not bandwidth-bound: the SASS inner loop
    # spends 64 of 220 instructions per 32-K step on HMMA" (sgl-project/sglang#38884, 2026-09-10). Over the
    # calibration's cuBLAS bf16 rate on the same die: 0.257 / 0.7102 = 0.362.
    Format(name="w4a16_mxfp4_marlin", bits=4, bytes_per_element=0.5 + 1.0 / 32, math="bf16", feature="bf16",
           scale="ue8m0 per 32", fallbacks=("fp32",), weight_only=True,
           description="MXFP4 weights multiplied in bf16 by Marlin's mma.sync MoE kernel (W4A16, vLLM on Hopper)",
           stored_as="mxfp4", dequant_efficiency=0.362),
    # Weight-only INT4 (AWQ/GPTQ style): group of 128 shares an FP16 scale; math in bf16.
    Format(name="int4", bits=4, bytes_per_element=0.5 + 2.0 / 128, math="bf16", feature="bf16",
           scale="fp16 per 128", fallbacks=("fp32",), weight_only=True,
           description="INT4 weight-only, FP16 scale per group of 128; multiplies in bf16"),
    # Weight-only INT8 (8-bit GPTQ/AWQ, compressed-tensors W8A16): group of 128 shares an FP16 scale; math in bf16.
    Format(name="w8a16", bits=8, bytes_per_element=1.0 + 2.0 / 128, math="bf16", feature="bf16",
           scale="fp16 per 128", fallbacks=("fp32",), weight_only=True,
           description="INT8 weight-only, FP16 scale per group of 128; multiplies in bf16"),
    Format(name="w4a8", bits=4, bytes_per_element=0.5 + 2.0 / 128, math="int8", feature="int8",
           scale="fp16 per 128", fallbacks=("bf16",), weight_only=True,
           description="INT4 weights, INT8 activations (Ascend W4A8)"),
)

# math units no format of FORMATS runs on (fp64, tf32, int4): serving never reads their rates; the export rules' TPP
# does (policy.tpp: the max over every rate of MATH_RATES), so such a rate sets a chip's export class alone
TPP_ONLY_RATES: tuple[str, ...] = tuple(k for k in MATH_RATES if k not in {f.math for f in FORMATS.values()})

# math units the formats parity runs models in (bf16/fp16, fp8 and narrower: FORMATS of 16 bits or fewer) run on, which
# serving and training read; fp32 (a format of FORMATS no model is run in), tf32, fp64 and int4 are left out
MODEL_MATH_RATES: tuple[str, ...] = tuple(k for k in MATH_RATES
                                          if k in {f.math for f in FORMATS.values() if f.bits <= 16})


_ALIASES = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32", "e4m3": "fp8", "fp8_e4m3": "fp8",
            "w8a8": "int8", "int4_wo": "int4", "int8_wo": "w8a16", "fp8-block": "fp8_block",
            "ue8m0": "fp8_block", "w4a8_mxfp4_mxfp8": "w4a8_mxfp4", "w4a6": "w4a6_mxfp4"}


# Names that mean a different format on each chip: the first of the formats the chip lists as native, else the
# first (emulated there). A bare 'fp4' is the chip's own 4-bit float: NVFP4 on Blackwell, MXFP4 on the MI355X and
# the Ascend 950 (neither has NVFP4), NVFP4 emulated on a chip with no FP4 unit. 'fp8' needs no such entry: every
# chip with an 8-bit float unit lists per-tensor E4M3 (mxfp8 and fp8_block run on the same unit).
CHIP_NATIVE: dict[str, tuple[str, ...]] = {"fp4": ("nvfp4", "mxfp4")}


def format_named(name: str) -> Format:
    """The format called `name` (case-insensitive, common aliases accepted); a name of CHIP_NATIVE, with no chip
    to choose for, its first format (fp4: nvfp4): format_on reads it on a chip."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key in CHIP_NATIVE:
        key = CHIP_NATIVE[key][0]
    if key not in FORMATS:
        known = [*FORMATS, *(f"{k} (the chip's {' or '.join(v)})" for k, v in CHIP_NATIVE.items())]
        raise ParityError(f"unknown number format {name!r}; known: {', '.join(known)}")
    return FORMATS[key]


def format_on(name: str, native: Collection[str]) -> Format:
    """The format called `name` on a chip whose `native` features (hardware.Chip.native) are given: a name of
    CHIP_NATIVE reads as the first of its formats the chip lists (fp4: nvfp4 on a B200, mxfp4 on an MI355X), else
    its first; any other name as format_named reads it."""
    choices = CHIP_NATIVE.get(name.strip().lower())
    if choices:
        return FORMATS[next((choice for choice in choices if choice in native), choices[0])]
    return format_named(name)


def refuse_repeated_formats(names: Sequence[object], each: str, where: str = "") -> tuple[str, ...]:
    """`names` as their formats' own names (ue8m0 is fp8_block, E4M3 fp8; one format_named does not know stays as
    given, for its reader to refuse), refusing a format named twice under any of its names: `each` says what is done
    once per format ('each format is shown once'), `where` prefixes where the names stand ('sweep axis weights: ')."""
    def canonical(name: object) -> object:
        if isinstance(name, str) and name.strip().lower() in CHIP_NATIVE:  # its format depends on the chip
            return name.strip().lower()
        try:
            return format_named(name).name if isinstance(name, str) else repr(name)
        except ParityError:
            return name

    found = [canonical(name) for name in names]
    for name in dict.fromkeys(found):
        typed = [str(n) for n, f in zip(names, found) if f == name]
        if len(typed) > 1:
            spelled = f" ({', '.join(typed)})" if set(typed) != {name} else ""
            times = "twice" if len(typed) == 2 else f"{len(typed)} times"
            raise ParityError(f"{where}{name} named {times}{spelled}: {each}")
    return tuple(str(f) for f in found)


def stored_format(name: str) -> str:
    """The format weights called `name` are stored in (w4a8_mxfp4 -> mxfp4); `name` itself if unknown."""
    try:
        fmt = format_named(name)
    except ParityError:
        return name
    return fmt.stored_as or fmt.name
