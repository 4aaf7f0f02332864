""".dockerignore reading and matching, against Docker's documented examples and moby's test tables."""

from __future__ import annotations

from contextlib import suppress
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slipway.errors import ContextError
from slipway.frontend.ignore import IgnoreMatcher, find_ignore_file, read_ignore_file


def excluded(patterns: str, path: str) -> bool:
    return IgnoreMatcher(read_ignore_file(patterns)).matches(path)


# -- read_ignore_file ------------------------------------------------------------------------------


def test_read_ignore_file_follows_docker_readall() -> None:
    # moby/patternmatcher ignorefile_test.go
    text = "test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n! /inverted/abs/path\n!\n! "
    assert read_ignore_file(text) == (
        "test1",
        "test2",
        "a/file/here",
        "lastfile",
        "!inverted/abs/path",
        "!",
        "!",
    )


def test_read_ignore_file_cleans_and_trims() -> None:
    text = "\ufeff./src/../build/\r\n  *.log  \n\t# not a comment: it does not start the line\n//\n/\n!./keep//me/.\n"
    assert read_ignore_file(text) == (
        "build",
        "*.log",
        "# not a comment: it does not start the line",
        "/",
        "/",
        "!keep/me",
    )


def test_read_ignore_file_of_empty_text() -> None:
    assert read_ignore_file("") == ()
    assert read_ignore_file("\n# only a comment\n\n") == ()


# -- Docker's documented examples ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "is_excluded"),
    [
        ("somedir/temporary.txt", True),
        ("somedir/temp", True),
        ("somedir/temp/inside.txt", True),  # the directory is excluded, so is what it holds
        ("temp", False),
        ("temporary.txt", False),
        ("a/b/temp", False),
    ],
)
def test_star_slash_temp(path: str, is_excluded: bool) -> None:
    assert excluded("*/temp*", path) is is_excluded


@pytest.mark.parametrize(
    ("path", "is_excluded"),
    [("somedir/subdir/temporary.txt", True), ("somedir/temporary.txt", False), ("a/b/c/temp", False)],
)
def test_two_levels_temp(path: str, is_excluded: bool) -> None:
    assert excluded("*/*/temp*", path) is is_excluded


@pytest.mark.parametrize(
    ("path", "is_excluded"),
    [
        ("tempa", True),
        ("tempb", True),
        ("temp", False),
        ("tempab", False),
        ("sub/tempa", False),
        ("temp/", False),
    ],
)
def test_temp_question_mark(path: str, is_excluded: bool) -> None:
    assert excluded("temp?", path) is is_excluded


@pytest.mark.parametrize(
    ("path", "is_excluded"),
    [("main.go", True), ("cmd/app/main.go", True), ("main.go.txt", False), ("go", False), ("a/b.gox", False)],
)
def test_double_star_go(path: str, is_excluded: bool) -> None:
    assert excluded("**/*.go", path) is is_excluded


def test_markdown_except_readme() -> None:
    patterns = "*.md\n!README.md\n"
    assert excluded(patterns, "CHANGES.md")
    assert not excluded(patterns, "README.md")
    assert not excluded(patterns, "docs/guide.md")  # "*.md" is root-level only


def test_readme_exception_order_matters() -> None:
    # No markdown files but README files, and README-secret.md is not one of them.
    first = "*.md\n!README*.md\nREADME-secret.md\n"
    assert excluded(first, "notes.md")
    assert not excluded(first, "README.md")
    assert not excluded(first, "README-public.md")
    assert excluded(first, "README-secret.md")
    # The exception comes last and wins: README-secret.md is back.
    last = "*.md\nREADME-secret.md\n!README*.md\n"
    assert excluded(last, "notes.md")
    assert not excluded(last, "README-secret.md")
    assert not excluded(last, "README.md")


def test_git_directory() -> None:
    assert excluded(".git", ".git")
    assert excluded(".git", ".git/HEAD")
    assert excluded(".git", ".git/objects/ab/cdef")
    assert not excluded(".git", ".gitignore")
    assert not excluded(".git", "sub/.git")


def test_directory_patterns_with_trailing_slash_and_exceptions() -> None:
    assert excluded("docs/", "docs/README.md")
    assert not excluded("docs/\n!docs/README.md", "docs/README.md")
    assert excluded("docs/\n!docs/README.md", "docs/other.md")
    assert not excluded("docs/*\n!docs/README.md", "docs/README.md")
    assert excluded("node_modules", "node_modules/left-pad/index.js")


def test_leading_slash_and_dot_slash_are_relative_to_the_context() -> None:
    for pattern in ("/build", "./build", "build/", "/./build/.", "build/sub/.."):
        assert excluded(pattern, "build/out.o"), pattern
        assert not excluded(pattern, "src/build"), pattern


def test_context_root_is_never_excluded() -> None:
    assert not excluded("*\n**", ".")
    assert not excluded("*", "")


def test_paths_are_cleaned_before_matching() -> None:
    assert excluded("build", "./build/x")
    assert excluded("build", "build//x/")
    assert excluded("a/b", "a/c/../b")


def test_no_patterns_exclude_nothing() -> None:
    assert not IgnoreMatcher(()).matches("any/path/there")
    assert not IgnoreMatcher(("", "   ")).matches("x")


# -- moby/patternmatcher TestMatches, with MatchesOrParentMatches (BuildKit's walker) ------------

EXACT, INEXACT, FAIL = "exact", "inexact", "fail"

MOBY_MATCHES = [
    ("**", "file", EXACT),
    ("**", "file/", EXACT),
    ("**/", "file", EXACT),
    ("**/", "file/", EXACT),
    ("**", "dir/file", EXACT),
    ("**/", "dir/file", EXACT),
    ("**", "dir/file/", EXACT),
    ("**/", "dir/file/", EXACT),
    ("**/**", "dir/file", EXACT),
    ("**/**", "dir/file/", EXACT),
    ("dir/**", "dir/file", EXACT),
    ("dir/**", "dir/file/", EXACT),
    ("dir/**", "dir/dir2/file", EXACT),
    ("dir/**", "dir/dir2/file/", EXACT),
    ("**/dir", "dir", EXACT),
    ("**/dir", "dir/file", INEXACT),
    ("**/dir2/*", "dir/dir2/file", EXACT),
    ("**/dir2/*", "dir/dir2/file/", INEXACT),
    ("**/dir2/**", "dir/dir2/dir3/file", EXACT),
    ("**/dir2/**", "dir/dir2/dir3/file/", EXACT),
    ("**file", "file", EXACT),
    ("**file", "dir/file", EXACT),
    ("**/file", "dir/file", EXACT),
    ("**file", "dir/dir/file", EXACT),
    ("**/file", "dir/dir/file", EXACT),
    ("**/file*", "dir/dir/file", EXACT),
    ("**/file*", "dir/dir/file.txt", EXACT),
    ("**/file*txt", "dir/dir/file.txt", EXACT),
    ("**/file*.txt", "dir/dir/file.txt", EXACT),
    ("**/file*.txt*", "dir/dir/file.txt", EXACT),
    ("**/**/*.txt", "dir/dir/file.txt", EXACT),
    ("**/**/*.txt2", "dir/dir/file.txt", FAIL),
    ("**/*.txt", "file.txt", EXACT),
    ("**/**/*.txt", "file.txt", EXACT),
    ("a**/*.txt", "a/file.txt", EXACT),
    ("a**/*.txt", "a/dir/file.txt", EXACT),
    ("a**/*.txt", "a/dir/dir/file.txt", EXACT),
    ("a/*.txt", "a/dir/file.txt", FAIL),
    ("a/*.txt", "a/file.txt", EXACT),
    ("a/*.txt**", "a/file.txt", EXACT),
    ("a[b-d]e", "ae", FAIL),
    ("a[b-d]e", "ace", EXACT),
    ("a[b-d]e", "aae", FAIL),
    ("a[^b-d]e", "aze", EXACT),
    (".*", ".foo", EXACT),
    (".*", "foo", FAIL),
    ("abc.def", "abcdef", FAIL),
    ("abc.def", "abc.def", EXACT),
    ("abc.def", "abcZdef", FAIL),
    ("abc?def", "abcZdef", EXACT),
    ("abc?def", "abcdef", FAIL),
    ("**/foo/bar", "foo/bar", EXACT),
    ("**/foo/bar", "dir/foo/bar", EXACT),
    ("**/foo/bar", "dir/dir2/foo/bar", EXACT),
    ("abc/**", "abc", FAIL),
    ("abc/**", "abc/def", EXACT),
    ("abc/**", "abc/def/ghi", EXACT),
    ("**/.foo", ".foo", EXACT),
    ("**/.foo", "bar.foo", FAIL),
    ("a(b)c/def", "a(b)c/def", EXACT),
    ("a(b)c/def", "a(b)c/xyz", FAIL),
    ("a.|)$(}+{bc", "a.|)$(}+{bc", EXACT),
    (
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        EXACT,
    ),
    ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", EXACT),
    ("a\\\\", "a\\", EXACT),
    ("a\\*b", "a*b", EXACT),
    # moby's quirks, kept: "**name" is a plain suffix test, and "dir**" a plain prefix test.
    ("**file", "dir/myfile", EXACT),
    ("dir**", "directory/x", EXACT),
]
# Left out: ("**", "/") and ("**/", "/"). "/" is the context root here, which is never excluded.


@pytest.mark.parametrize(("pattern", "path", "expected"), MOBY_MATCHES)
def test_moby_matches_table(pattern: str, path: str, expected: str) -> None:
    assert IgnoreMatcher((pattern,)).matches(path) is (expected != FAIL)


MOBY_MULTI_PATTERN = [
    (("**", "!util/docker/web"), "util/docker/web/foo", FAIL),
    (("**", "!util/docker/web", "util/docker/web/foo"), "util/docker/web/foo", EXACT),
    (
        ("**", "!dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl"),
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        FAIL,
    ),
    (("**", "!dist/*.whl"), "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", FAIL),
    # patternmatcher_test.go: TestExclusionPatternMatchesPatternBefore and friends
    (("!fileutils.go", "*.go"), "fileutils.go", EXACT),
    (("*.go", "!fileutils.go"), "fileutils.go", FAIL),
    (("docs", "!docs/README.md"), "docs/README.md", FAIL),
    (("docs/", "!docs/README.md"), "docs/README.md", FAIL),
    (("docs/*", "!docs/README.md"), "docs/README.md", FAIL),
    (("docs", "  !docs/README.md  "), "docs/README.md", FAIL),
    (("*",), "fileutils.go", EXACT),
    (("*.go",), "fileutils.go", EXACT),
]


@pytest.mark.parametrize(("patterns", "path", "expected"), MOBY_MULTI_PATTERN)
def test_moby_multi_pattern_table(patterns: tuple[str, ...], path: str, expected: str) -> None:
    assert IgnoreMatcher(patterns).matches(path) is (expected != FAIL)


# Go's filepath.Match tests, as moby runs them through its matcher (TestMatch), are in
# tests/unit/test_pathmatch.py with the other users of the translation.


@pytest.mark.parametrize(
    "pattern",
    ["[]a]", "[-]", "[x-]", "[-x]", "\\", "[a-b-c]", "[", "[^", "[^bc", "a[", "[z-a]", "[Local-Only]/"],
)
def test_bad_pattern_raises_context_error_naming_it(pattern: str) -> None:
    with pytest.raises(ContextError) as caught:
        IgnoreMatcher(("ok", pattern))
    assert repr(pattern) in str(caught.value)


@pytest.mark.parametrize("pattern", ["!", "  !  ", "!/."])
def test_lone_exception_mark_is_rejected(pattern: str) -> None:
    with pytest.raises(ContextError, match='pattern "!" excepts nothing'):
        IgnoreMatcher(read_ignore_file(pattern))


def test_bad_pattern_error_says_what_to_do() -> None:
    with pytest.raises(ContextError, match=r"'\[' .*escape a literal"):
        IgnoreMatcher(("[",))


def test_character_classes_are_classes_not_wildcards() -> None:
    # filepath.Match reads "[*?]" as a class of two characters.
    matcher = IgnoreMatcher(("[*?]",))
    assert matcher.matches("*")
    assert matcher.matches("?")
    assert not matcher.matches("x")
    # "!" does not negate in Go's syntax, only "^" does.
    assert IgnoreMatcher(("[!a]",)).matches("!")
    assert not IgnoreMatcher(("[!a]",)).matches("b")


def test_star_never_crosses_a_slash_but_double_star_does() -> None:
    assert not IgnoreMatcher(("a*z",)).matches("ab/yz")
    # moby reads an inner "**" as "any number of whole segments": "a**z" is a, then (.*/)?, then z.
    assert IgnoreMatcher(("a**z",)).matches("ab/c/z")
    assert IgnoreMatcher(("a**z",)).matches("az")
    assert not IgnoreMatcher(("a**z",)).matches("ab/yz")


# -- can_skip_dir ---------------------------------------------------------------------------------


def test_can_skip_dir_without_exceptions() -> None:
    matcher = IgnoreMatcher(("node_modules", "*.log"))
    assert matcher.can_skip_dir("node_modules")
    assert not matcher.can_skip_dir("src")  # not excluded


def test_can_skip_dir_not_when_an_exception_reaches_inside() -> None:
    matcher = IgnoreMatcher(("node_modules", "!node_modules/keep/**", "!src/*.go"))
    assert not matcher.can_skip_dir("node_modules")  # node_modules/keep/x is re-included
    assert matcher.matches("node_modules/other")
    assert not matcher.matches("node_modules/keep/x")


def test_can_skip_dir_when_exceptions_point_elsewhere() -> None:
    matcher = IgnoreMatcher(("build", "vendor", "!src/*.go", "!vendor/keep"))
    assert matcher.can_skip_dir("build")
    assert not matcher.can_skip_dir("vendor")


def test_can_skip_dir_not_with_a_double_star_exception() -> None:
    matcher = IgnoreMatcher(("**", "!**/*.go"))
    assert not matcher.can_skip_dir("anything")
    assert not matcher.matches("anything/main.go")


def test_can_skip_dir_exception_on_the_dir_itself() -> None:
    # "!build" re-includes build itself, so build is not excluded and cannot be skipped.
    assert not IgnoreMatcher(("build", "!build")).can_skip_dir("build")
    # An exception for a parent cannot re-include build/x once "build/**" excludes it again.
    matcher = IgnoreMatcher(("*", "!out", "out/**"))
    assert not matcher.can_skip_dir("out")  # out itself is re-included
    assert matcher.can_skip_dir("tmp")


# -- find_ignore_file -----------------------------------------------------------------------------


def test_find_ignore_file_prefers_the_dockerfile_specific_one(tmp_path: Path) -> None:
    context = tmp_path / "ctx"
    (context / "docker").mkdir(parents=True)
    dockerfile = context / "docker" / "app.Dockerfile"
    dockerfile.write_text("FROM scratch\n")
    assert find_ignore_file(context, dockerfile) is None
    (context / ".dockerignore").write_text("*.log\n")
    assert find_ignore_file(context, dockerfile) == context / ".dockerignore"
    (context / "docker" / "app.Dockerfile.dockerignore").write_text("*.tmp\n")
    assert find_ignore_file(context, dockerfile) == context / "docker" / "app.Dockerfile.dockerignore"


def test_find_ignore_file_ignores_a_directory_of_that_name(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").mkdir()
    assert find_ignore_file(tmp_path, tmp_path / "Dockerfile") is None


# -- properties -----------------------------------------------------------------------------------

PATTERN_TEXT = st.text(alphabet="ab*?[]^-\\!/.{}()$+| \u00e9\n", max_size=12)
PATH_TEXT = st.text(alphabet="ab*?[]^-\\!/.{} \u00e9\n", max_size=16)


@given(st.lists(PATTERN_TEXT, max_size=4), PATH_TEXT)
def test_matches_raises_nothing_once_built(patterns: list[str], path: str) -> None:
    with suppress(ContextError):
        matcher = IgnoreMatcher(tuple(patterns))
        assert isinstance(matcher.matches(path), bool)
        assert isinstance(matcher.can_skip_dir(path), bool)


SEGMENT = st.text(alphabet="ab.*", min_size=1, max_size=3).filter(lambda name: name not in (".", ".."))


@given(
    st.lists(st.text(alphabet="ab*?[]^-\\!/.", max_size=8), max_size=4),
    st.lists(SEGMENT, min_size=1, max_size=3),
    st.lists(SEGMENT, min_size=1, max_size=3),
)
def test_a_skippable_dir_holds_only_excluded_paths(
    patterns: list[str], directory: list[str], below: list[str]
) -> None:
    with suppress(ContextError):
        matcher = IgnoreMatcher(tuple(patterns))
        if matcher.can_skip_dir("/".join(directory)):
            assert matcher.matches("/".join(directory + below))
