"""A pure Mamba-2 stack (model_type mamba2: no attention, no MLP) reads as one norm and one Mamba2 mixer a layer,
as transformers' Mamba2Block builds it; it was refused ("missing key 'intermediate_size' ...", then
"missing key 'num_attention_heads'").

mamba2-130m by hand (hidden h 768, 24 layers, 24 heads of 64, inner 1,536, 1 group of state 128, conv 4, tied
50,288-token head): in_proj h (1,536 + 1,792 + 24) = 2,574,336; out_proj 1,536 h = 1,179,648; conv taps and
biases 1,792 x 5, dt bias, A and D 3 x 24, gated RMSNorm 1,536: 10,568; the block's norm h: 3,765,320 a layer,
x 24 = 90,367,680; the embedding 38,621,184 and the final norm: 128,989,632 (published as 130M). State a sequence:
24 x (24 x 64 x 128 x 2 B + 3 x 1,792 x 2 B) = 9,695,232 B.
"""

import dataclasses

from parity import catalog
from parity.dtypes import format_named
from parity.hf import model_from_config
from parity.predict import deployment, scenario_from_row
from parity.simulate.tables import step_table

# AntonV/mamba2-130m-hf's config.json (huggingface.co), transformers' conversion of state-spaces/mamba2-130m
MAMBA2_130M = {"bos_token_id": 0, "chunk_size": 256, "conv_kernel": 4, "eos_token_id": 0, "expand": 2, "head_dim": 64,
               "hidden_act": "silu", "hidden_size": 768, "initializer_range": 0.1, "layer_norm_epsilon": 1e-05,
               "model_type": "mamba2", "n_groups": 1, "num_heads": 24, "num_hidden_layers": 24, "pad_token_id": 0,
               "rescale_prenorm_residual": False, "residual_in_fp32": True, "rms_norm": True, "state_size": 128,
               "tie_word_embeddings": True, "time_step_floor": 0.0001, "time_step_limit": [0.0, float("inf")],
               "time_step_max": 0.1, "time_step_min": 0.001, "time_step_rank": 256,
               "transformers_version": "4.45.0.dev0", "use_bias": False, "use_cache": True, "use_conv_bias": True,
               "vocab_size": 50288}


def test_a_pure_mamba2_stack_reads_as_mamba2_layers_alone() -> None:
    model = model_from_config(MAMBA2_130M)
    assert [(layer.count, layer.attention.kind, layer.mlp) for layer in model.layers] == [(24, "mamba2", None)]
    assert (model.parameters, model.kv_cache_bytes_per_token(format_named("bf16")),
            model.state_bytes_per_sequence, model.flags) == (128_989_632, 0, 9_695_232, ())


def test_mamba_codestral_s_mixer_width_is_not_read_as_an_mlp() -> None:
    """Mamba-Codestral states intermediate_size (expand x hidden, the mixer's width) and norm_before_gate."""
    config = MAMBA2_130M | {"intermediate_size": 1536, "norm_before_gate": True, "time_step_init_scheme": "random",
                            "time_step_scale": 1.0}
    assert model_from_config(config).parameters == 128_989_632


def test_a_model_that_never_reads_its_context_tabulates_its_steps() -> None:
    """The simulator's step table took the prompt-context slope from an array that a model with no attention prices
    as one scalar (IndexError: too many indices for array, in every simulated serve): its slope is 0."""
    row = next(r for r in catalog.measurements() if r["engine"] == "vllm" and r["mode"] == "agg")
    scenario = scenario_from_row(row)
    scenario = dataclasses.replace(scenario, model=model_from_config(MAMBA2_130M))
    table = step_table(deployment(scenario, scenario.layout), 8.0, 2048.0, 2048.0)
    assert table.chunk_context_s_per_token == 0.0
