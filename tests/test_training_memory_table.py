"""The training memory table: published training runs are predicted to fit on their chips, with the memory
options their reports state; and golden tests of those options' terms (DeepSeek-V3's FP8 activation cache,
bf16 AdamW moments, fp32 gradients)."""

import pytest

from parity import catalog
from parity.engine import TrainingProfile
from parity.errors import InfeasiblePlan
from parity.training import (TrainingLayout, adam_bytes_per_parameter, layer_activation_bytes_per_token,
                             pick_training_layout, train_step)

# DeepSeek-V3 technical report (arXiv 2412.19437): 2,048 H800 (Sec. 3.1), PP16 with DualPipe, EP64 over 8 nodes,
# ZeRO-1 data parallel, no tensor parallelism (Sec. 3.2); FP8 training with 1x128 / 128x128 blocks (Sec. 3.3);
# no full recomputation: the RMSNorms and MLA up-projections recomputed in backward (Sec. 3.2.3); activations
# cached in FP8, the SwiGLU output recomputed, AdamW moments in bf16, master weights and gradients in fp32
# (Sec. 3.3.2); 4K sequences, batch 15,360 sequences at its final value (Sec. 4.2). The EMA of the parameters
# lives in CPU memory and the MTP module shares the embedding and head (Sec. 3.2.3): parity counts neither.
DEEPSEEK_V3 = dict(pp=16, dp=128, ep=64, pp_schedule="dualpipe", seq_len=4096, global_batch=15360,
                   precision="fp8_block", recompute="selective", zero=1)
DEEPSEEK_V3_STORAGE = dict(activation_cache="fp8", optimizer_states="bf16", gradients="fp32")
# Llama 3 405B (The Llama 3 Herd of Models, arXiv 2407.21783, Sec. 3.3.2): 8,192 H100, TP8, CP1, PP16, DP64,
# 8,192-token sequences, 16M tokens a batch (2,048 sequences). Recomputation is left to parity's pick (the
# fastest that fits); the paper's own statement on activation checkpointing could not be checked here.
LLAMA3 = dict(tp=8, pp=16, cp=1, dp=64, seq_len=8192, global_batch=2048)


def _run(model: str, system: str, chips: int, **fields: object):
    m, s = catalog.model(model), catalog.system(system)
    return train_step(m, s, chips, TrainingLayout(**fields), catalog.calibration(s.chip), catalog.training_profile())


def test_deepseek_v3_on_2048_h800_fits_with_its_reported_storage_formats() -> None:
    """With selective recomputation alone the busiest H800 needs more than its 80 GB (activations of
    p + 1 = 17 microbatches of 4,096 tokens on two stages); with the report's FP8 cache, bf16 moments and
    fp32 gradients it fits. Optimizer states scale by 8 / 12 and gradients by 4 / 2 exactly."""
    before = _run("deepseek-v3", "hgx-h800", 2048, **DEEPSEEK_V3)
    after = _run("deepseek-v3", "hgx-h800", 2048, **DEEPSEEK_V3, **DEEPSEEK_V3_STORAGE)
    assert not before.fits and after.fits
    assert after.memory.optimizer_bytes == pytest.approx(before.memory.optimizer_bytes * 8 / 12)
    assert after.memory.gradient_bytes == pytest.approx(2 * before.memory.gradient_bytes)
    assert after.memory.weight_bytes == pytest.approx(before.memory.weight_bytes)
    assert after.memory.activation_bytes < 0.55 * before.memory.activation_bytes
    assert after.step_s == pytest.approx(before.step_s)  # storage formats price no time here
    assert "act-fp8-os-bf16-grad-fp32" in str(after.layout)


def test_llama3_405b_on_8192_h100_fits_with_the_picked_recomputation() -> None:
    """TP8 PP16 DP64 at 8K: without recomputation the first stage's in-flight microbatches exceed 80 GB;
    parity's pick (virtual stages and recomputation) fits."""
    model, system = catalog.model("llama-3.1-405b"), catalog.system("hgx-h100")
    base = TrainingLayout(**LLAMA3)
    result, picked = pick_training_layout(model, system, 8192, base, catalog.calibration(system.chip),
                                          catalog.training_profile(), vary_vp=True, vary_recompute=True)
    assert result.fits and "fits" in picked
    assert not _run("llama-3.1-405b", "hgx-h100", 8192, **LLAMA3, recompute="none").fits


def test_fp8_activation_cache_of_a_deepseek_v3_moe_layer() -> None:
    """One DeepSeek-V3 MoE layer, tp 1, selective recomputation, FP8 GEMM inputs (1 B), per token:
    attention output 128 x 128 x (1.5 - 1) = +8,192 B (E5M6); shared expert SwiGLU 2,048 x (5 - 2) = -6,144 B
    (up and gate kept as FP8, the down projection's input recomputed); each of the 8 routed copies keeps its
    FP8 input (7,168 B) but not its 2 x 7,168 B output, and 2 x 2,048 instead of 5 x 2,048 B of SwiGLU:
    8 x (14,336 + 6,144) = -163,840 B. In all 315,008 - 153,216 = 161,792 B less. A dense layer only gains
    the 8,192 B of the E5M6 attention output."""
    model = catalog.model("deepseek-v3")
    dense, moe = model.layers[0], model.layers[-1]
    def kept(layer, cache: int, x: float = 1.0) -> float:
        return float(layer_activation_bytes_per_token(layer, model.hidden_size, 1, False, 1, 1, 4096, True, False,
                                                      x, cache))
    assert kept(moe, 0) == pytest.approx(315_008) and kept(moe, 1) == pytest.approx(153_216)
    assert kept(dense, 1) - kept(dense, 0) == pytest.approx(8_192)
    assert kept(moe, 1, x=2.0) == pytest.approx(kept(moe, 1))  # the cache stores FP8 whatever the precision


def test_routed_copies_are_counted_once_per_token_whatever_the_ep() -> None:
    """Each rank receives k copies per token of its microbatch on average (its tokens go to k experts on
    other ranks and it receives as many): the activations per chip do not grow with the EP size."""
    base = dict(DEEPSEEK_V3, **DEEPSEEK_V3_STORAGE)
    at8 = _run("deepseek-v3", "hgx-h800", 2048, **{**base, "ep": 8})
    at64 = _run("deepseek-v3", "hgx-h800", 2048, **base)
    assert at8.memory.activation_bytes == pytest.approx(at64.memory.activation_bytes)
    assert at8.memory.weight_bytes > at64.memory.weight_bytes


def test_bf16_moments_and_fp32_gradients_per_parameter() -> None:
    """ZeRO-1 over 4 ranks with the ZeRO paper's 2 + 2 + 12 B: states 12 / 4 = 3 B; bf16 moments take
    8 / 4 = 2 B (fp32 master 4 B + two bf16 moments 2 x 2 B); fp32 gradients 4 B (ZeRO-1 keeps them whole),
    under ZeRO-2 4 / 4 = 1 B."""
    profile = TrainingProfile(id="zero", name="ZeRO paper", date="2020", method="test", measured=False)
    assert adam_bytes_per_parameter(1, 4, profile) == pytest.approx((2.0, 2.0, 3.0))
    assert adam_bytes_per_parameter(1, 4, profile, False, 1.0, 1.0) == pytest.approx((2.0, 4.0, 2.0))
    assert adam_bytes_per_parameter(2, 4, profile, False, 0.0, 1.0)[1] == pytest.approx(1.0)


def test_storage_format_names_are_checked() -> None:
    with pytest.raises(InfeasiblePlan, match="activation_cache must be one of auto, fp8"):
        TrainingLayout(activation_cache="fp4")
    with pytest.raises(InfeasiblePlan, match="optimizer_states must be one of"):
        TrainingLayout(optimizer_states="fp8")


def test_cli_states_the_deepseek_v3_run() -> None:
    """`parity train` takes the report's layout and formats and says it fits (exit 0, no --show-infeasible);
    without the formats it refuses the layout in one line (exit 2)."""
    import json

    from click.testing import CliRunner

    from parity.cli import cli
    args = ["train", "--model", "deepseek-v3", "--system", "hgx-h800", "--chips", "2048", "--tp", "1", "--pp", "16",
            "--ep", "64", "--pp-schedule", "dualpipe", "--global-batch", "15360", "--recompute", "selective",
            "--precision", "fp8_block"]
    formats = ["--activation-cache", "fp8", "--optimizer-states", "bf16", "--gradients", "fp32"]
    result = CliRunner().invoke(cli, [*args, *formats, "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["fits"] and data["layout"]["activation_cache"] == "fp8" and data["layout"]["gradients"] == "fp32"
    assert any("bf16" in note for note in data["assumptions"])
    refused = CliRunner().invoke(cli, args)
    assert refused.exit_code == 2 and "does not fit" in refused.output
