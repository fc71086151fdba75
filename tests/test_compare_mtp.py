"""Multi-token prediction in the serving search and `parity compare --mtp`: a memory-bound decode step
verifies 1 + n tokens for little more than the time of one, so MTP moves a slow-stepping chip most."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from parity import catalog
from parity.cli import cli
from parity.compare import mtp_setting
from parity.ops import Batch
from parity.plan import Layout
from parity.search import best_precision, decode_rates, grid_of_sizes, layout_grid
from parity.search.aggregated import _aggregated
from parity.serving import _group_prefill, engine_deployment
from parity.step import step_cost

ACCEPTED_2 = 1.58  # DeepSeek-R1 with 2 drafts: 1.58 kept a step as NVIDIA measured (TensorRT-LLM tech blog 1)


def _a3() -> tuple:
    system, model = catalog.system("atlas-800-a3"), catalog.model("deepseek-r1")
    return system, model, catalog.engine_for("sglang", "cann"), best_precision(model, system.chip)


def test_mtp_setting_keeps_the_published_acceptance() -> None:
    """2 drafts of DeepSeek-R1: 1.58 kept a step, NVIDIA's measured figure at that depth; Llama has no
    MTP layers, so --mtp leaves it without."""
    (n, kept), note = mtp_setting(catalog.model("deepseek-r1"), 2)
    assert (n, kept) == (2, pytest.approx(ACCEPTED_2))
    assert "1.58 of 2 kept a step (as measured at that depth)" in note
    assert mtp_setting(catalog.model("llama-3.1-70b"), 2)[0] == (0, 0.0)


def test_mtp_decode_on_a3_divides_a_slightly_longer_step_by_the_tokens_kept() -> None:
    """DeepSeek-R1 on one Atlas 800 A3 (sglang-cann), decode tp2-dp4-ep8 at 16 sequences a rank, 1,536 KV
    tokens: a plain step 70.7 ms (memory-bound: TPOT 70.7 ms); with 2 drafts the verify step runs 3 tokens a
    sequence and the two one-layer drafts add about 2 ms each: 82.9 ms for 2.58 tokens (+17%), TPOT 32.1 ms,
    2.20x the output of the plain step."""
    system, model, profile, precision = _a3()
    cal = catalog.calibration(system.chip)
    grid = layout_grid(model, 8)
    (row,) = [i for i in range(len(grid)) if str(grid.at(i)) == "tp2-dp4-ep8"]
    one = grid.take(np.array([row]))
    plain = decode_rates(model, system, one, precision, cal, profile, 1024, 1024, np.array([16.0]))
    mtp = decode_rates(model, system, one, precision, cal, profile, 1024, 1024, np.array([16.0]), (2, ACCEPTED_2))
    assert plain["tpot"][0] == pytest.approx(0.0707, abs=5e-4)
    assert mtp["tpot"][0] == pytest.approx(0.0829 / 2.58, abs=5e-4)
    assert mtp["out_rate"][0] / plain["out_rate"][0] == pytest.approx(0.0707 / 0.0321, rel=0.01)


def test_mixed_prefill_with_mtp_never_adds_negative_time() -> None:
    """A mixed step's prompts add time beyond the same decodes' verify step; comparing it with the whole MTP
    decode (verify + drafts) made it negative at 512 sequences a rank, and the aggregated search then found
    TPOT 2e-11 s and 1e15 tok/s per chip on CloudMatrix 384 (tp1-dp128-ep2-etp64, 65,536 clients)."""
    system, model = catalog.system("cloudmatrix-384"), catalog.model("deepseek-r1")
    profile, precision = catalog.engine_for("sglang", "cann"), best_precision(model, system.chip)
    cal = catalog.calibration(system.chip)
    dep = engine_deployment(model, system, Layout(tp=1, attn_dp=128, moe_ep=2, moe_tp=64), precision, cal, profile,
                            mtp_tokens=2, mtp_acceptance=ACCEPTED_2)
    added, _ = _group_prefill(dep, profile, 1024.0, 1.0, 512.0, 1536.0, True, decode_step_s=1.0)
    verify = step_cost(dep, Batch(decode_tokens=512.0, decode_context=1536.0, decode_width=3.0)).time_s
    assert 0.0 < added < verify
    grid = grid_of_sizes(model, [128], (1,))
    found = _aggregated(model, system, grid, precision, cal, profile, 1024, 1024, np.array([512.0]), (2, ACCEPTED_2))
    assert np.all(found["tpot"] > 0.01) and np.all(found["per_chip"] < 1e5)


@pytest.mark.e2e  # compare runs (over 1 s)
def test_compare_says_whether_mtp_is_on() -> None:
    args = ["compare", "atlas-800-a3", "--model", "deepseek-r1", "--engine", "sglang"]
    off = CliRunner().invoke(cli, args + ["--mtp", "0"], env={"COLUMNS": "200"})
    on = CliRunner().invoke(cli, args + ["--mtp", "2"], env={"COLUMNS": "200"})
    assert off.exit_code == 0 and on.exit_code == 0
    assert "No multi-token prediction" in " ".join(off.output.split())
    assert "MTP 2 draft tokens a decode step, 1.58 of 2 kept a step" in " ".join(on.output.split())


def test_a_pipelined_layout_drafts_on_its_last_stage() -> None:
    """DeepSeek-R1 with one MTP draft on H200s, tp1-pp2-dp4-ep4: the MTP module sits on the last pipeline stage and
    drafts for every sequence there, so its one layer runs unpipelined; `serve` predicts such a layout with either
    model (it refused it: 'pp must be at most the number of layers (1)'), and the search's grid prices the draft as
    the one layout does (1.266 ms at 64 sequences of 1,536 tokens, against 1.219 when it was pipelined)."""
    from parity.plan import LayoutGrid
    from parity.predict import predict_rows
    from parity.step import decode_step, drafter_deployment
    system, model = catalog.system("hgx-h200"), catalog.model("deepseek-r1")
    profile, precision = catalog.engine("generic"), best_precision(model, system.chip)
    layout = Layout(tp=1, pp=2, attn_dp=4, moe_ep=4).check(model)
    one = engine_deployment(model, system, layout, precision, catalog.calibration(system.chip), profile,
                            mtp_tokens=1, mtp_acceptance=0.92)
    grid = engine_deployment(model, system, LayoutGrid.of([layout]), precision, catalog.calibration(system.chip),
                             profile, mtp_tokens=1, mtp_acceptance=0.92)
    assert drafter_deployment(one).layout.pp == 1 and list(drafter_deployment(grid).layout.pp) == [1.0]
    draft = float(step_cost(drafter_deployment(one), Batch(decode_tokens=64.0, decode_context=1536.0)).time_s)
    assert draft == pytest.approx(1.266e-3, rel=1e-3)
    scalar, _ = decode_step(one, 64.0, 1536.0)
    vector, _ = decode_step(grid, np.array([64.0]), np.array([1536.0]))
    assert float(vector[0]) == pytest.approx(float(scalar), rel=1e-9)
    row = dict(case_id="pp", model="deepseek-r1", system="hgx-h200", tp=1, pp=2, attn_dp=4, moe_ep=4, concurrency=64,
               isl=1024, osl=1024, mtp_tokens=1)
    assert all(p.feasible for kind in ("steady", "sim") for p in predict_rows([row], model_kind=kind))


def test_compare_refine_simulates_each_best_configuration_as_serve_would() -> None:
    """`compare --refine`: each system's best configuration re-run by the simulator. Llama-3.1-8B at 20 ms TPOT on
    the H100 chooses one tp1 worker at 337 clients; its sim figures are `parity serve`'s for that case to the last
    digit (TTFT 252.3 ms against the steady model's 304.7), and the table gains the sim columns and says what the
    simulator ran. Without --refine no sim key is output."""
    import json
    args = ["compare", "hgx-h100", "--model", "llama-3.1-8b", "--tpot", "20ms"]
    refined = CliRunner().invoke(cli, args + ["--refine", "--format", "json"])
    assert refined.exit_code == 0, refined.output
    (row,) = json.loads(refined.stdout)
    assert (row["mode"], row["layout"], row["clients_per_worker"]) == ("agg", "tp1", 337)
    assert row["sim_case"] == ("agg: 1 x tp1, 337 clients, fp8 weights, fp8 KV, lengths uniform in [0.8, 1] x "
                               "nominal") and row["sim_flags"] == []
    serve = CliRunner().invoke(cli, ["serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--tp", "1",
                                     "--concurrency", "337", "--weights", "fp8", "--kv", "fp8", "--format", "json"])
    simulated = json.loads(serve.stdout)
    assert (row["sim_ttft_s"], row["sim_tpot_s"], row["sim_tokens_per_s_per_chip"]) == (
        simulated["ttft_s"], simulated["tpot_s"], simulated["output_tokens_per_s_per_chip"])
    assert row["sim_ttft_s"] == pytest.approx(0.2523, rel=1e-3) and row["ttft_s"] == pytest.approx(0.3047, rel=1e-3)
    table = " ".join(CliRunner().invoke(cli, args + ["--refine", "--wide"]).output.split())
    assert "sim TTFT ms" in table and "re-ran each system's best configuration" in table
    # the simulator's client draws its lengths, where the steady figures' are fixed, in search's and fleet's words
    assert ("(the same layouts, formats and MTP, at the client profile's lengths (sim_case names them, and under "
            "Poisson arrivals the tokens its requests carry), where the steady-state columns' are fixed;") in table
    plain = CliRunner().invoke(cli, args + ["--format", "json"])
    assert not any(k.startswith("sim_") for k in json.loads(plain.stdout)[0])
    bad = CliRunner().invoke(cli, ["compare", "hgx-h100", "--workload", "train", "--refine"])
    assert bad.exit_code == 2 and "--refine only applies with --workload serve" in bad.output
