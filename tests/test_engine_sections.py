"""Engine profiles as named sections (engine.sections, catalog.engine_file): every field in one section, the
steady-state model's stand-ins out of the simulator's reach, the reader's refusals, and the writers' round trips."""

from __future__ import annotations

import ast
import dataclasses
import json
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from parity import catalog, tomlwrite
from parity.catalog.engine_file import flat_keys, profile_from, sectioned
from parity.cli import cli
from parity.crossvendor.stacks import stack_toml
from parity.engine import IDENTITY, PROFILE_SECTIONS, EngineProfile
from parity.errors import CatalogError
from parity.predict import scenario_from_row, simulate_scenario
from parity.simulate import policies
from parity.validate import FIT_PARAMETERS, SIZING_PARAMETERS, engine_refit_text, engine_toml

SRC = Path(__file__).resolve().parents[1] / "src" / "parity"
SECTION = {s.name: s for s in PROFILE_SECTIONS}


def _fields(name: str) -> set[str]:
    return set(SECTION[name].fields)


def test_every_profile_field_is_in_exactly_one_section() -> None:
    """The 58 EngineProfile fields: 10 identity keys at the top of the file and 48 in the sections, none twice
    and none that EngineProfile lacks."""
    placed = list(IDENTITY) + [f for s in PROFILE_SECTIONS for f in s.fields]
    names = [f.name for f in dataclasses.fields(EngineProfile)]
    assert sorted(placed) == sorted(names)
    assert len(placed) == len(set(placed)) == len(names)
    assert len({s.name for s in PROFILE_SECTIONS}) == len(PROFILE_SECTIONS)


def test_the_scheduler_sections_are_the_simulators_policies() -> None:
    """Each [scheduler.X] section names a policy class of simulate.policies and is that class's name in snake
    case (TokenBudget: token_budget, DisaggHandOff: disagg_handoff)."""
    scheduler = [s for s in PROFILE_SECTIONS if s.name.startswith("scheduler.")]
    assert len(scheduler) == 7
    for s in scheduler:
        assert isinstance(getattr(policies, s.policy), type), s.name
        assert s.name.removeprefix("scheduler.").replace("_", "") == s.policy.lower()


def _module_names(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_names(p): p for p in SRC.rglob("*.py")}


def _closure(package: str) -> set[str]:
    """The parity modules `package`'s modules import, directly or through others (the lazy root package and
    parity.engine, which defines and checks every field, left out)."""
    todo, seen = [m for m in MODULES if m.startswith(package)], set()
    while todo:
        module = todo.pop()
        if module in seen or module == "parity" or module.startswith("parity.engine"):
            continue
        seen.add(module)
        parts = module.split(".")
        todo += [".".join(parts[:i]) for i in range(2, len(parts))]
        for node in ast.walk(ast.parse(MODULES[module].read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("parity"):
                todo += [m for m in (node.module, *(f"{node.module}.{a.name}" for a in node.names)) if m in MODULES]
            elif isinstance(node, ast.Import):
                todo += [a.name for a in node.names if a.name in MODULES]
    return seen


def _names_read(modules: set[str]) -> set[str]:
    """Every attribute name and whole string constant in `modules` (profile.burstiness, getattr(p, "burstiness"))."""
    out: set[str] = set()
    for module in modules:
        for node in ast.walk(ast.parse(MODULES[module].read_text())):
            if isinstance(node, ast.Attribute):
                out.add(node.attr)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                out.add(node.value)
    return out


def test_the_steady_models_stand_ins_reach_no_module_the_simulator_runs() -> None:
    """No module of parity.simulate, nor any it imports (the step model, costs, plans), names a field of [steady]
    or [disagg_sizing]; no module of parity.serving or what it imports names a field of [simulator]. The closures
    are checked to hold what they must (the simulator reaches parity.step; serving reaches neither simulate nor
    predict), so an empty intersection is not an empty search."""
    simulator = _closure("parity.simulate")
    assert {"parity.simulate.policies", "parity.step", "parity.cost"} <= simulator
    assert not any(m.startswith(("parity.serving", "parity.predict")) for m in simulator)
    assert not (_fields("steady") | _fields("disagg_sizing")) & _names_read(simulator)
    steady = _closure("parity.serving")
    assert "parity.serving.steady" in steady and not any(m.startswith("parity.simulate") for m in steady)
    assert not _fields("simulator") & _names_read(steady)
    assert {"burstiness", "first_wave"} <= _names_read({"parity.serving.prefill"})  # the search finds them


@pytest.mark.e2e
def test_the_stand_ins_do_not_move_a_simulated_prediction_and_the_sizing_does() -> None:
    """A disaggregated SGLang DeepSeek-R1 row at 1,024 clients that gives no worker counts, simulated: with every
    [steady] value changed (burstiness x 5, first wave 0.9, arrival sync 0.1, 4 first-token steps) its latencies
    are the same to the bit; with [disagg_sizing]'s prefill utilisation at 0.2 instead of 0.66 the steady model
    sizes more prefill workers and the simulated TTFT falls, which is why the sizing is a section of its own."""
    row = next(r for r in catalog.measurements()
               if r["case_id"] == "2026_03_25_deepseek_r1_b200_sxm_sglang_fp8_disagg_1024x1024_c1024_tp8_0_ep8_0_523")
    assert not row["decode_workers"] and not row["prefill_workers"]
    scenario = scenario_from_row(row)
    engine = scenario.engine
    base = simulate_scenario(scenario)
    moved = dataclasses.replace(engine, burstiness=5 * engine.burstiness, first_wave=0.9, arrival_sync=0.1,
                                first_token_steps=4.0)
    assert simulate_scenario(scenario.with_engine(moved)).latency == base.latency
    busier = dataclasses.replace(engine, disagg_prefill_utilization=0.2)
    assert simulate_scenario(scenario.with_engine(busier)).ttft_s < 0.9 * base.ttft_s


def _bad(data: dict[str, object]) -> str:
    with pytest.raises(CatalogError) as err:
        profile_from(data, "engines/bad.toml")
    return str(err.value)


def test_a_key_out_of_place_is_refused_naming_file_section_and_key() -> None:
    """generic.toml's tables with one key moved: to the top level, into another section, misspelt, in a scheduler
    table that does not exist, or left out."""
    good = tomllib.loads((catalog.data_dir() / "engines" / "generic.toml").read_text())
    assert profile_from(good, "engines/generic.toml") == catalog.engine("generic")
    top = {**good, "gemm_scale": 1.0}
    assert _bad(top) == "engines/bad.toml: key 'gemm_scale' in the top level belongs in [kernels]"
    wrong = {**good, "host": {**good["host"], "burstiness": 1.0}}
    assert _bad(wrong) == "engines/bad.toml: key 'burstiness' in [host] belongs in [steady]"
    nested = {**good, "steady": {**good["steady"], "max_num_tokens": 8}}
    assert _bad(nested) == "engines/bad.toml: key 'max_num_tokens' in [steady] belongs in [scheduler.token_budget]"
    typo = {**good, "kernels": {**good["kernels"], "gemm_scal": 1.0}}
    assert _bad(typo) == "engines/bad.toml: key 'gemm_scal' in [kernels] is no engine-profile key"
    policy = {**good, "scheduler": {**good["scheduler"], "mtp": {"tokens": 1}}}
    assert _bad(policy).startswith("engines/bad.toml: [scheduler] holds no 'mtp'; its tables are token_budget")
    missing = {**good, "host": {k: v for k, v in good["host"].items() if k != "step_overhead"}}
    assert _bad(missing) == "engines/bad.toml: missing key 'step_overhead' in [host]"
    unit = {**good, "host": {**good["host"], "step_overhead": "1 GB"}}
    assert _bad(unit).startswith("engines/bad.toml: ")


def test_a_value_of_the_wrong_type_or_a_missing_key_is_refused_in_words() -> None:
    """Fuzz 20b 3.5: gemm_scale = "big" read as Python ("'<' not supported between instances of 'int' and 'str'"),
    gemm_scale = true was taken as 1, and a file without burstiness said "EngineProfile.__init__() missing 1
    required keyword-only argument: 'burstiness'"."""
    good = tomllib.loads((catalog.data_dir() / "engines" / "generic.toml").read_text())
    for value, shown in (("big", "'big'"), (True, "true")):
        typed = {**good, "kernels": {**good["kernels"], "gemm_scale": value}}
        assert _bad(typed) == f"engines/bad.toml: key kernels.gemm_scale must be a number, got {shown}"
    budget = {**good, "scheduler": {**good["scheduler"], "token_budget": {"max_num_tokens": 8192.5}}}
    assert _bad(budget).startswith("engines/bad.toml: key scheduler.token_budget.max_num_tokens must be a whole "
                                   "number, got 8192.5")
    short = {**good, "steady": {k: v for k, v in good["steady"].items() if k != "burstiness"}}
    assert _bad(short) == "engines/bad.toml: missing key 'burstiness' in [steady]"


def test_the_cli_refuses_a_flat_user_profile_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A profile written flat (every key at the top, the layout before sections) in PARITY_HOME: `parity engines`
    exits 2 with one line naming the file and the first key out of place."""
    monkeypatch.setenv("PARITY_HOME", str(tmp_path))
    (tmp_path / "engines").mkdir()
    flat = flat_keys(tomllib.loads(catalog.engine_text("vllm")))
    (tmp_path / "engines" / "vllm.toml").write_text("".join(f"{k} = {tomlwrite.value(v)}\n" for k, v in flat.items()))
    catalog.engines.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["engines"])
        assert result.exit_code == 2 and "Traceback" not in result.output
        assert result.output == (f"parity: error: {tmp_path / 'engines' / 'vllm.toml'}: key 'gemm_scale' in the top "
                                 "level belongs in [kernels]\n")
    finally:
        catalog.engines.cache_clear()


def _same(read: EngineProfile, written: EngineProfile) -> None:
    """Every field equal, a time to the last bit or two (9.5e-6 s written "9.500 us" reads back as 9.5 x 1e-6)."""
    for f in dataclasses.fields(EngineProfile):
        a, b = getattr(read, f.name), getattr(written, f.name)
        assert a == (pytest.approx(b, rel=1e-12) if isinstance(b, float) else b), (written.id, f.name)


# values every fitted parameter can take and a file writes exactly (times in the writer's 3-4 decimals)
_FITTED = {"kernel_overhead_s": 9.5e-6, "step_overhead_s": 0.25e-3, "ttft_overhead_s": 0.0125, "burstiness": 0.75,
           "gemm_scale": 1.125, "memory_scale": 0.875, "prefill_scale": 1.5, "arrival_sync": 0.5,
           "first_wave": 0.25, "first_token_steps": 2.5, "collective_latency_s": 3e-6,
           "disagg_ttft_overhead_s": 0.05, "disagg_decode_batch": 100.0, "disagg_prefill_utilization": 0.625}


@pytest.mark.parametrize("engine_id", [p.id for p in catalog.engines()])
def test_a_refit_written_in_place_reads_back_as_the_fitted_profile(engine_id: str) -> None:
    """engine_refit_text on each shipped file with every steady-fit parameter moved: read back, the profile is the
    fitted one but for the date and method the refit writes; each value lands in its section (generic.toml, which
    has no collective_latency, gets one in [kernels]), and every comment line stays."""
    assert set(_FITTED) == set(FIT_PARAMETERS) | set(SIZING_PARAMETERS)
    shipped = catalog.engine(engine_id)
    fitted = dataclasses.replace(shipped, **_FITTED)
    before = catalog.engine_text(engine_id)
    after = engine_refit_text(before, fitted, 10, 0.3, 0.2, "2026-12-04")
    data = tomllib.loads(after)
    _same(profile_from(data, engine_id), dataclasses.replace(fitted, date="2026-12-04", method=data["method"]))
    assert data["kernels"]["collective_latency"] == "3.000 us" and data["steady"]["burstiness"] == 0.75
    assert [x for x in before.splitlines() if x.startswith("#")] == [x for x in after.splitlines() if x.startswith("#")]


def test_a_profile_written_whole_reads_back_and_a_stack_profile_keeps_its_stack() -> None:
    """engine_toml (a new profile) and stack_toml (--fit-stacks) write the sectioned form with each section's
    comment; read back, every shipped profile is itself but for the method and source the writer sets, and a
    stack profile keeps its stack, base and rows at the top of the file."""
    for profile in catalog.engines():
        text = stack_toml(profile, 0.2, 0.1, profile.date) if profile.base else engine_toml(profile, 1, 0.2, 0.1,
                                                                                              profile.date)
        data = tomllib.loads(text)
        back = profile_from(data, profile.id)
        _same(back, dataclasses.replace(profile, method=data["method"], source=data["source"], measured=True))
        assert f"[{PROFILE_SECTIONS[0].name}]" in text and "# how the engine's kernels run" in text
        assert "\n[scheduler]\n" not in text  # a table of tables alone has no header
    rocm = tomllib.loads(stack_toml(catalog.engine("vllm-rocm"), 0.2, 0.1, "2026-12-04"))
    assert (rocm["stack"], rocm["base"], len(rocm["rows"])) == ("rocm", "vllm", 22)
    assert rocm["method"].startswith("refit of vllm's") and "steady" in rocm and "gemm_scale" not in rocm


def test_sectioned_nests_file_keys_and_refuses_a_stranger() -> None:
    """sectioned: identity first, then each section's keys, [scheduler.X] nested under scheduler; an unknown key
    is a KeyError. flat_keys undoes it."""
    flat = {"gemm_scale": 1.0, "id": "x", "max_num_tokens": 8, "burstiness": 1.0}
    nested = sectioned(flat)
    assert list(nested) == ["id", "kernels", "scheduler", "steady"]
    assert nested["scheduler"] == {"token_budget": {"max_num_tokens": 8}}
    assert flat_keys(nested) == {"id": "x", "gemm_scale": 1.0, "max_num_tokens": 8, "burstiness": 1.0}
    with pytest.raises(KeyError, match="nope"):
        sectioned({"nope": 1})


def test_replace_values_reaches_keys_in_tables_and_adds_a_missing_one_to_its_table() -> None:
    """A dotted key names a key in a table ([t] x: "t.x", [u.v] y: "u.v.y"); with `add`, a missing key goes after
    the last key of its table (the top level's: before the first table) or into a new table at the end."""
    text = "# head\nx = 1  # old\n[t]\nx = 2\n\n# c\n[u.v]\ny = 3\n"
    assert tomlwrite.replace_values(text, {"t.x": 5, "u.v.y": 4}) == "# head\nx = 1  # old\n[t]\nx = 5\n\n# c\n[u.v]\ny = 4\n"
    added = tomlwrite.replace_values(text, {"z": 1, "t.z": 2, "u.v.z": 3, "n.q": 4}, add=True)
    assert added == "# head\nx = 1  # old\nz = 1\n[t]\nx = 2\nz = 2\n\n# c\n[u.v]\ny = 3\nz = 3\n\n[n]\nq = 4\n"
    assert tomllib.loads(added)["n"] == {"q": 4}
    with pytest.raises(KeyError, match="t.y"):
        tomlwrite.replace_values(text, {"t.y": 1})


def test_engines_shows_each_profile_by_section() -> None:
    """`parity engines` lists every section in the files' order, each followed by its parameters under their file
    keys (times with their unit); `parity engines trt` shows TensorRT-LLM alone (its 60-step attention-DP hold under
    [scheduler.attention_dp_balance]); JSON carries the same values by section."""
    out = CliRunner().invoke(cli, ["engines"], env={"COLUMNS": "100"}).stdout
    lines = out.splitlines()
    starts = [lines.index(next(x for x in lines if x.startswith(f"[{s.name}]"))) for s in PROFILE_SECTIONS]
    assert starts == sorted(starts)
    kernels = lines[starts[0] + 1:starts[1]]
    assert [x.split()[0] for x in kernels] == [f.removesuffix("_s") for f in SECTION["kernels"].fields]
    assert "  kernel_overhead [us]" in out and "  step_overhead [ms]" in out
    one = CliRunner().invoke(cli, ["engines", "trt"], env={"COLUMNS": "100"}).stdout
    hold = one.splitlines()[one.splitlines().index(next(x for x in one.splitlines()
                                                        if x.startswith("[scheduler.attention_dp_balance]"))) + 1]
    assert hold.split() == ["attention_dp_hold_steps", "60"] and one.splitlines()[1].split() == ["parameter", "trtllm"]
    data = json.loads(CliRunner().invoke(cli, ["engines", "sglang", "--format", "json"]).stdout)
    assert len(data) == 1 and data[0]["sections"]["scheduler.prompt_admission"]["sim_max_prefill_tokens"] == 16384
    assert data[0]["sections"]["host"]["kernel_overhead_s"] == pytest.approx(catalog.engine("sglang").kernel_overhead_s)
