"""scripts/derive_engine_kernels.py's check on the stored files: every engine_kernels.toml ratio derived through a
fitted profile is what the stored profiles give, to the decimals it is written to; and --write's edit of the file
(test_engine_kernels.py reproduces each published figure from the stored ratio)."""

import tomllib

import pytest

from parity import catalog
from parity.derive_kernels import SENTENCE, Derived, decimals, derive_all, drifted, rewrite, stored_ratios

TEXT = (catalog.data_dir() / "engine_kernels.toml").read_text()


@pytest.fixture(scope="module")
def derived() -> list[Derived]:
    return derive_all(stored_ratios(TEXT))


@pytest.mark.e2e
def test_no_derived_ratio_drifted_from_the_stored_profiles(derived) -> None:
    """Run after each refit of the CUDA SGLang or vLLM profile: a refit that moves a derived ratio past its
    rounding fails here until `scripts/derive_engine_kernels.py --write` stores it."""
    stored = stored_ratios(TEXT)
    assert len(derived) == 11 and len({e for d in derived for e in d.entries}) == 22
    assert [(d.name, round(d.ratio, decimals(stored[d.entries[0]]))) for d in derived if drifted(d, stored)] == []


@pytest.mark.e2e
def test_write_is_idempotent_and_writes_one_sentence_an_entry(derived) -> None:
    """Every derived entry closes with one machine sentence, and a second --write changes nothing (the figures
    in the stored sentences may be older than the profiles: only a ratio past its rounding fails the check)."""
    once = rewrite(TEXT, derived)
    assert rewrite(once, derived) == once
    assert TEXT.count(SENTENCE) == once.count(SENTENCE) == 22


def test_write_edits_the_ratio_and_replaces_the_sentence_and_nothing_else(derived) -> None:
    """A ratio that moved is rewritten to the decimals it had, its sentence replaced (not appended); the other
    lines, comments included, and the other entries stay."""
    moved = [Derived(name=d.name, entries=d.entries, ratio=d.ratio + 0.5 if d.name == "sglang#2643" else d.ratio,
                     figures="new figures" if d.name == "sglang#2643" else d.figures) for d in derived]
    text = rewrite(TEXT, moved)
    changed = [(a, b) for a, b in zip(TEXT.split("\n"), text.split("\n"), strict=True) if a != b]
    assert len(changed) == 2
    old_ratio = stored_ratios(TEXT)[("sglang", "0.4.1", "cuda", "launch")]
    assert changed[0] == (f"time_ratio = {old_ratio}", f"time_ratio = {float(old_ratio) + 0.5:.2f}")
    assert changed[1][1].endswith(f'{SENTENCE}new figures."') and changed[1][1].count(SENTENCE) == 1
    assert changed[1][1].split(SENTENCE)[0] == changed[1][0].split(SENTENCE)[0]
    before, after = tomllib.loads(TEXT), tomllib.loads(text)
    launch = after["kernel"][0]
    assert (launch["op"], launch["stack"]) == ("launch", "cuda")
    assert launch["time_ratio"] == pytest.approx(float(old_ratio) + 0.5)
    assert after["kernel"][1:] == before["kernel"][1:] and after.keys() == before.keys()
    assert rewrite(rewrite(TEXT, moved), derived) == TEXT


def test_a_ratio_drifts_only_past_its_rounding() -> None:
    """3.67 stored: 3.674 holds, 3.676 drifted; 17.1 stored: 17.14 holds."""
    stored = {("sglang", "0.4.1", "cuda", "launch"): "3.67", ("sglang", "0.4.1", "cuda", "attention_prefill"): "17.1"}
    launch = ("sglang", "0.4.1", "cuda", "launch")
    assert not drifted(Derived(name="x", entries=(launch,), ratio=3.674, figures=""), stored)
    assert drifted(Derived(name="x", entries=(launch,), ratio=3.676, figures=""), stored)
    assert not drifted(Derived(name="x", entries=(("sglang", "0.4.1", "cuda", "attention_prefill"),), ratio=17.14,
                               figures=""), stored)
    assert (decimals("3.67"), decimals("17.1"), decimals("4")) == (2, 1, 0)
