"""The values the command line accepts, as click types: durations with a unit, positive whole counts,
finite real numbers and quantities, each refused in one line naming the fix when it makes no sense.

Every command reads its options through these, so `--tpot 50` (50 what?), `--chips 0` (zero is never
"the default") and `--concurrency 1e20` (beyond any deployment) fail the same way everywhere.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import click

from parity import units
from parity.dtypes import CHIP_NATIVE, format_named
from parity.errors import ParityError, UnitError
from parity.hardware import MOST_FLEET_CHIPS
from parity.parallel import RAY_LOCAL
from parity.serving.workload import DEFAULT_TTFT_S
from parity.simulate.clients import MOST_REQUEST_TOKENS
from parity.simulate.targets import LatencyTarget, latency_target

__all__ = ["Duration", "Count", "Real", "Quantity", "DURATION", "COUNT", "TOKENS", "CONCURRENCY",
           "CHIPS", "PARALLEL", "StatisticTarget", "Targets", "targets_options", "target_text", "ray_option",
           "listed"]


def listed(text: str, option: str) -> tuple[str, ...]:
    """The comma-separated entries of an option's value, stripped; an empty entry ('910c,', 'a,,b') refused, since
    what was meant is not known (they were dropped), and a value of no entry gives ()."""
    if not text.strip():
        return ()
    entries = tuple(entry.strip() for entry in text.split(","))
    if not all(entries):
        raise ParityError(f"{option} {text!r}: an empty entry between commas; name each one, separated by one comma")
    return entries

_NUMBER = re.compile(r"^\s*[-+]?(\d[\d_,]*\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")
_NOT_FINITE = re.compile(r"nan|inf", re.IGNORECASE)


class Duration(click.ParamType):
    """A duration with its unit ('50ms', '2 s', '1.5min') [s]: positive, finite, at most `most_s`.
    A bare number is refused: '50' could be 50 s or 50 ms."""

    name = "duration"

    def __init__(self, most_s: float = 86_400.0, most_text: str = "1 day", optional: bool = False) -> None:
        self.most_s, self.most_text, self.optional = most_s, most_text, optional

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float | None:
        if isinstance(value, float):
            return value
        text = str(value).strip()
        if self.optional and text.lower() in ("none", "off"):
            return None
        try:
            seconds = units.duration_s(text)
        except UnitError as err:
            self.fail(str(err), param, ctx)
        if not 0.0 < seconds <= self.most_s:
            self.fail(f"must be a positive duration of at most {self.most_text}, got {text!r}", param, ctx)
        return seconds


class Count(click.ParamType):
    """A whole number in [least, most]; zero is refused (never read as 'the default') unless least is 0."""

    name = "integer"

    def __init__(self, most: int, least: int = 1, what: str = "", left_out: str = "the default") -> None:
        self.most, self.least, self.what, self.left_out = most, least, what, left_out  # left_out: what omitting gives

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            try:
                read = units.read_number(str(value))
            except UnitError:
                grouped = " (digits grouped in threes, if at all: 1,024)" if re.search(r"[,_]", str(value)) else ""
                self.fail(f"expected a whole number{grouped}, got {value!r}", param, ctx)
            if not read.is_integer() or not re.fullmatch(r"\s*[-+]?[\d,_]+\s*", str(value)):
                self.fail(f"expected a whole number, got {value!r}", param, ctx)
            number = int(re.sub(r"[\s,_]", "", str(value)))  # its digits, exactly (the float read rounds past 2**53)
        if number < self.least:
            hint = f" (leave the option out for {self.left_out})" if number == 0 and self.least > 0 else ""
            self.fail(f"must be a whole number >= {self.least}, got {number}{hint}", param, ctx)
        if number > self.most:
            self.fail(f"{number:,} is beyond {self.what or 'any sensible value'} (at most {self.most:,})", param, ctx)
        return number


class CountOrOff(Count):
    """A whole number in [1, most], or -1 for 'off' (SGLang's --chunked-prefill-size -1: chunked prefill off); zero
    and any other number below 1 are refused, naming both."""

    name = "integer"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if str(value).strip() == "-1":
            return -1
        if str(value).strip() in ("0", "+0", "-0"):
            self.fail("must be -1 (off) or a whole number >= 1, got 0", param, ctx)
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter as error:  # below 1 (-5): say that -1 is taken too, as for 0
            if not error.message.startswith("must be a whole number >="):
                raise
            self.fail(error.message.replace("must be a whole number", "must be -1 (off) or a whole number", 1),
                      param, ctx)


class EngineName(click.ParamType):
    """A serving-engine profile's name, stripped; a blank one is refused as a blank --model is, since the catalog
    reads an empty name as 'generic' and the run would say 'engine profile generic' for an option given."""

    name = "engine"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value).strip()
        if not text:
            self.fail("no engine name given: name one ('parity engines' lists them), or leave --engine out for "
                      "generic", param, ctx)
        return text


ENGINE = EngineName()


class FormatName(click.ParamType):
    """A number format's name, stripped (what it names is read where it is used, dtypes.format_named); a blank one
    is refused: the option's default is its absence, never '' typed (a CSV's empty cell is predict's default)."""

    name = "format"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value).strip()
        if not text:
            option = param.opts[0] if param is not None and param.opts else "the option"
            self.fail(f"no format name given: name one (e.g. bf16, fp8), or leave {option} out for its default",
                      param, ctx)
        return text


FORMAT_NAME = FormatName()


class Real(click.ParamType):
    """A finite real number in [least, most] (NaN and infinities refused); `open_least`: least excluded."""

    name = "number"

    def __init__(self, least: float = -math.inf, most: float = math.inf, open_least: bool = False) -> None:
        self.least, self.most, self.open_least = least, most, open_least

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"expected a number, got {value!r}", param, ctx)
        if not math.isfinite(number):
            self.fail(f"must be a finite number, got {value!r}", param, ctx)
        below = number <= self.least if self.open_least else number < self.least
        if below or number > self.most:
            low = "(" if self.open_least else "["
            self.fail(f"must be in {low}{self.least:g}, {self.most:g}], got {value!r}", param, ctx)
        return number


class RequestRate(Real):
    """Requests per second, in (0, 1e9], or 'inf' as vLLM's and SGLang's clients take it (--request-rate inf:
    every request sent at once)."""

    def __init__(self) -> None:
        super().__init__(0.0, 1e9, open_least=True)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, str) and value.strip().lower() in ("inf", "infinity"):
            return math.inf
        return super().convert(value, param, ctx)


class FormatChoice(click.Choice):
    """One of `choices`, number formats, by any of its names (dtypes.format_named: ue8m0 is fp8_block, e4m3 fp8),
    read as the format's own name."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            name = format_named(value).name if isinstance(value, str) else value
        except ParityError:
            name = value  # not a format: click.Choice refuses it, listing the choices
        if name not in self.choices and name != value:  # a format this option does not take: say what was typed
            self.fail(f"{value!r} ({name}) is not one of {', '.join(map(repr, self.choices))}", param, ctx)
        return super().convert(name, param, ctx)


class Quantity(click.ParamType):
    """A positive, finite quantity with a unit ('2e12 tokens/day', '5M tokens/s') in SI base units."""

    name = "quantity"

    def __init__(self, dimension: str, example: str, most: float = math.inf) -> None:
        self.dimension, self.example, self.most = dimension, example, most

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, float):
            return value
        text = str(value)
        if _NUMBER.match(text):  # a bare zero or negative number says what is wrong with it first
            positive = float(text.replace(",", "")) > 0
            self.fail(f"{text!r} needs a unit, e.g. {self.example}" if positive else
                      f"must be a positive quantity with a unit (e.g. {self.example}), got {text!r}", param, ctx)
        if _NOT_FINITE.search(text):
            self.fail(f"must be a finite number with a unit (e.g. {self.example}), got {text!r}", param, ctx)
        try:
            number = units.parse(text, self.dimension)
        except UnitError as err:
            self.fail(f"{err} (e.g. {self.example})", param, ctx)
        if not 0.0 < number <= self.most:
            self.fail(f"must be positive and at most {self.most:g} (SI), got {text!r}", param, ctx)
        return number


class StatisticTarget(click.ParamType):
    """A latency target that may name its statistic ('2s' the mean, 'p99:2s', 'p50:800ms'), or 'none':
    a LatencyTarget of `metric` (simulate.targets reads the text), at most DURATION's longest."""

    name = "target"

    def __init__(self, metric: str, means_only: bool = False) -> None:
        self.metric, self.means_only = metric, means_only

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> LatencyTarget | None:
        if value is None or isinstance(value, LatencyTarget):
            return value
        text = str(value).strip()
        if text.lower() in ("none", "off"):
            return None
        if not text:  # latency_target reads '' as no target; an option given blank is a slip, not 'none'
            self.fail("empty: give a duration (e.g. 2s, p99:2s) or 'none'", param, ctx)
        try:
            target = latency_target(text, self.metric)
        except ParityError as err:
            self.fail(str(err).removeprefix(f"--{self.metric} {text!r}: "), param, ctx)
        assert target is not None
        if self.means_only and target.statistic != "mean":
            self.fail(f"{text!r}: this command's steady-state model gives means only; a percentile target is "
                      "checked by the simulator in `parity search`, `parity serve`, `parity compare --refine` and `parity fleet` (or "
                      f"give the mean's bound, e.g. {target.seconds:g}s)", param, ctx)
        if target.seconds > DURATION.most_s:
            self.fail(f"must be a positive duration of at most {DURATION.most_text}, got {text!r}", param, ctx)
        return target


class MeanBound(StatisticTarget):
    """A latency target a steady-state command reads as its mean's bound [s] ('50ms', 'mean:50ms'): a percentile
    is refused as StatisticTarget(means_only=True) refuses it (it was 'cannot read'), and so is 'none' where the
    command has a default target instead."""

    name = "duration"

    def __init__(self, metric: str) -> None:
        super().__init__(metric, means_only=True)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:  # type: ignore[override]
        if isinstance(value, float):
            return value
        target = super().convert(value, param, ctx)
        if target is None:
            self.fail(f"give a duration such as 50ms, got {value!r} (leave the option out for the default)",
                      param, ctx)
        return target.seconds


DURATION = Duration()
COUNT = Count(most=10**9)
TOKENS = Count(most=MOST_REQUEST_TOKENS, what="any context length")  # prompt and output lengths
CONCURRENCY = Count(most=10**7, what="any deployment's concurrent requests")
CHIPS = Count(most=MOST_FLEET_CHIPS, what="any fleet's chips")
UNITS = Count(most=MOST_FLEET_CHIPS, what="any fleet's chips", left_out="no cap on chips")
PARALLEL = Count(most=2**20, what="any parallel degree")


def target_text(name: str, seconds: float | None, statistic: str = "mean") -> str:
    """A latency target for titles: 'TPOT 50 ms', 'TTFT p99 2 s', or 'no TTFT target'."""
    named = "" if statistic == "mean" else f" {statistic}"
    return f"{name}{named} {units.duration_text(seconds)}" if seconds else f"no {name} target"


@dataclass(frozen=True, slots=True)
class Targets:
    """The latency targets a serving question is asked under [s]; None: no target. A target may bound a
    percentile (`tpot_statistic`, `ttft_statistic`: mean, p50, p90 or p99) where the command simulates
    (`targets_options(statistics=True)`); tpot_s and ttft_s are then that percentile's bound."""

    tpot_s: float | None = 0.05
    ttft_s: float | None = None
    tpot_statistic: str = "mean"
    ttft_statistic: str = "mean"

    def text(self, ttft_always: bool = False) -> str:
        """'TPOT 50 ms, TTFT 5 s' for titles (the TTFT part only when set, unless `ttft_always`);
        a percentile bound names it: 'TTFT p99 2 s'."""
        tpot = target_text("TPOT", self.tpot_s, self.tpot_statistic)
        ttft = f", {target_text('TTFT', self.ttft_s, self.ttft_statistic)}" if self.ttft_s or ttft_always else ""
        return tpot + ttft

    def screen_ttft_s(self, arrivals: str) -> float | None:
        """The TTFT bound [s] the steady-state search screens configurations by: the target's, a percentile's at the
        same bound (a closed loop's mean is at most its p99), but none for a percentile under Poisson arrivals,
        whose TTFT the closed-loop steady model does not price (the simulator checks it alone)."""
        return None if arrivals == "poisson" and self.ttft_statistic != "mean" else self.ttft_s

    def percentiles(self) -> tuple[LatencyTarget, ...]:
        """The targets that bound a percentile rather than the mean (checked by the simulator)."""
        pairs = (("tpot", self.tpot_s, self.tpot_statistic), ("ttft", self.ttft_s, self.ttft_statistic))
        return tuple(LatencyTarget(metric=m, statistic=s, seconds=v) for m, v, s in pairs if v and s != "mean")


# the TTFT target of the commands that rank a system's configurations (compare, formats, fleet) unless told
DEFAULT_TTFT = f"{DEFAULT_TTFT_S:g}s"  # the library's default (compare, fleet), as a duration


def arrivals_option(default: str = "closed", when: str = "with --refine") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """--arrivals: how the simulator's requests arrive where a command re-runs its configurations (`when`)."""
    from parity.predict.refine import ARRIVALS  # noqa: PLC0415 - the simulator loads only where a command runs

    return click.option("--arrivals", type=click.Choice(ARRIVALS), default=default, show_default=True,
                        help=f"{when}: how the simulated requests arrive: closed, the benchmark's clients in a "
                             "closed loop, every one sending at once to start (a benchmark's percentiles: its p99 "
                             "TTFT is that first wave); poisson, as many requests arriving at random at the rate "
                             "each configuration sustains (production traffic's percentiles)")


def formats_text(weights: str | None, disaggregated: bool = False, shown: Sequence[tuple[str, str]] = ()) -> str:
    """What a caption says of the formats compare and fleet run (search.best_precision): --weights on every chip
    where given, else the narrowest each chip runs natively; an FP8 KV cache where the chip has FP8; and what
    `parity serve` needs to run the same configuration: those formats, and fixed lengths (its steady model draws the
    client profile's unless --random-range-ratio is given). It gives the same figures; where some row is
    `disaggregated` the caption says they are those of the whole workers its line names (search._disaggregated).
    `shown`: each row's (weights, emulated_on), so that a name of the chip's own format (fp4) says only the formats
    those rows run (_own_text)."""
    own = CHIP_NATIVE.get(weights.strip().lower()) if weights else None  # fp4: the chip's own (dtypes.format_on)
    chosen = ("the narrowest weights each chip runs natively" if not weights else
              f"{weights} weights on every chip (--weights)" if not own else
              f"{weights} weights on every chip (--weights), {_own_text(own, shown)}, as the format column says")
    return (f"{chosen}, and an FP8 KV cache where the chip has FP8 (bf16 otherwise); the steady-state figures are at "
            f"fixed prompt and output lengths: `parity serve --model-kind steady` runs the same configuration with "
            f"--weights {weights or '(the format shown)'}, --kv fp8 (bf16 on a chip without FP8) and "
            "--random-range-ratio 1"
            + (", and gives the same figures, a disaggregated one's on the whole workers its line names"
               if disaggregated else ", and gives the same figures"))


def _own_text(own: Sequence[str], shown: Sequence[tuple[str, str]]) -> str:
    """Which of a chip-native name's formats (`own`, dtypes.CHIP_NATIVE: nvfp4, mxfp4) the rows `shown` (weights,
    emulated_on) run, as dtypes.format_on picks them: 'each chip's own: nvfp4 where it has it, else mxfp4, else nvfp4
    emulated', each clause only where a row runs it (all of `own`, none emulated, where no rows are given)."""
    native = [f for f in own if not shown or (f, "") in shown]
    emulated = list(dict.fromkeys(f for f, on in shown if on))
    if not native:
        return f"no chip here has {' or '.join(own)}: {' or '.join(emulated)} emulated"
    return "each chip's own: " + ", else ".join([f"{native[0]} where it has it", *native[1:],
                                                *(f"{f} emulated" for f in emulated)])


# what the simulator's client sends where it re-runs a configuration (compare --refine, search --refine, fleet under
# percentile targets), in one wording: the steady-state figures are at fixed lengths, the client draws its own
SIM_CLIENT = ("the client profile's lengths (sim_case names them, and under Poisson arrivals the tokens its requests "
              "carry), where the steady-state columns' are fixed")


def arrivals_text(arrivals: str) -> str:
    """What a caption says of Poisson arrivals ('' for the closed loop, the default)."""
    return ("; the simulated requests arrive at random (Poisson) at the rate each configuration sustains in the "
            "steady-state model, as production traffic does, not as a benchmark's closed loop (no measured open-loop "
            "run validates these percentiles yet: of the two published, parity prices DeepSeek-V3.2 on H20s as not "
            "fitting and puts GLM-5.1's TTFT on H200s 80% low; `parity validate --section percentiles`)"
            if arrivals == "poisson" else "")


def targets_options(ttft_default: str | None = None,
                    statistics: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """--tpot and --ttft, read as durations (or 'none') and handed to the command as one `targets` record;
    with `statistics` a target may name a percentile ('p99:2s', simulate.targets)."""
    tpot_type, ttft_type = (StatisticTarget("tpot", means_only=not statistics),
                            StatisticTarget("ttft", means_only=not statistics))
    named = "; the mean's, or a percentile's as p99:{}" if statistics else ""
    ttft_help = f"time-to-first-token target (a duration such as 2s, or none{named.format('2s')})"
    tpot_help = f"time-per-output-token target (a duration such as 50ms, or none{named.format('60ms')})"

    def seconds(target: LatencyTarget | float | None) -> tuple[float | None, str]:
        if isinstance(target, LatencyTarget):
            return target.seconds, target.statistic
        return target, "mean"

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def command(*args: Any, tpot_s: Any, ttft_s: Any, **kwargs: Any) -> Any:
            (tpot, tpot_stat), (ttft, ttft_stat) = seconds(tpot_s), seconds(ttft_s)
            return func(*args, targets=Targets(tpot, ttft, tpot_stat, ttft_stat), **kwargs)

        command = click.option("--ttft", "ttft_s", type=ttft_type, default=ttft_default,
                               show_default=ttft_default is not None, help=ttft_help)(command)
        return click.option("--tpot", "tpot_s", type=tpot_type, default="50ms", show_default=True,
                            help=tpot_help)(command)
    return decorate


def ray_option(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """--ray [ADDRESS]: run `what` as Ray tasks, on a local instance (RAY_LOCAL) or the cluster at
    ADDRESS; the command receives `ray` (None without the option)."""
    return click.option("--ray", "ray", is_flag=False, flag_value=RAY_LOCAL, default=None, metavar="[ADDRESS]",
                        help=f"run {what} on Ray: a local instance (--ray) or the cluster at ADDRESS (--ray ADDRESS); "
                             "needs the ray extra")
