"""`parity engines`: the serving-engine profiles by the sections of their files and how each value was obtained,
the simulator's scheduler policies (--scheduler) and its benchmark clients (--clients)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import click

from parity import catalog
from parity.cli import cli, emit, format_option, out_option, output_format
from parity.engine import PROFILE_SECTIONS, EngineProfile, field_origins
from parity.errors import ParityError
from parity.report.tables import Column, plain, scaled
from parity.simulate import CLIENT_PROFILES, policy_parameters, scheduler_of


# the unit a time field of an engine profile is shown in: (factor, name); every other field shows as it is
_ENGINE_TIMES = {"kernel_overhead_s": (1e-6, "us"), "collective_latency_s": (1e-6, "us"),
                 "sim_prefill_launch_s": (1e-6, "us"), "sim_prefill_host_launch_s": (1e-6, "us"),
                 "decode_host_token_s": (1e-6, "us")}


def _parameter_records(found: list[EngineProfile], obtained: Callable[[EngineProfile, str], str]
                       ) -> list[dict[str, object]]:
    """Each profile's parameters for machines: engine, section, parameter (its file key), value in SI units, unit
    ("s" for times, "" for counts, fractions and switches) and how the value was obtained ("260 rows": fitted on
    that many calibration rows; "assumed"; a stack profile's "sglang's" or "stack prior": `_origin_words`)."""
    return [{"engine": e.id, "section": section.name, "parameter": field, "value": getattr(e, field),
             "unit": "s" if field.endswith("_s") else "", "obtained": obtained(e, field)}
            for e in found for section in PROFILE_SECTIONS for field in section.fields]


def _origin_words(profile: EngineProfile) -> dict[str, str]:
    """How a stack profile (sglang-cann, refitted from sglang) came by each value it did not fit (engine.field_origins):
    "sglang's" (its base's, as fitted on CUDA) or "stack prior" (its base's carried to the stack: kernel scales at
    the vendor libraries' 1); empty for a profile that is no stack profile."""
    if not profile.base:
        return {}
    words = {"base": f"{profile.base}'s", "prior": "stack prior"}
    return {field: words[origin] for field, origin in field_origins(profile, catalog.engine(profile.base)).items()
            if origin in words}


def _section_rows(found: list[EngineProfile], origins: dict[str, dict[str, str]]) -> list[dict[str, object]]:
    """Each profile by the sections of its file (engine.PROFILE_SECTIONS): a row naming the section, then a row per
    parameter under its file key, times with their unit (us, else ms), a column per engine; a stack profile's value
    it did not fit is marked as its base's or the stack prior's ('0.1 (sglang's)': `origins`, _origin_words by
    profile id)."""
    rows: list[dict[str, object]] = []
    for section in PROFILE_SECTIONS:
        rows.append({"parameter": f"[{section.name}]", **{e.id: "" for e in found}})
        for field in section.fields:
            factor, unit = _ENGINE_TIMES.get(field, (1e-3, "ms") if field.endswith("_s") else (1.0, ""))
            label = f"  {field.removesuffix('_s')}" + (f" [{unit}]" if unit else "")
            rows.append({"parameter": label, **{
                e.id: _engine_value(getattr(e, field), factor)
                + (f" ({origins[e.id][field]})" if field in origins[e.id] else "") for e in found}})
    return rows


def _engine_value(value: object, factor: float) -> str:
    """A profile parameter for people: yes/no, a time in its unit, 3 significant figures, '-' for none."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return scaled(factor)(value) if isinstance(value, (int, float)) or value is None else str(value)


def _policy_value(value: object) -> str:
    """A policy parameter for people: yes/no, 4 significant digits, '-' where the engine lacks the policy."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return str(value)


def _scheduler_rows(found: list[EngineProfile]) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """The simulator's view of each profile: its named scheduler policies and their parameters (table rows,
    one per policy parameter, a column per engine), and the same with sources per engine (payload). The KV
    pool is sized per deployment; attention-DP balancing is read as with attention DP, the rest without."""
    rows: dict[tuple[str, str], dict[str, object]] = {}
    payload = []
    for e in found:
        alone = {(p, n): v for p, n, v, _ in policy_parameters(scheduler_of(e, kv_capacity_tokens=1.0))}
        params = [(p, n, v if p == "AttentionDpBalance" else alone.get((p, n), v), s)
                  for p, n, v, s in policy_parameters(scheduler_of(e, kv_capacity_tokens=1.0, attn_dp=2))]
        for policy, name, value, source in params:
            shown = "per run" if policy == "Mtp" or name == "capacity_tokens" else value
            rows.setdefault((policy, name), {"policy": policy, "parameter": name})[e.id] = shown
        payload.append({"id": e.id, "policies": [{"policy": p, "parameter": n, "source": s,
                                                  "value": None if p == "Mtp" or n == "capacity_tokens" else v}
                                                 for p, n, v, s in params]})
    longest = max((d["policies"] for d in payload), key=len)
    order = {(p["policy"], p["parameter"]): i for i, p in enumerate(longest)}
    return sorted(rows.values(), key=lambda r: order.get((r["policy"], r["parameter"]), len(order))), payload


def _client_rows() -> list[dict[str, object]]:
    """The simulator's benchmark clients: each profile's settings, its front end's per-request times and the
    sources of both (simulate.CLIENT_PROFILES)."""
    return [{"client": p.id, "sends": p.describe(),
             "front_end_s": ", ".join(f"{e} {s * 1e3:g} ms" for e, s in p.front_end.ttft_overhead_s)
             + "".join(f", {e} with {f} +{s * 1e3:g} ms" for e, f, s in p.front_end.feature_overhead_s)
             if p.front_end else "",
             "source": "; ".join(filter(None, (p.source, f"front end {p.front_end.id}: {p.front_end.source}"
                                               if p.front_end else "",
                                               f"deploys: {p.deploys.source}" if p.deploys else "")))}
            for p in CLIENT_PROFILES.values()]


# which stacks have profiles, and what a stack profile's marked values are, for the engines table's caption
_STACKS_SAID = ("Profiles exist for TensorRT-LLM, vLLM and SGLang on CUDA, vLLM and SGLang on ROCm (vllm-rocm, "
                "sglang-rocm) and SGLang on CANN (sglang-cann), and the generic prior; MindIE and vLLM-Ascend have "
                "none, so on CANN generic and sglang-cann apply (any other profile runs there with its host side as "
                "fitted on CUDA and sglang-cann's kernel scales, and is flagged). A stack profile refits a few values "
                "of its CUDA base on that stack's runs ('fitted on': how many, on how many rows); a value marked "
                "(sglang's) or (vllm's) is its base's as fitted on CUDA, (stack prior) its base's carried to the "
                "stack (kernel scales at the vendor libraries' 1).")


def _unfitted_said(found: list[EngineProfile]) -> str:
    """What each stack profile among `found` whose rows fitted none of its values (catalog.fitted_any) is to a
    prediction: passed over for the stack's measured maturity, flagged (catalog.engine_for)."""
    said = []
    for p in (p for p in found if not catalog.fitted_any(p)):
        carried = catalog.engine_on(catalog.engine(p.base), p.stack)
        said.append(f" {catalog.fit_text(p)}: --engine {p.base} on {p.stack} runs as {p.base} at "
                    f"{catalog.maturity_brief(carried, p.stack) or 'the stack prior'} instead, flagged 'engine "
                    f"profile {p.id} not fitted to measurements'; --engine {p.id} named runs as --engine {p.base}.")
    return "".join(said)


@cli.command()
@click.argument("name", required=False)
@click.option("--scheduler", is_flag=True, help="the simulator's view: each engine's named scheduler policies "
                                               "and their parameters (sources in --format json)")
@click.option("--clients", is_flag=True, help="the simulator's benchmark clients (--client of serve): what each "
                                             "sends, its front end, and the sources of both")
@format_option
@out_option
def engines(name: str | None, scheduler: bool, clients: bool, fmt: str, out: Path | None) -> None:
    """The serving-engine profiles (TensorRT-LLM, vLLM, SGLang, generic), or the one NAME names: every parameter
    a serving prediction rests on, by the sections of the profile's file, and how it was obtained (fitted on
    which rows, or assumed)."""
    if clients:
        if name or scheduler:
            raise ParityError("--clients lists every benchmark client; give it alone (no NAME, no --scheduler)")
        emit(_client_rows(), [Column("client", "client", plain, "left"),
                              Column("sends", "sends", plain, "left", wrap=True),
                              Column("front_end_s", "front end", plain, "left", wrap=True),
                              Column("source", "source", plain, "left", wide=True, wrap=True)], fmt,
             title="Benchmark clients the simulator runs (serve --client)", out=out,
             caption="A run's client: the row's benchmark (InferenceX where its lengths are drawn from a range, "
                     "aiconfigurator otherwise) or --client. Sources: --wide, or --format json/md.")
        return
    found = [catalog.engine(name)] if name else list(catalog.engines())
    if scheduler:
        rows_, payload_ = _scheduler_rows(found)
        columns = [Column("policy", "policy", plain, "left"), Column("parameter", "parameter", plain, "left")] + [
            Column(e.id, e.id, _policy_value, wide=bool(e.base)) for e in found]
        emit(rows_, columns, fmt, title="Scheduler policies the simulator runs, per engine", payload=payload_,
             out=out, caption="Read from each profile by parity.simulate.scheduler_of; SGLang's step budget "
                              "follows the GPU's memory (16,384 tokens here, 8,192 on 80-141 GB GPUs); '-': the "
                              "engine has no such policy; 'per run': set by each deployment (its KV cache, its "
                              "MTP). Sources per policy: --format json.")
        return

    def fitted_on(e: EngineProfile) -> str:
        rows_ = re.search(r" on (\d+) calibration rows", e.method)
        if e.measured and e.base and " not refitted: " in e.method:  # a stack with too few rows keeps its base's
            return f"{e.base}'s"
        said = f"{rows_.group(1)} rows" if e.measured and rows_ else ("fitted" if e.measured else "assumed")
        if e.base and rows_:  # a stack profile fits a few of its values; the rest are its base's (_origin_words)
            said = f"{sum(o == 'fitted' for o in field_origins(e, catalog.engine(e.base)).values())} values on {said}"
        return said + (" (user file)" if catalog.engine_user_file(e) else "")

    # how each profile, and each value a stack profile did not fit, was obtained: worked out once a profile
    origins = {e.id: _origin_words(e) for e in found}
    fitted = {e.id: fitted_on(e) for e in found}

    def obtained(e: EngineProfile, field: str) -> str:
        return origins[e.id].get(field) or fitted[e.id]

    own = {e.id: (str(path), e.date) for e in found if (path := catalog.engine_user_file(e))}

    # what a profile says of itself, under the JSON's keys (its id is the CSV's engine column)
    described = {e.id: {"name": e.name, "measured": e.measured, "method": e.method, "source": e.source,
                        "date": e.date, "user_file": own.get(e.id, ("",))[0], "assumptions": e.assumptions,
                        "stack": e.stack, "base": e.base} for e in found}
    payload = [{"id": e.id, **described[e.id], "rows": list(e.rows),
                **{f: getattr(e, f) for s in PROFILE_SECTIONS for f in s.fields},
                "sections": {s.name: {f: getattr(e, f) for f in s.fields} for s in PROFILE_SECTIONS},
                "parameters": _parameter_records([e], obtained)} for e in found]
    if output_format(fmt, out) == "csv":
        # one record per engine and parameter, in SI units, and after them the engine's own fields (all but its
        # calibration rows, a long list that JSON alone gives)
        emit([r | described[str(r["engine"])] for r in _parameter_records(found, obtained)], [], fmt, payload=payload,
             out=out)
        return
    rows: list[dict[str, object]] = [{"parameter": "fitted on", **fitted}]
    rows += _section_rows(found, origins)
    # stack profiles (vllm-rocm ...) show where the terminal has room, or with --wide; one named engine always
    columns = [Column("parameter", "parameter", plain, "left")] + [
        Column(e.id, e.id, plain, wide=bool(e.base) and len(found) > 1) for e in found]
    title = f"{found[0].name}, by section" if name else "Serving-engine profiles, by the sections of their files"
    emit(rows, columns, fmt, title=title, payload=payload,
         out=out, caption="Fitted profiles: Nelder-Mead on the calibration rows of parity's serving measurements only "
                          "(parity validate --model-kind steady --fit); the generic profile is an assumption for "
                          "engines never measured. [steady] is read by the steady-state model alone, [simulator] by "
                          "the simulator alone, [disagg_sizing] by the steady model, whose worker counts the "
                          "simulator runs; the other sections by both ([scheduler.X]: the simulator's policy X). "
                          "Methods and assumptions (with their sources) in full: --format json. "
                          + _STACKS_SAID + _unfitted_said(found)
                          + "".join(f" {i}: the user file {path} (dated {date}), not parity's."
                                    for i, (path, date) in own.items()))
