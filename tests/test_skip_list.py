"""A checkpoint's quantization skip list read matrix by matrix (hf.skips): the matrices it names stay bf16, the rest
take the checkpoint's format; a list naming a matrix in some layers or in part is refused."""

import re

import pytest

from parity import catalog
from parity.catalog.files import data_dir
from parity.errors import ModelConfigError
from parity.graph import forward
from parity.hf import model_from_config, read_config
from parity.memory import weight_bytes_per_device
from parity.ops import Batch, Gemm
from parity.plan import Layout, Precision, Shard
from parity.predict import scenario_from_row

LLAMA_8B = read_config(data_dir() / "models" / "meta-llama--Meta-Llama-3.1-8B_config.json")
BASE = {"model_type": "llama", "num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4,
        "intermediate_size": 128, "vocab_size": 100}


def _nvfp4(config: dict, skipped: list[str]):
    return model_from_config(config, quant={"quantization": {"quant_algo": "NVFP4", "exclude_modules": skipped}})


def test_deepseek_v3_1_nvfp4_keeps_only_the_attention_input_projections_bf16() -> None:
    """nvidia/DeepSeek-V3.1-NVFP4's exclude_modules name q_a, q_b, kv_a_proj_with_mqa and kv_b of each of the 61
    layers (and lm_head, the MTP layer "model.layers.61*"): its o_proj, 3 dense MLPs and 58 shared experts are NVFP4
    (all its dense weights were read bf16). At TP 8 (experts EP 8), per device:
    bf16 skipped: (q_a 7,168 x 1,536 + kv_a 7,168 x 576, replicated, + (q_b 1,536 x 24,576 + kv_b 512 x 32,768) / 8)
      x 61 = 21,954,560 x 61 = 1,339,228,160 x 2 B = 2,678,456,320 B;
    NVFP4 (0.5625 B): o 61 x 16,384 x 7,168 / 8 = 895,483,904, dense MLPs 3 x (7,168 x 36,864 + 18,432 x 7,168) / 8
      = 148,635,648, shared 58 x (7,168 x 4,096 + 2,048 x 7,168) / 8 = 319,291,392, experts 58 x 32 x 44,040,192
      = 81,738,596,352: 83,102,007,296 x 0.5625 = 46,744,879,104 B;
    router 58 x 7,168 x 256 x 2 B = 212,860,928 B; head and embedding 129,280 x 7,168 / 8 x 2 B each = 463,339,520 B.
    Total 50,099,535,872 B; it read 1,363,410,944 x (2 - 0.5625) = 1,959,903,232 B more (52,059,439,104 B)."""
    m = catalog.model("deepseek-v3.1-nvfp4")
    assert (m.weight_format, m.expert_weight_format, m.unquantized_matrices) == (
        "nvfp4", "nvfp4", {"q_a", "q_b", "kv_a", "kv_b"})
    assert m.unquantized_parameters == 61 * (7_168 * 1_536 + 1_536 * 24_576 + 7_168 * 576 + 512 * 32_768)
    shard = Shard.of(Layout(tp=8))
    own = Precision(weights="nvfp4", expert_weights="nvfp4", unquantized=m.unquantized_matrices)
    assert float(weight_bytes_per_device(m, shard, own)) == 50_099_535_872
    assert float(weight_bytes_per_device(m, shard, Precision(weights="bf16", expert_weights="nvfp4"))) == \
        50_099_535_872 + 1_959_903_232
    row = {"case_id": "x", "model": "deepseek-v3.1-nvfp4", "system": "hgx-b200", "engine": "vllm", "mode": "agg",
           "isl": "1024", "osl": "1024", "concurrency": "64", "tp": "8"}
    checkpoint = scenario_from_row(row).precision  # the checkpoint's own formats carry its skip list
    assert (checkpoint.of("attention", "q_a"), checkpoint.of("attention", "o"), checkpoint.of("mlp", "up")) == (
        "bf16", "nvfp4", "nvfp4")
    assert checkpoint.unquantized == {"q_a", "q_b", "kv_a", "kv_b"}
    assert scenario_from_row({**row, "weights": "nvfp4"}).precision.unquantized == frozenset()  # re-quantized


def test_gpt_oss_reads_its_attention_bf16_as_before() -> None:
    """gpt-oss-120b's modules_to_not_convert (model.layers.*.self_attn, model.layers.*.mlp.router, embed_tokens,
    lm_head) skip every dense matrix it holds: its dense format is bf16, nothing kept apart (as before)."""
    m = catalog.model("gpt-oss-120b")
    assert (m.weight_format, m.expert_weight_format, m.unquantized_matrices) == ("bf16", "mxfp4", frozenset())


def test_a_dense_llama_with_its_attention_skipped_keeps_its_mlps_quantized() -> None:
    """Llama-3.1-8B NVFP4 with self_attn excluded (it read all bf16): TP 1, 32 layers.
    bf16: qkv 4,096 x 6,144 + o 4,096 x 4,096 = 41,943,040 x 32 = 1,342,177,280 x 2 B = 2,684,354,560 B;
    NVFP4: up 4,096 x 28,672 + down 14,336 x 4,096 = 176,160,768 x 32 = 5,637,144,576 x 0.5625 = 3,170,893,824 B;
    head and embedding 128,256 x 4,096 x 2 B each = 2,101,346,304 B. Total 7,956,594,688 B (all bf16:
    16,059,990,016 B)."""
    m = _nvfp4(LLAMA_8B, ["lm_head", "model.layers.*.self_attn"])
    assert (m.weight_format, m.unquantized_matrices) == ("nvfp4", {"qkv", "o"})
    own = Precision(weights="nvfp4", expert_weights="nvfp4", unquantized=m.unquantized_matrices)
    assert float(weight_bytes_per_device(m, Shard.of(Layout()), own)) == 7_956_594_688
    assert float(weight_bytes_per_device(m, Shard.of(Layout()), Precision())) == 16_059_990_016


@pytest.mark.parametrize(("skipped", "expected"), [
    (["re:.*self_attn\\.(q|k|v)_proj$"], {"qkv"}),  # compressed-tensors regexes, all three of the fused qkv
    (["model.layers.*.mlp"], {"up", "down"}),
    (["o_proj", "model.embed_tokens", "lm_head", "model.norm", "vision_tower.blocks.0.attn"], {"o"}),
    (["language_model.model.layers.0.mlp", "language_model.model.layers.1.mlp"], {"up", "down"}),
])
def test_skip_list_spellings(skipped: list[str], expected: set[str]) -> None:
    """Globs, regexes, enclosing modules, bare names and a multimodal wrapper's prefix; entries naming nothing parity
    holds (norms, the embedding, a vision tower) are passed over."""
    assert _nvfp4(BASE, skipped).unquantized_matrices == expected


@pytest.mark.parametrize(("skipped", "message"), [
    # one layer's attention of two: vLLM runs layer 0's in bf16, layer 1's NVFP4 (all of it was read bf16)
    (["lm_head", "model.layers.0.self_attn*"],
     "hf_quant_config.json: quantization.exclude_modules leaves o unquantized in 1 of the 2 layers holding it (vLLM "
     "runs those in bf16, the others quantized); parity holds one format per matrix"),
    (["model.layers.*.self_attn.q_proj"],
     "hf_quant_config.json: quantization.exclude_modules names q_proj but not k_proj, v_proj of layer 0's qkv (vLLM "
     "runs a fused matrix in one format); parity holds one format per matrix"),
])
def test_a_skip_list_naming_a_matrix_in_part_is_refused(skipped: list[str], message: str) -> None:
    with pytest.raises(ModelConfigError, match=re.escape(message)):
        _nvfp4(BASE, skipped)


def test_an_mtp_layer_past_the_main_layers_is_not_read() -> None:
    """DeepSeek lists its MTP layer as "model.layers.61*": layers at or past num_hidden_layers are not the main
    model's, so a list naming only them skips nothing."""
    assert _nvfp4(BASE, ["model.layers.2*"]).unquantized_matrices == frozenset()


@pytest.mark.parametrize("model", ["deepseek-v3.1-nvfp4", "deepseek-v3.2", "llama-3.1-8b", "qwen3-next-80b-a3b",
                                   "nemotron-3-super-120b-a12b-fp8", "minimax-m1", "nemotron-h-56b"])
@pytest.mark.parametrize("mla_decode", ["absorbed", "unabsorbed"])
def test_every_gemm_names_the_matrix_it_multiplies(model: str, mla_decode: str) -> None:
    """A GEMM's format is looked up by the model matrix it multiplies (Gemm.weights): every GEMM of the forward
    graph names one the model holds (mlp_up is `up`, MLA decode's q_absorb, v_absorb, kv_b_decode are `kv_b`), or
    the LM head, so a skipped matrix is bf16 wherever it is multiplied."""
    m = catalog.model(model)
    held = {x.name for layer in m.layers for x in layer.matrices(m.hidden_size)} | {"lm_head"}
    batch = Batch(decode_tokens=8.0, decode_context=1024.0, prefill_tokens=512.0, prefill_sequences=1.0)
    names = {op.weights for group in forward(m, batch, mla_decode) for op in group.ops if isinstance(op, Gemm)}
    assert names <= held
