"""Training notes that say what is true: a job smaller than its system, memory savings that bind, the published runs'
envelope, times and units (report-only tester, training-infrastructure lead)."""

from __future__ import annotations

from parity import catalog
from parity.compare import compare


def test_a_job_smaller_than_its_system_says_it_asked_for_fewer_chips() -> None:
    """CloudMatrix 384 trains Llama-3.1-70B on 384 chips (a layout divides them), so a job of --chips 128 trains on
    128 because it asked for them, not because none divides the system's (finding 1); at 256 ZeRO-3 wins by 0.2%
    (911.7 tok/s/chip against ZeRO-1's 909.9), so memory does not bind (finding 2)."""
    matrix, llama = catalog.system("cloudmatrix-384"), catalog.model("llama-3.1-70b")
    for chips in (128, 256):
        row, = compare([matrix], llama, catalog.engine("generic"), workload="train", chips=chips)
        assert row.note.startswith(f"the job asks for {chips} of the system's 384 chips, the rest idle (per system, "
                                   f"per kW and per GB: the {chips} that train)")
        assert "no layout divides" not in row.note and "memory binds" not in row.note
        assert row.memory_bound == ()
    assert row.layout == "tp2-pp1-dp256-mb1-zero3" and round(row.tokens_per_s_per_chip, 1) == 911.7
