"""serving_published.csv's bookkeeping columns: `unstated` names what a row's source leaves out, and
`engine_version` holds the engine's version, never the hardware it ran on."""

from __future__ import annotations

import re

from parity import catalog
from parity.engine import engine_version

# a chip or a system count in an engine_version cell ('8x H100 SXM5', 'MI300X', 'B200'); 'vLLM 0.5.x (pip' is no count
HARDWARE = re.compile(r"\b(?:[A-Z]{0,2}H\d{2,3}|G?B\d{3}|MI\d{3}X?|910[BC]|P800|A100)\b|\b\d+\s?x\s?[A-Z]")


def test_every_row_says_what_its_source_leaves_out() -> None:
    """Each row lists what its source does not state; a row that names no version of its engine lists the engine
    version, one without a KV format the KV format, one whose date is free text the date (Azure's ND MI300X results:
    'undated (ROCm 6.2 era, ~2024-25)'). Before, 47 rows (TensorRT-LLM's perf overview, LMSYS's and DeepSeek's
    prefill, CloudMatrix384, the B200 latency blog, AMD's latency tables) left it empty and the six Ascend rows, whose
    engine_version says 'version not stated', did not list it. LMSYS's GB200 decode row names a version inferred from
    its date (SGLang 0.4.7) and lists the engine version all the same, saying so."""
    rows = catalog.measurements("serving_published")
    assert len(rows) == 167 and not [r["case_id"] for r in rows if not r["unstated"]]
    unversioned = [r for r in rows if engine_version(r["engine"], r["engine_version"]) is None]
    assert len(unversioned) == 35 and not [r["case_id"] for r in unversioned if "engine version" not in r["unstated"]]
    inferred = [r["case_id"] for r in rows if "inferred from the date" in r["engine_version"]]
    assert inferred == ["C04-gb200-decode-2k"]
    assert all("engine version (the blog names none: 0.4.7" in r["unstated"] for r in rows if r["case_id"] in inferred)
    assert not [r["case_id"] for r in rows if not r["kv"] and "kv" not in r["unstated"].lower()]
    undated = [r["case_id"] for r in rows if not re.match(r"\d{4}", r["date"])]
    assert undated == ["AMD-060", "AMD-061", "AMD-062"]
    assert all("date (the results are undated" in r["unstated"] for r in rows if r["case_id"] in undated)
    (ascend,) = {r["unstated"].split("; ")[1] for r in rows if r["source_id"] == "sglang-ascend-best-practice"}
    assert ascend == "engine version"


def test_engine_version_names_no_hardware() -> None:
    """dstack's H100 twins held '8x H100 SXM5' and its H200 twins '8x H200 SGLang 0.4.3.post2'; the hardware is the
    row's system (and its source text), the version the one the source's environment dump gives."""
    rows = {r["case_id"]: r for r in catalog.measurements("serving_published")}
    assert not [c for c, r in rows.items() if HARDWARE.search(r["engine_version"])]
    assert HARDWARE.search("8x H100 SXM5") and HARDWARE.search("8x H200 SGLang") and HARDWARE.search("MI300X")
    assert rows["AMD-014-nv"]["engine_version"] == ("vLLM 0.6.3.post2.dev308+gb489fc3c (CUDA 12.4; nightly wheel) "
                                                    "benchmark_throughput.py, --num-scheduler-step 1")
    assert "8x H100 SXM5" in rows["AMD-014-nv"]["source"]
    assert rows["AMD-020-nv"]["engine_version"] == "SGLang 0.4.3.post2"
    assert engine_version("vllm", rows["AMD-014-nv"]["engine_version"]) == (0, 6, 3)
