"""DeepSeek Sparse Attention's cache: the MLA latent in the KV format and the indexer's key in FP8 whatever it is.

Per layer and token: the indexer key is 128 FP8 values + one fp32 scale = 132 B (DeepSeek-V3.2-Exp inference
model.py, vLLM's and SGLang's indexer caches). The latent is 512 + 64 elements: 1,152 B in bf16; in FP8, FlashMLA's
sparse record of 512 FP8 values, 4 fp32 scales and 64 bf16 rope values = 656 B (vLLM's fp8_ds_mla, SGLang's NSA pool).
DeepSeek-V3.2, 61 layers: bf16 61 x (1,152 + 132) = 78,324 B/token; fp8 61 x (656 + 132) = 48,068.
GLM-5, 78 layers: bf16 78 x 1,284 = 100,152; fp8 78 x 788 = 61,464.
"""

import pytest

from parity import catalog
from parity.dtypes import FORMATS
from parity.memory import kv_bytes_per_token_per_device
from parity.plan import Precision, Shard


@pytest.mark.parametrize(("name", "kv", "per_token"), [("deepseek-v3.2", "bf16", 78_324),
                                                       ("deepseek-v3.2", "fp8", 48_068), ("glm-5", "bf16", 100_152),
                                                       ("glm-5", "fp8", 61_464)])
def test_the_dsa_cache_per_token(name: str, kv: str, per_token: int) -> None:
    m = catalog.model(name)
    assert m.kv_cache_bytes_per_token(FORMATS[kv]) == per_token
    precision = Precision(weights="fp8", activations="bf16", kv_cache=kv)
    assert kv_bytes_per_token_per_device(m, Shard(8, 1, 1, 1, 1), precision) == per_token  # MLA: whole on every rank


def test_the_indexer_key_is_fp8_whatever_the_kv_format() -> None:
    a = next(layer.attention for layer in catalog.model("deepseek-v3.2").layers)
    assert a.index_key_bytes_per_token == 132
    assert a.kv_elements_per_token == 576
    assert [a.kv_bytes_per_token(FORMATS[kv]) for kv in ("bf16", "fp8", "nvfp4")] == [1_284, 788, 576 * 0.5625 + 132]


@pytest.mark.parametrize(("kv", "math"), [("fp8", "fp8"), ("bf16", "bf16")])
def test_the_indexer_scores_keys_in_fp8_where_the_cache_is_fp8(kv: str, math: str) -> None:
    """The lightning indexer's logits run in FP8 (DeepSeek-V3.2-Exp report Sec. 2.1; DeepGEMM fp8_mqa_logits) where
    the KV cache is FP8, whatever the attention format (bf16 here): they were priced in bf16, 923 ms of a 126k-token
    prompt step on B200 where FP8 gives 674 ms. A bf16 cache (a chip without FP8) keeps the attention format."""
    from parity.ops import Batch
    from parity.plan.sharding import device_step

    precision = Precision(weights="fp8", activations="bf16", kv_cache=kv, attention="bf16")
    step = device_step(catalog.model("deepseek-v3.2"), Batch(prefill_tokens=4096, prefill_sequences=1,
                                                             decode_tokens=8, decode_context=4096),
                       Shard(8, 1, 1, 1, 1), precision)
    formats = {k.name: k.fmt for k in step.kernels if k.name.startswith("indexer_")}
    assert formats == {"indexer_decode": math, "indexer_prefill": math}


@pytest.mark.parametrize(("kv", "per_key"), [("fp8", 656), ("bf16", 1_152)])
def test_the_sparse_decode_reads_and_writes_the_record_the_cache_stores(kv: str, per_key: int) -> None:
    """The sparse decode kernel reads FlashMLA's 656 B record per selected key in an FP8 cache (the 576 latent
    elements at 1 B were read before, 80 B a key short of what capacity counts), and the cache write stores it."""
    from parity.ops import Batch
    from parity.plan.sharding import device_step

    precision = Precision(weights="fp8", activations="bf16", kv_cache=kv, attention="bf16")
    step = device_step(catalog.model("deepseek-v3.2"), Batch(decode_tokens=8, decode_context=65_536),
                       Shard(8, 1, 1, 1, 1), precision)
    kernels = {k.name: k for k in step.kernels}
    assert kernels["mla_decode"].other_bytes == pytest.approx(8 * 2_048 * per_key)  # top-k 2,048 keys each
    assert kernels["kv_write"].other_bytes == pytest.approx(8 * per_key)
