"""The parser under hostile input: any text, sized to find slow paths, ends in a parse or a DockerfileError.

Examples are bounded by their size (a few thousand characters, repeated pieces up to thousands of times),
not by time; pytest-timeout is the backstop for a case that would hang.
"""

from __future__ import annotations

from contextlib import suppress

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slipway.errors import DockerfileError
from slipway.frontend.parser import parse, parse_instruction_line

# Pieces that make the parser do more than split lines: continuations, heredocs, JSON, flags, quotes.
PIECES = st.sampled_from(
    [
        "\\\n", "`\n", "\n", "# escape=`\n", "# syntax=x\n", "#c\n", "RUN ", "COPY ", "ENV ", "LABEL ", "ARG ",
        "ONBUILD ", "HEALTHCHECK CMD ", "FROM a AS b\n", "<<EOF", "<<-'E'", "\nEOF\n", "\tE\n", "[", "]", '"',
        "'", ",", "--mount=a", "--", "=", "a=b ", " ", "\t", "$", "${", "}", "\\", "\r\n", "é", "\x00",
    ]
)  # fmt: skip
REPEATED = st.tuples(PIECES, st.integers(1, 3000)).map(lambda piece: piece[0] * piece[1])
TEXT = st.lists(st.one_of(PIECES, REPEATED), max_size=12).map("".join)

FAST = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MANY = settings(max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def parses_or_fails_cleanly(text: str) -> None:
    with suppress(DockerfileError):
        parse(text, path="fuzz/Dockerfile")
    with suppress(DockerfileError):
        parse(text.encode("utf-8", "surrogatepass"), path="fuzz/Dockerfile")
    with suppress(DockerfileError):
        parse_instruction_line(text, "fuzz/Dockerfile", 3)


@FAST
@given(TEXT)
def test_dockerfile_pieces_in_bulk_parse_or_fail_as_dockerfile_errors(text: str) -> None:
    parses_or_fails_cleanly(text)


@pytest.mark.slow
@MANY
@given(TEXT)
def test_dockerfile_pieces_in_bulk_parse_or_fail_as_dockerfile_errors_many(text: str) -> None:
    parses_or_fails_cleanly(text)


@FAST
@given(st.integers(1, 20_000), st.sampled_from(["[" * 2, '["a",' * 1, "[[]", '{"a":']))
def test_deeply_nested_json_is_a_dockerfile_error_or_shell_form(depth: int, opening: str) -> None:
    with suppress(DockerfileError):
        parse(f"FROM a\nRUN {opening * depth}\n")
