"""Tied embeddings in weight memory: a head tied to the embedding is the same tensor where one pipeline stage
holds both (pp 1), counted once; split over stages the head's stage keeps its own copy (Megatron-LM's
share_embeddings_and_output_weights), counted there. Qwen3-0.6B: 28 layers, hidden 1,024, vocabulary 151,936,
tied; its embedding is 151,936 x 1,024 x 2 B = 311,164,928 B in bf16."""

import pytest

from parity import catalog
from parity.memory import weight_bytes_per_device
from parity.plan import Precision, Shard, weight_matrices_per_device
from parity.training import TrainingLayout, train_step

EMBEDDING_BYTES = 151_936 * 1_024 * 2


def _roles(model: str, pp: int, stage: tuple | None = None) -> dict[str, float]:
    shard = Shard(t=1, d=1, mt=1, me=1, p=pp)
    return {role: float(size) for role, size in weight_matrices_per_device(catalog.model(model), shard, Precision(),
                                                                           stage) if role in ("head", "embedding")}


def test_qwen3_06b_stores_its_tied_embedding_once_at_pp_1() -> None:
    """pp 1: 2 B x (the layers' matrices + the embedding once) = 1,191,968,768 B, the 596,049,920 parameters
    x 2 B less their norms (was 1,503,133,696 B, the embedding counted twice)."""
    model = catalog.model("qwen3-0.6b")
    assert weight_bytes_per_device(model, Shard(t=1, d=1, mt=1, me=1, p=1), Precision()) == 1_191_968_768
    assert _roles("qwen3-0.6b", 1) == {"head": 0.0, "embedding": EMBEDDING_BYTES}


def test_qwen3_06b_keeps_a_copy_of_the_tied_head_on_the_last_stage_at_pp_2() -> None:
    """pp 2: the first stage holds the embedding, the last its own copy as the head; balanced, a device holds
    (1,191,968,768 + 311,164,928) / 2 = 751,566,848 B, as before the fix."""
    model = catalog.model("qwen3-0.6b")
    assert weight_bytes_per_device(model, Shard(t=1, d=1, mt=1, me=1, p=2), Precision()) == 751_566_848
    assert _roles("qwen3-0.6b", 2, ([14], 1.0, 0.0)) == {"head": 0.0, "embedding": EMBEDDING_BYTES}
    assert _roles("qwen3-0.6b", 2, ([14], 0.0, 1.0)) == {"head": EMBEDDING_BYTES, "embedding": 0.0}


def test_an_untied_head_counts_at_pp_1() -> None:
    """Llama-3.1-8B (untied, vocabulary 128,256, hidden 4,096): head and embedding, 1,050,673,152 B each."""
    assert _roles("llama-3.1-8b", 1) == {"head": 1_050_673_152.0, "embedding": 1_050_673_152.0}


@pytest.mark.parametrize(("pp", "weight_bytes"), [(1, 1_192_097_792), (2, 751_631_360)])
def test_qwen3_06b_training_weights_and_gradients_count_the_tied_head_once_at_pp_1(pp: int,
                                                                                 weight_bytes: int) -> None:
    """Training on 8 H100 (dp 8 / pp): 2 B of weights and 2 B of gradients per parameter of the fullest rank.
    pp 1: 1,192,097,792 B, the model's 596,049,920 parameters less its final norm (was 1,503,262,720); pp 2: the
    first stage holds the embedding, the last its copy as the head, 14 layers each: 751,631,360 B, unchanged."""
    system = catalog.system("hgx-h100")
    result = train_step(catalog.model("qwen3-0.6b"), system, 8,
                        TrainingLayout(tp=1, pp=pp, dp=8 // pp, seq_len=4096, global_batch=64),
                        catalog.calibration(system.chip), catalog.training_profile())
    assert result.memory.weight_bytes == weight_bytes
    assert result.memory.gradient_bytes == weight_bytes
