"""Convert aiconfigurator's measured serving points into parity's measurement format.

Usage: python scripts/import_aiconfigurator.py SOURCE.csv > src/parity/data/measurements/serving_aiconfigurator.csv

SOURCE.csv is a subset of systems/silicon_sample.csv from the Apache-2.0 package
aiconfigurator-core 0.12.0 (NVIDIA ai-dynamo/aiconfigurator): TTFT and TPOT means (ms) of closed-loop
benchmarks on H100 SXM, B200 and B300 nodes with TensorRT-LLM, vLLM and SGLang. This script runs once,
by hand; parity never reads the source at run time.

The split is by configuration (model, system, engine, mode, lengths, layouts): rows of one sweep over
concurrency share a group, so no group is both fitted and scored. B300 and gpt-oss-120b are never
used for fitting: they measure how predictions carry over to hardware and models not fitted on.

Three clean-ups, each stated in each affected row's note:
- Rows whose MoE layout reads moe_tp = moe_ep = k > 1 with tp x attention-DP = k^2 (e.g. tp 64 with
  moe 8 x 8 on an 8-GPU node) carry the very same measurements as the k-GPU layout with moe_tp 1
  (tp 8, moe_ep 8): the source multiplied tp (or attention DP) by moe_tp. They are normalised.
- Exact duplicates (same case, same measured values) are kept once; DeepSeek-R1 and DeepSeek-V3 share
  one architecture and the source lists some runs under both names: such twins are kept once (under
  the name listed first, DeepSeek-V3), and the split treats both names as one model so that no run is
  both fitted and scored. Disaggregated runs listed under both names with the same measurements but
  with worker counts (and often a different layout) only in the V3 listing are one run: the V3 listing,
  which says more, is kept.
- The source labels gpt-oss-120b's formats nvfp4 / nvfp4 (fp8 / fp8 on five H100 rows), but its checkpoint keeps
  attention in bf16 and its engines run the MXFP4 experts against MXFP8 activations on Blackwell and bf16 ones
  on Hopper (sources at GPT_OSS_EXPERTS, GPT_OSS_LABELS); the rows say so (w4a8_mxfp4, w4a16_mxfp4; w4a16_mxfp4_marlin where InferenceX's
  H100 vLLM script selects Marlin's MoE kernel, GPT_OSS_MARLIN_SINCE).

InferenceX's runs (dated sweep files, results database) draw request lengths uniformly from 0.8 to 1 times
the nominal ones (INFERENCEX_RANGE_RATIO, with its sources); their rows say so in random_range_ratio, which
parity turns into mean lengths.

How many prompts InferenceX's client sent (inferencex_client; the num_prompts column): 10 x concurrency in every run
but InferenceX's SGLang DeepSeek-R1 FP8 runs on B200 of 2025-11-18, which its B200 Docker runner sent 50 x (20 x at
output length 8,192) for that model name from #89 (15b7c00b0, 2025-10-06) until #480 (d053ae24e, 2026-01-21); the
rows where the runner or the day leaves the count open (the FP4 runs of 2025-11-02, one FP8 run of 2025-12-31) keep
the client profile's. Single-node runs had no warm-up before #480, 2 x concurrency warm-up requests after; the
disaggregated runs (srt-slurm's sa-bench, from 2026-01-23 on) warm up with 2 x concurrency requests.

Engine settings from InferenceX's scripts: its TensorRT-LLM Llama-3.1-70B runs on B200 batch-wait at 1k/1k
below TP 8 (LLAMA70B_TRT_BATCH_WAIT; stated in each affected row's note), and its aggregated SGLang DeepSeek runs
take in new requests every 10 or 30 decode steps (sglang_recv_interval; the scheduler_recv_interval column), and
its vLLM Llama-3.1-70B runs on B200 run prompt steps without CUDA graphs (the eager_prefill column).

Engine versions from InferenceX's configuration (SGLANG_B200_UNVERSIONED): its aggregated SGLang DeepSeek-R1 runs on
B200 of 2025-11-02/10 (FP4) and 2025-11-18 (FP8), which the source lists without a version, ran the images its
configuration named at the time (0.5.3rc1, 0.5.5); the FP4 ones with --enable-ep-moe, experts spread over the TP ranks,
each with its script's --chunked-prefill-size. Those runs measured a cold server (COLD_SERVER_TTFT): where the first
wave of prompts passes the chunked-prefill size, their TTFT is not kept (the note keeps the measured value).
Its vLLM Llama-3.1-70B runs on H100 and B200 (VLLM_LLAMA70B_IMAGE) ran vllm/vllm-openai:v0.10.2.

Prompt lengths as the server saw them (SGLANG_TRANSFORMERS_V5): InferenceX's SGLang DeepSeek runs on SGLang
0.5.10.post1 (transformers 5.3.0) measured before its client's tokenizer fix reached Hub model ids sent prompts
35,921 / 7,140 = 5.031 times their nominal length; their isl says so, with the scripts' fp8 KV cache.

One inference, stated in each affected row's note and in its mtp_tokens / mtp_acceptance cells: the
DeepSeek-R1 runs on B200 and B300 that the source lists under R1 alone (its dated sweep files, Dynamo
images) were decoded with multi-token prediction. Evidence: on 62 configurations measured both ways
(R1 sweep, V3 database) the R1 TPOT is 0.43-0.91x the V3 TPOT at the very same layout, concurrency and
lengths (lower at low concurrency, as speculative decoding is), and parity, which predicts the V3 rows
within a median 12-14%, overpredicts these R1 rows by 37-58%. Depth and acceptance are not fitted:
TensorRT-LLM's speed-ups of up to 2.1x on calibration twins need at least two draft tokens, so it gets
NVIDIA's MTP-3 setting with the acceptance NVIDIA published for DeepSeek-R1 on B200 (1.82 tokens per
step); SGLang's speed-ups (at most 1.5x) fit one draft token, with NVIDIA's published MTP-1 acceptance
(0.92). Aggregated TensorRT-LLM runs with attention DP get one draft token too: InferenceX's MTP scripts
(benchmarks/dsr1_fp8_b200_trt_mtp.sh, dsr1_fp4_b200_trt_mtp.sh) set MTP=1 when DP_ATTENTION is on, 3 otherwise.
H100 R1 rows show no such gap and are left as they are.

A second inference, stated in each affected row's note: disaggregated rows that omit the prefill batch
size get 1, the value of every disaggregated row that gives it and the default aiconfigurator's
generator writes for prefill workers (generator/rule_plugin: prefill max_batch_size 1, max_num_tokens
isl + 1,500), so a prefill worker takes one prompt a step.

Another source, stated in each affected row's note: the disaggregated DeepSeek-R1 sweeps (InferenceX
runs, Dynamo images) name neither worker counts nor attention DP; inferencex_disagg_layouts.csv, from
InferenceX's benchmark configuration, does. Rows that match exactly one of its deployments get it
(workers, layouts, MTP depth where every match agrees) and, from the TensorRT-LLM recipe the entry names
(inferencex_recipes.csv), the prefill batch and token budget and the decode batch limit per rank;
rows that match several deployments keep parity's sizing but take the MTP depth all of them name;
the split is computed before, from the source's layout, so no row changes split.

What the decode batch of a disaggregated row is: aiconfigurator's results database (db-dump rows) gives each
run's concurrency and, on every disaggregated row, a decode batch equal to concurrency / (decode workers x
attention DP), the clients per decode rank (DATABASE_SOURCE); it is not the engine's max_batch_size. Such a row
that matches InferenceX TensorRT-LLM entries (database_match: chip, precision, image, lengths, concurrency,
worker counts, GPUs, expert parallelism and attention DP on both sides) whose recipes agree takes the recipe's
limits (prefill max_batch_size and max_num_tokens, decode max_batch_size per rank); any other has its decode
batch left blank (the engine's own limit). Rows without a stated concurrency (aiconfigurator's own sweeps)
derive the concurrency from the decode batch, which is the batch the generator configured: kept as the limit.
"""

from __future__ import annotations

import csv
import hashlib
import re
import sys
from pathlib import Path

MODELS = {
    "deepseek-ai/DeepSeek-R1": "deepseek-r1", "deepseek-ai/DeepSeek-V3": "deepseek-v3",
    "nvidia/DeepSeek-R1-NVFP4": "deepseek-r1-nvfp4", "nvidia/DeepSeek-V3.1-NVFP4": "deepseek-v3.1-nvfp4",
    "meta-llama/Llama-3.1-8B-Instruct": "llama-3.1-8b", "meta-llama/Llama-3.1-70B": "llama-3.1-70b",
    "Qwen/Qwen3-32B": "qwen3-32b", "nvidia/Qwen3-32B-NVFP4": "qwen3-32b-nvfp4",
    "Qwen/Qwen3-235B-A22B-FP8": "qwen3-235b-a22b-fp8", "openai/gpt-oss-120b": "gpt-oss-120b",
}
SYSTEMS = {"h100_sxm": "hgx-h100", "b200_sxm": "hgx-b200", "b300_sxm": "hgx-b300"}
UNSEEN_SYSTEMS = {"hgx-b300"}
UNSEEN_MODELS = {"gpt-oss-120b"}
CALIBRATION_SHARE = 0.3
# (draft tokens, accepted per step): TensorRT-LLM tech blog 1, DeepSeek-R1 on B200, MTP-3 and MTP-1
HIDDEN_MTP = {"trtllm": (3, 1.82), "sglang": (1, 0.92)}
HIDDEN_MTP_SYSTEMS = {"hgx-b200", "hgx-b300"}
# accepted draft tokens per step by MTP depth: the same blog, DeepSeek-R1 on B200 (MTP-1, -2, -3)
MTP_ACCEPTANCE = {1: 0.92, 2: 1.58, 3: 1.82}
# gpt-oss-120b as its engines run it, where the source labels both formats nvfp4: attention in bf16 (its
# config.json's quantization_config leaves self_attn unquantised), experts MXFP4 against MXFP8 activations on
# Blackwell (TensorRT-LLM's GPT-OSS deployment guide, MoE backend support matrix: MXFP8 x MXFP4, TRTLLM backend;
# InferenceX's vLLM script sets VLLM_USE_FLASHINFER_MOE_MXFP4_MXFP8=1) and against bf16 ones on Hopper (the
# guide's H200 row: BF16 x MXFP4, TRITON; InferenceX's H100 vLLM script sets VLLM_MXFP4_USE_MARLIN=1)
GPT_OSS_EXPERTS = {"hgx-b200": "w4a8_mxfp4", "hgx-b300": "w4a8_mxfp4", "hgx-h100": "w4a16_mxfp4"}
# InferenceX's H100 gpt-oss vLLM script (benchmarks/gptoss_fp4_h100*.sh) exports VLLM_MXFP4_USE_MARLIN=1 from
# SemiAnalysisAI/InferenceX#327 (commit 4e52ed4c6, 2026-01-02, the move to the v0.13.0 image) on, so its runs of
# vLLM 0.13.0 and later (0.18.0 from #960, 2026-03-27) send the experts through Marlin's MoE kernel
# (w4a16_mxfp4_marlin); earlier vLLM versions there took vLLM's Hopper default, triton_kernels' matmul_ogs.
GPT_OSS_MARLIN_SINCE = (0, 13)
# The labels the source gives gpt-oss-120b's one public checkpoint (openai/gpt-oss-120b: MXFP4 experts, all other
# weights bf16): nvfp4 / nvfp4 on InferenceX's rows, fp8 / fp8 on aiconfigurator's TensorRT-LLM 1.3.0rc1 H100 runs
# (Dynamo's tensorrtllm-runtime 0.9.0), where TensorRT-LLM runs bf16 activations against the MXFP4 experts
# (examples/models/core/gpt_oss/README.md, MoE support matrix: Hopper, bf16 x mxfp4, TRITON or CUTLASS): neither
# names a format the engines run.
GPT_OSS_LABELS = {("nvfp4", "nvfp4"), ("fp8", "fp8")}
# InferenceX's runs (the source's dated sweep files and its results database, db-dump) draw each request's
# prompt and output lengths uniformly from [0.8 x isl, isl] and [0.8 x osl, osl]: RANDOM_RANGE_RATIO 0.8 in
# InferenceX's .github/workflows/benchmark-tmpl.yml, passed to its utils/bench_serving/benchmark_serving.py
# (sample_uniform: randint(int(L x ratio), L + 1)); multi-node runs use NVIDIA srt-slurm's sa-bench, whose
# bench.sh defaults RANDOM_RANGE_RATIO to 0.8 with the same sampling. aiconfigurator's own runs use fixed lengths.
INFERENCEX_RANGE_RATIO = "0.8"
INFERENCEX_SOURCE = re.compile(r"^(source_file=\d{4}-\d\d-\d\d\.csv|db-dump/)")
# aiconfigurator's results database (db-dump) states each run's concurrency (silicon_concurrency) and, on every
# disaggregated row (64 of 64 in the source), a decode batch equal to that concurrency over decode workers x
# attention DP: the clients per decode rank, not the engine's max_batch_size (its H100 DeepSeek runs at 6 clients on
# 3 TEP-16 workers say 2, where InferenceX's recipe, ctx1_gen3_tep16_batch1, sets max_batch_size 1).
DATABASE_SOURCE = re.compile(r"^db-dump/")
# InferenceX's TensorRT-LLM Llama-3.1-70B runs on B200 (benchmarks/70b_fp8_b200_trt_slurm.sh and
# 70b_fp4_b200_trt_slurm.sh): with 1k/1k lengths below TP 8 the server batch-waits (batch_wait_timeout_iters 20,
# batch_wait_max_tokens_ratio 0.9: new prompts wait up to 20 steps for 90% of the step budget). Their step budgets
# (FP8: --max_num_tokens 16384; FP4: its max_seq_len, which the kept configuration does not give) are not carried:
# parity's arrival groups grow with the budget (see the README), which would group twice the prompts that arrive.
LLAMA70B_TRT_BATCH_WAIT = {"batch_wait_timeout_iters": "20", "batch_wait_max_tokens_ratio": "0.9"}
# InferenceX's TensorRT-LLM DeepSeek-R1 FP8 script on B200 (benchmarks/dsr1_fp8_b200_trt.sh) from #594 (commit
# ec7bafaae, 2026-01-29, which also moved the image to release:1.2.0rc6.post2): with 1k/1k lengths at 64 clients and
# more it sets DELAY_BATCHING (batch_wait_timeout_iters 40, batch_wait_max_tokens_ratio 0.8). Its FP4 and MTP scripts
# never batch-wait; the earlier FP8 versions (1.1.0rc2.post2) did not. The non-MTP runs are the ones the source lists
# under DeepSeek-V3 (its R1 listings are the MTP runs: HIDDEN_MTP).
DSR1_FP8_TRT_BATCH_WAIT = {"batch_wait_timeout_iters": "40", "batch_wait_max_tokens_ratio": "0.8"}
DSR1_FP8_TRT_BATCH_WAIT_VERSIONS = {"1.2.0rc6.post2"}
# InferenceX's TensorRT-LLM DeepSeek-R1 MTP scripts on B200 (benchmarks/dsr1_fp8_b200_trt_mtp.sh and
# dsr1_fp4_b200_trt_mtp.sh, every version from their introduction in #392, commit bf3456727 of 2026-01-14, through
# #632 / #642 of 2026-02-05/06) size the step budget to one prompt beside a full batch of drafts:
# --max_num_tokens = ((MTP + 1) x MAX_BATCH_SIZE + ISL + 64 + 63) / 64 x 64 (integer division), with MAX_BATCH_SIZE =
# CONC without attention DP (1,600 tokens at 128 clients of 1k prompts and MTP-3, where the engine's default is
# 8,192). Rows measured before the scripts existed, and attention-DP rows (whose MAX_BATCH_SIZE changed between
# versions: CONC / TP, then CONC / 8 or CONC / 4), keep the engine's default.
TRT_MTP_SCRIPTS_SINCE = "2026-01-14"


def trt_mtp_budget(draft_tokens: int, concurrency: int, isl: int) -> int:
    """InferenceX's --max_num_tokens for a TensorRT-LLM MTP run without attention DP (see TRT_MTP_SCRIPTS_SINCE)."""
    return ((draft_tokens + 1) * concurrency + isl + 64 + 63) // 64 * 64


# InferenceX's SGLang DeepSeek-R1 scripts (benchmarks/dsr1_fp8_b200.sh, dsr1_fp4_b200.sh, their _slurm forms and
# single_node/fixed_seq_len/dsr1_fp8_b300.sh): --scheduler-recv-interval 30 from 16 clients up, 10 below
# (10 at TP 4 for FP8); SGLang then takes in new requests every that many decode steps.
# InferenceX's vLLM Llama-3.1-70B runs on B200 (benchmarks/70b_fp8_b200_docker.sh and 70b_fp4_b200_docker.sh as of
# 2025-10-29, the rows' date) pass compilation-config cudagraph_mode FULL_DECODE_ONLY with splitting_ops []: decode
# batches replay full CUDA graphs and steps with prompt tokens run eagerly (vLLM CUDAGraphMode.FULL_DECODE_ONLY =
# (FULL, NONE)); its H100 and gpt-oss scripts keep vLLM's default, piecewise graphs for them too. The eager_prefill
# column says so on those rows.
# The same SGLang DeepSeek FP8 scripts (dsr1_fp8_b200.sh, dsr1_fp8_b200_mtp.sh, single_node/dsr1_fp8_b300.sh) export
# SGL_ENABLE_JIT_DEEPGEMM=false and SGLANG_ENABLE_FLASHINFER_GEMM=true: dense block-FP8 projections run FlashInfer's
# TRT-LLM groupwise GEMM instead of SGLang's default DeepGEMM (the fp8_gemm column; engine_kernels.toml prices it).
SGLANG_DEEPSEEK_FP8_GEMM = "flashinfer_trtllm"
# Every InferenceX SGLang DeepSeek-R1 script of these rows starts the server with `--kv-cache-dtype fp8_e4m3`
# (benchmarks/dsr1_fp4_b200_docker.sh and dsr1_fp8_b200_docker.sh at 61508c242, 2025-11-10;
# single_node/dsr1_fp4_b200.sh and dsr1_fp8_b200.sh at 12ba0ae07, 2026-03-25; dsr1_fp4_b300.sh, dsr1_fp8_b300.sh at
# 752685d00), while the source's rows leave the KV format blank (read as the engine default, bf16): the kv column says
# fp8 on them. So do the disaggregated B200 runs: every SGLang recipe of NVIDIA/srt-slurm for B200 (recipes/b200-fp8/*
# and recipes/b200-fp4/* at c88ef731) gives both its prefill and its decode workers `kv-cache-dtype: fp8_e4m3`.
SGLANG_DEEPSEEK_KV = "fp8"
# InferenceX's disaggregated SGLang DeepSeek-R1 FP8 runs on B200 (dsr1-fp8-b200-dynamo-sglang[-mtp]) launch srt-slurm
# recipes of the ishandhanani/srt-slurm branch sa-submission-q1-2026 (runners/launch_b200-dgxc-slurm.sh checks it
# out). Every one they named until 2026-03-18 (recipes/b200-fp8/{1k1k,8k1k}/{stp,mtp}/*.yaml, as NVIDIA/srt-slurm
# 5063eb43 merged the branch on 2026-03-03) exports SGLANG_ENABLE_JIT_DEEPGEMM=false on prefill and decode workers
# and sets no --fp8-gemm-backend, which SGLang 0.5.8's auto dispatch (fp8_utils._dispatch_auto_backend) turns into
# the same FlashInfer TRT-LLM groupwise GEMM on Blackwell. From 2026-03-18 (InferenceX #907) the 8k/1k runs name
# the consolidated recipes (recipes/b200-fp8/8k1k_*.yaml), which no longer disable DeepGEMM (NVIDIA/srt-slurm
# #214, 2026-03-12); the 1k/1k ones keep the per-file recipes.
SGLANG_B200_FP8_DEEPGEMM_8K_SINCE = "2026-03-18"

# InferenceX's TensorRT-LLM DeepSeek-R1 FP8 runs on B200 pick the fused-MoE backend in the launch (moe_config.backend;
# the moe_backend columns, engine_kernels.toml prices it). Aggregated (benchmarks/dsr1_fp8_b200_trt.sh and
# dsr1_fp8_b200_trt_mtp.sh, read at SemiAnalysisAI/InferenceX ec7bafaae~1): DEEPGEMM (TP 8 / EP 8) in every
# 1.1.0rc2.post2 run; from 1.2.0rc6 (InferenceX #594, #632) TRTLLM with EP 1, DEEPGEMM only where attention DP is on.
# Disaggregated (Dynamo 0.8.1.post2, which ships TensorRT-LLM 1.2.0rc6.post2; the recipes/trtllm/b200-fp8/*.yaml
# InferenceX names, read at NVIDIA/srt-slurm 5063eb43): every 1k/1k prefill worker DEEPGEMM (EP 8, attention DP),
# every 8k/1k one TRTLLM; decode workers DEEPGEMM where they run attention DP (the dep8 recipes) at 1k/1k and at
# 8k/1k with MTP, else TRTLLM (the tp8 recipes and the 8k/1k STP dep8 ones).
# The FP4 GEMM of SGLang's disaggregated prefill workers (the prefill_fp4_gemm column; parity.simulate.policies
# PlanBuilds prices it). SGLang 0.5.8.post1 (the PyPI wheel, which pins flashinfer_python 0.6.1) runs an NVFP4
# checkpoint's dense linears with FlashInfer's mm_fp4 and hands it --fp4-gemm-backend (default auto; where unset, the
# deprecated SGLANG_FLASHINFER_FP4_GEMM_BACKEND): layers/quantization/fp4_utils.py initialize_fp4_gemm_config,
# modelopt_quant.fp4_gemm (`backend=fp4_backend.get_flashinfer_backend()`). FlashInfer 0.6.1 resolves auto to cuDNN
# first under CUDA 13 with cuDNN 9.15 or later (flashinfer/gemm/gemm_base.py _heuristic_func_mm_fp4), which the runs'
# -cu130 images are (SGLang's CUDA 13 images force-install nvidia-cudnn-cu13 9.16.0.29 for torch 2.9.1, whose
# cuDNN-9.14-or-older conv3d bug 0.5.8.post1's server_args warns about at launch). The B200 NVFP4 recipes InferenceX
# names (NVIDIA/srt-slurm 5063eb43 recipes/b200-fp4/*, inferencex_sglang_recipes.csv prefill_fp4_gemm_backend) leave
# the prefill workers' backend unset in the four 1k/1k STP ones ({low-latency-dep4-1p-tep8-5d,6d,
# max-tpt-dep4-1p-dep8-1d,2d}: their decode workers set cutlass by the environment or replay CUDA graphs), where the
# 1k/1k MTP ones and the 8k/1k ones set flashinfer_trtllm (flashinfer_cutlass in max-tpt-dep4-7p-dep8-2d; the 8k/1k
# MTP max-tpt-dep4-4p-dep8-1d leaves it unset too, and no row runs it).
SGLANG_FP4_AUTO_CUDNN_IMAGES = ("sglang:v0.5.8.post1-cu130", "sglang:v0.5.8.post1-cu130-runtime")


def apply_prefill_fp4_gemm(out: dict[str, str], found: list[dict[str, str]]) -> None:
    """Mark an NVFP4 SGLang disaggregated row whose every matching InferenceX entry launches its prefill workers with
    FlashInfer's cuDNN FP4 GEMM (no fp4-gemm-backend in any of its recipes, on an image where auto means cuDNN:
    SGLANG_FP4_AUTO_CUDNN_IMAGES); any other row keeps the column blank."""
    if not found or out["weights"] != "nvfp4" or out["engine"] != "sglang":
        return
    if all(e.get("prefill_fp4_gemm_backend") == "" and e["image"] in SGLANG_FP4_AUTO_CUDNN_IMAGES for e in found):
        out["prefill_fp4_gemm"] = "cudnn"
        out["note"] = "; ".join(filter(None, [out["note"], "prefill FP4 GEMMs on FlashInfer's cuDNN backend (the "
                                              "recipes set no fp4-gemm-backend: auto, cuDNN under CUDA 13)"]))

TRT_DSR1_FP8_DEEPGEMM_AGG_VERSIONS = ("1.1.0rc2.post2",)
TRT_DSR1_FP8_DEEPGEMM_DP_VERSIONS = ("1.2.0rc6.post2", "1.2.0rc6.post3")
TRT_DSR1_FP8_DISAGG_VERSION = "0.8.1.post2"


def trt_dsr1_fp8_moe_backends(out: dict[str, str]) -> dict[str, str]:
    """The moe_backend columns of an InferenceX TensorRT-LLM DeepSeek-R1 FP8 B200 row (see the comment above);
    empty for every other row and where the recipe's backend is TensorRT-LLM's default-era TRTLLM one."""
    if not (out["engine"] == "trtllm" and out["system"] == "hgx-b200" and out["model"].startswith("deepseek")
            and out["weights"] == "fp8"):
        return {}
    if out["mode"] == "agg":
        if (out["engine_version"] in TRT_DSR1_FP8_DEEPGEMM_AGG_VERSIONS
                or (out["engine_version"] in TRT_DSR1_FP8_DEEPGEMM_DP_VERSIONS and int(out["attn_dp"] or 1) > 1)):
            return {"moe_backend": "deepgemm"}
        return {}
    if out["engine_version"] != TRT_DSR1_FP8_DISAGG_VERSION:
        return {}
    short = out["isl"] == "1024"
    decode_dp = int(out["decode_attn_dp"] or 1) > 1
    return {"prefill_moe_backend": "deepgemm" if short else "",
            "decode_moe_backend": "deepgemm" if decode_dp and (short or out.get("mtp_tokens")) else ""}

# InferenceX's vLLM Llama-3.1-70B runs on H100 and B200, which the source lists without a version: its workflow
# .github/workflows/70b-tmpl.yml names image vllm/vllm-openai:v0.10.2 for the h100 and b200 vLLM jobs in every version
# from 26200a870 (2025-09-21) until #149 (2582bce40, 2025-10-29) removed the 70B runs, the day these rows were measured
# (model nvidia/Llama-3.3-70B-Instruct-FP8, a ModelOpt checkpoint with per-tensor weight and activation scales).
VLLM_LLAMA70B_IMAGE = ("2025-09-21", "2025-10-29", "0.10.2")


# InferenceX's vLLM scripts that set `kv-cache-dtype: fp8` (vLLM's default is the model's 16-bit format), with the
# dates from which they did: (model, system) -> first date. Llama-3.1-70B: benchmarks/70b_fp8_b200_docker.sh and
# 70b_fp4_b200_docker.sh from their first versions (2025-09-12, 2025-09-21), 70b_fp8_h100_docker.sh and _slurm.sh from
# 2a205bb3 (2025-09-23) until the scripts' removal (2025-10-29); gpt-oss-120b on B200: benchmarks/gptoss_fp4_b200*.sh
# from 7da989d2 ('Upgrade vLLM to v0.11.2', 2025-11-19). Its H100 gpt-oss scripts set none.
VLLM_FP8_KV_SINCE = {("llama-3.1-70b", "hgx-b200"): "2025-09-12", ("llama-3.1-70b", "hgx-h100"): "2025-09-23",
                     ("gpt-oss-120b", "hgx-b200"): "2025-11-19"}


def apply_vllm_fp8_kv(out: dict[str, str]) -> None:
    """KV cache fp8 on an InferenceX vLLM row whose script set it at the row's date (VLLM_FP8_KV_SINCE)."""
    since = VLLM_FP8_KV_SINCE.get((out["model"], out["system"]))
    if out["engine"] == "vllm" and out["mode"] == "agg" and not out["kv"] and since and out["measured_on"] >= since:
        out["kv"] = "fp8"
        out["note"] = "; ".join(filter(None, [out["note"], "KV cache fp8 as InferenceX's vLLM script sets it "
                                              "(kv-cache-dtype: fp8)"]))


def apply_vllm_llama70b_image(out: dict[str, str]) -> None:
    """Engine version of an unversioned InferenceX vLLM Llama-3.1-70B row (VLLM_LLAMA70B_IMAGE)."""
    first, last, version = VLLM_LLAMA70B_IMAGE
    if ((out["engine"], out["model"], out["mode"], out["engine_version"]) == ("vllm", "llama-3.1-70b", "agg", "")
            and out["system"] in ("hgx-h100", "hgx-b200") and first <= out["measured_on"] <= last):
        out["engine_version"] = version
        out["note"] = "; ".join(filter(None, [out["note"], f"vLLM {version} (the source names none): image "
                                              f"vllm/vllm-openai:v{version} in InferenceX's 70b-tmpl.yml"]))


def sglang_recv_interval(weights: str, tp: str, concurrency: str) -> str:
    return "10" if (weights == "fp8" and tp == "4") or int(concurrency) < 16 else "30"


# InferenceX's SGLang DeepSeek runs on images whose SGLang pins transformers 5 sent the server prompts about five
# times their nominal length. transformers 5 loads DeepSeek-V3/R1's tokenizer (tokenizer_config.json names
# LlamaTokenizerFast, tokenizer.json is ByteLevel BPE) with a Metaspace pre-tokenizer and a Sequence decoder
# (huggingface/transformers#45488); the SGLang server puts tokenizer.json's back (_fix_v5_tokenizer_components in
# python/sglang/srt/utils/hf_transformers_utils.py), InferenceX's client decodes its random prompts with the broken
# one, so the server re-encodes the text into more tokens: 7,140 client tokens were 35,921 server tokens
# (SemiAnalysisAI/InferenceX#937, transformers 5.3.0). #937's client fix (2026-03-24) read tokenizer.json from a
# local model directory only and did nothing for a Hub id, which these scripts pass (`hf download "$MODEL"`,
# `--model "$MODEL"`) until #1381 (2026-05-15; the DeepSeek SGLang runs of B200 and B300 were re-run with it,
# #1502). SGLang 0.5.9 pins transformers 4.57.1 and is unaffected; 0.5.10.post1 pins 5.3.0 (the wheels' METADATA).
# Such rows carry the server's prompt length, and their scripts' KV cache format (single_node/dsr1_fp8_b300.sh and
# dsr1_fp4_b300.sh: --kv-cache-dtype fp8_e4m3), which decides how many of those prompts the KV pool admits.
SGLANG_TRANSFORMERS_V5 = {"0.5.10.post1": "5.3.0"}  # SGLang version -> the transformers its wheel pins
CLIENT_TOKENIZER_FIXED_ON = "2026-05-15"  # InferenceX#1381 merged
SERVER_TOKENS_PER_CLIENT_TOKEN = 35921 / 7140  # InferenceX#937, transformers 5.3.0


def server_prompt_length(isl: str) -> str:
    """The prompt the SGLang server prefilled for a nominal (client-side) length [tokens]: 8,192 -> 41,214."""
    return str(round(int(isl) * SERVER_TOKENS_PER_CLIENT_TOKEN))


# InferenceX's aggregated SGLang DeepSeek-R1 runs on B200 that aiconfigurator's results database (db-dump) lists
# without an engine version: InferenceX's configuration names the image, its script the MoE layout. FP4 until
# #204 (commit d8fe8f73e, 2025-11-10 19:55 UTC): image lmsysorg/sglang:v0.5.3rc1-cu129-b200 (.github/workflows/
# dsr1-tmpl.yml, then .github/configs/nvidia-master.yaml), benchmarks/dsr1_fp4_b200_docker.sh passes --enable-ep-moe,
# which SGLang of that line turns into ep_size = tp_size (server_args.py __post_init__ in 0.5.3rc0; 0.5.3rc2 rejects
# the flag, and #204 replaced it with --ep-size), so experts are spread over the TP ranks, not sharded; the
# database's EP 1 is the configuration's missing ep field (#204 added ep 4 / 8, which later FP4 rows would carry).
# FP8 from #204 until #242 (commit 189ae51cc, 2025-11-18 20:03 UTC): image lmsysorg/sglang:v0.5.5-cu129-amd64,
# dsr1_fp8_b200_docker.sh passes --ep-size $EP_SIZE with ep 8 in the configuration (the database's EP 8; #242 set
# it back to 1). Neither client warmed the server up (bench_serving's one single-prompt test request; warm-up came
# with #480, 2026-01-21). The scripts' --chunked-prefill-size in that window: 16,384 (dsr1_fp4_b200_docker.sh) and
# 32,768 (dsr1_fp8_b200_docker.sh), the same at e06929c70, 61508c242 and 0ba7aa3ff. Applied after the split, which
# stays that of the source's layout.
# (weights, first day, last day, the database's expert parallelism, version, expert parallelism run, chunked
# prefill size, source)
SGLANG_B200_UNVERSIONED = (
    ("nvfp4", "2025-09-23", "2025-11-10", "1", "0.5.3rc1", "tp", "16384",
     "image lmsysorg/sglang:v0.5.3rc1-cu129-b200 with --enable-ep-moe (SGLang sets ep_size = tp_size) in "
     "InferenceX's configuration until #204 (d8fe8f73e, 2025-11-10); the source's EP 1 is the configuration's "
     "missing ep field"),
    ("fp8", "2025-11-10", "2025-11-18", "8", "0.5.5", "8", "32768",
     "image lmsysorg/sglang:v0.5.5-cu129-amd64 with --ep-size 8 in InferenceX's configuration from #204 "
     "(d8fe8f73e, 2025-11-10) until #242 (189ae51cc, 2025-11-18) set EP 1"),
)
# A cold server's TTFT, not kept (measurements/README.md, "The 0.5.3rc1 TTFT cliff is a cold start"): on those two
# images InferenceX's runs had no warm-up (the JIT warm-up of #38 deleted at dd7e38501, 2025-10-03; batch warm-ups
# from #480, d053ae24e, 2026-01-21) and no persistent FlashInfer cache (dropped by #89, 15b7c00b0, 2025-10-06), and
# the client's one test prompt never runs a chunked continuation, whose prefix-attention kernels (trtllm_mla's
# trtllm_ragged_attention_deepseek with return_lse, and the state merge) are then first loaded inside the timed run:
# where the first wave (concurrency x the mean drawn length, (1 + random_range_ratio) / 2 x isl) passes the
# chunked-prefill size, the mean TTFT carries a one-time stall of about a minute spread over the run's prompts (44-97
# s on every such row, 2-5 s on the others), which no deployment delivers and whose size no source gives. Those rows'
# TTFT is left out (the note keeps it); their TPOT, within a few percent of the warm 0.5.9 runs', is kept.
COLD_SERVER_TTFT = ("the measured TTFT, {ttft} s, is a cold server's (no warm-up, no FlashInfer cache; the first wave "
                    "of {wave:,} prompt tokens passes --chunked-prefill-size {chunk}, so the run's first chunked "
                    "continuation loads its kernels inside the timed run): not kept")


def apply_sglang_b200_image(out: dict[str, str]) -> None:
    """Engine version and expert layout of an unversioned InferenceX SGLang B200 row (SGLANG_B200_UNVERSIONED)."""
    if (out["engine"], out["system"], out["mode"], out["engine_version"]) != ("sglang", "hgx-b200", "agg", ""):
        return
    for weights, first, last, source_ep, version, ep, chunk, said in SGLANG_B200_UNVERSIONED:
        if out["weights"] == weights and first <= out["measured_on"] <= last and (out["moe_ep"] or "1") == source_ep:
            out["engine_version"] = version
            if ep == "tp":
                experts = str(int(out["tp"] or 1) * int(out["attn_dp"] or 1))
                said += f"; experts {experts} ways by expert parallelism (the source: moe_tp {out['moe_tp']}, moe_ep 1)"
                out["moe_tp"], out["moe_ep"] = "1", experts
            out["chunked_prefill_size"] = out.get("chunked_prefill_size") or chunk
            notes = [out["note"], f"SGLang {version} (the source names none): {said}"]
            ratio = float(out["random_range_ratio"] or 1)
            wave = round(int(out["concurrency"]) * (1 + ratio) / 2 * int(out["isl"]))
            if wave > int(out["chunked_prefill_size"]):
                notes.append(COLD_SERVER_TTFT.format(ttft=out["measured_ttft_s"], wave=wave,
                                                     chunk=out["chunked_prefill_size"]))
                out["measured_ttft_s"] = ""
            out["note"] = "; ".join(filter(None, notes))
            return


# How many prompts InferenceX's benchmark client sent in a run, and whether it warmed the server up first, as its code
# (SemiAnalysisAI/InferenceX) said at the row's date; the num_prompts column is that count. Single-node runs
# (kimbochen/bench_serving's benchmark_serving.py, --max-concurrency CONC):
# - every runner script sends --num-prompts 10 x CONC (benchmarks/*_slurm.sh and *_docker.sh, runners/launch_h100-cr.sh,
#   from 2026-01-22 benchmarks/*.sh, single_node/*.sh after #666), except
# - the B200 Docker runners (runners/launch_b200-nvd.sh from #89, 15b7c00b0, 2025-10-06; launch_b200-dgxc.sh from #245,
#   3c3d1999b, 2025-11-29) until #480 (d053ae24e, 2026-01-21) dropped it: 20 x CONC at OSL 8192 and 50 x CONC otherwise
#   when $MODEL is exactly nvidia/DeepSeek-R1-0528-FP4 or deepseek-ai/DeepSeek-R1-0528, else 10 x (exported to the
#   benchmarks/*_b200_docker.sh scripts from #227, d22bf9ca9, 2025-11-21). Of the rows, only SGLang DeepSeek-R1 on B200
#   ran there under such a name: #145 (17d5e204f, 2025-11-03) renamed the FP4 model nvidia/DeepSeek-R1-0528-FP4-V2 (so
#   10 x), the FP8 one stayed deepseek-ai/DeepSeek-R1-0528. TensorRT-LLM jobs (runner b200-trt) had only SLURM
#   scripts (benchmarks/dsr1_*_b200_trt_slurm.sh, 10 x), gpt-oss and Llama are other names (10 x).
# - Which machines ran the SGLang jobs (runner b200): .github/configs/runners.yaml from #145 (2025-11-03) lists
#   b200-nb (SLURM, which had no SGLang script before #379, so no such job ran there) and b200-nvd, from #185
#   (403857f68, 2025-11-06) b200-nvd alone, from #245 also b200-dgxc (same rule), and from #379 (ea181ae6d, 2025-12-31)
#   also the SLURM nodes b200-nv / b200-nb, whose new benchmarks/dsr1_fp*_b200_slurm.sh send 10 x: from then until
#   #480 a DeepSeek SGLang row may have run either way. Before runners.yaml the repository does not say which machines
#   carried the b200 label; runner-test.yml lists b200-tg_0, whose launcher (runners/launch_b200-tg.sh) sends 10 x.
# - Warm-up: none before #480 (the client's one single-prompt test request, then the timed run); from #480
#   benchmarks/benchmark_lib.sh run_benchmark_serving passes --num-warmups 2 x CONC (requests with the test prompt).
# Multi-node (disaggregated) runs launch NVIDIA srt-slurm recipes (branch sa-submission-q1-2026 of ishandhanani/
# srt-slurm) whose benchmark is sa-bench: src/srtctl/benchmarks/scripts/sa-bench/bench.sh sends 10 x concurrency
# prompts after a separate warm-up run of 2 x concurrency random prompts from 88ff268d / a1b2d35b (2026-01-23; 8 x
# with the warm-ups before, 55698764), unchanged through 31c3e59c (2026-04-08); every InferenceX disaggregated row is
# later. A row measured on a day one of these changed, or whose runner is not known where runners differ, keeps the
# client profile's count (num_prompts blank) and says so.
INFERENCEX_WARMUP_SINCE = "2026-01-21"  # #480: --num-warmups 2 x CONC
SA_BENCH_TEN_SINCE = "2026-01-23"  # srt-slurm 88ff268d: 10 x concurrency, warm-up 2 x
B200_DOCKER_RULE = ("2025-10-06", INFERENCEX_WARMUP_SINCE)  # #89 until #480: the runners' DeepSeek rule
# the name each SGLang DeepSeek-R1 job ran under, and the day it stopped (#145 renamed the FP4 one FP4-V2)
B200_DOCKER_MODELS = {"nvfp4": ("nvidia/DeepSeek-R1-0528-FP4", "2025-11-03"),
                      "fp8": ("deepseek-ai/DeepSeek-R1-0528", "")}
B200_SGLANG_DOCKER_ONLY = ("2025-11-03", "2025-12-31")  # runners.yaml from #145; #379 adds the SLURM nodes


def inferencex_client(out: dict[str, str]) -> tuple[int | None, bool | None, str]:
    """(prompts per client, warm-up before the timed run, why unknown) of an InferenceX row as its runner's code said
    at the row's date (see the comment above); None where a rule changed that day or the runner is not known."""
    day = out["measured_on"]
    if out["mode"] == "disagg":
        if day > SA_BENCH_TEN_SINCE:
            return 10, True, ""
        return None, None, f"sa-bench changed its prompt count on {SA_BENCH_TEN_SINCE}" if day else "no date"
    if not day or day == INFERENCEX_WARMUP_SINCE:
        return None, None, "measured the day InferenceX #480 changed the client"
    warm = day > INFERENCEX_WARMUP_SINCE
    first, last = B200_DOCKER_RULE
    if not (out["engine"] == "sglang" and out["system"] == "hgx-b200" and out["model"].startswith("deepseek")
            and out["weights"] in B200_DOCKER_MODELS and first <= day < last):
        return 10, warm, ""
    model, renamed = B200_DOCKER_MODELS[out["weights"]]
    if renamed and day >= renamed:
        return (None, warm, "measured the day #145 renamed the model") if day == renamed else (10, warm, "")
    start, slurm = B200_SGLANG_DOCKER_ONLY
    if not start <= day < slurm:
        return None, warm, (f"the runner is not known: B200 Docker runners sent {model} 50 / 20 x concurrency "
                            "prompts, " + ("the SLURM nodes (#379) 10 x" if day >= slurm else "b200-tg 10 x"))
    return (20 if out["osl"] == "8192" else 50), warm, ""


def apply_inferencex_client(out: dict[str, str]) -> None:
    """The num_prompts column of an InferenceX row (inferencex_client), with a note where it is not 10 x concurrency
    or not known."""
    per_client, warm, unknown = inferencex_client(out)
    if per_client is None:
        out["note"] = "; ".join(filter(None, [out["note"], f"prompt count left to the client profile ({unknown})"]))
        return
    out["num_prompts"] = str(per_client * int(out["concurrency"]))
    if per_client != 10:
        out["note"] = "; ".join(filter(None, [out["note"], f"{per_client} x concurrency prompts "
                                              f"{'after' if warm else 'without'} a warm-up (InferenceX's B200 Docker "
                                              f"runner for {B200_DOCKER_MODELS[out['weights']][0]}, #89 to #480)"]))


MEASUREMENTS = Path(__file__).resolve().parents[1] / "src/parity/data/measurements"

COLUMNS = ["case_id", "model", "system", "engine", "engine_version", "weights", "moe_weights", "kv", "mode",
           "isl", "osl", "concurrency", "tp", "pp", "attn_dp", "moe_tp", "moe_ep",
           "prefill_workers", "prefill_batch", "prefill_tp", "prefill_pp", "prefill_attn_dp", "prefill_moe_tp",
           "prefill_moe_ep", "decode_workers", "decode_batch", "decode_tp", "decode_pp", "decode_attn_dp",
           "decode_moe_tp", "decode_moe_ep", "max_num_tokens", "max_prefill_tokens", "chunked_prefill_size",
           "mtp_tokens", "mtp_acceptance", "random_range_ratio", "batch_wait_timeout_iters",
           "batch_wait_max_tokens_ratio", "scheduler_recv_interval", "measured_ttft_s",
           "measured_tpot_s", "split", "measured_on", "note", "eager_prefill", "fp8_gemm", "normal_all_to_all",
           "moe_backend", "prefill_moe_backend", "decode_moe_backend", "num_prompts", "prefill_fp4_gemm"]
RENAME = {"batch_size": "batch", "tp_size": "tp", "pp_size": "pp", "attention_dp_size": "attn_dp",
          "moe_tp_size": "moe_tp", "moe_ep_size": "moe_ep"}


def layout(row: dict[str, str], prefix: str) -> dict[str, str]:
    out = {}
    for src, dst in RENAME.items():
        value = row.get(prefix + src, "")
        out[(prefix + dst) if prefix else dst] = "" if value in ("", "0") else value
    if prefix:
        out[prefix + "workers"] = row.get(prefix + "num_workers", "")
    return out


def sglang_recipe_paths(e: dict[str, str]) -> list[str]:
    """The srt-slurm recipe files an InferenceX SGLang entry names (inferencex_sglang_recipes.csv): the consolidated
    B200 FP8 8k/1k ones by name, the others under their lengths and decoding mode; an H100 entry, whose STP twin stands
    commented out beside it (spec `either`), names its MTP recipe and the STP one of the same layout."""
    name = e["recipe"]
    if name.startswith("8k1k_"):
        return [f"recipes/b200-fp8/{name}.yaml"]
    _, precision, chip, *_ = e["config_key"].split("-")
    lengths = {"1024": "1k", "8192": "8k"}[e["isl"]] + {"1024": "1k", "8192": "8k"}[e["osl"]]
    if chip == "h100":
        return [f"recipes/h100/{lengths}/mtp/{name}.yaml",
                f"recipes/h100/{lengths}/stp/{name.removesuffix('-mtp')}.yaml"]
    mode = "stp" if e["spec_decoding"] == "none" else "mtp"
    return [f"recipes/{chip}-{precision}/{lengths}/{mode}/{name}.yaml"]


# an SGLang recipe's prefill budgets, as the row columns that carry them (parity.predict.case: PromptAdmission's input
# budget and the chunked prefill size, which the server divides over attention DP itself)
SGLANG_PREFILL_BUDGETS = {"prefill_max_prefill_tokens": "max_prefill_tokens",
                          "prefill_chunked_prefill_size": "chunked_prefill_size"}


def copied_recipe_batch(name: str, recipe: dict[str, str]) -> dict[str, str]:
    """The decode batch limit of a recipe file that is a copy of another run's: where the file's own benchmark
    section lists concurrencies (benchmark_concurrencies) without the one its name ends in, and its decode
    max_batch_size is not the batch its name says, the name's batch ({'decode_max_batch_size': ..., 'copied_from':
    the file's own settings}); else nothing (the settings, not the name, are what a recipe ran: module docstring).
    connorcarpenter15/srt-slurm's b300-fp8 `..._batch64_eplb0_mtp0_12` and `..._batch2_eplb0_mtp0_16` carry the
    decode max_batch_size 1 and `concurrencies: [10]` of `..._batch1_..._10`; their runs' TTFT (0.18 s at 12 clients
    over 8 decode workers of 1,024 / 1,024 tokens; 1.04 s at 16 of 8,192 / 1,024) is a free decode slot's, where one
    sequence a worker would hold 4 (8) of them a whole request's decode, ~8 s."""
    ran = recipe.get("benchmark_concurrencies", "").split()
    named = re.fullmatch(r".*_batch(\d+)_.*_(\d+)", name)
    if not ran or not named or named.group(2) in ran or named.group(1) == recipe["decode_max_batch_size"]:
        return {}
    return {"decode_max_batch_size": named.group(1),
            "copied_from": (f"the recipe file's decode batch {recipe['decode_max_batch_size']} and benchmark "
                            f"concurrencies {', '.join(ran)} are another run's: its name's batch {named.group(1)} "
                            "taken")}


def inferencex_layouts() -> list[dict[str, str]]:
    """InferenceX's search-space entries; the TensorRT-LLM ones with their recipe's engine settings
    (inferencex_recipes.csv), the SGLang ones with their recipes' prefill budgets where every recipe the entry names
    agrees (inferencex_sglang_recipes.csv, SGLANG_PREFILL_BUDGETS; blank otherwise)."""
    with open(MEASUREMENTS / "inferencex_recipes.csv", newline="") as handle:
        recipes = {r["recipe_path"]: r for r in csv.DictReader(handle)}
    with open(MEASUREMENTS / "inferencex_sglang_recipes.csv", newline="") as handle:
        sglang = {r["recipe_path"]: r for r in csv.DictReader(handle)}
    with open(MEASUREMENTS / "inferencex_disagg_layouts.csv", newline="") as handle:
        table = list(csv.DictReader(handle))
    lengths = {"1024": "1k", "8192": "8k"}
    for e in [e for e in table if e["config_key"].endswith("-dynamo-trt")]:
        _, precision, chip, *_ = e["config_key"].split("-")
        mode = "stp" if e["spec_decoding"] == "none" else "mtp"
        path = f"recipes/trtllm/{chip}-{precision}/{lengths[e['isl']]}{lengths[e['osl']]}/{mode}/{e['recipe']}.yaml"
        recipe = recipes[path]  # every TensorRT-LLM entry's recipe is kept
        e |= {k: v for k, v in recipe.items() if k != "recipe_path"}
        e |= copied_recipe_batch(e["recipe"], recipe)
        # the recipe is what the engine ran where it and the benchmark list differ
        e["prefill_dp_attn"], e["decode_dp_attn"] = recipe["prefill_attention_dp"], recipe["decode_attention_dp"]
    for e in [e for e in table if "-dynamo-sglang" in e["config_key"]]:
        named = [sglang[path] for path in sglang_recipe_paths(e)]  # every recipe an SGLang entry names is kept
        for key in SGLANG_PREFILL_BUDGETS:
            values = {r[key] for r in named}
            e[key] = values.pop() if len(values) == 1 else ""
        backends = {r["prefill_fp4_gemm_backend"] for r in named}  # blank: the recipe sets none (SGLang's auto)
        e["prefill_fp4_gemm_backend"] = ",".join(sorted(backends))  # where they differ, each (never blank)
    return table


def apply_sglang_prefill_budgets(out: dict[str, str], found: list[dict[str, str]]) -> None:
    """An InferenceX SGLang row's prefill --max-prefill-tokens and --chunked-prefill-size as every recipe of the
    entries it matches sets them (one deployment or several), e.g. 2,048 and 2,048 in every H100 recipe
    (NVIDIA/srt-slurm recipes/h100/*/*/h100-fp8-*.yaml), where the simulator otherwise takes the B200 recipes' 32,768
    (parity.predict.simulated.INFERENCEX_SGLANG_PREFILL_TOKENS)."""
    said = []
    for key, column in SGLANG_PREFILL_BUDGETS.items():
        values = {e.get(key, "") for e in found}
        if len(values) == 1 and (value := values.pop()):
            out[column] = value
            said.append(f"{column.replace('_', '-')} {value}")
    if said:
        out["note"] = "; ".join(filter(None, [out["note"], "prefill " + ", ".join(said) + " as the recipes set them"]))


def recipe_prefill_ep(found: list[dict[str, str]]) -> str:
    """The prefill `moe_expert_parallel_size` of the recipes every matching entry names, where they agree (blank
    otherwise). It is what the engine ran: the B200 FP8 TensorRT-LLM 8k/1k recipes run the prefill experts in
    tensor parallelism (`moe_expert_parallel_size: 1`) where InferenceX's configuration says ep 8."""
    eps = {x.get("prefill_moe_ep", "") for x in found}
    return eps.pop() if len(eps) == 1 else ""


def apply_recipe_prefill_ep(out: dict[str, str], found: list[dict[str, str]]) -> None:
    """Spread a row's prefill experts as the recipes it matches set them (recipe_prefill_ep), over the worker's
    GPUs (tp x attention DP), saying so where that changes the row's layout."""
    ep = recipe_prefill_ep(found)
    gpus = int(out["prefill_tp"] or 1) * int(out["prefill_attn_dp"] or 1)
    if not ep or gpus % int(ep) or ep == (out["prefill_moe_ep"] or "1"):
        return
    said = (f"prefill experts in moe_tp {gpus // int(ep)} x moe_ep {ep} as the recipe sets them "
            f"(moe_expert_parallel_size {ep}; the layout said moe_ep {out['prefill_moe_ep'] or '1'})")
    out["prefill_moe_tp"], out["prefill_moe_ep"] = str(gpus // int(ep)), ep
    out["note"] = "; ".join(filter(None, [out["note"], said]))


def apply_recipe_alltoall(out: dict[str, str], found: list[dict[str, str]]) -> None:
    """Mark a row whose matching recipes all force DeepEP's normal (high-throughput) all-to-all kernels on the
    decode workers (`TRTLLM_FORCE_ALLTOALL_METHOD: DeepEP` in decode_environment, inferencex_recipes.csv
    decode_alltoall_method: every H100 DEP 16 recipe), where parity would price the low-latency ones."""
    if found and {x.get("decode_alltoall_method", "") for x in found} == {"DeepEP"}:
        out["normal_all_to_all"] = "true"
        out["note"] = "; ".join(filter(None, [out["note"], "decode experts' all-to-all on DeepEP's normal kernels "
                                              "as the recipe forces (TRTLLM_FORCE_ALLTOALL_METHOD: DeepEP)"]))


# what a disaggregated row's note says where the import set its prefill batch to 1 (removed where a recipe gives it)
PREFILL_BATCH_INFERRED = "prefill batch 1 inferred (as every row that gives it)"


def worker_layout(prefix: str, tp: str, ep: str, dp_attn: str) -> dict[str, str]:
    """parity's layout cells for an InferenceX worker: attention DP over the worker's GPUs when
    dp-attn is set (else tensor parallel), experts spread ep ways and split tp/ep ways."""
    gpus, experts = int(tp), int(ep)
    dp = dp_attn == "true"
    return {prefix + "tp": "1" if dp else tp, prefix + "pp": "1", prefix + "attn_dp": tp if dp else "1",
            prefix + "moe_tp": str(gpus // experts), prefix + "moe_ep": ep}


def inferencex_match(row: dict[str, str], out: dict[str, str], table: list[dict[str, str]],
                     compare_ep: bool = True) -> list[dict[str, str]]:
    """The InferenceX search-space entries a disaggregated sweep row can have run: same chip,
    framework, precision and image, lengths, a concurrency the entry lists, and the prefill
    tp / expert parallelism and decode tp the row gives (the source copies the prefill expert
    parallelism into the decode cell, so the decode one is not compared; compare_ep False: the
    prefill one is not compared either, see apply_inferencex)."""
    image = re.search(r"image=([^;]+)", row["silicon_data_source"])
    if not image:
        return []
    image_name = image.group(1).strip().rsplit("/", 1)[-1]
    chip = row["system"].split("_")[0]
    framework = {"trtllm": "trt", "sglang": "sglang"}.get(row["backend"], row["backend"])
    return [e for e in table
            if e["config_key"].startswith(f"dsr1-{row['precision']}-{chip}-dynamo-{framework}")
            and e["image"] == image_name and e["isl"] == out["isl"] and e["osl"] == out["osl"]
            and out["concurrency"] in e["concurrencies"].split()
            and e["prefill_tp"] == out["prefill_tp"]
            and (not compare_ep or e["prefill_ep"] == (out["prefill_moe_ep"] or "1"))
            and e["decode_tp"] == out["decode_tp"]]


def database_match(row: dict[str, str], out: dict[str, str], table: list[dict[str, str]]) -> list[dict[str, str]]:
    """The InferenceX TensorRT-LLM or SGLang entries a disaggregated row of aiconfigurator's results database
    (db-dump, which gives worker counts and attention DP) can have run: same chip, framework, precision, image (the
    source's last field), lengths, a concurrency the entry lists, worker counts, GPUs per worker, expert parallelism
    and attention DP on or off, prefill and decode. SGLang entries carry no recipe limits (recipe_limits: blanks)."""
    framework = {"trtllm": "trt", "sglang": "sglang"}.get(row["backend"])
    if framework is None:
        return []
    image_name = row["silicon_data_source"].rsplit(";", 1)[-1].strip().rsplit("/", 1)[-1]
    chip = row["system"].split("_")[0]

    def cells(prefix: str) -> tuple[str, str, str, str]:
        tp, dp = int(out[prefix + "tp"] or 1), int(out[prefix + "attn_dp"] or 1)
        return out[prefix + "workers"], str(tp * dp), out[prefix + "moe_ep"] or "1", "true" if dp > 1 else "false"

    want = cells("prefill_") + cells("decode_")
    shape = ("prefill_workers", "prefill_tp", "prefill_ep", "prefill_dp_attn", "decode_workers", "decode_tp",
             "decode_ep", "decode_dp_attn")
    return [e for e in table
            if e["config_key"].startswith(f"dsr1-{row['precision']}-{chip}-dynamo-{framework}")
            and e["image"] == image_name
            and e["isl"] == out["isl"] and e["osl"] == out["osl"] and out["concurrency"] in e["concurrencies"].split()
            and tuple(e[k] for k in shape) == want]


def recipe_limits(found: list[dict[str, str]]) -> tuple[str, str, str]:
    """(prefill max_batch_size, prefill max_num_tokens, decode max_batch_size) of the recipes every matching
    entry names, where they agree; blanks otherwise (no recipe kept, or recipes that differ)."""
    keys = ("prefill_max_batch_size", "prefill_max_num_tokens", "decode_max_batch_size")
    limits = {tuple(x.get(k, "") for k in keys) for x in found}
    return limits.pop() if len(limits) == 1 else ("", "", "")


def apply_database_batch(row: dict[str, str], out: dict[str, str], table: list[dict[str, str]]) -> None:
    """A database row's decode batch is its concurrency over decode workers x attention DP (DATABASE_DECODE_BATCH),
    not the engine's limit: it becomes the decode max_batch_size of the TensorRT-LLM recipe the row ran (with the
    recipe's prefill batch and token budget) where every matching InferenceX entry's recipe agrees, else blank
    (the engine's own limit)."""
    derived = str(int(out["decode_batch"] or 0) * int(out["decode_workers"] or 1) * int(out["decode_attn_dp"] or 1))
    if derived != out["concurrency"]:
        return
    found = database_match(row, out, table)
    prefill_batch, budget, decode_batch = recipe_limits(found)
    said = f"decode batch {out['decode_batch']} in the source is concurrency / (workers x attention DP)"
    out["decode_batch"] = decode_batch
    if decode_batch:
        out["prefill_batch"], out["max_num_tokens"] = prefill_batch, budget
        apply_recipe_prefill_ep(out, found)
        apply_recipe_alltoall(out, found)
        out["note"] = out["note"].replace(PREFILL_BATCH_INFERRED, "").strip("; ")
        said += (f"; engine limits from InferenceX's recipe {'; '.join(sorted({x['recipe'] for x in found}))} "
                 f"(prefill batch {prefill_batch}, {budget} tokens; decode batch {decode_batch} per rank)")
    else:
        said += "; left to the engine's limit"
    out["note"] = "; ".join(filter(None, [out["note"], said]))


def agreed_layout(found: list[dict[str, str]], side: str) -> tuple[str, str, str] | None:
    """(tp, expert parallelism, dp-attn) of one side's workers where every matching entry runs them alike, else None."""
    shapes = {(e[f"{side}_tp"], e[f"{side}_ep"], e[f"{side}_dp_attn"]) for e in found}
    return shapes.pop() if len(shapes) == 1 else None


def layout_words(side: str, tp: str, ep: str, dp_attn: str) -> str:
    return f"{side} attention {'DP' if dp_attn == 'true' else 'TP'} {tp} with expert parallelism {ep}"


def take_agreed_workers(out: dict[str, str], found: list[dict[str, str]], side: str, said: list[str]) -> None:
    """The side's worker count where every matching entry agrees on it (said names it)."""
    workers = {e[f"{side}_workers"] for e in found}
    if len(workers) == 1:
        out[f"{side}_workers"] = workers.pop()
        said.append(f"{out[f'{side}_workers']} {side} worker(s)")


def note_agreed(out: dict[str, str], said: list[str], tail: str = "") -> None:
    """Close the row's note on what every deployment agrees on, and on the worker counts still left to parity."""
    out["note"] = out["note"].removesuffix("; worker counts left to parity")
    out["note"] += "; every deployment agrees on " + ", ".join(said) + tail
    left = [side for side in ("prefill", "decode") if not out[f"{side}_workers"]]
    if left:
        out["note"] += f"; {' and '.join(left)} worker count{'s' if len(left) > 1 else ''} left to parity"


def apply_agreed_sides(out: dict[str, str], found: list[dict[str, str]]) -> None:
    """Where an SGLang row's matching entries name several deployments, take each side's worker layout (tp,
    expert parallelism, attention DP) and each side's worker count that every one of them agrees on, the rest left
    to parity: the source writes attention DP 1 for every worker (apply_inferencex), so e.g. the B200 FP8 1k/1k
    runs at 512-4,096 clients, every candidate of which (`max-tpt-dep8-{1p5d,2p5d,1p2d}`) runs attention DP 8 on
    both sides, were priced as attention TP 8. Not TensorRT-LLM rows: their candidates also differ in the recipes'
    per-rank batch limits, which the import takes only where every recipe agrees (apply_agreed_limits), and a worker
    count without its limit misstates the capacity (H100 1k/1k at 462 clients: 3 decode workers of 8 DEP-16 or
    128 TEP-16 sequences a rank, both 384 slots, where parity's own sizing stands in for the queue)."""
    said: list[str] = []
    for side in ("prefill", "decode"):
        shape = agreed_layout(found, side)
        if shape:
            cells = worker_layout(f"{side}_", *shape)
            if any((out[k] or "1") != v for k, v in cells.items()):
                said.append(layout_words(side, *shape))
            out |= cells
        take_agreed_workers(out, found, side, said)
    if said:
        note_agreed(out, said)


def apply_agreed_limits(out: dict[str, str], found: list[dict[str, str]]) -> None:
    """Where a TensorRT-LLM row's matching entries name several deployments, take each side whose workers every one
    of them runs alike: the worker layout (tp, expert parallelism, attention DP) with the recipes' per-rank limits
    of that side (prefill: max_batch_size and max_num_tokens, decode: max_batch_size; recipe_limits), and the worker
    count where every entry agrees on it too. A side whose candidates differ in layout or limits stays as the
    source gives it (a worker count without its limit misstates the capacity: apply_agreed_sides). The source writes
    attention DP 1 for every worker (apply_inferencex), so e.g. the B300 FP8 runs at 256-3,072 clients, whose every
    candidate prefills on attention DP 4 with experts in tensor parallelism (tp 4, ep 1, max_batch_size 8,
    max_num_tokens 8,320: NVIDIA/srt-slurm recipes/trtllm/b300-fp8/*), were priced as attention TP 4 with one
    prompt a step."""
    said: list[str] = []
    for side, keys in (("prefill", ("prefill_max_batch_size", "prefill_max_num_tokens")),
                       ("decode", ("decode_max_batch_size",))):
        shape = agreed_layout(found, side)
        limits = {tuple(e.get(k, "") for k in keys) for e in found}
        if shape is None or len(limits) != 1 or "" in next(iter(limits)):
            continue
        out |= worker_layout(f"{side}_", *shape)
        limit = limits.pop()
        if side == "prefill":
            out["prefill_batch"], out["max_num_tokens"] = limit
            said.append(f"{layout_words(side, *shape)}, {limit[0]} prompts and {limit[1]} tokens a rank")
        else:
            out["decode_batch"] = limit[0]
            said.append(f"{layout_words(side, *shape)}, {limit[0]} sequences a rank")
        take_agreed_workers(out, found, side, said)
    if said:
        out["note"] = out["note"].replace(PREFILL_BATCH_INFERRED, "").strip("; ")
        note_agreed(out, said, " (the recipes' limits)")


def apply_inferencex(row: dict[str, str], out: dict[str, str], table: list[dict[str, str]]) -> None:
    """Fill worker counts, attention DP and decoding mode from the benchmark's own configuration
    where every matching entry agrees; record the speculative-decoding setting for main() (also where the
    matching entries name several deployments but one MTP depth).

    A row whose expert parallelism matches no entry is matched again without it: the source's layout cells of
    these sweeps are lossy (it copies the prefill expert parallelism into the decode cell and writes attention
    DP 1 for every worker; its B200 TensorRT-LLM 8k/1k rows say expert parallelism 1 on both sides where every
    entry at their concurrency says 8 on the prefill side, where its recipe runs 1: apply_recipe_prefill_ep),
    while the tensor-parallel cells and the concurrency, by which InferenceX names its TensorRT-LLM recipes
    (`ctx1_gen6_tp8_batch8_eplb0_mtp3_48`), agree; the deployment is taken only where that match is unique. The 5
    rows it reaches repeat runs of a sweep that says EP 8 and matches the same recipes strictly: identical inputs,
    measurements within 2.5%."""
    found = inferencex_match(row, out, table)
    shape = ("prefill_workers", "prefill_tp", "prefill_ep", "prefill_dp_attn", "decode_workers", "decode_tp",
             "decode_ep", "decode_dp_attn")
    layouts = {tuple(e[k] for k in shape) for e in found}
    said = ""
    if not found:
        found = inferencex_match(row, out, table, compare_ep=False)
        layouts = {tuple(e[k] for k in shape) for e in found}
        if len(layouts) != 1:
            return  # none, or several: worker counts left to parity as before
        said = (f"; the source's expert parallelism ({out['prefill_moe_ep'] or '1'}) matches no InferenceX entry, "
                "matched on tensor parallelism and concurrency")
    if len(layouts) != 1:
        if len(layouts) > 1:
            out["note"] = "; ".join(filter(None, [out["note"], f"InferenceX lists {len(layouts)} deployments "
                                                  "for this run; worker counts left to parity"]))
            specs = {x["spec_decoding"] for x in found}
            if len(specs) == 1 and specs != {"none"}:  # every deployment decodes with one MTP depth: it holds
                out["_spec"] = specs.pop()
            if row["backend"] == "sglang":  # see apply_agreed_sides for why not TensorRT-LLM
                apply_agreed_sides(out, found)
                apply_sglang_prefill_budgets(out, found)
            else:
                apply_agreed_limits(out, found)
            apply_recipe_prefill_ep(out, found)  # as the MTP depth: where every deployment's recipe agrees
            apply_recipe_alltoall(out, found)
            apply_prefill_fp4_gemm(out, found)
        return
    e = found[0]
    out |= worker_layout("prefill_", e["prefill_tp"], e["prefill_ep"], e["prefill_dp_attn"])
    out |= worker_layout("decode_", e["decode_tp"], e["decode_ep"], e["decode_dp_attn"])
    out["prefill_workers"], out["decode_workers"] = e["prefill_workers"], e["decode_workers"]
    out["note"] = out["note"].replace(PREFILL_BATCH_INFERRED, "").strip("; ")
    prefill_batch, budget, decode_batch = recipe_limits(found)
    # the recipe's per-rank limits; without a recipe the prefill batch is left to the step budget
    out["prefill_batch"], out["max_num_tokens"], out["decode_batch"] = prefill_batch, budget, decode_batch
    specs = {x["spec_decoding"] for x in found}
    out["_spec"] = specs.pop() if len(specs) == 1 else "either"
    copied = sorted({x["copied_from"] for x in found if x.get("copied_from")})
    out["note"] = "; ".join(filter(None, [out["note"], "workers and layout from InferenceX "
                                          f"{e['config_key']} ({'; '.join(sorted({x['recipe'] for x in found}))})"
                                          + said, *copied]))
    if row["backend"] == "sglang":
        apply_sglang_prefill_budgets(out, found)
    apply_recipe_prefill_ep(out, found)
    apply_recipe_alltoall(out, found)
    apply_prefill_fp4_gemm(out, found)


# A closed-loop run's TTFT and TPOT depend on its client count, and 15 rows of the source (Qwen3 4,000/1,000 on H100)
# record none (no silicon_concurrency): the importer writes the largest batch the deployment holds (batch x attention
# DP, or decode batch x workers x attention DP), an upper bound, not the run's. At that bound some rows cannot have
# run as measured: Qwen3-32B FP8 at 448 clients on two TP4 decode workers reads 8 GB of weights and at least
# 224 x 4,500 x 131 kB / 4 = 33 GB of an FP8 KV cache per GPU a step, >= 12.2 ms at the H100's 3.35 TB/s, against
# 8.7 ms measured. Their split is `reference` (as for training runs): listed, never fitted or scored.
UNRECORDED_CONCURRENCY = "concurrency not recorded"


def convert(row: dict[str, str], table: list[dict[str, str]]) -> dict[str, str]:
    source = row["silicon_data_source"]
    match = re.search(r"silicon_concurrency=(\d+)", source)
    note = ""
    if match:
        concurrency = match.group(1)
    elif row["mode"] == "agg":
        concurrency = str(int(row["batch_size"]) * int(row["attention_dp_size"] or 1))
        note = f"{UNRECORDED_CONCURRENCY}: at most batch x attention DP, the column; a reference row"
    else:
        concurrency = str(int(row["decode_batch_size"]) * int(row["decode_num_workers"] or 1)
                          * int(row["decode_attention_dp_size"] or 1))
        note = (f"{UNRECORDED_CONCURRENCY}: at most decode batch x workers x attention DP, the column; "
                "a reference row")
    measured = re.search(r"measured=([0-9-]+)", source)
    inferencex = bool(INFERENCEX_SOURCE.match(source))  # its harness and scripts: lengths, waits, intervals
    out = {
        "case_id": row["id"], "model": MODELS[row["model_path"]], "system": SYSTEMS[row["system"]],
        "engine": row["backend"], "engine_version": row["backend_version"],
        "weights": row["gemm_quant_mode"] or "bf16", "moe_weights": row["moe_quant_mode"] or "bf16", "kv": "",
        "mode": row["mode"], "isl": row["isl"], "osl": row["osl"], "concurrency": concurrency,
        "measured_ttft_s": f"{float(row['silicon_ttft_ms']) / 1e3:.6g}",
        "measured_tpot_s": f"{float(row['silicon_tpot_ms']) / 1e3:.6g}",
        "measured_on": measured.group(1) if measured else "", "note": note,
        "random_range_ratio": INFERENCEX_RANGE_RATIO if inferencex else "",
    }
    labelled = out["weights"]
    if out["model"] == "gpt-oss-120b" and (labelled, out["moe_weights"]) in GPT_OSS_LABELS:
        out["weights"], out["moe_weights"] = "bf16", GPT_OSS_EXPERTS[out["system"]]
        version = tuple(int(v) for v in re.findall(r"\d+", out["engine_version"])[:2])
        if inferencex and out["system"] == "hgx-h100" and out["engine"] == "vllm" and version >= GPT_OSS_MARLIN_SINCE:
            out["moe_weights"] = "w4a16_mxfp4_marlin"
        said = f"formats as engines run gpt-oss (the source says {labelled}): attention bf16, experts {out['moe_weights']}"
        out["note"] = "; ".join(filter(None, [out["note"], said]))
    if row["mode"] == "agg":
        agg = layout(row, "")
        out |= {k: v for k, v in agg.items() if k != "batch"}
        k, ep = int(out["moe_tp"] or 1), int(out["moe_ep"] or 1)
        tp, dp = int(out["tp"] or 1), int(out["attn_dp"] or 1)
        if k > 1 and k == ep and tp * dp == k * k:
            if tp >= k:
                out["tp"] = str(tp // k)
            else:
                out["attn_dp"] = str(dp // k)
            out["moe_tp"] = "1"
            out["note"] = "; ".join(filter(None, [out["note"], f"layout normalised from tp {tp}, attention DP {dp}, "
                                                  f"moe {k} x {ep} (duplicate of the {k}-GPU run)"]))
    else:
        out |= layout(row, "prefill_") | layout(row, "decode_")
        if not out["prefill_batch"]:
            out["prefill_batch"] = "1"
            out["note"] = "; ".join(filter(None, [out["note"], PREFILL_BATCH_INFERRED]))
    if (inferencex and out["model"] == "llama-3.1-70b" and out["system"] == "hgx-b200"
            and out["engine"] == "trtllm" and out["mode"] == "agg"):
        if (out["isl"], out["osl"]) == ("1024", "1024") and int(out["tp"] or 1) < 8:
            out |= LLAMA70B_TRT_BATCH_WAIT
            out["note"] = "; ".join(filter(None, [out["note"], "batch waiting as InferenceX's script configures it "
                                                  "(20 steps, 0.9 of the step budget)"]))
    if (inferencex and out["model"] == "deepseek-v3" and out["weights"] == "fp8" and out["system"] == "hgx-b200"
            and out["engine"] == "trtllm" and out["mode"] == "agg" and int(out["concurrency"]) >= 64
            and out["engine_version"] in DSR1_FP8_TRT_BATCH_WAIT_VERSIONS
            and (out["isl"], out["osl"]) == ("1024", "1024")):
        out |= DSR1_FP8_TRT_BATCH_WAIT
        out["note"] = "; ".join(filter(None, [out["note"], "batch waiting as InferenceX's script configures it "
                                              "(40 steps, 0.8 of the step budget)"]))
    if (inferencex and out["model"] == "llama-3.1-70b" and out["system"] == "hgx-b200"
            and out["engine"] == "vllm" and out["mode"] == "agg"):
        out["eager_prefill"] = "1"  # cudagraph_mode FULL_DECODE_ONLY (see sglang_recv_interval's comment block)
    if inferencex:
        apply_vllm_llama70b_image(out)
        apply_vllm_fp8_kv(out)
    if inferencex and out["engine"] == "sglang" and out["mode"] == "agg":
        out["scheduler_recv_interval"] = sglang_recv_interval(out["weights"], out["tp"], out["concurrency"])
        if out["model"].startswith("deepseek") and out["weights"] == "fp8":
            out["fp8_gemm"] = SGLANG_DEEPSEEK_FP8_GEMM
        if (out["model"].startswith("deepseek") and out["engine_version"] in SGLANG_TRANSFORMERS_V5
                and out["measured_on"] < CLIENT_TOKENIZER_FIXED_ON):
            nominal, out["isl"], out["kv"] = out["isl"], server_prompt_length(out["isl"]), "fp8"
            said = (f"isl is the server's prompt length, {SERVER_TOKENS_PER_CLIENT_TOKEN:.3f} x the nominal {nominal}: "
                    f"the client's tokenizer (transformers {SGLANG_TRANSFORMERS_V5[out['engine_version']]}) "
                    "inflated its prompts (InferenceX#937, #1381); KV cache fp8 as the script sets it")
            out["note"] = "; ".join(filter(None, [out["note"], said]))
        if out["model"].startswith("deepseek") and not out["kv"]:
            out["kv"] = SGLANG_DEEPSEEK_KV
            out["note"] = "; ".join(filter(None, [out["note"], "KV cache fp8 as the script sets it "
                                                  "(--kv-cache-dtype fp8_e4m3)"]))
    if (inferencex and out["engine"] == "sglang" and out["mode"] == "disagg" and out["system"] == "hgx-b200"
            and out["model"].startswith("deepseek") and out["weights"] == "fp8"
            and (out["isl"] == "1024" or "" < out["measured_on"] < SGLANG_B200_FP8_DEEPGEMM_8K_SINCE)):
        out["fp8_gemm"] = SGLANG_DEEPSEEK_FP8_GEMM  # their recipes disable DeepGEMM
    if (inferencex and out["engine"] == "sglang" and out["mode"] == "disagg" and out["system"] == "hgx-b200"
            and out["model"].startswith("deepseek") and not out["kv"]):
        out["kv"] = SGLANG_DEEPSEEK_KV
        out["note"] = "; ".join(filter(None, [out["note"], "KV cache fp8 as every B200 SGLang recipe of srt-slurm sets "
                                              "it (kv-cache-dtype fp8_e4m3)"]))
    out["_inferencex"] = "1" if inferencex else ""  # main() sets the moe_backend columns once MTP is known
    family = {"deepseek-v3": "deepseek-r1"}.get(out["model"], out["model"])
    group = family + "|" + "|".join(out.get(k, "") for k in ("system", "engine", "mode", "isl", "osl", "tp", "attn_dp",
                                              "moe_tp", "moe_ep", "prefill_tp", "prefill_attn_dp", "decode_tp",
                                              "decode_attn_dp", "weights"))
    share = int(hashlib.sha256(group.encode()).hexdigest()[:8], 16) / 16**8
    if out["system"] in UNSEEN_SYSTEMS or out["model"] in UNSEEN_MODELS:
        out["split"] = "unseen"
    else:
        out["split"] = "calibration" if share < CALIBRATION_SHARE else "holdout"
    if note.startswith(UNRECORDED_CONCURRENCY):
        out["split"] = "reference"  # listed, never fitted or scored: see UNRECORDED_CONCURRENCY
    if inferencex:
        apply_sglang_b200_image(out)  # after the split: the split stays that of the source's layout
        apply_inferencex_client(out)
    if out["mode"] == "disagg" and not out["decode_workers"] and out["model"] == "deepseek-r1":
        apply_inferencex(row, out, table)  # after the split: the split stays that of the source's layout
    if out["mode"] == "disagg" and DATABASE_SOURCE.match(source):
        apply_database_batch(row, out, table)
        apply_prefill_fp4_gemm(out, database_match(row, out, table))
    return out


def main(path: str) -> None:
    with open(path, newline="") as handle:
        table = inferencex_layouts()
        converted = [convert(r, table) for r in csv.DictReader(handle)]
    seen, rows = set(), []
    for row in converted:
        key = tuple({"deepseek-v3": "deepseek-r1"}.get(v, v) if k == "model" else v for k, v in row.items()
                    if k not in ("case_id", "note", "split", "measured_on", "engine_version", "_inferencex"))
        if key not in seen:
            seen.add(key)
            rows.append(row)
    run = ("engine", "system", "mode", "isl", "osl", "concurrency", "measured_ttft_s", "measured_tpot_s")
    v3_runs = {tuple(r[k] for k in run) for r in rows if r["model"] == "deepseek-v3"}
    rows = [r for r in rows if not (r["model"] == "deepseek-r1" and tuple(r[k] for k in run) in v3_runs)]
    for row in rows:
        spec = row.get("_spec", "either")
        if spec == "none":
            continue
        if spec.startswith("mtp") and spec[3:]:
            tokens, accepted = int(spec[3:]), MTP_ACCEPTANCE[int(spec[3:])]
            row["mtp_tokens"], row["mtp_acceptance"] = str(tokens), str(accepted)
            row["note"] += (f"; decoded with MTP-{tokens} as configured ({accepted} accepted per step, "
                            "NVIDIA's figure)")
        elif row["model"] == "deepseek-r1" and row["system"] in HIDDEN_MTP_SYSTEMS and row["engine"] in HIDDEN_MTP:
            tokens, accepted = HIDDEN_MTP[row["engine"]]
            if row["engine"] == "trtllm" and row["mode"] == "agg" and int(row["attn_dp"] or 1) > 1:
                tokens, accepted = 1, MTP_ACCEPTANCE[1]  # InferenceX's MTP scripts: one draft token under attention DP
            row["mtp_tokens"], row["mtp_acceptance"] = str(tokens), str(accepted)
            row["note"] = "; ".join(filter(None, [row["note"], f"decoded with MTP inferred ({tokens} draft tokens, "
                                                  f"{accepted} accepted per step; see the script)"]))
            if (row["engine"] == "trtllm" and row["mode"] == "agg" and int(row["attn_dp"] or 1) == 1
                    and row["random_range_ratio"] == INFERENCEX_RANGE_RATIO
                    and row["measured_on"] >= TRT_MTP_SCRIPTS_SINCE):
                budget = trt_mtp_budget(tokens, int(row["concurrency"]), int(row["isl"]))
                row["max_num_tokens"] = str(budget)
                row["note"] += f"; step budget {budget} tokens as InferenceX's MTP script sizes it"
    for row in rows:
        if row["_inferencex"]:
            row |= trt_dsr1_fp8_moe_backends(row)
    writer = csv.DictWriter(sys.stdout, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)


if __name__ == "__main__":
    main(sys.argv[1])
