"""COPY sources: paths and globs with Go's filepath.Match syntax, matched inside a source root."""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Callable
from pathlib import Path

import msgspec

from slipway.errors import ContextError
from slipway.worker.rootpath import resolve_in_root

__all__ = ["SourceMatch", "expand_sources", "has_magic", "match_component"]

MAGIC = frozenset("*?[\\")


class SourceMatch(msgspec.Struct, frozen=True):
    path: Path  # on the host, resolved inside the source root
    relative: str  # as matched, relative to the source root ("" for the root)
    kept: str  # what COPY --parents keeps: `relative`, or the part after a "/./" pivot


def has_magic(part: str) -> bool:
    return any(char in MAGIC for char in part)


def expand_sources(
    root: Path, source: str, is_excluded: Callable[[str], bool], *, follow: bool
) -> list[SourceMatch]:
    """What `source` names in `root`, sorted as Go's filepath.Glob; empty if nothing (not excluded) is there."""
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
        path = _resolve(root, relative, follow=follow)
        if not os.path.lexists(path):
            continue
        kept = relative[len(pivot) :].lstrip("/") if pivot and relative.startswith(pivot) else relative
        matches.append(SourceMatch(path=path, relative=relative, kept=kept))
    return matches


def match_component(pattern: str, name: str) -> bool:
    """Go's filepath.Match for one path component."""
    return _compile(pattern).fullmatch(name) is not None


def _step(root: Path, candidate: str, part: str) -> list[str]:
    if not has_magic(part):
        return [f"{candidate}/{part}" if candidate else part]
    directory = resolve_in_root(root, candidate)
    regex = _compile(part)
    try:
        names = sorted(os.listdir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [f"{candidate}/{name}" if candidate else name for name in names if regex.fullmatch(name)]


def _resolve(root: Path, relative: str, *, follow: bool) -> Path:
    if not relative:
        return root
    if follow:
        return resolve_in_root(root, relative)
    parent, name = posixpath.split(relative)
    return resolve_in_root(root, parent) / name


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
