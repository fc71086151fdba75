"""The report's plots are readable: no legend over the data, thousands separated on the axes."""

from pathlib import Path

import pytest

from parity.report import plots


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list:
    """The figures the plot functions would save, drawn and kept open for inspection."""
    figures: list = []

    def keep(fig, path: Path) -> None:
        fig.canvas.draw()
        figures.append(fig)

    monkeypatch.setattr(plots, "_save", keep)
    yield figures
    for fig in figures:
        plots.plt.close(fig)


def test_the_timeline_legend_sits_outside_the_axes(drawn: list, tmp_path: Path) -> None:
    """A full decode batch runs along the top of the plot and drains at the right, so the legend goes
    below the axes: its box and the axes' box do not overlap."""
    records = [{"time_s": t, "queued": max(0, 250 - 25 * t), "prefilling": 1, "running": min(256, 30 * t),
                "kv_used_fraction": min(0.4, 0.02 * t)} for t in range(60)]
    plots.timeline_png(records, tmp_path / "t.png", "a run")
    (fig,) = drawn
    ax = fig.axes[0]
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["queued", "prefilling", "decoding", "KV cache used"]
    renderer = fig.canvas.get_renderer()
    box, area = legend.get_window_extent(renderer), ax.get_window_extent(renderer)
    assert not box.overlaps(area), (box, area)
    assert box.y1 < area.y0  # below it


def test_the_frontier_axis_separates_thousands(drawn: list, tmp_path: Path) -> None:
    plots.frontier_png({"a (fp8)": [(10.0, 12_000.0), (50.0, 4_000.0), (100.0, 500.0)]}, tmp_path / "f.png",
                       "frontier", 0.05)
    (fig,) = drawn
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert "12,000" in labels and "10000" not in labels


def test_the_frontier_target_label_sits_above_the_curves(drawn: list, tmp_path: Path) -> None:
    """The TPOT target's label goes above the axes: inside, it lay on the fastest curves' first points."""
    plots.frontier_png({"a (fp8)": [(12.0, 12_100.0), (20.0, 12_000.0), (100.0, 500.0)]}, tmp_path / "f.png",
                       "frontier", 0.05)
    (fig,) = drawn
    ax = fig.axes[0]
    (label,) = [t for t in ax.texts if t.get_text() == "TPOT 50 ms"]
    renderer = fig.canvas.get_renderer()
    assert label.get_window_extent(renderer).y0 >= ax.get_window_extent(renderer).y1 - 1


def test_the_frontier_rings_a_table_figure_in_its_curve_colour(drawn: list, tmp_path: Path) -> None:
    """Each table's figure is ringed on its curve, so a reader finds the number the tables give."""
    plots.frontier_png({"a (fp8)": [(10.0, 12_000.0), (20.0, 9_000.0), (100.0, 500.0)], "b (int8)": [(10.0, 900.0)]},
                       tmp_path / "f.png", "frontier", 0.05, {"a (fp8)": (20.0, 9_000.0), "b (int8)": None})
    (fig,) = drawn
    curve, ring = fig.axes[0].lines[0], fig.axes[0].lines[1]
    assert list(ring.get_xdata()) == [20.0] and list(ring.get_ydata()) == [9_000.0]
    assert ring.get_color() == curve.get_color() and ring.get_markerfacecolor() == "none"
    assert len(fig.axes[0].lines) == 4  # two curves, one ring, the TPOT line: no ring where no figure is given
