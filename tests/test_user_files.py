"""The user's own files in PARITY_HOME (calibrations, engine profiles, interval bands): read with every key checked,
refused in one line naming the file, and named wherever a prediction rests on one."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from parity import catalog
from parity.catalog.profiles import lending
from parity.cli import cli
from parity.cli.calibrate_cmd import _named_chip

DATA = catalog.data_dir()
H200_FILE = DATA / "calibration" / "nvidia-h200-sxm.toml"
H200_BENCH = DATA / "measurements" / "h200_microbench.json"
PREFILL = ("serve", "--model", "llama-3.1-8b", "--system", "hgx-h200", "--phase", "prefill", "--batch", "8",
           "--isl", "2048", "--format", "json")


def _clear() -> None:
    for cached in (catalog.calibrations, lending._calibration_of, catalog.engines, catalog.uncertainty_table,
                   catalog.ratio_uncertainty_table, catalog.training_ratio_uncertainty_table):
        cached.cache_clear()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty PARITY_HOME, every catalog cache that reads it cleared before and after."""
    monkeypatch.setenv("PARITY_HOME", str(tmp_path))
    _clear()
    yield tmp_path
    _clear()


def _user_h200(home: Path, *edits: tuple[str, str], name: str = "nvidia-h200-sxm.toml") -> Path:
    """parity's H200 calibration as the user's file, each (line start, new line) replacing the first line it starts."""
    lines = H200_FILE.read_text().splitlines()
    for start, new in edits:
        at = next(i for i, line in enumerate(lines) if line.startswith(start))
        lines[at] = new
    path = home / "calibration" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def _refused(*args: str) -> str:
    """Exit 2 with one line on stderr and no traceback; the line."""
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, (result.exit_code, result.output)
    return result.stderr


@pytest.mark.parametrize(("edit", "says"), [
    # crashed every command with "TypeError: '<' not supported between instances of 'float' and 'str'"
    (("bf16 =", 'bf16 = "half"'), "key gemm_efficiency.bf16 must be a number, got 'half'"),
    (("memory_efficiency =", "memory_efficiency = [0.9]"), "key memory_efficiency must be a number, got [0.9]"),
    # were read as 1.0 and 0.9
    (("bf16 =", "bf16 = true"), "key gemm_efficiency.bf16 must be a number, got true"),
    (("memory_efficiency =", 'memory_efficiency = "0.9"'), "key memory_efficiency must be a number, got '0.9'"),
    # were accepted and ignored
    (("bf16 =", "bf61 = 0.5"), "key 'bf61' in [gemm_efficiency] is no calibration key; did you mean 'bf16'?"),
    (("id =", 'id = "mine"\nfoo_efficiency = 2'),
     "key 'foo_efficiency' in the top level is no calibration key; did you mean 'memory_efficiency'?"),
    (("measured =", 'measured = "no"'), "key measured must be true or false, got 'no'"),
    (("date =", 'date = "yesterday"'), "key date must be a date (YYYY-MM-DD), got 'yesterday'"),
    # were dropped without a word (the stock numbers in effect)
    (("chip =", 'chip = "nvidia-h999"'), "chip 'nvidia-h999' is no catalog chip; did you mean nvidia-h20? (its chip "
                                         "removed from {home}/chips? every command reads this file: remove or move "
                                         "{home}/calibration/nvidia-h200-sxm.toml)"),
    (("chip =", "chip = 5"), "key chip must be text, got 5"),
    # replaced the H100's calibration with the H200's file
    (("chip =", 'chip = "nvidia-h100-sxm"'), "the file calibrates chip 'nvidia-h100-sxm' but is named "
                                              "nvidia-h200-sxm.toml; name it nvidia-h100-sxm.toml (parity calibrate "
                                              "names a chip's file by its chip)"),
    (("bf16 =", "bf16 = 1.5"), "calibration nvidia-h200-sxm-measured: bf16 must be in (0, 1], got 1.5"),
])
def test_a_bad_user_calibration_is_refused_in_one_line_naming_its_path(home: Path, edit: tuple[str, str],
                                                                       says: str) -> None:
    path = _user_h200(home, edit)
    assert _refused("chips") == f"parity: error: {path}: {says.format(home=home)}\n"


def test_a_calibration_folder_that_is_a_file_is_refused(home: Path) -> None:
    """It was passed over: the stock numbers, exit 0, no word."""
    (home / "calibration").write_text("")
    assert _refused("chips") == (f"parity: error: {home / 'calibration'}: not a folder; parity reads the user's "
                                 "calibration files (*.toml) from it\n")


def test_a_bad_user_engine_profile_value_names_the_key(home: Path) -> None:
    """`gemm_scale = "big"` said "'<' not supported between instances of 'int' and 'str'"; `true` was read as 1."""
    text = catalog.engine_text("vllm")
    (home / "engines").mkdir()
    for value, says in (('"big"', "must be a number, got 'big'"), ("true", "must be a number, got true")):
        path = home / "engines" / "vllm.toml"
        path.write_text(text.replace("\ngemm_scale = ", f"\ngemm_scale = {value}\n#", 1))
        catalog.engines.cache_clear()
        assert _refused("engines") == f"parity: error: {path}: key kernels.gemm_scale {says}\n"


_BAND = tomllib.loads((DATA / "uncertainty_sim.toml").read_text())["band"][0]  # the stock file's first band


@pytest.mark.parametrize(("edit", "says"), [
    # a traceback: ValueError: could not convert string to float: 'x'
    ((f"q_high = {_BAND['q_high']}", 'q_high = "x"'), "key band[1].q_high must be a number, got 'x'"),
    # printed TPOT 8.2 (7.42-60.6) ms without a word
    ((f"q_low = {_BAND['q_low']}", "q_low = -2.0"), "band[1] must hold -1.5 <= q_low <= q_high <= 1.5 (quantiles of "
                                                    f"ln(predicted/measured)), got q_low -2.0, q_high {_BAND['q_high']}"),
    ((f"count = {_BAND['count']}", 'count = "many"'), "key band[1].count must be a whole number >= 0, got 'many'"),
])
def test_a_bad_user_bands_file_is_refused_by_serve(home: Path, edit: tuple[str, str], says: str) -> None:
    path = home / "uncertainty_sim.toml"
    text = (DATA / "uncertainty_sim.toml").read_text()
    assert edit[0] in text
    path.write_text(text.replace(*edit, 1))
    assert _refused("serve", "--model", "llama-3.1-8b", "--system", "hgx-h100") == f"parity: error: {path}: {says}\n"


@pytest.mark.parametrize(("reported", "chip", "board"), [
    # 'h100' alone decided: each was filed as the SXM chip
    ("NVIDIA H100 PCIe", "nvidia-h100-sxm", "pcie"), ("NVIDIA H100 NVL", "nvidia-h100-sxm", "nvl"),
    ("NVIDIA H200 NVL", "nvidia-h200-sxm", "nvl"), ("NVIDIA A100 80GB PCIe", "nvidia-a100-sxm", "pcie"),
    ("NVIDIA H800 PCIe", "nvidia-h800-sxm", "pcie"),
    # what nvidia-smi prints for catalog chips (the last three were 'cannot tell which catalog chip')
    ("NVIDIA H100 80GB HBM3", "nvidia-h100-sxm", ""), ("NVIDIA H200", "nvidia-h200-sxm", ""),
    ("NVIDIA A100-SXM4-80GB", "nvidia-a100-sxm", ""), ("NVIDIA GB200", "nvidia-gb200", ""),
    ("NVIDIA RTX PRO 6000 Blackwell Server Edition", "nvidia-rtx-pro-6000-server", ""),
    ("NVIDIA L20", "nvidia-l20", ""), ("AMD Instinct MI300X", "amd-mi300x", ""),
    ("NVIDIA GH200 480GB", None, ""), ("My Custom GPU", None, ""),
])
def test_a_device_name_is_matched_with_its_board(reported: str, chip: str | None, board: str) -> None:
    named, other = _named_chip(reported)
    assert (named.id if named else None, other) == (chip, board)


def test_an_h100_pcie_is_not_filed_as_the_sxm_chip(home: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The PCIe card's efficiencies were written as the SXM chip's (bf16 0.535 of the SXM's peak): every H100 SXM
    prediction 30% slower. --chip still takes it, as the message says."""
    source = tmp_path_factory.mktemp("bench") / "pcie.json"
    source.write_text(json.dumps(json.loads(H200_BENCH.read_text()) | {"meta": {"name": "NVIDIA H200 NVL"}}))
    assert _refused("calibrate", "--import", str(source)) == (
        "parity: error: meta.name 'NVIDIA H200 NVL' is not nvidia-h200-sxm, the closest catalog chip: an NVL board "
        "has other peaks than NVIDIA H200 SXM 141GB, and the catalog holds none; give --chip nvidia-h200-sxm to take "
        "it anyway\n")
    assert not (home / "calibration").exists()
    result = CliRunner().invoke(cli, ["calibrate", "--import", str(source), "--chip", "nvidia-h200-sxm"])
    assert result.exit_code == 0 and (home / "calibration" / "nvidia-h200-sxm.toml").is_file()


@pytest.mark.parametrize(("rows", "says"), [
    # 234 points fitted as though independent; a 3x time averaged in
    ([{"m": 1, "n": 64, "k": 64, "s": 1e-5}, {"m": 2, "n": 64, "k": 64, "s": 1e-5},
      {"m": 1, "n": 64, "k": 64, "s": 3e-5}],
     "gemm row 3: the same sizes as gemm row 1 (m=1, n=64, k=64): measure each once, or average the repeats before "
     "importing"),
    # read as bf16
    ([{"m": 1, "n": 64, "k": 64, "s": 1e-5, "dtype": "int4"}],
     "gemm row 1: gemm does not read 'dtype' (its keys: m, n, k, s; taken and ignored: TFLOPs*, TBps*, kv_TFLOPs*, "
     "kv_TBps* (rates from its time), shape, op, s_* (other timings))"),
    # a row of parity's own sweep, its TFLOPs taken and ignored, and a key beside it that no section reads
    ([{"m": 1, "n": 64, "k": 64, "s": 1e-5, "TFLOPs": 0.0008, "foo": 1}],
     "gemm row 1: gemm does not read 'foo' (its keys: m, n, k, s; taken and ignored: TFLOPs*, TBps*, kv_TFLOPs*, "
     "kv_TBps* (rates from its time), shape, op, s_* (other timings))"),
])
def test_repeated_or_unread_import_rows_are_refused(home: Path, tmp_path_factory: pytest.TempPathFactory,
                                                    rows: list[dict], says: str) -> None:
    source = tmp_path_factory.mktemp("bench") / "b.json"
    source.write_text(json.dumps({"meta": {"name": "NVIDIA H200"}, "gemm": rows}))
    assert _refused("calibrate", "--import", str(source)) == f"parity: error: b.json: {says}\n"


def _prefill_note(*system: str) -> tuple[float, str]:
    run = [*PREFILL[:4], *system, *PREFILL[5:]] if system else list(PREFILL)  # the system named in place of h200's
    result = CliRunner().invoke(cli, run)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    return data["step_s"], data["note"]


def test_a_user_calibration_wins_and_every_prediction_names_it(home: Path) -> None:
    """A user H200 file (bf16 0.781 where parity's has 0.7102) moved the prefill step, and the assumptions were the
    same, character for character: 'calibration: measured on this chip (nvidia-h200-sxm-measured)'. Now they name
    the file; it takes the place of parity's whatever its date (here older than parity's 2026-11-28), and the H100,
    which inherits the H200's, names it too."""
    stock_s, stock_note = _prefill_note()
    path = _user_h200(home, ("bf16 =", "bf16 = 0.781"), ("date =", 'date = "2026-11-01"'))
    _clear()
    step_s, note = _prefill_note()
    assert "calibration: measured on this chip (nvidia-h200-sxm-measured); user file" not in stock_note
    assert (f"calibration: measured on this chip (nvidia-h200-sxm-measured); user file {path} (dated 2026-11-01), "
            "not parity's") in note
    assert step_s < 0.95 * stock_s  # the linear layers run at 0.781 of peak, not 0.7102
    assert (f"calibration: fitted: parity's serving runs on it fitted the engine profiles; its kernel figures' "
            f"calibration inherited from nvidia-h200-sxm (hopper family); user file {path} (dated 2026-11-01), not "
            "parity's") in _prefill_note("hgx-h100")[1]
    shown = json.loads(CliRunner().invoke(cli, ["show", "nvidia-h200-sxm", "--format", "json"]).stdout)
    assert shown["calibration"]["user_file"] == str(path) and shown["calibration"]["date"] == "2026-11-01"


def test_engines_name_a_user_profile(home: Path) -> None:
    (home / "engines").mkdir()
    path = home / "engines" / "vllm.toml"
    path.write_text(catalog.engine_text("vllm").replace('\ndate = "', '\ndate = "2026-12-07"\n#', 1))
    result = CliRunner().invoke(cli, ["engines", "--format", "json"])
    found = {e["id"]: e for e in json.loads(result.stdout)}
    assert (found["vllm"]["user_file"], found["vllm"]["date"]) == (str(path), "2026-12-07")
    assert found["trtllm"]["user_file"] == ""
    table = " ".join(CliRunner().invoke(cli, ["engines", "--wide"]).stdout.split())
    # a path longer than the caption's line breaks after a '/', '_' or '-' (report.tables.fill_text): read it unbroken
    said = "".join(f"vllm: the user file {path} (dated 2026-12-07), not parity's.".split())
    assert "70 rows (user file)" in table and said in "".join(table.split())


def test_validate_says_it_scores_user_files_and_keeps_them_off_the_accuracy_page(home: Path) -> None:
    """validate scored a user's H100 file without a word (all tpot_s 10.2% -> 12.2%), and --format md would have
    made it docs/accuracy.md."""
    path = _user_h200(home)
    assert _refused("validate", "--format", "md") == (
        f"parity: error: --format md writes parity's accuracy page, but the user's files in {home} would be scored "
        f"with it ({path}): set PARITY_HOME to an empty folder, or add --with-user-files to write a page marked as "
        "including them\n")
    assert _refused("validate", "--with-user-files") == ("parity: error: --with-user-files marks the accuracy page: "
                                                          "it needs --format md\n")


def test_user_bands_are_named_where_a_prediction_prints_them(home: Path) -> None:
    """The caption still read '80% intervals from held-out residuals of aggregated runs' with a user's bands."""
    path = home / "uncertainty_sim.toml"
    path.write_text((DATA / "uncertainty_sim.toml").read_text())
    result = CliRunner().invoke(cli, ["serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--format", "json"])
    assert f"80% intervals from held-out residuals of aggregated runs (user file {path}, not parity's)" in json.loads(
        result.stdout)["note"]


def test_a_user_engine_profile_is_named_in_every_prediction(home: Path) -> None:
    """A user's engines/vllm.toml changed serve's, compare's and predict's figures, and only `parity engines` named it
    (fuzz 21 4.1); now each prediction's assumptions do, as a user calibration's."""
    path = home / "engines" / "vllm.toml"
    path.parent.mkdir()
    path.write_text((DATA / "engines" / "vllm.toml").read_text())
    date = catalog.engine("vllm").date
    said = f"engine vllm: user file {path} (dated {date}), not parity's"
    for kind in ("steady", "sim"):
        result = CliRunner().invoke(cli, ["serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--tp", "1",
                                          "--concurrency", "8", "--engine", "vllm", "--model-kind", kind,
                                          "--format", "json"])
        assert result.exit_code == 0 and said in json.loads(result.stdout)["note"], kind
    result = CliRunner().invoke(cli, ["compare", "hgx-h100", "--model", "llama-3.1-8b", "--engine", "vllm",
                                      "--format", "json"])
    assert said in json.loads(result.stdout)[0]["assumptions"]
    result = CliRunner().invoke(cli, ["serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--tp", "1",
                                      "--engine", "trtllm", "--format", "json"])
    assert "user file" not in json.loads(result.stdout)["note"]
