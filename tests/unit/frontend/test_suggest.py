"""frontend/_suggest.py: BuildKit's util/suggest (Levenshtein distance under 3, first best wins)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slipway.frontend._suggest import _levenshtein, did_you_mean, suggest


@pytest.mark.parametrize(
    ("value", "options", "expected"),
    [
        ("bulid", ["build", "test"], "build"),  # a swap is two edits
        ("mont", ["mount", "network", "security"], "mount"),
        ("typ", ["type", "from", "source"], "type"),
        ("tmp", ["bind", "cache", "tmpfs", "secret", "ssh"], "tmpfs"),
        ("BULIDPLATFORM", ["BUILDPLATFORM", "TARGETPLATFORM"], "BUILDPLATFORM"),
        ("version", ["tag", "TARGETOS"], None),  # too far from everything
        ("build", ["build", "bulid"], None),  # a known name is no typo
        ("abc", ["abd", "abe"], "abd"),  # a tie: the first
        ("", ["a", "bcd"], "a"),
    ],
)
def test_the_closest_option_under_three_edits(value: str, options: list[str], expected: str | None) -> None:
    assert suggest(value, options) == expected


def test_case_insensitive_answers_in_the_case_written() -> None:
    known = ["ADD", "ENTRYPOINT", "RUN"]
    assert suggest("FNTRYPOINT", known, case_sensitive=False) == "ENTRYPOINT"
    assert suggest("fntrypoint", known, case_sensitive=False) == "entrypoint"
    assert suggest("Runn", known, case_sensitive=False) == "run"  # neither case: the option as lowered
    assert suggest("run", known, case_sensitive=False) is None


def test_did_you_mean_appends_buildkit_words() -> None:
    assert (
        did_you_mean("unknown flag: --mont", "mont", ["mount"])
        == "unknown flag: --mont (did you mean mount?)"
    )
    assert did_you_mean("unknown flag: --x", "x", ["mount"]) == "unknown flag: --x"


def _reference_distance(first: str, second: str) -> int:
    previous = list(range(len(second) + 1))
    for row, char in enumerate(first, start=1):
        current = [row]
        for column, other in enumerate(second, start=1):
            current.append(min(previous[column] + 1, current[-1] + 1, previous[column - 1] + (char != other)))
        previous = current
    return previous[-1]


@given(st.text(max_size=12), st.text(max_size=12))
def test_the_bounded_distance_is_the_distance_up_to_its_bound(first: str, second: str) -> None:
    assert _levenshtein(first, second, 3) == min(_reference_distance(first, second), 3)
