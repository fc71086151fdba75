"""How the catalog reads its sources: one capacity unit per vendor table, vendor totals that differ from parity's by
a unit explained in the file, parity's own arithmetic labelled `derived`, and no reserved source cited."""

import re
from pathlib import Path

import pytest

from parity import catalog
from parity.catalog.files import data_dir
from parity.hardware import Chip, Source
from parity.policy import tpp

# Sources this project may not use for hardware numbers (see data/measurements/README.md): their figures are
# held-out results, so a chip, system or source file citing one would leak them into the catalog.
RESERVED = ("flagperf", "flagopen", "cann-recipes", "xdeepserve", "pangu", "mindspeed", "inferencex", "atom")


def _source(chip: Chip, field: str) -> Source:
    return next(p.source for p in chip.provenance if p.field == field)


def _note(chip: Chip, field: str) -> str:
    return next(p.note for p in chip.provenance if p.field == field)


@pytest.mark.parametrize(("chip_id", "gb"), [("google-tpu-v4", 32), ("google-tpu-v5p", 95), ("google-tpu-v6e", 32),
                                             ("google-tpu7x", 192), ("aws-trainium2", 96), ("aws-trainium3", 144),
                                             ("nvidia-h100-sxm", 80), ("amd-mi300x", 192), ("huawei-ascend-910c", 128)])
def test_every_vendor_s_hbm_figure_is_read_in_decimal_gb(chip_id: str, gb: int) -> None:
    """HBM stacks are binary-sized, and vendors write GB (NVIDIA, AMD, Huawei; Google's v5p and v6e pages) or GiB
    (Google's TPU7x table, the v4 page, AWS's Neuron docs) for them: TPU7x was read as 192 GiB and v5p as 95 GB, so a
    TPU7x held 7% more bytes than a chip quoted with the same stacks. Every figure is read as decimal GB, so every
    vendor is understated alike and comparisons hold."""
    assert catalog.chip(chip_id).memory_bytes == gb * 1e9


def test_the_ironwood_pod_holds_google_s_1_77_pb() -> None:
    """9,216 x 192 GB = 1.769e15 B, Google's '1.77 PB' (1.90 PB when the chip was read as 192 GiB)."""
    pod = catalog.system("tpu7x-pod")
    assert pod.memory_bytes == pytest.approx(1.769472e15)
    assert "1.77 PB HBM (9,216 x 192 GB)" in pod.notes


def test_the_atlas_950_superpod_note_explains_huawei_s_1152_tb() -> None:
    """8,192 x 144 GB = 1,179.6 TB; Huawei's 1,152 TB = 8,192 x 144 / 1,024."""
    pod = catalog.system("atlas-950-superpod")
    assert pod.memory_bytes == pytest.approx(1.179648e15)
    assert "Huawei's 1,152 TB divides by 1,024 instead of 1,000" in pod.notes


def test_no_chip_system_or_source_file_cites_a_reserved_source() -> None:
    """The MetaX C500 cited FlagPerf's repository for its memory, FP32 and INT8; those are press, derived and
    assumption now."""
    root = data_dir()
    files = [root / "sources.toml", *sorted((root / "chips").glob("*.toml")),
             *sorted((root / "systems").glob("*.toml"))]
    cited = [(Path(f).name, word) for f in files for word in RESERVED
             if re.search(rf"\b{word}\b", f.read_text().lower())]
    assert cited == []


@pytest.mark.parametrize(("chip_id", "field", "kind"), [
    ("metax-c500", "peak_flop_per_s.fp32", "press"),
    ("metax-c500", "peak_flop_per_s.int8", "derived"),
    ("metax-c500", "memory_bytes", "assumption"),
    ("nvidia-gb200", "tdp_w", "derived"),
    ("nvidia-b300-sxm", "peak_flop_per_s.int8", "derived"),
    ("huawei-ascend-910c", "peak_flop_per_s.bf16", "derived"),
    ("kunlunxin-p800", "memory_bytes", "press"),
    ("alibaba-t-head-ppu", "native", "assumption"),
    ("kunlunxin-p800", "native", "assumption"),
    ("cambricon-mlu590", "native", "assumption"),
    ("nvidia-b30a", "native", "assumption"),
    ("metax-c500", "native", "press"),
])
def test_parity_s_own_arithmetic_and_guesses_are_labelled_as_such(chip_id: str, field: str, kind: str) -> None:
    """GB200's 1,200 W is parity's share of NVIDIA's 2,700 W superchip and B300's INT8 150 is scaled from the GB300
    NVL72 page; both were labelled `datasheet`/`press`. The C500's three numbers were an analyst-estimate bundle.
    The 910C's 800 TFLOP/s is the A3 SuperPoD page's 307.2 PFLOPS over 384 NPUs, not a per-chip datasheet figure;
    the P800's 96 GB is a PaddlePaddle deployment doc's machine name, not a datasheet. The PPU's, P800's and
    MLU590's format lists are parity's assumption (their notes say from what), not CCTV's table, the P800's FP16
    press rate or the MLU590's press notes, which name none of them; the B30A's are B300's, which no report gives;
    the C500's are a page that lists them (see the next test)."""
    assert _source(catalog.chip(chip_id), field).kind == kind


def test_an_assumed_format_list_says_what_it_is_assumed_from_and_a_sourced_one_names_its_formats() -> None:
    """An assumed list's note names its basis (the A800, A100/A800-class GPUs, the MLU370 line, B300); the C500's
    source, Gitee AI's docs quoting MetaX's data, names every format the list holds and says FP8 is unsupported; the
    910C's note carries its arithmetic."""
    bases = {"alibaba-t-head-ppu": "A800", "kunlunxin-p800": "A100/A800-class", "cambricon-mlu590": "MLU370",
             "nvidia-b30a": "B300"}
    for chip_id, basis in bases.items():
        assert "assumed" in _note(catalog.chip(chip_id), "native") and basis in _note(catalog.chip(chip_id), "native")
    c500 = catalog.chip("metax-c500")
    page = _source(c500, "native")
    assert page.url == "https://ai.gitee.com/docs/compute/domestic-gpu"
    assert all(f.upper() in page.title for f in c500.native) and "fp8" not in c500.native
    assert "307.2 PFLOPS FP16 / 384 NPUs = 800" in _note(catalog.chip("huawei-ascend-910c"), "peak_flop_per_s.bf16")


def test_b300_bandwidth_cites_blackwell_ultra_not_another_product() -> None:
    """8 TB/s was sourced to the GB300 NVL72 page; NVIDIA's Blackwell Ultra blog gives the GPU's own 8 TB/s."""
    b300 = catalog.chip("nvidia-b300-sxm")
    assert b300.memory_bytes_per_s == 8e12
    assert _source(b300, "memory_bytes_per_s").id == "nv-blackwell-ultra-blog"


def test_b300_int8_keeps_the_hgx_page_reading_in_its_note() -> None:
    """150 TOP/s dense (GB300 page 23-24 POPS sparse / 72 / 2 x 13.5 / 15 = 144-150); HGX '2 POPS' / 8 / 2 = 125."""
    b300 = catalog.chip("nvidia-b300-sxm")
    assert b300.peak("int8") == 150e12
    assert "= 125" in _note(b300, "peak_flop_per_s.int8")


def test_910c_int8_names_the_paper_s_1504_beside_the_derived_1600() -> None:
    """1,600 = 2 x 800 (A3 page); the CloudMatrix paper's op-level INT8 peak 1,504 = 2 x 752 is kernels_published's."""
    chip = catalog.chip("huawei-ascend-910c")
    assert chip.peak("int8") == 1600e12
    assert "1,504" in _note(chip, "peak_flop_per_s.int8")


def test_l20_fp32_is_half_the_bf16_rate_and_keeps_tpp_1912() -> None:
    """Ada datasheets give FP32 = dense TF32 = dense BF16 / 2 (L40 90.5 / 90.5 / 181): 119.5 / 2 = 59.75, which the
    partner sheet prints as 59.8. It was 59.35 (11,776 cores x 2 x 2.52 GHz); 59.75 x 32 = 1,912 = 239 x 8."""
    l20 = catalog.chip("nvidia-l20")
    assert l20.peak("fp32") == 59.75e12
    assert tpp(l20).tpp == pytest.approx(1912)
    assert "fp32" in tpp(l20).tied


def test_b30a_memory_is_half_of_the_b300_figure_the_catalog_stores() -> None:
    """Every B30A figure is half of HGX B300's, but its memory was 288 / 2 = 144 GB (physical) against the B300's
    270 GB usable, so hgx-b30a showed 1,152 / 2,160 = 0.53x hgx-b300's memory. It is 270 / 2 = 135 GB: 0.50x, as
    its compute, bandwidth and power."""
    b30a, b300 = catalog.system("hgx-b30a"), catalog.system("hgx-b300")
    assert b30a.chip.memory_bytes == 135e9 and b30a.memory_bytes / b300.memory_bytes == 0.5
    assert b30a.chip.source_of("memory_bytes").note.startswith("270 / 2: half of B300's usable 270 GB")
