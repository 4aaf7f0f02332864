"""Go's path.Match, translated once for .dockerignore, COPY sources and image filters: the cases of Go's own
path/match_test.go, through the translator and through each of its callers."""

from __future__ import annotations

import pytest

from slipway._pathmatch import BadPattern, compile_pattern
from slipway.cli._image_views import go_path_match
from slipway.errors import ContextError, UsageError
from slipway.frontend.ignore import IgnoreMatcher
from slipway.worker._glob import match_component

BAD = None  # path.ErrBadPattern

# (pattern, name, matches) from Go's path/match_test.go.
GO_CASES = [
    ("abc", "abc", True),
    ("*", "abc", True),
    ("*c", "abc", True),
    ("a*", "a", True),
    ("a*", "abc", True),
    ("a*", "ab/c", False),
    ("a*/b", "abc/b", True),
    ("a*/b", "a/c/b", False),
    ("a*b*c*d*e*/f", "axbxcxdxe/f", True),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/f", True),
    ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", False),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", False),
    ("a*b?c*x", "abxbbxdbxebxczzx", True),
    ("a*b?c*x", "abxbbxdbxebxczzy", False),
    ("ab[c]", "abc", True),
    ("ab[b-d]", "abc", True),
    ("ab[e-g]", "abc", False),
    ("ab[^c]", "abc", False),
    ("ab[^b-d]", "abc", False),
    ("ab[^e-g]", "abc", True),
    ("a\\*b", "a*b", True),
    ("a\\*b", "ab", False),
    ("a?b", "a☺b", True),
    ("a[^a]b", "a☺b", True),
    ("a???b", "a☺b", False),
    ("a[^a][^a][^a]b", "a☺b", False),
    ("[a-ζ]*", "α", True),
    ("*[a-ζ]", "A", False),
    ("a?b", "a/b", False),
    ("a*b", "a/b", False),
    ("[\\]a]", "]", True),
    ("[\\-]", "-", True),
    ("[x\\-]", "x", True),
    ("[x\\-]", "-", True),
    ("[x\\-]", "z", False),
    ("[\\-x]", "x", True),
    ("[\\-x]", "-", True),
    ("[\\-x]", "a", False),
    ("[]a]", "]", BAD),
    ("[-]", "-", BAD),
    ("[x-]", "x", BAD),
    ("[x-]", "-", BAD),
    ("[-x]", "x", BAD),
    ("\\", "a", BAD),
    ("[a-b-c]", "a", BAD),
    ("[", "a", BAD),
    ("[^", "a", BAD),
    ("[^bc", "a", BAD),
    ("a[", "a", BAD),
    ("a[", "ab", BAD),
    ("*x", "xxx", True),
]


@pytest.mark.parametrize(("pattern", "name", "expected"), GO_CASES)
def test_go_path_match_cases(pattern: str, name: str, expected: bool | None) -> None:
    if expected is None:
        with pytest.raises(BadPattern):
            compile_pattern(pattern)
    else:
        assert (compile_pattern(pattern).fullmatch(name) is not None) is expected


def test_a_reversed_range_is_refused_whatever_the_name() -> None:
    # Go never matches it and says nothing; refused here at once, so an error never depends on the name.
    with pytest.raises(BadPattern, match="runs backwards"):
        compile_pattern("[z-a]")


@pytest.mark.parametrize(("pattern", "name", "expected"), [case for case in GO_CASES if "/" not in case[1]])
def test_copy_sources_and_image_filters_match_as_go_does(
    pattern: str, name: str, expected: bool | None
) -> None:
    if expected is None:
        with pytest.raises(ContextError, match="syntax error in pattern"):
            match_component(pattern, name)
        with pytest.raises(UsageError, match="invalid reference filter"):
            go_path_match(pattern, name)
    else:
        assert match_component(pattern, name) is expected
        assert go_path_match(pattern, name) is expected


# moby's TestMatch runs Go's cases through the .dockerignore matcher, where a pattern that matches a parent
# directory excludes what is below it.
MOBY_DIFFERS = {("a*", "ab/c"): True}


@pytest.mark.parametrize(("pattern", "name", "expected"), [case for case in GO_CASES if case[2] is not None])
def test_dockerignore_matches_as_moby_does(pattern: str, name: str, expected: bool) -> None:
    assert IgnoreMatcher((pattern,)).matches(name) is MOBY_DIFFERS.get((pattern, name), expected)
