"""Content hashes of what a COPY selects from a local tree, for cache keys.

A COPY's cache key depends on the content it reads (path, type, mode, size, content, link target), never on
mtimes: touching a file without changing it keeps the cache. File hashes are remembered by
(device, inode, size, mtime, ctime), so an unchanged file is not read again on the next build.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import stat
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

import msgspec

from slipway.errors import ContextError
from slipway.solver._cache_file import replace_cache_file
from slipway.worker.fileops import expand_sources
from slipway.worker.rootpath import Root

log = logging.getLogger(__name__)

GLOB_CHARACTERS = frozenset("*?[\\")
FileKey = tuple[int, int, int, int, int]


class FileHashCache:
    """sha256 of file contents, keyed by stat identity; persisted between builds in one file.

    The file is read on the first lookup, so a build that copies nothing from the context never reads it,
    and it keeps the entries this build used plus the most recent others up to `limit`, so it does not grow
    with every file the machine ever built from.
    """

    def __init__(self, path: Path | None = None, *, limit: int = 200_000) -> None:
        self._path = path
        self._limit = limit
        self._lock = threading.Lock()
        self._hashes: dict[FileKey, str] | None = None
        self._used: dict[FileKey, str] = {}
        self._dirty = False

    def _known(self) -> dict[FileKey, str]:
        if self._hashes is None:
            self._hashes = {}
            if self._path is not None and self._path.exists():
                try:
                    entries = msgspec.msgpack.decode(self._path.read_bytes(), type=list[tuple[FileKey, str]])
                    self._hashes = dict(entries)
                except (msgspec.DecodeError, OSError):
                    pass  # a damaged cache file only costs a re-read
        return self._hashes

    def file_hash(self, path: Path, info: os.stat_result) -> str:
        key = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
        with self._lock:
            known = self._known().get(key)
            if known is not None:
                self._used[key] = known
                return known
        digest = hashlib.sha256()
        # Never follows a link swapped in since the lstat, never blocks on a FIFO: the file stat'ed or nothing.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        with open(fd, "rb") as file:
            opened = os.fstat(fd)
            if (opened.st_dev, opened.st_ino) != (info.st_dev, info.st_ino) or not stat.S_ISREG(
                opened.st_mode
            ):
                raise ContextError(f"{path} changed while the build read it")
            while chunk := file.read(1 << 20):
                digest.update(chunk)
        value = digest.hexdigest()
        with self._lock:
            self._used[key] = value
            self._dirty = True
        return value

    def save(self) -> None:
        if self._path is None or not self._dirty:
            return  # nothing new: the file on disk already says all this build learnt
        with self._lock:
            others = [item for item in self._known().items() if item[0] not in self._used]
            kept = (
                others[max(0, len(others) - (self._limit - len(self._used))) :]
                if self._limit > len(self._used)
                else []
            )
            # Used entries last: dict order is age, and the oldest are the first to go next time.
            data = msgspec.msgpack.encode(kept + list(self._used.items()))
        replace_cache_file(self._path, data)


def selection_roots(sources: Iterable[str]) -> list[str]:
    """The relative paths whose subtrees cover every source: a glob widens to the directory above it.

    Hashing a little more than a COPY reads can only cost a cache miss; hashing less could reuse a stale
    result, so the selection errs wide.
    """
    roots: list[str] = []
    for source in sources:
        parts = [part for part in source.replace("\\", "/").split("/") if part not in ("", ".")]
        kept: list[str] = []
        for part in parts:
            if part == ".." or GLOB_CHARACTERS & set(part):
                break
            kept.append(part)
        roots.append("/".join(kept))
    return sorted(set(roots))


def _selected(root: Path, sources: Iterable[str], is_excluded: Callable[[str], bool] | None) -> list[str]:
    """selection_roots, with each glob's matches in place of the directory above it: as BuildKit checksums a
    wildcard, a file the glob does not match changes no cache key."""
    plain = []
    matched = []
    for source in sources:
        if GLOB_CHARACTERS & set(source):
            found = expand_sources(root, source, is_excluded or _nothing, follow=True)
            matched += [match.relative for match in found]
        else:
            plain.append(source)
    return sorted(set(selection_roots(plain)).union(matched))


def _literal(path: str) -> str:
    return "/".join(part for part in path.split("/") if part not in ("", "."))


def _nothing(_path: str) -> bool:
    return False


def hash_selection(
    root: Path,
    sources: Iterable[str],
    *,
    cache: FileHashCache,
    is_excluded: Callable[[str], bool] | None = None,
    can_skip_dir: Callable[[str], bool] | None = None,
    patterns: bool = True,
) -> str:
    """The content of what `sources` select in `root` (globs, unless `patterns` is False: paths as written)."""
    digest = hashlib.sha256()
    try:
        selected = _selected(root, sources, is_excluded) if patterns else [_literal(path) for path in sources]
        with Root(root) as inside:
            for relative in selected:
                digest.update(f"root {relative}\0".encode())
                resolved = _resolved(inside, relative)
                if resolved is None:
                    digest.update(f"missing {relative}\0".encode())
                    continue
                _hash_tree(root, resolved, digest, cache, is_excluded, can_skip_dir)
    except OSError as err:  # a name too long to reach (ENAMETOOLONG), a directory that cannot be read
        raise ContextError(f"cannot read the build context at {err.filename}: {err.strerror}") from err
    return "sha256:" + digest.hexdigest()


def _resolved(root: Root, relative: str) -> str | None:
    """`relative` with its symlinks followed inside `root`, as COPY follows them (a link to "/etc" leads to
    the root's etc, never the host's): a path of real directories, which the walk below reads without
    following anything. None if nothing is there."""
    try:
        fd, name, parts = root.walk(relative, follow_last=True)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as err:
        if err.errno == errno.ELOOP:
            return None
        raise
    os.close(fd)
    return "/".join((*parts, name)) if name else "/".join(parts)


def _hash_tree(
    root: Path,
    top: str,
    digest: hashlib._Hash,
    cache: FileHashCache,
    is_excluded: Callable[[str], bool] | None,
    can_skip_dir: Callable[[str], bool] | None,
) -> None:
    # Depth first in name order, with a stack rather than recursion: a context may nest thousands deep.
    pending = [top]
    while pending:
        relative = pending.pop()
        path = root / relative if relative else root
        try:
            info = os.lstat(path)  # every directory above it is real (see _resolved): nothing is followed
        except FileNotFoundError:
            digest.update(f"missing {relative}\0".encode())
            continue
        excluded = bool(relative) and is_excluded is not None and is_excluded(relative)
        if not excluded:
            _hash_entry(path, relative, info, digest, cache)
        if not stat.S_ISDIR(info.st_mode):
            continue
        if excluded and can_skip_dir is not None and can_skip_dir(relative):
            continue
        with os.scandir(path) as entries:
            names = sorted(entry.name for entry in entries)
        pending.extend(f"{relative}/{name}" if relative else name for name in reversed(names))


def _hash_entry(
    path: Path, relative: str, info: os.stat_result, digest: hashlib._Hash, cache: FileHashCache
) -> None:
    mode = info.st_mode
    if stat.S_ISREG(mode):
        content = cache.file_hash(path, info)
    elif stat.S_ISLNK(mode):
        content = os.readlink(path)
    else:
        content = ""
    digest.update(f"{relative}\0{mode:o}\0{info.st_size if stat.S_ISREG(mode) else 0}\0{content}\0".encode())
