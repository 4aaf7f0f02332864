"""How a failed RUN is shown: BuildKit's error print, drawn from the data a RunFailed carries.

    ------
     > [build 4/5] RUN go build -o /out/app .:
    ./main.go:5:2: undefined: x
    ------
    Dockerfile:4
    --------------------
       2 |     WORKDIR /src
       3 |     COPY . .
       4 | >>> RUN go build -o /out/app .
       5 |
       6 |     FROM scratch
    --------------------
    ERROR: failed to solve: process "/bin/sh -c go build -o /out/app ." did not complete successfully: exit code: 1

The first block is what BuildKit's progress display prints for a failed step on exit (the step's last
output lines), the second is `errdefs.Source.Print` (two lines of context around a one-line instruction,
one around a longer one), the last is the solve error as the docker CLI prints it. Every part is clipped
(progress/clip.py): an instruction of 200,000 lines shows its first lines and how many more there are.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from slipway.progress.clip import clip_line, clip_lines, clip_text

if TYPE_CHECKING:
    from slipway.errors import SlipwayError, SourceLocation

__all__ = ["format_failure", "format_located_error", "format_run_failure", "source_excerpt"]

_RULE = "-" * 20
_MARKED_LINES = 20  # of an instruction's lines, the excerpt shows this many


def format_run_failure(
    dockerfile_text: str,
    location: SourceLocation,
    argv: tuple[str, ...],
    exit_code: int | None,
    output_tail: tuple[str, ...],
    *,
    step_name: str | None = None,
) -> str:
    """The whole error print, without a final newline. `step_name` is the step's progress name
    ("[build 4/5] RUN go build ..."); without it the instruction's own text stands in (or the command,
    when the location is not in the text)."""
    lines = dockerfile_text.split("\n")
    name = step_name if step_name is not None else _instruction_text(lines, location) or " ".join(argv)
    out = ["------", f" > {clip_line(name)}:", *clip_lines(output_tail), "------"]
    out += source_excerpt(lines, location)
    process = _go_quote(clip_line(" ".join(argv)))
    if exit_code is None:
        out.append(
            f"ERROR: failed to solve: process {process} did not complete successfully: it could not start"
        )
    else:
        out.append(
            f"ERROR: failed to solve: process {process} did not complete successfully: exit code: {exit_code}"
        )
    return "\n".join(out)


def format_failure(error: SlipwayError, dockerfile_text: str) -> str:
    """How a build error that has a place in the Dockerfile is shown: a failed RUN, or any other (a parse or
    conversion error, a missing COPY source, an image not found)."""
    from slipway.errors import RunFailed  # errors imports dataclasses: not for a no-op rebuild's imports

    assert error.location is not None  # the caller shows an error without a place as one line
    if isinstance(error, RunFailed):
        return format_run_failure(
            dockerfile_text,
            error.location,
            error.argv,
            error.process_exit_code,
            error.output_tail,
            step_name=error.step or None,
        )
    return format_located_error(dockerfile_text, error.location, error.message)


def format_located_error(dockerfile_text: str, location: SourceLocation, message: str) -> str:
    """Any other build error that has a place in the Dockerfile, as BuildKit prints it: the excerpt with the
    instruction's lines marked, then the error (without a final newline).

        Dockerfile:3
        --------------------
           1 |     FROM busybox
           2 |     ENV foo=bar
           3 | >>> COPY --chmod=64a foo /
        --------------------
        ERROR: failed to solve: invalid chmod parameter: '64a'. it should be octal string and between 0 and 07777
    """
    excerpt = source_excerpt(dockerfile_text.split("\n"), location)
    return "\n".join([*excerpt, f"ERROR: failed to solve: {clip_text(message)}"])


def source_excerpt(lines: list[str], location: SourceLocation) -> list[str]:
    """errdefs.Source.Print: the failing lines marked ">>>" with a little context, between rules."""
    start = location.line
    end = max(location.end_line, location.line)
    if start < 1 or start > len(lines):
        return []
    end = min(end, len(lines))
    wanted = 4 if end == start else 2
    first, last, padded = start, end, 0
    # BuildKit's loop, kept as is: each round widens both ends and counts one more besides.
    while padded < wanted:
        if first > 1:
            first -= 1
            padded += 1
        if last != len(lines):
            last += 1
            padded += 1
        padded += 1
    filename = PurePosixPath(location.path).name or "Dockerfile"
    out = [f"{filename}:{start}", _RULE]
    cut_from, cut_to = start + _MARKED_LINES, end  # the marked lines past the first few are counted only
    for number in range(first, last + 1):
        if cut_from <= number <= cut_to:
            if number == cut_from:
                out.append(f"     | ... {cut_to - cut_from + 1:,} more lines")
            continue
        marker = ">>>" if start <= number <= end else "   "
        out.append(f" {number:3d} | {marker} {clip_line(lines[number - 1].removesuffix(chr(13)))}")
    out.append(_RULE)
    return out


def _instruction_text(lines: list[str], location: SourceLocation) -> str:
    """The instruction as one line, continuations joined the way BuildKit names its step."""
    selected = lines[max(location.line, 1) - 1 : max(location.end_line, location.line)]
    pieces = [line.removesuffix("\r") for line in selected]
    joined = "".join(
        piece.rstrip().removesuffix("\\") if index < len(pieces) - 1 else piece
        for index, piece in enumerate(pieces)
    )
    return joined.strip()


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def _go_quote(text: str) -> str:
    """Go's %q (strconv.Quote), which BuildKit uses for the command in its error."""
    out = ['"']
    for char in text:
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif char in _GO_ESCAPES:
            out.append(_GO_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    out.append('"')
    return "".join(out)
