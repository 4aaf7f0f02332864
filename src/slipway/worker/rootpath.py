"""Paths inside a container root: every symlink resolved as the container would see it, never outside."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from slipway.errors import ContextError

__all__ = ["resolve_in_root", "MAX_SYMLINKS"]

# Linux gives up after 40 links in one lookup; securejoin allows 255. Either way a loop must end.
MAX_SYMLINKS = 255


def resolve_in_root(root: Path, path: str) -> Path:
    """`path` as the container at `root` sees it, like Go's securejoin: absolute symlinks restart at
    `root`, ".." stops at `root`, missing components are joined as they are. The result never leaves
    `root` (unless something swaps a component for a symlink while this runs: callers own `root`)."""
    pending = [part for part in path.split("/") if part not in ("", ".")]
    pending.reverse()
    resolved: list[str] = []
    links = 0
    while pending:
        part = pending.pop()
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        try:
            mode = os.lstat(candidate).st_mode
        except (FileNotFoundError, NotADirectoryError):
            resolved.append(part)
            continue
        if not stat.S_ISLNK(mode):
            resolved.append(part)
            continue
        links += 1
        if links > MAX_SYMLINKS:
            raise ContextError(f"{path}: too many levels of symbolic links (inside {root})")
        target = os.readlink(candidate)
        if target.startswith("/"):
            resolved = []
        pending.extend(reversed([item for item in target.split("/") if item not in ("", ".")]))
    return Path(root).joinpath(*resolved)
