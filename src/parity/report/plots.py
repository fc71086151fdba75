"""PNG plots a person opens: Pareto frontiers of throughput against interactivity, rooflines, and a simulated
serving run over time (queues and KV use)."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import StrMethodFormatter  # noqa: E402

from parity.hardware import Chip  # noqa: E402
from parity.report.tables import write_atomic  # noqa: E402

__all__ = ["LOOKS", "frontier_png", "roofline_png", "timeline_png"]

# each curve's line style and marker beside its colour, so that curves differ in more than colour (a reader who does
# not tell the colours apart, a grey print): the n-th curve takes the n-th, and past the last they come round again
LOOKS = (("-", "o"), ("--", "s"), ("-.", "^"), (":", "D"), ((0, (5, 1, 1, 1, 1, 1)), "v"), ((0, (1, 3)), "P"),
         ((0, (8, 2)), "X"))


def _save(fig: plt.Figure, path: Path) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=130, bbox_inches="tight")  # tight: a legend below the axes is kept
    plt.close(fig)
    write_atomic(path, buffer.getvalue())


def frontier_png(curves: Mapping[str, Sequence[tuple[float, float]]], path: Path, title: str,
                 tpot_target_s: float | None = None,
                 marks: Mapping[str, tuple[float, float] | None] | None = None) -> None:
    """Throughput per chip against tokens/s per user, one Pareto curve per label; `marks`: a point per label (the
    figure a table gives), ringed on its curve in the curve's colour."""
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for n, (label, points) in enumerate(curves.items()):
        if not points:
            continue
        user, chip = zip(*sorted(points))
        style, marker = LOOKS[n % len(LOOKS)]
        (line,) = ax.plot(user, chip, linestyle=style, marker=marker, markersize=3.5, linewidth=1.6, label=label)
        if mark := (marks or {}).get(label):
            ax.plot(*mark, marker="o", markersize=10, markerfacecolor="none", markeredgewidth=1.6,
                    color=line.get_color(), linestyle="none")
    if tpot_target_s:
        ax.axvline(1.0 / tpot_target_s, color="grey", linestyle="--", linewidth=1)
        # above the axes (x in data, y in axes fraction): inside, the label would sit on the fastest curves
        ax.annotate(f"TPOT {tpot_target_s * 1e3:g} ms", (1.0 / tpot_target_s, 1.0), xycoords=ax.get_xaxis_transform(),
                    fontsize=8, color="grey", ha="center", va="bottom")
    ax.set_xlabel("output tokens/s per user (1 / TPOT)")
    ax.set_ylabel("output tokens/s per chip")
    ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))  # 12,000 rather than 12000
    ax.set_title(title, fontsize=11, pad=14)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    _save(fig, path)


def roofline_png(chips: Sequence[Chip], path: Path, math: str = "bf16", efficiency: float = 1.0) -> None:
    """Attainable FLOP/s against arithmetic intensity (FLOP per byte of memory traffic) per chip."""
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    intensity = np.logspace(-1, 4, 200)
    for n, chip in enumerate(chips):
        peak = chip.peak(math) or max(chip.peak_flop_per_s.values())
        attainable = np.minimum(peak, intensity * chip.memory_bytes_per_s) * efficiency
        style, marker = LOOKS[n % len(LOOKS)]
        # markers every 20 of the 200 points, shifted per chip so that lines on top of each other show each one's
        (line,) = ax.loglog(intensity, attainable / 1e12, linestyle=style, marker=marker, markersize=4,
                            markevery=(2 * n % 20, 20), linewidth=1.5, label=f"{chip.name}")
        # the ridge point, where memory-bound turns compute-bound, in the line's colour and marker
        ax.plot([peak / chip.memory_bytes_per_s], [peak / 1e12 * efficiency], marker=marker, markersize=7,
                color=line.get_color(), linestyle="none")
    for x, label in ((1.0, "decode GEMV"), (128.0, "batch 128"), (2048.0, "prefill")):
        ax.axvline(x, color="grey", linestyle=":", linewidth=0.8)
        ax.annotate(label, (x, ax.get_ylim()[0] * 1.5), fontsize=7, color="grey", rotation=90)
    ax.set_xlabel("arithmetic intensity [FLOP/byte]")
    ax.set_ylabel(f"attainable {math} [TFLOP/s]")
    ax.set_title(f"Rooflines ({math} dense peak and memory bandwidth)", fontsize=11)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=7)
    _save(fig, path)


# how each count of a SimResult.timeline record holds over time (matplotlib's step `where`): a record is written at
# the end of a prompt step or of a stretch of decode steps (simulate.loop's _record); its prefilling counts the prompts
# that took a chunk in that step or stretch, so it holds over the interval up to the record ('pre': a stretch of 20 s
# of decode steps after the last prompt step drew 4 prompts prefilling for its 20 s, where none did); queued and
# decoding are the state the step left, which holds until the next record ('post')
# (a step line that moves every step reads as blots drawn dash-dotted: the counts differ by colour, prefilling dashed,
# the KV cache's share dotted)
TIMELINE_STEPS = (("queued", "queued", "tab:red", "post", "-"), ("prefilling", "prefilling", "tab:orange", "pre", "--"),
                  ("running", "decoding", "tab:blue", "post", "-"))


def timeline_png(records: Sequence[Mapping[str, object]], path: Path, title: str) -> None:
    """A simulated run over time: requests queued, prefilling and decoding (left axis) and the KV cache
    in use as a share of what it holds (right axis), from SimResult.timeline records of one worker, each count over
    the interval it describes (TIMELINE_STEPS)."""
    time_s = np.array([float(r["time_s"]) for r in records])  # type: ignore[arg-type]
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for key, label, colour, where, style in TIMELINE_STEPS:
        times, counts = list(time_s), [float(r[key]) for r in records]  # type: ignore[arg-type]
        if where == "pre" and times and times[0] > 0.0:  # the first record's count holds from the run's start (0 s)
            times, counts = [0.0, *times], [counts[0], *counts]
        ax.step(times, counts, where=where, linewidth=1.2, label=label, color=colour, linestyle=style)
    ax.set_xlabel("time since the first request [s]")
    ax.set_ylabel("requests")
    kv = ax.twinx()
    kv.plot(time_s, [100.0 * float(r["kv_used_fraction"]) for r in records], color="tab:green",  # type: ignore[arg-type]
            linewidth=1.3, alpha=0.85, linestyle=":", label="KV cache used")
    kv.set_ylabel("KV cache used [% of capacity]")
    kv.set_ylim(0.0, 105.0)
    lines = ax.get_legend_handles_labels()[0] + kv.get_legend_handles_labels()[0]
    # below the axes: the decode batch runs along the top and drains at the right, where a legend inside would sit
    ax.legend(lines, [str(line.get_label()) for line in lines], fontsize=8, loc="upper center",
              bbox_to_anchor=(0.5, -0.14), ncol=len(lines), frameon=False)
    ax.set_title(title, fontsize=11)
    ax.grid(True, alpha=0.3)
    _save(fig, path)
