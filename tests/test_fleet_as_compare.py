"""`parity fleet` sizes each chip as `compare` runs it: one rank per die of a multi-die package, the engine at the
chip's stack maturity, and the model's MTP default."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner

from parity import catalog
from parity.cli import cli
from parity.compare import compare
from parity.flags import texts
from parity.fleet import plan_fleet


@pytest.mark.e2e  # DeepSeek-R1 fleets (1.1 s): the end-to-end tier keeps the default run under a minute
def test_a_910c_fleet_and_compare_span_systems_where_wider_workers_deliver_more() -> None:
    """DeepSeek-R1 on the 910C at 50 ms TPOT and 5 s TTFT with one MTP draft: a model that fits one 16-die A3 node
    delivers 414 tok/s per package there; workers over up to 4 systems, as a model too big for one may span,
    deliver 1.25x or more (1,200.0, a tp2-dp16-ep32 decode worker of dies over 2 systems), so fleet and compare both
    take them and note the one-system figure. Fleet had sized at the one-node figure, 3.2x the chips (eighth fuzz
    round); compare had kept it and noted the wider figure. Without MTP: 85 on one node, 733.9 over four. (1,180.2
    and 715.1 before near-best pairs ran at their largest decode batch as served; 1,131.4 on
    tp2-dp32-ep64 over 4, 83 and 611.0, before each layout ran at the most clients or decode batch its targets allow;
    1,641.4 on tp2-dp32-ep16-etp4 and 775.8 before EP x ETP workers crossed scale-out as their ranks do; 510 and
    1,616.5, 85 and 847.3, before serving memory counted the MTP module and disaggregated rows were priced on whole
    workers.)"""
    model, engine = catalog.model("deepseek-r1"), catalog.engine("generic")
    (plan,) = plan_fleet(model, [catalog.system("huawei-ascend-910c")], engine, 1e6, 0.05, 1024, 1024, ttft_s=5.0,
                         mtp_tokens=1)
    (row,) = compare([catalog.system("atlas-800-a3")], model, engine, 0.05, 1024, 1024, ttft_s=5.0, mtp_tokens=1)
    assert row.tokens_per_s_per_chip == plan.tokens_per_s_per_chip == pytest.approx(1200.0, abs=0.1)
    assert row.note == "power derived; spans 2 systems (414/chip on one)"  # 11.65 kW: CloudMatrix 384's per node
    assert row.layout.endswith("tp2-dp16-ep32")
    assert plan.configuration.endswith("tp2-dp16-ep32")
    assert plan.note == "power derived; workers span up to 2 systems over scale-out (414/chip on one)"
    (off,) = plan_fleet(model, [catalog.system("huawei-ascend-910c")], engine, 1e6, 0.05, 1024, 1024, ttft_s=5.0,
                        mtp_tokens=0)
    assert off.tokens_per_s_per_chip == pytest.approx(733.9, abs=0.1)
    assert "(85/chip on one)" in off.note and "no multi-token prediction" in off.assumptions[-1]


@pytest.mark.e2e  # over 1.5 s: the end-to-end tier keeps the default run under a minute
def test_a_fleet_keeps_one_system_where_wider_workers_gain_little() -> None:
    """The H200 serves DeepSeek-R1 as well on one node as over four (3,244 tok/s/chip at one MTP draft; 3,627 before
    disaggregated rows were priced on whole workers), so its fleet stays on one, as compare does, and agrees with it
    to the token."""
    model, engine = catalog.model("deepseek-r1"), catalog.engine("generic")
    (plan,) = plan_fleet(model, [catalog.system("nvidia-h200-sxm")], engine, 1e6, 0.05, 1024, 1024, ttft_s=5.0,
                         mtp_tokens=1)
    (row,) = compare([catalog.system("hgx-h200")], model, engine, 0.05, 1024, 1024, ttft_s=5.0, mtp_tokens=1)
    assert plan.tokens_per_s_per_chip == pytest.approx(row.tokens_per_s_per_chip, rel=1e-12)
    assert (round(plan.tokens_per_s_per_chip), plan.note) == (3244, "")


@pytest.mark.e2e  # three DeepSeek-R1 fleets (1.3 s): the end-to-end tier keeps the default run under a minute
def test_fleet_runs_deepseek_with_one_draft_unless_told() -> None:
    args = ["fleet", "--model", "deepseek-r1", "--demand", "1e12 tokens/day", "--chips", "h20", "--format", "json"]
    default, one, off = (CliRunner().invoke(cli, args + extra) for extra in ([], ["--mtp", "1"], ["--mtp", "0"]))
    assert default.exit_code == one.exit_code == off.exit_code == 0
    assert default.stdout == one.stdout != off.stdout


def test_the_fleet_caption_names_mtp_only_for_models_that_have_it() -> None:
    common = ["fleet", "--demand", "1e12 tokens/day", "--chips", "h20"]
    llama = CliRunner().invoke(cli, common + ["--model", "llama-3.1-70b"], env={"COLUMNS": "250"}).output
    deepseek = CliRunner().invoke(cli, common + ["--model", "deepseek-r1"], env={"COLUMNS": "250"}).output
    assert "multi-token" not in llama and "MTP" not in llama
    assert "MTP 1 draft token a decode step" in " ".join(deepseek.split())


def test_fleet_names_what_compare_flags_and_why_no_configuration_is_chosen() -> None:
    """Llama-3.1-8B with 300,000-token prompts (past its 131,072-token window) on the H800, which inherits the
    H200's calibration: fleet carries compare's flags and names the two in its note as compare does. With a 2 s TTFT
    target no configuration is chosen, and both say the TTFT target binds rather than blaming the TPOT target, at
    the fastest TTFT of any worker searched: 3.39 s over four H100 nodes (tp8-pp4), where one node's 12.4 s was
    named (21.8 s before a client's own prompt stopped stretching its decodes in the steady model)."""
    model, engine = catalog.model("llama-3.1-8b"), catalog.engine("generic")
    (plan,) = plan_fleet(model, [catalog.system("nvidia-h800-sxm")], engine, 1e7, 0.05, 300_000, 1024, ttft_s=1000.0)
    (row,) = compare([catalog.system("hgx-h800")], model, engine, 0.05, 300_000, 1024, ttft_s=1000.0)
    assert plan.flags == row.flags and plan.tokens_per_s_per_chip == pytest.approx(row.tokens_per_s_per_chip)
    assert plan.note == row.note == ("301,024-token sequences, past the 131,072-token context window; "
                                     "uncalibrated (inherits h200-sxm); power derived")
    (missed,) = compare([catalog.system("hgx-h100")], model, engine, 0.05, 300_000, 1024, ttft_s=2.0)
    (short,) = plan_fleet(model, [catalog.system("nvidia-h100-sxm")], engine, 1e6, 0.05, 300_000, 1024, ttft_s=2.0)
    assert not missed.fits and short.configuration == "-"
    assert missed.note == short.note == "the TTFT target 2 s binds: the fastest configuration that fits reaches 3.39 s"


def test_flag_note_gives_the_flags_that_matter_in_a_few_words() -> None:
    from parity.uncertainty import case_flags, flag_note
    model, generic = catalog.model("llama-3.1-8b"), catalog.engine("generic")
    raised = (*case_flags([(catalog.system("kunlun-p800-8card"), None)], model, generic, [], 0, 301_024),
              *case_flags([(catalog.system("hgx-b200"), None)], model, generic, [], 0, 0, "mxfp6"),
              *case_flags([(catalog.system("atlas-800-a3"), None)], catalog.model("deepseek-r1"),
                          catalog.engine_for("sglang", "cann"), [], 0))
    assert "engine profile generic not fitted to measurements" in texts(raised)  # left to the JSON
    assert flag_note(raised) == [
        "301,024-token sequences, past the 131,072-token context window", "uncalibrated (derived prior)",
        "specs assumed: formats, int8, memory bandwidth", "fp6 GEMM rate not measured",
        "sglang-cann fitted only on runs with MTP"]
    h800 = case_flags([(catalog.system("hgx-h800"), None)], model, generic, [], 0)
    assert flag_note(h800) == ["uncalibrated (inherits h200-sxm)"]


@pytest.mark.e2e  # the slowest simulator searches (4-8 s each): the end-to-end tier
@pytest.mark.usefixtures("simulations_once")  # its commands probe the same configurations
def test_fleet_sizes_under_a_percentile_as_compare_chooses_it() -> None:
    """Llama-3.1-70B on H200s for 1M tokens/s at TTFT p99 2 s: fleet takes a configuration that passes the
    percentile as compare's does, requests arriving at random by default, the fastest by the steady rate it sizes on
    (tp1 at 181 clients, 3,514 tok/s/chip: 320 chips), where compare takes the fastest by the simulated rate (tp1-pp2
    at 360 clients, 3,513 steady, 3,411 simulated against tp1's 3,306; both took tp1-pp4 at 3,179 before each layout
    ran at the most clients its targets allow); a benchmark's closed loop, whose p99 is its first wave, holds it only
    at 1,118 (tp2-pp4: 992 chips). fleet refused percentile targets before; --arrivals needs one."""
    args = ["fleet", "--model", "llama-3.1-70b", "--chips", "nvidia-h200-sxm", "--demand", "1M tokens/s", "--ttft",
            "p99:2s", "--format", "json"]
    (poisson,) = json.loads(_invoke(*args).stdout)
    (closed,) = json.loads(_invoke(*args, "--arrivals", "closed").stdout)
    (row,) = json.loads(_invoke("compare", "hgx-h200", "--model", "llama-3.1-70b", "--ttft", "p99:2s", "--refine",
                                "--arrivals", "poisson", "--format", "json").stdout)
    assert (poisson["configuration"], poisson["clients_per_worker"], row["layout"], row["clients_per_worker"]) == (
        "agg tp1", 181, "tp1-pp2", 360)
    assert poisson["tokens_per_s_per_chip"] >= row["tokens_per_s_per_chip"]  # the steady rate fleet ranks by
    assert round(poisson["tokens_per_s_per_chip"]) == 3514 and poisson["chips"] == 320
    # the configuration's simulated percentile beside it, as compare runs it (fleet showed none before)
    assert 0.1 < poisson["sim_ttft_p99_s"] < 2.0 and 0.1 < row["sim_ttft_p99_s"] < 2.0
    assert "Poisson arrivals" in poisson["sim_case"] and closed["sim_ttft_p99_s"] < 2.0
    # what the simulated client sent, in tokens a chip about the rate sized on, and that the run kept up (fixea 2)
    assert poisson["sim_case"].endswith("lengths uniform in [0.8, 1] x nominal, Poisson arrivals at 3.81 requests/s "
                                        "carrying 3,511 output tokens/s a chip (7,022 with their prompts)")
    assert poisson["sim_rate_share"] == pytest.approx(1.0, abs=0.01) and "sustains" not in poisson["note"]
    assert (closed["configuration"], round(closed["tokens_per_s_per_chip"]), closed["chips"]) == (
        "agg tp2-pp4", 1118, 992)
    refused = _invoke("fleet", "--model", "llama-3.1-70b", "--demand", "1M tokens/s", "--arrivals", "closed")
    assert refused.exit_code == 2 and "it needs a percentile target" in refused.output


@pytest.mark.e2e  # simulator probes (1.7 s): the end-to-end tier keeps the default run under a minute
@pytest.mark.usefixtures("simulations_once")  # the two bounds probe the same configurations
def test_a_percentile_no_configuration_fails_sizes_the_fleet_as_no_target_does() -> None:
    """Llama-3.1-70B on H20s for 1e12 tokens/day: every configuration's simulated TTFT p99 is far under 100 s, so
    the bound changes nothing: tp1-pp4 at 154 clients, 738.4 steady tok/s/chip, 17,248 chips, as with no TTFT
    target (128 clients, 719.7 and 17,696 on the grid's loads). fleet had ranked the passing configurations by their simulated rate (tp2 at 64 clients: 681.1 against
    tp1-pp4's 676.9) but sized on the steady one (697.6), 18,256 chips: 504 more for a bound that binds nothing
    (fifteenth fuzz round)."""
    args = ["fleet", "--model", "llama-3.1-70b", "--chips", "nvidia-h20", "--demand", "1e12 tokens/day",
            "--format", "json"]
    plans = [json.loads(_invoke(*args, "--ttft", bound).stdout)[0] for bound in ("none", "p99:100s")]
    assert [(p["configuration"], p["clients_per_worker"], round(p["tokens_per_s_per_chip"], 1), p["chips"])
            for p in plans] == [("agg tp1-pp4", 154, 738.4, 17_248)] * 2


def _invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.mark.e2e  # the slowest simulator searches (4-8 s each): the end-to-end tier
@pytest.mark.usefixtures("simulations_once")  # its commands probe the same configurations
def test_under_poisson_arrivals_a_tighter_p99_costs_no_configuration_the_simulator_passes() -> None:
    """Qwen3-32B on H20s for 1M tokens/s: at TTFT p99 5 s fleet took tp1 at 64 clients (1,514 tok/s/chip, 728
    chips), whose Poisson p99 is about 1 s; at p99 2 s it was screened out by its closed-loop steady mean TTFT
    (3.2 s) and the fleet took 752 chips. Under Poisson arrivals the simulator alone checks a TTFT percentile. Of
    the configurations it passes, the fleet takes the fastest by the steady rate it sizes on: tp1-pp2 at 161 clients
    (1,546; tp1-pp4 at 1,528 on the grid's loads)."""
    plans = []
    for bound in ("p99:2s", "p99:5s"):
        (plan,) = json.loads(_invoke("fleet", "--model", "qwen3-32b", "--chips", "nvidia-h20", "--ttft", bound,
                                     "--demand", "1M tokens/s", "--format", "json").stdout)
        plans.append((plan["configuration"], round(plan["tokens_per_s_per_chip"]), plan["chips"]))
    assert plans == [("agg tp1-pp2", 1546, 712)] * 2


def test_without_a_demand_the_demand_is_null_not_zero() -> None:
    """--units alone: the CSV read demand_tokens_per_s 0.0, a demand of nothing; the title reads a long TTFT bound
    in hours ('TTFT 8.28e+04 s')."""
    result = _invoke("fleet", "--model", "llama-3.1-8b", "--chips", "nvidia-h100-sxm", "--units", "8", "--ttft",
                     "23h", "--format", "csv")
    header, row = result.stdout.splitlines()[:2]
    assert result.exit_code == 0 and dict(zip(header.split(","), row.split(",")))["demand_tokens_per_s"] == ""
    (plan,) = json.loads(_invoke("fleet", "--model", "llama-3.1-8b", "--chips", "nvidia-h100-sxm", "--units", "8",
                                 "--format", "json").stdout)
    assert plan["demand_tokens_per_s"] is None
    table = _invoke("fleet", "--model", "llama-3.1-8b", "--chips", "nvidia-h100-sxm", "--units", "8", "--ttft", "23h")
    assert "Fleet for llama-3.1-8b: 8 chips (total tokens) at TPOT 50 ms, TTFT 23 h" in table.stdout
    one = _invoke("fleet", "--model", "llama-3.1-8b", "--chips", "nvidia-h100-sxm", "--units", "1")
    assert "Fleet for llama-3.1-8b: 1 chip (total tokens) at TPOT 50 ms, TTFT 5 s" in one.stdout  # it said '1 chips'


def _fleet(*args: str) -> dict:
    result = CliRunner().invoke(cli, ["fleet", "--model", "deepseek-r1", "--chips", "h20", *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    (plan,) = json.loads(result.stdout)
    return plan


@pytest.mark.e2e  # DeepSeek-R1 fleets (about 2 s): the end-to-end tier keeps the default run under a minute
def test_a_fleet_serves_in_whole_deployment_units_both_ways() -> None:
    """DeepSeek-R1 on the H20 runs disaggregated: it was a 16-chip decode worker with 0.813 of a 16-chip prefill
    worker, 29.006 chips a unit; priced on whole workers, as serve runs them, it is one decode worker and one
    prefill worker, 32 chips. A deployment is whole workers: 24 chips serve nothing (they did), and 40 chips serve
    that one deployment's 32 chips' worth, not 40 chips' worth (priced per chip), the 8 idle in its 5 systems named.
    The demand's fleet is sized in the same whole units: 2e12 tokens/day (x 2.2 peak and margin, at 1,435 tokens/s
    a chip in and out) needs 1,106 decode and 1,106 prefill workers, 35,392 chips in 4,424 systems (35,488 in 4,436
    before near-best pairs ran at their largest decode batch as served; 35,872 in 4,484
    on the concurrency grid's loads; 35,616 in 4,452 before EP x ETP decode workers crossed scale-out as their ranks
    do; 31,776 chips in 3,972 systems before disaggregated rows were priced on whole workers), and serves all of
    it."""
    none, one = _fleet("--units", "24"), _fleet("--units", "40")
    assert none["served_tokens_per_day"] == 0
    assert none["note"].endswith("24 chips hold no whole deployment (a decode worker of 16 chips and 1 prefill "
                                 "worker of 16)")
    assert one["served_tokens_per_day"] / (one["served_tokens_per_s_per_chip"] / 2.2 * 86_400) == pytest.approx(
        32.0, abs=1e-3)
    assert one["served_tokens_per_day"] == pytest.approx(_fleet("--units", "32")["served_tokens_per_day"], rel=1e-12)
    assert one["note"].endswith("8 chips serve nothing: idle in 5 whole hgx-h20 (powered and priced)")
    assert one["cost_usd"] == 40 * 13_500
    sized = _fleet("--demand", "2e12 tokens/day")
    assert (sized["chips"], sized["systems"]) == (35_392, 4_424) and 1 <= sized["served_share"] < 1.001


@pytest.mark.e2e  # DeepSeek-R1 fleets (1.2 s): the end-to-end tier keeps the default run under a minute
def test_a_system_with_a_price_prices_the_fleet_by_its_systems() -> None:
    """A CloudMatrix 384 cost 384 x the 910C's weak press price, $28,000: $10.75 M, above the catalog's analyst
    price of the whole system, $8.2 M (CPUs, optics and racks included). A system with a price is priced by it,
    and the price source says so; a chip in its server is still priced by the chip (fifteenth fuzz round)."""
    plan = _cloudmatrix("--units", "384")
    assert plan["cost_usd"] == 8.2e6 and plan["price_source"].startswith(
        "$8,200,000 per cloudmatrix-384 (384 chips), ~USD 8.2M per system (analyst-estimate: SemiAnalysis")
    assert plan["power_source"] == "559 kW per cloudmatrix-384 (analyst-estimate: all-in estimate (~1.46 kW per NPU))"
    (node,) = json.loads(_invoke("fleet", "--model", "deepseek-r1", "--chips", "910c", "--units", "384", "--format",
                                 "json").stdout)
    assert node["cost_usd"] == 384 * 28_000 and node["price_source"].startswith(
        "$28,000 per chip, weak: one press figure (press: kocka.news")
    table = _invoke("fleet", "--model", "deepseek-r1", "--chips", "cloudmatrix-384", "--units", "384",
                    "--wide").stdout
    assert "$8.2 M" in table and "$10.8 M" not in table
    caption = " ".join(table.split())
    assert ("Cost: chips x their share of the price, a system's where the catalog prices the system, else a chip's: "
            "huawei-ascend-910c: $8,200,000 per cloudmatrix-384 (384 chips)") in caption
    assert ("MW: the systems' power as the catalog states it (a server's maximum, a rack's all-in figure; no "
            "facility overhead): 559 kW per cloudmatrix-384") in caption


def test_the_caption_states_the_price_and_power_used_and_the_spare_margin() -> None:
    """The caption gave the H20's price source's words ('about USD 12,000-15,000 per GPU') but not the $13,500
    used, never said what MW counts, and called --spare 0.1 '10% spare', a share, where it sizes capacity 1.1x
    the peak demand (9.1% of the fleet idle at the peak; --spare 1 printed '100% spare capacity')."""
    out = _invoke("fleet", "--model", "llama-3.1-70b", "--chips", "h20", "--demand", "1e12 tokens/day", "--spare",
                  "1").stdout
    caption = " ".join(out.split())
    assert ("the daily-mean demand the fleet carries at peak factor 2 with capacity 2x the peak demand (100% spare "
            "margin), its full-load tokens a day over 4. Workload 1024 in") in caption
    assert ("nvidia-h20: $13,500 per chip, midpoint of the reported USD 12,000-15,000 (press: Press reports") \
        in caption
    assert "no facility overhead): 5.824 kW per hgx-h20 (assumption: 8 x 400 W x 1.82)." in caption
    assert "spare capacity, a margin over the peak demand (0.1: capacity 1.1x the peak)" in " ".join(
        _invoke("fleet", "--help").stdout.split())


def test_json_says_what_served_counts_and_a_row_with_no_configuration_has_no_rate() -> None:
    """A row with no configuration (the 910B cannot reach 10 ms TPOT on Llama-3.1-70B) wrote 0.0 tokens/s and 0.0
    clients beside null chips, as if it served nothing at a configuration; clients_per_worker was a float in every
    row (1024.0); and served_* and demand_* counted prompt + output or output with no key saying which."""
    args = ["fleet", "--model", "llama-3.1-70b", "--chips", "910b,h100", "--demand", "1e12 tokens/day", "--tpot",
            "10ms"]
    none, h100 = json.loads(_invoke(*args, "--format", "json").stdout)
    assert [none[k] for k in ("tokens_per_s_per_chip", "served_tokens_per_s_per_chip", "clients_per_worker",
                              "chips", "count")] == [None, None, None, None, "total"]
    assert h100["clients_per_worker"] == 129 and isinstance(h100["clients_per_worker"], int)
    assert h100["served_tokens_per_s_per_chip"] == 2 * h100["tokens_per_s_per_chip"]
    (output,) = json.loads(_invoke(*args[:4], "h100", *args[5:], "--count", "output", "--format", "json").stdout)
    assert output["count"] == "output" and output["served_tokens_per_s_per_chip"] == output["tokens_per_s_per_chip"]
    rows = list(csv.DictReader(io.StringIO(_invoke(*args, "--format", "csv").stdout)))
    assert [rows[0][k] for k in ("tokens_per_s_per_chip", "served_tokens_per_s_per_chip", "clients_per_worker")] \
        == ["", "", ""] and rows[1]["clients_per_worker"] == "129"


def test_a_fleet_with_no_chips_prices_none() -> None:
    """1 kW powers no whole HGX H100: chips and MW read '-', and so does the chip cost (it read $0)."""
    out = CliRunner().invoke(cli, ["fleet", "--model", "llama-3.1-70b", "--chips", "h100", "--power-mw", "0.001",
                                   "--format", "md"]).output
    header = next(line for line in out.splitlines() if line.startswith("| chip "))
    (row,) = [line for line in out.splitlines() if line.startswith("| nvidia-h100-sxm ")]
    cells = dict(zip([h.strip() for h in header.split("|")], [c.strip() for c in row.split("|")]))
    assert [cells[k] for k in ("chips", "systems", "MW", "cost")] == ["-", "-", "-", "-"] and "$0" not in row


@pytest.mark.e2e  # DeepSeek-R1 fleets (about 2 s): the end-to-end tier keeps the default run under a minute
def test_fleet_sizes_in_a_system_named_in_chips() -> None:
    """`fleet --chips cloudmatrix-384` sized in 8-chip Atlas 800 A3 servers (the 910C's default system, then 510
    tok/s/chip): a system named is sized in, at compare's 2,101 tok/s/chip for DeepSeek-R1 at its default targets
    (2,075 before near-best pairs ran at their largest decode batch as served, 1,882 on the concurrency grid's loads, 2,049 before disaggregated rows were priced on whole workers), in whole
    384-chip systems; beside a chip kind,
    and with the system column kept at any width."""
    args = ["fleet", "--model", "deepseek-r1", "--demand", "1e12 tokens/day", "--format", "json"]
    (row,) = json.loads(CliRunner().invoke(cli, args + ["--chips", "cloudmatrix-384"]).stdout)
    (compared,) = json.loads(CliRunner().invoke(cli, ["compare", "cloudmatrix-384", "--model", "deepseek-r1",
                                                      "--format", "json"]).stdout)
    assert (row["chip"], row["system"]) == ("huawei-ascend-910c", "cloudmatrix-384")
    assert row["tokens_per_s_per_chip"] == pytest.approx(compared["tokens_per_s_per_chip"], rel=1e-12)
    assert round(row["tokens_per_s_per_chip"]) == 2_101 and row["chips"] % 384 == 0
    mixed = json.loads(CliRunner().invoke(cli, args + ["--chips", "h20,cloudmatrix-384"]).stdout)
    assert [(r["chip"], r["system"]) for r in mixed] == [("nvidia-h20", "hgx-h20"),
                                                         ("huawei-ascend-910c", "cloudmatrix-384")]
    table = CliRunner().invoke(cli, args[:-2] + ["--chips", "h20,cloudmatrix-384"], env={"COLUMNS": "80"}).stdout
    assert "cloudmatrix-384" in table
    twice = CliRunner().invoke(cli, args + ["--chips", "h20,hgx-h20"])
    assert twice.exit_code == 2 and ("nvidia-h20 (in its default system hgx-h20) and hgx-h20 name the same system: "
                                     "each system is sized once") in twice.stderr


def _cloudmatrix(*args: str, fmt: str = "json") -> dict:
    result = CliRunner().invoke(cli, ["fleet", "--model", "deepseek-r1", "--chips", "cloudmatrix-384", *args,
                                      "--format", fmt])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)[0] if fmt == "json" else dict(zip(*csv.reader(io.StringIO(result.stdout))))


@pytest.mark.e2e  # DeepSeek-R1 fleets (about 2 s): the end-to-end tier keeps the default run under a minute
def test_units_fill_whole_systems_and_count_the_chips_deployed() -> None:
    """383 CloudMatrix chips were 0.997 of a system and served 0.0473 T tokens/day, 1,000 chips 2.6 systems (0.158 T):
    a part of a 384-chip supernode runs none of the decode workers of its UB domain. Chips fill whole systems as a
    demand's or a power budget's do: 383 chips hold none and serve nothing; 1,000 fill two (the 768 chips' 0.113 T)
    and 232 are past them. MW and cost count the whole systems' chips (idle ones included, as everywhere in fleet:
    test_a_fleet_serves_in_whole_deployment_units_both_ways), at the catalog's price of the whole system ($8.2 M for
    384 chips): 383 chips had $8.18 M and 0.557 MW, a share of one system nobody buys or powers alone (fuzz16 4.5),
    and now have none; the 232 past two systems are neither powered nor priced (they were, at 1000 / 384 of the
    price); chips and systems are whole numbers in JSON and CSV (1000, not 1000.0). Priced on whole workers, with
    each decode layout at the largest batch its TPOT target allows, a deployment of 64-chip decode workers (128 dies)
    leaves 40 of the two systems' chips idle, which the note names, and 768 chips serve 0.120 T (0.119 T before
    near-best pairs ran at their largest decode batch as served; 48-chip deployments
    filled them at 0.113 T before; with 128-chip decode workers and a share of prefill, 80 were idle at 0.110 T).
    The chips column counted the 1,000 given, 232 of them never deployed, beside the cost of 768 (so cost over chips
    misled), and 383 where no system exists: it counts the chips deployed, units_given the chips given (fixea 3)."""
    none, two, whole = _cloudmatrix("--units", "383"), _cloudmatrix("--units", "1000"), _cloudmatrix("--units", "768")
    assert (none["chips"], none["units_given"], none["systems"], none["served_tokens_per_day"]) == (0, 383, 0, 0)
    assert none["note"].endswith("383 chips given hold no whole cloudmatrix-384 (384 chips): none deployed, no MW or "
                                 "cost, as a system is bought and powered whole")
    assert none["cost_usd"] is None and none["power_w"] is None
    assert whole["power_w"] == pytest.approx(2 * 559e3, rel=1e-3)
    assert (two["chips"], two["units_given"], two["systems"]) == (768, 1000, 2) and isinstance(two["chips"], int)
    assert two["served_tokens_per_day"] == whole["served_tokens_per_day"] == pytest.approx(0.1202e12, rel=5e-3)
    assert two["note"] == ("large-EP decode: checks read 33-53% fast; 272 of the 1,000 chips given serve nothing: 40 idle in 2 whole cloudmatrix-384 (powered "
                           "and priced) and 232 past them (not deployed, so neither powered nor priced)")
    assert whole["note"] == ("large-EP decode: checks read 33-53% fast; 40 chips serve nothing: idle in 2 whole "
                             "cloudmatrix-384 (powered and priced)")
    assert (two["cost_usd"], two["power_w"]) == (pytest.approx(2 * 8.2e6, rel=1e-12), whole["power_w"])
    capped = _cloudmatrix("--units", "1000", "--demand", "1e12 tokens/day", fmt="csv")
    assert (capped["chips"], capped["units_given"], capped["systems"]) == ("768", "1000", "2")
    assert capped["note"].startswith(two["note"] + "; the demand needs 6,144 chips, 1,000 are available")
    superpod = CliRunner().invoke(cli, ["fleet", "--model", "deepseek-r1", "--chips", "atlas-950-superpod", "--units",
                                        "100", "--format", "json"])
    (plan,) = json.loads(superpod.stdout)
    assert plan["served_tokens_per_day"] == 0 and plan["chips"] == 0
    assert "100 chips given hold no whole atlas-950-superpod (8,192 chips)" in plan["note"]


@pytest.mark.e2e  # a DeepSeek-R1 fleet (about 5 s): the end-to-end tier keeps the default run under a minute
def test_a_demand_names_the_chips_idle_inside_the_whole_systems_it_takes() -> None:
    """DeepSeek-R1 at 100k tokens/s takes one CloudMatrix 384, whose 384 chips hold 3 deployment units of 104 (312
    chips): 72 serve nothing, and the note was empty where --units or --power-mw name such chips and the caption says
    the note does (report-only tester fuzzEP 2: 5M tokens/s took 8 systems, 3,072 chips with 56 idle). The note is
    the one --units 384 gives."""
    demand, units = _cloudmatrix("--demand", "100k tokens/s"), _cloudmatrix("--units", "384")
    assert (demand["chips"], demand["systems"]) == (384, 1)
    assert demand["note"] == units["note"] == ("large-EP decode: checks read 33-53% fast; 72 chips serve nothing: "
                                               "idle in 1 whole cloudmatrix-384 (powered and priced)")


@pytest.mark.e2e  # over 1.5 s: the end-to-end tier keeps the default run under a minute
def test_a_limit_under_a_demand_counts_the_chips_idle_inside_whole_systems() -> None:
    """With --demand, the note counted only the chips past whole systems (232 of 1,000 CloudMatrix chips; none of
    768, or of H20's 1,368 under 1 MW), though --units or --power-mw, not the demand, set the chips and the whole
    systems hold more that serve nothing: the note is the one the same limit gives without a demand. 40 H20 chips
    hold one 32-chip deployment (a prefill and a decode worker of 16), 8 idle in their 5 systems; 1,368 under 1 MW
    hold 24 idle. (768 CloudMatrix chips held 80 idle, with 128-chip decode workers; priced on whole workers they
    hold 40, and test_units_fill_whole_systems_and_count_the_chips_deployed covers it.) A
    budget that powers no system gives its power in MW, not '1.12e+04 kW'."""
    demand = ("--demand", "1e12 tokens/day")
    (forty,) = json.loads(CliRunner().invoke(cli, ["fleet", "--model", "deepseek-r1", "--chips", "hgx-h20", "--units",
                                                   "40", *demand, "--format", "json"]).stdout)
    assert ("; 8 chips serve nothing: idle in 5 whole hgx-h20 (powered and priced); the demand needs 17,696 chips, 40 "
            "are available;") in forty["note"]
    h20 = CliRunner().invoke(cli, ["fleet", "--model", "deepseek-r1", "--chips", "hgx-h20", "--power-mw", "1", *demand,
                                   "--format", "json"])
    (plan,) = json.loads(h20.stdout)
    assert plan["chips"] == 1368 and ("; 24 chips serve nothing: idle in 171 whole hgx-h20 (powered and priced); "
                                      "the power budget runs 1,368 of the 17,696 chips;") in plan["note"]
    superpod = CliRunner().invoke(cli, ["fleet", "--model", "deepseek-r1", "--chips", "atlas-950-superpod",
                                        "--power-mw", "1", "--format", "json"])
    (plan,) = json.loads(superpod.stdout)
    assert plan["note"].endswith("the power budget runs no whole atlas-950-superpod (11.1821 MW)")


@pytest.mark.e2e  # over 1 s: the end-to-end tier keeps the default run under a minute
def test_the_narrower_figure_names_the_systems_it_spans() -> None:
    """DeepSeek-R1 does not fit one Atlas 800 A2 (compare: 'spans 2 systems', 208 tok/s/chip; 211 before its mesh's
    subsets ran on their own links, 227 before EP x ETP workers crossed scale-out as their ranks do, 277 before
    serving memory counted the MTP module): the note said
    '(227/chip on one)'. It names the systems of the narrower figure (the A3's workers now span 2 systems, 4 on the
    concurrency grid's loads);
    the A3's, which fits one, stays 'on one' (414/chip; 510 before serving memory counted the MTP module). (The A2's
    power, 8 x 400 W x 1.82, is assumed, and its note says so first; the A3's is derived, CloudMatrix 384's per
    node.)"""
    plans = json.loads(CliRunner().invoke(cli, ["fleet", "--model", "deepseek-r1", "--chips",
                                                "atlas-800-a2,atlas-800-a3", "--demand", "1e12 tokens/day",
                                                "--format", "json"]).stdout)
    assert [p["note"] for p in plans] == ["large-EP decode: checks read 33-53% fast; power assumed; workers span up "
                                          "to 4 systems over scale-out (208/chip on 2)",
                                          "power derived; workers span up to 2 systems over scale-out (414/chip on "
                                          "one)"]


@pytest.mark.e2e  # DeepSeek-R1 fleets (about 2 s): the end-to-end tier keeps the default run under a minute
def test_a_demand_s_fleet_carries_the_80_percent_interval_of_its_chips() -> None:
    """The per-chip rate's 80% interval (compare's tokens_per_s_per_chip_low/high) sizes the chips the demand needs at
    each end, in whole units and systems, before any limit: DeepSeek-R1 at 2e12 tokens/day on H20s, 35,392 chips
    (22,176-79,072, whole 32-chip units: the H20's row is flagged (2) and its kernel figures partly inherited (1.25),
    so its band is sqrt(4 + 1.5625 - 1) = 2.136 times as wide in log; 23,104-75,936 at twice; 35,488 and
    23,168-76,128 before near-best pairs ran at their largest decode
    batch as served; 35,872 and 23,424-76,960 on the concurrency grid's loads; 35,616 and
    23,264-76,416 before EP x ETP decode workers crossed scale-out as their ranks do, 31,776 and 20,752-68,144 before
    disaggregated rows were priced on whole workers). A fleet without a demand has
    none; the table shows 'chips 80%' where there is room, and the caption says what it is."""
    args = ["fleet", "--model", "deepseek-r1", "--demand", "2e12 tokens/day", "--chips", "h20,910c"]
    h20, a3 = json.loads(CliRunner().invoke(cli, args + ["--format", "json"]).stdout)
    assert (h20["chips"], h20["chips_low"], h20["chips_high"]) == (35_392, 22_176, 79_072)
    assert a3["chips_low"] <= a3["chips"] <= a3["chips_high"] and a3["chips_low"] % 8 == a3["chips_high"] % 8 == 0
    table = CliRunner().invoke(cli, args + ["--wide"], env={"COLUMNS": "200"}).output
    assert "chips 80%" in table and "22,176-79,072" in table
    assert "chips 80%: the chips the demand needs at the ends of the 80% interval" in " ".join(table.split())
    (units,) = json.loads(CliRunner().invoke(cli, ["fleet", "--model", "deepseek-r1", "--units", "1000", "--chips",
                                                    "h20", "--format", "json"]).stdout)
    assert units["chips_low"] is None and units["chips_high"] is None


@pytest.mark.e2e  # DeepSeek-R1 fleets (about 2 s): the end-to-end tier keeps the default run under a minute
def test_what_a_production_volume_serves_carries_the_80_percent_interval() -> None:
    """What 650,000 chips serve (--units, no demand) had no interval, where a demand's fleet had 'chips 80%': 61.3 T
    tokens/day of DeepSeek-R1 on Atlas 800 A3 nodes (1,200 tok/s/chip), 107 T in CloudMatrix 384s (2,101 on 649,728
    chips in 1,692 whole systems), each now with what the same units serve at the ends of the per-chip rate's 80%
    interval (27.4-97.7 and 48.0-171: the 910C's kernel figures partly inherited, its band 2.136 times as wide in
    log where flagged; 28.6-93.9 and 50.0-164 at twice), in the JSON and under the figure at 80 columns. (60.3 T
    and 106 T, 28.1-92.3
    and 49.4-162, before near-best pairs ran at their largest decode batch as served; 57.8 T and 96.0 T, 26.9-88.5
    and 44.8-147, on the concurrency grid's loads; 83.8 T and 39.1-128 on the A3 before EP x ETP decode workers
    crossed scale-out as their ranks do; 82.5 T and 105 T, 38.5-126 and 48.7-160, before disaggregated rows were
    priced on whole workers.)"""
    args = ["fleet", "--model", "deepseek-r1", "--units", "650000", "--chips", "910c,cloudmatrix-384"]
    plans = json.loads(CliRunner().invoke(cli, [*args, "--format", "json"]).stdout)
    assert [[round(p[f"served_tokens_per_day{end}"] / 1e11) / 10 for end in ("", "_low", "_high")] for p in plans] == [
        [61.3, 27.4, 97.7], [107.2, 48.0, 171.1]]
    for p in plans:  # the per-chip band, scaled to what the units serve
        assert p["served_tokens_per_day_low"] / p["served_tokens_per_day"] == pytest.approx(
            compare([catalog.system(p["system"])], catalog.model("deepseek-r1"), catalog.engine("generic"), 0.05,
                    ttft_s=5.0, mtp_tokens=1)[0].tokens_per_s_per_chip_low / p["tokens_per_s_per_chip"], rel=1e-9)
    table = CliRunner().invoke(cli, args, env={"COLUMNS": "80"}).stdout
    lines = table.splitlines()
    assert "served, 80%" in lines[2] and max(map(len, lines)) <= 80
    # under the figure, beside what each cost counts (chips only, whole systems)
    under = [lines[i + 1] for i, line in enumerate(lines) if line.startswith(("atlas-800-a3 ", "cloudmatrix-384 "))]
    assert [under[0].split()[:3], under[1].split()[:2]] == [["chips", "only", "27.4-97.7"], ["systems", "48.0-171"]]
    assert "served, 80%: under what they serve, what they serve at the ends of the 80% interval" in " ".join(
        table.split())


def test_fleet_searches_its_kinds_on_processes_with_the_same_numbers() -> None:
    """fleet searched its chip kinds one after another (12.8 s for four under a percentile target, on one core, where
    compare takes 2 processes: fuzz 22a 4.3); --processes as compare's, the same plans either way."""
    args = ["fleet", "--model", "llama-3.1-8b", "--chips", "h100,h20", "--units", "16", "--format", "json"]
    one, two = (json.loads(_invoke(*args, "--processes", n).stdout) for n in ("1", "2"))
    assert one == two and [p["chip"] for p in one] == ["nvidia-h100-sxm", "nvidia-h20"]


def test_a_fleet_row_gives_the_serve_line_of_its_configuration() -> None:
    """Each served row names its `parity serve` line (serve_command, as compare's rows do) and the steady TTFT and
    TPOT it is sized at; the line gives the row's figures (fleet named the configuration only as 'agg tp1', with
    no latency and no line to run it again)."""
    (plan,) = json.loads(_invoke("fleet", "--model", "llama-3.1-8b", "--chips", "nvidia-h100-sxm", "--units", "8",
                                 "--format", "json").stdout)
    assert plan["serve_command"].startswith("parity serve --model llama-3.1-8b --system hgx-h100 ")
    again = json.loads(_invoke(*plan["serve_command"].split()[1:], "--format", "json").stdout)
    again = again[0] if isinstance(again, list) else again
    assert again["output_tokens_per_s_per_chip"] == pytest.approx(plan["tokens_per_s_per_chip"], rel=1e-9)
    assert (again["ttft_s"], again["tpot_s"]) == pytest.approx((plan["ttft_s"], plan["tpot_s"]), rel=1e-9)
    assert 0 < plan["tpot_s"] <= 0.05 and 0 < plan["ttft_s"] <= 5.0  # within fleet's default targets
