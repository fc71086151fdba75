"""Training schedules: selective recomputation priced, uneven pipeline stages, zero-bubble and DualPipe
bubbles, MFU on both attention conventions, and the CLI picking what it was not told."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import perfect_calibration, round_system
from test_training import exact_profile, square_model

from parity import catalog
from parity.cli import cli
from parity.errors import InfeasiblePlan
from parity.training.step import rank_arrays
from parity.training import (TrainingLayout, chunk_choices, layer_activation_bytes_per_token, model_flops_per_token,
                             TrainingResult, pipeline_bubble_s, train_step)


def test_selective_recompute_costs_the_attention_core_forward_as_korthikanti() -> None:
    """Korthikanti et al. 2022 Sec. 5: selective recomputation reruns the attention core in backward. Square
    model (h 8,000, 8 heads, 8,000 tokens) without flash attention on the round chip: QK^T and PV over the
    full square, 2 x 8 heads x 4 x 1,000 x 8,000 x 8,001 / 2 = 2.048256e12 FLOP (2.048256 ms at 1 PFLOP/s;
    4 b s^2 h = 2.048e12 plus the diagonal), and the scores' 8 B each (fused softmax write + read):
    8 x 8,000 x 8,000 x 8 B = 4.096 GB (4.096 ms). With flash attention there is nothing to rerun."""
    layout = TrainingLayout(seq_len=8000, global_batch=1, zero=0, recompute="selective", flash_attention=False)
    r = train_step(square_model(), round_system(chips=1, domain=1), 1, layout, perfect_calibration(), exact_profile())
    assert r.recompute_s == pytest.approx(2.048256e-3 + 4.096e-3)
    flash = train_step(square_model(), round_system(chips=1, domain=1), 1,
                       TrainingLayout(seq_len=8000, global_batch=1, zero=0, recompute="selective"),
                       perfect_calibration(), exact_profile())
    assert flash.recompute_s == 0


def test_selective_recompute_of_mla_rebuilds_norm_outputs_and_per_head_qkv() -> None:
    """DeepSeek-V3 (Sec. 3.2.3) recomputes RMSNorms and MLA up-projections: per token and layer (tp 1, bf16
    inputs) the two norm outputs 2 x 2 x 7,168 = 28,672 B and Q, K, V per head 2 x (128 x 192 + 128 x
    (192 + 128)) = 131,072 B are no longer kept: 159,744 B less."""
    model = catalog.model("deepseek-v3")
    layer = model.layers[-1]
    def kept(rc: int) -> float:
        return float(layer_activation_bytes_per_token(layer, model.hidden_size, 1, False, 1, rc, 4096))
    assert kept(0) - kept(1) == pytest.approx(159_744)


def test_selective_recompute_no_longer_prices_like_none_for_deepseek_v3() -> None:
    """2,048 H800 (PP16, EP64, DP128): selective takes longer than none (the up-projections rerun) and
    needs less memory."""
    model, system = catalog.model("deepseek-v3"), catalog.system("hgx-h800")
    def run(rc: str):
        layout = TrainingLayout(pp=16, dp=128, ep=64, seq_len=4096, global_batch=15360, precision="fp8_block",
                                recompute=rc)
        return train_step(model, system, 2048, layout, catalog.calibration(system.chip), catalog.training_profile())
    none, selective = run("none"), run("selective")
    assert selective.recompute_s > 0 == none.recompute_s
    assert selective.step_s > none.step_s
    assert selective.memory.activation_bytes < none.memory.activation_bytes


def test_pipeline_bubbles_follow_the_deepseek_v3_table() -> None:
    """DeepSeek-V3 report Table 2, p = 16 stages, a microbatch's F + B = 3 s with B = 2 s and W = 1 s:
    1F1B (p-1)(F+B) = 45 s; interleaved over 2 chunks 22.5 s; ZB1P (p-1)(F+B-2W) = 15 s;
    DualPipe (p/2-1)(F&B + B - 3W) = 7 x (3 + 2 - 3) = 14 s (F&B taken as F + B)."""
    bubbles = [float(pipeline_bubble_s(k, 16.0, 2.0 if k == 1 else 1.0, 3.0, 2.0, 1.0)) for k in range(4)]
    assert bubbles == pytest.approx([45.0, 22.5, 15.0, 14.0])
    assert float(pipeline_bubble_s(3, 1.0, 1.0, 3.0, 2.0, 1.0)) == 0.0


def test_dualpipe_holds_two_stages_of_parameters_and_p_plus_1_microbatches() -> None:
    """DualPipe on 4 stages of the square model: weights, gradients and optimizer states twice 1F1B's, and
    activations of p + 1 = 5 microbatches instead of min(m, p) = 4; its bubble is smaller than 1F1B's."""
    def run(schedule: str):
        layout = TrainingLayout(pp=4, seq_len=1000, global_batch=8, zero=0, pp_schedule=schedule)
        return train_step(square_model(layers=16), round_system(), 4, layout, perfect_calibration(), exact_profile())
    one, dual = run("1f1b"), run("dualpipe")
    assert dual.memory.weight_bytes == pytest.approx(2 * one.memory.weight_bytes)
    assert dual.memory.optimizer_bytes == pytest.approx(2 * one.memory.optimizer_bytes)
    assert dual.memory.activation_bytes == pytest.approx(5 / 4 * one.memory.activation_bytes)
    assert dual.bubble_s < one.bubble_s
    with pytest.raises(InfeasiblePlan, match="dualpipe needs an even --pp"):
        TrainingLayout(pp=3, dp=1, global_batch=8, pp_schedule="dualpipe").check(square_model(layers=16))


def test_uneven_stages_allow_interleave_8_on_126_layers_of_pp16() -> None:
    """Llama 3.1 405B has 126 layers: 16 x 8 = 128 chunks do not fit evenly; with 7 layers on the first and
    last stages the 14 middle stages take 112 / 14 = 8 each, one per chunk. The busiest stage has 8 layers
    against 126 / 16 = 7.875: its work is 8 / 7.875 = 1.0159 of an even split."""
    model = catalog.model("llama-3.1-405b")
    base = dict(tp=8, pp=16, dp=64, virtual_stages=8, seq_len=8192, global_batch=2048)
    with pytest.raises(InfeasiblePlan, match="--pp-first-layers"):
        TrainingLayout(**base).check(model, 8192)
    layout = TrainingLayout(**base, pp_first_layers=7, pp_last_layers=7).check(model, 8192)
    assert layout.stage_layers(126) == (7.0, 8.0, 7.0)
    with pytest.raises(InfeasiblePlan, match="whole number"):
        TrainingLayout(**base, pp_first_layers=6, pp_last_layers=7).check(model, 8192)


@pytest.mark.parametrize("layers, pp, first, last, choices", [
    (80, 4, 0, 0, (1, 2, 4, 5, 10, 20)),  # Llama-3.1-70B: 20 layers a stage
    (126, 8, 0, 0, (1, 2, 4, 8, 16)),     # Llama-3.1-405B: (126 + embedding + loss) / 8 = 16 (Megatron-Bridge's vp 8)
    (61, 16, 0, 0, (1,)),                 # DeepSeek-V3: 61, 62 and 63 over 16 stages leave no whole split
    (126, 16, 7, 7, (1, 2, 4, 8)),        # 7 + embedding, 8 a middle stage, 7 + loss
    (80, 4, 18, 18, (1, 2)), (80, 4, 19, 19, (1,)), (32, 1, 0, 0, (1,))])
def test_chunk_choices_divide_every_stage_as_megatron_core(layers: int, pp: int, first: int, last: int,
                                                           choices: tuple[int, ...]) -> None:
    """Megatron-Core builds num_layers_per_pipeline_rank / vp layers a chunk and asserts that it divides (the first
    and last stages' too), the embedding and the loss counting as a layer where account_for_*_in_pipeline_split
    says so."""
    assert chunk_choices(layers, pp, first, last) == choices


@pytest.mark.parametrize("args, message", [
    (("--pp", "4", "--vp", "7"),
     "--vp 7 must divide the 20 layers of each pipeline stage (1, 2, 4, 5, 10, 20), or give --pp-layout"),
    (("--pp", "4", "--vp", "3"),
     "--vp 3 must divide the 20 layers of each pipeline stage (1, 2, 4, 5, 10, 20), or give --pp-layout"),
    (("--pp", "4", "--vp", "4", "--pp-first-layers", "18", "--pp-last-layers", "18"),
     "--vp 4 must divide the layers of each pipeline stage, first 18, middle 22, last 18 (1, 2 do, the embedding and "
     "the loss counted as a layer each or not), or give --pp-layout"),
    (("--pp", "4", "--vp", "2", "--pp-first-layers", "19", "--pp-last-layers", "19"),
     "--vp 2 must divide the layers of each pipeline stage, first 19, middle 21, last 19 (only 1 does, the embedding "
     "and the loss counted as a layer each or not), or give --pp-layout"),
])
def test_train_refuses_virtual_stages_that_do_not_divide_a_stage(args: tuple[str, ...], message: str) -> None:
    """Llama-3.1-70B on pp 4 has 20 layers a stage: --vp 7 was priced as 20 / 7 even chunks (rc 0), a layout
    Megatron-Core refuses ("num_layers_per_pipeline_rank 20 should be divisible by vp_size 7")."""
    result = CliRunner().invoke(cli, ["train", "--model", "llama-3.1-70b", "--system", "hgx-h100", "--chips", "64",
                                      "--tp", "8", *args, "--global-batch", "256"])
    assert result.exit_code == 2 and not result.stdout and result.stderr == f"parity: error: {message}\n"


def test_train_picks_and_searches_only_virtual_stages_that_divide_a_stage() -> None:
    """Llama-3.1-70B, tp 8, pp 4 (20 layers a stage): the pick without --vp took vp 7 of 8 choices (61.67 s at mb 4,
    selective); of 1 to 8 only 1, 2, 4 and 5 divide 20, and 5 is the fastest (at mb 2: at mb 4 only vp 1 fits the
    first rank, which holds the whole embedding). The search lists none that does not divide; a --pp-layout gives
    chunks of any size (7 and 6 layers, vp 3)."""
    args = ["train", "--model", "llama-3.1-70b", "--system", "hgx-h100", "--chips", "64", "--tp", "8", "--pp", "4",
            "--global-batch", "256", "--recompute", "selective", "--micro-batch", "2", "--format", "json"]
    data = json.loads(CliRunner().invoke(cli, args).stdout)
    assert data["layout"]["virtual_stages"] == 5
    assert data["assumptions"][0] == "picked virtual stages 5: the fastest that fits of 4 choices"
    found = json.loads(CliRunner().invoke(cli, [*args, "--search", "--top", "30"]).stdout)["best"]
    assert {r["layout"]["virtual_stages"] for r in found} <= {1, 2, 4, 5, 10, 20} and len(found) == 30
    model = catalog.model("llama-3.1-70b")
    given = TrainingLayout(tp=8, pp=4, dp=2, virtual_stages=3, global_batch=256,
                           pp_layout="Et*7|(t*7|)*7(t*6|)*3t*6L")
    assert given.check(model, 64).check_chunks(model) is given


_BREAKDOWN_FIELDS = ("compute_s", "recompute_s", "tp_comm_s", "cp_comm_s", "ep_comm_s", "pp_comm_s", "dp_comm_s", "imbalance_s",
                     "bubble_s", "optimizer_s", "overhead_s")


_LAYER, _VOCAB = 218_112_000, 525_336_576  # Llama-3.1-8B: parameters of a layer; of the embedding, as many in the head


@pytest.mark.parametrize("stages, pp, heavy", [
    (dict(pp_first_layers=31), 2, 31 * _LAYER + _VOCAB), (dict(pp_layout="E" + "t" * 31 + "|tL"), 2, 31 * _LAYER + _VOCAB),
    (dict(pp_last_layers=31), 2, 31 * _LAYER + _VOCAB), (dict(pp_first_layers=15), 2, 15 * _LAYER + _VOCAB),
    (dict(pp_layout="Et|t|t|" + "t" * 29 + "L"), 4, 29 * _LAYER + _VOCAB),
    (dict(), 2, (32 * _LAYER + 2 * _VOCAB) / 2)])
def test_uneven_stages_price_the_fullest_rank_and_the_whole_step(stages: dict, pp: int, heavy: float) -> None:
    """Llama-3.1-8B on 8 H100, pp x dp = 8, ZeRO-1: 31 layers and the embedding on one rank are 31 x 218,112,000 +
    525,336,576 = 7,286,808,576 parameters (the LM head on the other rank is as big): 14.57 GB of bf16 weights, as
    many gradients and 12 B / 4 (over dp 4) = 21.86 GB of optimizer states, where it said the even split's
    8.0 / 8.0 / 12.0 GB and "fits" at 69.5 GB. The step's rows add up to it (the other ranks' idle time is a row;
    half the step was missing), the memory terms to the total, and fits is total <= capacity. The fullest rank is the
    one with the most memory in all: with 15 layers the first (2 microbatches in flight) outweighs the last's 17 (one
    microbatch and the logits). No stages given, pp 2 splits 16 and 16 layers, the embedding on the first rank and
    the LM head on the last, as --pp-first-layers 16 would: the head's GEMMs make the last rank the busiest."""
    model, system = catalog.model("llama-3.1-8b"), catalog.system("hgx-h100")
    layout = TrainingLayout(tp=1, pp=pp, dp=8 // pp, global_batch=1024, **stages)
    r = train_step(model, system, 8, layout, catalog.calibration(system.chip), catalog.training_profile())
    assert sum(getattr(r, f) for f in _BREAKDOWN_FIELDS) == pytest.approx(r.step_s, rel=1e-12)
    assert sum(r.memory.terms().values()) == pytest.approx(r.memory.total_bytes, rel=1e-12)
    assert bool(r.fits) == (r.memory.total_bytes <= r.memory.capacity_bytes)
    assert (r.memory.weight_bytes, r.memory.gradient_bytes, r.memory.optimizer_bytes) == pytest.approx(
        (2 * heavy, 2 * heavy, 12 * heavy / (8 // pp)), rel=1e-9)
    assert r.imbalance_s > 0
    if stages == dict(pp_first_layers=31):  # with 2 microbatches of 31 layers in flight: 92.4 GB, over 80
        assert float(r.memory.total_bytes) == pytest.approx(92.41e9, rel=1e-3) and not bool(r.fits)
        assert r.imbalance_s / r.step_s == pytest.approx(0.4476, abs=1e-4)
    assert r.assumptions[-1].startswith("pipeline stages " + ("as" if stages else "of equal layers, the embedding"))


def test_the_searchs_implicit_split_arrays_are_those_of_the_layouts_rank_by_rank() -> None:
    """The search builds the implicit splits over a pp array once per distinct pp (a Python loop over layouts took
    1.9 s of a 2.6 s DeepSeek-V3 search); they are, value for value, what the layouts of those pp give. Each stage
    holds whole layers: 61 over pp 8 is 7, 8 x 5, 7, 7 (3 dense and 4 MoE on the first), of which ranks 0, 1 and 2
    (the first of 8 mirrored by an 8) and their DualPipe mirrors are kept. The embedding is on the first rank and the LM
    head on the last, which is the busiest at pp 8 (7 MoE layers and the head, 1.075x the even share; it was priced
    as 7.625 layers, 1.0x); under DualPipe a rank runs its two stages in turn, 1.026x (the 8-layer ranks')."""
    model = catalog.model("deepseek-v3")
    pp = [1, 2, 4, 8, 16]
    even, given = rank_arrays(model, pp=np.array(pp, dtype=float)), rank_arrays(model, [TrainingLayout(pp=p) for p in pp])
    assert even.keys() == given.keys()
    for key in even:
        assert even[key].shape == given[key].shape and np.array_equal(even[key], given[key]), key
    assert even["rank_layers"][3, :, 1].tolist() == [4, 8, 8, 8, 7, 7] and even["rank_layers"][3, 0, 0] == 3
    assert even["rank_position"][3].tolist() == [0, 1, 2, 5, 6, 7] and even["rank_mirror"][3].tolist() == [5, 4, 3, 2, 1, 0]
    assert even["rank_loss"][3].tolist() == [0, 0, 0, 0, 0, 1] == even["rank_head"][3].tolist()
    assert even["rank_embedding"][3].tolist() == [1, 0, 0, 0, 0, 0]
    assert even["stage"].round(3).tolist() == [1.0, 1.006, 1.051, 1.075, 1.125]
    assert even["stage_dual"].round(3).tolist() == [1.0, 1.0, 1.006, 1.026, 1.026]


def test_a_pipeline_rank_without_layers_is_refused() -> None:
    """All 32 layers in the first chunk of pp 2 left rank 1 only an empty chunk: it was priced (as an even split's
    memory, 'fits'); a layout of 17 chunks with pp 2 and no --vp was said to need 'pp x virtual_stages (2 x 8)'. A
    layout holds one embedding, in its first chunk, and one loss, in its last, as Megatron-Core requires."""
    for layout, message in (("E" + "t" * 32 + "L|", "--pp-layout must give every pipeline rank a layer (t or m); "
                                                     "rank 1 of --pp 2 holds ''"),
                            ("Et|(tt|)*15L", "--pp-layout must hold a multiple of --pp (2) chunks (split by '|'), "
                                             "one per rank and virtual stage, got 17"),
                            # without E and L it was priced 43.4 s against the balanced 46.3 s, its idle row -3.0 s
                            ("(t)*16|(t)*16", "--pp-layout must hold one embedding (E), in its first chunk; got 0"),
                            ("EE(t)*16|(t)*16L", "--pp-layout must hold one embedding (E), in its first chunk; got 2"),
                            ("E(t)*16L|(t)*16", "--pp-layout must hold one LM head and loss (L), in its last chunk; "
                                                "got 1, last chunk 'tttttttttttttttt'")):
        result = CliRunner().invoke(cli, ["train", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--tp", "1",
                                          "--pp", "2", "--pp-layout", layout])
        assert result.exit_code == 2 and result.output == f"parity: error: {message}\n", result.output


def test_mfu_on_both_attention_conventions() -> None:
    """Square model at 8,000 tokens: non-causal 6N + 12 L h s = 3.456e9 + 7.68e8 (PaLM); causal halves the
    attention term: 3.456e9 + 3.84e8. mfu_causal / mfu is their ratio."""
    assert model_flops_per_token(square_model(), 8000, causal=True) == pytest.approx(3.456e9 + 3.84e8)
    r = train_step(square_model(), round_system(chips=1, domain=1), 1,
                   TrainingLayout(seq_len=8000, global_batch=1, zero=0), perfect_calibration(), exact_profile())
    assert r.mfu_causal / r.mfu == pytest.approx(3.84e9 / 4.224e9)
    assert r.mfu_noncausal == r.mfu


def test_train_picks_virtual_stages_and_recomputation_when_not_given() -> None:
    """Without --vp and --recompute, train prices the choices and names the one it picked."""
    result = CliRunner().invoke(cli, ["train", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--pp", "2",
                                      "--seq-len", "4096", "--global-batch", "64", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["assumptions"][0].startswith("picked virtual stages ")
    assert "mfu_causal" in data and "mfu_noncausal" in data
    fixed = CliRunner().invoke(cli, ["train", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--pp", "2", "--vp",
                                     "1", "--recompute", "none", "--seq-len", "4096", "--global-batch", "64",
                                     "--format", "json"])
    assert not json.loads(fixed.output)["assumptions"][0].startswith("picked")


@pytest.mark.parametrize("pp, step_s, weights_gb, fullest", [(16, 6.420, 1.923, 0), (24, 5.083, 0.872, 1),
                                                               (32, 5.170, 1.487, 0)])
def test_a_stage_holds_whole_layers(pp: int, step_s: float, weights_gb: float, fullest: int) -> None:
    """Llama-3.1-8B's 32 layers over pp 24 were priced as 1.33 layers a stage: a 2.459 s step and 0.669 GB of weights
    (8B / 24). Eight of its stages hold 2 layers, as every pp 16 stage does, and its fullest rank (rank 1, 23
    microbatches in flight) holds 2 layers; its first and last stages hold 1 layer, beside the embedding and the LM
    head. The last, the busiest (the head's GEMMs outweigh a layer's), is lighter than pp 16's (2 layers and the
    head), so pp 24's step is the faster; pp 32's last rank is pp 24's, its bubble longer. The first rank holds a
    stage's layers and the embedding (pp 16: 2 x 218,112,000 + 525,336,576 parameters, 1.923 GB)."""
    args = ["train", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--tp", "1", "--dp", "8", "--global-batch",
            "1024", "--pp", str(pp), "--chips", str(8 * pp), "--format", "json"]
    data = json.loads(CliRunner().invoke(cli, args).stdout)
    assert (round(data["step_s"], 3), round(data["memory"]["weights_bytes"] / 1e9, 3)) == (step_s, weights_gb)
    assert data["memory_pipeline_rank"] == fullest
    assert ("pipeline stages of whole layers (8 of 2, 16 of 1: 32 over pp 24, as a --pp-layout would place them), "
            "the embedding on the first and the LM head on the last (Megatron-Core's GPTModel)"
            in data["assumptions"]) == (pp == 24)


def test_an_mtp_module_a_layout_places_is_in_an_even_ranks_compute_and_out_of_the_imbalance() -> None:
    """DeepSeek-V3 on 2048 H800s with Megatron-Core's example layout 'Et*3|(tt|)*29,m|L' (pp 16 x vp 2): the MTP
    module (chunk 30) trains on rank 14 beside chunk 14's two layers; rank 0 (3 dense + 2 MoE layers, 1.28x the even
    share) stays the busiest, so the step is that of the same layout without the 'm' but for the bubble, which the
    other ranks' stages make: rank 14's work lengthens it, 45.715 -> 45.807 s (both 46.338 s while the bubble was
    priced at the busiest rank's stage-time). With it an even rank
    holds 1.0407x the share priced (test_pipeline_layout_chunks_and_busiest_rank): its compute (14.922 -> 15.530 s),
    recomputation (4.693 -> 4.884 s) and EP all-to-all (14.089 -> 14.663 s) grow by that, and the idle of the uneven
    stages shrinks by what they gained, 1.372 s (9.551 -> 8.179 s). Before, the module changed nothing but the notes
    said it was not trained."""
    model, system = catalog.model("deepseek-v3"), catalog.system("hgx-h800")

    def step(pp_layout: str) -> TrainingResult:
        layout = TrainingLayout(pp=16, virtual_stages=2, dp=128, ep=64, recompute="full", global_batch=15360,
                                seq_len=4096, precision="fp8_block", pp_layout=pp_layout)
        return train_step(model, system, 2048, layout, catalog.calibration(system.chip), catalog.training_profile())
    mtp, none = step("Et*3|(tt|)*29,m|L"), step("Et*3|(tt|)*29,|L")
    even = 1.0 + 3.397255168 / 83.483295744  # MTP module over the priced layers and head [GFLOP a token]
    layers = ("compute_s", "recompute_s", "tp_comm_s", "cp_comm_s", "ep_comm_s")
    for name in layers:
        assert getattr(mtp, name) == pytest.approx(even * getattr(none, name), rel=1e-9), name
    gained = (even - 1.0) * sum(getattr(none, name) for name in layers)
    assert round(gained, 3) == 1.372
    assert mtp.imbalance_s == pytest.approx(none.imbalance_s - gained, rel=1e-9)
    assert (round(none.step_s, 3), round(mtp.step_s, 3)) == (45.715, 45.807)
    assert mtp.step_s - mtp.bubble_s == pytest.approx(none.step_s - none.bubble_s, rel=1e-12)
    assert (round(none.compute_s, 3), round(mtp.compute_s, 3), round(none.imbalance_s, 3),
            round(mtp.imbalance_s, 3)) == (14.922, 15.530, 9.551, 8.179)
    assert ("multi-token-prediction modules trained where --pp-layout places them (1 of 1, on pipeline rank 14)"
            in mtp.assumptions)
    assert "multi-token-prediction modules not trained (--pp-layout places them: m)" in none.assumptions
    for result in (mtp, none):
        parts = sum(getattr(result, name) for name in layers + ("pp_comm_s", "dp_comm_s", "imbalance_s", "bubble_s",
                                                                  "optimizer_s", "overhead_s"))
        assert parts == pytest.approx(result.step_s, rel=1e-12)


def test_a_pipeline_with_fewer_microbatches_than_stages_never_fills() -> None:
    """p = 4 stages, F + B = 3 s. With m = 1 microbatch interleaving over v = 8 chunks is no help: the bubble is
    1F1B's (p - 1)(F + B) = 9 s (it was 9 / 8 = 1.125 s). With m = 2: (p - m)(F + B) + (m - 1)(F + B) / v =
    6 + 0.375 s; from m = p on the Narayanan bubble (p - 1)(F + B) / v = 1.125 s."""
    bubbles = [float(pipeline_bubble_s(1, 4.0, 8.0, 3.0, 2.0, 1.0, m)) for m in (1.0, 2.0, 4.0, 16.0)]
    assert bubbles == pytest.approx([9.0, 6.375, 1.125, 1.125])
    assert float(pipeline_bubble_s(0, 4.0, 1.0, 3.0, 2.0, 1.0, 2.0)) == pytest.approx(9.0)  # 1F1B: any m


def test_zero_bubble_needs_as_many_microbatches_as_stages() -> None:
    result = CliRunner().invoke(cli, ["train", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--tp", "1",
                                      "--pp", "4", "--dp", "2", "--global-batch", "4", "--pp-schedule", "zb"])
    assert result.exit_code == 2 and result.output == (
        "parity: error: --pp-schedule zb needs at least pp microbatches, got --pp 4 and 2 microbatches\n")


@pytest.mark.parametrize("schedule", ["1f1b", "zb"])
def test_virtual_stages_need_the_interleaved_schedule(schedule: str) -> None:
    """--vp 2 with --pp-schedule 1f1b or zb was accepted, named in the layout (tp2-pp4-vp2) and left out of the price
    (the same 0.554 s step as without it): neither schedule's bubble has chunks."""
    result = CliRunner().invoke(cli, ["train", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--chips", "8",
                                      "--tp", "2", "--pp", "4", "--vp", "2", "--pp-schedule", schedule,
                                      "--global-batch", "8"])
    assert result.exit_code == 2 and result.output == (
        f"parity: error: --vp 2 needs the interleaved schedule (its default), got --pp-schedule {schedule}\n")


def test_a_placed_mtp_module_holds_its_weights_on_its_rank() -> None:
    """DeepSeek-V3's MTP module (11.6 B parameters: a MoE layer like its 58, a 2h x h projection, two norms) was in
    its rank's compute but not its memory. At tp 2 and ep 64 a chip holds of it the main MoE layer's slice (124,993,792
    dense, 11,274,289,152 / 64 = 176,160,768 expert parameters), 2 x 7,168^2 / 2 = 51,380,224 of the projection and 3
    x 7,168 of norms; a model without MTP holds none."""
    from parity.plan import Shard
    from parity.training.memory import _mtp_parameters_per_device

    shard = Shard(t=2.0, d=1.0, mt=1.0, me=64.0, p=8.0)
    assert _mtp_parameters_per_device(catalog.model("deepseek-v3"), shard) == (176_395_520.0, 176_160_768.0)
    assert _mtp_parameters_per_device(catalog.model("llama-3.1-8b"), shard) == (0.0, 0.0)
