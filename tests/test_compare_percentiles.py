"""`parity compare --refine` under a percentile target (--ttft p99:2s): each system's configuration is the one
`parity search` picks under the same target (the steady search screens by the mean at the bound, the simulator
bisects each layout's loads for the fastest whose percentile holds); and the search's frontier holds its best under
the targets."""

from __future__ import annotations

import json
import shlex

import pytest
from click.testing import CliRunner

from parity import catalog
from parity.cli import cli
from parity.search import best_precision, search_serving

LLAMA_H100 = ["--model", "llama-3.1-70b"]


def _json(*args: str) -> object:
    result = CliRunner().invoke(cli, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.e2e  # over 1.2 s: the end-to-end tier keeps the default run under a minute
@pytest.mark.usefixtures("simulations_once")  # its commands probe the same configurations
def test_compare_under_a_percentile_chooses_what_search_chooses() -> None:
    """Llama-3.1-70B on an H100 node at TTFT p99 2 s (TPOT 50 ms mean): the closed-loop client's first wave makes
    the p99 far longer than the mean under load (249 clients on tp2: mean 1.23 s, p99 13.7 s), so the fastest
    configuration that holds it is aggregated tp4-pp2 at 96 clients: 920 simulated tok/s/chip (918 steady), p99
    1.72 s, where the mean's 2 s allows 2,800; `parity search` under the same targets picks the same."""
    (row,) = _json("compare", "hgx-h100", *LLAMA_H100, "--ttft", "p99:2s", "--refine", "--processes", "1")
    found = _json("search", *LLAMA_H100, "--system", "hgx-h100", "--weights", "fp8", "--ttft", "p99:2s")
    best = found["best"]  # type: ignore[index]
    assert (row["mode"], row["layout"], row["clients_per_worker"]) == (
        best["mode"], best["layout"], best["concurrency"]) == ("agg", "tp4-pp2", 96.0)
    assert row["sim_tokens_per_s_per_chip"] == best["sim_tokens_per_s_per_chip"]
    assert round(row["sim_tokens_per_s_per_chip"]) == 920 and round(row["tokens_per_s_per_chip"]) == 918
    assert round(row["sim_ttft_p99_s"], 2) == 1.72 and row["ttft_s"] <= 2.0 and row["fits"]
    assert "the fastest whose simulated TTFT p99 2 s hold" in row["assumptions"][-1]


def _every_probe_at_p99(real, p99_s: float):
    """A stand-in simulator of probes that all miss: one real run's figures (from `real`, refine_candidate) for each
    probe, its TTFT p99 at `p99_s`. The probes' count and order stay the search's; the simulator's cost is one run."""
    simulated: dict[str, object] = {}

    def missing(candidate, *args, **kwargs):
        simulated.update(simulated or real(candidate, *args, **kwargs))
        return {**candidate.to_dict(), **{k: v for k, v in simulated.items() if k.startswith("sim_")},
                "sim_ttft_p99_s": p99_s}
    return missing


@pytest.mark.e2e
def test_a_percentile_no_configuration_holds_is_named_with_how_close_it_comes(monkeypatch) -> None:
    """A system whose every simulated configuration misses the percentile does not fit, and its note says how
    close the lightest load simulated comes (here a stand-in simulator that puts every p99 at 3 s), and, where the
    simulator's runs ran out first, how many layouts they tried (since disaggregated rows are priced on whole
    workers, 23 of the 26 layouts whose means meet the targets); the ratios go to the next system that holds it."""
    from parity.cli import percentile_choice
    real = percentile_choice.refine_candidate
    missing = _every_probe_at_p99(real, 3.0)

    def slow_on_h100(candidate, model, system, *args, **kwargs):
        return (missing if system == "hgx-h100" else real)(candidate, model, system, *args, **kwargs)

    monkeypatch.setattr(percentile_choice, "refine_candidate", slow_on_h100)
    h100, h200 = _json("compare", "hgx-h100", "hgx-h200", *LLAMA_H100, "--ttft", "p99:2s", "--refine",
                       "--processes", "1")  # type: ignore[misc]
    assert not h100["fits"] and h100["note"].startswith("no configuration meets TTFT p99 2 s: of the ")
    assert h100["note"].endswith("simulated reaches TTFT p99 3 s (the simulator's 48 runs tried 23 of 26 layouts)")
    assert h200["fits"] and h200["sim_ttft_p99_s"] <= 2.0 and h200["baseline"] == "hgx-h200"


def test_a_percentile_without_refine_is_refused_in_one_line() -> None:
    result = CliRunner().invoke(cli, ["compare", "hgx-h100", *LLAMA_H100, "--ttft", "p99:2s"])
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert "TTFT p99 2 s: a percentile target is checked by the step-level simulator, so it needs --refine" \
        in result.output
    # the mean's bound named --ttft for a TPOT percentile
    result = CliRunner().invoke(cli, ["compare", "hgx-h100", *LLAMA_H100, "--tpot", "p90:50ms"])
    assert result.exit_code == 2 and result.output.endswith("(or give the mean's bound, e.g. --tpot 0.05s)\n")


def test_the_frontier_holds_the_best_under_the_targets() -> None:
    """Llama-3.1-70B on an H20 node at TPOT 40 ms, TTFT 150 ms: the frontier of every configuration that fits is
    disaggregated one-chip prefill at 16.6 s TTFT past its fastest user (aggregated tp8, one client, 110 ms); the best
    under the targets (aggregated tp4-pp2, two clients, 149.9 ms, 30.7 tok/s/chip) is dominated there (the
    disaggregated two clients deliver 42.9 tok/s/chip, faster per user) but joins the frontier beside the fastest user
    as the ones meeting the targets, so --refine and a percentile target rank it."""
    model, system = catalog.model("llama-3.1-70b"), catalog.system("hgx-h20")
    result = search_serving(model, system, catalog.engine("generic"), catalog.calibration(system.chip),
                            best_precision(model, system.chip, None), 1024, 1024, 0.04, 0.15)
    best = result.best
    assert best is not None and round(best.tokens_per_s_per_chip, 1) == 30.7 and best.concurrency == 2
    assert [c for c in result.frontier if c.meets_targets] == [result.frontier[0], best]
    assert any(c.tokens_per_s_per_chip > best.tokens_per_s_per_chip and c.tpot_s < best.tpot_s
               for c in result.frontier if not c.meets_targets)  # dominated
    rates = [1 / c.tpot_s for c in result.frontier]
    assert rates == sorted(rates, reverse=True)  # fastest user first


@pytest.mark.e2e  # over 1.2 s: the end-to-end tier keeps the default run under a minute
def test_the_percentile_table_fits_80_columns() -> None:
    """Two percentile targets added two columns to the table: 111 characters at 80 columns."""
    result = CliRunner().invoke(cli, ["compare", "hgx-h100", "hgx-h200", *LLAMA_H100, "--ttft", "p99:2s", "--tpot",
                                      "p90:60ms", "--refine"], env={"COLUMNS": "80"})
    assert result.exit_code == 0 and max(len(line) for line in result.stdout.splitlines()) <= 80
    assert "p99 ms" in result.stdout and "p90 ms" in result.stdout


@pytest.mark.e2e  # a simulator search of 2 s: the end-to-end tier keeps the default run under a minute
def test_a_p99_ttft_bound_finds_the_layouts_whose_first_wave_fits_it() -> None:
    """DeepSeek-R1 at TTFT p99 5 s on MI300X: a closed loop's p99 is its first wave, so layouts go by the most
    tok/s/chip whose first wave (every client's prompt at the prefill rate) fits the bound. Before, by steady rate
    alone, the 48 runs tried 24 of the MI300X's 62 layouts and found 250 simulated tok/s/chip (aggregated
    tp4-dp2-ep4-etp2 at 32 clients); now the first runs find 839 at 192 clients, tp4-dp2-ep8 (without running out;
    903 before a tp4 group of the MI300X mesh ran on its 3 links of 7;
    1,027 at 256 clients, tp2-dp4-ep8, before ROCm's maturity left out the unfitted sglang-rocm profile's rows;
    tp2-dp4-ep4-etp2 at 1,039 before its slices' gather was priced, 1,037 before a step priced the sequences decoding
    over the ranks, not the busiest rank's on every rank). The H20's half, the slower, runs in the end-to-end tier
    (next test)."""
    (mi300x,) = _json("compare", "mi300x-platform", "--model", "deepseek-r1", "--ttft", "p99:5s", "--refine",
                      "--processes", "1")  # type: ignore[misc]
    assert (mi300x["mode"], mi300x["layout"], mi300x["clients_per_worker"]) == ("agg", "tp4-dp2-ep8", 192.0)
    assert round(mi300x["sim_tokens_per_s_per_chip"]) == 839 and mi300x["sim_ttft_p99_s"] <= 5.0
    assert "runs tried" not in mi300x["note"]


@pytest.mark.e2e
def test_a_p99_ttft_bound_finds_the_first_wave_layouts_of_h20_nodes() -> None:
    """The H20 nodes of the test above (about 5 s of the simulator): by steady rate alone the runs tried 25 of its
    100 layouts and found 180 simulated tok/s/chip (disaggregated); by first wave, 460 at 192 clients on two nodes."""
    (h20,) = _json("compare", "hgx-h20", "--model", "deepseek-r1", "--ttft", "p99:5s", "--refine",
                   "--processes", "1")  # type: ignore[misc]
    assert (h20["mode"], h20["layout"], h20["clients_per_worker"]) == ("agg", "tp4-dp4-ep16", 192.0)
    assert round(h20["sim_tokens_per_s_per_chip"]) == 460 and h20["sim_ttft_p99_s"] <= 5.0


@pytest.mark.e2e  # the slowest simulator searches (4-8 s each): the end-to-end tier
@pytest.mark.usefixtures("simulations_once")  # its commands probe the same configurations
def test_poisson_arrivals_judge_a_percentile_as_production_traffic_would() -> None:
    """Llama-3.1-70B on an H100 node at TTFT p99 2 s: the benchmark's closed loop holds it at 96 clients on tp4-pp2
    (918 steady tok/s/chip: its p99 is the first wave); requests arriving at random at the rate a configuration
    sustains hold it at the mean's own best, tp2-pp2 at 577 clients, the most that meet TPOT 50 ms (2,823; p99
    0.26 s; 512 clients and 2,800 on the grid's loads). search agrees; --arrivals needs the simulator."""
    (row,) = _json("compare", "hgx-h100", *LLAMA_H100, "--ttft", "p99:2s", "--refine", "--arrivals", "poisson",
                   "--processes", "1")
    found = _json("search", *LLAMA_H100, "--system", "hgx-h100", "--ttft", "p99:2s", "--arrivals", "poisson")
    best = found["best"]  # type: ignore[index]
    assert (row["layout"], row["clients_per_worker"]) == (best["layout"], best["concurrency"]) == ("tp2-pp2", 577)
    assert round(row["tokens_per_s_per_chip"]) == 2823 and round(row["sim_ttft_p99_s"], 2) == 0.26
    assert row["sim_case"].endswith("lengths uniform in [0.8, 1] x nominal, Poisson arrivals at 12.2 requests/s "
                                    "carrying 2,821 output tokens/s a chip (5,641 with their prompts)")
    assert row["sim_rate_share"] == pytest.approx(1.0, abs=0.01)  # it keeps up with the arrivals
    assert "arrive at random (Poisson)" in row["assumptions"][-1]
    # the serve line search prints runs the same requests at the same rate: the same percentile
    line = found["best_serve_command"]  # type: ignore[index]
    assert "--request-rate 12.24" in line
    rerun = _json(*shlex.split(line)[1:])
    assert rerun["ttft_p99_s"] == best["sim_ttft_p99_s"]  # type: ignore[index]
    result = CliRunner().invoke(cli, ["compare", "hgx-h100", *LLAMA_H100, "--arrivals", "poisson"])
    assert result.exit_code == 2 and "--arrivals says how the simulator's requests arrive: it needs --refine" in \
        result.output


def test_a_ttft_percentile_below_any_lone_request_is_said_before_simulating(monkeypatch) -> None:
    """TTFT p99 1 us under Poisson arrivals (which drop the mean screen): fleet simulated for 3-16 s, then said 'of
    the 298 whose means do' though no mean is under 24.7 ms; now no percentile of TTFTs can be below the fastest
    lone request's, which is said at once, as the closed loop's screen says it: 24.7 ms over the widest workers over
    several H100 nodes, which fleet searches too, where one node's 37.3 ms was named."""
    from parity.cli import percentile_choice

    def never(*args, **kwargs):
        raise AssertionError("simulated")

    monkeypatch.setattr(percentile_choice, "refine_candidate", never)
    for arrivals in ("poisson", "closed"):
        (row,) = _json("fleet", *LLAMA_H100, "--chips", "h100", "--units", "64", "--ttft", "p99:1us", "--arrivals",
                       arrivals)
        assert row["note"].startswith("the TTFT ") and row["note"].endswith(
            "target 0.001 ms binds: the fastest configuration that fits reaches 24.7 ms" + (
                " for a lone request" if arrivals == "poisson" else "")), row["note"]


def test_under_poisson_arrivals_no_mean_ttft_screens_what_is_simulated(monkeypatch) -> None:
    """The note said 'of the N whose means do' where Poisson arrivals screened by the mean TPOT alone (a stand-in
    simulator puts every p99 at 3 s)."""
    from parity.cli import percentile_choice
    monkeypatch.setattr(percentile_choice, "refine_candidate", _every_probe_at_p99(percentile_choice.refine_candidate,
                                                                                   3.0))
    (row,) = _json("fleet", *LLAMA_H100, "--chips", "h100", "--units", "64", "--ttft", "p99:2s")
    assert row["note"].startswith("no configuration meets TTFT p99 2 s: of the 305 whose mean TPOT meets its bound, "
                                  "the lightest-loaded of the "), row["note"]
    assert row["note"].endswith("simulated reaches TTFT p99 3 s")


def test_search_says_an_unreachable_ttft_percentile_before_simulating(monkeypatch) -> None:
    """A p99 TTFT of 1 us is below the fastest lone request's TTFT (37.3 ms for Llama-3.1-70B on an H100 node), so
    no percentile can meet it: search refuses it in one line under Poisson arrivals too, with no simulation (it
    simulated 3-12 s first)."""
    from click.testing import CliRunner

    from parity.cli import cli
    from parity.predict import refine

    def no_simulation(*args, **kwargs):
        raise AssertionError("simulated an unreachable target")
    monkeypatch.setattr(refine, "refine_candidate", no_simulation)
    result = CliRunner().invoke(cli, ["search", "--model", "llama-3.1-70b", "--system", "hgx-h100", "--ttft", "p99:1us",
                                      "--arrivals", "poisson"])
    assert result.exit_code == 2
    assert "the TTFT p99 target 0.001 ms binds: the fastest configuration that fits reaches 37.3 ms" in result.output


@pytest.mark.e2e  # DeepSeek-R1 searched over 1 and 4 Atlas 800 A3 systems (a few seconds)
def test_the_span_a_note_names_is_the_chosen_workers() -> None:
    """A percentile choice may take a narrower worker than the steady search's best: compare's note said "spans 4
    systems" beside a chosen 2-system tp8-pp2 worker (report-only tester fixec). A judge that takes the smallest
    worker meeting the means is told its own span; one that takes a worker of 32 dies (16 910C packages, two Atlas
    800 A3 of 8) is told 2 systems (counted by dies against packages, it read 1 and said nothing), and the judge is
    told that one system's workers are taken without the 1.25x gain (the search replaced one system's best)."""
    from parity import catalog
    from parity.compare import _serve, systems_spanned

    system = catalog.system("atlas-800-a3")
    picked = []

    def smallest(_, result, narrow_systems):
        picked.append(min(result.meeting, key=lambda c: max(c.worker_chips())))
        return picked[0], ""

    row = _serve(system, catalog.model("deepseek-r1"), catalog.engine("generic"), 0.05, 5.0, 1024, 1024, None,
                 choose=smallest)
    span = systems_spanned(picked[0], system)  # the result's chips per package: the system's packages span it
    assert span < 4 and "spans 4 systems" not in row.note, row.note
    assert (f"spans {span} systems" in row.note) == (span > 1), row.note
    told = []

    def two_systems(_, result, narrow_systems):
        told.append(narrow_systems)
        wide = [c for c in result.meeting if max(c.worker_chips()) == 16]
        return max(wide, key=lambda c: c.tokens_per_s_per_chip), ""

    row = _serve(system, catalog.model("deepseek-r1"), catalog.engine("generic"), 0.05, 5.0, 1024, 1024, None,
                 choose=two_systems)
    assert told == [1] and row.note.startswith("power derived; spans 2 systems ("), row.note  # the A3's 11.65 kW


def test_a_wider_worker_under_a_percentile_needs_the_gain_over_one_systems_best() -> None:
    """compare spans systems only where workers over them deliver 1.25x per chip (WIDER_GAIN). Under percentile
    targets it took Llama-3.1-8B's 2-system tp8-pp2 at 95.7 simulated tok/s/chip over one node's tp8 at 94.9 (report-
    only tester fuzzED 2): of the configurations that pass, a wider one is taken only at 1.25x the best narrower one
    (118.7 here), and named from 1.05x (99.7), as a wider best at the means is."""
    from parity.cli.percentile_choice import _gained
    from parity.plan import Layout
    from parity.search import Candidate

    system = catalog.system("hgx-h100")

    def passed(layout: Layout, rate: float) -> tuple[Candidate, dict[str, object]]:
        candidate = Candidate(mode="agg", layout=layout, decode_layout=None, concurrency=2.0, chips=layout.chips,
                              prefill_workers_per_decode_worker=0.0, ttft_s=0.02, tpot_s=0.0025,
                              tokens_per_s_per_chip=rate, tokens_per_s_per_user=400.0, meets_targets=True)
        return candidate, {"sim_tokens_per_s_per_chip": rate}

    one, two = Layout(tp=8), Layout(tp=8, pp=2)
    for wide, taken, said in ((95.7, one, ""), (110.0, one, "workers over up to 2 systems reach 110/chip, under "
                                                              "the 1.25x gain that spanning more systems needs"),
                              (118.7, two, "")):
        chosen, note = _gained([passed(one, 94.9), passed(two, wide)], system, 1, "sim_tokens_per_s_per_chip")
        assert (chosen.layout, note) == (taken, said)
    assert _gained([passed(two, 95.7)], system, 1, "sim_tokens_per_s_per_chip")[0].layout == two  # none narrower
    assert _gained([passed(one, 94.9), passed(two, 95.7)], system, 2, "sim_tokens_per_s_per_chip")[0].layout == two


def test_the_wider_search_keeps_one_systems_configurations_as_its_own_search_priced_them() -> None:
    """Llama-3.1-8B in bf16 on HGX H100s, 1024 in / 256 out, TPOT 2.6 ms, TTFT 25 ms: workers over 4 systems (187
    tok/s/chip) replace one node's best (96.9) at the means. What a percentile target then chooses from holds the
    one-node search's 2 configurations meeting the means as that search priced them, beside the wider workers'
    (the wider search pairs a narrow decode worker with a wider prefill worker where that delivers more)."""
    import functools

    from parity.compare import domain_shortfall, serving_search, systems_spanned
    from parity.search import search_spanning

    model, system, profile = catalog.model("llama-3.1-8b"), catalog.system("hgx-h100"), catalog.engine("generic")
    precision = best_precision(model, system.chip, "bf16")
    search = functools.partial(search_spanning, model, system, profile, catalog.calibration(system.chip), precision,
                               1024, 256, 0.0026, 0.025, meeting=True)
    found, span, narrow, _ = serving_search(search, system, domain_shortfall(model, system, profile, precision, 1280))
    one, _ = search(spans=(1,))
    assert (span, round(narrow[0], 1), narrow[1], round(found.best.tokens_per_s_per_chip)) == (4, 96.9, 1, 187)
    assert [c for c in found.meeting if systems_spanned(c, system) == 1] == list(one.meeting) and len(one.meeting) == 2
    assert {systems_spanned(c, system) for c in found.meeting} == {1, 2, 4}

