"""Configs that leave keys out, or that name no architecture parity knows, read as Hugging Face builds them or say so.

DeepSeek-R1 without kv_lora_rank: DeepseekV3Config's default 512 keeps MLA, 61 layers x (512 + 64) latent and RoPE
  key elements = 35,136 per token (70,272 B in bf16), 671,026,419,200 parameters (it read as MHA: 2,873 kB, 680 B).
Qwen3-30B-A3B without moe_intermediate_size: Qwen3MoeConfig's default 768 gives back 30,532,122,624 parameters
  (it read experts of intermediate_size 6,144: 233 B).
Qwen3-30B-A3B with num_experts 1, top-1: one expert of 768 and a router of 2,048 x 1 a layer, where 128 experts
  and a router of 2,048 x 128 were: 30,532,122,624 - 48 x (127 x 3 x 2,048 x 768 + 2,048 x 127) = 1,755,101,184
  (it read a dense MLP of 6,144: 3,340,449,792).
"""

import json
from pathlib import Path

import pytest

from parity.catalog.files import data_dir
from parity.errors import ModelConfigError
from parity.flags import Flag
from parity.hf import model_from_config
from parity.model import MoeMlp


def _config(name: str, **changes: object) -> dict:
    """The catalog's verbatim config `name`, keys in `changes` set (None: removed)."""
    config = json.loads((data_dir() / "models" / f"{name}_config.json").read_text())
    config.update(changes)
    return {key: value for key, value in config.items() if value is not None}


def test_deepseek_without_kv_lora_rank_keeps_mla() -> None:
    m = model_from_config(_config("deepseek-ai--DeepSeek-R1", kv_lora_rank=None))
    assert (m.parameters, m.kv_elements_per_token()) == (671_026_419_200, 35_136)
    assert m.features == {"mla", "moe", "mtp"} and m.flags == ()


@pytest.mark.parametrize(("value", "message"), [(0, "kv_lora_rank must be an integer >= 1, got 0"),
                                                (None, "kv_lora_rank is null; parity needs its value here")])
def test_deepseek_with_a_zero_or_null_latent_rank_is_refused(value: object, message: str) -> None:
    config = {**_config("deepseek-ai--DeepSeek-R1"), "kv_lora_rank": value}
    with pytest.raises(ModelConfigError, match=f"^model: {message}$"):
        model_from_config(config)


def test_qwen3_moe_without_moe_intermediate_size_takes_its_class_default() -> None:
    m = model_from_config(_config("Qwen--Qwen3-30B-A3B", moe_intermediate_size=None))
    assert m.parameters == 30_532_122_624


def test_a_stated_alias_wins_over_the_class_default() -> None:
    """Mixtral names its experts num_local_experts; a deepseek_v3 config may too (HF maps it to n_routed_experts):
    the 16 stated, not the class's 256."""
    config = _config("deepseek-ai--DeepSeek-R1", n_routed_experts=None, num_local_experts=16)
    assert {l.mlp.num_experts for l in model_from_config(config).layers if l.moe} == {16}


def test_one_expert_is_a_mixture_of_one_expert() -> None:
    m = model_from_config(_config("Qwen--Qwen3-30B-A3B", num_experts=1, num_experts_per_tok=1))
    assert m.parameters == 1_755_101_184
    assert {(l.mlp.num_experts, l.mlp.expert_intermediate_size) for l in m.layers if isinstance(l.mlp, MoeMlp)} == \
        {(1, 768)}


def test_an_unknown_architecture_is_flagged_with_the_keys_it_was_guessed_from() -> None:
    """Qwen3-32B renamed: read as before less the q/k norms its class implies (64 layers x 2 x 128 = 16,384)."""
    m = model_from_config(_config("Qwen--Qwen3-32B", architectures=["FooBarForCausalLM"], model_type="foobar"))
    assert m.parameters == 32_762_123_264 - 16_384
    assert m.flags == (Flag("unknown architecture", 'unknown architecture FooBarForCausalLM (model_type "foobar"): '
                            "guessed from its keys (max_window_layers); assumed a gated MLP (3 matrices); what its "
                            "class adds unstated (defaults, q/k norms, biases) is missing", "unknown architecture"),)
    mla = model_from_config(_config("deepseek-ai--DeepSeek-R1", architectures=["MyMLAForCausalLM"], model_type=None))
    assert mla.flags[0].text.startswith("unknown architecture MyMLAForCausalLM (no model_type, and no class parity "
                                        "knows): guessed from its keys (first_k_dense_replace, kv_lora_rank, "
                                        "moe_intermediate_size, ")


def test_the_unknown_architecture_reaches_search_output(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from parity.cli import cli

    path = tmp_path / "config.json"
    path.write_text(json.dumps(_config("Qwen--Qwen3-8B", model_type="foobar")))
    done = CliRunner().invoke(cli, ["search", "--model", str(path), "--system", "hgx-h100", "--format", "json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["model_flags"][0].startswith("unknown architecture Qwen3ForCausalLM (model_type "
                                                                '"foobar"): guessed from its keys')


@pytest.mark.parametrize(("dtype", "formats"), [("float8_e4m3fn", ("fp8", "fp8")), ("float16", ("fp16", "fp16"))])
def test_a_checkpoint_dtype_gives_its_format(dtype: str, formats: tuple[str, str]) -> None:
    m = model_from_config(_config("Qwen--Qwen3-8B", torch_dtype=dtype))
    assert (m.weight_format, m.expert_weight_format) == formats


def test_gpt_oss_without_its_attention_keys_reads_as_its_class_fills_them() -> None:
    """gpt-oss-120b without layer_types, head_dim, num_key_value_heads, sliding_window, its expert counts and
    attention_bias: GptOssConfig's defaults (layer_types alternating sliding and full from layer 0, head_dim 64, 8 KV
    heads, a window of 128, 128 experts, top-4, biased attention) give back the stated model. 18 full and 18 sliding
    layers keep 2 x 8 x 64 = 1,024 elements each, so at 4,096 tokens a token keeps 18 x 1,024 + 18 x 1,024 x
    128/4,096 = 19,008 (without layer_types alone it read all 36 layers as sliding: 36 x 1,024 x 128/4,096 = 1,152)."""
    stated = model_from_config(_config("openai--gpt-oss-120b"))
    bare = model_from_config(_config("openai--gpt-oss-120b", layer_types=None, head_dim=None, num_key_value_heads=None,
                                     sliding_window=None, num_local_experts=None, experts_per_token=None,
                                     num_experts_per_tok=None, attention_bias=None))
    assert bare.layers == stated.layers and bare.parameters == stated.parameters == 116_829_156_672
    assert bare.kv_elements_per_token(4096.0) == 19_008


@pytest.mark.parametrize(("model_type", "layers", "full"), [("gemma2", 4, [1, 3]), ("gemma3_text", 12, [5, 11]),
                                                            ("cohere2", 8, [3, 7]), ("gpt_oss", 4, [1, 3])])
def test_a_class_that_patterns_its_layers_does_so_when_layer_types_is_left_out(model_type: str, layers: int,
                                                                               full: list[int]) -> None:
    """Without layer_types (or sliding_window_pattern) every N-th layer is full attention and the others slide, as
    the class's __post_init__ fills layer_types: N = 2 for Gemma2Config and GptOssConfig, 6 for Gemma3TextConfig, 4
    for Cohere2Config; each class's default window (4,096; gpt-oss 128) where the config states none."""
    config = {"model_type": model_type, "num_hidden_layers": layers, "hidden_size": 64, "num_attention_heads": 4,
              "num_key_value_heads": 1, "head_dim": 16, "intermediate_size": 128, "vocab_size": 100}
    if model_type == "gpt_oss":
        config |= {"num_local_experts": 4, "num_experts_per_tok": 2}
    m = model_from_config(config)
    windows = [layer.attention.sliding_window for layer in m.layers for _ in range(layer.count)]
    window = 128 if model_type == "gpt_oss" else 4096
    assert windows == [None if i in full else window for i in range(layers)]
