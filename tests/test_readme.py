"""The README's first lines and its Python example stay true."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_first_lines_hold_the_two_commands() -> None:
    block = re.search(r"```bash\n(.*?)```", README.read_text(), re.S)
    assert block is not None
    lines = block.group(1).strip().splitlines()
    assert lines[0] == "pip install . && parity compare"
    assert lines[1].startswith("pip install '.[test]' && ")
    ci = (README.parent / ".ci" / "run").read_text()
    assert lines[1] in ci, ".ci/run must run the README's test command"


def test_python_example_runs() -> None:
    code = re.search(r"```python\n(.*?)```", README.read_text(), re.S)
    assert code is not None
    exec(compile(code.group(1), "README.md", "exec"), {})  # noqa: S102 - our own README
