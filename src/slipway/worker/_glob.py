"""COPY sources: paths and globs with Go's filepath.Match syntax, matched inside a source root."""

from __future__ import annotations

import errno
import os
import posixpath
import re
from collections.abc import Callable

import msgspec

from slipway._pathmatch import BadPattern, compile_pattern
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
    # COPY --parents' pivot ("a/*/./b/**/c"): what comes before "/./" is matched first, and --parents keeps
    # the paths below each of its matches (BuildKit copies from each with the rest as an include pattern).
    head, separator, tail = source.partition("/./")
    if separator and head.strip("/."):
        tops, pattern = _glob(root, [""], _clean(head)), _clean(tail)
    else:
        tops, pattern = [""], _clean(source)
    matches = []
    for top in tops:
        for relative in _glob(root, [top], pattern):
            if relative and is_excluded(relative):
                continue
            if (root.stat(relative) if follow else root.lstat(relative)) is None:
                continue
            kept = relative[len(top) :].lstrip("/") if top else relative
            matches.append(SourceMatch(relative=relative, kept=kept))
    return matches


def _glob(root: Root, candidates: list[str], pattern: str) -> list[str]:
    """The paths below `candidates` that `pattern` names, each once; existence is the caller's to check."""
    parts = pattern.split("/") if pattern else []
    for index, part in enumerate(parts):
        if part == "**":
            # Any number of directories (none too); last in the pattern, everything below.
            is_last = index == len(parts) - 1
            candidates = [found for candidate in candidates for found in _below(root, candidate, is_last)]
        else:
            candidates = [found for candidate in candidates for found in _step(root, candidate, part)]
    return list(dict.fromkeys(candidates))


def _below(root: Root, top: str, is_last: bool) -> list[str]:
    """`top` and the directories below it (symlinks not followed); with `is_last`, its entries instead."""
    found = [] if is_last else [top]
    pending = [top]
    while pending:  # a stack, not recursion: a tree may nest thousands deep
        directory = pending.pop()
        try:
            fd = root.open(directory or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError as err:
            if err.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                continue
            raise
        try:
            with os.scandir(fd) as entries:
                children = sorted((entry.name, entry.is_dir(follow_symlinks=False)) for entry in entries)
        finally:
            os.close(fd)
        for name, is_dir in children:
            path = f"{directory}/{name}" if directory else name
            if is_last:
                found.append(path)
            elif is_dir:
                found.append(path)
                pending.append(path)
    return found


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
    try:
        return compile_pattern(pattern)
    except BadPattern as err:
        raise ContextError(f"syntax error in pattern {pattern!r}: {err}") from None
