""".dockerignore patterns under hostile input: many wildcards against long names and deep paths match in
linear time, and bad patterns are ContextErrors; nothing else escapes."""

from __future__ import annotations

from contextlib import suppress

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slipway.errors import ContextError
from slipway.frontend.ignore import IgnoreMatcher, read_ignore_file

PIECES = st.sampled_from(["*", "**", "**/", "?", "a", "b", "/", "[a-b]", "[^a]", "\\*", "!", ".", "..", "é"])
PATTERN = st.lists(
    st.one_of(PIECES, st.tuples(PIECES, st.integers(1, 60)).map(lambda p: p[0] * p[1])), max_size=12
)
PATH_PIECES = st.sampled_from(["a", "b", "/", "ab", "é", ".", "\udcff"])
PATH = st.lists(st.tuples(PATH_PIECES, st.integers(1, 300)).map(lambda p: p[0] * p[1]), max_size=6)

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MANY = settings(max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def matches_or_refuses(patterns: list[list[str]], path: list[str]) -> None:
    text = "\n".join("".join(pattern) for pattern in patterns)
    with suppress(ContextError):
        matcher = IgnoreMatcher(read_ignore_file(text))
        joined = "".join(path)
        assert isinstance(matcher.matches(joined), bool)
        assert isinstance(matcher.can_skip_dir(joined), bool)


@FAST
@given(st.lists(PATTERN, max_size=4), PATH)
def test_wildcard_heavy_patterns_match_long_paths_or_are_refused(
    patterns: list[list[str]], path: list[str]
) -> None:
    matches_or_refuses(patterns, path)


@pytest.mark.slow
@MANY
@given(st.lists(PATTERN, max_size=4), PATH)
def test_wildcard_heavy_patterns_match_long_paths_or_are_refused_many(
    patterns: list[list[str]], path: list[str]
) -> None:
    matches_or_refuses(patterns, path)


@pytest.mark.parametrize(
    ("pattern", "path"),
    [
        ("*a" * 12 + "*b", "a" * 250),  # exponential for a backtracking matcher
        ("**/a" * 12 + "/b", "/".join(["a"] * 400)),
        ("a*" * 20 + "/**/" + "*b" * 20, "a" * 200 + "/" + "a/" * 300 + "a" * 200),
    ],
)
def test_patterns_that_would_backtrack_exponentially_answer(pattern: str, path: str) -> None:
    matcher = IgnoreMatcher((pattern,))
    assert matcher.matches(path) is False
    assert matcher.can_skip_dir(path) is False


def test_a_pattern_with_many_wildcards_still_matches_what_it_should() -> None:
    matcher = IgnoreMatcher(("*a*b*c*d*e", "**/x/**/y/**/z", "!**/x/keep/**/y/**/z"))
    assert matcher.matches("0a1b2c3d4e")
    assert not matcher.matches("0a1b2c3d4")
    assert matcher.matches("p/x/q/y/r/z")
    assert not matcher.matches("p/x/keep/y/r/z")
    assert matcher.matches("x/y/z")
