"""BuildKit's git URL grammar (dfgitutil/git_ref_test.go's cases that concern the Dockerfile frontend)."""

from __future__ import annotations

import pytest

from slipway.frontend.files import context_kind
from slipway.frontend.git_url import GitUrl, GitUrlError, is_git_url, parse_git_url


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://github.com/moby/buildkit.git", True),
        ("https://github.com/moby/buildkit.git#main:docs", True),
        ("http://127.0.0.1:8080/.git?ref=v1", True),
        ("git@github.com:moby/buildkit.git", True),
        ("git://example.invalid/repo", True),
        ("ssh://git@example.invalid/repo", True),
        ("https://example.invalid/context.tar.gz", False),
        ("https://example.invalid/repo.git.tar", False),
        ("./repo.git", False),
        ("ftp://example.invalid/repo.git", False),
    ],
)
def test_what_is_a_git_url(text: str, expected: bool) -> None:
    assert is_git_url(text) is expected


def test_context_kinds() -> None:
    assert context_kind("-") == "stdin"
    assert context_kind("https://host/r.git#v1") == "git"
    assert context_kind("https://host/context.tar") == "url"
    assert context_kind("some/dir") == "directory"
    assert context_kind("dir:with-colon") == "directory"


def test_fragment_ref_and_subdir() -> None:
    assert parse_git_url("https://host/r.git#v1:sub/dir/") == GitUrl(
        "https://host/r.git", "v1", "sub/dir", None, None, True
    )
    assert parse_git_url("git@host:r.git#main").remote == "git@host:r.git"
    assert parse_git_url("https://host/r.git#:../../etc").subdir == "etc"  # cleaned, never above the root


def test_query_strings() -> None:
    parsed = parse_git_url("https://host/r.git?tag=v1&subdir=sub&keep-git-dir&submodules=false&commit=abc123")
    assert parsed == GitUrl("https://host/r.git", "refs/tags/v1", "sub", "abc123", True, False)
    assert parse_git_url("https://host/r.git?branch=main").ref == "refs/heads/main"
    assert parse_git_url("https://host/r.git?tag=v1#refs/tags/v1").ref == "refs/tags/v1"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("https://host/r.git?tag=v1#refs/heads/main", "ref conflicts"),
        ("https://host/r.git?ref=a&ref=b", "multiple values"),
        ("https://host/r.git?ref=", "has no value"),
        ("https://host/r.git?tag=a&branch=b", "branch conflicts with tag"),
        ("https://host/r.git?keep-git-dir=maybe", "invalid keep-git-dir"),
        ("https://host/r.git?color=blue", "unexpected query"),
    ],
)
def test_bad_queries(text: str, message: str) -> None:
    with pytest.raises(GitUrlError, match=message):
        parse_git_url(text)
