"""Fused MoE dispatch/combine latencies of Ascend systems re-derived from their published rows."""

from __future__ import annotations

import csv
from importlib import resources

import pytest

from parity import catalog
from parity.calibrate.fused import fit_fused_latency, fused_base_s
from parity.errors import ParityError

ROWS = {r["case_id"]: r for r in csv.DictReader(
    (resources.files("parity") / "data/measurements/collectives_published.csv").open(encoding="utf-8"))}
FITS = {"cloudmatrix-384": ("B07-ep8-dispatch", "B07-ep256-dispatch", "B07-ep8-combine"),
        "atlas-800-a3": ("SKN-ll-ep8-dispatch", "SKN-ll-ep8-combine", "SKN-ll-ep16-dispatch", "SKN-ll-ep16-combine")}


@pytest.mark.parametrize("system_id", sorted(FITS))
def test_stored_fused_latencies_are_the_fit_of_their_rows(system_id: str) -> None:
    """The catalog's fused latencies (rounded to 0.1 us and 0.001 us) are what the fit gives on the rows its
    source names, at the chip's collective efficiency; each of those rows is named in the source's title."""
    system = catalog.system(system_id)
    fit = fit_fused_latency([ROWS[i] for i in FITS[system_id]], system,
                            catalog.calibration(system.chip).collective_efficiency)
    assert system.fused_all_to_all_latency_s == pytest.approx(fit.latency_s, abs=0.05e-6)
    assert system.fused_all_to_all_peer_latency_s == pytest.approx(fit.peer_latency_s, abs=0.0005e-6)
    title = " ".join(p.source.title for p in system.provenance if "fused_all_to_all" in p.field)
    assert all(i in title for i in fit.rows)


def test_cloudmatrix_line_through_three_rows() -> None:
    """Residuals (measured - hop and bytes at 0.6429): EP8 dispatch 116 - 36.45 = 79.55 us, EP256 dispatch
    152 - 60.23 = 91.77 us, EP8 combine 118 - 69.90 = 48.10 us, at 7, 255 and 7 peers. The least-squares line:
    slope (91.77 - (79.55 + 48.10) / 2) / 248 = 0.1126 us a peer, L = 63.83 - 7 x 0.1126 = 63.04 us."""
    system = catalog.system("cloudmatrix-384")
    rows = [ROWS[i] for i in FITS["cloudmatrix-384"]]
    assert [fused_base_s(r, system, 0.6429) * 1e6 for r in rows] == pytest.approx([36.45, 60.23, 69.90], abs=0.02)
    fit = fit_fused_latency(rows, system, 0.6429)
    assert fit.peer_latency_s == pytest.approx(0.1126e-6, abs=0.0005e-6)
    assert fit.latency_s == pytest.approx(63.04e-6, abs=0.02e-6)


def test_latency_that_falls_with_more_peers_is_a_flat_mean() -> None:
    """DeepEP-Ascend in one A3 node: residuals 132 - 36.45 = 95.55, 126 - 69.90 = 56.10 (EP8), 139 - 47.05 =
    91.95, 135 - 91.10 = 43.90 us (EP16): the unconstrained line falls (-1 us a peer), so p = 0 and L is the
    mean, 71.88 us."""
    fit = fit_fused_latency([ROWS[i] for i in FITS["atlas-800-a3"]], catalog.system("atlas-800-a3"), 0.6429)
    assert fit.peer_latency_s == 0.0
    assert fit.latency_s == pytest.approx((95.55 + 56.10 + 91.95 + 43.90) / 4 * 1e-6, abs=0.05e-6)


def test_rows_beyond_the_domain_are_refused() -> None:
    """EP256 does not fit in one A3 node's 16 dies: the fit refuses it, naming the system."""
    with pytest.raises(ParityError, match="atlas-800-a3"):
        fit_fused_latency([ROWS["B07-ep256-dispatch"]], catalog.system("atlas-800-a3"), 0.6429)
    with pytest.raises(ParityError, match="no fused"):
        fit_fused_latency([], catalog.system("atlas-800-a3"), 0.6429)
