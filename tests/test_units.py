"""The unit module reads quantities into SI base units and rejects spellings that need guessing."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parity import units
from parity.errors import UnitError


@pytest.mark.parametrize(("text", "dimension", "expected"), [
    ("989.4 TFLOP/s", "flop_per_s", 989.4e12),
    ("1,979 TOP/s", "flop_per_s", 1979e12),
    ("80 GB", "bytes", 80e9),
    ("96 GiB", "bytes", 96 * 2**30),
    ("3.35 TB/s", "bytes_per_s", 3.35e12),
    ("400 Gb/s", "bytes_per_s", 50e9),  # bits: 400e9 / 8
    ("132 kW", "w", 132e3),
    ("814 mm2", "m2", 814e-6),
    ("50ms", "s", 0.05),
    ("3 us", "s", 3e-6),
    ("2e12 tokens/day", "tokens_per_s", 2e12 / 86400),
    ("7B", "count", 7e9),
])
def test_parse_reads_si(text: str, dimension: str, expected: float) -> None:
    assert units.parse(text, dimension) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("text", "dimension", "hint"), [
    ("989 TFLOPS", "flop_per_s", "FLOP/s"),
    ("4.8 TBps", "bytes_per_s", "TB/s"),
    ("400 Gbps", "bytes_per_s", "Gb/s"),
    ("80 gb", "bytes", "unknown unit"),
    ("80 GB", "bytes_per_s", "'80 GB' is a size, expected a bandwidth"),
    # the dimension's name read 'for a s', and the unit lost its space ('Mtokens/min')
    ("2S", "s", "unknown unit 'S' in '2S' for a duration$"),
    ("5M tokens/min", "tokens_per_s", "unknown unit 'M tokens/min' in '5M tokens/min' for a token rate; write "
     "tokens/s, tokens/day or tokens/h, after a prefix such as k or M$"),
    ("fast", "s", "cannot read"),
    ("12", "w", "needs a unit"),
])
def test_parse_rejects_ambiguous_or_wrong(text: str, dimension: str, hint: str) -> None:
    with pytest.raises(UnitError, match=hint):
        units.parse(text, dimension) if text != "12" else units.parse(12, dimension)


@settings(max_examples=40, deadline=None)
@given(st.floats(min_value=1e-3, max_value=1e6, allow_nan=False))
def test_format_then_parse_round_trips_to_three_figures(value: float) -> None:
    shown = units.format_si(value * 1e12, "flop_per_s", digits=6)
    assert units.parse(shown, "flop_per_s") == pytest.approx(value * 1e12, rel=1e-5)


def test_share_text_reads_at_any_size() -> None:
    """Nothing that is not zero reads 0%, nothing short of all reads 100%, and ten times the whole on is a
    multiplier, not 2310262.0%."""
    shares = (0.0, 0.0004, 0.001, 0.375, 0.9996, 1.0, 2.5, 9.999, 23.1, 23_102.62, 1.3e7)
    assert [units.share_text(v) for v in shares] == [
        "0%", "<0.1%", "0.1%", "37.5%", ">99.9%", "100.0%", "250.0%", "999.9%", "23.1x", "23,103x", "1.3e+07x"]


@pytest.mark.parametrize(("seconds", "text"), [
    (1e-6, "0.001 ms"), (0.05, "50 ms"), (2.0, "2 s"), (999.0, "999 s"), (1000.0, "16.7 min"), (3600.0, "60 min"),
    (82_800.0, "23 h"),  # read '8.28e+04 s' in a title
])
def test_duration_text_reads_long_durations_in_minutes_and_hours(seconds: float, text: str) -> None:
    assert units.duration_text(seconds) == text


@pytest.mark.parametrize(("number", "text"), [(1, "1 sequence"), (64, "64 sequences"), (2.5, "2.5 sequences"),
                                              (30.3349, "30.3 sequences"), (1024.0, "1024 sequences"),
                                              (150.7, "151 sequences")])
def test_a_count_in_words_keeps_three_figures_of_a_fraction(number: float, text: str) -> None:
    """serve --explain titled its decode breakdown 'One decode step of 30.3349 sequences per rank'."""
    assert units.counted(number, "sequence") == text
