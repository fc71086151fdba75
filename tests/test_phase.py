"""Fixed-batch phase benchmarks against step costs derived by hand on the round chip."""

import json

import pytest
from click.testing import CliRunner

from parity import catalog
from parity.cli import cli
from parity.phase import decode_benchmark, prefill_benchmark
from parity.plan import Layout, Precision
from parity.predict import predict_rows
from parity.step import Deployment

from conftest import perfect_calibration, round_system, tiny_model


def _dep(layout: Layout = Layout()) -> Deployment:
    return Deployment(model=tiny_model(), system=round_system(), layout=layout, precision=Precision(),
                      calibration=perfect_calibration())


def test_decode_step_by_hand() -> None:
    """One sequence, 1,000 KV tokens, tiny model (h 1000, 10 heads x 100, gated MLP 4000, vocab 1000), bf16,
    one round chip (1 TB/s, every efficiency 1): every kernel is memory-bound.
    qkv 1000x3000 x 2 B + (1000+3000) x 2 B = 6.008 MB; attention reads 2 x 100 x 1000 x 10 heads x 2 B = 4 MB;
    o 2 MB + 4 kB = 2.004 MB; KV write 2000 x 2 B = 4 kB; norms 8 x 2 x 1000 x 2... = 16 kB;
    MLP up 1000x8000 x 2 B + 9000 x 2 B = 16.018 MB; down 8 MB + 10 kB = 8.010 MB; embedding 4 kB;
    LM head 2 MB + 4 kB = 2.004 MB. Sum 38.068 MB at 1 TB/s = 38.068 us; 1 token a step:
    26,269 tokens/s per chip."""
    r = decode_benchmark(_dep(), 1, 1000)
    assert r.step_s == pytest.approx(38.068e-6)
    assert r.tpot_s == pytest.approx(38.068e-6)
    assert r.output_tokens_per_s_per_chip == pytest.approx(1 / 38.068e-6)
    assert r.feasible


def test_prefill_step_by_hand() -> None:
    """One prompt of 1,000 tokens, same model and chip. qkv: 6 GFLOP (6 us) vs 6 MB + 8 MB (14 us) -> 14 us;
    attention: 500,500 pairs x 4 x 100 x 10 = 2.002 GFLOP (2 us) vs K,V 4 MB (4 us) -> 4 us; o: 2 MB +
    4 MB -> 6 us; KV write 2 x 10 x 100 x 1000 x 2 B -> 4 us; norms 16 MB -> 16 us; MLP up 16 MB + 18 MB ->
    34 us (16 GFLOP = 16 us); down 8 + 10 MB -> 18 us; embedding 4 MB -> 4 us; LM head for one sequence
    2.004 MB -> 2.004 us. Sum 102.004 us: 1000 / 102.004 us = 9.8035 M input tokens/s per chip."""
    r = prefill_benchmark(_dep(), 1, 1000)
    assert r.step_s == pytest.approx(102.004e-6)
    assert r.input_tokens_per_s_per_chip == pytest.approx(1000 / 102.004e-6)


def test_decode_batch_splits_over_attention_dp_ranks() -> None:
    """8 sequences on attention DP 2 (2 chips): each rank decodes 4, the step is one rank's step of 4,
    and the deployment outputs 8 tokens a step over 2 chips."""
    two = decode_benchmark(_dep(Layout(attn_dp=2)), 8, 1000)
    one = decode_benchmark(_dep(), 4, 1000)
    assert two.batch_per_rank == 4
    assert two.step_s == pytest.approx(one.step_s)
    assert two.output_tokens_per_s_per_chip == pytest.approx(8 / one.step_s / 2)


def test_mtp_keeps_one_plus_acceptance_tokens_a_step() -> None:
    """DeepSeek-R1 with one draft token accepted 0.7 of the time: TPOT = step / 1.7."""
    model = catalog.model("deepseek-r1")
    dep = Deployment(model=model, system=catalog.system("hgx-h200"), layout=Layout(attn_dp=8),
                     precision=Precision(weights="fp8", expert_weights="fp8", kv_cache="fp8"),
                     calibration=perfect_calibration(), mtp_tokens=1, mtp_acceptance=0.7)
    r = decode_benchmark(dep, 64, 2048)
    assert r.tpot_s == pytest.approx(r.step_s / 1.7)
    assert r.output_tokens_per_s_per_chip == pytest.approx(64 * 1.7 / r.step_s / 8)


def test_phase_rows_in_predict_and_cloudmatrix_decode_is_expressible() -> None:
    """CloudMatrix384's published decode setup (Zuo et al., arXiv:2506.12708: DeepSeek-R1 W8A8 INT8 on 320
    dies with EP320 = 256 routed + 32 shared + 32 redundant experts, one per die, batch 96 per NPU at
    4,096 tokens of context, MTP 1) as a CSV row: feasible on 160 packages. Only feasibility and the
    relations are asserted here (its measured decode figures are kept out of the project)."""
    (p,) = predict_rows([{"model": "deepseek-r1", "system": "cloudmatrix-384", "phase": "decode", "batch": 15360,
                          "context": 4096, "attn_dp": 320, "moe_ep": 320, "redundant_experts": 32,
                          "shared_expert_replicas": 32, "rank_per_die": "true", "weights": "int8", "kv": "int8",
                          "mtp_tokens": 1, "mtp_acceptance": 0.7}])
    assert p.feasible, p.note
    assert p.chips == 160
    assert p.extra["batch_per_rank"] == 48
    assert p.tpot_s == pytest.approx(p.extra["step_s"] / 1.7)
    assert p.output_tokens_per_s_per_chip == pytest.approx(15360 * 1.7 / p.extra["step_s"] / 160)


def test_phase_rows_need_their_batch() -> None:
    (p,) = predict_rows([{"model": "llama-3.1-8b", "system": "hgx-h100", "phase": "decode", "context": 100}])
    assert not p.feasible and "batch" in p.note
    (q,) = predict_rows([{"model": "llama-3.1-8b", "system": "hgx-h100", "phase": "sideways", "batch": 1}])
    assert not q.feasible and "phase" in q.note


def test_serve_phase_decode_prints_the_cloudmatrix_decode_in_json() -> None:
    """The issue's command: 160 packages (320 dies), 96 sequences per package; JSON with step_s, tpot_s,
    output_tokens_per_s_per_chip, input_tokens_per_s_per_chip, chips, feasible."""
    args = ("serve --model deepseek-r1 --system cloudmatrix-384 --phase decode --batch 15360 --context 4096 "
            "--attn-dp 320 --moe-ep 320 --redundant-experts 32 --shared-expert-replicas 32 --rank-per-die "
            "--weights int8 --kv int8 --mtp 1 --mtp-acceptance 0.7 --format json").split()
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["chips"] == 160 and data["feasible"] is True
    assert data["tpot_s"] == pytest.approx(data["step_s"] / 1.7)
    assert data["output_tokens_per_s_per_chip"] == pytest.approx(15360 * 1.7 / data["step_s"] / 160)
    assert data["input_tokens_per_s_per_chip"] == 0


def test_serve_phase_prefill_reports_input_tokens() -> None:
    result = CliRunner().invoke(cli, "serve --model llama-3.1-8b --system hgx-h100 --phase prefill --batch 4 "
                                     "--isl 2048 --format json".split())
    assert result.exit_code == 0, result.output
    assert '"input_tokens_per_s_per_chip"' in result.output
    missing = CliRunner().invoke(cli, "serve --model llama-3.1-8b --system hgx-h100 --phase decode --batch 4".split())
    assert missing.exit_code == 2 and "--context" in missing.output


def test_mtp_without_acceptance_takes_the_published_default() -> None:
    """DeepSeek-R1: NVIDIA's measured acceptance by draft depth (TensorRT-LLM tech blog 1), 0.92 of 1 draft and
    1.58 of 2 kept a step; DeepSeek-V3 keeps its report's 85% a draft token (Sec. 5.4.3), 0.85 + 0.7225 =
    1.5725 of 2. The output names the source."""
    row = {"model": "deepseek-r1", "system": "hgx-h200", "phase": "decode", "batch": 64, "context": 2048,
           "attn_dp": 8, "mtp_tokens": 1}
    (one,) = predict_rows([row])
    assert one.tpot_s == pytest.approx(one.extra["step_s"] / 1.92)
    assert "0.92 of 1 kept a step (as measured at that depth)" in one.note and "TensorRT-LLM" in one.note
    (two,) = predict_rows([{**row, "mtp_tokens": 2}])
    assert two.tpot_s == pytest.approx(two.extra["step_s"] / 2.58)
    (v3,) = predict_rows([{**row, "model": "deepseek-v3", "mtp_tokens": 2}])
    assert v3.tpot_s == pytest.approx(v3.extra["step_s"] / (1 + 0.85 + 0.85 ** 2))
    assert "85% a draft token" in v3.note and "DeepSeek-V3 Technical Report" in v3.note
    assert catalog.mtp_acceptance("deepseek-v3").acceptance == 0.85


def test_mtp_acceptance_by_depth_is_the_measured_figure_and_extrapolates_past_it() -> None:
    """DeepSeek-R1 kept 0.92, 1.58, 1.82 of 1, 2, 3 drafts (NVIDIA): each draft adds 0.92, 0.66, 0.24 a step, the
    last two in the ratio 0.24 / 0.66 = 0.36364, so a fourth adds 0.24 x 0.36364 = 0.08727: 1.90727; a constant
    85% would keep 0.85 + 0.7225 + 0.61413 = 2.18663 of 3. A table that grows by more than one draft a draft, or
    whose later drafts add more than earlier ones, is refused."""
    from parity.catalog.speculation import MtpAcceptance
    r1 = catalog.mtp_acceptance("deepseek-r1")
    assert [r1.accepted_tokens(n) for n in (0, 1, 2, 3)] == pytest.approx([0.0, 0.92, 1.58, 1.82])
    assert r1.accepted_tokens(4) == pytest.approx(1.82 + 0.24 * 0.24 / 0.66, abs=1e-9) == pytest.approx(1.90727, abs=1e-5)
    assert MtpAcceptance(model="m", acceptance=0.85, source="s").accepted_tokens(3) == pytest.approx(2.18663, abs=1e-5)
    with pytest.raises(ValueError, match="kept_by_depth"):
        MtpAcceptance(model="m", acceptance=0.9, source="s", kept_by_depth=(0.9, 2.1))
    with pytest.raises(ValueError, match="kept_by_depth"):
        MtpAcceptance(model="m", acceptance=0.5, source="s", kept_by_depth=(0.5, 1.2))


def test_predict_prints_step_time_and_input_rate_for_phase_rows(tmp_path) -> None:
    cases = tmp_path / "cases.csv"
    cases.write_text("case_id,model,system,phase,batch,isl,context,tp\n"
                     "p,llama-3.1-8b,hgx-h100,prefill,4,2048,,1\nd,llama-3.1-8b,hgx-h100,decode,64,,2048,1\n")
    result = CliRunner().invoke(cli, ["predict", str(cases), "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = {r["case_id"]: r for r in json.loads(result.output)}
    assert rows["p"]["input_tokens_per_s_per_chip"] > 0 and rows["p"]["step_s"] > 0
    assert rows["d"]["step_s"] > 0 and rows["d"]["tpot_s"] == pytest.approx(rows["d"]["step_s"])


def test_a_prefill_step_of_fewer_prompts_than_ranks_is_refused() -> None:
    """`serve --phase prefill --batch 1 --attn-dp 32` printed 0.03125 prompts a rank, priced as if each of 32 ranks
    prefilled a 32nd of one prompt, where one rank runs it whole (fuzz round DN 8): a batch that does not divide over
    the ranks is refused in one line; a multiple prices one prompt a rank."""
    base = ["serve", "--model", "deepseek-r1", "--system", "cloudmatrix-384", "--weights", "int8", "--tp", "1",
            "--attn-dp", "32", "--phase", "prefill"]
    refused = CliRunner().invoke(cli, [*base, "--batch", "1"])
    assert refused.exit_code == 2 and refused.output.count("\n") == 1
    assert "--batch 1 on 32 ranks does not divide; give a multiple of 32" in refused.output
    ran = CliRunner().invoke(cli, [*base, "--batch", "32", "--format", "json"])
    assert ran.exit_code == 0 and json.loads(ran.stdout)["batch_per_rank"] == 1
