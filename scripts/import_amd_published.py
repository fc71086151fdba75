"""Convert the published AMD Instinct figures of parity's reference set into measurement rows.

Usage: python scripts/import_amd_published.py AMD_PUBLISHED.csv

AMD_PUBLISHED.csv is the reference set's amd_published.csv: 55 published MI300X / MI325X / MI355X serving,
training and kernel figures, each with its setup and source, 17 with an NVIDIA figure from the same
source and setup. This script runs once, by hand; parity never reads the source at run time. Each row is
typed once here: it becomes a serving row of serving_published.csv (with its NVIDIA twin where the
source ran the same setup on NVIDIA), a kernel figure of kernels_published.csv, or it is refused with the
reason printed (and kept in REFUSED below). It also types the October 2025 figures of AMD's ROCm performance
page (PAGE_2510, found with the search tools; not in the reference set). It rewrites the AMD rows of both
files and leaves others alone.

Conventions (each stated in the rows' `unstated` cell where the source does not say):
- "offline total tokens/s" (vLLM benchmark_throughput: total = prompt + output tokens over the run) is
  turned into output tokens/s by osl / (isl + osl). AMD's ROCm tables (ROCm/vllm dev-docker README, AMD's
  performance page) print "Throughput (tokens/s)" without saying which, and are read as output tokens/s
  ("table"): read as totals, their 2048/2048 runs would put out less at 1,500 sequences (70B: 7,560.9 / 2 =
  3,780 tokens/s) or 500 (405B: 2,174.1 / 2 = 1,087) than the same page's latency runs at batch 128 (70B:
  128 x 2,048 / 52.394 s = 5,003; 405B: 128 x 2,048 / 125.471 s = 2,089), with room for every sequence's KV.
- an end-to-end batch latency L of `osl` output tokens at batch B is read as B clients each decoding at
  osl / L tokens/s (the prompt's prefill inside L, under 3% at batch 1 and 128 input tokens).
- an offline run of N prompts is a closed loop of N clients (every request queued at once), marked
  `offline`: the N sequences start together with equal lengths and grow in step, so each holds its whole
  isl + osl of KV at the end (ENGINE below); the source's own engine flags go in ENGINE too.
- the split halves each source's rows by a hash of the AMD id, so a row and its NVIDIA twin share it.
"""

from __future__ import annotations

import csv
import hashlib
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "src" / "parity" / "data" / "measurements"

SOURCES = {  # AMD id prefix ranges -> (source id, vendor-neutral short title, URL)
    "rocm-vllm-2511": ("ROCm/vllm docs/dev-docker/README.md (ROCm 7.0.0, vLLM 0.11.1 RC; docker 2025-11-03)",
                       "https://github.com/ROCm/vllm/blob/main/docs/dev-docker/README.md"),
    "rocm-vllm-2501": ("ROCm/vllm docs/dev-docker/README.md, Jan-2025 revision (ROCm 6.3.1, vLLM 0.6.6)",
                       "https://github.com/ROCm/vllm/blob/main/docs/dev-docker/README.md"),
    "amd-rocm-perf-2506": ("AMD 'Performance results with AMD ROCm software' (rocm6.4.1_vllm_0.9.0.1_20250605)",
                           "https://www.amd.com/en/developer/resources/rocm-hub/dev-ai/performance-results.html"),
    "dstack-h100-mi300x": ("dstack 'Exploring inference memory saturation effect: H100 vs MI300x' (raw CSVs)",
                           "https://dstack.ai/blog/h100-mi300x-inference-benchmark"),
    "dstack-r1-h200-mi300x": ("dstack 'DeepSeek R1 inference performance: MI300X vs. H200' (raw CSVs)",
                              "https://dstack.ai/blog/h200-mi300x-deepskeek-benchmark"),
    "oci-405b-mi300x": ("Oracle Cloud Infrastructure blog 'Serving Llama 3.1 405B model with AMD MI300X GPUs'",
                        "https://blogs.oracle.com/cloud-infrastructure/serving-llama-31-405b-model-with-amd-mi300x-gpus"),
    "azure-nd-mi300x": ("Azure AI-benchmarking-guide, ND MI300X v5 results (fork copy) and ND H200 v5 results",
                        "https://github.com/Azure/AI-benchmarking-guide"),
    "amd-rocm-perf-2510": ("AMD 'Performance results with AMD ROCm software', vLLM section (docker "
                           "rocm/vllm:rocm7.0.0_vllm_0.10.2_20251006; 8x MI300X 750 W, 2x EPYC 9554)",
                           "https://www.amd.com/zh-cn/developer/resources/rocm-hub/dev-ai/performance-results.html"),
}

# figures of AMD's performance page (October 2025 version) beyond the reference set, typed like SERVING:
# id -> (model, isl, osl, concurrency, metric, conversion, value as printed)
PAGE_2510 = {
    "AMDP-2510-01": ("llama-3.1-70b", 128, 2048, 3200, "worker", "table", 13212.5),
    "AMDP-2510-02": ("llama-3.1-70b", 128, 4096, 1500, "worker", "table", 11312.8),
    "AMDP-2510-03": ("llama-3.1-70b", 500, 2000, 2000, "worker", "table", 11376.7),
    "AMDP-2510-04": ("llama-3.1-70b", 2048, 2048, 1500, "worker", "table", 7252.1),
    "AMDP-2510-05": ("llama-3.1-405b", 128, 2048, 1500, "worker", "table", 4201.7),
    "AMDP-2510-06": ("llama-3.1-405b", 128, 4096, 1500, "worker", "table", 3176.3),
    "AMDP-2510-07": ("llama-3.1-405b", 500, 2000, 2000, "worker", "table", 2992.0),
    "AMDP-2510-08": ("llama-3.1-405b", 2048, 2048, 500, "worker", "table", 2153.7),
    "AMDP-2510-09": ("llama-3.1-70b", 128, 2048, 1, "user", "latency", 15.882),
    "AMDP-2510-10": ("llama-3.1-70b", 128, 2048, 2, "user", "latency", 17.934),
    "AMDP-2510-11": ("llama-3.1-70b", 128, 2048, 4, "user", "latency", 18.487),
}

# AMD id -> (source id, model, engine, weights, kv, concurrency, metric, conversion, NVIDIA twin system)
# conversion: "total" (offline total tokens/s), "output" (output tokens/s as stated), "table" (AMD's table
# throughput, read as output tokens/s: module docstring), "latency" (batch
# latency L in s of osl tokens -> osl / L per client), "tpot_ms" (mean TPOT in ms -> 1000 / TPOT per client)
SERVING = {
    "AMD-001": ("rocm-vllm-2511", "llama-3.1-70b", "vllm", "fp8", "fp8", 3200, "worker", "table", ""),
    "AMD-002": ("rocm-vllm-2511", "llama-3.1-70b", "vllm", "fp8", "fp8", 1500, "worker", "table", ""),
    "AMD-003": ("rocm-vllm-2511", "llama-3.1-405b", "vllm", "fp8", "fp8", 1500, "worker", "table", ""),
    "AMD-004": ("rocm-vllm-2511", "llama-3.1-405b", "vllm", "fp8", "fp8", 500, "worker", "table", ""),
    "AMD-005": ("rocm-vllm-2511", "llama-3.1-70b", "vllm", "fp8", "fp8", 1, "user", "latency", ""),
    "AMD-006": ("rocm-vllm-2511", "llama-3.1-70b", "vllm", "fp8", "fp8", 128, "user", "latency", ""),
    "AMD-007": ("rocm-vllm-2511", "llama-3.1-405b", "vllm", "fp8", "fp8", 1, "user", "latency", ""),
    "AMD-008": ("rocm-vllm-2511", "llama-3.1-405b", "vllm", "fp8", "fp8", 128, "user", "latency", ""),
    "AMD-009": ("rocm-vllm-2501", "llama-3.1-70b", "vllm", "fp8", "fp8", 3200, "worker", "table", ""),
    "AMD-010": ("rocm-vllm-2501", "llama-3.1-405b", "vllm", "fp8", "fp8", 1500, "worker", "table", ""),
    "AMD-011": ("rocm-vllm-2501", "llama-3.1-70b", "vllm", "fp8", "fp8", 1, "user", "latency_ms", ""),
    "AMD-012": ("amd-rocm-perf-2506", "llama-3.1-70b", "vllm", "fp8", "fp8", 3200, "worker", "table", ""),
    "AMD-013": ("amd-rocm-perf-2506", "llama-3.1-405b", "vllm", "fp8", "fp8", 1500, "worker", "table", ""),
    "AMD-014": ("dstack-h100-mi300x", "llama-3.1-405b", "vllm", "fp8", "", 256, "worker", "total", "hgx-h100"),
    "AMD-015": ("dstack-h100-mi300x", "llama-3.1-405b", "vllm", "fp8", "", 256, "worker", "total", "hgx-h100"),
    "AMD-016": ("dstack-h100-mi300x", "llama-3.1-405b", "vllm", "fp8", "", 4, "worker", "total", "hgx-h100"),
    "AMD-017": ("dstack-h100-mi300x", "llama-3.1-405b", "vllm", "fp8", "fp8", 64, "worker", "total", ""),
    "AMD-020": ("dstack-r1-h200-mi300x", "deepseek-r1", "sglang", "fp8_block", "", 4, "worker", "output", "hgx-h200"),
    "AMD-021": ("dstack-r1-h200-mi300x", "deepseek-r1", "sglang", "fp8_block", "", 4, "user", "tpot_ms", "hgx-h200"),
    "AMD-022": ("dstack-r1-h200-mi300x", "deepseek-r1", "sglang", "fp8_block", "", 128, "worker", "output",
                "hgx-h200"),
    "AMD-023": ("dstack-r1-h200-mi300x", "deepseek-r1", "sglang", "fp8_block", "", 128, "worker", "output",
                "hgx-h200"),
    "AMD-024": ("dstack-r1-h200-mi300x", "deepseek-r1", "vllm", "fp8_block", "", 128, "worker", "output", "hgx-h200"),
    "AMD-025": ("dstack-r1-h200-mi300x", "deepseek-r1", "vllm", "fp8_block", "", 4, "user", "tpot_ms", "hgx-h200"),
    "AMD-027": ("dstack-r1-h200-mi300x", "deepseek-r1", "vllm", "fp8_block", "", 1024, "worker", "total", "hgx-h200"),
    "AMD-056": ("oci-405b-mi300x", "llama-3.1-405b", "vllm", "fp8", "", 1, "user", "output", ""),
    "AMD-057": ("oci-405b-mi300x", "llama-3.1-405b", "vllm", "fp8", "", 256, "worker", "output", ""),
    "AMD-060": ("azure-nd-mi300x", "llama-3.1-8b", "vllm", "fp8", "", 1000, "worker", "total", ""),
    "AMD-061": ("azure-nd-mi300x", "llama-3.1-70b", "vllm", "fp8", "", 1000, "worker", "total", ""),
    "AMD-062": ("azure-nd-mi300x", "llama-3.1-405b", "vllm", "fp8", "", 1000, "worker", "total", ""),
}

# the NVIDIA twin's layout where the source ran it differently: dstack's H200 SGLang runs add
# --enable-dp-attention to --tp 8 (SGLang 0.4.3: attention data-parallel over the 8 GPUs, experts tensor-parallel)
TWIN_LAYOUT = {i: {"tp": "1", "attn_dp": "8", "moe_tp": "8", "moe_ep": "1"}
               for i in ("AMD-020", "AMD-021", "AMD-022", "AMD-023")}

# how each source ran the engine beyond its defaults, per AMD id (the NVIDIA twin takes TWIN_ENGINE's, else
# the same). offline: vLLM benchmark_throughput / benchmark_latency, all prompts at once. dstack's 405B rows
# (comparison/h100sxm5_vs_mi300x/README.md of dstackai/benchmarks): MI300X with --enforce-eager (eager) and
# the meta-llama/Llama-3.1-405B-FP8 checkpoint, whose fbgemm FP8 quantises the MLP only (attention
# projections in BF16, attention_weights); the H100 twin ran the same checkpoint with CUDA graphs. AMD-017 ran
# AMD's Quark checkpoint (every linear layer FP8) in eager mode. AMD-027: vLLM 0.7's V0 engine runs at most
# max_num_seqs = 256 sequences at once by default (EngineArgs), dstack set none (Deepseek-R1/README.md).
# AMD-020..023 (and twins): dstack's SGLang launches (Deepseek-R1/README.md: `sglang.launch_server --tp 8
# --trust-remote-code`, on H200 with --enable-dp-attention) set no --enable-mixed-chunk, so SGLang's default
# (ServerArgs.enable_mixed_chunk False) keeps prompt steps apart from decodes: separate_prefill.
_OFFLINE = {"offline": "true"}
_META_FP8 = {**_OFFLINE, "attention_weights": "bf16"}
ENGINE = {**{i: _OFFLINE for i in ("AMD-001", "AMD-002", "AMD-003", "AMD-004", "AMD-009", "AMD-010", "AMD-012",
                                   "AMD-013", "AMD-057", "AMD-060", "AMD-061", "AMD-062")},
          **{i: {**_META_FP8, "eager": "true"} for i in ("AMD-014", "AMD-015", "AMD-016")},
          "AMD-017": {**_OFFLINE, "eager": "true"}, "AMD-027": {**_OFFLINE, "max_num_seqs": "256"},
          **{i: {"separate_prefill": "true"} for i in ("AMD-020", "AMD-021", "AMD-022", "AMD-023")}}
TWIN_ENGINE = {i: _META_FP8 for i in ("AMD-014", "AMD-015", "AMD-016")}
# AMD's throughput tables (dev-docker README, performance page) run `--num-prompts N --max-num-seqs N` (their
# "Num Prompts" and "Max Num Seqs" columns): every prompt runs at once, not vLLM's default cap
# (data/engine_defaults.toml); the dev-docker README's command also sets --max-num-batched-tokens 131072
_DEV_DOCKER = {"AMD-001": 3200, "AMD-002": 1500, "AMD-003": 1500, "AMD-004": 500, "AMD-009": 3200, "AMD-010": 1500}
for _i, _n in {**_DEV_DOCKER, "AMD-012": 3200, "AMD-013": 1500}.items():
    ENGINE[_i] = {**ENGINE[_i], "max_num_seqs": str(_n), **({"max_num_tokens": "131072"} if _i in _DEV_DOCKER else {})}

# kernel figures: AMD id -> (kind, label); each has the NVIDIA H200 figure of the same test beside it
KERNELS = {"AMD-063": ("gemm_fp8", "fp8 GEMM 8192^3 (hipBLASLt vs cuBLASLt)"),
           "AMD-064": ("gemm_fp8", "fp8 GEMM 4096^3 (hipBLASLt vs cuBLASLt)"),
           "AMD-065": ("memory", "HBM STREAM Triad")}

REFUSED = {
    "AMD-018": "ShareGPT prompts at a request rate: open loop over a length mix parity does not hold",
    "AMD-019": "median TTFT of ShareGPT prompts at a request rate (parity predicts means of fixed lengths)",
    "AMD-026": "median TTFT (parity predicts means)",
    "AMD-028": "a search result (largest concurrency under an ITL bound), not a measurement at one point",
    "AMD-051": "ShareGPT text at a request rate (RPS 140) on 2P3D disaggregated instances: open loop",
    "AMD-052": "ShareGPT text at a request rate (RPS 140) on 2P3D disaggregated instances: open loop",
    "AMD-053": "ShareGPT text at a request rate (RPS 140) on 2P3D disaggregated instances: open loop",
    "AMD-054": "peak over a concurrency sweep; lengths, formats and layout not stated",
    "AMD-055": "peak over a concurrency sweep; lengths, formats and layout not stated (DeepSeek-V3.2 not in catalog)",
    "AMD-058": "offline batch not stated",
    "AMD-059": "ShareGPT at a request rate; format not stated",
    "AMD-066": "'up to' ratio over a mix of lengths and concurrencies",
    "AMD-067": "geometric-mean ratio over a mix of lengths and concurrencies",
    "AMD-068": "ratio over a mix of lengths and concurrencies",
}
TRAINING = ("AMD-069", "AMD-070", "AMD-071", "AMD-072", "AMD-073", "AMD-074", "AMD-075", "AMD-076", "AMD-077")

COLUMNS = ["case_id", "model", "system", "engine", "weights", "moe_weights", "kv", "mode", "isl", "osl", "concurrency",
           "tp", "pp", "attn_dp", "moe_tp", "moe_ep", "batch_tokens", "moe_overlap", "mtp_tokens", "mtp_acceptance",
           "metric", "measured", "split", "attention_dp_hold_steps", "source", "source_id", "vendor", "date",
           "engine_version", "unstated", "offline", "eager", "attention_weights", "max_num_seqs", "max_num_tokens",
           "separate_prefill"]
SYSTEMS = {"MI300X": "mi300x-platform", "MI325X": "mi325x-platform", "MI355X": "mi355x-platform"}


def split_of(key: str) -> str:
    """calibration or holdout, by a hash of the AMD id (a row and its NVIDIA twin share it)."""
    return "calibration" if int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % 2 == 0 else "holdout"


def _number(text: str) -> float:
    return float(text.replace(",", "").split()[0])


def _value(raw: float, conversion: str, isl: int, osl: int, concurrency: int, gpus: int) -> tuple[float, str]:
    """(measured value in the row's metric, what the conversion assumed)."""
    if conversion == "total":
        return raw * osl / (isl + osl), (f"total tokens/s turned into output tokens/s by osl/(isl+osl) = "
                                         f"{osl}/{isl + osl}")
    if conversion == "table":
        return raw, "AMD's 'Throughput (tokens/s)' read as output tokens/s (see the import script's docstring)"
    if conversion == "latency":
        return osl / raw, f"batch latency {raw:g} s of {osl} tokens read as {osl}/latency tokens/s per client"
    if conversion == "latency_ms":
        return osl / (raw / 1e3), f"batch latency {raw:g} ms of {osl} tokens read as {osl}/latency per client"
    if conversion == "tpot_ms":
        return 1e3 / raw, "mean TPOT read as 1/TPOT tokens/s per client"
    return raw, ""


def serving_rows(row: dict[str, str]) -> list[dict[str, str]]:
    source_id, model, engine, weights, kv, concurrency, metric, conversion, twin = SERVING[row["id"]]
    isl, osl = int(row["isl"]), int(row["osl"])
    gpus = int(row["gpus_used"])
    title, url = SOURCES[source_id]
    unstated = ["KV-cache format" if not kv else "", "total or output tokens" if "does not say" in row["metric"]
                or "'Throughput (tokens/s)'" in row["metric"] or row["metric"].startswith("throughput(") else "",
                "engine version" if "not stated" in row["engine_version"] else ""]
    base = {"model": model, "engine": engine, "weights": weights, "moe_weights": weights, "kv": kv, "mode": "agg",
            "isl": str(isl), "osl": str(osl), "concurrency": str(concurrency), "tp": str(gpus), "pp": "1",
            "attn_dp": "1", "metric": "output_tokens_per_s_per_worker" if metric == "worker"
            else "output_tokens_per_s_per_user", "split": split_of(row["id"]), "source_id": source_id,
            "date": row["date"]}
    out = []
    value, how = _value(_number(row["value"]), conversion, isl, osl, concurrency, gpus)
    out.append({**base, **ENGINE.get(row["id"], {}), "case_id": row["id"], "system": SYSTEMS[row["gpu"].split()[0]], "measured": f"{value:.6g}",
                "source": f"{title}; {url}; {row['id']} of parity's AMD reference set ({how})".replace('"', "'"),
                "vendor": "AMD", "engine_version": row["engine_version"],
                "unstated": "; ".join(u for u in unstated if u)})
    if twin:
        quoted = row["same_setup_nvidia"].split(":")
        nvidia, _ = _value(_number(quoted[-1]), conversion, isl, osl, concurrency, gpus)
        out.append({**base, **TWIN_LAYOUT.get(row["id"], {}),
                    **TWIN_ENGINE.get(row["id"], ENGINE.get(row["id"], {})), "case_id": f"{row['id']}-nv", "system": twin,
                    "measured": f"{nvidia:.6g}",
                    "source": f"{title}; {url}; NVIDIA twin of {row['id']} ({quoted[0].strip()}; {how})",
                    "vendor": "NVIDIA", "engine_version": quoted[0].strip(),
                    "unstated": "; ".join(u for u in unstated if u)})
    return out


def page_rows() -> list[dict[str, str]]:
    """The October 2025 figures of AMD's performance page (vLLM 0.10.2, FP8 weights and KV cache, TP8)."""
    title, url = SOURCES["amd-rocm-perf-2510"]
    out = []
    for case_id, (model, isl, osl, concurrency, metric, conversion, raw) in PAGE_2510.items():
        value, how = _value(raw, conversion, isl, osl, concurrency, 8)
        out.append({"case_id": case_id, "model": model, "system": "mi300x-platform", "engine": "vllm", "weights": "fp8",
                    "moe_weights": "fp8", "kv": "fp8", "mode": "agg", "isl": str(isl), "osl": str(osl),
                    "concurrency": str(concurrency), "tp": "8", "pp": "1", "attn_dp": "1",
                    "metric": "output_tokens_per_s_per_worker" if metric == "worker" else "output_tokens_per_s_per_user",
                    "measured": f"{value:.6g}", "split": split_of(case_id), "source_id": "amd-rocm-perf-2510",
                    "vendor": "AMD", "date": "2025-10-06", "engine_version": "vLLM 0.10.2 (ROCm 7.0.0)",
                    "unstated": "total or output tokens" if conversion in ("total", "table") else "",
                    **({**_OFFLINE, "max_num_seqs": str(concurrency)} if metric == "worker" else {}),
                    "source": f"{title}; {url} (throughput and latency tables; {how})"})
    return out


def kernel_rows(row: dict[str, str]) -> list[dict[str, str]]:
    kind, label = KERNELS[row["id"]]
    title, url = SOURCES["azure-nd-mi300x"]
    nvidia = _number(row["same_setup_nvidia"].split(":")[-1])
    scale = 1e12
    return [{"case_id": row["id"], "chip": "amd-mi300x", "kind": kind, "label": label,
             "achieved": f"{_number(row['value']) * scale:.6g}", "twin_chip": "nvidia-h200-sxm",
             "twin_achieved": f"{nvidia * scale:.6g}",
             "unit": "flop_per_s" if kind.startswith("gemm") else "bytes_per_s",
             "source_id": "azure-nd-mi300x", "source": f"{title}; {url}; {row['id']}"}]


def main(path: str) -> None:
    serving, kernels = [], []
    for row in csv.DictReader(open(path, newline="", encoding="utf-8")):
        if row["id"] in SERVING:
            serving += serving_rows(row)
        elif row["id"] in KERNELS:
            kernels += kernel_rows(row)
        elif row["id"] in TRAINING:
            print(f"{row['id']}: not imported: training figures (training_published.csv holds NVIDIA runs; not in "
                  f"this change)", file=sys.stderr)
        else:
            print(f"{row['id']}: refused: {REFUSED[row['id']]}", file=sys.stderr)
    serving += page_rows()
    target = DATA / "serving_published.csv"
    reader = csv.DictReader(target.open(newline="", encoding="utf-8"))
    kept = [r for r in reader if not r["case_id"].startswith(("AMD-", "AMDP-"))]
    # the file's own columns stay (other rows add some, e.g. the disaggregated prefill_*/decode_* layouts)
    columns = COLUMNS + [c for c in reader.fieldnames or () if c not in COLUMNS]
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, columns, extrasaction="raise", lineterminator="\n")
        writer.writeheader()
        for r in kept + serving:
            writer.writerow({c: r.get(c, "") for c in columns})
    target = DATA / "kernels_published.csv"
    reader = csv.DictReader(target.open(newline="", encoding="utf-8"))
    others = [r for r in reader if not r["case_id"].startswith("AMD-")]
    with target.open("w", newline="", encoding="utf-8") as handle:  # the file's columns (others add of_peak)
        writer = csv.DictWriter(handle, list(reader.fieldnames or kernels[0]), restval="", lineterminator="\n")
        writer.writeheader()
        writer.writerows(kernels + others)
    print(f"{len(serving)} serving rows, {len(kernels)} kernel rows", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1])
