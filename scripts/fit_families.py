"""Write the family calibrations (data/calibration/family-*.toml), the chip calibrations of CHIP_FITTED and
the derived prior from the published kernel figures (data/measurements/kernels_published.csv). Usage: python scripts/fit_families.py DATE

Which figures fit which family: FITTED below; the other figures are kept to check the fit (never fitted).
"""

from __future__ import annotations

import dataclasses
import sys

from parity import catalog
from parity.hardware import Calibration
from parity.calibrate.family import (architecture_priors, chip_calibration, family_calibration, family_toml,
                                    figures_from_rows)

# cdna3: fp8 GEMM at every shape of at least 4096 on each side (smaller ones and n=192 are checks: a per-call floor,
# memory-bound); STREAM; RCCL's bus bandwidth at 8 GB and its time at 8 and 64 KB beside NCCL's (1 MB is a check);
# M=1 hipBLASLt GEMMs over 100 us (the 62 us one is a check); the FlashAttention figures ran other head dims (check)
FITTED = {"cdna3": ("AMD-063", "AMD-064", "AZ-gemm-fp8-16384", "AZ-gemm-fp8-32768", "AZ-gemm-fp8-6144x12288x12288",
                    "AMD-065", "AZ-rccl-allreduce-8g", "AZ-rccl-allreduce-8k", "AZ-rccl-allreduce-64k",
                    "HBL12329-m1-76032x13312", "HBL12329-m1-38016x13312", "HBL12329-m1-13312x17792",
                    "HBL12329-m1-76032x8192"),
          # Da Vinci: the 910C's per-die figures (B06) and the 910B's (LIM-*: same-test twins on an A800, and HCCL
          # all-reduce over HCCS; ARS: an eager kernel launch on CANN); the 910B and 910C share the family's (the 910C is two 910B-class dies)
          "davinci-910": ("B06-int8-gemm", "B06-mla-compute", "B06-mla-memory", "LIM-910b-bf16-gemm",
                          "LIM-910b-exp-membw", "LIM-910b-allreduce-8", "ARS-910b3-launch"),
          # cdna4, relative to its parent's family-cdna3 (fitted first): HipKittens' BF16 (PyTorch matmul) and FP8
          # (hipBLASLt) GEMMs on an MI355X at M = N = K of 4096 to 16384 (1024 and 2048 are checks: a per-call floor),
          # utilizations with no twin; AITER's tuned MXFP4 GEMM (gemm_a4w4, asm f4gemm) at the same M = N = K sets FP4
          # alone (parity.calibrate.family.OWN_RATE; the Llama-3.1-8B shapes, M = 1 and the older CK kernel are checks);
          # memory, collectives, launch cost and decode attention stay CDNA3's (no figure)
          "cdna4": ("HK-mi355x-bf16-4096", "HK-mi355x-bf16-8192", "HK-mi355x-bf16-16384",
                    "HK-mi355x-fp8-4096", "HK-mi355x-fp8-8192", "HK-mi355x-fp8-16384",
                    "AITER-mi355x-fp4-4096", "AITER-mi355x-fp4-8192", "AITER-mi355x-fp4-16384")}
# Blackwell's FP4: each engine's NVFP4 linear layer beside its per-tensor FP8 one at the same shapes (M = 8,192; N, K of
# 8,192 and 16,384) in aiconfigurator's GEMM database (scripts/aic_fp4_rows.py; kind gemm_fp4_of_fp8), TensorRT-LLM
# 1.3.0rc20 on all four chips, vLLM 0.24.0 on all four, SGLang 0.5.14 on the three it has apart (its B300 table is the
# GB300's). Azure's cuBLASLt FP4 GEMMs are checks: a bare GEMM on operands quantised beforehand, at 1.31x its FP8
# efficiency on the GB200 (0.83x on the GB300, whose FP4 peak is 3x its FP8), where the engines' layers, which
# quantise their input, run at 0.51-1.04x (geometric mean 0.73; Blackwell Ultra's 1.5x FP4 peak shows in none).
AIC_FP4 = {"trtllm": ("b200", "b300", "gb200", "gb300"), "vllm": ("b200", "b300", "gb200", "gb300"),
           "sglang": ("b200", "gb200", "gb300")}
# blackwell, relative to the H200 (the parent Hopper family's measured chip): Azure's cuBLASLt FP8 GEMMs on GB200 and GB300
# beside the H200's in the same harness (shapes of at least 4096 a side; smaller and n=192 ones are checks), the
# engines' FP4 layers beside their FP8 ones (above), GB300 cuBLAS BF16 at M = N = 8192
# (K 4096-16384), and NCCL's all-reduce over a GB200 NVL72 rack. Checks: Azure's 4-GPU ring all-reduce and its small
# messages (four ranks on a forced ring against eight on NVLS), FlashMLA's B200 attention figures (a fitted one would
# move the MLA-decode rate, which none measures), memory-bound GEMMs under 100 us (flashinfer#1732, sglang#32787) and
# the routed-expert rows FI5301-*, FI4985-* (their grouped_gemm_fit, NVFP4 0.2254 of peak with half at 132.5 tokens
# per expert, made the never-fitted aiconfigurator rows worse: measurements/README.md). The HBM: aiconfigurator's per-op
# GEMM database times TensorRT-LLM 1.2.0rc5's BF16 and FP8 GEMMs at M = 1 over 1.3-6.7 GB of weights (0.45-1.1 ms) on a
# B200 and on an H100 in the same collector: weights streamed once, a memory test with a twin (kind memory), so
# memory, stream, grouped-GEMM memory and decode attention move by its ratio (NVFP4's M = 1 rows are checks: their rate
# is the format's, which parity does not model apart). Launch cost and the collective latency stay the H200's.
FITTED["blackwell"] = ("AZ-gb200-fp8-4096", "AZ-gb200-fp8-8192", "AZ-gb200-fp8-16384", "AZ-gb200-fp8-32768",
                       "AZ-gb300-fp8-4096", "AZ-gb300-fp8-8192", "AZ-gb300-fp8-16384", "AZ-gb300-fp8-32768",
                       "TLX740-gb300-bf16-k4096", "TLX740-gb300-bf16-k8192",
                       "TLX740-gb300-bf16-k16384", "CW43-gb200-allreduce-8g",
                       "AIC-b200-bf16-m1-65536x51200", "AIC-b200-bf16-m1-51200x65536", "AIC-b200-bf16-m1-51200x51200",
                       "AIC-b200-fp8-m1-65536x51200", "AIC-b200-fp8-m1-51200x65536", "AIC-b200-fp8-m1-51200x51200",
                       *(f"AIC-{engine}-{chip}-fp4x8-{n}x{k}" for engine, chips in AIC_FP4.items() for chip in chips
                         for n in (8192, 16384) for k in (8192, 16384)))
# chips whose own GEMM and attention figures set those rates; everything else is their family's calibration (the
# H20: the H200's measured one, Hopper having no family file). Blackwell Ultra (B300, GB300): the same tensor-core
# BF16/FP8 peaks as Blackwell with twice the exponent throughput of the softmax, so each gets its prompt attention
# (GQA and MLA) and BF16/FP8 GEMMs from TensorRT-LLM 1.3.0rc20's kernels beside its Blackwell sibling's in
# aiconfigurator's collector (scripts/aic_ultra_rows.py), and its FP4 layers beside its own FP8 ones (AIC_FP4 rows of
# that chip; the family's FP4 is the mean over all four chips, where the Ultra chips' 1.5x FP4 peak shows in none)
ULTRA = {"nvidia-b300-sxm": "b300", "nvidia-gb300": "gb300"}
CHIP_FITTED = {"nvidia-h20": ("torch-h20-bf16-gemm", "FlashMLA-h20-compute"),
               **{chip: (*(f"AIC-trtllm-{short}-attn-gqa{h}x8-{s}" for h in (32, 64) for s in (8192, 16384)),
                         *(f"AIC-trtllm-{short}-attn-mla{h}-{s}" for h in (128, 16) for s in (8192, 16384)),
                         *(f"AIC-trtllm-{short}-{fmt}-{n}x{k}" for fmt in ("bf16", "fp8") for n in (8192, 16384)
                           for k in (8192, 16384)),
                         *(f"AIC-{engine}-{short}-fp4x8-{n}x{k}" for engine, chips in AIC_FP4.items()
                           if short in chips for n in (8192, 16384) for k in (8192, 16384)))
                  for chip, short in ULTRA.items()}}


def main(date: str) -> None:
    figures = {f.case_id: f for f in figures_from_rows(catalog.measurements("kernels_published"))}
    chips = {c.id: c for c in catalog.chips()}
    base = catalog.calibration(catalog.chip("nvidia-h200-sxm"))
    made: dict[str, Calibration] = {}
    tree = catalog.families()
    for family, ids in FITTED.items():
        parent = made.get(tree[family].parent)  # a child family moves from its parent's fit, not the H200's
        cal = family_calibration(family, parent or base, [figures[i] for i in ids], chips, date)
        if parent:
            kinds = sorted({figures[i].kind for i in ids})
            cal = dataclasses.replace(cal, basis=(f"{', '.join(kinds)} measured; other GEMM formats and compute-bound "
                                                   f"kinds moved from {parent.id}'s by the GEMM ratio; bandwidth, "
                                                   f"collectives and launch cost inherited from it"))
        (catalog.data_dir() / "calibration" / f"family-{family}.toml").write_text(family_toml(cal))
        made[family] = cal
    for chip, ids in CHIP_FITTED.items():
        family = made.get(chips[chip].family)  # relative to its family's fit where it has one
        cal = chip_calibration(chip, family or base, [figures[i] for i in ids], chips, date)
        (catalog.data_dir() / "calibration" / f"{chip}.toml").write_text(
            "# GEMM and attention rates published for this chip; the rest inherited (scripts/fit_families.py)\n" + family_toml(cal))
    for architecture, prior in architecture_priors(base, list(made.values()), tree, date,
                                                   catalog.chip(base.chip).family).items():
        whose = (f"of the {architecture} architecture class" if architecture else
                 "whose architecture class is not stated or has no measured family")
        (catalog.data_dir() / "calibration" / f"{prior.id}.toml").write_text(
            f"# Prior of every chip {whose}, where its family tree holds no measurement (scripts/fit_families.py)\n"
            + family_toml(prior))


if __name__ == "__main__":
    main(sys.argv[1])
