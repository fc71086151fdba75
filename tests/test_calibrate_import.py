"""`parity calibrate --import` of a performance engineer's own measurements (report-only tester fuzzEK): efficiencies
at and past the fit's bounds, what a partial import calibrates, and the rows and files a refusal names."""

from __future__ import annotations

import dataclasses
import json
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from parity import catalog
from parity.calibrate import point_times, points_from_benchmark
from parity.cli import cli
from parity.errors import CatalogError, ParityError
from parity.uncertainty import calibration_flag, chip_calibrated, ratio_band, vendor_bands

from conftest import clear_catalog_caches as _clear


@pytest.fixture
def shipping(home: Path) -> Path:
    """examples/parity-home (nova-x1: 1,200 TFLOP/s bf16, 4 TB/s; on the derived prior) with its chip shipping, so
    that only its calibration decides its band."""
    chip = home / "chips" / "nova-x1.toml"
    chip.write_text(chip.read_text().replace('status = "announced"', 'status = "shipping"'))
    _clear()
    return home


def _sweep(path: Path, sections: tuple[str, ...] = ("gemm", "fp8_gemm", "attn_prefill", "attn_decode", "copy"),
           **efficiency: float) -> Path:
    """A microbenchmark file of nova-x1 (the tester's generator: 21 GEMMs a format, 4 prompt and 4 decode attentions,
    4 copies), each time what its derived prior with `efficiency`'s values prices, with an 8 us launch."""
    doc: dict = {"meta": {"note": "synthetic"}}
    shapes = [(m, n, k) for m in (1, 16, 64, 256, 1024, 4096, 8192) for n, k in ((4096, 4096), (8192, 8192),
                                                                               (14336, 4096))]
    doc["gemm"] = [{"m": m, "n": n, "k": k, "s": 1.0} for m, n, k in shapes]
    doc["fp8_gemm"] = [{"m": m, "n": n, "k": k, "s": 1.0} for m, n, k in shapes]
    doc["attn_prefill"] = [{"batch": 1, "heads": 32, "kv_heads": 8, "head_dim": 128, "seq": s, "s": 1.0}
                           for s in (1024, 2048, 4096, 8192)]
    doc["attn_decode"] = [{"batch": b, "heads": 32, "kv_heads": 8, "head_dim": 128, "ctx": 4096, "s": 1.0}
                          for b in (1, 8, 32, 64)]
    doc["copy"] = [{"bytes_each_way": 2 ** e, "s": 1.0} for e in (26, 28, 29, 30)]
    doc = {key: value for key, value in doc.items() if key in (*sections, "meta")}
    chip = catalog.chip("nova-x1")
    cal = catalog.calibration(chip)
    gemm = {k.removeprefix("gemm_"): v for k, v in efficiency.items() if k.startswith("gemm_")}
    cal = dataclasses.replace(cal, gemm_efficiency={**cal.gemm_efficiency, **gemm}, kernel_overhead_s=8e-6,
                              **{k: v for k, v in efficiency.items() if not k.startswith("gemm_")})
    times = iter(point_times(points_from_benchmark(doc), chip, cal))
    for section in ("gemm", "fp8_gemm", "attn_prefill", "attn_decode", "copy"):
        for row in doc.get(section, []):
            row["s"] = float(next(times))
    path.write_text(json.dumps(doc))
    return path


def _imported(sweep: Path, fmt: str = "json") -> dict | str:
    """The summary of importing `sweep` as nova-x1's (into PARITY_HOME): JSON read, or the table's words."""
    result = CliRunner().invoke(cli, ["calibrate", "--import", str(sweep), "--chip", "nova-x1", "--format", fmt])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if fmt == "json" else " ".join(result.stdout.split())


@pytest.mark.e2e  # two whole fits (3 s)
def test_an_efficiency_at_or_past_a_bound_is_fitted_not_replaced_by_the_prior(
        shipping: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """bf16 GEMMs at 0.19 of peak (immature NPU stacks run at 0.15-0.2) fitted to the lower bound of 0.2 and were
    held at the prior's 0.564, "where these points price as well", predicting them 2.8x fast; GEMMs at 1.0 of peak
    (0.924 ms measured, 1.633 ms predicted for 8192^3) went to the upper bound and were held too. Now the lower bound
    is 0.05, and a field at a bound is held only where holding it prices the points as well, checked."""
    sweeps = tmp_path_factory.mktemp("sweeps")
    slow = _imported(_sweep(sweeps / "slow.json", gemm_bf16=0.19, gemm_fp8=0.5, memory_efficiency=0.85,
                            attention_prefill_efficiency=0.45, attention_decode_efficiency=0.8,
                            stream_efficiency=0.85))
    fields = {e["field"]: e["measured"] for e in slow["efficiencies"]}
    assert fields["gemm_efficiency_bf16"] == pytest.approx(0.19, abs=0.002)
    assert (slow["held"], slow["pinned"]) == ([], [])
    fast = _imported(_sweep(sweeps / "fast.json", gemm_bf16=1.0, gemm_fp8=0.65, memory_efficiency=0.85,
                            attention_prefill_efficiency=0.45, attention_decode_efficiency=0.8,
                            stream_efficiency=0.85), "table")
    assert ("At the fit's bound, kept there since these points price it better than the value before: bf16 GEMM (of "
            "peak) (error 0.0% at the bound, 3.2% held at the value before).") in fast
    written = tomllib.loads((shipping / "calibration" / "nova-x1.toml").read_text())
    assert written["gemm_efficiency"]["bf16"] == 1.0
    assert written["method"].endswith("at the fit's bound, where the points price better than at derived-prior's "
                                      "values (kind-weighted error at the bound, then held): gemm_efficiency.bf16 "
                                      "1.0000 (0.0%, 3.2%)")


def test_copies_alone_calibrate_no_chip(shipping: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Copies alone made nova-x2 "calibrated, measured on this chip" and narrowed its interval (0.37-1.20 to
    0.48-0.91) with its GEMMs and memory streaming the prior's. The file now records the fields its points fitted and
    how many, and a chip whose measurement leaves out GEMMs reads 'partly calibrated', keeping the prior's band."""
    chip = catalog.chip("nova-x1")
    band = vendor_bands()["Nova"]
    before = ratio_band(band, chip, catalog.calibration(chip))
    _imported(_sweep(tmp_path_factory.mktemp("sweeps") / "copies.json", ("copy",)))
    written = tomllib.loads((shipping / "calibration" / "nova-x1.toml").read_text())
    assert written["measured_fields"] == {"stream_efficiency": 4, "kernel_overhead_s": 4}
    assert written["unmeasured_from"] == "derived-prior"
    _clear()
    cal = catalog.calibration(chip)
    assert cal.measured and cal.unmeasured_core == ("GEMM", "memory streaming")
    assert not chip_calibrated(chip, cal) and ratio_band(band, chip, cal) == before
    assert cal.basis.startswith("partly measured on this chip (nova-x1-measured; GEMM and memory streaming from "
                                "derived-prior)")
    flag = calibration_flag(chip, cal)
    assert flag is not None and (flag.kind, flag.brief, flag.widen) == (
        "partly calibrated chip", "partly calibrated: GEMM, memory streaming from the prior", 2.25)  # as on a prior
    # GEMMs measured (bf16 alone): calibrated, its fp8 rate flagged as kept from the prior
    measured = dataclasses.replace(cal, measured_fields={"gemm_efficiency.bf16": 21, "memory_efficiency": 21})
    assert chip_calibrated(chip, measured) and calibration_flag(chip, measured) is None


def test_parity_s_own_calibrations_read_as_before() -> None:
    """The catalog's files record no measured fields: each reads as measured whole, as it did."""
    assert {c.id for c in catalog.chips() if chip_calibrated(c, catalog.calibration(c))} >= {
        "nvidia-h200-sxm", "nvidia-h20", "nvidia-b300-sxm", "nvidia-gb300", "amd-mi300x", "amd-mi355x"}
    assert all(not c.measured_fields and not c.unmeasured_core for c in catalog.calibrations())


_GEMM = {"m": 1, "n": 4096, "k": 4096, "s": 2e-5}


@pytest.mark.parametrize(("doc", "says"), [
    # copy rows without bytes are skipped (docs/model.md), not refused as repeats of each other (fuzzEK 4)
    ({"gemm": [_GEMM, _GEMM | {"m": 2}], "copy": [{"s": 0.001}, {"s": 0.002}]}, None),
    # 16 and 16.0 are one size (fuzzEK 5)
    ({"gemm": [_GEMM | {"m": 16}, _GEMM | {"m": 16.0}]},
     "gemm row 2: the same sizes as gemm row 1 (m=16.0, n=4096, k=4096): measure each once"),
])
def test_rows_are_repeats_by_their_sizes_as_numbers(doc: dict, says: str | None) -> None:
    if says is None:
        assert [p.label for p in points_from_benchmark(doc)] == ["bf16 1x4096x4096", "bf16 2x4096x4096"]
    else:
        with pytest.raises(ParityError, match=says.replace("(", r"\(").replace(")", r"\)")):
            points_from_benchmark(doc)


def test_a_row_another_file_measured_is_refused_naming_both(tmp_path: Path) -> None:
    """Two --import files holding one measurement ('cp h20_low.json h20_low2.json') fitted it twice, as twice the
    data ("108 points"), where a repeat inside one file is refused (fuzzEM 5): refused alike, naming both files and
    rows; a bf16 and an fp8 GEMM of one shape are no repeat, in one file or two."""
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text(json.dumps({"gemm": [_GEMM | {"m": 2}, _GEMM]}))
    second.write_text(json.dumps({"fp8_gemm": [_GEMM], "gemm_bf16": [_GEMM | {"m": 4}, _GEMM | {"m": 1.0}]}))
    result = CliRunner().invoke(cli, ["calibrate", "--import", str(first), "--import", str(second), "--chip",
                                      "nvidia-h200-sxm", "--out", str(tmp_path / "c.toml")])
    assert (result.exit_code, result.stderr) == (2, "parity: error: b.json: gemm_bf16 row 2: the same sizes as a.json: "
                                                    "gemm row 2 (m=1.0, n=4096, k=4096): measure each once, or average "
                                                    "the repeats before importing\n")


def test_a_refusal_names_the_file_and_row_and_an_absurd_size_briefly(tmp_path: Path) -> None:
    """'bf16 1x8192x8192: 3.04e-05 s is ... 1.11x nova-x1's datasheet memory bandwidth' named no file or row, and
    m = 10**200 printed a 200-digit label (fuzzEK 6)."""
    doc = {"gemm": [_GEMM | {"m": 10 ** 200}, _GEMM]}
    assert points_from_benchmark(doc)[0].label == "bf16 1e+200x4096x4096"
    source = tmp_path / "huge.json"
    source.write_text(json.dumps(doc))
    result = CliRunner().invoke(cli, ["calibrate", "--import", str(source), "--chip", "nvidia-h200-sxm", "--out",
                                      str(tmp_path / "c.toml")])
    assert result.exit_code == 2 and result.stderr.startswith(
        "parity: error: huge.json: gemm row 1 (bf16 1e+200x4096x4096): 2e-05 s is 1.68e+212 FLOP/s"), result.stderr


def _user_h200(home: Path, name: str, line: str, new: str) -> Path:
    """parity's H200 calibration as the user's file `name`, its `line` replaced by `new`; the catalog's caches
    cleared."""
    path = home / "calibration" / name
    path.parent.mkdir()
    path.write_text(catalog.data_dir().joinpath("calibration", "nvidia-h200-sxm.toml").read_text().replace(line, new))
    _clear()
    return path


def test_a_calibration_of_a_removed_chip_says_which_file_to_remove(home: Path) -> None:
    """Every command stopped at 'calibration/nova-x2.toml: chip 'nova-x2' is no catalog chip; did you mean nova-x1?'
    with no word of how to go on (fuzzEK 7)."""
    path = _user_h200(home, "nova-x2.toml", 'chip = "nvidia-h200-sxm"', 'chip = "nova-x2"')
    with pytest.raises(CatalogError) as err:
        catalog.calibrations()
    assert str(err.value) == (f"{path}: chip 'nova-x2' is no catalog chip; did you mean nova-x1? (its chip removed "
                              f"from {home / 'chips'}? every command reads this file: remove or move {path})")


def test_a_hand_written_launch_cost_past_the_fits_bound_is_refused(home: Path) -> None:
    """kernel_overhead = "7.970 ms" (us meant) priced every kernel at 8 ms (fuzzEK 8): the fit's 60 us bound holds on
    load too."""
    path = _user_h200(home, "nvidia-h200-sxm.toml", 'kernel_overhead = "25.701 us"', 'kernel_overhead = "7.970 ms"')
    with pytest.raises(CatalogError) as err:
        catalog.calibrations()
    assert str(err.value) == (f"{path}: key kernel_overhead must be at most 60 us (a kernel's launch and tail, as a "
                              "fit allows), got '7.970 ms': another unit?")


def test_the_help_names_parity_home() -> None:
    """--out's default is under $PARITY_HOME where it is set, not ~/.parity (fuzzEK 9)."""
    text = " ".join(CliRunner().invoke(cli, ["calibrate", "--help"]).stdout.split())
    assert "(default: $PARITY_HOME/calibration/CHIP.toml, ~/.parity/calibration/CHIP.toml where PARITY_HOME is " \
           "unset: used by every prediction)" in text
