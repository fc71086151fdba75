"""Configs as a new model ships them: Google's own Gemma 3, Mistral and Phi-3 read as their classes read them; a
download folder's config.json named after its folder; BERT and T5, and malformed vision or quantization records,
refused in one line; keys a plain class never reads left unread.

Gemma-3-27B (text): 62 layers of q 5,376 x 4,096, k and v 5,376 x 2,048 each, o 4,096 x 5,376 (66,060,288), a
gated MLP 3 x 5,376 x 21,504 (346,816,512), four norms of 5,376 and q/k norms of 128 (21,760): 412,898,560 a layer,
25,599,710,720 in all; a tied embedding of 262,208 (Gemma3TextConfig's vocab_size) x 5,376 = 1,409,630,208 and a
final norm: 27,009,346,304. Gemma-3-4B: 34 layers of 8 heads, 4 KV heads of 256 (the class's) on 2,560: 15,728,640
of attention, 78,643,200 of MLP, 10,752 of norms: 3,209,008,128; with 262,208 x 2,560 = 671,252,480 and 2,560:
3,880,263,168.
Mistral-7B: 32 layers of 2 x 4,096^2 + 2 x 4,096 x 1,024 + 3 x 4,096 x 14,336 + 2 x 4,096 = 218,112,000, an untied
embedding and head of 32,000 x 4,096 each and a final norm: 7,241,732,096. Phi-3-mini: 32 layers of 4 x 3,072^2 +
3 x 3,072 x 8,192 + 2 x 3,072 = 113,252,352, two 32,064 x 3,072 tables and a norm: 3,821,079,552.
"""

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from parity.errors import ModelConfigError
from parity.hf import model_from_config, model_name, read_config, read_model

DATA = Path(__file__).parent / "data" / "hf"
GEMMA3_27B = DATA / "google--gemma-3-27b-it_config.json"
# google/gemma-3-4b-it's text_config: no vocab_size, no head counts, no head_dim
GEMMA3_4B_TEXT = {"hidden_size": 2560, "intermediate_size": 10240, "model_type": "gemma3_text", "num_hidden_layers": 34,
                  "rope_scaling": {"factor": 8.0, "rope_type": "linear"}, "sliding_window": 1024}
LLAMA = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336,
         "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8, "vocab_size": 32000,
         "max_position_embeddings": 32768}
MISTRAL_7B = {**LLAMA, "architectures": ["MistralForCausalLM"], "model_type": "mistral", "sliding_window": 4096}
PHI3_MINI = {"architectures": ["Phi3ForCausalLM"], "model_type": "phi3", "hidden_size": 3072, "intermediate_size": 8192,
             "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 32, "vocab_size": 32064,
             "max_position_embeddings": 131072, "original_max_position_embeddings": 4096, "sliding_window": 262144,
             "attention_bias": False, "tie_word_embeddings": False}


def _gemma3(text: dict[str, Any] | None = None) -> dict[str, Any]:
    config = json.loads(GEMMA3_27B.read_text())
    return config if text is None else {**config, "text_config": text}


@pytest.mark.parametrize(("text", "parameters"), [(None, 27_009_346_304), (GEMMA3_4B_TEXT, 3_880_263_168)])
def test_googles_gemma3_configs_read_with_their_class_defaults(text: dict | None, parameters: int) -> None:
    """google/gemma-3-27b-it's text_config leaves out vocab_size and the 4B's its head counts too: both were refused
    ('missing key vocab_size'); Gemma3TextConfig fills them, its 131,072-token window with them ('not stated')."""
    m = model_from_config(_gemma3(text))
    assert (m.parameters, m.vision_parameters, m.context_window, m.flags) == (parameters, 438_686_064, 131_072, ())
    assert m.num_layers - sum(layer.count for layer in m.layers if layer.attention.sliding_window) == m.num_layers // 6


def test_a_config_json_is_named_after_its_folder(tmp_path: Path) -> None:
    """Two download folders' config.json were both named 'config' ('config named twice' in compare; 'Training config
    on ...'); a file of another name keeps its stem."""
    for folder in ("d1", "d3"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "config.json").write_text(json.dumps(LLAMA))
    assert [read_model(tmp_path / f / "config.json").name for f in ("d1", "d3")] == ["d1", "d3"]
    assert model_name(Path("llama_config.json")) == "llama" and model_name(Path("x/Llama-8B.json")) == "Llama-8B"

    from click.testing import CliRunner

    from parity.cli import cli
    done = CliRunner().invoke(cli, ["model", str(tmp_path / "d3")])
    assert done.exit_code == 0, done.output
    assert done.output.split("\n", 1)[0].strip() == "d3"


@pytest.mark.parametrize(("config", "said"), [
    ({"architectures": ["BertForMaskedLM"], "model_type": "bert"},
     'BertForMaskedLM (model_type "bert") is an encoder-only model'),
    ({"architectures": ["NewForMaskedLM"], "model_type": "new_bert", "is_decoder": False},
     'NewForMaskedLM (model_type "new_bert") is an encoder-only model'),
    ({"architectures": ["T5ForConditionalGeneration"], "model_type": "t5", "d_ff": 3072},
     'T5ForConditionalGeneration (model_type "t5") is an encoder-decoder model'),
    ({"model_type": "new_seq2seq", "is_encoder_decoder": True}, 'model_type "new_seq2seq" is an encoder-decoder model'),
])
def test_encoders_and_encoder_decoders_are_refused_naming_why(config: dict, said: str) -> None:
    """BERT was priced as a causal decoder of 160 M parameters with only 'unknown architecture' flagged; T5 was
    refused for a missing intermediate_size. Both are refused for what they are."""
    sizes = {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072,
             "vocab_size": 30522}
    with pytest.raises(ModelConfigError, match=re.escape(f"m: {said}") + ".*; parity prices decoder-only LLMs"):
        model_from_config({**sizes, **config}, "m")


@pytest.mark.parametrize(("vision", "message"), [
    ({"hidden_size": -5}, "g vision_config: hidden_size must be an integer >= 1, got -5"),
    ({"hidden_size": "1152"}, 'g vision_config: hidden_size must be an integer >= 1, got "1152"'),
    ("x", "g: vision_config must be a JSON object {...}, got a string"),
])
def test_a_malformed_vision_config_is_refused(vision: object, message: str) -> None:
    """Each read as no vision tower (0 parameters), exit 0."""
    config = _gemma3()
    config["vision_config"] = vision if isinstance(vision, str) else {**config["vision_config"], **vision}
    with pytest.raises(ModelConfigError, match=re.escape(message)):
        model_from_config(config, "g")


GPT_OSS = {"model_type": "gpt_oss", "hidden_size": 64, "intermediate_size": 64, "num_attention_heads": 4,
           "num_key_value_heads": 2, "head_dim": 16, "num_hidden_layers": 2, "vocab_size": 100,
           "num_local_experts": 4, "num_experts_per_tok": 2}


@pytest.mark.parametrize(("record", "message"), [
    ({}, "m: quantization_config is empty ({}) with no quant_method"),
    ({"quant_method": "mxfp4", "modules_to_not_convert": "lm_head"},
     'm: quantization_config.modules_to_not_convert must be a list of module names (strings), got "lm_head" '
     "(a string)"),
])
def test_a_malformed_quantization_record_is_refused(record: dict, message: str) -> None:
    """{} read the experts as bf16 unflagged; one string (transformers extends a list with it, letter by letter) read
    gpt-oss's attention as mxfp4. The list form still reads: MXFP4 experts, the dense weights in the checkpoint's
    dtype whatever the list names (vLLM's Mxfp4Config runs linear layers unquantized)."""
    with pytest.raises(ModelConfigError, match=re.escape(message)):
        model_from_config({**GPT_OSS, "quantization_config": record}, "m")
    listed = model_from_config({**GPT_OSS, "quantization_config": {"quant_method": "mxfp4",
                                                                   "modules_to_not_convert": ["lm_head"]}})
    assert (listed.weight_format, listed.expert_weight_format) == ("bf16", "mxfp4")


def test_mxfp4_on_a_dense_model_is_refused() -> None:
    """A dense qwen2 config with quant_method mxfp4 read as MXFP4 dense weights, unflagged; transformers' MXFP4
    quantizer swaps only gpt-oss's experts and vLLM's Mxfp4Config quantizes no linear layer."""
    with pytest.raises(ModelConfigError) as err:
        model_from_config({**LLAMA, "model_type": "qwen2", "quantization_config": {"quant_method": "mxfp4"}}, "m")
    assert str(err.value) == ('m: quantization_config: quant_method "mxfp4" quantizes MoE experts alone '
                              "(transformers' Mxfp4HfQuantizer swaps only GptOssExperts; vLLM's Mxfp4Config runs no "
                              "linear layer in MXFP4), and this model has no routed experts")


QWEN3_MOE = {"model_type": "qwen3_moe", "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4,
             "num_key_value_heads": 2, "head_dim": 16, "num_hidden_layers": 4, "vocab_size": 100, "num_experts": 8,
             "num_experts_per_tok": 2, "moe_intermediate_size": 32}


@pytest.mark.parametrize("layers", ["0,1", [100, -1], [0, 4], [0.0], [True]])
def test_mlp_only_layers_must_be_layer_indices(layers: object) -> None:
    """"0,1" (a string) was read as no index and [100, -1] as indices of no layer: both loaded as if empty, all 4
    layers MoE. An index must be an integer in [0, num_hidden_layers); [0, 3] still makes layers 0 and 3 dense."""
    with pytest.raises(ModelConfigError, match=re.escape(
            "model: mlp_only_layers must list layer indices, integers in [0, num_hidden_layers=4), got "
            f"{json.dumps(layers)}")):
        model_from_config({**QWEN3_MOE, "mlp_only_layers": layers})
    m = model_from_config({**QWEN3_MOE, "mlp_only_layers": [0, 3]})
    assert [(layer.count, layer.moe) for layer in m.layers] == [(1, False), (2, True), (1, False)]


@pytest.mark.parametrize(("experts", "key"), [({"num_experts": 8}, "num_experts"),
                                              ({"num_local_experts": 8, "model_type": "mixtral"}, "num_local_experts")])
def test_too_many_experts_per_token_is_refused_by_the_configs_own_keys(experts: dict, key: str) -> None:
    """It said 'experts_per_token must be in [1, num_experts=128], got 200', parity's field names, for a config
    stating num_experts_per_tok."""
    config = {**{k: v for k, v in QWEN3_MOE.items() if k != "num_experts"}, **experts, "num_experts_per_tok": 200}
    with pytest.raises(ModelConfigError) as err:
        model_from_config(config)
    assert str(err.value) == f"model: num_experts_per_tok must be in [1, {key}=8], got 200"


@pytest.mark.parametrize("block", ["128", [128], [128, 0], [128, 128.5], [], [128, 128, 1]])
def test_fp8_weight_block_size_must_be_two_positive_integers(block: object) -> None:
    """"128" (a string) read as 128 x 128 blocks (fp8_block); vLLM's Fp8Config refuses a block size of other than 2
    dimensions. [128, 128] still reads as fp8_block, none as per-tensor fp8."""
    record = {"quant_method": "fp8", "activation_scheme": "dynamic"}
    with pytest.raises(ModelConfigError) as err:
        model_from_config({**LLAMA, "quantization_config": {**record, "weight_block_size": block}}, "m")
    assert str(err.value) == ("m: quantization_config.weight_block_size must be two positive integers ([128, 128]: a "
                              f"block's rows and columns), got {json.dumps(block)}")
    blocks = model_from_config({**LLAMA, "quantization_config": {**record, "weight_block_size": [128, 128]}})
    assert (blocks.weight_format, model_from_config({**LLAMA, "quantization_config": record}).weight_format) == (
        "fp8_block", "fp8")


def test_a_llamas_sliding_window_is_read_only_beside_layer_types() -> None:
    """LlamaConfig has no sliding_window and transformers' LlamaAttention passes none; vLLM's llama.py windows only
    the layers layer_types marks sliding_attention. A plain llama config's sliding_window 4,096 capped its KV at
    32k context to 4,096 / 32,768 of 32 x 2 x 8 x 128 = 65,536 elements a token (8,192): now unread and flagged,
    65,536. Beside layer_types the window still holds."""
    plain = model_from_config({**LLAMA, "sliding_window": 4096})
    assert plain.kv_elements_per_token(context=32768) == 65_536
    assert [f.text for f in plain.flags] == ['ignored: sliding_window (model_type "llama" has no such part; its class '
                                             "does not read the key)"]
    typed = model_from_config({**LLAMA, "sliding_window": 4096, "layer_types": ["sliding_attention"] * 32})
    assert (typed.kv_elements_per_token(context=32768), typed.flags) == (8_192, ())


@pytest.mark.parametrize("model_type", ["gpt_oss", "qwen3_next"])
def test_attention_chunk_size_is_flagged_where_no_layer_is_chunked(model_type: str) -> None:
    """attention_chunk_size is Llama 4's alone (Llama4TextConfig); GptOssConfig and Qwen3NextConfig never read it.
    Beside layer_types or full_attention_interval it was dropped with no word, where a llama config flags it; in a
    gpt-oss config without layer_types it made every layer chunked (KV 32 elements a token at 32k, not 64.25). Now
    it is left unread and flagged as a llama's is: the same numbers with and without it."""
    config = {**GPT_OSS, "model_type": model_type}
    plain, chunked = model_from_config(config), model_from_config({**config, "attention_chunk_size": 8192})
    assert (chunked.parameters, chunked.kv_elements_per_token(context=32768)) == (
        plain.parameters, plain.kv_elements_per_token(context=32768))
    assert plain.flags == ()
    assert [f.text for f in chunked.flags] == [f'ignored: attention_chunk_size (model_type "{model_type}" has no such '
                                               "part; its class does not read the key)"]


@pytest.mark.parametrize("keys", [
    {"num_local_experts": 8, "num_experts_per_tok": 2}, {"attention_chunk_size": 8192},
    {"num_nextn_predict_layers": 1}, {"attn_type_list": [0, 1] * 16},
    {"index_topk": 2048, "index_n_heads": 64, "index_head_dim": 128}])
def test_keys_a_llama_never_reads_leave_it_a_llama(keys: dict) -> None:
    """num_local_experts made a llama config a 46.7 B Mixtral, attention_chunk_size a chunked Llama 4, and so on:
    LlamaForCausalLM reads none of them. Each is left unread and flagged; a Mixtral still reads its experts."""
    m = model_from_config({**LLAMA, **keys})
    assert (m.parameters, m.features, m.mtp_layers) == (7_241_732_096, frozenset(), ())
    assert [f.text for f in m.flags] == [f'ignored: {key} (model_type "llama" has no such part; its class does not '
                                         "read the key)" for key in sorted(keys)]
    mixtral = model_from_config({**LLAMA, "model_type": "mixtral", "num_local_experts": 8, "num_experts_per_tok": 2})
    assert (mixtral.parameters, mixtral.flags) == (46_702_792_704, ())


def test_a_gemma3_v5_config_reads_its_sliding_pattern_and_checks_it() -> None:
    """transformers v5 writes _sliding_window_pattern beside layer_types: it was flagged 'unmodelled'. It agrees
    with layer_types (every 6th layer full) and is read unflagged; one that disagrees is refused."""
    text = {**_gemma3()["text_config"], "vocab_size": 262208, "_sliding_window_pattern": 6,
            "layer_types": ["sliding_attention" if (i + 1) % 6 else "full_attention" for i in range(62)]}
    m = model_from_config(_gemma3(text))
    assert (m.parameters, m.flags) == (27_009_346_304, ())
    with pytest.raises(ModelConfigError, match=re.escape(
            'g text_config: layer_types[3] is "sliding_attention", but _sliding_window_pattern 4 makes every 4th '
            "layer full attention and the others sliding")):
        model_from_config(_gemma3({**text, "_sliding_window_pattern": 4}), "g")


def test_glm4_moe_attention_bias_biases_q_k_and_v_only() -> None:
    """Glm4MoeAttention: q_proj, k_proj and v_proj take attention_bias, o_proj bias=False. Two layers of 4 heads and
    2 KV heads of 16 on 64: (64 + 32 + 32) biases a layer, 256 in all (with an o bias, 384)."""
    config = {"model_type": "glm4_moe", "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4,
              "num_key_value_heads": 2, "head_dim": 16, "num_hidden_layers": 2, "vocab_size": 100,
              "moe_intermediate_size": 32, "n_routed_experts": 4, "num_experts_per_tok": 2, "first_k_dense_replace": 1}
    biased = model_from_config({**config, "attention_bias": True})
    assert biased.parameters - model_from_config({**config, "attention_bias": False}).parameters == 256
    assert not any(layer.attention.o_bias for layer in biased.layers)


@pytest.mark.parametrize(("config", "parameters", "kv_heads", "window"), [
    (MISTRAL_7B, 7_241_732_096, 8, 4096), ({**MISTRAL_7B, "sliding_window": None}, 7_241_732_096, 8, None),
    ({k: v for k, v in MISTRAL_7B.items() if k not in ("sliding_window", "num_key_value_heads")}, 7_241_732_096, 8,
     4096),
    (PHI3_MINI, 3_821_079_552, 32, 262_144)])
def test_mistral_and_phi3_are_known_classes(config: dict, parameters: int, kv_heads: int, window: int | None) -> None:
    """Both read exactly but carried 'unknown architecture'. MistralConfig's defaults: 8 KV heads, a window of
    4,096 (null: none, as Mistral-7B-v0.3 states)."""
    m = model_from_config(config)
    assert (m.parameters, m.flags) == (parameters, ())
    assert {(layer.attention.num_key_value_heads, layer.attention.sliding_window) for layer in m.layers} \
        == {(kv_heads, window)}


def test_a_utf8_byte_order_mark_is_read(tmp_path: Path) -> None:
    """A config saved with a byte-order mark was refused in Python's words ('decode using utf-8-sig')."""
    path = tmp_path / "bom_config.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(LLAMA).encode())
    assert read_config(path) == LLAMA
    assert read_model(path).parameters == 7_241_732_096


def test_models_states_the_checkpoint_formats_under_models_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """`models --format json` gave "weights": "bf16/bf16", one slash string, where `model X` gives checkpoint_weights
    and checkpoint_expert_weights (report-only tester fixdz2 3): the same two keys in both, JSON and CSV; the table
    keeps 'dense/experts' for people (gpt-oss-120b's bf16 attention beside its mxfp4 experts)."""
    from click.testing import CliRunner

    from parity import catalog
    from parity.cli import cli
    wanted = {"llama-3.1-8b": ("bf16", "bf16"), "gpt-oss-120b": ("bf16", "mxfp4"),
              "deepseek-r1": ("fp8_block", "fp8_block")}
    entries = catalog.models()
    monkeypatch.setattr(catalog, "models", lambda: tuple(e for e in entries if e.id in wanted))
    runner = CliRunner()
    keys = ("checkpoint_weights", "checkpoint_expert_weights")
    listed = {row["id"]: row for row in json.loads(runner.invoke(cli, ["models", "--format", "json"]).output)}
    shown = {name: json.loads(runner.invoke(cli, ["model", name, "--format", "json"]).output) for name in wanted}
    assert {name: tuple(row[k] for k in keys) for name, row in listed.items()} == wanted
    assert {name: tuple(record[k] for k in keys) for name, record in shown.items()} == wanted
    assert not any("weights" in row for row in listed.values())
    rows = csv.DictReader(io.StringIO(runner.invoke(cli, ["models", "--format", "csv"]).output))
    assert {r["id"]: tuple(r[k] for k in keys) for r in rows} == wanted
    table = runner.invoke(cli, ["models", "--wide"], env={"COLUMNS": "200"}).output
    assert re.search(r"^gpt-oss-120b .* bf16/mxfp4$", table, re.M)


def test_model_and_models_name_the_same_features_and_say_what_active_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    """`model llama-3.1-8b` said 'dense GQA' where `models` left the cell blank (JSON features []) and Qwen3-8B, GQA
    too, showed 'qk_norm' alone; neither said the active count holds the embedding and head (gpt-oss-120b's 5.71 B
    against OpenAI's 5.13 B). One rule now, and the count less both: 5,711,982,912 - 2 x 201,088 x 2,880 =
    4,553,716,032 (the card's 5.13 B is this and the head)."""
    from click.testing import CliRunner

    from parity import catalog
    from parity.cli import cli
    wanted = {"llama-3.1-8b": ["dense", "GQA"], "qwen3-8b": ["dense", "GQA", "qk_norm"],
              "gpt-oss-120b": ["GQA", "moe", "sinks", "sliding_window"], "deepseek-v3": ["mla", "moe", "mtp"]}
    entries = catalog.models()
    monkeypatch.setattr(catalog, "models", lambda: tuple(e for e in entries if e.id in wanted))
    runner = CliRunner()
    listed = {row["id"]: row for row in json.loads(runner.invoke(cli, ["models", "--format", "json"]).output)}
    shown = {name: json.loads(runner.invoke(cli, ["model", name, "--format", "json"]).output) for name in wanted}
    assert {name: row["features"] for name, row in listed.items()} == wanted
    assert {name: record["features"] for name, record in shown.items()} == wanted
    assert listed["gpt-oss-120b"]["active_parameters_without_embeddings"] == 4_553_716_032
    assert shown["gpt-oss-120b"]["active_parameters_without_embeddings"] == 4_553_716_032
    table = runner.invoke(cli, ["model", "qwen3-8b"]).output
    assert re.search(r"^active parameters per token \(embedding and head included\) +8,190,735,360$", table, re.M)
    assert re.search(r"^features +dense, GQA, qk_norm$", table, re.M)
    assert "active B: the weights one token uses, embedding table and LM head included" in " ".join(
        runner.invoke(cli, ["models"], env={"COLUMNS": "120"}).output.split())
