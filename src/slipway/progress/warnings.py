"""The build checks' warnings as `docker buildx build` prints them when a build ends (expanded, as with
`docker --debug`): a count, then each warning's short form, what its rule is about, its documentation link
and the Dockerfile lines it points at.

     2 warnings found:
     - FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 2)
    The 'as' keyword should match the case of the 'from' keyword
    More info: https://docs.docker.com/go/dockerfile/rule/from-as-casing/
    Dockerfile:2
    --------------------
       1 |     # syntax=docker/dockerfile:1
       2 | >>> FROM golang:1.24 as build
       3 |     WORKDIR /src
    --------------------
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from slipway.progress.clip import clip_line
from slipway.progress.events import BuildWarning

__all__ = ["SHOWN_WARNINGS", "decode_warning", "encode_warning", "format_warnings"]

# A Dockerfile of a hundred thousand MAINTAINER lines warns as often: the end of a build shows this many in
# full, then how many more there are (rawjson passes every one on).
SHOWN_WARNINGS = 100


def format_warnings(warnings: Sequence[BuildWarning]) -> str:
    """The whole block (ending with a newline), "" when there is no warning; sorted by line, as buildx."""
    if not warnings:
        return ""
    count = "1 warning found" if len(warnings) == 1 else f"{len(warnings)} warnings found"
    out = ["", f" {count}:"]
    ordered = sorted(warnings, key=lambda warning: (warning.path, warning.line))
    for warning in ordered[:SHOWN_WARNINGS]:
        out.append(f" - {clip_line(warning.short)}")
        out.append(warning.description)
        if warning.url:
            out.append(f"More info: {warning.url}")
        out.extend(warning.excerpt)
        out.append("")
    if len(ordered) > SHOWN_WARNINGS:
        out += [f" ... and {len(ordered) - SHOWN_WARNINGS:,} more warnings", ""]
    return "\n".join(out) + "\n"


def encode_warning(warning: BuildWarning) -> str:
    """A warning as text a build memo keeps, so that a rebuild it answers shows the warning again."""
    return json.dumps([*warning[:-2], list(warning.excerpt)])


def decode_warning(text: str, at: float) -> BuildWarning:
    """The warning `encode_warning` made `text` of; ValueError when the text is no such warning."""
    *fields, excerpt = json.loads(text)
    rule, detail, description, url, path, line, end_line = fields
    if not isinstance(line, int) or not isinstance(end_line, int) or not isinstance(excerpt, list):
        raise ValueError(f"not a warning: {text[:80]!r}")
    lines = tuple(str(item) for item in excerpt)
    return BuildWarning(
        str(rule), str(detail), str(description), str(url), str(path), line, end_line, lines, at
    )
