"""Imports point down the layer order of STYLE.md only: a module may import lower layers, never higher."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "parity"

# lowest first; modules in one tuple are peers and may not import each other
LAYERS: list[tuple[str, ...]] = [
    ("errors",),
    ("units", "dtypes", "optimize", "tomlwrite", "parallel", "flags"),
    ("hardware", "model", "engine"),
    ("hf",),
    ("catalog",),
    ("ops", "placement"),
    ("graph",),
    ("plan",),
    ("memory",),
    ("cost",),
    ("step",),
    ("serving", "training", "phase", "simulate"),
    ("search", "uncertainty", "scenarios"),
    ("compare", "predict", "policy", "search_split"),
    ("sweep", "deployments", "fleet", "export"),  # fleet sizes each chip as compare runs it
    ("fleet_training",),  # training fleets, priced and powered as the serving fleet
    ("validate", "calibrate"),
    ("validate_training", "validate_percentiles", "validate_mlperf", "calibration_check", "crosscheck",
     "crossvendor"),  # built on validate's records, so just above it
    ("fit", "crossvendor_training", "derive_kernels"),  # every refit as records, written to the user's folder or one named
    ("report",),
    ("cli",),
    ("__main__",),  # `python -m parity`: the command line
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def _top(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "parity" and len(parts) > 1 else None


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            if node.module == "parity":
                found |= {f"parity.{a.name}" for a in node.names}
    return found


def _modules() -> list[Path]:
    return [p for p in SRC.rglob("*.py") if p.name != "__init__.py" or p.parent != SRC]


def test_every_module_has_a_layer() -> None:
    missing = {str(p.relative_to(SRC)) for p in _modules() if p.relative_to(SRC).parts[0].removesuffix(".py")
               not in RANK}
    assert not missing, f"modules without a layer in tests/test_layering.py: {sorted(missing)}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_point_down(path: Path) -> None:
    me = path.relative_to(SRC).parts[0].removesuffix(".py")
    for module in _imports(path):
        other = _top(module)
        if other is None or other == me:
            continue
        assert other in RANK, f"{path.name} imports unknown parity module {module}"
        assert RANK[other] < RANK[me], f"{me} (layer {RANK[me]}) imports {other} (layer {RANK[other]}): upward or sideways"


def test_engine_never_reads_files_or_prints() -> None:
    """ops through search take objects and return objects: no open(), print(), os.environ or time."""
    engine = {name for layer in LAYERS[5:13] for name in layer}
    for path in _modules():
        if path.relative_to(SRC).parts[0].removesuffix(".py") not in engine:
            continue
        text = path.read_text()
        for banned in ("open(", "print(", "os.environ", "time.time", "datetime.now", "read_text("):
            assert banned not in text, f"{path.name} uses {banned}"
