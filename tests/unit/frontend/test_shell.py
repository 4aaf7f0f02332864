"""Word expansion by BuildKit's shell lexer rules: every form, quotes and escapes, words, matches, errors."""

from __future__ import annotations

from contextlib import suppress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slipway.errors import ExpansionError
from slipway.frontend.shell import ShellLexer

ENV = {
    "A": "alpha",
    "EMPTY": "",
    "PATH_ISH": "/usr/local/bin:/usr/bin",
    "FILE": "archive.tar.gz",
    "SPACED": " a  b ",
}


def expand(word: str, escape: str = "\\") -> str:
    return ShellLexer(escape).expand_word(word, ENV)


def expansion_error(word: str) -> ExpansionError:
    with pytest.raises(ExpansionError) as caught:
        expand(word)
    assert caught.value.location is None  # the caller knows the Dockerfile line
    return caught.value


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("$A", "alpha"),
        ("${A}", "alpha"),
        ("x${A}y", "xalphay"),
        ("$A.b", "alpha.b"),
        ("$UNSET", ""),
        ("${UNSET}", ""),
        ("$", "$"),
        ("a$", "a$"),
        ("$.", "$."),
        ("$/x", "$/x"),
        ("$1x", "x"),  # positional parameters: all digits are the name, and never set
        ("$@x", "x"),  # special parameters: one character, never set
    ],
)
def test_variable_references(word: str, expected: str) -> None:
    assert expand(word) == expected


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("${A:-d}", "alpha"),
        ("${EMPTY:-d}", "d"),
        ("${UNSET:-d}", "d"),
        ("${A-d}", "alpha"),
        ("${EMPTY-d}", ""),
        ("${UNSET-d}", "d"),
        ("${A:+s}", "s"),
        ("${EMPTY:+s}", ""),
        ("${UNSET:+s}", ""),
        ("${A+s}", "s"),
        ("${EMPTY+s}", "s"),
        ("${UNSET+s}", ""),
        ("${A:?m}", "alpha"),
        ("${EMPTY?m}", ""),
        ("${UNSET:-$A}", "alpha"),
        ("${UNSET:-${EMPTY:-deep}}", "deep"),
        ("${UNSET:-a b}", "a b"),
    ],
)
def test_default_alternative_and_required_forms(word: str, expected: str) -> None:
    assert expand(word) == expected


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("${FILE#*.}", "tar.gz"),
        ("${FILE##*.}", "gz"),
        ("${FILE%.*}", "archive.tar"),
        ("${FILE%%.*}", "archive"),
        ("${FILE#nomatch}", "archive.tar.gz"),
        ("${FILE#a?c}", "hive.tar.gz"),
        ("${PATH_ISH%:*}", "/usr/local/bin"),
        ("${UNSET#x}", ""),
        ("${FILE/.//}", "archive/tar.gz"),
        ("${FILE//./_}", "archive_tar_gz"),
        ("${FILE/a*e/X}", "X.tar.gz"),
        ("${FILE//[a]/X}", "archive.tar.gz"),  # no bracket expressions: [ is literal
        ("${FILE/nomatch/X}", "archive.tar.gz"),
        ("${FILE//a/}", "rchive.tr.gz"),
    ],
)
def test_pattern_removal_and_replacement(word: str, expected: str) -> None:
    assert expand(word) == expected


def test_escaped_wildcards_in_patterns_are_literal() -> None:
    assert ShellLexer().expand_word("${V#a\\*}", {"V": "a*b"}) == "b"
    assert ShellLexer().expand_word("${V%\\?}", {"V": "ab?"}) == "ab"
    assert ShellLexer().expand_word("${V#a*}", {"V": "a*b"}) == "*b"


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("'$A'", "$A"),
        ('"$A"', "alpha"),
        ("'a\\b'", "a\\b"),  # nothing escapes inside single quotes
        ('"a\\b"', "a\\b"),  # only \" \$ \\ escape inside double quotes
        ('"a\\"b"', 'a"b'),
        ('"\\$A"', "$A"),
        ("\\$A", "$A"),
        ("a\\ b", "a b"),
        ("trailing\\", "trailing"),
        ("he'll'o", "hello"),
        ('"it\'s"', "it's"),
    ],
)
def test_quotes_and_escapes(word: str, expected: str) -> None:
    assert expand(word) == expected


def test_backtick_as_escape_character() -> None:
    assert expand("C:\\path `$A", escape="`") == "C:\\path $A"
    assert expand('"a`"b"', escape="`") == 'a"b'


@pytest.mark.parametrize(
    ("word", "message"),
    [
        ("${UNSET:?must be set}", "UNSET: must be set"),
        ("${UNSET?}", "UNSET: is not allowed to be unset"),
        ("${EMPTY:?}", "EMPTY: is not allowed to be empty"),
        ("${}", "bad substitution"),
        ("${:-x}", "bad substitution"),
        ("${A", "missing '}'"),
        ("${A:-x", "missing '}'"),
        ("${A/x", "missing '/'"),
        ("${A:=x}", "unsupported modifier (:=)"),
        ("${A:#x}", "unsupported modifier (:#)"),
        ("${A.}", "unsupported modifier (.)"),
        ("'open", "single-quote"),
        ('"open', "double-quote"),
        ("${FILE#\\x}", "invalid escape"),
    ],
)
def test_expansion_errors_say_what_is_wrong(word: str, message: str) -> None:
    error = expansion_error(word)
    assert message in error.message
    assert word in error.message or repr(word)[1:-1] in error.message


def test_words_split_on_unquoted_white_space_after_expansion() -> None:
    lexer = ShellLexer()
    assert lexer.expand_words("a  b\tc", ENV) == ["a", "b", "c"]
    assert lexer.expand_words("x${SPACED}y", ENV) == ["x", "a", "b", "y"]
    assert lexer.expand_words('x"${SPACED}"y', ENV) == ["x a  b y"]
    assert lexer.expand_words("'a b' c\\ d", ENV) == ["a b", "c d"]
    assert lexer.expand_words('"" a', ENV) == ["a"]  # BuildKit drops empty words
    assert lexer.expand_words("${UNSET:-x y}", ENV) == ["x", "y"]


def test_matches_name_the_variables_the_environment_held() -> None:
    result, matches = ShellLexer().expand_with_matches("$A ${EMPTY:-x} $UNSET ${B:-$FILE}", ENV)
    assert result == "alpha x  archive.tar.gz"
    assert matches == frozenset({"A", "EMPTY", "FILE"})
    assert ShellLexer().expand_with_matches("'$A'", ENV) == ("$A", frozenset())


def test_raw_options_keep_quotes_escapes_and_unset_references() -> None:
    raw = ShellLexer(raw_quotes=True, raw_escapes=True, skip_unset_env=True)
    assert raw.expand_words("a 'b c' \\d $UNSET ${UNSET:-x}", {}) == [
        "a",
        "'b c'",
        "\\d",
        "$UNSET",
        "${UNSET:-x}",
    ]


def test_only_backslash_and_backtick_are_escape_characters() -> None:
    with pytest.raises(ValueError, match="escape character"):
        ShellLexer("/")


@settings(max_examples=300, deadline=None)
@given(st.text(), st.sampled_from(["\\", "`"]))
def test_random_words_expand_or_raise_an_expansion_error(word: str, escape: str) -> None:
    with suppress(ExpansionError):
        assert isinstance(ShellLexer(escape).expand_word(word, ENV), str)
        assert all(isinstance(item, str) and item for item in ShellLexer(escape).expand_words(word, ENV))


_PIECES = st.sampled_from(
    ["$", "{", "}", ":", "-", "+", "?", "#", "%", "/", "*", "'", '"', "\\", "`", " ", "A", "x"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=20).map("".join))
def test_shell_like_words_expand_or_raise_an_expansion_error(word: str) -> None:
    with suppress(ExpansionError):
        ShellLexer().expand_with_matches(word, ENV)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters="$'\"\\`")))
def test_words_without_special_characters_expand_to_themselves(word: str) -> None:
    assert ShellLexer().expand_word(word, ENV) == word.removeprefix("\ufeff")  # Go's scanner drops a BOM
