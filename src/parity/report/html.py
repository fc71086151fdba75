"""The HTML report: the seed story's questions answered with numbers, plots and every source used.

`build_report` runs the comparisons (CloudMatrix 384 vs GB200 NVL72, Atlas 950 SuperPoD vs Vera Rubin
NVL144, the China-market nodes), the Pareto frontiers, the rooflines, a simulated run's timeline, the
export-control table and a fleet plan, writes the PNG plots into the output folder and one self-contained HTML page (plots
embedded) beside them.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from parity import catalog
from parity.compare import DEFAULT_SYSTEMS, Comparison, compare, compare_formats, default_mtp
from parity.errors import ParityError
from parity.export import Screened, eccn_shown, near_footnote, screen
from parity.fleet import basis_text, plan_fleet
from parity.hardware import Chip, System
from parity.model import Model
from parity.policy import assess
from parity.report.accuracy_section import accuracy_section
from parity.report.claims import claim_html
from parity.report.comparison import comparison_table, flags_legend, ratios_words
from parity.report.export_section import export_controls
from parity.report.frontier import frontier as searched_frontier
from parity.report.markup import catalog_id, esc, figure, in_words, num, sentence, table, times
from parity.report.notes import assumptions_html, group_assumptions, legend, rows_assumptions, without_mtp_hint
from parity.report.page import GENERATOR, SCRIPT, STYLE
from parity.report.plots import frontier_png, roofline_png, timeline_png
from parity.report.tables import money, reached, scaled, write_atomic
from parity.report.timeline import TimelineRun, simulated_run
from parity.report.version import version_text

__all__ = ["STAGES", "ReportSpec", "build_report", "check_spec", "nodes_heading"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportSpec:
    """What the report covers (defaults: the seed story's systems and models)."""

    model: str = "deepseek-r1"
    dense_model: str = "llama-3.1-70b"
    tpot_s: float = 0.05
    ttft_s: float | None = 5.0  # the mean TTFT bound, as compare's, fleet's and formats' --ttft default (5s)
    isl: int = 1024
    osl: int = 1024
    engine: str = "generic"
    supernodes: tuple[str, ...] = ("cloudmatrix-384", "gb200-nvl72")
    roadmap: tuple[str, ...] = ("atlas-950-superpod", "vera-rubin-nvl144")
    nodes: tuple[str, ...] = DEFAULT_SYSTEMS  # compare's: the H20, RTX Pro 6000D, H800, H100 ... and their rivals
    frontier_systems: tuple[str, ...] = ("gb200-nvl72", "cloudmatrix-384", "hgx-h200", "hgx-b200", "atlas-800-a3")
    policy_chips: tuple[str, ...] = ("nvidia-h100-sxm", "nvidia-h200-sxm", "nvidia-h20", "nvidia-l20",
                                     "nvidia-rtx-pro-6000d", "nvidia-b200-sxm", "amd-mi300x", "huawei-ascend-910b",
                                     "huawei-ascend-910c", "huawei-ascend-950dt")
    fleet_chips: tuple[str, ...] = ("nvidia-h20", "huawei-ascend-910c", "nvidia-h200-sxm", "nvidia-b200-sxm")
    fleet_demand_tokens_per_day: float = 2e12
    fleet_rule: str | None = None  # keep the fleet's chips a buyer in China gets under this rule (export.screen)
    format_systems: tuple[str, ...] = ("hgx-h20", "hgx-b200", "atlas-800-a3", "atlas-350-server")
    formats: tuple[str, ...] = ("fp8_block", "mxfp8", "int8", "nvfp4", "mxfp4")
    roofline_chips: tuple[str, ...] = ("nvidia-h20", "nvidia-h200-sxm", "nvidia-b200-sxm", "huawei-ascend-910b",
                                       "huawei-ascend-910c", "amd-mi300x")
    # the simulated run over time: dense_model on one worker of this system, at this TP and client count
    timeline_system: str = "hgx-h200"
    timeline_tp: int = 4
    timeline_concurrency: int = 256


def _ttft_words(ttft_s: float | None) -> str:
    """The TTFT bound beside the TPOT target in the report's lead ('' where none)."""
    return f" and a {ttft_s:g} s mean time-to-first-token bound" if ttft_s else ""


@dataclass
class _Page:
    sections: list[str] = field(default_factory=list)
    contents: list[tuple[str, str]] = field(default_factory=list)  # (anchor, heading html) for the contents list
    sources: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # id -> kind, title, url
    # each section's rows as (system, its assumptions), and the fleet's lines, for the Assumptions section
    rows: dict[str, list[tuple[str, tuple[str, ...]]]] = field(default_factory=dict)
    more: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def record(self, anchor: str, rows: Sequence[Comparison], model: Model) -> None:
        """A section's comparison rows, whose assumptions the Assumptions section groups."""
        self.rows[anchor] = [(r.system, without_mtp_hint(r.assumptions, model)) for r in rows]

    def section(self, anchor: str, heading: str, body: str) -> None:
        """A section under an <h2 id=anchor>, listed in the page's contents (heading: HTML, already escaped)."""
        self.contents.append((anchor, heading))
        self.sections.append(f"<h2 id='{anchor}'>{heading}</h2>{body}")

    def claim(self, system: System, baseline: System) -> str:
        """The headline claim about `system` against `baseline` in its source's own figures (claims.claim_html),
        its sources cited; '' where the catalog records none (other --supernodes)."""
        said = catalog.claim(system.id)
        if said is None or said.against != baseline.id:
            return ""
        for source in filter(None, (said.source, said.against_source)):
            self.sources[source.id] = (source.kind, source.title, source.url)
        return claim_html(said, system, baseline)

    def cite(self, item: Chip | System) -> None:
        for record in item.provenance:
            self.sources[record.source.id] = (record.source.kind, record.source.title, record.source.url)
        if isinstance(item, System):
            self.cite(item.chip)


def _without_power(note: str) -> str:
    """A formats row's note without 'power assumed': the table has no per-kW figure, so no figure in it rests on a
    system's power (the flag stays in the rows' JSON, as `parity formats` gives it)."""
    return "; ".join(part for part in note.split("; ") if part != "power assumed")


def nodes_heading(systems: Sequence[System]) -> str:
    """What the node tables hold, by their systems' chips: '8-chip nodes' where every system has 8, else 'Systems of
    8, 16 and 72 chips' (a heading of 8-chip nodes over an NVL72: report-only tester fixeg 3)."""
    counts = [f"{n:,}" for n in sorted({s.chips for s in systems})]
    if len(counts) == 1:
        return f"{counts[0]}-chip nodes"
    return f"Systems of {', '.join(counts[:-1])} and {counts[-1]} chips"


def _mtp_words(model: Model) -> str:
    """', with N MTP draft(s) a step' where the comparisons run the model with multi-token prediction."""
    drafts = default_mtp(model)
    return f", with {drafts} MTP draft token{'s' if drafts > 1 else ''} a decode step as it is deployed," if drafts else ""


def check_spec(spec: ReportSpec) -> tuple[Model, Model]:
    """The report's MoE model and its dense one, refused where the MoE model has no experts: the report sets
    one beside the other (a dense --model printed the dense model's node table twice); every system and chip named
    looked up, and the fleet's export rule applied, so that a wrong name or a rule that keeps no chip is refused
    before any work."""
    model, dense = catalog.model(spec.model), catalog.model(spec.dense_model)
    if "moe" not in model.features:
        raise ParityError(f"--model {model.name} is dense; the report sets a mixture-of-experts model (such as "
                          f"deepseek-r1) beside its dense one, {dense.name}: give an MoE model")
    catalog.engine(spec.engine)
    for name in (*spec.supernodes, *spec.roadmap, *spec.nodes, *spec.frontier_systems, *spec.format_systems,
                 spec.timeline_system):
        catalog.system(name)
    for name in (*spec.policy_chips, *spec.roofline_chips):
        catalog.chip(name)
    _fleet_kinds(spec)
    return model, dense


def _fleet_kinds(spec: ReportSpec) -> tuple[list[System], Screened | None]:
    """The systems the fleet section sizes (each of fleet_chips in its default system, or the system named), those
    a buyer in China gets under fleet_rule kept (PolicyError where none is), and the screening (None: no rule)."""
    kinds = [catalog.system(name) for name in spec.fleet_chips]
    screened = screen(kinds, spec.fleet_rule) if spec.fleet_rule else None
    return (list(screened.kept) if screened else kinds), screened


# the report's stages, in the order it computes them: a progress bar names the one under way and counts those done
STAGES = ("CloudMatrix 384 vs GB200 NVL72", "Atlas 950 SuperPoD vs Vera Rubin NVL144", "China-market nodes",
          "Number formats", "Pareto frontiers", "Rooflines", "Simulated run", "Export controls", "Fleet", "Accuracy")


def build_report(out: Path, spec: ReportSpec = ReportSpec(),
                 progress: Callable[[str, int], None] | None = None) -> Path:
    """Run the report's analyses, write PNGs and index.html into `out`; returns the page's path. `progress` is told,
    as each of STAGES begins, its name and how many stages are done (the bar stood at 10% while the first computed
    and at 100% for the last one's 9 s), and at the end 'written' with all of them done."""
    tell = progress or (lambda _label, _done: None)

    def step(label: str) -> None:
        tell(label, STAGES.index(label))

    page = _Page()
    model, dense = check_spec(spec)
    profile = catalog.engine(spec.engine)
    all_systems = {s: catalog.system(s) for s in (*spec.supernodes, *spec.roadmap, *spec.nodes,
                                                  *spec.frontier_systems)}
    for system in all_systems.values():
        page.cite(system)

    step("CloudMatrix 384 vs GB200 NVL72")
    pair = [all_systems[s] for s in spec.supernodes]
    headline = compare(pair, model, profile, spec.tpot_s, spec.isl, spec.osl, baseline=pair[1], ttft_s=spec.ttft_s,
                       mtp_tokens=default_mtp(model))
    cm = headline[0]
    page.record("cloudmatrix", headline, model)
    page.section(
        "cloudmatrix", "CloudMatrix 384 against GB200 NVL72",
        page.claim(pair[0], pair[1])
        + f"<p>On {esc(model.name)} at a {spec.tpot_s * 1e3:g} ms TPOT target"
        f"{_mtp_words(model)} parity predicts {ratios_words(cm, 'cm-per-system')} "
        f"(ratios to {esc(spec.supernodes[1])}; the table's x columns divide by it).</p>"
        + comparison_table(headline, all_systems, model, f"Predicted throughput of {spec.supernodes[0]} "
                           f"against {spec.supernodes[1]} on {model.name}, with ratios to {spec.supernodes[1]}"))

    step("Atlas 950 SuperPoD vs Vera Rubin NVL144")
    pair = [all_systems[s] for s in spec.roadmap]
    roadmap = compare(pair, model, profile, spec.tpot_s, spec.isl, spec.osl, baseline=pair[1], ttft_s=spec.ttft_s,
                      mtp_tokens=default_mtp(model))
    atlas = roadmap[0]
    page.record("atlas-950", roadmap, model)
    page.section(
        "atlas-950", "Atlas 950 SuperPoD against Vera Rubin NVL144 (announced figures)",
        page.claim(pair[0], pair[1])
        + f"<p>On {esc(model.name)} parity predicts {ratios_words(atlas)}. Both systems are announced, not shipping: "
        "every number here rests on keynote figures and on parity's derivations and assumptions where the keynotes "
        "give none (parity show).</p>"
        + comparison_table(roadmap, all_systems, model, f"Predicted throughput of {spec.roadmap[0]} against "
                           f"{spec.roadmap[1]} on {model.name}, with ratios to {spec.roadmap[1]}"))

    step("China-market nodes")
    for anchor, m in (("nodes-dense", dense), ("nodes-moe", model)):
        nodes = compare([all_systems[s] for s in spec.nodes], m, profile, spec.tpot_s, spec.isl, spec.osl,
                        ttft_s=spec.ttft_s, mtp_tokens=default_mtp(m))
        used = nodes[0].baseline or spec.nodes[0]
        against = used if used == spec.nodes[0] else f"{used}; {spec.nodes[0]} cannot run it"
        page.record(anchor, nodes, m)
        page.section(anchor, f"{nodes_heading([all_systems[s] for s in spec.nodes])} on {esc(m.name)} (ratios to "
                             f"{esc(against)})",
                     f"<p>Is each chip at parity with the {esc(all_systems[used].chip.name)}? Each system serves "
                     f"{esc(m.name)} at a {spec.tpot_s * 1e3:g} ms TPOT target{_mtp_words(m).rstrip(',')} in its "
                     f"best configuration; x per chip above 1.00x: each of its chips delivers more output tokens/s "
                     f"than one of {esc(used)}'s.</p>"
                     + comparison_table(nodes, all_systems, m, f"Predicted throughput of each system on {m.name}, "
                                                               f"with ratios to {used}"))
    table_rows = {r.system: r for r in (*headline, *roadmap, *nodes)}  # the frontiers pass through these

    step("Number formats")
    systems = [catalog.system(s) for s in spec.format_systems]
    for system in systems:
        page.cite(system)
    by_format = compare_formats(systems, model, profile, spec.formats, spec.tpot_s, spec.ttft_s, spec.isl, spec.osl,
                                default_mtp(model))
    compared = [r.comparison for r in by_format if r.comparison]
    page.record("formats", compared, model)
    rows = [[f"<b>{esc(r.system)}</b><br><small>{esc(r.chip)}</small>", esc(r.format), esc(r.scale),
             num(r.bytes_per_parameter, 2), esc(r.runs_on),
             num(r.comparison.tokens_per_s_per_chip if r.comparison and r.comparison.fits else float("nan")),
             f"{times(r.ratio_to_baseline)} <small>vs {esc(r.baseline_format)}</small>",
             esc(_without_power(r.note)) or "&nbsp;"]
            for r in by_format]
    page.section(
        "formats", f"Number formats: {esc(model.name)} weights in each format",
        "<p>DeepSeek says V3.1's UE8M0 FP8 (128x128 weight blocks with power-of-two scales: fp8_block here) suits "
        "next-generation domestic chips; MXFP8 puts such a scale on every 32 weights. A chip with "
        "no unit for a format still saves its memory but multiplies after dequantising to a wider unit "
        "('emulated'); x: output tokens/s per chip over the same system in the first format of the list "
        f"that fits it, at a {spec.tpot_s * 1e3:g} ms TPOT target{_mtp_words(model).rstrip(',')}; each chip runs "
        "the engine at its software stack's maturity, as in the comparisons.</p>"
        + table(["system", "format", "scales", "B/param", "runs on", "out tok/s/chip", "x", "note"], rows,
                "numbers", f"Predicted output tokens/s per chip of {model.name} on each system in each weight format",
                "stack-narrow", notes=7)
        + flags_legend(model, [r.flag_row() for r in by_format])
        + f"<p class='legend'><small>{esc(legend(compared, {s.id: s for s in systems}, ratios=False))}</small></p>")

    step("Pareto frontiers")
    curves = [searched_frontier(model, all_systems[name], profile, spec.isl, spec.osl, spec.tpot_s, spec.ttft_s,
                                table_rows.get(name)) for name in spec.frontier_systems]
    frontier = out / "frontier.png"
    frontier_png({c.label: c.points for c in curves}, frontier,
                 f"{model.name}: output tokens/s per chip against tokens/s per user", spec.tpot_s,
                 {c.label: c.chosen for c in curves})

    step("Rooflines")
    chips = [catalog.chip(c) for c in spec.roofline_chips]
    roofline = out / "roofline.png"
    roofline_png(chips, roofline)
    for chip in chips:
        page.cite(chip)
    page.section("frontiers", "Throughput against interactivity, and rooflines",
                 figure(frontier, f"Pareto frontiers of {model.name}, predicted: output tokens/s per chip against "
                                  f"output tokens/s per user on {_listed([c.label for c in curves])}, the "
                                  f"{spec.tpot_s * 1e3:g} ms TPOT target a dashed line, each table's figure ringed",
                        f"Predicted with the steady model, not measured: {esc(model.name)}'s Pareto frontier on each "
                        "system, searched as the tables' rows are: each system in its narrowest native format, the "
                        f"engine profile {esc(profile.id)} at each chip's software-stack maturity, one rank per die "
                        f"of a multi-die package (rates per package)"
                        f"{_mtp_words(model).rstrip(',') or ', no multi-token prediction'}, "
                        f"{spec.isl:,} prompt and {spec.osl:,} output tokens{_ttft_words(spec.ttft_s)}, workers of "
                        "up to 128 chips of one scale-up domain, or over as many systems as the table's choice "
                        "spans (the legend says where). A ring marks each table's figure: the most output tokens/s "
                        "per chip meeting the targets. "
                        "The model's error on measured rows: <a href='#accuracy'>How accurate these numbers are</a>")
                 + figure(roofline, "Rooflines, datasheet arithmetic: attainable dense BF16 TFLOP/s against "
                                    "arithmetic intensity (FLOP per byte, both axes logarithmic) of "
                                    + _listed([_roof_words(chip) for chip in chips]),
                          "Datasheet arithmetic, neither predicted nor measured: each chip's dense BF16 peak and "
                          "memory bandwidth from the catalog (<a href='#sources'>sources</a>); dotted lines mark "
                          "typical arithmetic intensities"))

    step("Simulated run")
    run = simulated_run(spec.dense_model, spec.timeline_system, spec.engine, spec.timeline_tp,
                        spec.timeline_concurrency, spec.isl, spec.osl)
    timeline = out / "timeline.png"
    timeline_png(run.result.timeline, timeline, run.title)
    page.section("timeline", "A benchmark run over time, simulated step by step",
                 f"<p>{esc(run.caption)}</p>"
                 + figure(timeline, _timeline_words(run),
                          "Simulated, not measured: requests queued, prefilling and decoding, and the KV cache in use, "
                          "over the run. The simulator's error on never-fitted rows is not scored in this report: "
                          "<code>parity validate --section serving</code> scores it (minutes: it replays each row), "
                          "and docs/accuracy.md in parity's source tree records its last scores"))

    step("Export controls")
    chips = [catalog.chip(name) for name in spec.policy_chips]
    for chip in chips:
        page.cite(chip)
    page.section("export-controls", "US export-control metrics", export_controls(chips))

    step("Fleet")
    kinds, screened = _fleet_kinds(spec)
    plans = plan_fleet(model, kinds, profile,
                       spec.fleet_demand_tokens_per_day / 86_400.0, spec.tpot_s, spec.isl, spec.osl,
                       ttft_s=spec.ttft_s, mtp_tokens=default_mtp(model))  # as the comparisons and formats run it
    # chips with their 80% interval under them (the demand at the ends of the per-chip rate's interval), MW in three
    # figures as `parity fleet` gives them; the price and power sources, long, go under the table
    fleet_rows = [[catalog_id(p.chip), catalog_id(p.system), esc(p.weights),
                   *([esc(eccn_shown(assess(kind.chip)))] if screened else []), num(p.tokens_per_s_per_chip),
                   reached(num)(p.chips) + ("" if p.chips_low is None else
                                             f"<br><small class='id'>{p.chips_low:,}-{p.chips_high:,}</small>"),
                   reached(num)(p.systems), reached(scaled(1e6, zeros=True))(p.power_w),
                   money(p.cost_usd).replace(" ", "&nbsp;"), esc(p.note) or "&nbsp;"] for p, kind in zip(plans, kinds)]
    fleet_headers = ["chip", "system", "format", *(["ECCN 3A090"] if screened else []), "out tok/s/chip",
                     "chips (80% interval)", "systems", "MW", "cost", "note"]
    page.more["fleet"] = rows_assumptions([(p.system, without_mtp_hint(p.assumptions, model)) for p in plans])
    page.section(
        "fleet", f"Fleet: {in_words(spec.fleet_demand_tokens_per_day)} tokens a day of {esc(model.name)}",
        f"<p>The chips, systems, power and cost that serve the demand on each chip's system, at the targets above. "
        f"{esc(sentence('; '.join(page.more['fleet'])))}"
        + (f" {esc(sentence(screened.text))}" if screened else "") + "</p>"
        + table(fleet_headers, fleet_rows, "numbers", f"Chips, systems, power and cost that serve "
                f"{in_words(spec.fleet_demand_tokens_per_day)} tokens a day of {model.name} on each chip's system",
                "stack-mid", notes=len(fleet_headers) - 1)
        + "<p class='legend'><small>Chips: whole systems' chips; under them, the chips the demand needs at the ends "
          f"of the 80% interval of the per-chip rate, before any limit. {esc(basis_text(plans))}."
        + (esc(near_footnote([assess(kind.chip) for kind in kinds], "`parity policy`'s notes"))
           if screened else "") + "</small></p>")

    step("Accuracy")
    page.section("accuracy", "How accurate these numbers are", accuracy_section())

    # every row's assumptions, each section's own and each system's own (its engine's stack, its calibration)
    shown = [all_systems.get(s) or catalog.system(s) for s in dict.fromkeys(
        [s for rows in page.rows.values() for s, _ in rows] + [p.system for p in plans])]
    assumptions = assumptions_html(group_assumptions(page.rows), dict(page.contents), page.more, shown,
                                   f"engine profile {profile.id}: {profile.method}")
    out.mkdir(parents=True, exist_ok=True)
    target = out / "index.html"
    write_atomic(target, _render(page, spec, assumptions))
    tell("written", len(STAGES))
    return target


def _listed(names: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _roof_words(chip: Chip) -> str:
    """A roofline's chip with the figures its line is drawn from: 'nvidia-h20 (148 TFLOP/s, 4 TB/s)'."""
    peak = chip.peak("bf16") or max(chip.peak_flop_per_s.values())  # as plots.roofline_png draws it
    return f"{chip.id} ({peak / 1e12:,.0f} TFLOP/s, {chip.memory_bytes_per_s / 1e12:.3g} TB/s)"


def _timeline_words(run: TimelineRun) -> str:
    """The timeline plot in words, for its alt text: what it plots and the figures a reader would take from it."""
    records = run.result.timeline
    end_s = max((float(r["time_s"]) for r in records), default=0.0)  # type: ignore[arg-type]
    decoding = max((int(r["running"]) for r in records), default=0)  # type: ignore[call-overload]
    kv = max((float(r["kv_used_fraction"]) for r in records), default=0.0)  # type: ignore[arg-type]
    return (f"Simulated run of {run.title}: requests queued, prefilling and decoding, and the KV cache used, over "
            f"{end_s:,.0f} s; at most {decoding:,} sequences decode at once and the KV cache peaks at {kv:.0%} of "
            "capacity")


def _contents(page: _Page) -> str:
    """The table of contents: a link to every section, then to the assumptions and the sources."""
    entries = [*page.contents, ("assumptions", "Assumptions"), ("sources", "Sources")]
    items = "".join(f"<li><a href='#{anchor}'>{heading}</a></li>" for anchor, heading in entries)
    return f"<nav aria-label='Contents'><h2 id='contents'>Contents</h2><ol class='contents'>{items}</ol></nav>"


def _render(page: _Page, spec: ReportSpec, assumptions: str) -> str:
    sources = "".join(f"<li><b>{esc(kind)}</b>: {esc(title)}" + (f' (<a href="{esc(url)}">{esc(url)}</a>)' if url else "")
                      + "</li>" for kind, title, url in sorted(page.sources.values()))
    today = datetime.date.today().isoformat()
    made = version_text()
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'>{GENERATOR}<title>parity report</title>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><style>{STYLE}</style></head><body>"
            f"<h1>parity: AI compute, side by side</h1><p class='lead'>Predicted with {esc(made)} on {today}: "
            f"serving {spec.isl:,} prompt and {spec.osl:,} output tokens per request at a {spec.tpot_s * 1e3:g} ms "
            f"time-per-output-token target{_ttft_words(spec.ttft_s)}; every chip in the narrowest number format it runs natively. Every "
            f"hardware number below has a source (listed at the end); predictions carry the assumptions listed.</p>"
            f"<p id='plots-status'></p>" + _contents(page)
            + "".join(page.sections)
            + f"<h2 id='assumptions'>Assumptions</h2>{assumptions}"
            f"<h2 id='sources'>Sources</h2><ol class='sources'>{sources}</ol>"
            f"<script>{SCRIPT}</script></body></html>")
