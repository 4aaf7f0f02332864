"""The `# syntax=` parser directive: which frontend reads the Dockerfile.

BuildKit runs the frontend image the directive names. slipway has one frontend, its own Dockerfile reader,
which stands in for the Dockerfile frontend BuildKit publishes (docker/dockerfile, any version or channel);
a directive naming any other frontend is refused at its line rather than silently ignored.
"""

from __future__ import annotations

import functools
import re

from slipway.errors import DockerfileError, SourceLocation
from slipway.frontend.parser import ParsedDockerfile

__all__ = ["check_syntax"]


# docker/dockerfile[-upstream][:tag][@digest], maybe with its registry written out.
@functools.cache
def _dockerfile_frontend_pattern() -> re.Pattern[str]:
    return re.compile(
        r"(?:(?:docker\.io|index\.docker\.io|registry-1\.docker\.io)/)?docker/dockerfile(?:-upstream)?"
        r"(?::[\w][\w.-]*)?(?:@sha256:[0-9a-f]{64})?"
    )


@functools.cache
def _syntax_line_pattern() -> re.Pattern[str]:
    return re.compile(r"#[\t\n\f\r ]*syntax[\t\n\f\r ]*=", re.IGNORECASE)


def check_syntax(parsed: ParsedDockerfile, text: str) -> None:
    """Refuse a `# syntax=` directive that names another frontend than the Dockerfile one."""
    value = dict(parsed.directives).get("syntax")
    if value is None:
        return
    frontend = value.split(None, 1)[0] if value.split() else value
    if _dockerfile_frontend_pattern().fullmatch(frontend):
        return
    line = next(
        (
            number
            for number, written in enumerate(text.split("\n"), 1)
            if _syntax_line_pattern().match(written.lstrip())
        ),
        1,
    )
    raise DockerfileError(
        f"syntax directive names the frontend {frontend!r}: slipway reads Dockerfiles with its own frontend, "
        "which stands in for docker/dockerfile only; remove the line or write # syntax=docker/dockerfile:1",
        SourceLocation(parsed.path, line, line),
    )
