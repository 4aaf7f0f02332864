"""Bounded text for a terminal: what an error or a step name prints is cut to so many lines of so many
characters, with a count of what was cut.

A Dockerfile is hostile input: an 8 MB RUN line or 200,000 continuation lines must print a screenful, not
megabytes, wherever they show up (the error line, the failed RUN's excerpt, a step's name).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "MAX_LINES",
    "MAX_LINE_CHARACTERS",
    "MAX_OUTPUT_LINE_BYTES",
    "clip_line",
    "clip_lines",
    "clip_text",
]

MAX_LINE_CHARACTERS = 2000
MAX_LINES = 40
# A process's output line longer than this is kept in pieces of this size: one that never writes a newline
# must not grow a buffer without end.
MAX_OUTPUT_LINE_BYTES = 64 * 1024


def clip_line(line: str, width: int = MAX_LINE_CHARACTERS) -> str:
    """`line`, or its first `width` characters and how many more there were."""
    if len(line) <= width:
        return line
    return f"{line[:width]}... ({len(line) - width:,} more characters)"


def clip_lines(lines: Sequence[str], count: int = MAX_LINES, width: int = MAX_LINE_CHARACTERS) -> list[str]:
    """The first `count` lines, each clipped, then a line saying how many more there were."""
    kept = [clip_line(line, width) for line in lines[:count]]
    if len(lines) > count:
        kept.append(f"... {len(lines) - count:,} more lines")
    return kept


def clip_text(text: str, count: int = MAX_LINES, width: int = MAX_LINE_CHARACTERS) -> str:
    """A whole message, clipped line by line (the lines past `count` are counted, not split)."""
    lines = text.split("\n", count)  # at most count + 1 pieces: the last holds the rest
    if len(lines) <= count:
        return "\n".join(clip_line(line, width) for line in lines)
    more = lines[count].count("\n") + 1
    return "\n".join([*(clip_line(line, width) for line in lines[:count]), f"... {more:,} more lines"])
