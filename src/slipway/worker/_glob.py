"""COPY sources: paths and globs with Go's filepath.Match syntax, matched inside a source root."""

from __future__ import annotations

import errno
import os
import posixpath
import re
from collections.abc import Callable

import msgspec

from slipway.errors import ContextError
from slipway.worker.rootpath import Root, opened

__all__ = ["SourceMatch", "expand_sources", "has_magic", "match_component"]

MAGIC = frozenset("*?[\\")


class SourceMatch(msgspec.Struct, frozen=True):
    relative: str  # as matched, relative to the source root ("" for the root): open it through the Root
    kept: str  # what COPY --parents keeps: `relative`, or the part after a "/./" pivot


def has_magic(part: str) -> bool:
    return any(char in MAGIC for char in part)


def expand_sources(
    root: Root | str | os.PathLike[str], source: str, is_excluded: Callable[[str], bool], *, follow: bool
) -> list[SourceMatch]:
    """What `source` names in `root`, sorted as Go's filepath.Glob; empty if nothing (not excluded) is there.
    `follow`: a symlink named last must lead to something (inside the root) to count."""
    with opened(root) as root_dir:
        return _expand(root_dir, source, is_excluded, follow=follow)


def _expand(
    root: Root, source: str, is_excluded: Callable[[str], bool], *, follow: bool
) -> list[SourceMatch]:
    pivot = ""
    head, separator, _tail = source.partition("/./")
    if separator and head.strip("/."):
        pivot = _clean(head)
    pattern = _clean(source)
    candidates = [""]
    for part in pattern.split("/") if pattern else []:
        candidates = [found for candidate in candidates for found in _step(root, candidate, part)]
    matches = []
    for relative in candidates:
        if relative and is_excluded(relative):
            continue
        if (root.stat(relative) if follow else root.lstat(relative)) is None:
            continue
        kept = relative[len(pivot) :].lstrip("/") if pivot and relative.startswith(pivot) else relative
        matches.append(SourceMatch(relative=relative, kept=kept))
    return matches


def match_component(pattern: str, name: str) -> bool:
    """Go's filepath.Match for one path component."""
    return _compile(pattern).fullmatch(name) is not None


def _step(root: Root, candidate: str, part: str) -> list[str]:
    if not has_magic(part):
        return [f"{candidate}/{part}" if candidate else part]
    regex = _compile(part)
    try:
        directory = root.open_dir(candidate)
    except OSError as err:
        if err.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
            return []
        raise
    try:
        names = sorted(os.listdir(directory))
    finally:
        os.close(directory)
    return [f"{candidate}/{name}" if candidate else name for name in names if regex.fullmatch(name)]


def _clean(path: str) -> str:
    return posixpath.normpath("/" + path).lstrip("/")


def _compile(pattern: str) -> re.Pattern[str]:
    """Translate a filepath.Match pattern: * and ? never match "/", [^...] negates, \\ escapes."""
    out = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "\\":
            index += 1
            if index >= len(pattern):
                raise ContextError(f"syntax error in pattern {pattern!r}: trailing backslash")
            out.append(re.escape(pattern[index]))
        elif char == "[":
            text, index = _char_class(pattern, index)
            out.append(text)
            continue
        else:
            out.append(re.escape(char))
        index += 1
    return re.compile("".join(out), re.DOTALL)


def _char_class(pattern: str, start: int) -> tuple[str, int]:
    index = start + 1
    negate = index < len(pattern) and pattern[index] == "^"
    if negate:
        index += 1
    ranges = []
    first = True
    while True:
        if index >= len(pattern):
            raise ContextError(f"syntax error in pattern {pattern!r}: unterminated [")
        if pattern[index] == "]" and not first:
            index += 1
            break
        low, index = _class_char(pattern, index)
        high = low
        if (
            index < len(pattern)
            and pattern[index] == "-"
            and index + 1 < len(pattern)
            and pattern[index + 1] != "]"
        ):
            high, index = _class_char(pattern, index + 1)
            if high < low:
                raise ContextError(f"syntax error in pattern {pattern!r}: bad range {low}-{high}")
        ranges.append(re.escape(low) if low == high else f"{re.escape(low)}-{re.escape(high)}")
        first = False
    body = "".join(ranges)
    return (f"[^/{body}]" if negate else f"[{body}]"), index


def _class_char(pattern: str, index: int) -> tuple[str, int]:
    char = pattern[index]
    if char == "\\":
        if index + 1 >= len(pattern):
            raise ContextError(f"syntax error in pattern {pattern!r}: trailing backslash")
        return pattern[index + 1], index + 2
    if char in "-]":
        raise ContextError(f"syntax error in pattern {pattern!r}: {char!r} must be escaped in [...]")
    return char, index + 1
