"""The README stays true: its first lines, every command it shows, the output it pastes, its Python
example, and its accuracy table (the one docs/accuracy.md holds, which `parity validate --format md`
writes and a validation test keeps current)."""

import re
import shlex
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from parity.cli import cli
from parity.report.accuracy_page import SUMMARY_END, SUMMARY_START

pytestmark = pytest.mark.usefixtures("compared_once")  # its pasted comparisons are ones the tables' tests run
ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, re.S)


def _commands() -> list[list[str]]:
    """Every `parity ...` line of the README's bash blocks, and of its pasted outputs, as arguments."""
    lines = [line for block in _blocks("bash") for line in block.splitlines()]
    lines += [block.splitlines()[0].removeprefix("$ ") for block in _blocks("text")]
    commands = []
    for line in lines:
        for part in line.split("#")[0].split("&&"):
            words = shlex.split(part)
            if words and words[0] == "parity" and len(words) > 1:
                commands.append(words[1:])
    return commands


def test_first_lines_hold_the_two_commands() -> None:
    lines = _blocks("bash")[0].strip().splitlines()
    assert lines[0] == "pip install . && parity compare"
    assert lines[1] == "pip install '.[test]' && python -m pytest -n auto"
    ci = (ROOT / ".ci" / "run").read_text()
    assert lines[1] in ci, ".ci/run must run the README's test command"
    assert "python -m pytest -m validation" in ci and "python -m pytest -m e2e" in ci


def test_the_readme_is_a_guide_not_a_history() -> None:
    assert len(README.splitlines()) <= 200
    for page in ("docs/model.md", "docs/accuracy.md", "CHANGELOG.md"):
        assert f"]({page}" in README and (ROOT / page).is_file(), page


@pytest.mark.parametrize("args", _commands(), ids=lambda a: " ".join(a)[:60])
def test_every_command_in_the_readme_parses(args: list[str]) -> None:
    """Each command names a real subcommand and its options and values parse (nothing is run)."""
    command = cli.get_command(click.Context(cli, info_name="parity"), args[0])
    assert command is not None, f"no command {args[0]}"
    parent = click.Context(cli, info_name="parity")
    with parent:
        command.make_context(args[0], list(args[1:]), parent=parent)


def _numbers(text: str) -> list[str]:
    return re.findall(r"\d[\d,]*(?:\.\d+)?", text)


@pytest.mark.parametrize("block", _blocks("text"), ids=lambda b: b.splitlines()[0][2:60])
def test_pasted_output_is_what_the_command_prints(block: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every number in a pasted output appears in what the command prints now (at 250 columns), so the
    README's examples are real and current."""
    monkeypatch.chdir(ROOT)
    command, *shown = block.strip().splitlines()
    assert command.startswith("$ parity ")
    # a "# note" after the command is the README's word to its reader, as a shell reads it
    result = CliRunner().invoke(cli, shlex.split(command, comments=True)[2:], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    missing = [n for n in _numbers("\n".join(shown)) if n not in result.output]
    assert not missing, f"{command}: not in the output now: {missing}"
    # and each pasted line's words: a table row's in the output's row that starts as it does, in order (a pasted
    # table may leave columns out), a line of prose as it runs in the output, however wrapped; a word that changed
    # ('yes' -> 'n/a') is caught as a number is
    lines = [line.split() for line in result.output.splitlines()]
    prose = " ".join(result.output.split())
    for words in (line.split() for line in shown if line.strip()):
        assert " ".join(words) in prose or any(words[0] == out[0] and _in_order(words, out) for out in lines if out), \
            f"{command}: the pasted line {' '.join(words)!r} is not what it prints now"


def _in_order(words: list[str], line: list[str]) -> bool:
    """Whether `words` appear in `line`, in order (others may sit between them)."""
    rest = iter(line)
    return all(word in rest for word in words)


def test_accuracy_table_is_the_generated_one() -> None:
    page = (ROOT / "docs" / "accuracy.md").read_text(encoding="utf-8")

    def summary(text: str) -> str:
        return text[text.index(SUMMARY_START):text.index(SUMMARY_END) + len(SUMMARY_END)]

    assert summary(README) == summary(page), "copy the summary of docs/accuracy.md into the README"


def test_python_example_prints_what_its_comment_says(capsys: pytest.CaptureFixture[str]) -> None:
    """The example runs, and its print gives the list the comment after it states (it said [630, 636] long after
    the figures had moved to [717, 747]: twelfth fuzz round)."""
    (code,) = _blocks("python")
    stated = re.search(r"print\(.*\)\s*#\s*(\[[^\]]*\])", code)
    assert stated, "the example's print states what it prints in a comment"
    exec(compile(code, "README.md", "exec"), {})  # noqa: S102 - our own README
    assert capsys.readouterr().out.strip() == stated.group(1)

