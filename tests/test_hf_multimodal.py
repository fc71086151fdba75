"""Multimodal wrappers: the vision tower counted apart whether the text sizes sit at the top level or nested, and
the special-token keys that change no compute read as harmless.

Qwen2.5-VL-7B's vision tower by hand, from transformers' modeling_qwen2_5_vl.py (hidden h 1,280, MLP width f 3,420,
32 blocks, patch 14, temporal patch 2, merge 2, out 3,584): patch embedding Conv3d without bias 3 x 2 x 14 x 14 x h
= 1,505,280; a block's qkv and proj with biases 4 h^2 + 4 h = 6,558,720, its gated MLP (gate_proj, up_proj,
down_proj, biased) 3 h f + 2 f + h = 13,140,920 and two RMSNorms 2 h: 19,702,200, x 32 = 630,470,400; the merger's
RMSNorm h, Linear(4 h, 4 h) and Linear(4 h, 3,584) with biases: 1,280 + 26,219,520 + 18,353,664 = 44,574,464.
Total 676,550,144 (the 2-matrix MLP and LayerNorms read it as 536,429,440 nested and 0 flat).
"""

import pytest

from parity.hf import model_from_config

# the text sizes of Qwen/Qwen2.5-VL-7B-Instruct's config.json (as its AWQ sibling and unsloth's copy state them)
_QWEN25_VL_TEXT = {"hidden_size": 3584, "intermediate_size": 18944, "num_attention_heads": 28, "num_hidden_layers": 28,
                   "num_key_value_heads": 4, "vocab_size": 152064, "max_position_embeddings": 128000,
                   "tie_word_embeddings": False, "sliding_window": 32768, "use_sliding_window": False,
                   "max_window_layers": 28}
_QWEN25_VL_IDS = {"bos_token_id": 151643, "eos_token_id": 151645, "vision_start_token_id": 151652,
                  "vision_end_token_id": 151653, "vision_token_id": 151654, "image_token_id": 151655,
                  "video_token_id": 151656}
# its vision_config as published today (hidden_size alone of the sizes; Qwen2_5_VLVisionConfig's defaults fill the
# rest) and as first released, every size stated
_VISION_PUBLISHED = {"hidden_size": 1280, "in_chans": 3, "model_type": "qwen2_5_vl", "spatial_patch_size": 14,
                     "tokens_per_second": 2, "torch_dtype": "bfloat16"}
_VISION_STATED = {"depth": 32, "hidden_act": "silu", "hidden_size": 1280, "intermediate_size": 3420, "num_heads": 16,
                  "in_chans": 3, "out_hidden_size": 3584, "patch_size": 14, "spatial_merge_size": 2,
                  "spatial_patch_size": 14, "window_size": 112, "fullatt_block_indexes": [7, 15, 23, 31],
                  "tokens_per_second": 2, "temporal_patch_size": 2}


@pytest.mark.parametrize("vision", [_VISION_PUBLISHED, _VISION_STATED])
@pytest.mark.parametrize("nested", [False, True])
def test_qwen25_vl_counts_its_gated_vision_tower_flat_or_nested(vision: dict, nested: bool) -> None:
    top = {"architectures": ["Qwen2_5_VLForConditionalGeneration"], "model_type": "qwen2_5_vl",
           "torch_dtype": "bfloat16", **_QWEN25_VL_IDS, "vision_config": vision}
    config = top | ({"text_config": _QWEN25_VL_TEXT | {"model_type": "qwen2_5_vl_text"}} if nested
                    else _QWEN25_VL_TEXT)
    model = model_from_config(config)
    assert (model.vision_parameters, model.parameters) == (676_550_144, 7_615_616_512)
    assert [flag.text for flag in model.flags] == []


def test_qwen2_vl_language_models_are_qwen2s_with_qkv_biases() -> None:
    """The language model of Qwen2.5-VL-7B is Qwen2.5-7B's, 7,615,616,512 parameters (its model card's 7.61B): the
    keys' count 7,615,487,488 plus q, k and v biases (3,584 + 2 x 512) x 28 layers = 129,024; it was read as an unknown
    architecture (its biases missing, flagged). Flat or nested, qwen2_vl alike."""
    for model_type in ("qwen2_5_vl", "qwen2_vl"):
        model = model_from_config({"model_type": model_type, **_QWEN25_VL_TEXT})
        assert (model.parameters, [flag.text for flag in model.flags]) == (7_615_616_512, [])
    # sliding off unless use_sliding_window (Qwen2_5_VLTextConfig's default): a config without the key keeps full KV
    text = {k: v for k, v in _QWEN25_VL_TEXT.items() if k != "use_sliding_window"}
    model = model_from_config({"model_type": "qwen2_5_vl", "text_config": text | {"model_type": "qwen2_5_vl_text"}})
    assert model.kv_elements_per_token(context=65536) == 28 * 2 * 512


def test_a_vision_tower_of_another_type_keeps_the_two_matrix_estimate() -> None:
    """Qwen2-VL's VisionMlp is fc1/fc2: the same sizes under model_type qwen2_vl count 2 h f + f + h an MLP and two
    LayerNorms 4 h, the merger's matrices alone: 536,429,440."""
    config = {"model_type": "qwen2_vl", **_QWEN25_VL_TEXT, "vision_config": _VISION_STATED | {"model_type": "qwen2_vl"}}
    assert model_from_config(config).vision_parameters == 536_429_440


def test_special_token_keys_are_not_flagged_and_other_keys_still_are() -> None:
    """Gemma 3's boi_index, eoi_index, image_token_index and mm_tokens_per_image (google/gemma-3-27b-it's
    config.json), any *_token_id or *_token_index name no weight, compute or cache; a key parity does not know does."""
    config = {"model_type": "gemma3", "boi_index": 255999, "eoi_index": 256000, "eos_token_id": [1, 106],
              "image_token_index": 262144, "mm_tokens_per_image": 256, "audio_end_token_ids": [7], "bogus_key": 1,
              "text_config": {"head_dim": 128, "hidden_size": 5376, "intermediate_size": 21504,
                              "model_type": "gemma3_text", "num_attention_heads": 32, "num_hidden_layers": 62,
                              "num_key_value_heads": 16, "sliding_window": 1024, "vocab_size": 262208,
                              "some_new_token_index": 3}}
    assert [flag.text for flag in model_from_config(config).flags] == ["unmodelled: bogus_key"]


def test_a_wrappers_vision_keys_and_private_attributes_are_not_flagged() -> None:
    """mistralai/Mistral-Small-3.1-24B-Instruct-2503's wrapper keys (projector_hidden_act, spatial_merge_size,
    vision_feature_layer; LLaVA's image_seq_length) configure the vision tower and projector, which Mistral3Config
    builds apart from the language model, and _attn_implementation_autoset is transformers' bookkeeping: each was
    flagged 'unmodelled'. A key of no known meaning still is; the same vision keys in a flat text config (no wrapper)
    still are too."""
    text = {"head_dim": 128, "hidden_size": 5120, "intermediate_size": 32768, "model_type": "mistral",
            "num_attention_heads": 32, "num_hidden_layers": 40, "num_key_value_heads": 8, "vocab_size": 131072,
            "sliding_window": None, "_attn_implementation_autoset": True}
    vision = {"projector_hidden_act": "gelu", "spatial_merge_size": 2, "vision_feature_layer": -1,
              "image_seq_length": 576}
    config = {"model_type": "mistral3", "architectures": ["Mistral3ForConditionalGeneration"], **vision,
              "_attn_implementation_autoset": True, "bogus_key": 1, "text_config": text}
    assert [flag.text for flag in model_from_config(config).flags] == ["unmodelled: bogus_key"]
    flat = model_from_config({**text, **vision})
    assert [flag.text for flag in flat.flags] == [f"unmodelled: {key}" for key in sorted(vision)]


@pytest.mark.parametrize("wrapper", ["qwen2_5_vl", "qwen2_vl"])
def test_a_nested_text_config_without_model_type_is_read_by_the_wrappers_text_class(wrapper: str) -> None:
    """The text keys nested in text_config with no model_type read as 7,615,487,488 under architecture '' (no q/k/v
    biases, no flag); Qwen2VLConfig and Qwen2_5_VLConfig build their text config as their *_text class, whose
    biases (28 x 4,608 = 129,024) count: the flat config's 7,615,616,512."""
    config = {"architectures": ["Qwen2_5_VLForConditionalGeneration"], "model_type": wrapper,
              "text_config": _QWEN25_VL_TEXT, "vision_config": _VISION_PUBLISHED}
    model = model_from_config(config)
    assert (model.architecture, model.parameters, model.flags) == (f"{wrapper}_text", 7_615_616_512, ())


def test_a_nested_text_config_of_no_type_under_a_wrapper_that_implies_none_is_flagged_so() -> None:
    config = {"architectures": ["KimiK25ForConditionalGeneration"], "model_type": "kimi_k25",
              "text_config": _QWEN25_VL_TEXT}
    (flag,) = model_from_config(config).flags
    assert flag.text.startswith("unknown architecture KimiK25ForConditionalGeneration (its text config names no "
                                'model_type and model_type "kimi_k25" implies none): guessed from its keys')


def test_a_config_without_model_type_is_read_by_the_class_its_architectures_names() -> None:
    """Qwen3-8B's config less its model_type was 'unknown architecture Qwen3ForCausalLM (no model_type)', read
    without its q/k norms (8,190,726,144); Qwen3ForCausalLM is qwen3's class: 8,190,735,360, as with the key."""
    config = {"architectures": ["Qwen3ForCausalLM"], "hidden_size": 4096, "intermediate_size": 12288,
              "num_attention_heads": 32, "num_hidden_layers": 36, "num_key_value_heads": 8, "head_dim": 128,
              "vocab_size": 151936, "max_position_embeddings": 40960, "tie_word_embeddings": False}
    model = model_from_config(config)
    assert (model.architecture, model.parameters, model.flags) == ("qwen3", 8_190_735_360, ())
    assert model_from_config({**config, "model_type": "qwen3"}).parameters == 8_190_735_360


def test_every_class_parity_reads_a_type_from_is_a_known_type() -> None:
    from parity.hf.keys import CLASS_TYPES, KNOWN_TYPES
    assert sorted(set(CLASS_TYPES.values()) - KNOWN_TYPES) == []


def test_serving_notes_the_vision_tower_it_leaves_out() -> None:
    """serve on a multimodal config held the text model's memory alone, saying nothing of the 453,344,112-parameter
    vision tower `parity model` shows (2 bytes each: 0.91 GB); a text-only model's notes say nothing of one."""
    from parity.predict import scenario_from_row
    notes = {name: scenario_from_row(dict(case_id="x", model=name, system="hgx-h100", engine="", tp=1, isl=1000,
                                          osl=100, concurrency=1)).notes for name in ("qwen3-vl-8b", "qwen3-8b")}
    assert [n for n in notes["qwen3-vl-8b"] if "vision" in n] == [
        "vision tower not counted: its 453,344,112 parameters (0.91 GB in bf16) are in neither memory per chip nor "
        "time; both are the language model's, serving text prompts"]
    assert not any("vision" in n for n in notes["qwen3-8b"])
