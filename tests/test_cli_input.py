"""Bad input never crashes: every mistake is one line on stderr and exit code 2, with nothing left on disk;
random option values and random bytes as input files end in exit 0 or 2, never a traceback."""

from __future__ import annotations

import csv
import dataclasses
import inspect
import io
import json
import os
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parity.cli import cli
from parity.predict.measured import measured_values, scored

LLAMA = ("--model", "llama-3.1-8b", "--system", "hgx-h100")


def run(*args: str) -> tuple[int, str, str]:
    """Exit code, stdout, stderr; an exception other than the exit itself fails the test (a traceback)."""
    result = CliRunner().invoke(cli, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"parity {' '.join(args)} raised {result.exception!r}") from result.exception
    return result.exit_code, result.stdout, result.stderr


def refused(*args: str) -> str:
    """Run a command that must be refused: exit 2, nothing on stdout, one line on stderr; the line."""
    code, out, err = run(*args)
    lines = err.splitlines()
    assert code == 2 and not out.strip(), (code, out, err)
    assert len(lines) == 1 and lines[0].startswith("parity: error: "), err
    return lines[0]


@pytest.mark.parametrize(("args", "says"), [
    (("compare", "hgx-h100", "--model", "llama-3.1-8b", "--tpot", "50"), "durations need a unit: write 50ms or 50s"),
    (("compare", "hgx-h100", "--model", "llama-3.1-8b", "--ttft", "2"), "durations need a unit"),
    (("compare", "hgx-h100", "--model", "llama-3.1-8b", "--tpot", "nan ms"), "finite"),
    (("compare", "hgx-h100", "--model", "llama-3.1-8b", "--tpot", "inf s"), "finite"),
    (("compare", "hgx-h100", "--model", "llama-3.1-8b", "--tpot", "-5ms"), "positive duration"),
    (("compare", "hgx-h100", "--model", "llama-3.1-8b", "--tpot", "1e9 s"), "at most 1 day"),
    (("compare", "hgx-h100", "--model", "llama-3.1-8b", "--workload", "train", "--chips", "0"), "got 0"),
    (("train", *LLAMA, "--chips", "0"), "must be a whole number >= 1, got 0 (leave the option out for the default)"),
    # --units has no default (left out, no cap): the hint said to leave it out "for the default"
    (("fleet", "--model", "llama-3.1-8b", "--chips", "h100", "--units", "0"),
     "must be a whole number >= 1, got 0 (leave the option out for no cap on chips)"),
    (("train", *LLAMA, "--global-batch", "0"), "got 0"),
    (("train", *LLAMA, "--seq-len", "0"), "got 0"),
    (("train", *LLAMA, "--tokens", "nan"), "finite"),
    (("train", *LLAMA, "--tokens", "-1"), "must be in"),
    (("train", *LLAMA, "--search", "--top", "0"), "'--top': must be a whole number >= 1, got 0"),
    (("train", *LLAMA, "--tp", "-1"), "got -1"),
    (("train", *LLAMA, "--chips", "100000000000"), "beyond any fleet's chips"),
    (("serve", *LLAMA, "--concurrency", "1e20"), "expected a whole number"),
    # separators only in threes: '6,4' ran as 64 clients and `train --tp 1,2` as tp 12 (a regression round)
    (("serve", *LLAMA, "--concurrency", "6,4"), "expected a whole number (digits grouped in threes, if at all: "
                                                "1,024), got '6,4'"),
    (("serve", *LLAMA, "--concurrency", "64,"), "got '64,'"),
    (("serve", *LLAMA, "--concurrency", "6_4"), "got '6_4'"),
    (("serve", *LLAMA, "--concurrency", "0,064"), "got '0,064'"),  # 0.064 where a comma is the decimal point
    (("serve", *LLAMA, "--concurrency", "\uff11\uff10\uff12\uff14"), "expected a whole number"),  # full-width 1024
    (("fleet", "--model", "llama-3.1-8b", "--demand", "\uff12,\uff10\uff10\uff10 tokens/s"), "write its digits 0-9"),
    (("train", *LLAMA, "--search", "--tp", "1,2"), "Invalid value for '--tp': expected a whole number (digits "
                                                   "grouped in threes, if at all: 1,024), got '1,2'"),
    (("fleet", "--model", "llama-3.1-8b", "--demand", "2,00 tokens/s"), "group its digits in threes (1,024)"),
    (("validate", "--by", ""), "--by '' names no field"),
    (("serve", *LLAMA, "--concurrency", "100000000000000"), "beyond any deployment's concurrent requests"),
    (("serve", *LLAMA, "--concurrency", "0"), "got 0"),
    (("serve", *LLAMA, "--isl", "-5"), "got -5"),
    (("serve", *LLAMA, "--isl", "1000000000"), "beyond any context length"),
    # serve read its targets apart and took p99:1e9s ('<= 1e+12 ms'); as compare's, at most a day
    (("serve", *LLAMA, "--ttft", "p99:1e9s"), "Invalid value for '--ttft': must be a positive duration of at most 1 day"),
    (("serve", *LLAMA, "--tpot", "2e5s"), "Invalid value for '--tpot': must be a positive duration of at most 1 day"),
    (("serve", *LLAMA, "--mtp-acceptance", "nan"), "finite"),
    (("serve", *LLAMA, "--random-range-ratio", "inf"), "finite"),
    (("fleet", "--model", "llama-3.1-8b", "--demand", "nan tokens/s"), "finite"),
    (("fleet", "--model", "llama-3.1-8b", "--demand", "2e12"), "needs a unit"),
    (("fleet", "--model", "llama-3.1-8b", "--demand", "1e12 tokens/day", "--peak-factor", "nan"), "finite"),
    (("fleet", "--model", "llama-3.1-8b", "--units", "inf"), "expected a whole number, got 'inf'"),
    (("fleet", "--model", "llama-3.1-8b", "--units", "1.5"), "expected a whole number, got '1.5'"),
    (("fleet", "--model", "llama-3.1-8b", "--demand", "1e12tokens/day", "--chips", ""),
     "--chips '': name at least one chip kind"),
    (("serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--seed", "-1"), "-1 is not in the range x>=0"),
    (("fleet", "--model", "llama-3.1-8b", "--power-mw", "0"), "must be in (0"),
    (("policy", "--at-threshold", "h100", "--tpot", "50"), "durations need a unit"),
    (("search", *LLAMA, "--chips", "3"), "no layout of 3 chips divides llama-3.1-8b"),
    (("search", *LLAMA, "--tpot", "1us"), "the TPOT target 0.001 ms binds: the fastest configuration that fits"),
    (("search", *LLAMA, "--ttft", "1ms"), "the TTFT target 1 ms binds"),
    (("chips", "--out", "table.xlsx"), "unknown suffix .xlsx; use .csv, .json, .md or .txt"),
    (("chips", "--format", "json", "--out", "table.csv"), "--format json contradicts --out table.csv"),
    (("train", "--model", "llama-3.1-405b", "--system", "hgx-h100", "--tp", "8"), "does not fit by"),
    (("serve", *LLAMA, "--decode-tp", "4"), "--decode-tp sets the disaggregated workers: add --mode disagg"),
    (("serve", *LLAMA, "--prefill-workers", "2", "--prefill-system", "hgx-h200"), "or leave them out"),
    (("compare", "hgx-h100", "--model", "llama-3.1-8b", "--workload", "train", "--tpot", "20ms", "--isl", "10"),
     "--tpot, --isl only apply with --workload serve"),  # they were ignored: training has no latency target
    (("compare", "hgx-h100", "--model", "llama-3.1-8b", "--seq-len", "8192"), "--seq-len only applies with "
                                                                               "--workload train"),
    (("train", *LLAMA, "--search", "--dp", "4"), "--search derives --dp"),  # it was ignored
    (("show", "hgx-h2000"), "unknown system or chip 'hgx-h2000'; did you mean hgx-h200"),  # not only chips
    (("show", "deepseek-r1"), "unknown system or chip 'deepseek-r1' (a model: 'parity model deepseek-r1')"),
    (("validate", "--by", "vendr"), "(or 'flag', 'source' or 'vendor' alone); got 'vendr' (vendr: no such field)"),
    (("validate", "--by", "flag,engine"), "alone); got 'flag,engine' (flag: only alone)"),
    (("compare", "hgx-h100", "--model", "llama-3.1-8b", "--workload", "train", "--precision", "junk"),
     "'junk' is not one of 'bf16', 'fp8', 'fp8_block', 'mxfp8'"),
    (("serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--fixed-rate"), "give it a finite --request-rate"),
    (("serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--fixed-rate", "--request-rate", "inf"),
     "(inf sends every request at once)"),
    (("compare", "hgx-h100", "h100", "--model", "llama-3.1-8b"),
     "hgx-h100 and nvidia-h100-sxm (in its default system hgx-h100) name the same system"),
    (("serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--model-kind", "steady", "--sim"),
     "--sim and --model-kind steady name two different models"),
    (("validate", "--write-to", "user"), "--write-to says where --fit or --fit-stacks write their refits"),
    (("validate", "--section", "training", "--format", "md"), "--format md writes the whole accuracy page"),
    (("validate", "--section", "training", "--format", "csv"),
     "--format csv writes one row per measured value, of the serving, published, percentiles and mlperf sections"),
    (("validate", "--section", "training", "--out", "x.csv"), "--out x.csv writes one row per measured value"),  # fuzzCE 5
    (("validate", "--fit-stacks", "--format", "json"), "--format with --fit-stacks: it writes refits"),
    (("serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--lengths", "l.csv"),
     "--lengths is read by --scenario offline or server"),
    (("serve", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--mla-decode", "absorbed"),
     "--mla-decode applies to models with MLA attention"),
    (("validate", "--iterations", "0"), "'--iterations': must be a whole number >= 1, got 0"),
    (("validate", "--iterations", "-5"), "'--iterations': must be a whole number >= 1, got -5"),
    # options that were accepted and did nothing: refused, naming what reads them
    (("serve", *LLAMA, "--batch", "8"), "--batch sets the fixed batch (--batch) or the KV context (--context) of one "
                                        "--phase decode|prefill step; the closed loop runs whole requests"),
    (("serve", *LLAMA, "--context", "100", "--scenario", "offline"), "--context sets the fixed batch (--batch) or the "
                                                                     "KV context (--context)"),
    (("serve", *LLAMA, "--moe-weights", "fp8", "--moe-tp", "2", "--moe-ep", "2"),
     "--moe-weights, --moe-tp, --moe-ep set how experts are stored or placed; llama-3.1-8b is dense (no experts)"),
    (("serve", *LLAMA, "--redundant-experts", "2"), "--redundant-experts sets how experts are stored or placed"),
    (("serve", *LLAMA, "--moe-overlap", "1"), "--moe-overlap hides the experts' dispatch and combine under "
                                              "computation; llama-3.1-8b is dense (no experts): leave it out"),
    (("search", *LLAMA, "--prefill-system", "hgx-h200", "--prefill-chips", "8", "--decode-chips", "16", "--mode",
      "agg"), "--mode agg is not read by a --prefill-system split (disaggregated by nature"),
    (("search", *LLAMA, "--prefill-system", "hgx-h200", "--prefill-chips", "8", "--decode-chips", "16", "--chips",
      "4", "--refine", "2"), "--chips, --refine are not read by a --prefill-system split"),
    (("serve", *LLAMA, "--model-kind", "steady", "--seed", "7"), "--seed needs the simulator (the default, not "
                                                                "--model-kind steady): the steady-state model runs no"),
    (("serve", *LLAMA, "--model-kind", "steady", "--client", "vllm", "--timeline", "t.csv"),
     "--client, --timeline need the simulator"),
    (("serve", *LLAMA, "--scenario", "server", "--request-rate", "2", "--seed", "7", "--fixed-rate"),
     "--fixed-rate, --seed are read by the simulator, which runs the closed-loop scenario; --scenario server is "
     "priced in closed form: leave them out"),
    (("serve", *LLAMA, "--adp-hold-steps", "30"), "--adp-hold-steps holds new prompts until every attention-DP rank "
                                                  "has one: at --attn-dp 1 a worker has one rank and nothing is held"),
    (("serve", *LLAMA, "--adp-hold-steps", "0", "--mode", "disagg", "--decode-tp", "2"),
     "at --attn-dp 1 (and --decode-attn-dp 1) a worker has one rank"),
    # --scenario offline|server price one aggregated worker in closed form: the closed loop's options were ignored
    # (the JSON was byte for byte the same at --concurrency 5 and 5000)
    (("serve", *LLAMA, "--scenario", "offline", "--concurrency", "5000", "--random-range-ratio", "0.3"),
     "--concurrency, --random-range-ratio are not read by --scenario offline (a saturated worker, aggregated, over "
     "requests of --isl and --osl): leave them out"),
    (("serve", *LLAMA, "--scenario", "offline", "--isl", "5", "--osl", "5", "--lengths", "l.csv"),
     "--isl, --osl are not read by --scenario offline (a saturated worker, aggregated, over the requests of "
     "--lengths): leave them out"),
    (("serve", *LLAMA, "--scenario", "server", "--request-rate", "2", "--concurrency", "1"),
     "--concurrency is not read by --scenario server (one worker under Poisson arrivals at --request-rate, "
     "aggregated, over requests of --isl and --osl): leave it out"),
    (("serve", *LLAMA, "--scenario", "offline", "--request-rate", "3", "--mode", "disagg"),
     "--request-rate, --mode disagg are not read by --scenario offline"),
    (("serve", *LLAMA, "--scenario", "server", "--request-rate", "2", "--model-kind", "sim"),
     "--model-kind sim is read by the simulator, which runs the closed-loop scenario; --scenario server is priced in "
     "closed form: leave it out"),  # as --sim was
    (("validate", "--iterations", "20"), "--iterations sets the Nelder-Mead steps of a fit: it is read by --fit with "
                                         "--model-kind steady, --fit-stacks, --by source|vendor"),
    (("validate", "--iterations", "20", "--fit"), "--iterations sets the Nelder-Mead steps"),  # sim refits bands only
    (("validate", "--iterations", "20", "--section", "percentiles", "--by", "vendor"), "--iterations sets"),
    (("train", *LLAMA, "--show-infeasible"), "--show-infeasible prints a layout you give (--tp, --pp, --dp, --cp, "
                                             "--ep) that does not fit; without one, train picks only layouts that fit"),
    (("train", *LLAMA, "--search", "--show-infeasible"), "; --search lists only layouts that fit"),
    (("train", *LLAMA, "--tp", "2", "--top", "3"), "--top sets how many layouts --search lists: add --search"),
    (("train", *LLAMA, "--tp", "2", "--fit", "--write-to", "repo"), "--fit, --write-to refit the training profile "
                                                                     "on the published runs: add --validate"),
    (("calibrate", "--import", "m.json", "--eager"), "--eager sets how this GPU's kernels are timed; with --import "
                                                      "nothing is measured (m.json says how its times were taken"),
    (("calibrate", "--import", "m.json", "--save-raw", "raw.json"),
     "--save-raw writes the measurements this GPU takes; with --import nothing is measured (m.json holds"),
    # an option given twice: click kept the last silently (p.json was never written); a flag twice alike
    (("policy", "h100", "--out", "p.json", "--out=p2.csv"),
     "--out given 2 times (--out p.json, --out=p2.csv): give it once"),
    (("chips", "--wide", "--wide"), "--wide given 2 times (--wide, --wide): give it once"),
    # a blank target was an AssertionError's traceback and exit 1 (report-only tester fuzzDB 1)
    (("serve", *LLAMA, "--ttft", " "), "'--ttft': empty: give a duration (e.g. 2s, p99:2s) or 'none'"),
    (("compare", "hgx-h100", "--model", "llama-3.1-8b", "--tpot", ""), "'--tpot': empty: give a duration"),
    # MTP's acceptance without MTP: it quoted a '--mtp 0' no one typed and the range [0, 0] (fuzzDF 8)
    (("serve", *LLAMA, "--mtp-acceptance", "1.5", "--model-kind", "steady"),
     "an MTP acceptance of 1.5 (--mtp-acceptance; a cases table's mtp_acceptance) counts the drafts a step accepts "
     "with multi-token prediction, which is off"),
    # --fixed-rate with a trace advised a --request-rate, which a trace refuses (fuzzDG 6)
    (("serve", *LLAMA, "--trace", "t.csv", "--fixed-rate"), "--fixed-rate spaces the arrivals of --request-rate "
                                                             "evenly; a --trace gives each request's own arrival"),
    # a field that is none said so, before whether the section reads --by (it said the section does not read it)
    (("validate", "--by", "bogus", "--section", "published"), "got 'bogus' (bogus: no such field)"),
    # a count past float precision is echoed as typed (it read 1,000,000,000,000,000,019,884,624,838,656)
    (("serve", *LLAMA, "--concurrency", "1" + "0" * 30), "'--concurrency': 1,000,000,000,000,000,000,000,000,000,000 "
                                                          "is beyond any deployment's concurrent requests"),
])
def test_bad_values_are_one_line_and_exit_2(args: tuple[str, ...], says: str, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert says in refused(*args)
    assert not list(tmp_path.iterdir())  # nothing left behind


def test_a_fit_of_no_iterations_is_refused_before_writing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """validate --fit --iterations 0 wrote refits fitted by no step at all; now it writes nothing."""
    monkeypatch.setenv("PARITY_HOME", str(tmp_path))
    assert "'--iterations': must be a whole number >= 1, got 0" in refused("validate", "--fit", "--iterations", "0")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(("content", "says"), [
    (b"\xff\xfe\x00bad\x00\n", "not UTF-8 text (byte 0 is 0xff)"),
    (b"model,system,isl,osl,concurrency\nllama-3.1-8b,hgx-h100,1024,1024,\xe9\n", "not UTF-8 text"),
    (b"model,system\x00,isl\n", "NUL bytes"),
    (b"a,b\n1,2\n", "not a cases table"),
    (b"model,system,isl,osl,concurrency\n", "a header and no cases"),  # was exit 0 with no output at all
    # was exit 0, every row feasible=false 'isl is required'
    (b"model,system\nllama-3.1-8b,hgx-h100\n", "cases.csv: not a cases table (needs a header with at least model, "
                                                "system, isl, osl, concurrency; it lacks isl, osl, concurrency)"),
    (b"model,phase,batch\nllama-3.1-8b,decode,8\n", "(needs a header with at least model, system; it lacks system)"),
    # said 'it lacks concurrency' with no word of the misspelled column beside it
    (b"model,system,isl,osl,concurency\nllama-3.1-8b,hgx-h100,1024,1024,8\n",
     "parity: error: cases.csv: unknown column 'concurency' (did you mean 'concurrency'?); a cases table needs a header "
     "with at least model, system, isl, osl, concurrency, and this one lacks concurrency"),
    # listed the 30 columns a case reads, not the header it had read
    (b"model;system;isl;osl;concurrency\nllama-3.1-8b;hgx-h100;1024;1024;8\n",
     "parity: error: cases.csv: the header 'model;system;isl;osl;concurrency' reads as one column: columns are "
     "separated by commas, not semicolons"),
    (b"", "parity: error: cases.csv is empty"),
    (b"\nmodel,system,isl,osl,concurrency\n", "parity: error: cases.csv: not a cases table (its first line, the header, "
                                            "is blank; needs a header with at least model, system, isl, osl, "
                                            "concurrency)"),
    (b"case_id,model,system,isl,osl,concurrency\na,llama-3.1-8b,hgx-h100,128,128,1\nb,llama-3.1-8b,hgx-h100,128,128,2\n"
     b"a,llama-3.1-8b,hgx-h100,128,128,4\n", "cases.csv: case_id 'a' names rows 1 and 3; case ids name the output's "
                                              "rows: give each its own (or leave it empty)"),
])
def test_cases_that_are_not_a_utf8_table_are_refused(content: bytes, says: str, tmp_path: Path) -> None:
    path = tmp_path / "cases.csv"
    path.write_bytes(content)
    assert says in refused("predict", str(path))


@pytest.mark.parametrize(("config", "says"), [
    ('{"num_hidden_layers": NaN, "hidden_size": 64, "num_attention_heads": 4, "intermediate_size": 1, '
     '"vocab_size": 10}', "num_hidden_layers is not a finite number (NaN, Infinity or an integer past 1.8e308)"),
    ('{"num_hidden_layers": 2, "hidden_size": Infinity, "num_attention_heads": 4, "intermediate_size": 1, '
     '"vocab_size": 10}', "hidden_size is not a finite number (NaN, Infinity or an integer past 1.8e308)"),
    ('{"num_hidden_layers": 1000000000, "hidden_size": 64, "num_attention_heads": 4, "intermediate_size": 1, '
     '"vocab_size": 10}', "num_hidden_layers = 1e+09 is past parity's sanity bound (10,000)"),
    ('{"num_hidden_layers": 2, "hidden_size": 1e300, "num_attention_heads": 4, "intermediate_size": 1, '
     '"vocab_size": 10}', "hidden_size = 1e+300 is past parity's sanity bound (1,000,000)"),
    # integers past a float's range raised OverflowError in math.isfinite (a traceback, exit 1)
    ('{"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4, "intermediate_size": 1' + "0" * 400 + ', '
     '"vocab_size": 10}', "intermediate_size is not a finite number (NaN, Infinity or an integer past 1.8e308)"),
    ('{"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4, "intermediate_size": 1, '
     '"vocab_size": 1' + "0" * 400 + "}",
     "vocab_size is not a finite number (NaN, Infinity or an integer past 1.8e308)"),
    # past Python's int-to-string limit json.loads raised ValueError (a traceback)
    ('{"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4, "intermediate_size": 1, '
     '"vocab_size": 1' + "0" * 5000 + "}", "JSON holds an integer of more than 4,300 digits, which no config value is"),
])
def test_configs_with_nan_infinity_or_absurd_sizes_are_refused_fast(config: str, says: str, tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(config)
    assert says in refused("model", str(path))
    assert says in refused("serve", "--model", str(path), "--system", "hgx-h100")


def _llama(**changes: object) -> dict:
    """The catalog's verbatim Llama-3.1-8B config.json, keys in `changes` set."""
    from parity.catalog.files import data_dir

    return json.loads((data_dir() / "models" / "meta-llama--Meta-Llama-3.1-8B_config.json").read_text()) | changes


_LINEAR = ["linear_attention"] * 32


@pytest.mark.parametrize(("changes", "says"), [
    ({"quantization_config": [1, 2]}, "config.json: quantization_config must be a JSON object {...}, got an array"),
    ({"quantization_config": {"quant_method": "gptq", "bits": 3}},
     "config.json: quantization_config.bits 3: gptq weights of other than 4 or 8 bits are not modelled"),
    ({"quantization_config": {"quant_method": "gptq", "bits": "8"}},  # said 'other than 4 or 8 bits' (fuzz round 7)
     'config.json: quantization_config.bits "8": must be the integer 4 or 8 (a JSON number without a fraction)'),
    ({"model_type": "mistral", "sliding_window": 4096, "sliding_window_pattern": 0},  # read as every layer
     # sliding; HF divides by it (a llama's window is read only beside layer_types)
     "config.json: sliding_window_pattern must be an integer >= 1, got 0"),
    ({"tie_word_embeddings": "yes"}, 'config.json: tie_word_embeddings must be true or false, got "yes"'),
    ({"model_type": "mixtral", "num_local_experts": 100_000, "num_experts_per_tok": 2},
     "config.json: num_local_experts = 100000 is past parity's sanity bound (10,000)"),
    ({"rope_scaling": {"rope_type": "linear", "factor": 1e30}}, "config.json: rope_scaling.factor 1e+30 x 131,072 "
                                                                "positions = 1.31e+35 tokens is past parity's sanity "
                                                                "bound (1,000,000,000,000)"),
    ({"model_type": "deepseek_v3", "kv_lora_rank": 1e6},
     "config.json: kv_lora_rank = 1e+06 is past parity's sanity bound (100,000)"),
    ({"model_type": "deepseek_v3", "moe_layer_freq": 0}, "config.json: moe_layer_freq must be an integer >= 1, got 0"),
    ({"model_type": "qwen3_next", "full_attention_interval": 0},
     "config.json: full_attention_interval must be an integer >= 1, got 0"),
    ({"layer_types": ["sliding_attention"] * 32, "sliding_window": None},
     "config.json: sliding_window is null; parity needs its value here"),
    ({"layer_types": _LINEAR}, "config.json: linear-attention layers, but the config sizes none (no "
                               "linear_num_key_heads, linear_num_value_heads, linear_key_head_dim, "
                               "linear_value_head_dim, linear_conv_kernel_dim); parity does not invent them"),
    ({"text_config": {"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2}},
     "config.json text_config: missing key 'vocab_size' or 'padded_vocab_size'"),
    # a string text_config was passed over (a wrapper's then said "missing key 'num_hidden_layers' ...")
    ({"text_config": "x"}, "config.json: text_config must be a JSON object {...}, got a string"),
    ({"model_type": "qwen2_5_vl", "text_config": [1], "num_hidden_layers": None},
     "config.json: text_config must be a JSON object {...}, got an array"),
    # values quoted as the config writes them, not as Python prints them (True, '36')
    ({"num_hidden_layers": True}, "config.json: num_hidden_layers must be an integer >= 1, got true"),
    ({"num_hidden_layers": "36"}, 'config.json: num_hidden_layers must be an integer >= 1, got "36"'),
    ({"vocab_size": None, "padded_vocab_size": [128256]},
     "config.json: padded_vocab_size must be an integer >= 1, got [128256]"),
    ({"tie_word_embeddings": None, "mlp_type": False, "model_type": "odd"},
     'config.json: mlp_type false is not modelled (parity reads "default", a plain MLP of two matrices)'),
])
def test_configs_read_silently_or_with_a_traceback_before_are_refused_by_key(changes: dict, says: str,
                                                                             tmp_path: Path) -> None:
    """Each was read with no flag (bits 3 as int4, "yes" as true, moe_layer_freq 0 as 1, 100,000 experts as 564 T
    parameters, a window of 1.3e35 tokens, linear attention sized from nothing) or ended in a traceback (a list as
    quantization_config); a null key was called missing; a text_config beside top-level sizes went unread unnamed."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps(_llama(**changes)))
    assert refused("model", str(path)) == f"parity: error: {says}"
    assert refused("serve", "--model", str(path), "--system", "hgx-h100") == f"parity: error: {says}"


@pytest.mark.parametrize("quantization", ["null", '"abc"'])
def test_a_sibling_hf_quant_config_without_a_quantization_object_is_one_line(quantization: str,
                                                                             tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(_llama()))
    (tmp_path / "hf_quant_config.json").write_text(f'{{"quantization": {quantization}}}')
    kind = "null" if quantization == "null" else "a string"
    assert refused("model", str(tmp_path / "config.json")) == \
        f"parity: error: hf_quant_config.json: quantization must be a JSON object {{...}}, got {kind}"


def test_a_wrapper_reads_its_text_config_over_top_level_sizes(tmp_path: Path) -> None:
    """A llava-style wrapper whose text_config is Llama-3.1-8B and whose top level says hidden_size 999 and 2
    layers: read as transformers' LlavaConfig builds it, from text_config (8,030,261,248 parameters)."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"model_type": "llava", "text_config": _llama(), "hidden_size": 999,
                                "num_hidden_layers": 2}))
    code, out, _ = run("model", str(path), "--format", "json")
    assert code == 0 and json.loads(out)["parameters"] == 8_030_261_248


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_as_config_is_refused_not_waited_on(tmp_path: Path) -> None:
    """It blocked until killed: open() of a FIFO waits for a writer. (Should it block again, a writer comes after
    5 s and the empty read fails the test rather than hanging it.)"""
    import threading

    path = tmp_path / "config.json"
    os.mkfifo(path)

    def unblock() -> None:
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:  # no reader waiting: nothing to unblock
            pass

    writer = threading.Timer(5.0, unblock)
    writer.start()
    try:
        line = refused("model", str(path))
    finally:
        writer.cancel()
    assert line == f"parity: error: {path}: not a regular file but a named pipe (FIFO); give a config.json file"


@pytest.mark.skipif(not os.path.isdir("/dev/fd"), reason="/dev/fd names open descriptors on Linux and macOS")
def test_a_config_from_a_shell_pipe_serves_though_serve_asks_for_its_model_twice() -> None:
    """`serve --model <(cat config.json)` failed '63: malformed JSON': serve reads its model twice and a pipe is
    empty the second time. A pipe's model is read once in a process (model and the other commands read it once)."""
    from parity import catalog
    text = catalog.data_dir().joinpath("models", "Qwen--Qwen3-0.6B_config.json").read_bytes()
    r, w = os.pipe()
    os.write(w, text)  # 1 kB: within the pipe's buffer
    os.close(w)
    try:
        code, out, err = run("serve", "--model", f"/dev/fd/{r}", "--system", "hgx-h100", "--model-kind", "steady",
                             "--format", "json")
    finally:
        os.close(r)
    assert code == 0, err
    assert json.loads(out)["output_tokens_per_s_per_chip"] > 0


@pytest.mark.parametrize(("spec", "says"), [
    ('[axes]\nsystem = ["hgx-h20"]\nmodel = ["llama-3.1-8b"]\nosl = [128]\nconcurrency = [8]\n', "needs the axes isl"),
    ('[[variant]]\nname = "v"\nchip = "nvidia-h20"\nscale = { memory_bytes_per_s = -2.0 }\n[axes]\nvariant = ["v"]\n'
     'model = ["llama-3.1-8b"]\nisl = [128]\nosl = [128]\nconcurrency = [8]\n', "scale.memory_bytes_per_s must be a "
                                                                              "number in [1e-06, 1e+06]"),
    ('[[variant]]\nchip = "nvidia-h20"\n[axes]\nmodel = ["x"]\n', "spec.toml: variant 1 has no name: every "
     "[[variant]] needs a name and a chip (and optional scale and values tables)"),
    ('[sweep]\nmode = "random"\nsamples = 100000000000\n[axes]\nsystem = ["hgx-h20"]\nmodel = ["llama-3.1-8b"]\n'
     'isl = [1]\nosl = [1]\nconcurrency = [1]\n', "spec.toml: [sweep] samples must be 1 to 10,000,000, got "
                                                  "100,000,000,000"),
    *(("[axes]\n" + "\n".join(f"{k} = {v}" for k, v in ({"system": '["hgx-h100"]', "model": '["llama-3.1-8b"]',
                                                          "isl": "[1]", "osl": "[16]", "concurrency": "[4]"}
                                                         | {axis: value}).items()) + "\n", says)
      for axis, value, says in (
          ("isl", '["abc"]', "sweep axis isl = 'abc': expected a whole number, got 'abc'"),
          ("isl", "[128.7]", "sweep axis isl = 128.7: expected a whole number, got 128.7"),
          ("isl", "[true]", "sweep axis isl: expected a whole number, got true"),
          ("system", '["hgx-h1000"]', "sweep axis system = 'hgx-h1000': unknown system or chip"),
          ("model", '["llama-3.1-8bb"]', "sweep axis model = 'llama-3.1-8bb': unknown model"),
          ("max_num_tokens", "[1.5]", "sweep axis max_num_tokens = 1.5: expected a whole number, got 1.5"),
          ("weights", '["fp9"]', "sweep axis weights = 'fp9': unknown number format 'fp9'"))),
    ('[axes]\nsystem = ["hgx-h100"]\nmodel = ["llama-3.1-8b"]\nisl = [1]\nosl = [1]\nconcurrency = [0]\n',
     "sweep axis concurrency = 0: must be a whole number >= 1, got 0"),
    ('[sweep]\nmode = "random"\n[axes]\nsystem = ["hgx-h20"]\nmodel = ["llama-3.1-8b"]\nisl = [1]\nosl = [1]\n'
     'concurrency = [1]\n', "random mode draws 100 distinct cases ([sweep] samples, default 100) and the grid holds 1"),
    ("\x00\x01binary", "holds NUL bytes, so it is not TOML"),
    ("[axes\nmodel = 1", "malformed TOML"),
])
def test_bad_sweep_specs_are_refused_before_any_work(spec: str, says: str, tmp_path: Path) -> None:
    path = tmp_path / "spec.toml"
    path.write_text(spec)
    assert says in refused("sweep", str(path), "--out", str(tmp_path / "out.csv"), "--workers", "1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.toml"]


def test_output_paths_that_cannot_be_written_are_one_line_and_leave_nothing(tmp_path: Path) -> None:
    """--out under a file, in /proc, in a folder that is read-only, or naming a folder; and a report whose
    index.html is a folder (refused before any plot is drawn)."""
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert refused("chips", "--format", "json", "--out", str(blocker / "x.json")) == (
        f"parity: error: --out {blocker / 'x.json'}: {blocker} is a file, not a folder")
    assert "/proc/x.json" in refused("chips", "--format", "json", "--out", "/proc/x.json")
    assert "/sys/x.json: " in refused("chips", "--format", "json", "--out", "/sys/x.json")  # no new files there, even for root
    (tmp_path / "folder.json").mkdir()
    assert "is a directory" in refused("chips", "--format", "json", "--out", str(tmp_path / "folder.json"))
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if not os.access(locked, os.W_OK):  # root writes anywhere
        assert "Permission denied" in refused("chips", "--out", str(locked / "x.csv"))
        assert "not writable" in refused("report", "--out", str(locked / "report"))
    (tmp_path / "report" / "index.html").mkdir(parents=True)
    assert "index.html is a folder" in refused("report", "--out", str(tmp_path / "report"))
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a-file", "folder.json", "index.html", "locked", "report"]


def test_a_report_out_it_cannot_create_names_the_path_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """/proc takes no new entry: the refusal named parity's staging folder ('/proc/.x.00290h4j.tmp: No such file or
    directory'); and a folder that does not exist was 'not a folder' (fuzz17 3.2). Every --out's folder is now tried
    with an empty file before any work (the reason is the system's: root gets ENOENT, another user EACCES)."""
    said = refused("report", "--out", "/proc/x")
    assert said.startswith("parity: error: --out /proc/x: cannot write in /proc (") and said.count("\n") == 0
    monkeypatch.chdir(tmp_path)
    assert refused("report", "--out", "nest/a/b") == "parity: error: --out nest/a/b: no folder nest/a; create it first"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("suffix", "starts"), [(".csv", "id,name,"), (".json", "[\n  {"), (".md", "**Chips"),
                                                  (".txt", "Chips")])
def test_out_picks_the_format_from_the_suffix(suffix: str, starts: str, tmp_path: Path) -> None:
    target = tmp_path / f"chips{suffix}"
    code, out, err = run("chips", "--out", str(target))
    assert code == 0 and not out and err == f"wrote {target}\n"
    text = target.read_text()
    assert text.lstrip().startswith(starts) and "nvidia-h100-sxm" in text and "…" not in text
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no temporary file left


@pytest.mark.e2e  # over 1.5 s: the end-to-end tier keeps the default run under a minute
@pytest.mark.parametrize("command", [("chips",), ("model", "llama-3.1-8b"), ("validate", "--section", "percentiles"),
                                     ("serve", *LLAMA, "--model-kind", "steady"), ("train", *LLAMA, "--tp", "8")])
def test_a_typed_format_table_is_checked_against_the_suffix(command: tuple[str, ...], tmp_path: Path) -> None:
    """--format table --out s.json wrote JSON (table counted as 'not given'): a typed --format is checked against
    the suffix whatever it names, and refused when they differ; --out alone still takes the suffix's format, and
    --format table agrees with .txt."""
    target = tmp_path / "s.json"
    says = refused(*command, "--format", "table", "--out", str(target))
    assert says == "parity: error: --format table contradicts --out s.json (a json file); drop one of them"
    assert not target.exists()
    code, _, _ = run(*command, "--out", str(target))
    assert code == 0 and json.loads(target.read_text())
    text = tmp_path / "s.txt"
    code, _, _ = run(*command, "--format", "table", "--out", str(text))
    assert code == 0 and text.read_text().strip() and not text.read_text().lstrip().startswith(("{", "["))


_VALUE = st.one_of(st.integers(-10**25, 10**25).map(str), st.floats().map(repr), st.text(max_size=6),
                   st.sampled_from(["0", "-1", "nan", "inf", "-inf", "1e20", "50", "50ms", "2 s", "1,024", "0x10",
                                    "none", ""]))
_OPTIONS = {"serve": ("--isl", "--osl", "--concurrency", "--tp", "--attn-dp", "--moe-ep", "--mtp",
                      "--mtp-acceptance", "--random-range-ratio", "--adp-hold-steps"),
            "train": ("--chips", "--tp", "--pp", "--dp", "--cp", "--vp", "--seq-len", "--global-batch",
                      "--micro-batch", "--zero", "--tokens", "--top", "--etp"),
            "model": ("--context",)}


@pytest.mark.e2e  # 60 random commands (7.7 s): the end-to-end tier keeps the default run under a minute
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(command=st.sampled_from(sorted(_OPTIONS)), data=st.data())
def test_random_option_values_end_in_exit_0_or_2_never_a_traceback(command: str, data: st.DataObject) -> None:
    chosen = data.draw(st.lists(st.sampled_from(_OPTIONS[command]), min_size=1, max_size=3, unique=True))
    args = [command] + (["llama-3.1-8b"] if command == "model" else
                        ["--model", "llama-3.1-8b", "--system", "hgx-h100"])
    for option in chosen:
        args += [option, data.draw(_VALUE)]
    code, out, err = run(*args)
    assert code in (0, 2), (args, code, err)
    if code == 2:
        assert len(err.splitlines()) == 1 and err.startswith("parity: error: "), (args, err)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.one_of(st.binary(max_size=200),
                         st.text(max_size=200).map(str.encode),
                         st.lists(st.text(max_size=12), max_size=6).map(
                             lambda cells: ("model,system,isl,osl,concurrency\n" + ",".join(cells)).encode())),
       command=st.sampled_from(["predict", "model", "sweep"]))
def test_random_bytes_as_input_files_end_in_exit_0_or_2(content: bytes, command: str, tmp_path: Path) -> None:
    path = tmp_path / {"predict": "cases.csv", "model": "config.json", "sweep": "spec.toml"}[command]
    path.write_bytes(content)
    extra = ["--out", str(tmp_path / "out.csv"), "--workers", "1"] if command == "sweep" else []
    code, out, err = run(command, str(path), *extra)
    assert code in (0, 2), (content, code, err)
    if code == 2:
        assert len(err.splitlines()) == 1 and err.startswith("parity: error: "), (content, err)


def test_json_of_a_refused_train_layout_is_printed_with_show_infeasible() -> None:
    code, out, _ = run("train", "--model", "llama-3.1-405b", "--system", "hgx-h100", "--tp", "8", "--format", "json",
                       "--show-infeasible")
    assert code == 0 and not json.loads(out)["fits"]


def test_a_bad_out_is_refused_before_a_timeline_or_plot_is_written(tmp_path: Path) -> None:
    """serve --timeline and search --plot wrote their file, then --out was refused: exit 2 with a file left."""
    timeline, plot = tmp_path / "timeline.csv", tmp_path / "frontier.png"
    assert "unknown suffix .xyz" in refused("serve", *LLAMA, "--timeline", str(timeline), "--out",
                                            str(tmp_path / "o.xyz"))
    assert "contradicts --out" in refused("search", *LLAMA, "--refine", "0", "--plot", str(plot), "--format", "json",
                                          "--out", str(tmp_path / "o.csv"))
    assert "name the file .png" in refused("search", *LLAMA, "--refine", "0", "--plot", str(tmp_path / "f.txt"))
    assert not list(tmp_path.iterdir())


def test_predict_table_names_each_refused_case_and_why(tmp_path: Path) -> None:
    """A bad row is a row reason, not a crash; the table showed refused rows as blank cases with chips 'nan' and
    hid the reason in the note column, left out at 120 columns."""
    cases = tmp_path / "cases.csv"
    cases.write_text("model,system,engine,isl,osl,concurrency,tp\nllama-3.1-8b,hgx-h200,vllm,1024,128,8,1\n"
                     "llama-3.1-8b,hgx-h200,vllm,abc,128,8,1\nllama-3.1-8b,hgx-h2000,vllm,1024,128,8,1\n")
    result = CliRunner().invoke(cli, ["predict", str(cases), "--model-kind", "steady", "--format", "table"],
                                env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.stderr
    out = " ".join(result.stdout.split())
    assert "Not feasible (2): row-2: isl must be a whole number, got 'abc'; row-3: unknown system or chip" in out
    assert "nan" not in out and "row-1" in out


def test_predict_names_a_row_without_a_case_id_by_its_place(tmp_path: Path) -> None:
    """A table without case ids gave every output row case_id '' and echoed no model or system, so a refused row
    could only be found by counting (report-only tester fixdz2 2): such a row is row-N, N its place among the rows
    from 1, in JSON, CSV and the table alike; a given id keeps its own, and one that is another row's row-N is
    refused."""
    cases = tmp_path / "cases.csv"
    cases.write_text("case_id,model,system,isl,osl,concurrency\n,llama-3.1-8b,hgx-h100,1024,128,8\n"
                     "mine,llama-3.1-8b,hgx-h100,1024,128,8\n,llama-3.1-8b,nope,1024,128,8\n")
    code, out, _ = run("predict", str(cases), "--model-kind", "steady", "--format", "json")
    assert code == 0 and [(r["case_id"], r["feasible"]) for r in json.loads(out)] == [
        ("row-1", True), ("mine", True), ("row-3", False)]
    bare = tmp_path / "bare.csv"
    bare.write_text("model,system,isl,osl,concurrency\nllama-3.1-8b,nope,1024,128,8\n")
    code, out, _ = run("predict", str(bare), "--model-kind", "steady", "--format", "csv")
    assert code == 0 and [r["case_id"] for r in csv.DictReader(io.StringIO(out))] == ["row-1"]
    cases.write_text("case_id,model,system,isl,osl,concurrency\nrow-2,llama-3.1-8b,hgx-h100,1024,128,8\n"
                     ",llama-3.1-8b,hgx-h100,1024,128,8\n")
    code, _, err = run("predict", str(cases), "--model-kind", "steady")
    assert code == 2 and err.strip() == ("parity: error: cases.csv: row 1's case_id 'row-2' is the id given to row 2, "
                                         "which has none: give one of them another")


def test_predict_caption_ends_a_did_you_mean_without_a_full_stop(tmp_path: Path) -> None:
    """The caption read '...; did you mean hgx-h100, hgx-h20, hgx-h100-8, hgx-h800?.': a reason ending in a question
    mark ends the sentence."""
    cases = tmp_path / "cases.csv"
    cases.write_text("model,system,isl,osl,concurrency\nllama-3.1-8b,hgx-h10,1024,1024,8\n")
    code, out, _ = run("predict", str(cases), "--format", "md")
    assert code == 0 and out.rstrip().endswith(
        "Not feasible (1): row-1: unknown system or chip 'hgx-h10'; did you mean hgx-h100, hgx-h20, hgx-h800, "
        "hgx-h200?"), out


def test_every_command_whose_table_can_leave_columns_out_takes_wide() -> None:
    """'Not shown at 120 columns: note (--wide, ...)' under predict's table, whose command refused --wide."""
    from parity.cli import COMMANDS  # noqa: PLC0415

    for name in COMMANDS:
        options = {o for p in cli.get_command(None, name).params for o in p.opts}  # type: ignore[arg-type]
        assert "--format" not in options or "--wide" in options, name


@pytest.mark.parametrize(("out", "says"), [("out.json", "a sweep writes .csv or .parquet, got .json"),
                                           ("out", "a sweep writes .csv or .parquet, got no suffix"),
                                           ("out.parquet", "Parquet output needs pyarrow")])
def test_a_sweep_out_it_cannot_write_is_refused_before_any_work(out: str, says: str, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """sweep --out results.json wrote CSV into results.json; --out x.parquet without pyarrow failed after the run."""
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if the parquet extra were not installed
    path = tmp_path / "spec.toml"
    path.write_text('[axes]\nsystem = ["hgx-h20"]\nmodel = ["llama-3.1-8b"]\nisl = [128]\nosl = [128]\n'
                    'concurrency = [8]\n')
    assert says in refused("sweep", str(path), "--out", str(tmp_path / out), "--workers", "1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.toml"]


def test_a_row_with_more_cells_than_the_header_is_refused_with_its_reason(tmp_path: Path) -> None:
    """A note with an unquoted comma spilled a cell past the header and the row was predicted as if whole."""
    import csv  # noqa: PLC0415
    import io  # noqa: PLC0415

    cases = tmp_path / "cases.csv"
    cases.write_text("case_id,model,system,isl,osl,concurrency,note\nok,llama-3.1-8b,hgx-h100,1024,128,8,fine\n"
                     "spilled,llama-3.1-8b,hgx-h100,1024,128,8,a, b\n")
    code, out, _ = run("predict", str(cases), "--model-kind", "steady", "--format", "csv")
    rows = {r["case_id"]: r for r in csv.DictReader(io.StringIO(out))}
    assert code == 0 and rows["ok"]["feasible"] == "True" and rows["spilled"]["feasible"] == "False"
    assert rows["spilled"]["note"].startswith("1 cell beyond the header's columns (' b')")


@pytest.mark.parametrize(("column", "says"), [
    ("mtp_token", "unknown column 'mtp_token' (did you mean 'mtp_tokens'?)"),  # the draft count fell back to 0
    ("mtp", "unknown column 'mtp' (did you mean 'mtp_tokens'?)"),  # cut short: the column it begins, not 'tp'
    ("TP", "unknown column 'TP' (did you mean 'tp'?)"),
    ("concurency", "unknown column 'concurency' (did you mean 'concurrency'?)"),
    ("batch_tokens", "unknown column 'batch_tokens' (did you mean 'max_num_tokens'?)"),  # not 'mtp_tokens'
    ("max_num_batched_tokens", "unknown column 'max_num_batched_tokens' (did you mean 'max_num_tokens'?)"),  # vLLM's name for the step token budget
    ("prefil_tp", "unknown column 'prefil_tp' (did you mean 'prefill_tp'?)"),
    ("kv_tokens", "unknown column 'kv_tokens'; no case reads it"),  # a word in common only: no hint
    ("burstiness", "unknown column 'burstiness'; no case reads it"),  # an input predict has not: no hint
    ("gpus", "unknown column 'gpus'; no case reads it"),  # nor a far one ('tp')
    ("tp", "column 'tp' is named twice"),  # the second's cells replaced the first's
])
def test_a_cases_column_predict_does_not_read_is_refused(column: str, says: str, tmp_path: Path) -> None:
    """A misspelled column was ignored without a word and every case took that input's default."""
    cases = tmp_path / "cases.csv"
    cases.write_text(f"model,system,isl,osl,concurrency,tp,{column}\nllama-3.1-8b,hgx-h100,1024,128,8,1,1\n")
    assert refused("predict", str(cases), "--model-kind", "steady").startswith(f"parity: error: cases.csv: {says}")


def test_predict_keeps_what_a_measurement_table_adds_to_its_cases(tmp_path: Path) -> None:
    """The worked example, serving_aiconfigurator.csv, carries measured_* figures, split and note beside each case:
    its first two rows are predicted (the 8,192/1,024 DeepSeek-V3 disaggregated case at 128 clients feasible), as is
    a table whose header ends in an empty column (a spreadsheet's trailing comma); an unnamed column with a cell is
    refused."""
    from parity import catalog  # noqa: PLC0415

    cases = tmp_path / "cases.csv"
    for table in ("serving_aiconfigurator", "serving_percentiles", "serving_published"):
        # the percentiles table's client and the published one's batch_tokens (beside its metric) were refused
        lines = (catalog.data_dir() / "measurements" / f"{table}.csv").read_text().splitlines()
        rate = next(csv.reader(lines[:1])).index("request_rate") if "request_rate" in lines[0] else None
        lines = [lines[0]] + [line for line in lines[1:]  # steady leaves a burst (request_rate inf) unpriced
                              if rate is None or next(csv.reader([line]))[rate] != "inf"]
        cases.write_text("\n".join(lines[:3]) + "\n")
        code, out, err = run("predict", str(cases), "--model-kind", "steady", "--format", "json")
        assert code == 0 and [r["feasible"] for r in json.loads(out)] == [True, True], (table, err)
    cases.write_text("model,system,isl,osl,concurrency,\nllama-3.1-8b,hgx-h100,1024,128,8,\n")
    code, out, _ = run("predict", str(cases), "--model-kind", "steady", "--format", "json")
    assert code == 0 and json.loads(out)[0]["feasible"]
    cases.write_text("model,system,isl,osl,concurrency,\nllama-3.1-8b,hgx-h100,1024,128,8,4\n")
    assert "a column without a name holds cells" in refused("predict", str(cases))


def test_a_cases_row_names_its_benchmark_client(tmp_path: Path) -> None:
    """serving_percentiles.csv's rows name the client that ran them (vllm: `vllm bench serve`, 500 prompts), as
    `serve --client` and validate read it; predict refused the column. A row's client and num_prompts now make its
    simulated benchmark (aiconfigurator's client, 10 x 8 = 80 prompts, without them); an unknown client is the
    row's reason."""
    from parity.predict import case_from_row, scenario_of  # noqa: PLC0415
    from parity.predict.simulated import benchmark_of  # noqa: PLC0415

    row = {"model": "llama-3.1-8b", "system": "hgx-h100", "isl": "1024", "osl": "128", "concurrency": "8"}
    plain = benchmark_of(scenario_of(case_from_row(row)))
    named = benchmark_of(scenario_of(case_from_row(row | {"client": "vllm", "num_prompts": "500"})))
    assert (plain.client.id, plain.arrivals().num_prompts) == ("aiconfigurator", 80)
    assert (named.client.id, named.arrivals().num_prompts) == ("vllm", 500)
    cases = tmp_path / "cases.csv"
    cases.write_text("model,system,isl,osl,concurrency,client\nllama-3.1-8b,hgx-h100,1024,128,8,vlm\n")
    code, out, _ = run("predict", str(cases), "--model-kind", "steady", "--format", "json")
    assert code == 0 and json.loads(out)[0]["note"] == ("client must be one of vllm, inferencex, sglang, "
                                                        "aiconfigurator (or empty), got 'vlm'")


def test_rows_that_differ_only_in_their_client_are_simulated_each_with_its_own(tmp_path: Path) -> None:
    """predict simulates rows that differ only in their case id once; the key left out the client, so a vllm row and
    an aiconfigurator row both ran the first one's client (TTFT 0.2725 s for both; the second alone 0.0651 s: ninth
    fuzz round). Every Scenario field is now either in the deployment group or in the workload key, or named here
    as neither (a new field must be placed)."""
    from parity.predict.scenario import Scenario  # noqa: PLC0415
    from parity.predict.simulated import _workload_key  # noqa: PLC0415

    cases = tmp_path / "cases.csv"
    cases.write_text("case_id,model,system,isl,osl,concurrency,tp,client\n"
                     "a,llama-3.1-8b,hgx-h100,1024,64,4,1,vllm\nb,llama-3.1-8b,hgx-h100,1024,64,4,1,aiconfigurator\n")
    code, out, _ = run("predict", str(cases), "--format", "json")
    rows = json.loads(out)
    assert code == 0 and ["client profile vllm" in rows[0]["note"], "client profile aiconfigurator" in rows[1]["note"]] \
        == [True, True] and rows[0]["ttft_s"] != rows[1]["ttft_s"]
    source = inspect.getsource(Scenario.group.fget) + inspect.getsource(_workload_key)  # type: ignore[union-attr]
    keyed = {f.name for f in dataclasses.fields(Scenario) if f"self.{f.name}" in source or f"scenario.{f.name}" in source}
    assert {f.name for f in dataclasses.fields(Scenario)} - keyed == {"case_id", "engine_settings", "row_settings"}


def test_a_cases_row_longer_than_any_context_is_its_reason(tmp_path: Path) -> None:
    """A 1e23-token prompt was priced ('needs 52428799999999991808.0 GB more per chip'); it is past --isl's bound."""
    cases = tmp_path / "cases.csv"
    cases.write_text("case_id,model,system,isl,osl,concurrency\na,llama-3.1-8b,hgx-h100,1e23,100,4\n"
                     "b,llama-3.1-8b,hgx-h100,100,100000001,4\n")
    code, out, _ = run("predict", str(cases), "--model-kind", "steady", "--format", "json")
    assert code == 0 and [r["note"] for r in json.loads(out)] == [
        "isl 99,999,999,999,999,991,611,392 is beyond any context length (at most 100,000,000)",
        "osl 100,000,001 is beyond any context length (at most 100,000,000)"]


def test_report_refuses_a_dense_model_before_any_work(tmp_path: Path) -> None:
    """--model llama-3.1-70b printed the "8-chip nodes on llama-3.1-70b" table twice: the report sets its MoE model
    beside its dense one (Llama-3.1-70B), and a dense --model made both the same. Refused before a folder is made."""
    assert ("--model llama-3.1-70b is dense; the report sets a mixture-of-experts model (such as deepseek-r1) beside "
            "its dense one, llama-3.1-70b" in refused("report", "--model", "llama-3.1-70b", "--out",
                                                     str(tmp_path / "r")))
    assert "unknown engine 'vlm'" in refused("report", "--engine", "vlm", "--out", str(tmp_path / "r"))
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(("args", "says"), [
    (("--nodes", "hgx-h20,bogus"), "unknown system or chip 'bogus'"),
    (("--nodes", ""), "--nodes '': name at least one chip kind or system"),
    (("--nodes", "hgx-h20,hgx-h20"), "hgx-h20 named twice: each system is compared once"),
    (("--fleet-chips", "nvidia-h100-sxm", "--rule", "3a090"),
     "--rule 3a090 drops every chip named: nvidia-h100-sxm: 3A090.a.1 (TPP 15,832)"),
    (("--demand", "5"), "'5' needs a unit, e.g. 2e12 tokens/day"),
    # a bare zero is wrong before it lacks a unit (it had read "'0' needs a unit": procurement tester FG 6)
    (("--demand", "0"), "must be a positive quantity with a unit (e.g. 2e12 tokens/day), got '0'"),
])
def test_report_refuses_its_own_question_before_any_work(tmp_path: Path, args: tuple[str, ...], says: str) -> None:
    """--nodes, --fleet-chips, --demand and --rule set the report to a planner's own question (it could only show
    the seed story's systems and fleet): a name or rule that cannot be answered is refused before a folder is
    made."""
    assert says in refused("report", *args, "--out", str(tmp_path / "r"))
    assert not list(tmp_path.iterdir())


def test_predict_keeps_its_own_output_columns_in_a_cases_table_unread(tmp_path: Path) -> None:
    """A cases table carrying a former run's predictions beside its cases (ttft_s, feasible) was refused as unknown
    columns; they are predict's outputs, which it writes to a table of its own, so they are kept unread as
    measured_* columns are, and the case is priced from its inputs alone."""
    cases = tmp_path / "cases.csv"
    cases.write_text("model,system,isl,osl,concurrency,ttft_s,feasible\nllama-3.1-8b,hgx-h100,1024,128,8,99,False\n")
    code, out, err = run("predict", str(cases), "--model-kind", "steady", "--format", "json")
    (row,) = json.loads(out)
    assert code == 0 and row["feasible"] and row["ttft_s"] < 1, err


def test_predict_scores_the_measured_columns_of_the_users_runs(tmp_path: Path) -> None:
    """Fuzz 20b 4.2, 3.4: measured_ttft_s and measured_tpot_s were dropped (and -5 or 'abc' in them passed). Now each
    is set against the prediction (predicted / measured - 1) and summed up in one line; nonsense in them is refused."""
    cases = tmp_path / "cases.csv"
    cases.write_text("case_id,model,system,isl,osl,concurrency,measured_tpot_s\n"
                     "a,llama-3.1-8b,hgx-h100,1024,128,8,0.004\nb,llama-3.1-8b,hgx-h100,1024,128,16,\n")
    code, out, err = run("predict", str(cases), "--model-kind", "steady", "--format", "json")
    a, b = json.loads(out)
    assert code == 0, err
    assert a["measured_tpot_s"] == 0.004 and a["tpot_s_error"] == pytest.approx(a["tpot_s"] / 0.004 - 1)
    assert "measured_tpot_s" not in b and "tpot_s_error" not in b
    assert err.strip() == (f"Against the measured columns (predicted / measured - 1): tpot_s median |err| "
                           f"{abs(a['tpot_s_error']):.1%}, p90 {abs(a['tpot_s_error']):.1%} (1 case).")
    again = tmp_path / "again.csv"  # a former run's predictions (its error column too) beside the cases: kept unread
    again.write_text("case_id,model,system,isl,osl,concurrency,measured_tpot_s,tpot_s,tpot_s_error\n"
                     f"a,llama-3.1-8b,hgx-h100,1024,128,8,0.004,{a['tpot_s']},{a['tpot_s_error']}\n")
    code, out, err = run("predict", str(again), "--model-kind", "steady", "--format", "json")
    assert code == 0 and json.loads(out)[0]["tpot_s_error"] == pytest.approx(a["tpot_s_error"]), err
    cases.write_text("model,system,isl,osl,concurrency,measured_ttft_s\nllama-3.1-8b,hgx-h100,1024,128,8,0.1\n"
                     "llama-3.1-8b,hgx-h100,1024,128,8,-5\n")
    assert refused("predict", str(cases)) == ("parity: error: cases.csv: row 2: measured_ttft_s must be a time in "
                                              "seconds above 0 (SI units), got '-5'; leave the cell empty where "
                                              "nothing was measured")


@pytest.mark.parametrize(("option", "header", "says"), [
    ("--trace", "arrival_s,isl,osl,priority", "t.csv: unknown column 'priority'; it takes arrival_s, isl, osl only"),
    ("--trace", "arrival_s,isl,osl,osl_tokens", "unknown column 'osl_tokens'"),
    ("--lengths", "isl,osl,ISL", "l.csv: unknown column 'ISL' (did you mean 'isl'?); it takes isl, osl only"),
])
def test_a_trace_or_lengths_column_nothing_reads_is_refused(option: str, header: str, says: str,
                                                           tmp_path: Path) -> None:
    """A trace's or a lengths table's extra column was dropped without a word, where predict refuses one."""
    path = tmp_path / ("t.csv" if option == "--trace" else "l.csv")
    path.write_text(header + "\n" + ",".join(["0", "100", "50", "1"][-len(header.split(",")):]) + "\n")
    scenario = ("--scenario", "offline") if option == "--lengths" else ()
    assert says in refused("serve", *LLAMA, *scenario, option, str(path))


@pytest.mark.parametrize("command", [("show", ""), ("show", " "), ("model", ""), ("serve", "--model", "",
                                                                                 "--system", "hgx-h100")])
def test_an_empty_name_is_refused_plainly(command: tuple[str, ...]) -> None:
    """`parity show ""` suggested "atlas-350-server, 950pr-node, ..." (every name is a little like the empty one)."""
    line = refused(*command)
    assert "name given: name one" in line and "did you mean" not in line


@pytest.mark.parametrize("command", [("report", "--out", "x5"), ("compare", "hgx-h20"), ("fleet", "--units", "8"),
                                     ("search", "--model", "llama-3.1-8b"), ("formats",),
                                     ("policy", "h100", "--at-threshold", "h20"),
                                     ("serve", "--model", "llama-3.1-8b", "--system", "hgx-h100")])
@pytest.mark.parametrize("blank", ["", "  "])
def test_an_empty_engine_is_refused_as_an_empty_model_is(command: tuple[str, ...], blank: str) -> None:
    """`--engine ""` ran the generic profile, exit 0, and `report` wrote 'engine profile generic' (fuzz17 3.1); serve
    alone took it, as its help said ('empty for the generic profile'), where every other command refused it (fuzz 18):
    serve's default is now named 'generic' as theirs is."""
    assert refused(*command, "--engine", blank).startswith(
        "parity: error: Invalid value for '--engine': no engine name given: name one ('parity engines' lists them), "
        "or leave --engine out for generic (see '")  # the program's name: 'parity', or 'cli' under CliRunner


@pytest.mark.parametrize(("command", "says"), [
    (("fleet", "--model", "deepseek-r1", "--chips", "910c,", "--units", "100"), "--chips '910c,'"),
    (("formats", "--formats", "fp8,,bf16"), "--formats 'fp8,,bf16'"),
    (("validate", "--by", "model,"), "--by 'model,'"),
])
def test_an_empty_entry_in_a_comma_list_is_refused(command: tuple[str, ...], says: str) -> None:
    """'910c,' was read as 910c alone (twelfth round): a comma too many may be a name left out, so it is refused."""
    assert refused(*command) == (f"parity: error: {says}: an empty entry between commas; name each one, separated "
                                 "by one comma")


def test_predict_refuses_a_measured_time_in_milliseconds_and_scores_measured_percentiles(tmp_path: Path) -> None:
    """measured_ttft_ms was kept unread as any measured_* column is, so a user's runs scored nothing without a word;
    it is refused naming the SI column. measured_ttft_p99_s, measured_itl_s and measured_e2e_p50_s were unread too;
    each is set against the simulator's figure as measured_ttft_s is (NaN under the steady model, which has none)."""
    cases = tmp_path / "cases.csv"
    cases.write_text("model,system,isl,osl,concurrency,measured_ttft_ms\nllama-3.1-8b,hgx-h100,1024,128,8,100\n")
    assert refused("predict", str(cases)) == (
        "parity: error: cases.csv: column 'measured_ttft_ms' holds milliseconds; measurements are read in SI units: "
        "name it 'measured_ttft_s' (which predict scores against its prediction) and divide its cells by 1,000")
    cases.write_text("model,system,isl,osl,concurrency,measured_e2e_p99_us\nllama-3.1-8b,hgx-h100,1024,128,8,1\n")
    assert refused("predict", str(cases)).endswith("name it 'measured_e2e_p99_s' (which predict scores against its "
                                                   "prediction) and divide its cells by 1,000,000")
    cases.write_text("model,system,isl,osl,concurrency,measured_ttft_p99_s,measured_itl_s,measured_e2e_p50_s\n"
                     "llama-3.1-8b,hgx-h100,1024,128,8,0.1,0.005,1.0\n")
    code, out, err = run("predict", str(cases), "--model-kind", "steady", "--format", "json")
    (row,) = json.loads(out)
    assert code == 0 and err == "", err
    assert (row["measured_ttft_p99_s"], row["measured_itl_s"], row["measured_e2e_p50_s"]) == (0.1, 0.005, 1.0)
    assert [row[f"{name}_error"] for name in ("ttft_p99_s", "itl_s", "e2e_p50_s")] == [None] * 3  # JSON null: NaN
    assert scored({"feasible": True, "ttft_p99_s": 0.15, "itl_s": 0.004, "e2e_p50_s": 0.9},
                  {"ttft_p99_s": 0.1, "itl_s": 0.005, "e2e_p50_s": 1.0}) == pytest.approx(
        {"measured_ttft_p99_s": 0.1, "ttft_p99_s_error": 0.5, "measured_itl_s": 0.005, "itl_s_error": -0.2,
         "measured_e2e_p50_s": 1.0, "e2e_p50_s_error": -0.1})
    assert measured_values("c.csv", ["measured_ttft_p90_s", "measured_tpot_p50_s"],
                           [{"measured_ttft_p90_s": "0.2", "measured_tpot_p50_s": ""}]) == [{"ttft_p90_s": 0.2}]


@pytest.mark.parametrize(("column", "says"), [
    ("measured_tpot_p95_s", "column 'measured_tpot_p95_s': the simulator reports p50, p90 and p99, not p95, so it "
                            "cannot be scored; name a measured percentile among those (measured_tpot_p90_s, "
                            "measured_tpot_p99_s) or drop the column"),
    ("measured_TTFT_s", "column 'measured_TTFT_s': name it 'measured_ttft_s' (column names are lowercase), which "
                        "predict scores against its prediction"),
])
def test_predict_refuses_measurements_it_would_leave_unscored(tmp_path: Path, column: str, says: str) -> None:
    """A p95 column and a scored name in capitals were kept unread (exit 0, no score line) as a user's own columns
    are: the likeliest percentile a `vllm bench serve` user has, and a case slip, each hid a measurement."""
    cases = tmp_path / "cases.csv"
    cases.write_text(f"model,system,isl,osl,concurrency,{column}\nllama-3.1-8b,hgx-h100,1024,128,8,0.1\n")
    assert refused("predict", str(cases), "--model-kind", "steady") == f"parity: error: cases.csv: {says}"


@pytest.mark.parametrize("args", [
    ("serve", *LLAMA, "--weights", ""), ("serve", *LLAMA, "--weights", " "), ("serve", *LLAMA, "--kv", ""),
    ("serve", *LLAMA, "--moe-weights", ""), ("serve", *LLAMA, "--attention-format", " "),
    ("compare", "hgx-h100", "--model", "llama-3.1-8b", "--weights", ""), ("search", *LLAMA, "--weights", " "),
])
def test_an_empty_format_name_is_refused_in_every_command(args: tuple[str, ...]) -> None:
    """serve --weights '' (or ' ', --kv '') ran the default with exit 0, where compare and search refused ''
    as 'unknown number format'; every command now says no format was named. A predict row's empty cell is not
    one typed: it still means the default (test_an_empty_format_cell_is_the_default)."""
    option = args[-2]
    assert refused(*args) == (f"parity: error: Invalid value for '{option}': no format name given: name one (e.g. "
                              f"bf16, fp8), or leave {option} out for its default (see 'cli {args[0]} --help')")


def test_an_empty_format_cell_is_the_default(tmp_path: Path) -> None:
    """predict's empty (or blank) weights and kv cells price the defaults, as the options left out do."""
    cases = tmp_path / "c.csv"
    cases.write_text("case_id,model,system,weights,kv,isl,osl,concurrency,tp\n"
                     "empty,llama-3.1-8b,hgx-h100,,,1024,1024,32,1\nblank,llama-3.1-8b,hgx-h100, , ,1024,1024,32,1\n"
                     "named,llama-3.1-8b,hgx-h100,bf16,bf16,1024,1024,32,1\n")
    code, out, _ = run("predict", str(cases), "--model-kind", "steady", "--format", "json")
    rows = json.loads(out)
    assert code == 0 and [row["feasible"] for row in rows] == [True] * 3
    assert rows[0]["tpot_s"] == rows[1]["tpot_s"] == rows[2]["tpot_s"] == pytest.approx(0.00914378579561, rel=1e-9)


def test_a_name_short_of_its_suffix_is_suggested_first() -> None:
    """'nvidia-b200' suggested nvidia-gb200, nvidia-gb300, nvidia-l20 and nvidia-h20 (difflib's four closest), not
    nvidia-b200-sxm, the chip it begins (report-only tester fuzzCF 8)."""
    from parity.catalog import close_matches
    chips = ["nvidia-gb200", "nvidia-gb300", "nvidia-l20", "nvidia-h20", "nvidia-b200-sxm", "nvidia-b300-sxm"]
    assert close_matches("nvidia-b200", chips) == ["nvidia-b200-sxm", "nvidia-gb200", "nvidia-gb300", "nvidia-l20"]


def test_a_cases_file_of_one_unclosed_quote_is_refused_in_one_line(tmp_path: Path) -> None:
    """'"' alone: reading the header read the whole file, which closed it, and closing it again raised 'I/O operation
    on closed file' as a traceback (the random-bytes property test found it)."""
    cases = tmp_path / "q.csv"
    cases.write_text('"')
    assert refused("predict", str(cases)) == "parity: error: q.csv: malformed CSV at line 1: unexpected end of data"
    # a quote left open in a row swallowed every row after it into one cell, exit 0 (report-only tester fuzzDH 1)
    cases.write_text("model,system,isl,osl,concurrency,tp\n" + "".join(
        f"llama-3.1-8b,hgx-h100,1024,128,{c},1\n" for c in ('8', '"16', '32', '64')))
    assert refused("predict", str(cases)) == "parity: error: q.csv: malformed CSV at line 5: unexpected end of data"
