"""What a what-if chip (a sweep's [[variant]], compare and fleet --variants) says of itself: the sweep that prices its
row's configuration, the file a bad spec's refusal names, its changes in a row's note and its power arithmetic
(report-only tester fuzzCC, on five what-ifs of the Ascend 910C in its Atlas 800 A3)."""

from __future__ import annotations

import json
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

import parity
from parity import catalog
from parity.cli import cli
from parity.cli.serve_line import disagg_rerun
from parity.cli.variants import what_ifs_text
from parity.compare import compare
from parity.fleet import plan_fleet, power_text
from parity.hardware import per_die
from parity.predict.refine import case_of_candidate, sweep_note
from parity.search import best_precision
from parity.sweep import Variant, run_sweep, spec_from_toml, variants_from_toml
from parity.uncertainty import power_flags, what_if_brief, what_if_flag

SPEC = """
[[variant]]
name = "910c-2x-bw"
chip = "huawei-ascend-910c"
scale = { memory_bytes_per_s = 2.0 }

[[variant]]
name = "910c-2x-mem"
chip = "huawei-ascend-910c"
scale = { memory_bytes = 2.0 }

[[variant]]
name = "910c-fp8"
chip = "huawei-ascend-910c"
values = { native = ["fp8"], peak_flop_per_s = { fp8 = 1.6e15 } }

[[variant]]
name = "910c-2x-scaleup"
chip = "huawei-ascend-910c"
scale = { scale_up_bytes_per_s = 2.0 }

[[variant]]
name = "910c-low-power"
chip = "huawei-ascend-910c"
scale = { tdp_w = 0.5 }
"""
AXES = """
[axes]
variant = ["910c-2x-bw"]
model = ["llama-3.1-70b"]
isl = [1024]
osl = [1024]
concurrency = [16]
"""


def _systems() -> dict:
    return {v.name: v.system() for v in variants_from_toml(tomllib.loads(SPEC), "parity compare")}


def _file(tmp_path: Path, text: str, name: str = "spec.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_what_ifs_sweep_axes_price_its_row_exactly() -> None:
    """compare's 910c-2x-bw row (Llama-3.1-70B, INT8 weights, 50 ms TPOT) runs 2 prefill workers (tp1-pp4) with 1
    decode worker (tp4-pp4) of 1,132 clients: 1,799.745 tok/s/chip (1,095 clients, 1,795.195, before the decode batch
    was refined as served; 1 tp1-pp4 with a tp4-pp2 of 532 clients, 1,793.892, before decode batches between the
    grid's). Its note named no worker count nor total clients,
    and the base row's 2 decode workers at 1,064 priced 1,646 (report-only tester fuzzCC 1); the note's axes, run as
    a sweep of the same [[variant]], give the row's figures to the last digit."""
    system, model = _systems()["910c-2x-bw"], catalog.model("llama-3.1-70b")
    (row,) = compare([system], model, catalog.engine("generic"), weights="int8")
    case = case_of_candidate(row.configuration, model.name, system.id, "generic",
                             best_precision(model, system.chip, "int8"), 1024, 1024, rank_per_die=True)
    note = sweep_note(case, moe=False)
    assert note == (
        '2 prefill + 1 decode worker at 1,132 clients: `parity sweep` with the same [[variant]] and these axes '
        'prices it: variant = ["910c-2x-bw"], model = ["llama-3.1-70b"], weights = ["int8"], kv = ["bf16"], '
        'isl = [1024], osl = [1024], mode = ["disagg"], prefill_tp = [1], prefill_pp = [4], decode_tp = [4], '
        'decode_pp = [4], prefill_workers = [2], decode_workers = [1], concurrency = [1132], rank_per_die = [true]')
    axes = "\n[axes]\n" + note.split("prices it: ")[1].replace(", ", "\n")
    (swept,) = run_sweep(spec_from_toml(tomllib.loads(SPEC + axes)))
    assert round(row.tokens_per_s_per_chip, 3) == 1799.745
    assert (swept["output_tokens_per_s_per_chip"], swept["ttft_s"], swept["tpot_s"]) == (
        row.tokens_per_s_per_chip, row.ttft_s, row.tpot_s)


def test_compare_and_fleet_give_a_what_ifs_sweep(tmp_path: Path) -> None:
    """An aggregated what-if (the H20 at twice its bandwidth: agg tp1-pp4, 1 worker): compare's serve_note and fleet's
    assumptions name the worker, its clients and the axes of the sweep that prices it."""
    path = _file(tmp_path, '[[variant]]\nname = "h20-2x-bw"\nchip = "nvidia-h20"\nscale = { memory_bytes_per_s = 2 }\n')
    result = CliRunner().invoke(cli, ["compare", "--variants", str(path), "--model", "llama-3.1-70b", "--format",
                                      "json"])
    _, row = json.loads(result.stdout)
    clients = row["clients_per_worker"]
    said = (f"1 worker at {clients} clients: `parity sweep` with the same [[variant]] and these axes prices it: "
            f'variant = ["h20-2x-bw"], model = ["llama-3.1-70b"], weights = ["fp8"], kv = ["fp8"], isl = [1024], '
            f"osl = [1024], tp = [1], pp = [4], concurrency = [{clients}]")
    assert row["serve_note"] == f"a what-if system: `parity serve` runs catalog systems; {said}"
    variant = Variant(name="h20-2x-bw", chip="nvidia-h20", scale={"memory_bytes_per_s": 2.0}).system()
    (plan,) = plan_fleet(catalog.model("llama-3.1-70b"), [variant], catalog.engine("generic"), 1e6, 0.05, 1024, 1024)
    assert (plan.clients_per_worker, plan.assumptions[-1]) == (clients, f"configuration: {said}")


def test_every_bad_spec_names_its_file_and_an_unknown_chip_its_variant(tmp_path: Path) -> None:
    """`parity sweep` said 'unknown chip ...' alone, and no refusal of a [[variant]] named the file (only malformed
    TOML did), in sweep, compare --variants and fleet --variants alike (report-only tester fuzzCC 2)."""
    unknown = '[[variant]]\nname = "v1"\nchip = "huawei-ascend-999"\nscale = { memory_bytes_per_s = 2.0 }\n'
    said = ("parity: error: spec.toml: variant v1: chip: unknown chip 'huawei-ascend-999'; did you mean "
            "huawei-ascend-970, huawei-ascend-960, huawei-ascend-910c, huawei-ascend-910b?\n")
    path = _file(tmp_path, unknown + AXES.replace("910c-2x-bw", "v1"))
    for args in (["sweep", str(path), "--out", str(tmp_path / "out.csv")],
                 ["compare", "--variants", str(path), "--model", "llama-3.1-70b"],
                 ["fleet", "--variants", str(path), "--model", "llama-3.1-70b", "--demand", "1e12 tokens/day"]):
        result = CliRunner().invoke(cli, args)
        assert (result.exit_code, result.stderr) == (2, said), args
    result = CliRunner().invoke(cli, ["sweep", str(_file(tmp_path, SPEC.replace("= 2.0", "= -2.0", 1) + AXES)),
                                      "--out", str(tmp_path / "out.csv")])
    assert result.stderr == ("parity: error: spec.toml: variant 910c-2x-bw: scale.memory_bytes_per_s must be a number "
                             "in [1e-06, 1e+06] (a factor on the chip's value), got -2.0\n")
    result = CliRunner().invoke(cli, ["sweep", str(_file(tmp_path, SPEC + AXES.replace("[16]", "[-16]"))), "--out",
                                      str(tmp_path / "out.csv")])
    assert result.stderr == "parity: error: spec.toml: sweep axis concurrency = -16: must be a whole number >= 1, got -16\n"


@pytest.mark.parametrize(("head", "said"), [
    ("samples = 3", "[sweep] samples applies to random mode only (mode = \"random\"); grid mode runs every case: leave "
                    "it out, or give mode = \"random\""),
    ("mode = \"grid\"\nseed = 7", "[sweep] seed applies to random mode only (mode = \"random\"); grid mode runs "
                                  "every case: leave it out, or give mode = \"random\""),
    ("samples = 3\nseed = 7", "[sweep] samples and seed apply to random mode only (mode = \"random\"); grid mode runs "
                              "every case: leave them out, or give mode = \"random\"")])
def test_samples_and_seed_are_refused_in_grid_mode(head: str, said: str) -> None:
    """mode = "grid" (the default) with samples = 3 ran the whole grid without a word: a planner who meant random
    mode got every case (report-only tester fuzzCC 3). Random mode takes them."""
    with pytest.raises(parity.ParityError) as refused:
        spec_from_toml(tomllib.loads(f"[sweep]\n{head}\n" + SPEC + AXES))
    assert str(refused.value) == said
    spec = spec_from_toml(tomllib.loads('[sweep]\nmode = "random"\nsamples = 1\nseed = 7\n' + SPEC + AXES))
    assert (spec.mode, spec.samples, spec.seed) == ("random", 1, 7)


def test_a_what_ifs_power_arithmetic_adds_up_as_printed() -> None:
    """Half the 910C's TDP: the Atlas 800 A3's 11.65 kW less 8 x 400 W is 8.45 kW, which read '11.7 kW - 8 x 400 W'
    (11.7 - 3.2 = 8.5: report-only tester fuzzCC 4); half the H20's: 5.824 kW - 8 x 200 W = 4.224 kW (it read
    '4.22 kW' from '5.82 kW - 8 x 200 W'). The catalog's own power reads as stored (5.824 kW, not 5.82)."""
    low = _systems()["910c-low-power"]
    assert [f.text for f in power_flags(low)] == [
        "power assumed: 8.45 kW per 910c-low-power (11.65 kW less 8 x 400 W of chip power)"]
    assert power_text(low) == "8.45 kW per 910c-low-power (assumption: 11.65 kW less 8 x 400 W of chip power)"
    half = Variant(name="h20-half", chip="nvidia-h20", scale={"tdp_w": 0.5}).system()
    assert [f.text for f in power_flags(half)] == [
        "power assumed: 4.224 kW per h20-half (5.824 kW less 8 x 200 W of chip power)"]
    assert [f.text for f in power_flags(catalog.system("hgx-h20"))] == [
        "power assumed: 5.824 kW per hgx-h20 (8 x 400 W x 1.82)"]


def test_the_systems_power_is_a_clause_of_its_own_after_the_chips_changes() -> None:
    """The flag read 'tdp_w x0.5; 11.7 kW - 8 x 400 W less chip power of huawei-ascend-910c': the system's power note
    spliced into 'CHANGES of CHIP' (report-only tester fuzzCC 5)."""
    low = _systems()["910c-low-power"]
    assert what_if_flag(low).text == (
        "what-if: tdp_w x0.5 of huawei-ascend-910c (system power 8.45 kW), priced with huawei-ascend-910c's calibration "
        "(nothing measured the what-if)")
    assert what_ifs_text([low]) == (
        "910c-low-power: tdp_w x0.5 of huawei-ascend-910c (system power 8.45 kW), peak rates and clocks held at "
        "huawei-ascend-910c's stock TDP (parity does not model power-capped clocks): a per-kW change is power "
        "arithmetic only")


def test_a_what_ifs_power_arithmetic_is_said_once_in_a_rows_flags() -> None:
    """A sweep row's flags said '(11.65 kW - 8 x 400 W less chip power)' twice, in the what-if flag and in the power
    flag, '-' and 'less' both saying minus (report-only tester fuzzCD 8): the what-if flag names the new figure, the
    power flag states the arithmetic, once."""
    variant = {"name": "910c-halftdp", "chip": "huawei-ascend-910c", "scale": {"tdp_w": 0.5}}
    axes = {"variant": ["910c-halftdp"], "model": ["qwen3-8b"], "isl": [1024], "osl": [128], "concurrency": [8]}
    flags = run_sweep(spec_from_toml({"variant": [variant], "axes": axes}))[0]["flags"]
    assert ("what-if: tdp_w x0.5 of huawei-ascend-910c (system power 8.45 kW), priced with huawei-ascend-910c's "
            "calibration (nothing measured the what-if)") in flags
    assert flags[-1] == "power assumed: 8.45 kW per 910c-halftdp (11.65 kW less 8 x 400 W of chip power)"
    assert "; ".join(flags).count("chip power") == 1


def test_a_what_ifs_note_says_what_changed() -> None:
    """A row's note read 'what-if' alone where no spec ratio shows the change (a scale-up link, an FP8 unit at the
    INT8 rate: 8-bit x 1.00x), and at 80 columns only BF16 x shows (report-only tester fuzzCC 6): the note names each
    change as a factor on the catalog chip's figure, or the unit gained. One rank per die says the same; a Python
    what_if is read from its fields, whatever its own note says."""
    systems = _systems()
    assert {name: what_if_flag(s).brief for name, s in systems.items()} == {
        "910c-2x-bw": "what-if: BW x2", "910c-2x-mem": "what-if: memory x2", "910c-fp8": "what-if: fp8 unit added",
        "910c-2x-scaleup": "what-if: scale-up x2", "910c-low-power": "what-if: TDP x0.5"}
    assert what_if_brief(per_die(systems["910c-2x-bw"])) == "BW x2"
    h20 = catalog.chip("h20")
    node = catalog.system("hgx-h20")
    faster = parity.what_if(h20, "2x bandwidth", memory_bytes_per_s=2 * h20.memory_bytes_per_s)
    assert what_if_brief(node.__class__(**{**_fields(node), "chip": faster})) == "BW x2"
    halved = Variant(name="v", chip="h20", values={"peak_flop_per_s": {"fp8": 1.48e14, "int8": 1.48e14}}).system()
    slower = Variant(name="v", chip="h20", scale={"peak_flop_per_s": 0.5}).system()
    assert (what_if_brief(halved), what_if_brief(slower)) == ("fp8 x0.5; int8 x0.5", "peak rates x0.5")


def _fields(node: object) -> dict:
    return {name: getattr(node, name) for name in node.__dataclass_fields__}  # type: ignore[attr-defined]


def test_a_what_ifs_note_keeps_its_words_whole_at_80_columns(tmp_path: Path) -> None:
    """The H20 with twice its scale-up bandwidth: its note says so ('what-if: scale-up x2'; no spec ratio moves), each
    word whole in the table at 80 columns, under a subtitle that names the variant, whole as well (it read '8x HGX
    H20 96GB', a real product's: report-only tester fuzzDE 6). The rate is the H20's (Llama-3.1-8B runs within one
    chip's reach of its links), so its ratio is exact, not an interval (test_what_if_ratios)."""
    path = _file(tmp_path, '[[variant]]\nname = "h20-2x-up"\nchip = "nvidia-h20"\n'
                           'scale = { scale_up_bytes_per_s = 2 }\n')
    args = ["compare", "--variants", str(path), "--model", "llama-3.1-8b"]
    out = CliRunner().invoke(cli, args, env={"COLUMNS": "80"}).output
    rows = json.loads(CliRunner().invoke(cli, [*args, "--format", "json"]).stdout)
    assert rows[1]["note"].startswith("what-if: scale-up x2; ") and max(len(line) for line in out.splitlines()) <= 80
    assert {"what-if:", "scale-up", "x2;"} <= set(out.split()), out
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("h20-2x-up"))
    assert (lines[at].split()[-1], lines[at + 1].split()) == (
        "what-if:", ["8x", "h20-2x-up", "(what-if", "of", "HGX", "H20)", "exact", "scale-up", "x2;"])


def test_where_the_sweep_prices_a_what_ifs_whole_workers_otherwise_its_note_says_so() -> None:
    """A what-if's whole workers are priced by the sweep, not by serve: where their figures differ from the search's
    (a candidate at 1.5 prefill workers per decode worker, run on 2 per decode worker), the note says what the sweep
    gives."""
    system, model = _systems()["910c-2x-bw"], catalog.model("llama-3.1-70b")
    (row,) = compare([system], model, catalog.engine("generic"), weights="int8")
    candidate = replace(row.configuration, prefill_workers_per_decode_worker=1.5, tokens_per_s_per_chip=1700.0)
    case = case_of_candidate(candidate, model.name, system.id, "generic", best_precision(model, system.chip, "int8"),
                             1024, 1024, rank_per_die=True)
    said, _ = disagg_rerun(candidate, case, 0.7, systems={system.id: system})
    assert said == ("on 2 prefill per 1 decode worker, for the search's 1.5 per decode worker: rate-matched at 70% "
                    "prefill utilisation, rounded up to whole workers; the sweep prices it at TTFT 2.53 s, TPOT "
                    "50 ms, 1,800 tok/s/chip, where the search gives 2.53 s, 50 ms, 1,700 for its 1.5 prefill "
                    "workers per decode worker")


def test_a_what_if_flag_holds_no_flag_separator() -> None:
    """A table cell joins a row's flags with '; ' (report.tables.plain; CSV now holds their JSON list): a what-if of
    both the chip and its system said
    '... of nvidia-h20; system power 4.224 kW, priced with ...', which read as two flags there (report-only tester
    fuzzCE 1); the system's change is now in brackets after the chip's."""
    from parity import catalog
    from parity.hardware import what_if
    from parity.uncertainty import what_if_changes, what_if_flag
    h20 = catalog.system("hgx-h20")
    chip = what_if(h20.chip, "memory_bytes_per_s x2, tdp_w x0.5", memory_bytes_per_s=2 * h20.chip.memory_bytes_per_s,
                   tdp_w=0.5 * h20.chip.tdp_w)
    system = what_if(replace(h20, chip=chip), "5.824 kW less 8 x 200 W of chip power", power_w=4224.0)
    assert what_if_changes(system) == "memory_bytes_per_s x2, tdp_w x0.5 of nvidia-h20 (system power 4.224 kW)"
    assert "; " not in what_if_flag(system).text
