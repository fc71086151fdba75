"""Published configs of architectures parity reads from their keys or their class (tests/data/hf, sources in
SOURCES.md there), against their published sizes; and the refusals that name why a config is not read.

By hand, for hidden h, L layers, MLP width f, vocabulary V; parity counts an RMSNorm-sized weight per norm (no
LayerNorm bias) and no learned position table, as it does for GPT-2:
  StarCoder2-7B (h 4,608, L 32, 36 heads and 4 KV heads of 128, plain MLP f 18,432, biases on every linear layer,
  head tied as Starcoder2Config ties it): a layer 2 h^2 (q, o) + 2 h 512 (k, v) + 10,240 biases + 2 h f + f + h
  + 2 h = 217,097,728; 32 of them, the 49,152 x 4,608 embedding and the final norm: 7,173,624,320 (published
  7.17 B; it read 10,116,960,768 as gated and untied).
  SantaCoder (gpt_bigcode, h 2,048, L 24, 16 heads of 128, multi_query: one K/V head, f 8,192, biased, tied): a
  layer 2 h^2 + 2 h 128 + 4,352 + 2 h f + f + h + 2 h = 42,486,016; 24 of them, 49,280 x 2,048 and the norm:
  1,120,591,872 (published 1.1 B; it read 1,812,563,968). KV bf16: 24 x 2 x 128 x 2 B = 12,288 (it read 196,608).
  phi-2 (phi-msft, h 2,560, L 32, n_inner null = 4 h, GPT-2's activation_function: a plain MLP, untied): a layer
  4 h^2 + 2 h 4h + 2 h = 78,648,320; 32 of them, two 51,200 x 2,560 tables and the norm: 2,778,892,800 (published
  2.7 B, 2,779,683,840 with its biases and one LayerNorm a layer; it was refused).
  DBRX (h 6,144, L 40, 48 heads and 8 KV heads of 128, 16 gated experts of 10,752, top 4, untied): a layer 2 h^2
  + 2 h 1,024 + 16 x 3 h 10,752 + 16 h (router) + 2 h = 3,259,084,800; 40 of them, two 100,352 x 6,144 tables and
  the norm: 131,596,523,520 (published 132 B); 12 idle experts a layer fewer, 36,469,708,800 active (36 B).
  Laguna-XS.2 (h 2,048, 40 layers: 10 full of 48 query heads, 30 sliding of 64; layer 0 a dense MLP of 8,192, the
  rest 256 experts of 512 and a shared one): 33,944,668,160 read before with 48 heads and 40 MoE layers; 30 x 2 h
  16 x 128 = 251,658,240 more query and output weights, and layer 0's MLP 3 h 8,192 = 50,331,648 in place of the
  808,976,384 of experts, router and shared expert: 33,437,681,664; active 2,739,046,400 + 251,658,240 + 50,331,648
  - 28,835,840 (8 experts, the shared one and the router) = 3,012,200,448.
"""

import json
from pathlib import Path

import pytest

from parity.dtypes import format_named
from parity.errors import ModelConfigError
from parity.hf import model_from_config, read_config, read_model

DATA = Path(__file__).parent / "data" / "hf"


def _read(name: str):
    return read_model(DATA / f"{name}_config.json")


@pytest.mark.parametrize(("name", "parameters", "active", "kv_bytes"), [
    ("bigcode--starcoder2", 7_173_624_320, 7_173_624_320, 65_536),
    ("bigcode--gpt_bigcode-santacoder", 1_120_591_872, 1_120_591_872, 12_288),
    ("microsoft--phi-2", 2_778_892_800, 2_778_892_800, 327_680),
    ("databricks--dbrx-instruct", 131_596_523_520, 36_469_708_800, 163_840),
    ("poolside--Laguna-XS.2-FP8", 33_437_681_664, 3_012_200_448, 56_320),
])
def test_published_configs_read_their_published_sizes(name: str, parameters: int, active: int,
                                                      kv_bytes: int) -> None:
    m = _read(name)
    assert (m.parameters, m.active_parameters, m.kv_cache_bytes_per_token(format_named("bf16"), 4096)) == (
        parameters, active, kv_bytes)


def test_starcoder_and_santacoder_read_as_their_classes_build_them() -> None:
    """Known classes now: no flag; plain biased MLPs, tied heads; SantaCoder's one K/V head."""
    starcoder, santacoder = _read("bigcode--starcoder2"), _read("bigcode--gpt_bigcode-santacoder")
    assert starcoder.flags == santacoder.flags == ()
    assert starcoder.tie_word_embeddings and santacoder.tie_word_embeddings
    assert {(layer.mlp.gated, layer.mlp.bias) for m in (starcoder, santacoder) for layer in m.layers} == {(False, True)}
    assert santacoder.layers[0].attention.num_key_value_heads == 1
    # multi_query false, or a KV-head key beside it (Falcon-40B's 8), is read as stated
    config = read_config(DATA / "bigcode--gpt_bigcode-santacoder_config.json")
    assert model_from_config({**config, "multi_query": False}).layers[0].attention.num_key_value_heads == 16
    assert model_from_config({**config, "num_kv_heads": 8}).layers[0].attention.num_key_value_heads == 8


def test_an_unknown_architecture_names_each_guess_that_sizes_it() -> None:
    """StarCoder2-7B under an unknown name: its mlp_type 'default' still reads a plain MLP and use_bias its biases,
    but the untied head is a guess (7,173,624,320 plus a 49,152 x 4,608 = 226,492,416 head), and the flag says so;
    phi-2 states its head and reads its MLP from activation_function, so only its KV heads are assumed."""
    config = read_config(DATA / "bigcode--starcoder2_config.json") | {"model_type": "foo"}
    m = model_from_config(config)
    assert m.parameters == 7_173_624_320 + 226_492_416
    assert m.flags[-1].text == (
        'unknown architecture Starcoder2ForCausalLM (model_type "foo"): guessed from its keys (activation_function, '
        "mlp_type, sliding_window, use_bias); assumed an untied head; what its class adds unstated (defaults, q/k "
        "norms, biases) is missing")
    bare = model_from_config({key: config[key] for key in ("model_type", "hidden_size", "num_hidden_layers",
                                                           "num_attention_heads", "intermediate_size", "vocab_size")})
    assert bare.flags[-1].text == (
        'unknown architecture (model_type "foo"): guessed from its keys (the plain sizes only); assumed a gated MLP '
        "(3 matrices), an untied head and KV heads = attention heads; what its class adds unstated (defaults, q/k "
        "norms, biases) is missing")
    assert "assumed KV heads = attention heads;" in _read("microsoft--phi-2").flags[-1].text
    with pytest.raises(ModelConfigError, match=r'^model: mlp_type "swiglu" is not modelled \(parity reads "default", '
                                               r"a plain MLP of two matrices\)$"):
        model_from_config(config | {"mlp_type": "swiglu"})


def test_n_inner_null_is_four_times_hidden_as_gpt2_reads_it() -> None:
    """A gated guess with n_inner null (as GPT2Config and PhiConfig take it): 4 x 2,560 = 10,240 wide."""
    config = read_config(DATA / "microsoft--phi-2_config.json")
    del config["activation_function"]
    assert {layer.mlp.intermediate_size for layer in model_from_config(config).layers} == {10_240}


def test_mlx_quantization_without_a_method_is_refused() -> None:
    """mlx-lm's {"group_size": 64, "bits": 4} (as quantization, and as quantization_config since mlx-lm #957) was
    priced as bf16 weights, 3.6x their size."""
    reads = "parity reads quant_method awq, gptq, fp8, mxfp4, compressed-tensors or modelopt, and will not take " \
            "these weights as unquantized"
    with pytest.raises(ModelConfigError) as err:
        _read("mlx-community--dbrx-instruct-4bit")
    assert str(err.value) == ("mlx-community--dbrx-instruct-4bit_config.json: quantization states 4 bits with no "
                              f"quant_method (an MLX checkpoint?); {reads}")
    config = read_config(DATA / "databricks--dbrx-instruct_config.json")
    for record, stated in (({"group_size": 64, "bits": 4}, "4 bits with no quant_method (an MLX checkpoint?)"),
                           ({"load_in_4bit": True}, "load_in_4bit with no quant_method")):
        with pytest.raises(ModelConfigError) as err:
            model_from_config(config | {"quantization_config": record})
        assert str(err.value) == f"model: quantization_config states {stated}; {reads}"


def test_refusals_name_the_reason() -> None:
    with pytest.raises(ModelConfigError) as err:
        _read("tiiuae--falcon-mamba-7b")
    assert str(err.value) == ('tiiuae--falcon-mamba-7b_config.json: model_type "falcon_mamba" (Mamba (v1) layers, '
                              "no attention) is not modelled by parity")
    config = read_config(DATA / "databricks--dbrx-instruct_config.json")
    with pytest.raises(ModelConfigError) as err:
        model_from_config(config | {"ffn_config": [10752]})
    assert str(err.value) == "model: ffn_config must be a JSON object {...}, got an array"


def test_laguna_reads_its_per_layer_heads_and_mlps_and_flags_its_head_gate() -> None:
    """Laguna's g_proj is a sigmoid gate per head (hidden x heads), not Qwen3-Next's per feature, which
    Attention.output_gate holds: it stays flagged."""
    m = _read("poolside--Laguna-XS.2-FP8")
    assert [(layer.count, layer.attention.num_attention_heads, layer.moe) for layer in m.layers[:3]] == [
        (1, 48, False), (3, 64, True), (1, 48, True)]
    assert [f.text for f in m.flags[:2]] == ["unmodelled: gating", "unmodelled: moe_routed_scaling_factor"]
    config = read_config(DATA / "poolside--Laguna-XS.2-FP8_config.json")
    with pytest.raises(ModelConfigError) as err:
        model_from_config(config | {"mlp_layer_types": ["dense", "moe"] + ["sparse"] * 38})
    assert str(err.value) == 'model: mlp_layer_types entry "moe" for layer 1 must be "dense" or "sparse"'


def test_runtime_and_loader_keys_are_not_flagged() -> None:
    """The attention kernel, transformers.js's export, Phi-3's top-level original_max_position_embeddings and the
    like change no weight or cache (SantaCoder's dropouts and GPT-2 summary keys, StarCoder2's norm_epsilon: the
    flags above are empty); an unknown key still is."""
    config = read_config(DATA / "bigcode--starcoder2_config.json") | {
        "_attn_implementation": "sdpa", "attn_implementation": "eager", "is_llama_config": True,
        "transformers.js_config": {"kv_cache_dtype": {"q4f16": "float16"}}, "_from_model_config": True,
        "original_max_position_embeddings": 4096, "bogus_key": 1}
    assert [f.text for f in model_from_config(config).flags] == ["unmodelled: bogus_key"]


@pytest.mark.parametrize(("name", "features"), [("bigcode--gpt_bigcode-santacoder", "dense, MQA"),
                                                ("microsoft--phi-2", "dense, MHA")])
def test_the_features_row_names_how_kv_heads_are_shared(name: str, features: str) -> None:
    """A model with none of the features names its attention: 'dense GQA' was printed for MHA and MQA alike."""
    from click.testing import CliRunner

    from parity.cli import cli

    done = CliRunner().invoke(cli, ["model", str(DATA / f"{name}_config.json")])
    assert done.exit_code == 0, done.output
    assert [line.split(maxsplit=1)[1].strip() for line in done.output.splitlines() if line.startswith("features")] \
        == [features]
    assert _read(name).kv_sharing == features.removeprefix("dense, ")


def test_dbrx_without_kv_n_heads_takes_its_class_default_of_one() -> None:
    """DbrxAttentionConfig's kv_n_heads defaults to 1; a DBRX config leaving it out read 48 KV heads (983 kB of KV a
    token, fuzz 21 3.1): 40 layers x 1 head x 128 x 2 (K and V) x 2 bytes = 20,480 B."""
    config = json.loads((DATA / "databricks--dbrx-instruct_config.json").read_text())
    del config["attn_config"]["kv_n_heads"]
    model = model_from_config(config)
    assert model.kv_cache_bytes_per_token(format_named("bf16")) == 20_480
