"""The hardware catalog: every number has a source, names resolve, and the key parts are present."""

import dataclasses

import pytest

from parity import catalog
from parity.errors import CatalogError
from parity.hardware import SOURCE_KINDS, Chip, System, what_if

CHIP_NUMBERS = ("memory_bytes", "memory_bytes_per_s", "tdp_w")
REQUIRED_CHIPS = (
    "nvidia-a100-sxm", "nvidia-a800-sxm", "nvidia-h100-sxm", "nvidia-h800-sxm", "nvidia-h20", "nvidia-h200-sxm",
    "nvidia-b200-sxm", "nvidia-b300-sxm", "nvidia-gb200", "nvidia-gb300", "nvidia-rtx-pro-6000-server",
    "nvidia-rtx-pro-6000d", "nvidia-l20", "amd-mi300x", "amd-mi325x", "amd-mi355x", "huawei-ascend-910b",
    "huawei-ascend-910c", "huawei-ascend-950pr", "huawei-ascend-950dt", "huawei-ascend-960", "huawei-ascend-970",
    "cambricon-mlu590", "kunlunxin-p800", "alibaba-t-head-ppu", "moorethreads-mtt-s4000", "moorethreads-mtt-s5000",
    "metax-c500", "google-tpu-v5p", "google-tpu-v6e", "google-tpu7x", "aws-trainium2", "nvidia-b30a",
    "nvidia-rubin")
REQUIRED_SYSTEMS = ("hgx-h100", "hgx-h800", "hgx-h20", "hgx-h200", "hgx-b200", "hgx-b300", "gb200-nvl72",
                    "gb300-nvl72", "rtx-pro-6000d-server", "atlas-800-a2", "cloudmatrix-384", "atlas-950-superpod",
                    "vera-rubin-nvl144", "mi300x-platform", "mi355x-platform")


@pytest.mark.parametrize("chip_id", REQUIRED_CHIPS)
def test_required_chips_are_present(chip_id: str) -> None:
    assert catalog.chip(chip_id).id == chip_id


@pytest.mark.parametrize("system_id", REQUIRED_SYSTEMS)
def test_required_systems_are_present(system_id: str) -> None:
    assert catalog.system(system_id).id == system_id


@pytest.mark.parametrize("chip", catalog.chips(), ids=lambda c: c.id)
def test_every_chip_number_has_a_source(chip: Chip) -> None:
    sourced = {p.field for p in chip.provenance}
    needed = {f"peak_flop_per_s.{key}" for key in chip.peak_flop_per_s} | set(CHIP_NUMBERS) | {"native"}
    needed |= {name for name in ("scale_up_bytes_per_s", "scale_out_bytes_per_s") if getattr(chip, name) > 0}
    needed |= {"die_area_m2"} if chip.die_area_m2 is not None else set()
    needed |= {"unit_price_usd"} if chip.unit_price_usd is not None else set()
    assert needed <= sourced, f"{chip.id}: numbers without a source: {sorted(needed - sourced)}"
    for record in chip.provenance:
        assert record.source.kind in SOURCE_KINDS and record.source.title.strip()


@pytest.mark.parametrize("system", catalog.systems(), ids=lambda s: s.id)
def test_every_system_number_has_a_source(system: System) -> None:
    sourced = {p.field for p in system.provenance}
    assert {"power_w", "scale_up_latency_s", "scale_out_latency_s"} <= sourced
    # what the system is built of is sourced like any number, and an assumed structure says why
    for name in ("chips", "scale_up_domain_chips", "scale_up_topology"):
        record = system.source_of(name)
        assert record is not None and record.value == getattr(system, name), f"{system.id}: {name} has no source"
        assert record.source.kind != "assumption" or record.note, f"{system.id}: assumed {name} gives no reasoning"
    # link figures not given by the system come from its chip, which has its own sources
    for name in ("scale_up_bytes_per_s", "scale_out_bytes_per_s"):
        assert name in sourced or getattr(system, name) == getattr(system.chip, name)


def test_a_keynote_claim_for_an_unreleased_part_is_not_a_datasheet() -> None:
    """Huawei Connect 2025's roadmap figures (Ascend 950DT/960/970, Atlas 950/960 SuperPoD) were kind 'datasheet',
    so the Atlas 960's 4,461 TB carried no '~' while NVIDIA's keynote figures for Rubin (press) did. Every source a
    catalog number of a not-shipping chip or system cites as a keynote is press, as Rubin's; the formats the 960 and
    970 keynote does not name (FP32, BF16, FP16, INT8, MXFP8) rest on an assumption source of their own."""
    unshipped = [*(c for c in catalog.chips() if c.status != "shipping"),
                 *(s for s in catalog.systems() if s.status != "shipping")]
    keynotes = {(r.source.id, r.source.kind) for item in unshipped for r in item.provenance
                if "keynote" in r.source.title.lower() and r.source.kind not in ("derived", "assumption")}
    assert keynotes == {("huawei-connect-2025", "press"), ("nv-rubin-keynotes", "press")}
    for chip_id in ("huawei-ascend-960", "huawei-ascend-970"):
        native = catalog.chip(chip_id).source_of("native")
        assert native.source.kind == "assumption"
        assert "FP32, BF16, FP16, INT8 and MXFP8 are assumed" in native.source.title
    assert catalog.chip("huawei-ascend-960").source_of("memory_bytes").source.kind == "press"


def test_sparse_figures_are_stored_dense() -> None:
    """NVIDIA quotes H100 BF16 as 1,979 TFLOP/s with 2:4 sparsity; the catalog stores 989.5."""
    h100 = catalog.chip("h100_sxm")
    assert h100.peak("bf16") == pytest.approx(989.5e12)
    assert "sparsity" in h100.source_of("peak_flop_per_s.bf16").note


def test_links_are_stored_per_direction() -> None:
    """NVLink 4 is 900 GB/s bidirectional: 450 GB/s each way."""
    assert catalog.chip("h100").scale_up_bytes_per_s == pytest.approx(450e9)


def test_aliases_resolve_and_unknown_names_suggest() -> None:
    assert catalog.system("gb200").id == "gb200-nvl72"
    assert catalog.system("h200_sxm").chip.id == "nvidia-h200-sxm"  # a chip name gives its default node
    assert catalog.chip("b200_sxm").id == "nvidia-b200-sxm"
    with pytest.raises(CatalogError, match="did you mean"):
        catalog.chip("h10")
    with pytest.raises(CatalogError, match="unknown system or chip 'nosuchbox'"):
        catalog.system("nosuchbox")


def test_cloudmatrix_against_nvl72_matches_the_analyst_ratios() -> None:
    """SemiAnalysis (2025-04-16): about 1.7x dense BF16, 3.6x memory, 3.9x power for CloudMatrix 384."""
    cm, nvl = catalog.system("cloudmatrix-384"), catalog.system("gb200-nvl72")
    assert cm.peak("bf16") / nvl.peak("bf16") == pytest.approx(1.7, abs=0.05)
    assert cm.memory_bytes / nvl.memory_bytes == pytest.approx(3.6, abs=0.1)
    assert cm.power_w / nvl.power_w == pytest.approx(3.9, abs=0.1)


def test_what_if_records_its_change() -> None:
    h20 = catalog.chip("h20")
    faster = what_if(h20, "2x bandwidth", memory_bytes_per_s=2 * h20.memory_bytes_per_s)
    assert faster.memory_bytes_per_s == 2 * h20.memory_bytes_per_s
    assert faster.source_of("memory_bytes_per_s").source.kind == "assumption"
    assert dataclasses.replace(h20, tdp_w=500.0).tdp_w == 500.0


def test_malformed_catalog_entries_are_rejected() -> None:
    with pytest.raises(ValueError, match="must be positive"):
        dataclasses.replace(catalog.chip("h20"), memory_bytes=0.0)


def test_a_system_name_where_a_chip_is_expected_gives_its_chip() -> None:
    assert catalog.chip("gb200").id == "nvidia-gb200" and catalog.chip("gb300").id == "nvidia-gb300"
    assert catalog.system("gb200").id == "gb200-nvl72"
    with pytest.raises(CatalogError, match="unknown chip 'h2o'; did you mean nvidia-h20, "):  # ids, each once
        catalog.chip("h2o")


def test_a_chip_resolves_to_its_system_or_says_it_is_in_none() -> None:
    """`compare b30a` runs the reported B30A in its assumed 8-GPU node (it said 'unknown system or chip', suggesting
    b30a itself); a chip no system holds (the Ascend 970, a 2028 roadmap part) says so."""
    from parity import catalog
    assert catalog.system("b30a").id == "hgx-b30a" and catalog.system("b30a").status == "reported"
    with pytest.raises(CatalogError, match="no system in the catalog uses chip 'huawei-ascend-970' "
                                           "\\(status: roadmap\\)"):
        catalog.system("huawei-ascend-970")


def test_a_chip_in_no_system_says_what_a_user_can_do() -> None:
    """The message said 'a system file in data/systems would put it in one': inside the installed package, which a user
    does not edit (a user folder adds no system). It names the Python call that puts the chip in another chip's system,
    and that call, filled in, runs."""
    import re

    import parity
    from parity import catalog
    with pytest.raises(CatalogError) as caught:
        catalog.system_for(catalog.chip("huawei-ascend-970"))
    said = str(caught.value)
    assert "data/systems" not in said and "commands run a chip only in a catalog system" in said
    call = re.search(r"from Python, (parity\.what_if\(.*\)) puts it in another chip's system$", said)
    assert call, said
    filled = call.group(1).replace("SYSTEM", "atlas-950-superpod").replace("NOTE", "a 970 pod").replace("NEW-ID",
                                                                                                       "pod-970")
    pod = eval(filled, {"parity": parity})  # noqa: S307 - the message's own line
    assert (pod.id, pod.chip.id, pod.chips) == ("pod-970", "huawei-ascend-970", 8_192)
    (row,) = parity.compare([pod], catalog.model("llama-3.1-8b"), catalog.engine("generic"), 0.05, 1024, 1024)
    assert row.system == "pod-970" and row.tokens_per_s_per_chip > 0


_NODE = {"id": "test-node", "name": "Test node", "chip": "nvidia-h100-sxm",
         "interconnect": {"scale_up_latency": {"value": "3 us", "source": "assumption-link-latency"},
                          "scale_out_latency": {"value": "4 us", "source": "assumption-scale-out-latency"}},
         "power": {"system": {"value": "10.2 kW", "source": "assumption-node-power"}}}
_STRUCTURE = {"chips": {"value": 8, "source": "nv-hgx"},
              "scale_up_domain_chips": {"value": 8, "source": "nv-hgx"},
              "scale_up_topology": {"value": "switch", "source": "nv-hgx", "note": "four NVSwitch 3 chips"}}


def _load_system(data: dict[str, object]) -> System:
    from parity.catalog.hardware_files import _system_from
    return _system_from(data, "systems/test-node.toml", {c.id: c for c in catalog.chips()})


def test_a_system_file_gives_its_structure_with_sources() -> None:
    """chips, scale_up_domain_chips and scale_up_topology live in [structure], each with a source; the system may cite
    the sources its chip cites (nv-hopper-wp is declared in the H100's chip file, not in sources.toml)."""
    node = _load_system(_NODE | {"structure": _STRUCTURE})
    assert (node.chips, node.scale_up_domain_chips, node.scale_up_topology) == (8, 8, "switch")
    assert node.source_of("chips").value == 8 and isinstance(node.source_of("chips").value, int)
    assert node.source_of("scale_up_topology").note == "four NVSwitch 3 chips"
    cited = _STRUCTURE | {"chips": {"value": 8, "source": "nv-hopper-wp"}}
    assert _load_system(_NODE | {"structure": cited}).source_of("chips").source.kind == "datasheet"


@pytest.mark.parametrize(("data", "message"), [
    (_NODE | {"chips": 8, "scale_up_domain_chips": 8, "scale_up_topology": "switch"},
     "systems/test-node.toml: needs a [structure] table with chips, scale_up_domain_chips, scale_up_topology, each "
     "{ value = ..., source = \"id\" } (not bare keys: the chip count, scale-up domain and topology are sourced "
     "numbers too)"),
    (_NODE | {"structure": _STRUCTURE, "chips": 8}, "systems/test-node.toml: needs a [structure] table"),  # a bare key beside the table
    (_NODE | {"structure": _STRUCTURE | {"chips": {"value": 8}}},
     "systems/test-node.toml: structure.chips has no source"),
    (_NODE | {"structure": _STRUCTURE | {"chips": 8}},
     "systems/test-node.toml: structure.chips must be a table with value and source, got 8"),
    (_NODE | {"structure": _STRUCTURE | {"chips": {"value": 7.5, "source": "nv-hgx"}}},
     "systems/test-node.toml: structure.chips must be a whole count, got 7.5"),
    (_NODE | {"structure": {k: v for k, v in _STRUCTURE.items() if k != "scale_up_topology"}},
     "systems/test-node.toml [structure]: missing key 'scale_up_topology'"),
    (_NODE | {"structure": _STRUCTURE | {"topology": {"value": "torus", "source": "nv-hgx"}}},
     "systems/test-node.toml: unknown [structure] keys ['topology']"),
])
def test_a_system_without_a_sourced_structure_is_refused(data: dict[str, object], message: str) -> None:
    with pytest.raises(CatalogError) as caught:
        _load_system(data)
    assert str(caught.value).startswith(message)


def test_names_typed_with_spaces_match_as_with_dashes() -> None:
    """`parity show "H100 SXM"` was refused where h100_sxm and H100-SXM were taken (fuzz round DO 2): spaces inside a
    name match as '-' and '_' do, for chips, systems and models."""
    from parity.catalog.files import name_key
    assert name_key("  H100 SXM ") == name_key("h100_sxm") == "h100-sxm"
    assert catalog.chip("H100 SXM").id == "nvidia-h100-sxm" and catalog.chip("Ascend 910C").id == "huawei-ascend-910c"
    assert catalog.system("GB200 NVL72").id == "gb200-nvl72" and catalog.model("Llama 3.1 70B").name == "llama-3.1-70b"


def test_a_name_short_of_a_letter_is_suggested_before_a_longer_one_it_begins() -> None:
    """'sglan' suggested sglang-cann, not sglang, one letter away (fuzz round DO 6)."""
    from parity.catalog.files import close_matches
    assert close_matches("sglan", ["generic", "sglang-cann", "sglang-rocm", "sglang", "trtllm"])[0] == "sglang"


def test_a_vendors_name_before_a_chip_or_its_title_resolves() -> None:
    """'NVIDIA H20' resolved (an alias) where 'NVIDIA H100' and the catalog's own title 'AMD Instinct MI300X' were
    refused, and 'NVIDIA H200' was offered nvidia-h20 first (fuzz round DS 3, 4): the vendor's first word and the
    title are read, and a typed name is compared with its spaces as dashes."""
    assert [catalog.chip(n).id for n in ("NVIDIA H100", "NVIDIA B200", "AMD Instinct MI300X")] == [
        "nvidia-h100-sxm", "nvidia-b200-sxm", "amd-mi300x"]
    assert catalog.system("NVIDIA GB200 NVL72").id == "gb200-nvl72"
    with pytest.raises(CatalogError, match=r"unknown chip 'Ascend 910'; did you mean huawei-ascend-910b, "
                                           r"huawei-ascend-910c, "):
        catalog.chip("Ascend 910")
