"""Training: hand-derived step times, the pipeline bubble, ZeRO and activation memory, properties, CLI."""

import csv
import dataclasses
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import perfect_calibration, round_system
from hypothesis import given, settings
from hypothesis import strategies as st

from parity import catalog
from parity.cli import cli
from parity.engine import TrainingProfile
from parity.errors import InfeasiblePlan
from parity.model import Attention, DenseMlp, Layer, Model
from parity.training import (TrainingLayout, adam_bytes_per_parameter, layer_activation_bytes_per_token,
                             model_flops_per_token, search_training, train_step)

# this module's examples per property, on its own tests only (a loaded profile would set every module's)
EXAMPLES = settings(max_examples=25, deadline=None)


def gpt_layer(h: int = 8000, heads: int = 8, mlp: int = 2) -> Layer:
    """A GPT-style layer: multi-head attention and a plain (GeLU) MLP of `mlp` x h (GPT: 4)."""
    return Layer(attention=Attention(num_attention_heads=heads, num_key_value_heads=heads, head_dim=h // heads),
                 mlp=DenseMlp(intermediate_size=mlp * h, gated=False))


def square_model(layers: int = 1) -> Model:
    """h = 8,000, 8 heads of 1,000, plain MLP 16,000, vocabulary 8,000: large enough to be compute-bound."""
    return Model(name="square", hidden_size=8000, vocab_size=8000, layers=(dataclasses.replace(gpt_layer(), count=layers),))


def exact_profile(**changes: object) -> TrainingProfile:
    """No overlap credit or penalty beyond the physics: backward attention as efficient as forward."""
    fields = dict(id="test", name="test", date="2026-01-01", method="test", measured=False,
                  attention_backward_efficiency=1.0, memory_reserve_fraction=0.0, memory_reserve_bytes=0.0)
    fields.update(changes)
    return TrainingProfile(**fields)  # type: ignore[arg-type]


def test_step_of_one_layer_on_one_round_chip() -> None:
    """8,000 tokens (mb 1 x seq 8,000) on one round chip (1 PFLOP/s, 1 TB/s), perfect efficiencies.
    Forward: qkv 2*8e3*8e3*24e3 = 3.072e12 FLOP (3.072 ms); attention 8 heads x 4*1e3*(8e3*8,001/2)
    = 1.024128e12 (1.024128 ms); o 1.024 ms; MLP up and down 2.048 ms each; LM head 2*8e3*8e3*8e3 =
    1.024 ms; memory-bound glue: KV write 8e3*16e3*2 B = 0.256 ms, norms 16*8e3*8e3 B = 1.024 ms,
    embedding 0.256 ms, cross entropy 6*8e3*8e3 B = 0.384 ms. Forward 12.160128 ms.
    Backward: GEMMs twice (9.216 -> 18.432 ms), attention 2.5x (2.56032 ms), glue twice (3.84 ms):
    24.83232 ms. Adam: 640,016,000 parameters x 32 B at 1 TB/s = 20.480512 ms. Step 57.47296 ms."""
    r = train_step(square_model(), round_system(chips=1, domain=1), 1,
                   TrainingLayout(seq_len=8000, global_batch=1, zero=0), perfect_calibration(), exact_profile())
    assert r.compute_s == pytest.approx(12.160128e-3 + 24.83232e-3)
    assert r.optimizer_s == pytest.approx(20.480512e-3)
    assert r.step_s == pytest.approx(57.47296e-3)
    assert r.tokens_per_s == pytest.approx(8000 / 57.47296e-3)


@pytest.mark.parametrize("tp", [2, 4])
def test_sequence_parallelism_runs_the_norms_on_1_over_tp_of_the_tokens(tp: int) -> None:
    """Under sequence parallelism each of the tp ranks runs the norms, residual adds and dropout on its s/tp
    tokens (Korthikanti et al. 2022, arXiv 2205.05198, Sec. 4.2.2); without it every rank runs them on all s.
    The round chip's glue: 16 B x 8,000 tokens x 8,000 hidden = 1.024 GB, 1.024 ms at 1 TB/s forward and
    twice that backward, 3.072 ms a microbatch on every rank without sequence parallelism, 3.072/tp with it:
    1.536 ms less at tp 2, 2.304 ms less at tp 4. Nothing else the step prices changes (one stage: no send)."""
    def step(sp: bool):
        return train_step(square_model(), round_system(chips=tp), tp,
                          TrainingLayout(tp=tp, seq_len=8000, global_batch=1, zero=0, sequence_parallel=sp),
                          perfect_calibration(), exact_profile())
    replicated, split = step(False), step(True)
    assert replicated.compute_s - split.compute_s == pytest.approx(3.072e-3 * (1 - 1 / tp))
    assert replicated.step_s - split.step_s == pytest.approx(3.072e-3 * (1 - 1 / tp))


def test_model_flops_follow_palm() -> None:
    """6N + 12 L h s: N = 5.12e8 layer matrices + 6.4e7 head = 5.76e8 -> 3.456e9; 12 x 8e3 x 8e3 = 7.68e8."""
    assert model_flops_per_token(square_model(), 8000) == pytest.approx(3.456e9 + 7.68e8)


@pytest.mark.parametrize(("p", "v", "m"), [(4, 1, 8), (8, 1, 3), (4, 2, 8), (4, 4, 16)])
def test_pipeline_bubble_is_p_minus_1_over_vm_plus_p_minus_1_of_the_step(p: int, v: int, m: int) -> None:
    """1F1B runs m microbatches in (m + p - 1) stage-times: bubble (p-1)/(m+p-1) of the step (Narayanan
    et al. 2021 Sec. 2.2.1); interleaving v chunks: (p-1)/(v m + p - 1) (Sec. 2.2.2). One data-parallel
    rank and no optimizer traffic, so the pipeline is the whole step. The LM head on the last stage makes it the
    busiest: its stage-time paces the m microbatches, the other p - 1 stages' make the bubble, (p-1) rest / (v m
    busiest + (p-1) rest), the papers' fraction where the two are equal."""
    from parity.training.layout import implicit_ranks
    from parity.training.arrays import _rank_flops_share
    model = square_model(layers=16)
    r = train_step(model, round_system(), p, TrainingLayout(pp=p, virtual_stages=v, seq_len=1000,
                   global_batch=m, zero=0), perfect_calibration(), exact_profile(optimizer_traffic_bytes=0.0))
    busiest, rest = _rank_flops_share(model, implicit_ranks(model, p), 1000.0)[:2]
    assert busiest > 1.0 > rest
    assert r.bubble_s / r.step_s == pytest.approx((p - 1) * rest / (v * m * busiest + (p - 1) * rest))


@pytest.mark.parametrize(("pp", "dp", "send_s"), [(2, 4, 0.16e-3), (4, 2, 0.16e-3), (4, 4, 1.6e-3)])
def test_a_pipeline_spanning_two_domains_sends_over_scale_out(pp: int, dp: int, send_s: float) -> None:
    """Stages sit tp x cp x dp chips apart (Megatron-Core's rank order "tp-cp-ep-dp-pp"). On 8-chip domains
    (100 GB/s scale-up, 10 GB/s scale-out) a send of the 2 B x 1,000 tokens x 8,000 activation (16 MB) takes
    0.16 ms inside a domain, 1.6 ms across. pp 2 at dp 4 and pp 4 at dp 2 span 8 chips: one domain. pp 4 at
    dp 4 spans 16: stages 0-1 in one domain, 2-3 in the other, and in 1F1B every stage waits on the hop
    between them (it was priced inside a domain, as its pair of ranks 4 chips apart fits one). Two sends
    (the activation forward, its gradient backward) per microbatch, m = 4."""
    r = train_step(square_model(layers=4), round_system(chips=pp * dp), pp * dp,
                   TrainingLayout(pp=pp, dp=dp, seq_len=1000, global_batch=4 * dp, zero=0), perfect_calibration(),
                   exact_profile())
    assert r.pp_comm_s == pytest.approx(4 * 2 * send_s)


def test_adam_memory_per_zero_stage_as_the_zero_paper() -> None:
    """Rajbhandari et al. 2020 Fig. 1: 2 + 2 + 12 B per parameter; ZeRO-1 splits the 12 over N_d, ZeRO-2 also
    the 2 B of gradients, ZeRO-3 also the 2 B of weights. N_d = 64: 2 + 2 + 0.1875 = 4.1875 B (ZeRO-1)."""
    prof = exact_profile()
    assert adam_bytes_per_parameter(0, 64, prof) == (2.0, 2.0, 12.0)
    assert adam_bytes_per_parameter(1, 64, prof) == (2.0, 2.0, 0.1875)
    assert adam_bytes_per_parameter(2, 64, prof) == (2.0, 2.0 / 64, 0.1875)
    assert adam_bytes_per_parameter(3, 64, prof) == (2.0 / 64, 2.0 / 64, 0.1875)


_BF16_GRADIENTS = ("; bf16 gradients, where Megatron-Core's distributed-optimizer table counts fp32 ones with bf16 "
                   "weights (6 + 12/d B; --gradients fp32)")


@pytest.mark.parametrize("formats, note", [
    (dict(), "Adam: 2 + 2 + 12 B per parameter (ZeRO paper)" + _BF16_GRADIENTS),
    (dict(optimizer_states="bf16", gradients="fp32"),
     "Adam: 2 + 4 + 8 B per parameter (ZeRO paper, with bf16 moments, fp32 gradients)"),
    (dict(optimizer_states="bf16"), "Adam: 2 + 2 + 8 B per parameter (ZeRO paper, with bf16 moments)" + _BF16_GRADIENTS),
    (dict(precision="fp8"), "Adam: 3 + 2 + 12 B per parameter (ZeRO paper, with a 1 B FP8 weight copy)" + _BF16_GRADIENTS),
])
def test_the_adam_note_names_the_bytes_the_memory_counts(formats: dict, note: str) -> None:
    """The assumptions said "Adam: 2 + 2 + 12 B per parameter" whatever the formats, beside "AdamW moments in bf16
    (8 B ...)" and "gradients accumulated in fp32 (4 B ...)": they name the terms the memory holds. Llama-3.1-8B on
    one H100, ZeRO 0: weights, gradients and optimizer states are the note's bytes times one parameter count."""
    model, system = catalog.model("llama-3.1-8b"), catalog.system("hgx-h100")
    r = train_step(model, system, 1, TrainingLayout(zero=0, global_batch=8, **formats),
                   catalog.calibration(system.chip), catalog.training_profile())
    assert [a for a in r.assumptions if a.startswith(("Adam", "AdamW", "gradients"))] == [note]
    terms = [float(b) for b in note.split(": ")[1].split(" B")[0].split(" + ")]
    memory = (r.memory.weight_bytes, r.memory.gradient_bytes, r.memory.optimizer_bytes)
    assert memory == pytest.approx([b * memory[0] / terms[0] for b in terms], rel=1e-12)


def test_zero1_memory_of_a_layout() -> None:
    """640,016,000 parameters on 4 data-parallel chips, ZeRO-1: weights 2 B, gradients 2 B each
    (1.280032 GB), optimizer states 12 / 4 = 3 B (1.920048 GB)."""
    r = train_step(square_model(), round_system(), 4, TrainingLayout(dp=4, seq_len=1000, global_batch=4, zero=1),
                   perfect_calibration(), exact_profile())
    assert r.memory.weight_bytes == pytest.approx(1.280032e9)
    assert r.memory.gradient_bytes == pytest.approx(1.280032e9)
    assert r.memory.optimizer_bytes == pytest.approx(1.920048e9)



def test_zero3_gathers_weights_each_pass_and_hides_them_behind_compute() -> None:
    """ZeRO-3 on 16 round chips (two 8-chip domains, 100 GB/s scale-up, 10 GB/s scale-out), one
    microbatch of 8,000 tokens each. All-gather of the 1.280032 GB bf16 weights (and reduce-scatter of
    as many gradient bytes): 7/8 x S / 100 GB/s inside the domain (11.20028 ms) + the 2-domain ring
    S/2 / 10 GB/s spread over the 8 chips' NICs (8.0002 ms) = 19.20048 ms. Forward gather behind the
    12.160128 ms forward: 7.040352 ms exposed; backward gather + reduce-scatter 38.40096 ms behind the
    24.83232 ms backward: 13.56864 ms. Adam on 1/16 of the states 1.280032 ms. Step 58.881472 ms."""
    r = train_step(square_model(), round_system(chips=16), 16, TrainingLayout(dp=16, seq_len=8000, global_batch=16,
                   zero=3), perfect_calibration(), exact_profile())
    assert r.dp_comm_s == pytest.approx(7.040352e-3 + 13.56864e-3)
    assert r.optimizer_s == pytest.approx(1.280032e-3)
    assert r.step_s == pytest.approx(58.881472e-3)


@pytest.mark.parametrize(("zero", "collectives"), [(1, 2), (2, 5), (3, 12)])
def test_zero_stages_sync_once_a_step_or_every_microbatch(zero: int, collectives: int) -> None:
    """The 16-chip layout above with 4 microbatches and nothing overlapped: every all-gather and
    reduce-scatter of 1.280032 GB takes 19.20048 ms. ZeRO-1 reduce-scatters the accumulated gradients
    and gathers the weights once a step (2); ZeRO-2 keeps only its gradient shard, so it reduce-scatters
    after each of the 4 backwards, and gathers once (5); ZeRO-3 gathers before forward and backward and
    reduce-scatters every microbatch (4 x 3 = 12)."""
    r = train_step(square_model(), round_system(chips=16), 16, TrainingLayout(dp=16, seq_len=8000, global_batch=64,
                   zero=zero, grad_overlap="none"), perfect_calibration(), exact_profile())
    assert r.dp_comm_s == pytest.approx(collectives * 19.20048e-3)


def test_deepspeed_2021_zero3_rows_hide_none_of_their_data_parallel_traffic() -> None:
    """Narayanan et al. 2021's ZeRO-3 rows ran DeepSpeed before its ZeRO-3 gathers became asynchronous
    (PR #1453): their `grad_overlap` column reads none; every other row keeps the overlap default."""
    from parity.validate_training import training_cases
    policy = {c.case_id: c.layout.grad_overlap for c in training_cases()}
    assert {k for k, v in policy.items() if v == "none"} == {
        f"megatron2021-t2-zero3-{size}" for size in ("175b-384", "175b-768", "175b-1536", "529.6b-640", "529.6b-1120",
                                                      "529.6b-2240")}
    assert set(policy.values()) == {"none", "overlap"}


def test_zero3_loses_per_chip_throughput_as_dp_grows_at_a_fixed_global_batch() -> None:
    """Global batch 64, one microbatch per rank: doubling dp halves each chip's compute (74.0 -> 37.0 ms),
    while ZeRO-3 still gathers all the weights before forward and backward and reduce-scatters the
    gradients every microbatch, the same bytes per chip at any dp: from dp 32 to 64 its exposed traffic
    rises from 0 to 38.6 ms, the step does not shrink and tokens/s per chip halves (Narayanan et al. 2021
    Table 2's ZeRO-3 rows). ZeRO-1 leaves 13.4 ms of its once-a-step sync exposed and keeps 74%."""
    def per_chip(dp: int, zero: int) -> tuple[float, float]:
        r = train_step(square_model(), round_system(chips=dp), dp, TrainingLayout(dp=dp, micro_batch=64 // dp, seq_len=8000,
                       global_batch=64, zero=zero), perfect_calibration(), exact_profile())
        return float(r.tokens_per_s_per_chip), float(r.dp_comm_s)
    (z3_32, dp3_32), (z3_64, dp3_64) = per_chip(32, 3), per_chip(64, 3)
    (z1_32, _), (z1_64, _) = per_chip(32, 1), per_chip(64, 1)
    assert dp3_32 == pytest.approx(0.0)
    assert dp3_64 == pytest.approx(38.609e-3, rel=1e-4)
    assert z3_64 / z3_32 == pytest.approx(0.4915, abs=0.001)
    assert z1_64 / z1_32 == pytest.approx(0.7356, abs=0.001)


S, B, H, A, T = 2048, 4, 8000, 8, 8
KORTHIKANTI = dict(flash_attention=False, dropout=True, keys=S)


def activations(**kw: object) -> float:
    args = dict(tp=1, sequence_parallel=False, expert_tp=1, recompute=0) | KORTHIKANTI | kw
    return S * B * float(layer_activation_bytes_per_token(gpt_layer(H, A, mlp=4), H, **args))  # type: ignore[arg-type]


def test_activation_memory_per_layer_from_korthikanti_et_al() -> None:
    """Korthikanti et al. 2022 Table 2 (GPT layer, 16-bit activations, 1-byte dropout masks):
    no parallelism sbh(34 + 5as/h); tensor parallel sbh(10 + 24/t + 5as/(ht)); with sequence parallelism
    sbh(34/t + 5as/(ht)); selective recomputation sbh(34/t); full recomputation 2sbh."""
    sbh, score = S * B * H, 5 * A * S / H
    assert activations() == pytest.approx(sbh * (34 + score))
    assert activations(tp=T) == pytest.approx(sbh * (10 + 24 / T + score / T))
    assert activations(tp=T, sequence_parallel=True) == pytest.approx(sbh * (34 / T + score / T))
    assert activations(tp=T, sequence_parallel=True, recompute=1) == pytest.approx(sbh * 34 / T)
    assert activations(recompute=2) == pytest.approx(2 * sbh)


def test_does_not_fit_names_the_shortfall_and_biggest_term() -> None:
    """Llama-3.1-405B on one 8-GPU H100 node: ~16 B per parameter of 405 B / 8 = ~810 GB per GPU; the
    optimizer states (12 B per parameter, ZeRO-1 over dp 1) are the biggest term."""
    h100 = catalog.system("hgx-h100")
    r = train_step(catalog.model("llama-3.1-405b"), h100, 8, TrainingLayout(tp=8, seq_len=4096, global_batch=8),
                   catalog.calibration(h100.chip), catalog.training_profile())
    assert not r.fits and r.shortfall_bytes > 700e9
    assert r.memory.biggest_term() == "optimizer states"


@pytest.mark.parametrize(("changes", "message"), [
    (dict(tp=48, dp=1), "tp must divide num_attention_heads (64), got 48"),
    (dict(tp=8, dp=4, global_batch=30), "--global-batch must be a multiple of --dp x --micro-batch (4 x 1 = 4), got 30"),
    (dict(tp=8, dp=8), "tp x pp x cp x dp must equal the chips (32)"),
    # 64 sequences over dp 3 do not divide either, but the product missing the chips is the mistake to name
    (dict(tp=8, pp=2, dp=3), "tp x pp x cp x dp must equal the chips (32), got 8 x 2 x 1 x 3 = 48"),
    (dict(tp=8, dp=4, ep=2), "ep and etp apply to mixture-of-experts models only"),
])
def test_bad_layouts_name_the_field(changes: dict, message: str) -> None:
    layout = TrainingLayout(**{"global_batch": 64} | changes)
    with pytest.raises(InfeasiblePlan, match=message.replace("(", r"\(").replace(")", r"\)")):
        layout.check(catalog.model("llama-3.1-70b"), 32)


DENSE = ["llama-3.1-8b", "llama-3.1-70b", "qwen3-32b"]


@EXAMPLES
@given(model=st.sampled_from(DENSE), zero=st.integers(0, 3), recompute=st.sampled_from(["none", "full"]),
       precision=st.sampled_from(["bf16", "fp8"]))
def test_memory_per_chip_never_grows_with_more_tensor_parallelism(model: str, zero: int, recompute: str,
                                                                 precision: str) -> None:
    """8 chips: tp 1, 2, 4, 8 with dp = 8 / tp; sequence parallelism on."""
    m, h100 = catalog.model(model), catalog.system("hgx-h100")
    sizes = [float(train_step(m, h100, 8, TrainingLayout(tp=tp, dp=8 // tp, zero=zero, recompute=recompute,
                                                         precision=precision, seq_len=4096, global_batch=8),
                              catalog.calibration(h100.chip), catalog.training_profile()).memory.total_bytes)
             for tp in (1, 2, 4, 8)]
    assert all(a >= b * (1 - 1e-12) for a, b in zip(sizes, sizes[1:])), sizes


@EXAMPLES
@given(model=st.sampled_from(DENSE + ["qwen3-30b-a3b"]), tp=st.sampled_from([1, 2, 4]), dp=st.sampled_from([2, 4, 8]))
def test_memory_per_chip_never_grows_with_a_higher_zero_stage(model: str, tp: int, dp: int) -> None:
    m, h100 = catalog.model(model), catalog.system("hgx-h100")
    ep = dp if "moe" in m.features else 1
    sizes = [float(train_step(m, h100, tp * dp, TrainingLayout(tp=tp, dp=dp, ep=ep, zero=z, seq_len=4096,
                                                               global_batch=2 * dp),
                              catalog.calibration(h100.chip), catalog.training_profile()).memory.total_bytes)
             for z in (0, 1, 2, 3)]
    assert all(a >= b for a, b in zip(sizes, sizes[1:])), sizes


@EXAMPLES
@given(model=st.sampled_from(DENSE + ["deepseek-v3"]), system=st.sampled_from(["hgx-h100", "atlas-800-a3", "gb200-nvl72"]),
       pp=st.sampled_from([1, 2, 4]), zero=st.integers(0, 3), k=st.integers(1, 8), more=st.integers(1, 8))
def test_step_time_never_falls_when_the_global_batch_grows(model: str, system: str, pp: int, zero: int, k: int,
                                                           more: int) -> None:
    """64 ranks (32 chips of the 910C's two dies), tp 8 (ep 8 for the MoE model): more sequences per step never take
    less time."""
    m, s = catalog.model(model), catalog.system(system)
    dp = 64 // (8 * pp)

    def step(batch: int) -> float:
        layout = TrainingLayout(tp=8, pp=pp, dp=dp, ep=8 if "moe" in m.features else 1, zero=zero, seq_len=2048,
                                global_batch=batch)
        return float(train_step(m, s, 64 // s.chip.dies, layout, catalog.calibration(s.chip),
                                catalog.training_profile()).step_s)

    assert step(dp * (k + more)) >= step(dp * k)


def test_search_finds_a_layout_that_fits_for_llama_70b_on_1024_h100_and_910c() -> None:
    for name in ("hgx-h100", "atlas-800-a3"):
        s = catalog.system(name)
        found = search_training(catalog.model("llama-3.1-70b"), s, 1024, 8192, 512, catalog.calibration(s.chip),
                                catalog.training_profile())
        assert found.best and all(bool(r.fits) for r in found.best)
        assert [r.step_s for r in found.best] == sorted(r.step_s for r in found.best)
        # chips count packages, the layout ranks: one a die of the 910C's two
        assert found.best[0].chips == 1024 and found.best[0].ranks == 1024 * s.chip.dies
        assert found.best[0].layout is not None and found.best[0].layout.chips == 1024 * s.chip.dies


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_train_json_has_the_documented_keys() -> None:
    code, out, _ = run("train", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--tp", "2", "--seq-len", "8192",
                       "--global-batch", "64", "--format", "json")
    data = json.loads(out)
    assert code == 0
    assert {"step_s", "tokens_per_s", "mfu", "memory_bytes_per_chip", "fits", "breakdown", "time_to_train_s",
            "chip_hours", "energy_j_at_tdp"} <= set(data)
    assert data["layout"]["dp"] == 4 and 0 < data["mfu"] < 1
    assert data["step_s"] == pytest.approx(sum(data["breakdown"].values()))


@pytest.mark.parametrize("args", [
    ("--model", "deepseek-v3", "--system", "hgx-b200", "--chips", "128", "--global-batch", "512", "--recompute", "full"),
    ("--model", "llama-3.1-70b", "--system", "hgx-h100", "--chips", "64", "--tp", "8", "--pp", "4", "--vp", "5",
     "--global-batch", "256", "--recompute", "full", "--micro-batch", "4"),
    ("--model", "llama-3.1-8b", "--system", "hgx-h100", "--tp", "1", "--pp", "2", "--pp-first-layers", "15",
     "--global-batch", "64", "--recompute", "full", "--zero", "3", "--grad-overlap", "none"),
])
def test_train_breakdown_adds_up_to_the_step(args: tuple[str, ...]) -> None:
    """Every breakdown key is a slice of the step: recompute_s was inside compute_s, so the keys summed to 21.38 s
    against a 17.87 s DeepSeek-V3 step (recomputation counted twice). Now compute_s is the forward and backward
    passes and recompute_s stands beside it, in JSON, in CSV and in the table, with recomputation, pipeline
    bubbles, uneven stages and ZeRO-3 traffic."""
    code, out, _ = run("train", *args, "--format", "json")
    data = json.loads(out)
    breakdown = data["breakdown"]
    assert code == 0 and breakdown["recompute_s"] > 0 and breakdown["bubble_s"] > 0
    assert sum(breakdown.values()) == pytest.approx(data["step_s"], rel=1e-12)
    code, out, _ = run("train", *args, "--format", "csv")
    row = next(csv.DictReader(io.StringIO(out)))
    assert sum(float(v) for k, v in row.items() if k.startswith("breakdown_")) == pytest.approx(data["step_s"])
    code, out, _ = run("train", *args)
    shares = [float(line.rsplit("(", 1)[1].rstrip("%)")) for line in out.splitlines() if line.endswith("%)")]
    assert "  recomputation " in out and sum(shares) == pytest.approx(100, abs=0.1 * len(shares))


def test_train_search_csv_has_the_single_run_columns_after_the_rank(tmp_path: Path) -> None:
    """`train --search --format csv` had 7 columns (rank, layout, step_s, ...) against the single run's 68 (with ranks
    and dies_per_chip): no layout_tp, no fits, no memory terms or breakdown to filter on. Each row is now the single
    run's CSV record (69 columns with memory_pipeline_rank, 84 with the 80% intervals of 7 quantities and their
    basis, 85 with memory_per) after its rank; the first is the layout `train` picks without --search, at the same
    step time. --out x.csv alike."""
    args = ("train", "--model", "llama-3.1-8b", "--system", "hgx-h100")
    code, out, _ = run(*args, "--search", "--top", "3", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    _, single, _ = run(*args, "--format", "csv")
    (one,) = csv.DictReader(io.StringIO(single))
    assert code == 0 and len(rows) == 3 and list(rows[0]) == ["rank", *one] and len(one) == 85
    assert [r["rank"] for r in rows] == ["1", "2", "3"] and all(r["fits"] == "True" for r in rows)
    assert (rows[0]["layout_name"], rows[0]["step_s"], rows[0]["breakdown_compute_s"]) == (
        one["layout_name"], one["step_s"], one["breakdown_compute_s"])
    run(*args, "--search", "--top", "3", "--out", str(tmp_path / "s.csv"))
    assert (tmp_path / "s.csv").read_text() == out


def test_train_says_does_not_fit_by_how_much() -> None:
    """A layout that does not fit is refused (exit 2, by how much) unless --show-infeasible asks for it."""
    args = ("train", "--model", "llama-3.1-405b", "--system", "hgx-h100", "--tp", "8", "--global-batch", "8",
            "--format", "json")
    code, out, err = run(*args)
    assert code == 2 and not out and "does not fit by " in err and err.count("\n") == 1
    code, out, _ = run(*args, "--show-infeasible")
    data = json.loads(out)
    assert code == 0 and not data["fits"]
    assert data["note"].startswith("does not fit by ") and "optimizer states is the biggest term" in data["note"]


@pytest.mark.parametrize("args", [("--tp", "48"), ("--precision", "fp8", "--tp", "3")])
def test_train_bad_layout_is_one_line_and_exit_2(args: tuple[str, ...]) -> None:
    code, out, err = run("train", "--model", "llama-3.1-70b", "--system", "hgx-h100", *args)
    assert code == 2 and err.count("\n") == 1 and err.startswith("parity: error: tp must divide"), err


def test_train_search_prints_the_top_layouts() -> None:
    code, out, _ = run("train", "--model", "llama-3.1-70b", "--system", "hgx-h100", "--chips", "1024", "--seq-len",
                       "8192", "--global-batch", "512", "--search", "--format", "json")
    data = json.loads(out)
    assert code == 0 and len(data["best"]) == 10 and all(r["fits"] for r in data["best"])


@pytest.mark.validation
def test_training_holdout_rows_meet_the_target(targets: dict) -> None:
    """Median relative error of per-chip throughput on rows not used for fitting within targets.toml
    [training] (10%)."""
    from parity.validate_training import training_case_errors
    errors = training_case_errors()
    holdout = [abs(e.error) for e in errors if e.split == "holdout"]
    t = targets["training"]
    assert len(holdout) >= t["holdout_rows_min"]
    assert float(np.median(holdout)) <= t["holdout_median_abs_error_max"]
    assert not {e.case_id for e in errors if e.split == "calibration"} & {e.case_id for e in errors
                                                                         if e.split == "holdout"}


def test_fp8_is_faster_where_native_and_emulated_where_not() -> None:
    """Llama-3.1-8B on 8 ranks (4 910C packages of two dies): FP8 beats bf16 on the H100 (native FP8); the Ascend 910C
    has no FP8, so FP8 GEMMs run on its bf16 unit at the emulation efficiency and the step is no faster than bf16."""
    m = catalog.model("llama-3.1-8b")

    def step(system: str, precision: str) -> float:
        s = catalog.system(system)
        layout = TrainingLayout(tp=2, dp=4, seq_len=4096, global_batch=32, precision=precision)
        return float(train_step(m, s, 8 // s.chip.dies, layout, catalog.calibration(s.chip),
                                catalog.training_profile()).step_s)

    assert step("hgx-h100", "fp8") < step("hgx-h100", "bf16")
    assert step("atlas-800-a3", "fp8") >= step("atlas-800-a3", "bf16")


@EXAMPLES
@given(zero=st.integers(0, 3), pp=st.sampled_from([1, 4]))
def test_overlapping_gradient_communication_never_slows_the_step(zero: int, pp: int) -> None:
    m, h100 = catalog.model("llama-3.1-70b"), catalog.system("hgx-h100")

    def step(policy: str) -> float:
        layout = TrainingLayout(tp=8, pp=pp, dp=64 // pp, zero=zero, seq_len=4096, global_batch=128, grad_overlap=policy)
        return float(train_step(m, h100, 512, layout, catalog.calibration(h100.chip), catalog.training_profile()).step_s)

    assert step("overlap") <= step("none")


def test_pipeline_layout_chunks_and_busiest_rank():
    """Megatron-Bridge 25.09's DeepSeek-V3 layout "Et|(tt|)*30mL": 32 chunks, the 61 layers, then the MTP module
    and the loss. Rank 15 of pp16 x vp2 holds chunk 15 (2 layers) and chunk 31 (MTP: one layer, a 2h x h
    projection, the LM head again; and the LM head): with one layer ~1.33 GFLOP a token and the head
    2 x 7168 x 129280 = 1.85 GFLOP, ~2 x 1.33 + 1.33 + 0.21 + 2 x 1.85 = 7.9 GFLOP against the even share
    (61 x 1.33 + 1.85) / 16 = 5.2: 1.52. The MTP module adds 3.40 GFLOP to the 83.48 priced (3 x 1.3347 + 58 x
    1.3384 + 1.8534), so an even rank's share is 1 + 3.40 / 83.48 = 1.0407 of the one priced, whatever the split."""
    from parity.training.layout import layout_chunks
    from parity.training.arrays import _rank_flops_share
    chunks = layout_chunks("Et|(tt|)*30mL")
    assert (len(chunks), chunks[0], chunks[1], chunks[-1]) == (32, "Et", "tt", "mL")
    assert sum(c.count("t") for c in chunks) == 61
    model = catalog.model("deepseek-v3")
    stage = {(pp, vp): _rank_flops_share(model, TrainingLayout(pp=pp, virtual_stages=vp, pp_layout="Et|(tt|)*30mL")
                                         .pipeline_ranks(model), 4096.0) for pp, vp in ((16, 2), (8, 4), (4, 8))}
    assert stage[(16, 2)][0] == pytest.approx(1.519, abs=0.005)
    assert stage[(8, 4)][0] == pytest.approx(1.273, abs=0.005)
    assert stage[(4, 8)][0] == pytest.approx(1.149, abs=0.005)
    assert {round(shares[-1], 4) for shares in stage.values()} == {1.0407}
    with pytest.raises(InfeasiblePlan, match=r"--pp x --vp \(16 x 1\) chunks, got 32 \(--vp 2 for these"):
        TrainingLayout(pp=16, dp=16, ep=8, pp_layout="Et|(tt|)*30mL").check(model, 256)
    with pytest.raises(InfeasiblePlan, match="only E, t, m, L"):
        layout_chunks("Et|x")


def test_moe_glue_grows_with_tokens_not_microbatches():
    """The routed tokens' glue is priced per token (moe_permute_scale), so at one global batch four times the
    micro batch leaves the MoE time per token about where it was; the per-layer constant does not."""
    model, system = catalog.model("qwen3-30b-a3b"), catalog.system("hgx-b200")
    cal = perfect_calibration()

    def compute_s(mb: int, **profile: object) -> float:
        layout = TrainingLayout(dp=8, ep=8, micro_batch=mb, global_batch=512, seq_len=4096, precision="fp8")
        return float(train_step(model, system, 8, layout, cal, exact_profile(**profile)).compute_s)

    glue = compute_s(1, moe_permute_scale=6.0) - compute_s(1)
    assert compute_s(4, moe_permute_scale=6.0) - compute_s(4) == pytest.approx(glue, rel=0.02)
    # 48 MoE layers x 64 microbatches of 1 ms against 16 of them
    assert compute_s(1, moe_layer_overhead_s=1e-3) - compute_s(1) == pytest.approx(48 * 64e-3, rel=1e-6)
    assert compute_s(4, moe_layer_overhead_s=1e-3) - compute_s(4) == pytest.approx(48 * 16e-3, rel=1e-6)


def test_expert_all_to_all_dispatchers():
    """Megatron's alltoall dispatcher sends one row per (token, expert); DeepEP once per destination rank:
    8 experts of 128 over 8 ranks reach 8 x (1 - (7/8)^8) = 5.25 ranks on average, so alltoall moves
    8 / 5.25 = 1.52 times DeepEP's bytes inside one NVLink domain."""
    model, system = catalog.model("qwen3-30b-a3b"), catalog.system("hgx-b200")
    cal = perfect_calibration()

    def ep_s(dispatcher: str) -> float:
        layout = TrainingLayout(dp=8, ep=8, global_batch=64, seq_len=4096, precision="fp8", moe_dispatcher=dispatcher)
        return float(train_step(model, system, 8, layout, cal, exact_profile()).ep_comm_s)

    assert ep_s("alltoall") / ep_s("deepep") == pytest.approx(8 / (8 * (1 - (7 / 8) ** 8)), rel=0.1)
    with pytest.raises(InfeasiblePlan, match="moe_dispatcher"):
        TrainingLayout(moe_dispatcher="flex")


def test_sliced_experts_gather_what_they_received():
    """Experts sliced as well as spread (--etp > 1): after the all-to-all over the EP ranks, each rank all-gathers
    what it received over its expert-TP slices, and the combine reduce-scatters first (Megatron's
    MoEAlltoAllTokenDispatcher, gather_from_sequence_parallel_region over the expert tensor group). Qwen3-30B-A3B,
    top-8, BF16 (dispatch and combine alike), 8 B200 in one NVLink domain, each rank sending S bytes a token copy:
    EP 8 x ETP 1 moves 8S x 7/8 = 7S; EP 4 x ETP 2 moves 8S x 3/4 = 6S, then gathers 2 x 8S x 1/2 = 8S: 14S, twice
    EP 8; EP 2 x ETP 4: 8S x 1/2 + 4 x 8S x 3/4 = 28S, four times (less the per-call latencies it pays fewer of).
    Unpriced, EP 4 x ETP 2 moved 6/7 of EP 8's bytes."""
    model, system = catalog.model("qwen3-30b-a3b"), catalog.system("hgx-b200")

    def ep_s(ep: int, etp: int) -> float:
        layout = TrainingLayout(dp=8, ep=ep, etp=etp, global_batch=64, seq_len=4096, moe_dispatcher="alltoall")
        return float(train_step(model, system, 8, layout, perfect_calibration(), exact_profile()).ep_comm_s)

    assert ep_s(4, 2) / ep_s(8, 1) == pytest.approx(14 / 7, rel=0.01)
    assert ep_s(2, 4) / ep_s(8, 1) == pytest.approx(28 / 7, rel=0.02)


def test_cli_pipeline_layout_sets_the_virtual_stages():
    """--pp-layout with no --vp: 32 chunks over pp 16 are 2 virtual stages; the layout and dispatcher reach the payload."""
    result = CliRunner().invoke(cli, ["train", "--model", "deepseek-v3", "--system", "hgx-b200", "--chips", "256", "--pp", "16",
                                      "--ep", "8", "--global-batch", "2048", "--precision", "fp8", "--recompute", "none",
                                      "--pp-layout", "Et|(tt|)*30mL", "--moe-dispatcher", "deepep", "--show-infeasible",
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    layout = json.loads(result.output)["layout"]
    assert (layout["virtual_stages"], layout["pp_layout"], layout["moe_dispatcher"]) == (2, "Et|(tt|)*30mL", "deepep")


def test_a_training_prediction_names_what_it_was_never_checked_on() -> None:
    """Training predictions on a chip with no measured calibration, or of a family no published training run was
    measured on, say so as serving ones do: the MTT S5000 both (its MUSA family has no run), the Atlas 800 A3 the
    family (DaVinci 910: no Ascend training run in the data) and its kernel figures partly inherited (the 910C's
    own, some the 910B's), the H100 nothing. `train` gives them in its table and
    JSON, `compare --workload train` in its note (with the S5000 server's assumed power, which its per-kW figure
    rests on)."""
    from parity.compare import compare
    from parity.uncertainty import training_flags
    s5000, a3, h100 = (catalog.system(s) for s in ("mtt-s5000-8card", "atlas-800-a3", "hgx-h100"))
    llama = catalog.model("llama-3.1-8b")
    assert [f.text.split(" (")[0] for f in training_flags(s5000, llama, 4096)] == [
        "uncalibrated chip moorethreads-mtt-s5000", "training never checked on the musa family"]
    assert [f.kind for f in training_flags(a3, llama, 4096)] == ["kernel figures partly inherited",
                                                                 "training never checked on the davinci-910 family"]
    assert training_flags(h100, llama, 4096) == ()
    out = CliRunner().invoke(cli, ["train", "--model", "llama-3.1-8b", "--system", "mtt-s5000-8card", "--format",
                                   "json"])
    assert json.loads(out.stdout)["flags"] == [f.text for f in training_flags(s5000, llama, 4096)]
    rows = compare([h100, a3, s5000], catalog.model("llama-3.1-8b"), catalog.engine("generic"), workload="train")
    assert [r.note for r in rows] == ["", "training unchecked on the davinci-910 family; power derived; no clear "
                                          "winner per chip and per kW (1 lies inside their 80% intervals)",
                                      "uncalibrated (derived prior); training unchecked on the musa family; "
                                      "power assumed"]


def test_fp8_training_on_a_chip_without_fp8_says_it_is_emulated() -> None:
    """The A100 and the Ascend 910B have no FP8 math (rate 0): --precision fp8 runs its GEMMs at the BF16 rate, and
    `train` and `compare --workload train` printed "fp8" without a word; now a note, and the format column says what
    it runs on. The H100 has FP8 units: no note. A side-by-side (`compare --workload train`) trains them in BF16
    instead, their native fallback, and says so (cost.native_format: emulated FP8 trains slower than BF16 itself)."""
    from parity.compare import compare, format_label
    a100, a2, h100 = (catalog.system(s) for s in ("hgx-a100", "atlas-800-a2", "hgx-h100"))
    llama = catalog.model("llama-3.1-8b")
    layout = TrainingLayout(global_batch=64, dp=8, precision="fp8")
    notes = [train_step(llama, s, 8, layout, catalog.calibration(s.chip), catalog.training_profile()).assumptions
             for s in (a100, h100)]
    assert "fp8 emulated on bf16 (nvidia-a100-sxm has no FP8 math)" in notes[0]
    assert not any("emulated" in note for note in notes[1])
    rows = compare([a100, a2, h100], llama, catalog.engine("generic"), workload="train", training_precision="fp8")
    assert [format_label(r.weights, r.emulated_on) for r in rows] == ["bf16", "bf16", "fp8"]
    assert [(f"bf16: {r.chip} has no FP8 math (fp8 asked)") in r.note for r in rows] == [True, True, False]
    # serving says it the same way (compare --weights fp8: the A100 dequantises onto its BF16 units)
    served = compare([a100, h100], llama, catalog.engine("generic"), weights="fp8")
    assert [(r.weights, r.emulated_on) for r in served] == [("fp8", "bf16"), ("fp8", "")]
    assert ["fp8 emulated on bf16 (nvidia-a100-sxm has no FP8 math)" in r.note for r in served] == [True, False]


def test_compare_trains_with_the_profile_train_uses() -> None:
    """`compare --workload train` and `train` price Llama-3.1-70B on 64 H100s alike: the same layout (tp2-pp4-cp2-dp4,
    ZeRO-1; tp2-pp1-dp32 ZeRO-3 while ZeRO-3's traffic hid wholly beside compute), tokens/s per chip and MFU
    (compare searched with the default profile, 1,450.0 tok/s/chip at MFU 65.8%, where train's fitted profile gives
    1,176.5 at 53.4%; 1,257.1 at 57.1% with ZeRO-3's traffic hidden). `calibrated` is the chip's calibration in both workloads:
    true for the H100 (serving measurements fitted it), false for the MTT S5000 (derived prior)."""
    from parity.compare import compare
    h100, s5000 = catalog.system("hgx-h100"), catalog.system("mtt-s5000-8card")
    llama = catalog.model("llama-3.1-70b")
    (row,) = compare([h100], llama, catalog.engine("generic"), workload="train", chips=64)
    code, out, _ = run("train", "--model", "llama-3.1-70b", "--system", "hgx-h100", "--chips", "64", "--format", "json")
    data = json.loads(out)
    assert code == 0 and row.layout == data["layout"]["name"]
    assert row.tokens_per_s_per_chip == pytest.approx(data["tokens_per_s_per_chip"], rel=1e-11)  # JSON: 12 digits
    assert row.mfu == pytest.approx(data["mfu"], rel=1e-12)
    assert row.tokens_per_s_per_chip == pytest.approx(1176.5, abs=0.1)
    trained = compare([h100, s5000], catalog.model("llama-3.1-8b"), catalog.engine("generic"), workload="train")
    served = compare([h100, s5000], catalog.model("llama-3.1-8b"), catalog.engine("generic"))
    assert [r.calibrated for r in trained] == [r.calibrated for r in served] == [True, False]


def test_compare_sizes_a_training_job_as_train_does() -> None:
    """Without --chips, `compare --workload train` trains each system on the fewest whole systems on which a layout
    fits, as `train` does (it kept one system, so 7 of the 9 default systems "did not fit" Llama-3.1-70B): on HGX
    H100 2 systems (16 chips), the same layout and tokens/s per chip as `train`; then every system on jobs of that
    size, rounded up to its whole systems (report-only tester DA 2: each on its own fewest, a per-chip ratio compared
    job sizes), so the B200, which fits on one system, trains on 2 too. The caption speaks of training (no output
    tokens, engine profile or spanning workers) and says how jobs were sized; --chips keeps every system at the
    count given."""
    from parity.compare import compare
    h100, b200 = catalog.system("hgx-h100"), catalog.system("hgx-b200")
    llama = catalog.model("llama-3.1-70b")
    sized = compare([h100, b200], llama, catalog.engine("generic"), workload="train", global_batch=1024)
    code, out, _ = run("train", "--model", "llama-3.1-70b", "--system", "hgx-h100", "--global-batch", "1024",
                       "--format", "json")
    data = json.loads(out)
    assert code == 0 and [r.chips for r in sized] == [16, 16] and [r.note for r in sized] == [
        "on 2 systems; ZeRO-3 with pipeline parallel; memory binds at 16 chips: ZeRO-3, full recompute (on 32: "
        "1,143/chip, MFU 52%)", "on 2 systems; no clear winner per GB (1 lies inside its 80% interval)"]
    assert sized[0].layout == data["layout"]["name"] == "tp2-pp2-vp2-dp4-mb1-zero3-rc-full"
    # the H100's layout is memory-bound at 16 chips (40% MFU; 52% on 32, where the B200 stays at 55%): its note says
    # so with the larger job's rate, the JSON lists the savings, and the sentence and caption say the ratio is this
    # size's (B200 3.09x at 16 chips, 2.31x at 64: report-only tester fuzzDK 2)
    assert [r.memory_bound for r in sized] == [("ZeRO-3", "full recompute"), ()]
    assert sized[0].to_dict()["memory_bound"] == ("ZeRO-3", "full recompute")
    assert sized[0].tokens_per_s_per_chip == pytest.approx(data["tokens_per_s_per_chip"], rel=1e-11)
    assert sized[0].tokens_per_s_per_chip == pytest.approx(886.7, abs=0.1)  # 954.6 with ZeRO-3's traffic all hidden
    pinned = compare([h100], llama, catalog.engine("generic"), workload="train", chips=8)
    assert pinned[0].chips == 8 and pinned[0].note.startswith("does not fit: ")
    code, out, _ = run("compare", "hgx-h100", "hgx-b200", "--model", "llama-3.1-70b", "--workload", "train")
    text = " ".join(out.split())
    assert code == 0 and "the training tokens/s per chip and per system" in text
    assert ("2.27x BF16 per chip; predicted at this job size, where memory binds hgx-h100's layout (its note), 3.09x "
            "the training tokens/s per chip and per system") in text
    assert ("'memory binds at N chips: ZeRO-3, full recompute': the system's fastest layout that fits needs these "
            "memory savings at this job size (no layout without one fits within 5% of its rate), each costing time, so "
            "its per-chip rate and every ratio to it hold for this size alone") in text
    assert ("jobs of one size, so that per-chip rates compare chips, not job sizes: the most of the fewest chips each "
            "system needs (1, 2, 4 ... 128 whole systems on which a layout fits, as 'parity train' sizes a job), rounded "
            "up to whole systems of each (here 16 chips; 'on N systems' in the note; --chips sets the count)") in text
    for serving in ("output tokens", "Engine profile", "spans N systems"):
        assert serving not in text
    assert "80% int.: the 80% interval of the per-chip ratio" in text and "published training runs" in text
    code, out, _ = run("compare", "hgx-h100", "--model", "llama-3.1-70b", "--workload", "train", "--chips", "8")
    assert "every system trains on 8 chips (--chips)" in " ".join(out.split())
    code, out, _ = run("train", "--help")
    assert "default: the fewest whole systems, 1, 2, 4 ... 128, on which a layout fits" in " ".join(out.split())


def test_memory_savings_name_what_a_layout_gives_up_to_fit() -> None:
    """ZeRO-3 and full recomputation cost time, so the fastest layout takes them only where no faster one fits;
    ZeRO-1 and selective recomputation are the search's ordinary choices and bind nothing."""
    from parity.compare import memory_savings
    from parity.training import TrainingLayout
    assert memory_savings(TrainingLayout(zero=3, recompute="full")) == ("ZeRO-3", "full recompute")
    assert memory_savings(TrainingLayout(zero=3, recompute="selective")) == ("ZeRO-3",)
    assert memory_savings(TrainingLayout(zero=1, recompute="selective")) == ()

    from parity.compare import Comparison, memory_text
    row = Comparison(system="hgx-h100", chip="nvidia-h100-sxm", model="llama-3.1-70b", workload="train",
                     weights="bf16", kv_cache="-", mode="train", layout="-", chips=16, fits=True,
                     tokens_per_s_per_chip=887.0, prefill_tokens_per_s_per_chip=np.nan, tokens_per_s_per_system=1.0,
                     tokens_per_s_per_kw=1.0, tokens_per_s_per_gb=1.0, mfu=0.40, memory_bound=("ZeRO-3",))
    larger = dataclasses.replace(row, chips=32, tokens_per_s_per_chip=1_143.4, mfu=0.519, memory_bound=("ZeRO-3",))
    assert memory_text(row, larger) == "memory binds at 16 chips: ZeRO-3 (on 32: 1,143/chip, MFU 52%; ZeRO-3 there too)"
    assert memory_text(row, None) == "memory binds at 16 chips: ZeRO-3"
    assert memory_text(dataclasses.replace(row, memory_bound=()), larger) == ""


@pytest.mark.parametrize("layout", ["(t|)*99999999999999999999", "(t|)*1000000000", "((t)*1000000)*0"])
def test_cli_pipeline_layout_is_bounded_before_it_is_expanded(layout: str) -> None:
    """A layout of DeepSeek-V3 holds at most 2 x (61 layers + 1 MTP module + E + L) = 128 entries; a repeat count
    past that is refused in one line from the counts alone (it overflowed an index, or took minutes and GBs)."""
    code, out, err = run("train", "--model", "deepseek-v3", "--system", "gb200-nvl72", "--pp", "2", "--pp-layout", layout)
    assert code == 2 and not out and err.count("\n") == 1
    assert err.startswith("parity: error: --pp-layout may expand to at most 128 entries (E, t, m, L, '|'), got "), err


def test_pipeline_layout_counts_without_expanding() -> None:
    """"Et|(tt|)*30mL": E, t, then 30 x (t, t, |), m, L: 61 t, 31 '|' (32 chunks); a group of 10^30 is counted,
    never built, and refused past the bound."""
    from parity.training.layout import layout_chunks, layout_counts
    assert layout_counts("Et|(tt|)*30mL") == {"E": 1, "t": 61, "m": 1, "L": 1, "|": 31}
    assert layout_counts("((t)*2|)*3") == {"E": 0, "t": 6, "m": 0, "L": 0, "|": 3}
    assert layout_chunks("((t)*2|)*3t") == ("tt", "tt", "tt", "t")
    with pytest.raises(InfeasiblePlan, match="at most 100 entries .* got a group of 1,000,000,000,000,000,000,000,000,000,000 in"):
        layout_counts("E(t)*" + "1" + "0" * 30, most_entries=100)
    with pytest.raises(InfeasiblePlan, match="nest"):
        layout_counts("(" * 40 + "t" + ")*2" * 40)



def test_pipeline_layout_reads_megatron_core_repeats_and_commas() -> None:
    """Megatron-Core's own DeepSeek-V3 example "Et*3|(tt|)*29,m|L" (docs/user-guide/features/
    pipeline_parallel_layout.md): "t*3" repeats one entry, the comma is cosmetic (parse_str_to_list drops it
    before anything else, so it splits nothing), giving Ettt, 29 x tt, m, L: 32 chunks, 61 layers. It was
    refused as not a layout; it now prices exactly as its expansion does."""
    from parity.training.layout import layout_chunks, layout_counts
    expanded = "Ettt|" + "tt|" * 29 + "m|L"
    assert layout_chunks("Et*3|(tt|)*29,m|L") == layout_chunks(expanded) == ("Ettt",) + ("tt",) * 29 + ("m", "L")
    assert layout_counts("Et*3|(tt|)*29,m|L") == {"E": 1, "t": 61, "m": 1, "L": 1, "|": 31}
    assert layout_chunks("(t*2|)*2,E*0|*2t") == ("tt", "tt", "", "", "t")  # tt|tt| then || then t
    outputs = []
    for layout in ("Et*3|(tt|)*29,m|L", expanded):
        code, out, err = run("train", "--model", "deepseek-v3", "--system", "hgx-h800", "--chips", "1024", "--pp", "16",
                             "--ep", "64", "--pp-layout", layout, "--format", "json")
        assert code == 0, err
        outputs.append(json.loads(out))
    assert outputs[0]["step_s"] == pytest.approx(10.296, abs=0.001)
    same = ("step_s", "breakdown", "memory_bytes_per_chip", "memory")
    assert [outputs[0][key] for key in same] == [outputs[1][key] for key in same]


@pytest.mark.parametrize("layout, at", [("Et|(t)*2*3L", "*3L"), ("Et*2*3L", "*3L"), ("E()*3tL", "()*3tL"),
                                        ("E(,)*3tL", "(,)*3tL"), ("Et*L", "*L"), ("E(tt|L", "(tt|L"),
                                        ("E(tt|)L", ")L"), ("Et)*2L", ")*2L"), ("Et|x", "x"),
                                        ("E, t*8|t*4 x", "x"), ("Et*８|t*24L", "*８|t*24L")])
def test_pipeline_layout_refusals_name_the_offending_part(layout: str, at: str) -> None:
    """What Megatron-Core's parser refuses is refused in one line naming where it goes wrong: a repeat of a
    repeat (Megatron-Core reads "(t)*2*3" as "t" then "t"*3, "t*2*3" not at all), an empty group, "*" with no
    count, a group never closed or closed without "*n", a stray ")" or letter, a full-width digit (read as 8
    before: int() takes any Unicode digit). The part is quoted as typed (the empty group's comma was left out)."""
    code, out, err = run("train", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--pp", "2", "--pp-layout", layout)
    assert code == 2 and not out
    assert err == (f"parity: error: --pp-layout may hold only E, t, m, L, '|', commas and repeats x*n or (...)*n, "
                   f"got {layout!r} (at {at!r})\n")

@pytest.mark.parametrize("layout", ["", " ", ",", " , "])
def test_an_empty_pipeline_layout_is_refused_not_read_as_none(layout: str) -> None:
    """`--pp-layout ''` ran the balanced layout, as if no layout had been given."""
    code, out, err = run("train", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--pp", "4", "--pp-layout", layout)
    given = f" ({layout!r})" if layout else ""
    assert (code, out, err) == (2, "", f"parity: error: --pp-layout is empty{given}: give a layout such as "
                                       "'Et*3|(tt|)*29,m|L', or leave it out\n")


@pytest.mark.parametrize("args, message", [
    (("--pp", "2", "--pp-first-layers", "40"),
     "--pp-first-layers (40) must leave the last stage at least 1 layer of the 32 layers; it takes 40 of them"),
    (("--pp", "2", "--pp-last-layers", "32"),
     "--pp-last-layers (32) must leave the first stage at least 1 layer of the 32 layers; it leaves 0"),
    (("--pp", "2", "--pp-first-layers", "10", "--pp-last-layers", "10"),
     "--pp-first-layers + --pp-last-layers (10 + 10) must add up to the 32 layers: --pp 2 has no other stage to take the rest"),
    (("--pp", "3", "--pp-first-layers", "10", "--pp-last-layers", "25"),
     "--pp-first-layers + --pp-last-layers (10 + 25) must leave the middle stage at least 1 layer of the 32 layers; "
     "it takes 35 of them"),
    (("--pp", "4", "--pp-first-layers", "9"),
     "--pp-first-layers (9) must leave the 3 other stages a whole number of at least 1 layer each of the 32 layers; "
     "it leaves 23"),
    (("--pp", "4", "--vp", "8", "--pp-first-layers", "10", "--pp-last-layers", "10"),
     "--pp-first-layers + --pp-last-layers (10 + 10) must leave the 2 middle stages a whole number of at least 8 layers "
     "each (one per virtual stage) of the 32 layers; it leaves 12"),
])
def test_uneven_stages_name_the_stages_that_take_the_rest(args: tuple[str, ...], message: str) -> None:
    """Llama-3.1-8B's 32 layers: with pp 2 and one stage given the other takes the rest (it said 'the 1 middle
    stages'); with both given there is nothing left to take; pp 4 with 10 + 10 leaves 12, 6 a stage, short of vp 8."""
    code, out, err = run("train", "--model", "llama-3.1-8b", "--system", "hgx-h100", *args)
    assert code == 2 and not out and err == f"parity: error: {message}\n"


@pytest.mark.parametrize("model, system, peak_ratio, mfu", [
    ("gpt3-175b", "gb300-nvl72", 2.0, 0.493),      # GB300: 5.0 PFLOP/s dense FP8 over 2.5 BF16
    ("llama-3.1-70b", "tpu7x-cube", 2.0, 0.449),   # TPU7x: 4,614 TFLOP/s FP8 over 2,307 BF16
])
def test_fp8_mfu_is_of_the_fp8_peak_and_the_bf16_ratio_is_labelled_as_one(model: str, system: str, peak_ratio: float,
                                                                         mfu: float) -> None:
    """MFU is of the peak the GEMMs run at: FP8 training on GB300 used 51% of the FP8 peak, and was printed as
    "MFU (bf16 ...) 104.5%", the FP8 model FLOP/s over the BF16 peak. That ratio (how FP8 runs often quote MFU)
    is still given, twice the MFU here, labelled a ratio (98.6% on GB300 now that pp 9 stages hold whole layers,
    11 of GPT-3's 96 on the busiest; 89.8% on TPU7x, whose ZeRO-3 over dp 64 now leaves 20% of its traffic exposed);
    no printed MFU passes 100%."""
    args = ("train", "--model", model, "--system", system, "--precision", "fp8")
    code, out, _ = run(*args, "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["mfu_peak"] == "fp8"
    assert data["mfu"] == pytest.approx(mfu, abs=0.01) and data["mfu"] < 1
    assert data["mfu_bf16"] == pytest.approx(peak_ratio * data["mfu"])
    assert data["mfu_causal"] < data["mfu"]
    out = CliRunner().invoke(cli, list(args), env={"COLUMNS": "80"}).stdout
    assert max(len(line) for line in out.splitlines()) <= 80
    rows = {line.rsplit(None, 1)[0].strip(): float(line.rsplit(None, 1)[1].rstrip("%")) for line in out.splitlines()
            if line.startswith(("MFU", "model FLOP/s")) and line.endswith("%")}  # not the caption's "MFU's"
    assert rows["MFU of the FP8 peak (6N + 12LHQT: PaLM, Megatron)"] == pytest.approx(100 * data["mfu"], abs=0.05)
    assert all(v <= 100 for k, v in rows.items() if k.startswith("MFU"))
    assert rows["model FLOP/s / BF16 peak (FP8 papers' MFU; a ratio)"] == pytest.approx(100 * data["mfu_bf16"], abs=0.05)


def test_fp8_emulated_on_bf16_units_has_its_mfu_of_the_bf16_peak() -> None:
    """The A100 has no FP8 units: FP8 GEMMs run as BF16, so MFU is of the BF16 peak and there is no other ratio."""
    code, out, _ = run("train", "--model", "llama-3.1-8b", "--system", "hgx-a100", "--precision", "fp8", "--tp", "1",
                       "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["mfu_peak"] == "bf16" and data["mfu_bf16"] == data["mfu"] and 0 < data["mfu"] < 1


@pytest.mark.parametrize("args, field, value", [
    (("--zero", "0"), "zero", 0),
    (("--micro-batch", "4"), "micro_batch", 4),
    (("--recompute", "full"), "recompute", "full"),
    (("--recompute", "selective"), "recompute", "selective"),
    (("--vp", "4"), "virtual_stages", 4),
    (("--pp-schedule", "zb"), "pp_schedule", "zb"),
    (("--optimizer-states", "bf16"), "optimizer_states", "bf16"),
    (("--grad-overlap", "none"), "grad_overlap", "none"),
])
def test_train_without_a_layout_honours_the_options_given(args: tuple[str, ...], field: str, value: object) -> None:
    """With no --tp/--pp/--dp/--cp the fastest layout is picked under what the user typed (--zero 0 showed zero2);
    a pinned pipeline schedule or virtual stages ask for a pipeline; the caption says what was pinned."""
    code, out, _ = run("train", "--model", "llama-3.1-8b", "--system", "hgx-h100", *args, "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["layout"][field] == value and data["fits"]
    if field in ("pp_schedule", "virtual_stages"):
        assert data["layout"]["pp"] > 1
    code, out, _ = run("train", "--model", "llama-3.1-8b", "--system", "hgx-h100", *args, "--search", "--top", "3",
                       "--format", "json")
    assert code == 0 and all(r["layout"][field] == value for r in json.loads(out)["best"])


def test_a_pinned_search_prices_its_layouts_as_the_step_does() -> None:
    """The fixed choices reach the search's arrays: each listed layout, priced alone, takes the same step and memory."""
    from parity.training import SearchSpace
    model, system = catalog.model("llama-3.1-8b"), catalog.system("hgx-h100")
    cal, profile = catalog.calibration(system.chip), catalog.training_profile()
    space = SearchSpace(pp_schedule="zb", optimizer_states="bf16", gradients="fp32", grad_overlap="none",
                        sequence_parallel=False, recompute=("selective",))
    found = search_training(model, system, 8, 4096, 1024, cal, profile, "bf16", space, top=3)
    assert len(found.best) == 3
    for r in found.best:
        assert r.layout is not None and r.layout.schedule == "zb" and r.layout.pp > 1
        alone = train_step(model, system, 8, r.layout, cal, profile)
        assert float(alone.step_s) == float(r.step_s) and float(alone.memory.total_bytes) == float(r.memory.total_bytes)
        assert alone.assumptions == r.assumptions


@pytest.mark.parametrize("args, message", [
    (("--micro-batch", "1000"), "--micro-batch must divide --global-batch (1024), got 1000"),
    (("--etp", "2"), "ep and etp apply to mixture-of-experts models only; llama-3.1-8b is dense (got ep 1, etp 2)"),
    (("--ep", "8"), "ep and etp apply to mixture-of-experts models only; llama-3.1-8b is dense (got ep 8, etp 0)"),
    (("--pp-layout", "garbage"), "--pp-layout may hold only E, t, m, L, '|', commas and repeats x*n or (...)*n, "
                                 "got 'garbage' (at 'garbage')"),
])
@pytest.mark.parametrize("layout", [(), ("--tp", "1"), ("--search",)])
def test_an_option_is_refused_alike_with_or_without_a_layout(args: tuple[str, ...], message: str,
                                                             layout: tuple[str, ...]) -> None:
    """--micro-batch 1000, --etp 2 on a dense model and a malformed --pp-layout were accepted (and ignored) when
    train picked the layout and refused once --tp was given, --ep 8 on a dense model with --search; now one line,
    exit 2, the same words either way."""
    code, out, err = run("train", "--model", "llama-3.1-8b", "--system", "hgx-h100", *layout, *args)
    assert code == 2 and not out and err == f"parity: error: {message}\n"


def test_a_layout_that_misses_the_chips_names_both() -> None:
    """--tp 8 --pp 2 --dp 3 on 64 chips is 48: said so, where it said the batch must be a multiple of dp (3)."""
    code, out, err = run("train", "--model", "llama-3.1-70b", "--system", "hgx-h100", "--chips", "64", "--tp", "8",
                         "--pp", "2", "--dp", "3")
    assert code == 2 and not out
    assert err == "parity: error: tp x pp x cp x dp must equal the chips (64), got 8 x 2 x 1 x 3 = 48\n"


@pytest.mark.parametrize("search, hint", [((), "add --pp (and --tp, --dp, --cp as needed)"),
                                          (("--search",), "give it without --search")])
def test_stage_placement_without_a_pipeline_says_what_to_add(search: tuple[str, ...], hint: str) -> None:
    code, out, err = run("train", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--pp-layout", "Et|(tt|)*15L",
                         *search)
    assert code == 2 and not out and err == f"parity: error: --pp-layout places the layers of a pipeline you give: {hint}\n"


@pytest.mark.e2e
def test_search_tries_the_chip_counts_the_plain_command_tried() -> None:
    """DeepSeek-V3 fits no 8-chip H100 layout; `train` picks the fewest systems on which one fits (32, 256 chips) and
    says --search lists them, which refused 'no layout of 8 chips fits': it now searches the same counts and its first
    layout is the one picked."""
    base = ("train", "--model", "deepseek-v3", "--system", "hgx-h100", "--format", "json")
    code, out, _ = run(*base)
    picked = json.loads(out)
    assert code == 0 and picked["chips"] == 256
    code, out, _ = run(*base, "--search", "--top", "1")
    listed = json.loads(out)
    assert code == 0 and listed["chips"] == 256 and listed["best"][0]["layout"]["name"] == picked["layout"]["name"]
    code, out, err = run(*base, "--search", "--chips", "8")
    assert code == 2 and err.startswith("parity: error: no layout of 8 chips fits: the closest")


def test_a_training_prediction_prints_its_80_percent_interval() -> None:
    """`train` printed a MetaX C500 step of 714.834 s with no interval, where serving predictions have one (report-only
    tester). Its tokens/s per chip take the widest vendor band of published training runs (NVIDIA's, centre 0.036474,
    half-width 0.282802; MetaX has none), wider in log (uncertainty.training_interval): flagged (its specs assumed, a
    family no published run trained on: 2, once) and on a prior (2.25), in quadrature: sqrt(4 + 5.0625 - 1) =
    2.839454, half-width 0.803003, [-0.766529, 0.839477] (three times as wide, [-0.811932, 0.884880], before): 183.4
    tok/s a chip -> 183.4 e^-0.839477 = 79.2 to 183.4 e^0.766529 = 394.6; the step time moves inversely: 714.834
    e^-0.766529 = 332.13 to 714.834 e^0.839477 = 1,654.95 s, as the time to train; MFU along: 34.3% -> 14.8% to
    73.9% (JSON only). JSON and CSV carry KEY_low and KEY_high
    in SI units; the table within 80 columns gives each range after its figure, its label saying so as serve's do,
    and the caption where they come from."""
    args = ("train", "--model", "llama-3.1-70b", "--system", "metax-c500-8card", "--chips", "32")
    code, out, _ = run(*args, "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["step_s"] == pytest.approx(714.834, abs=5e-4)
    assert (data["step_s_low"], data["step_s_high"]) == pytest.approx((332.13, 1654.95), abs=0.01)
    assert (data["mfu_low"], data["mfu_high"]) == pytest.approx((0.148, 0.739), abs=5e-4)
    assert (data["tokens_per_s_per_chip_low"], data["tokens_per_s_per_chip_high"]) == pytest.approx(
        (data["tokens_per_s_per_chip"] * 0.431936, data["tokens_per_s_per_chip"] * 2.152283), rel=1e-5)
    assert data["time_to_train_s_low"] == pytest.approx(data["time_to_train_s"] * 0.464623, rel=1e-5)
    assert data["interval_basis"].startswith("80% intervals (KEY_low to KEY_high): the 10th-90th")
    code, out, _ = run(*args, "--format", "csv")
    row = next(csv.DictReader(io.StringIO(out)))
    assert float(row["step_s_high"]) == pytest.approx(1654.95, abs=0.01)
    out = CliRunner().invoke(cli, list(args), env={"COLUMNS": "80"}).stdout
    assert max(len(line) for line in out.splitlines()) <= 80
    lines = {re.split(r"\s{2,}", line.strip(), maxsplit=1)[0]: line.split("  ")[-1].strip()
             for line in out.splitlines()}
    assert lines["step time (80% interval)"] == "714.834 s (332.1-1,655.0)"
    assert lines["tokens/s per chip (80% interval)"] == "183.4 (79.2-394.6)"
    assert lines["MFU of the BF16 peak (6N + 12LHQT: PaLM, Megatron)"] == "34.3%"
    assert "time to train 1e+12 tokens (80% interval)" in lines
    assert ("80% intervals: the 10th-90th percentiles of ln(predicted/measured) over published "
            "training runs' tokens/s per chip") in " ".join(out.split())
