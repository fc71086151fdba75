"""The user's own chips and systems (PARITY_HOME/chips, PARITY_HOME/systems), in the catalog's format: read with
every key checked, refused in one line naming the file, flagged wherever they are priced, and uncalibrated unless a
calibration of the user's names them (report-only tester fuzzDE 1: her files were passed over without a word)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from parity import catalog
from parity.cli import cli
from parity.compare import vendor_bands
from parity.errors import CatalogError
from parity.uncertainty import chip_calibrated, user_file_flag

from conftest import EXAMPLE_HOME as EXAMPLE, clear_catalog_caches as _clear

DOCS = Path(__file__).parent.parent / "docs" / "model.md"


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_the_docs_show_the_example_files() -> None:
    """docs/model.md's chip and system files are examples/parity-home's, which the tests below load."""
    text = DOCS.read_text()
    for path in (EXAMPLE / "chips" / "nova-x1.toml", EXAMPLE / "systems" / "nova-pod16.toml"):
        assert f"```toml\n{path.read_text()}```" in text, path


def test_the_users_chip_and_system_are_read_and_marked(home: Path) -> None:
    """1,200 TFLOP/s of bf16, 144 GB at 4 TB/s, 800 GB/s a direction of scale-up, in a pod of 16 on one fabric."""
    chip, pod = catalog.chip("nova-x1"), catalog.system("nova-pod16")
    assert (chip.peak("bf16"), chip.memory_bytes, chip.memory_bytes_per_s, chip.scale_up_bytes_per_s) == (
        1.2e15, 144e9, 4e12, 800e9)
    assert (pod.chips, pod.scale_up_domain_chips, pod.chip.id, pod.power_w) == (16, 16, "nova-x1", 16e3)
    assert (chip.user_file, pod.user_file) == (str(home / "chips" / "nova-x1.toml"),
                                               str(home / "systems" / "nova-pod16.toml"))
    assert catalog.system("nova-x1").id == "nova-pod16"  # a chip's name gives its system, as a catalog chip's does
    assert catalog.chip("h200").user_file == ""
    # no family: the derived prior, uncalibrated; validate scores nothing of hers, and so names none of her files
    assert catalog.calibration(chip).id == "derived-prior" and not chip_calibrated(chip, catalog.calibration(chip))
    assert catalog.user_files() == []


def test_her_system_is_flagged_and_its_ratios_have_the_uncalibrated_band(home: Path) -> None:
    """Every prediction on it says the specs are hers; her vendor, which no published figure scored, takes the widest
    vendor band, which ratio_band widens as for any uncalibrated chip."""
    flag = user_file_flag(catalog.system("nova-pod16"))
    assert flag is not None and (flag.text, flag.brief) == (
        f"specs from your files {home}/chips/nova-x1.toml and {home}/systems/nova-pod16.toml, not parity's catalog",
        "specs from your file")
    assert user_file_flag(catalog.system("hgx-h200")) is None
    bands = vendor_bands()
    assert bands["Nova"] == max(bands.values(), key=lambda b: b.q_high - b.q_low)


def test_show_names_her_files(home: Path) -> None:
    code, out, _ = _run("show", "nova-pod16", "--format", "md")
    assert code == 0 and f"| file | {home}/systems/nova-pod16.toml |" in out
    assert f"| chip file | {home}/chips/nova-x1.toml |" in out


def test_chips_and_systems_mark_hers(home: Path) -> None:
    code, out, _ = _run("chips", "--format", "json")
    assert code == 0 and {c["id"]: c["user_file"] for c in json.loads(out)}["nova-x1"] == str(
        home / "chips" / "nova-x1.toml")
    code, out, _ = _run("systems", "--format", "md")
    assert code == 0 and "| nova-pod16 (yours) |" in out and "'(yours)' after an id: read from your file in" in out


def _write(home: Path, kind: str, name: str, text: str) -> None:
    (home / kind / name).write_text(text)


def _refused(*args: str) -> str:
    code, _, err = _run(*args)
    assert code == 2 and err.count("\n") == 1, (code, err)
    return err.removeprefix("parity: error: ").strip()


@pytest.mark.parametrize(("edit", "says"), [
    # were passed over: rc 0 and the catalog alone
    (None, "malformed TOML: Invalid initial character for a key part (at line 2, column 3)"),
    (('id = "nova-x1"', "id = 5"), "key id must be text, got 5"),
    (('[power]\ntdp = { value = "800 W", source = "nova-brief" }', ""), "missing key 'power'"),
    (('"4 TB/s"', '"4 TBs"'), "memory_bytes_per_s: "),
    (("bandwidth =", "bandwdith ="), "key 'bandwdith' in [memory] is no chip key; did you mean 'bandwidth'?"),
    (('direction = "unidirectional", source = "nova-brief" }', 'diretion = "unidirectional", source = "nova-brief" }'),
     "key 'diretion' in interconnect.scale_up is no quantity key; did you mean 'direction'?"),
    (('# family = "hopper"', 'family = "hoper"'), "key family 'hoper' is not in families.toml; known: "),
])
def test_a_broken_chip_file_is_one_line_naming_it(home: Path, edit: tuple[str, str] | None, says: str) -> None:
    path = home / "chips" / "nova-x1.toml"
    path.write_text("id = 5\n[[[bad" if edit is None else path.read_text().replace(*edit, 1))
    with pytest.raises(CatalogError) as caught:
        catalog.systems()
    assert str(caught.value).startswith(f"{path}: ") and says in str(caught.value), caught.value
    if edit is None:  # every command that reads the catalog: one line, exit 2 (`parity chips` gave rc 0)
        for command in (("chips",), ("show", "h200")):
            assert _refused(*command).startswith(f"{path}: malformed TOML")


def test_a_name_that_two_files_give_is_refused_naming_both(home: Path) -> None:
    """An alias of a catalog chip (two chips answered to 'h200', and parity's won without a word), a file of a catalog
    chip's id (its name that id's, as every chip's file is), a system named as a chip."""
    mine = home / "chips" / "nova-x1.toml"
    mine.write_text(mine.read_text().replace('name = "Nova X1"', 'name = "Nova X1"\naliases = ["H200"]'))
    assert _refused("chips") == (f"chip name 'H200' is given by both chips/nvidia-h200-sxm.toml and {mine}: each chip "
                                 "needs names of its own (rename or remove one)")
    mine.write_text(mine.read_text().replace('aliases = ["H200"]', ""))
    twin = home / "chips" / "nvidia-h200-sxm.toml"
    twin.write_text(mine.read_text().replace('id = "nova-x1"', 'id = "nvidia-h200-sxm"'))
    _clear()
    assert _refused("chips") == (f"chip name 'nvidia-h200-sxm' is given by both chips/nvidia-h200-sxm.toml and {twin}: "
                                 "each chip needs names of its own (rename or remove one)")
    twin.unlink()
    pod = home / "systems" / "nova-x1.toml"
    (home / "systems" / "nova-pod16.toml").rename(pod)
    pod.write_text(pod.read_text().replace('id = "nova-pod16"', 'id = "nova-x1"'))
    _clear()
    assert _refused("show", "nova-x1") == (
        f"chip or system name 'nova-x1' is given by both {mine} and {pod}: a chip and a system need names of their "
        "own, as 'parity show' takes either (rename or remove one)")


def test_a_system_of_yours_of_a_catalog_chip_is_not_that_chips_default(home: Path) -> None:
    """A 4-chip system file of H100s became the H100's default system (the smallest holding it), so every `fleet
    --chips h100` priced it (report-only tester fuzzDF 5): a catalog chip keeps its catalog system; the user's is
    used where named, and is the default only of a chip of the user's."""
    quad = (home / "systems" / "nova-pod16.toml").read_text().replace('"nova-pod16"', '"h100-quad"').replace(
        '"nova-x1"', '"nvidia-h100-sxm"').replace("value = 16,", "value = 4,")
    (home / "systems" / "h100-quad.toml").write_text(quad)
    _clear()
    assert catalog.system("h100-quad").chips == 4 and catalog.system("h100").id == "hgx-h100"
    assert catalog.system("nova-x1").id == "nova-pod16"


def test_a_chip_of_yours_states_its_software_stack(home: Path) -> None:
    """A chip without software_stack printed 'no  profile' and 'on ,' in every note (report-only tester fuzzDF 1)."""
    chip_file = home / "chips" / "nova-x1.toml"
    for stack in ('software_stack = ""', 'software_stack = " "'):  # blank is none (fuzzDH 2)
        chip_file.write_text(chip_file.read_text().replace('software_stack = "nova-sdk"', stack))
        _clear()
        with pytest.raises(CatalogError, match="nova-x1.toml: key software_stack is missing: the chip's software"):
            catalog.chips()
        chip_file.write_text(chip_file.read_text().replace(stack, 'software_stack = "nova-sdk"'))
    chip_file.write_text(chip_file.read_text().replace('software_stack = "nova-sdk"', 'software_stack = "cuda "'))
    _clear()
    assert catalog.chip("nova-x1").software_stack == "cuda"


def test_a_system_file_keeps_its_scale_up_domain_within_it(home: Path) -> None:
    """A 64-chip scale-up domain in a 32-chip system file priced a 64-chip worker inside it (fuzzDF 6)."""
    pod = home / "systems" / "nova-pod16.toml"
    pod.write_text(pod.read_text().replace("scale_up_domain_chips = { value = 16,", "scale_up_domain_chips = { value = 64,"))
    _clear()
    with pytest.raises(CatalogError, match=r"nova-pod16.toml \[structure\]: scale_up_domain_chips \(64\) must be at "
                                           r"most chips \(16\): a system's scale-up domain is within it"):
        catalog.systems()


def test_a_system_file_without_a_status_takes_its_chips(home: Path) -> None:
    """nova-pod16 states no status: it read 'shipping' beside its announced chip nova-x1."""
    assert "status" not in (home / "systems" / "nova-pod16.toml").read_text()
    assert catalog.system("nova-pod16").status == catalog.chip("nova-x1").status == "announced"
