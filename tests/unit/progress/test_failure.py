"""A failed RUN is shown as BuildKit shows it: output tail, Dockerfile excerpt, the solve error."""

from __future__ import annotations

from slipway.errors import SourceLocation
from slipway.progress.failure import format_run_failure

# BuildKit prints "   5 |     " for a blank line: keep its trailing spaces out of this file's text.
BLANK = ""

DOCKERFILE = """\
FROM golang:1.22 AS build
WORKDIR /src
COPY . .
RUN go build -o /out/app .

FROM scratch
"""

ARGV = ("/bin/sh", "-c", "go build -o /out/app .")


def test_one_line_instruction_has_two_lines_of_context() -> None:
    text = format_run_failure(
        DOCKERFILE,
        SourceLocation("Dockerfile", 4, 4),
        ARGV,
        2,
        ("./main.go:5:2: undefined: x", "./main.go:6:2: undefined: y"),
        step_name="[build 4/4] RUN go build -o /out/app .",
    )
    assert (
        text
        == f"""\
------
 > [build 4/4] RUN go build -o /out/app .:
./main.go:5:2: undefined: x
./main.go:6:2: undefined: y
------
Dockerfile:4
--------------------
   2 |     WORKDIR /src
   3 |     COPY . .
   4 | >>> RUN go build -o /out/app .
   5 |     {BLANK}
   6 |     FROM scratch
--------------------
ERROR: failed to solve: process "/bin/sh -c go build -o /out/app ." did not complete successfully: exit code: 2"""
    )


MULTI_LINE = """\
FROM golang:1.22 AS build
WORKDIR /src
COPY . .
RUN go build \\
    -o /out/app .
FROM scratch
"""


def test_multi_line_instruction_has_one_line_of_context_and_marks_every_line() -> None:
    text = format_run_failure(
        MULTI_LINE,
        SourceLocation("/work/app/Dockerfile", 4, 5),
        ("/bin/sh", "-c", "go build     -o /out/app ."),
        1,
        (),
    )
    assert (
        text
        == """\
------
 > RUN go build     -o /out/app .:
------
Dockerfile:4
--------------------
   3 |     COPY . .
   4 | >>> RUN go build \\
   5 | >>>     -o /out/app .
   6 |     FROM scratch
--------------------
ERROR: failed to solve: process "/bin/sh -c go build     -o /out/app ." did not complete successfully: exit code: 1"""
    )


def test_context_stops_at_the_ends_of_the_file() -> None:
    text = format_run_failure(
        "RUN false", SourceLocation("Dockerfile", 1, 1), ("/bin/sh", "-c", "false"), 1, ()
    )
    assert text.splitlines()[3:7] == [
        "Dockerfile:1",
        "--------------------",
        "   1 | >>> RUN false",
        "--------------------",
    ]


def test_command_is_quoted_like_go() -> None:
    text = format_run_failure(
        "RUN x", SourceLocation("Dockerfile", 1, 1), ("/bin/sh", "-c", 'echo "a\\b"\tdone\x1b'), 3, ()
    )
    assert text.endswith(
        'process "/bin/sh -c echo \\"a\\\\b\\"\\tdone\\x1b" did not complete successfully: exit code: 3'
    )


def test_exec_form_and_a_process_that_never_started() -> None:
    text = format_run_failure('RUN ["/app"]', SourceLocation("Dockerfile", 1, 1), ("/app",), None, ())
    assert text.endswith(
        'ERROR: failed to solve: process "/app" did not complete successfully: it could not start'
    )


def test_a_location_outside_the_text_leaves_the_excerpt_out() -> None:
    text = format_run_failure("FROM scratch\n", SourceLocation("Dockerfile", 9, 9), ("x",), 1, ("out",))
    assert (
        text
        == '------\n > x:\nout\n------\nERROR: failed to solve: process "x" did not complete successfully: exit code: 1'
    )
