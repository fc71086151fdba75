"""`parity policy`: US export-control metrics of chips, and what a chip scaled to just under a rule's
line would deliver on a workload."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from parity import catalog
from parity.cli import cli, emit, format_option, out_option, output_format, refuse_repeats, typed_options
from parity.cli.files import model_file, refuse_overwrite
from parity.cli.labels import flags_caption
from parity.cli.mtp import mtp_caption, mtp_option, refuse_mtp_without_layers
from parity.cli.values import DEFAULT_TTFT, ENGINE, TOKENS, Targets, targets_options
from parity.compare import DEFAULT_MODELS, compare
from parity.dtypes import FORMATS
from parity.errors import CatalogError, ParityError
from parity.export import Decision, class_fields, decisions, domestic, eccn_shown, eccn_text, kept_by_text
from parity.export import near_footnote
from parity.hardware import Chip
from parity.policy import RULES, THRESHOLD_RULES, TF32_BITS, Assessment, assess, at_threshold, measured_within, tpp
from parity.policy import JAN2026_DRAM_BYTES_PER_S, PD_LINES, TPP_LINES
from parity.policy import LETTER_CAPTION, LETTER_RULE, PD_KEY, REVERSED_FOOTNOTE, ZONE_NA, \
    performance_density
from parity.report.tables import Column, over_interval, plain, ratio, reached, scaled
from parity.uncertainty import WHAT_IF_RESPONSE, widening_words


def _number(digits: int) -> Any:
    def show(value: Any) -> str:
        return "-" if value is None else f"{float(value):,.{digits}f}"  # '-' as the report's table writes it
    return show


MORE_DIGITS = 3  # digits _under_lines adds at most: a figure a thousandth of its last shown digit under a line


def _under_lines(shown_at: Callable[[int], Callable[[Any], str]], digits: int, lines: Sequence[float],
                 factor: float = 1.0) -> Callable[[Any], str]:
    """A column's figures at `digits` (shown_at(digits): _number's decimals, scaled's figures; `factor` what a
    shown figure is in), with more digits where a figure just under one of `lines` would round onto it: the
    at-threshold B200's 6,499 GB/s read 'mem TB/s 6.5', at the < 6,500 GB/s line it sits under (report-only tester
    fuzzED 3); it reads 6.499."""
    def show(value: Any) -> str:
        text = shown_at(digits)(value)
        if not isinstance(value, (int, float)) or math.isnan(value):
            return text
        for more in range(digits + 1, digits + MORE_DIGITS + 1):
            if not any(value < line <= float(text.replace(",", "")) * factor for line in lines):
                break
            text = shown_at(more)(value)
        return text
    return show


_TPP = _under_lines(_number, 0, TPP_LINES)
_PD = _under_lines(_number, 2, PD_LINES)
_BANDWIDTH = _under_lines(lambda digits: scaled(1e12, digits), 3, (JAN2026_DRAM_BYTES_PER_S,), 1e12)  # TB/s


def _china(chip: Chip, decided: Mapping[str, Decision]) -> dict[str, Any]:
    """What `fleet --rule` and `compare --rule` decide for a buyer in China (export.decisions), for JSON and CSV:
    domestic (the vendor where it is a PRC one, else ''), kept_by (the rules that keep the chip) and rules, each rule's
    decision and why, a list of records as the verdicts are (a rule id such as 3a090.a is a value, never a key, so
    CSV's columns are names: china_domestic, china_kept_by, china_rules)."""
    return {"domestic": chip.vendor if domestic(chip) else "",
            "kept_by": [rule for rule, d in decided.items() if d.kept],
            "rules": [{"rule": rule, "kept": d.kept, "why": d.why} for rule, d in decided.items()]}


def _record(a: Assessment, china: dict[str, Any]) -> dict[str, Any]:
    """One chip's record, the same in JSON and CSV (CSV spreads the 'china' mapping over china_* columns and writes
    each list as one cell of JSON text, as every command's CSV does): the assessment (Assessment.to_dict) with what a
    buyer in China gets (_china)."""
    return a.to_dict() | {"china": china}


def _row(a: Assessment, china: dict[str, Any], kept_by: str) -> dict[str, Any]:
    """A table's row, for people: the figures as words ('bf16/fp8/int8', 'unknown: a.2/b.2/outside', NAC 'unknown'
    where the class decides it), the verdicts and the 2026 zone marked REVERSED_MARK where another reading of TPP
    reverses them, the class NEAR_MARK where a metric lies near a line, china_kept_by (`kept_by`,
    export.kept_by_text) a word ('domestic', 'none', 'jan2026'), and a note where the chip is domestic in China.
    JSON and CSV carry the record (_record), never these words."""
    home = ([f"domestic in China ({china['domestic']}): a buyer there needs no US export licence; the US class holds "
             "for exports elsewhere"] if china["domestic"] else [])
    return {"chip": a.chip, "tpp": a.tpp, "tpp_format": a.set_by, PD_KEY: a.performance_density,
            "eccn_3a090": eccn_shown(a), "license_exception_nac": a.nac_shown,
            "jan2026_zone": a.zone_shown, "notes": "; ".join([*home, *a.notes]),
            **{f"rule_{v.rule}": v.shown for v in a.verdicts}, f"rule_{LETTER_RULE}": a.letter_shown,
            "china_kept_by": kept_by}


_CAPTION = ("TPP = max over dense peaks of TOP/s x bit length; PD = TPP / logic die area (mm2; -: die area unknown). "
            + "; ".join(f"{r.id}: {r.citation}, {r.date}" for r in RULES)
            + f". Oct-2022 I/O assumed = scale-up bandwidth x 2. {LETTER_CAPTION} 2026 zone: TPP < 21,000 and DRAM "
              f"< 6,500 GB/s, the January 2026 case-by-case review line; {ZONE_NA}.")


# what the China column says, and how it follows from the verdicts
CHINA_CAPTION = ("China, kept by: the --rule values under which `fleet` and `compare` keep the chip for a buyer in "
                 "China (why, per rule: 'china' in --format json); 'domestic': a PRC vendor's chip, kept under every "
                 "rule (no US export licence there); a chip a licence letter requires a licence for is kept by none "
                 "(under jan2026 its verdict is unknown, and an unknown licence is not taken as granted); where the "
                 "H20 letter's verdict is unknown, the lines decide.")


@cli.command(name="policy")
@click.argument("chips", nargs=-1)
@click.option("--tf32-bits", default="0", show_default=True, type=click.Choice([str(b) for b in TF32_BITS]),
              help=f"bit length TF32 counts at in TPP, one of {TF32_BITS} (0: not counted; no BIS ruling)")
@click.option("--at-threshold", "threshold_chip", default=None, metavar="CHIP",
              help="scale CHIP's peak rates to just under --rule and compare it with CHIP on a workload")
@click.option("--rule", default=None, type=click.Choice(THRESHOLD_RULES, case_sensitive=False),
              help="with --at-threshold: 3a090 (outside 3A090, default), 3a090.a (3A090.b at most) or jan2026")
@click.option("--model", default=None, help=f"with --at-threshold: catalog model or config.json "
              f"(default {DEFAULT_MODELS[0]})")
@click.option("--system", "system_name", default=None,
              help="with --at-threshold: a system of CHIP to put the chips in (default: CHIP's smallest system)")
@targets_options(ttft_default=DEFAULT_TTFT)
@click.option("--isl", default=None, type=TOKENS, help="with --at-threshold: prompt tokens per request (default 1024)")
@click.option("--osl", default=None, type=TOKENS, help="with --at-threshold: output tokens per request (default 1024)")
@click.option("--engine", type=ENGINE, default=None, help="with --at-threshold: serving-engine profile (default generic)")
@mtp_option("with --at-threshold: ")
@format_option
@out_option
def policy_command(chips: tuple[str, ...], tf32_bits: int | str, threshold_chip: str | None, rule: str | None,
                   model: str | None, system_name: str | None, targets: Targets, isl: int | None,
                   osl: int | None, engine: str | None, mtp_tokens: int | None, fmt: str, out: Path | None) -> None:
    """US export-control metrics (TPP, performance density, ECCN 3A090, Jan-2026 case-by-case zone) of
    CHIPs (default: every catalog chip), or with --at-threshold the fastest variant of a chip under a rule, serving
    the workload as `compare` serves it (its targets and the model's MTP default)."""
    refuse_overwrite([("--model", model_file(model))], [("--out", out)])
    fmt = output_format(fmt, out)  # a --format that contradicts the suffix of --out, refused before any work
    tf32_bits = int(tf32_bits)  # one of TF32_BITS, as --tf32-bits names them
    if threshold_chip is not None:
        if chips:
            raise ParityError(f"give chips or --at-threshold, not both (got {', '.join(chips)})")
        _threshold(threshold_chip, rule or "3a090", DEFAULT_MODELS[0] if model is None else model, system_name,
                   targets, 1024 if isl is None else isl, 1024 if osl is None else osl, engine or "generic", mtp_tokens,
                   tf32_bits, fmt, out)
        return
    given = [name for name, value in (("--rule", rule), ("--model", model), ("--system", system_name),
                                      ("--isl", isl), ("--osl", osl), ("--engine", engine), ("--mtp", mtp_tokens))
             if value is not None] + typed_options({"--tpot": "tpot_s", "--ttft": "ttft_s"})
    if given:
        raise ParityError(f"{', '.join(given)} only appl{'ies' if len(given) == 1 else 'y'} with --at-threshold CHIP")
    found = _chips_named(chips) if chips else list(catalog.chips())
    results = [assess(c, tf32_bits) for c in found]
    decided = [decisions(c, tf32_bits) for c in found]
    china = [_china(c, d) for c, d in zip(found, decided)]
    records = [_record(a, home) for a, home in zip(results, china)]
    rows = records if fmt in ("csv", "json") else [_row(a, home, kept_by_text(c, d))
                                                   for a, c, d, home in zip(results, found, decided, china)]
    columns = [Column("chip", "chip", plain, "left"), Column("tpp", "TPP", _TPP),
               Column("tpp_format", "set by", plain, "left", wide=2),  # after the H20 letter's verdict, at 80
               Column(PD_KEY, "PD /mm2", _PD),
               Column("eccn_3a090", "ECCN 3A090", plain, "left", wrap=True),
               Column("license_exception_nac", "NAC", plain, wide=2),
               Column("rule_oct2022", "Oct-2022", plain, "left", wide=2),  # superseded: after the rest
               Column(f"rule_{LETTER_RULE}", "H20 letter", plain, "left", wide=True),
               Column("jan2026_zone", "2026 zone", plain),
               Column("china_kept_by", "China:\nkept by", plain, "left"),
               Column("notes", "notes", plain, "left", wide=True)]
    tf32 = "TF32 not counted" if tf32_bits == 0 else f"TF32 at {tf32_bits} bits"
    reversed_rows = [f"{a.chip} {r}" for a in results for r in a.reversals]
    emit(rows, columns, fmt, title=f"US export-control metrics ({tf32})",
         caption=_CAPTION + (f" {REVERSED_FOOTNOTE}: {'; '.join(reversed_rows)}." if reversed_rows else "")
         + near_footnote(results, "notes, near_lines in --format json")
         + f" {CHINA_CAPTION}",
         payload=records, out=out)


EACH_CHIP = "each chip is assessed once"


def _chips_named(names: tuple[str, ...]) -> list[Chip]:
    """The chips `names` name (a system's name its chip), one chip named twice refused; where a system stands for a
    chip also named, the message says so ('cloudmatrix-384 is assessed as its chip, huawei-ascend-910c, already
    named')."""
    found = [catalog.chip(name) for name in names]

    def entry(name: str, chip: Chip) -> str:
        try:
            catalog.resolve(name, catalog.chips(), "chip")
        except CatalogError:
            return catalog.system(name).id
        return chip.id

    entries = [entry(name, chip) for name, chip in zip(names, found, strict=True)]
    refuse_repeats(entries, EACH_CHIP)  # one chip or one system named twice
    for chip_id in dict.fromkeys(c.id for c in found):
        systems = [e for e, c in zip(entries, found) if c.id == chip_id and e != chip_id]
        if len(systems) + (chip_id in entries) > 1:
            verb, its = ("is", "its") if len(systems) == 1 else ("are", "their")
            raise ParityError(f"{' and '.join(systems)} {verb} assessed as {its} chip, {chip_id}"
                              + (", already named" if chip_id in entries else "") + f": {EACH_CHIP}")
    return found


def _measured_beside(variant: Chip, weights: object, model: str) -> tuple[tuple[Chip, ...], str]:
    """The shipping chips measured on their own with no serving figure above the variant's (policy.measured_within:
    its weights' rate and bf16, memory, links), and a sentence for the caption saying so ('' where none): the
    variant runs its original's calibration on scaled rates, they their own."""
    ran = FORMATS.get(weights) if isinstance(weights, str) else None
    keys = tuple(dict.fromkeys(k for k in (ran.math if ran else "", "bf16") if k))
    peers = measured_within(variant, keys)
    if not peers:
        return peers, ""
    one = len(peers) == 1
    systems = " ".join(catalog.system_for(c).id for c in peers)
    its = "its" if one else "their"
    return peers, (f" {', '.join(c.id for c in peers)}: shipping, calibrated on {its} own measurements, with no "
                   f"{'/'.join(keys)} rate, memory, memory bandwidth or link above the what-if's, which runs "
                   f"{variant.id}'s calibration on scaled rates: `parity compare {systems} --model {model}` prices "
                   f"{'it' if one else 'them'} on {its} own.")


def _interval_words(basis: str) -> str:
    """Where the output ratio's 80% interval comes from (compare.RATIO_BASES `basis`), for the caption: the chip at
    the line is the chip itself with its rates scaled, priced with its calibration, stack and engine, so the errors the
    two predictions share cancel, and the interval is parity's response to the scaling alone (uncertainty.
    response_interval), or exact where the scaling moves nothing; the vendor bands where the two do not share them."""
    if basis in ("exact", "response"):
        return ("parity's response to the scaling alone: the chip at the line is the chip itself, priced with its "
                "calibration, stack and engine, so the errors the two predictions share cancel"
                + (" ('exact': the scaling moves neither rate)" if basis == "exact" else
                   f", its log half-width {WHAT_IF_RESPONSE:g} of |ln(predicted ratio)|, or both chips' bands "
                   "where those give a narrower interval (docs/model.md, Uncertainty)"))
    return ("from the cross-source residuals of the chip's vendor (parity validate --by source), the band of the chip "
            f"at the line, which nothing measured, {widening_words('for a what-if chip')}: the bands, not parity's "
            "response to the scaling alone, as the two predictions raise different flags or the bands give the "
            "narrower interval (docs/model.md, Uncertainty)")


def _threshold(chip_name: str, rule: str, model_name: str, system_name: str | None, targets: Targets, isl: int,
               osl: int, engine: str, mtp_tokens: int | None, tf32_bits: int, fmt: str, out: Path | None) -> None:
    chip, model, profile = catalog.chip(chip_name), catalog.model(model_name), catalog.engine(engine)
    refuse_mtp_without_layers([model], mtp_tokens)
    drafts = catalog.mtp_drafts(model, mtp_tokens)
    found = at_threshold(chip, rule, tf32_bits=tf32_bits)
    # an empty --system is a mistake, refused by the catalog, not the default
    base = catalog.system_for(chip) if system_name is None else catalog.system(system_name)
    if base.chip.id != chip.id:
        # a system's links, scale-up domain and power are stated for its own chip: another chip in it is a machine
        # nobody built, and its row would carry the system's name
        own = sorted(s.id for s in catalog.systems() if s.chip.id == chip.id)
        raise ParityError(f"--system {base.id} holds {base.chip.id}, not {chip.id}: give a system of {chip.id} "
                          f"({', '.join(own) or 'none in the catalog'})")
    original = dataclasses.replace(base, chip=chip)
    variant = dataclasses.replace(base, id=f"{base.id}@{found.rule}", chip=found.chip)
    results = compare([original, variant], model, profile, targets.tpot_s, isl, osl, None, original, targets.ttft_s,
                      mtp_tokens=drafts)
    rows = []
    classes = [assess(system.chip, tf32_bits) for system in (original, variant)]
    for system, result, a in zip((original, variant), results, classes):
        c = system.chip
        rows.append(result.to_dict() | class_fields(a) | {  # the class in policy's record fields, as fleet's rows
            "tpp": tpp(c, tf32_bits).tpp, PD_KEY: performance_density(c, tf32_bits),
            "jan2026_zone": a.jan2026_zone, "bf16_flop_per_s": c.peak("bf16"),
            "memory_bytes_per_s": c.memory_bytes_per_s,
            "rate_factor": found.rate_factor if c is found.chip else 1.0,
            "prefill_ratio": (result.prefill_tokens_per_s_per_chip / results[0].prefill_tokens_per_s_per_chip
                              if result.fits and results[0].fits else float("nan"))})
    # a PRC vendor's chip: no US line binds a buyer in China (export.domestic), so the variant answers a what-if of
    # its exports elsewhere, or of the line applied to it; said where the description is
    home = (f"; {chip.id}: {domestic(chip)} for a buyer in China, whom the line does not bind; this is the chip as "
            f"if {found.rule} applied to it (its exports elsewhere)") if domestic(chip) else ""
    beside = _measured_beside(found.chip, rows[1].get("weights"), model_name)
    summary = {"rule": found.rule, "chip": chip.id, "variant": f"{chip.id}@{found.rule}", "rate_factor": found.rate_factor,
               "memory_factor": found.memory_factor, "tpp": found.tpp,
               PD_KEY: found.performance_density, "eccn_3a090": found.eccn_3a090 or "outside",
               "binding": found.binding, "licence_letter": found.letter, "description": found.description + home,
               "measured_within": [c.id for c in beside[0]]}
    # the variant's rule under its system's id ('hgx-h100' over '@3a090'), as compare puts a system over two lines,
    # and the decode header over two, so the note keeps room for its longest word at 80 columns
    columns = [Column("system", "system", lambda name: name.replace("@", "\n@"), "left"),
               Column("tpp", "TPP", _TPP),
               Column(PD_KEY, "PD /mm2", _PD, wide=True),
               Column("eccn_3a090", "ECCN 3A090", plain),
               Column("rate_factor", "rates x", ratio, wide=True),
               Column("bf16_flop_per_s", "BF16 TFLOP/s", scaled(1e12), wide=True),
               Column("memory_bytes_per_s", "mem TB/s", _BANDWIDTH, wide=True),
               Column("weights", "weights", plain, "left", wide=True),
               Column("layout", "layout", plain, "left", wide=True),
               Column("prefill_tokens_per_s_per_chip", "prefill\ntok/s/chip", reached(scaled(1)), wide=True),
               # every chip of the deployment counted (a disaggregated one's prefill chips too), as compare's tok/s/chip
               Column("tokens_per_s_per_chip", "out\ntok/s/chip", reached(scaled(1))),
               Column("decode_cell", "out x\n80% int.", plain),
               Column("prefill_ratio", "prefill x", ratio, wide=True),
               Column("note", "note", plain, "left")]
    shown = rows if fmt not in ("table", "md") else [  # the output ratio over its 80% interval, as compare shows it
        r | {"decode_cell": f"{ratio(r['decode_ratio'])}\nexact" if r.get("ratio_basis") == "exact" else
             over_interval(ratio(r["decode_ratio"]), *r["ratio_interval"]), "eccn_3a090": eccn_text(a)}
        for r, a in zip(rows, classes)]  # the class in words ('unknown: a.2/b.1/outside'), its near mark the list's
    mtp_text = mtp_caption(model, drafts, mtp_tokens is not None, "on both")
    emit(shown, columns, fmt, payload={"threshold": summary, "rows": rows}, out=out,
         title=f"{chip.name} just under {found.rule}: {model.name}, {isl} in / {osl} out at {targets.text(True)}",
         caption=flags_caption(model, model_name,
                               [(s.id, r.fits, r.flags) for s, r in zip((original, variant), results)])
                 + f"{found.description}{home}.{beside[1]} out tok/s/chip: output tokens/s per chip, every chip of "
                 "the deployment counted (a disaggregated one's prefill chips too), as compare's; prefill tok/s/chip: "
                 "a prefill worker's prompt tokens/s per chip. 80% int.: the 80% interval of the output ratio (under "
                 f"it; ratio_interval in --format json), {_interval_words(results[1].ratio_basis)}, as compare gives "
                 f"it. Engine profile: {profile.id}"
                 + (f". {mtp_text}" if mtp_text else "."))
