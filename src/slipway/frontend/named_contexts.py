"""Named contexts (`--build-context NAME=...`) as the converter uses them, and BuildKit's rule for finding one.

A stage named NAME is replaced by the context (its instructions never run); a FROM, COPY --from or RUN
--mount from= naming NAME, when NAME is not a stage, reads the context instead of an image. Names compare as
BuildKit's dockerui.NamedContext compares them: as normalized image references (`alpine`, `alpine:latest` and
`docker.io/library/alpine` are one name), and never for `scratch` or `context`.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from slipway.errors import InvalidReference
from slipway.image.reference import parse_reference

__all__ = ["NamedContext", "context_source_name", "find_named_context"]

_NEVER_NAMED = ("scratch", "context")


class NamedContext(msgspec.Struct, frozen=True):
    """One --build-context, resolved: what the converter builds for FROM NAME, COPY --from=NAME ..."""

    name: str  # as given
    kind: Literal["image", "directory", "stage", "scratch"]
    # image: a reference (or image ID) for the resolver; directory: the local directory (the solver's, by
    # name); stage: a stage of this Dockerfile (`target:STAGE`); scratch: unused.
    value: str = ""
    exclude: tuple[str, ...] = ()  # directory: its .dockerignore patterns
    epoch: int | None = None  # its own date, for SOURCE_DATE_EPOCH=NAME: a git commit's, a download's


def find_named_context(contexts: tuple[NamedContext, ...], name: str) -> NamedContext | None:
    """The context `name` refers to, None if there is none (then it is a stage or an image, as ever)."""
    if not contexts or name.lower() in _NEVER_NAMED:
        return None
    wanted = _key(name)
    for context in contexts:
        if _key(context.name) == wanted:
            return context
    return None


def context_source_name(context: NamedContext) -> str:
    """The name of a named directory's ContextSource, by which the solver finds the directory."""
    return f"named:{context.name}"


def _key(name: str) -> str:
    try:
        return str(parse_reference(name))
    except InvalidReference:
        return name.lower()
