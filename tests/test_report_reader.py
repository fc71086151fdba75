"""What a reader of the report's page takes from it: when a chip counts as calibrated, what a formats table's flags
mean, a timeline count over the interval it describes, curves told apart by more than colour, tables with captions and
row headers, and which parity wrote the page (report-only tester fuzzEU 1-7)."""

import html
import math
from pathlib import Path

import pytest
from matplotlib.cbook import STEP_LOOKUP_MAP

from parity import catalog
from parity.compare import Comparison
from parity.report import plots
from parity.report.html import _without_power
from parity.report.markup import table
from parity.report.notes import CALIBRATED_RULE, assumptions_html, group_assumptions, legend
from parity.report.version import source_commit, version_text
from parity.uncertainty import calibrated_text, calibration_kind, chip_calibrated


def _row(system: str, note: str = "") -> Comparison:
    """A served comparison row of `system` against hgx-h20 with `note`, no interval."""
    return Comparison(system=system, chip=catalog.system(system).chip.id, model="deepseek-r1", workload="serve",
                      weights="fp8", kv_cache="bf16", mode="agg", layout="-", chips=8, fits=True,
                      tokens_per_s_per_chip=1.0, prefill_tokens_per_s_per_chip=1.0, tokens_per_s_per_system=1.0,
                      tokens_per_s_per_kw=1.0, tokens_per_s_per_gb=1.0, flags=(), note=note, baseline="hgx-h20",
                      ratio_interval=(math.nan, math.nan),
                      ratios=dict.fromkeys(("per_chip", "per_system", "per_kw", "per_gb"), 1.0))


@pytest.mark.parametrize(("chip", "kind", "said"), [
    ("nvidia-h100-sxm", "serving", "calibrated: parity's serving runs on it fitted the engine profiles, though its "
                                   "kernel figures are inherited"),
    ("nvidia-h800-sxm", "none", "uncalibrated: no kernel figure measured on it, and no serving run on it fitted by "
                                "parity (its predictions are flagged 'uncalibrated')"),
    ("nvidia-h200-sxm", "kernels", "calibrated: kernel figures measured on it (nvidia-h200-sxm-measured)"),
])
def test_each_chip_says_which_half_of_the_calibrated_rule_holds(chip: str, kind: str, said: str) -> None:
    """hgx-h100 and hgx-h800 had word for word the same calibration text (inherited from nvidia-h200-sxm), yet only
    the H800 was flagged 'uncalibrated': the H100's serving runs fitted the engine profiles, which the page never
    said. Its line now says why it counts as calibrated, as chip_calibrated decides it."""
    found = catalog.chip(chip)
    cal = catalog.calibration(found)
    assert (calibration_kind(found, cal), calibrated_text(found, cal)) == (kind, said)
    assert chip_calibrated(found, cal) == (kind != "none")


def test_the_legend_and_each_systems_line_state_the_rule() -> None:
    """The legend defined 'uncalibrated' as 'no measured calibration of the chip itself; it inherits its family's',
    which fits the (calibrated) H100 too: it now states the rule, and names the rows calibrated by their serving runs
    alone. Each system's line under Assumptions says which half holds, before its kernel figures."""
    systems = {s: catalog.system(s) for s in ("hgx-h20", "hgx-h800", "hgx-h100")}
    rows = [_row("hgx-h20"), _row("hgx-h800", "uncalibrated (inherits h200-sxm)"), _row("hgx-h100")]
    said = legend(rows, systems)
    assert ("'uncalibrated': nothing measured on the chip fits its predictions. A chip counts as calibrated where "
            "kernel figures were measured on it (timed by parity or published: its 'calibration:' assumption names "
            "them) or where parity's serving runs on it fitted the engine profiles; else its predictions are flagged "
            "'uncalibrated', and it inherits its family's calibration ('inherits X') or runs on the derived prior "
            "(parity show CHIP). hgx-h100 counts as calibrated by the second: parity's serving runs on its chip "
            "fitted the engine profiles, though its kernel figures are another chip's") in said
    # a table of calibrated chips alone, none by its serving runs: no word of it
    assert "calibrated" not in legend([_row("hgx-h20"), _row("hgx-h200")],
                                      {s: catalog.system(s) for s in ("hgx-h20", "hgx-h200")})
    kernels = "kernel figures: inherited: from nvidia-h200-sxm (...)"
    grouped = group_assumptions({"nodes": [(s, ("every row", f"calibration: {s}'s", f"{kernels} {s}"))
                                           for s in ("hgx-h800", "hgx-h100")]})
    page = html.unescape(assumptions_html(grouped, {"nodes": "Nodes"}, {}, list(systems.values()), "engine"))
    assert CALIBRATED_RULE in page
    assert ("<li><b>hgx-h100</b>: calibration: hgx-h100's; calibrated: parity's serving runs on it fitted the engine "
            f"profiles, though its kernel figures are inherited; {kernels} hgx-h100; calibration "
            "nvidia-h200-sxm-measured of ") in page
    assert ("<li><b>hgx-h800</b>: calibration: hgx-h800's; uncalibrated: no kernel figure measured on it, and no "
            f"serving run on it fitted by parity (its predictions are flagged 'uncalibrated'); {kernels} hgx-h800; "
            "calibration nvidia-h200-sxm-measured") in page


def test_the_formats_legend_says_what_an_emulation_rate_is_and_drops_power() -> None:
    """The formats table's notes said 'emulation rate assumed (0.8)' and 'power assumed', neither explained, on a
    table with no per-kW figure: the 0.8 is now said (the calibration's emulation efficiency, as `parity formats`
    says it), and 'power assumed' leaves that table's notes, which no figure of it rests on."""
    systems = {s: catalog.system(s) for s in ("hgx-h20", "atlas-800-a3")}
    rows = [_row("hgx-h20", "fp8 GEMM rate not measured; emulation rate assumed (0.8); power assumed"),
            _row("atlas-800-a3", "emulation rate assumed (0.8); spans 4 systems (386/chip on one)")]
    said = legend(rows, systems, ratios=False)
    assert ("'emulation rate assumed (0.8)': the chip has no unit for the format, so its weights are dequantised and "
            "multiplied on a wider unit ('emulated on X') at 0.8 of that unit's rate: the calibration's emulation "
            "efficiency, an assumption no measurement checks.") in said
    assert "power assumed" not in said
    assert "'power assumed'" in legend(rows, systems)  # a comparison's table has per-kW figures: said there
    assert _without_power("fp8 GEMM rate not measured; power assumed; spans 2 systems") == (
        "fp8 GEMM rate not measured; spans 2 systems")
    assert _without_power("power assumed") == ""


# the rows of `parity serve --model llama-3.1-70b --system hgx-h200 --tp 4 --weights bf16 --kv bf16 --concurrency 256
# --random-range-ratio 0.8 --sim --timeline tl.csv` around its last prompt step: written at 15.31 s (4 prompts took a
# chunk in that step), then none until 35.80 s (a stretch of decode steps, no prompt)
TIMELINE = [(14.5725, 11, 10, 244, 0.2154), (15.0946, 3, 9, 252, 0.2224), (15.3079, 0, 4, 256, 0.2251),
            (35.8003, 0, 0, 255, 0.4135), (35.8278, 1, 0, 253, 0.4106), (35.9082, 2, 1, 254, 0.4116)]


def _shown(line: object, time_s: float) -> float:
    """The value a step line draws at `time_s` (inside a flat stretch): its vertices as matplotlib draws them."""
    xs, ys = STEP_LOOKUP_MAP[line.get_drawstyle()](line.get_xdata(), line.get_ydata())  # type: ignore[attr-defined]
    return next(y for x0, x1, y, y1 in zip(xs, xs[1:], ys, ys[1:]) if x0 < time_s < x1 and y == y1)


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list:
    """The figures the plot functions would save, kept open for inspection."""
    figures: list = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: figures.append(fig))
    yield figures
    for fig in figures:
        plots.plt.close(fig)


def test_the_timeline_draws_each_count_over_the_interval_it_describes(drawn: list, tmp_path: Path) -> None:
    """The row at 15.31 s says 4 prompts took a chunk in the step ending then; the next, at 35.80 s, that none did
    in the 20 s of decode steps before it. Drawn held forward (where='post'), the plot showed 4 prompts prefilling for
    those 20 s: prefilling now holds over the interval before its row, queued and decoding (the state a step leaves)
    after it."""
    records = [{"time_s": t, "queued": q, "prefilling": p, "running": n, "kv_used_fraction": u}
               for t, q, p, n, u in TIMELINE]
    plots.timeline_png(records, tmp_path / "t.png", "a run")
    (fig,) = drawn
    queued, prefilling, decoding = fig.axes[0].lines
    assert _shown(prefilling, 25.0) == 0.0 and _shown(prefilling, 15.2) == 4.0 and _shown(prefilling, 14.8) == 9.0
    assert _shown(prefilling, 35.81) == 0.0 and _shown(prefilling, 35.85) == 1.0
    assert _shown(prefilling, 1.0) == 10.0  # the first row's count holds from the run's start
    assert _shown(decoding, 25.0) == 256.0 and _shown(queued, 15.2) == 3.0
    assert len({(line.get_linestyle(), line.get_color()) for line in fig.axes[0].lines + fig.axes[1].lines}) == 4


def test_curves_differ_in_line_style_and_marker_not_colour_alone(drawn: list, tmp_path: Path) -> None:
    """The roofline's six chips (and the frontier's systems) differed by colour only."""
    chips = [catalog.chip(c) for c in ("nvidia-h20", "nvidia-h200-sxm", "nvidia-b200-sxm", "huawei-ascend-910b",
                                       "huawei-ascend-910c", "amd-mi300x")]
    plots.roofline_png(chips, tmp_path / "r.png")
    plots.frontier_png({f"s{i}": [(10.0, 100.0 - i), (50.0, 50.0 - i)] for i in range(5)}, tmp_path / "f.png", "f")
    roofline, frontier = drawn
    rooflines = [line for line in roofline.axes[0].lines if len(line.get_xdata()) > 1 and line.get_label()[0] != "_"]
    assert len(rooflines) == 6 and len({(line.get_linestyle(), line.get_marker()) for line in rooflines}) == 6
    curves = [line for line in frontier.axes[0].lines if line.get_label().startswith("s")]
    assert len({(line.get_linestyle(), line.get_marker()) for line in curves}) == 5


def test_a_table_has_a_caption_column_scopes_and_row_headers() -> None:
    """Tables lacked <caption> and scope, and a row's system name was a <td>; a stacked table's cells carry their
    column's name (read above each cell where the row is laid out as a block) and an empty note is marked so."""
    page = table(["system", "out tok/s/chip", "note"], [["<b>a</b>", "1", "&nbsp;"], ["<b>b</b>", "2", "x"]],
                 "numbers", "Throughput of a and b", "stack-wide", notes=2)
    assert "<caption class='hidden'>Throughput of a and b</caption>" in page
    assert "<th scope='col' role='columnheader'>out tok/<wbr>s/<wbr>chip</th>" in page
    assert ("<tr role='row'><th scope='row' role='rowheader'><b>a</b></th><td data-label='out tok/s/chip' "
            "role='cell'>1</td><td class='notes empty' data-label='note' role='cell'>&nbsp;</td></tr>") in page
    assert "<td class='notes' data-label='note' role='cell'>x</td>" in page
    plain = table(["figure", "value"], [["a", "1"]])
    assert plain == ('<div class="wide"><table class=""><thead><tr><th scope=\'col\'>figure</th><th scope=\'col\'>'
                     "value</th></tr></thead><tbody><tr><th scope='row'>a</th><td>1</td></tr></tbody></table></div>")


def _git(folder: Path, head: str, refs: dict[str, str] | None = None, packed: str = "") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "HEAD").write_text(head + "\n")
    for name, commit in (refs or {}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(commit + "\n")
    if packed:
        (folder / "packed-refs").write_text(packed)


COMMIT = "ff82dd993ca79a87b2e4c56f3229668209e67a75"


def test_the_commit_is_read_from_the_checkouts_files(tmp_path: Path) -> None:
    """The page records parity's version beside the date, and the commit of its source tree where it runs from a
    git checkout, read without the git program: a branch's loose ref, a packed one, a detached HEAD, a worktree's
    '.git' file; none where there is no checkout or HEAD names nothing."""
    loose, packed, detached, tree, none = (tmp_path / n for n in ("loose", "packed", "detached", "tree", "none"))
    _git(loose / ".git", "ref: refs/heads/main", {"refs/heads/main": COMMIT})
    _git(packed / ".git", "ref: refs/heads/main", packed=f"# pack-refs with: peeled\n{COMMIT} refs/heads/main\n")
    _git(detached / ".git", COMMIT)
    _git(tmp_path / "repo" / ".git", "ref: refs/heads/main", {"refs/heads/fixeu": COMMIT})
    _git(tmp_path / "repo" / ".git" / "worktrees" / "tree", "ref: refs/heads/fixeu")
    (tmp_path / "repo" / ".git" / "worktrees" / "tree" / "commondir").write_text("../..\n")
    tree.mkdir()
    (tree / ".git").write_text(f"gitdir: {tmp_path / 'repo' / '.git' / 'worktrees' / 'tree'}\n")
    _git(none / ".git", "ref: refs/heads/gone")
    assert [source_commit(p) for p in (loose, packed, detached, tree)] == [COMMIT] * 4
    assert source_commit(none) is None and source_commit(tmp_path) is None
    import parity
    assert version_text(tmp_path) == f"parity {parity.__version__}"  # not a checkout: the version alone
    (loose / "src" / "parity").mkdir(parents=True)
    assert version_text(loose) == f"parity {parity.__version__} (commit ff82dd993ca7)"


def test_the_command_tells_its_bar_each_stage_and_the_stages_done(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The bar moved on before each stage's work (10% while the first computed, 'Accuracy 100%' for its 9 s): the
    report tells it the stage under way with the number done, which the command shows as they come."""
    from click.testing import CliRunner

    from parity.cli import cli
    from parity.report.html import STAGES
    from parity.report.page import GENERATOR

    told: list[tuple[str, int]] = []

    def build(folder: Path, _spec: object, progress) -> None:  # type: ignore[no-untyped-def]
        for done, stage in enumerate(STAGES):
            progress(stage, done)
            told.append((stage, done))
        progress("written", len(STAGES))
        (folder / "index.html").write_text(f"<html><head>{GENERATOR}</head></html>")

    monkeypatch.setattr("parity.report.html.build_report", build)
    result = CliRunner().invoke(cli, ["report", "--out", str(tmp_path / "rep")])
    assert result.exit_code == 0, result.output
    assert told[0] == ("CloudMatrix 384 vs GB200 NVL72", 0) and told[-1] == ("Accuracy", 9) and len(STAGES) == 10
