"""COPY sources: Go's filepath.Match syntax and how sources expand in a tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from slipway.errors import ContextError
from slipway.worker._glob import expand_sources, match_component


@pytest.mark.parametrize(
    ("pattern", "name", "matches"),
    [
        ("*", "abc", True),
        ("*", ".hidden", True),  # Go does not hide dotfiles
        ("a*", "abc", True),
        ("a*", "bac", False),
        ("a?c", "abc", True),
        ("a?c", "ac", False),
        ("[a-c]x", "bx", True),
        ("[a-c]x", "dx", False),
        ("[^a-c]x", "dx", True),
        ("[^a-c]x", "ax", False),
        ("[!a]x", "!x", True),  # "!" is no negation in Go
        ("\\*", "*", True),
        ("\\*", "a", False),
        ("[\\]]", "]", True),
        ("a.txt", "a.txt", True),
        ("a.txt", "abtxt", False),
        ("(x)+", "(x)+", True),
    ],
)
def test_match_component_is_go_s_filepath_match(pattern: str, name: str, matches: bool) -> None:
    assert match_component(pattern, name) is matches


@pytest.mark.parametrize("pattern", ["[", "[a", "a\\", "[]", "[-a]", "[z-a]"])
def test_bad_patterns_are_context_errors(pattern: str) -> None:
    with pytest.raises(ContextError, match="pattern"):
        match_component(pattern, "x")


@pytest.fixture
def source(tmp_path: Path) -> Path:
    for name in ("b.txt", "a.txt", "src/x/one.go", "src/y/two.go", "src/y/three.txt"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
    (tmp_path / "link").symlink_to("src")
    return tmp_path


def relatives(source: Path, pattern: str, **options: object) -> list[str]:
    excluded = options.pop("excluded", ())
    found = expand_sources(source, pattern, lambda path: path in excluded, follow=True)
    return [match.relative for match in found]


def test_expansion_is_sorted_and_matches_per_component(source: Path) -> None:
    assert relatives(source, "*.txt") == ["a.txt", "b.txt"]
    assert relatives(source, "src/*/*.go") == ["src/x/one.go", "src/y/two.go"]
    assert relatives(source, "/src/../*.txt") == ["a.txt", "b.txt"]
    assert relatives(source, "link/*/two.go") == ["link/y/two.go"]
    assert relatives(source, ".") == [""]
    assert relatives(source, "nothing*") == []
    assert relatives(source, "missing.txt") == []


def test_excluded_paths_do_not_match(source: Path) -> None:
    assert relatives(source, "*.txt", excluded=("a.txt",)) == ["b.txt"]
    assert relatives(source, "a.txt", excluded=("a.txt",)) == []


def test_the_parents_pivot(source: Path) -> None:
    found = expand_sources(source, "src/./y/*.go", lambda _path: False, follow=True)
    assert [(match.relative, match.kept) for match in found] == [("src/y/two.go", "y/two.go")]
    plain = expand_sources(source, "src/y/two.go", lambda _path: False, follow=True)
    assert [match.kept for match in plain] == ["src/y/two.go"]


def test_a_pivot_may_hold_wildcards_and_the_rest_double_stars(source: Path) -> None:
    # BuildKit: the part before "/./" is matched first; --parents keeps what is below each of its matches.
    found = expand_sources(source, "s*/./*/**/*.go", lambda _path: False, follow=True)
    assert [(match.relative, match.kept) for match in found] == [
        ("src/x/one.go", "x/one.go"),
        ("src/y/two.go", "y/two.go"),
    ]


def test_double_star_matches_any_number_of_directories(source: Path) -> None:
    (source / "src/y/deep/er").mkdir(parents=True)
    (source / "src/y/deep/er/four.go").write_text("4")
    assert relatives(source, "**/*.go") == ["src/x/one.go", "src/y/two.go", "src/y/deep/er/four.go"]
    assert relatives(source, "src/**/*.go") == ["src/x/one.go", "src/y/two.go", "src/y/deep/er/four.go"]
    assert relatives(source, "src/**/er") == ["src/y/deep/er"]
    assert relatives(source, "src/y/**") == ["src/y/deep", "src/y/three.txt", "src/y/two.go"]


def test_follow_resolves_the_last_component_inside_the_root(source: Path) -> None:
    (source / "escape").symlink_to("/etc")
    assert expand_sources(source, "escape/passwd", lambda _path: False, follow=True) == []
    (source / "etc").mkdir()
    [kept] = expand_sources(source, "escape", lambda _path: False, follow=False)
    assert kept.relative == "escape"
    [followed] = expand_sources(source, "escape", lambda _path: False, follow=True)
    assert followed.relative == "escape"
    (source / "etc").rmdir()
    assert (
        expand_sources(source, "escape", lambda _path: False, follow=True) == []
    )  # the host's /etc is not it
