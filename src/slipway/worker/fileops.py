"""COPY, ADD and WORKDIR on snapshot trees, with Docker's rules, every path resolved inside its root.

Both trees are opened as `Root`s (worker/rootpath.py): sources resolve inside the source root and
destinations inside the destination root, symlinks as the container would follow them, never out of the
root. A RUN before this step may have planted any symlink in the destination, so every entry is read and
written by name relative to the fd of its directory, reached from the root's fd; nothing is written through
a symlink: an entry in the way is replaced.
"""

from __future__ import annotations

import errno
import logging
import os
import posixpath
import stat
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path

import msgspec

from slipway.errors import ContextError, SourceNotFound
from slipway.graph.ops import Copy, Mkdir
from slipway.image.compression import worker_threads
from slipway.image.xattrs import is_refused
from slipway.worker._archive import extract_archive, is_archive
from slipway.worker._chmod import ModeChange, octal_chmod, parse_chmod
from slipway.worker._glob import SourceMatch, expand_sources, has_magic
from slipway.worker.rootpath import DIRECTORY, Made, Root, lstat_at, remove_at, split_last
from slipway.worker.users import lookup_user, resolve_owner

__all__ = ["copy_files", "expand_sources", "lookup_user", "make_directory"]

log = logging.getLogger(__name__)

Predicate = Callable[[str], bool]
Entry = tuple[int, str]  # (fd of the directory holding it, its name)
COPY_CHUNK = 1 << 30
# Files are copied by a few threads, a batch at a time: creating, filling and stamping a file are system calls
# that release the GIL, and on 2 cores 20,000 small files copy in ~0.5 s instead of ~0.9 s. No more threads
# than cores (image/compression.py's worker_threads): the work is the kernel's (page cache, no waiting on the
# disk), so a thread beyond them only contends for the GIL, each system call of each file a hand-over (four
# threads on two cores made ~600,000 futex calls in a 20,000-file COPY, two make ~50,000).
COPY_BATCH = 32
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class _Copier(msgspec.Struct):
    """One COPY/ADD: the two roots, the ownership and mode policy, and the hard links seen so far."""

    source: Root
    dest: Root
    owner: tuple[int, int] | None  # None: keep the source's
    parent_owner: tuple[int, int]  # for the dest's parents the copy has to create
    parent_mode: int  # their mode: an octal --chmod's (BuildKit >= 0.12, fsutil's MkdirAll), else 0755
    mode_change: ModeChange | None
    is_excluded: Predicate
    sockets_as_files: bool  # a socket of the build context arrives as an empty file (BuildKit's transfer)
    dest_device: int  # the destination root's file system (a snapshot's tree is on one)
    links: dict[tuple[int, int], str] = msgspec.field(
        default_factory=dict
    )  # source file -> its first copy (dest path)
    pool: ThreadPoolExecutor | None = None
    # (source device, destination device) pairs between which copy_file_range refused to copy (EXDEV between
    # file systems, ENOSYS, EOPNOTSUPP): decided by the first file of each pair, not tried again for every one.
    no_range_copy: set[tuple[int, int]] = msgspec.field(default_factory=set)


def copy_files(
    copy: Copy,
    source_root: Path,
    dest_root: Path,
    *,
    is_excluded: Predicate | None = None,
    exclude: Predicate | None = None,
    preserve_owner: bool = False,
    remote: bool = False,
    from_context: bool = False,
) -> None:
    """Carry out `copy` from `source_root` into `dest_root`, as Docker's COPY/ADD.

    `is_excluded(relative path)` hides source paths (.dockerignore); it must answer for every path, children
    of an excluded dir included (as Docker's pattern matcher does: its exceptions can re-include a file below
    an excluded dir). `exclude` (--exclude) answers the same for paths relative to each source it filters. `preserve_owner`: keep the source's uid/gid (COPY --from)
    instead of 0:0 (the build context). `remote`: the source tree came from a URL (ADD does not unpack
    it unless copy.unpack is True). `from_context`: the source is the build context, whose sockets arrive as
    empty files. Raises ContextError for what a user can fix.
    """
    instruction = "ADD" if copy.is_add else "COPY"
    with Root(source_root) as source, Root(dest_root) as dest:
        owner = resolve_owner(dest, copy.chown) if copy.chown else None
        copier = _Copier(
            source=source,
            dest=dest,
            owner=owner if owner is not None else (None if preserve_owner else (0, 0)),
            parent_owner=owner or (0, 0),
            parent_mode=_parent_mode(copy.chmod),
            mode_change=parse_chmod(copy.chmod) if copy.chmod else None,
            is_excluded=is_excluded or (lambda _path: False),
            sockets_as_files=from_context,
            dest_device=os.fstat(dest.fd).st_dev,
        )
        matches = []
        for pattern in copy.sources:
            found = expand_sources(source, pattern, copier.is_excluded, follow=copy.follow_symlinks)
            if not found and not has_magic(
                pattern
            ):  # a wildcard may match nothing (BuildKit's AllowEmptyWildcard)
                missing = f"/{_clean(pattern)}"
                raise SourceNotFound(f'{instruction} failed: "{missing}": not found', missing)
            matches.extend(found)
        dest_is_dir = _names_dir(copy.dest) or copy.parents or dest.is_dir(copy.dest)
        # The rule counts source arguments: one whose wildcard matches several files is one source.
        if len(copy.sources) > 1 and not dest_is_dir:
            raise ContextError(
                f"When using {instruction} with more than one source file, the destination must be a "
                f"directory and end with a / ({copy.dest})"
            )
        unpack = copy.is_add and (copy.unpack is True or (copy.unpack is None and not remote))
        if copy.parents and not matches:
            os.close(_dest_dir(copier, copy.dest)[0])  # BuildKit copies the (empty) selection all the same
        ignored = copier.is_excluded
        with ThreadPoolExecutor(max_workers=worker_threads(), thread_name_prefix="copy") as copier.pool:
            for match in matches:
                copier.is_excluded = _excluded_below(match, copy.parents, ignored, exclude)
                _copy_match(copier, match, copy, dest_is_dir=dest_is_dir, unpack=unpack)


def _excluded_below(
    match: SourceMatch, parents: bool, ignored: Predicate, exclude: Predicate | None
) -> Predicate:
    """What one source hides: .dockerignore's paths are the tree's, --exclude's are relative to the source
    (BuildKit's ExcludePatterns; with --parents, to the pivot), and never hide the source itself."""
    if exclude is None:
        return ignored
    top = match.relative[: len(match.relative) - len(match.kept)] if parents else match.relative
    prefix = top.rstrip("/") + "/" if top.strip("/") else ""
    skip = len(prefix)

    def is_excluded(path: str) -> bool:
        return ignored(path) or (path.startswith(prefix) and path != top and exclude(path[skip:]))

    return is_excluded


def make_directory(mkdir: Mkdir, root: Path) -> None:
    """WORKDIR: make `mkdir.path` with its parents inside `root`; dirs it creates get mode and owner."""
    with Root(root) as dest:
        owner = (0, 0)
        if mkdir.chown:
            try:
                owner = resolve_owner(dest, mkdir.chown)
            except ContextError:
                # BuildKit makes the dir as root when USER names nobody in /etc/passwd; the RUN that
                # needs the user reports it.
                log.debug("WORKDIR %s: user %s unknown, dir owned by root", mkdir.path, mkdir.chown)
        info = dest.stat(mkdir.path)
        if info is not None and not stat.S_ISDIR(info.st_mode):
            raise ContextError(f"WORKDIR {mkdir.path}: exists and is not a directory")
        made: list[Made] = []
        os.close(_make_dirs(dest, mkdir.path, owner, mode=mkdir.mode, created=made))
        if mkdir.created is not None:
            _stamp(dest, made, mkdir.created)


def _stamp(root: Root, made: list[Made], seconds: int) -> None:
    """Give the dirs just made this time (all made first: making a child changes its parent's times)."""
    for directory in made:
        fd = root.open(directory.path, DIRECTORY | os.O_NOFOLLOW)
        try:
            info = os.fstat(fd)
            if (info.st_dev, info.st_ino) == directory.identity:  # still the dir this step made
                os.utime(fd, (seconds, seconds))
        finally:
            os.close(fd)


def _copy_match(copier: _Copier, match: SourceMatch, copy: Copy, *, dest_is_dir: bool, unpack: bool) -> None:
    """Copy one matched source (found at `match.relative`; --parents keeps `match.kept` of it)."""
    open_source = copier.source.resolve if copy.follow_symlinks else copier.source.parent
    source_dir, name = open_source(match.relative)
    try:
        if not name:  # the source is a directory reached as a whole (".", or through "..")
            _copy_dir_match(copier, source_dir, match, copy)
            return
        info = os.stat(name, dir_fd=source_dir, follow_symlinks=False)
        if stat.S_ISDIR(info.st_mode):
            inner = os.open(name, DIRECTORY | os.O_NOFOLLOW, dir_fd=source_dir)
            try:
                _copy_dir_match(copier, inner, match, copy)
            finally:
                os.close(inner)
            return
        if unpack and stat.S_ISREG(info.st_mode) and _unpack_archive(copier, (source_dir, name), copy):
            return
        base = posixpath.basename(match.kept) or name
        dest = posixpath.join(copy.dest, match.kept if copy.parents else base) if dest_is_dir else copy.dest
        head, leaf = split_last(dest)
        if not leaf:
            raise ContextError(f"cannot copy {match.relative} to {dest}: the destination names a directory")
        parent = _make_dirs(copier.dest, head, copier.parent_owner, mode=copier.parent_mode)
        try:
            _copy_entry(copier, (source_dir, name), (parent, leaf), info, "/" + _clean(dest))
        finally:
            os.close(parent)
    finally:
        os.close(source_dir)


def _copy_dir_match(copier: _Copier, source_dir: int, match: SourceMatch, copy: Copy) -> None:
    info = os.stat(source_dir)
    dest = posixpath.join(copy.dest, match.kept) if copy.parents else copy.dest
    target, _ = _dest_dir(copier, dest)
    try:
        _copy_tree(copier, source_dir, target, "/" + _clean(dest), match.relative)
        # A directory's contents are copied; the destination dir made for them keeps the copy's owner and
        # mode (0:0 and 0755 by default, as BuildKit's MkdirAll makes it), not the source dir's.
        if copy.parents:
            _apply_metadata(copier, source_dir, target, info)
    finally:
        os.close(target)


def _unpack_archive(copier: _Copier, source: Entry, copy: Copy) -> bool:
    """ADD of a local archive: unpacked into copy.dest if `source` is one (False if it is not)."""
    fd = os.open(source[1], _READ_FLAGS, dir_fd=source[0])
    with open(fd, "rb") as raw:
        if not stat.S_ISREG(os.fstat(raw.fileno()).st_mode) or not is_archive(raw):
            return False
        target, _ = _dest_dir(copier, copy.dest)
        try:
            with Root.of_fd(target, "/" + _clean(copy.dest)) as extraction:
                extract_archive(raw, source[1], extraction, owner=copier.owner if copy.chown else None)
        finally:
            os.close(target)
    return True


def _dest_dir(copier: _Copier, dest: str) -> tuple[int, bool]:
    """An fd of directory `dest` in the destination root, made (with its parents) if missing, a non-directory
    in its place replaced; and whether it existed."""
    head, leaf = split_last(dest)
    if leaf:
        parent = _make_dirs(copier.dest, head, copier.parent_owner, mode=copier.parent_mode)
        try:
            existing = lstat_at(parent, leaf)
            is_link_to_dir = (
                existing is not None and stat.S_ISLNK(existing.st_mode) and copier.dest.is_dir(dest)
            )
            if existing is not None and not stat.S_ISDIR(existing.st_mode) and not is_link_to_dir:
                remove_at(parent, leaf)
        finally:
            os.close(parent)
    made: list[Made] = []
    try:
        target = copier.dest.make_dirs(dest, mode=copier.parent_mode, owner=copier.parent_owner, created=made)
    except NotADirectoryError as err:
        raise ContextError(f"cannot create {dest}: {err.strerror}") from err
    return target, not made


def _parent_mode(chmod: str | None) -> int:
    mode = octal_chmod(chmod) if chmod else None
    return 0o755 if mode is None else mode & 0o777  # Go's os.Chmod of a plain FileMode keeps these bits


def _make_dirs(
    root: Root, path: str, owner: tuple[int, int], *, mode: int, created: list[Made] | None = None
) -> int:
    try:
        return root.make_dirs(path, mode=mode, owner=owner, created=created)
    except NotADirectoryError as err:
        raise ContextError(f"cannot create {path}: {err.strerror}") from err


def _copy_tree(copier: _Copier, source_dir: int, target_dir: int, dest: str, relative: str) -> bool:
    """Copy the entries of directory `source_dir` into `target_dir` (a real dir inside the destination root,
    `dest` in container terms); `relative` is source_dir's path in the source tree. True if any entry was
    copied."""
    copied = False
    with os.scandir(source_dir) as scan:
        entries = sorted(scan, key=lambda entry: entry.name)
    batch: list[tuple[str, os.stat_result]] = []
    running: list[Future[None]] = []
    for entry in entries:
        name = entry.name
        child_relative = f"{relative}/{name}" if relative else name
        info = entry.stat(follow_symlinks=False)
        excluded = copier.is_excluded(child_relative)
        child_dest = f"{dest.rstrip('/')}/{name}"
        if stat.S_ISDIR(info.st_mode):
            if excluded and not _has_included(copier, (source_dir, name), child_relative):
                continue
            source_child = os.open(name, DIRECTORY | os.O_NOFOLLOW, dir_fd=source_dir)
            try:
                target_child = _enter_dir(copier, target_dir, name, child_dest)
                try:
                    _copy_tree(copier, source_child, target_child, child_dest, child_relative)
                    _apply_metadata(copier, source_child, target_child, info)
                finally:
                    os.close(target_child)
            finally:
                os.close(source_child)
            copied = True
        elif not excluded:
            if copier.pool is not None and stat.S_ISREG(info.st_mode) and info.st_nlink == 1:
                batch.append((name, info))  # hard links stay here: they need copier.links
                if len(batch) == COPY_BATCH:
                    running.append(copier.pool.submit(_copy_batch, copier, source_dir, target_dir, batch))
                    batch = []
            else:
                _copy_entry(copier, (source_dir, name), (target_dir, name), info, child_dest)
            copied = True
    _copy_batch(copier, source_dir, target_dir, batch)
    # Every file of this dir is in place before the caller stamps the dir's times (and closes its fds).
    _finish(running)
    return copied


def _copy_batch(
    copier: _Copier, source_dir: int, target_dir: int, batch: list[tuple[str, os.stat_result]]
) -> None:
    for name, info in batch:
        _copy_entry(copier, (source_dir, name), (target_dir, name), info, "")


def _finish(running: list[Future[None]]) -> None:
    """Wait for all, then raise the first failure: nothing may still write once the copy has failed."""
    wait(running)
    for future in running:
        future.result()


def _has_included(copier: _Copier, directory: Entry, relative: str) -> bool:
    for current, dirs, files, _ in os.fwalk(directory[1], dir_fd=directory[0]):
        base = relative + current[len(directory[1]) :]
        for name in (*dirs, *files):
            if not copier.is_excluded(f"{base}/{name}"):
                return True
    return False


def _enter_dir(copier: _Copier, target_dir: int, name: str, dest: str) -> int:
    """An fd of the dir to copy a source subdir into: an existing dir is merged into, a symlink to a dir is
    followed inside the root, anything else in the way is replaced."""
    existing = lstat_at(target_dir, name)
    if existing is not None and stat.S_ISLNK(existing.st_mode):
        try:
            return copier.dest.open_dir(dest)
        except (OSError, ContextError):
            pass  # dangling, a loop, or not a directory: replaced below
    if existing is not None and not stat.S_ISDIR(existing.st_mode):
        remove_at(target_dir, name)
        existing = None
    if existing is None:
        os.mkdir(name, 0o700, dir_fd=target_dir)
    return os.open(name, DIRECTORY | os.O_NOFOLLOW, dir_fd=target_dir)


def _copy_entry(copier: _Copier, source: Entry, target: Entry, info: os.stat_result, dest: str) -> None:
    """Copy one non-directory `source` to `target` (replacing what is there, never writing through it);
    `dest` is target's path in the destination root, for a hard link to it later ("" when not linked)."""
    try:
        created = _create_entry(copier, source, target, info, dest)
    except FileExistsError:
        # Something of the image below is in the way: replaced, never written through. Trying the
        # exclusive create first saves a stat per file on the usual path, an empty destination.
        remove_at(*target)
        created = _create_entry(copier, source, target, info, dest)
    if created:
        _apply_metadata(copier, source, target, info)


def _create_entry(copier: _Copier, source: Entry, target: Entry, info: os.stat_result, dest: str) -> bool:
    """Make `target` like `source` (FileExistsError if something is there); False if no metadata applies."""
    mode = info.st_mode
    target_dir, name = target
    if stat.S_ISREG(mode):
        key = (info.st_dev, info.st_ino)
        if info.st_nlink > 1 and key in copier.links:
            _link(copier, copier.links[key], target)  # a hard link in the source stays one
            return False
        _copy_file(copier, source, target, info)
        if info.st_nlink > 1 and dest:
            copier.links[key] = dest
        return False  # _copy_file applied it
    elif stat.S_ISLNK(mode):
        os.symlink(os.readlink(source[1], dir_fd=source[0]), name, dir_fd=target_dir)
    elif stat.S_ISSOCK(mode) and copier.sockets_as_files:
        os.close(os.open(name, _CREATE_FLAGS, stat.S_IMODE(mode), dir_fd=target_dir))
    elif stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISSOCK(mode):
        os.mknod(name, mode, info.st_rdev, dir_fd=target_dir)
    else:
        log.debug("skipping %s: unknown file type %o", source[1], stat.S_IFMT(mode))
        return False
    return True


def _link(copier: _Copier, first: str, target: Entry) -> None:
    first_dir, first_name = copier.dest.parent(first)
    try:
        os.link(first_name, target[1], src_dir_fd=first_dir, dst_dir_fd=target[0], follow_symlinks=False)
    finally:
        os.close(first_dir)


def _copy_file(copier: _Copier, source: Entry, target: Entry, info: os.stat_result) -> None:
    """A regular file: content and metadata, through its two descriptors."""
    source_fd = os.open(source[1], _READ_FLAGS, dir_fd=source[0])
    try:
        if not stat.S_ISREG(os.fstat(source_fd).st_mode):
            raise ContextError(f"{source[1]} changed while it was copied: it is no longer a regular file")
        target_fd = os.open(target[1], _CREATE_FLAGS, 0o600, dir_fd=target[0])
        try:
            _copy_content(copier, source_fd, target_fd, info)
            _apply_metadata(copier, source_fd, target_fd, info)
        finally:
            os.close(target_fd)
    finally:
        os.close(source_fd)


def _copy_content(copier: _Copier, source_fd: int, target_fd: int, info: os.stat_result) -> None:
    """The file's bytes, in the kernel: copy_file_range (reflinks, server-side copies) where the two file
    systems allow it, else sendfile; never through Python buffers (a read/write loop hands the GIL over per
    chunk, which four copy threads turn into millions of futex calls)."""
    size = info.st_size
    devices = (info.st_dev, copier.dest_device)
    if devices not in copier.no_range_copy:
        try:
            _range_copy(source_fd, target_fd, size)
            return
        except OSError as err:
            if err.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                raise
            copier.no_range_copy.add(devices)
        os.lseek(source_fd, 0, os.SEEK_SET)
        os.lseek(target_fd, 0, os.SEEK_SET)
        os.ftruncate(target_fd, 0)
    copied = 0
    while copied < size:  # what the stat saw (as a context tar would)
        count = os.sendfile(target_fd, source_fd, None, min(COPY_CHUNK, size - copied))
        if count == 0:
            break
        copied += count


def _range_copy(source_fd: int, target_fd: int, size: int) -> None:
    copied = 0
    while copied < size:  # what the stat saw (as a context tar would): no extra call to find the end
        count = os.copy_file_range(source_fd, target_fd, min(COPY_CHUNK, size - copied))
        if count == 0:
            break
        copied += count


def _apply_metadata(copier: _Copier, source: Entry | int, target: Entry | int, info: os.stat_result) -> None:
    """Owner, mode, xattrs, times: in that order, as chown clears setuid bits and file capabilities.
    `source` and `target` are both open descriptors, or both (dir fd, name) entries never followed."""
    uid, gid = copier.owner if copier.owner is not None else (info.st_uid, info.st_gid)
    mode = stat.S_IMODE(info.st_mode)
    if copier.mode_change is not None:
        mode = copier.mode_change(mode, stat.S_ISDIR(info.st_mode))
    times = (info.st_atime_ns, info.st_mtime_ns)
    if isinstance(target, int):
        assert isinstance(source, int)
        os.chown(target, uid, gid)
        os.chmod(target, mode)
        _copy_xattrs(source, target)
        os.utime(target, ns=times)
        return
    assert not isinstance(source, int)
    target_dir, name = target
    os.chown(name, uid, gid, dir_fd=target_dir, follow_symlinks=False)
    if not stat.S_ISLNK(info.st_mode):
        os.chmod(name, mode, dir_fd=target_dir)  # a device or FIFO just made here, not a symlink
        # The xattr calls have no dir_fd form: each entry is named through its verified directory's fd.
        _copy_xattrs(f"/proc/self/fd/{source[0]}/{source[1]}", f"/proc/self/fd/{target_dir}/{name}")
    os.utime(name, ns=times, dir_fd=target_dir, follow_symlinks=False)


def _copy_xattrs(source: str | int, target: str | int) -> None:
    follow = isinstance(target, int)  # a descriptor is the file itself; a path is never followed
    try:
        names = os.listxattr(source, follow_symlinks=follow)
    except OSError:
        return
    for name in names:
        if is_refused(name):
            continue  # overlayfs' own bookkeeping, meaningless (or harmful) in another tree
        try:
            os.setxattr(
                target, name, os.getxattr(source, name, follow_symlinks=follow), follow_symlinks=follow
            )
        except OSError as err:
            log.debug("xattr %s of %s not copied: %s", name, source, err)


def _names_dir(dest: str) -> bool:
    return dest.endswith("/") or dest.endswith("/.") or dest in (".", "")


def _clean(path: str) -> str:
    return posixpath.normpath("/" + path).lstrip("/")
