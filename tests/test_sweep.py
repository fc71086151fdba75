"""Sweeps: grid and random cases, what-if variants, and identical results on processes and on Ray."""

import csv
import json
import math
import shlex
import socket
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from parity import catalog
from parity.cli import cli
from parity.compare import compare
from parity.errors import ParityError
from parity.flags import texts
from parity.predict import predict_rows
from parity.sweep import SweepSpec, Variant, run_sweep, spec_from_toml, sweep_rows, variants_from_toml

SPEC = spec_from_toml({
    "sweep": {"mode": "grid"},
    "variant": [{"name": "h20-2x-compute", "chip": "nvidia-h20", "scale": {"peak_flop_per_s": 2.0}}],
    "axes": {"system": ["hgx-h20"], "variant": ["h20-2x-compute"], "model": ["llama-3.1-8b", "qwen3-32b"],
             "isl": [1024, 4096], "osl": [256], "concurrency": [8, 64], "tp": [1, 2], "engine": ["vllm"]},
})


def test_grid_covers_every_combination() -> None:
    rows = sweep_rows(SPEC)
    assert len(rows) == 2 * 2 * 2 * 2 * 2  # systems (with the variant) x models x isl x concurrency x tp
    assert {r["system"] for r in rows} == {"hgx-h20", "h20-2x-compute"}


def test_random_sampling_is_seeded() -> None:
    spec = SweepSpec(axes=dict(SPEC.axes), variants=SPEC.variants, mode="random", samples=7, seed=3)
    assert sweep_rows(spec) == sweep_rows(spec) and len(sweep_rows(spec)) == 7


def test_random_sampling_draws_distinct_cases_of_the_grid() -> None:
    """Draws with replacement wrote 100 identical rows of a one-case grid (a case predicts the same each time):
    random mode now draws distinct cases, all 32 of the grid (the variant among its systems) at samples = 32,
    and refuses more than the grid holds."""
    def key(row: dict) -> tuple:
        return tuple(sorted((k, v) for k, v in row.items() if k != "case_id"))

    every = SweepSpec(axes=dict(SPEC.axes), variants=SPEC.variants, mode="random", samples=32, seed=3)
    assert {key(r) for r in sweep_rows(every)} == {key(r) for r in sweep_rows(SPEC)}
    with pytest.raises(ParityError, match="random mode draws 33 distinct cases .* and the grid holds 32"):
        SweepSpec(axes=dict(SPEC.axes), variants=SPEC.variants, mode="random", samples=33)


def test_variants_change_the_chip_and_record_the_what_if() -> None:
    system = Variant(name="v", chip="nvidia-h20", scale={"memory_bytes_per_s": 2.0}).system()
    assert system.chip.memory_bytes_per_s == pytest.approx(8e12)
    assert system.chip.source_of("memory_bytes_per_s").source.kind == "assumption"
    rows = run_sweep(SPEC)
    faster = [r for r in rows if r["system"] == "h20-2x-compute" and r["feasible"]]
    base = {(r["model"], r["isl"], r["concurrency"], r["tp"]): r for r in rows if r["system"] == "hgx-h20"}
    assert faster and all(r["ttft_s"] <= base[(r["model"], r["isl"], r["concurrency"], r["tp"])]["ttft_s"]
                          for r in faster)


def same(a: list[dict], b: list[dict]) -> bool:
    """Equal row by row, NaN equal to NaN (infeasible cases carry NaN)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_processes_give_the_serial_result() -> None:
    serial = run_sweep(SPEC, chunk=64)
    assert same(run_sweep(SPEC, workers=2, chunk=5), serial)
    assert any(not r["feasible"] for r in run_sweep(SweepSpec(axes={**SPEC.axes, "tp": [3]}, variants=SPEC.variants)))


@pytest.mark.e2e
def test_ray_gives_the_local_result() -> None:
    pytest.importorskip("ray")
    assert same(run_sweep(SPEC, use_ray=True, chunk=7), run_sweep(SPEC))


def test_bad_specs_name_the_problem() -> None:
    with pytest.raises(ParityError, match="unknown sweep axis colour; an axis is a predict column or 'variant'$"):
        SweepSpec(axes={"colour": ["red"]})
    # a misspelled axis gets the names it looks like, as a misspelled option does (report-only tester fuzzDB 4)
    with pytest.raises(ParityError, match=r"unknown sweep axes concurency \(did you mean concurrency, "
                                          r"max_concurrency\?\), tpp \(did you mean tp, pp\?\); "):
        SweepSpec(axes={"concurency": [1], "tpp": [2]})
    with pytest.raises(ParityError, match="needs an \\[axes\\] table"):
        spec_from_toml({"sweep": {}})


ONE_CASE = {"system": ["hgx-h20"], "model": ["llama-3.1-8b"], "isl": [1], "osl": [1], "concurrency": [1]}


@pytest.mark.parametrize(("data", "says"), [
    # a variant without a name was refused with a KeyError's repr, "...values tables): 'name'", naming no variant
    ({"variant": [{"chip": "nvidia-h100-sxm"}]},
     "variant 1 has no name: every [[variant]] needs a name and a chip (and optional scale and values tables)"),
    ({"variant": [{"name": "a", "chip": "nvidia-h20", "scale": {"tdp_w": 0.5}}, {"name": "b"}]},
     "variant b has no chip: every [[variant]] needs a name and a chip (and optional scale and values tables)"),
    ({"variant": [{"name": "a", "chip": "nvidia-h20", "scale": {"tdp_w": 0.5}}, {}]},
     "variant 2 has no name and no chip: every [[variant]] needs a name and a chip (and optional scale and values "
     "tables)"),
    ({"variant": [{"chip": "nvidia-h20", "sacle": {}}]},
     "variant 1: unknown key 'sacle' (did you mean 'scale'?); a [[variant]] has name, chip, scale and values"),
    ({"variant": [1]}, "sweep spec: variant 1 must be a [[variant]] table of name, chip, scale and values, got 1"),
    # samples = 0 was "a sweep must have 1 to 10,000,000 cases, this one has 0", naming no key
    ({"sweep": {"mode": "random", "samples": 0}}, "[sweep] samples must be 1 to 10,000,000, got 0"),
    ({"sweep": {"mode": "random", "samples": -3}}, "[sweep] samples must be 1 to 10,000,000, got -3"),
])
def test_a_spec_refusal_names_the_variant_or_key(data: dict, says: str) -> None:
    with pytest.raises(ParityError) as err:
        spec_from_toml({"axes": ONE_CASE, **data})
    assert str(err.value) == says


def test_a_grid_past_the_most_cases_is_refused_with_its_count() -> None:
    axes = {**ONE_CASE, "isl": list(range(1, 10_001)), "osl": list(range(1, 1_002))}
    with pytest.raises(ParityError) as err:
        SweepSpec(axes=axes)
    assert str(err.value) == "a sweep must have 1 to 10,000,000 cases, this one has 10,010,000"


def refused(spec: str, tmp_path: Path, *extra: str) -> str:
    """Run `parity sweep` on a spec that must be refused: exit 2, one line on stderr, no output file; the line."""
    path = tmp_path / "spec.toml"
    path.write_text(spec)
    result = CliRunner().invoke(cli, ["sweep", str(path), "--out", str(tmp_path / "out.csv"), "--workers", "1",
                                      *extra])
    assert not (result.exception and not isinstance(result.exception, SystemExit)), result.exception
    lines = result.stderr.splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("parity: error: "), result.stderr
    assert not (tmp_path / "out.csv").exists()
    return lines[0]


AXES = '[axes]\nvariant = ["v"]\nmodel = ["llama-3.1-8b"]\nisl = [128]\nosl = [128]\nconcurrency = [8]\n'


TWICE_BW = "scale = { memory_bytes_per_s = 2.0 }"


def h100_variant(change: str, name: str = "v", chip: str = "nvidia-h100-sxm") -> str:
    return f'[[variant]]\nname = "{name}"\nchip = "{chip}"\n{change}\n' + AXES.replace('"v"', f'"{name}"')


@pytest.mark.parametrize(("change", "says"), [
    ("values = { memory_bytes = 0 }", "variant v: values.memory_bytes must be a finite number > 0 [B], got 0"),
    ("values = { memory_bytes_per_s = 0 }", "variant v: values.memory_bytes_per_s must be a finite number > 0"),
    ("values = { peak_flop_per_s = 5 }", "variant v: values.peak_flop_per_s must be a table of format -> FLOP/s"),
    ("values = { peak_flop_per_s = { fp9 = 1e15 } }", "values.peak_flop_per_s has no format 'fp9'; formats: fp64"),
    ("values = { peak_flop_per_s = { bf16 = 0, fp8 = 0, int8 = 0, tf32 = 0, fp32 = 0, fp64 = 0 } }",
     "variant v: values.peak_flop_per_s.bf16 = 0, but chip nvidia-h100-sxm runs bf16 and fp16 natively"),
    # a native format's rate set to 0 ran, and its note said "nvidia-h20 has no bf16 math (native: bf16, ...)"
    ("values = { peak_flop_per_s = { fp8 = 0 } }", "variant v: values.peak_flop_per_s.fp8 = 0, but chip nvidia-h100-sxm "
     "runs fp8 natively on its fp8 unit and a variant cannot remove a native format; give a rate > 0 (a slower "
     "unit) or leave fp8 out"),
    ("scale = { native = 2 }", "variant v: scale has no key 'native'; a variant changes peak_flop_per_s, memory_bytes"),
    ("values = { dies = 2 }", "variant v: values has no key 'dies'"),
    ('values = { memory_bytes = "80 GB" }', "variant v: values.memory_bytes must be a finite number > 0 [B], got '80 GB'"),
    ("scales = { memory_bytes = 2 }",
     "variant v: unknown key 'scales' (did you mean 'scale'?); a [[variant]] has name, chip, scale and values"),
    # both on one key: the scale was dropped without a word (46.12 tok/s per user with it or without)
    ("scale = { memory_bytes_per_s = 2.0 }\nvalues = { memory_bytes_per_s = 1e12 }",
     "variant v: memory_bytes_per_s is both scaled and set (scale.memory_bytes_per_s and values.memory_bytes_per_s); "
     "give one of them"),
    # no sweep column reads a price: five identical rows with it scaled 10x (fleet reads it)
    ("scale = { unit_price_usd = 10.0 }", "variant v: scale.unit_price_usd would change nothing in parity sweep: none "
     "of its columns reads a chip's price (parity fleet --variants reads it, in its cost_usd)"),
    # values.native adds a format the chip gains a unit for, with a rate for its math unit
    ('values = { native = ["fp9"] }', 'variant v: values.native must be a list of formats the chip gains a unit for, '
     'e.g. ["fp8"] (formats: fp32, bf16, fp16, fp8, mxfp8, hif8, int8, nvfp4, mxfp4, mxfp6), got [\'fp9\']'),
    ('values = { native = "fp8" }', "variant v: values.native must be a list of formats"),
    ('values = { native = ["fp8"] }', "variant v: values.native adds fp8, which chip nvidia-h100-sxm runs natively "
     "already"),
    ('values = { native = ["nvfp4"] }', "variant v: values.native adds nvfp4, but chip nvidia-h100-sxm has no fp4 "
     "rate: give values.peak_flop_per_s.fp4 [FLOP/s]"),
    # serving would emulate fp4 whatever its rate, while TPP would count the rate at 4 bits
    ("values = { peak_flop_per_s = { fp4 = 4e15 } }", "variant v: values.peak_flop_per_s.fp4: chip nvidia-h100-sxm "
     "runs no format natively on a fp4 unit, so serving would not read the rate (its fp4 formats run emulated) while "
     "TPP would count a unit the chip lacks; values.native adds one: nvfp4, mxfp4"),
    # a unit only TPP reads (fp64, tf32, int4) is taken, but not removed where the chip lists it, nor added at 0
    ("values = { peak_flop_per_s = { fp64 = 0 } }", "variant v: values.peak_flop_per_s.fp64 = 0, but chip "
     "nvidia-h100-sxm lists fp64 as native and a variant cannot remove a native unit; give a rate > 0 (a slower unit) "
     "or leave fp64 out"),
    ("values = { peak_flop_per_s = { int4 = 0 } }", "variant v: values.peak_flop_per_s.int4 = 0 would change nothing: "
     "chip nvidia-h100-sxm has no int4 rate"),
    ("scale = { memory_bytes = 1e300 }", "variant v: scale.memory_bytes must be a number in [1e-06, 1e+06] (a factor"),
    ("scale = { peak_flop_per_s = inf }", "scale.peak_flop_per_s must be a number in [1e-06, 1e+06]"),
    ("values = { memory_bytes = 1e300 }", "values.memory_bytes = 1e300 is beyond 1e+06 times chip nvidia-h100-sxm's "
     "8e10"),
    # a unit slip far under the chip's figure was priced (BW x8.33e-13, 1.7e5 h a request: report-only tester fuzzDE 3)
    ("values = { memory_bytes_per_s = 4, peak_flop_per_s = { bf16 = 1200 } }",
     "variant v: values.memory_bytes_per_s = 4 is 1.2e-12 x chip nvidia-h100-sxm's 3.35e12, under 1e-06 times it: "
     "SI units (bytes/s), e.g. 4e12"),
    ("values = { memory_bytes = 144 }", "variant v: values.memory_bytes = 144 is 1.8e-09 x chip nvidia-h100-sxm's 8e10, "
     "under 1e-06 times it: SI units (bytes), e.g. 1.44e11"),
    ("values = { peak_flop_per_s = { bf16 = 1200 } }", "variant v: values.peak_flop_per_s.bf16 = 1200 is 1.2e-12 x chip "
     "nvidia-h100-sxm's 9.895e14, under 1e-06 times it: SI units (FLOP/s), e.g. 1.2e15"),
    # values as the file writes them, not Python's (True, [4000000000000.0]: report-only tester fuzzDE 5)
    ("values = { memory_bytes_per_s = true }", "variant v: values.memory_bytes_per_s must be a finite number > 0 "
     "[B/s], got true"),
    ("values = { memory_bytes_per_s = [4e12] }", "must be a finite number > 0 [B/s], got [4e12]"),
    ("values = { memory_bytes_per_s = -4e12 }", "must be a finite number > 0 [B/s], got -4e12"),
    ("values = { scale_up_bytes_per_s = -4e11 }", "variant v: values.scale_up_bytes_per_s must be a finite number > 0 "
     "[B/s] per direction, got -4e11"),
])
def test_bad_variant_keys_and_values_are_one_line_before_any_case(change: str, says: str, tmp_path: Path) -> None:
    assert says in refused(h100_variant(change), tmp_path)


@pytest.mark.parametrize(("change", "says"), [
    ("scale = { memory_bytes = 1.0 }", "memory_bytes x1 is chip nvidia-h100-sxm's own"),
    ("values = { memory_bytes = 80e9 }", "memory_bytes = 80 GB is chip nvidia-h100-sxm's own"),
    ("scale = { memory_bytes = 1.0, tdp_w = 1.0 }", "memory_bytes x1, tdp_w x1 is chip nvidia-h100-sxm's own"),
])
def test_a_variant_that_changes_nothing_is_refused_as_an_empty_one_is(change: str, says: str,
                                                                      tmp_path: Path) -> None:
    """A scale of 1 or a value equal to the chip's passed unflagged, its rows the chip's own labelled 'what-if:
    memory x1', where an empty variant is refused (report-only tester fuzzEI 5); both are now refused."""
    assert f"variant v: changes nothing ({says}); give it a scale other than 1" in refused(h100_variant(change),
                                                                                           tmp_path)


def test_a_variant_of_a_chip_with_no_overlap_units_may_not_change_them(tmp_path: Path) -> None:
    """Compute units price only an overlapped all-to-all's hold on a CUDA chip's SMs (cost.OVERLAP_UNITS)."""
    spec = h100_variant("values = { compute_units = 40 }", chip="huawei-ascend-910c")
    assert ("variant v: compute_units would change nothing on chip huawei-ascend-910c (stack cann): only an overlapped "
            "all-to-all on cuda holds compute units") in refused(spec, tmp_path)


@pytest.mark.parametrize(("change", "says"), [
    ("values = { compute_units = 13.5 }", "variant v: compute_units must be a whole number of units (chip "
     "nvidia-h100-sxm has 132), got 13.5"),
    ("scale = { compute_units = 0.1 }", "got 13.2 (scale.compute_units x0.1); set it with values = { compute_units = N }"),
])
def test_a_fractional_count_of_compute_units_is_refused(change: str, says: str, tmp_path: Path) -> None:
    """A chip has whole SMs: 13.5 of them was taken and priced (report-only tester fuzzED 4)."""
    assert says in refused(h100_variant(change), tmp_path)


def test_compute_units_on_a_model_without_experts_are_flagged_as_changing_nothing() -> None:
    """Only an overlapped expert all-to-all holds compute units: on Llama a variant with 13 SMs read 1.00x with no
    word (report-only tester fuzzED 4), where a stack that holds none refuses the change. Its rows say it changes
    nothing; an MoE model's do not, nor a variant that leaves the units alone."""
    from parity.uncertainty import idle_units_flag

    few = Variant(name="few-sms", chip="h200", values={"compute_units": 13}).system()
    llama, r1 = catalog.model("llama-3.1-70b"), catalog.model("deepseek-r1")
    flag = idle_units_flag(few, llama)
    assert flag is not None and (flag.text, flag.brief) == (
        "what-if compute_units changes nothing on llama-3.1-70b: only an overlapped expert all-to-all (an MoE "
        "model's) holds compute units", "compute units: no effect here")
    assert idle_units_flag(few, r1) is None
    assert idle_units_flag(Variant(name="bw", chip="h200", scale={"memory_bytes_per_s": 2}).system(), llama) is None
    (row,) = compare([few], catalog.model("llama-3.1-8b"), catalog.engine("generic"))
    assert "compute units: no effect here" in row.note
    assert "what-if compute_units changes nothing on llama-3.1-8b: only an overlapped expert all-to-all (an MoE " \
           "model's) holds compute units" in texts(row.flags)


@pytest.mark.parametrize(("spec", "says"), [
    ('[sweep]\nmdoe = "random"\nsampels = 2\n' + AXES,
     "[sweep]: unknown key 'mdoe' (did you mean 'mode'?); [sweep] has mode, samples and seed"),
    ('[[varaint]]\nname = "v"\nchip = "h20"\n' + AXES.replace('variant = ["v"]', 'system = ["hgx-h20"]'),
     "sweep spec: unknown key 'varaint' (did you mean 'variant'?); a spec has the tables [sweep], [[variant]] and "
     "[axes]"),
    ('mode = "random"\n' + AXES, "sweep spec: unknown key 'mode'; a spec has the tables [sweep], [[variant]] and [axes]"),
    ('sweep = "random"\n' + AXES, "sweep spec: sweep must be a [sweep] table, got 'random'"),
])
def test_a_misspelt_key_or_table_is_refused(spec: str, says: str, tmp_path: Path) -> None:
    """`mdoe = "random"` ran the whole grid (8 cases, not 2 samples) and a [[varaint]] table was ignored, rc 0."""
    assert says in refused(spec, tmp_path)


def test_chip_columns_follow_a_variants_power_die_area_and_rates() -> None:
    """tdp_w, die_area_m2 and the peak rates changed no sweep column (identical rows). The H20 row: 361.67 output
    tokens/s per chip on 5,824 W / 8 chips is 496.79 per kW; TPP 296e12 x 8 bits / 1e12 = 2,368 over 814 mm^2 is
    2.909. Twice the TDP adds its chips' 8 x 400 W to the system's 5,824 W (hosts and fans as they were: 728 -> 1,128
    W a chip); half the die doubles the density; twice the FP8 rate doubles the TPP."""
    variants = (Variant(name="tdp2", chip="h20", scale={"tdp_w": 2.0}),
                Variant(name="die-half", chip="h20", scale={"die_area_m2": 0.5}),
                Variant(name="fp8x2", chip="h20", values={"peak_flop_per_s": {"fp8": 592e12}}))
    axes = {"system": ["hgx-h20"], "variant": [v.name for v in variants], "model": ["llama-3.1-70b"], "isl": [1024],
            "osl": [1024], "concurrency": [64], "tp": [4]}
    rows = {r["system"]: r for r in run_sweep(SweepSpec(axes=axes, variants=variants))}
    base = rows["hgx-h20"]
    assert base["output_tokens_per_s_per_chip"] == pytest.approx(361.667, rel=1e-4)
    assert (base["output_tokens_per_s_per_kw"], base["tpp"], base["performance_density_tpp_per_mm2"]) == \
        pytest.approx((361.667 / 0.728, 2368.0, 2368 / 814), rel=1e-4)
    assert rows["tdp2"]["output_tokens_per_s_per_kw"] == pytest.approx(361.667 / 1.128, rel=1e-4)
    assert rows["die-half"]["performance_density_tpp_per_mm2"] == pytest.approx(2 * 2368 / 814)
    assert rows["fp8x2"]["tpp"] == pytest.approx(2 * 2368.0)
    # tokens per kW rest on power parity assumed: the flags say so, as compare's do (report-only tester fixNF 2)
    assert base["flags"][1:] == ["engine profile generic not fitted to measurements",
                                 "power assumed: 5.824 kW per hgx-h20 (8 x 400 W x 1.82)"]
    assert base["flags"][0].startswith("kernel figures partly inherited on nvidia-h20: GEMM fp8, HBM bandwidth")
    assert rows["tdp2"]["flags"][-1] == "power assumed: 9.024 kW per tdp2 (5.824 kW plus 8 x 400 W of chip power)"
    # a what-if's note names its calibration as the base chip's, not one 'measured on this chip' (fixNF 3)
    assert "; calibration: GEMM and attention measured on this chip (" in base["note"]
    assert ("; calibration: the base chip nvidia-h20's, not the what-if's (nothing measured it): GEMM and attention "
            "measured on nvidia-h20 (torch-h20-bf16-gemm, FlashMLA-h20-compute); the rest inherited from "
            "nvidia-h200-sxm (hopper family)") in rows["tdp2"]["note"]


def test_a_row_without_tokens_per_kw_carries_no_power_flag() -> None:
    """Prefill workers on another system's power per chip: the row states no tokens per kW, so no power flag."""
    from parity.sweep.run import _with_power_flags

    h20 = catalog.system("hgx-h20")
    assert _with_power_flags(["a"], {"output_tokens_per_s_per_kw": math.nan}, (h20, None)) == ["a"]
    assert _with_power_flags([], {"output_tokens_per_s_per_kw": 1.0}, (h20, h20)) == [
        "power assumed: 5.824 kW per hgx-h20 (8 x 400 W x 1.82)"]


def test_a_tdp_what_if_states_its_own_power_arithmetic() -> None:
    """Twice the H20's TDP: the HGX H20's 5.824 kW (8 x 400 W x 1.82) plus its chips' 8 x 400 W more is 9.024 kW, and
    its power source says so, not the base's '8 x 400 W x 1.82' beside 9.02 kW (fuzz16 1.6); half the TDP takes 8 x
    200 W off. The figures are in full, so the arithmetic adds up as printed (it read '5.82 kW - 8 x 200 W' for
    4.224 kW). A variant that leaves the TDP keeps the base's source."""
    doubled = Variant(name="tdp2", chip="h20", scale={"tdp_w": 2.0}).system()
    assert doubled.power_w == pytest.approx(5824 + 8 * 400)
    record = doubled.source_of("power_w")
    assert (record.source.kind, record.note) == ("assumption", "5.824 kW plus 8 x 400 W of chip power")
    halved = Variant(name="tdp-half", chip="h20", scale={"tdp_w": 0.5}).system()
    assert (halved.power_w, halved.source_of("power_w").note) == (5824 - 8 * 200,
                                                                  "5.824 kW less 8 x 200 W of chip power")
    same = Variant(name="bw2", chip="h20", scale={"memory_bytes_per_s": 2.0}).system()
    assert same.source_of("power_w") == catalog.system("hgx-h20").source_of("power_w")


def test_compute_units_change_an_overlapped_moe_step() -> None:
    """compute_units feeds the engine: the SMs an overlapped normal-kernel all-to-all holds (20 of the H200's 132);
    with half the units it holds twice the share, and the MoE step slows."""
    axes = {"system": ["hgx-h200"], "variant": ["half-sms"], "model": ["deepseek-r1"], "isl": [4096], "osl": [1024],
            "concurrency": [256], "tp": [1], "attn_dp": [8], "moe_ep": [8], "moe_overlap": [1.0],
            "normal_all_to_all": [True]}
    base, half = run_sweep(SweepSpec(axes=axes, variants=(Variant(name="half-sms", chip="h200",
                                                                  scale={"compute_units": 0.5}),)))
    assert half["tpot_s"] > base["tpot_s"]


@pytest.mark.parametrize(("name", "kind"), [("hgx-h100", "system hgx-h100"), ("nvidia-h100-sxm", "chip nvidia-h100-sxm"),
                                            ("HGX_H100", "system hgx-h100")])
def test_a_variant_may_not_take_a_catalog_name(name: str, kind: str, tmp_path: Path) -> None:
    """A 910C variant called hgx-h100 would put 910C numbers in rows labelled hgx-h100."""
    spec = h100_variant("scale = { memory_bytes_per_s = 1.0 }", name, chip="huawei-ascend-910c")
    assert f"variant {name}: the name is the catalog {kind}'s" in refused(spec, tmp_path)


def test_variant_names_are_unique_and_defined(tmp_path: Path) -> None:
    twice = h100_variant("") + '[[variant]]\nname = "v"\nchip = "nvidia-h20"\n'
    assert "two [[variant]] tables are named v" in refused(twice, tmp_path)
    assert "sweep axis variant names 'w', which no [[variant]] defines (defined: v)" in refused(
        h100_variant("").replace('variant = ["v"]', 'variant = ["v", "w"]'), tmp_path)


@pytest.mark.parametrize(("weights", "says"), [
    ('["ue8m0", "fp8_block", "UE8M0"]', "sweep axis weights: fp8_block named 3 times (ue8m0, fp8_block, UE8M0): each "
                                        "case runs once"),
    ('["fp8", "bf16", "fp8"]', "sweep axis weights: fp8 named twice: each case runs once"),
])
def test_one_format_named_twice_on_an_axis_is_refused(weights: str, says: str, tmp_path: Path) -> None:
    """An alias (ue8m0 is fp8_block) or a plain repeat on a format axis ran the same case twice or three times."""
    spec = AXES.replace('variant = ["v"]', 'system = ["hgx-h100"]') + f"weights = {weights}\n"
    assert refused(spec, tmp_path).endswith(says)


@pytest.mark.parametrize(("axis", "says"), [
    ('system = ["h20", "hgx-h20"]', "sweep axis system: hgx-h20 named twice (h20, hgx-h20): each case runs once"),
    ('system = ["hgx-h100"]\nmodel = ["llama-3.1-8b", "Llama-3.1-8B"]',
     "sweep axis model: llama-3.1-8b named twice (llama-3.1-8b, Llama-3.1-8B): each case runs once"),
    ('system = ["hgx-h100"]\nmodel = ["meta-llama/Llama-3.1-8B", "llama-3.1-8b"]',
     "sweep axis model: llama-3.1-8b named twice (meta-llama/Llama-3.1-8B, llama-3.1-8b): each case runs once"),
])
def test_a_system_or_model_named_twice_on_an_axis_is_refused(axis: str, says: str, tmp_path: Path) -> None:
    """A chip and its system, or a model's name in another case, ran one case twice (tenth fuzz round)."""
    spec = AXES.replace('variant = ["v"]\n', "").replace('model = ["llama-3.1-8b"]\n', "")
    model = "" if "model" in axis else 'model = ["llama-3.1-8b"]\n'
    spec = spec.replace("[axes]\n", f"[axes]\n{axis}\n{model}")
    assert refused(spec, tmp_path).endswith(says)


def test_an_axis_is_written_in_the_catalogs_spelling(tmp_path: Path) -> None:
    """The CSV kept what was typed (h20, Llama-3.1-8B, UE8M0): it holds the catalog's names, as every other output."""
    spec = tmp_path / "spec.toml"
    spec.write_text('[axes]\nsystem = ["h20"]\nmodel = ["Llama-3.1-8B"]\nweights = ["UE8M0"]\nisl = [128]\n'
                    "osl = [128]\nconcurrency = [8]\n")
    out = tmp_path / "out.csv"
    assert CliRunner().invoke(cli, ["sweep", str(spec), "--out", str(out), "--workers", "1"]).exit_code == 0
    row = out.read_text().splitlines()[1].split(",")
    assert row[1:4] == ["hgx-h20", "llama-3.1-8b", "fp8_block"]


def test_a_variant_changes_its_systems_links_too() -> None:
    """The system states each link per chip, so a chip's slower scale-up link slows the TP all-reduces."""
    axes = {"variant": ["v"], "model": ["llama-3.1-70b"], "isl": [1024], "osl": [256], "concurrency": [64], "tp": [8]}
    half_links, slow_links = (run_sweep(SweepSpec(axes=axes, variants=(
        Variant(name="v", chip="nvidia-h100-sxm", scale=scale),)))[0] for scale in ({"scale_up_bytes_per_s": 0.5},
                                                                                       {"scale_up_bytes_per_s": 0.01}))
    assert Variant(name="v", chip="nvidia-h100-sxm", values={"scale_up_bytes_per_s": 1e11}).system(
        ).scale_up_bytes_per_s == 1e11
    assert slow_links["tpot_s"] > half_links["tpot_s"]


@pytest.mark.parametrize(("drafts", "says"), [
    ("99", "sweep axis mtp_tokens: 99 is beyond any sensible value (at most 64)"),
    ("1000000000", "sweep axis mtp_tokens: 1,000,000,000 is beyond any sensible value (at most 64)"),
    ("-1", "sweep axis mtp_tokens: expected whole numbers >= 0, got -1"),
    ("1.5", "sweep axis mtp_tokens: expected whole numbers >= 0, got 1.5"),
])
def test_mtp_draft_tokens_are_bounded_as_serve_bounds_them(drafts: str, says: str, tmp_path: Path) -> None:
    """`parity serve --mtp` takes at most 64 draft tokens; a sweep of a billion priced forever."""
    spec = AXES.replace('variant = ["v"]', 'system = ["hgx-h200"]') + f"mtp_tokens = [0, {drafts}]\n"
    assert says in refused(spec.replace("llama-3.1-8b", "deepseek-r1"), tmp_path)


def test_a_predict_row_with_too_many_draft_tokens_is_refused() -> None:
    row = {"case_id": "a", "model": "deepseek-r1", "system": "hgx-h200", "isl": 1024, "osl": 256, "concurrency": 8,
           "tp": 8, "mtp_tokens": 10**9}
    [prediction] = predict_rows([row])
    assert not prediction.feasible and "mtp_tokens 1,000,000,000 is beyond any sensible value (at most 64)" in \
        prediction.note


def test_ray_missing_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    assert "--ray needs Ray: pip install 'parity[ray]'" in refused(h100_variant(TWICE_BW), tmp_path, "--ray")


def test_an_unreachable_ray_address_is_one_line(tmp_path: Path) -> None:
    """Ray retried for 20 s and logged a line a second; a closed port is refused at once, in one line."""
    pytest.importorskip("ray")
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    says = refused(h100_variant(TWICE_BW), tmp_path, "--ray", f"127.0.0.1:{port}")
    assert f"--ray 127.0.0.1:{port}: no Ray cluster answers there (Connection refused)" in says


def test_chips_is_an_integer_column_in_parquet_and_csv(tmp_path: Path) -> None:
    """A sweep's Parquet stored chips as double (1.0), its CSV wrote '1.0': a chip count is whole, an int64 column
    with nulls where a case does not fit (Llama-3.1-405B in bf16 on one H100 node)."""
    pq = pytest.importorskip("pyarrow.parquet")
    spec = tmp_path / "spec.toml"
    spec.write_text('[axes]\nsystem = ["hgx-h100"]\nmodel = ["llama-3.1-8b", "llama-3.1-405b"]\nisl = [128]\n'
                    'osl = [128]\nconcurrency = [8]\n')
    for name in ("out.parquet", "out.csv"):
        result = CliRunner().invoke(cli, ["sweep", str(spec), "--out", str(tmp_path / name), "--workers", "1"])
        assert result.exit_code == 0, result.output
    table = pq.read_table(tmp_path / "out.parquet")
    assert (str(table.schema.field("chips").type), table.column("chips").to_pylist()) == ("int64", [1, None])
    header, *rows = (tmp_path / "out.csv").read_text().splitlines()
    assert [row.split(",")[header.split(",").index("chips")] for row in rows] == ["1", ""]


def test_a_variant_that_changes_nothing_is_refused(tmp_path: Path) -> None:
    """A [[variant]] with neither scale nor values ran as its chip under another name, with no 'what-if' flag, so its
    rows passed for a real system (fuzz14 L1); sweep, compare --variants and fleet --variants refuse it."""
    assert refused(h100_variant(""), tmp_path).strip() == (
        "parity: error: spec.toml: variant v: changes nothing (give it a scale or a values table; nvidia-h100-sxm "
        "itself runs under its catalog name)")
    with pytest.raises(ParityError, match="variant v: changes nothing"):
        variants_from_toml({"variant": [{"name": "v", "chip": "h20", "values": {}}]}, "parity compare")


def test_each_row_carries_the_serve_line_that_prices_it_as_the_sweep_did(tmp_path: Path) -> None:
    """A planner checking a sweep row with `parity serve` and the row's own values got TTFT 1.021 s against the row's
    1.133 s (H20, Llama-3.1-70B, 8 clients of 1,024 / 256 tokens): serve draws the client's spread of lengths, the
    sweep prices fixed ones, and the row said neither (fuzz 22a 1.1). Each row now carries its serve line, which
    gives the row's own figures; a what-if system's row has none (serve runs catalog systems)."""
    spec = tmp_path / "spec.toml"
    spec.write_text('[[variant]]\nname = "h20-2x"\nchip = "nvidia-h20"\nscale = { memory_bytes_per_s = 2.0 }\n'
                    '[axes]\nsystem = ["hgx-h20"]\nvariant = ["h20-2x"]\nmodel = ["llama-3.1-70b"]\nisl = [1024]\n'
                    'osl = [256]\nconcurrency = [8]\nweights = ["bf16"]\ntp = [8]\n')
    out = tmp_path / "out.csv"
    assert CliRunner().invoke(cli, ["sweep", str(spec), "--out", str(out), "--workers", "1"]).exit_code == 0
    catalog_row, what_if = list(csv.DictReader(out.open()))
    assert catalog_row["serve_command"] == ("parity serve --model llama-3.1-70b --system hgx-h20 --weights bf16 --isl "
                                            "1024 --osl 256 --tp 8 --concurrency 8 --random-range-ratio 1 "
                                            "--model-kind steady")
    assert what_if["system"] == "h20-2x" and what_if["serve_command"] == ""
    assert what_if["serve_note"] == "a what-if system: `parity serve` runs catalog systems"
    served = CliRunner().invoke(cli, [*shlex.split(catalog_row["serve_command"])[1:], "--format", "json"])
    assert json.loads(served.stdout)["ttft_s"] == pytest.approx(float(catalog_row["ttft_s"]), rel=1e-9)
    assert float(catalog_row["ttft_s"]) == pytest.approx(1.085, abs=0.001)
    # an engine launch setting: the line without it gave TTFT 0.37 s where the row's max_num_seqs 8 gives 7.56 s
    # (fuzz 23a 1.1); the line says it as serve's --max-num-seqs and gives the row's TTFT
    spec.write_text('[axes]\nsystem = ["hgx-h200"]\nmodel = ["llama-3.1-70b"]\nisl = [1024]\nosl = [256]\n'
                    'concurrency = [32]\ntp = [8]\nmax_num_seqs = [8]\n')
    out.unlink()
    assert CliRunner().invoke(cli, ["sweep", str(spec), "--out", str(out), "--workers", "1"]).exit_code == 0
    (capped,) = csv.DictReader(out.open())
    assert (capped["serve_command"], capped["serve_note"]) == (
        "parity serve --model llama-3.1-70b --system hgx-h200 --isl 1024 --osl 256 --tp 8 --concurrency 32 "
        "--max-num-seqs 8 --random-range-ratio 1 --model-kind steady", "")
    assert float(capped["ttft_s"]) == pytest.approx(7.56, abs=0.01)
    served = CliRunner().invoke(cli, [*shlex.split(capped["serve_command"])[1:], "--format", "json"])
    assert json.loads(served.stdout)["ttft_s"] == pytest.approx(float(capped["ttft_s"]), rel=1e-9)


def test_a_row_of_invalid_input_has_no_serve_line_and_one_too_big_keeps_it(tmp_path: Path) -> None:
    """A row of tp 3 on Llama-3.1-70B (64 heads) carried a serve line that failed with the row's own note; it now has
    none. A row that does not fit in memory keeps its line: serve prices that case and says by how much it misses,
    as the row does. One scenario is counted in the singular (it read 'wrote bad5.csv: 1 scenarios')."""
    spec = tmp_path / "spec.toml"
    spec.write_text('[axes]\nsystem = ["hgx-h20"]\nmodel = ["llama-3.1-70b"]\nisl = [1024]\nosl = [1024]\n'
                    'concurrency = [16]\nweights = ["bf16"]\ntp = [1, 3]\n')
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(cli, ["sweep", str(spec), "--out", str(out), "--workers", "1"])
    assert result.stderr == f"wrote {out}: 2 scenarios, 0 feasible\n"
    too_big, invalid = csv.DictReader(out.open())
    assert (invalid["note"], invalid["serve_command"]) == ("tp must divide num_attention_heads (64), got 3", "")
    assert too_big["serve_command"] == ("parity serve --model llama-3.1-70b --system hgx-h20 --weights bf16 --isl "
                                        "1024 --osl 1024 --tp 1 --concurrency 16 --random-range-ratio 1 "
                                        "--model-kind steady")
    served = CliRunner().invoke(cli, shlex.split(too_big["serve_command"])[1:])
    assert too_big["note"].startswith("does not fit: one request alone needs ")
    assert served.exit_code == 2 and served.stderr.startswith(f"parity: error: {too_big['note']}; ")


def test_a_910c_row_runs_one_rank_per_die_unless_its_axis_says(tmp_path: Path) -> None:
    """sweep rows on the 910C ran the 128 GB package as one device where serve, compare and CANN run each 64 GB die as
    a rank (fuzz 24 1.1): Llama-3.1-70B at tp 1 read feasible; now it does not fit a die, and the row says which ran."""
    spec = tmp_path / "spec.toml"
    spec.write_text('[axes]\nsystem = ["atlas-800-a3"]\nmodel = ["llama-3.1-70b"]\nisl = [1024]\nosl = [1024]\n'
                    'concurrency = [16]\ntp = [1, 4]\n')
    out = tmp_path / "out.csv"
    assert CliRunner().invoke(cli, ["sweep", str(spec), "--out", str(out), "--workers", "1"]).exit_code == 0
    one, four = csv.DictReader(out.open())
    assert (one["rank_per_die"], one["feasible"], four["rank_per_die"], four["feasible"]) == ("True", "False", "True",
                                                                                            "True")
    assert "per 64 GB die" in one["note"] and "--tp 4 --concurrency 16 --rank-per-die" in four["serve_command"]
    assert float(four["output_tokens_per_s_per_chip"]) == pytest.approx(147.30, abs=0.01)


EXAMPLE = Path(__file__).parent.parent / "examples" / "sweep-910c.toml"


def test_the_readme_example_answers_its_question_on_deepseek_r1() -> None:
    """A tester's round: every one of the example's 72 DeepSeek-R1 rows did not fit (tp <= 8: 38 GB short a 910C
    die, 9.3 GB an H20). INT8 weights on 16 ranks fit: its rows at 1k in, 64 clients, tp 16 run on all three
    systems (tp 8 x attn_dp 2 as well: the e2e test below), and the what-if 910C delivers 1.78x the 910C (210 vs 118
    tok/s/chip); at tp 8 alone none fits."""
    spec = spec_from_toml(tomllib.loads(EXAMPLE.read_text()))
    assert len(sweep_rows(spec)) == 144
    picked = SweepSpec(axes={**spec.axes, "model": ["deepseek-r1"], "isl": [1024], "concurrency": [64], "attn_dp": [1]},
                       variants=spec.variants)
    done = {(r["system"], r["tp"]): r for r in run_sweep(picked)}
    assert [key for key, r in done.items() if r["feasible"]] == [
        ("atlas-800-a3", 16), ("hgx-h20", 16), ("910c-2x-bandwidth", 16)]
    assert [round(done[(s, 16)]["output_tokens_per_s_per_chip"]) for s in ("atlas-800-a3", "910c-2x-bandwidth")] \
        == [118, 210]
    # run one rank per die, the what-if names its catalog package, not the die record ('huawei-ascend-910c-die')
    assert done[("910c-2x-bandwidth", 16)]["flags"][0].startswith(
        "what-if: memory_bytes_per_s x2 of huawei-ascend-910c, priced with huawei-ascend-910c's calibration")


@pytest.mark.e2e
def test_the_readme_example_runs_most_deepseek_rows() -> None:
    """The whole example: 126 of 144 rows feasible, 54 of its 72 DeepSeek-R1 rows (those at tp 8 alone do not fit)."""
    done = run_sweep(spec_from_toml(tomllib.loads(EXAMPLE.read_text())))
    assert (len(done), sum(r["feasible"] for r in done)) == (144, 126)
    assert sum(r["feasible"] for r in done if r["model"] == "deepseek-r1") == 54


def test_a_variant_adds_a_native_format() -> None:
    """"What if the 910C had native FP8?" was refused ("a variant cannot change the native formats"). With FP8 at its
    INT8 rate (1.6 PFLOP/s), FP8 weights of Llama-3.1-70B run natively (not 'fp8 on bf16') and deliver 1.93x (1,351
    against 700 tok/s/chip at 50 ms TPOT; 1,340 and 693 before the decode batch was refined as served, 1,268 and
    747 before disaggregated rows were priced on whole workers),
    priced with the 910C's calibration: FP8's GEMM rate, which no Ascend measured, is the H200's measured rate moved by
    the fits' ratios (the flag says so, naming the H200, as 'parity show' does)."""
    fp8 = Variant(name="910c-fp8", chip="huawei-ascend-910c",
                  values={"native": ["fp8"], "peak_flop_per_s": {"fp8": 1.6e15}}).system()
    assert fp8.chip.native == catalog.chip("huawei-ascend-910c").native | {"fp8"}
    base, what_if = compare([catalog.system("atlas-800-a3"), fp8], catalog.model("llama-3.1-70b"),
                            catalog.engine("generic"), weights="fp8", ttft_s=None)  # no TTFT target
    assert (base.emulated_on, what_if.emulated_on) == ("bf16", "")
    assert (round(base.tokens_per_s_per_chip), round(what_if.tokens_per_s_per_chip)) == (700, 1351)
    # its system's power, CloudMatrix 384's per node, is derived (compare.system_power_flags)
    assert what_if.note == "what-if: fp8 unit added; fp8 GEMM rate not measured; power derived"
    assert ("fp8 GEMM rate not measured on huawei-ascend-910c (family-davinci-910 measures bf16, int8; fp8 is the rate "
            "nvidia-h200-sxm measured, moved by the fits' ratios)") in texts(what_if.flags)


def test_a_price_for_a_chip_the_catalog_does_not_price_is_bounded(tmp_path: Path) -> None:
    """A chip with a catalog price refuses a what-if beyond 1e6 times it; one without had no bound, and a fleet
    printed a cost of '$8e+15' for an H200 at $1e13 a chip (report-only tester fuzzAI 3)."""
    spec = tmp_path / "v.toml"
    spec.write_text('[[variant]]\nname = "v"\nchip = "nvidia-h200-sxm"\nvalues = { unit_price_usd = 1e13 }\n')
    result = CliRunner().invoke(cli, ["fleet", "--model", "llama-3.1-8b", "--units", "8", "--variants", str(spec)])
    assert (result.exit_code, result.stderr) == (2, "parity: error: v.toml: variant v: values.unit_price_usd = 1e+13 "
                                                    "is beyond $1e+09 a chip (chip nvidia-h200-sxm has no catalog "
                                                    "price to compare it with)\n")


def test_parquet_column_types_follow_the_columns_not_the_run(tmp_path: Path) -> None:
    """A sweep whose emulated_on cells were all empty wrote that column as type null, an all-infeasible one its
    ttft_s as null and its flags as list<null>, so `pd.read_parquet` of the two files failed (fuzzDL 2: Unsupported
    cast from string to null). Both now carry one schema: int64 counts, float64 figures, bool flags, string text,
    list<string> flags, and they concatenate."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    tables = []
    for model in ("llama-3.1-8b", "llama-3.1-405b"):  # 405B in bf16 does not fit one H100 node
        spec, out = tmp_path / f"{model}.toml", tmp_path / f"{model}.parquet"
        spec.write_text(f'[axes]\nsystem = ["hgx-h100"]\nmodel = ["{model}"]\nweights = ["bf16"]\nisl = [128]\n'
                        'osl = [128]\nconcurrency = [8]\ntp = [1]\nrandom_range_ratio = [1]\n')
        result = CliRunner().invoke(cli, ["sweep", str(spec), "--out", str(out), "--workers", "1"])
        assert result.exit_code == 0, result.output
        tables.append(pq.read_table(out))
    fits, misses = tables
    assert fits.schema == misses.schema
    assert misses.column("feasible").to_pylist() == [False]
    types = {name: str(fits.schema.field(name).type) for name in (
        "isl", "tp", "chips", "random_range_ratio", "ttft_s", "feasible", "note", "emulated_on", "flags", "tpp")}
    assert types == {"isl": "int64", "tp": "int64", "chips": "int64", "random_range_ratio": "double",
                     "ttft_s": "double", "feasible": "bool", "note": "string", "emulated_on": "string",
                     "flags": "list<element: string>", "tpp": "double"}
    assert pa.concat_tables(tables).column("model").to_pylist() == ["llama-3.1-8b", "llama-3.1-405b"]


def test_predict_reads_a_sweeps_table_back_with_the_sweeps_figures(tmp_path: Path) -> None:
    """`parity predict` of a sweep's own CSV stopped at output_tokens_per_s_per_kw, then at tpp ('did you mean
    'tp'?', a hint that would have changed the layout), performance_density_tpp_per_mm2, serve_command and serve_note
    (fuzzDL 3): a sweep's columns are kept unread as predict's own outputs are, and its rows price as the sweep did."""
    spec, swept, again = tmp_path / "spec.toml", tmp_path / "sweep.csv", tmp_path / "again.csv"
    spec.write_text('[axes]\nsystem = ["hgx-h100"]\nmodel = ["llama-3.1-8b"]\nisl = [128, 1024]\nosl = [128]\n'
                    'concurrency = [8]\n')
    result = CliRunner().invoke(cli, ["sweep", str(spec), "--out", str(swept), "--workers", "1"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(cli, ["predict", str(swept), "--model-kind", "steady", "--out", str(again)])
    assert result.exit_code == 0, result.output
    before, after = list(csv.DictReader(swept.open())), list(csv.DictReader(again.open()))
    assert {"tpp", "serve_command"} <= set(before[0])
    figures = ("case_id", "ttft_s", "tpot_s", "output_tokens_per_s_per_chip", "chips", "memory_bytes_per_chip")
    assert [[row[k] for k in figures] for row in after] == [[row[k] for k in figures] for row in before]
    assert [row["case_id"] for row in after] == ["sweep-0", "sweep-1"]


@pytest.mark.parametrize(("axis", "values", "says"), [
    ("isl", "[1024, 1024]", "isl: 1024 given twice"), ("concurrency", "[8, 4, 8, 8]", "concurrency: 8 given 3 times"),
    ("random_range_ratio", "[0.5, 0.5]", "random_range_ratio: 0.5 given twice")])
def test_a_number_given_twice_on_an_axis_is_refused(tmp_path: Path, axis: str, values: str, says: str) -> None:
    """isl = [1024, 1024] with concurrency = [8, 8] ran one case 4 times as identical rows, where a name given twice
    was refused (fuzzDL 4): a repeated number is refused alike, before any case runs."""
    axes = {"system": '["hgx-h100"]', "model": '["llama-3.1-8b"]', "isl": "[1024]", "osl": "[128]",
            "concurrency": "[8]", axis: values}
    spec = "[axes]\n" + "".join(f"{k} = {v}\n" for k, v in axes.items())
    assert refused(spec, tmp_path) == f"parity: error: spec.toml: sweep axis {says}: each case runs once"
    with pytest.raises(ParityError, match="sweep axis tp: 2 given twice"):
        SweepSpec(axes={"system": ["hgx-h100"], "model": ["m"], "isl": [1], "osl": [1], "concurrency": [1],
                        "tp": [2, 2.0]})


def test_a_large_sweep_says_its_size_and_a_rough_duration_first(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A 160,000-case sweep ran silent off a terminal (fuzzDL 5): over LARGE_SWEEP_CASES a sweep says its count and a
    rough duration on stderr before it runs, at CASES_PER_S_PER_PROCESS (500/s) a process; a smaller one says
    nothing more than before."""
    from parity.cli import sweep_cmd

    assert sweep_cmd._heads_up(20_000, 4, False) == ""
    assert sweep_cmd._heads_up(60_000, 4, False) == (
        "60,000 scenarios: roughly 30 s on 4 processes (~500 cases/s each; larger models and disaggregated layouts "
        "run slower)")
    assert sweep_cmd._heads_up(1_200_000, 1, False).startswith("1,200,000 scenarios: roughly 40 min on 1 process (")
    assert sweep_cmd._heads_up(60_000, 4, True) == "60,000 scenarios on Ray"
    monkeypatch.setattr(sweep_cmd, "LARGE_SWEEP_CASES", 1)
    spec = tmp_path / "spec.toml"
    spec.write_text('[axes]\nsystem = ["hgx-h100"]\nmodel = ["llama-3.1-8b"]\nisl = [128, 256]\nosl = [128]\n'
                    'concurrency = [8]\n')
    result = CliRunner().invoke(cli, ["sweep", str(spec), "--out", str(tmp_path / "out.csv"), "--workers", "4"])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[0].startswith("2 scenarios: roughly 4 ms on 1 process (")


RATES = ('[axes]\nsystem = ["hgx-h100"]\nmodel = ["llama-3.1-8b"]\nisl = [1024]\nosl = [256]\n'
         'request_rate = ["inf", 0.5]\nnum_prompts = [10]\n')


def test_a_request_rate_axis_is_refused_per_row_as_predicts_steady_model_refuses_it(tmp_path: Path) -> None:
    """A request_rate axis was read and ignored (fuzzEL 1): 0.5 requests/s of 256 tokens, at most 128 tok/s on a chip,
    was written feasible at the closed loop's 1,015 tok/s/chip, and the serve note said serve had no option for
    request_rate. Its rows are now refused with `predict --model-kind steady`'s reason, and the note names serve's
    simulator options; inf capped by max_concurrency, which stands for the concurrency axis, is that closed loop."""
    spec, out = tmp_path / "spec.toml", tmp_path / "out.csv"
    spec.write_text(RATES + "concurrency = [8]\n")
    result = CliRunner().invoke(cli, ["sweep", str(spec), "--out", str(out), "--processes", "1"])
    assert result.stderr == f"wrote {out}: 2 scenarios, 0 feasible\n"
    burst, poisson = csv.DictReader(out.open())
    how = ("open-loop arrivals need the simulator (`parity predict` of the sweep's table runs it, --model-kind sim by "
           "default; a sweep runs the steady model); the steady-state model prices a closed loop of the row's "
           "concurrency")
    assert poisson["note"] == f"request_rate 0.5/s: {how}"
    assert burst["note"] == (  # no open loop: every request at once (fuzzEM 6 read it as one)
        "request_rate inf without max_concurrency: every request sent at once, all in flight together; the "
        "steady-state model prices a closed loop of the row's concurrency, which request_rate inf with "
        "max_concurrency is (set it), and the simulator the burst (`parity predict` of the sweep's table runs it, "
        "--model-kind sim by default; a sweep runs the steady model)")
    assert (poisson["feasible"], poisson["output_tokens_per_s_per_chip"], poisson["serve_command"]) == ("False", "", "")
    assert poisson["serve_note"] == ("num_prompts, request_rate: `parity serve` reads them (--num-prompts, "
                                     "--request-rate) with --model-kind sim only; the steady model refuses the row's "
                                     "request_rate (its note)")
    # predict's steady model refuses the same rows, in its own words for where the simulator is
    again = tmp_path / "again.csv"
    assert CliRunner().invoke(cli, ["predict", str(out), "--model-kind", "steady", "--out", str(again)]).exit_code == 0
    assert [r["note"] for r in csv.DictReader(again.open())][1] == (
        "request_rate 0.5/s: open-loop arrivals need the simulator (--model-kind sim, the default); the steady-state "
        "model prices a closed loop of the row's concurrency")
    # max_concurrency in place of concurrency was refused ('a sweep needs the axes concurrency'); with inf it is the
    # closed loop of that many clients, priced as the row of 8 clients is, and serve's steady line gives it; TOML's
    # bare inf reads as "inf" (it was refused at load: 'must be a finite number, got inf')
    for inf in ('["inf"]', "[inf]"):
        spec.write_text(RATES.replace('["inf", 0.5]', inf) + "max_concurrency = [8]\n")
        out.unlink()
        assert CliRunner().invoke(cli, ["sweep", str(spec), "--out", str(out), "--processes", "1"]).exit_code == 0
        (capped,) = csv.DictReader(out.open())
        assert (capped["request_rate"], capped["feasible"]) == ("inf", "True")
    assert float(capped["output_tokens_per_s_per_chip"]) == pytest.approx(1015.21, abs=0.01)
    assert capped["serve_command"] == ("parity serve --model llama-3.1-8b --system hgx-h100 --isl 1024 --osl 256 "
                                       "--tp 1 --concurrency 8 --random-range-ratio 1 --model-kind steady")
    assert capped["serve_note"] == ("max_concurrency, num_prompts, request_rate: `parity serve` reads them "
                                    "(--max-concurrency, --num-prompts, --request-rate) with --model-kind sim only; "
                                    "this steady line prices the row as the sweep did")
    out.unlink()
    assert refused(RATES, tmp_path) == (
        "parity: error: spec.toml: a sweep needs the axes concurrency or max_concurrency (every case needs a value; "
        "give a one-value list for a fixed one, e.g. isl = [1024])")


WHAT_IF_FLAG = ("what-if: memory_bytes_per_s x2 of nvidia-h20, priced with nvidia-h20's calibration (nothing measured "
                "the what-if)")


def test_every_row_of_a_variant_carries_its_what_if_flag_a_refused_one_too() -> None:
    """A variant's rows that did not fit carried no flag (fuzzEL 2), though their tpp is the what-if chip's and
    docs/model.md says every row of a variant carries 'what-if: CHANGES of CHIP'. Llama-3.1-70B in bf16 does not fit
    one H20 at tp 1 (60.1 GB short), and fits at tp 8."""
    spec = spec_from_toml({
        "variant": [{"name": "h20-2x", "chip": "nvidia-h20", "scale": {"memory_bytes_per_s": 2.0}}],
        "axes": {"variant": ["h20-2x"], "model": ["llama-3.1-70b"], "weights": ["bf16"], "isl": [1024], "osl": [256],
                 "concurrency": [8], "tp": [1, 8]}})
    too_big, fits = run_sweep(spec)
    assert (too_big["feasible"], fits["feasible"]) == (False, True)
    assert too_big["flags"] == [WHAT_IF_FLAG]
    assert fits["flags"][0] == WHAT_IF_FLAG and fits["flags"].count(WHAT_IF_FLAG) == 1


def test_a_sweeps_table_has_predicts_die_memory_and_its_what_if_rows_read_back_with_the_spec(tmp_path: Path) -> None:
    """A sweep's 910C rows lacked the memory_bytes_per_die predict writes for them (fuzzEL 3): Llama-3.1-70B at tp 4
    holds 47.59 GB on its busiest die, half the package's 95.19 GB; an H20 row has none (NaN). Its what-if rows read
    back as 'unknown system' (fuzzEL 4): `predict --variants SPEC.toml` prices them as the sweep did."""
    spec, swept, again = tmp_path / "spec.toml", tmp_path / "sweep.csv", tmp_path / "again.csv"
    spec.write_text('[[variant]]\nname = "910c-2x"\nchip = "huawei-ascend-910c"\nscale = { memory_bytes_per_s = 2.0 }\n'
                    '[axes]\nsystem = ["atlas-800-a3", "hgx-h20"]\nvariant = ["910c-2x"]\nmodel = ["llama-3.1-70b"]\n'
                    'isl = [1024]\nosl = [1024]\nconcurrency = [16]\ntp = [4]\n')
    assert CliRunner().invoke(cli, ["sweep", str(spec), "--out", str(swept), "--processes", "1"]).exit_code == 0
    before = list(csv.DictReader(swept.open()))
    ascend, h20, what_if = before
    assert float(ascend["memory_bytes_per_die"]) == pytest.approx(47.59e9, rel=1e-3)
    assert float(ascend["memory_bytes_per_die"]) * 2 == pytest.approx(float(ascend["memory_bytes_per_chip"]))
    assert h20["memory_bytes_per_die"] == "" and what_if["memory_bytes_per_die"] != ""
    result = CliRunner().invoke(cli, ["predict", str(swept), "--model-kind", "steady", "--variants", str(spec),
                                      "--out", str(again)])
    assert result.exit_code == 0, result.output
    figures = ("case_id", "ttft_s", "output_tokens_per_s_per_chip", "memory_bytes_per_chip", "memory_bytes_per_die",
               "feasible")
    after = list(csv.DictReader(again.open()))
    assert [[r[k] for k in figures] for r in after] == [[r[k] for k in figures] for r in before]
    assert after[2]["feasible"] == "True"
    assert WHAT_IF_FLAG.replace("nvidia-h20", "huawei-ascend-910c") in json.loads(after[2]["flags"])


@pytest.mark.parametrize(("axis", "values", "says"), [
    # TOML's true is Python's 1: '1 given twice' (fuzzEL 5); a ratio of false ran as an infeasible row
    ("concurrency", "[1, true]", "sweep axis concurrency: expected a whole number, got true"),
    ("random_range_ratio", "[false]", "sweep axis random_range_ratio: expected a number, got false"),
    # two ids ran one case twice as identical rows (fuzzEL 6)
    ("case_id", '["a", "b"]', "case_id is not a sweep axis: a sweep names each case itself (sweep-0, sweep-1, ...), "
                              "and a case_id axis ran every case once per id, as identical rows")])
def test_a_flag_on_a_number_axis_and_a_case_id_axis_are_refused(tmp_path: Path, axis: str, values: str,
                                                                 says: str) -> None:
    axes = {"system": '["hgx-h100"]', "model": '["llama-3.1-8b"]', "isl": "[1024]", "osl": "[128]",
            "concurrency": "[8]", axis: values}
    spec = "[axes]\n" + "".join(f"{k} = {v}\n" for k, v in axes.items())
    assert refused(spec, tmp_path) == f"parity: error: spec.toml: {says}"


def test_processes_is_the_option_and_workers_its_hidden_former_name(tmp_path: Path) -> None:
    """sweep took --workers where predict and compare take --processes (fuzzEL 7): --processes it is, --workers still
    taken (scripts), hidden from the help, and the two together refused."""
    spec = tmp_path / "spec.toml"
    spec.write_text('[axes]\nsystem = ["hgx-h100"]\nmodel = ["llama-3.1-8b"]\nisl = [128]\nosl = [128]\n'
                    'concurrency = [8]\n')
    for option in ("--processes", "--workers"):
        out = tmp_path / f"{option[2:]}.csv"
        result = CliRunner().invoke(cli, ["sweep", str(spec), "--out", str(out), option, "1"])
        assert result.stderr == f"wrote {out}: 1 scenario, 1 feasible\n"
    assert refused(spec.read_text(), tmp_path, "--processes", "2") == (
        "parity: error: --workers is --processes' former name: give --processes alone")
    shown = CliRunner().invoke(cli, ["sweep", "--help"]).output
    assert "--processes" in shown and "--workers, its former name" in shown and "--workers INTEGER" not in shown
