"""Paths inside a root (a container's root file system, a snapshot, a build context), reached from its fd.

slipway runs as root, and a RUN may have replaced any directory of its root with a symlink (to "/", to the
host's /etc) by the time slipway touches that root again. So no path into a root is ever resolved on the
host: a `Root` holds an fd of the root directory, and every path is opened from it with
openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) — symlinks resolve as the container would see them,
absolute ones restart at the root, ".." stops there — or, where the kernel lacks openat2 (before 5.6),
by a walk of one O_NOFOLLOW openat per component that follows the same rules. Entries are made, changed
and removed by name relative to the fd of their parent directory, never through a path computed earlier.
A file read from a root is opened non-blocking, must be a regular file, and is read up to a cap.
"""

from __future__ import annotations

import errno
import functools
import os
import shutil
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from slipway.errors import ContextError, FileTooLarge, NotRegularFile

__all__ = [
    "Made",
    "Root",
    "opened",
    "clean_parts",
    "lstat_at",
    "remove_at",
    "split_last",
    "MAX_SYMLINKS",
]

# The kernel's limit for one lookup (MAXSYMLINKS): the walk and openat2 give up at the same depth.
MAX_SYMLINKS = 40
DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_SYS_OPENAT2 = 437  # one number on every architecture (new system calls share it since Linux 5.1)
_RESOLVE_NO_MAGICLINKS = 0x02
_RESOLVE_IN_ROOT = 0x10
_OPENAT2_RETRIES = 8  # EAGAIN: a rename raced the lookup of ".."; the kernel asks to try again
_MISSING = (errno.ENOENT, errno.ENOTDIR)


def clean_parts(path: str) -> list[str]:
    """The components of `path`, without empty ones and ".", ".." kept (it depends on symlinks)."""
    return [part for part in path.split("/") if part not in ("", ".")]


def split_last(path: str) -> tuple[str, str]:
    """(the path of the parent, the last name); the name is "" when `path` names the root or ends in ".."
    (then only a full resolution knows which directory it is)."""
    parts = clean_parts(path)
    if not parts or parts[-1] == "..":
        return "/".join(parts), ""
    return "/".join(parts[:-1]), parts[-1]


class Made(NamedTuple):
    """A directory `Root.make_dirs` made: its resolved path from the root, its identity, and the times its
    parent had just before (making an entry changes them)."""

    path: str
    identity: tuple[int, int]  # (st_dev, st_ino)
    parent_times: tuple[int, int]  # (atime, mtime) in ns


class Root:
    """An open directory that paths are resolved inside. Close it (or use it as a context manager)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.fd = os.open(self.path, DIRECTORY | os.O_NOFOLLOW)
        self._has_openat2 = True

    @classmethod
    def of_fd(cls, fd: int, path: str | os.PathLike[str]) -> Root:
        """A Root of the directory open as `fd` (duplicated: the caller keeps and closes its own); `path`
        names it in messages."""
        root = cls.__new__(cls)
        root.path = Path(path)
        root.fd = os.dup(fd)
        root._has_openat2 = True
        return root

    def __enter__(self) -> Root:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    # -- opening -------------------------------------------------------------------------------------------

    def open(self, path: str, flags: int, mode: int = 0o644) -> int:
        """A new fd of `path` in the root, as openat(2) with `flags` (O_NOFOLLOW: the last component is not
        followed; O_CREAT: made with `mode`). OSError as open(2) would raise it."""
        flags |= os.O_CLOEXEC
        if self._has_openat2:
            opened_fd = self._openat2(path, flags, mode)
            if opened_fd is not None:
                return opened_fd
        parent_fd, name, _ = self.walk(path, follow_last=not flags & os.O_NOFOLLOW)
        try:
            if not name:
                return os.open(".", flags, dir_fd=parent_fd)
            return os.open(name, flags | os.O_NOFOLLOW, mode, dir_fd=parent_fd)
        finally:
            os.close(parent_fd)

    def open_dir(self, path: str) -> int:
        """A new fd of directory `path`, symlinks followed inside the root."""
        return self.open(path, DIRECTORY)

    def open_exact(self, path: str) -> int:
        """A new fd of directory `path` reached without following any symlink at all (ELOOP or ENOTDIR if
        one is on the way): for a path resolved earlier, which must still be the same directories."""
        fd = os.open(".", DIRECTORY, dir_fd=self.fd)
        try:
            for part in clean_parts(path):
                if part == "..":
                    raise OSError(errno.EINVAL, "not a resolved path", path)
                next_fd = os.open(part, DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                os.close(fd)
                fd = next_fd
        except BaseException:
            os.close(fd)
            raise
        return fd

    def parent(self, path: str) -> tuple[int, str]:
        """A new fd of the directory holding `path`'s last component, and that component's name (not
        followed). The name is "" when `path` resolves to a directory by itself (the root, "x/..")."""
        head, name = split_last(path)
        if not name:
            return self.open_dir(head), ""
        return self.open_dir(head), name

    def resolve(self, path: str) -> tuple[int, str]:
        """Like `parent`, but a symlink as the last component is followed (inside the root) first: the name
        is that of a non-symlink (or missing) entry, or "" for a directory returned as the fd itself."""
        parent_fd, name, _ = self.walk(path, follow_last=True)
        return parent_fd, name

    # -- looking -------------------------------------------------------------------------------------------

    def lstat(self, path: str) -> os.stat_result | None:
        """What `path` is (its last component not followed); None if nothing is there."""
        try:
            parent_fd, name = self.parent(path)
        except OSError as err:
            if err.errno in _MISSING:
                return None
            raise
        try:
            if not name:
                return os.stat(parent_fd)
            return os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
        except OSError as err:
            if err.errno in _MISSING:
                return None
            raise
        finally:
            os.close(parent_fd)

    def stat(self, path: str) -> os.stat_result | None:
        """What `path` is with its symlinks followed inside the root; None if nothing (or a dangling link)."""
        try:
            fd = self.open(path, os.O_PATH)
        except OSError as err:
            if err.errno in (*_MISSING, errno.ELOOP):
                return None
            raise
        try:
            return os.stat(fd)
        finally:
            os.close(fd)

    def is_dir(self, path: str) -> bool:
        info = self.stat(path)
        return info is not None and stat.S_ISDIR(info.st_mode)

    # -- making --------------------------------------------------------------------------------------------

    def make_dirs(
        self,
        path: str,
        *,
        mode: int = 0o755,
        owner: tuple[int, int] | None = None,
        created: list[Made] | None = None,
    ) -> int:
        """A new fd of directory `path`, made with its missing parents (each with `mode`, exactly, and
        `owner`); a dangling symlink on the way is made as its target, inside the root. Each dir made is
        appended to `created` (its path as resolved, from the root). NotADirectoryError if a file is in the way."""
        parent_fd, name, _ = self.walk(path, follow_last=True, make=(mode, owner, created))
        assert not name  # a walk that makes directories ends in one
        return parent_fd

    # -- reading -------------------------------------------------------------------------------------------

    def read(self, path: str, *, limit: int) -> bytes | None:
        """The bytes of the regular file `path` (symlinks followed inside the root); None if nothing is
        there. NotRegularFile for anything else (a FIFO would block, a device never end), FileTooLarge past
        `limit` bytes: a file of an image is never read without bound."""
        try:
            fd = self.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
        except OSError as err:
            if err.errno in (*_MISSING, errno.ELOOP):
                return None
            if err.errno in (errno.ENXIO, errno.EISDIR):  # a socket, a directory
                raise NotRegularFile(f"{path} is not a regular file") from err
            raise
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise NotRegularFile(f"{path} is {_kind(info.st_mode)}, not a regular file")
            data = bytearray()
            while chunk := os.read(fd, min(1 << 20, limit + 1 - len(data))):
                data += chunk
                if len(data) > limit:
                    raise FileTooLarge(f"{path} is larger than {_human(limit)}, the most slipway reads of it")
            return bytes(data)
        finally:
            os.close(fd)

    # -- the two ways to resolve -------------------------------------------------------------------------

    def _openat2(self, path: str, flags: int, mode: int) -> int | None:
        """openat2 in the root; None if this kernel (or a seccomp filter) does not have it."""
        syscall, open_how, sizeof, get_errno = _openat2_binding()
        # openat2 refuses a mode without O_CREAT/O_TMPFILE.
        creates = (
            bool(flags & os.O_CREAT) or flags & os.O_TMPFILE == os.O_TMPFILE
        )  # O_TMPFILE holds O_DIRECTORY
        how = open_how(flags, mode if creates else 0, _RESOLVE_IN_ROOT | _RESOLVE_NO_MAGICLINKS)
        encoded = os.fsencode(path) or b"."
        for _ in range(_OPENAT2_RETRIES):
            result = syscall(_SYS_OPENAT2, self.fd, encoded, how, sizeof)
            if result >= 0:
                return int(result)
            error = get_errno()
            if error == errno.EAGAIN:
                continue
            if error in (errno.ENOSYS, errno.E2BIG, errno.EPERM):  # EPERM: an old seccomp profile
                self._has_openat2 = False
                return None
            if error == errno.ELOOP and not flags & os.O_NOFOLLOW:
                raise ContextError(f"{path}: too many levels of symbolic links (inside {self.path})")
            raise OSError(error, os.strerror(error), path)
        return None  # renames kept racing: the walk below does not care

    def walk(
        self,
        path: str,
        *,
        follow_last: bool,
        make: tuple[int, tuple[int, int] | None, list[Made] | None] | None = None,
    ) -> tuple[int, str, list[str]]:
        """Resolve `path` one component at a time from the root's fd (O_NOFOLLOW, symlinks expanded here,
        ".." never above the root): a new fd of the last directory reached, the name left ("" if the path
        ended in that directory) and that directory's resolved path from the root, as components. With
        `make` (mode, owner, list of made dirs), missing directories are made on the way."""
        pending = clean_parts(path)
        pending.reverse()
        stack = [os.open(".", DIRECTORY, dir_fd=self.fd)]
        names: list[str] = []  # the resolved path of stack[-1]
        links = 0
        try:
            while pending:
                part = pending.pop()
                if part == "..":
                    if len(stack) > 1:
                        os.close(stack.pop())
                        names.pop()
                    continue
                last = not pending
                info = self._entry(stack[-1], part, names, make, missing_ok=last)
                if info is None:  # the last component, missing
                    return stack.pop(), part, names
                if stat.S_ISLNK(info.st_mode) and (follow_last or not last):
                    links += 1
                    if links > MAX_SYMLINKS:
                        raise ContextError(f"{path}: too many levels of symbolic links (inside {self.path})")
                    target = os.readlink(part, dir_fd=stack[-1])
                    if target.startswith("/"):
                        for fd in stack[1:]:
                            os.close(fd)
                        del stack[1:], names[:]
                    pending.extend(reversed(clean_parts(target)))
                    continue
                if stat.S_ISDIR(info.st_mode) and (follow_last or not last):
                    # A swap to a symlink since the stat fails here (ELOOP): never followed.
                    stack.append(os.open(part, DIRECTORY | os.O_NOFOLLOW, dir_fd=stack[-1]))
                    names.append(part)
                    continue
                if not last or make is not None:
                    shown = "/" + "/".join((*names, part))
                    raise NotADirectoryError(errno.ENOTDIR, f"{shown} is not a directory", path)
                return stack.pop(), part, names
            return stack.pop(), "", names
        finally:
            for fd in stack:
                os.close(fd)

    @staticmethod
    def _entry(
        dir_fd: int,
        name: str,
        names: list[str],
        make: tuple[int, tuple[int, int] | None, list[Made] | None] | None,
        *,
        missing_ok: bool,
    ) -> os.stat_result | None:
        try:
            return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            if make is None:
                if missing_ok:
                    return None
                raise
        mode, owner, created = make
        before = os.stat(dir_fd)
        os.mkdir(name, mode, dir_fd=dir_fd)
        if owner is not None:
            os.chown(name, *owner, dir_fd=dir_fd, follow_symlinks=False)
        os.chmod(name, mode, dir_fd=dir_fd)  # mkdir's mode passed through the umask; just made, not a link
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        if created is not None:
            path = "/" + "/".join((*names, name))
            created.append(Made(path, (info.st_dev, info.st_ino), (before.st_atime_ns, before.st_mtime_ns)))
        return info


def lstat_at(directory: int, name: str) -> os.stat_result | None:
    """What `name` in the open `directory` is, not followed; None if nothing."""
    try:
        return os.stat(name, dir_fd=directory, follow_symlinks=False)
    except FileNotFoundError:
        return None


def remove_at(directory: int, name: str) -> None:
    """Remove `name` from the open `directory`: a whole tree if it is a directory, never following a link."""
    info = os.stat(name, dir_fd=directory, follow_symlinks=False)
    if stat.S_ISDIR(info.st_mode):
        shutil.rmtree(name, dir_fd=directory)  # fd-based: never follows a symlink inside
    else:
        os.unlink(name, dir_fd=directory)


@functools.cache
def _openat2_binding() -> tuple[Callable[..., int], Callable[..., Any], int, Callable[[], int]]:
    """libc's syscall(), struct open_how and its size, and errno's reader: made once, on first use (ctypes is
    not imported at start-up)."""
    import ctypes

    class OpenHow(ctypes.Structure):
        _fields_ = (("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64))

    syscall = ctypes.CDLL(None, use_errno=True).syscall
    syscall.restype = ctypes.c_long
    syscall.argtypes = (
        ctypes.c_long,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.POINTER(OpenHow),
        ctypes.c_size_t,
    )
    return syscall, OpenHow, ctypes.sizeof(OpenHow), ctypes.get_errno


@contextmanager
def opened(root: Root | str | os.PathLike[str]) -> Iterator[Root]:
    """`root` itself if already open, else a Root of that path, closed afterwards."""
    if isinstance(root, Root):
        yield root
        return
    with Root(root) as fresh:
        yield fresh


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _human(size: int) -> str:
    return f"{size >> 20} MiB" if size >= 1 << 20 else f"{size} bytes"
