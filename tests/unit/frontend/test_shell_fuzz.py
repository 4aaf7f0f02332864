"""Word expansion under hostile input: deep nesting, long values, patterns with many wildcards and values
that repeat each other end in a value or an ExpansionError, never a RecursionError or a hang."""

from __future__ import annotations

from contextlib import suppress

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slipway.errors import ExpansionError
from slipway.frontend.shell import MAX_NESTING, ShellLexer

PIECES = st.sampled_from(
    [
        "$", "${", "}", "${a", "${a:-", "${a-", "${a:+", "${a?", "${a#", "${a##", "${a%", "${a%%", "${a/", "${a//",
        "${b:-", "/", "*", "?", "\\", "`", "'", '"', " ", "x", "a", "$a", "$b", "${a}", "\n", "é", "$$", "$0",
    ]
)  # fmt: skip
REPEATED = st.tuples(PIECES, st.integers(1, 2000)).map(lambda piece: piece[0] * piece[1])
WORD = st.lists(st.one_of(PIECES, REPEATED), max_size=10).map("".join)
VALUE = st.one_of(
    st.text(max_size=20), st.tuples(st.sampled_from(["a", "ab", "x/", " "]), st.integers(0, 50_000))
)
ENV = st.fixed_dictionaries(
    {"a": VALUE.map(lambda value: value if isinstance(value, str) else value[0] * value[1]), "b": st.text()}
)

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MANY = settings(max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def expands_or_fails_cleanly(word: str, env: dict[str, str], escape: str) -> None:
    lexer = ShellLexer(escape)
    with suppress(ExpansionError):
        lexer.expand_word(word, env)
    with suppress(ExpansionError):
        lexer.expand_words(word, env)
    raw = ShellLexer(escape, raw_quotes=True, raw_escapes=True, skip_unset_env=True)
    with suppress(ExpansionError):
        raw.expand_words(word, env)


@FAST
@given(WORD, ENV, st.sampled_from(["\\", "`"]))
def test_words_in_bulk_expand_or_fail_as_expansion_errors(
    word: str, env: dict[str, str], escape: str
) -> None:
    expands_or_fails_cleanly(word, env, escape)


@pytest.mark.slow
@MANY
@given(WORD, ENV, st.sampled_from(["\\", "`"]))
def test_words_in_bulk_expand_or_fail_as_expansion_errors_many(
    word: str, env: dict[str, str], escape: str
) -> None:
    expands_or_fails_cleanly(word, env, escape)


@FAST
@given(st.integers(1, 20_000), st.sampled_from(["${a:-", "${b:+", "${a#", "${a%%", '"${b-']))
def test_nesting_expands_up_to_the_limit_and_is_an_error_naming_it_beyond(depth: int, opening: str) -> None:
    closing = '}"' if opening.startswith('"') else "}"
    word = opening * depth + "x" + closing * depth
    if depth <= MAX_NESTING:
        ShellLexer().expand_word(word, {"a": "v"})
        return
    with pytest.raises(ExpansionError, match=f"nested more than {MAX_NESTING} levels deep"):
        ShellLexer().expand_word(word, {"a": "v"})


@FAST
@given(st.integers(1, 20_000), st.sampled_from(["${a/", "\"${a-'", "${", "${a:-'", "${a//x/"]))
def test_broken_nesting_of_any_depth_is_an_expansion_error(depth: int, opening: str) -> None:
    with suppress(ExpansionError):
        ShellLexer().expand_word(opening * depth + "x" + "}" * depth, {"a": "v"})


@FAST
@given(st.integers(2, 40), st.integers(1, 100_000), st.sampled_from(["#", "##", "%", "%%", "/", "//"]))
def test_patterns_with_many_wildcards_take_linear_time(stars: int, length: int, operator: str) -> None:
    # *a*a*a...*b against a long run of a: exponential for a backtracking matcher, linear for RE2.
    pattern = "*a" * stars + "*b"
    word = "${v" + operator + pattern + ("/r}" if "/" in operator else "}")
    assert ShellLexer().expand_word(word, {"v": "a" * length}) == "a" * length
