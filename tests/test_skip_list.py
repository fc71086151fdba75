"""A checkpoint's quantization skip list read matrix by matrix (hf.skips): the matrices it names stay bf16, the rest
take the checkpoint's format; a list naming a matrix in some layers or in part is refused."""

import json
import re

import pytest

from parity import catalog
from parity.catalog.files import data_dir
from parity.errors import ModelConfigError
from parity.graph import forward
from parity.hf import model_from_config, read_config
from parity.hf import skips
from parity.memory import weight_bytes_per_device
from parity.ops import Batch, Gemm
from parity.plan import Layout, Precision, Shard
from parity.predict import predict_rows, scenario_from_row

LLAMA_8B = read_config(data_dir() / "models" / "meta-llama--Meta-Llama-3.1-8B_config.json")
BASE = {"model_type": "llama", "num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4,
        "intermediate_size": 128, "vocab_size": 100}


MOE = {**BASE, "model_type": "qwen3_moe", "num_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 32,
       "decoder_sparse_step": 1, "mlp_only_layers": []}


def _nvfp4(config: dict, skipped: object):
    return model_from_config(config, quant={"quantization": {"quant_algo": "NVFP4", "exclude_modules": skipped}})


def _compressed(config: dict, ignore: list[str]):
    """The config as a compressed-tensors NVFP4 checkpoint whose ignore list is `ignore`."""
    return model_from_config({**config, "quantization_config": {"quant_method": "compressed-tensors", "ignore": ignore,
                              "config_groups": {"group_0": {"weights": {"num_bits": 4, "type": "float"}}}}})


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
    assert scenario_from_row({**row, "weights": "nvfp4"}).precision.unquantized == m.unquantized_matrices  # its own
    assert scenario_from_row({**row, "weights": "fp8"}).precision.unquantized == frozenset()  # re-quantized


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
     "hf_quant_config.json: quantization.exclude_modules leaves o, qkv unquantized in 1 of the 2 layers holding them "
     "(layer 0: vLLM runs those in bf16, the others quantized); parity holds one format per matrix"),
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


def test_re_entries_are_regexes_only_where_the_format_reads_them() -> None:
    """'re:' is compressed-tensors' syntax (vLLM's should_ignore_layer); ModelOpt's exclude_modules are fnmatch
    wildcards and fp8's modules_to_not_convert names, where vLLM reads 're:...' as text that names no module (parity
    read it as a regex in every list: the ModelOpt list below left qkv bf16)."""
    regex = ["re:.*self_attn\\.(q|k|v)_proj$"]  # all three of the fused qkv
    assert _compressed(BASE, regex).unquantized_matrices == {"qkv"}
    assert _nvfp4(BASE, regex).unquantized_matrices == frozenset()
    fp8 = model_from_config({**BASE, "quantization_config": {"quant_method": "fp8", "modules_to_not_convert": regex}})
    assert fp8.unquantized_matrices == frozenset()


@pytest.mark.parametrize(("entry", "reason"), [
    ("re:[", "unterminated character set at position 0"),
    ("re:*", "nothing to repeat at position 0"),
    ("re:((", "missing ), unterminated subpattern at position 1"),
])
def test_a_regex_that_does_not_compile_is_refused_in_one_line(entry: str, reason: str) -> None:
    """A bad compressed-tensors regex raised re.error with a traceback (exit 1); ModelOpt reads the same text as a
    name, which names nothing."""
    with pytest.raises(ModelConfigError, match=re.escape(
            f"model: quantization_config.ignore: {json.dumps(entry)} is not a valid regular expression ({reason})")):
        _compressed(BASE, ["lm_head", entry])
    assert _nvfp4(BASE, [entry]).unquantized_matrices == frozenset()


def test_an_empty_regex_is_refused_as_a_likely_typo() -> None:
    """'re:' matches every module (re.match('')): it read a whole dense model as bf16 without a word."""
    with pytest.raises(ModelConfigError, match=re.escape('model: quantization_config.ignore: "re:" with no pattern '
                                                         "would match every module; name what it skips")):
        _compressed(BASE, ["lm_head", "re:"])


@pytest.mark.parametrize(("skipped", "message"), [
    (5, "exclude_modules must be a list of module names (strings), got 5 (a number)"),  # read as layer 5's modules
    ({"x": 1}, 'exclude_modules must be a list of module names (strings), got {"x": 1} (an object)'),  # read as none
    ([0, False, None], "exclude_modules[0] must be a module name (a string), got 0 (a number)"),
    (["lm_head", None], "exclude_modules[1] must be a module name (a string), got null"),
    ([["self_attn"]], 'exclude_modules[0] must be a module name (a string), got ["self_attn"] (an array)'),
    # one string: transformers' quantizers extend a list with it letter by letter (docs/model.md: refused)
    ("model.layers.*.mlp", 'exclude_modules must be a list of module names (strings), got "model.layers.*.mlp" '
                           "(a string)"),
])
def test_a_skip_list_that_is_not_a_list_of_names_is_refused(skipped: object, message: str) -> None:
    """Entries were turned into text: 0 named layer 0's modules (a refusal blaming that layer), an object or a nested
    list passed as naming nothing, one string as one name. A list of strings is read; anything else is refused,
    naming the entry and what it is."""
    with pytest.raises(ModelConfigError, match=re.escape(f"hf_quant_config.json: quantization.{message}")):
        _nvfp4(BASE, skipped)
    assert _nvfp4(BASE, ["model.layers.*.mlp"]).unquantized_matrices == {"up", "down"}


@pytest.mark.parametrize("record", [
    {"quant_method": "compressed-tensors", "ignore": "lm_head",
     "config_groups": {"group_0": {"weights": {"num_bits": 4, "type": "float"}}}},
    {"quant_method": "awq", "bits": 4, "modules_to_not_convert": "lm_head"},
    {"quant_method": "gptq", "bits": 4, "modules_to_not_convert": "lm_head"},
    {"quant_method": "fp8", "modules_to_not_convert": "lm_head"},
])
def test_a_skip_list_of_one_string_is_refused_in_every_format(record: dict) -> None:
    """compressed-tensors' ignore "lm_head" was read as one name (its QuantizationConfig types ignore as list[str]),
    AWQ's and GPTQ's list not read at all; fp8 alone refused it. Now one check (skips._names) refuses it for all."""
    key = "ignore" if "ignore" in record else "modules_to_not_convert"
    with pytest.raises(ModelConfigError, match=re.escape(
            f'model: quantization_config.{key} must be a list of module names (strings), got "lm_head" (a string)')):
        model_from_config({**BASE, "quantization_config": record})


@pytest.mark.parametrize(("method", "skipped", "matrices", "parameters", "weight_bytes"), [
    ("awq", None, frozenset(), 0, 5_700_059_136),
    ("awq", ["mlp"], {"up", "down"}, 5_637_144_576, 14_067_695_616),
    ("awq", ["self_attn"], {"qkv", "o"}, 1_342_177_280, 7_692_353_536),
    ("gptq", ["mlp"], {"up", "down"}, 5_637_144_576, 14_067_695_616),
])
def test_awq_and_gptq_keep_their_modules_to_not_convert_bf16(method: str, skipped: list[str] | None,
                                                               matrices: set[str], parameters: int,
                                                               weight_bytes: int) -> None:
    """Llama-3.1-8B int4 (AWQ/GPTQ, 0.5 B + a 2-byte scale per 128 = 0.515625 B an element) with
    modules_to_not_convert (vLLM's AWQConfig runs those modules unquantized; the list was ignored, every variant
    read as the first). TP 1, 32 layers:
    none: matrices 32 x (4,096 x 6,144 + 4,096 x 4,096 + 4,096 x 28,672 + 14,336 x 4,096) = 6,979,321,856
      x 0.515625 = 3,598,712,832 B + head and embedding 128,256 x 4,096 x 2 B each = 2,101,346,304 B: 5,700,059,136 B;
    ["mlp"]: up and down 32 x 3 x 4,096 x 14,336 = 5,637,144,576 bf16, + 5,637,144,576 x (2 - 0.515625)
      = 8,367,636,480 B: 14,067,695,616 B;
    ["self_attn"]: qkv and o 32 x (4,096 x 6,144 + 4,096 x 4,096) = 1,342,177,280, + x 1.484375 = 1,992,294,400 B:
      7,692,353,536 B."""
    record = {"quant_method": method, "bits": 4, "group_size": 128}
    m = model_from_config({**LLAMA_8B, "quantization_config": {
        **record, **({"modules_to_not_convert": skipped} if skipped else {})}})
    assert (m.weight_format, m.unquantized_matrices, m.unquantized_parameters) == ("int4", matrices, parameters)
    own = Precision(weights="int4", expert_weights="int4", unquantized=m.unquantized_matrices)
    assert float(weight_bytes_per_device(m, Shard.of(Layout()), own)) == weight_bytes


def _awq(skipped: list[str], method: str = "awq"):
    """Llama-3.1-8B as a 4-bit AWQ (or GPTQ) checkpoint whose modules_to_not_convert is `skipped`."""
    return model_from_config({**LLAMA_8B, "quantization_config": {
        "quant_method": method, "bits": 4, "group_size": 128, "modules_to_not_convert": skipped}})


@pytest.mark.parametrize(("skipped", "message"), [
    # a whole layer with its trailing dot: it named no module (an empty run after the dot) and read as no list
    (["model.layers.0."], " leaves down, o, qkv, up unquantized in 1 of the 32 layers holding them (layer 0: "),
    # text a path holds anywhere: layers 3, 30 and 31 (it said 1 of the 32)
    (["layers.3"], " leaves down, o, qkv, up unquantized in 3 of the 32 layers holding them (layers 3, 30, 31: "),
    (["layers.1"], " leaves down, o, qkv, up unquantized in 11 of the 32 layers holding them (layers 1, 10, 11, 12, "
                   "13, 14, 15, 16, ...: "),
    ([""], ': "" names text every module path holds; name what it skips'),
])
def test_awq_reads_its_skip_list_as_text_a_module_path_holds(skipped: list[str], message: str) -> None:
    """vLLM's AWQConfig skips a module whose path holds an entry anywhere (is_layer_skipped, skip_with_substr;
    transformers matches by substring too): "model.layers.0." names all of layer 0, which parity, holding one format
    per matrix, refuses as it refuses "model.layers.0" and "model.layers.0.mlp"."""
    at = "model: quantization_config.modules_to_not_convert"
    with pytest.raises(ModelConfigError, match=re.escape(at + message)):
        _awq(skipped)
    assert _awq(["proj"]).weight_format == "bf16"  # every projection's path holds "proj": all of it bf16
    assert _awq(["elf_att"]).unquantized_matrices == {"qkv", "o"}
    assert _awq(["elf_att"], "gptq").unquantized_matrices == frozenset()  # GPTQ's: names at a dot, as fp8's


@pytest.mark.parametrize(("weights", "unquantized", "memory_bytes", "note"), [
    ("", {"up", "down"}, 26_512_403_968, "down, up in bf16 (the checkpoint's skip list)"),
    ("int4", {"up", "down"}, 26_512_403_968, "down, up in bf16 (the checkpoint's skip list)"),
    ("INT4", {"up", "down"}, 26_512_403_968, "down, up in bf16 (the checkpoint's skip list)"),
    ("int8", frozenset(), 21_525_376_512, "the checkpoint's skip list not applied (down, up re-quantized to the "
                                          "weight format named, as the rest)"),
])
def test_naming_the_checkpoints_own_format_keeps_its_skip_list(tmp_path, weights: str, unquantized: set[str],
                                                                memory_bytes: int, note: str) -> None:
    """Llama-3.1-8B int4 AWQ with its MLPs in bf16 (["mlp"]) at TP 1 on an H100: --weights int4, the format it
    stores (compare's serve_command carries it), read all of it int4 (18,144,767,488 B a chip, 8,367,636,480 B less:
    test_awq_and_gptq_keep_their_modules_to_not_convert_bf16) and said nothing of the skip list. Another format
    re-quantizes every matrix, and the note says the skip list was not applied."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**LLAMA_8B, "quantization_config": {
        "quant_method": "awq", "bits": 4, "group_size": 128, "modules_to_not_convert": ["mlp"]}}))
    row = {"case_id": "x", "model": str(path), "system": "hgx-h100", "engine": "generic", "mode": "agg",
           "isl": "1024", "osl": "1024", "concurrency": "1", "tp": "1", "weights": weights,
           "random_range_ratio": "0.8"}
    assert scenario_from_row(row).precision.unquantized == unquantized
    (prediction,) = predict_rows([row])
    assert note in prediction.note
    assert prediction.memory_bytes_per_chip == memory_bytes


def test_a_per_expert_entry_is_refused_unless_the_fused_experts_are_named() -> None:
    """vLLM loads a layer's routed experts as one module (FusedMoE, model.layers.N.mlp.experts): an entry under it
    runs the whole module bf16 (ModelOpt, fp8) or is refused unless expert 0's gate, up and down agree
    (compressed-tensors). A list naming each expert's gate_proj (not up_proj) was passed over and the experts read
    NVFP4; it is refused as a fused set named in part is. Naming the module itself leaves the experts bf16."""
    per_expert = [f"model.layers.{i}.mlp.experts.{e}.gate_proj" for i in range(2) for e in range(4)]
    with pytest.raises(ModelConfigError, match=re.escape(
            'hf_quant_config.json: quantization.exclude_modules names "model.layers.0.mlp.experts.0.gate_proj", '
            "inside layer 0's routed experts, but not the experts whole (model.layers.0.mlp.experts): vLLM loads them "
            "as one fused module; parity holds one format for them")):
        _nvfp4(MOE, per_expert)
    m = _nvfp4(MOE, [f"model.layers.{i}.mlp.experts" for i in range(2)])
    assert (m.weight_format, m.expert_weight_format, m.unquantized_matrices) == ("nvfp4", "bf16", frozenset())


def test_the_per_expert_refusal_names_the_models_own_experts_module() -> None:
    """Mixtral's experts sit under block_sparse_moe: the refusal named model.layers.0.mlp.experts (a regression
    round)."""
    mixtral = json.loads((data_dir() / "models" / "mistralai--Mixtral-8x7B-v0.1_config.json").read_text())
    with pytest.raises(ModelConfigError, match=re.escape(
            "but not the experts whole (model.layers.0.block_sparse_moe.experts)")):
        _nvfp4(mixtral, ["model.layers.0.block_sparse_moe.experts.0.w1"])


def test_twenty_thousand_wildcards_compile_no_pattern_per_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each wildcard was compiled and tried on every matrix path of every layer (DeepSeek-V3.1: 4.5 ms an entry,
    20,000 entries 85 s). Wildcards are looked up by the text before or after their '*' (what a path must hold
    for them to match), so 20,000 that name nothing the model holds compile no pattern, and the list reads as the
    real list alone does."""
    compiled: list[str] = []
    real_compile = re.compile
    monkeypatch.setattr(skips.re, "compile", lambda pattern, *a: compiled.append(pattern) or real_compile(pattern, *a))
    listed = ["lm_head", "model.layers.*.self_attn*"] + [f"foo.bar{i}*" for i in range(10_000)] + [
        f"*baz{i}" for i in range(10_000)]
    assert _nvfp4(BASE, listed).unquantized_matrices == {"qkv", "o"}
    assert len(compiled) <= 2
