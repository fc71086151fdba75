"""Shared fixtures: a made-up chip with round numbers, so hand-derived times are exact; the
validation tier's targets, its serving errors and the simulator's predictions, computed once."""

import contextlib
import importlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from parity.hardware import Calibration, Chip, System
from parity.model import Attention, DenseMlp, Layer, Model

_HOME = pytest.StashKey[str]()
EXAMPLE_HOME = Path(__file__).parent.parent / "examples" / "parity-home"


def round_chip(**changes: object) -> Chip:
    """1 PFLOP/s bf16, 2 PFLOP/s fp8, 100 GB at 1 TB/s, 100 GB/s per direction of scale-up."""
    fields = dict(id="round", name="Round Chip", vendor="Test", status="shipping", year=2026, datacenter=True,
                  peak_flop_per_s={"bf16": 1e15, "fp8": 2e15}, native=frozenset({"bf16", "fp8"}),
                  memory_bytes=100e9, memory_bytes_per_s=1e12, scale_up_bytes_per_s=100e9,
                  scale_out_bytes_per_s=10e9, tdp_w=500.0)
    fields.update(changes)
    return Chip(**fields)  # type: ignore[arg-type]


def round_system(chip: Chip | None = None, chips: int = 8, domain: int = 8) -> System:
    return System(id="round-node", name="Round Node", status="shipping", chip=chip or round_chip(), chips=chips,
                  scale_up_domain_chips=domain, scale_up_topology="switch", scale_up_bytes_per_s=100e9,
                  scale_up_latency_s=0.0, scale_out_bytes_per_s=10e9, scale_out_latency_s=0.0, power_w=5000.0)


def perfect_calibration(**changes: object) -> Calibration:
    """Every efficiency 1 and no overheads: times are pure rooflines."""
    fields = dict(id="perfect", chip="round", date="2026-01-01", method="test", measured=True,
                  gemm_efficiency={"default": 1.0}, memory_efficiency=1.0, grouped_gemm_memory_efficiency=1.0,
                  attention_prefill_efficiency=1.0, attention_decode_efficiency=1.0, stream_efficiency=1.0,
                  kernel_overhead_s=0.0, emulation_efficiency=1.0, collective_efficiency=1.0)
    fields.update(changes)
    return Calibration(**fields)  # type: ignore[arg-type]


def tiny_model() -> Model:
    """One dense layer: h=1000, 10 heads of 100 (10 KV heads), gated MLP 4000, vocab 1000."""
    return Model(name="tiny", hidden_size=1000, vocab_size=1000,
                 layers=(Layer(attention=Attention(num_attention_heads=10, num_key_value_heads=10, head_dim=100),
                               mlp=DenseMlp(intermediate_size=4000)),))


@pytest.fixture
def chip() -> Chip:
    return round_chip()


@pytest.fixture
def system() -> System:
    return round_system()


@pytest.fixture
def calibration() -> Calibration:
    return perfect_calibration()


def pytest_configure(config: pytest.Config) -> None:
    """Keep the user's own calibrations (~/.parity) out of the tests, in a home removed when the run ends."""
    import tempfile

    config.stash[_HOME] = tempfile.mkdtemp(prefix="parity-home-")
    os.environ["PARITY_HOME"] = config.stash[_HOME]


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the run's home (each xdist worker made its own): a run left one behind in /tmp every time."""
    import shutil

    home = config.stash.get(_HOME, None)
    if home is not None:
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def targets() -> dict[str, Any]:
    """The validation tolerances, as stored next to the measurements (data/measurements/targets.toml)."""
    from parity import catalog

    return catalog.validation_targets()


@pytest.fixture(scope="session")
def serving_errors() -> list[Any]:
    """Predicted against measured on every serving measurement, computed once for the validation tier."""
    from parity import catalog
    from parity.predict import predict_rows
    from parity.validate import case_errors

    rows = catalog.measurements()
    return case_errors(rows, predict_rows(rows))


@pytest.fixture(scope="session")
def simulated_predictions() -> list[Any]:
    """The step-level simulator's predictions of every serving measurement, as `parity validate` makes them (two
    processes), computed once for the validation tier: the accuracy page and the serving targets score them."""
    from parity import catalog
    from parity.predict import predict_rows

    return predict_rows(catalog.measurements(), model_kind="sim", processes=2)


@pytest.fixture
def simulations_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Within one test, each refined configuration simulated once: refine_candidate memoised on its arguments
    wherever a command calls it (search, compare --refine, fleet under a percentile). Where a test runs two commands
    that probe the same configurations (fleet and compare, compare and search, two bounds) the second reads the
    first's runs; the simulator is deterministic (seeded draws), so every figure is the one a fresh run gives."""
    import inspect

    from parity.cli import percentile_choice, serve_line
    from parity.predict import refine

    real = refine.refine_candidate
    signature = inspect.signature(real)
    runs: dict[tuple[tuple[str, Any], ...], dict[str, object]] = {}

    def once(*args: Any, **kwargs: Any) -> dict[str, object]:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        # `systems` (what-if variants by name) is a dict of unhashable Systems: keyed by what it prints
        key = tuple((name, repr(value) if name == "systems" else value) for name, value in bound.arguments.items())
        if key not in runs:
            runs[key] = real(*args, **kwargs)
        return dict(runs[key])

    for module in (refine, percentile_choice, serve_line):  # serve_line re-runs compare's and fleet's rows
        monkeypatch.setattr(module, "refine_candidate", once)


_COMPARED: dict[str, Any] = {}  # compare's rows by system and settings, shared by the tests that ask (compared_once)


@contextlib.contextmanager
def compare_rows_once() -> Iterator[None]:
    """Within it, `compare` searches each system once a test session for given settings: its rows (frozen
    Comparisons, before ratios) are kept by the system's and the settings' repr, and a later compare of the same
    system and settings, in any command and output format, reads the row kept; the systems it has not seen are
    searched as before (on its processes). The search is deterministic, so every row is the one a fresh search gives.
    Only for tests that leave the catalog, the engines and PARITY_HOME as they are: the calibrations a row is
    priced with are not in its key."""
    module = importlib.import_module("parity.compare")  # the module: the package exports its function `compare`
    real = module.map_chunks

    def once(fn: Any, chunks: Any, processes: int = 1, *args: Any, progress: Any = None, **kwargs: Any) -> list[Any]:
        # compare passes its progress callback by keyword: the rows read back are reported to it as searched ones are
        if getattr(fn, "func", None) is not module._row or args or kwargs:
            return real(fn, chunks, processes, *args, progress=progress, **kwargs)
        settings = repr(sorted(fn.keywords.items()))
        keys = [repr(system) + settings for system in chunks]
        missing = {key: system for key, system in zip(keys, chunks) if key not in _COMPARED}
        _COMPARED.update(zip(missing, real(fn, list(missing.values()), processes)))
        rows = [_COMPARED[key] for key in keys]
        for row in rows if progress else ():
            progress(row)
        return rows

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(module, "map_chunks", once)
        yield


@pytest.fixture
def compared_once() -> Iterator[None]:
    """compare_rows_once for one test: a module whose commands compare the same systems again asks for it."""
    with compare_rows_once():
        yield


def clear_catalog_caches() -> None:
    """Forget the chips, systems and calibrations read so far, so that a changed PARITY_HOME is read anew."""
    from parity import catalog
    from parity.catalog.profiles import lending

    for cached in (catalog.chips, catalog.systems, catalog.calibrations, lending._calibration_of):
        cached.cache_clear()


def write_hopper_chip(home: Path, chip_id: str, bf16_tflops: float, name: str) -> None:
    """A Hopper chip of the user's, `chip_id`, with `bf16_tflops` of bf16 and twice that of fp8 and int8, 44 TFLOP/s
    of fp32, 141 GB at 4.8 TB/s (the testers' files), and an 8-chip node of it, '{chip_id}-node', at 5.824 kW."""
    rate, double = f"{bf16_tflops:g}", f"{2 * bf16_tflops:g}"
    (home / "chips" / f"{chip_id}.toml").write_text("\n".join([
        f'id = "{chip_id}"', f'name = "{name}"', 'vendor = "NVIDIA"', 'family = "hopper"', 'software_stack = "cuda"',
        'status = "shipping"', "", "[sources.s]", 'kind = "press"', 'title = "press"', "", "[peak]",
        'fp32 = { value = "44 TFLOP/s", source = "s" }', f'bf16 = {{ value = "{rate} TFLOP/s", source = "s" }}',
        f'fp8 = {{ value = "{double} TFLOP/s", source = "s" }}', f'int8 = {{ value = "{double} TOP/s", source = "s" }}',
        "", "[native]", 'value = ["fp32", "bf16", "fp16", "fp8", "int8"]', 'source = "s"', "", "[memory]",
        'capacity = { value = "141 GB", source = "s" }', 'bandwidth = { value = "4.8 TB/s", source = "s" }', "",
        "[interconnect]", 'scale_up = { value = "900 GB/s", direction = "bidirectional", source = "s" }',
        'scale_out = { value = "400 Gb/s", direction = "unidirectional", source = "s" }', "", "[power]",
        'tdp = { value = "400 W", source = "s" }', ""]))
    (home / "systems" / f"{chip_id}-node.toml").write_text("\n".join([
        f'id = "{chip_id}-node"', f'name = "{name} node"', f'chip = "{chip_id}"', "", "[sources.s]", 'kind = "press"',
        'title = "press"', "", "[structure]", 'chips = { value = 8, source = "s" }',
        'scale_up_domain_chips = { value = 8, source = "s" }', 'scale_up_topology = { value = "switch", source = "s" }',
        "", "[interconnect]", 'scale_up_latency = { value = "3 us", source = "s" }',
        'scale_out_latency = { value = "4 us", source = "s" }', "", "[power]",
        'system = { value = "5.824 kW", source = "s" }', ""]))


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A PARITY_HOME holding a copy of examples/parity-home (a chip nova-x1 and a 16-chip system nova-pod16)."""
    shutil.copytree(EXAMPLE_HOME, tmp_path, dirs_exist_ok=True)
    monkeypatch.setenv("PARITY_HOME", str(tmp_path))
    clear_catalog_caches()
    yield tmp_path
    clear_catalog_caches()
