"""Golden parameter counts, KV-cache sizes and FLOPs of the catalog's models, derived by hand.

Llama-3.1-8B (h=4096, 32 layers, 32 heads, 8 KV heads of 128, MLP 14336, vocab 128256, untied):
  embedding and head 2 x 128256 x 4096 = 1,050,673,152; per layer q,o 2 x 4096^2 = 33,554,432,
  k,v 2 x 4096 x 1024 = 8,388,608, MLP 3 x 4096 x 14336 = 176,160,768 -> 218,103,808, norms 2 x 4096
  -> 218,112,000 per layer; x 32 = 6,979,584,000; + final norm 4,096 -> 8,030,261,248.
DeepSeek-V3 (MLA, 3 dense + 58 MoE layers): attention per layer q_a 7168x1536 + q_b 1536x(128x192)
  + kv_a 7168x576 + kv_b 512x(128x256) + o 16384x7168 = 187,105,280, plus latent norms 1536 + 512;
  dense MLP 3 x 7168 x 18432 = 396,361,728; MoE 256 experts x 3 x 7168 x 2048 = 11,274,289,152, shared
  44,040,192, router 1,835,008 + correction bias 256 -> 671,026,419,200 without the MTP module.
Llama-2-70B (h=8192, 80 layers, 64 heads, 8 KV heads of 128, MLP 28672, vocab 32000, untied): q,o
  2 x 8192^2 = 134,217,728, k,v 2 x 8192 x 1024 = 16,777,216, MLP 3 x 8192 x 28672 = 704,643,072, norms
  16,384 -> 855,654,400 per layer; x 80 = 68,452,352,000; + embedding and head 2 x 32000 x 8192 =
  524,288,000 + final norm 8,192 -> 68,976,648,192.
"""

from pathlib import Path

import pytest

from parity import catalog
from parity.dtypes import FORMATS
from parity.errors import ModelConfigError
from parity.hf import model_from_config, read_config


@pytest.mark.parametrize(("name", "parameters"), [
    ("llama-3.1-8b", 8_030_261_248),
    ("llama-3.1-70b", 70_553_706_496),
    ("llama-3.1-405b", 405_853_388_800),
    ("llama-2-70b", 68_976_648_192),
    ("qwen3-32b", 32_762_123_264),
    ("qwen3-30b-a3b", 30_532_122_624),
    ("qwen3-235b-a22b", 235_093_634_560),
    ("mixtral-8x7b", 46_702_792_704),
    ("deepseek-v3", 671_026_419_200),
    ("deepseek-r1", 671_026_419_200),
    ("kimi-k2", 1_026_408_232_448),
    ("gpt-oss-120b", 116_829_156_672),
])
def test_parameter_counts_match_the_checkpoints(name: str, parameters: int) -> None:
    assert catalog.model(name).parameters == parameters


def test_deepseek_v3_active_parameters_are_about_37_5_billion() -> None:
    """8 of 256 routed experts plus the shared expert, embedding and head counted: 37,552,297,472."""
    m = catalog.model("deepseek-v3")
    assert m.active_parameters == 37_552_297_472
    assert m.mtp_parameters == 11_610_068_224  # one MTP layer + eh_proj 2h x h + 3 norms


def test_qwen3_235b_active_parameters() -> None:
    assert catalog.model("qwen3-235b-a22b").active_parameters == 22_190_763_520


def test_kv_cache_bytes_per_token() -> None:
    """Llama-3.1-70B: 80 layers x 2 x 8 heads x 128 = 163,840 elements (327,680 B in bf16);
    DeepSeek-V3 MLA: 61 x (512 + 64) = 35,136 elements (35,136 B in fp8)."""
    assert catalog.model("llama-3.1-70b").kv_cache_bytes_per_token(FORMATS["bf16"]) == 327_680
    assert catalog.model("deepseek-v3").kv_cache_bytes_per_token(FORMATS["fp8"]) == 35_136


def test_sliding_window_layers_keep_only_their_window() -> None:
    """gpt-oss-120b: 18 full + 18 sliding (128) layers of 2 x 8 x 64 = 1,024 elements each.
    At 4,096 tokens of context a token keeps 18 x 1024 + 18 x 1024 x 128/4096 = 19,008 on average."""
    m = catalog.model("gpt-oss-120b")
    assert m.kv_elements_per_token() == 36 * 1024
    assert m.kv_elements_per_token(4096.0) == pytest.approx(19_008)


def test_flops_per_token_llama_8b() -> None:
    """Matmuls: per layer 41,943,040 (q, k, v, o) + 176,160,768 (MLP) = 218,103,808; x 32 layers
    + 525,336,576 (head) = 7,504,658,432 weights, x 2 FLOP = 15,009,316,864;
    attention at context 1000: 32 layers x 2 x 32 heads x (128 + 128) x 1000 = 524,288,000."""
    m = catalog.model("llama-3.1-8b")
    assert m.matmul_flops_per_token() == 15_009_316_864
    assert m.attention_flops_per_token(1000) == 524_288_000


def test_features_drive_the_engine() -> None:
    assert catalog.model("deepseek-r1").features == {"mla", "moe", "mtp"}
    assert catalog.model("gpt-oss-120b").features == {"moe", "sinks", "sliding_window"}
    assert catalog.model("qwen3-32b").features == {"qk_norm"}
    assert catalog.model("llama-3.1-8b").features == frozenset()


def test_checkpoint_formats_are_read_from_quantization_config() -> None:
    assert (catalog.model("deepseek-r1").weight_format, catalog.model("deepseek-r1").expert_weight_format) == \
        ("fp8_block", "fp8_block")
    gpt = catalog.model("gpt-oss-120b")
    assert (gpt.weight_format, gpt.expert_weight_format, gpt.unquantized_matrices) == ("bf16", "mxfp4", frozenset())
    nv = catalog.model("nvidia/DeepSeek-R1-NVFP4")  # its skip list names the attention's input projections only
    assert (nv.weight_format, nv.expert_weight_format) == ("nvfp4", "nvfp4")
    assert nv.unquantized_matrices == {"q_a", "q_b", "kv_a", "kv_b"}


@pytest.mark.parametrize(("config", "message"), [
    ({"hidden_size": 4096, "num_attention_heads": 32, "intermediate_size": 14336, "vocab_size": 32000},
     "num_hidden_layers"),
    ({"num_hidden_layers": 2, "num_attention_heads": 32, "intermediate_size": 14336, "vocab_size": 32000},
     "hidden_size"),
    ({"num_hidden_layers": 2, "hidden_size": 4096, "num_attention_heads": 32, "num_key_value_heads": 5,
      "intermediate_size": 14336, "vocab_size": 32000}, "num_key_value_heads"),
    ({"num_hidden_layers": "two", "hidden_size": 4096}, "num_hidden_layers must be an integer >= 1, got .two."),
    ([1, 2, 3], "JSON object"),
])
def test_bad_configs_name_the_key(config: object, message: str) -> None:
    with pytest.raises(ModelConfigError, match=message):
        model_from_config(config, "bad")


_SMALL = {"model_type": "qwen3", "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4,
          "num_key_value_heads": 2, "head_dim": 16, "num_hidden_layers": 2, "vocab_size": 1000}


@pytest.mark.parametrize(("key", "extra", "least"), [
    ("num_hidden_layers", {}, 1), ("vocab_size", {}, 1), ("num_attention_heads", {}, 1),
    ("num_key_value_heads", {}, 1), ("sliding_window", {"use_sliding_window": True}, 1),
    ("num_experts", {"model_type": "qwen3_moe"}, 0)])
def test_a_count_out_of_bounds_names_the_bound_it_misses(key: str, extra: dict, least: int) -> None:
    """num_hidden_layers -3 said 'must be a non-negative integer' and 0 'must be >= 1' (sliding_window, vocab_size
    alike): one message, the real bound, whatever side of 0 the value is."""
    for value in (-3, least - 1, 2.5):
        with pytest.raises(ModelConfigError) as err:
            model_from_config(_SMALL | extra | {key: value}, "bad")
        assert str(err.value) == f"bad: {key} must be an integer >= {least}, got {value!r}"


def test_malformed_json_keeps_the_whole_message_line_and_column(tmp_path: Path) -> None:
    """A truncated config said 'malformed JSON at line 1: Unterminated string starting at', no column."""
    path = tmp_path / "trunc.json"
    path.write_text('{\n  "architectures": [\n    "Qwen3ForCaus')
    with pytest.raises(ModelConfigError) as err:
        read_config(path)
    assert str(err.value) == "trunc.json: malformed JSON: Unterminated string starting at line 3, column 5"



def test_identical_layers_are_priced_as_one_group_wherever_they_sit() -> None:
    """gpt-oss-120b alternates sliding-window and full attention: 36 groups of one layer in the model, two groups of
    18 in a step's graph (every aiconfigurator row predicts the same to 2e-14 either way); a model whose groups
    differ keeps them, and no layer is lost."""
    from parity.graph import forward
    from parity.ops import Batch

    batch = Batch(decode_tokens=8.0, decode_context=1024.0)
    model = catalog.model("gpt-oss-120b")
    assert len(model.layers) == 36
    groups = [g for g in forward(model, batch) if g.layer is not None]
    assert sorted(g.count for g in groups) == [18, 18] and all(g.layer.count == g.count for g in groups)
    for name in ("deepseek-r1", "llama-3.1-70b", "qwen3-235b-a22b"):
        m = catalog.model(name)
        assert sum(g.count for g in forward(m, batch) if g.layer is not None) == m.num_layers
    assert [g.count for g in forward(catalog.model("deepseek-r1"), batch) if g.layer is not None] == [3, 58]
