"""progress/warnings.py: the build checks' warnings as docker buildx prints them when a build ends, and as a
build memo keeps them."""

from __future__ import annotations

from slipway.progress.events import BuildWarning
from slipway.progress.warnings import SHOWN_WARNINGS, decode_warning, encode_warning, format_warnings


def warning(
    line: int, rule: str = "FromAsCasing", url: str = "https://docs.docker.com/go/x/"
) -> BuildWarning:
    excerpt = ("Dockerfile:2", "-" * 20, f" {line:3d} | >>> FROM a as b", "-" * 20)
    return BuildWarning(
        rule,
        "'as' and 'FROM' keywords' casing do not match",
        "about",
        url,
        "Dockerfile",
        line,
        line,
        excerpt,
        1.5,
    )


def test_no_warning_prints_nothing() -> None:
    assert format_warnings([]) == ""


def test_warnings_are_counted_and_expanded_in_line_order() -> None:
    text = format_warnings([warning(7, url=""), warning(2)])
    assert text == (
        "\n 2 warnings found:\n"
        " - FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 2)\n"
        "about\nMore info: https://docs.docker.com/go/x/\n"
        "Dockerfile:2\n--------------------\n   2 | >>> FROM a as b\n--------------------\n\n"
        " - FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 7)\n"
        "about\n"  # no link: no "More info"
        "Dockerfile:2\n--------------------\n   7 | >>> FROM a as b\n--------------------\n\n"
    )
    assert format_warnings([warning(1)]).startswith("\n 1 warning found:\n")


def test_a_flood_of_warnings_shows_the_first_and_a_count() -> None:
    text = format_warnings([warning(line) for line in range(1, SHOWN_WARNINGS + 251)])
    assert text.count("\n - FromAsCasing") == SHOWN_WARNINGS
    assert text.endswith(" ... and 250 more warnings\n\n")


def test_a_memo_keeps_a_warning_whole() -> None:
    kept = warning(3)
    assert decode_warning(encode_warning(kept), 9.0) == kept._replace(at=9.0)
