"""The Python API refuses what its commands refuse, in one line (InputError, a ParityError and a ValueError), and
defaults as its commands do: fleet sizes, serving lengths and targets, MTP drafts, processes, what-if fields."""

from __future__ import annotations

import math

import pytest

import parity
from parity import catalog
from parity.cli.values import DEFAULT_TTFT
from parity.errors import InputError, ParityError, PolicyError
from parity.fleet import plan_fleet
from parity.policy import at_threshold
from parity.serving import Workload

LLAMA, H20 = catalog.model("llama-3.1-70b"), catalog.system("hgx-h20")


@pytest.mark.parametrize(("changes", "says"), [
    ({"units": -5}, "units must be a whole number of chips in [1, 10,000,000], or None, got -5"),
    ({"units": 0}, "units must be a whole number of chips in [1, 10,000,000], or None, got 0"),
    ({"units": 7.5}, "units must be a whole number of chips in [1, 10,000,000], or None, got 7.5"),
    ({"power_budget_w": -1e6}, "power_budget_w must be a finite number > 0, or None, got -1000000.0"),
    ({"demand": -1e6}, "demand_tokens_per_s must be a finite number > 0, or None, got -1000000.0"),
    ({"demand": math.nan}, "demand_tokens_per_s must be a finite number > 0, or None, got nan"),
    ({"demand": math.inf}, "demand_tokens_per_s must be a finite number > 0, or None, got inf"),
    ({"demand": 1e6, "peak_factor": math.nan}, "peak_factor must be a finite number >= 1, got nan"),
    ({"demand": 1e6, "mtp_tokens": 99}, "mtp_tokens must be a whole number of draft tokens in [0, 8], got 99"),
    ({"demand": 1e6, "processes": 0}, "processes must be a whole number >= 1, got 0"),
])
def test_plan_fleet_refuses_sizes_no_fleet_means(changes: dict[str, float], says: str) -> None:
    """units=-5 planned -5 chips drawing -3,640 W ('3 chips past -1 whole hgx-h20 serve nothing'), a demand of NaN
    raised 'cannot convert float NaN to integer', one of -1e6 sized 8 chips 'serving <0.1% of the demand'."""
    demand = changes.pop("demand", None)
    with pytest.raises(InputError) as err:
        plan_fleet(LLAMA, [H20], catalog.engine("generic"), demand, 0.05, 1024, 1024, **changes)
    assert str(err.value) == says


@pytest.mark.parametrize(("changes", "says"), [
    ({"isl": 0}, "isl must be a whole number of tokens >= 1, got 0"),
    ({"isl": -5}, "isl must be a whole number of tokens >= 1, got -5"),
    ({"osl": 0}, "osl must be a whole number of tokens >= 1, got 0"),
    ({"tpot_s": math.nan}, "tpot_s must be a finite duration > 0 [s], or None for no target, got nan"),
    ({"tpot_s": 0}, "tpot_s must be a finite duration > 0 [s], or None for no target, got 0"),
    ({"tpot_s": -0.05}, "tpot_s must be a finite duration > 0 [s], or None for no target, got -0.05"),
    ({"ttft_s": -1.0}, "ttft_s must be a finite duration > 0 [s], or None for no target, got -1.0"),
    ({"mtp_tokens": -1}, "mtp_tokens must be a whole number of draft tokens in [0, 8], got -1"),
    ({"processes": -1}, "processes must be a whole number >= 1, got -1"),
])
def test_compare_refuses_lengths_targets_and_counts_in_one_line(changes: dict[str, float], says: str) -> None:
    """isl=0 raised a ValueError whose message was a numpy array over lines; tpot_s=NaN gave 'the TPOT (nan h) and
    TTFT (inf h) targets bind together'; mtp_tokens=-1 'does not fit by 1.9 GB per chip'; processes=0 ran."""
    with pytest.raises(InputError) as err:
        parity.compare([H20], catalog.model("deepseek-r1"), catalog.engine("generic"), **changes)
    assert str(err.value) == says and "\n" not in says


def test_a_workload_of_arrays_names_its_lowest_length_on_one_line() -> None:
    with pytest.raises(InputError, match=r"^isl must be >= 1, got -5 \(the lowest of an array\)$"):
        Workload(isl=[8.0, -5.0, 0.0], osl=1.0, concurrency=1.0)


@pytest.mark.parametrize(("item", "changes", "says"), [
    ("h20", {"memory_bytes_per_s": -1}, "chip nvidia-h20: memory_bytes_per_s must be positive, got -1"),
    ("h20", {"memory_bytes_per_s": "fast"},
     "what_if chip nvidia-h20: memory_bytes_per_s must be a number (SI units), got 'fast'"),
    ("h20", {"memory_bytes_per_s": math.inf}, "what_if chip nvidia-h20: memory_bytes_per_s must be a finite number, "
                                              "got inf"),
    ("hgx-h20", {"chips": 7.5}, "what_if system hgx-h20: chips must be a whole number, got 7.5"),
])
def test_what_if_refuses_values_no_record_holds(item: str, changes: dict[str, object], says: str) -> None:
    """A negative rate raised a plain ValueError, a string a TypeError ('>' not supported), and an infinite
    bandwidth or 7.5 chips a system were accepted."""
    base = catalog.chip(item) if item == "h20" else catalog.system(item)
    with pytest.raises(InputError) as err:
        parity.what_if(base, "x", **changes)
    assert str(err.value) == says


def test_what_if_names_the_field_meant() -> None:
    """'Chip.__init__() got an unexpected keyword argument' became the nearest field and every one."""
    with pytest.raises(InputError) as err:
        parity.what_if(catalog.chip("h20"), "x", memory_gb=96)
    assert str(err.value).startswith("what_if chip nvidia-h20: no field 'memory_gb' (did you mean memory_bytes? "
                                     "fields: id, name, vendor, ")
    assert str(err.value).endswith("aliases, notes; SI units)")


def test_at_threshold_refuses_a_margin_that_is_not_a_number() -> None:
    with pytest.raises(PolicyError, match=r"^tpp_margin must be a finite number >= 0, got nan$"):
        at_threshold(catalog.chip("h100"), tpp_margin=math.nan)


def test_compare_defaults_to_the_commands_targets() -> None:
    """compare's TTFT target is `parity compare`'s (5 s), from one constant; without one it ranked layouts that made
    users wait 20 s, which the command never shows."""
    assert DEFAULT_TTFT == "5s"
    (row,) = parity.compare([catalog.system("hgx-h200")], catalog.model("llama-3.1-8b"), catalog.engine("generic"))
    assert "workload 1024 in / 1024 out; mean targets TPOT 50 ms, TTFT 5 s" in row.assumptions
    assert issubclass(InputError, ParityError) and issubclass(InputError, ValueError)


@pytest.mark.e2e
def test_compare_on_deepseek_r1_gives_the_commands_figure() -> None:
    """`parity compare hgx-h200 --model deepseek-r1` gives 3,244 tok/s/chip (MTP 1, the model's default, at a 5 s
    TTFT target); the API gave 3,167 with no MTP and no TTFT target."""
    (row,) = parity.compare([catalog.system("hgx-h200")], catalog.model("deepseek-r1"), catalog.engine("generic"))
    assert round(row.tokens_per_s_per_chip) == 3244


@pytest.mark.parametrize(("extra", "says"), [
    ({"modes": ("foo",)}, "modes must name agg, disagg or both, got ('foo',)"),
    ({"modes": ()}, "modes must name agg, disagg or both, got ()"),
    ({"chips": 0}, "chips must be a whole number >= 1, or None, got 0"),
    ({"max_chips": -4}, "max_chips must be a whole number >= 1, or None, got -4"),
    ({"pipeline": (0,)}, "pipeline must be whole degrees >= 1, got (0,)"),
    ({"concurrency": (float("nan"),)}, "concurrency must be finite loads >= 1, got (nan,)"),
    ({"mtp": 1}, "mtp must be (draft tokens, accepted a step), got 1")])
def test_search_serving_refuses_arguments_no_search_means(extra: dict, says: str) -> None:
    """modes=('foo',) ran as disaggregated; modes=() and pipeline=(0,) raised numpy and ZeroDivisionError; chips=0 read
    as no limit; a NaN load gave no best and no error."""
    from parity import catalog
    from parity.errors import InputError
    from parity.search import best_precision, search_serving

    model, system = catalog.model("llama-3.1-8b"), catalog.system("hgx-h100")
    with pytest.raises(InputError) as raised:
        search_serving(model, system, catalog.engine("generic"), catalog.calibration(system.chip),
                       best_precision(model, system.chip), 1024, 1024, **extra)
    assert str(raised.value) == says


ENGINE = catalog.engine("generic")


@pytest.mark.parametrize(("call", "says"), [
    (lambda: parity.compare(["hgx-h20"], LLAMA, ENGINE),
     "each of systems must be a System (catalog.system(name)), got str 'hgx-h20'"),
    (lambda: parity.compare(H20, LLAMA, ENGINE),
     "systems must be a non-empty list of System records (catalog.system(name) each), got one System, 'hgx-h20'"),
    (lambda: parity.compare([], LLAMA, ENGINE),
     "systems must be a non-empty list of System records (catalog.system(name) each), got []"),
    (lambda: parity.compare([H20], "llama-3.1-70b", ENGINE),
     "model must be a Model (catalog.model(name)), got str 'llama-3.1-70b'"),
    (lambda: parity.compare([H20], LLAMA, "vllm"),
     "profile must be an EngineProfile (catalog.engine(name)), got str 'vllm'"),
    (lambda: parity.compare([H20], LLAMA, ENGINE, baseline="hgx-h200"),
     "baseline must be a System (catalog.system(name), or None for the first system), got str 'hgx-h200'"),
    (lambda: plan_fleet(LLAMA, [], ENGINE, 1e6, 0.05, 1024, 1024),
     "systems must be a non-empty list of System records (catalog.system(name) each), got []"),
])
def test_records_given_by_name_are_refused(call, says: str) -> None:
    """A system's name where its System goes raised AttributeError ("'str' object has no attribute 'id'"), and
    plan_fleet with no systems returned [] where compare refused."""
    with pytest.raises(InputError) as err:
        call()
    assert str(err.value) == says


def test_serving_functions_refuse_names_and_take_the_engines_worker() -> None:
    """serve_aggregated(dep, "vllm", wl) raised AttributeError ("'str' object has no attribute 'kv_on_demand'"); and
    the README's path to serve's steady figures (parity.engine_deployment) was not exported: a bare Deployment gave
    TPOT 22.5 ms where `parity serve --model-kind steady` gives 19.8 ms (Llama-3.1-70B, H100 TP 8, vLLM, 64 clients)."""
    from parity.plan import Layout, Precision
    system, engine = catalog.system("hgx-h100"), catalog.engine("vllm")
    worker = parity.engine_deployment(LLAMA, system, Layout(tp=8), Precision(), catalog.calibration(system.chip),
                                      engine)
    load = parity.Workload(isl=1024, osl=1024, concurrency=64)
    with pytest.raises(InputError) as err:
        parity.serve_aggregated(worker, "vllm", load)
    assert str(err.value) == "profile must be an EngineProfile (catalog.engine(name)), got str 'vllm'"
    with pytest.raises(InputError) as err:
        parity.serve_disaggregated(worker, None, engine, load)
    assert str(err.value) == ("decode must be a Deployment (serving.engine_deployment(...), as `parity serve` builds "
                              "a worker), got NoneType None")
    bare = parity.Deployment(model=LLAMA, system=system, layout=Layout(tp=8), precision=Precision(),
                             calibration=catalog.calibration(system.chip))
    engined, plain = (float(parity.serve_aggregated(d, engine, load).tpot_s) for d in (worker, bare))
    assert engined == pytest.approx(0.01979, abs=5e-5) and plain > engined * 1.1
